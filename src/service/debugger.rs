//! The token debugger: decode any JWT and explain whether it verifies against a key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::state::Service;
use crate::error::AppError;
use crate::signing::keys::PublicKey;
use crate::signing::{Algorithm, verify_hmac, verify_public};

/// Which key to verify against.
#[derive(Debug)]
pub enum DebugKey {
    /// Decode only.
    None,
    /// The key of an asset (by id).
    Asset(String),
    /// A pasted HMAC secret (its UTF-8 bytes).
    Secret(String),
    /// A pasted public key, PEM (SPKI `BEGIN PUBLIC KEY` or PKCS#1 `BEGIN RSA PUBLIC KEY`).
    PublicKeyPem(String),
}

/// What the signature is checked with.
enum VerifyWith {
    Secret(Vec<u8>),
    Public(Box<PublicKey>),
}

/// One verification step and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// The explanation.
    pub detail: String,
}

/// A decoded token and what was found about it.
#[derive(Debug, Serialize)]
pub struct Debugged {
    /// The three base64url parts (as pasted).
    pub parts: Vec<String>,
    /// The decoded header, pretty-printed.
    pub header: Option<String>,
    /// The decoded claims, pretty-printed.
    pub claims: Option<String>,
    /// Problems decoding it.
    pub decode_error: Option<String>,
    /// Verification steps, when a key was given.
    pub checks: Vec<Check>,
    /// True when a key was given and every check passed.
    pub verified: bool,
}

/// Longest token the debugger looks at.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

fn decode_json(part: &str) -> Result<serde_json::Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

fn time_claim(claims: &serde_json::Value, name: &str) -> Option<DateTime<Utc>> {
    claims
        .get(name)
        .and_then(serde_json::Value::as_i64)
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
}

