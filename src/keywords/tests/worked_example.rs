//! The DESIGN "Payload templates" worked-example table, row by row.

use super::{Fixture, assert_compile_error, render};
use crate::keywords::RenderError;

#[test]
fn a_first_name_in_a_string_is_escaped_as_string_content() {
    assert_eq!(
        render(r#"{"n": "%globals_user_attribute_first_name%"}"#),
        r#"{"n":"Ann \"Jo\""}"#
    );
}

#[test]
fn json_encode_inside_a_string_does_not_escape_twice() {
    assert_eq!(
        render(r#"{"n": "%globals_user_attribute_first_name^json_encode%"}"#),
        r#"{"n":"Ann \"Jo\""}"#
    );
}

#[test]
fn json_encode_in_a_value_position_makes_a_string() {
    assert_eq!(
        render(r#"{"n": %globals_user_attribute_first_name^json_encode%}"#),
        r#"{"n":"Ann \"Jo\""}"#
    );
}

#[test]
fn text_in_a_value_position_is_a_render_error() {
    let error = Fixture::alice().render_error("{\n  \"n\": %globals_user_attribute_first_name%\n}");
    assert_eq!(
        error,
        RenderError {
            line: 2,
            column: 8,
            keyword: "globals_user_attribute_first_name".to_owned(),
            message: "produced text in a value position; wrap it in quotes or add ^json_encode"
                .to_owned(),
        }
    );
}

#[test]
fn a_numeric_attribute_in_a_value_position_is_a_number() {
    assert_eq!(
        render(r#"{"age": %globals_user_attribute_age%}"#),
        r#"{"age":42}"#
    );
}

#[test]
fn eq_turns_write_access_into_a_boolean() {
    assert_eq!(
        render(r#"{"admin": %asset_has_write_access^eq:1:true:false%}"#),
        r#"{"admin":false}"#
    );
}

#[test]
fn groups_in_a_value_position_are_an_array_of_strings() {
    assert_eq!(
        render(r#"{"groups": %globals_user_groups%}"#),
        r#"{"groups":["staff","ops"]}"#
    );
}

#[test]
fn groups_in_a_string_are_joined_with_commas() {
    assert_eq!(
        render(r#"{"groups": "%globals_user_groups%"}"#),
        r#"{"groups":"staff,ops"}"#
    );
}

#[test]
fn a_percent_sign_that_starts_no_keyword_is_literal_text() {
    assert_eq!(render(r#"{"sale": "50% off"}"#), r#"{"sale":"50% off"}"#);
    assert_eq!(
        render(r#"{"a": "100%", "b": "a%%b", "c": "%", "d": "%1A%", "e": "% x%"}"#),
        r#"{"a":"100%","b":"a%%b","c":"%","d":"%1A%","e":"% x%"}"#
    );
    assert_eq!(render(r#"{"f": "50%^off"}"#), r#"{"f":"50%^off"}"#);
}

#[test]
fn an_unknown_keyword_is_refused_with_its_location() {
    assert_compile_error(
        "{\n  \"x\": \"%no_such_keyword%\"\n}",
        2,
        9,
        "unknown keyword \"no_such_keyword\"",
    );
}

#[test]
fn a_keyword_in_an_attribute_value_comes_out_literally() {
    let alice = Fixture::alice().with_attribute("first_name", "%asset_name%");
    assert_eq!(
        alice.render(r#"{"n": "%globals_user_attribute_first_name%", "m": %globals_user_attribute_first_name^json_encode%}"#),
        r#"{"n":"%asset_name%","m":"%asset_name%"}"#
    );
}
