//! What the service takes in and hands out: input types and the views of records (never a
//! secret, a password hash or a credential digest).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::asset::{AccessRule, Asset, Delivery, Lifecycle};
use crate::domain::credentials::{ApiKey, Grant, Scope, Scopes};
use crate::domain::user::User;
use crate::ids::AssetId;
use crate::secret::SecretString;

/// Input of `POST /api/v1/assets/{id}/next-secret`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextSecretInput {
    /// The next secret as text.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub secret: Option<SecretString>,
    /// Generate it (returned once).
    #[serde(default)]
    pub generate_secret: bool,
    /// Accept a secret shorter than the hash size.
    #[serde(default)]
    pub accept_weak_secret: bool,
    /// When tokens start being signed with it (RFC 3339).
    pub switch_at: String,
    /// The `kid` tokens carry from the switch on (e.g. the consumer's id of the next secret);
    /// absent or empty keeps the asset's `key_id`.
    #[serde(default)]
    pub key_id: Option<String>,
}

/// One key of an asset as listed (public facts only).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Key type.
    pub key_type: String,
    /// `active` (signs), `next` (published, signs once activated) or `retired` (published
    /// until its tokens have expired).
    pub status: String,
    /// Made or imported at.
    pub created_at: DateTime<Utc>,
    /// Replaced by a newer key at (`null` = active or next).
    pub retired_at: Option<DateTime<Utc>>,
    /// Published in JWKS until (`null` = while active, or until purge when tokens never expire).
    pub published_until: Option<DateTime<Utc>>,
}

/// The next key of an asymmetric asset: published, not signing until activated.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextKeyView {
    /// RFC 7638 thumbprint (the `kid` its tokens will carry).
    pub kid: String,
    /// Key type.
    pub key_type: String,
    /// The public key, SPKI PEM: what a consumer that pins one key is given before activation.
    pub public_key_pem: String,
    /// The public JWK.
    pub public_jwk: serde_json::Value,
    /// When it starts signing (`null` = when an administrator activates it).
    pub switch_at: Option<DateTime<Utc>>,
    /// Made or imported at.
    pub created_at: DateTime<Utc>,
}

/// What `POST /api/v1/assets/{id}/next-key` takes.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextKeyInput {
    /// `{"generate": "P-256"}` or `{"pem": "..."}`; absent = a new key of the active key's type.
    #[serde(default)]
    pub key: Option<crate::domain::asset_input::KeyInput>,
    /// When it starts signing (RFC 3339); absent = when an administrator activates it.
    #[serde(default)]
    pub switch_at: Option<String>,
}

