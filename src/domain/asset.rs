//! Assets: canonical web paths, access rules, and the stored asset record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::domain::preset::Preset;
use crate::domain::user::User;
use crate::ids::AssetId;
use crate::secret::Secret;
use crate::signing::Algorithm;
use crate::signing::keys::KeyPair;

/// The keyword language version of templates saved now (2: the CMS-faithful language).
pub const TEMPLATE_LANGUAGE: u8 = 2;

/// The language of a record saved before the version was recorded.
fn first_template_language() -> u8 {
    1
}

/// Longest accepted asset path, in bytes.
pub const MAX_PATH_BYTES: usize = 255;

/// First path segments that belong to the server itself, compared without regard to case.
pub const RESERVED_PREFIXES: &[&str] = &[
    "admin",
    "api",
    "login",
    "logout",
    "static",
    "healthz",
    "metrics",
    ".well-known",
];

/// Last path segments reserved for sub-resources of an asset (its published keys).
pub const RESERVED_LAST_SEGMENTS: &[&str] = &["jwks.json"];

/// A canonical asset path: `/segment/segment…`, each segment of URL-unreserved ASCII
/// (`A-Z a-z 0-9 - . _ ~`), no `.`/`..`/empty segments, no trailing slash, at most 255 bytes, and
/// not under a reserved prefix. Because the form is canonical, a request path matches an asset
/// only byte for byte: percent-encoded or dot-segment variants never reach one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetPath(String);

impl AssetPath {
    /// Validate a path typed by an administrator.
    pub fn parse(s: &str) -> Result<AssetPath, FieldError> {
        let err = |m: &str| Err(FieldError::new("path", m));
        if !s.starts_with('/') {
            return err("must start with '/'");
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(FieldError::new(
                "path",
                format!("must be at most {MAX_PATH_BYTES} bytes long"),
            ));
        }
        if s == "/" {
            return err("must have at least one segment, e.g. /tokens/chat");
        }
        if s.ends_with('/') {
            return err("must not end with '/'");
        }
        let segments: Vec<&str> = s[1..].split('/').collect();
        for seg in &segments {
            if seg.is_empty() {
                return err("must not contain empty segments ('//')");
            }
            if *seg == "." || *seg == ".." {
                return err("must not contain '.' or '..' segments");
            }
            if let Some(c) = seg
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
            {
                return Err(FieldError::new(
                    "path",
                    format!(
                        "may contain only letters, digits, '-', '.', '_' and '~' between slashes (found {c:?})"
                    ),
                ));
            }
        }
        if segments
            .iter()
            .any(|seg| seg.eq_ignore_ascii_case(".well-known"))
        {
            return err(
                "may not contain a .well-known segment (reserved for issuers' discovery documents)",
            );
        }
        let first = segments[0].to_ascii_lowercase();
        if RESERVED_PREFIXES.contains(&first.as_str()) {
            return Err(FieldError::new(
                "path",
                format!("/{first} is reserved for the server itself"),
            ));
        }
        let last = segments[segments.len() - 1].to_ascii_lowercase();
        if RESERVED_LAST_SEGMENTS.contains(&last.as_str()) {
            return Err(FieldError::new(
                "path",
                format!("a path may not end in /{last} (reserved)"),
            ));
        }
        Ok(AssetPath(s.to_owned()))
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AssetPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Most request parameters one asset may declare.
pub const MAX_REQUEST_PARAMS: usize = 16;

/// The longest value a request parameter may be declared to take, in characters.
pub const MAX_REQUEST_PARAM_CHARS: usize = 2048;

/// The longest pattern of a request parameter, in bytes.
pub const MAX_REQUEST_PARAM_PATTERN_BYTES: usize = 512;

/// A query parameter an asset takes into its token (`%globals_get_<name>%`): only declared ones
/// are read, and only values that match the whole pattern and are at most `max_length`
/// characters long; anything else is a 400 before anything is rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestParam {
    /// The parameter's name in the query string and in the keyword (`[a-z0-9_]`, 1–64).
    pub name: String,
    /// A regular expression (Rust `regex` syntax) the whole value must match; anchors are
    /// implied.
    pub pattern: String,
    /// The longest accepted value, in characters (1–2048).
    pub max_length: usize,
}

impl RequestParam {
    /// The pattern compiled to match a whole value (`^(?:pattern)$`), with a size limit so that
    /// a pathological pattern is refused rather than slow.
    pub fn regex(pattern: &str) -> Result<regex::Regex, String> {
        let build = |p: &str| {
            regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| e.to_string())
        };
        // On its own first: a pattern such as `[a-z]+)|(.*` is unbalanced alone, and wrapped it
        // would escape the anchors and match anything.
        build(pattern)?;
        build(&format!("^(?:{pattern})$"))
    }

