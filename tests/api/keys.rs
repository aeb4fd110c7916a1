//! Asymmetric algorithms, key import, JWKS, rotation and the scheduled HMAC secret switch.
//! Signatures are checked with the `openssl` command, independently of the server's code.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, TestApp, api_error, fixture, spawn_app, verify_hs};

const TEMPLATE: &str = r#"{"sub": "%globals_user_attribute_username%"}"#;
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

pub(crate) fn asym_body(path: &str, algorithm: &str) -> Value {
    json!({ "name": format!("Asset {algorithm}"), "path": path, "algorithm": algorithm, "template": TEMPLATE })
}

pub(crate) fn part_json(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// DER INTEGER of an unsigned big-endian number.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

/// Verify a compact JWS with `openssl` against a public key PEM.
pub(crate) fn openssl_verifies(token: &str, public_pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let alg = part_json(token, 0)["alg"].as_str().unwrap().to_owned();
    let pem = dir.path().join("pub.pem");
    let data = dir.path().join("data.bin");
    let sig_file = dir.path().join("sig.bin");
    std::fs::write(&pem, public_pem).unwrap();
    std::fs::write(&data, input).unwrap();
    let sig = if alg.starts_with("ES") {
        // JWS carries r || s; openssl wants an ASN.1 SEQUENCE of two INTEGERs.
        let (r, s) = sig.split_at(sig.len() / 2);
        let mut body = der_integer(r);
        body.extend(der_integer(s));
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        der
    } else {
        sig
    };
    std::fs::write(&sig_file, sig).unwrap();
    let mut cmd = Command::new("openssl");
    if alg == "EdDSA" {
        cmd.args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&pem)
            .args(["-rawin", "-in"])
            .arg(&data)
            .arg("-sigfile")
            .arg(&sig_file);
    } else {
        let digest = match &alg[2..] {
            "256" => "-sha256",
            "384" => "-sha384",
            "512" => "-sha512",
            other => panic!("unexpected {other}"),
        };
        cmd.args(["dgst", digest, "-verify"]).arg(&pem);
        if alg.starts_with("PS") {
            // RFC 7518 §3.5: the salt is as long as the hash.
            cmd.args([
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ]);
        }
        cmd.arg("-signature").arg(&sig_file).arg(&data);
    }
    let out = cmd.output().expect("openssl runs");
    out.status.success()
}

