//! Upstream sign-in with OpenID Connect, the flow: `/login/oidc/{id}` starts it (a fresh state,
//! nonce and PKCE verifier), the provider sends the person back to the callback, which checks
//! what came back, exchanges the code, verifies the ID token (`oidc`), and finds or creates the
//! person's account by (issuer, `sub`).
//!
//! The pending sign-in (state, nonce, PKCE verifier, where to go next) travels in a cookie sealed
//! with a key derived from the master key, so any instance can finish what another started; the
//! `state` is also recorded as used in the shared store, so a callback works once, anywhere.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::blocking::blocking;
use super::oidc::{PENDING_SECONDS, UpstreamError};
use super::state::Service;
use super::views::SignedIn;
use crate::domain::identity::{
    IdentityProvider, Provisioning, SignInSettings, UpstreamLink, map_groups, upstream_user_id,
};
use crate::domain::user::{User, Username};
use crate::error::AppError;
use crate::ids::random_token;

/// The cookie that carries a pending sign-in between `/login/oidc/{id}` and its callback; one per
/// sign-in (its name ends with the start of its state), so sign-ins in several tabs do not undo
/// each other.
pub fn pending_cookie_name(state: &str) -> String {
    let tag: String = state
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(12)
        .collect();
    format!("jas_oidc_{tag}")
}

/// A sign-in on its way through the provider, as the pending cookie carries it (sealed).
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    next: Option<String>,
    /// The redirect URI sent: the code exchange must name the same one.
    redirect_uri: String,
    at: i64,
}

const PENDING_CONTEXT: &[u8] = b"jwt-asset-server pending sign-in";

/// Where to send the browser to start a sign-in, and the pending cookie's value.
pub struct Started {
    /// The provider's authorization URL.
    pub location: String,
    /// The pending cookie's name (see [`pending_cookie_name`]).
    pub cookie_name: String,
    /// The sealed pending sign-in for the cookie.
    pub cookie: String,
}

/// What the provider's redirect back carries.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent.
    pub state: Option<String>,
    /// An OAuth error code, when the provider refused.
    pub error: Option<String>,
}

