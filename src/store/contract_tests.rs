//! The contract every `Store` backend keeps, as one suite generic over the backend: run against
//! sled here, and against every backend added later. Each check opens a fresh, empty store with
//! the factory it is given.

use std::sync::{Arc, Mutex};

use super::test_records::{api_key, asset, now, user};
use super::{Change, Store, StoreError};
use crate::domain::asset::{AssetPath, AssetState};
use crate::domain::audit::{AuditAction, AuditEvent, AuditFilter, TextMatch};
use crate::domain::credentials::{Session, digest};
use crate::domain::user::User;
use crate::secret::Secret;

fn session(owner: &User) -> Session {
    Session {
        user_id: owner.id.clone(),
        created_at: now(),
        last_seen: now(),
        csrf_token: "csrf".into(),
        via: None,
    }
}

/// Every change the store publishes, in order, as short labels.
fn record_changes(store: &dyn Store) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    store.changes().subscribe(move |change| {
        let label = match change {
            Change::AssetChanged { asset, old_path } => format!(
                "asset {} {}{}",
                asset.path,
                asset.version,
                old_path
                    .as_ref()
                    .map(|p| format!(" from {p}"))
                    .unwrap_or_default()
            ),
            Change::AssetPurged { path, .. } => format!("purged {path}"),
            Change::UserChanged { .. } => "user".into(),
            Change::SignInSettingsChanged => "sign-in settings".into(),
            Change::SessionChanged { .. } | Change::SessionTouched { .. } => "session".into(),
            Change::ApiKeyTouched { .. } => "key true".into(),
            Change::SessionsEnded { digests, .. } => format!("sessions ended {}", digests.len()),
            Change::ApiKeyChanged { digest } => format!("key {}", digest.is_some()),
        };
        sink.lock().unwrap().push(label);
    });
    seen
}

fn taken(seen: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *seen.lock().unwrap())
}

/// Usernames are unique without regard to case; a refused insert changes nothing.
pub fn usernames_are_unique_without_regard_to_case(store: &dyn Store) {
    let seen = record_changes(store);
    store.insert_user(&user("alice")).unwrap();
    let err = store.insert_user(&user("ALICE")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.users().unwrap().len(), 1);
    assert_eq!(
        store
            .user_by_username("Alice")
            .unwrap()
            .unwrap()
            .username
            .as_str(),
        "alice"
    );
    assert_eq!(taken(&seen), ["user"]);
}

/// A path belongs to one asset, live or trashed; moving an asset frees its old path.
pub fn paths_are_unique_among_live_and_trashed_assets(store: &dyn Store) {
    let seen = record_changes(store);
    let mut a = asset("/t/chat");
    store.insert_asset(&a).unwrap();
    let err = store.insert_asset(&asset("/t/chat")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    a.state = AssetState::Trashed {
        at: now(),
        by: "admin".into(),
    };
    a.version = 2;
    store.replace_asset(&a, 1).unwrap();
    let err = store.insert_asset(&asset("/t/chat")).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "a trashed asset keeps its path"
    );

    a.path = AssetPath::parse("/t/moved").unwrap();
    a.version = 3;
    store.replace_asset(&a, 2).unwrap();
    store.insert_asset(&asset("/t/chat")).unwrap();
    assert_eq!(store.asset_by_path("/t/moved").unwrap().unwrap().id, a.id);
    assert_eq!(
        taken(&seen),
        [
            "asset /t/chat 1",
            "asset /t/chat 2",
            "asset /t/moved 3 from /t/chat",
            "asset /t/chat 1"
        ]
    );
}

