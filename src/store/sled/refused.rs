//! Asset writes that were refused (they could not be made durable) and that sled, failed after
//! an I/O error, could not take back either: reads answer what is durable instead, so a refused
//! create is not listed and a refused edit does not become current. It lasts until the server
//! restarts on the durable state (see `Store::health`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::domain::asset::Asset;
use crate::ids::AssetId;

/// The durable version of each asset whose last write was refused (`None`: it does not exist).
#[derive(Default)]
pub(super) struct RefusedAssets {
    durable: Mutex<HashMap<AssetId, Option<Asset>>>,
}

impl RefusedAssets {
    fn lock(&self) -> MutexGuard<'_, HashMap<AssetId, Option<Asset>>> {
        self.durable.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remember what is durable for `id` after a write to it was refused.
    pub(super) fn remember(&self, id: &AssetId, durable: Option<Asset>) {
        self.lock().entry(id.clone()).or_insert(durable);
    }

    /// A later write to `id` was made durable: sled is right about it again.
    pub(super) fn forget(&self, id: &AssetId) {
        self.lock().remove(id);
    }

    /// What to answer for `id` instead of sled, if anything.
    pub(super) fn get(&self, id: &AssetId) -> Option<Option<Asset>> {
        let map = self.lock();
        if map.is_empty() {
            return None;
        }
        map.get(id).cloned()
    }

    /// The durable asset at `path`: `Some` when a remembered asset decides it.
    pub(super) fn at_path(&self, path: &str, sled_id: Option<&AssetId>) -> Option<Option<Asset>> {
        let map = self.lock();
        if map.is_empty() {
            return None;
        }
        if let Some(asset) = map.values().flatten().find(|a| a.path.as_str() == path) {
            return Some(Some(asset.clone()));
        }
        // sled's index points at an asset whose durable version is elsewhere (or absent).
        sled_id.filter(|id| map.contains_key(*id)).map(|_| None)
    }

    /// Correct a full listing from sled.
    pub(super) fn patch(&self, mut assets: Vec<Asset>) -> Vec<Asset> {
        let map = self.lock();
        if map.is_empty() {
            return assets;
        }
        assets.retain(|a| !map.contains_key(&a.id));
        assets.extend(map.values().flatten().cloned());
        assets
    }
}
