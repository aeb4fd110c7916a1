//! What a template is limited to, what it can know about a request, and how it fails.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// Largest accepted template source, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Deepest accepted nesting of objects and arrays; the top-level object is level 1.
pub const MAX_DEPTH: usize = 32;

/// Most keywords one template may contain.
pub const MAX_KEYWORDS: usize = 256;

/// Largest value a modifier may produce (text bytes, or a list's joined length); a larger one is
/// a [`RenderError`], so chained modifiers such as `^base64encode^base64encode…` cannot exhaust
/// memory.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// What a template can know about the request. All borrowed; built per request by the caller.
#[derive(Clone, Copy)]
pub struct RenderContext<'a> {
    /// The user the token is for.
    pub user: UserFacts<'a>,
    /// The JWT asset being fetched.
    pub asset: AssetFacts<'a>,
    /// The request time, used by the date keywords.
    pub now: DateTime<Utc>,
    /// The request's query parameters the asset declares, already checked against their
    /// patterns (`globals_get_<name>`); a declared one that is absent reads as empty text.
    pub params: &'a [(String, String)],
}

/// Facts about the requesting user.
#[derive(Clone, Copy)]
pub struct UserFacts<'a> {
    /// The user's id (`globals_user_assetid`).
    pub id: &'a str,
    /// The user's login name (`globals_user_attribute_username`).
    pub username: &'a str,
    /// first_name, last_name, email and any custom attribute (name -> value)
    pub attributes: &'a BTreeMap<String, String>,
    /// Names of the groups the user belongs to (`globals_user_groups`).
    pub groups: &'a [String],
}

/// Facts about the asset being fetched.
#[derive(Clone, Copy)]
pub struct AssetFacts<'a> {
    /// The asset's id (`asset_assetid`).
    pub id: &'a str,
    /// The asset's name (`asset_name`).
    pub name: &'a str,
    /// The asset's web path (`asset_web_path`).
    pub web_path: &'a str,
    /// Whether the user may edit the asset (`asset_has_write_access`: `1` or `0`).
    pub has_write_access: bool,
}

/// Why a template did not compile, and where (1-based line; column counted in chars).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CompileError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column of the offending token, counted in chars.
    pub column: usize,
    /// What is wrong, for the administrator.
    pub message: String,
}

/// Why rendering failed: the keyword's location in the template, its name, and what went wrong.
/// The message never contains the user's attribute values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: keyword {keyword}: {message}")]
pub struct RenderError {
    /// 1-based line of the keyword's opening `%`.
    pub line: usize,
    /// 1-based column of the keyword's opening `%`, counted in chars.
    pub column: usize,
    /// The keyword's name, without modifiers.
    pub keyword: String,
    /// What went wrong.
    pub message: String,
}