impl Service {
    /// Decode a JWT and, given a key, check its algorithm, signature and time claims at `now`.
    pub fn debug_token(
        &self,
        token: &str,
        key: DebugKey,
        now: DateTime<Utc>,
    ) -> Result<Debugged, AppError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AppError::invalid(
                "token",
                format!("is longer than {MAX_TOKEN_BYTES} bytes"),
            ));
        }
        let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut out = Debugged {
            parts: parts.clone(),
            header: None,
            claims: None,
            decode_error: None,
            checks: vec![],
            verified: false,
        };
        if parts.len() != 3 {
            out.decode_error = Some(format!(
                "a compact JWT has 3 parts separated by '.', this has {}",
                parts.len()
            ));
            return Ok(out);
        }
        let header = match decode_json(&parts[0]) {
            Ok(h) => h,
            Err(e) => {
                out.decode_error = Some(format!("header: {e}"));
                return Ok(out);
            }
        };
        out.header = serde_json::to_string_pretty(&header).ok();
        let claims = match decode_json(&parts[1]) {
            Ok(c) => c,
            Err(e) => {
                out.decode_error = Some(format!("payload: {e}"));
                return Ok(out);
            }
        };
        out.claims = serde_json::to_string_pretty(&claims).ok();

        let alg_name = header
            .get("alg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let alg = Algorithm::parse(alg_name);
        let header_kid = header.get("kid").and_then(serde_json::Value::as_str);
        // The key to verify with, the algorithm it is for (when known) and words naming it.
        let (expected, verifier, source): (Option<Algorithm>, Option<VerifyWith>, String) =
            match key {
                DebugKey::None => return Ok(out),
                DebugKey::Asset(id) => {
                    let asset = self.asset_record(&id)?;
                    let name = format!("{} ({})", asset.name, asset.path);
                    if asset.algorithm.is_hmac() {
                        let secret = asset.secret_at(now).expose().to_vec();
                        (
                            Some(asset.algorithm),
                            Some(VerifyWith::Secret(secret)),
                            format!("the secret of {name}"),
                        )
                    } else {
                        let published = asset.published_keys(now);
                        let chosen = match header_kid {
                            Some(kid) => published.iter().find(|k| k.kid == kid).copied(),
                            None => published.first().copied(),
                        };
                        match chosen {
                            Some(pair) => {
                                let public = pair.public().map_err(|e| {
                                    AppError::Config(format!("the stored public key {e}"))
                                })?;
                                let which = if pair.retired_at.is_some() {
                                    "retired (still published) key"
                                } else {
                                    "active key"
                                };
                                (
                                    Some(asset.algorithm),
                                    Some(VerifyWith::Public(Box::new(public))),
                                    format!("the {which} {} of {name}", pair.kid),
                                )
                            }
                            None => {
                                let kid = header_kid.unwrap_or_default();
                                let known = asset.keys.iter().any(|k| k.kid == kid);
                                out.checks.push(Check {
                                    name: "kid",
                                    ok: false,
                                    detail: if known {
                                        format!(
                                            "the token's kid {kid:?} belongs to a retired key of {name} that is no longer published: tokens it signed have expired"
                                        )
                                    } else {
                                        format!(
                                            "the token's kid {kid:?} is not a key of {name} (unknown, or retired and gone)"
                                        )
                                    },
                                });
                                (Some(asset.algorithm), None, format!("the keys of {name}"))
                            }
                        }
                    }
                }
                DebugKey::Secret(s) => {
                    if s.is_empty() {
                        return Err(AppError::invalid(
                            "secret",
                            "paste the secret to verify against",
                        ));
                    }
                    (
                        None,
                        Some(VerifyWith::Secret(s.into_bytes())),
                        "the pasted secret".to_owned(),
                    )
                }
                DebugKey::PublicKeyPem(pem) => {
                    if pem.trim().is_empty() {
                        return Err(AppError::invalid(
                            "public_key",
                            "paste the public key (PEM) to verify against",
                        ));
                    }
                    let public = PublicKey::from_pem(&pem)
                        .map_err(|e| AppError::invalid("public_key", format!("the key {e}")))?;
                    (
                        None,
                        Some(VerifyWith::Public(Box::new(public))),
                        "the pasted public key".to_owned(),
                    )
                }
            };
        let alg_ok = match (alg, expected) {
            (None, _) => {
                out.checks.push(Check {
                    name: "algorithm",
                    ok: false,
                    detail: format!(
                        "the header's alg {alg_name:?} is not an algorithm this server verifies ({})",
                        Algorithm::ALL.map(Algorithm::name).join(", ")
                    ),
                });
                false
            }
            (Some(a), Some(e)) if a != e => {
                out.checks.push(Check {
                    name: "algorithm",
                    ok: false,
                    detail: format!(
                        "wrong algorithm: the token says {}, {source} is for {}",
                        a.name(),
                        e.name()
                    ),
                });
                false
            }
            (Some(a), _) => {
                let mismatch = match &verifier {
                    Some(VerifyWith::Secret(_)) if !a.is_hmac() => Some(format!(
                        "wrong algorithm: the token says {}, which is verified with a public key, not a secret",
                        a.name()
                    )),
                    Some(VerifyWith::Public(k)) if !k.fits(a) => Some(format!(
                        "wrong algorithm: the token says {}, {source} is {}",
                        a.name(),
                        k.kind()
                    )),
                    _ => None,
                };
                match mismatch {
                    Some(detail) => {
                        out.checks.push(Check {
                            name: "algorithm",
                            ok: false,
                            detail,
                        });
                        false
                    }
                    None => {
                        out.checks.push(Check {
                            name: "algorithm",
                            ok: true,
                            detail: format!("{} as expected", a.name()),
                        });
                        true
                    }
                }
            }
        };
        if let (true, Some(a), Some(verifier)) = (alg_ok, alg, &verifier) {
            let message = format!("{}.{}", parts[0], parts[1]);
            let ok = match verifier {
                VerifyWith::Secret(secret) => verify_hmac(a, secret, message.as_bytes(), &parts[2]),
                VerifyWith::Public(key) => verify_public(a, key, message.as_bytes(), &parts[2]),
            };
            let detail = if ok {
                format!("signature verified with {source}")
            } else {
                format!("bad signature: it was not made with {source}, or the token was altered")
            };
            out.checks.push(Check {
                name: "signature",
                ok,
                detail,
            });
        }
        if let Some(exp) = time_claim(&claims, "exp") {
            let ok = now < exp;
            let detail = if ok {
                format!(
                    "expires {} ({} s from now)",
                    exp.to_rfc3339(),
                    (exp - now).num_seconds()
                )
            } else {
                format!(
                    "expired at {} ({} s ago)",
                    exp.to_rfc3339(),
                    (now - exp).num_seconds()
                )
            };
            out.checks.push(Check {
                name: "exp",
                ok,
                detail,
            });
        } else {
            out.checks.push(Check {
                name: "exp",
                ok: true,
                detail: "no exp claim: the token never expires".into(),
            });
        }
        if let Some(nbf) = time_claim(&claims, "nbf") {
            let ok = now >= nbf;
            let detail = if ok {
                format!("valid since {}", nbf.to_rfc3339())
            } else {
                format!(
                    "not yet valid: valid from {} ({} s from now)",
                    nbf.to_rfc3339(),
                    (nbf - now).num_seconds()
                )
            };
            out.checks.push(Check {
                name: "nbf",
                ok,
                detail,
            });
        }
        out.verified = out.checks.iter().all(|c| c.ok);
        Ok(out)
    }
}
