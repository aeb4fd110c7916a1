//! PHP-compatible text and date functions behind the CMS keyword modifiers.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike};
use regex::Captures;

/// English month names, January first, as PHP's `date()` writes them for `F`.
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// English weekday names, Sunday first, as PHP's `date()` writes them for `l`.
const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The characters PHP's `trim()` removes by default.
const PHP_TRIM: &[char] = &[' ', '\t', '\n', '\r', '\0', '\x0B'];

/// The bytes of upper-case hexadecimal, as PHP's URL encoders write them.
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The error when `urldecode` decodes to bytes that are not UTF-8; it never quotes the value.
const URLDECODE_NOT_UTF8: &str = "urldecode produced bytes that are not UTF-8 text";
/// The error when `rawurldecode` decodes to bytes that are not UTF-8; it never quotes the value.
const RAWURLDECODE_NOT_UTF8: &str = "rawurldecode produced bytes that are not UTF-8 text";
/// The error when `base64_decode` decodes to bytes that are not UTF-8; it never quotes the value.
const BASE64_NOT_UTF8: &str = "base64_decode produced bytes that are not UTF-8 text";

/// Format a moment as PHP's `date()` / `DateTimeInterface::format` does, with English names.
///
/// Every PHP 8.2 format letter is supported: `d D j l N S w z W F m M n t L o X x Y y a A B g G
/// h H i s u v e I O P p T Z c r U`. `\X` writes X literally and any other character is copied as
/// it is. The moment's fixed offset plays the part of PHP's time zone:
///
/// - `e` is `UTC` for a zero offset and `+02:00` otherwise, as PHP prints for an offset zone.
/// - `T` is `UTC` for a zero offset and otherwise the tz database's numeric abbreviation: `+05`
///   for whole hours, `+0530` otherwise. PHP itself prints `GMT+0530` for a DateTime that carries
///   only an offset; the tz database form is what it prints for named zones without letters.
/// - `I` (daylight saving) is always `0`: a fixed offset has no daylight saving.
///
/// Deliberate difference: a backslash at the very end of the format writes nothing, where PHP
/// reads past the end of its string and writes a NUL byte.
pub(super) fn format_date(at: DateTime<FixedOffset>, format: &str) -> String {
    let mut out = String::with_capacity(format.len().saturating_mul(2));
    let mut chars = format.chars();
    while let Some(letter) = chars.next() {
        if letter == '\\' {
            if let Some(escaped) = chars.next() {
                out.push(escaped);
            }
            continue;
        }
        // Writing to a String cannot fail.
        let _ = write_date_letter(&mut out, &at, letter);
    }
    out
}

/// Write what one `date()` format letter stands for; anything else is copied.
fn write_date_letter(out: &mut String, at: &DateTime<FixedOffset>, letter: char) -> fmt::Result {
    let year = at.year();
    let offset = at.offset().local_minus_utc();
    match letter {
        'd' => write!(out, "{:02}", at.day()),
        'D' => out.write_str(short_name(day_name(at))),
        'j' => write!(out, "{}", at.day()),
        'l' => out.write_str(day_name(at)),
        'N' => write!(out, "{}", at.weekday().number_from_monday()),
        'S' => out.write_str(english_suffix(at.day())),
        'w' => write!(out, "{}", at.weekday().num_days_from_sunday()),
        'z' => write!(out, "{}", at.ordinal0()),
        'W' => write!(out, "{:02}", at.iso_week().week()),
        'o' => write!(out, "{}", at.iso_week().year()),
        'F' => out.write_str(month_name(at)),
        'm' => write!(out, "{:02}", at.month()),
        'M' => out.write_str(short_name(month_name(at))),
        'n' => write!(out, "{}", at.month()),
        't' => write!(out, "{}", days_in_month(year, at.month())),
        'L' => out.write_str(if is_leap_year(year) { "1" } else { "0" }),
        'Y' => write_year(out, year, if year < 0 { "-" } else { "" }),
        'x' => write_year(out, year, year_sign(year, year >= 10_000)),
        'X' => write_year(out, year, year_sign(year, true)),
        // PHP prints `t->y % 100` with %02d, so year -5 gives "-5", as Rust's {:02} does.
        'y' => write!(out, "{:02}", year % 100),
        'a' => out.write_str(if at.hour() >= 12 { "pm" } else { "am" }),
        'A' => out.write_str(if at.hour() >= 12 { "PM" } else { "AM" }),
        'B' => write!(out, "{:03}", swatch_beat(at.timestamp())),
        'g' => write!(out, "{}", twelve_hour(at.hour())),
        'G' => write!(out, "{}", at.hour()),
        'h' => write!(out, "{:02}", twelve_hour(at.hour())),
        'H' => write!(out, "{:02}", at.hour()),
        'i' => write!(out, "{:02}", at.minute()),
        's' => write!(out, "{:02}", at.second()),
        'u' => write!(out, "{:06}", microseconds(at)),
        'v' => write!(out, "{:03}", microseconds(at) / 1000),
        'e' if offset == 0 => out.write_str("UTC"),
        'e' => write_offset(out, offset, ":"),
        'I' => out.write_str("0"),
        'O' => write_offset(out, offset, ""),
        'P' => write_offset(out, offset, ":"),
        'p' if offset.unsigned_abs() < 60 => out.write_str("Z"),
        'p' => write_offset(out, offset, ":"),
        'T' if offset == 0 => out.write_str("UTC"),
        'T' => write_offset_abbreviation(out, offset),
        'Z' => write!(out, "{offset}"),
        'c' => {
            write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                year,
                at.month(),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            )?;
            write_offset(out, offset, ":")
        }
        'r' => {
            write!(
                out,
                "{}, {:02} {} {:04} {:02}:{:02}:{:02} ",
                short_name(day_name(at)),
                at.day(),
                short_name(month_name(at)),
                year,
                at.hour(),
                at.minute(),
                at.second()
            )?;
            write_offset(out, offset, "")
        }
        'U' => write!(out, "{}", at.timestamp()),
        other => out.write_char(other),
    }
}

/// The English weekday name of a moment.
fn day_name(at: &DateTime<FixedOffset>) -> &'static str {
    let index = usize::try_from(at.weekday().num_days_from_sunday()).unwrap_or_default();
    DAY_NAMES.get(index).copied().unwrap_or_default()
}

/// The English month name of a moment.
fn month_name(at: &DateTime<FixedOffset>) -> &'static str {
    let index = usize::try_from(at.month0()).unwrap_or_default();
    MONTH_NAMES.get(index).copied().unwrap_or_default()
}

/// The three-letter form of an English day or month name.
fn short_name(name: &'static str) -> &'static str {
    name.get(..3).unwrap_or(name)
}

/// PHP's `english_suffix`: `st`, `nd`, `rd` or `th` for a day of the month.
fn english_suffix(day: u32) -> &'static str {
    if (10..=19).contains(&day) {
        return "th";
    }
    match day % 10 {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    }
}

/// Whether a proleptic Gregorian year is a leap year.
fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// How many days a month (1 to 12) of a year has.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The sign PHP writes before the year for `x` and `X`: `-` for years before year 0, `+` when
/// `plus` holds, nothing otherwise.
fn year_sign(year: i32, plus: bool) -> &'static str {
    if year < 0 {
        "-"
    } else if plus {
        "+"
    } else {
        ""
    }
}

/// A year as PHP writes `Y`, `x` and `X`: the sign, then the magnitude in at least four digits.
fn write_year(out: &mut String, year: i32, sign: &str) -> fmt::Result {
    write!(out, "{sign}{:04}", year.unsigned_abs())
}

