//! Backup and restore: export the whole store as a dump, import a dump into an empty store (see
//! [`crate::store::dump`]).

use super::state::Service;
use crate::domain::audit::{AuditAction, AuditEvent};
use crate::error::AppError;
use crate::secret::SecretString;
use crate::store::dump::{Dump, DumpKey, StoreRecords};

/// The shortest passphrase an export accepts.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// How an export seals the asset secrets.
pub enum ExportSealing {
    /// For this store's master key (restorable where that key is given).
    MasterKey,
    /// For a passphrase (restorable anywhere with it).
    Passphrase(SecretString),
    /// In the clear (asked for explicitly).
    InTheClear,
}

/// What an import restored.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    /// Users.
    pub users: usize,
    /// API keys.
    pub api_keys: usize,
    /// Assets.
    pub assets: usize,
    /// Audit events.
    pub audit_events: usize,
}

impl Service {
    /// The whole store as a dump: a consistent snapshot, taken while no admin write can run.
    /// Audited durably before it is returned (after the snapshot, so the dump does not name
    /// itself). Blocking.
    pub fn export(&self, actor: &str, sealing: ExportSealing) -> Result<Dump, AppError> {
        if let ExportSealing::Passphrase(p) = &sealing
            && p.expose().chars().count() < MIN_PASSPHRASE_CHARS
        {
            return Err(AppError::invalid(
                "passphrase",
                format!("must be at least {MIN_PASSPHRASE_CHARS} characters long"),
            ));
        }
        let key = match &sealing {
            ExportSealing::MasterKey => DumpKey::master(self.store.as_ref())?,
            ExportSealing::Passphrase(p) => DumpKey::passphrase(p.expose())?,
            ExportSealing::InTheClear => DumpKey::in_the_clear(),
        };
        let records = {
            let _writes = self.lock_writes();
            StoreRecords::read(self.store.as_ref())?
        };
        let detail = match sealing {
            ExportSealing::MasterKey => "secrets sealed for the master key",
            ExportSealing::Passphrase(_) => "secrets sealed for a passphrase",
            ExportSealing::InTheClear => "secrets in the clear",
        };
        let mut event = AuditEvent::admin(actor, AuditAction::StoreExport, "store");
        event.detail = Some(detail.into());
        // Written before the dump is handed out: an export that cannot be audited is refused.
        self.store.append_audit(&[event])?;
        Ok(Dump::new(records, &key))
    }

    /// Restore a dump (its JSON text) into this store, which must be empty. Blocking.
    pub fn import(
        &self,
        text: &[u8],
        passphrase: Option<&SecretString>,
    ) -> Result<Imported, AppError> {
        let dump = Dump::parse(text)?;
        let key = DumpKey::to_open(&dump, self.store.as_ref(), passphrase.map(|p| p.expose()))?;
        let records = dump.open(&key)?;
        let _writes = self.lock_writes();
        self.store.load(&records)?;
        // A dump written before groups were case-insensitive may hold both spellings.
        self.merge_case_duplicate_groups()?;
        // Templates of a dump written before the CMS-faithful keyword language are rewritten.
        self.upgrade_stored_templates()?;
        Ok(Imported {
            users: records.users.len(),
            api_keys: records.api_keys.len(),
            assets: records.assets.len(),
            audit_events: records.audit.len(),
        })
    }
}
