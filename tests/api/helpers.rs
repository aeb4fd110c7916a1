//! `spawn_app()` and request helpers named after routes.

#![allow(dead_code)]

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jwt_asset_server::secret::SecretString;
use jwt_asset_server::{Application, Settings};
use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

/// The bootstrap administrator's password in every test server.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running server with an administrator API key.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Client with redirects off and no cookie jar (cookies are sent explicitly).
    pub client: reqwest::Client,
    /// An API key of the `admin` user.
    pub admin_key: String,
    /// The data directory (kept alive for the test's duration).
    pub data_dir: Option<tempfile::TempDir>,
    /// Its path.
    pub data_path: PathBuf,
    handle: actix_web::dev::ServerHandle,
    join: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Start a server on a fresh temporary data directory.
pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    // The master key file goes beside the data directory, inside the temporary directory.
    let path = dir.path().join("data");
    let mut app = spawn_app_on(path).await;
    app.data_dir = Some(dir);
    app
}

/// Start a server on an existing data directory (restart tests).
pub async fn spawn_app_on(data_path: PathBuf) -> TestApp {
    spawn_app_configured(data_path, |_| {}).await
}

/// Start a server on a fresh temporary data directory with some settings changed.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = spawn_app_configured(dir.path().join("data"), configure).await;
    app.data_dir = Some(dir);
    app
}

