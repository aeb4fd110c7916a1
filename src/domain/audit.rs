//! Audit events: what happened, who did it, to what, and how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One thing that happened: a token issued or refused, an administrative change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Username of who did it (`-` when unknown).
    pub actor: String,
    /// What: `token.issue`, `asset.create`, `asset.trash`, `user.disable`, `apikey.revoke` …
    pub action: String,
    /// What it was done to: an asset path, a username, a key prefix.
    pub target: String,
    /// `ok`, `forbidden`, `config_error`, `error`.
    pub outcome: String,
    /// The token's `jti`, for issued tokens that have one (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// More about it, e.g. whom a preview was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A successful administrative action.
    pub fn admin(actor: &str, action: &str, target: &str) -> Self {
        AuditEvent {
            at: Utc::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: "ok".to_owned(),
            jti: None,
            detail: None,
        }
    }
}
