//! Streaming verification of one or many interleaved chains.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;

use rayon::prelude::*;

use crate::chainer::Chainer;
use crate::checkpoint::Checkpoint;
use crate::event::{
    ChainId, DetailValue, SealedEvent, SensitiveValue, FORMAT_VERSION, GENESIS_SEQ,
};
use crate::findings::Kept;
use crate::secret::{Seal, SealSecrets, SecretId};
use crate::system::{RotationRecord, ShredRecord};

/// Default reordering window: how far ahead of the expected sequence number
/// an event of a chain may arrive (dumps of several writers are only nearly
/// sorted).
pub const DEFAULT_WINDOW: usize = 4096;

/// How far (ms) a timestamp may go back before it is a warning: pods'
/// clocks differ by milliseconds under NTP, and an event waits for its
/// pod's turn on a shared chain (well under a second) after it was
/// timestamped. See [`Verifier::with_clock_skew_ms`].
pub const DEFAULT_CLOCK_SKEW_MS: i64 = 5_000;
/// How many erased data keys the verifier holds until a shred record
/// covers them or the input ends; beyond, an erased key is reported at
/// once. Learn the shred records first
/// ([`Verifier::learn_record`]) to make this exact whatever the input.
pub const MAX_DEFERRED_ERASURES: usize = 16_384;
/// The most rotation records learned ahead ([`Verifier::learn_record`]),
/// all chains together.
pub const MAX_LEARNED_ROTATIONS: usize = 4_096;
/// The most characters of a reason kept with a finding (a hostile record
/// can make a reason of megabytes, e.g. a key in a decoding error).
pub const MAX_REASON_CHARS: usize = 512;
/// Default number of findings kept (all are counted), shared fairly
/// between chains and kinds: no volume of one hides the earliest of
/// another (see [`Verifier::with_max_findings`]).
pub const DEFAULT_MAX_FINDINGS: usize = 10_000;
/// Default number of chains verified in detail. The records of chains
/// beyond it are counted and seal-checked but not placed: the report says
/// how many ([`FindingKind::Untracked`]), and the verification fails.
pub const DEFAULT_MAX_CHAINS: usize = 256;
/// Default number of records all chains together hold out of order
/// (their reordering windows and the positions remembered behind them).
/// With many chains, each chain's window shrinks to its share of this,
/// but not below [`MIN_WINDOW`]: memory is bounded by the budget (or the
/// number of chains times [`MIN_WINDOW`]), whatever the input.
pub const DEFAULT_WINDOW_BUDGET: usize = 8_192;
/// The smallest reordering window a chain gets when the budget
/// ([`DEFAULT_WINDOW_BUDGET`]) is shared by many chains.
pub const MIN_WINDOW: usize = 32;

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingKind {
    /// The event's seal does not match its content: it was modified.
    Modified,
    /// Events are missing (deleted) from this sequence number on.
    Gap {
        /// The last missing sequence number.
        to: u64,
    },
    /// A forged event claims the position of an authentic one.
    Inserted,
    /// The same event is stored twice.
    Duplicate,
    /// Two authentic events claim one predecessor, or an authentic event
    /// links to another predecessor than the one stored.
    Fork,
    /// The event was sealed by a secret that is not known.
    UnknownSecret,
    /// The record is not a valid event.
    Malformed(String),
    /// The timestamp goes backwards (a warning: clocks of several pods).
    TimestampBackwards,
    /// An event arrived further out of order than the reordering window;
    /// it could not be placed. Verify again with a larger window.
    OutOfWindow,
    /// The chain no longer reaches the trusted checkpoint: its tail was
    /// deleted (truncation) from this sequence number on.
    Truncated,
    /// The chain holds another event where the trusted checkpoint's head
    /// was: it was rolled back or rewritten.
    CheckpointMismatch,
    /// A stub (an event whose content is gone) that no valid purge
    /// explains: its purge mark is forged or missing, or was made before
    /// the event's sealed `removeAt` (or in the future).
    Stripped(String),
    /// Sealed by a secret that a rotation record of the chain had
    /// superseded before this position (a retired, perhaps leaked, secret
    /// re-sealing history).
    RetiredSecret,
    /// Sealed by another secret than the chain's, without a rotation
    /// record before it.
    UnannouncedSecret,
    /// A rotation record that does not follow the chain's secrets (not from
    /// the chain's secret, or back to a superseded one), or is malformed.
    BadRotation(String),
    /// The wrapped data key of this detail is gone, and no shred record
    /// covers it: erased or corrupted by someone else.
    KeyErased(String),
    /// The wrapped data key of this detail is present although a shred
    /// record covers it: restored from a backup.
    Unshredded(String),
    /// Deep verification (with the keyset): this detail does not decrypt.
    Undecryptable(String),
    /// Two trusted checkpoints of the chain name different heads at the
    /// same position: the chain was rewritten between them.
    CheckpointConflict,
    /// The stored search terms (`terms`, derived from the sealed public
    /// details, not sealed themselves) are not the event's: rewritten or
    /// removed, so that a search by them would lie.
    Terms(String),
    /// The stored document has a field that is not an event's (a warning:
    /// nothing sealed changed, but someone wrote it).
    UnknownField(String),
    /// Records of chains beyond the number verified in detail were only
    /// counted: their chains are not verified.
    Untracked {
        /// Records of such chains.
        records: u64,
        /// How many chains were verified in detail.
        tracked: usize,
    },
}

impl FindingKind {
    /// Whether this is only a warning (does not fail verification).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            FindingKind::TimestampBackwards | FindingKind::UnknownField(_)
        )
    }

    /// Whether it breaks the links of the chain (a record that is not the
    /// authentic event of its position, or a missing one), rather than
    /// being wrong in what an authentic event says or holds.
    pub fn breaks_links(&self) -> bool {
        !matches!(
            self,
            FindingKind::TimestampBackwards
                | FindingKind::Terms(_)
                | FindingKind::UnknownField(_)
                | FindingKind::Stripped(_)
                | FindingKind::RetiredSecret
                | FindingKind::UnannouncedSecret
                | FindingKind::BadRotation(_)
                | FindingKind::KeyErased(_)
                | FindingKind::Unshredded(_)
                | FindingKind::Undecryptable(_)
        )
    }

    /// A short stable name (`modified`, `gap`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::Modified => "modified",
            FindingKind::Gap { .. } => "gap",
            FindingKind::Inserted => "inserted",
            FindingKind::Duplicate => "duplicate",
            FindingKind::Fork => "fork",
            FindingKind::UnknownSecret => "unknown_secret",
            FindingKind::Malformed(_) => "malformed",
            FindingKind::TimestampBackwards => "timestamp_backwards",
            FindingKind::OutOfWindow => "out_of_window",
            FindingKind::Truncated => "truncated",
            FindingKind::CheckpointMismatch => "checkpoint_mismatch",
            FindingKind::Stripped(_) => "stripped",
            FindingKind::RetiredSecret => "retired_secret",
            FindingKind::UnannouncedSecret => "unannounced_secret",
            FindingKind::BadRotation(_) => "bad_rotation",
            FindingKind::KeyErased(_) => "key_erased",
            FindingKind::Unshredded(_) => "unshredded",
            FindingKind::Undecryptable(_) => "undecryptable",
            FindingKind::CheckpointConflict => "checkpoint_conflict",
            FindingKind::Terms(_) => "terms",
            FindingKind::UnknownField(_) => "unknown_field",
            FindingKind::Untracked { .. } => "untracked",
        }
    }
}

