//! Delivery modes and CORS on the token URL: JSON on request when enabled, and exact-origin
//! CORS with credentials for listed origins only, preflight answered without rendering.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, api_error, asset_body, spawn_app, verify_hs};

const TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

#[tokio::test]
async fn json_delivery_answers_an_object_only_when_enabled_and_asked_for() {
    let app = spawn_app().await;
    let mut body = asset_body("/d/json", TEMPLATE);
    body["delivery"] = json!({"json": true});
    let saved = app.create_asset(body).await;
    assert_eq!(saved["delivery"], json!({"json": true}));
    app.create_asset(asset_body("/d/raw", TEMPLATE)).await;

    let get = |path: &'static str, accept: &'static str| {
        app.client
            .get(app.url(path))
            .bearer_auth(&app.admin_key)
            .header(header::ACCEPT, accept)
            .send()
    };
    let res = get("/d/json", "application/json").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        res.headers()
            .get_all(header::VARY)
            .iter()
            .any(|v| v == "Accept")
    );
    let answer: Value = res.json().await.unwrap();
    let obj = answer.as_object().unwrap();
    assert_eq!(obj.len(), 1, "{answer}");
    let (_, claims) = verify_hs(answer["jwt"].as_str().unwrap(), TEST_SECRET.as_bytes());
    assert_eq!(claims["sub"], "admin");

    // Raw when not asked for, when refused by q=0, and on assets without JSON delivery.
    for (path, accept) in [
        ("/d/json", "*/*"),
        ("/d/json", "application/jwt"),
        ("/d/json", "application/json;q=0, */*"),
        ("/d/raw", "application/json"),
    ] {
        let res = get(path, accept).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/jwt",
            "{path} {accept}"
        );
        verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());
    }
    // Refusals keep their empty bodies.
    let res = app
        .client
        .get(app.url("/d/json"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.text().await.unwrap(), "");

    // Edits that do not mention delivery keep it.
    let id = saved["id"].as_str().unwrap();
    let mut edit = asset_body("/d/json", TEMPLATE);
    edit["version"] = saved["version"].clone();
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["delivery"]["json"], true);
}

#[tokio::test]
async fn cors_echoes_listed_origins_with_credentials_and_nothing_for_others() {
    let app = spawn_app().await;
    let mut body = asset_body("/d/cors", TEMPLATE);
    body["cors_origins"] = json!(["https://app.example", "http://localhost:3000"]);
    let saved = app.create_asset(body).await;
    assert_eq!(
        saved["cors_origins"],
        json!(["https://app.example", "http://localhost:3000"])
    );
    let session = app
        .login_session("admin", crate::helpers::ADMIN_PASSWORD)
        .await
        .unwrap();
    let get = |origin: &'static str| {
        app.client
            .get(app.url("/d/cors"))
            .header(header::COOKIE, format!("jas_session={session}"))
            .header(header::ORIGIN, origin)
            .send()
    };
    let vary_origin = |res: &reqwest::Response| {
        res.headers()
            .get_all(header::VARY)
            .iter()
            .any(|v| v == "Origin")
    };
    let res = get("https://app.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    assert!(vary_origin(&res));
    for other in [
        "https://evil.example",
        "https://app.example.evil.example",
        "http://app.example",
        "null",
    ] {
        let res = get(other).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "the token itself is unaffected"
        );
        assert!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{other}"
        );
        assert!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
        assert!(vary_origin(&res));
    }

    // Preflight: no credentials, no rendering; listed origins only.
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/d/cors"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
    };
    let res = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    assert!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(res.text().await.unwrap(), "");
    let res = preflight("https://evil.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        res.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // No issuance was audited for the preflight.
    let issued = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "token.issue")
        .count();
    assert_eq!(issued, 5);

    // An asset without a list sends no CORS headers at all.
    app.create_asset(asset_body("/d/plain", TEMPLATE)).await;
    let res = app
        .client
        .get(app.url("/d/plain"))
        .bearer_auth(&app.admin_key)
        .header(header::ORIGIN, "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    assert!(res.headers().get(header::VARY).is_none());
}

