//! The admin web UI: server-rendered pages (tera), forms with CSRF tokens, embedded static files.

pub mod assets;
pub mod extract;
pub mod groups;
pub mod once;
pub mod people;
pub mod sign_in;
pub mod static_files;
pub mod tools;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use subtle::ConstantTimeEq;

use crate::domain::credentials::SESSION_COOKIE;
use crate::domain::user::User;
use crate::error::AppError;
use crate::service::Service;

/// Every HTML template, compiled into the binary (names end in `.html`, so tera autoescapes).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("assets.html", include_str!("../../templates/assets.html")),
    (
        "asset_form.html",
        include_str!("../../templates/asset_form.html"),
    ),
    ("preview.html", include_str!("../../templates/preview.html")),
    ("trash.html", include_str!("../../templates/trash.html")),
    ("purge.html", include_str!("../../templates/purge.html")),
    ("users.html", include_str!("../../templates/users.html")),
    ("user.html", include_str!("../../templates/user.html")),
    ("groups.html", include_str!("../../templates/groups.html")),
    ("group.html", include_str!("../../templates/group.html")),
    (
        "api_key_created.html",
        include_str!("../../templates/api_key_created.html"),
    ),
    (
        "debugger.html",
        include_str!("../../templates/debugger.html"),
    ),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("sign_in.html", include_str!("../../templates/sign_in.html")),
    (
        "shown_once.html",
        include_str!("../../templates/shown_once.html"),
    ),
    (
        "draft_restore.html",
        include_str!("../../templates/draft_restore.html"),
    ),
    (
        "my_tokens.html",
        include_str!("../../templates/my_tokens.html"),
    ),
];

/// The Content-Security-Policy of every HTML page: no inline script or style, nothing from
/// elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; \
                       object-src 'none'";

/// The signed-in person looking at a page, with the CSRF token their forms must carry.
pub struct Viewer {
    /// The user.
    pub user: Arc<User>,
    /// The session's CSRF token.
    pub csrf: String,
}

/// Why a page cannot be shown. Rendered without templates, so it works even when they fail; the
/// status comes from [`AppError::status`], the one status table.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in: to the sign-in page, then back to this URL.
    SignIn(String),
    /// A form from an earlier session (its CSRF token is not this session's): nothing was
    /// done; `back` is the page to open again (this site's page the form came from, when known).
    StaleForm {
        /// A local path.
        back: String,
    },
    /// Anything else, answered with its status and a message for the administrator.
    App(AppError),
}

impl UiError {
    /// Signed in but not allowed (or a form without its CSRF token).
    pub fn forbidden() -> UiError {
        UiError::App(AppError::Forbidden("not allowed on this page".into()))
    }

    /// Something broke; the log has the cause.
    pub fn internal() -> UiError {
        UiError::App(AppError::Unexpected("see the log line before".into()))
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        UiError::App(e)
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn(_) => StatusCode::SEE_OTHER,
            UiError::StaleForm { .. } => StatusCode::FORBIDDEN,
            UiError::App(e) => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let e = match self {
            UiError::SignIn(next) => {
                let target = format!(
                    "/login?next={}",
                    percent_encoding::utf8_percent_encode(next, QUERY)
                );
                return see_other(&target);
            }
            UiError::StaleForm { back } => {
                return html_response(
                    StatusCode::FORBIDDEN,
                    format!(
                        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                         <title>Nothing was done · jwt-asset-server</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
                         <body><main class=\"narrow\"><h1>Nothing was done</h1><p>This form was opened in an earlier session (you have signed in again since), so it was not sent on. \
                         Open the page again for a fresh form and repeat what you did; reloading this page would only send the old form again.</p>\
                         <p><a class=\"button primary\" href=\"{}\">Open the page again</a></p></main></body></html>",
                        escape(back)
                    ),
                );
            }
            UiError::App(e) => e,
        };
        let (title, detail) = match e {
            AppError::Forbidden(_) => (
                "Not allowed",
                "You are not allowed to do this: these pages are for administrators.".to_owned(),
            ),
            AppError::NotFound => (
                "Not found",
                "There is nothing here. It may have been purged.".to_owned(),
            ),
            AppError::Invalid(f) | AppError::Render(f) => ("Cannot do that", f.to_string()),
            AppError::Conflict(m) => ("Cannot do that now", m.clone()),
            AppError::TooLarge(m) => ("Too large", m.clone()),
            AppError::Throttled(_) | AppError::ThrottledAddress(_) | AppError::Stale { .. } => {
                ("Cannot do that now", e.to_string())
            }
            AppError::Unavailable(_) => {
                tracing::warn!(error = %e, "admin page failed: the database is unavailable");
                ("Try again shortly", "The database cannot be reached right now, so nothing was changed. Try again in a moment.".to_owned())
            }
            AppError::Config(_) | AppError::Unexpected(_) => {
                tracing::error!(error = %e, "admin page failed");
                (
                    "Something went wrong",
                    "The server could not show this page; the server log has the details."
                        .to_owned(),
                )
            }
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · jwt-asset-server</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><main class=\"narrow\"><h1>{title}</h1><p>{}</p><p><a href=\"/admin\">Back to the admin pages</a></p></main></body></html>",
            escape(&detail)
        );
        html_response(self.status_code(), body)
    }
}

