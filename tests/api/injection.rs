//! User-controlled text cannot change the shape of a token.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const HOSTILE: &str = r#"", "admin": true, "x": ""#;

#[tokio::test]
async fn a_quote_in_a_first_name_cannot_add_a_claim() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "mallory", "attributes": {"first_name": HOSTILE}}))
        .await;
    let key = app.create_api_key("mallory").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"given_name": "%globals_user_attribute_first_name%"}"#,
    ))
    .await;

    let res = app.get_token("/tokens/chat", &key).await;

    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(claims["given_name"], HOSTILE);
    assert!(claims.get("admin").is_none(), "{claims}");
    assert!(claims.get("x").is_none(), "{claims}");
    assert!(
        !payload_text(&token).contains("\"admin\":"),
        "{}",
        payload_text(&token)
    );
    app.stop().await;
}

#[tokio::test]
async fn json_encode_inside_a_string_does_not_escape_twice() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "mallory", "attributes": {"first_name": HOSTILE}}))
        .await;
    let key = app.create_api_key("mallory").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"a": "%globals_user_attribute_first_name^json_encode%", "b": %globals_user_attribute_first_name^json_encode%}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/chat", &key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(claims["a"], HOSTILE);
    assert_eq!(claims["b"], HOSTILE);
    assert!(claims.get("admin").is_none(), "{claims}");
    app.stop().await;
}

#[tokio::test]
async fn the_same_first_name_in_a_value_position_answers_500_with_an_empty_body() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "mallory", "attributes": {"first_name": HOSTILE}}))
        .await;
    let key = app.create_api_key("mallory").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"given_name": %globals_user_attribute_first_name%}"#,
    ))
    .await;

    assert_empty(
        app.get_token("/tokens/chat", &key).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_value_that_looks_like_json_is_refused_in_a_value_position() {
    let app = spawn_app().await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"n": %globals_user_attribute_nickname%}"#,
    ))
    .await;
    for (i, nickname) in [
        "true, \"admin\": true",
        "{\"admin\": true}",
        "[1]",
        "1, \"admin\": 1",
        "\"x\"",
        "",
    ]
    .into_iter()
    .enumerate()
    {
        let username = format!("user{i}");
        app.create_user(json!({"username": username, "attributes": {"nickname": nickname}}))
            .await;
        let key = app.create_api_key(&username).await;
        let res = app.get_token("/tokens/chat", &key).await;
        assert_eq!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{nickname:?}"
        );
        assert_eq!(res.text().await.unwrap(), "");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_template_with_a_duplicate_claim_is_refused_when_saved() {
    let app = spawn_app().await;

    let res = app
        .post_asset(asset_body(
            "/tokens/chat",
            r#"{"admin": false, "admin": true}"#,
        ))
        .await;

    let error = api_error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(error["field"], "template");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(1), Some(18))
    );
    assert_empty(
        app.get_token("/tokens/chat", &app.admin_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn an_attribute_holding_a_keyword_comes_out_literally() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "mallory", "attributes": {"first_name": "%asset_name%", "last_name": "%globals_user_attribute_username%"}}))
        .await;
    let key = app.create_api_key("mallory").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"a": "%globals_user_attribute_first_name%", "b": %globals_user_attribute_last_name^json_encode%, "name": "%asset_name%"}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/chat", &key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(claims["a"], "%asset_name%");
    assert_eq!(claims["b"], "%globals_user_attribute_username%");
    assert_eq!(
        claims["name"], "Asset at /tokens/chat",
        "the template's own keyword is expanded"
    );
    app.stop().await;
}

#[tokio::test]
async fn hostile_group_names_stay_inside_the_group_list() {
    let app = spawn_app().await;
    let group = r#"x"] "admin": true} {"y": ["z"#;
    app.create_user(json!({"username": "mallory", "groups": [group, "staff"]}))
        .await;
    let key = app.create_api_key("mallory").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"groups": %globals_user_groups%, "text": "%globals_user_groups%"}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/chat", &key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(claims["groups"], json!([group, "staff"]));
    assert_eq!(claims["text"], format!("{group},staff"));
    assert!(claims.get("admin").is_none(), "{claims}");
    app.stop().await;
}

#[tokio::test]
async fn control_characters_and_backslashes_in_an_attribute_are_escaped() {
    let app = spawn_app().await;
    let nasty = "line1\nline2\t\\\"\u{0}\u{1f}\u{2028}end";
    app.create_user(json!({"username": "mallory", "attributes": {"first_name": nasty}}))
        .await;
    let key = app.create_api_key("mallory").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"n": "%globals_user_attribute_first_name%"}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/chat", &key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(claims["n"], nasty);
    assert_eq!(
        claims.as_object().unwrap().len(),
        3,
        "n, iat, exp: {claims}"
    );
    app.stop().await;
}
