//! The admin JSON API under `/api/v1`: JSON in, JSON out; errors as RFC 9457 problem details;
//! `ETag`/`If-Match` on single records; lists paged by an opaque cursor; every route names the
//! API-key scope it needs.

mod assets;
mod common;
mod openapi;
mod paging;
mod settings;
mod users;

pub use assets::*;
pub use common::{
    AdminRead, AdminWrite, ApiError, CSRF_HEADER, IfMatch, MAX_JSON_BYTES, PROBLEM_JSON,
    current_session, json_config, not_found, path_config, problem_for_plain_errors, query_config,
};
pub use openapi::document as openapi_document;
pub use paging::{MAX_LIMIT, Page, PageQuery};
pub use settings::*;
pub use users::*;
