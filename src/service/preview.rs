//! The admin preview: a token rendered for a chosen user, with what the preset would refuse.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;

use super::state::Service;
use super::views::Preview;
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::compiled::{CompiledAsset, TokenError};
use crate::domain::consumer_config::ConsumerConfig;
use crate::error::{AppError, FieldError};
use crate::ids::AssetId;

impl Service {
    /// What a save of the asset as it is now would warn about: the users the template fails
    /// for (tried with `actor`, a user with every attribute empty and the sample user) and the
    /// preset's rules. Not audited: it reads nothing a user sees in a token.
    pub fn asset_warnings(&self, actor: &str, id: &AssetId) -> Result<Vec<String>, AppError> {
        let a = self.asset_record(id)?;
        let template = crate::keywords::PayloadTemplate::compile(&a.template).map_err(|e| {
            AppError::Invalid(FieldError::at("template", e.message, e.line, e.column))
        })?;
        let mut warnings = match self.trial(actor, &a, &template) {
            Ok(found) => found.warnings,
            Err(AppError::Invalid(f)) => vec![format!("the template {}", f.message)],
            Err(e) => return Err(e),
        };
        if let Some(preset) = a.preset {
            match preset.check(&a, &template) {
                Ok(found) => warnings.extend(found),
                Err(e) => warnings.push(format!("preset {preset}: {}", e.message)),
            }
        }
        Ok(warnings)
    }

    /// What to hand to the consumer of a preset asset (its configuration, filled in), with the
    /// token URL at `base` (this server's URL); `None` without a preset. Never a secret.
    pub fn consumer_config(
        &self,
        id: &AssetId,
        base: &str,
    ) -> Result<Option<ConsumerConfig>, AppError> {
        let mut a = self.asset_record(id)?;
        a.settle(Utc::now());
        let url = format!("{}{}", base.trim_end_matches('/'), a.path);
        Ok(a.preset.map(|p| p.consumer_config(&a, &url)))
    }

    /// What `as_user` would receive from the asset now, with warnings; audited.
    pub fn preview(&self, actor: &str, id: &AssetId, as_user: &str) -> Result<Preview, AppError> {
        let asset = self.asset_record(id)?;
        let user = self.user_named(as_user)?;
        let compiled = CompiledAsset::new(asset);
        let mut warnings = Vec::new();
        let a = &compiled.asset;
        if !a.is_live() {
            warnings.push("the asset is in the trash: its path answers 404".to_owned());
        }
        if a.expiry_seconds.is_none() {
            warnings.push(
                "tokens never expire (no exp claim); 5 to 15 minutes is recommended".to_owned(),
            );
        }
        let now = Utc::now();
        let secret = a.secret_at(now);
        if a.algorithm.is_hmac() && secret.len() < a.algorithm.min_secret_bytes() {
            warnings.push(format!(
                "the secret is {} bytes, shorter than the {} bytes {} needs (accepted as supplied by a third party)",
                secret.len(),
                a.algorithm.min_secret_bytes(),
                a.algorithm.name()
            ));
        }
        for claim in compiled.overridden_claims() {
            warnings.push(format!(
                "the template sets \"{claim}\", which the server overrides"
            ));
        }
        if let (Some(preset), Ok(template)) = (
            a.preset,
            crate::keywords::PayloadTemplate::compile(&a.template),
        ) {
            match preset.check(a, &template) {
                Ok(found) => warnings.extend(found),
                Err(e) => warnings.push(format!("preset {preset}: {e}")),
            }
        }
        if !a.request_params.is_empty() {
            let names: Vec<&str> = a.request_params.iter().map(|p| p.name.as_str()).collect();
            warnings.push(format!(
                "request parameters are empty in this preview: {} (the token URL needs them in its query, e.g. ?{}=…)",
                names.join(", "),
                names[0]
            ));
        }
        let refused = crate::domain::asset::read_refusal(a.read.as_ref(), &user);
        self.audit.record(AuditEvent {
            detail: Some(format!("as {}", user.username)),
            ..AuditEvent::admin(actor, AuditAction::AssetPreview, a.path.as_str())
        });
        if let Some(why) = refused {
            return Ok(Preview {
                token: None,
                header: None,
                claims: None,
                warnings,
                refused: Some(why),
            });
        }
        let issued = compiled.issue(&user, now, None).map_err(|e| match e {
            TokenError::Render(r) => {
                AppError::Render(FieldError::at("template", r.message, r.line, r.column))
            }
            other => AppError::Config(other.to_string()),
        })?;
        let header_b64 = issued.token.split('.').next().unwrap_or_default();
        let header = URL_SAFE_NO_PAD
            .decode(header_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null);
        let claims = serde_json::from_str(&issued.claims_json)
            .map_err(|e| AppError::Unexpected(e.to_string()))?;
        Ok(Preview {
            token: Some(issued.token),
            header: Some(header),
            claims: Some(claims),
            warnings,
            refused: None,
        })
    }
}
