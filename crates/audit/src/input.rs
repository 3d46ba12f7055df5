//! One input, whatever its format: gzip is detected from its magic bytes,
//! then mongodump or mongoexport from the first bytes of the data; the
//! reader of that format ([`crate::dump`], [`crate::export`]) does the rest.

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use crate::dump::{self, MAX_BSON_DOCUMENT};
use crate::error::Error;
use crate::export;
use crate::feed::Sink;

/// The read buffer of BSON and gzip input.
pub(crate) const READ_BUFFER: usize = 256 * 1024;
/// At most this much leading whitespace is read to find the format.
const PREFIX_LIMIT: usize = 1024 * 1024;
/// The most details of one event the readers decode (and stored search
/// terms: one per public detail): a document with more is a finding, read
/// no further. An event has a few details; 16,384 keep the decoded details
/// of any document under 2 MiB (a `Detail` takes 72 bytes and two
/// allocations), so that the largest document read, with its decoded copy,
/// stays far enough below the verifier's 64 MiB (see `docs/PERFORMANCE.md`,
/// "Hostile input: memory").
pub const MAX_DETAILS: usize = 16_384;

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
/// bounded memory (one document at a time: [`MAX_BSON_DOCUMENT`],
/// [`export::MAX_JSON_DOCUMENT`]). An empty input holds no records.
///
/// Documents that are not valid events go to the sink as such
/// (`Err(Malformed)`, at their offset). So does damage: a record that
/// cannot be decoded is a finding at its offset, and reading goes on with
/// the next record where the format tells where it starts (a BSON length,
/// the next line of JSON lines); where it does not (a BSON length past the
/// end, a broken `--jsonArray`, damaged gzip data), the input ends with
/// one finding for the damage, after every record before it.
///
/// # Errors
///
/// Only an input that is not a dump or an export at all, from its first
/// bytes ([`Error::UnknownFormat`], also inside gzip: [`Error::Gzip`]),
/// and an I/O error of `reader` itself ([`Error::Read`]): never damage of
/// its content.
pub fn read_input<'r, S: Sink + ?Sized>(
    reader: impl Read + 'r,
    sink: &mut S,
    options: &ReadOptions,
) -> Result<(), Error> {
    // Tells the input's own I/O errors from the decompressor's.
    let failed = Rc::new(Cell::new(false));
    let mut reader: Box<dyn Read + 'r> = Box::new(Source {
        inner: reader,
        failed: Rc::clone(&failed),
    });
    let magic = read_up_to(&mut reader, 2)?;
    let gzip = magic == [0x1f, 0x8b];
    let mut reader: Box<dyn Read + 'r> = Box::new(io::Cursor::new(magic).chain(reader));
    if gzip {
        reader = Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER,
            reader,
        )));
    }
    let result = read_decompressed(reader, sink, options);
    match result {
        Err(Error::Read { offset, source }) if gzip && !failed.get() => {
            sink.record(
                Err(Error::GzipDamaged { offset, source }.into_finding()),
                offset,
            );
            Ok(())
        }
        Err(e @ Error::UnknownFormat { .. }) if gzip => Err(Error::Gzip(Box::new(e))),
        other => other,
    }
}

/// Finds the format of the (decompressed) input and reads it.
fn read_decompressed<S: Sink + ?Sized>(
    mut reader: impl Read,
    sink: &mut S,
    options: &ReadOptions,
) -> Result<(), Error> {
    // Enough to tell BSON from JSON: a length, and the first byte that is
    // not whitespace.
    let mut prefix = read_up_to(&mut reader, 4)?;
    while prefix.len() < PREFIX_LIMIT && prefix.iter().all(|b| is_json_whitespace(*b)) {
        let more = read_up_to(&mut reader, 4096).map_err(|e| match e {
            Error::Read { source, .. } => Error::Read {
                offset: prefix.len() as u64,
                source,
            },
            other => other,
        })?;
        if more.is_empty() {
            break;
        }
        prefix.extend_from_slice(&more);
    }
    let format = detect(&prefix);
    let start: Vec<u8> = prefix.iter().take(8).copied().collect();
    let reader = io::Cursor::new(prefix).chain(reader);
    match format {
        Format::Empty => Ok(()),
        Format::Bson => dump::read(reader, sink),
        Format::Json => export::read(reader, sink, options),
        Format::Unknown => Err(Error::UnknownFormat { start }),
    }
}

/// The input itself, noting whether it failed.
struct Source<R> {
    /// The input.
    inner: R,
    /// Set when reading `inner` failed.
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.inner.read(buf);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() != io::ErrorKind::Interrupted)
        {
            self.failed.set(true);
        }
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
        // Gzip damaged before its first byte: a finding (the file claims to
        // be gzip and is damaged), not an error.
        let damaged = [&[0x1f, 0x8b, 8, 0][..], &[0xff; 64][..]].concat();
        read_input(damaged.as_slice(), &mut kept, &ReadOptions::default()).unwrap();
        let [(Err(damage), 0)] = kept.records.as_slice() else {
            panic!("{:?}", kept.records.len());
        };
        assert!(
            damage.reason.starts_with("damaged gzip data: "),
            "{}",
            damage.reason
        );
    }

    /// Gzip of `bytes`.
    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzipped.write_all(bytes).unwrap();
        gzipped.finish().unwrap()
    }

    #[test]
    fn damaged_gzip_ends_the_input_with_a_finding_after_what_came_before() {
        let events = chain(200);
        for plain in [export(&events), dump(&events)] {
            let gzipped = gzip(&plain);
            let truncated = gzipped[..gzipped.len() / 2].to_vec();
            let mut flipped = gzipped.clone();
            let at = flipped.len() / 2;
            flipped[at] ^= 0x55;
            let mut bad_crc = gzipped.clone();
            let crc = bad_crc.len() - 8;
            bad_crc[crc] ^= 1;
            for (what, bytes) in [
                ("truncated", truncated),
                ("flipped", flipped),
                ("crc", bad_crc),
            ] {
                let mut kept = Kept::default();
                read_input(bytes.as_slice(), &mut kept, &ReadOptions::default())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let Some((Err(damage), _)) = kept.records.last() else {
                    panic!("{what}: no finding for the damage");
                };
                assert!(damage.reason.contains("gzip"), "{what}: {}", damage.reason);
                assert!(
                    kept.records.iter().any(|(r, _)| r.is_ok()),
                    "{what}: nothing kept"
                );
            }
        }
    }

    /// Gives `bytes`, then fails.
    struct Failing<'a>(&'a [u8]);

    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_error_of_the_file_itself_is_an_error() {
        let events = chain(3);
        let gzipped = gzip(&export(&events));
        for bytes in [
            dump(&events),
            export(&events),
            gzipped[..gzipped.len() / 2].to_vec(),
        ] {
            let mut kept = Kept::default();
            let e = read_input(Failing(&bytes), &mut kept, &ReadOptions::default()).unwrap_err();
            assert!(e.to_string().contains("disk on fire"), "{e}");
        }
    }
}
