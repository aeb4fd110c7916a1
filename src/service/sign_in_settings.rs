//! Managing where people sign in from: the identity providers, the upstream-only switch and its
//! break-glass administrators, and linking an account to a provider.

use serde::Serialize;

use super::state::Service;
use crate::domain::FieldError;
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::domain::identity::{
    IdentityProvider, MAX_PROVIDERS, PROXY_PROVIDER, ProviderInput, Provisioning, SignInSettings,
    UpstreamLink,
};
use crate::error::AppError;

/// A provider as administrators see it: everything but the client secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    /// Id in URLs.
    pub id: String,
    /// Button label.
    pub name: String,
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Whether a client secret is stored (it is never shown).
    pub client_secret_set: bool,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// The username claim.
    pub username_claim: String,
    /// The groups claim.
    pub groups_claim: Option<String>,
    /// Upstream groups kept (all when empty).
    pub groups_allowed: Vec<String>,
    /// Prefix of the kept groups.
    pub groups_prefix: String,
    /// `create` or `existing`.
    pub provisioning: Provisioning,
    /// RP-initiated logout at sign-out.
    pub end_upstream_session: bool,
    /// The callback path to register at the provider, after this server's public URL.
    pub redirect_path: String,
}

impl From<&IdentityProvider> for ProviderView {
    fn from(p: &IdentityProvider) -> Self {
        ProviderView {
            id: p.id.clone(),
            name: p.name.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            client_secret_set: !p.client_secret.expose().is_empty(),
            scopes: p.scopes.clone(),
            username_claim: p.username_claim.clone(),
            groups_claim: p.groups_claim.clone(),
            groups_allowed: p.groups_allowed.clone(),
            groups_prefix: p.groups_prefix.clone(),
            provisioning: p.provisioning,
            end_upstream_session: p.end_upstream_session,
            redirect_path: format!("/login/oidc/{}/callback", p.id),
        }
    }
}

/// The sign-in policy as administrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignInPolicyView {
    /// Local passwords off (except the break-glass administrators).
    pub upstream_only: bool,
    /// Who keeps a password.
    pub break_glass: Vec<String>,
    /// The providers.
    pub providers: Vec<ProviderView>,
    /// The settings' version.
    pub version: u64,
}

/// Several field errors as the one error the API and pages report (each named).
fn invalid(errors: Vec<FieldError>) -> AppError {
    let field = errors.first().map(|e| e.field.clone()).unwrap_or_default();
    let message = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    AppError::Invalid(FieldError::new(field, message))
}

impl Service {
    /// The sign-in policy and providers (a store read: on a blocking thread).
    pub fn sign_in_policy(&self) -> Result<SignInPolicyView, AppError> {
        let s = self.sign_in_settings()?;
        Ok(SignInPolicyView {
            upstream_only: s.upstream_only,
            break_glass: s.break_glass.clone(),
            providers: s.providers.iter().map(ProviderView::from).collect(),
            version: s.version,
        })
    }

    /// Change the settings under the admin write lock, over the version read.
    fn change_settings<T>(
        &self,
        actor: &str,
        target: &str,
        f: impl FnOnce(&mut SignInSettings) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        self.change_settings_at(actor, target, None, f)
    }

