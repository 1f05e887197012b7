//! Records kept as the bytes Pinterest sent.
//!
//! Moving records to a file or a table does not need them as a tree of
//! JSON values: a page is parsed once into the spans of its items
//! ([`RawJson`], slices sharing the page's body), and only the few members
//! the caller needs are read from each span ([`RawJson::scalars`]), skipping
//! the rest without building it. [`RawRecord`] is a record of that kind with
//! its typed `id`; writing it out copies its bytes, so every member,
//! including the ones this crate does not know, survives exactly as sent.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use super::Record;
use crate::id::RecordId;

/// One JSON value exactly as Pinterest sent it, on one line.
///
/// Built from parsed JSON text only, so it always holds one valid JSON value
/// in UTF-8. Line breaks between tokens (the only place valid JSON can have
/// them) are removed, so the text can be written as one JSON Lines line;
/// nothing else is changed. Cloning shares the bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Bytes);

impl RawJson {
    /// Checks that `text` is one JSON value (surrounding whitespace allowed)
    /// and keeps it.
    pub fn parse(text: impl Into<Bytes>) -> Result<Self, serde_json::Error> {
        let bytes: Bytes = text.into();
        let raw: &RawValue = serde_json::from_slice(&bytes)?;
        Ok(Self::trusted(bytes.slice_ref(raw.get().as_bytes())))
    }

    /// Wraps bytes already parsed as one JSON value (a span that
    /// `serde_json` produced from valid text).
    pub(crate) fn trusted(bytes: Bytes) -> Self {
        if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
            // JSON strings cannot hold raw line breaks, and UTF-8 sequences
            // never contain these bytes, so every one is whitespace between
            // tokens, and no two tokens need whitespace to stay apart.
            let one_line: Vec<u8> = bytes
                .iter()
                .copied()
                .filter(|b| !matches!(b, b'\n' | b'\r'))
                .collect();
            return Self(Bytes::from(one_line));
        }
        Self(bytes)
    }

    /// The compact text of `value`.
    pub fn from_value(value: &Value) -> Self {
        Self(Bytes::from(value.to_string()))
    }

    /// The text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text.
    ///
    /// # Panics
    ///
    /// Only if the type's invariant (UTF-8 text from a JSON parser) is
    /// broken, which no constructor allows.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("RawJson holds text that serde_json parsed as UTF-8")
    }

    /// Length of the text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty text (never, for a value built by this type).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The whole value as a tree.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }

    /// The value as any deserializable type.
    pub fn deserialize_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }

    /// The top-level members named in `keys`, in the same order, read without
    /// building the rest of the object: strings are borrowed from the text
    /// when they hold no escape, nested objects and arrays are skipped. When a
    /// key appears twice the last one counts, as in a parsed object. Fails
    /// when the value is not an object.
    pub fn scalars<const N: usize>(
        &self,
        keys: [&str; N],
    ) -> Result<[Scalar<'_>; N], serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(&self.0);
        let found = (&mut deserializer).deserialize_map(PickVisitor { keys: &keys })?;
        deserializer.end()?;
        Ok(found)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for RawJson {
    /// Into `serde_json`'s serializers (`to_string`, `to_writer`, sqlx's
    /// `Json`…) the text goes out exactly as it is.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_slice(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A top-level member read by [`RawJson::scalars`].
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// The object has no such member.
    Absent,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string (borrowed from the text when it holds no escape).
    Str(Cow<'a, str>),
    /// An object or an array (not read).
    Nested,
}

impl Scalar<'_> {
    /// The string, if the member is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The number as an `i64`, if the member is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// True unless the member is absent.
    pub fn is_present(&self) -> bool {
        !matches!(self, Scalar::Absent)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v).map_or(Scalar::Null, Scalar::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
}

/// Which of the wanted keys a member's key is.
struct KeySeed<'k> {
    keys: &'k [&'k str],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keys.iter().position(|k| *k == v))
    }
}

