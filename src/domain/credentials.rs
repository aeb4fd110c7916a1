//! Credentials: server-side sessions and API keys, stored only as SHA-256 digests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{ApiKeyId, UserId, random_token};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "jas_session";

/// Every API key starts with this, so leaked keys are easy to recognise in scanners.
pub const API_KEY_PREFIX: &str = "jas_";

/// How many characters of a key are kept in clear for listing (`jas_` + 8).
pub const API_KEY_SHOWN_CHARS: usize = 12;

/// SHA-256 of a credential; what the store keeps instead of the credential.
pub type CredentialDigest = [u8; 32];

/// The digest of a session id or API key.
pub fn digest(credential: &str) -> CredentialDigest {
    Sha256::digest(credential.as_bytes()).into()
}

/// Constant-time comparison of two digests.
pub fn digests_equal(a: &CredentialDigest, b: &CredentialDigest) -> bool {
    a.ct_eq(b).into()
}

/// A new session id (256 random bits); only its digest is stored.
pub fn new_session_id() -> String {
    random_token::<32>()
}

/// A new API key: `jas_` + 256 random bits in base64url.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token::<32>())
}

/// A server-side session, keyed in the store by the digest of the cookie's id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The signed-in user.
    pub user_id: UserId,
    /// Sign-in time (absolute timeout).
    pub created_at: DateTime<Utc>,
    /// Last request (idle timeout); updated at most once a minute.
    pub last_seen: DateTime<Utc>,
    /// Token the JSON API requires in `X-CSRF-Token` when called with this session.
    pub csrf_token: String,
    /// The identity provider the session was opened through (absent: a password, or the
    /// trusted proxy): sign-out may continue there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl Session {
    /// Whether the session is still within both timeouts.
    pub fn is_current(&self, now: DateTime<Utc>, idle_seconds: u64, max_seconds: u64) -> bool {
        let idle = (now - self.last_seen).num_seconds();
        let age = (now - self.created_at).num_seconds();
        idle < idle_seconds as i64 && age < max_seconds as i64
    }
}

/// What an API key may do. A session (a person in a browser) may do all of it; a key only what
/// it was given at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// Fetch tokens as the key's user (the token URLs); the default for new keys.
    #[serde(rename = "tokens")]
    Tokens,
    /// Read the admin API (an administrator's key): lists, records, public keys, the audit trail.
    #[serde(rename = "admin:read")]
    AdminRead,
    /// Change through the admin API, and what hands out credentials or tokens of others
    /// (previews, exports).
    #[serde(rename = "admin:write")]
    AdminWrite,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 3] = [Scope::Tokens, Scope::AdminRead, Scope::AdminWrite];

    /// The name used in the API, the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tokens => "tokens",
            Scope::AdminRead => "admin:read",
            Scope::AdminWrite => "admin:write",
        }
    }

    /// The scope of that name.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`Scope`]s, written as a list of their names (`["tokens", "admin:read"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: sessions, and keys created before scopes existed.
    pub const ALL: Scopes = Scopes(0b111);
    /// What a new key gets when none are asked for.
    pub const DEFAULT: Scopes = Scopes(1);

    /// Whether the set holds `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in the set, in [`Scope::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Keys stored before scopes existed keep the power they had: every scope.
    fn legacy() -> Scopes {
        Scopes::ALL
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Scope>::deserialize(d)?.into_iter().collect())
    }
}

/// What a credential may do and until when: a key's scopes and expiry; a person signed in has
/// every scope and no end (their session's timeouts aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The scopes.
    pub scopes: Scopes,
    /// When it ends.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// A person's: everything.
    pub const PERSON: Grant = Grant {
        scopes: Scopes::ALL,
        expires_at: None,
    };
}

/// A stored API key (its digest, never the key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    /// Record id.
    pub id: ApiKeyId,
    /// Owner.
    pub user_id: UserId,
    /// The first characters of the key, for recognising it in lists.
    pub prefix: String,
    /// SHA-256 of the whole key.
    #[serde(with = "hex_digest")]
    pub digest: CredentialDigest,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set when revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
    /// What the key may do (absent in records from before scopes: every scope).
    #[serde(default = "Scopes::legacy")]
    pub scopes: Scopes,
    /// When the key stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key has expired at `now`.
    pub fn has_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        if s.len() != 64 || !s.is_ascii() {
            return Err(D::Error::custom("digest must be 64 hex characters"));
        }
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(D::Error::custom)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_256_random_bits_behind_a_recognisable_prefix() {
        let a = new_api_key();
        let b = new_api_key();
        assert!(a.starts_with("jas_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
        assert!(digests_equal(&digest(&a), &digest(&a)));
        assert!(!digests_equal(&digest(&a), &digest(&b)));
    }

    #[test]
    fn scopes_are_written_as_names_and_old_keys_keep_every_scope() {
        let scopes: Scopes = [Scope::AdminWrite, Scope::Tokens].into_iter().collect();
        assert_eq!(
            serde_json::to_string(&scopes).unwrap(),
            r#"["tokens","admin:write"]"#
        );
        assert!(!scopes.contains(Scope::AdminRead));
        let parsed: Scopes = serde_json::from_str(r#"["admin:read"]"#).unwrap();
        assert_eq!(parsed.iter().collect::<Vec<_>>(), [Scope::AdminRead]);
        assert!(serde_json::from_str::<Scopes>(r#"["admin"]"#).is_err());
        let old = r#"{"id":"k1","user_id":"u1","prefix":"jas_abcdefgh","digest":"0000000000000000000000000000000000000000000000000000000000000000","created_at":"2026-01-01T00:00:00Z","last_used_at":null,"revoked_at":null}"#;
        let old: ApiKey = serde_json::from_str(old).unwrap();
        assert_eq!(old.scopes, Scopes::ALL);
        assert!(!old.has_expired(Utc::now()));
    }

    #[test]
    fn a_session_expires_when_idle_or_old() {
        let now = Utc::now();
        let s = Session {
            user_id: UserId::generate(),
            created_at: now,
            last_seen: now,
            csrf_token: String::new(),
            via: None,
        };
        assert!(s.is_current(now, 60, 3600));
        assert!(!s.is_current(now + chrono::Duration::seconds(61), 60, 3600));
        let old = Session {
            last_seen: now + chrono::Duration::seconds(3600),
            ..s
        };
        assert!(!old.is_current(now + chrono::Duration::seconds(3601), 60, 3600));
    }
}
