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
