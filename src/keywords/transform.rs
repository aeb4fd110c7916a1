//! What each modifier does to a value at render time. Errors are fixed messages that never quote
//! the value.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;

use super::context::{MAX_DEPTH, MAX_VALUE_BYTES};
use super::number::{Decimal, NOT_A_NUMBER, OUT_OF_RANGE};
use super::php::{self, Replacement};
use super::value::{VALUE_TOO_LARGE, Value};

const NOT_A_DATE: &str = "date_format: the value is not a date this server reads (such as \
     2026-11-23, 2026-11-23 10:00:00, 2026-11-23T10:00:00Z or @1795428000)";
const TOO_DEEP: &str = "json_decode: the JSON is nested deeper than 32 levels";

/// The arithmetic modifiers that take an operand.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operation {
    /// `add` (and `subtract`, whose operand is stored negated).
    Add,
    /// `multiply`.
    Multiply,
    /// `divide`: empty text for a zero divisor, as in the CMS.
    Divide,
    /// `modulo`: whole numbers; empty text for a zero divisor, as in the CMS.
    Modulo,
}

/// The arithmetic modifiers without an operand.
#[derive(Debug, Clone, Copy)]
pub(super) enum Rounding {
    /// `abs`.
    Abs,
    /// `round[:precision]`.
    Round(i32),
    /// `ceil`.
    Ceil,
    /// `floor`.
    Floor,
}

/// The URL and base64 codings.
#[derive(Debug, Clone, Copy)]
pub(super) enum Coding {
    /// `base64encode`.
    Base64Encode,
    /// `base64decode`.
    Base64Decode,
    /// `urlencode`: PHP's, a space is `+`.
    UrlEncode,
    /// `urldecode`: PHP's, `+` is a space.
    UrlDecode,
    /// `rawurlencode`: RFC 3986, a space is `%20`.
    RawUrlEncode,
    /// `rawurldecode`.
    RawUrlDecode,
}

/// Transform result: the new value, or a fixed message.
type Transformed<'v> = Result<Value<'v>, &'static str>;

pub(super) fn owned(text: String) -> Value<'static> {
    Value::Text(Cow::Owned(text))
}

/// The text through `map`, borrowed as it was when `map` changed nothing.
pub(super) fn text_map<'v>(value: Value<'v>, map: impl Fn(&str) -> Cow<'_, str>) -> Value<'v> {
    let text = value.into_text();
    let mapped = match map(&text) {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    };
    Value::Text(match mapped {
        Some(changed) => Cow::Owned(changed),
        None => text,
    })
}

/// `eq`, `neq` and `contains`: `then` when the test passed, `otherwise` when it did not.
pub(super) fn choose<'v>(passed: bool, then: &'v str, otherwise: &'v str) -> Value<'v> {
    Value::Text(Cow::Borrowed(if passed { then } else { otherwise }))
}

/// `empty`: the fallback for empty text or an empty list, the value itself otherwise.
pub(super) fn fallback_if_empty<'v>(value: Value<'v>, fallback: &'v str) -> Value<'v> {
    if value.is_empty() {
        Value::Text(Cow::Borrowed(fallback))
    } else {
        value
    }
}

/// `contains`: how many matches the text has, or how many items of a list the pattern matches
/// as a whole; `then` (default: that count) when there is one, `otherwise` when there is none.
pub(super) fn contains<'v>(
    value: Value<'v>,
    regex: &Regex,
    whole: &Regex,
    then: Option<&'v str>,
    otherwise: &'v str,
) -> Value<'v> {
    let count = if let Some(items) = value.items() {
        items.filter(|item| whole.is_match(item)).count()
    } else if let Value::Json(serde_json::Value::Array(items)) = &value {
        items
            .iter()
            .filter(|item| scalar_text(item).is_some_and(|text| whole.is_match(&text)))
            .count()
    } else if then.is_some() {
        // Only whether it matches: the first match answers.
        usize::from(regex.is_match(&value.into_text()))
    } else {
        regex.find_iter(&value.into_text()).count()
    };
    match (count, then) {
        (0, _) => Value::Text(Cow::Borrowed(otherwise)),
        (_, Some(then)) => Value::Text(Cow::Borrowed(then)),
        (count, None) => owned(count.to_string()),
    }
}

