//! Building an asset from input, one field at a time: each step checks one field (or one group,
//! such as the signing material) and says what is wrong in the field's own words. The steps run
//! in the order of the form, so the first problem reported is the first one on the page.

use chrono::{DateTime, Utc};

use super::state::{MAX_EXPIRY_SECONDS, MAX_NAME_CHARS};
use crate::domain::FieldError;
use crate::domain::asset::{Asset, AssetPath, MAX_CORS_ORIGINS, RequestParam, parse_origin};
use crate::domain::asset_input::{AssetInput, KeyInput};
use crate::domain::delivery::Delivery;
use crate::domain::presets::Preset;
use crate::error::AppError;
use crate::ids::random_token;
use crate::keywords::{MAX_TEMPLATE_BYTES, PayloadTemplate, REQUEST_PARAM_PREFIX};
use crate::secret::{Secret, SecretString};
use crate::signing::Algorithm;
use crate::signing::keys::{KeyPair, KeyType};

/// The preset asked for (`""` removes it; absent keeps the stored one).
pub(super) fn preset(
    asked: Option<&str>,
    existing: Option<&Asset>,
) -> Result<Option<Preset>, AppError> {
    match asked.map(str::trim) {
        None => Ok(existing.and_then(|a| a.preset)),
        Some("") => Ok(None),
        Some(name) => Preset::parse(name).map(Some).ok_or_else(|| {
            AppError::invalid(
                "preset",
                format!(
                    "unknown preset {name:?}; use one of {}",
                    Preset::names_text()
                ),
            )
        }),
    }
}

/// The display name: 1 to `MAX_NAME_CHARS` characters, no control characters.
pub(super) fn name(given: &str) -> Result<String, AppError> {
    let name = given.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AppError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters, without control characters"),
        ));
    }
    Ok(name)
}

/// The web path.
pub(super) fn path(given: &str) -> Result<AssetPath, AppError> {
    AssetPath::parse(given.trim()).map_err(AppError::Invalid)
}

/// The algorithm (absent or empty keeps the stored one, else HS256).
pub(super) fn algorithm(
    asked: Option<&str>,
    existing: Option<&Asset>,
) -> Result<Algorithm, AppError> {
    match asked {
        None | Some("") => Ok(existing.map(|a| a.algorithm).unwrap_or_default()),
        Some(s) => Algorithm::parse(s).ok_or_else(|| {
            AppError::invalid(
                "algorithm",
                format!("unknown algorithm {s:?}; use one of {}", algorithm_list()),
            )
        }),
    }
}

