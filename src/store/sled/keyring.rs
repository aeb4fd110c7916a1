//! The data keys of the embedded store: one small file per data key in `keys/`, beside sled's
//! log rather than in it, each wrapped by the master key. Each asset write seals the asset's
//! secrets under a new data key (written and synced before the record), and the key the record
//! no longer names is deleted after the write is durable; purging an asset deletes its last key,
//! so any copy of its record left in sled's old log segments can no longer be opened.
//!
//! A key file: the id of the master key that wrapped it, a newline, the wrapped key.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::files::{FILE_MODE, KEYS_DIR, write_atomically};
use crate::ids::{AssetId, random_token};
use crate::store::StoreError;
use crate::store::sealing::{MasterKey, SealingKey};

/// The data keys, unwrapped in memory.
pub(super) struct Keyring {
    dir: PathBuf,
    master: MasterKey,
    keys: RwLock<HashMap<String, Arc<SealingKey>>>,
}

fn io(path: &Path, what: &str) -> impl Fn(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    let what = what.to_owned();
    move |e| StoreError::Io(format!("cannot {what} {path}: {e}"))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "sync"))
}

/// A key name: the asset's id, a dot, a random suffix.
fn is_key_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(id, suffix)| {
        !id.is_empty()
            && !suffix.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    })
}

/// A key file's content: which master key wrapped it, and the wrapped key.
fn parse_key_file(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let id = std::str::from_utf8(&bytes[..newline]).ok()?;
    Some((id, &bytes[newline + 1..]))
}