/// One integrity finding, with where it starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    /// The chain (`None` when a malformed record names none).
    pub chain: Option<ChainId>,
    /// The sequence number where it starts (`None` when unknown).
    pub seq: Option<u64>,
    /// What is wrong.
    pub kind: FindingKind,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = self.chain.as_ref().map_or("?", |c| c.as_str());
        let seq = self.seq.map_or("?".to_owned(), |s| s.to_string());
        let what = match &self.kind {
            FindingKind::Modified => "modified: the seal does not match the content".to_owned(),
            FindingKind::Gap { to } => format!("gap: events {seq}..={to} are missing"),
            FindingKind::Inserted => "inserted: a forged event beside the authentic one".to_owned(),
            FindingKind::Duplicate => "duplicate: the event is stored twice".to_owned(),
            FindingKind::Fork => "fork: two events claim the same predecessor".to_owned(),
            FindingKind::UnknownSecret => "unknown seal secret id".to_owned(),
            FindingKind::Malformed(why) => format!("malformed record: {why}"),
            FindingKind::TimestampBackwards => "warning: timestamp goes backwards".to_owned(),
            FindingKind::OutOfWindow => {
                "arrived beyond the reordering window; verify with a larger window".to_owned()
            }
            FindingKind::Truncated => {
                "truncated: the chain no longer reaches the trusted checkpoint".to_owned()
            }
            FindingKind::CheckpointMismatch => {
                "checkpoint mismatch: another event stands where the checkpoint's head was"
                    .to_owned()
            }
            FindingKind::Stripped(why) => {
                format!("stripped: the content is gone and no valid purge explains it ({why})")
            }
            FindingKind::RetiredSecret => {
                "retired secret: sealed by a secret the chain had rotated away from".to_owned()
            }
            FindingKind::UnannouncedSecret => {
                "unannounced secret: sealed by another secret than the chain's, without a rotation record"
                    .to_owned()
            }
            FindingKind::BadRotation(why) => format!("bad rotation record: {why}"),
            FindingKind::KeyErased(key) => format!(
                "key erased: the data key of detail `{key}` is gone and no shred record covers it"
            ),
            FindingKind::Unshredded(key) => format!(
                "unshredded: the data key of detail `{key}` is present although a shred record covers it (restored?)"
            ),
            FindingKind::Undecryptable(why) => format!("undecryptable: {why}"),
            FindingKind::CheckpointConflict => {
                "checkpoint conflict: two trusted checkpoints name different heads here".to_owned()
            }
            FindingKind::Terms(why) => format!(
                "terms: the stored search terms are not those of the sealed details ({why})"
            ),
            FindingKind::UnknownField(name) => {
                format!("warning: the stored document has a field `{name}` that is not an event's")
            }
            FindingKind::Untracked { records, tracked } => format!(
                "not verified: {records} records of chains beyond the first {tracked} were only counted; verify with a larger chain limit"
            ),
        };
        write!(f, "{chain}#{seq}: {what}")
    }
}

impl Finding {
    /// Where it is: chain, sequence number, kind.
    pub(crate) fn order_key(&self) -> (Option<&ChainId>, Option<u64>, &FindingKind) {
        (self.chain.as_ref(), self.seq, &self.kind)
    }
}

/// Result of checking one record on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Auth {
    Authentic,
    BadSeal,
    UnknownSecret,
    Malformed(String),
}

/// What [`Verifier::check`] finds of one event on its own: everything of
/// [`Verifier::push`] that needs no state of the chains.
#[derive(Debug)]
struct Checked {
    auth: Auth,
    /// The bytes the seal covers (0 for a malformed event).
    sealed_len: u64,
    /// An authentic stub: whether its purge mark holds.
    purge: Option<Result<(), String>>,
    /// An authentic event that is not a stub: its rotation record and shred
    /// record, if it claims to be one.
    rotation: Option<Box<Result<RotationRecord, String>>>,
    shred: Option<Result<ShredRecord, String>>,
    /// With the keyset: the details of an authentic event that do not
    /// decrypt.
    undecryptable: Vec<FindingKind>,
    /// A retention anchor: the predecessor's seal it vouches for, if valid.
    anchor: Option<Option<Seal>>,
}

/// One record of an input, for [`Verifier::push_batch`].
// Nearly every record is an event: boxing it would cost an allocation per
// event and save no memory.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Record {
    /// An event: [`Verifier::push`].
    Event(SealedEvent),
    /// A document that is not a valid event: [`Verifier::push_malformed`].
    Malformed {
        /// The chain it names, if any.
        chain: Option<ChainId>,
        /// The sequence number it names, if any.
        seq: Option<u64>,
        /// What is wrong with it.
        why: String,
    },
    /// A fault in the unsealed fields of a document: [`Verifier::push_unsealed`].
    Unsealed {
        /// The chain of the document.
        chain: ChainId,
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        kind: FindingKind,
    },
}

/// What the verifier keeps of an event: constant size (a rotation record,
/// rare, is boxed).
#[derive(Clone, Debug)]
struct Link {
    auth: Auth,
    prev: Seal,
    seal: Seal,
    timestamp_ms: i64,
    secret_id: SecretId,
    /// Format 2 or later: a change of secret needs a rotation record.
    announced: bool,
    /// A stub no valid purge explains.
    stripped: bool,
    rotation: Option<Box<Result<RotationRecord, String>>>,
    /// The predecessor's seal vouched for by a valid retention anchor on
    /// this record: what was before may have been purged.
    anchor: Option<Seal>,
}

/// How the first event of a chain was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    NotStarted,
    Trusted,
    /// Started neither at genesis, an anchor nor the checkpoint: a gap
    /// `from..=to` is reported unless a valid anchor later proves the
    /// missing events were purged.
    Unanchored {
        from: u64,
        to: u64,
    },
}

impl ChainState {
    fn new(chain: ChainId, checkpoints: Vec<Checkpoint>) -> ChainState {
        ChainState {
            start: Start::NotStarted,
            next: 0,
            prev: None,
            last_ts: None,
            pending: BTreeMap::new(),
            pending_len: 0,
            recent: VecDeque::new(),
            unbroken: true,
            checkpoints,
            anchored: false,
            secret: None,
            superseded: HashSet::new(),
            announced: false,
            summary: ChainSummary {
                chain,
                events: 0,
                stubs: 0,
                first_seq: None,
                last_seq: None,
                head_seal: None,
                first_ts: None,
                last_ts: None,
                errors: 0,
                warnings: 0,
            },
        }
    }
}

