//! The asset pages of the admin UI (asset tree, form, preview, trash), driven through their HTML
//! forms the way a browser without JavaScript uses them.

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Browser, TEST_SECRET, TestApp, asset_body, location, spawn_app, verify_hs};

/// The fields of a valid new-asset form.
fn new_asset<'a>(name: &'a str, path: &'a str, template: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("path", path),
        ("algorithm", "HS256"),
        ("secret", TEST_SECRET),
        ("template", template),
        ("expiry_seconds", "600"),
        ("read_mode", "anyone"),
    ]
}

/// The fields of the edit form as the page renders them for an asset (JSON from the API).
fn edit_fields(a: &Value) -> Vec<(String, String)> {
    let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    vec![
        ("name".into(), s("name")),
        ("path".into(), s("path")),
        ("algorithm".into(), s("algorithm")),
        ("secret".into(), String::new()),
        ("template".into(), s("template")),
        ("expiry_seconds".into(), a["expiry_seconds"].to_string()),
        ("read_mode".into(), "anyone".into()),
        ("version".into(), a["version"].to_string()),
    ]
}

async fn post_owned(
    app: &TestApp,
    b: &Browser,
    path: &str,
    fields: &[(String, String)],
) -> Response {
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    app.post_form(b, path, &fields).await
}

