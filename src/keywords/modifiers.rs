//! The keyword modifiers: arguments checked at compile time, value transforms at render time.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use regex::{Regex, RegexBuilder};

use super::context::MAX_VALUE_BYTES;
use super::value::{VALUE_TOO_LARGE, Value};

/// Largest compiled program a `replace` pattern may produce, in bytes.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Largest lazy-DFA cache a `replace` pattern may use, in bytes.
const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// Everything but the RFC 3986 unreserved characters `A-Za-z0-9-._~`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const NOT_A_NUMBER: &str = "the value is not a number, so it cannot be used in arithmetic";
const OUT_OF_RANGE: &str = "the arithmetic result is out of range";

/// One modifier argument after keyword unescaping, with the byte offset where it starts.
#[derive(Debug)]
pub(super) struct Arg {
    /// The text, with keyword escapes such as `\:` undone.
    pub(super) text: String,
    /// Byte offset in the template where the text starts, for errors.
    pub(super) at: usize,
}

/// A compile error inside a modifier: byte offset and message.
pub(super) type ModifierError = (usize, String);

/// A compiled modifier.
#[derive(Debug, Clone)]
pub(super) enum Modifier {
    /// `json_encode`: the value is written as a JSON string. The parser turns it into the
    /// keyword's `json_encode` flag, so it never transforms a value.
    JsonEncode,
    /// `eq` (and `neq`, with `negate`): `then` when the text equals `value`, else `otherwise`.
    Eq {
        value: Box<str>,
        then: Box<str>,
        otherwise: Box<str>,
        negate: bool,
    },
    /// `empty`: this fallback in place of empty text or an empty list.
    Empty(Box<str>),
    /// `contains`: `then` when a list has `needle` as an item or text has it as a substring,
    /// else `otherwise`.
    Contains {
        needle: Box<str>,
        then: Box<str>,
        otherwise: Box<str>,
    },
    /// `replace`: every match of `regex` replaced, with `$1`-style groups expanded.
    Replace { regex: Regex, replacement: Box<str> },
    /// `lowercase`: the text in lower case.
    Lowercase,
    /// `uppercase`: the text in upper case.
    Uppercase,
    /// `capitalize`: the first letter of each whitespace-separated word in upper case.
    Capitalize,
    /// `trim`: the text without leading and trailing whitespace.
    Trim,
    /// `maxchars`: the text cut to at most this many chars.
    MaxChars(usize),
    /// `append`: the text followed by this suffix.
    Append(Box<str>),
    /// `append_if`: this suffix after the text, unless the text is empty.
    AppendIf(Box<str>),
    /// `prepend_if`: this prefix before the text, unless the text is empty.
    PrependIf(Box<str>),
    /// `base64encode`: the text's UTF-8 bytes in standard, padded base64.
    Base64Encode,
    /// `urlencode`: the text percent-encoded, all but the RFC 3986 unreserved characters.
    UrlEncode,
    /// `explode`: the text split into a list at every occurrence of this separator.
    Explode(Box<str>),
    /// `index`: a list's item at this 0-based index; text counts as a list of one item.
    Index(usize),
    /// `count`: how many items a list has, or how many chars text has.
    Count,
    /// `add` (and `subtract`, whose operand is stored negated): exact decimal addition.
    Add(Decimal),
}

impl Modifier {
    /// Compile modifier `name` (which starts at byte `name_at`) with its arguments.
    pub(super) fn compile(
        name: &str,
        name_at: usize,
        args: Vec<Arg>,
    ) -> Result<Modifier, ModifierError> {
        let (min, max) = match name {
            "json_encode" | "lowercase" | "uppercase" | "capitalize" | "trim" | "base64encode"
            | "urlencode" | "count" => (0, 0),
            "empty" | "maxchars" | "append" | "append_if" | "prepend_if" | "explode" | "index"
            | "add" | "subtract" => (1, 1),
            "replace" => (2, 2),
            "eq" | "neq" => (2, 3),
            "contains" => (1, 3),
            _ => {
                return Err((
                    name_at,
                    format!("unknown modifier \"{}\"", name.escape_debug()),
                ));
            }
        };
        if args.len() < min || args.len() > max {
            return Err((name_at, arity_message(name, min, max, args.len())));
        }
        let mut args = args.into_iter();
        let mut text = |default: &str| {
            args.next()
                .map_or_else(|| default.into(), |arg| arg.text.into_boxed_str())
        };
        Ok(match name {
            "json_encode" => Modifier::JsonEncode,
            "lowercase" => Modifier::Lowercase,
            "uppercase" => Modifier::Uppercase,
            "capitalize" => Modifier::Capitalize,
            "trim" => Modifier::Trim,
            "base64encode" => Modifier::Base64Encode,
            "urlencode" => Modifier::UrlEncode,
            "count" => Modifier::Count,
            "empty" => Modifier::Empty(text("")),
            "append" => Modifier::Append(text("")),
            "append_if" => Modifier::AppendIf(text("")),
            "prepend_if" => Modifier::PrependIf(text("")),
            "eq" | "neq" => Modifier::Eq {
                value: text(""),
                then: text(""),
                otherwise: text(""),
                negate: name == "neq",
            },
            "contains" => Modifier::Contains {
                needle: text(""),
                then: text("1"),
                otherwise: text("0"),
            },
            _ => return compile_checked(name, name_at, args),
        })
    }