#[derive(Debug)]
struct ChainState {
    start: Start,
    next: u64,
    prev: Option<Seal>,
    last_ts: Option<i64>,
    pending: BTreeMap<u64, Vec<Link>>,
    pending_len: usize,
    recent: VecDeque<(u64, Seal, bool)>,
    unbroken: bool,
    /// The trusted checkpoints of the chain, by sequence number.
    checkpoints: Vec<Checkpoint>,
    /// The chain started at a valid retention anchor: authentic records
    /// below it are purged territory.
    anchored: bool,
    /// The secret sealing the chain at this point, and those superseded.
    secret: Option<SecretId>,
    superseded: HashSet<SecretId>,
    /// A format 2 event was seen: format 1 may no longer follow.
    announced: bool,
    summary: ChainSummary,
}

/// What the verifier learned of one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    /// The chain.
    pub chain: ChainId,
    /// Events read (duplicates and forgeries included).
    pub events: u64,
    /// Stubs read: events purged by retention, their content gone.
    pub stubs: u64,
    /// First sequence number placed.
    pub first_seq: Option<u64>,
    /// Last sequence number placed (the head).
    pub last_seq: Option<u64>,
    /// Seal of the head.
    pub head_seal: Option<Seal>,
    /// Timestamp of the first and the head event.
    pub first_ts: Option<i64>,
    /// Timestamp of the head event.
    pub last_ts: Option<i64>,
    /// Number of errors (warnings excluded) in this chain.
    pub errors: u64,
    /// Number of warnings in this chain.
    pub warnings: u64,
}

/// The outcome of a verification.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// One summary per chain, by chain id.
    pub chains: Vec<ChainSummary>,
    /// Findings, earliest first (chain, then sequence number); at most the
    /// configured number are kept.
    pub findings: Vec<Finding>,
    /// All findings counted, kept or not.
    pub total_findings: u64,
    /// Findings that are errors (not warnings).
    pub errors: u64,
    /// Records read.
    pub records: u64,
    /// Bytes covered by seals.
    pub sealed_bytes: u64,
}

impl VerifyReport {
    /// Whether every chain verified (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors == 0
    }

    /// The first error, if any.
    pub fn first_error(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| !f.kind.is_warning())
    }
}

/// Verifies sealed events of one or many chains, interleaved, in the order
/// a dump gives them. Memory is bounded whatever the input: at most
/// [`DEFAULT_MAX_CHAINS`] chains in detail, their reordering windows
/// sharing [`DEFAULT_WINDOW_BUDGET`] records, at most
/// [`DEFAULT_MAX_FINDINGS`] findings kept (all counted).
///
/// The verdict and the first finding of each chain do not depend on the
/// order of the records, as long as no chain's records are further out of
/// order than its window: a chain starts only at genesis, or once its
/// window is full or the input ends, at its lowest position.
///
/// ```
/// use stream_chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp, Verifier};
/// let secrets = SealSecrets::new(SealSecret::new(b"a seal secret of 32 bytes.......")?);
/// let chainer = Chainer::new(secrets.clone(), None);
/// let mut head = Head::genesis(ChainId::new("ca")?);
/// let mut events = Vec::new();
/// for i in 0..10 {
///     let draft = EventDraft::new("TEST", "ca", "node", Status::Success, Timestamp::from_millis(i));
///     events.push(chainer.seal(&mut head, &draft)?);
/// }
/// events[4].code = "FORGED".into();
/// let mut verifier = Verifier::new(secrets);
/// for event in &events {
///     verifier.push(event);
/// }
/// let report = verifier.finish();
/// assert_eq!(report.first_error().and_then(|f| f.seq), Some(5));
/// # Ok::<(), stream_chain::Error>(())
/// ```
pub struct Verifier {
    secrets: SealSecrets,
    window: usize,
    window_budget: usize,
    max_chains: usize,
    clock_skew_ms: i64,
    chains: HashMap<ChainId, ChainState>,
    /// Trusted checkpoints, by chain and sequence number.
    checkpoints: HashMap<ChainId, Vec<Checkpoint>>,
    /// Records of chains beyond `max_chains`: counted only.
    untracked: u64,
    now_ms: Option<i64>,
    keys: Option<Chainer>,
    /// Detail keys shred records cover, by chain and target.
    shredded: HashMap<(ChainId, u64), HashSet<String>>,
    /// Rotation records learned ahead, by chain: (seq, record).
    rotations: HashMap<ChainId, Vec<(u64, RotationRecord)>>,
    /// How many `rotations` holds.
    learned_rotations: usize,
    /// Data keys found missing, to be covered by a shred record by the end.
    erased: HashMap<(ChainId, u64), Vec<String>>,
    /// How many keys `erased` holds.
    erased_keys: usize,
    kept: Kept,
    total_findings: u64,
    errors: u64,
    records: u64,
    sealed_bytes: u64,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("chains", &self.chains.len())
            .field("records", &self.records)
            .field("findings", &self.total_findings)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier knowing `secrets` (only the seal secrets: no keyset).
    pub fn new(secrets: SealSecrets) -> Verifier {
        Verifier {
            secrets,
            window: DEFAULT_WINDOW,
            window_budget: DEFAULT_WINDOW_BUDGET,
            max_chains: DEFAULT_MAX_CHAINS,
            clock_skew_ms: DEFAULT_CLOCK_SKEW_MS,
            chains: HashMap::new(),
            checkpoints: HashMap::new(),
            untracked: 0,
            now_ms: None,
            keys: None,
            shredded: HashMap::new(),
            rotations: HashMap::new(),
            learned_rotations: 0,
            erased: HashMap::new(),
            erased_keys: 0,
            kept: Kept::new(DEFAULT_MAX_FINDINGS),
            total_findings: 0,
            errors: 0,
            records: 0,
            sealed_bytes: 0,
        }
    }

    /// Sets the reordering window (events per chain; at least 1). The
    /// budget all chains share ([`DEFAULT_WINDOW_BUDGET`]) grows to at
    /// least this.
    pub fn with_window(mut self, window: usize) -> Verifier {
        self.window = window.max(1);
        self.window_budget = self.window_budget.max(self.window);
        self
    }

    /// Sets how many records all chains together may hold out of order
    /// (at least the window; see [`DEFAULT_WINDOW_BUDGET`]).
    pub fn with_window_budget(mut self, budget: usize) -> Verifier {
        self.window_budget = budget.max(self.window);
        self
    }

    /// Sets how many chains are verified in detail (at least 1; see
    /// [`DEFAULT_MAX_CHAINS`]).
    pub fn with_max_chains(mut self, max: usize) -> Verifier {
        self.max_chains = max.max(1);
        self
    }

    /// The reordering window of each chain now: the configured window, or
    /// the chains' share of the budget when that is smaller (but at least
    /// [`MIN_WINDOW`]).
    fn chain_window(&self) -> usize {
        let share = self.window_budget / self.chains.len().max(1);
        self.window.min(share.max(MIN_WINDOW))
    }

