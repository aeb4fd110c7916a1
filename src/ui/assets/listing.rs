//! The rows, badges and paging of the asset list and the trash.

use serde::{Deserialize, Serialize};

use super::common::{When, when};
use crate::domain::asset::Lifecycle;
use crate::service::{AssetPage, AssetSummary, Service};
use crate::signing::Algorithm;
use crate::ui;

fn page_url(base: &str, q: &str, page: usize) -> String {
    let mut url = base.to_owned();
    let mut sep = '?';
    if !q.is_empty() {
        url.push_str(&format!("{sep}q={}", ui::encode(q)));
        sep = '&';
    }
    if page > 1 {
        url.push_str(&format!("{sep}page={page}"));
    }
    url
}

/// A state badge of an asset.
#[derive(Serialize)]
struct Badge {
    class: &'static str,
    text: &'static str,
    title: String,
}

fn badges(a: &AssetSummary) -> Vec<Badge> {
    let mut out = Vec::new();
    if a.state == Lifecycle::Live {
        out.push(Badge {
            class: "live",
            text: "live",
            title: "its URL answers with tokens".into(),
        });
    } else {
        out.push(Badge {
            class: "trashed",
            text: "trashed",
            title: "its URL answers 404 until it is restored".into(),
        });
    }
    if a.algorithm != "HS256" {
        let hmac = Algorithm::parse(a.algorithm).is_none_or(Algorithm::is_hmac);
        out.push(Badge {
            class: "alg",
            text: a.algorithm,
            title: if hmac {
                format!("signed with {} and a shared secret", a.algorithm)
            } else {
                format!(
                    "signed with {} and a key pair; its public keys are in the JWKS",
                    a.algorithm
                )
            },
        });
    }
    if a.expiry_seconds.is_none() {
        out.push(Badge {
            class: "warn",
            text: "no expiry",
            title: "its tokens never expire".into(),
        });
    }
    if a.weak_secret {
        out.push(Badge {
            class: "warn",
            text: "weak secret",
            title: format!("the secret is shorter than {} needs", a.algorithm),
        });
    }
    if let Some(e) = a.template_error.as_ref().or(a.template_warning.as_ref()) {
        out.push(Badge {
            class: "bad",
            text: "template error",
            title: e.to_string(),
        });
    }
    if a.restricted {
        out.push(Badge {
            class: "",
            text: "restricted",
            title: "only some users and groups may fetch it".into(),
        });
    }
    out
}

/// One asset in a list.
#[derive(Serialize)]
pub(super) struct Row {
    id: String,
    name: String,
    pub(super) path: String,
    live: bool,
    algorithm: &'static str,
    badges: Vec<Badge>,
    updated_at: When,
    updated_by: String,
    trashed_at: Option<When>,
    trashed_by: Option<String>,
}

impl From<&AssetSummary> for Row {
    fn from(a: &AssetSummary) -> Row {
        Row {
            id: a.id.to_string(),
            name: a.name.clone(),
            path: a.path.clone(),
            live: a.state == Lifecycle::Live,
            algorithm: a.algorithm,
            badges: badges(a),
            updated_at: when(a.updated_at),
            updated_by: a.updated_by.clone(),
            trashed_at: a.trashed_at.map(when),
            trashed_by: a.trashed_by.clone(),
        }
    }
}

/// Paging links of a list.
#[derive(Serialize)]
pub(super) struct Pager {
    page: usize,
    pages: usize,
    total: usize,
    prev: Option<String>,
    next: Option<String>,
}

/// The paging links of page `p` of the list at `base` searched for `q`.
pub(super) fn pager(base: &str, q: &str, p: &AssetPage) -> Pager {
    Pager {
        page: p.page,
        pages: p.pages,
        total: p.total,
        prev: (p.page > 1).then(|| page_url(base, q, p.page - 1)),
        next: (p.page < p.pages).then(|| page_url(base, q, p.page + 1)),
    }
}

/// `?page=` read leniently: anything but a positive number is page 1.
pub(super) fn page_number(raw: Option<&str>) -> usize {
    raw.and_then(|p| p.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// A page of assets; a page past the end shows the last one.
pub(super) fn asset_page(service: &Service, trashed: bool, q: &str, page: usize) -> AssetPage {
    let p = service.asset_page(trashed, q, page);
    if p.page > p.pages {
        service.asset_page(trashed, q, p.pages)
    } else {
        p
    }
}

/// Query of the asset list and the trash.
#[derive(Deserialize)]
pub struct ListQuery {
    pub(super) q: Option<String>,
    pub(super) page: Option<String>,
    pub(super) done: Option<String>,
}
