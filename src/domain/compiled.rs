//! The token itself: an asset compiled once per version, and the render → claims → sign step.

use chrono::{DateTime, Utc};

use crate::domain::asset::{Asset, NBF_SKEW_SECONDS, RequestParam};
use crate::domain::user::User;
use crate::ids::random_token;
use crate::keywords::{AssetFacts, PayloadTemplate, RenderContext, RenderError, UserFacts};
use crate::signing::{SignError, Signer};

/// Claims the server sets itself whatever the template says.
pub const ALWAYS_SERVER_CLAIMS: &[&str] = &["iat", "exp"];

/// Why a token could not be made for a signed-in, permitted user.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The stored template does not compile (it did when saved; the language may have changed).
    #[error("the payload template does not compile: {0}")]
    Template(String),
    /// The template rendered something that is not allowed for this user.
    #[error("{0}")]
    Render(#[from] RenderError),
    /// The key could not sign.
    #[error("{0}")]
    Sign(#[from] SignError),
    /// The token breaks a rule of the asset's consumer preset for this user (never the user's data).
    #[error("the {preset} preset refuses this token: {reason}")]
    Preset {
        /// The preset's name.
        preset: &'static str,
        /// Why.
        reason: String,
    },
}

/// An asset ready to issue tokens: template compiled, signer keyed, registered-claim fragments
/// encoded, all once per asset version.
#[derive(Debug)]
pub struct CompiledAsset {
    /// The stored record.
    pub asset: Asset,
    compiled: Result<PayloadTemplate, String>,
    /// The declared request parameters with their whole-value patterns compiled.
    params: Result<Vec<(String, regex::Regex, usize)>, String>,
    signer: Result<Signer, String>,
    /// The signer for the scheduled next secret (HMAC) or next key (asymmetric) and when it
    /// takes over.
    next: Option<(DateTime<Utc>, Result<Signer, String>)>,
    skip: Vec<&'static str>,
    iss_fragment: Option<String>,
    aud_fragment: Option<String>,
}

/// Why the request's parameters were not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamRefusal {
    /// Missing, repeated, too long or not matching: the request is bad (400).
    Bad(String),
    /// A stored pattern does not compile (any more): the asset is misconfigured (500).
    Misconfigured(String),
}

/// A freshly signed token and the facts worth recording about it.
#[derive(Debug)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// The claims object as signed (JSON text).
    pub claims_json: String,
    /// The `jti`, when the asset adds one.
    pub jti: Option<String>,
}

impl CompiledAsset {
    /// Compile an asset record.
    pub fn new(asset: Asset) -> CompiledAsset {
        let compiled = PayloadTemplate::compile(&asset.template).map_err(|e| e.to_string());
        let header = |secret, kid: Option<&str>| {
            let extra = asset.preset.and_then(|p| p.extra_header(&asset));
            let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
            Signer::hmac_with_header(asset.algorithm, secret, kid, &extra)
        };
        let signer = if asset.algorithm.is_hmac() {
            Ok(header(&asset.secret, asset.key_id.as_deref()))
        } else {
            match asset.active_key() {
                Some(pair) => Signer::asymmetric(asset.algorithm, pair).map_err(|e| e.to_string()),
                None => Err(format!("the {} asset has no key pair", asset.algorithm)),
            }
        };
        let next = match (&asset.next_secret, asset.next_secret_at) {
            (Some(secret), Some(at)) if asset.algorithm.is_hmac() => {
                let kid = asset.next_key_id.as_deref().or(asset.key_id.as_deref());
                Some((at, Ok(header(secret, kid))))
            }
            // A scheduled next key signs from its time on; one waiting for an administrator
            // never signs before the record says it is active.
            _ => match (&asset.next_key, asset.next_key_at) {
                (Some(pair), Some(at)) if !asset.algorithm.is_hmac() => Some((
                    at,
                    Signer::asymmetric(asset.algorithm, pair)
                        .map_err(|e| format!("the scheduled next key: {e}")),
                )),
                _ => None,
            },
        };
        let params = asset
            .request_params
            .iter()
            .map(|p| {
                RequestParam::regex(&p.pattern)
                    .map(|re| (p.name.clone(), re, p.max_length))
                    .map_err(|e| format!("the pattern of request parameter {:?}: {e}", p.name))
            })
            .collect();
        let mut skip: Vec<&'static str> = ALWAYS_SERVER_CLAIMS.to_vec();
        if asset.not_before {
            skip.push("nbf");
        }
        if asset.issuer.is_some() {
            skip.push("iss");
        }
        if asset.audience.is_some() {
            skip.push("aud");
        }
        if asset.jti {
            skip.push("jti");
        }
        let fragment = |name: &str, v: &Option<String>| {
            v.as_ref()
                .map(|s| format!(",\"{name}\":{}", serde_json::Value::String(s.clone())))
        };
        CompiledAsset {
            iss_fragment: fragment("iss", &asset.issuer),
            aud_fragment: fragment("aud", &asset.audience),
            asset,
            compiled,
            params,
            signer,
            next,
            skip,
        }
    }

