//! The domain: records and the rules about them (assets, users, credentials, delivery, presets,
//! audit events, the compiled asset, field errors). No I/O, no HTTP, no storage.

pub mod asset;
pub mod asset_input;
pub mod audit;
pub mod compiled;
pub mod consumer_config;
pub mod credentials;
pub mod delivery;
pub mod field;
pub mod identity;
pub mod password;
pub mod preset;
pub mod presets;
pub mod trial;
pub mod user;

pub use field::FieldError;
