//! The admin JSON API under `/api/v1`: JSON in, JSON out, errors with a status and a field.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::extract::{Requester, session_cookie};
use crate::domain::audit::AuditFilter;
use crate::domain::identity::ProviderInput;
use crate::domain::user::User;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::secret::SecretString;
use crate::service::{
    AssetInput, ExportSealing, NextKeyInput, NextSecretInput, Service, UserInput, blocking,
};

/// Largest accepted JSON body.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Header carrying the session's CSRF token when the API is called with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An [`AppError`] answered as JSON: `{"error": {"status", "message", "field"?, "line"?, "column"?}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.0.status();
        let mut body = json!({ "status": status.as_u16() });
        match &self.0 {
            AppError::Invalid(f) | AppError::Render(f) => {
                body["message"] = json!(f.to_string());
                body["field"] = json!(f.field);
                if let (Some(l), Some(c)) = (f.line, f.column) {
                    body["line"] = json!(l);
                    body["column"] = json!(c);
                }
                // Every field error of the request, the first one included.
                body["errors"] = json!(f.each().collect::<Vec<_>>());
            }
            AppError::Stale { current, by, at } => {
                body["message"] = json!(self.0.to_string());
                body["current_version"] = json!(current);
                body["changed_by"] = json!(by);
                body["changed_at"] = json!(at);
            }
            AppError::Forbidden(_) => body["message"] = json!("forbidden"),
            AppError::Throttled(_) | AppError::ThrottledAddress(_) => {
                body["message"] = json!(self.0.to_string())
            }
            AppError::NotFound => body["message"] = json!("not found"),
            AppError::Conflict(m) | AppError::TooLarge(m) => body["message"] = json!(m),
            AppError::Config(m) => body["message"] = json!(m),
            AppError::Unavailable(_) => {
                tracing::warn!(error = %self.0, "API request failed: the database is unavailable");
                body["message"] =
                    json!("the database is unavailable; nothing was changed, try again shortly");
            }
            AppError::Unexpected(_) => {
                tracing::error!(error = %self.0, "API request failed");
                body["message"] = json!("internal error; see the server log");
            }
        }
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(json!({ "error": body }))
    }
}

type ApiResult = Result<HttpResponse, ApiError>;

/// JSON extractor settings: a size limit, and parse errors answered as field errors.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError;
            let error = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => AppError::TooLarge(format!(
                    "the body is larger than the {MAX_JSON_BYTES} bytes the server accepts"
                )),
                JsonPayloadError::Deserialize(e) => AppError::invalid("body", e.to_string()),
                other => AppError::invalid("body", other.to_string()),
            };
            ApiError(error).into()
        })
}

/// The signed-in administrator: an admin's API key, or an admin session with its CSRF token in
/// `X-CSRF-Token`. Everything else is 403, before the body is read.
pub struct Admin(pub Arc<User>);

impl Admin {
    fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
        let service = req
            .app_data::<web::Data<Service>>()
            .ok_or_else(|| AppError::Unexpected("the service is not configured".into()))?;
        let Requester { user, session } = Requester::authenticate(req, service)?;
        if let Some(session) = session {
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !bool::from(sent.ct_eq(session.csrf_token.as_bytes())) {
                return Err(AppError::Forbidden("missing or wrong X-CSRF-Token".into()).into());
            }
        }
        if !user.admin {
            return Err(
                AppError::Forbidden(format!("{} is not an administrator", user.username)).into(),
            );
        }
        Ok(Admin(user))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Admin, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Admin::check(req))
    }
}

/// `GET /api/v1/session`: who is signed in, and the CSRF token for API calls with the cookie.
pub async fn current_session(req: HttpRequest, service: web::Data<Service>) -> ApiResult {
    let cookie = session_cookie(&req).ok_or_else(|| AppError::Forbidden("not signed in".into()))?;
    let (user, session) = service.authenticate_session(&cookie)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(json!({ "username": user.username, "admin": user.admin, "csrf_token": session.csrf_token })))
}

