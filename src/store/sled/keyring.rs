//! The data keys of the embedded store: one small file per data key in `keys/`, beside sled's
//! log rather than in it, each wrapped by the master key. Each asset write seals the asset's
//! secrets under a new data key (written and synced before the record), and the key the record
//! no longer names is deleted after the write is durable; purging an asset deletes its last key,
//! so any copy of its record left in sled's old log segments can no longer be opened.
//!
//! A key file: the id of the master key that wrapped it, a newline, the wrapped key. A key is
//! read and unwrapped when first used, not at open.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::files::{FILE_MODE, KEYS_DIR, write_atomically};
use crate::ids::{AssetId, random_token};
use crate::store::StoreError;
use crate::store::sealing::{MasterKey, SealingKey};

/// The data keys: their files, and the keys unwrapped so far in memory.
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
    /// The data keys in `data_dir/keys`, unwrapped with `master` when first used (a store of
    /// 10 000 assets opens without reading 10 000 files; see [`Keyring::names`]).
    pub(super) fn open(data_dir: &Path, master: MasterKey) -> Result<Keyring, StoreError> {
        let dir = data_dir.join(KEYS_DIR);
        fs::create_dir_all(&dir).map_err(io(&dir, "create"))?;
        Ok(Keyring {
            dir,
            master,
            keys: RwLock::new(HashMap::new()),
        })
    }

    /// The names of the stored data keys; key files whose write was cut short (their record was
    /// never written) are deleted.
    pub(super) fn names(&self) -> Result<HashSet<String>, StoreError> {
        let mut names = HashSet::new();
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir, "read"))? {
            let entry = entry.map_err(io(&self.dir, "read"))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            } else if is_key_name(&name) {
                names.insert(name);
            }
        }
        Ok(names)
    }

    /// Read and unwrap the key file `name`. A key wrapped by another master key, or damaged, is
    /// an error that names the file (and refuses what needed it).
    fn read(&self, name: &str) -> Result<SealingKey, StoreError> {
        let path = self.dir.join(name);
        let bytes = match read_private(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Corrupt(format!(
                    "the data key {name} is missing from {} (a data directory restored without its \
                     keys/ directory?); restore the whole data directory from a backup",
                    self.dir.display()
                )));
            }
            Err(e) => return Err(io(&path, "read")(e)),
        };
        let key = match parse_key_file(&bytes) {
            Some((id, wrapped)) if id == self.master.id() => self.master.unwrap(name, wrapped),
            Some((id, _)) if id.len() == 16 => {
                return Err(StoreError::MasterKey(format!(
                    "the data key {} is wrapped by the master key {id}, not by the given key {}: \
                     give the server the store's master key (if a `rekey` was interrupted, run it again)",
                    path.display(),
                    self.master.id()
                )));
            }
            _ => None,
        };
        key.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the data key file {} is damaged; restore the data directory from a backup",
                path.display()
            ))
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

    /// The data key called `name`, read from its file on first use and kept in memory.
    pub(super) fn get(&self, name: &str) -> Result<Arc<SealingKey>, StoreError> {
        if let Some(key) = self.unwrapped(name) {
            return Ok(key);
        }
        // Key files never change (a new key gets a new name): two readers that both read this
        // one keep the same key. A file deleted meanwhile was read into memory first (see
        // `delete`), so a reader that found no file looks there again.
        let key = match self.read(name) {
            Ok(key) => Arc::new(key),
            Err(missing) => return self.unwrapped(name).ok_or(missing),
        };
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), key.clone());
        Ok(key)
    }

    /// The key called `name` if it was unwrapped already.
    fn unwrapped(&self, name: &str) -> Option<Arc<SealingKey>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Delete a data key no record names any more (best-effort: a key left behind is deleted at
    /// the next start). Its file goes; this process keeps it in memory until it stops, for a
    /// reader that fetched the old record just before the write (the master key is in memory
    /// anyway), so it is read first if it was not yet.
    pub(super) fn delete(&self, name: &str) {
        if let Err(e) = self.get(name) {
            tracing::warn!(error = %e, "a data key that is no longer used could not be read before deleting it");
        }
        self.remove_file(name);
    }

    fn remove_file(&self, name: &str) {
        let path = self.dir.join(name);
        if let Err(e) = fs::remove_file(&path)
            .map_err(io(&path, "delete"))
            .and_then(|()| sync_dir(&self.dir))
        {
            tracing::warn!(error = %e, "a data key that is no longer used was not deleted yet");
        }
    }

    /// Delete the stored data keys `unused` (keys of writes that were refused or cut short: no
    /// record names them, so no reader needs them).
    pub(super) fn delete_unused(&self, unused: impl IntoIterator<Item = String>) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for name in unused {
            keys.remove(&name);
            self.remove_file(&name);
        }
    }

    /// Read every data key for a `rekey` from `old` to `new`, changing nothing: the keys still
    /// wrapped by `old`, unwrapped. A key already wrapped by `new` (a `rekey` run again after an
    /// interruption) is left out; one that opens with neither key refuses the rekey.
    pub(super) fn prepare_rewrap(
        data_dir: &Path,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<Rewrap, StoreError> {
        let dir = data_dir.join(KEYS_DIR);
        fs::create_dir_all(&dir).map_err(io(&dir, "create"))?;
        let mut keys = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir, "read"))? {
            let path = entry.map_err(io(&dir, "read"))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !is_key_name(name) || name.ends_with(".tmp") {
                continue;
            }
            let bytes = read_private(&path).map_err(io(&path, "read"))?;
            let damaged = || {
                StoreError::Corrupt(format!(
                    "the data key file {} is damaged; nothing was changed: restore the data \
                     directory from a backup before the rekey",
                    path.display()
                ))
            };
            let (id, wrapped) = parse_key_file(&bytes).ok_or_else(damaged)?;
            let with = if id == new.id() {
                new
            } else if id == old.id() {
                old
            } else {
                return Err(StoreError::MasterKey(format!(
                    "the data key {} is wrapped by the master key {id}, neither the current key {} nor the new one {}",
                    path.display(),
                    old.id(),
                    new.id()
                )));
            };
            let key = with.unwrap(name, wrapped).ok_or_else(damaged)?;
            if id == old.id() {
                keys.push((path.clone(), name.to_owned(), key));
            }
        }
        Ok(Rewrap(keys))
    }
}

