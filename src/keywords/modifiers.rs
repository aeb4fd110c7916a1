//! The keyword modifiers: arguments checked at compile time, value transforms at render time.
//!
//! Names and meanings are the CMS's (Squiz Matrix's keyword modifiers, which follow the PHP
//! functions they are named after); where this server differs, the README's compatibility table
//! says how. A CMS modifier that is not supported is refused at save with the reason.

use regex::{Regex, RegexBuilder};

use super::number::Decimal;
use super::php::{self, Replacement};
use super::transform::{self, Coding, Operation, Rounding, owned};
use super::value::Value;

/// Largest compiled program a `replace` or `contains` pattern may produce, in bytes.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Largest lazy-DFA cache a `replace` or `contains` pattern may use, in bytes.
const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// Longest `date_format` format, in bytes.
const MAX_DATE_FORMAT: usize = 256;

/// Largest `round` precision either way (digits after the point, or zeros before it).
const MAX_PRECISION: i32 = 36;

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
    /// `contains`: whether the regular expression matches (text: anywhere, counting the
    /// matches; a list: an item as a whole); `then` (default: the count) or `otherwise`.
    Contains {
        regex: Regex,
        whole: Regex,
        then: Option<Box<str>>,
        otherwise: Box<str>,
    },
    /// `replace`: every match of `regex` replaced, with PHP's `$1`/`\1`/`${1}` groups.
    Replace {
        regex: Regex,
        replacement: Replacement,
    },
    /// `lowercase`: the text in lower case.
    Lowercase,
    /// `uppercase`: the text in upper case.
    Uppercase,
    /// `capitalize`: the first letter of the text in upper case (PHP's `ucfirst`).
    Capitalize,
    /// `titleize`: the first letter of every word in upper case (PHP's `ucwords`).
    Titleize,
    /// `trim`: the text without leading and trailing whitespace.
    Trim,
    /// `underscore`: every run of whitespace replaced by one `_`.
    Underscore,
    /// `striphtml[:<tags>]`: HTML tags removed but for these (PHP's `strip_tags`).
    StripHtml(Box<[String]>),
    /// `maxchars`: the text cut to at most this many chars.
    MaxChars(usize),
    /// `maxwords`: the text cut to at most this many words.
    MaxWords(usize),
    /// `append`: the text followed by this suffix.
    Append(Box<str>),
    /// `append_if`: this suffix after the text, unless the text is empty.
    AppendIf(Box<str>),
    /// `prepend`: this prefix before the text.
    Prepend(Box<str>),
    /// `prepend_if`: this prefix before the text, unless the text is empty.
    PrependIf(Box<str>),
    /// A URL or base64 coding.
    Coding(Coding),
    /// `explode`: the text split into a list at every occurrence of this separator.
    Explode(Box<str>),
    /// `index`: a list's item at this 0-based index, or a decoded object's member of this name;
    /// text counts as a list of one item.
    Index(Box<str>),
    /// `array_slice:offset[:length[:preserve_keys]]`: part of a list (PHP's `array_slice`).
    ArraySlice { offset: i64, length: Option<i64> },
    /// `json_decode`: JSON text as a list or object that `index` and `count` can read.
    JsonDecode,
    /// `count`: how many items a list has, or how many chars text has.
    Count,
    /// `charcount`: how many bytes the text has (PHP's `strlen`).
    CharCount,
    /// `wordcount`: how many words the text has (PHP's `str_word_count`).
    WordCount,
    /// An arithmetic modifier with its operand.
    Arithmetic(Operation, Decimal),
    /// `abs`, `round`, `ceil`, `floor`.
    Rounding(Rounding),
    /// `date_format`: the date in the text, written in this PHP date format.
    DateFormat(Box<str>),
}

