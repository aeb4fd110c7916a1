//! A bounded read-through cache for the records every token request reads (API keys, sessions,
//! users), so the token path does not read and decode them from sled each time.
//!
//! Correctness rests on one rule: every store method that writes one of these records calls
//! [`ReadCache::invalidate`] *after* its write. A load that raced with a write is never kept:
//! loads note the cache's generation before reading the store and only insert when no
//! invalidation happened meanwhile, so a revoked key or a disabled user cannot linger.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Records by key, shared as `Arc`s, at most `capacity` of them.
pub struct ReadCache<K, V> {
    inner: RwLock<Inner<K, V>>,
    capacity: usize,
}

struct Inner<K, V> {
    map: HashMap<K, Arc<V>>,
    /// Bumped by every invalidation.
    generation: u64,
}

impl<K: Hash + Eq + Clone, V> ReadCache<K, V> {
    /// An empty cache holding at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        ReadCache {
            inner: RwLock::new(Inner {
                map: HashMap::new(),
                generation: 0,
            }),
            capacity: capacity.max(1),
        }
    }

    /// The cached record, or `load()`'s (kept for next time unless a write raced with it).
    /// `load` may return the record or an `Arc` already shared elsewhere. `None` is never
    /// cached: unknown keys cost a store read each time and cannot fill memory.
    pub fn get_or_load<Q, A, E>(
        &self,
        key: &Q,
        load: impl FnOnce() -> Result<Option<A>, E>,
    ) -> Result<Option<Arc<V>>, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        A: Into<Arc<V>>,
    {
        let generation = {
            let inner = self.read();
            if let Some(v) = inner.map.get(key) {
                return Ok(Some(v.clone()));
            }
            inner.generation
        };
        let Some(value) = load()? else {
            return Ok(None);
        };
        let value: Arc<V> = value.into();
        let mut inner = self.write();
        if inner.generation == generation {
            if inner.map.len() >= self.capacity {
                // Full: make room by dropping an arbitrary record (it is read again when needed).
                if let Some(victim) = inner.map.keys().next().cloned() {
                    inner.map.remove::<K>(&victim);
                }
            }
            inner.map.insert(key.to_owned(), value.clone());
        }
        Ok(Some(value))
    }

    /// Forget a record: call after every write to it.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.write();
        inner.map.remove(key);
        inner.generation += 1;
    }

    /// Replace a cached record with `f` of it (a newer last-use time, say), keeping it cached;
    /// nothing happens when it is not cached. Not an invalidation: a load racing with it may
    /// still keep what it read, so use it only for fields where an older value is harmless.
    pub fn update<Q>(&self, key: &Q, f: impl FnOnce(&V) -> V)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.write();
        if let Some(v) = inner.map.get_mut(key) {
            *v = Arc::new(f(v));
        }
    }

    /// Forget every record (after a write whose keys are not known one by one).
    pub fn clear(&self) {
        let mut inner = self.write();
        inner.map.clear();
        inner.generation += 1;
    }

    /// How many records are cached.
    pub fn len(&self) -> usize {
        self.read().map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A poisoned lock means a panic elsewhere while holding it; the map itself is always
    // consistent (single inserts and removes), so go on using it.
    fn read(&self) -> RwLockReadGuard<'_, Inner<K, V>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<K, V>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn ok(v: Option<&str>) -> Result<Option<String>, Infallible> {
        Ok(v.map(str::to_owned))
    }

    #[test]
    fn loads_once_and_serves_from_memory_until_invalidated() {
        let cache: ReadCache<u32, String> = ReadCache::new(10);
        let mut loads = 0;
        for _ in 0..3 {
            let v = cache
                .get_or_load(&1, || {
                    loads += 1;
                    ok(Some("one"))
                })
                .unwrap();
            assert_eq!(v.as_deref().map(String::as_str), Some("one"));
        }
        assert_eq!(loads, 1);
        cache.invalidate(&1);
        let v = cache.get_or_load(&1, || ok(Some("uno"))).unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("uno"));
    }

    #[test]
    fn missing_records_are_not_cached() {
        let cache: ReadCache<u32, String> = ReadCache::new(10);
        assert!(cache.get_or_load(&7, || ok(None)).unwrap().is_none());
        assert!(cache.is_empty());
        let v = cache.get_or_load(&7, || ok(Some("now"))).unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("now"));
    }

    #[test]
    fn a_load_that_raced_with_a_write_is_not_kept() {
        let cache: ReadCache<u32, String> = ReadCache::new(10);
        // The load reads the old record; a write (and its invalidation) lands before it returns.
        let v = cache
            .get_or_load(&1, || {
                cache.invalidate(&1);
                ok(Some("stale"))
            })
            .unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("stale"));
        assert!(cache.is_empty(), "the stale record must not be cached");
        let v = cache.get_or_load(&1, || ok(Some("fresh"))).unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("fresh"));
    }

    #[test]
    fn an_update_changes_a_cached_record_in_place_and_caches_nothing_new() {
        let cache: ReadCache<u32, String> = ReadCache::new(10);
        cache.update(&1, |v| format!("{v}!"));
        assert!(cache.is_empty());
        cache.get_or_load(&1, || ok(Some("one"))).unwrap();
        cache.update(&1, |v| format!("{v}!"));
        let v = cache.get_or_load(&1, || ok(Some("reloaded"))).unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("one!"));
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let cache: ReadCache<u32, String> = ReadCache::new(3);
        for i in 0..100 {
            cache.get_or_load(&i, || ok(Some("x"))).unwrap();
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        cache.clear();
        assert!(cache.is_empty());
    }
}
