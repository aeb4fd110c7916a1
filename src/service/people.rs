//! Administering users beyond creation: attributes, groups, the admin flag, sessions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::Service;
use super::views::UserView;
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::user::{User, distinct_groups, validate_attribute_name, validate_group_name};
use crate::error::AppError;
use crate::store::StoreError;

/// A change of a user: each part given replaces the old one, each part left out stays.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// All attributes.
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
    /// All groups.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Administrator.
    #[serde(default)]
    pub admin: Option<bool>,
    /// The version the change was made from: refused (`Stale`) when the user changed since.
    #[serde(default)]
    pub version: Option<u64>,
}

/// A session as shown to administrators (never its id).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last request (to the minute).
    pub last_seen: DateTime<Utc>,
}

/// Validate attributes and groups; shared by creation and update.
pub(super) fn clean_profile(
    attributes: &BTreeMap<String, String>,
    groups: Vec<String>,
) -> Result<Vec<String>, AppError> {
    for (name, value) in attributes {
        validate_attribute_name(name).map_err(AppError::Invalid)?;
        if value.len() > 4096 {
            return Err(AppError::invalid(
                "attributes",
                format!("attribute {name} is longer than 4096 bytes"),
            ));
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let g = g.trim().to_owned();
        validate_group_name(&g).map_err(AppError::Invalid)?;
        out.push(g);
    }
    // One group per name, whatever its letter case: the first spelling is kept.
    Ok(distinct_groups(out))
}

impl Service {
    /// Replace a user's attributes, groups and admin flag.
    pub fn update_user(
        &self,
        actor: &str,
        username: &str,
        update: UserUpdate,
    ) -> Result<UserView, AppError> {
        let _guard = self.lock_writes();
        let mut user = self.user_named(username)?;
        if let Some(read_at) = update.version
            && read_at != user.version
        {
            return Err(stale(&user));
        }
        let attributes = update.attributes.unwrap_or_else(|| user.attributes.clone());
        let groups = clean_profile(
            &attributes,
            update.groups.unwrap_or_else(|| user.groups.clone()),
        )?;
        let admin = update.admin.unwrap_or(user.admin);
        if user.admin && !admin && user.username.as_str().eq_ignore_ascii_case(actor) {
            return Err(AppError::invalid(
                "admin",
                "you cannot take away your own administrator rights",
            ));
        }
        let mut changed = Vec::new();
        if user.attributes != attributes {
            changed.push("attributes");
        }
        if user.groups != groups {
            changed.push("groups");
        }
        if user.admin != admin {
            changed.push(if admin {
                "admin (granted)"
            } else {
                "admin (taken away)"
            });
        }
        user.attributes = attributes;
        user.groups = groups;
        user.admin = admin;
        user.updated_at = Utc::now();
        self.save_user(&mut user)?;
        self.audit.record(AuditEvent {
            detail: Some(if changed.is_empty() {
                "nothing changed".to_owned()
            } else {
                format!("changed {}", changed.join(", "))
            }),
            ..AuditEvent::admin(actor, AuditAction::UserUpdate, user.username.as_str())
        });
        Ok(UserView::from(&user))
    }

    /// A user's current sessions, newest first.
    pub fn sessions_of(&self, username: &str) -> Result<Vec<SessionView>, AppError> {
        let user = self.user_named(username)?;
        let now = Utc::now();
        let mut sessions: Vec<SessionView> = self
            .store
            .user_sessions(&user.id)?
            .into_iter()
            .filter(|s| s.is_current(now, self.sessions.idle_seconds, self.sessions.max_seconds))
            .map(|s| SessionView {
                created_at: s.created_at,
                last_seen: s.last_seen,
            })
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(sessions)
    }

    /// Delete a user for good: their sessions end and their API keys go with them (tokens they
    /// already hold stay valid until they expire); audit events naming them stay. Nobody can
    /// delete their own account, and the last administrator stays.
    pub fn delete_user(
        &self,
        actor: &str,
        username: &str,
        expected_version: Option<u64>,
    ) -> Result<(), AppError> {
        let _guard = self.lock_writes();
        let user = self.user_named(username)?;
        if expected_version.is_some_and(|v| v != user.version) {
            return Err(stale(&user));
        }
        if user.username.as_str().eq_ignore_ascii_case(actor) {
            return Err(AppError::Conflict(
                "you cannot delete your own account".into(),
            ));
        }
        if user.admin
            && !self
                .store
                .users()?
                .iter()
                .any(|u| u.admin && !u.disabled && u.id != user.id)
        {
            return Err(AppError::Conflict(
                "this is the last administrator who can sign in; make someone else an \
                 administrator (or enable one) first"
                    .into(),
            ));
        }
        // The name would be free for a new account, which would inherit what the rules grant
        // it: those places must let go of it first.
        let named = |rule: &crate::domain::asset::AccessRule| {
            rule.users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(user.username.as_str()))
        };
        let mut holding: Vec<String> = self
            .store
            .asset_index()?
            .iter()
            .filter(|b| b.asset.read.as_ref().is_some_and(named) || named(&b.asset.write))
            .map(|b| b.asset.path.to_string())
            .collect();
        if !holding.is_empty() {
            holding.sort();
            holding.truncate(5);
            return Err(AppError::Conflict(format!(
                "{} is named in the read or write rule of {}; take the name out of those rules \
                 first (a new account of the same name would get that access)",
                user.username,
                holding.join(", ")
            )));
        }
        if self
            .sign_in_settings()?
            .break_glass
            .iter()
            .any(|u| u.eq_ignore_ascii_case(user.username.as_str()))
        {
            return Err(AppError::Conflict(format!(
                "{} is a break-glass administrator of the sign-in policy; change the policy first",
                user.username
            )));
        }
        // Held to the version checked above: a change made meanwhile (by another instance, which
        // this process's write lock does not hold back) fails the delete instead of slipping
        // past the checks.
        match self.store.delete_user(&user.id, user.version) {
            Ok(()) => {}
            Err(StoreError::VersionMismatch) => return Err(stale(&self.user_named(username)?)),
            Err(e) => return Err(e.into()),
        }
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::UserDelete,
            user.username.as_str(),
        ));
        Ok(())
    }

    /// End every session of a user; returns how many ended.
    pub fn end_sessions(&self, actor: &str, username: &str) -> Result<usize, AppError> {
        let user = self.user_named(username)?;
        let ended = self.store.remove_user_sessions(&user.id)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::UserEndSessions,
            user.username.as_str(),
        ));
        Ok(ended)
    }
}

/// A change held to a version `user` is no longer at (users do not record who changed them).
fn stale(user: &User) -> AppError {
    AppError::Stale {
        current: user.version,
        by: "another administrator".into(),
        at: user.updated_at.to_rfc3339(),
    }
}
