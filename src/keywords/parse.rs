//! Compiles template source into members of literal runs and keywords, with located errors.

use std::collections::HashSet;

use super::ast::{Member, Part};
use super::context::{CompileError, MAX_DEPTH, MAX_KEYWORDS, MAX_TEMPLATE_BYTES};
use super::modifiers::{Arg, Modifier};
use super::render::{Keyword, Source, fits_a_double, is_json_number};

const UNTERMINATED_KEYWORD_LINE: &str =
    "unterminated keyword: no closing '%' before the end of the line";
const UNTERMINATED_KEYWORD_STRING: &str =
    "unterminated keyword: no closing '%' before the end of the string";
const KEYWORD_IN_NAME: &str = "keywords are not allowed in claim names \
     (write a literal '%' at the start of a keyword-like name as \\u0025)";
const CONTROL_IN_STRING: &str =
    "control character in a string; write it as an escape such as \\n, \\t or \\u0001";
const INVALID_ESCAPE: &str =
    "invalid escape; use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\u followed by 4 hex digits";

const LOOKS_LIKE_A_KEYWORD: &str = "this looks like a keyword (globals_… or asset_…) but is \
     not one: a keyword name is letters, digits and _ . : - up to a closing '%' or a '^' (a date \
     format with other characters: ^date_format on %globals_date_c%); to write it as text, write \
     its '%' as \\u0025";

/// Whether a `%` at `at` that starts no keyword is followed by a keyword prefix (`globals_`,
/// `asset_`, in any letter case): text that a reader would take for a keyword is refused rather
/// than copied.
pub(super) fn looks_like_keyword(bytes: &[u8], at: usize) -> bool {
    let rest = bytes.get(at + 1..).unwrap_or_default();
    [&b"globals_"[..], b"asset_"].iter().any(|prefix| {
        rest.len() >= prefix.len() && rest[..prefix.len()].eq_ignore_ascii_case(prefix)
    })
}

/// The compiled members of a template.
pub(super) struct Compiled {
    /// The top-level members, in template order.
    pub(super) members: Vec<Member>,
    /// Total bytes of literal text in all members, to size the output up front.
    pub(super) literal_len: usize,
}

/// Compile a whole template.
pub(super) fn compile(source: &str) -> Result<Compiled, CompileError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        let mut at = MAX_TEMPLATE_BYTES;
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        return Err(error_at(
            source,
            at,
            format!("the template is larger than the limit of {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    let mut parser = Parser {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        pending: String::new(),
        parts: Vec::new(),
        members: Vec::new(),
        literal_len: 0,
        keywords: 0,
        locator: Locator::default(),
    };
    parser.template()?;
    Ok(Compiled {
        members: parser.members,
        literal_len: parser.literal_len,
    })
}

fn error_at(source: &str, at: usize, message: impl Into<String>) -> CompileError {
    let (line, column) = Locator::default().locate(source, at);
    CompileError {
        line,
        column,
        message: message.into(),
    }
}

/// If `at` starts a keyword (`%`, a name, then `%` or `^`), the offset of that terminator.
/// A name is an ASCII letter followed by letters, digits and `_ . : -` (the CMS's name
/// characters, which PHP date formats such as `globals_date_Y-m-d` need).
pub(super) fn keyword_name_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'%') || !bytes.get(at + 1)?.is_ascii_alphabetic() {
        return None;
    }
    let mut end = at + 2;
    while bytes
        .get(end)
        .is_some_and(|&byte| byte.is_ascii_alphanumeric() || b"_.:-".contains(&byte))
    {
        end += 1;
    }
    matches!(bytes.get(end), Some(b'%' | b'^')).then_some(end)
}

/// Turns byte offsets into 1-based line and char column, resuming from the last answer so that
/// locating keywords in source order stays linear.
#[derive(Debug)]
pub(super) struct Locator {
    offset: usize,
    line: usize,
    column: usize,
}

impl Default for Locator {
    fn default() -> Self {
        Locator {
            offset: 0,
            line: 1,
            column: 1,
        }
    }
}

impl Locator {
    pub(super) fn locate(&mut self, source: &str, at: usize) -> (usize, usize) {
        if at < self.offset {
            *self = Locator::default();
        }
        let passed = source.get(self.offset..at).unwrap_or_default();
        for ch in passed.chars() {
            if ch == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.offset += passed.len();
        (self.line, self.column)
    }
}

struct Parser<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    /// Literal output not yet stored as a part, so adjacent literals merge.
    pending: String,
    /// Parts of the top-level member being compiled.
    parts: Vec<Part>,
    members: Vec<Member>,
    literal_len: usize,
    keywords: usize,
    locator: Locator,
}

impl<'s> Parser<'s> {
    fn fail(&self, at: usize, message: impl Into<String>) -> CompileError {
        error_at(self.src, at, message)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn slice(&self, from: usize, to: usize) -> &'s str {
        self.src.get(from..to).unwrap_or_default()
    }

