//! Nothing changed on disk when a store is refused. sled repairs its files as it opens them
//! (after a crash, and also when they are damaged: it keeps what comes before the first damaged
//! record), and only then can the ledger tell that acknowledged writes are missing. So unless
//! sled's files are exactly as a clean close left them, they are copied aside before sled opens
//! them, and put back if the store is refused: the damaged store stays as it was found, for a
//! restore or an inspection.
//!
//! "As a clean close left them" is a fingerprint (length, modification and change times, inode
//! of each file) written by `close` after its flush: any later change to the files, a copy of
//! the directory, or a crash (no fingerprint) leads to a copy. The change time cannot be set by
//! tools that copy or edit files, so a damaged copy is never taken for the clean original.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::files::is_sled_entry;
use crate::store::StoreError;

/// The fingerprint of sled's files after a clean close.
const CLOSED_CLEANLY: &str = "closed-cleanly";
/// Where the copy is kept while sled opens the store.
const COPY_DIR: &str = ".before-open";
/// Written into a copy once it is whole: the names of the sled entries it holds.
pub(super) const COMPLETE: &str = "complete";

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |e| StoreError::Io(format!("{path}: {e}"))
}

/// sled's entries in `dir`, sorted.
fn sled_entries(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| is_sled_entry(n))
        .collect();
    names.sort();
    Ok(names)
}

/// Length, times and inode of every file under sled's entries.
fn fingerprint(dir: &Path) -> Result<String, StoreError> {
    fn walk(path: &Path, name: &str, out: &mut String) -> Result<(), StoreError> {
        let meta = fs::symlink_metadata(path).map_err(io(path))?;
        if meta.is_dir() {
            let mut children: Vec<_> = fs::read_dir(path)
                .map_err(io(path))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            children.sort();
            for child in children {
                walk(&path.join(&child), &format!("{name}/{child}"), out)?;
            }
        } else {
            out.push_str(&format!(
                "{name} {} {}.{} {}.{} {}\n",
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec(),
                meta.ino()
            ));
        }
        Ok(())
    }
    let mut out = String::new();
    for name in sled_entries(dir)? {
        walk(&dir.join(&name), &name, &mut out)?;
    }
    Ok(out)
}

