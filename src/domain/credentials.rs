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
