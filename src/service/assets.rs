//! Assets: build one from input (field by field), create, update, trash, restore, purge.

use chrono::{DateTime, Utc};

use super::state::{MAX_EXPIRY_SECONDS, MAX_NAME_CHARS, Service};
use super::views::{AssetView, BuiltAsset, SavedAsset};
use crate::domain::asset::{
    AccessRule, Asset, AssetPath, AssetState, MAX_CORS_ORIGINS, parse_origin,
};
use crate::domain::asset_input::{AssetInput, KeyInput};
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::presets::Preset;
use crate::domain::user::{Username, validate_group_name};
use crate::error::{AppError, FieldError};
use crate::ids::{AssetId, random_token};
use crate::keywords::MAX_TEMPLATE_BYTES;
use crate::secret::Secret;
use crate::signing::Algorithm;
use crate::signing::keys::{KeyPair, KeyType};
use crate::store::StoreError;

impl Service {
    pub(super) fn validate_rule(
        &self,
        field: &str,
        rule: AccessRule,
    ) -> Result<AccessRule, AppError> {
        let mut out = AccessRule::default();
        for u in rule.users {
            let name = Username::parse(&u).map_err(|e| AppError::invalid(field, e.message))?;
            if self.store.user_by_username(name.as_str())?.is_none() {
                return Err(AppError::invalid(field, format!("there is no user {name}")));
            }
            if !out.users.contains(&name.key()) {
                out.users.push(name.key());
            }
        }
        for g in rule.groups {
            validate_group_name(&g).map_err(|e| AppError::invalid(field, e.message))?;
            if !out.groups.contains(&g) {
                out.groups.push(g);
            }
        }
        Ok(out)
    }

    /// Validate input into an asset record; `existing` is the stored asset on edit.
    pub(super) fn build_asset(
        &self,
        actor: &str,
        mut input: AssetInput,
        existing: Option<&Asset>,
    ) -> Result<BuiltAsset, AppError> {
        let preset = match input.preset.as_deref().map(str::trim) {
            None => existing.and_then(|a| a.preset),
            Some("") => None,
            Some(name) => Some(Preset::parse(name).ok_or_else(|| {
                AppError::invalid(
                    "preset",
                    format!(
                        "unknown preset {name:?}; use one of {}",
                        Preset::names_text()
                    ),
                )
            })?),
        };
        if existing.is_none()
            && let Some(p) = preset
        {
            p.apply(&mut input);
        }
        let input_key_id_absent = input.key_id.is_none();
        let name = input.name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(AppError::invalid(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters, without control characters"),
            ));
        }
        let path = AssetPath::parse(input.path.trim()).map_err(AppError::Invalid)?;
        let now = Utc::now();
        let settled = existing.cloned().map(|mut a| {
            a.settle(now);
            a
        });
        let existing = settled.as_ref();
        let algorithm = match input.algorithm.as_deref() {
            None | Some("") => existing.map(|a| a.algorithm).unwrap_or_default(),
            Some(s) => Algorithm::parse(s).ok_or_else(|| {
                AppError::invalid(
                    "algorithm",
                    format!("unknown algorithm {s:?}; use one of {}", algorithm_list()),
                )
            })?,
        };
        if input.template.len() > MAX_TEMPLATE_BYTES {
            return Err(AppError::invalid(
                "template",
                format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
            ));
        }
        let template = crate::keywords::PayloadTemplate::compile(&input.template).map_err(|e| {
            AppError::Invalid(FieldError::at("template", e.message, e.line, e.column))
        })?;
        if input.expiry_seconds == Some(0)
            || input.expiry_seconds.is_some_and(|e| e > MAX_EXPIRY_SECONDS)
        {
            return Err(AppError::invalid(
                "expiry_seconds",
                format!(
                    "must be between 1 and {MAX_EXPIRY_SECONDS} seconds, or null for no expiry"
                ),
            ));
        }
        let text_claim = |field: &str, v: Option<String>| -> Result<Option<String>, AppError> {
            match v.map(|s| s.trim().to_owned()) {
                Some(s) if s.is_empty() => Ok(None),
                Some(s) if s.len() > 1024 || s.chars().any(char::is_control) => {
                    Err(AppError::invalid(
                        field,
                        "must be at most 1024 characters, without control characters",
                    ))
                }
                other => Ok(other),
            }
        };
        let key_id = match text_claim("key_id", input.key_id)? {
            Some(k) if !algorithm.is_hmac() => {
                return Err(AppError::invalid(
                    "key_id",
                    format!(
                        "is for HMAC algorithms; {} tokens carry their key's thumbprint as kid ({k:?} not used)",
                        algorithm.name()
                    ),
                ));
            }
            Some(k) => Some(k),
            None if input_key_id_absent => existing
                .filter(|a| a.algorithm.is_hmac() && algorithm.is_hmac())
                .and_then(|a| a.key_id.clone()),
            None => None,
        };
        let delivery = match input.delivery {
            Some(d) => d.validated().map_err(AppError::Invalid)?,
            None => existing.map(|a| a.delivery.clone()).unwrap_or_default(),
        };
        let cors_origins = match input.cors_origins {
            None => existing.map(|a| a.cors_origins.clone()).unwrap_or_default(),
            Some(list) => {
                if list.len() > MAX_CORS_ORIGINS {
                    return Err(AppError::invalid(
                        "cors_origins",
                        format!("at most {MAX_CORS_ORIGINS} origins"),
                    ));
                }
                let mut out: Vec<String> = Vec::new();
                for o in list {
                    let o = parse_origin(o.trim()).map_err(AppError::Invalid)?;
                    if !out.contains(&o) {
                        out.push(o);
                    }
                }
                out
            }
        };
        let issuer = text_claim("issuer", input.issuer)?;
        let audience = text_claim("audience", input.audience)?;
        let read = input
            .read
            .map(|r| self.validate_rule("read", r))
            .transpose()?;
        let write = self.validate_rule("write", input.write.unwrap_or_default())?;

