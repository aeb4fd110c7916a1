//! Secrets at rest: sealed under a master key kept outside the data directory, unreadable in
//! the files whatever the encoding, refused without the key, crypto-shredded by a purge, and
//! re-wrapped by `rekey`.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_asset_server::Settings;
use jwt_asset_server::app::open_service;
use jwt_asset_server::secret::SecretString;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{fixture, spawn_app, spawn_app_on, verify_hs};

const CANARY: &str = "CANARY-7f3a9c1e5b2d4f6a8c0e1d2b3a";
const NEXT_CANARY: &str = "NEXTCANARY-5d1e9b7c3a8f2e6d4b0c9a";

/// The ways a secret could sit in a file: raw, hex, decimal byte lists (a JSON array), and
/// base64 (standard and URL-safe) at each of the three alignments it can have inside a longer
/// base64 text.
fn encodings(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("raw".to_owned(), secret.to_vec()),
        ("hex".into(), hex(secret).into_bytes()),
        ("HEX".into(), hex(secret).to_uppercase().into_bytes()),
        (
            "decimal list".into(),
            secret[..16]
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(",")
                .into_bytes(),
        ),
    ];
    for skip in 0..3 {
        for (name, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE_NO_PAD)] {
            let text = engine.encode(&secret[skip..]);
            // The last characters depend on what follows; the rest is fixed.
            let stable = text.trim_end_matches('=');
            let stable = &stable[..stable.len() - 3];
            out.push((format!("{name}+{skip}"), stable.as_bytes().to_vec()));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

/// In which encoding `secret` can be read in `bytes`, if any.
pub(crate) fn found_in(bytes: &[u8], secret: &[u8]) -> Option<String> {
    encodings(secret)
        .into_iter()
        .find(|(_, needle)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(encoding, _)| encoding)
}

/// Where (file and encoding) `secret` can be read under `dir`, if anywhere.
fn found(dir: &Path, secret: &[u8]) -> Option<String> {
    files_under(dir).iter().find_map(|(path, bytes)| {
        found_in(bytes, secret).map(|encoding| format!("{} ({encoding})", path.display()))
    })
}

fn assert_nowhere(dir: &Path, what: &str, secret: &[u8]) {
    if let Some(place) = found(dir, secret) {
        panic!("{what} is readable in {place}");
    }
}

#[test]
fn the_search_finds_a_secret_in_every_encoding_it_knows() {
    let secret = CANARY.as_bytes();
    for (encoding, _) in encodings(secret) {
        let dir = tempfile::tempdir().unwrap();
        let text = match encoding.as_str() {
            "raw" => CANARY.to_owned(),
            "hex" => hex(secret),
            "HEX" => hex(secret).to_uppercase(),
            // How serde_json wrote a `Vec<u8>` secret before it was sealed.
            "decimal list" => serde_json::to_string(&secret.to_vec()).unwrap(),
            other => {
                let skip: usize = other[other.len() - 1..].parse().unwrap();
                let mut bytes = b"ab"[..skip].to_vec();
                bytes.extend_from_slice(secret);
                let engine = if other.starts_with("base64url") {
                    &URL_SAFE_NO_PAD
                } else {
                    &STANDARD
                };
                engine.encode(b"xyz".iter().chain(&bytes).copied().collect::<Vec<u8>>())
            }
        };
        std::fs::write(dir.path().join("f"), format!("{{\"x\": \"{text}\"}}")).unwrap();
        assert!(
            found(dir.path(), secret).is_some(),
            "{encoding} not found in {text}"
        );
    }
}

#[tokio::test]
async fn no_secret_or_private_key_can_be_found_in_the_data_directory() {
    let app = spawn_app().await;
    let hs = app
        .create_asset(json!({
            "name": "Chat", "path": "/s/chat", "secret": CANARY,
            "template": r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#
        }))
        .await;
    let id = hs["id"].as_str().unwrap();
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/assets/{id}/next-secret"),
            Some(json!({"secret": NEXT_CANARY, "switch_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let pem = fixture("p256.pem");
    app.create_asset(json!({
        "name": "Sync", "path": "/s/sync", "algorithm": "ES256", "key": {"pem": pem},
        "template": r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#
    }))
    .await;
    let scalar = {
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &der,
        )
        .unwrap();
        let bin: EcPrivateKeyBin = pair.private_key().as_be_bytes().unwrap();
        bin.as_ref().to_vec()
    };

    let key = app.admin_key.clone();
    let token = app.get_token("/s/chat", &key).await.text().await.unwrap();
    verify_hs(&token, CANARY.as_bytes());
    let data = app.data_path.clone();
    let parent = app.stop().await.unwrap();

    assert_nowhere(&data, "the HMAC secret", CANARY.as_bytes());
    assert_nowhere(&data, "the scheduled next secret", NEXT_CANARY.as_bytes());
    assert_nowhere(&data, "the P-256 private key", &scalar);

    // The master key lives beside the data directory, not in it, and is the owner's alone.
    let key_file = parent.path().join("data.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(!key_file.starts_with(&data));

    // And the secrets open again with it.
    let app = spawn_app_on(data).await;
    verify_hs(
        &app.get_token("/s/chat", &key).await.text().await.unwrap(),
        CANARY.as_bytes(),
    );
    app.stop().await;
    drop(parent);
}

/// Open the store in `data` with the settings `configure` makes; the error text when refused.
fn open_with(data: &Path, configure: impl FnOnce(&mut Settings)) -> Result<usize, String> {
    let mut settings = Settings::for_data_dir(data);
    configure(&mut settings);
    let service = open_service(&settings).map_err(|e| e.to_string())?;
    let n = service.assets().map_err(|e| e.to_string())?.len();
    service.shutdown().map_err(|e| e.to_string())?;
    Ok(n)
}

#[tokio::test]
async fn the_store_opens_only_with_its_own_master_key() {
    let app = spawn_app().await;
    app.create_asset(json!({
        "name": "Chat", "path": "/s/chat", "secret": CANARY, "template": "{}"
    }))
    .await;
    let data = app.data_path.clone();
    let parent = app.stop().await.unwrap();
    let key_file = parent.path().join("data.key");
    let key_text = std::fs::read_to_string(&key_file).unwrap();

    // Without the key: refused, saying which key is missing and where it was looked for.
    std::fs::rename(&key_file, parent.path().join("elsewhere.key")).unwrap();
    let refused = open_with(&data, |_| {}).unwrap_err();
    assert!(
        refused.contains("master key") && refused.contains("data.key"),
        "{refused}"
    );
    assert!(
        !key_file.exists(),
        "a new key was made for a store sealed with another"
    );

    // Another key: refused.
    let other = STANDARD.encode([7u8; 32]);
    std::fs::write(&key_file, format!("{other}\n")).unwrap();
    let refused = open_with(&data, |_| {}).unwrap_err();
    assert!(refused.contains("sealed with the master key"), "{refused}");
    std::fs::remove_file(&key_file).unwrap();

    // The key from the environment (a secret manager), or a key file named by the option.
    assert_eq!(
        open_with(&data, |s| s.master_key =
            Some(SecretString::new(key_text.clone()))),
        Ok(1)
    );
    assert_eq!(
        open_with(&data, |s| s.master_key_file =
            Some(parent.path().join("elsewhere.key"))),
        Ok(1)
    );
    let refused = open_with(&data, |s| {
        s.master_key = Some(SecretString::new("short".into()))
    })
    .unwrap_err();
    assert!(refused.contains("JWT_ASSET_SERVER_MASTER_KEY"), "{refused}");
    assert!(!refused.contains("short"), "{refused}");
}

fn data_keys(data: &Path, asset_id: &str) -> Vec<String> {
    std::fs::read_dir(data.join("keys"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("{asset_id}.")))
        .collect()
}

#[tokio::test]
async fn each_asset_has_one_data_key_and_a_purge_shreds_it() {
    let app = spawn_app().await;
    let asset = app
        .create_asset(json!({
            "name": "Chat", "path": "/s/chat", "secret": CANARY, "template": "{}"
        }))
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    let data = app.data_path.clone();
    let first = data_keys(&data, &id);
    assert_eq!(first.len(), 1, "{first:?}");

    let res = app
        .api(
            Method::PUT,
            &format!("/api/v1/assets/{id}"),
            Some(
                json!({"version": asset["version"], "name": "Chat 2", "path": "/s/chat",
                        "template": "{}", "secret": NEXT_CANARY}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let second = data_keys(&data, &id);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(
        first, second,
        "an edit seals under a new data key and deletes the old one"
    );

    assert_eq!(
        app.asset_action(&id, "trash").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.purge_asset(&id).await.status(), StatusCode::NO_CONTENT);
    assert!(
        data_keys(&data, &id).is_empty(),
        "the purged asset's data key is gone"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_damaged_data_key_fails_only_its_own_asset() {
    let app = spawn_app().await;
    let template = r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#;
    let damaged = app
        .create_asset(json!({
            "name": "Chat", "path": "/s/chat", "secret": CANARY, "template": template
        }))
        .await;
    app.create_asset(json!({
        "name": "Wiki", "path": "/s/wiki", "secret": NEXT_CANARY, "template": template
    }))
    .await;
    let data = app.data_path.clone();
    let parent = app.stop().await.unwrap();
    let id = damaged["id"].as_str().unwrap();
    let [name] = &data_keys(&data, id)[..] else {
        panic!("not one data key")
    };
    let path = data.join("keys").join(name);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();

    // Data keys are read when first used: the server starts, and only the damaged asset fails.
    let app = spawn_app_on(data.clone()).await;
    let key = app.admin_key.clone();
    let res = app.get_token("/s/chat", &key).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.text().await.unwrap(), "");
    verify_hs(
        &app.get_token("/s/wiki", &key).await.text().await.unwrap(),
        NEXT_CANARY.as_bytes(),
    );
    app.stop().await;
    drop(parent);
}

#[tokio::test]
async fn rekey_replaces_the_master_key_and_the_old_one_no_longer_opens_the_store() {
    let app = spawn_app().await;
    app.create_asset(json!({
        "name": "Chat", "path": "/s/chat", "secret": CANARY,
        "template": r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#
    }))
    .await;
    let data = app.data_path.clone();
    let parent = app.stop().await.unwrap();
    let key_file = parent.path().join("data.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    // A mistyped data directory is refused, and the key file is left alone.
    let out = Command::new(env!("CARGO_BIN_EXE_jwt-asset-server"))
        .arg("rekey")
        .env("JWT_ASSET_SERVER_DATA_DIR", parent.path().join("dtaa"))
        .env("JWT_ASSET_SERVER_MASTER_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no store"));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), old_key);

    let out = Command::new(env!("CARGO_BIN_EXE_jwt-asset-server"))
        .arg("rekey")
        .env("JWT_ASSET_SERVER_DATA_DIR", &data)
        .env("JWT_ASSET_SERVER_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 data keys"), "{stdout}");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(old_key, new_key);
    // The old key is kept beside it (backups made before need it), the owner's alone.
    let kept = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("data.key.old-"))
        .expect("the old key is kept");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), old_key);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&kept).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(stdout.contains("old key is kept"), "{stdout}");
    assert!(
        !stdout.contains(new_key.trim()) && !stdout.contains(old_key.trim()),
        "{stdout}"
    );

    let app = spawn_app_on(data.clone()).await;
    let key = app.admin_key.clone();
    verify_hs(
        &app.get_token("/s/chat", &key).await.text().await.unwrap(),
        CANARY.as_bytes(),
    );
    app.stop().await;

    let refused =
        open_with(&data, |s| s.master_key = Some(SecretString::new(old_key))).unwrap_err();
    assert!(refused.contains("sealed with the master key"), "{refused}");
    drop(parent);
}
