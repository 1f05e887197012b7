//! Pins: the operation user's pin list, get, create (with `media_source` and the length
//! limits validated), update and delete.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::auth::Caller;
use super::boards::{filter_context, pin_filter, visible_board};
use super::{Field, is_http_url, json_object, page_size, path_id, query, sign, string_field};
use crate::bookmark::ListKind;
use crate::error::{ApiError, json_response};
use crate::generate as gen_;
use crate::ops::Scope;
use crate::state::Shared;
use crate::store::{PinCursor, PinLoc, Privacy, Store, now_unix};
use crate::wire::{ImageMetadata, Owner, Page, Pin, PinMedia};

/// `GET /v5/pins`.
pub async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let n = page_size(&params)?;
    let filter = pin_filter(&params, true)?;
    let include_protected = params
        .bool("include_protected_pins", false)
        .map_err(|e| ApiError::invalid(e.0))?;
    let pin_filter_value = params
        .get("pin_filter")
        .map_err(|e| ApiError::invalid(e.0))?;
    // Every pin the simulator holds is the user's own, never a repin and never promoted.
    let none_match = match pin_filter_value {
        None | Some("exclude_repins") => false,
        Some("exclude_native") | Some("has_been_promoted") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Parameter 'pin_filter' has an invalid value (was {other})"
            )));
        }
    };
    let private_only = match params.get("pin_type").map_err(|e| ApiError::invalid(e.0))? {
        None => false,
        Some("PRIVATE") => {
            caller.require(Scope::PinsReadSecret)?;
            true
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Parameter 'pin_type' has an invalid value (was {other})"
            )));
        }
    };
    let options = u64::from(include_protected)
        | u64::from(private_only) << 1
        | (pin_filter_value.map_or(0, gen_::hash_str) & !3);
    let context = filter_context(options, &filter);
    let pos = super::bookmark(&state, &params, ListKind::Pins, caller.user_id, context)?;
    let viewer = caller.viewer();
    let store = state.store();
    let visible = |privacy: Privacy| {
        viewer.sees_pin(caller.user, privacy)
            && (include_protected || privacy != Privacy::Protected)
            && (!private_only || privacy == Privacy::Secret)
    };

    let mut items: Vec<Pin> = Vec::new();
    let mut bookmark = None;
    if !none_match {
        let (mut below, mut cursor) = match pos {
            None => (u64::MAX, PinCursor::START),
            Some(p) => (
                p[0],
                PinCursor::unpack(p[1], p[2])
                    .ok_or_else(|| ApiError::invalid("Invalid bookmark."))?,
            ),
        };
        while let Some((seq, board_id)) = store.next_board_seq(caller.user, below) {
            let board = &store.boards[&board_id];
            if visible(board.privacy) {
                let room = n - items.len();
                let (page, next) = store.list_pins(board, None, cursor, room, filter, caller.user);
                items.extend(page);
                if let Some(c) = next {
                    let (tag, value) = c.pack();
                    bookmark = Some([seq + 1, tag, value]);
                    break;
                }
            }
            below = seq;
            cursor = PinCursor::START;
        }
    }
    let page = Page {
        items,
        bookmark: bookmark.map(|p| sign(&state, ListKind::Pins, caller.user_id, context, p)),
    };
    Ok(json_response(StatusCode::OK, &page))
}

/// Finds a pin the caller may see; 404 code 50 otherwise.
fn visible_pin<'a>(store: &'a Store, caller: &Caller, id: u64) -> Result<PinLoc<'a>, ApiError> {
    let loc = store.locate_pin(id).ok_or_else(ApiError::pin_not_found)?;
    let board = store.pin_board(&loc).ok_or_else(ApiError::pin_not_found)?;
    if !caller.viewer().sees_pin(board.owner, board.privacy) {
        return Err(ApiError::pin_not_found());
    }
    Ok(loc)
}