        let secret_given = input
            .secret
            .as_ref()
            .is_some_and(|s| !s.expose().is_empty());
        let mut keys = Vec::new();
        let mut next_secret = None;
        let mut next_secret_at = None;
        let (secret, secret_changed_at, generated, weak, weak_accepted) = if algorithm.is_hmac() {
            if input.key.is_some() {
                return Err(AppError::invalid(
                    "key",
                    format!(
                        "is for asymmetric algorithms; {} uses a shared secret",
                        algorithm.name()
                    ),
                ));
            }
            let existing = existing.filter(|a| a.algorithm.is_hmac());
            let secret_is_new = input.generate_secret || secret_given;
            let (secret, secret_changed_at, generated) = if input.generate_secret {
                if input.secret.is_some() {
                    return Err(AppError::invalid(
                        "secret",
                        "give a secret or ask for one to be generated, not both",
                    ));
                }
                let (secret, text) = generated_secret();
                (secret, now, Some(text))
            } else if let Some(s) = input.secret.as_ref().filter(|s| !s.expose().is_empty()) {
                (Secret::new(s.expose().as_bytes().to_vec()), now, None)
            } else if let Some(old) = existing {
                next_secret = old.next_secret.clone();
                next_secret_at = old.next_secret_at;
                (old.secret.clone(), old.secret_changed_at, None)
            } else {
                return Err(AppError::invalid(
                    "secret",
                    "is required (or set generate_secret to have one made)",
                ));
            };
            let weak = secret.len() < algorithm.min_secret_bytes();
            let weak_accepted = input.accept_weak_secret
                || (!secret_is_new && existing.is_some_and(|a| a.weak_secret_accepted));
            if weak && !weak_accepted {
                return Err(weak_secret_error("secret", secret.len(), algorithm));
            }
            (secret, secret_changed_at, generated, weak, weak_accepted)
        } else {
            if input.generate_secret || secret_given {
                return Err(AppError::invalid(
                    "secret",
                    format!(
                        "is for HMAC algorithms only; {} signs with a key pair (see key)",
                        algorithm.name()
                    ),
                ));
            }
            let existing = existing.filter(|a| !a.algorithm.is_hmac());
            keys = existing.map(|a| a.keys.clone()).unwrap_or_default();
            let new_key = match input.key {
                Some(KeyInput::Generate(name)) => {
                    let key_type = KeyType::parse(name.trim()).ok_or_else(|| {
                        AppError::invalid(
                            "key",
                            format!(
                                "unknown key type {name:?}; {} takes {}",
                                algorithm.name(),
                                algorithm.key_types_text()
                            ),
                        )
                    })?;
                    check_key_fits(algorithm, key_type)?;
                    Some(
                        KeyPair::generate(key_type, now)
                            .map_err(|e| AppError::Unexpected(e.to_string()))?,
                    )
                }
                Some(KeyInput::Pem(text)) => {
                    let pair = KeyPair::import_pem(text.expose(), now)
                        .map_err(|e| AppError::invalid("key", format!("the PEM key {e}")))?;
                    check_key_fits(algorithm, pair.key_type)?;
                    Some(pair)
                }
                None => match keys.last() {
                    Some(active) => {
                        check_key_fits(algorithm, active.key_type)?;
                        None
                    }
                    None => {
                        let key_type = algorithm.natural_key_type().unwrap_or(KeyType::Rsa2048);
                        Some(
                            KeyPair::generate(key_type, now)
                                .map_err(|e| AppError::Unexpected(e.to_string()))?,
                        )
                    }
                },
            };
            if let Some(pair) = new_key {
                if let Some(active) = keys.last_mut() {
                    active.retired_at = Some(now);
                }
                keys.push(pair);
            }
            let changed = existing.map(|a| a.secret_changed_at).unwrap_or(now);
            (Secret::new(Vec::new()), changed, None, false, false)
        };
        let asset = Asset {
            id: existing
                .map(|a| a.id.clone())
                .unwrap_or_else(AssetId::generate),
            name,
            path,
            state: existing
                .map(|a| a.state.clone())
                .unwrap_or(AssetState::Live),
            algorithm,
            secret,
            keys,
            next_secret,
            next_secret_at,
            key_id,
            preset,
            delivery,
            cors_origins,
            secret_changed_at,
            weak_secret_accepted: weak && weak_accepted,
            template: input.template,
            expiry_seconds: input.expiry_seconds,
            issuer,
            audience,
            not_before: input.not_before,
            jti: input.jti,
            read,
            write,
            created_at: existing.map(|a| a.created_at).unwrap_or(now),
            created_by: existing
                .map(|a| a.created_by.clone())
                .unwrap_or_else(|| actor.to_owned()),
            updated_at: now,
            updated_by: actor.to_owned(),
            version: existing.map(|a| a.version + 1).unwrap_or(1),
        };
        let warnings = match preset {
            Some(p) => p.check(&asset, &template).map_err(|e| {
                AppError::Invalid(FieldError::new(
                    e.field,
                    format!("{} (preset {p})", e.message),
                ))
            })?,
            None => Vec::new(),
        };
        Ok(BuiltAsset {
            asset,
            generated_secret: generated,
            warnings,
        })
    }

    /// Create an asset.
    pub fn create_asset(&self, actor: &str, input: AssetInput) -> Result<SavedAsset, AppError> {
        let BuiltAsset {
            asset,
            generated_secret,
            warnings,
        } = self.build_asset(actor, input, None)?;
        let _guard = self.lock_writes();
        self.store.insert_asset(&asset)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::AssetCreate,
            asset.path.as_str(),
        ));
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret,
            warnings,
        })
    }

    /// Replace an asset; `input.version` must be the stored version (else a stale-edit error
    /// naming who changed it).
    pub fn update_asset(
        &self,
        actor: &str,
        id: &str,
        input: AssetInput,
    ) -> Result<SavedAsset, AppError> {
        let _guard = self.lock_writes();
        let existing = self.asset_record(id)?;
        let Some(version) = input.version else {
            return Err(AppError::invalid(
                "version",
                "is required: send the version you edited",
            ));
        };
        if version != existing.version {
            return Err(stale(&existing));
        }
        let BuiltAsset {
            asset,
            generated_secret,
            warnings,
        } = self.build_asset(actor, input, Some(&existing))?;
        match self.store.replace_asset(&asset, version) {
            Err(StoreError::VersionMismatch) => return Err(stale(&self.asset_record(id)?)),
            other => other?,
        }
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::AssetUpdate,
            asset.path.as_str(),
        ));
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret,
            warnings,
        })
    }

    pub(super) fn asset_record(&self, id: &str) -> Result<Asset, AppError> {
        self.store
            .asset(&AssetId::from_string(id))?
            .ok_or(AppError::NotFound)
    }

    /// An asset by id.
    pub fn asset(&self, id: &str) -> Result<AssetView, AppError> {
        Ok(AssetView::from(&self.asset_record(id)?))
    }

    /// An asset by id, or by path when `id_or_path` starts with `/` (CLI).
    pub fn find_asset(&self, id_or_path: &str) -> Result<AssetView, AppError> {
        if id_or_path.starts_with('/') {
            let a = self
                .store
                .asset_by_path(id_or_path)?
                .ok_or(AppError::NotFound)?;
            Ok(AssetView::from(&a))
        } else {
            self.asset(id_or_path)
        }
    }

    /// Every asset, by path.
    pub fn assets(&self) -> Result<Vec<AssetView>, AppError> {
        let mut all: Vec<AssetView> = self.store.assets()?.iter().map(AssetView::from).collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }

    pub(super) fn change_state(
        &self,
        actor: &str,
        id: &str,
        action: AuditAction,
        trash: bool,
    ) -> Result<AssetView, AppError> {
        let (asset, ()) = self.modify_asset(actor, id, action, |asset, now| {
            match (&asset.state, trash) {
                (AssetState::Live, false) => {
                    return Err(AppError::Conflict("the asset is not in the trash".into()));
                }
                (AssetState::Trashed { .. }, true) => {
                    return Err(AppError::Conflict(
                        "the asset is already in the trash".into(),
                    ));
                }
                _ => {}
            }
            asset.state = if trash {
                AssetState::Trashed {
                    at: now,
                    by: actor.to_owned(),
                }
            } else {
                AssetState::Live
            };
            Ok(())
        })?;
        Ok(AssetView::from(&asset))
    }

    /// Move a live asset to the trash: its path answers 404 at once.
    pub fn trash_asset(&self, actor: &str, id: &str) -> Result<AssetView, AppError> {
        self.change_state(actor, id, AuditAction::AssetTrash, true)
    }

    /// Bring an asset back from the trash, same path and secret.
    pub fn restore_asset(&self, actor: &str, id: &str) -> Result<AssetView, AppError> {
        self.change_state(actor, id, AuditAction::AssetRestore, false)
    }

    /// Delete a trashed asset for good: record, secret and path index.
    pub fn purge_asset(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let _guard = self.lock_writes();
        let asset = self.asset_record(id)?;
        if asset.is_live() {
            return Err(AppError::Conflict(
                "only a trashed asset can be purged; trash it first".into(),
            ));
        }
        self.store.delete_asset(&asset.id)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::AssetPurge,
            asset.path.as_str(),
        ));
        Ok(())
    }

    /// Apply `change` to the stored asset (settled at now), bump its version and save it.
    pub(super) fn modify_asset<T>(
        &self,
        actor: &str,
        id: &str,
        action: AuditAction,
        change: impl FnOnce(&mut Asset, DateTime<Utc>) -> Result<T, AppError>,
    ) -> Result<(Asset, T), AppError> {
        let _guard = self.lock_writes();
        let mut asset = self.asset_record(id)?;
        let version = asset.version;
        let now = Utc::now();
        asset.settle(now);
        let out = change(&mut asset, now)?;
        asset.version += 1;
        asset.updated_at = now;
        asset.updated_by = actor.to_owned();
        self.store
            .replace_asset(&asset, version)
            .map_err(|e| match e {
                StoreError::VersionMismatch => {
                    AppError::Conflict("the asset changed meanwhile; try again".into())
                }
                other => other.into(),
            })?;
        self.audit
            .record(AuditEvent::admin(actor, action, asset.path.as_str()));
        Ok((asset, out))
    }
}

