//! Signing: algorithms, secret strength rules, and a signer built once per asset version.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, crypto};

pub mod algorithm;
pub mod keys;

pub use algorithm::{Algorithm, KeyType};

use crate::secret::Secret;
use keys::{KeyPair, PrivateKey, PublicKey};

/// A signing failure (a broken key; never expected for HMAC).
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

impl SignError {
    /// A signing failure with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        SignError(reason.into())
    }
}

enum SigningKey {
    /// Keyed once per asset version (the padded inner and outer keys), not once per token.
    Hmac(Box<hmac::Key>),
    Private(PrivateKey),
}

/// Signs claims for one asset version. The header is encoded once, here, not per token.
pub struct Signer {
    algorithm: Algorithm,
    key: SigningKey,
    kid: Option<String>,
    encoded_header: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for an HMAC algorithm and secret.
    pub fn hmac(algorithm: Algorithm, secret: &Secret) -> Signer {
        Signer::hmac_with_header(algorithm, secret, None, &[])
    }

    /// A signer for an HMAC algorithm and secret whose header also carries `kid` and other
    /// members (e.g. Tableau's `iss`), in the order given after `alg` and `typ`.
    pub fn hmac_with_header(
        algorithm: Algorithm,
        secret: &Secret,
        kid: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Signer {
        let mut header = format!(r#"{{"alg":"{}","typ":"JWT""#, algorithm.name());
        for (name, value) in kid
            .map(|k| ("kid", k))
            .into_iter()
            .chain(extra.iter().copied())
        {
            header.push_str(&format!(
                ",{}:{}",
                serde_json::Value::String(name.to_owned()),
                serde_json::Value::String(value.to_owned())
            ));
        }
        header.push('}');
        Signer {
            algorithm,
            key: SigningKey::Hmac(Box::new(hmac::Key::new(algorithm.hmac(), secret.expose()))),
            kid: kid.map(str::to_owned),
            encoded_header: URL_SAFE_NO_PAD.encode(header),
        }
    }

    /// A signer for an asymmetric algorithm and key pair; the header carries the key's `kid`.
    pub fn asymmetric(algorithm: Algorithm, pair: &KeyPair) -> Result<Signer, SignError> {
        if !algorithm.accepts(pair.key_type) {
            return Err(SignError(format!(
                "{} cannot sign with a {} key",
                algorithm.name(),
                pair.key_type
            )));
        }
        let key = pair.private().map_err(|e| SignError(e.to_string()))?;
        // The kid is base64url: no JSON escaping needed.
        let header = format!(
            r#"{{"alg":"{}","typ":"JWT","kid":"{}"}}"#,
            algorithm.name(),
            pair.kid
        );
        Ok(Signer {
            algorithm,
            key: SigningKey::Private(key),
            kid: Some(pair.kid.clone()),
            encoded_header: URL_SAFE_NO_PAD.encode(header),
        })
    }

    /// The algorithm this signer uses.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The `kid` in the header (asymmetric signers, and HMAC signers given one).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Sign a claims object given as JSON text; returns the compact JWS.
    pub fn sign(&self, claims_json: &str) -> Result<String, SignError> {
        let b64_len = claims_json.len().div_ceil(3) * 4;
        let mut token = String::with_capacity(self.encoded_header.len() + b64_len + 90);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        match &self.key {
            SigningKey::Hmac(key) => {
                let tag = hmac::sign(key, token.as_bytes());
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
            }
            SigningKey::Private(key) => {
                let signature = key
                    .sign(self.algorithm, token.as_bytes())
                    .map_err(|e| SignError(e.to_string()))?;
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(signature, &mut token);
            }
        }
        Ok(token)
    }
}

/// Whether `signature` (base64url) is a valid `algorithm` signature of `message` under the
/// public key. `false` for a malformed signature or an algorithm that does not fit the key.
pub fn verify_public(
    algorithm: Algorithm,
    key: &PublicKey,
    message: &[u8],
    signature: &str,
) -> bool {
    URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .is_ok_and(|sig| key.verify(algorithm, message, &sig))
}

/// Whether `signature` (base64url) is the HMAC of `message` under `secret` with `algorithm`.
pub fn verify_hmac(algorithm: Algorithm, secret: &[u8], message: &[u8], signature: &str) -> bool {
    if !algorithm.is_hmac() {
        return false;
    }
    crypto::verify(
        signature,
        message,
        &DecodingKey::from_secret(secret),
        algorithm.jsonwebtoken(),
    )
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The token was signed by Python's `cryptography` with the same key over the same input
    // (Ed25519 is deterministic).
    #[test]
    fn an_ed25519_signature_matches_the_independent_one_byte_for_byte() {
        let pair = KeyPair::import_pem(
            include_str!("../../tests/fixtures/keys/ed25519.pem"),
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
        .unwrap();
        let signer = Signer::asymmetric(Algorithm::EdDSA, &pair).unwrap();
        let token = signer.sign(r#"{"sub":"alice","iat":1700000000}"#).unwrap();
        assert_eq!(
            token,
            "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImJBNjQ5UG9BQ0Fxd1NvX29YeDN5LWlpM3FDenF2UTgyTXNva0kxMFAxVzgifQ.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0.AEoQ6z3MB5ZL6sK8xZWVYYPFZMaRLlGkdm3HPg6uAf0G5fzJUnqriK5W-lDYesT4wJYfYTXj254jcg6rX0vTDw"
        );
    }

    #[test]
    fn a_fixed_secret_and_claims_give_the_openssl_computed_token() {
        // Independent known answer computed with `openssl dgst -sha256 -hmac`.
        let signer = Signer::hmac(
            Algorithm::HS256,
            &Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()),
        );
        let token = signer.sign(r#"{"sub":"alice","iat":1700000000}"#).unwrap();
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0.\
             MeXdVV3TcS0snjF8oNVjdjQE0HYTqjMVwu8aKhGek4c"
        );
    }

    #[test]
    fn hs384_and_hs512_give_the_openssl_computed_tokens() {
        // Independent known answers computed with `openssl dgst -sha384|-sha512 -hmac`.
        let secret = Secret::new(b"0123456789abcdef".repeat(4));
        let claims = r#"{"sub":"alice","iat":1700000000}"#;
        for (algorithm, expected) in [
            (
                Algorithm::HS384,
                "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0.\
                 mQYZzUJiPht42nHN85xUDyNgVuj0zc03dmT3AjSkhJdBfJjrpHZyF01ByRUEor1C",
            ),
            (
                Algorithm::HS512,
                "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0.\
                 EYEvEzkhAmZshrRpVUFVv1-UqMfbEFjzamf8xQRtDEktfuKpPYhf1dHqw236j5Ue3wwD1PS6JDI8WTByf6UMsw",
            ),
        ] {
            let signer = Signer::hmac(algorithm, &secret);
            assert_eq!(signer.sign(claims).unwrap(), expected, "{algorithm}");
        }
    }
}
