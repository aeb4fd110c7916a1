//! Asymmetric key pairs: generation, PEM import, the public JWK and its `kid` (RFC 7638
//! thumbprint), and the raw sign/verify operations behind RS*/PS*/ES*/EdDSA.
//!
//! The cryptography is AWS-LC's (through `aws-lc-rs`): constant-time, and as fast as OpenSSL.
//! The key structures (PKCS#8, PKCS#1, SEC1, SPKI) are read with RustCrypto's `pkcs8`/`pkcs1`
//! only to name what is wrong with a key a person pasted.
//!
//! The private key is kept as PKCS#8 DER inside a [`Secret`]; it is written to the store and
//! nowhere else (views, logs and exports only ever see the public half).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use pkcs8::PrivateKeyInfo;
use pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::algorithm::Algorithm;
pub use super::algorithm::KeyType;
use crate::secret::Secret;

/// Why a key could not be generated, imported or used; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, KeyError> {
    Err(KeyError(m.into()))
}

/// A stored key pair of an asymmetric asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyPair {
    /// RFC 7638 JWK SHA-256 thumbprint, base64url.
    pub kid: String,
    /// Key type.
    pub key_type: KeyType,
    /// The private key, PKCS#8 DER. Never shown, logged or exported.
    pub private_key: Secret,
    /// The public key, SPKI PEM.
    pub public_key_pem: String,
    /// The public JWK's key members only (`kty`, `n`/`e`, `crv`/`x`/`y`).
    pub public_jwk: serde_json::Map<String, serde_json::Value>,
    /// When the key was made or imported.
    pub created_at: DateTime<Utc>,
    /// When a newer key replaced it (`None` = the active key).
    #[serde(default)]
    pub retired_at: Option<DateTime<Utc>>,
}

