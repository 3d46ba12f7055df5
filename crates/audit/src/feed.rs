//! Where the readers hand their records: the [`Sink`] trait, and [`Feed`],
//! the sink that hands them to a [`Verifier`] in one of two passes.

use std::io::Read;
use std::sync::mpsc::{self, Receiver, SyncSender};

use rayon::prelude::*;
use std::thread::{self, Scope, ScopedJoinHandle};

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

    /// One whole document of a mongodump (its length checked, nothing
    /// decoded), starting at byte `offset`. By default it is decoded here
    /// and handed to [`Sink::record`], then [`Sink::unsealed`]; a sink may
    /// keep the bytes and decode them elsewhere, in the same order.
    fn bson_document(&mut self, document: &[u8], offset: u64) {
        crate::dump::hand_on(self, document, offset);
    }
}

/// Hands `record` to `sink`, then the unsealed findings of its document
/// (at the event's place; an invalid record has none worth naming).
pub(crate) fn hand_on<S: Sink + ?Sized>(
    sink: &mut S,
    record: Result<SealedEvent, Malformed>,
    unsealed: Vec<FindingKind>,
    offset: u64,
) {
    match &record {
        Ok(event) if !unsealed.is_empty() => {
            let (chain, seq) = (event.chain.clone(), event.seq);
            sink.record(record, offset);
            for kind in unsealed {
                sink.unsealed(&chain, seq, kind, offset);
            }
        }
        _ => sink.record(record, offset),
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
/// enough to spread the work over the cores, few enough to keep memory
/// flat (a batch of 1 KiB events is about 1 MiB of documents, and as
/// much decoded).
const BATCH: usize = 1024;
/// Batches queued for the verifier at most (one more is being filled, one
/// may wait to be queued, and one is verified). They are used again, not
/// freed (a fresh batch of this size costs page faults).
const QUEUED: usize = 1;
/// A batch is handed on once it holds this many bytes of input, whatever
/// its count: the four batches in flight hold a few MiB.
const BATCH_BYTES: u64 = 1024 * 1024;
/// A document larger than this is decoded by the reader and verified
/// alone, the reader waiting for it: at most one large document and its
/// event exist at a time, as in the sequential reader (64 MiB in all:
/// `docs/PERFORMANCE.md`, "Hostile input: memory").
const LARGE_DOCUMENT: u64 = 256 * 1024;
/// Below this many documents per task, rayon's hand-off costs more than
/// the decoding it spreads.
const MIN_PER_TASK: usize = 32;

/// Reads one input ([`read_input`]) and verifies its records, as a
/// [`Feed`] for [`Pass::Verify`] does, using the cores for a mongodump:
/// the calling thread reads the input and frames its documents, another
/// decodes and checks them in parallel and places them in their chains
/// ([`Verifier::push_batch`]). A mongoexport is verified on the calling
/// thread as it is decoded (measured: handing its decoded events to
/// another thread cost more than it saved). The findings are the same, in
/// the same order, as through a [`Feed`]. At most four batches exist at
/// once (filled, waiting to be queued, queued, verified), each of at most
/// [`BATCH`] records and about [`BATCH_BYTES`] of input; a document over
/// [`LARGE_DOCUMENT`] is verified alone. The reader is used on the calling thread only (it need
/// not be [`Send`]). The parallel work runs on rayon's global pool: do not
/// call this from inside that pool (a task of `par_iter`), where the
/// calling thread would block a worker the verification needs.
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
    // (At most 65,536: a batch is allocated at its size.)
    let batch = batch.clamp(1, 1 << 16);
    thread::scope(|scope| {
        let mut sink = Batcher {
            direct: Some(verifier),
            scope,
            pipe: None,
            out: 0,
            spare: Vec::new(),
            // (Made at its size when the verifying thread starts.)
            filling: Batch::with_capacity(0),
            input_bytes: 0,
            last_offset: 0,
            batch,
            name,
        };
        let result = read_input(reader, &mut sink, options);
        sink.send();
        if let Some(pipe) = sink.pipe.take() {
            pipe.finish();
        }
        result
    })
}

/// The verifying thread of [`verify_input`] and its channels.
struct Pipe<'scope> {
    /// To the verifying thread.
    sender: SyncSender<Batch>,
    /// Batches verified, to be filled again.
    returned: Receiver<Batch>,
    verifying: ScopedJoinHandle<'scope, ()>,
}

