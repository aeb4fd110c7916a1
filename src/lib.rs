//! jwt-asset-server: issues JSON Web Tokens from administrator-defined JWT assets.
//!
//! The crate is built in floors, each importing only the floors below it (see
//! `docs/architecture.md`): pure ([`keywords`], [`signing`], [`ids`], [`secret`]) → [`domain`]
//! → [`store`] → [`service`] → HTTP ([`routes`], [`ui`]), with the edges ([`app`], [`cli`],
//! [`config`], [`error`], [`metrics`], [`telemetry`]) wiring them together.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod ids;
pub mod keywords;
pub mod metrics;
pub mod routes;
pub mod secret;
pub mod service;
pub mod signing;
pub mod store;
pub mod telemetry;
pub mod ui;

pub use app::Application;
pub use config::Settings;