/// An edit based on an old version is refused and stores nothing; purge publishes the path.
pub fn an_edit_of_an_old_version_is_refused(store: &dyn Store) {
    let mut a = asset("/t/chat");
    store.insert_asset(&a).unwrap();
    let seen = record_changes(store);
    a.name = "Changed".into();
    a.version = 2;
    let err = store.replace_asset(&a, 7).unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch), "{err:?}");
    assert_eq!(store.asset(&a.id).unwrap().unwrap().name, "Chat");
    store.replace_asset(&a, 1).unwrap();
    assert_eq!(store.asset(&a.id).unwrap().unwrap().version, 2);
    // A purge held to the version before the edit finds the record moved on: nothing goes.
    assert!(matches!(
        store.delete_asset(&a.id, 1).unwrap_err(),
        StoreError::VersionMismatch
    ));
    assert!(store.asset_by_path("/t/chat").unwrap().is_some());
    store.delete_asset(&a.id, 2).unwrap();
    assert!(store.asset(&a.id).unwrap().is_none());
    assert!(store.asset_by_path("/t/chat").unwrap().is_none());
    assert!(matches!(
        store.delete_asset(&a.id, 2).unwrap_err(),
        StoreError::Missing
    ));
    assert_eq!(taken(&seen), ["asset /t/chat 2", "purged /t/chat"]);
}

/// A revoked key is never found again, even when a late "last used" update arrives for it.
pub fn a_revoked_key_never_comes_back(store: &dyn Store) {
    let alice = user("alice");
    store.insert_user(&alice).unwrap();
    let key = api_key(&alice, "jas_secret_one");
    store.insert_api_key(&key).unwrap();
    assert!(store.api_key_by_digest(&key.digest).unwrap().is_some());
    let seen = record_changes(store);
    let revoked = store.revoke_api_key(&key.id, now()).unwrap();
    assert_eq!(revoked.revoked_at, Some(now()));
    let mut late = key.clone();
    late.last_used_at = Some(now());
    store.touch_api_key(&late).unwrap();
    // The touch is written (and published) at once or in a batch a moment later.
    eventually(|| taken_len(&seen) >= 2);
    assert!(store.api_key_by_digest(&key.digest).unwrap().is_none());
    let listed = store.api_keys(&alice.id).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some(), "the record stays, revoked");
    assert_eq!(taken(&seen), ["key true", "key true"]);
}

/// Sessions are found by digest and by user; ending a user's sessions ends exactly theirs.
pub fn sessions_of_a_user_end_together(store: &dyn Store) {
    let (alice, bob) = (user("alice"), user("bob"));
    store.insert_user(&alice).unwrap();
    store.insert_user(&bob).unwrap();
    let seen = record_changes(store);
    let (a1, a2, b1) = (digest("a1"), digest("a2"), digest("b1"));
    store.put_session(&a1, &session(&alice)).unwrap();
    store.put_session(&a2, &session(&alice)).unwrap();
    store.put_session(&b1, &session(&bob)).unwrap();
    assert_eq!(store.user_sessions(&alice.id).unwrap().len(), 2);
    assert_eq!(store.remove_user_sessions(&alice.id).unwrap(), 2);
    assert!(store.session(&a1).unwrap().is_none());
    assert!(store.session(&a2).unwrap().is_none());
    assert!(store.session(&b1).unwrap().is_some());
    store.remove_session(&b1).unwrap();
    assert!(store.session(&b1).unwrap().is_none());
    assert!(store.user_sessions(&bob.id).unwrap().is_empty());
    assert_eq!(
        taken(&seen),
        [
            "session",
            "session",
            "session",
            "sessions ended 2",
            "session"
        ]
    );
}

