//! The token debugger: decode any JWT and explain whether it verifies against a key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;

use super::state::Service;
use crate::domain::asset::Asset;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::signing::keys::PublicKey;
use crate::signing::{Algorithm, verify_hmac, verify_public};

/// Which key to verify against.
#[derive(Debug)]
pub enum DebugKey {
    /// Decode only.
    None,
    /// The key of an asset (by id).
    Asset(AssetId),
    /// A pasted HMAC secret (its UTF-8 bytes).
    Secret(String),
    /// A pasted public key, PEM (SPKI `BEGIN PUBLIC KEY` or PKCS#1 `BEGIN RSA PUBLIC KEY`).
    PublicKeyPem(String),
    /// The live asset that publishes a key with the token's `kid`; decode only when none does.
    ByKid,
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

fn decode_json(part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

fn time_claim(claims: &Value, name: &str) -> Option<DateTime<Utc>> {
    claims
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
}

/// The key chosen to verify with: the algorithm it is for (when known), the key itself (none
/// when the asset publishes no key the token names) and words naming it in explanations.
struct ChosenKey {
    expected: Option<Algorithm>,
    verifier: Option<VerifyWith>,
    source: String,
}

impl Service {
    /// Decode a JWT and, given a key, check its algorithm, signature and time claims at `now`.
    pub fn debug_token(
        &self,
        token: &str,
        key: DebugKey,
        now: DateTime<Utc>,
    ) -> Result<Debugged, AppError> {
        let (mut out, decoded) = Debugged::decode_token(token)?;
        let Some((header, claims)) = decoded else {
            return Ok(out);
        };
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = Algorithm::parse(alg_name);
        let header_kid = header.get("kid").and_then(Value::as_str);
        let Some(chosen) = self.choose_key(key, header_kid, now, &mut out.checks)? else {
            return Ok(out);
        };
        let algorithm = algorithm_check(alg_name, alg, &chosen);
        let alg_ok = algorithm.ok;
        out.checks.push(algorithm);
        if let (true, Some(a), Some(verifier)) = (alg_ok, alg, &chosen.verifier) {
            out.checks
                .push(signature_check(&out.parts, a, verifier, &chosen.source));
        }
        out.checks.push(exp_check(&claims, now));
        out.checks.extend(nbf_check(&claims, now));
        out.verified = out.checks.iter().all(|c| c.ok);
        Ok(out)
    }

    /// The key to verify with, `None` to decode only. An asset that publishes no key for the
    /// token's `kid` adds a failed "kid" check.
    fn choose_key(
        &self,
        key: DebugKey,
        header_kid: Option<&str>,
        now: DateTime<Utc>,
        checks: &mut Vec<Check>,
    ) -> Result<Option<ChosenKey>, AppError> {
        match key {
            DebugKey::None => Ok(None),
            DebugKey::ByKid => {
                let Some(kid) = header_kid else {
                    return Ok(None);
                };
                let Some(id) = self.asset_publishing(kid, now) else {
                    return Ok(None);
                };
                let asset = self.asset_record(&id)?;
                checks.push(Check {
                    name: "kid",
                    ok: true,
                    detail: format!(
                        "{kid} is a published key of {} ({}), found by the token's kid",
                        asset.name, asset.path
                    ),
                });
                asset_key(&asset, header_kid, now, checks).map(Some)
            }
            DebugKey::Asset(id) => {
                asset_key(&self.asset_record(&id)?, header_kid, now, checks).map(Some)
            }
            DebugKey::Secret(secret) => pasted_secret(secret).map(Some),
            DebugKey::PublicKeyPem(pem) => pasted_public_key(&pem).map(Some),
        }
    }
}

impl Service {
    /// The live key-pair asset that publishes a key with this `kid` now (its active, retired
    /// or next key).
    pub fn asset_publishing(&self, kid: &str, now: DateTime<Utc>) -> Option<AssetId> {
        self.registry
            .published()
            .values()
            .find(|c| c.asset.published_keys(now).iter().any(|k| k.kid == kid))
            .map(|c| c.asset.id.clone())
    }
}

impl Debugged {
    /// The debugger's first step for pasted text, checking no key: trimmed, refused over
    /// [`MAX_TOKEN_BYTES`], split into parts, header and claims decoded. Also returns the decoded
    /// header and claims, or `None` (with `decode_error` set) when the token is not three parts
    /// of base64url JSON. Needs no store, so it can be fuzzed alone.
    pub fn decode_token(token: &str) -> Result<(Debugged, Option<(Value, Value)>), AppError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AppError::invalid(
                "token",
                format!("is longer than {MAX_TOKEN_BYTES} bytes"),
            ));
        }
        let mut out = Debugged::undecoded(token);
        let decoded = out.decode();
        Ok((out, decoded))
    }

    /// A token split into its parts, nothing decoded or checked yet.
    fn undecoded(token: &str) -> Debugged {
        Debugged {
            parts: token.split('.').map(str::to_owned).collect(),
            header: None,
            claims: None,
            decode_error: None,
            checks: vec![],
            verified: false,
        }
    }

    /// Decode the header and the claims and keep them pretty-printed; `None`, with the
    /// decode error set, when the token is not three parts of base64url JSON.
    fn decode(&mut self) -> Option<(Value, Value)> {
        if self.parts.len() != 3 {
            self.decode_error = Some(format!(
                "a compact JWT has 3 parts separated by '.', this has {}",
                self.parts.len()
            ));
            return None;
        }
        let header = match decode_json(&self.parts[0]) {
            Ok(h) => h,
            Err(e) => {
                self.decode_error = Some(format!("header: {e}"));
                return None;
            }
        };
        self.header = serde_json::to_string_pretty(&header).ok();
        let claims = match decode_json(&self.parts[1]) {
            Ok(c) => c,
            Err(e) => {
                self.decode_error = Some(format!("payload: {e}"));
                return None;
            }
        };
        self.claims = serde_json::to_string_pretty(&claims).ok();
        Some((header, claims))
    }
}