/// The hour on a 12-hour clock, 1 to 12.
fn twelve_hour(hour: u32) -> u32 {
    match hour % 12 {
        0 => 12,
        hour => hour,
    }
}

/// The microseconds of a moment, 0 to 999 999 (a leap second's extra second is not counted).
fn microseconds(at: &DateTime<FixedOffset>) -> u32 {
    at.nanosecond().min(999_999_999) / 1000
}

/// PHP's Swatch Internet time (`B`): thousandths of a day, counted in UTC+1.
fn swatch_beat(unix_seconds: i64) -> i64 {
    // The same steps as PHP, whose C `%` keeps the sign of a negative timestamp.
    let mut beat = (unix_seconds % 86_400 + 3_600) * 10;
    if beat < 0 {
        beat += 864_000;
    }
    (beat / 864) % 1000
}

/// An offset as PHP writes `O` and `P`: sign, hours and minutes, with `separator` between.
fn write_offset(out: &mut String, offset: i32, separator: &str) -> fmt::Result {
    let sign = if offset < 0 { '-' } else { '+' };
    let magnitude = offset.unsigned_abs();
    write!(
        out,
        "{sign}{:02}{separator}{:02}",
        magnitude / 3600,
        magnitude % 3600 / 60
    )
}

/// A non-zero offset as the tz database abbreviates it: `+05` for whole hours, else `+0530`.
fn write_offset_abbreviation(out: &mut String, offset: i32) -> fmt::Result {
    let sign = if offset < 0 { '-' } else { '+' };
    let magnitude = offset.unsigned_abs();
    let (hours, minutes) = (magnitude / 3600, magnitude % 3600 / 60);
    if minutes == 0 {
        write!(out, "{sign}{hours:02}")
    } else {
        write!(out, "{sign}{hours:02}{minutes:02}")
    }
}

/// Read a date as `date_format` accepts it: a documented subset of PHP's `strtotime()`.
///
/// Surrounding ASCII whitespace is ignored. Accepted forms:
///
/// - `@` and whole Unix seconds, possibly negative: `@1795428000`, `@-1`.
/// - `YYYY-MM-DD`, midnight.
/// - `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS` and `YYYY-MM-DD HH:MM:SS.f` (one or more fraction
///   digits, kept to the microsecond as PHP does), each also with `T` in place of the space.
/// - After a time, optionally a zone: `Z` or `z`, a numeric offset `+HH:MM`, `+HHMM` or `+HH`
///   (or with `-`), which may follow a single space, or ` UTC` / ` GMT` (any case).
///
/// Without a zone the time is UTC, the zone this server runs in. Everything else is `None`:
/// impossible calendar dates such as `2026-02-30`, hour 24, a second of 60, a zone after a bare
/// date, one-digit months or days, relative forms such as `tomorrow`, and a bare integer (PHP's
/// `strtotime` does not read one as a timestamp either).
pub(super) fn parse_date(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim_matches(|ch: char| ch.is_ascii_whitespace());
    if let Some(seconds) = text.strip_prefix('@') {
        return parse_unix_seconds(seconds);
    }
    let (year, rest) = fixed_digits(text, 4)?;
    let (month, rest) = fixed_digits(rest.strip_prefix('-')?, 2)?;
    let (day, rest) = fixed_digits(rest.strip_prefix('-')?, 2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN).and_utc().fixed_offset());
    }
    let rest = rest.strip_prefix([' ', 'T'])?;
    let (hour, rest) = fixed_digits(rest, 2)?;
    let (minute, mut rest) = fixed_digits(rest.strip_prefix(':')?, 2)?;
    let mut second = 0;
    let mut micro = 0;
    if let Some(after) = rest.strip_prefix(':') {
        (second, rest) = fixed_digits(after, 2)?;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.len()
                - fraction
                    .trim_start_matches(|ch: char| ch.is_ascii_digit())
                    .len();
            if digits == 0 {
                return None;
            }
            let (fraction, after) = fraction.split_at_checked(digits)?;
            micro = fraction_micros(fraction);
            rest = after;
        }
    }
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micro)?;
    let offset = parse_zone(rest)?;
    date.and_time(time).and_local_timezone(offset).single()
}

/// `@` timestamps: `-?[0-9]+` whole seconds since the Unix epoch, in UTC.
fn parse_unix_seconds(text: &str) -> Option<DateTime<FixedOffset>> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = text.parse().ok()?;
    Some(DateTime::from_timestamp(seconds, 0)?.fixed_offset())
}

/// Exactly `count` ASCII digits at the start of `text` as a number, and the text after them.
fn fixed_digits(text: &str, count: usize) -> Option<(u32, &str)> {
    let (digits, rest) = text.split_at_checked(count)?;
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, rest))
}

/// A decimal fraction's digits as microseconds: the first six digits, padded with zeros.
fn fraction_micros(digits: &str) -> u32 {
    let mut micros = 0;
    let mut bytes = digits.bytes();
    for _ in 0..6 {
        let digit = bytes.next().map_or(0, |byte| u32::from(byte - b'0'));
        micros = micros * 10 + digit;
    }
    micros
}

/// The zone after a time: nothing (UTC), `Z`, `z`, ` UTC`, ` GMT` or a numeric offset.
fn parse_zone(text: &str) -> Option<FixedOffset> {
    if text.is_empty() || text == "Z" || text == "z" {
        return FixedOffset::east_opt(0);
    }
    let numeric = match text.strip_prefix(' ') {
        Some(name) if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("GMT") => {
            return FixedOffset::east_opt(0);
        }
        Some(numeric) => numeric,
        None => text,
    };
    let (negative, unsigned) = match numeric.as_bytes().first() {
        Some(b'+') => (false, numeric.get(1..)?),
        Some(b'-') => (true, numeric.get(1..)?),
        _ => return None,
    };
    let (hours, rest) = fixed_digits(unsigned, 2)?;
    let minutes = match rest {
        "" => 0,
        _ => {
            let (minutes, rest) = fixed_digits(rest.strip_prefix(':').unwrap_or(rest), 2)?;
            if !rest.is_empty() || minutes >= 60 {
                return None;
            }
            minutes
        }
    };
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    FixedOffset::east_opt(if negative { -seconds } else { seconds })
}

/// PHP's `ucfirst()`: the first character in upper case, the rest unchanged.
///
/// Difference: PHP (in its default C locale) changes only the ASCII letters `a`–`z`; this uses
/// Unicode upper case, so `élan` becomes `Élan` and `ß` becomes `SS`.
pub(super) fn ucfirst(text: &str) -> Cow<'_, str> {
    upper_case_word_starts(text, |_| false)
}

/// PHP's `ucwords()` with its default delimiters: the first character of the text, and every
/// character after a space, `\t`, `\r`, `\n`, form feed or vertical tab, in upper case.
///
/// Only those six delimiters start a word, as in PHP (`hello|world` stays `Hello|world`, and other
/// Unicode spaces do not count). Difference: upper case is Unicode's, as for [`ucfirst`], where PHP
/// changes only ASCII letters.
pub(super) fn ucwords(text: &str) -> Cow<'_, str> {
    upper_case_word_starts(text, |ch| {
        matches!(ch, ' ' | '\t' | '\r' | '\n' | '\x0C' | '\x0B')
    })
}