/// Deleting a user takes their sessions and keys with them (and nobody else's); the username is
/// free again, and a second delete finds nothing.
pub fn a_deleted_user_takes_their_sessions_and_keys(store: &dyn Store) {
    let (alice, bob) = (user("alice"), user("bob"));
    store.insert_user(&alice).unwrap();
    store.insert_user(&bob).unwrap();
    let (a_key, b_key) = (api_key(&alice, "jas_alice"), api_key(&bob, "jas_bob"));
    store.insert_api_key(&a_key).unwrap();
    store.insert_api_key(&b_key).unwrap();
    let (a1, b1) = (digest("a1"), digest("b1"));
    store.put_session(&a1, &session(&alice)).unwrap();
    store.put_session(&b1, &session(&bob)).unwrap();
    // Read once so that a caching layer holds them.
    assert!(store.user(&alice.id).unwrap().is_some());
    assert!(store.api_key_by_digest(&a_key.digest).unwrap().is_some());
    assert!(store.session(&a1).unwrap().is_some());
    let seen = record_changes(store);
    // Held to a version the record is not at (changed meanwhile): nothing goes.
    assert!(matches!(
        store.delete_user(&alice.id, alice.version + 1),
        Err(StoreError::VersionMismatch)
    ));
    assert!(store.user(&alice.id).unwrap().is_some());
    assert!(store.api_key_by_digest(&a_key.digest).unwrap().is_some());
    assert!(store.session(&a1).unwrap().is_some());
    store.delete_user(&alice.id, alice.version).unwrap();
    assert!(store.user(&alice.id).unwrap().is_none());
    assert!(store.user_by_username("ALICE").unwrap().is_none());
    assert!(store.api_key_by_digest(&a_key.digest).unwrap().is_none());
    assert!(store.api_keys(&alice.id).unwrap().is_empty());
    assert!(store.session(&a1).unwrap().is_none());
    assert!(store.user_sessions(&alice.id).unwrap().is_empty());
    assert_eq!(
        store
            .users()
            .unwrap()
            .iter()
            .map(|u| u.username.as_str().to_owned())
            .collect::<Vec<_>>(),
        ["bob"]
    );
    assert!(store.api_key_by_digest(&b_key.digest).unwrap().is_some());
    assert!(store.session(&b1).unwrap().is_some());
    assert!(matches!(
        store.delete_user(&alice.id, alice.version),
        Err(StoreError::Missing)
    ));
    store.insert_user(&user("Alice")).unwrap();
    let labels = taken(&seen);
    assert!(
        labels.contains(&"sessions ended 1".to_owned()),
        "{labels:?}"
    );
    assert!(labels.contains(&"key true".to_owned()), "{labels:?}");
}

/// Audit events read back newest first, filtered; retention keeps at least the newest `keep`.
pub fn audit_reads_newest_first_and_retention_keeps_the_newest(store: &dyn Store) {
    let events: Vec<AuditEvent> = (0..1000)
        .map(|i| {
            AuditEvent::admin(
                if i % 2 == 0 { "alice" } else { "bob" },
                AuditAction::TokenIssue,
                &format!("/t/{i}"),
            )
        })
        .collect();
    for chunk in events.chunks(100) {
        store.append_audit(chunk).unwrap();
    }
    assert_eq!(store.audit_len().unwrap(), 1000);
    let newest = store.audit_events(&AuditFilter::default(), 3).unwrap();
    let targets: Vec<&str> = newest.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["/t/999", "/t/998", "/t/997"]);
    let bobs = store
        .audit_events(&AuditFilter::exact(Some("bob"), None), 2)
        .unwrap();
    assert!(bobs.iter().all(|e| e.actor == "bob"));
    assert_eq!(bobs[0].target, "/t/999");

    store.keep_newest_audit(100).unwrap();
    let kept = store.audit_len().unwrap();
    assert!((100..1000).contains(&kept), "kept {kept}");
    let all = store.audit_events(&AuditFilter::default(), 2000).unwrap();
    assert_eq!(all.len() as u64, kept);
    assert_eq!(all[0].target, "/t/999");
    assert_eq!(all[99].target, "/t/900", "the newest 100 are all there");
}

