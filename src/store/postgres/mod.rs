//! The PostgreSQL backend: the same `Store` contract for several instances on one database.
//!
//! The contract is synchronous and the server calls it from blocking threads; the database client
//! is asynchronous. The store therefore owns a small tokio runtime: each call hands its query to
//! that runtime and waits for the answer on the calling thread (never inside the runtime, so it
//! cannot panic or stall the runtime's own workers). Uniqueness and versions are enforced by the
//! database (unique indexes, `UPDATE … WHERE version = $n`); asset secrets are sealed under a
//! fresh data key wrapped with the master key, exactly as in the embedded store. Every write records
//! its change for the other instances (see [`follow`]). Last-use touches are kept in memory and
//! written in batches once a second, off the token path.

mod follow;
mod schema;

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use postgres_native_tls::MakeTlsConnector;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_postgres::error::SqlState;

/// The schema version this binary writes to PostgreSQL.
pub const PG_SCHEMA_VERSION: i32 = schema::PG_SCHEMA_VERSION;

use super::dump::StoreRecords;
use super::feed::{Change, ChangeFeed};
use super::sealing::{MasterKey, MasterKeySource, SealedAsset, SealingKey};
use super::{BareAsset, Store, StoreError};
use crate::domain::asset::Asset;
use crate::domain::audit::{AuditEvent, AuditFilter, AuditPosition, TextMatch};
use crate::domain::credentials::{ApiKey, CredentialDigest, Session};
use crate::domain::identity::SignInSettings;
use crate::domain::user::User;
use crate::ids::{ApiKeyId, AssetId, UserId, random_token};

/// How long one database call may take before it is answered as unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call waits for a free connection, or for a new one to be made.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often last-use touches are written.
const TOUCH_FLUSH: Duration = Duration::from_secs(1);
/// Changes are kept this long for instances that were cut off from the database to catch up.
const CHANGES_KEPT_HOURS: i32 = 24;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// A `postgres://` URL (or key=value connection string).
    pub url: String,
    /// Connections in the pool.
    pub pool_size: usize,
    /// How often the change log is read when no notification arrives.
    pub poll: Duration,
    /// This instance's id, written with each change it records.
    pub instance: String,
    /// A CA certificate (PEM) to trust for the database's TLS certificate, besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
}

/// The TLS connector for the database. `sslmode=require` verifies the server's certificate and
/// host name (against the system's roots and `ca_file`); `prefer`, libpq's default, encrypts
/// whenever the server offers TLS without verifying it, as libpq does; `disable` never uses TLS.
fn tls_connector(
    mode: tokio_postgres::config::SslMode,
    ca_file: Option<&std::path::Path>,
) -> Result<MakeTlsConnector, StoreError> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            StoreError::Io(format!(
                "cannot read the database CA file {}: {e}",
                path.display()
            ))
        })?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            StoreError::Io(format!(
                "the database CA file {} holds no PEM certificate: {e}",
                path.display()
            ))
        })?;
        builder.add_root_certificate(cert);
    }
    if mode != tokio_postgres::config::SslMode::Require {
        builder
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true);
    }
    let connector = builder
        .build()
        .map_err(|e| StoreError::Io(format!("cannot set up TLS for the database: {e}")))?;
    Ok(MakeTlsConnector::new(connector))
}

/// Why a delete held to a version touched no row: the record (found by `exists`, which takes
/// its id) is at another version, or gone.
async fn missing_or_moved(tx: &Transaction<'_>, exists: &str, id: &str) -> StoreError {
    match tx.query_opt(exists, &[&id]).await {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::Missing,
        Err(e) => db_error(e),
    }
}

/// A database error as the store contract names it. Connection failures are `Unavailable`.
fn db_error(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned());
        }
        // Connection exceptions (08…), a server shutting down or restarting (57P01–57P03), too
        // many connections (53300): the database is not there now, nothing was committed.
        if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300") {
            return StoreError::Unavailable(format!(
                "the database is unreachable: {}",
                db.message()
            ));
        }
        return StoreError::Io(format!("database error: {}", db.message()));
    }
    StoreError::Unavailable(format!("the database is unreachable: {}", with_causes(&e)))
}

/// An error and its causes, as one line (a TLS failure names the certificate only in a cause).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    let text = with_causes(&e);
    if text.contains("certificate") {
        return StoreError::Unavailable(format!(
            "the database's TLS certificate is not trusted ({text}); with sslmode=require give \
             its CA with --database-ca-file"
        ));
    }
    StoreError::Unavailable(format!("the database is unreachable: {text}"))
}

fn encode<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, StoreError> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode record: {e}")))
}

/// Last-use times waiting to be written.
#[derive(Default)]
struct Touches {
    sessions: HashMap<CredentialDigest, DateTime<Utc>>,
    keys: HashMap<ApiKeyId, (CredentialDigest, DateTime<Utc>)>,
}

/// What the store's calls, its change follower and its touch writer share.
pub(crate) struct Inner {
    pool: Pool,
    config: tokio_postgres::Config,
    tls: MakeTlsConnector,
    handle: tokio::runtime::Handle,
    feed: ChangeFeed,
    master: MasterKey,
    writer: String,
    /// The last change applied from the log.
    applied: AtomicI64,
    /// Whether the connection that listens for changes is up.
    listening: AtomicBool,
    /// Whether the database was found unreachable (and not reached since).
    down: AtomicBool,
    closed: AtomicBool,
    touches: Mutex<Touches>,
}

