//! Trial renders of a payload template for representative users: a template that renders for
//! none of them (for a reason no user's attributes could change) is refused at save, one that fails for some is saved with a warning and shows
//! the "template error" badge. Pure: the caller brings the users.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::asset::Asset;
use crate::domain::user::User;
use crate::keywords::{AssetFacts, PayloadTemplate, RenderContext, RenderError, UserFacts};

/// Request-parameter keywords: their values come from the request, checked against the
/// asset's patterns, so a trial without a request says nothing about them.
const REQUEST_PARAM_PREFIX: &str = "globals_get_";

/// A user a template is tried with.
pub struct TrialUser {
    /// Who it is, as a message says it ("a user with every attribute empty").
    pub label: String,
    id: String,
    username: String,
    attributes: BTreeMap<String, String>,
    groups: Vec<String>,
    /// Whether the user may write the asset (`asset_has_write_access`).
    writes: bool,
}

impl TrialUser {
    /// A real user, as `label` (the acting administrator: `you (alice)`).
    pub fn of(label: String, user: &User) -> TrialUser {
        TrialUser {
            label,
            id: user.id.to_string(),
            username: user.username.to_string(),
            attributes: user.attributes.clone(),
            groups: user.groups.clone(),
            // Administrators may write every asset.
            writes: user.admin,
        }
    }

    fn facts(&self) -> UserFacts<'_> {
        UserFacts {
            id: &self.id,
            username: &self.username,
            attributes: &self.attributes,
            groups: &self.groups,
        }
    }
}

/// The made-up user of the preset checks: named, with an e-mail address, in group `staff`,
/// allowed to write.
pub static SAMPLE_USER: LazyLock<TrialUser> = LazyLock::new(|| TrialUser {
    label: "the sample user".into(),
    id: "u-sample".into(),
    username: "sample.user".into(),
    attributes: BTreeMap::from([
        ("first_name".to_owned(), "Sample".to_owned()),
        ("last_name".to_owned(), "User".to_owned()),
        ("email".to_owned(), "sample.user@example.com".to_owned()),
    ]),
    groups: vec!["staff".to_owned()],
    writes: true,
});

/// A user with no attribute, no group and no write access.
pub static EMPTY_USER: LazyLock<TrialUser> = LazyLock::new(|| TrialUser {
    label: "a user with no attributes or groups".into(),
    id: "u-empty".into(),
    username: "empty".into(),
    attributes: BTreeMap::new(),
    groups: Vec::new(),
    writes: false,
});

/// The time trial renders happen at (fixed, so a trial's outcome does not depend on the day).
fn trial_time() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

/// The template rendered for `user` (the claims text, before the server's claims).
pub fn render_for(
    asset: &Asset,
    template: &PayloadTemplate,
    user: &TrialUser,
) -> Result<String, RenderError> {
    let ctx = RenderContext {
        user: user.facts(),
        asset: AssetFacts {
            id: asset.id.as_str(),
            name: &asset.name,
            web_path: asset.path.as_str(),
            has_write_access: user.writes,
        },
        now: trial_time(),
        params: &[],
    };
    template.render(&ctx)
}

/// A trial render that failed.
pub struct Failure<'u> {
    /// For whom.
    pub user: &'u TrialUser,
    /// Why, where.
    pub error: RenderError,
}

impl std::fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "for {}, line {}, column {}: {}",
            self.user.label, self.error.line, self.error.column, self.error.message
        )
    }
}

/// What the trial found: the failures, and whether every user failed.
pub struct Outcome<'u> {
    /// Each user the template did not render for (request-parameter keywords aside).
    pub failures: Vec<Failure<'u>>,
    /// How many users were tried.
    pub tried: usize,
}

