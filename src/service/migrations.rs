//! Data migrations: changes the service makes once to the records of a store written by an
//! earlier version (the backends migrate their own schema). Each is marked done in the store
//! when it has finished; one cut short runs again at the next start and picks up where it
//! stopped, because doing it again changes nothing that is already done.

use chrono::Utc;

use super::state::Service;
use crate::domain::asset::{Asset, TEMPLATE_LANGUAGE};
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::trial::standard_problem;
use crate::domain::user::{User, distinct_groups};
use crate::error::AppError;
use crate::keywords::{PayloadTemplate, upgrade_v1_template};
use crate::store::StoreError;

/// Groups became case-insensitive ("Staff" is "staff"): a user who held both spellings holds
/// the first one only.
const MERGE_GROUPS: &str = "merge-case-duplicate-groups";

/// Assets saved before the template trial's outcome was stored with them get it.
const TRY_TEMPLATES: &str = "try-stored-templates";

/// Templates saved in the first keyword language are rewritten in the CMS-faithful one.
const UPGRADE_TEMPLATES: &str = "upgrade-templates-to-keyword-language-2";

/// The actor of the audit events a migration records.
pub const MIGRATION_ACTOR: &str = "migration";

/// How many merged users the log line names (the audit log has each of them).
const NAMED_IN_LOG: usize = 20;

/// The first [`NAMED_IN_LOG`] of `total` items for a log line, joined by `sep`, with `…` when
/// there are more.
fn named_in_log(items: impl Iterator<Item = String>, total: usize, sep: &str) -> String {
    let mut named: Vec<String> = items.take(NAMED_IN_LOG).collect();
    if total > NAMED_IN_LOG {
        named.push("…".into());
    }
    named.join(sep)
}

/// One user whose groups were merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedGroups {
    /// The user.
    pub username: String,
    /// Their groups before.
    pub before: Vec<String>,
    /// Their groups after.
    pub after: Vec<String>,
}

impl MergedGroups {
    fn describe(&self) -> String {
        format!(
            "{}: {} -> {}",
            self.username,
            self.before.join(", "),
            self.after.join(", ")
        )
    }
}

impl Service {
    /// Run the data migrations this store has not had yet (at start).
    pub(super) fn run_data_migrations(&self) -> Result<(), AppError> {
        if !self.store.data_migration_done(MERGE_GROUPS)? {
            self.merge_case_duplicate_groups()?;
            self.store.mark_data_migration_done(MERGE_GROUPS)?;
        }
        if !self.store.data_migration_done(UPGRADE_TEMPLATES)? {
            self.upgrade_stored_templates()?;
            self.store.mark_data_migration_done(UPGRADE_TEMPLATES)?;
        }
        if !self.store.data_migration_done(TRY_TEMPLATES)? {
            self.try_stored_templates()?;
            self.store.mark_data_migration_done(TRY_TEMPLATES)?;
        }
        Ok(())
    }

    /// Rewrite every template written in the first keyword language so that it renders the same
    /// claims in the current one (after an import of an older dump too, and once per store at
    /// start). Each rewritten asset gets an `asset.update` audit event by [`MIGRATION_ACTOR`]
    /// listing the changes; one that cannot be rewritten to mean the same is kept, marked with
    /// a template warning, and named in the log. Returns the paths of the assets written.
    pub fn upgrade_stored_templates(&self) -> Result<Vec<String>, AppError> {
        let mut upgraded = Vec::new();
        let mut kept = Vec::new();
        for mut asset in self.store.assets()? {
            if asset.template_language >= TEMPLATE_LANGUAGE {
                continue;
            }
            let outcome = match upgrade_v1_template(&asset.template) {
                Ok(None) => Ok(None),
                Ok(Some(u)) => match PayloadTemplate::compile(&u.template) {
                    Ok(_) => Ok(Some(u)),
                    Err(e) => Err(format!("the rewritten template does not compile: {e}")),
                },
                Err(reason) => Err(reason),
            };
            let detail = match outcome {
                // Means the same in both languages: not written (a store of 10 000 assets is
                // not rewritten for nothing); rewriting it again later finds nothing either.
                Ok(None) => continue,
                Ok(Some(u)) => {
                    asset.template = u.template;
                    format!(
                        "template rewritten for the CMS-faithful keyword language, with the same \
                         claims: {}",
                        u.changes.join("; ")
                    )
                }
                Err(reason) => {
                    let warning = format!(
                        "this template was written for the first keyword language and could not \
                         be rewritten to render the same claims in the current one ({reason}); \
                         check it in the preview and save it again"
                    );
                    asset.template_warning = Some(warning.clone());
                    kept.push(asset.path.to_string());
                    warning
                }
            };
            asset.template_language = TEMPLATE_LANGUAGE;
            // Not written when changed meanwhile (by an administrator, or another instance doing
            // the same): that save wrote a template in the current language.
            if self.write_migrated(&mut asset, detail)? {
                upgraded.push(asset.path.to_string());
            }
        }
        if !upgraded.is_empty() {
            tracing::warn!(
                assets = upgraded.len(),
                "templates rewritten for the CMS-faithful keyword language (each has an \
                 asset.update audit event saying what changed): {}",
                named_in_log(upgraded.iter().cloned(), upgraded.len(), ", ")
            );
        }
        if !kept.is_empty() {
            tracing::error!(
                assets = kept.len(),
                "templates that could not be rewritten for the CMS-faithful keyword language \
                 (marked \"template error\"; check them in the preview): {}",
                named_in_log(kept.iter().cloned(), kept.len(), ", ")
            );
        }
        Ok(upgraded)
    }

