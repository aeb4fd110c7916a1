//! The application error type and its one status table.

use actix_web::http::StatusCode;

pub use crate::domain::FieldError;
use crate::store::StoreError;

/// Everything a request can fail with. [`AppError::status`] is the only place that maps
/// errors to HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in, bad or revoked credentials, disabled user, or not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such record (or the asset is trashed, for token URLs).
    #[error("not found")]
    NotFound,
    /// Input that fails validation.
    #[error("invalid input: {0}")]
    Invalid(FieldError),
    /// The request conflicts with the current state (a taken path, purge of a live asset …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An edit based on an old version of the record.
    #[error("stale edit: the record is at version {current}, changed by {by} at {at}")]
    Stale {
        /// The version now stored.
        current: u64,
        /// Who made the newer change.
        by: String,
        /// When (RFC 3339).
        at: String,
    },
    /// The asset is misconfigured for this request (e.g. a template renders text into a value position).
    #[error("asset configuration error: {0}")]
    Config(String),
    /// Too many failed sign-ins for one username; try again after this many seconds.
    #[error("too many failed sign-ins; retry in {0} s")]
    Throttled(u64),
    /// Too many failed sign-ins from one client address; try again after this many seconds.
    #[error("too many failed sign-ins from this address; retry in {0} s")]
    ThrottledAddress(u64),
    /// A request body larger than the server accepts.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A template that renders an error for a particular user (shown by the admin preview).
    #[error("render error: {0}")]
    Render(FieldError),
    /// The database cannot be reached now: try again shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: storage failures, bugs.
    #[error("unexpected error: {0}")]
    Unexpected(String),
}

impl AppError {
    /// The one status table.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) | AppError::Stale { .. } => StatusCode::CONFLICT,
            AppError::Render(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Throttled(_) | AppError::ThrottledAddress(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Config(_) | AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Shorthand for a field error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(FieldError::new(field, message))
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AppError::Conflict(what),
            StoreError::VersionMismatch => AppError::Conflict(
                "the record was changed by someone else meanwhile; try again".into(),
            ),
            StoreError::Unavailable(why) => AppError::Unavailable(why),
            other => AppError::Unexpected(other.to_string()),
        }
    }
}
