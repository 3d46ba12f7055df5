//! The BSON shape of a sealed event, and back.
//!
//! ```text
//! { v: 1, chain, seq: Int64, timestamp: Date, code, module, node, status,
//!   details: [ {k, v} | {k, secure: {dek: BinData | null, ct: BinData}} ],
//!   terms: ["<len>:<key>=<value>", ...] (public details, for search),
//!   removeAt?: Date, secretId: hex, prev: BinData(32), seal: BinData(32),
//!   anchor?: {chain, firstSeq, prev, created, secretId, seal} }
//! ```
//! A stub (an event purged by retention, format 2) keeps only what its seal
//! covers directly and the purge mark, no content:
//! ```text
//! { v: 2, chain, seq, timestamp, removeAt, secretId, prev, seal,
//!   purged: {digest: BinData(32), at: Date, secretId: hex, seal: BinData(32)},
//!   anchor? }
//! ```
//! Reading accepts what mongoexport/mongodump and the relaxed Extended JSON
//! make of it (integers of any width, dates as dates). A mongodump record
//! can be read without building a [`Document`] first: see
//! [`event_from_raw`].

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Document, RawBsonRef, RawDocument, RawDocumentBuf};
use stream_chain::{
    Anchor, ChainId, Detail, DetailValue, FindingKind, PurgeMark, Seal, SealedEvent, SecretId,
    SensitiveValue, Status,
};

/// A record that is not a valid event, with what could be read of where it
/// stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// The chain, if readable.
    pub chain: Option<ChainId>,
    /// The sequence number, if readable.
    pub seq: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// Generic BSON binary.
pub fn binary(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    })
}

/// The BSON document of an event (of its stub, if it was purged: the same
/// fields without the content, and the purge mark).
pub fn event_to_document(event: &SealedEvent) -> Document {
    let mut document = doc! {
        "_id": event_doc_id(&event.chain, event.seq),
        "v": i32::from(event.version),
        "chain": event.chain.as_str(),
        "seq": seq_to_bson(event.seq),
        "timestamp": DateTime::from_millis(event.timestamp_ms),
    };
    if event.purged.is_none() {
        insert_content(&mut document, event);
    }
    if let (Some(id), None) = (&event.event_id, &event.purged) {
        document.insert("eventId", id);
        document.insert("eventKey", event_key(&event.chain, id));
    }
    if let Some(remove_at) = event.remove_at_ms {
        document.insert("removeAt", DateTime::from_millis(remove_at));
    }
    document.insert("secretId", event.secret_id.to_hex());
    document.insert("prev", binary(&event.prev.0));
    document.insert("seal", binary(&event.seal.0));
    if let Some(mark) = &event.purged {
        document.insert("purged", purge_mark_to_document(mark));
    }
    if let Some(anchor) = &event.anchor {
        document.insert("anchor", anchor_to_document(anchor));
    }
    document
}

/// The derived key of the unique, sparse `event_key` index, which makes an
/// event id unique in its chain (not sealed, not read back: what it finds
/// is checked against the sealed id): `<chain length>:<chain>:<event id>`.
pub fn event_key(chain: &ChainId, id: &str) -> String {
    format!("{}:{}:{id}", chain.as_str().len(), chain.as_str())
}

/// The content fields of an event, and the derived `terms`.
fn insert_content(document: &mut Document, event: &SealedEvent) {
    let details: Vec<Bson> = event
        .details
        .iter()
        .map(|d| {
            Bson::Document(match &d.value {
                DetailValue::Public(v) => doc! { "k": &d.key, "v": v },
                DetailValue::Sensitive(s) => doc! {
                    "k": &d.key,
                    "secure": {
                        "dek": s.wrapped_dek.as_deref().map_or(Bson::Null, binary),
                        "ct": binary(&s.payload),
                    },
                },
            })
        })
        .collect();
    document.insert("code", &event.code);
    document.insert("module", &event.module);
    document.insert("node", &event.node);
    document.insert("status", event.status.as_str());
    document.insert("details", details);
    // Derived, for search only (not read back, not sealed): one string per
    // public detail, `<key length>:<key>=<value>`, so that an equality on an
    // array element finds it on every server.
    let terms: Vec<Bson> = search_terms(event).into_iter().map(Bson::String).collect();
    document.insert("terms", terms);
}

/// The search terms of `event` as stored in its document's `terms`: one
/// per public detail, in detail order ([`search_term`]). Derived from the
/// sealed details, not sealed themselves.
pub fn search_terms(event: &SealedEvent) -> Vec<String> {
    event
        .details
        .iter()
        .filter_map(|d| match &d.value {
            DetailValue::Public(v) => Some(search_term(&d.key, v)),
            DetailValue::Sensitive(_) => None,
        })
        .collect()
}

/// Why the stored `terms` of `event`'s document are not its
/// [`search_terms`], if they are not: `stored` holds each array element in
/// order (`None` for one that is not a string); a missing field is an
/// empty array. Stubs hold none.
pub fn terms_mismatch<'a>(
    event: &SealedEvent,
    stored: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<String> {
    // (Compared in place: no term is built for an event whose terms are
    // right, the case of every event of the hot loop.)
    let public = event.details.iter().filter_map(|d| match &d.value {
        DetailValue::Public(v) if !event.is_stub() => Some((d.key.as_str(), v.as_str())),
        _ => None,
    });
    let mut stored = stored.into_iter();
    let mut count = 0;
    for (i, (key, value)) in public.enumerate() {
        count = i + 1;
        match stored.next() {
            Some(Some(have)) if is_term(have, key, value) => {}
            Some(Some(have)) => {
                let want = shown_term(key, value);
                return Some(format!("term {i} is `{}`, not `{want}`", cut(have)));
            }
            Some(None) => return Some(format!("term {i} is not a string")),
            None => {
                let want = shown_term(key, value);
                return Some(format!("term {i} (`{want}`) is missing"));
            }
        }
    }
    match stored.next() {
        None => None,
        Some(Some(extra)) => Some(format!(
            "term {count} (`{}`) is not the event's",
            cut(extra)
        )),
        Some(None) => Some(format!("term {count} is not a string")),
    }
}

