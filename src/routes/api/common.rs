//! What every admin API route shares: the error answer, the extractors (who is asking, with
//! which scope; `If-Match`), body and query settings.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::domain::credentials::{Grant, Scope};
use crate::domain::user::User;
use crate::error::AppError;
use crate::routes::extract::{Requester, session_cookie};
use crate::service::Service;

/// Largest accepted JSON body.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Header carrying the session's CSRF token when the API is called with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An [`AppError`] answered as problem details (RFC 9457): `type`, `title`, `status`, `detail`,
/// and the members that say more (`field`, `errors`, `current_version`…). A stale edit is 409
/// when the version came in the body, 412 when it came as `If-Match`.
#[derive(Debug)]
pub struct ApiError {
    error: AppError,
    /// The request's `If-Match` did not hold.
    precondition: bool,
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError {
            error,
            precondition: false,
        }
    }
}

impl ApiError {
    /// The error of a request whose expected version came in `If-Match`.
    pub(super) fn under_if_match(error: AppError) -> Self {
        ApiError {
            precondition: matches!(error, AppError::Stale { .. }),
            error,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        if self.precondition {
            StatusCode::PRECONDITION_FAILED
        } else {
            self.error.status()
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut problem = Problem::of(status, "");
        problem.detail = match &self.error {
            AppError::Invalid(f) | AppError::Render(f) => {
                problem.field = Some(f.field.clone());
                problem.line = f.line;
                problem.column = f.column;
                // Every field error of the request, the first one included.
                problem.errors = Some(f.each().cloned().collect());
                f.to_string()
            }
            AppError::Stale { current, by, at } => {
                problem.current_version = Some(*current);
                problem.changed_by = Some(by.clone());
                problem.changed_at = Some(at.clone());
                self.error.to_string()
            }
            // The reason stays in the log: it can say which account or key (by its shown
            // prefix, never the key) was tried.
            AppError::Forbidden(reason) => {
                tracing::info!(reason = %reason, "API request refused");
                "forbidden".to_owned()
            }
            AppError::Throttled(_) | AppError::ThrottledAddress(_) => self.error.to_string(),
            AppError::NotFound => "not found".to_owned(),
            AppError::Conflict(m) | AppError::TooLarge(m) | AppError::Config(m) => m.clone(),
            AppError::Unavailable(_) => {
                tracing::warn!(error = %self.error, "API request failed: the database is unavailable");
                "the database is unavailable; nothing was changed, try again shortly".to_owned()
            }
            AppError::Unexpected(_) => {
                tracing::error!(error = %self.error, "API request failed");
                "internal error; see the server log".to_owned()
            }
        };
        problem.respond(status)
    }
}

impl Problem {
    /// A problem that is only its status.
    fn of(status: StatusCode, detail: &str) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.to_owned(),
            field: None,
            line: None,
            column: None,
            errors: None,
            current_version: None,
            changed_by: None,
            changed_at: None,
        }
    }

    fn respond(&self, status: StatusCode) -> HttpResponse {
        let body = serde_json::to_string(self).unwrap_or_default();
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .body(body)
    }
}

/// An error answer that actix made before a handler ran (a method the route does not take: 405;
/// a body over the limit of the raw-body routes: 413) as problem details too, keeping its status
/// and its `Allow` header.
pub fn problem_for_plain_errors<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let allow = res.headers().get(header::ALLOW).cloned();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this URL does not take that method",
        StatusCode::PAYLOAD_TOO_LARGE => "the body is larger than the server accepts",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let mut answer = Problem::of(status, detail).respond(status);
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    let (req, _) = res.into_parts();
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, answer).map_into_right_body(),
    ))
}

/// Problem details (RFC 9457): every error answer of the admin API.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The status's reason phrase.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for a person.
    detail: String,
    /// Invalid input: the first field that is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// Invalid input: the line in that field's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// Invalid input: the column in that line.
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    /// Invalid input: every problem found in the request, the first one included.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<crate::domain::field::FieldError>>,
    /// A stale edit: the version stored now.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<u64>,
    /// A stale edit: who made the newer change.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_by: Option<String>,
    /// A stale edit: when (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_at: Option<String>,
}

pub(super) type ApiResult = Result<HttpResponse, ApiError>;

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
                JsonPayloadError::Deserialize(e) => {
                    AppError::invalid("body", redacted(&e.to_string()))
                }
                other => AppError::invalid("body", other.to_string()),
            };
            ApiError::from(error).into()
        })
}

