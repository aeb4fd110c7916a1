//! CSS, JavaScript and icons, compiled into the binary and served under `/static`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

/// (name, content type, bytes) of every static file.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    ),
    (
        "autopost.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/autopost.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icon.svg"),
    ),
];

/// `GET /static/{name}`.
pub async fn file(name: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
            .insert_header((
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ))
            .body(*bytes),
        None => HttpResponse::NotFound().finish(),
    }
}