    /// Whether records of `chain` are verified in detail: it is known, or
    /// there is room for one more chain. Past half the limit, only a chain
    /// with a trusted checkpoint or whose record is `authentic` (asked only
    /// then: one seal) gets a place, so that junk chain ids cannot take
    /// them all. A new chain is made, and every chain's window shrinks to
    /// its new share: chains holding more are drained (as if their window
    /// had filled), so that all of them together never hold more than the
    /// budget.
    fn admit(&mut self, chain: &ChainId, authentic: impl FnOnce(&Verifier) -> bool) -> bool {
        if self.chains.contains_key(chain) {
            return true;
        }
        if self.chains.len() >= self.max_chains {
            return false;
        }
        if self.chains.len() >= self.max_chains / 2
            && !self.checkpoints.contains_key(chain)
            && !authentic(self)
        {
            return false;
        }
        let before = self.chain_window();
        self.ensure_chain(chain);
        let window = self.chain_window();
        if window < before {
            let over: Vec<ChainId> = self
                .chains
                .iter()
                .filter(|(_, s)| s.pending_len > window || s.recent.len() > window)
                .map(|(c, _)| c.clone())
                .collect();
            for chain in over {
                self.drain(&chain, window, false);
                let recent = &mut self.state(&chain).recent;
                while recent.len() > window {
                    recent.pop_front();
                }
            }
        }
        true
    }

    /// Sets how far (ms) an event's timestamp may be before its
    /// predecessor's without a [`FindingKind::TimestampBackwards`] warning:
    /// the clocks of the pods sharing a chain differ, and an event waits
    /// for its pod's turn after it was timestamped. The timestamp is
    /// sealed, so a moved one is a modification whatever this tolerance.
    pub fn with_clock_skew_ms(mut self, tolerance_ms: i64) -> Verifier {
        self.clock_skew_ms = tolerance_ms.max(0);
        self
    }

    /// Sets the time of the verification: a purge mark dated after it
    /// (beyond the clock skew) is [`FindingKind::Stripped`].
    pub fn with_now_ms(mut self, now_ms: i64) -> Verifier {
        self.now_ms = Some(now_ms);
        self
    }

    /// Deep verification: with the keyset (in `chainer`), every wrapped
    /// data key is unwrapped and every payload opened; a detail that does
    /// not decrypt is [`FindingKind::Undecryptable`]. Costs a decryption per
    /// sensitive detail.
    pub fn with_keyset(mut self, chainer: Chainer) -> Verifier {
        self.keys = chainer.envelope().is_some().then_some(chainer);
        self
    }

    /// Learns a shred record ahead of the chain (a first pass over the
    /// input, or a query for them): an event before its shred record whose
    /// shredded data key is present (restored from a backup) is then
    /// [`FindingKind::Unshredded`]. Records met in the input are learned
    /// too, but only cover what comes after them, and erased keys (checked
    /// at the end). Ignores anything that is not an authentic, well-formed
    /// shred record; its place in the chain is checked when it is pushed.
    pub fn learn_shred(&mut self, event: &SealedEvent) {
        if let Some(Ok(record)) = ShredRecord::parse(event) {
            if event.seal_is_valid(&self.secrets) {
                self.cover(&event.chain, record);
            }
        }
    }

    /// What a shred record covers, from now on.
    fn cover(&mut self, chain: &ChainId, record: ShredRecord) {
        // Erased keys met before the record are covered now.
        if let Some(keys) = self.erased.get_mut(&(chain.clone(), record.target)) {
            let before = keys.len();
            keys.retain(|k| !record.keys.contains(k));
            self.erased_keys -= before - keys.len();
            if keys.is_empty() {
                self.erased.remove(&(chain.clone(), record.target));
            }
        }
        self.shredded
            .entry((chain.clone(), record.target))
            .or_default()
            .extend(record.keys);
    }

    /// Learns a record of the store ahead of the chain (a first pass over
    /// the input, or a query for them): a shred record (see
    /// [`Verifier::learn_shred`]) or a rotation record, so that a
    /// verification starting inside a chain (at a checkpoint, for a report
    /// over a range) still knows which secrets were superseded before its
    /// start. Anything else, or anything not authentic, is ignored.
    pub fn learn_record(&mut self, event: &SealedEvent) {
        if let Some(Ok(record)) = RotationRecord::parse(event) {
            // One per position (copies of an authentic record add
            // nothing), and at most MAX_LEARNED_ROTATIONS in all: a chain
            // rotates a few times a year.
            if self.learned_rotations < MAX_LEARNED_ROTATIONS && event.seal_is_valid(&self.secrets)
            {
                let known = self.rotations.entry(event.chain.clone()).or_default();
                if !known.iter().any(|(seq, _)| *seq == event.seq) {
                    known.push((event.seq, record));
                    self.learned_rotations += 1;
                }
            }
        } else {
            self.learn_shred(event);
        }
    }

    /// Applies the learned rotation records before `seq`, in chain order,
    /// to a chain starting there (those at or after `seq` are met in the
    /// input).
    fn seed_rotations(&mut self, chain: &ChainId, seq: u64) {
        let Some(records) = self.rotations.get_mut(chain) else {
            return;
        };
        records.sort_by_key(|(at, _)| *at);
        let secrets = &self.secrets;
        let state = chain_state(&mut self.chains, &self.checkpoints, chain);
        for (_, record) in records.iter().filter(|(at, _)| *at < seq) {
            if rotation_refusal(state, record, secrets).is_none() {
                apply_rotation(state, record);
            }
        }
    }

    /// Learns `event` if it is a shred record (its seal already checked);
    /// a malformed one is reported (a pod wrote it: it covers nothing).
    fn learn_authentic_shred(
        &mut self,
        event: &SealedEvent,
        record: Option<Result<ShredRecord, String>>,
    ) {
        match record {
            Some(Ok(record)) => self.cover(&event.chain, record),
            Some(Err(why)) => {
                self.ensure_chain(&event.chain);
                self.record(
                    Some(event.chain.clone()),
                    Some(event.seq),
                    FindingKind::Malformed(format!("shred record: {why}")),
                );
            }
            None => {}
        }
    }

    fn is_shredded(&self, chain: &ChainId, seq: u64, key: &str) -> bool {
        // No lookup (a hash of the chain id) while no record is known: the
        // common case of the hot loop.
        !self.shredded.is_empty()
            && self
                .shredded
                .get(&(chain.clone(), seq))
                .is_some_and(|keys| keys.contains(key))
    }

    /// Checks the data keys of an authentic event against the shred
    /// records; then records what did not decrypt (`undecryptable`, found
    /// with the keyset by [`Verifier::check`]).
    fn check_keys(&mut self, event: &SealedEvent, undecryptable: Vec<FindingKind>) {
        let mut findings = Vec::new();
        for detail in &event.details {
            let DetailValue::Sensitive(SensitiveValue { wrapped_dek, .. }) = &detail.value else {
                continue;
            };
            let shredded = self.is_shredded(&event.chain, event.seq, &detail.key);
            match wrapped_dek {
                // Deferred, so that a shred record later in the input covers
                // it; bounded: beyond the cap, reported at once.
                None if !shredded && self.erased_keys < MAX_DEFERRED_ERASURES => {
                    self.erased_keys += 1;
                    self.erased
                        .entry((event.chain.clone(), event.seq))
                        .or_default()
                        .push(detail.key.clone());
                }
                None if !shredded => findings.push(FindingKind::KeyErased(detail.key.clone())),
                Some(_) if shredded => findings.push(FindingKind::Unshredded(detail.key.clone())),
                _ => {}
            }
        }
        findings.extend(undecryptable);
        for kind in findings {
            self.ensure_chain(&event.chain);
            self.record(Some(event.chain.clone()), Some(event.seq), kind);
        }
    }

