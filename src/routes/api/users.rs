//! `/api/v1/users…`: people, their sessions and API keys.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::common::{
    AdminRead, AdminWrite, ApiResult, IfMatch, Json, error_under, etag, no_store, optional_json,
};
use super::paging::{Page, PageOnly, PageQuery, cursor};
use crate::error::AppError;
use crate::secret::SecretString;
use crate::service::{
    ApiKeyInput, ApiKeyView, CreatedApiKey, Service, SessionView, UserInput, UserUpdate, UserView,
    blocking,
};

/// Filters of `GET /api/v1/users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Items per page: 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Usernames starting with this (without regard to case).
    prefix: Option<String>,
    /// Members of this group.
    group: Option<String>,
    /// `active` or `disabled`.
    state: Option<String>,
    /// Administrators only (`true`) or everyone else (`false`).
    admin: Option<bool>,
}

/// `GET /api/v1/users`: a page of users in username order (case-folded).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    summary = "A page of users, in username order",
    params(UserQuery),
    responses((status = 200, description = "One page", body = Page<UserView>)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn list_users(
    _: AdminRead,
    service: web::Data<Service>,
    query: web::Query<UserQuery>,
) -> ApiResult {
    let q = query.into_inner();
    let page = PageQuery::of(q.limit, q.cursor.as_deref(), "users")?;
    let disabled = match q.state.as_deref() {
        None | Some("") => None,
        Some("active") => Some(false),
        Some("disabled") => Some(true),
        Some(_) => return Err(AppError::invalid("state", "must be active or disabled").into()),
    };
    let keep = move |u: &UserView| {
        disabled.is_none_or(|d| u.disabled == d)
            && q.admin.is_none_or(|a| u.admin == a)
            && q.group
                .as_deref()
                .filter(|g| !g.is_empty())
                .is_none_or(|g| {
                    u.groups
                        .iter()
                        .any(|mine| crate::domain::user::same_group(mine, g))
                })
    };
    let prefix = q.prefix.unwrap_or_default();
    let service = service.into_inner();
    let (limit, mut after) = (page.limit, page.after.clone());
    let (found, resume) = blocking(move || {
        // Read in username order from the cursor on, in chunks, until a page (and one more, to
        // know whether another follows) passes the filters, or enough were read for one request:
        // then the page is short and its cursor continues after the last one read.
        let mut found = Vec::new();
        let chunk = (limit + 1).max(200);
        let mut scanned = 0;
        loop {
            let (users, more) = service.users_page(&prefix, after.as_deref(), chunk)?;
            scanned += users.len();
            after = users.last().map(|u| u.username.to_ascii_lowercase());
            found.extend(users.into_iter().filter(&keep));
            if found.len() > limit || !more {
                return Ok((found, None));
            }
            if scanned >= SCAN_PER_REQUEST {
                return Ok((found, after));
            }
        }
    })
    .await?;
    let answer = match resume {
        Some(last_read) => Page {
            items: found,
            next_cursor: Some(cursor("users", &last_read)),
        },
        None => Page::of(found, &page, |u| {
            cursor("users", &u.username.to_ascii_lowercase())
        }),
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// The most users one filtered list request reads; a page whose filter matched fewer than it
/// asked for among them is short (even empty), and its `next_cursor` reads on.
const SCAN_PER_REQUEST: usize = 10_000;

/// The answer for one user: the record with its `ETag`.
fn user_answer(mut res: actix_web::HttpResponseBuilder, user: &UserView) -> HttpResponse {
    res.insert_header(etag(user.version)).json(user)
}

/// `POST /api/v1/users` → 201 with `Location`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    summary = "Create a user",
    request_body = UserInput,
    responses((status = 201, description = "Created", body = UserView, headers(("Location" = String, description = "The new record's URL"), ("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn create_user(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    body: Json<UserInput>,
) -> ApiResult {
    let service = service.into_inner();
    let user =
        blocking(move || service.create_user(actor.username.as_str(), body.into_inner())).await?;
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, format!("/api/v1/users/{}", user.username)));
    Ok(user_answer(res, &user))
}

/// `GET /api/v1/users/{username}`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}",
    tag = "users",
    summary = "One user",
    params(("username" = String, Path, description = "The username (any letter case)")),
    responses((status = 200, description = "The user", body = UserView, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn get_user(
    _: AdminRead,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let user = service.user(&path)?;
    Ok(user_answer(HttpResponse::Ok(), &user))
}

/// `PATCH /api/v1/users/{username}` `{attributes?, groups?, admin?, version?}`: each part given
/// replaces the old one. The version (or `If-Match`) holds the change to the record read.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{username}",
    tag = "users",
    summary = "Change a user: each part given replaces the old one",
    params(("username" = String, Path, description = "The username (any letter case)"), ("If-Match" = Option<String>, Header, description = "The ETag the change was made from (`\"7\"`), or `*`: 412 when the record changed since")),
    request_body = UserUpdate,
    responses((status = 200, description = "Changed", body = UserView, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn update_user(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    if_match: IfMatch,
    body: Json<UserUpdate>,
) -> ApiResult {
    let service = service.into_inner();
    let mut update = body.into_inner();
    let username = path.into_inner();
    let saved = blocking(move || {
        update.version =
            if_match.holding(update.version, || Ok(service.user(&username)?.version))?;
        service.update_user(actor.username.as_str(), &username, update)
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(user_answer(HttpResponse::Ok(), &saved))
}

/// `DELETE /api/v1/users/{username}`: the user, their sessions and API keys go for good (their
/// audit events stay; tokens already issued stay valid until they expire).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}",
    tag = "users",
    summary = "Delete a user with their sessions and API keys (audit events stay)",
    params(("username" = String, Path, description = "The username (any letter case)"), ("If-Match" = Option<String>, Header, description = "The ETag the change was made from (`\"7\"`), or `*`: 412 when the record changed since")),
    responses((status = 204, description = "Deleted")),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn delete_user(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    if_match: IfMatch,
) -> ApiResult {
    let service = service.into_inner();
    let username = path.into_inner();
    blocking(move || {
        let expected = if_match.holding(None, || Ok(service.user(&username)?.version))?;
        service.delete_user(actor.username.as_str(), &username, expected)
    })
    .await
    .map_err(|e| error_under(if_match, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `PUT /api/v1/users/{username}/password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    password: SecretString,
}

/// `PUT /api/v1/users/{username}/password`: ends the user's sessions.
#[utoipa::path(
    put,
    path = "/api/v1/users/{username}/password",
    tag = "users",
    summary = "Set a password (ends the user's sessions)",
    params(("username" = String, Path, description = "The username (any letter case)")),
    request_body = PasswordInput,
    responses((status = 204, description = "Set")),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn set_password(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    body: Json<PasswordInput>,
) -> ApiResult {
    let service = service.into_inner();
    blocking(move || service.set_password(actor.username.as_str(), &path, &body.password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/users/{username}/disable`: ends the user's sessions; keys stop working.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/disable",
    tag = "users",
    summary = "Disable a user (ends their sessions; their keys stop working)",
    params(("username" = String, Path, description = "The username (any letter case)")),
    responses((status = 200, description = "Disabled", body = UserView, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn disable_user(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    if actor.username.as_str().eq_ignore_ascii_case(&path) {
        return Err(AppError::Conflict("you cannot disable yourself".into()).into());
    }
    let service = service.into_inner();
    let user = blocking(move || service.set_disabled(actor.username.as_str(), &path, true)).await?;
    Ok(user_answer(HttpResponse::Ok(), &user))
}

/// `POST /api/v1/users/{username}/enable`.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/enable",
    tag = "users",
    summary = "Enable a user",
    params(("username" = String, Path, description = "The username (any letter case)")),
    responses((status = 200, description = "Enabled", body = UserView, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn enable_user(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let service = service.into_inner();
    let user =
        blocking(move || service.set_disabled(actor.username.as_str(), &path, false)).await?;
    Ok(user_answer(HttpResponse::Ok(), &user))
}

/// `GET /api/v1/users/{username}/sessions`: the current sessions, oldest first (never their
/// ids).
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}/sessions",
    tag = "users",
    summary = "A page of the user's current sessions, oldest first",
    params(("username" = String, Path, description = "The username (any letter case)"), PageOnly),
    responses((status = 200, description = "One page", body = Page<SessionView>)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn list_sessions(
    _: AdminRead,
    service: web::Data<Service>,
    path: web::Path<String>,
    query: web::Query<PageOnly>,
) -> ApiResult {
    let page = PageQuery::of(query.limit, query.cursor.as_deref(), "sessions")?;
    let mut sessions = service.sessions_of(&path)?;
    sessions.sort_by_key(|s| s.created_at);
    Ok(
        HttpResponse::Ok().json(Page::of_sorted(sessions, &page, "sessions", |s| {
            s.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        })),
    )
}

/// How many sessions ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ended {
    /// The count.
    pub ended: usize,
}

/// `DELETE /api/v1/users/{username}/sessions` → `{"ended": n}`: every session ends at once.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}/sessions",
    tag = "users",
    summary = "End every session of the user",
    params(("username" = String, Path, description = "The username (any letter case)")),
    responses((status = 200, description = "Ended", body = Ended)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn end_sessions(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> ApiResult {
    let service = service.into_inner();
    let ended = blocking(move || service.end_sessions(actor.username.as_str(), &path)).await?;
    Ok(HttpResponse::Ok().json(Ended { ended }))
}

/// `POST /api/v1/users/{username}/api-keys` `{scopes?, expires_at?}` (or no body: `tokens`,
/// never expiring) → 201 `{key, …}`, the only time the key is shown.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/api-keys",
    tag = "api-keys",
    summary = "Create an API key (the only answer that shows it)",
    params(("username" = String, Path, description = "The username (any letter case)")),
    request_body(content = Option<ApiKeyInput>, description = "Optional: an empty body takes the defaults"),
    responses((status = 201, description = "Created", body = CreatedApiKey, headers(("Location" = String, description = "The key's URL")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn create_api_key(
    AdminWrite(actor, grant): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let mut input: ApiKeyInput = optional_json(&body, None)?;
    // A key makes no key that can do more, or last longer, than itself.
    input.within = Some(grant);
    let service = service.into_inner();
    let username = path.into_inner();
    let created = blocking(move || {
        let user = service.user(&username)?;
        let created = service.create_api_key(actor.username.as_str(), &user.username, input)?;
        Ok((user.username, created))
    })
    .await?;
    let (username, created) = created;
    Ok(no_store(
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/api/v1/users/{username}/api-keys/{}", created.view.id),
            ))
            .json(created),
    ))
}

/// `GET /api/v1/users/{username}/api-keys`: a page of the keys, oldest first (never a key).
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}/api-keys",
    tag = "api-keys",
    summary = "A page of the user's API keys, oldest first",
    params(("username" = String, Path, description = "The username (any letter case)"), PageOnly),
    responses((status = 200, description = "One page", body = Page<ApiKeyView>)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn list_api_keys(
    _: AdminRead,
    service: web::Data<Service>,
    path: web::Path<String>,
    query: web::Query<PageOnly>,
) -> ApiResult {
    let page = PageQuery::of(query.limit, query.cursor.as_deref(), "api-keys")?;
    let mut keys = service.api_keys(&path)?;
    let key = |k: &ApiKeyView| {
        format!(
            "{}/{}",
            k.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            k.id
        )
    };
    keys.sort_by_key(key);
    Ok(HttpResponse::Ok().json(Page::of_sorted(keys, &page, "api-keys", key)))
}

/// `GET /api/v1/users/{username}/api-keys/{id or prefix}` (never the key).
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}/api-keys/{key}",
    tag = "api-keys",
    summary = "One API key (never the key itself)",
    params(("username" = String, Path, description = "The username (any letter case)"), ("key" = String, Path, description = "The key's id, or the first characters shown in lists")),
    responses((status = 200, description = "The key", body = ApiKeyView)),
    security(("api_key" = ["admin:read"]), ("session" = [])),
)]
pub async fn get_api_key(
    _: AdminRead,
    service: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (username, id) = path.into_inner();
    let key = service
        .api_keys(&username)?
        .into_iter()
        .find(|k| k.id == id || k.prefix == id)
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(key))
}

/// `DELETE /api/v1/users/{username}/api-keys/{id or prefix}`: revoked at once.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}/api-keys/{key}",
    tag = "api-keys",
    summary = "Revoke an API key at once",
    params(("username" = String, Path, description = "The username (any letter case)"), ("key" = String, Path, description = "The key's id, or the first characters shown in lists")),
    responses((status = 200, description = "Revoked", body = ApiKeyView)),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn revoke_api_key(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (username, key) = path.into_inner();
    let service = service.into_inner();
    let revoked =
        blocking(move || service.revoke_api_key(actor.username.as_str(), &username, &key)).await?;
    Ok(HttpResponse::Ok().json(revoked))
}

/// Body of `PUT /api/v1/users/{username}/upstream`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    provider: Option<String>,
    #[serde(default)]
    subject: Option<String>,
}

/// `PUT /api/v1/users/{username}/upstream`: link the account to a provider (completed at the
/// person's first sign-in there), or unlink it (`null`).
#[utoipa::path(
    put,
    path = "/api/v1/users/{username}/upstream",
    tag = "users",
    summary = "Link the account to an identity provider, or unlink it",
    params(("username" = String, Path, description = "The username (any letter case)")),
    request_body = LinkInput,
    responses((status = 200, description = "Linked or unlinked", body = UserView, headers(("ETag" = String, description = "The record's version, for If-Match")))),
    security(("api_key" = ["admin:write"]), ("session" = [])),
)]
pub async fn link_user(
    AdminWrite(actor, _): AdminWrite,
    service: web::Data<Service>,
    path: web::Path<String>,
    body: Json<LinkInput>,
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
    Ok(user_answer(HttpResponse::Ok(), &user))
}
