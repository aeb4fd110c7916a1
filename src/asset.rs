//! Assets: canonical web paths, access rules, and the stored asset record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::AssetId;
use crate::secret::Secret;
use crate::signing::Algorithm;
use crate::user::User;

/// Longest accepted asset path, in bytes.
pub const MAX_PATH_BYTES: usize = 255;

/// First path segments that belong to the server itself, compared without regard to case.
pub const RESERVED_PREFIXES: &[&str] = &[
    "admin",
    "api",
    "login",
    "logout",
    "static",
    "healthz",
    "metrics",
    ".well-known",
];

/// Last path segments reserved for sub-resources of an asset (its published keys).
pub const RESERVED_LAST_SEGMENTS: &[&str] = &["jwks.json"];

/// A canonical asset path: `/segment/segment…`, each segment of URL-unreserved ASCII
/// (`A-Z a-z 0-9 - . _ ~`), no `.`/`..`/empty segments, no trailing slash, at most 255 bytes, and
/// not under a reserved prefix. Because the form is canonical, a request path matches an asset
/// only byte for byte: percent-encoded or dot-segment variants never reach one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetPath(String);

impl AssetPath {
    /// Validate a path typed by an administrator.
    pub fn parse(s: &str) -> Result<AssetPath, FieldError> {
        let err = |m: &str| Err(FieldError::new("path", m));
        if !s.starts_with('/') {
            return err("must start with '/'");
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(FieldError::new(
                "path",
                format!("must be at most {MAX_PATH_BYTES} bytes long"),
            ));
        }
        if s == "/" {
            return err("must have at least one segment, e.g. /tokens/chat");
        }
        if s.ends_with('/') {
            return err("must not end with '/'");
        }
        let segments: Vec<&str> = s[1..].split('/').collect();
        for seg in &segments {
            if seg.is_empty() {
                return err("must not contain empty segments ('//')");
            }
            if *seg == "." || *seg == ".." {
                return err("must not contain '.' or '..' segments");
            }
            if let Some(c) = seg
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
            {
                return Err(FieldError::new(
                    "path",
                    format!(
                        "may contain only letters, digits, '-', '.', '_' and '~' between slashes (found {c:?})"
                    ),
                ));
            }
        }
        let first = segments[0].to_ascii_lowercase();
        if RESERVED_PREFIXES.contains(&first.as_str()) {
            return Err(FieldError::new(
                "path",
                format!("/{first} is reserved for the server itself"),
            ));
        }
        let last = segments[segments.len() - 1].to_ascii_lowercase();
        if RESERVED_LAST_SEGMENTS.contains(&last.as_str()) {
            return Err(FieldError::new(
                "path",
                format!("a path may not end in /{last} (reserved)"),
            ));
        }
        Ok(AssetPath(s.to_owned()))
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AssetPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Named users (by case-folded username) and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    /// Usernames (matched without regard to case).
    #[serde(default)]
    pub users: Vec<String>,
    /// Group names (matched exactly).
    #[serde(default)]
    pub groups: Vec<String>,
}

impl AccessRule {
    /// Whether the rule names the user or one of their groups.
    pub fn allows(&self, user: &User) -> bool {
        let key = user.username.key();
        self.users.iter().any(|u| u.eq_ignore_ascii_case(&key))
            || self.groups.iter().any(|g| user.in_group(g))
    }
}

/// Whether an asset is live or in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AssetState {
    /// Answers on its path.
    Live,
    /// In the trash: its path answers 404 until it is restored.
    Trashed {
        /// When it was trashed.
        at: DateTime<Utc>,
        /// Username of who trashed it.
        by: String,
    },
}

/// A stored asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Asset {
    /// Record id.
    pub id: AssetId,
    /// Display name (also the `asset_name` keyword).
    pub name: String,
    /// Web path the token is fetched from.
    pub path: AssetPath,
    /// Live or trashed.
    pub state: AssetState,
    /// Signature algorithm.
    pub algorithm: Algorithm,
    /// HMAC secret. Never returned by any read.
    pub secret: Secret,
    /// When the secret was last set.
    pub secret_changed_at: DateTime<Utc>,
    /// The administrator accepted a secret shorter than the hash size.
    pub weak_secret_accepted: bool,
    /// Payload template source (compiled when loaded).
    pub template: String,
    /// Token lifetime; `None` only when explicitly chosen.
    pub expiry_seconds: Option<u64>,
    /// `iss` claim, when set.
    pub issuer: Option<String>,
    /// `aud` claim, when set.
    pub audience: Option<String>,
    /// Add `nbf` (issue time minus [`NBF_SKEW_SECONDS`]).
    pub not_before: bool,
    /// Add a random `jti` (128 bits).
    pub jti: bool,
    /// Who may fetch tokens; `None` = any signed-in user.
    pub read: Option<AccessRule>,
    /// Who may edit (and gets `asset_has_write_access` = 1); administrators always.
    pub write: AccessRule,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Username of the creator.
    pub created_by: String,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
    /// Username of the last editor.
    pub updated_by: String,
    /// Incremented on every change; edits must name the version they are based on.
    pub version: u64,
}

/// `nbf` is set this many seconds before `iat`, so consumers with a slightly slow clock accept it.
pub const NBF_SKEW_SECONDS: i64 = 30;

/// Default expiry for a new asset.
pub const DEFAULT_EXPIRY_SECONDS: u64 = 600;

impl Asset {
    /// Whether the asset answers on its path.
    pub fn is_live(&self) -> bool {
        self.state == AssetState::Live
    }

    /// Whether the user may fetch a token.
    pub fn can_read(&self, user: &User) -> bool {
        user.admin || self.read.as_ref().is_none_or(|rule| rule.allows(user))
    }

    /// Whether the user may edit the asset (`asset_has_write_access`).
    pub fn can_write(&self, user: &User) -> bool {
        user.admin || self.write.allows(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_are_accepted() {
        for p in [
            "/tokens/chat",
            "/a",
            "/A-b_c.d~e/x1",
            "/administrator",
            "/x/admin",
        ] {
            assert!(AssetPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn non_canonical_and_reserved_paths_are_refused() {
        for p in [
            "",
            "tokens",
            "/",
            "/a/",
            "//a",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/..",
            "/a b",
            "/a%2Fb",
            "/a?b",
            "/ä",
            "/admin",
            "/ADMIN/x",
            "/Api/v2",
            "/login",
            "/logout/x",
            "/static/app.js",
            "/healthz",
            "/Metrics",
            "/.well-known/jwks.json",
            "/a/jwks.json",
            "/a/JWKS.JSON",
        ] {
            assert!(AssetPath::parse(p).is_err(), "{p:?} should be refused");
        }
        assert!(AssetPath::parse(&format!("/{}", "a".repeat(255))).is_err());
    }
}