    /// Sets how many findings are kept (all are counted). They are shared
    /// between chains and kinds: while there are fewer chain-and-kind
    /// pairs than this, each keeps at least its earliest finding, and
    /// always at least its share (this divided by the number of pairs).
    pub fn with_max_findings(mut self, max: usize) -> Verifier {
        self.kept.set_max(max);
        self
    }

    /// Trusts a checkpoint: its chain must still contain the checkpoint's
    /// head or a continuation of it. Verification may start at or before
    /// its head, or right after it (incremental audit): the events before
    /// the first one in the input need not be there. Several checkpoints of
    /// one chain combine: the chain must pass through each (so the newest
    /// bounds its tail), and two that name different heads at one position
    /// are [`FindingKind::CheckpointConflict`].
    ///
    /// # Errors
    /// [`crate::Error::NotAuthentic`] or [`crate::Error::UnknownSecret`]
    /// if the checkpoint's own seal does not verify.
    pub fn trust_checkpoint(&mut self, checkpoint: Checkpoint) -> crate::Result<()> {
        checkpoint.verify(&self.secrets)?;
        let list = self
            .checkpoints
            .entry(checkpoint.chain.clone())
            .or_default();
        if !list.contains(&checkpoint) {
            list.push(checkpoint.clone());
            list.sort_by_key(|cp| cp.seq);
            if let Some(state) = self.chains.get_mut(&checkpoint.chain) {
                state.checkpoints.clone_from(list);
            }
        }
        Ok(())
    }

    fn record(&mut self, chain: Option<ChainId>, seq: Option<u64>, kind: FindingKind) {
        self.total_findings += 1;
        if !kind.is_warning() {
            self.errors += 1;
        }
        if let Some(state) = chain.as_ref().and_then(|c| self.chains.get_mut(c)) {
            if kind.is_warning() {
                state.summary.warnings += 1;
            } else {
                state.summary.errors += 1;
                if kind.breaks_links() {
                    state.unbroken = false;
                }
            }
        }
        self.kept.push(Finding { chain, seq, kind });
    }

    /// Reports a record that is not a valid event (missing fields, wrong
    /// types, unknown version). Give its chain and sequence number when the
    /// record has them: it then takes its place in the chain, so that it is
    /// not also reported as a gap.
    pub fn push_malformed(&mut self, chain: Option<ChainId>, seq: Option<u64>, why: String) {
        self.records += 1;
        let why = shorten(why, MAX_REASON_CHARS);
        if chain.as_ref().is_some_and(|c| !self.admit(c, |_| false)) {
            self.untracked += 1;
            return;
        }
        match (chain, seq) {
            (Some(chain), Some(seq)) => {
                let link = Link {
                    auth: Auth::Malformed(why),
                    prev: Seal::GENESIS,
                    seal: Seal::GENESIS,
                    timestamp_ms: i64::MIN,
                    secret_id: SecretId([0; 8]),
                    announced: false,
                    stripped: false,
                    rotation: None,
                    anchor: None,
                };
                self.place(chain, seq, link);
            }
            (chain, seq) => self.record(chain, seq, FindingKind::Malformed(why)),
        }
    }

    /// Reports what is wrong in the unsealed fields of a stored event (the
    /// readers check them; the event itself is pushed on its own):
    /// [`FindingKind::Terms`] or [`FindingKind::UnknownField`], at
    /// `chain`#`seq`. Any other kind is ignored.
    pub fn push_unsealed(&mut self, chain: &ChainId, seq: u64, kind: FindingKind) {
        if matches!(kind, FindingKind::Terms(_) | FindingKind::UnknownField(_))
            && self.chains.contains_key(chain)
        {
            self.record(Some(chain.clone()), Some(seq), kind);
        }
    }

    /// Verifies one event and places it in its chain.
    pub fn push(&mut self, event: &SealedEvent) {
        if self.refuses(&event.chain) {
            // Counted only: no seal to check (see `admit`).
            self.records += 1;
            self.untracked += 1;
            return;
        }
        let checked = self.check(event);
        self.push_checked(event, checked);
    }

    /// Whether records of `chain` can no longer be admitted: it is unknown
    /// and the chain limit is reached (chains are never dropped, so this
    /// holds from then on).
    fn refuses(&self, chain: &ChainId) -> bool {
        self.chains.len() >= self.max_chains && !self.chains.contains_key(chain)
    }

    /// Verifies a batch of records, in order, with the seal checks (and
    /// the decryptions of deep verification) spread over the cores: the
    /// same findings, in the same order, as pushing them one by one
    /// ([`Verifier::push`], [`Verifier::push_malformed`],
    /// [`Verifier::push_unsealed`]). Only what depends on the verifier's
    /// configuration is done in parallel; what depends on the records
    /// before (links, windows, shred and rotation records) stays
    /// sequential. Memory grows by a few dozen bytes per record of the
    /// batch while it runs.
    pub fn push_batch(&mut self, batch: &[Record]) {
        // Below this many records per task, rayon's hand-off costs more than
        // the seals it spreads (a 1 KiB event seals in about 2 µs).
        const MIN_PER_TASK: usize = 64;
        let checked: Vec<Option<Checked>> = {
            let this = &*self;
            batch
                .par_iter()
                .with_min_len(MIN_PER_TASK)
                .map(|record| match record {
                    // (A chain refused now is refused for the whole batch.)
                    Record::Event(event) if !this.refuses(&event.chain) => Some(this.check(event)),
                    _ => None,
                })
                .collect()
        };
        for (record, checked) in batch.iter().zip(checked) {
            match (record, checked) {
                (Record::Event(event), Some(checked)) => self.push_checked(event, checked),
                (Record::Event(event), None) => self.push(event),
                (Record::Malformed { chain, seq, why }, _) => {
                    self.push_malformed(chain.clone(), *seq, why.clone());
                }
                (Record::Unsealed { chain, seq, kind }, _) => {
                    self.push_unsealed(chain, *seq, kind.clone());
                }
            }
        }
    }

    /// What [`Verifier::push`] finds of `event` alone, from the secrets,
    /// the keyset and the clock: no state of the chains is read, so that
    /// any thread can do it, in any order.
    fn check(&self, event: &SealedEvent) -> Checked {
        let shape = event.shape_error();
        let (auth, sealed_len) = match self.secrets.get(event.secret_id) {
            _ if shape.is_some() => (Auth::Malformed(shape.unwrap_or_default()), 0),
            None => (Auth::UnknownSecret, event.sealed_len()),
            Some(secret) => {
                // One pass over the canonical bytes: seal and byte count.
                let (seal, len) = event.seal_counted(secret);
                let auth = if seal == event.seal {
                    Auth::Authentic
                } else {
                    Auth::BadSeal
                };
                (auth, len)
            }
        };
        let mut checked = Checked {
            sealed_len,
            purge: None,
            rotation: None,
            shred: None,
            undecryptable: Vec::new(),
            anchor: None,
            auth,
        };
        if checked.auth == Auth::Authentic {
            if let Some(mark) = &event.purged {
                let skew = self.clock_skew_ms;
                checked.purge = Some(match mark.check(event, &self.secrets) {
                    Ok(())
                        if self
                            .now_ms
                            .is_some_and(|now| mark.purged_ms > now.saturating_add(skew)) =>
                    {
                        Err("the purge mark is dated in the future".to_owned())
                    }
                    Ok(()) => Ok(()),
                    Err(e) => Err(e.to_string()),
                });
            } else {
                checked.rotation = RotationRecord::parse(event).map(Box::new);
                checked.shred = ShredRecord::parse(event);
                checked.undecryptable = self.decryption_findings(event);
            }
        }
        // A valid anchor stands for its position whatever the event there
        // says: a modified anchored event is `Modified`, not a gap before it.
        checked.anchor = event.anchor.as_ref().map(|anchor| {
            (anchor.is_valid_at(&event.chain, event.seq, &self.secrets)
                && self
                    .secrets
                    .rotates_forward(event.secret_id, anchor.secret_id))
            .then_some(anchor.prev)
        });
        checked
    }

