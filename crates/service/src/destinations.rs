//! Destinations (issue 6): a Pinterest board that pins are published to, and
//! the credential that writes there. The board is picked from the boards the
//! credential's account has, read from Pinterest when the form is shown and
//! checked again when the destination is stored. Only the owner sees a
//! destination, and only a credential the creator owns or one shared with
//! them can be used.

use std::sync::Arc;

use futures::StreamExt;
use pinion_domain::{CredentialId, DestinationId, FieldError, User, ValidationErrors};
use pinion_pinterest::{BoardsQuery, ClientConfig, PageRequest, PinterestClient};
use pinion_store::{DestinationRecord, Store, WebStateStore};

use crate::{Credentials, ServiceError, TokenManager};

/// Boards read for the picker, at most.
const MAX_BOARDS: usize = 500;

/// A board the user can pick.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoardChoice {
    /// The board's id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A new destination as typed in a form.
#[derive(Debug, Clone, Default)]
pub struct DestinationInput {
    /// A name for people.
    pub name: String,
    /// The credential to write with.
    pub credential_id: String,
    /// The board to publish to.
    pub board_id: String,
}

/// Destination management, and the boards a credential can publish to.
#[derive(Debug, Clone)]
pub struct Destinations {
    pub(crate) store: Arc<dyn WebStateStore>,
    /// The publish ledger, so a pin is created once.
    pub(crate) ledger: Arc<dyn pinion_store::SyncStateStore>,
    pub(crate) credentials: Credentials,
    pub(crate) tokens: Arc<TokenManager>,
    pub(crate) pinterest: ClientConfig,
}

impl Destinations {
    /// Reads boards through `tokens` with the client configuration `pinterest`.
    pub fn new(store: Arc<dyn Store>, tokens: Arc<TokenManager>, pinterest: ClientConfig) -> Self {
        Self {
            credentials: Credentials::new(store.clone()),
            ledger: store.clone(),
            store,
            tokens,
            pinterest,
        }
    }

    /// The boards of the account behind credential `credential_id`, which
    /// `actor` must be able to use. A failure to reach Pinterest is `Unavailable` with
    /// the client's message (which holds no secret).
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn boards(
        &self,
        actor: &User,
        credential_id: &CredentialId,
    ) -> Result<Vec<BoardChoice>, ServiceError> {
        let credential = self.credentials.usable_by(actor, credential_id).await?;
        self.read_boards(&credential).await
    }