/// Read a key file, first making it the owner's alone if it is not (a store copied with default
/// permissions): checked and changed through the open file, without another path lookup.
fn read_private(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut file = fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.permissions().mode() & 0o777 != FILE_MODE {
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl Keyring {
    /// Load every data key in `data_dir/keys`, unwrapped with `master`. A key wrapped by another
    /// master key, or damaged, refuses the store.
    pub(super) fn open(data_dir: &Path, master: MasterKey) -> Result<Keyring, StoreError> {
        let dir = data_dir.join(KEYS_DIR);
        fs::create_dir_all(&dir).map_err(io(&dir, "create"))?;
        let mut keys = HashMap::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir, "read"))? {
            let path = entry.map_err(io(&dir, "read"))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(".tmp") {
                // A key file whose write was cut short: its record was never written.
                let _ = fs::remove_file(&path);
                continue;
            }
            if !is_key_name(name) {
                continue;
            }
            let bytes = read_private(&path).map_err(io(&path, "read"))?;
            let key = match parse_key_file(&bytes) {
                Some((id, wrapped)) if id == master.id() => master.unwrap(name, wrapped),
                Some((id, _)) if id.len() == 16 => {
                    return Err(StoreError::MasterKey(format!(
                        "the data key {} is wrapped by the master key {id}, not by the given key {}: \
                         give the server the store's master key (if a `rekey` was interrupted, run it again)",
                        path.display(),
                        master.id()
                    )));
                }
                _ => None,
            };
            let key = key.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the data key file {} is damaged; restore the data directory from a backup",
                    path.display()
                ))
            })?;
            keys.insert(name.to_owned(), Arc::new(key));
        }
        Ok(Keyring {
            dir,
            master,
            keys: RwLock::new(keys),
        })
    }

    /// The master key.
    pub(super) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The key that seals a dump for this store's master key, and the master key's id.
    pub(super) fn export_key(&self) -> (String, SealingKey) {
        (self.master.id().to_owned(), self.master.export_key())
    }

    /// A new data key for `asset`, written and synced before it is used.
    pub(super) fn create(&self, asset: &AssetId) -> Result<(String, Arc<SealingKey>), StoreError> {
        let name = format!("{}.{}", asset.as_str(), random_token::<9>());
        if !is_key_name(&name) {
            return Err(StoreError::Conflict(format!(
                "{:?} is not an asset id this store can name a key file after",
                asset.as_str()
            )));
        }
        let key = SealingKey::generate()?;
        let mut bytes = format!("{}\n", self.master.id()).into_bytes();
        bytes.extend_from_slice(&self.master.wrap(&name, &key)?);
        write_atomically(&self.dir.join(&name), &bytes)?;
        let key = Arc::new(key);
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone(), key.clone());
        Ok((name, key))
    }

    /// The data key called `name`.
    pub(super) fn get(&self, name: &str) -> Result<Arc<SealingKey>, StoreError> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the data key {name} is missing from {} (a data directory restored without its \
                     keys/ directory?); restore the whole data directory from a backup",
                    self.dir.display()
                ))
            })
    }

    /// Delete a data key no record names any more (best-effort: a key left behind is deleted at
    /// the next start). Its file goes; this process keeps it in memory until it stops, for a
    /// reader that fetched the old record just before the write (the master key is in memory
    /// anyway).
    pub(super) fn delete(&self, name: &str) {
        let path = self.dir.join(name);
        if let Err(e) = fs::remove_file(&path)
            .map_err(io(&path, "delete"))
            .and_then(|()| sync_dir(&self.dir))
        {
            tracing::warn!(error = %e, "a data key that is no longer used was not deleted yet");
        }
    }

    /// Delete every data key not in `used` (keys of writes that were refused or cut short).
    pub(super) fn keep_only(&self, used: &HashSet<String>) {
        let unused: Vec<String> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .filter(|name| !used.contains(*name))
            .cloned()
            .collect();
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for name in unused {
            keys.remove(&name);
            self.delete(&name);
        }
    }

    /// Wrap every data key under `new` instead, one file at a time (each replaced atomically). A
    /// key already wrapped by `new` (a `rekey` run again after an interruption) is left as it is.
    /// Returns how many keys were wrapped anew.
    pub(super) fn rewrap(
        data_dir: &Path,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<usize, StoreError> {
        let dir = data_dir.join(KEYS_DIR);
        fs::create_dir_all(&dir).map_err(io(&dir, "create"))?;
        let mut count = 0;
        for entry in fs::read_dir(&dir).map_err(io(&dir, "read"))? {
            let path = entry.map_err(io(&dir, "read"))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !is_key_name(name) || name.ends_with(".tmp") {
                continue;
            }
            let bytes = read_private(&path).map_err(io(&path, "read"))?;
            let damaged =
                || StoreError::Corrupt(format!("the data key file {} is damaged", path.display()));
            let (id, wrapped) = parse_key_file(&bytes).ok_or_else(damaged)?;
            if id == new.id() {
                continue;
            }
            if id != old.id() {
                return Err(StoreError::MasterKey(format!(
                    "the data key {} is wrapped by the master key {id}, neither the current key {} nor the new one {}",
                    path.display(),
                    old.id(),
                    new.id()
                )));
            }
            let key = old.unwrap(name, wrapped).ok_or_else(damaged)?;
            let mut out = format!("{}\n", new.id()).into_bytes();
            out.extend_from_slice(&new.wrap(name, &key)?);
            write_atomically(&path, &out)?;
            count += 1;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_an_id_a_dot_and_a_suffix() {
        assert!(is_key_name("AbC-_1.xyz"));
        assert!(!is_key_name("nodot"));
        assert!(!is_key_name(".x"));
        assert!(!is_key_name("a/b.c"));
    }

    #[test]
    fn keys_survive_a_reopen_and_deleted_keys_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let ring = Keyring::open(dir.path(), master.clone()).unwrap();
        let id = AssetId::generate();
        let (a, key_a) = ring.create(&id).unwrap();
        let (b, _) = ring.create(&id).unwrap();
        ring.delete(&b);
        let again = Keyring::open(dir.path(), master.clone()).unwrap();
        let sealed = key_a.seal(b"c", b"x").unwrap();
        assert_eq!(again.get(&a).unwrap().open(b"c", &sealed).unwrap(), b"x");
        assert!(again.get(&b).is_err());
        assert!(!dir.path().join(KEYS_DIR).join(&b).exists());

        let other = MasterKey::generate().unwrap();
        let refused = Keyring::open(dir.path(), other.clone()).err().unwrap();
        assert!(matches!(refused, StoreError::MasterKey(_)), "{refused}");
        assert_eq!(Keyring::rewrap(dir.path(), &master, &other).unwrap(), 1);
        assert_eq!(Keyring::rewrap(dir.path(), &master, &other).unwrap(), 0);
        let rekeyed = Keyring::open(dir.path(), other).unwrap();
        assert_eq!(rekeyed.get(&a).unwrap().open(b"c", &sealed).unwrap(), b"x");
    }
}
