//! The admin API as an integration sees it: scoped keys, pages with cursors, problem details,
//! `ETag`/`If-Match`, `Location`, and the operations the UI has (user update and delete,
//! sessions, the trash).

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// A key for `username` with exactly these scopes (an empty list: the default).
async fn key_with(app: &TestApp, username: &str, scopes: &[&str]) -> String {
    let body = (!scopes.is_empty()).then(|| json!({ "scopes": scopes }));
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/users/{username}/api-keys"),
            body,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    created["key"].as_str().unwrap().to_owned()
}

/// Every admin route, with a body where it needs one: (method, path, body, needs write).
fn admin_routes(asset: &str) -> Vec<(Method, String, Option<Value>, bool)> {
    let a = format!("/api/v1/assets/{asset}");
    let mut routes = vec![
        (Method::GET, "/api/v1/users".into(), None, false),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"username": "zed"})),
            true,
        ),
        (Method::GET, "/api/v1/users/bot".into(), None, false),
        (
            Method::PATCH,
            "/api/v1/users/bot".into(),
            Some(json!({"groups": ["x"]})),
            true,
        ),
        (Method::DELETE, "/api/v1/users/carol".into(), None, true),
        (
            Method::PUT,
            "/api/v1/users/bot/password".into(),
            Some(json!({"password": "a long enough password"})),
            true,
        ),
        (
            Method::POST,
            "/api/v1/users/carol/disable".into(),
            None,
            true,
        ),
        (
            Method::POST,
            "/api/v1/users/carol/enable".into(),
            None,
            true,
        ),
        (
            Method::GET,
            "/api/v1/users/bot/sessions".into(),
            None,
            false,
        ),
        (
            Method::DELETE,
            "/api/v1/users/bot/sessions".into(),
            None,
            true,
        ),
        (
            Method::GET,
            "/api/v1/users/bot/api-keys".into(),
            None,
            false,
        ),
        (
            Method::POST,
            "/api/v1/users/bot/api-keys".into(),
            None,
            true,
        ),
        (
            Method::GET,
            "/api/v1/users/bot/api-keys/nosuch".into(),
            None,
            false,
        ),
        (
            Method::DELETE,
            "/api/v1/users/bot/api-keys/nosuch".into(),
            None,
            true,
        ),
        (
            Method::PUT,
            "/api/v1/users/bot/upstream".into(),
            Some(json!({"provider": null})),
            true,
        ),
        (Method::GET, "/api/v1/assets".into(), None, false),
        (
            Method::POST,
            "/api/v1/assets".into(),
            Some(asset_body("/t/new", "{}")),
            true,
        ),
        (Method::GET, a.clone(), None, false),
        (
            Method::PUT,
            a.clone(),
            Some(json!({"name": "x", "path": "/t/x", "template": "{}", "version": 1})),
            true,
        ),
        (Method::DELETE, a.clone(), None, true),
        (Method::POST, format!("{a}/trash"), None, true),
        (Method::POST, format!("{a}/restore"), None, true),
        (Method::GET, format!("{a}/preview"), None, true),
        (Method::POST, format!("{a}/rotate"), None, true),
        (
            Method::POST,
            format!("{a}/next-secret"),
            Some(json!({"generate_secret": true})),
            true,
        ),
        (Method::DELETE, format!("{a}/next-secret"), None, true),
        (Method::POST, format!("{a}/next-key"), None, true),
        (Method::DELETE, format!("{a}/next-key"), None, true),
        (Method::POST, format!("{a}/next-key/activate"), None, true),
        (Method::GET, format!("{a}/consumer-config"), None, false),
        (Method::GET, format!("{a}/next-key.pem"), None, false),
        (Method::GET, format!("{a}/public-key.pem"), None, false),
        (Method::DELETE, "/api/v1/trash".into(), None, true),
        (Method::GET, "/api/v1/audit".into(), None, false),
        (Method::POST, "/api/v1/export".into(), None, true),
        (
            Method::GET,
            "/api/v1/identity-providers".into(),
            None,
            false,
        ),
        (
            Method::POST,
            "/api/v1/identity-providers".into(),
            Some(json!({"id": "x"})),
            true,
        ),
        (
            Method::GET,
            "/api/v1/identity-providers/x".into(),
            None,
            false,
        ),
        (
            Method::PUT,
            "/api/v1/identity-providers/x".into(),
            Some(json!({"id": "x"})),
            true,
        ),
        (
            Method::DELETE,
            "/api/v1/identity-providers/x".into(),
            None,
            true,
        ),
        (Method::GET, "/api/v1/sign-in-policy".into(), None, false),
        (
            Method::PUT,
            "/api/v1/sign-in-policy".into(),
            Some(json!({"upstream_only": false})),
            true,
        ),
    ];
    routes.shrink_to_fit();
    routes
}

