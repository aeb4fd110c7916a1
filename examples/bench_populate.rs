//! Fill a fresh data directory for `scripts/bench`, through the real service layer.
//!
//! ```sh
//! cargo run --release --example bench_populate -- --data-dir DIR [--assets N] [--users M] [--out FILE]
//! ```
//!
//! Creates, with `Service::create_asset` / `create_user` / `create_api_key` (so every write is
//! validated, indexed, audited and flushed exactly as through the API or the CLI):
//!
//! * the demo asset `/tokens/demo`: HS256, the peers' secret, expiry 300 s and the peers'
//!   4-keyword template (`../shared/peers/README.md`), readable by any signed-in user;
//! * one more demo asset per asymmetric algorithm the server supports (`RS256`, `RS384`,
//!   `RS512`, `PS256`, `ES256`, `ES384`, `EdDSA`: every non-HMAC [`Algorithm`]) at
//!   `/tokens/demo-<algorithm in lower case>`, e.g. `/tokens/demo-es256`: same template, expiry
//!   and read rule as `/tokens/demo`, with the key pair the service generates when no key is
//!   given (the algorithm's natural key type: RSA-2048, P-256, P-384, Ed25519);
//! * `N` more HS256 assets (default 10 000) at `/tokens/bench/aNNNNNN` with the same template
//!   and a generated secret; every tenth one restricted to a group;
//! * `alice` (the peers' demo user: attributes `name`, `email`, `admin`, groups `staff`, `ops`)
//!   with a password (for the session benchmark) and an API key, and `admin` (administrator,
//!   password); these two are the only users with a password: argon2 costs tens of ms each;
//! * `M` more users (default 100 000) `uNNNNNN` with `name`, `email`, `admin`, `first_name`,
//!   `last_name` attributes and two groups, no password; an API key for every user whose number
//!   is a multiple of `--key-every` (default 10 000).
//!
//! With `JWT_ASSET_SERVER_DATABASE_URL` set it fills that (empty) PostgreSQL database instead;
//! the master key file is then `<data-dir>.key` all the same.
//!
//! Writes `KEY=value` lines (a file `bash` can `source`) to `--out` (default: stdout):
//! `DEMO_KEY`, `DEMO_SECRET`, `DEMO_PATH`, `DEMO_USER`, `DEMO_PASSWORD`, `ADMIN_PASSWORD`,
//! `ASYM_ALGORITHMS` (space-separated names) and `ASYM_PATH_<name>` for each (e.g.
//! `ASYM_PATH_ES256=/tokens/demo-es256`), the store's sizes and the timings.
//! Progress and timings go to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use jwt_asset_server::Settings;
use jwt_asset_server::app::open_service;
use jwt_asset_server::domain::asset::AccessRule;
use jwt_asset_server::secret::SecretString;
use jwt_asset_server::service::{AssetInput, Service, UserInput};
use jwt_asset_server::signing::Algorithm;

#[path = "../benches/support/peers_demo.rs"]
mod peers_demo;
use peers_demo::{DEMO_PASSWORD, DEMO_PATH, DEMO_SECRET, TEMPLATE};
const ADMIN_PASSWORD: &str = "bench-password-admin-93b2d0";
const ACTOR: &str = "bench_populate";

struct Args {
    data_dir: PathBuf,
    assets: usize,
    users: usize,
    key_every: usize,
    out: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args {
        data_dir: PathBuf::new(),
        assets: 10_000,
        users: 100_000,
        key_every: 10_000,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--data-dir" => args.data_dir = PathBuf::from(val()),
            "--assets" => args.assets = val().parse().unwrap_or_else(|_| usage("--assets N")),
            "--users" => args.users = val().parse().unwrap_or_else(|_| usage("--users M")),
            "--key-every" => {
                args.key_every = val()
                    .parse::<usize>()
                    .unwrap_or_else(|_| usage("--key-every K"))
                    .max(1)
            }
            "--out" => args.out = Some(PathBuf::from(val())),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if args.data_dir.as_os_str().is_empty() {
        usage("--data-dir is required");
    }
    args
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("bench_populate: {msg}");
    }
    eprintln!(
        "usage: bench_populate --data-dir DIR [--assets N] [--users M] [--key-every K] [--out FILE]"
    );
    std::process::exit(2)
}

fn asset_input(
    name: String,
    path: String,
    secret: Option<&str>,
    read: Option<AccessRule>,
) -> AssetInput {
    AssetInput {
        name,
        path,
        secret: secret.map(|s| SecretString::new(s.to_owned())),
        generate_secret: secret.is_none(),
        template: TEMPLATE.to_owned(),
        expiry_seconds: Some(300),
        read,
        ..AssetInput::default()
    }
}

fn user_input(username: &str, name: &str, admin: bool, groups: &[&str]) -> UserInput {
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("name".to_owned(), name.to_owned());
    attributes.insert("email".to_owned(), format!("{username}@example.test"));
    attributes.insert("admin".to_owned(), admin.to_string());
    UserInput {
        username: username.to_owned(),
        attributes,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..UserInput::default()
    }
}

fn progress(what: &str, done: usize, total: usize, t0: Instant) {
    let s = t0.elapsed().as_secs_f64();
    eprintln!(
        "  {what}: {done}/{total} in {s:.1} s ({:.0}/s)",
        done as f64 / s.max(1e-9)
    );
}

