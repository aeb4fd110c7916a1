//! Saving an asset through `POST /api/v1/assets`: paths, secrets, templates and expiry are checked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const SUB_TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn asset_paths_under_reserved_prefixes_are_refused_in_any_letter_case() {
    let app = spawn_app().await;
    for path in [
        "/admin",
        "/Admin/chat",
        "/ADMIN/x",
        "/api",
        "/API/v2/token",
        "/Api/v1/assets",
        "/login",
        "/LOGIN/x",
        "/logout",
        "/Logout/x",
        "/static/app.js",
        "/STATIC/x",
        "/healthz",
        "/HealthZ/x",
        "/metrics",
        "/METRICS/x",
        "/.well-known/jwks",
        "/.WELL-KNOWN/openid-configuration",
    ] {
        let error = api_error(
            app.post_asset(asset_body(path, SUB_TEMPLATE)).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(error["field"], "path", "{path}");
        assert!(
            error["detail"].as_str().unwrap().contains("reserved"),
            "{path}: {error}"
        );
    }
    let list: Vec<Value> = api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    assert!(list.is_empty(), "nothing was saved");
    app.stop().await;
}

#[tokio::test]
async fn paths_that_merely_start_like_a_reserved_word_are_accepted() {
    let app = spawn_app().await;
    for path in ["/administrator", "/apis/x", "/tokens/admin", "/x/api/v1"] {
        app.create_asset(asset_body(path, SUB_TEMPLATE)).await;
        let claims = app
            .token_claims(path, &app.admin_key, TEST_SECRET.as_bytes())
            .await;
        assert_eq!(claims["sub"], "admin", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn non_canonical_asset_paths_are_refused() {
    let app = spawn_app().await;
    let too_long = format!("/{}", "a".repeat(255));
    for path in [
        "",
        "tokens/chat",
        "/",
        "/tokens/",
        "//tokens",
        "/tokens//chat",
        "/tokens/./chat",
        "/tokens/../chat",
        "/./tokens",
        "/..",
        "/tokens/%63hat",
        "/tokens%2Fchat",
        "/tokens/chat?x=1",
        "/tokens/chat#x",
        "/tokens/a b",
        "/tokens/ä",
        "/tokens\\chat",
        too_long.as_str(),
    ] {
        let body =
            json!({"name": "n", "path": path, "secret": TEST_SECRET, "template": SUB_TEMPLATE});
        let error = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["field"], "path", "{path:?}");
    }
    let list: Vec<Value> = api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    assert!(list.is_empty(), "nothing was saved");
    app.stop().await;
}

#[tokio::test]
async fn a_path_held_by_a_live_or_a_trashed_asset_is_refused_with_409() {
    let app = spawn_app().await;
    let live = app
        .create_asset(asset_body("/tokens/live", SUB_TEMPLATE))
        .await;
    let trashed = app
        .create_asset(asset_body("/tokens/trashed", SUB_TEMPLATE))
        .await;
    assert_eq!(
        app.asset_action(trashed["id"].as_str().unwrap(), "trash")
            .await
            .status(),
        StatusCode::OK
    );

    for path in ["/tokens/live", "/tokens/trashed"] {
        let error = api_error(
            app.post_asset(asset_body(path, r#"{"other": 1}"#)).await,
            StatusCode::CONFLICT,
        )
        .await;
        assert!(error["detail"].as_str().unwrap().contains(path), "{error}");
    }
    let list: Vec<Value> = api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    assert_eq!(list.len(), 2);
    let claims = app
        .token_claims("/tokens/live", &app.admin_key, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(
        claims["sub"], "admin",
        "the first asset still answers, unchanged"
    );
    assert_eq!(live["version"], 1);
    app.stop().await;
}

#[tokio::test]
async fn a_secret_shorter_than_the_hash_is_refused_unless_accepted_as_weak() {
    let app = spawn_app().await;
    for (alg, short, path) in [
        ("HS256", 31, "/weak/hs256"),
        ("HS384", 47, "/weak/hs384"),
        ("HS512", 63, "/weak/hs512"),
    ] {
        let secret = "s".repeat(short);
        let body = json!({"name": alg, "path": path, "algorithm": alg, "secret": secret, "template": SUB_TEMPLATE});
        let error = api_error(app.post_asset(body.clone()).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["field"], "secret", "{alg}");

        let mut accepted = body;
        accepted["accept_weak_secret"] = json!(true);
        let saved = app.create_asset(accepted).await;
        assert_eq!(saved["weak_secret"], true, "{alg}");
        let res = app.get_token(path, &app.admin_key).await;
        assert_eq!(res.status(), StatusCode::OK);
        let (header, _) = verify_hs(&res.text().await.unwrap(), secret.as_bytes());
        assert_eq!(header["alg"], alg);
    }
    let full = json!({"name": "ok", "path": "/strong", "secret": "s".repeat(32), "template": SUB_TEMPLATE});
    assert_eq!(app.create_asset(full).await["weak_secret"], false);
    app.stop().await;
}

#[tokio::test]
async fn an_asset_needs_a_secret_or_a_request_to_generate_one_but_not_both() {
    let app = spawn_app().await;
    let none = json!({"name": "x", "path": "/tokens/x", "template": SUB_TEMPLATE});
    assert_eq!(
        api_error(app.post_asset(none).await, StatusCode::BAD_REQUEST).await["field"],
        "secret"
    );
    let both = json!({"name": "x", "path": "/tokens/x", "secret": TEST_SECRET, "generate_secret": true, "template": SUB_TEMPLATE});
    assert_eq!(
        api_error(app.post_asset(both).await, StatusCode::BAD_REQUEST).await["field"],
        "secret"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_generated_secret_is_shown_exactly_once_and_signs_the_tokens() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "alice"})).await;
    let created = app
        .create_asset(json!({
            "name": "Gen", "path": "/tokens/gen", "algorithm": "HS512", "generate_secret": true, "template": SUB_TEMPLATE,
        }))
        .await;
    let shown = created["generated_secret"]
        .as_str()
        .expect("the generated secret is in the creation answer")
        .to_owned();
    assert_eq!(
        created["secret_bytes"],
        shown.len(),
        "the secret is the text shown"
    );
    assert_eq!(created["weak_secret"], false, "long enough even for HS512");
    assert!(
        URL_SAFE_NO_PAD.decode(&shown).unwrap().len() >= 32,
        "at least 256 random bits: {shown}"
    );
    let secret = shown.as_bytes();
    let id = created["id"].as_str().unwrap().to_owned();
    let again = app
        .create_asset(json!({"name": "Gen2", "path": "/tokens/gen2", "generate_secret": true, "template": SUB_TEMPLATE}))
        .await;
    assert_ne!(again["generated_secret"], created["generated_secret"]);

    let res = app.get_token("/tokens/gen", &app.admin_key).await;
    assert_eq!(res.status(), StatusCode::OK);
    verify_hs(&res.text().await.unwrap(), secret);

    let edit = app.get_asset(&id).await;
    let mut answers = vec![edit.to_string()];
    answers.push(
        app.api(Method::GET, "/api/v1/assets", None)
            .await
            .text()
            .await
            .unwrap(),
    );
    let put = json!({"name": "Gen 2", "path": "/tokens/gen", "template": SUB_TEMPLATE, "version": edit["version"]});
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(put))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    answers.push(res.text().await.unwrap());
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/preview?as=alice"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let preview = res.text().await.unwrap();
    let preview_json: Value = serde_json::from_str(&preview).unwrap();
    verify_hs(preview_json["token"].as_str().unwrap(), secret);
    answers.push(preview);
    answers.push(serde_json::to_string(&app.audit().await).unwrap());
    answers.push(app.get_asset(&id).await.to_string());

    for answer in &answers {
        assert!(
            !answer.contains(&shown),
            "the secret appeared again: {answer}"
        );
        assert!(!answer.contains("generated_secret"), "{answer}");
    }
    let res = app.get_token("/tokens/gen", &app.admin_key).await;
    verify_hs(&res.text().await.unwrap(), secret);
    app.stop().await;
}

#[tokio::test]
async fn a_secret_that_was_typed_in_is_never_returned_by_any_read() {
    let app = spawn_app().await;
    let created = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    let id = created["id"].as_str().unwrap();
    let mut answers = vec![created.to_string()];
    answers.push(
        app.api(Method::GET, &format!("/api/v1/assets/{id}"), None)
            .await
            .text()
            .await
            .unwrap(),
    );
    answers.push(
        app.api(Method::GET, "/api/v1/assets", None)
            .await
            .text()
            .await
            .unwrap(),
    );
    answers.push(
        app.api(Method::GET, &format!("/api/v1/assets/{id}/preview"), None)
            .await
            .text()
            .await
            .unwrap(),
    );
    answers.push(
        app.api(Method::POST, &format!("/api/v1/assets/{id}/trash"), None)
            .await
            .text()
            .await
            .unwrap(),
    );
    answers.push(
        app.api(Method::POST, &format!("/api/v1/assets/{id}/restore"), None)
            .await
            .text()
            .await
            .unwrap(),
    );
    answers.push(serde_json::to_string(&app.audit().await).unwrap());

    for answer in &answers {
        assert!(
            !answer.contains(TEST_SECRET),
            "the secret appeared: {answer}"
        );
        assert!(!answer.contains("\"secret\""), "{answer}");
    }
    app.stop().await;
}

/// Save a template and return the field error.
async fn template_error(app: &TestApp, template: &str) -> Value {
    api_error(
        app.post_asset(asset_body("/tokens/t", template)).await,
        StatusCode::BAD_REQUEST,
    )
    .await
}

#[tokio::test]
async fn an_unknown_keyword_is_refused_with_its_line_and_column() {
    let app = spawn_app().await;
    let error = template_error(&app, "{\n  \"a\": \"%no_such_keyword%\"\n}").await;
    assert_eq!(error["field"], "template");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(2), Some(9))
    );
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("no_such_keyword"),
        "{error}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_modifier_is_refused_with_its_line_and_column() {
    let app = spawn_app().await;
    let error = template_error(
        &app,
        r#"{"a": "%globals_user_attribute_first_name^nosuch%"}"#,
    )
    .await;
    assert_eq!(error["field"], "template");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(1), Some(43))
    );
    assert!(
        error["detail"].as_str().unwrap().contains("nosuch"),
        "{error}"
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_json_is_refused_with_its_line_and_column() {
    let app = spawn_app().await;
    let error = template_error(&app, "{\n  \"a\": tru\n}").await;
    assert_eq!(error["field"], "template");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(2), Some(8))
    );
    let error = template_error(&app, "{\"a\": 1,}").await;
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(1), Some(9))
    );
    app.stop().await;
}

