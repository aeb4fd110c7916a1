//! Records for tests: a user, an asset, an API key, at a fixed time (shared by the store's
//! contract tests, the dump tests and the embedded backend's tests).

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::asset::{AccessRule, Asset, AssetPath, AssetState};
use crate::domain::credentials::{ApiKey, digest};
use crate::domain::user::{User, Username};
use crate::ids::{ApiKeyId, AssetId, UserId};
use crate::secret::Secret;
use crate::signing::Algorithm;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0).unwrap()
}

pub(crate) fn user(name: &str) -> User {
    User {
        id: UserId::generate(),
        username: Username::parse(name).unwrap(),
        password_hash: None,
        attributes: Default::default(),
        groups: vec!["staff".into()],
        admin: false,
        disabled: false,
        created_at: now(),
        updated_at: now(),
        version: 1,
        upstream: None,
    }
}

pub(crate) fn asset(path: &str) -> Asset {
    Asset {
        id: AssetId::generate(),
        name: "Chat".into(),
        path: AssetPath::parse(path).unwrap(),
        state: AssetState::Live,
        algorithm: Algorithm::HS256,
        secret: Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()),
        keys: Vec::new(),
        next_secret: None,
        next_secret_at: None,
        key_id: None,
        next_key_id: None,
        request_params: Vec::new(),
        next_key: None,
        next_key_at: None,
        preset: None,
        delivery: Default::default(),
        cors_origins: Vec::new(),
        secret_changed_at: now(),
        weak_secret_accepted: false,
        template_warning: None,
        template_language: crate::domain::asset::TEMPLATE_LANGUAGE,
        template: r#"{"sub": "%globals_user_attribute_username^json_encode%"}"#.into(),
        expiry_seconds: Some(600),
        issuer: None,
        audience: None,
        not_before: false,
        jti: false,
        read: None,
        write: AccessRule::default(),
        created_at: now(),
        created_by: "admin".into(),
        updated_at: now(),
        updated_by: "admin".into(),
        version: 1,
    }
}

pub(crate) fn api_key(owner: &User, secret: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        user_id: owner.id.clone(),
        prefix: secret.chars().take(8).collect(),
        digest: digest(secret),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
        scopes: crate::domain::credentials::Scopes::ALL,
        expires_at: None,
    }
}
