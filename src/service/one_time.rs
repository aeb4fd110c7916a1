//! Sealed envelopes the browser carries. Values shown once: a generated secret, a new API key. The form post that makes one answers
//! with a redirect (so a reload or Back never repeats the post) and hands the value to the page
//! that shows it in a sealed envelope: sealed under a key derived from the master key (the same
//! on every instance), bound to the session's CSRF token (useless in another session), and
//! valid for a few minutes. The page opens it once; the web floor makes the browser drop it.
//! Unsaved changes of a form posted after the session ended travel the same way through the
//! sign-in page, bound to the form's URL, so signing in again brings them back.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::state::Service;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::store::sealing::SealingKey;

/// How long the envelope can be opened after the post that made it.
pub const ONE_TIME_SECONDS: i64 = 300;

/// How long unsaved changes carried across a sign-in can be restored.
pub const DRAFT_SECONDS: i64 = 12 * 3600;

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
struct Envelope<T> {
    at: i64,
    value: T,
}

/// What a one-time value is bound to: the session, through its CSRF token (never in clear).
fn context(csrf: &str) -> Vec<u8> {
    let mut c = b"one-time value for session ".to_vec();
    c.extend_from_slice(&Sha256::digest(csrf.as_bytes()));
    c
}

/// What unsaved changes are bound to: the form's URL.
fn draft_context(target: &str) -> Vec<u8> {
    let mut c = b"unsaved form for ".to_vec();
    c.extend_from_slice(target.as_bytes());
    c
}

/// Seal `value` made at `at` (Unix seconds), bound to `context`.
fn seal<T: Serialize>(
    key: &SealingKey,
    context: &[u8],
    at: i64,
    value: &T,
) -> Result<String, AppError> {
    let plain = serde_json::to_vec(&Envelope { at, value })
        .map_err(|e| AppError::Unexpected(format!("cannot encode a sealed value: {e}")))?;
    let sealed = key
        .seal(context, &plain)
        .map_err(|e| AppError::Unexpected(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// Open an envelope bound to `context` at `now`, if it is at most `max_age` seconds old.
fn open<T: DeserializeOwned>(
    key: &SealingKey,
    context: &[u8],
    now: i64,
    max_age: i64,
    sealed: &str,
) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let plain = key.open(context, &bytes)?;
    let envelope: Envelope<T> = serde_json::from_slice(&plain).ok()?;
    (0..=max_age)
        .contains(&(now - envelope.at))
        .then_some(envelope.value)
}

impl Service {
    /// Seal `value` for the session whose CSRF token is `csrf`. Preset warnings that would make
    /// the envelope too long for a cookie are left out (the asset's page lists them anyway).
    pub fn seal_one_time(&self, csrf: &str, mut value: OneTime) -> Result<String, AppError> {
        loop {
            let now = Utc::now().timestamp();
            let text = seal(&self.one_time_key, &context(csrf), now, &value)?;
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
        let now = Utc::now().timestamp();
        open(
            &self.one_time_key,
            &context(csrf),
            now,
            ONE_TIME_SECONDS,
            sealed,
        )
    }

    /// Seal the unsaved changes of the form at `target` (no secret in them: the caller leaves
    /// those out), to carry them across a sign-in.
    pub fn seal_draft(&self, target: &str, draft: &serde_json::Value) -> Result<String, AppError> {
        let now = Utc::now().timestamp();
        seal(&self.one_time_key, &draft_context(target), now, draft)
    }

    /// Open unsaved changes sealed for the form at `target`: `None` when they were sealed for
    /// another form, are older than [`DRAFT_SECONDS`], or are not ours.
    pub fn open_draft(&self, target: &str, sealed: &str) -> Option<serde_json::Value> {
        let now = Utc::now().timestamp();
        open(
            &self.one_time_key,
            &draft_context(target),
            now,
            DRAFT_SECONDS,
            sealed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::from_array([7; 32]).derive(b"one-time values")
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
        let (a, b) = (context("csrf-a"), context("csrf-b"));
        let sealed = seal(&k, &a, 1_000, &value).unwrap();
        assert!(!sealed.contains("jas_secretkey"));
        let at = |key: &SealingKey, ctx: &[u8], now: i64, sealed: &str| {
            open::<OneTime>(key, ctx, now, ONE_TIME_SECONDS, sealed)
        };
        assert_eq!(at(&k, &a, 1_000, &sealed), Some(value.clone()));
        assert_eq!(at(&k, &a, 1_300, &sealed), Some(value));
        assert_eq!(at(&k, &a, 1_301, &sealed), None, "expired");
        assert_eq!(at(&k, &a, 999, &sealed), None, "from the future");
        assert_eq!(at(&k, &b, 1_000, &sealed), None, "another session");
        let other = SealingKey::from_array([8; 32]).derive(b"one-time values");
        assert_eq!(at(&other, &a, 1_000, &sealed), None, "another key");
        let mut bent = sealed.into_bytes();
        bent[40] ^= 1;
        let bent = String::from_utf8(bent).unwrap();
        assert_eq!(at(&k, &a, 1_000, &bent), None, "changed bytes");
    }

    #[test]
    fn a_draft_opens_only_for_its_form() {
        let k = key();
        let draft = serde_json::json!({"name": "Chat", "template": "{}"});
        let sealed = seal(&k, &draft_context("/admin/assets/a1"), 0, &draft).unwrap();
        let at = |target: &str, now: i64| {
            open::<serde_json::Value>(&k, &draft_context(target), now, DRAFT_SECONDS, &sealed)
        };
        assert_eq!(at("/admin/assets/a1", DRAFT_SECONDS), Some(draft));
        assert_eq!(at("/admin/assets/a2", 0), None, "another form");
        assert_eq!(at("/admin/assets/a1", DRAFT_SECONDS + 1), None, "too old");
        assert_eq!(
            open::<serde_json::Value>(&k, &context("/admin/assets/a1"), 0, DRAFT_SECONDS, &sealed),
            None,
            "not a one-time value"
        );
    }
}
