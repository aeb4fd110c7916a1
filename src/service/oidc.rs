//! The OpenID Connect relying party's mechanics: discovery, the provider's keys, checking an ID
//! token, talking to the provider. The sign-in flow that uses them is in `upstream`.
//!
//! This server is the relying party. The authorization
//! code flow with PKCE (S256), `state` and `nonce`; the ID token checked as OpenID Connect Core
//! §3.1.3.7 and RFC 8725 ask (signature against the provider's JWKS, refreshed on an unknown
//! `kid`; only the asymmetric algorithms the provider advertises; `iss`, `aud`/`azp`, `exp`/`iat`
//! with a minute's leeway, `nonce`); the person's account found by (issuer, `sub`).
//!
//! The pending sign-in (state, nonce, PKCE verifier, where to go next) travels in a cookie sealed
//! with a key derived from the master key, so any instance can finish what another started; the
//! `state` is also recorded as used in the shared store, so a callback works once, anywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::identity::IdentityProvider;
use crate::error::AppError;
use crate::store::sealing::SealingKey;

/// A sign-in must come back from the provider within this time.
pub(super) const PENDING_SECONDS: i64 = 600;
/// Clock leeway for `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 60;
/// Discovery documents are read again after this long.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, the provider is not asked again for this long.
const DISCOVERY_RETRY_AFTER: Duration = Duration::from_secs(3);
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
    pub(super) fn refused(person: impl Into<String>, reason: impl Into<String>) -> Self {
        UpstreamError {
            status: 403,
            person: person.into(),
            reason: reason.into(),
        }
    }

    pub(super) fn provider_down(provider: &IdentityProvider, reason: impl Into<String>) -> Self {
        UpstreamError {
            status: 502,
            person: format!(
                "{} cannot be reached right now, so sign-in with it is not possible. Try again later.",
                provider.name
            ),
            reason: reason.into(),
        }
    }

    pub(super) fn invalid_token(provider: &IdentityProvider, reason: impl Into<String>) -> Self {
        UpstreamError::refused(
            format!(
                "The sign-in with {} could not be verified, so it was refused. Try again; if it keeps failing, tell your administrator (the server log says why).",
                provider.name
            ),
            reason,
        )
    }

    pub(super) fn from_app(e: AppError) -> Self {
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
    pub(super) issuer: String,
    pub(super) authorization_endpoint: String,
    pub(super) token_endpoint: String,
    pub(super) jwks_uri: String,
    #[serde(default)]
    pub(super) userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub(super) end_session_endpoint: Option<String>,
    #[serde(default)]
    pub(super) id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub(super) code_challenge_methods_supported: Vec<String>,
}

struct Discovered {
    metadata: Arc<ProviderMetadata>,
    at: Instant,
}

struct Keys {
    set: Arc<jsonwebtoken::jwk::JwkSet>,
    /// When the set was fetched (it is fetched again after [`DISCOVERY_TTL`], so a key the
    /// provider withdrew stops being trusted).
    at: Instant,
    /// When an unknown `kid` last made us fetch the set again.
    refreshed: Option<Instant>,
}

/// The relying party's state: an HTTP client, the key that seals pending sign-ins, and what
/// was learnt from each provider (discovery, keys).
pub struct Upstream {
    http: OnceLock<Result<reqwest::Client, String>>,
    pub(super) pending_key: SealingKey,
    discovered: Mutex<HashMap<String, Discovered>>,
    keys: Mutex<HashMap<String, Keys>>,
    /// When discovery last failed, by issuer.
    failed: Mutex<HashMap<String, Instant>>,
}

impl Upstream {
    /// A relying party sealing its pending sign-ins with `key` (derived from the master key,
    /// the same on every instance).
    pub fn new(key: SealingKey) -> Upstream {
        Upstream {
            http: OnceLock::new(),
            pending_key: key.derive(b"jwt-asset-server pending upstream sign-in"),
            discovered: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client for providers, built at its first use: its TLS setup reads every CA
    /// certificate of the system, which a server without identity providers never needs (it
    /// was a sixth of the start-up, and its memory stayed).
    pub(super) fn http(
        &self,
        provider: &IdentityProvider,
    ) -> Result<&reqwest::Client, UpstreamError> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(PROVIDER_TIMEOUT)
                    .connect_timeout(Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("jwt-asset-server/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| UpstreamError::provider_down(provider, e.clone()))
    }

    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
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
            let error: String = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("error")
                        .and_then(Value::as_str)
                        .map(|e| e.chars().filter(char::is_ascii_graphic).take(64).collect())
                })
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
    pub(super) async fn metadata(
        &self,
        provider: &IdentityProvider,
    ) -> Result<Arc<ProviderMetadata>, UpstreamError> {
        if let Some(d) = lock(&self.discovered).get(&provider.issuer)
            && d.at.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.metadata.clone());
        }
        // A provider that just failed is not asked again for a few seconds: people clicking its
        // button while it is down get the page at once, and it is not flooded.
        if lock(&self.failed)
            .get(&provider.issuer)
            .is_some_and(|t| t.elapsed() < DISCOVERY_RETRY_AFTER)
        {
            return Err(UpstreamError::provider_down(
                provider,
                "discovery failed moments ago; not asked again yet",
            ));
        }
        let found = self.discover(provider).await;
        let mut failed = lock(&self.failed);
        match &found {
            Ok(_) => failed.remove(&provider.issuer),
            Err(_) => failed.insert(provider.issuer.clone(), Instant::now()),
        };
        found
    }

    async fn discover(
        &self,
        provider: &IdentityProvider,
    ) -> Result<Arc<ProviderMetadata>, UpstreamError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let metadata: ProviderMetadata = self
            .get_json(provider, "discovery", self.http(provider)?.get(&url))
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
        let endpoints = [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            Some(&metadata.jwks_uri),
            metadata.userinfo_endpoint.as_ref(),
            metadata.end_session_endpoint.as_ref(),
        ];
        for endpoint in endpoints.into_iter().flatten() {
            if let Err(why) = crate::domain::identity::check_endpoint(endpoint) {
                return Err(UpstreamError::provider_down(
                    provider,
                    format!("discovery names the endpoint {endpoint:?}, which {why}"),
                ));
            }
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
            && k.at.elapsed() < DISCOVERY_TTL
            && (!refresh
                || k.refreshed
                    .is_some_and(|t| t.elapsed() < JWKS_REFETCH_AFTER))
        {
            return Ok(k.set.clone());
        }
        // Keys this relying party cannot read (another key type, a curve for encryption) are
        // skipped, not a reason to refuse every sign-in.
        #[derive(Deserialize)]
        struct AnyKeys {
            keys: Vec<Value>,
        }
        let any: AnyKeys = self
            .get_json(
                provider,
                "the JWKS",
                self.http(provider)?.get(&metadata.jwks_uri),
            )
            .await?;
        let set = Arc::new(jsonwebtoken::jwk::JwkSet {
            keys: any
                .keys
                .into_iter()
                .filter_map(|k| serde_json::from_value(k).ok())
                .collect(),
        });
        lock(&self.keys).insert(
            metadata.jwks_uri.clone(),
            Keys {
                set: set.clone(),
                at: Instant::now(),
                refreshed: refresh.then(Instant::now),
            },
        );
        Ok(set)
    }

    /// Check an ID token; its claims when every check passes.
    pub(super) async fn verify_id_token(
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
