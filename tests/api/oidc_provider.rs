//! The OpenID test provider itself (tests/oidc, tests/support/oidc.rs) does what the sign-in
//! tests rely on: discovery, registration, a PKCE code flow through its login form, key rotation.

use crate::oidc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest;

const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "selfcheck-verifier-0123456789-0123456789-0123456789";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

fn authorize_url(discovery: &serde_json::Value, client_id: &str, state: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let mut url =
        reqwest::Url::parse(discovery["authorization_endpoint"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid profile email groups")
        .append_pair("state", state)
        .append_pair("nonce", "selfcheck-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

async fn jwks_kids(http: &reqwest::Client, discovery: &serde_json::Value) -> Vec<String> {
    let jwks: serde_json::Value = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_test_provider_signs_alice_in_with_pkce_and_rotates_its_key() {
    let Some(provider) = oidc::Provider::start().await else {
        return;
    };
    let issuer = provider.issuer().to_owned();
    let discovery = provider.discovery().await;
    assert_eq!(discovery["issuer"], issuer.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/auth"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/me"),
        ("jwks_uri", "/jwks"),
        ("registration_endpoint", "/reg"),
        ("end_session_endpoint", "/session/end"),
    ] {
        assert_eq!(discovery[field], format!("{issuer}{path}"), "{field}");
    }
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    let (client_id, client_secret) = provider.register_client(REDIRECT_URI).await;
    let http = http();

    // Without a code challenge the provider sends the browser back with an error, not a code.
    let mut no_pkce = reqwest::Url::parse(&authorize_url(&discovery, &client_id, "s0")).unwrap();
    let kept: Vec<(String, String)> = no_pkce
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    no_pkce.query_pairs_mut().clear().extend_pairs(kept);
    let refused = provider
        .sign_in(no_pkce.as_str(), "alice", oidc::PASSWORD)
        .await
        .unwrap();
    assert!(refused.starts_with(REDIRECT_URI), "{refused}");
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&refused, "code"), None);

    let wrong = provider
        .sign_in(
            &authorize_url(&discovery, &client_id, "s1"),
            "alice",
            "not-the-password",
        )
        .await;
    assert!(wrong.is_err(), "{wrong:?}");

    let callback = provider
        .sign_in(
            &authorize_url(&discovery, &client_id, "state-123"),
            "alice",
            oidc::PASSWORD,
        )
        .await
        .unwrap();
    assert!(
        callback.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{callback}"
    );
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(issuer.as_str())
    );
    let code = query_param(&callback, "code").unwrap();

    let before = provider.token_requests().await;
    let response = http
        .post(discovery["token_endpoint"].as_str().unwrap())
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: serde_json::Value = response.json().await.unwrap();
    assert_eq!(provider.token_requests().await, before + 1);
    let id_token = tokens["id_token"].as_str().expect("an id_token");
    let (header, claims) = (jwt_part(id_token, 0), jwt_part(id_token, 1));
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["sub"], "sub-alice-0001");
    assert_eq!(claims["nonce"], "selfcheck-nonce");

    let userinfo: serde_json::Value = http
        .get(discovery["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["preferred_username"], "alice");
    assert_eq!(userinfo["email"], "alice@example.org");
    assert_eq!(userinfo["groups"], serde_json::json!(["staff", "dev"]));

    let kids = jwks_kids(&http, &discovery).await;
    assert_eq!(kids, [header["kid"].as_str().unwrap()]);
    let rotated = provider.rotate_key().await;
    assert_ne!(rotated, kids[0]);
    assert_eq!(jwks_kids(&http, &discovery).await, [rotated]);
}

#[tokio::test]
async fn the_test_provider_refuses_connections_while_stopped_and_comes_back_on_its_port() {
    let Some(mut provider) = oidc::Provider::start().await else {
        return;
    };
    let (client_id, _) = provider.register_client(REDIRECT_URI).await;
    let jwks = format!("{}/jwks", provider.issuer());
    provider.stop().await;
    let refused = http().get(&jwks).send().await.unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");
    provider.restart().await;
    assert_eq!(http().get(&jwks).send().await.unwrap().status(), 200);
    let discovery = provider.discovery().await;
    let callback = provider
        .sign_in(
            &authorize_url(&discovery, &client_id, "after"),
            "bob",
            oidc::PASSWORD,
        )
        .await
        .unwrap();
    assert!(
        callback.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{callback}"
    );
}
