//! What several asset pages share: times, the stored asset's facts, located errors, button forms.

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::asset::Lifecycle;
use crate::domain::preset::Preset;
use crate::service::{AssetView, Service};
use crate::ui::UiError;
use crate::ui::extract::WithCsrf;

/// What every asset page handler answers.
pub(super) type Page = Result<HttpResponse, UiError>;

/// A time as the pages show it: machine-readable, readable UTC text, and Unix seconds.
#[derive(Serialize)]
pub(super) struct When {
    iso: String,
    pub(super) text: String,
    unix: i64,
}

/// `t` as the pages show it.
pub(super) fn when(t: DateTime<Utc>) -> When {
    When {
        iso: t.to_rfc3339_opts(SecondsFormat::Secs, true),
        text: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        unix: t.timestamp(),
    }
}

/// A located error in a template: the message, and the line with a caret under the column.
#[derive(Serialize)]
pub(super) struct Located {
    line: usize,
    column: usize,
    message: String,
    source_line: String,
    caret: String,
}

/// Point at `line`:`column` of `source` (both from 1).
pub(super) fn locate(source: &str, line: usize, column: usize, message: String) -> Located {
    let text = source
        .split('\n')
        .nth(line.saturating_sub(1))
        .unwrap_or_default()
        .trim_end_matches('\r');
    // Keep tabs in the caret's indent so it lines up under tabbed text too.
    let caret: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .chain(std::iter::once('^'))
        .collect();
    Located {
        line,
        column,
        message,
        source_line: text.to_owned(),
        caret,
    }
}

/// One published key of an asset.
#[derive(Serialize)]
struct KeyRow {
    /// `active`, `next` or `retired`.
    status: String,
    kid: String,
    key_type: String,
    created_at: When,
    retired_at: Option<When>,
    published_until: Option<When>,
}

/// The next key of the keys panel.
#[derive(Serialize)]
struct NextKeyRow {
    kid: String,
    key_type: String,
    public_key_pem: String,
    /// The public JWK, indented.
    public_jwk: String,
    /// When it starts signing (`None` = by hand).
    switch_at: Option<When>,
}

/// What the edit form shows about the stored asset (never the secret itself).
#[derive(Serialize)]
pub(super) struct Stored {
    id: String,
    name: String,
    path: String,
    pub(super) live: bool,
    trashed_at: Option<When>,
    trashed_by: Option<String>,
    secret_bytes: usize,
    weak_secret: bool,
    secret_changed_at: When,
    algorithm: String,
    /// Signs with a key pair (not a secret).
    key_pair: bool,
    key_type: String,
    kid: Option<String>,
    public_key_pem: Option<String>,
    /// The public JWK, indented.
    public_jwk: Option<String>,
    /// Published keys, active first.
    keys: Vec<KeyRow>,
    /// The next key: published, not signing until activated (or its time comes).
    next_key: Option<NextKeyRow>,
    /// Where a consumer that pins one key keeps it (presets such as Matrix), for the two steps.
    pinned_key_place: Option<&'static str>,
    /// HMAC: when the scheduled next secret takes over.
    next_secret_at: Option<When>,
    /// HMAC: the kid tokens carry now, and the one that comes with the next secret.
    key_id: Option<String>,
    next_key_id: Option<String>,
    expiry_seconds: Option<u64>,
    created_at: When,
    created_by: String,
    updated_at: When,
    updated_by: String,
    version: u64,
}

impl From<&AssetView> for Stored {
    fn from(a: &AssetView) -> Stored {
        Stored {
            id: a.id.to_string(),
            name: a.name.clone(),
            path: a.path.clone(),
            live: a.state == Lifecycle::Live,
            trashed_at: a.trashed_at.map(when),
            trashed_by: a.trashed_by.clone(),
            secret_bytes: a.secret_bytes,
            weak_secret: a.weak_secret,
            secret_changed_at: when(a.secret_changed_at),
            algorithm: a.algorithm.clone(),
            key_pair: a.kid.is_some(),
            key_type: a.key_type.clone(),
            kid: a.kid.clone(),
            public_key_pem: a.public_key_pem.clone(),
            public_jwk: a
                .public_jwk
                .as_ref()
                .and_then(|j| serde_json::to_string_pretty(j).ok()),
            keys: a
                .keys
                .iter()
                .map(|k| KeyRow {
                    status: k.status.clone(),
                    kid: k.kid.clone(),
                    key_type: k.key_type.clone(),
                    created_at: when(k.created_at),
                    retired_at: k.retired_at.map(when),
                    published_until: k.published_until.map(when),
                })
                .collect(),
            next_key: a.next_key.as_ref().map(|k| NextKeyRow {
                kid: k.kid.clone(),
                key_type: k.key_type.clone(),
                public_key_pem: k.public_key_pem.clone(),
                public_jwk: serde_json::to_string_pretty(&k.public_jwk).unwrap_or_default(),
                switch_at: k.switch_at.map(when),
            }),
            pinned_key_place: a
                .preset
                .as_deref()
                .and_then(Preset::parse)
                .and_then(Preset::pinned_key_place),
            next_secret_at: a.next_secret_at.map(when),
            key_id: a.key_id.clone(),
            next_key_id: a.next_key_id.clone(),
            expiry_seconds: a.expiry_seconds,
            created_at: when(a.created_at),
            created_by: a.created_by.clone(),
            updated_at: when(a.updated_at),
            updated_by: a.updated_by.clone(),
            version: a.version,
        }
    }
}

/// Usernames and group names for the rule fields' suggestions.
pub(super) fn known_people(service: &Service) -> Result<(Vec<String>, Vec<String>), UiError> {
    Ok(service.rule_suggestions()?)
}

/// `scheme://host` of this server as the browser reached it (for the JWKS URLs).
pub(super) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// A form whose only field is the CSRF token (a bodiless post has an empty token).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
    pub(super) confirm: Option<String>,
}

impl WithCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn when_unreadable() -> Option<Self> {
        Some(Self::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caret_points_at_the_column() {
        let l = locate("{\n\t\"a\": %x%\n}", 2, 7, "bad".into());
        assert_eq!(l.source_line, "\t\"a\": %x%");
        assert_eq!(l.caret, "\t     ^");
    }
}
