//! The README's keyword reference, checked: every example in its tables renders as the table
//! says, for the user, asset and time the reference describes.

use super::Fixture;
use crate::keywords::PayloadTemplate;

const README: &str = include_str!("../../../README.md");

/// The facts the README's examples render for ("The examples on this page render for…").
fn readme_fixture() -> Fixture {
    Fixture::alice()
        .without_attribute("team_code")
        .with_attribute("roles", "a;b;c")
        .with_attribute("address", r#"{"city": "Hobart", "postcode": "7000"}"#)
        .with_attribute("bio", "<p>Loves <b>chess</b> and tea</p>")
        .with_attribute("born", "1984-02-29")
}

/// The text of a table cell that is exactly one code span.
fn code(cell: &str) -> Option<&str> {
    let cell = cell.trim();
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.contains('`')).then_some(inner)
}

#[test]
fn every_example_of_the_keyword_reference_renders_as_documented() {
    let start = README
        .find("## Keyword reference")
        .expect("the README has a keyword reference");
    let end = README[start..]
        .find("\n## ")
        .map_or(README.len(), |at| start + at);
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in README[start..end].lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
        if !line.starts_with('|') || cells.len() < 2 {
            continue;
        }
        let (example, renders) = (cells[cells.len() - 2], cells[cells.len() - 1]);
        let mut fixture = readme_fixture();
        let fragment = match example.split_once(" with `?") {
            Some((fragment, query)) => {
                let query = query.trim_end_matches('`');
                let Some((name, value)) = query.split_once('=') else {
                    continue;
                };
                fixture = fixture.with_param(name, value);
                fragment
            }
            None => example,
        };
        let Some(fragment) = code(fragment) else {
            continue;
        };
        if !fragment.starts_with('"') || !fragment.contains(':') {
            continue;
        }
        let template = format!("{{{fragment}}}");
        let outcome = PayloadTemplate::compile(&template)
            .map_err(|e| format!("refused: {e}"))
            .and_then(|t| {
                t.render(&fixture.ctx())
                    .map_err(|e| format!("render error: {e}"))
            });
        checked += 1;
        match (code(renders), outcome) {
            (Some(expected), Ok(out)) if out == format!("{{{expected}}}") => {}
            (None, Err(e))
                if renders.trim().starts_with("render error") && e.starts_with("render error") => {}
            (None, Err(e)) if renders.trim().starts_with("refused") && e.starts_with("refused") => {
            }
            (_, outcome) => {
                failures.push(format!("{fragment}  =>  {outcome:?}, README: {renders}"))
            }
        }
    }
    assert!(checked >= 60, "only {checked} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
