//! Who is asking: the one place that reads a Bearer API key or a session cookie off a request.
//! Handlers ask for a [`Requester`] (anyone signed in) instead of reading headers themselves.

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::domain::credentials::{Grant, SESSION_COOKIE, Scope, Session};
use crate::domain::user::User;
use crate::error::AppError;
use crate::service::Service;
pub use crate::service::upstream::ProxyIdentity;

/// The credential a request carries, before it is checked.
pub enum Credential<'r> {
    /// `Authorization: Bearer <key>` (present means used: no fallback to the cookie); borrowed
    /// from the request unless it must outlive it.
    ApiKey(Cow<'r, str>),
    /// The session cookie's value.
    Session(String),
}

impl<'r> Credential<'r> {
    /// The request's credential: the `Authorization` header when present, else the session
    /// cookie. A non-Bearer `Authorization` is refused rather than ignored, and so is more than one
    /// `Authorization` header (which one counts would be a guess).
    pub fn of(req: &'r HttpRequest) -> Result<Credential<'r>, AppError> {
        let mut authorization = req.headers().get_all(header::AUTHORIZATION);
        let first = authorization.next();
        if authorization.next().is_some() {
            return Err(AppError::Forbidden(
                "more than one Authorization header".into(),
            ));
        }
        if let Some(value) = first {
            return bearer_key(value.as_bytes())
                .map(|key| Credential::ApiKey(Cow::Borrowed(key)))
                .ok_or_else(|| {
                    AppError::Forbidden("Authorization is not a Bearer API key".into())
                });
        }
        session_cookie(req)
            .map(Credential::Session)
            .ok_or_else(|| AppError::Forbidden("not signed in".into()))
    }

    /// The same credential, owning its text (to check it on another thread).
    pub fn into_owned(self) -> Credential<'static> {
        match self {
            Credential::ApiKey(key) => Credential::ApiKey(Cow::Owned(key.into_owned())),
            Credential::Session(id) => Credential::Session(id),
        }
    }
}

