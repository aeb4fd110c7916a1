//! The cached layer: wraps any backend and keeps in memory the records every token request
//! reads (users, sessions, API keys by digest), forgetting each one when the backend publishes a
//! change to it. Everything else goes straight through.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::ReadCache;
use super::feed::{Change, ChangeFeed};
use super::{Store, StoreError};
use crate::domain::asset::Asset;
use crate::domain::audit::{AuditEvent, AuditFilter, AuditLines, AuditPosition};
use crate::domain::credentials::{ApiKey, CredentialDigest, Session};
use crate::domain::identity::SignInSettings;
use crate::domain::user::User;
use crate::ids::{ApiKeyId, AssetId, UserId};

/// Records of each kind kept in memory (about 1 KiB each at most, so a few MiB in all).
pub const CACHED_RECORDS: usize = 4096;

struct Caches {
    users: ReadCache<UserId, User>,
    keys: ReadCache<CredentialDigest, ApiKey>,
    sessions: ReadCache<CredentialDigest, Session>,
}

impl Caches {
    fn forget(&self, change: &Change) {
        match change {
            Change::UserChanged { id } => self.users.invalidate(id),
            Change::SessionChanged { digest } => self.sessions.invalidate(digest),
            Change::SessionsEnded { digests, .. } => {
                for digest in digests {
                    self.sessions.invalidate(digest);
                }
            }
            Change::ApiKeyChanged {
                digest: Some(digest),
            } => self.keys.invalidate(digest),
            Change::ApiKeyChanged { digest: None } => self.keys.clear(),
            Change::SessionTouched { digest, last_seen } => {
                self.sessions.update(digest, |s| Session {
                    last_seen: s.last_seen.max(*last_seen),
                    ..s.clone()
                })
            }
            Change::ApiKeyTouched {
                digest,
                last_used_at,
            } => self.keys.update(digest, |k| ApiKey {
                last_used_at: k.last_used_at.max(Some(*last_used_at)),
                ..k.clone()
            }),
            Change::AssetChanged { .. }
            | Change::AssetPurged { .. }
            | Change::SignInSettingsChanged => {}
        }
    }
}

/// A backend with the token path's records cached in front of it.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    caches: Arc<Caches>,
}

impl CachedStore {
    /// Wrap `inner`, subscribing to its changes.
    pub fn new(inner: Arc<dyn Store>) -> CachedStore {
        let caches = Arc::new(Caches {
            users: ReadCache::new(CACHED_RECORDS),
            keys: ReadCache::new(CACHED_RECORDS),
            sessions: ReadCache::new(CACHED_RECORDS),
        });
        let subscriber = caches.clone();
        inner
            .changes()
            .subscribe(move |change| subscriber.forget(change));
        CachedStore { inner, caches }
    }
}

