//! Request parameters as keywords: an asset declares named query parameters with a pattern and a
//! maximum length, and its template reads them as `%globals_get_<name>%`. Nothing undeclared or
//! unvalidated reaches a claim; a missing or non-matching one is a 400 with an empty body.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TEST_SECRET, TestApp, api_error, assert_empty, payload_text, spawn_app, verify_hs,
};

fn room_asset(path: &str, pattern: &str, max_length: usize) -> Value {
    json!({
        "name": "Meeting", "path": path, "secret": TEST_SECRET,
        "template": r#"{"sub": "%globals_user_attribute_username%", "room": "%globals_get_room%"}"#,
        "request_params": [{"name": "room", "pattern": pattern, "max_length": max_length}],
    })
}

async fn get(app: &TestApp, path_and_query: &str) -> reqwest::Response {
    app.client
        .get(app.url(path_and_query))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_declared_parameter_reaches_its_claim_and_bad_ones_are_400() {
    let app = spawn_app().await;
    let saved = app
        .create_asset(room_asset("/meet/jitsi", "[a-z0-9-]{1,64}", 64))
        .await;
    assert_eq!(
        saved["request_params"],
        json!([{"name": "room", "pattern": "[a-z0-9-]{1,64}", "max_length": 64}])
    );

    let res = get(&app, "/meet/jitsi?room=team-7&other=ignored").await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(claims["room"], "team-7");
    assert!(
        !payload_text(&token).contains("ignored"),
        "undeclared parameters never reach a claim"
    );
    // Percent-decoded before the check, as a browser encodes it.
    let res = get(&app, "/meet/jitsi?room=team%2D8").await;
    let (_, claims) = verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["room"], "team-8");

    for bad in [
        "/meet/jitsi",                                // missing
        "/meet/jitsi?room=",                          // empty: the pattern needs one character
        "/meet/jitsi?room=Team-7",                    // not the pattern (upper case)
        "/meet/jitsi?room=a%20b",                     // a space
        "/meet/jitsi?room=a&room=b",                  // given twice
        "/meet/jitsi?room=team-7%0A", // a trailing newline: the whole value must match
        "/meet/jitsi?room=x%22%2C%22admin%22%3Atrue", // an injection attempt
    ] {
        assert_empty(get(&app, bad).await, StatusCode::BAD_REQUEST).await;
    }
    let long = format!("/meet/jitsi?room={}", "a".repeat(65));
    assert_empty(get(&app, &long).await, StatusCode::BAD_REQUEST).await;

    // Without credentials the good parameter still gets 403, a bad one 400 (checked first).
    let res = app
        .client
        .get(app.url("/meet/jitsi?room=team-7"))
        .send()
        .await
        .unwrap();
    assert_empty(res, StatusCode::FORBIDDEN).await;

    // Refused requests are not audited as issued tokens; the one issued is.
    let issued = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "token.issue" && e["target"] == "/meet/jitsi")
        .count();
    assert_eq!(issued, 2);
}