impl Modifier {
    /// Compile modifier `name` (which starts at byte `name_at`) with its arguments.
    pub(super) fn compile(
        name: &str,
        name_at: usize,
        args: Vec<Arg>,
    ) -> Result<Modifier, ModifierError> {
        let (min, max) = match name {
            "json_encode" | "lowercase" | "uppercase" | "capitalize" | "titleize" | "trim"
            | "underscore" | "base64encode" | "base64decode" | "urlencode" | "urldecode"
            | "rawurlencode" | "rawurldecode" | "count" | "charcount" | "wordcount"
            | "json_decode" | "abs" | "ceil" | "floor" => (0, 0),
            "round" | "striphtml" => (0, 1),
            "empty" | "maxchars" | "maxwords" | "append" | "append_if" | "prepend"
            | "prepend_if" | "explode" | "index" | "add" | "subtract" | "multiply" | "divide"
            | "modulo" | "date_format" => (1, 1),
            "replace" => (2, 2),
            "eq" | "neq" | "contains" | "array_slice" => (1, 3),
            _ => return Err((name_at, unsupported(name))),
        };
        if args.len() < min || args.len() > max {
            return Err((name_at, arity_message(name, min, max, args.len())));
        }
        let mut args = args.into_iter();
        let simple = match name {
            "json_encode" => Modifier::JsonEncode,
            "lowercase" => Modifier::Lowercase,
            "uppercase" => Modifier::Uppercase,
            "capitalize" => Modifier::Capitalize,
            "titleize" => Modifier::Titleize,
            "trim" => Modifier::Trim,
            "underscore" => Modifier::Underscore,
            "base64encode" => Modifier::Coding(Coding::Base64Encode),
            "base64decode" => Modifier::Coding(Coding::Base64Decode),
            "urlencode" => Modifier::Coding(Coding::UrlEncode),
            "urldecode" => Modifier::Coding(Coding::UrlDecode),
            "rawurlencode" => Modifier::Coding(Coding::RawUrlEncode),
            "rawurldecode" => Modifier::Coding(Coding::RawUrlDecode),
            "count" => Modifier::Count,
            "charcount" => Modifier::CharCount,
            "wordcount" => Modifier::WordCount,
            "json_decode" => Modifier::JsonDecode,
            "abs" => Modifier::Rounding(Rounding::Abs),
            "ceil" => Modifier::Rounding(Rounding::Ceil),
            "floor" => Modifier::Rounding(Rounding::Floor),
            "striphtml" => Modifier::StripHtml(
                args.next()
                    .map(|arg| php::allowed_tags(&arg.text))
                    .unwrap_or_default()
                    .into_boxed_slice(),
            ),
            "round" => Modifier::Rounding(Rounding::Round(match args.next() {
                None => 0,
                Some(arg) => precision(&arg)?,
            })),
            _ => return compile_with_args(name, args),
        };
        Ok(simple)
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
            } => transform::choose(
                (*value.into_text() == **expected) != *negate,
                then,
                otherwise,
            ),
            Modifier::Empty(fallback) => transform::fallback_if_empty(value, fallback),
            Modifier::Contains {
                regex,
                whole,
                then,
                otherwise,
            } => transform::contains(value, regex, whole, then.as_deref(), otherwise),
            Modifier::Replace { regex, replacement } => {
                transform::replace(value, regex, replacement)?
            }
            Modifier::Lowercase => owned(value.into_text().to_lowercase()),
            Modifier::Uppercase => owned(value.into_text().to_uppercase()),
            Modifier::Capitalize => transform::text_map(value, php::ucfirst),
            Modifier::Titleize => transform::text_map(value, php::ucwords),
            Modifier::Trim => transform::trim(value),
            Modifier::Underscore => transform::text_map(value, php::underscore),
            Modifier::StripHtml(allowed) => {
                transform::text_map(value, |text| php::strip_tags(text, allowed))
            }
            Modifier::MaxChars(limit) => transform::max_chars(value, *limit),
            Modifier::MaxWords(limit) => {
                transform::text_map(value, |text| php::max_words(text, *limit))
            }
            Modifier::Append(suffix) => transform::append(value, suffix),
            Modifier::AppendIf(suffix) => transform::append_if_not_empty(value, suffix),
            Modifier::Prepend(prefix) => owned(format!("{prefix}{}", value.into_text())),
            Modifier::PrependIf(prefix) => transform::prepend_if_not_empty(value, prefix),
            Modifier::Coding(coding) => transform::coding(value, *coding)?,
            Modifier::Explode(separator) => transform::explode(value, separator),
            Modifier::Index(key) => transform::item_at(value, key),
            Modifier::ArraySlice { offset, length } => {
                transform::array_slice(value, *offset, *length)
            }
            Modifier::JsonDecode => transform::json_decode(value)?,
            Modifier::Count => transform::count(value),
            Modifier::CharCount => owned(value.text_len().to_string()),
            Modifier::WordCount => owned(php::word_count(&value.into_text()).to_string()),
            Modifier::Arithmetic(operation, operand) => {
                transform::arithmetic(value, *operation, *operand)?
            }
            Modifier::Rounding(rounding) => transform::rounding(value, *rounding)?,
            Modifier::DateFormat(format) => transform::date_format(value, format)?,
        })
    }
}

