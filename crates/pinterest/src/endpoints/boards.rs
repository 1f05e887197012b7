//! Boards: list, get, create, update, delete, and a board's pins.

use crate::client::{PinterestClient, Request};
use crate::endpoint::{
    BOARDS_CREATE, BOARDS_DELETE, BOARDS_GET, BOARDS_LIST, BOARDS_LIST_PINS, BOARDS_UPDATE,
};
use crate::error::ApiError;
use crate::id::{BoardId, PinId};
use crate::models::{Board, BoardCreate, BoardPrivacyFilter, BoardUpdate, Pin, RawRecord, Record};
use crate::pager::{PageRequest, PageStream};

use super::{PinsQuery, ignore_body, invalid, parse_record};

/// Filters of `boards/list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoardsQuery {
    /// Which boards by privacy; Pinterest's default (no filter) lists public
    /// and, with `boards:read_secret`, secret boards.
    pub privacy: Option<BoardPrivacyFilter>,
}

impl PinterestClient {
    /// Pages of the user's boards.
    pub fn boards(&self, query: BoardsQuery, page: PageRequest) -> PageStream<Board> {
        self.boards_as(query, page)
    }

    /// [`PinterestClient::boards`] with each board kept as the bytes sent.
    pub fn boards_raw(
        &self,
        query: BoardsQuery,
        page: PageRequest,
    ) -> PageStream<RawRecord<BoardId>> {
        self.boards_as(query, page)
    }

    /// The pages of [`PinterestClient::boards`] as any record type.
    fn boards_as<T: Record>(&self, query: BoardsQuery, page: PageRequest) -> PageStream<T> {
        let privacy: Vec<(&str, &str)> = query
            .privacy
            .map(|p| ("privacy", p.as_str()))
            .into_iter()
            .collect();
        self.pages(&BOARDS_LIST, &[], &privacy, page)
    }

    /// One board.
    pub async fn board(&self, board_id: &BoardId) -> Result<Board, ApiError> {
        let request = Request::new(&BOARDS_GET, &[("board_id", board_id.as_str())])?;
        Ok(self.execute(request, parse_record::<Board>).await?.value)
    }

    /// Pages of the pins on a board.
    pub fn board_pins(
        &self,
        board_id: &BoardId,
        query: &PinsQuery,
        page: PageRequest,
    ) -> PageStream<Pin> {
        self.board_pins_as(board_id, query, page)
    }

    /// [`PinterestClient::board_pins`] with each pin kept as the bytes sent.
    pub fn board_pins_raw(
        &self,
        board_id: &BoardId,
        query: &PinsQuery,
        page: PageRequest,
    ) -> PageStream<RawRecord<PinId>> {
        self.board_pins_as(board_id, query, page)
    }

    /// The pages of [`PinterestClient::board_pins`] as any record type.
    fn board_pins_as<T: Record>(
        &self,
        board_id: &BoardId,
        query: &PinsQuery,
        page: PageRequest,
    ) -> PageStream<T> {
        let pairs = query.pairs();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.pages(
            &BOARDS_LIST_PINS,
            &[("board_id", board_id.as_str())],
            &pairs,
            page,
        )
    }

    /// Creates a board. Never repeated after a failure that may have
    /// reached Pinterest ([`ApiError::Ambiguous`]).
    pub async fn create_board(&self, body: &BoardCreate) -> Result<Board, ApiError> {
        body.validate().map_err(|e| invalid(&BOARDS_CREATE, e))?;
        let request = Request::new(&BOARDS_CREATE, &[])?.json_body(body)?;
        Ok(self.execute(request, parse_record::<Board>).await?.value)
    }

    /// Updates a board's name, description or privacy.
    pub async fn update_board(
        &self,
        board_id: &BoardId,
        body: &BoardUpdate,
    ) -> Result<Board, ApiError> {
        let request =
            Request::new(&BOARDS_UPDATE, &[("board_id", board_id.as_str())])?.json_body(body)?;
        Ok(self.execute(request, parse_record::<Board>).await?.value)
    }

    /// Deletes a board and its pins.
    pub async fn delete_board(&self, board_id: &BoardId) -> Result<(), ApiError> {
        let request = Request::new(&BOARDS_DELETE, &[("board_id", board_id.as_str())])?;
        self.execute(request, ignore_body).await.map(|_| ())
    }
}
