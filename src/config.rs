//! Settings: every field a command-line flag with an environment variable, defaults that run locally.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::secret::SecretString;
use crate::store::StoreError;
use crate::store::sealing::{MasterKey, MasterKeySource};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; colour only when stderr is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

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

    /// Keep everything in PostgreSQL instead of the embedded store (for several instances on one
    /// database): a `postgres://user:password@host:port/database` URL. The schema is created and
    /// migrated at start. Add `?sslmode=require` to insist on TLS with a verified certificate
    /// (the default, `prefer`, encrypts when the server offers TLS without verifying it).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_DATABASE_URL",
        global = true,
        value_name = "URL",
        value_parser = parse_secret,
        help_heading = "PostgreSQL"
    )]
    pub database_url: Option<SecretString>,

    /// A CA certificate (PEM) to trust for PostgreSQL's TLS certificate, besides the system's
    /// roots: with `sslmode=require` in the URL the server's certificate and host name are
    /// verified against them.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_DATABASE_CA_FILE",
        global = true,
        value_name = "PATH",
        help_heading = "PostgreSQL"
    )]
    pub database_ca_file: Option<PathBuf>,

    /// Connections each instance keeps open to PostgreSQL at most.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_DATABASE_POOL_SIZE",
        default_value_t = 16,
        global = true,
        help_heading = "PostgreSQL"
    )]
    pub database_pool_size: usize,

    /// With PostgreSQL: changes made by other instances arrive at once by notification; this
    /// poll (milliseconds) bounds the delay if a notification is lost.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_CHANGE_POLL_MS",
        default_value_t = 500,
        global = true,
        help_heading = "PostgreSQL"
    )]
    pub change_poll_ms: u64,

    /// The master key file: 32 random bytes (base64) that seal every signing secret and private
    /// key in the store. Created 0600 at the first start; keep it (and back it up) apart from the
    /// data directory. Default: beside the data directory, `<data-dir>.key` (`./data.key`).
    /// `JWT_ASSET_SERVER_MASTER_KEY` (the key itself, for a secret manager) takes precedence.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_MASTER_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub master_key_file: Option<PathBuf>,

    /// Mark the session cookie `Secure` (sent over HTTPS only). Browsers accept Secure cookies on
    /// http://127.0.0.1 and http://localhost, so the default works locally; set to false only for
    /// plain-HTTP development on another host name.
    #[arg(long, env = "JWT_ASSET_SERVER_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set, help_heading = "Server")]
    pub cookie_secure: bool,

    /// The URL people reach this server at (e.g. `https://tokens.example.org`): the OpenID
    /// Connect redirect URI registered at a provider is `<public-url>/login/oidc/<id>/callback`.
    /// When unset, it is taken from each request's scheme and host.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_PUBLIC_URL",
        value_name = "URL",
        value_parser = parse_public_url,
        help_heading = "Sign-in"
    )]
    pub public_url: Option<String>,

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

    /// Password threads: at most this many argon2 checks run at once (each costs 12 MiB, given
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

    /// Reverse proxies (IP addresses or address ranges such as `10.0.0.0/8`; repeatable, or
    /// comma-separated in the variable) whose `X-Forwarded-For` names the client: sign-in
    /// throttling then counts the address it forwarded for. With `--proxy-auth`, also the only
    /// peers whose identity headers are believed. From any other peer those headers are ignored.
    #[arg(
        long = "trusted-proxy",
        alias = "trusted-proxies",
        env = "JWT_ASSET_SERVER_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_address_range,
        help_heading = "Server"
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Trusted-proxy sign-in: behind an authenticating proxy (oauth2-proxy, Authelia, authentik),
    /// take the person from its headers (`--proxy-user-header` …), but only on connections from a
    /// `--trusted-proxy` address. The proxy must remove these headers from what clients send.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_PROXY_AUTH",
        default_value_t = false,
        action = clap::ArgAction::Set,
        help_heading = "Sign-in"
    )]
    pub proxy_auth: bool,

    /// The header naming the person (trusted-proxy sign-in).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_PROXY_USER_HEADER",
        default_value = "Remote-User",
        help_heading = "Sign-in"
    )]
    pub proxy_user_header: String,

    /// The header with the person's e-mail (trusted-proxy sign-in).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_PROXY_EMAIL_HEADER",
        default_value = "Remote-Email",
        help_heading = "Sign-in"
    )]
    pub proxy_email_header: String,

    /// The header with the person's display name (trusted-proxy sign-in).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_PROXY_NAME_HEADER",
        default_value = "Remote-Name",
        help_heading = "Sign-in"
    )]
    pub proxy_name_header: String,

    /// The header with the person's groups, comma-separated (trusted-proxy sign-in).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_PROXY_GROUPS_HEADER",
        default_value = "Remote-Groups",
        help_heading = "Sign-in"
    )]
    pub proxy_groups_header: String,

    /// Log filter in `tracing` syntax, e.g. `info` or `jwt_asset_server=debug,actix_web=info`.
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_LOG",
        default_value = "info",
        global = true
    )]
    pub log: String,

    /// Log line format: `text` (coloured only on a terminal) or `json` (one object per line, for
    /// a log pipeline).
    #[arg(
        long,
        env = "JWT_ASSET_SERVER_LOG_FORMAT",
        default_value = "text",
        global = true,
        value_enum
    )]
    pub log_format: LogFormat,

    /// Password for the `admin` user created on the first start with an empty store. When unset a
    /// random password is generated and printed once to stderr. Environment variable only.
    #[arg(skip = admin_password_from_env())]
    pub admin_password: Option<SecretString>,

    /// The master key itself (base64), from `JWT_ASSET_SERVER_MASTER_KEY`; environment only.
    #[arg(skip = secret_from_env("JWT_ASSET_SERVER_MASTER_KEY"))]
    pub master_key: Option<SecretString>,
}

