//! Staged key rotation: a next key is published before it signs, so a consumer that pins one
//! public key (a Matrix homeserver's `jwt_config`, a sync server's JWT provider) is given it
//! first. The verifiers here are `openssl` with one PEM each, as such a consumer holds it.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::cli;
use crate::helpers::{TestApp, api_error, fixture, spawn_app, spawn_app_with};
use crate::keys::{asym_body, jwks, kids, openssl_verifies, part_json, token};

async fn next_key(app: &TestApp, id: &str, body: Option<Value>) -> reqwest::Response {
    app.api(Method::POST, &format!("/api/v1/assets/{id}/next-key"), body)
        .await
}

async fn ok_json(res: reqwest::Response) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn kid_of(token: &str) -> String {
    part_json(token, 0)["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_next_key_is_published_first_and_signs_only_once_activated() {
    let app = spawn_app().await;
    let created = app.create_asset(asym_body("/pin/matrix", "RS256")).await;
    let id = created["id"].as_str().unwrap();
    let old_kid = created["kid"].as_str().unwrap().to_owned();
    let old_pem = created["public_key_pem"].as_str().unwrap().to_owned();

    // Publish: the asset answers with the next key's kid, PEM and JWK; it is in the JWKS.
    let prepared = ok_json(next_key(&app, id, None).await).await;
    let next = &prepared["next_key"];
    let new_kid = next["kid"].as_str().unwrap().to_owned();
    let new_pem = next["public_key_pem"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(next["key_type"], "RSA-2048");
    assert!(next["switch_at"].is_null(), "no switch_at: by hand");
    assert_eq!(next["public_jwk"]["kid"], new_kid.as_str());
    assert!(next["public_jwk"].get("d").is_none());
    assert_eq!(
        prepared["kid"],
        old_kid.as_str(),
        "the active key is unchanged"
    );
    let statuses: Vec<(&str, &str)> = prepared["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![(old_kid.as_str(), "active"), (new_kid.as_str(), "next")]
    );
    let (_, set) = jwks(&app, "/pin/matrix/jwks.json").await;
    assert_eq!(kids(&set), vec![old_kid.clone(), new_kid.clone()]);
    let pem = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/next-key.pem"),
            None,
        )
        .await;
    assert_eq!(pem.status(), StatusCode::OK);
    assert_eq!(pem.text().await.unwrap(), new_pem);

    // Before activation: tokens are signed with the old key only. A consumer pinned to the old
    // PEM accepts them; one already given the new PEM does not (yet).
    let before = token(&app, "/pin/matrix").await;
    assert_eq!(kid_of(&before), old_kid);
    assert!(openssl_verifies(&before, &old_pem));
    assert!(!openssl_verifies(&before, &new_pem));

    // One next key at a time; the immediate rotation waits for it to be activated or withdrawn.
    let again = next_key(&app, id, None).await;
    let e = api_error(again, StatusCode::CONFLICT).await;
    assert!(e["detail"].as_str().unwrap().contains(&new_kid), "{e}");
    let rotate = app.asset_action(id, "rotate").await;
    assert_eq!(rotate.status(), StatusCode::CONFLICT);
    // Nor can an edit with a new key skip it.
    let mut edit = asym_body("/pin/matrix", "RS256");
    edit["version"] = prepared["version"].clone();
    edit["key"] = json!({"generate": "RSA-2048"});
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Activate: the new key signs; the old one stays published until its tokens have expired.
    let activated = ok_json(
        app.api(
            Method::POST,
            &format!("/api/v1/assets/{id}/next-key/activate"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(activated["kid"], new_kid.as_str());
    assert!(activated["next_key"].is_null());
    assert_eq!(activated["public_key_pem"], new_pem.as_str());
    let keys = activated["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1]["kid"], old_kid.as_str());
    assert_eq!(keys[1]["status"], "retired");
    let retired: DateTime<Utc> = serde_json::from_value(keys[1]["retired_at"].clone()).unwrap();
    let until: DateTime<Utc> = serde_json::from_value(keys[1]["published_until"].clone()).unwrap();
    assert_eq!((until - retired).num_seconds(), 600 + 60);
    let after = token(&app, "/pin/matrix").await;
    assert_eq!(kid_of(&after), new_kid);
    assert!(openssl_verifies(&after, &new_pem));
    assert!(!openssl_verifies(&after, &old_pem));
    assert!(
        openssl_verifies(&before, &old_pem),
        "old tokens still verify"
    );
    let (_, set) = jwks(&app, "/pin/matrix/jwks.json").await;
    assert_eq!(kids(&set), vec![new_kid.clone(), old_kid.clone()]);
    let public = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/public-key.pem"),
            None,
        )
        .await;
    assert_eq!(public.text().await.unwrap(), new_pem);

    // Nothing is waiting now.
    for (method, path) in [
        (
            Method::POST,
            format!("/api/v1/assets/{id}/next-key/activate"),
        ),
        (Method::DELETE, format!("/api/v1/assets/{id}/next-key")),
    ] {
        let res = app.api(method, &path, None).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
    }
    let none = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/next-key.pem"),
            None,
        )
        .await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    // Withdraw: an imported next key is published, then gone again; signing never changed.
    let imported = ok_json(
        next_key(
            &app,
            id,
            Some(json!({"key": {"pem": fixture("rsa2048.pem")}})),
        )
        .await,
    )
    .await;
    let imported_kid = imported["next_key"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        kids(&jwks(&app, "/pin/matrix/jwks.json").await.1),
        vec![new_kid.clone(), imported_kid.clone(), old_kid.clone()]
    );
    let withdrawn = ok_json(
        app.api(
            Method::DELETE,
            &format!("/api/v1/assets/{id}/next-key"),
            None,
        )
        .await,
    )
    .await;
    assert!(withdrawn["next_key"].is_null());
    assert_eq!(
        kids(&jwks(&app, "/pin/matrix/jwks.json").await.1),
        vec![new_kid.clone(), old_kid.clone()]
    );
    assert_eq!(kid_of(&token(&app, "/pin/matrix").await), new_kid);

    let actions: Vec<String> = app
        .audit()
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .filter(|a| a.starts_with("asset.next_key"))
        .collect();
    for want in [
        "asset.next_key",
        "asset.next_key_activate",
        "asset.next_key_withdraw",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

#[tokio::test]
async fn bad_next_key_requests_are_clear_errors_and_change_nothing() {
    let app = spawn_app().await;
    let rs = app.create_asset(asym_body("/pin/bad", "RS256")).await;
    let id = rs["id"].as_str().unwrap();
    let cases = [
        (json!({"switch_at": "tomorrow"}), "switch_at", "RFC 3339"),
        (json!({"key": {"pem": fixture("p256.pem")}}), "key", "P-256"),
        (
            json!({"key": {"generate": "P-384"}}),
            "key",
            "cannot sign RS256",
        ),
        (json!({"key": {"pem": "hello"}}), "key", "PEM"),
        (json!({"colour": "blue"}), "body", "line 1"),
    ];
    for (body, field, words) in cases {
        let res = next_key(&app, id, Some(body.clone())).await;
        let e = api_error(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], field, "{body}: {e}");
        assert!(e["detail"].as_str().unwrap().contains(words), "{body}: {e}");
    }
    // A body that is not JSON: the message never echoes what was sent (it may be a key).
    let res = app
        .client
        .post(app.url(&format!("/api/v1/assets/{id}/next-key")))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("-----BEGIN PRIVATE KEY----- MIIEvQ")
        .send()
        .await
        .unwrap();
    let e = api_error(res, StatusCode::BAD_REQUEST).await;
    assert!(!e.to_string().contains("MIIEvQ"), "{e}");
    // The current key as the next one is refused.
    let res = next_key(
        &app,
        id,
        Some(json!({"key": {"pem": fixture("rsa2048.pem")}})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let activate = app
        .api(
            Method::POST,
            &format!("/api/v1/assets/{id}/next-key/activate"),
            None,
        )
        .await;
    assert_eq!(activate.status(), StatusCode::OK);
    let res = next_key(
        &app,
        id,
        Some(json!({"key": {"pem": fixture("rsa2048.pem")}})),
    )
    .await;
    let e = api_error(res, StatusCode::BAD_REQUEST).await;
    assert!(e["detail"].as_str().unwrap().contains("already has"), "{e}");

    let unchanged = app.get_asset(id).await;
    assert!(unchanged["next_key"].is_null());
    // HMAC assets schedule a next secret instead; an unknown asset is 404.
    let hs = app
        .create_asset(crate::helpers::asset_body(
            "/pin/hs",
            r#"{"sub": "%globals_user_attribute_username%"}"#,
        ))
        .await;
    let res = next_key(&app, hs["id"].as_str().unwrap(), None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = next_key(&app, "no-such-asset", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Wait until `t` has passed on this machine's clock.
async fn until(t: DateTime<Utc>) {
    let wait = (t - Utc::now()).num_milliseconds() + 200;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

#[tokio::test]
async fn a_scheduled_next_key_starts_signing_at_its_time_without_a_write() {
    let app = spawn_app().await;
    let created = app.create_asset(asym_body("/pin/es", "ES256")).await;
    let id = created["id"].as_str().unwrap();
    let old_kid = created["kid"].as_str().unwrap().to_owned();
    let at = Utc::now() + chrono::Duration::seconds(3);
    let prepared = ok_json(next_key(&app, id, Some(json!({"switch_at": rfc3339(at)}))).await).await;
    let new_kid = prepared["next_key"]["kid"].as_str().unwrap().to_owned();
    let new_pem = prepared["next_key"]["public_key_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(prepared["next_key"]["key_type"], "P-256");
    assert_eq!(prepared["next_key"]["switch_at"], rfc3339(at).as_str());
    assert_eq!(kid_of(&token(&app, "/pin/es").await), old_kid);

    until(at).await;
    let version = app.get_asset(id).await["version"].clone();
    let t = token(&app, "/pin/es").await;
    assert_eq!(kid_of(&t), new_kid);
    assert!(openssl_verifies(&t, &new_pem));
    let view = app.get_asset(id).await;
    assert_eq!(view["version"], version, "the switch needed no write");
    assert_eq!(view["kid"], new_kid.as_str());
    assert!(view["next_key"].is_null());
    let keys = view["keys"].as_array().unwrap();
    assert_eq!(keys[1]["kid"], old_kid.as_str());
    assert_eq!(keys[1]["retired_at"], rfc3339(at).as_str());
    assert_eq!(
        kids(&jwks(&app, "/.well-known/jwks.json").await.1),
        vec![new_kid.clone(), old_kid.clone()]
    );
    // The next write folds the switch into the record, once: still two keys, same kids.
    let mut body = asym_body("/pin/es", "ES256");
    body["name"] = json!("Renamed");
    body["version"] = version;
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(body))
        .await;
    let edited = ok_json(res).await;
    let kids_after: Vec<&str> = edited["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids_after, vec![new_kid.as_str(), old_kid.as_str()]);
}

/// Two instances on one PostgreSQL database: both switch at the scheduled time, and the switch
/// is recorded once, whichever instance writes next.
#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_switch_happens_once_across_instances() {
    let Some(database) = crate::postgres::new_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    let on = |database: String, key_file: std::path::PathBuf| {
        move |s: &mut jwt_asset_server::Settings| {
            s.database_url = Some(jwt_asset_server::secret::SecretString::new(database));
            s.master_key_file = Some(key_file);
        }
    };
    let a = spawn_app_with(on(database.clone(), key_file.clone())).await;
    let b = spawn_app_with(on(database.clone(), key_file.clone())).await;
    let created = a.create_asset(asym_body("/pin/pg", "EdDSA")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let old_kid = created["kid"].as_str().unwrap().to_owned();
    let at = Utc::now() + chrono::Duration::seconds(4);
    let prepared = ok_json(next_key(&a, &id, Some(json!({"switch_at": rfc3339(at)}))).await).await;
    let new_kid = prepared["next_key"]["kid"].as_str().unwrap().to_owned();

    // B publishes the next key within the propagation bound, and does not sign with it yet.
    let start = std::time::Instant::now();
    loop {
        let (status, body) = jwks(&b, "/pin/pg/jwks.json").await;
        let set = if status == StatusCode::OK {
            kids(&body)
        } else {
            Vec::new()
        };
        if set == vec![old_kid.clone(), new_kid.clone()] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "B publishes {set:?} ({status}); B's view: {}",
            b.get_asset(&id).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kid_of(&token(&b, "/pin/pg").await), old_kid);

    until(at).await;
    for app in [&a, &b] {
        assert_eq!(kid_of(&token(app, "/pin/pg").await), new_kid);
    }
    // Activating on either is refused now (the scheduled key is the active one), and both
    // instances record the same single switch.
    let res = b
        .api(
            Method::POST,
            &format!("/api/v1/assets/{id}/next-key/activate"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let mut body = asym_body("/pin/pg", "EdDSA");
    body["version"] = b.get_asset(&id).await["version"].clone();
    let res = b
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(body))
        .await;
    let folded = ok_json(res).await;
    let start = std::time::Instant::now();
    loop {
        let seen = a.get_asset(&id).await;
        if seen["version"] == folded["version"] {
            let kids: Vec<&str> = seen["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap())
                .collect();
            assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);
            assert_eq!(seen["keys"][1]["retired_at"], rfc3339(at).as_str());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "A sees the write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kid_of(&token(&a, "/pin/pg").await), new_kid);
}

#[test]
fn the_cli_publishes_activates_and_withdraws_a_next_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let template = dir.path().join("t.json");
    std::fs::write(&template, r#"{"sub": "%globals_user_attribute_username%"}"#).unwrap();
    let json = |args: &[&str]| -> Value {
        let out = cli(&data, args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let created = json(&[
        "asset",
        "create",
        "--name",
        "Sync",
        "--path",
        "/pin/cli",
        "--algorithm",
        "PS256",
        "--template-file",
        template.to_str().unwrap(),
    ]);
    let old_kid = created["kid"].as_str().unwrap().to_owned();
    let prepared = json(&["asset", "next-key", "/pin/cli"]);
    let new_kid = prepared["next_key"]["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(prepared["kid"], old_kid.as_str());
    let activated = json(&["asset", "activate-next-key", "/pin/cli"]);
    assert_eq!(activated["kid"], new_kid.as_str());
    json(&[
        "asset",
        "next-key",
        "/pin/cli",
        "--switch-at",
        "2099-01-01T00:00:00Z",
    ]);
    let withdrawn = json(&["asset", "withdraw-next-key", "/pin/cli"]);
    assert!(withdrawn["next_key"].is_null());
    assert_eq!(withdrawn["kid"], new_kid.as_str());
    let refused = cli(&data, &["asset", "activate-next-key", "/pin/cli"], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no next key"));
}