    /// Parameters written one per line as `name max_length pattern` (`room 64 [a-z0-9-]+`: the
    /// pattern is the rest of the line), as the admin form and the CLI take them; a line that
    /// cannot be read is an error naming its number. Not checked yet (see
    /// [`RequestParam::check_all`]).
    pub fn parse_lines(text: &str) -> Result<Vec<RequestParam>, String> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim_start();
            let (max, pattern) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let (name, max, pattern) = (Some(name), Some(max), Some(pattern));
            let max_length = max.and_then(|m| m.trim().parse::<usize>().ok());
            match (
                name,
                max_length,
                pattern.map(str::trim).filter(|p| !p.is_empty()),
            ) {
                (Some(name), Some(max_length), Some(pattern)) => out.push(RequestParam {
                    name: name.to_owned(),
                    pattern: pattern.to_owned(),
                    max_length,
                }),
                _ => {
                    return Err(format!(
                        "line {}: write the name, the maximum length and the pattern, e.g. room 64 [a-z0-9-]+",
                        i + 1
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Check declared parameters: names, patterns and lengths, no name twice.
    pub fn check_all(params: &[RequestParam]) -> Result<(), FieldError> {
        let field = "request_params";
        if params.len() > MAX_REQUEST_PARAMS {
            return Err(FieldError::new(
                field,
                format!("at most {MAX_REQUEST_PARAMS} request parameters"),
            ));
        }
        for (i, p) in params.iter().enumerate() {
            let at = |m: String| FieldError::new(field, format!("parameter {}: {m}", i + 1));
            let name_ok = !p.name.is_empty()
                && p.name.len() <= 64
                && p.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err(at(format!(
                    "the name {:?} must be 1 to 64 of a-z, 0-9 and _ (it is read as %globals_get_<name>%)",
                    p.name
                )));
            }
            if params[..i].iter().any(|q| q.name == p.name) {
                return Err(at(format!("{:?} is declared twice", p.name)));
            }
            if p.max_length == 0 || p.max_length > MAX_REQUEST_PARAM_CHARS {
                return Err(at(format!(
                    "max_length of {:?} must be 1 to {MAX_REQUEST_PARAM_CHARS} characters",
                    p.name
                )));
            }
            if p.pattern.trim().is_empty() {
                return Err(at(format!(
                    "{:?} needs a pattern its values must match, e.g. ^[a-z0-9-]{{1,64}}$",
                    p.name
                )));
            }
            if p.pattern.trim() != p.pattern || p.pattern.chars().any(char::is_control) {
                return Err(at(format!(
                    "the pattern of {:?} may not start or end with spaces or hold control characters (write \\s or \\n for them)",
                    p.name
                )));
            }
            if p.pattern.len() > MAX_REQUEST_PARAM_PATTERN_BYTES {
                return Err(at(format!(
                    "the pattern of {:?} is longer than {MAX_REQUEST_PARAM_PATTERN_BYTES} bytes",
                    p.name
                )));
            }
            if let Err(e) = RequestParam::regex(&p.pattern) {
                let first = e.lines().last().unwrap_or_default().trim().to_owned();
                return Err(at(format!(
                    "the pattern of {:?} is not a valid regular expression: {first}",
                    p.name
                )));
            }
        }
        Ok(())
    }
}

/// Named users (by case-folded username) and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessRule {
    /// Usernames (matched without regard to case).
    #[serde(default)]
    pub users: Vec<String>,
    /// Group names (matched without regard to letter case).
    #[serde(default)]
    pub groups: Vec<String>,
}

impl AccessRule {
    /// Whether the rule names the user or one of their groups.
    pub fn allows(&self, user: &User) -> bool {
        // Stored names are case-folded; comparing without regard to case needs no folded copy.
        let name = user.username.as_str();
        self.users.iter().any(|u| u.eq_ignore_ascii_case(name))
            || self.groups.iter().any(|g| user.in_group(g))
    }
}

pub use crate::domain::delivery::Delivery;

/// Longest accepted list of CORS origins.
pub const MAX_CORS_ORIGINS: usize = 32;

/// Validate a CORS origin: `http` or `https`, a host, an optional port; nothing else (no
/// path, no trailing slash, no wildcard), lower case, as browsers send it in `Origin`.
pub fn parse_origin(s: &str) -> Result<String, FieldError> {
    let err = || {
        Err(FieldError::new(
            "cors_origins",
            format!(
                "{s:?} is not an origin: write scheme://host[:port] in lower case, e.g. https://app.example (no path, no wildcard)"
            ),
        ))
    };
    let Some((scheme, rest)) = s.split_once("://") else {
        return err();
    };
    if scheme != "https" && scheme != "http" {
        return err();
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            || (host.starts_with('[')
                && host.ends_with(']')
                && host[1..host.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')));
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.chars().all(|c| c.is_ascii_digit())
            && !p.starts_with('0')
    });
    if host_ok && port_ok {
        Ok(s.to_owned())
    } else {
        err()
    }
}

/// Whether an asset is live or in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AssetState {
    /// Answers on its path.
    Live,
    /// In the trash: its path answers 404 until it is restored.
    Trashed {
        /// When it was trashed.
        at: DateTime<Utc>,
        /// Username of who trashed it.
        by: String,
    },
}

/// Whether an asset is live or trashed, without the details (lists, filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Answers on its path.
    Live,
    /// In the trash.
    Trashed,
}

impl AssetState {
    /// Live or trashed, and when and by whom it was trashed.
    pub fn lifecycle(&self) -> (Lifecycle, Option<DateTime<Utc>>, Option<String>) {
        match self {
            AssetState::Live => (Lifecycle::Live, None, None),
            AssetState::Trashed { at, by } => (Lifecycle::Trashed, Some(*at), Some(by.clone())),
        }
    }
}

impl Lifecycle {
    /// `live` or `trashed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Live => "live",
            Lifecycle::Trashed => "trashed",
        }
    }
}

