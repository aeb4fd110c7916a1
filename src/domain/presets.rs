//! Consumer presets: what the services people connect to expect, as defaults for a new asset,
//! rules checked when it is saved, and rules checked on every token it issues.
//!
//! Pure: no I/O. [`Preset::apply`] pre-fills an [`AssetInput`]; [`Preset::check`] explains at
//! save what the consumer would refuse (an error) or might refuse (a warning);
//! [`Preset::check_claims`] runs on each rendered token for the rules that depend on the user.

use serde_json::Value;

use crate::domain::FieldError;
use crate::domain::asset::Asset;
use crate::domain::asset_input::AssetInput;
use crate::domain::trial::{SAMPLE_USER, render_for};
use crate::keywords::PayloadTemplate;
use crate::signing::Algorithm;

use crate::domain::preset::zendesk_delivery;
pub use crate::domain::preset::{
    MATRIX_DISPLAY_NAME_CLAIM, Preset, TABLEAU_MAX_EXPIRY_SECONDS, ZENDESK_FORM_POST_URL,
    ZENDESK_RETURN_TO_PREFIX,
};

impl Preset {
    /// Pre-fill what the administrator left empty: algorithm, template, `jti` (for consumers
    /// that require it), a fixed audience and (Zendesk) form-post delivery with a placeholder
    /// subdomain. Never overrides a value that was given.
    pub fn apply(&self, input: &mut AssetInput) {
        if input
            .algorithm
            .as_deref()
            .is_none_or(|a| a.trim().is_empty())
        {
            input.algorithm = Some(self.algorithm().name().to_owned());
        }
        if input.template.trim().is_empty() {
            input.template = self.template().to_owned();
        }
        if self.needs_jti() {
            input.jti = true;
        }
        if *self == Preset::Zendesk && input.delivery.is_none() {
            input.delivery = Some(zendesk_delivery());
        }
        if let Some(aud) = self.audience()
            && input
                .audience
                .as_deref()
                .is_none_or(|a| a.trim().is_empty())
        {
            input.audience = Some(aud.to_owned());
        }
    }

    /// Header members the consumer wants besides `alg`, `typ` and `kid` (Tableau: `iss`, the
    /// connected app's client id).
    pub fn extra_header(self, asset: &Asset) -> Option<(&'static str, String)> {
        match self {
            Preset::Tableau => asset.issuer.clone().map(|iss| ("iss", iss)),
            _ => None,
        }
    }

    /// Whether [`Preset::check_claims`] has anything to check (the others skip the parse).
    pub fn has_render_rules(self) -> bool {
        matches!(self, Preset::Matrix | Preset::RealmSync)
    }

    /// Rules checked at save: an explained error for what the consumer refuses, warnings for
    /// what it might. `template` is the asset's compiled template.
    pub fn check(
        &self,
        asset: &Asset,
        template: &PayloadTemplate,
    ) -> Result<Vec<String>, FieldError> {
        let mut check = SaveCheck::new(self.label(), asset, template);
        match self {
            Preset::Matrix => matrix_rules(&mut check)?,
            Preset::RealmSync => realm_rules(&mut check)?,
            Preset::Zendesk => zendesk_rules(&mut check)?,
            Preset::Metabase => metabase_rules(&mut check)?,
            Preset::Jitsi => jitsi_rules(&mut check)?,
            Preset::Tableau => tableau_rules(&mut check)?,
        }
        if let Some(e) = FieldError::all(check.errors.take()) {
            return Err(e);
        }
        if let Some(claims) = &check.claims
            && let Err(reason) = self.check_claims(claims)
        {
            check.warn(format!(
                "for a sample user the token would be refused: {reason}"
            ));
        }
        Ok(check.warnings)
    }

