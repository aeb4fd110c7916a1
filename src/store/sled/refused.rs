//! Writes that were refused (they could not be made durable) and that sled, failed after an I/O
//! error, could not take back either: reads answer what is durable instead, record by record, so
//! a refused create is not listed, a refused edit does not become current and a refused revoke
//! does not take effect. It lasts until the server restarts on the durable state (see
//! `Store::health`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use sled::{IVec, Tree};

/// What one key of one tree held before a write: put back, or remembered, if the write is
/// refused.
pub(super) struct Prior {
    tree: Tree,
    key: IVec,
    value: Option<IVec>,
}

impl Prior {
    /// The value `key` holds in `tree` now.
    pub(super) fn of(tree: &Tree, key: &[u8]) -> Result<Prior, sled::Error> {
        Ok(Prior {
            tree: tree.clone(),
            key: IVec::from(key),
            value: tree.get(key)?,
        })
    }

    /// Put the values back (take a refused write back).
    pub(super) fn restore(priors: &[Prior]) -> Result<(), sled::Error> {
        for p in priors {
            match &p.value {
                Some(v) => p.tree.insert(&p.key, v.clone()).map(drop)?,
                None => p.tree.remove(&p.key).map(drop)?,
            }
        }
        Ok(())
    }
}

/// The durable value of each (tree, key) whose last write was refused (`None`: absent).
#[derive(Default)]
pub(super) struct RefusedWrites {
    any: AtomicBool,
    durable: Mutex<HashMap<(IVec, IVec), Option<IVec>>>,
}

impl RefusedWrites {
    fn lock(&self) -> MutexGuard<'_, HashMap<(IVec, IVec), Option<IVec>>> {
        self.durable.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write was refused and stays in sled: remember what is durable for each key it touched
    /// (the first refusal of a key wins: that value is the durable one).
    pub(super) fn remember(&self, priors: Vec<Prior>) {
        let mut map = self.lock();
        for p in priors {
            map.entry((p.tree.name(), p.key)).or_insert(p.value);
        }
        self.any.store(!map.is_empty(), Ordering::Release);
    }

    /// `key` of `tree`, as durable: sled's value unless a refused write masks it.
    pub(super) fn get(&self, tree: &Tree, key: &[u8]) -> Result<Option<IVec>, sled::Error> {
        if self.any.load(Ordering::Acquire)
            && let Some(durable) = self.lock().get(&(tree.name(), IVec::from(key)))
        {
            return Ok(durable.clone());
        }
        tree.get(key)
    }

    /// Every value of `tree` in key order, as durable.
    pub(super) fn values(&self, tree: &Tree) -> Result<Vec<IVec>, sled::Error> {
        Ok(self.entries(tree)?.into_iter().map(|(_, v)| v).collect())
    }

    /// Every entry of `tree` in key order, as durable.
    pub(super) fn entries(&self, tree: &Tree) -> Result<Vec<(IVec, IVec)>, sled::Error> {
        let entries = tree.iter().collect::<Result<Vec<_>, _>>()?;
        if !self.any.load(Ordering::Acquire) {
            return Ok(entries);
        }
        let map = self.lock();
        let name = tree.name();
        let mut patched: BTreeMap<IVec, IVec> = entries.into_iter().collect();
        for ((t, key), durable) in map.iter() {
            if *t != name {
                continue;
            }
            match durable {
                Some(v) => patched.insert(key.clone(), v.clone()),
                None => patched.remove(key),
            };
        }
        Ok(patched.into_iter().collect())
    }

    /// Whether any write is masked (reads of whole trees take the slower, patched path).
    pub(super) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }
}
