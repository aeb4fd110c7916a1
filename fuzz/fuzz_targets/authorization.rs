//! The `Authorization` header, read by `bearer_key` (what `Credential::of` calls).
//!
//! Oracles: nothing panics; the pure parser answers exactly as the extractor does on a real
//! actix request carrying the same header bytes, and as the `HeaderValue::to_str` reading it
//! replaced; a key found is the trimmed text after `Bearer `, visible ASCII only; a key put in a
//! Bearer header (any spaces around it) is read back unchanged.
#![no_main]

use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::test::TestRequest;
use jwt_asset_server::routes::extract::{Credential, bearer_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = bearer_key(data);
    if let Some(key) = key {
        assert_eq!(key, key.trim());
        assert!(
            key.bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        );
        assert!(data.starts_with(b"Bearer "));
        assert_eq!(
            bearer_key(format!("Bearer {key}").as_bytes()),
            Some(key),
            "a key read is read back the same"
        );
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let before = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        assert_eq!(key, before, "as the HeaderValue::to_str reading");
        let request = TestRequest::default()
            .insert_header((AUTHORIZATION, value))
            .to_http_request();
        match Credential::of(&request) {
            Ok(Credential::ApiKey(extracted)) => assert_eq!(Some(extracted.as_ref()), key),
            Ok(Credential::Session(_)) => panic!("a header became a session"),
            Err(_) => assert_eq!(key, None, "the extractor refused a Bearer key"),
        }
    }
    // Any text, trimmed, as a key in a header: comes back unchanged.
    if let Ok(text) = std::str::from_utf8(data) {
        let wanted = text.trim();
        let header = format!("Bearer  {text} ");
        if bearer_key(header.as_bytes()).is_some() {
            assert_eq!(bearer_key(header.as_bytes()), Some(wanted));
        } else {
            assert!(
                !header
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
                "{header:?} refused"
            );
        }
    }
});
