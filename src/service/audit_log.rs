//! The audit trail: events recorded off the request path, in batches, with bounded retention.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::domain::audit::{AuditEvent, AuditLines};
use crate::store::Store;

/// Hands events to a background writer. Recording never blocks a request and never wakes the
/// writer: it encodes the event (see [`AuditLines`]) and appends it to a buffer under a short lock, and the writer takes the whole buffer every
/// `BATCH_WAIT` (sooner when a batch fills, someone asks for a flush, or at shutdown). When the
/// buffer is full the event is counted as dropped (see `/metrics`) rather than slowing token
/// issuance.
pub struct AuditLog {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// Events waiting for the writer, and the writer's progress.
struct Shared {
    state: Mutex<Pending>,
    /// Wakes the writer (a full batch, a flush, a stop).
    wake: Condvar,
    /// Wakes flush callers (a write finished).
    written: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    events: AuditLines,
    /// Flush requests so far; the writer has handled those up to `flushed`.
    flush_wanted: u64,
    flushed: u64,
    stop: bool,
    stopped: bool,
}

const QUEUE: usize = 16_384;
const BATCH: usize = 1024;
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// The largest buffer kept for the next turn: four batches' worth.
const SPARE_MAX_BYTES: usize = 4 * BATCH * 200;

impl AuditLog {
    /// Start the writer thread for a store, keeping at most `retention` events.
    pub fn start(
        store: Arc<dyn Store>,
        retention: u64,
    ) -> Result<AuditLog, crate::store::StoreError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            written: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let writer = shared.clone();
        let worker = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_loop(&writer, store, retention))
            .map_err(|e| crate::store::StoreError::Io(e.to_string()))?;
        Ok(AuditLog {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queue an event.
    pub fn record(&self, event: AuditEvent) {
        thread_local! {
            static ONE: std::cell::RefCell<AuditLines> = std::cell::RefCell::default();
        }
        ONE.with_borrow_mut(|one| {
            // Encoded before the lock is taken, into this thread's own buffer.
            one.clear();
            one.push(&event);
            let mut p = lock(&self.shared.state);
            if p.events.len() >= QUEUE || p.stopped {
                drop(p);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            p.events.append(one);
            if p.events.len() == BATCH {
                self.shared.wake.notify_one();
            }
        });
    }

    /// Wait (at most 10 s) until every event queued so far is in the store.
    pub fn flush(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut p = lock(&self.shared.state);
        if p.stopped {
            return;
        }
        p.flush_wanted += 1;
        let ticket = p.flush_wanted;
        self.shared.wake.notify_one();
        while p.flushed < ticket && !p.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            p = match self.shared.written.wait_timeout(p, left) {
                Ok((p, _)) => p,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Write everything queued and stop the writer (at shutdown), so it lets go of the store.
    pub fn shutdown(&self) {
        let worker = lock(&self.worker).take();
        if let Some(worker) = worker {
            lock(&self.shared.state).stop = true;
            self.shared.wake.notify_one();
            let _ = worker.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data (a queue of
/// events) is still consistent, so carry on rather than lose the audit trail.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_loop(shared: &Shared, store: Arc<dyn Store>, retention: u64) {
    // Two buffers take turns: the queue fills one while the other is written, and neither is
    // given back. A buffer of a batch (~150 KiB) freed each time would make glibc raise its
    // mmap and trim thresholds and keep megabytes in the workers' arenas.
    let mut spare = AuditLines::default();
    loop {
        let mut p = lock(&shared.state);
        let deadline = Instant::now() + BATCH_WAIT;
        while !p.stop && p.flush_wanted == p.flushed && p.events.len() < BATCH {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            p = match shared.wake.wait_timeout(p, left) {
                Ok((p, _)) => p,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let mut batch = std::mem::replace(&mut p.events, std::mem::take(&mut spare));
        let ticket = p.flush_wanted;
        let stop = p.stop;
        drop(p);

        if !batch.is_empty() {
            match store.append_audit_lines(&batch) {
                Ok(()) => {
                    if let Err(e) = store.keep_newest_audit(retention) {
                        tracing::error!(error = %e, "could not trim the audit log");
                    }
                }
                // A shared database out of reach: keep the events (as many as the queue holds)
                // and try again in a second, so that an outage does not cost the trail.
                Err(e @ crate::store::StoreError::Unavailable(_)) if !stop => {
                    let mut p = lock(&shared.state);
                    let room = QUEUE.saturating_sub(p.events.len());
                    let kept = batch.len().min(room);
                    let lost = batch.len() - kept;
                    let newer = std::mem::replace(&mut p.events, batch);
                    p.events.truncate(kept);
                    p.events.append(&newer);
                    // Nobody waits on a flush for the length of an outage.
                    p.flushed = ticket;
                    drop(p);
                    if lost > 0 {
                        shared.dropped.fetch_add(lost as u64, Ordering::Relaxed);
                    }
                    tracing::warn!(error = %e, kept, lost, "audit events wait for the database");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, events = batch.len(), "could not write audit events");
                    shared
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            }
        }

        // After an outage of the shared database the queue kept the batch; otherwise it is
        // emptied for the next turn (one that once held a full queue is let go).
        if batch.bytes_held() <= SPARE_MAX_BYTES {
            batch.clear();
            spare = batch;
        }
        let mut p = lock(&shared.state);
        p.flushed = ticket;
        if stop {
            // Events recorded while the last batch was written are written too.
            let rest = std::mem::take(&mut p.events);
            p.stopped = true;
            drop(p);
            if !rest.is_empty()
                && let Err(e) = store.append_audit_lines(&rest)
            {
                tracing::error!(error = %e, events = rest.len(), "could not write audit events");
                shared
                    .dropped
                    .fetch_add(rest.len() as u64, Ordering::Relaxed);
            }
            shared.written.notify_all();
            return;
        }
        drop(p);
        shared.written.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditAction;
    use crate::store::sled::SledStore;

    #[test]
    fn retention_keeps_the_newest_events_and_bounds_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_for_test(dir.path()).unwrap());
        let log = AuditLog::start(store.clone(), 100).unwrap();
        for i in 0..1000 {
            log.record(AuditEvent::admin(
                "alice",
                AuditAction::TokenIssue,
                &format!("/t/{i}"),
            ));
            if i % 100 == 99 {
                log.flush();
            }
        }
        log.shutdown();
        let kept = store.audit_len().unwrap();
        // The embedded store deletes whole segments; one holds at most a batch of 100 here.
        assert!((100..200).contains(&kept), "kept {kept} events");
        let newest = store
            .audit_events(&crate::domain::audit::AuditFilter::default(), 1)
            .unwrap();
        assert_eq!(newest[0].target, "/t/999");
        assert_eq!(log.dropped(), 0);
    }
}
