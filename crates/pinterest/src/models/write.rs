//! Request bodies of the write operations: `boards/create`, `boards/update`,
//! `pins/create`, `pins/update` and `board_sections/create`.
//!
//! Each body has the spec's fields typed and an `extra` map, flattened into
//! the JSON, for fields this crate does not model. [`PinCreate::validate`]
//! checks Pinterest's documented length limits before anything is sent.

use pinion_domain::{FieldError, ValidationErrors};
use serde::Serialize;
use serde_json::{Map, Value};

use super::board::BoardPrivacy;
use crate::id::{BoardId, PinId, SectionId};

/// Longest pin title, in characters.
pub const TITLE_MAX_CHARS: usize = 100;
/// Longest pin description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 800;
/// Longest pin alt text, in characters.
pub const ALT_TEXT_MAX_CHARS: usize = 500;
/// Longest pin link, in characters.
pub const LINK_MAX_CHARS: usize = 2048;
/// Longest board section name, in characters.
pub const SECTION_NAME_MAX_CHARS: usize = 180;

fn check_len(errors: &mut ValidationErrors, field: &'static str, value: Option<&str>, max: usize) {
    if let Some(value) = value {
        let len = value.chars().count();
        if len > max {
            errors.push(FieldError::new(
                field,
                format!("is {len} characters; Pinterest allows at most {max}"),
            ));
        }
    }
}

fn into_result(errors: ValidationErrors) -> Result<(), ValidationErrors> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Body of `boards/create`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoardCreate {
    /// The board's name (required).
    pub name: String,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Public, protected or secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<BoardPrivacy>,
    /// Create an ads-only board.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_ads_only: Option<bool>,
    /// Further fields, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BoardCreate {
    /// A board named `name`, with everything else left to Pinterest.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            privacy: None,
            is_ads_only: None,
            extra: Map::new(),
        }
    }

    /// Checks what can be checked before sending.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.name.trim().is_empty() {
            errors.push(FieldError::new("name", "must not be empty"));
        }
        into_result(errors)
    }
}

/// Body of `boards/update`; absent fields are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BoardUpdate {
    /// A new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new privacy (`PUBLIC` or `SECRET`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<BoardPrivacy>,
    /// Further fields, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `board_sections/create`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoardSectionCreate {
    /// The section's name, 1 to 180 characters.
    pub name: String,
}

impl BoardSectionCreate {
    /// Checks the name's length.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.name.is_empty() {
            errors.push(FieldError::new("name", "must not be empty"));
        }
        check_len(
            &mut errors,
            "name",
            Some(&self.name),
            SECTION_NAME_MAX_CHARS,
        );
        into_result(errors)
    }
}

/// A pin's `media_source`: the object that says where the image or video
/// comes from. Its `source_type` selects the variant on Pinterest's side.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct MediaSource(Map<String, Value>);

impl MediaSource {
    /// An image Pinterest fetches from `url`.
    pub fn image_url(url: impl Into<String>) -> Self {
        let mut map = Map::new();
        map.insert("source_type".into(), "image_url".into());
        map.insert("url".into(), Value::String(url.into()));
        Self(map)
    }

    /// An image sent inline, base64-encoded (`image/jpeg` or `image/png`).
    pub fn image_base64(content_type: impl Into<String>, data: impl Into<String>) -> Self {
        let mut map = Map::new();
        map.insert("source_type".into(), "image_base64".into());
        map.insert("content_type".into(), Value::String(content_type.into()));
        map.insert("data".into(), Value::String(data.into()));
        Self(map)
    }

    /// Any other source given as JSON; it must have a string `source_type`.
    pub fn from_json(map: Map<String, Value>) -> Result<Self, FieldError> {
        match map.get("source_type") {
            Some(Value::String(kind)) if !kind.is_empty() => Ok(Self(map)),
            _ => Err(FieldError::new("media_source", "needs a `source_type`")),
        }
    }

    /// The `source_type`.
    pub fn source_type(&self) -> &str {
        self.0
            .get("source_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The object as it will be sent.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// Body of `pins/create`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinCreate {
    /// The board to pin to.
    pub board_id: BoardId,
    /// The section of that board, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board_section_id: Option<SectionId>,
    /// Where the image or video comes from.
    pub media_source: MediaSource,
    /// Title, at most 100 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description, at most 800 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Destination link, at most 2,048 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Alt text, at most 500 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    /// Dominant colour, `#RRGGBB`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_color: Option<String>,
    /// The pin this one is saved from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_pin_id: Option<PinId>,
    /// Further fields, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PinCreate {
    /// A pin of `media_source` on `board_id`, with no text yet.
    pub fn new(board_id: BoardId, media_source: MediaSource) -> Self {
        Self {
            board_id,
            board_section_id: None,
            media_source,
            title: None,
            description: None,
            link: None,
            alt_text: None,
            dominant_color: None,
            parent_pin_id: None,
            extra: Map::new(),
        }
    }

    /// Checks Pinterest's length limits (title 100, description 800, alt
    /// text 500, link 2,048 characters) and the media source.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_len(&mut errors, "title", self.title.as_deref(), TITLE_MAX_CHARS);
        check_len(
            &mut errors,
            "description",
            self.description.as_deref(),
            DESCRIPTION_MAX_CHARS,
        );
        check_len(
            &mut errors,
            "alt_text",
            self.alt_text.as_deref(),
            ALT_TEXT_MAX_CHARS,
        );
        check_len(&mut errors, "link", self.link.as_deref(), LINK_MAX_CHARS);
        if self.media_source.source_type() == "image_url"
            && self
                .media_source
                .as_json()
                .get("url")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            errors.push(FieldError::new(
                "media_source",
                "an image_url source needs a `url`",
            ));
        }
        into_result(errors)
    }
}

