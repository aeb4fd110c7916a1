//! Compile errors, each at its line and column, and how errors display.

use super::{Fixture, assert_compile_error, compile_error, render};
use crate::keywords::PayloadTemplate;

#[test]
fn invalid_json_is_refused_at_the_offending_token() {
    assert_compile_error("{\"a\" 1}", 1, 6, "expected ':'");
    assert_compile_error("{\"a\": 1 \"b\": 2}", 1, 9, "expected ',' or '}'");
    assert_compile_error("{\"a\": 1,}", 1, 9, "trailing comma");
    assert_compile_error("{\"a\": [1,]}", 1, 10, "trailing comma");
    assert_compile_error("{\"a\": [1 2]}", 1, 10, "expected ',' or ']'");
    assert_compile_error("{\"a\": tru}", 1, 7, "expected a value");
    assert_compile_error("{\"a\": }", 1, 7, "expected a value");
    assert_compile_error("{\"a\": 01}", 1, 7, "invalid number");
    assert_compile_error("{\"a\": 1.}", 1, 7, "invalid number");
    assert_compile_error("{\"a\": -}", 1, 7, "invalid number");
    assert_compile_error("{\"a\": 1e+}", 1, 7, "invalid number");
    assert_compile_error("{a: 1}", 1, 2, "expected a name in double quotes");
    assert_compile_error("{'a': 1}", 1, 2, "expected a name in double quotes");
    assert_compile_error("{\"a\": 1", 1, 8, "expected ',' or '}'");
    assert_compile_error("{\"a\": \"b}", 1, 7, "unterminated string");
    assert_compile_error("{\"a\":\n  [1, 2}", 2, 8, "expected ',' or ']'");
}

// Found by the `template` fuzz target: `{"+":5e332}` compiled, and every token from it carried
// a number serde_json (the debugger, a preset's checks) refuses as out of range.
#[test]
fn a_number_too_large_for_json_readers_is_refused() {
    assert_compile_error("{\"+\":5e332}", 1, 6, "too large");
    assert_compile_error("{\"a\": [-1E+309]}", 1, 8, "too large");
    let digits = format!("{{\"a\": {}}}", "9".repeat(400));
    assert_compile_error(&digits, 1, 7, "too large");
    assert_eq!(
        render("{\"a\": 1.7e308, \"b\": 1e-400, \"c\": -0}"),
        "{\"a\":1.7e308,\"b\":1e-400,\"c\":-0}"
    );
}

#[test]
fn the_top_level_must_be_an_object() {
    assert_compile_error("", 1, 1, "empty");
    assert_compile_error(" \n ", 2, 2, "empty");
    assert_compile_error("[1]", 1, 1, "must be a JSON object");
    assert_compile_error("  \"sub\"", 1, 3, "must be a JSON object");
    assert_compile_error("%globals_user_groups%", 1, 1, "must be a JSON object");
}

#[test]
fn trailing_content_is_refused() {
    assert_compile_error("{}\n {}", 2, 2, "after the end of the top-level object");
    assert_compile_error("{\"a\": 1} x", 1, 10, "after the end");
}

#[test]
fn duplicate_names_are_compared_decoded() {
    assert_compile_error(
        "{\"iat\": 1,\n \"\\u0069at\": 2}",
        2,
        2,
        "duplicate name \"iat\"",
    );
    assert_compile_error(
        "{\"a\": {\"b\": 1, \"b\": 2}}",
        1,
        16,
        "duplicate name \"b\"",
    );
    assert!(
        PayloadTemplate::compile("{\"a\": {\"a\": {\"a\": 1}}, \"b\": [{\"a\": 1}, {\"a\": 2}]}")
            .is_ok()
    );
}

#[test]
fn unknown_keywords_and_modifiers_are_refused() {
    assert_compile_error("{\"a\": %no_such%}", 1, 7, "unknown keyword \"no_such\"");
    assert_compile_error(
        "{\"a\": \"%globals_user_attribute_%\"}",
        1,
        8,
        "unknown keyword",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^lowercase^shout%\"}",
        1,
        30,
        "unknown modifier \"shout\"",
    );
    assert_compile_error("{\"a\": \"%asset_name^%\"}", 1, 20, "unknown modifier \"\"");
}

#[test]
fn wrong_argument_counts_are_refused_at_the_modifier() {
    assert_compile_error(
        "{\"a\": \"%asset_name^eq%\"}",
        1,
        20,
        "eq takes 1 to 3 arguments, got 0",
    );
    assert_compile_error("{\"a\": \"%asset_name^eq:a:b:c:d%\"}", 1, 20, "got 4");
    assert_compile_error(
        "{\"a\": \"%asset_name^lowercase:x%\"}",
        1,
        20,
        "lowercase takes no arguments, got 1",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^empty%\"}",
        1,
        20,
        "empty takes exactly 1 argument, got 0",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^replace:x%\"}",
        1,
        20,
        "replace takes exactly 2 arguments",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^contains%\"}",
        1,
        20,
        "contains takes 1 to 3 arguments",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^json_encode:%\"}",
        1,
        20,
        "json_encode takes no arguments",
    );
}

#[test]
fn an_invalid_regex_is_refused_at_the_pattern() {
    assert_compile_error(
        "{\"a\": \"%asset_name^replace:(ab:x%\"}",
        1,
        28,
        "invalid regular expression",
    );
    let huge = r#"{"a": "%asset_name^replace:\w{1000}\w{1000}\w{1000}:x%"}"#;
    assert_compile_error(huge, 1, 28, "invalid regular expression");
}

