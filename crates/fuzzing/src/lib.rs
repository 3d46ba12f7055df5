//! The bodies of stream-store's fuzz targets: one function per target of
//! `fuzz/` (each target there is a one-line call of the function of its
//! name), so that the same code runs under libFuzzer on nightly
//! (`scripts/fuzz.sh`) and on stable, where `tests/corpus.rs` replays the
//! committed seed corpus and crash reproducers through it.
//!
//! Each function hands arbitrary bytes to a library entry point and, where
//! it is cheap, checks an invariant; a broken invariant is a panic, which is
//! how a fuzz target reports it. No I/O: the keys and secrets are fixed test
//! values built in code ([`keys`]).
//!
//! | target | entry point |
//! |---|---|
//! | [`keyset_json`] | `Keyset::from_json`, `Keyset::parse` |
//! | [`keyset_binary`] | `Keyset::from_binary`, `Keyset::parse` |
//! | [`keyset_encrypted`] | `Keyset::parse_encrypted` |
//! | [`decrypt`] | `Aead::decrypt`, `Envelope::decrypt`, `EnvelopeCiphertext::from_bytes` |
//! | [`checkpoint_file`] | `stream_audit::checkpoint::trust`, `Checkpoint::from_json` |
//! | [`bson_event`] | `stream_codec::event_from_raw_noting`, `event_from_document` |
//! | [`mongodump`] | `stream_audit::read_input` (BSON) into a `Feed` and a `Verifier`, and `verify_in_batches` alike |
//! | [`mongoexport`] | `stream_audit::read_input` (JSON), fast and generic reader, then as `mongodump` |
//! | [`sealed_document`] | `stream_mongo::open_document` |
#![forbid(unsafe_code)]
// A fuzz target reports a broken invariant by panicking: here, and only
// here, that is the point.
#![allow(clippy::panic)]

use std::fmt::Debug;

use bson::{Document, RawDocument};
use serde::{Deserialize, Serialize};
use stream_audit::{read_input, report, verify_in_batches, Feed, Pass, ReadOptions, Sink};
use stream_chain::{ChainId, Checkpoint, FindingKind, SealedEvent, Verifier};
use stream_codec::Malformed;
use stream_keyset::{EnvelopeCiphertext, Keyset};
use stream_mongo::Secure;

pub mod keys;

/// The value of `result`, or a panic naming `what` broke.
fn must<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// A keyset read back from what it writes is the same keyset, in both
/// cleartext forms; its key list and AEAD never panic.
fn keyset_round_trip(keyset: &Keyset) {
    let json = keyset.insecure_to_json();
    let binary = keyset.insecure_to_binary();
    let from_json = must(Keyset::from_json(&json), "a written JSON keyset reads back");
    assert_eq!(from_json.insecure_to_binary(), binary, "JSON round trip");
    assert_eq!(from_json.insecure_to_json(), json, "JSON round trip");
    let from_binary = must(
        Keyset::from_binary(&binary),
        "a written binary keyset reads back",
    );
    assert_eq!(
        from_binary.insecure_to_binary(),
        binary,
        "binary round trip"
    );
    assert_eq!(keyset.list(), from_binary.list(), "key list");
    let _ = keyset.aead();
}

/// Target `keyset_json`: Tink's cleartext JSON keyset (env `KEYSET`).
pub fn keyset_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(keyset) = Keyset::from_json(text) {
            keyset_round_trip(&keyset);
        }
    }
    if let Ok(keyset) = Keyset::parse(data) {
        keyset_round_trip(&keyset);
    }
}

/// Target `keyset_binary`: Tink's cleartext binary keyset (protobuf).
pub fn keyset_binary(data: &[u8]) {
    if let Ok(keyset) = Keyset::from_binary(data) {
        keyset_round_trip(&keyset);
    }
    if let Ok(keyset) = Keyset::parse(data) {
        keyset_round_trip(&keyset);
    }
}

