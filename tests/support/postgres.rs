#![allow(dead_code)] // Each test crate that includes this uses a part of it.
//! A throwaway PostgreSQL for tests: `scripts/pg-test-cluster` starts one cluster per test process
//! (deleted when the process ends) and each caller gets a new, empty database in it. Set
//! `JWT_ASSET_SERVER_TEST_DATABASE_URL` to use an existing server instead. Without PostgreSQL the
//! tests that need it are skipped with a note, unless `JAS_REQUIRE_POSTGRES=1` (as in `.ci/run`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A cluster of this test process's own (deleted when the process ends).
pub struct Cluster {
    /// `postgres://…/postgres`.
    pub url: String,
    /// Its directory, with the `start` and `stop` scripts.
    pub dir: std::path::PathBuf,
}

impl Cluster {
    /// Start a new cluster, or `None` (after a printed note) without PostgreSQL.
    pub fn start() -> Option<Cluster> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-test-cluster");
        let out = std::process::Command::new(script)
            .arg(std::process::id().to_string())
            .stderr(std::process::Stdio::piped())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                let mut lines = text.lines();
                let url = lines.next()?.trim().to_owned();
                let dir = lines.next()?.trim().into();
                Some(Cluster { url, dir })
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
    }

    /// Stop the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        let ok = std::process::Command::new(self.dir.join("stop"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot stop the test cluster");
    }

    /// Start it again on the same port.
    pub fn restart(&self) {
        let ok = std::process::Command::new(self.dir.join("start"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot start the test cluster again");
    }

    /// A new, empty database in this cluster.
    pub fn new_database(&self) -> String {
        create_database(&self.url)
    }
}

fn shared() -> Option<&'static (String, Option<std::path::PathBuf>)> {
    static SERVER: OnceLock<Option<(String, Option<std::path::PathBuf>)>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("JWT_ASSET_SERVER_TEST_DATABASE_URL") {
                return Some((url, None));
            }
            Cluster::start().map(|c| (c.url, Some(c.dir)))
        })
        .as_ref()
}

fn server() -> Option<&'static str> {
    shared().map(|(url, _)| url.as_str())
}

/// The TLS certificate of the test cluster (self-signed, for `localhost` and `127.0.0.1`), when
/// the tests started the cluster themselves.
pub fn server_certificate() -> Option<std::path::PathBuf> {
    shared()
        .and_then(|(_, dir)| dir.as_ref())
        .map(|d| d.join("server.crt"))
}

fn unavailable(why: &str) {
    if std::env::var("JAS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required (JAS_REQUIRE_POSTGRES=1) but cannot be started: {why}");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests,
    // and this note must be seen.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "note: skipping the PostgreSQL tests: {} (scripts/pg-test-cluster --install installs it)",
        why.trim()
    );
}

/// The URL of a new, empty database, or `None` (after a printed note) without PostgreSQL.
pub fn new_database() -> Option<String> {
    Some(create_database(server()?))
}

fn create_database(server: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
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
    format!("{base}/{name}")
}
