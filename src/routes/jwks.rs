//! Published public keys: `/.well-known/jwks.json` (every live asymmetric asset) and
//! `{asset path}/jwks.json` (one asset), and the OpenID-style discovery document of an issuer
//! that is a URL on this server (`{iss}/.well-known/openid-configuration`). No authentication:
//! only public keys, and never a private parameter.

use actix_web::guard::GuardContext;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::metrics::{Metrics, TokenOutcome};
use crate::service::Service;

/// The reserved last segment of an asset's key set.
pub const ASSET_JWKS_SUFFIX: &str = "/jwks.json";

/// Consumers may cache a key set this long; rotation keeps the previous key published far
/// longer than this, so a cached set never lacks a key that signed a valid token.
pub const JWKS_MAX_AGE: &str = "public, max-age=300";

/// `GET /.well-known/jwks.json`.
pub async fn all(req: HttpRequest, service: web::Data<Service>) -> HttpResponse {
    answer(&req, service.jwks(chrono::Utc::now()))
}

/// Whether a request is for `{asset path}/jwks.json` (a non-empty asset path).
pub fn is_asset_jwks(ctx: &GuardContext<'_>) -> bool {
    let path = ctx.head().uri.path();
    path.len() > ASSET_JWKS_SUFFIX.len() && path.ends_with(ASSET_JWKS_SUFFIX)
}

/// `{asset path}/jwks.json`: the published keys of one live asymmetric asset; like any unknown
/// token URL, 404 (counted as such) when there is none.
pub async fn of_asset(
    req: HttpRequest,
    service: web::Data<Service>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let asset_path = req
        .path()
        .strip_suffix(ASSET_JWKS_SUFFIX)
        .unwrap_or_default();
    match service.asset_jwks(asset_path, chrono::Utc::now()) {
        Some(jwks) => answer(&req, jwks),
        None => {
            metrics.token(TokenOutcome::NotFound);
            super::token::empty(StatusCode::NOT_FOUND)
        }
    }
}

/// The suffix of a discovery document's URL after the issuer.
pub const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// Whether a request is for `{issuer path}/.well-known/openid-configuration` (asset paths never
/// contain a `.well-known` segment, so no asset is shadowed).
pub fn is_discovery(ctx: &GuardContext<'_>) -> bool {
    ctx.head().uri.path().ends_with(DISCOVERY_SUFFIX)
}

/// `{iss}/.well-known/openid-configuration`: for an asset whose `iss` is this URL less the
/// suffix, the issuer, its key set's URL, its algorithm and claims; 404 otherwise.
pub async fn discovery(
    req: HttpRequest,
    service: web::Data<Service>,
    cookies: web::Data<super::session::CookiePolicy>,
) -> HttpResponse {
    let base = cookies.base_url(&req);
    let base = base.trim_end_matches('/');
    let issuer_path = req
        .path()
        .strip_suffix(DISCOVERY_SUFFIX)
        .unwrap_or_default();
    match service.discovery(&format!("{base}{issuer_path}"), base) {
        Some(doc) => {
            let mut res = answer(&req, doc);
            if cookies.public_url.is_none() {
                // The issuer was matched against the host the request names (Host, or a
                // forwarded host): a shared cache must not hand this answer to other hosts.
                res.headers_mut().insert(
                    header::VARY,
                    HeaderValue::from_static(
                        "Host, Forwarded, X-Forwarded-Host, X-Forwarded-Proto",
                    ),
                );
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            }
            res
        }
        None => not_found().await,
    }
}

/// Anything else under `/.well-known`.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish()
}

/// A key set answer (GET/HEAD only).
pub fn answer(req: &HttpRequest, jwks: serde_json::Value) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED)
            .insert_header((header::ALLOW, HeaderValue::from_static("GET, HEAD")))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(JWKS_MAX_AGE),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .body(jwks.to_string())
}
