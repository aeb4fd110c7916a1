//! The embedded store's audit trail: append-only segment files in `<data dir>/audit`, outside
//! sled.
//!
//! sled keeps in memory every node it has written or read until its cache evicts it, and its
//! cache counts a large node at the size of a pointer: in sled, the trail held some 11 MB of
//! resident memory under token load. Here an event is a line of JSON in a segment file named by
//! its sequence number (`0000000000000001.jsonl`, oldest first); an append writes lines at the
//! end of the newest segment, retention deletes whole segments, and nothing is held in memory
//! but each segment's event count.
//!
//! Durability: appends are made durable (`fdatasync`) at most every `SYNC_EVERY`, when a segment
//! is finished, and at close; a crash can lose the events of that last fraction of a second, as
//! sled's own periodic flush did. A line cut short by a crash is removed when the store opens.
//!
//! Stores of earlier versions kept the trail in sled's `audit` tree (records of up to 256 events
//! under a sequence key); [`migrate_from_sled`] moves it into segment files once.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::records::{AUDIT_COUNT, decode};
use crate::domain::audit::{AuditEvent, AuditFilter, AuditLines, AuditPosition};
use crate::store::StoreError;

/// The directory of the segment files, inside the data directory.
pub(super) const AUDIT_DIR: &str = "audit";
/// sled's tree that held the trail in earlier versions.
const SLED_TREE: &str = "audit";
/// Where a migration from sled writes the segments before they are renamed into place.
const MIGRATING_DIR: &str = "audit.migrating";

/// A new segment is started once the newest holds this many events: an eighth of the retention
/// (set by the latest `keep_newest`) within these bounds, so that retention keeps at most an
/// eighth more than asked; until retention is first asked for, the size of the records earlier
/// versions kept in sled (and of PostgreSQL's rows).
const SEGMENT_EVENTS_DEFAULT: u64 = 256;
const SEGMENT_EVENTS_MIN: u64 = 64;
const SEGMENT_EVENTS_MAX: u64 = 16_384;

/// Appends are made durable at most this often (and whenever a segment is finished).
const SYNC_EVERY: Duration = Duration::from_millis(200);

/// The segment files and what is known of them.
pub(super) struct AuditFiles {
    dir: PathBuf,
    state: Mutex<Segments>,
}

struct Segments {
    /// Oldest first; the last one takes the appends.
    list: Vec<Segment>,
    /// The sequence number of the next new segment (never one used before, even when retention
    /// has deleted every segment).
    next_seq: u64,
    /// Events per segment before a new one is started.
    roll_at: u64,
    /// When the newest segment was last made durable; `None` when it has nothing unsynced.
    unsynced_since: Option<Instant>,
}

struct Segment {
    seq: u64,
    events: u64,
}

fn io(path: &Path, what: &str) -> impl Fn(std::io::Error) -> StoreError {
    let at = format!("cannot {what} {}", path.display());
    move |e| StoreError::Io(format!("{at}: {e}"))
}

fn segment_name(seq: u64) -> String {
    format!("{seq:016}.jsonl")
}

fn segment_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".jsonl")?;
    (digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "sync"))
}

/// Count the lines of a segment; a last line without its newline (an append cut short by a
/// crash) is cut off the file.
fn count_and_repair(path: &Path) -> Result<u64, StoreError> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io(path, "open"))?;
    let mut buf = vec![0; 64 * 1024];
    let (mut lines, mut offset, mut whole) = (0u64, 0u64, 0u64);
    loop {
        let n = file.read(&mut buf).map_err(io(path, "read"))?;
        if n == 0 {
            break;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                lines += 1;
                whole = offset + i as u64 + 1;
            }
        }
        offset += n as u64;
    }
    if whole < offset {
        tracing::warn!(
            file = %path.display(),
            bytes = offset - whole,
            "an audit event cut short (by a crash) was removed from the end of the file"
        );
        file.set_len(whole).map_err(io(path, "repair"))?;
        file.sync_all().map_err(io(path, "sync"))?;
    }
    Ok(lines)
}