/// serde's message with every quoted value that is not a plain name left out: a message such as
/// "unknown variant `-----BEGIN PRIVATE KEY-----…`" would otherwise send a secret back (field
/// and variant names, which help, stay).
fn redacted(message: &str) -> String {
    // `invalid type: string "…"`: serde quotes a string value it did not expect.
    static STRING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"string "(?:[^"\\]|\\.)*""#).expect("a valid pattern")
    });
    let message = STRING.replace_all(message, "string \"…\"");
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut quoted = true;
    for part in parts {
        if quoted {
            let plain = part.len() <= 64
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'));
            out.push('`');
            out.push_str(if plain { part } else { "…" });
            out.push('`');
        } else {
            out.push_str(part);
        }
        quoted = !quoted;
    }
    out
}

/// Query-string settings: a malformed query is a field error like a malformed body.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::from(AppError::invalid("query", err.to_string())).into()
    })
}

/// Path settings: a malformed path segment (an asset id) is a 404, as for an unknown one.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| ApiError::from(AppError::NotFound).into())
}

/// A body that may be empty (the defaults) or JSON; serde's message is left out when the body
/// may hold a secret (`quiet`), naming only where the problem is.
pub(super) fn optional_json<T: DeserializeOwned + Default>(
    body: &[u8],
    quiet: Option<&str>,
) -> Result<T, AppError> {
    let text = body.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(T::default());
    }
    if text.first() != Some(&b'{') {
        return Err(AppError::invalid(
            "body",
            quiet.unwrap_or("must be empty or a JSON object"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| match quiet {
        Some(shape) => AppError::invalid(
            "body",
            format!(
                "{shape}; the problem is at line {} column {}",
                e.line(),
                e.column()
            ),
        ),
        None => AppError::invalid("body", redacted(&e.to_string())),
    })
}

/// The signed-in administrator whose credential carries `scope`: an admin's API key with that
/// scope, or an admin session with its CSRF token in `X-CSRF-Token`. Everything else is 403,
/// before the body is read.
fn admin(req: &HttpRequest, scope: Scope) -> Result<(Arc<User>, Grant), ApiError> {
    let service = req
        .app_data::<web::Data<Service>>()
        .ok_or_else(|| AppError::Unexpected("the service is not configured".into()))?;
    let requester = Requester::authenticate(req, service)?;
    if let Some(session) = &requester.session {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(session.csrf_token.as_bytes())) {
            return Err(AppError::Forbidden("missing or wrong X-CSRF-Token".into()).into());
        }
    }
    requester.require(scope)?;
    if !requester.user.admin {
        return Err(AppError::Forbidden(format!(
            "{} is not an administrator",
            requester.user.username
        ))
        .into());
    }
    Ok((requester.user, requester.grant))
}

/// An administrator allowed to read (`admin:read`).
pub struct AdminRead(pub Arc<User>);

impl FromRequest for AdminRead {
    type Error = ApiError;
    type Future = Ready<Result<AdminRead, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req, Scope::AdminRead).map(|(user, _)| AdminRead(user)))
    }
}

/// An administrator allowed to change things, and to see what hands out others' tokens or
/// credentials (`admin:write`); with what their credential may do (a key made with it can do no
/// more).
pub struct AdminWrite(pub Arc<User>, pub Grant);

impl FromRequest for AdminWrite {
    type Error = ApiError;
    type Future = Ready<Result<AdminWrite, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req, Scope::AdminWrite).and_then(|(user, grant)| {
            if_match_taken(req)?;
            Ok(AdminWrite(user, grant))
        }))
    }
}

/// The routes that honour `If-Match`: changing or deleting a user, an asset, an identity
/// provider, the sign-in policy (the last two are one record, the sign-in settings, and share its
/// version).
const IF_MATCH_ROUTES: [&str; 4] = [
    "/api/v1/users/{username}",
    "/api/v1/assets/{id}",
    "/api/v1/identity-providers/{id}",
    "/api/v1/sign-in-policy",
];

/// A change that sends `If-Match` where it is not honoured is refused rather than done without
/// the condition the client asked for.
fn if_match_taken(req: &HttpRequest) -> Result<(), ApiError> {
    if req.headers().contains_key(header::IF_MATCH)
        && !req
            .match_pattern()
            .is_some_and(|p| IF_MATCH_ROUTES.contains(&p.as_str()))
    {
        return Err(AppError::invalid(
            "If-Match",
            "this route does not take If-Match; changes and deletes of a user, an asset, an \
             identity provider and the sign-in policy do",
        )
        .into());
    }
    Ok(())
}

/// The version a request's `If-Match` holds it to: absent (no header), any (`*`), or one
/// record version (`"7"`, the `ETag` of a record at version 7). A weak tag never matches
/// (RFC 9110 compares `If-Match` strongly); several tags, or a malformed one, are a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match`.
    Absent,
    /// `If-Match: *`: any current version.
    Any,
    /// `If-Match: "7"`.
    Version(u64),
    /// A weak tag: matches nothing.
    Never,
}

