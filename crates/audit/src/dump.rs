//! The mongodump reader: a collection file (`events.bson`) is BSON
//! documents one after another, each starting with its length (int32,
//! little-endian). Each document is read raw
//! ([`stream_codec::event_from_raw`]), without building a `bson::Document`.

use std::io::{BufReader, Read};

use bson::RawDocument;

use crate::error::Error;
use crate::feed::Sink;
use crate::input::{read_full, READ_BUFFER};

/// The largest BSON document MongoDB stores (16 MiB, plus its internal
/// allowance); a larger length means the input is not a mongodump file.
pub const MAX_BSON_DOCUMENT: usize = 16 * 1024 * 1024 + 16 * 1024;

/// Reads a mongodump file (uncompressed) and hands every document to
/// `sink`. A document that is not a valid event is handed on as such; a
/// file that is not made of BSON documents (an impossible length, a
/// truncated document) is an [`Error`] naming the offset.
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
            return Err(Error::BsonLengthTruncated { offset });
        }
        let len = u32::from_le_bytes(header);
        let Some(len) = usize::try_from(len)
            .ok()
            .filter(|len| (5..=MAX_BSON_DOCUMENT).contains(len))
        else {
            return Err(Error::BsonLength { offset, len });
        };
        document.clear();
        document.extend_from_slice(&header);
        document.resize(len, 0);
        let body = document.get_mut(header.len()..).unwrap_or_default();
        let got = read_full(&mut reader, body).map_err(|source| Error::Read { offset, source })?;
        if got + header.len() < len {
            return Err(Error::BsonTruncated {
                offset,
                len,
                got: got + header.len(),
            });
        }
        let raw =
            RawDocument::from_bytes(&document).map_err(|_| Error::BsonUnterminated { offset })?;
        sink.record(stream_codec::event_from_raw(raw), offset);
        offset += len as u64;
    }
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

    #[test]
    fn a_damaged_file_is_an_error_naming_the_offset() {
        let bytes = dump(&chain(2));
        let first = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let mut kept = Kept::default();
        let cut = read(&bytes[..first + 2], &mut kept).unwrap_err();
        assert!(matches!(cut, Error::BsonLengthTruncated { offset } if offset == first as u64));
        let cut = read(&bytes[..bytes.len() - 1], &mut kept).unwrap_err();
        assert!(matches!(cut, Error::BsonTruncated { offset, .. } if offset == first as u64));
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = read(huge.as_slice(), &mut kept).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("not a BSON document at byte 0: it claims 4294967295 bytes"),
            "{e}"
        );
        let mut unterminated = bytes;
        unterminated[first - 1] = 1;
        let e = read(unterminated.as_slice(), &mut kept).unwrap_err();
        assert!(matches!(e, Error::BsonUnterminated { offset: 0 }), "{e:?}");
    }
}
