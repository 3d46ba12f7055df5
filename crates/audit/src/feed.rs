//! Where the readers hand their records: the [`Sink`] trait, and [`Feed`],
//! the sink that hands them to a [`Verifier`] in one of two passes.

use stream_chain::{
    ChainId, FindingKind, SealedEvent, Verifier, MAX_REASON_CHARS, ROTATION_CODE, SHRED_CODE,
};
use stream_codec::Malformed;

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
        let Malformed { chain, seq, reason } = malformed;
        // Cut before the place is added, so that it is kept (the verifier
        // keeps at most MAX_REASON_CHARS of a reason).
        let reason = match reason.char_indices().nth(MAX_REASON_CHARS / 2) {
            Some((at, _)) => format!("{}…", reason.get(..at).unwrap_or_default()),
            None => reason,
        };
        let why = format!("{reason} ({}, document at byte {offset})", self.name);
        self.verifier.push_malformed(chain, seq, why);
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
        let kind = match kind {
            FindingKind::Terms(why) => {
                FindingKind::Terms(format!("{why}; {}, document at byte {offset}", self.name))
            }
            other => other,
        };
        self.verifier.push_unsealed(chain, seq, kind);
    }
}
