//! The service floor: one file per use case over the store. Every operation of the JSON API,
//! the admin UI, the CLI and the token path goes through [`Service`].

mod asset_fields;
mod asset_keys;
mod assets;
pub mod audit_log;
mod audit_trail;
mod backup;
mod blocking;
mod catalog;
mod debugger;
mod groups;
pub mod issue;
mod migrations;
mod oidc;
mod one_time;
pub mod password_pool;
mod people;
mod preview;
pub mod registry;
mod sign_in;
mod sign_in_settings;
mod state;
pub mod upstream;
mod users;
mod views;

pub use crate::domain::asset_input::{AssetInput, KeyInput};
pub use backup::{ExportSealing, Imported};
pub use blocking::blocking;
pub use catalog::AssetPage;
pub use debugger::{DebugKey, Debugged};
pub use groups::{GroupList, GroupSummary};
pub use issue::Refusal;
pub use oidc::UpstreamError;
pub use one_time::{DRAFT_SECONDS, ONE_TIME_SECONDS, OneTime};
pub use people::{SessionView, UserUpdate};
pub use registry::AssetSummary;
pub use sign_in::PASSWORDS_OFF;
pub use sign_in_settings::{ProviderView, SignInPolicyView};
pub use state::{
    LOGIN_WINDOW, MAX_EXPIRY_SECONDS, MAX_LOGIN_FAILURES, MAX_NAME_CHARS, Service, SessionPolicy,
};
pub use views::{
    ApiKeyInput, ApiKeyView, AssetView, CreatedApiKey, KeyView, NextKeyInput, NextKeyView,
    NextSecretInput, Preview, SavedAsset, SignedIn, UserInput, UserView,
};
