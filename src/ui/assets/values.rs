//! What the asset form shows in its fields: blank, from a preset, stored, or as typed.

use serde::Serialize;

use super::form::{AssetForm, normalise_newlines};
use crate::domain::asset::DEFAULT_EXPIRY_SECONDS;
use crate::domain::delivery::{DEFAULT_FORM_FIELD, Delivery};
use crate::domain::presets::Preset;
use crate::service::{AssetInput, AssetView};

/// The template a new asset starts with.
const STARTER_TEMPLATE: &str = "{\n  \"sub\": \"%globals_user_attribute_username%\",\n  \"email\": \"%globals_user_attribute_email%\",\n  \"groups\": %globals_user_groups%\n}\n";

/// What the form shows in its fields (never the stored secret).
#[derive(Serialize)]
pub(super) struct Values {
    name: String,
    path: String,
    algorithm: String,
    generate_secret: bool,
    accept_weak_secret: bool,
    key_mode: String,
    key_type: String,
    pub(super) template: String,
    pub(super) expiry_seconds: String,
    pub(super) no_expiry: bool,
    issuer: String,
    audience: String,
    not_before: bool,
    jti: bool,
    read_mode: String,
    read_users: String,
    read_groups: String,
    write_users: String,
    write_groups: String,
    version: String,
    preset: String,
    key_id: String,
    json_delivery: bool,
    default_delivery: String,
    redirect_url: String,
    redirect_allowlist: String,
    form_post_url: String,
    form_post_field: String,
    form_post_allowlist: String,
    cors_origins: String,
    /// One per line: `name max_length pattern`.
    request_params: String,
}

/// The delivery fields of the form from stored (or preset) options.
fn delivery_values(v: &mut Values, d: &Delivery, cors: &[String]) {
    v.json_delivery = d.json;
    v.default_delivery = d.default.name().to_owned();
    if let Some(r) = &d.redirect {
        v.redirect_url = r.url.clone();
        v.redirect_allowlist = r.return_to_allowlist.join("\n");
    }
    if let Some(f) = &d.form_post {
        v.form_post_url = f.url.clone();
        v.form_post_field = f.field.clone();
        v.form_post_allowlist = f.return_to_allowlist.join("\n");
    }
    v.cors_origins = cors.join("\n");
}

impl Values {
    /// A new asset's form.
    pub(super) fn blank() -> Values {
        Values {
            name: String::new(),
            path: "/".into(),
            algorithm: "HS256".into(),
            generate_secret: false,
            accept_weak_secret: false,
            key_mode: "generate".into(),
            key_type: String::new(),
            template: STARTER_TEMPLATE.into(),
            expiry_seconds: DEFAULT_EXPIRY_SECONDS.to_string(),
            no_expiry: false,
            issuer: String::new(),
            audience: String::new(),
            not_before: false,
            jti: false,
            read_mode: "anyone".into(),
            read_users: String::new(),
            read_groups: String::new(),
            write_users: String::new(),
            write_groups: String::new(),
            version: String::new(),
            preset: String::new(),
            key_id: String::new(),
            json_delivery: false,
            default_delivery: "raw".into(),
            redirect_url: String::new(),
            redirect_allowlist: String::new(),
            form_post_url: String::new(),
            form_post_field: DEFAULT_FORM_FIELD.into(),
            form_post_allowlist: String::new(),
            cors_origins: String::new(),
            request_params: String::new(),
        }
    }

    /// A new asset's form pre-filled by a preset (what [`Preset::apply`] fills in).
    pub(super) fn preset(p: Preset) -> Values {
        let mut input = AssetInput {
            expiry_seconds: Some(DEFAULT_EXPIRY_SECONDS),
            ..AssetInput::default()
        };
        p.apply(&mut input);
        let mut v = Values::blank();
        v.preset = p.name().to_owned();
        v.algorithm = input.algorithm.unwrap_or(v.algorithm);
        v.template = input.template;
        v.jti = input.jti;
        v.issuer = input.issuer.unwrap_or_default();
        v.audience = input.audience.unwrap_or_default();
        if let Some(e) = input.expiry_seconds {
            v.expiry_seconds = e.to_string();
        }
        if let Some(d) = &input.delivery {
            delivery_values(&mut v, d, &[]);
        }
        v
    }

    /// The stored asset's values.
    pub(super) fn of(a: &AssetView) -> Values {
        let read = a.read.clone().unwrap_or_default();
        let mut v = Values {
            name: a.name.clone(),
            path: a.path.clone(),
            algorithm: a.algorithm.clone(),
            generate_secret: false,
            accept_weak_secret: a.weak_secret,
            key_mode: if a.kid.is_some() { "keep" } else { "generate" }.into(),
            key_type: String::new(),
            template: a.template.clone(),
            expiry_seconds: a.expiry_seconds.map(|e| e.to_string()).unwrap_or_default(),
            no_expiry: a.expiry_seconds.is_none(),
            issuer: a.issuer.clone().unwrap_or_default(),
            audience: a.audience.clone().unwrap_or_default(),
            not_before: a.not_before,
            jti: a.jti,
            read_mode: if a.read.is_some() { "listed" } else { "anyone" }.into(),
            read_users: read.users.join(", "),
            read_groups: read.groups.join(", "),
            write_users: a.write.users.join(", "),
            write_groups: a.write.groups.join(", "),
            version: a.version.to_string(),
            ..Values::blank()
        };
        v.preset = a.preset.clone().unwrap_or_default();
        v.key_id = a.key_id.clone().unwrap_or_default();
        delivery_values(&mut v, &a.delivery, &a.cors_origins);
        v.request_params = super::form::request_params_text(&a.request_params);
        v
    }

    /// What was typed, to show again after an error.
    pub(super) fn typed(f: &AssetForm) -> Values {
        Values {
            name: f.name.clone(),
            path: f.path.clone(),
            algorithm: f.algorithm.clone(),
            generate_secret: f.generate_secret.is_some(),
            accept_weak_secret: f.accept_weak_secret.is_some(),
            key_mode: match f.key_mode.as_str() {
                "keep" | "import" => f.key_mode.clone(),
                _ => "generate".into(),
            },
            key_type: f.key_type.clone(),
            template: normalise_newlines(&f.template),
            expiry_seconds: f.expiry_seconds.clone(),
            no_expiry: f.no_expiry.is_some(),
            issuer: f.issuer.clone(),
            audience: f.audience.clone(),
            not_before: f.not_before.is_some(),
            jti: f.jti.is_some(),
            read_mode: if f.read_mode == "listed" {
                "listed"
            } else {
                "anyone"
            }
            .into(),
            read_users: f.read_users.clone(),
            read_groups: f.read_groups.clone(),
            write_users: f.write_users.clone(),
            write_groups: f.write_groups.clone(),
            version: f.version.clone(),
            preset: f.preset.clone().unwrap_or_default(),
            key_id: f.key_id.clone().unwrap_or_default(),
            json_delivery: f.json_delivery.is_some(),
            default_delivery: f.default_delivery.clone(),
            redirect_url: f.redirect_url.clone(),
            redirect_allowlist: normalise_newlines(&f.redirect_allowlist),
            form_post_url: f.form_post_url.clone(),
            form_post_field: f.form_post_field.clone(),
            form_post_allowlist: normalise_newlines(&f.form_post_allowlist),
            cors_origins: normalise_newlines(&f.cors_origins),
            request_params: normalise_newlines(f.request_params.as_deref().unwrap_or_default()),
        }
    }
}
