//! One newtype per kind of secret.
//!
//! Each wraps [`secrecy::SecretString`], so its memory is zeroized on drop. The
//! types have a redacting `Debug`, no `Display`, no `Serialize` and no
//! `PartialEq`; the only way to the value is an explicit `expose_secret()`, which
//! makes every use easy to find in review. Plaintext becomes ciphertext only in
//! the store's crypto module.

use secrecy::{ExposeSecret, SecretString};

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The secret value. Call only where the value must leave Pinion
            /// (an HTTP request to Pinterest) or be sealed by the store.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// True when the value is empty.
            pub fn is_empty(&self) -> bool {
                self.0.expose_secret().is_empty()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        // A secret is never serialized, printed or compared by accident.
        static_assertions::assert_not_impl_any!(
            $name: serde::Serialize,
            std::fmt::Display,
            PartialEq,
            PartialEq<str>,
            PartialEq<String>,
        );
    };
}

secret_type!(
    /// An OAuth app's client secret: write-only, stored sealed, never shown again.
    ClientSecret
);
secret_type!(
    /// A Pinterest access token (`pina…`).
    AccessToken
);
secret_type!(
    /// A Pinterest refresh token (`pinr…`); continuous refresh rotates it.
    RefreshToken
);
secret_type!(
    /// A one-time authorization code from Pinterest's redirect.
    AuthorizationCode
);
secret_type!(
    /// The `state` of one authorization flow; only its hash is stored.
    OAuthState
);
secret_type!(
    /// A PKCE code verifier (RFC 7636), kept sealed with its flow.
    PkceVerifier
);
secret_type!(
    /// A Pinion API token for `Authorization: Bearer`; only its hash is stored.
    ApiToken
);
secret_type!(
    /// A Pinion user's password; only its argon2 hash is stored.
    Password
);

secret_type!(
    /// A webhook endpoint's signing secret, `whsec_` and the base64 of the
    /// HMAC key (Standard Webhooks): shown once, stored sealed.
    WebhookSecret
);

/// Fills `len` random bytes from the operating system's CSPRNG and encodes them
/// as unpadded base64url.
pub fn random_urlsafe(len: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64url(&bytes)
}

/// Unpadded base64url, the alphabet of RFC 4648 §5.
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl OAuthState {
    /// A fresh state of 256 random bits (43 base64url characters), above the
    /// 2^-160 guessing bound of RFC 6749 §10.10.
    pub fn random() -> Self {
        Self::new(random_urlsafe(32))
    }
}

impl PkceVerifier {
    /// A fresh verifier of 32 random bytes, 43 base64url characters (RFC 7636 §4.1).
    pub fn random() -> Self {
        Self::new(random_urlsafe(32))
    }
}

impl ApiToken {
    /// A fresh API token: the `pin_` prefix (so leaked tokens are recognisable)
    /// and 256 random bits.
    pub fn random() -> Self {
        Self::new(format!("pin_{}", random_urlsafe(32)))
    }
}

impl WebhookSecret {
    /// The prefix Standard Webhooks gives every signing secret.
    pub const PREFIX: &'static str = "whsec_";

    /// A fresh secret: `whsec_` and the standard base64 of 32 random bytes
    /// (the specification asks for 24 to 64).
    pub fn random() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut key = secrecy::zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut *key);
        let encoded = base64::engine::general_purpose::STANDARD.encode(*key);
        Self::new(format!("{}{encoded}", Self::PREFIX))
    }

    /// The HMAC key: the base64-decoded part after `whsec_`; `None` when the
    /// value is not such a secret.
    pub fn key(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let encoded = self.expose_secret().strip_prefix(Self::PREFIX)?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|key| !key.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_every_secret_type_is_redacted() {
        let marker = "CANARY-secret-value-7f3a";
        let outputs = [
            format!("{:?}", ClientSecret::new(marker)),
            format!("{:?}", AccessToken::new(marker)),
            format!("{:?}", RefreshToken::new(marker)),
            format!("{:?}", AuthorizationCode::new(marker)),
            format!("{:?}", WebhookSecret::new(marker)),
            format!("{:?}", OAuthState::new(marker)),
            format!("{:?}", PkceVerifier::new(marker)),
            format!("{:?}", ApiToken::new(marker)),
            format!("{:?}", Password::new(marker)),
        ];
        for output in outputs {
            assert!(!output.contains(marker), "{output}");
            assert!(output.ends_with("([REDACTED])"), "{output}");
        }
    }

    #[test]
    fn debug_of_a_struct_holding_secrets_is_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            secret: ClientSecret,
            token: Option<RefreshToken>,
        }
        let holder = Holder {
            secret: ClientSecret::new("CANARY-1"),
            token: Some(RefreshToken::new("CANARY-2")),
        };
        let output = format!("{holder:?} {holder:#?}");
        assert!(!output.contains("CANARY"), "{output}");
    }

    #[test]
    fn random_state_and_verifier_have_256_bits_in_43_characters() {
        let state = OAuthState::random();
        let verifier = PkceVerifier::random();
        assert_eq!(state.expose_secret().len(), 43);
        assert_eq!(verifier.expose_secret().len(), 43);
        assert_ne!(state.expose_secret(), OAuthState::random().expose_secret());
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors_without_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