impl Store for CachedStore {
    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        self.inner.insert_user(user)
    }
    fn update_user(&self, user: &User, expected_version: u64) -> Result<(), StoreError> {
        self.inner.update_user(user, expected_version)
    }
    fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, StoreError> {
        self.caches.users.get_or_load(id, || self.inner.user(id))
    }
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_username(username)
    }
    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.inner.users()
    }
    fn user_by_upstream(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_upstream(issuer, subject)
    }
    fn users_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.inner.users_page(prefix, after, limit)
    }
    fn has_users(&self) -> Result<bool, StoreError> {
        self.inner.has_users()
    }
    fn put_session(&self, digest: &CredentialDigest, session: &Session) -> Result<(), StoreError> {
        self.inner.put_session(digest, session)
    }
    fn session(&self, digest: &CredentialDigest) -> Result<Option<Arc<Session>>, StoreError> {
        self.caches
            .sessions
            .get_or_load(digest, || self.inner.session(digest))
    }
    fn touch_session(
        &self,
        digest: &CredentialDigest,
        session: &Session,
    ) -> Result<(), StoreError> {
        self.inner.touch_session(digest, session)
    }
    fn remove_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        self.inner.remove_session(digest)
    }
    fn discard_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        self.inner.discard_session(digest)
    }
    fn delete_user(&self, id: &UserId, expected_version: u64) -> Result<(), StoreError> {
        self.inner.delete_user(id, expected_version)
    }
    fn remove_user_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        self.inner.remove_user_sessions(user)
    }
    fn user_sessions(&self, user: &UserId) -> Result<Vec<Session>, StoreError> {
        self.inner.user_sessions(user)
    }
    fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.inner.insert_api_key(key)
    }
    fn api_key_by_digest(
        &self,
        digest: &CredentialDigest,
    ) -> Result<Option<Arc<ApiKey>>, StoreError> {
        self.caches
            .keys
            .get_or_load(digest, || self.inner.api_key_by_digest(digest))
    }
    fn touch_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.inner.touch_api_key(key)
    }
    fn revoke_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> Result<ApiKey, StoreError> {
        self.inner.revoke_api_key(id, at)
    }
    fn api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.api_keys(user)
    }
    fn insert_asset(&self, asset: &Asset) -> Result<(), StoreError> {
        self.inner.insert_asset(asset)
    }
    fn replace_asset(&self, asset: &Asset, expected_version: u64) -> Result<(), StoreError> {
        self.inner.replace_asset(asset, expected_version)
    }
    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, StoreError> {
        self.inner.asset(id)
    }
    fn asset_by_path(&self, path: &str) -> Result<Option<Asset>, StoreError> {
        self.inner.asset_by_path(path)
    }
    fn assets(&self) -> Result<Vec<Asset>, StoreError> {
        self.inner.assets()
    }
    fn asset_index(&self) -> Result<Vec<super::BareAsset>, StoreError> {
        self.inner.asset_index()
    }
    fn delete_asset(&self, id: &AssetId, expected_version: u64) -> Result<(), StoreError> {
        self.inner.delete_asset(id, expected_version)
    }
    fn sign_in_settings(&self) -> Result<SignInSettings, StoreError> {
        self.inner.sign_in_settings()
    }
    fn replace_sign_in_settings(
        &self,
        settings: &SignInSettings,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.inner
            .replace_sign_in_settings(settings, expected_version)
    }
    fn changes(&self) -> &ChangeFeed {
        self.inner.changes()
    }
    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.append_audit(events)
    }
    fn append_audit_lines(&self, lines: &AuditLines) -> Result<(), StoreError> {
        self.inner.append_audit_lines(lines)
    }
    fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<AuditPosition>,
        limit: usize,
    ) -> Result<Vec<(AuditPosition, AuditEvent)>, StoreError> {
        self.inner.audit_page(filter, before, limit)
    }
    fn audit_len(&self) -> Result<u64, StoreError> {
        self.inner.audit_len()
    }
    fn keep_newest_audit(&self, keep: u64) -> Result<u64, StoreError> {
        self.inner.keep_newest_audit(keep)
    }
    fn note_failed_sign_in(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(u32, DateTime<Utc>), StoreError> {
        self.inner.note_failed_sign_in(key, at, window)
    }
    fn failed_sign_ins(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Option<(u32, DateTime<Utc>)>, StoreError> {
        self.inner.failed_sign_ins(key, at, window)
    }
    fn clear_failed_sign_ins(&self, key: &str) -> Result<(), StoreError> {
        self.inner.clear_failed_sign_ins(key)
    }
    fn health(&self) -> Result<(), StoreError> {
        self.inner.health()
    }
    fn close(&self) -> Result<(), StoreError> {
        self.inner.close()
    }
    fn data_migration_done(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.data_migration_done(name)
    }
    fn mark_data_migration_done(&self, name: &str) -> Result<(), StoreError> {
        self.inner.mark_data_migration_done(name)
    }

    fn export_key(&self) -> Result<(String, super::sealing::SealingKey), StoreError> {
        self.inner.export_key()
    }

    fn load(&self, records: &super::dump::StoreRecords) -> Result<(), StoreError> {
        self.inner.load(records)
    }
}
