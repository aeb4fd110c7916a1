//! The service layer: every operation of the JSON API, the admin UI, the CLI and the token path.

mod catalog;
mod debugger;
mod people;

pub use catalog::{AssetPage, AssetSummary};
pub use debugger::{DebugKey, Debugged};
pub use people::{SessionView, UserUpdate};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::asset::{
    AccessRule, Asset, AssetPath, AssetState, DEFAULT_EXPIRY_SECONDS, Delivery, MAX_CORS_ORIGINS,
    parse_origin,
};
use crate::audit::{AuditEvent, AuditLog};
use crate::auth::{
    API_KEY_PREFIX, API_KEY_SHOWN_CHARS, ApiKey, Session, digest, digests_equal, new_api_key,
    new_session_id,
};
use crate::delivery::DeliveryMode;
use crate::error::{AppError, FieldError};
use crate::ids::{ApiKeyId, AssetId, UserId, random_token};
use crate::keys::{KeyPair, KeyType};
use crate::keywords::MAX_TEMPLATE_BYTES;
use crate::presets::Preset;
use crate::secret::{Secret, SecretString};
use crate::signing::Algorithm;
use crate::store::cache::ReadCache;
use crate::store::{Store, StoreError};
use crate::token::{CompiledAsset, IssuedToken, TokenError};
use crate::user::{User, Username, validate_group_name, validate_password};

/// Longest accepted asset name.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted expiry: ten years.
pub const MAX_EXPIRY_SECONDS: u64 = 10 * 366 * 24 * 3600;
/// Last-seen and last-used times are written at most this often.
const TOUCH_INTERVAL_SECONDS: i64 = 60;
/// Compiled live assets kept in memory (each a few KiB); the rest are compiled on request.
const LIVE_ASSETS_CACHED: usize = 2048;
/// Sign-ins that may wait per password thread before more are refused (429) rather than queued.
const PASSWORD_QUEUE_PER_THREAD: usize = 128;

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Idle timeout.
    pub idle_seconds: u64,
    /// Absolute timeout.
    pub max_seconds: u64,
}

/// The one service object, built once at start and shared by every handler and the CLI.
pub struct Service {
    store: Arc<dyn Store>,
    audit: AuditLog,
    /// Compiled live assets by path, loaded on first request (bounded; see `live_asset`).
    live: ReadCache<String, CompiledAsset>,
    /// Every live asymmetric asset, compiled: the JWKS publishes their keys.
    published: RwLock<std::collections::BTreeMap<String, Arc<CompiledAsset>>>,
    catalog: RwLock<std::collections::BTreeMap<String, AssetSummary>>,
    admin_writes: Mutex<()>,
    sessions: SessionPolicy,
    passwords: crate::password::PasswordPool,
    login_failures: Mutex<HashMap<String, (u32, std::time::Instant)>>,
}

/// After this many failed sign-ins for one username within [`LOGIN_WINDOW`], sign-in for that
/// username is refused until the window has passed (whether or not the user exists).
pub const MAX_LOGIN_FAILURES: u32 = 10;
/// The window in which failed sign-ins are counted.
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Input for creating or replacing an asset (`POST`/`PUT /api/v1/assets`, `asset create`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    /// Display name.
    pub name: String,
    /// Web path.
    pub path: String,
    /// `HS256` (default), `HS384`, `HS512`, `RS256`, `RS384`, `RS512`, `PS256`, `ES256`,
    /// `ES384`, `EdDSA`.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Asymmetric algorithms: a new key pair, generated or imported. Absent on create = generate
    /// the algorithm's natural key type; absent on edit = keep the keys.
    #[serde(default)]
    pub key: Option<KeyInput>,
    /// The secret as text (its UTF-8 bytes are the key). Absent on edit keeps the current one.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Generate a random secret (64 characters, 384 bits) and return it once.
    #[serde(default)]
    pub generate_secret: bool,
    /// Accept a secret shorter than the hash size (supplied by a third party).
    #[serde(default)]
    pub accept_weak_secret: bool,
    /// Payload template source (may be empty with a `preset`, which fills it in).
    #[serde(default)]
    pub template: String,
    /// Token lifetime in seconds; absent = 600, `null` = no expiry.
    #[serde(default = "default_expiry", deserialize_with = "explicit_option")]
    pub expiry_seconds: Option<u64>,
    /// `iss` claim.
    #[serde(default)]
    pub issuer: Option<String>,
    /// `aud` claim.
    #[serde(default)]
    pub audience: Option<String>,
    /// Add `nbf`.
    #[serde(default)]
    pub not_before: bool,
    /// Add a random `jti`.
    #[serde(default)]
    pub jti: bool,
    /// Who may fetch; absent = any signed-in user.
    #[serde(default)]
    pub read: Option<AccessRule>,
    /// Who may edit.
    #[serde(default)]
    pub write: Option<AccessRule>,
    /// On edit: the version the change is based on.
    #[serde(default)]
    pub version: Option<u64>,
    /// A consumer preset (`matrix`, `realm`, `zendesk`, `metabase`, `jitsi`, `tableau`). On
    /// create it pre-fills what was left empty; its rules are checked at save and on every
    /// token. On edit, absent keeps the stored preset and `""` removes it.
    #[serde(default)]
    pub preset: Option<String>,
    /// HMAC only: a `kid` for the token header (a Tableau connected app's secret ID). On edit,
    /// absent keeps the stored one and `""` removes it.
    #[serde(default)]
    pub key_id: Option<String>,
    /// Delivery modes besides the raw token (`{"json": true}`). On edit, absent keeps them.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// Origins whose pages may fetch the token with credentials. On edit, absent keeps them.
    #[serde(default)]
    pub cors_origins: Option<Vec<String>>,
}

/// A new key pair for an asymmetric asset: `{"generate": "RSA-3072"}` or `{"pem": "-----BEGIN …"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum KeyInput {
    /// Generate a key of this type (`RSA-2048`, `RSA-3072`, `RSA-4096`, `P-256`, `P-384`,
    /// `Ed25519`).
    Generate(String),
    /// Import this private key (PKCS#8 or PKCS#1 PEM, unencrypted).
    Pem(SecretString),
}

/// Input of `POST /api/v1/assets/{id}/next-secret`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextSecretInput {
    /// The next secret as text.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Generate it (returned once).
    #[serde(default)]
    pub generate_secret: bool,
    /// Accept a secret shorter than the hash size.
    #[serde(default)]
    pub accept_weak_secret: bool,
    /// When tokens start being signed with it (RFC 3339).
    pub switch_at: String,
}