    /// The signer in force at `now`: the next secret's once its switch time has come.
    pub fn signer_at(&self, now: DateTime<Utc>) -> Result<&Signer, TokenError> {
        if let Some((at, next)) = &self.next
            && now >= *at
        {
            // A next key that cannot sign is a configuration fault from its time on (500, with
            // the reason logged), never a silent fallback to the key it replaces.
            return next
                .as_ref()
                .map_err(|e| TokenError::Sign(SignError::new(e.clone())));
        }
        self.signer
            .as_ref()
            .map_err(|e| TokenError::Sign(SignError::new(e.clone())))
    }

    /// The top-level claim names the template writes (none when it does not compile).
    pub fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.compiled.iter().flat_map(|t| t.claim_names())
    }

    /// Why the stored template does not compile, if it does not.
    pub fn template_error(&self) -> Option<&str> {
        self.compiled.as_ref().err().map(String::as_str)
    }

    /// Claims from the template that the server replaces for this asset.
    pub fn overridden_claims(&self) -> Vec<&'static str> {
        match &self.compiled {
            Ok(t) => self
                .skip
                .iter()
                .copied()
                .filter(|c| t.claim_names().any(|n| n == *c))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether the asset declares request parameters (the token path then reads the query).
    pub fn takes_request_params(&self) -> bool {
        !self.asset.request_params.is_empty()
    }

    /// The declared request parameters' values in a query string (`room=a-1&x=y`): each must be
    /// there exactly once, at most its length, and match its whole pattern. Undeclared
    /// parameters are ignored (they never reach a claim). `Err` says why (for the log; the
    /// answer is a bare 400, or 500 for a stored pattern that does not compile) without quoting
    /// the value.
    pub fn request_params(&self, query: &str) -> Result<Vec<(String, String)>, ParamRefusal> {
        let declared = self
            .params
            .as_ref()
            .map_err(|e| ParamRefusal::Misconfigured(e.clone()))?;
        let bad = ParamRefusal::Bad;
        let mut out: Vec<(String, String)> = Vec::with_capacity(declared.len());
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !declared.iter().any(|(n, _, _)| *n == *name) {
                continue;
            }
            if out.iter().any(|(n, _)| *n == *name) {
                return Err(bad(format!(
                    "request parameter {name:?} is given more than once"
                )));
            }
            out.push((name.into_owned(), value.into_owned()));
        }
        for (name, pattern, max) in declared {
            let Some((_, value)) = out.iter().find(|(n, _)| n == name) else {
                return Err(bad(format!("request parameter {name:?} is missing")));
            };
            if value.chars().count() > *max {
                return Err(bad(format!(
                    "request parameter {name:?} is longer than {max} characters"
                )));
            }
            if !pattern.is_match(value) {
                return Err(bad(format!(
                    "request parameter {name:?} does not match its pattern"
                )));
            }
        }
        Ok(out)
    }

    /// Render, add the registered claims and sign, for `user` at `now`. The caller has already
    /// authenticated the user and checked the read rule. `jti` overrides the random id (tests).
    pub fn issue(
        &self,
        user: &User,
        now: DateTime<Utc>,
        jti: Option<String>,
    ) -> Result<IssuedToken, TokenError> {
        self.issue_with(user, now, jti, &[])
    }

    /// [`CompiledAsset::issue`] with the request parameters checked by
    /// [`CompiledAsset::request_params`] (a declared one that is absent renders as empty text).
    pub fn issue_with(
        &self,
        user: &User,
        now: DateTime<Utc>,
        jti: Option<String>,
        params: &[(String, String)],
    ) -> Result<IssuedToken, TokenError> {
        let template = self
            .compiled
            .as_ref()
            .map_err(|e| TokenError::Template(e.clone()))?;
        let signer = self.signer_at(now)?;
        let ctx = RenderContext {
            user: UserFacts {
                id: user.id.as_str(),
                username: user.username.as_str(),
                attributes: &user.attributes,
                groups: &user.groups,
            },
            asset: AssetFacts {
                id: self.asset.id.as_str(),
                name: &self.asset.name,
                web_path: self.asset.path.as_str(),
                has_write_access: self.asset.can_write(user),
            },
            now,
            params,
        };
        let mut claims = String::with_capacity(self.asset.template.len() + 128);
        claims.push('{');
        let written = template.render_members(&ctx, &self.skip, &mut claims)?;
        if written > 0 {
            claims.push(',');
        }
        let iat = now.timestamp();
        push_number(&mut claims, "iat", iat);
        if self.asset.not_before {
            claims.push(',');
            push_number(&mut claims, "nbf", iat - NBF_SKEW_SECONDS);
        }
        if let Some(expiry) = self.asset.expiry_seconds {
            claims.push(',');
            push_number(&mut claims, "exp", iat.saturating_add(expiry as i64));
        }
        if let Some(f) = &self.iss_fragment {
            claims.push_str(f);
        }
        if let Some(f) = &self.aud_fragment {
            claims.push_str(f);
        }
        let jti = self
            .asset
            .jti
            .then(|| jti.unwrap_or_else(random_token::<16>));
        if let Some(j) = &jti {
            // base64url text needs no JSON escaping; test-supplied ids go through the encoder.
            claims.push_str(",\"jti\":");
            claims.push_str(&serde_json::Value::String(j.clone()).to_string());
        }
        claims.push('}');
        if let Some(preset) = self.asset.preset.filter(|p| p.has_render_rules()) {
            let value: serde_json::Value =
                serde_json::from_str(&claims).map_err(|e| TokenError::Preset {
                    preset: preset.name(),
                    reason: format!("the claims are not JSON: {e}"),
                })?;
            preset
                .check_claims(&value)
                .map_err(|reason| TokenError::Preset {
                    preset: preset.name(),
                    reason,
                })?;
        }
        let token = signer.sign(&claims)?;
        Ok(IssuedToken {
            token,
            claims_json: claims,
            jti,
        })
    }
}

