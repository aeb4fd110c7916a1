//! Known answers from the CMS's own documentation and the PHP manual its modifiers follow, each
//! test named after its source, in string and value position where both apply.
//!
//! Sources: the Squiz Matrix manuals, "Keyword Modifiers" (matrix.squiz.net, 2016 and 2020
//! versions; docs.squiz.net "Reserved characters") and "Global Keywords"; examples published by
//! its developers (jamieonkeys.dev, zedsaid.com, the Squiz forum); the PHP manual pages of the
//! functions the modifiers are named after (ucfirst, ucwords, urlencode, rawurlencode,
//! preg_replace, str_word_count, strip_tags, date). The fixture's time is Monday 2026-11-23
//! 10:00:00 UTC.

use super::{Fixture, assert_compile_error, parse_json};

/// `keyword` rendered for alice with these extra attributes: in a string position (the decoded
/// string must be `string`) and in a value position (the JSON text must be `value`, or the
/// render error must mention it when it starts with `error:`).
#[track_caller]
fn example(keyword: &str, attributes: &[(&str, &str)], string: &str, value: Option<&str>) {
    let mut fixture = Fixture::alice();
    for (name, text) in attributes {
        fixture = fixture.with_attribute(name, text);
    }
    let out = fixture.render(&format!("{{\"v\": \"{keyword}\"}}"));
    assert_eq!(
        parse_json(&out)["v"].as_str(),
        Some(string),
        "{keyword} in a string position gave {out}"
    );
    let Some(value) = value else { return };
    let template = format!("{{\"v\": {keyword}}}");
    if let Some(message) = value.strip_prefix("error:") {
        let error = fixture.render_error(&template);
        assert!(error.message.contains(message.trim()), "{keyword}: {error}");
    } else {
        assert_eq!(
            fixture.render(&template),
            format!("{{\"v\":{value}}}"),
            "{keyword} in a value position"
        );
    }
}

// Squiz Matrix manual, Keyword Modifiers: the table's examples ("Effect: X > Y").

#[test]
fn squiz_modifiers_abs_example_asset_version() {
    // %asset_version^abs%  Effect: 0.2.220 > 0.2
    example(
        "%globals_user_attribute_version^abs%",
        &[("version", "0.2.220")],
        "0.2",
        Some("0.2"),
    );
}

#[test]
fn squiz_modifiers_add_example_asset_assetid() {
    // %asset_assetid^add:10%  Effect: 129 > 139
    example(
        "%globals_user_attribute_id^add:10%",
        &[("id", "129")],
        "139",
        Some("139"),
    );
}

#[test]
fn squiz_modifiers_append_example() {
    // %asset_attribute_name^append:*%  Effect: name > name*
    example(
        "%globals_user_attribute_n^append:*%",
        &[("n", "name")],
        "name*",
        Some("error: text in a value position"),
    );
}

#[test]
fn squiz_modifiers_append_if_example() {
    // %asset_attribute_name^append_if:*%  Effect: name > name*; nothing for an empty value.
    example(
        "%globals_user_attribute_n^append_if:*%",
        &[("n", "name")],
        "name*",
        None,
    );
    example(
        "%globals_user_attribute_n^append_if:*%",
        &[("n", "")],
        "",
        None,
    );
}

#[test]
fn squiz_modifiers_intro_maxwords_example() {
    // %asset_contents^maxwords:10%: "the first ten words of the body of the asset".
    example(
        "%globals_user_attribute_body^maxwords:10%",
        &[(
            "body",
            "one two three four five six seven eight nine ten eleven twelve",
        )],
        "one two three four five six seven eight nine ten",
        None,
    );
}

#[test]
fn squiz_modifiers_intro_subtract_then_multiply_example() {
    // %item_price^subtract:2^multiply:10%: subtract two, then multiply by ten.
    example(
        "%globals_user_attribute_price^subtract:2^multiply:10%",
        &[("price", "12.5")],
        "105",
        Some("105"),
    );
}

#[test]
fn squiz_modifiers_array_based_json_decode_example() {
    // %asset_metadata_details^json_decode^index:address^index:city%
    example(
        "%globals_user_metadata_details^json_decode^index:address^index:city%",
        &[(
            "details",
            r#"{"address": {"city": "Hobart", "postcode": "7000"}}"#,
        )],
        "Hobart",
        Some("error: text in a value position"),
    );
}