/// Target `keyset_encrypted`: a Tink `EncryptedKeyset`, JSON or binary,
/// under the fixed master keyset ([`keys::master_aead`]). One that opens
/// is re-encrypted both ways and opens again to the same keyset.
pub fn keyset_encrypted(data: &[u8]) {
    let master = keys::master_aead();
    let Ok(keyset) = Keyset::parse_encrypted(data, master, keys::MASTER_AAD) else {
        return;
    };
    keyset_round_trip(&keyset);
    let binary = keyset.insecure_to_binary();
    for encrypted in [
        must(
            keyset.to_encrypted_json(master, keys::MASTER_AAD),
            "encrypt as JSON",
        )
        .into_bytes(),
        must(
            keyset.to_encrypted_binary(master, keys::MASTER_AAD),
            "encrypt as binary",
        ),
    ] {
        let again = must(
            Keyset::parse_encrypted(&encrypted, master, keys::MASTER_AAD),
            "a re-encrypted keyset opens",
        );
        assert_eq!(again.insecure_to_binary(), binary, "encrypted round trip");
    }
}

/// Target `decrypt`: bytes as a keyset AEAD ciphertext (every algorithm
/// and prefix of [`keys::TEST_KEYSET_JSON`]) and as an envelope
/// ciphertext, with [`keys::AAD`]. Never a panic; what decrypts
/// re-encrypts and decrypts to the same plaintext; the envelope layout
/// splits and joins back to the same bytes.
pub fn decrypt(data: &[u8]) {
    let aead = keys::test_aead();
    if let Ok(plaintext) = aead.decrypt(data, keys::AAD) {
        let again = must(aead.encrypt(&plaintext, keys::AAD), "re-encrypt");
        assert_eq!(
            must(aead.decrypt(&again, keys::AAD), "decrypt again"),
            plaintext
        );
    }
    let _ = aead.decrypts_with_primary(data, keys::AAD);
    let envelope = keys::envelope();
    if let Ok(parts) = EnvelopeCiphertext::from_bytes(data) {
        assert_eq!(parts.to_bytes(), data, "envelope layout round trip");
        let _ = envelope.decrypt_parts(&parts.wrapped_dek, &parts.payload, keys::AAD);
        let _ = envelope.is_wrapped_by_primary(&parts.wrapped_dek);
    }
    if let Ok(plaintext) = envelope.decrypt(data, keys::AAD) {
        let rewrapped = must(envelope.rewrap(data), "a ciphertext that opens rewraps");
        assert_eq!(
            must(envelope.decrypt(&rewrapped, keys::AAD), "decrypt rewrapped"),
            plaintext
        );
    }
}

/// Target `checkpoint_file`: a checkpoint file (one checkpoint object or an
/// array), trusted by a verifier as `verify_chain --checkpoint` does; a
/// single checkpoint that parses writes back to one that parses equal.
pub fn checkpoint_file(data: &[u8]) {
    let mut verifier = keys::verifier();
    let _ = stream_audit::checkpoint::trust(data, &mut verifier);
    let _ = verifier.finish();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(checkpoint) = Checkpoint::from_json(text) {
            let json = checkpoint.to_json();
            let again = must(Checkpoint::from_json(&json), "a written checkpoint reads");
            assert_eq!(again, checkpoint, "checkpoint round trip");
            let _ = checkpoint.verify(&keys::secrets());
        }
    }
}

/// `data` as one BSON document, if it is one. Through [`RawDocument`],
/// never `Document::from_reader`: that one allocates the length a
/// document's first four bytes claim (up to 2 GiB) before reading it.
fn document(data: &[u8]) -> Option<Document> {
    let raw = RawDocument::from_bytes(data).ok()?;
    Document::try_from(raw).ok()
}

/// Target `bson_event`: one BSON document as a stored event, read raw (as
/// the mongodump reader does) and as a [`Document`] (as the MongoDB
/// adapter does). An event read writes back to a document that reads as
/// the same event; the checks of an event never panic.
pub fn bson_event(data: &[u8]) {
    if let Ok(raw) = RawDocument::from_bytes(data) {
        let mut unsealed = Vec::new();
        let noting = stream_codec::event_from_raw_noting(raw, &mut unsealed);
        assert_eq!(
            noting,
            stream_codec::event_from_raw(raw),
            "noting reads the same event"
        );
        if let Ok(event) = noting {
            event_round_trip(&event);
        }
    }
    if let Some(document) = document(data) {
        let mut unsealed = Vec::new();
        let read = stream_codec::event_from_document_noting(&document, &mut unsealed);
        assert_eq!(
            read,
            stream_codec::event_from_document(&document),
            "noting reads the same event"
        );
        if let Ok(event) = read {
            event_round_trip(&event);
        }
    }
}