/// `GET /v5/pins/{pin_id}`.
pub async fn get_one(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(pin_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&pin_id, "pin_id")?;
    let metrics = params
        .bool("pin_metrics", false)
        .map_err(|e| ApiError::invalid(e.0))?;
    let store = state.store();
    let loc = visible_pin(&store, &caller, id)?;
    Ok(json_response(
        StatusCode::OK,
        &store.render(&loc, caller.user, metrics),
    ))
}

fn digits_field(map: &Map<String, Value>, name: &str) -> Result<Field<u64>, ApiError> {
    Ok(match string_field(map, name, None)? {
        Field::Absent => Field::Absent,
        Field::Null => Field::Null,
        Field::Value(s) => {
            if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid(format!(
                    "Parameter '{name}' must be a numeric id (was {s})"
                )));
            }
            Field::Value(
                s.parse().map_err(|_| {
                    ApiError::invalid(format!("Parameter '{name}' is out of range"))
                })?,
            )
        }
    })
}

/// The editable text fields with Pinterest's length limits.
struct TextFields {
    title: Field<String>,
    description: Field<String>,
    alt_text: Field<String>,
    link: Field<String>,
}

fn text_fields(map: &Map<String, Value>) -> Result<TextFields, ApiError> {
    let link = string_field(map, "link", Some(2048))?;
    if let Field::Value(l) = &link
        && !is_http_url(l)
    {
        return Err(ApiError::invalid(
            "Parameter 'link' must be an http or https URL.",
        ));
    }
    Ok(TextFields {
        title: string_field(map, "title", Some(100))?,
        description: string_field(map, "description", Some(800))?,
        alt_text: string_field(map, "alt_text", Some(500))?,
        link,
    })
}

fn apply(field: Field<String>, target: &mut Option<String>) {
    match field {
        Field::Value(v) => *target = Some(v),
        Field::Null => *target = None,
        Field::Absent => {}
    }
}

fn content_type_ok(map: &Map<String, Value>) -> Result<(), ApiError> {
    match map.get("content_type").and_then(Value::as_str) {
        Some("image/jpeg") | Some("image/png") => Ok(()),
        _ => Err(ApiError::invalid(
            "media_source.content_type must be image/jpeg or image/png.",
        )),
    }
}

fn base64_ok(map: &Map<String, Value>) -> Result<u64, ApiError> {
    let data = map
        .get("data")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::invalid("media_source.data is required."))?;
    let bytes = STANDARD
        .decode(data)
        .map_err(|_| ApiError::invalid("media_source.data is not valid base64."))?;
    Ok(gen_::hash(&[
        bytes.len() as u64,
        gen_::hash_str(&data[..data.len().min(256)]),
    ]))
}

fn items_of(map: &Map<String, Value>) -> Result<&Vec<Value>, ApiError> {
    let items = map
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("media_source.items is required."))?;
    if !(2..=5).contains(&items.len()) {
        return Err(ApiError::invalid(
            "media_source.items must hold between 2 and 5 images.",
        ));
    }
    Ok(items)
}