/// The first 64 characters of [`search_term`]`(key, value)`, for a
/// message, without building the term (a value may be 16 MiB).
fn shown_term(key: &str, value: &str) -> String {
    let len = key.len().to_string();
    let whole = len.len() + 1 + key.len() + 1 + value.len();
    let mut out: String = len
        .chars()
        .chain([':'])
        .chain(key.chars())
        .chain(['='])
        .chain(value.chars())
        .take(64)
        .collect();
    if out.len() < whole {
        out.push('…');
    }
    out
}

/// Whether `term` is [`search_term`]`(key, value)`.
fn is_term(term: &str, key: &str, value: &str) -> bool {
    let Some((len, rest)) = term.split_once(':') else {
        return false;
    };
    let canonical = !len.is_empty() && (len == "0" || !len.starts_with('0'));
    canonical
        && len.bytes().all(|b| b.is_ascii_digit())
        && len.parse::<usize>() == Ok(key.len())
        && rest
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            == Some(value)
}

/// At most 64 characters of `text`, for a message (hostile text may be
/// megabytes long).
fn cut(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The BSON document of a purge mark (field `purged` of a stub).
pub fn purge_mark_to_document(mark: &PurgeMark) -> Document {
    doc! {
        "digest": binary(&mark.digest),
        "at": DateTime::from_millis(mark.purged_ms),
        "secretId": mark.secret_id.to_hex(),
        "seal": binary(&mark.seal.0),
    }
}

/// The `_id` of the document of event `seq` of `chain`:
/// `<byte length of chain>:<chain>#<seq>`, unambiguous for any chain id.
/// A point lookup by `_id` is O(1) on every MongoDB-compatible server,
/// without relying on a query planner (FerretDB scans for anything else).
/// Derived, not sealed: the unique `(chain, seq)` index stays what
/// correctness rests on, and the codec ignores `_id` when reading.
pub fn event_doc_id(chain: &ChainId, seq: u64) -> String {
    format!("{}:{}#{seq}", chain.as_str().len(), chain.as_str())
}

/// The search term of a public detail (field `terms`).
pub fn search_term(key: &str, value: &str) -> String {
    format!("{}:{key}={value}", key.len())
}

/// A sequence number as stored (Int64; sequence numbers stay far below
/// 2^63).
pub fn seq_to_bson(seq: u64) -> Bson {
    Bson::Int64(i64::try_from(seq).unwrap_or(i64::MAX))
}

/// The BSON document of a retention anchor.
pub fn anchor_to_document(anchor: &Anchor) -> Document {
    doc! {
        "chain": anchor.chain.as_str(),
        "firstSeq": seq_to_bson(anchor.first_seq),
        "prev": binary(&anchor.prev.0),
        "created": DateTime::from_millis(anchor.created_ms),
        "secretId": anchor.secret_id.to_hex(),
        "seal": binary(&anchor.seal.0),
    }
}

/// Reads an event from its BSON document: the same reader as
/// [`event_from_raw`], after encoding the document.
pub fn event_from_document(document: &Document) -> Result<SealedEvent, Malformed> {
    event_from_raw(&encoded(document)?)
}

/// [`event_from_document`], also checking the unsealed fields as
/// [`event_from_raw_noting`] does.
pub fn event_from_document_noting(
    document: &Document,
    unsealed: &mut Vec<FindingKind>,
) -> Result<SealedEvent, Malformed> {
    event_from_raw_noting(&encoded(document)?, unsealed)
}

/// The raw bytes of `document`, or why it cannot be BSON (at its chain and
/// sequence number when it has them).
fn encoded(document: &Document) -> Result<RawDocumentBuf, Malformed> {
    RawDocumentBuf::try_from(document).map_err(|e| Malformed {
        chain: document
            .get_str("chain")
            .ok()
            .and_then(|c| ChainId::new(c).ok()),
        seq: match document.get("seq") {
            Some(Bson::Int64(s)) => u64::try_from(*s).ok(),
            Some(Bson::Int32(s)) => u64::try_from(*s).ok(),
            _ => None,
        },
        reason: format!("not encodable as BSON: {e}"),
    })
}

/// Reads an event straight from its raw BSON (a mongodump record, a raw
/// cursor batch), without building a [`Document`] first: what
/// [`event_from_document`] gives for the same document, at a fraction of
/// the cost.
///
/// The same fields are read with the same rules and messages. A key
/// present twice at the top level (or in a detail, `secure`, `anchor`,
/// `purged`: the keys read there) makes the document malformed: readers that
/// take the first value and readers that take the last (a [`Document`])
/// would otherwise see different events. Unlike a
/// conversion to [`Document`], only the event's own fields are decoded
/// (the derived `terms`, `_id` and unknown fields are skipped, not
/// validated), and a nested document is entered only where an event has
/// one (`details`, `secure`, `anchor`), never recursively: the nesting
/// depth of a hostile document costs nothing.
pub fn event_from_raw(document: &RawDocument) -> Result<SealedEvent, Malformed> {
    read_raw(document).map(|(event, _)| event)
}

/// [`event_from_raw`], also checking what no seal covers in the document
/// of an event it reads: pushes to `unsealed` a [`FindingKind::Terms`] when
/// the stored search terms are not the event's ([`terms_mismatch`]), and a
/// [`FindingKind::UnknownField`] for each field that is not an event's (at
/// most 32: more make the document malformed).
pub fn event_from_raw_noting(
    document: &RawDocument,
    unsealed: &mut Vec<FindingKind>,
) -> Result<SealedEvent, Malformed> {
    let (event, f) = read_raw(document)?;
    // (Read in place: nothing allocated for an event whose terms are
    // right.)
    let why = match f.terms {
        None => terms_mismatch(&event, std::iter::empty()),
        Some(RawBsonRef::Array(terms)) => {
            let mut broken = false;
            let stored = terms.into_iter().map_while(|term| match term {
                Ok(term) => Some(term.as_str()),
                Err(_) => {
                    broken = true;
                    None
                }
            });
            let why = terms_mismatch(&event, stored);
            if broken {
                Some("the terms array is not valid BSON".to_owned())
            } else {
                why
            }
        }
        Some(_) => terms_mismatch(&event, [None]),
    };
    unsealed.extend(why.map(FindingKind::Terms));
    unsealed.extend(
        f.others
            .iter()
            .map(|key| FindingKind::UnknownField(cut(key))),
    );
    Ok(event)
}

/// The event of a raw document, and the fields found in it.
fn read_raw(document: &RawDocument) -> Result<(SealedEvent, RawFields<'_>), Malformed> {
    let mut f = RawFields::default();
    let walked = f.walk(document);
    let chain = match f.chain {
        Some(RawBsonRef::String(c)) => ChainId::new(c).ok(),
        _ => None,
    };
    let seq = f.seq.and_then(raw_as_u64);
    let malformed = |reason: String| Malformed {
        chain: chain.clone(),
        seq,
        reason,
    };
    walked.map_err(|e| malformed(format!("not a valid BSON document: {e}")))?;
    if let Some(key) = f.repeated {
        return Err(malformed(repeated(key)));
    }
    if f.too_many {
        return Err(malformed(format!(
            "more than {MAX_OTHER_KEYS} fields that are not an event's: not an event document"
        )));
    }
    let version = raw_int("v", f.v).map_err(&malformed)?;
    let version = u8::try_from(version)
        .map_err(|_| malformed(format!("unknown format version {version}")))?;
    let purged = match f.purged {
        None | Some(RawBsonRef::Null) => None,
        Some(RawBsonRef::Document(p)) => Some(raw_purge_mark(p).map_err(&malformed)?),
        Some(_) => return Err(malformed("field `purged`: not a document".into())),
    };
    let event = match purged {
        Some(purged) => raw_stub(&f, version, chain.clone(), seq, purged).map_err(&malformed)?,
        None => raw_full(&f, version, chain.clone(), seq, &malformed)?,
    };
    match event.shape_error() {
        Some(reason) => Err(Malformed {
            chain: Some(event.chain),
            seq: Some(event.seq),
            reason,
        }),
        None => Ok((event, f)),
    }
}

/// An event with its content.
fn raw_full(
    f: &RawFields<'_>,
    version: u8,
    chain: Option<ChainId>,
    seq: Option<u64>,
    malformed: &dyn Fn(String) -> Malformed,
) -> Result<SealedEvent, Malformed> {
    let event = SealedEvent {
        version,
        chain: chain.clone().ok_or_else(|| {
            malformed("field `chain`: missing or not a string of 1 to 256 bytes".into())
        })?,
        seq: seq.ok_or_else(|| {
            malformed("field `seq`: missing or not a non-negative integer".into())
        })?,
        timestamp_ms: raw_date("timestamp", f.timestamp).map_err(&malformed)?,
        code: raw_string("code", f.code).map_err(&malformed)?.to_owned(),
        module: raw_string("module", f.module)
            .map_err(&malformed)?
            .to_owned(),
        node: raw_string("node", f.node).map_err(&malformed)?.to_owned(),
        status: Status::parse(raw_string("status", f.status).map_err(&malformed)?)
            .ok_or_else(|| malformed("field `status`: not success, warning or failure".into()))?,
        details: raw_details(f.details).map_err(&malformed)?,
        remove_at_ms: match f.remove_at {
            None | Some(RawBsonRef::Null) => None,
            value => Some(raw_date("removeAt", value).map_err(&malformed)?),
        },
        secret_id: SecretId::from_hex(raw_string("secretId", f.secret_id).map_err(&malformed)?)
            .ok_or_else(|| malformed("field `secretId`: not 16 hex characters".into()))?,
        prev: raw_seal("prev", f.prev).map_err(&malformed)?,
        seal: raw_seal("seal", f.seal).map_err(&malformed)?,
        anchor: match f.anchor {
            None | Some(RawBsonRef::Null) => None,
            Some(RawBsonRef::Document(a)) => Some(raw_anchor(a).map_err(&malformed)?),
            Some(_) => return Err(malformed("field `anchor`: not a document".into())),
        },
        purged: None,
        event_id: match f.event_id {
            None => None,
            Some(RawBsonRef::String(id)) => Some(id.to_owned()),
            Some(_) => return Err(malformed("field `eventId`: not a string".into())),
        },
    };
    // The key the uniqueness of ids rests on is derived, not sealed: one
    // removed or changed (a second event stored under a sealed id) is
    // found here.
    let key_ok = match (&event.event_id, f.event_key) {
        (None, None) => true,
        (Some(id), Some(RawBsonRef::String(key))) => key == event_key(&event.chain, id),
        _ => false,
    };
    if !key_ok {
        return Err(malformed(
            "field `eventKey`: missing, present without an event id, or not the key of its chain and event id".into(),
        ));
    }
    Ok(event)
}

/// A stub: no content field may be there (a stub cannot hide content the
/// verifier would not look at).
fn raw_stub(
    f: &RawFields<'_>,
    version: u8,
    chain: Option<ChainId>,
    seq: Option<u64>,
    purged: PurgeMark,
) -> Result<SealedEvent, String> {
    let content = [
        ("code", f.code),
        ("module", f.module),
        ("node", f.node),
        ("status", f.status),
        ("details", f.details),
        ("eventId", f.event_id),
        ("eventKey", f.event_key),
    ];
    if let Some((name, _)) = content.iter().find(|(_, v)| v.is_some()) {
        return Err(format!("a stub holds no content, but it has `{name}`"));
    }
    Ok(SealedEvent {
        version,
        chain: chain.ok_or("field `chain`: missing or not a string of 1 to 256 bytes")?,
        seq: seq.ok_or("field `seq`: missing or not a non-negative integer")?,
        timestamp_ms: raw_date("timestamp", f.timestamp)?,
        code: String::new(),
        module: String::new(),
        node: String::new(),
        status: Status::Success,
        details: Vec::new(),
        remove_at_ms: match f.remove_at {
            None | Some(RawBsonRef::Null) => None,
            value => Some(raw_date("removeAt", value)?),
        },
        secret_id: SecretId::from_hex(raw_string("secretId", f.secret_id)?)
            .ok_or("field `secretId`: not 16 hex characters")?,
        prev: raw_seal("prev", f.prev)?,
        seal: raw_seal("seal", f.seal)?,
        anchor: match f.anchor {
            None | Some(RawBsonRef::Null) => None,
            Some(RawBsonRef::Document(a)) => Some(raw_anchor(a)?),
            Some(_) => return Err("field `anchor`: not a document".into()),
        },
        purged: Some(purged),
        event_id: None,
    })
}

fn raw_purge_mark(document: &RawDocument) -> Result<PurgeMark, String> {
    let field = |key: &str| raw_last(document, key);
    Ok(PurgeMark {
        digest: raw_seal("purged.digest", field("digest")?)?.0,
        purged_ms: raw_date("purged.at", field("at")?)?,
        secret_id: SecretId::from_hex(raw_string("purged.secretId", field("secretId")?)?)
            .ok_or("field `purged.secretId`: not 16 hex characters")?,
        seal: raw_seal("purged.seal", field("seal")?)?,
    })
}

/// The fields of an event found in one pass over a raw document, and the
/// first of them found twice.
#[derive(Default)]
struct RawFields<'a> {
    /// The first key of the event (or `_id`, `terms`) seen a second time.
    repeated: Option<&'a str>,
    id: Option<RawBsonRef<'a>>,
    terms: Option<RawBsonRef<'a>>,
    /// The other keys (none in an event this library writes), up to one
    /// past [`MAX_OTHER_KEYS`].
    others: Vec<&'a str>,
    /// Whether there were more than [`MAX_OTHER_KEYS`] of them.
    too_many: bool,
    v: Option<RawBsonRef<'a>>,
    chain: Option<RawBsonRef<'a>>,
    seq: Option<RawBsonRef<'a>>,
    timestamp: Option<RawBsonRef<'a>>,
    code: Option<RawBsonRef<'a>>,
    module: Option<RawBsonRef<'a>>,
    node: Option<RawBsonRef<'a>>,
    status: Option<RawBsonRef<'a>>,
    details: Option<RawBsonRef<'a>>,
    remove_at: Option<RawBsonRef<'a>>,
    secret_id: Option<RawBsonRef<'a>>,
    prev: Option<RawBsonRef<'a>>,
    seal: Option<RawBsonRef<'a>>,
    anchor: Option<RawBsonRef<'a>>,
    purged: Option<RawBsonRef<'a>>,
    event_id: Option<RawBsonRef<'a>>,
    event_key: Option<RawBsonRef<'a>>,
}

