//! Property tests: random values and random templates never break the output's JSON.

use super::{Fixture, parse_json};
use crate::keywords::PayloadTemplate;

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
