//! A full disk, for real: the data directory on a small tmpfs (mounted by the test when the
//! machine allows it; skipped with a note otherwise), filled up while the server runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TEST_SECRET, spawn_app_on};

/// A tmpfs of `mib` MiB mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(mib: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?.keep();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Write a file until the file system is full.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

/// `GET /api/v1/assets`.
async fn assets_json(app: &crate::helpers::TestApp) -> serde_json::Value {
    let res = app.api(Method::GET, "/api/v1/assets", None).await;
    serde_json::Value::Array(crate::helpers::api_items(res).await)
}

/// `GET /api/v1/users`, as text.
async fn users_text(app: &crate::helpers::TestApp) -> String {
    let res = app.api(Method::GET, "/api/v1/users", None).await;
    res.text().await.unwrap()
}

fn asset(path: &str) -> serde_json::Value {
    json!({"name": path, "path": path, "secret": TEST_SECRET,
           "template": r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#})
}

#[tokio::test]
async fn a_full_disk_refuses_writes_without_a_trace_and_tokens_keep_flowing() {
    let Some(fs) = Tmpfs::mount(16) else {
        eprintln!("note: cannot mount a tmpfs here (not root?); the disk-full test is skipped");
        return;
    };
    let app = spawn_app_on(fs.0.join("data")).await;
    app.create_asset(asset("/t/before")).await;
    let key = app.admin_key.clone();
    let second_key = app.create_api_key("admin").await;
    assert_eq!(
        app.get_token("/t/before", &key).await.status(),
        StatusCode::OK
    );

    let filler = fill(&fs.0);
    let res = app.post_asset(asset("/t/during")).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let listed = assets_json(&app).await;
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/t/before"], "a refused create left a trace");
    // The asset was refused before sled saw it (its data key could not be written); a user
    // create reaches sled, whose flush fails.
    let res = app
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "during"})),
        )
        .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let users = users_text(&app).await;
    assert!(
        !users.contains("\"during\""),
        "a refused user create left a trace: {users}"
    );
    // A refused revoke does not take effect either: the key still works until it is revoked.
    let res = app
        .api(
            Method::DELETE,
            &format!("/api/v1/users/admin/api-keys/{}", &second_key[..12]),
            None,
        )
        .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    assert_eq!(
        app.get_token("/t/before", &second_key).await.status(),
        StatusCode::OK,
        "a refused revoke took effect"
    );
    for _ in 0..20 {
        assert_eq!(
            app.get_token("/t/before", &key).await.status(),
            StatusCode::OK
        );
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Audit events and last-use touches never hold a token back: when sled refuses them they
    // are counted (`jwt_audit_dropped_total`, `jwt_store_touch_failures_total`); whether it
    // refuses them depends on whether its current log segment still has room.

    // Once the disk takes writes again, either the store takes writes again by itself (the
    // refused writes were taken back and sled is usable), or sled stays failed after the I/O
    // error and the server stops with an error, so that a supervisor restarts it on the durable
    // state. Never a server that stays up and unhealthy, or healthy and unable to write.
    std::fs::remove_file(filler).unwrap();
    let dir = app.data_path.clone();
    let mut recovered = false;
    for _ in 0..300 {
        if app.has_stopped() {
            break;
        }
        if let Ok(res) = app.client.get(app.url("/healthz")).send().await
            && res.status() == StatusCode::OK
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expected = if recovered {
        let res = app.post_asset(asset("/t/recovered")).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "healthy again, but cannot write"
        );
        app.stop().await;
        2
    } else {
        let stopped = app.stopped_by_itself(Duration::from_secs(30)).await;
        let error = stopped.expect_err("stopped with an error");
        assert!(error.to_string().contains("restart"), "{error}");
        1
    };

    // The stopped server's last threads may still hold the directory's lock for a moment.
    for attempt in 0.. {
        match jwt_asset_server::app::open_service(&jwt_asset_server::Settings::for_data_dir(&dir)) {
            Ok(service) => {
                service.shutdown().unwrap();
                break;
            }
            Err(jwt_asset_server::store::StoreError::Locked(_)) if attempt < 100 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store does not open after the restart: {e}"),
        }
    }
    let app = spawn_app_on(dir).await;
    let listed = assets_json(&app).await;
    assert_eq!(listed.as_array().unwrap().len(), expected, "{listed}");
    assert!(!listed.to_string().contains("/t/during"), "{listed}");
    let users = users_text(&app).await;
    assert!(!users.contains("\"during\""), "{users}");
    assert_eq!(
        app.get_token("/t/before", &second_key).await.status(),
        StatusCode::OK,
        "a refused revoke took effect after the restart"
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let res = app.post_asset(asset("/t/after")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let key = app.admin_key.clone();
    assert_eq!(
        app.get_token("/t/after", &key).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}
