//! Each modifier's transform, how modifiers chain, and the cap on what they produce.

use super::{Fixture, render_v};
use crate::keywords::MAX_VALUE_BYTES;

#[test]
fn json_encode_makes_a_list_an_array_and_leaves_string_text_alone() {
    assert_eq!(
        render_v("%globals_user_groups^json_encode%"),
        r#"["staff","ops"]"#
    );
    assert_eq!(
        render_v("%globals_user_attribute_age^json_encode%"),
        r#""42""#
    );
    assert_eq!(
        render_v("\"%globals_user_groups^json_encode%\""),
        r#""staff,ops""#
    );
}

#[test]
fn eq_and_neq_choose_between_then_and_else() {
    assert_eq!(
        render_v("\"%globals_user_attribute_age^eq:42:yes:no%\""),
        r#""yes""#
    );
    assert_eq!(
        render_v("\"%globals_user_attribute_age^eq:41:yes:no%\""),
        r#""no""#
    );
    assert_eq!(
        render_v("\"%globals_user_attribute_age^eq:41:yes%\""),
        r#""""#
    );
    assert_eq!(
        render_v("\"%globals_user_attribute_age^neq:41:yes:no%\""),
        r#""yes""#
    );
    assert_eq!(
        render_v("\"%globals_user_attribute_age^neq:42:yes%\""),
        r#""""#
    );
    assert_eq!(render_v("%globals_user_groups^eq:staff,ops:1:0%"), "1");
}

