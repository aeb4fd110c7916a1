//! Backup and restore: the whole store as one portable, versioned JSON document (a dump), and
//! back. A dump holds the users (with their password hashes), the API keys (their digests, never
//! a key), the assets and the audit trail; sessions are not kept (everyone signs in again).
//! Asset secrets are sealed for the store's master key or for a passphrase, and are in the clear
//! only when asked for explicitly. Sealing is deterministic and every list is in a fixed order,
//! so a store restored from a dump gives that same dump again, byte for byte (export → import →
//! export), and two dumps of one store differ only by what happened in between (an export is
//! itself audited, after its snapshot).
//!
//! The format is documented in the README ("Backup and restore").

use std::collections::HashSet;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::sealing::{SealedAsset, SealingKey};
use super::{Store, StoreError};
use crate::domain::asset::{Asset, AssetPath};
use crate::domain::audit::AuditEvent;
use crate::domain::credentials::ApiKey;
use crate::domain::identity::SignInSettings;
use crate::domain::user::{User, Username};

/// The `format` of every dump.
pub const FORMAT: &str = "jwt-asset-server dump";
/// The dump version this binary writes (and the newest it reads).
pub const VERSION: u32 = 1;
/// The data key name sealed assets carry in a dump.
const DUMP_KEY_NAME: &str = "dump";

/// Everything a store holds that a restore needs, in a fixed order.
pub struct StoreRecords {
    /// Users, by username.
    pub users: Vec<User>,
    /// API keys, by creation time then id.
    pub api_keys: Vec<ApiKey>,
    /// Assets (with their secrets), by id.
    pub assets: Vec<Asset>,
    /// Audit events, oldest first.
    pub audit: Vec<AuditEvent>,
    /// The sign-in settings (identity providers with their client secrets), when ever set.
    pub sign_in_settings: Option<SignInSettings>,
}

impl StoreRecords {
    /// Read every record of `store`. Run it while no admin write can happen (a stopped server,
    /// or the service's write lock) for a consistent snapshot.
    pub fn read(store: &dyn Store) -> Result<StoreRecords, StoreError> {
        let users = store.users()?;
        let mut api_keys = Vec::new();
        for user in &users {
            api_keys.extend(store.api_keys(&user.id)?);
        }
        api_keys.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        let mut assets = store.assets()?;
        assets.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        let mut audit =
            store.audit_events(&crate::domain::audit::AuditFilter::default(), usize::MAX)?;
        audit.reverse();
        let sign_in_settings = Some(store.sign_in_settings()?).filter(|s| s.version > 0);
        Ok(StoreRecords {
            users,
            api_keys,
            assets,
            audit,
            sign_in_settings,
        })
    }

    /// Refuse records that could not have come from one store: duplicate ids, usernames
    /// (case-insensitively), paths or key digests, or API keys of unknown users.
    pub fn check(&self) -> Result<(), StoreError> {
        let bad = |what: String| {
            Err(StoreError::Conflict(format!(
                "the dump is inconsistent: {what}"
            )))
        };
        // Ids name files and index keys: only what this server generates (base64url).
        let ids = self.users.iter().map(|u| u.id.as_str()).chain(
            self.api_keys
                .iter()
                .flat_map(|k| [k.id.as_str(), k.user_id.as_str()]),
        );
        if let Some(id) = ids
            .chain(self.assets.iter().map(|a| a.id.as_str()))
            .find(|id| !is_record_id(id))
        {
            return bad(format!("{id:?} is not a record id"));
        }
        for u in &self.users {
            if Username::parse(u.username.as_str()).ok().as_ref() != Some(&u.username) {
                return bad(format!("{:?} is not a username", u.username.as_str()));
            }
        }
        for a in &self.assets {
            if AssetPath::parse(a.path.as_str()).ok().as_ref() != Some(&a.path) {
                return bad(format!("{:?} is not an asset path", a.path.as_str()));
            }
        }
        let mut seen = HashSet::new();
        for u in &self.users {
            if !seen.insert(format!("user id {}", u.id.as_str()))
                || !seen.insert(format!("username {}", u.username.key()))
            {
                return bad(format!("the user {} appears twice", u.username));
            }
        }
        for k in &self.api_keys {
            if !seen.contains(&format!("user id {}", k.user_id.as_str())) {
                return bad(format!(
                    "the API key {} belongs to no user in the dump",
                    k.prefix
                ));
            }
            if !seen.insert(format!("key id {}", k.id.as_str()))
                || !seen.insert(format!("key digest {:?}", k.digest))
            {
                return bad(format!("the API key {} appears twice", k.prefix));
            }
        }
        if let Some(settings) = &self.sign_in_settings {
            for p in &settings.providers {
                let checked = crate::domain::identity::validate_provider_id(&p.id)
                    .map_err(|e| e.message)
                    .and_then(|()| crate::domain::identity::check_issuer(&p.issuer));
                if let Err(why) = checked {
                    return bad(format!("the identity provider {:?}: {why}", p.id));
                }
                if !seen.insert(format!("provider {}", p.id)) {
                    return bad(format!("the identity provider {:?} appears twice", p.id));
                }
            }
        }
        for a in &self.assets {
            if !seen.insert(format!("asset id {}", a.id.as_str()))
                || !seen.insert(format!("path {}", a.path))
            {
                return bad(format!("the asset {} appears twice", a.path));
            }
        }
        Ok(())
    }
}

