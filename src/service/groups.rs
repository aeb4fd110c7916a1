//! Groups: not records of their own but the names users hold, without regard to letter case.
//! They are listed by reading the users a page at a time, so memory stays one page (plus one
//! entry per group) however many users the store holds.

use std::collections::BTreeMap;

use serde::Serialize;

use super::state::Service;
use super::views::UserView;
use crate::domain::user::{User, same_group};
use crate::error::AppError;

/// Users read per step of a scan.
pub(super) const PAGE: usize = 500;

/// At most this many groups are listed (names past it are counted, not kept).
pub const MAX_GROUPS_LISTED: usize = 2000;

/// Spellings of one group kept for display.
const MAX_SPELLINGS: usize = 4;

/// A group as the groups page lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupSummary {
    /// The name as the first member (by username) writes it.
    pub name: String,
    /// Other spellings members use ("Staff" for "staff"): the same group.
    pub other_spellings: Vec<String>,
    /// How many users are in it.
    pub members: usize,
    /// How many of them are disabled.
    pub disabled: usize,
}

/// Every group, and how many distinct groups there were past [`MAX_GROUPS_LISTED`].
#[derive(Debug, Clone, Serialize)]
pub struct GroupList {
    /// The groups, by name without regard to case.
    pub groups: Vec<GroupSummary>,
    /// Groups not listed because the list is full.
    pub not_listed: usize,
}

impl Service {
    /// Read every user a page at a time, passing each to `each`; stops when `each` says so.
    pub(super) fn scan_users(
        &self,
        after: Option<&str>,
        mut each: impl FnMut(User) -> bool,
    ) -> Result<(), AppError> {
        let mut after = after.map(str::to_owned);
        loop {
            let page = self.store.users_page("", after.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            after = page.last().map(|u| u.username.to_string());
            for user in page {
                if !each(user) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Every group users hold, with its member count.
    pub fn groups(&self) -> Result<GroupList, AppError> {
        let mut groups: BTreeMap<String, GroupSummary> = BTreeMap::new();
        let mut not_listed = std::collections::HashSet::new();
        self.scan_users(None, |user| {
            for g in &user.groups {
                let key = g.to_lowercase();
                let full = groups.len() >= MAX_GROUPS_LISTED;
                match groups.get_mut(&key) {
                    Some(entry) => {
                        entry.members += 1;
                        entry.disabled += usize::from(user.disabled);
                        if entry.name != *g
                            && !entry.other_spellings.contains(g)
                            && entry.other_spellings.len() < MAX_SPELLINGS
                        {
                            entry.other_spellings.push(g.clone());
                        }
                    }
                    None if full => {
                        not_listed.insert(key);
                    }
                    None => {
                        groups.insert(
                            key,
                            GroupSummary {
                                name: g.clone(),
                                other_spellings: Vec::new(),
                                members: 1,
                                disabled: usize::from(user.disabled),
                            },
                        );
                    }
                }
            }
            true
        })?;
        Ok(GroupList {
            groups: groups.into_values().collect(),
            not_listed: not_listed.len(),
        })
    }

    /// One page of a group's members in username order, after the username `after`; `more`
    /// tells whether another page follows. `NotFound` when nobody is in the group (a group
    /// exists only through its members).
    pub fn group_members(
        &self,
        group: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UserView>, bool), AppError> {
        let mut members = Vec::new();
        self.scan_users(after, |user| {
            if user.groups.iter().any(|g| same_group(g, group)) {
                members.push(UserView::from(&user));
            }
            members.len() <= limit
        })?;
        if members.is_empty() && after.is_none() {
            return Err(AppError::NotFound);
        }
        let more = members.len() > limit;
        members.truncate(limit);
        Ok((members, more))
    }

    /// Group names that start with `prefix` (without regard to case), for the rule fields'
    /// suggestions: at most `limit`.
    pub fn group_names(&self, prefix: &str, limit: usize) -> Result<Vec<String>, AppError> {
        let prefix = prefix.to_lowercase();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        self.scan_users(None, |user| {
            for g in &user.groups {
                let key = g.to_lowercase();
                if key.starts_with(&prefix)
                    && (names.len() < MAX_GROUPS_LISTED || names.contains_key(&key))
                {
                    names.entry(key).or_insert_with(|| g.clone());
                }
            }
            true
        })?;
        Ok(names.into_values().take(limit).collect())
    }
}