#[test]
fn empty_supplies_a_fallback_only_for_empty_values() {
    let fixture = Fixture::alice().with_attribute("nick", "").with_groups(&[]);
    let out = fixture.render(
        r#"{"a": "%globals_user_attribute_nick^empty:anon%", "b": "%globals_user_attribute_username^empty:anon%", "c": %globals_user_groups^empty:null%, "d": %globals_user_attribute_missing^empty:0%}"#,
    );
    assert_eq!(out, r#"{"a":"anon","b":"alice","c":null,"d":0}"#);
    assert_eq!(
        render_v("%globals_user_groups^empty:null%"),
        r#"["staff","ops"]"#
    );
}

#[test]
fn contains_tests_list_membership_and_substrings() {
    assert_eq!(render_v("%globals_user_groups^contains:ops%"), "1");
    assert_eq!(render_v("%globals_user_groups^contains:sta%"), "0");
    assert_eq!(
        render_v("%globals_user_groups^contains:staff:true:false%"),
        "true"
    );
    assert_eq!(
        render_v("\"%globals_user_groups^contains:admin:yes%\""),
        r#""0""#
    );
    assert_eq!(
        render_v("%globals_user_attribute_email^contains:Example%"),
        "1"
    );
    assert_eq!(
        render_v("%globals_user_attribute_email^contains:example%"),
        "0"
    );
}

#[test]
fn replace_rewrites_every_match_with_groups() {
    assert_eq!(
        render_v(r#""%globals_user_attribute_email^replace:([a-z]+)\.([a-z]+)@:$2_$1@%""#),
        r#""Ann.Lee@Example.COM""#
    );
    assert_eq!(
        render_v(r#""%globals_user_attribute_email^replace:(?i)([a-z]+)\.([a-z]+)@:${2}_${1}@%""#),
        r#""Lee_Ann@Example.COM""#
    );
    assert_eq!(
        render_v(r#""%asset_web_path^replace:/:-%""#),
        r#""-sso-helpdesk""#
    );
    assert_eq!(
        render_v(r#""%asset_name^replace:\s+:\:%""#),
        r#""Help:desk""#
    );
    assert_eq!(
        render_v(r#""%globals_user_groups^replace:,: & %""#),
        r#""staff & ops""#
    );
}

#[test]
fn replace_handles_empty_matches_and_whole_match_references() {
    assert_eq!(
        render_v(r#""%asset_name^replace:x*:-%""#),
        r#""-H-e-l-p- -d-e-s-k-""#
    );
    assert_eq!(
        render_v(r#""%asset_name^replace:[a-z]+:<$0>%""#),
        r#""H<elp> <desk>""#
    );
}

#[test]
fn case_modifiers_change_letters() {
    assert_eq!(
        render_v("\"%globals_user_attribute_email^lowercase%\""),
        r#""ann.lee@example.com""#
    );
    assert_eq!(
        render_v("\"%globals_user_attribute_email^uppercase%\""),
        r#""ANN.LEE@EXAMPLE.COM""#
    );
    let fixture = Fixture::alice().with_attribute("title", "élan  vital mcDONALD o'neil");
    assert_eq!(
        fixture.render(r#"{"v": "%globals_user_attribute_title^titleize%"}"#),
        r#"{"v":"Élan  Vital McDONALD O'neil"}"#
    );
    assert_eq!(
        fixture.render(r#"{"v": "%globals_user_attribute_title^capitalize%"}"#),
        r#"{"v":"Élan  vital mcDONALD o'neil"}"#
    );
}

#[test]
fn trim_and_maxchars_shorten_text() {
    let fixture = Fixture::alice().with_attribute("bio", "  Zoë 😀 ok \t");
    assert_eq!(
        fixture.render(
            r#"{"a": "%globals_user_attribute_bio^trim%", "b": "%globals_user_attribute_bio^trim^maxchars:5%", "c": "%asset_name^maxchars:0%", "d": "%asset_name^maxchars:99%"}"#
        ),
        r#"{"a":"Zoë 😀 ok","b":"Zoë 😀","c":"","d":"Help desk"}"#
    );
}

#[test]
fn append_modifiers_add_text() {
    let fixture = Fixture::alice().with_attribute("nick", "");
    assert_eq!(
        fixture.render(
            r#"{"a": "%asset_name^append:!%", "b": "%globals_user_attribute_nick^append:!%", "c": "%globals_user_attribute_nick^append_if:!%", "d": "%asset_name^append_if:!%", "e": "%globals_user_attribute_nick^prepend_if:@%", "f": "%globals_user_attribute_username^prepend_if:@%"}"#
        ),
        r#"{"a":"Help desk!","b":"!","c":"","d":"Help desk!","e":"","f":"@alice"}"#
    );
}

#[test]
fn encoding_modifiers_use_standard_base64_and_unreserved_url_characters() {
    assert_eq!(
        render_v("\"%globals_user_attribute_first_name^base64encode%\""),
        r#""QW5uICJKbyI=""#
    );
    let fixture = Fixture::alice().with_attribute("q", "Ann \"Jo\" & Zoë/~x");
    assert_eq!(
        fixture.render(r#"{"v": "%globals_user_attribute_q^rawurlencode%"}"#),
        r#"{"v":"Ann%20%22Jo%22%20%26%20Zo%C3%AB%2F~x"}"#
    );
    assert_eq!(
        fixture.render(r#"{"v": "%globals_user_attribute_q^urlencode%"}"#),
        r#"{"v":"Ann+%22Jo%22+%26+Zo%C3%AB%2F%7Ex"}"#
    );
}

#[test]
fn explode_index_and_count_work_on_lists() {
    let fixture = Fixture::alice()
        .with_attribute("roles", "a;b;;c")
        .with_attribute("none", "");
    assert_eq!(
        fixture.render(
            r#"{"l": %globals_user_attribute_roles^explode:;%, "n": %globals_user_attribute_roles^explode:;^count%, "i": "%globals_user_attribute_roles^explode:;^index:3%", "o": "%globals_user_attribute_roles^explode:;^index:9%", "e": %globals_user_attribute_none^explode:;%, "ec": %globals_user_attribute_none^explode:;^count%}"#
        ),
        r#"{"l":["a","b","","c"],"n":4,"i":"c","o":"","e":[],"ec":0}"#
    );
}

#[test]
fn index_and_count_treat_text_as_one_item() {
    assert_eq!(render_v("\"%globals_user_groups^index:1%\""), r#""ops""#);
    assert_eq!(render_v("\"%globals_user_groups^index:2%\""), r#""""#);
    assert_eq!(render_v("\"%asset_name^index:0%\""), r#""Help desk""#);
    assert_eq!(render_v("\"%asset_name^index:1%\""), r#""""#);
    assert_eq!(render_v("%globals_user_groups^count%"), "2");
    let fixture = Fixture::alice().with_attribute("city", "Zürich");
    assert_eq!(
        fixture.render(r#"{"v": %globals_user_attribute_city^count%}"#),
        r#"{"v":6}"#
    );
}

#[test]
fn add_and_subtract_do_exact_decimal_arithmetic() {
    let fixture = Fixture::alice()
        .with_attribute("price", "0.1")
        .with_attribute("blank", "");
    assert_eq!(
        fixture.render(
            r#"{"a": %globals_user_attribute_age^add:1%, "b": %globals_user_attribute_age^subtract:50%, "c": %globals_user_attribute_price^add:0.2%, "d": %globals_user_attribute_price^add:0.9%, "e": %globals_user_attribute_blank^add:5%, "f": "%globals_user_attribute_age^subtract:-0.5%", "g": %globals_user_attribute_price^subtract:0.1%}"#
        ),
        r#"{"a":43,"b":-8,"c":0.3,"d":1,"e":5,"f":"42.5","g":0}"#
    );
}

#[test]
fn arithmetic_on_text_is_a_render_error_that_hides_the_value() {
    let fixture = Fixture::alice().with_attribute("secret", "s3cr3t-value");
    let error = fixture.render_error(r#"{"v": "%globals_user_attribute_secret^add:1%"}"#);
    assert_eq!((error.line, error.column), (1, 8));
    assert_eq!(error.keyword, "globals_user_attribute_secret");
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
    assert!(error.message.contains("not a number"), "{error}");
}

#[test]
fn modifiers_apply_left_to_right() {
    assert_eq!(
        render_v(
            r#""%globals_user_attribute_email^lowercase^replace:@.*:^append: (\%asset_name\%)%""#
        ),
        r#""ann.lee (%asset_name%)""#
    );
    assert_eq!(
        render_v("%globals_user_groups^index:0^uppercase^eq:STAFF:true:false%"),
        "true"
    );
}

#[test]
fn keyword_escapes_give_literal_separators() {
    assert_eq!(
        render_v(r#""%globals_user_attribute_nothing^empty:a\:b\^c\%d\"e\\f%""#),
        r#""a:b^c%d\"e\\\\f""#
    );
}

#[test]
fn a_backslash_before_another_character_stays_a_backslash() {
    assert_eq!(render_v(r#""%asset_name^replace:\w+:x%""#), r#""x x""#);
}

#[test]
fn a_modifier_result_is_capped_so_chains_cannot_exhaust_memory() {
    let chain = "^base64encode".repeat(60);
    let error = Fixture::alice().render_error(&format!("{{\"v\": \"%asset_name{chain}%\"}}"));
    assert_eq!(error.keyword, "asset_name");
    assert!(error.message.contains("larger than 65536 bytes"), "{error}");

    let fixture = Fixture::alice().with_attribute("big", &"a".repeat(MAX_VALUE_BYTES / 4));
    let out = fixture.render(r#"{"v": "%globals_user_attribute_big^replace:a:bbbb%"}"#);
    assert_eq!(out.len(), r#"{"v":""}"#.len() + MAX_VALUE_BYTES);
    let fixture = Fixture::alice().with_attribute("big", &"a".repeat(MAX_VALUE_BYTES / 4 + 1));
    let error = fixture.render_error(r#"{"v": "%globals_user_attribute_big^replace:a:bbbb%"}"#);
    assert!(error.message.contains("larger than"), "{error}");
}
