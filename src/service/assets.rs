//! Assets: build one from input (field by field), create, update, trash, restore, purge.

use chrono::{DateTime, Utc};

use super::asset_fields::{self as fields, SigningInput};
use super::state::Service;
use super::views::{AssetView, BuiltAsset, SavedAsset};
use crate::domain::asset::{AccessRule, Asset, AssetState, Lifecycle};
use crate::domain::asset_input::AssetInput;
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::trial::{EMPTY_USER, SAMPLE_USER, TrialUser, try_users};
use crate::domain::user::{Username, same_group, validate_group_name};
use crate::error::{AppError, FieldError};
use crate::ids::AssetId;
use crate::keywords::PayloadTemplate;
use crate::store::StoreError;

/// What the save-time trial renders found: a warning per user the template fails for, and the
/// reason for the "template error" badge (a standard user's failure).
#[derive(Default)]
pub(super) struct Tried {
    pub(super) warnings: Vec<String>,
    pub(super) standard: Option<String>,
}

/// The field errors found so far while reading an input, so that all are reported together.
#[derive(Default)]
struct Gather(Vec<FieldError>);

impl Gather {
    /// The value, or `None` with its field error kept; any other error ends the reading.
    fn take<T>(&mut self, r: Result<T, AppError>) -> Result<Option<T>, AppError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(AppError::Invalid(f)) => {
                self.0.push(f);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every field error found, as one.
    fn finish(&mut self) -> Result<(), AppError> {
        match FieldError::all(std::mem::take(&mut self.0)) {
            Some(f) => Err(AppError::Invalid(f)),
            None => Ok(()),
        }
    }
}

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
            if !out.groups.iter().any(|o| same_group(o, &g)) {
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
        let preset = fields::preset(input.preset.as_deref(), existing)?;
        if existing.is_none()
            && let Some(p) = preset
        {
            p.apply(&mut input);
        }
        // Every field is checked, so that all that is wrong is reported at once.
        let mut g = Gather::default();
        let name = g.take(fields::name(&input.name))?;
        let path = g.take(fields::path(&input.path))?;
        let now = Utc::now();
        let settled = existing.cloned().map(|mut a| {
            a.settle(now);
            a
        });
        let existing = settled.as_ref();
        let algorithm = g.take(fields::algorithm(input.algorithm.as_deref(), existing))?;
        let template = g.take(fields::template(&input.template))?;
        let expiry_seconds = g.take(fields::expiry(input.expiry_seconds))?;
        let key_id = match algorithm {
            Some(a) => g.take(fields::key_id(input.key_id.take(), a, existing))?,
            None => None,
        };
        let delivery = g.take(fields::delivery(input.delivery.take(), existing))?;
        let cors_origins = g.take(fields::cors_origins(input.cors_origins.take(), existing))?;
        let request_params = match &template {
            Some(t) => g.take(fields::request_params(
                input.request_params.take(),
                existing,
                t,
            ))?,
            None => None,
        };
        let issuer = g.take(fields::text_claim("issuer", input.issuer.take()))?;
        let audience = g.take(fields::text_claim("audience", input.audience.take()))?;
        let read = match input.read.take() {
            Some(r) => g.take(self.validate_rule("read", r))?.map(Some),
            None => Some(None),
        };
        let write = g.take(self.validate_rule("write", input.write.take().unwrap_or_default()))?;
        let signing = match algorithm {
            Some(a) => g.take(fields::signing(
                SigningInput::take(&mut input),
                a,
                existing,
                now,
            ))?,
            None => None,
        };
        g.finish()?;
        let (
            Some(name),
            Some(path),
            Some(algorithm),
            Some(template),
            Some(expiry_seconds),
            Some(key_id),
            Some(delivery),
            Some(cors_origins),
            Some(request_params),
            Some(issuer),
            Some(audience),
            Some(read),
            Some(write),
            Some(signing),
        ) = (
            name,
            path,
            algorithm,
            template,
            expiry_seconds,
            key_id,
            delivery,
            cors_origins,
            request_params,
            issuer,
            audience,
            read,
            write,
            signing,
        )
        else {
            return Err(AppError::Unexpected(
                "a field was neither read nor refused".into(),
            ));
        };
        // A kept next secret keeps the kid that comes with it.
        let next_key_id = signing
            .next_secret
            .as_ref()
            .and(existing.and_then(|a| a.next_key_id.clone()));
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
            secret: signing.secret,
            keys: signing.keys,
            next_key: signing.next_key,
            next_key_at: signing.next_key_at,
            next_secret: signing.next_secret,
            next_secret_at: signing.next_secret_at,
            key_id,
            next_key_id,
            preset,
            delivery,
            cors_origins,
            request_params,
            secret_changed_at: signing.changed_at,
            weak_secret_accepted: signing.weak_accepted,
            template_warning: None,
            template_language: crate::domain::asset::TEMPLATE_LANGUAGE,
            template: input.template,
            expiry_seconds,
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
        // The trial renders and the preset's rules are reported together too.
        let mut g = Gather::default();
        let tried = g.take(self.trial(actor, &asset, &template))?;
        let preset_warnings = g.take(fields::preset_rules(preset, &asset, &template))?;
        g.finish()?;
        let (tried, preset_warnings) = (
            tried.unwrap_or_default(),
            preset_warnings.unwrap_or_default(),
        );
        // The badge's reason comes from the same renders (no second trial).
        let mut asset = asset;
        asset.template_warning = tried.standard;
        let warnings: Vec<String> = tried.warnings.into_iter().chain(preset_warnings).collect();
        Ok(BuiltAsset {
            asset,
            generated_secret: signing.generated,
            warnings,
        })
    }