    /// Transform a value. Errors are fixed messages that never quote the value.
    pub(super) fn apply<'v>(&'v self, value: Value<'v>) -> Result<Value<'v>, &'static str> {
        Ok(match self {
            Modifier::JsonEncode => value,
            Modifier::Eq {
                value: expected,
                then,
                otherwise,
                negate,
            } => choose(
                (*value.into_text() == **expected) != *negate,
                then,
                otherwise,
            ),
            Modifier::Empty(fallback) => fallback_if_empty(value, fallback),
            Modifier::Contains {
                needle,
                then,
                otherwise,
            } => choose(contains(value, needle), then, otherwise),
            Modifier::Replace { regex, replacement } => replace(value, regex, replacement)?,
            Modifier::Lowercase => owned(value.into_text().to_lowercase()),
            Modifier::Uppercase => owned(value.into_text().to_uppercase()),
            Modifier::Capitalize => owned(capitalize(&value.into_text())),
            Modifier::Trim => trim(value),
            Modifier::MaxChars(limit) => max_chars(value, *limit),
            Modifier::Append(suffix) => append(value, suffix),
            Modifier::AppendIf(suffix) => append_if_not_empty(value, suffix),
            Modifier::PrependIf(prefix) => prepend_if_not_empty(value, prefix),
            Modifier::Base64Encode => owned(STANDARD.encode(value.into_text().as_bytes())),
            Modifier::UrlEncode => {
                owned(utf8_percent_encode(&value.into_text(), URL_ENCODE).to_string())
            }
            Modifier::Explode(separator) => explode(value, separator),
            Modifier::Index(index) => item_at(value, *index),
            Modifier::Count => count(value),
            Modifier::Add(operand) => add(value, *operand)?,
        })
    }
}

/// `eq`, `neq` and `contains`: `then` when the test passed, `otherwise` when it did not.
fn choose<'v>(passed: bool, then: &'v str, otherwise: &'v str) -> Value<'v> {
    Value::Text(Cow::Borrowed(if passed { then } else { otherwise }))
}

/// `empty`: the fallback for empty text or an empty list, the value itself otherwise.
fn fallback_if_empty<'v>(value: Value<'v>, fallback: &'v str) -> Value<'v> {
    if value.is_empty() {
        Value::Text(Cow::Borrowed(fallback))
    } else {
        value
    }
}

/// `contains`: whether a list has `needle` as an item, or text has it as a substring.
fn contains(value: Value<'_>, needle: &str) -> bool {
    match value.items() {
        Some(mut items) => items.any(|item| item == needle),
        None => value.into_text().contains(needle),
    }
}

/// `replace`: the text with every match of `regex` replaced, borrowed as it was when none matched.
fn replace<'v>(
    value: Value<'v>,
    regex: &Regex,
    replacement: &str,
) -> Result<Value<'v>, &'static str> {
    let text = value.into_text();
    Ok(match replace_all(regex, &text, replacement)? {
        Some(replaced) => owned(replaced),
        None => Value::Text(text),
    })
}

