//! The fast mongoexport reader: a document straight into an event, without
//! building a JSON value and a BSON document first (the hot path of JSON
//! input).
//!
//! It takes a strict subset of Extended JSON, the shapes mongoexport writes
//! for an event (canonical or relaxed), and gives exactly the event the
//! generic conversion (`serde_json::Value` → `bson::Bson` →
//! [`stream_codec::event_from_document`]) gives for it. Anything else (a
//! repeated key, a key starting with `$` where a document is expected,
//! another Extended JSON type, a retention anchor, an invalid value) is
//! declined: an error, or `None` from [`Event::into_event`], and the
//! generic conversion reads the document again and decides, with its
//! reason.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use crate::input::MAX_DETAILS;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use stream_chain::{
    ChainId, Detail, DetailValue, Seal, SealedEvent, SecretId, SensitiveValue, Status,
};

/// Declines the document: the generic conversion takes over.
fn decline<E: de::Error>() -> E {
    E::custom("not in the fast reader's subset")
}

/// The next key of a document's map, declining one starting with `$`
/// (an Extended JSON type where a document is expected).
fn next_key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Text<'de>>, A::Error> {
    // A key with NUL cannot be BSON: the generic reader says so.
    match map.next_key::<Text<'de>>()? {
        Some(key) if key.0.starts_with('$') || key.0.contains('\0') => Err(decline()),
        key => Ok(key),
    }
}

/// Fills a field's slot, declining a repeated key (the generic
/// conversion keeps the last value; the fast reader does not choose).
fn fill<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(decline()),
    }
}

thread_local! {
    /// How many more values the current [`Shape::read`] counts in detail.
    static BUDGET: Cell<usize> = const { Cell::new(0) };
}

/// Counts one value against [`BUDGET`]; `false` once it is spent.
fn spend() -> bool {
    BUDGET.with(|budget| {
        let left = budget.get();
        budget.set(left.saturating_sub(1));
        left > 0
    })
}

/// Any JSON value, checked for a key repeated in one object at any depth
/// (RFC 8259 leaves such a document's meaning to each reader: one takes
/// the first value, another the last), its values counted. Nothing is
/// kept but the keys of the objects being read, and only of the first
/// values of the document: the count is bounded (see [`Shape::read`]).
pub struct Shape {
    /// A key appears twice in one object.
    pub repeated: bool,
}

