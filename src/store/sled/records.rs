//! How records and counters are written in sled: JSON records, big-endian counters, and the
//! `meta` keys.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// `meta` key of the number of audit events, when earlier versions kept them in sled.
pub(super) const AUDIT_COUNT: &str = "audit_events";

/// A record as stored.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

/// A stored record read back.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode record: {e}")))
}

/// A counter read back.
pub(super) fn decode_count(bytes: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| {
        StoreError::Corrupt("a counter record".into())
    })?))
}
