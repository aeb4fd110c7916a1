//! The one way to run blocking work (a durable store write, a password hash, a large read) from
//! async code: on the runtime's blocking threads, never on an async worker.

use crate::error::AppError;

/// Run `f` on a blocking thread and hand back its result.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Unexpected(format!("a blocking task failed: {e}")))?
}
