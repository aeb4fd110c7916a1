//! Who is asking: API keys, sessions, sign-in with a password (throttled) and sign-out.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;

use super::blocking::blocking;
use super::state::{LOGIN_WINDOW, MAX_LOGIN_FAILURES, Service, TOUCH_INTERVAL_SECONDS};
use super::views::SignedIn;
use crate::domain::audit::{AuditAction, AuditEvent, AuditOutcome};
use crate::domain::credentials::{
    API_KEY_PREFIX, ApiKey, CredentialDigest, Grant, Session, digest, digests_equal, new_session_id,
};
use crate::domain::user::{User, Username};
use crate::error::AppError;
use crate::ids::random_token;
use crate::secret::SecretString;
use crate::store::StoreError;

/// Why a correct password was refused: local passwords are off (upstream only) for this user.
pub const PASSWORDS_OFF: &str =
    "local passwords are turned off; sign in with the identity provider";

impl Service {
    /// The user behind an API key (`Authorization: Bearer …`), and what the key may do.
    pub fn authenticate_api_key(&self, key: &str) -> Result<(Arc<User>, Grant), AppError> {
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
        if record.has_expired(now) {
            return Err(AppError::Forbidden(format!(
                "the API key {} has expired",
                record.prefix
            )));
        }
        if record
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOUCH_INTERVAL_SECONDS)
        {
            let mut touched = ApiKey::clone(&record);
            touched.last_used_at = Some(now);
            self.best_effort("last use of an API key", self.store.touch_api_key(&touched));
        }
        Ok((
            user,
            Grant {
                scopes: record.scopes,
                expires_at: record.expires_at,
            },
        ))
    }

    /// A write the token path makes on the side (last use, cleanup): a failure is logged and
    /// counted, never a reason to refuse the token.
    fn best_effort(&self, what: &str, written: Result<(), StoreError>) {
        if let Err(e) = written {
            self.touch_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, what, "a best-effort write failed");
        }
    }

    /// Best-effort writes of the token path that failed (see `/metrics`).
    pub fn touch_failures(&self) -> u64 {
        self.touch_failures.load(Ordering::Relaxed)
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
            self.best_effort("an expired session", self.store.discard_session(&d));
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
            self.best_effort(
                "a session's last use",
                self.store.touch_session(&d, &touched),
            );
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
        client: Option<IpAddr>,
    ) -> Result<SignedIn, AppError> {
        let throttle_key: String = username.to_ascii_lowercase().chars().take(64).collect();
        let per_address = self.sessions.max_failures_per_address;
        let address_key = client.filter(|_| per_address > 0).map(address_key);
        // The throttle counts and the user are read from the store: off the async worker (a
        // shared database is a network round trip away).
        let (service, name, key, by_address) = (
            self.clone(),
            username.to_owned(),
            throttle_key.clone(),
            address_key.clone(),
        );
        let user = blocking(move || {
            if let Some(retry) = service.login_throttled(&key, MAX_LOGIN_FAILURES)? {
                return Err(AppError::Throttled(retry));
            }
            if let Some(key) = &by_address
                && let Some(retry) = service.login_throttled(key, per_address)?
            {
                return Err(AppError::ThrottledAddress(retry));
            }
            let user = match Username::parse(&name) {
                Ok(name) => service.store.user_by_username(name.as_str())?,
                Err(_) => None,
            };
            Ok((user, service.store.sign_in_settings()?))
        })
        .await?;
        let (user, settings) = user;
        let hash = user
            .as_ref()
            .filter(|u| !u.disabled)
            .and_then(|u| u.password_hash.clone());
        let ok = self
            .passwords
            .run(move || crate::domain::user::verify_password(password.expose(), hash.as_deref()))
            .await
            .map_err(|e| match e {
                super::password_pool::PoolError::Busy => AppError::Throttled(1),
                super::password_pool::PoolError::Stopped => AppError::Unexpected(e.to_string()),
            })?;
        if let Some(u) = &user
            && ok
            && !settings.password_allowed(u.username.as_str(), u.admin)
        {
            return Err(AppError::Forbidden(PASSWORDS_OFF.into()));
        }
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            _ => {
                let service = self.clone();
                blocking(move || {
                    let now = Utc::now();
                    service
                        .store
                        .note_failed_sign_in(&throttle_key, now, LOGIN_WINDOW)?;
                    if let Some(key) = &address_key {
                        service.store.note_failed_sign_in(key, now, LOGIN_WINDOW)?;
                    }
                    Ok(())
                })
                .await?;
                self.audit.record(AuditEvent {
                    outcome: AuditOutcome::Forbidden,
                    ..AuditEvent::admin(username, AuditAction::SessionLogin, username)
                });
                return Err(AppError::Forbidden("wrong username or password".into()));
            }
        };
        let service = self.clone();
        let previous = previous_session.map(digest);
        blocking(move || service.open_session(user, Some(&throttle_key), previous, None)).await
    }

    /// After a good password (or an upstream sign-in): forget the failures, end the session the
    /// browser had, and store a new one (durable writes: on a blocking thread).
    pub(super) fn open_session(
        &self,
        user: User,
        throttle_key: Option<&str>,
        previous: Option<CredentialDigest>,
        via: Option<String>,
    ) -> Result<SignedIn, AppError> {
        if let Some(key) = throttle_key {
            self.store.clear_failed_sign_ins(key)?;
        }
        if let Some(old) = previous {
            self.store.remove_session(&old)?;
        }
        let session_id = new_session_id();
        let now = Utc::now();
        let session = Session {
            user_id: user.id.clone(),
            created_at: now,
            last_seen: now,
            csrf_token: random_token::<32>(),
            via,
        };
        self.store.put_session(&digest(&session_id), &session)?;
        self.audit.record(AuditEvent::admin(
            user.username.as_str(),
            AuditAction::SessionLogin,
            user.username.as_str(),
        ));
        Ok(SignedIn { session_id, user })
    }

    /// Seconds until sign-in under this throttle key (a case-folded username, or an address) is
    /// allowed again, if `max` failures are already counted in the window.
    fn login_throttled(&self, key: &str, max: u32) -> Result<Option<u64>, AppError> {
        let now = Utc::now();
        let window = LOGIN_WINDOW;
        Ok(self
            .store
            .failed_sign_ins(key, now, window)?
            .filter(|(count, _)| *count >= max)
            .map(|(_, since)| (since + window - now).num_seconds().max(1) as u64))
    }

    /// End a session (a durable write: call from a blocking thread); the identity provider the
    /// session was opened through, if any.
    pub fn logout(&self, session_id: &str) -> Result<Option<String>, AppError> {
        let d = digest(session_id);
        let mut provider = None;
        if let Some(s) = self.store.session(&d)? {
            self.store.remove_session(&d)?;
            provider = s.via.clone();
            if let Some(u) = self.store.user(&s.user_id)? {
                self.audit.record(AuditEvent::admin(
                    u.username.as_str(),
                    AuditAction::SessionLogout,
                    u.username.as_str(),
                ));
            }
        }
        Ok(provider)
    }
}

/// The throttle key of a client address: it cannot be a case-folded username (no NUL in those).
fn address_key(address: IpAddr) -> String {
    format!("\0{address}")
}