impl std::fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Asset {
    /// Record id.
    pub id: AssetId,
    /// Display name (also the `asset_name` keyword).
    pub name: String,
    /// Web path the token is fetched from.
    pub path: AssetPath,
    /// Live or trashed.
    pub state: AssetState,
    /// Signature algorithm.
    pub algorithm: Algorithm,
    /// HMAC secret (empty for asymmetric algorithms). Never returned by any read.
    pub secret: Secret,
    /// Asymmetric key pairs, oldest first: the last one is active, older ones carry
    /// `retired_at` and stay published until every token they signed has expired. Empty for HMAC.
    #[serde(default)]
    pub keys: Vec<KeyPair>,
    /// Asymmetric only: the next key pair, published (JWKS, PEM, API) but not signing until it
    /// is activated: at `next_key_at`, or by hand when that is `None`. Never in `keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key: Option<KeyPair>,
    /// Asymmetric only: when `next_key` starts signing (decided per request, like
    /// `next_secret_at`); `None` = when an administrator activates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key_at: Option<DateTime<Utc>>,
    /// HMAC only: the secret that replaces `secret` at `next_secret_at`.
    #[serde(default)]
    pub next_secret: Option<Secret>,
    /// HMAC only: when `next_secret` takes over (decided per request).
    #[serde(default)]
    pub next_secret_at: Option<DateTime<Utc>>,
    /// HMAC only: a `kid` for the token header (e.g. a Tableau connected app's secret ID).
    #[serde(default)]
    pub key_id: Option<String>,
    /// HMAC only: the `kid` that comes with `next_secret` and replaces `key_id` at the switch
    /// (`None`: the next secret keeps `key_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key_id: Option<String>,
    /// The consumer preset the asset was made for: its rules are checked at save and its
    /// per-user rules on every token.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// How the token may be delivered besides the raw body.
    #[serde(default)]
    pub delivery: Delivery,
    /// Origins (`https://app.example`) whose pages may fetch the token with credentials.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Query parameters the template may read (`%globals_get_<name>%`), each with its pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_params: Vec<RequestParam>,
    /// When the secret was last set.
    pub secret_changed_at: DateTime<Utc>,
    /// The administrator accepted a secret shorter than the hash size.
    pub weak_secret_accepted: bool,
    /// Payload template source (compiled when loaded).
    pub template: String,
    /// The version of the keyword language the template is written in: [`TEMPLATE_LANGUAGE`]
    /// for every template saved now, 1 for one saved before the CMS-faithful language (a data
    /// migration rewrites those once, see [`crate::keywords::upgrade_v1_template`]).
    #[serde(default = "first_template_language")]
    pub template_language: u8,
    /// Why the template fails for a user with no attributes or the sample user (see
    /// [`crate::domain::trial`]), found when it was saved; kept so that lists show the
    /// "template error" badge without rendering every template at start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_warning: Option<String>,
    /// Token lifetime; `None` only when explicitly chosen.
    pub expiry_seconds: Option<u64>,
    /// `iss` claim, when set.
    pub issuer: Option<String>,
    /// `aud` claim, when set.
    pub audience: Option<String>,
    /// Add `nbf` (issue time minus [`NBF_SKEW_SECONDS`]).
    pub not_before: bool,
    /// Add a random `jti` (128 bits).
    pub jti: bool,
    /// Who may fetch tokens; `None` = any signed-in user.
    pub read: Option<AccessRule>,
    /// Who may edit (and gets `asset_has_write_access` = 1); administrators always.
    pub write: AccessRule,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Username of the creator.
    pub created_by: String,
    /// Last change time.
    pub updated_at: DateTime<Utc>,
    /// Username of the last editor.
    pub updated_by: String,
    /// Incremented on every change; edits must name the version they are based on.
    pub version: u64,
}

