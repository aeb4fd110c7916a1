//! Known-answer tests for the keyword language: compile errors, rendering and injection safety.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

/// Everything a render context borrows, owned so each test can tweak it.
struct Fixture {
    id: String,
    username: String,
    attributes: BTreeMap<String, String>,
    groups: Vec<String>,
    asset_id: String,
    asset_name: String,
    web_path: String,
    has_write_access: bool,
    now: DateTime<Utc>,
}

impl Fixture {
    /// The DESIGN worked-example user: first_name `Ann "Jo"`, age 42, groups staff and ops.
    fn alice() -> Fixture {
        let attributes = [
            ("first_name", "Ann \"Jo\""),
            ("last_name", "Lee"),
            ("email", "Ann.Lee@Example.COM"),
            ("age", "42"),
            ("team_code", "ops-7"),
        ];
        Fixture {
            id: "u-1001".to_owned(),
            username: "alice".to_owned(),
            attributes: attributes
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            groups: vec!["staff".to_owned(), "ops".to_owned()],
            asset_id: "a-77".to_owned(),
            asset_name: "Help desk".to_owned(),
            web_path: "/sso/helpdesk".to_owned(),
            has_write_access: false,
            now: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        }
    }

    fn with_attribute(mut self, name: &str, value: &str) -> Fixture {
        self.attributes.insert(name.to_owned(), value.to_owned());
        self
    }

    fn without_attribute(mut self, name: &str) -> Fixture {
        self.attributes.remove(name);
        self
    }

    fn with_groups(mut self, groups: &[&str]) -> Fixture {
        self.groups = groups.iter().map(|group| group.to_string()).collect();
        self
    }

    fn ctx(&self) -> RenderContext<'_> {
        RenderContext {
            user: UserFacts {
                id: &self.id,
                username: &self.username,
                attributes: &self.attributes,
                groups: &self.groups,
            },
            asset: AssetFacts {
                id: &self.asset_id,
                name: &self.asset_name,
                web_path: &self.web_path,
                has_write_access: self.has_write_access,
            },
            now: self.now,
        }
    }

    fn render(&self, template: &str) -> String {
        let template = PayloadTemplate::compile(template)
            .unwrap_or_else(|error| panic!("{template:?} should compile: {error}"));
        template
            .render(&self.ctx())
            .unwrap_or_else(|error| panic!("should render: {error}"))
    }

    fn render_error(&self, template: &str) -> RenderError {
        let template = PayloadTemplate::compile(template)
            .unwrap_or_else(|error| panic!("{template:?} should compile: {error}"));
        match template.render(&self.ctx()) {
            Ok(out) => panic!("expected a render error, got {out}"),
            Err(error) => error,
        }
    }
}

fn render(template: &str) -> String {
    Fixture::alice().render(template)
}

/// The rendered value of claim `v` in `{"v": <fragment>}`.
fn render_v(fragment: &str) -> String {
    let out = render(&format!("{{\"v\": {fragment}}}"));
    out.strip_prefix("{\"v\":")
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or_else(|| panic!("unexpected shape: {out}"))
        .to_owned()
}

fn compile_error(template: &str) -> CompileError {
    match PayloadTemplate::compile(template) {
        Ok(_) => panic!("{template:?} should not compile"),
        Err(error) => error,
    }
}

#[track_caller]
fn assert_compile_error(template: &str, line: usize, column: usize, message: &str) {
    let error = compile_error(template);
    assert_eq!(
        (error.line, error.column),
        (line, column),
        "location of {error:?} for {template:?}"
    );
    assert!(
        error.message.contains(message),
        "{:?} should mention {message:?}",
        error.message
    );
}

fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{text:?} is not JSON: {error}"))
}

