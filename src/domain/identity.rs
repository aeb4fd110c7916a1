//! Where people come from: upstream OpenID Connect providers (their settings and the rules for
//! mapping their claims onto a user), the sign-in policy (upstream only, break-glass
//! administrators), and the link between a user and an upstream identity.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::FieldError;
pub use crate::domain::user::UpstreamLink;
use crate::ids::UserId;
use crate::secret::SecretString;

/// Scopes asked for when a provider's settings name none.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email"];
/// The claim that names the user when a provider's settings name none.
pub const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";
/// At most this many providers (each is a button on the sign-in page).
pub const MAX_PROVIDERS: usize = 16;

/// Whether a first sign-in creates the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provisioning {
    /// The account is created at the person's first sign-in.
    #[default]
    Create,
    /// Only accounts an administrator created or linked to this provider are admitted.
    Existing,
}

/// An upstream OpenID Connect provider, as an administrator configured it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityProvider {
    /// Short name in URLs (`/login/oidc/{id}`): 1–32 of `a-z 0-9 -`.
    pub id: String,
    /// The button's label ("Sign in with …").
    pub name: String,
    /// The issuer URL; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret (sealed in the store; never shown again).
    pub client_secret: SecretString,
    /// Scopes asked for (always including `openid`).
    pub scopes: Vec<String>,
    /// The claim mapped to the username.
    pub username_claim: String,
    /// The claim holding the person's groups (a list of strings, or one string), if any.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Only these upstream groups are kept (all when empty).
    #[serde(default)]
    pub groups_allowed: Vec<String>,
    /// Prepended to each kept group name (e.g. `sso-`).
    #[serde(default)]
    pub groups_prefix: String,
    /// Create accounts at first sign-in, or admit only existing ones.
    #[serde(default)]
    pub provisioning: Provisioning,
    /// Sign-out also ends the session at the provider (RP-initiated logout), when it offers it.
    #[serde(default)]
    pub end_upstream_session: bool,
}

/// The server-wide sign-in settings: one record, versioned like every record an admin edits.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SignInSettings {
    /// The upstream providers, in button order.
    #[serde(default)]
    pub providers: Vec<IdentityProvider>,
    /// Local passwords are refused except for the break-glass administrators.
    #[serde(default)]
    pub upstream_only: bool,
    /// Administrators (usernames) who may still sign in with a password when `upstream_only`.
    #[serde(default)]
    pub break_glass: Vec<String>,
    /// Incremented on every change.
    #[serde(default)]
    pub version: u64,
}

impl SignInSettings {
    /// A provider by id.
    pub fn provider(&self, id: &str) -> Option<&IdentityProvider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Whether `username` (an administrator's) may sign in with a local password.
    pub fn password_allowed(&self, username: &str, admin: bool) -> bool {
        !self.upstream_only
            || (admin
                && self
                    .break_glass
                    .iter()
                    .any(|b| b.eq_ignore_ascii_case(username)))
    }
}

/// The provider id the trusted-proxy mode records in the links it makes.
pub const PROXY_PROVIDER: &str = "proxy";

/// The id of the account created for (issuer, subject): the same on every instance and every
/// sign-in, so the account is found by its upstream identity with a plain read by id (never by
/// e-mail, never by a name the provider may change).
pub fn upstream_user_id(issuer: &str, subject: &str) -> UserId {
    use base64::Engine;
    let mut h = Sha256::new();
    h.update(b"jwt-asset-server upstream user\0");
    h.update((issuer.len() as u64).to_be_bytes());
    h.update(issuer.as_bytes());
    h.update(subject.as_bytes());
    let digest = h.finalize();
    UserId::from_string(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]))
}

/// Validate a provider id.
pub fn validate_provider_id(id: &str) -> Result<(), FieldError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-');
    if !ok {
        return Err(FieldError::new(
            "id",
            "must be 1 to 32 characters of a-z, 0-9 and '-', not starting with '-'",
        ));
    }
    if id == PROXY_PROVIDER {
        return Err(FieldError::new(
            "id",
            "\"proxy\" is reserved for the trusted-proxy mode",
        ));
    }
    Ok(())
}

/// What an administrator submits for a provider (API, UI, CLI): checked into an
/// [`IdentityProvider`] by [`ProviderInput::check`], every problem reported at once.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// See [`IdentityProvider::id`].
    pub id: String,
    /// Button label; default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret; on an update, absent keeps the stored one.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub client_secret: Option<SecretString>,
    /// Scopes (space-separated text is also accepted by the UI); default `openid profile email`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Default `preferred_username`.
    #[serde(default)]
    pub username_claim: Option<String>,
    /// The groups claim, e.g. `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Keep only these upstream groups.
    #[serde(default)]
    pub groups_allowed: Option<Vec<String>>,
    /// Prefix for the kept groups.
    #[serde(default)]
    pub groups_prefix: Option<String>,
    /// `create` (default) or `existing`.
    #[serde(default)]
    pub provisioning: Option<Provisioning>,
    /// RP-initiated logout at sign-out.
    #[serde(default)]
    pub end_upstream_session: Option<bool>,
}

