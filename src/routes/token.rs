//! The token endpoint: every non-reserved path is looked up as an asset.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::SESSION_COOKIE;
use crate::error::AppError;
use crate::metrics::{Metrics, TokenOutcome};
use crate::service::Service;
use crate::user::User;

/// Resolve → authenticate → authorize → render → sign. Errors answer with an empty body; the
/// reason goes to the log (never a credential or a token).
pub async fn token(
    req: HttpRequest,
    service: web::Data<Service>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let Some(asset) = service.live_asset(req.path()) else {
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
    let json = asset.asset.delivery.json && accepts_json(&req);
    let mut res =
        match authenticate(&req, &service).and_then(|user| service.issue_token(&asset, &user)) {
            Ok(issued) => {
                metrics.token(TokenOutcome::Issued);
                let (content_type, body) = if json {
                    (
                        "application/json",
                        serde_json::json!({ "jwt": issued.token }).to_string(),
                    )
                } else {
                    ("application/jwt", issued.token)
                };
                HttpResponse::Ok()
                    .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
                    .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                    .insert_header((
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ))
                    .body(body)
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
    if asset.asset.delivery.json {
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
    }
    with_cors(&mut res, &asset.asset.cors_origins, cors_origin.as_deref());
    res
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
pub fn authenticate(req: &HttpRequest, service: &Service) -> Result<User, AppError> {
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
