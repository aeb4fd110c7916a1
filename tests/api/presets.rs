//! Consumer presets over HTTP: an asset made from each preset issues a token that passes the
//! checks its consumer documents. Signatures are verified independently of the server's code
//! (the `hmac` crate for HS256, the `openssl` command for RS256).

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_error, assert_empty, spawn_app, verify_hs};

/// The save answer's warnings as one text.
fn warnings(saved: &Value) -> String {
    let list: Vec<&str> = saved["warnings"]
        .as_array()
        .expect("warnings is an array")
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    list.join("\n")
}

/// A user with attributes and groups, and an API key for them.
async fn user(app: &TestApp, username: &str, email: &str, groups: &[&str]) -> String {
    app.create_user(json!({
        "username": username,
        "attributes": {"first_name": "Ann", "last_name": "Lee", "email": email},
        "groups": groups,
    }))
    .await;
    app.create_api_key(username).await
}

/// Create an asset from a body; the saved answer (201 asserted).
async fn create(app: &TestApp, body: Value) -> Value {
    app.create_asset(body).await
}

/// A save refused with a field error; the error object.
async fn refused(app: &TestApp, body: Value, field: &str) -> Value {
    let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(e["field"], field, "{e}");
    e
}

/// Fetch a token (200 asserted).
async fn fetch(app: &TestApp, path: &str, key: &str) -> String {
    let res = app.get_token(path, key).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verify an RS256 token with `openssl dgst -sha256 -verify`; the claims.
fn verify_rs256(token: &str, public_pem: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let pem = dir.path().join("pub.pem");
    let data = dir.path().join("data.bin");
    let sig_file = dir.path().join("sig.bin");
    std::fs::write(&pem, public_pem).unwrap();
    std::fs::write(&data, input).unwrap();
    std::fs::write(&sig_file, URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&pem)
        .arg("-signature")
        .arg(&sig_file)
        .arg(&data)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl verifies the RS256 token");
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn secret_of(saved: &Value) -> Vec<u8> {
    saved["generated_secret"]
        .as_str()
        .expect("a generated secret")
        .as_bytes()
        .to_vec()
}

fn is_localpart(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '=' | '-' | '/' | '+'))
}

fn assert_times(claims: &Value, max_lifetime: i64) {
    let iat = claims["iat"].as_i64().expect("iat is a number");
    let exp = claims["exp"].as_i64().expect("exp is a number");
    assert!(exp > iat && exp - iat <= max_lifetime, "{claims}");
}

async fn preview(app: &TestApp, id: &str, as_user: &str) -> reqwest::Response {
    app.api(
        Method::GET,
        &format!("/api/v1/assets/{id}/preview?as={as_user}"),
        None,
    )
    .await
}