    /// Store an asset a migration changed, over the version it read, with an `asset.update`
    /// audit event by [`MIGRATION_ACTOR`]; `false` when it changed or went meanwhile.
    fn write_migrated(&self, asset: &mut Asset, detail: String) -> Result<bool, AppError> {
        let read_at = asset.version;
        asset.version += 1;
        match self.store.replace_asset(asset, read_at) {
            Ok(()) => {}
            Err(StoreError::VersionMismatch | StoreError::Missing) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.audit.record(AuditEvent {
            detail: Some(detail),
            ..AuditEvent::admin(
                MIGRATION_ACTOR,
                AuditAction::AssetUpdate,
                asset.path.as_str(),
            )
        });
        Ok(true)
    }

    /// Try the template of every asset saved before the trial's outcome was stored with it, so
    /// that one which fails for a standard user (no attributes, the sample user) shows the
    /// "template error" badge without being saved again. Only assets it fails for are written
    /// (each with an `asset.update` audit event by [`MIGRATION_ACTOR`]); returns their paths.
    pub(super) fn try_stored_templates(&self) -> Result<Vec<String>, AppError> {
        let mut marked = Vec::new();
        for mut asset in self.store.assets()? {
            if asset.template_warning.is_some() {
                continue;
            }
            // A template that does not compile has its own badge (and answers 500).
            let Ok(template) = PayloadTemplate::compile(&asset.template) else {
                continue;
            };
            let Some(problem) = standard_problem(&asset, &template) else {
                continue;
            };
            asset.template_warning = Some(problem.clone());
            // Not written when changed meanwhile (by an administrator, or another instance doing
            // the same): that save tried the template itself.
            let detail = format!("template tried for the standard users: {problem}");
            if self.write_migrated(&mut asset, detail)? {
                marked.push(asset.path.to_string());
            }
        }
        if !marked.is_empty() {
            tracing::warn!(
                assets = marked.len(),
                "templates that fail for a standard user (now marked \"template error\"; each \
                 has an asset.update audit event): {}",
                named_in_log(marked.iter().cloned(), marked.len(), ", ")
            );
        }
        Ok(marked)
    }

    /// Merge, for every user, the groups that differ only in letter case (after an import of
    /// an older dump, and once per store at start). Each merged user gets a `user.update`
    /// audit event by [`MIGRATION_ACTOR`] saying what was merged, and the log says how many.
    pub fn merge_case_duplicate_groups(&self) -> Result<Vec<MergedGroups>, AppError> {
        let mut merged = Vec::new();
        let mut failed = None;
        self.scan_users(None, |user| match self.merge_groups_of(user) {
            Ok(m) => {
                merged.extend(m);
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if !merged.is_empty() {
            tracing::warn!(
                users = merged.len(),
                "merged groups that differ only in letter case (groups are case-insensitive now; \
                 each user has a user.update audit event): {}",
                named_in_log(
                    merged.iter().map(MergedGroups::describe),
                    merged.len(),
                    "; "
                )
            );
        }
        Ok(merged)
    }

    /// Merge one user's groups, again over a newer version if someone changed the user meanwhile
    /// (another instance running the same migration).
    fn merge_groups_of(&self, mut user: User) -> Result<Option<MergedGroups>, AppError> {
        loop {
            let groups = distinct_groups(user.groups.iter().cloned());
            if groups.len() == user.groups.len() {
                return Ok(None);
            }
            let before = std::mem::replace(&mut user.groups, groups);
            user.updated_at = Utc::now();
            let read_at = user.version;
            user.version += 1;
            match self.store.update_user(&user, read_at) {
                Ok(()) => {}
                Err(StoreError::VersionMismatch) => match self.store.user(&user.id)? {
                    Some(now) => {
                        user = (*now).clone();
                        continue;
                    }
                    None => return Ok(None),
                },
                Err(StoreError::Missing) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            let m = MergedGroups {
                username: user.username.to_string(),
                before,
                after: user.groups.clone(),
            };
            self.audit.record(AuditEvent {
                detail: Some(format!(
                    "merged groups that differ only in letter case: {} -> {}",
                    m.before.join(", "),
                    m.after.join(", ")
                )),
                ..AuditEvent::admin(MIGRATION_ACTOR, AuditAction::UserUpdate, &m.username)
            });
            return Ok(Some(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::audit::AuditFilter;
    use crate::service::groups::PAGE;
    use crate::service::state::SessionPolicy;
    use crate::store::Store;
    use crate::store::sled::SledStore;
    use crate::store::test_records::{asset, user};

    fn service(store: Arc<dyn Store>) -> Service {
        let policy = SessionPolicy {
            max_failures_per_address: 0,
            idle_seconds: 3600,
            max_seconds: 86_400,
        };
        Service::new(store, policy, 10_000, 1).unwrap()
    }

    fn groups_of(store: &dyn Store, name: &str) -> Vec<String> {
        store.user_by_username(name).unwrap().unwrap().groups
    }

    #[test]
    fn groups_differing_only_in_case_are_merged_once_at_start_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_for_test(dir.path()).unwrap());
        // Written as an earlier version allowed: both spellings on one user.
        let mut bob = user("bob");
        bob.groups = vec!["Staff".into(), "ops".into(), "staff".into(), "OPS".into()];
        store.insert_user(&bob).unwrap();
        let mut carol = user("carol");
        carol.groups = vec!["Staff".into(), "support".into()];
        store.insert_user(&carol).unwrap();

        let first = service(store.clone());
        assert_eq!(groups_of(store.as_ref(), "bob"), ["Staff", "ops"]);
        assert_eq!(groups_of(store.as_ref(), "carol"), ["Staff", "support"]);
        let events = first
            .audit_events(&AuditFilter::default(), 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.actor == MIGRATION_ACTOR)
            .collect::<Vec<_>>();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].target, "bob");
        assert_eq!(
            events[0].detail.as_deref(),
            Some(
                "merged groups that differ only in letter case: Staff, ops, staff, OPS -> Staff, ops"
            )
        );
        assert!(store.data_migration_done(MERGE_GROUPS).unwrap());
        first.shutdown().unwrap();

        // Done once: a later start does not scan the users again.
        let mut dave = user("dave");
        dave.groups = vec!["a".into(), "A".into()];
        store.insert_user(&dave).unwrap();
        let _second = service(store.clone());
        assert_eq!(groups_of(store.as_ref(), "dave"), ["a", "A"]);
    }

    #[test]
    fn stored_templates_that_fail_for_a_standard_user_get_the_badge_once() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_for_test(dir.path()).unwrap());
        // Saved before the trial's outcome was stored with the asset.
        let mut age = asset("/t/age");
        age.template = r#"{"age": %globals_user_attribute_age%}"#.into();
        store.insert_asset(&age).unwrap();
        let fine = asset("/t/fine");
        store.insert_asset(&fine).unwrap();

        let service = service(store.clone());
        let stored = store.asset_by_path("/t/age").unwrap().unwrap();
        let warning = stored
            .template_warning
            .expect("the badge's reason is stored");
        assert!(warning.contains("line 1, column 9"), "{warning}");
        assert_eq!(stored.version, age.version + 1);
        assert_eq!(
            stored.updated_by, age.updated_by,
            "who last edited it is kept"
        );
        let untouched = store.asset_by_path("/t/fine").unwrap().unwrap();
        assert_eq!(untouched.version, fine.version);
        assert!(untouched.template_warning.is_none());
        let events: Vec<_> = service
            .audit_events(&AuditFilter::default(), 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.actor == MIGRATION_ACTOR)
            .collect();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].target, "/t/age");
        assert!(store.data_migration_done(TRY_TEMPLATES).unwrap());
    }

    /// The claims `template` renders for a user without attributes, for asset "help desk".
    fn claims(template: &str) -> serde_json::Value {
        let attributes = std::collections::BTreeMap::new();
        let ctx = crate::keywords::RenderContext {
            user: crate::keywords::UserFacts {
                id: "u-1",
                username: "bob",
                attributes: &attributes,
                groups: &[],
            },
            asset: crate::keywords::AssetFacts {
                id: "a-1",
                name: "help desk",
                web_path: "/t/v1",
                has_write_access: false,
            },
            now: chrono::DateTime::from_timestamp(1_795_428_000, 0).unwrap(),
            params: &[],
        };
        let text = PayloadTemplate::compile(template)
            .unwrap()
            .render(&ctx)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn templates_of_the_first_keyword_language_are_rewritten_to_render_the_same_claims() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_for_test(dir.path()).unwrap());
        let mut v1 = asset("/t/v1");
        v1.template_language = 1;
        v1.template = r#"{"t": "%asset_name^capitalize%", "u": "%asset_name^urlencode%", "c": %asset_name^contains:p d%, "r": "%asset_name^replace:(\w+) (\w+):$2-$1%", "d": "%Y-%m"}"#.into();
        store.insert_asset(&v1).unwrap();
        let mut same = asset("/t/same");
        same.template_language = 1;
        store.insert_asset(&same).unwrap();
        let mut stuck = asset("/t/stuck");
        stuck.template_language = 1;
        stuck.template = r#"{"a": "%asset_name^append:x\\%"}"#.into();
        store.insert_asset(&stuck).unwrap();

        let first = service(store.clone());
        let stored = store.asset_by_path("/t/v1").unwrap().unwrap();
        assert_eq!(stored.template_language, TEMPLATE_LANGUAGE);
        assert_eq!(stored.version, v1.version + 1);
        // What the first language rendered for these keywords.
        assert_eq!(
            claims(&stored.template),
            serde_json::json!({"t": "Help Desk", "u": "help%20desk", "c": 1, "r": "desk-help", "d": "%Y-%m"}),
            "{}",
            stored.template
        );
        let unchanged = store.asset_by_path("/t/same").unwrap().unwrap();
        assert_eq!(unchanged.template, same.template);
        assert_eq!(unchanged.version, same.version, "not written");
        let kept = store.asset_by_path("/t/stuck").unwrap().unwrap();
        assert_eq!(kept.template, stuck.template, "kept as it was");
        let warning = kept.template_warning.expect("marked for the administrator");
        assert!(warning.contains("ends with a backslash"), "{warning}");
        let events: Vec<_> = first
            .audit_events(&AuditFilter::default(), 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.actor == MIGRATION_ACTOR)
            .collect();
        let targets: Vec<&str> = events.iter().map(|e| e.target.as_str()).collect();
        assert!(
            targets.contains(&"/t/v1") && targets.contains(&"/t/stuck"),
            "{targets:?}"
        );
        assert!(!targets.contains(&"/t/same"), "{targets:?}");
        let detail = events
            .iter()
            .find(|e| e.target == "/t/v1")
            .and_then(|e| e.detail.clone())
            .unwrap();
        assert!(
            detail.contains("capitalize is the CMS's titleize"),
            "{detail}"
        );
        assert!(store.data_migration_done(UPGRADE_TEMPLATES).unwrap());
        first.shutdown().unwrap();

        // Once: a template in the current language is never rewritten again.
        let again = service(store.clone());
        assert_eq!(
            again.upgrade_stored_templates().unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store.asset_by_path("/t/v1").unwrap().unwrap().template,
            stored.template
        );
    }

    #[test]
    fn the_scan_reaches_every_page_of_users() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_for_test(dir.path()).unwrap());
        for i in 0..(PAGE + 3) {
            let mut u = user(&format!("u{i:04}"));
            u.groups = vec!["x".into(), "X".into()];
            store.insert_user(&u).unwrap();
        }
        let _service = service(store.clone());
        assert_eq!(groups_of(store.as_ref(), "u0000"), ["x"]);
        assert_eq!(
            groups_of(store.as_ref(), &format!("u{:04}", PAGE + 2)),
            ["x"]
        );
    }
}
