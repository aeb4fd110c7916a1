//! Browser sessions: the cookie, sign-out, renewal at sign-in, password changes and the API's CSRF header.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

const SUB_TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;
const ALICE_PASSWORD: &str = "alice-password-1";

async fn app_with_alice() -> TestApp {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "password": ALICE_PASSWORD}))
        .await;
    app.create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    app
}

/// Fetch a token with a session and check it is alice's.
async fn assert_session_gets_token(app: &TestApp, session: &str) {
    let res = app.get_token_with_session("/tokens/chat", session).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes()).1["sub"],
        "alice"
    );
}

#[tokio::test]
async fn signing_in_sets_an_http_only_same_site_lax_secure_cookie() {
    let app = app_with_alice().await;

    let res = app.post_login("alice", ALICE_PASSWORD, None).await;

    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    let attributes: Vec<String> = cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(cookie.starts_with("jas_session="), "{cookie}");
    for expected in ["httponly", "samesite=lax", "secure", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} missing from {cookie}"
        );
    }
    let id = session_cookie(&res).unwrap();
    assert!(
        id.len() >= 43,
        "the session id carries at least 256 bits: {id}"
    );
    assert_session_gets_token(&app, &id).await;
    app.stop().await;
}

#[tokio::test]
async fn the_sign_in_page_is_a_plain_form() {
    let app = spawn_app().await;

    let res = app.client.get(app.url("/login")).send().await.unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"<form method="post" action="/login">"#),
        "{html}"
    );
    assert!(html.contains(r#"name="password""#));
    app.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = app_with_alice().await;
    let session = app.login_session("alice", ALICE_PASSWORD).await.unwrap();
    assert_session_gets_token(&app, &session).await;

    let res = app.post_logout(&session).await;

    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cleared = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cleared.starts_with("jas_session=;"),
        "the cookie is cleared: {cleared}"
    );
    assert_empty(
        app.get_token_with_session("/tokens/chat", &session).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn every_sign_in_gets_a_new_session_id_and_ends_the_one_it_replaces() {
    let app = app_with_alice().await;
    let first = app.login_session("alice", ALICE_PASSWORD).await.unwrap();

    let res = app.post_login("alice", ALICE_PASSWORD, Some(&first)).await;

    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let second = session_cookie(&res).unwrap();
    assert_ne!(second, first);
    assert_empty(
        app.get_token_with_session("/tokens/chat", &first).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_session_gets_token(&app, &second).await;
    let third = app.login_session("alice", ALICE_PASSWORD).await.unwrap();
    assert!(third != first && third != second);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_user_a_wrong_password_and_a_disabled_user_get_the_same_answer() {
    let app = spawn_app().await;
    // Same-length names, because the form shows the typed name again.
    app.create_user(json!({"username": "erin01", "password": "erin-password-1"}))
        .await;
    app.create_user(json!({"username": "dave01", "password": "dave-password-1"}))
        .await;
    app.disable_user("dave01").await;

    let mut answers = Vec::new();
    for (username, password) in [
        ("erin01", "wrong-password-1"),
        ("nobody", "erin-password-1"),
        ("dave01", "dave-password-1"),
        ("bad name!", "x"),
    ] {
        let res = app.post_login(username, password, None).await;
        let status = res.status();
        assert!(
            res.headers().get(header::SET_COOKIE).is_none(),
            "{username} got a cookie"
        );
        let body = res.text().await.unwrap().replace(username, "<typed name>");
        answers.push((username, status, body));
    }

    let (_, status, body) = &answers[0];
    assert_eq!(*status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Wrong username or password."), "{body}");
    for (username, s, b) in &answers[1..] {
        assert_eq!(s, status, "{username}");
        assert_eq!(b, body, "{username}");
    }
    assert!(
        app.login_session("erin01", "erin-password-1")
            .await
            .is_some(),
        "the right password still works"
    );
    app.stop().await;
}

#[tokio::test]
async fn changing_a_password_ends_the_user_s_sessions() {
    let app = app_with_alice().await;
    let session = app.login_session("alice", ALICE_PASSWORD).await.unwrap();
    assert_session_gets_token(&app, &session).await;

    let res = app
        .api(
            Method::PUT,
            "/api/v1/users/alice/password",
            Some(json!({"password": "a-new-password-2"})),
        )
        .await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_empty(
        app.get_token_with_session("/tokens/chat", &session).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        app.login_session("alice", ALICE_PASSWORD).await.is_none(),
        "the old password no longer works"
    );
    let fresh = app
        .login_session("alice", "a-new-password-2")
        .await
        .expect("the new password works");
    assert_session_gets_token(&app, &fresh).await;
    app.stop().await;
}

#[tokio::test]
async fn a_too_short_password_is_refused() {
    let app = app_with_alice().await;

    let res = app
        .api(
            Method::PUT,
            "/api/v1/users/alice/password",
            Some(json!({"password": "short"})),
        )
        .await;

    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "password"
    );
    assert!(app.login_session("alice", ALICE_PASSWORD).await.is_some());
    app.stop().await;
}

#[tokio::test]
async fn the_api_with_a_session_needs_the_csrf_header() {
    let app = spawn_app().await;
    let session = app.login_session("admin", ADMIN_PASSWORD).await.unwrap();
    let csrf = app.csrf_token(&session).await;
    let cookie = format!("jas_session={session}");
    let body = asset_body("/tokens/csrf", SUB_TEMPLATE);

    let without = app
        .client
        .post(app.url("/api/v1/assets"))
        .header(header::COOKIE, &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    api_error(without, StatusCode::FORBIDDEN).await;
    let wrong = app
        .client
        .post(app.url("/api/v1/assets"))
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", "not-the-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    api_error(wrong, StatusCode::FORBIDDEN).await;
    let listing = app
        .client
        .get(app.url("/api/v1/assets"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    api_error(listing, StatusCode::FORBIDDEN).await;
    assert_empty(
        app.get_token("/tokens/csrf", &app.admin_key).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let with = app
        .client
        .post(app.url("/api/v1/assets"))
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::CREATED);
    app.token_claims("/tokens/csrf", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_cross_site_sign_in_form_post_is_refused() {
    let app = app_with_alice().await;

    let res = app
        .client
        .post(app.url("/login"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("username", "alice"), ("password", ALICE_PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&res).is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_non_administrator_gets_403_from_the_api_with_a_key_or_a_session() {
    let app = app_with_alice().await;
    let key = app.create_api_key("alice").await;
    let session = app.login_session("alice", ALICE_PASSWORD).await.unwrap();
    let csrf = app.csrf_token(&session).await;

    for (method, path) in [
        (Method::GET, "/api/v1/assets"),
        (Method::GET, "/api/v1/users"),
        (Method::POST, "/api/v1/users/alice/api-keys"),
        (Method::GET, "/api/v1/audit"),
    ] {
        api_error(
            app.api_as(&key, method.clone(), path, None).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .header(header::COOKIE, format!("jas_session={session}"))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        api_error(res, StatusCode::FORBIDDEN).await;
    }
    let res = app
        .api_as(
            &key,
            Method::POST,
            "/api/v1/assets",
            Some(asset_body("/tokens/mine", SUB_TEMPLATE)),
        )
        .await;
    api_error(res, StatusCode::FORBIDDEN).await;
    assert_empty(
        app.get_token("/tokens/mine", &key).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_api_without_credentials_answers_403_as_json() {
    let app = spawn_app().await;

    let res = app
        .client
        .get(app.url("/api/v1/assets"))
        .send()
        .await
        .unwrap();

    let error = api_error(res, StatusCode::FORBIDDEN).await;
    assert_eq!(error["detail"], "forbidden");
    app.stop().await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_throttle_that_username_with_a_clear_message() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "tom", "password": "tom-password-1"}))
        .await;
    for _ in 0..10 {
        let res = app.post_login("tom", "wrong-password-x", None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password now waits, and the page says why and for how long.
    let res = app.post_login("tom", "tom-password-1", None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    assert!(session_cookie(&res).is_none());
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Too many failed sign-ins for this username. Try again in 15 minutes."),
        "{body}"
    );
    // An unknown username is throttled the same way, so throttling does not reveal who exists.
    for _ in 0..10 {
        app.post_login("nobody-here", "wrong-password-x", None)
            .await;
    }
    assert_eq!(
        app.post_login("nobody-here", "x", None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other usernames are unaffected.
    assert!(app.login_session("admin", ADMIN_PASSWORD).await.is_some());
}