impl KeyPair {
    /// Generate a new key pair of `key_type` with the operating system's random generator.
    pub fn generate(key_type: KeyType, now: DateTime<Utc>) -> Result<KeyPair, KeyError> {
        let failed = |_| KeyError(format!("{key_type} key generation failed"));
        let key = match key_type {
            KeyType::Rsa2048 => {
                PrivateKey::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?)
            }
            KeyType::Rsa3072 => {
                PrivateKey::Rsa(RsaKeyPair::generate(KeySize::Rsa3072).map_err(failed)?)
            }
            KeyType::Rsa4096 => {
                PrivateKey::Rsa(RsaKeyPair::generate(KeySize::Rsa4096).map_err(failed)?)
            }
            KeyType::P256 => PrivateKey::P256(EcdsaKeyPair::generate(P256).map_err(failed)?),
            KeyType::P384 => PrivateKey::P384(EcdsaKeyPair::generate(P384).map_err(failed)?),
            KeyType::Ed25519 => PrivateKey::Ed25519(Ed25519KeyPair::generate().map_err(failed)?),
        };
        KeyPair::from_private(key, now)
    }

    /// Import a private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 (`BEGIN RSA PRIVATE
    /// KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`). Encrypted, malformed, too small, public and
    /// unsupported keys are refused with a message naming the problem.
    pub fn import_pem(text: &str, now: DateTime<Utc>) -> Result<KeyPair, KeyError> {
        KeyPair::from_private(PrivateKey::from_pem(text)?, now)
    }

    fn from_private(key: PrivateKey, now: DateTime<Utc>) -> Result<KeyPair, KeyError> {
        let key_type = key.key_type()?;
        let public = key.public()?;
        let public_jwk = public.jwk_members();
        let der = key.to_pkcs8_der()?;
        Ok(KeyPair {
            kid: thumbprint(&public_jwk),
            key_type,
            private_key: Secret::new(der),
            public_key_pem: public.to_pem()?,
            public_jwk,
            created_at: now,
            retired_at: None,
        })
    }

    /// The public JWK as published: key members plus `kid`, `alg` and `use`. Never a private
    /// parameter.
    pub fn jwk(&self, algorithm: Algorithm) -> serde_json::Value {
        let mut m = self.public_jwk.clone();
        m.insert("kid".into(), self.kid.clone().into());
        m.insert("alg".into(), algorithm.name().into());
        m.insert("use".into(), "sig".into());
        serde_json::Value::Object(m)
    }

    /// The private key, parsed for signing.
    pub fn private(&self) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pkcs8_der(self.private_key.expose())
    }

    /// The public key, parsed for verifying.
    pub fn public(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_pem(&self.public_key_pem)
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(members: &serde_json::Map<String, serde_json::Value>) -> String {
    let required: &[&str] = match members.get("kty").and_then(|v| v.as_str()) {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    let mut canonical = String::from("{");
    for (i, name) in required.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        let value = members
            .get(*name)
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        canonical.push_str(&format!("\"{name}\":{value}"));
    }
    canonical.push('}');
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");

const P256: &EcdsaSigningAlgorithm = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
const P384: &EcdsaSigningAlgorithm = &sig::ECDSA_P384_SHA384_FIXED_SIGNING;

/// A parsed private key, ready to sign.
pub enum PrivateKey {
    /// RSA.
    Rsa(RsaKeyPair),
    /// P-256.
    P256(EcdsaKeyPair),
    /// P-384.
    P384(EcdsaKeyPair),
    /// Ed25519.
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

/// The first PEM block of `text` (anything before `-----BEGIN` is ignored).
fn pem_block(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let start = text.find("-----BEGIN ").ok_or_else(|| {
        KeyError(
            "is not in PEM form: expected a -----BEGIN PRIVATE KEY----- block (or BEGIN RSA PRIVATE KEY, BEGIN EC PRIVATE KEY)"
                .into(),
        )
    })?;
    let block = text[start..].trim().replace("\r\n", "\n");
    let end_marker = block
        .find("-----END ")
        .and_then(|i| block[i + 9..].find("-----").map(|j| i + 9 + j + 5))
        .ok_or_else(|| KeyError("is malformed PEM: no -----END line".into()))?;
    let block = &block[..end_marker];
    let (label, der) = pem_rfc7468::decode_vec(block.as_bytes())
        .map_err(|e| KeyError(format!("is malformed PEM ({e})")))?;
    Ok((label.to_owned(), der))
}

/// The modulus size in bits of a PKCS#1 RSA private key, for messages about its size.
fn rsa_bits(pkcs1: &[u8]) -> Result<usize, KeyError> {
    let key = pkcs1::RsaPrivateKey::try_from(pkcs1)
        .map_err(|e| KeyError(format!("is not a valid PKCS#1 RSA private key ({e})")))?;
    let n = key.modulus.as_bytes();
    let leading = n.first().map_or(0, |b| b.leading_zeros() as usize);
    Ok(n.len() * 8 - leading)
}

fn rsa_size_ok(bits: usize) -> Result<(), KeyError> {
    if bits < 2048 {
        return err(format!(
            "is a {bits}-bit RSA key; at least 2048 bits are required"
        ));
    }
    if !matches!(bits, 2048 | 3072 | 4096) {
        return err(format!(
            "is a {bits}-bit RSA key; supported sizes are 2048, 3072 and 4096 bits"
        ));
    }
    Ok(())
}

impl PrivateKey {
    /// Parse a PEM private key (see [`KeyPair::import_pem`]).
    pub fn from_pem(text: &str) -> Result<PrivateKey, KeyError> {
        if text.contains("BEGIN ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return err(
                "is encrypted with a passphrase; remove it first (openssl pkey -in key.pem -out plain.pem)",
            );
        }
        if ["PUBLIC KEY-----", "CERTIFICATE-----"]
            .iter()
            .any(|m| text.contains(&format!("BEGIN {m}")) || text.contains(&format!(" {m}")))
            && !text.contains("PRIVATE KEY-----")
        {
            return err(
                "is a public key or certificate; the server needs the private key to sign (BEGIN PRIVATE KEY)",
            );
        }
        let (label, der) = pem_block(text)?;
        match label.as_str() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der),
            "RSA PRIVATE KEY" => {
                rsa_size_ok(rsa_bits(&der)?)?;
                RsaKeyPair::from_der(&der)
                    .map(PrivateKey::Rsa)
                    .map_err(|e| KeyError(format!("is not a consistent RSA key ({e})")))
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = EcdsaKeyPair::from_private_key_der(P256, &der) {
                    Ok(PrivateKey::P256(k))
                } else if let Ok(k) = EcdsaKeyPair::from_private_key_der(P384, &der) {
                    Ok(PrivateKey::P384(k))
                } else {
                    err("is not a P-256 or P-384 EC private key (other curves are not supported)")
                }
            }
            other => err(format!(
                "is a {other:?} PEM block, not a private key (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
            )),
        }
    }

    /// Parse PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let info = PrivateKeyInfo::try_from(der)
            .map_err(|e| KeyError(format!("is not a valid PKCS#8 private key ({e})")))?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA {
            rsa_size_ok(rsa_bits(info.private_key)?)?;
            RsaKeyPair::from_pkcs8(der)
                .map(PrivateKey::Rsa)
                .map_err(|e| KeyError(format!("is not a consistent RSA key ({e})")))
        } else if oid == OID_EC {
            let curve = info.algorithm.parameters_oid().ok();
            if curve == Some(OID_P256) {
                EcdsaKeyPair::from_pkcs8(P256, der)
                    .map(PrivateKey::P256)
                    .map_err(|e| KeyError(format!("is not a valid P-256 private key ({e})")))
            } else if curve == Some(OID_P384) {
                EcdsaKeyPair::from_pkcs8(P384, der)
                    .map(PrivateKey::P384)
                    .map_err(|e| KeyError(format!("is not a valid P-384 private key ({e})")))
            } else {
                let name = match curve {
                    Some(c) if c == OID_P521 => "P-521".to_owned(),
                    Some(c) if c == OID_SECP256K1 => "secp256k1".to_owned(),
                    Some(c) => c.to_string(),
                    None => "an unnamed curve".to_owned(),
                };
                err(format!(
                    "is an EC key on {name}; only P-256 (ES256) and P-384 (ES384) are supported"
                ))
            }
        } else if oid == OID_ED25519 {
            Ed25519KeyPair::from_pkcs8(der)
                .map(PrivateKey::Ed25519)
                .map_err(|e| KeyError(format!("is not a valid Ed25519 private key ({e})")))
        } else if oid == OID_ED448 {
            err("is an Ed448 key; only Ed25519 is supported for EdDSA")
        } else if oid == OID_RSA_PSS {
            err("is an RSA-PSS-only key; import a plain RSA key (it signs PS256 too)")
        } else {
            err(format!("is a key of an unsupported type (algorithm {oid})"))
        }
    }

    /// The key type.
    pub fn key_type(&self) -> Result<KeyType, KeyError> {
        Ok(match self {
            PrivateKey::Rsa(k) => match k.public_modulus_len() * 8 {
                2048 => KeyType::Rsa2048,
                3072 => KeyType::Rsa3072,
                4096 => KeyType::Rsa4096,
                bits => {
                    return err(format!(
                        "is a {bits}-bit RSA key; supported sizes are 2048, 3072 and 4096 bits"
                    ));
                }
            },
            PrivateKey::P256(_) => KeyType::P256,
            PrivateKey::P384(_) => KeyType::P384,
            PrivateKey::Ed25519(_) => KeyType::Ed25519,
        })
    }

    fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError("cannot encode the private key".into());
        Ok(match self {
            PrivateKey::Rsa(k) => AsDer::<Pkcs8V1Der>::as_der(k)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            PrivateKey::P256(k) | PrivateKey::P384(k) => {
                k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
            }
            PrivateKey::Ed25519(k) => k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
        })
    }

    /// The public half.
    pub fn public(&self) -> Result<PublicKey, KeyError> {
        let spki = match self {
            PrivateKey::Rsa(k) => AsDer::<PublicKeyX509Der>::as_der(k.public_key()),
            PrivateKey::P256(k) | PrivateKey::P384(k) => {
                AsDer::<PublicKeyX509Der>::as_der(k.public_key())
            }
            PrivateKey::Ed25519(k) => AsDer::<PublicKeyX509Der>::as_der(k.public_key()),
        }
        .map_err(|_| KeyError("cannot encode the public key".into()))?;
        PublicKey::from_spki_der(spki.as_ref())
    }

    /// Sign `message` with `algorithm` (which must fit the key); the raw JWS signature bytes
    /// (ECDSA as fixed-size `r || s`).
    pub fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mismatch = || {
            KeyError(format!(
                "{} cannot sign with this key type",
                algorithm.name()
            ))
        };
        let failed = |_| KeyError(format!("{} signing failed", algorithm.name()));
        let rng = SystemRandom::new();
        match (self, algorithm) {
            (PrivateKey::Rsa(k), a) => {
                let padding: &'static dyn sig::RsaEncoding = match a {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_SHA512,
                    _ => return Err(mismatch()),
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(padding, &rng, message, &mut out).map_err(failed)?;
                Ok(out)
            }
            (PrivateKey::P256(k), Algorithm::ES256) | (PrivateKey::P384(k), Algorithm::ES384) => {
                Ok(k.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
            (PrivateKey::Ed25519(k), Algorithm::EdDSA) => Ok(k.sign(message).as_ref().to_vec()),
            _ => Err(mismatch()),
        }
    }
}