impl AuditFiles {
    /// Open (or create) the segment directory in `data_dir`.
    pub(super) fn open(data_dir: &Path) -> Result<AuditFiles, StoreError> {
        let dir = data_dir.join(AUDIT_DIR);
        if !dir.exists() {
            super::files::create_private_dir(&dir)?;
            sync_dir(data_dir)?;
        }
        let mut seqs = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir, "read"))? {
            let entry = entry.map_err(io(&dir, "read"))?;
            if let Some(seq) = entry.file_name().to_str().and_then(segment_seq) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let list = seqs
            .into_iter()
            .map(|seq| {
                let events = count_and_repair(&dir.join(segment_name(seq)))?;
                Ok(Segment { seq, events })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(AuditFiles::with_segments(dir, list))
    }

    /// The segment files `list` (oldest first) in `dir`.
    fn with_segments(dir: PathBuf, list: Vec<Segment>) -> AuditFiles {
        AuditFiles {
            dir,
            state: Mutex::new(Segments {
                next_seq: list.last().map_or(1, |s| s.seq + 1),
                list,
                roll_at: SEGMENT_EVENTS_DEFAULT,
                unsynced_since: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Segments> {
        // The counts are only changed after the file operation they describe succeeded.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment_name(seq))
    }

    /// Append events, oldest first.
    pub(super) fn append(&self, lines: &AuditLines) -> Result<(), StoreError> {
        let mut s = self.lock();
        let mut from = 0;
        while from < lines.len() {
            let room = match s.list.last() {
                Some(last) if last.events < s.roll_at => s.roll_at - last.events,
                _ => {
                    // The newest segment is full (or there is none): it is made durable, and
                    // the next one is created and its name made durable.
                    self.sync_newest(&mut s)?;
                    let seq = s.next_seq;
                    let path = self.path(seq);
                    fs::OpenOptions::new()
                        .create_new(true)
                        .write(true)
                        .open(&path)
                        .map_err(io(&path, "create"))?;
                    sync_dir(&self.dir)?;
                    s.list.push(Segment { seq, events: 0 });
                    s.next_seq = seq + 1;
                    s.roll_at
                }
            };
            let to = lines.len().min(from + room as usize);
            self.write_lines(&mut s, lines.bytes(from, to), (to - from) as u64)?;
            from = to;
        }
        if s.unsynced_since.is_some_and(|t| t.elapsed() >= SYNC_EVERY) {
            self.sync_newest(&mut s)?;
        }
        Ok(())
    }

    /// Write `count` encoded events at the end of the newest segment; on failure the file is cut
    /// back to where it was, so that it never holds part of an event.
    fn write_lines(&self, s: &mut Segments, bytes: &[u8], count: u64) -> Result<(), StoreError> {
        let newest = s.list.last_mut().expect("a segment to append to");
        let path = self.path(newest.seq);
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path, "open"))?;
        let end = file.seek(SeekFrom::End(0)).map_err(io(&path, "open"))?;
        if let Err(e) = file.write_all(bytes) {
            if let Err(undo) = file.set_len(end) {
                tracing::error!(file = %path.display(), error = %undo, "could not take back a failed audit append");
            }
            return Err(io(&path, "write")(e));
        }
        newest.events += count;
        s.unsynced_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Make the newest segment's appends durable.
    fn sync_newest(&self, s: &mut Segments) -> Result<(), StoreError> {
        if s.unsynced_since.is_none() {
            return Ok(());
        }
        if let Some(newest) = s.list.last() {
            let path = self.path(newest.seq);
            fs::File::open(&path)
                .and_then(|f| f.sync_data())
                .map_err(io(&path, "sync"))?;
        }
        s.unsynced_since = None;
        Ok(())
    }

    /// Append a whole trail (an import, a migration) in segments of the largest size, made
    /// durable before returning; a smaller retention later deletes the oldest of them whole.
    pub(super) fn append_all(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.lock().roll_at = SEGMENT_EVENTS_MAX;
        self.append(&AuditLines::of(events))?;
        self.sync()
    }

    /// Make every append durable (at close).
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        self.sync_newest(&mut self.lock())
    }

    /// How many events are stored.
    pub(super) fn len(&self) -> u64 {
        self.lock().list.iter().map(|s| s.events).sum()
    }

    /// Retention: delete the oldest segments as long as at least `keep` events remain; returns
    /// how many events went.
    pub(super) fn keep_newest(&self, keep: u64) -> Result<u64, StoreError> {
        let mut s = self.lock();
        s.roll_at = (keep / 8).clamp(SEGMENT_EVENTS_MIN, SEGMENT_EVENTS_MAX);
        let mut total: u64 = s.list.iter().map(|s| s.events).sum();
        let mut removed = 0;
        while let Some(oldest) = s.list.first() {
            if total - oldest.events < keep {
                break;
            }
            let (seq, events) = (oldest.seq, oldest.events);
            let path = self.path(seq);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path, "remove")(e)),
            }
            s.list.remove(0);
            total -= events;
            removed += events;
        }
        if s.list.is_empty() {
            // The newest segment went too: nothing is left to sync.
            s.unsynced_since = None;
        }
        Ok(removed)
    }

    /// The newest `limit` events matching the filters and older than `before`, newest first;
    /// an event's position is its segment's sequence number and its line there.
    pub(super) fn newest(
        &self,
        filter: &AuditFilter,
        before: Option<AuditPosition>,
        limit: usize,
    ) -> Result<Vec<(AuditPosition, AuditEvent)>, StoreError> {
        // Held while reading, so that retention does not delete a segment being read; appends
        // wait for a page of the audit log at most.
        let s = self.lock();
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for segment in s.list.iter().rev() {
            if before.is_some_and(|b| segment.seq > b.batch) {
                continue;
            }
            let path = self.path(segment.seq);
            let bytes = fs::read(&path).map_err(io(&path, "read"))?;
            let lines: Vec<&[u8]> = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            for (index, line) in lines.iter().enumerate().rev() {
                let at = AuditPosition {
                    batch: segment.seq,
                    index: index as u64,
                };
                if before.is_some_and(|b| at >= b) {
                    continue;
                }
                let e: AuditEvent = serde_json::from_slice(line).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "{} holds a line that is not an audit event ({e}); restore the file from a backup or remove the line",
                        path.display()
                    ))
                })?;
                if !filter.matches(&e) {
                    continue;
                }
                out.push((at, e));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