/// Compile the modifiers whose arguments need more than a count check.
fn compile_with_args(
    name: &str,
    mut args: std::vec::IntoIter<Arg>,
) -> Result<Modifier, ModifierError> {
    let Some(first) = args.next() else {
        // The arity check came first: every modifier here has a first argument.
        return Err((0, format!("modifier {name} is missing its argument")));
    };
    let mut text = |default: &str| {
        args.next()
            .map_or_else(|| default.into(), |arg| arg.text.into_boxed_str())
    };
    Ok(match name {
        "empty" => Modifier::Empty(first.text.into()),
        "append" => Modifier::Append(first.text.into()),
        "append_if" => Modifier::AppendIf(first.text.into()),
        "prepend" => Modifier::Prepend(first.text.into()),
        "prepend_if" => Modifier::PrependIf(first.text.into()),
        "index" => Modifier::Index(first.text.into()),
        "eq" | "neq" => Modifier::Eq {
            value: first.text.into(),
            then: text("1"),
            otherwise: text(""),
            negate: name == "neq",
        },
        "contains" => {
            let regex = regex(&first)?;
            let whole = regex_text(&format!("^(?:{})$", first.text))
                .map_err(|cause| (first.at, format!("invalid regular expression: {cause}")))?;
            Modifier::Contains {
                regex,
                whole,
                then: args.next().map(|arg| arg.text.into_boxed_str()),
                otherwise: args
                    .next()
                    .map_or_else(|| "0".into(), |arg| arg.text.into_boxed_str()),
            }
        }
        "replace" => Modifier::Replace {
            regex: regex(&first)?,
            replacement: Replacement::parse(&args.next().map(|arg| arg.text).unwrap_or_default()),
        },
        "maxchars" => Modifier::MaxChars(whole_number(name, &first)?),
        "maxwords" => Modifier::MaxWords(whole_number(name, &first)?),
        "explode" if first.text.is_empty() => {
            return Err((first.at, "explode needs a non-empty separator".to_owned()));
        }
        "explode" => Modifier::Explode(first.text.into()),
        "array_slice" => {
            let offset = integer(name, &first)?;
            let length = match args.next() {
                Some(arg) if arg.text.is_empty() => None,
                Some(arg) => Some(integer(name, &arg)?),
                None => None,
            };
            // preserve_keys changes nothing here: a list's items have no keys to keep, and a
            // decoded object's members keep their names either way.
            Modifier::ArraySlice { offset, length }
        }
        "add" | "subtract" | "multiply" | "divide" | "modulo" => {
            let operand = Decimal::parse(&first.text).ok_or_else(|| {
                (
                    first.at,
                    format!("{name} needs a number argument such as 1 or 2.5"),
                )
            })?;
            let (operation, operand) = match name {
                "add" => (Operation::Add, operand),
                "subtract" => (Operation::Add, operand.negated()),
                "multiply" => (Operation::Multiply, operand),
                "divide" => (Operation::Divide, operand),
                _ => (Operation::Modulo, operand),
            };
            Modifier::Arithmetic(operation, operand)
        }
        "date_format" if first.text.is_empty() || first.text.len() > MAX_DATE_FORMAT => {
            return Err((
                first.at,
                format!("date_format needs a PHP date format of 1 to {MAX_DATE_FORMAT} bytes"),
            ));
        }
        "date_format" => Modifier::DateFormat(first.text.into()),
        _ => return Err((first.at, unsupported(name))),
    })
}

