//! people pages (being built).
use super::UiError;
use actix_web::HttpResponse;

/// Placeholder until the page exists.
pub async fn users() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn create_user() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn user_page() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn save_user() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn set_password() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn disable() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn enable() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn end_sessions() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn create_api_key() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn revoke_api_key() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}
