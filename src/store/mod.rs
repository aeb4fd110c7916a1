//! Storage: the `Store` contract every write and read goes through, and its backends.

pub mod cache;
pub mod cached;
#[cfg(test)]
mod contract_tests;
pub mod dump;
pub mod feed;
pub mod postgres;
pub mod sealing;
pub mod sled;
#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
pub(crate) mod test_postgres;
#[cfg(test)]
pub(crate) mod test_records;
pub mod throttle;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::asset::Asset;
use crate::domain::audit::{AuditEvent, AuditFilter, AuditLines, AuditPosition};
use crate::domain::credentials::{ApiKey, CredentialDigest, Session};
use crate::domain::identity::SignInSettings;
use crate::domain::user::User;
use crate::ids::{ApiKeyId, AssetId, UserId};

pub use feed::{Change, ChangeFeed};

thread_local! {
    static NO_WAITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static WOULD_HAVE_WAITED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` on an async worker where a store read must not wait for the network: a backend whose
/// read would (a cache miss on a shared database) refuses it at once, and the answer is `None` —
/// run `f` again on a blocking thread. Reads that answer from memory or local disk go through.
pub fn without_waiting<T>(f: impl FnOnce() -> T) -> Option<T> {
    NO_WAITING.with(|c| c.set(true));
    WOULD_HAVE_WAITED.with(|c| c.set(false));
    let out = f();
    NO_WAITING.with(|c| c.set(false));
    if WOULD_HAVE_WAITED.with(|c| c.replace(false)) {
        None
    } else {
        Some(out)
    }
}

/// For backends: whether this call may wait for the network (not inside [`without_waiting`]);
/// when it may not, the refusal is noted for `without_waiting` to report.
pub fn may_wait() -> bool {
    if NO_WAITING.with(|c| c.get()) {
        WOULD_HAVE_WAITED.with(|c| c.set(true));
        false
    } else {
        true
    }
}

/// The schema this binary writes. Older stores are migrated forward at open; newer ones refused.
pub const SCHEMA_VERSION: u32 = 2;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index already holds the value (a path, a username).
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the caller read it.
    #[error("the record was changed by someone else")]
    VersionMismatch,
    /// The record does not exist.
    #[error("no such record")]
    Missing,
    /// Another process holds the data directory.
    #[error("the data directory {0} is in use by another process (is the server running?)")]
    Locked(String),
    /// The store was written by a newer version of this program.
    #[error(
        "the data directory was written by a newer jwt-asset-server (schema {found}, this binary knows up to {SCHEMA_VERSION}); refusing to open it"
    )]
    TooNew {
        /// The version found on disk.
        found: u32,
    },
    /// The database was migrated by a newer version of this program.
    #[error(
        "the database was migrated by a newer jwt-asset-server (schema {found}, this binary knows up to {known}); refusing to use it"
    )]
    TooNewDatabase {
        /// The version found in the database.
        found: u32,
        /// The newest this binary knows.
        known: u32,
    },
    /// The database cannot be reached now (a shared backend); the caller may try again later.
    #[error("{0}")]
    Unavailable(String),
    /// The master key is missing, wrong or unreadable.
    #[error("{0}")]
    MasterKey(String),
    /// Damaged data on disk.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// The storage engine stays failed after an I/O error although the disk takes writes again:
    /// only a restart (on the durable state) brings it back.
    #[error("the store cannot write until the server restarts: {0}")]
    Failed(String),
    /// An I/O failure (permissions, disk full …).
    #[error("storage I/O error: {0}")]
    Io(String),
}

/// An asset with its secret material left sealed (emptied): what lists and key sets show, read
/// at start without unwrapping every data key.
pub struct BareAsset {
    /// The asset, its secret material emptied.
    pub asset: Asset,
    /// Whether its secret is shorter than its algorithm's hash.
    pub weak_secret: bool,
}

/// Everything the server keeps. A write returns once it is durable (unless its documentation says
/// it is best-effort, like last-use times) and once its [`Change`] has been published; a backend
/// enforces uniqueness and versions itself. The contract is checked by `contract_tests` for every
/// backend.
pub trait Store: Send + Sync + 'static {
    /// Add a user; `Conflict` when the username (case-insensitively) is taken.
    fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// Replace a user record (same id and username) whose stored version is `expected_version`:
    /// `VersionMismatch` when it changed meanwhile, `Missing` when it is gone.
    fn update_user(&self, user: &User, expected_version: u64) -> Result<(), StoreError>;
    /// Delete a user for good with their sessions and API keys (audit events, which name the
    /// user, stay), when the stored record is at `expected_version`: `VersionMismatch` when it
    /// changed meanwhile (by another instance too), `Missing` when there is no such user.
    fn delete_user(&self, id: &UserId, expected_version: u64) -> Result<(), StoreError>;
    /// A user by id.
    fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, StoreError>;
    /// A user by username, without regard to case.
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// All users, by username.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Up to `limit` users in username order (case-folded) whose username starts with `prefix`,
    /// after the username `after` when given: one page, read without scanning the others.
    fn users_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError>;
    /// The user linked to the upstream identity (issuer, subject), if any: the account an
    /// administrator linked, found although the provider renamed the person. (Accounts made at
    /// a first sign-in are found by their id, derived from the identity.)
    fn user_by_upstream(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError> {
        // A backend without an index reads every user.
        Ok(self.users()?.into_iter().find(|u| {
            u.upstream
                .as_ref()
                .is_some_and(|l| l.issuer == issuer && l.subject == subject)
        }))
    }
    /// Whether any user exists (first start).
    fn has_users(&self) -> Result<bool, StoreError>;

    /// Store a new session under its digest.
    fn put_session(&self, digest: &CredentialDigest, session: &Session) -> Result<(), StoreError>;
    /// Best-effort: record a session's new last-seen time (not made durable at once: losing it
    /// in a crash only shortens the idle timeout's start).
    fn touch_session(&self, digest: &CredentialDigest, session: &Session)
    -> Result<(), StoreError>;
    /// A session by digest.
    fn session(&self, digest: &CredentialDigest) -> Result<Option<Arc<Session>>, StoreError>;
    /// End one session (sign-out).
    fn remove_session(&self, digest: &CredentialDigest) -> Result<(), StoreError>;
    /// Best-effort: forget an expired session (its times refuse it anyway).
    fn discard_session(&self, digest: &CredentialDigest) -> Result<(), StoreError>;
    /// End every session of a user; returns how many ended.
    fn remove_user_sessions(&self, user: &UserId) -> Result<usize, StoreError>;
    /// Sessions of a user (digests hidden) for listing.
    fn user_sessions(&self, user: &UserId) -> Result<Vec<Session>, StoreError>;

    /// Add an API key and its digest index.
    fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// A live (unrevoked) key by digest.
    fn api_key_by_digest(
        &self,
        digest: &CredentialDigest,
    ) -> Result<Option<Arc<ApiKey>>, StoreError>;
    /// Best-effort: record a key's last use (never brings back a key revoked meanwhile).
    fn touch_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// Revoke: the digest index goes at once, the record stays for the listing.
    fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<ApiKey, StoreError>;
    /// All keys of a user.
    fn api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>, StoreError>;

    /// Add an asset; `Conflict` when its path is taken by a live or trashed asset.
    fn insert_asset(&self, asset: &Asset) -> Result<(), StoreError>;
    /// Replace an asset whose stored version is `expected_version`; moves the path index when the
    /// path changed (`Conflict` when the new path is taken).
    fn replace_asset(&self, asset: &Asset, expected_version: u64) -> Result<(), StoreError>;
    /// An asset by id.
    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, StoreError>;
    /// The asset (live or trashed) that owns a path.
    fn asset_by_path(&self, path: &str) -> Result<Option<Asset>, StoreError>;
    /// All assets.
    fn assets(&self) -> Result<Vec<Asset>, StoreError>;
    /// All assets with their secret material left sealed: what the asset list and the key sets
    /// show, read at start without opening every asset's secrets.
    fn asset_index(&self) -> Result<Vec<BareAsset>, StoreError>;
    /// Remove an asset record at `expected_version`, its secret and its path index for good:
    /// `VersionMismatch` when it changed meanwhile (restored on another instance, say),
    /// `Missing` when it is gone.
    fn delete_asset(&self, id: &AssetId, expected_version: u64) -> Result<(), StoreError>;

    /// The sign-in settings (identity providers, upstream-only), sealed at rest; the defaults
    /// before the first write.
    fn sign_in_settings(&self) -> Result<SignInSettings, StoreError>;
    /// Replace the sign-in settings whose stored version is `expected_version` (0 before the
    /// first write): `VersionMismatch` when they changed meanwhile.
    fn replace_sign_in_settings(
        &self,
        settings: &SignInSettings,
        expected_version: u64,
    ) -> Result<(), StoreError>;

    /// The feed on which this store publishes a [`Change`] for each committed write.
    fn changes(&self) -> &ChangeFeed;

    /// Append audit events (in order).
    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Append audit events as the audit queue holds them, encoded; a backend that stores the
    /// lines as they are (the embedded store) does so without decoding them.
    fn append_audit_lines(&self, lines: &AuditLines) -> Result<(), StoreError> {
        let events = lines
            .events()
            .map_err(|e| StoreError::Corrupt(format!("an audit line does not decode: {e}")))?;
        self.append_audit(&events)
    }
    /// The newest `limit` events matching the filter that are older than `before` (when
    /// given), newest first, each with its position.
    fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<AuditPosition>,
        limit: usize,
    ) -> Result<Vec<(AuditPosition, AuditEvent)>, StoreError>;
    /// The newest `limit` events matching the filter, newest first.
    fn audit_events(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self
            .audit_page(filter, None, limit)?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }
    /// Number of stored audit events.
    fn audit_len(&self) -> Result<u64, StoreError>;
    /// Retention: delete the oldest events so that about `keep` remain (never fewer; a backend
    /// may keep a few more, up to the granularity it stores events in); returns how many went.
    fn keep_newest_audit(&self, keep: u64) -> Result<u64, StoreError>;

    /// A failed sign-in for the (case-folded) name `key` at `at`: returns the failures counted in
    /// the current window (which starts at the first failure and lasts `window`) and its start.
    fn note_failed_sign_in(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(u32, DateTime<Utc>), StoreError>;
    /// The failures of `key` in a window still open at `at`, and the window's start.
    fn failed_sign_ins(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Option<(u32, DateTime<Utc>)>, StoreError>;
    /// Forget the failures of `key` (after a successful sign-in).
    fn clear_failed_sign_ins(&self, key: &str) -> Result<(), StoreError>;

    /// Whether the store can be read and can make writes durable now (for `/healthz`). After a
    /// write failed, each call probes the disk again, so the answer recovers with the disk.
    fn health(&self) -> Result<(), StoreError>;

    /// At shutdown: make the best-effort writes durable too.
    fn close(&self) -> Result<(), StoreError>;

    /// Whether the data migration `name` (one the service runs over the records, such as
    /// merging groups that differ only in letter case) has been done in this store.
    fn data_migration_done(&self, name: &str) -> Result<bool, StoreError>;

    /// Record, durably, that the data migration `name` is done (doing it again must be
    /// harmless: several instances may run it at once).
    fn mark_data_migration_done(&self, name: &str) -> Result<(), StoreError>;

    /// The key that seals a dump for this store's master key, and the master key's public id.
    fn export_key(&self) -> Result<(String, sealing::SealingKey), StoreError>;

    /// Restore: write every record into this empty store, made durable as one write at the end.
    /// The records are checked to be consistent first ([`dump::StoreRecords::check`]); if the
    /// write fails part-way, the store must be discarded.
    fn load(&self, records: &dump::StoreRecords) -> Result<(), StoreError>;
}