/// The context the sign-in settings are sealed under in a dump.
const DUMP_SETTINGS_CONTEXT: &[u8] = b"jwt-asset-server dump sign-in settings";

/// A record id as this server makes them: 1 to 64 base64url characters.
pub fn is_record_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How a dump's secrets are sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "sealing", rename_all = "kebab-case")]
pub enum DumpSealing {
    /// For the master key with this id (an export key derived from it).
    MasterKey {
        /// The master key's public id.
        key_id: String,
    },
    /// For a passphrase: the key is Argon2id(passphrase, salt) with these costs.
    Passphrase {
        /// Random salt, base64url.
        salt: String,
        /// Argon2 memory cost in KiB.
        memory_kib: u32,
        /// Argon2 iterations.
        iterations: u32,
        /// Argon2 lanes.
        parallelism: u32,
    },
    /// In the clear (explicitly asked for).
    None,
}

/// One asset in a dump: the asset without its secrets and the secrets sealed, or (sealing
/// `none`) the asset with its secrets.
#[derive(Serialize, Deserialize)]
pub struct DumpAsset {
    /// The asset.
    pub asset: Asset,
    /// Its secret material, sealed (base64url); absent in a dump in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// A whole store as a document.
#[derive(Serialize, Deserialize)]
pub struct Dump {
    /// Always [`FORMAT`].
    pub format: String,
    /// The dump version ([`VERSION`]).
    pub version: u32,
    /// How the asset secrets are sealed.
    pub secrets: DumpSealing,
    /// Users (with password hashes), by username.
    pub users: Vec<User>,
    /// API keys (digests only), by creation time.
    pub api_keys: Vec<ApiKey>,
    /// Assets, by id.
    pub assets: Vec<DumpAsset>,
    /// Audit events, oldest first.
    pub audit: Vec<AuditEvent>,
    /// The sign-in settings: sealed like the asset secrets (a base64url string), or the
    /// settings themselves in a dump in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_settings: Option<serde_json::Value>,
    /// HMAC-SHA256 (base64url) of the whole dump without this field, under a key derived from
    /// the dump key: a sealed dump cannot be changed (an administrator added, a hash replaced)
    /// without the import noticing. Absent in a dump in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// What a dump's MAC covers: the dump without its `mac`.
#[derive(Serialize)]
struct DumpBody<'a> {
    format: &'a str,
    version: u32,
    secrets: &'a DumpSealing,
    users: &'a [User],
    api_keys: &'a [ApiKey],
    assets: &'a [DumpAsset],
    audit: &'a [AuditEvent],
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_in_settings: &'a Option<serde_json::Value>,
}

/// The key a dump is sealed with, and how the dump says so.
pub struct DumpKey {
    sealing: DumpSealing,
    key: Option<SealingKey>,
}

/// Argon2id costs for a passphrase-sealed dump (OWASP's first recommendation: 19 MiB, 2 passes).
const PASSPHRASE_MEMORY_KIB: u32 = 19 * 1024;
const PASSPHRASE_ITERATIONS: u32 = 2;
const PASSPHRASE_PARALLELISM: u32 = 1;

fn passphrase_key(
    passphrase: &str,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<SealingKey, StoreError> {
    let params = Params::new(memory_kib, iterations, parallelism, Some(32))
        .map_err(|e| StoreError::Corrupt(format!("the dump's passphrase parameters: {e}")))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|e| StoreError::Corrupt(format!("the dump's passphrase key: {e}")))?;
    Ok(SealingKey::from_array(out))
}

impl DumpKey {
    /// Seal for the store's own master key (`store.export_key()`).
    pub fn master(store: &dyn Store) -> Result<DumpKey, StoreError> {
        let (key_id, key) = store.export_key()?;
        Ok(DumpKey {
            sealing: DumpSealing::MasterKey { key_id },
            key: Some(key),
        })
    }

