//! Creating and editing an asset: the new and edit pages and their posts.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::common::{Page, base_url, when};
use super::draft::{self, Posted};
use super::form::AssetForm;
use super::page::{Extras, form_page, show_secret_once};
use super::problems::Problems;
use super::values::Values;
use crate::domain::presets::Preset;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::routes::session::CookiePolicy;
use crate::service::{AssetView, SavedAsset, Service, blocking};
use crate::ui::extract::Admin;
use crate::ui::{self, UiError, Viewer};

/// The form again, not saved, with `values` and `notice` (a form from an earlier session, or
/// changes brought back after signing in again).
fn review(
    tera: &tera::Tera,
    service: &Service,
    viewer: &Viewer,
    stored: Option<&AssetView>,
    values: &Values,
    notice: &str,
    status: StatusCode,
) -> Page {
    form_page(
        tera,
        service,
        viewer,
        stored,
        values,
        Extras {
            notice: Some(notice.to_owned()),
            ..Extras::default()
        },
        &Problems::default(),
        status,
    )
}

/// Query of the new-asset page.
#[derive(Deserialize)]
pub struct NewQuery {
    /// Start from this consumer preset (`matrix`, …); unknown or empty = a blank form.
    preset: Option<String>,
}

/// `GET /admin/assets/new`: an empty form, or one pre-filled from `?preset=` (a plain GET form
/// on the page, so it works without JavaScript).
pub async fn new_form(
    Admin(viewer): Admin,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<NewQuery>,
) -> Page {
    let values = match query
        .preset
        .as_deref()
        .map(str::trim)
        .and_then(Preset::parse)
    {
        Some(p) => Values::preset(p),
        None => Values::blank(),
    };
    form_page(
        &tera,
        &service,
        &viewer,
        None,
        &values,
        Extras::default(),
        &Problems::default(),
        StatusCode::OK,
    )
}

/// Save a posted form through the service: `Ok` with the saved asset, or the problems to show.
async fn save_form(
    service: &Arc<Service>,
    viewer: &Viewer,
    form: &AssetForm,
    id: Option<&AssetId>,
    template: &str,
) -> Result<Result<SavedAsset, (Problems, StatusCode)>, UiError> {
    let (input, mut seen) = form.input(id.is_some());
    let (svc, actor, id) = (Arc::clone(service), Arc::clone(&viewer.user), id.cloned());
    if !seen.is_empty() {
        // The service checks the rest in the same round: its findings about fields this
        // layer has not already reported are added.
        let checked =
            blocking(move || svc.check_asset(actor.username.as_str(), id.as_ref(), input)).await;
        if let Err(e @ AppError::Invalid(_)) = checked {
            let mut found = Problems::default();
            found.absorb(e, template)?;
            seen.add_new(found);
        }
        return Ok(Err((*seen, StatusCode::BAD_REQUEST)));
    }
    // Generating an RSA key takes a moment.
    let saved = blocking(move || match id {
        Some(id) => svc.update_asset(actor.username.as_str(), &id, input),
        None => svc.create_asset(actor.username.as_str(), input),
    })
    .await;
    match saved {
        Ok(saved) => Ok(Ok(saved)),
        Err(e) => {
            let mut p = Problems::default();
            let status = p.absorb(e, template)?;
            Ok(Err((p, status)))
        }
    }
}

