//! What an administrator sends to create or replace an asset, before it is checked: the API's
//! JSON body, the CLI's file and the admin form all become an [`AssetInput`].

use serde::{Deserialize, Deserializer};

use crate::domain::asset::{AccessRule, DEFAULT_EXPIRY_SECONDS, RequestParam};
use crate::domain::delivery::Delivery;
use crate::secret::SecretString;

/// Input for creating or replacing an asset (`POST`/`PUT /api/v1/assets`, `asset create`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    /// Display name.
    pub name: String,
    /// Web path.
    pub path: String,
    /// `HS256` (default), `HS384`, `HS512`, `RS256`, `RS384`, `RS512`, `PS256`, `PS384`,
    /// `PS512`, `ES256`, `ES384`, `EdDSA`.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Asymmetric algorithms: a new key pair, generated or imported. Absent on create = generate
    /// the algorithm's natural key type; absent on edit = keep the keys.
    #[serde(default)]
    pub key: Option<KeyInput>,
    /// The secret as text (its UTF-8 bytes are the key). Absent on edit keeps the current one.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, write_only)]
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
    /// Query parameters the template may read as `%globals_get_<name>%`:
    /// `[{"name": "room", "pattern": "[a-z0-9-]{1,64}", "max_length": 64}]`. On edit, absent
    /// keeps them.
    #[serde(default)]
    pub request_params: Option<Vec<RequestParam>>,
}

/// A new key pair for an asymmetric asset: `{"generate": "RSA-3072"}` or `{"pem": "-----BEGIN …"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum KeyInput {
    /// Generate a key of this type (`RSA-2048`, `RSA-3072`, `RSA-4096`, `P-256`, `P-384`,
    /// `Ed25519`).
    Generate(String),
    /// Import this private key (PKCS#8 or PKCS#1 PEM, unencrypted).
    Pem(SecretString),
}

fn default_expiry() -> Option<u64> {
    Some(DEFAULT_EXPIRY_SECONDS)
}

fn explicit_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}