/// Upper-case the first character and each character after one for which `ends_word` holds;
/// borrowed when that changes nothing.
fn upper_case_word_starts(text: &str, ends_word: impl Fn(char) -> bool) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut word_start = true;
    for (at, ch) in text.char_indices() {
        let changes = word_start && ch.is_alphabetic() && !ch.to_uppercase().eq([ch]);
        if changes && out.is_none() {
            let mut started = String::with_capacity(text.len() + 4);
            started.push_str(text.get(..at).unwrap_or_default());
            out = Some(started);
        }
        if let Some(out) = out.as_mut() {
            if changes {
                out.extend(ch.to_uppercase());
            } else {
                out.push(ch);
            }
        }
        word_start = ends_word(ch);
    }
    out.map_or(Cow::Borrowed(text), Cow::Owned)
}

/// Whether a character is whitespace for PCRE's `\s` without the `u` flag: space, `\t`, `\n`,
/// vertical tab, form feed and `\r`.
fn is_pcre_space(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// The CMS's `underscore`, PHP's `preg_replace('/\s+/', '_', $text)`: each run of ASCII
/// whitespace (space, `\t`, `\n`, vertical tab, form feed, `\r`) becomes one `_`.
pub(super) fn underscore(text: &str) -> Cow<'_, str> {
    if !text.contains(is_pcre_space) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for ch in text.chars() {
        if is_pcre_space(ch) {
            if !in_space {
                out.push('_');
            }
            in_space = true;
        } else {
            out.push(ch);
            in_space = false;
        }
    }
    Cow::Owned(out)
}

/// The CMS's `maxwords`: at most `n` words of the text.
///
/// As the CMS does it in PHP: every `&nbsp;` becomes a space, the text is trimmed with PHP's
/// `trim()` and split with `preg_split('/\s+/')`. When that gives `n` pieces or fewer the trimmed
/// text is kept as it is, inner spacing included; otherwise the first `n` pieces are joined with
/// single spaces. `n = 0` gives empty text.
pub(super) fn max_words(text: &str, n: usize) -> Cow<'_, str> {
    if text.contains("&nbsp;") {
        Cow::Owned(max_words_of(&text.replace("&nbsp;", " "), n).into_owned())
    } else {
        max_words_of(text, n)
    }
}

/// `maxwords` on text whose `&nbsp;` entities are already spaces.
fn max_words_of(text: &str, n: usize) -> Cow<'_, str> {
    if n == 0 {
        return Cow::Borrowed("");
    }
    let trimmed = text.trim_matches(PHP_TRIM);
    if pcre_space_split(trimmed).nth(n).is_none() {
        return Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    for (index, word) in pcre_space_split(trimmed).take(n).enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

/// The pieces `preg_split('/\s+/', $text)` gives: the text between runs of PCRE whitespace,
/// including an empty first or last piece when the text starts or ends with whitespace.
fn pcre_space_split(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(is_pcre_space) {
            None => {
                rest = None;
                Some(current)
            }
            Some(start) => {
                let (piece, after) = current.split_at_checked(start)?;
                rest = Some(after.trim_start_matches(is_pcre_space));
                Some(piece)
            }
        }
    })
}

/// PHP's `str_word_count($text, 0, '0123456789')`: how many words the text has.
///
/// Byte by byte, as PHP's C code counts: a word is a run of ASCII letters, ASCII digits, `'` and
/// `-`; every other byte separates words, so each byte of a multi-byte UTF-8 character does. As in
/// PHP, a `'` or `-` that is the text's very first byte, and a `-` that is its very last byte, do
/// not count as word characters.
pub(super) fn word_count(text: &str) -> usize {
    count_words(text.as_bytes(), true)
}

/// `str_word_count` with digits as word characters or not.
fn count_words(bytes: &[u8], digits: bool) -> usize {
    let bytes = match bytes {
        [b'\'' | b'-', rest @ ..] => rest,
        _ => bytes,
    };
    let bytes = match bytes {
        [rest @ .., b'-'] => rest,
        _ => bytes,
    };
    let is_word_byte = |byte: &u8| {
        byte.is_ascii_alphabetic()
            || (digits && byte.is_ascii_digit())
            || matches!(byte, b'\'' | b'-')
    };
    bytes
        .split(|byte| !is_word_byte(byte))
        .filter(|word| !word.is_empty())
        .count()
}

/// Whether a byte is whitespace for C's `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

/// Where PHP's tag stripper is inside the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagState {
    /// Ordinary text, copied.
    Text,
    /// Inside a tag such as `<a href="#">`.
    Tag,
    /// Inside a processing instruction such as `<?php ... ?>`.
    Instruction,
    /// Inside a declaration such as `<!DOCTYPE html>` (until it is recognised) or `<!x>`.
    Declaration,
    /// Inside a comment `<!-- ... -->`.
    Comment,
}