/// The payload template, compiled (errors at their line and column).
pub(super) fn template(source: &str) -> Result<PayloadTemplate, AppError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(AppError::invalid(
            "template",
            format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    PayloadTemplate::compile(source)
        .map_err(|e| AppError::Invalid(FieldError::at("template", e.message, e.line, e.column)))
}

/// The expiry: 1 s to ten years, or `None` for none.
pub(super) fn expiry(seconds: Option<u64>) -> Result<Option<u64>, AppError> {
    if seconds == Some(0) || seconds.is_some_and(|e| e > MAX_EXPIRY_SECONDS) {
        return Err(AppError::invalid(
            "expiry_seconds",
            format!("must be between 1 and {MAX_EXPIRY_SECONDS} seconds, or null for no expiry"),
        ));
    }
    Ok(seconds)
}

/// A short text claim (`iss`, `aud`, `kid`): trimmed, empty = none.
pub(super) fn text_claim(field: &str, given: Option<String>) -> Result<Option<String>, AppError> {
    match given.map(|s| s.trim().to_owned()) {
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.len() > 1024 || s.chars().any(char::is_control) => Err(AppError::invalid(
            field,
            "must be at most 1024 characters, without control characters",
        )),
        other => Ok(other),
    }
}

/// The HMAC `kid`: refused for asymmetric algorithms; absent keeps the stored one, `""` removes it.
pub(super) fn key_id(
    given: Option<String>,
    algorithm: Algorithm,
    existing: Option<&Asset>,
) -> Result<Option<String>, AppError> {
    let absent = given.is_none();
    match text_claim("key_id", given)? {
        Some(k) if !algorithm.is_hmac() => Err(AppError::invalid(
            "key_id",
            format!(
                "is for HMAC algorithms; {} tokens carry their key's thumbprint as kid ({k:?} not used)",
                algorithm.name()
            ),
        )),
        Some(k) => Ok(Some(k)),
        None if absent => Ok(existing
            .filter(|a| a.algorithm.is_hmac() && algorithm.is_hmac())
            .and_then(|a| a.key_id.clone())),
        None => Ok(None),
    }
}

/// Delivery modes (absent keeps the stored ones).
pub(super) fn delivery(
    given: Option<Delivery>,
    existing: Option<&Asset>,
) -> Result<Delivery, AppError> {
    match given {
        Some(d) => d.validated().map_err(AppError::Invalid),
        None => Ok(existing.map(|a| a.delivery.clone()).unwrap_or_default()),
    }
}

/// CORS origins, de-duplicated (absent keeps the stored ones).
pub(super) fn cors_origins(
    given: Option<Vec<String>>,
    existing: Option<&Asset>,
) -> Result<Vec<String>, AppError> {
    let Some(list) = given else {
        return Ok(existing.map(|a| a.cors_origins.clone()).unwrap_or_default());
    };
    if list.len() > MAX_CORS_ORIGINS {
        return Err(AppError::invalid(
            "cors_origins",
            format!("at most {MAX_CORS_ORIGINS} origins"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for o in list {
        let o = parse_origin(o.trim()).map_err(AppError::Invalid)?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

/// The declared request parameters (absent on edit keeps them), checked; and every
/// `%globals_get_<name>%` of the template must be one of them (a located template error
/// otherwise).
pub(super) fn request_params(
    given: Option<Vec<RequestParam>>,
    existing: Option<&Asset>,
    template: &PayloadTemplate,
) -> Result<Vec<RequestParam>, AppError> {
    let params = match given {
        Some(list) => list
            .into_iter()
            .map(|p| RequestParam {
                name: p.name.trim().to_owned(),
                pattern: p.pattern,
                max_length: p.max_length,
            })
            .collect(),
        None => existing
            .map(|a| a.request_params.clone())
            .unwrap_or_default(),
    };
    RequestParam::check_all(&params).map_err(AppError::Invalid)?;
    for (name, line, column) in template.request_params() {
        if !params.iter().any(|p| p.name == name) {
            return Err(AppError::Invalid(FieldError::at(
                "template",
                format!(
                    "%{REQUEST_PARAM_PREFIX}{name}% reads the query parameter {name:?}, which the asset does not declare: add it under request parameters with a pattern its values must match"
                ),
                line,
                column,
            )));
        }
    }
    Ok(params)
}

/// What an asset signs with, as built from input.
pub(super) struct Signing {
    /// The HMAC secret (empty for key pairs).
    pub secret: Secret,
    /// When the secret (or key) last changed.
    pub changed_at: DateTime<Utc>,
    /// A secret generated now, to show once.
    pub generated: Option<String>,
    /// The administrator accepted a weak secret, and it is weak.
    pub weak_accepted: bool,
    /// Key pairs, oldest first (asymmetric algorithms).
    pub keys: Vec<KeyPair>,
    /// The scheduled next HMAC secret, kept from the stored asset.
    pub next_secret: Option<Secret>,
    /// When it takes over.
    pub next_secret_at: Option<DateTime<Utc>>,
    /// The waiting next key pair, kept from the stored asset while it fits the algorithm.
    pub next_key: Option<KeyPair>,
    /// When it starts signing (`None` = by hand).
    pub next_key_at: Option<DateTime<Utc>>,
}

/// The signing fields of the input, read together.
pub(super) struct SigningInput {
    /// A new key pair.
    pub key: Option<KeyInput>,
    /// A new secret.
    pub secret: Option<SecretString>,
    /// Generate a secret.
    pub generate_secret: bool,
    /// Accept a weak secret.
    pub accept_weak_secret: bool,
}

impl SigningInput {
    /// Take the signing fields out of the input.
    pub(super) fn take(input: &mut AssetInput) -> SigningInput {
        SigningInput {
            key: input.key.take(),
            secret: input.secret.take(),
            generate_secret: input.generate_secret,
            accept_weak_secret: input.accept_weak_secret,
        }
    }

    fn secret_given(&self) -> bool {
        self.secret.as_ref().is_some_and(|s| !s.expose().is_empty())
    }
}

/// The signing material for `algorithm`: a shared secret for HMAC, key pairs otherwise.
pub(super) fn signing(
    input: SigningInput,
    algorithm: Algorithm,
    existing: Option<&Asset>,
    now: DateTime<Utc>,
) -> Result<Signing, AppError> {
    if algorithm.is_hmac() {
        hmac_signing(
            input,
            algorithm,
            existing.filter(|a| a.algorithm.is_hmac()),
            now,
        )
    } else {
        key_pair_signing(
            input,
            algorithm,
            existing.filter(|a| !a.algorithm.is_hmac()),
            now,
        )
    }
}

fn hmac_signing(
    input: SigningInput,
    algorithm: Algorithm,
    existing: Option<&Asset>,
    now: DateTime<Utc>,
) -> Result<Signing, AppError> {
    if input.key.is_some() {
        return Err(AppError::invalid(
            "key",
            format!(
                "is for asymmetric algorithms; {} uses a shared secret",
                algorithm.name()
            ),
        ));
    }
    let secret_is_new = input.generate_secret || input.secret_given();
    let mut kept = (None, None);
    let (secret, changed_at, generated) = if input.generate_secret {
        if input.secret.is_some() {
            return Err(AppError::invalid(
                "secret",
                "give a secret or ask for one to be generated, not both",
            ));
        }
        let (secret, text) = generated_secret();
        (secret, now, Some(text))
    } else if let Some(s) = input.secret.as_ref().filter(|s| !s.expose().is_empty()) {
        (Secret::new(s.expose().as_bytes().to_vec()), now, None)
    } else if let Some(old) = existing {
        kept = (old.next_secret.clone(), old.next_secret_at);
        (old.secret.clone(), old.secret_changed_at, None)
    } else {
        return Err(AppError::invalid(
            "secret",
            "is required (or set generate_secret to have one made)",
        ));
    };
    let weak = secret.len() < algorithm.min_secret_bytes();
    let accepted = input.accept_weak_secret
        || (!secret_is_new && existing.is_some_and(|a| a.weak_secret_accepted));
    if weak && !accepted {
        return Err(weak_secret_error("secret", secret.len(), algorithm));
    }
    Ok(Signing {
        secret,
        changed_at,
        generated,
        weak_accepted: weak && accepted,
        keys: Vec::new(),
        next_secret: kept.0,
        next_secret_at: kept.1,
        next_key: None,
        next_key_at: None,
    })
}

fn key_pair_signing(
    input: SigningInput,
    algorithm: Algorithm,
    existing: Option<&Asset>,
    now: DateTime<Utc>,
) -> Result<Signing, AppError> {
    if input.generate_secret || input.secret_given() {
        return Err(AppError::invalid(
            "secret",
            format!(
                "is for HMAC algorithms only; {} signs with a key pair (see key)",
                algorithm.name()
            ),
        ));
    }
    let mut keys = existing.map(|a| a.keys.clone()).unwrap_or_default();
    let waiting = existing.and_then(|a| a.next_key.as_ref());
    if let (Some(next), Some(_)) = (waiting, &input.key) {
        return Err(AppError::Conflict(format!(
            "the next key {} is published and waiting: activate or withdraw it before giving the asset a new key",
            next.kid
        )));
    }
    if let Some(pair) = new_key_pair(input.key, algorithm, keys.last(), now)? {
        if keys.iter().any(|k| k.kid == pair.kid) {
            return Err(AppError::invalid(
                "key",
                "is a key this asset already has (active or retired); give a new one",
            ));
        }
        if let Some(active) = keys.last_mut() {
            active.retired_at = Some(now);
        }
        keys.push(pair);
    }
    // A waiting next key stays while it can sign the (possibly changed) algorithm.
    let next = existing
        .and_then(|a| a.next_key.clone().map(|k| (k, a.next_key_at)))
        .filter(|(k, _)| algorithm.accepts(k.key_type));
    Ok(Signing {
        secret: Secret::new(Vec::new()),
        changed_at: existing.map(|a| a.secret_changed_at).unwrap_or(now),
        generated: None,
        weak_accepted: false,
        keys,
        next_secret: None,
        next_secret_at: None,
        next_key_at: next.as_ref().and_then(|(_, at)| *at),
        next_key: next.map(|(k, _)| k),
    })
}

/// The key pair to add: generated or imported as asked, or the algorithm's natural key when the
/// asset has none yet; `None` keeps the active key (which must fit the algorithm).
pub(super) fn new_key_pair(
    asked: Option<KeyInput>,
    algorithm: Algorithm,
    active: Option<&KeyPair>,
    now: DateTime<Utc>,
) -> Result<Option<KeyPair>, AppError> {
    let generate = |key_type| {
        KeyPair::generate(key_type, now).map_err(|e| AppError::Unexpected(e.to_string()))
    };
    match (asked, active) {
        (Some(KeyInput::Generate(name)), _) => {
            let key_type = KeyType::parse(name.trim()).ok_or_else(|| {
                AppError::invalid(
                    "key",
                    format!(
                        "unknown key type {name:?}; {} takes {}",
                        algorithm.name(),
                        algorithm.key_types_text()
                    ),
                )
            })?;
            check_key_fits(algorithm, key_type)?;
            generate(key_type).map(Some)
        }
        (Some(KeyInput::Pem(text)), _) => {
            let pair = KeyPair::import_pem(text.expose(), now)
                .map_err(|e| AppError::invalid("key", format!("the pasted key {e}")))?;
            check_key_fits(algorithm, pair.key_type)?;
            Ok(Some(pair))
        }
        (None, Some(active)) => check_key_fits(algorithm, active.key_type).map(|()| None),
        (None, None) => {
            generate(algorithm.natural_key_type().unwrap_or(KeyType::Rsa2048)).map(Some)
        }
    }
}

/// The preset's save-time rules: errors refuse the asset (named after the preset), warnings are
/// shown.
pub(super) fn preset_rules(
    preset: Option<Preset>,
    asset: &Asset,
    template: &PayloadTemplate,
) -> Result<Vec<String>, AppError> {
    match preset {
        Some(p) => p.check(asset, template).map_err(|e| {
            let named = e
                .each()
                .map(|e| FieldError {
                    message: format!("{} (preset {p})", e.message),
                    also: Vec::new(),
                    ..e.clone()
                })
                .collect();
            AppError::Invalid(FieldError::all(named).unwrap_or(e))
        }),
        None => Ok(Vec::new()),
    }
}

/// Every algorithm's name, for messages.
pub(super) fn algorithm_list() -> String {
    let names: Vec<&str> = Algorithm::ALL.into_iter().map(Algorithm::name).collect();
    names.join(", ")
}

/// Refuse a key type the algorithm cannot sign with.
pub(super) fn check_key_fits(algorithm: Algorithm, key_type: KeyType) -> Result<(), AppError> {
    if algorithm.accepts(key_type) {
        Ok(())
    } else {
        Err(AppError::invalid(
            "key",
            format!(
                "is a {key_type} key, which cannot sign {}; {} takes {}",
                algorithm.name(),
                algorithm.name(),
                algorithm.key_types_text()
            ),
        ))
    }
}

/// A generated HMAC secret: consumers take the shared secret as text and use its bytes as the
/// key, so it is text too: 64 base64url characters carrying 384 random bits.
pub(super) fn generated_secret() -> (Secret, String) {
    let text = random_token::<48>();
    (Secret::new(text.as_bytes().to_vec()), text)
}

/// The error for a secret shorter than the hash (RFC 7518 §3.2).
pub(super) fn weak_secret_error(field: &str, len: usize, algorithm: Algorithm) -> AppError {
    AppError::invalid(
        field,
        format!(
            "is {len} bytes; {} needs at least {} bytes (generate one, or set accept_weak_secret if a third party supplied it)",
            algorithm.name(),
            algorithm.min_secret_bytes()
        ),
    )
}
