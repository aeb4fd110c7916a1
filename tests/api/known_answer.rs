//! Known-answer tests: a fixed secret, template and user give exactly the expected token.
//!
//! The expected token below was computed outside this project (Python's `hmac` and `base64`
//! modules) from the expected claims text, so it checks our rendering, encoding and signing at once.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jwt_asset_server::domain::asset::{AccessRule, Asset, AssetPath, AssetState};
use jwt_asset_server::domain::compiled::CompiledAsset;
use jwt_asset_server::domain::user::{User, Username};
use jwt_asset_server::ids::{AssetId, UserId};
use jwt_asset_server::secret::Secret;
use jwt_asset_server::signing::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const KAT_TEMPLATE: &str = r#"{
  "sub": "%globals_user_attribute_username%",
  "uid": "%globals_user_assetid%",
  "given_name": "%globals_user_attribute_first_name%",
  "family_name": %globals_user_attribute_last_name^json_encode%,
  "email": "%globals_user_attribute_email^lowercase%",
  "groups": %globals_user_groups%,
  "admin": %asset_has_write_access^eq:1:true:false%,
  "age": %globals_user_attribute_age%,
  "asset": "%asset_name% at %asset_web_path%",
  "sale": "50% off"
}"#;

/// `{"alg":"HS256","typ":"JWT"}` in base64url.
const HS256_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The claims for alice, with the server-dependent parts left as placeholders.
fn expected_claims(uid: &str, iat: i64, jti: Option<&str>) -> String {
    let mut claims = format!(
        r#"{{"sub":"alice","uid":"{uid}","given_name":"Ann \"Jo\"","family_name":"O'Neil","email":"alice@example.com","groups":["staff","ops"],"admin":false,"age":42,"asset":"Chat at /tokens/chat","sale":"50% off","iat":{iat},"nbf":{},"exp":{},"iss":"https://id.example","aud":"chat""#,
        iat - 30,
        iat + 300
    );
    if let Some(j) = jti {
        claims.push_str(&format!(r#","jti":"{j}""#));
    }
    claims.push('}');
    claims
}

fn alice_attributes() -> serde_json::Value {
    json!({"first_name": "Ann \"Jo\"", "last_name": "O'Neil", "email": "Alice@Example.COM", "age": "42"})
}

#[test]
fn a_fixed_secret_template_user_and_clock_give_an_exact_token() {
    let at: DateTime<Utc> = "2024-01-02T03:04:05Z".parse().unwrap();
    let attributes: BTreeMap<String, String> = serde_json::from_value(alice_attributes()).unwrap();
    let user = User {
        id: UserId::from_string("kat-user-id"),
        username: Username::parse("alice").unwrap(),
        password_hash: None,
        attributes,
        groups: vec!["staff".into(), "ops".into()],
        admin: false,
        disabled: false,
        created_at: at,
        updated_at: at,
        version: 1,
        upstream: None,
    };
    let asset = Asset {
        id: AssetId::from_string("kat-asset-id"),
        name: "Chat".into(),
        path: AssetPath::parse("/tokens/chat").unwrap(),
        state: AssetState::Live,
        algorithm: Algorithm::HS256,
        secret: Secret::new(TEST_SECRET.as_bytes().to_vec()),
        keys: Vec::new(),
        next_secret: None,
        next_secret_at: None,
        key_id: None,
        next_key_id: None,
        request_params: Vec::new(),
        next_key: None,
        next_key_at: None,
        preset: None,
        delivery: Default::default(),
        cors_origins: Vec::new(),
        secret_changed_at: at,
        weak_secret_accepted: false,
        template_warning: None,
        template_language: jwt_asset_server::domain::asset::TEMPLATE_LANGUAGE,
        template: KAT_TEMPLATE.into(),
        expiry_seconds: Some(300),
        issuer: Some("https://id.example".into()),
        audience: Some("chat".into()),
        not_before: true,
        jti: true,
        read: None,
        write: AccessRule::default(),
        created_at: at,
        created_by: "admin".into(),
        updated_at: at,
        updated_by: "admin".into(),
        version: 1,
    };

    let issued = CompiledAsset::new(asset)
        .issue(&user, at, Some("kat-jti-0001".into()))
        .unwrap();

    assert_eq!(
        issued.claims_json,
        expected_claims("kat-user-id", 1_704_164_645, Some("kat-jti-0001"))
    );
    assert_eq!(
        issued.token,
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInVpZCI6ImthdC11c2VyLWlkIiwiZ2l2ZW5fbmFtZSI6IkFubiBcIkpvXCIiLCJmYW1pbHlfbmFtZSI6Ik8nTmVpbCIsImVtYWlsIjoiYWxpY2VAZXhhbXBsZS5jb20iLCJncm91cHMiOlsic3RhZmYiLCJvcHMiXSwiYWRtaW4iOmZhbHNlLCJhZ2UiOjQyLCJhc3NldCI6IkNoYXQgYXQgL3Rva2Vucy9jaGF0Iiwic2FsZSI6IjUwJSBvZmYiLCJpYXQiOjE3MDQxNjQ2NDUsIm5iZiI6MTcwNDE2NDYxNSwiZXhwIjoxNzA0MTY0OTQ1LCJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUiLCJhdWQiOiJjaGF0IiwianRpIjoia2F0LWp0aS0wMDAxIn0.n0mXN4yowjAC3JxLWUXmUOyFa3Ut98h2ANJzJMgKjYQ"
    );
    assert_eq!(issued.jti.as_deref(), Some("kat-jti-0001"));
    let (header, claims) = verify_hs(&issued.token, TEST_SECRET.as_bytes());
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(claims["given_name"], "Ann \"Jo\"");
}

#[tokio::test]
async fn the_token_url_gives_exactly_the_known_claims_for_a_fixed_secret_template_and_user() {
    let app = spawn_app().await;
    let alice = app
        .create_user(json!({"username": "alice", "attributes": alice_attributes(), "groups": ["staff", "ops"]}))
        .await;
    let key = app.create_api_key("alice").await;
    app.create_asset(json!({
        "name": "Chat", "path": "/tokens/chat", "secret": TEST_SECRET, "template": KAT_TEMPLATE,
        "expiry_seconds": 300, "issuer": "https://id.example", "audience": "chat", "not_before": true,
    }))
    .await;

    let res = app.get_token("/tokens/chat", &key).await;

    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (header, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let iat = claims["iat"].as_i64().unwrap();
    let expected = expected_claims(alice["id"].as_str().unwrap(), iat, None);
    assert_eq!(payload_text(&token), expected);
    let signing_input = format!("{HS256_HEADER}.{}", URL_SAFE_NO_PAD.encode(&expected));
    assert!(
        token.starts_with(&format!("{signing_input}.")),
        "header and claims are encoded exactly"
    );
    app.stop().await;
}
