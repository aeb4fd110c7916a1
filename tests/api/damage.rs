//! A damaged store is refused, never served in part: after a bit flip or a truncation of the
//! database file, either every acknowledged write is there or the store does not open.

use std::path::Path;

use jwt_asset_server::Settings;
use jwt_asset_server::app::open_service;
use serde_json::json;

use crate::helpers::{TEST_SECRET, spawn_app_on};

const ASSETS: usize = 40;

/// A stopped store holding `ASSETS` acknowledged assets.
async fn populated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = spawn_app_on(data).await;
    for i in 0..ASSETS {
        app.create_asset(json!({
            "name": format!("Asset {i}"), "path": format!("/t/a{i}"), "secret": TEST_SECRET,
            "template": format!(r#"{{"n": {i}, "pad": "{}"}}"#, "x".repeat(2000))
        }))
        .await;
    }
    app.stop().await;
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Open a damaged copy: `Ok(n)` assets when it opens, `Err(message)` when it is refused.
fn open_damaged(original: &Path, damage: impl FnOnce(&Path)) -> Result<usize, String> {
    let copy = tempfile::tempdir().unwrap();
    let data = copy.path().join("data");
    copy_dir(original, &data);
    // The master key file beside the data directory goes with it.
    std::fs::copy(original.with_extension("key"), copy.path().join("data.key")).unwrap();
    damage(&data.join("db"));
    let before = std::fs::read(data.join("db")).unwrap();
    let service = match open_service(&Settings::for_data_dir(&data)) {
        Ok(service) => service,
        Err(refused) => {
            assert!(
                std::fs::read(data.join("db")).unwrap() == before,
                "a refused store's database file was changed"
            );
            assert!(
                !data.join(".before-open").exists(),
                "the copy made before opening was left behind"
            );
            return Err(refused.to_string());
        }
    };
    let n = service.assets().map_err(|e| e.to_string())?.len();
    service.shutdown().map_err(|e| e.to_string())?;
    Ok(n)
}

fn assert_whole_or_refused(what: &str, outcome: Result<usize, String>) {
    match outcome {
        Ok(n) => assert_eq!(
            n, ASSETS,
            "{what}: served a partial store ({n} of {ASSETS} assets)"
        ),
        Err(message) => assert!(
            message.contains("lost writes")
                || message.contains("damaged")
                || message.contains("corrupt"),
            "{what}: refused without saying why: {message}"
        ),
    }
}

#[tokio::test]
async fn an_undamaged_copy_opens_with_every_write() {
    let dir = populated().await;
    assert_eq!(open_damaged(&dir.path().join("data"), |_| {}), Ok(ASSETS));
}

#[tokio::test]
async fn a_truncated_database_is_refused_or_whole() {
    let dir = populated().await;
    let data = dir.path().join("data");
    let len = std::fs::metadata(data.join("db")).unwrap().len();
    let mut refused = 0;
    for percent in [50, 60, 95] {
        let outcome = open_damaged(&data, |db| {
            let file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
            file.set_len(len * percent / 100).unwrap();
        });
        refused += usize::from(outcome.is_err());
        assert_whole_or_refused(&format!("truncated to {percent} %"), outcome);
    }
    assert!(refused > 0, "no truncation was noticed");
}

#[tokio::test]
async fn a_flipped_bit_is_refused_or_harmless() {
    let dir = populated().await;
    let data = dir.path().join("data");
    let bytes = std::fs::read(data.join("db")).unwrap();
    let used = bytes.iter().rposition(|b| *b != 0).unwrap_or(0);
    for step in 1..=24 {
        let at = used * step / 25;
        let outcome = open_damaged(&data, |db| {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            std::fs::write(db, damaged).unwrap();
        });
        assert_whole_or_refused(&format!("bit 4 of byte {at} flipped"), outcome);
    }
}

#[tokio::test]
async fn check_reports_a_whole_store_and_refuses_a_damaged_one() {
    let dir = populated().await;
    let data = dir.path().join("data");
    let check = |data: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jwt-asset-server"))
            .arg("check")
            .env("JWT_ASSET_SERVER_DATA_DIR", data)
            .env("JWT_ASSET_SERVER_LOG", "warn")
            .output()
            .unwrap()
    };
    let ok = check(&data);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.contains(&format!("{ASSETS} assets")), "{out}");

    // As if the newest five acknowledged writes had been lost from sled's log (the damage
    // tests above do it for real, where which writes a truncation takes varies with the layout).
    let ledger = data.join("acknowledged");
    let acknowledged: u64 = std::fs::read_to_string(&ledger)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::write(&ledger, format!("{}\n", acknowledged + 5)).unwrap();
    for _ in 0..2 {
        // Refused, and refused again: a damaged store stays refused.
        let refused = check(&data);
        assert!(!refused.status.success());
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(
            err.contains("lost writes") && err.contains("the newest 5 are missing"),
            "{err}"
        );
        assert!(err.contains("backup"), "{err}");
    }
}
