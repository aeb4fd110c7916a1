//! Trusted-proxy sign-in: the person named by an authenticating proxy's headers, believed only on
//! connections from a trusted proxy address. The "proxy" is a client bound to a second loopback
//! address (127.0.0.2); everyone else connects from 127.0.0.1.

use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    TEST_SECRET, TestApp, asset_body, location, session_cookie, spawn_app_with, verify_hs,
};

async fn app(proxy_auth: bool) -> TestApp {
    spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
        s.proxy_auth = proxy_auth;
    })
    .await
}

fn from(address: &str) -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn as_person(req: reqwest::RequestBuilder, user: &str) -> reqwest::RequestBuilder {
    req.header("Remote-User", user)
        .header("Remote-Email", format!("{user}@example.org"))
        .header("Remote-Name", "Alice Liddell")
        .header("Remote-Groups", "staff, dev")
}

async fn chat_asset(app: &TestApp) {
    app.create_asset(asset_body(
        "/t/chat",
        r#"{"sub": %globals_user_attribute_username^json_encode%, "last": %globals_user_attribute_last_name^json_encode%, "email": %globals_user_attribute_email^json_encode%, "groups": %globals_user_groups^json_encode%}"#,
    ))
    .await;
}

#[tokio::test]
async fn the_proxys_headers_are_believed_only_from_the_proxy() {
    let app = app(true).await;
    chat_asset(&app).await;
    // From the proxy: alice, her account created, her claims from the headers.
    let res = as_person(from("127.0.0.2").get(app.url("/t/chat")), "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, claims) = verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["last"], "Liddell");
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["groups"], json!(["dev", "staff"]));
    let user: Value = app
        .api(reqwest::Method::GET, "/api/v1/users/alice", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["source"], "proxy");
    // The same headers from anywhere else are ignored: not signed in.
    let res = as_person(from("127.0.0.1").get(app.url("/t/chat")), "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().is_empty());
    // The proxy cannot make someone a local account: a taken name is refused, not merged.
    let res = as_person(from("127.0.0.2").get(app.url("/t/chat")), "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The proxy's word opens token URLs, never the admin JSON API (it carries no CSRF token):
    // not even for an administrator.
    let admin = app.admin_browser().await;
    let res = app
        .post_form(
            &admin,
            "/admin/users/alice",
            &[
                ("admin", "on"),
                ("email", "alice@example.org"),
                ("groups", "staff, dev"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = as_person(from("127.0.0.2").get(app.url("/api/v1/users")), "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Groups follow the headers.
    let res = from("127.0.0.2")
        .get(app.url("/t/chat"))
        .header("Remote-User", "alice")
        .header("Remote-Groups", "ops")
        .send()
        .await
        .unwrap();
    let (_, claims) = verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["groups"], json!(["ops"]));
}

#[tokio::test]
async fn the_admin_pages_get_a_session_for_the_person_the_proxy_names() {
    let app = app(true).await;
    let res = as_person(
        from("127.0.0.2").get(app.url("/login?next=/admin/my-tokens")),
        "bob",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/my-tokens");
    let session = session_cookie(&res).expect("a session");
    let page = from("127.0.0.2")
        .get(app.url("/admin/my-tokens"))
        .header(header::COOKIE, format!("jas_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("bob"));
    // From elsewhere, the sign-in page is only the form.
    let res = as_person(from("127.0.0.1").get(app.url("/login")), "bob")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(session_cookie(&res).is_none());
}

#[tokio::test]
async fn without_proxy_auth_even_the_proxys_headers_are_ignored() {
    let app = app(false).await;
    chat_asset(&app).await;
    let res = as_person(from("127.0.0.2").get(app.url("/t/chat")), "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .api(reqwest::Method::GET, "/api/v1/users/alice", None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[test]
fn proxy_auth_without_trusted_proxies_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = jwt_asset_server::Settings::for_data_dir(dir.path().join("data"));
    settings.proxy_auth = true;
    let err = jwt_asset_server::Application::build(settings)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("--trusted-proxy"), "{err}");
}