/// An event written as a document reads back as itself, without unsealed
/// findings; its checks do not panic.
fn event_round_trip(event: &SealedEvent) {
    let document = stream_codec::event_to_document(event);
    let mut unsealed = Vec::new();
    let again = must(
        stream_codec::event_from_document_noting(&document, &mut unsealed),
        "a written event reads back",
    );
    assert_eq!(&again, event, "event round trip");
    assert!(unsealed.is_empty(), "a written event: {unsealed:?}");
    assert_eq!(again.canonical_bytes(), event.canonical_bytes());
    let _ = event.shape_error();
    let _ = event.content_digest();
    let _ = event.seal_is_valid(&keys::secrets());
    let _ = keys::chainer().check_keys(event);
}

/// Reads `data` as `verify_chain` does (a learning pass, then the
/// verification, deep: with the keyset) and writes both reports. The
/// verification through [`verify_in_batches`] (seals checked in parallel,
/// batches of 1 to 16 records, from the first byte) finds the same, in
/// the same order.
fn verify(data: &[u8], name: &str, options: &ReadOptions) {
    let learned = |verifier: &mut Verifier| {
        let mut feed = Feed::new(verifier, name, Pass::Learn);
        read_input(data, &mut feed, options).is_ok()
    };
    let mut verifier = keys::verifier();
    if learned(&mut verifier) {
        let mut feed = Feed::new(&mut verifier, name, Pass::Verify);
        let _ = read_input(data, &mut feed, options);
    }
    let verdict = verifier.finish();
    let mut parallel = keys::verifier();
    if learned(&mut parallel) {
        let batch = usize::from(data.first().copied().unwrap_or(0) % 16) + 1;
        let _ = verify_in_batches(data, &mut parallel, name, options, batch);
    }
    let parallel = parallel.finish();
    assert_eq!(
        verdict.findings, parallel.findings,
        "parallel: the findings"
    );
    assert_eq!(verdict.chains, parallel.chains, "parallel: the chains");
    assert_eq!(
        (
            verdict.total_findings,
            verdict.errors,
            verdict.records,
            verdict.sealed_bytes
        ),
        (
            parallel.total_findings,
            parallel.errors,
            parallel.records,
            parallel.sealed_bytes
        ),
        "parallel: the counts"
    );
    let mut text = Vec::new();
    must(report::write_text(&mut text, &verdict), "text report");
    let _ = report::json(&verdict);
}

/// Target `mongodump`: bytes as a mongodump collection file (BSON
/// documents, optionally gzipped), verified as `verify_chain` does.
pub fn mongodump(data: &[u8]) {
    verify(data, "events.bson", &ReadOptions::default());
}

/// A record as [`Records`] keeps it.
type Kept = Result<SealedEvent, (Option<ChainId>, Option<u64>)>;

/// What a reader handed a sink, comparable between readers: each record
/// (an event, or where a malformed one stood: its chain and seq), its
/// offset, and the unsealed findings.
#[derive(Debug, Default, PartialEq)]
struct Records {
    /// The records, in order.
    records: Vec<(Kept, u64)>,
    /// The unsealed findings, in order.
    unsealed: Vec<(ChainId, u64, String, u64)>,
}

impl Sink for Records {
    fn record(&mut self, record: Result<SealedEvent, Malformed>, offset: u64) {
        let record = record.map_err(|m| (m.chain, m.seq));
        self.records.push((record, offset));
    }

    fn unsealed(&mut self, chain: &ChainId, seq: u64, kind: FindingKind, offset: u64) {
        // The kind without its message (the readers word theirs).
        let kind = format!("{kind:?}");
        let kind = kind.split(['(', ' ', '{']).next().unwrap_or_default();
        self.unsealed
            .push((chain.clone(), seq, kind.to_owned(), offset));
    }
}