    /// Rules that depend on the user, checked on every token: the reason when the consumer
    /// would refuse it. The reason never contains the user's data.
    pub fn check_claims(&self, claims: &Value) -> Result<(), String> {
        match self {
            Preset::Matrix => match claims.get("sub") {
                Some(Value::String(s)) if s.is_empty() => {
                    Err("\"sub\" is empty; Matrix needs the user's localpart".to_owned())
                }
                Some(Value::String(s)) => match s.chars().find(|c| !is_localpart_char(*c)) {
                    None => Ok(()),
                    Some(c) if c.is_uppercase() => Err(
                        "\"sub\" has an upper-case letter; Matrix localparts are lower case (add ^lowercase to the keyword)"
                            .to_owned(),
                    ),
                    Some(_) => Err(
                        "\"sub\" has a character a Matrix localpart may not contain (only a-z 0-9 . _ = - / +)"
                            .to_owned(),
                    ),
                },
                _ => Err("\"sub\" must be a string (the user's Matrix localpart)".to_owned()),
            },
            Preset::RealmSync => {
                match claims.get("userId") {
                    Some(Value::String(s)) if s.is_empty() => {
                        return Err("\"userId\" is empty".to_owned());
                    }
                    Some(Value::String(s)) if !s.chars().all(is_uri_unreserved) => {
                        return Err("\"userId\" needs URI encoding; only A-Z a-z 0-9 - . _ ~ are allowed".to_owned());
                    }
                    Some(Value::String(_)) => {}
                    _ => return Err("\"userId\" must be a non-empty string".to_owned()),
                }
                match claims.get("isAdmin") {
                    None | Some(Value::Bool(_)) => Ok(()),
                    Some(_) => Err("\"isAdmin\" must be a real boolean (true or false)".to_owned()),
                }
            }
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One save-time check in progress: the asset, its compiled template, the claims rendered for a
/// sample user (none when they would not render) and the warnings found so far.
struct SaveCheck<'a> {
    label: &'static str,
    asset: &'a Asset,
    template: &'a PayloadTemplate,
    claims: Option<Value>,
    warnings: Vec<String>,
    /// What the consumer refuses, all of it: every rule is checked, not just up to the first
    /// that fails.
    errors: std::cell::RefCell<Vec<FieldError>>,
}

impl<'a> SaveCheck<'a> {
    /// Record what the consumer refuses and go on checking.
    fn fail(&self, e: FieldError) -> Result<(), FieldError> {
        self.errors.borrow_mut().push(e);
        Ok(())
    }

    /// Start a check by rendering the sample claims; when they do not render, that is the first
    /// warning.
    fn new(label: &'static str, asset: &'a Asset, template: &'a PayloadTemplate) -> Self {
        let mut warnings = Vec::new();
        let claims = match sample_claims(asset, template) {
            Ok(v) => Some(v),
            Err(reason) => {
                warnings.push(format!(
                    "the claims could not be checked with a sample user ({reason}); use the preview"
                ));
                None
            }
        };
        SaveCheck {
            label,
            asset,
            template,
            claims,
            warnings,
            errors: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// Whether every token carries `claim`: the server adds it, or the template writes it.
    fn has(&self, claim: &str) -> bool {
        let asset = self.asset;
        let from_server = match claim {
            "iat" => true,
            "exp" => asset.expiry_seconds.is_some(),
            "nbf" => asset.not_before,
            "iss" => asset.issuer.is_some(),
            "aud" => asset.audience.is_some(),
            "jti" => asset.jti,
            _ => false,
        };
        from_server || self.template.claim_names().any(|n| n == claim)
    }

    /// The consumer needs `claim` (for `why`): an error naming the field to fix when it is missing.
    fn need(&self, claim: &str, why: &str) -> Result<(), FieldError> {
        if self.has(claim) {
            Ok(())
        } else {
            self.fail(FieldError::new(
                missing_field(claim),
                format!("{} needs the \"{claim}\" claim ({why})", self.label),
            ))
        }
    }

    /// The consumer accepts only the `allowed` algorithms.
    fn algorithm_in(&self, allowed: &[Algorithm]) -> Result<(), FieldError> {
        if allowed.contains(&self.asset.algorithm) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|a| a.name()).collect();
        self.fail(FieldError::new(
            "algorithm",
            format!(
                "{} accepts {}; {} is not one of them",
                self.label,
                names.join(" or "),
                self.asset.algorithm.name()
            ),
        ))
    }

    /// The sample user's `claim`, when the claims rendered and have it.
    fn sample_value(&self, claim: &str) -> Option<&Value> {
        self.claims.as_ref().and_then(|c| c.get(claim))
    }

    /// The sample user's `claim`, when there, must pass `ok` (described as `what`).
    fn must_be(&self, claim: &str, ok: fn(&Value) -> bool, what: &str) -> Result<(), FieldError> {
        match self.sample_value(claim) {
            Some(v) if !ok(v) => self.fail(FieldError::new(
                "template",
                format!("{} needs \"{claim}\" to be {what}", self.label),
            )),
            _ => Ok(()),
        }
    }

    /// The `consumer` refuses a token without a unique `jti`.
    fn jti_on(&self, consumer: &str) -> Result<(), FieldError> {
        if self.asset.jti {
            Ok(())
        } else {
            self.fail(FieldError::new(
                "jti",
                format!("{consumer} refuses a token without a unique \"jti\": turn jti on"),
            ))
        }
    }
}

/// Matrix: the localpart as a string `sub`; warns about the `iss` and `aud` a homeserver may
/// require and a `sub` that is not made lower case.
fn matrix_rules(c: &mut SaveCheck<'_>) -> Result<(), FieldError> {
    c.algorithm_in(&[Algorithm::HS256, Algorithm::RS256])?;
    c.need("sub", "the user's localpart")?;
    c.must_be("sub", Value::is_string, "a string (the localpart)")?;
    c.must_be(
        MATRIX_DISPLAY_NAME_CLAIM,
        Value::is_string,
        "a string (the display name Synapse reads with display_name_claim: name)",
    )?;
    for (claim, field) in [("iss", "issuer"), ("aud", "audience")] {
        if !c.has(claim) {
            c.warn(format!(
                "no \"{claim}\": if the homeserver's jwt_config sets {field}, tokens must carry the same value"
            ));
        }
    }
    if !c.template.source().contains("^lowercase") {
        c.warn(
            "Matrix localparts are lower case: a user whose \"sub\" has upper-case letters gets 500; add ^lowercase to the keyword",
        );
    }
    Ok(())
}

/// Realm-style sync: RS256, a string `userId` and, when there, a real boolean `isAdmin`.
fn realm_rules(c: &mut SaveCheck<'_>) -> Result<(), FieldError> {
    c.algorithm_in(&[Algorithm::RS256])?;
    c.need("userId", "the user's identity on the sync server")?;
    c.must_be("userId", Value::is_string, "a string")?;
    c.must_be(
        "isAdmin",
        Value::is_boolean,
        "a real boolean: write %asset_has_write_access^eq:1:true:false% without quotes",
    )?;
    if !c.has("isAdmin") {
        c.warn("no \"isAdmin\": the sync server treats every user as a non-administrator");
    }
    Ok(())
}

/// Zendesk: HS256, a `jti`, string `name` and `email`; warns when no delivery sends the browser
/// on to Zendesk.
fn zendesk_rules(c: &mut SaveCheck<'_>) -> Result<(), FieldError> {
    c.algorithm_in(&[Algorithm::HS256])?;
    c.jti_on("Zendesk")?;
    c.need("name", "the user's full name")?;
    c.need("email", "the user's e-mail address")?;
    c.must_be("name", Value::is_string, "a string")?;
    c.must_be("email", Value::is_string, "a string")?;
    let delivery = &c.asset.delivery;
    if delivery.redirect.is_none() && delivery.form_post.is_none() {
        c.warn(
            "no form-post delivery: Zendesk's remote login URL needs the browser to POST the token (field jwt) to https://<subdomain>.zendesk.com/access/jwt",
        );
    } else if delivery.form_post.is_none() {
        c.warn(
            "redirect delivery only: Zendesk is retiring the GET to /access/jwt?jwt=…; use form-post delivery (field jwt) to https://<subdomain>.zendesk.com/access/jwt",
        );
    }
    Ok(())
}

/// Metabase: HS256, a string `email`, `groups` as an array; warns about the optional claims.
fn metabase_rules(c: &mut SaveCheck<'_>) -> Result<(), FieldError> {
    c.algorithm_in(&[Algorithm::HS256])?;
    c.need("email", "Metabase signs users in by e-mail address")?;
    c.must_be("email", Value::is_string, "a string")?;
    for claim in ["first_name", "last_name", "groups"] {
        if !c.has(claim) {
            let lost = if claim == "groups" {
                "group membership is not synchronised"
            } else {
                "the user's name stays as it was"
            };
            c.warn(format!(
                "no \"{claim}\": Metabase accepts the token, but {lost}"
            ));
        }
    }
    c.must_be("groups", Value::is_array, "an array of group names")
}

/// Jitsi: `iss`, `aud`, `sub`, a string `room`, and `context.user` as an object (warned about
/// when missing).
fn jitsi_rules(c: &mut SaveCheck<'_>) -> Result<(), FieldError> {
    c.algorithm_in(&[Algorithm::HS256, Algorithm::RS256])?;
    c.need(
        "iss",
        "the app_id Jitsi's token authentication is configured with",
    )?;
    c.need("aud", "Jitsi's accepted audience, usually \"jitsi\"")?;
    c.need("sub", "the Jitsi domain or tenant, or \"*\"")?;
    c.need("room", "the room name, or \"*\" for every room")?;
    c.must_be("room", Value::is_string, "a string")?;
    c.must_be("context", Value::is_object, "an object holding \"user\"")?;
    match c.sample_value("context").map(|context| context.get("user")) {
        Some(Some(user)) if !user.is_object() => c.fail(FieldError::new(
            "template",
            "Jitsi needs \"context.user\" to be an object with name, email and id",
        )),
        // lib-jitsi-meet takes only strings, numbers or null in context.user, and a moderator
        // is the string "true" (JaaS: missing or "false" = not a moderator).
        Some(Some(user)) => match user.get("moderator") {
            Some(Value::String(m)) if m == "true" || m == "false" => Ok(()),
            None => Ok(()),
            Some(other) => c.fail(FieldError::new(
                "template",
                format!(
                    "Jitsi needs \"context.user.moderator\" to be the string \"true\" or \"false\" (found {other}): write it in quotes, e.g. \"%asset_has_write_access^eq:1:true:false%\""
                ),
            )),
        },
        // The sample did not render: nothing known about "context".
        None if c.claims.is_none() && c.has("context") => Ok(()),
        _ => {
            c.warn(
                "no \"context.user\": Jitsi shows the participant without a name or e-mail address",
            );
            Ok(())
        }
    }
}

/// Tableau (direct trust): an HS256 secret with its ID as `kid` (an asymmetric key is warned
/// about), the asset's fields Tableau fixes, a string `sub` and an array of string `scp`.
fn tableau_rules(c: &mut SaveCheck<'_>) -> Result<(), FieldError> {
    if c.asset.algorithm.is_hmac() {
        c.algorithm_in(&[Algorithm::HS256])?;
        if c.asset.key_id.is_none() {
            c.fail(FieldError::new(
                "key_id",
                "Tableau needs the connected app's secret ID as the header's \"kid\": set key_id",
            ))?;
        }
    } else {
        c.warn(
            "an asymmetric key is for a connected app of type External Authorization Server: register this asset's JWKS URL with Tableau",
        );
    }
    tableau_asset_fields(c)?;
    c.need("sub", "the Tableau username")?;
    c.need("scp", "the scopes, e.g. [\"tableau:views:embed\"]")?;
    c.must_be("sub", Value::is_string, "a string (the Tableau username)")?;
    c.must_be(
        "scp",
        |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        "an array of scope strings, e.g. [\"tableau:views:embed\"]",
    )
}

/// Tableau's rules on the asset itself: the client ID as issuer, audience "tableau", a `jti` and
/// at most ten minutes of validity.
fn tableau_asset_fields(c: &SaveCheck<'_>) -> Result<(), FieldError> {
    if c.asset.issuer.is_none() {
        c.fail(FieldError::new(
            "issuer",
            "Tableau needs the connected app's client ID as \"iss\": set issuer",
        ))?;
    }
    if c.asset.audience.as_deref() != Some("tableau") {
        c.fail(FieldError::new(
            "audience",
            "Tableau needs \"aud\" to be exactly \"tableau\"",
        ))?;
    }
    c.jti_on("Tableau")?;
    match c.asset.expiry_seconds {
        Some(e) if e <= TABLEAU_MAX_EXPIRY_SECONDS => Ok(()),
        _ => c.fail(FieldError::new(
            "expiry_seconds",
            format!(
                "Tableau refuses tokens valid for more than {TABLEAU_MAX_EXPIRY_SECONDS} seconds (10 minutes)"
            ),
        )),
    }
}

/// The field an administrator fixes when a claim the server can set is missing.
fn missing_field(claim: &str) -> &'static str {
    match claim {
        "iss" => "issuer",
        "aud" => "audience",
        "jti" => "jti",
        "exp" => "expiry_seconds",
        _ => "template",
    }
}

/// Matrix localpart characters (the spec's historical-compatible lower-case set).
pub fn is_localpart_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '=' | '-' | '/' | '+')
}