    /// With the keyset, what does not decrypt among the sensitive details
    /// of an authentic event.
    fn decryption_findings(&self, event: &SealedEvent) -> Vec<FindingKind> {
        let Some(chainer) = &self.keys else {
            return Vec::new();
        };
        if !event
            .details
            .iter()
            .any(|d| matches!(d.value, DetailValue::Sensitive(_)))
        {
            return Vec::new();
        }
        match chainer.check_keys(event) {
            Ok(failed) => failed
                .into_iter()
                .map(|(key, e)| FindingKind::Undecryptable(format!("detail `{key}`: {e}")))
                .collect(),
            Err(e) => vec![FindingKind::Undecryptable(e.to_string())],
        }
    }

    /// The rest of [`Verifier::push`], in input order: what `checked` found
    /// of `event`, then its place in its chain.
    fn push_checked(&mut self, event: &SealedEvent, checked: Checked) {
        self.records += 1;
        let Checked {
            auth,
            sealed_len,
            purge,
            rotation,
            shred,
            undecryptable,
            anchor,
        } = checked;
        if !self.admit(&event.chain, |_| auth == Auth::Authentic) {
            self.untracked += 1;
            return;
        }
        self.sealed_bytes += sealed_len;
        let authentic = auth == Auth::Authentic;
        let mut stripped = false;
        if authentic {
            if let Some(checked) = purge {
                self.ensure_chain(&event.chain);
                self.state(&event.chain).summary.stubs += 1;
                if let Err(why) = checked {
                    stripped = true;
                    self.record(
                        Some(event.chain.clone()),
                        Some(event.seq),
                        FindingKind::Stripped(why),
                    );
                }
            } else {
                self.learn_authentic_shred(event, shred);
                self.check_keys(event, undecryptable);
            }
        }
        let anchor = match anchor {
            None => None,
            Some(Some(prev)) => Some(prev),
            Some(None) => {
                self.ensure_chain(&event.chain);
                self.record(
                    Some(event.chain.clone()),
                    Some(event.seq),
                    FindingKind::Malformed("the retention anchor is not authentic".into()),
                );
                None
            }
        };
        let link = Link {
            auth,
            prev: event.prev,
            seal: event.seal,
            timestamp_ms: event.timestamp_ms,
            secret_id: event.secret_id,
            announced: event.version >= FORMAT_VERSION,
            stripped,
            rotation,
            anchor,
        };
        self.place(event.chain.clone(), event.seq, link);
    }

    fn ensure_chain(&mut self, chain: &ChainId) {
        self.state(chain);
    }

    fn state(&mut self, chain: &ChainId) -> &mut ChainState {
        chain_state(&mut self.chains, &self.checkpoints, chain)
    }

    fn place(&mut self, chain: ChainId, seq: u64, link: Link) {
        let window = self.chain_window();
        let state = self.state(&chain);
        state.summary.events += 1;
        if seq < GENESIS_SEQ {
            // Nothing stands below genesis: reported at once (whatever the
            // order), never a start.
            let kind = match link.auth {
                Auth::Authentic => {
                    FindingKind::Malformed(format!("sequence number {seq} is below genesis"))
                }
                Auth::BadSeal => FindingKind::Modified,
                Auth::UnknownSecret => FindingKind::UnknownSecret,
                Auth::Malformed(why) => FindingKind::Malformed(why),
            };
            self.record(Some(chain), Some(seq), kind);
            return;
        }
        if state.start != Start::NotStarted && seq < state.next {
            self.late(chain, seq, link);
            return;
        }
        if state.start != Start::NotStarted
            && seq == state.next
            && state.pending.is_empty()
            && link.auth == Auth::Authentic
        {
            // In order with nothing pending (the common case): what `drain`
            // would do at once, without the pending map and its `Vec`.
            self.process(&chain, seq, std::slice::from_ref(&link));
            return;
        }
        // One record per position, nearly always: a `Vec`'s first push
        // would make room for four (640 bytes a position, not 160).
        state
            .pending
            .entry(seq)
            .or_insert_with(|| Vec::with_capacity(1))
            .push(link);
        state.pending_len += 1;
        self.drain(&chain, window, false);
    }

    /// An event for a position already passed: a duplicate, a fork or a
    /// forgery of a recent event, or too late to place.
    fn late(&mut self, chain: ChainId, seq: u64, link: Link) {
        let state = self.state(&chain);
        let below_start = state.summary.first_seq.is_some_and(|first| seq < first);
        // (`recent` is in sequence order: a binary search.)
        let known = state
            .recent
            .binary_search_by_key(&seq, |(s, _, _)| *s)
            .ok()
            .and_then(|i| state.recent.get(i))
            .map(|(_, seal, authentic)| (*seal, *authentic));
        if below_start && state.anchored {
            // Left over below a retention anchor (beyond the window: those
            // within it are placed): purged territory, not part of the
            // verified chain; but a record that is not authentic is still
            // reported.
            let kind = match &link.auth {
                Auth::Authentic => return,
                Auth::BadSeal => FindingKind::Modified,
                Auth::UnknownSecret => FindingKind::UnknownSecret,
                Auth::Malformed(why) => FindingKind::Malformed(why.clone()),
            };
            self.record(Some(chain), Some(seq), kind);
            return;
        }
        let kind = match (&link.auth, known) {
            (Auth::Malformed(why), _) => FindingKind::Malformed(why.clone()),
            (Auth::UnknownSecret, _) => FindingKind::UnknownSecret,
            // Below where the chain starts: not authentic, whatever came.
            (Auth::BadSeal, None) if below_start => FindingKind::Modified,
            (_, None) => FindingKind::OutOfWindow,
            (Auth::Authentic, Some((seal, true))) if seal == link.seal => FindingKind::Duplicate,
            (Auth::Authentic, Some((_, true))) => FindingKind::Fork,
            // The authentic event of a position already decided without
            // it: it came later than the window allowed.
            (Auth::Authentic, Some((_, false))) => FindingKind::OutOfWindow,
            (Auth::BadSeal, Some((_, true))) => FindingKind::Inserted,
            (Auth::BadSeal, Some((_, false))) => FindingKind::Modified,
        };
        self.record(Some(chain), Some(seq), kind);
    }