    /// The character at `at`, quoted for an error message.
    fn describe(&self, at: usize) -> String {
        match self.src.get(at..).and_then(|rest| rest.chars().next()) {
            Some(ch) => format!("{ch:?}"),
            None => "the end of the template".to_owned(),
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn emit(&mut self, text: &str) {
        self.pending.push_str(text);
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.literal_len += self.pending.len();
            let text = std::mem::take(&mut self.pending);
            self.parts.push(Part::Literal(text.into_boxed_str()));
        }
    }

    fn push_keyword(&mut self, part: Part) {
        self.flush();
        self.parts.push(part);
    }

    fn template(&mut self) -> Result<(), CompileError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => {}
            None => {
                return Err(self.fail(self.pos, "the template is empty; it must be a JSON object"));
            }
            Some(_) => {
                return Err(self.fail(
                    self.pos,
                    format!(
                        "the template must be a JSON object starting with '{{', found {}",
                        self.describe(self.pos)
                    ),
                ));
            }
        }
        self.object(1)?;
        self.skip_whitespace();
        if self.pos < self.bytes.len() {
            return Err(self.fail(
                self.pos,
                format!(
                    "unexpected {} after the end of the top-level object",
                    self.describe(self.pos)
                ),
            ));
        }
        Ok(())
    }

    /// An object starting at `{`. At depth 1 (the top level) each member becomes a `Member`
    /// and the braces and commas are left to the renderer.
    fn object(&mut self, depth: usize) -> Result<(), CompileError> {
        let open = self.pos;
        if depth > MAX_DEPTH {
            return Err(self.fail(
                open,
                format!("objects and arrays are nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let top = depth == 1;
        self.pos += 1;
        if !top {
            self.emit("{");
        }
        let mut names = HashSet::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            if !top {
                self.emit("}");
            }
            return Ok(());
        }
        loop {
            let name = self.member_name(&names)?;
            self.name_separator()?;
            self.value(depth)?;
            if top {
                self.push_member(&name);
            }
            names.insert(name);
            if self.member_end(top)? {
                return Ok(());
            }
        }
    }

    /// The name that starts the next member, decoded; refused when `names` already holds it.
    fn member_name(&mut self, names: &HashSet<String>) -> Result<String, CompileError> {
        self.skip_whitespace();
        let name_at = self.pos;
        match self.peek() {
            Some(b'"') => {}
            Some(b'}') => {
                return Err(self.fail(name_at, "trailing comma: expected a name after ','"));
            }
            Some(b'%') if self.keyword_name_end(name_at).is_some() => {
                return Err(self.fail(name_at, KEYWORD_IN_NAME));
            }
            None => {
                return Err(self.fail(
                    name_at,
                    "unexpected end of the template; expected a name in double quotes",
                ));
            }
            Some(_) => {
                return Err(self.fail(
                    name_at,
                    format!(
                        "expected a name in double quotes, found {}",
                        self.describe(name_at)
                    ),
                ));
            }
        }
        let name = self.name()?;
        if names.contains(&name) {
            return Err(self.fail(
                name_at,
                format!(
                    "duplicate name \"{}\" in the same object",
                    name.escape_debug()
                ),
            ));
        }
        Ok(name)
    }

    /// The `:` between a member's name and its value.
    fn name_separator(&mut self) -> Result<(), CompileError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                self.emit(":");
                Ok(())
            }
            _ => Err(self.fail(
                self.pos,
                format!(
                    "expected ':' after the name, found {}",
                    self.describe(self.pos)
                ),
            )),
        }
    }

    /// Store the top-level member just compiled, with the parts gathered since the last one.
    fn push_member(&mut self, name: &str) {
        self.flush();
        self.members.push(Member {
            name: name.into(),
            parts: std::mem::take(&mut self.parts).into_boxed_slice(),
        });
    }

    /// The `,` or `}` after a member; true when it was the `}` that closes the object.
    fn member_end(&mut self, top: bool) -> Result<bool, CompileError> {
        self.skip_whitespace();
        let closed = match self.peek() {
            Some(b',') => false,
            Some(b'}') => true,
            _ => {
                return Err(self.fail(
                    self.pos,
                    format!(
                        "expected ',' or '}}' after a member, found {}",
                        self.describe(self.pos)
                    ),
                ));
            }
        };
        self.pos += 1;
        if !top {
            self.emit(if closed { "}" } else { "," });
        }
        Ok(closed)
    }

    fn array(&mut self, depth: usize) -> Result<(), CompileError> {
        if depth > MAX_DEPTH {
            return Err(self.fail(
                self.pos,
                format!("objects and arrays are nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.pos += 1;
        self.emit("[");
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.emit("]");
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.emit(",");
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        return Err(
                            self.fail(self.pos, "trailing comma: expected a value after ','")
                        );
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    self.emit("]");
                    return Ok(());
                }
                _ => {
                    return Err(self.fail(
                        self.pos,
                        format!(
                            "expected ',' or ']' after an array element, found {}",
                            self.describe(self.pos)
                        ),
                    ));
                }
            }
        }
    }

    /// A value inside a container at `depth`.
    fn value(&mut self, depth: usize) -> Result<(), CompileError> {
        self.skip_whitespace();
        let at = self.pos;
        let rest = self.bytes.get(at..).unwrap_or_default();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string_value(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'%') if self.keyword_name_end(at).is_some() => {
                let keyword = self.keyword(at, false)?;
                self.push_keyword(Part::Value(keyword));
                Ok(())
            }
            Some(b'%') => Err(self.fail(
                at,
                "a '%' outside quotes must start a keyword such as %asset_name%",
            )),
            _ => {
                for literal in ["true", "false", "null"] {
                    if rest.starts_with(literal.as_bytes()) {
                        self.pos += literal.len();
                        self.emit(literal);
                        return Ok(());
                    }
                }
                Err(self.fail(at, format!("expected a value, found {}", self.describe(at))))
            }
        }
    }

    fn number(&mut self) -> Result<(), CompileError> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.pos += 1;
        }
        let text = self.slice(start, self.pos);
        if !is_json_number(text) {
            return Err(self.fail(start, format!("invalid number {text:?}")));
        }
        if !fits_a_double(text) {
            return Err(self.fail(
                start,
                "number too large for JSON readers (beyond about 1.8e308)",
            ));
        }
        self.emit(text);
        Ok(())
    }

    /// An object member name: copied verbatim, returned decoded.
    fn name(&mut self) -> Result<String, CompileError> {
        let open = self.pos;
        self.pos += 1;
        let mut decoded = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.fail(open, "unterminated string: no closing '\"'")),
                Some(b'"') => {
                    decoded.push_str(self.slice(run, self.pos));
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    decoded.push_str(self.slice(run, self.pos));
                    decoded.push(self.escape()?);
                    run = self.pos;
                }
                Some(byte) if byte < 0x20 => return Err(self.fail(self.pos, CONTROL_IN_STRING)),
                Some(b'%') if self.keyword_name_end(self.pos).is_some() => {
                    return Err(self.fail(self.pos, KEYWORD_IN_NAME));
                }
                Some(b'%') if looks_like_keyword(self.bytes, self.pos) => {
                    return Err(self.fail(self.pos, LOOKS_LIKE_A_KEYWORD));
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.slice(open, self.pos);
        self.emit(raw);
        Ok(decoded)
    }

    /// A string in a value position: literal runs copied verbatim, keywords compiled.
    fn string_value(&mut self) -> Result<(), CompileError> {
        let open = self.pos;
        self.pos += 1;
        self.emit("\"");
        let mut run = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.fail(open, "unterminated string: no closing '\"'")),
                Some(b'"') => {
                    let literal = self.slice(run, self.pos);
                    self.emit(literal);
                    self.emit("\"");
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.escape()?;
                }
                Some(byte) if byte < 0x20 => return Err(self.fail(self.pos, CONTROL_IN_STRING)),
                Some(b'%') if self.keyword_name_end(self.pos).is_some() => {
                    let literal = self.slice(run, self.pos);
                    self.emit(literal);
                    let keyword = self.keyword(self.pos, true)?;
                    self.push_keyword(Part::InString(keyword));
                    run = self.pos;
                }
                Some(b'%') if looks_like_keyword(self.bytes, self.pos) => {
                    return Err(self.fail(self.pos, LOOKS_LIKE_A_KEYWORD));
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// A JSON escape at `\`: checked, consumed and decoded.
    fn escape(&mut self) -> Result<char, CompileError> {
        let at = self.pos;
        let simple = match self.bytes.get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            _ => return Err(self.fail(at, INVALID_ESCAPE)),
        };
        self.pos += 2;
        Ok(simple)
    }

    fn unicode_escape(&mut self) -> Result<char, CompileError> {
        let at = self.pos;
        let Some(unit) = self.hex4(at + 2) else {
            return Err(self.fail(at, "invalid \\u escape: expected 4 hex digits"));
        };
        self.pos += 6;
        let code = match unit {
            0xD800..=0xDBFF => {
                let low = match (self.bytes.get(self.pos), self.bytes.get(self.pos + 1)) {
                    (Some(b'\\'), Some(b'u')) => self.hex4(self.pos + 2),
                    _ => None,
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        self.pos += 6;
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => {
                        return Err(self.fail(
                            at,
                            "invalid \\u escape: a high surrogate must be followed by a \\u low surrogate",
                        ));
                    }
                }
            }
            0xDC00..=0xDFFF => {
                return Err(self.fail(
                    at,
                    "invalid \\u escape: a low surrogate without a high surrogate before it",
                ));
            }
            unit => unit,
        };
        char::from_u32(code).ok_or_else(|| self.fail(at, "invalid \\u escape"))
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        digits.iter().try_fold(0, |code, &digit| {
            Some(code * 16 + char::from(digit).to_digit(16)?)
        })
    }

    /// If `at` starts a keyword, the offset of its name's terminator (see [`keyword_name_end`]).
    fn keyword_name_end(&self, at: usize) -> Option<usize> {
        keyword_name_end(self.bytes, at)
    }

    /// A keyword starting at `start`; afterwards `pos` is just past its closing `%`.
    fn keyword(&mut self, start: usize, in_string: bool) -> Result<Keyword, CompileError> {
        self.keywords += 1;
        if self.keywords > MAX_KEYWORDS {
            return Err(self.fail(
                start,
                format!("the template has more than {MAX_KEYWORDS} keywords"),
            ));
        }
        let Some(name_end) = self.keyword_name_end(start) else {
            return Err(self.fail(start, "expected a keyword"));
        };
        let name = self.slice(start + 1, name_end);
        self.pos = name_end;
        let mut raw_modifiers = Vec::new();
        if self.peek() == Some(b'%') {
            self.pos += 1;
        } else {
            loop {
                self.pos += 1;
                let (raw, last) = self.modifier_fields(start, in_string)?;
                raw_modifiers.push(raw);
                if last {
                    break;
                }
            }
        }
        let source = Source::resolve(name).map_err(|message| self.fail(start, message))?;
        let count = raw_modifiers.len();
        let mut modifiers = Vec::with_capacity(count);
        let mut json_encode = false;
        for (index, raw) in raw_modifiers.into_iter().enumerate() {
            let RawModifier {
                name: modifier_name,
                args,
            } = raw;
            let modifier = Modifier::compile(&modifier_name.text, modifier_name.at, args)
                .map_err(|(at, message)| self.fail(at, message))?;
            if matches!(modifier, Modifier::JsonEncode) {
                if index + 1 != count {
                    return Err(
                        self.fail(modifier_name.at, "json_encode must be the last modifier")
                    );
                }
                json_encode = true;
            } else {
                modifiers.push(modifier);
            }
        }
        let (line, column) = self.locator.locate(self.src, start);
        Ok(Keyword {
            name: name.into(),
            source,
            modifiers: modifiers.into_boxed_slice(),
            json_encode,
            line,
            column,
        })
    }

    /// The `:`-separated fields of one modifier, unescaped; `pos` starts just past its `^`.
    /// Also says whether the keyword's closing `%` ended them.
    fn modifier_fields(
        &mut self,
        start: usize,
        in_string: bool,
    ) -> Result<(RawModifier, bool), CompileError> {
        let mut raw = RawModifier {
            name: Arg {
                text: String::new(),
                at: self.pos,
            },
            args: Vec::new(),
        };
        loop {
            let at = self.pos;
            let byte = match self.peek() {
                None | Some(b'\n' | b'\r') => {
                    return Err(self.fail(start, UNTERMINATED_KEYWORD_LINE));
                }
                Some(b'"') if in_string => {
                    return Err(self.fail(start, UNTERMINATED_KEYWORD_STRING));
                }
                Some(byte) if byte < 0x20 => {
                    return Err(self.fail(at, "control character in a keyword"));
                }
                Some(byte) => byte,
            };
            match byte {
                b'%' => {
                    self.pos += 1;
                    return Ok((raw, true));
                }
                b'^' => return Ok((raw, false)),
                b':' => {
                    self.pos += 1;
                    raw.args.push(Arg {
                        text: String::new(),
                        at: self.pos,
                    });
                    continue;
                }
                _ => {}
            }
            // `\^ \: \% \"` stand for the character; any other backslash, `\\` included, is
            // kept, so the CMS's `replace:\\^:caret` is the pattern `\^`.
            let ch = match (byte, self.bytes.get(at + 1)) {
                (b'\\', Some(&escaped @ (b':' | b'^' | b'%' | b'"'))) => {
                    self.pos += 2;
                    char::from(escaped)
                }
                _ => match self.src.get(at..).and_then(|rest| rest.chars().next()) {
                    Some(ch) => {
                        self.pos += ch.len_utf8();
                        ch
                    }
                    None => return Err(self.fail(start, UNTERMINATED_KEYWORD_LINE)),
                },
            };
            raw.args.last_mut().unwrap_or(&mut raw.name).text.push(ch);
        }
    }
}

/// One modifier as written: its name and arguments, unescaped, with their offsets.
struct RawModifier {
    name: Arg,
    args: Vec<Arg>,
}