// The DESIGN "Payload templates" worked-example table, row by row.

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
        render(r#"{"a": "100%", "b": "a%%b", "c": "%", "d": "%A%", "e": "% x%"}"#),
        r#"{"a":"100%","b":"a%%b","c":"%","d":"%A%","e":"% x%"}"#
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

// Keywords.

#[test]
fn user_keywords_give_the_users_facts() {
    assert_eq!(
        render(
            r#"{"u": "%globals_user_attribute_username%", "id": "%globals_user_assetid%", "e": "%globals_user_attribute_email%", "l": "%globals_user_attribute_last_name%", "t": "%globals_user_attribute_team_code%"}"#
        ),
        r#"{"u":"alice","id":"u-1001","e":"Ann.Lee@Example.COM","l":"Lee","t":"ops-7"}"#
    );
}

#[test]
fn a_missing_attribute_is_empty_text() {
    assert_eq!(
        render(r#"{"x": "[%globals_user_attribute_shoe_size%]"}"#),
        r#"{"x":"[]"}"#
    );
}

#[test]
fn the_username_keyword_wins_over_an_attribute_called_username() {
    let alice = Fixture::alice().with_attribute("username", "mallory");
    assert_eq!(
        alice.render(r#"{"u": "%globals_user_attribute_username%"}"#),
        r#"{"u":"alice"}"#
    );
}

#[test]
fn the_full_name_joins_first_and_last_name() {
    assert_eq!(
        render(r#"{"n": "%globals_user_name%"}"#),
        r#"{"n":"Ann \"Jo\" Lee"}"#
    );
    let only_first = Fixture::alice().without_attribute("last_name");
    assert_eq!(
        only_first.render(r#"{"n": "%globals_user_name%"}"#),
        r#"{"n":"Ann \"Jo\""}"#
    );
    let only_last = Fixture::alice().with_attribute("first_name", "");
    assert_eq!(
        only_last.render(r#"{"n": "%globals_user_name%"}"#),
        r#"{"n":"Lee"}"#
    );
    let padded = Fixture::alice()
        .with_attribute("first_name", " Ann ")
        .with_attribute("last_name", "Lee ");
    assert_eq!(
        padded.render(r#"{"n": "%globals_user_name%"}"#),
        r#"{"n":"Ann  Lee"}"#
    );
}

#[test]
fn the_full_name_falls_back_to_the_username() {
    let nameless = Fixture::alice()
        .without_attribute("first_name")
        .with_attribute("last_name", "  ");
    assert_eq!(
        nameless.render(r#"{"n": "%globals_user_name%"}"#),
        r#"{"n":"alice"}"#
    );
}

#[test]
fn asset_keywords_give_the_assets_facts() {
    assert_eq!(
        render(
            r#"{"id": "%asset_assetid%", "name": "%asset_name%", "path": "%asset_web_path%", "w": %asset_has_write_access%}"#
        ),
        r#"{"id":"a-77","name":"Help desk","path":"/sso/helpdesk","w":0}"#
    );
    let mut editor = Fixture::alice();
    editor.has_write_access = true;
    assert_eq!(
        editor.render(r#"{"w": "%asset_has_write_access%", "admin": %asset_has_write_access^eq:1:true:false%}"#),
        r#"{"w":"1","admin":true}"#
    );
}

#[test]
fn date_keywords_give_the_request_time() {
    assert_eq!(
        render(r#"{"ts": %globals_date_timestamp%, "iso": "%globals_date_iso8601%"}"#),
        r#"{"ts":1795428000,"iso":"2026-11-23T10:00:00Z"}"#
    );
}

#[test]
fn the_iso_date_drops_fractions_of_a_second() {
    let mut later = Fixture::alice();
    later.now = DateTime::from_timestamp(1_795_428_000, 987_654_321).unwrap();
    assert_eq!(
        later.render(r#"{"iso": "%globals_date_iso8601%", "ts": "%globals_date_timestamp%"}"#),
        r#"{"iso":"2026-11-23T10:00:00Z","ts":"1795428000"}"#
    );
}

#[test]
fn keywords_mix_with_literal_text_inside_one_string() {
    assert_eq!(
        render(
            r#"{"x": "user %globals_user_attribute_username% (%globals_user_assetid%) at 100%"}"#
        ),
        r#"{"x":"user alice (u-1001) at 100%"}"#
    );
}

// Modifiers.

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
        fixture.render(r#"{"v": "%globals_user_attribute_title^capitalize%"}"#),
        r#"{"v":"Élan  Vital McDONALD O'neil"}"#
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
        fixture.render(r#"{"v": "%globals_user_attribute_q^urlencode%"}"#),
        r#"{"v":"Ann%20%22Jo%22%20%26%20Zo%C3%AB%2F~x"}"#
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
        render_v(r#""%globals_user_attribute_nothing^empty:a\:b\^c\%d\\e%""#),
        r#""a:b^c%d\\e""#
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

// String vs value position.

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
    let out =
        render(r#"{"a": "\u0025asset_name%", "\u0025asset_name%": 1, "b": "%asset_name\u0025"}"#);
    assert_eq!(
        out,
        r#"{"a":"\u0025asset_name%","\u0025asset_name%":1,"b":"%asset_name\u0025"}"#
    );
    let parsed = parse_json(&out);
    assert_eq!(parsed["a"], "%asset_name%");
    assert_eq!(parsed["%asset_name%"], 1);
    assert_eq!(parsed["b"], "%asset_name%");
}

#[test]
fn an_empty_object_renders_as_an_empty_object() {
    assert_eq!(render(" {  } "), "{}");
}

// Injection.

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

/// Tiny deterministic generator so the property tests need no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a>(&mut self, pool: &[&'a str]) -> &'a str {
        pool[self.below(pool.len())]
    }
}

#[test]
fn any_attribute_string_round_trips_through_every_position() {
    let pool = [
        "\"",
        "\\",
        "\\\"",
        "\u{0}",
        "\u{1}",
        "\u{1f}",
        "\n",
        "\r",
        "\t",
        "\u{7f}",
        "%",
        "%asset_name%",
        "^",
        ":",
        "é",
        "😀",
        "\u{2028}",
        "\u{feff}",
        "</script>",
        "a",
        " ",
        ",",
        "{",
        "}",
        "[",
        "]",
        "\\u0022",
        "null",
    ];
    let template = PayloadTemplate::compile(
        r#"{"s": "<%globals_user_attribute_x%>", "j": %globals_user_attribute_x^json_encode%, "n": "%globals_user_name%", "l": %globals_user_groups%}"#,
    )
    .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let length = rng.below(12);
        let value: String = (0..length).map(|_| rng.pick(&pool)).collect();
        let group: String = (0..length).map(|_| rng.pick(&pool)).collect();
        let fixture = Fixture::alice()
            .with_attribute("x", &value)
            .with_attribute("first_name", &value)
            .with_attribute("last_name", "")
            .with_groups(&[&group, "b"]);
        let out = template.render(&fixture.ctx()).unwrap();
        let parsed = parse_json(&out);
        let claims = parsed.as_object().unwrap();
        assert_eq!(claims.len(), 4, "{out}");
        assert_eq!(claims["s"], format!("<{value}>"));
        assert_eq!(claims["j"], value.as_str());
        let full_name = if value.trim().is_empty() {
            "alice"
        } else {
            value.trim()
        };
        assert_eq!(claims["n"], full_name);
        assert_eq!(claims["l"], serde_json::json!([group, "b"]));
    }
}

const FUZZ_KEYWORDS: [&str; 9] = [
    "asset_name",
    "asset_has_write_access",
    "globals_user_groups",
    "globals_user_attribute_x",
    "globals_user_attribute_age",
    "globals_user_attribute_missing",
    "globals_user_name",
    "globals_date_timestamp",
    "no_such_keyword",
];

const FUZZ_MODIFIERS: [&str; 18] = [
    "^json_encode",
    "^eq:1:true:false",
    "^neq:x:1",
    "^empty:null",
    "^count",
    "^explode:,",
    "^index:1",
    "^contains:a",
    "^replace:(\\d):$1$1",
    "^add:1.5",
    "^subtract:x",
    "^uppercase",
    "^maxchars:2",
    "^append:\\%x\\:",
    "^urlencode",
    "^base64encode",
    "^trim",
    "^shout",
];

const FUZZ_TEXT: [&str; 12] = [
    "a",
    " ",
    "50%",
    "%%",
    "\\n",
    "\\u00e9",
    "\\\"",
    "é",
    "😀",
    "%A%",
    "\\u0025asset_name%",
    "x",
];

/// A random keyword: `%name^modifier…%`.
fn random_keyword(rng: &mut Rng, out: &mut String) {
    out.push('%');
    out.push_str(rng.pick(&FUZZ_KEYWORDS));
    for _ in 0..rng.below(3) {
        out.push_str(rng.pick(&FUZZ_MODIFIERS));
    }
    out.push('%');
}

/// A random, mostly valid template value.
fn random_value(rng: &mut Rng, depth: usize, out: &mut String) {
    match rng.below(if depth > 4 { 5 } else { 7 }) {
        0 => out.push_str(rng.pick(&["0", "-1.5e3", "42", "true", "false", "null"])),
        1 | 2 => {
            out.push('"');
            for _ in 0..rng.below(4) {
                if rng.below(2) == 0 {
                    random_keyword(rng, out);
                } else {
                    out.push_str(rng.pick(&FUZZ_TEXT));
                }
            }
            out.push('"');
        }
        3 | 4 => random_keyword(rng, out),
        5 => {
            out.push('[');
            for index in 0..rng.below(4) {
                if index > 0 {
                    out.push_str(", ");
                }
                random_value(rng, depth + 1, out);
            }
            out.push(']');
        }
        _ => random_object(rng, depth + 1, out),
    }
}

fn random_object(rng: &mut Rng, depth: usize, out: &mut String) {
    out.push('{');
    for index in 0..rng.below(5) {
        if index > 0 {
            out.push_str(",\n ");
        }
        out.push('"');
        out.push_str(rng.pick(&["a", "b", "c", "d", "e", "\\u0061", "é"]));
        out.push_str("\": ");
        random_value(rng, depth, out);
    }
    out.push('}');
}

#[test]
fn any_template_either_fails_to_compile_or_renders_a_json_object() {
    let mutations = [
        "{", "}", "[", "]", ",", ":", "\"", "%", "^", "\\", "\n", "\u{1}", "é", "😀", "1", "x",
    ];
    let secret = "s3cr3t";
    let fixture = Fixture::alice()
        .with_attribute("x", secret)
        .with_groups(&["a\"b", "1"]);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut compiled, mut rendered) = (0, 0);
    for _ in 0..20_000 {
        let mut source = String::new();
        random_object(&mut rng, 1, &mut source);
        for _ in 0..rng.below(3) {
            let boundaries: Vec<usize> = source
                .char_indices()
                .map(|(at, _)| at)
                .chain([source.len()])
                .collect();
            let at = boundaries[rng.below(boundaries.len())];
            if rng.below(2) == 0 {
                source.insert_str(at, rng.pick(&mutations));
            } else if let Some(ch) = source[at..].chars().next() {
                source.replace_range(at..at + ch.len_utf8(), "");
            }
        }
        match PayloadTemplate::compile(&source) {
            Err(error) => {
                assert!(error.line >= 1 && error.column >= 1, "{error:?}");
                assert!(
                    error.line <= source.split('\n').count(),
                    "{error:?} in {source:?}"
                );
            }
            Ok(template) => {
                compiled += 1;
                match template.render(&fixture.ctx()) {
                    Ok(out) => {
                        rendered += 1;
                        let parsed = parse_json(&out);
                        let claims = parsed.as_object().unwrap_or_else(|| panic!("{out}"));
                        assert_eq!(claims.len(), template.claim_names().count(), "{source:?}");
                    }
                    Err(error) => assert!(!error.to_string().contains(secret), "{error}"),
                }
            }
        }
    }
    assert!(
        compiled > 2_000,
        "only {compiled} random templates compiled"
    );
    assert!(
        rendered > 1_000,
        "only {rendered} random templates rendered"
    );
}

// render_members and the skip list.

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

// Compile errors: each with its line and column.

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
        "{\"a\": \"%asset_name^eq:x%\"}",
        1,
        20,
        "eq takes 2 or 3 arguments, got 1",
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
        "{\"a\": \"%globals_user_groups^index:1.5%\"}",
        1,
        35,
        "whole number",
    );
    assert_compile_error("{\"a\": \"%asset_name^index:%\"}", 1, 26, "whole number");
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
    assert_compile_error(
        "{\"a\": \"%asset_name^append:\\\"%\"}",
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

// The caps.

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

// Error display.

#[test]
fn errors_display_their_location_first() {
    assert_eq!(
        compile_error("{\n\"a\": %nope%}").to_string(),
        "line 2, column 6: unknown keyword \"nope\""
    );
    let error = Fixture::alice().render_error("{\"n\": %asset_name%}");
    assert_eq!(
        error.to_string(),
        "line 1, column 7: keyword asset_name: produced text in a value position; wrap it in quotes or add ^json_encode"
    );
}
