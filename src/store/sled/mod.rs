//! The embedded backend: one sled database, one tree per record kind plus unique indexes.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

mod files;
mod ledger;

use super::feed::{Change, ChangeFeed};
use super::throttle::FailedSignIns;
use super::{SCHEMA_VERSION, Store, StoreError};
use crate::domain::asset::Asset;
use crate::domain::audit::AuditEvent;
use crate::domain::credentials::{ApiKey, CredentialDigest, Session};
use crate::domain::user::User;
use crate::ids::{ApiKeyId, AssetId, UserId};
use ledger::Ledger;

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
    audit: Tree,
    meta: Tree,
    feed: ChangeFeed,
    failed_sign_ins: FailedSignIns,
    ledger: Ledger,
    /// Durable writes so far (also in `meta`); held while one is made durable.
    durable_writes: std::sync::Mutex<u64>,
}

/// sled's page cache: the default (1 GiB) would let the resident set grow with the store; the
/// token path reads from our own caches and the asset list from the catalog, so a small page
/// cache serves the rest (sign-in, admin pages, writes).
const SLED_CACHE_BYTES: u64 = 4 * 1024 * 1024;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode record: {e}")))
}

fn user_session_key(user: &UserId, digest: &CredentialDigest) -> Vec<u8> {
    let mut k = Vec::with_capacity(user.as_str().len() + 33);
    k.extend_from_slice(user.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(digest);
    k
}

/// Audit events are stored in records of up to this many events (one sled write per batch
/// instead of one per event; retention trims whole records): key = sequence number (8 bytes, big-endian) + event count (4 bytes),
/// value = a JSON array of events, oldest first. Records of one event under an 8-byte key (the
/// first layout) are still read.
pub const AUDIT_RECORD_EVENTS: usize = 256;

/// `meta` key of the number of acknowledged (durable) writes; see [`ledger`].
const DURABLE_WRITES: &str = "durable_writes";

/// `meta` key of the number of stored audit events.
const AUDIT_COUNT: &str = "audit_events";

fn decode_count(bytes: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| {
        StoreError::Corrupt("audit event count record".into())
    })?))
}

fn audit_key(seq: u64, events: usize) -> [u8; 12] {
    let mut key = [0; 12];
    key[..8].copy_from_slice(&seq.to_be_bytes());
    key[8..].copy_from_slice(&(events as u32).to_be_bytes());
    key
}

fn audit_record_len(key: &[u8]) -> Result<u64, StoreError> {
    match key.len() {
        8 => Ok(1),
        12 => Ok(u64::from(u32::from_be_bytes(
            key[8..].try_into().expect("checked length"),
        ))),
        _ => Err(StoreError::Corrupt("audit record key".into())),
    }
}