/// PHP's `strip_tags()`: the text without its HTML and PHP tags and comments.
///
/// The same byte-by-byte state machine as PHP's `php_strip_tags_ex`, including its handling of
/// malformed input: a `<` followed by whitespace is kept as text; a tag runs to its `>`, skipping
/// a `>` inside quotes and counting nested `<`; `<!-- ... -->` comments, `<!...>` declarations
/// and `<?...?>` processing instructions are removed; an unterminated tag removes the rest of the
/// text, and so does a `<` that is the text's last character (PHP reads its string's terminating
/// NUL there, which is not whitespace). NUL characters are removed, as PHP removes them.
///
/// `allowed` holds tag names, such as [`allowed_tags`] returns; tags of those names (opening,
/// closing and self-closing) are kept exactly as written. Entities are not decoded.
pub(super) fn strip_tags<'t>(text: &'t str, allowed: &[String]) -> Cow<'t, str> {
    if !text.bytes().any(|byte| byte == b'<' || byte == 0) {
        return Cow::Borrowed(text);
    }
    let buf = text.as_bytes();
    // PHP reads one byte past the end (its terminating NUL) and before positions it has checked.
    let byte_at = |index: usize| buf.get(index).copied().unwrap_or(0);
    let before = |index: usize, back: usize| index.checked_sub(back).map_or(0, byte_at);
    let keep_allowed = !allowed.is_empty();
    let mut out: Vec<u8> = Vec::with_capacity(buf.len());
    let mut tag: Vec<u8> = Vec::new();
    let mut state = TagState::Text;
    let mut depth: usize = 0;
    let mut in_quote: u8 = 0;
    let mut last: u8 = 0;
    let mut brackets: i64 = 0;
    let mut is_xml = false;
    for (p, &c) in buf.iter().enumerate() {
        match state {
            TagState::Text => match c {
                0 => {}
                b'<' if in_quote != 0 => {}
                b'<' if is_c_space(byte_at(p + 1)) => out.push(c),
                b'<' => {
                    last = b'<';
                    state = TagState::Tag;
                    if keep_allowed {
                        tag.push(b'<');
                    }
                }
                b'>' if depth > 0 => depth -= 1,
                b'>' if in_quote != 0 => {}
                _ => out.push(c),
            },
            TagState::Tag => {
                let mut tag_byte = false;
                match c {
                    0 => {}
                    b'<' if in_quote != 0 => {}
                    b'<' if is_c_space(byte_at(p + 1)) => tag_byte = true,
                    b'<' => depth += 1,
                    b'>' if depth > 0 => depth -= 1,
                    b'>' if in_quote != 0 => {}
                    b'>' => {
                        last = b'>';
                        if !(is_xml && before(p, 1) == b'-') {
                            in_quote = 0;
                            state = TagState::Text;
                            is_xml = false;
                            if keep_allowed {
                                tag.push(b'>');
                                if tag_is_allowed(&tag, allowed) {
                                    out.extend_from_slice(&tag);
                                }
                                tag.clear();
                            }
                        }
                    }
                    b'"' | b'\'' => {
                        if p > 0 && (in_quote == 0 || c == in_quote) {
                            in_quote = if in_quote == 0 { c } else { 0 };
                        }
                        tag_byte = true;
                    }
                    b'!' if before(p, 1) == b'<' => {
                        state = TagState::Declaration;
                        last = c;
                    }
                    b'?' if before(p, 1) == b'<' => {
                        brackets = 0;
                        state = TagState::Instruction;
                    }
                    _ => tag_byte = true,
                }
                if tag_byte && keep_allowed {
                    tag.push(c);
                }
            }
            TagState::Instruction => match c {
                b'(' if last != b'"' && last != b'\'' => {
                    last = b'(';
                    brackets += 1;
                }
                b')' if last != b'"' && last != b'\'' => {
                    last = b')';
                    brackets -= 1;
                }
                b'>' if depth > 0 => depth -= 1,
                b'>' if in_quote == 0 && brackets == 0 && last != b'"' && before(p, 1) == b'?' => {
                    state = TagState::Text;
                    tag.clear();
                }
                b'"' | b'\'' if p > 0 && before(p, 1) != b'\\' => {
                    if last == c {
                        last = 0;
                    } else if last != b'\\' {
                        last = c;
                    }
                    if in_quote == 0 || c == in_quote {
                        in_quote = if in_quote == 0 { c } else { 0 };
                    }
                }
                // `<?xml` is markup, not PHP: back to tag state. PHP requires it not to start
                // the text (`p > buf + 4`).
                b'l' | b'L'
                    if p > 4
                        && before(p, 1).eq_ignore_ascii_case(&b'm')
                        && before(p, 2).eq_ignore_ascii_case(&b'x')
                        && before(p, 3) == b'?'
                        && before(p, 4) == b'<' =>
                {
                    state = TagState::Tag;
                    is_xml = true;
                }
                _ => {}
            },
            TagState::Declaration => match c {
                b'>' if depth > 0 => depth -= 1,
                b'>' if in_quote != 0 => {}
                b'>' => {
                    in_quote = 0;
                    state = TagState::Text;
                    tag.clear();
                }
                b'"' | b'\''
                    if p > 0 && before(p, 1) != b'\\' && (in_quote == 0 || c == in_quote) =>
                {
                    in_quote = if in_quote == 0 { c } else { 0 };
                }
                b'-' if before(p, 1) == b'-' && before(p, 2) == b'!' => {
                    state = TagState::Comment;
                }
                // `<!DOCTYPE` is read on as a tag.
                b'e' | b'E' if p > 6 && ends_with_doctyp(buf, p) => state = TagState::Tag,
                _ => {}
            },
            TagState::Comment => {
                if c == b'>' && in_quote == 0 && before(p, 1) == b'-' && before(p, 2) == b'-' {
                    state = TagState::Text;
                    tag.clear();
                }
            }
        }
    }
    if out.len() == buf.len() {
        return Cow::Borrowed(text);
    }
    // Only ASCII bytes and whole runs that start and end at ASCII bytes are removed, so the
    // output is UTF-8; the lossy conversion is never lossy.
    match String::from_utf8(out) {
        Ok(stripped) => Cow::Owned(stripped),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

/// Whether the six bytes before `p` spell `doctyp` in any case.
fn ends_with_doctyp(buf: &[u8], p: usize) -> bool {
    p.checked_sub(6)
        .and_then(|start| buf.get(start..p))
        .is_some_and(|word| word.eq_ignore_ascii_case(b"doctyp"))
}

/// PHP's `php_tag_find`: whether a whole tag (from `<` to `>`) has an allowed name.
///
/// PHP normalises the tag to `<name>`: lower case, leading whitespace skipped, the name ended by
/// whitespace or `>`, and a `/` dropped right after `<` or right before `>` (so `</a>`, `<a/>` and
/// `<a href="#">` are all `<a>`). It then looks for that in the allowed-tags string.
fn tag_is_allowed(tag: &[u8], allowed: &[String]) -> bool {
    let mut normalised: Vec<u8> = Vec::with_capacity(tag.len());
    let mut in_name = false;
    for (index, &byte) in tag.iter().enumerate() {
        let byte = byte.to_ascii_lowercase();
        match byte {
            b'<' => normalised.push(byte),
            b'>' => break,
            _ if is_c_space(byte) => {
                if in_name {
                    break;
                }
            }
            _ => {
                in_name = true;
                let previous = index.checked_sub(1).and_then(|at| tag.get(at));
                let next = tag.get(index + 1);
                if byte != b'/' || (previous != Some(&b'<') && next != Some(&b'>')) {
                    normalised.push(byte);
                }
            }
        }
    }
    // PHP searches for `<name>` in the `<a><b>` string: only an exact name can match there.
    match normalised.split_first() {
        Some((b'<', name)) => allowed
            .iter()
            .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(name)),
        _ => false,
    }
}

/// The tag names in PHP's allowed-tags string form, such as `<a><b>`: lower case, each once.
///
/// As PHP matches a tag wherever `<name>` occurs in the string, each `>` ends the name that
/// starts after the closest `<` before it; text outside `<...>`, empty names and names with
/// whitespace (which no tag can match) are ignored.
pub(super) fn allowed_tags(arg: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = arg;
    while let Some((before, after)) = rest.split_once('>') {
        if let Some((_, name)) = before.rsplit_once('<')
            && !name.is_empty()
            && !name.bytes().any(is_c_space)
        {
            let name = name.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        rest = after;
    }
    names
}

/// PHP's `urlencode()`: every byte but `A-Z a-z 0-9 - _ .` as `%XX` (upper-case hex), and a
/// space as `+`. Unlike [`rawurlencode`], `~` is encoded (`%7E`).
pub(super) fn urlencode(text: &str) -> String {
    percent_encode(text, b"-_.", true)
}

/// PHP's `rawurlencode()` (RFC 3986): every byte but `A-Z a-z 0-9 - _ . ~` as `%XX`
/// (upper-case hex); a space is `%20`.
pub(super) fn rawurlencode(text: &str) -> String {
    percent_encode(text, b"-_.~", false)
}

/// Percent-encode all bytes but ASCII letters, digits and `unreserved`, a space as `+` when
/// `space_as_plus` holds.
fn percent_encode(text: &str, unreserved: &[u8], space_as_plus: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || unreserved.contains(&byte) {
            out.push(char::from(byte));
        } else if byte == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push('%');
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0F));
        }
    }
    out
}

/// The upper-case hexadecimal digit for a value 0 to 15.
fn hex_digit(nibble: u8) -> char {
    char::from(HEX_UPPER[usize::from(nibble & 0x0F)])
}

/// PHP's `urldecode()`: `+` is a space and `%XX` (hex digits in either case) the byte XX; a `%`
/// without two hex digits after it stays as it is. The decoded bytes must be UTF-8 text.
pub(super) fn urldecode(text: &str) -> Result<String, &'static str> {
    percent_decode(text, true).map_err(|_| URLDECODE_NOT_UTF8)
}

/// PHP's `rawurldecode()`: as [`urldecode`], but `+` stays a `+`.
pub(super) fn rawurldecode(text: &str) -> Result<String, &'static str> {
    percent_decode(text, false).map_err(|_| RAWURLDECODE_NOT_UTF8)
}

/// Decode `%XX` escapes (and `+` as a space when `plus_as_space` holds), as PHP's
/// `php_url_decode` does.
fn percent_decode(text: &str, plus_as_space: bool) -> Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = match (byte, bytes.get(index + 1), bytes.get(index + 2)) {
            (b'%', Some(&high), Some(&low)) => hex_value(high).zip(hex_value(low)),
            _ => None,
        };
        if let Some((high, low)) = escaped {
            out.push((high << 4) | low);
            index += 3;
            continue;
        }
        out.push(if byte == b'+' && plus_as_space {
            b' '
        } else {
            byte
        });
        index += 1;
    }
    String::from_utf8(out)
}

