//! String versus value position, and why a value can never splice JSON into the output.

use super::{Fixture, parse_json, render};

#[test]
fn a_value_position_accepts_only_json_scalars() {
    for (value, expected) in [
        ("true", "true"),
        ("false", "false"),
        ("null", "null"),
        ("-0", "-0"),
        ("12.5e-3", "12.5e-3"),
        ("1E+9", "1E+9"),
    ] {
        let fixture = Fixture::alice().with_attribute("x", value);
        assert_eq!(
            fixture.render(r#"{"v": %globals_user_attribute_x%}"#),
            format!("{{\"v\":{expected}}}")
        );
    }
    let forty_digits = "1".repeat(40);
    let fixture = Fixture::alice().with_attribute("x", &forty_digits);
    assert_eq!(
        fixture.render(r#"{"v": %globals_user_attribute_x%}"#),
        format!("{{\"v\":{forty_digits}}}")
    );
    for value in [
        "",
        "True",
        "01",
        "1.",
        ".5",
        "+1",
        "0x10",
        " 1",
        "1 ",
        "NaN",
        "Infinity",
        "1e",
        "--1",
        "[1]",
        "{}",
        "\"a\"",
        "1,2",
        "1".repeat(41).as_str(),
    ] {
        let fixture = Fixture::alice().with_attribute("x", value);
        let error = fixture.render_error(r#"{"v": %globals_user_attribute_x%}"#);
        assert!(
            error.message.contains("value position"),
            "{value:?}: {error}"
        );
    }
}

// Found by the `template` fuzz target: a bare `1e400` attribute rendered as a number that
// serde_json (the debugger, a preset's checks) refuses as out of range.
#[test]
fn a_value_position_number_too_large_for_json_readers_is_a_render_error() {
    for value in ["1e400", "-2E+308", "1.9e308"] {
        let fixture = Fixture::alice().with_attribute("x", value);
        let error = fixture.render_error(r#"{"v": %globals_user_attribute_x%}"#);
        assert!(error.message.contains("too large"), "{value:?}: {error}");
        assert!(!error.to_string().contains(value), "never the user's data");
        assert_eq!(
            fixture.render(r#"{"v": %globals_user_attribute_x^json_encode%}"#),
            format!("{{\"v\":\"{value}\"}}")
        );
    }
    let fixture = Fixture::alice().with_attribute("x", "1.7e308");
    assert_eq!(
        fixture.render(r#"{"v": %globals_user_attribute_x%}"#),
        "{\"v\":1.7e308}"
    );
}

#[test]
fn literals_are_copied_verbatim_and_whitespace_is_dropped() {
    let template = "{\n  \"a\" : [ 1 , -2.5e+3 , true , false , null , { } , [ ] ] ,\n  \"b\" : { \"c\\u0021\" : \"x\\/y\\n\\u00e9\" , \"d\" : [ \"%asset_assetid%\" , %globals_user_groups% ] }\n}\n";
    assert_eq!(
        render(template),
        r#"{"a":[1,-2.5e+3,true,false,null,{},[]],"b":{"c\u0021":"x\/y\n\u00e9","d":["a-77",["staff","ops"]]}}"#
    );
}

#[test]
fn an_escaped_percent_never_starts_a_keyword() {
    let out = render(r#"{"a": "\u0025asset_name%", "\u0025asset_name%": 1}"#);
    assert_eq!(out, r#"{"a":"\u0025asset_name%","\u0025asset_name%":1}"#);
    let parsed = parse_json(&out);
    assert_eq!(parsed["a"], "%asset_name%");
    assert_eq!(parsed["%asset_name%"], 1);
    // Escaping the closing percent instead leaves text a reader takes for a keyword: refused.
    super::assert_compile_error(
        r#"{"b": "%asset_name\u0025"}"#,
        1,
        8,
        "looks like a keyword",
    );
}

#[test]
fn an_empty_object_renders_as_an_empty_object() {
    assert_eq!(render(" {  } "), "{}");
}

#[test]
fn a_quote_in_a_first_name_cannot_add_a_claim() {
    let attack = r#"", "admin": true, "x": ""#;
    let mallory = Fixture::alice().with_attribute("first_name", attack);
    let out = mallory.render(r#"{"given_name": "%globals_user_attribute_first_name%", "sub": "%globals_user_attribute_username^json_encode%"}"#);
    let parsed = parse_json(&out);
    let claims = parsed.as_object().unwrap();
    assert_eq!(claims.len(), 2);
    assert_eq!(claims["given_name"], attack);
    assert!(!claims.contains_key("admin"));
    let out = mallory.render(r#"{"given_name": %globals_user_attribute_first_name^json_encode%}"#);
    let parsed = parse_json(&out);
    assert_eq!(parsed.as_object().unwrap().len(), 1);
    assert_eq!(parsed["given_name"], attack);
}

#[test]
fn a_quote_in_a_value_position_is_a_render_error_not_spliced_json() {
    let attack = r#"", "admin": true, "x": ""#;
    let mallory = Fixture::alice().with_attribute("first_name", attack);
    let error = mallory.render_error(r#"{"given_name": %globals_user_attribute_first_name%}"#);
    assert_eq!((error.line, error.column), (1, 16));
    assert!(error.message.contains("value position"));
    let mallory = Fixture::alice().with_attribute("first_name", r#"1, "admin": true"#);
    let error = mallory.render_error(r#"{"n": %globals_user_attribute_first_name%}"#);
    assert!(error.message.contains("value position"));
    assert!(!error.to_string().contains("admin"), "{error}");
}

#[test]
fn group_names_cannot_break_out_of_the_array() {
    let fixture = Fixture::alice().with_groups(&[r#"a"],"admin":true,"x":["#, "b\\", ""]);
    let out = fixture.render(r#"{"g": %globals_user_groups%, "s": "%globals_user_groups%"}"#);
    let parsed = parse_json(&out);
    assert_eq!(parsed.as_object().unwrap().len(), 2);
    assert_eq!(
        parsed["g"],
        serde_json::json!([r#"a"],"admin":true,"x":["#, "b\\", ""])
    );
    assert_eq!(parsed["s"], r#"a"],"admin":true,"x":[,b\,"#);
}

#[test]
fn control_characters_in_values_are_escaped() {
    let fixture =
        Fixture::alice().with_attribute("x", "a\u{0}\u{1f}\u{8}\u{c}\n\r\t\u{7f}\u{2028}b");
    assert_eq!(
        fixture.render(r#"{"v": "%globals_user_attribute_x%"}"#),
        "{\"v\":\"a\\u0000\\u001f\\b\\f\\n\\r\\t\u{7f}\u{2028}b\"}"
    );
}
