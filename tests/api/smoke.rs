//! The first end-to-end path: create a user, an asset and a key, fetch a token.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_user_with_an_api_key_gets_a_signed_token_for_themselves() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "attributes": {"first_name": "Ann \"Jo\""}}))
        .await;
    let key = app.create_api_key("alice").await;
    app.create_asset(asset_body(
        "/tokens/chat",
        r#"{"sub": "%globals_user_attribute_username%", "given_name": %globals_user_attribute_first_name^json_encode%}"#,
    ))
    .await;

    let res = app.get_token("/tokens/chat", &key).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/jwt");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let token = res.text().await.unwrap();
    let (header, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["given_name"], "Ann \"Jo\"");
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 600);
    app.stop().await;
}