impl ProviderInput {
    /// The provider these fields describe; `existing` is the stored one on an update (its
    /// secret is kept when none is given).
    pub fn check(
        self,
        existing: Option<&IdentityProvider>,
    ) -> Result<IdentityProvider, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(e) = validate_provider_id(&self.id) {
            errors.push(e);
        }
        let issuer = self.issuer.trim().to_owned();
        if let Err(why) = check_issuer(&issuer) {
            errors.push(FieldError::new("issuer", why));
        }
        let client_id = self.client_id.trim().to_owned();
        if client_id.is_empty() || client_id.len() > 512 || client_id.chars().any(char::is_control)
        {
            errors.push(FieldError::new(
                "client_id",
                "is required (1 to 512 characters, as registered at the provider)",
            ));
        }
        // A stored secret goes only to the issuer (and client) it was given for: changing them
        // needs the secret again, or an administrator could send it to a server of their own.
        let existing = existing.filter(|old| old.issuer == issuer && old.client_id == client_id);
        let client_secret = match (self.client_secret, existing) {
            (Some(s), _) if !s.expose().is_empty() => {
                if s.expose().len() > 1024 || s.expose().chars().any(char::is_control) {
                    errors.push(FieldError::new(
                        "client_secret",
                        "must be at most 1024 characters, without control characters",
                    ));
                }
                s
            }
            (_, Some(old)) => old.client_secret.clone(),
            _ => {
                errors.push(FieldError::new(
                    "client_secret",
                    "is required (the secret the provider issued for this client; given again when the issuer or client id changes)",
                ));
                SecretString::default()
            }
        };
        let name = self
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.id.clone());
        if name.chars().count() > 64 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "name",
                "must be at most 64 characters, without control characters",
            ));
        }
        let mut scopes: Vec<String> = match self.scopes {
            Some(s) if !s.is_empty() => s
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_owned)
                .collect(),
            _ => DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        };
        if let Some(bad) = scopes
            .iter()
            .find(|s| s.len() > 128 || !s.chars().all(|c| c.is_ascii_graphic() && c != '"'))
        {
            errors.push(FieldError::new(
                "scopes",
                format!("{bad:?} is not a valid scope"),
            ));
        }
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        scopes.dedup();
        let claim = |field: &str, v: Option<String>, errors: &mut Vec<FieldError>| {
            let v = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            if let Some(v) = &v
                && (v.len() > 128 || !v.chars().all(|c| c.is_ascii_graphic()))
            {
                errors.push(FieldError::new(
                    field,
                    "must be a claim name (printable ASCII without spaces, at most 128 characters)",
                ));
            }
            v
        };
        let username_claim = claim("username_claim", self.username_claim, &mut errors)
            .unwrap_or_else(|| DEFAULT_USERNAME_CLAIM.to_owned());
        let groups_claim = claim("groups_claim", self.groups_claim, &mut errors);
        let groups_allowed: Vec<String> = self
            .groups_allowed
            .unwrap_or_default()
            .into_iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        for g in &groups_allowed {
            if let Err(mut e) = crate::domain::user::validate_group_name(g) {
                e.field = "groups_allowed".into();
                errors.push(e);
            }
        }
        let groups_prefix = self.groups_prefix.unwrap_or_default().trim().to_owned();
        if groups_prefix.len() > 32 || groups_prefix.contains(',') {
            errors.push(FieldError::new(
                "groups_prefix",
                "must be at most 32 characters, without commas",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(IdentityProvider {
            id: self.id,
            name,
            issuer,
            client_id,
            client_secret,
            scopes,
            username_claim,
            groups_claim,
            groups_allowed,
            groups_prefix,
            provisioning: self.provisioning.unwrap_or_default(),
            end_upstream_session: self.end_upstream_session.unwrap_or(false),
        })
    }
}

/// An issuer must be an absolute `https://` URL (or `http://` to this machine, for a provider on
/// the same host) without a query or fragment; it is kept exactly as given (some issuers end in
/// `/`, and the ID token's `iss` must equal it).
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    check_endpoint(issuer)?;
    if issuer.len() > 512 || issuer.contains(['?', '#']) {
        return Err("must be at most 512 characters, without a query or fragment".into());
    }
    Ok(())
}

