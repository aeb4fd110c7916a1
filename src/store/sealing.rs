//! Secrets at rest. An asset's secret material (its HMAC secret, its scheduled next secret, its
//! private keys) is sealed with XChaCha20-Poly1305 under a data key of its own; every data key is
//! sealed ("wrapped") under the master key, which is kept outside the store (a key file or the
//! environment). A backend keeps the wrapped data keys where deleting one really deletes it, so
//! purging an asset crypto-shreds it: copies of its record left in old log segments cannot be
//! opened any more.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::asset::Asset;
use crate::domain::identity::SignInSettings;
use crate::ids::AssetId;
use crate::secret::Secret;
use crate::store::{BareAsset, StoreError};

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// 32 random bytes from the operating system.
fn random_key() -> Result<[u8; KEY_BYTES], StoreError> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key)
        .map_err(|e| StoreError::Io(format!("the operating system gave no random bytes: {e}")))?;
    Ok(key)
}

/// A symmetric key that seals and opens: a data key, or the master key's sealing half.
#[derive(Clone)]
pub struct SealingKey(Secret);

impl SealingKey {
    /// A new random key.
    pub fn generate() -> Result<SealingKey, StoreError> {
        Ok(SealingKey(Secret::new(random_key()?.to_vec())))
    }

    /// A key from its 32 bytes (derived elsewhere, e.g. from a passphrase).
    pub fn from_array(bytes: [u8; KEY_BYTES]) -> SealingKey {
        SealingKey(Secret::new(bytes.to_vec()))
    }

    fn from_bytes(bytes: &[u8]) -> Option<SealingKey> {
        (bytes.len() == KEY_BYTES).then(|| SealingKey(Secret::new(bytes.to_vec())))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose().into())
    }

    /// Seal `plaintext`, bound to `context` (which must be given again to open it), with a random
    /// nonce: `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| {
            StoreError::Io(format!("the operating system gave no random bytes: {e}"))
        })?;
        Ok(self.seal_with(nonce, context, plaintext))
    }

    /// Seal with a nonce derived from the key, the context and the plaintext, so the same input
    /// gives the same output (an export that can be compared with the next one). Equal
    /// plaintexts in the same context are visible as such; nothing else is.
    pub fn seal_deterministic(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        // The nonce comes from a key of its own, derived from this one.
        let nonce_key = self.derive(b"jwt-asset-server deterministic nonce");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(nonce_key.0.expose())
            .expect("HMAC takes a key of any length");
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context);
        mac.update(plaintext);
        let digest = mac.finalize().into_bytes();
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&digest[..NONCE_BYTES]);
        self.seal_with(nonce, context, plaintext)
    }

    /// A key derived from this one for another purpose (HMAC-SHA256 of `purpose`).
    pub fn derive(&self, purpose: &[u8]) -> SealingKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose())
            .expect("HMAC takes a key of any length");
        mac.update(purpose);
        SealingKey(Secret::new(mac.finalize().into_bytes().to_vec()))
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose())
            .expect("HMAC takes a key of any length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    fn seal_with(&self, nonce: [u8; NONCE_BYTES], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Open what [`SealingKey::seal`] sealed in the same `context`; `None` when the key or the
    /// context is wrong or the bytes were changed.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .ok()
    }
}

/// The master key: wraps every data key of the store. Never stored in the store.
#[derive(Clone)]
pub struct MasterKey {
    key: SealingKey,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<MasterKey, StoreError> {
        Ok(MasterKey::from_key(SealingKey::generate()?))
    }

    fn from_key(key: SealingKey) -> MasterKey {
        let mut hash = Sha256::new();
        hash.update(b"jwt-asset-server master key id\0");
        hash.update(key.0.expose());
        let id = hex(&hash.finalize()[..8]);
        MasterKey { key, id }
    }

