//! Where the readers hand their records: the [`Sink`] trait, and [`Feed`],
//! the sink that hands them to a [`Verifier`] in one of two passes.

use std::io::Read;
use std::sync::mpsc::{self, SyncSender};
use std::thread;

use stream_chain::{
    ChainId, FindingKind, Record, SealedEvent, Verifier, MAX_REASON_CHARS, ROTATION_CODE,
    SHRED_CODE,
};
use stream_codec::Malformed;

use crate::error::Error;
use crate::input::{read_input, ReadOptions};

/// What receives the records of an input, in the order they stand in it.
pub trait Sink {
    /// One document of the input, starting at byte `offset` of it: the
    /// event it holds, or why it is not a valid event.
    fn record(&mut self, record: Result<SealedEvent, Malformed>, offset: u64);

    /// Whether a document whose `code` reads as this (`None`: missing or
    /// not a string) is wanted at all. A reader may skip the work of
    /// decoding a document that is not; it still hands on what it decoded
    /// anyway. By default, every document is wanted.
    fn wants(&self, code: Option<&str>) -> bool {
        let _ = code;
        true
    }

    /// What is wrong in the unsealed fields of the document at `offset`,
    /// which holds `chain`#`seq` (handed on by [`Sink::record`] too): its
    /// search terms are not the event's ([`FindingKind::Terms`]), or it
    /// has a field that is not an event's ([`FindingKind::UnknownField`]).
    /// By default, ignored.
    fn unsealed(&mut self, chain: &ChainId, seq: u64, kind: FindingKind, offset: u64) {
        let _ = (chain, seq, kind, offset);
    }
}

/// What a pass over an input does with its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// A first pass, over inputs that can be read twice: learns the shred
    /// and rotation records ([`is_learned`]) and ignores everything else,
    /// so that a data key shredded and later restored is found although
    /// its event comes before the record, and an incremental audit from a
    /// checkpoint knows the secrets superseded before it.
    Learn,
    /// The verification: every record.
    Verify,
}

/// Whether the first pass ([`Pass::Learn`]) learns records of this code:
/// shred records and rotation records.
pub fn is_learned(code: &str) -> bool {
    code == SHRED_CODE || code == ROTATION_CODE
}

/// Hands the records of one input to a [`Verifier`].
pub struct Feed<'a> {
    /// The verifier of all inputs.
    verifier: &'a mut Verifier,
    /// The input's name, for findings about malformed records.
    name: &'a str,
    /// What this pass does.
    pass: Pass,
}

impl<'a> Feed<'a> {
    /// A feed of the input called `name` (in findings about records that
    /// are not valid events) into `verifier`, for `pass`.
    pub fn new(verifier: &'a mut Verifier, name: &'a str, pass: Pass) -> Feed<'a> {
        Feed {
            verifier,
            name,
            pass,
        }
    }

    /// The pass this feed is for.
    pub fn pass(&self) -> Pass {
        self.pass
    }

    /// One event read.
    fn push(&mut self, event: &SealedEvent) {
        match self.pass {
            Pass::Verify => self.verifier.push(event),
            // The verifier checks the record's seal and shape.
            Pass::Learn if is_learned(&event.code) => self.verifier.learn_record(event),
            Pass::Learn => {}
        }
    }

    /// A record that is not a valid event: an integrity finding at its
    /// chain and sequence number when it names them (in the verification
    /// pass).
    fn malformed(&mut self, malformed: Malformed, offset: u64) {
        if self.pass == Pass::Learn {
            return;
        }
        if let Record::Malformed { chain, seq, why } =
            malformed_record(self.name, malformed, offset)
        {
            self.verifier.push_malformed(chain, seq, why);
        }
    }
}