/// `replace`: the text with every match of `regex` replaced, borrowed as it was when none
/// matched. Stops as soon as the result outgrows MAX_VALUE_BYTES, so a long replacement cannot
/// exhaust memory.
pub(super) fn replace<'v>(
    value: Value<'v>,
    regex: &Regex,
    replacement: &Replacement,
) -> Transformed<'v> {
    let text = value.into_text();
    let mut out = String::new();
    let mut copied = 0;
    let mut matched = false;
    for captures in regex.captures_iter(&text) {
        let Some(found) = captures.get(0) else {
            continue;
        };
        matched = true;
        out.push_str(text.get(copied..found.start()).unwrap_or_default());
        replacement.expand(&captures, &mut out);
        copied = found.end();
        if out.len() > MAX_VALUE_BYTES {
            return Err(VALUE_TOO_LARGE);
        }
    }
    if !matched {
        return Ok(Value::Text(text));
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Ok(owned(out))
}

/// `trim`: the text without leading and trailing whitespace, copied only when that changes it.
pub(super) fn trim(value: Value<'_>) -> Value<'_> {
    Value::Text(match value.into_text() {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    })
}

/// `maxchars`: the text cut to its first `limit` chars.
pub(super) fn max_chars(value: Value<'_>, limit: usize) -> Value<'_> {
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
pub(super) fn append(value: Value<'_>, suffix: &str) -> Value<'static> {
    let mut text = value.into_text().into_owned();
    text.push_str(suffix);
    owned(text)
}

/// `append_if`: the text followed by `suffix`, or empty text left empty.
pub(super) fn append_if_not_empty<'v>(value: Value<'v>, suffix: &str) -> Value<'v> {
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
pub(super) fn prepend_if_not_empty<'v>(value: Value<'v>, prefix: &str) -> Value<'v> {
    let text = value.into_text();
    if text.is_empty() {
        Value::Text(text)
    } else {
        owned(format!("{prefix}{text}"))
    }
}

/// The URL and base64 codings.
pub(super) fn coding(value: Value<'_>, coding: Coding) -> Transformed<'static> {
    let text = value.into_text();
    Ok(owned(match coding {
        Coding::Base64Encode => STANDARD.encode(text.as_bytes()),
        Coding::Base64Decode => php::base64_decode(&text)?,
        Coding::UrlEncode => php::urlencode(&text),
        Coding::UrlDecode => php::urldecode(&text)?,
        Coding::RawUrlEncode => php::rawurlencode(&text),
        Coding::RawUrlDecode => php::rawurldecode(&text)?,
    }))
}

/// `explode`: the text split at every `separator` into a list; empty text is an empty list.
pub(super) fn explode<'v>(value: Value<'v>, separator: &str) -> Value<'v> {
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

/// `index`: a list's item at `key` (a 0-based number), a decoded object's member named `key`;
/// text as a list of one item; empty text when there is no such item.
pub(super) fn item_at<'v>(value: Value<'v>, key: &str) -> Value<'v> {
    let position = || -> Option<usize> {
        if key.is_empty() || !key.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        key.parse().ok()
    };
    let empty = Value::Text(Cow::Borrowed(""));
    match value {
        Value::Groups(groups) => position()
            .and_then(|at| groups.get(at))
            .map_or(empty, |group| Value::Text(Cow::Borrowed(group))),
        Value::List(items) => position()
            .and_then(|at| items.into_iter().nth(at))
            .map_or(empty, Value::Text),
        Value::Json(serde_json::Value::Array(mut items)) => match position() {
            Some(at) if at < items.len() => from_json(items.swap_remove(at)),
            _ => empty,
        },
        Value::Json(serde_json::Value::Object(mut members)) => {
            members.remove(key).map_or(empty, from_json)
        }
        Value::Json(_) => empty,
        Value::Text(text) if position() == Some(0) => Value::Text(text),
        Value::Text(_) => empty,
    }
}

/// `array_slice`: PHP's `array_slice` of a list's items or a decoded array's or object's
/// members; text counts as a list of one item.
pub(super) fn array_slice(value: Value<'_>, offset: i64, length: Option<i64>) -> Value<'_> {
    let range = |len: usize| {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let start = if offset < 0 {
            (len + offset).max(0)
        } else {
            offset.min(len)
        };
        let end = match length {
            None => len,
            Some(length) if length < 0 => (len + length).max(start),
            Some(length) => start.saturating_add(length).min(len),
        };
        let start = usize::try_from(start).unwrap_or(0);
        let end = usize::try_from(end).unwrap_or(0);
        start..end.max(start)
    };
    // The items in `range(len)` of any collection, collected again.
    fn slice<I: ExactSizeIterator, C: FromIterator<I::Item>>(
        items: I,
        range: impl Fn(usize) -> std::ops::Range<usize>,
    ) -> C {
        let range = range(items.len());
        items.skip(range.start).take(range.len()).collect()
    }
    match value {
        Value::Groups(groups) => Value::Groups(groups.get(range(groups.len())).unwrap_or_default()),
        Value::List(items) => Value::List(slice(items.into_iter(), range)),
        Value::Json(serde_json::Value::Array(items)) => {
            Value::Json(serde_json::Value::Array(slice(items.into_iter(), range)))
        }
        Value::Json(serde_json::Value::Object(members)) => {
            Value::Json(serde_json::Value::Object(slice(members.into_iter(), range)))
        }
        other => {
            let text = other.into_text();
            let keep = range(1).contains(&0);
            Value::List(if keep { vec![text] } else { Vec::new() })
        }
    }
}

/// `json_decode`: an array or object as a value `index`, `count` and `array_slice` read; a
/// string, number or `true`/`false` as text; `null`, and text that is not JSON, as empty text
/// (the CMS's PHP gives null, which prints as nothing).
pub(super) fn json_decode(value: Value<'_>) -> Transformed<'static> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&value.into_text()) else {
        return Ok(owned(String::new()));
    };
    if depth(&json) > MAX_DEPTH {
        return Err(TOO_DEEP);
    }
    Ok(from_json(json))
}