/// The data keys a `rekey` wraps anew, read and unwrapped (see [`Keyring::prepare_rewrap`]).
pub(super) struct Rewrap(Vec<(PathBuf, String, SealingKey)>);

impl Rewrap {
    /// Wrap each key under `new`, one file at a time (each replaced atomically). Returns how many
    /// keys were wrapped anew.
    pub(super) fn write(self, new: &MasterKey) -> Result<usize, StoreError> {
        for (path, name, key) in &self.0 {
            let mut out = format!("{}\n", new.id()).into_bytes();
            out.extend_from_slice(&new.wrap(name, key)?);
            write_atomically(path, &out)?;
        }
        Ok(self.0.len())
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

        assert_eq!(again.names().unwrap(), HashSet::from([a.clone()]));

        let other = MasterKey::generate().unwrap();
        let refused = Keyring::open(dir.path(), other.clone())
            .unwrap()
            .get(&a)
            .err()
            .unwrap();
        assert!(matches!(refused, StoreError::MasterKey(_)), "{refused}");
        assert!(refused.to_string().contains(&a), "{refused}");
        let rewrap = |old, new| {
            Keyring::prepare_rewrap(dir.path(), old, new)
                .and_then(|r| r.write(new))
                .unwrap()
        };
        assert_eq!(rewrap(&master, &other), 1);
        assert_eq!(rewrap(&master, &other), 0);
        let rekeyed = Keyring::open(dir.path(), other).unwrap();
        assert_eq!(rekeyed.get(&a).unwrap().open(b"c", &sealed).unwrap(), b"x");
    }
}
