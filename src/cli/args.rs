//! The command line's arguments: the subcommands and their options, as clap parses them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;

/// Issues JSON Web Tokens from administrator-defined JWT assets.
#[derive(Debug, Parser)]
#[command(name = "jwt-asset-server", version, about, long_about = None)]
pub struct Cli {
    /// Settings (each also an environment variable).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manage assets.
    #[command(subcommand)]
    Asset(AssetCommand),
    /// Manage upstream sign-in: OpenID Connect identity providers and the sign-in policy.
    #[command(subcommand)]
    Idp(IdpCommand),
    /// Check the store without starting the server: it opens only when it holds every write it
    /// acknowledged (exit 0, with what it holds), else the reason and a non-zero exit.
    Check,
    /// Write the whole store (users with their password hashes, API-key digests, assets, the
    /// audit trail) as a JSON dump: a backup, or a move to another machine. Sessions are not kept.
    Export {
        /// Write to this file (created 0600; an existing file is refused). Default: standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Seal the asset secrets for a passphrase (read from standard input) instead of the
        /// master key, so the dump can be restored where that key is not.
        #[arg(long)]
        passphrase_stdin: bool,
        /// Write the asset secrets in the clear: handle the dump as a secret itself.
        #[arg(long, conflicts_with = "passphrase_stdin")]
        secrets_in_clear: bool,
    },
    /// Restore a dump into a new (empty) data directory.
    Import {
        /// The dump file.
        file: PathBuf,
        /// Read the dump's passphrase from standard input.
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Replace the master key (on a stopped server): a new key is made, every data key of the
    /// store is wrapped with it, and it replaces the key file (or goes to --new-key-file). Run
    /// again after an interruption, it finishes.
    Rekey {
        /// Where to write the new key (needed when the current key comes from
        /// JWT_ASSET_SERVER_MASTER_KEY). Default: the current key file, replaced.
        #[arg(long, value_name = "PATH")]
        new_key_file: Option<PathBuf>,
    },
}

/// `user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        /// Username.
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// An attribute, KEY=VALUE (repeatable): first_name, last_name, email or any custom name.
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
        /// A group (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Read the password from standard input (first line). Without it the user has no password
        /// and can only use API keys.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password from standard input (ends their sessions).
    Passwd {
        /// Username.
        name: String,
    },
    /// List users.
    List,
    /// Disable a user (ends their sessions; their API keys stop working).
    Disable {
        /// Username.
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Username.
        name: String,
    },
    /// Change a user: each option given replaces that part (`--attr` all attributes, `--group`
    /// all groups); prints the user.
    Update {
        /// Username.
        name: String,
        /// Administrator or not.
        #[arg(long, value_name = "true|false")]
        admin: Option<bool>,
        /// An attribute, KEY=VALUE (repeatable): replaces every attribute.
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
        /// A group (repeatable): replaces every group.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Remove every group.
        #[arg(long, conflicts_with = "groups")]
        no_groups: bool,
    },
    /// Delete a user for good, with their sessions and API keys (their audit events stay).
    Delete {
        /// Username.
        name: String,
    },
    /// List a user's current sessions (never their ids).
    Sessions {
        /// Username.
        name: String,
    },
    /// End every session of a user.
    EndSessions {
        /// Username.
        name: String,
    },
    /// Link an account to an identity provider: the person's first sign-in there completes the
    /// link (with `--unlink`, remove it).
    Link {
        /// Username.
        name: String,
        /// The provider's id.
        #[arg(required_unless_present = "unlink")]
        provider: Option<String>,
        /// The person's `sub` at the provider: the link is complete at once (without it, the
        /// first sign-in completes it, with the account's username and verified e-mail).
        #[arg(long, conflicts_with = "unlink")]
        subject: Option<String>,
        /// Remove the link instead.
        #[arg(long, conflicts_with = "provider")]
        unlink: bool,
    },
}

