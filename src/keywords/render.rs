//! Evaluates compiled keywords against a request and writes their values as safe JSON.

use std::borrow::Cow;

use chrono::SecondsFormat;

use super::context::{MAX_VALUE_BYTES, RenderContext, RenderError};
use super::modifiers::Modifier;
use super::php;
use super::value::{VALUE_TOO_LARGE, Value};

/// The longest text a value-position keyword may emit as a bare JSON number.
const MAX_NUMBER_CHARS: usize = 40;

const TEXT_IN_VALUE_POSITION: &str =
    "produced text in a value position; wrap it in quotes or add ^json_encode";

const NUMBER_OUT_OF_RANGE: &str =
    "produced a number too large for JSON readers (beyond about 1.8e308); add ^json_encode";

/// A compiled keyword: where its value comes from and how it is transformed.
#[derive(Debug, Clone)]
pub(super) struct Keyword {
    /// The keyword's name as written, without modifiers, for render errors.
    pub(super) name: Box<str>,
    /// Where the value comes from.
    pub(super) source: Source,
    /// The modifiers to apply, left to right; a final `json_encode` is not among them.
    pub(super) modifiers: Box<[Modifier]>,
    /// Whether the keyword ends in `^json_encode`, so a value position writes a JSON string.
    pub(super) json_encode: bool,
    /// 1-based line of the keyword's opening `%`.
    pub(super) line: usize,
    /// 1-based column of the keyword's opening `%`, counted in chars.
    pub(super) column: usize,
}

/// Where a keyword's value comes from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// `globals_user_attribute_username`: the login name, even if an attribute has that name.
    Username,
    /// `globals_user_attribute_<name>`: that attribute, or empty text when the user has none.
    Attribute(Box<str>),
    /// `globals_user_assetid`: the user's id.
    UserId,
    /// `globals_user_name`: first and last name, or the username when both are blank.
    FullName,
    /// `globals_user_groups`: the user's groups, as a list.
    Groups,
    /// `asset_assetid`: the asset's id.
    AssetId,
    /// `asset_name`: the asset's name.
    AssetName,
    /// `asset_web_path`: the asset's web path.
    AssetWebPath,
    /// `asset_has_write_access`: `1` or `0`.
    HasWriteAccess,
    /// `globals_date_timestamp`: the request time in seconds since the Unix epoch (this
    /// server's name; the CMS's is `globals_date_U`).
    Timestamp,
    /// `globals_date_iso8601`: the request time in UTC, RFC 3339, whole seconds (this server's
    /// name; `globals_date_c` is the CMS's, with `+00:00` for `Z`).
    Iso8601,
    /// `globals_date_<format>`: the request time (UTC) in this PHP date format; `globals_date`
    /// and `globals_date_readable` are `jS M Y g:ia`.
    Date(Box<str>),
    /// `globals_get_<name>`: the query parameter `<name>`, which the asset must declare with a
    /// pattern (checked when the asset is saved, and on every request before rendering).
    RequestParam(Box<str>),
}

/// The keyword prefix of request (query) parameters, the CMS's name for them.
pub const REQUEST_PARAM_PREFIX: &str = "globals_get_";

/// The keyword prefix of the request time in a PHP date format.
const DATE_PREFIX: &str = "globals_date_";

/// `globals_date` and `globals_date_readable`: the CMS's readable date, `6th Feb 2009 5:00pm`.
const READABLE_DATE: &str = "jS M Y g:ia";

/// The prefixes of a user attribute: this server's and the CMS's name for user metadata.
const ATTRIBUTE_PREFIXES: [&str; 2] = ["globals_user_attribute_", "globals_user_metadata_"];