/// The audit filters: a username or target by its beginning (without regard to case, `%` and
/// `_` taken literally), an action or its family, a time range; combined.
pub fn audit_filters_match_prefixes_actions_and_times(store: &dyn Store) {
    let at = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
    let event = |s: i64, actor: &str, action: AuditAction, target: &str| AuditEvent {
        at: at(s),
        ..AuditEvent::admin(actor, action, target)
    };
    store
        .append_audit(&[
            event(0, "alice", AuditAction::AssetCreate, "/chat/token"),
            event(10, "Alicia", AuditAction::AssetUpdate, "/Chat/other"),
            event(20, "bob", AuditAction::TokenIssue, "/chat/token"),
            event(30, "al_x", AuditAction::UserCreate, "carol"),
            event(40, "alice", AuditAction::TokenIssue, "/video/room"),
        ])
        .unwrap();
    let targets = |f: AuditFilter| -> Vec<String> {
        store
            .audit_events(&f, 100)
            .unwrap()
            .into_iter()
            .map(|e| format!("{}@{}", e.actor, e.at.timestamp() - 1_800_000_000))
            .collect()
    };
    let prefix = |p: &str| Some(TextMatch::Prefix(p.into()));
    assert_eq!(
        targets(AuditFilter {
            actor: prefix("ALI"),
            ..Default::default()
        }),
        ["alice@40", "Alicia@10", "alice@0"]
    );
    assert_eq!(
        targets(AuditFilter {
            actor: prefix("al_"),
            ..Default::default()
        }),
        ["al_x@30"],
        "_ is not a wildcard"
    );
    assert_eq!(
        targets(AuditFilter {
            actor: prefix("%"),
            ..Default::default()
        }),
        Vec::<String>::new(),
        "% is not a wildcard"
    );
    assert_eq!(
        targets(AuditFilter {
            target: prefix("/chat/"),
            ..Default::default()
        }),
        ["bob@20", "Alicia@10", "alice@0"]
    );
    assert_eq!(
        targets(AuditFilter::exact(None, Some("/chat/token"))),
        ["bob@20", "alice@0"]
    );
    assert_eq!(
        targets(AuditFilter {
            action: Some("asset".into()),
            ..Default::default()
        }),
        ["Alicia@10", "alice@0"]
    );
    assert_eq!(
        targets(AuditFilter {
            action: Some("token.issue".into()),
            ..Default::default()
        }),
        ["alice@40", "bob@20"]
    );
    assert_eq!(
        targets(AuditFilter {
            since: Some(at(10)),
            until: Some(at(30)),
            ..Default::default()
        }),
        ["bob@20", "Alicia@10"]
    );
    assert_eq!(
        targets(AuditFilter {
            actor: prefix("alice"),
            action: Some("token".into()),
            since: Some(at(1)),
            ..Default::default()
        }),
        ["alice@40"]
    );
}

/// A user update over the version it was read at is stored and published; over an older version
/// it is refused and changes nothing; a missing user is `Missing`.
pub fn user_updates_need_the_version_they_were_read_at(store: &dyn Store) {
    let mut alice = user("alice");
    store.insert_user(&alice).unwrap();
    let seen = record_changes(store);
    alice.groups = vec!["ops".into()];
    alice.version = 2;
    store.update_user(&alice, 1).unwrap();
    assert_eq!(store.user(&alice.id).unwrap().unwrap().groups, ["ops"]);
    let mut stale = alice.clone();
    stale.groups = vec!["lost".into()];
    let err = store.update_user(&stale, 1).unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch), "{err:?}");
    assert_eq!(store.user(&alice.id).unwrap().unwrap().groups, ["ops"]);
    let err = store.update_user(&user("nobody"), 1).unwrap_err();
    assert!(matches!(err, StoreError::Missing), "{err:?}");
    assert_eq!(taken(&seen), ["user"]);
}

/// A data migration, once marked done, stays done (and marking it again is harmless); others
/// are not.
pub fn data_migrations_are_marked_done_once(store: &dyn Store) {
    assert!(!store.data_migration_done("merge-groups").unwrap());
    store.mark_data_migration_done("merge-groups").unwrap();
    store.mark_data_migration_done("merge-groups").unwrap();
    assert!(store.data_migration_done("merge-groups").unwrap());
    assert!(!store.data_migration_done("merge").unwrap());
}

