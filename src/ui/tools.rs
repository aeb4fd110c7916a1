//! The tool pages: the token debugger, the audit log, and every user's "my tokens".

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{Admin, AdminForm, Signed, WithCsrf};
use super::{UiError, Viewer};
use crate::domain::audit::{AuditAction, AuditFilter, TextMatch};
use crate::error::AppError;
use crate::ids::AssetId;
use crate::secret::SecretString;
use crate::service::{DebugKey, Debugged, Service, blocking};

/// A point in time for a template: RFC 3339 for `<time datetime>` (shown in local time by the
/// script) and UTC text for pages without JavaScript.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    /// RFC 3339.
    pub iso: String,
    /// `2025-01-31 17:05:09 UTC`.
    pub text: String,
    /// Unix seconds (for countdowns).
    pub unix: i64,
}

impl Moment {
    /// The moment `t`.
    pub fn of(t: DateTime<Utc>) -> Moment {
        Moment {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            unix: t.timestamp(),
        }
    }
}

/// A token lifetime in words: `10 min`, `1 h 30 min`, `45 s`.
pub fn lifetime(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Most assets offered in the debugger's select; with more, the asset is typed by path.
const MAX_ASSET_CHOICES: usize = 500;

/// An asset in the debugger's select.
#[derive(Serialize)]
struct AssetChoice {
    id: String,
    name: String,
    path: String,
}

/// Fields of the debugger form.
#[derive(Deserialize, Default)]
pub struct DebugForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    /// `auto` (the default), `none`, `asset`, `secret` or `public_key`.
    #[serde(default)]
    verify: String,
    /// An asset id (from the select) or path (typed).
    #[serde(default)]
    asset: String,
    #[serde(default)]
    secret: SecretString,
    /// A public key, PEM (not secret: shown again with the result).
    #[serde(default)]
    public_key: String,
}

impl WithCsrf for DebugForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The time claims of a decoded token, for the page.
#[derive(Serialize)]
struct TimeClaim {
    name: &'static str,
    label: &'static str,
    at: Moment,
    past: bool,
}

/// Live assets for the select (by path), or `None` when there are too many to list.
fn asset_choices(service: &Service) -> Option<Vec<AssetChoice>> {
    let first = service.asset_page(false, "", 1);
    if first.total > MAX_ASSET_CHOICES {
        return None;
    }
    let mut out = Vec::with_capacity(first.total);
    let pages = first.pages;
    let mut page = first;
    loop {
        out.extend(page.assets.into_iter().map(|a| AssetChoice {
            id: a.id.to_string(),
            name: a.name,
            path: a.path,
        }));
        if page.page >= pages {
            break;
        }
        page = service.asset_page(false, "", page.page + 1);
    }
    Some(out)
}

fn time_claims(claims: &serde_json::Value, now: DateTime<Utc>) -> Vec<TimeClaim> {
    [
        ("iat", "Issued (iat)"),
        ("nbf", "Not before (nbf)"),
        ("exp", "Expires (exp)"),
    ]
    .into_iter()
    .filter_map(|(name, label)| {
        let t = claims.get(name)?.as_i64()?;
        let at = Utc.timestamp_opt(t, 0).single()?;
        Some(TimeClaim {
            name,
            label,
            past: at <= now,
            at: Moment::of(at),
        })
    })
    .collect()
}

/// The one-line verdict: what a reader should conclude.
fn verdict(d: &Debugged, key_given: bool) -> (&'static str, String) {
    if let Some(e) = &d.decode_error {
        return ("bad", format!("Cannot decode this token: {e}"));
    }
    if !key_given {
        return (
            "",
            "Decoded, not verified: no asset publishes a key with this token's kid (or it has none). Choose an asset, or paste a secret or a public key, to check the signature."
                .into(),
        );
    }
    if d.verified {
        return (
            "ok",
            "Signature verified, and the token is valid now.".into(),
        );
    }
    let failing: Vec<&str> = d.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    let signature_ok = d.checks.iter().any(|c| c.name == "signature" && c.ok);
    ("bad", explain(&failing, signature_ok))
}

