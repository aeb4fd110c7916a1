//! The people pages: users, their attributes, groups, passwords, sessions and API keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::extract::{Admin, AdminForm, WithCsrf};
use super::tools::Moment;
use super::{UiError, Viewer};
use crate::domain::credentials::Scope;
use crate::error::{AppError, FieldError};
use crate::routes::session::CookiePolicy;
use crate::secret::SecretString;
use crate::service::{ApiKeyInput, OneTime, Service, UserInput, UserUpdate, UserView, blocking};

/// Attributes with their own field on the forms; every other attribute is a `name=value` line.
const NAMED_ATTRIBUTES: [&str; 3] = ["first_name", "last_name", "email"];

/// Field name → message, shown next to the field.
type Errors = BTreeMap<String, String>;

/// A row of the user list.
#[derive(Serialize)]
struct UserRow {
    username: String,
    name: String,
    email: String,
    groups: Vec<String>,
    admin: bool,
    disabled: bool,
    has_password: bool,
    sessions: usize,
    source: String,
}

/// What the create form shows (everything typed except the password).
#[derive(Serialize, Default)]
struct NewUserValues {
    username: String,
    admin: bool,
    first_name: String,
    last_name: String,
    email: String,
    groups: String,
}

/// Fields of the create form.
#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    admin: Option<String>,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    groups: String,
}

impl WithCsrf for NewUserForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Query of pages shown after a redirect.
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// Users shown per page of `/admin/users`.
pub const USERS_PER_PAGE: usize = 50;

/// `/admin/users?q=…&after=…`: a username prefix, and the last username of the previous page.
#[derive(Deserialize, Default)]
pub struct UserListQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: Option<String>,
}

/// A form whose only field is the CSRF token (buttons).
#[derive(Deserialize)]
pub struct ButtonForm {
    #[serde(default)]
    csrf: String,
}

impl WithCsrf for ButtonForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Fields of the edit form.
#[derive(Deserialize)]
pub struct EditUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    attributes: String,
    #[serde(default)]
    groups: String,
    #[serde(default)]
    admin: Option<String>,
}

impl WithCsrf for EditUserForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Fields of the password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: SecretString,
}

/// The new-key form: a checkbox per scope, and an optional last day.
#[derive(Deserialize)]
pub struct ApiKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    scope_tokens: Option<String>,
    #[serde(default)]
    scope_admin_read: Option<String>,
    #[serde(default)]
    scope_admin_write: Option<String>,
    /// `YYYY-MM-DD`: the key works until the end of that day (UTC).
    #[serde(default)]
    expires_on: String,
}

impl WithCsrf for ApiKeyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ApiKeyForm {
    /// The key the form asks for.
    fn input(&self) -> Result<ApiKeyInput, AppError> {
        let scopes = [
            (&self.scope_tokens, Scope::Tokens),
            (&self.scope_admin_read, Scope::AdminRead),
            (&self.scope_admin_write, Scope::AdminWrite),
        ]
        .into_iter()
        .filter(|(ticked, _)| ticked.is_some())
        .map(|(_, s)| s.as_str().to_owned())
        .collect();
        let day = self.expires_on.trim();
        let expires_at = if day.is_empty() {
            None
        } else {
            let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| AppError::invalid("expires_on", "must be a date like 2027-01-31"))?;
            let end = date
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .ok_or_else(|| AppError::invalid("expires_on", "must be a date like 2027-01-31"))?;
            Some(end.and_utc())
        };
        Ok(ApiKeyInput {
            scopes: Some(scopes),
            expires_at,
            within: None,
        })
    }
}

impl WithCsrf for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What the edit form shows: the stored values, or what was typed.
#[derive(Serialize)]
struct EditValues {
    first_name: String,
    last_name: String,
    email: String,
    attributes: String,
    groups: String,
    admin: bool,
}

impl EditValues {
    fn of(user: &UserView) -> Self {
        let attr = |name: &str| user.attributes.get(name).cloned().unwrap_or_default();
        let attributes = user
            .attributes
            .iter()
            .filter(|(name, _)| !NAMED_ATTRIBUTES.contains(&name.as_str()))
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("\n");
        EditValues {
            first_name: attr("first_name"),
            last_name: attr("last_name"),
            email: attr("email"),
            attributes,
            groups: user.groups.join(", "),
            admin: user.admin,
        }
    }