const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// Unknown `/admin/…` URLs.
pub async fn not_found() -> Result<HttpResponse, UiError> {
    Err(UiError::App(AppError::NotFound))
}

/// Query-string encoding for links built in Rust (tera has no `urlencode` without its builtins).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A query-string value percent-encoded for a link.
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// The templates' `urlencode_strict` filter (tera's own comes with its builtins, which pull in
/// more than this): a text percent-encoded as [`encode`] does, for a path segment or a query
/// value.
pub fn encode_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    match value.as_str() {
        Some(text) => Ok(tera::Value::String(encode(text))),
        None => Err(tera::Error::msg("urlencode_strict takes text")),
    }
}

/// Minimal HTML escaping for text built outside templates.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The signed-in user of a page request, or a redirect to sign in.
pub fn viewer(req: &HttpRequest, service: &Service) -> Result<Viewer, UiError> {
    let back = || {
        let q = req.query_string();
        let path = if q.is_empty() {
            req.path().to_owned()
        } else {
            format!("{}?{q}", req.path())
        };
        UiError::SignIn(path)
    };
    let cookie = req.cookie(SESSION_COOKIE).ok_or_else(back)?;
    let (user, session) = service
        .authenticate_session(cookie.value())
        .map_err(|_| back())?;
    Ok(Viewer {
        user,
        csrf: session.csrf_token.clone(),
    })
}

/// Like [`viewer`], for administrator pages.
pub fn admin(req: &HttpRequest, service: &Service) -> Result<Viewer, UiError> {
    let v = viewer(req, service)?;
    if v.user.admin {
        Ok(v)
    } else {
        Err(UiError::forbidden())
    }
}

/// Whether a form carries the session's CSRF token.
pub fn csrf_matches(viewer: &Viewer, csrf: &str) -> bool {
    bool::from(csrf.as_bytes().ct_eq(viewer.csrf.as_bytes()))
}

/// Check a state-changing form: no cross-site origin (403), and the session's CSRF token (else
/// a form from an earlier session: nothing done, with a way back to a fresh form).
pub fn check_form(req: &HttpRequest, viewer: &Viewer, csrf: &str) -> Result<(), UiError> {
    if !same_origin(req) {
        tracing::info!(user = %viewer.user.username, path = req.path(), "form refused: from another site");
        return Err(UiError::forbidden());
    }
    if !csrf_matches(viewer, csrf) {
        tracing::info!(user = %viewer.user.username, path = req.path(), "form refused: CSRF token of another session");
        return Err(UiError::StaleForm {
            back: referring_page(req).unwrap_or_else(|| "/admin".into()),
        });
    }
    Ok(())
}

/// The local path (and query) of the page a request came from, when it is this site's.
fn referring_page(req: &HttpRequest) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let url = url::Url::parse(referer).ok()?;
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let origin_host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_owned(),
    };
    if origin_host != host {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

/// Refuse requests made by another site. Browsers that send `Sec-Fetch-Site` are trusted on it
/// (`same-origin`, or `none` for a user typing the URL); otherwise an `Origin` header, when
/// present, must name this host.
pub fn same_origin(req: &HttpRequest) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (
        req.headers().get(header::ORIGIN),
        req.headers().get(header::HOST),
    ) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or_default();
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
            origin_host == host.to_str().unwrap_or_default()
        }
        _ => true,
    }
}

/// A template context with what every page's layout needs.
pub fn context(viewer: &Viewer, section: &str) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("me", viewer.user.username.as_str());
    ctx.insert("is_admin", &viewer.user.admin);
    ctx.insert("csrf", &viewer.csrf);
    ctx.insert("section", section);
    ctx
}

/// Render a page with the HTML security headers (no caching: pages carry CSRF tokens).
pub fn render(
    tera: &tera::Tera,
    name: &str,
    ctx: &tera::Context,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let html = tera.render(name, ctx).map_err(|e| {
        tracing::error!(template = name, error = ?e, "cannot render a page");
        UiError::internal()
    })?;
    Ok(html_response(status, html))
}

fn html_response(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .body(html)
}

/// 303 to a local URL (after a form post).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish()
}

/// Messages shown after a redirect, chosen by a fixed code in `?done=` (never text from the URL).
pub fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "created" => "Asset created.",
        "saved" => "Changes saved.",
        "trashed" => "Asset moved to the trash. Its URL answers 404 until it is restored.",
        "restored" => "Asset restored. Its URL answers again.",
        "purged" => "Asset purged for good.",
        "emptied" => "The trash is empty.",
        "user_created" => "User created.",
        "user_saved" => "User saved.",
        "user_deleted" => "User deleted, with their sessions and API keys.",
        "password" => "Password changed. The user's sessions have ended.",
        "disabled" => "User disabled. Their sessions have ended and their API keys stop working.",
        "enabled" => "User enabled.",
        "sessions_ended" => "All of the user's sessions have ended.",
        "revoked" => "API key revoked.",
        _ => return None,
    })
}