/// The PostgreSQL store.
pub struct PgStore {
    inner: Arc<Inner>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
        if let Some(rt) = self
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            rt.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connect, migrate the schema, check the master key and start following changes.
    pub fn open(options: &PgOptions, master: &MasterKeySource) -> Result<PgStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&options.url)
            .map_err(|e| StoreError::Io(format!("the database URL cannot be read: {e}")))?;
        let tls = tls_connector(config.get_ssl_mode(), options.ca_file.as_deref())?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("jwt-asset-server");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("cannot start the database threads: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(options.pool_size.max(2))
                .wait_timeout(Some(CONNECT_TIMEOUT))
                .create_timeout(Some(CONNECT_TIMEOUT))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Io(format!("cannot set up the connection pool: {e}")))?
        };
        let handle = runtime.handle().clone();

        // Migrate, then read where the change log stands before anything else is read, so that no
        // change made after this point is missed.
        let migrate_pool = pool.clone();
        let (key_id, applied) = block_on(&handle, async move {
            let mut client = migrate_pool.get().await.map_err(pool_error)?;
            schema::migrate(&mut client).await?;
            let key_id: Option<String> = client
                .query_opt("SELECT value FROM meta WHERE key = 'master_key_id'", &[])
                .await
                .map_err(db_error)?
                .map(|r| r.get(0));
            let applied: i64 = client
                .query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])
                .await
                .map_err(db_error)?
                .get(0);
            Ok((key_id, applied))
        })?;
        let master = settle_master_key(&handle, &pool, key_id, master)?;

        let inner = Arc::new(Inner {
            pool,
            config,
            tls,
            handle,
            feed: ChangeFeed::new(),
            master,
            writer: options.instance.clone(),
            applied: AtomicI64::new(applied),
            listening: AtomicBool::new(false),
            down: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            touches: Mutex::new(Touches::default()),
        });
        follow::start(&inner, options.poll)?;
        start_housekeeping(&inner)?;
        // Start once changes are heard, so that the first health check tells the truth.
        let deadline = std::time::Instant::now() + CONNECT_TIMEOUT;
        while !inner.listening.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(PgStore {
            inner,
            runtime: Mutex::new(Some(runtime)),
        })
    }

    /// Whether this instance hears of changes at once (else it polls).
    pub fn listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    /// Apply every change other instances recorded so far (tests; the follower does it anyway).
    pub fn catch_up(&self) -> Result<usize, StoreError> {
        self.inner.catch_up()
    }
}

/// Run `fut` on the database runtime and wait for it on this thread.
fn block_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let answer = match tokio::time::timeout(CALL_TIMEOUT, fut).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database did not answer within {} s",
                CALL_TIMEOUT.as_secs()
            ))),
        };
        let _ = tx.send(answer);
    });
    rx.recv()
        .map_err(|_| StoreError::Unavailable("the database threads stopped".into()))?
}

/// The master key the database's secrets are sealed with: the one recorded in the database must
/// be the one given; a new database records the one given (created when missing).
fn settle_master_key(
    handle: &tokio::runtime::Handle,
    pool: &Pool,
    recorded: Option<String>,
    source: &MasterKeySource,
) -> Result<MasterKey, StoreError> {
    let key = match (&recorded, source.load()?) {
        (_, Some(key)) => key,
        (None, None) => source.load_or_create()?,
        (Some(id), None) => {
            return Err(StoreError::MasterKey(format!(
                "the database's secrets are sealed with master key {id}, and {} does not exist; \
                 every instance needs that same key (JWT_ASSET_SERVER_MASTER_KEY or --master-key-file)",
                source.describe()
            )));
        }
    };
    let pool = pool.clone();
    let ours = key.id().to_owned();
    let stored: String = block_on(handle, async move {
        let client = pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO meta (key, value) VALUES ('master_key_id', $1) ON CONFLICT DO NOTHING",
                &[&ours],
            )
            .await
            .map_err(db_error)?;
        Ok(client
            .query_one("SELECT value FROM meta WHERE key = 'master_key_id'", &[])
            .await
            .map_err(db_error)?
            .get(0))
    })?;
    if stored != key.id() {
        return Err(StoreError::MasterKey(format!(
            "the database's secrets are sealed with master key {stored}, but {} holds key {}; \
             every instance needs that same key",
            source.describe(),
            key.id()
        )));
    }
    Ok(key)
}

/// Background work: touches written once a second; old changes, expired throttle windows
/// deleted now and then.
fn start_housekeeping(inner: &Arc<Inner>) -> Result<(), StoreError> {
    let inner = inner.clone();
    std::thread::Builder::new()
        .name("pg-touches".into())
        .spawn(move || {
            let mut ticks = 0u64;
            while !inner.closed.load(Ordering::Acquire) {
                std::thread::sleep(TOUCH_FLUSH);
                if let Err(e) = inner.flush_touches() {
                    tracing::warn!(error = %e, "cannot write last-use times; retrying");
                }
                ticks += 1;
                if ticks % 600 == 1 {
                    let pool = inner.pool.clone();
                    let pruned = inner.run(async move {
                        let client = pool.get().await.map_err(pool_error)?;
                        client
                            .execute(
                                "DELETE FROM changes WHERE at < now() - make_interval(hours => $1)",
                                &[&CHANGES_KEPT_HOURS],
                            )
                            .await
                            .map_err(db_error)?;
                        client
                            .execute(
                                "DELETE FROM failed_sign_ins WHERE since < now() - interval '1 day'",
                                &[],
                            )
                            .await
                            .map_err(db_error)?;
                        Ok(())
                    });
                    if let Err(e) = pruned {
                        tracing::debug!(error = %e, "cannot prune the change log now");
                    }
                }
            }
        })
        .map_err(|e| StoreError::Io(format!("cannot start the touch writer: {e}")))?;
    Ok(())
}

/// Record `changes` in the transaction `tx`, in change-log order, and notify the followers (the
/// notification is delivered at commit).
async fn record(
    tx: &Transaction<'_>,
    writer: &str,
    changes: &[follow::Recorded],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::CHANGE_LOCK])
        .await
        .map_err(db_error)?;
    for change in changes {
        let value = encode(change)?;
        tx.execute(
            "INSERT INTO changes (writer, change) VALUES ($1, $2)",
            &[&writer, &value],
        )
        .await
        .map_err(db_error)?;
    }
    tx.execute("SELECT pg_notify($1, '')", &[&follow::CHANNEL])
        .await
        .map_err(db_error)?;
    Ok(())
}