impl<'a> RawFields<'a> {
    /// Collects the event's fields; stops at the first element that is not
    /// valid BSON.
    fn walk(&mut self, document: &'a RawDocument) -> Result<(), bson::error::Error> {
        let walked = self.collect(document);
        if self.repeated.is_none() && self.others.len() > 1 {
            if self.others.len() > MAX_OTHER_KEYS {
                self.too_many = true;
                return walked;
            }
            self.others.sort_unstable();
            self.repeated = self.others.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
        }
        walked
    }

    fn collect(&mut self, document: &'a RawDocument) -> Result<(), bson::error::Error> {
        for element in document {
            let (key, value) = element?;
            let slot = match key.as_str() {
                "v" => &mut self.v,
                "chain" => &mut self.chain,
                "seq" => &mut self.seq,
                "timestamp" => &mut self.timestamp,
                "code" => &mut self.code,
                "module" => &mut self.module,
                "node" => &mut self.node,
                "status" => &mut self.status,
                "details" => &mut self.details,
                "removeAt" => &mut self.remove_at,
                "secretId" => &mut self.secret_id,
                "prev" => &mut self.prev,
                "seal" => &mut self.seal,
                "anchor" => &mut self.anchor,
                "purged" => &mut self.purged,
                "eventId" => &mut self.event_id,
                "eventKey" => &mut self.event_key,
                "_id" => &mut self.id,
                "terms" => &mut self.terms,
                _ => {
                    // Bounded: past the limit the document is malformed,
                    // and the keys are no longer kept.
                    if self.others.len() <= MAX_OTHER_KEYS {
                        self.others.push(key.as_str());
                    }
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                self.repeated = self.repeated.or(Some(key.as_str()));
            }
        }
        Ok(())
    }
}

/// The value of `key` in a small raw document; a key present twice is
/// malformed (readers could take either value).
fn raw_last<'a>(document: &'a RawDocument, key: &str) -> Result<Option<RawBsonRef<'a>>, String> {
    let mut found = None;
    for element in document {
        let (k, value) = element.map_err(|e| format!("not a valid BSON document: {e}"))?;
        if k.as_str() == key && found.replace(value).is_some() {
            return Err(repeated(key));
        }
    }
    Ok(found)
}

