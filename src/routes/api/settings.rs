//! `/api/v1/audit`, `/api/v1/export`, identity providers and the sign-in policy.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::common::{
    AdminRead, AdminWrite, ApiResult, IfMatch, Json, error_under, etag, optional_json,
};
use super::paging::{Page, PageOnly, PageQuery, audit_cursor};
use crate::domain::audit::AuditEvent;
use crate::domain::audit::{AuditAction, AuditFilter, TextMatch};
use crate::domain::credentials::API_KEY_PREFIX;
use crate::domain::identity::ProviderInput;
use crate::error::AppError;
use crate::secret::SecretString;
use crate::service::{ExportSealing, ProviderView, Service, SignInPolicyView, blocking};

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Items per page: 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Who did it (exact, without regard to case).
    actor: Option<String>,
    /// What it was done to (exact).
    target: Option<String>,
    /// Events about this user (as who did it, or what it was done to).
    user: Option<String>,
    /// Events about this asset (its path, exact).
    asset: Option<String>,
    /// An action (`asset.update`) or a family of them (`asset`).
    action: Option<String>,
    /// At or after (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    until: Option<DateTime<Utc>>,
}

/// `GET /api/v1/audit`: a page of the trail, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    summary = "A page of the audit trail, newest first",
    params(AuditQuery),
    responses((status = 200, description = "One page", body = Page<AuditEvent>)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn audit_events(
    _: AdminRead,
    service: web::Data<Service>,
    query: web::Query<AuditQuery>,
) -> ApiResult {
    let mut q = query.into_inner();
    // An empty filter (`action=`) filters nothing.
    for filter in [
        &mut q.actor,
        &mut q.target,
        &mut q.user,
        &mut q.asset,
        &mut q.action,
    ] {
        if filter.as_deref() == Some("") {
            *filter = None;
        }
    }
    let page = PageQuery::of(q.limit, q.cursor.as_deref(), "audit")?;
    let before = page.audit_position()?;
    if q.user.is_some() && (q.actor.is_some() || q.target.is_some()) {
        return Err(AppError::invalid("user", "give user, or actor and target, not both").into());
    }
    if q.asset.is_some() && (q.user.is_some() || q.target.is_some()) {
        return Err(AppError::invalid("asset", "give asset, or user or target, not both").into());
    }
    if let Some(action) = &q.action
        && !AuditAction::ALL
            .iter()
            .any(|a| a.as_str() == action || a.as_str().split('.').next() == Some(action))
    {
        return Err(
            AppError::invalid("action", format!("{action:?} is not an audit action")).into(),
        );
    }
    let filter = AuditFilter {
        action: q.action,
        since: q.since,
        until: q.until,
        ..AuditFilter::exact(
            q.actor.as_deref(),
            q.target.as_deref().or(q.asset.as_deref()),
        )
    };
    let service = service.into_inner();
    let limit = page.limit;
    let found = blocking(move || match q.user {
        // A user's events: theirs as actor and those done to them, merged newest first.
        Some(user) => {
            let by = AuditFilter {
                actor: Some(TextMatch::Exact(user.clone())),
                ..filter.clone()
            };
            let to = AuditFilter { ..filter };
            // Their API keys' events name them first: `alice jas_AbCdEfGh`.
            let keys = AuditFilter {
                target: Some(TextMatch::Prefix(format!("{user} {API_KEY_PREFIX}"))),
                action: to.action.clone().or_else(|| Some("apikey".into())),
                ..to.clone()
            };
            let to = AuditFilter {
                target: Some(TextMatch::Exact(user)),
                ..to
            };
            let mut both = service.audit_page(&by, before, limit + 1)?;
            for filter in [&to, &keys] {
                for e in service.audit_page(filter, before, limit + 1)? {
                    if !both.iter().any(|(at, _)| *at == e.0) {
                        both.push(e);
                    }
                }
            }
            both.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
            Ok(both)
        }
        None => service.audit_page(&filter, before, limit + 1),
    })
    .await?;
    let page = Page::of(found, &page, |(at, _)| audit_cursor(*at));
    Ok(HttpResponse::Ok().json(Page {
        items: page.items.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        next_cursor: page.next_cursor,
    }))
}

/// The body of `POST /api/v1/export`.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Refused with a pointer to the CLI.
    passphrase: Option<SecretString>,
}

