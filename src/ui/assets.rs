//! The asset pages of the admin UI: the asset tree, the create/edit form (with its key pair or
//! secret, the keys panel with rotation and the scheduled next secret), the preview, the trash.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::error::UrlencodedError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{UiError, Viewer};
use crate::domain::asset::Lifecycle;
use crate::domain::asset::{AccessRule, DEFAULT_EXPIRY_SECONDS};
use crate::domain::delivery::{
    DEFAULT_FORM_FIELD, Delivery, DeliveryMode, FormPostDelivery, RedirectDelivery,
};
use crate::domain::presets::Preset;
use crate::error::{AppError, FieldError};
use crate::keywords::PayloadTemplate;
use crate::secret::SecretString;
use crate::service::{
    AssetInput, AssetPage, AssetSummary, AssetView, DebugKey, KeyInput, NextSecretInput,
    SavedAsset, Service,
};
use crate::signing::Algorithm;
use crate::signing::keys::KeyType;

/// The template a new asset starts with.
const STARTER_TEMPLATE: &str = "{\n  \"sub\": \"%globals_user_attribute_username%\",\n  \"email\": \"%globals_user_attribute_email%\",\n  \"groups\": %globals_user_groups%\n}\n";

/// The recommended token lifetime, in seconds (5 to 15 minutes).
const RECOMMENDED_EXPIRY: std::ops::RangeInclusive<u64> = 300..=900;

type Page = Result<HttpResponse, UiError>;

// ---- shared view pieces ---------------------------------------------------------------------

/// A time as the pages show it: machine-readable, readable UTC text, and Unix seconds.
#[derive(Serialize)]
struct When {
    iso: String,
    text: String,
    unix: i64,
}

fn when(t: DateTime<Utc>) -> When {
    When {
        iso: t.to_rfc3339_opts(SecondsFormat::Secs, true),
        text: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        unix: t.timestamp(),
    }
}

/// "1 h 2 min 3 s", the same wording as the countdowns of app.js.
fn span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let mut parts = Vec::new();
    if s >= 3600 {
        parts.push(format!("{} h", s / 3600));
    }
    if s >= 60 {
        parts.push(format!("{} min", (s % 3600) / 60));
    }
    parts.push(format!("{} s", s % 60));
    parts.join(" ")
}

/// Query-string encoding for links built here (tera has no `urlencode` without its builtins).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

fn page_url(base: &str, q: &str, page: usize) -> String {
    let mut url = base.to_owned();
    let mut sep = '?';
    if !q.is_empty() {
        url.push_str(&format!("{sep}q={}", encode(q)));
        sep = '&';
    }
    if page > 1 {
        url.push_str(&format!("{sep}page={page}"));
    }
    url
}

/// A state badge of an asset.
#[derive(Serialize)]
struct Badge {
    class: &'static str,
    text: &'static str,
    title: String,
}

fn badges(a: &AssetSummary) -> Vec<Badge> {
    let mut out = Vec::new();
    if a.state == Lifecycle::Live {
        out.push(Badge {
            class: "live",
            text: "live",
            title: "its URL answers with tokens".into(),
        });
    } else {
        out.push(Badge {
            class: "trashed",
            text: "trashed",
            title: "its URL answers 404 until it is restored".into(),
        });
    }
    if a.algorithm != "HS256" {
        let hmac = Algorithm::parse(a.algorithm).is_none_or(Algorithm::is_hmac);
        out.push(Badge {
            class: "alg",
            text: a.algorithm,
            title: if hmac {
                format!("signed with {} and a shared secret", a.algorithm)
            } else {
                format!(
                    "signed with {} and a key pair; its public keys are in the JWKS",
                    a.algorithm
                )
            },
        });
    }
    if a.expiry_seconds.is_none() {
        out.push(Badge {
            class: "warn",
            text: "no expiry",
            title: "its tokens never expire".into(),
        });
    }
    if a.weak_secret {
        out.push(Badge {
            class: "warn",
            text: "weak secret",
            title: format!("the secret is shorter than {} needs", a.algorithm),
        });
    }
    if let Some(e) = &a.template_error {
        out.push(Badge {
            class: "bad",
            text: "template error",
            title: e.clone(),
        });
    }
    if a.restricted {
        out.push(Badge {
            class: "",
            text: "restricted",
            title: "only some users and groups may fetch it".into(),
        });
    }
    out
}

/// One asset in a list.
#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    path: String,
    live: bool,
    algorithm: &'static str,
    badges: Vec<Badge>,
    updated_at: When,
    updated_by: String,
    trashed_at: Option<When>,
    trashed_by: Option<String>,
}

impl From<&AssetSummary> for Row {
    fn from(a: &AssetSummary) -> Row {
        Row {
            id: a.id.clone(),
            name: a.name.clone(),
            path: a.path.clone(),
            live: a.state == Lifecycle::Live,
            algorithm: a.algorithm,
            badges: badges(a),
            updated_at: when(a.updated_at),
            updated_by: a.updated_by.clone(),
            trashed_at: a.trashed_at.map(when),
            trashed_by: a.trashed_by.clone(),
        }
    }
}

/// Paging links of a list.
#[derive(Serialize)]
struct Pager {
    page: usize,
    pages: usize,
    total: usize,
    prev: Option<String>,
    next: Option<String>,
}

fn pager(base: &str, q: &str, p: &AssetPage) -> Pager {
    Pager {
        page: p.page,
        pages: p.pages,
        total: p.total,
        prev: (p.page > 1).then(|| page_url(base, q, p.page - 1)),
        next: (p.page < p.pages).then(|| page_url(base, q, p.page + 1)),
    }
}

