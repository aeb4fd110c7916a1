//! Signing keys of assets: rotation, the next HMAC secret, public keys and the JWKS.

use chrono::{DateTime, Utc};

use super::asset_fields::{check_key_fits, generated_secret, new_key_pair, weak_secret_error};
use super::assets::secret_is_weak;
use super::state::Service;
use super::views::{AssetView, NextKeyInput, NextSecretInput, SavedAsset};
use crate::domain::asset_input::KeyInput;
use crate::domain::audit::AuditAction;
use crate::error::AppError;
use crate::ids::AssetId;
use crate::secret::Secret;
use crate::signing::keys::{KeyPair, KeyType};

impl Service {
    /// Rotate an asymmetric asset's key: a new key of the same type becomes active, the
    /// previous one is retired and stays published until its tokens have expired. 409 for HMAC.
    pub fn rotate_key(&self, actor: &str, id: &AssetId) -> Result<AssetView, AppError> {
        let (asset, ()) = self.modify_asset(actor, id, AuditAction::AssetRotate, |a, now| {
            if a.algorithm.is_hmac() {
                return Err(AppError::Conflict(format!(
                    "{} assets have no key pair to rotate; schedule a next secret instead",
                    a.algorithm.name()
                )));
            }
            if let Some(next) = &a.next_key {
                return Err(AppError::Conflict(format!(
                    "the next key {} is published and waiting: activate it (consumers that pin one key may already have it) or withdraw it before rotating",
                    next.kid
                )));
            }
            let key_type = a
                .active_key()
                .map(|k| k.key_type)
                .or_else(|| a.algorithm.natural_key_type())
                .unwrap_or(KeyType::Rsa2048);
            let pair = KeyPair::generate(key_type, now)
                .map_err(|e| AppError::Unexpected(e.to_string()))?;
            if let Some(active) = a.keys.last_mut() {
                active.retired_at = Some(now);
            }
            a.keys.push(pair);
            Ok(())
        })?;
        Ok(AssetView::from(&asset))
    }