/// A `replace` or `contains` pattern, compiled with the size limits.
fn regex(arg: &Arg) -> Result<Regex, ModifierError> {
    regex_text(&arg.text).map_err(|cause| (arg.at, format!("invalid regular expression: {cause}")))
}

fn regex_text(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|error| {
            // The parser's message repeats the pattern over several lines; keep the cause.
            let error = error.to_string();
            let cause = error.lines().last().unwrap_or_default().trim();
            let cause = cause.strip_prefix("error: ").unwrap_or(cause).to_owned();
            if cause.contains("look-around") || cause.contains("backreference") {
                format!(
                    "{cause} (the CMS's PCRE has it; this server's regular expressions run in \
                     linear time, so they have no look-around or back-references)"
                )
            } else {
                cause
            }
        })
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

fn integer(name: &str, arg: &Arg) -> Result<i64, ModifierError> {
    let digits = arg.text.strip_prefix('-').unwrap_or(&arg.text);
    if !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && let Ok(number) = arg.text.parse()
    {
        return Ok(number);
    }
    Err((
        arg.at,
        format!("{name} needs whole number arguments such as 2 or -1"),
    ))
}

fn precision(arg: &Arg) -> Result<i32, ModifierError> {
    let digits = arg.text.strip_prefix('-').unwrap_or(&arg.text);
    if !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && let Ok(number) = arg.text.parse::<i32>()
        && number.abs() <= MAX_PRECISION
    {
        return Ok(number);
    }
    Err((
        arg.at,
        format!("round needs a whole number of decimals from -{MAX_PRECISION} to {MAX_PRECISION}"),
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

/// Why a modifier name is refused: the CMS modifiers this server leaves out, with the reason;
/// anything else is unknown.
fn unsupported(name: &str) -> String {
    let why = match name {
        "escapehtml" | "unescapehtml" | "htmlentities" | "nl2br" | "cdata" | "tag" | "tagif"
        | "stripdecl" | "css_safe" | "escapequotes" | "as_xml" | "as_csv" | "as_csv_noheader"
        | "as_url_string" | "xpath" | "xpathe" | "xslt" => {
            "it prepares text for HTML, XML, CSS or CSV, and a token's claims are JSON: keywords \
             in strings are escaped for JSON already"
        }
        "as_asset" | "preg_replace" | "preg_match" | "preg_match_result" | "context"
        | "with_get" => "it reads other assets of the CMS, which this server does not have",
        "replace_keywords" => {
            "a keyword's modifiers take fixed arguments here, so that a user's data never \
             becomes a pattern or a number another modifier reads"
        }
        "as_json" => "write ^json_encode in a value position to send a list as a JSON array",
        "increment" | "decrement" | "negate" | "sign" | "squareroot" | "number_format" | "md5"
        | "sha1" | "implode" | "in_array" | "notempty" | "gt" | "gte" | "lt" | "lte"
        | "eq_date" | "neq_date" | "lt_date" | "lte_date" | "gt_date" | "gte_date" => {
            "it is not supported yet (see the compatibility table in the README)"
        }
        _ => {
            return format!(
                "unknown modifier \"{}\" (the README lists the modifiers)",
                name.escape_debug()
            );
        }
    };
    format!("the CMS modifier \"{name}\" is not supported here: {why}")
}