/// Whether `name` can name a user attribute: `a-z 0-9 _` (users' attributes have at most 64
/// of them; a longer name is accepted and reads as empty text, as an attribute a user lacks).
fn is_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Why `name` is not a keyword: a CMS keyword family this server leaves out, a name in the
/// wrong letter case, or an unknown name.
fn unknown_keyword(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if let Some(field) = ATTRIBUTE_PREFIXES
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
    {
        let suggestion: String = field
            .chars()
            .map(|ch| match ch.to_ascii_lowercase() {
                ch @ ('a'..='z' | '0'..='9' | '_') => ch,
                _ => '_',
            })
            .collect();
        return format!(
            "unknown keyword \"{name}\": user attribute names here are a-z, 0-9 and _ \
             (the CMS's field \"{field}\" would be the attribute \"{suggestion}\")"
        );
    }
    if !name.starts_with(DATE_PREFIX) && Source::known(&lower).is_some() {
        return format!(
            "unknown keyword \"{name}\": keyword names are case-sensitive; write \"{lower}\""
        );
    }
    if name == REQUEST_PARAM_PREFIX {
        return format!("unknown keyword \"{name}\": write the query parameter's name after it");
    }
    let why = if name.starts_with("globals_date_relative_") {
        "relative dates are not supported; a token's times come from the request time and the \
         asset's expiry"
    } else if name.starts_with("globals_asset_") && name.contains(':') {
        "a template reads only the asset being fetched, not other assets by id"
    } else if name.starts_with("globals_asset_") || name.starts_with("asset_") {
        "the asset keywords here are asset_assetid, asset_name, asset_web_path and \
         asset_has_write_access (also as globals_asset_…)"
    } else if name.starts_with("globals_user_") {
        "the user keywords here are globals_user_assetid, globals_user_name, \
         globals_user_groups, globals_user_attribute_<name> and globals_user_metadata_<name>"
    } else if [
        "globals_get",
        "globals_post",
        "globals_session",
        "globals_cookie",
        "globals_server",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
    {
        "a value from the request reaches a claim only through a query parameter the asset \
         declares, as globals_get_<name>"
    } else if name.starts_with("globals_") {
        "this CMS keyword family is not supported here (the README's compatibility table says \
         which are)"
    } else {
        return format!(
            "unknown keyword \"{name}\" (to write it as text, write its first % as \\u0025)"
        );
    };
    format!("the CMS keyword \"{name}\" is not supported here: {why}")
}

impl Source {
    /// The source named by a keyword name, or why there is none (for the administrator).
    pub(super) fn resolve(name: &str) -> Result<Source, String> {
        Source::known(name).ok_or_else(|| unknown_keyword(name))
    }

    fn known(name: &str) -> Option<Source> {
        let source = match name {
            "globals_user_attribute_username" | "globals_user_metadata_username" => {
                Source::Username
            }
            "globals_user_assetid" => Source::UserId,
            "globals_user_name" => Source::FullName,
            "globals_user_groups" => Source::Groups,
            "asset_assetid" | "globals_asset_assetid" => Source::AssetId,
            "asset_name" | "globals_asset_name" => Source::AssetName,
            "asset_web_path" | "globals_asset_web_path" => Source::AssetWebPath,
            "asset_has_write_access" | "globals_asset_has_write_access" => Source::HasWriteAccess,
            "globals_date_timestamp" => Source::Timestamp,
            "globals_date_iso8601" => Source::Iso8601,
            "globals_date" | "globals_date_readable" => Source::Date(READABLE_DATE.into()),
            _ => {
                if let Some(param) = name.strip_prefix(REQUEST_PARAM_PREFIX) {
                    return (!param.is_empty()).then(|| Source::RequestParam(param.into()));
                }
                if let Some(format) = name.strip_prefix(DATE_PREFIX) {
                    return (!format.is_empty() && !format.starts_with("relative_"))
                        .then(|| Source::Date(format.into()));
                }
                let attribute = ATTRIBUTE_PREFIXES
                    .iter()
                    .find_map(|prefix| name.strip_prefix(prefix))?;
                if !is_attribute_name(attribute) {
                    return None;
                }
                Source::Attribute(attribute.into())
            }
        };
        Some(source)
    }

    fn value<'v>(&'v self, ctx: &'v RenderContext<'v>) -> Value<'v> {
        let text = match self {
            Source::Username => Cow::Borrowed(ctx.user.username),
            Source::Attribute(name) => Cow::Borrowed(attribute(ctx, name)),
            Source::UserId => Cow::Borrowed(ctx.user.id),
            Source::FullName => full_name(ctx),
            Source::Groups => return Value::Groups(ctx.user.groups),
            Source::AssetId => Cow::Borrowed(ctx.asset.id),
            Source::AssetName => Cow::Borrowed(ctx.asset.name),
            Source::AssetWebPath => Cow::Borrowed(ctx.asset.web_path),
            Source::HasWriteAccess => {
                Cow::Borrowed(if ctx.asset.has_write_access { "1" } else { "0" })
            }
            Source::Timestamp => Cow::Owned(ctx.now.timestamp().to_string()),
            Source::Iso8601 => Cow::Owned(ctx.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Source::Date(format) => Cow::Owned(php::format_date(ctx.now.fixed_offset(), format)),
            Source::RequestParam(name) => Cow::Borrowed(
                ctx.params
                    .iter()
                    .find(|(n, _)| **n == **name)
                    .map_or("", |(_, v)| v.as_str()),
            ),
        };
        Value::Text(text)
    }
}

fn attribute<'v>(ctx: &RenderContext<'v>, name: &str) -> &'v str {
    ctx.user.attributes.get(name).map_or("", String::as_str)
}

