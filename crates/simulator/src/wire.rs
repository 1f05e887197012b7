//! JSON shapes of Pinterest's v5 responses (`Account`, `Board`, `BoardSection`, `Pin`,
//! `PinMedia`, `AdAccount`, the paginated envelope and the error body), written from the
//! OpenAPI description's schemas.

use std::collections::BTreeMap;

use serde::Serialize;

/// Pinterest's error body.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Pinterest's numeric error code.
    pub code: i64,
    /// Human-readable message.
    pub message: &'a str,
}

/// The paginated envelope `{items, bookmark}`.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Cursor for the next page, `null` on the last one.
    pub bookmark: Option<String>,
}

/// `Account` (GET /user_account).
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub account_type: &'static str,
    pub id: String,
    pub username: String,
    pub profile_image: String,
    pub website_url: String,
    pub about: String,
    pub business_name: Option<String>,
    pub board_count: Option<u64>,
    pub pin_count: Option<u64>,
    pub follower_count: Option<u64>,
    pub following_count: Option<u64>,
    pub monthly_views: Option<u64>,
}

/// `{username}` owner object.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Owner {
    pub username: String,
}

/// `BoardMedia`.
#[derive(Clone, Debug, Serialize)]
pub struct BoardMedia {
    pub image_cover_url: Option<String>,
    pub pin_thumbnail_urls: Vec<String>,
}

/// `Board`.
#[derive(Clone, Debug, Serialize)]
pub struct Board {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: Owner,
    pub privacy: &'static str,
    pub created_at: String,
    pub board_pins_modified_at: String,
    pub pin_count: u64,
    pub follower_count: u64,
    pub collaborator_count: u64,
    pub is_ads_only: bool,
    pub media: BoardMedia,
}

/// `BoardSection`.
#[derive(Clone, Debug, Serialize)]
pub struct BoardSection {
    pub id: String,
    pub name: String,
}

/// `ImageDetails`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ImageDetails {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub url: String,
}

/// `ImageSize`: the four standard renditions.
pub type ImageSize = BTreeMap<&'static str, ImageDetails>;

/// One item of a multi-image pin (`ImageMetadata`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ImageMetadata {
    pub item_type: &'static str,
    pub title: Option<String>,
    pub description: Option<String>,
    pub link: Option<String>,
    pub images: ImageSize,
}

/// `PinMedia`, discriminated by `media_type`.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "media_type", rename_all = "snake_case")]
pub enum PinMedia {
    /// A single image.
    Image { images: ImageSize },
    /// A video with its cover renditions.
    Video {
        cover_image_url: String,
        video_url: Option<String>,
        duration: Option<f64>,
        width: Option<u32>,
        height: Option<u32>,
        images: ImageSize,
    },
    /// A carousel of images.
    MultipleImages { items: Vec<ImageMetadata> },
}

/// `Pin`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pin {
    pub id: String,
    pub created_at: String,
    pub link: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub dominant_color: Option<String>,
    pub alt_text: Option<String>,
    pub creative_type: Option<&'static str>,
    pub board_id: String,
    pub board_section_id: Option<String>,
    pub board_owner: Owner,
    pub is_owner: bool,
    pub is_standard: bool,
    pub has_been_promoted: bool,
    pub parent_pin_id: Option<String>,
    pub pin_metrics: Option<serde_json::Value>,
    pub media: PinMedia,
}

/// `{id, username}` owner of an ad account.
#[derive(Clone, Debug, Serialize)]
pub struct AdAccountOwner {
    pub id: String,
    pub username: String,
}

/// `AdAccount`.
#[derive(Clone, Debug, Serialize)]
pub struct AdAccount {
    pub id: String,
    pub name: String,
    pub owner: AdAccountOwner,
    pub country: &'static str,
    pub currency: &'static str,
    pub permissions: Vec<&'static str>,
    pub created_time: Option<i64>,
    pub updated_time: Option<i64>,
}