fn audit_record(key: &[u8], value: &[u8]) -> Result<Vec<AuditEvent>, StoreError> {
    if key.len() == 8 {
        Ok(vec![decode(value)?])
    } else {
        decode(value)
    }
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
        self.meta.insert(DURABLE_WRITES, &next.to_be_bytes())?;
        self.db.flush()?;
        *count = next;
        self.ledger.acknowledge(next)
    }

    /// Make the write durable, then publish its change (published even when that fails: the
    /// caches must match what sled now serves).
    fn commit(&self, change: Change) -> Result<(), StoreError> {
        let durable = self.make_durable();
        self.feed.publish(&change);
        durable
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

    /// Delete the oldest events, at most `n` of them (whole stored records); returns how many went.
    fn trim_audit(&self, n: u64) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for key in self.audit.iter().keys() {
            let key = key?;
            let len = audit_record_len(&key)?;
            if removed + len > n {
                break;
            }
            batch.remove(key);
            removed += len;
        }
        self.audit.apply_batch(batch)?;
        self.add_to_audit_count(-(removed as i64))?;
        Ok(removed)
    }

    /// Open (or create) the store in a directory, checking and migrating the schema version.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        files::private_from_now_on();
        files::create_private_dir(dir)?;
        let loosened = files::tighten(dir)?;
        if loosened > 0 {
            tracing::warn!(
                dir = %dir.display(),
                entries = loosened,
                "the data directory was readable by other users; it is now the server's alone (0700/0600)"
            );
        }
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| StoreError::Io(format!("cannot write to {}: {e}", dir.display())))?;
        let existed = dir.join("db").exists();
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .open().map_err(|e| match e {
            sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                StoreError::Locked(dir.display().to_string())
            }
            sled::Error::Corruption { .. } => StoreError::Corrupt(format!(
                "{}: the database files hold corrupted data; nothing was changed. Restore the directory from a backup",
                dir.display()
            )),
            other => other.into(),
        })?;
        // sled may have created its files before the umask applied to them (an older store).
        files::tighten(dir)?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            None if existed => {
                return Err(StoreError::Corrupt(format!(
                    "{} holds a database without its schema record (damaged, or not written by jwt-asset-server); \
                     refusing to use it. Restore it from a backup, or point --data-dir elsewhere",
                    dir.display()
                )));
            }
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                meta.insert(AUDIT_COUNT, &0u64.to_be_bytes())?;
                db.flush()?;
            }
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("schema version record".into()))?,
                );
                if found > SCHEMA_VERSION {
                    return Err(StoreError::TooNew { found });
                }
                // Forward migrations from `found` to SCHEMA_VERSION go here, one step per version.
            }
        }
        let durable_writes = match meta.get(DURABLE_WRITES)? {
            Some(v) => decode_count(&v)?,
            None => 0,
        };
        let ledger = Ledger::open(dir, durable_writes)?;
        Ok(SledStore {
            users: db.open_tree("users")?,
            usernames: db.open_tree("usernames")?,
            sessions: db.open_tree("sessions")?,
            user_sessions: db.open_tree("user_sessions")?,
            api_keys: db.open_tree("api_keys")?,
            api_key_digests: db.open_tree("api_key_digests")?,
            assets: db.open_tree("assets")?,
            asset_paths: db.open_tree("asset_paths")?,
            audit: db.open_tree("audit")?,
            meta,
            db,
            feed: ChangeFeed::new(),
            failed_sign_ins: FailedSignIns::default(),
            ledger,
            durable_writes: std::sync::Mutex::new(durable_writes),
        })
    }

    /// Keep the stored event count in step with the log (read at start instead of counting it).
    /// A count missing at that point (older stores) is left for `audit_len` to establish.
    fn add_to_audit_count(&self, delta: i64) -> Result<(), StoreError> {
        self.meta.fetch_and_update(AUDIT_COUNT, |old| {
            let n = old.and_then(|b| decode_count(b).ok())?;
            Some(n.saturating_add_signed(delta).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    fn all<T: DeserializeOwned>(tree: &Tree) -> Result<Vec<T>, StoreError> {
        tree.iter().values().map(|v| decode(&v?)).collect()
    }
}

impl Store for SledStore {
    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let record = encode(user)?;
        let key = user.username.key();
        (&self.users, &self.usernames).transaction(|(users, names)| {
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
        self.commit(Change::UserChanged {
            id: user.id.clone(),
        })?;
        Ok(())
    }

    fn update_user(&self, user: &User, expected_version: u64) -> Result<(), StoreError> {
        let record = encode(user)?;
        let id = user.id.as_str();
        self.users.transaction(|users| {
            let Some(old) = users.get(id)? else {
                return abort(StoreError::Missing);
            };
            let old: User = decode(&old).map_err(ConflictableTransactionError::Abort)?;
            if old.version != expected_version {
                return abort(StoreError::VersionMismatch);
            }
            users.insert(id.as_bytes(), record.as_slice())?;
            Ok(())
        })?;
        self.commit(Change::UserChanged {
            id: user.id.clone(),
        })
    }

    fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, StoreError> {
        self.users
            .get(id.as_str())?
            .map(|v| decode::<User>(&v).map(Arc::new))
            .transpose()
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        match self.usernames.get(username.to_ascii_lowercase())? {
            Some(id) => self.users.get(id)?.map(|v| decode(&v)).transpose(),
            None => Ok(None),
        }
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut users: Vec<User> = Self::all(&self.users)?;
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
        let mut out = Vec::new();
        for entry in self
            .usernames
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
        {
            let (name, id) = entry?;
            if !name.starts_with(prefix.as_bytes()) || out.len() >= limit {
                break;
            }
            if let Some(v) = self.users.get(id)? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    fn has_users(&self) -> Result<bool, StoreError> {
        Ok(!self.users.is_empty())
    }

    fn put_session(&self, digest: &CredentialDigest, session: &Session) -> Result<(), StoreError> {
        let record = encode(session)?;
        let index = user_session_key(&session.user_id, digest);
        (&self.sessions, &self.user_sessions).transaction(|(sessions, index_tree)| {
            sessions.insert(&digest[..], record.as_slice())?;
            index_tree.insert(index.as_slice(), &[][..])?;
            Ok(())
        })?;
        self.commit(Change::SessionChanged { digest: *digest })?;
        Ok(())
    }

    fn session(&self, digest: &CredentialDigest) -> Result<Option<Arc<Session>>, StoreError> {
        self.sessions
            .get(digest)?
            .map(|v| decode::<Session>(&v).map(Arc::new))
            .transpose()
    }

    fn remove_session(&self, digest: &CredentialDigest) -> Result<(), StoreError> {
        self.forget_session(digest)?;
        self.commit(Change::SessionChanged { digest: *digest })
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
        let mut out = Vec::new();
        for k in self.user_sessions.scan_prefix(&prefix).keys() {
            let k = k?;
            if let Some(v) = self.sessions.get(&k[prefix.len()..])? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let record = encode(key)?;
        (&self.api_keys, &self.api_key_digests).transaction(|(keys, digests)| {
            if digests.get(key.digest)?.is_some() {
                return abort(StoreError::Conflict("duplicate API key".into()));
            }
            keys.insert(key.id.as_str().as_bytes(), record.as_slice())?;
            digests.insert(&key.digest[..], key.id.as_str().as_bytes())?;
            Ok(())
        })?;
        self.commit(Change::ApiKeyChanged {
            digest: Some(key.digest),
        })?;
        Ok(())
    }

    fn api_key_by_digest(
        &self,
        digest: &CredentialDigest,
    ) -> Result<Option<Arc<ApiKey>>, StoreError> {
        match self.api_key_digests.get(digest)? {
            Some(id) => {
                let key: Option<ApiKey> = self.api_keys.get(id)?.map(|v| decode(&v)).transpose()?;
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
        });
        // On failure the digest is only known from the record: every cached key is forgotten.
        let flushed = self.make_durable();
        self.publish(Change::ApiKeyChanged {
            digest: revoked.as_ref().ok().map(|key| key.digest),
        });
        let revoked = revoked?;
        flushed?;
        Ok(revoked)
    }

    fn api_keys(&self, user: &UserId) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = Self::all(&self.api_keys)?;
        keys.retain(|k| &k.user_id == user);
        keys.sort_by_key(|k| k.created_at);
        Ok(keys)
    }

    fn insert_asset(&self, asset: &Asset) -> Result<(), StoreError> {
        let record = encode(asset)?;
        let path = asset.path.as_str();
        (&self.assets, &self.asset_paths).transaction(|(assets, paths)| {
            if paths.get(path)?.is_some() {
                return abort(StoreError::Conflict(format!(
                    "the path {path} is used by another asset"
                )));
            }
            paths.insert(path.as_bytes(), asset.id.as_str().as_bytes())?;
            assets.insert(asset.id.as_str().as_bytes(), record.as_slice())?;
            Ok(())
        })?;
        self.commit(Change::AssetChanged {
            asset: Arc::new(asset.clone()),
            old_path: None,
        })?;
        Ok(())
    }

    fn replace_asset(&self, asset: &Asset, expected_version: u64) -> Result<(), StoreError> {
        let record = encode(asset)?;
        let id = asset.id.as_str();
        let old_path = (&self.assets, &self.asset_paths).transaction(
            |(assets, paths): &(TransactionalTree, TransactionalTree)| {
                let Some(old) = assets.get(id)? else {
                    return abort(StoreError::Missing);
                };
                let old: Asset = decode(&old).map_err(ConflictableTransactionError::Abort)?;
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
                Ok((old.path != asset.path).then_some(old.path))
            },
        )?;
        self.commit(Change::AssetChanged {
            asset: Arc::new(asset.clone()),
            old_path,
        })?;
        Ok(())
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, StoreError> {
        self.assets
            .get(id.as_str())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn asset_by_path(&self, path: &str) -> Result<Option<Asset>, StoreError> {
        match self.asset_paths.get(path)? {
            Some(id) => self.assets.get(id)?.map(|v| decode(&v)).transpose(),
            None => Ok(None),
        }
    }

    fn assets(&self) -> Result<Vec<Asset>, StoreError> {
        Self::all(&self.assets)
    }

    fn delete_asset(&self, id: &AssetId) -> Result<(), StoreError> {
        let path = (&self.assets, &self.asset_paths).transaction(|(assets, paths)| {
            let Some(old) = assets.remove(id.as_str())? else {
                return abort(StoreError::Missing);
            };
            let old: Asset = decode(&old).map_err(ConflictableTransactionError::Abort)?;
            paths.remove(old.path.as_str())?;
            Ok(old.path)
        })?;
        self.commit(Change::AssetPurged {
            id: id.clone(),
            path,
        })?;
        Ok(())
    }

    fn changes(&self) -> &ChangeFeed {
        &self.feed
    }

    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for chunk in events.chunks(AUDIT_RECORD_EVENTS) {
            let seq = self.db.generate_id()?;
            batch.insert(&audit_key(seq, chunk.len()), encode(&chunk)?);
        }
        self.audit.apply_batch(batch)?;
        self.add_to_audit_count(events.len() as i64)?;
        Ok(())
    }

    fn audit_events(
        &self,
        actor: Option<&str>,
        target: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out = Vec::new();
        for record in self.audit.iter().rev() {
            let (key, value) = record?;
            for e in audit_record(&key, &value)?.into_iter().rev() {
                if actor.is_some_and(|a| !e.actor.eq_ignore_ascii_case(a))
                    || target.is_some_and(|t| e.target != t)
                {
                    continue;
                }
                out.push(e);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        if let Some(n) = self.meta.get(AUDIT_COUNT)? {
            return decode_count(&n);
        }
        // A store of the first layout: count once (this reads the whole log) and keep the count.
        let mut n = 0;
        for key in self.audit.iter().keys() {
            n += audit_record_len(&key?)?;
        }
        self.meta.insert(AUDIT_COUNT, &n.to_be_bytes())?;
        Ok(n)
    }

    fn keep_newest_audit(&self, keep: u64) -> Result<u64, StoreError> {
        // Whole records go, and only once the log is 1 % (and at least one record) over `keep`.
        let count = self.audit_len()?;
        if count <= keep + keep / 100 + AUDIT_RECORD_EVENTS as u64 {
            return Ok(0);
        }
        self.trim_audit(count - keep)
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

    fn close(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditAction;

    fn event(i: usize) -> AuditEvent {
        AuditEvent::admin("alice", AuditAction::TokenIssue, &format!("/t/{i}"))
    }

    fn targets(events: &[AuditEvent]) -> Vec<String> {
        events.iter().map(|e| e.target.clone()).collect()
    }

    #[test]
    fn audit_batches_read_back_newest_first_and_trim_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // 600 events in one call: three records (256 + 256 + 88), then 10 more in another.
        let first: Vec<AuditEvent> = (0..600).map(event).collect();
        store.append_audit(&first).unwrap();
        store
            .append_audit(&(600..610).map(event).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(store.audit.len(), 4);
        assert_eq!(store.audit_len().unwrap(), 610);
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.audit_len().unwrap(),
            610,
            "the count survives a restart"
        );

        let newest = store.audit_events(None, None, 3).unwrap();
        assert_eq!(targets(&newest), ["/t/609", "/t/608", "/t/607"]);
        let one = store.audit_events(None, Some("/t/300"), 10).unwrap();
        assert_eq!(targets(&one), ["/t/300"]);

        // Whole records go, never more events than asked: 300 asked, the first record's 256 go.
        assert_eq!(store.trim_audit(300).unwrap(), 256);
        assert_eq!(store.audit_len().unwrap(), 354);
        let all = store.audit_events(None, None, 1000).unwrap();
        assert_eq!(all.len(), 354);
        assert_eq!(all.last().unwrap().target, "/t/256");
        assert_eq!(all.first().unwrap().target, "/t/609");
        assert_eq!(store.trim_audit(255).unwrap(), 0);
        assert_eq!(store.trim_audit(1000).unwrap(), 354);
        assert_eq!(store.audit_len().unwrap(), 0);
    }

    #[test]
    fn audit_records_of_the_first_layout_are_still_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // The first layout: one event per record under an 8-byte sequence number.
        for i in 0..3 {
            let seq = store.db.generate_id().unwrap();
            store
                .audit
                .insert(seq.to_be_bytes(), encode(&event(i)).unwrap())
                .unwrap();
        }
        store.meta.remove(AUDIT_COUNT).unwrap(); // as in a store of the first layout
        store.append_audit(&[event(3), event(4)]).unwrap();
        assert_eq!(store.audit_len().unwrap(), 5, "counted once");
        assert_eq!(store.audit_len().unwrap(), 5, "then read back");
        let all = store.audit_events(None, None, 10).unwrap();
        assert_eq!(targets(&all), ["/t/4", "/t/3", "/t/2", "/t/1", "/t/0"]);
        // The three old records, not the new one of two (that would make 5 > 4).
        assert_eq!(store.trim_audit(4).unwrap(), 3);
        assert_eq!(
            targets(&store.audit_events(None, None, 10).unwrap()),
            ["/t/4", "/t/3"]
        );
    }
}