/// `idp …`
// Parsed once per run: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// Add an OpenID Connect provider; the client secret is read from standard input. Register
    /// `<public URL>/login/oidc/<ID>/callback` as the redirect URI at the provider.
    Add {
        /// Short id, used in URLs (a-z, 0-9, '-').
        id: String,
        /// The issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
        #[arg(long)]
        issuer: String,
        /// The client id registered at the provider.
        #[arg(long)]
        client_id: String,
        /// The button's label (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// A scope to ask for (repeatable; default: openid profile email).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// The claim mapped to the username (default: preferred_username).
        #[arg(long)]
        username_claim: Option<String>,
        /// The claim holding the person's groups, e.g. `groups`.
        #[arg(long)]
        groups_claim: Option<String>,
        /// Keep only this upstream group (repeatable; default: all).
        #[arg(long = "group-allowed")]
        groups_allowed: Vec<String>,
        /// Prefix the kept groups with this text.
        #[arg(long)]
        groups_prefix: Option<String>,
        /// `create` accounts at first sign-in (default), or admit only `existing` ones.
        #[arg(long, value_parser = ["create", "existing"])]
        provisioning: Option<String>,
        /// Sign-out also ends the session at the provider (RP-initiated logout).
        #[arg(long)]
        end_upstream_session: bool,
    },
    /// List the providers and the sign-in policy (never a client secret).
    List,
    /// Remove a provider (its accounts stay).
    Remove {
        /// The provider's id.
        id: String,
    },
    /// Turn local passwords off for everyone but the break-glass administrators, or back on.
    Policy {
        /// `true`: upstream sign-in only; `false`: passwords work again.
        #[arg(long, action = clap::ArgAction::Set)]
        upstream_only: bool,
        /// An administrator who keeps their password (repeatable; needed with upstream only).
        #[arg(long = "break-glass", value_name = "USERNAME")]
        break_glass: Vec<String>,
    },
}

/// `apikey …`
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a user; prints only the key.
    Create {
        /// Username.
        user: String,
        /// What the key may do: tokens, admin:read, admin:write (repeat for several; default
        /// tokens).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// When the key stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Revoke a key by id or shown prefix.
    Revoke {
        /// Username.
        user: String,
        /// Key id or prefix (`jas_…`, as listed).
        key: String,
    },
    /// List a user's keys.
    List {
        /// Username.
        user: String,
    },
}

/// `asset …`
#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Create an asset; prints it as JSON (with the generated secret, once, if asked for).
    Create(Box<CreateAsset>),
    /// List assets.
    List,
    /// Show one asset (id or path) as JSON.
    Show {
        /// Id or path.
        asset: String,
    },
    /// Move an asset to the trash.
    Trash {
        /// Id or path.
        asset: String,
    },
    /// Restore an asset from the trash.
    Restore {
        /// Id or path.
        asset: String,
    },
    /// Delete a trashed asset for good.
    Purge {
        /// Id or path.
        asset: String,
    },
    /// Purge every trashed asset; prints how many went.
    EmptyTrash,
    /// Rotate an asymmetric asset's key (the old public key stays published until its
    /// tokens have expired).
    Rotate {
        /// Id or path.
        asset: String,
    },
    /// Publish the next key of an asymmetric asset (JWKS, PEM) without signing with it; it
    /// signs from --switch-at, or once `asset activate-next-key` is run. Give the consumers that
    /// pin one key its public key (printed as next_key.public_key_pem) before it signs.
    NextKey {
        /// Id or path.
        asset: String,
        /// Generate a key of this type (default: the active key's type).
        #[arg(long, conflicts_with = "key_file")]
        key_type: Option<String>,
        /// Import this private key (PKCS#8, PKCS#1 or SEC1 PEM, unencrypted).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// When it starts signing (RFC 3339, e.g. 2026-05-01T12:00:00Z); default: by hand.
        #[arg(long)]
        switch_at: Option<String>,
    },
    /// Switch signing to the waiting next key now (the old key stays published until its
    /// tokens have expired).
    ActivateNextKey {
        /// Id or path.
        asset: String,
    },
    /// Withdraw the waiting next key (no longer published).
    WithdrawNextKey {
        /// Id or path.
        asset: String,
    },
    /// Show the token a user would receive, with warnings.
    Preview {
        /// Id or path.
        asset: String,
        /// Username.
        #[arg(long = "as")]
        as_user: String,
    },
}