/// The id of the asset at a path (JSON API).
async fn id_of(app: &TestApp, path: &str) -> String {
    let res = app.api(reqwest::Method::GET, "/api/v1/assets", None).await;
    let all: Vec<Value> = crate::helpers::api_items(res).await;
    all.iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no asset at {path}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn admin_sends_administrators_to_the_assets_and_others_to_their_tokens() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice", "password": "alice-password-1"}))
        .await;
    let a = app.admin_browser().await;
    let res = app.get_page(&a, "/admin").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/assets");

    let alice = app.browser("alice", "alice-password-1").await;
    let res = app.get_page(&alice, "/admin").await;
    assert_eq!(location(&res), "/admin/my-tokens");
    assert_eq!(
        app.get_page(&alice, "/admin/assets").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get_page(&alice, "/admin/trash").await.status(),
        StatusCode::FORBIDDEN
    );

    let res = app
        .client
        .get(app.url("/admin/assets"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=/admin/assets");
}

#[tokio::test]
async fn the_asset_tree_groups_by_path_shows_badges_and_searches() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/tokens/chat", TEMPLATE)).await;
    let mut no_expiry = asset_body("/tokens/video/meet", TEMPLATE);
    no_expiry["name"] = json!("Video meeting");
    no_expiry["expiry_seconds"] = Value::Null;
    app.create_asset(no_expiry).await;
    let mut restricted = asset_body("/tokens/video/rec", TEMPLATE);
    restricted["read"] = json!({"users": [], "groups": ["staff"]});
    app.create_asset(restricted).await;
    app.create_asset(asset_body("/other", TEMPLATE)).await;
    let a = app.admin_browser().await;

    let page = app.page_html(&a, "/admin/assets").await;
    assert!(page.contains("4 live assets"), "{page}");
    assert!(
        page.contains("href=\"/admin/assets/new\""),
        "a New asset button"
    );
    assert!(page.contains("Asset at &#x2F;tokens&#x2F;chat"));
    // /tokens/video is a folder of two assets inside the /tokens folder.
    assert!(
        page.contains("&#x2F;tokens&#x2F;video/ <span class=\"muted\">(2)"),
        "{page}"
    );
    assert!(
        page.contains("&#x2F;tokens/ <span class=\"muted\">(3)"),
        "{page}"
    );
    assert!(page.contains(">no expiry<"));
    assert!(page.contains(">restricted<"));
    assert!(page.contains(">live<"));
    let id = id_of(&app, "/other").await;
    assert!(page.contains(&format!("href=\"/admin/assets/{id}/preview\"")));

    let found = app.page_html(&a, "/admin/assets?q=MEETING").await;
    assert!(found.contains("Video meeting"));
    assert!(!found.contains("Asset at &#x2F;other"));
    assert!(found.contains("1 asset matches"), "{found}");
}

#[tokio::test]
async fn the_asset_list_pages_fifty_at_a_time() {
    let app = spawn_app().await;
    for i in 0..51 {
        app.create_asset(asset_body(&format!("/many/a{i:02}"), TEMPLATE))
            .await;
    }
    let a = app.admin_browser().await;
    let first = app.page_html(&a, "/admin/assets").await;
    assert!(first.contains("Page 1 of 2"));
    assert!(first.contains("&#x2F;many&#x2F;a49<"));
    assert!(!first.contains("&#x2F;many&#x2F;a50<"));
    assert!(
        first.contains("href=\"&#x2F;admin&#x2F;assets?page=2\""),
        "{first}"
    );
    let second = app.page_html(&a, "/admin/assets?page=2").await;
    assert!(second.contains("&#x2F;many&#x2F;a50<"));
    assert!(second.contains("Page 2 of 2"));
    // A page past the end shows the last one, nonsense shows the first.
    assert!(
        app.page_html(&a, "/admin/assets?page=99")
            .await
            .contains("Page 2 of 2")
    );
    assert!(
        app.page_html(&a, "/admin/assets?page=x")
            .await
            .contains("Page 1 of 2")
    );
}

#[tokio::test]
async fn an_asset_created_with_the_form_issues_tokens() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let form = app.page_html(&a, "/admin/assets/new").await;
    assert!(form.contains("name=\"csrf\""));
    // The secret is masked, but not a password field a browser would offer to save.
    assert!(!form.contains("type=\"password\""));
    assert!(form.contains(
        "name=\"secret\" type=\"text\" class=\"masked\" value=\"\" autocomplete=\"off\""
    ));
    assert!(form.contains("data-generate=\"#secret\""));
    assert!(form.contains("data-editor"));

    let mut fields = new_asset(
        "Chat",
        "/tokens/chat",
        "{\r\n  \"sub\": \"%globals_user_attribute_username%\",\r\n  \"aud2\": \"chat\"\r\n}",
    );
    fields.extend([("jti", "1"), ("issuer", "https://auth.example.com")]);
    let res = app.post_form(&a, "/admin/assets/new", &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/assets?done=created");
    let list = app.page_html(&a, "/admin/assets?done=created").await;
    assert!(list.contains("Asset created."));
    assert!(list.contains(">Chat</a>"));

    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "admin");
    assert_eq!(claims["aud2"], "chat");
    assert_eq!(claims["iss"], "https://auth.example.com");
    assert!(claims["jti"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let stored = app.get_asset(&id_of(&app, "/tokens/chat").await).await;
    assert!(
        !stored["template"].as_str().unwrap().contains('\r'),
        "browser CRLF line ends are stored as LF"
    );
}

#[tokio::test]
async fn a_template_error_re_renders_the_form_at_its_line_and_column_keeping_the_input() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let template =
        "{\n  \"sub\": \"%globals_user_attribute_username%\",\n  \"x\": \"%no_such_keyword%\"\n}";
    let mut fields = new_asset("Typed <name>", "/tokens/typed", template);
    fields.extend([("issuer", "typed-issuer"), ("not_before", "1")]);
    let res = app.post_form(&a, "/admin/assets/new", &fields).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-error-line=\"3\""), "{page}");
    assert!(page.contains("line 3, column 9: unknown keyword"), "{page}");
    assert!(page.contains("aria-invalid=\"true\""));
    // Everything typed is still there.
    assert!(page.contains("value=\"Typed &lt;name&gt;\""));
    assert!(page.contains("value=\"&#x2F;tokens&#x2F;typed\""));
    assert!(page.contains("value=\"typed-issuer\""));
    assert!(page.contains("name=\"not_before\" value=\"1\" checked"));
    assert!(page.contains("&quot;%no_such_keyword%&quot;\n}</textarea>"));
    // Nothing was created.
    assert_eq!(
        app.get_token("/tokens/typed", &app.admin_key)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Another field's error does not hide the template's.
    let mut fields = new_asset("", "/tokens/typed", template);
    fields.retain(|(k, _)| *k != "name");
    let page = app
        .post_form(&a, "/admin/assets/new", &fields)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"name-error\""), "{page}");
    assert!(page.contains("data-error-line=\"3\""));

    // A field error names the field: a path under a reserved prefix, a bad expiry.
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &new_asset("X", "/admin/x", TEMPLATE),
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"path-error\""));
    assert!(page.contains("reserved"));
    let mut fields = new_asset("X", "/x", TEMPLATE);
    fields.retain(|(k, _)| *k != "expiry_seconds");
    fields.push(("expiry_seconds", "ten"));
    let page = app
        .post_form(&a, "/admin/assets/new", &fields)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"expiry-error\""));
    assert!(page.contains("value=\"ten\""));
}

