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
use crate::service::PASSWORDS_OFF;
use crate::service::Service;
use crate::service::UpstreamError;
use crate::service::blocking;
use crate::service::upstream::{Callback, pending_cookie_name};

/// Settings the session routes need.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// Mark the cookie `Secure`.
    pub secure: bool,
    /// Cookie lifetime (the session's absolute timeout).
    pub max_age_seconds: u64,
    /// Proxies whose `X-Forwarded-For` names the client (for the sign-in throttle).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The URL people reach the server at (redirect URIs), when configured.
    pub public_url: Option<String>,
}

impl CookiePolicy {
    /// This server's base URL as people reach it: the configured one, else the request's.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }

    fn cookie<'c>(&self, name: &'c str, value: String, path: &'c str, max_age: i64) -> Cookie<'c> {
        Cookie::build(name, value)
            .path(path)
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(max_age))
            .finish()
    }

    fn session_cookie(&self, session_id: String) -> Cookie<'static> {
        self.cookie(
            SESSION_COOKIE,
            session_id,
            "/",
            self.max_age_seconds.min(i64::MAX as u64) as i64,
        )
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address in
/// its `X-Forwarded-For` (the one it saw; earlier entries are the client's own word).
fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.iter().any(|range| range.contains(&peer)) {
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
    policy: web::Data<CookiePolicy>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let signed_in = session_cookie(&req)
        .and_then(|c| service.authenticate_session(&c).ok())
        .map(|(u, _)| u.username.to_string());
    let service = service.into_inner();
    // Behind an authenticating proxy that vouches for the person: a session for them, at once.
    if let Some(identity) = super::extract::proxy_identity(&req) {
        let next = safe_next(query.next.as_deref())
            .unwrap_or("/admin")
            .to_owned();
        // Already signed in as that person: no new session (this is a GET).
        if signed_in
            .as_deref()
            .is_some_and(|name| name.eq_ignore_ascii_case(&identity.username))
        {
            return see_other(&next);
        }
        let previous = session_cookie(&req);
        let svc = service.clone();
        return match blocking(move || svc.proxy_sign_in(&identity, previous.as_deref())).await {
            Ok(signed_in) => {
                let mut res = see_other(&next);
                let _ = res.add_cookie(&policy.session_cookie(signed_in.session_id));
                res
            }
            Err(e) => {
                tracing::info!(reason = %e, "trusted-proxy sign-in refused");
                page(
                    &tera,
                    e.status(),
                    Shown {
                        error: Some(
                            "The sign-in your proxy vouched for is not admitted here. Ask your administrator.",
                        ),
                        ..Shown::default()
                    },
                )
            }
        };
    }
    let buttons = service.sign_in_buttons().await;
    page(
        &tera,
        actix_web::http::StatusCode::OK,
        Shown {
            signed_in: signed_in.as_deref(),
            next: safe_next(query.next.as_deref()),
            providers: &buttons,
            ..Shown::default()
        },
    )
}

/// `GET /login/oidc/{id}`: off to the provider, with a fresh state, nonce and PKCE verifier in
/// a sealed cookie.
pub async fn oidc_start(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
    id: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let service = service.into_inner();
    let redirect_uri = format!("{}/login/oidc/{id}/callback", policy.base_url(&req));
    let next = safe_next(query.next.as_deref()).map(str::to_owned);
    match service
        .start_upstream_sign_in(&id, &redirect_uri, next.clone())
        .await
    {
        Ok(started) => {
            let mut res = see_other(&started.location);
            let _ = res.add_cookie(&policy.cookie(
                &started.cookie_name,
                started.cookie,
                "/login/oidc",
                600,
            ));
            res
        }
        Err(e) => upstream_failed(&service, &tera, &id, e, next.as_deref()).await,
    }
}