/// `text` with a capital first letter and a full stop.
fn capitalized(text: &str) -> String {
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// Words for the checks that failed (`kid`, `algorithm`, `signature`, `exp`, `nbf`).
fn explain(failing: &[&str], signature_ok: bool) -> String {
    let words: Vec<&str> = failing
        .iter()
        .filter(|name| **name != "kid")
        .map(|name| match *name {
            "algorithm" => "wrong algorithm",
            "signature" => "bad signature",
            "exp" => "expired",
            "nbf" => "not yet valid",
            other => other,
        })
        .collect();
    if failing.contains(&"kid") {
        // The signature could not be checked: no published key has the token's kid.
        let also = if words.is_empty() {
            String::new()
        } else {
            format!("; also {}", words.join(", "))
        };
        return format!(
            "Not verified: the asset publishes no key with the token\u{2019}s kid{also}."
        );
    }
    if signature_ok {
        return format!("Signature verified, but {}.", words.join(" and "));
    }
    if words.is_empty() {
        return "Not verified.".into();
    }
    capitalized(&words.join(", "))
}

fn debugger_page(
    service: &Service,
    tera: &tera::Tera,
    viewer: &Viewer,
    form: &DebugForm,
    result: Option<(&Debugged, bool)>,
    error: Option<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let mut ctx = super::context(viewer, "debugger");
    let choices = asset_choices(service);
    ctx.insert("asset_list", &choices.is_some());
    ctx.insert("assets", &choices.unwrap_or_default());
    ctx.insert("token", &form.token);
    let verify = match form.verify.as_str() {
        "asset" | "secret" | "public_key" | "none" => form.verify.as_str(),
        _ => "auto",
    };
    ctx.insert("verify", verify);
    ctx.insert("asset", &form.asset);
    ctx.insert("public_key", &form.public_key);
    // The pasted secret stays in the form it was typed into (masked), for the next try; no
    // other page shows it.
    ctx.insert("secret", form.secret.expose());
    let (field, message) = error.clone().unwrap_or_default();
    ctx.insert("error_field", &field);
    ctx.insert("error", &message);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if let Some((d, key_given)) = result {
        let (class, text) = verdict(d, key_given);
        ctx.insert("result", d);
        ctx.insert("verdict_class", class);
        ctx.insert("verdict", &text);
        let claims: Option<serde_json::Value> = d
            .claims
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let times = claims
            .map(|c| time_claims(&c, Utc::now()))
            .unwrap_or_default();
        ctx.insert("times", &times);
    }
    super::render(tera, "debugger.html", &ctx, status)
}

/// `GET /admin/debugger`: paste a token.
pub async fn debugger(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    debugger_page(&service, &tera, &viewer, &DebugForm::default(), None, None)
}

/// `POST /admin/debugger`: decode the pasted token and verify it against the chosen key. A POST,
/// so the token is in no URL, history entry or access log.
pub async fn debug(
    AdminForm(viewer, form): AdminForm<DebugForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    if form.token.trim().is_empty() {
        let err = ("token".to_owned(), "Paste a token to decode.".to_owned());
        return debugger_page(&service, &tera, &viewer, &form, None, Some(err));
    }
    let key = match form.verify.as_str() {
        "asset" => {
            let chosen = form.asset.trim();
            let id = if chosen.starts_with('/') {
                service.find_asset(chosen).map(|a| a.id)
            } else if chosen.is_empty() {
                Err(AppError::NotFound)
            } else {
                Ok(AssetId::from_string(chosen))
            };
            match id {
                Ok(id) => DebugKey::Asset(id),
                Err(AppError::NotFound) => {
                    let err = (
                        "asset".to_owned(),
                        "Choose an asset (by its path) to verify against.".to_owned(),
                    );
                    return debugger_page(&service, &tera, &viewer, &form, None, Some(err));
                }
                Err(e) => return Err(e.into()),
            }
        }
        "secret" => DebugKey::Secret(form.secret.expose().to_owned()),
        "public_key" => DebugKey::PublicKeyPem(form.public_key.clone()),
        "none" => DebugKey::None,
        // Automatically: what was pasted, else the asset that publishes the token's kid.
        _ if !form.secret.expose().is_empty() => DebugKey::Secret(form.secret.expose().to_owned()),
        _ if !form.public_key.trim().is_empty() => DebugKey::PublicKeyPem(form.public_key.clone()),
        _ => DebugKey::ByKid,
    };
    let by_kid = matches!(key, DebugKey::ByKid);
    let key_given = !matches!(key, DebugKey::None | DebugKey::ByKid);
    match service.debug_token(&form.token, key, Utc::now()) {
        Ok(d) => {
            let key_given = key_given || (by_kid && d.checks.iter().any(|c| c.name == "kid"));
            debugger_page(&service, &tera, &viewer, &form, Some((&d, key_given)), None)
        }
        Err(AppError::Invalid(f)) => {
            let err = (f.field.clone(), capitalized(&f.message));
            debugger_page(&service, &tera, &viewer, &form, None, Some(err))
        }
        Err(AppError::NotFound) => {
            let err = (
                "asset".to_owned(),
                "That asset no longer exists.".to_owned(),
            );
            debugger_page(&service, &tera, &viewer, &form, None, Some(err))
        }
        Err(e) => Err(e.into()),
    }
}

/// Events shown unless another limit is chosen.
const DEFAULT_AUDIT_LIMIT: usize = 200;

/// Filters of the audit page.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// Who did it: the beginning of the username.
    user: Option<String>,
    /// What it was done to: the beginning of the path or name.
    asset: Option<String>,
    /// An action's name or family (`asset`).
    action: Option<String>,
    /// From this day (UTC, `YYYY-MM-DD`) on.
    from: Option<String>,
    /// To this day (UTC), included.
    to: Option<String>,
    /// Present (links from a row): the user and asset match whole, not as prefixes.
    exact: Option<String>,
    limit: Option<String>,
}

