//! An asset's keys: the public key files, key rotation, the staged next key, an HMAC asset's
//! scheduled next secret.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::common::{CsrfForm, Page, base_url};
use super::page::{Extras, NextPanel, form_page, show_secret_once};
use super::problems::{Problems, ui_wording};
use super::values::Values;
use crate::error::{AppError, FieldError};
use crate::ids::AssetId;
use crate::routes::session::CookiePolicy;
use crate::secret::SecretString;
use crate::service::{
    AssetView, KeyInput, NextKeyInput, NextSecretInput, SavedAsset, Service, blocking,
};
use crate::ui::extract::{Admin, AdminForm, WithCsrf};
use crate::ui::{self, UiError, Viewer};

/// `GET /admin/assets/{id}/public-key.pem`: the active public key, as a file (404 for HMAC).
pub async fn public_key_pem(
    Admin(_): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let asset = service.asset(&id)?;
    let pem = asset
        .public_key_pem
        .ok_or(UiError::App(AppError::NotFound))?;
    Ok(pem_file(&asset.path, "public", pem))
}

/// A public key as a download named after the asset's path (`tokens-chat.public.pem`).
fn pem_file(path: &str, what: &str, pem: String) -> HttpResponse {
    // Asset paths hold only letters, digits and `- . _ ~` between slashes.
    let stem: String = path
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.{what}.pem\""),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(pem)
}

/// `POST /admin/assets/{id}/rotate`: a new key becomes active; back to the keys panel.
pub async fn rotate(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    // Generating an RSA key takes a moment.
    let rotated = blocking(move || service.rotate_key(actor.username.as_str(), &id)).await?;
    done(&rotated.id, "rotated", "keys")
}

/// The fields of the next-secret form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextSecretForm {
    csrf: String,
    next_secret: SecretString,
    generate_next_secret: Option<String>,
    accept_weak_next_secret: Option<String>,
    /// `datetime-local` (`2026-05-01T12:00`), read as UTC.
    switch_at: String,
    /// The `kid` of the next secret (empty: keep the asset's).
    next_key_id: String,
}

impl WithCsrf for NextSecretForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn when_unreadable() -> Option<Self> {
        Some(Self::default())
    }
}

/// A `datetime-local` value read as UTC (an RFC 3339 time is taken as it is).
fn parse_switch_at(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .into_iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| t.and_utc())
}

/// The asset's page again with a keys or next-secret panel that has something to say (400).
fn panel_page(
    tera: &tera::Tera,
    service: &Service,
    viewer: &Viewer,
    asset: &AssetView,
    panel: NextPanel,
    req: &HttpRequest,
) -> Page {
    form_page(
        tera,
        service,
        viewer,
        Some(asset),
        &Values::of(asset),
        Extras {
            next: Some(panel),
            base: base_url(req),
            ..Extras::default()
        },
        &Problems::default(),
        StatusCode::BAD_REQUEST,
    )
}

/// Back to the asset's page after a change, with the notice `done` (worded from the stored
/// asset) at the panel `anchor`.
fn done(id: &AssetId, done: &str, anchor: &str) -> Page {
    Ok(ui::see_other(&format!(
        "/admin/assets/{id}?done={done}#{anchor}"
    )))
}

/// What was typed into the next-secret panel, with what is wrong with it; when nothing is, the
/// service's input and the switch time too.
fn read_panel(form: &NextSecretForm) -> (NextPanel, Option<(NextSecretInput, DateTime<Utc>)>) {
    let typed = form.next_secret.expose();
    let generate = form.generate_next_secret.is_some();
    let mut panel = NextPanel {
        switch_at: form.switch_at.trim().to_owned(),
        key_switch_at: String::new(),
        generate,
        accept_weak: form.accept_weak_next_secret.is_some(),
        typed_secret: typed.to_owned(),
        next_key_id: form.next_key_id.trim().to_owned(),
        secret_error: None,
        switch_error: None,
    };
    let switch_at = parse_switch_at(&form.switch_at);
    if switch_at.is_none() {
        panel.switch_error = Some(
            "enter the date and time (UTC) at which tokens start being signed with the next secret"
                .into(),
        );
    }
    if generate && !typed.is_empty() {
        panel.secret_error =
            Some("type a secret or tick \u{201c}Have the server make one\u{201d}, not both".into());
    } else if !generate && typed.is_empty() {
        panel.secret_error =
            Some("type the next secret, or tick \u{201c}Have the server make one\u{201d}".into());
    }
    let input = match (switch_at, &panel.secret_error, &panel.switch_error) {
        (Some(at), None, None) => Some((
            NextSecretInput {
                secret: (!typed.is_empty()).then(|| SecretString::new(typed.to_owned())),
                generate_secret: generate,
                accept_weak_secret: panel.accept_weak,
                switch_at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
                key_id: Some(form.next_key_id.trim().to_owned()),
            },
            at,
        )),
        _ => None,
    };
    (panel, input)
}

/// Put the service's refusal on the panel's field, in the panel's words (its checkboxes are
/// named differently from the asset form's).
fn refuse(panel: &mut NextPanel, f: FieldError) {
    let message = ui_wording(&f.message)
        .replace(
            "tick \u{201c}Accept a weak secret\u{201d}",
            "tick \u{201c}Accept a weak next secret\u{201d}",
        )
        .replace(
            "tick \u{201c}Generate a secret\u{201d}",
            "tick \u{201c}Have the server make one\u{201d}",
        );
    if f.field == "switch_at" {
        panel.switch_error = Some(message);
    } else {
        panel.secret_error = Some(message);
    }
}