impl Inner {
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        if !super::may_wait() {
            return Err(StoreError::Unavailable(
                "a database read on an async worker (to be run on a blocking thread)".into(),
            ));
        }
        // While the database is known to be down, answer at once instead of waiting for a
        // connection that cannot be made: a request that misses the cache fails fast and never
        // holds an HTTP worker for the connect timeout.
        if self.down.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(
                "the database is unreachable (reconnecting every second)".into(),
            ));
        }
        block_on(&self.handle, fut)
    }

    /// An asset's record sealed under a new data key, and that key wrapped with the master key.
    fn seal(&self, asset: &Asset) -> Result<(Value, Vec<u8>), StoreError> {
        let key = SealingKey::generate()?;
        let name = format!("{}.{}", asset.id.as_str(), random_token::<9>());
        let wrapped = self.master.wrap(&name, &key)?;
        let sealed = SealedAsset::seal(asset, &name, &key)?;
        Ok((encode(&sealed)?, wrapped))
    }

    fn open(&self, record: Value, wrapped: &[u8]) -> Result<Asset, StoreError> {
        self.open_sealed(decode(record)?, wrapped)
    }

    fn open_sealed(&self, sealed: SealedAsset, wrapped: &[u8]) -> Result<Asset, StoreError> {
        let key = self.master.unwrap(&sealed.key, wrapped).ok_or_else(|| {
            StoreError::MasterKey(format!(
                "the data key of asset {} does not open with master key {} (damaged, or sealed by another key)",
                sealed.asset.id,
                self.master.id()
            ))
        })?;
        sealed.open(&key)
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, StoreError> {
        let (pool, id) = (self.pool.clone(), id.as_str().to_owned());
        let row = self.run(async move {
            let client = pool.get().await.map_err(pool_error)?;
            client
                .query_opt("SELECT record, data_key FROM assets WHERE id = $1", &[&id])
                .await
                .map_err(db_error)
        })?;
        row.map(|r| self.open(r.get(0), r.get::<_, Vec<u8>>(1).as_slice()))
            .transpose()
    }

    /// Run a write (see [`in_transaction`]) and publish its changes here once committed.
    fn write<T: Send + 'static, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: for<'t> FnOnce(&'t Transaction<'_>) -> TxBody<'t, T> + Send + 'static,
    {
        let (out, changes) =
            self.run(in_transaction(self.pool.clone(), self.writer.clone(), body))?;
        for change in &changes {
            self.feed.publish(change);
        }
        Ok(out)
    }

    /// Write the last-use times noted since the last flush, with their changes.
    fn flush_touches(&self) -> Result<(), StoreError> {
        let touches = std::mem::take(&mut *self.touches.lock().unwrap_or_else(|e| e.into_inner()));
        if touches.sessions.is_empty() && touches.keys.is_empty() {
            return Ok(());
        }
        let mut changes = Vec::new();
        let mut sessions = Vec::new();
        // Published as touches: caches here and on the other instances keep the record and take
        // the newer time (forgetting it would send the next request to the database, which
        // during an outage means a refused token).
        for (digest, at) in &touches.sessions {
            sessions.push((digest.to_vec(), encode(at)?, *at));
            changes.push(Change::SessionTouched {
                digest: *digest,
                last_seen: *at,
            });
        }
        let mut keys = Vec::new();
        for (id, (digest, at)) in &touches.keys {
            keys.push((id.as_str().to_owned(), encode(at)?));
            changes.push(Change::ApiKeyTouched {
                digest: *digest,
                last_used_at: *at,
            });
        }
        let written = self.write(move |tx| {
            Box::pin(async move {
                for (digest, json, at) in &sessions {
                    tx.execute(
                        "UPDATE sessions SET record = jsonb_set(record, '{last_seen}', $2) \
                         WHERE digest = $1 AND (record->>'last_seen')::timestamptz < $3",
                        &[digest, json, at],
                    )
                    .await
                    .map_err(db_error)?;
                }
                for (id, at) in &keys {
                    // Never brings back a key revoked meanwhile: a revoked key has no digest.
                    tx.execute(
                        "UPDATE api_keys SET record = jsonb_set(record, '{last_used_at}', $2) \
                         WHERE id = $1 AND digest IS NOT NULL",
                        &[id, at],
                    )
                    .await
                    .map_err(db_error)?;
                }
                Ok(((), changes))
            })
        });
        if let Err(e) = written {
            // Put them back (unless newer ones arrived) for the next flush.
            let mut pending = self.touches.lock().unwrap_or_else(|e| e.into_inner());
            for (d, at) in touches.sessions {
                pending.sessions.entry(d).or_insert(at);
            }
            for (id, v) in touches.keys {
                pending.keys.entry(id).or_insert(v);
            }
            return Err(e);
        }
        Ok(())
    }
}

impl PgStore {
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.inner.run(fut)
    }

    fn pool(&self) -> Pool {
        self.inner.pool.clone()
    }

    fn writer(&self) -> String {
        self.inner.writer.clone()
    }

    /// Run a write whose changes are known before it runs (see [`Inner::write`]).
    fn write<T: Send + 'static, F>(&self, changes: Vec<Change>, body: F) -> Result<T, StoreError>
    where
        F: for<'t> FnOnce(
                &'t Transaction<'_>,
            ) -> std::pin::Pin<
                Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>,
            > + Send
            + 'static,
    {
        self.inner
            .write(move |tx| Box::pin(async move { Ok((body(tx).await?, changes)) }))
    }

    /// Every asset row: its record and its wrapped data key.
    fn asset_rows(&self) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.query(|c| {
            Box::pin(async move {
                c.query("SELECT record, data_key FROM assets ORDER BY id", &[])
                    .await
                    .map_err(db_error)
            })
        })
    }

    fn query<T: Send + 'static, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: for<'c> FnOnce(
                &'c deadpool_postgres::Client,
            ) -> std::pin::Pin<
                Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>,
            > + Send
            + 'static,
    {
        let pool = self.pool();
        self.run(async move {
            let client = pool.get().await.map_err(pool_error)?;
            body(&client).await
        })
    }
}

/// An asset path as stored, checked again on the way out.
fn stored_path(id: &str, path: &str) -> Result<crate::domain::asset::AssetPath, StoreError> {
    crate::domain::asset::AssetPath::parse(path)
        .map_err(|_| StoreError::Corrupt(format!("asset {id} has a stored path that is not valid")))
}

/// A unique-index conflict named for the person who caused it.
fn conflict(e: StoreError, message: impl FnOnce() -> String) -> StoreError {
    match e {
        StoreError::Conflict(_) => StoreError::Conflict(message()),
        other => other,
    }
}