/// An asset's key at `now`: its secret, or the published key the token's `kid` names (the
/// active key when it names none).
fn asset_key(
    asset: &Asset,
    header_kid: Option<&str>,
    now: DateTime<Utc>,
    checks: &mut Vec<Check>,
) -> Result<ChosenKey, AppError> {
    let name = format!("{} ({})", asset.name, asset.path);
    if asset.algorithm.is_hmac() {
        let secret = asset.secret_at(now).expose().to_vec();
        return Ok(ChosenKey {
            expected: Some(asset.algorithm),
            verifier: Some(VerifyWith::Secret(secret)),
            source: format!("the secret of {name}"),
        });
    }
    let published = asset.published_keys(now);
    let chosen = match header_kid {
        Some(kid) => published.iter().find(|k| k.kid == kid).copied(),
        None => published.first().copied(),
    };
    let Some(pair) = chosen else {
        checks.push(unpublished_kid_check(
            asset,
            header_kid.unwrap_or_default(),
            &name,
        ));
        return Ok(ChosenKey {
            expected: Some(asset.algorithm),
            verifier: None,
            source: format!("the keys of {name}"),
        });
    };
    let public = pair
        .public()
        .map_err(|e| AppError::Config(format!("the stored public key {e}")))?;
    let which = if pair.retired_at.is_some() {
        "retired (still published) key"
    } else {
        "active key"
    };
    Ok(ChosenKey {
        expected: Some(asset.algorithm),
        verifier: Some(VerifyWith::Public(Box::new(public))),
        source: format!("the {which} {} of {name}", pair.kid),
    })
}

/// The failed "kid" check when `asset` (called `name`) publishes no key with the token's `kid`.
fn unpublished_kid_check(asset: &Asset, kid: &str, name: &str) -> Check {
    let known = asset.keys.iter().any(|k| k.kid == kid);
    let detail = if known {
        format!(
            "the token's kid {kid:?} belongs to a retired key of {name} that is no longer published: tokens it signed have expired"
        )
    } else {
        format!("the token's kid {kid:?} is not a key of {name} (unknown, or retired and gone)")
    };
    Check {
        name: "kid",
        ok: false,
        detail,
    }
}

/// A pasted HMAC secret; an empty one is refused.
fn pasted_secret(secret: String) -> Result<ChosenKey, AppError> {
    if secret.is_empty() {
        return Err(AppError::invalid(
            "secret",
            "paste the secret to verify against",
        ));
    }
    Ok(ChosenKey {
        expected: None,
        verifier: Some(VerifyWith::Secret(secret.into_bytes())),
        source: "the pasted secret".to_owned(),
    })
}

