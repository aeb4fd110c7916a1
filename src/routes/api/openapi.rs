//! The API's description, OpenAPI 3.1, generated from the handlers' own annotations and types
//! (so it cannot drift from them), served at `/api/v1/openapi.json`.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref};
use utoipa::{Modify, OpenApi};

use super::{assets, common, settings, users};

/// The API, as the handlers declare it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "jwt-asset-server admin API",
        description = "Everything the admin UI does. Errors are problem details (RFC 9457); lists are paged by cursor; \
                       records carry an ETag that If-Match holds changes to; each route names the API-key scope it needs \
                       (tokens, admin:read, admin:write) as the scopes of its `api_key` requirement.",
    ),
    paths(
        common::current_session,
        users::list_users, users::create_user, users::get_user, users::update_user,
        users::delete_user, users::set_password, users::disable_user, users::enable_user,
        users::list_sessions, users::end_sessions, users::create_api_key, users::list_api_keys,
        users::get_api_key, users::revoke_api_key, users::link_user,
        assets::list_assets, assets::create_asset, assets::get_asset, assets::update_asset,
        assets::purge_asset, assets::trash_asset, assets::restore_asset, assets::empty_trash,
        assets::preview_asset, assets::rotate_key, assets::set_next_secret,
        assets::cancel_next_secret, assets::prepare_next_key, assets::activate_next_key,
        assets::withdraw_next_key, assets::next_public_key_pem, assets::public_key_pem,
        assets::consumer_config,
        settings::audit_events, settings::export, settings::list_identity_providers,
        settings::create_identity_provider, settings::get_identity_provider,
        settings::update_identity_provider, settings::delete_identity_provider,
        settings::get_sign_in_policy, settings::set_sign_in_policy,
    ),
    components(schemas(common::Problem)),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// What every operation shares: the two ways to sign in, and the error answers.
struct Conventions;

/// The error statuses any admin route may answer, with what they mean.
const PROBLEMS: [(&str, &str); 10] = [
    (
        "400",
        "Invalid input: a field, the query or the If-Match header (problem details name it)",
    ),
    (
        "403",
        "Not signed in, not an administrator, or the API key lacks the scope",
    ),
    ("404", "No such record"),
    ("409", "A conflict, or a stale version in the body"),
    ("412", "If-Match names a version the record is no longer at"),
    ("413", "The body is larger than 256 KiB"),
    ("422", "The template cannot render for this user"),
    ("429", "Too many attempts"),
    ("500", "The asset is misconfigured, or an internal error"),
    ("503", "The database is unavailable; nothing was changed"),
];

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`jas_…`) of an administrator, with the scope the route lists",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "jas_session",
                "An administrator's session cookie; calls also send its CSRF token as X-CSRF-Token",
            ))),
        );
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_problems(op);
            }
        }
    }
}

fn add_problems(op: &mut Operation) {
    for (status, description) in PROBLEMS {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        common::PROBLEM_JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .into()
            });
    }
}

/// The document as JSON, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"the API description failed: {e}\"}}"))
});

/// `GET /api/v1/openapi.json`: the API description (no credentials needed: it holds none).
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(DOCUMENT.as_str())
}
