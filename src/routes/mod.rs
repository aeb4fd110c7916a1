//! The route table: every URL the server answers, in one place.

pub mod api;
pub mod extract;
pub mod health;
pub mod jwks;
pub mod session;
pub mod token;

use actix_web::{guard, web};

use crate::ui;

/// Register every route. Asset paths can never start with a reserved prefix (`/admin`, `/api`,
/// `/login`, `/logout`, `/static`, `/healthz`, `/metrics`, `/.well-known`, checked when saved), so
/// the token catch-all below cannot shadow these routes, nor they an asset.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/.well-known")
            .route("/jwks.json", web::get().to(jwks::all))
            .route("/openid-configuration", web::get().to(jwks::discovery))
            .default_service(web::to(jwks::not_found)),
    )
    .route("/", web::get().to(session::home))
    .route("/healthz", web::get().to(health::healthz))
    .route("/metrics", web::get().to(health::metrics))
    .service(
        web::resource("/login")
            .route(web::get().to(session::login_form))
            .route(web::post().to(session::login)),
    )
    // Routes with a `{…}` segment sit in scopes with a fixed prefix: a token request (every path
    // that is not reserved) then passes them with a prefix comparison instead of a pattern match
    // each (three patterns were ~12 % of the token path's instructions). A path inside a scope
    // that matches none of its routes still ends at the default service below.
    .service(
        web::scope("/login/oidc")
            .route("/{id}", web::get().to(session::oidc_start))
            .route("/{id}/callback", web::get().to(session::oidc_callback)),
    )
    .service(web::resource("/logout").route(web::post().to(session::logout)))
    .service(
        web::scope("/api/v1")
            .wrap(
                actix_web::middleware::ErrorHandlers::new()
                    .default_handler(api::problem_for_plain_errors),
            )
            .app_data(api::json_config())
            .app_data(api::query_config())
            .app_data(api::path_config())
            .service(web::resource("/openapi.json").route(web::get().to(api::openapi_document)))
            .service(web::resource("/session").route(web::get().to(api::current_session)))
            .service(
                web::resource("/users")
                    .route(web::get().to(api::list_users))
                    .route(web::post().to(api::create_user)),
            )
            .service(
                web::resource("/users/{username}")
                    .route(web::get().to(api::get_user))
                    .route(web::patch().to(api::update_user))
                    .route(web::delete().to(api::delete_user)),
            )
            .service(
                web::resource("/users/{username}/password").route(web::put().to(api::set_password)),
            )
            .service(
                web::resource("/users/{username}/disable").route(web::post().to(api::disable_user)),
            )
            .service(
                web::resource("/users/{username}/enable").route(web::post().to(api::enable_user)),
            )
            .service(
                web::resource("/users/{username}/sessions")
                    .route(web::get().to(api::list_sessions))
                    .route(web::delete().to(api::end_sessions)),
            )
            .service(
                web::resource("/users/{username}/api-keys")
                    .route(web::get().to(api::list_api_keys))
                    .route(web::post().to(api::create_api_key)),
            )
            .service(
                web::resource("/users/{username}/api-keys/{id}")
                    .route(web::get().to(api::get_api_key))
                    .route(web::delete().to(api::revoke_api_key)),
            )
            .service(
                web::resource("/users/{username}/upstream").route(web::put().to(api::link_user)),
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
            .service(web::resource("/assets/{id}/trash").route(web::post().to(api::trash_asset)))
            .service(
                web::resource("/assets/{id}/restore").route(web::post().to(api::restore_asset)),
            )
            .service(web::resource("/assets/{id}/preview").route(web::get().to(api::preview_asset)))
            .service(web::resource("/assets/{id}/rotate").route(web::post().to(api::rotate_key)))
            .service(
                web::resource("/assets/{id}/next-secret")
                    .route(web::post().to(api::set_next_secret))
                    .route(web::delete().to(api::cancel_next_secret)),
            )
            .service(
                web::resource("/assets/{id}/next-key")
                    .route(web::post().to(api::prepare_next_key))
                    .route(web::delete().to(api::withdraw_next_key)),
            )
            .service(
                web::resource("/assets/{id}/next-key/activate")
                    .route(web::post().to(api::activate_next_key)),
            )
            .service(
                web::resource("/assets/{id}/consumer-config")
                    .route(web::get().to(api::consumer_config)),
            )
            .service(
                web::resource("/assets/{id}/next-key.pem")
                    .route(web::get().to(api::next_public_key_pem)),
            )
            .service(
                web::resource("/assets/{id}/public-key.pem")
                    .route(web::get().to(api::public_key_pem)),
            )
            .service(web::resource("/trash").route(web::delete().to(api::empty_trash)))
            .service(web::resource("/audit").route(web::get().to(api::audit_events)))
            .service(web::resource("/export").route(web::post().to(api::export)))
            .service(
                web::resource("/identity-providers")
                    .route(web::get().to(api::list_identity_providers))
                    .route(web::post().to(api::create_identity_provider)),
            )
            .service(
                web::resource("/identity-providers/{id}")
                    .route(web::get().to(api::get_identity_provider))
                    .route(web::put().to(api::update_identity_provider))
                    .route(web::delete().to(api::delete_identity_provider)),
            )
            .service(
                web::resource("/sign-in-policy")
                    .route(web::get().to(api::get_sign_in_policy))
                    .route(web::put().to(api::set_sign_in_policy)),
            )
            .default_service(web::to(api::not_found)),
    )
    .service(web::scope("/static").route("/{name}", web::get().to(ui::static_files::file)))
    .service(
        web::scope("/admin")
            .route("", web::get().to(ui::assets::index))
            .route("/", web::get().to(ui::assets::index))
            .service(web::resource("/assets").route(web::get().to(ui::assets::list)))
            .service(
                web::resource("/assets/new")
                    .route(web::get().to(ui::assets::edit::new_form))
                    .route(web::post().to(ui::assets::edit::create)),
            )
            .service(
                web::resource("/assets/{id}")
                    .route(web::get().to(ui::assets::edit::edit_form))
                    .route(web::post().to(ui::assets::edit::save)),
            )
            .service(
                web::resource("/assets/{id}/preview")
                    .route(web::get().to(ui::assets::preview::preview)),
            )
            .service(
                web::resource("/assets/{id}/public-key.pem")
                    .route(web::get().to(ui::assets::keys::public_key_pem)),
            )
            .service(
                web::resource("/assets/{id}/rotate")
                    .route(web::post().to(ui::assets::keys::rotate)),
            )
            .service(
                web::resource("/assets/{id}/next-secret")
                    .route(web::post().to(ui::assets::keys::next_secret)),
            )
            .service(
                web::resource("/assets/{id}/next-secret/cancel")
                    .route(web::post().to(ui::assets::keys::cancel_next_secret)),
            )
            .service(
                web::resource("/assets/{id}/next-key")
                    .route(web::post().to(ui::assets::keys::next_key)),
            )
            .service(
                web::resource("/assets/{id}/next-key/activate")
                    .route(web::post().to(ui::assets::keys::activate_next_key)),
            )
            .service(
                web::resource("/assets/{id}/next-key/withdraw")
                    .route(web::post().to(ui::assets::keys::withdraw_next_key)),
            )
            .service(
                web::resource("/assets/{id}/next-key.pem")
                    .route(web::get().to(ui::assets::keys::next_public_key_pem)),
            )
            .service(
                web::resource("/assets/{id}/trash").route(web::post().to(ui::assets::trash::trash)),
            )
            .service(
                web::resource("/assets/{id}/restore")
                    .route(web::post().to(ui::assets::trash::restore)),
            )
            .service(
                web::resource("/assets/{id}/purge")
                    .route(web::get().to(ui::assets::trash::purge_confirm))
                    .route(web::post().to(ui::assets::trash::purge)),
            )
            .service(web::resource("/trash").route(web::get().to(ui::assets::trash::trash_list)))
            .service(
                web::resource("/trash/empty").route(web::post().to(ui::assets::trash::empty_trash)),
            )
            .service(
                web::resource("/users")
                    .route(web::get().to(ui::people::users))
                    .route(web::post().to(ui::people::create_user)),
            )
            .service(
                web::resource("/users/{username}")
                    .route(web::get().to(ui::people::user_page))
                    .route(web::post().to(ui::people::save_user)),
            )
            .service(
                web::resource("/users/{username}/password")
                    .route(web::post().to(ui::people::set_password)),
            )
            .service(
                web::resource("/users/{username}/disable")
                    .route(web::post().to(ui::people::disable)),
            )
            .service(
                web::resource("/users/{username}/enable").route(web::post().to(ui::people::enable)),
            )
            .service(
                web::resource("/users/{username}/delete").route(web::post().to(ui::people::delete)),
            )
            .service(
                web::resource("/users/{username}/sessions/end")
                    .route(web::post().to(ui::people::end_sessions)),
            )
            .service(
                web::resource("/users/{username}/api-keys")
                    .route(web::post().to(ui::people::create_api_key)),
            )
            .service(
                web::resource("/users/{username}/api-keys/{id}/revoke")
                    .route(web::post().to(ui::people::revoke_api_key)),
            )
            .service(web::resource("/groups").route(web::get().to(ui::groups::groups)))
            .service(web::resource("/groups/{name}").route(web::get().to(ui::groups::group)))
            .service(web::resource("/suggest").route(web::get().to(ui::groups::suggest)))
            .service(web::resource("/once").route(web::get().to(ui::once::once)))
            .service(
                web::resource("/debugger")
                    .route(web::get().to(ui::tools::debugger))
                    .route(web::post().to(ui::tools::debug)),
            )
            .service(web::resource("/audit").route(web::get().to(ui::tools::audit)))
            .service(web::resource("/sign-in").route(web::get().to(ui::sign_in::settings)))
            .service(
                web::resource("/sign-in/providers")
                    .route(web::post().to(ui::sign_in::add_provider)),
            )
            .service(
                web::resource("/sign-in/providers/{id}")
                    .route(web::post().to(ui::sign_in::save_provider)),
            )
            .service(
                web::resource("/sign-in/providers/{id}/remove")
                    .route(web::post().to(ui::sign_in::remove_provider)),
            )
            .service(
                web::resource("/sign-in/policy").route(web::post().to(ui::sign_in::save_policy)),
            )
            .service(
                web::resource("/users/{username}/upstream")
                    .route(web::post().to(ui::sign_in::link_user)),
            )
            .service(web::resource("/my-tokens").route(web::get().to(ui::tools::my_tokens)))
            .default_service(web::to(ui::not_found)),
    )
    // Everything else is looked up as an asset path.
    // `{asset path}/jwks.json` (asset paths never end in /jwks.json, so no asset is shadowed):
    // told by its suffix rather than a pattern, so the other token URLs pay nothing for it.
    .service(
        web::scope("")
            .guard(guard::fn_guard(jwks::is_asset_jwks))
            .default_service(web::to(jwks::of_asset)),
    )
    // `{issuer path}/.well-known/openid-configuration`, likewise told by its suffix.
    .service(
        web::scope("")
            .guard(guard::fn_guard(jwks::is_discovery))
            .default_service(web::to(jwks::discovery)),
    )
    // Every other path is looked up as an asset.
    .default_service(web::to(token::token));
}