    fn typed(form: &EditUserForm) -> Self {
        EditValues {
            first_name: form.first_name.clone(),
            last_name: form.last_name.clone(),
            email: form.email.clone(),
            attributes: form.attributes.clone(),
            groups: form.groups.clone(),
            admin: form.admin.is_some(),
        }
    }
}

/// A session row (never its id).
#[derive(Serialize)]
struct SessionRow {
    created: Moment,
    last_seen: Moment,
}

/// An API key row (its prefix, never the key).
#[derive(Serialize)]
struct KeyRow {
    id: String,
    prefix: String,
    scopes: Vec<&'static str>,
    created: Moment,
    last_used: Option<Moment>,
    revoked: Option<Moment>,
    expires: Option<Moment>,
    expired: bool,
}

/// Groups typed as `a, b, c`; empty pieces are ignored.
fn parse_groups(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The named attribute fields plus the `name=value` lines of the textarea.
fn parse_attributes(
    first_name: &str,
    last_name: &str,
    email: &str,
    lines: &str,
) -> Result<BTreeMap<String, String>, FieldError> {
    let mut out = BTreeMap::new();
    for (name, value) in NAMED_ATTRIBUTES.iter().zip([first_name, last_name, email]) {
        let value = value.trim();
        if !value.is_empty() {
            out.insert((*name).to_owned(), value.to_owned());
        }
    }
    for (i, line) in lines.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(FieldError::at(
                "attributes",
                format!("line {line_no}: write name=value"),
                line_no,
                1,
            ));
        };
        let name = name.trim();
        if NAMED_ATTRIBUTES.contains(&name) {
            return Err(FieldError::at(
                "attributes",
                format!("line {line_no}: set {name} in its own field above"),
                line_no,
                1,
            ));
        }
        if out
            .insert(name.to_owned(), value.trim().to_owned())
            .is_some()
        {
            return Err(FieldError::at(
                "attributes",
                format!("line {line_no}: {name} is set twice"),
                line_no,
                1,
            ));
        }
    }
    Ok(out)
}

/// Put a validation error next to its field; other errors become error pages.
fn field_error(errors: &mut Errors, e: AppError, conflict_field: &str) -> Result<(), UiError> {
    match e {
        AppError::Invalid(f) => {
            errors.insert(f.field.clone(), sentence(&f.field, &f.message));
            Ok(())
        }
        AppError::Conflict(m) => {
            errors.insert(conflict_field.to_owned(), sentence(conflict_field, &m));
            Ok(())
        }
        other => Err(other.into()),
    }
}