    /// A key written as text: 32 bytes in base64 (standard or URL-safe, padding optional),
    /// surrounding whitespace ignored.
    pub fn from_text(text: &str) -> Result<MasterKey, String> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| "it is not base64".to_owned())?;
        SealingKey::from_bytes(&bytes)
            .map(MasterKey::from_key)
            .ok_or_else(|| format!("it holds {} bytes, not {KEY_BYTES}", bytes.len()))
    }

    /// The key as text (standard base64), as a key file holds it.
    pub fn to_text(&self) -> String {
        STANDARD.encode(self.key.0.expose())
    }

    /// A public fingerprint of the key (16 hex digits of a hash of it): which key sealed a store
    /// or a data key, named in messages. Reveals nothing about the key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wrap a data key called `name`.
    pub fn wrap(&self, name: &str, key: &SealingKey) -> Result<Vec<u8>, StoreError> {
        self.key.seal(&wrap_context(name), key.0.expose())
    }

    /// Unwrap the data key called `name`; `None` when this is not the key that wrapped it or the
    /// bytes were changed.
    pub fn unwrap(&self, name: &str, wrapped: &[u8]) -> Option<SealingKey> {
        let bytes = self.key.open(&wrap_context(name), wrapped)?;
        SealingKey::from_bytes(&bytes)
    }

    /// The key that seals an export for this master key.
    pub fn export_key(&self) -> SealingKey {
        self.key.derive(b"jwt-asset-server export key")
    }

    /// Seal the sign-in settings (they hold the providers' client secrets).
    pub fn seal_settings(&self, settings: &SignInSettings) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(settings)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode the sign-in settings: {e}")))?;
        self.key
            .derive(SETTINGS_CONTEXT)
            .seal(SETTINGS_CONTEXT, &plain)
    }

    /// Open sealed sign-in settings; `None` when this is not the key that sealed them or the
    /// bytes were changed.
    pub fn open_settings(&self, sealed: &[u8]) -> Option<SignInSettings> {
        let plain = self
            .key
            .derive(SETTINGS_CONTEXT)
            .open(SETTINGS_CONTEXT, sealed)?;
        serde_json::from_slice(&plain).ok()
    }

    /// The sign-in settings a backend holds (`None`: never written, the defaults), opened.
    pub fn stored_settings(&self, sealed: Option<&[u8]>) -> Result<SignInSettings, StoreError> {
        match sealed {
            Some(sealed) => self.open_settings(sealed).ok_or_else(|| {
                StoreError::Corrupt(
                    "the sign-in settings do not open with the master key (damaged, or sealed by another key)"
                        .into(),
                )
            }),
            None => Ok(SignInSettings::default()),
        }
    }
}

const SETTINGS_CONTEXT: &[u8] = b"jwt-asset-server sign-in settings";

fn wrap_context(name: &str) -> Vec<u8> {
    [b"jwt-asset-server data key\0".as_slice(), name.as_bytes()].concat()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// A key file; created (0600) with a new key when missing and the store is new.
    File(PathBuf),
    /// A key given directly (from the environment, from a secret manager).
    Given(MasterKey),
}

impl MasterKeySource {
    /// The key, when it exists: `None` when the key file is missing.
    pub fn load(&self) -> Result<Option<MasterKey>, StoreError> {
        match self {
            MasterKeySource::Given(key) => Ok(Some(key.clone())),
            MasterKeySource::File(path) => read_key_file(path),
        }
    }

    /// The key, creating the key file when it is missing (for a new store).
    pub fn load_or_create(&self) -> Result<MasterKey, StoreError> {
        if let Some(key) = self.load()? {
            return Ok(key);
        }
        let MasterKeySource::File(path) = self else {
            unreachable!("a given key always loads")
        };
        let key = MasterKey::generate()?;
        write_key_file(path, &key)?;
        tracing::warn!(
            key_file = %path.display(),
            key_id = key.id(),
            "created a new master key; back it up apart from the data directory: without it the \
             store's secrets cannot be opened"
        );
        Ok(key)
    }

    /// How to name the source in a message.
    pub fn describe(&self) -> String {
        match self {
            MasterKeySource::File(path) => format!("the key file {}", path.display()),
            MasterKeySource::Given(_) => "JWT_ASSET_SERVER_MASTER_KEY".to_owned(),
        }
    }
}

/// Read a key file; `None` when it does not exist.
pub fn read_key_file(path: &Path) -> Result<Option<MasterKey>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::MasterKey(format!(
                "cannot read the master key file {}: {e}",
                path.display()
            )));
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                key_file = %path.display(),
                "the master key file is readable by other users; make it 0600"
            );
        }
    }
    MasterKey::from_text(&text).map(Some).map_err(|why| {
        StoreError::MasterKey(format!(
            "{} is not a master key ({why}): it must hold 32 bytes in base64",
            path.display()
        ))
    })
}

