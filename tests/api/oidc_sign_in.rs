//! Upstream sign-in through a real OpenID provider (panva's `oidc-provider`, tests/oidc/): the
//! authorization code flow with PKCE, state and nonce, followed over HTTP as a browser would
//! (the provider's own login form included); every forged ID token refused; key rotation;
//! accounts found by (issuer, sub), never merged by e-mail; provisioning; upstream only.

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_PASSWORD, TEST_SECRET as SECRET, TestApp, asset_body, location, session_cookie,
    spawn_app, verify_hs,
};
use crate::oidc::{PASSWORD, Provider};

/// A provider and a server that knows it as `corp` (groups from the `groups` claim).
async fn setup(extra: Value) -> Option<(Provider, TestApp)> {
    let provider = Provider::start().await?;
    let app = spawn_app().await;
    add_provider(&provider, &app, "corp", extra).await;
    Some((provider, app))
}

async fn add_provider(provider: &Provider, app: &TestApp, id: &str, extra: Value) {
    let client = provider
        .register_client_with(json!({
            "redirect_uris": [format!("{}/login/oidc/{id}/callback", app.address)],
            "post_logout_redirect_uris": [format!("{}/login", app.address)],
        }))
        .await;
    let mut body = json!({
        "id": id,
        "name": "Corp ID",
        "issuer": provider.issuer(),
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "scopes": ["openid", "profile", "email", "groups"],
        "groups_claim": "groups",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app
        .api(Method::POST, "/api/v1/identity-providers", Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
}

/// The browser's trip: `/login/oidc/{id}` → the provider's login form → back; the callback URL
/// (not yet requested) and the pending cookie.
async fn to_callback(
    app: &TestApp,
    provider: &Provider,
    login: &str,
    next: Option<&str>,
) -> (String, String) {
    let path = match next {
        Some(n) => format!("/login/oidc/corp?next={}", urlencode(n)),
        None => "/login/oidc/corp".to_owned(),
    };
    let res = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    let cookie = pending_cookie(&res).expect("a pending sign-in cookie");
    let authorize = location(&res);
    assert!(authorize.starts_with(provider.issuer()), "{authorize}");
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
    ] {
        assert!(authorize.contains(part), "{part} missing in {authorize}");
    }
    let callback = provider
        .sign_in(&authorize, login, PASSWORD)
        .await
        .expect("signs in at the provider");
    assert!(
        callback.starts_with(&app.url("/login/oidc/corp/callback?")),
        "{callback}"
    );
    (callback, cookie)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The pending sign-in cookie a response sets, as `name=value`.
fn pending_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let pair = v.split(';').next()?;
            (pair.starts_with("jas_oidc_") && !pair.ends_with('=')).then(|| pair.to_owned())
        })
}

async fn finish(app: &TestApp, callback: &str, cookie: Option<&str>) -> Response {
    let mut req = app.client.get(callback);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.send().await.unwrap()
}

/// A whole sign-in; the session id.
async fn sign_in(app: &TestApp, provider: &Provider, login: &str) -> String {
    let (callback, cookie) = to_callback(app, provider, login, None).await;
    let res = finish(app, &callback, Some(&cookie)).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    session_cookie(&res).expect("a session")
}

/// A refused callback: the status, no session, the page's text (never the code or state).
async fn refused(res: Response, status: StatusCode, callback: &str) -> String {
    assert_eq!(res.status(), status);
    assert!(session_cookie(&res).is_none());
    let html = res.text().await.unwrap();
    let query = callback.split_once('?').unwrap().1;
    for pair in query.split('&') {
        let value = pair.split_once('=').unwrap().1;
        if value.len() > 16 {
            assert!(!html.contains(value), "the page shows a code or state");
        }
    }
    html
}

/// A callback with its pending cookie, refused with `status`: the page's text.
async fn refused_at(app: &TestApp, callback: &str, cookie: &str, status: StatusCode) -> String {
    refused(finish(app, callback, Some(cookie)).await, status, callback).await
}

