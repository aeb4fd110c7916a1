//! The token path: the live asset at a request path, then authorize → render → sign → audit.

use std::sync::Arc;

use chrono::Utc;

use super::state::Service;
use crate::domain::audit::{AuditAction, AuditEvent, AuditOutcome};
use crate::domain::compiled::{CompiledAsset, IssuedToken, TokenError};
use crate::domain::delivery::DeliveryMode;
use crate::domain::user::User;
use crate::error::AppError;

impl Service {
    /// The live asset at a request path, exactly as requested (no decoding, no normalisation),
    /// from the registry (see [`super::registry::Registry::live_asset`]).
    pub fn live_asset(&self, request_path: &str) -> Result<Option<Arc<CompiledAsset>>, AppError> {
        Ok(self
            .registry
            .live_asset(request_path, |id| self.store.asset(id))?)
    }

    /// Authorize, render and sign a token for a signed-in user with the request parameters
    /// already checked (see [`CompiledAsset::request_params`]), and audit the outcome; a redirect
    /// or form post is named in the audit event's detail (never the token or the target URL).
    pub fn issue(
        &self,
        asset: &CompiledAsset,
        user: &User,
        mode: DeliveryMode,
        params: &[(String, String)],
    ) -> Result<IssuedToken, Refusal> {
        let target = asset.asset.path.as_str();
        let detail = matches!(mode, DeliveryMode::Redirect | DeliveryMode::FormPost)
            .then(|| format!("delivery {}", mode.name()));
        let event = |outcome: AuditOutcome, jti: Option<String>| AuditEvent {
            at: Utc::now(),
            actor: user.username.to_string(),
            action: AuditAction::TokenIssue,
            target: target.to_owned(),
            outcome,
            jti,
            detail: detail.clone(),
        };
        if !asset.asset.can_read(user) {
            self.audit.record(event(AuditOutcome::Forbidden, None));
            return Err(Refusal::Forbidden(format!(
                "{} is not allowed by the read rule",
                user.username
            )));
        }
        match asset.issue_with(user, Utc::now(), None, params) {
            Ok(issued) => {
                self.audit
                    .record(event(AuditOutcome::Ok, issued.jti.clone()));
                Ok(issued)
            }
            Err(e) => {
                self.audit.record(event(AuditOutcome::ConfigError, None));
                Err(Refusal::Misconfigured(e))
            }
        }
    }
}

/// Why a token request got no token.
#[derive(Debug)]
pub enum Refusal {
    /// Not signed in, a bad credential, or the read rule says no: the reason for the log.
    Forbidden(String),
    /// The asset cannot make a token for this user (a render, preset or signing failure).
    Misconfigured(TokenError),
    /// Something else failed on the way (storage while authenticating).
    Failed(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Forbidden(reason) => Refusal::Forbidden(reason),
            other => Refusal::Failed(other),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Forbidden(reason) => AppError::Forbidden(reason),
            Refusal::Misconfigured(e) => AppError::Config(e.to_string()),
            Refusal::Failed(e) => e,
        }
    }
}