/// Validates `media_source` and returns the pin's media and creative type.
fn media_from_source(
    media_base: &str,
    source: Option<&Value>,
) -> Result<(PinMedia, &'static str), ApiError> {
    let Some(Value::Object(src)) = source else {
        return Err(ApiError::invalid(
            "Missing required parameter 'media_source'.",
        ));
    };
    let source_type = src.get("source_type").and_then(Value::as_str);
    match source_type {
        Some("image_url") => {
            let url = src
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| is_http_url(u))
                .ok_or_else(|| {
                    ApiError::invalid("media_source.url must be an http or https URL.")
                })?;
            let images = gen_::images(media_base, gen_::hash_str(url));
            Ok((PinMedia::Image { images }, "REGULAR"))
        }
        Some("image_base64") => {
            content_type_ok(src)?;
            let h = base64_ok(src)?;
            Ok((
                PinMedia::Image {
                    images: gen_::images(media_base, h),
                },
                "REGULAR",
            ))
        }
        Some("video_id") => {
            let media_id = src.get("media_id").and_then(Value::as_str).unwrap_or("");
            if media_id.is_empty() || !media_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid(
                    "media_source.media_id must be a numeric id.",
                ));
            }
            let h = gen_::hash_str(media_id);
            let images = gen_::images(media_base, h);
            let cover = match src.get("cover_image_url").and_then(Value::as_str) {
                Some(u) if is_http_url(u) => u.to_owned(),
                Some(_) => {
                    return Err(ApiError::invalid(
                        "media_source.cover_image_url must be an http or https URL.",
                    ));
                }
                None => images
                    .get("1200x")
                    .map(|d| d.url.clone())
                    .unwrap_or_default(),
            };
            // A fresh upload is still processing, so its measurements are null.
            Ok((
                PinMedia::Video {
                    cover_image_url: cover,
                    video_url: None,
                    duration: None,
                    width: None,
                    height: None,
                    images,
                },
                "VIDEO",
            ))
        }
        Some("multiple_image_urls") | Some("multiple_image_base64") => {
            let by_url = source_type == Some("multiple_image_urls");
            let mut out = Vec::new();
            for item in items_of(src)? {
                let Value::Object(item) = item else {
                    return Err(ApiError::invalid("media_source.items must hold objects."));
                };
                let h = if by_url {
                    let url = item
                        .get("url")
                        .and_then(Value::as_str)
                        .filter(|u| is_http_url(u))
                        .ok_or_else(|| {
                            ApiError::invalid("Each media_source item needs an http or https url.")
                        })?;
                    gen_::hash_str(url)
                } else {
                    content_type_ok(item)?;
                    base64_ok(item)?
                };
                let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
                out.push(ImageMetadata {
                    item_type: "image",
                    title: text("title"),
                    description: text("description"),
                    link: text("link"),
                    images: gen_::images(media_base, h),
                });
            }
            Ok((PinMedia::MultipleImages { items: out }, "CAROUSEL"))
        }
        Some("pin_url") => Err(ApiError::invalid(
            "media_source.source_type 'pin_url' is only available to beta apps.",
        )),
        Some(other) => Err(ApiError::invalid(format!(
            "media_source.source_type has an invalid value (was {other})"
        ))),
        None => Err(ApiError::invalid(
            "Missing required parameter 'media_source.source_type'.",
        )),
    }
}

/// Checks that the caller may put pins on a board (and section), returning its privacy.
fn target_board(
    store: &Store,
    caller: &Caller,
    board_id: u64,
    section: Option<u64>,
) -> Result<(), ApiError> {
    let board = visible_board(store, caller, board_id)?;
    if board.owner != caller.user {
        return Err(ApiError::forbidden());
    }
    if board.privacy == Privacy::Secret {
        caller.require(Scope::PinsWriteSecret)?;
    }
    if let Some(sid) = section {
        match store.sections.get(&sid) {
            Some(s) if s.board == board_id => {}
            _ => return Err(ApiError::section_not_found()),
        }
    }
    Ok(())
}

