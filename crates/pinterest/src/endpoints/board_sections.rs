//! Board sections: list, create, and a section's pins.

use crate::client::{PinterestClient, Request};
use crate::endpoint::{BOARD_SECTIONS_CREATE, BOARD_SECTIONS_LIST, BOARD_SECTIONS_LIST_PINS};
use crate::error::ApiError;
use crate::id::{BoardId, PinId, SectionId};
use crate::models::{BoardSection, BoardSectionCreate, Pin, RawRecord, Record};
use crate::pager::{PageRequest, PageStream};

use super::{invalid, parse_record};

impl PinterestClient {
    /// Pages of a board's sections.
    pub fn board_sections(
        &self,
        board_id: &BoardId,
        page: PageRequest,
    ) -> PageStream<BoardSection> {
        self.board_sections_as(board_id, page)
    }

    /// [`PinterestClient::board_sections`] with each section kept as the
    /// bytes sent.
    pub fn board_sections_raw(
        &self,
        board_id: &BoardId,
        page: PageRequest,
    ) -> PageStream<RawRecord<SectionId>> {
        self.board_sections_as(board_id, page)
    }

    /// The pages of [`PinterestClient::board_sections`] as any record type.
    fn board_sections_as<T: Record>(&self, board_id: &BoardId, page: PageRequest) -> PageStream<T> {
        self.pages(
            &BOARD_SECTIONS_LIST,
            &[("board_id", board_id.as_str())],
            &[],
            page,
        )
    }

    /// Pages of the pins in a board section.
    pub fn board_section_pins(
        &self,
        board_id: &BoardId,
        section_id: &SectionId,
        page: PageRequest,
    ) -> PageStream<Pin> {
        self.board_section_pins_as(board_id, section_id, page)
    }

    /// [`PinterestClient::board_section_pins`] with each pin kept as the
    /// bytes sent.
    pub fn board_section_pins_raw(
        &self,
        board_id: &BoardId,
        section_id: &SectionId,
        page: PageRequest,
    ) -> PageStream<RawRecord<PinId>> {
        self.board_section_pins_as(board_id, section_id, page)
    }

    /// The pages of [`PinterestClient::board_section_pins`] as any record type.
    fn board_section_pins_as<T: Record>(
        &self,
        board_id: &BoardId,
        section_id: &SectionId,
        page: PageRequest,
    ) -> PageStream<T> {
        self.pages(
            &BOARD_SECTIONS_LIST_PINS,
            &[
                ("board_id", board_id.as_str()),
                ("section_id", section_id.as_str()),
            ],
            &[],
            page,
        )
    }

    /// Creates a section on a board. Never repeated after a failure that
    /// may have reached Pinterest ([`ApiError::Ambiguous`]).
    pub async fn create_board_section(
        &self,
        board_id: &BoardId,
        body: &BoardSectionCreate,
    ) -> Result<BoardSection, ApiError> {
        body.validate()
            .map_err(|e| invalid(&BOARD_SECTIONS_CREATE, e))?;
        let request = Request::new(&BOARD_SECTIONS_CREATE, &[("board_id", board_id.as_str())])?
            .json_body(body)?;
        Ok(self
            .execute(request, parse_record::<BoardSection>)
            .await?
            .value)
    }
}