    /// Processes what can be processed; `all` at the end of the input.
    fn drain(&mut self, chain: &ChainId, window: usize, all: bool) {
        loop {
            let state = self.state(chain);
            let Some((&lowest, _)) = state.pending.first_key_value() else {
                return;
            };
            if state.start == Start::NotStarted {
                // Nothing comes before genesis; any other start waits for
                // the window to fill or the input to end, so that it does
                // not depend on the order of the records.
                let group = &state.pending[&lowest];
                let genesis = is_genesis(lowest, group);
                if !(genesis || all || state.pending_len > window) {
                    return; // an earlier event may still come
                }
                let trusted = genesis || is_trusted_start(&state.checkpoints, lowest, group);
                self.start(chain, lowest, trusted);
                continue;
            }
            if lowest == state.next {
                // A position held only by records that are not authentic
                // waits, like a gap, for the window to fill: its authentic
                // event may still come (a forgery stored before the
                // original is then `Inserted`, not `Modified`).
                let settled = all
                    || state.pending_len > window
                    || state.pending[&lowest]
                        .iter()
                        .any(|l| l.auth == Auth::Authentic);
                if !settled {
                    return;
                }
                let Some(group) = state.pending.remove(&lowest) else {
                    return;
                };
                state.pending_len -= group.len();
                self.process(chain, lowest, &group);
            } else if all || state.pending_len > window {
                // Events next..lowest-1 did not come within the window.
                let from = state.next;
                state.next = lowest;
                state.prev = None;
                self.record(
                    Some(chain.clone()),
                    Some(from),
                    FindingKind::Gap { to: lowest - 1 },
                );
            } else {
                return;
            }
        }
    }

    fn start(&mut self, chain: &ChainId, seq: u64, trusted: bool) {
        self.seed_rotations(chain, seq);
        let state = self.state(chain);
        state.next = seq;
        // Right after a checkpoint's head: the chain must link to it.
        let after_head = state
            .checkpoints
            .iter()
            .find(|cp| cp.seq.checked_add(1) == Some(seq))
            .map(|cp| cp.seal);
        if trusted {
            state.start = Start::Trusted;
            // An anchored start links to the seal the anchor vouches for
            // (a chain purged past a checkpoint: the anchor, sealed by the
            // secret, vouches for the deletion of that head); a start
            // right after a checkpoint's head to that head; a genesis or
            // checkpoint-head start to its authentic event's predecessor.
            let group = state.pending.get(&seq);
            let anchor = group.and_then(|group| group.iter().find_map(|l| l.anchor));
            state.anchored = anchor.is_some();
            let links_to_head = |group: &Vec<Link>| {
                after_head.filter(|head| {
                    group
                        .iter()
                        .any(|l| l.auth == Auth::Authentic && l.prev == *head)
                })
            };
            state.prev = anchor
                .or_else(|| group.and_then(links_to_head))
                .or_else(|| {
                    let head = state.checkpoints.iter().find(|cp| cp.seq == seq);
                    group?
                        .iter()
                        .filter(|l| l.auth == Auth::Authentic)
                        .find(|l| head.is_none_or(|cp| cp.seal == l.seal))
                        .map(|l| l.prev)
                });
        } else {
            // Neither genesis, an anchor, a checkpoint's head nor right
            // after it: what is missing before is a gap from genesis, or
            // from right after the newest checkpoint before (which vouches
            // for what was up to its head). The verifier cannot tell an
            // export that starts late on purpose from one whose oldest
            // events were deleted: an incremental audit starts at the
            // checkpoint's head or right after it.
            let from = state
                .checkpoints
                .iter()
                .map(|cp| cp.seq.saturating_add(1))
                .filter(|next| *next <= seq)
                .max()
                .unwrap_or(GENESIS_SEQ);
            state.prev = after_head;
            state.start = if from < seq {
                Start::Unanchored { from, to: seq - 1 }
            } else {
                Start::Trusted
            };
        }
    }

    fn process(&mut self, chain: &ChainId, seq: u64, group: &[Link]) {
        let mut findings: Vec<FindingKind> = Vec::new();
        let window = self.chain_window();
        let skew = self.clock_skew_ms;
        let secrets = &self.secrets;
        let state = chain_state(&mut self.chains, &self.checkpoints, chain);
        // Choose the event that stands at this position: an authentic one
        // linking to the known predecessor, else any authentic one, else
        // the first.
        let primary_index = group
            .iter()
            .position(|l| l.auth == Auth::Authentic && Some(l.prev) == state.prev)
            .or_else(|| group.iter().position(|l| l.auth == Auth::Authentic))
            .unwrap_or(0);
        let primary = &group[primary_index];
        let primary_authentic = primary.auth == Auth::Authentic;
        match &primary.auth {
            Auth::Authentic => {
                if let Some(prev) = state.prev {
                    if prev != primary.prev {
                        findings.push(FindingKind::Fork);
                    }
                }
            }
            Auth::BadSeal => findings.push(FindingKind::Modified),
            Auth::UnknownSecret => findings.push(FindingKind::UnknownSecret),
            Auth::Malformed(why) => findings.push(FindingKind::Malformed(why.clone())),
        }
        for (i, other) in group.iter().enumerate() {
            if i == primary_index {
                continue;
            }
            findings.push(match &other.auth {
                Auth::Authentic if other.seal == primary.seal => FindingKind::Duplicate,
                Auth::Authentic => FindingKind::Fork,
                Auth::Malformed(why) => FindingKind::Malformed(why.clone()),
                Auth::UnknownSecret => FindingKind::UnknownSecret,
                Auth::BadSeal if primary_authentic => FindingKind::Inserted,
                Auth::BadSeal => FindingKind::Modified,
            });
        }
        if primary_authentic {
            check_secret(state, primary, secrets, &mut findings);
            if let Some(last) = state.last_ts {
                if primary.timestamp_ms < last.saturating_sub(skew) {
                    findings.push(FindingKind::TimestampBackwards);
                }
            }
            state.last_ts = Some(primary.timestamp_ms);
        }
        if state
            .checkpoints
            .iter()
            .any(|cp| cp.seq == seq && !(primary_authentic && primary.seal == cp.seal))
        {
            findings.push(FindingKind::CheckpointMismatch);
        }
        // A valid anchor proves that what is missing before the start was
        // purged, provided the chain is unbroken from its start up to the
        // predecessor the anchor vouches for (an interrupted purge).
        if let Start::Unanchored { .. } = state.start {
            let anchor = group.iter().find_map(|l| l.anchor);
            if anchor.is_some() && state.unbroken && state.prev == anchor {
                state.start = Start::Trusted;
            }
        }
        state.prev = primary_authentic.then_some(primary.seal);
        // Saturating: a record may claim any sequence number.
        state.next = seq.saturating_add(1);
        // (The window shrinks as chains come: trim to it.)
        while state.recent.len() >= window {
            state.recent.pop_front();
        }
        state
            .recent
            .push_back((seq, primary.seal, primary_authentic));
        let summary = &mut state.summary;
        summary.first_seq.get_or_insert(seq);
        summary.first_ts.get_or_insert(primary.timestamp_ms);
        summary.last_seq = Some(seq);
        summary.last_ts = Some(primary.timestamp_ms);
        summary.head_seal = Some(primary.seal);
        for kind in findings {
            self.record(Some(chain.clone()), Some(seq), kind);
        }
    }