fn main() {
    let args = parse_args();
    if args.data_dir.exists()
        && std::fs::read_dir(&args.data_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        usage(&format!(
            "{} exists and is not empty: give a fresh data directory",
            args.data_dir.display()
        ));
    }
    let mut settings = Settings::for_data_dir(&args.data_dir);
    settings.log = "warn".into();
    // PostgreSQL instead of the data directory (the master key file still goes beside it).
    if let Ok(url) = std::env::var("JWT_ASSET_SERVER_DATABASE_URL") {
        settings.database_url = Some(SecretString::new(url));
    }
    let t_all = Instant::now();
    let service = open_service(&settings).unwrap_or_else(|e| {
        eprintln!("bench_populate: cannot open the store: {e}");
        std::process::exit(1)
    });
    if let Err(e) = populate(&service, &args, t_all) {
        eprintln!("bench_populate: {e}");
        std::process::exit(1);
    }
}

fn populate(
    service: &Service,
    args: &Args,
    t_all: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut lines = Vec::<String>::new();

    // The demo asset and the users with passwords (argon2: a few tens of ms each).
    let t = Instant::now();
    service.create_asset(
        ACTOR,
        asset_input("Demo".into(), DEMO_PATH.into(), Some(DEMO_SECRET), None),
    )?;
    let mut admin = user_input("admin", "Administrator", true, &["staff"]);
    admin.admin = true;
    admin.password = Some(SecretString::new(ADMIN_PASSWORD.into()));
    service.create_user(ACTOR, admin)?;
    let mut alice = user_input("alice", "Alice Liddell", true, &["staff", "ops"]);
    alice
        .attributes
        .insert("email".into(), "alice@example.test".into());
    alice.password = Some(SecretString::new(DEMO_PASSWORD.into()));
    service.create_user(ACTOR, alice)?;
    let demo_key = service
        .create_api_key(ACTOR, "alice", Default::default())?
        .key;
    let t_demo = t.elapsed().as_secs_f64();
    eprintln!("  demo asset, admin, alice (2 argon2 hashes) and alice's API key: {t_demo:.2} s");

    // One demo asset per asymmetric algorithm, with a generated key pair.
    let t = Instant::now();
    let mut asym = Vec::<(&'static str, String)>::new();
    for alg in Algorithm::ALL.into_iter().filter(|a| !a.is_hmac()) {
        let name = alg.name();
        let path = format!("{DEMO_PATH}-{}", name.to_ascii_lowercase());
        service.create_asset(
            ACTOR,
            AssetInput {
                algorithm: Some(name.to_owned()),
                generate_secret: false,
                ..asset_input(format!("Demo {name}"), path.clone(), None, None)
            },
        )?;
        asym.push((name, path));
    }
    let t_asym = t.elapsed().as_secs_f64();
    eprintln!(
        "  {} asymmetric demo assets (generated key pairs): {t_asym:.2} s",
        asym.len()
    );

    // N assets.
    let t = Instant::now();
    for i in 1..=args.assets {
        let read = (i % 10 == 0).then(|| AccessRule {
            users: Vec::new(),
            groups: vec![format!("g{:02}", i % 50)],
        });
        service.create_asset(
            ACTOR,
            asset_input(
                format!("Bench asset {i}"),
                format!("/tokens/bench/a{i:06}"),
                None,
                read,
            ),
        )?;
        if i % 2000 == 0 || i == args.assets {
            progress("assets", i, args.assets, t);
        }
    }
    let t_assets = t.elapsed().as_secs_f64();

    // M users without passwords, an API key every K users.
    let t = Instant::now();
    let mut keys = 0usize;
    for i in 1..=args.users {
        let username = format!("u{i:06}");
        let g = format!("g{:02}", i % 50);
        service.create_user(
            ACTOR,
            user_input(
                &username,
                &format!("User {i}"),
                i % 100 == 0,
                &["staff", &g],
            ),
        )?;
        if i % args.key_every == 0 {
            service.create_api_key(ACTOR, &username, Default::default())?;
            keys += 1;
        }
        if i % 10_000 == 0 || i == args.users {
            progress("users", i, args.users, t);
        }
    }
    let t_users = t.elapsed().as_secs_f64();

    service.audit().flush();
    service.shutdown()?;
    let total = t_all.elapsed().as_secs_f64();
    eprintln!(
        "bench_populate: {} assets (+ demo and {} asymmetric demo assets), {} users (+ admin, alice), {} API keys (+ alice's) in {total:.1} s \
         (assets {t_assets:.1} s, users {t_users:.1} s)",
        args.assets,
        asym.len(),
        args.users,
        keys
    );

    lines.push(format!("DEMO_KEY={demo_key}"));
    lines.push(format!("DEMO_SECRET={DEMO_SECRET}"));
    lines.push(format!("DEMO_PATH={DEMO_PATH}"));
    lines.push("DEMO_USER=alice".into());
    lines.push(format!("DEMO_PASSWORD={DEMO_PASSWORD}"));
    lines.push(format!("ADMIN_PASSWORD={ADMIN_PASSWORD}"));
    let names: Vec<&str> = asym.iter().map(|(n, _)| *n).collect();
    lines.push(format!("ASYM_ALGORITHMS=\"{}\"", names.join(" ")));
    for (name, path) in &asym {
        lines.push(format!("ASYM_PATH_{name}={path}"));
    }
    lines.push(format!("N_ASSETS={}", args.assets));
    lines.push(format!("N_USERS={}", args.users));
    lines.push(format!("N_KEYS={}", keys + 1));
    lines.push(format!("POPULATE_SECONDS={total:.2}"));
    lines.push(format!("POPULATE_ASSETS_SECONDS={t_assets:.2}"));
    lines.push(format!("POPULATE_USERS_SECONDS={t_users:.2}"));
    let text = lines.join("\n") + "\n";
    match &args.out {
        Some(p) => std::fs::write(p, text)?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}