#[test]
fn squiz_modifiers_regex_whitespace_example() {
    // %asset_metadata_foo^replace:(\s):_%  "remove any white space … replace them with an
    // underscore".
    example(
        r"%globals_user_attribute_foo^replace:(\s):_%",
        &[("foo", "a b\tc")],
        "a_b_c",
        None,
    );
}

#[test]
fn squiz_modifiers_regex_character_class_example() {
    // %asset_metadata_foo^replace:[~!@#$\(\)*\-={}\[\]+;.,'"]:_%  "replaces any of the
    // character provided with an underscore" (the `"` written \" inside the JSON string).
    example(
        r#"%globals_user_attribute_foo^replace:[~!@#$\(\)*\-={}\[\]+;.,'\"]:_%"#,
        &[("foo", r#"a(b)c-d"e.f"#)],
        "a_b_c_d_e_f",
        None,
    );
}

#[test]
fn squiz_modifiers_regex_double_escaped_caret_example() {
    // ^replace:\\^:caret  (the caret must be double escaped in a regular expression)
    example(
        r"%globals_user_attribute_foo^replace:\\^:caret%",
        &[("foo", "a^b")],
        "acaretb",
        None,
    );
}

#[test]
fn squiz_docs_reserved_characters_eq_caret_example() {
    // %asset_name^eq:\^:caret:other%
    example(
        r"%globals_user_attribute_n^eq:\^:caret:other%",
        &[("n", "^")],
        "caret",
        None,
    );
    example(
        r"%globals_user_attribute_n^eq:\^:caret:other%",
        &[("n", "x")],
        "other",
        None,
    );
}

#[test]
fn squiz_docs_reserved_characters_replace_caret_example() {
    // %asset_name^replace:\\^:caret%
    example(
        r"%globals_user_attribute_n^replace:\\^:caret%",
        &[("n", "^x^")],
        "caretxcaret",
        None,
    );
}

#[test]
fn squiz_docs_reserved_characters_replace_colon_example() {
    // %asset_name^replace:\::colon%
    example(
        r"%globals_user_attribute_n^replace:\::colon%",
        &[("n", "a:b")],
        "acolonb",
        None,
    );
}

// Squiz Matrix manual, Global Keywords.

#[test]
fn squiz_global_keywords_date_with_php_format_example() {
    // %globals_date_M%%globals_date_Y% "will show Feb 2009" (here: the fixture's month, year).
    example("%globals_date_M%%globals_date_Y%", &[], "Nov2026", None);
    example("%globals_date_M% %globals_date_Y%", &[], "Nov 2026", None);
    example("%globals_date_Y%", &[], "2026", Some("2026"));
}

#[test]
fn squiz_global_keywords_date_readable_example() {
    // %globals_date% "will display the current server date and time, for example, 6th Feb
    // 2009 5:00pm".
    example("%globals_date%", &[], "23rd Nov 2026 10:00am", None);
    example(
        "%globals_date_readable%",
        &[],
        "23rd Nov 2026 10:00am",
        None,
    );
}

#[test]
fn squiz_global_keywords_user_attribute_examples() {
    // %globals_user_attribute_first_name%, %globals_user_attribute_email%
    example(
        "%globals_user_attribute_first_name%",
        &[],
        "Ann \"Jo\"",
        None,
    );
    example(
        "%globals_user_attribute_email%",
        &[],
        "Ann.Lee@Example.COM",
        None,
    );
}

#[test]
fn squiz_global_keywords_user_metadata_example() {
    // %globals_user_metadata_Hobbies%: a metadata field is a user attribute here, whose names
    // are lower case.
    example(
        "%globals_user_metadata_hobbies%",
        &[("hobbies", "chess")],
        "chess",
        None,
    );
    assert_compile_error(
        r#"{"h": "%globals_user_metadata_Hobbies%"}"#,
        1,
        8,
        "would be the attribute \"hobbies\"",
    );
}

#[test]
fn squiz_global_keywords_asset_examples() {
    // %globals_asset_name%: "the name of the asset in the globals context" (the asset fetched);
    // %globals_asset_name:100%: another asset's, which a template cannot read here.
    example("%globals_asset_name%", &[], "Help desk", None);
    example("%globals_asset_assetid%", &[], "a-77", None);
    assert_compile_error(
        r#"{"n": "%globals_asset_name:100%"}"#,
        1,
        8,
        "not other assets by id",
    );
}

#[test]
fn squiz_global_keywords_relative_date_is_refused() {
    // %globals_date_relative_this_friday_d-m-Y%
    assert_compile_error(
        r#"{"d": "%globals_date_relative_this_friday_d-m-Y%"}"#,
        1,
        8,
        "relative dates are not supported",
    );
}

#[test]
fn squiz_global_keywords_request_data_is_refused() {
    // %globals_post_<variable>%, %globals_session_<variable>%, %globals_server_<variable>%
    for keyword in [
        "globals_post_name",
        "globals_session_ulscountryfb",
        "globals_server_http_user_agent",
        "globals_cookie_x",
    ] {
        assert_compile_error(
            &format!("{{\"x\": \"%{keyword}%\"}}"),
            1,
            8,
            "only through a query parameter the asset declares",
        );
    }
}

#[test]
fn itsupportguides_globals_date_x_three_letter_month() {
    // "%globals_date_M% prints the three letter representation of the current month"
    example("%globals_date_M%", &[], "Nov", None);
}

#[test]
fn developer_example_date_in_an_address() {
    // "value": "test%globals_date_YmdH%@mailinator.com"
    example(
        "test%globals_date_YmdH%@mailinator.com",
        &[],
        "test2026112310@mailinator.com",
        None,
    );
}

// Examples published by the CMS's developers.

#[test]
fn jamieonkeys_json_decode_index_neq_example() {
    // %asset_linking_lineage^json_decode^index:0^neq:123456:target="_blank"%: prints
    // target="_blank" unless the first item is 123456.
    let keyword =
        r#"%globals_user_attribute_lineage^json_decode^index:0^neq:123456:target=\"_blank\"%"#;
    example(
        keyword,
        &[("lineage", r#"["111","222"]"#)],
        r#"target="_blank""#,
        None,
    );
    example(keyword, &[("lineage", r#"["123456","222"]"#)], "", None);
}

#[test]
fn jamieonkeys_explode_index_example() {
    // %asset_metadata_foo^explode:;^index:0%  with "item one;item two;item three"
    example(
        "%globals_user_attribute_foo^explode:;^index:0%",
        &[("foo", "item one;item two;item three")],
        "item one",
        None,
    );
}

#[test]
fn zedsaid_contains_count_then_replace_example() {
    // %asset_attribute_start_date^contains:--^replace:3:;VALUE=DATE^replace:0:%: a missing
    // time "shows up as --:--:--"; contains returns the count, 3, replaced by ;VALUE=DATE;
    // 0 (no match) is replaced by nothing.
    let keyword = "%globals_user_attribute_start^contains:--^replace:3:;VALUE=DATE^replace:0:%";
    example(
        keyword,
        &[("start", "20110122T--:--:--")],
        ";VALUE=DATE",
        None,
    );
    example(keyword, &[("start", "20110122T111500")], "", None);
}

#[test]
fn squiz_forum_striphtml_maxwords_example() {
    // %asset_contents~striphtml~maxwords:10% (today ^): "the first 10 words out of the body".
    example(
        "%globals_user_attribute_body^striphtml^maxwords:3%",
        &[("body", "<p>First <b>words</b> of the body</p>")],
        "First words of",
        None,
    );
}

#[test]
fn jcu_contains_as_a_test_example() {
    // %globals_site_metadata_jcu.social.enabled^contains:footer%
    example(
        "%globals_user_attribute_social^contains:footer%",
        &[("social", "header,footer")],
        "1",
        Some("1"),
    );
    example(
        "%globals_user_attribute_social^contains:footer%",
        &[("social", "header")],
        "0",
        Some("0"),
    );
}

#[test]
fn developer_example_date_format_d_f_y() {
    // %asset_metadata_seized_item_date_time_seized^date_format:d F Y%
    example(
        "%globals_user_attribute_seized^date_format:d F Y%",
        &[("seized", "2026-11-23 08:30:00")],
        "23 November 2026",
        None,
    );
}

// The PHP manual pages of the functions the CMS's modifiers call.

#[test]
fn php_manual_ucfirst_is_capitalize() {
    example(
        "%globals_user_attribute_t^capitalize%",
        &[("t", "hello world!")],
        "Hello world!",
        None,
    );
    example(
        "%globals_user_attribute_t^capitalize%",
        &[("t", "HELLO WORLD!")],
        "HELLO WORLD!",
        None,
    );
}

#[test]
fn php_manual_ucwords_is_titleize() {
    for (text, expected) in [
        ("hello world!", "Hello World!"),
        ("HELLO WORLD!", "HELLO WORLD!"),
        ("hello|world!", "Hello|world!"),
        ("mike o'hara", "Mike O'hara"),
    ] {
        example(
            "%globals_user_attribute_t^titleize%",
            &[("t", text)],
            expected,
            None,
        );
    }
}

#[test]
fn php_manual_urlencode_writes_a_space_as_plus() {
    example(
        "%globals_user_attribute_q^urlencode%",
        &[("q", "a b~c/d")],
        "a+b%7Ec%2Fd",
        None,
    );
    example(
        "%globals_user_attribute_q^urldecode%",
        &[("q", "a+b%7Ec%2Fd")],
        "a b~c/d",
        None,
    );
}

#[test]
fn php_manual_rawurlencode_examples() {
    example(
        "%globals_user_attribute_q^rawurlencode%",
        &[("q", "foo @+%/")],
        "foo%20%40%2B%25%2F",
        None,
    );
    example(
        "%globals_user_attribute_q^rawurlencode%",
        &[("q", "sales and marketing/Miami")],
        "sales%20and%20marketing%2FMiami",
        None,
    );
}

#[test]
fn php_manual_preg_replace_isolated_backreference_example() {
    // preg_replace('/(\w+) (\d+), (\d+)/i', '${1}1,$3', 'April 15, 2003') gives April1,2003
    example(
        r"%globals_user_attribute_d^replace:(?i)(\w+) (\d+), (\d+):${1}1,$3%",
        &[("d", "April 15, 2003")],
        "April1,2003",
        None,
    );
}

#[test]
fn php_manual_preg_replace_backslash_backreferences_example() {
    // '/(19|20)(\d{2})-(\d{1,2})-(\d{1,2})/' with '\3/\4/\1\2' gives 5/27/1999
    example(
        r"%globals_user_attribute_d^replace:(19|20)(\d{2})-(\d{1,2})-(\d{1,2}):\3/\4/\1\2%",
        &[("d", "1999-5-27")],
        "5/27/1999",
        None,
    );
}

#[test]
fn php_manual_preg_replace_whitespace_example() {
    // preg_replace('/\s\s+/', ' ', 'foo   o') gives 'foo o'
    example(
        r"%globals_user_attribute_d^replace:\s\s+: %",
        &[("d", "foo   o")],
        "foo o",
        None,
    );
}

#[test]
fn php_manual_str_word_count_example() {
    // "Hello fri3nd, you're looking good today!": 7 words, 6 with digits as word characters
    // (the CMS's wordcount passes '0123456789').
    example(
        "%globals_user_attribute_t^wordcount%",
        &[(
            "t",
            "Hello fri3nd, you're\n       looking          good today!",
        )],
        "6",
        Some("6"),
    );
}

#[test]
fn php_manual_strip_tags_example() {
    let html = r##"<p>Test paragraph.</p><!-- Comment --> <a href="#fragment">Other text</a>"##;
    example(
        "%globals_user_attribute_h^striphtml%",
        &[("h", html)],
        "Test paragraph. Other text",
        None,
    );
    example(
        "%globals_user_attribute_h^striphtml:<p><a>%",
        &[("h", html)],
        r##"<p>Test paragraph.</p> <a href="#fragment">Other text</a>"##,
        None,
    );
}

#[test]
fn php_manual_date_format_examples() {
    // 'l jS \o\f F Y h:i:s A' prints "Wednesday 19th of October 2022 08:40:48 AM"-style text.
    example(
        r"%globals_user_attribute_at^date_format:l jS \o\f F Y h\:i\:s A%",
        &[("at", "2026-11-23 10:00:00")],
        "Monday 23rd of November 2026 10:00:00 AM",
        None,
    );
    example(
        "%globals_user_attribute_at^date_format:D, d M Y%",
        &[("at", "2026-11-23")],
        "Mon, 23 Nov 2026",
        None,
    );
    example(
        "%globals_date_c^date_format:D, d M Y%",
        &[],
        "Mon, 23 Nov 2026",
        None,
    );
}

#[test]
fn php_manual_date_full_date_time_letters() {
    example("%globals_date_c%", &[], "2026-11-23T10:00:00+00:00", None);
    example("%globals_date_U%", &[], "1795428000", Some("1795428000"));
    example("%globals_date_Y-m-d%", &[], "2026-11-23", None);
    example("%globals_date_H:i:s%", &[], "10:00:00", None);
    example(
        "%globals_date_r%",
        &[],
        "Mon, 23 Nov 2026 10:00:00 +0000",
        None,
    );
    example("%globals_date_Y_m_d%", &[], "2026_11_23", None);
}

// The modifiers a payload needs, with the CMS's names and meanings.

#[test]
fn capitalize_is_the_first_letter_only_and_titleize_every_word() {
    example("%asset_name^capitalize%", &[], "Help desk", None);
    example("%asset_name^titleize%", &[], "Help Desk", None);
}

#[test]
fn contains_takes_a_regular_expression_and_counts_matches() {
    // The issue's example: contains:[0-9]+ on abc123.
    example(
        "%globals_user_attribute_c^contains:[0-9]+%",
        &[("c", "abc123")],
        "1",
        Some("1"),
    );
    example(
        "%globals_user_attribute_c^contains:[0-9]%",
        &[("c", "abc123")],
        "3",
        Some("3"),
    );
    example(
        "%globals_user_attribute_c^contains:[0-9]:yes:no%",
        &[("c", "abc")],
        "no",
        None,
    );
    // A list's items are matched whole.
    example("%globals_user_groups^contains:op%", &[], "0", Some("0"));
    example("%globals_user_groups^contains:op.%", &[], "1", Some("1"));
}

#[test]
fn arithmetic_modifiers() {
    let age = &[("a", "42")][..];
    example(
        "%globals_user_attribute_a^multiply:1.5%",
        age,
        "63",
        Some("63"),
    );
    example(
        "%globals_user_attribute_a^divide:4%",
        age,
        "10.5",
        Some("10.5"),
    );
    example(
        "%globals_user_attribute_a^divide:9%",
        age,
        "4.6666666666667",
        Some("4.6666666666667"),
    );
    example("%globals_user_attribute_a^divide:0%", age, "", None);
    example("%globals_user_attribute_a^modulo:5%", age, "2", Some("2"));
    example(
        "%globals_user_attribute_a^subtract:50^abs%",
        age,
        "8",
        Some("8"),
    );
    let pi = &[("a", "-3.14159")][..];
    example(
        "%globals_user_attribute_a^round:2%",
        pi,
        "-3.14",
        Some("-3.14"),
    );
    example("%globals_user_attribute_a^round%", pi, "-3", Some("-3"));
    example("%globals_user_attribute_a^ceil%", pi, "-3", Some("-3"));
    example("%globals_user_attribute_a^floor%", pi, "-4", Some("-4"));
    example(
        "%globals_user_attribute_a^add:1%",
        &[("a", "1,234")],
        "1235",
        Some("1235"),
    );
}

#[test]
fn text_modifiers() {
    example(
        "%globals_user_attribute_t^underscore%",
        &[("t", "Help  desk\tnow")],
        "Help_desk_now",
        None,
    );
    example(
        "%globals_user_attribute_t^charcount%",
        &[("t", "été")],
        "5",
        Some("5"),
    );
    example(
        "%globals_user_attribute_t^base64decode%",
        &[("t", "YWxpY2U=")],
        "alice",
        None,
    );
    example(
        "%globals_user_attribute_t^maxwords:2%",
        &[("t", "  The quick  brown fox ")],
        "The quick",
        None,
    );
}

#[test]
fn json_decode_gives_values_that_index_count_and_array_slice_read() {
    let data = &[(
        "d",
        r#"{"roles": ["a", "b", "c"], "n": 7, "ok": true, "none": null, "o": {"x": 1}}"#,
    )][..];
    example(
        "%globals_user_attribute_d^json_decode^index:roles%",
        data,
        r#"["a","b","c"]"#,
        Some(r#"["a","b","c"]"#),
    );
    example(
        "%globals_user_attribute_d^json_decode^index:roles^count%",
        data,
        "3",
        Some("3"),
    );
    example(
        "%globals_user_attribute_d^json_decode^index:roles^array_slice:1%",
        data,
        r#"["b","c"]"#,
        Some(r#"["b","c"]"#),
    );
    example(
        "%globals_user_attribute_d^json_decode^index:roles^array_slice:-1^index:0%",
        data,
        "c",
        None,
    );
    example(
        "%globals_user_attribute_d^json_decode^index:n%",
        data,
        "7",
        Some("7"),
    );
    example(
        "%globals_user_attribute_d^json_decode^index:ok%",
        data,
        "true",
        Some("true"),
    );
    example(
        "%globals_user_attribute_d^json_decode^index:none^empty:none%",
        data,
        "none",
        None,
    );
    example(
        "%globals_user_attribute_d^json_decode^index:o%",
        data,
        r#"{"x":1}"#,
        Some(r#"{"x":1}"#),
    );
    example(
        "%globals_user_attribute_d^json_decode^index:roles^contains:b%",
        data,
        "1",
        Some("1"),
    );
    example(
        "%globals_user_attribute_d^json_decode%",
        &[("d", "not json")],
        "",
        Some("error: text in a value position"),
    );
    example(
        "%globals_user_groups^array_slice:0:1%",
        &[],
        "staff",
        Some(r#"["staff"]"#),
    );
}

// What the CMS documents that is refused here, each with its located reason.

#[test]
fn a_keyword_name_in_upper_case_is_a_keyword_or_an_error_never_text() {
    assert_compile_error(
        r#"{"n": "%Globals_user_name%"}"#,
        1,
        8,
        "keyword names are case-sensitive; write \"globals_user_name\"",
    );
    assert_compile_error(r#"{"n": "%Nope%"}"#, 1, 8, "unknown keyword \"Nope\"");
    assert_compile_error(
        r#"{"n": "%globals_date_D, d M Y%"}"#,
        1,
        8,
        "looks like a keyword",
    );
    assert_compile_error(
        r#"{"n": "see %ASSET_name for"}"#,
        1,
        12,
        "looks like a keyword",
    );
}

#[test]
fn html_and_asset_tree_modifiers_are_refused_with_the_reason() {
    assert_compile_error(
        r#"{"n": "%asset_name^escapehtml%"}"#,
        1,
        20,
        "a token's claims are JSON",
    );
    assert_compile_error(
        r#"{"n": "%asset_name^as_asset:asset_url%"}"#,
        1,
        20,
        "reads other assets",
    );
    assert_compile_error(
        r#"{"n": "%asset_name^replace_keywords:eq:1:{asset_name}%"}"#,
        1,
        20,
        "replace_keywords",
    );
    assert_compile_error(
        r#"{"n": "%asset_name^replace:(?<=a)b:c%"}"#,
        1,
        28,
        "linear time",
    );
}

#[test]
fn every_cms_modifier_left_out_is_refused_at_its_name_with_the_reason() {
    for name in [
        "escapehtml",
        "unescapehtml",
        "htmlentities",
        "escapequotes",
        "nl2br",
        "cdata",
        "tag",
        "tagif",
        "stripdecl",
        "css_safe",
        "as_xml",
        "as_csv",
        "as_csv_noheader",
        "as_url_string",
        "xpath",
        "xpathe",
        "xslt",
        "as_asset",
        "preg_replace",
        "preg_match",
        "preg_match_result",
        "context",
        "with_get",
        "replace_keywords",
        "as_json",
        "increment",
        "decrement",
        "negate",
        "sign",
        "squareroot",
        "number_format",
        "md5",
        "sha1",
        "implode",
        "in_array",
        "notempty",
        "gt",
        "gte",
        "lt",
        "lte",
        "eq_date",
        "neq_date",
        "lt_date",
        "lte_date",
        "gt_date",
        "gte_date",
    ] {
        // The name is checked before the arguments, so each is refused as written in the CMS.
        assert_compile_error(
            &format!("{{\"n\": \"%asset_name^{name}:x%\"}}"),
            1,
            20,
            &format!("the CMS modifier \"{name}\" is not supported here: "),
        );
    }
}

#[test]
fn every_cms_keyword_family_left_out_is_refused_at_the_keyword_with_the_reason() {
    for keyword in [
        "globals_site_name",
        "globals_random_1_6",
        "globals_protocol",
        "globals_context",
        "globals_visited_urls",
        "globals_entry_asset",
        "globals_page_referrer",
        "globals_snippet_12",
        "globals_icon_page_standard",
        "globals_system_maintenance_mode",
        "globals_get",
        "globals_user_member_groups",
        "globals_asset_url",
        "asset_metadata_Title",
        "globals_asset_attribute_title:100",
    ] {
        assert_compile_error(
            &format!("{{\"n\": \"%{keyword}%\"}}"),
            1,
            8,
            &format!("the CMS keyword \"{keyword}\" is not supported here: "),
        );
    }
}
