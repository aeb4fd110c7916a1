//! The token endpoint: every non-reserved path is looked up as an asset.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::compiled::{CompiledAsset, ParamRefusal};
use crate::domain::delivery::{
    Delivery, DeliveryMode, form_post_csp, form_post_page, redirect_location, return_to_allowed,
};
use crate::error::AppError;
use crate::metrics::{Metrics, TokenOutcome};
use crate::service::{Refusal, Service};

use super::extract::Requester;
use crate::domain::credentials::Scope;

/// Resolve → preflight / method → delivery → authenticate → issue → respond. Errors answer with
/// an empty body; the reason goes to the log (never a credential or a token).
pub async fn token(
    req: HttpRequest,
    service: web::Data<Service>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let service = service.into_inner();
    let asset = match resolve(&req, &service, &metrics).await {
        Ok(asset) => asset,
        Err(status) => return empty(status),
    };
    let cors = Cors::of(&req, &asset.asset.cors_origins);
    if let Some(res) = preflight_or_wrong_method(&req, &cors) {
        return res;
    }
    let delivery = &asset.asset.delivery;
    let (mode, return_to) = match choose_delivery(&req, delivery) {
        Ok(chosen) => chosen,
        Err(reason) => {
            // Checked before authenticating: nothing is rendered, signed or audited.
            tracing::info!(path = %asset.asset.path, reason, "delivery refused");
            return cors.apply(empty(StatusCode::BAD_REQUEST));
        }
    };
    // Declared query parameters, checked before authenticating like the delivery: nothing
    // undeclared or unmatched reaches a claim, and a bad one is a bare 400.
    let params = if asset.takes_request_params() {
        match asset.request_params(req.query_string()) {
            Ok(params) => params,
            Err(ParamRefusal::Bad(reason)) => {
                tracing::info!(path = %asset.asset.path, reason, "request parameters refused");
                return cors.apply(empty(StatusCode::BAD_REQUEST));
            }
            Err(ParamRefusal::Misconfigured(reason)) => {
                metrics.token(TokenOutcome::ConfigError);
                tracing::error!(path = %asset.asset.path, reason, "request parameters misconfigured");
                return cors.apply(empty(StatusCode::INTERNAL_SERVER_ERROR));
            }
        }
    } else {
        Vec::new()
    };
    let issued = Requester::authenticate_off_worker(&req, &service)
        .await
        .and_then(|who| who.require(Scope::Tokens).map(|()| who))
        .map_err(Refusal::from)
        .and_then(|who| service.issue(&asset, &who.user, mode, &params));
    let mut res = match issued {
        Ok(issued) => {
            metrics.token(TokenOutcome::Issued);
            deliver(delivery, mode, issued.token, return_to.as_deref())
        }
        Err(refusal) => refused(&metrics, asset.asset.path.as_str(), refusal),
    };
    if delivery.json {
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
    }
    cors.apply(res)
}

/// The live asset at the request's path, or the status to answer instead: 404 (no such asset)
/// or 500 (the store could not be read).
async fn resolve(
    req: &HttpRequest,
    service: &Arc<Service>,
    metrics: &Metrics,
) -> Result<Arc<CompiledAsset>, StatusCode> {
    // From memory on this worker; an asset not compiled yet is read on a blocking thread when the
    // store would wait for a shared database.
    let found = match crate::store::without_waiting(|| service.live_asset(req.path())) {
        Some(found) => found,
        None => {
            let (service, path) = (service.clone(), req.path().to_owned());
            crate::service::blocking(move || service.live_asset(&path)).await
        }
    };
    match found {
        Ok(Some(asset)) => Ok(asset),
        Ok(None) => {
            metrics.token(TokenOutcome::NotFound);
            Err(StatusCode::NOT_FOUND)
        }
        Err(e) => {
            // A server error, not a missing asset.
            metrics.token(TokenOutcome::ConfigError);
            tracing::error!(reason = %e, "could not load the asset");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The empty answer to a refused token request: counted by its outcome, logged with its reason,
/// its status from the one status table.
fn refused(metrics: &Metrics, path: &str, refusal: Refusal) -> HttpResponse {
    let outcome = match &refusal {
        Refusal::Forbidden(reason) => {
            tracing::info!(path, reason = %reason, "token refused");
            TokenOutcome::Forbidden
        }
        Refusal::Misconfigured(reason) => {
            tracing::error!(path, reason = %reason, "token not issued");
            TokenOutcome::ConfigError
        }
        Refusal::Failed(reason) => {
            tracing::error!(path, reason = %reason, "token not issued");
            TokenOutcome::ConfigError
        }
    };
    metrics.token(outcome);
    empty(AppError::from(refusal).status())
}

/// A CORS preflight from a listed origin (answered without authenticating or rendering), or
/// 405 for any method but GET and HEAD; `None` for a request to go on with.
fn preflight_or_wrong_method(req: &HttpRequest, cors: &Cors<'_>) -> Option<HttpResponse> {
    if req.method() == Method::OPTIONS
        && cors.allowed.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut res = cors.apply(empty(StatusCode::NO_CONTENT));
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
        return Some(res);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = empty(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(cors.apply(res));
    }
    None
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

/// The CORS answer for one request to one asset: its listed origins, and the request's
/// `Origin` when it is exactly one of them.
struct Cors<'a> {
    origins: &'a [String],
    allowed: Option<String>,
}

impl<'a> Cors<'a> {
    fn of(req: &HttpRequest, origins: &'a [String]) -> Cors<'a> {
        let allowed = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .filter(|origin| origins.iter().any(|o| o == origin))
            .map(str::to_owned);
        Cors { origins, allowed }
    }

    /// CORS headers: the listed origin echoed exactly, with credentials; `Vary: Origin` whenever
    /// the asset has a list (the answer depends on it). Never `*`; nothing for an unlisted origin.
    fn apply(&self, mut res: HttpResponse) -> HttpResponse {
        if self.origins.is_empty() {
            return res;
        }
        let h = res.headers_mut();
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(value) = self
            .allowed
            .as_deref()
            .and_then(|o| HeaderValue::from_str(o).ok())
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        res
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

/// An empty answer that no cache keeps.
pub(super) fn empty(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .finish()
}
