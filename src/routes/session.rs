//! Browser sign-in and sign-out with server-side sessions.

use std::net::IpAddr;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::extract::session_cookie;
use crate::domain::credentials::SESSION_COOKIE;
use crate::error::AppError;
use crate::secret::SecretString;
use crate::service::Service;
use crate::service::blocking;

/// Settings the session routes need.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// Mark the cookie `Secure`.
    pub secure: bool,
    /// Cookie lifetime (the session's absolute timeout).
    pub max_age_seconds: u64,
    /// Proxies whose `X-Forwarded-For` names the client (for the sign-in throttle).
    pub trusted_proxies: Vec<IpAddr>,
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address in
/// its `X-Forwarded-For` (the one it saw; earlier entries are the client's own word).
fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|a| a.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// `GET /`: to the admin pages (which ask to sign in first).
pub async fn home() -> HttpResponse {
    see_other("/admin")
}

/// Query of the sign-in page.
#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: the form, or who is signed in.
pub async fn login_form(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let signed_in = session_cookie(&req)
        .and_then(|c| service.authenticate_session(&c).ok())
        .map(|(u, _)| u.username.to_string());
    page(
        &tera,
        actix_web::http::StatusCode::OK,
        signed_in.as_deref(),
        None,
        "",
        safe_next(query.next.as_deref()),
    )
}

/// Sign-in form fields.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: SecretString,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: a new session id on success (the old one, if any, is ended); the same answer
/// for an unknown user, a wrong password and a disabled user.
pub async fn login(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if !crate::ui::same_origin(&req) {
        return HttpResponse::Forbidden().finish();
    }
    let form = form.into_inner();
    let previous = session_cookie(&req);
    let client = client_address(&req, &policy.trusted_proxies);
    let service = service.into_inner();
    match service
        .login(&form.username, form.password, previous.as_deref(), client)
        .await
    {
        Ok(signed_in) => {
            let cookie = Cookie::build(SESSION_COOKIE, signed_in.session_id)
                .path("/")
                .http_only(true)
                .secure(policy.secure)
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::seconds(
                    policy.max_age_seconds.min(i64::MAX as u64) as i64,
                ))
                .finish();
            let mut res = see_other(safe_next(form.next.as_deref()).unwrap_or("/admin"));
            let _ = res.add_cookie(&cookie);
            res
        }
        Err(AppError::Forbidden(reason)) => {
            tracing::info!(%reason, "sign-in refused");
            page(
                &tera,
                actix_web::http::StatusCode::UNAUTHORIZED,
                None,
                Some("Wrong username or password."),
                &form.username,
                safe_next(form.next.as_deref()),
            )
        }
        Err(AppError::Throttled(retry)) => throttled(
            &tera,
            &form.username,
            form.next.as_deref(),
            retry,
            "for this username",
        ),
        Err(AppError::ThrottledAddress(retry)) => throttled(
            &tera,
            &form.username,
            form.next.as_deref(),
            retry,
            "from your network address",
        ),
        Err(e @ AppError::Unavailable(_)) => {
            tracing::warn!(error = %e, "sign-in failed: the database is unavailable");
            let mut res = page(
                &tera,
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                None,
                Some(
                    "Sign-in is unavailable for a moment (the server cannot reach its database). Try again shortly.",
                ),
                &form.username,
                safe_next(form.next.as_deref()),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The sign-in page after too many failures (`whose`: for the username, from the address), with
/// `Retry-After`.
fn throttled(
    tera: &tera::Tera,
    username: &str,
    next: Option<&str>,
    retry: u64,
    whose: &str,
) -> HttpResponse {
    tracing::warn!(whose, "sign-in throttled after repeated failures");
    let minutes = retry.div_ceil(60);
    let message = format!(
        "Too many failed sign-ins {whose}. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    let mut res = page(
        tera,
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        None,
        Some(&message),
        username,
        safe_next(next),
    );
    if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `POST /logout`: ends the session in the store and clears the cookie.
pub async fn logout(
    req: HttpRequest,
    service: web::Data<Service>,
    policy: web::Data<CookiePolicy>,
) -> HttpResponse {
    if !crate::ui::same_origin(&req) {
        return HttpResponse::Forbidden().finish();
    }
    if let Some(session_id) = session_cookie(&req) {
        let service = service.into_inner();
        if let Err(e) = blocking(move || service.logout(&session_id)).await {
            tracing::error!(error = %e, "sign-out failed");
            return HttpResponse::InternalServerError().finish();
        }
    }
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(policy.secure)
        .finish();
    cookie.make_removal();
    let mut res = see_other("/login");
    let _ = res.add_cookie(&cookie);
    res
}

/// Only local absolute paths are followed after sign-in (no `//host`, no `/\host`).
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.starts_with("/\\")
            && n.len() < 2048
            && !n.chars().any(char::is_control)
    })
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish()
}

fn page(
    tera: &tera::Tera,
    status: actix_web::http::StatusCode,
    signed_in: Option<&str>,
    error: Option<&str>,
    username: &str,
    next: Option<&str>,
) -> HttpResponse {
    let mut ctx = tera::Context::new();
    ctx.insert("signed_in", &signed_in);
    ctx.insert("error", &error);
    ctx.insert("username", username);
    ctx.insert("next", &next.unwrap_or_default());
    match tera.render("login.html", &ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the sign-in page");
            HttpResponse::InternalServerError().finish()
        }
    }
}