/// A finished upstream sign-in.
pub struct Finished {
    /// The new session.
    pub signed_in: SignedIn,
    /// Where the person was going.
    pub next: Option<String>,
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Service {
    /// The sign-in settings (a store read: call from a blocking thread).
    pub fn sign_in_settings(&self) -> Result<SignInSettings, AppError> {
        Ok(self.store.sign_in_settings()?)
    }

    /// The providers' ids and button labels, for the sign-in page (none when the settings
    /// cannot be read: the password form still works).
    pub async fn sign_in_buttons(self: &Arc<Self>) -> Vec<(String, String)> {
        let service = self.clone();
        blocking(move || Ok(service.provider_buttons()))
            .await
            .unwrap_or_default()
    }

    /// [`Service::sign_in_buttons`] on a blocking thread (a store read).
    fn provider_buttons(&self) -> Vec<(String, String)> {
        self.sign_in_settings()
            .map(|s| s.providers.into_iter().map(|p| (p.id, p.name)).collect())
            .unwrap_or_default()
    }

    async fn provider(self: &Arc<Self>, id: &str) -> Result<IdentityProvider, UpstreamError> {
        let service = self.clone();
        let id = id.to_owned();
        blocking(move || {
            service
                .sign_in_settings()?
                .provider(&id)
                .cloned()
                .ok_or(AppError::NotFound)
        })
        .await
        .map_err(UpstreamError::from_app)
    }

    /// Where to send a person signing out who came from provider `id`, when it is set to end
    /// the upstream session too and offers RP-initiated logout: its `end_session_endpoint`, back
    /// to `post_logout` afterwards.
    pub async fn upstream_sign_out(
        self: &Arc<Self>,
        id: &str,
        post_logout: &str,
    ) -> Option<String> {
        let provider = self.provider(id).await.ok()?;
        if !provider.end_upstream_session {
            return None;
        }
        let metadata = self.upstream.metadata(&provider).await.ok()?;
        let endpoint = metadata.end_session_endpoint.as_ref()?;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Some(format!(
            "{endpoint}{separator}{}",
            query_string(&[
                ("client_id", &provider.client_id),
                ("post_logout_redirect_uri", post_logout),
            ])
        ))
    }

    /// Start a sign-in with provider `id`: the provider's authorization URL (a fresh state,
    /// nonce and PKCE verifier) and the sealed pending cookie.
    pub async fn start_upstream_sign_in(
        self: &Arc<Self>,
        id: &str,
        redirect_uri: &str,
        next: Option<String>,
    ) -> Result<Started, UpstreamError> {
        let provider = self.provider(id).await?;
        let metadata = self.upstream.metadata(&provider).await?;
        let pending = Pending {
            provider: provider.id.clone(),
            state: random_token::<32>(),
            nonce: random_token::<32>(),
            verifier: random_token::<32>(),
            next,
            redirect_uri: redirect_uri.to_owned(),
            at: Utc::now().timestamp(),
        };
        let scope = provider.scopes.join(" ");
        let challenge = pkce_challenge(&pending.verifier);
        let query = query_string(&[
            ("response_type", "code"),
            ("client_id", &provider.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", &pending.state),
            ("nonce", &pending.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let separator = if metadata.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        if !metadata.code_challenge_methods_supported.is_empty()
            && !metadata
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
        {
            tracing::warn!(
                provider = %provider.id,
                "the provider does not advertise PKCE S256; sending it anyway"
            );
        }
        let plain =
            serde_json::to_vec(&pending).map_err(|e| AppError::Unexpected(e.to_string()))?;
        let sealed = self
            .upstream
            .pending_key
            .seal(PENDING_CONTEXT, &plain)
            .map_err(|e| AppError::Unexpected(e.to_string()))?;
        Ok(Started {
            location: format!("{}{separator}{query}", metadata.authorization_endpoint),
            cookie_name: pending_cookie_name(&pending.state),
            cookie: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Finish a sign-in with provider `id`: check the callback against the pending cookie,
    /// exchange the code, verify the ID token, find or create the account, open a session.
    pub async fn finish_upstream_sign_in(
        self: &Arc<Self>,
        id: &str,
        callback: Callback,
        pending_cookie: Option<&str>,
        previous_session: Option<&str>,
    ) -> Result<Finished, UpstreamError> {
        let stale = |reason: &str| {
            UpstreamError {
                status: 400,
                person: "This sign-in link has expired or was already used. Start again from the sign-in page.".into(),
                reason: reason.to_owned(),
            }
        };
        let pending: Pending = pending_cookie
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .and_then(|sealed| self.upstream.pending_key.open(PENDING_CONTEXT, &sealed))
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| stale("callback without a valid pending sign-in cookie (another browser, or cookies blocked)"))?;
        if pending.provider != id {
            return Err(stale(
                "callback for another provider than the pending sign-in's",
            ));
        }
        if Utc::now().timestamp() - pending.at > PENDING_SECONDS {
            return Err(stale("the pending sign-in is older than 10 minutes"));
        }
        let state = callback.state.as_deref().unwrap_or("");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            state.as_bytes(),
            pending.state.as_bytes(),
        )) {
            return Err(stale("the callback's state is not the pending sign-in's"));
        }
        let provider = self.provider(id).await?;
        // The state works once, on any instance: recorded in the shared store before the code
        // is used.
        let service = self.clone();
        let state_key = format!("\u{1}oidc state {}", pending.state);
        let uses = blocking(move || {
            Ok(service
                .store
                .note_failed_sign_in(
                    &state_key,
                    Utc::now(),
                    chrono::Duration::seconds(PENDING_SECONDS * 2),
                )?
                .0)
        })
        .await?;
        if uses > 1 {
            return Err(stale("the callback's state was already used (a replay)"));
        }
        if let Some(error) = callback.error {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            return Err(UpstreamError::refused(
                format!("{} did not sign you in ({error}).", provider.name),
                format!("the provider answered the authorization request with error {error:?}"),
            ));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 4096)
            .ok_or_else(|| stale("the callback carries no code"))?;
        let metadata = self.upstream.metadata(&provider).await?;
        #[derive(Deserialize)]
        struct TokenResponse {
            id_token: Option<String>,
            access_token: Option<String>,
        }
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", pending.redirect_uri.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let tokens: TokenResponse = self
            .upstream
            .get_json(
                &provider,
                "the token request",
                self.upstream
                    .http(&provider)?
                    .post(&metadata.token_endpoint)
                    .basic_auth(
                        form_encode(&provider.client_id),
                        Some(form_encode(provider.client_secret.expose())),
                    )
                    .form(&form),
            )
            .await?;
        let id_token = tokens.id_token.ok_or_else(|| {
            UpstreamError::invalid_token(&provider, "the token response has no id_token")
        })?;
        let mut claims = self
            .upstream
            .verify_id_token(&provider, &metadata, &id_token, &pending.nonce)
            .await?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // Profile claims may be only at the userinfo endpoint (Core §5.4): read them there; its
        // `sub` must be the ID token's (§5.3.2).
        if let (Some(endpoint), Some(access)) = (&metadata.userinfo_endpoint, &tokens.access_token)
        {
            let info: Map<String, Value> = self
                .upstream
                .get_json(
                    &provider,
                    "the userinfo request",
                    self.upstream
                        .http(&provider)?
                        .get(endpoint)
                        .bearer_auth(access),
                )
                .await?;
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(UpstreamError::invalid_token(
                    &provider,
                    "userinfo names another subject than the ID token",
                ));
            }
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        let service = self.clone();
        let issuer = provider.issuer.clone();
        let previous = previous_session.map(crate::domain::credentials::digest);
        let signed_in = blocking(move || {
            let user = match service.upstream_account(&provider, &issuer, &subject, &claims) {
                Ok(user) => user,
                Err(e) => return Ok(Err(e)),
            };
            let via = Some(provider.id.clone());
            service.open_session(user, None, previous, via).map(Ok)
        })
        .await??;
        Ok(Finished {
            signed_in,
            next: pending.next,
        })
    }

    /// The account of the person (issuer, `subject`) with these claims: found by that identity
    /// (never by e-mail), created or linked as the provider's provisioning allows, and its
    /// names, e-mail and groups refreshed from the claims.
    fn upstream_account(
        &self,
        provider: &IdentityProvider,
        issuer: &str,
        subject: &str,
        claims: &Map<String, Value>,
    ) -> Result<User, UpstreamError> {
        let _guard = self.lock_writes();
        let link = UpstreamLink {
            provider: provider.id.clone(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        };
        let claimed_name = claims
            .get(&provider.username_claim)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut user = match self.linked_account(provider, &link, &claimed_name, claims)? {
            Some(user) => user,
            None => self.new_upstream_account(provider, &link, &claimed_name)?,
        };
        if user.disabled {
            return Err(UpstreamError::refused(
                "Your account here is disabled. Ask your administrator.",
                format!("user {} is disabled", user.username),
            ));
        }
        let before = (
            user.attributes.clone(),
            user.groups.clone(),
            user.upstream.clone(),
        );
        refresh_from_claims(&mut user, provider, claims);
        user.upstream = Some(link);
        if (
            user.attributes.clone(),
            user.groups.clone(),
            user.upstream.clone(),
        ) != before
        {
            user.updated_at = Utc::now();
            self.save_user(&mut user)?;
        }
        Ok(user)
    }

    /// The account of `link`, if there is one: the account made for it (found by its id, and
    /// still its own only while linked to it), or one an administrator linked — to this very
    /// identity (found by name, or, when the provider renamed the person, by a search), or
    /// pending for this provider with the claimed username and a verified e-mail equal to the
    /// account's.
    fn linked_account(
        &self,
        provider: &IdentityProvider,
        link: &UpstreamLink,
        claimed_name: &str,
        claims: &Map<String, Value>,
    ) -> Result<Option<User>, UpstreamError> {
        if let Some(user) = self
            .store
            .user(&upstream_user_id(&link.issuer, &link.subject))?
        {
            if user.upstream.as_ref() != Some(link) {
                return Err(UpstreamError::refused(
                    format!(
                        "Your account here is no longer linked to {}. Ask your administrator.",
                        provider.name
                    ),
                    format!(
                        "the account {} was made for subject {:?} of {} but is no longer linked to it",
                        user.username, link.subject, provider.id
                    ),
                ));
            }
            return Ok(Some(User::clone(&user)));
        }
        let by_name = match Username::parse(claimed_name) {
            Ok(name) => self.store.user_by_username(name.as_str())?,
            Err(_) => None,
        };
        match by_name {
            Some(user) if user.upstream.as_ref() == Some(link) => return Ok(Some(user)),
            Some(user)
                if user
                    .upstream
                    .as_ref()
                    .is_some_and(|l| l.provider == provider.id && l.is_pending()) =>
            {
                if provider.id == crate::domain::identity::PROXY_PROVIDER
                    || verified_email_matches(&user, claims)
                {
                    return Ok(Some(user));
                }
                return Err(UpstreamError::refused(
                    format!(
                        "Your account here waits to be linked to {}, but that needs your verified e-mail address to be the account's. Ask your administrator.",
                        provider.name
                    ),
                    format!(
                        "the pending link of {} to {} was not completed for subject {:?}: the ID token's e-mail is not verified or not the account's (an administrator can link by subject instead)",
                        user.username, provider.id, link.subject
                    ),
                ));
            }
            _ => {}
        }
        // An account an administrator linked, under a name the provider no longer sends.
        Ok(self
            .store
            .user_by_upstream(&link.issuer, &link.subject)?
            .filter(|u| u.upstream.as_ref() == Some(link)))
    }

    fn new_upstream_account(
        &self,
        provider: &IdentityProvider,
        link: &UpstreamLink,
        claimed_name: &str,
    ) -> Result<User, UpstreamError> {
        if provider.provisioning == Provisioning::Existing {
            return Err(UpstreamError::refused(
                format!(
                    "There is no account here for you yet. Ask your administrator to create one and link it to {}.",
                    provider.name
                ),
                format!(
                    "no account linked to {} (subject {:?}, username claim {claimed_name:?}) and the provider admits only existing accounts",
                    provider.id, link.subject
                ),
            ));
        }
        let username = Username::parse(claimed_name).map_err(|e| {
            UpstreamError::refused(
                format!(
                    "{} names you {claimed_name:?}, which is not a valid username here ({}). Ask your administrator.",
                    provider.name, e.message
                ),
                format!(
                    "the claim {:?} of subject {:?} is not a valid username: {}",
                    provider.username_claim, link.subject, e.message
                ),
            )
        })?;
        if self.store.user_by_username(username.as_str())?.is_some() {
            return Err(UpstreamError::refused(
                format!(
                    "The username {username} is already taken by another account here, which is not linked to {}. Ask your administrator to link it.",
                    provider.name
                ),
                format!(
                    "first sign-in of subject {:?} via {}: the username {username} belongs to an account not linked to it; not merged",
                    link.subject, provider.id
                ),
            ));
        }
        let now = Utc::now();
        let user = User {
            id: upstream_user_id(&link.issuer, &link.subject),
            username,
            password_hash: None,
            attributes: Default::default(),
            groups: Vec::new(),
            admin: false,
            disabled: false,
            created_at: now,
            updated_at: now,
            version: 1,
            upstream: Some(link.clone()),
        };
        self.store.insert_user(&user)?;
        self.audit.record(crate::domain::audit::AuditEvent::admin(
            &format!("{}:{}", provider.id, user.username),
            crate::domain::audit::AuditAction::UserCreate,
            user.username.as_str(),
        ));
        tracing::info!(provider = %provider.id, username = %user.username, "account created at first upstream sign-in");
        Ok(user)
    }
}

/// A person an authenticating proxy vouches for, from its headers.
#[derive(Debug, Clone)]
pub struct ProxyIdentity {
    /// The username header.
    pub username: String,
    /// The e-mail header.
    pub email: Option<String>,
    /// The display-name header.
    pub name: Option<String>,
    /// The groups header, split at commas (absent: groups are managed here).
    pub groups: Option<Vec<String>>,
}

/// The trusted proxy as an identity provider: the issuer its links record.
const PROXY_ISSUER: &str = "trusted-proxy";

impl Service {
    /// The account of the person a trusted proxy vouches for: found by the proxy's username
    /// (or an account an administrator linked to `proxy`), created at first sight, its e-mail,
    /// names and groups refreshed from the headers (blocking: it may write).
    pub fn authenticate_proxy(&self, identity: &ProxyIdentity) -> Result<Arc<User>, AppError> {
        // The proxy's usernames are its subjects: without regard to case, like usernames here.
        let subject = identity.username.to_ascii_lowercase();
        let id = upstream_user_id(PROXY_ISSUER, &subject);
        if let Some(user) = self.store.user(&id)?
            && !user.disabled
            && user.upstream.as_ref().is_some_and(|l| {
                l.provider == crate::domain::identity::PROXY_PROVIDER && l.subject == subject
            })
            && proxy_fresh(&user, identity)
        {
            return Ok(user);
        }
        let provider = IdentityProvider {
            id: crate::domain::identity::PROXY_PROVIDER.into(),
            name: "the trusted proxy".into(),
            issuer: PROXY_ISSUER.into(),
            client_id: String::new(),
            client_secret: Default::default(),
            scopes: Vec::new(),
            username_claim: "preferred_username".into(),
            groups_claim: identity.groups.as_ref().map(|_| "groups".to_owned()),
            groups_allowed: Vec::new(),
            groups_prefix: String::new(),
            provisioning: Provisioning::Create,
            end_upstream_session: false,
        };
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(identity.username.clone()));
        claims.insert(
            "preferred_username".into(),
            Value::from(identity.username.clone()),
        );
        if let Some(email) = &identity.email {
            claims.insert("email".into(), Value::from(email.clone()));
        }
        if let Some(name) = &identity.name {
            let (first, last) = name.rsplit_once(' ').unwrap_or((name, ""));
            claims.insert("given_name".into(), Value::from(first.trim()));
            if !last.is_empty() {
                claims.insert("family_name".into(), Value::from(last));
            }
        }
        if let Some(groups) = &identity.groups {
            claims.insert("groups".into(), Value::from(groups.clone()));
        }
        claims.insert("sub".into(), Value::from(subject.clone()));
        self.upstream_account(&provider, PROXY_ISSUER, &subject, &claims)
            .map(Arc::new)
            .map_err(|e| {
                if e.status >= 500 {
                    AppError::Unexpected(e.reason)
                } else {
                    AppError::Forbidden(format!("trusted proxy: {}", e.reason))
                }
            })
    }

    /// A session for the person a trusted proxy vouches for (the admin pages need one).
    pub fn proxy_sign_in(
        &self,
        identity: &ProxyIdentity,
        previous_session: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        let user = self.authenticate_proxy(identity)?;
        self.open_session(
            User::clone(&user),
            None,
            previous_session.map(crate::domain::credentials::digest),
            None,
        )
    }
}

/// Whether the stored account already says what the proxy's headers say (no write needed).
fn proxy_fresh(user: &User, identity: &ProxyIdentity) -> bool {
    let attr = |k: &str| user.attributes.get(k).map(String::as_str);
    identity
        .email
        .as_deref()
        .is_none_or(|e| attr("email") == Some(e))
        && identity.name.as_deref().is_none_or(|n| {
            let (first, last) = n.rsplit_once(' ').unwrap_or((n, ""));
            attr("first_name") == Some(first.trim())
                && (last.is_empty() || attr("last_name") == Some(last))
        })
        && identity.groups.as_ref().is_none_or(|g| {
            let mut g: Vec<String> = g
                .iter()
                .filter(|g| crate::domain::user::validate_group_name(g).is_ok())
                .cloned()
                .collect();
            g.sort();
            g.dedup();
            g == user.groups
        })
}

/// `client_secret_basic` form-encodes the id and secret before Basic (RFC 6749 §2.3.1).
fn form_encode(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    utf8_percent_encode(s, FORM).to_string().replace("%20", "+")
}

/// Whether the claims carry a verified e-mail equal (without regard to case) to the account's.
fn verified_email_matches(user: &User, claims: &Map<String, Value>) -> bool {
    let verified = claims.get("email_verified").and_then(Value::as_bool) == Some(true);
    let email = claims.get("email").and_then(Value::as_str);
    verified
        && email.is_some_and(|e| {
            user.attributes
                .get("email")
                .is_some_and(|mine| !mine.is_empty() && mine.eq_ignore_ascii_case(e))
        })
}

/// Names, e-mail and (when the provider names a groups claim) groups from the claims.
fn refresh_from_claims(user: &mut User, provider: &IdentityProvider, claims: &Map<String, Value>) {
    // An e-mail the provider says it did not verify is not passed on to consumers.
    let unverified = claims.get("email_verified").and_then(Value::as_bool) == Some(false);
    for (claim, attribute) in [
        ("given_name", "first_name"),
        ("family_name", "last_name"),
        ("email", "email"),
    ] {
        if claim == "email" && unverified {
            continue;
        }
        if let Some(v) = claims.get(claim).and_then(Value::as_str)
            && v.len() <= 1024
            && !v.chars().any(char::is_control)
        {
            user.attributes.insert(attribute.to_owned(), v.to_owned());
        }
    }
    if let Some(claim) = &provider.groups_claim {
        let upstream: Vec<String> = match claims.get(claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        user.groups = map_groups(provider, &upstream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn client_credentials_are_form_encoded_for_basic() {
        assert_eq!(form_encode("a b+c:d"), "a+b%2Bc%3Ad");
    }
}
