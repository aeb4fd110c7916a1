//! The payload template language, compiled and rendered for a user, then issued as a token.
//!
//! Input: template text, then optionally a NUL byte and the user's facts as records separated
//! by 0x1E: `name 0x1F value` is an attribute, `?name 0x1F value` a request (query) parameter,
//! `@name` a group, anything else the username.
//! Oracles: nothing panics; an error is located (line and column from 1); a rendered template is
//! a JSON object with unique names at every depth, whose top-level names are the template's claim
//! names in order, and rendering is deterministic; skipping a claim leaves out exactly that
//! claim; every attribute, request parameter, the username and the groups come back byte for
//! byte from a string
//! position and from `^json_encode`; a bare value position renders exactly the scalars JSON
//! allows, and `^json_decode` there writes a decoded array or object as that JSON; an issued token carries the rendered claims plus the server's, and decodes and
//! verifies.
#![no_main]

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use jwt_asset_server::domain::asset::{AccessRule, Asset, AssetPath, AssetState};
use jwt_asset_server::domain::compiled::CompiledAsset;
use jwt_asset_server::domain::user::{User, Username};
use jwt_asset_server::ids::{AssetId, UserId};
use jwt_asset_server::keywords::{AssetFacts, PayloadTemplate, RenderContext, UserFacts};
use jwt_asset_server::secret::Secret;
use jwt_asset_server::service::Debugged;
use jwt_asset_server::signing::{Algorithm, verify_hmac};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let (template, user, params) = read_input(data);
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let asset = asset(&template, now);
    let ctx = RenderContext {
        user: UserFacts {
            id: user.id.as_str(),
            username: user.username.as_str(),
            attributes: &user.attributes,
            groups: &user.groups,
        },
        asset: AssetFacts {
            id: asset.id.as_str(),
            name: &asset.name,
            web_path: asset.path.as_str(),
            has_write_access: asset.can_write(&user),
        },
        now,
        params: &params,
    };
    if let Some(rendered) = compile_and_render(&template, &ctx) {
        issue(asset.clone(), &user, now, &params, &rendered);
    }
    round_trips(&ctx);
});

/// The template text and the user the input describes.
fn read_input(data: &[u8]) -> (String, User, Vec<(String, String)>) {
    let (template, facts) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let mut username = Username::parse("alice").unwrap();
    let mut attributes = BTreeMap::new();
    let mut groups = Vec::new();
    let mut params: Vec<(String, String)> = Vec::new();
    for record in facts.split(|&b| b == 0x1e) {
        let record = String::from_utf8_lossy(record);
        if let Some((name, value)) = record.strip_prefix('?').and_then(|r| r.split_once('\x1f')) {
            if !params.iter().any(|(n, _)| n == name) {
                params.push((name.to_owned(), value.to_owned()));
            }
        } else if let Some(group) = record.strip_prefix('@') {
            groups.push(group.to_owned());
        } else if let Some((name, value)) = record.split_once('\x1f') {
            attributes.insert(name.to_owned(), value.to_owned());
        } else if let Ok(name) = Username::parse(&record) {
            username = name;
        }
    }
    let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let user = User {
        id: UserId::from_string("u-1"),
        username,
        password_hash: None,
        attributes,
        groups,
        // Odd-length inputs come from an administrator: `asset_has_write_access` is 1.
        admin: data.len() % 2 == 1,
        disabled: false,
        created_at: now,
        updated_at: now,
        version: 1,
        upstream: None,
    };
    (String::from_utf8_lossy(template).into_owned(), user, params)
}

