//! What one PostgreSQL database shared by several instances must show: each instance sees the
//! others' changes, they agree on the master key and the schema, and migrations run once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{PgOptions, PgStore};
use crate::domain::asset::AssetState;
use crate::store::sealing::{MasterKey, MasterKeySource};
use crate::store::test_postgres::new_database;
use crate::store::test_records::{api_key, asset, now, user};
use crate::store::{Change, Store, StoreError};

fn options(url: &str) -> PgOptions {
    PgOptions {
        url: url.to_owned(),
        pool_size: 4,
        poll: Duration::from_millis(200),
        instance: crate::ids::random_token::<6>(),
        ca_file: None,
    }
}

fn open(url: &str, key: &MasterKey) -> PgStore {
    PgStore::open(&options(url), &MasterKeySource::Given(key.clone())).unwrap()
}

/// What another instance's feed publishes, as short labels.
fn follow(store: &PgStore) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    store.changes().subscribe(move |change| {
        let label = match change {
            Change::AssetChanged { asset, old_path } => format!(
                "asset {} v{} {}{}",
                asset.path,
                asset.version,
                if asset.is_live() { "Live" } else { "Trashed" },
                old_path
                    .as_ref()
                    .map(|p| format!(" from {p}"))
                    .unwrap_or_default()
            ),
            Change::AssetPurged { path, .. } => format!("purged {path}"),
            Change::UserChanged { .. } => "user".into(),
            Change::SignInSettingsChanged => "sign-in settings".into(),
            Change::SessionChanged { .. } => "session".into(),
            Change::SessionTouched { .. } => "session touched".into(),
            Change::ApiKeyTouched { .. } => "key touched".into(),
            Change::SessionsEnded { digests, .. } => format!("sessions ended {}", digests.len()),
            Change::ApiKeyChanged { digest } => format!("key {}", digest.is_some()),
        };
        sink.lock().unwrap().push(label);
    });
    seen
}

