//! The crash test: the real binary, SIGKILLed at a random moment while administrators write,
//! then opened again: every write it acknowledged is there, every index agrees with its records,
//! and the store opens (no false "lost writes"). `CRASH_CYCLES` sets the number of cycles (5 in
//! `cargo test`; `scripts/crash-test` runs 100).

use std::path::Path;
use std::time::{Duration, Instant};

use jwt_asset_server::Settings;
use jwt_asset_server::app::open_service;
use serde_json::json;

use crate::cli::{Server, cli, stdout};
use crate::helpers::TEST_SECRET;

/// A small deterministic generator (xorshift), seeded from the clock and printed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What the server acknowledged: assets created (path) and trashed (path); and the trashes
/// asked for without an answer (the kill came first: either state is right).
#[derive(Default)]
struct Acknowledged {
    created: Vec<String>,
    trashed: Vec<String>,
    unanswered: Vec<String>,
}

/// Create (and now and then trash) assets until the server stops answering.
async fn write_until_killed(server_url: String, key: String, cycle: u64) -> Acknowledged {
    let client = reqwest::Client::new();
    let mut acked = Acknowledged::default();
    for i in 0.. {
        let path = format!("/crash/c{cycle}-{i}");
        let created = client
            .post(format!("{server_url}/api/v1/assets"))
            .bearer_auth(&key)
            .json(&json!({"name": path, "path": path, "secret": TEST_SECRET, "template": "{}"}))
            .send()
            .await;
        match created {
            Ok(res) if res.status() == reqwest::StatusCode::CREATED => {
                let id = res
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned));
                acked.created.push(path.clone());
                if i % 3 == 2
                    && let Some(id) = id
                {
                    let trashed = client
                        .post(format!("{server_url}/api/v1/assets/{id}/trash"))
                        .bearer_auth(&key)
                        .send()
                        .await;
                    if trashed.is_ok_and(|r| r.status().is_success()) {
                        acked.trashed.push(path);
                    } else {
                        acked.unanswered.push(path);
                    }
                }
            }
            _ => break,
        }
    }
    acked
}

/// Open the killed server's store in this process and check it against what was acknowledged.
fn verify(data: &Path, all: &Acknowledged) {
    let service = open_service(&Settings::for_data_dir(data))
        .unwrap_or_else(|e| panic!("the store opens after a SIGKILL: {e}"));
    for path in &all.created {
        let asset = service
            .find_asset(path)
            .unwrap_or_else(|e| panic!("acknowledged {path} is missing: {e}"));
        if all.trashed.contains(path) {
            assert_eq!(asset.state.as_str(), "trashed", "{path}");
        } else if !all.unanswered.contains(path) {
            assert_eq!(asset.state.as_str(), "live", "{path}");
        }
    }
    for asset in service.assets().unwrap() {
        let by_path = service.find_asset(&asset.path).unwrap();
        assert_eq!(
            by_path.id, asset.id,
            "the path index of {} agrees",
            asset.path
        );
    }
    service.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_sigkill_at_any_moment() {
    let cycles: u64 = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(5);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test: {cycles} cycles, seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        cli(&data, &["user", "add", "ops", "--admin"], None)
            .status
            .success()
    );
    let key = stdout(&cli(
        &data,
        &[
            "apikey",
            "create",
            "ops",
            "--scope",
            "admin:read",
            "--scope",
            "admin:write",
        ],
        None,
    ))
    .trim()
    .to_owned();
    let mut all = Acknowledged::default();
    let started = Instant::now();
    for cycle in 0..cycles {
        let mut server = Server::start(&data, None);
        let writer = tokio::spawn(write_until_killed(server.url(""), key.clone(), cycle));
        tokio::time::sleep(Duration::from_millis(50 + rng.below(400))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let acked = writer.await.unwrap();
        all.created.extend(acked.created);
        all.trashed.extend(acked.trashed);
        all.unanswered.extend(acked.unanswered);
        verify(&data, &all);
    }
    eprintln!(
        "crash test: {cycles} SIGKILLs, {} acknowledged creates and {} trashes all present, in {:?}",
        all.created.len(),
        all.trashed.len(),
        started.elapsed()
    );
    assert!(!all.created.is_empty(), "the writer got some writes in");
}
