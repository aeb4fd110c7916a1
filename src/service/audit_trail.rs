//! Reading the audit trail.

use super::state::Service;
use crate::domain::audit::{AuditEvent, AuditFilter, AuditPosition};
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

impl Service {
    /// One page of the audit trail, newest first: up to `limit` events older than `before`,
    /// each with its position (waits for queued events to be written).
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<AuditPosition>,
        limit: usize,
    ) -> Result<Vec<(AuditPosition, AuditEvent)>, AppError> {
        self.audit.flush();
        Ok(self.store.audit_page(filter, before, limit)?)
    }
}