/// `?page=` read leniently: anything but a positive number is page 1.
fn page_number(raw: Option<&str>) -> usize {
    raw.and_then(|p| p.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// A page of assets; a page past the end shows the last one.
fn asset_page(service: &Service, trashed: bool, q: &str, page: usize) -> AssetPage {
    let p = service.asset_page(trashed, q, page);
    if p.page > p.pages {
        service.asset_page(trashed, q, p.pages)
    } else {
        p
    }
}

/// A located error in a template: the message, and the line with a caret under the column.
#[derive(Serialize)]
struct Located {
    line: usize,
    column: usize,
    message: String,
    source_line: String,
    caret: String,
}

fn locate(source: &str, line: usize, column: usize, message: String) -> Located {
    let text = source
        .split('\n')
        .nth(line.saturating_sub(1))
        .unwrap_or_default()
        .trim_end_matches('\r');
    // Keep tabs in the caret's indent so it lines up under tabbed text too.
    let caret: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .chain(std::iter::once('^'))
        .collect();
    Located {
        line,
        column,
        message,
        source_line: text.to_owned(),
        caret,
    }
}

// ---- GET /admin -----------------------------------------------------------------------------

/// `GET /admin`: administrators to the asset list, everyone else to their tokens.
pub async fn index(req: HttpRequest, service: web::Data<Service>) -> Page {
    let viewer = super::viewer(&req, &service)?;
    Ok(super::see_other(if viewer.user.admin {
        "/admin/assets"
    } else {
        "/admin/my-tokens"
    }))
}

// ---- the asset tree -------------------------------------------------------------------------

/// Query of the asset list and the trash.
#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

/// One line of the flattened asset tree; the template turns the sequence into nested lists.
#[derive(Serialize)]
struct TreeLine {
    /// `folder` or `item` (each opens an `<li>`), `open`/`close` (`<ul>`), `end` (`</li>`).
    kind: &'static str,
    folder: Option<String>,
    count: usize,
    asset: Option<Row>,
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Node>,
    asset: Option<Row>,
}

impl Node {
    fn count(&self) -> usize {
        usize::from(self.asset.is_some()) + self.children.values().map(Node::count).sum::<usize>()
    }
}

/// Group assets by their path segments; a folder holding a single entry is folded into it.
fn tree(assets: &[AssetSummary]) -> Vec<TreeLine> {
    let mut root = Node::default();
    for a in assets {
        let mut node = &mut root;
        for seg in a.path.trim_start_matches('/').split('/') {
            node = node.children.entry(seg.to_owned()).or_default();
        }
        node.asset = Some(Row::from(a));
    }
    let mut out = Vec::new();
    flatten(root, "", &mut out);
    out
}

fn flatten(node: Node, prefix: &str, out: &mut Vec<TreeLine>) {
    for (seg, mut child) in node.children {
        let mut path = format!("{prefix}/{seg}");
        while child.asset.is_none() && child.children.len() == 1 {
            let (s, only) = child.children.into_iter().next().expect("one child");
            path = format!("{path}/{s}");
            child = only;
        }
        let count = child.count();
        let has_children = !child.children.is_empty();
        let line = match child.asset.take() {
            Some(row) => TreeLine {
                kind: "item",
                folder: None,
                count,
                asset: Some(row),
            },
            None => TreeLine {
                kind: "folder",
                folder: Some(path.clone()),
                count,
                asset: None,
            },
        };
        out.push(line);
        if has_children {
            out.push(marker("open"));
            flatten(child, &path, out);
            out.push(marker("close"));
        }
        out.push(marker("end"));
    }
}

fn marker(kind: &'static str) -> TreeLine {
    TreeLine {
        kind,
        folder: None,
        count: 0,
        asset: None,
    }
}

/// `GET /admin/assets?q=&page=`: the asset tree, searchable and paged.
pub async fn list(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<ListQuery>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let q = query.q.as_deref().unwrap_or_default().trim().to_owned();
    let p = asset_page(&service, false, &q, page_number(query.page.as_deref()));
    let mut ctx = super::context(&viewer, "assets");
    ctx.insert("notice", &super::notice(query.done.as_deref()));
    ctx.insert("q", &q);
    ctx.insert("tree", &tree(&p.assets));
    ctx.insert("pager", &pager("/admin/assets", &q, &p));
    ctx.insert("trashed", &service.asset_page(true, "", 1).total);
    super::render(&tera, "assets.html", &ctx, StatusCode::OK)
}

// ---- the asset form -------------------------------------------------------------------------

/// The fields of the asset form, exactly as posted (checkboxes are present when ticked).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssetForm {
    csrf: String,
    name: String,
    path: String,
    algorithm: String,
    secret: SecretString,
    generate_secret: Option<String>,
    accept_weak_secret: Option<String>,
    /// Key-pair algorithms: `keep`, `generate` or `import`.
    key_mode: String,
    /// With `generate`: a key type, or empty for the algorithm's usual one.
    key_type: String,
    /// With `import`: the private key, PEM.
    key_pem: SecretString,
    template: String,
    expiry_seconds: String,
    no_expiry: Option<String>,
    issuer: String,
    audience: String,
    not_before: Option<String>,
    jti: Option<String>,
    read_mode: String,
    read_users: String,
    read_groups: String,
    write_users: String,
    write_groups: String,
    version: String,
    /// The consumer preset (`""` = none); absent keeps the stored one.
    preset: Option<String>,
    /// HMAC: the header's `kid`; absent keeps the stored one.
    key_id: Option<String>,
    /// Present when the form has the delivery and CORS fields (else they are kept).
    delivery_fields: Option<String>,
    json_delivery: Option<String>,
    default_delivery: String,
    redirect_url: String,
    /// One prefix per line.
    redirect_allowlist: String,
    form_post_url: String,
    form_post_field: String,
    /// One prefix per line.
    form_post_allowlist: String,
    /// One origin per line.
    cors_origins: String,
}

/// What the form shows in its fields (never the stored secret).
#[derive(Serialize)]
struct Values {
    name: String,
    path: String,
    algorithm: String,
    generate_secret: bool,
    accept_weak_secret: bool,
    key_mode: String,
    key_type: String,
    template: String,
    expiry_seconds: String,
    no_expiry: bool,
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
    fn blank() -> Values {
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
        }
    }

    /// A new asset's form pre-filled by a preset (what [`Preset::apply`] fills in).
    fn preset(p: Preset) -> Values {
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

    fn of(a: &AssetView) -> Values {
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
        v
    }

    fn typed(f: &AssetForm) -> Values {
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
        }
    }
}