impl Outcome<'_> {
    /// The first failure for a standard user (empty, sample), worded for the badge; the same
    /// as [`standard_problem`] when they were among the users tried.
    pub fn standard_problem(&self) -> Option<String> {
        self.failures
            .iter()
            .find(|f| std::ptr::eq(f.user, &*EMPTY_USER) || std::ptr::eq(f.user, &*SAMPLE_USER))
            .map(|f| format!("fails {f}"))
    }

    /// The template renders for none of the users, and not because of what their attributes
    /// hold (see [`reads_attribute`]): it would render for no one.
    pub fn fails_for_all(&self) -> bool {
        self.tried > 0
            && self.failures.len() == self.tried
            && self
                .failures
                .iter()
                .all(|f| !reads_attribute(&f.error.keyword))
    }
}

/// Whether a keyword's value is a user attribute. What an attribute holds differs from user to
/// user (`age` may be a number for everyone who has it), so a failure there never proves the
/// template fails for everyone; the username is the same kind of text for all.
pub fn reads_attribute(keyword: &str) -> bool {
    keyword
        .strip_prefix("globals_user_attribute_")
        .is_some_and(|name| name != "username")
}

/// Render the template for each user.
pub fn try_users<'u>(
    asset: &Asset,
    template: &PayloadTemplate,
    users: &[&'u TrialUser],
) -> Outcome<'u> {
    let failures = users
        .iter()
        .filter_map(|user| match render_for(asset, template, user) {
            Err(error) if !error.keyword.starts_with(REQUEST_PARAM_PREFIX) => {
                Some(Failure { user, error })
            }
            _ => None,
        })
        .collect();
    Outcome {
        failures,
        tried: users.len(),
    }
}

/// Why the template fails for one of the standard users (empty, sample), if it does: the
/// "template error" badge of a list.
pub fn standard_problem(asset: &Asset, template: &PayloadTemplate) -> Option<String> {
    try_users(asset, template, &[&EMPTY_USER, &SAMPLE_USER]).standard_problem()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset() -> Asset {
        serde_json::from_value(serde_json::json!({
            "id": "a-1", "name": "T", "path": "/t", "state": {"state": "live"},
            "algorithm": "HS256", "secret": [1, 2, 3], "secret_changed_at": "2026-01-01T00:00:00Z",
            "weak_secret_accepted": true, "template": "{}", "expiry_seconds": 600,
            "issuer": null, "audience": null, "not_before": false, "jti": false, "read": null,
            "write": {"users": [], "groups": []}, "created_at": "2026-01-01T00:00:00Z",
            "created_by": "admin", "updated_at": "2026-01-01T00:00:00Z", "updated_by": "admin",
            "version": 1
        }))
        .unwrap()
    }

    fn outcome(template: &str) -> (bool, Vec<String>) {
        let t = PayloadTemplate::compile(template).unwrap();
        let o = try_users(&asset(), &t, &[&EMPTY_USER, &SAMPLE_USER]);
        (
            o.fails_for_all(),
            o.failures.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn text_that_is_text_for_everyone_fails_for_all() {
        let (all, failures) = outcome(r#"{"sub": %globals_user_attribute_username%}"#);
        assert!(all);
        assert_eq!(
            failures[0],
            "for a user with no attributes or groups, line 1, column 9: produced text in a value position; wrap it in quotes or add ^json_encode"
        );
    }

    #[test]
    fn an_attribute_may_hold_json_for_some_users_so_it_only_warns() {
        let (all, failures) = outcome(r#"{"age": %globals_user_attribute_age%}"#);
        assert!(!all);
        assert_eq!(failures.len(), 2);
    }

    #[test]
    fn write_access_decides_for_whom_it_fails() {
        let (all, failures) = outcome(r#"{"admin": %asset_has_write_access^eq:1:true:nope%}"#);
        assert!(!all);
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].starts_with("for a user with no attributes or groups, line 1, column 11")
        );
    }

    #[test]
    fn a_good_template_fails_for_no_one_and_request_parameters_are_not_judged() {
        assert_eq!(
            outcome(r#"{"sub": "%globals_user_attribute_username%"}"#),
            (false, vec![])
        );
        assert!(
            standard_problem(
                &asset(),
                &PayloadTemplate::compile(r#"{"sub": "%globals_user_attribute_username%"}"#)
                    .unwrap()
            )
            .is_none()
        );
    }
}