/// `GET /api/v1/users`.
pub async fn list_users(_: Admin, service: web::Data<Service>) -> ApiResult {
    Ok(HttpResponse::Ok().json(service.users()?))
}

/// `POST /api/v1/users`.
pub async fn create_user(
    Admin(actor): Admin,
    service: web::Data<Service>,
    body: web::Json<UserInput>,
) -> ApiResult {
    let service = service.into_inner();
    let user =
        blocking(move || service.create_user(actor.username.as_str(), body.into_inner())).await?;
    Ok(HttpResponse::Created().json(user))
}

/// `GET /api/v1/users/{username}`.
pub async fn get_user(_: Admin, service: web::Data<Service>, path: web::Path<String>) -> ApiResult {
    Ok(HttpResponse::Ok().json(service.user(&path)?))
}

/// Body of `PUT /api/v1/users/{username}/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    password: SecretString,
}

/// `PUT /api/v1/users/{username}/password`: ends the user's sessions.
pub async fn set_password(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
    body: web::Json<PasswordInput>,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || service.set_password(actor.username.as_str(), &path, &body.password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/users/{username}/disable`: ends the user's sessions; keys stop working.
pub async fn disable_user(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    if actor.username.as_str().eq_ignore_ascii_case(&path) {
        return Err(AppError::Conflict("you cannot disable yourself".into()).into());
    }
    let service = service.into_inner();
    let user = blocking(move || service.set_disabled(actor.username.as_str(), &path, true)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `POST /api/v1/users/{username}/enable`.
pub async fn enable_user(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let service = service.into_inner();
    let user =
        blocking(move || service.set_disabled(actor.username.as_str(), &path, false)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `POST /api/v1/users/{username}/api-keys` → `{key, …}`, the only time the key is shown.
pub async fn create_api_key(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let service = service.into_inner();
    let created = blocking(move || service.create_api_key(actor.username.as_str(), &path)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(created))
}

/// `GET /api/v1/users/{username}/api-keys`.
pub async fn list_api_keys(
    _: Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    Ok(HttpResponse::Ok().json(service.api_keys(&path)?))
}

/// `DELETE /api/v1/users/{username}/api-keys/{id or prefix}`: revoked at once.
pub async fn revoke_api_key(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (username, key) = path.into_inner();
    let service = service.into_inner();
    let revoked =
        blocking(move || service.revoke_api_key(actor.username.as_str(), &username, &key)).await?;
    Ok(HttpResponse::Ok().json(revoked))
}

/// `GET /api/v1/assets`.
pub async fn list_assets(_: Admin, service: web::Data<Service>) -> ApiResult {
    Ok(HttpResponse::Ok().json(service.assets()?))
}

/// `POST /api/v1/assets` → 201 (with `generated_secret` once, when asked for).
pub async fn create_asset(
    Admin(actor): Admin,
    service: web::Data<Service>,
    body: web::Json<AssetInput>,
) -> ApiResult {
    let service = service.into_inner();
    // Key generation (RSA) takes a moment: off the worker thread.
    let saved =
        blocking(move || service.create_asset(actor.username.as_str(), body.into_inner())).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(saved))
}

/// `GET /api/v1/assets/{id}` (never the secret).
pub async fn get_asset(_: Admin, service: web::Data<Service>, id: web::Path<AssetId>) -> ApiResult {
    Ok(HttpResponse::Ok().json(service.asset(&id)?))
}

/// `PUT /api/v1/assets/{id}`: the body carries `version`; a stale one answers 409.
pub async fn update_asset(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    body: web::Json<AssetInput>,
) -> ApiResult {
    let service = service.into_inner();
    let saved =
        blocking(move || service.update_asset(actor.username.as_str(), &id, body.into_inner()))
            .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(saved))
}

/// `POST /api/v1/assets/{id}/trash`.
pub async fn trash_asset(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.trash_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/assets/{id}/restore`.
pub async fn restore_asset(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.restore_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/assets/{id}`: purge; 409 unless trashed.
pub async fn purge_asset(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || service.purge_asset(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/assets/{id}/rotate`: a new key becomes active; 409 for HMAC assets.
pub async fn rotate_key(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.rotate_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(view))
}

/// `POST /api/v1/assets/{id}/next-secret` `{secret | generate_secret, accept_weak_secret?,
/// switch_at}`: schedule the HMAC secret switch (`generated_secret` once, when asked for).
pub async fn set_next_secret(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    body: web::Json<NextSecretInput>,
) -> ApiResult {
    let service = service.into_inner();
    let saved =
        blocking(move || service.set_next_secret(actor.username.as_str(), &id, body.into_inner()))
            .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(saved))
}

/// `DELETE /api/v1/assets/{id}/next-secret`: cancel a pending switch.
pub async fn cancel_next_secret(
    Admin(actor): Admin,
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
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    body: web::Bytes,
) -> ApiResult {
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        NextKeyInput::default()
    } else {
        // serde's message can quote a value, and the value may be a private key: only where.
        serde_json::from_slice::<NextKeyInput>(&body).map_err(|e| {
            AppError::invalid(
                "body",
                format!(
                    "must be empty or a JSON object with optional \"key\" ({{\"generate\": \"P-256\"}} or {{\"pem\": \"-----BEGIN PRIVATE KEY-----...\"}}) and \"switch_at\" (RFC 3339); the problem is at line {} column {}",
                    e.line(),
                    e.column()
                ),
            )
        })?
    };
    let service = service.into_inner();
    let view =
        blocking(move || service.prepare_next_key(actor.username.as_str(), &id, input)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/assets/{id}/consumer-config`: the preset consumer's configuration, filled in
/// for this asset (`{place, format, text, notes}`; never the secret); 404 without a preset.
pub async fn consumer_config(
    req: HttpRequest,
    _: Admin,
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
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.activate_next_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/assets/{id}/next-key`: withdraw the waiting next key.
pub async fn withdraw_next_key(
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || service.withdraw_next_key(actor.username.as_str(), &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/assets/{id}/next-key.pem`: the waiting next key's public key (404 when none).
pub async fn next_public_key_pem(
    _: Admin,
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
    _: Admin,
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
    Admin(actor): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
    query: web::Query<PreviewQuery>,
) -> ApiResult {
    let as_user = query
        .as_user
        .clone()
        .unwrap_or_else(|| actor.username.to_string());
    let preview = service.preview(actor.username.as_str(), &id, &as_user)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(preview))
}

/// Query of the audit listing.
#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    target: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/audit?actor=&target=&limit=`: newest first.
pub async fn audit_events(
    _: Admin,
    service: web::Data<Service>,
    query: web::Query<AuditQuery>,
) -> ApiResult {
    let service = service.into_inner();
    let q = query.into_inner();
    let events = blocking(move || {
        let filter = AuditFilter::exact(q.actor.as_deref(), q.target.as_deref());
        service.audit_events(&filter, q.limit.unwrap_or(100))
    })
    .await?;
    Ok(HttpResponse::Ok().json(events))
}

/// Unknown `/api/v1/…` URLs.
pub async fn not_found() -> ApiResult {
    Err(AppError::NotFound.into())
}

/// The body of `POST /api/v1/export`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    /// Refused with a pointer to the CLI.
    passphrase: Option<SecretString>,
}

/// `POST /api/v1/export`: the whole store as a dump, a consistent snapshot, audited. The asset
/// secrets are sealed for the server's master key, never for a passphrase or in the clear here:
/// an administrator's credential alone must not be enough to read them (the CLI, on the server,
/// can do both).
pub async fn export(
    Admin(actor): Admin,
    service: web::Data<Service>,
    body: web::Bytes,
) -> ApiResult {
    let sealing = if body.iter().all(u8::is_ascii_whitespace) {
        ExportSealing::MasterKey
    } else {
        // serde's message could quote the value: not for a passphrase.
        let request: ExportRequest = serde_json::from_slice(&body).map_err(|_| {
            AppError::invalid(
                "body",
                "the body must be empty or a JSON object with a \"passphrase\" string",
            )
        })?;
        if request.passphrase.is_some() {
            // Over HTTP an administrator credential must not be enough to read every secret.
            return Err(AppError::invalid(
                "passphrase",
                "over the API, secrets stay sealed for the server's master key; a dump for a \
                 passphrase is made on the server: jwt-asset-server export --passphrase-stdin",
            )
            .into());
        }
        ExportSealing::MasterKey
    };
    let service = service.into_inner();
    let dump = blocking(move || {
        let dump = service.export(actor.username.as_str(), sealing)?;
        Ok(dump.to_json()?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"jwt-asset-server-dump.json\""),
        ))
        .body(dump))
}

/// `GET /api/v1/identity-providers`: the providers (never a client secret) and the sign-in
/// policy.
pub async fn list_identity_providers(_: Admin, service: web::Data<Service>) -> ApiResult {
    let service = service.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || service.sign_in_policy()).await?.providers))
}