/// The value of an ASCII hexadecimal digit in either case.
fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// PHP's non-strict `base64_decode()`. The decoded bytes must be UTF-8 text.
///
/// As PHP does without `$strict`: every character outside `A-Z a-z 0-9 + /` (whitespace, `=`
/// padding wherever it is, anything else) is skipped, the rest is decoded six bits at a time, and
/// bits that do not fill a whole byte at the end (such as a single leftover character) are
/// dropped.
pub(super) fn base64_decode(text: &str) -> Result<String, &'static str> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut bits: u32 = 0;
    let mut bit_count = 0;
    for value in text.bytes().filter_map(base64_value) {
        bits = (bits << 6) | u32::from(value);
        bit_count += 6;
        if bit_count >= 8 {
            bit_count -= 8;
            out.push(((bits >> bit_count) & 0xFF) as u8);
            bits &= (1 << bit_count) - 1;
        }
    }
    String::from_utf8(out).map_err(|_| BASE64_NOT_UTF8)
}

/// The six-bit value of a character of the standard base64 alphabet.
fn base64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A `preg_replace()` replacement string, parsed once: literal text and group references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Replacement {
    pieces: Box<[Piece]>,
}

/// One piece of a [`Replacement`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text copied as it is.
    Literal(Box<str>),
    /// The text a capture group matched (0 is the whole match).
    Group(usize),
}

impl Replacement {
    /// Parse a replacement as PHP's `preg_replace()` reads it (`php_pcre.c`).
    ///
    /// `\N`, `\NN`, `$N`, `$NN`, `${N}` and `${NN}` (one or two ASCII digits) refer to a group.
    /// A `\` or `$` right after a literal `\` replaces that backslash, so `\\` writes `\` and
    /// `\$` writes `$`. Everything else is literal: `$` not followed by a group reference, `\`
    /// followed by anything else, `${1` without its `}`, and a third digit (`$123` is group 12
    /// and then `3`).
    pub(super) fn parse(text: &str) -> Replacement {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut literal = String::new();
        let mut after_backslash = false;
        let mut chars = text.chars();
        loop {
            let rest = chars.as_str();
            let Some(ch) = chars.next() else {
                break;
            };
            if ch == '\\' || ch == '$' {
                if after_backslash {
                    literal.pop();
                    literal.push(ch);
                    after_backslash = false;
                    continue;
                }
                if let Some((group, after)) = group_reference(rest) {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(
                            std::mem::take(&mut literal).into_boxed_str(),
                        ));
                    }
                    pieces.push(Piece::Group(group));
                    chars = after.chars();
                    continue;
                }
            }
            literal.push(ch);
            after_backslash = ch == '\\';
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal.into_boxed_str()));
        }
        Replacement {
            pieces: pieces.into_boxed_slice(),
        }
    }

    /// Append the replacement for one match to `out`. A group that does not exist or did not take
    /// part in the match writes nothing, as in PHP.
    pub(super) fn expand(&self, caps: &Captures<'_>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Group(group) => {
                    if let Some(found) = caps.get(*group) {
                        out.push_str(found.as_str());
                    }
                }
            }
        }
    }
}

