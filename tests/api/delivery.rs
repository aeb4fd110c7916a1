//! Delivery modes and CORS on the token URL: JSON on request when enabled, and exact-origin
//! CORS with credentials for listed origins only, preflight answered without rendering.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, api_error, asset_body, spawn_app, verify_hs};

const TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn json_delivery_answers_an_object_only_when_enabled_and_asked_for() {
    let app = spawn_app().await;
    let mut body = asset_body("/d/json", TEMPLATE);
    body["delivery"] = json!({"json": true});
    let saved = app.create_asset(body).await;
    assert_eq!(saved["delivery"], json!({"json": true}));
    app.create_asset(asset_body("/d/raw", TEMPLATE)).await;

    let get = |path: &'static str, accept: &'static str| {
        app.client
            .get(app.url(path))
            .bearer_auth(&app.admin_key)
            .header(header::ACCEPT, accept)
            .send()
    };
    let res = get("/d/json", "application/json").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        res.headers()
            .get_all(header::VARY)
            .iter()
            .any(|v| v == "Accept")
    );
    let answer: Value = res.json().await.unwrap();
    let obj = answer.as_object().unwrap();
    assert_eq!(obj.len(), 1, "{answer}");
    let (_, claims) = verify_hs(answer["jwt"].as_str().unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["sub"], "admin");

    // Raw when not asked for, when refused by q=0, and on assets without JSON delivery.
    for (path, accept) in [
        ("/d/json", "*/*"),
        ("/d/json", "application/jwt"),
        ("/d/json", "application/json;q=0, */*"),
        ("/d/raw", "application/json"),
    ] {
        let res = get(path, accept).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/jwt",
            "{path} {accept}"
        );
        verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    }
    // Refusals keep their empty bodies.
    let res = app
        .client
        .get(app.url("/d/json"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.text().await.unwrap(), "");

    // Edits that do not mention delivery keep it.
    let id = saved["id"].as_str().unwrap();
    let mut edit = asset_body("/d/json", TEMPLATE);
    edit["version"] = saved["version"].clone();
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["delivery"]["json"], true);
}

#[tokio::test]
async fn cors_echoes_listed_origins_with_credentials_and_nothing_for_others() {
    let app = spawn_app().await;
    let mut body = asset_body("/d/cors", TEMPLATE);
    body["cors_origins"] = json!(["https://app.example", "http://localhost:3000"]);
    let saved = app.create_asset(body).await;
    assert_eq!(
        saved["cors_origins"],
        json!(["https://app.example", "http://localhost:3000"])
    );
    let session = app
        .login_session("admin", crate::helpers::ADMIN_PASSWORD)
        .await
        .unwrap();
    let get = |origin: &'static str| {
        app.client
            .get(app.url("/d/cors"))
            .header(header::COOKIE, format!("jas_session={session}"))
            .header(header::ORIGIN, origin)
            .send()
    };
    let vary_origin = |res: &reqwest::Response| {
        res.headers()
            .get_all(header::VARY)
            .iter()
            .any(|v| v == "Origin")
    };
    let res = get("https://app.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    assert!(vary_origin(&res));
    for other in [
        "https://evil.example",
        "https://app.example.evil.example",
        "http://app.example",
        "null",
    ] {
        let res = get(other).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "the token itself is unaffected"
        );
        assert!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{other}"
        );
        assert!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
        assert!(vary_origin(&res));
    }

    // Preflight: no credentials, no rendering; listed origins only.
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/d/cors"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
    };
    let res = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    assert!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(res.text().await.unwrap(), "");
    let res = preflight("https://evil.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        res.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // No issuance was audited for the preflight.
    let issued = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "token.issue")
        .count();
    assert_eq!(issued, 5);

    // An asset without a list sends no CORS headers at all.
    app.create_asset(asset_body("/d/plain", TEMPLATE)).await;
    let res = app
        .client
        .get(app.url("/d/plain"))
        .bearer_auth(&app.admin_key)
        .header(header::ORIGIN, "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    assert!(res.headers().get(header::VARY).is_none());
}

#[tokio::test]
async fn cors_origins_are_validated() {
    let app = spawn_app().await;
    for bad in [
        "*",
        "https://app.example/",
        "app.example",
        "https://*.example",
    ] {
        let mut body = asset_body("/d/bad", TEMPLATE);
        body["cors_origins"] = json!([bad]);
        let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], "cors_origins", "{bad}");
    }
}