    /// Publish the next key of an asymmetric asset without signing with it: generated (of the
    /// active key's type unless `key` says otherwise) or imported. It starts signing at
    /// `switch_at` (a time in the past: at once), or when [`Service::activate_next_key`] is
    /// called. 409 for HMAC assets and while another next key is waiting.
    pub fn prepare_next_key(
        &self,
        actor: &str,
        id: &AssetId,
        input: NextKeyInput,
    ) -> Result<AssetView, AppError> {
        let switch_at = input
            .switch_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        AppError::invalid(
                            "switch_at",
                            format!(
                                "must be an RFC 3339 time such as 2026-05-01T12:00:00Z, or absent to activate by hand ({e})"
                            ),
                        )
                    })
            })
            .transpose()?;
        // Key generation (RSA-4096 takes a while) and PEM parsing run before the write lock.
        let current = self.asset_record(id)?;
        if current.algorithm.is_hmac() {
            return Err(AppError::Conflict(format!(
                "{} assets have no key pair; schedule a next secret instead",
                current.algorithm.name()
            )));
        }
        let now = Utc::now();
        let key = input.key.or_else(|| {
            current
                .signing_key_at(now)
                .map(|k| KeyInput::Generate(k.key_type.name().to_owned()))
        });
        let pair = new_key_pair(key, current.algorithm, None, now)?
            .ok_or_else(|| AppError::Unexpected("no next key was made".into()))?;
        let (asset, ()) = self.modify_asset(actor, id, AuditAction::AssetNextKey, |a, _| {
            if a.algorithm.is_hmac() {
                return Err(AppError::Conflict(format!(
                    "{} assets have no key pair; schedule a next secret instead",
                    a.algorithm.name()
                )));
            }
            check_key_fits(a.algorithm, pair.key_type)?;
            if let Some(waiting) = &a.next_key {
                return Err(AppError::Conflict(format!(
                    "a next key ({}) is already published; activate or withdraw it first",
                    waiting.kid
                )));
            }
            if a.keys.iter().any(|k| k.kid == pair.kid) {
                return Err(AppError::invalid(
                    "key",
                    "is a key this asset already has (active or retired); give a new one",
                ));
            }
            a.next_key = Some(pair);
            a.next_key_at = switch_at;
            Ok(())
        })?;
        Ok(AssetView::from(&asset))
    }

    /// Switch signing to the waiting next key now; the key it replaces stays published until
    /// its tokens have expired. 409 when no next key is waiting.
    pub fn activate_next_key(&self, actor: &str, id: &AssetId) -> Result<AssetView, AppError> {
        let (asset, ()) =
            self.modify_asset(actor, id, AuditAction::AssetNextKeyActivate, |a, now| {
                if a.next_key.is_none() {
                    return Err(AppError::Conflict(
                        "no next key is waiting to be activated; publish one first (next-key)"
                            .into(),
                    ));
                }
                a.next_key_at = Some(now);
                a.settle(now);
                Ok(())
            })?;
        Ok(AssetView::from(&asset))
    }

    /// Withdraw the waiting next key (it is no longer published). 409 when none is waiting
    /// (also when a scheduled one has already started signing: rotate instead).
    pub fn withdraw_next_key(&self, actor: &str, id: &AssetId) -> Result<AssetView, AppError> {
        let (asset, ()) =
            self.modify_asset(actor, id, AuditAction::AssetNextKeyWithdraw, |a, _| {
                if a.next_key.is_none() {
                    return Err(AppError::Conflict(
                        "no next key is waiting (a scheduled one that has started signing is the active key now)"
                            .into(),
                    ));
                }
                a.next_key = None;
                a.next_key_at = None;
                Ok(())
            })?;
        Ok(AssetView::from(&asset))
    }

    /// The public key of the waiting next key, SPKI PEM (404 when there is none).
    pub fn next_public_key_pem(&self, id: &AssetId) -> Result<String, AppError> {
        let mut asset = self.asset_record(id)?;
        asset.settle(Utc::now());
        asset
            .next_key
            .filter(|_| !asset.algorithm.is_hmac())
            .map(|k| k.public_key_pem)
            .ok_or(AppError::NotFound)
    }

    /// Schedule the next HMAC secret: tokens are signed with it from `switch_at` on (a time in
    /// the past switches at once). 409 for asymmetric assets.
    pub fn set_next_secret(
        &self,
        actor: &str,
        id: &AssetId,
        input: NextSecretInput,
    ) -> Result<SavedAsset, AppError> {
        let switch_at = DateTime::parse_from_rfc3339(input.switch_at.trim())
            .map_err(|e| {
                AppError::invalid(
                    "switch_at",
                    format!("must be an RFC 3339 time such as 2026-05-01T12:00:00Z ({e})"),
                )
            })?
            .with_timezone(&Utc);
        let given = input
            .secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .filter(|s| !s.is_empty());
        let (secret, generated) = match (input.generate_secret, given) {
            (true, Some(_)) => {
                return Err(AppError::invalid(
                    "secret",
                    "give a secret or ask for one to be generated, not both",
                ));
            }
            (true, None) => {
                let (secret, text) = generated_secret();
                (secret, Some(text))
            }
            (false, Some(text)) => (Secret::new(text.into_bytes()), None),
            (false, None) => {
                return Err(AppError::invalid(
                    "secret",
                    "is required (or set generate_secret to have one made)",
                ));
            }
        };
        let next_key_id = super::asset_fields::text_claim("key_id", input.key_id.clone())?;
        let (asset, ()) =
            self.modify_asset(actor, id, AuditAction::AssetNextSecret, |a, now| {
                if !a.algorithm.is_hmac() {
                    return Err(AppError::Conflict(format!(
                        "{} assets sign with a key pair; rotate the key instead",
                        a.algorithm.name()
                    )));
                }
                if secret.len() < a.algorithm.min_secret_bytes() && !input.accept_weak_secret {
                    return Err(weak_secret_error("secret", secret.len(), a.algorithm));
                }
                a.next_secret = Some(secret);
                a.next_secret_at = Some(switch_at);
                a.next_key_id = next_key_id;
                if input.accept_weak_secret && secret_is_weak(a) {
                    a.weak_secret_accepted = true;
                }
                a.settle(now);
                Ok(())
            })?;
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret: generated,
            warnings: Vec::new(),
        })
    }

    /// Cancel a pending secret switch (nothing happens when none is pending).
    pub fn cancel_next_secret(&self, actor: &str, id: &AssetId) -> Result<AssetView, AppError> {
        let (asset, ()) =
            self.modify_asset(actor, id, AuditAction::AssetNextSecretCancel, |a, _| {
                if !a.algorithm.is_hmac() {
                    return Err(AppError::Conflict(format!(
                        "{} assets have no secret",
                        a.algorithm.name()
                    )));
                }
                a.next_secret = None;
                a.next_secret_at = None;
                a.next_key_id = None;
                Ok(())
            })?;
        Ok(AssetView::from(&asset))
    }

    /// The public key that signs now of an asymmetric asset, SPKI PEM (404 for HMAC).
    pub fn public_key_pem(&self, id: &AssetId) -> Result<String, AppError> {
        let asset = self.asset_record(id)?;
        asset
            .signing_key_at(Utc::now())
            .map(|k| k.public_key_pem.clone())
            .ok_or(AppError::NotFound)
    }

    /// `{"keys": […]}`: the published public keys of every live asymmetric asset at `now`.
    pub fn jwks(&self, now: DateTime<Utc>) -> serde_json::Value {
        let published = self.registry.published();
        let keys: Vec<serde_json::Value> = published
            .values()
            .flat_map(|c| {
                c.asset
                    .published_keys(now)
                    .into_iter()
                    .map(|k| k.jwk(c.asset.algorithm))
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The published keys of the live asymmetric asset at `asset_path`; `None` when there is no
    /// such asset (missing, trashed or HMAC).
    pub fn asset_jwks(&self, asset_path: &str, now: DateTime<Utc>) -> Option<serde_json::Value> {
        let c = self.registry.published_at(asset_path)?;
        let keys: Vec<serde_json::Value> = c
            .asset
            .published_keys(now)
            .into_iter()
            .map(|k| k.jwk(c.asset.algorithm))
            .collect();
        Some(serde_json::json!({ "keys": keys }))
    }
}

impl Service {
    /// The OpenID-style discovery document of the issuer `issuer` (the URL the document was
    /// asked for, less `/.well-known/openid-configuration`): when exactly one live asymmetric
    /// asset signs with that `iss`, its `jwks_uri` is that asset's key set at `base` (this
    /// server's URL). `None` otherwise (no such asset, an HMAC one, or several sharing it).
    pub fn discovery(&self, issuer: &str, base: &str) -> Option<serde_json::Value> {
        let published = self.registry.published();
        // An issuer that ends in '/' is asked for without it (OpenID Connect Discovery §4).
        let with_slash = format!("{issuer}/");
        let mut matching = published.values().filter(|c| {
            c.asset
                .issuer
                .as_deref()
                .is_some_and(|i| i == issuer || i == with_slash)
        });
        let c = matching.next()?;
        if matching.next().is_some() {
            return None;
        }
        let a = &c.asset;
        let mut claims: Vec<String> = c.claim_names().map(str::to_owned).collect();
        let mut add = |name: &str, on: bool| {
            if on && !claims.iter().any(|n| n == name) {
                claims.push(name.to_owned());
            }
        };
        add("iss", true);
        add("iat", true);
        add("exp", a.expiry_seconds.is_some());
        add("aud", a.audience.is_some());
        add("nbf", a.not_before);
        add("jti", a.jti);
        Some(serde_json::json!({
            "issuer": a.issuer,
            "jwks_uri": format!("{base}{}/jwks.json", a.path),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [a.algorithm.name()],
            "claims_supported": claims,
        }))
    }
}
