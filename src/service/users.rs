//! Users and their API keys: create, list, set a password, disable, keys; the first administrator.

use chrono::Utc;

use super::state::Service;
use super::views::{ApiKeyInput, ApiKeyView, CreatedApiKey, UserInput, UserView};
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::credentials::{API_KEY_SHOWN_CHARS, ApiKey, Scope, Scopes, digest, new_api_key};
use crate::domain::user::{User, Username, validate_password};
use crate::error::AppError;
use crate::ids::{ApiKeyId, UserId, random_token};
use crate::secret::SecretString;

/// How many users the asset form suggests in its rule fields.
pub const RULE_SUGGESTIONS: usize = 500;

impl Service {
    /// Store a changed user over the version it was read at (`Conflict` when someone else
    /// changed it meanwhile); the record's version moves on.
    pub(super) fn save_user(&self, user: &mut User) -> Result<(), AppError> {
        let read_at = user.version;
        user.version += 1;
        self.store.update_user(user, read_at)?;
        Ok(())
    }

    /// Create a user (hashes the password: call from a blocking context).
    pub fn create_user(&self, actor: &str, input: UserInput) -> Result<UserView, AppError> {
        let username = Username::parse(&input.username).map_err(AppError::Invalid)?;
        let groups = super::people::clean_profile(&input.attributes, input.groups)?;
        let password_hash = match &input.password {
            Some(p) => {
                validate_password(p.expose()).map_err(AppError::Invalid)?;
                Some(crate::domain::user::hash_password(p.expose()).map_err(AppError::Unexpected)?)
            }
            None => None,
        };
        let now = Utc::now();
        let user = User {
            id: UserId::generate(),
            username,
            password_hash,
            attributes: input.attributes,
            groups,
            admin: input.admin,
            disabled: false,
            created_at: now,
            updated_at: now,
            version: 1,
            upstream: None,
        };
        let _guard = self.lock_writes();
        self.store.insert_user(&user)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::UserCreate,
            user.username.as_str(),
        ));
        Ok(UserView::from(&user))
    }

    pub(super) fn user_named(&self, username: &str) -> Result<User, AppError> {
        self.store
            .user_by_username(username)?
            .ok_or(AppError::NotFound)
    }

    /// A user by username.
    pub fn user(&self, username: &str) -> Result<UserView, AppError> {
        Ok(UserView::from(&self.user_named(username)?))
    }

    /// Every user.
    pub fn users(&self) -> Result<Vec<UserView>, AppError> {
        Ok(self.store.users()?.iter().map(UserView::from).collect())
    }

    /// Usernames and group names to suggest in an asset's rule fields: the first
    /// `RULE_SUGGESTIONS` users by name and their groups, one page read rather than every user.
    pub fn rule_suggestions(&self) -> Result<(Vec<String>, Vec<String>), AppError> {
        let users = self.store.users_page("", None, RULE_SUGGESTIONS)?;
        let groups: std::collections::BTreeSet<String> = users
            .iter()
            .flat_map(|u| u.groups.iter().cloned())
            .collect();
        Ok((
            users.into_iter().map(|u| u.username.to_string()).collect(),
            groups.into_iter().collect(),
        ))
    }

    /// One page of users in username order: those whose username starts with `prefix`, after
    /// `after`; `more` tells whether another page follows.
    pub fn users_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UserView>, bool), AppError> {
        let mut users = self.store.users_page(prefix, after, limit + 1)?;
        let more = users.len() > limit;
        users.truncate(limit);
        Ok((users.iter().map(UserView::from).collect(), more))
    }

    /// Set a new password (hashes: call from a blocking context); ends the user's sessions.
    pub fn set_password(
        &self,
        actor: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<(), AppError> {
        validate_password(password.expose()).map_err(AppError::Invalid)?;
        let hash =
            crate::domain::user::hash_password(password.expose()).map_err(AppError::Unexpected)?;
        let _guard = self.lock_writes();
        let mut user = self.user_named(username)?;
        user.password_hash = Some(hash);
        user.updated_at = Utc::now();
        self.save_user(&mut user)?;
        self.store.remove_user_sessions(&user.id)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::UserPassword,
            user.username.as_str(),
        ));
        Ok(())
    }

    /// Disable or enable a user; disabling ends their sessions at once.
    pub fn set_disabled(
        &self,
        actor: &str,
        username: &str,
        disabled: bool,
    ) -> Result<UserView, AppError> {
        let _guard = self.lock_writes();
        let mut user = self.user_named(username)?;
        user.disabled = disabled;
        user.updated_at = Utc::now();
        self.save_user(&mut user)?;
        if disabled {
            self.store.remove_user_sessions(&user.id)?;
        }
        let action = if disabled {
            AuditAction::UserDisable
        } else {
            AuditAction::UserEnable
        };
        self.audit
            .record(AuditEvent::admin(actor, action, user.username.as_str()));
        Ok(UserView::from(&user))
    }

    /// Create an API key for a user with the scopes and expiry asked for; the key is in the
    /// answer and nowhere else.
    pub fn create_api_key(
        &self,
        actor: &str,
        username: &str,
        input: ApiKeyInput,
    ) -> Result<CreatedApiKey, AppError> {
        let scopes = match input.scopes {
            None => Scopes::DEFAULT,
            Some(names) => {
                let mut scopes = Vec::with_capacity(names.len());
                for name in &names {
                    scopes.push(Scope::parse(name).ok_or_else(|| {
                        AppError::invalid(
                            "scopes",
                            format!(
                                "{name:?} is not a scope; the scopes are tokens, admin:read and admin:write"
                            ),
                        )
                    })?);
                }
                let scopes: Scopes = scopes.into_iter().collect();
                if scopes.is_empty() {
                    return Err(AppError::invalid(
                        "scopes",
                        "give at least one scope: tokens, admin:read or admin:write",
                    ));
                }
                scopes
            }
        };
        let mut expires_at = input.expires_at;
        if let Some(within) = input.within {
            if let Some(beyond) = scopes.iter().find(|s| !within.scopes.contains(*s)) {
                return Err(AppError::invalid(
                    "scopes",
                    format!(
                        "an API key can only make keys with the scopes it has; this one lacks {}",
                        beyond.as_str()
                    ),
                ));
            }
            if let Some(end) = within.expires_at {
                match expires_at {
                    None => expires_at = Some(end),
                    Some(t) if t > end => {
                        return Err(AppError::invalid(
                            "expires_at",
                            format!(
                                "an API key can only make keys that end when it does or sooner ({})",
                                end.to_rfc3339()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let now = Utc::now();
        if expires_at.is_some_and(|t| t <= now) {
            return Err(AppError::invalid(
                "expires_at",
                "the expiry must be in the future",
            ));
        }
        let _guard = self.lock_writes();
        let user = self.user_named(username)?;
        let key = new_api_key();
        let record = ApiKey {
            id: ApiKeyId::generate(),
            user_id: user.id.clone(),
            prefix: key[..API_KEY_SHOWN_CHARS].to_owned(),
            digest: digest(&key),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            scopes,
            expires_at,
        };
        self.store.insert_api_key(&record)?;
        self.audit.record(AuditEvent {
            detail: Some(format!(
                "scopes {}; {}",
                record
                    .scopes
                    .iter()
                    .map(Scope::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                record.expires_at.map_or_else(
                    || "no expiry".to_owned(),
                    |t| format!("expires {}", t.to_rfc3339())
                )
            )),
            ..AuditEvent::admin(
                actor,
                AuditAction::ApiKeyCreate,
                &format!("{} {}", user.username, record.prefix),
            )
        });
        Ok(CreatedApiKey {
            key,
            view: ApiKeyView::from(&record),
        })
    }

    /// A user's API keys.
    pub fn api_keys(&self, username: &str) -> Result<Vec<ApiKeyView>, AppError> {
        let user = self.user_named(username)?;
        Ok(self
            .store
            .api_keys(&user.id)?
            .iter()
            .map(ApiKeyView::from)
            .collect())
    }

    /// Revoke an API key of a user, by id or by its shown prefix; effective at once.
    pub fn revoke_api_key(
        &self,
        actor: &str,
        username: &str,
        id_or_prefix: &str,
    ) -> Result<ApiKeyView, AppError> {
        let _guard = self.lock_writes();
        let user = self.user_named(username)?;
        let keys = self.store.api_keys(&user.id)?;
        let key = keys
            .iter()
            .find(|k| k.id.as_str() == id_or_prefix || k.prefix == id_or_prefix)
            .ok_or(AppError::NotFound)?;
        let revoked = self.store.revoke_api_key(&key.id, Utc::now())?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::ApiKeyRevoke,
            &format!("{} {}", user.username, key.prefix),
        ));
        Ok(ApiKeyView::from(&revoked))
    }

    /// Create the `admin` user on the first start with an empty store; returns the generated
    /// password when none was given.
    pub fn bootstrap_admin(
        &self,
        password: Option<&SecretString>,
    ) -> Result<Option<String>, AppError> {
        if self.store.has_users()? {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.clone(), None),
            None => {
                let p = random_token::<18>();
                (SecretString::new(p.clone()), Some(p))
            }
        };
        self.create_user(
            "system",
            UserInput {
                username: "admin".into(),
                password: Some(password),
                admin: true,
                ..UserInput::default()
            },
        )?;
        Ok(generated)
    }
}
