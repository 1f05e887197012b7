//! `GET /static/{file}`: the stylesheet and the one script, compiled into the binary so a
//! deployment is one file and no page loads anything from elsewhere.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::WebError;

const STYLESHEET: &str = include_str!("../../static/pinion.css");
const SCRIPT: &str = include_str!("../../static/pinion.js");

/// Serves a known static file; anything else is 404.
pub async fn get(Path(file): Path<String>) -> Result<Response, WebError> {
    let (body, content_type) = match file.as_str() {
        "pinion.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "pinion.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return Err(WebError::NotFound),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