/// One key of an asset as listed (public facts only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyView {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Key type.
    pub key_type: String,
    /// Made or imported at.
    pub created_at: DateTime<Utc>,
    /// Replaced by a newer key at (`null` = active).
    pub retired_at: Option<DateTime<Utc>>,
    /// Published in JWKS until (`null` = while active, or until purge when tokens never expire).
    pub published_until: Option<DateTime<Utc>>,
}

fn default_expiry() -> Option<u64> {
    Some(DEFAULT_EXPIRY_SECONDS)
}

fn explicit_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}

/// An asset as shown to administrators: everything but the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetView {
    /// Record id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Web path.
    pub path: String,
    /// `live` or `trashed`.
    pub state: String,
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
    /// Published keys, active first.
    pub keys: Vec<KeyView>,
    /// HMAC: when the scheduled next secret takes over (`null` = none pending).
    pub next_secret_at: Option<DateTime<Utc>>,
    /// HMAC: the `kid` put in the token header (`null` = none).
    pub key_id: Option<String>,
    /// The consumer preset (`null` = none).
    pub preset: Option<String>,
    /// Delivery modes besides the raw token.
    pub delivery: Delivery,
    /// Origins whose pages may fetch the token with credentials.
    pub cors_origins: Vec<String>,
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
        let (state, trashed_at, trashed_by) = match &a.state {
            AssetState::Live => ("live", None, None),
            AssetState::Trashed { at, by } => ("trashed", Some(*at), Some(by.clone())),
        };
        AssetView {
            id: a.id.to_string(),
            name: a.name.clone(),
            path: a.path.to_string(),
            state: state.into(),
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
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                    published_until: a.published_until(k),
                })
                .collect(),
            next_secret_at: a.next_secret_at,
            key_id: a.key_id.clone(),
            preset: a.preset.map(|p| p.name().to_owned()),
            delivery: a.delivery.clone(),
            cors_origins: a.cors_origins.clone(),
            secret_bytes: a.secret.len(),
            weak_secret: a.secret.len() < a.algorithm.min_secret_bytes(),
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
#[derive(Debug, Serialize)]
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
struct BuiltAsset {
    asset: Asset,
    generated_secret: Option<String>,
    warnings: Vec<String>,
}

/// Input for creating a user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Sign-in name.
    pub username: String,
    /// Password; absent = the user can only use API keys.
    #[serde(default)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        }
    }
}

/// An API key as listed (never the key).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            id: k.id.to_string(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new API key: shown exactly once.
#[derive(Debug, Serialize)]
pub struct CreatedApiKey {
    /// The key to send as `Authorization: Bearer <key>`.
    pub key: String,
    /// Its listing.
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// What an admin preview shows.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// The token the user would receive.
    pub token: String,
    /// Decoded header.
    pub header: serde_json::Value,
    /// Decoded claims.
    pub claims: serde_json::Value,
    /// Things the administrator should know.
    pub warnings: Vec<String>,
}

/// A signed-in browser session.
#[derive(Debug)]
pub struct SignedIn {
    /// The session id for the cookie (only here, never stored).
    pub session_id: String,
    /// The user.
    pub user: User,
}

impl Service {
    /// Build the service over a store: load and compile every live asset, start the audit writer.
    pub fn new(
        store: Arc<dyn Store>,
        sessions: SessionPolicy,
        audit_retention: u64,
        max_password_checks: usize,
    ) -> Result<Service, StoreError> {
        let mut published = std::collections::BTreeMap::new();
        let mut catalog = std::collections::BTreeMap::new();
        for asset in store.assets()? {
            // Compiled once to summarise it (template errors show in the list); only assets with
            // published keys stay compiled, the others are compiled again on first request.
            let compiled = CompiledAsset::new(asset);
            catalog.insert(compiled.asset.path.to_string(), AssetSummary::of(&compiled));
            if compiled.asset.is_live() && !compiled.asset.algorithm.is_hmac() {
                published.insert(compiled.asset.path.to_string(), Arc::new(compiled));
            }
        }
        Ok(Service {
            audit: AuditLog::start(store.clone(), audit_retention)?,
            store,
            live: ReadCache::new(LIVE_ASSETS_CACHED),
            published: RwLock::new(published),
            catalog: RwLock::new(catalog),
            admin_writes: Mutex::new(()),
            sessions,
            passwords: crate::password::PasswordPool::start(
                max_password_checks.max(1),
                max_password_checks.max(1) * PASSWORD_QUEUE_PER_THREAD,
            )
            .map_err(|e| StoreError::Io(format!("cannot start the password threads: {e}")))?,
            login_failures: Mutex::new(HashMap::new()),
        })
    }

