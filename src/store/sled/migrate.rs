//! Schema 1 → 2: seal the secrets of a store written before they were sealed. Rewriting the
//! records in place would leave the clear secrets in sled's older log segments, so the store is
//! copied into a fresh database (in `.sealing/` inside the data directory) with every asset
//! sealed on the way, then the fresh database's files replace the old ones. Each step can be
//! cut short by a crash: a copy without its `complete` marker is thrown away and made again; a
//! copy with it is moved into place (again) at the next open.

use std::fs;
use std::path::Path;

use super::files::{self, is_sled_entry};
use super::keyring::Keyring;
use super::pristine::{self, COMPLETE};
use super::records::{decode, encode};
use crate::domain::asset::Asset;
use crate::store::StoreError;
use crate::store::sealing::{MasterKey, SealedAsset};

const FRESH_DIR: &str = ".sealing";

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |e| StoreError::Io(format!("while sealing the store's secrets, {path}: {e}"))
}

/// Copy the schema-1 store in `dir` into a fresh database with its secrets sealed under `master`
/// (schema 2), and put the copy in place of the old database.
pub(super) fn seal_secrets(dir: &Path, master: &MasterKey) -> Result<(), StoreError> {
    let fresh = dir.join(FRESH_DIR);
    if fresh.exists() {
        fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
    }
    files::create_private_dir(&fresh)?;
    let keyring = Keyring::open(dir, master.clone())?;
    {
        let old = sled::open(dir)?;
        let new = sled::open(&fresh)?;
        let mut sealed = 0usize;
        for name in old.tree_names() {
            let (from, to) = (old.open_tree(&name)?, new.open_tree(&name)?);
            for entry in from.iter() {
                let (key, value) = entry?;
                if name.as_ref() == b"assets" {
                    let asset: Asset = decode(&value)?;
                    let (key_name, data_key) = keyring.create(&asset.id)?;
                    let record = encode(&SealedAsset::seal(&asset, &key_name, &data_key)?)?;
                    to.insert(key, record)?;
                    sealed += 1;
                } else {
                    to.insert(key, value)?;
                }
            }
        }
        let meta = new.open_tree("meta")?;
        meta.insert("schema_version", &2u32.to_be_bytes())?;
        meta.insert(super::MASTER_KEY_ID, master.id().as_bytes())?;
        new.flush()?;
        tracing::info!(
            assets = sealed,
            "sealed the secrets of every asset (schema 1 → 2)"
        );
    }
    let entries: Vec<String> = fs::read_dir(&fresh)
        .map_err(io(&fresh))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| is_sled_entry(n))
        .collect();
    pristine::mark_complete(&fresh, &entries).map_err(io(&fresh))?;
    finish(dir)
}

/// Put a complete sealed copy in place of the old database (again, after a crash), or throw away
/// a copy cut short. Nothing to do when there is no copy.
pub(super) fn finish(dir: &Path) -> Result<(), StoreError> {
    let fresh = dir.join(FRESH_DIR);
    if fresh.join(COMPLETE).exists() {
        return pristine::put_back(dir, &fresh);
    }
    if fresh.exists() {
        fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::signing::KeyType;
    use crate::signing::keys::KeyPair;
    use crate::store::Store;
    use crate::store::sled::SledStore;

    /// Every file under `dir`, read whole.
    fn all_bytes(dir: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(all_bytes(&path));
            } else {
                out.extend(fs::read(&path).unwrap());
            }
        }
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_schema_1_store_is_sealed_into_a_fresh_database_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let canary = b"CANARY-7f3a9c1e5b2d4f6a8c0e1d2b3a".to_vec();
        let mut asset = crate::store::test_records::asset("/t/old");
        asset.secret = Secret::new(canary.clone());
        let mut rsa = crate::store::test_records::asset("/t/rsa");
        rsa.secret = Secret::new(Vec::new());
        rsa.keys = vec![KeyPair::generate(KeyType::P256, chrono::Utc::now()).unwrap()];
        let der = rsa.keys[0].private_key.expose().to_vec();
        {
            // The layout schema 1 wrote: plain asset records, secrets in the clear.
            let db = sled::open(&data).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert("schema_version", &1u32.to_be_bytes()).unwrap();
            let (assets, paths) = (
                db.open_tree("assets").unwrap(),
                db.open_tree("asset_paths").unwrap(),
            );
            for a in [&asset, &rsa] {
                assets.insert(a.id.as_str(), encode(a).unwrap()).unwrap();
                paths.insert(a.path.as_str(), a.id.as_str()).unwrap();
            }
            db.flush().unwrap();
        }
        let json_bytes = serde_json::to_string(&canary).unwrap();
        let json_bytes = &json_bytes[1..json_bytes.len() - 1];
        assert!(
            contains(&all_bytes(&data), json_bytes.as_bytes()),
            "the old layout holds the canary"
        );

        let store = SledStore::open_for_test(&data).unwrap();
        let opened = store.asset(&asset.id).unwrap().unwrap();
        assert_eq!(opened.secret.expose(), canary.as_slice());
        let opened = store.asset_by_path("/t/rsa").unwrap().unwrap();
        assert_eq!(opened.keys[0].private_key.expose(), der.as_slice());
        drop(store);

        let files = all_bytes(&data);
        for needle in [
            canary.as_slice(),
            json_bytes.as_bytes(),
            &der[der.len() - 32..],
        ] {
            assert!(
                !contains(&files, needle),
                "a secret is still in the data directory"
            );
        }
        assert!(!data.join(FRESH_DIR).exists());
        let store = SledStore::open_for_test(&data).unwrap();
        assert_eq!(store.assets().unwrap().len(), 2);
    }

    #[test]
    fn a_copy_cut_short_is_made_again_and_a_complete_one_is_moved_in() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // A copy without its marker: thrown away.
        fs::create_dir_all(data.join(FRESH_DIR)).unwrap();
        fs::write(data.join(FRESH_DIR).join("db"), b"partial").unwrap();
        finish(&data).unwrap();
        assert!(!data.join(FRESH_DIR).exists());
        // A complete copy, interrupted half-way through the move: the rest is moved.
        fs::write(data.join("conf"), b"new conf").unwrap();
        fs::write(data.join("db"), b"old db").unwrap();
        fs::write(data.join("snap.0001"), b"old snapshot").unwrap();
        fs::create_dir_all(data.join(FRESH_DIR)).unwrap();
        fs::write(data.join(FRESH_DIR).join("db"), b"new db").unwrap();
        fs::write(data.join(FRESH_DIR).join(COMPLETE), "conf\ndb").unwrap();
        finish(&data).unwrap();
        assert_eq!(fs::read(data.join("db")).unwrap(), b"new db");
        assert_eq!(fs::read(data.join("conf")).unwrap(), b"new conf");
        assert!(!data.join("snap.0001").exists());
        assert!(!data.join(FRESH_DIR).exists());
    }
}