fn parse_secret(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::new(s.to_owned()))
}

fn secret_from_env(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .map(SecretString::new)
}

fn admin_password_from_env() -> Option<SecretString> {
    secret_from_env("JWT_ASSET_SERVER_ADMIN_PASSWORD")
}

impl Settings {
    /// The master key file: `--master-key-file`, else `<data-dir>.key` beside the data directory.
    pub fn master_key_path(&self) -> Result<PathBuf, StoreError> {
        if let Some(path) = &self.master_key_file {
            return Ok(path.clone());
        }
        match self.data_dir.file_name().and_then(|n| n.to_str()) {
            Some(name) if name != ".." => Ok(self.data_dir.with_file_name(format!("{name}.key"))),
            _ => Err(StoreError::MasterKey(format!(
                "the data directory {} has no name to put the master key file beside it; set --master-key-file",
                self.data_dir.display()
            ))),
        }
    }

    /// Where the master key comes from: `JWT_ASSET_SERVER_MASTER_KEY`, else the key file.
    pub fn master_key_source(&self) -> Result<MasterKeySource, StoreError> {
        match &self.master_key {
            Some(text) => MasterKey::from_text(text.expose())
                .map(MasterKeySource::Given)
                .map_err(|why| {
                    StoreError::MasterKey(format!(
                        "JWT_ASSET_SERVER_MASTER_KEY is not a master key ({why}): it must hold 32 bytes in base64"
                    ))
                }),
            None => Ok(MasterKeySource::File(self.master_key_path()?)),
        }
    }

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
            proxy_auth: false,
            proxy_user_header: "Remote-User".into(),
            proxy_email_header: "Remote-Email".into(),
            proxy_name_header: "Remote-Name".into(),
            proxy_groups_header: "Remote-Groups".into(),
            public_url: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            admin_password: None,
            master_key_file: None,
            master_key: None,
            database_url: None,
            database_ca_file: None,
            database_pool_size: 16,
            change_poll_ms: 500,
        }
    }
}

/// A public URL: `http(s)://host[:port][/path]`, kept without a trailing slash.
fn parse_public_url(s: &str) -> Result<String, String> {
    let trimmed = s.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or("must start with https:// (or http://)")?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
        return Err("must be a URL with a host, without a query or fragment".into());
    }
    Ok(trimmed.to_owned())
}

/// An address (`10.1.2.3`, a /32 or /128) or a range (`10.0.0.0/8`).
fn parse_address_range(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or address range (e.g. 10.0.0.0/8)"))
}