/// `POST /api/v1/identity-providers`.
pub async fn create_identity_provider(
    Admin(actor): Admin,
    service: web::Data<Service>,
    body: web::Json<ProviderInput>,
) -> ApiResult {
    let service = service.into_inner();
    let view =
        blocking(move || service.add_identity_provider(actor.username.as_str(), body.into_inner()))
            .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/identity-providers/{id}`.
pub async fn get_identity_provider(
    _: Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let service = service.into_inner();
    let policy = blocking(move || service.sign_in_policy()).await?;
    let provider = policy
        .providers
        .into_iter()
        .find(|p| p.id == *path)
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(provider))
}

/// `PUT /api/v1/identity-providers/{id}`: a new client secret only when given.
pub async fn update_identity_provider(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
    body: web::Json<ProviderInput>,
) -> ApiResult {
    let service = service.into_inner();
    let view = blocking(move || {
        service.update_identity_provider(actor.username.as_str(), &path, body.into_inner())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/identity-providers/{id}`.
pub async fn delete_identity_provider(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || service.remove_identity_provider(actor.username.as_str(), &path)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `PUT /api/v1/sign-in-policy`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    upstream_only: bool,
    #[serde(default)]
    break_glass: Vec<String>,
}

/// `GET /api/v1/sign-in-policy`.
pub async fn get_sign_in_policy(_: Admin, service: web::Data<Service>) -> ApiResult {
    let service = service.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || service.sign_in_policy()).await?))
}

/// `PUT /api/v1/sign-in-policy`: upstream only (with break-glass administrators), or not.
pub async fn set_sign_in_policy(
    Admin(actor): Admin,
    service: web::Data<Service>,
    body: web::Json<PolicyInput>,
) -> ApiResult {
    let service = service.into_inner();
    let body = body.into_inner();
    let view = blocking(move || {
        service.set_sign_in_policy(
            actor.username.as_str(),
            body.upstream_only,
            body.break_glass,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Body of `PUT /api/v1/users/{username}/upstream`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    provider: Option<String>,
    #[serde(default)]
    subject: Option<String>,
}

/// `PUT /api/v1/users/{username}/upstream`: link the account to a provider (completed at the
/// person's first sign-in there), or unlink it (`null`).
pub async fn link_user(
    Admin(actor): Admin,
    service: web::Data<Service>,
    path: web::Path<String>,
    body: web::Json<LinkInput>,
) -> ApiResult {
    let service = service.into_inner();
    let LinkInput { provider, subject } = body.into_inner();
    let user = blocking(move || {
        service.link_user(
            actor.username.as_str(),
            &path,
            provider.as_deref(),
            subject.as_deref(),
        )?;
        service.user(&path)
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}
