//! Board sections: list, create, and a section's pins.

use crate::client::{PinterestClient, Request};
use crate::endpoint::{BOARD_SECTIONS_CREATE, BOARD_SECTIONS_LIST, BOARD_SECTIONS_LIST_PINS};
use crate::error::ApiError;
use crate::id::{BoardId, SectionId};
use crate::models::{BoardSection, BoardSectionCreate, Pin};
use crate::pager::{PageRequest, PageStream};

use super::{invalid, parse_record};

impl PinterestClient {
    /// Pages of a board's sections.
    pub fn board_sections(
        &self,
        board_id: &BoardId,
        page: PageRequest,
    ) -> PageStream<BoardSection> {
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
