//! Request paths are matched byte for byte: encoded, dotted or re-cased variants reach nothing.
//!
//! These requests go over a raw socket, because an HTTP client library would normalise `.` and
//! `..` segments before sending them.

use serde_json::json;

use crate::helpers::*;

const SUB_TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn encoded_dotted_and_recased_variants_of_an_asset_path_answer_404() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let auth = format!("Bearer {}", app.admin_key);
    let exact = app
        .raw_request("GET", "/tokens/chat", &[("Authorization", &auth)])
        .await;
    assert_eq!(exact.status, 200, "the canonical path answers");
    verify_hs(&exact.body, TEST_SECRET.as_bytes());

    for variant in [
        "/tokens/%63hat",
        "/%74okens/chat",
        "/tokens%2Fchat",
        "/tokens/./chat",
        "/./tokens/chat",
        "/x/../tokens/chat",
        "/tokens/x/../chat",
        "/tokens/%2E/chat",
        "/tokens/%2e%2e/tokens/chat",
        "/TOKENS/chat",
        "/tokens/CHAT",
        "/tokens/chat/",
        "/tokens//chat",
        "//tokens/chat",
        "/tokens/chat%20",
        "/tokens/chat%00",
    ] {
        let res = app
            .raw_request("GET", variant, &[("Authorization", &auth)])
            .await;
        assert_eq!(res.status, 404, "{variant}");
        assert_eq!(res.body, "", "{variant}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_variant_of_one_asset_path_never_reaches_another_asset() {
    let app = spawn_app().await;
    let other_secret = "fedcba9876543210fedcba9876543210";
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    app.create_asset(json!({
        "name": "Upper", "path": "/tokens/Chat", "secret": other_secret, "template": r#"{"which": "upper"}"#,
    }))
    .await;
    let auth = format!("Bearer {}", app.admin_key);

    let upper = app
        .raw_request("GET", "/tokens/Chat", &[("Authorization", &auth)])
        .await;
    assert_eq!(upper.status, 200);
    assert_eq!(
        verify_hs(&upper.body, other_secret.as_bytes()).1["which"],
        "upper"
    );
    for variant in [
        "/tokens/%43hat",
        "/tokens/%63hat",
        "/tokens/x/../Chat",
        "/tokens/./Chat",
    ] {
        let res = app
            .raw_request("GET", variant, &[("Authorization", &auth)])
            .await;
        assert_eq!(res.status, 404, "{variant}");
        assert_eq!(res.body, "", "{variant}");
    }
    app.stop().await;
}

#[tokio::test]
async fn encoded_dotted_and_recased_variants_of_server_routes_reach_no_route() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let auth = format!("Bearer {}", app.admin_key);
    let listing = app
        .raw_request("GET", "/api/v1/assets", &[("Authorization", &auth)])
        .await;
    assert_eq!(listing.status, 200, "the canonical API route answers");
    assert!(listing.body.contains("/tokens/chat"));

    for variant in [
        "/%61pi/v1/assets",
        "/api/v1/%61ssets",
        "/%61%70%69/v1/assets",
        "/API/v1/assets",
        "/Api/V1/assets",
        "/x/../api/v1/assets",
        "/./api/v1/assets",
        "/api/v1/./assets",
        "/api/v1/x/../assets",
        "/api/v1/assets/",
        "/api/v1//assets",
        "/%68ealthz",
        "/HEALTHZ",
        "/x/../healthz",
        "/healthz/",
        "/%6detrics",
        "/METRICS",
        "/%61dmin",
        "/Admin",
        "/ADMIN/",
        "/x/../admin",
    ] {
        let res = app
            .raw_request("GET", variant, &[("Authorization", &auth)])
            .await;
        assert_eq!(res.status, 404, "{variant}: {}", res.body);
        assert!(
            !res.body.contains("/tokens/chat"),
            "{variant} must not list assets"
        );
        assert!(
            !res.body.contains("ok"),
            "{variant} must not reach /healthz"
        );
        assert!(
            !res.body.contains("jwt_tokens_total"),
            "{variant} must not reach /metrics"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_query_string_does_not_change_which_asset_answers() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;

    let res = app
        .get_token(
            "/tokens/chat?as=someone&path=/api/v1/assets",
            &app.admin_key,
        )
        .await;

    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(
        verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes()).1["sub"],
        "admin"
    );
    app.stop().await;
}
