//! Each keyword gives its fact: the user's, the asset's or the request time.

use chrono::DateTime;

use super::{Fixture, render};

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

// Found by the `template` fuzz target: an attribute keyword longer than an attribute name may be
// compiled before the language became CMS-faithful; it still compiles and reads as empty text.
#[test]
fn an_attribute_keyword_of_any_length_compiles() {
    let name = format!("a{}", "j".repeat(120));
    assert_eq!(
        super::render(&format!("{{\"v\": \"%globals_user_attribute_{name}%\"}}")),
        "{\"v\":\"\"}"
    );
}
