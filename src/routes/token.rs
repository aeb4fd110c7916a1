//! The token endpoint: every non-reserved path is looked up as an asset.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::SESSION_COOKIE;
use crate::delivery::{
    Delivery, DeliveryMode, form_post_csp, form_post_page, redirect_location, return_to_allowed,
};
use crate::error::AppError;
use crate::metrics::{Metrics, TokenOutcome};
use crate::service::Service;
use crate::user::User;
use std::sync::Arc;

/// Resolve → authenticate → authorize → render → sign. Errors answer with an empty body; the
/// reason goes to the log (never a credential or a token).
pub async fn token(
    req: HttpRequest,
    service: web::Data<Service>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let asset = match service.live_asset(req.path()) {
        Ok(asset) => asset,
        Err(e) => {
            // The store could not be read: a server error, not a missing asset.
            metrics.token(TokenOutcome::ConfigError);
            tracing::error!(reason = %e, "could not load the asset");
            return empty(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let Some(asset) = asset else {
        // `{asset path}/jwks.json`: asset paths never end in /jwks.json, so no asset is shadowed.
        if let Some(asset_path) = req.path().strip_suffix(super::jwks::ASSET_JWKS_SUFFIX)
            && let Some(jwks) = service.asset_jwks(asset_path, chrono::Utc::now())
        {
            return super::jwks::answer(&req, jwks);
        }
        metrics.token(TokenOutcome::NotFound);
        return empty(StatusCode::NOT_FOUND);
    };
    let cors_origin = allowed_origin(&req, &asset.asset.cors_origins);
    if req.method() == Method::OPTIONS
        && let Some(origin) = &cors_origin
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        // A CORS preflight from a listed origin: answered without authenticating or rendering.
        let mut res = empty(StatusCode::NO_CONTENT);
        with_cors(&mut res, &asset.asset.cors_origins, Some(origin));
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, accept"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return res;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = empty(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        with_cors(&mut res, &asset.asset.cors_origins, cors_origin.as_deref());
        return res;
    }
    let delivery = &asset.asset.delivery;
    let (mode, return_to) = match choose_delivery(&req, delivery) {
        Ok(chosen) => chosen,
        Err(reason) => {
            // Checked before authenticating: nothing is rendered, signed or audited.
            tracing::info!(path = %asset.asset.path, reason, "delivery refused");
            let mut res = empty(StatusCode::BAD_REQUEST);
            with_cors(&mut res, &asset.asset.cors_origins, cors_origin.as_deref());
            return res;
        }
    };
    let mut res = match authenticate(&req, &service)
        .and_then(|user| service.issue_token_via(&asset, &user, mode))
    {
        Ok(issued) => {
            metrics.token(TokenOutcome::Issued);
            deliver(delivery, mode, issued.token, return_to.as_deref())
        }
        Err(e) => {
            let status = e.status();
            if status == StatusCode::FORBIDDEN {
                metrics.token(TokenOutcome::Forbidden);
                tracing::info!(path = %asset.asset.path, reason = %e, "token refused");
            } else {
                metrics.token(TokenOutcome::ConfigError);
                tracing::error!(path = %asset.asset.path, reason = %e, "token not issued");
            }
            empty(status)
        }
    };
    if delivery.json {
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
    }
    with_cors(&mut res, &asset.asset.cors_origins, cors_origin.as_deref());
    res
}

/// The delivery mode and `return_to` of a request: `?delivery=` names an enabled mode, else the
/// asset's default; with the default `raw`, `Accept: application/json` picks JSON when it is
/// enabled. A `return_to` (redirect and form post only) must match the mode's allowlist. The
/// error is a reason for the log (never the request's values).
fn choose_delivery(
    req: &HttpRequest,
    delivery: &Delivery,
) -> Result<(DeliveryMode, Option<String>), &'static str> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let single = |name: &str| -> Result<Option<&str>, &'static str> {
        let mut found = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (found.next(), found.next()) {
            (Some(_), Some(_)) => Err("a query parameter is repeated"),
            (v, _) => Ok(v.map(String::as_str).filter(|v| !v.is_empty())),
        }
    };
    let mode = match single("delivery")? {
        Some(name) => DeliveryMode::parse(name)
            .filter(|m| delivery.allows(*m))
            .ok_or("the delivery mode asked for is not enabled for this asset")?,
        None if delivery.default == DeliveryMode::Raw && delivery.json && accepts_json(req) => {
            DeliveryMode::Json
        }
        None => delivery.default,
    };
    let return_to = match mode {
        DeliveryMode::Redirect | DeliveryMode::FormPost => match single("return_to")? {
            Some(r) if !return_to_allowed(r, delivery.allowlist(mode)) => {
                return Err("return_to is not on the asset's allowlist");
            }
            r => r.map(str::to_owned),
        },
        DeliveryMode::Raw | DeliveryMode::Json => None,
    };
    Ok((mode, return_to))
}

/// The answer carrying a freshly issued token in the chosen mode.
fn deliver(
    delivery: &Delivery,
    mode: DeliveryMode,
    token: String,
    return_to: Option<&str>,
) -> HttpResponse {
    let no_store = (header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let nosniff = (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let no_referrer = (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    match (mode, &delivery.redirect, &delivery.form_post) {
        (DeliveryMode::Redirect, Some(redirect), _) => {
            let location = redirect_location(&redirect.url, &token, return_to);
            match HeaderValue::from_str(&location) {
                Ok(value) => HttpResponse::Found()
                    .insert_header((header::LOCATION, value))
                    .insert_header(no_store)
                    .insert_header(no_referrer)
                    .insert_header(nosniff)
                    .finish(),
                Err(_) => {
                    tracing::error!("the redirect URL is not a valid header value");
                    empty(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        }
        (DeliveryMode::FormPost, _, Some(form)) => {
            match HeaderValue::from_str(&form_post_csp(form)) {
                Ok(csp) => HttpResponse::Ok()
                    .insert_header((
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    ))
                    .insert_header((header::CONTENT_SECURITY_POLICY, csp))
                    .insert_header(no_store)
                    .insert_header(no_referrer)
                    .insert_header(nosniff)
                    .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
                    .body(form_post_page(form, &token, return_to)),
                Err(_) => {
                    tracing::error!("the form-post URL does not fit a header");
                    empty(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        }
        (DeliveryMode::Json, _, _) => HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ))
            .insert_header(no_store)
            .insert_header(nosniff)
            .body(serde_json::json!({ "jwt": token }).to_string()),
        _ => HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwt"),
            ))
            .insert_header(no_store)
            .insert_header(nosniff)
            .body(token),
    }
}

/// The request's `Origin` when it is exactly one of the asset's listed origins.
fn allowed_origin(req: &HttpRequest, origins: &[String]) -> Option<String> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    origins
        .iter()
        .any(|o| o == origin)
        .then(|| origin.to_owned())
}

/// CORS headers: the listed origin echoed exactly, with credentials; `Vary: Origin` whenever the
/// asset has a list (the answer depends on it). Never `*`; nothing for an unlisted origin.
fn with_cors(res: &mut HttpResponse, origins: &[String], allowed: Option<&str>) {
    if origins.is_empty() {
        return;
    }
    let h = res.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(value) = allowed.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// Whether `Accept` names `application/json` (with any parameters, and a non-zero q).
fn accepts_json(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            media.eq_ignore_ascii_case("application/json")
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        })
}

/// The user behind the request: a Bearer API key when the header is present (no fallback to the
/// cookie), else the session cookie.
pub fn authenticate(req: &HttpRequest, service: &Service) -> Result<Arc<User>, AppError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| AppError::Forbidden("Authorization is not a Bearer API key".into()))?;
        return service.authenticate_api_key(key.trim());
    }
    let cookie = req
        .cookie(SESSION_COOKIE)
        .ok_or_else(|| AppError::Forbidden("not signed in".into()))?;
    service
        .authenticate_session(cookie.value())
        .map(|(user, _)| user)
}

fn empty(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .finish()
}
