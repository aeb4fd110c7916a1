//! assets pages (being built).
use super::UiError;
use actix_web::HttpResponse;

/// Placeholder until the page exists.
pub async fn index() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn list() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn new_form() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn create() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn edit_form() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn save() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn preview() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn trash() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn restore() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn purge_confirm() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn purge() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn trash_list() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}

/// Placeholder until the page exists.
pub async fn empty_trash() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound)
}
