//! The asset form as posted, and its reading into the service's input.

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use crate::domain::asset::{AccessRule, RequestParam};
use crate::domain::delivery::{
    DEFAULT_FORM_FIELD, Delivery, DeliveryMode, FormPostDelivery, RedirectDelivery,
};
use crate::secret::SecretString;
use crate::service::{AssetInput, KeyInput};
use crate::signing::Algorithm;
use crate::ui::extract::WithCsrf;

/// The fields of the asset form, exactly as posted (checkboxes are present when ticked). Written
/// out only as unsaved changes kept across a sign-in: without the CSRF token and the secrets.
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub struct AssetForm {
    #[serde(skip_serializing)]
    pub(super) csrf: String,
    pub(super) name: String,
    pub(super) path: String,
    pub(super) algorithm: String,
    #[serde(skip_serializing)]
    pub(super) secret: SecretString,
    pub(super) generate_secret: Option<String>,
    pub(super) accept_weak_secret: Option<String>,
    /// Key-pair algorithms: `keep`, `generate` or `import`.
    pub(super) key_mode: String,
    /// With `generate`: a key type, or empty for the algorithm's usual one.
    pub(super) key_type: String,
    /// With `import`: the private key, PEM.
    #[serde(skip_serializing)]
    pub(super) key_pem: SecretString,
    pub(super) template: String,
    pub(super) expiry_seconds: String,
    pub(super) no_expiry: Option<String>,
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) not_before: Option<String>,
    pub(super) jti: Option<String>,
    pub(super) read_mode: String,
    pub(super) read_users: String,
    pub(super) read_groups: String,
    pub(super) write_users: String,
    pub(super) write_groups: String,
    pub(super) version: String,
    /// The consumer preset (`""` = none); absent keeps the stored one.
    pub(super) preset: Option<String>,
    /// HMAC: the header's `kid`; absent keeps the stored one.
    pub(super) key_id: Option<String>,
    /// Present when the form has the delivery and CORS fields (else they are kept).
    pub(super) delivery_fields: Option<String>,
    pub(super) json_delivery: Option<String>,
    pub(super) default_delivery: String,
    pub(super) redirect_url: String,
    /// One prefix per line.
    pub(super) redirect_allowlist: String,
    pub(super) form_post_url: String,
    pub(super) form_post_field: String,
    /// One prefix per line.
    pub(super) form_post_allowlist: String,
    /// One origin per line.
    pub(super) cors_origins: String,
    /// One request parameter per line: `name max_length pattern`; absent keeps the stored ones.
    pub(super) request_params: Option<String>,
    /// Unsaved changes kept across a sign-in, sealed (see [`crate::ui::assets::draft`]): the
    /// form is shown with them, nothing is saved.
    #[serde(skip_serializing)]
    pub(super) restore_draft: Option<String>,
}

/// The form's lines for stored request parameters.
pub(super) fn request_params_text(params: &[RequestParam]) -> String {
    params
        .iter()
        .map(|p| format!("{} {} {}", p.name, p.max_length, p.pattern))
        .collect::<Vec<_>>()
        .join("\n")
}

