//! The change feed: every backend publishes a [`Change`] for each write once it is durable, and
//! the caches (the cached store layer, the service's registry) subscribe to stay in line with
//! the store. In one process the feed is a list of callbacks run in the writer's thread, after
//! the commit, in subscription order.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::domain::asset::{Asset, AssetPath};
use crate::domain::credentials::CredentialDigest;
use crate::ids::{AssetId, UserId};

/// One committed write, as the caches need to know it.
#[derive(Debug, Clone)]
pub enum Change {
    /// An asset was created or replaced (edited, trashed, restored, re-keyed): the record as now
    /// stored, and the path it had before when the path changed.
    AssetChanged {
        /// The stored record.
        asset: Arc<Asset>,
        /// The previous path, when it moved.
        old_path: Option<AssetPath>,
    },
    /// An asset was purged for good.
    AssetPurged {
        /// Its id.
        id: AssetId,
        /// The path it had.
        path: AssetPath,
    },
    /// The sign-in settings changed (identity providers, upstream-only).
    SignInSettingsChanged,
    /// A user record changed (attributes, groups, password, disabled, admin).
    UserChanged {
        /// The user.
        id: UserId,
    },
    /// A session was stored, refreshed or ended.
    SessionChanged {
        /// The session's digest.
        digest: CredentialDigest,
    },
    /// Every session of a user ended.
    SessionsEnded {
        /// The user.
        user: UserId,
        /// The digests of the sessions that ended.
        digests: Vec<CredentialDigest>,
    },
    /// A session's last-seen time moved forward (nothing else about it changed): caches keep the
    /// session and take the newer time, so a person active on another instance is not idle here.
    SessionTouched {
        /// The session's digest.
        digest: CredentialDigest,
        /// The newer last-seen time.
        last_seen: DateTime<Utc>,
    },
    /// An API key's last-use time moved forward (nothing else about it changed).
    ApiKeyTouched {
        /// The key's digest.
        digest: CredentialDigest,
        /// The newer last-use time.
        last_used_at: DateTime<Utc>,
    },
    /// An API key was added, used or revoked; `None` when the backend cannot tell which digest.
    ApiKeyChanged {
        /// The key's digest.
        digest: Option<CredentialDigest>,
    },
}

type Subscriber = Box<dyn Fn(&Change) + Send + Sync>;

/// Subscribers of one store's changes.
#[derive(Default)]
pub struct ChangeFeed {
    subscribers: RwLock<Vec<Subscriber>>,
}

impl ChangeFeed {
    /// A feed with no subscribers.
    pub fn new() -> Self {
        ChangeFeed::default()
    }

    /// Call `f` with every change published from now on.
    pub fn subscribe(&self, f: impl Fn(&Change) + Send + Sync + 'static) {
        self.subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
    }

    /// Hand a committed change to every subscriber, in the order they subscribed.
    pub fn publish(&self, change: &Change) {
        for f in self
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            f(change);
        }
    }
}
