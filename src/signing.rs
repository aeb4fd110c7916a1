//! Signing: algorithms, secret strength rules, and a signer built once per asset version.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, crypto};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The signature algorithms an asset can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Algorithm {
    /// HMAC with SHA-256 (the default, and what the CMS JWT asset supports).
    #[default]
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl Algorithm {
    /// Parse the JOSE name (`HS256` …), as sent by the API.
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s {
            "HS256" => Some(Algorithm::HS256),
            "HS384" => Some(Algorithm::HS384),
            "HS512" => Some(Algorithm::HS512),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// The smallest secret (bytes) that is as strong as the hash: RFC 7518 §3.2.
    pub fn min_secret_bytes(self) -> usize {
        match self {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
        }
    }

    fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
        }
    }
}

/// A signing failure (a broken key; never expected for HMAC).
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

/// Signs claims for one asset version. The header is encoded once, here, not per token.
pub struct Signer {
    algorithm: Algorithm,
    key: EncodingKey,
    encoded_header: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for an HMAC algorithm and secret.
    pub fn hmac(algorithm: Algorithm, secret: &Secret) -> Signer {
        let header = format!(r#"{{"alg":"{}","typ":"JWT"}}"#, algorithm.name());
        Signer {
            algorithm,
            key: EncodingKey::from_secret(secret.expose()),
            encoded_header: URL_SAFE_NO_PAD.encode(header),
        }
    }

    /// The algorithm this signer uses.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Sign a claims object given as JSON text; returns the compact JWS.
    pub fn sign(&self, claims_json: &str) -> Result<String, SignError> {
        let b64_len = claims_json.len().div_ceil(3) * 4;
        let mut token = String::with_capacity(self.encoded_header.len() + b64_len + 90);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let signature = crypto::sign(token.as_bytes(), &self.key, self.algorithm.jsonwebtoken())
            .map_err(|e| SignError(e.to_string()))?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }
}

/// Whether `signature` (base64url) is the HMAC of `message` under `secret` with `algorithm`.
pub fn verify_hmac(algorithm: Algorithm, secret: &[u8], message: &[u8], signature: &str) -> bool {
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
}