/// `nbf` is set this many seconds before `iat`, so consumers with a slightly slow clock accept it.
pub const NBF_SKEW_SECONDS: i64 = 30;

/// Default expiry for a new asset.
pub const DEFAULT_EXPIRY_SECONDS: u64 = 600;

/// A retired key stays published this long after the last token it signed has expired (clock
/// skew between us and consumers, and JWKS caches).
pub const KEY_GRACE_SECONDS: i64 = 60;

impl Asset {
    /// Whether the secret is shorter than the algorithm's hash (never, for a key pair).
    pub fn has_weak_secret(&self) -> bool {
        self.secret.len() < self.algorithm.min_secret_bytes()
    }

    /// Whether the asset answers on its path.
    pub fn is_live(&self) -> bool {
        self.state == AssetState::Live
    }

    /// Whether the user may fetch a token.
    #[inline]
    pub fn can_read(&self, user: &User) -> bool {
        read_allows(self.read.as_ref(), user)
    }

    /// Whether the user may edit the asset (`asset_has_write_access`).
    pub fn can_write(&self, user: &User) -> bool {
        user.admin || self.write.allows(user)
    }

    /// The active key pair (asymmetric algorithms only), as stored: a scheduled next key whose
    /// time has come is not folded in (see [`Asset::signing_key_at`]).
    pub fn active_key(&self) -> Option<&KeyPair> {
        if self.algorithm.is_hmac() {
            None
        } else {
            self.keys.last()
        }
    }