async fn user(app: &TestApp, name: &str) -> Value {
    let res = app
        .api(Method::GET, &format!("/api/v1/users/{name}"), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_person_signs_in_upstream_and_gets_a_token_with_their_claims() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    app.create_asset(asset_body(
        "/t/chat",
        r#"{"sub": %globals_user_attribute_username^json_encode%, "first": %globals_user_attribute_first_name^json_encode%, "email": %globals_user_attribute_email^json_encode%, "groups": %globals_user_groups^json_encode%}"#,
    ))
    .await;
    // A link to a token URL works for someone not signed in yet: they come back to it.
    let (callback, cookie) = to_callback(&app, &provider, "alice", Some("/t/chat")).await;
    let res = finish(&app, &callback, Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/chat");
    let session = session_cookie(&res).expect("a session");
    let token = app.get_token_with_session("/t/chat", &session).await;
    assert_eq!(token.status(), StatusCode::OK);
    let (_, claims) = verify_hs(&token.text().await.unwrap(), SECRET.as_bytes());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["first"], "Alice");
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["groups"], json!(["dev", "staff"]));

    // The account says where it comes from; a second sign-in finds the same account.
    let alice = user(&app, "alice").await;
    assert_eq!(alice["source"], "corp");
    assert_eq!(alice["upstream_subject"], "sub-alice-0001");
    assert_eq!(alice["has_password"], false);
    sign_in(&app, &provider, "alice").await;
    assert_eq!(user(&app, "alice").await["id"], alice["id"]);
    let users: Vec<Value> =
        crate::helpers::api_items(app.api(Method::GET, "/api/v1/users", None).await).await;
    assert_eq!(users.len(), 2, "admin and alice only: {users:?}");

    // The sign-in page offers the provider.
    let page = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Corp ID"), "{page}");
    assert!(
        page.replace("&#x2F;", "/")
            .contains(r#"href="/login/oidc/corp""#),
        "{page}"
    );
}

#[tokio::test]
async fn the_state_works_once_and_only_in_the_browser_that_started() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    // Another browser (no pending cookie) cannot finish this sign-in.
    let (callback, cookie) = to_callback(&app, &provider, "alice", None).await;
    let html = refused(
        finish(&app, &callback, None).await,
        StatusCode::BAD_REQUEST,
        &callback,
    )
    .await;
    assert!(html.contains("expired or was already used"), "{html}");
    // A wrong state.
    let state = callback
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let wrong = callback.replace(state, "not-the-state");
    refused_at(&app, &wrong, &cookie, StatusCode::BAD_REQUEST).await;
    // The right one works once; its replay never reaches the provider.
    let res = finish(&app, &callback, Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let exchanged = provider.token_requests().await;
    refused_at(&app, &callback, &cookie, StatusCode::BAD_REQUEST).await;
    assert_eq!(provider.token_requests().await, exchanged);
}

#[tokio::test]
async fn a_replayed_code_is_refused_by_the_provider() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    let (first, cookie) = to_callback(&app, &provider, "alice", None).await;
    assert_eq!(
        finish(&app, &first, Some(&cookie)).await.status(),
        StatusCode::SEE_OTHER
    );
    // A fresh sign-in's state, with the spent code.
    let (second, cookie) = to_callback(&app, &provider, "alice", None).await;
    let code = |url: &str| {
        url.split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let replay = second.replace(&code(&second), &code(&first));
    let html = refused_at(&app, &replay, &cookie, StatusCode::FORBIDDEN).await;
    assert!(html.contains("could not be verified"), "{html}");
}

#[tokio::test]
async fn every_forged_id_token_is_refused() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    for kind in [
        "other_issuer",
        "other_audience",
        "expired",
        "wrong_nonce",
        "alg_none",
        "hs256_public_key",
        "bad_signature",
        "unknown_kid",
    ] {
        let (callback, cookie) = to_callback(&app, &provider, "alice", None).await;
        provider.tamper(kind).await;
        let html = refused_at(&app, &callback, &cookie, StatusCode::FORBIDDEN).await;
        assert!(html.contains("could not be verified"), "{kind}: {html}");
    }
    // Nothing was created on the way, and an honest sign-in still works.
    let res = app.api(Method::GET, "/api/v1/users/alice", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    sign_in(&app, &provider, "alice").await;
}

#[tokio::test]
async fn sign_in_keeps_working_when_the_provider_rotates_its_key() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    sign_in(&app, &provider, "alice").await;
    provider.rotate_key().await;
    sign_in(&app, &provider, "bob").await;
    sign_in(&app, &provider, "alice").await;
}

