//! `GET /static/{file}`: the stylesheet, compiled into the binary so a
//! deployment is one file and no page loads anything from elsewhere.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::WebError;

const STYLESHEET: &str = include_str!("../../static/pinion.css");

/// Serves a known static file; anything else is 404.
pub async fn get(Path(file): Path<String>) -> Result<Response, WebError> {
    match file.as_str() {
        "pinion.css" => {
            let mut response = STYLESHEET.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            Ok(response)
        }
        _ => Err(WebError::NotFound),
    }
}