/// The reason given for a document in which `key` appears twice (the key
/// cut to 64 characters: a hostile key may be megabytes long).
fn repeated(key: &str) -> String {
    format!(
        "key `{}` appears twice in one document (a reader could take either value)",
        cut(key)
    )
}

/// Most keys besides an event's own (`_id`, `terms` included) that a
/// document may have and still be read as an event (an event this
/// library writes has none).
const MAX_OTHER_KEYS: usize = 32;

fn raw_string<'a>(field: &str, value: Option<RawBsonRef<'a>>) -> Result<&'a str, String> {
    match value {
        Some(RawBsonRef::String(s)) => Ok(s),
        Some(_) => Err(format!("field `{field}`: not a string")),
        None => Err(format!("field `{field}`: missing")),
    }
}

fn raw_int(field: &str, value: Option<RawBsonRef<'_>>) -> Result<i64, String> {
    match value {
        Some(b) => raw_as_i64(b).ok_or(format!("field `{field}`: not an integer")),
        None => Err(format!("field `{field}`: missing")),
    }
}

fn raw_date(field: &str, value: Option<RawBsonRef<'_>>) -> Result<i64, String> {
    match value {
        Some(RawBsonRef::DateTime(d)) => Ok(d.timestamp_millis()),
        Some(_) => Err(format!("field `{field}`: not a date")),
        None => Err(format!("field `{field}`: missing")),
    }
}

