//! `rekey`: replace the master key of a stopped server's store.

use std::path::PathBuf;

use crate::config::Settings;
use crate::store::StoreError;
use crate::store::sealing::{MasterKey, MasterKeySource, read_key_file, write_key_file};
use crate::store::sled::SledStore;

/// Make a new master key (kept in `<target>.new` until the store uses it, so an interrupted run
/// picks up the same key), wrap every data key with it, then move it to the target.
pub(super) fn rekey(settings: &Settings, new_key_file: Option<PathBuf>) -> Result<(), StoreError> {
    if settings.database_url.is_some() {
        return Err(StoreError::MasterKey(
            "rekey works on the embedded store only so far; for PostgreSQL, export with the old key \
             and import into a new database with the new one"
                .into(),
        ));
    }
    let source = settings.master_key_source()?;
    let old = source.load()?.ok_or_else(|| {
        StoreError::MasterKey(format!(
            "{} does not exist: rekey needs the current master key",
            source.describe()
        ))
    })?;
    let target = match (new_key_file, &source) {
        (Some(path), _) => path,
        (None, MasterKeySource::File(path)) => path.clone(),
        (None, MasterKeySource::Given(_)) => {
            return Err(StoreError::MasterKey(
                "the master key comes from JWT_ASSET_SERVER_MASTER_KEY: name a file for the new key with --new-key-file".into(),
            ));
        }
    };
    let current_file = match &source {
        MasterKeySource::File(path) => Some(path.clone()),
        MasterKeySource::Given(_) => None,
    };
    if current_file.as_ref() != Some(&target) && target.exists() {
        return Err(StoreError::MasterKey(format!(
            "{} exists: name a new file for the new key",
            target.display()
        )));
    }
    let pending = PathBuf::from(format!("{}.new", target.display()));
    let new = match read_key_file(&pending)? {
        Some(key) => key,
        None => {
            let key = MasterKey::generate()?;
            write_key_file(&pending, &key)?;
            key
        }
    };
    let rewrapped = SledStore::rekey(&settings.data_dir, &old, &new)?;
    // The old key is kept beside the new one when the new one replaces it: backups of the
    // directory and dumps sealed for the master key before now open only with it.
    let kept_old = if current_file.as_ref() == Some(&target) {
        let kept = PathBuf::from(format!("{}.old-{}", target.display(), old.id()));
        if read_key_file(&kept)?.is_none() {
            write_key_file(&kept, &old)?;
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&pending, &target)
        .and_then(|()| {
            let dir = target.parent().filter(|p| !p.as_os_str().is_empty());
            std::fs::File::open(dir.unwrap_or(std::path::Path::new(".")))?.sync_all()
        })
        .map_err(|e| {
            StoreError::MasterKey(format!(
                "the store now uses the key in {}, which could not be moved to {}: {e}",
                pending.display(),
                target.display()
            ))
        })?;
    println!(
        "rekeyed: {rewrapped} data keys are now wrapped by the master key {} (was {}), written to {}. \
         Back it up now; the old key no longer opens this store.",
        new.id(),
        old.id(),
        target.display()
    );
    match (&kept_old, &current_file) {
        (Some(kept), _) => println!(
            "The old key is kept in {}: backups and master-key dumps made before now need it. \
             Move it to your offline key backup, or delete it if it was compromised.",
            kept.display()
        ),
        (None, Some(old_file)) => println!(
            "The old key in {} no longer opens this store; keep it only while older backups need it.",
            old_file.display()
        ),
        (None, None) => {}
    }
    if matches!(source, MasterKeySource::Given(_)) {
        println!(
            "Give the server the new key (the file's content) as JWT_ASSET_SERVER_MASTER_KEY."
        );
    } else if Some(&target) != settings.master_key_path().ok().as_ref() {
        println!("Point --master-key-file at it (or move it in place of the old key file).");
    }
    Ok(())
}