    /// Whether the next key signs at `now` (its scheduled time has come).
    pub fn next_key_due(&self, now: DateTime<Utc>) -> bool {
        !self.algorithm.is_hmac()
            && self.next_key.is_some()
            && self.next_key_at.is_some_and(|at| now >= at)
    }

    /// The key that signs at `now`: the next key once its scheduled time has come, else the
    /// active key.
    pub fn signing_key_at(&self, now: DateTime<Utc>) -> Option<&KeyPair> {
        match &self.next_key {
            Some(next) if self.next_key_due(now) && !self.algorithm.is_hmac() => Some(next),
            _ => self.active_key(),
        }
    }

    /// Until when a key is published: `None` while it is active, or when it is retired but
    /// the asset's tokens never expire (then it stays until the asset is purged).
    pub fn published_until(&self, key: &KeyPair) -> Option<DateTime<Utc>> {
        self.published_after_retiring(key.retired_at)
    }

    fn published_after_retiring(&self, retired: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let retired = retired?;
        let expiry = self.expiry_seconds?;
        Some(
            retired
                + chrono::Duration::seconds(i64::try_from(expiry).unwrap_or(i64::MAX / 4))
                + chrono::Duration::seconds(KEY_GRACE_SECONDS),
        )
    }

    /// The keys published at `now`: the signing key first, then a next key that does not sign
    /// yet, then retired keys whose tokens may still be valid, newest first. None for HMAC.
    /// Once a scheduled next key's time has come, the key it replaced counts as retired then.
    pub fn published_keys(&self, now: DateTime<Utc>) -> Vec<&KeyPair> {
        if self.algorithm.is_hmac() {
            return Vec::new();
        }
        let due = self.next_key_due(now);
        let mut out = Vec::with_capacity(self.keys.len() + 1);
        if due {
            out.extend(self.next_key.as_ref());
        }
        let last = self.keys.len().saturating_sub(1);
        for (i, key) in self.keys.iter().enumerate().rev() {
            let retired = if i == last && due {
                self.next_key_at
            } else {
                key.retired_at
            };
            if self
                .published_after_retiring(retired)
                .is_none_or(|until| now < until)
            {
                out.push(key);
            }
            if i == last && !due {
                out.extend(self.next_key.as_ref());
            }
        }
        if self.keys.is_empty() && !due {
            out.extend(self.next_key.as_ref());
        }
        out
    }

    /// The HMAC secret in force at `now` (the next secret once its switch time has come).
    pub fn secret_at(&self, now: DateTime<Utc>) -> &Secret {
        match (&self.next_secret, self.next_secret_at) {
            (Some(next), Some(at)) if now >= at => next,
            _ => &self.secret,
        }
    }

