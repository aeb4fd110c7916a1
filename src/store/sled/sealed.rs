//! Asset records as the embedded store keeps them: the asset with its secret material sealed
//! under a data key of the [`Keyring`](super::keyring::Keyring) (see [`crate::store::sealing`]).

use serde::Deserialize;

use super::SledStore;
use super::records::{decode, encode};
use crate::domain::asset::Asset;
use crate::store::BareAsset;
use crate::store::StoreError;
use crate::store::sealing::SealedAsset;

/// Only the name of a record's data key.
#[derive(Deserialize)]
struct KeyName {
    key: String,
}

/// The name of the data key a stored asset record is sealed with.
pub(super) fn key_name(record: &[u8]) -> Result<String, StoreError> {
    decode::<KeyName>(record).map(|k| k.key)
}

/// A stored asset without its secret material (not opened): enough for its version and path.
pub(super) fn bare_asset(record: &[u8]) -> Result<Asset, StoreError> {
    decode::<SealedAsset>(record).map(|sealed| sealed.asset)
}

impl SledStore {
    /// An asset record to store, sealed under a new data key; returns the key's name too, to be
    /// deleted if the record is not stored after all.
    pub(super) fn seal_asset(&self, asset: &Asset) -> Result<(Vec<u8>, String), StoreError> {
        let (name, key) = self.keyring.create(&asset.id).inspect_err(|e| {
            if matches!(e, StoreError::Io(_)) {
                self.note_write_failure(e);
            }
        })?;
        let record = SealedAsset::seal(asset, &name, &key).and_then(|sealed| encode(&sealed));
        match record {
            Ok(record) => Ok((record, name)),
            Err(e) => {
                self.keyring.delete(&name);
                Err(e)
            }
        }
    }

    /// A stored asset record, opened.
    pub(super) fn open_asset(&self, record: &[u8]) -> Result<Asset, StoreError> {
        self.open_sealed(decode(record)?)
    }

    fn open_sealed(&self, sealed: SealedAsset) -> Result<Asset, StoreError> {
        let key = self.keyring.get(&sealed.key)?;
        sealed.open(&key)
    }

    /// Every stored asset, opened.
    pub(super) fn all_assets(&self) -> Result<Vec<Asset>, StoreError> {
        self.refused
            .values(&self.assets)?
            .iter()
            .map(|v| self.open_asset(v))
            .collect()
    }

    /// Every stored asset, its secrets left sealed.
    pub(super) fn asset_records(&self) -> Result<Vec<BareAsset>, StoreError> {
        self.refused
            .values(&self.assets)?
            .iter()
            .map(|v| self.bare_record(decode(v)?))
            .collect()
    }

    fn bare_record(&self, sealed: SealedAsset) -> Result<BareAsset, StoreError> {
        sealed.bare(|sealed| self.open_sealed(sealed))
    }

    /// After a write: delete the data key the old record used, once the new one is durable.
    pub(super) fn retire_key_of(&self, old_record: &[u8]) {
        if let Ok(name) = key_name(old_record) {
            self.keyring.delete(&name);
        }
    }

    /// At open: every asset's data key is present (else the store is refused), and keys no
    /// record names (of refused or interrupted writes) are deleted. The keys are not read here:
    /// each is unwrapped when its asset is first used, except for records written before
    /// records said whether their secret is weak: those are opened to find out, once, and
    /// marked (same sealed secrets, same data key). The records read on the way are kept as the
    /// first asset index (the service reads it next).
    pub(super) fn check_asset_records(&self) -> Result<(), StoreError> {
        let mut unused = self.keyring.names()?;
        let mut index = Vec::new();
        let mut marked = Vec::new();
        for entry in self.assets.iter() {
            let (id, record) = entry?;
            let mut sealed: SealedAsset = decode(&record)?;
            if !unused.remove(&sealed.key) {
                // Missing (or named by a second record, which reading it allows).
                self.keyring.get(&sealed.key)?;
            }
            if sealed.weak_secret.is_none() {
                let weak = self.open_sealed(sealed.clone())?.has_weak_secret();
                sealed.weak_secret = Some(weak);
                marked.push((id, encode(&sealed)?));
            }
            index.push(self.bare_record(sealed)?);
        }
        self.keyring.delete_unused(unused);
        if !marked.is_empty() {
            let mut batch = sled::Batch::default();
            for (id, record) in marked {
                batch.insert(id, record);
            }
            self.assets.apply_batch(batch)?;
            self.make_durable()?;
        }
        *self.opened_index.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((self.durable_write_count(), index));
        Ok(())
    }
}
