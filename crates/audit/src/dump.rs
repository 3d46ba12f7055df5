//! The mongodump reader: a collection file (`events.bson`) is BSON
//! documents one after another, each starting with its length (int32,
//! little-endian). Each document is read raw
//! ([`stream_codec::event_from_raw`]), without building a `bson::Document`.
//!
//! **Damage.** A document with a plausible length (5 bytes to
//! [`MAX_BSON_DOCUMENT`]) that is not valid BSON, or not an event, is a
//! finding at its offset, and reading goes on after it: the length says
//! where the next one starts. A length that is not plausible, or one that
//! runs past the end of the input, leaves no way to find the next
//! document: the input ends there, with one finding for the damage. Only
//! an I/O error of the input itself is an [`Error`].
//!
//! **Memory.** One document at a time, at most [`MAX_BSON_DOCUMENT`]
//! bytes, and its event (a sink may keep copies of small documents:
//! [`crate::verify_input`] bounds what it keeps): the raw reader decodes
//! only an event's own fields, and at most [`MAX_DETAILS`] details, so an
//! event costs at most about as much again as its document (see
//! `docs/PERFORMANCE.md`).

use std::io::{BufReader, Read};

use bson::{RawBsonRef, RawDocument};
use stream_chain::{ChainId, FindingKind, SealedEvent};
use stream_codec::Malformed;

use crate::error::Error;
use crate::feed::Sink;
use crate::input::{read_full, MAX_DETAILS, READ_BUFFER};

/// The largest BSON document MongoDB stores (16 MiB, plus its internal
/// allowance); a larger length means the input is not a mongodump file
/// (at its start) or is damaged (further on).
pub const MAX_BSON_DOCUMENT: usize = 16 * 1024 * 1024 + 16 * 1024;

/// The fewest bytes a detail takes in a BSON array: a type byte, a key of
/// one digit and its NUL, an empty document.
const MIN_DETAIL_BSON: usize = 1 + 2 + 5;

/// Reads a mongodump file (uncompressed) and hands every document to
/// `sink`, then a finding for damage that ends it (see the module
/// documentation). The only error is an I/O error of `reader`.
pub fn read<S: Sink + ?Sized>(reader: impl Read, sink: &mut S) -> Result<(), Error> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut document: Vec<u8> = Vec::with_capacity(4096);
    let mut offset: u64 = 0;
    loop {
        let mut header = [0u8; 4];
        let got =
            read_full(&mut reader, &mut header).map_err(|source| Error::Read { offset, source })?;
        if got == 0 {
            return Ok(());
        }
        if got < header.len() {
            return damage(sink, Error::BsonLengthTruncated { offset }, offset);
        }
        let len = u32::from_le_bytes(header);
        let Some(len) = usize::try_from(len)
            .ok()
            .filter(|len| (5..=MAX_BSON_DOCUMENT).contains(len))
        else {
            return damage(sink, Error::BsonLength { offset, len }, offset);
        };
        document.clear();
        document.extend_from_slice(&header);
        document.resize(len, 0);
        let body = document.get_mut(header.len()..).unwrap_or_default();
        let got = read_full(&mut reader, body).map_err(|source| Error::Read { offset, source })?;
        if got + header.len() < len {
            let got = got + header.len();
            return damage(sink, Error::BsonTruncated { offset, len, got }, offset);
        }
        // A sink that wants only some codes (the first pass): a document
        // of another code is skipped undecoded.
        if !sink.wants(None) {
            let code = RawDocument::from_bytes(&document)
                .ok()
                .and_then(|raw| raw.get_str("code").ok());
            if code.is_some_and(|code| !sink.wants(Some(code))) {
                offset += len as u64;
                continue;
            }
        }
        sink.bson_document(&document, offset);
        offset += len as u64;
    }
}

/// Decodes one framed document of a mongodump at `offset`: its event, or
/// why it is not one; what is wrong in its unsealed fields goes to
/// `unsealed`.
pub(crate) fn decode(
    document: &[u8],
    offset: u64,
    unsealed: &mut Vec<FindingKind>,
) -> Result<SealedEvent, Malformed> {
    match RawDocument::from_bytes(document) {
        // Only a document this large can hold too many details: the usual
        // event is spared the count.
        Ok(raw) => match (document.len() > MAX_DETAILS * MIN_DETAIL_BSON)
            .then(|| too_many_details(raw))
            .flatten()
        {
            Some(finding) => Err(finding),
            None => stream_codec::event_from_raw_noting(raw, unsealed),
        },
        Err(_) => Err(Error::BsonUnterminated { offset }.into_finding()),
    }
}

/// What [`Sink::bson_document`] does by default: decodes the document and
/// hands on its record, then its unsealed findings.
pub(crate) fn hand_on<S: Sink + ?Sized>(sink: &mut S, document: &[u8], offset: u64) {
    let mut unsealed = Vec::new();
    let record = decode(document, offset, &mut unsealed);
    crate::feed::hand_on(sink, record, unsealed, offset);
}

/// Hands on the damage that ends the input, as a finding at `offset`.
fn damage<S: Sink + ?Sized>(sink: &mut S, damage: Error, offset: u64) -> Result<(), Error> {
    sink.record(Err(damage.into_finding()), offset);
    Ok(())
}

