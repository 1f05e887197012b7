//! Board sections (`BoardSection` in the spec).

use super::{id_record, str_of};
use crate::id::SectionId;

id_record!(
    /// A board section as `board_sections/list` returns it.
    BoardSection,
    SectionId,
    "board section"
);

impl BoardSection {
    /// The section's name.
    pub fn name(&self) -> Option<&str> {
        str_of(&self.raw, "name")
    }
}
