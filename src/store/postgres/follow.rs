//! Every instance sees every change: each write records a change in the `changes` table in its own
//! transaction (under `CHANGE_LOCK`, so sequence numbers become visible in order) and notifies
//! `jas_changes`. Each instance follows the table: woken by the notification, and by a poll as a
//! fallback so that a lost notification or a dropped listening connection only delays a change by
//! one poll. Changes are applied in sequence order and the last one applied is remembered, so a
//! reconnect catches up on everything missed. An instance's own changes were published when they
//! were made and are skipped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::AsyncMessage;

use super::{Inner, db_error};
use crate::domain::asset::AssetPath;
use crate::domain::credentials::CredentialDigest;
use crate::ids::{AssetId, UserId};
use crate::store::{Change, StoreError};

/// The channel writes notify.
pub(super) const CHANNEL: &str = "jas_changes";

/// A change as the `changes` table keeps it: enough for another instance to bring its caches in
/// line (an asset is read again; credentials and users are only named).
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Recorded {
    Asset {
        id: AssetId,
        old_path: Option<AssetPath>,
    },
    Purged {
        id: AssetId,
        path: AssetPath,
    },
    User {
        id: UserId,
    },
    SignInSettings,
    Session {
        digest: String,
    },
    SessionsEnded {
        user: UserId,
        digests: Vec<String>,
    },
    ApiKey {
        digest: Option<String>,
    },
    SessionTouched {
        digest: String,
        last_seen: chrono::DateTime<chrono::Utc>,
    },
    ApiKeyTouched {
        digest: String,
        last_used_at: chrono::DateTime<chrono::Utc>,
    },
}

