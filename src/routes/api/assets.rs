//! `/api/v1/assets…`: assets, their keys and secrets, previews, the trash.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::common::{
    AdminRead, AdminWrite, ApiResult, IfMatch, error_under, etag, no_store, optional_json,
};
use super::paging::{Page, PageQuery};
use crate::domain::asset::Lifecycle;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::service::{AssetInput, AssetView, NextKeyInput, NextSecretInput, Service, blocking};

/// Filters of `GET /api/v1/assets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    /// Paths starting with this.
    prefix: Option<String>,
    /// `live` or `trashed`.
    state: Option<String>,
}

/// `GET /api/v1/assets`: a page of assets in path order.
pub async fn list_assets(
    _: AdminRead,
    service: web::Data<Service>,
    query: web::Query<AssetQuery>,
) -> ApiResult {
    let q = query.into_inner();
    let page = PageQuery::of(q.limit, q.cursor.as_deref(), "assets")?;
    let trashed = match q.state.as_deref() {
        None => None,
        Some("live") => Some(false),
        Some("trashed") => Some(true),
        Some(_) => return Err(AppError::invalid("state", "must be live or trashed").into()),
    };
    let service = service.into_inner();
    let assets = blocking(move || service.assets()).await?;
    let prefix = q.prefix.unwrap_or_default();
    let kept = assets.into_iter().filter(|a| {
        a.path.starts_with(&prefix) && trashed.is_none_or(|t| (a.state == Lifecycle::Trashed) == t)
    });
    Ok(HttpResponse::Ok().json(Page::of_sorted(kept, &page, "assets", |a| a.path.clone())))
}

/// The answer for one asset: the record with its `ETag`.
fn asset_answer(mut res: actix_web::HttpResponseBuilder, view: &AssetView) -> HttpResponse {
    res.insert_header(etag(view.version)).json(view)
}

/// `DELETE /api/v1/trash` → `{"purged": n}`: every trashed asset goes for good.
pub async fn empty_trash(AdminWrite(actor): AdminWrite, service: web::Data<Service>) -> ApiResult {
    let service = service.into_inner();
    let purged = blocking(move || service.empty_trash(actor.username.as_str())).await?;
    Ok(HttpResponse::Ok().json(json!({ "purged": purged })))
}

/// `POST /api/v1/assets` → 201 (with `generated_secret` once, when asked for).
pub async fn create_asset(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    body: web::Json<AssetInput>,
) -> ApiResult {
    let service = service.into_inner();
    // Key generation (RSA) takes a moment: off the worker thread.
    let saved =
        blocking(move || service.create_asset(actor.username.as_str(), body.into_inner())).await?;
    Ok(no_store(
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/api/v1/assets/{}", saved.asset.id),
            ))
            .insert_header(etag(saved.asset.version))
            .json(saved),
    ))
}

/// `GET /api/v1/assets/{id}` (never the secret).
pub async fn get_asset(
    _: AdminRead,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    Ok(asset_answer(HttpResponse::Ok(), &service.asset(&id)?))
}