/// After scheduling: a generated secret is shown this once; otherwise back to the panel.
fn scheduled(
    service: &Service,
    policy: &CookiePolicy,
    viewer: &Viewer,
    saved: SavedAsset,
    at: DateTime<Utc>,
) -> Page {
    match &saved.generated_secret {
        Some(secret) => {
            let next_at = Some(saved.asset.next_secret_at.unwrap_or(at));
            show_secret_once(service, policy, viewer, &saved, secret, false, next_at)
        }
        None => done(&saved.asset.id, "next_secret", "next-secret"),
    }
}

/// `POST /admin/assets/{id}/next-secret`: schedule the switch to a new HMAC secret (a generated
/// one is shown once); errors are shown in the panel with what was typed.
pub async fn next_secret(
    AdminForm(viewer, form): AdminForm<NextSecretForm>,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    policy: web::Data<CookiePolicy>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, id) = (service.into_inner(), id.into_inner());
    let asset = service.asset(&id)?;
    let (mut panel, input) = read_panel(&form);
    if let Some((input, at)) = input {
        let (svc, actor) = (Arc::clone(&service), Arc::clone(&viewer.user));
        let set = blocking(move || svc.set_next_secret(actor.username.as_str(), &id, input));
        match set.await {
            Ok(saved) => return scheduled(&service, &policy, &viewer, saved, at),
            Err(AppError::Invalid(f)) => refuse(&mut panel, f),
            Err(e) => return Err(e.into()),
        }
    }
    panel_page(&tera, &service, &viewer, &asset, panel, &req)
}

/// `POST /admin/assets/{id}/next-secret/cancel`: tokens keep the current secret.
pub async fn cancel_next_secret(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    let a = blocking(move || service.cancel_next_secret(actor.username.as_str(), &id)).await?;
    done(&a.id, "next_secret_cancelled", "next-secret")
}

/// The fields of the next-key form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextKeyForm {
    csrf: String,
    /// `datetime-local` read as UTC; empty = activate by hand.
    switch_at: String,
    /// A private key to import instead of generating one (empty = generate).
    next_key_pem: SecretString,
}

impl WithCsrf for NextKeyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn when_unreadable() -> Option<Self> {
        Some(Self::default())
    }
}

/// `POST /admin/assets/{id}/next-key`: publish the next key (generated, or the pasted PEM),
/// signing at the time given or once activated; errors are shown in the keys panel.
pub async fn next_key(
    AdminForm(viewer, form): AdminForm<NextKeyForm>,
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, id) = (service.into_inner(), id.into_inner());
    let asset = service.asset(&id)?;
    let typed_pem = form.next_key_pem.expose().trim().to_owned();
    let mut panel = NextPanel {
        key_switch_at: form.switch_at.trim().to_owned(),
        typed_secret: typed_pem.clone(),
        ..NextPanel::default()
    };
    let switch_at = if panel.key_switch_at.is_empty() {
        Some(None)
    } else {
        parse_switch_at(&panel.key_switch_at).map(Some)
    };
    match switch_at {
        None => {
            panel.switch_error = Some(
                "enter a date and time (UTC), or leave it empty to activate the key by hand".into(),
            );
        }
        Some(at) => {
            let input = NextKeyInput {
                key: (!typed_pem.is_empty()).then(|| KeyInput::Pem(SecretString::new(typed_pem))),
                switch_at: at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            };
            let (svc, actor, target) = (Arc::clone(&service), Arc::clone(&viewer.user), id.clone());
            let made =
                blocking(move || svc.prepare_next_key(actor.username.as_str(), &target, input));
            match made.await {
                Ok(a) => return done(&a.id, "next_key", "keys"),
                Err(AppError::Invalid(f)) if f.field == "switch_at" => {
                    panel.switch_error = Some(ui_wording(&f.message));
                }
                Err(AppError::Invalid(f)) => panel.secret_error = Some(ui_wording(&f.message)),
                Err(e) => return Err(e.into()),
            }
        }
    }
    panel_page(&tera, &service, &viewer, &asset, panel, &req)
}

/// `POST /admin/assets/{id}/next-key/activate`: the next key signs from now on.
pub async fn activate_next_key(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    let a = blocking(move || service.activate_next_key(actor.username.as_str(), &id)).await?;
    done(&a.id, "next_key_activated", "keys")
}

/// `POST /admin/assets/{id}/next-key/withdraw`: the next key is no longer published.
pub async fn withdraw_next_key(
    AdminForm(viewer, _): AdminForm<CsrfForm>,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let (service, actor, id) = (service.into_inner(), viewer.user, id.into_inner());
    let a = blocking(move || service.withdraw_next_key(actor.username.as_str(), &id)).await?;
    done(&a.id, "next_key_withdrawn", "keys")
}

/// `GET /admin/assets/{id}/next-key.pem`: the next key's public key, as a file (404 when none).
pub async fn next_public_key_pem(
    Admin(_): Admin,
    service: web::Data<Service>,
    id: web::Path<AssetId>,
) -> Page {
    let asset = service.asset(&id)?;
    let pem = service.next_public_key_pem(&id)?;
    Ok(pem_file(&asset.path, "next-public", pem))
}
