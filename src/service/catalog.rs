//! The asset catalog: an in-memory summary of every asset for lists, search, trash and "my tokens".

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Service;
use crate::asset::{AccessRule, AssetState, read_allows};
use crate::audit::AuditEvent;
use crate::error::AppError;
use crate::token::CompiledAsset;
use crate::user::User;

/// Assets per page in lists.
pub const PAGE_SIZE: usize = 50;

/// What lists show about an asset (no template, no secret).
#[derive(Debug, Clone, Serialize)]
pub struct AssetSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `live` or `trashed`.
    pub state: &'static str,
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
    /// Why the template does not compile, if it does not.
    pub template_error: Option<String>,
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
    pub(super) fn of(c: &CompiledAsset) -> AssetSummary {
        let a = &c.asset;
        let (state, trashed_at, trashed_by) = match &a.state {
            AssetState::Live => ("live", None, None),
            AssetState::Trashed { at, by } => ("trashed", Some(*at), Some(by.clone())),
        };
        AssetSummary {
            id: a.id.to_string(),
            name: a.name.clone(),
            path: a.path.to_string(),
            state,
            trashed_at,
            trashed_by,
            algorithm: a.algorithm.name(),
            weak_secret: a.secret.len() < a.algorithm.min_secret_bytes(),
            expiry_seconds: a.expiry_seconds,
            template_error: c.template_error().map(str::to_owned),
            restricted: a.read.is_some(),
            updated_at: a.updated_at,
            updated_by: a.updated_by.clone(),
            read: a.read.clone(),
        }
    }
}

/// One page of a filtered asset list.
#[derive(Debug, Serialize)]
pub struct AssetPage {
    /// The assets on this page, by path.
    pub assets: Vec<AssetSummary>,
    /// How many match in all.
    pub total: usize,
    /// This page (1-based).
    pub page: usize,
    /// Number of pages (at least 1).
    pub pages: usize,
}

impl Service {
    /// Live or trashed assets whose name or path contains `query` (case-insensitive), by path,
    /// one page at a time.
    pub fn asset_page(&self, trashed: bool, query: &str, page: usize) -> AssetPage {
        let query = query.trim().to_lowercase();
        let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
        let matching = catalog.values().filter(|a| {
            (a.state == "trashed") == trashed
                && (query.is_empty()
                    || a.path.to_lowercase().contains(&query)
                    || a.name.to_lowercase().contains(&query))
        });
        let mut total = 0;
        let page = page.max(1);
        let skip = (page - 1) * PAGE_SIZE;
        let mut assets = Vec::with_capacity(PAGE_SIZE);
        for a in matching {
            if total >= skip && assets.len() < PAGE_SIZE {
                assets.push(a.clone());
            }
            total += 1;
        }
        AssetPage {
            assets,
            total,
            page,
            pages: total.div_ceil(PAGE_SIZE).max(1),
        }
    }

    /// Live assets the user may fetch a token from, by path.
    pub fn readable_assets(&self, user: &User) -> Vec<AssetSummary> {
        let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
        catalog
            .values()
            .filter(|a| a.state == "live" && read_allows(a.read.as_ref(), user))
            .cloned()
            .collect()
    }

    /// Purge every trashed asset; returns how many went.
    pub fn empty_trash(&self, actor: &str) -> Result<usize, AppError> {
        let trashed: Vec<String> = {
            let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
            catalog
                .values()
                .filter(|a| a.state == "trashed")
                .map(|a| a.id.clone())
                .collect()
        };
        let mut purged = 0;
        for id in trashed {
            match self.purge_asset(actor, &id) {
                Ok(()) => purged += 1,
                // Restored or purged by someone else meanwhile: nothing to do.
                Err(AppError::Conflict(_) | AppError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        self.audit.record(AuditEvent::admin(
            actor,
            "trash.empty",
            &format!("{purged} assets"),
        ));
        Ok(purged)
    }
}