/// An option of the action filter.
#[derive(Serialize)]
struct ActionChoice {
    value: String,
    label: String,
}

/// The action filter's options: every family, then every action.
fn action_choices() -> Vec<ActionChoice> {
    let mut families: Vec<&str> = AuditAction::ALL
        .iter()
        .filter_map(|a| a.as_str().split_once('.').map(|(f, _)| f))
        .collect();
    families.dedup();
    let mut seen = std::collections::BTreeSet::new();
    families.retain(|f| seen.insert(*f));
    families
        .into_iter()
        .map(|f| ActionChoice {
            value: f.to_owned(),
            label: format!("{f}.* (any)"),
        })
        .chain(AuditAction::ALL.iter().map(|a| ActionChoice {
            value: a.as_str().to_owned(),
            label: a.as_str().to_owned(),
        }))
        .collect()
}

/// A `YYYY-MM-DD` day read as UTC midnight; the field's error otherwise.
fn day(raw: &str, field: &str) -> Result<chrono::DateTime<Utc>, String> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("{field}: enter a day as YYYY-MM-DD, e.g. 2026-12-03"))
}

/// An event row.
#[derive(Serialize)]
struct EventRow {
    at: Moment,
    actor: String,
    actor_href: String,
    action: String,
    target: String,
    target_href: String,
    outcome: String,
    jti: Option<String>,
    /// More about the event.
    detail: Option<String>,
}

