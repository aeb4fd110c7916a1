//! The audit log in sled: events in records of up to `AUDIT_RECORD_EVENTS` under a sequence
//! key, their count in `meta`, and retention that deletes whole records.

use super::SledStore;
use super::records::{AUDIT_COUNT, decode, decode_count, encode};
use crate::domain::audit::AuditEvent;
use crate::store::StoreError;

/// Audit events are stored in records of up to this many events (one sled write per batch
/// instead of one per event; retention trims whole records): key = sequence number (8 bytes, big-endian) + event count (4 bytes),
/// value = a JSON array of events, oldest first. Records of one event under an 8-byte key (the
/// first layout) are still read.
pub const AUDIT_RECORD_EVENTS: usize = 256;

fn audit_key(seq: u64, events: usize) -> [u8; 12] {
    let mut key = [0; 12];
    key[..8].copy_from_slice(&seq.to_be_bytes());
    key[8..].copy_from_slice(&(events as u32).to_be_bytes());
    key
}

fn audit_record_len(key: &[u8]) -> Result<u64, StoreError> {
    match key.len() {
        8 => Ok(1),
        12 => Ok(u64::from(u32::from_be_bytes(
            key[8..].try_into().expect("checked length"),
        ))),
        _ => Err(StoreError::Corrupt("audit record key".into())),
    }
}

fn audit_record(key: &[u8], value: &[u8]) -> Result<Vec<AuditEvent>, StoreError> {
    if key.len() == 8 {
        Ok(vec![decode(value)?])
    } else {
        decode(value)
    }
}

impl SledStore {
    fn trim_audit(&self, n: u64) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for key in self.audit.iter().keys() {
            let key = key?;
            let len = audit_record_len(&key)?;
            if removed + len > n {
                break;
            }
            batch.remove(key);
            removed += len;
        }
        self.audit.apply_batch(batch)?;
        self.add_to_audit_count(-(removed as i64))?;
        Ok(removed)
    }

    /// Keep the stored event count in step with the log (read at start instead of counting it).
    /// A count missing at that point (older stores) is left for `audit_len` to establish.
    pub(super) fn add_to_audit_count(&self, delta: i64) -> Result<(), StoreError> {
        self.meta.fetch_and_update(AUDIT_COUNT, |old| {
            let n = old.and_then(|b| decode_count(b).ok())?;
            Some(n.saturating_add_signed(delta).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// Append events in records of up to `AUDIT_RECORD_EVENTS`.
    pub(super) fn append_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for chunk in events.chunks(AUDIT_RECORD_EVENTS) {
            let seq = self.db.generate_id()?;
            batch.insert(&audit_key(seq, chunk.len()), encode(&chunk)?);
        }
        self.audit.apply_batch(batch)?;
        self.add_to_audit_count(events.len() as i64)?;
        Ok(())
    }

    /// The newest `limit` events matching the filters, newest first.
    pub(super) fn newest_audit_events(
        &self,
        actor: Option<&str>,
        target: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out = Vec::new();
        for record in self.audit.iter().rev() {
            let (key, value) = record?;
            for e in audit_record(&key, &value)?.into_iter().rev() {
                if actor.is_some_and(|a| !e.actor.eq_ignore_ascii_case(a))
                    || target.is_some_and(|t| e.target != t)
                {
                    continue;
                }
                out.push(e);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// How many events are stored (counted once for stores of the first layout).
    pub(super) fn count_audit_events(&self) -> Result<u64, StoreError> {
        if let Some(n) = self.meta.get(AUDIT_COUNT)? {
            return decode_count(&n);
        }
        // A store of the first layout: count once (this reads the whole log) and keep the count.
        let mut n = 0;
        for key in self.audit.iter().keys() {
            n += audit_record_len(&key?)?;
        }
        self.meta.insert(AUDIT_COUNT, &n.to_be_bytes())?;
        Ok(n)
    }

    /// Retention: whole records go, once the log is over `keep`.
    pub(super) fn trim_audit_to(&self, keep: u64) -> Result<u64, StoreError> {
        // Whole records go, and only once the log is 1 % (and at least one record) over `keep`.
        let count = self.count_audit_events()?;
        if count <= keep + keep / 100 + AUDIT_RECORD_EVENTS as u64 {
            return Ok(0);
        }
        self.trim_audit(count - keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditAction;
    use crate::store::Store;

    fn event(i: usize) -> AuditEvent {
        AuditEvent::admin("alice", AuditAction::TokenIssue, &format!("/t/{i}"))
    }

    fn targets(events: &[AuditEvent]) -> Vec<String> {
        events.iter().map(|e| e.target.clone()).collect()
    }

    #[test]
    fn audit_batches_read_back_newest_first_and_trim_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        // 600 events in one call: three records (256 + 256 + 88), then 10 more in another.
        let first: Vec<AuditEvent> = (0..600).map(event).collect();
        store.append_audit(&first).unwrap();
        store
            .append_audit(&(600..610).map(event).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(store.audit.len(), 4);
        assert_eq!(store.audit_len().unwrap(), 610);
        drop(store);
        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(
            store.audit_len().unwrap(),
            610,
            "the count survives a restart"
        );

        let newest = store.audit_events(None, None, 3).unwrap();
        assert_eq!(targets(&newest), ["/t/609", "/t/608", "/t/607"]);
        let one = store.audit_events(None, Some("/t/300"), 10).unwrap();
        assert_eq!(targets(&one), ["/t/300"]);

        // Whole records go, never more events than asked: 300 asked, the first record's 256 go.
        assert_eq!(store.trim_audit(300).unwrap(), 256);
        assert_eq!(store.audit_len().unwrap(), 354);
        let all = store.audit_events(None, None, 1000).unwrap();
        assert_eq!(all.len(), 354);
        assert_eq!(all.last().unwrap().target, "/t/256");
        assert_eq!(all.first().unwrap().target, "/t/609");
        assert_eq!(store.trim_audit(255).unwrap(), 0);
        assert_eq!(store.trim_audit(1000).unwrap(), 354);
        assert_eq!(store.audit_len().unwrap(), 0);
    }

    #[test]
    fn audit_records_of_the_first_layout_are_still_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        // The first layout: one event per record under an 8-byte sequence number.
        for i in 0..3 {
            let seq = store.db.generate_id().unwrap();
            store
                .audit
                .insert(seq.to_be_bytes(), encode(&event(i)).unwrap())
                .unwrap();
        }
        store.meta.remove(AUDIT_COUNT).unwrap(); // as in a store of the first layout
        store.append_audit(&[event(3), event(4)]).unwrap();
        assert_eq!(store.audit_len().unwrap(), 5, "counted once");
        assert_eq!(store.audit_len().unwrap(), 5, "then read back");
        let all = store.audit_events(None, None, 10).unwrap();
        assert_eq!(targets(&all), ["/t/4", "/t/3", "/t/2", "/t/1", "/t/0"]);
        // The three old records, not the new one of two (that would make 5 > 4).
        assert_eq!(store.trim_audit(4).unwrap(), 3);
        assert_eq!(
            targets(&store.audit_events(None, None, 10).unwrap()),
            ["/t/4", "/t/3"]
        );
    }
}
