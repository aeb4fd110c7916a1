//! Upstream sign-in with OpenID Connect: this server is the relying party. The authorization
//! code flow with PKCE (S256), `state` and `nonce`; the ID token checked as OpenID Connect Core
//! §3.1.3.7 and RFC 8725 ask (signature against the provider's JWKS, refreshed on an unknown
//! `kid`; only the asymmetric algorithms the provider advertises; `iss`, `aud`/`azp`, `exp`/`iat`
//! with a minute's leeway, `nonce`); the person's account found by (issuer, `sub`).
//!
//! The pending sign-in (state, nonce, PKCE verifier, where to go next) travels in a cookie sealed
//! with a key derived from the master key, so any instance can finish what another started; the
//! `state` is also recorded as used in the shared store, so a callback works once, anywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::blocking::blocking;
use super::state::Service;
use super::views::SignedIn;
use crate::domain::identity::{
    IdentityProvider, Provisioning, SignInSettings, UpstreamLink, map_groups, upstream_user_id,
};
use crate::domain::user::{User, Username};
use crate::error::AppError;
use crate::ids::random_token;
use crate::store::sealing::SealingKey;

/// A sign-in must come back from the provider within this time.
const PENDING_SECONDS: i64 = 600;
/// Clock leeway for `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 60;
/// Discovery documents are read again after this long.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` fetches the JWKS again, at most this often per provider.
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(5);
/// Every request to a provider gives up after this long.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses from a provider larger than this are refused.
const MAX_PROVIDER_RESPONSE: usize = 512 * 1024;
/// The ID token algorithms this relying party accepts (when the provider advertises them):
/// asymmetric only, so a public key can never be used as an HMAC secret.
const ACCEPTED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The cookie that carries a pending sign-in between `/login/oidc/{id}` and its callback.
pub const PENDING_COOKIE: &str = "jas_oidc";

/// Why an upstream sign-in failed: what the person is told, and the precise reason for the
/// operator's log (neither ever holds a token, code or secret).
#[derive(Debug)]
pub struct UpstreamError {
    /// HTTP status of the page.
    pub status: u16,
    /// For the person, on the sign-in page.
    pub person: String,
    /// For the log.
    pub reason: String,
}

impl UpstreamError {
    fn refused(person: impl Into<String>, reason: impl Into<String>) -> Self {
        UpstreamError {
            status: 403,
            person: person.into(),
            reason: reason.into(),
        }
    }

    fn provider_down(provider: &IdentityProvider, reason: impl Into<String>) -> Self {
        UpstreamError {
            status: 502,
            person: format!(
                "{} cannot be reached right now, so sign-in with it is not possible. Try again later.",
                provider.name
            ),
            reason: reason.into(),
        }
    }

    fn invalid_token(provider: &IdentityProvider, reason: impl Into<String>) -> Self {
        UpstreamError::refused(
            format!(
                "The sign-in with {} could not be verified, so it was refused. Try again; if it keeps failing, tell your administrator (the server log says why).",
                provider.name
            ),
            reason,
        )
    }

    fn from_app(e: AppError) -> Self {
        let status = e.status().as_u16();
        let person = match &e {
            AppError::Unavailable(_) => {
                "Sign-in is unavailable for a moment (the server cannot reach its database). Try again shortly."
                    .to_owned()
            }
            AppError::NotFound => "There is no such sign-in provider.".to_owned(),
            _ => "Sign-in failed because of an error on this server. Try again later.".to_owned(),
        };
        UpstreamError {
            status,
            person,
            reason: e.to_string(),
        }
    }
}

impl From<crate::store::StoreError> for UpstreamError {
    fn from(e: crate::store::StoreError) -> Self {
        UpstreamError::from_app(e.into())
    }
}

impl From<AppError> for UpstreamError {
    fn from(e: AppError) -> Self {
        UpstreamError::from_app(e)
    }
}

/// What a provider's discovery document says (the fields this relying party uses).
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

struct Discovered {
    metadata: Arc<ProviderMetadata>,
    at: Instant,
}

struct Keys {
    set: Arc<jsonwebtoken::jwk::JwkSet>,
    /// When an unknown `kid` last made us fetch the set again.
    refreshed: Option<Instant>,
}

/// The relying party's state: an HTTP client, the key that seals pending sign-ins, and what
/// was learnt from each provider (discovery, keys).
pub struct Upstream {
    http: reqwest::Client,
    pending_key: SealingKey,
    discovered: Mutex<HashMap<String, Discovered>>,
    keys: Mutex<HashMap<String, Keys>>,
}

