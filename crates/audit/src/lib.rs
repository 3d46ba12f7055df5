//! Offline audit of Stream's sealed event chains: what the auditor's
//! verifier (`examples/verify_chain.rs`) does besides its command line, as
//! a library a server can call too (say, to verify an uploaded export).
//!
//! - [`read_input`]: one mongodump collection file (`events.bson`) or
//!   mongoexport file (JSON lines, pretty-printed or `--jsonArray`,
//!   canonical or relaxed Extended JSON), optionally gzipped, from any
//!   [`std::io::Read`], one document at a time in bounded memory (a JSON
//!   document at most [`export::MAX_JSON_DOCUMENT`], a BSON one
//!   [`dump::MAX_BSON_DOCUMENT`], an event [`MAX_DETAILS`] details); the
//!   format comes from the content, never a name. A damaged record is a
//!   finding at its offset and reading goes on where the format allows it
//!   (see [`read_input`]). One reader per format: [`dump`], [`export`].
//! - [`Feed`]: hands the records to a [`stream_chain::Verifier`], in a
//!   first pass that learns shred and rotation records ([`Pass::Learn`],
//!   for inputs that can be read twice) or the verification
//!   ([`Pass::Verify`]). Any other [`Sink`] can take them instead.
//!   [`verify_input`] does the verification pass on all cores for a
//!   mongodump (same findings, same order).
//! - [`checkpoint`]: checkpoint files, trusted before a verification and
//!   made from a clean report.
//! - [`report`]: the report as text and as one JSON object.
//!
//! It needs the seal secret(s) only, never the keyset (give the verifier a
//! keyset for deep verification), and links no MongoDB driver: the stored
//! layout comes from `stream-codec`. No I/O beyond the readers it is
//! handed; opening files, progress and exit codes are the caller's.
//!
//! ```
//! use stream_audit::{read_input, report, Feed, Pass, ReadOptions};
//! use stream_chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp, Verifier};
//!
//! // A mongodump collection file of three events.
//! let secrets = SealSecrets::new(SealSecret::from_env_value("k8s-generated-32-character-secret")?);
//! let chainer = Chainer::new(secrets.clone(), None);
//! let mut head = Head::genesis(ChainId::new("ca")?);
//! let mut dump = Vec::new();
//! for i in 0..3 {
//!     let draft = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, Timestamp::from_millis(1_700_000_000_000 + i));
//!     let event = chainer.seal(&mut head, &draft)?;
//!     let document = stream_codec::event_to_document(&event);
//!     dump.extend_from_slice(bson::RawDocumentBuf::try_from(&document)?.as_bytes());
//! }
//!
//! // Read it twice (shred and rotation records first), then verify.
//! let mut verifier = Verifier::new(secrets);
//! for pass in [Pass::Learn, Pass::Verify] {
//!     let mut feed = Feed::new(&mut verifier, "events.bson", pass);
//!     read_input(dump.as_slice(), &mut feed, &ReadOptions::default())?;
//! }
//! let verdict = verifier.finish();
//! assert!(verdict.is_ok());
//!
//! let mut text = Vec::new();
//! report::write_text(&mut text, &verdict)?;
//! assert!(String::from_utf8(text)?.contains("chain ca: 3 events, seq 1..3: OK\n"));
//! assert_eq!(report::json(&verdict)["ok"], true);
//!
//! // Not a dump at all: an error, not a finding.
//! let mut verifier = Verifier::new(SealSecrets::new(SealSecret::from_env_value("k8s-generated-32-character-secret")?));
//! let mut feed = Feed::new(&mut verifier, "notes.txt", Pass::Verify);
//! assert!(read_input(&b"hello"[..], &mut feed, &ReadOptions::default()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **The JSON report** ([`report::json`]): `{"ok", "records",
//! "sealedBytes", "chains": [{"chain", "events", "stubs", "firstSeq",
//! "lastSeq", "headSeal", "errors", "warnings"}], "findings": [{"chain",
//! "seq", "kind", "message"}], "totalFindings"}`.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod dump;
mod error;
pub mod export;
mod feed;
mod input;
pub mod report;

pub use crate::error::Error;
pub use crate::feed::{is_learned, verify_in_batches, verify_input, Feed, Pass, Sink};
pub use crate::input::{detect, read_input, Format, ReadOptions, MAX_DETAILS};

/// What the unit tests share: a sealed chain and a sink that keeps what it
/// is handed.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod testing {
    use stream_chain::{
        ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, SealedEvent, Status,
        Timestamp, Verifier,
    };
    use stream_codec::Malformed;

    use crate::Sink;

    /// The seal secret of the tests.
    pub const SECRET: &str = "k8s-generated-32-character-secr1";

    /// The secrets of the tests.
    pub fn secrets() -> SealSecrets {
        SealSecrets::new(SealSecret::from_env_value(SECRET).unwrap())
    }

    /// A verifier of [`secrets`].
    pub fn verifier() -> Verifier {
        Verifier::new(secrets())
    }

    /// `n` sealed events of chain `ca`, one public detail each.
    pub fn chain(n: u64) -> Vec<SealedEvent> {
        let chainer = Chainer::new(secrets(), None);
        let mut head = Head::genesis(ChainId::new("ca").unwrap());
        (0..n)
            .map(|i| {
                let draft = EventDraft::new(
                    "LIFECYCLE-ENROLL",
                    "ca",
                    "pod-0",
                    Status::Success,
                    Timestamp::from_millis(1_700_000_000_000 + i as i64),
                )
                .public("serial", format!("{i:04x}"));
                chainer.seal(&mut head, &draft).unwrap()
            })
            .collect()
    }

    /// mongodump's bytes of `events`.
    pub fn dump(events: &[SealedEvent]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for event in events {
            let document = stream_codec::event_to_document(event);
            let raw = bson::RawDocumentBuf::try_from(&document).unwrap();
            bytes.extend_from_slice(raw.as_bytes());
        }
        bytes
    }

    /// mongoexport's bytes of `events`: canonical Extended JSON, one
    /// document per line.
    pub fn export(events: &[SealedEvent]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for event in events {
            let document = stream_codec::event_to_document(event);
            let json = bson::Bson::Document(document).into_canonical_extjson();
            bytes.extend_from_slice(json.to_string().as_bytes());
            bytes.push(b'\n');
        }
        bytes
    }

    /// Keeps every record with its offset.
    #[derive(Default)]
    pub struct Kept {
        /// What was handed on.
        pub records: Vec<(Result<SealedEvent, Malformed>, u64)>,
        /// Wants only documents of this code, when set.
        pub only: Option<&'static str>,
    }

    impl Sink for Kept {
        fn record(&mut self, record: Result<SealedEvent, Malformed>, offset: u64) {
            self.records.push((record, offset));
        }

        fn wants(&self, code: Option<&str>) -> bool {
            self.only.is_none_or(|only| code == Some(only))
        }
    }
}
