//! Who may see a page or send a form, as extractors: a handler's signature says it, its body does
//! the work. [`Signed`] is anyone signed in, [`Admin`] an administrator, [`AdminForm`] an
//! administrator's form that carries the session's CSRF token and comes from this site.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::{UiError, Viewer};
use crate::error::AppError;
use crate::service::Service;

/// A form that carries the session's CSRF token.
pub trait WithCsrf {
    /// The token the form was sent with.
    fn csrf(&self) -> &str;

    /// How to read a body that cannot be read as this form: `None` answers 400; a form (one
    /// without its token, such as a bodiless post) is refused as forged, 403.
    fn when_unreadable() -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

fn service(req: &HttpRequest) -> Result<&web::Data<Service>, UiError> {
    req.app_data::<web::Data<Service>>()
        .ok_or_else(|| AppError::Unexpected("the service is not configured".into()).into())
}

/// Anyone signed in (else: to the sign-in page and back).
pub struct Signed(pub Viewer);

impl FromRequest for Signed {
    type Error = UiError;
    type Future = Ready<Result<Signed, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(service(req).and_then(|s| super::viewer(req, s)).map(Signed))
    }
}

/// An administrator (else: to the sign-in page, or 403 for a signed-in non-administrator).
pub struct Admin(pub Viewer);

impl FromRequest for Admin {
    type Error = UiError;
    type Future = Ready<Result<Admin, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(service(req).and_then(|s| super::admin(req, s)).map(Admin))
    }
}

/// An administrator's form `T`, with the session's CSRF token and from this site; the
/// administrator is checked before the body is read.
pub struct AdminForm<T>(pub Viewer, pub T);

impl<T: DeserializeOwned + WithCsrf + 'static> FromRequest for AdminForm<T> {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<AdminForm<T>, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let viewer = service(req).and_then(|s| super::admin(req, s));
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let viewer = viewer?;
            let form = match form.await {
                Ok(form) => form.into_inner(),
                Err(e) => {
                    tracing::info!(path = req.path(), error = %e, "form refused: unreadable");
                    T::when_unreadable().ok_or_else(|| {
                        UiError::from(AppError::invalid("form", "the form could not be read"))
                    })?
                }
            };
            super::check_form(&req, &viewer, form.csrf())?;
            Ok(AdminForm(viewer, form))
        })
    }
}
