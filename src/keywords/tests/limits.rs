//! The caps on template size, nesting depth and keyword count.

use super::{assert_compile_error, compile_error, parse_json, render};
use crate::keywords::{MAX_DEPTH, MAX_KEYWORDS, MAX_TEMPLATE_BYTES, PayloadTemplate};

#[test]
fn a_template_at_the_size_cap_compiles_and_one_byte_more_does_not() {
    let frame = "{\"a\": \"\"}".len();
    let exact = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_TEMPLATE_BYTES - frame));
    assert_eq!(exact.len(), MAX_TEMPLATE_BYTES);
    assert!(PayloadTemplate::compile(&exact).is_ok());
    let over = format!(
        "{{\"a\": \"{}\"}}",
        "x".repeat(MAX_TEMPLATE_BYTES - frame + 1)
    );
    assert_compile_error(
        &over,
        1,
        MAX_TEMPLATE_BYTES + 1,
        "larger than the limit of 65536 bytes",
    );
    let multibyte = format!("{{\"a\": \"{}\"}}", "é".repeat(MAX_TEMPLATE_BYTES / 2));
    let error = compile_error(&multibyte);
    assert_eq!(error.line, 1);
    assert!(error.message.contains("larger than"));
}

#[test]
fn nesting_is_capped_at_max_depth() {
    let nested = |levels: usize| {
        let inner = "[".repeat(levels - 1) + &"]".repeat(levels - 1);
        format!("{{\"a\": {inner}}}")
    };
    assert!(PayloadTemplate::compile(&nested(MAX_DEPTH)).is_ok());
    assert_compile_error(
        &nested(MAX_DEPTH + 1),
        1,
        6 + MAX_DEPTH,
        "nested deeper than 32 levels",
    );
    let objects = "{\"a\":".repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1);
    assert_compile_error(&objects, 1, 5 * MAX_DEPTH + 1, "nested deeper");
}

#[test]
fn keywords_are_capped_at_max_keywords() {
    let template = |count: usize| {
        let items = vec!["\"%asset_assetid%\""; count].join(",");
        format!("{{\"a\": [{items}]}}")
    };
    let rendered = render(&template(MAX_KEYWORDS));
    assert_eq!(
        parse_json(&rendered)["a"].as_array().unwrap().len(),
        MAX_KEYWORDS
    );
    assert_compile_error(
        &template(MAX_KEYWORDS + 1),
        1,
        9 + 18 * MAX_KEYWORDS,
        "more than 256 keywords",
    );
}