#[tokio::test]
async fn cors_origins_are_validated() {
    let app = spawn_app().await;
    for bad in [
        "*",
        "https://app.example/",
        "app.example",
        "https://*.example",
    ] {
        let mut body = asset_body("/d/bad", TEMPLATE);
        body["cors_origins"] = json!([bad]);
        let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], "cors_origins", "{bad}");
    }
}

/// The query-string value of `name` in a URL, still percent-encoded.
fn raw_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Percent-decode (the test's own, independent of the server's encoder).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

const CONSUMER: &str = "https://consumer.example/sso/jwt?jwt={token}&return_to={return_to}";

fn redirect_body(path: &str) -> Value {
    let mut body = asset_body(path, TEMPLATE);
    body["delivery"] = json!({"redirect": {"url": CONSUMER,
        "return_to_allowlist": ["https://consumer.example/app/", "http://localhost:3000/cb"]}});
    body
}

#[tokio::test]
async fn redirect_delivery_carries_the_encoded_token_and_an_allowlisted_return_to() {
    let app = spawn_app().await;
    let saved = app.create_asset(redirect_body("/d/redirect")).await;
    assert_eq!(saved["delivery"]["redirect"]["url"], CONSUMER);
    let get = |query: &str| {
        app.client
            .get(app.url(&format!("/d/redirect{query}")))
            .bearer_auth(&app.admin_key)
            .send()
    };
    // The default stays raw: API clients are unaffected.
    let res = get("").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    verify_hs(&res.text().await.unwrap(), TEST_SECRET.as_bytes());

    let return_to = "https://consumer.example/app/page?x=1&y=a+b%20c#top";
    let encoded_rt = "https%3A%2F%2Fconsumer.example%2Fapp%2Fpage%3Fx%3D1%26y%3Da%2Bb%2520c%23top";
    let res = get(&format!("?delivery=redirect&return_to={encoded_rt}"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://consumer.example/sso/jwt?jwt="),
        "{location}"
    );
    assert_eq!(raw_param(&location, "return_to"), Some(encoded_rt));
    assert_eq!(
        decode(raw_param(&location, "return_to").unwrap()),
        return_to
    );
    let token = decode(raw_param(&location, "jwt").unwrap());
    let (_, claims) = verify_hs(&token, TEST_SECRET.as_bytes());
    assert_eq!(claims["sub"], "admin");
    assert_eq!(res.text().await.unwrap(), "");

    // No return_to: the placeholder becomes empty. Path prefix at a segment boundary.
    let res = get("?delivery=redirect").await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.ends_with("&return_to="), "{location}");
    let res = get("?delivery=redirect&return_to=http%3A%2F%2Flocalhost%3A3000%2Fcb%2Fdone")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);

    let issued_before = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "token.issue")
        .count();
    // Refused before anything is issued: 400 with an empty body.
    for query in [
        "?delivery=redirect&return_to=https%3A%2F%2Fevil.example%2Fapp%2F",
        "?delivery=redirect&return_to=http%3A%2F%2Fconsumer.example%2Fapp%2F",
        "?delivery=redirect&return_to=https%3A%2F%2Fconsumer.example%2Fapplication",
        "?delivery=redirect&return_to=https%3A%2F%2Fconsumer.example%2Fapp%2F..%2Fadmin",
        "?delivery=redirect&return_to=https%3A%2F%2Fconsumer.example%40evil.example%2Fapp%2F",
        "?delivery=redirect&return_to=https%3A%2F%2Fconsumer.example.evil.example%2Fapp%2F",
        "?delivery=redirect&return_to=%2Fapp%2F",
        "?delivery=redirect&return_to=https%3A%2F%2Fconsumer.example%2Fapp%2F%22%3E%3Cscript%3E",
        "?delivery=redirect&return_to=https%3A%2F%2Fconsumer.example%2Fapp%2F&return_to=https%3A%2F%2Fevil.example%2F",
        "?delivery=form_post",
        "?delivery=json",
        "?delivery=bogus",
    ] {
        let res = get(query).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(res.headers().get(header::LOCATION).is_none());
        assert_eq!(res.text().await.unwrap(), "", "{query}");
    }
    let events = app.audit().await;
    let issued: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "token.issue")
        .collect();
    assert_eq!(issued.len(), issued_before, "refusals issue nothing");
    assert!(
        issued
            .iter()
            .any(|e| e["detail"] == "delivery redirect" && e["outcome"] == "ok"),
        "the redirect is audited: {issued:?}"
    );
    // Never the token in the audit log.
    assert!(!serde_json::to_string(&events).unwrap().contains(&token));

    // A signed-out browser still gets 403, not a redirect.
    let res = app
        .client
        .get(app.url("/d/redirect?delivery=redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn the_default_mode_applies_without_a_query_and_raw_stays_available() {
    let app = spawn_app().await;
    let mut body = redirect_body("/d/default");
    body["delivery"]["default"] = json!("redirect");
    body["delivery"]["json"] = json!(true);
    let saved = app.create_asset(body).await;
    assert_eq!(saved["delivery"]["default"], "redirect");
    let session = app
        .login_session("admin", crate::helpers::ADMIN_PASSWORD)
        .await
        .unwrap();
    let res = app
        .client
        .get(app.url("/d/default?return_to=https%3A%2F%2Fconsumer.example%2Fapp%2F"))
        .header(header::COOKIE, format!("jas_session={session}"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    for (query, content_type) in [
        ("?delivery=raw", "application/jwt"),
        ("?delivery=json", "application/json"),
    ] {
        let res = app
            .client
            .get(app.url(&format!("/d/default{query}")))
            .bearer_auth(&app.admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], content_type);
    }
}

#[tokio::test]
async fn delivery_options_are_validated_at_save() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"redirect": {"url": "http://consumer.example/x?jwt={token}"}}),
            "delivery.redirect.url",
        ),
        (
            json!({"redirect": {"url": "https://consumer.example/x"}}),
            "delivery.redirect.url",
        ),
        (
            json!({"redirect": {"url": "https://consumer.example/x?jwt={token}&u={user}"}}),
            "delivery.redirect.url",
        ),
        (
            json!({"redirect": {"url": "https://consumer.example/x?jwt={token}",
                                "return_to_allowlist": ["consumer.example/app"]}}),
            "delivery.redirect.return_to_allowlist",
        ),
        (
            json!({"form_post": {"url": "https://consumer.example/x?jwt={token}"}}),
            "delivery.form_post.url",
        ),
        (
            json!({"form_post": {"url": "https://consumer.example/x", "field": "a b"}}),
            "delivery.form_post.field",
        ),
        (json!({"default": "redirect"}), "delivery.default"),
        (json!({"default": "json"}), "delivery.default"),
    ];
    for (delivery, field) in cases {
        let mut body = asset_body("/d/bad", TEMPLATE);
        body["delivery"] = delivery.clone();
        let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], field, "{delivery}");
    }
    // http is fine for this machine.
    let mut body = asset_body("/d/local", TEMPLATE);
    body["delivery"] = json!({"redirect": {"url": "http://127.0.0.1:8008/login?token={token}"}});
    app.create_asset(body).await;
}