/// `asset create` options.
#[derive(Debug, clap::Args)]
pub struct CreateAsset {
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Web path, e.g. /tokens/chat.
    #[arg(long)]
    pub path: String,
    /// File with the payload template (`-` for standard input); optional with --preset.
    #[arg(long, required_unless_present = "preset")]
    pub template_file: Option<PathBuf>,
    /// Start from a consumer preset: matrix, realm, zendesk, metabase, jitsi or tableau
    /// (pre-fills algorithm, template, jti, audience; checks the consumer's rules).
    #[arg(long)]
    pub preset: Option<String>,
    /// HS256 (default), HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or
    /// EdDSA.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// HMAC algorithms: a `kid` for the token header (e.g. a Tableau connected app's secret ID).
    #[arg(long)]
    pub key_id: Option<String>,
    /// Asymmetric algorithms: generate a key of this type (RSA-2048, RSA-3072, RSA-4096, P-256,
    /// P-384, Ed25519); default: the algorithm's natural type.
    #[arg(long, conflicts_with = "key_file")]
    pub key_type: Option<String>,
    /// Asymmetric algorithms: import this private key (PKCS#8 or PKCS#1 PEM, unencrypted).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Read the secret from standard input (first line).
    #[arg(long, conflicts_with = "generate_secret")]
    pub secret_stdin: bool,
    /// Generate a secret (64 random characters) and print it once.
    #[arg(long)]
    pub generate_secret: bool,
    /// Accept a secret shorter than the hash size.
    #[arg(long)]
    pub accept_weak_secret: bool,
    /// Token lifetime in seconds, or `none`.
    #[arg(long, default_value = "600")]
    pub expiry: String,
    /// `iss` claim.
    #[arg(long)]
    pub issuer: Option<String>,
    /// `aud` claim.
    #[arg(long)]
    pub audience: Option<String>,
    /// Add `nbf`.
    #[arg(long)]
    pub nbf: bool,
    /// Add a random `jti`.
    #[arg(long)]
    pub jti: bool,
    /// Only these users may fetch (repeatable; with --read-group).
    #[arg(long)]
    pub read_user: Vec<String>,
    /// Only these groups may fetch (repeatable).
    #[arg(long)]
    pub read_group: Vec<String>,
    /// These users may edit (repeatable).
    #[arg(long)]
    pub write_user: Vec<String>,
    /// These groups may edit (repeatable).
    #[arg(long)]
    pub write_group: Vec<String>,
    /// Also answer `{"jwt": "…"}` to requests that accept application/json.
    #[arg(long)]
    pub json_delivery: bool,
    /// An origin whose pages may fetch the token with credentials (repeatable), e.g.
    /// https://app.example.
    #[arg(long)]
    pub cors_origin: Vec<String>,
    /// Redirect delivery: the consumer URL template with {token} (and {return_to}), e.g.
    /// https://example.zendesk.com/access/jwt?jwt={token}&return_to={return_to}.
    #[arg(long)]
    pub redirect_url: Option<String>,
    /// Form-post delivery: the consumer URL the token is POSTed to (no placeholders), e.g.
    /// https://example.zendesk.com/access/jwt.
    #[arg(long)]
    pub form_post_url: Option<String>,
    /// The form field carrying the token in form-post delivery (default jwt).
    #[arg(long, requires = "form_post_url")]
    pub form_post_field: Option<String>,
    /// A URL prefix a return_to may start with (repeatable; for redirect and form-post delivery).
    #[arg(long)]
    pub return_to_prefix: Vec<String>,
    /// A query parameter the template may read as %globals_get_<name>% (repeatable):
    /// "NAME MAX_LENGTH PATTERN", e.g. "room 64 [a-z0-9-]+" (the whole value must match).
    #[arg(long)]
    pub request_param: Vec<String>,
    /// The delivery mode of requests without ?delivery=: raw, json, redirect or form_post.
    #[arg(long)]
    pub default_delivery: Option<String>,
}
