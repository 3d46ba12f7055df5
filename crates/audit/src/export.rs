//! The mongoexport reader: JSON documents one after another (JSON lines,
//! or pretty-printed), or `--jsonArray`'s single array of them, in
//! canonical or relaxed Extended JSON. Documents of the usual shape are
//! read straight into events (the `fast` reader); any other goes through `bson`'s
//! Extended JSON conversion, which decides what it is (with
//! [`ReadOptions::generic_json`]: every document, for differential tests).
//! Stubs (events purged by retention) and retention anchors are read by the
//! generic conversion.
//!
//! **Damage.** A document that is not JSON (invalid UTF-8, a lone
//! surrogate escape, nesting deeper than 128, a syntax error), that is
//! cut short, or that is larger than [`MAX_JSON_DOCUMENT`] is a finding at
//! the offset where it starts. Outside an array, reading goes on at the
//! next line that starts with `{`: mongoexport writes every document on a
//! line of its own (or, pretty-printed, with `{` at the start of its first
//! line and its other lines indented), and JSON forbids a raw newline
//! inside a string, so a newline byte is never part of a valid string and
//! every line that opens with `{` starts a record; what lies between (the
//! rest of the broken record, lines of junk) is skipped unread. So is
//! anything else where a document should start (a finding at its offset).
//! Inside a `--jsonArray` array, nothing tells where the next element
//! starts: the input ends with the finding. Only an I/O error of the
//! input itself is an [`Error`].
//!
//! **Memory.** One document is buffered at a time, at most
//! [`MAX_JSON_DOCUMENT`] bytes: past that, the rest of it is skipped
//! without being kept. The fast reader decodes at most
//! [`crate::MAX_DETAILS`] details; the generic conversion (which builds a
//! JSON value and then a BSON document, each many times the size of a
//! text of tiny values) takes only documents of at most
//! [`MAX_GENERIC_DOCUMENT`] bytes and [`MAX_GENERIC_VALUES`] values,
//! counted before it builds anything. A larger document that the fast
//! reader does not read as an event is a finding; with
//! [`ReadOptions::generic_json`], the fast reader still reads documents
//! too large for the generic conversion, so both modes give the same
//! records for every document.

mod fast;

use bson::Bson;
use serde_json::Value;
use std::io::{self, Read};
use stream_chain::{ChainId, FindingKind};
use stream_codec::Malformed;

use crate::error::Error;
use crate::feed::{hand_on, Sink};
use crate::input::{is_json_whitespace, ReadOptions};

/// The largest JSON document read. The largest event the library seals
/// holds 16 MiB of content (`stream_chain::MAX_EVENT_BYTES`); as
/// mongoexport writes it, a maximal event of sensitive details (binary,
/// base64: 4/3 of its size) takes 21.4 MiB, one of public text in the
/// common characters 16 MiB and a little. Only text made mostly of
/// characters that JSON escapes (`"`, `\`, control characters: 2 to 6
/// bytes each) exceeds this limit; such an event is verified from a
/// mongodump (`.bson`) file instead. The bound keeps the verifier's memory
/// for one document under 64 MiB.
pub const MAX_JSON_DOCUMENT: usize = 24 * 1024 * 1024;
/// The largest document read by the generic Extended JSON conversion (its
/// JSON value and BSON document cost a few times the text).
pub const MAX_GENERIC_DOCUMENT: usize = 1024 * 1024;
/// The most JSON values (keys included) of a document read by the generic
/// Extended JSON conversion: some hundreds of bytes each once converted,
/// so a few MiB at most. A stub, an anchor, any event that is not of the
/// usual shape, has some dozens.
pub const MAX_GENERIC_VALUES: usize = 16 * 1024;
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

/// What reading more input gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum More {
    /// More bytes.
    Read,
    /// The input has ended.
    Ended,
    /// The buffer holds [`MAX_JSON_DOCUMENT`] bytes not consumed yet.
    Full,
}

/// What the fast reader did with a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fast {
    /// Read it as an event, handed on.
    Read,
    /// Left it to the generic conversion (or to the finding).
    Declined,
}

