//! The BSON shape of a sealed event, and back.
//!
//! ```text
//! { v: 1, chain, seq: Int64, timestamp: Date, code, module, node, status,
//!   details: [ {k, v} | {k, secure: {dek: BinData | null, ct: BinData}} ],
//!   terms: ["<len>:<key>=<value>", ...] (public details, for search),
//!   removeAt?: Date, secretId: hex, prev: BinData(32), seal: BinData(32),
//!   anchor?: {chain, firstSeq, prev, created, secretId, seal} }
//! ```
//! Reading accepts what mongoexport/mongodump and the relaxed Extended JSON
//! make of it (integers of any width, dates as dates).

use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Bson, DateTime, Document};
use stream_chain::{
    Anchor, ChainId, Detail, DetailValue, Seal, SealedEvent, SecretId, SensitiveValue, Status,
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

fn binary(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    })
}

/// The BSON document of an event.
pub fn event_to_document(event: &SealedEvent) -> Document {
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
    let mut document = doc! {
        "v": i32::from(event.version),
        "chain": event.chain.as_str(),
        "seq": seq_to_bson(event.seq),
        "timestamp": DateTime::from_millis(event.timestamp_ms),
        "code": &event.code,
        "module": &event.module,
        "node": &event.node,
        "status": event.status.as_str(),
        "details": details,
    };
    // Derived, for search only (not read back, not sealed): one string per
    // public detail, `<key length>:<key>=<value>`, so that an equality on an
    // array element finds it on every server.
    let terms: Vec<Bson> = event
        .details
        .iter()
        .filter_map(|d| match &d.value {
            DetailValue::Public(v) => Some(Bson::String(search_term(&d.key, v))),
            DetailValue::Sensitive(_) => None,
        })
        .collect();
    document.insert("terms", terms);
    if let Some(remove_at) = event.remove_at_ms {
        document.insert("removeAt", DateTime::from_millis(remove_at));
    }
    document.insert("secretId", event.secret_id.to_hex());
    document.insert("prev", binary(&event.prev.0));
    document.insert("seal", binary(&event.seal.0));
    if let Some(anchor) = &event.anchor {
        document.insert("anchor", anchor_to_document(anchor));
    }
    document
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

/// Reads an event from its BSON document.
pub fn event_from_document(document: &Document) -> Result<SealedEvent, Malformed> {
    let chain = document
        .get_str("chain")
        .ok()
        .and_then(|c| ChainId::new(c).ok());
    let seq = document.get("seq").and_then(as_u64);
    let malformed = |reason: String| Malformed {
        chain: chain.clone(),
        seq,
        reason,
    };
    let r = Reader(document);
    let version = r.int("v").map_err(&malformed)?;
    let version = u8::try_from(version)
        .map_err(|_| malformed(format!("unknown format version {version}")))?;
    let event = SealedEvent {
        version,
        chain: chain.clone().ok_or_else(|| {
            malformed("field `chain`: missing or not a string of 1 to 256 bytes".into())
        })?,
        seq: seq.ok_or_else(|| {
            malformed("field `seq`: missing or not a non-negative integer".into())
        })?,
        timestamp_ms: r.date("timestamp").map_err(&malformed)?,
        code: r.string("code").map_err(&malformed)?,
        module: r.string("module").map_err(&malformed)?,
        node: r.string("node").map_err(&malformed)?,
        status: Status::parse(&r.string("status").map_err(&malformed)?)
            .ok_or_else(|| malformed("field `status`: not success, warning or failure".into()))?,
        details: details_from(document).map_err(&malformed)?,
        remove_at_ms: match document.get("removeAt") {
            None | Some(Bson::Null) => None,
            Some(_) => Some(r.date("removeAt").map_err(&malformed)?),
        },
        secret_id: SecretId::from_hex(&r.string("secretId").map_err(&malformed)?)
            .ok_or_else(|| malformed("field `secretId`: not 16 hex characters".into()))?,
        prev: r.seal("prev").map_err(&malformed)?,
        seal: r.seal("seal").map_err(&malformed)?,
        anchor: match document.get("anchor") {
            None | Some(Bson::Null) => None,
            Some(Bson::Document(a)) => Some(anchor_from(a).map_err(&malformed)?),
            Some(_) => return Err(malformed("field `anchor`: not a document".into())),
        },
    };
    Ok(event)
}

fn anchor_from(document: &Document) -> Result<Anchor, String> {
    let r = Reader(document);
    Ok(Anchor {
        chain: ChainId::new(&r.string("chain")?).map_err(|e| format!("anchor: {e}"))?,
        first_seq: document
            .get("firstSeq")
            .and_then(as_u64)
            .ok_or("field `anchor.firstSeq`: missing or not an integer")?,
        prev: r.seal("prev")?,
        created_ms: r.date("created")?,
        secret_id: SecretId::from_hex(&r.string("secretId")?)
            .ok_or("field `anchor.secretId`: not 16 hex characters")?,
        seal: r.seal("seal")?,
    })
}

fn details_from(document: &Document) -> Result<Vec<Detail>, String> {
    let Some(Bson::Array(items)) = document.get("details") else {
        return match document.get("details") {
            None | Some(Bson::Null) => Ok(Vec::new()),
            Some(_) => Err("field `details`: not an array".into()),
        };
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Bson::Document(d) = item else {
                return Err(format!("details[{i}]: not a document"));
            };
            let key = d
                .get_str("k")
                .map_err(|_| format!("details[{i}].k: missing or not a string"))?
                .to_owned();
            let value = match (d.get("v"), d.get("secure")) {
                (Some(Bson::String(v)), None) => DetailValue::Public(v.clone()),
                (None, Some(Bson::Document(s))) => {
                    let wrapped_dek = match s.get("dek") {
                        None | Some(Bson::Null) => None,
                        Some(b) => Some(
                            as_bytes(b).ok_or(format!("details[{i}].secure.dek: not binary"))?,
                        ),
                    };
                    let payload = s
                        .get("ct")
                        .and_then(as_bytes)
                        .ok_or(format!("details[{i}].secure.ct: missing or not binary"))?;
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
            Ok(Detail { key, value })
        })
        .collect()
}

struct Reader<'a>(&'a Document);

impl Reader<'_> {
    fn string(&self, field: &str) -> Result<String, String> {
        match self.0.get(field) {
            Some(Bson::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("field `{field}`: not a string")),
            None => Err(format!("field `{field}`: missing")),
        }
    }

    fn int(&self, field: &str) -> Result<i64, String> {
        match self.0.get(field) {
            Some(b) => as_i64(b).ok_or(format!("field `{field}`: not an integer")),
            None => Err(format!("field `{field}`: missing")),
        }
    }

    fn date(&self, field: &str) -> Result<i64, String> {
        match self.0.get(field) {
            Some(Bson::DateTime(d)) => Ok(d.timestamp_millis()),
            Some(_) => Err(format!("field `{field}`: not a date")),
            None => Err(format!("field `{field}`: missing")),
        }
    }

    fn seal(&self, field: &str) -> Result<Seal, String> {
        self.0
            .get(field)
            .and_then(as_bytes)
            .and_then(|b| Seal::from_slice(&b))
            .ok_or(format!(
                "field `{field}`: missing or not 32 bytes of binary"
            ))
    }
}

fn as_i64(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        Bson::Double(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(*v as i64),
        _ => None,
    }
}

fn as_u64(value: &Bson) -> Option<u64> {
    as_i64(value).and_then(|v| u64::try_from(v).ok())
}

fn as_bytes(value: &Bson) -> Option<Vec<u8>> {
    match value {
        Bson::Binary(b) => Some(b.bytes.clone()),
        _ => None,
    }
}
