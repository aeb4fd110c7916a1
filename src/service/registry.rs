//! The registry: what the token path and the lists read from memory — every asset's summary
//! by path (the catalog), live assets compiled on first request, and the compiled assets whose
//! public keys are published. Kept in line with the store by the changes it publishes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::asset::{AccessRule, Asset, AssetPath, Lifecycle};
use crate::domain::compiled::CompiledAsset;
use crate::ids::AssetId;
use crate::keywords::PayloadTemplate;
use crate::store::BareAsset;
use crate::store::cache::ReadCache;
use crate::store::{Change, StoreError};

/// Compiled live assets kept in memory (each a few KiB); the rest are compiled on request.
const LIVE_ASSETS_CACHED: usize = 2048;

/// What lists show about an asset (no template, no secret).
#[derive(Debug, Clone, Serialize)]
pub struct AssetSummary {
    /// Id.
    pub id: AssetId,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Live or trashed.
    pub state: Lifecycle,
    /// When trashed.
    pub trashed_at: Option<DateTime<Utc>>,
    /// Who trashed it.
    pub trashed_by: Option<String>,
    /// Algorithm.
    pub algorithm: &'static str,
    /// Secret shorter than the hash.
    pub weak_secret: bool,
    /// Expiry, `None` = no expiry.
    pub expiry_seconds: Option<u64>,
    /// Why the template does not compile, if it does not (boxed: one per asset, kept small).
    pub template_error: Option<Box<str>>,
    /// Why the template fails for some users (a trial render), if it does.
    pub template_warning: Option<Box<str>>,
    /// Whether a read rule limits who may fetch.
    pub restricted: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last editor.
    pub updated_by: String,
    /// The read rule ("my tokens" lists the live assets a user may fetch without loading them).
    #[serde(skip)]
    pub read: Option<AccessRule>,
}

impl AssetSummary {
    fn of(a: &Asset, weak_secret: bool, template_error: Option<String>) -> AssetSummary {
        let (state, trashed_at, trashed_by) = a.state.lifecycle();
        AssetSummary {
            id: a.id.clone(),
            name: a.name.clone(),
            path: a.path.to_string(),
            state,
            trashed_at,
            trashed_by,
            algorithm: a.algorithm.name(),
            weak_secret,
            expiry_seconds: a.expiry_seconds,
            template_error: template_error.map(Box::from),
            template_warning: a.template_warning.as_deref().map(Box::from),
            restricted: a.read.is_some(),
            updated_at: a.updated_at,
            updated_by: a.updated_by.clone(),
            read: a.read.clone(),
        }
    }
}

/// An asset's summary and, for a live asymmetric asset, its compiled form, which publishes its
/// keys (the template's error comes from the same compilation). Any other asset has only its
/// template compiled, for the error the list shows.
fn views_of(asset: Asset, weak_secret: bool) -> (AssetSummary, Option<CompiledAsset>) {
    if asset.is_live() && !asset.algorithm.is_hmac() {
        let compiled = CompiledAsset::new(asset);
        let error = compiled.template_error().map(str::to_owned);
        (
            AssetSummary::of(&compiled.asset, weak_secret, error),
            Some(compiled),
        )
    } else {
        let error = PayloadTemplate::compile(&asset.template).err();
        let error = error.map(|e| e.to_string());
        (AssetSummary::of(&asset, weak_secret, error), None)
    }
}

/// The in-memory views of the assets.
pub struct Registry {
    /// Compiled live assets by path, loaded on first request (bounded).
    live: ReadCache<String, CompiledAsset>,
    /// Every live asymmetric asset, compiled from its record as read (perhaps without its
    /// private keys): the JWKS publishes their public keys, discovery lists their claims. Never
    /// signs: the token path reads the whole asset into `live`.
    published: RwLock<BTreeMap<String, Arc<CompiledAsset>>>,
    /// Every asset's summary by path.
    catalog: RwLock<BTreeMap<String, AssetSummary>>,
}

impl Registry {
    /// The views of these (stored) assets, their secrets still sealed: a secret is opened when
    /// its asset first signs.
    pub fn load(assets: Vec<BareAsset>) -> Registry {
        let mut published = BTreeMap::new();
        let mut catalog = BTreeMap::new();
        for BareAsset { asset, weak_secret } in assets {
            let path = asset.path.to_string();
            let (summary, keys) = views_of(asset, weak_secret);
            catalog.insert(path.clone(), summary);
            if let Some(keys) = keys {
                published.insert(path, Arc::new(keys));
            }
        }
        Registry {
            live: ReadCache::new(LIVE_ASSETS_CACHED),
            published: RwLock::new(published),
            catalog: RwLock::new(catalog),
        }
    }

    /// Follow one committed change.
    pub fn apply(&self, change: &Change) {
        match change {
            Change::AssetChanged { asset, old_path } => {
                self.refresh(asset, old_path.as_ref(), false)
            }
            Change::AssetPurged { path, .. } => {
                let mut catalog = self.catalog.write().unwrap_or_else(|e| e.into_inner());
                catalog.remove(path.as_str());
                drop(catalog);
                self.published
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(path.as_str());
                self.live.invalidate(path.as_str());
            }
            _ => {}
        }
    }

    /// Bring the views in line with a stored asset; `old_path` when the path changed.
    fn refresh(&self, asset: &Asset, old_path: Option<&AssetPath>, purged: bool) {
        let (summary, keys) = views_of(asset.clone(), asset.has_weak_secret());
        {
            let mut catalog = self.catalog.write().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = old_path {
                catalog.remove(old.as_str());
            }
            if purged {
                catalog.remove(asset.path.as_str());
            } else {
                catalog.insert(asset.path.to_string(), summary);
            }
        }
        {
            let mut published = self.published.write().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = old_path {
                published.remove(old.as_str());
            }
            published.remove(asset.path.as_str());
            if let Some(keys) = keys.filter(|_| !purged) {
                published.insert(asset.path.to_string(), Arc::new(keys));
            }
        }
        // After the store and the catalog: a request that loaded the old record meanwhile does
        // not keep it (see `ReadCache`).
        if let Some(old) = old_path {
            self.live.invalidate(old.as_str());
        }
        self.live.invalidate(asset.path.as_str());
    }

    /// The live asset at a request path, exactly as requested (no decoding, no normalisation).
    ///
    /// The catalog knows every path, so an unknown one costs no store read; a live asset is read
    /// with `load` (its secrets opened) and compiled on its first request and kept (at most
    /// `LIVE_ASSETS_CACHED` of them) until it changes.
    pub fn live_asset(
        &self,
        request_path: &str,
        load: impl FnOnce(&AssetId) -> Result<Option<Asset>, StoreError>,
    ) -> Result<Option<Arc<CompiledAsset>>, StoreError> {
        self.live.get_or_load(request_path, || {
            let id = match self.catalog().get(request_path) {
                Some(s) if s.state == Lifecycle::Live => s.id.clone(),
                _ => return Ok(None),
            };
            Ok(load(&id)?
                .filter(|a| a.is_live() && a.path.as_str() == request_path)
                .map(|a| Arc::new(CompiledAsset::new(a))))
        })
    }

    /// Every asset's summary, by path.
    pub fn catalog(&self) -> RwLockReadGuard<'_, BTreeMap<String, AssetSummary>> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The compiled live asymmetric assets, by path.
    pub fn published(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<CompiledAsset>>> {
        self.published.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The compiled live asymmetric asset at a path.
    pub fn published_at(&self, path: &str) -> Option<Arc<CompiledAsset>> {
        self.published().get(path).cloned()
    }
}
