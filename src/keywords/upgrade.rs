//! Rewrites a template saved for the first version of the keyword language so that it renders
//! the same claims under the CMS-faithful second version (a data migration runs it once per
//! store). What changed, and how a stored template keeps its meaning:
//!
//! - `capitalize` capitalised every word; that is the CMS's `titleize` now.
//! - `urlencode` wrote a space as `%20` and kept `~`; that is `rawurlencode` now.
//! - `contains` tested a substring (a list: an item) and gave `1`; its needle is a regular
//!   expression now and it gives the match count: the needle is escaped and `:1` added.
//! - `replace` expanded `$1`, `${name}` and `$$` (the regex crate's syntax) and kept `\1` as
//!   text; it follows PHP now: groups are written `${1}`, `\` and `$` as text are escaped.
//! - Inside a keyword, `\\` stood for one backslash; it is two now (the CMS's `\\^` is a regex
//!   `\^`), and `\"` stands for `"`.
//! - A `%` followed by a name with upper-case letters or `. : -` was text; it starts a keyword
//!   now, so such a `%` in a string is written `\u0025` (the same character once decoded).

use super::modifiers::Arg;
use super::parse::{Locator, keyword_name_end, looks_like_keyword};

/// A template rewritten for the current keyword language, and what was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgraded {
    /// The rewritten template text.
    pub template: String,
    /// One line per change: where (line and column in the old text) and what.
    pub changes: Vec<String>,
}

/// Rewrite `source`, a template the first version of the language accepted. `Ok(None)` when it
/// means the same already; `Err` (with the reason) when it cannot be rewritten to mean the same:
/// the caller keeps it and tells the administrator.
pub fn upgrade_v1_template(source: &str) -> Result<Option<Upgraded>, String> {
    let mut scanner = Scanner {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        out: String::with_capacity(source.len() + 16),
        copied: 0,
        changes: Vec::new(),
        locator: Locator::default(),
    };
    scanner.run()?;
    if scanner.changes.is_empty() {
        return Ok(None);
    }
    scanner.out.push_str(&source[scanner.copied..]);
    Ok(Some(Upgraded {
        template: scanner.out,
        changes: scanner.changes,
    }))
}

struct Scanner<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    out: String,
    copied: usize,
    changes: Vec<String>,
    locator: Locator,
}

