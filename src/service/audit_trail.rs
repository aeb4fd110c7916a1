//! Reading the audit trail.

use super::state::Service;
use crate::domain::audit::{AuditEvent, AuditFilter};
use crate::error::AppError;

impl Service {
    /// Recent audit events, newest first (waits for queued events to be written).
    pub fn audit_events(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, AppError> {
        self.audit.flush();
        Ok(self.store.audit_events(filter, limit.clamp(1, 1000))?)
    }
}