/// An asset as shown to administrators: everything but the secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssetView {
    /// Record id.
    #[schema(value_type = String)]
    pub id: AssetId,
    /// Display name.
    pub name: String,
    /// Web path.
    pub path: String,
    /// Live or trashed (`live`, `trashed`).
    pub state: Lifecycle,
    /// When trashed.
    pub trashed_at: Option<DateTime<Utc>>,
    /// Who trashed it.
    pub trashed_by: Option<String>,
    /// Algorithm name.
    pub algorithm: String,
    /// `HMAC`, or the active key's type (`RSA-2048` …).
    pub key_type: String,
    /// The active key's `kid` (`null` for HMAC).
    pub kid: Option<String>,
    /// The active public key, SPKI PEM (`null` for HMAC).
    pub public_key_pem: Option<String>,
    /// The active public JWK (`null` for HMAC).
    pub public_jwk: Option<serde_json::Value>,
    /// Published keys: the active one first, then the next key (if any), then retired ones.
    pub keys: Vec<KeyView>,
    /// The next key, published but not signing yet (`null` = none).
    pub next_key: Option<NextKeyView>,
    /// HMAC: when the scheduled next secret takes over (`null` = none pending).
    pub next_secret_at: Option<DateTime<Utc>>,
    /// HMAC: the `kid` that comes with the scheduled next secret (`null` = it keeps `key_id`).
    pub next_key_id: Option<String>,
    /// HMAC: the `kid` put in the token header (`null` = none).
    pub key_id: Option<String>,
    /// The consumer preset (`null` = none).
    pub preset: Option<String>,
    /// Delivery modes besides the raw token.
    pub delivery: Delivery,
    /// Origins whose pages may fetch the token with credentials.
    pub cors_origins: Vec<String>,
    /// Query parameters the template reads (`%globals_get_<name>%`), with their patterns.
    pub request_params: Vec<crate::domain::asset::RequestParam>,
    /// Length of the secret in bytes (never the secret).
    pub secret_bytes: usize,
    /// Whether the secret is shorter than the algorithm's hash.
    pub weak_secret: bool,
    /// When the secret was last set.
    pub secret_changed_at: DateTime<Utc>,
    /// Template source.
    pub template: String,
    /// Token lifetime, `null` = none.
    pub expiry_seconds: Option<u64>,
    /// `iss`.
    pub issuer: Option<String>,
    /// `aud`.
    pub audience: Option<String>,
    /// Whether `nbf` is added.
    pub not_before: bool,
    /// Whether `jti` is added.
    pub jti: bool,
    /// Read rule (`null` = any signed-in user).
    pub read: Option<AccessRule>,
    /// Write rule.
    pub write: AccessRule,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Created by.
    pub created_by: String,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
    /// Updated by.
    pub updated_by: String,
    /// Version for optimistic concurrency.
    pub version: u64,
}

impl From<&Asset> for AssetView {
    fn from(a: &Asset) -> Self {
        AssetView::at(a, Utc::now())
    }
}

impl AssetView {
    /// The view of an asset as it stands at `now` (a passed secret switch has happened, keys
    /// no longer published are gone).
    pub fn at(a: &Asset, now: DateTime<Utc>) -> Self {
        let mut settled = a.clone();
        settled.settle(now);
        let a = &settled;
        let active = a.active_key();
        let (state, trashed_at, trashed_by) = a.state.lifecycle();
        AssetView {
            id: a.id.clone(),
            name: a.name.clone(),
            path: a.path.to_string(),
            state,
            trashed_at,
            trashed_by,
            algorithm: a.algorithm.name().into(),
            key_type: active
                .map(|k| k.key_type.name())
                .unwrap_or("HMAC")
                .to_owned(),
            kid: active.map(|k| k.kid.clone()),
            public_key_pem: active.map(|k| k.public_key_pem.clone()),
            public_jwk: active.map(|k| k.jwk(a.algorithm)),
            keys: a
                .published_keys(now)
                .into_iter()
                .map(|k| KeyView {
                    kid: k.kid.clone(),
                    key_type: k.key_type.name().to_owned(),
                    status: if a.next_key.as_ref().is_some_and(|n| n.kid == k.kid) {
                        "next"
                    } else if k.retired_at.is_some() {
                        "retired"
                    } else {
                        "active"
                    }
                    .to_owned(),
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                    published_until: a.published_until(k),
                })
                .collect(),
            next_key: a
                .next_key
                .as_ref()
                .filter(|_| !a.algorithm.is_hmac())
                .map(|k| NextKeyView {
                    kid: k.kid.clone(),
                    key_type: k.key_type.name().to_owned(),
                    public_key_pem: k.public_key_pem.clone(),
                    public_jwk: k.jwk(a.algorithm),
                    switch_at: a.next_key_at,
                    created_at: k.created_at,
                }),
            next_secret_at: a.next_secret_at,
            next_key_id: a.next_key_id.clone(),
            key_id: a.key_id.clone(),
            preset: a.preset.map(|p| p.name().to_owned()),
            delivery: a.delivery.clone(),
            cors_origins: a.cors_origins.clone(),
            request_params: a.request_params.clone(),
            secret_bytes: a.secret.len(),
            weak_secret: a.has_weak_secret(),
            secret_changed_at: a.secret_changed_at,
            template: a.template.clone(),
            expiry_seconds: a.expiry_seconds,
            issuer: a.issuer.clone(),
            audience: a.audience.clone(),
            not_before: a.not_before,
            jti: a.jti,
            read: a.read.clone(),
            write: a.write.clone(),
            created_at: a.created_at,
            created_by: a.created_by.clone(),
            updated_at: a.updated_at,
            updated_by: a.updated_by.clone(),
            version: a.version,
        }
    }
}