    /// The store (health checks).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Flush audit events and the store (shutdown).
    pub fn shutdown(&self) -> Result<(), StoreError> {
        self.passwords.shutdown();
        self.audit.shutdown();
        self.store.flush()
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin_writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bring the in-memory views (live assets by path, the catalog) in line with a stored
    /// asset; `old_path` when the path changed, `purged` when the record is gone.
    fn refresh(&self, asset: &Asset, old_path: Option<&AssetPath>, purged: bool) {
        let compiled = CompiledAsset::new(asset.clone());
        {
            let mut catalog = self.catalog.write().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = old_path {
                catalog.remove(old.as_str());
            }
            if purged {
                catalog.remove(asset.path.as_str());
            } else {
                catalog.insert(asset.path.to_string(), AssetSummary::of(&compiled));
            }
        }
        {
            let mut published = self.published.write().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = old_path {
                published.remove(old.as_str());
            }
            published.remove(asset.path.as_str());
            if asset.is_live() && !purged && !asset.algorithm.is_hmac() {
                published.insert(asset.path.to_string(), Arc::new(compiled));
            }
        }
        // After the store and the catalog: a request that loaded the old record meanwhile does
        // not keep it (see `ReadCache`).
        if let Some(old) = old_path {
            self.live.invalidate(old.as_str());
        }
        self.live.invalidate(asset.path.as_str());
    }

    // ---- the token path -------------------------------------------------------------------

    /// The live asset at a request path, exactly as requested (no decoding, no normalisation).
    ///
    /// Served from memory: the catalog knows every path, so an unknown one costs no store read;
    /// a live asset is read and compiled on its first request and kept (at most
    /// `LIVE_ASSETS_CACHED` of them) until it changes. Assets with published keys are already
    /// compiled for the JWKS and shared from there.
    pub fn live_asset(&self, request_path: &str) -> Result<Option<Arc<CompiledAsset>>, AppError> {
        let loaded = self.live.get_or_load(request_path, || {
            if let Some(c) = self
                .published
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(request_path)
            {
                return Ok(Some(c.clone()));
            }
            let id = {
                let catalog = self.catalog.read().unwrap_or_else(|e| e.into_inner());
                match catalog.get(request_path) {
                    Some(s) if s.state == "live" => AssetId::from_string(s.id.clone()),
                    _ => return Ok(None),
                }
            };
            Ok::<_, StoreError>(
                self.store
                    .asset(&id)?
                    .filter(|a| a.is_live() && a.path.as_str() == request_path)
                    .map(|a| Arc::new(CompiledAsset::new(a))),
            )
        });
        Ok(loaded?)
    }

    /// Authorize, render and sign a token for a signed-in user; records the outcome.
    pub fn issue_token(&self, asset: &CompiledAsset, user: &User) -> Result<IssuedToken, AppError> {
        self.issue_token_via(asset, user, DeliveryMode::Raw)
    }

    /// [`Service::issue_token`] for a delivery mode; a redirect or form post is named in the
    /// audit event's detail (never the token or the target URL).
    pub fn issue_token_via(
        &self,
        asset: &CompiledAsset,
        user: &User,
        mode: DeliveryMode,
    ) -> Result<IssuedToken, AppError> {
        let target = asset.asset.path.as_str();
        let detail = matches!(mode, DeliveryMode::Redirect | DeliveryMode::FormPost)
            .then(|| format!("delivery {}", mode.name()));
        let event = |outcome: &str, jti: Option<String>| AuditEvent {
            at: Utc::now(),
            actor: user.username.to_string(),
            action: "token.issue".into(),
            target: target.to_owned(),
            outcome: outcome.into(),
            jti,
            detail: detail.clone(),
        };
        if !asset.asset.can_read(user) {
            self.audit.record(event("forbidden", None));
            return Err(AppError::Forbidden(format!(
                "{} is not allowed by the read rule",
                user.username
            )));
        }
        match asset.issue(user, Utc::now(), None) {
            Ok(issued) => {
                self.audit.record(event("ok", issued.jti.clone()));
                Ok(issued)
            }
            Err(e) => {
                self.audit.record(event("config_error", None));
                Err(AppError::Config(e.to_string()))
            }
        }
    }

    // ---- authentication ---------------------------------------------------------------------

    /// The user behind an API key (`Authorization: Bearer …`).
    pub fn authenticate_api_key(&self, key: &str) -> Result<Arc<User>, AppError> {
        let denied = || AppError::Forbidden("unknown, revoked or malformed API key".into());
        if !key.starts_with(API_KEY_PREFIX) || key.len() > 128 {
            return Err(denied());
        }
        let d = digest(key);
        let record = self.store.api_key_by_digest(&d)?.ok_or_else(denied)?;
        if !digests_equal(&record.digest, &d) {
            return Err(denied());
        }
        let user = self.store.user(&record.user_id)?.ok_or_else(denied)?;
        if user.disabled {
            return Err(AppError::Forbidden(format!(
                "user {} is disabled",
                user.username
            )));
        }
        let now = Utc::now();
        if record
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOUCH_INTERVAL_SECONDS)
        {
            let mut touched = ApiKey::clone(&record);
            touched.last_used_at = Some(now);
            self.store.update_api_key(&touched)?;
        }
        Ok(user)
    }

    /// The user and session behind a session cookie value.
    pub fn authenticate_session(
        &self,
        session_id: &str,
    ) -> Result<(Arc<User>, Arc<Session>), AppError> {
        let denied = || AppError::Forbidden("no valid session".into());
        if session_id.is_empty() || session_id.len() > 128 {
            return Err(denied());
        }
        let d = digest(session_id);
        let session = self.store.session(&d)?.ok_or_else(denied)?;
        let now = Utc::now();
        if !session.is_current(now, self.sessions.idle_seconds, self.sessions.max_seconds) {
            self.store.remove_session(&d)?;
            return Err(AppError::Forbidden("session expired".into()));
        }
        let user = self.store.user(&session.user_id)?.ok_or_else(denied)?;
        if user.disabled {
            return Err(AppError::Forbidden(format!(
                "user {} is disabled",
                user.username
            )));
        }
        if (now - session.last_seen).num_seconds() >= TOUCH_INTERVAL_SECONDS {
            let mut touched = Session::clone(&session);
            touched.last_seen = now;
            self.store.put_session(&d, &touched)?;
        }
        Ok((user, session))
    }

