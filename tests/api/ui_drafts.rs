//! The asset form when its session has ended or it comes from an earlier session: what was
//! typed is never silently lost, and nothing is saved without the admin saving it again.

use reqwest::{Response, StatusCode, header};
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, Browser, TestApp, asset_body, spawn_app};

const TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;
const EDITED: &str = r#"{"sub": "%globals_user_attribute_username%", "edited": true}"#;
const TYPED_SECRET: &str = "a-new-secret-typed-just-before-it-expired-0123";

/// The value of the hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Post a form as this site's page does (same origin), with whatever cookie `session` is.
async fn post_from_page(
    app: &TestApp,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    app.client
        .post(app.url(path))
        .header(header::COOKIE, format!("jas_session={session}"))
        .header("sec-fetch-site", "same-origin")
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn stored(app: &TestApp, id: &str) -> Value {
    app.get_asset(id).await
}

#[tokio::test]
async fn an_edit_saved_after_the_session_ended_comes_back_after_signing_in_again() {
    let app = spawn_app().await;
    let created: Value = app.create_asset(asset_body("/chat", TEMPLATE)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let a = app.admin_browser().await;
    let edit = format!("/admin/assets/{id}");
    // The session ends while the form is open.
    assert!(app.post_logout(&a.session).await.status().is_redirection());

    let fields = [
        ("csrf", a.csrf.as_str()),
        ("name", "Chat, renamed"),
        ("path", "/chat"),
        ("algorithm", "HS256"),
        ("secret", TYPED_SECRET),
        ("template", EDITED),
        ("expiry_seconds", "600"),
        ("read_mode", "anyone"),
        ("version", "1"),
    ];
    let res = post_from_page(&app, &a.session, &edit, &fields).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the sign-in page, not a redirect"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Your session ended before this was saved"),
        "{page}"
    );
    assert!(page.contains("Secrets and private keys you typed are not kept"));
    assert!(!page.contains(TYPED_SECRET), "the secret is not carried");
    assert!(
        !page.contains("renamed"),
        "the changes travel sealed, not as text"
    );
    let draft = hidden(&page, "draft");
    assert_eq!(hidden(&page, "next"), edit.replace('/', "&#x2F;"));
    assert_eq!(
        stored(&app, &id).await["name"],
        "Asset at /chat",
        "nothing saved"
    );

    // A wrong password keeps the changes on the page.
    let res = post_from_page(
        &app,
        "",
        "/login",
        &[
            ("username", "admin"),
            ("password", "wrong"),
            ("next", &edit),
            ("draft", &draft),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(hidden(&res.text().await.unwrap(), "draft"), draft);

    // Signing in leads back to the form with what was typed, not saved.
    let res = post_from_page(
        &app,
        "",
        "/login",
        &[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", &edit),
            ("draft", &draft),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = crate::helpers::session_cookie(&res).expect("a new session");
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("action=\"{}\"", edit.replace('/', "&#x2F;"))),
        "{page}"
    );
    assert!(page.contains("src=\"/static/autopost.js\""));
    let csrf = hidden(&page, "csrf");
    assert_eq!(hidden(&page, "restore_draft"), draft);
    let res = post_from_page(
        &app,
        &session,
        &edit,
        &[("csrf", &csrf), ("restore_draft", &draft)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("These are the changes you typed before your session ended"),
        "{page}"
    );
    assert!(page.contains("value=\"Chat, renamed\""), "{page}");
    assert!(page.contains("&quot;edited&quot;: true"), "{page}");
    assert!(!page.contains(TYPED_SECRET));
    assert_eq!(
        stored(&app, &id).await["name"],
        "Asset at /chat",
        "still not saved"
    );

    // Saving it now works (the version typed is still the stored one).
    let b = Browser { session, csrf };
    let mut fields = fields.to_vec();
    fields.retain(|(k, _)| *k != "csrf" && *k != "secret");
    let res = app.post_form(&b, &edit, &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored(&app, &id).await["name"], "Chat, renamed");

    // The sealed changes open only for their own form.
    let other: Value = app.create_asset(asset_body("/other", TEMPLATE)).await;
    let other_edit = format!("/admin/assets/{}", other["id"].as_str().unwrap());
    let res = app
        .post_form(&b, &other_edit, &[("restore_draft", draft.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("could not be brought back"), "{page}");
    assert!(!page.contains("Chat, renamed"));
}

#[tokio::test]
async fn a_new_asset_posted_after_the_session_ended_is_kept_too_but_never_from_another_site() {
    let app = spawn_app().await;
    let fields = [
        ("csrf", "from-the-ended-session"),
        ("name", "Typed while away"),
        ("path", "/away"),
        ("template", TEMPLATE),
    ];
    let res = post_from_page(&app, "ended-session", "/admin/assets/new", &fields).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let draft = hidden(&res.text().await.unwrap(), "draft");
    let b = app.admin_browser().await;
    let res = app
        .post_form(
            &b,
            "/admin/assets/new",
            &[("restore_draft", draft.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("value=\"Typed while away\""), "{page}");
    assert_eq!(
        app.get_token("/away", &app.admin_key).await.status(),
        StatusCode::NOT_FOUND,
        "nothing was created"
    );

    // Kept changes are posted back only to the form they were sealed for: with another
    // `next`, signing in is a plain redirect, never a page that posts elsewhere.
    let res = post_from_page(
        &app,
        "",
        "/login",
        &[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/admin/users/admin/disable"),
            ("draft", &draft),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/admin/users/admin/disable"
    );

    // A post from another site is not carried into the form: plain sign-in redirect.
    let res = app
        .client
        .post(app.url("/admin/assets/new"))
        .header(header::COOKIE, "jas_session=ended-session")
        .header("sec-fetch-site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!res.text().await.unwrap().contains("draft"));
}

#[tokio::test]
async fn a_form_from_an_earlier_session_is_shown_again_with_its_changes_not_saved() {
    let app = spawn_app().await;
    let created: Value = app.create_asset(asset_body("/chat", TEMPLATE)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let old = app.admin_browser().await;
    // Signed in again (another tab): the open form carries the old session's token.
    let new = app.admin_browser().await;
    let edit = format!("/admin/assets/{id}");
    let res = post_from_page(
        &app,
        &new.session,
        &edit,
        &[
            ("csrf", old.csrf.as_str()),
            ("name", "Typed in the old tab"),
            ("path", "/chat"),
            ("algorithm", "HS256"),
            ("template", TEMPLATE),
            ("expiry_seconds", "600"),
            ("read_mode", "anyone"),
            ("version", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("opened in an earlier session"), "{page}");
    assert!(page.contains("value=\"Typed in the old tab\""));
    assert!(
        page.contains(&format!("name=\"csrf\" value=\"{}\"", new.csrf)),
        "a fresh token to save again"
    );
    assert_eq!(stored(&app, &id).await["name"], "Asset at /chat");

    // Any other form from an earlier session: nothing done, and a way back, not a reload.
    let res = app
        .client
        .post(app.url(&format!("/admin/assets/{id}/trash")))
        .header(header::COOKIE, format!("jas_session={}", new.session))
        .header("sec-fetch-site", "same-origin")
        .header(header::REFERER, app.url(&edit))
        .form(&[("csrf", old.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("Nothing was done"), "{page}");
    assert!(page.contains(&format!("href=\"{edit}\"")), "{page}");
    assert_eq!(stored(&app, &id).await["state"], "live");
}
