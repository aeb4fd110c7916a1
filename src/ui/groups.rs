//! The groups pages (every group with its member count; one group's members) and the
//! suggestions the asset form's rule fields fetch as the administrator types.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::UiError;
use super::extract::Admin;
use super::people::USERS_PER_PAGE;
use crate::service::{Service, blocking};

/// How many names one suggestion answer holds.
const SUGGESTIONS: usize = 20;

/// `GET /admin/groups`: every group users hold, with how many members each has.
pub async fn groups(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
) -> Result<HttpResponse, UiError> {
    let service: Arc<Service> = service.into_inner();
    let list = blocking(move || service.groups()).await?;
    let mut ctx = super::context(&viewer, "users");
    ctx.insert("list", &list);
    super::render(&tera, "groups.html", &ctx, StatusCode::OK)
}

/// `?after=` the last username of the previous page.
#[derive(Deserialize)]
pub struct MembersQuery {
    #[serde(default)]
    after: Option<String>,
}

/// A member row.
#[derive(Serialize)]
struct MemberRow {
    username: String,
    name: String,
    groups: Vec<String>,
    admin: bool,
    disabled: bool,
}

/// `GET /admin/groups/{name}`: the group's members, a page at a time.
pub async fn group(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    path: web::Path<String>,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, UiError> {
    let name = path.into_inner();
    let after = query.into_inner().after.filter(|a| !a.is_empty());
    let service: Arc<Service> = service.into_inner();
    let (members, more) = {
        let (name, after) = (name.clone(), after.clone());
        blocking(move || service.group_members(&name, after.as_deref(), USERS_PER_PAGE)).await?
    };
    let rows: Vec<MemberRow> = members
        .into_iter()
        .map(|u| MemberRow {
            name: u.display_name(),
            username: u.username,
            groups: u.groups,
            admin: u.admin,
            disabled: u.disabled,
        })
        .collect();
    let here = format!("/admin/groups/{}", super::encode(&name));
    let next = more
        .then(|| {
            rows.last()
                .map(|r| format!("{here}?after={}", super::encode(&r.username)))
        })
        .flatten();
    let mut ctx = super::context(&viewer, "users");
    ctx.insert("group", &name);
    ctx.insert("members", &rows);
    ctx.insert("first_url", &after.map(|_| here.clone()));
    ctx.insert("next_url", &next);
    super::render(&tera, "group.html", &ctx, StatusCode::OK)
}

/// `?field=users|groups&q=` the start of a name.
#[derive(Deserialize)]
pub struct SuggestQuery {
    field: String,
    #[serde(default)]
    q: String,
}

/// `GET /admin/suggest?field=users|groups&q=…`: up to 20 usernames or group names starting
/// with `q` (without regard to case), as a JSON array, for the rule fields' pickers.
pub async fn suggest(
    Admin(_viewer): Admin,
    service: web::Data<Service>,
    query: web::Query<SuggestQuery>,
) -> Result<HttpResponse, UiError> {
    let SuggestQuery { field, q } = query.into_inner();
    let q = q.trim().to_owned();
    let service: Arc<Service> = service.into_inner();
    let names: Vec<String> = match field.as_str() {
        "users" => {
            blocking(move || {
                Ok(service
                    .users_page(&q.to_ascii_lowercase(), None, SUGGESTIONS)?
                    .0
                    .into_iter()
                    .map(|u| u.username)
                    .collect())
            })
            .await?
        }
        "groups" => blocking(move || service.group_names(&q, SUGGESTIONS)).await?,
        _ => {
            return Err(crate::error::AppError::invalid("field", "must be users or groups").into());
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(names))
}