/// `trim`: the text without leading and trailing whitespace, copied only when that changes it.
fn trim(value: Value<'_>) -> Value<'_> {
    Value::Text(match value.into_text() {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    })
}

/// `maxchars`: the text cut to its first `limit` chars.
fn max_chars(value: Value<'_>, limit: usize) -> Value<'_> {
    let text = value.into_text();
    match text.char_indices().nth(limit) {
        None => Value::Text(text),
        Some((end, _)) => Value::Text(match text {
            Cow::Borrowed(text) => Cow::Borrowed(text.get(..end).unwrap_or(text)),
            Cow::Owned(mut text) => {
                // `end` comes from char_indices, so it is a char boundary.
                text.truncate(end);
                Cow::Owned(text)
            }
        }),
    }
}

/// `append`: the text followed by `suffix`, even when it is empty.
fn append(value: Value<'_>, suffix: &str) -> Value<'static> {
    let mut text = value.into_text().into_owned();
    text.push_str(suffix);
    owned(text)
}

/// `append_if`: the text followed by `suffix`, or empty text left empty.
fn append_if_not_empty<'v>(value: Value<'v>, suffix: &str) -> Value<'v> {
    let text = value.into_text();
    if text.is_empty() {
        Value::Text(text)
    } else {
        let mut text = text.into_owned();
        text.push_str(suffix);
        owned(text)
    }
}

/// `prepend_if`: `prefix` followed by the text, or empty text left empty.
fn prepend_if_not_empty<'v>(value: Value<'v>, prefix: &str) -> Value<'v> {
    let text = value.into_text();
    if text.is_empty() {
        Value::Text(text)
    } else {
        owned(format!("{prefix}{text}"))
    }
}

/// `explode`: the text split at every `separator` into a list; empty text is an empty list.
fn explode<'v>(value: Value<'v>, separator: &str) -> Value<'v> {
    Value::List(match value.into_text() {
        Cow::Borrowed("") => Vec::new(),
        Cow::Borrowed(text) => text.split(separator).map(Cow::Borrowed).collect(),
        Cow::Owned(text) if text.is_empty() => Vec::new(),
        Cow::Owned(text) => text
            .split(separator)
            .map(|item| Cow::Owned(item.to_owned()))
            .collect(),
    })
}

