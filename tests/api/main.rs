//! Integration tests: the real server on a free port, a fresh data directory, real HTTP.

mod admin_api;
mod api_keys;
mod assets;
mod audit;
mod backup;
mod claims;
mod cli;
mod cluster;
mod crash;
mod damage;
mod delivery;
mod discovery;
mod disk_full;
mod hardening;
mod health;
mod helpers;
mod injection;
mod keys;
mod known_answer;
mod lifecycle;
#[path = "../support/oidc.rs"]
mod oidc;
mod oidc_provider;
mod oidc_sign_in;
mod paths;
#[path = "../support/postgres.rs"]
mod postgres;
mod presets;
mod proxy_sign_in;
mod request_params;
mod restart;
mod sealed;
mod sessions;
mod smoke;
mod staged_rotation;
mod tokens;
mod ui_assets;
mod ui_delivery;
mod ui_drafts;
mod ui_keys;
mod ui_people;
