//! Renders the asset form (new or edit, with its keys panels) and the one-time secret page.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::common::{Page, Stored, When, known_people};
use super::problems::Problems;
use super::values::Values;
use crate::domain::delivery::DeliveryMode;
use crate::domain::presets::Preset;
use crate::routes::session::CookiePolicy;
use crate::service::{AssetView, OneTime, SavedAsset, Service};
use crate::signing::Algorithm;
use crate::signing::keys::KeyType;
use crate::ui::{self, Viewer};

/// The recommended token lifetime, in seconds (5 to 15 minutes).
const RECOMMENDED_EXPIRY: std::ops::RangeInclusive<u64> = 300..=900;

/// A key type in the form's select, with the algorithms that take it (for app.js).
#[derive(Serialize)]
struct KeyTypeChoice {
    name: &'static str,
    algorithms: String,
}

fn key_type_choices() -> Vec<KeyTypeChoice> {
    KeyType::ALL
        .into_iter()
        .map(|k| KeyTypeChoice {
            name: k.name(),
            algorithms: Algorithm::ALL
                .into_iter()
                .filter(|a| a.accepts(k))
                .map(Algorithm::name)
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect()
}

/// The "next secret" panel of an HMAC asset's edit page: what was typed, and what was wrong.
#[derive(Serialize, Default)]
pub(super) struct NextPanel {
    /// The `datetime-local` value (UTC).
    pub(super) switch_at: String,
    /// Key pairs: when the next key starts signing (empty = by hand, the default).
    pub(super) key_switch_at: String,
    pub(super) generate: bool,
    pub(super) accept_weak: bool,
    /// The next secret being set, written back only into its own form after an error.
    pub(super) typed_secret: String,
    /// The `kid` typed for the next secret.
    pub(super) next_key_id: String,
    pub(super) secret_error: Option<String>,
    pub(super) switch_error: Option<String>,
}

impl NextPanel {
    fn blank(now: DateTime<Utc>) -> NextPanel {
        NextPanel {
            switch_at: (now + chrono::Duration::days(1))
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            key_switch_at: String::new(),
            generate: false,
            accept_weak: false,
            typed_secret: String::new(),
            next_key_id: String::new(),
            secret_error: None,
            switch_error: None,
        }
    }
}

/// What the asset pages show besides the form's fields.
#[derive(Default)]
pub(super) struct Extras<'a> {
    /// The secret being set (written back only into the form that sets it, after an error).
    pub(super) typed_secret: Option<&'a str>,
    /// The private key being imported (likewise).
    pub(super) typed_pem: Option<&'a str>,
    /// A message about what was just done.
    pub(super) notice: Option<String>,
    /// The next-secret panel, when it has something to say.
    pub(super) next: Option<NextPanel>,
    /// `scheme://host`.
    pub(super) base: String,
    /// What the consumer preset's rules warn about after a save.
    pub(super) warnings: Vec<String>,
}

/// A preset in the form's selects.
#[derive(Serialize)]
struct PresetChoice {
    name: &'static str,
    label: &'static str,
}

fn preset_choices() -> Vec<PresetChoice> {
    Preset::ALL
        .into_iter()
        .map(|p| PresetChoice {
            name: p.name(),
            label: p.label(),
        })
        .collect()
}

/// Delivery modes in the form's select.
#[derive(Serialize)]
struct ModeChoice {
    name: &'static str,
    label: &'static str,
}

fn mode_choices() -> Vec<ModeChoice> {
    DeliveryMode::ALL
        .into_iter()
        .map(|m| ModeChoice {
            name: m.name(),
            label: match m {
                DeliveryMode::Raw => "Raw token (application/jwt)",
                DeliveryMode::Json => "JSON {\"jwt\": \"…\"}",
                DeliveryMode::Redirect => "Redirect to the consumer URL",
                DeliveryMode::FormPost => "Auto-submitting POST form",
            },
        })
        .collect()
}

/// Render the asset form (new when `stored` is `None`).
#[allow(clippy::too_many_arguments)]
pub(super) fn form_page(
    tera: &tera::Tera,
    service: &Service,
    viewer: &Viewer,
    stored: Option<&AssetView>,
    values: &Values,
    extras: Extras,
    problems: &Problems,
    status: StatusCode,
) -> Page {
    let mut ctx = ui::context(viewer, "assets");
    let (users, groups) = known_people(service)?;
    ctx.insert("mode", if stored.is_some() { "edit" } else { "new" });
    ctx.insert(
        "action",
        &stored
            .map(|a| format!("/admin/assets/{}", a.id))
            .unwrap_or_else(|| "/admin/assets/new".into()),
    );
    ctx.insert("stored", &stored.map(Stored::from));
    ctx.insert("f", values);
    // The secret or private key being set is written back only into the form that sets it,
    // after an error.
    ctx.insert("typed_secret", &extras.typed_secret.unwrap_or_default());
    ctx.insert("typed_pem", &extras.typed_pem.unwrap_or_default());
    ctx.insert("key_types", &key_type_choices());
    ctx.insert("notice", &extras.notice);
    ctx.insert("preset_warnings", &extras.warnings);
    ctx.insert("presets", &preset_choices());
    ctx.insert("delivery_modes", &mode_choices());
    ctx.insert("base", &extras.base);
    let consumer = match stored {
        Some(a) if a.preset.is_some() => service.consumer_config(&a.id, &extras.base)?,
        _ => None,
    };
    ctx.insert("consumer", &consumer);
    ctx.insert(
        "template_problem",
        &stored.and_then(|a| service.template_problem(&a.path)),
    );
    let now = Utc::now();
    ctx.insert(
        "next",
        &extras.next.unwrap_or_else(|| NextPanel::blank(now)),
    );
    ctx.insert("now_utc", &now.format("%Y-%m-%d %H:%M UTC").to_string());
    ctx.insert("errors", &problems.fields);
    ctx.insert("summary", &problems.summary());
    ctx.insert("general", &problems.general);
    ctx.insert("template_error", &problems.template);
    ctx.insert("stale", &problems.stale);
    ctx.insert("users", &users);
    ctx.insert("groups", &groups);
    let expiry_note = if values.no_expiry {
        None
    } else {
        values
            .expiry_seconds
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|e| !RECOMMENDED_EXPIRY.contains(e))
            .map(|e| {
                format!("{e} seconds is outside the recommended 300 to 900 (5 to 15 minutes).")
            })
    };
    ctx.insert("expiry_note", &expiry_note);
    ui::render(tera, "asset_form.html", &ctx, status)
}