#[tokio::test]
async fn duplicate_claim_names_are_refused_with_the_line_and_column_of_the_second() {
    let app = spawn_app().await;
    let error = template_error(&app, "{\n  \"a\": 1,\n  \"a\": 2\n}").await;
    assert_eq!(error["field"], "template");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(
        error["detail"].as_str().unwrap().contains("duplicate"),
        "{error}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_template_whose_top_level_is_not_an_object_is_refused() {
    let app = spawn_app().await;
    for template in ["[1, 2]", "\"x\"", "42", "%globals_user_groups%"] {
        let error = template_error(&app, template).await;
        assert_eq!(error["field"], "template", "{template}");
        assert_eq!(
            (error["line"].as_u64(), error["column"].as_u64()),
            (Some(1), Some(1)),
            "{template}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_new_asset_issues_tokens_that_expire_after_600_seconds() {
    let app = spawn_app().await;
    let saved = app
        .create_asset(asset_body("/tokens/chat", SUB_TEMPLATE))
        .await;
    assert_eq!(saved["expiry_seconds"], 600);

    let claims = app
        .token_claims("/tokens/chat", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    app.stop().await;
}

#[tokio::test]
async fn an_explicit_null_expiry_issues_tokens_without_exp() {
    let app = spawn_app().await;
    let mut body = asset_body("/tokens/forever", SUB_TEMPLATE);
    body["expiry_seconds"] = Value::Null;
    let saved = app.create_asset(body).await;
    assert_eq!(saved["expiry_seconds"], Value::Null);

    let claims = app
        .token_claims("/tokens/forever", &app.admin_key, TEST_SECRET.as_bytes())
        .await;

    assert!(claims.get("exp").is_none(), "{claims}");
    assert!(claims["iat"].is_i64());
    app.stop().await;
}

#[tokio::test]
async fn an_expiry_of_zero_or_beyond_ten_years_is_refused() {
    let app = spawn_app().await;
    for expiry in [json!(0), json!(10 * 366 * 24 * 3600 + 1)] {
        let mut body = asset_body("/tokens/x", SUB_TEMPLATE);
        body["expiry_seconds"] = expiry;
        assert_eq!(
            api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await["field"],
            "expiry_seconds"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_algorithm_or_field_is_refused() {
    let app = spawn_app().await;
    let mut body = asset_body("/tokens/x", SUB_TEMPLATE);
    body["algorithm"] = json!("none");
    assert_eq!(
        api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await["field"],
        "algorithm"
    );
    let mut body = asset_body("/tokens/x", SUB_TEMPLATE);
    body["secert"] = json!("typo");
    assert_eq!(
        api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await["field"],
        "body"
    );
    app.stop().await;
}