/// Wait up to 5 s until `seen` holds `expected`, then return how long it took.
fn until(seen: &Arc<Mutex<Vec<String>>>, expected: &[&str]) -> Duration {
    let start = Instant::now();
    loop {
        {
            let got = seen.lock().unwrap();
            if got.as_slice() == expected {
                drop(got);
                seen.lock().unwrap().clear();
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "after 5 s the other instance saw {got:?}, not {expected:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn every_instance_sees_every_change_of_the_others_in_order() {
    let Some(url) = new_database() else { return };
    let key = MasterKey::generate().unwrap();
    let a = open(&url, &key);
    let b = open(&url, &key);
    let on_b = follow(&b);
    let on_a = follow(&a);
    // An instance's own writes are published at once, in the writing thread; forget them here so
    // that each list holds only what came from the other instance.
    let mine = |seen: &Arc<Mutex<Vec<String>>>| seen.lock().unwrap().clear();

    let alice = user("alice");
    a.insert_user(&alice).unwrap();
    mine(&on_a);
    until(&on_b, &["user"]);
    assert!(b.user_by_username("ALICE").unwrap().is_some());

    let mut chat = asset("/t/chat");
    a.insert_asset(&chat).unwrap();
    mine(&on_a);
    until(&on_b, &["asset /t/chat v1 Live"]);
    // B opens A's sealed secrets with the shared master key.
    assert_eq!(b.asset(&chat.id).unwrap().unwrap().secret, chat.secret);

    // Edited on B, moved to a new path: A hears the move.
    chat.version = 2;
    chat.path = crate::domain::asset::AssetPath::parse("/t/chat2").unwrap();
    b.replace_asset(&chat, 1).unwrap();
    mine(&on_b);
    until(&on_a, &["asset /t/chat2 v2 Live from /t/chat"]);

    chat.version = 3;
    chat.state = AssetState::Trashed {
        at: now(),
        by: "alice".into(),
    };
    a.replace_asset(&chat, 2).unwrap();
    mine(&on_a);
    until(&on_b, &["asset /t/chat2 v3 Trashed"]);
    a.delete_asset(&chat.id, 3).unwrap();
    mine(&on_a);
    until(&on_b, &["purged /t/chat2"]);
    // An asset changed and purged before another instance reads the change: that instance sees
    // only the purge (the record is gone), and ends in the same state.
    let mut brief = asset("/t/brief");
    a.insert_asset(&brief).unwrap();
    mine(&on_a);
    until(&on_b, &["asset /t/brief v1 Live"]);
    brief.version = 2;
    a.replace_asset(&brief, 1).unwrap();
    a.delete_asset(&brief.id, 2).unwrap();
    mine(&on_a);
    let start = Instant::now();
    while !on_b.lock().unwrap().contains(&"purged /t/brief".to_owned()) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "B never saw the purge"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(on_b.lock().unwrap().last().unwrap(), "purged /t/brief");
    mine(&on_b);

    let k = api_key(&alice, "jas_shared_key");
    a.insert_api_key(&k).unwrap();
    mine(&on_a);
    until(&on_b, &["key true"]);
    b.revoke_api_key(&k.id, now()).unwrap();
    mine(&on_b);
    until(&on_a, &["key true"]);
    assert!(a.api_key_by_digest(&k.digest).unwrap().is_none());

    let d = crate::domain::credentials::digest("session one");
    let s = crate::domain::credentials::Session {
        user_id: alice.id.clone(),
        created_at: now(),
        last_seen: now(),
        csrf_token: "c".into(),
        via: None,
    };
    a.put_session(&d, &s).unwrap();
    mine(&on_a);
    until(&on_b, &["session"]);
    // Active on A: B hears of the newer last-seen time (its idle timer starts again).
    let mut later = s.clone();
    later.last_seen = now() + chrono::Duration::minutes(5);
    a.touch_session(&d, &later).unwrap();
    // Touches are written by A's flusher, which publishes them at A after the commit, so B may
    // hear of it first: wait for both rather than clear A's list before its own arrives.
    until(&on_b, &["session touched"]);
    until(&on_a, &["session touched"]);
    assert_eq!(b.session(&d).unwrap().unwrap().last_seen, later.last_seen);
    b.remove_user_sessions(&alice.id).unwrap();
    mine(&on_b);
    until(&on_a, &["sessions ended 1"]);
    assert!(a.session(&d).unwrap().is_none());

    // Nothing of its own comes back to an instance.
    mine(&on_a);
    mine(&on_b);
    std::thread::sleep(Duration::from_millis(500));
    assert!(on_a.lock().unwrap().is_empty());
    assert!(on_b.lock().unwrap().is_empty());
}

#[test]
fn an_instance_that_missed_notifications_catches_up_by_sequence() {
    let Some(url) = new_database() else { return };
    let key = MasterKey::generate().unwrap();
    // A long poll: only a notification or a catch-up wakes B.
    let mut slow = options(&url);
    slow.poll = Duration::from_secs(3600);
    let a = open(&url, &key);
    let b = PgStore::open(&slow, &MasterKeySource::Given(key.clone())).unwrap();
    let on_b = follow(&b);
    let start = Instant::now();
    while !b.listening() {
        assert!(start.elapsed() < Duration::from_secs(5), "B never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    // Three changes recorded with no notification, as when B's listening connection was down.
    let ids: Vec<String> = ["u1", "u2", "u3"]
        .iter()
        .map(|n| user(n).id.as_str().to_owned())
        .collect();
    a.query(move |c| {
        Box::pin(async move {
            for id in &ids {
                let change = serde_json::json!({"kind": "user", "id": id});
                c.execute(
                    "INSERT INTO changes (writer, change) VALUES ('elsewhere', $1)",
                    &[&change],
                )
                .await
                .map_err(super::db_error)?;
            }
            Ok(())
        })
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(on_b.lock().unwrap().is_empty(), "nothing woke B");
    // The catch-up after a reconnect (or the next poll) applies all of them, in order, once.
    assert_eq!(b.catch_up().unwrap(), 3);
    until(&on_b, &["user", "user", "user"]);
    assert_eq!(b.catch_up().unwrap(), 0);
}

#[test]
fn instances_must_share_the_master_key() {
    let Some(url) = new_database() else { return };
    let first = MasterKey::generate().unwrap();
    let a = open(&url, &first);
    a.insert_asset(&asset("/t/x")).unwrap();
    let other = MasterKey::generate().unwrap();
    let refused = PgStore::open(&options(&url), &MasterKeySource::Given(other)).err();
    match refused {
        Some(StoreError::MasterKey(m)) => {
            assert!(m.contains(first.id()), "{m}");
            assert!(m.contains("same key"), "{m}");
        }
        other => panic!("expected a master key error, got {other:?}"),
    }
    // A missing key file names the key the database needs.
    let dir = tempfile::tempdir().unwrap();
    let missing = MasterKeySource::File(dir.path().join("absent.key"));
    match PgStore::open(&options(&url), &missing).err() {
        Some(StoreError::MasterKey(m)) => assert!(m.contains(first.id()), "{m}"),
        other => panic!("expected a master key error, got {other:?}"),
    }
    assert!(
        !dir.path().join("absent.key").exists(),
        "no new key is made for a sealed database"
    );
}

#[test]
fn instances_starting_at_once_migrate_once_and_a_newer_schema_is_refused() {
    let Some(url) = new_database() else { return };
    let key = MasterKey::generate().unwrap();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, key) = (url.clone(), key.clone());
            std::thread::spawn(move || {
                PgStore::open(&options(&url), &MasterKeySource::Given(key)).map(|_| ())
            })
        })
        .collect();
    for s in starts {
        s.join().unwrap().unwrap();
    }
    let store = open(&url, &key);
    let versions: Vec<i32> = store
        .query(|c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT version FROM jas_schema_migrations ORDER BY version",
                        &[],
                    )
                    .await
                    .map_err(super::db_error)?;
                c.execute(
                    "INSERT INTO jas_schema_migrations (version) VALUES (99)",
                    &[],
                )
                .await
                .map_err(super::db_error)?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
        })
        .unwrap();
    assert_eq!(versions, (1..=super::PG_SCHEMA_VERSION).collect::<Vec<_>>());
    match PgStore::open(&options(&url), &MasterKeySource::Given(key)).err() {
        Some(e @ StoreError::TooNewDatabase { found: 99, .. }) => {
            assert!(e.to_string().contains("newer jwt-asset-server"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_unreachable_database_is_unavailable_not_a_panic() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://jas@127.0.0.1:{port}/nothing?connect_timeout=1");
    let key = MasterKeySource::Given(MasterKey::generate().unwrap());
    match PgStore::open(&options(&url), &key).err() {
        Some(StoreError::Unavailable(m)) => assert!(m.contains("unreachable"), "{m}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// Whether this store's connections are encrypted.
fn uses_tls(store: &PgStore) -> bool {
    store
        .query(|c| {
            Box::pin(async move {
                Ok(c.query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .map_err(super::db_error)?
                .get(0))
            })
        })
        .unwrap()
}

#[test]
fn tls_is_used_when_offered_and_verified_when_required() {
    let Some(url) = new_database() else { return };
    let Some(ca) = crate::store::test_postgres::server_certificate() else {
        return;
    };
    let key = MasterKey::generate().unwrap();
    // prefer (the default): encrypted, the self-signed certificate not verified.
    assert!(uses_tls(&open(&url, &key)));
    // disable: in the clear.
    assert!(!uses_tls(&open(&format!("{url}?sslmode=disable"), &key)));
    // require: verified, so the test cluster's own certificate must be given as the CA…
    let required = format!("{url}?sslmode=require").replace("127.0.0.1", "localhost");
    let given = MasterKeySource::Given(key.clone());
    match PgStore::open(&options(&required), &given).err() {
        Some(StoreError::Unavailable(m)) => {
            assert!(m.contains("--database-ca-file"), "{m}")
        }
        other => panic!("an untrusted certificate must be refused, got {other:?}"),
    }
    let mut with_ca = options(&required);
    with_ca.ca_file = Some(ca.clone());
    let store = PgStore::open(&with_ca, &given).unwrap();
    assert!(uses_tls(&store));
    // …and the host name must match it (the certificate names localhost and 127.0.0.1 only):
    // the same server, reached at its address under another name, is refused.
    let renamed = required.replace("localhost", "db.example.test") + "&hostaddr=127.0.0.1";
    let mut wrong_host = options(&renamed);
    wrong_host.ca_file = Some(ca);
    match PgStore::open(&wrong_host, &given).err() {
        Some(StoreError::Unavailable(m)) => assert!(m.contains("certificate"), "{m}"),
        other => panic!("a certificate for another name must be refused, got {other:?}"),
    }
    // A CA file that is not a certificate is a clear error.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("ca.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let mut bad = options(&required);
    bad.ca_file = Some(junk);
    match PgStore::open(&bad, &given).err() {
        Some(StoreError::Io(m)) => assert!(m.contains("no PEM certificate"), "{m}"),
        other => panic!("expected a CA file error, got {other:?}"),
    }
}