/// A user is found by the upstream identity it is linked to, and only by that one.
pub fn users_are_found_by_their_upstream_identity(store: &dyn Store) {
    let mut alice = user("alice");
    alice.upstream = Some(crate::domain::user::UpstreamLink {
        provider: "corp".into(),
        issuer: "https://id.example.org".into(),
        subject: "sub-1".into(),
    });
    store.insert_user(&alice).unwrap();
    store.insert_user(&user("bob")).unwrap();
    let found = store
        .user_by_upstream("https://id.example.org", "sub-1")
        .unwrap()
        .expect("alice");
    assert_eq!(found.id, alice.id);
    for (issuer, subject) in [
        ("https://id.example.org", "sub-2"),
        ("https://other", "sub-1"),
    ] {
        assert!(store.user_by_upstream(issuer, subject).unwrap().is_none());
    }
}

/// The sign-in settings start as the defaults, are replaced only over the version they were read
/// at, and keep a provider's client secret.
pub fn sign_in_settings_need_the_version_they_were_read_at(store: &dyn Store) {
    let empty = store.sign_in_settings().unwrap();
    assert_eq!((empty.version, empty.providers.len()), (0, 0));
    let seen = record_changes(store);
    let provider = crate::domain::identity::ProviderInput {
        id: "corp".into(),
        issuer: "https://id.example.org".into(),
        client_id: "jas".into(),
        client_secret: Some(crate::secret::SecretString::new("client-secret-1".into())),
        ..Default::default()
    }
    .check(None)
    .unwrap();
    let settings = crate::domain::identity::SignInSettings {
        providers: vec![provider],
        upstream_only: true,
        break_glass: vec!["root".into()],
        version: 1,
    };
    store.replace_sign_in_settings(&settings, 0).unwrap();
    let read = store.sign_in_settings().unwrap();
    assert_eq!(read.version, 1);
    assert!(read.upstream_only);
    assert_eq!(
        read.provider("corp").unwrap().client_secret.expose(),
        "client-secret-1"
    );
    let err = store.replace_sign_in_settings(&settings, 0).unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch), "{err:?}");
    assert_eq!(taken(&seen), ["sign-in settings"]);
}

/// Failed sign-ins are counted per name within the window, forgotten when cleared, and a
/// window that has passed starts over.
pub fn failed_sign_ins_are_counted_per_name_within_the_window(store: &dyn Store) {
    let window = chrono::Duration::minutes(15);
    let t0 = now();
    assert_eq!(store.failed_sign_ins("alice", t0, window).unwrap(), None);
    for i in 1..=3 {
        let (count, since) = store
            .note_failed_sign_in("alice", t0 + chrono::Duration::seconds(i), window)
            .unwrap();
        assert_eq!(
            (count, since),
            (i as u32, t0 + chrono::Duration::seconds(1))
        );
    }
    store.note_failed_sign_in("bob", t0, window).unwrap();
    let later = t0 + chrono::Duration::minutes(5);
    assert_eq!(
        store
            .failed_sign_ins("alice", later, window)
            .unwrap()
            .unwrap()
            .0,
        3
    );
    let past = t0 + chrono::Duration::minutes(20);
    assert_eq!(store.failed_sign_ins("alice", past, window).unwrap(), None);
    assert_eq!(
        store.note_failed_sign_in("alice", past, window).unwrap(),
        (1, past)
    );
    store.clear_failed_sign_ins("alice").unwrap();
    assert_eq!(store.failed_sign_ins("alice", past, window).unwrap(), None);
    assert_eq!(
        store
            .failed_sign_ins("bob", later, window)
            .unwrap()
            .unwrap()
            .0,
        1
    );
}