/// `POST /v5/pins`.
pub async fn create(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let map = json_object(&headers, &body)?;
    let board_id = match digits_field(&map, "board_id")? {
        Field::Value(b) => b,
        _ => return Err(ApiError::invalid("Missing required parameter 'board_id'.")),
    };
    let section = match digits_field(&map, "board_section_id")? {
        Field::Value(s) => Some(s),
        _ => None,
    };
    let texts = text_fields(&map)?;
    let dominant_color = match string_field(&map, "dominant_color", None)? {
        Field::Value(c) => {
            let ok =
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(ApiError::invalid(
                    "Parameter 'dominant_color' must look like #RRGGBB.",
                ));
            }
            Some(c)
        }
        _ => None,
    };
    let parent_pin_id = match digits_field(&map, "parent_pin_id")? {
        Field::Value(p) => Some(p.to_string()),
        _ => None,
    };
    let (media, creative_type) =
        media_from_source(&state.config.media_base_url, map.get("media_source"))?;
    let mut store = state.store_mut();
    target_board(&store, &caller, board_id, section)?;
    let mut pin = Pin {
        id: String::new(),
        created_at: gen_::datetime(now_unix()),
        link: None,
        title: None,
        description: None,
        dominant_color,
        alt_text: None,
        creative_type: Some(creative_type),
        board_id: board_id.to_string(),
        board_section_id: section.map(|s| s.to_string()),
        board_owner: Owner {
            username: store.users[caller.user].username.clone(),
        },
        is_owner: true,
        is_standard: true,
        has_been_promoted: false,
        parent_pin_id,
        pin_metrics: None,
        media,
    };
    apply(texts.title, &mut pin.title);
    apply(texts.description, &mut pin.description);
    apply(texts.alt_text, &mut pin.alt_text);
    apply(texts.link, &mut pin.link);
    let pin = store.create_pin(pin, board_id, section);
    Ok(json_response(StatusCode::CREATED, &pin))
}

/// Finds a pin the caller may change.
fn writable_pin(
    store: &Store,
    caller: &Caller,
    id: u64,
) -> Result<(Pin, u64, Option<u64>), ApiError> {
    let loc = visible_pin(store, caller, id)?;
    let board = store.pin_board(&loc).ok_or_else(ApiError::pin_not_found)?;
    if board.owner != caller.user {
        return Err(ApiError::forbidden());
    }
    if board.privacy == Privacy::Secret {
        caller.require(Scope::PinsWriteSecret)?;
    }
    let pin = store.render(&loc, caller.user, false);
    let section = pin.board_section_id.as_deref().and_then(|s| s.parse().ok());
    Ok((pin, board.id, section))
}

/// `PATCH /v5/pins/{pin_id}`.
pub async fn update(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(pin_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&pin_id, "pin_id")?;
    let map = json_object(&headers, &body)?;
    let texts = text_fields(&map)?;
    let new_board = digits_field(&map, "board_id")?;
    let new_section = digits_field(&map, "board_section_id")?;
    if let Some(slots) = map.get("carousel_slots")
        && !slots.is_array()
    {
        return Err(ApiError::invalid(
            "Parameter 'carousel_slots' must be an array.",
        ));
    }
    let mut store = state.store_mut();
    let (mut pin, board, section) = writable_pin(&store, &caller, id)?;
    let target = match new_board {
        Field::Value(b) => b,
        Field::Null => return Err(ApiError::invalid("Parameter 'board_id' must not be null.")),
        Field::Absent => board,
    };
    let target_section = match new_section {
        Field::Value(s) => Some(s),
        Field::Null => None,
        Field::Absent if target == board => section,
        Field::Absent => None,
    };
    if target != board || target_section != section {
        target_board(&store, &caller, target, target_section)?;
    }
    apply(texts.title, &mut pin.title);
    apply(texts.description, &mut pin.description);
    apply(texts.alt_text, &mut pin.alt_text);
    apply(texts.link, &mut pin.link);
    pin.pin_metrics = None;
    store.put_pin(id, pin, target, target_section);
    let loc = store.locate_pin(id).ok_or_else(ApiError::pin_not_found)?;
    let json = store.render(&loc, caller.user, false);
    Ok(json_response(StatusCode::OK, &json))
}

/// `DELETE /v5/pins/{pin_id}`.
pub async fn delete(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(pin_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query(raw)?;
    super::check_ad_account_param(&state, &params, caller.user)?;
    let id = path_id(&pin_id, "pin_id")?;
    let mut store = state.store_mut();
    writable_pin(&store, &caller, id)?;
    store.delete_pin(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