impl Pipe<'_> {
    /// Closes the channel and waits for the verifying thread to end after
    /// the last batch. Its panic (a bug in the verifier, never the input)
    /// is raised here, as it would have been without the thread.
    fn finish(self) {
        drop(self.sender);
        if let Err(panic) = self.verifying.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// One item of a batch, in input order.
enum Pending {
    /// Decoded by the reader: damage, or a large document's records
    /// (rare: boxed, so that the items of documents stay small).
    Record(Box<Record>),
    /// A mongodump document, `bytes[start..end]` of the batch, at `offset`
    /// of the input: decoded by the verifying side.
    Bson {
        start: usize,
        end: usize,
        offset: u64,
    },
}

/// Records on their way to the verifier.
struct Batch {
    items: Vec<Pending>,
    /// The documents of the `Bson` items, one after another.
    bytes: Vec<u8>,
}

impl Batch {
    fn with_capacity(items: usize) -> Batch {
        Batch {
            items: Vec::with_capacity(items),
            bytes: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.bytes.clear();
    }

    /// Moves the records of the batch to `records`, in order: the
    /// documents decoded in parallel, each followed by its unsealed
    /// findings.
    fn decode_into(&mut self, name: &str, records: &mut Vec<Record>) {
        let decoded: Vec<Option<(Record, Vec<FindingKind>)>> = self
            .items
            .par_iter()
            .with_min_len(MIN_PER_TASK)
            .map(|item| match item {
                Pending::Record(_) => None,
                Pending::Bson { start, end, offset } => {
                    let document = self.bytes.get(*start..*end).unwrap_or_default();
                    let mut unsealed = Vec::new();
                    let record = match crate::dump::decode(document, *offset, &mut unsealed) {
                        Ok(event) => Record::Event(event),
                        Err(malformed) => malformed_record(name, malformed, *offset),
                    };
                    let unsealed = unsealed
                        .into_iter()
                        .map(|kind| unsealed_kind(name, kind, *offset))
                        .collect();
                    Some((record, unsealed))
                }
            })
            .collect();
        for (item, decoded) in self.items.drain(..).zip(decoded) {
            match (item, decoded) {
                (_, Some((record, unsealed))) => {
                    let place = match &record {
                        Record::Event(event) if !unsealed.is_empty() => {
                            Some((event.chain.clone(), event.seq))
                        }
                        _ => None,
                    };
                    records.push(record);
                    if let Some((chain, seq)) = place {
                        records.extend(unsealed.into_iter().map(|kind| Record::Unsealed {
                            chain: chain.clone(),
                            seq,
                            kind,
                        }));
                    }
                }
                (Pending::Record(record), None) => records.push(*record),
                (Pending::Bson { .. }, None) => {}
            }
        }
    }
}

/// The sink of [`verify_input`]'s reading thread. Until the first
/// mongodump document it hands records to the verifier directly, as a
/// [`Feed`] (a mongoexport document is decoded as it is read, and handing
/// decoded events to another thread costs more than it saves); from it on,
/// the verifier belongs to a thread of its own and the documents go there
/// in batches, to be decoded in parallel.
struct Batcher<'scope, 'env, 'n> {
    /// The verifier, until the verifying thread takes it.
    direct: Option<&'env mut Verifier>,
    scope: &'scope Scope<'scope, 'env>,
    /// The verifying thread, once started.
    pipe: Option<Pipe<'scope>>,
    /// Batches sent and not yet returned.
    out: usize,
    /// Batches returned, empty.
    spare: Vec<Batch>,
    /// The batch being filled.
    filling: Batch,
    /// Bytes of input the batch being filled stands for.
    input_bytes: u64,
    /// Where the last record handed in started.
    last_offset: u64,
    /// Items per batch.
    batch: usize,
    /// The input's name, for findings about malformed records.
    name: &'n str,
}

impl<'scope, 'env> Batcher<'scope, 'env, '_>
where
    'env: 'scope,
{
    /// The verifying thread: started at the first call, taking the
    /// verifier.
    fn start(&mut self) {
        let Some(verifier) = self.direct.take() else {
            return;
        };
        let (sender, batches) = mpsc::sync_channel::<Batch>(QUEUED);
        // Every batch comes back once verified (unbounded: there are at
        // most four).
        let (give_back, returned) = mpsc::channel::<Batch>();
        let (name, batch) = (self.name.to_owned(), self.batch);
        self.filling = Batch::with_capacity(batch);
        let verifying = self.scope.spawn(move || {
            let mut records = Vec::with_capacity(batch);
            for mut done in batches {
                done.decode_into(&name, &mut records);
                verifier.push_batch(&records);
                records.clear();
                // A batch of documents full of unsealed findings (up to 33
                // records each) is not kept at its size.
                records.shrink_to(2 * batch);
                done.clear();
                // (Fails only once the reader is gone.)
                let _ = give_back.send(done);
            }
        });
        self.pipe = Some(Pipe {
            sender,
            returned,
            verifying,
        });
    }

    /// Adds an item that stands for the input from the previous one to
    /// `offset`; hands the batch on when full.
    fn add(&mut self, item: Pending, offset: u64) {
        self.input_bytes += offset.saturating_sub(self.last_offset);
        self.last_offset = self.last_offset.max(offset);
        self.filling.items.push(item);
        if self.filling.items.len() >= self.batch || self.input_bytes >= BATCH_BYTES {
            self.send();
        }
    }

    /// Takes back the batches verified so far; with `all`, waits for every
    /// batch sent.
    fn take_back(&mut self, all: bool) {
        let Some(pipe) = &self.pipe else { return };
        while self.out > 0 {
            let back = if all {
                pipe.returned.recv().ok()
            } else {
                pipe.returned.try_recv().ok()
            };
            let Some(back) = back else { break };
            self.out -= 1;
            self.spare.push(back);
        }
    }

    /// Hands the batch on (blocking while the verifier is behind).
    fn send(&mut self) {
        self.input_bytes = 0;
        if self.filling.items.is_empty() {
            return;
        }
        self.take_back(false);
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(self.batch));
        let full = std::mem::replace(&mut self.filling, next);
        let Some(pipe) = &self.pipe else { return };
        if pipe.sender.send(full).is_ok() {
            self.out += 1;
        } else if let Some(pipe) = self.pipe.take() {
            // The verifying thread only stops early by panicking: raised at
            // once, rather than after reading the rest.
            pipe.finish();
        }
    }

    /// Hands the batch on and waits until everything sent is verified.
    fn drain(&mut self) {
        self.send();
        self.take_back(true);
    }
}