    /// Seal for a passphrase (a new random salt).
    pub fn passphrase(passphrase: &str) -> Result<DumpKey, StoreError> {
        if passphrase.chars().count() < 12 {
            return Err(StoreError::Conflict(
                "the passphrase must be at least 12 characters long".into(),
            ));
        }
        let salt: [u8; 16] = crate::ids::random_bytes();
        let key = passphrase_key(
            passphrase,
            &salt,
            PASSPHRASE_MEMORY_KIB,
            PASSPHRASE_ITERATIONS,
            PASSPHRASE_PARALLELISM,
        )?;
        Ok(DumpKey {
            sealing: DumpSealing::Passphrase {
                salt: URL_SAFE_NO_PAD.encode(salt),
                memory_kib: PASSPHRASE_MEMORY_KIB,
                iterations: PASSPHRASE_ITERATIONS,
                parallelism: PASSPHRASE_PARALLELISM,
            },
            key: Some(key),
        })
    }

    /// No sealing: the secrets in the clear.
    pub fn in_the_clear() -> DumpKey {
        DumpKey {
            sealing: DumpSealing::None,
            key: None,
        }
    }

    /// The key that opens `dump`: the target store's master key, or the passphrase.
    pub fn to_open(
        dump: &Dump,
        store: &dyn Store,
        passphrase: Option<&str>,
    ) -> Result<DumpKey, StoreError> {
        let key = match &dump.secrets {
            DumpSealing::None => None,
            DumpSealing::MasterKey { key_id } => {
                let (id, key) = store.export_key()?;
                if &id != key_id {
                    return Err(StoreError::MasterKey(format!(
                        "the dump's secrets are sealed for the master key {key_id}, and this store's \
                         master key is {id}: import with that key (--master-key-file or \
                         JWT_ASSET_SERVER_MASTER_KEY on a new data directory), or export with a passphrase"
                    )));
                }
                Some(key)
            }
            DumpSealing::Passphrase {
                salt,
                memory_kib,
                iterations,
                parallelism,
            } => {
                let passphrase = passphrase.ok_or_else(|| {
                    StoreError::MasterKey(
                        "the dump's secrets are sealed with a passphrase: give it (--passphrase-stdin)".into(),
                    )
                })?;
                let salt = URL_SAFE_NO_PAD
                    .decode(salt)
                    .map_err(|_| StoreError::Corrupt("the dump's salt is not base64url".into()))?;
                if *memory_kib > 1024 * 1024 || *iterations > 100 || *parallelism > 16 {
                    return Err(StoreError::Corrupt(
                        "the dump asks for passphrase costs beyond what this server accepts".into(),
                    ));
                }
                Some(passphrase_key(
                    passphrase,
                    &salt,
                    *memory_kib,
                    *iterations,
                    *parallelism,
                )?)
            }
        };
        Ok(DumpKey {
            sealing: dump.secrets.clone(),
            key,
        })
    }
}

impl Dump {
    /// A dump of `records`, its secrets sealed with `key`.
    pub fn new(records: StoreRecords, key: &DumpKey) -> Dump {
        let assets = records
            .assets
            .iter()
            .map(|asset| match &key.key {
                Some(k) => {
                    let sealed = SealedAsset::seal_deterministic(asset, DUMP_KEY_NAME, k);
                    DumpAsset {
                        asset: sealed.asset,
                        sealed: Some(sealed.sealed),
                    }
                }
                None => DumpAsset {
                    asset: asset.clone(),
                    sealed: None,
                },
            })
            .collect();
        let sign_in_settings = records.sign_in_settings.as_ref().map(|s| match &key.key {
            Some(k) => {
                let plain = serde_json::to_vec(s).expect("settings encode as JSON");
                serde_json::Value::String(
                    URL_SAFE_NO_PAD.encode(k.seal_deterministic(DUMP_SETTINGS_CONTEXT, &plain)),
                )
            }
            None => serde_json::to_value(s).expect("settings encode as JSON"),
        });
        let mut dump = Dump {
            format: FORMAT.into(),
            version: VERSION,
            secrets: key.sealing.clone(),
            users: records.users,
            api_keys: records.api_keys,
            assets,
            audit: records.audit,
            sign_in_settings,
            mac: None,
        };
        dump.mac = key
            .key
            .as_ref()
            .map(|k| URL_SAFE_NO_PAD.encode(dump.body_mac(k)));
        dump
    }