pub(super) fn algorithm_list() -> String {
    let names: Vec<&str> = Algorithm::ALL.into_iter().map(Algorithm::name).collect();
    names.join(", ")
}

pub(super) fn check_key_fits(algorithm: Algorithm, key_type: KeyType) -> Result<(), AppError> {
    if algorithm.accepts(key_type) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "key",
            format!(
                "is a {key_type} key, which cannot sign {}; {} takes {}",
                algorithm.name(),
                algorithm.name(),
                algorithm.key_types_text()
            ),
        ))
    }
}

/// A generated HMAC secret: consumers take the shared secret as text and use its bytes as the
/// key, so it is text too: 64 base64url characters carrying 384 random bits.
pub(super) fn generated_secret() -> (Secret, String) {
    let text = random_token::<48>();
    (Secret::new(text.as_bytes().to_vec()), text)
}

pub(super) fn weak_secret_error(field: &str, len: usize, algorithm: Algorithm) -> AppError {
    AppError::invalid(
        field,
        format!(
            "is {len} bytes; {} needs at least {} bytes (generate one, or set accept_weak_secret if a third party supplied it)",
            algorithm.name(),
            algorithm.min_secret_bytes()
        ),
    )
}

pub(super) fn secret_is_weak(a: &Asset) -> bool {
    a.next_secret
        .as_ref()
        .is_some_and(|s| s.len() < a.algorithm.min_secret_bytes())
}

pub(super) fn stale(current: &Asset) -> AppError {
    AppError::Stale {
        current: current.version,
        by: current.updated_by.clone(),
        at: current.updated_at.to_rfc3339(),
    }
}