/// Target `mongoexport`: bytes as a mongoexport file (JSON lines or
/// `--jsonArray`, canonical or relaxed Extended JSON, optionally gzipped).
/// The fast reader and the generic conversion hand a sink the same
/// records at the same offsets (and both fail or neither); then the input
/// is verified as `verify_chain` does.
pub fn mongoexport(data: &[u8]) {
    let mut fast = Records::default();
    let fast_result =
        read_input(data, &mut fast, &ReadOptions::default()).map_err(|e| e.to_string());
    let mut generic = Records::default();
    let options = ReadOptions::default().with_generic_json(true);
    let generic_result = read_input(data, &mut generic, &options).map_err(|e| e.to_string());
    assert_eq!(fast_result, generic_result, "both JSON readers: the result");
    assert_eq!(fast, generic, "both JSON readers: the records");
    verify(data, "events.json", &ReadOptions::default());
}

/// The stored document type of the sealed-document target: sealed values
/// at the top level, in a nested document, in an array and optional.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct SealedRecord {
    /// A clear field.
    pub name: String,
    /// A sealed string.
    pub secret: Secure<String>,
    /// A nested document holding a sealed integer.
    pub nested: Nested,
    /// Sealed byte strings in an array.
    pub keys: Vec<Secure<Vec<u8>>>,
    /// An optional sealed value.
    pub note: Option<Secure<String>>,
}

/// The nested document of [`SealedRecord`].
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Nested {
    /// A sealed integer.
    pub pin: Secure<i64>,
    /// A clear integer.
    pub count: i64,
}

/// Target `sealed_document`: one BSON document as a stored sealed
/// document (`{clear, secure}` fields) at [`keys::DOCUMENT_PLACE`], opened
/// as a [`SealedRecord`] and as a plain [`Document`]; re-wrapping never
/// panics. A record that opens seals again and opens to the same value.
pub fn sealed_document(data: &[u8]) {
    let Some(document) = document(data) else {
        return;
    };
    let envelope = keys::envelope();
    let (database, collection, id) = keys::DOCUMENT_PLACE;
    let mut copy = document.clone();
    let _ = stream_mongo::rewrap_document(envelope, &mut copy);
    let _ = stream_mongo::open_document::<Document>(
        envelope,
        database,
        collection,
        id,
        document.clone(),
    );
    let Ok(record) =
        stream_mongo::open_document::<SealedRecord>(envelope, database, collection, id, document)
    else {
        return;
    };
    let sealed = must(
        stream_mongo::seal_document(envelope, database, collection, id, &record),
        "an opened record seals",
    );
    let again = must(
        stream_mongo::open_document::<SealedRecord>(envelope, database, collection, id, sealed),
        "a sealed record opens",
    );
    assert_eq!(again, record, "sealed document round trip");
}

/// The function of a target.
pub type Target = fn(&[u8]);

/// Every target: its name (a directory of `fuzz/corpus` and
/// `fuzz/regressions`, a file of `fuzz/fuzz_targets`) and its function.
pub const TARGETS: &[(&str, Target)] = &[
    ("keyset_json", keyset_json),
    ("keyset_binary", keyset_binary),
    ("keyset_encrypted", keyset_encrypted),
    ("decrypt", decrypt),
    ("checkpoint_file", checkpoint_file),
    ("bson_event", bson_event),
    ("mongodump", mongodump),
    ("mongoexport", mongoexport),
    ("sealed_document", sealed_document),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    /// Found by `bson_event` in its first minute (fuzz/regressions): the
    /// harness read documents with `Document::from_reader`, which reserves
    /// the claimed length (here 1,852,730,918 bytes) before reading; over
    /// libFuzzer's malloc limit, an out-of-memory. The claimed length is
    /// now checked against the bytes there are first.
    #[test]
    fn a_document_claiming_more_bytes_than_it_has_is_none() {
        assert!(super::document(b"\x26\x6e\x6e\x6e\x00").is_none());
        assert!(super::document(b"\xff\xff\xff\x7f").is_none());
        let empty = bson::RawDocumentBuf::new();
        assert!(super::document(empty.as_bytes()).is_some());
    }
}
