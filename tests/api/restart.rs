//! A restart on the same data directory keeps users, assets, keys, sessions and secrets.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn everything_is_still_there_after_a_restart_on_the_same_data_dir() {
    let app = spawn_app().await;
    app.create_user(json!({
        "username": "alice", "password": "alice-password-1", "groups": ["staff"], "attributes": {"first_name": "Ann"},
    }))
    .await;
    app.create_user(json!({"username": "dave", "password": "dave-password-1"}))
        .await;
    let alice_key = app.create_api_key("alice").await;
    let revoked_key = app.create_api_key("alice").await;
    let res = app
        .api(
            Method::DELETE,
            &format!("/api/v1/users/alice/api-keys/{}", &revoked_key[..12]),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let alice_session = app
        .login_session("alice", "alice-password-1")
        .await
        .unwrap();
    let mut body = asset_body(
        "/tokens/chat",
        r#"{"name": "%globals_user_attribute_first_name%"}"#,
    );
    body["read"] = json!({"groups": ["staff"]});
    let chat = app.create_asset(body).await;
    let generated = app
        .create_asset(json!({"name": "Gen", "path": "/tokens/gen", "generate_secret": true, "template": r#"{"g": 1}"#}))
        .await;
    let generated_secret = generated["generated_secret"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    let trashed = app
        .create_asset(asset_body("/tokens/trashed", r#"{"t": 1}"#))
        .await;
    assert_eq!(
        app.asset_action(trashed["id"].as_str().unwrap(), "trash")
            .await
            .status(),
        StatusCode::OK
    );
    app.disable_user("dave").await;
    let old_admin_key = app.admin_key.clone();
    let assets_before: Vec<Value> =
        api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    let users_before: Vec<Value> =
        api_items(app.api(Method::GET, "/api/v1/users", None).await).await;

    let dir = app.stop().await.expect("the first app owns the temp dir");
    let app = spawn_app_on(dir.path().join("data")).await;

    let assets_after: Vec<Value> =
        api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    assert_eq!(assets_after, assets_before);
    let users_after: Vec<Value> =
        api_items(app.api(Method::GET, "/api/v1/users", None).await).await;
    assert_eq!(users_after, users_before);
    assert_eq!(
        app.api_as(&old_admin_key, Method::GET, "/api/v1/users", None)
            .await
            .status(),
        StatusCode::OK
    );

    assert_eq!(
        app.token_claims("/tokens/chat", &alice_key, TEST_SECRET.as_bytes())
            .await["name"],
        "Ann"
    );
    let res = app
        .get_token_with_session("/tokens/chat", &alice_session)
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the session survived");
    assert_eq!(
        verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes()).1["name"],
        "Ann"
    );
    assert_eq!(
        app.token_claims("/tokens/gen", &alice_key, &generated_secret)
            .await["g"],
        1
    );
    assert_empty(
        app.get_token("/tokens/chat", &revoked_key).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_empty(
        app.get_token("/tokens/trashed", &alice_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        app.login_session("dave", "dave-password-1").await.is_none(),
        "dave is still disabled"
    );
    assert!(
        app.login_session("alice", "alice-password-1")
            .await
            .is_some()
    );

    assert_eq!(
        app.asset_action(trashed["id"].as_str().unwrap(), "restore")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.token_claims("/tokens/trashed", &alice_key, TEST_SECRET.as_bytes())
            .await["t"],
        1
    );
    let edit =
        json!({"name": "x", "path": "/tokens/chat", "template": "{}", "version": chat["version"]});
    let res = app
        .api(
            Method::PUT,
            &format!("/api/v1/assets/{}", chat["id"].as_str().unwrap()),
            Some(edit),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the version survived too");
    let events = app.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "asset.create" && e["target"] == "/tokens/gen"),
        "audit survived"
    );
    app.stop().await;
    drop(dir);
}
