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
    assert_eq!(
        app.get_token("/t/before", &key).await.status(),
        StatusCode::OK
    );

    let filler = fill(&fs.0);
    let res = app.post_asset(asset("/t/during")).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let listed: serde_json::Value = app
        .api(Method::GET, "/api/v1/assets", None)
        .await
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/t/before"], "a refused create left a trace");
    for _ in 0..20 {
        assert_eq!(
            app.get_token("/t/before", &key).await.status(),
            StatusCode::OK
        );
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The audit events of those tokens could not be written: counted as dropped, not fatal.
    let mut dropped = String::new();
    for _ in 0..50 {
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
        let metrics = metrics.text().await.unwrap();
        dropped = metrics
            .lines()
            .find(|l| l.starts_with("jwt_audit_dropped_total "))
            .unwrap_or_default()
            .to_owned();
        if dropped != "jwt_audit_dropped_total 0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(dropped, "jwt_audit_dropped_total 0");

    // sled stays failed after an I/O error: once the disk takes writes again, the server stops
    // with an error so that a supervisor restarts it on the durable state.
    std::fs::remove_file(filler).unwrap();
    let dir = app.data_path.clone();
    let stopped = app.stopped_by_itself(Duration::from_secs(30)).await;
    let error = stopped.expect_err("stopped with an error");
    assert!(error.to_string().contains("restart"), "{error}");

    let app = spawn_app_on(dir).await;
    let listed: serde_json::Value = app
        .api(Method::GET, "/api/v1/assets", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
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
