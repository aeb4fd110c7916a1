//! The embedded backend: one sled database, one tree per record kind plus unique indexes.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

pub mod audit;
mod files;
mod keyring;
mod ledger;
mod migrate;
mod pristine;
mod records;
mod refused;
mod sealed;

use super::feed::{Change, ChangeFeed};
use super::throttle::FailedSignIns;
use super::{SCHEMA_VERSION, Store, StoreError};
use crate::domain::asset::Asset;
use crate::domain::audit::{AuditEvent, AuditFilter, AuditLines, AuditPosition};
use crate::domain::credentials::{ApiKey, CredentialDigest, Session};
use crate::domain::identity::SignInSettings;
use crate::domain::user::User;
use crate::ids::{ApiKeyId, AssetId, UserId};
use crate::store::sealing::{MasterKey, MasterKeySource};
use keyring::Keyring;
use ledger::Ledger;
use pristine::BeforeOpen;
use records::{decode, decode_count, encode};
use refused::{Prior, RefusedWrites};

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
            sled::Error::Io(io) => StoreError::Io(io.to_string()),
            other => StoreError::Io(other.to_string()),
        }
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        }
    }
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort<T>(e: StoreError) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// The embedded store: one sled database, one tree per record kind plus unique indexes, and
/// a change published on its feed for every committed write.
pub struct SledStore {
    db: Db,
    users: Tree,
    usernames: Tree,
    sessions: Tree,
    user_sessions: Tree,
    api_keys: Tree,
    api_key_digests: Tree,
    assets: Tree,
    asset_paths: Tree,
    /// The audit trail, in segment files beside sled (see [`audit`]).
    audit: audit::AuditFiles,
    meta: Tree,
    feed: ChangeFeed,
    failed_sign_ins: FailedSignIns,
    ledger: Ledger,
    /// The data keys that seal each asset's secrets (see [`keyring`]).
    keyring: Keyring,
    /// Writes refused but not taken back (see [`refused`]).
    refused: RefusedWrites,
    /// The data directory.
    dir: std::path::PathBuf,
    /// The store's own lock on the directory (see [`files::lock`]).
    _lock: std::fs::File,
    /// A write failed and no probe has succeeded since.
    unwritable: std::sync::atomic::AtomicBool,
    /// Durable writes so far (also in `meta`); held while one is made durable.
    durable_writes: std::sync::Mutex<u64>,
    /// The asset index read at open (see [`SledStore::check_asset_records`]) and the count of durable
    /// writes then: taken by the first `asset_index` if no write came since.
    opened_index: std::sync::Mutex<Option<(u64, Vec<crate::store::BareAsset>)>>,
}

/// sled's page cache: the default (1 GiB) would let the resident set grow with the store; the
/// token path reads from our own caches and the asset list from the catalog, so a small page
/// cache serves the rest (sign-in, admin pages, writes).
const SLED_CACHE_BYTES: u64 = 4 * 1024 * 1024;

