//! Asset records as the embedded store keeps them: the asset with its secret material sealed
//! under a data key of the [`Keyring`](super::keyring::Keyring) (see [`crate::store::sealing`]).

use std::collections::HashSet;

use serde::Deserialize;

use super::SledStore;
use super::records::{decode, encode};
use crate::domain::asset::Asset;
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
        let sealed: SealedAsset = decode(record)?;
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

    /// After a write: delete the data key the old record used, once the new one is durable.
    pub(super) fn retire_key_of(&self, old_record: &[u8]) {
        if let Ok(name) = key_name(old_record) {
            self.keyring.delete(&name);
        }
    }

    /// At open: every asset's data key is present (else the store is refused), and keys no
    /// record names (of refused or interrupted writes) are deleted.
    pub(super) fn check_keys(&self) -> Result<(), StoreError> {
        let mut used = HashSet::new();
        for record in self.assets.iter().values() {
            let name = key_name(&record?)?;
            self.keyring.get(&name)?;
            used.insert(name);
        }
        self.keyring.keep_only(&used);
        Ok(())
    }
}
