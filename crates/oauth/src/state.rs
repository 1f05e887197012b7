//! Helpers the flow store uses to keep and check a flow's `state` without
//! holding it: a SHA-256 hash to look the flow up by, and constant-time
//! comparison for values that must match a secret.
//!
//! A plain (unkeyed) hash is enough here: the state has 256 random bits, so
//! its hash cannot be reversed or guessed, and the database never sees the
//! state itself.

use pinion_domain::OAuthState;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The lowercase hex SHA-256 of a flow's `state` (64 characters). Not a
/// secret: store it and look flows up by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateHash(String);

impl StateHash {
    /// The hash as 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a hash read back from Pinion's own store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// True when `state` hashes to this value, compared in constant time.
    pub fn matches(&self, state: &OAuthState) -> bool {
        constant_time_eq(self.0.as_bytes(), state_hash(state).0.as_bytes())
    }
}

impl std::fmt::Display for StateHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes a flow's `state` for storage and lookup.
pub fn state_hash(state: &OAuthState) -> StateHash {
    StateHash(hex::encode(Sha256::digest(
        state.expose_secret().as_bytes(),
    )))
}

/// Compares two byte strings in time that depends only on their lengths, for
/// secrets such as a state or a cookie binding value.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // `subtle` returns false for different lengths without looking at the
    // contents; lengths of these values are not secret.
    a.ct_eq(b).into()
}

/// Compares two states in constant time.
pub fn states_match(a: &OAuthState, b: &OAuthState) -> bool {
    constant_time_eq(a.expose_secret().as_bytes(), b.expose_secret().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_hash_is_hex_sha256_of_the_state() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        let hash = state_hash(&OAuthState::new("abc"));
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn state_hash_matches_only_its_own_state() {
        let state = OAuthState::random();
        let hash = state_hash(&state);
        assert!(hash.matches(&state));
        assert!(!hash.matches(&OAuthState::random()));
        assert_eq!(hash.as_str().len(), 64);
        assert!(!hash.as_str().contains(state.expose_secret()));
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same-but-longer"));
        assert!(constant_time_eq(b"", b""));
        assert!(states_match(&OAuthState::new("x1"), &OAuthState::new("x1")));
        assert!(!states_match(
            &OAuthState::new("x1"),
            &OAuthState::new("x2")
        ));
    }
}
