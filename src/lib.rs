//! jwt-asset-server: issues JSON Web Tokens from administrator-defined JWT assets.

pub mod app;
pub mod asset;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod error;
pub mod ids;
pub mod keys;
pub mod keywords;
pub mod metrics;
pub mod password;
pub mod presets;
pub mod routes;
pub mod secret;
pub mod service;
pub mod signing;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod ui;
pub mod user;

pub use app::Application;
pub use config::Settings;