/// The finding for a document with more than [`MAX_DETAILS`] details,
/// found before any of them is decoded.
fn too_many_details(raw: &RawDocument) -> Option<Malformed> {
    let Ok(Some(RawBsonRef::Array(details))) = raw.get("details") else {
        return None;
    };
    // Iterating a raw array decodes no value.
    let _beyond_the_limit = details.into_iter().nth(MAX_DETAILS)?;
    let chain = raw.get_str("chain").ok().and_then(|c| ChainId::new(c).ok());
    let seq = match raw.get("seq") {
        Ok(Some(RawBsonRef::Int64(s))) => u64::try_from(s).ok(),
        Ok(Some(RawBsonRef::Int32(s))) => u64::try_from(s).ok(),
        _ => None,
    };
    Some(Malformed {
        chain,
        seq,
        reason: format!(
            "field `details`: more than {MAX_DETAILS} details, the most the verifier reads"
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::testing::{chain, dump, Kept};

    #[test]
    fn each_document_is_handed_on_at_its_offset() {
        let events = chain(2);
        let bytes = dump(&events);
        let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as u64;
        let mut kept = Kept::default();
        read(bytes.as_slice(), &mut kept).unwrap();
        let offsets: Vec<u64> = kept.records.iter().map(|(_, at)| *at).collect();
        assert_eq!(offsets, [0, first_len]);
    }

    #[test]
    fn a_document_that_is_not_an_event_is_a_record_not_an_error() {
        let document = bson::doc! { "chain": "ca", "seq": 4_i64 };
        let raw = bson::RawDocumentBuf::try_from(&document).unwrap();
        let mut kept = Kept::default();
        read(raw.as_bytes(), &mut kept).unwrap();
        let [(Err(malformed), 0)] = kept.records.as_slice() else {
            panic!("{:?}", kept.records.len());
        };
        assert_eq!(
            (malformed.chain.as_ref().map(|c| c.as_str()), malformed.seq),
            (Some("ca"), Some(4))
        );
    }

    /// The records of `bytes`, as (event or (chain, seq, reason), offset).
    /// A malformed record: chain, seq, reason.
    type Broken = (Option<String>, Option<u64>, String);

    fn records(bytes: &[u8]) -> Vec<(Result<u64, Broken>, u64)> {
        let mut kept = Kept::default();
        read(bytes, &mut kept).unwrap();
        kept.records
            .into_iter()
            .map(|(r, at)| {
                let r = r
                    .map(|e| e.seq)
                    .map_err(|m| (m.chain.map(|c| c.as_str().to_owned()), m.seq, m.reason));
                (r, at)
            })
            .collect()
    }

    #[test]
    fn damage_without_a_way_on_ends_the_input_with_a_finding_after_what_came_before() {
        let bytes = dump(&chain(2));
        let first = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let mut huge = bytes.clone();
        huge[first..first + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut past_the_end = bytes.clone();
        let second = (bytes.len() - first) as u32;
        past_the_end[first..first + 4].copy_from_slice(&(second + 1).to_le_bytes());
        let cases: [(&[u8], String); 4] = [
            (
                &bytes[..first + 2],
                format!(
                    "truncated BSON document at byte {first}: the input ends inside its length"
                ),
            ),
            (
                &bytes[..bytes.len() - 1],
                format!(
                    "truncated BSON document at byte {first}: {} bytes announced",
                    second
                ),
            ),
            (
                &huge,
                format!("not a BSON document at byte {first}: it claims 4294967295 bytes"),
            ),
            (
                &past_the_end,
                format!(
                    "truncated BSON document at byte {first}: {} bytes announced",
                    second + 1
                ),
            ),
        ];
        for (bytes, reason) in cases {
            let read = records(bytes);
            let [(Ok(1), 0), (Err((None, None, why)), at)] = read.as_slice() else {
                panic!("{read:?}");
            };
            assert_eq!(*at, first as u64);
            assert!(why.starts_with(&reason), "{why}");
        }
    }

    #[test]
    fn a_document_with_a_valid_length_is_skipped_by_it() {
        let bytes = dump(&chain(3));
        let first = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        // The first document loses its zero byte; a length of 5 is a
        // document too small for an event.
        let mut unterminated = bytes.clone();
        unterminated[first - 1] = 1;
        let read = records(&unterminated);
        let [(Err((None, None, why)), 0), (Ok(2), _), (Ok(3), _)] = read.as_slice() else {
            panic!("{read:?}");
        };
        assert!(why.contains("does not end with a zero byte"), "{why}");
        let tiny = [&[5, 0, 0, 0, 0][..], &bytes[..]].concat();
        let read = records(&tiny);
        assert!(
            matches!(
                read.as_slice(),
                [(Err(_), 0), (Ok(1), 5), (Ok(2), _), (Ok(3), _)]
            ),
            "{read:?}"
        );
    }

    #[test]
    fn an_event_of_more_details_than_the_limit_is_a_finding_not_decoded() {
        let mut event = chain(1).remove(0);
        let detail = event.details[0].clone();
        event.details = vec![detail; MAX_DETAILS + 1];
        let bytes = dump(&[event]);
        let read = records(&bytes);
        let [(Err((Some(chain), Some(1), why)), 0)] = read.as_slice() else {
            panic!("{read:?}");
        };
        assert_eq!(chain, "ca");
        assert!(
            why.contains(&format!("more than {MAX_DETAILS} details")),
            "{why}"
        );
    }
}
