//! Registered claims: `iat` and `exp` always come from the server; `iss`, `aud`, `nbf`, `jti` when configured.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// How many times `"name":` occurs in the signed claims text.
fn occurrences(payload: &str, name: &str) -> usize {
    payload.matches(&format!("\"{name}\":")).count()
}

#[tokio::test]
async fn the_server_sets_iat_and_exp_even_when_the_template_sets_them() {
    let app = spawn_app().await;
    let mut body = asset_body(
        "/tokens/chat",
        r#"{"sub": "x", "iat": 1, "exp": 99999999999}"#,
    );
    body["expiry_seconds"] = json!(300);
    app.create_asset(body).await;

    let before = chrono::Utc::now().timestamp();
    let res = app.get_token("/tokens/chat", &app.admin_key).await;
    let after = chrono::Utc::now().timestamp();

    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    let iat = claims["iat"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&iat),
        "iat {iat} is the issue time, not the template's 1"
    );
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 300);
    let payload = payload_text(&token);
    assert_eq!(occurrences(&payload, "iat"), 1, "{payload}");
    assert_eq!(occurrences(&payload, "exp"), 1, "{payload}");
    assert_eq!(claims["sub"], "x");
    app.stop().await;
}

#[tokio::test]
async fn a_template_exp_is_dropped_when_the_asset_has_no_expiry() {
    let app = spawn_app().await;
    let mut body = asset_body("/tokens/chat", r#"{"exp": 99999999999, "iat": 1}"#);
    body["expiry_seconds"] = serde_json::Value::Null;
    app.create_asset(body).await;

    let res = app.get_token("/tokens/chat", &app.admin_key).await;

    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert!(claims.get("exp").is_none(), "{claims}");
    assert_ne!(claims["iat"], 1);
    app.stop().await;
}

#[tokio::test]
async fn issuer_audience_not_before_and_jti_are_added_when_configured() {
    let app = spawn_app().await;
    let mut body = asset_body(
        "/tokens/full",
        r#"{"sub": "%globals_user_attribute_username%", "iss": "forged", "aud": "forged", "nbf": 1, "jti": "fixed"}"#,
    );
    body["issuer"] = json!("https://id.example.com");
    body["audience"] = json!("chat.example.com");
    body["not_before"] = json!(true);
    body["jti"] = json!(true);
    app.create_asset(body).await;

    let res = app.get_token("/tokens/full", &app.admin_key).await;

    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["iss"], "https://id.example.com");
    assert_eq!(claims["aud"], "chat.example.com");
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat - 30);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 600);
    let jti = claims["jti"].as_str().unwrap();
    assert_ne!(jti, "fixed");
    assert!(
        URL_SAFE_NO_PAD.decode(jti).unwrap().len() >= 16,
        "jti {jti} carries at least 128 bits"
    );
    let payload = payload_text(&token);
    for name in ["iss", "aud", "nbf", "jti", "iat", "exp"] {
        assert_eq!(occurrences(&payload, name), 1, "{name} once in {payload}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_token_gets_a_different_jti() {
    let app = spawn_app().await;
    let mut body = asset_body("/tokens/jti", r#"{"sub": "x"}"#);
    body["jti"] = json!(true);
    app.create_asset(body).await;

    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let claims = app
            .token_claims("/tokens/jti", &app.admin_key, TEST_SECRET.as_bytes())
            .await;
        assert!(
            seen.insert(claims["jti"].as_str().unwrap().to_owned()),
            "a jti repeated: {claims}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn without_those_options_the_template_s_own_iss_aud_nbf_and_jti_pass_through() {
    let app = spawn_app().await;
    app.create_asset(asset_body(
        "/tokens/plain",
        r#"{"iss": "mine", "aud": ["a", "b"], "nbf": 5, "jti": "j-1"}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/plain", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(claims["iss"], "mine");
    assert_eq!(claims["aud"], json!(["a", "b"]));
    assert_eq!(claims["nbf"], 5);
    assert_eq!(claims["jti"], "j-1");
    app.stop().await;
}

#[tokio::test]
async fn without_options_a_token_carries_only_the_template_claims_iat_and_exp() {
    let app = spawn_app().await;
    app.create_asset(asset_body(
        "/tokens/plain",
        r#"{"sub": "%globals_user_attribute_username%"}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/plain", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["exp", "iat", "sub"]);
    app.stop().await;
}

#[tokio::test]
async fn the_preview_warns_about_claims_the_server_overrides() {
    let app = spawn_app().await;
    let saved = app
        .create_asset(asset_body(
            "/tokens/chat",
            r#"{"sub": "x", "iat": 1, "exp": 2}"#,
        ))
        .await;
    let id = saved["id"].as_str().unwrap();

    let res = app
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/assets/{id}/preview"),
            None,
        )
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    let preview: serde_json::Value = res.json().await.unwrap();
    let (_, claims) = verify_hs(preview["token"].as_str().unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(preview["claims"], claims);
    assert_ne!(claims["iat"], 1);
    let warnings = preview["warnings"].to_string();
    assert!(
        warnings.contains("\\\"iat\\\"") && warnings.contains("\\\"exp\\\""),
        "{warnings}"
    );
    app.stop().await;
}
