//! Users: validated usernames, records, and argon2id password hashing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::ids::UserId;

/// A username: 1–64 characters of `a-z A-Z 0-9 . _ -`, starting with a letter or digit.
/// Unique without regard to letter case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Validate a username.
    pub fn parse(s: &str) -> Result<Username, FieldError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if s.is_empty() || s.len() > 64 {
            return Err(FieldError::new(
                "username",
                "must be 1 to 64 characters long",
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldError::new(
                "username",
                "must start with a letter or a digit",
            ));
        }
        if let Some(bad) = s.chars().find(|c| !valid_char(*c)) {
            return Err(FieldError::new(
                "username",
                format!("may contain only letters a-z, digits, '.', '_' and '-' (found {bad:?})"),
            ));
        }
        Ok(Username(s.to_owned()))
    }

    /// The username as typed at creation.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for uniqueness and look-up.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Attribute names: `[a-z0-9_]`, 1–64 characters (they become keyword names).
pub fn validate_attribute_name(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok && name != "username" {
        Ok(())
    } else {
        Err(FieldError::new(
            "attributes",
            format!(
                "attribute name {name:?} must be 1 to 64 characters of a-z, 0-9 and '_' (and not \"username\")"
            ),
        ))
    }
}

/// Group names: 1–64 printable characters, no commas (the text form of a group list joins with `,`).
pub fn validate_group_name(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.contains(',')
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "groups",
            format!("group name {name:?} must be 1 to 64 characters, without commas"),
        ))
    }
}

/// Whether two group names name the same group: letter case does not count ("Staff" is
/// "staff").
pub fn same_group(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

/// The groups with those that differ only in letter case merged: the first spelling is kept,
/// in the order given.
pub fn distinct_groups(groups: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        if !out.iter().any(|o| same_group(o, &g)) {
            out.push(g);
        }
    }
    out
}

/// Passwords must be at least this long.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// And at most this many bytes (argon2 input is bounded to keep hashing cheap to refuse).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Check a new password against the length rules.
pub fn validate_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes long"),
        ));
    }
    Ok(())
}

/// Where an account comes from, when not (only) from this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLink {
    /// The provider's id in the settings (`proxy` for the trusted proxy).
    pub provider: String,
    /// The issuer that vouches for the person (empty until the first sign-in of an account an
    /// administrator linked by hand).
    #[serde(default)]
    pub issuer: String,
    /// The person's `sub` at that issuer (empty until the first sign-in, as above).
    #[serde(default)]
    pub subject: String,
}

impl UpstreamLink {
    /// Whether the link is waiting for its first sign-in (made by an administrator).
    pub fn is_pending(&self) -> bool {
        self.subject.is_empty()
    }
}

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Record id.
    pub id: UserId,
    /// Unique (case-insensitive) sign-in name.
    pub username: Username,
    /// The argon2id PHC string; never leaves the server.
    pub password_hash: Option<String>,
    /// `first_name`, `last_name`, `email` and custom attributes.
    pub attributes: BTreeMap<String, String>,
    /// Group names.
    pub groups: Vec<String>,
    /// Administrators manage everything and may write every asset.
    pub admin: bool,
    /// Disabled users cannot sign in or use API keys.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of any field.
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change; a change is stored only over the version it was made from.
    #[serde(default)]
    pub version: u64,
    /// The upstream identity (OpenID Connect provider or trusted proxy) the person signs in
    /// with, when the account is linked to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamLink>,
}

impl User {
    /// Whether the user is in the group.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| same_group(g, group))
    }
}

/// Hash a password with argon2id (CPU-heavy: call on a blocking thread).
pub fn hash_password(password: &str) -> Result<String, String> {
    crate::domain::password::hash(password.as_bytes())
}

/// Verify a password against a PHC string (CPU-heavy: call on the password pool or a blocking
/// thread). A missing or unreadable hash verifies against a dummy hash so that timing does not
/// tell users apart.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_password("dummy password for timing").unwrap_or_default());
    match hash {
        Some(h) if crate::domain::password::verify(password.as_bytes(), h) => true,
        Some(_) => false,
        None => {
            let _ = crate::domain::password::verify(password.as_bytes(), dummy);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_documented_charset() {
        assert!(Username::parse("alice.smith-2_x").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("-x").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("ünï").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
        assert_eq!(Username::parse("Alice").unwrap().key(), "alice");
    }

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"));
        assert!(verify_password("correct horse battery", Some(&h)));
        assert!(!verify_password("wrong horse battery", Some(&h)));
        assert!(!verify_password("correct horse battery", None));
    }
}
