//! The one service object: the store, the audit writer, the in-memory views of assets and the
//! policies every use case shares.

use std::sync::{Arc, Mutex};

use super::audit_log::AuditLog;
use super::registry::Registry;
use crate::store::{Store, StoreError};

/// Longest accepted asset name.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted expiry: ten years.
pub const MAX_EXPIRY_SECONDS: u64 = 10 * 366 * 24 * 3600;
/// Last-seen and last-used times are written at most this often.
pub(super) const TOUCH_INTERVAL_SECONDS: i64 = 60;
/// Sign-ins that may wait per password thread before more are refused (429) rather than queued.
pub(super) const PASSWORD_QUEUE_PER_THREAD: usize = 128;

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Failed sign-ins allowed per client address in the window (0 = no limit).
    pub max_failures_per_address: u32,
    /// Idle timeout.
    pub idle_seconds: u64,
    /// Absolute timeout.
    pub max_seconds: u64,
}

/// The one service object, built once at start and shared by every handler and the CLI.
pub struct Service {
    pub(super) store: Arc<dyn Store>,
    pub(super) audit: AuditLog,
    /// The in-memory views of the assets, fed by the store's changes.
    pub(super) registry: Arc<Registry>,
    pub(super) admin_writes: Mutex<()>,
    pub(super) sessions: SessionPolicy,
    /// Best-effort writes of the token path that failed.
    pub(super) touch_failures: std::sync::atomic::AtomicU64,
    pub(super) passwords: super::password_pool::PasswordPool,
    /// The OpenID Connect relying party.
    pub(super) upstream: super::oidc::Upstream,
    /// Seals the values shown once on their way to the page that shows them.
    pub(super) one_time_key: crate::store::sealing::SealingKey,
}

/// After this many failed sign-ins for one username within [`LOGIN_WINDOW`], sign-in for that
/// username is refused until the window has passed (whether or not the user exists).
pub const MAX_LOGIN_FAILURES: u32 = 10;
/// The window in which failed sign-ins are counted.
pub const LOGIN_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

impl Service {
    /// Build the service over a store: read every asset (its secrets stay sealed until it first
    /// signs), start the audit writer.
    pub fn new(
        store: Arc<dyn Store>,
        sessions: SessionPolicy,
        audit_retention: u64,
        max_password_checks: usize,
    ) -> Result<Service, StoreError> {
        let registry = Arc::new(Registry::load(store.asset_index()?));
        let follower = registry.clone();
        store
            .changes()
            .subscribe(move |change| follower.apply(change));
        let export_key = store.export_key()?.1;
        // Seals what the browser carries for us (values shown once, unsaved forms).
        let one_time_key = export_key.derive(b"jwt-asset-server one-time values");
        let upstream = super::oidc::Upstream::new(export_key);
        let service = Service {
            upstream,
            one_time_key,
            audit: AuditLog::start(store.clone(), audit_retention)?,
            store,
            registry,
            admin_writes: Mutex::new(()),
            sessions,
            touch_failures: std::sync::atomic::AtomicU64::new(0),
            passwords: super::password_pool::PasswordPool::start(
                max_password_checks.max(1),
                max_password_checks.max(1) * PASSWORD_QUEUE_PER_THREAD,
            )
            .map_err(|e| StoreError::Io(format!("cannot start the password threads: {e}")))?,
        };
        service
            .run_data_migrations()
            .map_err(|e| StoreError::Io(format!("a data migration of the store failed: {e}")))?;
        Ok(service)
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
        self.store.close()
    }

    pub(super) fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin_writes.lock().unwrap_or_else(|e| e.into_inner())
    }
}