/// Best-effort writes (last seen, last used, an expired session) publish their change too.
pub fn touches_are_published(store: &dyn Store) {
    let alice = user("alice");
    store.insert_user(&alice).unwrap();
    let d = digest("s1");
    store.put_session(&d, &session(&alice)).unwrap();
    let key = api_key(&alice, "jas_secret_two");
    store.insert_api_key(&key).unwrap();
    let seen = record_changes(store);
    let mut later = session(&alice);
    later.last_seen = now() + chrono::Duration::minutes(1);
    store.touch_session(&d, &later).unwrap();
    let mut used = key.clone();
    used.last_used_at = Some(now());
    store.touch_api_key(&used).unwrap();
    // Touches are best-effort: a backend may write them in batches, within a few seconds.
    eventually(|| store.session(&d).unwrap().unwrap().last_seen == later.last_seen);
    eventually(|| {
        store
            .api_key_by_digest(&key.digest)
            .unwrap()
            .unwrap()
            .last_used_at
            == Some(now())
    });
    eventually(|| taken_len(&seen) >= 2);
    store.discard_session(&d).unwrap();
    eventually(|| store.session(&d).unwrap().is_none());
    assert!(store.user_sessions(&alice.id).unwrap().is_empty());
    assert_eq!(taken(&seen), ["session", "key true", "session"]);
}

/// Wait up to 5 s for `done`.
fn eventually(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "not within 5 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn taken_len(seen: &Arc<Mutex<Vec<String>>>) -> usize {
    seen.lock().unwrap().len()
}

/// Run every check of the contract, each on a fresh store from `open`.
/// A restore writes every record into an empty store, readable as written; a non-empty store
/// refuses it.
fn a_dump_loads_into_an_empty_store_as_it_was_read(from: &dyn Store, to: &dyn Store) {
    let alice = user("alice");
    from.insert_user(&alice).unwrap();
    from.insert_user(&user("bob")).unwrap();
    let key = api_key(&alice, "jas_alice_key_1");
    from.insert_api_key(&key).unwrap();
    let revoked = api_key(&alice, "jas_alice_key_2");
    from.insert_api_key(&revoked).unwrap();
    from.revoke_api_key(&revoked.id, now()).unwrap();
    let mut a = asset("/c/one");
    a.next_secret = Some(Secret::new(b"next-secret-next-secret-next-sec".to_vec()));
    from.insert_asset(&a).unwrap();
    from.insert_asset(&asset("/c/two")).unwrap();
    from.append_audit(&[AuditEvent::admin(
        "alice",
        AuditAction::AssetCreate,
        "/c/one",
    )])
    .unwrap();
    let settings = crate::domain::identity::SignInSettings {
        break_glass: vec!["alice".into()],
        version: 1,
        ..Default::default()
    };
    from.replace_sign_in_settings(&settings, 0).unwrap();

    let records = super::dump::StoreRecords::read(from).unwrap();
    to.load(&records).unwrap();
    let again = super::dump::StoreRecords::read(to).unwrap();
    let json = |r: &super::dump::StoreRecords| {
        serde_json::to_string(&(&r.users, &r.api_keys, &r.assets, &r.audit)).unwrap()
    };
    assert_eq!(json(&records), json(&again));
    assert_eq!(to.sign_in_settings().unwrap().break_glass, ["alice"]);
    assert_eq!(
        to.asset_by_path("/c/one").unwrap().unwrap().next_secret,
        a.next_secret
    );
    assert!(to.api_key_by_digest(&key.digest).unwrap().is_some());
    assert!(to.api_key_by_digest(&revoked.digest).unwrap().is_none());
    assert!(to.user_by_username("ALICE").unwrap().is_some());
    assert!(matches!(to.load(&records), Err(StoreError::Conflict(_))));
}

/// The asset index lists every asset with its secret material left sealed (emptied), and says
/// which secrets are weak.
pub fn the_asset_index_leaves_secrets_sealed(store: &dyn Store) {
    let strong = asset("/t/strong");
    let mut weak = asset("/t/weak");
    weak.secret = crate::secret::Secret::new(b"short".to_vec());
    store.insert_asset(&strong).unwrap();
    store.insert_asset(&weak).unwrap();
    let mut index: Vec<(String, bool, usize)> = store
        .asset_index()
        .unwrap()
        .into_iter()
        .map(|b| {
            (
                b.asset.path.to_string(),
                b.weak_secret,
                b.asset.secret.len(),
            )
        })
        .collect();
    index.sort();
    assert_eq!(
        index,
        [("/t/strong".into(), false, 0), ("/t/weak".into(), true, 0)]
    );
    assert_eq!(
        store.asset(&weak.id).unwrap().unwrap().secret.expose(),
        b"short"
    );
}