impl IfMatch {
    fn parse(req: &HttpRequest) -> Result<IfMatch, AppError> {
        let mut values = req.headers().get_all(header::IF_MATCH);
        let Some(value) = values.next() else {
            return Ok(IfMatch::Absent);
        };
        let bad = || {
            AppError::invalid(
                "If-Match",
                "must be * or one entity tag from an ETag, like \"7\"",
            )
        };
        if values.next().is_some() {
            return Err(bad());
        }
        let text = value.to_str().map_err(|_| bad())?.trim();
        if text.is_empty() {
            // An empty list of tags: no condition.
            return Ok(IfMatch::Absent);
        }
        if text == "*" {
            return Ok(IfMatch::Any);
        }
        if let Some(weak) = text.strip_prefix("W/") {
            return weak
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .map(|_| IfMatch::Never)
                .ok_or_else(bad);
        }
        text.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<u64>().ok())
            .map(IfMatch::Version)
            .ok_or_else(bad)
    }

    /// The version to hold a change to: `If-Match`'s when it names one, else the body's
    /// (`version`); `*` takes the body's, or the record's current one (so it must exist). A weak
    /// tag holds it to a version no record has.
    pub(super) fn holding(
        self,
        body: Option<u64>,
        current: impl FnOnce() -> Result<u64, AppError>,
    ) -> Result<Option<u64>, AppError> {
        Ok(match self {
            IfMatch::Absent => body,
            IfMatch::Any => match body {
                Some(v) => Some(v),
                None => Some(current()?),
            },
            IfMatch::Version(v) => Some(v),
            IfMatch::Never => Some(u64::MAX),
        })
    }

    pub(super) fn is_present(self) -> bool {
        self != IfMatch::Absent
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<IfMatch, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(IfMatch::parse(req).map_err(ApiError::from))
    }
}

/// The `ETag` of a record at `version`.
pub(super) fn etag(version: u64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// A JSON answer that must not be cached (it may hold a secret shown once, or a token).
pub(super) fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /api/v1/session`: who is signed in, and the CSRF token for API calls with the cookie.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "session",
    summary = "Who is signed in, and the CSRF token for API calls with the cookie",
    responses((status = 200, description = "The session", body = SessionInfo)),
    security(("session" = [])),
)]
pub async fn current_session(req: HttpRequest, service: web::Data<Service>) -> ApiResult {
    let cookie = session_cookie(&req).ok_or_else(|| AppError::Forbidden("not signed in".into()))?;
    let (user, session) = service.authenticate_session(&cookie)?;
    Ok(no_store(HttpResponse::Ok().json(SessionInfo {
        username: user.username.to_string(),
        admin: user.admin,
        csrf_token: session.csrf_token.clone(),
    })))
}

/// Who is signed in with the cookie.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The username.
    pub username: String,
    /// Whether they administer the server.
    pub admin: bool,
    /// Send it as `X-CSRF-Token` with API calls made with the cookie.
    pub csrf_token: String,
}

/// Unknown `/api/v1/…` URLs.
pub async fn not_found() -> ApiResult {
    Err(AppError::NotFound.into())
}

/// A failed change's answer: 412 for a stale version that came as `If-Match`.
pub(super) fn error_under(if_match: IfMatch, e: AppError) -> ApiError {
    if if_match.is_present() {
        ApiError::under_if_match(e)
    } else {
        ApiError::from(e)
    }
}

/// A JSON body that must be an object: serde would also take an array for a struct, filling its
/// fields in order (`[null, null]`), which no client means.
pub struct Json<T>(T);

impl<T> Json<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// `T` read from a JSON object only.
struct Object<T>(T);

impl<'de, T: DeserializeOwned> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let fields = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        T::deserialize(serde_json::Value::Object(fields))
            .map(Object)
            .map_err(D::Error::custom)
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Json<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<Object<T>>::from_request(req, payload);
        Box::pin(async move { Ok(Json(body.await?.into_inner().0)) })
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn serde_messages_keep_names_and_lose_values() {
        assert_eq!(
            redacted(
                "unknown variant `-----BEGIN PRIVATE KEY-----\nMIIE`, expected `generate` or `pem` at line 1 column 40"
            ),
            "unknown variant `…`, expected `generate` or `pem` at line 1 column 40"
        );
        assert_eq!(
            redacted("unknown field `colour`, expected one of `name`, `path`"),
            "unknown field `colour`, expected one of `name`, `path`"
        );
        assert_eq!(
            redacted(r#"invalid type: string "hunter2 \"x\"", expected a boolean"#),
            r#"invalid type: string "…", expected a boolean"#
        );
    }
}
