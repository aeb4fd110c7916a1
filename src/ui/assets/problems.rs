//! What is wrong with a posted asset form, field by field, in the form's own words.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::common::{Located, When, locate, when};
use crate::error::{AppError, FieldError};
use crate::keywords::PayloadTemplate;
use crate::ui::UiError;

/// Field errors of the form, one per field (the first problem found).
#[derive(Serialize, Default)]
pub(super) struct FieldErrors {
    name: Option<String>,
    path: Option<String>,
    algorithm: Option<String>,
    secret: Option<String>,
    key: Option<String>,
    template: Option<String>,
    expiry_seconds: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    read: Option<String>,
    write: Option<String>,
    preset: Option<String>,
    key_id: Option<String>,
    delivery_default: Option<String>,
    redirect_url: Option<String>,
    redirect_allowlist: Option<String>,
    form_post_url: Option<String>,
    form_post_field: Option<String>,
    form_post_allowlist: Option<String>,
    cors_origins: Option<String>,
    request_params: Option<String>,
}

impl FieldErrors {
    /// Take `other`'s message for each field that has none here.
    fn fill_from(&mut self, other: FieldErrors) {
        macro_rules! fill {
            ($($f:ident),*) => {
                $(if self.$f.is_none() {
                    self.$f = other.$f;
                })*
            };
        }
        fill!(
            name,
            path,
            algorithm,
            secret,
            key,
            template,
            expiry_seconds,
            issuer,
            audience,
            read,
            write,
            preset,
            key_id,
            delivery_default,
            redirect_url,
            redirect_allowlist,
            form_post_url,
            form_post_field,
            form_post_allowlist,
            cors_origins,
            request_params
        );
    }

    fn is_empty(&self) -> bool {
        self.slot_ids().iter().all(|(_, _, m)| m.is_none())
    }

    /// (field, input id, message) for the summary at the top of the form.
    fn slot_ids(&self) -> [(&'static str, &'static str, &Option<String>); 21] {
        [
            ("Preset", "preset", &self.preset),
            ("Name", "name", &self.name),
            ("Path", "path", &self.path),
            ("Algorithm", "algorithm", &self.algorithm),
            ("Secret", "secret", &self.secret),
            ("Key pair", "key", &self.key),
            ("Payload template", "template", &self.template),
            ("Request parameters", "request_params", &self.request_params),
            ("Expiry", "expiry_seconds", &self.expiry_seconds),
            ("Issuer", "issuer", &self.issuer),
            ("Audience", "audience", &self.audience),
            ("Who may fetch", "read_users", &self.read),
            ("Who may edit", "write_users", &self.write),
            ("Key ID", "key_id", &self.key_id),
            (
                "Default delivery",
                "default_delivery",
                &self.delivery_default,
            ),
            ("Redirect URL", "redirect_url", &self.redirect_url),
            (
                "Redirect return_to prefixes",
                "redirect_allowlist",
                &self.redirect_allowlist,
            ),
            ("Form-post URL", "form_post_url", &self.form_post_url),
            ("Form field name", "form_post_field", &self.form_post_field),
            (
                "Form-post return_to prefixes",
                "form_post_allowlist",
                &self.form_post_allowlist,
            ),
            ("CORS origins", "cors_origins", &self.cors_origins),
        ]
    }

    /// Put a message on its field; `false` when the field is not on the form.
    pub(super) fn set(&mut self, field: &str, message: String) -> bool {
        let slot = match field {
            "name" => &mut self.name,
            "path" => &mut self.path,
            "algorithm" => &mut self.algorithm,
            "secret" => &mut self.secret,
            "key" => &mut self.key,
            "template" => &mut self.template,
            "expiry_seconds" => &mut self.expiry_seconds,
            "issuer" => &mut self.issuer,
            "audience" => &mut self.audience,
            "read" => &mut self.read,
            "write" => &mut self.write,
            "preset" => &mut self.preset,
            "key_id" => &mut self.key_id,
            "delivery.default" => &mut self.delivery_default,
            "delivery.redirect.url" => &mut self.redirect_url,
            "delivery.redirect.return_to_allowlist" => &mut self.redirect_allowlist,
            "delivery.form_post.url" => &mut self.form_post_url,
            "delivery.form_post.field" => &mut self.form_post_field,
            "delivery.form_post.return_to_allowlist" => &mut self.form_post_allowlist,
            "cors_origins" => &mut self.cors_origins,
            "request_params" => &mut self.request_params,
            _ => return false,
        };
        match slot {
            None => *slot = Some(message),
            // A second problem with the same field is said too.
            Some(earlier) if !earlier.contains(&message) => {
                earlier.push_str(" Also: ");
                earlier.push_str(&message);
            }
            Some(_) => {}
        }
        true
    }
}