/// `GET /admin/audit?user=&asset=&limit=`: newest first; token issuance and admin actions.
pub async fn audit(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, UiError> {
    let q = query.into_inner();
    let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let user = clean(q.user);
    let asset = clean(q.asset);
    let action = clean(q.action).filter(|a| action_choices().iter().any(|c| c.value == *a));
    let (from, to) = (clean(q.from), clean(q.to));
    let exact = q.exact.is_some();
    let limit = q
        .limit
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_AUDIT_LIMIT)
        .clamp(1, 1000);
    let mut errors = Vec::new();
    let since = from.as_deref().map(|d| day(d, "From")).transpose();
    let until = to
        .as_deref()
        .map(|d| day(d, "To").map(|t| t + chrono::Duration::days(1)))
        .transpose();
    let (since, until) = match (since, until) {
        (Ok(s), Ok(u)) => (s, u),
        (s, u) => {
            errors.extend(s.err());
            errors.extend(u.err());
            (None, None)
        }
    };
    if let (Some(s), Some(u)) = (since, until)
        && u <= s
    {
        errors.push("To is before From: choose a To day on or after the From day".into());
    }
    let text = |t: Option<String>| {
        t.map(|t| {
            if exact {
                TextMatch::Exact(t)
            } else {
                TextMatch::Prefix(t)
            }
        })
    };
    let filter = AuditFilter {
        actor: text(user.clone()),
        target: text(asset.clone()),
        action: action.clone(),
        since,
        until,
    };
    let events = if errors.is_empty() {
        let svc: Arc<Service> = service.into_inner();
        blocking(move || svc.audit_events(&filter, limit)).await?
    } else {
        Vec::new()
    };
    let rows: Vec<EventRow> = events
        .into_iter()
        .map(|e| EventRow {
            at: Moment::of(e.at),
            actor_href: format!("/admin/audit?user={}&exact=1", encode(&e.actor)),
            target_href: format!("/admin/audit?asset={}&exact=1", encode(&e.target)),
            actor: e.actor,
            action: e.action.to_string(),
            target: e.target,
            outcome: e.outcome.to_string(),
            jti: e.jti,
            detail: e.detail,
        })
        .collect();
    let mut ctx = super::context(&viewer, "audit");
    ctx.insert("events", &rows);
    let filtered =
        user.is_some() || asset.is_some() || action.is_some() || from.is_some() || to.is_some();
    ctx.insert("filtered", &filtered);
    ctx.insert("user", &user.unwrap_or_default());
    ctx.insert("asset", &asset.unwrap_or_default());
    ctx.insert("action", &action.unwrap_or_default());
    ctx.insert("actions", &action_choices());
    ctx.insert("from", &from.unwrap_or_default());
    ctx.insert("to", &to.unwrap_or_default());
    ctx.insert("exact", &exact);
    ctx.insert("errors", &errors);
    ctx.insert("limit", &limit);
    ctx.insert("limits", &[100usize, 200, 500, 1000]);
    ctx.insert("full", &(rows.len() >= limit));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    super::render(&tera, "audit.html", &ctx, status)
}

/// A row of "my tokens".
#[derive(Serialize)]
struct TokenRow {
    name: String,
    path: String,
    url: String,
    expiry: Option<String>,
    broken: bool,
}

/// `GET /admin/my-tokens`: for every signed-in user, the assets they may fetch and their URLs.
pub async fn my_tokens(
    Signed(viewer): Signed,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    let base = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let rows: Vec<TokenRow> = service
        .readable_assets(&viewer.user)
        .into_iter()
        .map(|a| TokenRow {
            url: format!("{base}{}", a.path),
            expiry: a.expiry_seconds.map(lifetime),
            broken: a.template_error.is_some(),
            name: a.name,
            path: a.path,
        })
        .collect();
    let mut ctx = super::context(&viewer, "my_tokens");
    ctx.insert("tokens", &rows);
    super::render(&tera, "my_tokens.html", &ctx, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_names_what_failed() {
        assert_eq!(explain(&["signature"], false), "Bad signature.");
        assert_eq!(explain(&["exp"], true), "Signature verified, but expired.");
        assert_eq!(
            explain(&["algorithm", "nbf"], false),
            "Wrong algorithm, not yet valid."
        );
        assert_eq!(
            explain(&["kid"], false),
            "Not verified: the asset publishes no key with the token\u{2019}s kid."
        );
        assert_eq!(
            explain(&["kid", "exp"], false),
            "Not verified: the asset publishes no key with the token\u{2019}s kid; also expired."
        );
    }

    #[test]
    fn lifetimes_read_as_words() {
        assert_eq!(lifetime(600), "10 min");
        assert_eq!(lifetime(5400), "1 h 30 min");
        assert_eq!(lifetime(45), "45 s");
        assert_eq!(lifetime(0), "0 s");
    }
}