#[tokio::test]
async fn a_tokens_key_fetches_tokens_and_gets_403_on_every_admin_route() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bot", "admin": true}))
        .await;
    app.create_user(json!({"username": "carol"})).await;
    let asset = app
        .create_asset(asset_body(
            "/tokens/chat",
            r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#,
        ))
        .await;
    let id = asset["id"].as_str().unwrap();
    // No body: the default, `tokens` alone, even for an administrator.
    let res = app
        .api(Method::POST, "/api/v1/users/bot/api-keys", None)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["scopes"], json!(["tokens"]));
    assert_eq!(created["expires_at"], Value::Null);
    let tokens = created["key"].as_str().unwrap().to_owned();

    let claims = app
        .token_claims("/tokens/chat", &tokens, TEST_SECRET.as_bytes())
        .await;
    assert_eq!(claims["sub"], "bot");
    for (method, path, body, _) in admin_routes(id) {
        let res = app.api_as(&tokens, method.clone(), &path, body).await;
        let problem = api_error(res, StatusCode::FORBIDDEN).await;
        assert_eq!(problem["detail"], "forbidden", "{method} {path}");
    }
    // Nothing above happened: carol is still there, the asset untouched.
    assert_eq!(app.get_asset(id).await["version"], 1);
    let res = app.api(Method::GET, "/api/v1/users/carol", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn read_and_write_scopes_are_separate_and_a_key_never_outranks_its_user() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bot", "admin": true}))
        .await;
    app.create_user(json!({"username": "carol"})).await;
    let asset = app.create_asset(asset_body("/tokens/chat", "{}")).await;
    let id = asset["id"].as_str().unwrap();
    let reader = key_with(&app, "bot", &["admin:read"]).await;
    for (method, path, body, write) in admin_routes(id) {
        let res = app.api_as(&reader, method.clone(), &path, body).await;
        if write {
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
        } else {
            assert_ne!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
            assert!(!res.status().is_server_error(), "{method} {path}");
        }
    }
    // A read key fetches no token.
    assert_empty(
        app.get_token("/tokens/chat", &reader).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // A writer can write (and reading needs its own scope).
    let writer = key_with(&app, "bot", &["admin:write"]).await;
    let res = app
        .api_as(
            &writer,
            Method::POST,
            &format!("/api/v1/assets/{id}/trash"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .api_as(&writer, Method::GET, "/api/v1/assets", None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Carol is no administrator: admin scopes give her nothing.
    let carols = key_with(&app, "carol", &["tokens", "admin:read", "admin:write"]).await;
    let res = app
        .api_as(&carols, Method::GET, "/api/v1/assets", None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Unknown and empty scope lists are refused with the field named.
    let res = app
        .api(
            Method::POST,
            "/api/v1/users/bot/api-keys",
            Some(json!({"scopes": ["admin"]})),
        )
        .await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "scopes"
    );
    let res = app
        .api(
            Method::POST,
            "/api/v1/users/bot/api-keys",
            Some(json!({"scopes": []})),
        )
        .await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "scopes"
    );
    // The listing shows each key's scopes.
    let keys = api_items(
        app.api(Method::GET, "/api/v1/users/bot/api-keys", None)
            .await,
    )
    .await;
    let scopes: Vec<&Value> = keys.iter().map(|k| &k["scopes"]).collect();
    assert_eq!(scopes, [&json!(["admin:read"]), &json!(["admin:write"])]);
    app.stop().await;
}

#[tokio::test]
async fn a_key_stops_working_when_it_expires() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bot"})).await;
    app.create_asset(asset_body("/tokens/chat", "{}")).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let res = app
        .api(
            Method::POST,
            "/api/v1/users/bot/api-keys",
            Some(json!({"expires_at": past})),
        )
        .await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "expires_at"
    );
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let res = app
        .api(
            Method::POST,
            "/api/v1/users/bot/api-keys",
            Some(json!({"expires_at": soon})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get_token("/tokens/chat", &key).await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_empty(
        app.get_token("/tokens/chat", &key).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn user_pages_follow_the_cursor_and_stay_stable_under_inserts() {
    let app = spawn_app().await;
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        let groups = if name < "c" {
            json!(["early"])
        } else {
            json!([])
        };
        app.create_user(json!({"username": name, "groups": groups}))
            .await;
    }
    // Users: admin, ann, ben, cat, dan, eve. Two at a time.
    let page = |cursor: Option<String>| {
        let app = &app;
        async move {
            let q = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
            let res = app
                .api(Method::GET, &format!("/api/v1/users?limit=2{q}"), None)
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            let body: Value = res.json().await.unwrap();
            let names: Vec<String> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned())
                .collect();
            (names, body["next_cursor"].as_str().map(str::to_owned))
        }
    };
    let (first, next) = page(None).await;
    assert_eq!(first, ["admin", "ann"]);
    // Inserted before and after the cursor while paging: no repeat, no skip.
    app.create_user(json!({"username": "aaron"})).await;
    app.create_user(json!({"username": "bo"})).await;
    let (second, next) = page(next).await;
    assert_eq!(second, ["ben", "bo"]);
    let (third, next) = page(next).await;
    assert_eq!(third, ["cat", "dan"]);
    let (fourth, next) = page(next).await;
    assert_eq!(fourth, ["eve"]);
    assert!(next.is_none(), "the last page says so");
    // Filters: prefix, group, state.
    let items = api_items(app.api(Method::GET, "/api/v1/users?prefix=B", None).await).await;
    assert_eq!(items.len(), 2);
    let items = api_items(
        app.api(Method::GET, "/api/v1/users?group=early", None)
            .await,
    )
    .await;
    let names: Vec<&str> = items
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "ben"]);
    app.disable_user("dan").await;
    let items = api_items(
        app.api(Method::GET, "/api/v1/users?state=disabled", None)
            .await,
    )
    .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["username"], "dan");
    // Bad paging input is a 400 naming the parameter.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("state=gone", "state"),
        ("limit=many", "query"),
    ] {
        let res = app
            .api(Method::GET, &format!("/api/v1/users?{query}"), None)
            .await;
        assert_eq!(
            api_error(res, StatusCode::BAD_REQUEST).await["field"],
            field,
            "{query}"
        );
    }
    // A cursor of another list is not one of this list.
    let (_, users_cursor) = page(None).await;
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/assets?cursor={}", users_cursor.unwrap()),
            None,
        )
        .await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "cursor"
    );
    app.stop().await;
}