/// Compile and render `template`, checking every oracle; the rendered object when both worked.
fn compile_and_render(
    template: &str,
    ctx: &RenderContext<'_>,
) -> Option<serde_json::Map<String, Value>> {
    let max_line = template.matches('\n').count() + 1;
    let compiled = match PayloadTemplate::compile(template) {
        Ok(compiled) => compiled,
        Err(error) => {
            assert!(
                error.line >= 1 && error.line <= max_line && error.column >= 1,
                "badly located: {error:?}"
            );
            return None;
        }
    };
    assert_eq!(compiled.source(), template);
    let names: Vec<&str> = compiled.claim_names().collect();
    let text = match compiled.render(ctx) {
        Ok(text) => text,
        Err(error) => {
            assert!(
                error.line >= 1 && error.line <= max_line && error.column >= 1,
                "badly located: {error:?}"
            );
            let mut out = "kept".to_owned();
            assert!(compiled.render_members(ctx, &[], &mut out).is_err());
            assert_eq!(out, "kept", "a failed render leaves the output as it was");
            return None;
        }
    };
    let object = common::strict_object(&text).unwrap_or_else(|error| {
        panic!("the rendered template is not a JSON object with unique names ({error}): {text}")
    });
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, names, "rendered names are the claim names, in order");
    assert_eq!(
        compiled.render(ctx).unwrap(),
        text,
        "rendering is deterministic"
    );
    if let Some(first) = names.first() {
        let mut out = String::from("{");
        compiled.render_members(ctx, &[first], &mut out).unwrap();
        out.push('}');
        let mut expected = object.clone();
        expected.shift_remove(*first);
        assert_eq!(
            common::strict_object(&out).unwrap(),
            expected,
            "skipping {first:?} leaves out that claim only"
        );
    }
    Some(object)
}

fn asset(template: &str, now: DateTime<Utc>) -> Asset {
    Asset {
        id: AssetId::from_string("a-1"),
        name: "Chat".into(),
        path: AssetPath::parse("/tokens/chat").unwrap(),
        state: AssetState::Live,
        algorithm: Algorithm::HS256,
        secret: Secret::new(SECRET.to_vec()),
        keys: Vec::new(),
        next_secret: None,
        next_secret_at: None,
        key_id: None,
        next_key_id: None,
        request_params: Vec::new(),
        next_key: None,
        next_key_at: None,
        preset: None,
        delivery: Default::default(),
        cors_origins: Vec::new(),
        secret_changed_at: now,
        weak_secret_accepted: false,
        template_warning: None,
        template_language: jwt_asset_server::domain::asset::TEMPLATE_LANGUAGE,
        template: template.into(),
        expiry_seconds: Some(600),
        issuer: Some("https://issuer.example".into()),
        audience: Some("chat".into()),
        not_before: true,
        jti: true,
        read: None,
        write: AccessRule::default(),
        created_at: now,
        created_by: "admin".into(),
        updated_at: now,
        updated_by: "admin".into(),
        version: 1,
    }
}