/// PHP's `preg_get_backref`: the group number of a reference at the start of `text` (which starts
/// with `\` or `$`) and the text after it.
fn group_reference(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    let (braced, mut end) = match bytes {
        [b'$', b'{', ..] => (true, 2),
        _ => (false, 1),
    };
    let digit = |at: usize| {
        bytes
            .get(at)
            .filter(|byte| byte.is_ascii_digit())
            .map(|byte| usize::from(byte - b'0'))
    };
    let mut group = digit(end)?;
    end += 1;
    if let Some(second) = digit(end) {
        group = group * 10 + second;
        end += 1;
    }
    if braced {
        if bytes.get(end) != Some(&b'}') {
            return None;
        }
        end += 1;
    }
    Some((group, text.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// A moment at a fixed offset (seconds east of UTC).
    fn at(text: &str, offset: i32) -> DateTime<FixedOffset> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .expect("test moment");
        naive
            .and_local_timezone(FixedOffset::east_opt(offset).expect("offset"))
            .single()
            .expect("fixed offsets are unambiguous")
    }

    /// 2026-11-23 10:00:00 UTC, a Monday in ISO week 48.
    fn monday() -> DateTime<FixedOffset> {
        at("2026-11-23 10:00:00", 0)
    }

    /// Owned tag names, as `allowed_tags` returns them.
    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    // PHP manual: date, example "l jS \of F Y h:i:s A".
    #[test]
    fn date_writes_the_manual_s_long_english_form() {
        assert_eq!(
            format_date(monday(), "l jS \\o\\f F Y h:i:s A"),
            "Monday 23rd of November 2026 10:00:00 AM"
        );
    }

    // PHP manual: date, the ISO 8601 (`c`), RFC 2822 (`r`) and Unix (`U`) letters.
    #[test]
    fn date_writes_iso_rfc_and_unix_forms() {
        assert_eq!(format_date(monday(), "c"), "2026-11-23T10:00:00+00:00");
        assert_eq!(
            format_date(monday(), "r"),
            "Mon, 23 Nov 2026 10:00:00 +0000"
        );
        assert_eq!(format_date(monday(), "U"), "1795428000");
        assert_eq!(format_date(monday(), "D, d M Y"), "Mon, 23 Nov 2026");
        assert_eq!(format_date(monday(), "Y-m-d H:i:s"), "2026-11-23 10:00:00");
    }

    // PHP manual: date, `S` "English ordinal suffix for the day of the month".
    #[test]
    fn date_suffixes_follow_english_ordinals() {
        let cases = [
            (1, "1st"),
            (2, "2nd"),
            (3, "3rd"),
            (4, "4th"),
            (11, "11th"),
            (12, "12th"),
            (13, "13th"),
            (21, "21st"),
            (22, "22nd"),
            (23, "23rd"),
            (31, "31st"),
        ];
        for (day, expected) in cases {
            let moment = at(&format!("2026-12-{day:02} 00:00:00"), 0);
            assert_eq!(format_date(moment, "jS"), expected);
        }
    }

    // PHP manual: date, `W` and `o` are the ISO 8601 week and week-numbering year.
    #[test]
    fn date_iso_week_and_year_cross_new_year() {
        assert_eq!(format_date(monday(), "W o"), "48 2026");
        assert_eq!(
            format_date(at("2027-01-01 12:00:00", 0), "D W o Y"),
            "Fri 53 2026 2027"
        );
        assert_eq!(format_date(at("2027-01-04 12:00:00", 0), "W o"), "01 2027");
    }

    #[test]
    fn date_day_numbers_count_as_php_does() {
        let sunday = at("2026-11-22 08:00:00", 0);
        assert_eq!(format_date(sunday, "N w l D"), "7 0 Sunday Sun");
        assert_eq!(format_date(monday(), "N w"), "1 1");
        assert_eq!(format_date(monday(), "z"), "326");
        assert_eq!(format_date(at("2026-01-01 00:00:00", 0), "z"), "0");
        assert_eq!(format_date(at("2028-12-31 00:00:00", 0), "z"), "365");
    }

    #[test]
    fn date_month_length_and_leap_year() {
        let february_2028 = at("2028-02-10 00:00:00", 0);
        assert_eq!(
            format_date(february_2028, "t L F M n m"),
            "29 1 February Feb 2 02"
        );
        assert_eq!(format_date(at("2026-02-10 00:00:00", 0), "t L"), "28 0");
        assert_eq!(format_date(at("2100-02-10 00:00:00", 0), "t L"), "28 0");
        assert_eq!(format_date(at("2000-02-10 00:00:00", 0), "t L"), "29 1");
        assert_eq!(format_date(monday(), "t"), "30");
    }

    #[test]
    fn date_twelve_and_twenty_four_hour_clocks() {
        let midnight = at("2026-11-23 00:05:09", 0);
        assert_eq!(
            format_date(midnight, "g G h H i s a A"),
            "12 0 12 00 05 09 am AM"
        );
        let afternoon = at("2026-11-23 13:45:00", 0);
        assert_eq!(format_date(afternoon, "g G h H a A"), "1 13 01 13 pm PM");
        let noon = at("2026-11-23 12:00:00", 0);
        assert_eq!(format_date(noon, "g h a"), "12 12 pm");
    }

    // PHP manual: date, `B` Swatch Internet time, counted from UTC+1.
    #[test]
    fn date_swatch_beats_count_from_utc_plus_one() {
        assert_eq!(format_date(monday(), "B"), "458");
        assert_eq!(format_date(at("2026-11-23 23:00:00", 0), "B"), "000");
        assert_eq!(format_date(at("2026-11-23 22:59:59", 0), "B"), "999");
        // The beat is the same whatever offset the moment is written in.
        assert_eq!(format_date(at("2026-11-23 15:30:00", 19_800), "B"), "458");
        // Before 1970, as PHP's C remainder works it out.
        assert_eq!(format_date(at("1969-12-31 23:59:59", 0), "B"), "041");
    }

    #[test]
    fn date_fractions_of_a_second() {
        let moment = at("2026-11-23 10:00:00.123456789", 0);
        assert_eq!(format_date(moment, "s.u s.v"), "00.123456 00.123");
        assert_eq!(format_date(monday(), "u v"), "000000 000");
    }

    #[test]
    fn date_zone_letters_for_utc() {
        assert_eq!(
            format_date(monday(), "e T P p O Z I"),
            "UTC UTC +00:00 Z +0000 0 0"
        );
    }

    #[test]
    fn date_zone_letters_for_an_offset() {
        let india = at("2026-11-23 15:30:00", 19_800);
        assert_eq!(
            format_date(india, "e|T|P|p|O|Z|I"),
            "+05:30|+0530|+05:30|+05:30|+0530|19800|0"
        );
        let west = at("2026-11-23 08:00:00", -7_200);
        assert_eq!(
            format_date(west, "e|T|P|p|O|Z"),
            "-02:00|-02|-02:00|-02:00|-0200|-7200"
        );
        assert_eq!(format_date(west, "c"), "2026-11-23T08:00:00-02:00");
        assert_eq!(format_date(west, "r"), "Mon, 23 Nov 2026 08:00:00 -0200");
        assert_eq!(format_date(west, "U"), "1795428000");
        let newfoundland = at("2026-11-23 06:30:00", -12_600);
        assert_eq!(format_date(newfoundland, "T O"), "-0330 -0330");
    }

    // PHP manual: date, `X` and `x` (PHP 8.2), `Y` and `y`.
    #[test]
    fn date_year_forms() {
        assert_eq!(format_date(monday(), "Y|y|X|x"), "2026|26|+2026|2026");
        let far = at("+10000-01-01 00:00:00", 0);
        assert_eq!(format_date(far, "Y|X|x"), "10000|+10000|+10000");
        let early = at("0005-06-07 00:00:00", 0);
        assert_eq!(format_date(early, "Y|y|X|x|o"), "0005|05|+0005|0005|5");
        let before_zero = NaiveDate::from_ymd_opt(-5, 6, 7)
            .expect("date")
            .and_time(NaiveTime::MIN)
            .and_utc()
            .fixed_offset();
        assert_eq!(format_date(before_zero, "Y|y|X|x"), "-0005|-5|-0005|-0005");
        assert_eq!(format_date(before_zero, "c"), "-005-06-07T00:00:00+00:00");
    }

    #[test]
    fn date_escapes_and_unknown_characters() {
        assert_eq!(format_date(monday(), "\\Y\\m\\d: Y"), "Ymd: 2026");
        assert_eq!(format_date(monday(), "\\\\Y"), "\\2026");
        assert_eq!(format_date(monday(), "Q! é 😀 -"), "Q! é 😀 -");
        assert_eq!(format_date(monday(), "\\é"), "é");
        assert_eq!(format_date(monday(), "Y\\"), "2026");
        assert_eq!(format_date(monday(), ""), "");
    }

    #[test]
    fn parse_date_reads_unix_seconds() {
        assert_eq!(parse_date("@0"), Some(at("1970-01-01 00:00:00", 0)));
        assert_eq!(parse_date("@-1"), Some(at("1969-12-31 23:59:59", 0)));
        assert_eq!(parse_date("@1795428000"), Some(monday()));
        assert_eq!(parse_date("  @1795428000\n"), Some(monday()));
    }

    #[test]
    fn parse_date_reads_iso_dates_and_times() {
        assert_eq!(parse_date("2026-11-23"), Some(at("2026-11-23 00:00:00", 0)));
        assert_eq!(parse_date("2026-11-23 10:00"), Some(monday()));
        assert_eq!(parse_date("2026-11-23 10:00:00"), Some(monday()));
        assert_eq!(parse_date("2026-11-23T10:00:00"), Some(monday()));
        assert_eq!(parse_date(" 2026-11-23T10:00:00\t"), Some(monday()));
        assert_eq!(parse_date("2028-02-29"), Some(at("2028-02-29 00:00:00", 0)));
        let fraction = parse_date("2026-11-23 10:00:00.5").expect("fraction");
        assert_eq!(format_date(fraction, "H:i:s.u"), "10:00:00.500000");
        let long = parse_date("2026-11-23 10:00:00.123456789").expect("long fraction");
        assert_eq!(format_date(long, "u"), "123456");
    }

    #[test]
    fn parse_date_reads_zones() {
        let utc = Some(monday());
        assert_eq!(parse_date("2026-11-23T10:00:00Z"), utc);
        assert_eq!(parse_date("2026-11-23T10:00:00z"), utc);
        assert_eq!(parse_date("2026-11-23 10:00:00 UTC"), utc);
        assert_eq!(parse_date("2026-11-23 10:00 GMT"), utc);
        assert_eq!(parse_date("2026-11-23 10:00:00 utc"), utc);
        assert_eq!(parse_date("2026-11-23T10:00:00.000Z"), utc);
        let india = parse_date("2026-11-23T15:30:00+05:30").expect("offset");
        assert_eq!(india, monday());
        assert_eq!(format_date(india, "H:i P"), "15:30 +05:30");
        assert_eq!(parse_date("2026-11-23T15:30:00+0530"), Some(india));
        assert_eq!(parse_date("2026-11-23 15:30:00 +0530"), Some(india));
        let west = parse_date("2026-11-23T08:00-02").expect("hour offset");
        assert_eq!(west, monday());
        assert_eq!(format_date(west, "O"), "-0200");
    }

    #[test]
    fn parse_date_refuses_what_it_does_not_know() {
        let refused = [
            "",
            "   ",
            "@",
            "@-",
            "@+1",
            "@1.5",
            "@ 1",
            "@99999999999999999999",
            "1795428000",
            "17",
            "tomorrow",
            "now",
            "2026-02-30",
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-11-00",
            "2026-1-5",
            "26-11-23",
            "2026/11/23",
            "2026-11-23 24:00",
            "2026-11-23 10:60",
            "2026-11-23 10:00:60",
            "2026-11-23 10",
            "2026-11-23T10:",
            "2026-11-23 10:00:00.",
            "2026-11-23 10:00.5",
            "2026-11-23  10:00",
            "2026-11-23Z",
            "2026-11-23 UTC",
            "2026-11-23T10:00:00+05:60",
            "2026-11-23T10:00:00+24:00",
            "2026-11-23T10:00:00+5",
            "2026-11-23T10:00:00+05:3",
            "2026-11-23T10:00:00 Z",
            "2026-11-23T10:00:00 CET",
            "2026-11-23T10:00:00Zjunk",
            "2026-11-23x",
            "２０２６-11-23",
        ];
        for text in refused {
            assert_eq!(parse_date(text), None, "{text:?}");
        }
    }

    // PHP manual: ucfirst and ucwords examples.
    #[test]
    fn ucfirst_and_ucwords_follow_the_manual() {
        assert_eq!(ucfirst("hello world!"), "Hello world!");
        assert_eq!(ucfirst("HELLO WORLD!"), "HELLO WORLD!");
        assert_eq!(ucwords("hello world!"), "Hello World!");
        assert_eq!(ucwords("HELLO WORLD!"), "HELLO WORLD!");
        assert_eq!(ucwords("hello|world!"), "Hello|world!");
        assert_eq!(ucwords("mike o'hara"), "Mike O'hara");
    }

    #[test]
    fn ucwords_starts_words_only_after_php_s_delimiters() {
        assert_eq!(ucwords("a\tb\rc\nd\x0Ce\x0Bf"), "A\tB\rC\nD\x0CE\x0BF");
        assert_eq!(ucwords("a\u{a0}b a-b a_b"), "A\u{a0}b A-b A_b");
        assert_eq!(ucwords("  two  spaces"), "  Two  Spaces");
        assert_eq!(ucwords("élan vital"), "Élan Vital");
    }

    #[test]
    fn ucfirst_uses_unicode_upper_case() {
        assert_eq!(ucfirst("élan"), "Élan");
        assert_eq!(ucfirst("ßig"), "SSig");
        assert_eq!(ucfirst("1st"), "1st");
        assert_eq!(ucfirst(" hello"), " hello");
        assert_eq!(ucfirst(""), "");
    }

    #[test]
    fn case_functions_borrow_when_nothing_changes() {
        assert!(matches!(ucfirst("Hello world"), Cow::Borrowed(_)));
        assert!(matches!(ucwords("Hello World"), Cow::Borrowed(_)));
        assert!(matches!(ucwords("1 2 3"), Cow::Borrowed(_)));
        assert!(matches!(ucwords("hello"), Cow::Owned(_)));
    }

    #[test]
    fn underscore_replaces_each_whitespace_run() {
        assert_eq!(underscore("a b"), "a_b");
        assert_eq!(underscore("  a \t\r\n b  "), "_a_b_");
        assert_eq!(underscore("a\x0Bb\x0Cc"), "a_b_c");
        assert_eq!(underscore("a\u{a0}b\u{2003}c"), "a\u{a0}b\u{2003}c");
        assert!(matches!(underscore("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn max_words_keeps_the_first_words() {
        assert_eq!(max_words("The quick  brown fox", 2), "The quick");
        assert_eq!(max_words("The quick  brown fox", 4), "The quick  brown fox");
        assert_eq!(max_words("The quick  brown fox", 9), "The quick  brown fox");
        assert_eq!(max_words("The quick  brown fox", 3), "The quick brown");
        assert_eq!(max_words("  The\tquick\n", 1), "The");
        assert_eq!(max_words("  The\tquick\n", 2), "The\tquick");
        assert_eq!(max_words("The quick", 0), "");
        assert_eq!(max_words("", 3), "");
    }

    #[test]
    fn max_words_reads_nbsp_as_a_space() {
        assert_eq!(max_words("one&nbsp;two three", 2), "one two");
        assert_eq!(max_words("&nbsp;one&nbsp;two&nbsp;", 5), "one two");
        assert_eq!(max_words("&nbsp;one&nbsp;two&nbsp;", 1), "one");
    }

    #[test]
    fn max_words_counts_as_preg_split_does() {
        // PHP's trim() keeps a leading form feed, so preg_split gives an empty first piece.
        assert_eq!(max_words("\x0Cone two", 1), "");
        assert_eq!(max_words("\x0Cone two", 2), " one");
        assert!(matches!(max_words("a b", 2), Cow::Borrowed("a b")));
    }

    // PHP manual: str_word_count, "Hello fri3nd, you're looking good today!".
    #[test]
    fn word_count_follows_the_manual() {
        let text = "Hello fri3nd, you're\n       looking          good today!";
        assert_eq!(count_words(text.as_bytes(), false), 7);
        assert_eq!(word_count(text), 6);
    }

    #[test]
    fn word_count_treats_quotes_and_hyphens_as_php_does() {
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("   "), 0);
        assert_eq!(word_count("-"), 0);
        assert_eq!(word_count("'"), 0);
        assert_eq!(word_count("'-"), 0);
        assert_eq!(word_count("'a"), 1);
        assert_eq!(word_count("- a -"), 1);
        assert_eq!(word_count("a - b"), 3);
        assert_eq!(word_count("well-known rock'n'roll"), 2);
        assert_eq!(word_count("2026 was 1 year"), 4);
        // Each byte of a multi-byte character separates words.
        assert_eq!(word_count("café au lait"), 3);
        assert_eq!(word_count("naïve"), 2);
    }

    // PHP manual: strip_tags example.
    #[test]
    fn strip_tags_follows_the_manual() {
        let text = "<p>Test paragraph.</p><!-- Comment --> <a href=\"#fragment\">Other text</a>";
        assert_eq!(strip_tags(text, &[]), "Test paragraph. Other text");
        assert_eq!(
            strip_tags(text, &allowed_tags("<p><a>")),
            "<p>Test paragraph.</p> <a href=\"#fragment\">Other text</a>"
        );
        assert_eq!(
            strip_tags(text, &names(&["p"])),
            "<p>Test paragraph.</p> Other text"
        );
    }

    #[test]
    fn strip_tags_keeps_a_lone_less_than_sign() {
        assert!(matches!(strip_tags("a < b", &[]), Cow::Borrowed("a < b")));
        assert_eq!(strip_tags("a <\tb > c", &[]), "a <\tb > c");
        assert!(matches!(strip_tags("1 > 0", &[]), Cow::Borrowed("1 > 0")));
        assert!(matches!(strip_tags("plain", &[]), Cow::Borrowed("plain")));
    }

    #[test]
    fn strip_tags_handles_quotes_and_unterminated_tags() {
        assert_eq!(strip_tags("a<b title='x>y'>c</b>d", &[]), "acd");
        assert_eq!(strip_tags("a<b title=\"x>y\">c", &[]), "ac");
        assert_eq!(strip_tags("keep <b unterminated", &[]), "keep ");
        // PHP reads the string's terminating NUL after a final `<`, which is not whitespace.
        assert_eq!(strip_tags("a <", &[]), "a ");
        assert_eq!(strip_tags("a<b<c>d>e", &[]), "ae");
        assert_eq!(strip_tags("x\0y<b>\0z", &[]), "xyz");
    }

    #[test]
    fn strip_tags_removes_comments_declarations_and_instructions() {
        assert_eq!(strip_tags("a<!-- <b> -> -- x -->b", &[]), "ab");
        assert_eq!(strip_tags("<!DOCTYPE html><p>hi</p>", &[]), "hi");
        assert_eq!(strip_tags("a<?php echo '?>'; ?>b", &[]), "ab");
        assert_eq!(strip_tags("a<?php f(\"x\") ?>b", &[]), "ab");
        assert_eq!(strip_tags("x<?xml version=\"1.0\"?>y", &[]), "xy");
        assert_eq!(strip_tags("a<!x>b", &[]), "ab");
        assert_eq!(strip_tags("a<!-- never closed", &[]), "a");
    }

    #[test]
    fn strip_tags_keeps_allowed_tags_as_written() {
        let allowed = allowed_tags("<B><br>");
        assert_eq!(
            strip_tags("<B class=x>bold</b><br/><br /><i>it</i>", &allowed),
            "<B class=x>bold</b><br/><br />it"
        );
        assert_eq!(strip_tags("<a/b>x</a>", &names(&["a"])), "x</a>");
        assert_eq!(strip_tags("<abbr>x</abbr>", &names(&["a"])), "x");
        assert_eq!(strip_tags("é<b>ü</b>😀", &names(&["b"])), "é<b>ü</b>😀");
        assert_eq!(strip_tags("é<i>ü</i>😀", &names(&["b"])), "éü😀");
    }

    #[test]
    fn allowed_tags_reads_php_s_string_form() {
        assert_eq!(allowed_tags("<a><b>"), names(&["a", "b"]));
        assert_eq!(allowed_tags("<A><Br><a>"), names(&["a", "br"]));
        assert_eq!(allowed_tags("junk<p>more<<i>>"), names(&["p", "i"]));
        assert_eq!(allowed_tags("<> < x><b"), names(&[]));
        assert_eq!(allowed_tags(""), names(&[]));
    }

    // PHP manual: urlencode and rawurlencode.
    #[test]
    fn url_encoding_follows_the_manual() {
        assert_eq!(rawurlencode("foo @+%/"), "foo%20%40%2B%25%2F");
        assert_eq!(
            rawurlencode("sales and marketing/Miami"),
            "sales%20and%20marketing%2FMiami"
        );
        assert_eq!(urlencode("a b~"), "a+b%7E");
        assert_eq!(rawurlencode("a b~"), "a%20b~");
        assert_eq!(urlencode("Az09-_."), "Az09-_.");
        assert_eq!(urlencode("é&="), "%C3%A9%26%3D");
        assert_eq!(rawurlencode("\n"), "%0A");
    }

    #[test]
    fn url_decoding_follows_php() {
        assert_eq!(urldecode("a+b%20c%7e%7E").as_deref(), Ok("a b c~~"));
        assert_eq!(rawurldecode("a+b%20c").as_deref(), Ok("a+b c"));
        assert_eq!(urldecode("100%").as_deref(), Ok("100%"));
        assert_eq!(urldecode("%zz%4").as_deref(), Ok("%zz%4"));
        assert_eq!(urldecode("%%41").as_deref(), Ok("%A"));
        assert_eq!(urldecode("%C3%A9").as_deref(), Ok("é"));
        assert_eq!(urldecode("é").as_deref(), Ok("é"));
        assert_eq!(urldecode("%FF"), Err(URLDECODE_NOT_UTF8));
        assert_eq!(rawurldecode("%C3"), Err(RAWURLDECODE_NOT_UTF8));
    }

    // PHP manual: base64_decode.
    #[test]
    fn base64_decode_is_forgiving_as_php_is() {
        assert_eq!(base64_decode("YWxpY2U=").as_deref(), Ok("alice"));
        assert_eq!(base64_decode("YWxpY2U").as_deref(), Ok("alice"));
        assert_eq!(base64_decode("YWxp\nY2U=\n").as_deref(), Ok("alice"));
        assert_eq!(
            base64_decode("VGhpcyBpcyBhbiBlbmNvZGVkIHN0cmluZw==").as_deref(),
            Ok("This is an encoded string")
        );
        assert_eq!(base64_decode("YW=xp*Y2U").as_deref(), Ok("alice"));
        // A single leftover character is dropped.
        assert_eq!(base64_decode("YWxpY2Ux").as_deref(), Ok("alice1"));
        assert_eq!(base64_decode("YWxpY2UxQ").as_deref(), Ok("alice1"));
        assert_eq!(base64_decode("").as_deref(), Ok(""));
        assert_eq!(base64_decode("/w=="), Err(BASE64_NOT_UTF8));
    }

    /// `preg_replace` with a parsed replacement, for the tests.
    fn preg_replace(pattern: &str, replacement: &str, subject: &str) -> String {
        let regex = Regex::new(pattern).expect("test pattern");
        let replacement = Replacement::parse(replacement);
        let mut out = String::new();
        let mut copied = 0;
        for caps in regex.captures_iter(subject) {
            let found = caps.get(0).expect("whole match");
            out.push_str(&subject[copied..found.start()]);
            replacement.expand(&caps, &mut out);
            copied = found.end();
        }
        out.push_str(&subject[copied..]);
        out
    }

    // PHP manual: preg_replace, examples #1 and the backreference notes.
    #[test]
    fn replacement_follows_the_manual() {
        assert_eq!(
            preg_replace(r"(\w+) (\d+), (\d+)", "${1}1,$3", "April 15, 2003"),
            "April1,2003"
        );
        assert_eq!(
            preg_replace(
                r"(19|20)(\d{2})-(\d{1,2})-(\d{1,2})",
                r"\3/\4/\1\2",
                "1999-5-27"
            ),
            "5/27/1999"
        );
        assert_eq!(
            preg_replace(r"^\s*\{(\w+)\}\s*=", r"$\1 =", "{startDate} = 1999-5-27"),
            "$startDate = 1999-5-27"
        );
    }

    #[test]
    fn replacement_escapes_backslash_and_dollar() {
        assert_eq!(preg_replace("(b)", r"\\1", "abc"), r"a\1c");
        assert_eq!(preg_replace("(b)", r"\$1", "abc"), "a$1c");
        assert_eq!(preg_replace("(b)", r"\\\1", "abc"), r"a\bc");
        assert_eq!(preg_replace("(b)", r"\x", "abc"), r"a\xc");
        assert_eq!(preg_replace("(b)", r"\\", "abc"), r"a\c");
        assert_eq!(preg_replace("(b)", r"\\\\", "abc"), r"a\\c");
        assert_eq!(preg_replace("(b)", "$", "abc"), "a$c");
        assert_eq!(preg_replace("(b)", "\\", "abc"), "a\\c");
    }

    #[test]
    fn replacement_reads_one_or_two_digit_groups() {
        assert_eq!(preg_replace("(b)", "[$0|\\0|${0}]", "abc"), "a[b|b|b]c");
        assert_eq!(preg_replace("(b)", "$10", "abc"), "ac");
        assert_eq!(preg_replace("(b)", "${1}0", "abc"), "ab0c");
        assert_eq!(preg_replace("(b)", "$011", "abc"), "ab1c");
        assert_eq!(preg_replace("(b)", "${1", "abc"), "a${1c");
        assert_eq!(preg_replace("(b)", "${}", "abc"), "a${}c");
        assert_eq!(preg_replace("(b)", "${123}", "abc"), "a${123}c");
        assert_eq!(preg_replace("(b)", r"\{1}", "abc"), r"a\{1}c");
        assert_eq!(preg_replace("(b)|(x)", "[$2]", "abc"), "a[]c");
        assert_eq!(preg_replace("(b)", "é$1é", "abc"), "aébéc");
    }

    #[test]
    fn replacement_merges_literal_text() {
        let parsed = Replacement::parse(r"a\\b\$c$1d");
        assert_eq!(
            parsed.pieces.as_ref(),
            [
                Piece::Literal(r"a\b$c".into()),
                Piece::Group(1),
                Piece::Literal("d".into())
            ]
        );
    }
}