impl Scanner<'_> {
    fn run(&mut self) -> Result<(), String> {
        let mut in_string = false;
        while let Some(&byte) = self.bytes.get(self.pos) {
            match (byte, in_string) {
                (b'"', _) => {
                    in_string = !in_string;
                    self.pos += 1;
                }
                (b'\\', true) => self.pos += 2,
                (b'%', _) if v1_name_end(self.bytes, self.pos).is_some() => {
                    self.keyword(in_string)?;
                }
                (b'%', true)
                    if keyword_name_end(self.bytes, self.pos).is_some()
                        || looks_like_keyword(self.bytes, self.pos) =>
                {
                    self.replace(self.pos, self.pos + 1, "\\u0025");
                    let (line, column) = self.locate(self.pos);
                    self.changes.push(format!(
                        "line {line}, column {column}: a '%' that was text is written \\u0025 \
                         (a name after '%' now starts a keyword)"
                    ));
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        Ok(())
    }

    /// A keyword of the first version at `pos`; rewritten when its meaning would change.
    fn keyword(&mut self, in_string: bool) -> Result<(), String> {
        let start = self.pos;
        let (line, column) = self.locate(start);
        let where_ = format!("line {line}, column {column}");
        let name_end = v1_name_end(self.bytes, start).unwrap_or(start + 1);
        let name = &self.src[start + 1..name_end];
        self.pos = name_end;
        let mut modifiers: Vec<(Arg, Vec<Arg>)> = Vec::new();
        if self.bytes.get(self.pos) == Some(&b'%') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.pos += 1;
            let (fields, last) = self.v1_fields(in_string)?;
            modifiers.push(fields);
            if last {
                break;
            }
        }
        let end = self.pos;
        let mut notes = Vec::new();
        for (modifier, args) in &mut modifiers {
            match modifier.text.as_str() {
                "capitalize" => {
                    modifier.text = "titleize".into();
                    notes.push("capitalize is the CMS's titleize");
                }
                "urlencode" => {
                    modifier.text = "rawurlencode".into();
                    notes.push("urlencode (%20 for a space) is rawurlencode");
                }
                "contains" => {
                    if let Some(needle) = args.first_mut() {
                        let escaped = regex::escape(&needle.text);
                        if escaped != needle.text {
                            needle.text = escaped;
                            notes.push("the contains text is escaped as a regular expression");
                        }
                    }
                    if args.len() == 1 {
                        args.push(Arg {
                            text: "1".into(),
                            at: 0,
                        });
                        notes.push("contains gives 1, not the match count");
                    }
                }
                "replace" if args.len() == 2 => {
                    let rewritten = php_replacement(&args[0].text, &args[1].text);
                    if rewritten != args[1].text {
                        args[1].text = rewritten;
                        notes.push("the replacement is written in PHP's syntax");
                    }
                }
                _ => {}
            }
        }
        let mut text = format!("%{name}");
        for (modifier, args) in &modifiers {
            text.push('^');
            encode(&modifier.text, &mut text, &where_)?;
            for arg in args {
                text.push(':');
                encode(&arg.text, &mut text, &where_)?;
            }
        }
        text.push('%');
        if text != self.src[start..end] {
            if notes.is_empty() {
                notes.push("backslashes are written as the language reads them now");
            }
            self.replace(start, end, &text);
            self.changes
                .push(format!("{where_}: %{name}…%: {}", notes.join("; ")));
        }
        Ok(())
    }

    /// The `:`-separated fields of one modifier, decoded by the first version's escapes; `pos`
    /// starts just past its `^`. Also says whether the keyword's closing `%` ended them.
    fn v1_fields(&mut self, in_string: bool) -> Result<((Arg, Vec<Arg>), bool), String> {
        let mut name = Arg {
            text: String::new(),
            at: self.pos,
        };
        let mut args: Vec<Arg> = Vec::new();
        loop {
            let at = self.pos;
            let Some(&byte) = self.bytes.get(at) else {
                return Err("a keyword has no closing '%'".into());
            };
            match byte {
                b'\n' | b'\r' => return Err("a keyword has no closing '%'".into()),
                b'"' if in_string => return Err("a keyword has no closing '%'".into()),
                b'%' => {
                    self.pos += 1;
                    return Ok(((name, args), true));
                }
                b'^' => return Ok(((name, args), false)),
                b':' => {
                    self.pos += 1;
                    args.push(Arg {
                        text: String::new(),
                        at: self.pos,
                    });
                    continue;
                }
                _ => {}
            }
            let ch = match (byte, self.bytes.get(at + 1)) {
                (b'\\', Some(&escaped @ (b':' | b'^' | b'%' | b'\\'))) => {
                    self.pos += 2;
                    char::from(escaped)
                }
                _ => {
                    let ch = self.src[at..].chars().next().unwrap_or('\u{fffd}');
                    self.pos += ch.len_utf8();
                    ch
                }
            };
            args.last_mut().unwrap_or(&mut name).text.push(ch);
        }
    }

    fn replace(&mut self, start: usize, end: usize, with: &str) {
        self.out.push_str(&self.src[self.copied..start]);
        self.out.push_str(with);
        self.copied = end;
    }

    fn locate(&mut self, at: usize) -> (usize, usize) {
        self.locator.locate(self.src, at)
    }
}

/// The first version's keyword start: `%`, `[a-z][a-z0-9_]*`, then `%` or `^`.
fn v1_name_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'%') || !bytes.get(at + 1)?.is_ascii_lowercase() {
        return None;
    }
    let mut end = at + 2;
    while matches!(bytes.get(end), Some(b'a'..=b'z' | b'0'..=b'9' | b'_')) {
        end += 1;
    }
    matches!(bytes.get(end), Some(b'%' | b'^')).then_some(end)
}

/// Write decoded field `text` in the current escapes: `^ : % "` escaped with a backslash, a
/// backslash as itself. A backslash at the very end of a field cannot be written (it would
/// escape the separator after it).
fn encode(text: &str, out: &mut String, where_: &str) -> Result<(), String> {
    if text.ends_with('\\') {
        return Err(format!(
            "{where_}: a modifier argument ends with a backslash, which the keyword language \
             cannot write any more"
        ));
    }
    for ch in text.chars() {
        if matches!(ch, '^' | ':' | '%' | '"') {
            out.push('\\');
        }
        out.push(ch);
    }
    Ok(())
}

