//! The one error type of the crate: an input that cannot be read as a
//! mongodump or mongoexport file at all, or a checkpoint file that cannot
//! be trusted. A record that is not a valid event is not an error but a
//! finding of the verification (see [`crate::Sink`]), and so is damage
//! further on in an input: the variants that describe it are the reasons
//! of those findings.

use std::io;

use stream_chain::ChainId;
use stream_codec::Malformed;

use crate::export::MAX_JSON_DOCUMENT;

/// Why an input or a checkpoint file was refused, or (the variants named
/// so) what is wrong with a damaged part of an input, handed to the sink
/// as the reason of a finding. Offsets count bytes of the input as read
/// (after gzip decompression, if it was compressed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input itself failed (an I/O error of the file or
    /// stream, not damage of its content).
    #[error("cannot read at byte {offset}: {source}")]
    Read {
        /// Where reading failed.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// The input is neither a mongodump nor a mongoexport file.
    #[error(
        "not a mongodump (BSON) or mongoexport (JSON) file: it starts with bytes {}",
        hex::encode(.start)
    )]
    UnknownFormat {
        /// The first bytes of the input (at most 8).
        start: Vec<u8>,
    },
    /// The decompressed data of a gzip input is refused.
    #[error("{0} (of the decompressed gzip data)")]
    Gzip(Box<Error>),
    /// Finding: the gzip data is damaged (corrupt, truncated, a bad
    /// checksum), so the input ends there.
    #[error(
        "damaged gzip data: {source}; the decompressed data ends after byte {offset}, the rest \
         cannot be read"
    )]
    GzipDamaged {
        /// How many decompressed bytes were read before the damage.
        offset: u64,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },
    /// Finding: a mongodump input ends inside a document's length.
    #[error("truncated BSON document at byte {offset}: the input ends inside its length")]
    BsonLengthTruncated {
        /// Where the document starts.
        offset: u64,
    },
    /// Finding: a mongodump document claims an impossible length.
    #[error(
        "not a BSON document at byte {offset}: it claims {len} bytes (5 bytes to 16 MiB \
         expected); the file is corrupt or not a mongodump .bson file"
    )]
    BsonLength {
        /// Where the document starts.
        offset: u64,
        /// The length it claims.
        len: u32,
    },
    /// Finding: a mongodump input ends inside a document.
    #[error(
        "truncated BSON document at byte {offset}: {len} bytes announced, the input ends \
         after {got}"
    )]
    BsonTruncated {
        /// Where the document starts.
        offset: u64,
        /// The length it claims.
        len: usize,
        /// The bytes of it the input holds.
        got: usize,
    },
    /// Finding: a mongodump document does not end with its zero byte.
    #[error(
        "not a BSON document at byte {offset}: it does not end with a zero byte; the file is \
         corrupt or not a mongodump .bson file"
    )]
    BsonUnterminated {
        /// Where the document starts.
        offset: u64,
    },
    /// Finding: a mongoexport document is larger than the verifier reads.
    #[error(
        "the JSON document at byte {offset} is larger than {} MiB, the most the verifier \
         reads (skipped unread)",
        MAX_JSON_DOCUMENT >> 20
    )]
    JsonTooLarge {
        /// Where the document starts.
        offset: u64,
    },
    /// Finding: a mongoexport input ends inside a document.
    #[error("truncated JSON document at byte {offset}: the input ends inside it")]
    JsonTruncated {
        /// Where the document starts.
        offset: u64,
    },
    /// Finding: a mongoexport document is not JSON.
    #[error("invalid JSON at byte {offset}: {message}")]
    Json {
        /// Where the error is.
        offset: u64,
        /// The JSON parser's message, without its line and column.
        message: String,
    },
    /// Finding: a mongoexport input holds something other than documents,
    /// or one array of them.
    #[error("invalid JSON at byte {offset}: expected {expected}, found {}", describe(*.found))]
    JsonUnexpected {
        /// Where the byte is.
        offset: u64,
        /// What was expected there.
        expected: &'static str,
        /// The byte found instead.
        found: u8,
    },
    /// Finding: a `--jsonArray` export ends before its closing `]`.
    #[error("truncated JSON array: the input ends at byte {offset} before its closing `]`")]
    JsonArrayTruncated {
        /// Where the input ends.
        offset: u64,
    },
    /// A checkpoint file is not text.
    #[error("not UTF-8 text")]
    CheckpointNotText,
    /// A checkpoint file opening with `[` is not a JSON array.
    #[error("not a JSON array of checkpoints: {0}")]
    CheckpointArray(#[source] serde_json::Error),
    /// A checkpoint file holds an empty array.
    #[error("the array holds no checkpoint")]
    NoCheckpoint,
    /// A checkpoint in a file is not a valid checkpoint.
    #[error("{0}")]
    Checkpoint(#[source] stream_chain::Error),
    /// The verifier refused to trust a checkpoint (its seal does not
    /// verify, its secret is unknown, its chain has one already).
    #[error("checkpoint of chain `{chain}`: {source}")]
    CheckpointRefused {
        /// The checkpoint's chain.
        chain: ChainId,
        /// Why.
        #[source]
        source: stream_chain::Error,
    },
}

impl Error {
    /// The finding for damage of an input: no chain, no sequence number,
    /// this error as the reason.
    pub(crate) fn into_finding(self) -> Malformed {
        Malformed {
            chain: None,
            seq: None,
            reason: self.to_string(),
        }
    }
}

/// Describes a byte found where something else was expected.
fn describe(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", char::from(b))
    } else {
        format!("byte 0x{b:02x}")
    }
}
