//! One input, whatever its format: gzip is detected from its magic bytes,
//! then mongodump or mongoexport from the first bytes of the data; the
//! reader of that format ([`crate::dump`], [`crate::export`]) does the rest.

use std::io::{self, BufReader, Read};

use flate2::read::MultiGzDecoder;

use crate::dump::{self, MAX_BSON_DOCUMENT};
use crate::error::Error;
use crate::export;
use crate::feed::Sink;

/// The read buffer of BSON and gzip input.
pub(crate) const READ_BUFFER: usize = 256 * 1024;
/// At most this much leading whitespace is read to find the format.
const PREFIX_LIMIT: usize = 1024 * 1024;

/// How inputs are read. The default is what the verifier uses.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Read every mongoexport document through `bson`'s generic Extended
    /// JSON conversion, never the fast reader (for differential tests).
    pub generic_json: bool,
}

impl ReadOptions {
    /// Sets [`ReadOptions::generic_json`].
    pub fn with_generic_json(mut self, generic_json: bool) -> ReadOptions {
        self.generic_json = generic_json;
        self
    }
}

/// The format of an input, found from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// No bytes at all: no records.
    Empty,
    /// mongodump: BSON documents.
    Bson,
    /// mongoexport: JSON documents, or one JSON array of them.
    Json,
    /// Neither.
    Unknown,
}

/// Finds the format from the first bytes of the (decompressed) input: a
/// plausible BSON length first (JSON text can never give one: its fourth
/// byte makes any length above 150 MiB), else `{` or `[` for JSON.
pub fn detect(prefix: &[u8]) -> Format {
    if prefix.is_empty() {
        return Format::Empty;
    }
    if let Some(&[a, b, c, d]) = prefix.first_chunk::<4>() {
        let len = u32::from_le_bytes([a, b, c, d]);
        if usize::try_from(len).is_ok_and(|len| (5..=MAX_BSON_DOCUMENT).contains(&len)) {
            return Format::Bson;
        }
    }
    match prefix.iter().find(|b| !is_json_whitespace(**b)) {
        Some(b'{' | b'[') | None => Format::Json,
        Some(_) => Format::Unknown,
    }
}

/// JSON's insignificant whitespace.
pub(crate) fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Reads up to `want` bytes (fewer only at the end of the input).
fn read_up_to(reader: &mut dyn Read, want: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = vec![0; want];
    let got = read_full(reader, &mut bytes).map_err(|source| Error::Read { offset: 0, source })?;
    bytes.truncate(got);
    Ok(bytes)
}

/// Reads until `buf` is full or the input ends; returns how many bytes
/// were read.
pub(crate) fn read_full(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads one input: a mongodump collection file or a mongoexport file
/// (JSON lines, pretty-printed, or `--jsonArray`; canonical or relaxed
/// Extended JSON), either of them optionally gzip-compressed (detected from
/// the magic bytes, not a name), and hands every document to `sink`, in
/// constant memory. An empty input holds no records.
///
/// Documents that are not valid events go to the sink as such; an input
/// that is not a dump or an export at all is an [`Error`].
pub fn read_input<'r, S: Sink + ?Sized>(
    reader: impl Read + 'r,
    sink: &mut S,
    options: &ReadOptions,
) -> Result<(), Error> {
    let mut reader: Box<dyn Read + 'r> = Box::new(reader);
    let magic = read_up_to(&mut reader, 2)?;
    let gzip = magic == [0x1f, 0x8b];
    let mut reader: Box<dyn Read + 'r> = Box::new(io::Cursor::new(magic).chain(reader));
    if gzip {
        reader = Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER,
            reader,
        )));
    }
    // Enough to tell BSON from JSON: a length, and the first byte that is
    // not whitespace.
    let mut prefix = read_up_to(&mut reader, 4)?;
    while prefix.len() < PREFIX_LIMIT && prefix.iter().all(|b| is_json_whitespace(*b)) {
        let more = read_up_to(&mut reader, 4096)?;
        if more.is_empty() {
            break;
        }
        prefix.extend_from_slice(&more);
    }
    let format = detect(&prefix);
    let start: Vec<u8> = prefix.iter().take(8).copied().collect();
    let reader = io::Cursor::new(prefix).chain(reader);
    let result = match format {
        Format::Empty => Ok(()),
        Format::Bson => dump::read(reader, sink),
        Format::Json => export::read(reader, sink, options),
        Format::Unknown => Err(Error::UnknownFormat { start }),
    };
    if gzip {
        result.map_err(|e| Error::Gzip(Box::new(e)))
    } else {
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::testing::{chain, dump, export, Kept};

    #[test]
    fn the_format_comes_from_the_first_bytes() {
        assert_eq!(detect(b""), Format::Empty);
        assert_eq!(detect(&dump(&chain(1))), Format::Bson);
        assert_eq!(detect(b" \n{\"v\": 2}"), Format::Json);
        assert_eq!(detect(b"[]"), Format::Json);
        assert_eq!(detect(b"   "), Format::Json);
        assert_eq!(detect(b"hello"), Format::Unknown);
    }

    #[test]
    fn both_formats_and_gzip_read_the_same_events() {
        let events = chain(3);
        let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzipped.write_all(&export(&events)).unwrap();
        let gzipped = gzipped.finish().unwrap();
        for bytes in [dump(&events), export(&events), gzipped] {
            for options in [
                ReadOptions::default(),
                ReadOptions::default().with_generic_json(true),
            ] {
                let mut kept = Kept::default();
                read_input(bytes.as_slice(), &mut kept, &options).unwrap();
                let read: Vec<_> = kept.records.into_iter().map(|(r, _)| r.unwrap()).collect();
                assert_eq!(read, events);
            }
        }
    }

    #[test]
    fn an_input_that_is_not_an_export_is_an_error() {
        let mut kept = Kept::default();
        read_input(&b""[..], &mut kept, &ReadOptions::default()).unwrap();
        assert!(kept.records.is_empty());
        let e = read_input(&b"hello world"[..], &mut kept, &ReadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a mongodump (BSON) or mongoexport (JSON) file: it starts with bytes 68656c6c"
        );
        let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzipped.write_all(b"hello").unwrap();
        let e = read_input(
            gzipped.finish().unwrap().as_slice(),
            &mut kept,
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Gzip(_)), "{e:?}");
        assert!(e.to_string().ends_with(" (of the decompressed gzip data)"));
        assert!(kept.records.is_empty());
    }
}