/// Issue a token from a template that rendered as `rendered` for this user: the template's
/// claims that the server does not set, then the server's own; the token decodes to exactly
/// those claims and verifies.
fn issue(
    asset: Asset,
    user: &User,
    now: DateTime<Utc>,
    params: &[(String, String)],
    rendered: &serde_json::Map<String, Value>,
) {
    let issued = CompiledAsset::new(asset)
        .issue_with(user, now, Some("fixed-jti".into()), params)
        .unwrap_or_else(|error| panic!("rendered, yet not issued: {error}"));
    let claims = common::strict_object(&issued.claims_json).unwrap_or_else(|error| {
        panic!(
            "issued claims are not an object with unique names ({error}): {}",
            issued.claims_json
        )
    });
    let iat = now.timestamp();
    let server = json!({
        "iat": iat, "nbf": iat - 30, "exp": iat + 600,
        "iss": "https://issuer.example", "aud": "chat", "jti": "fixed-jti",
    });
    let server = server.as_object().unwrap();
    let mut expected: serde_json::Map<String, Value> = rendered
        .iter()
        .filter(|(name, _)| !server.contains_key(*name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    expected.extend(server.clone());
    assert_eq!(claims, expected, "issued claims");
    let parts: Vec<&str> = issued.token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        panic!("an issued token has three parts: {}", issued.token);
    };
    let json = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(json(header), json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(json(payload), Value::Object(claims));
    let message = format!("{header}.{payload}");
    assert!(verify_hmac(
        Algorithm::HS256,
        SECRET,
        message.as_bytes(),
        signature
    ));
    // The debugger reads what the server issues, up to its size limit (16 KiB; larger tokens
    // are refused whole, see the debugger_token target).
    if let Ok((_, decoded)) = Debugged::decode_token(&issued.token) {
        assert_eq!(
            decoded,
            Some((json(header), json(payload))),
            "the debugger decodes an issued token"
        );
    } else {
        assert!(issued.token.len() > 16 * 1024);
    }
}

/// Render `template` for `ctx`, which must work, as a JSON object.
fn render_object(template: &str, ctx: &RenderContext<'_>) -> serde_json::Map<String, Value> {
    let compiled = PayloadTemplate::compile(template).unwrap();
    let text = compiled
        .render(ctx)
        .unwrap_or_else(|error| panic!("{template} did not render: {error}"));
    common::strict_object(&text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

/// Every fact a keyword names comes back byte for byte.
fn round_trips(ctx: &RenderContext<'_>) {
    for (name, value) in ctx.user.attributes {
        let referable = !name.is_empty()
            && name != "username"
            && name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !referable {
            continue;
        }
        let keyword = format!("globals_user_attribute_{name}");
        let object = render_object(
            &format!(r#"{{"s":"%{keyword}%","j":%{keyword}^json_encode%,"w":"<%{keyword}%>"}}"#),
            ctx,
        );
        assert_eq!(object["s"], Value::String(value.clone()), "in a string");
        assert_eq!(object["j"], Value::String(value.clone()), "json_encode");
        assert_eq!(
            object["w"],
            Value::String(format!("<{value}>")),
            "between text"
        );
        bare_value(&keyword, value, ctx);
        // json_decode writes a decoded array or object in a value position as that JSON.
        if let Ok(decoded @ (Value::Array(_) | Value::Object(_))) =
            serde_json::from_str::<Value>(value)
        {
            let template = format!(r#"{{"d":%{keyword}^json_decode%}}"#);
            if let Ok(text) = PayloadTemplate::compile(&template).unwrap().render(ctx) {
                let object = common::strict_object(&text)
                    .unwrap_or_else(|error| panic!("{text}: {error}"));
                assert_eq!(object["d"], decoded, "json_decode");
            }
        }
    }
    for (name, value) in ctx.params {
        let referable = !name.is_empty()
            && name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !referable {
            continue;
        }
        let keyword = format!("globals_get_{name}");
        let object = render_object(
            &format!(r#"{{"s":"%{keyword}%","j":%{keyword}^json_encode%}}"#),
            ctx,
        );
        assert_eq!(
            object["s"],
            Value::String(value.clone()),
            "parameter in a string"
        );
        assert_eq!(
            object["j"],
            Value::String(value.clone()),
            "parameter json_encode"
        );
        bare_value(&keyword, value, ctx);
    }
    let object = render_object(
        r#"{"u":"%globals_user_attribute_username%","g":%globals_user_groups%,"h":"%globals_user_groups%"}"#,
        ctx,
    );
    assert_eq!(object["u"], Value::String(ctx.user.username.to_owned()));
    assert_eq!(object["g"], json!(ctx.user.groups));
    assert_eq!(object["h"], Value::String(ctx.user.groups.join(",")));
}

/// A keyword alone in a value position renders text exactly when it is `true`, `false`, `null`
/// or a number JSON readers take (at most 40 chars), and then renders it as it is.
fn bare_value(keyword: &str, value: &str, ctx: &RenderContext<'_>) {
    let compiled = PayloadTemplate::compile(&format!("{{\"v\":%{keyword}%}}")).unwrap();
    let scalar = value.len() <= 40
        && value.trim() == value
        && matches!(
            serde_json::from_str::<Value>(value),
            Ok(Value::Bool(_) | Value::Null | Value::Number(_))
        );
    match compiled.render(ctx) {
        Ok(text) => {
            assert!(
                scalar,
                "{value:?} is not a JSON scalar, yet rendered as {text}"
            );
            assert_eq!(text, format!("{{\"v\":{value}}}"));
        }
        Err(error) => assert!(!scalar, "{value:?} is a JSON scalar, yet: {error}"),
    }
}