/// The non-empty lines of a textarea, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Browsers send textarea lines ending in CRLF; templates are stored with LF.
fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Field errors of the form, one per field (the first problem found).
#[derive(Serialize, Default)]
struct FieldErrors {
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
}

impl FieldErrors {
    fn is_empty(&self) -> bool {
        self.slot_ids().iter().all(|(_, _, m)| m.is_none())
    }

    /// (field, input id, message) for the summary at the top of the form.
    fn slot_ids(&self) -> [(&'static str, &'static str, &Option<String>); 20] {
        [
            ("Preset", "preset", &self.preset),
            ("Name", "name", &self.name),
            ("Path", "path", &self.path),
            ("Algorithm", "algorithm", &self.algorithm),
            ("Secret", "secret", &self.secret),
            ("Key pair", "key", &self.key),
            ("Payload template", "template", &self.template),
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
    fn set(&mut self, field: &str, message: String) -> bool {
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
            _ => return false,
        };
        if slot.is_none() {
            *slot = Some(message);
        }
        true
    }
}

/// A link in the error summary.
#[derive(Serialize)]
struct SummaryItem {
    anchor: &'static str,
    label: &'static str,
    message: String,
}

/// A stale edit: someone saved a newer version meanwhile.
#[derive(Serialize)]
struct StaleView {
    by: String,
    at: Option<When>,
    at_text: String,
    current: u64,
}

/// Everything wrong with a posted form.
#[derive(Default)]
struct Problems {
    fields: FieldErrors,
    general: Vec<String>,
    template: Option<Located>,
    stale: Option<StaleView>,
}

impl Problems {
    fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.general.is_empty()
            && self.template.is_none()
            && self.stale.is_none()
    }

