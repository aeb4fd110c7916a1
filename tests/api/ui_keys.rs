//! The key pages of the admin UI: the key pair in the asset form, the keys panel (public key
//! PEM and JWK, download, rotation), the next HMAC secret, the preview and the debugger with a
//! pasted public key, driven through their HTML forms as a browser without JavaScript does.

use reqwest::{Method, Response, StatusCode, header};
use serde_json::Value;

use crate::helpers::{Browser, TEST_SECRET, TestApp, fixture, location, spawn_app, verify_hs};

const TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;

fn expected(name: &str) -> Value {
    let all: Value = serde_json::from_str(&fixture("expected.json")).unwrap();
    all[name].clone()
}

/// Undo tera's HTML escaping.
fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of the element with this id (first `>` after it up to the next `<`).
fn element_text(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    unescape(&rest[open..open + close])
}

/// The fields of a new key-pair asset form.
fn key_asset<'a>(name: &'a str, path: &'a str, algorithm: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("path", path),
        ("algorithm", algorithm),
        ("secret", ""),
        ("template", TEMPLATE),
        ("expiry_seconds", "600"),
        ("read_mode", "anyone"),
    ]
}

async fn asset_at(app: &TestApp, path: &str) -> Value {
    let res = app.api(Method::GET, "/api/v1/assets", None).await;
    let all: Vec<Value> = crate::helpers::api_items(res).await;
    all.into_iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no asset at {path}"))
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let res = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn token(app: &TestApp, path: &str) -> String {
    let res = app.get_token(path, &app.admin_key).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

fn header_of(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_rs256_asset_made_in_the_form_shows_its_kid_and_public_key() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let mut form = key_asset("Chat", "/tokens/chat", "RS256");
    form.extend([("key_mode", "generate"), ("key_type", "")]);
    let res = app.post_form(&b, "/admin/assets/new", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    let a = asset_at(&app, "/tokens/chat").await;
    assert_eq!(
        to,
        format!(
            "/admin/assets/{}?done=created#keys",
            a["id"].as_str().unwrap()
        )
    );
    assert_eq!(a["algorithm"], "RS256");
    assert_eq!(a["key_type"], "RSA-2048", "the usual type for RS256");
    let kid = a["kid"].as_str().unwrap();

    let page = app.page_html(&b, to.trim_end_matches("#keys")).await;
    assert!(
        page.contains(&format!("its tokens carry kid {kid}")),
        "{page}"
    );
    assert_eq!(element_text(&page, "active-kid"), kid);
    assert_eq!(
        element_text(&page, "public-key-pem"),
        a["public_key_pem"].as_str().unwrap()
    );
    let jwk: Value = serde_json::from_str(&element_text(&page, "public-jwk")).unwrap();
    assert_eq!(jwk, a["public_jwk"]);
    assert!(jwk.get("d").is_none());
    let text = unescape(&page);
    assert!(text.contains(&format!("{}/.well-known/jwks.json", app.address)));
    assert!(text.contains(&format!("{}/tokens/chat/jwks.json", app.address)));
    assert!(page.contains("Rotate key"));
    assert!(
        page.contains(">active<"),
        "the key list marks the active key"
    );
    // The asset list badges the algorithm; HS256 assets get no such badge.
    let list = app.page_html(&b, "/admin/assets").await;
    assert!(list.contains(">RS256</span>"), "{list}");
    // Tokens carry the kid.
    assert_eq!(header_of(&token(&app, "/tokens/chat").await)["kid"], kid);
}

#[tokio::test]
async fn key_types_and_imports_are_chosen_in_the_form_and_private_keys_never_come_back() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;

    // A chosen key type.
    let mut form = key_asset("P384", "/tokens/p384", "ES384");
    form.extend([("key_mode", "generate"), ("key_type", "P-384")]);
    assert_eq!(
        app.post_form(&b, "/admin/assets/new", &form).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(asset_at(&app, "/tokens/p384").await["key_type"], "P-384");

    // A key type that does not fit: the error is on the key section, the form kept.
    let mut form = key_asset("Mismatch", "/tokens/mismatch", "ES256");
    form.extend([("key_mode", "generate"), ("key_type", "RSA-2048")]);
    let res = app.post_form(&b, "/admin/assets/new", &form).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"key-error\""), "{page}");
    assert!(
        page.contains("href=\"#key\">Key pair</a>"),
        "the summary links to it"
    );
    assert!(unescape(&page).contains("value=\"/tokens/mismatch\""));

    // An imported PKCS#8 key: its kid and public key, and the private key is not shown again.
    let p256 = fixture("p256.pem");
    let mut form = key_asset("Imported", "/tokens/imported", "ES256");
    form.extend([("key_mode", "import"), ("key_pem", p256.as_str())]);
    let res = app.post_form(&b, "/admin/assets/new", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let a = asset_at(&app, "/tokens/imported").await;
    let want = expected("p256.pem");
    assert_eq!(a["kid"], want["kid"]);
    let page = app
        .page_html(&b, location(&res).trim_end_matches("#keys"))
        .await;
    assert_eq!(
        element_text(&page, "public-key-pem"),
        want["spki"].as_str().unwrap()
    );
    let body_line = p256.lines().nth(1).unwrap();
    assert!(!page.contains(body_line), "the private key is on the page");
    assert!(!unescape(&page).contains(body_line));

    // PKCS#1 RSA is accepted too.
    let pkcs1 = fixture("rsa2048-pkcs1.pem");
    let mut form = key_asset("Pkcs1", "/tokens/pkcs1", "PS256");
    form.extend([("key_mode", "import"), ("key_pem", pkcs1.as_str())]);
    assert_eq!(
        app.post_form(&b, "/admin/assets/new", &form).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        asset_at(&app, "/tokens/pkcs1").await["kid"],
        expected("rsa2048.pem")["kid"]
    );

    // Refused imports name the problem next to the key section; the PEM stays in that form.
    for (file, algorithm) in [
        ("encrypted.pem", "RS256"),
        ("rsa1024.pem", "RS256"),
        ("p256.pem", "RS256"),
        ("rsa2048-public.pem", "RS256"),
    ] {
        let pem = fixture(file);
        let mut form = key_asset("Refused", "/tokens/refused", algorithm);
        form.extend([("key_mode", "import"), ("key_pem", pem.as_str())]);
        let res = app.post_form(&b, "/admin/assets/new", &form).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{file}");
        let page = res.text().await.unwrap();
        assert!(page.contains("id=\"key-error\""), "{file}: {page}");
        let second = pem.lines().nth(1).unwrap();
        assert!(
            unescape(&page).contains(second),
            "{file}: the PEM was not kept"
        );
    }
    // Import without a PEM.
    let mut form = key_asset("Empty", "/tokens/empty", "RS256");
    form.extend([("key_mode", "import"), ("key_pem", "  ")]);
    let res = app.post_form(&b, "/admin/assets/new", &form).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("paste the private key"));

    // The secret field is for HMAC only: typed next to RS256 it is ignored, as its hint says.
    let mut form = key_asset("Ignored", "/tokens/ignored", "RS256");
    form.retain(|(k, _)| *k != "secret");
    form.extend([("secret", "typed-but-ignored"), ("key_mode", "generate")]);
    assert_eq!(
        app.post_form(&b, "/admin/assets/new", &form).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(asset_at(&app, "/tokens/ignored").await["secret_bytes"], 0);
}

/// Save the edit form of the EdDSA asset at /tokens/edit with this key mode.
async fn edit_key(app: &TestApp, b: &Browser, id: &str, version: &str, mode: &str) -> Response {
    let mut fields = key_asset("Edit", "/tokens/edit", "EdDSA");
    fields.extend([("key_mode", mode), ("version", version)]);
    app.post_form(b, &format!("/admin/assets/{id}"), &fields)
        .await
}

#[tokio::test]
async fn editing_keeps_the_key_or_replaces_it() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let mut form = key_asset("Edit", "/tokens/edit", "EdDSA");
    form.push(("key_mode", "generate"));
    app.post_form(&b, "/admin/assets/new", &form).await;
    let a = asset_at(&app, "/tokens/edit").await;
    let id = a["id"].as_str().unwrap().to_owned();
    let first_kid = a["kid"].as_str().unwrap().to_owned();
    let page = app.page_html(&b, &format!("/admin/assets/{id}")).await;
    assert!(
        page.contains("value=\"keep\" checked"),
        "keep is the default on edit"
    );
    assert!(
        !page.contains("id=\"secret-state\""),
        "no secret to speak of"
    );

    let res = edit_key(&app, &b, &id, &a["version"].to_string(), "keep").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let kept = asset_at(&app, "/tokens/edit").await;
    assert_eq!(kept["kid"], first_kid.as_str());

    let res = edit_key(&app, &b, &id, &kept["version"].to_string(), "generate").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let replaced = asset_at(&app, "/tokens/edit").await;
    assert_ne!(replaced["kid"], first_kid.as_str());
    assert_eq!(replaced["key_type"], "Ed25519");
    let kids = jwks_kids(&app).await;
    assert!(
        kids.contains(&first_kid),
        "the replaced key stays published"
    );
}

#[tokio::test]
async fn the_public_key_downloads_as_a_pem_file_for_administrators_only() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let mut form = key_asset("Pem", "/tokens/pem", "RS256");
    form.push(("key_mode", "generate"));
    app.post_form(&b, "/admin/assets/new", &form).await;
    let a = asset_at(&app, "/tokens/pem").await;
    let url = format!("/admin/assets/{}/public-key.pem", a["id"].as_str().unwrap());

    let res = app.get_page(&b, &url).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/x-pem-file"
    );
    let disposition = res.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"tokens-pem"),
        "{disposition}"
    );
    let body = res.text().await.unwrap();
    assert_eq!(body, a["public_key_pem"].as_str().unwrap());
    assert!(body.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(!body.contains("PRIVATE"));

    // Not signed in: to the sign-in page. Not an administrator: 403.
    let res = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login?next="));
    app.create_user(serde_json::json!({"username": "bob", "password": "bob-password-123"}))
        .await;
    let bob = app.browser("bob", "bob-password-123").await;
    assert_eq!(
        app.get_page(&bob, &url).await.status(),
        StatusCode::FORBIDDEN
    );

    // HMAC assets have no public key; unknown assets neither.
    let hs = app
        .create_asset(crate::helpers::asset_body("/tokens/hs", TEMPLATE))
        .await;
    let hs_url = format!(
        "/admin/assets/{}/public-key.pem",
        hs["id"].as_str().unwrap()
    );
    assert_eq!(
        app.get_page(&b, &hs_url).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_page(&b, "/admin/assets/nope/public-key.pem")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rotating_from_the_keys_panel_keeps_the_old_key_published() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let mut form = key_asset("Rotate", "/tokens/rotate", "ES256");
    form.push(("key_mode", "generate"));
    app.post_form(&b, "/admin/assets/new", &form).await;
    let a = asset_at(&app, "/tokens/rotate").await;
    let id = a["id"].as_str().unwrap();
    let old_kid = a["kid"].as_str().unwrap().to_owned();
    let old_token = token(&app, "/tokens/rotate").await;

    // Without the CSRF token: refused, nothing rotated.
    let res = app
        .client
        .post(app.url(&format!("/admin/assets/{id}/rotate")))
        .header(header::COOKIE, format!("jas_session={}", b.session))
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        asset_at(&app, "/tokens/rotate").await["kid"],
        old_kid.as_str()
    );
    // GET is not a way to rotate.
    assert_eq!(
        app.get_page(&b, &format!("/admin/assets/{id}/rotate"))
            .await
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );

    let res = app
        .post_form(&b, &format!("/admin/assets/{id}/rotate"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!("/admin/assets/{id}?done=rotated#keys")
    );
    let rotated = asset_at(&app, "/tokens/rotate").await;
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let page = app
        .page_html(&b, &format!("/admin/assets/{id}?done=rotated"))
        .await;
    assert!(
        page.contains(&format!(
            "Key rotated: new tokens carry kid {new_kid}; the previous key stays published until "
        )),
        "{page}"
    );
    assert!(
        page.contains(&old_kid),
        "the key list shows the retired key"
    );
    assert!(page.contains("published until <time"));
    let kids = jwks_kids(&app).await;
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
    assert_eq!(
        header_of(&token(&app, "/tokens/rotate").await)["kid"],
        new_kid
    );

    // The debugger still verifies the old token against the asset (its key is published).
    let res = app
        .post_form(
            &b,
            "/admin/debugger",
            &[("token", &old_token), ("verify", "asset"), ("asset", id)],
        )
        .await;
    let page = unescape(&res.text().await.unwrap());
    assert!(
        page.contains("Signature verified, and the token is valid now."),
        "{page}"
    );
    assert!(page.contains(&format!("retired (still published) key {old_kid}")));

    // HMAC assets have nothing to rotate.
    let hs = app
        .create_asset(crate::helpers::asset_body("/tokens/hs", TEMPLATE))
        .await;
    let res = app
        .post_form(
            &b,
            &format!("/admin/assets/{}/rotate", hs["id"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_next_secret_is_scheduled_shown_once_when_generated_and_cancelled() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let a = app
        .create_asset(crate::helpers::asset_body("/tokens/next", TEMPLATE))
        .await;
    let id = a["id"].as_str().unwrap();
    let url = format!("/admin/assets/{id}/next-secret");
    let page = app.page_html(&b, &format!("/admin/assets/{id}")).await;
    assert!(page.contains("id=\"next-secret\""));
    assert!(page.contains("Switch at (UTC)"));
    assert!(
        !page.contains("id=\"keys\""),
        "HMAC assets have no keys panel"
    );

    // Mistakes are shown in the panel, with what was typed kept.
    let res = app
        .post_form(&b, &url, &[("next_secret", "short"), ("switch_at", "soon")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"switch-at-error\""), "{page}");
    assert!(page.contains("value=\"soon\""));
    let res = app
        .post_form(
            &b,
            &url,
            &[("next_secret", "short"), ("switch_at", "2099-01-01T10:00")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"next-secret-error\""), "{page}");
    assert!(page.contains("Accept a weak next secret"));
    assert!(
        page.contains("value=\"short\""),
        "the typed next secret is kept in its form"
    );
    let res = app
        .post_form(&b, &url, &[("switch_at", "2099-01-01T10:00")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Scheduled in the future: shown as pending with its time (read as UTC), then cancelled.
    let next = "a-next-secret-0123456789abcdef-0123456789";
    let res = app
        .post_form(
            &b,
            &url,
            &[("next_secret", next), ("switch_at", "2099-01-01T10:00")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!("/admin/assets/{id}?done=next_secret#next-secret")
    );
    let api = app.get_asset(id).await;
    assert_eq!(api["next_secret_at"], "2099-01-01T10:00:00Z");
    let page = app
        .page_html(&b, &format!("/admin/assets/{id}?done=next_secret"))
        .await;
    assert!(page.contains(
        "Next secret scheduled: tokens are signed with it from 2099-01-01 10:00:00 UTC on."
    ));
    assert!(page.contains("A switch is scheduled"));
    assert!(page.contains("data-countdown=\"4070944800\""));
    assert!(!page.contains(next), "the next secret is not shown again");
    verify_hs(&token(&app, "/tokens/next").await, TEST_SECRET.as_bytes());

    let res = app.post_form(&b, &format!("{url}/cancel"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.get_asset(id).await["next_secret_at"].is_null());
    let page = app
        .page_html(
            &b,
            &format!("/admin/assets/{id}?done=next_secret_cancelled"),
        )
        .await;
    assert!(page.contains("The scheduled switch was cancelled"));
    assert!(!page.contains("A switch is scheduled"));

    // Generated, with a time in the past: shown once, and tokens switch to it at once.
    let res = app
        .post_form(
            &b,
            &url,
            &[
                ("generate_next_secret", "1"),
                ("switch_at", "2020-01-01T00:00"),
            ],
        )
        .await;
    let page = app.shown_once(&b, res).await;
    assert!(page.contains("Store the next secret now"));
    let secret = element_text(&page, "generated-secret");
    assert!(secret.len() >= 32, "{secret}");
    verify_hs(&token(&app, "/tokens/next").await, secret.as_bytes());
    let page = app.page_html(&b, &format!("/admin/assets/{id}")).await;
    assert!(!page.contains(&secret));

    // Key-pair assets have no secret to switch.
    let mut form = key_asset("Rs", "/tokens/rs", "RS256");
    form.push(("key_mode", "generate"));
    app.post_form(&b, "/admin/assets/new", &form).await;
    let rs = asset_at(&app, "/tokens/rs").await;
    let res = app
        .post_form(
            &b,
            &format!("/admin/assets/{}/next-secret", rs["id"].as_str().unwrap()),
            &[
                ("generate_next_secret", "1"),
                ("switch_at", "2099-01-01T10:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn preview_and_debugger_verify_key_pair_tokens() {
    let app = spawn_app().await;
    let b = app.admin_browser().await;
    let mut form = key_asset("Preview", "/tokens/preview", "PS256");
    form.push(("key_mode", "generate"));
    app.post_form(&b, "/admin/assets/new", &form).await;
    let a = asset_at(&app, "/tokens/preview").await;
    let id = a["id"].as_str().unwrap();
    let kid = a["kid"].as_str().unwrap();
    let page = app
        .page_html(&b, &format!("/admin/assets/{id}/preview"))
        .await;
    assert!(
        page.contains(&format!(
            "Signature verified with key <code class=\"kid\">{kid}</code>"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("&quot;kid&quot;: &quot;{kid}&quot;")),
        "the decoded header has the kid"
    );

    // The debugger: a pasted public key verifies; another one does not; none is a field error.
    let t = token(&app, "/tokens/preview").await;
    let pem = a["public_key_pem"].as_str().unwrap();
    let debug = |key: String| {
        let t = t.clone();
        let b = &b;
        let app = &app;
        async move {
            app.post_form(
                b,
                "/admin/debugger",
                &[
                    ("token", &t),
                    ("verify", "public_key"),
                    ("public_key", &key),
                ],
            )
            .await
        }
    };
    let res = debug(pem.to_owned()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = unescape(&res.text().await.unwrap());
    assert!(
        page.contains("Signature verified, and the token is valid now."),
        "{page}"
    );
    assert!(page.contains("value=\"public_key\" checked"));
    assert!(
        page.contains(pem.lines().nth(1).unwrap()),
        "the pasted key is kept"
    );

    let other = expected("rsa2048.pem")["spki"].as_str().unwrap().to_owned();
    let page = unescape(&debug(other).await.text().await.unwrap());
    assert!(page.contains("Bad signature."), "{page}");

    let res = debug(String::new()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"public-key-error\"")
    );
    let res = debug("not a key".into()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // A key of another type: the algorithm does not fit it.
    let p256 = expected("p256.pem")["spki"].as_str().unwrap().to_owned();
    let page = unescape(&debug(p256).await.text().await.unwrap());
    assert!(page.contains("Wrong algorithm"), "{page}");

    // Nothing chosen or pasted: the asset whose published key has the token's kid.
    let res = app
        .post_form(&b, "/admin/debugger", &[("token", &t), ("verify", "auto")])
        .await;
    let page = unescape(&res.text().await.unwrap());
    assert!(
        page.contains("Signature verified, and the token is valid now."),
        "{page}"
    );
    assert!(page.contains("found by the token's kid"), "{page}");
    assert!(page.contains("value=\"auto\" checked"));
    // A kid no asset publishes: decoded, and said why it is not verified.
    let forged = {
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        parts[0] = b64.encode(br#"{"alg":"RS256","typ":"JWT","kid":"nobody-publishes-this"}"#);
        parts.join(".")
    };
    let res = app
        .post_form(&b, "/admin/debugger", &[("token", &forged)])
        .await;
    let page = unescape(&res.text().await.unwrap());
    assert!(
        page.contains("no asset publishes a key with this token's kid"),
        "{page}"
    );
}