/// After the final flush of a clean close: remember how sled's files look (best-effort; without
/// it the next open keeps a copy).
pub(super) fn mark_closed(dir: &Path) {
    let written = fingerprint(dir).and_then(|print| {
        let path = dir.join(CLOSED_CLEANLY);
        let tmp = dir.join(format!("{CLOSED_CLEANLY}.tmp"));
        fs::write(&tmp, print)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(io(&path))
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not record the clean close; the next start copies the store first");
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if fs::symlink_metadata(from)?.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        fs::File::open(to)?.sync_all()
    } else {
        fs::copy(from, to)?;
        fs::File::open(to)?.sync_all()
    }
}

/// Remove a copy: first its `complete` mark, durably, then the rest.
fn forget_copy(copy: &Path) -> Result<(), StoreError> {
    remove(&copy.join(COMPLETE))?;
    fs::File::open(copy)
        .and_then(|d| d.sync_all())
        .map_err(io(copy))?;
    remove(copy)
}

fn remove(path: &Path) -> Result<(), StoreError> {
    let removed = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    removed.map_err(io(path))
}

/// sled's files as they were before it opened them, while it does.
pub(super) struct BeforeOpen {
    dir: PathBuf,
    /// The copy, when one was needed.
    copy: Option<PathBuf>,
}

impl BeforeOpen {
    /// Call with the store's lock held, before sled opens `dir`. A copy left by an open that was
    /// cut short is put back first (it is the state before that open).
    pub(super) fn keep(dir: &Path) -> Result<BeforeOpen, StoreError> {
        let copy = dir.join(COPY_DIR);
        if copy.join(COMPLETE).exists() {
            tracing::warn!(
                "an earlier start was cut short while opening the store; its files are put back first"
            );
            put_back(dir, &copy)?;
        } else if copy.exists() {
            remove(&copy)?;
        }
        let marker = dir.join(CLOSED_CLEANLY);
        let entries = sled_entries(dir)?;
        let clean = match fs::read_to_string(&marker) {
            Ok(print) => print == fingerprint(dir)?,
            Err(_) => false,
        };
        remove(&marker)?;
        if clean || entries.is_empty() {
            return Ok(BeforeOpen {
                dir: dir.to_path_buf(),
                copy: None,
            });
        }
        let copied = (|| -> std::io::Result<()> {
            fs::create_dir_all(&copy)?;
            for name in &entries {
                copy_tree(&dir.join(name), &copy.join(name))?;
            }
            mark_complete(&copy, &entries)
        })();
        match copied {
            Ok(()) => Ok(BeforeOpen {
                dir: dir.to_path_buf(),
                copy: Some(copy),
            }),
            Err(e) => {
                // Not enough room for a copy: open without one (a refusal then may leave sled's repair).
                tracing::warn!(error = %e, "could not copy the store before opening it");
                remove(&copy)?;
                Ok(BeforeOpen {
                    dir: dir.to_path_buf(),
                    copy: None,
                })
            }
        }
    }

    /// The store opened: the copy is not needed. Its `complete` mark goes first (and durably),
    /// so that a copy half removed is never put back over newer writes.
    pub(super) fn discard(self) -> Result<(), StoreError> {
        match &self.copy {
            Some(copy) => forget_copy(copy),
            None => Ok(()),
        }
    }

    /// The store was refused (sled is closed again): put its files back as they were found.
    /// Returns whether they were (false when no copy could be made).
    pub(super) fn put_back(self) -> Result<bool, StoreError> {
        match &self.copy {
            Some(copy) => put_back(&self.dir, copy).map(|()| true),
            None => Ok(false),
        }
    }
}

/// Mark a copy whole (durably): it holds the sled entries `entries`.
pub(super) fn mark_complete(copy: &Path, entries: &[String]) -> std::io::Result<()> {
    let mut complete = fs::File::create(copy.join(COMPLETE))?;
    complete.write_all(entries.join("\n").as_bytes())?;
    complete.sync_all()?;
    fs::File::open(copy)?.sync_all()
}

/// Replace sled's files in `dir` by the complete copy in `copy` (again, after a crash), then
/// remove the copy. Used to put a store back as it was found, and to move a migrated copy in.
pub(super) fn put_back(dir: &Path, copy: &Path) -> Result<(), StoreError> {
    let listed = fs::read_to_string(copy.join(COMPLETE)).map_err(io(copy))?;
    let names: Vec<&str> = listed.lines().filter(|n| is_sled_entry(n)).collect();
    for name in sled_entries(dir)? {
        if !names.contains(&name.as_str()) {
            remove(&dir.join(&name))?;
        }
    }
    for name in &names {
        let from = copy.join(name);
        if from.exists() {
            let to = dir.join(name);
            remove(&to)?;
            fs::rename(&from, &to).map_err(io(&to))?;
        }
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    forget_copy(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_close_needs_no_copy_and_any_change_does() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("conf"), b"conf").unwrap();
        fs::write(d.join("db"), b"0123456789").unwrap();
        mark_closed(d);
        let kept = BeforeOpen::keep(d).unwrap();
        assert!(kept.copy.is_none(), "unchanged since the clean close");
        kept.discard().unwrap();

        // No fingerprint (a crash): copied, and put back after a refusal.
        let kept = BeforeOpen::keep(d).unwrap();
        assert!(kept.copy.is_some());
        fs::write(d.join("db"), b"repaired").unwrap();
        fs::write(d.join("snap.01"), b"new snapshot").unwrap();
        assert!(kept.put_back().unwrap());
        assert_eq!(fs::read(d.join("db")).unwrap(), b"0123456789");
        assert!(!d.join("snap.01").exists());
        assert!(!d.join(COPY_DIR).exists());

        // Changed after the clean close (same length): copied.
        mark_closed(d);
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(d.join("db"), b"0123456788").unwrap();
        let kept = BeforeOpen::keep(d).unwrap();
        assert!(kept.copy.is_some());
        kept.discard().unwrap();
        assert!(!d.join(COPY_DIR).exists());
    }

    #[test]
    fn a_copy_left_by_an_interrupted_open_is_put_back_first() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("db"), b"original").unwrap();
        let kept = BeforeOpen::keep(d).unwrap();
        fs::write(d.join("db"), b"half repaired").unwrap();
        std::mem::forget(kept); // the process died here
        let kept = BeforeOpen::keep(d).unwrap();
        assert_eq!(fs::read(d.join("db")).unwrap(), b"original");
        kept.discard().unwrap();
    }
}