/// Records of sled's `audit` tree of earlier versions: key = sequence number (8 bytes,
/// big-endian), then in the second layout the event count (4 bytes); value = one event (first
/// layout) or a JSON array of events, oldest first.
fn sled_record(key: &[u8], value: &[u8]) -> Result<Vec<AuditEvent>, StoreError> {
    match key.len() {
        8 => Ok(vec![decode(value)?]),
        12 => decode(value),
        _ => Err(StoreError::Corrupt("audit record key".into())),
    }
}

/// Move a trail kept in sled (earlier versions) into segment files, before they are opened. The
/// segments are written aside and renamed into place in one step, then the sled tree is
/// emptied: cut short at any point, the next start finds either the tree alone (and migrates
/// again) or the segments in place (and only empties the tree).
pub(super) fn migrate_from_sled(
    data_dir: &Path,
    db: &sled::Db,
    meta: &sled::Tree,
) -> Result<u64, StoreError> {
    let tree = db.open_tree(SLED_TREE)?;
    if tree.is_empty() {
        if meta.contains_key(AUDIT_COUNT)? {
            meta.remove(AUDIT_COUNT)?;
        }
        return Ok(0);
    }
    let target = data_dir.join(AUDIT_DIR);
    let mut moved = 0;
    if !target.exists() {
        let aside = data_dir.join(MIGRATING_DIR);
        if aside.exists() {
            fs::remove_dir_all(&aside).map_err(io(&aside, "remove"))?;
        }
        super::files::create_private_dir(&aside)?;
        let files = AuditFiles::with_segments(aside.clone(), Vec::new());
        let mut batch = Vec::new();
        for record in tree.iter() {
            let (key, value) = record?;
            batch.extend(sled_record(&key, &value)?);
            if batch.len() >= 4096 {
                files.append_all(&batch)?;
                moved += batch.len() as u64;
                batch.clear();
            }
        }
        files.append_all(&batch)?;
        moved += batch.len() as u64;
        drop(files);
        fs::rename(&aside, &target).map_err(io(&target, "create"))?;
        sync_dir(data_dir)?;
        tracing::info!(
            events = moved,
            "the audit trail moved out of sled into segment files"
        );
    }
    tree.clear()?;
    meta.remove(AUDIT_COUNT)?;
    db.flush()?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditAction;
    use crate::store::Store;
    use crate::store::sled::SledStore;
    use crate::store::sled::records::encode;

    fn event(i: usize) -> AuditEvent {
        AuditEvent::admin("alice", AuditAction::TokenIssue, &format!("/t/{i}"))
    }

    fn targets(events: &[AuditEvent]) -> Vec<String> {
        events.iter().map(|e| e.target.clone()).collect()
    }

    fn segments(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir.join(AUDIT_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn events_read_back_newest_first_across_segments_and_retention_deletes_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        // Retention of 800 makes segments of 100 events.
        assert_eq!(store.keep_newest_audit(800).unwrap(), 0);
        store
            .append_audit(&(0..250).map(event).collect::<Vec<_>>())
            .unwrap();
        store
            .append_audit(&(250..260).map(event).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(
            segments(dir.path()),
            [
                "0000000000000001.jsonl",
                "0000000000000002.jsonl",
                "0000000000000003.jsonl"
            ]
        );
        assert_eq!(store.audit_len().unwrap(), 260);
        store.close().unwrap();
        drop(store);

        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(store.audit_len().unwrap(), 260, "counted again at start");
        let newest = store.audit_events(&AuditFilter::default(), 3).unwrap();
        assert_eq!(targets(&newest), ["/t/259", "/t/258", "/t/257"]);
        let one = store
            .audit_events(&AuditFilter::exact(None, Some("/t/42")), 10)
            .unwrap();
        assert_eq!(targets(&one), ["/t/42"]);
        assert!(
            store
                .audit_events(&AuditFilter::exact(Some("bob"), None), 10)
                .unwrap()
                .is_empty()
        );
        let all = store.audit_events(&AuditFilter::default(), 1000).unwrap();
        assert_eq!(all.len(), 260);
        assert_eq!(all.last().unwrap().target, "/t/0");

        // 150 to keep: the oldest segment (100) goes, the second would leave 60 < 150.
        assert_eq!(store.keep_newest_audit(150).unwrap(), 100);
        assert_eq!(store.audit_len().unwrap(), 160);
        assert_eq!(segments(dir.path()).len(), 2);
        let all = store.audit_events(&AuditFilter::default(), 1000).unwrap();
        assert_eq!(all.last().unwrap().target, "/t/100");
        // Appends after retention go on in the newest segment.
        store.append_audit(&[event(260)]).unwrap();
        assert_eq!(
            targets(&store.audit_events(&AuditFilter::default(), 1).unwrap()),
            ["/t/260"]
        );
        assert_eq!(store.keep_newest_audit(0).unwrap(), 161);
        assert_eq!(store.audit_len().unwrap(), 0);
        store.append_audit(&[event(261)]).unwrap();
        assert_eq!(segments(dir.path()), ["0000000000000004.jsonl"]);
    }

    #[test]
    fn an_append_cut_short_by_a_crash_is_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        store.append_audit(&[event(0), event(1)]).unwrap();
        store.close().unwrap();
        drop(store);
        let path = dir.path().join(AUDIT_DIR).join(segment_name(1));
        let whole = fs::read(&path).unwrap();
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"at":"2026-12-03T05:00:00Z","actor":"ali"#)
            .unwrap();
        drop(file);

        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), whole, "the torn line is cut off");
        assert_eq!(store.audit_len().unwrap(), 2);
        store.append_audit(&[event(2)]).unwrap();
        assert_eq!(
            targets(&store.audit_events(&AuditFilter::default(), 10).unwrap()),
            ["/t/2", "/t/1", "/t/0"]
        );
    }

    #[test]
    fn a_damaged_line_is_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        store.append_audit(&[event(0)]).unwrap();
        let path = dir.path().join(AUDIT_DIR).join(segment_name(1));
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"not json\n").unwrap();
        let err = store.audit_events(&AuditFilter::default(), 10).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("0000000000000001.jsonl"), "{err}");
    }

    /// Put a trail into sled's `audit` tree as earlier versions wrote it: two records of the
    /// first layout (one event under an 8-byte key), one of the second (events under 12 bytes).
    fn write_sled_trail(db: &sled::Db) {
        let tree = db.open_tree("audit").unwrap();
        for i in 0..2 {
            let seq = db.generate_id().unwrap();
            tree.insert(seq.to_be_bytes(), encode(&event(i)).unwrap())
                .unwrap();
        }
        let seq = db.generate_id().unwrap();
        let mut key = seq.to_be_bytes().to_vec();
        key.extend_from_slice(&3u32.to_be_bytes());
        tree.insert(key, encode(&[event(2), event(3), event(4)]).unwrap())
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn a_trail_kept_in_sled_by_earlier_versions_moves_into_segments_once() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open_for_test(dir.path()).unwrap());
        fs::remove_dir_all(dir.path().join(AUDIT_DIR)).unwrap(); // as before this version
        {
            let db = SledStore::raw_for_test(dir.path());
            write_sled_trail(&db);
        }
        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(store.audit_len().unwrap(), 5);
        assert_eq!(
            targets(&store.audit_events(&AuditFilter::default(), 10).unwrap()),
            ["/t/4", "/t/3", "/t/2", "/t/1", "/t/0"]
        );
        assert!(store.db.open_tree(SLED_TREE).unwrap().is_empty());
        assert!(!dir.path().join(MIGRATING_DIR).exists());
        store.append_audit(&[event(5)]).unwrap();
        store.close().unwrap();
        drop(store);
        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(store.audit_len().unwrap(), 6, "moved once, not twice");
    }

    #[test]
    fn a_migration_cut_short_is_finished_without_losing_or_doubling_events() {
        // Cut short before the rename: the staging directory is left over, the tree is whole.
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open_for_test(dir.path()).unwrap());
        fs::remove_dir_all(dir.path().join(AUDIT_DIR)).unwrap();
        {
            let db = SledStore::raw_for_test(dir.path());
            write_sled_trail(&db);
        }
        let aside = dir.path().join(MIGRATING_DIR);
        fs::create_dir(&aside).unwrap();
        fs::write(aside.join(segment_name(1)), b"{\"half\n").unwrap();
        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(store.audit_len().unwrap(), 5);
        assert!(!aside.exists());
        store.close().unwrap();
        drop(store);

        // Cut short after the rename: the segments are in place and the tree still full.
        {
            let db = SledStore::raw_for_test(dir.path());
            write_sled_trail(&db);
        }
        let store = SledStore::open_for_test(dir.path()).unwrap();
        assert_eq!(
            store.audit_len().unwrap(),
            5,
            "the tree is emptied, not moved again"
        );
        assert!(store.db.open_tree(SLED_TREE).unwrap().is_empty());
    }
}