/// The kinds of public key, with what their JWK needs.
#[derive(Debug, Clone)]
enum PublicKind {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ec {
        curve: &'static str,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
}

/// A parsed public key: its SPKI DER (what verification reads) and its JWK members.
#[derive(Debug, Clone)]
pub struct PublicKey {
    spki: Vec<u8>,
    kind: PublicKind,
}

impl PublicKey {
    /// Parse a public key PEM: SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`). A
    /// private key PEM is accepted too (its public half is used).
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        if text.contains("PRIVATE KEY-----") {
            return PrivateKey::from_pem(text)?.public();
        }
        let (label, der) = pem_block(text)?;
        match label.as_str() {
            "PUBLIC KEY" => PublicKey::from_spki_der(&der),
            "RSA PUBLIC KEY" => {
                let key = sig::RsaSubjectPublicKey::from_der(&der)
                    .map_err(|e| KeyError(format!("is not a valid RSA public key ({e})")))?;
                let spki = AsDer::<PublicKeyX509Der>::as_der(&key)
                    .map_err(|_| KeyError("is not a valid RSA public key".into()))?;
                PublicKey::from_spki_der(spki.as_ref())
            }
            other => err(format!(
                "is a {other:?} PEM block; paste a public key (BEGIN PUBLIC KEY)"
            )),
        }
    }

    fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let unsupported = || KeyError("is not an RSA, P-256, P-384 or Ed25519 public key".into());
        let info = SubjectPublicKeyInfoRef::try_from(der).map_err(|_| unsupported())?;
        let bits = info.subject_public_key.raw_bytes();
        let oid = info.algorithm.oid;
        let kind = if oid == OID_RSA {
            let key = sig::RsaSubjectPublicKey::from_der(der)
                .map_err(|e| KeyError(format!("is not a valid RSA public key ({e})")))?;
            PublicKind::Rsa {
                n: key.modulus().big_endian_without_leading_zero().to_vec(),
                e: key.exponent().big_endian_without_leading_zero().to_vec(),
            }
        } else if oid == OID_EC {
            let curve = info.algorithm.parameters_oid().ok();
            let (name, len, check): (_, _, &'static sig::EcdsaVerificationAlgorithm) = match curve {
                Some(c) if c == OID_P256 => ("P-256", 32, &sig::ECDSA_P256_SHA256_FIXED),
                Some(c) if c == OID_P384 => ("P-384", 48, &sig::ECDSA_P384_SHA384_FIXED),
                _ => return Err(unsupported()),
            };
            // Uncompressed point: 0x04 || x || y.
            if bits.len() != 1 + 2 * len || bits[0] != 4 {
                return err(format!(
                    "is a {name} key whose point is not in uncompressed form"
                ));
            }
            sig::ParsedPublicKey::new(check, der)
                .map_err(|e| KeyError(format!("is not a valid {name} public key ({e})")))?;
            PublicKind::Ec {
                curve: name,
                x: bits[1..=len].to_vec(),
                y: bits[1 + len..].to_vec(),
            }
        } else if oid == OID_ED25519 {
            sig::ParsedPublicKey::new(&sig::ED25519, der)
                .map_err(|e| KeyError(format!("is not a valid Ed25519 public key ({e})")))?;
            PublicKind::Ed25519 { x: bits.to_vec() }
        } else {
            return Err(unsupported());
        };
        Ok(PublicKey {
            spki: der.to_vec(),
            kind,
        })
    }

    /// A short name of the key's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.kind {
            PublicKind::Rsa { .. } => "an RSA key",
            PublicKind::Ec { curve: "P-256", .. } => "a P-256 key",
            PublicKind::Ec { .. } => "a P-384 key",
            PublicKind::Ed25519 { .. } => "an Ed25519 key",
        }
    }

    /// Whether `algorithm` signs with this kind of key.
    pub fn fits(&self, algorithm: Algorithm) -> bool {
        self.verification(algorithm).is_some()
    }

    /// AWS-LC's verification algorithm for `algorithm` with this key, if it fits.
    fn verification(
        &self,
        algorithm: Algorithm,
    ) -> Option<&'static dyn sig::VerificationAlgorithm> {
        Some(match (&self.kind, algorithm) {
            (PublicKind::Rsa { .. }, Algorithm::RS256) => &sig::RSA_PKCS1_2048_8192_SHA256,
            (PublicKind::Rsa { .. }, Algorithm::RS384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            (PublicKind::Rsa { .. }, Algorithm::RS512) => &sig::RSA_PKCS1_2048_8192_SHA512,
            (PublicKind::Rsa { .. }, Algorithm::PS256) => &sig::RSA_PSS_2048_8192_SHA256,
            (PublicKind::Rsa { .. }, Algorithm::PS384) => &sig::RSA_PSS_2048_8192_SHA384,
            (PublicKind::Rsa { .. }, Algorithm::PS512) => &sig::RSA_PSS_2048_8192_SHA512,
            (PublicKind::Ec { curve: "P-256", .. }, Algorithm::ES256) => {
                &sig::ECDSA_P256_SHA256_FIXED
            }
            (PublicKind::Ec { curve: "P-384", .. }, Algorithm::ES384) => {
                &sig::ECDSA_P384_SHA384_FIXED
            }
            (PublicKind::Ed25519 { .. }, Algorithm::EdDSA) => &sig::ED25519,
            _ => return None,
        })
    }

    /// SPKI PEM.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.spki)
            .map_err(|e| KeyError(format!("cannot encode the public key: {e}")))
    }

    /// The JWK key members (no `kid`/`alg`/`use`).
    pub fn jwk_members(&self) -> serde_json::Map<String, serde_json::Value> {
        let b64 = |b: &[u8]| serde_json::Value::String(URL_SAFE_NO_PAD.encode(b));
        let mut m = serde_json::Map::new();
        match &self.kind {
            PublicKind::Rsa { n, e } => {
                m.insert("kty".into(), "RSA".into());
                m.insert("n".into(), b64(n));
                m.insert("e".into(), b64(e));
            }
            PublicKind::Ec { curve, x, y } => {
                m.insert("kty".into(), "EC".into());
                m.insert("crv".into(), (*curve).into());
                m.insert("x".into(), b64(x));
                m.insert("y".into(), b64(y));
            }
            PublicKind::Ed25519 { x } => {
                m.insert("kty".into(), "OKP".into());
                m.insert("crv".into(), "Ed25519".into());
                m.insert("x".into(), b64(x));
            }
        }
        m
    }

    /// The RFC 7638 thumbprint of this key.
    pub fn kid(&self) -> String {
        thumbprint(&self.jwk_members())
    }

    /// Whether `signature` (raw bytes) is a valid `algorithm` signature of `message` under this
    /// key. `false` also when the algorithm does not fit the key.
    pub fn verify(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.verification(algorithm).is_some_and(|a| {
            UnparsedPublicKey::new(a, &self.spki)
                .verify(message, signature)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    // Expected kid, JWK and SPKI PEM were computed with Python's `cryptography` package
    // (tests/fixtures/keys/expected.json), not with this code.
    #[test]
    fn imported_keys_have_the_independently_computed_kid_jwk_and_public_pem() {
        let expected: serde_json::Value = serde_json::from_str(&fixture("expected.json")).unwrap();
        for (file, key_type) in [
            ("rsa2048.pem", KeyType::Rsa2048),
            ("p256.pem", KeyType::P256),
            ("p384.pem", KeyType::P384),
            ("ed25519.pem", KeyType::Ed25519),
        ] {
            let pair = KeyPair::import_pem(&fixture(file), now()).unwrap();
            let e = &expected[file];
            assert_eq!(pair.key_type, key_type, "{file}");
            assert_eq!(pair.kid, e["kid"].as_str().unwrap(), "{file}");
            assert_eq!(
                serde_json::Value::Object(pair.public_jwk.clone()),
                e["jwk"],
                "{file}"
            );
            assert_eq!(pair.public_key_pem, e["spki"].as_str().unwrap(), "{file}");
            let jwk = pair.jwk(Algorithm::RS256);
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(jwk.get(private).is_none(), "{file}: {private}");
            }
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kid"], e["kid"]);
        }
    }

    #[test]
    fn pkcs1_and_pkcs8_rsa_give_the_same_key() {
        let a = KeyPair::import_pem(&fixture("rsa2048.pem"), now()).unwrap();
        let b = KeyPair::import_pem(&fixture("rsa2048-pkcs1.pem"), now()).unwrap();
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.private_key, b.private_key, "stored as PKCS#8 either way");
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for (file, words) in [
            ("encrypted.pem", "encrypted"),
            ("rsa1024.pem", "1024-bit"),
            ("rsa2048-public.pem", "public key"),
            ("secp256k1.pem", "secp256k1"),
        ] {
            let e = KeyPair::import_pem(&fixture(file), now()).unwrap_err();
            assert!(e.0.contains(words), "{file}: {e}");
        }
        for text in [
            "",
            "hello",
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(KeyPair::import_pem(text, now()).is_err(), "{text:?}");
        }
    }

    #[test]
    fn generated_keys_sign_and_verify_for_their_algorithms() {
        for (kt, algs) in [
            (KeyType::P256, vec![Algorithm::ES256]),
            (KeyType::P384, vec![Algorithm::ES384]),
            (KeyType::Ed25519, vec![Algorithm::EdDSA]),
            (
                KeyType::Rsa2048,
                vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                ],
            ),
        ] {
            let pair = KeyPair::generate(kt, now()).unwrap();
            assert_eq!(pair.key_type, kt);
            let stored = pair.private().unwrap();
            let public = pair.public().unwrap();
            assert_eq!(public.kid(), pair.kid);
            for a in algs {
                let sig = stored.sign(a, b"msg").unwrap();
                assert!(public.verify(a, b"msg", &sig), "{kt} {a:?}");
                assert!(!public.verify(a, b"msh", &sig), "{kt} {a:?}");
            }
            assert!(stored.sign(Algorithm::HS256, b"msg").is_err());
        }
    }
}