/// The API key in an `Authorization` header value: the text after `Bearer ` (that exact, case
/// sensitive prefix), trimmed; `None` for any other value. A value with a byte that is not
/// visible ASCII or a tab is refused, as `HeaderValue::to_str` refuses it. Pure, so it can be
/// fuzzed without a request.
pub fn bearer_key(value: &[u8]) -> Option<&str> {
    if !value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    let value = std::str::from_utf8(value).ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

/// Trusted-proxy sign-in: which peers may vouch for a person, and in which headers.
#[derive(Debug, Clone)]
pub struct ProxyAuth {
    /// Whether identity headers are read at all.
    pub enabled: bool,
    /// The proxies' addresses.
    pub trusted: Vec<ipnet::IpNet>,
    /// Header names: the username, e-mail, display name, groups (parsed once at start: every
    /// token request looks for the first).
    pub user_header: header::HeaderName,
    /// See `user_header`.
    pub email_header: header::HeaderName,
    /// See `user_header`.
    pub name_header: header::HeaderName,
    /// See `user_header`.
    pub groups_header: header::HeaderName,
}

impl ProxyAuth {
    /// The settings as the requests use them; an invalid header name is refused.
    pub fn new(
        enabled: bool,
        trusted: Vec<ipnet::IpNet>,
        [user, email, name, groups]: [&str; 4],
    ) -> Result<ProxyAuth, String> {
        let parse = |h: &str| {
            header::HeaderName::from_bytes(h.trim().as_bytes())
                .map_err(|_| format!("{h:?} is not an HTTP header name"))
        };
        Ok(ProxyAuth {
            enabled,
            trusted,
            user_header: parse(user)?,
            email_header: parse(email)?,
            name_header: parse(name)?,
            groups_header: parse(groups)?,
        })
    }
}

/// The person a trusted proxy vouches for on this request: `None` when the proxy mode is off, the
/// request carries no identity header, or comes from anywhere but a trusted proxy (then the
/// headers are ignored, and the attempt logged).
pub fn proxy_identity(req: &HttpRequest) -> Option<ProxyIdentity> {
    let auth = req.app_data::<actix_web::web::Data<ProxyAuth>>()?;
    let header = |name: &header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let username = header(&auth.user_header)?;
    // An IPv4 peer of a dual-stack listener shows as ::ffff:a.b.c.d: matched as IPv4.
    let peer = req.peer_addr().map(|a| a.ip().to_canonical());
    let trusted =
        auth.enabled && peer.is_some_and(|ip| auth.trusted.iter().any(|range| range.contains(&ip)));
    if !trusted {
        if auth.enabled {
            tracing::warn!(
                peer = ?peer,
                header = %auth.user_header,
                "identity header ignored: not from a trusted proxy"
            );
        } else {
            tracing::debug!(peer = ?peer, "identity header ignored: --proxy-auth is off");
        }
        return None;
    }
    Some(ProxyIdentity {
        username,
        email: header(&auth.email_header),
        name: header(&auth.name_header),
        groups: header(&auth.groups_header).map(|g| {
            g.split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        }),
    })
}

/// A signed-in requester: the user, and their session when they came with the cookie.
pub struct Requester {
    /// The user.
    pub user: Arc<User>,
    /// The session, for cookie requests (its CSRF token guards state-changing calls).
    pub session: Option<Arc<Session>>,
    /// What this credential may do: an API key's scopes and expiry; everything for a person.
    pub grant: Grant,
}

impl Requester {
    /// `Forbidden` unless the credential carries `scope` (only API keys can lack one).
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.grant.scopes.contains(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "the API key does not have the {} scope",
                scope.as_str()
            )))
        }
    }

    /// [`Requester::authenticate`] from async code: from the caches on this worker, or, when a
    /// record must be read from a shared database, on a blocking thread.
    pub async fn authenticate_off_worker(
        req: &HttpRequest,
        service: &Arc<Service>,
    ) -> Result<Requester, AppError> {
        // A person an authenticating proxy vouches for (unless an API key is given): on a
        // blocking thread, as their account may be created or refreshed.
        if req.headers().get(header::AUTHORIZATION).is_none()
            && let Some(identity) = proxy_identity(req)
        {
            let service = service.clone();
            return crate::service::blocking(move || {
                Ok(Requester {
                    user: service.authenticate_proxy(&identity)?,
                    session: None,
                    grant: Grant::PERSON,
                })
            })
            .await;
        }
        if let Some(answer) =
            crate::store::without_waiting(|| Requester::authenticate(req, service))
        {
            return answer;
        }
        let credential = Credential::of(req)?.into_owned();
        let service = service.clone();
        crate::service::blocking(move || Requester::check(credential, &service)).await
    }

    /// Check the request's credential against the service.
    pub fn authenticate(req: &HttpRequest, service: &Service) -> Result<Requester, AppError> {
        Requester::check(Credential::of(req)?, service)
    }

    /// Check a credential against the service.
    fn check(credential: Credential<'_>, service: &Service) -> Result<Requester, AppError> {
        match credential {
            Credential::ApiKey(key) => {
                let (user, grant) = service.authenticate_api_key(&key)?;
                Ok(Requester {
                    user,
                    session: None,
                    grant,
                })
            }
            Credential::Session(id) => {
                let (user, session) = service.authenticate_session(&id)?;
                Ok(Requester {
                    user,
                    session: Some(session),
                    grant: Grant::PERSON,
                })
            }
        }
    }
}

/// The session cookie's value, when the request carries one (pages and sign-in read only this).
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::bearer_key;

    #[test]
    fn a_bearer_key_is_the_trimmed_text_after_the_exact_prefix() {
        assert_eq!(bearer_key(b"Bearer jas_abc"), Some("jas_abc"));
        assert_eq!(bearer_key(b"Bearer \t jas_abc  "), Some("jas_abc"));
        assert_eq!(bearer_key(b"Bearer "), Some(""));
        for refused in [
            &b"bearer jas_abc"[..],
            b"Basic YWxpY2U6c2VjcmV0",
            b"Bearerjas_abc",
            b"Bearer jas_\xc3\xa9",
            b"Bearer jas\x7f",
            b"Bearer jas\n",
            b"",
        ] {
            assert_eq!(bearer_key(refused), None, "{refused:?}");
        }
    }
}