    /// Fold time-driven changes into the record before a write: a next secret whose switch
    /// time has passed becomes the secret, and keys no longer published are dropped.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        if let (Some(_), Some(at)) = (&self.next_secret, self.next_secret_at)
            && now >= at
        {
            if let Some(next) = self.next_secret.take() {
                self.secret = next;
            }
            if let Some(kid) = self.next_key_id.take() {
                self.key_id = Some(kid);
            }
            self.secret_changed_at = at;
            self.next_secret_at = None;
        }
        if self.next_secret.is_none() {
            self.next_secret_at = None;
            self.next_key_id = None;
        }
        if self.next_key_due(now)
            && let (Some(next), Some(at)) = (self.next_key.take(), self.next_key_at.take())
        {
            if let Some(active) = self.keys.last_mut() {
                active.retired_at = Some(at);
            }
            self.keys.push(next);
            self.secret_changed_at = at;
        }
        if self.next_key.is_none() {
            self.next_key_at = None;
        }
        let keep: Vec<bool> = self
            .keys
            .iter()
            .map(|k| self.published_until(k).is_none_or(|until| now < until))
            .collect();
        let mut i = 0;
        self.keys.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

/// Whether a read rule lets the user fetch a token: administrators always, everyone when there
/// is no rule.
pub fn read_allows(read: Option<&AccessRule>, user: &User) -> bool {
    user.admin || read.is_none_or(|rule| rule.allows(user))
}

/// The stored fields that differ between two versions of an asset, by name (for the audit
/// log: which fields an edit changed, never their values).
pub fn changed_fields(old: &Asset, new: &Asset) -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! compare {
        ($($field:ident),* $(,)?) => {
            $(if old.$field != new.$field {
                out.push(stringify!($field));
            })*
        };
    }
    compare!(
        name,
        path,
        algorithm,
        secret,
        next_key_at,
        next_secret,
        next_secret_at,
        key_id,
        next_key_id,
        preset,
        delivery,
        cors_origins,
        request_params,
        weak_secret_accepted,
        template,
        expiry_seconds,
        issuer,
        audience,
        not_before,
        jti,
        read,
        write,
    );
    // Key pairs by their identity (kid) and state.
    let keys = |a: &Asset| -> Vec<(String, Option<DateTime<Utc>>)> {
        a.keys
            .iter()
            .map(|k| (k.kid.clone(), k.retired_at))
            .collect()
    };
    if keys(old) != keys(new) {
        out.push("keys");
    }
    if old.next_key.as_ref().map(|k| &k.kid) != new.next_key.as_ref().map(|k| &k.kid) {
        out.push("next_key");
    }
    out
}

