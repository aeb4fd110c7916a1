//! The asset form's presets, key ID, delivery and CORS fields, driven through the HTML forms the
//! way a browser without JavaScript uses them.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TEST_SECRET, TestApp, location, spawn_app, verify_hs};

/// The asset at a path (JSON API).
async fn asset_at(app: &TestApp, path: &str) -> Value {
    let res = app.api(reqwest::Method::GET, "/api/v1/assets", None).await;
    let all: Vec<Value> = crate::helpers::api_items(res).await;
    all.into_iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no asset at {path}"))
}

/// A form field's rendered `value="…"` (tera escapes `/` as `&#x2F;`).
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('/', "&#x2F;")
        .replace('"', "&quot;")
}

#[tokio::test]
async fn the_new_asset_page_starts_from_a_preset_with_a_plain_get_form() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let page = app.page_html(&a, "/admin/assets/new").await;
    assert!(page.contains(r#"<form method="get" action="/admin/assets/new""#));
    assert!(page.contains(r#"<label for="start-preset">Start from a preset</label>"#));
    assert!(page.contains(r#"<select id="start-preset" name="preset""#));
    for name in ["matrix", "realm", "zendesk", "metabase", "jitsi", "tableau"] {
        assert!(
            page.contains(&format!(r#"<option value="{name}" "#)),
            "{name}"
        );
    }

    let page = app.page_html(&a, "/admin/assets/new?preset=matrix").await;
    assert!(page.contains("%globals_user_attribute_username^lowercase%"));
    assert!(page.contains(r#"<option value="matrix" selected>"#));
    assert!(page.contains(r#"<option value="HS256" selected>"#));

    let page = app.page_html(&a, "/admin/assets/new?preset=tableau").await;
    assert!(page.contains(r#"name="audience" type="text" value="tableau""#));
    assert!(page.contains(r#"name="jti" value="1" checked"#));

    let page = app.page_html(&a, "/admin/assets/new?preset=zendesk").await;
    assert!(
        page.contains("{subdomain}.zendesk.com"),
        "the placeholder URL"
    );
    assert!(page.contains(r#"<option value="form_post" selected>"#));
    let form_post_url = page
        .split(r#"name="form_post_url""#)
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(|v| v.replace("&#x2F;", "/"));
    assert_eq!(
        form_post_url.as_deref(),
        Some("https://{subdomain}.zendesk.com/access/jwt")
    );

    // An unknown preset is a blank form, not an error; nothing from the URL is echoed.
    let page = app
        .page_html(&a, "/admin/assets/new?preset=%3Cscript%3Ex")
        .await;
    assert!(!page.contains("<script>x"));
    assert!(page.contains(r#"<option value="" selected>No preset"#));
}

/// The fields of the Matrix preset's form as a browser posts them.
fn matrix_form(path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("delivery_fields", "1".into()),
        ("preset", "matrix".into()),
        ("name", "Matrix login".into()),
        ("path", path.into()),
        ("algorithm", "HS256".into()),
        ("secret", TEST_SECRET.into()),
        (
            "template",
            "{\r\n  \"sub\": \"%globals_user_attribute_username^lowercase%\"\r\n}".into(),
        ),
        ("expiry_seconds", "600".into()),
        ("read_mode", "anyone".into()),
        ("default_delivery", "raw".into()),
        ("form_post_field", "jwt".into()),
    ]
}

async fn post(
    app: &TestApp,
    b: &crate::helpers::Browser,
    path: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form(b, path, &fields).await
}

#[tokio::test]
async fn saving_shows_the_presets_warnings_on_the_edit_page() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let res = post(&app, &a, "/admin/assets/new", &matrix_form("/chat/matrix")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let saved = asset_at(&app, "/chat/matrix").await;
    assert_eq!(saved["preset"], "matrix");
    let id = saved["id"].as_str().unwrap();
    assert_eq!(location(&res), format!("/admin/assets/{id}?done=created"));
    let page = app.page_html(&a, &location(&res)).await;
    assert!(page.contains("Saved, with warnings"), "{page}");
    assert!(page.contains("jwt_config"), "the no-iss/aud warning");
    // Not on a plain visit.
    let page = app.page_html(&a, &format!("/admin/assets/{id}")).await;
    assert!(!page.contains("Saved, with warnings"));
    assert!(page.contains(r#"<option value="matrix" selected>"#));

    // An edit with warnings comes back to the edit page too; without the preset, to the list.
    let mut edit = matrix_form("/chat/matrix");
    edit.push(("version", saved["version"].to_string()));
    edit.retain(|(k, _)| *k != "secret");
    let res = post(&app, &a, &format!("/admin/assets/{id}"), &edit).await;
    assert_eq!(location(&res), format!("/admin/assets/{id}?done=saved"));
    let page = app.page_html(&a, &location(&res)).await;
    assert!(page.contains("Changes saved."));
    assert!(page.contains("Saved, with warnings"));
    let mut edit: Vec<_> = edit
        .into_iter()
        .map(|(k, v)| match k {
            "preset" => (k, String::new()),
            "version" => (k, (saved["version"].as_u64().unwrap() + 1).to_string()),
            _ => (k, v),
        })
        .collect();
    let res = post(&app, &a, &format!("/admin/assets/{id}"), &edit).await;
    assert_eq!(location(&res), "/admin/assets?done=saved");
    assert!(asset_at(&app, "/chat/matrix").await["preset"].is_null());
    // A preset rule broken through the form is shown at its field.
    edit.retain(|(k, _)| *k != "version");
    edit.push(("version", "3".into()));
    for (k, v) in edit.iter_mut() {
        match *k {
            "preset" => *v = "matrix".into(),
            "algorithm" => *v = "HS512".into(),
            "secret" => {}
            _ => {}
        }
    }
    edit.push(("generate_secret", "1".into()));
    let res = post(&app, &a, &format!("/admin/assets/{id}"), &edit).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"id="algorithm-error""#), "{page}");
}

#[tokio::test]
async fn the_key_id_field_sets_the_header_kid() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let mut form = vec![
        ("delivery_fields", "1".to_owned()),
        ("preset", "tableau".into()),
        ("name", "Dashboards".into()),
        ("path", "/bi/tableau".into()),
        ("algorithm", "HS256".into()),
        ("secret", TEST_SECRET.into()),
        (
            "template",
            r#"{"sub": "%globals_user_attribute_username%", "scp": ["tableau:views:embed"]}"#
                .into(),
        ),
        ("expiry_seconds", "300".into()),
        ("issuer", "client-id-1".into()),
        ("audience", "tableau".into()),
        ("jti", "1".into()),
        ("read_mode", "anyone".into()),
        ("default_delivery", "raw".into()),
    ];
    let res = post(&app, &a, "/admin/assets/new", &form).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(r#"<p class="field-error" id="key-id-error">"#),
        "{page}"
    );
    assert!(page.contains(r##"<a href="#key_id">Key ID</a>"##));

    form.push(("key_id", "secret-id-1".into()));
    let res = post(&app, &a, "/admin/assets/new", &form).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    let saved = asset_at(&app, "/bi/tableau").await;
    assert_eq!(saved["key_id"], "secret-id-1");
    let token = app
        .get_token("/bi/tableau", &app.admin_key)
        .await
        .text()
        .await
        .unwrap();
    let (header, _) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(header["kid"], "secret-id-1");
    let page = app
        .page_html(
            &a,
            &format!("/admin/assets/{}", saved["id"].as_str().unwrap()),
        )
        .await;
    assert!(page.contains(r#"name="key_id" type="text" value="secret-id-1""#));
}

fn delivery_form(path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("delivery_fields", "1".into()),
        ("preset", String::new()),
        ("name", "Delivered".into()),
        ("path", path.into()),
        ("algorithm", "HS256".into()),
        ("secret", TEST_SECRET.into()),
        (
            "template",
            r#"{"sub": "%globals_user_attribute_username%"}"#.into(),
        ),
        ("expiry_seconds", "600".into()),
        ("read_mode", "anyone".into()),
        ("json_delivery", "1".into()),
        ("default_delivery", "redirect".into()),
        (
            "redirect_url",
            "https://consumer.example/sso?jwt={token}&return_to={return_to}".into(),
        ),
        (
            "redirect_allowlist",
            "https://consumer.example/app/\r\n\r\n  https://consumer.example/docs/ \r\n".into(),
        ),
        ("form_post_url", "https://sso.example/login".into()),
        ("form_post_field", "id_token".into()),
        ("form_post_allowlist", String::new()),
        (
            "cors_origins",
            "https://app.example\r\nhttp://localhost:3000\r\n".into(),
        ),
    ]
}

#[tokio::test]
async fn delivery_and_cors_fields_round_trip_through_the_form() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let res = post(&app, &a, "/admin/assets/new", &delivery_form("/d/ui")).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    assert_eq!(location(&res), "/admin/assets?done=created");
    let saved = asset_at(&app, "/d/ui").await;
    let d = &saved["delivery"];
    assert_eq!(d["json"], true);
    assert_eq!(d["default"], "redirect");
    assert_eq!(
        d["redirect"]["url"],
        "https://consumer.example/sso?jwt={token}&return_to={return_to}"
    );
    assert_eq!(
        d["redirect"]["return_to_allowlist"],
        serde_json::json!([
            "https://consumer.example/app/",
            "https://consumer.example/docs/"
        ])
    );
    assert_eq!(d["form_post"]["url"], "https://sso.example/login");
    assert_eq!(d["form_post"]["field"], "id_token");
    assert_eq!(
        saved["cors_origins"],
        serde_json::json!(["https://app.example", "http://localhost:3000"])
    );
    // The redirect works for the browser that made it.
    let res = app
        .client
        .get(app.url("/d/ui?return_to=https%3A%2F%2Fconsumer.example%2Fdocs%2Fa"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);

    // The edit page shows every value.
    let id = saved["id"].as_str().unwrap();
    let page = app.page_html(&a, &format!("/admin/assets/{id}")).await;
    assert!(page.contains(r#"name="json_delivery" value="1" checked"#));
    assert!(page.contains(r#"<option value="redirect" selected>"#));
    assert!(page.contains(&html(
        "https://consumer.example/sso?jwt={token}&return_to={return_to}"
    )));
    assert!(page.contains(&format!(
        "{}</textarea>",
        html("https://consumer.example/app/\nhttps://consumer.example/docs/")
    )));
    assert!(page.contains(&html("https://app.example\nhttp://localhost:3000")));
    assert!(page.contains(r#"name="form_post_field" type="text" value="id_token""#));

    // A form without the delivery fields (an older page) keeps them.
    let keep = vec![
        ("name", "Delivered".to_owned()),
        ("path", "/d/ui".into()),
        ("algorithm", "HS256".into()),
        (
            "template",
            r#"{"sub": "%globals_user_attribute_username%"}"#.into(),
        ),
        ("expiry_seconds", "600".into()),
        ("read_mode", "anyone".into()),
        ("version", saved["version"].to_string()),
    ];
    let res = post(&app, &a, &format!("/admin/assets/{id}"), &keep).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let kept = asset_at(&app, "/d/ui").await;
    assert_eq!(kept["delivery"], saved["delivery"]);
    assert_eq!(kept["cors_origins"], saved["cors_origins"]);

    // Clearing the fields turns the modes off.
    let mut clear = delivery_form("/d/ui");
    // An unticked checkbox is not sent at all.
    clear.retain(|(k, _)| *k != "json_delivery");
    for (k, v) in clear.iter_mut() {
        if matches!(
            *k,
            "redirect_url" | "redirect_allowlist" | "form_post_url" | "cors_origins" | "secret"
        ) {
            v.clear();
        }
        if *k == "default_delivery" {
            *v = "raw".into();
        }
    }
    clear.push(("version", kept["version"].to_string()));
    let res = post(&app, &a, &format!("/admin/assets/{id}"), &clear).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    let cleared = asset_at(&app, "/d/ui").await;
    assert_eq!(cleared["delivery"], serde_json::json!({"json": false}));
    assert_eq!(cleared["cors_origins"], serde_json::json!([]));
}

#[tokio::test]
async fn delivery_errors_are_shown_at_their_fields_with_what_was_typed() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let cases: [(&str, &str, &str); 5] = [
        (
            "redirect_url",
            "http://consumer.example/x?jwt={token}",
            "redirect-url-error",
        ),
        (
            "redirect_url",
            "https://{subdomain}.zendesk.com/access/jwt?jwt={token}",
            "redirect-url-error",
        ),
        ("form_post_field", "a b", "form-post-field-error"),
        ("cors_origins", "https://app.example/", "cors-origins-error"),
        (
            "redirect_allowlist",
            "consumer.example",
            "redirect-allowlist-error",
        ),
    ];
    for (field, value, error_id) in cases {
        let mut form = delivery_form("/d/bad");
        for (k, v) in form.iter_mut() {
            if *k == field {
                *v = value.to_owned();
            }
        }
        let res = post(&app, &a, "/admin/assets/new", &form).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{field}={value}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains(&format!(r#"class="field-error" id="{error_id}""#)),
            "{field}={value}: no error at the field"
        );
        assert!(
            page.contains(&html(value)),
            "{field}={value}: what was typed is kept"
        );
    }
    // A default mode that is not enabled.
    let mut form = delivery_form("/d/bad");
    form.retain(|(k, _)| *k != "redirect_url" && *k != "redirect_allowlist");
    let res = post(&app, &a, "/admin/assets/new", &form).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(r#"id="default-delivery-error""#)
    );
}
