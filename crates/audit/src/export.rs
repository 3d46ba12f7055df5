//! The mongoexport reader: JSON documents one after another (JSON lines,
//! or pretty-printed), or `--jsonArray`'s single array of them, in
//! canonical or relaxed Extended JSON. Documents of the usual shape are
//! read straight into events (the `fast` reader); any other goes through `bson`'s
//! Extended JSON conversion, which decides what it is (with
//! [`ReadOptions::generic_json`]: every document, for differential tests).
//! Stubs (events purged by retention) and retention anchors are read by the
//! generic conversion.

mod fast;

use std::io::{self, Read};

use bson::Bson;
use serde_json::Value;
use stream_chain::ChainId;
use stream_codec::Malformed;

use crate::error::Error;
use crate::feed::Sink;
use crate::input::{is_json_whitespace, read_full, ReadOptions};

/// The largest JSON document accepted (Extended JSON of a 16 MiB document
/// with binary data, base64-encoded, fits).
pub const MAX_JSON_DOCUMENT: usize = 64 * 1024 * 1024;
/// How much JSON is read at a time.
const JSON_CHUNK: usize = 1024 * 1024;

/// Where a mongoexport reader stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Before the first value: `[` opens a `--jsonArray` export.
    Start,
    /// Documents one after another (JSON lines, or pretty-printed).
    Lines,
    /// Inside the array.
    Array {
        /// An element (not `,` or `]`) comes next.
        element_next: bool,
        /// No element yet (`]` may close an empty array).
        first: bool,
    },
    /// After the array's closing `]`.
    Done,
}

/// Streams JSON documents out of a reader through a buffer of about
/// [`JSON_CHUNK`] bytes.
struct JsonInput<R> {
    /// The input.
    reader: R,
    /// Read but not yet consumed from `pos` on.
    buf: Vec<u8>,
    /// The next byte to look at in `buf`.
    pos: usize,
    /// The input offset of `buf[0]`.
    base: u64,
    /// The input has ended.
    eof: bool,
    /// Read every document through the generic conversion only.
    generic: bool,
}

impl<R: Read> JsonInput<R> {
    /// The input offset of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more input, keeping what is not consumed yet; `false` if the
    /// input had ended.
    fn refill(&mut self) -> Result<bool, Error> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let kept = self.buf.len();
        if kept > MAX_JSON_DOCUMENT {
            return Err(Error::JsonTooLarge { offset: self.base });
        }
        // Doubles while one document fills the buffer: a document needs
        // few re-reads, whatever its size.
        let more = JSON_CHUNK.max(kept);
        self.buf.resize(kept + more, 0);
        let rest = self.buf.get_mut(kept..).unwrap_or_default();
        let got = read_full(&mut self.reader, rest).map_err(|source| Error::Read {
            offset: self.base + kept as u64,
            source,
        })?;
        self.buf.truncate(kept + got);
        self.eof = got < more;
        Ok(got > 0)
    }

    /// The next byte that is not whitespace (not consumed); `None` at the
    /// end of the input.
    fn peek(&mut self) -> Result<Option<u8>, Error> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if !is_json_whitespace(b) {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Reads the JSON document (`{...}`) that starts at the current
    /// position and hands it on: straight into an event when it has the
    /// usual shape, else through the generic Extended JSON conversion.
    fn document<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        while !self.generic {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<fast::Event>();
            match stream.next() {
                Some(Ok(parsed)) => {
                    let Some(event) = parsed.into_event() else {
                        break;
                    };
                    let at = self.offset();
                    self.pos += stream.byte_offset();
                    sink.record(Ok(event), at);
                    return Ok(());
                }
                Some(Err(e)) if e.is_eof() && !self.eof => {
                    self.refill()?;
                }
                // Not the usual shape, or not JSON at all: the generic
                // reader decides, and says why.
                Some(Err(_)) | None => break,
            }
        }
        self.generic_document(sink)
    }

    /// Reads the document at the current position as a JSON value and
    /// converts it with `bson`'s Extended JSON conversion (the reference
    /// the fast reader follows).
    fn generic_document<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
            match stream.next() {
                Some(Ok(value)) => {
                    let at = self.offset();
                    let len = stream.byte_offset();
                    // The value keeps the last of a repeated key; the
                    // document is malformed instead (the fast reader leaves
                    // every document that could repeat one to this reader).
                    let repeated = rest
                        .get(..len)
                        .is_some_and(|text| serde_json::from_slice::<fast::Unique>(text).is_err());
                    self.pos += len;
                    json_value(value, at, repeated, sink);
                    return Ok(());
                }
                Some(Err(e)) if e.is_eof() && !self.eof => {
                    self.refill()?;
                }
                Some(Err(e)) => return Err(json_error(self.offset(), rest, e)),
                None => {
                    if !self.refill()? {
                        return Err(Error::JsonEnded {
                            offset: self.offset(),
                        });
                    }
                }
            }
        }
    }
}

