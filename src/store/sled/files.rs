//! The data directory is the server's alone: 0700 for directories and 0600 for files, whoever
//! creates it (the server or the CLI) and whatever the umask, since it holds password hashes,
//! credential digests and signing secrets.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::store::StoreError;

/// The directory of the data keys (see `keyring`), in the data directory.
pub(super) const KEYS_DIR: &str = "keys";

const DIR_MODE: u32 = 0o700;
/// The mode of every file in the data directory.
pub(super) const FILE_MODE: u32 = 0o600;

/// From now on this process creates files and directories for its own user only (umask 077):
/// the files sled adds later (snapshots, blobs) are private from their first byte.
pub(super) fn private_from_now_on() {
    #[cfg(target_os = "linux")]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Create the data directory (and its parents) as 0700 when it does not exist.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))
}

/// Prove the directory takes a write: a small file written, synced and removed.
pub(super) fn probe_write(dir: &Path) -> Result<(), StoreError> {
    let probe = dir.join(".write-test");
    let written = fs::File::create(&probe).and_then(|mut f| {
        std::io::Write::write_all(&mut f, &[0; 4096])?;
        f.sync_all()
    });
    let removed = fs::remove_file(&probe);
    written
        .and(removed)
        .map_err(|e| StoreError::Io(format!("cannot write to {}: {e}", dir.display())))
}

/// Give the data directory and everything in it to the owner alone; returns how many entries
/// another user could read or write before (a store copied with default permissions).
pub(super) fn tighten(dir: &Path) -> Result<usize, StoreError> {
    let fail = |path: &Path, e: std::io::Error| {
        StoreError::Io(format!(
            "cannot restrict the permissions of {}: {e}",
            path.display()
        ))
    };
    let mut loosened = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|e| fail(&path, e))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let wanted = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            loosened += 1;
        }
        if mode != wanted {
            fs::set_permissions(&path, fs::Permissions::from_mode(wanted))
                .map_err(|e| fail(&path, e))?;
        }
        // The data keys (one file per asset) are tightened one by one only when their directory
        // was found open (a careless copy): not 10 000 lookups at every start. (The keyring
        // also tightens each file it reads, through the file it opened.)
        let keys = path.file_name() == Some(KEYS_DIR.as_ref());
        if meta.is_dir() && (!keys || mode != wanted) {
            for entry in fs::read_dir(&path).map_err(|e| fail(&path, e))? {
                pending.push(entry.map_err(|e| fail(&path, e))?.path());
            }
        }
    }
    Ok(loosened)
}

/// Write `bytes` to `path` so that a crash leaves the old file or the new one: `<path>.tmp`
/// written and synced, renamed over `path`, and the directory synced.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let io = |e: std::io::Error| StoreError::Io(format!("cannot write {}: {e}", path.display()));
    let tmp = std::path::PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

/// Is this one of sled's own entries in a data directory?
pub(super) fn is_sled_entry(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs") || name.starts_with("snap.")
}

/// The store's own lock, held while it is open: taken before anything in the directory is
/// touched, so a second process is told the directory is in use before it copies or repairs
/// anything (sled's lock is only taken once sled opens its files).
pub(super) fn lock(dir: &Path) -> Result<fs::File, StoreError> {
    let path = dir.join("lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", path.display())))?;
    #[cfg(target_os = "linux")]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| StoreError::Locked(dir.display().to_string()))?;
    Ok(file)
}