fn push_number(out: &mut String, name: &str, value: i64) {
    use std::fmt::Write;
    let _ = write!(out, "\"{name}\":{value}");
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::asset::{AccessRule, AssetPath, AssetState};
    use crate::domain::user::Username;
    use crate::ids::{AssetId, UserId};
    use crate::secret::Secret;
    use crate::signing::Algorithm;

    fn alice() -> User {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        User {
            id: UserId::from_string("u-1"),
            username: Username::parse("alice").unwrap(),
            password_hash: None,
            attributes: BTreeMap::from([("first_name".to_owned(), "Ann \"Jo\"".to_owned())]),
            groups: vec!["staff".into(), "ops".into()],
            admin: false,
            disabled: false,
            created_at: now,
            updated_at: now,
            version: 1,
            upstream: None,
        }
    }

    pub(crate) fn asset(algorithm: Algorithm, secret: &[u8], template: &str) -> Asset {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        Asset {
            id: AssetId::from_string("a-1"),
            name: "Chat".into(),
            path: AssetPath::parse("/tokens/chat").unwrap(),
            state: AssetState::Live,
            algorithm,
            secret: Secret::new(secret.to_vec()),
            keys: Vec::new(),
            next_secret: None,
            next_secret_at: None,
            key_id: None,
            next_key_id: None,
            request_params: Vec::new(),
            next_key: None,
            next_key_at: None,
            preset: None,
            delivery: Default::default(),
            cors_origins: Vec::new(),
            secret_changed_at: now,
            weak_secret_accepted: false,
            template_warning: None,
            template_language: crate::domain::asset::TEMPLATE_LANGUAGE,
            template: template.into(),
            expiry_seconds: Some(600),
            issuer: None,
            audience: None,
            not_before: false,
            jti: false,
            read: None,
            write: AccessRule::default(),
            created_at: now,
            created_by: "admin".into(),
            updated_at: now,
            updated_by: "admin".into(),
            version: 1,
        }
    }

    fn clock() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    // Expected tokens were computed outside this code base (Python's hmac and base64 modules).
    #[test]
    fn a_fixed_secret_template_user_and_clock_give_this_exact_token() {
        let mut a = asset(
            Algorithm::HS256,
            b"0123456789abcdef0123456789abcdef",
            r#"{
  "sub": "%globals_user_attribute_username%",
  "given_name": "%globals_user_attribute_first_name%",
  "admin": %asset_has_write_access^eq:1:true:false%,
  "groups": %globals_user_groups%,
  "iat": 1, "exp": 2
}"#,
        );
        a.issuer = Some("https://issuer.example".into());
        a.audience = Some("chat".into());
        a.not_before = true;
        a.jti = true;
        let issued = CompiledAsset::new(a)
            .issue(&alice(), clock(), Some("fixed-jti".into()))
            .unwrap();
        assert_eq!(
            issued.claims_json,
            r#"{"sub":"alice","given_name":"Ann \"Jo\"","admin":false,"groups":["staff","ops"],"iat":1795428000,"nbf":1795427970,"exp":1795428600,"iss":"https://issuer.example","aud":"chat","jti":"fixed-jti"}"#
        );
        assert_eq!(
            issued.token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImdpdmVuX25hbWUiOiJBbm4gXCJKb1wiIiwiYWRtaW4iOmZhbHNlLCJncm91cHMiOlsic3RhZmYiLCJvcHMiXSwiaWF0IjoxNzk1NDI4MDAwLCJuYmYiOjE3OTU0Mjc5NzAsImV4cCI6MTc5NTQyODYwMCwiaXNzIjoiaHR0cHM6Ly9pc3N1ZXIuZXhhbXBsZSIsImF1ZCI6ImNoYXQiLCJqdGkiOiJmaXhlZC1qdGkifQ.3EvDMnh0J38SGNUalwFpsmUa5TMY2MPb0mx_Yrlki-0"
        );
    }

    #[test]
    fn hs512_without_expiry_gives_this_exact_token() {
        let mut a = asset(
            Algorithm::HS512,
            &[b'k'; 64],
            r#"{"sub": "%globals_user_attribute_username%"}"#,
        );
        a.expiry_seconds = None;
        let issued = CompiledAsset::new(a)
            .issue(&alice(), clock(), None)
            .unwrap();
        assert_eq!(
            issued.token,
            "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTc5NTQyODAwMH0.0vNkLy_kRr28oQpsMx92axAr3QzOv1CZGyxoMDkNLAmh95lxJqfiv-kDRTHbEiB5o3-md7QdR7K3EkwHJ4YFKQ"
        );
    }

    #[test]
    fn a_value_position_keyword_that_yields_text_is_a_configuration_error() {
        let a = asset(
            Algorithm::HS256,
            &[b'k'; 32],
            r#"{"n": %globals_user_attribute_first_name%}"#,
        );
        let err = CompiledAsset::new(a)
            .issue(&alice(), clock(), None)
            .unwrap_err();
        assert!(matches!(err, TokenError::Render(_)));
        assert!(
            !err.to_string().contains("Ann"),
            "the reason never carries the user's data: {err}"
        );
    }

    #[test]
    fn a_scheduled_next_secret_signs_from_its_switch_time_on() {
        let mut a = asset(
            Algorithm::HS256,
            b"0123456789abcdef0123456789abcdef",
            r#"{"sub": "%globals_user_attribute_username%"}"#,
        );
        a.next_secret = Some(Secret::new(b"fedcba9876543210fedcba9876543210".to_vec()));
        a.next_secret_at = Some(clock());
        let compiled = CompiledAsset::new(a);
        let before = compiled
            .issue(&alice(), clock() - chrono::Duration::seconds(1), None)
            .unwrap();
        let at = compiled.issue(&alice(), clock(), None).unwrap();
        let verifies = |token: &str, secret: &[u8]| {
            let (message, sig) = token.rsplit_once('.').unwrap();
            crate::signing::verify_hmac(Algorithm::HS256, secret, message.as_bytes(), sig)
        };
        assert!(verifies(&before.token, b"0123456789abcdef0123456789abcdef"));
        assert!(!verifies(
            &before.token,
            b"fedcba9876543210fedcba9876543210"
        ));
        assert!(verifies(&at.token, b"fedcba9876543210fedcba9876543210"));
        assert!(!verifies(&at.token, b"0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn asymmetric_tokens_carry_the_active_kid() {
        let mut a = asset(Algorithm::ES256, b"", r#"{"sub": "x"}"#);
        a.keys = vec![
            crate::signing::keys::KeyPair::generate(crate::signing::keys::KeyType::P256, clock())
                .unwrap(),
        ];
        let kid = a.keys[0].kid.clone();
        let issued = CompiledAsset::new(a)
            .issue(&alice(), clock(), None)
            .unwrap();
        let header = issued.token.split('.').next().unwrap();
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#)
        );
    }
}
