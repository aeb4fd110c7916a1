//! The people and tool pages of the admin UI: users, API keys, the debugger, the audit log and
//! "my tokens", driven through their HTML forms.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, TestApp, asset_body, location, spawn_app};

async fn get_user(app: &TestApp, username: &str) -> Value {
    let res = app
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/users/{username}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn hs256(claims: Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{sig}")
}

/// The text of the element that follows `marker` up to the next `<`.
fn text_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in page"))
        + marker.len();
    let rest = &html[start..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

#[tokio::test]
async fn an_administrator_creates_a_user_with_the_form() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let res = app
        .post_form(
            &b,
            "/admin/users",
            &[
                ("username", "carol"),
                ("password", "carol-password-1"),
                ("first_name", "Carol"),
                ("last_name", "Jones"),
                ("email", "carol@example.org"),
                ("groups", "staff, ops"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/users/carol?done=user_created");

    let user = get_user(&app, "carol").await;
    assert_eq!(user["attributes"]["first_name"], "Carol");
    assert_eq!(user["attributes"]["email"], "carol@example.org");
    assert_eq!(user["groups"], json!(["staff", "ops"]));
    assert_eq!(user["admin"], false);
    assert!(
        app.login_session("carol", "carol-password-1")
            .await
            .is_some()
    );

    let html = app
        .page_html(&b, "/admin/users/carol?done=user_created")
        .await;
    assert!(html.contains("User created."));
    let list = app.page_html(&b, "/admin/users").await;
    assert!(list.contains("/admin/users/carol"));
    assert!(list.contains("Carol Jones"));
}

#[tokio::test]
async fn a_form_error_keeps_what_was_typed_but_never_the_password() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let res = app
        .post_form(
            &b,
            "/admin/users",
            &[
                ("username", "dave"),
                ("password", "short-pw"),
                ("first_name", "Dave"),
                ("groups", "staff"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("Password must be at least 10 characters long."));
    assert!(html.contains(r#"value="dave""#));
    assert!(html.contains(r#"value="Dave""#));
    assert!(!html.contains("short-pw"), "the password is not sent back");
    let res = app
        .api(reqwest::Method::GET, "/api/v1/users/dave", None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // A taken username is reported at its field.
    let res = app
        .post_form(&b, "/admin/users", &[("username", "ADMIN")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("is taken"));
}

#[tokio::test]
async fn script_in_attributes_and_groups_renders_as_text() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "eve"})).await;
    let b = app.admin_browser().await;
    let res = app
        .post_form(
            &b,
            "/admin/users/eve",
            &[
                ("first_name", "<script>alert(1)</script>"),
                ("email", r#""onmouseover="alert(2)"#),
                ("attributes", "team=<img src=x onerror=alert(3)>\nage=42"),
                ("groups", r#"staff, "onmouseover="alert(4)"#),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let user = get_user(&app, "eve").await;
    assert_eq!(
        user["attributes"]["first_name"],
        "<script>alert(1)</script>"
    );
    assert_eq!(user["attributes"]["team"], "<img src=x onerror=alert(3)>");
    assert_eq!(user["attributes"]["age"], "42");

    for page in ["/admin/users/eve", "/admin/users"] {
        let html = app.page_html(&b, page).await;
        assert!(!html.contains("<script>alert"), "{page}");
        assert!(!html.contains("<img src=x"), "{page}");
        assert!(!html.contains(r#""onmouseover=""#), "{page}");
        assert!(html.contains("&lt;script&gt;alert(1)"), "{page}");
        assert!(html.contains("&quot;onmouseover=&quot;alert(4)"), "{page}");
    }
}

#[tokio::test]
async fn a_bad_attribute_line_is_reported_at_its_line_and_nothing_is_saved() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "fay", "attributes": {"team": "blue"}}))
        .await;
    let b = app.admin_browser().await;
    let res = app
        .post_form(
            &b,
            "/admin/users/fay",
            &[("attributes", "team=red\nno equals sign here")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("Line 2: write name=value."));
    assert!(html.contains(r#"data-error-line="2""#));
    assert!(html.contains("no equals sign here"), "what was typed stays");
    assert_eq!(get_user(&app, "fay").await["attributes"]["team"], "blue");
}

#[tokio::test]
async fn an_api_key_is_shown_once_and_then_only_by_its_prefix() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bot"})).await;
    app.create_asset(asset_body(
        "/bot/token",
        r#"{"sub": "%globals_user_attribute_username%"}"#,
    ))
    .await;
    let b = app.admin_browser().await;
    let res = app
        .post_form(&b, "/admin/users/bot/api-keys", &[("scope_tokens", "on")])
        .await;
    let html = app.shown_once(&b, res).await;
    assert!(html.contains("you won't see it again"));
    let key = text_after(&html, r#"<code id="api-key">"#).to_owned();
    assert!(key.starts_with("jas_"), "{key}");
    let prefix = key[..12].to_owned();

    assert_eq!(
        app.get_token("/bot/token", &key).await.status(),
        StatusCode::OK
    );

    let page = app.page_html(&b, "/admin/users/bot").await;
    assert!(page.contains(&format!("{prefix}…")));
    assert!(!page.contains(&key), "the key is never shown again");
    let keys = crate::helpers::api_items(
        app.api(reqwest::Method::GET, "/api/v1/users/bot/api-keys", None)
            .await,
    )
    .await;
    assert_eq!(keys.len(), 1, "the reload made no key: {keys:?}");
}

#[tokio::test]
async fn revoking_a_key_with_the_form_stops_it_at_once() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bot"})).await;
    app.create_asset(asset_body("/bot/token", r#"{"sub": "x"}"#))
        .await;
    let key = app.create_api_key("bot").await;
    assert_eq!(
        app.get_token("/bot/token", &key).await.status(),
        StatusCode::OK
    );
    let b = app.admin_browser().await;
    let page = app.page_html(&b, "/admin/users/bot").await;
    let action = text_after(&page, r#"action="/admin/users/bot/api-keys/"#);
    let id = action.split('/').next().unwrap().to_owned();

    let res = app
        .post_form(&b, &format!("/admin/users/bot/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/users/bot?done=revoked");
    assert_eq!(
        app.get_token("/bot/token", &key).await.status(),
        StatusCode::FORBIDDEN
    );
    let page = app.page_html(&b, "/admin/users/bot?done=revoked").await;
    assert!(page.contains("API key revoked."));
    assert!(page.contains(">revoked</span>"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_or_from_another_site_is_refused() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "gus", "password": "gus-password-1"}))
        .await;
    let b = app.admin_browser().await;
    let cookie = format!("jas_session={}", b.session);
    for (path, fields) in [
        ("/admin/users", vec![("username", "mallory")]),
        ("/admin/users/gus/disable", vec![]),
        ("/admin/users/gus/api-keys", vec![]),
        (
            "/admin/users/gus/password",
            vec![("password", "evil-password-1")],
        ),
    ] {
        let res = app
            .client
            .post(app.url(path))
            .header(header::COOKIE, &cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} without csrf");

        let mut with_token = fields.clone();
        with_token.push(("csrf", b.csrf.as_str()));
        let res = app
            .client
            .post(app.url(path))
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, "https://evil.example")
            .form(&with_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} cross-site");
    }
    let res = app
        .api(reqwest::Method::GET, "/api/v1/users/mallory", None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let gus = get_user(&app, "gus").await;
    assert_eq!(gus["disabled"], false);
    assert!(app.login_session("gus", "gus-password-1").await.is_some());
    let keys = crate::helpers::api_items(
        app.api(reqwest::Method::GET, "/api/v1/users/gus/api-keys", None)
            .await,
    )
    .await;
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn a_non_admin_is_refused_admin_pages_but_sees_their_own_tokens() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "hal", "password": "hal-password-1", "groups": ["staff"]}))
        .await;
    let mut open = asset_body("/hal/chat", r#"{"sub": "x"}"#);
    open["name"] = json!("Chat <b>for</b> staff");
    open["read"] = json!({"groups": ["staff"]});
    app.create_asset(open).await;
    let mut closed = asset_body("/ops/secret-thing", r#"{"sub": "x"}"#);
    closed["read"] = json!({"groups": ["ops"]});
    app.create_asset(closed).await;

    let b = app.browser("hal", "hal-password-1").await;
    for path in [
        "/admin/users",
        "/admin/users/hal",
        "/admin/debugger",
        "/admin/audit",
    ] {
        assert_eq!(
            app.get_page(&b, path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let res = app
        .post_form(&b, "/admin/users/hal/api-keys", &[("scope_tokens", "on")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let html = app.page_html(&b, "/admin/my-tokens").await;
    let url = app.url("/hal/chat").replace('/', "&#x2F;");
    assert!(html.contains(&url), "the full token URL: {html}");
    assert!(html.contains("Chat &lt;b&gt;for&lt;&#x2F;b&gt; staff"));
    assert!(html.contains("10 min"));
    assert!(
        !html.contains("secret-thing"),
        "assets hal may not read are not listed"
    );
}

#[tokio::test]
async fn pages_ask_a_signed_out_visitor_to_sign_in() {
    let app = spawn_app().await;
    for path in [
        "/admin/my-tokens",
        "/admin/users",
        "/admin/audit?user=admin",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/login?next="), "{path}");
    }
}

#[tokio::test]
async fn the_debugger_explains_a_bad_signature_and_an_expired_token() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(asset_body("/dbg/token", r#"{"sub": "x"}"#))
        .await;
    let id = asset["id"].as_str().unwrap();
    let b = app.admin_browser().await;
    let now = chrono::Utc::now().timestamp();

    let good = hs256(
        json!({"sub": "x", "exp": now + 600}),
        TEST_SECRET.as_bytes(),
    );
    let res = app
        .post_form(
            &b,
            "/admin/debugger",
            &[("token", &good), ("verify", "asset"), ("asset", id)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Signature verified, and the token is valid now."));
    assert!(html.contains(r#"<span class="t-header">"#));

    let forged = hs256(
        json!({"sub": "x", "exp": now + 600}),
        b"not the asset's secret at all!!",
    );
    let res = app
        .post_form(
            &b,
            "/admin/debugger",
            &[
                ("token", &forged),
                ("verify", "asset"),
                ("asset", "/dbg/token"),
            ],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<p class="verdict bad" role="status">Bad signature.</p>"#));

    let expired = hs256(
        json!({"sub": "<script>x</script>", "exp": now - 60}),
        TEST_SECRET.as_bytes(),
    );
    let res = app
        .post_form(
            &b,
            "/admin/debugger",
            &[
                ("token", &expired),
                ("verify", "secret"),
                ("secret", TEST_SECRET),
            ],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("Signature verified, but expired."));
    assert!(html.contains("expired at"));
    assert!(html.contains("&lt;script&gt;x"), "claims are escaped");
    assert!(!html.contains("<script>x"));
    // The pasted secret stays in its own (masked) field for the next try, and nowhere else.
    assert_eq!(html.matches(TEST_SECRET).count(), 1, "{html}");
    assert!(html.contains(&format!(
        "name=\"secret\" type=\"text\" class=\"masked\" value=\"{TEST_SECRET}\""
    )));
    // Automatically, a pasted secret is what the token is verified with.
    let res = app
        .post_form(
            &b,
            "/admin/debugger",
            &[
                ("token", &good),
                ("verify", "auto"),
                ("secret", TEST_SECRET),
            ],
        )
        .await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Signature verified, and the token is valid now.")
    );

    // Decoding alone needs no key; a token that is not a JWT is explained.
    let res = app
        .post_form(
            &b,
            "/admin/debugger",
            &[("token", "not-a-token"), ("verify", "none")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("Cannot decode this token"));
}

#[tokio::test]
async fn disabling_ends_the_users_sessions_and_an_admin_cannot_disable_themselves() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "ivy", "password": "ivy-password-1"}))
        .await;
    let ivy = app.browser("ivy", "ivy-password-1").await;
    let b = app.admin_browser().await;

    let page = app.page_html(&b, "/admin/users/ivy").await;
    assert!(page.contains("Disable user"));
    assert!(
        page.matches("<time datetime").count() >= 3,
        "created + a session"
    );

    let res = app.post_form(&b, "/admin/users/ivy/disable", &[]).await;
    assert_eq!(location(&res), "/admin/users/ivy?done=disabled");
    assert_eq!(
        app.get_page(&ivy, "/admin/my-tokens").await.status(),
        StatusCode::SEE_OTHER,
        "ivy's session ended"
    );
    assert!(app.login_session("ivy", "ivy-password-1").await.is_none());

    let res = app.post_form(&b, "/admin/users/ivy/enable", &[]).await;
    assert_eq!(location(&res), "/admin/users/ivy?done=enabled");
    assert!(app.login_session("ivy", "ivy-password-1").await.is_some());

    let own = app.page_html(&b, "/admin/users/admin").await;
    assert!(own.contains("You cannot disable yourself."));
    let res = app.post_form(&b, "/admin/users/admin/disable", &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(get_user(&app, "admin").await["disabled"], false);
}

#[tokio::test]
async fn a_password_reset_and_end_sessions_sign_the_user_out() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "jo", "password": "jo-password-111"}))
        .await;
    let b = app.admin_browser().await;

    let jo = app.browser("jo", "jo-password-111").await;
    let res = app.post_form(&b, "/admin/users/jo/sessions/end", &[]).await;
    assert_eq!(location(&res), "/admin/users/jo?done=sessions_ended");
    assert_eq!(
        app.get_page(&jo, "/admin/my-tokens").await.status(),
        StatusCode::SEE_OTHER
    );

    let jo = app.browser("jo", "jo-password-111").await;
    let res = app
        .post_form(&b, "/admin/users/jo/password", &[("password", "short")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("at least 10 characters"));
    let res = app
        .post_form(
            &b,
            "/admin/users/jo/password",
            &[("password", "jo-new-password-2")],
        )
        .await;
    assert_eq!(location(&res), "/admin/users/jo?done=password");
    assert_eq!(
        app.get_page(&jo, "/admin/my-tokens").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(app.login_session("jo", "jo-password-111").await.is_none());
    assert!(app.login_session("jo", "jo-new-password-2").await.is_some());
}

#[tokio::test]
async fn the_audit_page_lists_events_newest_first_and_filters_by_user_and_asset() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "kim"})).await;
    let key = app.create_api_key("kim").await;
    app.create_asset(asset_body("/a/one", r#"{"sub": "x"}"#))
        .await;
    app.create_asset(asset_body("/a/two", r#"{"sub": "x"}"#))
        .await;
    assert_eq!(app.get_token("/a/one", &key).await.status(), StatusCode::OK);
    assert_eq!(app.get_token("/a/two", &key).await.status(), StatusCode::OK);
    let b = app.admin_browser().await;

    let all = app.page_html(&b, "/admin/audit").await;
    let two = all.find("&#x2F;a&#x2F;two").expect("/a/two listed");
    let create = all
        .find("<code>asset.create</code>")
        .expect("asset.create listed");
    assert!(two < create, "newest first");

    let html = app
        .page_html(&b, "/admin/audit?user=kim&asset=%2Fa%2Fone")
        .await;
    assert_eq!(html.matches("<code>token.issue</code>").count(), 1);
    assert!(!html.contains("<code>asset.create</code>"));
    assert!(!html.contains(&key), "never a credential");

    let none = app.page_html(&b, "/admin/audit?user=nobody").await;
    assert!(none.contains("No events match these filters."));
}

#[tokio::test]
async fn the_audit_page_filters_by_prefix_action_and_day_and_names_what_an_edit_changed() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    app.create_user(json!({"username": "alan"})).await;
    let key = app.create_api_key("alice").await;
    let created = app
        .create_asset(asset_body("/chat/one", r#"{"sub": "x"}"#))
        .await;
    assert_eq!(
        app.get_token("/chat/one", &key).await.status(),
        StatusCode::OK
    );
    let mut body = asset_body("/chat/one", r#"{"sub": "y"}"#);
    body["name"] = json!("Renamed");
    body["secret"] = json!("a-different-secret-0123456789abcdef");
    body["version"] = created["version"].clone();
    let res = app
        .api(
            reqwest::Method::PUT,
            &format!("/api/v1/assets/{}", created["id"].as_str().unwrap()),
            Some(body),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let b = app.admin_browser().await;

    // "ali" finds alice's token, not alan.
    let html = app.page_html(&b, "/admin/audit?user=ali").await;
    assert_eq!(
        html.matches("<code>token.issue</code>").count(),
        1,
        "{html}"
    );
    assert!(html.contains("title=\"Only events by alice\""));
    assert!(!html.contains("Only events by alan"));
    // An action family, and the fields an edit changed (never the secret itself).
    let html = app
        .page_html(&b, "/admin/audit?action=asset&asset=%2Fch")
        .await;
    assert!(html.contains("<code>asset.create</code>"));
    assert!(html.contains("changed name, secret, template"), "{html}");
    assert!(!html.contains("a-different-secret"));
    assert!(!html.contains("<code>token.issue</code>"));
    let html = app.page_html(&b, "/admin/audit?action=asset.update").await;
    assert_eq!(html.matches("<code>asset.update</code>").count(), 1);
    // Days, in UTC: today has everything, yesterday nothing.
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let html = app
        .page_html(&b, &format!("/admin/audit?from={today}&to={today}"))
        .await;
    assert!(html.contains("<code>asset.update</code>"));
    let html = app
        .page_html(&b, &format!("/admin/audit?to={yesterday}"))
        .await;
    assert!(html.contains("No events match these filters."), "{html}");
    // A day that is not a day, or a range that ends before it starts, is explained.
    let res = app.get_page(&b, "/admin/audit?from=yesterday").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("From: enter a day as YYYY-MM-DD")
    );
    let res = app
        .get_page(&b, &format!("/admin/audit?from={today}&to={yesterday}"))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("To is before From"));
    // The links of a row match that user exactly.
    let html = app.page_html(&b, "/admin/audit?user=alice&exact=1").await;
    assert!(html.contains("(now: exactly)"));
}

#[tokio::test]
async fn a_profile_edit_shows_in_the_very_next_token_with_a_key_and_with_a_session() {
    // Token requests keep users, keys and sessions in memory: an edit must reach the next token.
    let app = spawn_app().await;
    app.create_user(json!({
        "username": "erin", "password": "erin-password-1",
        "attributes": {"first_name": "Erin"}, "groups": ["staff"]
    }))
    .await;
    let key = app.create_api_key("erin").await;
    let session = app.login_session("erin", "erin-password-1").await.unwrap();
    let mut body = asset_body(
        "/tokens/staff",
        r#"{"sub": "%globals_user_attribute_username%", "given_name": "%globals_user_attribute_first_name%", "groups": %globals_user_groups%}"#,
    );
    body["read"] = json!({"groups": ["staff"]});
    app.create_asset(body).await;
    for _ in 0..3 {
        let claims = app
            .token_claims("/tokens/staff", &key, TEST_SECRET.as_bytes())
            .await;
        assert_eq!(claims["given_name"], "Erin");
        let res = app.get_token_with_session("/tokens/staff", &session).await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    let b = app.admin_browser().await;
    let res = app
        .post_form(
            &b,
            "/admin/users/erin",
            &[("first_name", "Erin-Marie"), ("groups", "staff, ops")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let claims = app
        .token_claims("/tokens/staff", &key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["given_name"], "Erin-Marie");
    assert_eq!(claims["groups"], json!(["staff", "ops"]));
    let res = app.get_token_with_session("/tokens/staff", &session).await;
    let (_, claims) = crate::helpers::verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["given_name"], "Erin-Marie");

    // Out of the group: refused at once, by key and by session.
    let res = app
        .post_form(
            &b,
            "/admin/users/erin",
            &[("first_name", "Erin-Marie"), ("groups", "ops")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_token("/tokens/staff", &key).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get_token_with_session("/tokens/staff", &session)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn the_users_page_shows_fifty_at_a_time_and_finds_users_by_the_start_of_their_name() {
    let app = spawn_app().await;
    for i in 0..60 {
        app.create_user(json!({"username": format!("user{i:02}")}))
            .await;
    }
    app.create_user(json!({"username": "Zed.Last"})).await;
    let b = app.admin_browser().await;

    // admin + 60 + 1 = 62 users: 50 on the first page, in case-folded username order.
    let first = app.page_html(&b, "/admin/users").await;
    assert!(first.contains("/admin/users/admin\""));
    assert!(first.contains("/admin/users/user48\""));
    assert!(!first.contains("/admin/users/user49\""));
    assert!(first.contains("50 users, admin to user48"));
    let next = text_after(&first, "rel=\"next\" href=\"").replace("&#x2F;", "/");
    assert_eq!(next, "/admin/users?after=user48\">Next &rarr;");
    let second = app.page_html(&b, "/admin/users?after=user48").await;
    assert!(second.contains("/admin/users/user49\""));
    assert!(second.contains("/admin/users/Zed.Last\""));
    assert!(second.contains("12 users, user49 to Zed.Last"));
    assert!(!second.contains("/admin/users/user48\""));
    assert!(!second.contains("rel=\"next\""));
    assert!(second.contains("href=\"&#x2F;admin&#x2F;users\">&larr; First page"));

    // A prefix search, case-insensitive, with its own paging links.
    let found = app.page_html(&b, "/admin/users?q=USER5").await;
    for i in 50..60 {
        assert!(
            found.contains(&format!("/admin/users/user{i}\"")),
            "user{i}"
        );
    }
    assert!(!found.contains("/admin/users/user49\""));
    assert!(found.contains("10 users whose username starts with “USER5”"));
    let none = app.page_html(&b, "/admin/users?q=nobody").await;
    assert!(none.contains("No users whose username starts with “nobody”"));
    // Odd input is only text: no error, no markup.
    let odd = app
        .page_html(&b, "/admin/users?q=%3Cb%3E&after=%22%3E")
        .await;
    assert!(odd.contains("&lt;b&gt;"));
    assert!(!odd.contains("<b>"));
    app.stop().await;
}

#[tokio::test]
async fn the_groups_page_lists_groups_without_regard_to_case_and_a_group_its_members() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "groups": ["Staff", "ops"]}))
        .await;
    app.create_user(json!({"username": "carol", "groups": ["staff"]}))
        .await;
    app.create_user(json!({"username": "dave", "groups": ["ops"]}))
        .await;
    app.create_user(json!({"username": "erin", "password": "erin-password-1"}))
        .await;
    app.disable_user("dave").await;
    let b = app.admin_browser().await;

    let html = app.page_html(&b, "/admin/groups").await;
    assert!(html.contains("2 groups"), "{html}");
    // One row per group, named as its first member writes it, counted across spellings.
    let staff_row = &html[html
        .find(r#"href="/admin/groups/Staff""#)
        .expect("a Staff row")..];
    let staff_row = &staff_row[..staff_row.find("</tr>").unwrap()];
    assert!(staff_row.contains("<td>2</td>"), "{staff_row}");
    assert!(
        staff_row.contains(r#"<span class="badge">staff</span>"#),
        "{staff_row}"
    );
    let ops_row = &html[html
        .find(r#"href="/admin/groups/ops""#)
        .expect("an ops row")..];
    let ops_row = &ops_row[..ops_row.find("</tr>").unwrap()];
    assert!(
        ops_row.contains("2 <span class=\"muted\">(1 disabled)</span>"),
        "{ops_row}"
    );

    let members = app.page_html(&b, "/admin/groups/STAFF").await;
    assert!(members.contains("2 members"), "{members}");
    assert!(members.contains(r#"href="/admin/users/bob""#));
    assert!(members.contains(r#"href="/admin/users/carol""#));
    assert!(!members.contains(r#"href="/admin/users/dave""#));
    // The users list links each group to its page.
    let users = app.page_html(&b, "/admin/users").await;
    assert!(
        users.contains(r#"<a class="badge" href="/admin/groups/ops">ops</a>"#),
        "{users}"
    );

    // A group nobody holds does not exist.
    let res = app.get_page(&b, "/admin/groups/nobody-here").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Only administrators see groups.
    let erin = app.browser("erin", "erin-password-1").await;
    assert_eq!(
        app.get_page(&erin, "/admin/groups").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get_page(&erin, "/admin/suggest?field=users&q=")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_rule_fields_suggest_users_and_groups_by_prefix() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "groups": ["Support", "ops"]}))
        .await;
    app.create_user(json!({"username": "bobby", "groups": ["support-eu"]}))
        .await;
    app.create_user(json!({"username": "carol", "groups": ["staff"]}))
        .await;
    let b = app.admin_browser().await;
    let names = |path: &'static str| {
        let app = &app;
        let b = &b;
        async move {
            let res = app.get_page(b, path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
            res.json::<Vec<String>>().await.unwrap()
        }
    };
    assert_eq!(
        names("/admin/suggest?field=users&q=BO").await,
        ["bob", "bobby"]
    );
    assert_eq!(
        names("/admin/suggest?field=users&q=z").await,
        Vec::<String>::new()
    );
    assert_eq!(
        names("/admin/suggest?field=groups&q=sup").await,
        ["Support", "support-eu"]
    );
    assert_eq!(
        names("/admin/suggest?field=groups&q=").await,
        ["ops", "staff", "Support", "support-eu"]
    );
    let res = app.get_page(&b, "/admin/suggest?field=secrets&q=").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_user_is_deleted_from_their_page_but_not_yourself() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "gone"})).await;
    let key = app.create_api_key("gone").await;
    let b = app.admin_browser().await;
    let page = app.page_html(&b, "/admin/users/gone").await;
    assert!(
        page.contains("/admin/users/gone/delete"),
        "the page offers it"
    );
    let res = app.post_form(&b, "/admin/users/gone/delete", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/users?done=user_deleted");
    let list = app.page_html(&b, "/admin/users?done=user_deleted").await;
    assert!(list.contains("User deleted"), "the notice");
    let res = app
        .api(reqwest::Method::GET, "/api/v1/users/gone", None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .api_as(&key, reqwest::Method::GET, "/api/v1/assets", None)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the key went with the user"
    );
    // Yourself: not offered, and refused.
    let own = app.page_html(&b, "/admin/users/admin").await;
    assert!(!own.contains("/admin/users/admin/delete"));
    let res = app.post_form(&b, "/admin/users/admin/delete", &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(get_user(&app, "admin").await["username"], "admin");
    app.stop().await;
}