#[tokio::test]
async fn the_secret_never_appears_in_the_edit_page_after_saving() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let canary = "canary-secret-7f3e-0123456789abcdef0123456789";
    let mut fields = new_asset("Canary", "/canary", TEMPLATE);
    fields.retain(|(k, _)| *k != "secret");
    fields.push(("secret", canary));
    let res = app.post_form(&a, "/admin/assets/new", &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = id_of(&app, "/canary").await;

    let edit = app.page_html(&a, &format!("/admin/assets/{id}")).await;
    assert!(!edit.contains(canary), "the edit page shows the secret");
    assert!(edit.contains(&format!("Set, {} bytes, last changed", canary.len())));
    assert!(edit.contains("Leave empty to keep the current secret"));
    for page in [
        "/admin/assets".to_owned(),
        format!("/admin/assets/{id}/preview"),
    ] {
        assert!(!app.page_html(&a, &page).await.contains(canary), "{page}");
    }

    // Saving with an empty secret field keeps the secret.
    let stored = app.get_asset(&id).await;
    let mut fields = edit_fields(&stored);
    fields[0].1 = "Canary renamed".into();
    let res = post_owned(&app, &a, &format!("/admin/assets/{id}"), &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/assets?done=saved");
    app.token_claims("/canary", &app.admin_key, canary.as_bytes())
        .await;
    assert_eq!(app.get_asset(&id).await["name"], "Canary renamed");
    assert!(
        !app.page_html(&a, &format!("/admin/assets/{id}"))
            .await
            .contains(canary)
    );
}

#[tokio::test]
async fn an_empty_form_reports_every_problem_in_one_round_in_the_forms_words() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &[
                ("name", ""),
                ("path", "no-slash"),
                ("algorithm", "HS256"),
                ("secret", "short"),
                ("template", "{\"sub\": %nope%}"),
                ("expiry_seconds", "0"),
                ("read_mode", "anyone"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    for id in [
        "name-error",
        "path-error",
        "secret-error",
        "template-error",
        "expiry-error",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "no {id} in {page}");
    }
    // The Tableau preset's rules, together and in the form's words.
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &[
                ("name", "Tableau"),
                ("path", "/sso/tableau"),
                ("preset", "tableau"),
                ("algorithm", "HS256"),
                ("generate_secret", "1"),
                ("template", "{\"sub\": \"%globals_user_attribute_username%\", \"scp\": [\"tableau:views:embed\"]}"),
                ("expiry_seconds", "300"),
                ("audience", "tableau"),
                ("jti", "1"),
                ("read_mode", "anyone"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("fill in \u{201c}Key ID\u{201d}"), "{page}");
    assert!(page.contains("fill in \u{201c}Issuer\u{201d}"), "{page}");
    assert!(!page.contains("set key_id"));
}

#[tokio::test]
async fn a_path_held_in_the_trash_says_so_and_a_long_name_is_refused_not_cut() {
    let app = spawn_app().await;
    let old = app.create_asset(asset_body("/held", TEMPLATE)).await;
    let a = app.admin_browser().await;
    let id = old["id"].as_str().unwrap();
    let res = app
        .post_form(&a, &format!("/admin/assets/{id}/trash"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &new_asset("New", "/held", TEMPLATE),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("is held by \u{201c}Asset at &#x2F;held\u{201d}, which is in the trash"),
        "{page}"
    );

    let long = "n".repeat(201);
    let form = app.page_html(&a, "/admin/assets/new").await;
    assert!(
        !form.contains("maxlength=\"200\""),
        "the browser would cut it silently"
    );
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &new_asset(&long, "/long", TEMPLATE),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("must be 1 to 200 characters")
    );
}

#[tokio::test]
async fn a_template_that_renders_for_nobody_is_refused_at_its_line_and_column() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    // The username is text in a value position: no user gets a token.
    let template = "{\n  \"sub\": %globals_user_attribute_username%\n}";
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &new_asset("Broken", "/broken", template),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-error-line=\"2\""), "{page}");
    assert!(
        page.contains("line 2, column 10: renders for none of the users"),
        "{page}"
    );
    assert!(page.contains("you (admin)"), "{page}");
    assert!(
        page.contains("a user with no attributes or groups"),
        "{page}"
    );
    assert!(
        page.contains("wrap it in quotes or add ^json_encode"),
        "{page}"
    );
    assert!(!page.contains("Changes saved"));
    assert_eq!(
        app.get_token("/broken", &app.admin_key).await.status(),
        StatusCode::NOT_FOUND,
        "nothing was saved"
    );
    // The JSON API refuses it the same way.
    let res = app
        .api(
            reqwest::Method::POST,
            "/api/v1/assets",
            Some(asset_body("/broken", template)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["field"], "template", "{body}");
    assert_eq!(body["line"], 2, "{body}");
    assert_eq!(body["column"], 10, "{body}");
}

