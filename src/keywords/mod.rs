//! The payload template language: compiles JSON-with-keywords once, renders it per token request.

mod modifiers;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use self::render::Keyword;

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

/// A compiled payload template: the source text plus a form that renders without re-parsing.
///
/// A template is JSON text whose strings and values may hold keywords such as
/// `%globals_user_attribute_email^lowercase%`. Everything that can be checked is checked by
/// [`PayloadTemplate::compile`]; rendering only copies literal runs and evaluates keywords.
///
/// Injection is impossible by construction: a keyword inside a JSON string is always escaped as
/// string content, and a keyword in a value position must produce `true`, `false`, `null`, a JSON
/// number, a list (written as an array of strings) or, with `json_encode`, a JSON string.
///
/// Keywords are found in the raw template text, so a string that must contain keyword-like text
/// such as `%asset_name%` literally writes its first percent as the JSON escape `\u0025`:
/// `"\u0025asset_name%"` renders the text `%asset_name%`.
#[derive(Debug, Clone)]
pub struct PayloadTemplate {
    source: String,
    members: Vec<Member>,
    literal_len: usize,
}

/// One top-level claim: its decoded name and the pieces that render `"name":value`.
#[derive(Debug, Clone)]
struct Member {
    name: Box<str>,
    parts: Box<[Part]>,
}

/// A piece of a rendered member, in output order.
#[derive(Debug, Clone)]
enum Part {
    /// Compact JSON text copied verbatim.
    Literal(Box<str>),
    /// A keyword inside a string literal: its value is escaped as string content.
    InString(Keyword),
    /// A keyword standing for a whole value.
    Value(Keyword),
}

impl PayloadTemplate {
    /// Compile template source text. Errors carry 1-based line and column (column counted in chars).
    pub fn compile(source: &str) -> Result<PayloadTemplate, CompileError> {
        let compiled = parse::compile(source)?;
        Ok(PayloadTemplate {
            source: source.to_owned(),
            members: compiled.members,
            literal_len: compiled.literal_len,
        })
    }

    /// The template source text exactly as it was compiled.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Decoded names of the top-level claims, in template order.
    pub fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|member| &*member.name)
    }

    /// Append the rendered top-level members, as compact JSON `"name":value` pairs separated by
    /// commas (no surrounding braces, no leading/trailing comma), skipping every top-level claim
    /// whose decoded name is in `skip`. Returns how many members were written.
    ///
    /// Keywords of skipped claims are not evaluated, so they cannot fail. On error `out` is left
    /// exactly as it was passed in.
    pub fn render_members(
        &self,
        ctx: &RenderContext<'_>,
        skip: &[&str],
        out: &mut String,
    ) -> Result<usize, RenderError> {
        let start_len = out.len();
        out.reserve(self.literal_len + 16 * self.members.len());
        let mut written = 0;
        for member in &self.members {
            if skip.contains(&&*member.name) {
                continue;
            }
            if written > 0 {
                out.push(',');
            }
            for part in &*member.parts {
                let result = match part {
                    Part::Literal(text) => {
                        out.push_str(text);
                        Ok(())
                    }
                    Part::InString(keyword) => keyword.write_in_string(ctx, out),
                    Part::Value(keyword) => keyword.write_value(ctx, out),
                };
                if let Err(error) = result {
                    out.truncate(start_len);
                    return Err(error);
                }
            }
            written += 1;
        }
        Ok(written)
    }

    /// The whole rendered object as compact JSON text `{...}` (convenience over render_members).
    pub fn render(&self, ctx: &RenderContext<'_>) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.literal_len + 16 * self.members.len() + 2);
        out.push('{');
        self.render_members(ctx, &[], &mut out)?;
        out.push('}');
        Ok(out)
    }
}

/// What a template can know about the request. All borrowed; built per request by the caller.
#[derive(Clone, Copy)]
pub struct RenderContext<'a> {
    /// The user the token is for.
    pub user: UserFacts<'a>,
    /// The JWT asset being fetched.
    pub asset: AssetFacts<'a>,
    /// The request time, used by the date keywords.
    pub now: DateTime<Utc>,
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