    /// Check a username and password (on the blocking pool, a bounded number at once) and open a
    /// new session. Unknown user, wrong password and disabled user fail identically.
    pub async fn login(
        self: &Arc<Self>,
        username: &str,
        password: SecretString,
        previous_session: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        let throttle_key: String = username.to_ascii_lowercase().chars().take(64).collect();
        if let Some(retry) = self.login_throttled(&throttle_key) {
            return Err(AppError::Throttled(retry));
        }
        let user = match Username::parse(username) {
            Ok(name) => self.store.user_by_username(name.as_str())?,
            Err(_) => None,
        };
        let hash = user
            .as_ref()
            .filter(|u| !u.disabled)
            .and_then(|u| u.password_hash.clone());
        let ok = self
            .passwords
            .run(move || crate::user::verify_password(password.expose(), hash.as_deref()))
            .await
            .map_err(|e| match e {
                crate::password::PoolError::Busy => AppError::Throttled(1),
                crate::password::PoolError::Stopped => AppError::Unexpected(e.to_string()),
            })?;
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            _ => {
                self.note_login_failure(&throttle_key);
                self.audit.record(AuditEvent {
                    outcome: "forbidden".into(),
                    ..AuditEvent::admin(username, "session.login", username)
                });
                return Err(AppError::Forbidden("wrong username or password".into()));
            }
        };
        self.login_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&throttle_key);
        if let Some(old) = previous_session {
            self.store.remove_session(&digest(old))?;
        }
        let session_id = new_session_id();
        let now = Utc::now();
        let session = Session {
            user_id: user.id.clone(),
            created_at: now,
            last_seen: now,
            csrf_token: random_token::<32>(),
        };
        self.store.put_session(&digest(&session_id), &session)?;
        self.store.flush()?;
        self.audit.record(AuditEvent::admin(
            user.username.as_str(),
            "session.login",
            user.username.as_str(),
        ));
        Ok(SignedIn { session_id, user })
    }

    /// Seconds until sign-in for this (case-folded) username is allowed again, if it is throttled.
    fn login_throttled(&self, key: &str) -> Option<u64> {
        let failures = self
            .login_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(key)?;
        let elapsed = since.elapsed();
        (*count >= MAX_LOGIN_FAILURES && elapsed < LOGIN_WINDOW)
            .then(|| (LOGIN_WINDOW - elapsed).as_secs().max(1))
    }

    fn note_login_failure(&self, key: &str) {
        let mut failures = self
            .login_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if failures.len() > 100_000 {
            // Bound the memory a flood of made-up names can take: forget expired windows.
            failures.retain(|_, (_, since)| since.elapsed() < LOGIN_WINDOW);
        }
        let entry = failures
            .entry(key.to_owned())
            .or_insert((0, std::time::Instant::now()));
        if entry.1.elapsed() >= LOGIN_WINDOW {
            *entry = (0, std::time::Instant::now());
        }
        entry.0 += 1;
    }

    /// End a session.
    pub fn logout(&self, session_id: &str) -> Result<(), AppError> {
        let d = digest(session_id);
        if let Some(s) = self.store.session(&d)? {
            self.store.remove_session(&d)?;
            self.store.flush()?;
            if let Some(u) = self.store.user(&s.user_id)? {
                self.audit.record(AuditEvent::admin(
                    u.username.as_str(),
                    "session.logout",
                    u.username.as_str(),
                ));
            }
        }
        Ok(())
    }

    // ---- users ------------------------------------------------------------------------------

    /// Create a user (hashes the password: call from a blocking context).
    pub fn create_user(&self, actor: &str, input: UserInput) -> Result<UserView, AppError> {
        let username = Username::parse(&input.username).map_err(AppError::Invalid)?;
        let groups = people::clean_profile(&input.attributes, input.groups)?;
        let password_hash = match &input.password {
            Some(p) => {
                validate_password(p.expose()).map_err(AppError::Invalid)?;
                Some(crate::user::hash_password(p.expose()).map_err(AppError::Unexpected)?)
            }
            None => None,
        };
        let now = Utc::now();
        let user = User {
            id: UserId::generate(),
            username,
            password_hash,
            attributes: input.attributes,
            groups,
            admin: input.admin,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let _guard = self.lock_writes();
        self.store.insert_user(&user)?;
        self.store.flush()?;
        self.audit.record(AuditEvent::admin(
            actor,
            "user.create",
            user.username.as_str(),
        ));
        Ok(UserView::from(&user))
    }

    fn user_named(&self, username: &str) -> Result<User, AppError> {
        self.store
            .user_by_username(username)?
            .ok_or(AppError::NotFound)
    }

    /// A user by username.
    pub fn user(&self, username: &str) -> Result<UserView, AppError> {
        Ok(UserView::from(&self.user_named(username)?))
    }

    /// Every user.
    pub fn users(&self) -> Result<Vec<UserView>, AppError> {
        Ok(self.store.users()?.iter().map(UserView::from).collect())
    }

    /// One page of users in username order: those whose username starts with `prefix`, after
    /// `after`; `more` tells whether another page follows.
    pub fn users_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UserView>, bool), AppError> {
        let mut users = self.store.users_page(prefix, after, limit + 1)?;
        let more = users.len() > limit;
        users.truncate(limit);
        Ok((users.iter().map(UserView::from).collect(), more))
    }

    /// Set a new password (hashes: call from a blocking context); ends the user's sessions.
    pub fn set_password(
        &self,
        actor: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<(), AppError> {
        validate_password(password.expose()).map_err(AppError::Invalid)?;
        let hash = crate::user::hash_password(password.expose()).map_err(AppError::Unexpected)?;
        let _guard = self.lock_writes();
        let mut user = self.user_named(username)?;
        user.password_hash = Some(hash);
        user.updated_at = Utc::now();
        self.store.update_user(&user)?;
        self.store.remove_user_sessions(&user.id)?;
        self.store.flush()?;
        self.audit.record(AuditEvent::admin(
            actor,
            "user.password",
            user.username.as_str(),
        ));
        Ok(())
    }

    /// Disable or enable a user; disabling ends their sessions at once.
    pub fn set_disabled(
        &self,
        actor: &str,
        username: &str,
        disabled: bool,
    ) -> Result<UserView, AppError> {
        let _guard = self.lock_writes();
        let mut user = self.user_named(username)?;
        user.disabled = disabled;
        user.updated_at = Utc::now();
        self.store.update_user(&user)?;
        if disabled {
            self.store.remove_user_sessions(&user.id)?;
        }
        self.store.flush()?;
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.audit
            .record(AuditEvent::admin(actor, action, user.username.as_str()));
        Ok(UserView::from(&user))
    }

    /// Create an API key for a user; the key is in the answer and nowhere else.
    pub fn create_api_key(&self, actor: &str, username: &str) -> Result<CreatedApiKey, AppError> {
        let _guard = self.lock_writes();
        let user = self.user_named(username)?;
        let key = new_api_key();
        let record = ApiKey {
            id: ApiKeyId::generate(),
            user_id: user.id.clone(),
            prefix: key[..API_KEY_SHOWN_CHARS].to_owned(),
            digest: digest(&key),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.insert_api_key(&record)?;
        self.store.flush()?;
        self.audit.record(AuditEvent::admin(
            actor,
            "apikey.create",
            &format!("{} {}", user.username, record.prefix),
        ));
        Ok(CreatedApiKey {
            key,
            view: ApiKeyView::from(&record),
        })
    }

    /// A user's API keys.
    pub fn api_keys(&self, username: &str) -> Result<Vec<ApiKeyView>, AppError> {
        let user = self.user_named(username)?;
        Ok(self
            .store
            .api_keys(&user.id)?
            .iter()
            .map(ApiKeyView::from)
            .collect())
    }

    /// Revoke an API key of a user, by id or by its shown prefix; effective at once.
    pub fn revoke_api_key(
        &self,
        actor: &str,
        username: &str,
        id_or_prefix: &str,
    ) -> Result<ApiKeyView, AppError> {
        let _guard = self.lock_writes();
        let user = self.user_named(username)?;
        let keys = self.store.api_keys(&user.id)?;
        let key = keys
            .iter()
            .find(|k| k.id.as_str() == id_or_prefix || k.prefix == id_or_prefix)
            .ok_or(AppError::NotFound)?;
        let revoked = self.store.revoke_api_key(&key.id, Utc::now())?;
        self.store.flush()?;
        self.audit.record(AuditEvent::admin(
            actor,
            "apikey.revoke",
            &format!("{} {}", user.username, key.prefix),
        ));
        Ok(ApiKeyView::from(&revoked))
    }

    // ---- assets -----------------------------------------------------------------------------

    fn validate_rule(&self, field: &str, rule: AccessRule) -> Result<AccessRule, AppError> {
        let mut out = AccessRule::default();
        for u in rule.users {
            let name = Username::parse(&u).map_err(|e| AppError::invalid(field, e.message))?;
            if self.store.user_by_username(name.as_str())?.is_none() {
                return Err(AppError::invalid(field, format!("there is no user {name}")));
            }
            if !out.users.contains(&name.key()) {
                out.users.push(name.key());
            }
        }
        for g in rule.groups {
            validate_group_name(&g).map_err(|e| AppError::invalid(field, e.message))?;
            if !out.groups.contains(&g) {
                out.groups.push(g);
            }
        }
        Ok(out)
    }

    /// Validate input into an asset record; `existing` is the stored asset on edit.
    fn build_asset(
        &self,
        actor: &str,
        mut input: AssetInput,
        existing: Option<&Asset>,
    ) -> Result<BuiltAsset, AppError> {
        let preset = match input.preset.as_deref().map(str::trim) {
            None => existing.and_then(|a| a.preset),
            Some("") => None,
            Some(name) => Some(Preset::parse(name).ok_or_else(|| {
                AppError::invalid(
                    "preset",
                    format!(
                        "unknown preset {name:?}; use one of {}",
                        Preset::names_text()
                    ),
                )
            })?),
        };
        if existing.is_none()
            && let Some(p) = preset
        {
            p.apply(&mut input);
        }
        let input_key_id_absent = input.key_id.is_none();
        let name = input.name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(AppError::invalid(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters, without control characters"),
            ));
        }
        let path = AssetPath::parse(input.path.trim()).map_err(AppError::Invalid)?;
        let now = Utc::now();
        let settled = existing.cloned().map(|mut a| {
            a.settle(now);
            a
        });
        let existing = settled.as_ref();
        let algorithm = match input.algorithm.as_deref() {
            None | Some("") => existing.map(|a| a.algorithm).unwrap_or_default(),
            Some(s) => Algorithm::parse(s).ok_or_else(|| {
                AppError::invalid(
                    "algorithm",
                    format!("unknown algorithm {s:?}; use one of {}", algorithm_list()),
                )
            })?,
        };
        if input.template.len() > MAX_TEMPLATE_BYTES {
            return Err(AppError::invalid(
                "template",
                format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
            ));
        }
        let template = crate::keywords::PayloadTemplate::compile(&input.template).map_err(|e| {
            AppError::Invalid(FieldError::at("template", e.message, e.line, e.column))
        })?;
        if input.expiry_seconds == Some(0)
            || input.expiry_seconds.is_some_and(|e| e > MAX_EXPIRY_SECONDS)
        {
            return Err(AppError::invalid(
                "expiry_seconds",
                format!(
                    "must be between 1 and {MAX_EXPIRY_SECONDS} seconds, or null for no expiry"
                ),
            ));
        }
        let text_claim = |field: &str, v: Option<String>| -> Result<Option<String>, AppError> {
            match v.map(|s| s.trim().to_owned()) {
                Some(s) if s.is_empty() => Ok(None),
                Some(s) if s.len() > 1024 || s.chars().any(char::is_control) => {
                    Err(AppError::invalid(
                        field,
                        "must be at most 1024 characters, without control characters",
                    ))
                }
                other => Ok(other),
            }
        };
        let key_id = match text_claim("key_id", input.key_id)? {
            Some(k) if !algorithm.is_hmac() => {
                return Err(AppError::invalid(
                    "key_id",
                    format!(
                        "is for HMAC algorithms; {} tokens carry their key's thumbprint as kid ({k:?} not used)",
                        algorithm.name()
                    ),
                ));
            }
            Some(k) => Some(k),
            None if input_key_id_absent => existing
                .filter(|a| a.algorithm.is_hmac() && algorithm.is_hmac())
                .and_then(|a| a.key_id.clone()),
            None => None,
        };
        let delivery = match input.delivery {
            Some(d) => d.validated().map_err(AppError::Invalid)?,
            None => existing.map(|a| a.delivery.clone()).unwrap_or_default(),
        };
        let cors_origins = match input.cors_origins {
            None => existing.map(|a| a.cors_origins.clone()).unwrap_or_default(),
            Some(list) => {
                if list.len() > MAX_CORS_ORIGINS {
                    return Err(AppError::invalid(
                        "cors_origins",
                        format!("at most {MAX_CORS_ORIGINS} origins"),
                    ));
                }
                let mut out: Vec<String> = Vec::new();
                for o in list {
                    let o = parse_origin(o.trim()).map_err(AppError::Invalid)?;
                    if !out.contains(&o) {
                        out.push(o);
                    }
                }
                out
            }
        };
        let issuer = text_claim("issuer", input.issuer)?;
        let audience = text_claim("audience", input.audience)?;
        let read = input
            .read
            .map(|r| self.validate_rule("read", r))
            .transpose()?;
        let write = self.validate_rule("write", input.write.unwrap_or_default())?;

        let secret_given = input
            .secret
            .as_ref()
            .is_some_and(|s| !s.expose().is_empty());
        let mut keys = Vec::new();
        let mut next_secret = None;
        let mut next_secret_at = None;
        let (secret, secret_changed_at, generated, weak, weak_accepted) = if algorithm.is_hmac() {
            if input.key.is_some() {
                return Err(AppError::invalid(
                    "key",
                    format!(
                        "is for asymmetric algorithms; {} uses a shared secret",
                        algorithm.name()
                    ),
                ));
            }
            let existing = existing.filter(|a| a.algorithm.is_hmac());
            let secret_is_new = input.generate_secret || secret_given;
            let (secret, secret_changed_at, generated) = if input.generate_secret {
                if input.secret.is_some() {
                    return Err(AppError::invalid(
                        "secret",
                        "give a secret or ask for one to be generated, not both",
                    ));
                }
                let (secret, text) = generated_secret();
                (secret, now, Some(text))
            } else if let Some(s) = input.secret.as_ref().filter(|s| !s.expose().is_empty()) {
                (Secret::new(s.expose().as_bytes().to_vec()), now, None)
            } else if let Some(old) = existing {
                next_secret = old.next_secret.clone();
                next_secret_at = old.next_secret_at;
                (old.secret.clone(), old.secret_changed_at, None)
            } else {
                return Err(AppError::invalid(
                    "secret",
                    "is required (or set generate_secret to have one made)",
                ));
            };
            let weak = secret.len() < algorithm.min_secret_bytes();
            let weak_accepted = input.accept_weak_secret
                || (!secret_is_new && existing.is_some_and(|a| a.weak_secret_accepted));
            if weak && !weak_accepted {
                return Err(weak_secret_error("secret", secret.len(), algorithm));
            }
            (secret, secret_changed_at, generated, weak, weak_accepted)
        } else {
            if input.generate_secret || secret_given {
                return Err(AppError::invalid(
                    "secret",
                    format!(
                        "is for HMAC algorithms only; {} signs with a key pair (see key)",
                        algorithm.name()
                    ),
                ));
            }
            let existing = existing.filter(|a| !a.algorithm.is_hmac());
            keys = existing.map(|a| a.keys.clone()).unwrap_or_default();
            let new_key = match input.key {
                Some(KeyInput::Generate(name)) => {
                    let key_type = KeyType::parse(name.trim()).ok_or_else(|| {
                        AppError::invalid(
                            "key",
                            format!(
                                "unknown key type {name:?}; {} takes {}",
                                algorithm.name(),
                                algorithm.key_types_text()
                            ),
                        )
                    })?;
                    check_key_fits(algorithm, key_type)?;
                    Some(
                        KeyPair::generate(key_type, now)
                            .map_err(|e| AppError::Unexpected(e.to_string()))?,
                    )
                }
                Some(KeyInput::Pem(text)) => {
                    let pair = KeyPair::import_pem(text.expose(), now)
                        .map_err(|e| AppError::invalid("key", format!("the PEM key {e}")))?;
                    check_key_fits(algorithm, pair.key_type)?;
                    Some(pair)
                }
                None => match keys.last() {
                    Some(active) => {
                        check_key_fits(algorithm, active.key_type)?;
                        None
                    }
                    None => {
                        let key_type = algorithm.natural_key_type().unwrap_or(KeyType::Rsa2048);
                        Some(
                            KeyPair::generate(key_type, now)
                                .map_err(|e| AppError::Unexpected(e.to_string()))?,
                        )
                    }
                },
            };
            if let Some(pair) = new_key {
                if let Some(active) = keys.last_mut() {
                    active.retired_at = Some(now);
                }
                keys.push(pair);
            }
            let changed = existing.map(|a| a.secret_changed_at).unwrap_or(now);
            (Secret::new(Vec::new()), changed, None, false, false)
        };
        let asset = Asset {
            id: existing
                .map(|a| a.id.clone())
                .unwrap_or_else(AssetId::generate),
            name,
            path,
            state: existing
                .map(|a| a.state.clone())
                .unwrap_or(AssetState::Live),
            algorithm,
            secret,
            keys,
            next_secret,
            next_secret_at,
            key_id,
            preset,
            delivery,
            cors_origins,
            secret_changed_at,
            weak_secret_accepted: weak && weak_accepted,
            template: input.template,
            expiry_seconds: input.expiry_seconds,
            issuer,
            audience,
            not_before: input.not_before,
            jti: input.jti,
            read,
            write,
            created_at: existing.map(|a| a.created_at).unwrap_or(now),
            created_by: existing
                .map(|a| a.created_by.clone())
                .unwrap_or_else(|| actor.to_owned()),
            updated_at: now,
            updated_by: actor.to_owned(),
            version: existing.map(|a| a.version + 1).unwrap_or(1),
        };
        let warnings = match preset {
            Some(p) => p.check(&asset, &template).map_err(|e| {
                AppError::Invalid(FieldError::new(
                    e.field,
                    format!("{} (preset {p})", e.message),
                ))
            })?,
            None => Vec::new(),
        };
        Ok(BuiltAsset {
            asset,
            generated_secret: generated,
            warnings,
        })
    }

    /// Create an asset.
    pub fn create_asset(&self, actor: &str, input: AssetInput) -> Result<SavedAsset, AppError> {
        let BuiltAsset {
            asset,
            generated_secret,
            warnings,
        } = self.build_asset(actor, input, None)?;
        let _guard = self.lock_writes();
        self.store.insert_asset(&asset)?;
        self.store.flush()?;
        self.refresh(&asset, None, false);
        self.audit.record(AuditEvent::admin(
            actor,
            "asset.create",
            asset.path.as_str(),
        ));
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret,
            warnings,
        })
    }

    /// Replace an asset; `input.version` must be the stored version (else a stale-edit error
    /// naming who changed it).
    pub fn update_asset(
        &self,
        actor: &str,
        id: &str,
        input: AssetInput,
    ) -> Result<SavedAsset, AppError> {
        let _guard = self.lock_writes();
        let existing = self.asset_record(id)?;
        let Some(version) = input.version else {
            return Err(AppError::invalid(
                "version",
                "is required: send the version you edited",
            ));
        };
        if version != existing.version {
            return Err(stale(&existing));
        }
        let BuiltAsset {
            asset,
            generated_secret,
            warnings,
        } = self.build_asset(actor, input, Some(&existing))?;
        match self.store.replace_asset(&asset, version) {
            Err(StoreError::VersionMismatch) => return Err(stale(&self.asset_record(id)?)),
            other => other?,
        }
        self.store.flush()?;
        self.refresh(&asset, Some(&existing.path), false);
        self.audit.record(AuditEvent::admin(
            actor,
            "asset.update",
            asset.path.as_str(),
        ));
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret,
            warnings,
        })
    }

    fn asset_record(&self, id: &str) -> Result<Asset, AppError> {
        self.store
            .asset(&AssetId::from_string(id))?
            .ok_or(AppError::NotFound)
    }

    /// An asset by id.
    pub fn asset(&self, id: &str) -> Result<AssetView, AppError> {
        Ok(AssetView::from(&self.asset_record(id)?))
    }

    /// An asset by id, or by path when `id_or_path` starts with `/` (CLI).
    pub fn find_asset(&self, id_or_path: &str) -> Result<AssetView, AppError> {
        if id_or_path.starts_with('/') {
            let a = self
                .store
                .asset_by_path(id_or_path)?
                .ok_or(AppError::NotFound)?;
            Ok(AssetView::from(&a))
        } else {
            self.asset(id_or_path)
        }
    }

    /// Every asset, by path.
    pub fn assets(&self) -> Result<Vec<AssetView>, AppError> {
        let mut all: Vec<AssetView> = self.store.assets()?.iter().map(AssetView::from).collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }

    fn change_state(
        &self,
        actor: &str,
        id: &str,
        action: &str,
        trash: bool,
    ) -> Result<AssetView, AppError> {
        let (asset, ()) = self.modify_asset(actor, id, action, |asset, now| {
            match (&asset.state, trash) {
                (AssetState::Live, false) => {
                    return Err(AppError::Conflict("the asset is not in the trash".into()));
                }
                (AssetState::Trashed { .. }, true) => {
                    return Err(AppError::Conflict(
                        "the asset is already in the trash".into(),
                    ));
                }
                _ => {}
            }
            asset.state = if trash {
                AssetState::Trashed {
                    at: now,
                    by: actor.to_owned(),
                }
            } else {
                AssetState::Live
            };
            Ok(())
        })?;
        Ok(AssetView::from(&asset))
    }

    /// Move a live asset to the trash: its path answers 404 at once.
    pub fn trash_asset(&self, actor: &str, id: &str) -> Result<AssetView, AppError> {
        self.change_state(actor, id, "asset.trash", true)
    }

    /// Bring an asset back from the trash, same path and secret.
    pub fn restore_asset(&self, actor: &str, id: &str) -> Result<AssetView, AppError> {
        self.change_state(actor, id, "asset.restore", false)
    }

    /// Delete a trashed asset for good: record, secret and path index.
    pub fn purge_asset(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let _guard = self.lock_writes();
        let asset = self.asset_record(id)?;
        if asset.is_live() {
            return Err(AppError::Conflict(
                "only a trashed asset can be purged; trash it first".into(),
            ));
        }
        self.store.delete_asset(&asset.id)?;
        self.store.flush()?;
        self.refresh(&asset, None, true);
        self.audit
            .record(AuditEvent::admin(actor, "asset.purge", asset.path.as_str()));
        Ok(())
    }

    /// Apply `change` to the stored asset (settled at now), bump its version and save it.
    fn modify_asset<T>(
        &self,
        actor: &str,
        id: &str,
        action: &str,
        change: impl FnOnce(&mut Asset, DateTime<Utc>) -> Result<T, AppError>,
    ) -> Result<(Asset, T), AppError> {
        let _guard = self.lock_writes();
        let mut asset = self.asset_record(id)?;
        let version = asset.version;
        let now = Utc::now();
        asset.settle(now);
        let out = change(&mut asset, now)?;
        asset.version += 1;
        asset.updated_at = now;
        asset.updated_by = actor.to_owned();
        self.store
            .replace_asset(&asset, version)
            .map_err(|e| match e {
                StoreError::VersionMismatch => {
                    AppError::Conflict("the asset changed meanwhile; try again".into())
                }
                other => other.into(),
            })?;
        self.store.flush()?;
        self.refresh(&asset, None, false);
        self.audit
            .record(AuditEvent::admin(actor, action, asset.path.as_str()));
        Ok((asset, out))
    }

    /// Rotate an asymmetric asset's key: a new key of the same type becomes active, the
    /// previous one is retired and stays published until its tokens have expired. 409 for HMAC.
    pub fn rotate_key(&self, actor: &str, id: &str) -> Result<AssetView, AppError> {
        let (asset, ()) = self.modify_asset(actor, id, "asset.rotate", |a, now| {
            if a.algorithm.is_hmac() {
                return Err(AppError::Conflict(format!(
                    "{} assets have no key pair to rotate; schedule a next secret instead",
                    a.algorithm.name()
                )));
            }
            let key_type = a
                .active_key()
                .map(|k| k.key_type)
                .or_else(|| a.algorithm.natural_key_type())
                .unwrap_or(KeyType::Rsa2048);
            let pair = KeyPair::generate(key_type, now)
                .map_err(|e| AppError::Unexpected(e.to_string()))?;
            if let Some(active) = a.keys.last_mut() {
                active.retired_at = Some(now);
            }
            a.keys.push(pair);
            Ok(())
        })?;
        Ok(AssetView::from(&asset))
    }

    /// Schedule the next HMAC secret: tokens are signed with it from `switch_at` on (a time in
    /// the past switches at once). 409 for asymmetric assets.
    pub fn set_next_secret(
        &self,
        actor: &str,
        id: &str,
        input: NextSecretInput,
    ) -> Result<SavedAsset, AppError> {
        let switch_at = DateTime::parse_from_rfc3339(input.switch_at.trim())
            .map_err(|e| {
                AppError::invalid(
                    "switch_at",
                    format!("must be an RFC 3339 time such as 2026-05-01T12:00:00Z ({e})"),
                )
            })?
            .with_timezone(&Utc);
        let given = input
            .secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .filter(|s| !s.is_empty());
        let (secret, generated) = match (input.generate_secret, given) {
            (true, Some(_)) => {
                return Err(AppError::invalid(
                    "secret",
                    "give a secret or ask for one to be generated, not both",
                ));
            }
            (true, None) => {
                let (secret, text) = generated_secret();
                (secret, Some(text))
            }
            (false, Some(text)) => (Secret::new(text.into_bytes()), None),
            (false, None) => {
                return Err(AppError::invalid(
                    "secret",
                    "is required (or set generate_secret to have one made)",
                ));
            }
        };
        let (asset, ()) = self.modify_asset(actor, id, "asset.next_secret", |a, now| {
            if !a.algorithm.is_hmac() {
                return Err(AppError::Conflict(format!(
                    "{} assets sign with a key pair; rotate the key instead",
                    a.algorithm.name()
                )));
            }
            if secret.len() < a.algorithm.min_secret_bytes() && !input.accept_weak_secret {
                return Err(weak_secret_error("secret", secret.len(), a.algorithm));
            }
            a.next_secret = Some(secret);
            a.next_secret_at = Some(switch_at);
            if input.accept_weak_secret && secret_is_weak(a) {
                a.weak_secret_accepted = true;
            }
            a.settle(now);
            Ok(())
        })?;
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret: generated,
            warnings: Vec::new(),
        })
    }

    /// Cancel a pending secret switch (nothing happens when none is pending).
    pub fn cancel_next_secret(&self, actor: &str, id: &str) -> Result<AssetView, AppError> {
        let (asset, ()) = self.modify_asset(actor, id, "asset.next_secret_cancel", |a, _| {
            if !a.algorithm.is_hmac() {
                return Err(AppError::Conflict(format!(
                    "{} assets have no secret",
                    a.algorithm.name()
                )));
            }
            a.next_secret = None;
            a.next_secret_at = None;
            Ok(())
        })?;
        Ok(AssetView::from(&asset))
    }

    /// The active public key of an asymmetric asset, SPKI PEM (404 for HMAC).
    pub fn public_key_pem(&self, id: &str) -> Result<String, AppError> {
        let asset = self.asset_record(id)?;
        asset
            .active_key()
            .map(|k| k.public_key_pem.clone())
            .ok_or(AppError::NotFound)
    }

    /// `{"keys": […]}`: the published public keys of every live asymmetric asset at `now`.
    pub fn jwks(&self, now: DateTime<Utc>) -> serde_json::Value {
        let published = self.published.read().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<serde_json::Value> = published
            .values()
            .flat_map(|c| {
                c.asset
                    .published_keys(now)
                    .into_iter()
                    .map(|k| k.jwk(c.asset.algorithm))
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The published keys of the live asymmetric asset at `asset_path`; `None` when there is no
    /// such asset (missing, trashed or HMAC).
    pub fn asset_jwks(&self, asset_path: &str, now: DateTime<Utc>) -> Option<serde_json::Value> {
        let c = self
            .published
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(asset_path)
            .cloned()?;
        let keys: Vec<serde_json::Value> = c
            .asset
            .published_keys(now)
            .into_iter()
            .map(|k| k.jwk(c.asset.algorithm))
            .collect();
        Some(serde_json::json!({ "keys": keys }))
    }

    /// What the asset's preset warns about now (the `warnings` of its last save); empty without
    /// a preset. Not audited: it reads nothing a user sees in a token.
    pub fn preset_warnings(&self, id: &str) -> Result<Vec<String>, AppError> {
        let a = self.asset_record(id)?;
        let Some(preset) = a.preset else {
            return Ok(Vec::new());
        };
        let template = crate::keywords::PayloadTemplate::compile(&a.template).map_err(|e| {
            AppError::Invalid(FieldError::at("template", e.message, e.line, e.column))
        })?;
        Ok(match preset.check(&a, &template) {
            Ok(found) => found,
            Err(e) => vec![format!("preset {preset}: {}", e.message)],
        })
    }

    /// What `as_user` would receive from the asset now, with warnings; audited.
    pub fn preview(&self, actor: &str, id: &str, as_user: &str) -> Result<Preview, AppError> {
        let asset = self.asset_record(id)?;
        let user = self.user_named(as_user)?;
        let compiled = CompiledAsset::new(asset);
        let mut warnings = Vec::new();
        let a = &compiled.asset;
        if !a.is_live() {
            warnings.push("the asset is in the trash: its path answers 404".to_owned());
        }
        if a.expiry_seconds.is_none() {
            warnings.push(
                "tokens never expire (no exp claim); 5 to 15 minutes is recommended".to_owned(),
            );
        }
        let now = Utc::now();
        let secret = a.secret_at(now);
        if a.algorithm.is_hmac() && secret.len() < a.algorithm.min_secret_bytes() {
            warnings.push(format!(
                "the secret is {} bytes, shorter than the {} bytes {} needs (accepted as supplied by a third party)",
                secret.len(),
                a.algorithm.min_secret_bytes(),
                a.algorithm.name()
            ));
        }
        for claim in compiled.overridden_claims() {
            warnings.push(format!(
                "the template sets \"{claim}\", which the server overrides"
            ));
        }
        if let (Some(preset), Ok(template)) = (
            a.preset,
            crate::keywords::PayloadTemplate::compile(&a.template),
        ) {
            match preset.check(a, &template) {
                Ok(found) => warnings.extend(found),
                Err(e) => warnings.push(format!("preset {preset}: {e}")),
            }
        }
        if user.disabled {
            warnings.push(format!("{} is disabled and would get 403", user.username));
        } else if !a.can_read(&user) {
            warnings.push(format!(
                "{} is not allowed by the read rule and would get 403",
                user.username
            ));
        }
        self.audit.record(AuditEvent {
            detail: Some(format!("as {}", user.username)),
            ..AuditEvent::admin(actor, "asset.preview", a.path.as_str())
        });
        let issued = compiled.issue(&user, now, None).map_err(|e| match e {
            TokenError::Render(r) => {
                AppError::Render(FieldError::at("template", r.message, r.line, r.column))
            }
            other => AppError::Config(other.to_string()),
        })?;
        let header_b64 = issued.token.split('.').next().unwrap_or_default();
        let header = URL_SAFE_NO_PAD
            .decode(header_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        let claims = serde_json::from_str(&issued.claims_json)
            .map_err(|e| AppError::Unexpected(e.to_string()))?;
        Ok(Preview {
            token: issued.token,
            header,
            claims,
            warnings,
        })
    }

    /// Recent audit events, newest first (waits for queued events to be written).
    pub fn audit_events(
        &self,
        actor: Option<&str>,
        target: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AppError> {
        self.audit.flush();
        Ok(self
            .store
            .audit_events(actor, target, limit.clamp(1, 1000))?)
    }

    /// Create the `admin` user on the first start with an empty store; returns the generated
    /// password when none was given.
    pub fn bootstrap_admin(
        &self,
        password: Option<&SecretString>,
    ) -> Result<Option<String>, AppError> {
        if self.store.has_users()? {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.clone(), None),
            None => {
                let p = random_token::<18>();
                (SecretString::new(p.clone()), Some(p))
            }
        };
        self.create_user(
            "system",
            UserInput {
                username: "admin".into(),
                password: Some(password),
                admin: true,
                ..UserInput::default()
            },
        )?;
        Ok(generated)
    }
}

fn algorithm_list() -> String {
    let names: Vec<&str> = Algorithm::ALL.into_iter().map(Algorithm::name).collect();
    names.join(", ")
}

fn check_key_fits(algorithm: Algorithm, key_type: KeyType) -> Result<(), AppError> {
    if algorithm.accepts(key_type) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "key",
            format!(
                "is a {key_type} key, which cannot sign {}; {} takes {}",
                algorithm.name(),
                algorithm.name(),
                algorithm.key_types_text()
            ),
        ))
    }
}

/// A generated HMAC secret: consumers take the shared secret as text and use its bytes as the
/// key, so it is text too: 64 base64url characters carrying 384 random bits.
fn generated_secret() -> (Secret, String) {
    let text = random_token::<48>();
    (Secret::new(text.as_bytes().to_vec()), text)
}

fn weak_secret_error(field: &str, len: usize, algorithm: Algorithm) -> AppError {
    AppError::invalid(
        field,
        format!(
            "is {len} bytes; {} needs at least {} bytes (generate one, or set accept_weak_secret if a third party supplied it)",
            algorithm.name(),
            algorithm.min_secret_bytes()
        ),
    )
}

fn secret_is_weak(a: &Asset) -> bool {
    a.next_secret
        .as_ref()
        .is_some_and(|s| s.len() < a.algorithm.min_secret_bytes())
}

fn stale(current: &Asset) -> AppError {
    AppError::Stale {
        current: current.version,
        by: current.updated_by.clone(),
        at: current.updated_at.to_rfc3339(),
    }
}