#[tokio::test]
async fn matrix_tokens_carry_a_valid_localpart_and_a_bad_one_answers_500() {
    let app = spawn_app().await;
    let alice = user(&app, "alice", "alice@example.com", &[]).await;
    let bob = user(&app, "Bob.Smith", "bob@example.com", &[]).await;
    let saved = create(
        &app,
        json!({"name": "Matrix", "path": "/sso/matrix", "preset": "matrix", "generate_secret": true}),
    )
    .await;
    assert_eq!(saved["preset"], "matrix");
    assert_eq!(saved["algorithm"], "HS256");
    let saved_warnings = warnings(&saved);
    assert!(
        saved_warnings.contains("\"iss\"") && saved_warnings.contains("\"aud\""),
        "iss/aud unset is warned about: {saved_warnings}"
    );
    let secret = secret_of(&saved);
    for (key, expected) in [(&alice, "alice"), (&bob, "bob.smith")] {
        let token = fetch(&app, "/sso/matrix", key).await;
        let (header, claims) = verify_hs(&token, &secret);
        assert_eq!(header["alg"], "HS256");
        let sub = claims["sub"].as_str().expect("sub is a string");
        assert_eq!(sub, expected, "the default template lower-cases");
        assert!(is_localpart(sub));
        assert_times(&claims, 600);
    }

    // Without ^lowercase, a user with upper-case letters gets 500 (and the preview says why).
    let plain = create(
        &app,
        json!({"name": "Matrix plain", "path": "/sso/matrix-plain", "preset": "matrix",
               "generate_secret": true, "template": r#"{"sub": "%globals_user_attribute_username%"}"#}),
    )
    .await;
    assert!(warnings(&plain).contains("^lowercase"));
    assert_eq!(
        app.get_token("/sso/matrix-plain", &alice).await.status(),
        StatusCode::OK
    );
    assert_empty(
        app.get_token("/sso/matrix-plain", &bob).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    let id = plain["id"].as_str().unwrap();
    let res = preview(&app, id, "Bob.Smith").await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = res.json().await.unwrap();
    let message = body["detail"].as_str().unwrap();
    assert!(message.contains("upper-case"), "{message}");
    assert!(!message.contains("Bob"), "no user data: {message}");

    // Characters a localpart may not hold (an e-mail address) also answer 500.
    create(
        &app,
        json!({"name": "Matrix mail", "path": "/sso/matrix-mail", "preset": "matrix",
               "generate_secret": true, "template": r#"{"sub": "%globals_user_attribute_email%"}"#}),
    )
    .await;
    assert_empty(
        app.get_token("/sso/matrix-mail", &alice).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;

    // Save-time rules: HS256 or RS256 only; sub required.
    let e = refused(
        &app,
        json!({"name": "M", "path": "/sso/m1", "preset": "matrix", "algorithm": "ES256"}),
        "algorithm",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("HS256 or RS256"));
    refused(
        &app,
        json!({"name": "M", "path": "/sso/m2", "preset": "matrix", "generate_secret": true,
               "template": r#"{"user": "x"}"#}),
        "template",
    )
    .await;
    refused(
        &app,
        json!({"name": "M", "path": "/sso/m3", "preset": "matrix", "generate_secret": true,
               "template": r#"{"sub": %globals_user_groups%}"#}),
        "template",
    )
    .await;
    refused(
        &app,
        json!({"name": "M", "path": "/sso/m4", "preset": "nope", "generate_secret": true}),
        "preset",
    )
    .await;

    // RS256 works too, with the key's kid.
    let rs = create(
        &app,
        json!({"name": "Matrix RS", "path": "/sso/matrix-rs", "preset": "matrix", "algorithm": "RS256"}),
    )
    .await;
    let token = fetch(&app, "/sso/matrix-rs", &bob).await;
    assert_eq!(header_of(&token)["kid"], rs["kid"]);
    let claims = verify_rs256(&token, rs["public_key_pem"].as_str().unwrap());
    assert_eq!(claims["sub"], "bob.smith");
}

#[tokio::test]
async fn realm_tokens_are_rs256_with_a_uri_safe_user_id_and_a_boolean_is_admin() {
    let app = spawn_app().await;
    let alice = user(&app, "alice", "alice@example.com", &[]).await;
    let editor = user(&app, "ed", "ed x@example.com", &[]).await;
    let saved = create(
        &app,
        json!({"name": "Sync", "path": "/sso/realm", "preset": "realm", "write": {"users": ["ed"]}}),
    )
    .await;
    assert_eq!(saved["algorithm"], "RS256");
    assert_eq!(saved["key_type"], "RSA-2048");
    let pem = saved["public_key_pem"].as_str().unwrap();
    for (key, name, admin) in [(&alice, "alice", false), (&editor, "ed", true)] {
        let token = fetch(&app, "/sso/realm", key).await;
        let header = header_of(&token);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], saved["kid"]);
        let claims = verify_rs256(&token, pem);
        let user_id = claims["userId"].as_str().expect("userId is a string");
        assert_eq!(user_id, name);
        assert!(
            !user_id.is_empty()
                && user_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)),
            "userId needs no URI encoding"
        );
        assert_eq!(claims["isAdmin"], Value::Bool(admin), "a real boolean");
        assert_times(&claims, 600);
    }

    // A userId that would need URI encoding answers 500.
    create(
        &app,
        json!({"name": "Sync mail", "path": "/sso/realm-mail", "preset": "realm",
               "template": r#"{"userId": "%globals_user_attribute_email%"}"#}),
    )
    .await;
    assert_empty(
        app.get_token("/sso/realm-mail", &editor).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;

    // Save-time rules: RS256 only; userId required; isAdmin a real boolean.
    refused(
        &app,
        json!({"name": "S", "path": "/sso/s1", "preset": "realm", "algorithm": "HS256",
               "generate_secret": true}),
        "algorithm",
    )
    .await;
    refused(
        &app,
        json!({"name": "S", "path": "/sso/s2", "preset": "realm", "template": r#"{"sub": "x"}"#}),
        "template",
    )
    .await;
    let e = refused(
        &app,
        json!({"name": "S", "path": "/sso/s3", "preset": "realm",
               "template": r#"{"userId": "x", "isAdmin": "%asset_has_write_access^eq:1:true:false%"}"#}),
        "template",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("boolean"));
}

/// Redirect delivery to a real (made-up) Zendesk subdomain: the preset's placeholder is refused.
fn zendesk_delivery() -> Value {
    json!({"default": "redirect", "redirect": {
        "url": "https://acme.zendesk.com/access/jwt?jwt={token}&return_to={return_to}",
        "return_to_allowlist": ["https://acme.zendesk.com/"]}})
}

#[tokio::test]
async fn zendesk_tokens_are_hs256_with_unique_jti_name_and_email() {
    let app = spawn_app().await;
    let alice = user(&app, "alice", "alice@example.com", &[]).await;
    let saved = create(
        &app,
        json!({"name": "Help desk", "path": "/sso/zendesk", "preset": "zendesk", "generate_secret": true,
               "delivery": zendesk_delivery()}),
    )
    .await;
    assert_eq!(saved["jti"], true);
    assert_eq!(saved["delivery"]["default"], "redirect");
    let secret = secret_of(&saved);
    let mut ids = Vec::new();
    for _ in 0..2 {
        // The API client asks for the raw token; browsers get the redirect (tests/api/delivery.rs).
        let token = fetch(&app, "/sso/zendesk?delivery=raw", &alice).await;
        let (header, claims) = verify_hs(&token, &secret);
        assert_eq!(header["alg"], "HS256");
        assert!(claims["iat"].is_i64());
        assert_eq!(claims["name"], "Ann Lee");
        assert_eq!(claims["email"], "alice@example.com");
        let jti = claims["jti"].as_str().expect("jti is a string").to_owned();
        assert!(jti.len() >= 16);
        ids.push(jti);
    }
    assert_ne!(ids[0], ids[1], "jti is unique per token");

    refused(
        &app,
        json!({"name": "Z", "path": "/sso/z1", "preset": "zendesk", "generate_secret": true,
               "delivery": zendesk_delivery(), "template": r#"{"name": "%globals_user_name%"}"#}),
        "template",
    )
    .await;
    refused(
        &app,
        json!({"name": "Z", "path": "/sso/z2", "preset": "zendesk", "algorithm": "HS512",
               "generate_secret": true, "delivery": zendesk_delivery()}),
        "algorithm",
    )
    .await;
    // An edit that turns jti off is refused with the preset's reason.
    let id = saved["id"].as_str().unwrap();
    let mut body = json!({"name": "Help desk", "path": "/sso/zendesk", "jti": false,
                          "template": saved["template"], "version": saved["version"]});
    let e = api_error(
        app.api(
            Method::PUT,
            &format!("/api/v1/assets/{id}"),
            Some(body.clone()),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(e["field"], "jti");
    // Removing the preset lifts its rules.
    body["preset"] = json!("");
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["preset"], Value::Null);
}

#[tokio::test]
async fn metabase_tokens_carry_email_names_and_groups() {
    let app = spawn_app().await;
    let alice = user(&app, "alice", "alice@example.com", &["staff", "ops"]).await;
    let saved = create(
        &app,
        json!({"name": "Metabase", "path": "/sso/metabase", "preset": "metabase", "generate_secret": true}),
    )
    .await;
    assert_eq!(saved["warnings"], json!([]));
    let token = fetch(&app, "/sso/metabase", &alice).await;
    let (header, claims) = verify_hs(&token, &secret_of(&saved));
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["first_name"], "Ann");
    assert_eq!(claims["last_name"], "Lee");
    assert_eq!(claims["groups"], json!(["staff", "ops"]));
    assert_times(&claims, 600);

    refused(
        &app,
        json!({"name": "M", "path": "/sso/mb1", "preset": "metabase", "generate_secret": true,
               "template": r#"{"first_name": "x"}"#}),
        "template",
    )
    .await;
    refused(
        &app,
        json!({"name": "M", "path": "/sso/mb2", "preset": "metabase", "generate_secret": true,
               "template": r#"{"email": "x", "groups": "%globals_user_groups%"}"#}),
        "template",
    )
    .await;
    let partial = create(
        &app,
        json!({"name": "M", "path": "/sso/mb3", "preset": "metabase", "generate_secret": true,
               "template": r#"{"email": "%globals_user_attribute_email%"}"#}),
    )
    .await;
    assert!(warnings(&partial).contains("groups"));
}

#[tokio::test]
async fn jitsi_tokens_carry_iss_aud_sub_room_and_context_user() {
    let app = spawn_app().await;
    let alice = user(&app, "alice", "alice@example.com", &[]).await;
    let e = refused(
        &app,
        json!({"name": "Meet", "path": "/sso/jitsi", "preset": "jitsi", "generate_secret": true}),
        "issuer",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("app_id"));
    let saved = create(
        &app,
        json!({"name": "Meet", "path": "/sso/jitsi", "preset": "jitsi", "generate_secret": true,
               "issuer": "my_app_id"}),
    )
    .await;
    assert_eq!(saved["audience"], "jitsi");
    let token = fetch(&app, "/sso/jitsi", &alice).await;
    let (header, claims) = verify_hs(&token, &secret_of(&saved));
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["iss"], "my_app_id");
    assert_eq!(claims["aud"], "jitsi");
    assert_eq!(claims["sub"], "*");
    assert_eq!(claims["room"], "*");
    let u = &claims["context"]["user"];
    assert!(u.is_object(), "{claims}");
    assert_eq!(u["name"], "Ann Lee");
    assert_eq!(u["email"], "alice@example.com");
    assert!(u["id"].as_str().is_some_and(|s| !s.is_empty()));
    // A moderator is someone the write rule names, as the string lib-jitsi-meet accepts.
    assert_eq!(u["moderator"], "false");
    assert_times(&claims, 600);
    let admin_token = app.get_token("/sso/jitsi", &app.admin_key).await;
    let (_, admin_claims) = verify_hs(&admin_token.text().await.unwrap(), &secret_of(&saved));
    assert_eq!(admin_claims["context"]["user"]["moderator"], "true");

    refused(
        &app,
        json!({"name": "J", "path": "/sso/j1", "preset": "jitsi", "generate_secret": true,
               "issuer": "app", "template": r#"{"sub": "*", "context": {"user": "x"}}"#}),
        "template",
    )
    .await;
    // A boolean moderator makes lib-jitsi-meet throw: refused at save.
    let e = refused(
        &app,
        json!({"name": "J", "path": "/sso/j2", "preset": "jitsi", "generate_secret": true,
               "issuer": "app", "template": r#"{"sub": "*", "room": "*", "context": {"user": {"name": "x", "moderator": %asset_has_write_access^eq:1:true:false%}}}"#}),
        "template",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("moderator"), "{e}");
}

#[tokio::test]
async fn every_rule_a_preset_breaks_is_reported_at_once() {
    let app = spawn_app().await;
    let body = json!({"name": "Tableau", "path": "/sso/tableau", "preset": "tableau",
                      "generate_secret": true, "expiry_seconds": 3600});
    let res = app
        .api(reqwest::Method::POST, "/api/v1/assets", Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let e: Value = res.json().await.unwrap();
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["key_id", "issuer", "expiry_seconds"], "{e}");
    assert_eq!(e["field"], "key_id", "the first one, as before");
}

#[tokio::test]
async fn tableau_tokens_have_kid_and_iss_headers_scp_jti_and_a_short_life() {
    let app = spawn_app().await;
    let alice = user(&app, "alice", "alice@example.com", &[]).await;
    let base = json!({"name": "Tableau", "path": "/sso/tableau", "preset": "tableau",
                      "generate_secret": true, "issuer": "client-id-123",
                      "key_id": "secret-id-456"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    refused(&app, with("key_id", Value::Null), "key_id").await;
    refused(&app, with("issuer", Value::Null), "issuer").await;
    let e = refused(&app, with("expiry_seconds", json!(3600)), "expiry_seconds").await;
    assert!(e["detail"].as_str().unwrap().contains("600"));
    refused(&app, with("expiry_seconds", Value::Null), "expiry_seconds").await;
    refused(&app, with("audience", json!("other")), "audience").await;
    refused(
        &app,
        with(
            "template",
            json!(r#"{"sub": "x", "scp": "tableau:views:embed"}"#),
        ),
        "template",
    )
    .await;

    let saved = create(&app, with("expiry_seconds", json!(300))).await;
    assert_eq!(saved["key_id"], "secret-id-456");
    let token = fetch(&app, "/sso/tableau", &alice).await;
    let (header, claims) = verify_hs(&token, &secret_of(&saved));
    assert_eq!(
        header,
        json!({"alg": "HS256", "typ": "JWT", "kid": "secret-id-456", "iss": "client-id-123"})
    );
    assert_eq!(claims["iss"], "client-id-123");
    assert_eq!(claims["aud"], "tableau");
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["scp"], json!(["tableau:views:embed"]));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_times(&claims, 600);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 300);

    // An edit that does not mention key_id keeps it.
    let id = saved["id"].as_str().unwrap();
    let res = app
        .api(
            Method::PUT,
            &format!("/api/v1/assets/{id}"),
            Some(
                json!({"name": "Tableau 2", "path": "/sso/tableau", "template": saved["template"],
                        "issuer": "client-id-123", "audience": "tableau", "jti": true,
                        "expiry_seconds": 300, "version": saved["version"]}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let token = fetch(&app, "/sso/tableau", &alice).await;
    assert_eq!(header_of(&token)["kid"], "secret-id-456");
}

#[tokio::test]
async fn key_id_is_for_hmac_assets_only_and_needs_no_preset() {
    let app = spawn_app().await;
    let e = refused(
        &app,
        json!({"name": "K", "path": "/k/rs", "algorithm": "RS256", "key_id": "x",
               "template": r#"{"sub": "x"}"#}),
        "key_id",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("thumbprint"));
    let saved = create(
        &app,
        json!({"name": "K", "path": "/k/hs", "key_id": "2026-01", "generate_secret": true,
               "template": r#"{"sub": "x"}"#}),
    )
    .await;
    let token = fetch(&app, "/k/hs", &app.admin_key).await;
    let (header, _) = verify_hs(&token, &secret_of(&saved));
    assert_eq!(
        header,
        json!({"alg": "HS256", "typ": "JWT", "kid": "2026-01"})
    );
}

#[test]
fn the_cli_creates_an_asset_from_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_jwt-asset-server"))
            .args(args)
            .env("JWT_ASSET_SERVER_DATA_DIR", dir.path().join("data"))
            .env("JWT_ASSET_SERVER_LOG", "warn")
            .env_remove("JWT_ASSET_SERVER_ADMIN_PASSWORD")
            .output()
            .unwrap()
    };
    let out = run(&[
        "asset",
        "create",
        "--name",
        "Chat",
        "--path",
        "/sso/matrix",
        "--preset",
        "matrix",
        "--generate-secret",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(saved["preset"], "matrix");
    assert_eq!(saved["algorithm"], "HS256");
    assert!(saved["template"].as_str().unwrap().contains("^lowercase"));
    let out = run(&[
        "asset",
        "create",
        "--name",
        "T",
        "--path",
        "/sso/tableau",
        "--preset",
        "tableau",
        "--generate-secret",
        "--issuer",
        "client",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("key_id"));
    let out = run(&[
        "asset",
        "create",
        "--name",
        "T",
        "--path",
        "/sso/tableau",
        "--preset",
        "tableau",
        "--generate-secret",
        "--issuer",
        "client",
        "--key-id",
        "secret-id",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(saved["key_id"], "secret-id");
    assert_eq!(saved["audience"], "tableau");
    assert_eq!(saved["jti"], true);
}

#[tokio::test]
async fn each_preset_says_what_to_hand_to_its_consumer_without_the_secret() {
    let app = spawn_app().await;
    let zendesk = json!({"default": "form_post", "form_post": {
        "url": "https://acme.zendesk.com/access/jwt",
        "return_to_allowlist": ["https://acme.zendesk.com/"]}});
    let cases = [
        (
            json!({"preset": "matrix", "path": "/hand/matrix", "generate_secret": true}),
            "jwt_config:",
        ),
        (
            json!({"preset": "realm", "path": "/hand/realm"}),
            "-----BEGIN PUBLIC KEY-----",
        ),
        (
            json!({"preset": "zendesk", "path": "/hand/zendesk", "generate_secret": true, "delivery": zendesk}),
            "Remote login URL:",
        ),
        (
            json!({"preset": "metabase", "path": "/hand/metabase", "generate_secret": true}),
            "MB_JWT_IDENTITY_PROVIDER_URI=",
        ),
        (
            json!({"preset": "jitsi", "path": "/hand/jitsi", "generate_secret": true, "issuer": "meet-app"}),
            "JWT_APP_ID=meet-app",
        ),
        (
            json!({"preset": "tableau", "path": "/hand/tableau", "generate_secret": true,
                "issuer": "client-1", "key_id": "secret-1"}),
            "Secret ID:    secret-1",
        ),
    ];
    let session = app
        .login_session("admin", crate::helpers::ADMIN_PASSWORD)
        .await
        .unwrap();
    for (mut body, words) in cases {
        body["name"] = json!("Hand over");
        let saved = create(&app, body.clone()).await;
        let secret = saved["generated_secret"].as_str().map(str::to_owned);
        let id = saved["id"].as_str().unwrap();
        let res = app
            .api(
                Method::GET,
                &format!("/api/v1/assets/{id}/consumer-config"),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        let config: Value = res.json().await.unwrap();
        let text = config["text"].as_str().unwrap();
        assert!(text.contains(words), "{body}: {text}");
        let everything = config.to_string();
        if let Some(secret) = &secret {
            assert!(
                !everything.contains(secret.as_str()),
                "{body}: the secret is in it"
            );
            assert!(
                text.contains("<the secret, shown once when it was set>"),
                "{text}"
            );
        }
        let path = body["path"].as_str().unwrap();
        if !matches!(body["preset"].as_str(), Some("matrix" | "realm")) {
            assert!(
                everything.contains(&format!("{}{path}", app.address)),
                "{body}: the token URL in {everything}"
            );
        }
        if body["preset"] == "realm" {
            let pem = saved["public_key_pem"].as_str().unwrap();
            assert!(text.contains(pem.trim_end()), "{text}");
        }
        // The edit page shows the same, and not the secret.
        let page = app
            .client
            .get(app.url(&format!("/admin/assets/{id}")))
            .header(reqwest::header::COOKIE, format!("jas_session={session}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Hand this to the consumer"), "{body}");
        if let Some(secret) = &secret {
            assert!(!page.contains(secret.as_str()), "{body}");
        }
    }
    // The Matrix snippet is the YAML Synapse reads (display name included).
    let matrix = app
        .create_asset(
            json!({"name": "M", "path": "/hand/m-rs", "preset": "matrix", "algorithm": "RS256"}),
        )
        .await;
    let res = app
        .api(
            Method::GET,
            &format!(
                "/api/v1/assets/{}/consumer-config",
                matrix["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let config: Value = res.json().await.unwrap();
    let text = config["text"].as_str().unwrap();
    assert!(
        text.contains(
            "  algorithm: \"RS256\"\n  subject_claim: \"sub\"\n  display_name_claim: \"name\"\n"
        ),
        "{text}"
    );
    for line in matrix["public_key_pem"].as_str().unwrap().lines() {
        assert!(text.contains(&format!("    {line}\n")), "{text}");
    }
    // Without a preset there is nothing to hand over.
    let plain = app
        .create_asset(crate::helpers::asset_body("/hand/plain", r#"{"sub": "x"}"#))
        .await;
    let res = app
        .api(
            Method::GET,
            &format!(
                "/api/v1/assets/{}/consumer-config",
                plain["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
