//! The asset form when it cannot be saved as posted, without losing what was typed: posted after
//! the session ended (to the sign-in page with the changes sealed in it, then back to the form),
//! or from an earlier session's page (the form again, with the changes, to save again).

use std::sync::Arc;

use actix_web::error::UrlencodedError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form::AssetForm;
use crate::error::AppError;
use crate::service::Service;
use crate::ui::extract::Admin;
use crate::ui::{self, UiError, Viewer};

/// What became of a posted asset form.
pub(super) enum Posted {
    /// A form to save.
    Save(Viewer, Box<AssetForm>),
    /// Not saved: the form again with these values (`None`: the stored ones), this message and
    /// status (403 for a stale form: nothing was done).
    Review(Viewer, Option<Box<AssetForm>>, &'static str, StatusCode),
    /// Answered otherwise (the sign-in page).
    Answer(HttpResponse),
}

/// The message over a form restored after signing in again.
const RESTORED: &str = "These are the changes you typed before your session ended. Nothing has been saved yet: check them and save. Secrets and private keys are not kept: type them again if you were changing them.";
/// The message when the kept changes could not be read back.
const NOT_RESTORED: &str = "The changes typed before the session ended could not be brought back (they are kept for 12 hours). The form shows the stored asset.";
/// The message over a form posted from an earlier session's page.
const STALE: &str = "This form was opened in an earlier session (you have signed in again since), so nothing was saved. Your changes are below: check them and save again.";

/// Sort a posted asset form: to save, to show again, or to the sign-in page.
pub(super) async fn receive(
    admin: Result<Admin, UiError>,
    req: &HttpRequest,
    service: &Arc<Service>,
    tera: &tera::Tera,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Result<Posted, UiError> {
    let viewer = match admin {
        Ok(Admin(viewer)) => viewer,
        // Only this site's own form keeps its changes: a post from another site is never
        // carried into the form.
        Err(UiError::SignIn(_)) if ui::same_origin(req) => {
            let Ok(form) = form else {
                return Err(UiError::SignIn(req.path().to_owned()));
            };
            let draft = serde_json::to_value(&*form)
                .map_err(|e| AppError::Unexpected(format!("cannot keep the form: {e}")))?;
            let sealed = service.seal_draft(req.path(), &draft)?;
            return Ok(Posted::Answer(crate::routes::session::sign_in_again(
                tera,
                req.path(),
                &sealed,
                &service.sign_in_buttons().await,
            )));
        }
        Err(e) => return Err(e),
    };
    let form = read_form_body(req, &viewer, form)?;
    if !ui::same_origin(req) {
        return Err(UiError::forbidden());
    }
    if !ui::csrf_matches(&viewer, &form.csrf) {
        tracing::info!(user = %viewer.user.username, path = req.path(), "asset form from an earlier session: shown again, not saved");
        return Ok(Posted::Review(
            viewer,
            Some(Box::new(form)),
            STALE,
            StatusCode::FORBIDDEN,
        ));
    }
    if let Some(sealed) = &form.restore_draft {
        let restored = service
            .open_draft(req.path(), sealed)
            .and_then(|v| serde_json::from_value::<AssetForm>(v).ok());
        return Ok(match restored {
            Some(draft) => Posted::Review(viewer, Some(Box::new(draft)), RESTORED, StatusCode::OK),
            None => Posted::Review(viewer, None, NOT_RESTORED, StatusCode::OK),
        });
    }
    Ok(Posted::Save(viewer, Box::new(form)))
}

/// Read a posted asset form's body (its CSRF token is checked by [`draft::receive`]).
fn read_form_body(
    req: &HttpRequest,
    viewer: &Viewer,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Result<AssetForm, UiError> {
    match form {
        Ok(f) => Ok(f.into_inner()),
        Err(e) => {
            if let Some(UrlencodedError::Overflow { limit, .. }) = e.as_error::<UrlencodedError>() {
                // The size limit applies before the CSRF token can be read; only admins get here.
                return Err(AppError::invalid(
                    "template",
                    format!("The form is larger than the {limit} bytes the server accepts; shorten the payload template."),
                )
                .into());
            }
            ui::check_form(req, viewer, "")?;
            Err(AppError::invalid("form", "the form could not be read").into())
        }
    }
}
