//! Values shown once (a generated secret, a new API key) by Post/Redirect/Get: the post that
//! makes one answers 303 to `/admin/once` and hands over the value in a sealed cookie the
//! browser keeps only for that page; the page shows it and drops the cookie. A reload, or Back
//! and Forward, finds no cookie: it says so and creates or changes nothing.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use super::tools::Moment;
use super::{UiError, Viewer};
use crate::routes::session::CookiePolicy;
use crate::service::{ONE_TIME_SECONDS, OneTime, Service};
use crate::ui::extract::Admin;

/// The cookie that carries a sealed value to the page that shows it.
pub const ONCE_COOKIE: &str = "jas_once";
/// The page that shows it (and the only path the cookie is sent to).
pub const ONCE_PATH: &str = "/admin/once";

fn cookie(policy: &CookiePolicy, value: String) -> Cookie<'static> {
    Cookie::build(ONCE_COOKIE, value)
        .path(ONCE_PATH)
        .http_only(true)
        .secure(policy.secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(ONE_TIME_SECONDS))
        .finish()
}

/// Answer a post that made `value`: 303 to the page that shows it, with the sealed value.
pub fn show_once(
    service: &Service,
    policy: &CookiePolicy,
    viewer: &Viewer,
    value: OneTime,
) -> Result<HttpResponse, UiError> {
    let sealed = service.seal_one_time(&viewer.csrf, value)?;
    let mut res = super::see_other(ONCE_PATH);
    res.add_cookie(&cookie(policy, sealed))
        .map_err(|e| UiError::from(crate::error::AppError::Unexpected(e.to_string())))?;
    Ok(res)
}

/// `GET /admin/once`: the value, this once; afterwards, a page saying it is gone.
pub async fn once(
    Admin(viewer): Admin,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
) -> Result<HttpResponse, UiError> {
    let value = req
        .cookie(ONCE_COOKIE)
        .and_then(|c| service.open_one_time(&viewer.csrf, c.value()));
    let mut res = match value {
        None => {
            let mut ctx = super::context(&viewer, "");
            ctx.insert("minutes", &(ONE_TIME_SECONDS / 60));
            super::render(&tera, "shown_once.html", &ctx, StatusCode::GONE)?
        }
        Some(OneTime::ApiKey {
            username,
            key,
            prefix,
            created_at,
        }) => {
            let mut ctx = super::context(&viewer, "users");
            ctx.insert("username", &username);
            ctx.insert("key", &key);
            ctx.insert("prefix", &prefix);
            let created = DateTime::from_timestamp(created_at, 0).unwrap_or_else(Utc::now);
            ctx.insert("created", &Moment::of(created));
            super::render(&tera, "api_key_created.html", &ctx, StatusCode::OK)?
        }
        Some(OneTime::Secret {
            asset,
            secret,
            created,
            next_at,
            warnings,
        }) => {
            let asset = service.asset(&asset)?;
            let next_at = next_at.and_then(|t| DateTime::from_timestamp(t, 0));
            super::assets::secret_once_page(
                &tera, &viewer, &asset, &secret, created, next_at, &warnings,
            )?
        }
    };
    if req.cookie(ONCE_COOKIE).is_some() {
        let mut gone = cookie(&policy, String::new());
        gone.make_removal();
        gone.set_path(ONCE_PATH);
        res.add_cookie(&gone)
            .map_err(|e| UiError::from(crate::error::AppError::Unexpected(e.to_string())))?;
    }
    Ok(res)
}
