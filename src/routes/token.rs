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
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = empty(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    match authenticate(&req, &service).and_then(|user| service.issue_token(&asset, &user)) {
        Ok(issued) => {
            metrics.token(TokenOutcome::Issued);
            HttpResponse::Ok()
                .insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/jwt"),
                ))
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .insert_header((
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .body(issued.token)
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
    }
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
