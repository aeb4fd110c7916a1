//! `%globals_get_<name>%`: a request (query) parameter the asset declares, already checked
//! against its pattern by the token path; here, how it renders and that it cannot inject.

use super::Fixture;
use crate::keywords::PayloadTemplate;

#[test]
fn a_request_parameter_renders_like_any_text_keyword() {
    let f = Fixture::alice()
        .with_param("room", "team-7")
        .with_param("n", "42");
    assert_eq!(
        f.render(r#"{"room": "%globals_get_room%", "sub": "%globals_user_attribute_username%"}"#),
        r#"{"room":"team-7","sub":"alice"}"#
    );
    assert_eq!(
        f.render(r#"{"r": %globals_get_room^json_encode%, "u": "%globals_get_room^uppercase%"}"#),
        r#"{"r":"team-7","u":"TEAM-7"}"#
    );
    // A number in a value position is a number, as for attributes.
    assert_eq!(f.render(r#"{"n": %globals_get_n%}"#), r#"{"n":42}"#);
    // Declared but not given (the admin preview): empty text.
    assert_eq!(f.render(r#"{"x": "%globals_get_other%"}"#), r#"{"x":""}"#);
}

#[test]
fn a_request_parameter_cannot_inject_json() {
    let attack = r#"", "admin": true, "x": ""#;
    let f = Fixture::alice().with_param("room", attack);
    let out = f.render(r#"{"room": "%globals_get_room%", "r": %globals_get_room^json_encode%}"#);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["room"], attack);
    assert_eq!(v["r"], attack);
    assert!(v.get("admin").is_none());
    // Text in a value position is a render error, never spliced in.
    let e = f.render_error(r#"{"room": %globals_get_room%}"#);
    assert_eq!(e.keyword, "globals_get_room");
    assert!(!e.message.contains("admin"), "{e}");
}

#[test]
fn the_template_lists_the_parameters_it_reads_where_it_first_reads_them() {
    let t = PayloadTemplate::compile(
        "{\n  \"a\": \"%globals_get_room%\",\n  \"b\": [\"%globals_get_team^lowercase%\", \"%globals_get_room%\"]\n}",
    )
    .unwrap();
    assert_eq!(t.request_params(), vec![("room", 2, 9), ("team", 3, 10)]);
    // `globals_get_` alone names no parameter.
    let e = PayloadTemplate::compile(r#"{"a": "%globals_get_%"}"#).unwrap_err();
    assert!(e.message.contains("unknown keyword"), "{e}");
}