/// A URL this server may send a provider's secrets or trust keys from: `https://`, or
/// `http://` only to this machine (`localhost`, 127.0.0.0/8, `[::1]`); no user name or password
/// in it.
pub fn check_endpoint(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|_| {
        "must be an https:// URL, e.g. https://id.example.org/realms/main".to_owned()
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        ("http", Some(url::Host::Ipv4(a))) if a.is_loopback() => Ok(()),
        ("http", Some(url::Host::Ipv6(a))) if a.is_loopback() => Ok(()),
        ("http", _) => Err(
            "must be an https:// URL (plain http:// only to this machine: localhost, 127.x.x.x or [::1])"
                .into(),
        ),
        _ => Err("must be an https:// URL, e.g. https://id.example.org/realms/main".into()),
    }
}

/// The groups an upstream person gets here: the claim's groups, filtered and prefixed by the
/// provider's settings; names that are not valid group names here are dropped.
pub fn map_groups(provider: &IdentityProvider, upstream: &[String]) -> Vec<String> {
    let mut groups: Vec<String> = upstream
        .iter()
        .filter(|g| provider.groups_allowed.is_empty() || provider.groups_allowed.contains(g))
        .map(|g| format!("{}{g}", provider.groups_prefix))
        .filter(|g| crate::domain::user::validate_group_name(g).is_ok())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProviderInput {
        ProviderInput {
            id: "corp".into(),
            issuer: "https://id.example.org/realms/main/".into(),
            client_id: "jas".into(),
            client_secret: Some(SecretString::new("s3cret".into())),
            ..ProviderInput::default()
        }
    }

    #[test]
    fn a_provider_gets_the_documented_defaults() {
        let p = input().check(None).unwrap();
        assert_eq!(p.issuer, "https://id.example.org/realms/main/");
        assert_eq!(p.scopes, ["openid", "profile", "email"]);
        assert_eq!(p.username_claim, "preferred_username");
        assert_eq!(p.provisioning, Provisioning::Create);
        assert_eq!(p.name, "corp");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = ProviderInput {
            id: "Bad Id".into(),
            issuer: "http://id.example.org".into(),
            client_id: String::new(),
            ..ProviderInput::default()
        }
        .check(None)
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "issuer", "client_id", "client_secret"]);
    }

    #[test]
    fn an_update_without_a_secret_keeps_the_stored_one() {
        let old = input().check(None).unwrap();
        let p = ProviderInput {
            client_secret: None,
            ..input()
        }
        .check(Some(&old))
        .unwrap();
        assert_eq!(p.client_secret.expose(), "s3cret");
    }

    #[test]
    fn a_changed_issuer_needs_the_secret_again() {
        let old = input().check(None).unwrap();
        let errors = ProviderInput {
            client_secret: None,
            issuer: "https://elsewhere.example".into(),
            ..input()
        }
        .check(Some(&old))
        .unwrap_err();
        assert_eq!(errors[0].field, "client_secret");
    }

    #[test]
    fn plain_http_issuers_only_on_this_machine() {
        assert!(check_issuer("http://127.0.0.1:4444").is_ok());
        assert!(check_issuer("http://[::1]:4444/x").is_ok());
        for remote in [
            "http://127.evil.example",
            "http://localhost:1@evil.example/",
            "http://[2001:db8::1]/",
            "https://user:pw@id.example.org",
        ] {
            assert!(check_issuer(remote).is_err(), "{remote}");
        }
        assert!(check_issuer("http://localhost/x").is_ok());
        assert!(check_issuer("http://idp.example.org").is_err());
        assert!(check_issuer("https://idp.example.org?x=1").is_err());
        assert!(check_issuer("https://").is_err());
        assert!(check_issuer("ftp://idp").is_err());
    }

    #[test]
    fn upstream_ids_depend_on_issuer_and_subject_only() {
        let a = upstream_user_id("https://a", "123");
        assert_eq!(a, upstream_user_id("https://a", "123"));
        assert_ne!(a, upstream_user_id("https://b", "123"));
        assert_ne!(a, upstream_user_id("https://a", "1234"));
        // Not confusable by moving the separator.
        assert_ne!(
            upstream_user_id("https://a\0x", "y"),
            upstream_user_id("https://a", "x\0y")
        );
        assert_eq!(a.as_str().len(), 16);
    }

    #[test]
    fn groups_are_filtered_then_prefixed() {
        let mut p = input().check(None).unwrap();
        let upstream = vec!["staff".into(), "dev".into(), "bad,name".into()];
        assert_eq!(map_groups(&p, &upstream), ["dev", "staff"]);
        p.groups_allowed = vec!["staff".into()];
        p.groups_prefix = "sso-".into();
        assert_eq!(map_groups(&p, &upstream), ["sso-staff"]);
    }

    #[test]
    fn break_glass_admins_keep_their_password() {
        let mut s = SignInSettings::default();
        assert!(s.password_allowed("bob", false));
        s.upstream_only = true;
        s.break_glass = vec!["Root".into()];
        assert!(s.password_allowed("root", true));
        assert!(!s.password_allowed("root", false));
        assert!(!s.password_allowed("bob", true));
    }
}