/// A link in the error summary.
#[derive(Serialize)]
pub(super) struct SummaryItem {
    anchor: &'static str,
    label: &'static str,
    message: String,
}

/// A stale edit: someone saved a newer version meanwhile.
#[derive(Serialize)]
pub(super) struct StaleView {
    by: String,
    at: Option<When>,
    at_text: String,
    current: u64,
}

/// Everything wrong with a posted form.
#[derive(Default)]
pub(super) struct Problems {
    pub(super) fields: FieldErrors,
    pub(super) general: Vec<String>,
    pub(super) template: Option<Located>,
    pub(super) stale: Option<StaleView>,
}

impl Problems {
    /// Add what `other` found about fields not reported here yet.
    pub(super) fn add_new(&mut self, other: Problems) {
        let template_reported = self.fields.template.is_some();
        self.fields.fill_from(other.fields);
        if !template_reported && self.template.is_none() {
            self.template = other.template;
        }
        for g in other.general {
            if !self.general.contains(&g) {
                self.general.push(g);
            }
        }
    }

    /// Nothing is wrong.
    pub(super) fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.general.is_empty()
            && self.template.is_none()
            && self.stale.is_none()
    }

    /// Record a service error for the form; errors that are not about the form are returned.
    pub(super) fn absorb(&mut self, e: AppError, template: &str) -> Result<StatusCode, UiError> {
        match e {
            AppError::Invalid(mut f) => {
                let also = std::mem::take(&mut f.also);
                self.field(f, template);
                for other in also {
                    self.field(other, template);
                }
                Ok(StatusCode::BAD_REQUEST)
            }
            AppError::Conflict(m) => {
                // The one conflict saving an asset can meet is a path taken by another asset.
                self.fields.set("path", m);
                Ok(StatusCode::CONFLICT)
            }
            AppError::Stale { current, by, at } => {
                let parsed = DateTime::parse_from_rfc3339(&at)
                    .ok()
                    .map(|t| when(t.with_timezone(&Utc)));
                self.stale = Some(StaleView {
                    by,
                    at: parsed,
                    at_text: at,
                    current,
                });
                Ok(StatusCode::CONFLICT)
            }
            other => Err(UiError::from(other)),
        }
    }

    fn field(&mut self, f: FieldError, template: &str) {
        let message = ui_wording(&f.message);
        if f.field == "template"
            && let (Some(line), Some(column)) = (f.line, f.column)
        {
            self.fields.set(
                "template",
                format!("line {line}, column {column}: {message}"),
            );
            self.template = Some(locate(template, line, column, message));
            return;
        }
        if !self.fields.set(&f.field, message.clone()) {
            self.general.push(format!("{}: {message}", f.field));
        }
    }

    /// Also report a template that does not compile, when another field failed first.
    pub(super) fn check_template(&mut self, template: &str) {
        if self.fields.template.is_some() {
            return;
        }
        if let Err(e) = PayloadTemplate::compile(template) {
            self.field(
                FieldError::at("template", e.message, e.line, e.column),
                template,
            );
        }
    }

    /// The links of the error summary at the top of the form, in the form's order.
    pub(super) fn summary(&self) -> Vec<SummaryItem> {
        self.fields
            .slot_ids()
            .into_iter()
            .filter_map(|(label, anchor, m)| {
                m.as_ref().map(|m| SummaryItem {
                    anchor,
                    label,
                    message: m.clone(),
                })
            })
            .collect()
    }
}

/// The service speaks to API callers in places; the form has checkboxes for those words.
pub(super) fn ui_wording(message: &str) -> String {
    message
        .replace(
            "set accept_weak_secret",
            "tick \u{201c}Accept a weak secret\u{201d}",
        )
        .replace(
            "set generate_secret to have one made",
            "tick \u{201c}Generate a secret\u{201d}",
        )
        .replace("or null for no expiry", "or tick \u{201c}No expiry\u{201d}")
        .replace(": set key_id", ": fill in \u{201c}Key ID\u{201d}")
        .replace(": set issuer", ": fill in \u{201c}Issuer\u{201d}")
        .replace(": turn jti on", ": tick \u{201c}Add a random jti\u{201d}")
}