/// Why `user` would get 403 from an asset with this read rule, in words for the admin; `None`
/// when they may fetch a token.
pub fn read_refusal(read: Option<&AccessRule>, user: &User) -> Option<String> {
    let name = user.username.as_str();
    if user.disabled {
        return Some(format!("{name}'s account is disabled"));
    }
    let rule = read.filter(|_| !read_allows(read, user))?;
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    Some(format!(
        "no read rule matches {name}: the asset allows users {} and groups {}; {name} is in {}",
        list(&rule.users),
        list(&rule.groups),
        if user.groups.is_empty() {
            "no group".to_owned()
        } else {
            format!("groups {}", user.groups.join(", "))
        }
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::signing::keys::KeyType;

    fn record_json() -> serde_json::Value {
        serde_json::json!({
            "id": "a-1", "name": "Chat", "path": "/tokens/chat", "state": {"state": "live"},
            "algorithm": "HS256", "secret": [1, 2, 3], "secret_changed_at": "2026-01-01T00:00:00Z",
            "weak_secret_accepted": true, "template": "{}", "expiry_seconds": 600,
            "issuer": null, "audience": null, "not_before": false, "jti": false, "read": null,
            "write": {"users": [], "groups": []}, "created_at": "2026-01-01T00:00:00Z",
            "created_by": "admin", "updated_at": "2026-01-01T00:00:00Z", "updated_by": "admin",
            "version": 3
        })
    }

    #[test]
    fn a_record_written_before_keys_existed_still_decodes() {
        let a: Asset = serde_json::from_value(record_json()).unwrap();
        assert!(a.keys.is_empty());
        assert!(a.next_secret.is_none() && a.next_secret_at.is_none());
        assert!(a.key_id.is_none() && a.preset.is_none());
        assert_eq!(a.secret.expose(), &[1, 2, 3]);
    }

    #[test]
    fn a_retired_key_is_published_until_its_last_token_expired_plus_the_grace() {
        let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut a: Asset = serde_json::from_value(record_json()).unwrap();
        a.algorithm = Algorithm::ES256;
        a.expiry_seconds = Some(600);
        let mut old = KeyPair::generate(KeyType::P256, t0).unwrap();
        let new = KeyPair::generate(KeyType::P256, t0).unwrap();
        let retired = t0 + chrono::Duration::seconds(100);
        old.retired_at = Some(retired);
        a.keys = vec![old.clone(), new.clone()];
        let kids = |a: &Asset, at| -> Vec<String> {
            a.published_keys(at).iter().map(|k| k.kid.clone()).collect()
        };
        let edge = retired + chrono::Duration::seconds(600 + 60);
        assert_eq!(a.published_until(&old), Some(edge));
        assert_eq!(a.published_until(&new), None);
        assert_eq!(
            kids(&a, edge - chrono::Duration::seconds(1)),
            vec![new.kid.clone(), old.kid.clone()],
            "active first, the retired key still published"
        );
        assert_eq!(kids(&a, edge), vec![new.kid.clone()]);
        // Without expiry, retired keys stay until purge.
        let mut forever = a.clone();
        forever.expiry_seconds = None;
        assert_eq!(kids(&forever, edge + chrono::Duration::days(3650)).len(), 2);
        // Writes prune what is no longer published.
        let mut pruned = a.clone();
        pruned.settle(edge - chrono::Duration::seconds(1));
        assert_eq!(pruned.keys.len(), 2);
        pruned.settle(edge);
        assert_eq!(pruned.keys.len(), 1);
        assert_eq!(pruned.keys[0].kid, new.kid);
        // HMAC assets publish nothing.
        a.algorithm = Algorithm::HS256;
        assert!(a.published_keys(t0).is_empty());
    }

    #[test]
    fn the_next_secret_takes_over_at_its_switch_time() {
        let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut a: Asset = serde_json::from_value(record_json()).unwrap();
        a.next_secret = Some(Secret::new(b"next".to_vec()));
        a.next_secret_at = Some(t0);
        a.key_id = Some("one".into());
        a.next_key_id = Some("two".into());
        assert_eq!(
            a.secret_at(t0 - chrono::Duration::seconds(1)).expose(),
            &[1, 2, 3]
        );
        assert_eq!(a.secret_at(t0).expose(), b"next");
        a.settle(t0 - chrono::Duration::seconds(1));
        assert!(a.next_secret.is_some());
        assert_eq!(a.key_id.as_deref(), Some("one"));
        a.settle(t0);
        assert_eq!(a.secret.expose(), b"next");
        assert_eq!(
            a.key_id.as_deref(),
            Some("two"),
            "the kid switches with the secret"
        );
        assert!(a.next_secret.is_none() && a.next_secret_at.is_none() && a.next_key_id.is_none());
        assert_eq!(a.secret_changed_at, t0);
    }

    #[test]
    fn cors_origins_are_exact_scheme_host_port() {
        for o in [
            "https://app.example",
            "http://127.0.0.1:8080",
            "https://a-b.example.com:8443",
            "http://[::1]:3000",
        ] {
            assert_eq!(parse_origin(o).as_deref(), Ok(o), "{o}");
        }
        for o in [
            "*",
            "null",
            "app.example",
            "https://app.example/",
            "https://app.example/x",
            "https://App.example",
            "ftp://app.example",
            "https://*.example",
            "https://app.example:",
            "https://app.example:0080",
            "https://",
        ] {
            assert!(parse_origin(o).is_err(), "{o:?} should be refused");
        }
    }

    #[test]
    fn canonical_paths_are_accepted() {
        for p in [
            "/tokens/chat",
            "/a",
            "/A-b_c.d~e/x1",
            "/administrator",
            "/x/admin",
        ] {
            assert!(AssetPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn non_canonical_and_reserved_paths_are_refused() {
        for p in [
            "",
            "tokens",
            "/",
            "/a/",
            "//a",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/..",
            "/a b",
            "/a%2Fb",
            "/a?b",
            "/ä",
            "/admin",
            "/ADMIN/x",
            "/Api/v2",
            "/login",
            "/logout/x",
            "/static/app.js",
            "/healthz",
            "/Metrics",
            "/.well-known/jwks.json",
            "/a/jwks.json",
            "/a/JWKS.JSON",
        ] {
            assert!(AssetPath::parse(p).is_err(), "{p:?} should be refused");
        }
        assert!(AssetPath::parse(&format!("/{}", "a".repeat(255))).is_err());
    }
}