impl Store for PgStore {
    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let (id, key, version, record) = (
            user.id.as_str().to_owned(),
            user.username.key(),
            user.version as i64,
            encode(user)?,
        );
        let change = Change::UserChanged {
            id: user.id.clone(),
        };
        self.write(vec![change], move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO users (id, username_key, version, record) VALUES ($1, $2, $3, $4)",
                    &[&id, &key, &version, &record],
                )
                .await
                .map_err(db_error)?;
                Ok(())
            })
        })
        .map_err(|e| conflict(e, || format!("the username {} is taken", user.username)))
    }

    fn delete_user(&self, id: &UserId, expected_version: u64) -> Result<(), StoreError> {
        let (key, user) = (id.as_str().to_owned(), id.clone());
        let version = i64::try_from(expected_version).map_err(|_| StoreError::VersionMismatch)?;
        self.inner.write(move |tx| {
            Box::pin(async move {
                let gone = tx
                    .execute(
                        "DELETE FROM users WHERE id = $1 AND version = $2",
                        &[&key, &version],
                    )
                    .await
                    .map_err(db_error)?;
                if gone == 0 {
                    return Err(
                        missing_or_moved(tx, "SELECT 1 FROM users WHERE id = $1", &key).await,
                    );
                }
                let sessions = tx
                    .query(
                        "DELETE FROM sessions WHERE user_id = $1 RETURNING digest",
                        &[&key],
                    )
                    .await
                    .map_err(db_error)?;
                let keys = tx
                    .query(
                        "DELETE FROM api_keys WHERE user_id = $1 RETURNING record",
                        &[&key],
                    )
                    .await
                    .map_err(db_error)?;
                let mut changes = vec![
                    Change::UserChanged { id: user.clone() },
                    Change::SessionsEnded {
                        user,
                        digests: sessions
                            .iter()
                            .filter_map(|r| r.get::<_, Vec<u8>>(0).try_into().ok())
                            .collect(),
                    },
                ];
                for row in &keys {
                    let key: ApiKey = decode(row.get(0))?;
                    changes.push(Change::ApiKeyChanged {
                        digest: Some(key.digest),
                    });
                }
                Ok(((), changes))
            })
        })
    }

    fn update_user(&self, user: &User, expected_version: u64) -> Result<(), StoreError> {
        let (id, version, record) = (
            user.id.as_str().to_owned(),
            user.version as i64,
            encode(user)?,
        );
        let expected = expected_version as i64;
        let change = Change::UserChanged {
            id: user.id.clone(),
        };
        self.write(vec![change], move |tx| {
            Box::pin(async move {
                let found = tx
                    .query_opt("SELECT version FROM users WHERE id = $1 FOR UPDATE", &[&id])
                    .await
                    .map_err(db_error)?;
                match found.map(|r| r.get::<_, i64>(0)) {
                    None => return Err(StoreError::Missing),
                    Some(v) if v != expected => return Err(StoreError::VersionMismatch),
                    Some(_) => {}
                }
                tx.execute(
                    "UPDATE users SET version = $2, record = $3 WHERE id = $1 AND version = $4",
                    &[&id, &version, &record, &expected],
                )
                .await
                .map_err(db_error)?;
                Ok(())
            })
        })
    }

    fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, StoreError> {
        let id = id.as_str().to_owned();
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT record FROM users WHERE id = $1", &[&id])
                    .await
                    .map_err(db_error)
            })
        })?;
        row.map(|r| decode::<User>(r.get(0)).map(Arc::new))
            .transpose()
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let key = username.to_ascii_lowercase();
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT record FROM users WHERE username_key = $1", &[&key])
                    .await
                    .map_err(db_error)
            })
        })?;
        row.map(|r| decode(r.get(0))).transpose()
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = self.query(|c| {
            Box::pin(async move {
                c.query("SELECT record FROM users ORDER BY username_key", &[])
                    .await
                    .map_err(db_error)
            })
        })?;
        rows.into_iter().map(|r| decode(r.get(0))).collect()
    }

    fn user_by_upstream(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT record FROM users WHERE record->'upstream'->>'issuer' = $1 \
                     AND record->'upstream'->>'subject' = $2 LIMIT 1",
                    &[&issuer, &subject],
                )
                .await
                .map_err(db_error)
            })
        })?;
        row.map(|r| decode(r.get(0))).transpose()
    }

    fn users_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let prefix = prefix.to_ascii_lowercase();
        let after = after.map(str::to_ascii_lowercase);
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.query(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT record FROM users WHERE starts_with(username_key, $1) \
                     AND ($2::text IS NULL OR username_key > $2) ORDER BY username_key LIMIT $3",
                    &[&prefix, &after, &limit],
                )
                .await
                .map_err(db_error)
            })
        })?;
        rows.into_iter().map(|r| decode(r.get(0))).collect()
    }

    fn has_users(&self) -> Result<bool, StoreError> {
        self.query(|c| {
            Box::pin(async move {
                Ok(c.query_one("SELECT EXISTS (SELECT 1 FROM users)", &[])
                    .await
                    .map_err(db_error)?
                    .get(0))
            })
        })
    }

    fn put_session(&self, digest: &CredentialDigest, session: &Session) -> Result<(), StoreError> {
        let (d, user, record) = (
            digest.to_vec(),
            session.user_id.as_str().to_owned(),
            encode(session)?,
        );
        self.write(
            vec![Change::SessionChanged { digest: *digest }],
            move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "INSERT INTO sessions (digest, user_id, record) VALUES ($1, $2, $3) \
                     ON CONFLICT (digest) DO UPDATE SET user_id = $2, record = $3",
                        &[&d, &user, &record],
                    )
                    .await
                    .map_err(db_error)?;
                    Ok(())
                })
            },
        )
    }

    fn touch_session(
        &self,
        digest: &CredentialDigest,
        session: &Session,
    ) -> Result<(), StoreError> {
        let mut touches = self.inner.touches.lock().unwrap_or_else(|e| e.into_inner());
        let at = touches.sessions.entry(*digest).or_insert(session.last_seen);
        *at = (*at).max(session.last_seen);
        Ok(())
    }

    fn session(&self, digest: &CredentialDigest) -> Result<Option<Arc<Session>>, StoreError> {
        let d = digest.to_vec();
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT record FROM sessions WHERE digest = $1", &[&d])
                    .await
                    .map_err(db_error)
            })
        })?;
        row.map(|r| decode::<Session>(r.get(0)).map(Arc::new))
            .transpose()
    }

    fn remove_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        let d = digest.to_vec();
        self.write(
            vec![Change::SessionChanged { digest: *digest }],
            move |tx| {
                Box::pin(async move {
                    tx.execute("DELETE FROM sessions WHERE digest = $1", &[&d])
                        .await
                        .map_err(db_error)?;
                    Ok(())
                })
            },
        )
    }

    fn discard_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        // Best-effort and off the caller's thread: the session's times refuse it anyway.
        let (pool, d, writer) = (self.pool(), digest.to_vec(), self.writer());
        let change = Change::SessionChanged { digest: *digest };
        let inner = self.inner.clone();
        self.inner.handle.spawn(async move {
            let discarded = in_transaction(pool, writer, move |tx| {
                Box::pin(async move {
                    tx.execute("DELETE FROM sessions WHERE digest = $1", &[&d])
                        .await
                        .map_err(db_error)?;
                    Ok(((), vec![change]))
                })
            })
            .await;
            match discarded {
                // Published once gone, so that no cache reads it back meanwhile (the subscribers
                // only forget cached records: nothing that waits on this runtime).
                Ok(((), changes)) => changes.iter().for_each(|c| inner.feed.publish(c)),
                Err(e) => tracing::debug!(error = %e, "cannot forget an expired session now"),
            }
        });
        Ok(())
    }

    fn remove_user_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        // The digests are known only once deleted, inside the transaction.
        let (id, owner) = (user.as_str().to_owned(), user.clone());
        self.inner.write(move |tx| {
            Box::pin(async move {
                let rows = tx
                    .query(
                        "DELETE FROM sessions WHERE user_id = $1 RETURNING digest",
                        &[&id],
                    )
                    .await
                    .map_err(db_error)?;
                let digests: Vec<CredentialDigest> = rows
                    .iter()
                    .filter_map(|r| r.get::<_, Vec<u8>>(0).try_into().ok())
                    .collect();
                let removed = digests.len();
                let change = Change::SessionsEnded {
                    user: owner,
                    digests,
                };
                Ok((removed, vec![change]))
            })
        })
    }

    fn user_sessions(&self, user: &UserId) -> Result<Vec<Session>, StoreError> {
        let id = user.as_str().to_owned();
        let rows = self.query(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT record FROM sessions WHERE user_id = $1 ORDER BY record->>'created_at'",
                    &[&id],
                )
                .await
                .map_err(db_error)
            })
        })?;
        rows.into_iter().map(|r| decode(r.get(0))).collect()
    }

    fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let (id, user, digest, created, record) = (
            key.id.as_str().to_owned(),
            key.user_id.as_str().to_owned(),
            key.digest.to_vec(),
            key.created_at,
            encode(key)?,
        );
        let change = Change::ApiKeyChanged {
            digest: Some(key.digest),
        };
        self.write(vec![change], move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO api_keys (id, user_id, digest, created_at, record) VALUES ($1, $2, $3, $4, $5)",
                    &[&id, &user, &digest, &created, &record],
                )
                .await
                .map_err(db_error)?;
                Ok(())
            })
        })
        .map_err(|e| conflict(e, || "duplicate API key".into()))
    }

    fn api_key_by_digest(
        &self,
        digest: &CredentialDigest,
    ) -> Result<Option<Arc<ApiKey>>, StoreError> {
        let d = digest.to_vec();
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT record FROM api_keys WHERE digest = $1", &[&d])
                    .await
                    .map_err(db_error)
            })
        })?;
        let key: Option<ApiKey> = row.map(|r| decode(r.get(0))).transpose()?;
        Ok(key.filter(|k| k.revoked_at.is_none()).map(Arc::new))
    }

    fn touch_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        if let Some(at) = key.last_used_at {
            let mut touches = self.inner.touches.lock().unwrap_or_else(|e| e.into_inner());
            let entry = touches
                .keys
                .entry(key.id.clone())
                .or_insert((key.digest, at));
            entry.1 = entry.1.max(at);
        }
        Ok(())
    }

    fn revoke_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> Result<ApiKey, StoreError> {
        let key_id = id.as_str().to_owned();
        self.inner.write(move |tx| {
            Box::pin(async move {
                let Some(row) = tx
                    .query_opt(
                        "SELECT record FROM api_keys WHERE id = $1 FOR UPDATE",
                        &[&key_id],
                    )
                    .await
                    .map_err(db_error)?
                else {
                    return Err(StoreError::Missing);
                };
                let mut key: ApiKey = decode(row.get(0))?;
                if key.revoked_at.is_none() {
                    key.revoked_at = Some(at);
                }
                let record = encode(&key)?;
                tx.execute(
                    "UPDATE api_keys SET digest = NULL, record = $2 WHERE id = $1",
                    &[&key_id, &record],
                )
                .await
                .map_err(db_error)?;
                let change = Change::ApiKeyChanged {
                    digest: Some(key.digest),
                };
                Ok((key, vec![change]))
            })
        })
    }

    fn api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>, StoreError> {
        let id = user.as_str().to_owned();
        let rows = self.query(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT record FROM api_keys WHERE user_id = $1 ORDER BY created_at, id",
                    &[&id],
                )
                .await
                .map_err(db_error)
            })
        })?;
        rows.into_iter().map(|r| decode(r.get(0))).collect()
    }

    fn insert_asset(&self, asset: &Asset) -> Result<(), StoreError> {
        let (record, wrapped) = self.inner.seal(asset)?;
        let (id, path, version) = (
            asset.id.as_str().to_owned(),
            asset.path.as_str().to_owned(),
            asset.version as i64,
        );
        let change = Change::AssetChanged {
            asset: Arc::new(asset.clone()),
            old_path: None,
        };
        self.write(vec![change], move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO assets (id, path, version, data_key, record) VALUES ($1, $2, $3, $4, $5)",
                    &[&id, &path, &version, &wrapped, &record],
                )
                .await
                .map_err(db_error)?;
                Ok(())
            })
        })
        .map_err(|e| conflict(e, || format!("the path {} is used by another asset", asset.path)))
    }

    fn replace_asset(&self, asset: &Asset, expected_version: u64) -> Result<(), StoreError> {
        let (record, wrapped) = self.inner.seal(asset)?;
        let (id, path, version) = (
            asset.id.as_str().to_owned(),
            asset.path.as_str().to_owned(),
            asset.version as i64,
        );
        let expected = expected_version as i64;
        let stored = Arc::new(asset.clone());
        self.inner
            .write(move |tx| {
                Box::pin(async move {
                    let Some(row) = tx
                        .query_opt(
                            "SELECT version, path FROM assets WHERE id = $1 FOR UPDATE",
                            &[&id],
                        )
                        .await
                        .map_err(db_error)?
                    else {
                        return Err(StoreError::Missing);
                    };
                    if row.get::<_, i64>(0) != expected {
                        return Err(StoreError::VersionMismatch);
                    }
                    let old: String = row.get(1);
                    tx.execute(
                        "UPDATE assets SET path = $2, version = $3, data_key = $4, record = $5 \
                         WHERE id = $1 AND version = $6",
                        &[&id, &path, &version, &wrapped, &record, &expected],
                    )
                    .await
                    .map_err(db_error)?;
                    let old_path = (old != path).then(|| stored_path(&id, &old)).transpose()?;
                    let change = Change::AssetChanged {
                        asset: stored,
                        old_path,
                    };
                    Ok(((), vec![change]))
                })
            })
            .map_err(|e| {
                conflict(e, || {
                    format!("the path {} is used by another asset", asset.path)
                })
            })
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, StoreError> {
        self.inner.asset(id)
    }

    fn asset_by_path(&self, path: &str) -> Result<Option<Asset>, StoreError> {
        let path = path.to_owned();
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT record, data_key FROM assets WHERE path = $1",
                    &[&path],
                )
                .await
                .map_err(db_error)
            })
        })?;
        row.map(|r| self.inner.open(r.get(0), r.get::<_, Vec<u8>>(1).as_slice()))
            .transpose()
    }

    fn assets(&self) -> Result<Vec<Asset>, StoreError> {
        self.asset_rows()?
            .into_iter()
            .map(|r| self.inner.open(r.get(0), r.get::<_, Vec<u8>>(1).as_slice()))
            .collect()
    }

    fn asset_index(&self) -> Result<Vec<BareAsset>, StoreError> {
        // A data key is unwrapped only for a record that predates the weak-secret mark.
        self.asset_rows()?
            .into_iter()
            .map(|r| {
                let sealed: SealedAsset = decode(r.get(0))?;
                sealed.bare(|sealed| self.inner.open_sealed(sealed, r.get(1)))
            })
            .collect()
    }

    fn delete_asset(&self, id: &AssetId, expected_version: u64) -> Result<(), StoreError> {
        let (key, asset_id) = (id.as_str().to_owned(), id.clone());
        let version = i64::try_from(expected_version).map_err(|_| StoreError::VersionMismatch)?;
        self.inner.write(move |tx| {
            Box::pin(async move {
                let Some(row) = tx
                    .query_opt(
                        "DELETE FROM assets WHERE id = $1 AND version = $2 RETURNING path",
                        &[&key, &version],
                    )
                    .await
                    .map_err(db_error)?
                else {
                    return Err(
                        missing_or_moved(tx, "SELECT 1 FROM assets WHERE id = $1", &key).await,
                    );
                };
                let path = stored_path(&key, row.get(0))?;
                Ok(((), vec![Change::AssetPurged { id: asset_id, path }]))
            })
        })
    }

    fn sign_in_settings(&self) -> Result<SignInSettings, StoreError> {
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT sealed FROM sign_in_settings", &[])
                    .await
                    .map_err(db_error)
            })
        })?;
        let sealed = row.map(|r| r.get::<_, Vec<u8>>(0));
        self.inner.master.stored_settings(sealed.as_deref())
    }

    fn replace_sign_in_settings(
        &self,
        settings: &SignInSettings,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let sealed = self.inner.master.seal_settings(settings)?;
        let (version, expected) = (settings.version as i64, expected_version as i64);
        self.write(vec![Change::SignInSettingsChanged], move |tx| {
            Box::pin(async move {
                let found = tx
                    .query_opt("SELECT version FROM sign_in_settings FOR UPDATE", &[])
                    .await
                    .map_err(db_error)?
                    .map(|r| r.get::<_, i64>(0))
                    .unwrap_or(0);
                if found != expected {
                    return Err(StoreError::VersionMismatch);
                }
                tx.execute(
                    "INSERT INTO sign_in_settings (id, version, sealed) VALUES (true, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET version = $1, sealed = $2",
                    &[&version, &sealed],
                )
                .await
                .map_err(db_error)?;
                Ok(())
            })
        })
    }

    fn changes(&self) -> &ChangeFeed {
        &self.inner.feed
    }

    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let rows = AuditRows::of(events)?;
        let pool = self.pool();
        self.run(async move {
            let client = pool.get().await.map_err(pool_error)?;
            rows.insert(&**client).await
        })
    }

    fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<AuditPosition>,
        limit: usize,
    ) -> Result<Vec<(AuditPosition, AuditEvent)>, StoreError> {
        // A text filter as (exact value, LIKE pattern): exact matches compare as before
        // (the actor without regard to case), prefixes are matched with LIKE on lower case.
        fn like_prefix(p: &str) -> String {
            let mut out = String::with_capacity(p.len() + 1);
            for c in p.to_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('%');
            out
        }
        let split = |m: Option<&TextMatch>, fold: bool| match m {
            None => (None, None),
            Some(TextMatch::Exact(v)) => (
                Some(if fold {
                    v.to_ascii_lowercase()
                } else {
                    v.clone()
                }),
                None,
            ),
            Some(TextMatch::Prefix(p)) => (None, Some(like_prefix(p))),
        };
        let (actor, actor_like) = split(filter.actor.as_ref(), true);
        let (target, target_like) = split(filter.target.as_ref(), false);
        let (action, family) = (
            filter.action.clone(),
            filter
                .action
                .as_deref()
                .map(|a| format!("{}.%", like_prefix(a).trim_end_matches('%'))),
        );
        let (since, until) = (filter.since, filter.until);
        let limit = limit.min(i64::MAX as usize) as i64;
        let (before_seq, before_i) = (
            before.map(|b| b.batch.min(i64::MAX as u64) as i64),
            before.map(|b| b.index.saturating_add(1).min(i64::MAX as u64) as i64),
        );
        let rows = self.query(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT e.value, a.seq, e.i FROM audit a \
                     CROSS JOIN LATERAL json_array_elements(a.events) WITH ORDINALITY AS e(value, i) \
                     WHERE ($1::text IS NULL OR lower(e.value->>'actor') = $1) \
                     AND ($2::text IS NULL OR lower(e.value->>'actor') LIKE $2) \
                     AND ($3::text IS NULL OR e.value->>'target' = $3) \
                     AND ($4::text IS NULL OR lower(e.value->>'target') LIKE $4) \
                     AND ($5::text IS NULL OR e.value->>'action' = $5 OR e.value->>'action' LIKE $6) \
                     AND ($7::timestamptz IS NULL OR (e.value->>'at')::timestamptz >= $7) \
                     AND ($8::timestamptz IS NULL OR (e.value->>'at')::timestamptz < $8) \
                     AND ($10::bigint IS NULL OR a.seq <= $10) \
                     AND ($10::bigint IS NULL OR (a.seq, e.i) < ($10, $11::bigint)) \
                     ORDER BY a.seq DESC, e.i DESC LIMIT $9",
                    &[
                        &actor,
                        &actor_like,
                        &target,
                        &target_like,
                        &action,
                        &family,
                        &since,
                        &until,
                        &limit,
                        &before_seq,
                        &before_i,
                    ],
                )
                .await
                .map_err(db_error)
            })
        })?;
        rows.into_iter()
            .map(|r| {
                // Ordinality counts from 1: positions count from 0.
                let (seq, i): (i64, i64) = (r.get(1), r.get(2));
                let at = AuditPosition {
                    batch: seq as u64,
                    index: (i - 1) as u64,
                };
                Ok((at, decode(r.get(0))?))
            })
            .collect()
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self.query(|c| {
            Box::pin(async move {
                Ok(
                    c.query_one("SELECT coalesce(sum(n), 0)::int8 FROM audit", &[])
                        .await
                        .map_err(db_error)?
                        .get(0),
                )
            })
        })?;
        Ok(n as u64)
    }

    fn keep_newest_audit(&self, keep: u64) -> Result<u64, StoreError> {
        let keep = keep.min(i64::MAX as u64 / 2) as i64;
        let removed: i64 = self.query(move |c| {
            Box::pin(async move {
                // Whole rows go: the oldest ones beyond the newest row at which the count of
                // newer events reaches `keep` (so never fewer than `keep` remain).
                Ok(c.query_one(
                    "WITH boundary AS ( \
                         SELECT seq FROM ( \
                             SELECT seq, sum(n) OVER (ORDER BY seq DESC) AS newer FROM audit \
                         ) counted WHERE newer >= $1 ORDER BY seq DESC LIMIT 1 \
                     ), gone AS ( \
                         DELETE FROM audit WHERE seq < (SELECT seq FROM boundary) RETURNING n \
                     ) SELECT coalesce(sum(n), 0)::int8 FROM gone",
                    &[&keep],
                )
                .await
                .map_err(db_error)?
                .get(0))
            })
        })?;
        Ok(removed as u64)
    }

    fn note_failed_sign_in(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(u32, DateTime<Utc>), StoreError> {
        // Bytes: a throttle key may hold any character (NUL too), which `text` cannot.
        let key = key.as_bytes().to_vec();
        let window = window.num_milliseconds() as f64 / 1000.0;
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_one(
                    "INSERT INTO failed_sign_ins AS f (key, failures, since) VALUES ($1, 1, $2) \
                     ON CONFLICT (key) DO UPDATE SET \
                       failures = CASE WHEN $2 - f.since >= make_interval(secs => $3) THEN 1 ELSE f.failures + 1 END, \
                       since = CASE WHEN $2 - f.since >= make_interval(secs => $3) THEN $2 ELSE f.since END \
                     RETURNING failures, since",
                    &[&key, &at, &window],
                )
                .await
                .map_err(db_error)
            })
        })?;
        Ok((row.get::<_, i32>(0) as u32, row.get(1)))
    }

    fn failed_sign_ins(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Option<(u32, DateTime<Utc>)>, StoreError> {
        // Bytes: a throttle key may hold any character (NUL too), which `text` cannot.
        let key = key.as_bytes().to_vec();
        let window = window.num_milliseconds() as f64 / 1000.0;
        let row = self.query(move |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT failures, since FROM failed_sign_ins \
                     WHERE key = $1 AND $2 - since < make_interval(secs => $3)",
                    &[&key, &at, &window],
                )
                .await
                .map_err(db_error)
            })
        })?;
        Ok(row.map(|r| (r.get::<_, i32>(0) as u32, r.get(1))))
    }

    fn data_migration_done(&self, name: &str) -> Result<bool, StoreError> {
        let key = format!("migration:{name}");
        self.query(move |c| {
            Box::pin(async move {
                Ok(
                    c.query_one("SELECT EXISTS (SELECT 1 FROM meta WHERE key = $1)", &[&key])
                        .await
                        .map_err(db_error)?
                        .get(0),
                )
            })
        })
    }

    fn mark_data_migration_done(&self, name: &str) -> Result<(), StoreError> {
        let key = format!("migration:{name}");
        self.query(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES ($1, 'done') ON CONFLICT DO NOTHING",
                    &[&key],
                )
                .await
                .map_err(db_error)?;
                Ok(())
            })
        })
    }

    fn clear_failed_sign_ins(&self, key: &str) -> Result<(), StoreError> {
        // Bytes: a throttle key may hold any character (NUL too), which `text` cannot.
        let key = key.as_bytes().to_vec();
        self.query(move |c| {
            Box::pin(async move {
                c.execute("DELETE FROM failed_sign_ins WHERE key = $1", &[&key])
                    .await
                    .map_err(db_error)?;
                Ok(())
            })
        })
    }

    fn health(&self) -> Result<(), StoreError> {
        // No query: the listening connection says whether the database is there (it is
        // re-established every second while down), so a health check answers at once even while
        // the database does not.
        if self.listening() {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "the database is unreachable (reconnecting every second)".into(),
            ))
        }
    }

    fn close(&self) -> Result<(), StoreError> {
        let flushed = self.inner.flush_touches();
        self.inner.closed.store(true, Ordering::Release);
        self.inner.pool.close();
        flushed
    }

    fn export_key(&self) -> Result<(String, SealingKey), StoreError> {
        Ok((
            self.inner.master.id().to_owned(),
            self.inner.master.export_key(),
        ))
    }

    fn load(&self, records: &StoreRecords) -> Result<(), StoreError> {
        records.check()?;
        let mut users = Vec::new();
        for u in &records.users {
            users.push((
                u.id.as_str().to_owned(),
                u.username.key(),
                u.version as i64,
                encode(u)?,
            ));
        }
        let mut keys = Vec::new();
        for k in &records.api_keys {
            keys.push((
                k.id.as_str().to_owned(),
                k.user_id.as_str().to_owned(),
                k.revoked_at.is_none().then(|| k.digest.to_vec()),
                k.created_at,
                encode(k)?,
            ));
        }
        let mut assets = Vec::new();
        let mut changes = Vec::new();
        for a in &records.assets {
            let (record, wrapped) = self.inner.seal(a)?;
            assets.push((
                a.id.as_str().to_owned(),
                a.path.as_str().to_owned(),
                a.version as i64,
                wrapped,
                record,
            ));
            changes.push(Change::AssetChanged {
                asset: Arc::new(a.clone()),
                old_path: None,
            });
        }
        let audit = records
            .audit
            .chunks(64 * AUDIT_ROW_EVENTS)
            .map(AuditRows::of)
            .collect::<Result<Vec<_>, _>>()?;
        let settings = match &records.sign_in_settings {
            Some(st) => Some((st.version as i64, self.inner.master.seal_settings(st)?)),
            None => None,
        };
        // One transaction: the dump lands whole or not at all.
        self.write(changes, move |tx| {
            Box::pin(async move {
                let found: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM assets) \
                         OR EXISTS (SELECT 1 FROM api_keys)",
                        &[],
                    )
                    .await
                    .map_err(db_error)?
                    .get(0);
                if found {
                    return Err(StoreError::Conflict(
                        "the database is not empty: a dump is restored into a new, empty database"
                            .into(),
                    ));
                }
                if let Some((version, sealed)) = &settings {
                    tx.execute(
                        "INSERT INTO sign_in_settings (id, version, sealed) VALUES (true, $1, $2)",
                        &[version, sealed],
                    )
                    .await
                    .map_err(db_error)?;
                }
                for (id, key, version, record) in &users {
                    tx.execute(
                        "INSERT INTO users (id, username_key, version, record) VALUES ($1, $2, $3, $4)",
                        &[id, key, version, record],
                    )
                    .await
                    .map_err(db_error)?;
                }
                for (id, user, digest, created, record) in &keys {
                    tx.execute(
                        "INSERT INTO api_keys (id, user_id, digest, created_at, record) VALUES ($1, $2, $3, $4, $5)",
                        &[id, user, digest, created, record],
                    )
                    .await
                    .map_err(db_error)?;
                }
                for (id, path, version, wrapped, record) in &assets {
                    tx.execute(
                        "INSERT INTO assets (id, path, version, data_key, record) VALUES ($1, $2, $3, $4, $5)",
                        &[id, path, version, wrapped, record],
                    )
                    .await
                    .map_err(db_error)?;
                }
                for chunk in &audit {
                    chunk.insert(&**tx).await?;
                }
                Ok(())
            })
        })
    }
}

