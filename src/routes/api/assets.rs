//! `/api/v1/assets…`: assets, their keys and secrets, previews, the trash.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::common::{
    AdminRead, AdminWrite, ApiResult, IfMatch, Json, error_under, etag, no_store, optional_json,
};
use super::paging::{Page, PageQuery};
use crate::domain::asset::Lifecycle;
use crate::domain::consumer_config::ConsumerConfig;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::service::{
    AssetInput, AssetView, NextKeyInput, NextSecretInput, Preview, SavedAsset, Service, blocking,
};

/// Filters of `GET /api/v1/assets`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Items per page: 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Paths starting with this.
    prefix: Option<String>,
    /// `live` or `trashed`.
    state: Option<String>,
}

/// `GET /api/v1/assets`: a page of assets in path order.
#[utoipa::path(
    get,
    path = "/api/v1/assets",
    tag = "assets",
    summary = "A page of assets, in path order",
    params(AssetQuery),
    responses((status = 200, description = "One page", body = Page<AssetView>)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn list_assets(
    _: AdminRead,
    service: web::Data<Service>,
    query: web::Query<AssetQuery>,
) -> ApiResult {
    let q = query.into_inner();
    let page = PageQuery::of(q.limit, q.cursor.as_deref(), "assets")?;
    let trashed = match q.state.as_deref() {
        None | Some("") => None,
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

/// How many trashed assets were purged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Purged {
    /// The count.
    pub purged: usize,
}

/// `DELETE /api/v1/trash` → `{"purged": n}`: every trashed asset goes for good.
#[utoipa::path(
    delete,
    path = "/api/v1/trash",
    tag = "assets",
    summary = "Purge every trashed asset",
    responses((status = 200, description = "Purged", body = Purged)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn empty_trash(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
) -> ApiResult {
    let service = service.into_inner();
    let purged = blocking(move || service.empty_trash(actor.username.as_str())).await?;
    Ok(HttpResponse::Ok().json(Purged { purged }))
}

/// `POST /api/v1/assets` → 201 (with `generated_secret` once, when asked for).
#[utoipa::path(
    post,
    path = "/api/v1/assets",
    tag = "assets",
    summary = "Create an asset",
    request_body = AssetInput,
    responses((status = 201, description = "Created", body = SavedAsset, headers(("Location" = String, description = "The new record's URL"), ("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn create_asset(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    body: Json<AssetInput>,
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
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "One asset (never its secret)",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "The asset", body = AssetView, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn get_asset(
    _: AdminRead,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    Ok(asset_answer(HttpResponse::Ok(), &service.asset(&id)?))
}

/// `PUT /api/v1/assets/{id}`: the version the edit was made from comes as `If-Match` (412 when
/// stale) or in the body's `version` (409 when stale).
#[utoipa::path(
    put,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "Replace an asset (If-Match, or the body's version)",
    params(("id" = String, Path, description = "The asset's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change was made from (`\"7\"`), or `*`: 412 when the record changed since")),
    request_body = AssetInput,
    responses((status = 200, description = "Saved", body = SavedAsset, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn update_asset(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    if_match: IfMatch,
    body: Json<AssetInput>,
) -> ApiResult {
    let service = service.into_inner();
    let mut input = body.into_inner();
    let saved = blocking(move || {
        input.version = if_match.holding(input.version, || Ok(service.asset(&id)?.version))?;
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
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/trash",
    tag = "assets",
    summary = "Move an asset to the trash (its path answers 404 at once)",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "Trashed", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn trash_asset(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.trash_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/assets/{id}/restore`.
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/restore",
    tag = "assets",
    summary = "Restore a trashed asset",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "Restored", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn restore_asset(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.restore_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/assets/{id}`: purge; 409 unless trashed; `If-Match` holds it to a version.
#[utoipa::path(
    delete,
    path = "/api/v1/assets/{id}",
    tag = "assets",
    summary = "Purge a trashed asset for good",
    params(("id" = String, Path, description = "The asset's id"), ("If-Match" = Option<String>, Header, description = "The ETag the change was made from (`\"7\"`), or `*`: 412 when the record changed since")),
    responses((status = 204, description = "Purged")),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn purge_asset(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    if_match: IfMatch,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || {
        let expected = if_match.holding(None, || Ok(service.asset(&id)?.version))?;
        service.purge_asset(actor.username.as_str(), &id, expected)
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/assets/{id}/rotate`: a new key becomes active; 409 for HMAC assets.
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/rotate",
    tag = "keys",
    summary = "A new key signs at once (the old one stays published)",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "Rotated", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn rotate_key(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.rotate_key(actor.username.as_str(), &id)).await?;
    Ok(no_store(HttpResponse::Ok().json(view)))
}

/// `POST /api/v1/assets/{id}/next-secret` `{secret | generate_secret, accept_weak_secret?,
/// switch_at}`: schedule the HMAC secret switch (`generated_secret` once, when asked for).
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/next-secret",
    tag = "keys",
    summary = "Schedule the HMAC secret switch",
    params(("id" = String, Path, description = "The asset's id")),
    request_body = NextSecretInput,
    responses((status = 200, description = "Scheduled", body = SavedAsset)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn set_next_secret(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    body: Json<NextSecretInput>,
) -> ApiResult {
    let service = service.into_inner();
    let saved =
        blocking(move || service.set_next_secret(actor.username.as_str(), &id, body.into_inner()))
            .await?;
    Ok(no_store(HttpResponse::Ok().json(saved)))
}

/// `DELETE /api/v1/assets/{id}/next-secret`: cancel a pending switch.
#[utoipa::path(
    delete,
    path = "/api/v1/assets/{id}/next-secret",
    tag = "keys",
    summary = "Cancel a scheduled secret switch",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "Cancelled", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn cancel_next_secret(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.cancel_next_secret(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/assets/{id}/next-key` `{key?: {generate | pem}, switch_at?}` (or no body):
/// publish the next key without signing with it; it signs from `switch_at`, or once activated.
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/next-key",
    tag = "keys",
    summary = "Publish the next key without signing with it",
    params(("id" = String, Path, description = "The asset's id")),
    request_body(content = Option<NextKeyInput>, description = "Optional: an empty body takes the defaults"),
    responses((status = 200, description = "Published", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn prepare_next_key(
    AdminWrite(actor, _): AdminWrite,
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
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/consumer-config",
    tag = "assets",
    summary = "The preset consumer's configuration for this asset",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "The configuration", body = ConsumerConfig)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/assets/{id}/next-key/activate",
    tag = "keys",
    summary = "The waiting next key signs from now on",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "Activated", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn activate_next_key(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.activate_next_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/assets/{id}/next-key`: withdraw the waiting next key.
#[utoipa::path(
    delete,
    path = "/api/v1/assets/{id}/next-key",
    tag = "keys",
    summary = "Withdraw the waiting next key",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "Withdrawn", body = AssetView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn withdraw_next_key(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.withdraw_next_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/assets/{id}/next-key.pem`: the waiting next key's public key (404 when none).
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/next-key.pem",
    tag = "keys",
    summary = "The waiting next key's public key",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "PEM", body = String, content_type = "application/x-pem-file")),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/public-key.pem",
    tag = "keys",
    summary = "The public key that signs now",
    params(("id" = String, Path, description = "The asset's id")),
    responses((status = 200, description = "PEM", body = String, content_type = "application/x-pem-file")),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
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
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Whose token to preview (default: you).
    #[serde(rename = "as")]
    as_user: Option<String>,
}

/// `GET /api/v1/assets/{id}/preview?as={username}` → `{token, header, claims, warnings}`, or 422
/// with the template location when it cannot render for that user.
#[utoipa::path(
    get,
    path = "/api/v1/assets/{id}/preview",
    tag = "assets",
    summary = "The token a user would receive",
    params(("id" = String, Path, description = "The asset's id"), PreviewQuery),
    responses((status = 200, description = "The preview", body = Preview)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn preview_asset(
    AdminWrite(actor, _): AdminWrite,
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
