//! Password checks off the request path, so that sign-ins never starve token requests.
//!
//! * A few dedicated threads (`--max-password-checks`, default 2) do every hash, at a lower CPU
//!   priority (nice 19) than the HTTP workers: under a flood of sign-ins on a saturated core the
//!   token path keeps about 97 % of the CPU (scheduler weights 1024 against 15 per thread), and
//!   sign-ins still progress; any CPU the token path leaves idle goes to sign-ins in full.
//! * The queue in front of them is bounded: when it is full a sign-in is refused at once
//!   ([`PoolError::Busy`], answered 429 with `Retry-After`) instead of waiting for seconds.
//! * A check whose caller went away (the client disconnected) is skipped.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Threads that hash run at this nice value.
const HASHING_NICE: i32 = 19;

/// Why the pool did not answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// Too many checks waiting: try again shortly.
    #[error("too many password checks waiting")]
    Busy,
    /// The pool is gone (shutting down).
    #[error("the password check pool has stopped")]
    Stopped,
}

type Job = Box<dyn FnOnce() + Send>;

/// Dedicated hashing threads behind a bounded queue.
pub struct PasswordPool {
    tx: Mutex<Option<SyncSender<Job>>>,
}

impl PasswordPool {
    /// Start `threads` hashing threads with room for `queue` waiting checks.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<PasswordPool> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(PasswordPool {
            tx: Mutex::new(Some(tx)),
        })
    }

    /// Run `f` on a hashing thread and wait for its answer. `f` is skipped when the caller has
    /// gone away (its request was dropped) before a thread was free.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if !done.is_closed() {
                let _ = done.send(f());
            }
        });
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let tx = tx.as_ref().ok_or(PoolError::Stopped)?;
            match tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(PoolError::Busy),
                Err(TrySendError::Disconnected(_)) => return Err(PoolError::Stopped),
            }
        }
        answer.await.map_err(|_| PoolError::Stopped)
    }

    /// Let the threads finish what is queued and end.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // Hold the lock only to take the next job, not while hashing.
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Best effort: a thread that cannot lower its priority still hashes.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value.
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), HASHING_NICE) {
            tracing::debug!(error = %e, "could not lower the priority of a password thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_answers_refuses_when_full_and_skips_abandoned_checks() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = PasswordPool::start(1, 1).unwrap();
            assert_eq!(pool.run(|| 6 * 7).await, Ok(42));

            // Hold the only thread, fill the one queue slot: the next check is refused at once.
            let (release, hold) = std::sync::mpsc::channel::<()>();
            let (started_tx, started) = std::sync::mpsc::channel::<()>();
            let mut busy = Box::pin(pool.run(move || {
                started_tx.send(()).unwrap();
                hold.recv().unwrap();
            }));
            assert!(futures_poll_once(&mut busy).await.is_none());
            started.recv().unwrap();
            let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = ran.clone();
            let queued = pool.run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
            // Enqueue it, then abandon it (a client that went away).
            let mut queued = Box::pin(queued);
            assert!(
                futures_poll_once(&mut queued).await.is_none(),
                "queued behind the held thread"
            );
            assert_eq!(pool.run(|| ()).await, Err(PoolError::Busy));
            drop(queued);
            release.send(()).unwrap();
            assert_eq!(busy.await, Ok(()));
            // The abandoned check still holds the queue slot until the thread takes (and skips) it.
            let mut answer = Err(PoolError::Busy);
            for _ in 0..500 {
                answer = pool.run(|| 1).await;
                if answer != Err(PoolError::Busy) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert_eq!(answer, Ok(1));
            assert!(
                !ran.load(std::sync::atomic::Ordering::SeqCst),
                "an abandoned check must be skipped"
            );
            pool.shutdown();
            assert_eq!(pool.run(|| ()).await, Err(PoolError::Stopped));
        });
    }

    /// Poll a future once: `Some(output)` if it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut *f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
