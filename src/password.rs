//! Password hashing (argon2id) off the request path, so that sign-ins never starve token
//! requests and never pin memory.
//!
//! * A few dedicated threads (`--max-password-checks`, default 2) do every hash, at a lower CPU
//!   priority (nice 19) than the HTTP workers: under a flood of sign-ins on a saturated core the
//!   token path keeps about 97 % of the CPU (scheduler weights 1024 against 15 per thread), and
//!   sign-ins still progress; any CPU the token path leaves idle goes to sign-ins in full.
//! * The queue in front of them is bounded: when it is full a sign-in is refused at once
//!   ([`PoolError::Busy`], answered 429 with `Retry-After`) instead of waiting for seconds.
//! * A check whose caller went away (the client disconnected) is skipped.
//! * Each hash needs 19 MiB. With the usual `vec![..; n]`, glibc raises its mmap threshold after
//!   the first free and from then on keeps those 19 MiB in a per-thread arena: RSS grew by 19 MiB
//!   per thread that ever hashed (800 MiB after a flood). [`WorkArea`] asks for more than glibc's
//!   largest dynamic threshold (32 MiB), so every hash gets its own mapping, only the 19 MiB it
//!   touches become resident, and all of it goes back to the OS when the hash ends.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Parameters of new hashes: the OWASP minimum for argon2id (m = 19 MiB, t = 2, p = 1).
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Hashes with more memory than this are refused when verifying (a damaged or hostile record
/// must not make the server allocate gigabytes).
const MAX_M_COST_KIB: u32 = 256 * 1024;
/// Bytes reserved for a hash's work area: above glibc's largest dynamic mmap threshold.
const WORK_AREA_MIN_BYTES: usize = 33 * 1024 * 1024;
/// The CPU priority of the hashing threads (0 = the workers' own, 19 = lowest).
const HASHING_NICE: i32 = 19;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("constant argon2 parameters are valid")
}

/// The memory argon2 works in, sized for `blocks` blocks (see the module docs).
struct WorkArea(Vec<Block>);

impl WorkArea {
    fn new(blocks: usize) -> WorkArea {
        let reserve = blocks.max(WORK_AREA_MIN_BYTES / Block::SIZE + 1);
        let mut v = Vec::with_capacity(reserve);
        v.resize(blocks, Block::default());
        WorkArea(v)
    }
}

/// Hash a password with argon2id; the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
/// CPU-heavy: run it on the pool (or a blocking thread).
pub fn hash(password: &[u8]) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&crate::ids::random_bytes::<16>()).map_err(|e| e.to_string())?;
    let params = params();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; 32];
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let mut area = WorkArea::new(params.block_count());
    argon2
        .hash_password_into_with_memory(password, salt_raw, &mut out, &mut area.0[..])
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches a PHC string. Unreadable strings, other algorithms and absurd
/// parameters do not match.
pub fn verify(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let mut area = WorkArea::new(params.block_count());
    let argon2 = Argon2::new(algorithm, version, params);
    argon2
        .hash_password_into_with_memory(password, salt_raw, &mut out, &mut area.0[..])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

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
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn our_hashes_verify_with_the_argon2_crate_and_its_hashes_with_ours() {
        let ours = hash(b"correct horse battery").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horse batterY", &parsed)
                .is_err()
        );

        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"tr0ub4dor&3", &salt)
            .unwrap()
            .to_string();
        assert!(verify(b"tr0ub4dor&3", &theirs));
        assert!(!verify(b"tr0ub4dor&4", &theirs));
    }

    #[test]
    fn a_known_hash_verifies() {
        // Known answer from the reference C implementation (argon2-cffi's
        // `low_level.hash_secret(b"password", b"saltsaltsaltsalt", time_cost=2,
        // memory_cost=19456, parallelism=1, hash_len=32, type=ID)`).
        let known = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$T95q7S205tf9WI4HhYOZDIQmMMAbntacGXTIku0gXT8";
        assert!(verify(b"password", known));
        assert!(!verify(b"Password", known));
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        // Other algorithms and versions are read from the string, not assumed.
        let i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"password", &salt)
        .unwrap()
        .to_string();
        assert!(i.starts_with("$argon2i$v=16$"), "{i}");
        assert!(verify(b"password", &i));
        assert!(!verify(b"passwore", &i));
    }

    #[test]
    fn unreadable_or_absurd_hashes_never_match() {
        assert!(!verify(b"x", ""));
        assert!(!verify(b"x", "not a phc string"));
        assert!(!verify(b"x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$"));
        assert!(!verify(
            b"x",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
        assert!(!verify(b"x", "$scrypt$ln=16,r=8,p=1$c2FsdA$AAAA"));
    }

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