fn user_session_key(user: &UserId, digest: &CredentialDigest) -> Vec<u8> {
    let mut k = Vec::with_capacity(user.as_str().len() + 33);
    k.extend_from_slice(user.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(digest);
    k
}

/// `meta` key of the number of acknowledged (durable) writes; see [`ledger`].
const DURABLE_WRITES: &str = "durable_writes";

/// `meta` key present while an import is being written.
const IMPORT_IN_PROGRESS: &str = "import_in_progress";

/// `meta` key of the sealed sign-in settings.
const SIGN_IN_SETTINGS: &str = "sign_in_settings";

/// `meta` key of the id of the master key that wraps the store's data keys.
const MASTER_KEY_ID: &str = "master_key_id";
/// Present while a `rekey` runs (the new key's id): some data keys may be wrapped by the new
/// key and some by the old one, so the store opens with neither until the rekey is run again.
/// (Data keys are read when first used, so this is what refuses such a store at open.)
const REKEY_IN_PROGRESS: &str = "rekey_in_progress";

/// The lock on the store's directory is held (by another process, or by a handle of this one
/// whose threads are still stopping).
#[cfg(test)]
fn is_lock_busy(e: &StoreError) -> bool {
    e.to_string().contains("could not acquire lock")
}

impl SledStore {
    /// Hand a change to the feed (best-effort writes).
    fn publish(&self, change: Change) {
        self.feed.publish(&change);
    }

    /// Make the writes so far durable and count one more acknowledged write: sled's counter
    /// (written after the write, so present after recovery only if the write is), the flush,
    /// then the ledger. One at a time, so the two counters move in step.
    fn make_durable(&self) -> Result<(), StoreError> {
        let mut count = self
            .durable_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let next = *count + 1;
        let durable = self
            .meta
            .insert(DURABLE_WRITES, &next.to_be_bytes())
            .map_err(StoreError::from)
            .and_then(|_| self.db.flush().map_err(StoreError::from))
            .and_then(|_| self.ledger.acknowledge(next));
        match &durable {
            Ok(()) => *count = next,
            Err(e) => self.note_write_failure(e),
        }
        durable
    }

    fn durable_write_count(&self) -> u64 {
        *self
            .durable_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Remember that writes fail (a full disk, a read-only file system): health says so until a
    /// probe or a write succeeds again.
    fn note_write_failure(&self, e: &StoreError) {
        tracing::error!(error = %e, "a write could not be made durable");
        self.unwritable
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The values `keys` hold now: what reads answer if the write about to touch them is
    /// refused and cannot be taken back. Read before the write's transaction, which is right
    /// because writes to one record do not race: the service serializes admin writes
    /// (`Service::lock_writes`), and sessions and API keys are created under fresh random ids.
    fn prior(&self, keys: &[(&Tree, &[u8])]) -> Result<Vec<Prior>, StoreError> {
        keys.iter()
            .map(|(tree, key)| Prior::of(tree, key).map_err(StoreError::from))
            .collect()
    }

    /// Make the write durable and publish its change; when it cannot be made durable (a full
    /// disk), put the `prior` values back so that nothing serves a write that was refused. When
    /// even that fails (sled stays failed after an I/O error), reads answer the prior values
    /// instead, and `stuck` tells the caches (an asset's change carries the refused asset, so it
    /// is not published).
    fn commit_or_undo(
        &self,
        change: Change,
        prior: Vec<Prior>,
        stuck: impl FnOnce(&Change),
    ) -> Result<(), StoreError> {
        let Err(refused) = self.make_durable() else {
            self.feed.publish(&change);
            return Ok(());
        };
        // Taken back durably: a refused write that reached the disk anyway (another write's
        // flush, or a ledger that could not be written) must not come back after a restart.
        let undone = Prior::restore(&prior)
            .and_then(|()| self.db.flush().map(drop))
            .map_err(StoreError::from);
        if let Err(e) = undone {
            tracing::error!(error = %e, "could not take back a refused write");
            self.refused.remember(prior);
            stuck(&change);
        }
        Err(refused)
    }

    /// Remove a session and its index entry.
    fn forget_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        if let Some(old) = self.sessions.remove(digest)? {
            let session: Session = decode(&old)?;
            self.user_sessions
                .remove(user_session_key(&session.user_id, digest))?;
        }
        Ok(())
    }

    /// Open (or create) the store in a directory, checking and migrating the schema version and
    /// unsealing its data keys with the master key from `master`.
    pub fn open(dir: &Path, master: &MasterKeySource) -> Result<SledStore, StoreError> {
        files::private_from_now_on();
        files::create_private_dir(dir)?;
        // The lock first: a second process touches nothing in a directory in use.
        let lock = files::lock(dir)?;
        let loosened = files::tighten(dir)?;
        if loosened > 0 {
            tracing::warn!(
                dir = %dir.display(),
                entries = loosened,
                "the data directory was readable by other users; it is now the server's alone (0700/0600)"
            );
        }
        files::probe_write(dir)?;
        if !dir.join("db").exists() {
            // A new store: its master key exists (or is made) before sled writes anything, so
            // a key that cannot be written leaves no half-made store behind.
            master.load_or_create()?;
        }
        migrate::finish(dir)?;
        let before = BeforeOpen::keep(dir)?;
        // The store keeps a second handle of the lock; this one holds it until the files are back.
        match Self::open_locked(dir, master, &lock) {
            Ok(store) => {
                before.discard()?;
                Ok(store)
            }
            // Another process holds sled's own lock (one that does not take ours): its files
            // are not ours to put back.
            Err(refused @ StoreError::Locked(_)) => {
                before.discard()?;
                Err(refused)
            }
            // sled is closed again: its files go back to how they were found.
            Err(refused) => match before.put_back() {
                Ok(true) => Err(match refused {
                    StoreError::Corrupt(why) => StoreError::Corrupt(format!(
                        "{why} (its files were left exactly as they were found)"
                    )),
                    other => other,
                }),
                Ok(false) => {
                    tracing::warn!(
                        "no copy of the store could be made: sled's repairs of its files stay"
                    );
                    Err(refused)
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not put the store's files back as they were found");
                    Err(refused)
                }
            },
        }
    }

    /// Open the store whose lock is held: schema, migration, ledger, keys.
    fn open_locked(
        dir: &Path,
        master: &MasterKeySource,
        lock: &std::fs::File,
    ) -> Result<SledStore, StoreError> {
        let lock = lock.try_clone().map_err(|e| {
            StoreError::Io(format!("cannot hold the lock of {}: {e}", dir.display()))
        })?;
        let (db, meta, key) = match Self::open_db(dir, master)? {
            Opened::Current(db, meta, key) => (db, meta, key),
            Opened::Unsealed(key) => {
                migrate::seal_secrets(dir, &key)?;
                match Self::open_db(dir, master)? {
                    Opened::Current(db, meta, key) => (db, meta, key),
                    Opened::Unsealed(_) => {
                        return Err(StoreError::Corrupt(
                            "the schema migration did not take".into(),
                        ));
                    }
                }
            }
        };
        let durable_writes = match meta.get(DURABLE_WRITES)? {
            Some(v) => decode_count(&v)?,
            None => 0,
        };
        let ledger = Ledger::open(dir, durable_writes)?;
        audit::migrate_from_sled(dir, &db, &meta)?;
        let store = SledStore {
            users: db.open_tree("users")?,
            usernames: db.open_tree("usernames")?,
            sessions: db.open_tree("sessions")?,
            user_sessions: db.open_tree("user_sessions")?,
            api_keys: db.open_tree("api_keys")?,
            api_key_digests: db.open_tree("api_key_digests")?,
            assets: db.open_tree("assets")?,
            asset_paths: db.open_tree("asset_paths")?,
            audit: audit::AuditFiles::open(dir)?,
            meta,
            db,
            feed: ChangeFeed::new(),
            failed_sign_ins: FailedSignIns::default(),
            ledger,
            keyring: Keyring::open(dir, key)?,
            refused: RefusedWrites::default(),
            dir: dir.to_path_buf(),
            unwritable: std::sync::atomic::AtomicBool::new(false),
            durable_writes: std::sync::Mutex::new(durable_writes),
            opened_index: std::sync::Mutex::new(None),
            _lock: lock,
        };
        store.check_asset_records()?;
        Ok(store)
    }

    /// Replace the store's master key `old` by `new` (on a stopped store): every data key is
    /// wrapped anew, then the store records the new key's id. Run again after an interruption, it
    /// finishes the work (keys already under `new` are left alone). Returns how many data keys
    /// were wrapped anew.
    pub fn rekey(dir: &Path, old: &MasterKey, new: &MasterKey) -> Result<usize, StoreError> {
        if !dir.join("db").exists() {
            return Err(StoreError::MasterKey(format!(
                "{} holds no store: rekey works on an existing data directory (check --data-dir)",
                dir.display()
            )));
        }
        // The lock is held throughout, so no other process opens (or copies) the store meanwhile.
        let lock = files::lock(dir)?;
        // A full open proves the records whole (and seals an older store first); a store whose
        // rekey was cut short opens with neither key alone, and is opened bare. The data keys
        // are read when used, so every one is read below before anything is changed.
        let store = match Self::open_locked(dir, &MasterKeySource::Given(old.clone()), &lock) {
            Ok(store) => Some(store),
            Err(StoreError::MasterKey(_)) => None,
            Err(e) => return Err(e),
        };
        let (db, meta) = match &store {
            Some(store) => (store.db.clone(), store.meta.clone()),
            None => {
                let db = sled::Config::new().path(dir).open()?;
                let meta = db.open_tree("meta")?;
                (db, meta)
            }
        };
        let sealed_by = meta
            .get(MASTER_KEY_ID)?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        if sealed_by != old.id() && sealed_by != new.id() {
            return Err(StoreError::MasterKey(format!(
                "the store in {} is sealed with the master key {sealed_by}, not with the current key {}",
                dir.display(),
                old.id()
            )));
        }
        let rewrap = Keyring::prepare_rewrap(dir, old, new)?;
        meta.insert(REKEY_IN_PROGRESS, new.id().as_bytes())?;
        db.flush()?;
        let rewrapped = rewrap.write(new)?;
        // The sign-in settings are sealed with a key derived from the master key: sealed anew
        // (already done when an interrupted rekey runs again and they open with `new`).
        if let Some(sealed) = meta.get(SIGN_IN_SETTINGS)?
            && new.open_settings(&sealed).is_none()
        {
            let settings = old.open_settings(&sealed).ok_or_else(|| {
                StoreError::Corrupt(
                    "the sign-in settings open with neither the old nor the new master key".into(),
                )
            })?;
            meta.insert(SIGN_IN_SETTINGS, new.seal_settings(&settings)?)?;
        }
        meta.insert(MASTER_KEY_ID, new.id().as_bytes())?;
        meta.remove(REKEY_IN_PROGRESS)?;
        db.flush()?;
        drop((store, meta, db));
        drop(lock);
        Ok(rewrapped)
    }

    /// Open a store for a test, with its master key in a file inside the directory.
    #[cfg(test)]
    ///
    /// sled's flusher thread can hold the directory's lock for a moment after the previous
    /// handle is dropped; a test that reopens at once waits for it (up to ten seconds).
    pub(crate) fn open_for_test(dir: &Path) -> Result<SledStore, StoreError> {
        let master = MasterKeySource::File(dir.join("test-master.key"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match SledStore::open(dir, &master) {
                Err(e) if is_lock_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Open sled itself in `dir` as earlier versions did (tests), waiting like
    /// [`SledStore::open_for_test`] for a lock still held by a dropped handle.
    #[cfg(test)]
    pub(crate) fn raw_for_test(dir: &Path) -> sled::Db {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match sled::open(dir) {
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.expect("sled opens"),
            }
        }
    }

    /// Open sled in `dir`, create the schema record of a new store, and find the master key.
    fn open_db(dir: &Path, master: &MasterKeySource) -> Result<Opened, StoreError> {
        let existed = dir.join("db").exists();
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .open().map_err(|e| match e {
            sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                StoreError::Locked(dir.display().to_string())
            }
            sled::Error::Corruption { .. } => StoreError::Corrupt(format!(
                "{}: the database files hold corrupted data. Restore the directory from a backup",
                dir.display()
            )),
            other => other.into(),
        })?;
        // sled may have created its files before the umask applied to them (an older store).
        files::tighten(dir)?;
        let meta = db.open_tree("meta")?;
        let found = match meta.get("schema_version")? {
            None if existed => {
                return Err(StoreError::Corrupt(format!(
                    "{} holds a database without its schema record (damaged, or not written by jwt-asset-server); \
                     refusing to use it. Restore it from a backup, or point --data-dir elsewhere",
                    dir.display()
                )));
            }
            None => {
                let key = master.load_or_create()?;
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                meta.insert(MASTER_KEY_ID, key.id().as_bytes())?;
                db.flush()?;
                return Ok(Opened::Current(db, meta, key));
            }
            Some(v) => u32::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("schema version record".into()))?,
            ),
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found });
        }
        if found < 2 {
            // Schema 1 kept secrets in the clear: it had no master key yet.
            return Ok(Opened::Unsealed(master.load_or_create()?));
        }
        if meta.contains_key(IMPORT_IN_PROGRESS)? {
            return Err(StoreError::Corrupt(format!(
                "an import into {} was cut short, so it holds part of a dump: delete the directory \
                 and import again",
                dir.display()
            )));
        }
        let sealed_by = meta
            .get(MASTER_KEY_ID)?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .ok_or_else(|| StoreError::Corrupt("the master key record is missing".into()))?;
        if let Some(to) = meta.get(REKEY_IN_PROGRESS)? {
            return Err(StoreError::MasterKey(format!(
                "a rekey of the store in {} from the master key {sealed_by} to {} was cut short: \
                 run the same `rekey` again to finish it",
                dir.display(),
                String::from_utf8_lossy(&to)
            )));
        }
        let key = master.load()?.ok_or_else(|| {
            StoreError::MasterKey(format!(
                "the store in {} is sealed with the master key {sealed_by}, and {} does not exist. \
                 Give the server that key (--master-key-file, or JWT_ASSET_SERVER_MASTER_KEY): \
                 restore the key file from your backup. Without it the store's secrets cannot be opened",
                dir.display(),
                master.describe()
            ))
        })?;
        if key.id() != sealed_by {
            return Err(StoreError::MasterKey(format!(
                "{} holds the master key {}, but the store in {} is sealed with the master key {sealed_by}: \
                 give the server the store's own key (if a `rekey` was interrupted, run it again)",
                master.describe(),
                key.id(),
                dir.display()
            )));
        }
        Ok(Opened::Current(db, meta, key))
    }

    /// Every record of `tree`, as durable.
    fn all<T: DeserializeOwned>(&self, tree: &Tree) -> Result<Vec<T>, StoreError> {
        self.refused
            .values(tree)?
            .iter()
            .map(|v| decode(v))
            .collect()
    }
}

