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
    /// More about it, e.g. whom a preview was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
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
            detail: None,
        }
    }
}

enum Message {
    Event(AuditEvent),
    Flush(SyncSender<()>),
    Stop,
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

    /// Write everything queued and stop the writer (at shutdown), so it lets go of the store.
    pub fn shutdown(&self) {
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker
            && self.tx.send(Message::Stop).is_ok()
        {
            let _ = worker.join();
        }
    }
}

/// What the writer has gathered since its last write.
#[derive(Default)]
struct Pending {
    batch: Vec<AuditEvent>,
    waiters: Vec<SyncSender<()>>,
    stop: bool,
}

impl Pending {
    fn take(&mut self, m: Message) {
        match m {
            Message::Event(e) => self.batch.push(e),
            Message::Flush(w) => self.waiters.push(w),
            Message::Stop => self.stop = true,
        }
    }

    /// Keep gathering until the batch is full, someone waits for a flush, or we stop.
    fn wants_more(&self) -> bool {
        self.batch.len() < BATCH && self.waiters.is_empty() && !self.stop
    }
}

fn write_loop(store: Arc<dyn Store>, rx: Receiver<Message>, retention: u64, mut count: u64) {
    let mut p = Pending::default();
    while !p.stop {
        let Ok(first) = rx.recv() else { return };
        p.take(first);
        let deadline = std::time::Instant::now() + BATCH_WAIT;
        while p.wants_more() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(m) => p.take(m),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        if !p.batch.is_empty() {
            match store.append_audit(&p.batch) {
                Ok(()) => count += p.batch.len() as u64,
                Err(e) => {
                    tracing::error!(error = %e, events = p.batch.len(), "could not write audit events")
                }
            }
            p.batch.clear();
        }
        // Trim in chunks so one pass stays short; retention is a bound, not an exact count.
        if count > retention + retention / 100 + 16 {
            match store.trim_audit(count - retention) {
                Ok(removed) => count -= removed,
                Err(e) => tracing::error!(error = %e, "could not trim the audit log"),
            }
        }
        for w in p.waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn retention_keeps_the_newest_events_and_bounds_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let log = AuditLog::start(store.clone(), 100).unwrap();
        for i in 0..1000 {
            log.record(AuditEvent::admin(
                "alice",
                "token.issue",
                &format!("/t/{i}"),
            ));
            if i % 100 == 99 {
                log.flush();
            }
        }
        log.shutdown();
        let kept = store.audit_len().unwrap();
        assert!((100..=117).contains(&kept), "kept {kept} events");
        let newest = store.audit_events(None, None, 1).unwrap();
        assert_eq!(newest[0].target, "/t/999");
        assert_eq!(log.dropped(), 0);
    }
}