/// `PUT /api/v1/assets/{id}`: the version the edit was made from comes as `If-Match` (412 when
/// stale) or in the body's `version` (409 when stale).
pub async fn update_asset(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    if_match: IfMatch,
    body: web::Json<AssetInput>,
) -> ApiResult {
    let service = service.into_inner();
    let mut input = body.into_inner();
    let saved = blocking(move || {
        if let Some(v) = if_match.expected(|| Ok(service.asset(&id)?.version))? {
            input.version = Some(v);
        }
        service.update_asset(actor.username.as_str(), &id, input)
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(no_store(
        HttpResponse::Ok()
            .insert_header(etag(saved.asset.version))
            .json(saved),
    ))
}

/// `POST /api/v1/assets/{id}/trash`.
pub async fn trash_asset(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.trash_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/assets/{id}/restore`.
pub async fn restore_asset(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.restore_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/assets/{id}`: purge; 409 unless trashed; `If-Match` holds it to a version.
pub async fn purge_asset(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    if_match: IfMatch,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || {
        let expected = if_match.expected(|| Ok(service.asset(&id)?.version))?;
        service.purge_asset(actor.username.as_str(), &id, expected)
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/assets/{id}/rotate`: a new key becomes active; 409 for HMAC assets.
pub async fn rotate_key(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.rotate_key(actor.username.as_str(), &id)).await?;
    Ok(no_store(HttpResponse::Ok().json(view)))
}

/// `POST /api/v1/assets/{id}/next-secret` `{secret | generate_secret, accept_weak_secret?,
/// switch_at}`: schedule the HMAC secret switch (`generated_secret` once, when asked for).
pub async fn set_next_secret(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    body: web::Json<NextSecretInput>,
) -> ApiResult {
    let service = service.into_inner();
    let saved =
        blocking(move || service.set_next_secret(actor.username.as_str(), &id, body.into_inner()))
            .await?;
    Ok(no_store(HttpResponse::Ok().json(saved)))
}

/// `DELETE /api/v1/assets/{id}/next-secret`: cancel a pending switch.
pub async fn cancel_next_secret(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.cancel_next_secret(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/assets/{id}/next-key` `{key?: {generate | pem}, switch_at?}` (or no body):
/// publish the next key without signing with it; it signs from `switch_at`, or once activated.
pub async fn prepare_next_key(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    body: web::Bytes,
) -> ApiResult {
    // serde's message can quote a value, and the value may be a private key: only where.
    let input: NextKeyInput = optional_json(
        &body,
        Some(
            "must be empty or a JSON object with optional \"key\" ({\"generate\": \"P-256\"} or {\"pem\": \"-----BEGIN PRIVATE KEY-----...\"}) and \"switch_at\" (RFC 3339)",
        ),
    )?;
    let service = service.into_inner();
    let view =
        blocking(move || service.prepare_next_key(actor.username.as_str(), &id, input)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/assets/{id}/consumer-config`: the preset consumer's configuration, filled in
/// for this asset (`{place, format, text, notes}`; never the secret); 404 without a preset.
pub async fn consumer_config(
    req: HttpRequest,
    _: AdminRead,
    service: web::Data<Service>,
    cookies: web::Data<crate::routes::session::CookiePolicy>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let base = cookies.base_url(&req);
    let config = service
        .consumer_config(&id, &base)?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(config))
}

/// `POST /api/v1/assets/{id}/next-key/activate`: the waiting next key signs from now on.
pub async fn activate_next_key(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.activate_next_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/assets/{id}/next-key`: withdraw the waiting next key.
pub async fn withdraw_next_key(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.withdraw_next_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/assets/{id}/next-key.pem`: the waiting next key's public key (404 when none).
pub async fn next_public_key_pem(
    _: AdminRead,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let pem = service.next_public_key_pem(&id)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        ))
        .body(pem))
}

/// `GET /api/v1/assets/{id}/public-key.pem`: the public key that signs now (404 for HMAC).
pub async fn public_key_pem(
    _: AdminRead,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let pem = service.public_key_pem(&id)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        ))
        .body(pem))
}

/// Query of the preview.
#[derive(Deserialize)]
pub struct PreviewQuery {
    #[serde(rename = "as")]
    as_user: Option<String>,
}

/// `GET /api/v1/assets/{id}/preview?as={username}` → `{token, header, claims, warnings}`, or 422
/// with the template location when it cannot render for that user.
pub async fn preview_asset(
    AdminWrite(actor): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    query: web::Query<PreviewQuery>,
) -> ApiResult {
    let as_user = query
        .as_user
        .clone()
        .unwrap_or_else(|| actor.username.to_string());
    let preview = service.preview(actor.username.as_str(), &id, &as_user)?;
    Ok(no_store(HttpResponse::Ok().json(preview)))
}
