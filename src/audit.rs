//! The audit trail: events recorded off the request path, in batches, with bounded retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::Store;

/// One thing that happened: a token issued or refused, an administrative change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Username of who did it (`-` when unknown).
    pub actor: String,
    /// What: `token.issue`, `asset.create`, `asset.trash`, `user.disable`, `apikey.revoke` …
    pub action: String,
    /// What it was done to: an asset path, a username, a key prefix.
    pub target: String,
    /// `ok`, `forbidden`, `config_error`, `error`.
    pub outcome: String,
    /// The token's `jti`, for issued tokens that have one (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl AuditEvent {
    /// A successful administrative action.
    pub fn admin(actor: &str, action: &str, target: &str) -> Self {
        AuditEvent {
            at: Utc::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: "ok".to_owned(),
            jti: None,
        }
    }
}

enum Message {
    Event(AuditEvent),
    Flush(SyncSender<()>),
}

/// Hands events to a background writer. Recording never blocks a request: when the queue is full
/// the event is counted as dropped (see `/metrics`) rather than slowing token issuance.
pub struct AuditLog {
    tx: SyncSender<Message>,
    dropped: AtomicU64,
    worker: std::sync::Mutex<Option<JoinHandle<()>>>,
}

const QUEUE: usize = 16_384;
const BATCH: usize = 1024;
const BATCH_WAIT: Duration = Duration::from_millis(200);

impl AuditLog {
    /// Start the writer thread for a store, keeping at most `retention` events.
    pub fn start(
        store: Arc<dyn Store>,
        retention: u64,
    ) -> Result<AuditLog, crate::store::StoreError> {
        let count = store.audit_len()?;
        let (tx, rx) = sync_channel(QUEUE);
        let worker = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_loop(store, rx, retention, count))
            .map_err(|e| crate::store::StoreError::Io(e.to_string()))?;
        Ok(AuditLog {
            tx,
            dropped: AtomicU64::new(0),
            worker: std::sync::Mutex::new(Some(worker)),
        })
    }

    /// Queue an event.
    pub fn record(&self, event: AuditEvent) {
        match self.tx.try_send(Message::Event(event)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Wait until every event queued so far is in the store.
    pub fn flush(&self) {
        let (done_tx, done_rx) = sync_channel(1);
        if self.tx.send(Message::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Write everything queued and stop the writer (at shutdown).
    pub fn shutdown(&self) {
        self.flush();
        // The writer stops when every sender is gone; the sender lives as long as `self`, so we
        // only wait for the flush above and detach the thread.
        if let Ok(mut w) = self.worker.lock() {
            w.take();
        }
    }
}

fn write_loop(store: Arc<dyn Store>, rx: Receiver<Message>, retention: u64, mut count: u64) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let first = match rx.recv() {
            Ok(m) => m,
            Err(_) => return,
        };
        let mut waiters = Vec::new();
        let push =
            |m: Message, batch: &mut Vec<AuditEvent>, waiters: &mut Vec<SyncSender<()>>| match m {
                Message::Event(e) => batch.push(e),
                Message::Flush(w) => waiters.push(w),
            };
        push(first, &mut batch, &mut waiters);
        let deadline = std::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH && waiters.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(m) => push(m, &mut batch, &mut waiters),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if !batch.is_empty() {
            match store.append_audit(&batch) {
                Ok(()) => count += batch.len() as u64,
                Err(e) => {
                    tracing::error!(error = %e, events = batch.len(), "could not write audit events")
                }
            }
            batch.clear();
        }
        // Trim in chunks so one pass stays short; retention is a bound, not an exact count.
        if count > retention + retention / 100 + 16 {
            match store.trim_audit(count - retention) {
                Ok(removed) => count -= removed,
                Err(e) => tracing::error!(error = %e, "could not trim the audit log"),
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}
