//! A throwaway PostgreSQL for tests: `scripts/pg-test-cluster` starts one cluster per test process
//! (deleted when the process ends) and each caller gets a new, empty database in it. Set
//! `JWT_ASSET_SERVER_TEST_DATABASE_URL` to use an existing server instead. Without PostgreSQL the
//! tests that need it are skipped with a note, unless `JAS_REQUIRE_POSTGRES=1` (as in `.ci/run`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

fn server() -> Option<&'static str> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("JWT_ASSET_SERVER_TEST_DATABASE_URL") {
                return Some(url);
            }
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-test-cluster");
            let out = std::process::Command::new(script)
                .arg(std::process::id().to_string())
                .stderr(std::process::Stdio::piped())
                .output();
            match out {
                Ok(out) if out.status.success() => {
                    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
                }
                Ok(out) => {
                    unavailable(&String::from_utf8_lossy(&out.stderr));
                    None
                }
                Err(e) => {
                    unavailable(&e.to_string());
                    None
                }
            }
        })
        .as_deref()
}

fn unavailable(why: &str) {
    if std::env::var("JAS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required (JAS_REQUIRE_POSTGRES=1) but cannot be started: {why}");
    }
    eprintln!(
        "note: skipping the PostgreSQL tests: {} (install PostgreSQL, or run scripts/pg-test-cluster --install)",
        why.trim()
    );
}

/// The URL of a new, empty database, or `None` (after a printed note) without PostgreSQL.
pub fn new_database() -> Option<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = server()?;
    let name = format!(
        "jas_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = server.to_owned();
    let create = name.clone();
    // Its own thread and runtime: callers may be inside an async test.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .expect("connect to the test cluster");
            tokio::spawn(connection);
            client
                .batch_execute(&format!("CREATE DATABASE {create}"))
                .await
                .expect("create a test database");
        })
    })
    .join()
    .expect("the database-creating thread");
    let (base, _) = server.rsplit_once('/').expect("a URL with a database name");
    Some(format!("{base}/{name}"))
}