/// A validation message as a sentence: `must be …` becomes `Username must be ….`
fn sentence(field: &str, message: &str) -> String {
    let message = message.trim_end_matches('.');
    let text = if message.starts_with("must ") || message.starts_with("may ") {
        format!("{} {message}", field.replace('_', " "))
    } else {
        message.to_owned()
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn users_page(
    service: &Service,
    tera: &tera::Tera,
    viewer: &Viewer,
    values: &NewUserValues,
    errors: &Errors,
    list: &UserListQuery,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let notice = super::notice(list.done.as_deref());
    // One page, read in username order without loading the others (100 000 users are fine).
    let q = list.q.trim();
    let after = list.after.as_deref().filter(|a| !a.is_empty());
    let (users, more) = service.users_page(q, after, USERS_PER_PAGE)?;
    let next = more
        .then(|| users.last().map(|u| u.username.clone()))
        .flatten();
    let rows: Vec<UserRow> = users
        .into_iter()
        .map(|u| {
            let attr = |name: &str| u.attributes.get(name).cloned().unwrap_or_default();
            let name = u.display_name();
            let sessions = service
                .sessions_of(&u.username)
                .map(|s| s.len())
                .unwrap_or(0);
            UserRow {
                name,
                email: attr("email"),
                username: u.username,
                groups: u.groups,
                admin: u.admin,
                disabled: u.disabled,
                has_password: u.has_password,
                sessions,
                source: u.source,
            }
        })
        .collect();
    let mut ctx = super::context(viewer, "users");
    ctx.insert("users", &rows);
    let with_q = |sep: char| {
        if q.is_empty() {
            String::new()
        } else {
            format!("{sep}q={}", super::encode(q))
        }
    };
    ctx.insert("q", q);
    ctx.insert("paged", &after.is_some());
    ctx.insert(
        "first_url",
        &after.map(|_| format!("/admin/users{}", with_q('?'))),
    );
    ctx.insert(
        "next_url",
        &next.map(|n| {
            let q = with_q('?');
            let sep = if q.is_empty() { '?' } else { '&' };
            format!("/admin/users{q}{sep}after={}", super::encode(&n))
        }),
    );
    ctx.insert("form", values);
    ctx.insert("errors", errors);
    ctx.insert("notice", &notice);
    super::render(tera, "users.html", &ctx, status)
}

/// `GET /admin/users`: users a page at a time (`?q=` a username prefix, `?after=` the last
/// username of the previous page), and a form to create one.
pub async fn users(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<UserListQuery>,
) -> Result<HttpResponse, UiError> {
    users_page(
        &service,
        &tera,
        &viewer,
        &NewUserValues::default(),
        &Errors::new(),
        &query,
        StatusCode::OK,
    )
}

/// `POST /admin/users`: create a user (the password is hashed on a blocking thread); on a
/// mistake the form comes back with what was typed, except the password.
pub async fn create_user(
    AdminForm(viewer, form): AdminForm<NewUserForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let values = NewUserValues {
        username: form.username.trim().to_owned(),
        admin: form.admin.is_some(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        email: form.email.clone(),
        groups: form.groups.clone(),
    };
    let mut errors = Errors::new();
    let attributes = match parse_attributes(&form.first_name, &form.last_name, &form.email, "") {
        Ok(a) => a,
        Err(f) => {
            errors.insert(f.field.clone(), sentence(&f.field, &f.message));
            BTreeMap::new()
        }
    };
    if errors.is_empty() {
        let password = (!form.password.expose().is_empty()).then_some(form.password);
        let input = UserInput {
            username: values.username.clone(),
            password,
            admin: values.admin,
            attributes,
            groups: parse_groups(&form.groups),
        };
        let (svc, actor) = (Arc::clone(&service), Arc::clone(&viewer.user));
        match blocking(move || svc.create_user(actor.username.as_str(), input)).await {
            Ok(user) => {
                return Ok(super::see_other(&format!(
                    "/admin/users/{}?done=user_created",
                    user.username
                )));
            }
            Err(e) => field_error(&mut errors, e, "username")?,
        }
    }
    users_page(
        &service,
        &tera,
        &viewer,
        &values,
        &errors,
        &UserListQuery::default(),
        StatusCode::BAD_REQUEST,
    )
}

/// The state of the user page's forms.
struct Shown<'a> {
    values: EditValues,
    errors: Errors,
    notice: Option<&'a str>,
    status: StatusCode,
}

fn user_view(
    service: &Service,
    tera: &tera::Tera,
    viewer: &Viewer,
    user: &UserView,
    shown: Shown<'_>,
) -> Result<HttpResponse, UiError> {
    let sessions: Vec<SessionRow> = service
        .sessions_of(&user.username)?
        .into_iter()
        .map(|s| SessionRow {
            created: Moment::of(s.created_at),
            last_seen: Moment::of(s.last_seen),
        })
        .collect();
    let mut keys = service.api_keys(&user.username)?;
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    let keys: Vec<KeyRow> = keys
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(Scope::as_str).collect(),
            created: Moment::of(k.created_at),
            last_used: k.last_used_at.map(Moment::of),
            revoked: k.revoked_at.map(Moment::of),
            expires: k.expires_at.map(Moment::of),
            expired: k.expires_at.is_some_and(|t| t <= chrono::Utc::now()),
        })
        .collect();
    let providers: Vec<String> = service
        .sign_in_settings()?
        .providers
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut ctx = super::context(viewer, "users");
    ctx.insert("providers", &providers);
    ctx.insert("user", user);
    ctx.insert("created", &Moment::of(user.created_at));
    ctx.insert(
        "is_self",
        &viewer
            .user
            .username
            .as_str()
            .eq_ignore_ascii_case(&user.username),
    );
    ctx.insert("form", &shown.values);
    ctx.insert("errors", &shown.errors);
    ctx.insert("sessions", &sessions);
    ctx.insert("keys", &keys);
    ctx.insert("notice", &shown.notice);
    super::render(tera, "user.html", &ctx, shown.status)
}

