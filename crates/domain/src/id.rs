//! Opaque identifiers.
//!
//! Ids that appear in URLs are 128 random bits, so knowing one id tells nothing
//! about another and ids cannot be enumerated. Each kind has its own prefix
//! (`cred_`, `user_`, `flow_`, `src_`, `dst_`, `run_`, `pub_`, `tok_`, `whk_`, `msg_`), which makes a
//! pasted id self-describing and lets parsing refuse an id of the wrong kind.
//! An API token's id is the exception to the randomness: it is `tok_` and the
//! first 8 bytes of the token's SHA-256 in hex, derived by the store, since the
//! token itself is never kept.

use std::fmt;
use std::str::FromStr;

use crate::validation::FieldError;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        id_type!($(#[$meta])* $name, $prefix, 32);
    };
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $digits:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                use rand::RngCore;
                let mut bytes = [0u8; $digits / 2];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let mut text = String::with_capacity(Self::PREFIX.len() + $digits);
                text.push_str(Self::PREFIX);
                for byte in bytes {
                    text.push_str(&format!("{byte:02x}"));
                }
                Self(text)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from Pinion's own store, which only ever
            /// holds ids made by [`Self::generate`].
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl FromStr for $name {
            type Err = FieldError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let valid = s
                    .strip_prefix(Self::PREFIX)
                    .is_some_and(|rest| {
                        rest.len() == $digits
                            && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    });
                if valid {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(FieldError::new(
                        "id",
                        concat!(
                            "is not a valid id (expected `", $prefix, "` and ", $digits,
                            " hex digits)"
                        ),
                    ))
                }
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// Identifies a credential.
    CredentialId,
    "cred_"
);
id_type!(
    /// Identifies a Pinion user.
    UserId,
    "user_"
);
id_type!(
    /// Identifies one authorization flow.
    FlowId,
    "flow_"
);

id_type!(
    /// Identifies a webhook endpoint (issue 14).
    WebhookId,
    "whk_"
);

id_type!(
    /// Identifies one webhook message to one endpoint: the Standard Webhooks
    /// `webhook-id`, the same on every retry.
    MessageId,
    "msg_"
);

id_type!(
    /// Identifies a data source.
    SourceId,
    "src_"
);
id_type!(
    /// Identifies a destination (a board pins are published to).
    DestinationId,
    "dst_"
);
id_type!(
    /// Identifies one run of a data source.
    RunId,
    "run_"
);
id_type!(
    /// Identifies one publish from a destination's page.
    PublishId,
    "pub_"
);
id_type!(
    /// Identifies an API token to its owner: `tok_` and the first 8 bytes of
    /// the token's SHA-256 in hex (the store derives it; the token itself is
    /// never kept).
    ApiTokenId,
    "tok_",
    16
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let a = CredentialId::generate();
        let b = CredentialId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().parse::<CredentialId>().unwrap(), a);
        assert_eq!(a.as_str().len(), 5 + 32);
    }

    #[test]
    fn ids_of_another_kind_or_malformed_are_refused() {
        let user = UserId::generate();
        assert!(user.as_str().parse::<CredentialId>().is_err());
        for bad in [
            "",
            "cred_",
            "cred_XYZ",
            "cred_../../etc",
            "1",
            "cred_0123456789abcdef0123456789ABCDEF",
        ] {
            assert!(bad.parse::<CredentialId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn json_deserialization_validates_ids() {
        assert!(serde_json::from_str::<CredentialId>("\"cred_nope\"").is_err());
        let id = CredentialId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<CredentialId>(&json).unwrap(), id);
    }
}
