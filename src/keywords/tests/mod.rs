//! Known-answer tests for the keyword language, by topic; this file holds the shared fixture.

mod cms;
mod errors;
mod facts;
mod injection;
mod limits;
mod members;
mod modifiers;
mod properties;
mod readme;
mod request_params;
mod worked_example;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::{AssetFacts, CompileError, PayloadTemplate, RenderContext, RenderError, UserFacts};

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
    params: Vec<(String, String)>,
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
            params: Vec::new(),
        }
    }

    /// The same fixture with request parameter `name` set to `value`.
    fn with_param(mut self, name: &str, value: &str) -> Fixture {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same fixture with attribute `name` set to `value`.
    fn with_attribute(mut self, name: &str, value: &str) -> Fixture {
        self.attributes.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The same fixture without attribute `name`.
    fn without_attribute(mut self, name: &str) -> Fixture {
        self.attributes.remove(name);
        self
    }

    /// The same fixture with exactly these groups.
    fn with_groups(mut self, groups: &[&str]) -> Fixture {
        self.groups = groups.iter().map(|group| group.to_string()).collect();
        self
    }

    /// The render context borrowing this fixture.
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
            params: &self.params,
        }
    }

    /// Compile and render `template`, panicking on either error.
    fn render(&self, template: &str) -> String {
        let template = PayloadTemplate::compile(template)
            .unwrap_or_else(|error| panic!("{template:?} should compile: {error}"));
        template
            .render(&self.ctx())
            .unwrap_or_else(|error| panic!("should render: {error}"))
    }

    /// Compile `template` and return the error rendering it must fail with.
    fn render_error(&self, template: &str) -> RenderError {
        let template = PayloadTemplate::compile(template)
            .unwrap_or_else(|error| panic!("{template:?} should compile: {error}"));
        match template.render(&self.ctx()) {
            Ok(out) => panic!("expected a render error, got {out}"),
            Err(error) => error,
        }
    }
}

/// `template` rendered for [`Fixture::alice`].
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

/// The error `template` must fail to compile with.
fn compile_error(template: &str) -> CompileError {
    match PayloadTemplate::compile(template) {
        Ok(_) => panic!("{template:?} should not compile"),
        Err(error) => error,
    }
}

/// Assert that `template` fails to compile at `line`, `column`, the message containing `message`.
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

/// Parse rendered output, panicking with the text when it is not JSON.
fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{text:?} is not JSON: {error}"))
}