/// `GET /login/oidc/{id}/callback`: the provider sends the person back here.
pub async fn oidc_callback(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
    id: web::Path<String>,
) -> HttpResponse {
    let service = service.into_inner();
    // A query that is not what a provider sends (a parameter twice …) is a callback without
    // code or state: the person gets the page saying so, not a bare 400.
    let query = web::Query::<Callback>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let cookie_name = pending_cookie_name(query.state.as_deref().unwrap_or_default());
    let pending = req.cookie(&cookie_name).map(|c| c.value().to_owned());
    let previous = session_cookie(&req);
    let finished = service
        .finish_upstream_sign_in(&id, query, pending.as_deref(), previous.as_deref())
        .await;
    // This sign-in's pending cookie is spent either way (other tabs' are left alone).
    let mut spent = policy.cookie(&cookie_name, String::new(), "/login/oidc", 0);
    spent.make_removal();
    let mut res = match finished {
        Ok(done) => {
            tracing::info!(provider = %id, username = %done.signed_in.user.username, "signed in upstream");
            let mut res = see_other(safe_next(done.next.as_deref()).unwrap_or("/admin"));
            let _ = res.add_cookie(&policy.session_cookie(done.signed_in.session_id));
            res
        }
        Err(e) => upstream_failed(&service, &tera, &id, e, None).await,
    };
    let _ = res.add_cookie(&spent);
    res
}

/// The sign-in page with what went wrong for the person; the precise reason in the log.
async fn upstream_failed(
    service: &std::sync::Arc<Service>,
    tera: &tera::Tera,
    provider: &str,
    e: UpstreamError,
    next: Option<&str>,
) -> HttpResponse {
    if e.status >= 500 {
        tracing::warn!(provider, reason = %e.reason, "upstream sign-in failed");
    } else {
        tracing::info!(provider, reason = %e.reason, "upstream sign-in refused");
    }
    let buttons = service.sign_in_buttons().await;
    let status = actix_web::http::StatusCode::from_u16(e.status)
        .unwrap_or(actix_web::http::StatusCode::FORBIDDEN);
    page(
        tera,
        status,
        Shown {
            error: Some(&e.person),
            next,
            providers: &buttons,
            ..Shown::default()
        },
    )
}

/// The answer to a form posted after its session ended: the sign-in page, carrying the form's
/// unsaved changes (`draft`, sealed by the caller) so that signing in again brings them back
/// to the form at `target`. 401: the post was not done. `providers` are the identity
/// providers' buttons (id, name): an administrator who signs in only through one needs it.
pub fn sign_in_again(
    tera: &tera::Tera,
    target: &str,
    draft: &str,
    providers: &[(String, String)],
) -> HttpResponse {
    page(
        tera,
        actix_web::http::StatusCode::UNAUTHORIZED,
        Shown {
            error: Some(
                "Your session ended before this was saved, so nothing was saved yet. Sign in again to go back to the form with what you typed.",
            ),
            next: safe_next(Some(target)),
            draft: Some(draft),
            providers,
            ..Shown::default()
        },
    )
}

/// After signing in with unsaved changes: a page whose form posts them back to the form at
/// `next` with the new session's CSRF token (app.js sends it at once; without JavaScript it is
/// one button), where they are shown, not saved.
fn back_to_the_form(
    tera: &tera::Tera,
    service: &Service,
    signed_in: &crate::service::SignedIn,
    next: &str,
    draft: &str,
) -> HttpResponse {
    let Ok((_, session)) = service.authenticate_session(&signed_in.session_id) else {
        return see_other(next);
    };
    let mut ctx = tera::Context::new();
    ctx.insert("me", signed_in.user.username.as_str());
    ctx.insert("is_admin", &signed_in.user.admin);
    ctx.insert("csrf", &session.csrf_token);
    ctx.insert("section", "");
    ctx.insert("next", next);
    ctx.insert("draft", draft);
    match tera.render("draft_restore.html", &ctx) {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(crate::ui::CSP),
            ))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the page back to the form");
            see_other(next)
        }
    }
}