pub(crate) async fn token(app: &TestApp, path: &str) -> String {
    let res = app.get_token(path, &app.admin_key).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

pub(crate) async fn jwks(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let res = app.client.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    if status != StatusCode::OK {
        return (status, Value::Null);
    }
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=300");
    let body: Value = res.json().await.unwrap();
    for k in body["keys"].as_array().unwrap() {
        for m in PRIVATE_MEMBERS {
            assert!(k.get(*m).is_none(), "private member {m} in {k}");
        }
        assert_eq!(k["use"], "sig");
    }
    (status, body)
}

pub(crate) fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_algorithm_issues_tokens_with_its_kid_that_openssl_verifies() {
    let app = spawn_app().await;
    for (alg, key_type) in [
        ("RS256", "RSA-2048"),
        ("RS384", "RSA-2048"),
        ("RS512", "RSA-2048"),
        ("PS256", "RSA-2048"),
        ("PS384", "RSA-2048"),
        ("PS512", "RSA-2048"),
        ("ES256", "P-256"),
        ("ES384", "P-384"),
        ("EdDSA", "Ed25519"),
    ] {
        let path = format!("/keys/{}", alg.to_lowercase());
        let view = app.create_asset(asym_body(&path, alg)).await;
        assert_eq!(view["algorithm"], alg);
        assert_eq!(view["key_type"], key_type, "{alg}");
        assert_eq!(view["secret_bytes"], 0);
        let kid = view["kid"].as_str().unwrap();
        assert_eq!(view["public_jwk"]["kid"], kid);
        assert_eq!(view["public_jwk"]["alg"], alg);
        assert_eq!(view["keys"].as_array().unwrap().len(), 1);
        let pem = view["public_key_pem"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");

        let t = token(&app, &path).await;
        let header = part_json(&t, 0);
        assert_eq!(header, json!({"alg": alg, "typ": "JWT", "kid": kid}));
        assert_eq!(part_json(&t, 1)["sub"], "admin");
        assert!(openssl_verifies(&t, pem), "{alg}: openssl verifies");
        // A token altered after signing does not verify.
        let (input, sig) = t.rsplit_once('.').unwrap();
        let forged = format!("{}x.{sig}", input);
        assert!(!openssl_verifies(&forged, pem), "{alg}: altered token");

        // The PEM download is the same key.
        let id = view["id"].as_str().unwrap();
        let res = app
            .api(
                Method::GET,
                &format!("/api/v1/assets/{id}/public-key.pem"),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/x-pem-file"
        );
        assert_eq!(res.text().await.unwrap(), pem);
    }
    // HMAC assets have no public key.
    let hs = app
        .create_asset(crate::helpers::asset_body("/keys/hs", TEMPLATE))
        .await;
    assert_eq!(hs["key_type"], "HMAC");
    assert!(hs["kid"].is_null() && hs["public_key_pem"].is_null() && hs["public_jwk"].is_null());
    assert_eq!(hs["keys"], json!([]));
    let id = hs["id"].as_str().unwrap();
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/public-key.pem"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let t = token(&app, "/keys/hs").await;
    assert!(part_json(&t, 0).get("kid").is_none());
}

#[tokio::test]
async fn jwks_publishes_live_asymmetric_keys_only_and_drops_trashed_and_purged_assets() {
    let app = spawn_app().await;
    app.create_asset(crate::helpers::asset_body("/j/hs", TEMPLATE))
        .await;
    let es = app.create_asset(asym_body("/j/es", "ES256")).await;
    let ed = app.create_asset(asym_body("/j/ed", "EdDSA")).await;
    let es_kid = es["kid"].as_str().unwrap().to_owned();
    let ed_kid = ed["kid"].as_str().unwrap().to_owned();

    let (status, all) = jwks(&app, "/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut listed = kids(&all);
    listed.sort();
    let mut expected = vec![es_kid.clone(), ed_kid.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    let es_jwk = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == es_kid.as_str())
        .unwrap();
    assert_eq!(es_jwk, &es["public_jwk"]);
    assert_eq!(es_jwk["kty"], "EC");
    assert_eq!(es_jwk["crv"], "P-256");
    assert_eq!(es_jwk["alg"], "ES256");

    let (status, one) = jwks(&app, "/j/es/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kids(&one), vec![es_kid.clone()]);
    assert_eq!(jwks(&app, "/j/hs/jwks.json").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        jwks(&app, "/j/none/jwks.json").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        jwks(&app, "/.well-known/other").await.0,
        StatusCode::NOT_FOUND
    );

    // Trash: gone from both; restore: back.
    let id = es["id"].as_str().unwrap();
    assert_eq!(app.asset_action(id, "trash").await.status(), StatusCode::OK);
    assert_eq!(
        kids(&jwks(&app, "/.well-known/jwks.json").await.1),
        vec![ed_kid.clone()]
    );
    assert_eq!(jwks(&app, "/j/es/jwks.json").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.asset_action(id, "restore").await.status(),
        StatusCode::OK
    );
    assert_eq!(jwks(&app, "/j/es/jwks.json").await.0, StatusCode::OK);

    // Purge: the record and its keys are gone.
    assert_eq!(app.asset_action(id, "trash").await.status(), StatusCode::OK);
    assert_eq!(app.purge_asset(id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(jwks(&app, "/j/es/jwks.json").await.0, StatusCode::NOT_FOUND);
    assert!(!kids(&jwks(&app, "/.well-known/jwks.json").await.1).contains(&es_kid));
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/assets/{id}/public-key.pem"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rotation_makes_a_new_key_active_and_keeps_the_old_one_published() {
    let app = spawn_app().await;
    let before = app.create_asset(asym_body("/r/chat", "RS256")).await;
    let id = before["id"].as_str().unwrap();
    let old_kid = before["kid"].as_str().unwrap().to_owned();
    let old_pem = before["public_key_pem"].as_str().unwrap().to_owned();
    let old_token = token(&app, "/r/chat").await;

    let res = app.asset_action(id, "rotate").await;
    assert_eq!(res.status(), StatusCode::OK);
    let after: Value = res.json().await.unwrap();
    let new_kid = after["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(after["key_type"], "RSA-2048");
    assert_eq!(after["version"], before["version"].as_u64().unwrap() + 1);
    let keys = after["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], new_kid.as_str());
    assert!(keys[0]["retired_at"].is_null() && keys[0]["published_until"].is_null());
    assert_eq!(keys[1]["kid"], old_kid.as_str());
    let retired: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(keys[1]["retired_at"].clone()).unwrap();
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(keys[1]["published_until"].clone()).unwrap();
    assert_eq!((until - retired).num_seconds(), 600 + 60);

    // New tokens carry the new kid; the old kid is still published and old tokens verify.
    let new_token = token(&app, "/r/chat").await;
    assert_eq!(part_json(&new_token, 0)["kid"], new_kid.as_str());
    assert!(openssl_verifies(
        &new_token,
        after["public_key_pem"].as_str().unwrap()
    ));
    assert!(!openssl_verifies(&new_token, &old_pem));
    let (_, set) = jwks(&app, "/r/chat/jwks.json").await;
    assert_eq!(kids(&set), vec![new_kid.clone(), old_kid.clone()]);
    assert_eq!(part_json(&old_token, 0)["kid"], old_kid.as_str());
    assert!(openssl_verifies(&old_token, &old_pem));
    assert_eq!(kids(&jwks(&app, "/.well-known/jwks.json").await.1).len(), 2);

    // An edit without a new key keeps both; with a new key it is a rotation too.
    let mut body = asym_body("/r/chat", "PS256");
    body["version"] = after["version"].clone();
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["kid"], new_kid.as_str());
    assert_eq!(edited["keys"].as_array().unwrap().len(), 2);
    let ps = token(&app, "/r/chat").await;
    assert_eq!(part_json(&ps, 0)["alg"], "PS256");
    assert!(openssl_verifies(
        &ps,
        after["public_key_pem"].as_str().unwrap()
    ));

    // The admin pages of an asymmetric asset render (edit form, preview with verification).
    let session = app
        .login_session("admin", crate::helpers::ADMIN_PASSWORD)
        .await
        .unwrap();
    for page in [
        format!("/admin/assets/{id}"),
        format!("/admin/assets/{id}/preview"),
    ] {
        let res = app
            .client
            .get(app.url(&page))
            .header(header::COOKIE, format!("jas_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let html = res.text().await.unwrap();
        assert!(!html.contains("PRIVATE"), "{page}");
    }

    // HMAC assets are rotated with a next secret.
    let hs = app
        .create_asset(crate::helpers::asset_body("/r/hs", TEMPLATE))
        .await;
    let res = app.asset_action(hs["id"].as_str().unwrap(), "rotate").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn keys_are_imported_as_pkcs8_or_pkcs1_and_bad_keys_are_field_errors() {
    let app = spawn_app().await;
    let expected: Value = serde_json::from_str(&fixture("expected.json")).unwrap();
    let rsa_kid = expected["rsa2048.pem"]["kid"].as_str().unwrap();
    for (i, file) in ["rsa2048.pem", "rsa2048-pkcs1.pem"].into_iter().enumerate() {
        let mut body = asym_body(&format!("/imp/rsa{i}"), "RS256");
        body["key"] = json!({ "pem": fixture(file) });
        let view = app.create_asset(body).await;
        assert_eq!(view["kid"], rsa_kid, "{file}");
        assert_eq!(view["public_jwk"]["n"], expected["rsa2048.pem"]["jwk"]["n"]);
        assert_eq!(view["public_key_pem"], expected["rsa2048.pem"]["spki"]);
        let t = token(&app, &format!("/imp/rsa{i}")).await;
        assert_eq!(part_json(&t, 0)["kid"], rsa_kid);
        assert!(openssl_verifies(
            &t,
            view["public_key_pem"].as_str().unwrap()
        ));
    }
    let mut body = asym_body("/imp/ed", "EdDSA");
    body["key"] = json!({ "pem": fixture("ed25519.pem") });
    assert_eq!(
        app.create_asset(body).await["kid"],
        expected["ed25519.pem"]["kid"]
    );
    let mut body = asym_body("/imp/big", "RS512");
    body["key"] = json!({ "generate": "RSA-3072" });
    assert_eq!(app.create_asset(body).await["key_type"], "RSA-3072");

    for (alg, key, words) in [
        (
            "RS256",
            json!({"pem": fixture("encrypted.pem")}),
            "encrypted",
        ),
        (
            "RS256",
            json!({"pem": "-----BEGIN PRIVATE KEY-----\nnot-base64\n-----END PRIVATE KEY-----\n"}),
            "malformed",
        ),
        ("RS256", json!({"pem": "hello"}), "PEM"),
        ("RS256", json!({"pem": fixture("rsa1024.pem")}), "1024-bit"),
        ("RS256", json!({"pem": fixture("p256.pem")}), "P-256"),
        ("ES384", json!({"pem": fixture("p256.pem")}), "P-256"),
        (
            "RS256",
            json!({"pem": fixture("rsa2048-public.pem")}),
            "public key",
        ),
        (
            "ES256",
            json!({"pem": fixture("secp256k1.pem")}),
            "secp256k1",
        ),
        ("RS256", json!({"generate": "P-256"}), "P-256"),
        ("EdDSA", json!({"generate": "RSA-1024"}), "unknown key type"),
        ("HS256", json!({"generate": "P-256"}), "asymmetric"),
    ] {
        let mut body = asym_body("/imp/bad", alg);
        body["key"] = key;
        if alg == "HS256" {
            body["secret"] = json!(TEST_SECRET);
        }
        let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(e["field"], "key", "{alg} {words}: {e}");
        assert!(
            e["detail"].as_str().unwrap().contains(words),
            "{alg} {words}: {e}"
        );
    }
    // A secret is for HMAC only.
    let mut body = asym_body("/imp/bad", "ES256");
    body["secret"] = json!(TEST_SECRET);
    let e = api_error(app.post_asset(body).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(e["field"], "secret");

    // Changing the algorithm to one the key cannot sign needs a new key.
    let es = app.create_asset(asym_body("/imp/change", "ES256")).await;
    let id = es["id"].as_str().unwrap();
    let mut body = asym_body("/imp/change", "RS256");
    body["version"] = es["version"].clone();
    let e = api_error(
        app.api(
            Method::PUT,
            &format!("/api/v1/assets/{id}"),
            Some(body.clone()),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(e["field"], "key", "{e}");
    body["key"] = json!({"generate": "RSA-2048"});
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["key_type"], "RSA-2048");
    let t = token(&app, "/imp/change").await;
    assert!(openssl_verifies(
        &t,
        changed["public_key_pem"].as_str().unwrap()
    ));
}

#[tokio::test]
async fn no_api_answer_ever_shows_a_private_key_or_secret() {
    let app = spawn_app().await;
    let pem = fixture("p256.pem");
    let body_line = pem.lines().nth(1).unwrap().to_owned();
    let mut body = asym_body("/s/es", "ES256");
    body["key"] = json!({ "pem": pem });
    let created = app.post_asset(body).await.text().await.unwrap();
    let hs = app
        .create_asset(crate::helpers::asset_body("/s/hs", TEMPLATE))
        .await;
    let next = "a-next-secret-that-must-never-be-shown-0123456789";
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/assets/{}/next-secret", hs["id"].as_str().unwrap()),
            Some(json!({"secret": next, "switch_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut answers = vec![created, res.text().await.unwrap()];
    for path in ["/api/v1/assets", "/api/v1/audit?limit=1000"] {
        answers.push(app.api(Method::GET, path, None).await.text().await.unwrap());
    }
    for path in ["/.well-known/jwks.json", "/s/es/jwks.json"] {
        answers.push(
            app.client
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    // The stored PKCS#8 DER of the imported key, base64: must not appear either.
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let der_b64 = URL_SAFE_NO_PAD.encode(&der);
    for a in &answers {
        assert!(!a.contains("PRIVATE"), "{a}");
        assert!(!a.contains(&body_line), "{a}");
        assert!(!a.contains(&der_b64[..40]), "{a}");
        assert!(!a.contains(TEST_SECRET), "{a}");
        assert!(!a.contains(next), "{a}");
        assert!(!a.contains("\"d\""), "{a}");
    }
}

#[tokio::test]
async fn a_next_secret_is_scheduled_cancelled_and_switches_at_its_time() {
    let app = spawn_app().await;
    let hs = app
        .create_asset(crate::helpers::asset_body("/n/hs", TEMPLATE))
        .await;
    let id = hs["id"].as_str().unwrap().to_owned();
    let url = format!("/api/v1/assets/{id}/next-secret");
    let next = "fedcba9876543210fedcba9876543210";

    // A switch in the future: still the old secret, the time is shown.
    let res = app
        .api(
            Method::POST,
            &url,
            Some(json!({"secret": next, "switch_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["next_secret_at"], "2099-01-01T00:00:00Z");
    assert!(v.get("generated_secret").is_none());
    verify_hs(&token(&app, "/n/hs").await, TEST_SECRET.as_bytes());

    // Cancelled.
    let res = app.api(Method::DELETE, &url, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.json::<Value>().await.unwrap()["next_secret_at"].is_null());

    // A switch time in the past switches at once.
    let res = app
        .api(
            Method::POST,
            &url,
            Some(json!({"secret": next, "switch_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert!(v["next_secret_at"].is_null(), "{v}");
    assert_eq!(v["secret_bytes"], 32);
    verify_hs(&token(&app, "/n/hs").await, next.as_bytes());

    // Generated, returned once.
    let res = app
        .api(
            Method::POST,
            &url,
            Some(json!({"generate_secret": true, "switch_at": "2020-01-01T00:00:00+02:00"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let generated = v["generated_secret"].as_str().unwrap().to_owned();
    verify_hs(&token(&app, "/n/hs").await, generated.as_bytes());
    assert!(app.get_asset(&id).await.get("generated_secret").is_none());

    // Errors.
    for (body, field) in [
        (
            json!({"secret": "short", "switch_at": "2099-01-01T00:00:00Z"}),
            "secret",
        ),
        (json!({"switch_at": "2099-01-01T00:00:00Z"}), "secret"),
        (
            json!({"secret": next, "switch_at": "tomorrow"}),
            "switch_at",
        ),
    ] {
        let e = api_error(
            app.api(Method::POST, &url, Some(body)).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(e["field"], field, "{e}");
    }
    let res = app
        .api(
            Method::POST,
            &url,
            Some(json!({"secret": "short", "accept_weak_secret": true, "switch_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    verify_hs(&token(&app, "/n/hs").await, b"short");

    let es = app.create_asset(asym_body("/n/es", "ES256")).await;
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/assets/{}/next-secret", es["id"].as_str().unwrap()),
            Some(json!({"secret": next, "switch_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

/// The debugger and preview verify asymmetric tokens against the asset's published keys or a
/// pasted public key, and explain what is wrong.
#[test]
fn the_debugger_verifies_asymmetric_tokens_and_explains_failures() {
    use jwt_asset_server::secret::SecretString;
    use jwt_asset_server::service::{AssetInput, DebugKey, KeyInput, UserInput};

    let dir = tempfile::tempdir().unwrap();
    let service = jwt_asset_server::app::open_service(&jwt_asset_server::Settings::for_data_dir(
        dir.path().join("data"),
    ))
    .unwrap();
    service
        .create_user(
            "test",
            UserInput {
                username: "ann".into(),
                ..UserInput::default()
            },
        )
        .unwrap();
    let user = service.store().user_by_username("ann").unwrap().unwrap();
    let input = |path: &str, alg: &str, key: Option<KeyInput>| AssetInput {
        name: "D".into(),
        path: path.into(),
        algorithm: Some(alg.into()),
        key,
        template: TEMPLATE.into(),
        expiry_seconds: Some(600),
        ..AssetInput::default()
    };
    let es = service
        .create_asset("test", input("/d/es", "ES256", None))
        .unwrap()
        .asset;
    let issue = |path: &str| {
        let c = service.live_asset(path).unwrap().unwrap();
        service
            .issue(
                &c,
                &user,
                jwt_asset_server::domain::delivery::DeliveryMode::Raw,
                &[],
            )
            .unwrap()
            .token
    };
    let now = chrono::Utc::now();
    let checks = |token: &str, key: DebugKey, at| {
        let d = service.debug_token(token, key, at).unwrap();
        let failed: Vec<(String, String)> = d
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| (c.name.to_owned(), c.detail.clone()))
            .collect();
        (d.verified, failed)
    };

    let old = issue("/d/es");
    let (ok, failed) = checks(&old, DebugKey::Asset(es.id.clone()), now);
    assert!(ok, "{failed:?}");

    // After a rotation the old token still verifies with the retired, still published key.
    let rotated = service.rotate_key("test", &es.id).unwrap();
    let new = issue("/d/es");
    assert_eq!(
        part_json(&new, 0)["kid"],
        rotated.kid.clone().unwrap().as_str()
    );
    for t in [&old, &new] {
        let d = service
            .debug_token(t, DebugKey::Asset(es.id.clone()), now)
            .unwrap();
        assert!(d.verified, "{:?}", d.checks);
    }
    let detail = service
        .debug_token(&old, DebugKey::Asset(es.id.clone()), now)
        .unwrap()
        .checks
        .into_iter()
        .find(|c| c.name == "signature")
        .unwrap()
        .detail;
    assert!(detail.contains("retired"), "{detail}");

    // Long after: expired, and the retired key is gone from the published set.
    let later = now + chrono::Duration::seconds(600 + 61);
    let (ok, failed) = checks(&old, DebugKey::Asset(es.id.clone()), later);
    assert!(!ok);
    assert!(
        failed
            .iter()
            .any(|(n, d)| n == "kid" && d.contains("no longer published")),
        "{failed:?}"
    );
    assert!(failed.iter().any(|(n, _)| n == "exp"), "{failed:?}");

    // An unknown kid.
    let other = service
        .create_asset("test", input("/d/es2", "ES256", None))
        .unwrap()
        .asset;
    let (ok, failed) = checks(&issue("/d/es2"), DebugKey::Asset(es.id.clone()), now);
    assert!(!ok);
    assert!(
        failed
            .iter()
            .any(|(n, d)| n == "kid" && d.contains("not a key")),
        "{failed:?}"
    );

    // A pasted public key: right, wrong key, wrong algorithm, garbage.
    let pem = other.public_key_pem.clone().unwrap();
    assert!(checks(&issue("/d/es2"), DebugKey::PublicKeyPem(pem.clone()), now).0);
    let (ok, failed) = checks(&new, DebugKey::PublicKeyPem(pem.clone()), now);
    assert!(!ok);
    assert!(
        failed
            .iter()
            .any(|(n, d)| n == "signature" && d.contains("bad signature")),
        "{failed:?}"
    );
    let ed = service
        .create_asset(
            "test",
            input(
                "/d/ed",
                "EdDSA",
                Some(KeyInput::Pem(SecretString::new(fixture("ed25519.pem")))),
            ),
        )
        .unwrap()
        .asset;
    let (ok, failed) = checks(&issue("/d/ed"), DebugKey::PublicKeyPem(pem), now);
    assert!(!ok);
    assert!(
        failed
            .iter()
            .any(|(n, d)| n == "algorithm" && d.contains("EdDSA")),
        "{failed:?}"
    );
    assert!(checks(&issue("/d/ed"), DebugKey::Asset(ed.id.clone()), now).0);
    assert!(
        service
            .debug_token(&new, DebugKey::PublicKeyPem("nonsense".into()), now)
            .is_err()
    );
    // A secret cannot verify an asymmetric token; the asset's algorithm must match.
    let (ok, failed) = checks(&new, DebugKey::Secret(TEST_SECRET.into()), now);
    assert!(
        !ok && failed.iter().any(|(n, _)| n == "algorithm"),
        "{failed:?}"
    );
    let (ok, failed) = checks(&issue("/d/ed"), DebugKey::Asset(es.id.clone()), now);
    assert!(
        !ok && failed
            .iter()
            .any(|(n, d)| n == "algorithm" && d.contains("wrong algorithm")),
        "{failed:?}"
    );

    // The preview of an asymmetric asset shows the kid in the header.
    let preview = service.preview("test", &es.id, "ann").unwrap();
    assert_eq!(
        preview.header.unwrap()["kid"],
        rotated.kid.unwrap().as_str()
    );
}

#[test]
fn the_cli_creates_asymmetric_assets_and_rotates_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.json");
    std::fs::write(&template, TEMPLATE).unwrap();
    let key_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/p384.pem");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_jwt-asset-server"))
            .args(args)
            .env("JWT_ASSET_SERVER_DATA_DIR", dir.path().join("data"))
            .env_remove("JWT_ASSET_SERVER_ADMIN_PASSWORD")
            .env("JWT_ASSET_SERVER_LOG", "warn")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.success(),
            text,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let t = template.to_str().unwrap();
    let (ok, out, err) = run(&[
        "asset",
        "create",
        "--name",
        "R",
        "--path",
        "/cli/rs",
        "--template-file",
        t,
        "--algorithm",
        "RS256",
        "--key-type",
        "RSA-3072",
    ]);
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["key_type"], "RSA-3072");
    assert!(!out.contains("PRIVATE"));

    let (ok, out, err) = run(&[
        "asset",
        "create",
        "--name",
        "E",
        "--path",
        "/cli/es",
        "--template-file",
        t,
        "--algorithm",
        "ES384",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let expected: Value = serde_json::from_str(&fixture("expected.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["kid"],
        expected["p384.pem"]["kid"]
    );

    let (ok, _, err) = run(&[
        "asset",
        "create",
        "--name",
        "X",
        "--path",
        "/cli/x",
        "--template-file",
        t,
        "--algorithm",
        "RS256",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("P-384"), "{err}");

    let (ok, out, err) = run(&["asset", "rotate", "/cli/rs"]);
    assert!(ok, "{err}");
    let rotated: Value = serde_json::from_str(&out).unwrap();
    assert_ne!(rotated["kid"], created["kid"]);
    assert_eq!(rotated["keys"].as_array().unwrap().len(), 2);
    let (ok, _, _) = run(&["asset", "rotate", "/cli/none"]);
    assert!(!ok);
}

/// Tableau-style: a connected app holds two secrets, each with its own id, and picks the secret
/// by the token's `kid`. The next secret comes with its own kid and both switch together.
#[tokio::test]
async fn a_next_secret_brings_its_own_kid_and_both_switch_together() {
    let app = spawn_app().await;
    let mut body = crate::helpers::asset_body("/n/tableau", TEMPLATE);
    body["key_id"] = json!("secret-id-1");
    let hs = app.create_asset(body).await;
    let id = hs["id"].as_str().unwrap().to_owned();
    let url = format!("/api/v1/assets/{id}/next-secret");
    let next = "fedcba9876543210fedcba9876543210";
    let switch_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let res = app
        .api(
            Method::POST,
            &url,
            Some(json!({
                "secret": next,
                "key_id": "secret-id-2",
                "switch_at": switch_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["next_key_id"], "secret-id-2");
    assert_eq!(v["key_id"], "secret-id-1");
    // Before the switch: the first secret, under its id.
    let (header, _) = verify_hs(&token(&app, "/n/tableau").await, TEST_SECRET.as_bytes());
    assert_eq!(header["kid"], "secret-id-1");
    // From the switch on: the next secret, under its own id.
    let wait = (switch_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(100)).await;
    let (header, _) = verify_hs(&token(&app, "/n/tableau").await, next.as_bytes());
    assert_eq!(header["kid"], "secret-id-2");
    // An edit after the switch keeps the new pair (the switch is folded into the record).
    let mut edit = crate::helpers::asset_body("/n/tableau", TEMPLATE);
    edit.as_object_mut().unwrap().remove("secret");
    edit["name"] = json!("renamed");
    edit["version"] = app.get_asset(&id).await["version"].clone();
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["key_id"], "secret-id-2");
    assert!(v["next_key_id"].is_null());
    let (header, _) = verify_hs(&token(&app, "/n/tableau").await, next.as_bytes());
    assert_eq!(header["kid"], "secret-id-2");
    // Without a kid, the next secret keeps the asset's; cancelling drops a pending kid.
    let res = app
        .api(
            Method::POST,
            &url,
            Some(json!({"secret": TEST_SECRET, "key_id": "secret-id-3", "switch_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["next_key_id"],
        "secret-id-3"
    );
    let res = app.api(Method::DELETE, &url, None).await;
    assert!(res.json::<Value>().await.unwrap()["next_key_id"].is_null());
}
