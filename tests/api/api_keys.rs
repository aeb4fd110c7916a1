//! API keys: shown once, listed by prefix only, revoked at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const SUB_TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn a_new_api_key_is_shown_once_and_carries_at_least_128_random_bits() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;

    let res = app
        .api(Method::POST, "/api/v1/users/alice/api-keys", None)
        .await;

    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[reqwest::header::CACHE_CONTROL], "no-store");
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    let random = key.strip_prefix("jas_").expect("keys start with jas_");
    assert!(URL_SAFE_NO_PAD.decode(random).unwrap().len() >= 16);
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    let other = app.create_api_key("alice").await;
    assert_ne!(other, key);
    app.stop().await;
}

#[tokio::test]
async fn listing_api_keys_shows_the_prefix_and_never_the_key() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let first = app.create_api_key("alice").await;
    let second = app.create_api_key("alice").await;

    let res = app
        .api(Method::GET, "/api/v1/users/alice/api-keys", None)
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let listing: Vec<Value> =
        serde_json::from_value(serde_json::from_str::<Value>(&text).unwrap()["items"].clone())
            .unwrap();
    assert_eq!(listing.len(), 2);
    for (entry, key) in listing.iter().zip([&first, &second]) {
        let prefix = entry["prefix"].as_str().unwrap();
        assert!(
            key.starts_with(prefix) && prefix.len() < key.len() / 2,
            "{prefix} is a short prefix of the key"
        );
        assert!(entry.get("key").is_none());
    }
    for key in [&first, &second] {
        assert!(
            !text.contains(key.as_str()),
            "the key appeared in the listing"
        );
        assert!(
            !text.contains(&key[12..24]),
            "a part past the prefix appeared in the listing"
        );
    }
    let user = app
        .api(Method::GET, "/api/v1/users/alice", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!user.contains(&first[12..]) && !user.contains(&second[12..]));
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_api_key_gets_403_at_once_and_the_user_s_other_keys_keep_working() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let doomed = app.create_api_key("alice").await;
    let kept = app.create_api_key("alice").await;
    app.token_claims("/tokens/chat", &doomed, TEST_SECRET.as_bytes())
        .await;
    let listing: Vec<Value> = api_items(
        app.api(Method::GET, "/api/v1/users/alice/api-keys", None)
            .await,
    )
    .await;
    let id = listing
        .iter()
        .find(|k| doomed.starts_with(k["prefix"].as_str().unwrap()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let res = app
        .api(
            Method::DELETE,
            &format!("/api/v1/users/alice/api-keys/{id}"),
            None,
        )
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.json::<Value>().await.unwrap()["revoked_at"].is_string());
    assert_empty(
        app.get_token("/tokens/chat", &doomed).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let claims = app
        .token_claims("/tokens/chat", &kept, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "alice");
    app.stop().await;
}

#[tokio::test]
async fn an_api_key_can_be_revoked_by_its_shown_prefix() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "admin": true}))
        .await;
    let key = app.create_api_key("bob").await;
    assert_eq!(
        app.api_as(&key, Method::GET, "/api/v1/assets", None)
            .await
            .status(),
        StatusCode::OK
    );

    let res = app
        .api(
            Method::DELETE,
            &format!("/api/v1/users/bob/api-keys/{}", &key[..12]),
            None,
        )
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    api_error(
        app.api_as(&key, Method::GET, "/api/v1/assets", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn revoking_an_unknown_key_or_another_user_s_key_answers_404() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    app.create_user(json!({"username": "bob"})).await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let bobs = app.create_api_key("bob").await;

    api_error(
        app.api(Method::DELETE, "/api/v1/users/alice/api-keys/nope", None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let res = app
        .api(
            Method::DELETE,
            &format!("/api/v1/users/alice/api-keys/{}", &bobs[..12]),
            None,
        )
        .await;
    api_error(res, StatusCode::NOT_FOUND).await;

    app.token_claims("/tokens/chat", &bobs, TEST_SECRET.as_bytes())
        .await;
    app.stop().await;
}
