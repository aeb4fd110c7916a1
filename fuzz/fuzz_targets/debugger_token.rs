//! The token debugger's decoding of pasted text (`Debugged::decode_token`, the first step of
//! `Service::debug_token`), and signature checks on what it splits.
//!
//! Oracles: nothing panics; text over the limit is refused; the parts are the trimmed text split
//! at `.` and join back to it; a token decodes exactly when it has three parts whose first two are
//! canonical unpadded base64url JSON (padding `=` at the end tolerated), and then the shown
//! (pretty-printed) header and claims read back as the decoded values, and re-encoding them
//! compactly gives a token that decodes to the same values (a float may read back one unit in
//! the last place off: serde_json's default float parsing, the server's, is not exact);
//! checking the signature part with a secret never panics, and a token signed here with that
//! secret verifies.
#![no_main]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_asset_server::service::Debugged;
use jwt_asset_server::signing::{Algorithm, verify_hmac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// The debugger's limit (`service::debugger::MAX_TOKEN_BYTES`, not exported): if it changes, the
/// "refused exactly when too long" oracle fails at once and this follows.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let token = text.trim();
    let (debugged, decoded) = match Debugged::decode_token(text) {
        Ok(answer) => answer,
        Err(_) => {
            assert!(token.len() > MAX_TOKEN_BYTES, "refused though not too long");
            return;
        }
    };
    assert!(token.len() <= MAX_TOKEN_BYTES);
    assert_eq!(debugged.parts.join("."), token);
    assert!(!debugged.verified && debugged.checks.is_empty());
    let expected = independent_decode(&debugged.parts);
    match &decoded {
        None => {
            assert!(debugged.decode_error.is_some());
            assert!(expected.is_none(), "refused a decodable token: {token:?}");
        }
        Some((header, claims)) => {
            assert!(debugged.decode_error.is_none());
            assert_eq!(expected.as_ref(), Some(&(header.clone(), claims.clone())));
            let shown = |pretty: &Option<String>| {
                serde_json::from_str::<Value>(pretty.as_deref().expect("decoded is shown")).unwrap()
            };
            let header_shown = shown(&debugged.header);
            let claims_shown = shown(&debugged.claims);
            assert!(
                common::same_json(&header_shown, header),
                "the header as shown: {header_shown} is not {header}"
            );
            assert!(
                common::same_json(&claims_shown, claims),
                "the claims as shown: {claims_shown} is not {claims}"
            );
            let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
            let message = format!("{}.{}", encode(header), encode(claims));
            let signature = sign(message.as_bytes());
            let again = format!("{message}.{signature}");
            if again.len() <= MAX_TOKEN_BYTES {
                let (redebugged, redecoded) = Debugged::decode_token(&again).unwrap();
                let (header_again, claims_again) = redecoded.expect("a re-encoded token decodes");
                assert!(
                    common::same_json(&header_again, header)
                        && common::same_json(&claims_again, claims),
                    "re-encoded: {header_again} {claims_again} is not {header} {claims}"
                );
                assert!(verify_hmac(
                    Algorithm::HS256,
                    SECRET,
                    message.as_bytes(),
                    &redebugged.parts[2]
                ));
            }
        }
    }
    if debugged.parts.len() == 3 {
        let message = format!("{}.{}", debugged.parts[0], debugged.parts[1]);
        for algorithm in Algorithm::ALL {
            let verified = verify_hmac(algorithm, SECRET, message.as_bytes(), &debugged.parts[2]);
            if verified {
                assert!(algorithm.is_hmac());
            }
        }
    }
});

/// Header and claims as JSON, read here without the debugger's code.
fn independent_decode(parts: &[String]) -> Option<(Value, Value)> {
    let [header, claims, _] = parts else {
        return None;
    };
    let json = |part: &str| -> Option<Value> {
        let part = part.trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&bytes),
            part,
            "base64url is canonical"
        );
        serde_json::from_slice(&bytes).ok()
    };
    Some((json(header)?, json(claims)?))
}

/// An HS256 signature over `message`, computed here (HMAC-SHA256 by hand over sha2).
fn sign(message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(message);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}