#[tokio::test]
async fn whatever_a_permissive_pattern_lets_through_stays_a_string() {
    let app = spawn_app().await;
    app.create_asset(room_asset("/meet/any", "(?s).*", 200))
        .await;
    let attack = r#"", "admin": true, "sub": "root"#;
    let query: String = url_encode(attack);
    let res = get(&app, &format!("/meet/any?room={query}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.text().await.unwrap();
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(claims["room"], attack);
    assert_eq!(claims["sub"], "admin");
    assert!(claims.get("admin").is_none());
    // Unicode, quotes and control characters come back byte for byte.
    let odd = "é\"\\\u{1}\u{2028}<script>";
    let res = get(&app, &format!("/meet/any?room={}", url_encode(odd))).await;
    let (_, claims) = verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["room"], odd);
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn undeclared_keywords_and_bad_declarations_are_refused_at_save() {
    let app = spawn_app().await;
    // The template reads a parameter the asset does not declare: located at the keyword.
    let mut body = room_asset("/meet/undeclared", "[a-z]+", 10);
    body["template"] =
        json!("{\n  \"room\": \"%globals_get_room%\",\n  \"t\": \"%globals_get_team%\"\n}");
    let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(e["field"], "template", "{e}");
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(3), Some(9)),
        "{e}"
    );
    assert!(e["detail"].as_str().unwrap().contains("team"), "{e}");

    for (params, words) in [
        (
            json!([{"name": "Room", "pattern": "x", "max_length": 5}]),
            "a-z, 0-9",
        ),
        (
            json!([{"name": "room", "pattern": "(", "max_length": 5}]),
            "not a valid regular expression",
        ),
        // Valid only once wrapped: it would escape the implied anchors and match anything.
        (
            json!([{"name": "room", "pattern": "[a-z]+)|(.*", "max_length": 5}]),
            "not a valid regular expression",
        ),
        (
            json!([{"name": "room", "pattern": " [a-z]+", "max_length": 5}]),
            "spaces",
        ),
        (
            json!([{"name": "room", "pattern": "", "max_length": 5}]),
            "needs a pattern",
        ),
        (
            json!([{"name": "room", "pattern": "x", "max_length": 0}]),
            "max_length",
        ),
        (
            json!([{"name": "room", "pattern": "x", "max_length": 5000}]),
            "max_length",
        ),
        (
            json!([{"name": "room", "pattern": "x", "max_length": 5},
                   {"name": "room", "pattern": "y", "max_length": 5}]),
            "twice",
        ),
    ] {
        let mut body = room_asset("/meet/bad", "x", 5);
        body["request_params"] = params.clone();
        let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], "request_params", "{params}: {e}");
        assert!(
            e["detail"].as_str().unwrap().contains(words),
            "{params}: {e}"
        );
    }
    let mut body = room_asset("/meet/bad", "x", 5);
    body["request_params"] = json!([{"name": "room", "pattern": "x"}]);
    let res = app.post_asset(body).await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "max_length is required"
    );

    // An edit without request_params keeps them; the preview says they are empty there.
    let saved = app
        .create_asset(room_asset("/meet/kept", "[a-z]+", 10))
        .await;
    let id = saved["id"].as_str().unwrap();
    let mut edit = room_asset("/meet/kept", "[a-z]+", 10);
    edit.as_object_mut().unwrap().remove("request_params");
    edit["version"] = saved["version"].clone();
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["request_params"].as_array().unwrap().len(), 1);
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/preview?as=admin"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let preview: Value = res.json().await.unwrap();
    assert_eq!(preview["claims"]["room"], "");
    assert!(
        preview["warnings"].to_string().contains("?room="),
        "{preview}"
    );
}

#[tokio::test]
async fn the_admin_form_and_the_cli_declare_parameters_as_lines() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let fields = |params: &'static str| {
        [
            ("name", "Form meeting"),
            ("path", "/meet/form"),
            ("algorithm", "HS256"),
            ("secret", TEST_SECRET),
            ("template", r#"{"room": "%globals_get_room%"}"#),
            ("expiry_seconds", "600"),
            ("read_mode", "anyone"),
            ("request_params", params),
        ]
    };
    let res = app
        .post_form(&b, "/admin/assets/new", &fields("room only"))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("request-params-error"),
        "the error is on the field"
    );
    assert!(html.contains("line 1"));
    let res = app
        .post_form(&b, "/admin/assets/new", &fields("room 32 [a-z0-9 ]+\r\n"))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = get(&app, "/meet/form?room=big+room").await;
    let (_, claims) = verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["room"], "big room", "a space in the pattern is kept");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let template = dir.path().join("t.json");
    std::fs::write(&template, r#"{"dash": "%globals_get_dashboard%"}"#).unwrap();
    let out = crate::cli::cli(
        &data,
        &[
            "asset",
            "create",
            "--name",
            "Metabase",
            "--path",
            "/embed/metabase",
            "--template-file",
            template.to_str().unwrap(),
            "--generate-secret",
            "--request-param",
            "dashboard 10 [0-9]+",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        saved["request_params"],
        json!([{"name": "dashboard", "pattern": "[0-9]+", "max_length": 10}])
    );
}
