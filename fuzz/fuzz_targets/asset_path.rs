//! Asset web paths as an administrator types them (`AssetPath::parse`).
//!
//! Oracles: nothing panics; an accepted path is kept byte for byte and accepted again unchanged
//! (the canonical form is a fixed point), and its serde form is the same text; acceptance agrees
//! with the documented rule, written out again here independently: `/`-separated segments of
//! `A-Z a-z 0-9 - . _ ~`, none empty, `.` or `..`, at most 255 bytes, the first segment not a
//! reserved prefix, the last not `jwks.json` and none `.well-known` (all without regard to case).
#![no_main]

use jwt_asset_server::domain::asset::{AssetPath, MAX_PATH_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = AssetPath::parse(text);
    assert_eq!(
        parsed.is_ok(),
        follows_the_rule(text),
        "{text:?}: parse says {parsed:?}"
    );
    if let Ok(path) = parsed {
        assert_eq!(path.as_str(), text, "an accepted path is kept as typed");
        assert_eq!(path.to_string(), text);
        let again = AssetPath::parse(path.as_str()).expect("an accepted path is accepted again");
        assert_eq!(again, path);
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, serde_json::to_string(text).unwrap());
        let read: AssetPath = serde_json::from_str(&json).unwrap();
        assert_eq!(read, path);
    }
});

/// The rule as the documentation states it.
fn follows_the_rule(text: &str) -> bool {
    const RESERVED_FIRST: [&str; 8] = [
        "admin",
        "api",
        "login",
        "logout",
        "static",
        "healthz",
        "metrics",
        ".well-known",
    ];
    let Some(rest) = text.strip_prefix('/') else {
        return false;
    };
    if text.len() > MAX_PATH_BYTES || MAX_PATH_BYTES != 255 {
        return false;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let well_formed = segments.iter().all(|segment| {
        !segment.is_empty()
            && *segment != "."
            && *segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    let first = segments[0].to_ascii_lowercase();
    let last = segments[segments.len() - 1].to_ascii_lowercase();
    // No segment anywhere is `.well-known`: `{issuer}/.well-known/…` is the discovery document's.
    let well_known = segments
        .iter()
        .any(|segment| segment.eq_ignore_ascii_case(".well-known"));
    well_formed && !RESERVED_FIRST.contains(&first.as_str()) && last != "jwks.json" && !well_known
}