/// Sign-in form fields.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: SecretString,
    #[serde(default)]
    next: Option<String>,
    /// Unsaved changes of the form at `next`, sealed (see [`sign_in_again`]).
    #[serde(default)]
    draft: Option<String>,
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
    let mut form = form.into_inner();
    let password = std::mem::take(&mut form.password);
    let previous = session_cookie(&req);
    let client = client_address(&req, &policy.trusted_proxies);
    let service = service.into_inner();
    let tera = tera.into_inner();
    match service
        .login(&form.username, password, previous.as_deref(), client)
        .await
    {
        Ok(signed_in) => {
            let next = safe_next(form.next.as_deref()).unwrap_or("/admin");
            // Kept changes go back only to the form they were sealed for (so the page that
            // posts them can never post to any other URL).
            let mut res = match &form.draft {
                Some(draft) if service.open_draft(next, draft).is_some() => {
                    back_to_the_form(&tera, &service, &signed_in, next, draft)
                }
                _ => see_other(next),
            };
            let _ = res.add_cookie(&policy.session_cookie(signed_in.session_id));
            res
        }
        Err(AppError::Forbidden(reason)) => {
            tracing::info!(%reason, "sign-in refused");
            let message = if reason == PASSWORDS_OFF {
                "Passwords are turned off here: sign in with your organisation's account below."
            } else {
                "Wrong username or password."
            };
            page(
                &tera,
                actix_web::http::StatusCode::UNAUTHORIZED,
                Shown {
                    error: Some(message),
                    username: &form.username,
                    next: safe_next(form.next.as_deref()),
                    providers: &service.sign_in_buttons().await,
                    draft: form.draft.as_deref(),
                    ..Shown::default()
                },
            )
        }
        Err(AppError::Throttled(retry)) => throttled(&tera, &form, retry, "for this username"),
        Err(AppError::ThrottledAddress(retry)) => {
            throttled(&tera, &form, retry, "from your network address")
        }
        Err(e @ AppError::Unavailable(_)) => {
            tracing::warn!(error = %e, "sign-in failed: the database is unavailable");
            let mut res = page(
                &tera,
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                Shown {
                    error: Some(
                        "Sign-in is unavailable for a moment (the server cannot reach its database). Try again shortly.",
                    ),
                    username: &form.username,
                    next: safe_next(form.next.as_deref()),
                    draft: form.draft.as_deref(),
                    ..Shown::default()
                },
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
fn throttled(tera: &tera::Tera, form: &LoginForm, retry: u64, whose: &str) -> HttpResponse {
    tracing::warn!(whose, "sign-in throttled after repeated failures");
    let minutes = retry.div_ceil(60);
    let message = format!(
        "Too many failed sign-ins {whose}. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    let mut res = page(
        tera,
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        Shown {
            error: Some(&message),
            username: &form.username,
            next: safe_next(form.next.as_deref()),
            draft: form.draft.as_deref(),
            ..Shown::default()
        },
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
    let mut upstream = None;
    if let Some(session_id) = session_cookie(&req) {
        let service = service.into_inner();
        let ended = service.clone();
        match blocking(move || ended.logout(&session_id)).await {
            Ok(Some(provider)) => {
                let back = format!("{}/login", policy.base_url(&req));
                upstream = service.upstream_sign_out(&provider, &back).await;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "sign-out failed");
                return HttpResponse::InternalServerError().finish();
            }
        }
    }
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(policy.secure)
        .finish();
    cookie.make_removal();
    let mut res = see_other(upstream.as_deref().unwrap_or("/login"));
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

/// What the sign-in page shows besides its form.
#[derive(Default)]
struct Shown<'a> {
    /// Already signed in as this user.
    signed_in: Option<&'a str>,
    error: Option<&'a str>,
    username: &'a str,
    next: Option<&'a str>,
    /// The upstream providers' buttons: (id, name).
    providers: &'a [(String, String)],
    /// Unsaved changes of the form at `next`, sealed, carried through the sign-in.
    draft: Option<&'a str>,
}

fn page(tera: &tera::Tera, status: actix_web::http::StatusCode, shown: Shown<'_>) -> HttpResponse {
    let Shown {
        signed_in,
        error,
        username,
        next,
        providers,
        draft,
    } = shown;
    let mut ctx = tera::Context::new();
    let next_query = next
        .map(|n| {
            format!(
                "?next={}",
                percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .unwrap_or_default();
    let providers: Vec<_> = providers
        .iter()
        .map(|(id, name)| {
            serde_json::json!({
                "href": format!("/login/oidc/{id}{next_query}"),
                "name": name,
            })
        })
        .collect();
    ctx.insert("providers", &providers);
    ctx.insert("signed_in", &signed_in);
    ctx.insert("error", &error);
    ctx.insert("username", username);
    ctx.insert("next", &next.unwrap_or_default());
    ctx.insert("draft", &draft);
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