impl Upstream {
    /// A relying party sealing its pending sign-ins with `key` (derived from the master key,
    /// the same on every instance).
    pub fn new(key: SealingKey) -> Result<Upstream, String> {
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jwt-asset-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Upstream {
            http,
            pending_key: key.derive(b"jwt-asset-server pending upstream sign-in"),
            discovered: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        provider: &IdentityProvider,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, UpstreamError> {
        let response = request.send().await.map_err(|e| {
            UpstreamError::provider_down(provider, format!("{what}: {}", without_url(&e)))
        })?;
        let status = response.status();
        let body = read_limited(response).await.map_err(|e| {
            UpstreamError::provider_down(provider, format!("{what}: reading the answer: {e}"))
        })?;
        if !status.is_success() {
            // An OAuth error answer names its `error` (never a secret): worth logging.
            let error = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let reason = format!("{what}: the provider answered {status} {error}");
            return Err(if status.is_server_error() {
                UpstreamError::provider_down(provider, reason)
            } else {
                UpstreamError::invalid_token(provider, reason)
            });
        }
        serde_json::from_slice(&body).map_err(|e| {
            UpstreamError::provider_down(provider, format!("{what}: not the expected JSON: {e}"))
        })
    }

    /// The provider's discovery document (cached for an hour); its `issuer` must be the one
    /// configured, exactly (OpenID Connect Discovery §4.3).
    async fn metadata(
        &self,
        provider: &IdentityProvider,
    ) -> Result<Arc<ProviderMetadata>, UpstreamError> {
        if let Some(d) = lock(&self.discovered).get(&provider.issuer)
            && d.at.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", provider.issuer);
        let metadata: ProviderMetadata = self
            .get_json(provider, "discovery", self.http.get(&url))
            .await?;
        if metadata.issuer != provider.issuer {
            return Err(UpstreamError::provider_down(
                provider,
                format!(
                    "discovery at {url} names the issuer {:?}, not the configured {:?}",
                    metadata.issuer, provider.issuer
                ),
            ));
        }
        let metadata = Arc::new(metadata);
        lock(&self.discovered).insert(
            provider.issuer.clone(),
            Discovered {
                metadata: metadata.clone(),
                at: Instant::now(),
            },
        );
        Ok(metadata)
    }

    /// The provider's signing keys; `refresh` fetches them again (an unknown `kid`: the
    /// provider rotated), though not more often than every few seconds (tokens with made-up
    /// `kid`s cannot make us hammer the provider).
    async fn key_set(
        &self,
        provider: &IdentityProvider,
        metadata: &ProviderMetadata,
        refresh: bool,
    ) -> Result<Arc<jsonwebtoken::jwk::JwkSet>, UpstreamError> {
        if let Some(k) = lock(&self.keys).get(&metadata.jwks_uri)
            && (!refresh
                || k.refreshed
                    .is_some_and(|t| t.elapsed() < JWKS_REFETCH_AFTER))
        {
            return Ok(k.set.clone());
        }
        let set: jsonwebtoken::jwk::JwkSet = self
            .get_json(provider, "the JWKS", self.http.get(&metadata.jwks_uri))
            .await?;
        let set = Arc::new(set);
        lock(&self.keys).insert(
            metadata.jwks_uri.clone(),
            Keys {
                set: set.clone(),
                refreshed: refresh.then(Instant::now),
            },
        );
        Ok(set)
    }

    /// Check an ID token; its claims when every check passes.
    async fn verify_id_token(
        &self,
        provider: &IdentityProvider,
        metadata: &ProviderMetadata,
        token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let bad = |why: String| UpstreamError::invalid_token(provider, format!("ID token: {why}"));
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| bad(format!("unreadable header: {e}")))?;
        let alg = format!("{:?}", header.alg);
        let advertised: Vec<&str> = if metadata.id_token_signing_alg_values_supported.is_empty() {
            vec!["RS256"]
        } else {
            metadata
                .id_token_signing_alg_values_supported
                .iter()
                .map(String::as_str)
                .collect()
        };
        if !ACCEPTED_ALGORITHMS.contains(&alg.as_str()) || !advertised.contains(&alg.as_str()) {
            return Err(bad(format!(
                "signed with {alg}, which is not an asymmetric algorithm the provider advertises ({})",
                advertised.join(", ")
            )));
        }
        let find = |set: &jsonwebtoken::jwk::JwkSet| match &header.kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let mut jwk = find(&*self.key_set(provider, metadata, false).await?);
        if jwk.is_none() {
            jwk = find(&*self.key_set(provider, metadata, true).await?);
        }
        let jwk = jwk.ok_or_else(|| {
            bad(format!(
                "no key {:?} in the provider's JWKS (even after fetching it again)",
                header.kid.as_deref().unwrap_or("(none)")
            ))
        })?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
            .map_err(|e| bad(format!("the provider's key cannot be used: {e}")))?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_issuer(&[&provider.issuer]);
        validation.set_audience(&[&provider.client_id]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| bad(format!("refused: {e}")))?
            .claims;
        let now = Utc::now().timestamp();
        match claims.get("iat").and_then(Value::as_i64) {
            Some(iat) if iat <= now + LEEWAY_SECONDS as i64 => {}
            _ => return Err(bad("`iat` is missing or in the future".into())),
        }
        // With several audiences the authorized party must be named, and be us (Core §3.1.3.7).
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1);
        match claims.get("azp").and_then(Value::as_str) {
            Some(azp) if azp != provider.client_id => {
                return Err(bad(format!("issued to another party (azp {azp:?})")));
            }
            None if several => return Err(bad("several audiences and no `azp`".into())),
            _ => {}
        }
        let given = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            nonce.as_bytes(),
        )) {
            return Err(bad("the nonce is not the one this sign-in sent".into()));
        }
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(claims),
            _ => Err(bad(
                "`sub` is missing, empty or longer than 255 characters".into()
            )),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A request error without the URL (a URL may carry a code or state).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({detail})")
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
        if body.len() + chunk.len() > MAX_PROVIDER_RESPONSE {
            return Err(format!("larger than {MAX_PROVIDER_RESPONSE} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A sign-in on its way through the provider, as the pending cookie carries it (sealed).
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    next: Option<String>,
    at: i64,
}

const PENDING_CONTEXT: &[u8] = b"jwt-asset-server pending sign-in";

/// Where to send the browser to start a sign-in, and the pending cookie's value.
pub struct Started {
    /// The provider's authorization URL.
    pub location: String,
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

    /// The providers' ids and button labels, for the sign-in page.
    pub async fn sign_in_buttons(self: &Arc<Self>) -> Vec<(String, String)> {
        let service = self.clone();
        blocking(move || service.sign_in_settings())
            .await
            .map(|s| {
                s.providers
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect::<Vec<_>>()
            })
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
            cookie: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Finish a sign-in with provider `id`: check the callback against the pending cookie,
    /// exchange the code, verify the ID token, find or create the account, open a session.
    pub async fn finish_upstream_sign_in(
        self: &Arc<Self>,
        id: &str,
        redirect_uri: &str,
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
            ("redirect_uri", redirect_uri),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let tokens: TokenResponse = self
            .upstream
            .get_json(
                &provider,
                "the token request",
                self.upstream
                    .http
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
                    self.upstream.http.get(endpoint).bearer_auth(access),
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
            service.open_session(user, None, previous).map(Ok)
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
        let found = match self.store.user(&upstream_user_id(issuer, subject))? {
            Some(user) => Some(User::clone(&user)),
            None => match Username::parse(&claimed_name) {
                Ok(name) => self.store.user_by_username(name.as_str())?.filter(|u| {
                    u.upstream.as_ref().is_some_and(|l| {
                        *l == link || (l.provider == provider.id && l.is_pending())
                    })
                }),
                Err(_) => None,
            },
        };
        let mut user = match found {
            Some(user) => {
                if user
                    .upstream
                    .as_ref()
                    .is_some_and(|l| !l.is_pending() && *l != link)
                {
                    return Err(UpstreamError::refused(
                        "Your account here is linked to another identity. Ask your administrator.",
                        format!(
                            "the account {} is linked to another upstream identity",
                            user.username
                        ),
                    ));
                }
                user
            }
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

/// `client_secret_basic` form-encodes the id and secret before Basic (RFC 6749 §2.3.1).
fn form_encode(s: &str) -> String {
    url_form(s)
}

fn url_form(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    utf8_percent_encode(s, FORM).to_string().replace("%20", "+")
}

/// Names, e-mail and (when the provider names a groups claim) groups from the claims.
fn refresh_from_claims(user: &mut User, provider: &IdentityProvider, claims: &Map<String, Value>) {
    for (claim, attribute) in [
        ("given_name", "first_name"),
        ("family_name", "last_name"),
        ("email", "email"),
    ] {
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
        assert_eq!(url_form("a b+c:d"), "a+b%2Bc%3Ad");
    }
}