/// Every check, each on a fresh store from `open`.
pub fn run_all(open: impl Fn() -> Arc<dyn Store>) {
    a_dump_loads_into_an_empty_store_as_it_was_read(open().as_ref(), open().as_ref());
    usernames_are_unique_without_regard_to_case(open().as_ref());
    paths_are_unique_among_live_and_trashed_assets(open().as_ref());
    an_edit_of_an_old_version_is_refused(open().as_ref());
    a_revoked_key_never_comes_back(open().as_ref());
    sessions_of_a_user_end_together(open().as_ref());
    a_deleted_user_takes_their_sessions_and_keys(open().as_ref());
    audit_reads_newest_first_and_retention_keeps_the_newest(open().as_ref());
    audit_filters_match_prefixes_actions_and_times(open().as_ref());
    user_updates_need_the_version_they_were_read_at(open().as_ref());
    sign_in_settings_need_the_version_they_were_read_at(open().as_ref());
    users_are_found_by_their_upstream_identity(open().as_ref());
    failed_sign_ins_are_counted_per_name_within_the_window(open().as_ref());
    touches_are_published(open().as_ref());
    data_migrations_are_marked_done_once(open().as_ref());
    the_asset_index_leaves_secrets_sealed(open().as_ref());
}

mod sled_backend {
    use std::cell::RefCell;
    use std::sync::Arc;

    use crate::store::Store;
    use crate::store::cached::CachedStore;
    use crate::store::sled::SledStore;

    /// Fresh stores in temporary directories that live until the end of the test.
    fn run_all_on_sled(wrap: impl Fn(Arc<dyn Store>) -> Arc<dyn Store>) {
        let dirs = RefCell::new(Vec::new());
        super::run_all(|| {
            let dir = tempfile::tempdir().unwrap();
            let store: Arc<dyn Store> = Arc::new(SledStore::open_for_test(dir.path()).unwrap());
            dirs.borrow_mut().push(dir);
            wrap(store)
        });
    }

    #[test]
    fn the_sled_store_keeps_the_store_contract() {
        run_all_on_sled(|store| store);
    }

    #[test]
    fn the_cached_layer_over_sled_keeps_the_store_contract() {
        run_all_on_sled(|store| Arc::new(CachedStore::new(store)));
    }
}

mod postgres_backend {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::store::Store;
    use crate::store::cached::CachedStore;
    use crate::store::postgres::{PgOptions, PgStore};
    use crate::store::sealing::{MasterKey, MasterKeySource};
    use crate::store::test_postgres::new_database;

    pub(crate) fn options(url: String) -> PgOptions {
        PgOptions {
            url,
            pool_size: 4,
            poll: Duration::from_millis(200),
            instance: crate::ids::random_token::<6>(),
            ca_file: None,
        }
    }

    fn run_all_on_postgres(wrap: impl Fn(Arc<dyn Store>) -> Arc<dyn Store>) {
        let Some(first) = new_database() else { return };
        let urls = RefCell::new(vec![first]);
        super::run_all(|| {
            let url = urls
                .borrow_mut()
                .pop()
                .or_else(new_database)
                .expect("a test database");
            let key = MasterKeySource::Given(MasterKey::generate().unwrap());
            let store: Arc<dyn Store> = Arc::new(PgStore::open(&options(url), &key).unwrap());
            wrap(store)
        });
    }

    #[test]
    fn the_postgres_store_keeps_the_store_contract() {
        run_all_on_postgres(|store| store);
    }

    #[test]
    fn the_cached_layer_over_postgres_keeps_the_store_contract() {
        run_all_on_postgres(|store| Arc::new(CachedStore::new(store)));
    }
}