impl<'scope, 'env> Sink for Batcher<'scope, 'env, '_>
where
    'env: 'scope,
{
    fn record(&mut self, record: Result<SealedEvent, Malformed>, offset: u64) {
        if let Some(verifier) = self.direct.as_deref_mut() {
            Feed::new(verifier, self.name, Pass::Verify).record(record, offset);
            return;
        }
        let record = match record {
            Ok(event) => Record::Event(event),
            Err(malformed) => malformed_record(self.name, malformed, offset),
        };
        self.add(Pending::Record(Box::new(record)), offset);
    }

    fn unsealed(&mut self, chain: &ChainId, seq: u64, kind: FindingKind, offset: u64) {
        if let Some(verifier) = self.direct.as_deref_mut() {
            Feed::new(verifier, self.name, Pass::Verify).unsealed(chain, seq, kind, offset);
            return;
        }
        let kind = unsealed_kind(self.name, kind, offset);
        let record = Record::Unsealed {
            chain: chain.clone(),
            seq,
            kind,
        };
        self.add(Pending::Record(Box::new(record)), offset);
    }

    fn bson_document(&mut self, document: &[u8], offset: u64) {
        self.start();
        if document.len() as u64 > LARGE_DOCUMENT {
            // Decoded here and verified alone (see LARGE_DOCUMENT).
            self.drain();
            crate::dump::hand_on(self, document, offset);
            self.drain();
            self.last_offset = offset + document.len() as u64;
            return;
        }
        let start = self.filling.bytes.len();
        self.filling.bytes.extend_from_slice(document);
        let end = self.filling.bytes.len();
        self.add(Pending::Bson { start, end, offset }, offset);
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
