//! The token itself: an asset compiled once per version, and the render → claims → sign step.

use chrono::{DateTime, Utc};

use crate::asset::{Asset, NBF_SKEW_SECONDS};
use crate::ids::random_token;
use crate::keywords::{AssetFacts, PayloadTemplate, RenderContext, RenderError, UserFacts};
use crate::signing::{SignError, Signer};
use crate::user::User;

/// Claims the server sets itself whatever the template says.
pub const ALWAYS_SERVER_CLAIMS: &[&str] = &["iat", "exp"];

/// Why a token could not be made for a signed-in, permitted user.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The stored template does not compile (it did when saved; the language may have changed).
    #[error("the payload template does not compile: {0}")]
    Template(String),
    /// The template rendered something that is not allowed for this user.
    #[error("{0}")]
    Render(#[from] RenderError),
    /// The key could not sign.
    #[error("{0}")]
    Sign(#[from] SignError),
}

/// An asset ready to issue tokens: template compiled, signer keyed, registered-claim fragments
/// encoded, all once per asset version.
#[derive(Debug)]
pub struct CompiledAsset {
    /// The stored record.
    pub asset: Asset,
    compiled: Result<(PayloadTemplate, Signer), String>,
    skip: Vec<&'static str>,
    iss_fragment: Option<String>,
    aud_fragment: Option<String>,
}

/// A freshly signed token and the facts worth recording about it.
#[derive(Debug)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// The claims object as signed (JSON text).
    pub claims_json: String,
    /// The `jti`, when the asset adds one.
    pub jti: Option<String>,
}

impl CompiledAsset {
    /// Compile an asset record.
    pub fn new(asset: Asset) -> CompiledAsset {
        let compiled = PayloadTemplate::compile(&asset.template)
            .map(|t| (t, Signer::hmac(asset.algorithm, &asset.secret)))
            .map_err(|e| e.to_string());
        let mut skip: Vec<&'static str> = ALWAYS_SERVER_CLAIMS.to_vec();
        if asset.not_before {
            skip.push("nbf");
        }
        if asset.issuer.is_some() {
            skip.push("iss");
        }
        if asset.audience.is_some() {
            skip.push("aud");
        }
        if asset.jti {
            skip.push("jti");
        }
        let fragment = |name: &str, v: &Option<String>| {
            v.as_ref()
                .map(|s| format!(",\"{name}\":{}", serde_json::Value::String(s.clone())))
        };
        CompiledAsset {
            iss_fragment: fragment("iss", &asset.issuer),
            aud_fragment: fragment("aud", &asset.audience),
            asset,
            compiled,
            skip,
        }
    }

    /// Claims from the template that the server replaces for this asset.
    pub fn overridden_claims(&self) -> Vec<&'static str> {
        match &self.compiled {
            Ok((t, _)) => self
                .skip
                .iter()
                .copied()
                .filter(|c| t.claim_names().any(|n| n == *c))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Render, add the registered claims and sign, for `user` at `now`. The caller has already
    /// authenticated the user and checked the read rule. `jti` overrides the random id (tests).
    pub fn issue(
        &self,
        user: &User,
        now: DateTime<Utc>,
        jti: Option<String>,
    ) -> Result<IssuedToken, TokenError> {
        let (template, signer) = self
            .compiled
            .as_ref()
            .map_err(|e| TokenError::Template(e.clone()))?;
        let ctx = RenderContext {
            user: UserFacts {
                id: user.id.as_str(),
                username: user.username.as_str(),
                attributes: &user.attributes,
                groups: &user.groups,
            },
            asset: AssetFacts {
                id: self.asset.id.as_str(),
                name: &self.asset.name,
                web_path: self.asset.path.as_str(),
                has_write_access: self.asset.can_write(user),
            },
            now,
        };
        let mut claims = String::with_capacity(self.asset.template.len() + 128);
        claims.push('{');
        let written = template.render_members(&ctx, &self.skip, &mut claims)?;
        if written > 0 {
            claims.push(',');
        }
        let iat = now.timestamp();
        push_number(&mut claims, "iat", iat);
        if self.asset.not_before {
            claims.push(',');
            push_number(&mut claims, "nbf", iat - NBF_SKEW_SECONDS);
        }
        if let Some(expiry) = self.asset.expiry_seconds {
            claims.push(',');
            push_number(&mut claims, "exp", iat.saturating_add(expiry as i64));
        }
        if let Some(f) = &self.iss_fragment {
            claims.push_str(f);
        }
        if let Some(f) = &self.aud_fragment {
            claims.push_str(f);
        }
        let jti = self
            .asset
            .jti
            .then(|| jti.unwrap_or_else(random_token::<16>));
        if let Some(j) = &jti {
            // base64url text needs no JSON escaping; test-supplied ids go through the encoder.
            claims.push_str(",\"jti\":");
            claims.push_str(&serde_json::Value::String(j.clone()).to_string());
        }
        claims.push('}');
        let token = signer.sign(&claims)?;
        Ok(IssuedToken {
            token,
            claims_json: claims,
            jti,
        })
    }
}

fn push_number(out: &mut String, name: &str, value: i64) {
    use std::fmt::Write;
    let _ = write!(out, "\"{name}\":{value}");
}
