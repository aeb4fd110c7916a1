//! The peers' demo job (`../shared/peers/README.md`), shared by `examples/bench_populate.rs` and
//! `benches/micro.rs` (each includes this file with `#[path]`), so both measure the same thing.
#![allow(dead_code)]

/// The peers' template, byte for byte: our keyword names are the same.
pub const TEMPLATE: &str = r#"{
  "sub": %globals_user_attribute_username^json_encode%,
  "name": %globals_user_attribute_name^json_encode%,
  "email": %globals_user_attribute_email^json_encode%,
  "admin": %globals_user_attribute_admin^json_encode%
}"#;
/// The peers' HS256 secret (`verify.py` checks signatures with it).
pub const DEMO_SECRET: &str = "demo-asset-secret-please-change-0123456789";
/// The demo asset's path.
pub const DEMO_PATH: &str = "/tokens/demo";
/// `alice`'s password (for the session benchmarks).
pub const DEMO_PASSWORD: &str = "bench-password-alice-7c1e5f";