    async fn read_boards(
        &self,
        credential: &pinion_domain::Credential,
    ) -> Result<Vec<BoardChoice>, ServiceError> {
        let source = Arc::new(self.tokens.token_source(credential.id.clone()));
        let config = crate::paced_for(&self.pinterest, credential, self.tokens.rates()).await;
        let client = PinterestClient::new(config, source)
            .map_err(|err| ServiceError::upstream("the Pinterest client is misconfigured", err))?;
        let mut pages = client.boards(BoardsQuery::default(), PageRequest::first());
        let mut boards = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|err| ServiceError::upstream("could not read the boards", err))?;
            for board in page.items {
                boards.push(BoardChoice {
                    id: board.id().as_str().to_owned(),
                    name: board.name().unwrap_or("(unnamed board)").to_owned(),
                });
            }
            if boards.len() >= MAX_BOARDS {
                break;
            }
        }
        Ok(boards)
    }

    /// Validates `input`, checks the board belongs to the credential's
    /// account, and stores the destination.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn create(
        &self,
        actor: &User,
        input: &DestinationInput,
    ) -> Result<DestinationRecord, ServiceError> {
        let credential_id = crate::sources::parse_credential_id(&input.credential_id)?;
        let credential = self.credentials.usable_by(actor, &credential_id).await?;
        if crate::credentials::usability(&credential).is_err() {
            // Its boards cannot be read without tokens Pinterest accepts.
            return Err(ServiceError::NotAuthorized {
                credential: credential.name.to_string(),
                status: credential.status.as_str(),
            });
        }
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() {
            errors.push(FieldError::new("name", "is required and must not be blank"));
        } else if name.chars().count() > 100 {
            errors.push(FieldError::new("name", "must be at most 100 characters"));
        }
        let board = if input.board_id.is_empty() {
            errors.push(FieldError::new("board_id", "pick a board"));
            None
        } else {
            let boards = self.read_boards(&credential).await?;
            let found = boards.into_iter().find(|b| b.id == input.board_id);
            if found.is_none() {
                errors.push(FieldError::new(
                    "board_id",
                    "is not one of this account's boards",
                ));
            }
            found
        };
        let Some(board) = board.filter(|_| errors.is_empty()) else {
            return Err(ValidationErrors(errors).into());
        };
        let record = DestinationRecord {
            id: DestinationId::generate(),
            owner: actor.id.clone(),
            credential_id: credential.id.clone(),
            name: name.to_owned(),
            board_id: board.id,
            board_name: board.name,
            created_at: self.tokens.now(),
        };
        let stored = self.store.create_destination(&record).await?;
        tracing::info!(destination_id = %stored.id, credential_id = %stored.credential_id, "Created a destination.");
        Ok(stored)
    }

    /// The destinations `actor` owns, newest first.
    pub async fn list(&self, actor: &User) -> Result<Vec<DestinationRecord>, ServiceError> {
        Ok(self.store.list_destinations(&actor.id).await?)
    }

    /// One destination, if `actor` owns it; otherwise `NotFound`, as for an
    /// unknown id.
    pub async fn get(
        &self,
        actor: &User,
        id: &DestinationId,
    ) -> Result<DestinationRecord, ServiceError> {
        let destination = self.store.get_destination(id).await?;
        if destination.owner != actor.id {
            return Err(ServiceError::NotFound {
                what: "destination",
            });
        }
        Ok(destination)
    }

    /// Makes `actor`'s destination `id` publish with credential
    /// `credential_id` instead (after its credential was deleted, say). The
    /// credential must be usable by `actor` and authorized, and the
    /// destination's board must be one of its account's boards, so pins go
    /// where they went before; otherwise the error names `credential_id`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, destination_id = %id))]
    pub async fn repoint(
        &self,
        actor: &User,
        id: &DestinationId,
        credential_id: &str,
    ) -> Result<DestinationRecord, ServiceError> {
        let destination = self.get(actor, id).await?;
        let credential_id = crate::sources::parse_credential_id(credential_id)?;
        let credential = self.credentials.usable_by(actor, &credential_id).await?;
        if crate::credentials::usability(&credential).is_err() {
            return Err(ServiceError::NotAuthorized {
                credential: credential.name.to_string(),
                status: credential.status.as_str(),
            });
        }
        let boards = self.read_boards(&credential).await?;
        if !boards.iter().any(|board| board.id == destination.board_id) {
            return Err(ValidationErrors(vec![FieldError::new(
                "credential_id",
                format!(
                    "the board \"{}\" is not one of this credential's account's boards",
                    destination.board_name
                ),
            )])
            .into());
        }
        if !self
            .store
            .repoint_destination(id, &actor.id, &credential.id)
            .await?
        {
            return Err(ServiceError::NotFound {
                what: "destination",
            });
        }
        tracing::info!(destination_id = %id, credential_id = %credential.id, "Repointed a destination.");
        Ok(DestinationRecord {
            credential_id: credential.id,
            ..destination
        })
    }

    /// Deletes a destination `actor` owns; any other is `NotFound`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id))]
    pub async fn delete(&self, actor: &User, id: &DestinationId) -> Result<(), ServiceError> {
        if !self.store.delete_destination(id, &actor.id).await? {
            return Err(ServiceError::NotFound {
                what: "destination",
            });
        }
        tracing::info!(destination_id = %id, "Deleted a destination.");
        Ok(())
    }
}