/// What the framing pass found of the document at the current position.
struct Framed {
    /// Its length in bytes.
    len: usize,
    /// A key appears twice in one of its objects.
    repeated: bool,
    /// It has more than [`MAX_GENERIC_VALUES`] values.
    too_many_values: bool,
}

/// Streams JSON documents out of a reader through a buffer of at most
/// [`MAX_JSON_DOCUMENT`] bytes.
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
    /// The error that ended the input, returned once what was read before
    /// it is consumed.
    failed: Option<Error>,
}

impl<R: Read> JsonInput<R> {
    /// A reader of `reader`.
    fn new(reader: R, options: &ReadOptions) -> JsonInput<R> {
        JsonInput {
            reader,
            buf: Vec::with_capacity(JSON_CHUNK),
            pos: 0,
            base: 0,
            eof: false,
            generic: options.generic_json,
            failed: None,
        }
    }

    /// The input offset of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// What is buffered from the current position on.
    fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Reads more input, keeping what is not consumed yet, never more than
    /// [`MAX_JSON_DOCUMENT`] bytes in all.
    fn more(&mut self) -> Result<More, Error> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let kept = self.buf.len();
        if kept >= MAX_JSON_DOCUMENT {
            return Ok(More::Full);
        }
        if self.eof {
            return match self.failed.take() {
                Some(e) => Err(e),
                None => Ok(More::Ended),
            };
        }
        // Doubles while one document fills the buffer: a document needs
        // few re-reads, whatever its size.
        let want = JSON_CHUNK.max(kept).min(MAX_JSON_DOCUMENT - kept);
        if kept + want > JSON_CHUNK.max(self.buf.capacity()) {
            // A document of megabytes: room for the largest at once, in
            // one allocation (pages not written cost no memory). Growing
            // by doubling would reallocate, and after a first pass has
            // freed its buffer the allocator serves those from its heap,
            // copying: 24 MiB more resident memory measured.
            self.buf.reserve_exact(MAX_JSON_DOCUMENT - self.buf.len());
        }
        self.buf.reserve_exact(want);
        self.buf.resize(kept + want, 0);
        let rest = self.buf.get_mut(kept..).unwrap_or_default();
        let mut got = 0;
        while let Some(free) = rest.get_mut(got..).filter(|free| !free.is_empty()) {
            match self.reader.read(free) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    // What was read before the error is read first (a
                    // damaged gzip stream keeps the records before it).
                    let offset = self.base + (kept + got) as u64;
                    self.failed = Some(Error::Read { offset, source });
                    break;
                }
            }
        }
        self.buf.truncate(kept + got);
        self.eof = got < want;
        if got == 0 {
            return self.more();
        }
        Ok(More::Read)
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
            if self.more()? != More::Read {
                return Ok(None);
            }
        }
    }

    /// Reads the JSON document (`{...}`) that starts at the current
    /// position and hands it on: straight into an event when it has the
    /// usual shape, else through the generic Extended JSON conversion.
    /// `Ok(Some(damage))` when it is not a document at all (not JSON, cut
    /// short, too large): nothing was handed on and the position is
    /// unchanged.
    fn document<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<Option<Error>, Error> {
        if !self.generic && self.fast(sink)? == Fast::Read {
            return Ok(None);
        }
        let framed = match self.frame()? {
            Ok(framed) => framed,
            Err(damage) => return Ok(Some(damage)),
        };
        let at = self.offset();
        if framed.len > MAX_GENERIC_DOCUMENT || framed.too_many_values {
            // Beyond the generic conversion: the fast reader is the only
            // one, in both modes.
            if self.generic && self.fast(sink)? == Fast::Read {
                return Ok(None);
            }
            self.pos += framed.len;
            let reason = format!(
                "a document of more than {} MiB or {MAX_GENERIC_VALUES} JSON values that is \
                 not an event of the usual shape (larger than the generic Extended JSON reader \
                 reads)",
                MAX_GENERIC_DOCUMENT >> 20
            );
            let finding = Malformed {
                chain: None,
                seq: None,
                reason,
            };
            sink.record(Err(finding), at);
            return Ok(None);
        }
        let text = self.rest().get(..framed.len).unwrap_or_default();
        let value = match serde_json::from_slice::<Value>(text) {
            Ok(value) => value,
            // The framing pass read it already: not expected.
            Err(e) => return Ok(Some(json_error(at, text, e))),
        };
        self.pos += framed.len;
        json_value(value, at, framed.repeated, sink);
        Ok(None)
    }

    /// Reads the document at the current position with the fast reader,
    /// if it is an event of the usual shape.
    fn fast<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<Fast, Error> {
        // A sink that wants only some codes (the first pass): a document
        // of another code is skipped unread (nothing decoded, nothing
        // allocated for its values).
        if !sink.wants(None) {
            loop {
                let mut stream =
                    serde_json::Deserializer::from_slice(self.rest()).into_iter::<fast::Code>();
                match stream.next() {
                    Some(Ok(fast::Code(Some(code)))) if !sink.wants(Some(&code)) => {
                        self.pos += stream.byte_offset();
                        return Ok(Fast::Read);
                    }
                    Some(Err(e)) if e.is_eof() => {
                        if !self.buffer_document()? {
                            return Ok(Fast::Declined);
                        }
                    }
                    _ => break,
                }
            }
        }
        loop {
            let mut stream =
                serde_json::Deserializer::from_slice(self.rest()).into_iter::<fast::Event>();
            match stream.next() {
                Some(Ok(parsed)) => {
                    let len = stream.byte_offset();
                    let Some((event, terms)) = parsed.into_event() else {
                        return Ok(Fast::Declined);
                    };
                    let at = self.offset();
                    match terms {
                        None => sink.record(Ok(event), at),
                        Some(why) => {
                            let (chain, seq) = (event.chain.clone(), event.seq);
                            sink.record(Ok(event), at);
                            sink.unsealed(&chain, seq, FindingKind::Terms(why), at);
                        }
                    }
                    self.pos += len;
                    return Ok(Fast::Read);
                }
                Some(Err(e)) if e.is_eof() => {
                    if !self.buffer_document()? {
                        // Cut short or too large: the framing pass says.
                        return Ok(Fast::Declined);
                    }
                }
                // Not the usual shape, or not JSON at all: the framing
                // pass and the generic reader decide, and say why.
                Some(Err(_)) | None => return Ok(Fast::Declined),
            }
        }
    }

    /// Reads on until the document at the current position is whole in
    /// the buffer, checking it with a pass that builds nothing; `false`
    /// when the input ends first or the document is over the limit.
    /// (Parsing the event again after each read would decode its values
    /// again each time.)
    fn buffer_document(&mut self) -> Result<bool, Error> {
        loop {
            if self.more()? != More::Read {
                return Ok(false);
            }
            let mut stream = serde_json::Deserializer::from_slice(self.rest())
                .into_iter::<serde::de::IgnoredAny>();
            match stream.next() {
                Some(Err(e)) if e.is_eof() => {}
                _ => return Ok(true),
            }
        }
    }

    /// Finds the extent of the document at the current position and
    /// checks it without building anything: JSON, at most
    /// [`MAX_JSON_DOCUMENT`] bytes, its repeated keys, its number of
    /// values. `Ok(Err(damage))` when it is not a whole JSON document.
    fn frame(&mut self) -> Result<Result<Framed, Error>, Error> {
        loop {
            let at = self.offset();
            let rest = self.rest();
            let mut stream =
                serde_json::Deserializer::from_slice(rest).into_iter::<serde::de::IgnoredAny>();
            match stream.next() {
                Some(Ok(_)) => {
                    let len = stream.byte_offset();
                    let text = rest.get(..len).unwrap_or_default();
                    return Ok(match fast::Shape::read(text, MAX_GENERIC_VALUES) {
                        Ok((shape, too_many_values)) => Ok(Framed {
                            len,
                            repeated: shape.repeated,
                            too_many_values,
                        }),
                        Err(e) => Err(json_error(at, text, e)),
                    });
                }
                Some(Err(e)) if e.is_eof() => match self.more()? {
                    More::Read => {}
                    More::Ended => return Ok(Err(Error::JsonTruncated { offset: at })),
                    More::Full => return Ok(Err(Error::JsonTooLarge { offset: at })),
                },
                Some(Err(e)) => return Ok(Err(json_error(at, rest, e))),
                // Not reached: the current byte is `{`.
                None => return Ok(Err(Error::JsonTruncated { offset: at })),
            }
        }
    }

    /// Skips a broken record that starts at the current position: up to
    /// the next line that starts with `{`, or the end of the input,
    /// without keeping what it skips.
    fn skip_broken(&mut self) -> Result<(), Error> {
        self.pos += 1;
        loop {
            while let Some(newline) = self.rest().iter().position(|&b| b == b'\n') {
                match self.rest().get(newline + 1) {
                    Some(b'{') => {
                        self.pos += newline + 1;
                        return Ok(());
                    }
                    Some(_) => self.pos += newline + 1,
                    // The line's first byte is not read yet.
                    None => {
                        self.pos += newline;
                        break;
                    }
                }
            }
            if self.rest().first() != Some(&b'\n') {
                self.pos = self.buf.len();
            }
            if self.more()? != More::Read {
                self.pos = self.buf.len();
                return Ok(());
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
/// pretty-printed), or one JSON array of them (`--jsonArray`), and hands
/// every document to `sink`, then a finding for damage (see the module
/// documentation). The only error is an I/O error of `reader`.
pub fn read<S: Sink + ?Sized>(
    reader: impl Read,
    sink: &mut S,
    options: &ReadOptions,
) -> Result<(), Error> {
    JsonInput::new(reader, options).read(sink)
}

impl<R: Read> JsonInput<R> {
    /// Reads the whole input.
    fn read<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        let mut layout = Layout::Start;
        loop {
            let Some(b) = self.peek()? else {
                if let Layout::Array { .. } = layout {
                    let offset = self.offset();
                    let damage = Error::JsonArrayTruncated { offset };
                    sink.record(Err(damage.into_finding()), offset);
                }
                return Ok(());
            };
            let offset = self.offset();
            let expected = |expected: &'static str| Error::JsonUnexpected {
                offset,
                expected,
                found: b,
            };
            let (next, damage) = match layout {
                Layout::Start if b == b'[' => {
                    self.pos += 1;
                    let next = Layout::Array {
                        element_next: true,
                        first: true,
                    };
                    (next, None)
                }
                Layout::Start | Layout::Lines if b == b'{' => (Layout::Lines, self.document(sink)?),
                Layout::Start | Layout::Lines => (Layout::Lines, Some(expected("a document `{`"))),
                Layout::Array {
                    element_next: true,
                    first,
                } => {
                    if b == b']' && first {
                        self.pos += 1;
                        (Layout::Done, None)
                    } else if b == b'{' {
                        let next = Layout::Array {
                            element_next: false,
                            first: false,
                        };
                        (next, self.document(sink)?)
                    } else {
                        (layout, Some(expected("a document `{`")))
                    }
                }
                Layout::Array {
                    element_next: false,
                    ..
                } => match b {
                    b',' => {
                        self.pos += 1;
                        let next = Layout::Array {
                            element_next: true,
                            first: false,
                        };
                        (next, None)
                    }
                    b']' => {
                        self.pos += 1;
                        (Layout::Done, None)
                    }
                    _ => (layout, Some(expected("`,` or `]`"))),
                },
                Layout::Done => (layout, Some(expected("nothing after the JSON array"))),
            };
            layout = next;
            if let Some(damage) = damage {
                sink.record(Err(damage.into_finding()), offset);
                if layout != Layout::Lines {
                    // Nothing says where the array's next element starts.
                    return Ok(());
                }
                self.skip_broken()?;
            }
        }
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
        Ok(Bson::Document(document)) => {
            let mut unsealed = Vec::new();
            let record = stream_codec::event_from_document_noting(&document, &mut unsealed);
            return hand_on(sink, record, unsealed, offset);
        }
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
    fn what_is_not_an_export_is_a_finding_naming_the_offset() {
        let options = ReadOptions::default();
        let messages = [
            (
                &b"[{}, 5]"[..],
                5,
                "invalid JSON at byte 5: expected a document `{`, found `5`",
            ),
            (
                b"[{} {}]",
                4,
                "invalid JSON at byte 4: expected `,` or `]`, found `{`",
            ),
            (
                b"[] {}",
                3,
                "invalid JSON at byte 3: expected nothing after the JSON array, found `{`",
            ),
            (
                b"[{}",
                3,
                "truncated JSON array: the input ends at byte 3 before its closing `]`",
            ),
            (
                b"{\"a\": ",
                0,
                "truncated JSON document at byte 0: the input ends inside it",
            ),
            (b"{}\n{\"a\" 1}", 3, "invalid JSON at byte 8: expected `:`"),
        ];
        for (bytes, at, message) in messages {
            let read = records(bytes, &options);
            let Some((Err((None, None, why)), offset)) = read.last() else {
                panic!("{}: {read:?}", String::from_utf8_lossy(bytes));
            };
            assert_eq!((why.as_str(), *offset), (message, at));
        }
        // A document that is JSON but not an event is a record.
        let reasons = events(b"{\"chain\": \"ca\"}", &options).unwrap();
        assert!(
            matches!(reasons.as_slice(), [Err(reason)] if reason.contains("field")),
            "{reasons:?}"
        );
    }

    /// What the sink was handed for `bytes`: the event's seq, or the
    /// malformed record's (chain, seq, reason); with offsets.
    fn records(bytes: &[u8], options: &ReadOptions) -> Vec<(Result<u64, Broken>, u64)> {
        let mut kept = Kept::default();
        read(bytes, &mut kept, options).unwrap();
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

    type Broken = (Option<String>, Option<u64>, String);

    /// Both readers.
    fn both() -> [ReadOptions; 2] {
        [
            ReadOptions::default(),
            ReadOptions::default().with_generic_json(true),
        ]
    }

    /// The lines of an export of `n` events.
    fn event_lines(n: u64) -> Vec<Vec<u8>> {
        export(&chain(n))
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn a_broken_line_is_a_finding_at_its_offset_and_the_next_line_is_read() {
        let [first, second]: [Vec<u8>; 2] = event_lines(2).try_into().unwrap();
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200));
        let broken: Vec<(&str, Vec<u8>)> = vec![
            (
                "invalid UTF-8",
                b"{\"chain\": \"c\xffa\", \"seq\": 1}".to_vec(),
            ),
            (
                "lone surrogate",
                br#"{"chain": "\ud800", "seq": 1}"#.to_vec(),
            ),
            ("deep nesting", deep.into_bytes()),
            ("syntax error", b"{\"chain\": \"ca\", oops}".to_vec()),
            (
                "newline in a string",
                b"{\"chain\": \"c\na\", \"seq\": 1}".to_vec(),
            ),
            ("unfinished document", b"{\"chain\": \"ca\", ".to_vec()),
            ("not a document", b"42".to_vec()),
            ("junk after a document", [&first[..], b" junk"].concat()),
        ];
        for (what, line) in broken {
            let junk_after = what == "junk after a document";
            let bytes = [&first[..], b"\n", &line, b"\n", &second, b"\n"].concat();
            for options in both() {
                let read = records(&bytes, &options);
                let at = first.len() as u64 + 1;
                let tail = if junk_after {
                    // The line's document is read, the junk after it is the
                    // finding.
                    assert!(
                        matches!(read.get(1), Some((Ok(1), o)) if *o == at),
                        "{read:?}"
                    );
                    &read[2..]
                } else {
                    &read[1..]
                };
                let (Some((Ok(1), 0)), [(Err((None, None, why)), broken_at), (Ok(2), second_at)]) =
                    (read.first(), tail)
                else {
                    panic!("{what}: {read:?}");
                };
                let expected_at = if junk_after {
                    at + first.len() as u64 + 1
                } else {
                    at
                };
                assert_eq!(*broken_at, expected_at, "{what}: {why}");
                assert_eq!(
                    *second_at,
                    (bytes.len() - second.len() - 1) as u64,
                    "{what}"
                );
                assert!(why.contains(" at byte "), "{what}: {why}");
            }
        }
    }

    #[test]
    fn a_broken_array_ends_with_a_finding_after_what_came_before() {
        let [first, second]: [Vec<u8>; 2] = event_lines(2).try_into().unwrap();
        let cases: Vec<(Vec<u8>, usize, &str)> = vec![
            (
                [b"[", &first[..], b",\n{oops},\n", &second, b"]"].concat(),
                first.len() + 3,
                "invalid JSON at byte",
            ),
            (
                [b"[", &first[..], b",\n"].concat(),
                first.len() + 3,
                "truncated JSON array",
            ),
            (
                [b"[", &first[..], b", 5, ", &second, b"]"].concat(),
                first.len() + 3,
                "expected a document",
            ),
            (
                [b"[", &first[..], b"] ", &second].concat(),
                first.len() + 3,
                "expected nothing after the JSON array",
            ),
        ];
        for (bytes, at, says) in cases {
            for options in both() {
                let read = records(&bytes, &options);
                let [(Ok(1), 1), (Err((None, None, why)), broken_at)] = read.as_slice() else {
                    panic!("{says}: {read:?}");
                };
                assert_eq!(*broken_at, at as u64, "{why}");
                assert!(why.contains(says), "{why}");
            }
        }
    }

    #[test]
    fn a_document_over_the_limit_is_a_finding_and_the_next_line_is_read() {
        let [first]: [Vec<u8>; 1] = event_lines(1).try_into().unwrap();
        // Three times the limit: what is past the limit is skipped, not
        // kept.
        let mut huge = b"{\"a\": \"".to_vec();
        huge.resize(3 * MAX_JSON_DOCUMENT, b'x');
        huge.extend_from_slice(b"\"}\n");
        let bytes = [&huge[..], &first, b"\n"].concat();
        for options in both() {
            let mut kept = Kept::default();
            let mut input = JsonInput::new(bytes.as_slice(), &options);
            input.read(&mut kept).unwrap();
            assert!(
                input.buf.capacity() <= MAX_JSON_DOCUMENT,
                "{}",
                input.buf.capacity()
            );
            let [(Err(damage), 0), (Ok(event), at)] = kept.records.as_slice() else {
                panic!("{:?}", kept.records.len());
            };
            assert_eq!((event.seq, *at), (1, huge.len() as u64));
            assert!(
                damage.reason.contains("larger than 24 MiB"),
                "{}",
                damage.reason
            );
        }
    }

    #[test]
    fn an_event_of_more_details_than_the_limit_is_a_finding() {
        let mut event = chain(1).remove(0);
        let detail = event.details[0].clone();
        event.details = vec![detail; crate::MAX_DETAILS + 1];
        let bytes = export(&[event]);
        for options in both() {
            let read = records(&bytes, &options);
            let [(Err((None, None, why)), 0)] = read.as_slice() else {
                panic!("{read:?}");
            };
            assert!(why.contains("JSON values"), "{why}");
        }
    }

    #[test]
    fn the_generic_reader_refuses_a_document_of_too_many_values() {
        let [first]: [Vec<u8>; 1] = event_lines(1).try_into().unwrap();
        let mut many = b"{\"a\": [0".to_vec();
        for _ in 0..100_000 {
            many.extend_from_slice(b",0");
        }
        many.extend_from_slice(b"]}\n");
        let bytes = [&many[..], &first, b"\n"].concat();
        for options in both() {
            let read = records(&bytes, &options);
            let [(Err((None, None, why)), 0), (Ok(1), _)] = read.as_slice() else {
                panic!("{read:?}");
            };
            assert!(why.contains("values"), "{why}");
        }
    }

    /// What both readers must agree on: the events, and the chain and
    /// sequence number of each malformed record (not its wording), with
    /// offsets.
    type Agreed = Vec<(
        Result<stream_chain::SealedEvent, (Option<String>, Option<u64>)>,
        u64,
    )>;

    /// The records of `bytes` as read with `options`, and the verdict of a
    /// verifier fed them: ok, and each finding's chain, seq and kind.
    fn agreed(bytes: &[u8], options: &ReadOptions) -> (Agreed, bool, Vec<String>) {
        let mut kept = Kept::default();
        read(bytes, &mut kept, options).unwrap();
        let mut verifier = crate::testing::verifier();
        let mut feed = crate::Feed::new(&mut verifier, "export.json", crate::Pass::Verify);
        read(bytes, &mut feed, options).unwrap();
        let verdict = verifier.finish();
        let findings = verdict
            .findings
            .iter()
            .map(|f| {
                let kind = format!("{:?}", f.kind);
                let kind = kind
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                format!(
                    "{:?}#{:?} {kind}",
                    f.chain.as_ref().map(|c| c.as_str()),
                    f.seq
                )
            })
            .collect();
        let records = kept
            .records
            .into_iter()
            .map(|(r, at)| {
                let r = r.map_err(|m| (m.chain.map(|c| c.as_str().to_owned()), m.seq));
                (r, at)
            })
            .collect();
        (records, verdict.is_ok(), findings)
    }

    /// Values that a mutation puts in place of another, or after a key.
    const TOKENS: &[&str] = &[
        "null",
        "true",
        "0",
        "-1",
        "1.0",
        "2.5",
        "1e400",
        "-0",
        "18446744073709551616",
        "-9223372036854775809",
        "9007199254740993",
        r#""x""#,
        r#""""#,
        r#""\u0000""#,
        r#""\ud800""#,
        r#""\udbff\udfff""#,
        r#""caf\u00e9""#,
        r#""\"\\\/\b""#,
        r#""ca""#,
        r#""success""#,
        r#""0000000000000000""#,
        "{}",
        "[]",
        r#"{"$numberLong":"5"}"#,
        r#"{"$numberInt":"5"}"#,
        r#"{"$numberLong":"99999999999999999999"}"#,
        r#"{"$numberDouble":"1.0"}"#,
        r#"{"$date":"2024-01-01T00:00:00Z"}"#,
        r#"{"$date":{"$numberLong":"1"}}"#,
        r#"{"$date":1}"#,
        r#"{"$binary":{"base64":"AA==","subType":"00"}}"#,
        r#"{"$binary":{"base64":"AA==","subType":"0"}}"#,
        r#"{"$oid":"0123456789abcdef01234567"}"#,
        r#"[{"k":"a","v":"b"}]"#,
        r#"{"k":"a","v":"b"}"#,
    ];

    /// Keys that a mutation repeats or adds.
    const KEYS: &[&str] = &[
        "v",
        "chain",
        "seq",
        "timestamp",
        "code",
        "module",
        "node",
        "status",
        "details",
        "k",
        "secure",
        "dek",
        "ct",
        "secretId",
        "prev",
        "seal",
        "_id",
        "terms",
        "anchor",
        "purged",
        "eventId",
        "eventKey",
        "removeAt",
        "$numberLong",
        "$date",
        "base64",
        "subType",
        "a\u{0}b",
        "$x",
    ];

    /// Where the value that starts at `at` ends (a string, a balanced
    /// object or array, or a scalar up to the next delimiter).
    fn value_end(text: &[u8], at: usize) -> usize {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &b) in text.iter().enumerate().skip(at) {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' if depth == 0 => return i + 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth <= 1 => return if depth == 1 { i + 1 } else { i },
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => return i,
                _ => {}
            }
        }
        text.len()
    }

    /// A mutation of an export.
    #[derive(Clone, Debug)]
    enum Mutation {
        /// XOR a byte.
        Flip(usize, u8),
        /// Insert a token at a byte.
        Insert(usize, usize),
        /// Cut the input.
        Truncate(usize),
        /// Replace the value after the n-th `:` with a token.
        Replace(usize, usize),
        /// Insert `"key": token,` after the n-th `{`.
        AddKey(usize, usize, usize),
        /// Repeat the n-th key with its value (a duplicated key).
        Duplicate(usize),
    }

    /// The positions of `byte` in `text`.
    fn positions(text: &[u8], byte: u8) -> Vec<usize> {
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == byte)
            .map(|(i, _)| i)
            .collect()
    }

    fn mutate(text: &[u8], mutation: &Mutation) -> Vec<u8> {
        let mut out = text.to_vec();
        let pick = |list: &[usize], n: usize| list.get(n % list.len().max(1)).copied();
        match *mutation {
            Mutation::Flip(at, x) => {
                let at = at % out.len();
                out[at] ^= x.max(1);
            }
            Mutation::Insert(at, token) => {
                let at = at % (out.len() + 1);
                let token = TOKENS[token % TOKENS.len()].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            Mutation::Truncate(at) => out.truncate(at % (out.len() + 1)),
            Mutation::Replace(n, token) => {
                if let Some(colon) = pick(&positions(text, b':'), n) {
                    let end = value_end(text, colon + 1);
                    let token = TOKENS[token % TOKENS.len()].as_bytes();
                    out.splice(colon + 1..end, token.iter().copied());
                }
            }
            Mutation::AddKey(n, key, token) => {
                if let Some(brace) = pick(&positions(text, b'{'), n) {
                    let added = format!(
                        "{}:{},",
                        serde_json::to_string(KEYS[key % KEYS.len()]).unwrap(),
                        TOKENS[token % TOKENS.len()]
                    );
                    out.splice(brace + 1..brace + 1, added.bytes());
                }
            }
            Mutation::Duplicate(n) => {
                if let Some(colon) = pick(&positions(text, b':'), n) {
                    // The key before the colon: back to its opening quote.
                    let start = text[..colon.saturating_sub(1)]
                        .iter()
                        .rposition(|b| *b == b'"')
                        .unwrap_or(0);
                    let end = value_end(text, colon + 1);
                    let mut pair = text[start..end].to_vec();
                    pair.push(b',');
                    out.splice(start..start, pair);
                }
            }
        }
        out
    }

    fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
        use proptest::prelude::*;
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(a, x)| Mutation::Flip(a, x)),
            (any::<usize>(), any::<usize>()).prop_map(|(a, t)| Mutation::Insert(a, t)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), any::<usize>()).prop_map(|(n, t)| Mutation::Replace(n, t)),
            (any::<usize>(), any::<usize>(), any::<usize>())
                .prop_map(|(n, k, t)| Mutation::AddKey(n, k, t)),
            any::<usize>().prop_map(Mutation::Duplicate),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(600))]

        /// The fast reader and the generic conversion hand the sink the
        /// same records and give the same verdict, whatever was done to a
        /// valid export (lines, an array or pretty-printed; canonical or
        /// relaxed).
        #[test]
        fn both_json_readers_agree_on_mutated_exports(
            layout in 0..4u8,
            mutations in proptest::collection::vec(mutation(), 1..4),
        ) {
            let events = chain(3);
            let text = match layout {
                0 => export(&events),
                1 => {
                    let lines = String::from_utf8(export(&events)).unwrap();
                    format!("[{}]", lines.trim_end().replace('\n', ",\n")).into_bytes()
                }
                2 => {
                    // Pretty-printed, as `mongoexport --pretty` writes.
                    let lines = String::from_utf8(export(&events)).unwrap();
                    let pretty: Vec<String> = lines
                        .lines()
                        .map(|line| {
                            let value: Value = serde_json::from_str(line).unwrap();
                            serde_json::to_string_pretty(&value).unwrap()
                        })
                        .collect();
                    (pretty.join("\n") + "\n").into_bytes()
                }
                _ => {
                    let mut relaxed = Vec::new();
                    for event in &events {
                        let document = stream_codec::event_to_document(event);
                        let json = Bson::Document(document).into_relaxed_extjson();
                        relaxed.extend_from_slice(json.to_string().as_bytes());
                        relaxed.push(b'\n');
                    }
                    relaxed
                }
            };
            let mut bytes = text;
            for m in &mutations {
                if !bytes.is_empty() {
                    bytes = mutate(&bytes, m);
                }
            }
            let fast = agreed(&bytes, &ReadOptions::default());
            let generic = agreed(&bytes, &ReadOptions::default().with_generic_json(true));
            proptest::prop_assert_eq!(fast, generic, "{}", String::from_utf8_lossy(&bytes));
        }
    }
}
