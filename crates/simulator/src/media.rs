//! `GET /media/{size}/{a}/{b}/{c}/{file}`: the images of generated pins
//! (issue 15), so that a page showing pins has pictures without reaching
//! Pinterest's image servers. A running simulator points its pins' media
//! URLs here (`SimConfig::serve_media`). Each image is a small SVG: a
//! colour and stripes derived from the image's hash, at the rendition's
//! size; the same URL gives the same image.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The image at `path`, or 404 for a path no generated pin has.
pub async fn image(
    Path((size, _a, _b, _c, file)): Path<(String, String, String, String, String)>,
) -> Response {
    let Some(hex) = file
        .strip_suffix(".jpg")
        .filter(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((width, height)) = dimensions(&size, hex) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let colour = &hex[0..6];
    let accent = &hex[6..12];
    let stripes = 3 + u32::from_str_radix(&hex[12..13], 16).unwrap_or(0) % 5;
    let band = height / stripes;
    let mut bands = String::new();
    for i in (1..stripes).step_by(2) {
        bands.push_str(&format!(
            "<rect x=\"0\" y=\"{}\" width=\"{width}\" height=\"{band}\" fill=\"#{accent}\" opacity=\"0.35\"/>",
            i * band
        ));
    }
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\"><rect width=\"{width}\" height=\"{height}\" \
         fill=\"#{colour}\"/>{bands}</svg>"
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response()
}

/// The rendition's size: `150x150`, `400x300`, or a width (`600x`,
/// `1200x`) with the height of the pin's aspect ratio.
fn dimensions(size: &str, hex: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    let width: u32 = w.parse().ok().filter(|w| (1..=2000).contains(w))?;
    let height = if h.is_empty() {
        // Between 1:1 and 1:2, from the hash.
        let ratio = 1000 + u32::from_str_radix(&hex[13..16], 16).ok()? % 1000;
        width * ratio / 1000
    } else {
        h.parse().ok().filter(|h| (1..=4000).contains(h))?
    };
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renditions_have_their_sizes_and_other_paths_none() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(dimensions("150x150", hex), Some((150, 150)));
        assert_eq!(dimensions("400x300", hex), Some((400, 300)));
        let (w, h) = dimensions("600x", hex).unwrap();
        assert_eq!(w, 600);
        assert!((600..1200).contains(&h));
        assert_eq!(dimensions("big", hex), None);
        assert_eq!(dimensions("0x0", hex), None);
    }
}
