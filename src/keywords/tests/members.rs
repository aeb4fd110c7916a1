//! render_members and its skip list, claim names, and what a compiled template keeps.

use super::Fixture;
use crate::keywords::PayloadTemplate;

#[test]
fn render_members_skips_claims_by_decoded_name() {
    let template = PayloadTemplate::compile(
        r#"{"\u0069at": 1, "sub": "%globals_user_attribute_username%", "exp": 2, "name": "%globals_user_name%", "nbf": 3}"#,
    )
    .unwrap();
    let alice = Fixture::alice();
    let mut out = String::from("{\"iat\":99,");
    let written = template
        .render_members(&alice.ctx(), &["iat", "exp", "nbf"], &mut out)
        .unwrap();
    assert_eq!(written, 2);
    out.push('}');
    assert_eq!(out, r#"{"iat":99,"sub":"alice","name":"Ann \"Jo\" Lee"}"#);

    let mut all = String::new();
    assert_eq!(
        template
            .render_members(&alice.ctx(), &[], &mut all)
            .unwrap(),
        5
    );
    assert_eq!(
        all,
        r#""\u0069at":1,"sub":"alice","exp":2,"name":"Ann \"Jo\" Lee","nbf":3"#
    );

    let mut none = String::new();
    let every = ["iat", "sub", "exp", "name", "nbf"];
    assert_eq!(
        template
            .render_members(&alice.ctx(), &every, &mut none)
            .unwrap(),
        0
    );
    assert_eq!(none, "");
}

#[test]
fn a_skipped_claim_is_not_evaluated() {
    let template =
        PayloadTemplate::compile(r#"{"exp": %globals_user_attribute_first_name%, "a": 1}"#)
            .unwrap();
    let alice = Fixture::alice();
    let mut out = String::new();
    assert_eq!(
        template
            .render_members(&alice.ctx(), &["exp"], &mut out)
            .unwrap(),
        1
    );
    assert_eq!(out, r#""a":1"#);
}

#[test]
fn a_failed_render_leaves_the_output_as_it_was() {
    let template = PayloadTemplate::compile(
        r#"{"a": "%asset_name%", "b": %globals_user_attribute_first_name%}"#,
    )
    .unwrap();
    let alice = Fixture::alice();
    let mut out = String::from("{\"iat\":1,");
    let error = template
        .render_members(&alice.ctx(), &[], &mut out)
        .unwrap_err();
    assert_eq!(error.keyword, "globals_user_attribute_first_name");
    assert_eq!(out, "{\"iat\":1,");
}

#[test]
fn claim_names_are_decoded_and_in_template_order() {
    let template =
        PayloadTemplate::compile(r#"{"z": 1, "\u00e9t\u00e9": {"inner": 2}, "a\"b": [3]}"#)
            .unwrap();
    let names: Vec<&str> = template.claim_names().collect();
    assert_eq!(names, ["z", "été", "a\"b"]);
}

#[test]
fn the_source_is_kept() {
    let source = "{ \"a\" : \"%asset_name%\" }\n";
    assert_eq!(PayloadTemplate::compile(source).unwrap().source(), source);
}

#[test]
fn a_template_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<PayloadTemplate>();
}