fn is_uri_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// The template rendered for the sample user, with the server's claims, as JSON.
fn sample_claims(asset: &Asset, template: &PayloadTemplate) -> Result<Value, String> {
    let text = render_for(asset, template, &SAMPLE_USER).map_err(|e| e.to_string())?;
    let mut claims: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(obj) = claims.as_object_mut() {
        if let Some(iss) = &asset.issuer {
            obj.insert("iss".into(), Value::String(iss.clone()));
        }
        if let Some(aud) = &asset.audience {
            obj.insert("aud".into(), Value::String(aud.clone()));
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(preset: Preset) -> AssetInput {
        let mut i = AssetInput::default();
        preset.apply(&mut i);
        i
    }

    #[test]
    fn names_round_trip_and_serde_uses_them() {
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.name()), Some(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                Value::String(p.name().into())
            );
        }
        assert_eq!(Preset::parse("Matrix"), None);
    }

    #[test]
    fn apply_fills_what_is_empty_and_never_overrides() {
        for p in Preset::ALL {
            let i = input(p);
            assert_eq!(i.algorithm.as_deref(), Some(p.algorithm().name()));
            assert!(PayloadTemplate::compile(&i.template).is_ok(), "{p}");
            assert_eq!(i.jti, p.needs_jti());
        }
        let mut given = AssetInput {
            algorithm: Some("RS256".into()),
            template: r#"{"sub": "x"}"#.into(),
            audience: Some("mine".into()),
            ..AssetInput::default()
        };
        Preset::Tableau.apply(&mut given);
        assert_eq!(given.algorithm.as_deref(), Some("RS256"));
        assert_eq!(given.template, r#"{"sub": "x"}"#);
        assert_eq!(given.audience.as_deref(), Some("mine"));
    }

    #[test]
    fn matrix_localparts_are_checked_per_token() {
        let ok = |sub: Value| Preset::Matrix.check_claims(&serde_json::json!({ "sub": sub }));
        assert!(ok("alice.smith_1=/+-".into()).is_ok());
        assert!(ok("Alice".into()).unwrap_err().contains("upper-case"));
        assert!(ok("a@b".into()).unwrap_err().contains("may not contain"));
        assert!(ok("".into()).is_err());
        assert!(ok(Value::Bool(true)).is_err());
        let reason = ok("Secret-Name".into()).unwrap_err();
        assert!(!reason.contains("Secret"), "no user data: {reason}");
    }

    #[test]
    fn realm_user_ids_need_no_uri_encoding_and_is_admin_is_boolean() {
        let c = |v: Value| Preset::RealmSync.check_claims(&v);
        assert!(c(serde_json::json!({"userId": "a-B_c.d~1", "isAdmin": false})).is_ok());
        assert!(c(serde_json::json!({"userId": "a b"})).is_err());
        assert!(c(serde_json::json!({"userId": "a@b"})).is_err());
        assert!(c(serde_json::json!({"userId": ""})).is_err());
        assert!(c(serde_json::json!({"userId": 5})).is_err());
        assert!(c(serde_json::json!({"userId": "a", "isAdmin": "true"})).is_err());
    }
}