/// `POST /admin/assets/new`: create, then to the list (or to the one-time secret page).
pub async fn create(
    admin: Result<Admin, UiError>,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Page {
    let service = service.into_inner();
    let (viewer, form) = match draft::receive(admin, &req, &service, &tera, form).await? {
        Posted::Save(viewer, form) => (viewer, form),
        Posted::Answer(res) => return Ok(res),
        Posted::Review(viewer, form, notice, status) => {
            let values = form.as_deref().map_or_else(Values::blank, Values::typed);
            return review(&tera, &service, &viewer, None, &values, notice, status);
        }
    };
    let values = Values::typed(&form);
    let (mut problems, status) =
        match save_form(&service, &viewer, &form, None, &values.template).await? {
            Ok(saved) => {
                return match &saved.generated_secret {
                    Some(secret) => {
                        show_secret_once(&service, &policy, &viewer, &saved, secret, true, None)
                    }
                    None if saved.asset.kid.is_some() => Ok(ui::see_other(&format!(
                        "/admin/assets/{}?done=created#keys",
                        saved.asset.id
                    ))),
                    // The edit page shows what the preset warns about.
                    None if !saved.warnings.is_empty() => Ok(ui::see_other(&format!(
                        "/admin/assets/{}?done=created",
                        saved.asset.id
                    ))),
                    None => Ok(ui::see_other("/admin/assets?done=created")),
                };
            }
            Err(p) => p,
        };
    problems.check_template(&values.template);
    form_page(
        &tera,
        &service,
        &viewer,
        None,
        &values,
        Extras {
            typed_secret: Some(form.secret.expose()),
            typed_pem: Some(form.key_pem.expose()),
            ..Extras::default()
        },
        &problems,
        status,
    )
}

/// Query of the edit page.
#[derive(Deserialize)]
pub struct EditQuery {
    done: Option<String>,
}

/// The message after a key rotation, a scheduled or cancelled switch or a creation, worded from
/// the stored asset (never from the URL).
fn edit_notice(code: Option<&str>, a: &AssetView) -> Option<String> {
    match code? {
        "created" => Some(match &a.kid {
            Some(kid) => format!(
                "Asset created with a new {} key; its tokens carry kid {kid}.",
                a.key_type
            ),
            None => "Asset created.".into(),
        }),
        "rotated" => {
            let kid = a.kid.as_deref()?;
            let previous = a
                .keys
                .iter()
                .filter(|k| k.retired_at.is_some())
                .max_by_key(|k| k.retired_at);
            Some(match previous {
                Some(p) => match p.published_until {
                    Some(until) => format!(
                        "Key rotated: new tokens carry kid {kid}; the previous key stays published until {} (when the last token it signed has expired).",
                        when(until).text
                    ),
                    None => format!(
                        "Key rotated: new tokens carry kid {kid}; the previous key stays published until the asset is purged (its tokens never expire)."
                    ),
                },
                None => format!("Key rotated: new tokens carry kid {kid}."),
            })
        }
        "next_key" => {
            let next = a.next_key.as_ref()?;
            Some(match next.switch_at {
                Some(at) => format!(
                    "Next key {} published: it signs from {} on. Give its public key to consumers that pin one key before then.",
                    next.kid,
                    when(at).text
                ),
                None => format!(
                    "Next key {} published; it does not sign until you activate it. Give its public key to consumers that pin one key first.",
                    next.kid
                ),
            })
        }
        "next_key_activated" => {
            let kid = a.kid.as_deref()?;
            Some(format!(
                "Next key activated: new tokens carry kid {kid}; the previous key stays published until the tokens it signed have expired."
            ))
        }
        "next_key_withdrawn" => {
            Some("The next key was withdrawn and is no longer published.".into())
        }
        "next_secret" => Some(match a.next_secret_at {
            Some(at) => format!(
                "Next secret scheduled: tokens are signed with it from {} on.",
                when(at).text
            ),
            None => "The next secret is in use now: its switch time had already passed.".to_owned(),
        }),
        "saved" => Some("Changes saved.".into()),
        "next_secret_cancelled" => {
            Some("The scheduled switch was cancelled; tokens keep the current secret.".into())
        }
        _ => None,
    }
}

/// `GET /admin/assets/{id}`: the form with the stored values (the secret only as its length),
/// and the keys panel or the next-secret panel.
pub async fn edit_form(
    Admin(viewer): Admin,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<AssetId>,
    query: web::Query<EditQuery>,
) -> Page {
    let asset = service.asset(&id)?;
    // After a save, what the save warned about (saved anyway).
    let warnings = match query.done.as_deref() {
        Some("created" | "saved") => service.asset_warnings(viewer.user.username.as_str(), &id)?,
        _ => Vec::new(),
    };
    form_page(
        &tera,
        &service,
        &viewer,
        Some(&asset),
        &Values::of(&asset),
        Extras {
            notice: edit_notice(query.done.as_deref(), &asset),
            base: base_url(&req),
            warnings,
            ..Extras::default()
        },
        &Problems::default(),
        StatusCode::OK,
    )
}

/// `POST /admin/assets/{id}`: save (an empty secret keeps the stored one), then to the list.
pub async fn save(
    admin: Result<Admin, UiError>,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<AssetId>,
    policy: web::Data<CookiePolicy>,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Page {
    let service = service.into_inner();
    let posted = draft::receive(admin, &req, &service, &tera, form).await?;
    let stored = service.asset(&id)?;
    let (viewer, form) = match posted {
        Posted::Save(viewer, form) => (viewer, form),
        Posted::Answer(res) => return Ok(res),
        Posted::Review(viewer, form, notice, status) => {
            let values = match form.as_deref() {
                Some(f) => Values::typed(f),
                None => Values::of(&stored),
            };
            return review(
                &tera,
                &service,
                &viewer,
                Some(&stored),
                &values,
                notice,
                status,
            );
        }
    };
    let values = Values::typed(&form);
    let (mut problems, status) =
        match save_form(&service, &viewer, &form, Some(&*id), &values.template).await? {
            Ok(saved) => {
                return match &saved.generated_secret {
                    Some(secret) => {
                        show_secret_once(&service, &policy, &viewer, &saved, secret, false, None)
                    }
                    None if !saved.warnings.is_empty() => Ok(ui::see_other(&format!(
                        "/admin/assets/{}?done=saved",
                        saved.asset.id
                    ))),
                    None => Ok(ui::see_other("/admin/assets?done=saved")),
                };
            }
            Err(p) => p,
        };
    problems.check_template(&values.template);
    // Show the stored facts as they are now (a stale edit names the newer version).
    let current = service.asset(&id).unwrap_or(stored);
    form_page(
        &tera,
        &service,
        &viewer,
        Some(&current),
        &values,
        Extras {
            typed_secret: Some(form.secret.expose()),
            typed_pem: Some(form.key_pem.expose()),
            base: base_url(&req),
            ..Extras::default()
        },
        &problems,
        status,
    )
}
