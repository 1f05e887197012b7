//! The encryption keys that seal secrets at rest, for the operator: which
//! versions protect how many values, online rotation to a new key, and
//! retiring an old one. Only [`Actor::Operator`] may: a user of the server
//! never manages keys.

use std::path::PathBuf;
use std::sync::Arc;

use pinion_domain::record::KeyringStatus;
use pinion_store::KeyStore;
use secrecy::SecretString;

use crate::activity::Actor;
use crate::{ServiceError, StoreSettings};

const OPERATOR_ONLY: &str = "only the operator (the local `pinion` command) manages keys";

/// Key management on one store.
#[derive(Debug, Clone)]
pub struct Keys {
    store: Arc<dyn KeyStore>,
}

/// What adding a key version did.
#[derive(Debug)]
pub enum AddedKey {
    /// Version `version` was appended to the key file `file`.
    Added {
        /// The new version.
        version: u32,
        /// The key file.
        file: PathBuf,
    },
    /// The keys come from a source Pinion cannot edit (an environment
    /// variable): the operator must add `entry` to it themselves.
    AddByHand {
        /// Where the keys come from.
        source: String,
        /// The new entry (a secret: show it to the operator only).
        entry: SecretString,
    },
}

/// Adds a new key version to the key source of `store`, before a rotation
/// (the store is opened after, so the new version is loaded and active).
pub fn add_key_version(actor: &Actor, store: &StoreSettings) -> Result<AddedKey, ServiceError> {
    if *actor != Actor::Operator {
        return Err(ServiceError::Forbidden(OPERATOR_ONLY));
    }
    let keys = store.key_source()?;
    match keys.file() {
        Some(file) => {
            let version = pinion_store::keys::add_key_version(file)
                .map_err(|err| ServiceError::Store(err.into()))?;
            Ok(AddedKey::Added {
                version,
                file: file.to_owned(),
            })
        }
        None => {
            let current = keys.load().map_err(|err| ServiceError::Store(err.into()))?;
            Ok(AddedKey::AddByHand {
                source: keys.describe(),
                entry: pinion_store::keys::new_key_entry(current.active_version() + 1),
            })
        }
    }
}

impl Keys {
    /// Works on `store`.
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self { store }
    }

    fn operator_only(actor: &Actor) -> Result<(), ServiceError> {
        if *actor == Actor::Operator {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(OPERATOR_ONLY))
        }
    }

    /// The active version and how many sealed values each version protects.
    pub async fn status(&self, actor: &Actor) -> Result<KeyringStatus, ServiceError> {
        Self::operator_only(actor)?;
        Ok(self.store.keyring_status().await?)
    }

    /// Re-seals every value still under an older key with the active one, in
    /// transactions of `batch_size` records, calling `progress` after each;
    /// returns how many were rewritten. Safe to interrupt and call again.
    pub async fn rotate(
        &self,
        actor: &Actor,
        batch_size: usize,
        progress: impl FnMut(usize) + Send,
    ) -> Result<usize, ServiceError> {
        Self::operator_only(actor)?;
        Ok(pinion_store::reencrypt_all(&*self.store, batch_size, progress).await?)
    }

    /// Forgets key `version`; refused while a sealed value uses it or while
    /// it is the newest.
    pub async fn retire(&self, actor: &Actor, version: u32) -> Result<(), ServiceError> {
        Self::operator_only(actor)?;
        Ok(self.store.retire_key(version).await?)
    }
}
