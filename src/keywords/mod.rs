//! The payload template language: compiles JSON-with-keywords once, renders it per token request.

mod ast;
mod context;
mod modifiers;
mod number;
mod parse;
mod php;
mod render;
#[cfg(test)]
mod tests;
mod transform;
mod upgrade;
mod value;

use self::ast::{Member, Part};
pub use self::context::{
    AssetFacts, CompileError, MAX_DEPTH, MAX_KEYWORDS, MAX_TEMPLATE_BYTES, MAX_VALUE_BYTES,
    RenderContext, RenderError, UserFacts,
};
pub use self::render::REQUEST_PARAM_PREFIX;
pub use self::upgrade::{Upgraded, upgrade_v1_template};

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

    /// The request parameters the template reads (`globals_get_<name>`): each name with the
    /// 1-based line and column of its first keyword, in template order.
    pub fn request_params(&self) -> Vec<(&str, usize, usize)> {
        let mut found: Vec<(&str, usize, usize)> = Vec::new();
        for member in &self.members {
            for part in &member.parts {
                if let Part::InString(k) | Part::Value(k) = part
                    && let render::Source::RequestParam(name) = &k.source
                    && !found.iter().any(|(n, _, _)| *n == &**name)
                {
                    found.push((name, k.line, k.column));
                }
            }
        }
        found
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
