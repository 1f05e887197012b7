//! Sealing and opening secret values: the only place where plaintext becomes
//! ciphertext.
//!
//! Every secret column holds an envelope:
//!
//! ```text
//! format version (1 byte) | key version (u32, big-endian) | nonce (24 bytes) | ciphertext + tag (16 bytes)
//! ```
//!
//! The cipher is XChaCha20-Poly1305 with a fresh random 192-bit nonce per write,
//! so random nonces never collide in practice. The associated data binds the
//! envelope to its place: format version, table, column, row id and key version,
//! each length-prefixed. A ciphertext copied to another row or column, or with
//! its header edited, fails authentication and is reported as a
//! [`OpenError::Authentication`], never returned as garbage.
//!
//! Keys are versioned. The [`Keyring`] holds every loaded master key; the
//! highest version is active and seals new values, older ones only open. From
//! each master key two subkeys are derived with HMAC-SHA256 under fixed labels:
//! one seals, the other produces the key-check value the database stores so a
//! wrong key is caught at connect.

use std::collections::BTreeMap;
use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The envelope format written today.
pub const FORMAT_VERSION: u8 = 1;
/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes before the ciphertext: format version, key version, nonce.
pub const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const SEAL_KEY_LABEL: &[u8] = b"pinion/v1/seal-key";
const CHECK_LABEL: &[u8] = b"pinion/v1/key-check";
const MAC_KEY_LABEL: &[u8] = b"pinion/v1/mac-key";
const AAD_LABEL: &[u8] = b"pinion-sealed-value";

/// A key version: a positive integer; the highest loaded one is active.
pub type KeyVersion = u32;

/// Where a sealed value lives; all of it goes into the associated data.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// Table name, e.g. `credentials`.
    pub table: &'static str,
    /// Column name, e.g. `client_secret`.
    pub column: &'static str,
    /// The row's id.
    pub row_id: &'a str,
}

/// Why an envelope could not be opened. No variant carries any part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than the smallest possible envelope.
    #[error("the sealed value is truncated")]
    Truncated,
    /// A format version this build does not know.
    #[error("unknown envelope format {0}")]
    UnknownFormat(u8),
    /// Sealed under a key version that is not loaded.
    #[error("sealed under key version {0}, which is not loaded")]
    UnknownKey(KeyVersion),
    /// The tag did not verify: the value was altered, moved from another row
    /// or column, or sealed under a different key with the same version.
    #[error("authentication failed (altered, moved, or sealed under another key)")]
    Authentication,
}