/// `GET /admin/users/{username}`: edit a user, reset the password, disable, end sessions, keys.
pub async fn user_page(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, UiError> {
    let user = service.user(&path)?;
    user_view(
        &service,
        &tera,
        &viewer,
        &user,
        Shown {
            values: EditValues::of(&user),
            errors: Errors::new(),
            notice: super::notice(query.done.as_deref()),
            status: StatusCode::OK,
        },
    )
}

/// `POST /admin/users/{username}`: save attributes, groups and the admin flag.
pub async fn save_user(
    AdminForm(viewer, form): AdminForm<EditUserForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let user = service.user(&path)?;
    let mut errors = Errors::new();
    match parse_attributes(
        &form.first_name,
        &form.last_name,
        &form.email,
        &form.attributes,
    ) {
        Err(f) => {
            errors.insert(f.field.clone(), sentence(&f.field, &f.message));
            if let Some(line) = f.line {
                errors.insert("attributes_line".into(), line.to_string());
            }
        }
        Ok(attributes) => {
            let update = UserUpdate {
                attributes: Some(attributes),
                groups: Some(parse_groups(&form.groups)),
                admin: Some(form.admin.is_some()),
                version: None,
            };
            let (svc, actor) = (Arc::clone(&service), Arc::clone(&viewer.user));
            let username = user.username.clone();
            let saved =
                blocking(move || svc.update_user(actor.username.as_str(), &username, update)).await;
            match saved {
                Ok(saved) => {
                    return Ok(super::see_other(&format!(
                        "/admin/users/{}?done=user_saved",
                        saved.username
                    )));
                }
                Err(e) => field_error(&mut errors, e, "attributes")?,
            }
        }
    }
    user_view(
        &service,
        &tera,
        &viewer,
        &user,
        Shown {
            values: EditValues::typed(&form),
            errors,
            notice: None,
            status: StatusCode::BAD_REQUEST,
        },
    )
}

/// `POST /admin/users/{username}/password`: set a new password (hashed on a blocking thread);
/// the user's sessions end.
pub async fn set_password(
    AdminForm(viewer, form): AdminForm<PasswordForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let user = service.user(&path)?;
    let (svc, actor) = (Arc::clone(&service), Arc::clone(&viewer.user));
    let username = user.username.clone();
    let password = form.password;
    let mut errors = Errors::new();
    let set = blocking(move || svc.set_password(actor.username.as_str(), &username, &password));
    match set.await {
        Ok(()) => {
            return Ok(super::see_other(&format!(
                "/admin/users/{}?done=password",
                user.username
            )));
        }
        Err(e) => field_error(&mut errors, e, "password")?,
    }
    refused_on_page(&service, &tera, &viewer, &user, errors)
}

/// The user's page again, with the stored values and what was wrong with a form below them.
fn refused_on_page(
    service: &Service,
    tera: &tera::Tera,
    viewer: &Viewer,
    user: &UserView,
    errors: Errors,
) -> Result<HttpResponse, UiError> {
    user_view(
        service,
        tera,
        viewer,
        user,
        Shown {
            values: EditValues::of(user),
            errors,
            notice: None,
            status: StatusCode::BAD_REQUEST,
        },
    )
}

/// `POST /admin/users/{username}/disable`: ends their sessions; their API keys stop working.
/// Administrators cannot disable themselves.
pub async fn disable(
    AdminForm(viewer, _): AdminForm<ButtonForm>,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    if viewer.user.username.as_str().eq_ignore_ascii_case(&path) {
        return Err(AppError::Conflict("You cannot disable yourself.".into()).into());
    }
    let (service, actor, username) = (service.into_inner(), viewer.user, path.into_inner());
    let user =
        blocking(move || service.set_disabled(actor.username.as_str(), &username, true)).await?;
    Ok(super::see_other(&format!(
        "/admin/users/{}?done=disabled",
        user.username
    )))
}

/// `POST /admin/users/{username}/enable`.
pub async fn enable(
    AdminForm(viewer, _): AdminForm<ButtonForm>,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (service, actor, username) = (service.into_inner(), viewer.user, path.into_inner());
    let user =
        blocking(move || service.set_disabled(actor.username.as_str(), &username, false)).await?;
    Ok(super::see_other(&format!(
        "/admin/users/{}?done=enabled",
        user.username
    )))
}

/// `POST /admin/users/{username}/delete`: the user goes for good, with their sessions and API
/// keys (their audit entries stay). Not yourself, not the last administrator.
pub async fn delete(
    AdminForm(viewer, _): AdminForm<ButtonForm>,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (service, actor, username) = (service.into_inner(), viewer.user, path.into_inner());
    blocking(move || service.delete_user(actor.username.as_str(), &username, None)).await?;
    Ok(super::see_other("/admin/users?done=user_deleted"))
}

/// `POST /admin/users/{username}/sessions/end`: sign the user out everywhere.
pub async fn end_sessions(
    AdminForm(viewer, _): AdminForm<ButtonForm>,
    service: web::Data<Service>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let user = service.user(&path)?;
    let (actor, username) = (viewer.user, user.username.clone());
    blocking(move || service.end_sessions(actor.username.as_str(), &username)).await?;
    Ok(super::see_other(&format!(
        "/admin/users/{}?done=sessions_ended",
        user.username
    )))
}

/// `POST /admin/users/{username}/api-keys`: create a key, then to the page that shows it this
/// once (the key is in no URL; a reload of that page creates nothing).
pub async fn create_api_key(
    AdminForm(viewer, form): AdminForm<ApiKeyForm>,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let user = service.user(&path)?;
    let (actor, username, svc) = (
        Arc::clone(&viewer.user),
        user.username.clone(),
        Arc::clone(&service),
    );
    let created = match form.input() {
        Ok(input) => {
            blocking(move || svc.create_api_key(actor.username.as_str(), &username, input)).await
        }
        Err(e) => Err(e),
    };
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let mut errors = Errors::new();
            field_error(&mut errors, e, "scopes")?;
            return refused_on_page(&service, &tera, &viewer, &user, errors);
        }
    };
    let value = OneTime::ApiKey {
        username: user.username.to_string(),
        key: created.key,
        prefix: created.view.prefix,
        created_at: created.view.created_at.timestamp(),
    };
    super::once::show_once(&service, &policy, &viewer, value)
}

