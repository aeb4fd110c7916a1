#![allow(dead_code)] // Each test crate that includes this uses a part of it.
//! A real OpenID provider for tests (panva's oidc-provider, `tests/oidc/provider.mjs`), one Node
//! process per [`Provider`], and a person's browser at it ([`Provider::sign_in`]). Without Node.js
//! or `tests/oidc/node_modules` the tests that need it are skipped with a note, unless
//! `JAS_REQUIRE_OIDC=1` (`scripts/oidc-test-provider --install` installs the packages).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The password of every test account (`alice`, `bob`, `carol`, `dave`, `badname`).
pub const PASSWORD: &str = "provider-password-1";

const START_WAIT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects and pages of one sign-in; a real flow takes five.
const MAX_STEPS: usize = 20;

/// A running provider, killed on drop. Its issuer is `http://127.0.0.1:PORT`.
pub struct Provider {
    issuer: String,
    child: Child,
    /// Control lines (`stop`, `start`); closing it ends the program.
    control: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    http: reqwest::Client,
}

impl Provider {
    /// Start a provider on a free port, or `None` (after a printed note) without Node.js or
    /// without its npm packages.
    pub async fn start() -> Option<Provider> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
        match Command::new("node").arg("--version").output() {
            Ok(out) if out.status.success() => {
                let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let major: u32 = version
                    .trim_start_matches('v')
                    .split('.')
                    .next()
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0);
                if major < 20 {
                    unavailable(&format!("Node.js 20 or newer is needed, found {version}"));
                    return None;
                }
            }
            _ => {
                unavailable("node (Node.js 20 or newer) is not installed");
                return None;
            }
        }
        if !std::path::Path::new(dir)
            .join("node_modules/oidc-provider")
            .is_dir()
        {
            unavailable("tests/oidc/node_modules is missing");
            return None;
        }

        let mut child = Command::new("node")
            .args(["provider.mjs", "--port", "0", "--control-stdin"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node tests/oidc/provider.mjs");
        let control = child.stdin.take();
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("the provider's stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("the provider's stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let mut provider = Provider {
            issuer: String::new(),
            child,
            control,
            stdout,
            stderr: Some(stderr),
            http,
        };
        let line = provider.wait_for_line("listening on ").await;
        provider.issuer = line["listening on ".len()..].trim().to_owned();
        Some(provider)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its discovery document (`/.well-known/openid-configuration`).
    pub async fn discovery(&self) -> serde_json::Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let response = self.http.get(&url).send().await.expect("GET discovery");
        assert_eq!(response.status(), 200, "GET {url}");
        response.json().await.expect("a JSON discovery document")
    }

    /// Register a confidential client (`client_secret_basic`, authorization code) with one
    /// redirect URI: `(client_id, client_secret)`.
    pub async fn register_client(&self, redirect_uri: &str) -> (String, String) {
        let client = self
            .register_client_with(serde_json::json!({
                "redirect_uris": [redirect_uri],
                "client_name": "jwt-asset-server under test",
            }))
            .await;
        let field = |name: &str| {
            client[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in the registration: {client}"))
                .to_owned()
        };
        (field("client_id"), field("client_secret"))
    }

    /// Register a client with any RFC 7591 metadata (e.g. `post_logout_redirect_uris`,
    /// `token_endpoint_auth_method: client_secret_post`); the provider's whole answer.
    pub async fn register_client_with(&self, metadata: serde_json::Value) -> serde_json::Value {
        let url = format!("{}/reg", self.issuer);
        let response = self
            .http
            .post(&url)
            .json(&metadata)
            .send()
            .await
            .expect("POST /reg");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("a JSON registration");
        assert_eq!(status, 201, "POST {url} {metadata}: {body}");
        body
    }

    /// Forge the id_token of the next token response (and only that one): `other_issuer`,
    /// `other_audience`, `expired`, `wrong_nonce`, `alg_none`, `hs256_public_key`,
    /// `bad_signature` or `unknown_kid` (see tests/oidc/provider.mjs).
    pub async fn tamper(&self, kind: &str) {
        let body = self
            .control_request(
                reqwest::Method::POST,
                "tamper",
                Some(serde_json::json!({ "kind": kind })),
            )
            .await;
        assert_eq!(body["ok"], true, "tamper {kind}: {body}");
    }

    /// Sign with a new key (a new `kid`); the JWKS publishes only the new key. Returns its kid.
    pub async fn rotate_key(&self) -> String {
        let body = self
            .control_request(reqwest::Method::POST, "rotate", None)
            .await;
        body["kid"].as_str().expect("a kid").to_owned()
    }

    /// How many requests the token endpoint has received.
    pub async fn token_requests(&self) -> u64 {
        let body = self
            .control_request(reqwest::Method::GET, "stats", None)
            .await;
        body["token_requests"].as_u64().expect("a count")
    }

    /// Close the listener (and every open connection): requests to the issuer are refused until
    /// [`Provider::restart`]. Keys, clients and sessions are kept.
    pub async fn stop(&mut self) {
        self.send_control("stop");
        self.wait_for_line("stopped").await;
    }

    /// Listen again on the same port, with the same keys, clients and sessions.
    pub async fn restart(&mut self) {
        self.send_control("start");
        let line = self.wait_for_line("listening on ").await;
        assert_eq!(
            line["listening on ".len()..].trim(),
            self.issuer,
            "the provider came back on another address"
        );
    }

    /// End the provider and return what it wrote to stderr (for failure messages).
    fn kill_and_stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default()
    }

    /// Be a person's browser at the provider: open `authorize_url` (the
    /// `{authorization_endpoint}?…` URL the relying party redirected to), sign in on the login
    /// form as `login` with `password`, and follow the provider's redirects until one leaves the
    /// provider. Returns that URL (the relying party's callback, with `code`, `state` and `iss`)
    /// without requesting it. The provider's cookies live only as long as this call: every
    /// sign-in starts without a provider session.
    pub async fn sign_in(
        &self,
        authorize_url: &str,
        login: &str,
        password: &str,
    ) -> Result<String, String> {
        let mut url = reqwest::Url::parse(authorize_url)
            .map_err(|e| format!("not a URL: {authorize_url}: {e}"))?;
        if !self.is_provider(&url) {
            return Err(format!("not a URL of the provider: {authorize_url}"));
        }
        let mut jar = Jar::default();
        let mut form: Option<Vec<(&str, &str)>> = None;
        let mut password_sent = false;
        for _ in 0..MAX_STEPS {
            let request = match form.take() {
                Some(fields) => {
                    password_sent = true;
                    self.http.post(url.clone()).form(&fields)
                }
                None => self.http.get(url.clone()),
            };
            let response = jar
                .attach(request)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            jar.keep(&response);
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| format!("{url}: a {status} without a Location"))?;
                let next = url
                    .join(location)
                    .map_err(|e| format!("{url}: a bad Location {location}: {e}"))?;
                if !self.is_provider(&next) {
                    return Ok(next.to_string());
                }
                url = next;
                continue;
            }
            let body = response.text().await.map_err(|e| format!("{url}: {e}"))?;
            match form_action(&body) {
                Some(_) if password_sent => {
                    return Err(format!(
                        "the provider did not sign in {login}: {}",
                        alert(&body).unwrap_or("it showed its login form again")
                    ));
                }
                Some(action) if status == reqwest::StatusCode::OK => {
                    url = url
                        .join(&action)
                        .map_err(|e| format!("{url}: a bad form action {action}: {e}"))?;
                    form = Some(vec![("login", login), ("password", password)]);
                }
                _ => {
                    return Err(format!(
                        "the provider answered {status} at {url}: {}",
                        excerpt(&body)
                    ));
                }
            }
        }
        Err(format!(
            "more than {MAX_STEPS} steps at the provider, last at {url}"
        ))
    }

    fn is_provider(&self, url: &reqwest::Url) -> bool {
        url.origin().ascii_serialization() == self.issuer
    }

    async fn control_request(
        &self,
        method: reqwest::Method,
        what: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let url = format!("{}/_test/{what}", self.issuer);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, 200, "{url}: {body}");
        body
    }

    fn send_control(&mut self, line: &str) {
        let control = self.control.as_mut().expect("the provider's stdin");
        writeln!(control, "{line}")
            .and_then(|()| control.flush())
            .expect("write to the provider's stdin");
    }

    /// The next stdout line starting with `prefix`, waiting at most [`START_WAIT`]; panics with
    /// the provider's stderr when it ends or stays silent.
    async fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + START_WAIT;
        loop {
            match self.stdout.try_recv() {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => continue,
                Err(mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(why) => {
                    let what = match why {
                        mpsc::TryRecvError::Empty => format!("no `{prefix}…` line in 30 s"),
                        mpsc::TryRecvError::Disconnected => "it ended".to_owned(),
                    };
                    let stderr = self.kill_and_stderr();
                    panic!("the OpenID test provider failed: {what}; its stderr:\n{stderr}");
                }
            }
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unavailable(why: &str) {
    if std::env::var("JAS_REQUIRE_OIDC").is_ok_and(|v| v == "1") {
        panic!("the OpenID test provider is required (JAS_REQUIRE_OIDC=1) but cannot run: {why}");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests,
    // and this note must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "note: skipping the OpenID Connect tests: {why} (run scripts/oidc-test-provider --install)"
    );
}

/// The provider's cookies, by name (a jar for one host: everything is 127.0.0.1 and only the
/// provider is ever sent them).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.0.is_empty() {
            return request;
        }
        let header = self
            .0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        request.header(reqwest::header::COOKIE, header)
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(set) = set.to_str() else { continue };
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            self.0.retain(|(kept, _)| *kept != name);
            let attributes = attributes.to_ascii_lowercase();
            let removed = value.is_empty()
                || attributes.contains("max-age=0")
                || attributes.contains("expires=thu, 01 jan 1970");
            if !removed {
                self.0.push((name, value));
            }
        }
    }
}

/// The `action` of the first `<form` in a page, `&amp;` decoded.
fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("<form")?..];
    let form = &form[..form.find('>')?];
    let action = &form[form.find("action=\"")? + "action=\"".len()..];
    Some(action[..action.find('"')?].replace("&amp;", "&"))
}

/// The text of the login page's `role="alert"` paragraph.
fn alert(html: &str) -> Option<&str> {
    let start = html.find("role=\"alert\">")? + "role=\"alert\">".len();
    let text = &html[start..];
    Some(text[..text.find('<')?].trim())
}

fn excerpt(body: &str) -> String {
    body.chars().take(600).collect()
}