    /// [`Service::change_settings`], only when the settings are still at `expected_version`
    /// (when given): `Stale` otherwise.
    fn change_settings_at<T>(
        &self,
        actor: &str,
        target: &str,
        expected_version: Option<u64>,
        f: impl FnOnce(&mut SignInSettings) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let _guard = self.lock_writes();
        let mut settings = self.store.sign_in_settings()?;
        let read_at = settings.version;
        if expected_version.is_some_and(|v| v != read_at) {
            return Err(AppError::Stale {
                current: read_at,
                by: "another administrator".into(),
                at: "(see the audit log)".into(),
            });
        }
        let out = f(&mut settings)?;
        settings.version = read_at + 1;
        self.store.replace_sign_in_settings(&settings, read_at)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::SignInSettings,
            target,
        ));
        Ok(out)
    }

    /// Add an identity provider.
    pub fn add_identity_provider(
        &self,
        actor: &str,
        input: ProviderInput,
    ) -> Result<ProviderView, AppError> {
        let id = input.id.clone();
        self.change_settings(actor, &format!("identity provider {id}"), |s| {
            if s.provider(&id).is_some() {
                return Err(AppError::Conflict(format!(
                    "an identity provider with the id {id:?} exists already"
                )));
            }
            if s.providers.len() >= MAX_PROVIDERS {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_PROVIDERS} identity providers can be configured"
                )));
            }
            let provider = input.check(None).map_err(invalid)?;
            let view = ProviderView::from(&provider);
            s.providers.push(provider);
            Ok(view)
        })
    }

    /// Replace an identity provider's settings (its secret kept when none is given).
    pub fn update_identity_provider(
        &self,
        actor: &str,
        id: &str,
        input: ProviderInput,
    ) -> Result<ProviderView, AppError> {
        self.update_identity_provider_at(actor, id, input, None)
    }

    /// [`Service::update_identity_provider`] while the settings are at `expected_version`.
    pub fn update_identity_provider_at(
        &self,
        actor: &str,
        id: &str,
        mut input: ProviderInput,
        expected_version: Option<u64>,
    ) -> Result<ProviderView, AppError> {
        input.id = id.to_owned();
        let target = format!("identity provider {id}");
        self.change_settings_at(actor, &target, expected_version, |s| {
            let slot = s
                .providers
                .iter_mut()
                .find(|p| p.id == id)
                .ok_or(AppError::NotFound)?;
            let provider = input.check(Some(slot)).map_err(invalid)?;
            let view = ProviderView::from(&provider);
            *slot = provider;
            Ok(view)
        })
    }

    /// Remove an identity provider: its people can no longer sign in with it (their accounts
    /// stay, linked, for an administrator to deal with).
    pub fn remove_identity_provider(&self, actor: &str, id: &str) -> Result<(), AppError> {
        self.remove_identity_provider_at(actor, id, None)
    }

    /// [`Service::remove_identity_provider`] while the settings are at `expected_version`.
    pub fn remove_identity_provider_at(
        &self,
        actor: &str,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<(), AppError> {
        let target = format!("identity provider {id} removed");
        self.change_settings_at(actor, &target, expected_version, |s| {
            let before = s.providers.len();
            s.providers.retain(|p| p.id != id);
            if s.providers.len() == before {
                return Err(AppError::NotFound);
            }
            Ok(())
        })
    }

    /// Turn local passwords off (except for `break_glass`, who must be enabled administrators
    /// with a password) or back on.
    pub fn set_sign_in_policy(
        &self,
        actor: &str,
        upstream_only: bool,
        break_glass: Vec<String>,
    ) -> Result<SignInPolicyView, AppError> {
        self.set_sign_in_policy_at(actor, upstream_only, break_glass, None)
    }

    /// [`Service::set_sign_in_policy`] while the settings are at `expected_version`.
    pub fn set_sign_in_policy_at(
        &self,
        actor: &str,
        upstream_only: bool,
        break_glass: Vec<String>,
        expected_version: Option<u64>,
    ) -> Result<SignInPolicyView, AppError> {
        let mut names = Vec::new();
        for name in break_glass
            .iter()
            .flat_map(|n| n.split([',', ' ', '\n']))
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let user = self
                .store
                .user_by_username(name)?
                .filter(|u| u.admin && !u.disabled && u.password_hash.is_some())
                .ok_or_else(|| {
                    AppError::Invalid(FieldError::new(
                        "break_glass",
                        format!(
                            "{name:?} is not an enabled administrator with a password (break-glass accounts sign in with their password)"
                        ),
                    ))
                })?;
            if !names.contains(&user.username.as_str().to_owned()) {
                names.push(user.username.as_str().to_owned());
            }
        }
        if upstream_only && names.is_empty() {
            return Err(AppError::Invalid(FieldError::new(
                "break_glass",
                "name at least one break-glass administrator before turning local passwords off, so that someone can still sign in when the identity provider cannot be reached",
            )));
        }
        self.change_settings_at(actor, "sign-in policy", expected_version, |s| {
            s.upstream_only = upstream_only;
            s.break_glass = names;
            Ok(())
        })?;
        self.sign_in_policy()
    }

    /// Link an account to a provider, or remove the link (`None`). With the person's `sub` at
    /// the provider the link is complete at once; without it, it is completed by the person's
    /// first sign-in there with the account's username and a verified e-mail equal to the
    /// account's.
    pub fn link_user(
        &self,
        actor: &str,
        username: &str,
        provider: Option<&str>,
        subject: Option<&str>,
    ) -> Result<(), AppError> {
        let subject = subject.map(str::trim).filter(|s| !s.is_empty());
        if subject.is_some_and(|s| s.len() > 255 || s.chars().any(char::is_control)) {
            return Err(AppError::invalid(
                "subject",
                "must be at most 255 characters, without control characters",
            ));
        }
        let issuer = match provider {
            Some(PROXY_PROVIDER) => "trusted-proxy".to_owned(),
            Some(id) => self
                .sign_in_settings()?
                .provider(id)
                .map(|p| p.issuer.clone())
                .ok_or_else(|| {
                    AppError::Invalid(FieldError::new(
                        "upstream",
                        format!("there is no identity provider {id:?}"),
                    ))
                })?,
            None => String::new(),
        };
        let _guard = self.lock_writes();
        let mut user = self.user_named(username)?;
        let link = provider.map(|p| match subject {
            Some(sub) => UpstreamLink {
                provider: p.to_owned(),
                issuer: issuer.clone(),
                subject: if p == PROXY_PROVIDER {
                    sub.to_ascii_lowercase()
                } else {
                    sub.to_owned()
                },
            },
            None => UpstreamLink {
                provider: p.to_owned(),
                issuer: String::new(),
                subject: String::new(),
            },
        });
        if user.upstream == link {
            return Ok(());
        }
        user.upstream = link;
        user.updated_at = chrono::Utc::now();
        self.save_user(&mut user)?;
        self.audit.record(AuditEvent::admin(
            actor,
            AuditAction::UserUpdate,
            user.username.as_str(),
        ));
        Ok(())
    }
}
