//! The acknowledgement ledger: how many writes this store has acknowledged, kept in a small file
//! beside sled's log rather than in it. sled recovers a damaged log by keeping what comes before
//! the first damaged record and dropping the rest, so a store that lost its newest writes still
//! opens; each acknowledged write also advances a counter inside sled, and a store whose counter
//! is behind the ledger has lost writes that were acknowledged: it is refused, not served.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// The ledger file, in the data directory.
pub(super) const LEDGER_FILE: &str = "acknowledged";

/// The count of acknowledged writes, on disk.
pub(super) struct Ledger {
    path: PathBuf,
}

impl Ledger {
    /// Check sled's count of durable writes (`recovered`) against the ledger, and bring the ledger
    /// up to it: refused when sled holds fewer writes than were acknowledged. A store without a
    /// ledger (new, or written by an earlier version) starts one at `recovered`.
    pub(super) fn open(dir: &Path, recovered: u64) -> Result<Ledger, StoreError> {
        let ledger = Ledger {
            path: dir.join(LEDGER_FILE),
        };
        match ledger.read()? {
            Some(acknowledged) if acknowledged > recovered => {
                return Err(StoreError::Corrupt(format!(
                    "{}: the store lost writes it had acknowledged: it holds {recovered} of the \
                     {acknowledged} recorded in {LEDGER_FILE} (the newest {} are missing, most \
                     likely from a damaged or truncated database file). Refusing to serve a partial \
                     store. Restore the directory from a backup",
                    dir.display(),
                    acknowledged - recovered
                )));
            }
            Some(acknowledged) if acknowledged == recovered => {}
            // A crash between sled's flush and the ledger's, or a first start.
            _ => ledger.acknowledge(recovered)?,
        }
        Ok(ledger)
    }

    /// The acknowledged count, `None` when there is no ledger yet.
    fn read(&self) -> Result<Option<u64>, StoreError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                StoreError::Corrupt(format!(
                    "{} is not a count of acknowledged writes; restore the data directory from a backup",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Record `count` acknowledged writes durably: a new file, synced, renamed over the old one,
    /// and the directory synced, so a crash leaves the old count or the new one.
    pub(super) fn acknowledge(&self, count: u64) -> Result<(), StoreError> {
        super::files::write_atomically(&self.path, format!("{count}\n").as_bytes())
    }
}
