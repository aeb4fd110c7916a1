//! Settings: every field a command-line flag with an environment variable, defaults that run locally.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::secret::SecretString;

/// Server and store settings shared by `serve` and the administrative subcommands.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address and port to listen on. Use port 0 to pick a free port (it is printed at start).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_BIND",
        default_value = "127.0.0.1:8080",
        help_heading = "Server"
    )]
    pub bind: SocketAddr,

    /// Directory of the embedded sled store. Created when missing; one process at a time.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Mark the session cookie `Secure` (sent over HTTPS only). Browsers accept Secure cookies on
    /// http://127.0.0.1 and http://localhost, so the default works locally; set to false only for
    /// plain-HTTP development on another host name.
    #[arg(long, env = "JWT_ASSET_SERVER_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set, help_heading = "Server")]
    pub cookie_secure: bool,

    /// A session ends after this many seconds without a request.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_SESSION_IDLE_SECONDS",
        default_value_t = 1800,
        help_heading = "Server"
    )]
    pub session_idle_seconds: u64,

    /// A session ends this many seconds after sign-in, however active.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_SESSION_MAX_SECONDS",
        default_value_t = 43_200,
        help_heading = "Server"
    )]
    pub session_max_seconds: u64,

    /// How many audit events are kept; older ones are deleted as new ones arrive.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_AUDIT_RETENTION",
        default_value_t = 100_000,
        global = true
    )]
    pub audit_retention: u64,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "JWT_ASSET_SERVER_WORKERS", help_heading = "Server")]
    pub workers: Option<usize>,

    /// Password threads: at most this many argon2 checks run at once (each costs ~19 MiB, given
    /// back afterwards, and tens of milliseconds), at a lower CPU priority than token requests;
    /// up to 128 sign-ins per thread wait, beyond that sign-in answers 429 with Retry-After.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_MAX_PASSWORD_CHECKS",
        default_value_t = 2,
        help_heading = "Server"
    )]
    pub max_password_checks: usize,

    /// Failed sign-ins allowed from one client address (whatever the usernames) within 15
    /// minutes; beyond it sign-in from that address answers 429 until the window has passed.
    /// 0 = no limit per address (the limit per username still holds).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_MAX_FAILED_SIGN_INS_PER_ADDRESS",
        default_value_t = 100,
        help_heading = "Server"
    )]
    pub max_failed_sign_ins_per_address: u32,

    /// A reverse proxy (IP address; repeatable, or comma-separated in the variable) whose
    /// `X-Forwarded-For` names the client: sign-in throttling then counts the address it forwarded
    /// for. From any other peer the header is ignored and the peer's address counts.
    #[arg(
        long = "trusted-proxy",
        env = "JWT_ASSET_SERVER_TRUSTED_PROXIES",
        value_delimiter = ',',
        help_heading = "Server"
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Log filter in `tracing` syntax, e.g. `info` or `jwt_asset_server=debug,actix_web=info`.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_LOG",
        default_value = "info",
        global = true
    )]
    pub log: String,

    /// Password for the `admin` user created on the first start with an empty store. When unset a
    /// random password is generated and printed once to stderr. Environment variable only.
    #[arg(skip = admin_password_from_env())]
    pub admin_password: Option<SecretString>,
}

fn admin_password_from_env() -> Option<SecretString> {
    std::env::var("JWT_ASSET_SERVER_ADMIN_PASSWORD")
        .ok()
        .filter(|s| !s.is_empty())
        .map(SecretString::new)
}

impl Settings {
    /// Settings for tests and embedding: a data directory, an ephemeral port on loopback,
    /// plain-HTTP cookies off nothing else changed from the defaults.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            cookie_secure: true,
            session_idle_seconds: 1800,
            session_max_seconds: 43_200,
            audit_retention: 100_000,
            workers: Some(2),
            max_password_checks: 2,
            max_failed_sign_ins_per_address: 100,
            trusted_proxies: Vec::new(),
            log: "info".into(),
            admin_password: None,
        }
    }
}