/// A pasted PEM public key; an empty or unreadable one is refused.
fn pasted_public_key(pem: &str) -> Result<ChosenKey, AppError> {
    if pem.trim().is_empty() {
        return Err(AppError::invalid(
            "public_key",
            "paste the public key (PEM) to verify against",
        ));
    }
    let public = PublicKey::from_pem(pem)
        .map_err(|e| AppError::invalid("public_key", format!("the key {e}")))?;
    Ok(ChosenKey {
        expected: None,
        verifier: Some(VerifyWith::Public(Box::new(public))),
        source: "the pasted public key".to_owned(),
    })
}

/// Whether the header's `alg` (parsed as `alg`) is one this server verifies, the one the key is
/// for, and one the key can verify.
fn algorithm_check(alg_name: &str, alg: Option<Algorithm>, key: &ChosenKey) -> Check {
    let failed = |detail: String| Check {
        name: "algorithm",
        ok: false,
        detail,
    };
    match (alg, key.expected) {
        (None, _) => failed(format!(
            "the header's alg {alg_name:?} is not an algorithm this server verifies ({})",
            Algorithm::ALL.map(Algorithm::name).join(", ")
        )),
        (Some(a), Some(e)) if a != e => failed(format!(
            "wrong algorithm: the token says {}, {} is for {}",
            a.name(),
            key.source,
            e.name()
        )),
        (Some(a), _) => match key_mismatch(a, key) {
            Some(detail) => failed(detail),
            None => Check {
                name: "algorithm",
                ok: true,
                detail: format!("{} as expected", a.name()),
            },
        },
    }
}

/// Why the key cannot verify algorithm `a`: a secret for a public-key algorithm, or a public
/// key of another kind.
fn key_mismatch(a: Algorithm, key: &ChosenKey) -> Option<String> {
    match &key.verifier {
        Some(VerifyWith::Secret(_)) if !a.is_hmac() => Some(format!(
            "wrong algorithm: the token says {}, which is verified with a public key, not a secret",
            a.name()
        )),
        Some(VerifyWith::Public(k)) if !k.fits(a) => Some(format!(
            "wrong algorithm: the token says {}, {} is {}",
            a.name(),
            key.source,
            k.kind()
        )),
        _ => None,
    }
}

/// Verify the signature (the third part) over the first two with `verifier`, named `source`.
fn signature_check(parts: &[String], a: Algorithm, verifier: &VerifyWith, source: &str) -> Check {
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
    Check {
        name: "signature",
        ok,
        detail,
    }
}

/// Whether the token has not expired at `now` (a token without `exp` never does).
fn exp_check(claims: &Value, now: DateTime<Utc>) -> Check {
    let Some(exp) = time_claim(claims, "exp") else {
        return Check {
            name: "exp",
            ok: true,
            detail: "no exp claim: the token never expires".into(),
        };
    };
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
    Check {
        name: "exp",
        ok,
        detail,
    }
}

/// Whether the token is valid yet at `now`; nothing to check without `nbf`.
fn nbf_check(claims: &Value, now: DateTime<Utc>) -> Option<Check> {
    let nbf = time_claim(claims, "nbf")?;
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
    Some(Check {
        name: "nbf",
        ok,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::Debugged;

    #[test]
    fn a_number_in_the_claims_is_shown_exactly_as_the_token_has_it() {
        // Found by the debugger_token fuzz target: without serde_json's exact float parsing,
        // 10.7280146e+225 was read one unit in the last place off and shown as
        // 1.0728014599999999e+226 instead of 1.0728014600000001e+226.
        let token =
            "eyJhbGciOiJIUzI1NiIsInR8cCI6IiIsInR4cCI6IkpXVCJ9.eyJuIjoxMC43MjgwMTQ2ZSsyMjV9.cn";
        let (debugged, _) = Debugged::decode_token(token).unwrap();
        let shown: serde_json::Value =
            serde_json::from_str(debugged.claims.as_deref().unwrap()).unwrap();
        let exact: f64 = "10.7280146e+225".parse().unwrap();
        assert_eq!(shown["n"].as_f64(), Some(exact), "shown: {shown}");
    }
}
