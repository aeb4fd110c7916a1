//! Trash, restore, purge and edit: what the asset's path answers after each.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const SUB_TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

fn id(asset: &Value) -> String {
    asset["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_trashed_asset_answers_404_at_once() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    app.token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    let res = app.asset_action(&id(&asset), "trash").await;

    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["state"], "trashed");
    assert_eq!(view["trashed_by"], "admin");
    assert_empty(
        app.get_token("/tokens/chat", &app.admin_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let head = app
        .client
        .head(app.url("/tokens/chat"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_restored_asset_answers_again_with_the_same_secret() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    assert_eq!(
        app.asset_action(&id(&asset), "trash").await.status(),
        StatusCode::OK
    );

    let res = app.asset_action(&id(&asset), "restore").await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "live");
    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "admin");
    app.stop().await;
}

#[tokio::test]
async fn a_trashed_asset_keeps_its_path_so_nothing_can_take_it_before_a_restore() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let other = app
        .create_asset(asset_body("/tokens/other", SUB_TEMPLATE))
        .await;
    assert_eq!(
        app.asset_action(&id(&asset), "trash").await.status(),
        StatusCode::OK
    );

    let taken = app
        .post_asset(asset_body("/tokens/chat", r#"{"intruder": true}"#))
        .await;
    api_error(taken, StatusCode::CONFLICT).await;
    let moved = json!({"name": "Other", "path": "/tokens/chat", "template": SUB_TEMPLATE, "version": other["version"]});
    api_error(
        app.api(
            Method::PUT,
            &format!("/api/v1/assets/{}", id(&other)),
            Some(moved),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;

    assert_eq!(
        app.asset_action(&id(&asset), "restore").await.status(),
        StatusCode::OK
    );
    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "admin");
    assert!(claims.get("intruder").is_none());
    app.stop().await;
}

#[tokio::test]
async fn trashing_twice_or_restoring_a_live_asset_answers_409() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    api_error(
        app.asset_action(&id(&asset), "restore").await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        app.asset_action(&id(&asset), "trash").await.status(),
        StatusCode::OK
    );
    api_error(
        app.asset_action(&id(&asset), "trash").await,
        StatusCode::CONFLICT,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_live_asset_cannot_be_purged() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    api_error(app.purge_asset(&id(&asset)).await, StatusCode::CONFLICT).await;

    app.token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(app.get_asset(&id(&asset)).await["state"], "live");
    app.stop().await;
}

#[tokio::test]
async fn a_purged_asset_is_gone_and_its_path_is_free_for_a_new_asset() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    assert_eq!(
        app.asset_action(&id(&asset), "trash").await.status(),
        StatusCode::OK
    );

    let res = app.purge_asset(&id(&asset)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    api_error(
        app.api(Method::GET, &format!("/api/v1/assets/{}", id(&asset)), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    api_error(
        app.asset_action(&id(&asset), "restore").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let list: Vec<Value> = api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    assert!(list.is_empty(), "{list:?}");
    assert_empty(
        app.get_token("/tokens/chat", &app.admin_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let new_secret = "a-brand-new-secret-of-32-bytes!!";
    let mut body = asset_body("/tokens/chat", r#"{"generation": 2}"#);
    body["secret"] = json!(new_secret);
    let replacement = app.create_asset(body).await;
    assert_ne!(replacement["id"], asset["id"]);
    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, new_secret.as_bytes())
        .await;
    assert_eq!(claims["generation"], 2);
    app.stop().await;
}

#[tokio::test]
async fn deleting_or_trashing_an_unknown_asset_answers_404() {
    let app = spawn_app().await;

    api_error(app.purge_asset("no-such-id").await, StatusCode::NOT_FOUND).await;
    api_error(
        app.asset_action("no-such-id", "trash").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    api_error(
        app.api(Method::GET, "/api/v1/assets/no-such-id", None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_stale_edit_answers_409_naming_who_changed_the_asset() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "admin": true}))
        .await;
    let bob = app.create_api_key("bob").await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    assert_eq!(asset["version"], 1);
    let path = format!("/api/v1/assets/{}", id(&asset));

    let bobs_edit = json!({"name": "Bob's", "path": "/tokens/chat", "template": r#"{"by": "bob"}"#, "version": 1});
    let res = app.api_as(&bob, Method::PUT, &path, Some(bobs_edit)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["version"], 2);

    let stale = json!({"name": "Admin's", "path": "/tokens/chat", "template": r#"{"by": "admin"}"#, "version": 1});
    let error = api_error(
        app.api(Method::PUT, &path, Some(stale)).await,
        StatusCode::CONFLICT,
    )
    .await;

    assert_eq!(error["changed_by"], "bob");
    assert_eq!(error["current_version"], 2);
    assert!(error["detail"].as_str().unwrap().contains("bob"), "{error}");
    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["by"], "bob", "the stale edit changed nothing");
    app.stop().await;
}

#[tokio::test]
async fn an_edit_without_a_version_is_refused() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    let body = json!({"name": "x", "path": "/tokens/chat", "template": SUB_TEMPLATE});
    let error = api_error(
        app.api(
            Method::PUT,
            &format!("/api/v1/assets/{}", id(&asset)),
            Some(body),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    assert_eq!(error["field"], "version");
    app.stop().await;
}

#[tokio::test]
async fn an_edit_without_a_secret_keeps_the_secret_and_takes_effect_at_once() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    let edit = json!({"name": "Renamed", "path": "/tokens/chat", "template": r#"{"edited": true}"#, "version": 1});
    let res = app
        .api(
            Method::PUT,
            &format!("/api/v1/assets/{}", id(&asset)),
            Some(edit),
        )
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["secret_changed_at"], asset["secret_changed_at"]);
    assert_eq!(saved["name"], "Renamed");
    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["edited"], true);
    app.stop().await;
}

#[tokio::test]
async fn an_edit_with_a_new_secret_signs_with_it_at_once() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let new_secret = "another-secret-that-is-32-bytes!";

    let edit = json!({"name": "x", "path": "/tokens/chat", "secret": new_secret, "template": SUB_TEMPLATE, "version": 1});
    let res = app
        .api(
            Method::PUT,
            &format!("/api/v1/assets/{}", id(&asset)),
            Some(edit),
        )
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    app.token_claims("/tokens/chat", &app.admin_key, new_secret.as_bytes())
        .await;
    app.stop().await;
}

#[tokio::test]
async fn moving_an_asset_frees_the_old_path_at_once() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/tokens/old", SUB_TEMPLATE))
        .await;

    let edit = json!({"name": "x", "path": "/tokens/new", "template": SUB_TEMPLATE, "version": 1});
    let res = app
        .api(
            Method::PUT,
            &format!("/api/v1/assets/{}", id(&asset)),
            Some(edit),
        )
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_empty(
        app.get_token("/tokens/old", &app.admin_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.token_claims("/tokens/new", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    app.create_asset(asset_body("/tokens/old", SUB_TEMPLATE))
        .await;
    app.stop().await;
}
