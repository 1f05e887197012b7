//! Pins: the user's pins, one pin, create, update, delete.

use crate::client::{PinterestClient, Request};
use crate::endpoint::{PINS_CREATE, PINS_DELETE, PINS_GET, PINS_LIST, PINS_UPDATE};
use crate::error::ApiError;
use crate::id::PinId;
use crate::models::{Pin, PinCreate, PinUpdate, RawRecord, Record};
use crate::pager::{PageRequest, PageStream};

use super::{ignore_body, invalid, parse_record};

/// Options of the pin lists of a board or a section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinsQuery {
    /// Only pins of these creative types (`REGULAR`, `VIDEO`…), sent as one
    /// `creative_types` parameter per value.
    pub creative_types: Vec<String>,
    /// Ask for `pin_metrics` on each pin.
    pub pin_metrics: bool,
}

impl PinsQuery {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = self
            .creative_types
            .iter()
            .map(|t| ("creative_types", t.clone()))
            .collect();
        if self.pin_metrics {
            pairs.push(("pin_metrics", "true".to_owned()));
        }
        pairs
    }
}

/// The `pin_filter` of `pins/list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinFilter {
    /// Leave out pins created by the user.
    ExcludeNative,
    /// Leave out repins.
    ExcludeRepins,
    /// Only pins that were promoted.
    HasBeenPromoted,
}

impl PinFilter {
    /// The value as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PinFilter::ExcludeNative => "exclude_native",
            PinFilter::ExcludeRepins => "exclude_repins",
            PinFilter::HasBeenPromoted => "has_been_promoted",
        }
    }
}

/// Options of `pins/list` (the user's own pins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinListQuery {
    /// Which pins.
    pub pin_filter: Option<PinFilter>,
    /// Include pins on protected boards.
    pub include_protected_pins: bool,
    /// Only private pins (`pin_type=PRIVATE`).
    pub private_only: bool,
    /// Creative types and metrics, as for board pins.
    pub pins: PinsQuery,
}

/// Options of `pins/get`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinGetQuery {
    /// Ask for `pin_metrics`.
    pub pin_metrics: bool,
}

impl PinterestClient {
    /// Pages of the user's own pins.
    pub fn pins(&self, query: &PinListQuery, page: PageRequest) -> PageStream<Pin> {
        self.pins_as(query, page)
    }

    /// [`PinterestClient::pins`] with each pin kept as the bytes sent.
    pub fn pins_raw(
        &self,
        query: &PinListQuery,
        page: PageRequest,
    ) -> PageStream<RawRecord<PinId>> {
        self.pins_as(query, page)
    }

    /// The pages of [`PinterestClient::pins`] as any record type.
    fn pins_as<T: Record>(&self, query: &PinListQuery, page: PageRequest) -> PageStream<T> {
        let mut pairs = query.pins.pairs();
        if let Some(filter) = query.pin_filter {
            pairs.push(("pin_filter", filter.as_str().to_owned()));
        }
        if query.include_protected_pins {
            pairs.push(("include_protected_pins", "true".to_owned()));
        }
        if query.private_only {
            pairs.push(("pin_type", "PRIVATE".to_owned()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.pages(&PINS_LIST, &[], &pairs, page)
    }

    /// One pin.
    pub async fn pin(&self, pin_id: &PinId, query: PinGetQuery) -> Result<Pin, ApiError> {
        let mut request = Request::new(&PINS_GET, &[("pin_id", pin_id.as_str())])?;
        if query.pin_metrics {
            request = request.query("pin_metrics", "true");
        }
        Ok(self.execute(request, parse_record::<Pin>).await?.value)
    }

    /// Creates a pin, after checking Pinterest's length limits. A 429 is
    /// waited out and repeated (Pinterest did not apply it); a 5xx, timeout
    /// or dropped connection is [`ApiError::Ambiguous`] and is not repeated,
    /// so the caller can look for the pin before creating it again.
    pub async fn create_pin(&self, body: &PinCreate) -> Result<Pin, ApiError> {
        body.validate().map_err(|e| invalid(&PINS_CREATE, e))?;
        let request = Request::new(&PINS_CREATE, &[])?.json_body(body)?;
        Ok(self.execute(request, parse_record::<Pin>).await?.value)
    }

    /// Updates a pin's text, link or board.
    pub async fn update_pin(&self, pin_id: &PinId, body: &PinUpdate) -> Result<Pin, ApiError> {
        body.validate().map_err(|e| invalid(&PINS_UPDATE, e))?;
        let request =
            Request::new(&PINS_UPDATE, &[("pin_id", pin_id.as_str())])?.json_body(body)?;
        Ok(self.execute(request, parse_record::<Pin>).await?.value)
    }

    /// Deletes a pin.
    pub async fn delete_pin(&self, pin_id: &PinId) -> Result<(), ApiError> {
        let request = Request::new(&PINS_DELETE, &[("pin_id", pin_id.as_str())])?;
        self.execute(request, ignore_body).await.map(|_| ())
    }
}
