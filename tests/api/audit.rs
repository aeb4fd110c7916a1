//! The audit trail through `GET /api/v1/audit`: token issuance with its `jti`, never the token; admin actions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn find<'a>(events: &'a [Value], action: &str, target: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .collect()
}

#[tokio::test]
async fn token_issuance_is_audited_with_the_jti_and_never_the_token() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let key = app.create_api_key("alice").await;
    let mut body = asset_body(
        "/tokens/chat",
        r#"{"sub": "%globals_user_attribute_username%"}"#,
    );
    body["jti"] = json!(true);
    app.create_asset(body).await;
    let res = app.get_token("/tokens/chat", &key).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());

    let res = app
        .api(Method::GET, "/api/v1/audit?target=/tokens/chat", None)
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let events: Vec<Value> =
        serde_json::from_value(serde_json::from_str::<Value>(&text).unwrap()["items"].clone())
            .unwrap();
    let issued = find(&events, "token.issue", "/tokens/chat");
    assert_eq!(issued.len(), 1, "{text}");
    assert_eq!(issued[0]["actor"], "alice");
    assert_eq!(issued[0]["outcome"], "ok");
    assert_eq!(issued[0]["jti"], claims["jti"]);
    for part in token.split('.') {
        assert!(
            !text.contains(part),
            "a part of the token is in the audit log"
        );
    }
    assert!(!text.contains(&key) && !text.contains(TEST_SECRET));
    app.stop().await;
}

#[tokio::test]
async fn refused_and_failed_token_requests_are_audited_with_their_outcome() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "attributes": {"age": "old"}}))
        .await;
    app.create_user(json!({"username": "bob"})).await;
    let alice = app.create_api_key("alice").await;
    let bob = app.create_api_key("bob").await;
    let mut body = asset_body("/tokens/age", r#"{"age": %globals_user_attribute_age%}"#);
    body["read"] = json!({"users": ["alice"]});
    app.create_asset(body).await;
    assert_empty(
        app.get_token("/tokens/age", &bob).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_empty(
        app.get_token("/tokens/age", &alice).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;

    let events = app.audit().await;

    let outcomes: Vec<(&str, &str)> = find(&events, "token.issue", "/tokens/age")
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [("alice", "config_error"), ("bob", "forbidden")],
        "newest first"
    );
    app.stop().await;
}

#[tokio::test]
async fn admin_actions_are_audited_with_who_did_them() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "admin": true}))
        .await;
    let bob = app.create_api_key("bob").await;
    let res = app
        .api_as(
            &bob,
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "carol"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .api_as(
            &bob,
            Method::POST,
            "/api/v1/assets",
            Some(asset_body("/tokens/chat", r#"{"a": 1}"#)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit =
        json!({"name": "x", "path": "/tokens/chat", "template": r#"{"a": 2}"#, "version": 1});
    assert_eq!(
        app.api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.asset_action(&id, "trash").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.asset_action(&id, "restore").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.asset_action(&id, "trash").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.purge_asset(&id).await.status(), StatusCode::NO_CONTENT);
    app.disable_user("carol").await;

    let events = app.audit().await;

    let actor_of = |action: &str, target: &str| -> Vec<String> {
        find(&events, action, target)
            .iter()
            .map(|e| e["actor"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(actor_of("user.create", "bob"), ["admin"]);
    assert_eq!(actor_of("user.create", "carol"), ["bob"]);
    assert_eq!(actor_of("asset.create", "/tokens/chat"), ["bob"]);
    assert_eq!(actor_of("asset.update", "/tokens/chat"), ["admin"]);
    assert_eq!(actor_of("asset.trash", "/tokens/chat"), ["admin", "admin"]);
    assert_eq!(actor_of("asset.restore", "/tokens/chat"), ["admin"]);
    assert_eq!(actor_of("asset.purge", "/tokens/chat"), ["admin"]);
    assert_eq!(actor_of("user.disable", "carol"), ["admin"]);
    assert_eq!(
        find(&events, "apikey.create", &format!("bob {}", &bob[..12])).len(),
        1
    );
    for e in &events {
        assert!(e["at"].is_string(), "{e}");
    }
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(&bob) && !text.contains(&app.admin_key),
        "no API key in the audit log"
    );
    assert!(!text.contains(ADMIN_PASSWORD));
    app.stop().await;
}

#[tokio::test]
async fn sign_ins_and_refusals_are_audited_without_the_password() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "password": "alice-password-1"}))
        .await;
    let session = app
        .login_session("alice", "alice-password-1")
        .await
        .unwrap();
    assert!(
        app.login_session("alice", "wrong-password-9")
            .await
            .is_none()
    );

    let events = app.audit().await;

    let logins: Vec<&str> = find(&events, "session.login", "alice")
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["forbidden", "ok"]);
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("alice-password-1") && !text.contains("wrong-password-9"));
    assert!(!text.contains(&session));
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_can_be_filtered_by_actor() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let key = app.create_api_key("alice").await;
    app.create_asset(asset_body("/tokens/chat", r#"{"a": 1}"#))
        .await;
    app.token_claims("/tokens/chat", &key, TEST_SECRET.as_bytes())
        .await;

    let res = app
        .api(Method::GET, "/api/v1/audit?actor=alice", None)
        .await;

    let events: Vec<Value> = api_items(res).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "token.issue");
    app.stop().await;
}