/// What [`SledStore::open_db`] found.
enum Opened {
    /// A store of the current schema, and its master key.
    Current(Db, Tree, MasterKey),
    /// A store whose secrets are not sealed yet (schema 1; sled is closed again), and the key to
    /// seal them with.
    Unsealed(MasterKey),
}

impl Store for SledStore {
    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let record = encode(user)?;
        let key = user.username.key();
        let prior = self.prior(&[
            (&self.users, user.id.as_str().as_bytes()),
            (&self.usernames, key.as_bytes()),
        ])?;
        let trees = (&self.users, &self.usernames);
        trees.transaction(|(users, names)| {
            if names.get(key.as_bytes())?.is_some() {
                return abort(StoreError::Conflict(format!(
                    "the username {} is taken",
                    user.username
                )));
            }
            names.insert(key.as_bytes(), user.id.as_str().as_bytes())?;
            users.insert(user.id.as_str().as_bytes(), record.as_slice())?;
            Ok(())
        })?;
        let change = Change::UserChanged {
            id: user.id.clone(),
        };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))
    }

    fn update_user(&self, user: &User, expected_version: u64) -> Result<(), StoreError> {
        let record = encode(user)?;
        let id = user.id.as_str();
        let prior = self.prior(&[(&self.users, id.as_bytes())])?;
        self.users.transaction(|users| {
            let Some(old) = users.get(id)? else {
                return abort(StoreError::Missing);
            };
            let stored: User = decode(&old).map_err(ConflictableTransactionError::Abort)?;
            if stored.version != expected_version {
                return abort(StoreError::VersionMismatch);
            }
            users.insert(id.as_bytes(), record.as_slice())?;
            Ok(())
        })?;
        let change = Change::UserChanged {
            id: user.id.clone(),
        };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))
    }

    fn delete_user(&self, id: &UserId, expected_version: u64) -> Result<(), StoreError> {
        let Some(old) = self.users.get(id.as_str())? else {
            return Err(StoreError::Missing);
        };
        let stored = decode::<User>(&old)?;
        if stored.version != expected_version {
            return Err(StoreError::VersionMismatch);
        }
        let name = stored.username.key();
        let keys = self.api_keys(id)?;
        let mut prefix = id.as_str().as_bytes().to_vec();
        prefix.push(0);
        let sessions: Vec<sled::IVec> = self
            .user_sessions
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        let mut touched: Vec<(&Tree, &[u8])> = vec![
            (&self.users, id.as_str().as_bytes()),
            (&self.usernames, name.as_bytes()),
        ];
        for k in &keys {
            touched.push((&self.api_keys, k.id.as_str().as_bytes()));
            touched.push((&self.api_key_digests, &k.digest[..]));
        }
        for s in &sessions {
            touched.push((&self.user_sessions, s));
            touched.push((&self.sessions, &s[prefix.len()..]));
        }
        let prior = self.prior(&touched)?;
        let trees = (
            &self.users,
            &self.usernames,
            &self.api_keys,
            &self.api_key_digests,
            &self.sessions,
            &self.user_sessions,
        );
        trees.transaction(|(users, names, api_keys, digests, all_sessions, index)| {
            let Some(current) = users.remove(id.as_str())? else {
                return abort(StoreError::Missing);
            };
            // Changed since it was read above (its keys and sessions with it, perhaps).
            if current != old {
                return abort(StoreError::VersionMismatch);
            }
            names.remove(name.as_bytes())?;
            for k in &keys {
                api_keys.remove(k.id.as_str())?;
                digests.remove(&k.digest[..])?;
            }
            for s in &sessions {
                all_sessions.remove(&s[prefix.len()..])?;
                index.remove(s)?;
            }
            Ok(())
        })?;
        let change = Change::UserChanged { id: id.clone() };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))?;
        self.publish(Change::SessionsEnded {
            user: id.clone(),
            digests: sessions
                .iter()
                .filter_map(|k| CredentialDigest::try_from(&k[prefix.len()..]).ok())
                .collect(),
        });
        for k in &keys {
            self.publish(Change::ApiKeyChanged {
                digest: Some(k.digest),
            });
        }
        Ok(())
    }

    fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, StoreError> {
        self.refused
            .get(&self.users, id.as_str().as_bytes())?
            .map(|v| decode::<User>(&v).map(Arc::new))
            .transpose()
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let name = username.to_ascii_lowercase();
        match self.refused.get(&self.usernames, name.as_bytes())? {
            Some(id) => self
                .refused
                .get(&self.users, &id)?
                .map(|v| decode(&v))
                .transpose(),
            None => Ok(None),
        }
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut users: Vec<User> = self.all(&self.users)?;
        users.sort_by_key(|u| u.username.key());
        Ok(users)
    }

    fn users_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        use std::ops::Bound;
        let prefix = prefix.to_ascii_lowercase();
        let start = match after.map(str::to_ascii_lowercase) {
            Some(a) if a.as_str() >= prefix.as_str() => Bound::Excluded(a.into_bytes()),
            _ => Bound::Included(prefix.clone().into_bytes()),
        };
        // Read lazily and stop at the page's end: collecting the rest of the index first made
        // every page cost a pass over all the usernames (25 ms at 100 000 users).
        let entries: Box<dyn Iterator<Item = Result<(sled::IVec, sled::IVec), StoreError>>> =
            if self.refused.any() {
                let in_range = move |name: &[u8]| match &start {
                    Bound::Included(s) => name >= s.as_slice(),
                    Bound::Excluded(s) => name > s.as_slice(),
                    Bound::Unbounded => true,
                };
                Box::new(
                    self.refused
                        .entries(&self.usernames)?
                        .into_iter()
                        .filter(move |(name, _)| in_range(name))
                        .map(Ok),
                )
            } else {
                Box::new(
                    self.usernames
                        .range::<Vec<u8>, _>((start, Bound::Unbounded))
                        .map(|entry| entry.map_err(StoreError::from)),
                )
            };
        let mut out = Vec::new();
        for entry in entries {
            let (name, id) = entry?;
            if !name.starts_with(prefix.as_bytes()) || out.len() >= limit {
                break;
            }
            if let Some(v) = self.refused.get(&self.users, &id)? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    fn has_users(&self) -> Result<bool, StoreError> {
        if self.refused.any() {
            return Ok(!self.refused.entries(&self.users)?.is_empty());
        }
        Ok(!self.users.is_empty())
    }

    fn put_session(&self, digest: &CredentialDigest, session: &Session) -> Result<(), StoreError> {
        let record = encode(session)?;
        let index = user_session_key(&session.user_id, digest);
        let prior = self.prior(&[(&self.sessions, &digest[..]), (&self.user_sessions, &index)])?;
        let trees = (&self.sessions, &self.user_sessions);
        trees.transaction(|(sessions, index_tree)| {
            sessions.insert(&digest[..], record.as_slice())?;
            index_tree.insert(index.as_slice(), &[][..])?;
            Ok(())
        })?;
        let change = Change::SessionChanged { digest: *digest };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))
    }

    fn session(&self, digest: &CredentialDigest) -> Result<Option<Arc<Session>>, StoreError> {
        self.refused
            .get(&self.sessions, digest)?
            .map(|v| decode::<Session>(&v).map(Arc::new))
            .transpose()
    }

    fn remove_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        let mut prior = self.prior(&[(&self.sessions, &digest[..])])?;
        if let Some(Ok(session)) = self.sessions.get(digest)?.map(|v| decode::<Session>(&v)) {
            let index = user_session_key(&session.user_id, digest);
            prior.extend(self.prior(&[(&self.user_sessions, &index)])?);
        }
        self.forget_session(digest)?;
        let change = Change::SessionChanged { digest: *digest };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))
    }

    fn discard_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        let forgotten = self.forget_session(digest);
        self.publish(Change::SessionChanged { digest: *digest });
        forgotten
    }

    fn touch_session(
        &self,
        digest: &CredentialDigest,
        session: &Session,
    ) -> Result<(), StoreError> {
        if self.sessions.contains_key(digest)? {
            self.sessions.insert(&digest[..], encode(session)?)?;
        }
        self.publish(Change::SessionChanged { digest: *digest });
        Ok(())
    }

    fn remove_user_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        let mut prefix = user.as_str().as_bytes().to_vec();
        prefix.push(0);
        let keys: Vec<sled::IVec> = self
            .user_sessions
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        let removed = keys.len();
        let ended = (&self.sessions, &self.user_sessions).transaction(|(sessions, index)| {
            for k in &keys {
                sessions.remove(&k[prefix.len()..])?;
                index.remove(k)?;
            }
            Ok(())
        });
        let flushed = self.make_durable();
        self.publish(Change::SessionsEnded {
            user: user.clone(),
            digests: keys
                .iter()
                .filter_map(|k| CredentialDigest::try_from(&k[prefix.len()..]).ok())
                .collect(),
        });
        ended?;
        flushed?;
        Ok(removed)
    }

    fn user_sessions(&self, user: &UserId) -> Result<Vec<Session>, StoreError> {
        let mut prefix = user.as_str().as_bytes().to_vec();
        prefix.push(0);
        let keys: Vec<sled::IVec> = if self.refused.any() {
            self.refused
                .entries(&self.user_sessions)?
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(&prefix))
                .collect()
        } else {
            self.user_sessions
                .scan_prefix(&prefix)
                .keys()
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for k in keys {
            if let Some(v) = self.refused.get(&self.sessions, &k[prefix.len()..])? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let record = encode(key)?;
        let id = key.id.as_str().as_bytes();
        let prior = self.prior(&[
            (&self.api_keys, id),
            (&self.api_key_digests, &key.digest[..]),
        ])?;
        let trees = (&self.api_keys, &self.api_key_digests);
        trees.transaction(|(keys, digests)| {
            if digests.get(key.digest)?.is_some() {
                return abort(StoreError::Conflict("duplicate API key".into()));
            }
            keys.insert(id, record.as_slice())?;
            digests.insert(&key.digest[..], id)?;
            Ok(())
        })?;
        let change = Change::ApiKeyChanged {
            digest: Some(key.digest),
        };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))
    }

    fn api_key_by_digest(
        &self,
        digest: &CredentialDigest,
    ) -> Result<Option<Arc<ApiKey>>, StoreError> {
        match self.refused.get(&self.api_key_digests, digest)? {
            Some(id) => {
                let key: Option<ApiKey> = self
                    .refused
                    .get(&self.api_keys, &id)?
                    .map(|v| decode(&v))
                    .transpose()?;
                Ok(key.filter(|k| k.revoked_at.is_none()).map(Arc::new))
            }
            None => Ok(None),
        }
    }

    fn touch_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let record = encode(key)?;
        let result = self.api_keys.transaction(|keys| {
            // Never resurrect a key revoked meanwhile.
            match keys.get(key.id.as_str())? {
                Some(old)
                    if decode::<ApiKey>(&old)
                        .map(|k| k.revoked_at.is_none())
                        .unwrap_or(false) =>
                {
                    keys.insert(key.id.as_str().as_bytes(), record.as_slice())?;
                    Ok(())
                }
                _ => Ok(()),
            }
        });
        self.publish(Change::ApiKeyChanged {
            digest: Some(key.digest),
        });
        result?;
        Ok(())
    }

    fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<ApiKey, StoreError> {
        let mut prior = self.prior(&[(&self.api_keys, id.as_str().as_bytes())])?;
        if let Some(Ok(key)) = self
            .api_keys
            .get(id.as_str())?
            .map(|v| decode::<ApiKey>(&v))
        {
            prior.extend(self.prior(&[(&self.api_key_digests, &key.digest[..])])?);
        }
        let revoked = (&self.api_keys, &self.api_key_digests).transaction(|(keys, digests)| {
            let Some(old) = keys.get(id.as_str())? else {
                return abort(StoreError::Missing);
            };
            let mut key: ApiKey = decode(&old).map_err(ConflictableTransactionError::Abort)?;
            digests.remove(&key.digest[..])?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
            }
            keys.insert(
                id.as_str().as_bytes(),
                encode(&key).map_err(ConflictableTransactionError::Abort)?,
            )?;
            Ok(key)
        })?;
        let change = Change::ApiKeyChanged {
            digest: Some(revoked.digest),
        };
        self.commit_or_undo(change, prior, |c| self.feed.publish(c))?;
        Ok(revoked)
    }

    fn api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self.all(&self.api_keys)?;
        keys.retain(|k| &k.user_id == user);
        keys.sort_by_key(|k| k.created_at);
        Ok(keys)
    }

    fn insert_asset(&self, asset: &Asset) -> Result<(), StoreError> {
        let (id, path) = (asset.id.as_str(), asset.path.as_str());
        let prior = self.prior(&[
            (&self.assets, id.as_bytes()),
            (&self.asset_paths, path.as_bytes()),
        ])?;
        let (record, key_name) = self.seal_asset(asset)?;
        let trees = (&self.assets, &self.asset_paths);
        let inserted = trees.transaction(|(assets, paths)| {
            if paths.get(path)?.is_some() {
                return abort(StoreError::Conflict(format!(
                    "the path {path} is used by another asset"
                )));
            }
            paths.insert(path.as_bytes(), id.as_bytes())?;
            assets.insert(id.as_bytes(), record.as_slice())?;
            Ok(())
        });
        if let Err(e) = inserted {
            // After a storage error the record may still reach the disk: its key stays (an
            // unused one is deleted at the next start).
            if matches!(e, TransactionError::Abort(_)) {
                self.keyring.delete(&key_name);
            }
            return Err(e.into());
        }
        let change = Change::AssetChanged {
            asset: Arc::new(asset.clone()),
            old_path: None,
        };
        self.commit_or_undo(change, prior, |_| {})
    }

    fn replace_asset(&self, asset: &Asset, expected_version: u64) -> Result<(), StoreError> {
        let id = asset.id.as_str();
        let mut prior = self.prior(&[
            (&self.assets, id.as_bytes()),
            (&self.asset_paths, asset.path.as_str().as_bytes()),
        ])?;
        if let Some(old) = self.assets.get(id)? {
            let old = sealed::bare_asset(&old)?;
            prior.extend(self.prior(&[(&self.asset_paths, old.path.as_str().as_bytes())])?);
        }
        let (record, key_name) = self.seal_asset(asset)?;
        let trees = (&self.assets, &self.asset_paths);
        let replaced =
            trees.transaction(|(assets, paths): &(TransactionalTree, TransactionalTree)| {
                let Some(old_record) = assets.get(id)? else {
                    return abort(StoreError::Missing);
                };
                let old =
                    sealed::bare_asset(&old_record).map_err(ConflictableTransactionError::Abort)?;
                if old.version != expected_version {
                    return abort(StoreError::VersionMismatch);
                }
                if old.path != asset.path {
                    if paths.get(asset.path.as_str())?.is_some() {
                        return abort(StoreError::Conflict(format!(
                            "the path {} is used by another asset",
                            asset.path
                        )));
                    }
                    paths.remove(old.path.as_str())?;
                    paths.insert(asset.path.as_str(), id.as_bytes())?;
                }
                assets.insert(id.as_bytes(), record.as_slice())?;
                let old_path = (old.path != asset.path).then(|| old.path.clone());
                Ok((old_record, old_path))
            });
        let (old_record, old_path) = match replaced {
            Ok(replaced) => replaced,
            Err(e) => {
                if matches!(e, TransactionError::Abort(_)) {
                    self.keyring.delete(&key_name);
                }
                return Err(e.into());
            }
        };
        let change = Change::AssetChanged {
            asset: Arc::new(asset.clone()),
            old_path: old_path.clone(),
        };
        self.commit_or_undo(change, prior, |_| {})?;
        self.retire_key_of(&old_record);
        Ok(())
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, StoreError> {
        self.refused
            .get(&self.assets, id.as_str().as_bytes())?
            .map(|v| self.open_asset(&v))
            .transpose()
    }

    fn asset_by_path(&self, path: &str) -> Result<Option<Asset>, StoreError> {
        match self.refused.get(&self.asset_paths, path.as_bytes())? {
            Some(id) => self
                .refused
                .get(&self.assets, &id)?
                .map(|v| self.open_asset(&v))
                .transpose(),
            None => Ok(None),
        }
    }

    fn assets(&self) -> Result<Vec<Asset>, StoreError> {
        self.all_assets()
    }

    fn asset_index(&self) -> Result<Vec<crate::store::BareAsset>, StoreError> {
        let opened = self
            .opened_index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match opened {
            Some((writes, index)) if writes == self.durable_write_count() => Ok(index),
            _ => self.asset_records(),
        }
    }

    fn delete_asset(&self, id: &AssetId, expected_version: u64) -> Result<(), StoreError> {
        let mut prior = self.prior(&[(&self.assets, id.as_str().as_bytes())])?;
        if let Some(old) = self.assets.get(id.as_str())? {
            let old = sealed::bare_asset(&old)?;
            prior.extend(self.prior(&[(&self.asset_paths, old.path.as_str().as_bytes())])?);
        }
        let trees = (&self.assets, &self.asset_paths);
        let (old_record, durable) = trees.transaction(|(assets, paths)| {
            let Some(old_record) = assets.remove(id.as_str())? else {
                return abort(StoreError::Missing);
            };
            let old =
                sealed::bare_asset(&old_record).map_err(ConflictableTransactionError::Abort)?;
            if old.version != expected_version {
                return abort(StoreError::VersionMismatch);
            }
            paths.remove(old.path.as_str())?;
            Ok((old_record, old))
        })?;
        let change = Change::AssetPurged {
            id: id.clone(),
            path: durable.path,
        };
        self.commit_or_undo(change, prior, |_| {})?;
        // The purged asset's last data key: without it, no copy of the record opens any more.
        self.retire_key_of(&old_record);
        Ok(())
    }

    fn sign_in_settings(&self) -> Result<SignInSettings, StoreError> {
        let sealed = self.refused.get(&self.meta, SIGN_IN_SETTINGS.as_bytes())?;
        self.keyring.master().stored_settings(sealed.as_deref())
    }

    fn replace_sign_in_settings(
        &self,
        settings: &SignInSettings,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let stored = self.sign_in_settings()?;
        if stored.version != expected_version {
            return Err(StoreError::VersionMismatch);
        }
        let sealed = self.keyring.master().seal_settings(settings)?;
        let prior = self.prior(&[(&self.meta, SIGN_IN_SETTINGS.as_bytes())])?;
        self.meta.insert(SIGN_IN_SETTINGS, sealed)?;
        self.commit_or_undo(Change::SignInSettingsChanged, prior, |c| {
            self.feed.publish(c)
        })
    }

    fn changes(&self) -> &ChangeFeed {
        &self.feed
    }

    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.audit.append(&AuditLines::of(events))
    }

    fn append_audit_lines(&self, lines: &AuditLines) -> Result<(), StoreError> {
        self.audit.append(lines)
    }

    fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<AuditPosition>,
        limit: usize,
    ) -> Result<Vec<(AuditPosition, AuditEvent)>, StoreError> {
        self.audit.newest(filter, before, limit)
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        Ok(self.audit.len())
    }

    fn keep_newest_audit(&self, keep: u64) -> Result<u64, StoreError> {
        self.audit.keep_newest(keep)
    }

    fn note_failed_sign_in(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(u32, DateTime<Utc>), StoreError> {
        Ok(self.failed_sign_ins.note(key, at, window))
    }

    fn failed_sign_ins(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Option<(u32, DateTime<Utc>)>, StoreError> {
        Ok(self.failed_sign_ins.current(key, at, window))
    }

    fn clear_failed_sign_ins(&self, key: &str) -> Result<(), StoreError> {
        self.failed_sign_ins.clear(key);
        Ok(())
    }

    fn data_migration_done(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.meta.contains_key(format!("migration:{name}"))?)
    }

    fn mark_data_migration_done(&self, name: &str) -> Result<(), StoreError> {
        self.meta
            .insert(format!("migration:{name}"), b"done".as_slice())?;
        self.db.flush()?;
        Ok(())
    }

    fn health(&self) -> Result<(), StoreError> {
        self.meta.get("schema_version")?;
        if self.unwritable.load(std::sync::atomic::Ordering::Relaxed) {
            files::probe_write(&self.dir)?;
            // The disk takes writes again; sled 0.34 does not after an I/O error.
            self.db
                .flush()
                .map_err(|e| StoreError::Failed(e.to_string()))?;
            self.unwritable
                .store(false, std::sync::atomic::Ordering::Relaxed);
            tracing::info!("the store takes writes again");
        }
        Ok(())
    }

    fn close(&self) -> Result<(), StoreError> {
        self.audit.sync()?;
        self.db.flush()?;
        pristine::mark_closed(&self.dir);
        Ok(())
    }

    fn export_key(&self) -> Result<(String, crate::store::sealing::SealingKey), StoreError> {
        Ok(self.keyring.export_key())
    }

    fn load(&self, records: &crate::store::dump::StoreRecords) -> Result<(), StoreError> {
        records.check()?;
        if self.has_users()? || !self.assets.is_empty() || !self.api_keys.is_empty() {
            return Err(StoreError::Conflict(format!(
                "{} is not empty: a dump is restored into a new data directory",
                self.dir.display()
            )));
        }
        // Until the last write is durable the store is marked: an import cut short leaves a
        // store that refuses to open, never one that serves part of the dump.
        self.meta.insert(IMPORT_IN_PROGRESS, &[1])?;
        self.db.flush()?;
        for user in &records.users {
            self.usernames
                .insert(user.username.key().as_bytes(), user.id.as_str().as_bytes())?;
            self.users
                .insert(user.id.as_str().as_bytes(), encode(user)?)?;
        }
        for key in &records.api_keys {
            if key.revoked_at.is_none() {
                self.api_key_digests
                    .insert(&key.digest[..], key.id.as_str().as_bytes())?;
            }
            self.api_keys
                .insert(key.id.as_str().as_bytes(), encode(key)?)?;
        }
        for asset in &records.assets {
            let (record, _) = self.seal_asset(asset)?;
            self.asset_paths
                .insert(asset.path.as_str().as_bytes(), asset.id.as_str().as_bytes())?;
            self.assets.insert(asset.id.as_str().as_bytes(), record)?;
        }
        self.audit.append_all(&records.audit)?;
        if let Some(settings) = &records.sign_in_settings {
            self.meta.insert(
                SIGN_IN_SETTINGS,
                self.keyring.master().seal_settings(settings)?,
            )?;
        }
        self.meta.remove(IMPORT_IN_PROGRESS)?;
        self.make_durable()?;
        for asset in &records.assets {
            self.publish(Change::AssetChanged {
                asset: Arc::new(asset.clone()),
                old_path: None,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sealing::SealedAsset;

    #[test]
    fn an_import_cut_short_leaves_a_store_that_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        store.meta.insert(IMPORT_IN_PROGRESS, &[1]).unwrap();
        store.db.flush().unwrap();
        drop(store);
        let refused = SledStore::open_for_test(dir.path()).err().unwrap();
        assert!(refused.to_string().contains("import"), "{refused}");
    }

    fn open_with(dir: &Path, key: &MasterKey) -> Result<SledStore, StoreError> {
        SledStore::open(dir, &MasterKeySource::Given(key.clone()))
    }

    #[test]
    fn a_rekey_cut_short_refuses_the_store_until_it_is_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        );
        let asset = crate::store::test_records::asset("/t/rekeyed");
        let store = open_with(dir.path(), &old).unwrap();
        store.insert_asset(&asset).unwrap();
        // As a rekey leaves the store when it stops after rewrapping the keys.
        store
            .meta
            .insert(REKEY_IN_PROGRESS, new.id().as_bytes())
            .unwrap();
        store.db.flush().unwrap();
        drop(store);
        let rewrap = Keyring::prepare_rewrap(dir.path(), &old, &new).unwrap();
        assert_eq!(rewrap.write(&new).unwrap(), 1);

        // The data keys are read when first used, so the mark is what refuses the store.
        for key in [&old, &new] {
            let refused = open_with(dir.path(), key).err().unwrap();
            assert!(matches!(refused, StoreError::MasterKey(_)), "{refused}");
            assert!(refused.to_string().contains("cut short"), "{refused}");
        }
        assert_eq!(SledStore::rekey(dir.path(), &old, &new).unwrap(), 0);
        let store = open_with(dir.path(), &new).unwrap();
        assert_eq!(
            store.asset(&asset.id).unwrap().unwrap().secret.expose(),
            asset.secret.expose()
        );
    }

    #[test]
    fn a_damaged_data_key_refuses_a_rekey_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        );
        let store = open_with(dir.path(), &old).unwrap();
        store
            .insert_asset(&crate::store::test_records::asset("/t/a"))
            .unwrap();
        drop(store);
        let [name] = &store_key_names(dir.path())[..] else {
            panic!("not one data key")
        };
        let path = dir.path().join(files::KEYS_DIR).join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bytes).unwrap();

        let refused = SledStore::rekey(dir.path(), &old, &new).err().unwrap();
        assert!(
            refused.to_string().contains("nothing was changed"),
            "{refused}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        // Not marked as a rekey cut short: the store still opens with its key.
        open_with(dir.path(), &old).unwrap();
    }

    fn store_key_names(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir.join(files::KEYS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    #[test]
    fn records_without_the_weak_secret_mark_are_marked_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        let mut weak = crate::store::test_records::asset("/t/weak");
        weak.secret = crate::secret::Secret::new(b"short".to_vec());
        store.insert_asset(&weak).unwrap();
        // As an earlier version wrote it: no mark.
        let mut sealed: SealedAsset =
            records::decode(&store.assets.get(weak.id.as_str()).unwrap().unwrap()).unwrap();
        sealed.weak_secret = None;
        store
            .assets
            .insert(weak.id.as_str(), records::encode(&sealed).unwrap())
            .unwrap();
        store.make_durable().unwrap();
        drop(store);

        let store = SledStore::open_for_test(dir.path()).unwrap();
        let index = store.asset_index().unwrap();
        assert!(index[0].weak_secret);
        let stored: SealedAsset =
            records::decode(&store.assets.get(weak.id.as_str()).unwrap().unwrap()).unwrap();
        assert_eq!(stored.weak_secret, Some(true));
        assert_eq!(stored.key, sealed.key, "the same data key");
        assert_eq!(
            store.asset(&weak.id).unwrap().unwrap().secret.expose(),
            b"short"
        );
    }

    #[test]
    fn the_index_read_at_open_is_used_only_while_no_write_came_since() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        let first = crate::store::test_records::asset("/t/first");
        store.insert_asset(&first).unwrap();
        drop(store);
        let store = SledStore::open_for_test(dir.path()).unwrap();
        let second = crate::store::test_records::asset("/t/second");
        store.insert_asset(&second).unwrap();
        let index = store.asset_index().unwrap();
        let mut paths: Vec<&str> = index.iter().map(|b| b.asset.path.as_str()).collect();
        paths.sort();
        assert_eq!(paths, ["/t/first", "/t/second"]);
        // Bare: the secret stays sealed, and the record says whether it is weak.
        assert!(index.iter().all(|b| b.asset.secret.expose().is_empty()));
        assert!(
            index
                .iter()
                .all(|b| b.weak_secret == first.has_weak_secret())
        );
    }
}