fn raw_seal(field: &str, value: Option<RawBsonRef<'_>>) -> Result<Seal, String> {
    value
        .and_then(raw_as_bytes)
        .and_then(Seal::from_slice)
        .ok_or(format!(
            "field `{field}`: missing or not 32 bytes of binary"
        ))
}

fn raw_as_i64(value: RawBsonRef<'_>) -> Option<i64> {
    match value {
        RawBsonRef::Int32(v) => Some(i64::from(v)),
        RawBsonRef::Int64(v) => Some(v),
        RawBsonRef::Double(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
        _ => None,
    }
}

fn raw_as_u64(value: RawBsonRef<'_>) -> Option<u64> {
    raw_as_i64(value).and_then(|v| u64::try_from(v).ok())
}

fn raw_as_bytes(value: RawBsonRef<'_>) -> Option<&[u8]> {
    match value {
        RawBsonRef::Binary(b) => Some(b.bytes),
        _ => None,
    }
}

fn raw_anchor(document: &RawDocument) -> Result<Anchor, String> {
    let field = |key: &str| raw_last(document, key);
    Ok(Anchor {
        chain: ChainId::new(raw_string("chain", field("chain")?)?)
            .map_err(|e| format!("anchor: {e}"))?,
        first_seq: field("firstSeq")?
            .and_then(raw_as_u64)
            .ok_or("field `anchor.firstSeq`: missing or not an integer")?,
        prev: raw_seal("prev", field("prev")?)?,
        created_ms: raw_date("created", field("created")?)?,
        secret_id: SecretId::from_hex(raw_string("secretId", field("secretId")?)?)
            .ok_or("field `anchor.secretId`: not 16 hex characters")?,
        seal: raw_seal("seal", field("seal")?)?,
    })
}

fn raw_details(value: Option<RawBsonRef<'_>>) -> Result<Vec<Detail>, String> {
    let items = match value {
        None | Some(RawBsonRef::Null) => return Ok(Vec::new()),
        Some(RawBsonRef::Array(items)) => items,
        Some(_) => return Err("field `details`: not an array".into()),
    };
    let mut details = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let item = item.map_err(|e| format!("field `details`: not a valid BSON array: {e}"))?;
        let RawBsonRef::Document(d) = item else {
            return Err(format!("details[{i}]: not a document"));
        };
        let (mut k, mut v, mut secure) = (None, None, None);
        for element in d {
            let (key, value) =
                element.map_err(|e| format!("details[{i}]: not a valid BSON document: {e}"))?;
            let slot = match key.as_str() {
                "k" => &mut k,
                "v" => &mut v,
                "secure" => &mut secure,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(format!("details[{i}]: {}", repeated(key.as_str())));
            }
        }
        let key = match k {
            Some(RawBsonRef::String(k)) => k.to_owned(),
            _ => return Err(format!("details[{i}].k: missing or not a string")),
        };
        let value = match (v, secure) {
            (Some(RawBsonRef::String(v)), None) => DetailValue::Public(v.to_owned()),
            (None, Some(RawBsonRef::Document(s))) => {
                let wrapped_dek = match raw_last(s, "dek")? {
                    None | Some(RawBsonRef::Null) => None,
                    Some(b) => Some(
                        raw_as_bytes(b)
                            .ok_or(format!("details[{i}].secure.dek: not binary"))?
                            .to_vec(),
                    ),
                };
                let payload = raw_last(s, "ct")?
                    .and_then(raw_as_bytes)
                    .ok_or(format!("details[{i}].secure.ct: missing or not binary"))?
                    .to_vec();
                DetailValue::Sensitive(SensitiveValue {
                    wrapped_dek,
                    payload,
                })
            }
            _ => {
                return Err(format!(
                    "details[{i}]: expected a string `v` or a `secure` document"
                ))
            }
        };
        details.push(Detail { key, value });
    }
    Ok(details)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use bson::RawDocumentBuf;
    use stream_chain::{SealSecret, FORMAT_VERSION};

    fn event() -> SealedEvent {
        let secret = SealSecret::new(b"codec test secret of 32 bytes...").unwrap();
        let chain = ChainId::new("ca").unwrap();
        let mut event = SealedEvent {
            version: FORMAT_VERSION,
            chain,
            seq: 7,
            timestamp_ms: 1_700_000_000_123,
            code: "LIFECYCLE-ENROLL".into(),
            module: "ca".into(),
            node: "pod-0".into(),
            status: Status::Warning,
            details: vec![
                Detail {
                    key: "serial".into(),
                    value: DetailValue::Public("00ff".into()),
                },
                Detail {
                    key: "subject".into(),
                    value: DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: Some(vec![1, 2, 3]),
                        payload: vec![4, 5, 6, 7],
                    }),
                },
                Detail {
                    key: "shredded".into(),
                    value: DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: None,
                        payload: vec![8],
                    }),
                },
            ],
            remove_at_ms: Some(1_900_000_000_000),
            secret_id: secret.id(),
            prev: Seal([3; 32]),
            seal: Seal([9; 32]),
            anchor: None,
            purged: None,
            event_id: None,
        };
        event.anchor = Some(Anchor::new(&event, 1_800_000_000_000, &secret));
        event
    }

    #[test]
    fn stored_terms_are_checked_against_the_sealed_details() {
        let event = event();
        assert_eq!(search_terms(&event), vec!["6:serial=00ff".to_owned()]);
        let document = event_to_document(&event);
        let stored: Vec<Option<&str>> = document
            .get_array("terms")
            .unwrap()
            .iter()
            .map(Bson::as_str)
            .collect();
        assert_eq!(terms_mismatch(&event, stored), None);
        let check = |stored: &[Option<&str>]| terms_mismatch(&event, stored.iter().copied());
        assert_eq!(
            check(&[Some("6:serial=0100")]).as_deref(),
            Some("term 0 is `6:serial=0100`, not `6:serial=00ff`")
        );
        assert_eq!(
            check(&[]).as_deref(),
            Some("term 0 (`6:serial=00ff`) is missing")
        );
        assert_eq!(
            check(&[Some("6:serial=00ff"), Some("4:role=admin")]).as_deref(),
            Some("term 1 (`4:role=admin`) is not the event's")
        );
        assert_eq!(check(&[None]).as_deref(), Some("term 0 is not a string"));
        let long = "x".repeat(10_000);
        let message = check(&[Some(long.as_str())]).unwrap();
        assert!(message.len() < 200, "{message}");
        // A stub holds none.
        let mut stub = event.clone();
        stub.details.clear();
        stub.purged = Some(PurgeMark {
            digest: [0; 32],
            purged_ms: 0,
            secret_id: event.secret_id,
            seal: Seal([0; 32]),
        });
        assert_eq!(terms_mismatch(&stub, std::iter::empty()), None);
    }

    #[test]
    fn the_noting_reader_reports_rewritten_terms_and_foreign_fields() {
        let event = event();
        let mut document = event_to_document(&event);
        let mut unsealed = Vec::new();
        let clean = event_from_document_noting(&document, &mut unsealed).unwrap();
        assert_eq!(clean, event);
        assert!(unsealed.is_empty(), "{unsealed:?}");
        document.insert("terms", vec![Bson::String("6:serial=0100".into())]);
        document.insert("note", "hello");
        let read = event_from_document_noting(&document, &mut unsealed).unwrap();
        assert_eq!(read, event, "the event is the same");
        assert_eq!(
            unsealed,
            vec![
                FindingKind::Terms("term 0 is `6:serial=0100`, not `6:serial=00ff`".into()),
                FindingKind::UnknownField("note".into()),
            ]
        );
        unsealed.clear();
        document.remove("note");
        document.insert("terms", "6:serial=00ff");
        event_from_document_noting(&document, &mut unsealed).unwrap();
        assert_eq!(
            unsealed,
            vec![FindingKind::Terms("term 0 is not a string".into())]
        );
        unsealed.clear();
        document.remove("terms");
        event_from_document_noting(&document, &mut unsealed).unwrap();
        assert_eq!(
            unsealed,
            vec![FindingKind::Terms(
                "term 0 (`6:serial=00ff`) is missing".into()
            )]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        /// A stored term is the event's exactly when it is the string
        /// [`search_term`] makes of the key and value.
        #[test]
        fn a_term_is_recognised_exactly(key in ".{0,12}", value in ".{0,12}", other in "[0-9:=a-z]{0,16}") {
            let term = search_term(&key, &value);
            proptest::prop_assert!(is_term(&term, &key, &value));
            proptest::prop_assert_eq!(is_term(&other, &key, &value), other == term);
            let padded = format!("0{term}");
            proptest::prop_assert!(!is_term(&padded, &key, &value));
        }
    }

    #[test]
    fn a_stub_reads_back_and_holds_no_content() {
        let secret = SealSecret::new(b"codec test secret of 32 bytes...").unwrap();
        let mut stub = event();
        stub.seal = stub.compute_seal(&secret);
        let full_len = bson_len(&event_to_document(&stub));
        stub.purge(1_950_000_000_000, &secret).unwrap();
        let document = event_to_document(&stub);
        assert!(!document.contains_key("details") && !document.contains_key("terms"));
        assert_eq!(event_from_document(&document), Ok(stub.clone()));
        same(&document);
        assert!(bson_len(&document) < full_len);
        // Content beside the mark is not a stub: it would hide content from
        // the verifier.
        for field in ["code", "module", "node", "status", "details"] {
            let mut padded = document.clone();
            padded.insert(field, "x");
            let err = event_from_document(&padded).unwrap_err();
            assert!(err.reason.contains(field), "{err:?}");
            assert_eq!(
                (err.chain.as_ref().map(|c| c.as_str()), err.seq),
                (Some("ca"), Some(7))
            );
            same(&padded);
        }
        let mut broken = document.clone();
        broken.insert("purged", doc! {"digest": binary(&[1; 31]), "at": DateTime::from_millis(1), "secretId": "00", "seal": binary(&[0; 32])});
        assert!(event_from_document(&broken)
            .unwrap_err()
            .reason
            .contains("purged.digest"));
        same(&broken);
    }

    /// What a stub costs as stored BSON, against the event it replaces:
    /// its size does not depend on the content (only on the chain id), and
    /// it is at most a third of an enrollment event as Stream writes one
    /// (ten details, four of them sensitive). Printed for the measurements
    /// in `docs/PERFORMANCE.md` (`cargo test -p stream-codec --lib stub_size
    /// -- --nocapture`).
    #[test]
    fn stub_size_is_fixed_and_a_third_of_an_enrollment_event() {
        use stream_chain::{Chainer, EventDraft, Head};
        use stream_keyset::{Algorithm, Keyset, Template};
        let secret = SealSecret::new(b"codec test secret of 32 bytes...").unwrap();
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let chainer = Chainer::new(
            stream_chain::SealSecrets::new(secret.clone()),
            Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
        );
        let mut head = Head::genesis(ChainId::new("events").unwrap());
        let base = || {
            EventDraft::new(
                "LIFECYCLE-ENROLL",
                "ca",
                "stream-ca-0",
                Status::Success,
                stream_chain::Timestamp::from_millis(1_700_000_000_000),
            )
            .public("serial", "4f2a9c1e07d3b855")
            .public("profile", "tls-server")
            .public("issuer", "CN=Stream Issuing CA 1")
            .remove_at(stream_chain::Timestamp::from_millis(1_800_000_000_000))
        };
        let enrollment = base()
            .public("requestId", "6f1c2e8a-0b4d-4c61-9a7e-3f5b2d9c8e10")
            .public("userAgent", "stream-acme-client/2.4 (linux; x86_64)")
            .public("validity", "2026-12-01T00:00:00Z/2027-12-01T00:00:00Z")
            .sensitive(
                "subject",
                b"CN=api.payments.example.com,OU=Payments,O=Example Corp,L=Berlin,C=DE".to_vec(),
            )
            .sensitive(
                "sans",
                b"DNS:api.payments.example.com,DNS:payments.example.com,IP:10.20.30.40".to_vec(),
            )
            .sensitive("requester", b"svc-payments-deployer@example.com".to_vec())
            .sensitive("clientIp", b"203.0.113.77".to_vec());
        let shapes = [
            (
                "hot path, 64 B secret",
                base().sensitive("subject", vec![0x5a; 64]),
            ),
            (
                "hot path, 256 B secret",
                base().sensitive("subject", vec![0x5a; 256]),
            ),
            ("enrollment, 10 details", enrollment),
            (
                "hot path, 4096 B secret",
                base().sensitive("subject", vec![0x5a; 4096]),
            ),
        ];
        let mut stubs = Vec::new();
        for (name, draft) in shapes {
            let mut event = chainer.seal(&mut head, &draft).unwrap();
            let full = bson_len(&event_to_document(&event));
            event.purge(1_800_000_000_000, &secret).unwrap();
            let stub = bson_len(&event_to_document(&event));
            println!(
                "{name}: event {full} B, stub {stub} B, ratio {:.2}",
                stub as f64 / full as f64
            );
            if name.starts_with("enrollment") {
                assert!(3 * stub <= full, "stub {stub} B vs event {full} B");
            }
            stubs.push(stub);
        }
        // Sequence numbers of the same width: the same size.
        assert!(stubs.windows(2).all(|w| w[0] == w[1]), "{stubs:?}");
    }

    fn bson_len(document: &Document) -> usize {
        RawDocumentBuf::try_from(document).unwrap().as_bytes().len()
    }

    /// Both readers give the same result for `document`.
    fn same(document: &Document) {
        let raw = RawDocumentBuf::try_from(document).unwrap();
        assert_eq!(
            event_from_raw(&raw),
            event_from_document(document),
            "{document}"
        );
    }

    #[test]
    fn raw_reads_what_the_document_reader_reads() {
        let document = event_to_document(&event());
        assert_eq!(
            event_from_raw(&RawDocumentBuf::try_from(&document).unwrap()),
            Ok(event())
        );
        same(&document);
        let mut no_anchor = event();
        no_anchor.anchor = None;
        no_anchor.remove_at_ms = None;
        no_anchor.details.clear();
        same(&event_to_document(&no_anchor));
    }

    #[test]
    fn raw_gives_the_same_findings_for_every_broken_field() {
        let document = event_to_document(&event());
        let replacements = [
            Bson::Null,
            Bson::Int32(-1),
            Bson::Int32(1),
            Bson::Int64(300),
            Bson::Double(7.0),
            Bson::Double(7.5),
            Bson::String(String::new()),
            Bson::String("success".into()),
            Bson::String("0011223344556677".into()),
            Bson::DateTime(DateTime::from_millis(5)),
            binary(&[0; 32]),
            binary(&[0; 3]),
            Bson::Array(vec![Bson::Int32(1)]),
            Bson::Array(vec![Bson::Document(doc! { "k": "a" })]),
            Bson::Array(vec![Bson::Document(doc! { "k": "a", "v": 1 })]),
            Bson::Array(vec![Bson::Document(
                doc! { "k": "a", "secure": { "dek": 1 } },
            )]),
            Bson::Array(vec![Bson::Document(
                doc! { "k": "a", "secure": { "ct": 1 } },
            )]),
            Bson::Document(doc! {}),
            Bson::Document(doc! { "chain": "ca" }),
        ];
        let keys: Vec<String> = document.keys().cloned().collect();
        for key in &keys {
            let mut removed = document.clone();
            removed.remove(key);
            same(&removed);
            for value in &replacements {
                let mut changed = document.clone();
                changed.insert(key.clone(), value.clone());
                same(&changed);
            }
        }
        let anchor = anchor_to_document(event().anchor.as_ref().unwrap());
        for key in anchor.keys() {
            for value in &replacements {
                let mut changed_anchor = anchor.clone();
                changed_anchor.insert(key.clone(), value.clone());
                let mut changed = document.clone();
                changed.insert("anchor", changed_anchor);
                same(&changed);
            }
        }
    }

    #[test]
    fn a_repeated_key_is_malformed_at_its_event() {
        let document = event_to_document(&event());
        for key in [
            bson::cstr!("code"),
            bson::cstr!("seal"),
            bson::cstr!("_id"),
            bson::cstr!("terms"),
        ] {
            let mut raw = RawDocumentBuf::try_from(&document).unwrap();
            raw.append(key, "REPEATED");
            let Err(m) = event_from_raw(&raw) else {
                panic!("{key:?} repeated was read as an event");
            };
            assert_eq!(
                (m.chain.as_ref().map(ChainId::as_str), m.seq),
                (Some("ca"), Some(event().seq))
            );
            assert!(
                m.reason
                    .contains(&format!("key `{}` appears twice", key.as_str())),
                "{}",
                m.reason
            );
        }
        // A key the event does not know, repeated, too; once, it is skipped.
        let mut raw = RawDocumentBuf::try_from(&document).unwrap();
        raw.append(bson::cstr!("x"), 1);
        raw.append(bson::cstr!("y"), 1);
        assert_eq!(event_from_raw(&raw), Ok(event()));
        raw.append(bson::cstr!("x"), 2);
        let reason = event_from_raw(&raw).unwrap_err().reason;
        assert!(reason.contains("key `x` appears twice"), "{reason}");
        // A long repeated key is cut in the reason.
        let long = "k".repeat(100_000);
        let mut raw = RawDocumentBuf::try_from(&document).unwrap();
        let key = bson::raw::CString::try_from(long.clone()).unwrap();
        raw.append(&key, 1);
        raw.append(&key, 2);
        let reason = event_from_raw(&raw).unwrap_err().reason;
        assert!(
            reason.contains(&format!("key `{}…` appears twice", &long[..64])),
            "{}",
            &reason[..100]
        );
        assert!(reason.len() < 200);
        // Keys that are not an event's are bounded: past 32, malformed
        // (and not kept: a document of millions of tiny keys costs no
        // memory per key).
        let mut raw = RawDocumentBuf::try_from(&document).unwrap();
        for i in 0..1000 {
            let key = bson::raw::CString::try_from(format!("x{i}")).unwrap();
            raw.append(&key, 1);
        }
        let reason = event_from_raw(&raw).unwrap_err().reason;
        assert!(reason.contains("more than 32 fields"), "{reason}");
    }

    #[test]
    fn raw_ignores_deep_nesting_and_reports_corruption() {
        // 200,000 nested documents: converting to a `Document` would
        // recurse that deep; the raw reader never enters the field.
        let depth = 200_000;
        let mut bytes = Vec::new();
        for i in 0..depth {
            let len = 5 + (depth - i) * 8;
            bytes.extend_from_slice(&(len as i32).to_le_bytes());
            bytes.extend_from_slice(&[3, b'x', 0]);
        }
        bytes.extend_from_slice(&5i32.to_le_bytes());
        bytes.push(0);
        bytes.extend(std::iter::repeat_n(0u8, depth));
        let nested = RawDocumentBuf::from_bytes(bytes).unwrap();
        let mut raw = RawDocumentBuf::try_from(&event_to_document(&event())).unwrap();
        raw.append(bson::cstr!("deep"), nested);
        assert_eq!(event_from_raw(&raw), Ok(event()));

        // A string whose length runs past the document.
        let mut bytes = RawDocumentBuf::try_from(&doc! { "chain": "ca", "code": "x" })
            .unwrap()
            .into_bytes();
        let at = bytes.len() - 7;
        bytes[at] = 100;
        let corrupt = RawDocumentBuf::from_bytes(bytes).unwrap();
        let malformed = event_from_raw(&corrupt).unwrap_err();
        assert!(
            malformed.reason.starts_with("not a valid BSON document"),
            "{malformed:?}"
        );
        assert_eq!(malformed.chain.as_ref().map(ChainId::as_str), Some("ca"));
    }
}