#[test]
fn non_integer_arguments_are_refused_where_integers_are_needed() {
    assert_compile_error(
        "{\"a\": \"%asset_name^maxchars:ten%\"}",
        1,
        29,
        "whole number",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^maxchars:-1%\"}",
        1,
        29,
        "whole number",
    );
    assert_compile_error(
        "{\"a\": \"%globals_user_groups^maxwords:1.5%\"}",
        1,
        38,
        "whole number",
    );
    assert_compile_error("{\"a\": \"%asset_name^add:one%\"}", 1, 24, "needs a number");
    assert_compile_error(
        "{\"a\": \"%asset_name^subtract:1e3%\"}",
        1,
        29,
        "needs a number",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^explode:%\"}",
        1,
        28,
        "non-empty separator",
    );
}

#[test]
fn json_encode_must_be_the_last_modifier() {
    assert_compile_error(
        "{\"a\": %asset_name^json_encode^lowercase%}",
        1,
        19,
        "json_encode must be the last modifier",
    );
}

#[test]
fn an_unterminated_keyword_is_refused_at_its_start() {
    assert_compile_error(
        "{\"a\": \"x %asset_name^lowercase\"}",
        1,
        10,
        "unterminated keyword",
    );
    // `\"` inside a keyword stands for a quote (the CMS's patterns have them); a bare `"`
    // ends the string first.
    assert_compile_error(
        "{\"a\": \"%asset_name^append:\"%\"}",
        1,
        8,
        "unterminated keyword",
    );
    assert_compile_error(
        "{\"a\":\n %asset_name^lowercase\n}",
        2,
        2,
        "unterminated keyword",
    );
    assert_compile_error(
        "{\"a\": %asset_name^lowercase",
        1,
        7,
        "unterminated keyword",
    );
    assert_compile_error(
        "{\"a\": \"%asset_name^append:x\\%\"}",
        1,
        8,
        "unterminated keyword",
    );
}

#[test]
fn a_percent_in_a_value_position_must_start_a_keyword() {
    assert_compile_error("{\"a\": %%}", 1, 7, "must start a keyword");
    assert_compile_error("{\"a\": % asset_name%}", 1, 7, "must start a keyword");
    assert_compile_error(
        "{\"a\": %asset_name%%asset_name%}",
        1,
        19,
        "expected ',' or '}'",
    );
}

#[test]
fn keywords_in_claim_names_are_refused() {
    assert_compile_error(
        "{\"%asset_name%\": 1}",
        1,
        3,
        "keywords are not allowed in claim names",
    );
    assert_compile_error(
        "{\"a\": {\"x-%asset_name^lowercase%\": 1}}",
        1,
        11,
        "not allowed in claim names",
    );
    assert_compile_error("{%asset_name%: 1}", 1, 2, "not allowed in claim names");
    assert!(PayloadTemplate::compile("{\"50%\": 1, \"%\": 2}").is_ok());
}

#[test]
fn control_characters_in_strings_are_refused() {
    assert_compile_error("{\"a\": \"x\ty\"}", 1, 9, "control character");
    assert_compile_error("{\"a\": \"x\ny\"}", 1, 9, "control character");
    assert_compile_error("{\"a\u{1}\": 1}", 1, 4, "control character");
    assert_compile_error(
        "{\"a\": \"%asset_name^append:\u{1}%\"}",
        1,
        27,
        "control character",
    );
}

#[test]
fn invalid_escapes_are_refused_at_the_backslash() {
    assert_compile_error("{\"a\": \"x\\qy\"}", 1, 9, "invalid escape");
    assert_compile_error("{\"a\": \"\\u12\"}", 1, 8, "4 hex digits");
    assert_compile_error("{\"a\": \"\\u12G4\"}", 1, 8, "4 hex digits");
    assert_compile_error("{\"\\x\": 1}", 1, 3, "invalid escape");
    assert_compile_error("{\"a\": \"\\ud800\"}", 1, 8, "surrogate");
    assert_compile_error("{\"a\": \"\\udc00\\ud800\"}", 1, 8, "surrogate");
    assert_compile_error("{\"a\": \"\\ud800\\u0041\"}", 1, 8, "surrogate");
    assert_eq!(
        render("{\"a\": \"\\ud83d\\ude00\"}"),
        "{\"a\":\"\\ud83d\\ude00\"}"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_compile_error("{\"été😀\": \"%nope%\"}", 1, 11, "unknown keyword");
    assert_compile_error(
        "{\"a\": \"😀😀\",\n \"b\": \"€€ %nope%\"}",
        2,
        11,
        "unknown keyword",
    );
}

#[test]
fn unicode_text_renders_unchanged() {
    let fixture = Fixture::alice().with_attribute("first_name", "Zoë 😀 中文");
    assert_eq!(
        fixture.render("{\"名前\": \"→ %globals_user_attribute_first_name% ←\"}"),
        "{\"名前\":\"→ Zoë 😀 中文 ←\"}"
    );
}

#[test]
fn errors_display_their_location_first() {
    assert_eq!(
        compile_error("{\n\"a\": %nope%}").to_string(),
        "line 2, column 6: unknown keyword \"nope\" (to write it as text, write its first % as \\u0025)"
    );
    let error = Fixture::alice().render_error("{\"n\": %asset_name%}");
    assert_eq!(
        error.to_string(),
        "line 1, column 7: keyword asset_name: produced text in a value position; wrap it in quotes or add ^json_encode"
    );
}