fn hex(d: &CredentialDigest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<CredentialDigest> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl Recorded {
    /// The record of a change this instance publishes.
    pub(super) fn of(change: &Change) -> Recorded {
        match change {
            Change::AssetChanged { asset, old_path } => Recorded::Asset {
                id: asset.id.clone(),
                old_path: old_path.clone(),
            },
            Change::AssetPurged { id, path } => Recorded::Purged {
                id: id.clone(),
                path: path.clone(),
            },
            Change::UserChanged { id } => Recorded::User { id: id.clone() },
            Change::SignInSettingsChanged => Recorded::SignInSettings,
            Change::SessionChanged { digest } => Recorded::Session {
                digest: hex(digest),
            },
            Change::SessionsEnded { user, digests } => Recorded::SessionsEnded {
                user: user.clone(),
                digests: digests.iter().map(hex).collect(),
            },
            Change::ApiKeyChanged { digest } => Recorded::ApiKey {
                digest: digest.as_ref().map(hex),
            },
            Change::SessionTouched { digest, last_seen } => Recorded::SessionTouched {
                digest: hex(digest),
                last_seen: *last_seen,
            },
            Change::ApiKeyTouched {
                digest,
                last_used_at,
            } => Recorded::ApiKeyTouched {
                digest: hex(digest),
                last_used_at: *last_used_at,
            },
        }
    }
}

impl Inner {
    /// The change another instance recorded, as this one publishes it (`None` when there is
    /// nothing left to publish: an asset purged since).
    fn replay(&self, recorded: Recorded) -> Result<Option<Change>, StoreError> {
        Ok(Some(match recorded {
            Recorded::Asset { id, old_path } => match self.asset(&id)? {
                Some(asset) => Change::AssetChanged {
                    asset: Arc::new(asset),
                    old_path,
                },
                None => return Ok(None),
            },
            Recorded::Purged { id, path } => Change::AssetPurged { id, path },
            Recorded::User { id } => Change::UserChanged { id },
            Recorded::SignInSettings => Change::SignInSettingsChanged,
            Recorded::Session { digest } => match unhex(&digest) {
                Some(digest) => Change::SessionChanged { digest },
                None => return Ok(None),
            },
            Recorded::SessionsEnded { user, digests } => Change::SessionsEnded {
                user,
                digests: digests.iter().filter_map(|d| unhex(d)).collect(),
            },
            Recorded::ApiKey { digest } => Change::ApiKeyChanged {
                digest: digest.as_deref().and_then(unhex),
            },
            Recorded::SessionTouched { digest, last_seen } => match unhex(&digest) {
                Some(digest) => Change::SessionTouched { digest, last_seen },
                None => return Ok(None),
            },
            Recorded::ApiKeyTouched {
                digest,
                last_used_at,
            } => match unhex(&digest) {
                Some(digest) => Change::ApiKeyTouched {
                    digest,
                    last_used_at,
                },
                None => return Ok(None),
            },
        }))
    }

    /// Apply every change recorded after the last one applied; returns how many were new.
    pub(super) fn catch_up(&self) -> Result<usize, StoreError> {
        let after = self.applied.load(Ordering::Acquire);
        let pool = self.pool.clone();
        let rows: Vec<(i64, String, serde_json::Value)> = self.run(async move {
            let client = pool.get().await.map_err(super::pool_error)?;
            let rows = client
                .query(
                    "SELECT seq, writer, change FROM changes WHERE seq > $1 ORDER BY seq LIMIT 1000",
                    &[&after],
                )
                .await
                .map_err(db_error)?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })?;
        let mut applied = 0;
        for (seq, writer, value) in rows {
            if writer != self.writer {
                match serde_json::from_value::<Recorded>(value) {
                    Ok(recorded) => {
                        if let Some(change) = self.replay(recorded)? {
                            self.feed.publish(&change);
                        }
                        applied += 1;
                    }
                    Err(e) => {
                        tracing::error!(seq, error = %e, "skipped a change this binary cannot read")
                    }
                }
            }
            self.applied.store(seq, Ordering::Release);
        }
        Ok(applied)
    }
}

/// Follow the change log until the store closes: a thread that applies changes (it reads assets
/// from the database, so it must not run on the database runtime's workers), woken by a listening
/// task on the runtime or by the poll interval.
pub(super) fn start(inner: &Arc<Inner>, poll: Duration) -> Result<(), StoreError> {
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let listener = inner.clone();
    let wake_listener = wake.clone();
    inner
        .handle
        .spawn(async move { listen(listener, wake_listener).await });
    let follower = inner.clone();
    std::thread::Builder::new()
        .name("pg-changes".into())
        .spawn(move || {
            loop {
                if follower.closed.load(Ordering::Acquire) {
                    return;
                }
                match follower.catch_up() {
                    // More may be waiting behind a full page.
                    Ok(n) if n >= 1000 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the change log; retrying"),
                }
                let _ = woken.recv_timeout(poll);
            }
        })
        .map_err(|e| StoreError::Io(format!("cannot start the change follower: {e}")))?;
    drop(wake);
    Ok(())
}

/// Keep a connection that listens for notifications; reconnect after a second when it drops.
async fn listen(inner: Arc<Inner>, wake: std::sync::mpsc::SyncSender<()>) {
    let mut was_down = false;
    while !inner.closed.load(Ordering::Acquire) {
        match inner.config.connect(inner.tls.clone()).await {
            Ok((client, mut connection)) => {
                let (notified, mut notifications) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if notified.send(()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    if was_down {
                        tracing::info!("listening for changes again");
                        was_down = false;
                    }
                    // Catch up on what happened while not listening.
                    inner.listening.store(true, Ordering::Release);
                    inner.down.store(false, Ordering::Release);
                    let _ = wake.try_send(());
                    while notifications.recv().await.is_some() {
                        let _ = wake.try_send(());
                        if inner.closed.load(Ordering::Acquire) {
                            break;
                        }
                    }
                }
                inner.listening.store(false, Ordering::Release);
                driver.abort();
                // Dropped: find out at once whether the database is gone or only this connection.
                if !inner.closed.load(Ordering::Acquire)
                    && inner.config.connect(inner.tls.clone()).await.is_err()
                {
                    inner.down.store(true, Ordering::Release);
                }
                if !inner.closed.load(Ordering::Acquire) {
                    tracing::warn!(
                        "lost the connection that listens for changes; polling until it is back"
                    );
                    was_down = true;
                }
            }
            Err(e) => {
                inner.down.store(true, Ordering::Release);
                if !was_down {
                    tracing::warn!(error = %e, "cannot listen for changes; polling until the database is back");
                    was_down = true;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_survive_the_change_log() {
        let d: CredentialDigest = std::array::from_fn(|i| (i * 7) as u8);
        assert_eq!(unhex(&hex(&d)), Some(d));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
    }
}