/// Audit events as the database keeps them: rows of up to [`AUDIT_ROW_EVENTS`] events (oldest
/// first), all inserted by one statement.
struct AuditRows {
    counts: Vec<i32>,
    rows: Vec<Value>,
}

/// Events per audit row (as the embedded store's records).
const AUDIT_ROW_EVENTS: usize = 256;

impl AuditRows {
    fn of(events: &[AuditEvent]) -> Result<AuditRows, StoreError> {
        let mut rows = AuditRows {
            counts: Vec::new(),
            rows: Vec::new(),
        };
        for chunk in events.chunks(AUDIT_ROW_EVENTS) {
            rows.counts.push(chunk.len() as i32);
            rows.rows.push(encode(&chunk)?);
        }
        Ok(rows)
    }

    /// Insert them in order (`unnest` keeps the arrays' order, and so the sequence numbers do).
    async fn insert(&self, client: &impl tokio_postgres::GenericClient) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        client
            .execute(
                "INSERT INTO audit (n, events) \
                 SELECT n, e FROM unnest($1::int4[], $2::json[]) WITH ORDINALITY AS u(n, e, i) \
                 ORDER BY i",
                &[&self.counts, &self.rows],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// What a write runs inside its transaction: its value and the changes it made.
type TxBody<'t, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<(T, Vec<Change>), StoreError>> + Send + 't>>;

/// Run `body` in one transaction that also records the changes it answers (in change-log order,
/// for the other instances), and commit.
async fn in_transaction<T, F>(
    pool: Pool,
    writer: String,
    body: F,
) -> Result<(T, Vec<Change>), StoreError>
where
    F: for<'t> FnOnce(&'t Transaction<'_>) -> TxBody<'t, T>,
{
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client.transaction().await.map_err(db_error)?;
    let (out, changes) = body(&tx).await?;
    let recorded: Vec<follow::Recorded> = changes.iter().map(follow::Recorded::of).collect();
    record(&tx, &writer, &recorded).await?;
    tx.commit().await.map_err(db_error)?;
    Ok((out, changes))
}

#[cfg(test)]
mod tests;
