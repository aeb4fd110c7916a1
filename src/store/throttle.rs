//! Failed sign-ins counted per (case-folded) username in a window, in this process's memory: what
//! the embedded backend keeps for the sign-in throttle. A shared backend keeps them in its
//! database instead, so that every instance sees the same count.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// More names than this and the expired windows are forgotten, so a flood of made-up names
/// cannot fill memory.
const MAX_TRACKED_NAMES: usize = 100_000;

/// Failure counts by name: (count, start of the window).
#[derive(Default)]
pub struct FailedSignIns {
    by_name: Mutex<HashMap<String, (u32, DateTime<Utc>)>>,
}

impl FailedSignIns {
    /// Count a failure of `key` at `at`; a window older than `window` starts over.
    pub fn note(&self, key: &str, at: DateTime<Utc>, window: Duration) -> (u32, DateTime<Utc>) {
        let mut by_name = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        if by_name.len() > MAX_TRACKED_NAMES {
            by_name.retain(|_, (_, since)| at - *since < window);
        }
        let entry = by_name.entry(key.to_owned()).or_insert((0, at));
        if at - entry.1 >= window {
            *entry = (0, at);
        }
        entry.0 += 1;
        *entry
    }

    /// The failures of `key` in a window still open at `at`.
    pub fn current(
        &self,
        key: &str,
        at: DateTime<Utc>,
        window: Duration,
    ) -> Option<(u32, DateTime<Utc>)> {
        let by_name = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        by_name
            .get(key)
            .copied()
            .filter(|(_, since)| at - *since < window)
    }

    /// Forget the failures of `key`.
    pub fn clear(&self, key: &str) {
        self.by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}