    /// Ends the input: places what is still pending, checks checkpoints,
    /// and returns the report.
    pub fn finish(mut self) -> VerifyReport {
        let mut chains: Vec<ChainId> = self.chains.keys().cloned().collect();
        chains.sort();
        for ((chain, seq), keys) in std::mem::take(&mut self.erased) {
            for key in keys {
                self.record(Some(chain.clone()), Some(seq), FindingKind::KeyErased(key));
            }
        }
        for chain in &chains {
            self.drain(chain, self.window, true);
            let state = self.state(chain);
            let start = state.start;
            let tail = state.summary.last_seq;
            if let Start::Unanchored { from, to } = start {
                self.record(Some(chain.clone()), Some(from), FindingKind::Gap { to });
            }
            // The newest checkpoint bounds the tail: the chain must reach
            // its head (a chain that goes past it without passing through
            // it has a gap, a fork or a mismatch reported already).
            let newest = self.checkpoints.get(chain).and_then(|list| list.last());
            if let Some(cp_seq) = newest
                .map(|cp| cp.seq)
                .filter(|cp_seq| tail.is_none_or(|last| last < *cp_seq))
            {
                let at = tail.map_or(cp_seq, |last| last.saturating_add(1));
                self.record(Some(chain.clone()), Some(at), FindingKind::Truncated);
            }
        }
        // Checkpoints of chains absent from the input (their newest), and
        // checkpoints that contradict each other.
        let mut found: Vec<(ChainId, u64, FindingKind)> = Vec::new();
        for (chain, list) in &self.checkpoints {
            if let (false, Some(newest)) = (self.chains.contains_key(chain), list.last()) {
                found.push((chain.clone(), newest.seq, FindingKind::Truncated));
            }
            for pair in list.windows(2) {
                if let [a, b] = pair {
                    if a.seq == b.seq && a.seal != b.seal {
                        found.push((chain.clone(), a.seq, FindingKind::CheckpointConflict));
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        for (chain, seq, kind) in found {
            self.record(Some(chain), Some(seq), kind);
        }
        if self.untracked > 0 {
            let kind = FindingKind::Untracked {
                records: self.untracked,
                tracked: self.max_chains,
            };
            self.record(None, None, kind);
        }
        let mut summaries: Vec<ChainSummary> =
            self.chains.into_values().map(|s| s.summary).collect();
        summaries.sort_by(|a, b| a.chain.cmp(&b.chain));
        VerifyReport {
            chains: summaries,
            findings: self.kept.into_sorted(),
            total_findings: self.total_findings,
            errors: self.errors,
            records: self.records,
            sealed_bytes: self.sealed_bytes,
        }
    }
}

/// The state of `chain`, made on first use (with its trusted checkpoint).
/// A function of the two maps, not of the verifier, so that the secrets
/// can be borrowed beside it.
fn chain_state<'a>(
    chains: &'a mut HashMap<ChainId, ChainState>,
    checkpoints: &HashMap<ChainId, Vec<Checkpoint>>,
    chain: &ChainId,
) -> &'a mut ChainState {
    chains.entry(chain.clone()).or_insert_with(|| {
        ChainState::new(
            chain.clone(),
            checkpoints.get(chain).cloned().unwrap_or_default(),
        )
    })
}

/// The seal-secret rules, in chain order: a rotation record moves the chain
/// to its secret; a superseded secret may not seal after it; a format 2
/// event is sealed by the chain's secret.
fn check_secret(
    state: &mut ChainState,
    link: &Link,
    secrets: &SealSecrets,
    findings: &mut Vec<FindingKind>,
) {
    let secret = link.secret_id;
    if link.stripped {
        // A stub that no purge explains may have been a rotation record:
        // the chain's secret is unknown until the next event says it.
        state.secret = None;
        return;
    }
    // Once a chain holds format 2 events, a format 1 event (a pod not yet
    // upgraded) follows the same rules: sealed by the chain's secret.
    state.announced |= link.announced;
    let announced = state.announced;
    match link.rotation.as_deref() {
        Some(Ok(record)) => {
            if let Some(why) = rotation_refusal(state, record, secrets) {
                // Not applied: a refused record does not move the chain.
                findings.push(FindingKind::BadRotation(why));
            } else if state.secret != Some(record.to) {
                apply_rotation(state, record);
            }
            return;
        }
        Some(Err(why)) => findings.push(FindingKind::BadRotation(why.clone())),
        None => {}
    }
    if state.superseded.contains(&secret) {
        findings.push(FindingKind::RetiredSecret);
    } else if announced && state.prev.is_some() && state.secret.is_some_and(|s| s != secret) {
        // (After a gap or a broken record the rotation record may be what
        // is missing: that is reported already.)
        findings.push(FindingKind::UnannouncedSecret);
    } else {
        state.secret = Some(secret);
    }
}

/// Why a well-formed, authentic rotation record does not follow the
/// chain's secrets, if it does not. A record re-asserting the chain's
/// secret (sealed by it) is accepted and changes nothing.
fn rotation_refusal(
    state: &ChainState,
    record: &RotationRecord,
    secrets: &SealSecrets,
) -> Option<String> {
    if state.secret == Some(record.to) {
        return None;
    }
    if let Some(chain) = state.secret.filter(|s| *s != record.from) {
        return Some(format!(
            "it rotates from {} but the chain is sealed by {chain}",
            record.from
        ));
    }
    if state.superseded.contains(&record.to) {
        return Some(format!(
            "it brings back {}, which the chain had rotated away from",
            record.to
        ));
    }
    if !record.goes_forward(secrets) {
        return Some(format!(
            "it rotates down to {}, older by this verifier's secrets than one it supersedes (give the secrets newest first)",
            record.to
        ));
    }
    None
}

fn apply_rotation(state: &mut ChainState, record: &RotationRecord) {
    state.superseded.extend(record.superseded.iter().copied());
    state.superseded.insert(record.from);
    state.secret = Some(record.to);
}

/// At most `max` characters of `text` (a mark at the end when cut).
pub(crate) fn shorten(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text,
        Some((at, _)) => {
            let mut cut = text;
            cut.truncate(at);
            cut.push('…');
            cut
        }
    }
}

/// Whether these events at `seq` hold the chain's authentic genesis.
fn is_genesis(seq: u64, group: &[Link]) -> bool {
    seq == GENESIS_SEQ
        && group
            .iter()
            .any(|l| l.auth == Auth::Authentic && l.prev == Seal::GENESIS)
}

/// Whether a chain may start at `seq` with these events: a valid
/// retention anchor, a trusted checkpoint's head, or right after it.
fn is_trusted_start(checkpoints: &[Checkpoint], seq: u64, group: &[Link]) -> bool {
    group.iter().any(|l| {
        l.anchor.is_some()
            || (l.auth == Auth::Authentic
                && checkpoints.iter().any(|cp| {
                    (cp.seq == seq && cp.seal == l.seal)
                        || (cp.seq.checked_add(1) == Some(seq) && cp.seal == l.prev)
                }))
    })
}
