//! Deterministic generation of Pinterest-like content from the seed: every pin of a
//! generated board is computed from (seed, user, board, index) on demand, so a board of a
//! million pins costs no memory until a page of it is served.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::wire::{ImageDetails, ImageSize, PinMedia};

/// The splitmix64 finaliser: a cheap, well-mixed 64-bit hash step.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hashes several values into one.
pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x51_7cc1_b727_220a, |acc, p| mix(acc ^ p))
}

/// Hashes a string (FNV-1a, then mixed).
pub fn hash_str(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// Unix seconds of 2024-01-01T00:00:00Z, the epoch of generated timestamps.
pub const EPOCH: i64 = 1_704_067_200;

/// Formats Unix seconds the way Pinterest's v5 API writes date-times:
/// `YYYY-MM-DDTHH:MM:SS`, UTC, without an offset.
pub fn datetime(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = String::with_capacity(19);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    out
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const ADJECTIVES: &[&str] = &[
    "Cozy", "Rustic", "Minimal", "Bright", "Vintage", "Modern", "Easy", "Quick", "Healthy",
    "Colorful", "Autumn", "Summer", "Winter", "Spring", "Bold", "Soft", "Tiny", "Grand", "Simple",
    "Classic",
];
const NOUNS: &[&str] = &[
    "kitchen",
    "garden",
    "salad",
    "living room",
    "wedding",
    "hairstyle",
    "road trip",
    "bookshelf",
    "pasta",
    "quilt",
    "watercolor",
    "cabin",
    "balcony",
    "smoothie",
    "sneakers",
    "bathroom",
    "tattoo",
    "cake",
    "workspace",
    "terrarium",
];
const TOPICS: &[&str] = &[
    "Recipes",
    "Home decor",
    "Travel",
    "Style",
    "DIY",
    "Gardening",
    "Art",
    "Fitness",
    "Weddings",
    "Photography",
];

/// A board name that is unique per (user, ordinal).
pub fn board_name(user_key: u64, ordinal: u64) -> String {
    let h = hash(&[user_key, ordinal, 1]);
    format!(
        "{} {} {}",
        ADJECTIVES[(h % ADJECTIVES.len() as u64) as usize],
        TOPICS[((h >> 8) % TOPICS.len() as u64) as usize],
        ordinal + 1
    )
}

/// A section name, unique within its board.
pub fn section_name(board_key: u64, ordinal: u64) -> String {
    let h = hash(&[board_key, ordinal, 2]);
    let noun = NOUNS[(h % NOUNS.len() as u64) as usize];
    let mut name = format!("{noun} ideas {}", ordinal + 1);
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    name
}

/// The generated text fields of one pin.
pub struct PinText {
    /// Title (at most 100 characters).
    pub title: String,
    /// Description (at most 800 characters).
    pub description: String,
    /// Alt text, absent on some pins.
    pub alt_text: Option<String>,
    /// Outbound link.
    pub link: String,
    /// `#RRGGBB`.
    pub dominant_color: String,
}

/// Generates the text of the pin with hash `h`.
pub fn pin_text(h: u64, index: u64) -> PinText {
    let adj = ADJECTIVES[(h % ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[((h >> 7) % NOUNS.len() as u64) as usize];
    let title = format!("{adj} {noun} idea #{}", index + 1);
    let description = format!(
        "A {} take on the {noun}: {} ways to make it yours, saved for later.",
        adj.to_ascii_lowercase(),
        (h >> 13) % 20 + 3
    );
    let alt_text = if (h >> 21).is_multiple_of(4) {
        None
    } else {
        Some(format!("Photo of a {} {noun}", adj.to_ascii_lowercase()))
    };
    let link = format!("https://example.com/ideas/{:x}", h >> 16);
    let dominant_color = format!("#{:06X}", (h >> 40) & 0xff_ffff);
    PinText {
        title,
        description,
        alt_text,
        link,
        dominant_color,
    }
}

/// The four standard image renditions of the image with hash `h`.
pub fn images(media_base: &str, h: u64) -> ImageSize {
    let hex = format!("{:016x}{:016x}", h, mix(h));
    // Aspect ratio between 1:1 and 1:2 (portrait), as on most pins.
    let ratio_per_mille = 1000 + (h >> 50) % 1000;
    let mut map = BTreeMap::new();
    let entry = |size: &str, w: u32, hgt: u32| ImageDetails {
        width: Some(w),
        height: Some(hgt),
        url: format!(
            "{media_base}/{size}/{}/{}/{}/{hex}.jpg",
            &hex[0..2],
            &hex[2..4],
            &hex[4..6]
        ),
    };
    let tall = |w: u32| (u64::from(w) * ratio_per_mille / 1000) as u32;
    map.insert("150x150", entry("150x150", 150, 150));
    map.insert("400x300", entry("400x300", 400, 300));
    map.insert("600x", entry("600x", 600, tall(600)));
    map.insert("1200x", entry("1200x", 1200, tall(1200)));
    map
}

/// The media of a generated pin: an image, or a video when `video` is set.
pub fn pin_media(media_base: &str, h: u64, video: bool) -> PinMedia {
    let images = images(media_base, h);
    if video {
        let cover = images
            .get("1200x")
            .map(|d| d.url.clone())
            .unwrap_or_default();
        PinMedia::Video {
            cover_image_url: cover,
            video_url: Some(format!(
                "https://v1.pinimg.com/videos/mc/720p/{:016x}.mp4",
                mix(h ^ 0x71de0)
            )),
            duration: Some((5_000 + (h >> 20) % 55_000) as f64),
            width: Some(720),
            height: Some(1280),
            images,
        }
    } else {
        PinMedia::Image { images }
    }
}

/// Whether a pin with hash `h` is a video, for a share between 0 and 1.
pub fn is_video(h: u64, share: f64) -> bool {
    ((h >> 3) % 10_000) < (share.clamp(0.0, 1.0) * 10_000.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_formatted_without_offset() {
        assert_eq!(datetime(EPOCH), "2024-01-01T00:00:00");
        assert_eq!(datetime(1_730_227_664), "2024-10-29T18:47:44");
    }

    #[test]
    fn leap_days_are_handled() {
        assert_eq!(datetime(19_782 * 86_400), "2024-02-29T00:00:00");
    }

    #[test]
    fn pin_text_respects_pinterest_length_limits() {
        for i in 0..1000 {
            let t = pin_text(hash(&[i]), i);
            assert!(t.title.chars().count() <= 100);
            assert!(t.description.chars().count() <= 800);
            assert!(t.link.len() <= 2048);
        }
    }

    #[test]
    fn images_have_the_four_standard_renditions() {
        let map = images("https://i.example", 42);
        let keys: Vec<_> = map.keys().copied().collect();
        assert_eq!(keys, ["1200x", "150x150", "400x300", "600x"]);
    }
}
