//! Pins (`Pin` in the spec).

use chrono::{DateTime, Utc};

use super::{bool_of, datetime_of, id_record, str_of};
use crate::id::{BoardId, PinId, SectionId};

id_record!(
    /// A pin as the pin lists and `pins/get` return it.
    Pin,
    PinId,
    "pin"
);

impl Pin {
    /// The board the pin is on.
    pub fn board_id(&self) -> Option<BoardId> {
        BoardId::new(str_of(&self.raw, "board_id")?).ok()
    }

    /// The board section the pin is in, if any.
    pub fn board_section_id(&self) -> Option<SectionId> {
        SectionId::new(str_of(&self.raw, "board_section_id")?).ok()
    }

    /// The title (at most 100 characters).
    pub fn title(&self) -> Option<&str> {
        str_of(&self.raw, "title")
    }

    /// The description (at most 800 characters).
    pub fn description(&self) -> Option<&str> {
        str_of(&self.raw, "description")
    }

    /// The destination link (at most 2,048 characters).
    pub fn link(&self) -> Option<&str> {
        str_of(&self.raw, "link")
    }

    /// The alt text (at most 500 characters).
    pub fn alt_text(&self) -> Option<&str> {
        str_of(&self.raw, "alt_text")
    }

    /// When the pin was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        datetime_of(&self.raw, "created_at")
    }

    /// `REGULAR`, `VIDEO`, `CAROUSEL`… (or a value added later).
    pub fn creative_type(&self) -> Option<&str> {
        str_of(&self.raw, "creative_type")
    }

    /// The dominant colour, `#RRGGBB`.
    pub fn dominant_color(&self) -> Option<&str> {
        str_of(&self.raw, "dominant_color")
    }

    /// The pin this one was saved from.
    pub fn parent_pin_id(&self) -> Option<PinId> {
        PinId::new(str_of(&self.raw, "parent_pin_id")?).ok()
    }

    /// True when the operation's user owns the pin.
    pub fn is_owner(&self) -> Option<bool> {
        bool_of(&self.raw, "is_owner")
    }

    /// True when the pin was ever promoted.
    pub fn has_been_promoted(&self) -> Option<bool> {
        bool_of(&self.raw, "has_been_promoted")
    }

    /// `media.media_type`: `image`, `video`, `multiple_images`…
    pub fn media_type(&self) -> Option<&str> {
        self.raw.get("media")?.get("media_type")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Record;
    use serde_json::json;

    #[test]
    fn pin_typed_view_reads_common_fields() {
        let pin = Pin::from_json(json!({
            "id":"813744226420795884","board_id":"549755885175","board_section_id":null,
            "title":"t","media":{"media_type":"image","images":{}},"note":"dropped in 5.23 but kept"
        }))
        .unwrap();
        assert_eq!(pin.board_id().unwrap().as_str(), "549755885175");
        assert_eq!(pin.board_section_id(), None);
        assert_eq!(pin.media_type(), Some("image"));
        assert_eq!(pin.as_json()["note"], "dropped in 5.23 but kept");
    }
}