#[tokio::test]
async fn accounts_are_never_merged_by_name_or_email() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    // A local dave with the same e-mail as upstream carol and dave.
    app.create_user(json!({
        "username": "dave",
        "password": "local-dave-password",
        "attributes": {"email": "shared@example.org"},
    }))
    .await;
    let carol = sign_in(&app, &provider, "carol").await;
    assert!(!carol.is_empty());
    assert_eq!(user(&app, "carol").await["source"], "corp");
    // Upstream dave is someone else than local dave: refused, not merged.
    let (callback, cookie) = to_callback(&app, &provider, "dave", None).await;
    let html = refused_at(&app, &callback, &cookie, StatusCode::FORBIDDEN).await;
    assert!(html.contains("already taken by another account"), "{html}");
    let dave = user(&app, "dave").await;
    assert_eq!(dave["source"], "local");
    assert_eq!(dave["has_password"], true);
    assert!(
        app.login_session("dave", "local-dave-password")
            .await
            .is_some()
    );
    // An upstream username that is not a valid username here: a clear refusal.
    let (callback, cookie) = to_callback(&app, &provider, "badname", None).await;
    let html = refused_at(&app, &callback, &cookie, StatusCode::FORBIDDEN).await;
    assert!(html.contains("not a valid username here"), "{html}");
}

