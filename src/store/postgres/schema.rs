//! The PostgreSQL schema: versioned migrations, applied at start under an advisory lock so that
//! several instances starting at once apply each one exactly once. A database migrated by a newer
//! binary is refused.

use tokio_postgres::Client;

use super::db_error;
use crate::store::StoreError;

/// The advisory lock held while migrating (an arbitrary constant: "jas" + "mig").
const MIGRATION_LOCK: i64 = 0x006a_6173_5f6d_6967;

/// The advisory lock every write takes just before it records its change, so that change
/// sequence numbers become visible in the order they were taken (see `follow`).
pub(super) const CHANGE_LOCK: i64 = 0x006a_6173_5f63_6867;

/// The migrations, in order: the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the store contract's records, the change log, the shared sign-in throttle. Users and
    // assets are `json`, kept as written: their maps (attributes, a public JWK) keep their order,
    // which `jsonb` would not (an export must read back exactly as it was written).
    r#"
    CREATE TABLE meta (
        key text PRIMARY KEY,
        value text NOT NULL
    );
    CREATE TABLE users (
        id text PRIMARY KEY,
        username_key text COLLATE "C" NOT NULL UNIQUE,
        version bigint NOT NULL,
        record json NOT NULL
    );
    CREATE TABLE sessions (
        digest bytea PRIMARY KEY,
        user_id text NOT NULL,
        record jsonb NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions (user_id);
    CREATE TABLE api_keys (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        digest bytea UNIQUE,
        created_at timestamptz NOT NULL,
        record jsonb NOT NULL
    );
    CREATE INDEX api_keys_by_user ON api_keys (user_id);
    CREATE TABLE assets (
        id text PRIMARY KEY,
        path text COLLATE "C" NOT NULL UNIQUE,
        version bigint NOT NULL,
        data_key bytea NOT NULL,
        record json NOT NULL
    );
    -- Every issued token is an audit event: they are stored as the audit writer batches them,
    -- up to 256 events (oldest first) in a row, so that the database writes a row per batch,
    -- not per token; the admin's audit view reads the newest rows backwards.
    CREATE TABLE audit (
        seq bigserial PRIMARY KEY,
        n integer NOT NULL,
        events json NOT NULL
    );
    CREATE TABLE failed_sign_ins (
        key bytea PRIMARY KEY,
        failures integer NOT NULL,
        since timestamptz NOT NULL
    );
    CREATE TABLE changes (
        seq bigserial PRIMARY KEY,
        writer text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        change jsonb NOT NULL
    );
    "#,
    // 2: the sign-in settings (identity providers with their client secrets), one sealed row.
    r#"
    CREATE TABLE sign_in_settings (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        version bigint NOT NULL,
        sealed bytea NOT NULL
    );
    -- Accounts by the upstream identity they are linked to (issuer, sub).
    CREATE INDEX users_by_upstream ON users
        ((record->'upstream'->>'issuer'), (record->'upstream'->>'subject'));
    "#,
];

/// The schema version this binary writes.
pub const PG_SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Bring the database's schema up to this binary's; refuse a newer one.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error)?;
    let migrated = apply_missing(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error);
    migrated.and(unlocked.map(|_| ()))
}

async fn apply_missing(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS jas_schema_migrations (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(db_error)?;
    let found: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM jas_schema_migrations",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if found > PG_SCHEMA_VERSION {
        return Err(StoreError::TooNewDatabase {
            found: found as u32,
            known: PG_SCHEMA_VERSION as u32,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i32 + 1;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.batch_execute(sql).await.map_err(db_error)?;
        tx.execute(
            "INSERT INTO jas_schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        tracing::info!(version, "applied a database migration");
    }
    Ok(())
}
