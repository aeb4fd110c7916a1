//! Password hashing (argon2id, OWASP parameters) and checking. Each new hash needs 12 MiB (one
//! of older hashes 19 MiB). With the usual `vec![..; n]`, glibc raises its mmap threshold after
//! the first free and from then on keeps that memory in a per-thread arena: RSS grew by 19 MiB
//! per thread that ever hashed (800 MiB after a flood). [`WorkArea`] asks for more than glibc's largest dynamic threshold (32 MiB),
//! so every hash gets its own mapping, only the memory it touches becomes resident, and all of it
//! goes back to the OS when the hash ends. Where the hashing runs is the service's business
//! (`service::password_pool`).

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Parameters of new hashes: m = 12 MiB, t = 3, p = 1, one of the configurations the OWASP
/// Password Storage Cheat Sheet lists for argon2id as "an equal level of defense", trading memory
/// for passes (m = 19 MiB, t = 2 is another: this server's until December 2026). Chosen for the
/// smaller memory peak of each sign-in on a server meant to run in 64 MiB; the CPU time per hash
/// stays about the same. Existing hashes keep their own parameters (they are in the PHC string)
/// until the password is next set.
const M_COST_KIB: u32 = 12 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;
/// Hashes with more memory than this are refused when verifying (a damaged or hostile record
/// must not make the server allocate gigabytes).
const MAX_M_COST_KIB: u32 = 256 * 1024;
/// Bytes reserved for a hash's work area: above glibc's largest dynamic mmap threshold.
const WORK_AREA_MIN_BYTES: usize = 33 * 1024 * 1024;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("constant argon2 parameters are valid")
}

/// The memory argon2 works in, sized for `blocks` blocks (see the module docs).
struct WorkArea(Vec<Block>);

impl WorkArea {
    fn new(blocks: usize) -> WorkArea {
        let reserve = blocks.max(WORK_AREA_MIN_BYTES / Block::SIZE + 1);
        let mut v = Vec::with_capacity(reserve);
        v.resize(blocks, Block::default());
        WorkArea(v)
    }
}

/// Hash a password with argon2id; the PHC string (`$argon2id$v=19$m=12288,t=3,p=1$…`).
/// CPU-heavy: run it on the pool (or a blocking thread).
pub fn hash(password: &[u8]) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&crate::ids::random_bytes::<16>()).map_err(|e| e.to_string())?;
    let params = params();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; 32];
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let mut area = WorkArea::new(params.block_count());
    argon2
        .hash_password_into_with_memory(password, salt_raw, &mut out, &mut area.0[..])
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches a PHC string. Unreadable strings, other algorithms and absurd
/// parameters do not match.
pub fn verify(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let mut area = WorkArea::new(params.block_count());
    let argon2 = Argon2::new(algorithm, version, params);
    argon2
        .hash_password_into_with_memory(password, salt_raw, &mut out, &mut area.0[..])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn our_hashes_verify_with_the_argon2_crate_and_its_hashes_with_ours() {
        let ours = hash(b"correct horse battery").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horse batterY", &parsed)
                .is_err()
        );

        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"tr0ub4dor&3", &salt)
            .unwrap()
            .to_string();
        assert!(verify(b"tr0ub4dor&3", &theirs));
        assert!(!verify(b"tr0ub4dor&4", &theirs));
    }

    #[test]
    fn a_known_hash_verifies() {
        // Known answer from the reference C implementation (argon2-cffi's
        // `low_level.hash_secret(b"password", b"saltsaltsaltsalt", time_cost=2,
        // memory_cost=19456, parallelism=1, hash_len=32, type=ID)`).
        let known = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$T95q7S205tf9WI4HhYOZDIQmMMAbntacGXTIku0gXT8";
        assert!(verify(b"password", known));
        assert!(!verify(b"Password", known));
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        // The parameters of new hashes, against the same implementation (`time_cost=3,
        // memory_cost=12288`).
        let known_now = "$argon2id$v=19$m=12288,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$g3HSW/Oa6/cFVyP6hPC5ZfXC+rCJpgDANCZ/7CfKokc";
        assert!(verify(b"password", known_now));
        assert_eq!(
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
                .hash_password(b"password", &salt)
                .unwrap()
                .to_string(),
            known_now
        );
        // Other algorithms and versions are read from the string, not assumed.
        let i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"password", &salt)
        .unwrap()
        .to_string();
        assert!(i.starts_with("$argon2i$v=16$"), "{i}");
        assert!(verify(b"password", &i));
        assert!(!verify(b"passwore", &i));
    }

    #[test]
    fn unreadable_or_absurd_hashes_never_match() {
        assert!(!verify(b"x", ""));
        assert!(!verify(b"x", "not a phc string"));
        assert!(!verify(b"x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$"));
        assert!(!verify(
            b"x",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
        assert!(!verify(b"x", "$scrypt$ln=16,r=8,p=1$c2FsdA$AAAA"));
    }
}