/// The message of a JSON error in the document starting at input offset
/// `start` (`text` holds the document onwards).
fn json_error(start: u64, text: &[u8], e: serde_json::Error) -> Error {
    if e.is_eof() {
        return Error::JsonTruncated { offset: start };
    }
    if e.is_io() {
        return Error::Read {
            offset: start,
            source: io::Error::other(e),
        };
    }
    // serde_json counts lines and columns from the document's start.
    let mut at = 0usize;
    for _ in 1..e.line() {
        match text.iter().skip(at).position(|&b| b == b'\n') {
            Some(newline) => at += newline + 1,
            None => break,
        }
    }
    let offset = start + (at + e.column().saturating_sub(1)) as u64;
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(what, _)| what)
        .to_owned();
    Error::Json { offset, message }
}

/// Reads a mongoexport file: JSON documents one after another (JSON lines,
/// pretty-printed), or one JSON array of them (`--jsonArray`).
pub fn read<S: Sink + ?Sized>(
    reader: impl Read,
    sink: &mut S,
    options: &ReadOptions,
) -> Result<(), Error> {
    let mut input = JsonInput {
        reader,
        buf: Vec::with_capacity(JSON_CHUNK),
        pos: 0,
        base: 0,
        eof: false,
        generic: options.generic_json,
    };
    let mut layout = Layout::Start;
    loop {
        let Some(b) = input.peek()? else {
            return match layout {
                Layout::Array { .. } => Err(Error::JsonArrayTruncated {
                    offset: input.offset(),
                }),
                _ => Ok(()),
            };
        };
        let offset = input.offset();
        let expected = |expected: &'static str| Error::JsonUnexpected {
            offset,
            expected,
            found: b,
        };
        layout = match layout {
            Layout::Start if b == b'[' => {
                input.pos += 1;
                Layout::Array {
                    element_next: true,
                    first: true,
                }
            }
            Layout::Start | Layout::Lines => {
                if b != b'{' {
                    return Err(expected("a document `{`"));
                }
                input.document(sink)?;
                Layout::Lines
            }
            Layout::Array {
                element_next: true,
                first,
            } => {
                if b == b']' && first {
                    input.pos += 1;
                    Layout::Done
                } else if b == b'{' {
                    input.document(sink)?;
                    Layout::Array {
                        element_next: false,
                        first: false,
                    }
                } else {
                    return Err(expected("a document `{`"));
                }
            }
            Layout::Array {
                element_next: false,
                ..
            } => match b {
                b',' => {
                    input.pos += 1;
                    Layout::Array {
                        element_next: true,
                        first: false,
                    }
                }
                b']' => {
                    input.pos += 1;
                    Layout::Done
                }
                _ => return Err(expected("`,` or `]`")),
            },
            Layout::Done => return Err(expected("nothing after the JSON array")),
        };
    }
}

