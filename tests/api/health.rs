//! `/healthz` for load balancers, `/metrics` for Prometheus.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_200_while_the_store_is_usable() {
    let app = spawn_app().await;

    let res = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok\n");
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_token_requests_by_outcome_without_raw_paths_or_usernames() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "zelda-unique", "attributes": {"age": "ancient"}}))
        .await;
    let key = app.create_api_key("zelda-unique").await;
    app.create_asset(asset_body("/tokens/private-path-one", r#"{"a": 1}"#))
        .await;
    app.create_asset(asset_body(
        "/tokens/private-path-two",
        r#"{"age": %globals_user_attribute_age%}"#,
    ))
    .await;
    app.token_claims("/tokens/private-path-one", &key, TEST_SECRET.as_bytes())
        .await;
    app.token_claims("/tokens/private-path-one", &key, TEST_SECRET.as_bytes())
        .await;
    assert_empty(
        app.client
            .get(app.url("/tokens/private-path-one"))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_empty(
        app.get_token("/tokens/private-path-two", &key).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert_empty(
        app.get_token("/tokens/private-path-three", &key).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for line in [
        r#"jwt_tokens_total{outcome="issued"} 2"#,
        r#"jwt_tokens_total{outcome="forbidden"} 1"#,
        r#"jwt_tokens_total{outcome="not_found"} 1"#,
        r#"jwt_tokens_total{outcome="config_error"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from\n{text}"
        );
    }
    assert!(
        text.contains(r#"route="/api/v1/users/{username}/api-keys""#),
        "latency is labelled by route pattern"
    );
    for raw in [
        "private-path",
        "/tokens/",
        "zelda",
        "/api/v1/users/admin",
        "jas_",
    ] {
        assert!(!text.contains(raw), "{raw} appears in\n{text}");
    }
    app.stop().await;
}