#[tokio::test]
async fn form_post_delivery_is_an_auto_submitting_page_with_a_strict_csp() {
    let app = spawn_app().await;
    let mut body = asset_body("/d/form", TEMPLATE);
    body["delivery"] = json!({"default": "form_post", "form_post": {
        "url": "https://sso.example:8443/login?tenant=a&b=1", "field": "id_token",
        "return_to_allowlist": ["https://sso.example:8443/"]}});
    app.create_asset(body).await;
    let res =
        app.client
            .get(app.url(
                "/d/form?return_to=https%3A%2F%2Fsso.example%3A8443%2Fhome%3Fa%3D1%26b%3D%27x%27",
            ))
            .bearer_auth(&app.admin_key)
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"script-src 'self'"), "{csp}");
    assert!(
        directives.contains(&"form-action https://sso.example:8443"),
        "{csp}"
    );
    assert!(directives.contains(&"default-src 'none'"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains(
        r#"<form id="autopost" method="post" action="https://sso.example:8443/login?tenant=a&amp;b=1">"#
    ));
    let token = page
        .split(r#"<input type="hidden" name="id_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the token field");
    let (_, claims) = verify_hs(token, TEST_SECRET.as_bytes());
    assert_eq!(claims["sub"], "admin");
    assert!(page.contains(
        r#"<input type="hidden" name="return_to" value="https://sso.example:8443/home?a=1&amp;b=&#39;x&#39;">"#
    ));
    assert!(page.contains(r#"<script src="/static/autopost.js"></script>"#));
    assert!(page.contains("<noscript>"));
    assert!(page.contains(r#"<button type="submit">Continue</button>"#));
    // No inline script: the only <script> is the static one.
    assert_eq!(page.matches("<script").count(), 1);

    let js = app
        .client
        .get(app.url("/static/autopost.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.text().await.unwrap().contains("autopost"));

    // A return_to off the allowlist: 400, no page.
    let res = app
        .client
        .get(app.url("/d/form?return_to=https%3A%2F%2Fsso.example%2Fhome"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.text().await.unwrap(), "");
}

#[tokio::test]
async fn the_zendesk_preset_prefills_form_post_delivery_and_refuses_the_placeholder() {
    let app = spawn_app().await;
    let body = json!({"name": "Help desk", "path": "/sso/zendesk", "preset": "zendesk",
                      "generate_secret": true});
    let e = api_error(app.post_asset(body.clone()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(e["field"], "delivery.form_post.url", "{e}");
    assert!(e["detail"].as_str().unwrap().contains("{subdomain}"), "{e}");

    // Zendesk's documented flow: its remote login URL sends the browser here with return_to;
    // the page POSTs `jwt` (and `return_to`) to https://<subdomain>.zendesk.com/access/jwt.
    let mut body = body;
    body["delivery"] = json!({"default": "form_post", "form_post": {
        "url": "https://acme.zendesk.com/access/jwt",
        "return_to_allowlist": ["https://acme.zendesk.com/hc/"]}});
    let saved = app.create_asset(body).await;
    assert!(
        !saved["warnings"].to_string().contains("retiring"),
        "{saved}"
    );
    let secret = saved["generated_secret"].as_str().unwrap().to_owned();
    let res = app
        .client
        .get(app.url(
            "/sso/zendesk?brand_id=1&locale_id=1&return_to=https%3A%2F%2Facme.zendesk.com%2Fhc%2Fen-us",
        ))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(
            r#"<form id="autopost" method="post" action="https://acme.zendesk.com/access/jwt">"#
        ),
        "{page}"
    );
    assert!(page.contains(
        r#"<input type="hidden" name="return_to" value="https://acme.zendesk.com/hc/en-us">"#
    ));
    let token = page
        .split(r#"<input type="hidden" name="jwt" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the jwt field");
    let (header, claims) = verify_hs(token, secret.as_bytes());
    assert_eq!(header["alg"], "HS256");
    assert!(claims["jti"].is_string() && claims["iat"].is_i64());
    // Redirect delivery alone still works, with a warning that Zendesk is retiring it.
    let body = json!({"name": "Help desk", "path": "/sso/zd-redirect", "preset": "zendesk",
        "generate_secret": true, "delivery": {"default": "redirect", "redirect": {
        "url": "https://acme.zendesk.com/access/jwt?jwt={token}&return_to={return_to}",
        "return_to_allowlist": ["https://acme.zendesk.com/hc/"]}}});
    let saved = app.create_asset(body).await;
    assert!(
        saved["warnings"].to_string().contains("retiring"),
        "{saved}"
    );
    // Without redirect or form post, the save warns.
    let body = json!({"name": "Help desk", "path": "/sso/zd2", "preset": "zendesk",
                      "generate_secret": true, "delivery": {}});
    let saved = app.create_asset(body).await;
    assert!(
        saved["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("/access/jwt")),
        "{saved}"
    );
}
