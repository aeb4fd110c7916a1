//! The preview: the token a user would receive now, decoded and checked.

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::common::{Page, Stored, When, known_people, locate, when};
use crate::error::AppError;
use crate::ids::AssetId;
use crate::service::{DebugKey, Preview, Service};
use crate::ui;
use crate::ui::extract::Admin;

/// "1 h 2 min 3 s", the same wording as the countdowns of app.js.
fn span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let mut parts = Vec::new();
    if s >= 3600 {
        parts.push(format!("{} h", s / 3600));
    }
    if s >= 60 {
        parts.push(format!("{} min", (s % 3600) / 60));
    }
    parts.push(format!("{} s", s % 60));
    parts.join(" ")
}

/// Query of the preview.
#[derive(Deserialize)]
pub struct PreviewQuery {
    #[serde(rename = "as")]
    as_user: Option<String>,
}

/// A registered time claim of the previewed token.
#[derive(Serialize)]
struct TimeClaim {
    claim: &'static str,
    label: &'static str,
    at: When,
    relative: String,
    future: &'static str,
    past: &'static str,
}

fn time_claims(claims: &serde_json::Value, now: DateTime<Utc>) -> Vec<TimeClaim> {
    let specs: [(&str, &str, &str, &str); 3] = [
        ("iat", "Issued at", "issued in %s", "issued %s ago"),
        ("nbf", "Not before", "valid in %s", "valid since %s ago"),
        ("exp", "Expires", "expires in %s", "expired %s ago"),
    ];
    specs
        .into_iter()
        .filter_map(|(claim, label, future, past)| {
            let t = claims.get(claim)?.as_i64()?;
            let at = Utc.timestamp_opt(t, 0).single()?;
            let delta = t - now.timestamp();
            let relative = if delta > 0 {
                future.replace("%s", &span(delta))
            } else {
                past.replace("%s", &span(delta))
            };
            Some(TimeClaim {
                claim,
                label,
                at: when(at),
                relative,
                future,
                past,
            })
        })
        .collect()
}

/// The previewed token, split and decoded.
#[derive(Serialize)]
struct TokenView {
    header_b64: String,
    payload_b64: String,
    signature_b64: String,
    header: String,
    claims: String,
}

/// Indent compact JSON text as it is, keeping the member order of the token (a parsed
/// `serde_json::Value` would sort the keys).
fn pretty_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// A token part decoded and indented, or `fallback` pretty-printed when it cannot be decoded.
fn decoded_part(part: &str, fallback: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|t| serde_json::from_str::<serde_json::Value>(t).is_ok())
        .map(|t| pretty_json(&t))
        .unwrap_or_else(|| serde_json::to_string_pretty(fallback).unwrap_or_default())
}

/// The previewed token on the page: its parts decoded, the signature checked with the asset's
/// key, its time claims and what the consumer preset warns about.
fn show_token(
    ctx: &mut tera::Context,
    service: &Service,
    asset_id: &AssetId,
    p: &Preview,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    ctx.insert("warnings", &p.warnings);
    if let Some(why) = &p.refused {
        ctx.insert("refused", why);
        return Ok(());
    }
    let (Some(compact), Some(header), Some(claims)) = (&p.token, &p.header, &p.claims) else {
        return Err(AppError::Unexpected("a preview without a token".into()));
    };
    let mut parts = compact.splitn(3, '.').map(str::to_owned);
    let (header_b64, payload_b64) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let token = TokenView {
        header: decoded_part(&header_b64, header),
        claims: decoded_part(&payload_b64, claims),
        header_b64,
        payload_b64,
        signature_b64: parts.next().unwrap_or_default(),
    };
    let verified = service.debug_token(compact, DebugKey::Asset(asset_id.to_owned()), now)?;
    // Key-pair assets: the key the signature was checked with, named by its kid.
    let kid = header
        .get("kid")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let signature_ok = verified
        .checks
        .iter()
        .any(|c| c.name == "signature" && c.ok);
    ctx.insert("kid", &kid);
    ctx.insert("signature_ok", &signature_ok);
    ctx.insert("token", &token);
    ctx.insert("verified", &verified.verified);
    ctx.insert("checks", &verified.checks);
    ctx.insert("times", &time_claims(claims, now));
    Ok(())
}

/// `GET /admin/assets/{id}/preview?as=USERNAME`: what that user would receive now (audited).
pub async fn preview(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<AssetId>,
    query: web::Query<PreviewQuery>,
) -> Page {
    let asset = service.asset(&id)?;
    let as_user = query
        .as_user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(viewer.user.username.as_str())
        .to_owned();
    let mut ctx = ui::context(&viewer, "assets");
    ctx.insert("asset", &Stored::from(&asset));
    ctx.insert("as_user", &as_user);
    let (users, _) = known_people(&service)?;
    ctx.insert("users", &users);
    let now = Utc::now();
    let mut status = StatusCode::OK;
    match service.preview(viewer.user.username.as_str(), &id, &as_user) {
        Ok(p) => show_token(&mut ctx, &service, &asset.id, &p, now)?,
        Err(AppError::Render(f)) => {
            let (line, column) = (f.line.unwrap_or(1), f.column.unwrap_or(1));
            ctx.insert(
                "render_error",
                &locate(&asset.template, line, column, f.message),
            );
            status = StatusCode::UNPROCESSABLE_ENTITY;
        }
        Err(AppError::Config(m)) => {
            ctx.insert("config_error", &m);
            status = StatusCode::UNPROCESSABLE_ENTITY;
        }
        // The asset exists (read above), so it is the user who does not.
        Err(AppError::NotFound) => {
            ctx.insert("user_error", &format!("There is no user {as_user:?}."));
            status = StatusCode::NOT_FOUND;
        }
        Err(e) => return Err(e.into()),
    }
    ui::render(&tera, "preview.html", &ctx, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_in_its_own_order() {
        assert_eq!(
            pretty_json(r#"{"z":1,"a":{"s":"x,{\":y"},"l":[],"g":["a","b"]}"#),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"s\": \"x,{\\\":y\"\n  },\n  \"l\": [],\n  \"g\": [\n    \"a\",\n    \"b\"\n  ]\n}"
        );
    }

    #[test]
    fn spans_read_like_the_countdowns() {
        assert_eq!(span(5), "5 s");
        assert_eq!(span(-600), "10 min 0 s");
        assert_eq!(span(3723), "1 h 2 min 3 s");
    }
}