/// Write a new key file: 0600, created only if absent, synced with its directory.
pub fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), StoreError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| {
        StoreError::MasterKey(format!(
            "cannot create the master key file {}: {e} (choose another place with --master-key-file)",
            path.display()
        ))
    };
    // Written whole and synced under a temporary name, then linked into place (which, like
    // create_new, refuses an existing file): a crash never leaves an empty key file.
    let tmp = PathBuf::from(format!(
        "{}.{}.tmp",
        path.display(),
        crate::ids::random_token::<6>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(format!("{}\n", key.to_text()).as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(fail)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(fail)
}

/// An asset's secret material, as sealed.
#[derive(Serialize, Deserialize)]
struct SecretPart {
    secret: Secret,
    next_secret: Option<Secret>,
    private_keys: Vec<Secret>,
    /// The private key of a waiting next key (staged rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_private_key: Option<Secret>,
}

/// An asset with its secret material sealed: the record a backend stores.
#[derive(Clone, Serialize, Deserialize)]
pub struct SealedAsset {
    /// The asset with its secret material emptied.
    pub asset: Asset,
    /// The name of the data key that sealed `sealed`.
    pub key: String,
    /// The secret material, sealed (base64url).
    pub sealed: String,
    /// Whether the secret is shorter than the algorithm's hash, as the asset list warns: kept in
    /// the clear so the list is made at start without opening every asset (absent in records
    /// written before it, and in dumps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weak_secret: Option<bool>,
}

impl BareAsset {
    /// The bare form of an opened asset.
    pub fn of(mut asset: Asset) -> BareAsset {
        let weak_secret = asset.has_weak_secret();
        split(&mut asset);
        BareAsset { asset, weak_secret }
    }
}

fn asset_context(id: &AssetId) -> Vec<u8> {
    [
        b"jwt-asset-server asset secrets\0".as_slice(),
        id.as_str().as_bytes(),
    ]
    .concat()
}

impl SealedAsset {
    /// Seal `asset`'s secret material under the data key `key` (called `key_name`).
    pub fn seal(
        asset: &Asset,
        key_name: &str,
        key: &SealingKey,
    ) -> Result<SealedAsset, StoreError> {
        let mut bare = asset.clone();
        let part = split(&mut bare);
        let plain = serde_json::to_vec(&part)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode secrets: {e}")))?;
        Ok(SealedAsset {
            key: key_name.to_owned(),
            sealed: URL_SAFE_NO_PAD.encode(key.seal(&asset_context(&bare.id), &plain)?),
            asset: bare,
            weak_secret: Some(asset.has_weak_secret()),
        })
    }

    /// Seal deterministically (an export): the same asset and key give the same bytes.
    pub fn seal_deterministic(asset: &Asset, key_name: &str, key: &SealingKey) -> SealedAsset {
        let mut bare = asset.clone();
        let part = split(&mut bare);
        let plain = serde_json::to_vec(&part).expect("secrets encode as JSON");
        SealedAsset {
            key: key_name.to_owned(),
            sealed: URL_SAFE_NO_PAD
                .encode(key.seal_deterministic(&asset_context(&bare.id), &plain)),
            asset: bare,
            weak_secret: None,
        }
    }

    /// The asset with its secret material, opened with `key`.
    pub fn open(self, key: &SealingKey) -> Result<Asset, StoreError> {
        let id = self.asset.id.clone();
        let damaged = || {
            StoreError::Corrupt(format!(
                "the secrets of asset {id} do not open with their data key {} (damaged, or sealed by another key)",
                self.key
            ))
        };
        let sealed = URL_SAFE_NO_PAD
            .decode(&self.sealed)
            .map_err(|_| damaged())?;
        let plain = key.open(&asset_context(&id), &sealed).ok_or_else(damaged)?;
        let part: SecretPart = serde_json::from_slice(&plain).map_err(|_| damaged())?;
        join(self.asset, part).ok_or_else(damaged)
    }

    /// The asset without opening its secrets; a record that does not say whether its secret is
    /// weak (written before records said so) is opened with `open` to find out.
    pub fn bare(
        self,
        open: impl FnOnce(SealedAsset) -> Result<Asset, StoreError>,
    ) -> Result<BareAsset, StoreError> {
        match self.weak_secret {
            Some(weak_secret) => Ok(BareAsset {
                asset: self.asset,
                weak_secret,
            }),
            None => open(self).map(BareAsset::of),
        }
    }
}

/// Take the secret material out of `bare`.
fn split(bare: &mut Asset) -> SecretPart {
    SecretPart {
        secret: std::mem::replace(&mut bare.secret, Secret::new(Vec::new())),
        next_secret: bare.next_secret.take(),
        private_keys: bare
            .keys
            .iter_mut()
            .map(|k| std::mem::replace(&mut k.private_key, Secret::new(Vec::new())))
            .collect(),
        next_private_key: bare
            .next_key
            .as_mut()
            .map(|k| std::mem::replace(&mut k.private_key, Secret::new(Vec::new()))),
    }
}

fn join(mut asset: Asset, part: SecretPart) -> Option<Asset> {
    if part.private_keys.len() != asset.keys.len() {
        return None;
    }
    asset.secret = part.secret;
    asset.next_secret = part.next_secret;
    for (pair, private) in asset.keys.iter_mut().zip(part.private_keys) {
        pair.private_key = private;
    }
    match (asset.next_key.as_mut(), part.next_private_key) {
        (Some(next), Some(private)) => next.private_key = private,
        // A sealed next key without its record, or a record whose next key lost its part.
        (None, Some(_)) => return None,
        (Some(next), None) if next.private_key.is_empty() => return None,
        _ => {}
    }
    Some(asset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_context() {
        let key = SealingKey::generate().unwrap();
        let sealed = key.seal(b"ctx", b"canary").unwrap();
        assert_eq!(key.open(b"ctx", &sealed).unwrap(), b"canary");
        assert!(key.open(b"other", &sealed).is_none());
        assert!(
            SealingKey::generate()
                .unwrap()
                .open(b"ctx", &sealed)
                .is_none()
        );
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(key.open(b"ctx", &flipped).is_none());
        assert!(!sealed.windows(6).any(|w| w == b"canary"));
    }

    #[test]
    fn every_private_key_leaves_the_record_and_comes_back_a_next_key_included() {
        use crate::signing::keys::{KeyPair, KeyType};
        let now = crate::store::test_records::now();
        let mut asset = crate::store::test_records::asset("/t/staged");
        asset.algorithm = crate::signing::Algorithm::ES256;
        asset.keys = vec![KeyPair::generate(KeyType::P256, now).unwrap()];
        asset.next_key = Some(KeyPair::generate(KeyType::P256, now).unwrap());
        let mut bare = asset.clone();
        let part = split(&mut bare);
        let record = serde_json::to_string(&bare).unwrap();
        for private in [
            &asset.keys[0].private_key,
            &asset.next_key.as_ref().unwrap().private_key,
        ] {
            let b64 = serde_json::to_string(private).unwrap();
            assert!(
                !record.contains(b64.trim_matches('"')),
                "a private key in the bare record"
            );
            assert!(!private.is_empty());
        }
        let joined = join(bare.clone(), part).unwrap();
        assert_eq!(
            joined.next_key.as_ref().unwrap().private_key,
            asset.next_key.as_ref().unwrap().private_key
        );
        assert_eq!(joined.keys[0].private_key, asset.keys[0].private_key);
        // A next key whose sealed part is missing does not open.
        let mut part = split(&mut asset.clone());
        part.next_private_key = None;
        assert!(join(bare, part).is_none());
    }

    #[test]
    fn deterministic_sealing_repeats_and_opens() {
        let key = SealingKey::generate().unwrap();
        let a = key.seal_deterministic(b"ctx", b"canary");
        assert_eq!(a, key.seal_deterministic(b"ctx", b"canary"));
        assert_ne!(a, key.seal_deterministic(b"ctx", b"canary2"));
        assert_eq!(key.open(b"ctx", &a).unwrap(), b"canary");
    }

    #[test]
    fn master_keys_round_trip_as_text_and_wrap_data_keys() {
        let master = MasterKey::generate().unwrap();
        let again = MasterKey::from_text(&format!("  {}\n", master.to_text())).unwrap();
        assert_eq!(master.id(), again.id());
        assert_eq!(master.id().len(), 16);
        let data = SealingKey::generate().unwrap();
        let wrapped = master.wrap("a-1", &data).unwrap();
        let opened = again.unwrap("a-1", &wrapped).unwrap();
        assert_eq!(opened.0.expose(), data.0.expose());
        assert!(master.unwrap("a-2", &wrapped).is_none());
        assert!(
            MasterKey::generate()
                .unwrap()
                .unwrap("a-1", &wrapped)
                .is_none()
        );
        assert!(MasterKey::from_text("not base64!").is_err());
        assert!(MasterKey::from_text(&STANDARD.encode([1u8; 16])).is_err());
        assert!(!format!("{master:?}").contains(&master.to_text()));
    }
}