    /// Record a service error for the form; errors that are not about the form are returned.
    fn absorb(&mut self, e: AppError, template: &str) -> Result<StatusCode, UiError> {
        match e {
            AppError::Invalid(f) => {
                self.field(f, template);
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
    fn check_template(&mut self, template: &str) {
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

    fn summary(&self) -> Vec<SummaryItem> {
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
fn ui_wording(message: &str) -> String {
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
}

impl AssetForm {
    /// The service input, or the problems this layer can see (numbers, choices).
    fn input(&self, editing: bool) -> Result<AssetInput, Box<Problems>> {
        let mut p = Problems::default();
        let expiry_seconds = if self.no_expiry.is_some() {
            None
        } else {
            match self.expiry_seconds.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    p.fields.set(
                        "expiry_seconds",
                        "enter the token lifetime in seconds (600 is 10 minutes), or tick \u{201c}No expiry\u{201d}".into(),
                    );
                    None
                }
            }
        };
        // The form shows the secret and the key pair side by side; only the one the algorithm
        // uses is read (an unknown algorithm is reported by the service).
        let key_pair = Algorithm::parse(self.algorithm.trim()).filter(|a| !a.is_hmac());
        let (secret, generate) = if key_pair.is_some() {
            ("", false)
        } else {
            (self.secret.expose(), self.generate_secret.is_some())
        };
        let key = match key_pair {
            None => None,
            Some(algorithm) => self.key_input(algorithm, editing, &mut p),
        };
        if generate && !secret.is_empty() {
            p.fields.set(
                "secret",
                "type a secret or tick \u{201c}Generate a secret\u{201d}, not both".into(),
            );
        } else if !generate && secret.is_empty() && !editing && key_pair.is_none() {
            p.fields.set(
                "secret",
                "is required: type the secret the consumer uses, or tick \u{201c}Generate a secret\u{201d}".into(),
            );
        }
        let (read_users, read_groups) = (names(&self.read_users), names(&self.read_groups));
        let read = if self.read_mode == "listed" {
            Some(AccessRule {
                users: read_users,
                groups: read_groups,
            })
        } else {
            if !read_users.is_empty() || !read_groups.is_empty() {
                p.fields.set(
                    "read",
                    "names are filled in but \u{201c}Any signed-in user\u{201d} is chosen: choose \u{201c}Only these users and groups\u{201d}, or clear the names".into(),
                );
            }
            None
        };
        let (delivery, cors_origins) = if self.delivery_fields.is_some() {
            (Some(self.delivery(&mut p)), Some(lines(&self.cors_origins)))
        } else {
            (None, None)
        };
        let version = if editing {
            match self.version.trim().parse::<u64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    p.general
                        .push("the form has no valid version: reload the page".into());
                    None
                }
            }
        } else {
            None
        };
        if !p.is_empty() {
            return Err(Box::new(p));
        }
        Ok(AssetInput {
            name: self.name.clone(),
            path: self.path.clone(),
            algorithm: Some(self.algorithm.clone()),
            key,
            secret: (!secret.is_empty()).then(|| SecretString::new(secret.to_owned())),
            generate_secret: generate,
            accept_weak_secret: self.accept_weak_secret.is_some(),
            template: normalise_newlines(&self.template),
            expiry_seconds,
            issuer: Some(self.issuer.clone()),
            audience: Some(self.audience.clone()),
            not_before: self.not_before.is_some(),
            jti: self.jti.is_some(),
            read,
            write: Some(AccessRule {
                users: names(&self.write_users),
                groups: names(&self.write_groups),
            }),
            version,
            preset: self.preset.clone(),
            key_id: self.key_id.clone(),
            delivery,
            cors_origins,
        })
    }

    /// The delivery options of the form (the service checks the URLs).
    fn delivery(&self, p: &mut Problems) -> Delivery {
        let default = match DeliveryMode::parse(self.default_delivery.trim()) {
            Some(m) => m,
            None if self.default_delivery.trim().is_empty() => DeliveryMode::Raw,
            None => {
                p.fields
                    .set("delivery.default", "choose one of the listed modes".into());
                DeliveryMode::Raw
            }
        };
        let redirect_allowlist = lines(&self.redirect_allowlist);
        let redirect = match self.redirect_url.trim() {
            "" => {
                if !redirect_allowlist.is_empty() {
                    p.fields.set(
                        "delivery.redirect.return_to_allowlist",
                        "prefixes are listed but there is no redirect URL: fill in the URL, or clear the list".into(),
                    );
                }
                None
            }
            url => Some(RedirectDelivery {
                url: url.to_owned(),
                return_to_allowlist: redirect_allowlist,
            }),
        };
        let form_allowlist = lines(&self.form_post_allowlist);
        let form_post = match self.form_post_url.trim() {
            "" => {
                if !form_allowlist.is_empty() {
                    p.fields.set(
                        "delivery.form_post.return_to_allowlist",
                        "prefixes are listed but there is no form-post URL: fill in the URL, or clear the list".into(),
                    );
                }
                None
            }
            url => Some(FormPostDelivery {
                url: url.to_owned(),
                field: match self.form_post_field.trim() {
                    "" => DEFAULT_FORM_FIELD.to_owned(),
                    f => f.to_owned(),
                },
                return_to_allowlist: form_allowlist,
            }),
        };
        Delivery {
            json: self.json_delivery.is_some(),
            default,
            redirect,
            form_post,
        }
    }
}

impl AssetForm {
    /// The key pair to set for a key-pair algorithm: `None` keeps the stored one (or, for a new
    /// asset, has the service generate the algorithm's usual type).
    fn key_input(&self, algorithm: Algorithm, editing: bool, p: &mut Problems) -> Option<KeyInput> {
        match self.key_mode.as_str() {
            "keep" => None,
            "import" => {
                let pem = self.key_pem.expose().trim();
                if pem.is_empty() {
                    p.fields.set(
                        "key",
                        "paste the private key (PEM) to import, or choose \u{201c}Generate a new key pair\u{201d}".into(),
                    );
                    None
                } else {
                    Some(KeyInput::Pem(SecretString::new(pem.to_owned())))
                }
            }
            _ => {
                let chosen = self.key_type.trim();
                if !chosen.is_empty() {
                    Some(KeyInput::Generate(chosen.to_owned()))
                } else if editing {
                    algorithm
                        .natural_key_type()
                        .map(|k| KeyInput::Generate(k.name().to_owned()))
                } else {
                    None
                }
            }
        }
    }
}

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

/// One published key of an asset.
#[derive(Serialize)]
struct KeyRow {
    kid: String,
    key_type: String,
    created_at: When,
    retired_at: Option<When>,
    published_until: Option<When>,
}

/// What the edit form shows about the stored asset (never the secret itself).
#[derive(Serialize)]
struct Stored {
    id: String,
    name: String,
    path: String,
    live: bool,
    trashed_at: Option<When>,
    trashed_by: Option<String>,
    secret_bytes: usize,
    weak_secret: bool,
    secret_changed_at: When,
    algorithm: String,
    /// Signs with a key pair (not a secret).
    key_pair: bool,
    key_type: String,
    kid: Option<String>,
    public_key_pem: Option<String>,
    /// The public JWK, indented.
    public_jwk: Option<String>,
    /// Published keys, active first.
    keys: Vec<KeyRow>,
    /// HMAC: when the scheduled next secret takes over.
    next_secret_at: Option<When>,
    expiry_seconds: Option<u64>,
    created_at: When,
    created_by: String,
    updated_at: When,
    updated_by: String,
    version: u64,
}

impl From<&AssetView> for Stored {
    fn from(a: &AssetView) -> Stored {
        Stored {
            id: a.id.clone(),
            name: a.name.clone(),
            path: a.path.clone(),
            live: a.state == Lifecycle::Live,
            trashed_at: a.trashed_at.map(when),
            trashed_by: a.trashed_by.clone(),
            secret_bytes: a.secret_bytes,
            weak_secret: a.weak_secret,
            secret_changed_at: when(a.secret_changed_at),
            algorithm: a.algorithm.clone(),
            key_pair: a.kid.is_some(),
            key_type: a.key_type.clone(),
            kid: a.kid.clone(),
            public_key_pem: a.public_key_pem.clone(),
            public_jwk: a
                .public_jwk
                .as_ref()
                .and_then(|j| serde_json::to_string_pretty(j).ok()),
            keys: a
                .keys
                .iter()
                .map(|k| KeyRow {
                    kid: k.kid.clone(),
                    key_type: k.key_type.clone(),
                    created_at: when(k.created_at),
                    retired_at: k.retired_at.map(when),
                    published_until: k.published_until.map(when),
                })
                .collect(),
            next_secret_at: a.next_secret_at.map(when),
            expiry_seconds: a.expiry_seconds,
            created_at: when(a.created_at),
            created_by: a.created_by.clone(),
            updated_at: when(a.updated_at),
            updated_by: a.updated_by.clone(),
            version: a.version,
        }
    }
}

/// Usernames and group names for the rule fields' suggestions.
fn known_people(service: &Service) -> Result<(Vec<String>, Vec<String>), UiError> {
    let users = service.users()?;
    let groups: BTreeSet<String> = users.iter().flat_map(|u| u.groups.clone()).collect();
    Ok((
        users.into_iter().map(|u| u.username).collect(),
        groups.into_iter().collect(),
    ))
}

/// `scheme://host` of this server as the browser reached it (for the JWKS URLs).
fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// The "next secret" panel of an HMAC asset's edit page: what was typed, and what was wrong.
#[derive(Serialize)]
struct NextPanel {
    /// The `datetime-local` value (UTC).
    switch_at: String,
    generate: bool,
    accept_weak: bool,
    /// The next secret being set, written back only into its own form after an error.
    typed_secret: String,
    secret_error: Option<String>,
    switch_error: Option<String>,
}

impl NextPanel {
    fn blank(now: DateTime<Utc>) -> NextPanel {
        NextPanel {
            switch_at: (now + chrono::Duration::days(1))
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            generate: false,
            accept_weak: false,
            typed_secret: String::new(),
            secret_error: None,
            switch_error: None,
        }
    }
}

/// What the asset pages show besides the form's fields.
#[derive(Default)]
struct Extras<'a> {
    /// The secret being set (written back only into the form that sets it, after an error).
    typed_secret: Option<&'a str>,
    /// The private key being imported (likewise).
    typed_pem: Option<&'a str>,
    /// A message about what was just done.
    notice: Option<String>,
    /// The next-secret panel, when it has something to say.
    next: Option<NextPanel>,
    /// `scheme://host`.
    base: String,
    /// What the consumer preset's rules warn about after a save.
    warnings: Vec<String>,
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
fn form_page(
    tera: &tera::Tera,
    service: &Service,
    viewer: &Viewer,
    stored: Option<&AssetView>,
    values: &Values,
    extras: Extras,
    problems: &Problems,
    status: StatusCode,
) -> Page {
    let mut ctx = super::context(viewer, "assets");
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
    super::render(tera, "asset_form.html", &ctx, status)
}

/// The page that shows a generated secret, this once (`created`: a new asset; a next secret
/// when the asset has a switch pending).
fn secret_page(
    tera: &tera::Tera,
    viewer: &Viewer,
    saved: &SavedAsset,
    secret: &str,
    created: bool,
) -> Page {
    secret_page_for(
        tera,
        viewer,
        &saved.asset,
        secret,
        created,
        None,
        &saved.warnings,
    )
}

fn secret_page_for(
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
    let mut ctx = super::context(viewer, "assets");
    ctx.insert("mode", "secret");
    ctx.insert("preset_warnings", warnings);
    ctx.insert(
        "generated",
        &Generated {
            secret,
            name: &saved.name,
            path: &saved.path,
            id: &saved.id,
            created,
            algorithm: &saved.algorithm,
            next_at,
        },
    );
    super::render(tera, "asset_form.html", &ctx, StatusCode::OK)
}

/// Read a posted asset form after checking its CSRF token.
fn read_form(
    req: &HttpRequest,
    viewer: &Viewer,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Result<AssetForm, UiError> {
    match form {
        Ok(f) => {
            let f = f.into_inner();
            super::check_form(req, viewer, &f.csrf)?;
            Ok(f)
        }
        Err(e) => {
            if let Some(UrlencodedError::Overflow { limit, .. }) = e.as_error::<UrlencodedError>() {
                // The size limit applies before the CSRF token can be read; only admins get here.
                return Err(AppError::invalid(
                    "template",
                    format!("The form is larger than the {limit} bytes the server accepts; shorten the payload template."),
                )
                .into());
            }
            super::check_form(req, viewer, "")?;
            Err(AppError::invalid("form", "the form could not be read").into())
        }
    }
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
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<NewQuery>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
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

/// Run a service call off the async workers (generating an RSA key takes a moment).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<Result<T, AppError>, UiError> {
    web::block(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        UiError::internal()
    })
}

/// Save a posted form through the service: `Ok` with the saved asset, or the problems to show.
async fn save_form(
    service: &web::Data<Service>,
    actor: &str,
    form: &AssetForm,
    id: Option<&str>,
    template: &str,
) -> Result<Result<SavedAsset, (Problems, StatusCode)>, UiError> {
    let input = match form.input(id.is_some()) {
        Err(p) => return Ok(Err((*p, StatusCode::BAD_REQUEST))),
        Ok(input) => input,
    };
    let svc = service.clone().into_inner();
    let (actor, id) = (actor.to_owned(), id.map(str::to_owned));
    let saved = blocking(move || match id {
        Some(id) => svc.update_asset(&actor, &id, input),
        None => svc.create_asset(&actor, input),
    })
    .await?;
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
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let form = read_form(&req, &viewer, form)?;
    let values = Values::typed(&form);
    let actor = viewer.user.username.as_str().to_owned();
    let (mut problems, status) =
        match save_form(&service, &actor, &form, None, &values.template).await? {
            Ok(saved) => {
                return match &saved.generated_secret {
                    Some(secret) => secret_page(&tera, &viewer, &saved, secret, true),
                    None if saved.asset.kid.is_some() => Ok(super::see_other(&format!(
                        "/admin/assets/{}?done=created#keys",
                        saved.asset.id
                    ))),
                    // The edit page shows what the preset warns about.
                    None if !saved.warnings.is_empty() => Ok(super::see_other(&format!(
                        "/admin/assets/{}?done=created",
                        saved.asset.id
                    ))),
                    None => Ok(super::see_other("/admin/assets?done=created")),
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
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<String>,
    query: web::Query<EditQuery>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let asset = service.asset(&id)?;
    // After a save, what the consumer preset warns about (saved anyway).
    let warnings = match query.done.as_deref() {
        Some("created" | "saved") => service.preset_warnings(&id)?,
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
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<String>,
    form: Result<web::Form<AssetForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let form = read_form(&req, &viewer, form)?;
    let stored = service.asset(&id)?;
    let values = Values::typed(&form);
    let actor = viewer.user.username.as_str().to_owned();
    let (mut problems, status) =
        match save_form(&service, &actor, &form, Some(&id), &values.template).await? {
            Ok(saved) => {
                return match &saved.generated_secret {
                    Some(secret) => secret_page(&tera, &viewer, &saved, secret, false),
                    None if !saved.warnings.is_empty() => Ok(super::see_other(&format!(
                        "/admin/assets/{}?done=saved",
                        saved.asset.id
                    ))),
                    None => Ok(super::see_other("/admin/assets?done=saved")),
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

// ---- keys and the next secret ---------------------------------------------------------------

/// `GET /admin/assets/{id}/public-key.pem`: the active public key, as a file (404 for HMAC).
pub async fn public_key_pem(
    req: HttpRequest,
    service: web::Data<Service>,
    id: web::Path<String>,
) -> Page {
    super::admin(&req, &service)?;
    let asset = service.asset(&id)?;
    let pem = asset
        .public_key_pem
        .ok_or(UiError::App(AppError::NotFound))?;
    // Asset paths hold only letters, digits and `- . _ ~` between slashes.
    let stem: String = asset
        .path
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
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.public.pem\""),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(pem))
}

/// `POST /admin/assets/{id}/rotate`: a new key becomes active; back to the keys panel.
pub async fn rotate(
    req: HttpRequest,
    service: web::Data<Service>,
    id: web::Path<String>,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    read_csrf(&req, &viewer, form)?;
    let svc = service.into_inner();
    let (actor, id) = (viewer.user.username.as_str().to_owned(), id.into_inner());
    let rotated = blocking(move || svc.rotate_key(&actor, &id)).await??;
    Ok(super::see_other(&format!(
        "/admin/assets/{}?done=rotated#keys",
        rotated.id
    )))
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

/// `POST /admin/assets/{id}/next-secret`: schedule the switch to a new HMAC secret (a generated
/// one is shown once); errors are shown in the panel with what was typed.
pub async fn next_secret(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<String>,
    form: Result<web::Form<NextSecretForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let form = form.map(web::Form::into_inner).unwrap_or_default();
    super::check_form(&req, &viewer, &form.csrf)?;
    let asset = service.asset(&id)?;
    let typed = form.next_secret.expose();
    let generate = form.generate_next_secret.is_some();
    let mut panel = NextPanel {
        switch_at: form.switch_at.trim().to_owned(),
        generate,
        accept_weak: form.accept_weak_next_secret.is_some(),
        typed_secret: typed.to_owned(),
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
    if let (Some(at), None, None) = (switch_at, &panel.secret_error, &panel.switch_error) {
        let input = NextSecretInput {
            secret: (!typed.is_empty()).then(|| SecretString::new(typed.to_owned())),
            generate_secret: generate,
            accept_weak_secret: panel.accept_weak,
            switch_at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        match service.set_next_secret(viewer.user.username.as_str(), &id, input) {
            Ok(saved) => {
                return match saved.generated_secret {
                    Some(secret) => secret_page_for(
                        &tera,
                        &viewer,
                        &saved.asset,
                        &secret,
                        false,
                        Some(when(saved.asset.next_secret_at.unwrap_or(at))),
                        &[],
                    ),
                    None => Ok(super::see_other(&format!(
                        "/admin/assets/{}?done=next_secret#next-secret",
                        saved.asset.id
                    ))),
                };
            }
            Err(AppError::Invalid(f)) => {
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
            Err(e) => return Err(e.into()),
        }
    }
    form_page(
        &tera,
        &service,
        &viewer,
        Some(&asset),
        &Values::of(&asset),
        Extras {
            next: Some(panel),
            base: base_url(&req),
            ..Extras::default()
        },
        &Problems::default(),
        StatusCode::BAD_REQUEST,
    )
}

/// `POST /admin/assets/{id}/next-secret/cancel`: tokens keep the current secret.
pub async fn cancel_next_secret(
    req: HttpRequest,
    service: web::Data<Service>,
    id: web::Path<String>,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    read_csrf(&req, &viewer, form)?;
    let a = service.cancel_next_secret(viewer.user.username.as_str(), &id)?;
    Ok(super::see_other(&format!(
        "/admin/assets/{}?done=next_secret_cancelled#next-secret",
        a.id
    )))
}

// ---- the preview ----------------------------------------------------------------------------

/// Query of the preview.
#[derive(Deserialize)]
pub struct PreviewQuery {
    #[serde(rename = "as")]
    as_user: Option<String>,
}

/// A registered time claim of the previewed token.
#[derive(Serialize)]
struct TimeClaim {
    claim: &'static str,
    label: &'static str,
    at: When,
    relative: String,
    future: &'static str,
    past: &'static str,
}

fn time_claims(claims: &serde_json::Value, now: DateTime<Utc>) -> Vec<TimeClaim> {
    let specs: [(&str, &str, &str, &str); 3] = [
        ("iat", "Issued at", "issued in %s", "issued %s ago"),
        ("nbf", "Not before", "valid in %s", "valid since %s ago"),
        ("exp", "Expires", "expires in %s", "expired %s ago"),
    ];
    specs
        .into_iter()
        .filter_map(|(claim, label, future, past)| {
            let t = claims.get(claim)?.as_i64()?;
            let at = Utc.timestamp_opt(t, 0).single()?;
            let delta = t - now.timestamp();
            let relative = if delta > 0 {
                future.replace("%s", &span(delta))
            } else {
                past.replace("%s", &span(delta))
            };
            Some(TimeClaim {
                claim,
                label,
                at: when(at),
                relative,
                future,
                past,
            })
        })
        .collect()
}

/// The previewed token, split and decoded.
#[derive(Serialize)]
struct TokenView {
    header_b64: String,
    payload_b64: String,
    signature_b64: String,
    header: String,
    claims: String,
}

/// Indent compact JSON text as it is, keeping the member order of the token (a parsed
/// `serde_json::Value` would sort the keys).
fn pretty_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// A token part decoded and indented, or `fallback` pretty-printed when it cannot be decoded.
fn decoded_part(part: &str, fallback: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|t| serde_json::from_str::<serde_json::Value>(t).is_ok())
        .map(|t| pretty_json(&t))
        .unwrap_or_else(|| serde_json::to_string_pretty(fallback).unwrap_or_default())
}

/// `GET /admin/assets/{id}/preview?as=USERNAME`: what that user would receive now (audited).
pub async fn preview(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let asset = service.asset(&id)?;
    let as_user = query
        .as_user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(viewer.user.username.as_str())
        .to_owned();
    let mut ctx = super::context(&viewer, "assets");
    ctx.insert("asset", &Stored::from(&asset));
    ctx.insert("as_user", &as_user);
    let (users, _) = known_people(&service)?;
    ctx.insert("users", &users);
    let now = Utc::now();
    let mut status = StatusCode::OK;
    match service.preview(viewer.user.username.as_str(), &id, &as_user) {
        Ok(p) => {
            let mut parts = p.token.splitn(3, '.').map(str::to_owned);
            let (header_b64, payload_b64) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let token = TokenView {
                header: decoded_part(&header_b64, &p.header),
                claims: decoded_part(&payload_b64, &p.claims),
                header_b64,
                payload_b64,
                signature_b64: parts.next().unwrap_or_default(),
            };
            let verified = service.debug_token(&p.token, DebugKey::Asset(asset.id.clone()), now)?;
            // Key-pair assets: the key the signature was checked with, named by its kid.
            let kid = p
                .header
                .get("kid")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let signature_ok = verified
                .checks
                .iter()
                .any(|c| c.name == "signature" && c.ok);
            ctx.insert("kid", &kid);
            ctx.insert("signature_ok", &signature_ok);
            ctx.insert("token", &token);
            ctx.insert("verified", &verified.verified);
            ctx.insert("checks", &verified.checks);
            ctx.insert("times", &time_claims(&p.claims, now));
            ctx.insert("warnings", &p.warnings);
        }
        Err(AppError::Render(f)) => {
            let (line, column) = (f.line.unwrap_or(1), f.column.unwrap_or(1));
            ctx.insert(
                "render_error",
                &locate(&asset.template, line, column, f.message),
            );
            status = StatusCode::UNPROCESSABLE_ENTITY;
        }
        Err(AppError::Config(m)) => {
            ctx.insert("config_error", &m);
            status = StatusCode::UNPROCESSABLE_ENTITY;
        }
        // The asset exists (read above), so it is the user who does not.
        Err(AppError::NotFound) => {
            ctx.insert("user_error", &format!("There is no user {as_user:?}."));
            status = StatusCode::NOT_FOUND;
        }
        Err(e) => return Err(e.into()),
    }
    super::render(&tera, "preview.html", &ctx, status)
}

// ---- trash, restore, purge ------------------------------------------------------------------

/// A form whose only field is the CSRF token (a bodiless post has an empty token).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
    confirm: Option<String>,
}

fn read_csrf(
    req: &HttpRequest,
    viewer: &Viewer,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Result<CsrfForm, UiError> {
    let form = form.map(web::Form::into_inner).unwrap_or_default();
    super::check_form(req, viewer, &form.csrf)?;
    Ok(form)
}

/// `POST /admin/assets/{id}/trash`: its URL answers 404 at once; to the list.
pub async fn trash(
    req: HttpRequest,
    service: web::Data<Service>,
    id: web::Path<String>,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    read_csrf(&req, &viewer, form)?;
    service.trash_asset(viewer.user.username.as_str(), &id)?;
    Ok(super::see_other("/admin/assets?done=trashed"))
}

/// `POST /admin/assets/{id}/restore`: back on its path; to the trash.
pub async fn restore(
    req: HttpRequest,
    service: web::Data<Service>,
    id: web::Path<String>,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    read_csrf(&req, &viewer, form)?;
    service.restore_asset(viewer.user.username.as_str(), &id)?;
    Ok(super::see_other("/admin/trash?done=restored"))
}

/// `GET /admin/assets/{id}/purge`: a confirmation naming the asset.
pub async fn purge_confirm(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    id: web::Path<String>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let asset = service.asset(&id)?;
    let stored = Stored::from(&asset);
    let status = if stored.live {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let mut ctx = super::context(&viewer, "trash");
    ctx.insert("asset", &stored);
    super::render(&tera, "purge.html", &ctx, status)
}

/// `POST /admin/assets/{id}/purge`: gone for good (only from the trash: 409 otherwise).
pub async fn purge(
    req: HttpRequest,
    service: web::Data<Service>,
    id: web::Path<String>,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    read_csrf(&req, &viewer, form)?;
    service.purge_asset(viewer.user.username.as_str(), &id)?;
    Ok(super::see_other("/admin/trash?done=purged"))
}

#[allow(clippy::too_many_arguments)]
fn trash_page(
    tera: &tera::Tera,
    service: &Service,
    viewer: &Viewer,
    q: &str,
    page: usize,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    let p = asset_page(service, true, q, page);
    let rows: Vec<Row> = p.assets.iter().map(Row::from).collect();
    let mut ctx = super::context(viewer, "trash");
    ctx.insert("notice", &notice);
    ctx.insert("error", &error);
    ctx.insert("q", q);
    ctx.insert("rows", &rows);
    ctx.insert("pager", &pager("/admin/trash", q, &p));
    ctx.insert("all_trashed", &service.asset_page(true, "", 1).total);
    super::render(tera, "trash.html", &ctx, status)
}

/// `GET /admin/trash`: trashed assets with who and when; restore, purge, empty.
pub async fn trash_list(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    query: web::Query<ListQuery>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let q = query.q.as_deref().unwrap_or_default().trim().to_owned();
    trash_page(
        &tera,
        &service,
        &viewer,
        &q,
        page_number(query.page.as_deref()),
        super::notice(query.done.as_deref()),
        None,
        StatusCode::OK,
    )
}

/// `POST /admin/trash/empty`: purge every trashed asset (the form's box must be ticked).
pub async fn empty_trash(
    req: HttpRequest,
    service: web::Data<Service>,
    tera: web::Data<tera::Tera>,
    form: Result<web::Form<CsrfForm>, actix_web::Error>,
) -> Page {
    let viewer = super::admin(&req, &service)?;
    let form = read_csrf(&req, &viewer, form)?;
    if form.confirm.is_none() {
        return trash_page(
            &tera,
            &service,
            &viewer,
            "",
            1,
            None,
            Some(
                "Nothing was purged: tick the box to confirm that every asset in the trash goes for good.",
            ),
            StatusCode::BAD_REQUEST,
        );
    }
    service.empty_trash(viewer.user.username.as_str())?;
    Ok(super::see_other("/admin/trash?done=emptied"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(path: &str) -> AssetSummary {
        AssetSummary {
            id: path.into(),
            name: path.into(),
            path: path.into(),
            state: Lifecycle::Live,
            trashed_at: None,
            trashed_by: None,
            algorithm: "HS256",
            weak_secret: false,
            expiry_seconds: Some(600),
            template_error: None,
            restricted: false,
            updated_at: Utc::now(),
            updated_by: "admin".into(),
            read: None,
        }
    }

    fn shape(lines: &[TreeLine]) -> String {
        lines
            .iter()
            .map(|l| match l.kind {
                "folder" => format!("F{}({})", l.folder.as_deref().unwrap(), l.count),
                "item" => format!("I{}", l.asset.as_ref().unwrap().path),
                "open" => "[".into(),
                "close" => "]".into(),
                _ => ";".into(),
            })
            .collect()
    }

    #[test]
    fn assets_are_grouped_by_path_segments() {
        let assets: Vec<AssetSummary> = [
            "/tokens",
            "/tokens/chat",
            "/tokens/video/a",
            "/tokens/video/b",
            "/deep/down/only",
            "/x",
        ]
        .into_iter()
        .map(summary)
        .collect();
        assert_eq!(
            shape(&tree(&assets)),
            "I/deep/down/only;\
             I/tokens[I/tokens/chat;F/tokens/video(2)[I/tokens/video/a;I/tokens/video/b;];];\
             I/x;"
        );
    }

    #[test]
    fn a_caret_points_at_the_column() {
        let l = locate("{\n\t\"a\": %x%\n}", 2, 7, "bad".into());
        assert_eq!(l.source_line, "\t\"a\": %x%");
        assert_eq!(l.caret, "\t     ^");
    }

    #[test]
    fn json_is_indented_in_its_own_order() {
        assert_eq!(
            pretty_json(r#"{"z":1,"a":{"s":"x,{\":y"},"l":[],"g":["a","b"]}"#),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"s\": \"x,{\\\":y\"\n  },\n  \"l\": [],\n  \"g\": [\n    \"a\",\n    \"b\"\n  ]\n}"
        );
    }

    #[test]
    fn spans_read_like_the_countdowns() {
        assert_eq!(span(5), "5 s");
        assert_eq!(span(-600), "10 min 0 s");
        assert_eq!(span(3723), "1 h 2 min 3 s");
    }
}