/// The finding of a record of input `name` that is not a valid event.
fn malformed_record(name: &str, malformed: Malformed, offset: u64) -> Record {
    let Malformed { chain, seq, reason } = malformed;
    // Cut before the place is added, so that it is kept (the verifier
    // keeps at most MAX_REASON_CHARS of a reason).
    let reason = match reason.char_indices().nth(MAX_REASON_CHARS / 2) {
        Some((at, _)) => format!("{}…", reason.get(..at).unwrap_or_default()),
        None => reason,
    };
    let why = format!("{reason} ({name}, document at byte {offset})");
    Record::Malformed { chain, seq, why }
}

/// An unsealed finding of input `name`, with its place.
fn unsealed_kind(name: &str, kind: FindingKind, offset: u64) -> FindingKind {
    match kind {
        FindingKind::Terms(why) => {
            FindingKind::Terms(format!("{why}; {name}, document at byte {offset}"))
        }
        other => other,
    }
}

impl Sink for Feed<'_> {
    fn record(&mut self, record: Result<SealedEvent, Malformed>, offset: u64) {
        match record {
            Ok(event) => self.push(&event),
            Err(malformed) => self.malformed(malformed, offset),
        }
    }

    fn wants(&self, code: Option<&str>) -> bool {
        self.pass == Pass::Verify || code.is_some_and(is_learned)
    }

    fn unsealed(&mut self, chain: &ChainId, seq: u64, kind: FindingKind, offset: u64) {
        if self.pass == Pass::Learn {
            return;
        }
        let kind = unsealed_kind(self.name, kind, offset);
        self.verifier.push_unsealed(chain, seq, kind);
    }
}

/// Records per batch handed from the reading thread to the verifying one:
/// enough to spread the seals over the cores (a batch of 1 KiB events is
/// about 1.5 MiB decoded), few enough to keep memory flat.
const BATCH: usize = 1024;
/// Batches waiting for the verifier at most (the reader blocks beyond).
const QUEUED_BATCHES: usize = 2;

/// Reads one input ([`read_input`]) and verifies its records, as a
/// [`Feed`] for [`Pass::Verify`] does, using the cores: the calling thread
/// reads and decodes, another places the records in their chains, and
/// their seals are checked in parallel ([`Verifier::push_batch`]). The
/// findings are the same, in the same order, as through a [`Feed`]; at
/// most a few batches of records are held at once. The reader is used on
/// the calling thread only (it need not be [`Send`]).
///
/// # Errors
///
/// Those of [`read_input`]; the records before the error are verified.
pub fn verify_input(
    reader: impl Read,
    verifier: &mut Verifier,
    name: &str,
    options: &ReadOptions,
) -> Result<(), Error> {
    verify_in_batches(reader, verifier, name, options, BATCH)
}

