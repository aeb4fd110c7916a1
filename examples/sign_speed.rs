//! The server's own signing cost per token, for `scripts/bench` to set beside `openssl speed`.
//!
//! ```sh
//! cargo run --release --example sign_speed -- [SECONDS_PER_ALGORITHM] [ALG ...]
//! ```
//!
//! For each asymmetric algorithm it makes a key of the type `scripts/bench` compares with
//! OpenSSL (RSA-2048, P-256, P-384, Ed25519), builds the server's [`Signer`] for it, and signs
//! the peers' demo claims (the token path's last step, with the header and base64url encoding)
//! in one thread for the given time. One line per algorithm:
//!
//! ```text
//! sign RS256 rsa2048 412.3 us/token 2425.4 tokens/s
//! ```

use std::time::{Duration, Instant};

use chrono::Utc;
use jwt_asset_server::signing::keys::{KeyPair, KeyType};
use jwt_asset_server::signing::{Algorithm, Signer};

/// The peers' demo claims as the server renders them (`benches/support/peers_demo.rs`).
const CLAIMS: &str = r#"{"sub":"alice","name":"Alice Liddell","email":"alice@example.test","admin":true,"groups":["staff","ops"],"iat":1700000000,"exp":1700000300}"#;

fn key_type(algorithm: Algorithm) -> Option<(KeyType, &'static str)> {
    Some(match algorithm {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => (KeyType::Rsa2048, "rsa2048"),
        Algorithm::ES256 => (KeyType::P256, "ecdsap256"),
        Algorithm::ES384 => (KeyType::P384, "ecdsap384"),
        Algorithm::EdDSA => (KeyType::Ed25519, "ed25519"),
        _ => return None,
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args
        .next()
        .map(|s| s.parse().expect("SECONDS_PER_ALGORITHM is a number"))
        .unwrap_or(2.0);
    let named: Vec<String> = args.collect();
    let algorithms: Vec<Algorithm> = if named.is_empty() {
        Algorithm::ALL
            .into_iter()
            .filter(|a| key_type(*a).is_some())
            .collect()
    } else {
        named
            .iter()
            .map(|n| Algorithm::parse(n).unwrap_or_else(|| panic!("unknown algorithm {n}")))
            .collect()
    };
    for algorithm in algorithms {
        let Some((kt, openssl_name)) = key_type(algorithm) else {
            eprintln!("{}: not an asymmetric algorithm", algorithm.name());
            std::process::exit(2);
        };
        let pair = KeyPair::generate(kt, Utc::now()).expect("key generation");
        let signer = Signer::asymmetric(algorithm, &pair).expect("a signer for the key");
        // Warm up (first use of the key, caches), then count whole signatures in the time.
        for _ in 0..20 {
            std::hint::black_box(signer.sign(CLAIMS).expect("signs"));
        }
        let budget = Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..10 {
                std::hint::black_box(signer.sign(std::hint::black_box(CLAIMS)).expect("signs"));
            }
            n += 10;
        }
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "sign {} {} {:.1} us/token {:.1} tokens/s",
            algorithm.name(),
            openssl_name,
            elapsed * 1e6 / n as f64,
            n as f64 / elapsed
        );
    }
}
