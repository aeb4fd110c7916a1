//! Edges an attacker or a careless operator reaches first: ambiguous credentials, oversized
//! requests, and who may read the data directory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    TEST_SECRET, api_error, assert_empty, spawn_app, spawn_app_on, spawn_app_with,
};

const BIN: &str = env!("CARGO_BIN_EXE_jwt-asset-server");

#[tokio::test]
async fn two_authorization_headers_get_no_token() {
    let app = spawn_app().await;
    app.create_asset(json!({
        "name": "Chat", "path": "/t/chat", "secret": TEST_SECRET,
        "template": r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#
    }))
    .await;
    let key = app.admin_key.clone();
    let with = |values: &[String]| {
        let mut req = app.client.get(app.url("/t/chat"));
        for v in values {
            req = req.header(reqwest::header::AUTHORIZATION, v.as_str());
        }
        req.send()
    };
    let valid = format!("Bearer {key}");
    assert_eq!(
        with(std::slice::from_ref(&valid)).await.unwrap().status(),
        StatusCode::OK
    );
    assert_empty(
        with(&[valid.clone(), "Bearer garbage".into()])
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_empty(
        with(&[valid.clone(), valid.clone()]).await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_empty(
        with(&["Bearer garbage".into(), valid.clone()])
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    // The API refuses them the same way.
    let res = app
        .client
        .get(app.url("/api/v1/assets"))
        .header(reqwest::header::AUTHORIZATION, valid.as_str())
        .header(reqwest::header::AUTHORIZATION, valid.as_str())
        .send()
        .await
        .unwrap();
    api_error(res, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_json_body_over_the_limit_is_413_and_nothing_is_stored() {
    let app = spawn_app().await;
    let template = format!(r#"{{"pad": "{}"}}"#, "x".repeat(300 * 1024));
    let res = app
        .post_asset(json!({
            "name": "Big", "path": "/t/big", "secret": TEST_SECRET, "template": template
        }))
        .await;
    let error = api_error(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(
        error["detail"].as_str().unwrap().contains("larger than"),
        "{error}"
    );
    let listed = app.api(reqwest::Method::GET, "/api/v1/assets", None).await;
    assert!(crate::helpers::api_items(listed).await.is_empty());
}

#[tokio::test]
async fn a_header_block_over_32_kib_is_431() {
    let app = spawn_app().await;
    let get = |size: usize| {
        app.client
            .get(app.url("/healthz"))
            .header("x-padding", "p".repeat(size))
            .send()
    };
    assert_eq!(get(16 * 1024).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get(33 * 1024).await.unwrap().status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

/// Every directory under `dir` (itself included) and every file: (path, mode).
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((
            path.display().to_string(),
            meta.permissions().mode() & 0o777,
        ));
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
    }
    out
}

fn assert_private(dir: &Path) {
    let modes = modes(dir);
    assert!(modes.len() > 2, "the store has files: {modes:?}");
    for (path, mode) in modes {
        let wanted = if Path::new(&path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(mode, wanted, "{path} is {mode:o}");
    }
}

#[tokio::test]
async fn the_servers_data_dir_is_its_own_alone() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let app = spawn_app_on(dir.clone()).await;
    app.create_asset(json!({
        "name": "Chat", "path": "/t/chat", "secret": TEST_SECRET, "template": "{}"
    }))
    .await;
    assert_private(&dir);
    app.stop().await;
    assert_private(&dir);
}

#[tokio::test]
async fn a_data_dir_readable_by_others_is_tightened_when_opened() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let app = spawn_app_on(dir.clone()).await;
    // An asset, so that the store holds a data key file too (tightened by the keyring).
    app.create_asset(crate::helpers::asset_body("/t/keyed", r#"{"a": 1}"#))
        .await;
    app.stop().await;
    assert!(
        modes(&dir).iter().any(|(p, _)| p.contains("/keys/")),
        "no data key file in the store"
    );
    // As a careless copy would leave it.
    for (path, _) in modes(&dir) {
        let mode = if Path::new(&path).is_dir() {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let app = spawn_app_on(dir.clone()).await;
    assert_private(&dir);
    app.stop().await;
}

#[test]
fn the_cli_creates_a_private_data_dir_too() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let out = Command::new(BIN)
        .args(["user", "list"])
        .env("JWT_ASSET_SERVER_DATA_DIR", &dir)
        .env("JWT_ASSET_SERVER_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_private(&dir);
}

/// A wrong-password sign-in as `username`, from `forwarded_for` when given; the status and page.
async fn fail_sign_in(
    app: &crate::helpers::TestApp,
    username: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, String) {
    let mut req = app
        .client
        .post(app.url("/login"))
        .form(&[("username", username), ("password", "not the password")]);
    if let Some(address) = forwarded_for {
        req = req.header("x-forwarded-for", address);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn spraying_usernames_from_one_address_is_throttled() {
    let app = spawn_app_with(|s| s.max_failed_sign_ins_per_address = 5).await;
    for i in 0..5 {
        let (status, _) = fail_sign_in(&app, &format!("user{i}"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, page) = fail_sign_in(&app, "user99", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.contains("Too many failed sign-ins from your network address"),
        "{page}"
    );
    // X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
    let (status, _) = fail_sign_in(&app, "user98", Some("203.0.113.9")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Even the right password waits: the address is throttled, whoever it is.
    let res = app
        .post_login("admin", crate::helpers::ADMIN_PASSWORD, None)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_count() {
    let app = spawn_app_with(|s| {
        s.max_failed_sign_ins_per_address = 3;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    for i in 0..3 {
        let (status, _) = fail_sign_in(&app, &format!("a{i}"), Some("203.0.113.1")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = fail_sign_in(&app, "a9", Some("203.0.113.1")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy, and the last hop counts, not what the client wrote.
    let (status, _) = fail_sign_in(&app, "b0", Some("203.0.113.1, 198.51.100.7")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