/// [`verify_input`] with `batch` records per batch (at least 1): for
/// differential tests, which use odd sizes so that batches end anywhere.
///
/// # Errors
///
/// Those of [`read_input`].
pub fn verify_in_batches(
    reader: impl Read,
    verifier: &mut Verifier,
    name: &str,
    options: &ReadOptions,
    batch: usize,
) -> Result<(), Error> {
    let batch = batch.max(1);
    thread::scope(|scope| {
        let (sender, batches) = mpsc::sync_channel::<Vec<Record>>(QUEUED_BATCHES);
        let placing = scope.spawn(move || {
            for records in batches {
                verifier.push_batch(&records);
            }
        });
        let mut sink = Batcher {
            sender: Some(sender),
            records: Vec::with_capacity(batch),
            batch,
            name,
        };
        let result = read_input(reader, &mut sink, options);
        sink.send();
        // Closes the channel: the verifying thread ends after the last batch.
        drop(sink);
        if let Err(panic) = placing.join() {
            // A bug in the verifier, not the input: raised here as it would
            // have been without the thread.
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// The sink of [`verify_input`]'s reading thread: records in batches.
struct Batcher<'n> {
    /// To the verifying thread; `None` once it is gone.
    sender: Option<SyncSender<Vec<Record>>>,
    /// The batch being filled.
    records: Vec<Record>,
    /// Records per batch.
    batch: usize,
    /// The input's name, for findings about malformed records.
    name: &'n str,
}

impl Batcher<'_> {
    fn add(&mut self, record: Record) {
        self.records.push(record);
        if self.records.len() >= self.batch {
            self.send();
        }
    }

    /// Hands the batch on (blocking while the verifier is behind).
    fn send(&mut self) {
        if self.records.is_empty() {
            return;
        }
        let records = std::mem::replace(&mut self.records, Vec::with_capacity(self.batch));
        // The verifying thread only stops early by panicking, which
        // `verify_in_batches` raises after reading: stop sending then.
        if self
            .sender
            .as_ref()
            .is_some_and(|sender| sender.send(records).is_err())
        {
            self.sender = None;
        }
    }
}

impl Sink for Batcher<'_> {
    fn record(&mut self, record: Result<SealedEvent, Malformed>, offset: u64) {
        let record = match record {
            Ok(event) => Record::Event(event),
            Err(malformed) => malformed_record(self.name, malformed, offset),
        };
        self.add(record);
    }

    fn unsealed(&mut self, chain: &ChainId, seq: u64, kind: FindingKind, offset: u64) {
        let kind = unsealed_kind(self.name, kind, offset);
        self.add(Record::Unsealed {
            chain: chain.clone(),
            seq,
            kind,
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use stream_chain::{Verifier, VerifyReport};

    use super::*;
    use crate::testing::{chain, dump, export, verifier};

    /// The report of `input` through a [`Feed`], and through
    /// [`verify_in_batches`] with `batch`.
    fn both(
        input: &[u8],
        batch: usize,
        make: impl Fn() -> Verifier,
    ) -> (VerifyReport, VerifyReport) {
        let options = ReadOptions::default();
        let mut sequential = make();
        let mut feed = Feed::new(&mut sequential, "in", Pass::Verify);
        read_input(input, &mut feed, &options).unwrap();
        let mut parallel = make();
        verify_in_batches(input, &mut parallel, "in", &options, batch).unwrap();
        (sequential.finish(), parallel.finish())
    }

    #[test]
    fn batches_report_what_a_feed_reports_wherever_they_end() {
        let mut events = chain(3_000);
        events[10].code = "FORGED".into();
        events.remove(700);
        let duplicate = events[1_500].clone();
        events.insert(2_000, duplicate);
        events.swap(2_500, 2_510);
        let mut json = export(&events);
        // A broken line, a document of another shape, unknown fields.
        json.extend_from_slice(b"{\"chain\": \"ca\", \"seq\": {\"$numberLong\": \"9\"}\n");
        json.extend_from_slice(b"{\"hello\": 1}\n");
        let line = export(&chain(3001)[3000..]);
        let text = String::from_utf8(line).unwrap();
        json.extend_from_slice(text.replacen('{', "{\"extra\": 1, ", 1).as_bytes());
        let bson = dump(&events);
        for input in [&json, &bson] {
            for batch in [1, 7, 1024, 5_000] {
                let (a, b) = both(input, batch, verifier);
                assert!(!a.is_ok() && a.total_findings >= 3, "{:?}", a.findings);
                assert_eq!(a.findings, b.findings, "batch {batch}");
                assert_eq!(a.chains, b.chains);
                assert_eq!(
                    (a.total_findings, a.errors, a.records, a.sealed_bytes),
                    (b.total_findings, b.errors, b.records, b.sealed_bytes)
                );
            }
        }
        // A small window and finding limit: records dropped and drained
        // alike.
        let (a, b) = both(&json, 13, || verifier().with_window(2).with_max_findings(3));
        assert_eq!(a.findings, b.findings);
        assert_eq!(a.total_findings, b.total_findings);
    }

    #[test]
    fn an_input_that_is_no_export_is_the_same_error() {
        let mut parallel = verifier();
        let err = verify_input(&b"hello"[..], &mut parallel, "in", &ReadOptions::default());
        assert!(err.is_err());
        assert_eq!(parallel.finish().records, 0);
    }
}