/// After a save that generated a secret: to the page that shows it, this once (`created`: a new
/// asset; `next_at`: a scheduled next secret).
pub(super) fn show_secret_once(
    service: &Service,
    policy: &CookiePolicy,
    viewer: &Viewer,
    saved: &SavedAsset,
    secret: &str,
    created: bool,
    next_at: Option<DateTime<Utc>>,
) -> Page {
    let value = OneTime::Secret {
        asset: saved.asset.id.clone(),
        secret: secret.to_owned(),
        created,
        next_at: next_at.map(|t| t.timestamp()),
        warnings: saved.warnings.clone(),
    };
    ui::once::show_once(service, policy, viewer, value)
}

/// The one-time secret page for `saved`; `next_at` when the secret is a scheduled next one.
pub(super) fn secret_page_for(
    tera: &tera::Tera,
    viewer: &Viewer,
    saved: &AssetView,
    secret: &str,
    created: bool,
    next_at: Option<When>,
    warnings: &[String],
) -> Page {
    #[derive(Serialize)]
    struct Generated<'a> {
        secret: &'a str,
        name: &'a str,
        path: &'a str,
        id: &'a str,
        created: bool,
        algorithm: &'a str,
        /// A scheduled next secret: when tokens switch to it.
        next_at: Option<When>,
    }
    let mut ctx = ui::context(viewer, "assets");
    ctx.insert("mode", "secret");
    ctx.insert("preset_warnings", warnings);
    ctx.insert(
        "generated",
        &Generated {
            secret,
            name: &saved.name,
            path: &saved.path,
            id: saved.id.as_str(),
            created,
            algorithm: &saved.algorithm,
            next_at,
        },
    );
    ui::render(tera, "asset_form.html", &ctx, StatusCode::OK)
}
