//! Backup and restore: `export` (CLI on a stopped store, admin API on a running server) and
//! `import` into a new data directory. Export → import → export gives the same dump.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_on, verify_hs};
use crate::sealed::found_in;

const CANARY: &str = "CANARY-7f3a9c1e5b2d4f6a8c0e1d2b3a";
const PASSPHRASE: &str = "correct horse battery staple";

/// Run the binary on `data` with extra environment; `stdin` is written to it.
fn run(data: &Path, env: &[(&str, &Path)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jwt-asset-server"));
    cmd.args(args)
        .env("JWT_ASSET_SERVER_DATA_DIR", data)
        .env("JWT_ASSET_SERVER_LOG", "warn")
        .env_remove("JWT_ASSET_SERVER_ADMIN_PASSWORD")
        .env_remove("JWT_ASSET_SERVER_MASTER_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A store with something of everything: users with passwords, groups and attributes, API keys
/// (one revoked), an HMAC asset with a scheduled next secret, an ES256 asset, a trashed asset,
/// and the audit trail of all that. Returns the stopped app's directory and bob's API key.
async fn populated() -> (tempfile::TempDir, PathBuf, String) {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob", "password": "bob-password-123",
                           "attributes": {"email": "bob@example.test"}, "groups": ["staff"]}))
        .await;
    let bob_key = app.create_api_key("bob").await;
    let doomed = app.create_api_key("bob").await;
    let res = app
        .api(
            Method::DELETE,
            &format!("/api/v1/users/bob/api-keys/{}", &doomed[..12]),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let hs = app
        .create_asset(json!({"name": "Chat", "path": "/b/chat", "secret": CANARY,
                             "template": r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#}))
        .await;
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/assets/{}/next-secret", hs["id"].as_str().unwrap()),
            Some(json!({"secret": "NEXT-CANARY-5d1e9b7c3a8f2e6d4b0c9a", "switch_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.create_asset(
        json!({"name": "Sync", "path": "/b/sync", "algorithm": "ES256",
                            "key": {"generate": "P-256"}, "template": "{}"}),
    )
    .await;
    let old = app
        .create_asset(json!({"name": "Old", "path": "/b/old", "secret": CANARY, "template": "{}"}))
        .await;
    assert_eq!(
        app.asset_action(old["id"].as_str().unwrap(), "trash")
            .await
            .status(),
        StatusCode::OK
    );
    let token = app.get_token("/b/chat", &bob_key).await;
    assert_eq!(token.status(), StatusCode::OK);
    let data = app.data_path.clone();
    let dir = app.stop().await.unwrap();
    (dir, data, bob_key)
}

async fn check_restored(app: &TestApp, bob_key: &str) {
    let token = app.get_token("/b/chat", bob_key).await;
    assert_eq!(token.status(), StatusCode::OK);
    let (_, claims) = verify_hs(&token.text().await.unwrap(), CANARY.as_bytes());
    assert_eq!(claims["sub"], "bob");
    assert_eq!(
        app.get_token("/b/sync", bob_key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_token("/b/old", bob_key).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        app.login_session("bob", "bob-password-123").await.is_some(),
        "bob's password"
    );
}

#[tokio::test]
async fn export_import_export_gives_the_same_dump_and_a_working_store() {
    let (dir, data, bob_key) = populated().await;
    let key_file = dir.path().join("data.key");
    let first = dir.path().join("first.json");
    ok(run(
        &data,
        &[],
        &["export", "--output", first.to_str().unwrap()],
        None,
    ));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&first).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the dump is private");
    assert_eq!(
        found_in(&std::fs::read(&first).unwrap(), CANARY.as_bytes()),
        None
    );
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(!text.contains(CANARY) && !text.contains(&bob_key));
    let dump: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dump["format"], "jwt-asset-server dump");
    assert_eq!(dump["version"], 1);
    assert_eq!(dump["secrets"]["sealing"], "master-key");
    assert_eq!(dump["users"].as_array().unwrap().len(), 2);
    assert_eq!(dump["api_keys"].as_array().unwrap().len(), 3);
    assert_eq!(dump["assets"].as_array().unwrap().len(), 3);
    assert!(dump["audit"].as_array().unwrap().len() >= 5);
    // Each export is audited, after its snapshot: the next dump names the one before.
    let out = ok(run(&data, &[], &["export"], None));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    let audit = again["audit"].as_array().unwrap();
    assert_eq!(audit.len(), dump["audit"].as_array().unwrap().len() + 1);
    assert_eq!(audit.last().unwrap()["action"], "store.export");
    assert_eq!(audit.last().unwrap()["actor"], "cli");
    // An existing file is never overwritten.
    let out = run(&data, &[], &["export", "-o", first.to_str().unwrap()], None);
    assert!(!out.status.success());

    // A new data directory with the same master key: import, then export again.
    let restored = dir.path().join("restored");
    let same_key = [("JWT_ASSET_SERVER_MASTER_KEY_FILE", key_file.as_path())];
    let out = ok(run(
        &restored,
        &same_key,
        &["import", first.to_str().unwrap()],
        None,
    ));
    let counts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["users"], 2);
    assert_eq!(counts["assets"], 3);
    let second = dir.path().join("second.json");
    ok(run(
        &restored,
        &same_key,
        &["export", "-o", second.to_str().unwrap()],
        None,
    ));
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
        "export → import → export changed the dump"
    );

    // Importing again into the now non-empty store is refused, and changes nothing.
    let out = run(
        &restored,
        &same_key,
        &["import", first.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));

    // The restored store serves what the original did.
    std::fs::rename(&key_file, dir.path().join("restored.key")).unwrap();
    let app = spawn_app_on(restored).await;
    check_restored(&app, &bob_key).await;
    app.stop().await;
}

#[tokio::test]
async fn a_passphrase_dump_restores_under_another_master_key() {
    let (dir, data, bob_key) = populated().await;
    let dump = dir.path().join("dump.json");
    let out = run(
        &data,
        &[],
        &["export", "--passphrase-stdin", "-o", dump.to_str().unwrap()],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at least 12"), "{}", stderr(&out));
    ok(run(
        &data,
        &[],
        &["export", "--passphrase-stdin", "-o", dump.to_str().unwrap()],
        Some(&format!("{PASSPHRASE}\n")),
    ));
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(!text.contains(CANARY) && !text.contains(PASSPHRASE));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["secrets"]["sealing"], "passphrase");

    // Another machine: a new data directory with its own, new master key.
    let other = tempfile::tempdir().unwrap();
    let restored = other.path().join("data");
    let out = run(&restored, &[], &["import", dump.to_str().unwrap()], None);
    assert!(stderr(&out).contains("passphrase"), "{}", stderr(&out));
    let out = run(
        &restored,
        &[],
        &["import", "--passphrase-stdin", dump.to_str().unwrap()],
        Some("a wrong passphrase entirely\n"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
    ok(run(
        &restored,
        &[],
        &["import", "--passphrase-stdin", dump.to_str().unwrap()],
        Some(&format!("{PASSPHRASE}\n")),
    ));
    assert_ne!(
        std::fs::read(other.path().join("data.key")).unwrap(),
        std::fs::read(dir.path().join("data.key")).unwrap()
    );
    let app = spawn_app_on(restored).await;
    check_restored(&app, &bob_key).await;
    app.stop().await;
}

#[tokio::test]
async fn a_changed_dump_is_refused() {
    let (dir, data, _) = populated().await;
    let key_file = dir.path().join("data.key");
    let out = ok(run(&data, &[], &["export"], None));
    let mut dump: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Bob made an administrator in the backup.
    let bob = dump["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["username"] == "bob")
        .unwrap();
    bob["admin"] = json!(true);
    let file = dir.path().join("changed.json");
    std::fs::write(&file, serde_json::to_vec(&dump).unwrap()).unwrap();
    let restored = dir.path().join("restored");
    let same_key = [("JWT_ASSET_SERVER_MASTER_KEY_FILE", key_file.as_path())];
    let out = run(
        &restored,
        &same_key,
        &["import", file.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("changed since it was written"),
        "{}",
        stderr(&out)
    );
    let out = ok(run(&restored, &same_key, &["user", "list"], None));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("bob"),
        "nothing was imported"
    );
}

#[tokio::test]
async fn secrets_are_in_the_clear_only_when_asked() {
    let (dir, data, _) = populated().await;
    let out = ok(run(&data, &[], &["export", "--secrets-in-clear"], None));
    let dump: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dump["secrets"]["sealing"], "none");
    let chat = dump["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["asset"]["path"] == "/b/chat")
        .unwrap();
    let secret: Vec<u8> = serde_json::from_value(chat["asset"]["secret"].clone()).unwrap();
    assert_eq!(secret, CANARY.as_bytes());
    drop(dir);
}

#[tokio::test]
async fn a_dump_from_a_newer_version_or_not_a_dump_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("d.json");
    std::fs::write(
        &file,
        r#"{"format": "jwt-asset-server dump", "version": 99}"#,
    )
    .unwrap();
    let out = run(&data, &[], &["import", file.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));
    std::fs::write(&file, r#"{"users": []}"#).unwrap();
    let out = run(&data, &[], &["import", file.to_str().unwrap()], None);
    assert!(stderr(&out).contains("not a dump"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_admin_api_exports_a_consistent_snapshot_while_the_server_runs() {
    let app = spawn_app().await;
    app.create_asset(
        json!({"name": "Chat", "path": "/b/chat", "secret": CANARY, "template": "{}"}),
    )
    .await;
    app.create_user(json!({"username": "carol"})).await;
    let carol = app.create_api_key("carol").await;

    let res = app
        .api_as(&carol, Method::POST, "/api/v1/export", None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app.api(Method::POST, "/api/v1/export", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = res.text().await.unwrap();
    assert!(!text.contains(CANARY));
    let dump: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dump["secrets"]["sealing"], "master-key");
    assert_eq!(dump["assets"].as_array().unwrap().len(), 1);

    // A passphrase would let an administrator's credential read every secret: CLI only.
    let res = app
        .api(
            Method::POST,
            "/api/v1/export",
            Some(json!({"passphrase": PASSPHRASE})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("--passphrase-stdin") && !text.contains(PASSPHRASE),
        "{text}"
    );
    let res = app.api(Method::POST, "/api/v1/export", None).await;
    assert_eq!(res.status(), StatusCode::OK);

    let mut exported = 0;
    for _ in 0..50 {
        exported = app
            .audit()
            .await
            .iter()
            .filter(|e| e["action"] == "store.export")
            .count();
        if exported == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(exported, 2, "each export is audited");
    app.stop().await;
}

/// Moving a store: embedded → PostgreSQL → embedded, through `export` and `import`, changes
/// nothing (the dumps are byte for byte the same) and the PostgreSQL store serves what the
/// embedded one did.
#[tokio::test]
async fn a_store_moves_to_postgresql_and_back_unchanged() {
    let Some(database) = crate::postgres::new_database() else {
        return;
    };
    let (dir, data, bob_key) = populated().await;
    let key_file = dir.path().join("data.key");
    let first = dir.path().join("first.json");
    ok(run(
        &data,
        &[],
        &["export", "-o", first.to_str().unwrap()],
        None,
    ));

    let on_pg = [
        ("JWT_ASSET_SERVER_MASTER_KEY_FILE", key_file.as_path()),
        ("JWT_ASSET_SERVER_DATABASE_URL", Path::new(&database)),
    ];
    let unused = dir.path().join("unused");
    let out = ok(run(
        &unused,
        &on_pg,
        &["import", first.to_str().unwrap()],
        None,
    ));
    let counts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["assets"], 3);
    assert!(
        !unused.exists(),
        "with a database URL no data directory is made"
    );
    let second = dir.path().join("second.json");
    ok(run(
        &unused,
        &on_pg,
        &["export", "-o", second.to_str().unwrap()],
        None,
    ));
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
        "embedded → PostgreSQL changed the dump"
    );
    // A database that holds a store refuses a second import, and keeps what it has.
    let out = run(&unused, &on_pg, &["import", first.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));

    // Back to a new embedded store.
    let back = dir.path().join("back");
    let same_key = [("JWT_ASSET_SERVER_MASTER_KEY_FILE", key_file.as_path())];
    ok(run(
        &back,
        &same_key,
        &["import", second.to_str().unwrap()],
        None,
    ));
    let third = dir.path().join("third.json");
    ok(run(
        &back,
        &same_key,
        &["export", "-o", third.to_str().unwrap()],
        None,
    ));
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&third).unwrap(),
        "PostgreSQL → embedded changed the dump"
    );

    // The server on PostgreSQL serves the moved store.
    let app = crate::helpers::spawn_app_with(|s| {
        s.database_url = Some(jwt_asset_server::secret::SecretString::new(
            database.clone(),
        ));
        s.master_key_file = Some(key_file.clone());
    })
    .await;
    check_restored(&app, &bob_key).await;
}
