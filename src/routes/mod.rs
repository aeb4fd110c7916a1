//! The route table: every URL the server answers, in one place.

pub mod api;
pub mod health;
pub mod session;
pub mod token;

use actix_web::web;

/// Register every route. Asset paths can never start with a reserved prefix (`/admin`, `/api`,
/// `/login`, `/logout`, `/static`, `/healthz`, `/metrics`, `/.well-known`, checked when saved), so
/// the token catch-all below cannot shadow these routes, nor they an asset.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(session::home))
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .service(
            web::resource("/login")
                .route(web::get().to(session::login_form))
                .route(web::post().to(session::login)),
        )
        .service(web::resource("/logout").route(web::post().to(session::logout)))
        .service(
            web::scope("/api/v1")
                .app_data(api::json_config())
                .service(web::resource("/session").route(web::get().to(api::current_session)))
                .service(
                    web::resource("/users")
                        .route(web::get().to(api::list_users))
                        .route(web::post().to(api::create_user)),
                )
                .service(web::resource("/users/{username}").route(web::get().to(api::get_user)))
                .service(
                    web::resource("/users/{username}/password")
                        .route(web::put().to(api::set_password)),
                )
                .service(
                    web::resource("/users/{username}/disable")
                        .route(web::post().to(api::disable_user)),
                )
                .service(
                    web::resource("/users/{username}/enable")
                        .route(web::post().to(api::enable_user)),
                )
                .service(
                    web::resource("/users/{username}/api-keys")
                        .route(web::get().to(api::list_api_keys))
                        .route(web::post().to(api::create_api_key)),
                )
                .service(
                    web::resource("/users/{username}/api-keys/{key}")
                        .route(web::delete().to(api::revoke_api_key)),
                )
                .service(
                    web::resource("/assets")
                        .route(web::get().to(api::list_assets))
                        .route(web::post().to(api::create_asset)),
                )
                .service(
                    web::resource("/assets/{id}")
                        .route(web::get().to(api::get_asset))
                        .route(web::put().to(api::update_asset))
                        .route(web::delete().to(api::purge_asset)),
                )
                .service(
                    web::resource("/assets/{id}/trash").route(web::post().to(api::trash_asset)),
                )
                .service(
                    web::resource("/assets/{id}/restore").route(web::post().to(api::restore_asset)),
                )
                .service(
                    web::resource("/assets/{id}/preview").route(web::get().to(api::preview_asset)),
                )
                .service(web::resource("/audit").route(web::get().to(api::audit_events)))
                .default_service(web::to(api::not_found)),
        )
        // Everything else is looked up as an asset path.
        .default_service(web::to(token::token));
}