/// A decoded JSON value as a keyword value.
fn from_json(json: serde_json::Value) -> Value<'static> {
    match json {
        serde_json::Value::String(text) => owned(text),
        compound @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
            Value::Json(compound)
        }
        scalar => owned(
            scalar_text(&scalar)
                .map(Cow::into_owned)
                .unwrap_or_default(),
        ),
    }
}

/// The text of a JSON scalar: a string's content, a number as written, `true`, `false`, and
/// empty text for `null`. `None` for arrays and objects.
fn scalar_text(json: &serde_json::Value) -> Option<Cow<'_, str>> {
    Some(match json {
        serde_json::Value::String(text) => Cow::Borrowed(text.as_str()),
        serde_json::Value::Number(number) => Cow::Owned(number.to_string()),
        serde_json::Value::Bool(true) => Cow::Borrowed("true"),
        serde_json::Value::Bool(false) => Cow::Borrowed("false"),
        serde_json::Value::Null => Cow::Borrowed(""),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => return None,
    })
}

/// Nesting depth of a JSON value: a scalar is 0, `[]` is 1.
fn depth(json: &serde_json::Value) -> usize {
    match json {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// `count`: how many items a list (or members a decoded object) has, or how many chars text has.
pub(super) fn count(value: Value<'_>) -> Value<'static> {
    let count = if let Some(items) = value.items() {
        items.count()
    } else {
        match value {
            Value::Json(serde_json::Value::Array(items)) => items.len(),
            Value::Json(serde_json::Value::Object(members)) => members.len(),
            other => other.into_text().chars().count(),
        }
    };
    owned(count.to_string())
}

/// `add`, `subtract`, `multiply`, `divide`, `modulo`: the text read as PHP reads a number
/// (empty text is 0), then the operation. A zero divisor gives empty text, as in the CMS.
pub(super) fn arithmetic(
    value: Value<'_>,
    operation: Operation,
    operand: Decimal,
) -> Transformed<'static> {
    let current = Decimal::coerce(&value.into_text(), true).ok_or(NOT_A_NUMBER)?;
    let result = match operation {
        Operation::Add => current.checked_add(operand),
        Operation::Multiply => current.checked_mul(operand),
        Operation::Divide if operand.is_zero() => return Ok(owned(String::new())),
        Operation::Divide => current.checked_div(operand),
        Operation::Modulo => match current.modulo(operand) {
            Some(result) => Some(result),
            None => return Ok(owned(String::new())),
        },
    };
    Ok(owned(result.ok_or(OUT_OF_RANGE)?.to_string()))
}

/// `abs`, `round`, `ceil`, `floor`.
pub(super) fn rounding(value: Value<'_>, rounding: Rounding) -> Transformed<'static> {
    let current = Decimal::coerce(&value.into_text(), false).ok_or(NOT_A_NUMBER)?;
    let result = match rounding {
        Rounding::Abs => Some(current.abs()),
        Rounding::Round(precision) => current.round(precision),
        Rounding::Ceil => current.ceil(),
        Rounding::Floor => current.floor(),
    };
    Ok(owned(result.ok_or(OUT_OF_RANGE)?.to_string()))
}

/// `date_format`: the date the text holds, written in PHP date format `format`; empty text
/// stays empty.
pub(super) fn date_format<'v>(value: Value<'v>, format: &str) -> Transformed<'v> {
    let text = value.into_text();
    if text.trim().is_empty() {
        return Ok(Value::Text(text));
    }
    let at = php::parse_date(&text).ok_or(NOT_A_DATE)?;
    Ok(owned(php::format_date(at, format)))
}
