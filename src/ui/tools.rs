//! tools pages (being built).
use super::UiError;
use actix_web::HttpResponse;

/// Placeholder until the page exists.
pub async fn debugger() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn debug() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn audit() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn my_tokens() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}