struct PickVisitor<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> Visitor<'de> for PickVisitor<'_, N> {
    type Value = [Scalar<'de>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: [Scalar<'de>; N] = std::array::from_fn(|_| Scalar::Absent);
        while let Some(wanted) = map.next_key_seed(KeySeed { keys: self.keys })? {
            match wanted {
                Some(i) => found[i] = map.next_value()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A record kept as the bytes Pinterest sent, with its typed `id`.
///
/// Reading a page of these costs a fraction of reading typed models: only
/// the `id` is read from each item. The bytes are lossless by construction;
/// [`RawRecord::typed`] gives the full model when a caller needs more.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord<I> {
    id: I,
    json: RawJson,
}

impl<I: RecordId> RawRecord<I> {
    /// Checks that `json` is an object with a valid `id` and wraps it; on
    /// failure gives it back with the reason.
    pub fn new(json: RawJson) -> Result<Self, (RawJson, String)> {
        match Self::read_id(&json) {
            Ok(id) => Ok(Self { id, json }),
            Err(reason) => Err((json, reason)),
        }
    }

    fn read_id(json: &RawJson) -> Result<I, String> {
        let what = I::RECORD;
        let [id] = json
            .scalars(["id"])
            .map_err(|_| format!("{what} is not a JSON object"))?;
        let text = match id {
            Scalar::Str(text) => text.into_owned(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Absent => return Err(format!("{what}: `id` is missing")),
            _ => return Err(format!("{what}: `id` is not a string")),
        };
        I::parse(text).map_err(|e| format!("{what}: `id`: {e}"))
    }

    /// The `id`.
    pub fn id(&self) -> &I {
        &self.id
    }

    /// The object exactly as Pinterest sent it.
    pub fn json(&self) -> &RawJson {
        &self.json
    }

    /// The object exactly as Pinterest sent it.
    pub fn into_json(self) -> RawJson {
        self.json
    }

    /// The id and the object.
    pub fn into_parts(self) -> (I, RawJson) {
        (self.id, self.json)
    }

    /// The record as a typed model (e.g. [`super::Board`]), parsed now.
    pub fn typed<T: Record>(&self) -> Result<T, String> {
        T::from_raw(self.json.clone()).map_err(|(_, reason)| reason)
    }
}

impl<I: RecordId> Record for RawRecord<I> {
    const KEEPS_BYTES: bool = true;

    fn from_json(value: Value) -> Result<Self, (Value, String)> {
        Self::new(RawJson::from_value(&value)).map_err(|(_, reason)| (value, reason))
    }

    fn from_raw(raw: RawJson) -> Result<Self, (RawJson, String)> {
        Self::new(raw)
    }
}

impl<I> Serialize for RawRecord<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{BoardId, PinId};

    fn raw(text: &str) -> RawJson {
        RawJson::parse(text.to_owned()).unwrap()
    }

    #[test]
    fn raw_json_keeps_the_text_and_drops_only_line_breaks() {
        assert_eq!(
            raw(r#" {"a" : "é\n", "b":[1, 2]} "#).as_str(),
            r#"{"a" : "é\n", "b":[1, 2]}"#
        );
        assert_eq!(
            raw("{\r\n  \"a\": 1,\n  \"b\": {\n\"c\":true}\n}").as_str(),
            r#"{  "a": 1,  "b": {"c":true}}"#
        );
        assert!(RawJson::parse("{\"a\":1} x").is_err());
        assert!(RawJson::parse(&b"\"\xff\""[..]).is_err());
    }

    #[test]
    fn scalars_read_named_members_and_skip_the_rest() {
        let json = raw(
            r#"{"id":"42","nested":{"id":"no"},"list":[{"id":1}],"n":-3,"esc":"a\"b","t":true,"z":null,"id":"43"}"#,
        );
        let [id, n, esc, t, z, nested, missing] = json
            .scalars(["id", "n", "esc", "t", "z", "nested", "missing"])
            .unwrap();
        assert_eq!(id.as_str(), Some("43"), "the last duplicate counts");
        assert_eq!(n.as_i64(), Some(-3));
        assert_eq!(esc.as_str(), Some("a\"b"));
        assert_eq!(t, Scalar::Bool(true));
        assert_eq!(z, Scalar::Null);
        assert_eq!(nested, Scalar::Nested);
        assert!(!missing.is_present());
        assert!(raw("[1]").scalars(["id"]).is_err());
    }

    #[test]
    fn raw_records_check_the_id_and_keep_every_byte() {
        let text = r#"{"zeta":1,"id":"549755885175","x":{"unknown":[1,2.50,"\u00e9"]}}"#;
        let record = RawRecord::<BoardId>::new(raw(text)).unwrap();
        assert_eq!(record.id().as_str(), "549755885175");
        assert_eq!(record.json().as_str(), text);
        assert_eq!(serde_json::to_string(&record).unwrap(), text);
        let record = RawRecord::<PinId>::new(raw(r#"{"id":12}"#)).unwrap();
        assert_eq!(record.id().as_str(), "12");

        for (text, reason) in [
            (r#"{"id":"../1"}"#, "pin: `id`: invalid pin id"),
            (r#"{"name":"x"}"#, "pin: `id` is missing"),
            (r#"{"id":{"a":1}}"#, "pin: `id` is not a string"),
            (r#"[{"id":"1"}]"#, "pin is not a JSON object"),
        ] {
            let (back, why) = RawRecord::<PinId>::new(raw(text)).unwrap_err();
            assert_eq!(back.as_str(), text);
            assert!(why.starts_with(reason), "{why}");
        }
    }

    #[test]
    fn a_raw_record_gives_its_typed_model() {
        let record = RawRecord::<BoardId>::new(raw(
            r#"{"id":"7","privacy":"SECRET","board_pins_modified_at":"2024-01-01T00:00:00"}"#,
        ))
        .unwrap();
        let board: crate::models::Board = record.typed().unwrap();
        assert_eq!(board.privacy(), Some("SECRET"));
        assert_eq!(
            board.board_pins_modified_at_raw(),
            Some("2024-01-01T00:00:00")
        );
    }
}