#[tokio::test]
async fn existing_provisioning_admits_only_accounts_an_admin_linked() {
    let Some((provider, app)) = setup(json!({"provisioning": "existing"})).await else {
        return;
    };
    let attempt = |login: &'static str| {
        let (app, provider) = (&app, &provider);
        async move {
            let (callback, cookie) = to_callback(app, provider, login, None).await;
            let res = finish(app, &callback, Some(&cookie)).await;
            (res, callback)
        }
    };
    let (res, callback) = attempt("bob").await;
    let html = refused(res, StatusCode::FORBIDDEN, &callback).await;
    assert!(html.contains("no account here for you"), "{html}");
    // Created but not linked: still not bob's.
    app.create_user(json!({"username": "bob", "groups": ["old"]}))
        .await;
    let (res, callback) = attempt("bob").await;
    refused(res, StatusCode::FORBIDDEN, &callback).await;
    let link = |name: &'static str, body: Value| {
        let app = &app;
        async move {
            app.api(
                Method::PUT,
                &format!("/api/v1/users/{name}/upstream"),
                Some(body),
            )
            .await
        }
    };
    // Linked, waiting: whoever has the name at the provider is not enough — the account's
    // e-mail must be the person's verified one.
    assert_eq!(
        link("bob", json!({"provider": "corp"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(user(&app, "bob").await["source"], "corp");
    let (res, callback) = attempt("bob").await;
    let html = refused(res, StatusCode::FORBIDDEN, &callback).await;
    assert!(html.contains("verified e-mail"), "{html}");
    assert_eq!(user(&app, "bob").await["upstream_subject"], Value::Null);
    // With the e-mail on the account, bob's first sign-in completes the link.
    set_email(&app, "bob", "BOB@example.org").await;
    sign_in(&app, &provider, "bob").await;
    let bob = user(&app, "bob").await;
    assert_eq!(bob["upstream_subject"], "sub-bob-0002");
    assert_eq!(
        bob["groups"],
        json!(["staff"]),
        "groups refreshed from the claim"
    );
    assert_eq!(bob["attributes"]["last_name"], "Builder");
    // Linked by subject, the link is complete at once (no e-mail needed).
    app.create_user(json!({"username": "alice"})).await;
    let res = link(
        "alice",
        json!({"provider": "corp", "subject": "sub-alice-0001"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        user(&app, "alice").await["upstream_subject"],
        "sub-alice-0001"
    );
    sign_in(&app, &provider, "alice").await;
    // Unlinked, the person is out again.
    assert_eq!(
        link("alice", json!({"provider": null})).await.status(),
        StatusCode::OK
    );
    let (res, callback) = attempt("alice").await;
    refused(res, StatusCode::FORBIDDEN, &callback).await;
}

/// Set a user's e-mail attribute through the admin form.
async fn set_email(app: &TestApp, name: &str, email: &str) {
    let admin = app.admin_browser().await;
    let res = app
        .post_form(
            &admin,
            &format!("/admin/users/{name}"),
            &[
                ("first_name", ""),
                ("last_name", ""),
                ("email", email),
                ("attributes", ""),
                ("groups", ""),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
}

#[tokio::test]
async fn a_provider_that_is_down_gets_a_clear_page_and_local_admins_still_sign_in() {
    let Some((mut provider, app)) = setup(json!({})).await else {
        return;
    };
    // Down between the person's sign-in there and the code exchange.
    let (callback, cookie) = to_callback(&app, &provider, "alice", None).await;
    provider.stop().await;
    let html = refused_at(&app, &callback, &cookie, StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("cannot be reached"), "{html}");
    assert!(app.login_session("admin", ADMIN_PASSWORD).await.is_some());
    // A server that has not read the provider's discovery yet.
    let other = spawn_app().await;
    let res = other
        .api(
            Method::POST,
            "/api/v1/identity-providers",
            Some(json!({"id": "corp", "issuer": provider.issuer(), "client_id": "x", "client_secret": "y"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = other
        .client
        .get(other.url("/login/oidc/corp"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(res.text().await.unwrap().contains("cannot be reached"));
    provider.restart().await;
    sign_in(&app, &provider, "alice").await;
}

#[tokio::test]
async fn upstream_only_turns_passwords_off_except_for_break_glass_admins() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    app.create_user(json!({"username": "carl", "password": "carl-local-password"}))
        .await;
    let set = |body: Value| app.api(Method::PUT, "/api/v1/sign-in-policy", Some(body));
    let res = set(json!({"upstream_only": true})).await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "no break-glass admin: refused"
    );
    let res = set(json!({"upstream_only": true, "break_glass": ["carl"]})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "carl is no admin");
    let res = set(json!({"upstream_only": true, "break_glass": ["admin"]})).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let res = app.post_login("carl", "carl-local-password", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&res).is_none());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Passwords are turned off")
    );
    // A wrong password still says only that.
    let res = app.post_login("carl", "wrong-password-x", None).await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    assert!(app.login_session("admin", ADMIN_PASSWORD).await.is_some());
    sign_in(&app, &provider, "alice").await;
    set(json!({"upstream_only": false})).await;
    assert!(
        app.login_session("carl", "carl-local-password")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn next_is_followed_only_within_this_server() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let (callback, cookie) = to_callback(&app, &provider, "alice", Some(evil)).await;
        let res = finish(&app, &callback, Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/admin", "{evil}");
    }
}

#[tokio::test]
async fn providers_are_managed_over_the_api_without_showing_the_secret() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    let list = app
        .api(Method::GET, "/api/v1/identity-providers", None)
        .await;
    assert_eq!(list.status(), StatusCode::OK);
    let text = list.text().await.unwrap();
    let listed: Value = serde_json::from_str::<Value>(&text).unwrap()["items"].clone();
    assert_eq!(listed[0]["id"], "corp");
    assert_eq!(listed[0]["client_secret_set"], true);
    assert_eq!(listed[0]["redirect_path"], "/login/oidc/corp/callback");
    assert!(!text.contains("client_secret\""), "{text}");
    let dup = app
        .api(
            Method::POST,
            "/api/v1/identity-providers",
            Some(json!({"id": "corp", "issuer": provider.issuer(), "client_id": "a", "client_secret": "b"})),
        )
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let bad = app
        .api(
            Method::POST,
            "/api/v1/identity-providers",
            Some(json!({"id": "Bad Id", "issuer": "http://idp.example.org", "client_id": ""})),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let message = bad.json::<Value>().await.unwrap().to_string();
    for field in ["id", "issuer", "client_id", "client_secret"] {
        assert!(
            message.contains(&format!("{field}:")),
            "{field} in {message}"
        );
    }
    // An update without a secret keeps the stored one: sign-in still works.
    let res = app
        .api(
            Method::PUT,
            "/api/v1/identity-providers/corp",
            Some(json!({"id": "corp", "name": "Corp SSO", "issuer": provider.issuer(), "client_id": listed[0]["client_id"], "scopes": ["openid", "profile", "email", "groups"], "groups_claim": "groups"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    sign_in(&app, &provider, "alice").await;
    let res = app
        .api(Method::DELETE, "/api/v1/identity-providers/corp", None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .client
        .get(app.url("/login/oidc/corp"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Managing providers is for administrators only.
    let key = app.create_api_key("alice").await;
    let res = app
        .client
        .get(app.url("/api/v1/identity-providers"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_out_can_end_the_upstream_session_too() {
    let Some((provider, app)) = setup(json!({"end_upstream_session": true})).await else {
        return;
    };
    let session = sign_in(&app, &provider, "alice").await;
    let res = app
        .client
        .post(app.url("/logout"))
        .header(header::COOKIE, format!("jas_session={session}"))
        .header(header::ORIGIN, app.address.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(
        to.starts_with(&format!("{}/session/end?client_id=", provider.issuer())),
        "{to}"
    );
    assert!(to.contains("post_logout_redirect_uri="), "{to}");
    // The local session is over.
    let res = app
        .get_token_with_session("/api/v1/session", &session)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A session opened with a password ends here only, even for an account linked to the
    // provider.
    let res = app
        .api(
            Method::PUT,
            "/api/v1/users/alice/password",
            Some(json!({"password": "alice-local-password"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let session = app
        .login_session("alice", "alice-local-password")
        .await
        .expect("a password session");
    let res = app
        .client
        .post(app.url("/logout"))
        .header(header::COOKIE, format!("jas_session={session}"))
        .header(header::ORIGIN, app.address.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/login");
}

#[tokio::test]
async fn the_same_name_and_email_at_another_provider_is_someone_else() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    let Some(other) = Provider::start().await else {
        return;
    };
    add_provider(&other, &app, "other", json!({})).await;
    sign_in(&app, &provider, "alice").await;
    let alice = user(&app, "alice").await;
    // alice at the other provider has the same username and e-mail: a different person here.
    let res = app
        .client
        .get(app.url("/login/oidc/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = pending_cookie(&res).unwrap();
    let callback = other
        .sign_in(&location(&res), "alice", PASSWORD)
        .await
        .unwrap();
    let html = refused_at(&app, &callback, &cookie, StatusCode::FORBIDDEN).await;
    assert!(html.contains("already taken by another account"), "{html}");
    let after = user(&app, "alice").await;
    assert_eq!(after["id"], alice["id"]);
    assert_eq!(after["source"], "corp");
    assert_eq!(after["upstream_subject"], "sub-alice-0001");
}

#[tokio::test]
async fn sign_ins_in_two_tabs_both_finish() {
    let Some((provider, app)) = setup(json!({})).await else {
        return;
    };
    let (first, first_cookie) = to_callback(&app, &provider, "alice", None).await;
    let (second, second_cookie) = to_callback(&app, &provider, "alice", None).await;
    assert_ne!(first_cookie, second_cookie);
    // The browser holds both cookies; each callback finds its own.
    let both = format!("{first_cookie}; {second_cookie}");
    for callback in [&second, &first] {
        let res = finish(&app, callback, Some(&both)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(session_cookie(&res).is_some());
    }
    // A callback whose query is not what a provider sends gets the page, not a bare 400.
    let res = finish(&app, &format!("{first}&state=twice"), Some(&both)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
}