/// A `replace` replacement in the regex crate's syntax (`$1`, `${1}`, `$name`, `${name}`, `$$`)
/// rewritten in PHP's (`${1}`; `\\` and `\$` for text), with named groups as their numbers.
/// A group that does not exist expanded to nothing and is left out.
fn php_replacement(pattern: &str, replacement: &str) -> String {
    let names: Vec<Option<String>> = match regex::Regex::new(pattern) {
        Ok(regex) => regex
            .capture_names()
            .map(|n| n.map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    };
    let group = |reference: &str| -> Option<usize> {
        match reference.parse::<usize>() {
            Ok(index) => (index < names.len()).then_some(index),
            Err(_) => names
                .iter()
                .position(|name| name.as_deref() == Some(reference)),
        }
    };
    let mut out = String::with_capacity(replacement.len());
    let mut rest = replacement;
    while let Some(ch) = rest.chars().next() {
        if ch == '$' {
            let after = &rest[1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push_str("\\$");
                rest = tail;
                continue;
            }
            let (reference, tail) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(close) => (&braced[..close], &braced[close + 1..]),
                    None => ("", after),
                }
            } else {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..len], &after[len..])
            };
            if reference.is_empty() {
                out.push_str("\\$");
                rest = after;
                continue;
            }
            if let Some(index) = group(reference)
                && index <= 99
            {
                out.push_str(&format!("${{{index}}}"));
            }
            rest = tail;
            continue;
        }
        if ch == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::upgrade_v1_template;

    fn upgraded(source: &str) -> String {
        upgrade_v1_template(source)
            .unwrap_or_else(|e| panic!("{source}: {e}"))
            .map_or_else(|| source.to_owned(), |u| u.template)
    }

    #[test]
    fn a_template_that_means_the_same_is_left_alone() {
        let source = r#"{"sub": "%globals_user_attribute_username^lowercase%", "g": %globals_user_groups%, "sale": "50% off"}"#;
        assert_eq!(upgrade_v1_template(source), Ok(None));
    }

    #[test]
    fn changed_modifiers_are_rewritten_to_mean_the_same() {
        assert_eq!(
            upgraded(r#"{"t": "%asset_name^capitalize^urlencode%"}"#),
            r#"{"t": "%asset_name^titleize^rawurlencode%"}"#
        );
        assert_eq!(
            upgraded(r#"{"o": %globals_user_groups^contains:a.b%}"#),
            r#"{"o": %globals_user_groups^contains:a\.b:1%}"#
        );
        assert_eq!(
            upgraded(r#"{"o": %globals_user_groups^contains:ops:true:false%}"#),
            r#"{"o": %globals_user_groups^contains:ops:true:false%}"#
        );
    }

    #[test]
    fn replacements_are_written_in_php_syntax() {
        assert_eq!(
            upgraded(r#"{"u": "%asset_name^replace:(?P<w>\w+) (\w+):${2}_${w}\1 $$5 $2_%"}"#),
            r#"{"u": "%asset_name^replace:(?P<w>\w+) (\w+):${2}_${1}\\1 \$5 %"}"#
        );
    }

    #[test]
    fn percent_signs_that_would_start_a_keyword_are_escaped() {
        let u = upgrade_v1_template(r#"{"d": "%Y-%m-%d", "x": "%Foo% %asset_name%"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            u.template,
            r#"{"d": "\u0025Y-\u0025m-%d", "x": "\u0025Foo% %asset_name%"}"#
        );
        assert_eq!(u.changes.len(), 3, "{:?}", u.changes);
        assert!(
            u.changes[0].starts_with("line 1, column 8:"),
            "{:?}",
            u.changes
        );
    }

    #[test]
    fn double_backslashes_keep_their_old_meaning() {
        assert_eq!(
            upgraded(r#"{"a": "%asset_name^append:a\\b\:c%"}"#),
            r#"{"a": "%asset_name^append:a\b\:c%"}"#
        );
        assert!(upgrade_v1_template(r#"{"a": "%asset_name^append:a\\%"}"#).is_err());
    }
}