/// Body of `pins/update`; absent fields are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PinUpdate {
    /// Move the pin to this board.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board_id: Option<BoardId>,
    /// Move the pin to this section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board_section_id: Option<SectionId>,
    /// A new title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A new alt text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    /// Further fields, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PinUpdate {
    /// Checks the same length limits as [`PinCreate::validate`].
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_len(&mut errors, "title", self.title.as_deref(), TITLE_MAX_CHARS);
        check_len(
            &mut errors,
            "description",
            self.description.as_deref(),
            DESCRIPTION_MAX_CHARS,
        );
        check_len(
            &mut errors,
            "alt_text",
            self.alt_text.as_deref(),
            ALT_TEXT_MAX_CHARS,
        );
        check_len(&mut errors, "link", self.link.as_deref(), LINK_MAX_CHARS);
        into_result(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> PinCreate {
        PinCreate::new(
            BoardId::new("1").unwrap(),
            MediaSource::image_url("https://example.com/a.jpg"),
        )
    }

    #[test]
    fn pin_create_serializes_only_given_fields() {
        let mut body = pin();
        body.title = Some("t".into());
        body.extra.insert("sponsor_id".into(), "9".into());
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "board_id":"1","media_source":{"source_type":"image_url","url":"https://example.com/a.jpg"},
                "title":"t","sponsor_id":"9"
            })
        );
    }

    #[test]
    fn pin_limits_count_characters_not_bytes() {
        let mut body = pin();
        body.title = Some("é".repeat(100));
        body.alt_text = Some("a".repeat(500));
        body.link = Some("l".repeat(2048));
        body.description = Some("d".repeat(800));
        assert!(body.validate().is_ok());
        body.title = Some("é".repeat(101));
        body.description = Some("d".repeat(801));
        body.alt_text = Some("a".repeat(501));
        body.link = Some("l".repeat(2049));
        let errors = body.validate().unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["title", "description", "alt_text", "link"]);
    }

    #[test]
    fn media_source_needs_a_source_type() {
        assert!(MediaSource::from_json(Map::new()).is_err());
        let mut map = Map::new();
        map.insert("source_type".into(), "video_id".into());
        map.insert("media_id".into(), "12".into());
        assert_eq!(
            MediaSource::from_json(map).unwrap().source_type(),
            "video_id"
        );
    }

    #[test]
    fn board_privacy_serializes_in_upper_case() {
        let mut body = BoardCreate::named("Summer");
        body.privacy = Some(BoardPrivacy::Secret);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"name":"Summer","privacy":"SECRET"}"#
        );
        assert!(BoardCreate::named("  ").validate().is_err());
        assert!(
            BoardSectionCreate {
                name: "x".repeat(181)
            }
            .validate()
            .is_err()
        );
    }
}

#[cfg(test)]
mod spec_tests {
    //! Our request bodies against the spec's request schemas.

    use super::*;
    use crate::testing::spec;

    fn validate(schema_name: &str, body: &Value) -> Result<(), String> {
        let spec = spec();
        let schema = serde_json::json!({
            "$ref": format!("#/components/schemas/{schema_name}"),
            "components": spec["components"],
        });
        let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    #[test]
    fn pin_create_body_follows_the_spec_schema() {
        let mut body = PinCreate::new(
            BoardId::new("42").unwrap(),
            MediaSource::image_url("https://example.com/a.jpg"),
        );
        body.board_section_id = Some(SectionId::new("43").unwrap());
        body.title = Some("t".into());
        body.description = Some("d".into());
        body.link = Some("https://example.com".into());
        body.alt_text = Some("a".into());
        body.dominant_color = Some("#6E7874".into());
        validate("PinCreate", &serde_json::to_value(&body).unwrap()).unwrap();
        body.title = Some("t".repeat(101));
        assert!(
            validate("PinCreate", &serde_json::to_value(&body).unwrap()).is_err(),
            "the check can fail"
        );
    }

    #[test]
    fn board_bodies_follow_the_spec_schemas() {
        let mut create = BoardCreate::named("Summer");
        create.description = Some("d".into());
        create.privacy = Some(BoardPrivacy::Secret);
        create.is_ads_only = Some(false);
        validate("BoardCreate", &serde_json::to_value(&create).unwrap()).unwrap();
        let update = BoardUpdate {
            name: Some("n".into()),
            privacy: Some(BoardPrivacy::Public),
            ..Default::default()
        };
        validate(
            "BoardWithUpdatePrivacyUpdate",
            &serde_json::to_value(&update).unwrap(),
        )
        .unwrap();
        let section = BoardSectionCreate {
            name: "Salads".into(),
        };
        validate("BoardSection", &serde_json::to_value(&section).unwrap()).unwrap();
        let pin = PinUpdate {
            title: Some("t".into()),
            board_id: Some(BoardId::new("1").unwrap()),
            ..Default::default()
        };
        validate("PinUpdate", &serde_json::to_value(&pin).unwrap()).unwrap();
    }
}
