//! What to hand to the consumer of a preset asset: a ready-to-paste piece of the consumer's own
//! configuration (Synapse's `jwt_config`, docker-jitsi-meet's `.env`, Metabase's environment…),
//! filled in from the asset. A shared secret is never in it: a placeholder says where the
//! secret was shown (once, when it was set). Public keys are, as PEM.

use serde::Serialize;

use crate::domain::asset::Asset;
use crate::domain::preset::{MATRIX_DISPLAY_NAME_CLAIM, Preset};

/// Where the secret goes in a snippet: it is never shown again after it was set.
pub const SECRET_PLACEHOLDER: &str = "<the secret, shown once when it was set>";

/// A consumer's configuration, filled in for one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConsumerConfig {
    /// Where it goes, e.g. "homeserver.yaml (Synapse)".
    pub place: &'static str,
    /// `yaml`, `env`, `json` or `text`, for display.
    pub format: &'static str,
    /// The text to paste.
    pub text: String,
    /// What else to do, in a sentence or two.
    pub notes: Vec<String>,
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A shell-safe value for an env file: kept bare when plain, else single-quoted.
fn env_value(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The PEM of the key that signs now (asymmetric assets), with each line indented.
fn indented_pem(asset: &Asset, indent: &str) -> Option<String> {
    let key = asset.signing_key_at(chrono::Utc::now())?;
    Some(
        key.public_key_pem
            .trim_end()
            .lines()
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

impl Preset {
    /// The consumer's configuration for `asset`, whose token URL is `token_url`.
    pub fn consumer_config(self, asset: &Asset, token_url: &str) -> ConsumerConfig {
        let alg = asset.algorithm.name();
        let hmac = asset.algorithm.is_hmac();
        let mut notes = Vec::new();
        if hmac {
            notes.push(format!(
                "Replace {SECRET_PLACEHOLDER} with the secret itself ({} bytes); it is not shown again — set a new one if it is lost.",
                asset.secret.len()
            ));
        }
        match self {
            Preset::Matrix => {
                let mut t = String::from("jwt_config:\n  enabled: true\n");
                match indented_pem(asset, "    ") {
                    Some(pem) if !hmac => t.push_str(&format!("  secret: |\n{pem}\n")),
                    _ => t.push_str(&format!("  secret: {}\n", yaml_str(SECRET_PLACEHOLDER))),
                }
                t.push_str(&format!("  algorithm: {}\n", yaml_str(alg)));
                t.push_str("  subject_claim: \"sub\"\n");
                t.push_str(&format!(
                    "  display_name_claim: {}\n",
                    yaml_str(MATRIX_DISPLAY_NAME_CLAIM)
                ));
                if let Some(iss) = &asset.issuer {
                    t.push_str(&format!("  issuer: {}\n", yaml_str(iss)));
                }
                if let Some(aud) = &asset.audience {
                    t.push_str(&format!("  audiences:\n    - {}\n", yaml_str(aud)));
                }
                notes.push(format!(
                    "Clients log in with {{\"type\": \"org.matrix.login.jwt\", \"token\": <a token from {token_url}>}}."
                ));
                if !hmac {
                    notes.push(
                        "Synapse holds this one public key: before rotating, publish a next key, put its PEM here, then activate it."
                            .to_owned(),
                    );
                }
                ConsumerConfig {
                    place: "homeserver.yaml (Synapse)",
                    format: "yaml",
                    text: t,
                    notes,
                }
            }
            Preset::RealmSync => {
                let pem = indented_pem(asset, "").unwrap_or_default();
                let mut t = format!(
                    "JWT provider\n  signing algorithm: {alg}\n  user id claim:     userId\n  admin claim:       isAdmin\n"
                );
                if let Some(aud) = &asset.audience {
                    t.push_str(&format!("  audience:          {aud}\n"));
                }
                t.push_str("  public key:\n");
                t.push_str(&pem);
                t.push('\n');
                notes.push(format!(
                    "The app fetches a token from {token_url} and logs in to the sync server with it."
                ));
                notes.push(
                    "The sync server holds this one public key: before rotating, publish a next key, give the server its PEM, then activate it."
                        .to_owned(),
                );
                ConsumerConfig {
                    place: "the sync server's JWT authentication provider",
                    format: "text",
                    text: t,
                    notes,
                }
            }
            Preset::Zendesk => {
                let t = format!(
                    "Admin Center > Account > Security > Single sign-on > JSON Web Token\n  Remote login URL: {token_url}\n  Shared secret:    {SECRET_PLACEHOLDER}\n"
                );
                notes.push(
                    "Zendesk sends people to the remote login URL with return_to; this server answers with a page that POSTs the token (field jwt) to https://<subdomain>.zendesk.com/access/jwt."
                        .to_owned(),
                );
                ConsumerConfig {
                    place: "Zendesk Admin Center",
                    format: "text",
                    text: t,
                    notes,
                }
            }
            Preset::Metabase => {
                let t = format!(
                    "MB_JWT_ENABLED=true\nMB_JWT_IDENTITY_PROVIDER_URI={}\nMB_JWT_SHARED_SECRET={}\nMB_JWT_ATTRIBUTE_EMAIL=email\nMB_JWT_ATTRIBUTE_FIRSTNAME=first_name\nMB_JWT_ATTRIBUTE_LASTNAME=last_name\nMB_JWT_ATTRIBUTE_GROUPS=groups\n",
                    env_value(token_url),
                    env_value(SECRET_PLACEHOLDER)
                );
                notes.push(
                    "Or the same in Admin > Settings > Authentication > JWT; group mappings turn the groups claim into Metabase groups."
                        .to_owned(),
                );
                ConsumerConfig {
                    place: "Metabase's environment",
                    format: "env",
                    text: t,
                    notes,
                }
            }
            Preset::Jitsi => {
                let app_id = asset.issuer.as_deref().unwrap_or("<the issuer (app id)>");
                let aud = asset.audience.as_deref().unwrap_or("jitsi");
                let t = format!(
                    "ENABLE_AUTH=1\nAUTH_TYPE=jwt\nJWT_APP_ID={}\nJWT_APP_SECRET={}\nJWT_ACCEPTED_ISSUERS={}\nJWT_ACCEPTED_AUDIENCES={}\n",
                    env_value(app_id),
                    env_value(SECRET_PLACEHOLDER),
                    env_value(app_id),
                    env_value(aud)
                );
                notes.push(format!(
                    "The meeting page opens https://<jitsi host>/<room>?jwt=<a token from {token_url}>."
                ));
                ConsumerConfig {
                    place: "docker-jitsi-meet .env",
                    format: "env",
                    text: t,
                    notes,
                }
            }
            Preset::Tableau => {
                let client_id = asset
                    .issuer
                    .as_deref()
                    .unwrap_or("<the issuer (client id)>");
                let secret_id = asset
                    .key_id
                    .as_deref()
                    .unwrap_or("<the key id (secret id)>");
                let t = format!(
                    "Tableau > Settings > Connected Apps > Direct trust\n  Client ID:    {client_id}\n  Secret ID:    {secret_id}\n  Secret value: {SECRET_PLACEHOLDER}\n"
                );
                notes.push(format!(
                    "The embedding page fetches a token from {token_url} and passes it to the Tableau Embedding API as the token attribute."
                ));
                ConsumerConfig {
                    place: "Tableau (connected app)",
                    format: "text",
                    text: t,
                    notes,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Algorithm;
    use crate::signing::keys::{KeyPair, KeyType};

    const SECRET: &[u8] = b"test-secret-0123456789abcdef0123456789";

    fn asset_with(algorithm: Algorithm) -> Asset {
        let mut a = crate::domain::compiled::tests::asset(algorithm, SECRET, r#"{"sub": "x"}"#);
        if !algorithm.is_hmac() {
            a.secret = crate::secret::Secret::new(Vec::new());
            a.keys = vec![KeyPair::generate(KeyType::Rsa2048, chrono::Utc::now()).unwrap()];
        }
        a
    }

    #[test]
    fn an_hmac_snippet_never_holds_the_secret() {
        let mut a = asset_with(Algorithm::HS256);
        a.issuer = Some("meet.example".into());
        a.audience = Some("jitsi".into());
        for p in Preset::ALL {
            let c = p.consumer_config(&a, "https://tokens.example/sso/x");
            let all = format!("{}{}", c.text, c.notes.join(" "));
            assert!(
                !all.contains("test-secret-0123456789abcdef0123456789"),
                "{p}"
            );
            assert!(
                c.text.contains(SECRET_PLACEHOLDER) || p == Preset::RealmSync,
                "{p}"
            );
        }
        let jitsi = Preset::Jitsi.consumer_config(&a, "https://t.example/j");
        assert!(jitsi.text.contains("JWT_APP_ID=meet.example\n"));
        assert!(jitsi.text.contains("JWT_ACCEPTED_AUDIENCES=jitsi\n"));
        assert!(
            jitsi
                .text
                .contains("JWT_APP_SECRET='<the secret, shown once when it was set>'\n")
        );
    }

    #[test]
    fn a_matrix_rs256_snippet_is_yaml_with_the_pem_synapse_pins() {
        let mut a = asset_with(Algorithm::RS256);
        a.issuer = Some("https://tokens.example".into());
        let c = Preset::Matrix.consumer_config(&a, "https://tokens.example/m");
        let pem = &a.active_key().unwrap().public_key_pem;
        assert!(c.text.starts_with(
            "jwt_config:\n  enabled: true\n  secret: |\n    -----BEGIN PUBLIC KEY-----\n"
        ));
        for line in pem.lines() {
            assert!(c.text.contains(&format!("    {line}\n")), "{line}");
        }
        assert!(c.text.contains("  algorithm: \"RS256\"\n"));
        assert!(c.text.contains("  display_name_claim: \"name\"\n"));
        assert!(c.text.contains("  issuer: \"https://tokens.example\"\n"));
        assert!(!c.text.contains("audiences"));
    }
}