async fn spawn_app_configured(
    data_path: PathBuf,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::for_data_dir(&data_path);
    settings.admin_password = Some(SecretString::new(ADMIN_PASSWORD.into()));
    configure(&mut settings);
    let app = Application::build(settings).expect("the server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut test_app = TestApp {
        address,
        client,
        admin_key: String::new(),
        data_dir: None,
        data_path,
        handle,
        join: Some(join),
    };
    let session = test_app
        .login_session("admin", ADMIN_PASSWORD)
        .await
        .expect("admin signs in");
    let csrf = test_app.csrf_token(&session).await;
    let res = test_app
        .client
        .post(test_app.url("/api/v1/users/admin/api-keys"))
        .header(header::COOKIE, format!("jas_session={session}"))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({"scopes": ["tokens", "admin:read", "admin:write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    test_app.admin_key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    test_app
}

impl TestApp {
    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Stop the server gracefully and wait until it has flushed and released the store.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.handle.stop(true).await;
        if let Some(j) = self.join.take() {
            j.await.unwrap().unwrap();
        }
        self.data_dir.take()
    }

    /// The server has stopped (by itself).
    pub fn has_stopped(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Wait (at most `within`) for the server to stop by itself; what `run_until_stopped` gave.
    pub async fn stopped_by_itself(mut self, within: std::time::Duration) -> std::io::Result<()> {
        let join = self.join.take().expect("running");
        match tokio::time::timeout(within, join).await {
            Ok(result) => result.unwrap(),
            Err(_) => panic!("the server did not stop within {within:?}"),
        }
    }

    /// `POST /login`; the raw response.
    pub async fn post_login(
        &self,
        username: &str,
        password: &str,
        cookie: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .post(self.url("/login"))
            .form(&[("username", username), ("password", password)]);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, format!("jas_session={c}"));
        }
        req.send().await.unwrap()
    }

    /// Sign in and return the session id from `Set-Cookie`, or `None` if refused.
    pub async fn login_session(&self, username: &str, password: &str) -> Option<String> {
        let res = self.post_login(username, password, None).await;
        session_cookie(&res)
    }

    /// `POST /logout` with a session.
    pub async fn post_logout(&self, session: &str) -> Response {
        self.client
            .post(self.url("/logout"))
            .header(header::COOKIE, format!("jas_session={session}"))
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of a session (`GET /api/v1/session`).
    pub async fn csrf_token(&self, session: &str) -> String {
        let res = self
            .client
            .get(self.url("/api/v1/session"))
            .header(header::COOKIE, format!("jas_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An admin API request with a JSON body (or none).
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// `POST /api/v1/users`; asserts 201.
    pub async fn create_user(&self, body: Value) -> Value {
        let res = self
            .api(reqwest::Method::POST, "/api/v1/users", Some(body))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        res.json().await.unwrap()
    }

    /// `POST /api/v1/users/{user}/api-keys` with every scope (what every key could do before
    /// scopes; `tests/api/scopes.rs` checks each scope alone); the key.
    pub async fn create_api_key(&self, username: &str) -> String {
        let res = self
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/users/{username}/api-keys"),
                Some(serde_json::json!({"scopes": ["tokens", "admin:read", "admin:write"]})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST /api/v1/assets`; the raw response.
    pub async fn post_asset(&self, body: Value) -> Response {
        self.api(reqwest::Method::POST, "/api/v1/assets", Some(body))
            .await
    }

    /// `POST /api/v1/assets`; asserts 201, returns the saved asset JSON.
    pub async fn create_asset(&self, body: Value) -> Value {
        let res = self.post_asset(body).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        res.json().await.unwrap()
    }

    /// `GET {path}` with a Bearer API key.
    pub async fn get_token(&self, path: &str, api_key: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(api_key)
            .send()
            .await
            .unwrap()
    }

    /// `GET {path}` with a session cookie.
    pub async fn get_token_with_session(&self, path: &str, session: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(header::COOKIE, format!("jas_session={session}"))
            .send()
            .await
            .unwrap()
    }
}

/// The session id a response sets, if any.
pub fn session_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let rest = v.strip_prefix("jas_session=")?;
            let value = rest.split(';').next()?;
            (!value.is_empty()).then(|| value.to_owned())
        })
}

/// An asset body with a fixed 32-byte secret.
pub fn asset_body(path: &str, template: &str) -> Value {
    json!({ "name": format!("Asset at {path}"), "path": path, "secret": TEST_SECRET, "template": template })
}

/// The HS256 secret used by [`asset_body`].
pub const TEST_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Verify an HS256/384/512 token with an implementation independent of the server's signer
/// (the `hmac` crate directly) and return its header and claims.
pub fn verify_hs(token: &str, secret: &[u8]) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three parts: {token}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let ok = match header["alg"].as_str().unwrap() {
        "HS256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
            m.update(signing_input.as_bytes());
            m.verify_slice(&signature).is_ok()
        }
        "HS384" => {
            let mut m = Hmac::<sha2::Sha384>::new_from_slice(secret).unwrap();
            m.update(signing_input.as_bytes());
            m.verify_slice(&signature).is_ok()
        }
        "HS512" => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
            m.update(signing_input.as_bytes());
            m.verify_slice(&signature).is_ok()
        }
        other => panic!("unexpected alg {other}"),
    };
    assert!(ok, "signature does not verify");
    (header, claims)
}

/// A response read off the wire by [`TestApp::raw_request`].
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header lines as (lower-cased name, value).
    pub headers: Vec<(String, String)>,
    /// Everything after the blank line.
    pub body: String,
}

impl RawResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl TestApp {
    /// Send a request line exactly as written (no client-side normalisation of `.`/`..` or
    /// percent-escapes, which `reqwest`'s URL parser would apply) and read the whole answer.
    pub async fn raw_request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> RawResponse {
        use std::io::{Read, Write};
        let host = self.address.trim_start_matches("http://").to_owned();
        let mut request =
            format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let raw = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(&host).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(30)))
                .unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).unwrap();
            raw
        })
        .await
        .unwrap();
        let text = String::from_utf8(raw).expect("a UTF-8 answer");
        let (head, body) = text.split_once("\r\n\r\n").expect("a complete HTTP answer");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        RawResponse {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// An API request with an explicit API key.
    pub async fn api_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// `GET /api/v1/assets/{id}`; asserts 200.
    pub async fn get_asset(&self, id: &str) -> Value {
        let res = self
            .api(reqwest::Method::GET, &format!("/api/v1/assets/{id}"), None)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// `POST /api/v1/assets/{id}/{action}` (`trash`, `restore`); the raw response.
    pub async fn asset_action(&self, id: &str, action: &str) -> Response {
        self.api(
            reqwest::Method::POST,
            &format!("/api/v1/assets/{id}/{action}"),
            None,
        )
        .await
    }

    /// `DELETE /api/v1/assets/{id}` (purge); the raw response.
    pub async fn purge_asset(&self, id: &str) -> Response {
        self.api(
            reqwest::Method::DELETE,
            &format!("/api/v1/assets/{id}"),
            None,
        )
        .await
    }

    /// `POST /api/v1/users/{user}/disable`; asserts 200.
    pub async fn disable_user(&self, username: &str) {
        let res = self
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/users/{username}/disable"),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// `GET /api/v1/audit`; the events, newest first.
    pub async fn audit(&self) -> Vec<Value> {
        let res = self
            .api(reqwest::Method::GET, "/api/v1/audit?limit=1000", None)
            .await;
        api_items(res).await
    }

    /// Fetch a token with an API key, assert 200 and verify it with [`verify_hs`]; the claims.
    pub async fn token_claims(&self, path: &str, api_key: &str, secret: &[u8]) -> Value {
        let res = self.get_token(path, api_key).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        let token = res.text().await.unwrap();
        verify_hs(&token, secret).1
    }
}

/// Assert a token-URL refusal: the status, and an empty body.
pub async fn assert_empty(res: Response, status: StatusCode) {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.text().await.unwrap(),
        "",
        "the body of a {status} on a token URL is empty"
    );
}

/// The problem details (RFC 9457) of a JSON API error answer, after checking its status and
/// media type.
pub async fn api_error(res: Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()[reqwest::header::CONTENT_TYPE],
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["type"], "about:blank", "{body}");
    assert_eq!(body["title"], status.canonical_reason().unwrap(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    body
}

/// The items of one page of a JSON API list, after checking the status.
pub async fn api_items(res: Response) -> Vec<Value> {
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {body}"))
        .clone()
}

/// The claims part of a token as the exact JSON text that was signed.
pub fn payload_text(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a compact JWS");
    String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A signed-in browser: its session cookie and the CSRF token its forms carry.
pub struct Browser {
    /// The `jas_session` cookie value.
    pub session: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl TestApp {
    /// Sign in through `POST /login` and read the session's CSRF token.
    pub async fn browser(&self, username: &str, password: &str) -> Browser {
        let session = self
            .login_session(username, password)
            .await
            .expect("signs in");
        let csrf = self.csrf_token(&session).await;
        Browser { session, csrf }
    }

    /// The bootstrap administrator, signed in.
    pub async fn admin_browser(&self) -> Browser {
        self.browser("admin", ADMIN_PASSWORD).await
    }

    /// `GET` a page with the browser's session.
    pub async fn get_page(&self, b: &Browser, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(header::COOKIE, format!("jas_session={}", b.session))
            .send()
            .await
            .unwrap()
    }

    /// `GET` a page that must answer 200; its HTML.
    pub async fn page_html(&self, b: &Browser, path: &str) -> String {
        let res = self.get_page(b, path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    /// Post a form the way the page's own form does: session cookie, CSRF field, same-origin `Origin`.
    pub async fn post_form(&self, b: &Browser, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut body: Vec<(&str, &str)> = vec![("csrf", b.csrf.as_str())];
        body.extend_from_slice(fields);
        self.post_form_raw(b, path, &body).await
    }

    /// Follow the answer to a post that made a value shown once: it must be a 303 to
    /// `/admin/once` with the value sealed in an HTTP-only cookie for that path alone; the page
    /// it leads to shows the value (its HTML, returned) and makes the browser drop the cookie.
    /// Then a reload of the page, as the browser sends it, must show nothing and say so.
    pub async fn shown_once(&self, b: &Browser, res: Response) -> String {
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "a redirect, not the value"
        );
        assert_eq!(location(&res), "/admin/once");
        let set = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("jas_once="))
            .expect("the sealed value's cookie");
        for part in [
            "HttpOnly",
            "Path=/admin/once",
            "SameSite=Strict",
            "Max-Age=300",
        ] {
            assert!(set.contains(part), "{part} in {set}");
        }
        let sealed = set["jas_once=".len()..]
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = self
            .client
            .get(self.url("/admin/once"))
            .header(
                header::COOKIE,
                format!("jas_session={}; jas_once={sealed}", b.session),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
        let dropped = page
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("jas_once="))
            .expect("the page drops the cookie");
        assert!(dropped.contains("Max-Age=0"), "{dropped}");
        assert!(dropped.contains("Path=/admin/once"), "{dropped}");
        let html = page.text().await.unwrap();
        let reload = self.get_page(b, "/admin/once").await;
        assert_eq!(reload.status(), StatusCode::GONE);
        let again = reload.text().await.unwrap();
        assert!(again.contains("Nothing was created or changed"), "{again}");
        // Another session cannot open the sealed value either.
        let other = self.admin_browser().await;
        let stolen = self
            .client
            .get(self.url("/admin/once"))
            .header(
                header::COOKIE,
                format!("jas_session={}; jas_once={sealed}", other.session),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(stolen.status(), StatusCode::GONE, "bound to its session");
        html
    }

    /// Post exactly these fields (no CSRF token added) with the session cookie.
    pub async fn post_form_raw(
        &self,
        b: &Browser,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        self.client
            .post(self.url(path))
            .header(header::COOKIE, format!("jas_session={}", b.session))
            .header(header::ORIGIN, self.address.as_str())
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

/// The `Location` of a redirect.
pub fn location(res: &Response) -> String {
    res.headers()
        .get(header::LOCATION)
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// A key fixture's text (`tests/fixtures/keys/NAME`).
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name),
    )
    .unwrap()
}