    /// Render the template for the acting administrator, a user with every attribute empty and
    /// the sample user: refused when it renders for none of them (every request would be a 500),
    /// a warning for each one it fails for.
    pub(super) fn trial(
        &self,
        actor: &str,
        asset: &Asset,
        template: &PayloadTemplate,
    ) -> Result<Tried, AppError> {
        let me = self
            .store
            .user_by_username(actor)?
            .map(|u| TrialUser::of(format!("you ({})", u.username), &u));
        let mut users: Vec<&TrialUser> = me.iter().collect();
        users.extend([&*EMPTY_USER, &*SAMPLE_USER]);
        let outcome = try_users(asset, template, &users);
        if outcome.fails_for_all() {
            let first = &outcome.failures[0].error;
            return Err(AppError::Invalid(FieldError::at(
                "template",
                format!(
                    "renders for none of the users it was tried with ({}), so no one would get a token: {}",
                    users
                        .iter()
                        .map(|u| u.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    first.message
                ),
                first.line,
                first.column,
            )));
        }
        Ok(Tried {
            warnings: outcome
                .failures
                .iter()
                .map(|f| {
                    format!(
                        "the template fails {f} \u{2014} such users get a 500 instead of a token"
                    )
                })
                .collect(),
            standard: outcome.standard_problem(),
        })
    }

    /// A store refusal of `asset`'s path, worded to name the asset that holds it, and the trash
    /// when that is where it is.
    fn path_taken(&self, e: StoreError, asset: &Asset) -> AppError {
        let StoreError::Conflict(_) = &e else {
            return e.into();
        };
        let catalog = self.registry.catalog();
        match catalog.get(asset.path.as_str()) {
            Some(holder) if holder.id != asset.id && holder.state == Lifecycle::Trashed => {
                AppError::Conflict(format!(
                    "the path {} is held by \u{201c}{}\u{201d}, which is in the trash: restore and move it, or purge it, to use the path here",
                    asset.path, holder.name
                ))
            }
            Some(holder) if holder.id != asset.id => AppError::Conflict(format!(
                "the path {} is used by the asset \u{201c}{}\u{201d}",
                asset.path, holder.name
            )),
            _ => e.into(),
        }
    }

    /// Check an asset input as a create (`id` none) or an update of `id` would, storing
    /// nothing: every field error at once, or the warnings.
    pub fn check_asset(
        &self,
        actor: &str,
        id: Option<&AssetId>,
        input: AssetInput,
    ) -> Result<Vec<String>, AppError> {
        let existing = id.map(|id| self.asset_record(id)).transpose()?;
        Ok(self.build_asset(actor, input, existing.as_ref())?.warnings)
    }

    /// Create an asset.
    pub fn create_asset(&self, actor: &str, input: AssetInput) -> Result<SavedAsset, AppError> {
        let BuiltAsset {
            asset,
            generated_secret,
            warnings,
        } = self.build_asset(actor, input, None)?;
        let _guard = self.lock_writes();
        self.store
            .insert_asset(&asset)
            .map_err(|e| self.path_taken(e, &asset))?;
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
        id: &AssetId,
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
            Err(e) => return Err(self.path_taken(e, &asset)),
            Ok(()) => {}
        }
        let changed = crate::domain::asset::changed_fields(&existing, &asset);
        self.audit.record(AuditEvent {
            detail: Some(if changed.is_empty() {
                "nothing changed".to_owned()
            } else {
                format!("changed {}", changed.join(", "))
            }),
            ..AuditEvent::admin(actor, AuditAction::AssetUpdate, asset.path.as_str())
        });
        Ok(SavedAsset {
            asset: AssetView::from(&asset),
            generated_secret,
            warnings,
        })
    }

    pub(super) fn asset_record(&self, id: &AssetId) -> Result<Asset, AppError> {
        self.store.asset(id)?.ok_or(AppError::NotFound)
    }

    /// An asset by id.
    pub fn asset(&self, id: &AssetId) -> Result<AssetView, AppError> {
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
            self.asset(&AssetId::from_string(id_or_path))
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
        id: &AssetId,
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
    pub fn trash_asset(&self, actor: &str, id: &AssetId) -> Result<AssetView, AppError> {
        self.change_state(actor, id, AuditAction::AssetTrash, true)
    }

    /// Bring an asset back from the trash, same path and secret.
    pub fn restore_asset(&self, actor: &str, id: &AssetId) -> Result<AssetView, AppError> {
        self.change_state(actor, id, AuditAction::AssetRestore, false)
    }

    /// Delete a trashed asset for good: record, secret and path index; when `expected_version`
    /// is given, only the asset still at that version (`Stale` otherwise).
    pub fn purge_asset(
        &self,
        actor: &str,
        id: &AssetId,
        expected_version: Option<u64>,
    ) -> Result<(), AppError> {
        let _guard = self.lock_writes();
        let asset = self.asset_record(id)?;
        if expected_version.is_some_and(|v| v != asset.version) {
            return Err(stale(&asset));
        }
        if asset.is_live() {
            return Err(AppError::Conflict(
                "only a trashed asset can be purged; trash it first".into(),
            ));
        }
        // Held to the version checked above: restored (or changed) meanwhile on another
        // instance, it stays.
        match self.store.delete_asset(&asset.id, asset.version) {
            Ok(()) => {}
            Err(StoreError::VersionMismatch) => return Err(stale(&self.asset_record(id)?)),
            Err(e) => return Err(e.into()),
        }
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
        id: &AssetId,
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
