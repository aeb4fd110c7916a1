//! Criterion micro-benchmarks of the token path's steps: compile, render, sign, issue and
//! authenticate.
//!
//! ```sh
//! cargo bench --bench micro                                             # full run
//! cargo bench --bench micro -- --warm-up-time 1 --measurement-time 2    # a quick one
//! cargo bench --bench micro -- sign/                                    # one group
//! ```
//!
//! The template, secret and user are the peers' demo ones (`examples/bench_populate.rs`), so the
//! figures line up with `scripts/bench`. `issue` and `authenticate` run against a real sled store
//! in a temporary directory, filled through the `Service` API like the server and the CLI do.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion};
use jwt_asset_server::Settings;
use jwt_asset_server::app::open_service;
use jwt_asset_server::domain::compiled::CompiledAsset;
use jwt_asset_server::domain::user::User;
use jwt_asset_server::keywords::{AssetFacts, PayloadTemplate, RenderContext, UserFacts};
use jwt_asset_server::secret::{Secret, SecretString};
use jwt_asset_server::service::{AssetInput, Service, UserInput};
use jwt_asset_server::signing::keys::{KeyPair, KeyType};
use jwt_asset_server::signing::{Algorithm, Signer};

#[path = "support/peers_demo.rs"]
mod peers_demo;
use peers_demo::{DEMO_PASSWORD, DEMO_PATH, DEMO_SECRET, TEMPLATE};
const ACTOR: &str = "bench_micro";

/// The peers' demo user `alice`, as plain data.
struct Alice {
    attributes: BTreeMap<String, String>,
    groups: Vec<String>,
}

impl Alice {
    fn new() -> Alice {
        Alice {
            attributes: BTreeMap::from([
                ("name".to_owned(), "Alice Liddell".to_owned()),
                ("email".to_owned(), "alice@example.test".to_owned()),
                ("admin".to_owned(), "true".to_owned()),
            ]),
            groups: vec!["staff".to_owned(), "ops".to_owned()],
        }
    }

    fn context(&self, now: DateTime<Utc>) -> RenderContext<'_> {
        RenderContext {
            user: UserFacts {
                id: "u-alice",
                username: "alice",
                attributes: &self.attributes,
                groups: &self.groups,
            },
            asset: AssetFacts {
                id: "a-demo",
                name: "Demo",
                web_path: DEMO_PATH,
                has_write_access: false,
            },
            now,
            params: &[],
        }
    }
}

/// The claims `issue` signs for alice: the rendered template plus `iat` and `exp`.
fn demo_claims(now: DateTime<Utc>) -> String {
    let template = PayloadTemplate::compile(TEMPLATE).expect("the peers' template compiles");
    let mut claims = template
        .render(&Alice::new().context(now))
        .expect("the template renders for alice");
    claims.pop();
    let iat = now.timestamp();
    claims.push_str(&format!(",\"iat\":{iat},\"exp\":{}}}", iat + 300));
    claims
}

/// A store in a temporary directory with the demo asset, alice (password and API key) and an
/// open session of hers.
struct Fixture {
    service: Arc<Service>,
    api_key: String,
    session_id: String,
    // Dropped last: the store lives in it.
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = Settings::for_data_dir(dir.path());
        settings.log = "warn".into();
        let service = open_service(&settings).expect("the store opens");
        service
            .create_asset(
                ACTOR,
                AssetInput {
                    name: "Demo".into(),
                    path: DEMO_PATH.into(),
                    secret: Some(SecretString::new(DEMO_SECRET.into())),
                    template: TEMPLATE.into(),
                    expiry_seconds: Some(300),
                    ..AssetInput::default()
                },
            )
            .expect("the demo asset is created");
        let alice = Alice::new();
        service
            .create_user(
                ACTOR,
                UserInput {
                    username: "alice".into(),
                    attributes: alice.attributes,
                    groups: alice.groups,
                    password: Some(SecretString::new(DEMO_PASSWORD.into())),
                    ..UserInput::default()
                },
            )
            .expect("alice is created");
        let api_key = service
            .create_api_key(ACTOR, "alice", Default::default())
            .expect("alice gets an API key")
            .key;
        // `login` checks the password on the blocking pool: it needs a runtime.
        let session_id = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(service.login("alice", SecretString::new(DEMO_PASSWORD.into()), None, None))
            .expect("alice signs in")
            .session_id;
        Fixture {
            service,
            api_key,
            session_id,
            _dir: dir,
        }
    }

    fn shutdown(self) {
        self.service.audit().flush();
        self.service.shutdown().expect("the store shuts down");
    }
}