    /// The MAC of the dump's body (everything but `mac`).
    fn body_mac(&self, key: &SealingKey) -> [u8; 32] {
        let body = serde_json::to_vec(&DumpBody {
            format: &self.format,
            version: self.version,
            secrets: &self.secrets,
            users: &self.users,
            api_keys: &self.api_keys,
            assets: &self.assets,
            audit: &self.audit,
            sign_in_settings: &self.sign_in_settings,
        })
        .expect("a dump encodes as JSON");
        key.derive(b"jwt-asset-server dump mac").mac(&body)
    }

    /// Read a dump from its JSON text: its format and version checked.
    pub fn parse(text: &[u8]) -> Result<Dump, StoreError> {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let header: Header = serde_json::from_slice(text)
            .map_err(|e| StoreError::Corrupt(format!("not a dump (not JSON: {e})")))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(StoreError::Corrupt(format!(
                "not a dump: its \"format\" is not \"{FORMAT}\""
            )));
        }
        match header.version {
            Some(v) if v > VERSION => {
                return Err(StoreError::Corrupt(format!(
                    "the dump is version {v}, written by a newer jwt-asset-server; this one reads up to version {VERSION}"
                )));
            }
            Some(_) => {}
            None => return Err(StoreError::Corrupt("the dump has no version".into())),
        }
        serde_json::from_slice(text)
            .map_err(|e| StoreError::Corrupt(format!("the dump is damaged: {e}")))
    }

    /// The records, secrets opened with `key`.
    pub fn open(self, key: &DumpKey) -> Result<StoreRecords, StoreError> {
        if let Some(k) = &key.key {
            let given = self
                .mac
                .as_deref()
                .and_then(|m| URL_SAFE_NO_PAD.decode(m).ok())
                .unwrap_or_default();
            if !bool::from(given.as_slice().ct_eq(&self.body_mac(k))) {
                return Err(StoreError::MasterKey(
                    "the dump does not verify with this key: a wrong passphrase or master key, or \
                     a dump changed since it was written"
                        .into(),
                ));
            }
        }
        let assets = self
            .assets
            .into_iter()
            .map(|a| match (&key.key, a.sealed) {
                (None, None) => Ok(a.asset),
                (Some(k), Some(sealed)) => SealedAsset {
                    asset: a.asset,
                    key: DUMP_KEY_NAME.into(),
                    sealed,
                    weak_secret: None,
                }
                .open(k)
                .map_err(|_| {
                    StoreError::MasterKey(
                        "the dump's secrets do not open with this key (a wrong passphrase or master key, or a changed dump)".into(),
                    )
                }),
                _ => Err(StoreError::Corrupt(
                    "the dump's assets do not match its \"secrets\" sealing".into(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let unreadable = || {
            StoreError::MasterKey(
                "the dump's sign-in settings do not open with this key (a wrong passphrase or master key, or a changed dump)".into(),
            )
        };
        let sign_in_settings = match (self.sign_in_settings, &key.key) {
            (None, _) => None,
            (Some(serde_json::Value::String(sealed)), Some(k)) => {
                let sealed = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| unreadable())?;
                let plain = k
                    .open(DUMP_SETTINGS_CONTEXT, &sealed)
                    .ok_or_else(unreadable)?;
                Some(serde_json::from_slice(&plain).map_err(|_| unreadable())?)
            }
            (Some(v @ serde_json::Value::Object(_)), None) => {
                Some(serde_json::from_value(v).map_err(|e| {
                    StoreError::Corrupt(format!("the dump's sign-in settings: {e}"))
                })?)
            }
            _ => {
                return Err(StoreError::Corrupt(
                    "the dump's sign-in settings do not match its \"secrets\" sealing".into(),
                ));
            }
        };
        let records = StoreRecords {
            users: self.users,
            api_keys: self.api_keys,
            assets,
            audit: self.audit,
            sign_in_settings,
        };
        records.check()?;
        Ok(records)
    }

    /// The dump as JSON text (pretty, with a final newline).
    pub fn to_json(&self) -> Result<Vec<u8>, StoreError> {
        let mut out = serde_json::to_vec_pretty(self)
            .map_err(|e| StoreError::Corrupt(format!("cannot write the dump: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AssetId;

    #[test]
    fn ids_that_could_name_a_file_elsewhere_are_refused() {
        for id in ["../../etc/x", "/abs", "a.b", "", "with space"] {
            let mut asset = crate::store::test_records::asset("/d/one");
            asset.id = AssetId::from_string(id);
            let records = StoreRecords {
                users: Vec::new(),
                api_keys: Vec::new(),
                assets: vec![asset],
                audit: Vec::new(),
                sign_in_settings: None,
            };
            let refused = records.check().err().unwrap();
            assert!(
                refused.to_string().contains("not a record id"),
                "{id}: {refused}"
            );
        }
        assert!(is_record_id(AssetId::generate().as_str()));
    }
}