#[tokio::test]
async fn asset_and_audit_pages_filter_and_follow_their_cursors() {
    let app = spawn_app().await;
    for path in ["/a/one", "/a/two", "/b/three"] {
        app.create_asset(asset_body(path, "{}")).await;
    }
    let two = api_items(
        app.api(Method::GET, "/api/v1/assets?prefix=/a/", None)
            .await,
    )
    .await;
    assert_eq!(two.len(), 2);
    let id = two[0]["id"].as_str().unwrap().to_owned();
    app.asset_action(&id, "trash").await;
    let trashed = api_items(
        app.api(Method::GET, "/api/v1/assets?state=trashed", None)
            .await,
    )
    .await;
    assert_eq!(trashed.len(), 1);
    assert_eq!(trashed[0]["path"], "/a/one");
    let res = app.api(Method::GET, "/api/v1/assets?limit=2", None).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let cursor = body["next_cursor"].as_str().unwrap();
    let rest = api_items(
        app.api(
            Method::GET,
            &format!("/api/v1/assets?limit=2&cursor={cursor}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["path"], "/b/three");

    // The audit trail, newest first, two at a time; events added meanwhile do not shift it.
    let res = app
        .api(Method::GET, "/api/v1/audit?action=asset&limit=2", None)
        .await;
    let body: Value = res.json().await.unwrap();
    let first: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(first, ["asset.trash /a/one", "asset.create /b/three"]);
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    app.create_asset(asset_body("/c/four", "{}")).await;
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/audit?action=asset&limit=2&cursor={cursor}"),
            None,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let second: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(second, ["/a/two", "/a/one"]);
    assert!(body["next_cursor"].is_null(), "{body}");
    // By user: what they did and what was done to them.
    app.create_user(json!({"username": "dora"})).await;
    let about = api_items(app.api(Method::GET, "/api/v1/audit?user=dora", None).await).await;
    assert_eq!(about.len(), 1);
    assert_eq!(about[0]["action"], "user.create");
    let by_asset = api_items(
        app.api(Method::GET, "/api/v1/audit?asset=/a/one", None)
            .await,
    )
    .await;
    assert_eq!(by_asset.len(), 2);
    let res = app
        .api(Method::GET, "/api/v1/audit?action=nonsense", None)
        .await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "action"
    );
    app.stop().await;
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes_with_412_and_etags_follow_versions() {
    let app = spawn_app().await;
    let res = app.post_asset(asset_body("/tokens/chat", "{}")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(res.headers()[header::ETAG], "\"1\"");
    let created: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/assets/{}", created["id"].as_str().unwrap())
    );
    let res = app.api(Method::GET, &location, None).await;
    assert_eq!(res.headers()[header::ETAG], "\"1\"");

    let put = |tag: &'static str, name: &'static str| {
        let (app, location) = (&app, location.clone());
        async move {
            app.client
                .put(app.url(&location))
                .bearer_auth(&app.admin_key)
                .header(header::IF_MATCH, tag)
                .json(&json!({"name": name, "path": "/tokens/chat", "template": "{}"}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = put("\"1\"", "first").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::ETAG], "\"2\"");
    // A second client still holding version 1: 412, with what it needs to catch up.
    let problem = api_error(put("\"1\"", "stale").await, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem["current_version"], 2);
    assert_eq!(problem["changed_by"], "admin");
    let problem = api_error(
        put("W/\"2\"", "weak").await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    assert_eq!(problem["current_version"], 2);
    let problem = api_error(put("2", "unquoted").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["field"], "If-Match");
    assert_eq!(put("*", "any").await.status(), StatusCode::OK);
    assert_eq!(
        app.get_asset(location.rsplit('/').next().unwrap()).await["name"],
        "any"
    );
    // The body's version still works, answering 409 when stale.
    let res = app
        .api(
            Method::PUT,
            &location,
            Some(json!({"name": "x", "path": "/tokens/chat", "template": "{}", "version": 1})),
        )
        .await;
    api_error(res, StatusCode::CONFLICT).await;

    // Deletes: a user at a stale version stays.
    app.create_user(json!({"username": "bob"})).await;
    let res = app.api(Method::GET, "/api/v1/users/bob", None).await;
    assert_eq!(res.headers()[header::ETAG], "\"1\"");
    let res = app
        .client
        .patch(app.url("/api/v1/users/bob"))
        .bearer_auth(&app.admin_key)
        .header(header::IF_MATCH, "\"1\"")
        .json(&json!({"groups": ["ops"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[header::ETAG], "\"2\"");
    let res = app
        .client
        .delete(app.url("/api/v1/users/bob"))
        .bearer_auth(&app.admin_key)
        .header(header::IF_MATCH, "\"1\"")
        .send()
        .await
        .unwrap();
    api_error(res, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(
        app.api(Method::GET, "/api/v1/users/bob", None)
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn users_are_updated_and_deleted_and_their_sessions_ended_over_the_api() {
    let app = spawn_app().await;
    let res = app
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "bob", "password": "correct horse battery", "attributes": {"email": "bob@example.test"}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[header::LOCATION], "/api/v1/users/bob");
    // Only what is given changes.
    let res = app
        .api(
            Method::PATCH,
            "/api/v1/users/bob",
            Some(json!({"groups": ["ops"], "admin": true, "version": 1})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let bob: Value = res.json().await.unwrap();
    assert_eq!(bob["attributes"]["email"], "bob@example.test");
    assert_eq!(bob["groups"], json!(["ops"]));
    assert_eq!(bob["admin"], true);
    assert_eq!(bob["version"], 2);
    let res = app
        .api(
            Method::PATCH,
            "/api/v1/users/bob",
            Some(json!({"admin": false, "version": 1})),
        )
        .await;
    assert_eq!(
        api_error(res, StatusCode::CONFLICT).await["current_version"],
        2
    );
    let res = app
        .api(
            Method::PATCH,
            "/api/v1/users/bob",
            Some(json!({"groups": ["no,commas"]})),
        )
        .await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "groups"
    );
    let res = app
        .api(
            Method::PATCH,
            "/api/v1/users/admin",
            Some(json!({"admin": false})),
        )
        .await;
    api_error(res, StatusCode::BAD_REQUEST).await;

    // Sessions: listed without their ids, ended together.
    let session = app
        .login_session("bob", "correct horse battery")
        .await
        .unwrap();
    let listed = api_items(
        app.api(Method::GET, "/api/v1/users/bob/sessions", None)
            .await,
    )
    .await;
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].to_string().contains(&session));
    let res = app
        .api(Method::DELETE, "/api/v1/users/bob/sessions", None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["ended"], 1);
    let res = app
        .client
        .get(app.url("/api/v1/session"))
        .header(header::COOKIE, format!("jas_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Delete: the key stops working, the name is free, the audit trail keeps the story.
    app.create_asset(asset_body("/tokens/chat", "{}")).await;
    let key = app.create_api_key("bob").await;
    assert_eq!(
        app.get_token("/tokens/chat", &key).await.status(),
        StatusCode::OK
    );
    let res = app.api(Method::DELETE, "/api/v1/users/admin", None).await;
    api_error(res, StatusCode::CONFLICT).await;
    let res = app.api(Method::DELETE, "/api/v1/users/bob", None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_empty(
        app.get_token("/tokens/chat", &key).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    api_error(
        app.api(Method::GET, "/api/v1/users/bob", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    api_error(
        app.api(Method::DELETE, "/api/v1/users/bob", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.create_user(json!({"username": "Bob"})).await;
    let events = app.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "user.delete" && e["target"] == "bob")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_trash_is_emptied_over_the_api() {
    let app = spawn_app().await;
    let live = app.create_asset(asset_body("/t/live", "{}")).await;
    for path in ["/t/old1", "/t/old2"] {
        let a = app.create_asset(asset_body(path, "{}")).await;
        app.asset_action(a["id"].as_str().unwrap(), "trash").await;
    }
    let res = app.api(Method::DELETE, "/api/v1/trash", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["purged"], 2);
    let left = api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], live["id"]);
    app.stop().await;
}

#[tokio::test]
async fn errors_are_problem_details_and_unknown_urls_too() {
    let app = spawn_app().await;
    let problem = api_error(
        app.api(Method::GET, "/api/v1/nothing-here", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem["detail"], "not found");
    // A percent-encoded path (never a route: routes are matched as sent) is one too.
    api_error(
        app.api(Method::GET, "/api/v1/users/%61dmin", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let res = app
        .api(
            Method::POST,
            "/api/v1/assets",
            Some(json!({"name": "x", "path": "/t/x", "template": "{\"a\": %nope%}"})),
        )
        .await;
    let problem = api_error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["field"], "template");
    assert!(
        problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{problem}"
    );
    let res = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&app.admin_key)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "body"
    );
    let res = app
        .client
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    api_error(res, StatusCode::FORBIDDEN).await;
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_admin_routes() {
    let app = spawn_app().await;
    // Public: it holds no data.
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            // Every operation names its scope (or the session alone) and its error answers.
            let security = op["security"].as_array().unwrap();
            assert!(!security.is_empty(), "{method} {path}");
            let problem = &op["responses"]["403"]["content"]["application/problem+json"];
            assert_eq!(
                problem["schema"]["$ref"], "#/components/schemas/Problem",
                "{method} {path}"
            );
        }
    }
    documented.sort();
    // The routes, with their parameters named as the document names them.
    let mut routed: Vec<String> = admin_routes("{id}")
        .into_iter()
        .map(|(method, path, _, _)| {
            let path = path
                .replace(
                    "/users/bot/api-keys/nosuch",
                    "/users/{username}/api-keys/{key}",
                )
                .replace("/users/bot", "/users/{username}")
                .replace("/users/carol", "/users/{username}")
                .replace("/identity-providers/x", "/identity-providers/{id}");
            format!("{method} {path}")
        })
        .collect();
    routed.push("GET /api/v1/session".into());
    routed.sort();
    routed.dedup();
    assert_eq!(documented, routed);
    // What a key may do, as the document says it: the scope of each operation.
    let scope =
        |path: &str, method: &str| doc["paths"][path][method]["security"][0]["api_key"][0].clone();
    assert_eq!(scope("/api/v1/assets", "get"), "admin:read");
    assert_eq!(scope("/api/v1/assets", "post"), "admin:write");
    assert_eq!(scope("/api/v1/assets/{id}/preview", "get"), "admin:write");
    app.stop().await;
}

impl TestApp {
    async fn get_user_version(&self, username: &str) -> u64 {
        let res = self
            .api(Method::GET, &format!("/api/v1/users/{username}"), None)
            .await;
        res.json::<Value>().await.unwrap()["version"]
            .as_u64()
            .unwrap()
    }
}

#[tokio::test]
async fn a_body_must_be_a_json_object() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob"})).await;
    for (method, path) in [
        (Method::PATCH, "/api/v1/users/bob"),
        (Method::POST, "/api/v1/users"),
        (Method::POST, "/api/v1/users/bob/api-keys"),
        (Method::POST, "/api/v1/export"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&app.admin_key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"[null, null]"#)
            .send()
            .await
            .unwrap();
        let problem = api_error(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(problem["field"], "body", "{method} {path}");
    }
    assert_eq!(app.get_user_version("bob").await, 1, "nothing changed");
    app.stop().await;
}

#[tokio::test]
async fn a_key_cannot_make_a_key_that_does_more_or_lasts_longer() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "ops", "admin": true}))
        .await;
    let soon = chrono::Utc::now() + chrono::Duration::days(1);
    let res = app
        .api(
            Method::POST,
            "/api/v1/users/ops/api-keys",
            Some(json!({"scopes": ["admin:write"], "expires_at": soon.to_rfc3339()})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let writer = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let make = |body: Value| {
        let (app, writer) = (&app, writer.clone());
        async move {
            app.api_as(
                &writer,
                Method::POST,
                "/api/v1/users/ops/api-keys",
                Some(body),
            )
            .await
        }
    };
    // More scopes than it has: refused.
    let res = make(json!({"scopes": ["admin:write", "admin:read"]})).await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "scopes"
    );
    // A later end: refused; no end: it ends with the key that made it.
    let later = (soon + chrono::Duration::days(30)).to_rfc3339();
    let res = make(json!({"scopes": ["admin:write"], "expires_at": later})).await;
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "expires_at"
    );
    let res = make(json!({"scopes": ["admin:write"]})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    let ends = chrono::DateTime::parse_from_rfc3339(made["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(ends.timestamp(), soon.timestamp());
    // The audit trail says what each key may do.
    let events = app.audit().await;
    let created = events
        .iter()
        .find(|e| e["action"] == "apikey.create")
        .unwrap();
    assert!(
        created["detail"]
            .as_str()
            .unwrap()
            .contains("scopes admin:write"),
        "{created}"
    );
    // The user filter finds key events too.
    let about = api_items(
        app.api(Method::GET, "/api/v1/audit?user=ops&action=apikey", None)
            .await,
    )
    .await;
    assert_eq!(about.len(), 2, "{about:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_user_named_in_an_asset_rule_is_deleted_only_once_the_rule_lets_go() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob"})).await;
    let mut body = asset_body("/tokens/team", "{}");
    body["read"] = json!({"users": ["Bob"], "groups": []});
    app.create_asset(body).await;
    let problem = api_error(
        app.api(Method::DELETE, "/api/v1/users/bob", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("/tokens/team"),
        "{problem}"
    );
    assert_eq!(
        app.api(Method::GET, "/api/v1/users/bob", None)
            .await
            .status(),
        StatusCode::OK
    );
    // Once the rule lets go of the name, bob may go.
    let team = api_items(app.api(Method::GET, "/api/v1/assets", None).await).await;
    let id = team[0]["id"].as_str().unwrap();
    let mut edit = asset_body("/tokens/team", "{}");
    edit["version"] = json!(1);
    let res = app
        .api(Method::PUT, &format!("/api/v1/assets/{id}"), Some(edit))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.api(Method::DELETE, "/api/v1/users/bob", None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn if_match_is_refused_where_it_is_not_honoured_and_star_needs_the_record() {
    let app = spawn_app().await;
    app.create_user(json!({"username": "bob"})).await;
    let res = app
        .client
        .post(app.url("/api/v1/users/bob/disable"))
        .bearer_auth(&app.admin_key)
        .header(header::IF_MATCH, "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_error(res, StatusCode::BAD_REQUEST).await["field"],
        "If-Match"
    );
    assert_eq!(app.get_user_version("bob").await, 1, "not disabled");
    let res = app
        .client
        .delete(app.url("/api/v1/users/nobody"))
        .bearer_auth(&app.admin_key)
        .header(header::IF_MATCH, "*")
        .send()
        .await
        .unwrap();
    api_error(res, StatusCode::NOT_FOUND).await;
    // A method a URL does not take, and an encoded path: problem details too.
    let res = app.api(Method::PUT, "/api/v1/users", None).await;
    api_error(res, StatusCode::METHOD_NOT_ALLOWED).await;
    let res = app.api(Method::GET, "/%61pi/v1/users", None).await;
    api_error(res, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn identity_providers_and_the_policy_share_the_settings_etag() {
    let app = spawn_app().await;
    let provider = json!({"id": "corp", "issuer": "https://idp.example.test", "client_id": "a", "client_secret": "b"});
    let res = app
        .api(
            Method::POST,
            "/api/v1/identity-providers",
            Some(provider.clone()),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/api/v1/identity-providers/corp"
    );
    let res = app
        .api(Method::GET, "/api/v1/identity-providers/corp", None)
        .await;
    let tag = res.headers()[header::ETAG].to_str().unwrap().to_owned();
    let res = app.api(Method::GET, "/api/v1/sign-in-policy", None).await;
    assert_eq!(
        res.headers()[header::ETAG].to_str().unwrap(),
        tag,
        "one record, one version"
    );
    let send = |method: Method, path: &'static str, tag: String, body: Option<Value>| {
        let app = &app;
        async move {
            let mut req = app
                .client
                .request(method, app.url(path))
                .bearer_auth(&app.admin_key)
                .header(header::IF_MATCH, tag);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send().await.unwrap()
        }
    };
    let mut renamed = provider.clone();
    renamed["name"] = json!("Corp");
    let res = send(
        Method::PUT,
        "/api/v1/identity-providers/corp",
        tag.clone(),
        Some(renamed),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let newer = res.headers()[header::ETAG].to_str().unwrap().to_owned();
    assert_ne!(newer, tag);
    // The old tag: the delete and the policy change are refused, nothing changes.
    let res = send(
        Method::DELETE,
        "/api/v1/identity-providers/corp",
        tag.clone(),
        None,
    )
    .await;
    assert_eq!(
        api_error(res, StatusCode::PRECONDITION_FAILED).await["current_version"],
        newer.trim_matches('"').parse::<u64>().unwrap()
    );
    let policy = json!({"upstream_only": false});
    let res = send(Method::PUT, "/api/v1/sign-in-policy", tag, Some(policy)).await;
    api_error(res, StatusCode::PRECONDITION_FAILED).await;
    let res = send(
        Method::DELETE,
        "/api/v1/identity-providers/corp",
        newer,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}