fn compile(c: &mut Criterion, fixture: &Fixture) {
    let mut group = c.benchmark_group("compile");
    group.bench_function("payload_template", |b| {
        b.iter(|| PayloadTemplate::compile(black_box(TEMPLATE)).unwrap())
    });
    // What the server does once per asset version: template, signer, claim fragments.
    let asset = fixture
        .service
        .live_asset(DEMO_PATH)
        .expect("the store reads")
        .expect("the demo asset is live")
        .asset
        .clone();
    group.bench_function("compiled_asset_hs256", |b| {
        b.iter_batched(|| asset.clone(), CompiledAsset::new, BatchSize::SmallInput)
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let template = PayloadTemplate::compile(TEMPLATE).expect("the peers' template compiles");
    let alice = Alice::new();
    let ctx = alice.context(Utc::now());
    let mut group = c.benchmark_group("render");
    group.bench_function("payload_template_alice", |b| {
        b.iter(|| black_box(&template).render(black_box(&ctx)).unwrap())
    });
    group.finish();
}

fn sign(c: &mut Criterion) {
    let now = Utc::now();
    let claims = demo_claims(now);
    let pair = |key_type| KeyPair::generate(key_type, now).expect("a key pair is generated");
    let signers = [
        (
            "HS256",
            Signer::hmac(
                Algorithm::HS256,
                &Secret::new(DEMO_SECRET.as_bytes().to_vec()),
            ),
        ),
        (
            "ES256",
            Signer::asymmetric(Algorithm::ES256, &pair(KeyType::P256)).unwrap(),
        ),
        (
            "EdDSA",
            Signer::asymmetric(Algorithm::EdDSA, &pair(KeyType::Ed25519)).unwrap(),
        ),
        (
            "RS256",
            Signer::asymmetric(Algorithm::RS256, &pair(KeyType::Rsa2048)).unwrap(),
        ),
    ];
    let mut group = c.benchmark_group("sign");
    for (name, signer) in &signers {
        group.bench_function(*name, |b| {
            b.iter(|| signer.sign(black_box(&claims)).unwrap())
        });
    }
    group.finish();
}

fn issue(c: &mut Criterion, fixture: &Fixture) {
    let asset = fixture
        .service
        .live_asset(DEMO_PATH)
        .expect("the store reads")
        .expect("the demo asset is live");
    // Whether authenticate returns `User` or `Arc<User>`, it borrows as a `User`.
    let authenticated = fixture
        .service
        .authenticate_api_key(&fixture.api_key)
        .expect("alice's key authenticates");
    let user: &User = authenticated.0.borrow();
    let now = Utc::now();
    let mut group = c.benchmark_group("issue");
    group.bench_function("HS256", |b| {
        b.iter(|| asset.issue(black_box(user), black_box(now), None).unwrap())
    });
    group.finish();
}

fn authenticate(c: &mut Criterion, fixture: &Fixture) {
    let service = &fixture.service;
    let mut group = c.benchmark_group("authenticate");
    group.bench_function("api_key", |b| {
        b.iter(|| {
            black_box(
                service
                    .authenticate_api_key(black_box(&fixture.api_key))
                    .unwrap(),
            )
        })
    });
    group.bench_function("session", |b| {
        b.iter(|| {
            black_box(
                service
                    .authenticate_session(black_box(&fixture.session_id))
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn main() {
    let fixture = Fixture::new();
    let mut c = Criterion::default().configure_from_args();
    compile(&mut c, &fixture);
    render(&mut c);
    sign(&mut c);
    issue(&mut c, &fixture);
    authenticate(&mut c, &fixture);
    fixture.shutdown();
    c.final_summary();
}
