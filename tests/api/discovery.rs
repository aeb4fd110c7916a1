//! `{iss}/.well-known/openid-configuration` for an asset whose `iss` is a URL on this server: what
//! workload identity federation, API gateways' JWT authorizers and Kubernetes-style verifiers
//! read to find the keys.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_error, spawn_app, spawn_app_with};
use crate::keys::{kids, openssl_verifies, token};

const TEMPLATE: &str =
    r#"{"sub": "%globals_user_attribute_username%", "groups": %globals_user_groups%}"#;

async fn discovery(app: &TestApp, issuer_path: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .get(app.url(&format!("{issuer_path}/.well-known/openid-configuration")))
        .send()
        .await
        .unwrap();
    let status = res.status();
    if status != StatusCode::OK {
        assert_eq!(res.text().await.unwrap(), "", "a {status} has no body");
        return (status, Value::Null);
    }
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    // Matched against the request's host (no --public-url here): not for shared caches.
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    assert!(
        res.headers()[header::VARY]
            .to_str()
            .unwrap()
            .contains("X-Forwarded-Host")
    );
    (status, res.json().await.unwrap())
}

fn asset(path: &str, algorithm: &str, issuer: &str) -> Value {
    json!({"name": format!("Issuer {path}"), "path": path, "algorithm": algorithm,
           "template": TEMPLATE, "issuer": issuer, "audience": "sts.example", "jti": true})
}

/// Fetch the key set the document names, as a verifier would (an absolute URL on this server).
async fn key_set(app: &TestApp, jwks_uri: &str) -> Value {
    let path = jwks_uri
        .strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{jwks_uri} is not on {}", app.address));
    let res = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_asset_whose_issuer_is_a_url_here_has_a_discovery_document() {
    let app = spawn_app().await;
    let iss = format!("{}/tokens/wif", app.address);
    let created = app.create_asset(asset("/tokens/wif", "ES256", &iss)).await;
    let kid = created["kid"].as_str().unwrap().to_owned();

    let (status, doc) = discovery(&app, "/tokens/wif").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], iss.as_str());
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/tokens/wif/jwks.json", app.address).as_str()
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(doc["response_types_supported"], json!(["id_token"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    let claims: Vec<&str> = doc["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["sub", "groups", "iss", "iat", "exp", "aud", "jti"] {
        assert!(claims.contains(&c), "{c} in {claims:?}");
    }
    assert!(!claims.contains(&"nbf"), "{claims:?}");

    // The key set it names is exactly this asset's, and verifies the asset's tokens.
    let set = key_set(&app, doc["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(kids(&set), vec![kid.clone()]);
    let t = token(&app, "/tokens/wif").await;
    let jwk = &set["keys"][0];
    assert_eq!(jwk["alg"], "ES256");
    assert!(openssl_verifies(
        &t,
        created["public_key_pem"].as_str().unwrap()
    ));
    let claims = crate::keys::part_json(&t, 1);
    assert_eq!(claims["iss"], iss.as_str());

    // A next key appears in the key set the document names, before it signs.
    let id = created["id"].as_str().unwrap();
    let res = app
        .api(Method::POST, &format!("/api/v1/assets/{id}/next-key"), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let set = key_set(&app, doc["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(kids(&set).len(), 2);

    // HEAD works, other methods do not.
    let res = app
        .client
        .post(app.url("/tokens/wif/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn issuers_at_the_root_with_a_slash_or_apart_from_the_path_are_found() {
    let app = spawn_app().await;
    // An issuer that is not the asset's path.
    let team = format!("{}/issuers/team", app.address);
    app.create_asset(asset("/t/team", "RS256", &team)).await;
    let (status, doc) = discovery(&app, "/issuers/team").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/t/team/jwks.json", app.address).as_str()
    );
    // An issuer ending in '/': the document is asked for without it, and names it as it is.
    let slash = format!("{}/issuers/slash/", app.address);
    app.create_asset(asset("/t/slash", "EdDSA", &slash)).await;
    let (status, doc) = discovery(&app, "/issuers/slash").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], slash.as_str());
    // The server's own origin as the issuer.
    app.create_asset(asset("/t/root", "PS256", &app.address))
        .await;
    let (status, doc) = discovery(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], app.address.as_str());
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["PS256"])
    );
}

#[tokio::test]
async fn no_document_without_exactly_one_live_key_pair_asset_for_the_issuer() {
    let app = spawn_app().await;
    let here = |p: &str| format!("{}{p}", app.address);
    // HMAC: no public key to discover.
    let mut hs = asset("/n/hs", "HS256", &here("/n/hs"));
    hs["generate_secret"] = json!(true);
    app.create_asset(hs).await;
    // Another host's issuer.
    app.create_asset(asset(
        "/n/elsewhere",
        "ES256",
        "https://elsewhere.example/n/elsewhere",
    ))
    .await;
    // Two assets sharing one issuer: which keys would be meant is ambiguous.
    app.create_asset(asset("/n/one", "ES256", &here("/n/shared")))
        .await;
    app.create_asset(asset("/n/two", "ES256", &here("/n/shared")))
        .await;
    // Trashed.
    let trashed = app
        .create_asset(asset("/n/trashed", "ES256", &here("/n/trashed")))
        .await;
    let res = app
        .asset_action(trashed["id"].as_str().unwrap(), "trash")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    for p in [
        "/n/hs",
        "/n/elsewhere",
        "/n/shared",
        "/n/trashed",
        "/n/none",
        "",
    ] {
        assert_eq!(discovery(&app, p).await.0, StatusCode::NOT_FOUND, "{p:?}");
    }
    // Asset paths can never shadow a discovery document.
    for path in ["/a/.well-known/openid-configuration", "/a/.Well-Known/x"] {
        let res = app
            .post_asset(crate::helpers::asset_body(path, TEMPLATE))
            .await;
        let e = api_error(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], "path", "{path}");
    }
}

#[tokio::test]
async fn behind_a_proxy_the_issuer_is_matched_against_the_public_url() {
    let app = spawn_app_with(|s| s.public_url = Some("https://tokens.example.com".into())).await;
    let created = app
        .create_asset(asset(
            "/fed/aws",
            "RS256",
            "https://tokens.example.com/fed/aws",
        ))
        .await;
    let res = app
        .client
        .get(app.url("/fed/aws/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // With the public URL configured the answer does not depend on the request: cacheable.
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=300");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], "https://tokens.example.com/fed/aws");
    assert_eq!(
        doc["jwks_uri"],
        "https://tokens.example.com/fed/aws/jwks.json"
    );
    assert_eq!(created["kid"].as_str().unwrap().len(), 43);
}
