//! The binary itself: the CLI on a stopped server's store, start-up failures, SIGTERM and restart.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::verify_hs;

const BIN: &str = env!("CARGO_BIN_EXE_jwt-asset-server");

pub(crate) fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("JWT_ASSET_SERVER_DATA_DIR", data)
        .env_remove("JWT_ASSET_SERVER_ADMIN_PASSWORD")
        .env("JWT_ASSET_SERVER_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The real binary serving on a free port; its stderr is collected.
pub(crate) struct Server {
    pub(crate) child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(data: &Path, admin_password: Option<&str>) -> Server {
        Server::start_with(data, admin_password, &[])
    }

    /// Start with extra environment variables.
    pub(crate) fn start_with(
        data: &Path,
        admin_password: Option<&str>,
        env: &[(&str, &str)],
    ) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.envs(env.iter().copied());
        cmd.args(["--bind", "127.0.0.1:0"])
            .env("JWT_ASSET_SERVER_DATA_DIR", data)
            .env("JWT_ASSET_SERVER_LOG", "info")
            .env_remove("JWT_ASSET_SERVER_ADMIN_PASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(p) = admin_password {
            cmd.env("JWT_ASSET_SERVER_ADMIN_PASSWORD", p);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = port_tx.send(digits.parse::<u16>().unwrap());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server reports its port");
        Server { child, port, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, and the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TEMPLATE: &str =
    r#"{"sub": "%globals_user_attribute_username%", "name": %globals_user_name^json_encode%}"#;

#[tokio::test]
async fn the_cli_prepares_a_store_that_the_server_then_serves_and_keeps_across_a_sigterm_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        &dir.path().join("data"),
        &[
            "user",
            "add",
            "carol",
            "--attr",
            "first_name=Carol",
            "--attr",
            "last_name=Ng",
            "--password-stdin",
        ],
        Some("carol-password-1\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(
        &dir.path().join("data"),
        &["apikey", "create", "carol"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out).trim().to_owned();
    assert!(
        key.starts_with("jas_") && !key.contains(char::is_whitespace),
        "stdout is only the key: {key:?}"
    );
    let template_file = dir
        .path()
        .join("..")
        .join(format!("template-{}.json", std::process::id()));
    std::fs::write(&template_file, TEMPLATE).unwrap();
    let out = cli(
        &dir.path().join("data"),
        &[
            "asset",
            "create",
            "--name",
            "Chat",
            "--path",
            "/tokens/chat",
            "--template-file",
            template_file.to_str().unwrap(),
            "--secret-stdin",
        ],
        Some("0123456789abcdef0123456789abcdef\n"),
    );
    std::fs::remove_file(&template_file).unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("0123456789abcdef"),
        "the secret is never printed back"
    );

    let server = Server::start(&dir.path().join("data"), None);
    assert!(
        !server.log().contains("one-time password"),
        "no admin is created when users exist"
    );
    let client = reqwest::Client::new();
    let res = client
        .get(server.url("/tokens/chat"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, claims) = verify_hs(
        &res.text().await.unwrap(),
        b"0123456789abcdef0123456789abcdef",
    );
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["name"], "Carol Ng");

    let status = server.terminate();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");

    let server = Server::start(&dir.path().join("data"), None);
    let res = client
        .get(server.url("/tokens/chat"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the key and asset survive the restart"
    );
    let log = server.log();
    assert!(!log.contains(&key), "the log never holds an API key");
    assert!(
        !log.contains("0123456789abcdef0123456789abcdef"),
        "the log never holds a secret"
    );
}

#[test]
fn the_cli_refuses_a_data_dir_that_the_running_server_holds() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server::start(&dir.path().join("data"), Some("admin-password-xyz"));
    let out = cli(&dir.path().join("data"), &["user", "list"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by another process (is the server running?)"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn the_first_start_creates_admin_with_a_one_time_password_that_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), None);
    let log = server.log();
    let password = log
        .lines()
        .skip_while(|l| !l.contains("one-time password"))
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("one-time password"))
        .expect("the password is printed")
        .to_owned();
    assert!(password.len() >= 20);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(server.url("/login"))
        .form(&[("username", "admin"), ("password", &password)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get("set-cookie").is_some());
    drop(server);

    // A second start does not print another password.
    let server = Server::start(&dir.path().join("data"), None);
    assert!(!server.log().contains("one-time password"));
}

#[test]
fn a_store_written_by_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        cli(&dir.path().join("data"), &["user", "add", "dave"], None)
            .status
            .success()
    );
    {
        let db = sled::open(dir.path().join("data")).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let out = cli(&dir.path().join("data"), &["user", "list"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("newer jwt-asset-server (schema 99"),
        "{}",
        stderr(&out)
    );
    let db = sled::open(dir.path().join("data")).unwrap();
    let version = db
        .open_tree("meta")
        .unwrap()
        .get("schema_version")
        .unwrap()
        .unwrap();
    assert_eq!(
        version.as_ref(),
        &99u32.to_be_bytes(),
        "the version record was not touched"
    );
    assert_eq!(
        db.open_tree("users").unwrap().len(),
        1,
        "the data is still there"
    );
}

#[test]
fn a_damaged_store_is_reported_and_never_replaced_by_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        cli(&dir.path().join("data"), &["user", "add", "erin"], None)
            .status
            .success()
    );
    let db = dir.path().join("data").join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(64) {
        *b ^= 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    for attempt in 1..=2 {
        // The second attempt proves the first did not start a fresh, empty store over the damage.
        let out = cli(&dir.path().join("data"), &["user", "list"], None);
        assert!(!out.status.success(), "attempt {attempt}");
        assert!(
            stderr(&out).contains("Restore it from a backup"),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"));
    }
    let server = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0"])
        .env("JWT_ASSET_SERVER_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!server.status.success(), "the server refuses it too");
    assert!(
        stderr(&server).contains("Restore it from a backup"),
        "{}",
        stderr(&server)
    );
}

#[test]
fn a_data_dir_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let out = cli(&file.join("data"), &["user", "list"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).starts_with("error: storage I/O error: cannot create"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn log_lines_are_plain_text_on_a_pipe_and_one_json_object_each_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, Some("admin-password-xyz"));
    reqwest::get(server.url("/healthz")).await.unwrap();
    let log = server.log();
    assert!(!log.contains('\u{1b}'), "colour codes on a pipe: {log}");
    drop(server);

    let server = Server::start_with(&data, None, &[("JWT_ASSET_SERVER_LOG_FORMAT", "json")]);
    reqwest::get(server.url("/healthz")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let request = loop {
        let log = server.log();
        if let Some(line) = log.lines().find(|l| l.contains("\"route\":\"/healthz\"")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no request line: {log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for line in server.log().lines() {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
    }
    let request: serde_json::Value = serde_json::from_str(&request).unwrap();
    assert_eq!(request["status"], 200);
    assert!(request["micros"].is_u64(), "{request}");
    assert!(
        request["instance"].as_str().is_some_and(|i| !i.is_empty()),
        "{request}"
    );
}

#[test]
fn the_cli_updates_and_deletes_users_scopes_keys_and_empties_the_trash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ok = |args: &[&str]| {
        let out = cli(&data, args, None);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    ok(&["user", "add", "bob", "--attr", "email=bob@example.test"]);
    let updated: serde_json::Value = serde_json::from_str(&ok(&[
        "user", "update", "bob", "--group", "ops", "--admin", "true",
    ]))
    .unwrap();
    assert_eq!(updated["groups"], serde_json::json!(["ops"]));
    assert_eq!(updated["admin"], true);
    assert_eq!(updated["attributes"]["email"], "bob@example.test", "kept");
    assert_eq!(ok(&["user", "sessions", "bob"]).trim(), "[]");
    assert_eq!(
        ok(&["user", "end-sessions", "bob"]).trim(),
        "ended 0 sessions"
    );
    // Scopes: the default, then chosen ones; an unknown one is refused.
    ok(&["apikey", "create", "bob"]);
    ok(&[
        "apikey",
        "create",
        "bob",
        "--scope",
        "admin:read",
        "--expires-at",
        "2099-01-01T00:00:00Z",
    ]);
    let out = cli(&data, &["apikey", "create", "bob", "--scope", "root"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("scopes"), "{}", stderr(&out));
    let listed = ok(&["apikey", "list", "bob"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    // The last administrator stays.
    let out = cli(&data, &["user", "delete", "bob"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("last administrator"),
        "{}",
        stderr(&out)
    );
    ok(&["user", "add", "ops", "--admin"]);
    ok(&["user", "delete", "bob"]);
    let out = cli(&data, &["user", "delete", "bob"], None);
    assert!(!out.status.success(), "a second delete finds nobody");
    assert!(!ok(&["user", "list"]).contains("bob"));
    // The trash.
    let template = dir.path().join("t.json");
    std::fs::write(&template, "{}").unwrap();
    for path in ["/t/one", "/t/two"] {
        let t = template.to_str().unwrap();
        ok(&[
            "asset",
            "create",
            "--name",
            "x",
            "--path",
            path,
            "--template-file",
            t,
            "--generate-secret",
        ]);
        ok(&["asset", "trash", path]);
    }
    assert_eq!(ok(&["asset", "empty-trash"]).trim(), "purged 2 assets");
    assert!(!ok(&["asset", "list"]).contains("/t/one"));
}
