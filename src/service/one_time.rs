//! Values shown once: a generated secret, a new API key. The form post that makes one answers
//! with a redirect (so a reload or Back never repeats the post) and hands the value to the page
//! that shows it in a sealed envelope: sealed under a key derived from the master key (the same
//! on every instance), bound to the session's CSRF token (useless in another session), and
//! valid for a few minutes. The page opens it once; the web floor makes the browser drop it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Service;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::store::sealing::SealingKey;

/// How long the envelope can be opened after the post that made it.
pub const ONE_TIME_SECONDS: i64 = 300;

/// Longest envelope handed out (it travels in a cookie; browsers keep 4096 bytes per cookie).
const MAX_ENVELOPE_CHARS: usize = 3600;

/// A value to show once, with what its page says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OneTime {
    /// A generated HMAC secret of asset `asset`: at its creation (`created`), at a save, or as
    /// its scheduled next secret (`next_at`, Unix seconds).
    Secret {
        asset: AssetId,
        secret: String,
        created: bool,
        next_at: Option<i64>,
        warnings: Vec<String>,
    },
    /// A new API key of `username`.
    ApiKey {
        username: String,
        key: String,
        prefix: String,
        created_at: i64,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    at: i64,
    value: OneTime,
}

/// The sealing key of envelopes, derived from the store's export key.
pub(super) fn envelope_key(export: &SealingKey) -> SealingKey {
    export.derive(b"jwt-asset-server one-time values")
}

/// What an envelope is bound to: the session, through its CSRF token (never stored in clear).
fn context(csrf: &str) -> Vec<u8> {
    let mut c = b"one-time value for session ".to_vec();
    c.extend_from_slice(&Sha256::digest(csrf.as_bytes()));
    c
}

/// Seal `value` made at `at` (Unix seconds) for the session whose CSRF token is `csrf`.
fn seal(key: &SealingKey, csrf: &str, at: i64, value: &OneTime) -> Result<String, AppError> {
    let plain = serde_json::to_vec(&Envelope {
        at,
        value: value.clone(),
    })
    .map_err(|e| AppError::Unexpected(format!("cannot encode a one-time value: {e}")))?;
    let sealed = key
        .seal(&context(csrf), &plain)
        .map_err(|e| AppError::Unexpected(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// Open an envelope of the session whose CSRF token is `csrf`, at `now`.
fn open(key: &SealingKey, csrf: &str, now: i64, sealed: &str) -> Option<OneTime> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let plain = key.open(&context(csrf), &bytes)?;
    let envelope: Envelope = serde_json::from_slice(&plain).ok()?;
    (0..=ONE_TIME_SECONDS)
        .contains(&(now - envelope.at))
        .then_some(envelope.value)
}

impl Service {
    /// Seal `value` for the session whose CSRF token is `csrf`. Preset warnings that would make
    /// the envelope too long for a cookie are left out (the asset's page lists them anyway).
    pub fn seal_one_time(&self, csrf: &str, mut value: OneTime) -> Result<String, AppError> {
        loop {
            let text = seal(&self.one_time_key, csrf, Utc::now().timestamp(), &value)?;
            if text.len() <= MAX_ENVELOPE_CHARS {
                return Ok(text);
            }
            match &mut value {
                OneTime::Secret { warnings, .. } if !warnings.is_empty() => {
                    warnings.pop();
                }
                _ => {
                    return Err(AppError::Unexpected(
                        "a one-time value does not fit in its envelope".into(),
                    ));
                }
            }
        }
    }

    /// Open an envelope of this session: `None` when it was made for another session, is
    /// older than [`ONE_TIME_SECONDS`], or is not one of ours.
    pub fn open_one_time(&self, csrf: &str, sealed: &str) -> Option<OneTime> {
        open(&self.one_time_key, csrf, Utc::now().timestamp(), sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        envelope_key(&SealingKey::from_array([7; 32]))
    }

    #[test]
    fn an_envelope_opens_only_in_its_session_with_its_key_and_for_five_minutes() {
        let value = OneTime::ApiKey {
            username: "alice".into(),
            key: "jas_secretkey".into(),
            prefix: "jas_sec".into(),
            created_at: 1,
        };
        let k = key();
        let sealed = seal(&k, "csrf-a", 1_000, &value).unwrap();
        assert!(!sealed.contains("jas_secretkey"));
        assert_eq!(open(&k, "csrf-a", 1_000, &sealed), Some(value.clone()));
        assert_eq!(open(&k, "csrf-a", 1_300, &sealed), Some(value));
        assert_eq!(open(&k, "csrf-a", 1_301, &sealed), None, "expired");
        assert_eq!(open(&k, "csrf-a", 999, &sealed), None, "from the future");
        assert_eq!(open(&k, "csrf-b", 1_000, &sealed), None, "another session");
        let other = envelope_key(&SealingKey::from_array([8; 32]));
        assert_eq!(open(&other, "csrf-a", 1_000, &sealed), None, "another key");
        let mut bent = sealed.into_bytes();
        bent[40] ^= 1;
        let bent = String::from_utf8(bent).unwrap();
        assert_eq!(open(&k, "csrf-a", 1_000, &bent), None, "changed bytes");
    }
}