/// `POST /admin/users/{username}/api-keys/{id}/revoke`: the key stops working at once.
pub async fn revoke_api_key(
    AdminForm(viewer, _): AdminForm<ButtonForm>,
    service: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let (username, id) = path.into_inner();
    let user = service.user(&username)?;
    let (actor, username) = (viewer.user, user.username.clone());
    blocking(move || service.revoke_api_key(actor.username.as_str(), &username, &id)).await?;
    Ok(super::see_other(&format!(
        "/admin/users/{}?done=revoked",
        user.username
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lines_become_attributes_beside_the_named_fields() {
        let a = parse_attributes("Ann", "", " a@b.c ", "team = blue\n\nage=42\r\n").unwrap();
        assert_eq!(a["first_name"], "Ann");
        assert_eq!(a["email"], "a@b.c");
        assert_eq!(a["team"], "blue");
        assert_eq!(a["age"], "42");
        assert!(!a.contains_key("last_name"));
    }

    #[test]
    fn a_line_without_equals_is_an_error_at_its_line() {
        let e = parse_attributes("", "", "", "a=1\nnonsense").unwrap_err();
        assert_eq!(e.field, "attributes");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn a_named_attribute_in_the_lines_or_a_repeated_name_is_refused() {
        assert!(parse_attributes("", "", "", "email=x@y.z").is_err());
        assert!(parse_attributes("", "", "", "a=1\na=2").is_err());
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            sentence("password", "must be at least 10 characters long"),
            "Password must be at least 10 characters long."
        );
        assert_eq!(
            sentence("username", "the username bob is taken"),
            "The username bob is taken."
        );
    }

    #[test]
    fn groups_are_split_on_commas_and_trimmed() {
        assert_eq!(parse_groups(" staff, ops ,, "), vec!["staff", "ops"]);
    }
}
