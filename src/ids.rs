//! Typed record ids and random-token helpers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing is unrecoverable and rare enough that aborting the request is right.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// `N` random bytes as unpadded base64url text.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id (96 bits, base64url).
            pub fn generate() -> Self {
                $name(random_token::<12>())
            }
            /// Wrap an id read from storage or a URL.
            pub fn from_string(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// Identifies an asset.
    AssetId
);
typed_id!(
    /// Identifies a user.
    UserId
);
typed_id!(
    /// Identifies an API key (not the key itself).
    ApiKeyId
);
