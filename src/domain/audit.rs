//! Audit events: what happened, who did it, to what, and how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened (stored and shown by these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    /// `token.issue`: a token issued or refused.
    #[serde(rename = "token.issue")]
    TokenIssue,
    /// `session.login`: a sign-in.
    #[serde(rename = "session.login")]
    SessionLogin,
    /// `session.logout`: a sign-out.
    #[serde(rename = "session.logout")]
    SessionLogout,
    /// `user.create`: a user created.
    #[serde(rename = "user.create")]
    UserCreate,
    /// `user.update`: a user's profile, groups or admin flag changed.
    #[serde(rename = "user.update")]
    UserUpdate,
    /// `user.password`: a user's password set.
    #[serde(rename = "user.password")]
    UserPassword,
    /// `user.disable`: a user disabled.
    #[serde(rename = "user.disable")]
    UserDisable,
    /// `user.enable`: a user enabled.
    #[serde(rename = "user.enable")]
    UserEnable,
    /// `user.end_sessions`: a user's sessions ended.
    #[serde(rename = "user.end_sessions")]
    UserEndSessions,
    /// `apikey.create`: an API key created.
    #[serde(rename = "apikey.create")]
    ApiKeyCreate,
    /// `apikey.revoke`: an API key revoked.
    #[serde(rename = "apikey.revoke")]
    ApiKeyRevoke,
    /// `asset.create`: an asset created.
    #[serde(rename = "asset.create")]
    AssetCreate,
    /// `asset.update`: an asset edited.
    #[serde(rename = "asset.update")]
    AssetUpdate,
    /// `asset.trash`: an asset trashed.
    #[serde(rename = "asset.trash")]
    AssetTrash,
    /// `asset.restore`: an asset restored.
    #[serde(rename = "asset.restore")]
    AssetRestore,
    /// `asset.purge`: an asset purged.
    #[serde(rename = "asset.purge")]
    AssetPurge,
    /// `asset.rotate`: an asset's key rotated.
    #[serde(rename = "asset.rotate")]
    AssetRotate,
    /// `asset.next_secret`: an asset's next secret scheduled.
    #[serde(rename = "asset.next_secret")]
    AssetNextSecret,
    /// `asset.next_secret_cancel`: an asset's next secret cancelled.
    #[serde(rename = "asset.next_secret_cancel")]
    AssetNextSecretCancel,
    /// `asset.next_key`: an asset's next key published (not signing yet).
    #[serde(rename = "asset.next_key")]
    AssetNextKey,
    /// `asset.next_key_activate`: an asset's next key activated by an administrator.
    #[serde(rename = "asset.next_key_activate")]
    AssetNextKeyActivate,
    /// `asset.next_key_withdraw`: an asset's waiting next key withdrawn.
    #[serde(rename = "asset.next_key_withdraw")]
    AssetNextKeyWithdraw,
    /// `asset.preview`: a token previewed by an administrator.
    #[serde(rename = "asset.preview")]
    AssetPreview,
    /// `trash.empty`: the trash emptied.
    #[serde(rename = "trash.empty")]
    TrashEmpty,
    /// `store.export`: the whole store exported (a backup).
    #[serde(rename = "store.export")]
    StoreExport,
    /// `settings.sign_in`: identity providers or the sign-in policy changed.
    #[serde(rename = "settings.sign_in")]
    SignInSettings,
    /// An action this version does not know (written by a newer one).
    #[serde(other, rename = "unknown")]
    Unknown,
}

impl AuditAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TokenIssue => "token.issue",
            AuditAction::SessionLogin => "session.login",
            AuditAction::SessionLogout => "session.logout",
            AuditAction::UserCreate => "user.create",
            AuditAction::SignInSettings => "settings.sign_in",
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserPassword => "user.password",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::UserEndSessions => "user.end_sessions",
            AuditAction::ApiKeyCreate => "apikey.create",
            AuditAction::ApiKeyRevoke => "apikey.revoke",
            AuditAction::AssetCreate => "asset.create",
            AuditAction::AssetUpdate => "asset.update",
            AuditAction::AssetTrash => "asset.trash",
            AuditAction::AssetRestore => "asset.restore",
            AuditAction::AssetPurge => "asset.purge",
            AuditAction::AssetRotate => "asset.rotate",
            AuditAction::AssetNextSecret => "asset.next_secret",
            AuditAction::AssetNextSecretCancel => "asset.next_secret_cancel",
            AuditAction::AssetNextKey => "asset.next_key",
            AuditAction::AssetNextKeyActivate => "asset.next_key_activate",
            AuditAction::AssetNextKeyWithdraw => "asset.next_key_withdraw",
            AuditAction::AssetPreview => "asset.preview",
            AuditAction::TrashEmpty => "trash.empty",
            AuditAction::StoreExport => "store.export",
            AuditAction::Unknown => "unknown",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// `ok`: it happened.
    Ok,
    /// `forbidden`: refused: not signed in, not allowed, wrong password.
    Forbidden,
    /// `config_error`: the asset could not make the token.
    ConfigError,
    /// `error`: something else failed.
    Error,
    /// An outcome this version does not know.
    #[serde(other)]
    Unknown,
}

impl AuditOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Forbidden => "forbidden",
            AuditOutcome::ConfigError => "config_error",
            AuditOutcome::Error => "error",
            AuditOutcome::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened: a token issued or refused, an administrative change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Username of who did it (`-` when unknown).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// What it was done to: an asset path, a username, a key prefix.
    pub target: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The token's `jti`, for issued tokens that have one (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// More about it, e.g. whom a preview was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A successful administrative action.
    pub fn admin(actor: &str, action: AuditAction, target: &str) -> Self {
        AuditEvent {
            at: Utc::now(),
            actor: actor.to_owned(),
            action,
            target: target.to_owned(),
            outcome: AuditOutcome::Ok,
            jti: None,
            detail: None,
        }
    }
}