/// The result of saving an asset: the view, plus a generated secret exactly once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedAsset {
    /// The asset.
    #[serde(flatten)]
    pub asset: AssetView,
    /// Only when `generate_secret` was asked for: the secret text, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_secret: Option<String>,
    /// What the consumer preset's rules warn about (saved anyway).
    pub warnings: Vec<String>,
}

/// An asset record built from input, before it is stored.
pub(super) struct BuiltAsset {
    pub(super) asset: Asset,
    pub(super) generated_secret: Option<String>,
    pub(super) warnings: Vec<String>,
}

/// Input for creating a user.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Sign-in name.
    pub username: String,
    /// Password; absent = the user can only use API keys.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub password: Option<SecretString>,
    /// Administrator.
    #[serde(default)]
    pub admin: bool,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A user as shown to administrators (no password hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Administrator.
    pub admin: bool,
    /// Disabled.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The record's version: send it back with a change (or as `If-Match`).
    pub version: u64,
    /// Where the account comes from: `local`, or an identity provider's id (`proxy` for the
    /// trusted proxy).
    pub source: String,
    /// For an upstream account, whether its first sign-in has linked it to the person's identity
    /// (an account an administrator linked waits for that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_subject: Option<String>,
}

impl UserView {
    /// "First Last" from the name attributes (either may be missing; empty when both are).
    pub fn display_name(&self) -> String {
        let attr = |name: &str| self.attributes.get(name).map_or("", String::as_str);
        format!("{} {}", attr("first_name"), attr("last_name"))
            .trim()
            .to_owned()
    }
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.to_string(),
            username: u.username.to_string(),
            attributes: u.attributes.clone(),
            groups: u.groups.clone(),
            admin: u.admin,
            disabled: u.disabled,
            has_password: u.password_hash.is_some(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            version: u.version,
            source: u
                .upstream
                .as_ref()
                .map_or_else(|| "local".to_owned(), |l| l.provider.clone()),
            upstream_subject: u
                .upstream
                .as_ref()
                .filter(|l| !l.is_pending())
                .map(|l| l.subject.clone()),
        }
    }
}

/// An API key as listed (never the key).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    /// Id (used to revoke).
    pub id: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
    /// What the key may do.
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Scopes,
    /// When it stops working (`null`: never).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Input for a new API key; an empty body gives the default (`tokens`, no expiry).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// Scope names: `tokens`, `admin:read`, `admin:write` (default `["tokens"]`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Scope>>)]
    pub scopes: Option<Vec<String>>,
    /// When the key stops working (RFC 3339, in the future); absent = never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// What the credential asking for the key may do: the new key may do no more, and ends no
    /// later (absent when it ends, it ends then). Set by the server, never read from a body.
    #[serde(skip)]
    #[schema(ignore)]
    pub within: Option<Grant>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            id: k.id.to_string(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            scopes: k.scopes,
            expires_at: k.expires_at,
        }
    }
}

/// A new API key: shown exactly once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key to send as `Authorization: Bearer <key>`.
    pub key: String,
    /// Its listing.
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// What an admin preview shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// The token the user would receive (none when they would be refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Decoded header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<serde_json::Value>,
    /// Decoded claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<serde_json::Value>,
    /// Things the administrator should know.
    pub warnings: Vec<String>,
    /// Why the user would get 403 instead of a token; `None` when they may fetch one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A signed-in browser session.
#[derive(Debug)]
pub struct SignedIn {
    /// The session id for the cookie (only here, never stored).
    pub session_id: String,
    /// The user.
    pub user: User,
}