fn full_name<'v>(ctx: &RenderContext<'v>) -> Cow<'v, str> {
    let first = attribute(ctx, "first_name");
    let last = attribute(ctx, "last_name");
    // `first + " " + last` trimmed equals the trimmed other half when one half is empty.
    let name = if last.is_empty() {
        Cow::Borrowed(first.trim())
    } else if first.is_empty() {
        Cow::Borrowed(last.trim())
    } else {
        let joined = format!("{first} {last}");
        match joined.trim() {
            trimmed if trimmed.len() == joined.len() => Cow::Owned(joined),
            trimmed => Cow::Owned(trimmed.to_owned()),
        }
    };
    if name.is_empty() {
        Cow::Borrowed(ctx.user.username)
    } else {
        name
    }
}

impl Keyword {
    fn eval<'v>(&'v self, ctx: &'v RenderContext<'v>) -> Result<Value<'v>, RenderError> {
        let mut value = self.source.value(ctx);
        for modifier in &*self.modifiers {
            value = modifier
                .apply(value)
                .map_err(|message| self.error(message))?;
            if value.text_len() > MAX_VALUE_BYTES {
                return Err(self.error(VALUE_TOO_LARGE));
            }
        }
        Ok(value)
    }

    fn error(&self, message: &str) -> RenderError {
        RenderError {
            line: self.line,
            column: self.column,
            keyword: self.name.to_string(),
            message: message.to_owned(),
        }
    }

    /// Write the value as JSON string content (the surrounding quotes are template literals).
    pub(super) fn write_in_string(
        &self,
        ctx: &RenderContext<'_>,
        out: &mut String,
    ) -> Result<(), RenderError> {
        let value = self.eval(ctx)?;
        match value.items() {
            None => push_escaped(out, &value.into_text()),
            Some(items) => {
                for (index, item) in items.enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    push_escaped(out, item);
                }
            }
        }
        Ok(())
    }

    /// Write the value as one whole JSON value, refusing text that is not a scalar.
    pub(super) fn write_value(
        &self,
        ctx: &RenderContext<'_>,
        out: &mut String,
    ) -> Result<(), RenderError> {
        let value = self.eval(ctx)?;
        if let Value::Json(json) = &value {
            // serde_json writes one valid JSON value, with unique member names.
            out.push_str(&json.to_string());
            return Ok(());
        }
        if let Some(items) = value.items() {
            out.push('[');
            for (index, item) in items.enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push('"');
                push_escaped(out, item);
                out.push('"');
            }
            out.push(']');
            return Ok(());
        }
        let text = value.into_text();
        if self.json_encode {
            out.push('"');
            push_escaped(out, &text);
            out.push('"');
        } else if is_json_scalar(&text) {
            out.push_str(&text);
        } else if text.len() <= MAX_NUMBER_CHARS && is_json_number(&text) {
            return Err(self.error(NUMBER_OUT_OF_RANGE));
        } else {
            return Err(self.error(TEXT_IN_VALUE_POSITION));
        }
        Ok(())
    }
}

/// Append `text` escaped as JSON string content (the same escapes serde_json writes).
pub(super) fn push_escaped(out: &mut String, text: &str) {
    let mut run = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `run` and `index` sit next to ASCII bytes, so both are char boundaries.
        out.push_str(&text[run..index]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        } else {
            out.push_str(escape);
        }
        run = index + 1;
    }
    out.push_str(&text[run..]);
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// Whether text may be emitted bare in a value position.
fn is_json_scalar(text: &str) -> bool {
    matches!(text, "true" | "false" | "null")
        || (text.len() <= MAX_NUMBER_CHARS && is_json_number(text) && fits_a_double(text))
}

/// Whether a JSON number's magnitude fits a double. JSON readers (serde_json, the debugger,
/// a preset's claim checks, most consumers) refuse a number that rounds to infinity, such as
/// `1e400`, so such a number would make a token that no one can read.
pub(super) fn fits_a_double(number: &str) -> bool {
    number.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Whether text is exactly one number in the strict RFC 8259 grammar.
pub(super) fn is_json_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    let digits_from = |mut at: usize| {
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        at
    };
    if bytes.first() == Some(&b'-') {
        at += 1;
    }
    match bytes.get(at) {
        Some(b'0') => at += 1,
        Some(b'1'..=b'9') => at = digits_from(at + 1),
        _ => return false,
    }
    if bytes.get(at) == Some(&b'.') {
        let end = digits_from(at + 1);
        if end == at + 1 {
            return false;
        }
        at = end;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let end = digits_from(at);
        if end == at {
            return false;
        }
        at = end;
    }
    at == bytes.len()
}