/// A JSON document that the fast reader refused, as a JSON value: read
/// again through the generic Extended JSON conversion, for the event or
/// the reason.
fn json_value<S: Sink + ?Sized>(value: Value, offset: u64, repeated: bool, sink: &mut S) {
    let chain = value
        .get("chain")
        .and_then(Value::as_str)
        .and_then(|c| ChainId::new(c).ok());
    let seq = value.get("seq").and_then(json_seq);
    // Before the sink's choice by code: a repeated `code` must not choose.
    if repeated {
        let reason = "a key appears twice in one object (a reader could take either value)";
        sink.record(
            Err(Malformed {
                chain,
                seq,
                reason: reason.to_owned(),
            }),
            offset,
        );
        return;
    }
    if !sink.wants(value.get("code").and_then(Value::as_str)) {
        return;
    }
    let record = match Bson::try_from(value) {
        Ok(Bson::Document(document)) => stream_codec::event_from_document(&document),
        Ok(other) => Err(Malformed {
            chain,
            seq,
            reason: format!(
                "not a document but Extended JSON of type {:?}",
                other.element_type()
            ),
        }),
        Err(e) => Err(Malformed {
            chain,
            seq,
            reason: format!("not valid Extended JSON: {e}"),
        }),
    };
    sink.record(record, offset);
}

/// A sequence number in Extended JSON (`5`, `{"$numberLong": "5"}`,
/// `{"$numberInt": "5"}`).
fn json_seq(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::Object(map) => map
            .get("$numberLong")
            .or_else(|| map.get("$numberInt"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::testing::{chain, export, Kept};

    fn events(bytes: &[u8], options: &ReadOptions) -> Result<Vec<SealedEventOrReason>, Error> {
        let mut kept = Kept::default();
        read(bytes, &mut kept, options)?;
        Ok(kept
            .records
            .into_iter()
            .map(|(r, _)| r.map_err(|m| m.reason))
            .collect())
    }

    type SealedEventOrReason = Result<stream_chain::SealedEvent, String>;

    #[test]
    fn lines_an_array_and_pretty_documents_read_alike() {
        let events_given = chain(3);
        let lines = export(&events_given);
        let text = String::from_utf8(lines.clone()).unwrap();
        let documents: Vec<&str> = text.lines().collect();
        let array = format!("[{}]", documents.join(",\n"));
        let pretty = documents
            .iter()
            .map(|d| {
                let value: Value = serde_json::from_str(d).unwrap();
                serde_json::to_string_pretty(&value).unwrap()
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let expected: Vec<SealedEventOrReason> = events_given.into_iter().map(Ok).collect();
        for bytes in [lines, array.into_bytes(), pretty.into_bytes()] {
            for generic in [false, true] {
                let options = ReadOptions::default().with_generic_json(generic);
                assert_eq!(events(&bytes, &options).unwrap(), expected);
            }
        }
        assert_eq!(events(b"[]", &ReadOptions::default()).unwrap(), []);
    }

    #[test]
    fn a_sink_that_does_not_want_a_code_is_spared_the_conversion() {
        // Only the generic conversion asks; the fast reader hands on what
        // it decoded anyway.
        let bytes = export(&chain(2));
        let mut kept = Kept {
            only: Some("STREAM-SHRED"),
            ..Kept::default()
        };
        read(
            bytes.as_slice(),
            &mut kept,
            &ReadOptions::default().with_generic_json(true),
        )
        .unwrap();
        assert!(kept.records.is_empty());
    }

    #[test]
    fn what_is_not_an_export_is_an_error_naming_the_offset() {
        let options = ReadOptions::default();
        let messages = [
            (
                &b"[{}, 5]"[..],
                "invalid JSON at byte 5: expected a document `{`, found `5`",
            ),
            (
                b"[{} {}]",
                "invalid JSON at byte 4: expected `,` or `]`, found `{`",
            ),
            (
                b"[] {}",
                "invalid JSON at byte 3: expected nothing after the JSON array, found `{`",
            ),
            (
                b"[{}",
                "truncated JSON array: the input ends at byte 3 before its closing `]`",
            ),
            (
                b"{\"a\": ",
                "truncated JSON document at byte 0: the input ends inside it",
            ),
            (b"{}\n{\"a\" 1}", "invalid JSON at byte 8: expected `:`"),
        ];
        for (bytes, message) in messages {
            let e = events(bytes, &options).unwrap_err();
            assert_eq!(e.to_string(), message, "{}", String::from_utf8_lossy(bytes));
        }
        // A document that is JSON but not an event is a record.
        let reasons = events(b"{\"chain\": \"ca\"}", &options).unwrap();
        assert!(
            matches!(reasons.as_slice(), [Err(reason)] if reason.contains("field")),
            "{reasons:?}"
        );
    }
}
