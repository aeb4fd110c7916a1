//! The asset catalog: an in-memory summary of every asset for lists, search, trash and "my tokens".

use serde::Serialize;

use super::registry::AssetSummary;
use super::state::Service;
use crate::domain::asset::{Lifecycle, read_allows};
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::user::User;
use crate::error::AppError;
use crate::ids::AssetId;

/// Assets per page in lists.
pub const PAGE_SIZE: usize = 50;

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
        let catalog = self.registry.catalog();
        let matching = catalog.values().filter(|a| {
            (a.state == Lifecycle::Trashed) == trashed
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
        let catalog = self.registry.catalog();
        catalog
            .values()
            .filter(|a| a.state == Lifecycle::Live && read_allows(a.read.as_ref(), user))
            .cloned()
            .collect()
    }

    /// Why the asset at `path` cannot render for some users (a template that does not compile,
    /// or fails for a user with every attribute empty or the sample user), worded to follow
    /// "the stored template".
    pub fn template_problem(&self, path: &str) -> Option<String> {
        let catalog = self.registry.catalog();
        let a = catalog.get(path)?;
        match (&a.template_error, &a.template_warning) {
            (Some(e), _) => Some(format!("does not compile: {e}")),
            (None, Some(w)) => Some(w.to_string()),
            (None, None) => None,
        }
    }

    /// Purge every trashed asset; returns how many went.
    pub fn empty_trash(&self, actor: &str) -> Result<usize, AppError> {
        let trashed: Vec<AssetId> = {
            let catalog = self.registry.catalog();
            catalog
                .values()
                .filter(|a| a.state == Lifecycle::Trashed)
                .map(|a| a.id.clone())
                .collect()
        };
        let mut purged = 0;
        for id in trashed {
            match self.purge_asset(actor, &id, None) {
                Ok(()) => purged += 1,
                // Restored or purged by someone else meanwhile: nothing to do.
                Err(AppError::Conflict(_) | AppError::Stale { .. } | AppError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::TrashEmpty,
            &format!("{purged} assets"),
        ));
        Ok(purged)
    }
}