impl Shape {
    /// Reads one JSON value from `text`, which holds exactly it: its shape,
    /// and whether it has more than `max` values (keys included). Repeated
    /// keys are looked for among the first `max` only: a document with
    /// more is not read by the generic conversion, and the fast reader
    /// declines repeated keys itself.
    pub fn read(text: &[u8], max: usize) -> Result<(Shape, bool), serde_json::Error> {
        BUDGET.with(|budget| budget.set(max.saturating_add(1)));
        let shape = serde_json::from_slice::<Shape>(text)?;
        let over = BUDGET.with(Cell::get) == 0;
        Ok((shape, over))
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits any value.
        struct V;
        /// A scalar.
        fn scalar<E>() -> Result<Shape, E> {
            spend();
            Ok(Shape { repeated: false })
        }
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
                scalar()
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
                scalar()
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
                scalar()
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
                scalar()
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
                scalar()
            }
            fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
                scalar()
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                spend();
                let mut repeated = false;
                while let Some(item) = seq.next_element::<Shape>()? {
                    repeated |= item.repeated;
                }
                Ok(Shape { repeated })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                spend();
                let mut repeated = false;
                let mut seen = std::collections::HashSet::new();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let counted = spend();
                    repeated |= map.next_value::<Shape>()?.repeated;
                    if counted && !seen.insert(key.0) {
                        repeated = true;
                    }
                }
                Ok(Shape { repeated })
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
pub struct Text<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits a string.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An integer as the generic conversion reads one: a JSON number (a
/// float only if integral and below 9e15), `{"$numberLong": "…"}` or
/// `{"$numberInt": "…"}`.
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits an integer.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v).map(Int).map_err(|_| decline())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Int(v as i64))
                } else {
                    Err(decline())
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Int, A::Error> {
                let key = map.next_key::<Text<'de>>()?.ok_or_else(decline)?;
                let text = map.next_value::<Text<'de>>()?;
                let value = match &*key.0 {
                    "$numberLong" => text.0.parse::<i64>().map_err(|_| decline())?,
                    "$numberInt" => i64::from(text.0.parse::<i32>().map_err(|_| decline())?),
                    _ => return Err(decline()),
                };
                match map.next_key::<de::IgnoredAny>()? {
                    None => Ok(Int(value)),
                    Some(_) => Err(decline()),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A date in milliseconds: `{"$date": {"$numberLong": "…"}}`,
/// `{"$date": "<RFC 3339>"}` or `{"$date": <integer>}`; `None` for
/// `null`.
pub struct Date(pub Option<i64>);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The body of `$date`.
        struct Body(i64);
        impl<'de> Deserialize<'de> for Body {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                /// Visits the body of `$date`.
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Body;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a date")
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Body, E> {
                        Ok(Body(v))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Body, E> {
                        i64::try_from(v).map(Body).map_err(|_| decline())
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Body, E> {
                        bson::DateTime::parse_rfc3339_str(v)
                            .map(|d| Body(d.timestamp_millis()))
                            .map_err(|_| decline())
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                        match map.next_key::<Text<'de>>()? {
                            Some(key) if key.0 == "$numberLong" => {}
                            _ => return Err(decline()),
                        }
                        let text = map.next_value::<Text<'de>>()?;
                        let millis = text.0.parse::<i64>().map_err(|_| decline())?;
                        match map.next_key::<de::IgnoredAny>()? {
                            None => Ok(Body(millis)),
                            Some(_) => Err(decline()),
                        }
                    }
                }
                d.deserialize_any(V)
            }
        }

        /// Visits a date or `null`.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Date;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Date, E> {
                Ok(Date(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
                match map.next_key::<Text<'de>>()? {
                    Some(key) if key.0 == "$date" => {}
                    _ => return Err(decline()),
                }
                let body = map.next_value::<Body>()?;
                match map.next_key::<de::IgnoredAny>()? {
                    None => Ok(Date(Some(body.0))),
                    Some(_) => Err(decline()),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Binary data: `{"$binary": {"base64": "…", "subType": "<2 hex>"}}`;
/// `None` for `null`.
pub struct Bin(pub Option<Vec<u8>>);

impl<'de> Deserialize<'de> for Bin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The body of `$binary`.
        struct Body(Vec<u8>);
        impl<'de> Deserialize<'de> for Body {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                /// Visits the body of `$binary`.
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Body;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a binary body")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                        let (mut base64, mut subtype) = (None, None);
                        while let Some(key) = map.next_key::<Text<'de>>()? {
                            let slot = match &*key.0 {
                                "base64" => &mut base64,
                                "subType" => &mut subtype,
                                _ => return Err(decline()),
                            };
                            if slot.replace(map.next_value::<Text<'de>>()?).is_some() {
                                return Err(decline());
                            }
                        }
                        let (Some(base64), Some(subtype)) = (base64, subtype) else {
                            return Err(decline());
                        };
                        // One byte in hex, as the generic conversion requires.
                        if !(subtype.0.len() == 2
                            && subtype.0.bytes().all(|b| b.is_ascii_hexdigit()))
                        {
                            return Err(decline());
                        }
                        base64::engine::general_purpose::STANDARD
                            .decode(base64.0.as_bytes())
                            .map(Body)
                            .map_err(|_| decline())
                    }
                }
                d.deserialize_map(V)
            }
        }

        /// Visits binary data or `null`.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bin;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("binary data")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bin, E> {
                Ok(Bin(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bin, A::Error> {
                match map.next_key::<Text<'de>>()? {
                    Some(key) if key.0 == "$binary" => {}
                    _ => return Err(decline()),
                }
                let body = map.next_value::<Body>()?;
                match map.next_key::<de::IgnoredAny>()? {
                    None => Ok(Bin(Some(body.0))),
                    Some(_) => Err(decline()),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A value of a field the event does not have (`_id`, `terms`, …):
/// checked, so that a document the generic conversion refuses is
/// declined, then dropped. Of Extended JSON types only `$oid` is taken.
struct Other;

impl<'de> Deserialize<'de> for Other {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits any value.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Other;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Other, E> {
                Ok(Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Other, E> {
                Ok(Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Other, E> {
                Ok(Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Other, E> {
                Ok(Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Other, E> {
                Ok(Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Other, E> {
                Ok(Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Other, A::Error> {
                while seq.next_element::<Other>()?.is_some() {}
                Ok(Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Other, A::Error> {
                let mut first = true;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if key.0 == "$oid" && first {
                        let hex = map.next_value::<Text<'de>>()?;
                        let valid =
                            hex.0.len() == 24 && hex.0.bytes().all(|b| b.is_ascii_hexdigit());
                        return match map.next_key::<de::IgnoredAny>()? {
                            None if valid => Ok(Other),
                            _ => Err(decline()),
                        };
                    }
                    // A `$` key, or a second key (which could repeat the
                    // first): the generic reader decides.
                    if key.0.starts_with('$') || key.0.contains('\0') || !first {
                        return Err(decline());
                    }
                    map.next_value::<Other>()?;
                    first = false;
                }
                Ok(Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// `details[i].secure`.
struct Secure {
    /// `dek`: the wrapped data key, `None` when shredded.
    dek: Option<Vec<u8>>,
    /// `ct`: the payload.
    ct: Vec<u8>,
}

impl<'de> Deserialize<'de> for Secure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits `secure`.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Secure;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secure value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secure, A::Error> {
                let (mut dek, mut ct) = (None, None);
                while let Some(key) = next_key(&mut map)? {
                    match &*key.0 {
                        "dek" => fill(&mut dek, map.next_value::<Bin>()?.0)?,
                        "ct" => fill(&mut ct, map.next_value::<Bin>()?.0)?,
                        // Not a field of a secure value: the generic reader
                        // decides (and checks for repeated keys).
                        _ => return Err(decline()),
                    }
                }
                Ok(Secure {
                    dek: dek.flatten(),
                    ct: ct.flatten().ok_or_else(decline)?,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// One of `details`.
struct DetailItem(Detail);

impl<'de> Deserialize<'de> for DetailItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits a detail.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DetailItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a detail")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailItem, A::Error> {
                let (mut k, mut v, mut secure) = (None, None, None);
                while let Some(key) = next_key(&mut map)? {
                    match &*key.0 {
                        "k" => fill(&mut k, map.next_value::<Text<'de>>()?)?,
                        "v" => fill(&mut v, map.next_value::<Text<'de>>()?)?,
                        "secure" => fill(&mut secure, map.next_value::<Secure>()?)?,
                        // Not a field of a detail: the generic reader
                        // decides (and checks for repeated keys).
                        _ => return Err(decline()),
                    }
                }
                let value = match (v, secure) {
                    (Some(v), None) => DetailValue::Public(v.0.into_owned()),
                    (None, Some(s)) => DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: s.dek,
                        payload: s.ct,
                    }),
                    _ => return Err(decline()),
                };
                Ok(DetailItem(Detail {
                    key: k.ok_or_else(decline)?.0.into_owned(),
                    value,
                }))
            }
        }
        d.deserialize_map(V)
    }
}

/// `details`: an array, or `null`.
struct Details(Vec<Detail>);

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits `details`.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Details;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("details")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Details, A::Error> {
                let mut details = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
                while let Some(DetailItem(detail)) = seq.next_element()? {
                    // More than the verifier reads: the framing pass counts
                    // the document's values, too many for the generic
                    // reader, and the document is a finding.
                    if details.len() >= MAX_DETAILS {
                        return Err(decline());
                    }
                    details.push(detail);
                }
                Ok(Details(details))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `code` of a document, read without decoding anything else (the
/// first pass over an input wants only shred and rotation records); `None`
/// when it is missing, not a string, or repeated: the document is then
/// read in full.
pub struct Code<'de>(pub Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Code<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits a document for its code.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Code<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a document")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Code<'de>, A::Error> {
                let mut code = None;
                let mut clear = true;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if key.0 == "code" {
                        match map.next_value::<Option<Text<'de>>>() {
                            Ok(Some(text)) if code.is_none() => code = Some(text.0),
                            Ok(_) => clear = false,
                            Err(e) => return Err(e),
                        }
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(Code(code.filter(|_| clear)))
            }
        }
        d.deserialize_map(V)
    }
}

/// The fields of an event document, as read.
#[derive(Default)]
pub struct Event<'de> {
    /// `v`.
    v: Option<i64>,
    /// `chain`.
    chain: Option<Cow<'de, str>>,
    /// `seq`.
    seq: Option<i64>,
    /// `timestamp` (`Some(None)` for `null`).
    timestamp: Option<Option<i64>>,
    /// `code`.
    code: Option<Cow<'de, str>>,
    /// `module`.
    module: Option<Cow<'de, str>>,
    /// `node`.
    node: Option<Cow<'de, str>>,
    /// `status`.
    status: Option<Cow<'de, str>>,
    /// `details`.
    details: Option<Vec<Detail>>,
    /// `removeAt` (`Some(None)` for `null`).
    remove_at: Option<Option<i64>>,
    /// `secretId`.
    secret_id: Option<Cow<'de, str>>,
    /// `prev`.
    prev: Option<Option<Vec<u8>>>,
    /// `seal`.
    seal: Option<Option<Vec<u8>>>,
    /// `anchor`, when `null` (any other value is declined).
    anchor: Option<()>,
    /// `eventId` (format 3).
    event_id: Option<Cow<'de, str>>,
    /// `eventKey` (derived from chain and `eventId`).
    event_key: Option<Cow<'de, str>>,
    /// `terms` (derived from the public details, not sealed).
    terms: Option<Vec<Cow<'de, str>>>,
}

/// `terms`: an array of strings, at most [`MAX_DETAILS`] (one per public
/// detail); anything else is declined.
struct Terms<'de>(Vec<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Terms<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits the terms array.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Terms<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of search terms")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Terms<'de>, A::Error> {
                let mut terms = Vec::new();
                while let Some(term) = seq.next_element::<Text<'de>>()? {
                    if terms.len() >= MAX_DETAILS {
                        return Err(decline());
                    }
                    terms.push(term.0);
                }
                Ok(Terms(terms))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for Event<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Visits an event document.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event document")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event<'de>, A::Error> {
                let mut e = Event::default();
                // Fields the event does not read, seen once each: a
                // repeated key makes the document malformed (the generic
                // reader says so), whatever the key.
                let mut id = None;
                while let Some(key) = next_key(&mut map)? {
                    match &*key.0 {
                        "v" => fill(&mut e.v, map.next_value::<Int>()?.0)?,
                        "chain" => fill(&mut e.chain, map.next_value::<Text<'de>>()?.0)?,
                        "seq" => fill(&mut e.seq, map.next_value::<Int>()?.0)?,
                        "timestamp" => fill(&mut e.timestamp, map.next_value::<Date>()?.0)?,
                        "code" => fill(&mut e.code, map.next_value::<Text<'de>>()?.0)?,
                        "module" => fill(&mut e.module, map.next_value::<Text<'de>>()?.0)?,
                        "node" => fill(&mut e.node, map.next_value::<Text<'de>>()?.0)?,
                        "status" => fill(&mut e.status, map.next_value::<Text<'de>>()?.0)?,
                        "details" => fill(&mut e.details, map.next_value::<Details>()?.0)?,
                        "removeAt" => fill(&mut e.remove_at, map.next_value::<Date>()?.0)?,
                        "secretId" => {
                            fill(&mut e.secret_id, map.next_value::<Text<'de>>()?.0)?;
                        }
                        "prev" => fill(&mut e.prev, map.next_value::<Bin>()?.0)?,
                        "seal" => fill(&mut e.seal, map.next_value::<Bin>()?.0)?,
                        "eventId" => fill(&mut e.event_id, map.next_value::<Text<'de>>()?.0)?,
                        "eventKey" => {
                            fill(&mut e.event_key, map.next_value::<Text<'de>>()?.0)?;
                        }
                        // A retention anchor is rare: the generic
                        // conversion reads it.
                        // So is a stub (`purged`).
                        "anchor" | "purged" => {
                            fill(&mut e.anchor, ())?;
                            map.next_value::<Option<de::IgnoredAny>>()?
                                .map_or(Ok(()), |_| Err(decline()))?;
                        }
                        "_id" => fill(&mut id, map.next_value::<Other>()?)?,
                        "terms" => fill(&mut e.terms, map.next_value::<Terms<'de>>()?.0)?,
                        // A field that is not an event's (a warning, and
                        // a rare document): the generic reader reports it.
                        _ => return Err(decline()),
                    }
                }
                Ok(e)
            }
        }
        d.deserialize_map(V)
    }
}

impl Event<'_> {
    /// The event, if the document is a valid one, and why its stored
    /// search terms are not the event's, if they are not; `None` leaves
    /// the document to the generic conversion (and its reason).
    pub fn into_event(self) -> Option<(SealedEvent, Option<String>)> {
        let event_key = self.event_key;
        let terms = self.terms.unwrap_or_default();
        let event = SealedEvent {
            version: u8::try_from(self.v?).ok()?,
            chain: ChainId::new(&self.chain?).ok()?,
            seq: u64::try_from(self.seq?).ok()?,
            timestamp_ms: self.timestamp??,
            code: self.code?.into_owned(),
            module: self.module?.into_owned(),
            node: self.node?.into_owned(),
            status: Status::parse(&self.status?)?,
            details: self.details.unwrap_or_default(),
            remove_at_ms: self.remove_at.flatten(),
            secret_id: SecretId::from_hex(&self.secret_id?)?,
            prev: Seal::from_slice(&self.prev??)?,
            seal: Seal::from_slice(&self.seal??)?,
            anchor: None,
            purged: None,
            event_id: self.event_id.map(Cow::into_owned),
        };
        // A shape its version does not allow, or an `eventKey` that is
        // not the one derived from chain and id: the generic conversion
        // names what is wrong.
        let key_ok = match (&event.event_id, event_key.as_deref()) {
            (None, None) => true,
            (Some(id), Some(key)) => key == stream_codec::event_key(&event.chain, id),
            _ => false,
        };
        if !(key_ok && event.shape_error().is_none()) {
            return None;
        }
        let terms = stream_codec::terms_mismatch(&event, terms.iter().map(|t| Some(&**t)));
        Some((event, terms))
    }
}