/// `index`: a list's item at `index` (0-based), text as a list of one item; empty text when
/// there is no such item.
fn item_at(value: Value<'_>, index: usize) -> Value<'_> {
    Value::Text(match value {
        Value::Groups(groups) => groups
            .get(index)
            .map_or(Cow::Borrowed(""), |group| Cow::Borrowed(group)),
        Value::List(items) => items.into_iter().nth(index).unwrap_or_default(),
        Value::Text(text) if index == 0 => text,
        Value::Text(_) => Cow::Borrowed(""),
    })
}

/// `count`: how many items a list has, or how many chars text has.
fn count(value: Value<'_>) -> Value<'static> {
    let count = match value.items() {
        Some(items) => items.count(),
        None => value.into_text().chars().count(),
    };
    owned(count.to_string())
}

/// `add` and `subtract`: the text as a number plus `operand`; empty text counts as 0.
fn add(value: Value<'_>, operand: Decimal) -> Result<Value<'static>, &'static str> {
    let text = value.into_text();
    let current = if text.is_empty() {
        Decimal::ZERO
    } else {
        Decimal::parse(&text).ok_or(NOT_A_NUMBER)?
    };
    Ok(owned(
        current
            .checked_add(operand)
            .ok_or(OUT_OF_RANGE)?
            .to_string(),
    ))
}

/// Replace every match, expanding `$1`-style groups; `None` when nothing matched. Stops as soon
/// as the result outgrows MAX_VALUE_BYTES, so a long replacement cannot exhaust memory.
fn replace_all(
    regex: &Regex,
    text: &str,
    replacement: &str,
) -> Result<Option<String>, &'static str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut matched = false;
    for captures in regex.captures_iter(text) {
        let Some(found) = captures.get(0) else {
            continue;
        };
        matched = true;
        out.push_str(text.get(copied..found.start()).unwrap_or_default());
        captures.expand(replacement, &mut out);
        copied = found.end();
        if out.len() > MAX_VALUE_BYTES {
            return Err(VALUE_TOO_LARGE);
        }
    }
    if !matched {
        return Ok(None);
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Ok(Some(out))
}

fn owned(text: String) -> Value<'static> {
    Value::Text(Cow::Owned(text))
}

/// Compile the modifiers whose arguments need more than a count check.
fn compile_checked(
    name: &str,
    name_at: usize,
    mut args: std::vec::IntoIter<Arg>,
) -> Result<Modifier, ModifierError> {
    let Some(first) = args.next() else {
        return Err((name_at, format!("modifier {name} is missing its argument")));
    };
    match name {
        "maxchars" => Ok(Modifier::MaxChars(whole_number(name, &first)?)),
        "index" => Ok(Modifier::Index(whole_number(name, &first)?)),
        "explode" if first.text.is_empty() => {
            Err((first.at, "explode needs a non-empty separator".to_owned()))
        }
        "explode" => Ok(Modifier::Explode(first.text.into_boxed_str())),
        "add" | "subtract" => {
            let operand = Decimal::parse(&first.text).ok_or_else(|| {
                (
                    first.at,
                    format!("{name} needs a number argument such as 1 or 2.5"),
                )
            })?;
            Ok(Modifier::Add(if name == "subtract" {
                operand.negated()
            } else {
                operand
            }))
        }
        "replace" => {
            let regex = RegexBuilder::new(&first.text)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                .build()
                .map_err(|error| {
                    // The parser's message repeats the pattern over several lines; keep the cause.
                    let error = error.to_string();
                    let cause = error.lines().last().unwrap_or_default().trim();
                    let cause = cause.strip_prefix("error: ").unwrap_or(cause);
                    (first.at, format!("invalid regular expression: {cause}"))
                })?;
            let replacement = args.next().map(|arg| arg.text).unwrap_or_default();
            Ok(Modifier::Replace {
                regex,
                replacement: replacement.into_boxed_str(),
            })
        }
        _ => Err((
            name_at,
            format!("unknown modifier \"{}\"", name.escape_debug()),
        )),
    }
}

fn whole_number(name: &str, arg: &Arg) -> Result<usize, ModifierError> {
    let text = &arg.text;
    if !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && let Ok(number) = text.parse()
    {
        return Ok(number);
    }
    Err((
        arg.at,
        format!("{name} needs a whole number argument (0 or more)"),
    ))
}

fn arity_message(name: &str, min: usize, max: usize, got: usize) -> String {
    let expected = match (min, max) {
        (0, 0) => "no arguments".to_owned(),
        (1, 1) => "exactly 1 argument".to_owned(),
        (min, max) if min == max => format!("exactly {min} arguments"),
        (min, max) if max == min + 1 => format!("{min} or {max} arguments"),
        (min, max) => format!("{min} to {max} arguments"),
    };
    format!("modifier {name} takes {expected}, got {got}")
}

/// Capitalize the first letter of each whitespace-separated word, leaving the rest as it is.
fn capitalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = true;
    for ch in text.chars() {
        if ch.is_whitespace() {
            word_start = true;
            out.push(ch);
        } else if word_start {
            word_start = false;
            out.extend(ch.to_uppercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// An exact decimal number `mantissa / 10^scale`, for `add` and `subtract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// The most digits a number may have; keeps every aligned mantissa well inside i128.
const MAX_DECIMAL_DIGITS: usize = 36;

impl Decimal {
    const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// Parse `-?[0-9]+(\.[0-9]+)?` with at most 36 digits.
    pub(super) fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (unsigned.contains('.') && fraction.is_empty())
            || whole.len() + fraction.len() > MAX_DECIMAL_DIGITS
        {
            return None;
        }
        let mut mantissa: i128 = 0;
        for byte in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(byte - b'0'))?;
        }
        Some(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: u32::try_from(fraction.len()).ok()?,
        })
    }

    fn negated(self) -> Decimal {
        Decimal {
            mantissa: -self.mantissa,
            scale: self.scale,
        }
    }

    fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let align = |number: Decimal| {
            10_i128
                .checked_pow(scale - number.scale)
                .and_then(|factor| number.mantissa.checked_mul(factor))
        };
        Some(Decimal {
            mantissa: align(self)?.checked_add(align(other)?)?,
            scale,
        })
    }
}

impl std::fmt::Display for Decimal {
    /// Shortest plain decimal form: no exponent, no trailing fraction zeros, whole numbers bare.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut mantissa = self.mantissa;
        let mut scale = self.scale;
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        if mantissa < 0 {
            f.write_char('-')?;
        }
        let digits = mantissa.unsigned_abs().to_string();
        let scale = usize::try_from(scale).unwrap_or(usize::MAX);
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        // The padded digits are ASCII and longer than `scale`, so the split is in bounds.
        let (whole, fraction) = padded.split_at(padded.len().saturating_sub(scale));
        write!(f, "{whole}.{fraction}")
    }
}