impl OpenError {
    /// A short reason for error messages.
    pub fn reason(self) -> String {
        match self {
            OpenError::Authentication => {
                "authentication failed (altered, moved from another record or field, or wrong key)"
                    .to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// One master key version and the subkeys derived from it.
struct KeyEntry {
    seal_key: SecretBox<[u8; KEY_LEN]>,
    /// The key of [`Keyring::mac`], a subkey of its own so a MAC never
    /// reveals anything about the seal key.
    mac_key: SecretBox<[u8; KEY_LEN]>,
    check_value: [u8; 32],
}

impl KeyEntry {
    fn derive(master: &[u8; KEY_LEN]) -> Self {
        let seal = hmac_sha256(master, SEAL_KEY_LABEL);
        let mac = hmac_sha256(master, MAC_KEY_LABEL);
        let check_value = *hmac_sha256(master, CHECK_LABEL);
        Self {
            seal_key: SecretBox::new(Box::new(*seal)),
            mac_key: SecretBox::new(Box::new(*mac)),
            check_value,
        }
    }

    /// HMAC-SHA256 under the MAC subkey of `purpose`, a zero byte, then `message`.
    fn mac(&self, purpose: &str, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.mac_key.expose_secret())
            .expect("HMAC accepts any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        mac
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.seal_key.expose_secret().into())
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Every loaded master key, by version. The highest version is active.
///
/// Key bytes live in zeroizing boxes and never appear in `Debug` output, which
/// shows only the versions.
pub struct Keyring {
    keys: BTreeMap<KeyVersion, KeyEntry>,
}

impl Keyring {
    /// Builds a keyring from `(version, key)` pairs. Versions must be positive and
    /// distinct; at least one key is required.
    pub fn from_keys(
        keys: impl IntoIterator<Item = (KeyVersion, Zeroizing<[u8; KEY_LEN]>)>,
    ) -> Result<Self, crate::keys::KeyError> {
        use crate::keys::KeyError;
        let mut map = BTreeMap::new();
        for (version, key) in keys {
            if version == 0 {
                return Err(KeyError::Invalid(
                    "key versions start at 1 (found version 0)".into(),
                ));
            }
            if map.insert(version, KeyEntry::derive(&key)).is_some() {
                return Err(KeyError::Invalid(format!(
                    "key version {version} is given more than once"
                )));
            }
        }
        if map.is_empty() {
            return Err(KeyError::Invalid("no key is given".into()));
        }
        Ok(Self { keys: map })
    }

    /// A keyring with one fresh random key as version 1.
    pub fn generate() -> Self {
        let key = random_key();
        Self::from_keys([(1, key)]).expect("one key of version 1 is a valid keyring")
    }

    /// A copy of this keyring. Keyrings are not `Clone`, so copies of key
    /// material are made only here, on purpose.
    pub(crate) fn duplicate(&self) -> Keyring {
        let keys = self
            .keys
            .iter()
            .map(|(version, entry)| {
                (
                    *version,
                    KeyEntry {
                        seal_key: SecretBox::new(Box::new(*entry.seal_key.expose_secret())),
                        mac_key: SecretBox::new(Box::new(*entry.mac_key.expose_secret())),
                        check_value: entry.check_value,
                    },
                )
            })
            .collect();
        Keyring { keys }
    }

    /// The version that seals new values: the highest loaded.
    pub fn active_version(&self) -> KeyVersion {
        *self
            .keys
            .keys()
            .next_back()
            .expect("a keyring always holds at least one key")
    }

    /// Every loaded version, lowest first.
    pub fn versions(&self) -> Vec<KeyVersion> {
        self.keys.keys().copied().collect()
    }

    /// True when `version` is loaded.
    pub fn contains(&self, version: KeyVersion) -> bool {
        self.keys.contains_key(&version)
    }

    /// The key-check value of `version`: an HMAC of a fixed label under a key
    /// derived from the master key. Stored in the database to detect a wrong key;
    /// it reveals nothing about the key.
    pub fn check_value(&self, version: KeyVersion) -> Option<[u8; 32]> {
        self.keys.get(&version).map(|entry| entry.check_value)
    }

    /// A MAC of `message` for `purpose` under a subkey of the active key, and
    /// that key's version (to give back to [`Keyring::verify_mac`]). Every
    /// process holding the same keys computes the same MAC, so a value signed
    /// by one replica verifies at another and after a restart.
    pub fn mac(&self, purpose: &str, message: &[u8]) -> (KeyVersion, [u8; 32]) {
        let version = self.active_version();
        let tag = self.keys[&version]
            .mac(purpose, message)
            .finalize()
            .into_bytes()
            .into();
        (version, tag)
    }

    /// True when `tag` is the MAC of `message` for `purpose` under key
    /// `version` (compared in constant time); false when that version is
    /// not loaded.
    pub fn verify_mac(
        &self,
        purpose: &str,
        version: KeyVersion,
        message: &[u8],
        tag: &[u8],
    ) -> bool {
        self.keys
            .get(&version)
            .is_some_and(|entry| entry.mac(purpose, message).verify_slice(tag).is_ok())
    }

    /// Seals `plaintext` for `location` under the active key.
    pub fn seal(&self, location: Location<'_>, plaintext: &[u8]) -> Vec<u8> {
        let version = self.active_version();
        let entry = &self.keys[&version];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(FORMAT_VERSION, location, version);
        let ciphertext = entry
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any input shorter than 256 GiB");
        let mut envelope = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        envelope.push(FORMAT_VERSION);
        envelope.extend_from_slice(&version.to_be_bytes());
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(&ciphertext);
        envelope
    }

    /// Opens an envelope sealed for `location`. Fails unless the envelope was
    /// sealed for exactly this table, column and row under a loaded key and is
    /// unaltered.
    pub fn open(
        &self,
        location: Location<'_>,
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if envelope.len() < OVERHEAD {
            return Err(OpenError::Truncated);
        }
        let format = envelope[0];
        if format != FORMAT_VERSION {
            return Err(OpenError::UnknownFormat(format));
        }
        let version = envelope_key_version(envelope).ok_or(OpenError::Truncated)?;
        let entry = self
            .keys
            .get(&version)
            .ok_or(OpenError::UnknownKey(version))?;
        let nonce = XNonce::from_slice(&envelope[5..HEADER_LEN]);
        let aad = associated_data(format, location, version);
        entry
            .cipher()
            .decrypt(
                nonce,
                Payload {
                    msg: &envelope[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Authentication)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.versions())
            .field("active", &self.active_version())
            .field("keys", &"[REDACTED]")
            .finish()
    }
}

/// Reads the key version from an envelope's header without opening it.
pub fn envelope_key_version(envelope: &[u8]) -> Option<KeyVersion> {
    let bytes: [u8; 4] = envelope.get(1..5)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// A fresh random 32-byte key from the operating system's CSPRNG.
pub fn random_key() -> Zeroizing<[u8; KEY_LEN]> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    key
}

/// The associated data: a label, then format version, table, column and row id
/// each prefixed with its length, then the key version.
fn associated_data(format: u8, location: Location<'_>, version: KeyVersion) -> Vec<u8> {
    let mut aad = Vec::with_capacity(
        AAD_LABEL.len() + 1 + 12 + location.table.len() + location.column.len() + 40 + 4,
    );
    aad.extend_from_slice(AAD_LABEL);
    aad.push(format);
    for part in [location.table, location.column, location.row_id] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HERE: Location<'static> = Location {
        table: "credentials",
        column: "client_secret",
        row_id: "cred_0001",
    };

    fn keyring(versions: &[(u32, u8)]) -> Keyring {
        Keyring::from_keys(
            versions
                .iter()
                .map(|(v, fill)| (*v, Zeroizing::new([*fill; KEY_LEN]))),
        )
        .unwrap()
    }

    #[test]
    fn sealed_value_opens_at_its_own_location_only() {
        let ring = keyring(&[(1, 7)]);
        let sealed = ring.seal(HERE, b"marker-secret");
        assert_eq!(
            ring.open(HERE, &sealed).unwrap().as_slice(),
            b"marker-secret"
        );
        let other_row = Location {
            row_id: "cred_0002",
            ..HERE
        };
        let other_column = Location {
            column: "access_token",
            ..HERE
        };
        let other_table = Location {
            table: "oauth_flows",
            ..HERE
        };
        for location in [other_row, other_column, other_table] {
            assert_eq!(ring.open(location, &sealed), Err(OpenError::Authentication));
        }
    }

    #[test]
    fn length_prefixes_keep_location_parts_from_sliding_into_each_other() {
        let ring = keyring(&[(1, 7)]);
        let a = Location {
            table: "credentials",
            column: "ab",
            row_id: "c",
        };
        let b = Location {
            table: "credentials",
            column: "a",
            row_id: "bc",
        };
        let sealed = ring.seal(a, b"x");
        assert_eq!(ring.open(b, &sealed), Err(OpenError::Authentication));
    }

    #[test]
    fn envelope_header_names_format_and_active_key_version() {
        let ring = keyring(&[(1, 1), (3, 3)]);
        let sealed = ring.seal(HERE, b"abc");
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(envelope_key_version(&sealed), Some(3));
        assert_eq!(sealed.len(), 3 + OVERHEAD);
    }

    #[test]
    fn older_key_versions_still_open_and_unknown_ones_are_named() {
        let old = keyring(&[(1, 1)]);
        let sealed = old.seal(HERE, b"abc");
        let both = keyring(&[(1, 1), (2, 2)]);
        assert_eq!(both.open(HERE, &sealed).unwrap().as_slice(), b"abc");
        let only_new = keyring(&[(2, 2)]);
        assert_eq!(only_new.open(HERE, &sealed), Err(OpenError::UnknownKey(1)));
    }

    #[test]
    fn rewriting_the_key_version_in_the_header_fails_authentication() {
        // Same key bytes under two versions: only the AAD can tell them apart.
        let ring = keyring(&[(1, 9), (2, 9)]);
        let mut sealed = ring.seal(HERE, b"abc");
        sealed[1..5].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(ring.open(HERE, &sealed), Err(OpenError::Authentication));
    }

    #[test]
    fn wrong_key_with_the_same_version_fails_authentication() {
        let sealed = keyring(&[(1, 1)]).seal(HERE, b"abc");
        assert_eq!(
            keyring(&[(1, 2)]).open(HERE, &sealed),
            Err(OpenError::Authentication)
        );
    }

    #[test]
    fn truncated_and_unknown_format_envelopes_are_refused() {
        let ring = keyring(&[(1, 1)]);
        let sealed = ring.seal(HERE, b"");
        assert_eq!(
            ring.open(HERE, &sealed[..sealed.len() - 1]),
            Err(OpenError::Truncated)
        );
        assert_eq!(ring.open(HERE, &[]), Err(OpenError::Truncated));
        let mut future = sealed.clone();
        future[0] = 2;
        assert_eq!(ring.open(HERE, &future), Err(OpenError::UnknownFormat(2)));
    }

    #[test]
    fn check_values_differ_per_key_and_are_stable() {
        let a = keyring(&[(1, 1), (2, 2)]);
        let b = keyring(&[(1, 1)]);
        assert_eq!(a.check_value(1), b.check_value(1));
        assert_ne!(a.check_value(1), a.check_value(2));
        assert_eq!(b.check_value(2), None);
    }

    #[test]
    fn keyring_debug_shows_versions_but_no_key_bytes() {
        let ring = keyring(&[(1, 0xAB), (2, 0xCD)]);
        let output = format!("{ring:?} {ring:#?}");
        assert!(output.contains("[REDACTED]"), "{output}");
        assert!(output.contains("active: 2"), "{output}");
        for needle in ["171", "205", "ab, ab", "AB", "0xab"] {
            assert!(!output.contains(needle), "{output}");
        }
    }

    #[test]
    fn keyring_refuses_version_zero_duplicates_and_emptiness() {
        let key = || Zeroizing::new([0u8; KEY_LEN]);
        assert!(Keyring::from_keys([(0, key())]).is_err());
        assert!(Keyring::from_keys([(1, key()), (1, key())]).is_err());
        assert!(Keyring::from_keys(Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn any_plaintext_round_trips_and_two_seals_differ(
            plaintext in proptest::collection::vec(any::<u8>(), 0..600),
            row in "[a-z0-9_]{1,40}",
        ) {
            let ring = keyring(&[(1, 5), (2, 6)]);
            let location = Location { row_id: &row, ..HERE };
            let first = ring.seal(location, &plaintext);
            let second = ring.seal(location, &plaintext);
            prop_assert_ne!(&first, &second);
            let opened_first = ring.open(location, &first).unwrap();
            let opened_second = ring.open(location, &second).unwrap();
            prop_assert_eq!(opened_first.as_slice(), plaintext.as_slice());
            prop_assert_eq!(opened_second.as_slice(), plaintext.as_slice());
        }

        #[test]
        fn any_single_bit_flip_is_rejected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..100),
            bit in any::<prop::sample::Index>(),
        ) {
            let ring = keyring(&[(1, 5), (2, 6)]);
            let mut sealed = ring.seal(HERE, &plaintext);
            let bit = bit.index(sealed.len() * 8);
            sealed[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(ring.open(HERE, &sealed).is_err());
        }

        #[test]
        fn any_truncation_is_rejected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..100),
            cut in any::<prop::sample::Index>(),
        ) {
            let ring = keyring(&[(1, 5)]);
            let sealed = ring.seal(HERE, &plaintext);
            let cut = cut.index(sealed.len());
            prop_assert!(ring.open(HERE, &sealed[..cut]).is_err());
        }

        #[test]
        fn a_value_moved_to_another_row_never_opens(
            row_a in "[a-z0-9]{1,20}",
            row_b in "[a-z0-9]{1,20}",
        ) {
            prop_assume!(row_a != row_b);
            let ring = keyring(&[(1, 5)]);
            let sealed = ring.seal(Location { row_id: &row_a, ..HERE }, b"secret-a");
            prop_assert_eq!(
                ring.open(Location { row_id: &row_b, ..HERE }, &sealed),
                Err(OpenError::Authentication)
            );
        }
    }
}