/// `POST /api/v1/export`: the whole store as a dump, a consistent snapshot, audited. The asset
/// secrets are sealed for the server's master key, never for a passphrase or in the clear here:
/// an administrator's credential alone must not be enough to read them (the CLI, on the server,
/// can do both).
#[utoipa::path(
    post,
    path = "/api/v1/export",
    tag = "backup",
    summary = "The whole store as a dump, secrets sealed for the master key",
    request_body(content = Option<ExportRequest>, description = "Optional: an empty body takes the defaults"),
    responses((status = 200, description = "The dump", body = Object, headers(("Content-Disposition" = String, description = "attachment")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn export(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    body: web::Bytes,
) -> ApiResult {
    // serde's message could quote the value: not for a passphrase.
    let request: ExportRequest = optional_json(
        &body,
        Some("the body must be empty or a JSON object with a \"passphrase\" string"),
    )?;
    if request.passphrase.is_some() {
        // Over HTTP an administrator credential must not be enough to read every secret.
        return Err(AppError::invalid(
            "passphrase",
            "over the API, secrets stay sealed for the server's master key; a dump for a \
             passphrase is made on the server: jwt-asset-server export --passphrase-stdin",
        )
        .into());
    }
    let sealing = ExportSealing::MasterKey;
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

/// `GET /api/v1/identity-providers`: a page of the providers by id (never a client secret).
#[utoipa::path(
    get,
    path = "/api/v1/identity-providers",
    tag = "sign-in",
    summary = "A page of identity providers, by id",
    params(PageOnly),
    responses((status = 200, description = "One page", body = Page<ProviderView>)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn list_identity_providers(
    _: AdminRead,
    service: web::Data<Service>,
    query: web::Query<PageOnly>,
) -> ApiResult {
    let page = PageQuery::of(query.limit, query.cursor.as_deref(), "identity-providers")?;
    let service = service.into_inner();
    let mut providers = blocking(move || service.sign_in_policy()).await?.providers;
    providers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(HttpResponse::Ok().json(Page::of_sorted(
        providers,
        &page,
        "identity-providers",
        |p| p.id.clone(),
    )))
}

/// `POST /api/v1/identity-providers`.
#[utoipa::path(
    post,
    path = "/api/v1/identity-providers",
    tag = "sign-in",
    summary = "Add an identity provider",
    request_body = ProviderInput,
    responses((status = 201, description = "Added", body = ProviderView, headers(("Location" = String, description = "The provider's URL")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn create_identity_provider(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    body: Json<ProviderInput>,
) -> ApiResult {
    let service = service.into_inner();
    let view =
        blocking(move || service.add_identity_provider(actor.username.as_str(), body.into_inner()))
            .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/identity-providers/{}", view.id),
        ))
        .json(view))
}

/// `GET /api/v1/identity-providers/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/identity-providers/{id}",
    tag = "sign-in",
    summary = "One identity provider (never its client secret)",
    params(("id" = String, Path, description = "The identity provider's id")),
    responses((status = 200, description = "The provider", body = ProviderView, headers(("ETag" = String, description = "The sign-in settings' version, for If-Match")))),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn get_identity_provider(
    _: AdminRead,
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
    Ok(HttpResponse::Ok()
        .insert_header(etag(policy.version))
        .json(provider))
}

/// `PUT /api/v1/identity-providers/{id}`: a new client secret only when given.
#[utoipa::path(
    put,
    path = "/api/v1/identity-providers/{id}",
    tag = "sign-in",
    summary = "Replace an identity provider (no client_secret keeps it)",
    params(("id" = String, Path, description = "The identity provider's id"), ("If-Match" = Option<String>, Header, description = "The ETag (the sign-in settings' version) the change was made from, or `*`: 412 when the settings changed since")),
    request_body = ProviderInput,
    responses((status = 200, description = "Saved", body = ProviderView, headers(("ETag" = String, description = "The sign-in settings' version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn update_identity_provider(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    if_match: IfMatch,
    body: Json<ProviderInput>,
) -> ApiResult {
    let service = service.into_inner();
    let (view, version) = blocking(move || {
        let expected = if_match.holding(None, || Ok(service.sign_in_policy()?.version))?;
        let view = service.update_identity_provider_at(
            actor.username.as_str(),
            &path,
            body.into_inner(),
            expected,
        )?;
        Ok((view, service.sign_in_policy()?.version))
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(HttpResponse::Ok().insert_header(etag(version)).json(view))
}

/// `DELETE /api/v1/identity-providers/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/identity-providers/{id}",
    tag = "sign-in",
    summary = "Remove an identity provider",
    params(("id" = String, Path, description = "The identity provider's id"), ("If-Match" = Option<String>, Header, description = "The ETag (the sign-in settings' version) the change was made from, or `*`: 412 when the settings changed since")),
    responses((status = 204, description = "Removed")),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn delete_identity_provider(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    if_match: IfMatch,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || {
        let expected = if_match.holding(None, || Ok(service.sign_in_policy()?.version))?;
        service.remove_identity_provider_at(actor.username.as_str(), &path, expected)
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `PUT /api/v1/sign-in-policy`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    upstream_only: bool,
    #[serde(default)]
    break_glass: Vec<String>,
}

/// `GET /api/v1/sign-in-policy`.
#[utoipa::path(
    get,
    path = "/api/v1/sign-in-policy",
    tag = "sign-in",
    summary = "The sign-in policy and providers",
    responses((status = 200, description = "The policy", body = SignInPolicyView, headers(("ETag" = String, description = "The sign-in settings' version, for If-Match")))),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn get_sign_in_policy(_: AdminRead, service: web::Data<Service>) -> ApiResult {
    let service = service.into_inner();
    let policy = blocking(move || service.sign_in_policy()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(policy.version))
        .json(policy))
}

/// `PUT /api/v1/sign-in-policy`: upstream only (with break-glass administrators), or not.
#[utoipa::path(
    put,
    path = "/api/v1/sign-in-policy",
    tag = "sign-in",
    summary = "Upstream sign-in only (with break-glass administrators), or not",
    params(("If-Match" = Option<String>, Header, description = "The ETag (the sign-in settings' version) the change was made from, or `*`: 412 when the settings changed since")),
    request_body = PolicyInput,
    responses((status = 200, description = "Saved", body = SignInPolicyView, headers(("ETag" = String, description = "The sign-in settings' version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn set_sign_in_policy(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    if_match: IfMatch,
    body: Json<PolicyInput>,
) -> ApiResult {
    let service = service.into_inner();
    let body = body.into_inner();
    let view = blocking(move || {
        let expected = if_match.holding(None, || Ok(service.sign_in_policy()?.version))?;
        service.set_sign_in_policy_at(
            actor.username.as_str(),
            body.upstream_only,
            body.break_glass,
            expected,
        )
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(view.version))
        .json(view))
}
