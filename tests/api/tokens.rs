//! Every status of a token URL: 200 with its headers, 403, 404, 405 and 500, with empty error bodies.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

const SUB_TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn a_token_url_answers_200_with_a_jwt_and_headers_that_keep_it_out_of_caches() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let key = app.create_api_key("alice").await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    let res = app.get_token("/tokens/chat", &key).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/jwt");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let (header, claims) = verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(claims["sub"], "alice");
    app.stop().await;
}

#[tokio::test]
async fn head_on_a_token_url_answers_200_with_the_token_headers_and_no_body() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let key = app.create_api_key("alice").await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    let res = app
        .client
        .head(app.url("/tokens/chat"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/jwt");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(res.text().await.unwrap(), "");
    app.stop().await;
}

#[tokio::test]
async fn hs384_and_hs512_assets_sign_with_their_algorithm() {
    let app = spawn_app().await;
    let secret = "x".repeat(64);
    for (alg, path) in [("HS384", "/tokens/hs384"), ("HS512", "/tokens/hs512")] {
        app.create_asset(json!({
            "name": alg, "path": path, "algorithm": alg, "secret": secret, "template": SUB_TEMPLATE,
        }))
        .await;
        let res = app.get_token(path, &app.admin_key).await;
        assert_eq!(res.status(), StatusCode::OK);
        let (header, claims) = verify_hs(&res.text().await.unwrap(), secret.as_bytes());
        assert_eq!(header["alg"], alg);
        assert_eq!(claims["sub"], "admin");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_request_without_credentials_gets_403_with_an_empty_body() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    let res = app
        .client
        .get(app.url("/tokens/chat"))
        .send()
        .await
        .unwrap();

    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_empty(res, StatusCode::FORBIDDEN).await;
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_authorization_header_gets_403_even_next_to_a_valid_session() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "password": "alice-password-1"}))
        .await;
    let key = app.create_api_key("alice").await;
    let session = app
        .login_session("alice", "alice-password-1")
        .await
        .unwrap();
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let ok = app.get_token_with_session("/tokens/chat", &session).await;
    assert_eq!(ok.status(), StatusCode::OK, "the session alone is good");
    verify_hs(&ok.text().await.unwrap(), TEST_SECRET.as_bytes());

    for authorization in [
        "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQtMQ==",
        "Bearer",
        "Bearer ",
        key.as_str(),
        &format!("Token {key}"),
    ] {
        let res = app
            .client
            .get(app.url("/tokens/chat"))
            .header(header::AUTHORIZATION, authorization)
            .header(header::COOKIE, format!("jas_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "Authorization: {authorization}"
        );
        assert_eq!(res.text().await.unwrap(), "");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_api_key_gets_403_with_an_empty_body() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let real = app.create_api_key("admin").await;
    let mut forged = real.clone();
    let last = if forged.ends_with('A') { 'B' } else { 'A' };
    forged.pop();
    forged.push(last);

    for key in [
        forged.as_str(),
        "jas_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not-a-key",
        &"jas_x".repeat(100),
    ] {
        assert_empty(
            app.get_token("/tokens/chat", key).await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_user_gets_403_with_their_api_key_and_with_their_session() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "dave", "password": "dave-password-1"}))
        .await;
    let key = app.create_api_key("dave").await;
    let session = app.login_session("dave", "dave-password-1").await.unwrap();
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let before = app.get_token("/tokens/chat", &key).await;
    assert_eq!(before.status(), StatusCode::OK);
    verify_hs(&before.text().await.unwrap(), TEST_SECRET.as_bytes());

    app.disable_user("dave").await;

    assert_empty(
        app.get_token("/tokens/chat", &key).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_empty(
        app.get_token_with_session("/tokens/chat", &session).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn re_enabling_a_user_restores_their_keys_but_not_their_ended_sessions() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "dave", "password": "dave-password-1"}))
        .await;
    let key = app.create_api_key("dave").await;
    let session = app.login_session("dave", "dave-password-1").await.unwrap();
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    app.disable_user("dave").await;
    let res = app
        .api(Method::POST, "/api/v1/users/dave/enable", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let claims = app
        .token_claims("/tokens/chat", &key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "dave");
    assert_empty(
        app.get_token_with_session("/tokens/chat", &session).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_read_rule_naming_users_refuses_everyone_else() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    app.create_user(json!({"username": "bob"})).await;
    let alice = app.create_api_key("alice").await;
    let bob = app.create_api_key("bob").await;
    let mut body = asset_body("/tokens/chat", SUB_TEMPLATE);
    body["read"] = json!({"users": ["Alice"]});
    app.create_asset(body).await;

    let claims = app
        .token_claims("/tokens/chat", &alice, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "alice");
    assert_empty(
        app.get_token("/tokens/chat", &bob).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_read_rule_naming_groups_admits_only_their_members() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "groups": ["staff"]}))
        .await;
    app.create_user(json!({"username": "bob", "groups": ["guests"]}))
        .await;
    let alice = app.create_api_key("alice").await;
    let bob = app.create_api_key("bob").await;
    let mut body = asset_body("/tokens/staff", SUB_TEMPLATE);
    body["read"] = json!({"groups": ["staff"]});
    app.create_asset(body).await;

    let claims = app
        .token_claims("/tokens/staff", &alice, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "alice");
    assert_empty(
        app.get_token("/tokens/staff", &bob).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_read_rule_with_a_user_unknown_to_the_server_is_refused_when_saved() {
    let app = spawn_app().await;
    let mut body = asset_body("/tokens/chat", SUB_TEMPLATE);
    body["read"] = json!({"users": ["nobody"]});

    let error = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;

    assert_eq!(error["field"], "read");
    app.stop().await;
}

#[tokio::test]
async fn a_value_position_keyword_yielding_text_answers_500_for_that_user_only() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "numeric", "attributes": {"age": "42"}}))
        .await;
    app.create_user(json!({"username": "wordy", "attributes": {"age": "forty-two"}}))
        .await;
    let numeric = app.create_api_key("numeric").await;
    let wordy = app.create_api_key("wordy").await;
    app.create_asset(asset_body(
        "/tokens/age",
        r#"{"age": %globals_user_attribute_age%}"#,
    ))
    .await;

    let claims = app
        .token_claims("/tokens/age", &numeric, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["age"], 42);
    let res = app.get_token("/tokens/age", &wordy).await;
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_empty(res, StatusCode::INTERNAL_SERVER_ERROR).await;
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_path_answers_404_before_any_credential_is_looked_at() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    assert_empty(
        app.get_token("/tokens/other", &app.admin_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_empty(
        app.client
            .get(app.url("/tokens/other"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_empty(
        app.client
            .post(app.url("/tokens/other"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn other_methods_on_an_asset_path_answer_405_naming_get_and_head() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        for key in [None, Some(app.admin_key.as_str())] {
            let mut req = app.client.request(method.clone(), app.url("/tokens/chat"));
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(res.headers()[header::ALLOW], "GET, HEAD");
            assert_eq!(res.text().await.unwrap(), "");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_passes_every_read_rule() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let mut body = asset_body("/tokens/chat", SUB_TEMPLATE);
    body["read"] = json!({"users": ["alice"]});
    app.create_asset(body).await;

    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(claims["sub"], "admin");
    app.stop().await;
}