#[tokio::test]
async fn a_template_that_fails_for_some_users_is_saved_with_a_warning_and_a_badge() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    // Users who may not write the asset get the bare text `nope` in a value position.
    let template = "{\"sub\": \"%globals_user_attribute_username%\", \"admin\": %asset_has_write_access^eq:1:true:nope%}";
    let res = app
        .post_form(
            &a,
            "/admin/assets/new",
            &new_asset("Half", "/half", template),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.ends_with("?done=created"), "to the asset's page: {to}");
    let page = app.page_html(&a, &to).await;
    assert!(page.contains("Saved, with warnings"), "{page}");
    assert!(
        page.contains(
            "the template fails for a user with no attributes or groups, line 1, column 55"
        ),
        "{page}"
    );
    assert!(page.contains("id=\"template-problem\""), "{page}");
    assert!(page.contains("<span class=\"badge bad\">template error</span>"));
    let list = app.page_html(&a, "/admin/assets").await;
    assert!(list.contains(">template error</span>"), "{list}");
    // The admin gets a token; a user who may not write gets the empty 500.
    app.token_claims("/half", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    app.create_user(serde_json::json!({"username": "reader"}))
        .await;
    let key = app.create_api_key("reader").await;
    assert_eq!(
        app.get_token("/half", &key).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn a_generated_secret_is_shown_once_and_signs_the_tokens() {
    let app = spawn_app().await;
    let a = app.admin_browser().await;
    let mut fields = new_asset("Generated", "/generated", TEMPLATE);
    fields.retain(|(k, _)| *k != "secret");
    fields.push(("generate_secret", "1"));
    let res = app.post_form(&a, "/admin/assets/new", &fields).await;
    let page = app.shown_once(&a, res).await;
    assert!(page.contains("Store the secret now"));
    assert!(page.contains("only time the secret is shown"));
    assert!(page.contains("data-copy=\"#generated-secret\""));
    let start = page.find("id=\"generated-secret\">").unwrap() + "id=\"generated-secret\">".len();
    let secret = &page[start..start + page[start..].find('<').unwrap()];
    assert_eq!(secret.len(), 64, "{secret}");

    app.token_claims("/generated", &app.admin_key, secret.as_bytes())
        .await;
    let id = id_of(&app, "/generated").await;
    assert!(
        !app.page_html(&a, &format!("/admin/assets/{id}"))
            .await
            .contains(secret)
    );
    assert!(!app.page_html(&a, "/admin/assets").await.contains(secret));

    // Typing a secret and asking for one is refused, keeping what was typed.
    let mut fields = new_asset("Both", "/both", TEMPLATE);
    fields.push(("generate_secret", "1"));
    let res = app.post_form(&a, "/admin/assets/new", &fields).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("id=\"secret-error\""));
}

#[tokio::test]
async fn a_form_post_without_its_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/kept", TEMPLATE)).await;
    let id = id_of(&app, "/kept").await;
    let a = app.admin_browser().await;

    let fields = new_asset("Forged", "/forged", TEMPLATE);
    let res = app.post_form_raw(&a, "/admin/assets/new", &fields).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut wrong = fields.clone();
    wrong.push(("csrf", "not-the-token"));
    let res = app.post_form_raw(&a, "/admin/assets/new", &wrong).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_token("/forged", &app.admin_key).await.status(),
        StatusCode::NOT_FOUND
    );

    for action in ["trash", "purge", "restore"] {
        let res = app
            .post_form_raw(&a, &format!("/admin/assets/{id}/{action}"), &[])
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let res = app
        .post_form_raw(&a, "/admin/trash/empty", &[("confirm", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A cross-site post with the right token is refused too.
    let res = app
        .client
        .post(app.url(&format!("/admin/assets/{id}/trash")))
        .header(header::COOKIE, format!("jas_session={}", a.session))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", a.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_asset(&id).await["state"], "live");

    // GET on a POST-only route is 405.
    for path in [
        format!("/admin/assets/{id}/trash"),
        format!("/admin/assets/{id}/restore"),
        "/admin/trash/empty".to_owned(),
    ] {
        assert_eq!(
            app.get_page(&a, &path).await.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_stale_edit_names_who_changed_it_and_keeps_the_typed_values() {
    let app = spawn_app().await;
    app.create_asset(asset_body("/shared", TEMPLATE)).await;
    let id = id_of(&app, "/shared").await;
    let a = app.admin_browser().await;
    let opened = app.get_asset(&id).await;

    // Someone else saves first (through the API, as another administrator would).
    app.create_user(json!({"username": "bob", "password": "bob-password-12", "admin": true}))
        .await;
    let bob = app.browser("bob", "bob-password-12").await;
    let mut theirs = edit_fields(&opened);
    theirs[0].1 = "Bob's name".into();
    let res = post_owned(&app, &bob, &format!("/admin/assets/{id}"), &theirs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let mut mine = edit_fields(&opened);
    mine[0].1 = "My typed name".into();
    let res = post_owned(&app, &a, &format!("/admin/assets/{id}"), &mine).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<strong>bob</strong> saved a newer version"),
        "{page}"
    );
    assert!(page.contains("Load the current version"));
    assert!(page.contains(&format!("href=\"/admin/assets/{id}\"")));
    assert!(page.contains("value=\"My typed name\""));
    assert_eq!(app.get_asset(&id).await["name"], "Bob's name");
}

#[tokio::test]
async fn trash_restore_and_purge_work_through_the_forms() {
    let app = spawn_app().await;
    let mut body = asset_body("/doomed", TEMPLATE);
    body["name"] = json!("Doomed asset");
    app.create_asset(body).await;
    let id = id_of(&app, "/doomed").await;
    let a = app.admin_browser().await;

    // A live asset cannot be purged: the confirmation says so, the post is 409.
    let res = app.get_page(&a, &format!("/admin/assets/{id}/purge")).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Cannot purge a live asset")
    );
    let res = app
        .post_form(&a, &format!("/admin/assets/{id}/purge"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("trash it first"));

    let res = app
        .post_form(&a, &format!("/admin/assets/{id}/trash"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/assets?done=trashed");
    assert_eq!(
        app.get_token("/doomed", &app.admin_key).await.status(),
        StatusCode::NOT_FOUND
    );
    let list = app.page_html(&a, "/admin/assets?done=trashed").await;
    assert!(list.contains("Asset moved to the trash."));
    assert!(!list.contains("Doomed asset"));
    let trash = app.page_html(&a, "/admin/trash").await;
    assert!(trash.contains("Doomed asset"));
    assert!(trash.contains("by admin"));
    assert!(trash.contains(&format!("action=\"/admin/assets/{id}/restore\"")));
    assert!(trash.contains(&format!("href=\"/admin/assets/{id}/purge\"")));

    let res = app
        .post_form(&a, &format!("/admin/assets/{id}/restore"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/trash?done=restored");
    app.token_claims("/doomed", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    app.post_form(&a, &format!("/admin/assets/{id}/trash"), &[])
        .await;
    let confirm = app
        .page_html(&a, &format!("/admin/assets/{id}/purge"))
        .await;
    assert!(confirm.contains("Purge Doomed asset?"));
    assert!(confirm.contains("<code>&#x2F;doomed</code>"));
    assert!(confirm.contains("data-confirm="));
    assert!(confirm.contains("method=\"post\""));
    let res = app
        .post_form(&a, &format!("/admin/assets/{id}/purge"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/trash?done=purged");
    assert_eq!(
        app.get_page(&a, &format!("/admin/assets/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        app.page_html(&a, "/admin/trash?done=purged")
            .await
            .contains("Asset purged for good.")
    );
}

#[tokio::test]
async fn emptying_the_trash_needs_its_box_ticked() {
    let app = spawn_app().await;
    for p in ["/t/one", "/t/two"] {
        app.create_asset(asset_body(p, TEMPLATE)).await;
        app.asset_action(&id_of(&app, p).await, "trash").await;
    }
    app.create_asset(asset_body("/t/live", TEMPLATE)).await;
    let a = app.admin_browser().await;
    let trash = app.page_html(&a, "/admin/trash").await;
    assert!(trash.contains("action=\"/admin/trash/empty\""));
    assert!(trash.contains("data-confirm=\"Purge all 2 trashed assets for good?"));

    let res = app.post_form(&a, "/admin/trash/empty", &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("Nothing was purged"));
    assert!(
        app.page_html(&a, "/admin/trash")
            .await
            .contains("2 assets in the trash")
    );

    let res = app
        .post_form(&a, "/admin/trash/empty", &[("confirm", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/trash?done=emptied");
    let trash = app.page_html(&a, "/admin/trash").await;
    assert!(trash.contains("No assets are in the trash."));
    app.token_claims("/t/live", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
}

#[tokio::test]
async fn a_preview_as_a_refused_user_says_why_instead_of_a_token() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "groups": ["ops"]}))
        .await;
    app.create_user(json!({"username": "dora", "groups": ["Staff", "STAFF", "ops"]}))
        .await;
    app.create_user(json!({"username": "carol"})).await;
    let mut body = asset_body("/staff", TEMPLATE);
    body["read"] = json!({"users": [], "groups": ["staff"]});
    app.create_asset(body).await;
    let id = id_of(&app, "/staff").await;
    let a = app.admin_browser().await;

    let page = app
        .page_html(&a, &format!("/admin/assets/{id}/preview?as=bob"))
        .await;
    assert!(page.contains("bob would get 403, not a token"), "{page}");
    assert!(
        page.contains("the asset allows users none and groups staff; bob is in groups ops"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"token\""),
        "no token for a refused user"
    );
    // Group names match whatever their letter case; one user's spellings of a group are one.
    let dora: Value = app
        .api(reqwest::Method::GET, "/api/v1/users/dora", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dora["groups"], json!(["Staff", "ops"]));
    let page = app
        .page_html(&a, &format!("/admin/assets/{id}/preview?as=dora"))
        .await;
    assert!(page.contains("id=\"token\""), "Staff is in staff: {page}");

    // The JSON API says the same, without a token.
    let res = app
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/assets/{id}/preview?as=carol"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let preview: Value = res.json().await.unwrap();
    assert!(preview.get("token").is_none(), "{preview}");
    assert_eq!(
        preview["refused"],
        "no read rule matches carol: the asset allows users none and groups staff; carol is in no group"
    );

    // A disabled user: the account is the reason.
    let res = app
        .api(reqwest::Method::POST, "/api/v1/users/carol/disable", None)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let page = app
        .page_html(&a, &format!("/admin/assets/{id}/preview?as=carol"))
        .await;
    assert!(
        page.contains("carol&#x27;s account is disabled")
            || page.contains("carol's account is disabled"),
        "{page}"
    );
}

#[tokio::test]
async fn the_preview_shows_the_claims_the_chosen_user_would_receive() {
    let app = spawn_app().await;
    app.create_user(json!({
        "username": "alice", "password": "alice-password-1",
        "attributes": {"first_name": "Ann"}, "groups": ["staff"]
    }))
    .await;
    let mut body = asset_body(
        "/preview/me",
        r#"{"sub": "%globals_user_attribute_username%", "name": "%globals_user_attribute_first_name%", "exp": 1}"#,
    );
    body["expiry_seconds"] = Value::Null;
    app.create_asset(body).await;
    let id = id_of(&app, "/preview/me").await;
    let a = app.admin_browser().await;

    let page = app
        .page_html(&a, &format!("/admin/assets/{id}/preview?as=alice"))
        .await;
    assert!(page.contains("<option value=\"alice\" selected>"), "{page}");
    assert!(page.contains("Signature verified"));
    assert!(
        page.contains("&quot;sub&quot;: &quot;alice&quot;"),
        "{page}"
    );
    assert!(page.contains("&quot;name&quot;: &quot;Ann&quot;"));
    assert!(
        page.contains("tokens never expire"),
        "a warning for no expiry"
    );
    assert!(page.contains("which the server overrides"), "{page}");
    assert!(page.contains("data-countdown="));
    assert!(page.contains("data-local"));
    assert!(page.contains("data-copy=\"#token\""));
    assert!(
        page.contains("href=\"&#x2F;preview&#x2F;me\""),
        "a fetch-as-me link"
    );
    // The three coloured parts are exactly the token, which verifies with the asset's secret.
    let encoded = &page[page.find("id=\"token\"").unwrap()..];
    let part = |class: &str| {
        let open = format!("<span class=\"{class}\">");
        let start = encoded.find(&open).unwrap() + open.len();
        encoded[start..start + encoded[start..].find('<').unwrap()].to_owned()
    };
    let token = format!(
        "{}.{}.{}",
        part("t-header"),
        part("t-payload"),
        part("t-signature")
    );
    let (header, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["sub"], "alice");
    assert!(claims.get("exp").is_none());

    // The preview is audited.
    let audit = app.audit().await;
    assert!(audit.iter().any(|e| e["action"] == "asset.preview"
        && e["target"] == "/preview/me"
        && e["detail"] == "as alice"));

    // Without ?as= it previews as the viewer; an unknown user is explained.
    let page = app
        .page_html(&a, &format!("/admin/assets/{id}/preview"))
        .await;
    assert!(page.contains("&quot;sub&quot;: &quot;admin&quot;"));
    let res = app
        .get_page(&a, &format!("/admin/assets/{id}/preview?as=nobody"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("There is no user"));
}

#[tokio::test]
async fn a_render_error_in_the_preview_names_its_line_and_column() {
    let app = spawn_app().await;
    app.create_user(json!({
        "username": "alice", "password": "alice-password-1", "attributes": {"first_name": "Ann"}
    }))
    .await;
    app.create_asset(asset_body(
        "/broken",
        "{\n  \"sub\": \"%globals_user_attribute_username%\",\n  \"n\": %globals_user_attribute_first_name%\n}",
    ))
    .await;
    let id = id_of(&app, "/broken").await;
    let a = app.admin_browser().await;
    let res = app
        .get_page(&a, &format!("/admin/assets/{id}/preview?as=alice"))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("cannot be rendered for alice"));
    assert!(page.contains("Line 3, column 8:"), "{page}");
    assert!(page.contains("class=\"excerpt\""));
    assert!(!page.contains("class=\"token\""));
}

#[tokio::test]
async fn user_text_renders_as_text_on_every_asset_page() {
    let app = spawn_app().await;
    let evil_name = "<script>alert(1)</script>\"onmouseover=\"alert(2)";
    let evil_template = r#"{"x": "</textarea><script>alert(3)</script>"}"#;
    let mut body = asset_body("/evil", evil_template);
    body["name"] = json!(evil_name);
    body["issuer"] = json!("\"><img src=x onerror=alert(4)>");
    app.create_asset(body).await;
    let id = id_of(&app, "/evil").await;
    let a = app.admin_browser().await;

    let mut pages = vec![
        app.page_html(&a, "/admin/assets").await,
        app.page_html(&a, &format!("/admin/assets/{id}")).await,
        app.page_html(&a, &format!("/admin/assets/{id}/preview"))
            .await,
    ];
    app.post_form(&a, &format!("/admin/assets/{id}/trash"), &[])
        .await;
    pages.push(app.page_html(&a, "/admin/trash").await);
    pages.push(
        app.page_html(&a, &format!("/admin/assets/{id}/purge"))
            .await,
    );
    // The form re-rendered with an error echoes what was typed, escaped.
    let mut fields = new_asset(evil_name, "/evil2", evil_template);
    fields.push(("expiry_seconds", "<script>alert(5)</script>"));
    fields.retain(|f| *f != ("expiry_seconds", "600"));
    pages.push(
        app.post_form(&a, "/admin/assets/new", &fields)
            .await
            .text()
            .await
            .unwrap(),
    );
    for (i, page) in pages.iter().enumerate() {
        assert!(!page.contains("<script>alert"), "page {i}: {page}");
        assert!(!page.contains("\"onmouseover="), "page {i}");
        assert!(!page.contains("<img src=x"), "page {i}");
        assert!(!page.contains("</textarea><script>"), "page {i}");
        assert!(
            page.contains("&lt;script&gt;alert("),
            "page {i} shows the text"
        );
    }
}