impl WithCsrf for AssetForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The non-empty lines of a textarea, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Browsers send textarea lines ending in CRLF; templates are stored with LF.
pub(super) fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl AssetForm {
    /// The service input, with the problems this layer can see (numbers, choices); where a
    /// field has a problem the input holds what the service accepts in its place, so the other
    /// fields can still be checked by the service in the same round.
    pub(super) fn input(&self, editing: bool) -> (AssetInput, Box<Problems>) {
        let mut p = Problems::default();
        let expiry_seconds = self.expiry(&mut p);
        // The form shows the secret and the key pair side by side; only the one the algorithm
        // uses is read (an unknown algorithm is reported by the service).
        let key_pair = Algorithm::parse(self.algorithm.trim()).filter(|a| !a.is_hmac());
        let (key, (secret, generate)) = match key_pair {
            Some(algorithm) => (self.key_input(algorithm, editing, &mut p), (None, false)),
            None => (None, self.secret_input(editing, &mut p)),
        };
        let read = self.read_rule(&mut p);
        let (delivery, cors_origins) = if self.delivery_fields.is_some() {
            (Some(self.delivery(&mut p)), Some(lines(&self.cors_origins)))
        } else {
            (None, None)
        };
        let request_params = match self
            .request_params
            .as_deref()
            .map(RequestParam::parse_lines)
        {
            None => None,
            Some(Ok(list)) => Some(list),
            Some(Err(message)) => {
                p.fields.set("request_params", message);
                None
            }
        };
        let version = if editing {
            self.edited_version(&mut p)
        } else {
            None
        };
        let input = AssetInput {
            name: self.name.clone(),
            path: self.path.clone(),
            algorithm: Some(self.algorithm.clone()),
            key,
            secret,
            generate_secret: generate,
            accept_weak_secret: self.accept_weak_secret.is_some(),
            template: normalise_newlines(&self.template),
            expiry_seconds,
            issuer: Some(self.issuer.clone()),
            audience: Some(self.audience.clone()),
            not_before: self.not_before.is_some(),
            jti: self.jti.is_some(),
            read,
            write: Some(AccessRule {
                users: names(&self.write_users),
                groups: names(&self.write_groups),
            }),
            version,
            preset: self.preset.clone(),
            key_id: self.key_id.clone(),
            delivery,
            cors_origins,
            request_params,
        };
        (input, Box::new(p))
    }

    /// The token lifetime in seconds; `None` when "No expiry" is ticked (or the number cannot
    /// be read, which is reported).
    fn expiry(&self, p: &mut Problems) -> Option<u64> {
        if self.no_expiry.is_some() {
            return None;
        }
        let n = self.expiry_seconds.trim().parse::<u64>().ok();
        if n.is_none() {
            p.fields.set(
                "expiry_seconds",
                "enter the token lifetime in seconds (600 is 10 minutes), or tick \u{201c}No expiry\u{201d}".into(),
            );
        }
        n
    }

    /// An HMAC asset's secret to set (`None` keeps the stored one) and whether the service is to
    /// generate one instead.
    fn secret_input(&self, editing: bool, p: &mut Problems) -> (Option<SecretString>, bool) {
        let (secret, generate) = (self.secret.expose(), self.generate_secret.is_some());
        if generate && !secret.is_empty() {
            p.fields.set(
                "secret",
                "type a secret or tick \u{201c}Generate a secret\u{201d}, not both".into(),
            );
        } else if !generate && secret.is_empty() && !editing {
            p.fields.set(
                "secret",
                "is required: type the secret the consumer uses, or tick \u{201c}Generate a secret\u{201d}".into(),
            );
        }
        let secret = (!secret.is_empty()).then(|| SecretString::new(secret.to_owned()));
        (secret, generate)
    }

    /// Who may fetch the token: `None` is any signed-in user. Names typed while "Any signed-in
    /// user" is chosen are reported rather than dropped.
    fn read_rule(&self, p: &mut Problems) -> Option<AccessRule> {
        let (users, groups) = (names(&self.read_users), names(&self.read_groups));
        if self.read_mode == "listed" {
            return Some(AccessRule { users, groups });
        }
        if !users.is_empty() || !groups.is_empty() {
            p.fields.set(
                "read",
                "names are filled in but \u{201c}Any signed-in user\u{201d} is chosen: choose \u{201c}Only these users and groups\u{201d}, or clear the names".into(),
            );
        }
        None
    }

    /// The version the edit started from, so that the service refuses a stale edit.
    fn edited_version(&self, p: &mut Problems) -> Option<u64> {
        let version = self.version.trim().parse::<u64>().ok();
        if version.is_none() {
            p.general
                .push("the form has no valid version: reload the page".into());
        }
        version
    }

    /// The delivery options of the form (the service checks the URLs).
    fn delivery(&self, p: &mut Problems) -> Delivery {
        let default = match DeliveryMode::parse(self.default_delivery.trim()) {
            Some(m) => m,
            None if self.default_delivery.trim().is_empty() => DeliveryMode::Raw,
            None => {
                p.fields
                    .set("delivery.default", "choose one of the listed modes".into());
                DeliveryMode::Raw
            }
        };
        let redirect_allowlist = lines(&self.redirect_allowlist);
        let redirect = match self.redirect_url.trim() {
            "" => {
                if !redirect_allowlist.is_empty() {
                    p.fields.set(
                        "delivery.redirect.return_to_allowlist",
                        "prefixes are listed but there is no redirect URL: fill in the URL, or clear the list".into(),
                    );
                }
                None
            }
            url => Some(RedirectDelivery {
                url: url.to_owned(),
                return_to_allowlist: redirect_allowlist,
            }),
        };
        let form_allowlist = lines(&self.form_post_allowlist);
        let form_post = match self.form_post_url.trim() {
            "" => {
                if !form_allowlist.is_empty() {
                    p.fields.set(
                        "delivery.form_post.return_to_allowlist",
                        "prefixes are listed but there is no form-post URL: fill in the URL, or clear the list".into(),
                    );
                }
                None
            }
            url => Some(FormPostDelivery {
                url: url.to_owned(),
                field: match self.form_post_field.trim() {
                    "" => DEFAULT_FORM_FIELD.to_owned(),
                    f => f.to_owned(),
                },
                return_to_allowlist: form_allowlist,
            }),
        };
        Delivery {
            json: self.json_delivery.is_some(),
            default,
            redirect,
            form_post,
        }
    }
}

impl AssetForm {
    /// The key pair to set for a key-pair algorithm: `None` keeps the stored one (or, for a new
    /// asset, has the service generate the algorithm's usual type).
    fn key_input(&self, algorithm: Algorithm, editing: bool, p: &mut Problems) -> Option<KeyInput> {
        match self.key_mode.as_str() {
            "keep" => None,
            "import" => {
                let pem = self.key_pem.expose().trim();
                if pem.is_empty() {
                    p.fields.set(
                        "key",
                        "paste the private key (PEM) to import, or choose \u{201c}Generate a new key pair\u{201d}".into(),
                    );
                    None
                } else {
                    Some(KeyInput::Pem(SecretString::new(pem.to_owned())))
                }
            }
            _ => {
                let chosen = self.key_type.trim();
                if !chosen.is_empty() {
                    Some(KeyInput::Generate(chosen.to_owned()))
                } else if editing {
                    algorithm
                        .natural_key_type()
                        .map(|k| KeyInput::Generate(k.name().to_owned()))
                } else {
                    None
                }
            }
        }
    }
}
