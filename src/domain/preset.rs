//! The consumers an asset can be made for, by name, with the defaults each one expects
//! (algorithm, template, audience, delivery). The rules they impose live in `presets`.

use serde::{Deserialize, Serialize};

use crate::domain::delivery::{Delivery, DeliveryMode, FormPostDelivery};
use crate::signing::Algorithm;

/// Tableau connected apps refuse tokens valid for longer than this.
pub const TABLEAU_MAX_EXPIRY_SECONDS: u64 = 600;

/// A consumer the asset is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Preset {
    /// Matrix homeserver JWT login (`org.matrix.login.jwt`).
    #[serde(rename = "matrix")]
    Matrix,
    /// A Realm-style sync server's JWT authentication provider.
    #[serde(rename = "realm")]
    RealmSync,
    /// Zendesk single sign-on (JWT).
    #[serde(rename = "zendesk")]
    Zendesk,
    /// Metabase JWT single sign-on.
    #[serde(rename = "metabase")]
    Metabase,
    /// Jitsi Meet token authentication.
    #[serde(rename = "jitsi")]
    Jitsi,
    /// Tableau connected apps (direct trust).
    #[serde(rename = "tableau")]
    Tableau,
}

const MATRIX_TEMPLATE: &str = r#"{
  "sub": "%globals_user_attribute_username^lowercase%",
  "name": "%globals_user_name%"
}"#;

/// The claim the Matrix preset puts the display name in: Synapse reads it when `jwt_config`
/// sets `display_name_claim: name` (the name a new account starts with).
pub const MATRIX_DISPLAY_NAME_CLAIM: &str = "name";

const REALM_TEMPLATE: &str = r#"{
  "userId": "%globals_user_attribute_username%",
  "isAdmin": %asset_has_write_access^eq:1:true:false%
}"#;

const ZENDESK_TEMPLATE: &str = r#"{
  "name": "%globals_user_name%",
  "email": "%globals_user_attribute_email%",
  "external_id": "%globals_user_assetid%"
}"#;

/// Zendesk's JWT endpoint, with a placeholder subdomain the administrator must replace (an
/// asset is not saved while it is there). Zendesk takes the token as the form field `jwt`,
/// POSTed there (its GET redirect with `?jwt=` is being retired).
pub const ZENDESK_FORM_POST_URL: &str = "https://{subdomain}.zendesk.com/access/jwt";

/// The `return_to` allowlist the Zendesk preset starts with (same placeholder).
pub const ZENDESK_RETURN_TO_PREFIX: &str = "https://{subdomain}.zendesk.com/";

/// Form-post delivery to Zendesk's `/access/jwt`, the default mode (Zendesk sends the browser
/// to the asset's URL with `return_to`, and the page it gets posts `jwt` and `return_to`).
pub(crate) fn zendesk_delivery() -> Delivery {
    Delivery {
        default: DeliveryMode::FormPost,
        form_post: Some(FormPostDelivery {
            url: ZENDESK_FORM_POST_URL.to_owned(),
            field: "jwt".to_owned(),
            return_to_allowlist: vec![ZENDESK_RETURN_TO_PREFIX.to_owned()],
        }),
        ..Delivery::default()
    }
}

const METABASE_TEMPLATE: &str = r#"{
  "email": "%globals_user_attribute_email%",
  "first_name": "%globals_user_attribute_first_name%",
  "last_name": "%globals_user_attribute_last_name%",
  "groups": %globals_user_groups%
}"#;

const JITSI_TEMPLATE: &str = r#"{
  "sub": "*",
  "room": "*",
  "context": {
    "user": {
      "id": "%globals_user_assetid%",
      "name": "%globals_user_name%",
      "email": "%globals_user_attribute_email%",
      "moderator": "%asset_has_write_access^eq:1:true:false%"
    }
  }
}"#;

const TABLEAU_TEMPLATE: &str = r#"{
  "sub": "%globals_user_attribute_email%",
  "scp": ["tableau:views:embed"]
}"#;

impl Preset {
    /// Every preset, in the order forms list them.
    pub const ALL: [Preset; 6] = [
        Preset::Matrix,
        Preset::RealmSync,
        Preset::Zendesk,
        Preset::Metabase,
        Preset::Jitsi,
        Preset::Tableau,
    ];

    /// Parse the API name (`matrix`, `realm`, `zendesk`, `metabase`, `jitsi`, `tableau`).
    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Matrix => "matrix",
            Preset::RealmSync => "realm",
            Preset::Zendesk => "zendesk",
            Preset::Metabase => "metabase",
            Preset::Jitsi => "jitsi",
            Preset::Tableau => "tableau",
        }
    }

    /// A human label for forms.
    pub fn label(self) -> &'static str {
        match self {
            Preset::Matrix => "Matrix homeserver JWT login",
            Preset::RealmSync => "Realm-style sync server (JWT provider)",
            Preset::Zendesk => "Zendesk SSO",
            Preset::Metabase => "Metabase SSO",
            Preset::Jitsi => "Jitsi Meet",
            Preset::Tableau => "Tableau connected app (direct trust)",
        }
    }

    /// The names as text, for messages.
    pub fn names_text() -> String {
        let names: Vec<&str> = Preset::ALL.into_iter().map(Preset::name).collect();
        names.join(", ")
    }

    /// The algorithm a new asset gets.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Preset::RealmSync => Algorithm::RS256,
            _ => Algorithm::HS256,
        }
    }

    /// The payload template a new asset gets.
    pub fn template(self) -> &'static str {
        match self {
            Preset::Matrix => MATRIX_TEMPLATE,
            Preset::RealmSync => REALM_TEMPLATE,
            Preset::Zendesk => ZENDESK_TEMPLATE,
            Preset::Metabase => METABASE_TEMPLATE,
            Preset::Jitsi => JITSI_TEMPLATE,
            Preset::Tableau => TABLEAU_TEMPLATE,
        }
    }

    /// Where a consumer that holds exactly one public key (no JWKS) keeps it, for the two-step
    /// rotation the keys panel spells out; `None` when the consumer reads a JWKS or a secret.
    pub fn pinned_key_place(self) -> Option<&'static str> {
        match self {
            Preset::Matrix => {
                Some("the homeserver's jwt_config (secret: the PEM, algorithm: RS256)")
            }
            Preset::RealmSync => {
                Some("the sync server's JWT authentication provider (its public key)")
            }
            _ => None,
        }
    }

    /// Whether the consumer needs a unique `jti`.
    pub fn needs_jti(self) -> bool {
        matches!(self, Preset::Zendesk | Preset::Tableau)
    }

    /// The `aud` the consumer expects, when it is fixed.
    pub fn audience(self) -> Option<&'static str> {
        match self {
            Preset::Jitsi => Some("jitsi"),
            Preset::Tableau => Some("tableau"),
            _ => None,
        }
    }
}
