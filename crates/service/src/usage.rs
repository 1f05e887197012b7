//! Where a credential is used (issue 6): the sources and destinations that
//! read or write with it, and the latest runs of those sources, for the
//! credential information screen and `GET /api/v1/credentials/{id}/usage`.
//!
//! The owner (and an admin) sees every source and destination using the
//! credential, whoever made it, each with its owner's username, so the
//! owner knows what a change, a withdrawn share or a deletion affects. A
//! collaborator sees only their own. Runs are only ever the caller's own:
//! another user's runs stay theirs, as their run pages do.

use std::collections::HashMap;

use pinion_domain::{CredentialId, User, UserId, Username};
use pinion_store::{DestinationRecord, RunRecord, SourceRecord};

use crate::credentials::Access;
use crate::{Credentials, ServiceError};

/// Runs listed on the credential information screen.
pub const USAGE_RUNS_LISTED: u32 = 10;

/// The most runs one usage call returns.
pub const MAX_USAGE_RUNS: u32 = 100;

/// A source using a credential, with its owner's username.
#[derive(Debug, Clone)]
pub struct SourceUse {
    /// The source.
    pub source: SourceRecord,
    /// Its owner's username.
    pub owner_username: Username,
}

/// A destination using a credential, with its owner's username.
#[derive(Debug, Clone)]
pub struct DestinationUse {
    /// The destination.
    pub destination: DestinationRecord,
    /// Its owner's username.
    pub owner_username: Username,
}

/// What uses a credential, as one user may see it.
#[derive(Debug, Clone)]
pub struct CredentialUsage {
    /// The sources reading with it, by name.
    pub sources: Vec<SourceUse>,
    /// The destinations writing with it, by name.
    pub destinations: Vec<DestinationUse>,
    /// The latest runs of the caller's sources among them, newest first.
    pub recent_runs: Vec<RunRecord>,
}

impl Credentials {
    /// What uses credential `id`, with at most `runs` recent runs (capped at
    /// [`MAX_USAGE_RUNS`]). The owner and admins see every source and
    /// destination; a collaborator of an active share only their own;
    /// anyone else gets `NotFound`, as for an unknown id.
    pub async fn usage(
        &self,
        actor: &User,
        id: &CredentialId,
        runs: u32,
    ) -> Result<CredentialUsage, ServiceError> {
        let (record, everyone) = match self.authorized(&actor.into(), id, Access::Read).await {
            Ok(record) => (record.credential, true),
            // An active collaborator: they may use it, not see its settings.
            Err(ServiceError::Forbidden(_)) => (self.usable_by(actor, id).await?, false),
            Err(err) => return Err(err),
        };
        let visible = |owner: &UserId| everyone || *owner == actor.id;
        let credential_id = &record.id;
        let sources: Vec<SourceRecord> = self
            .web
            .sources_using_credential(credential_id)
            .await?
            .into_iter()
            .filter(|source| visible(&source.owner))
            .collect();
        let destinations: Vec<DestinationRecord> = self
            .web
            .destinations_using_credential(credential_id)
            .await?
            .into_iter()
            .filter(|destination| visible(&destination.owner))
            .collect();
        let mut usernames: HashMap<UserId, Username> = HashMap::new();
        usernames.insert(actor.id.clone(), actor.username.clone());
        for owner in sources
            .iter()
            .map(|s| &s.owner)
            .chain(destinations.iter().map(|d| &d.owner))
        {
            if !usernames.contains_key(owner) {
                let user = self.users.get_user(owner).await?;
                usernames.insert(owner.clone(), user.username);
            }
        }
        let recent_runs = self
            .runs
            .runs_using_credential(credential_id, &actor.id, runs.min(MAX_USAGE_RUNS))
            .await?;
        Ok(CredentialUsage {
            sources: sources
                .into_iter()
                .map(|source| SourceUse {
                    owner_username: usernames[&source.owner].clone(),
                    source,
                })
                .collect(),
            destinations: destinations
                .into_iter()
                .map(|destination| DestinationUse {
                    owner_username: usernames[&destination.owner].clone(),
                    destination,
                })
                .collect(),
            recent_runs,
        })
    }
}
