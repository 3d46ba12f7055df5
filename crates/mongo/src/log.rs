//! The event log on MongoDB: appends safe across processes, reading,
//! search, verification, reports, retention and keyset rotation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, DateTime, Document, RawDocumentBuf};
use mongodb::options::{CollectionOptions, IndexOptions, ReadConcern, WriteConcern};
use mongodb::{Collection, Database, IndexModel};
use rand::Rng as _;
use stream_chain::{
    check_not_reserved, shred_refusal, superseded_positions, Anchor, ChainId, Chainer, Checkpoint,
    DetailValue, EventDraft, Head, IntegrityReport, PurgeScan, PurgeStep, Record, ReportStatus,
    RotationRecord, Seal, SealPlan, Sealed, SealedEvent, SensitiveValue, ShredRecord, Verifier,
    VerifyReport, ROTATION_CODE, SHRED_CODE, SYSTEM_MODULE,
};
use tokio::sync::oneshot;

use crate::codec::{
    anchor_to_document, binary, event_doc_id, event_from_document, event_from_raw, event_key,
    event_to_document, purge_mark_to_document, report_from_document, report_to_document,
    search_term, seq_to_bson, Malformed,
};
use crate::error::{duplicate_key_index, Error, Outcome, Result};
use crate::search::{SearchCursor, SearchPage, SearchQuery};
use crate::turn::{authentic_hint, bounded, Turn, Turns};

/// Where and how the log is stored.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Events collection (Stream's: `events`).
    pub events: String,
    /// Integrity reports collection (`integrityReports`).
    pub reports: String,
    /// Write concern of appends; `None` keeps the client's (majority is
    /// the right choice on a replica set).
    pub write_concern: Option<WriteConcern>,
    /// How many times an append is retried against concurrent writers
    /// before [`Error::Contention`].
    pub max_attempts: u32,
    /// Most events written by one `insert_many`.
    pub max_batch: usize,
    /// Turn and head-hint documents, one per chain (`chainHeads`).
    pub heads: String,
    /// Records moved aside by [`EventLog::quarantine`] (`eventsQuarantine`).
    pub quarantine: String,
    /// Every append returns within this deadline (plus at most one second
    /// for the check after an unknown outcome): acknowledged, or with
    /// [`Error::Timeout`] / [`Error::Unavailable`] saying whether the
    /// outcome is known. Also bounds [`EventLog::ensure_indexes`].
    pub operation_timeout: Duration,
    /// How long the store's client looks for a server before an operation
    /// fails ([`crate::connect_with`]); below `operation_timeout`, so that
    /// a dead server gives a known outcome.
    pub server_selection_timeout: Duration,
    /// Take turns with the other processes appending to a chain (default).
    /// Off, processes race through the unique `(chain, seq)` index alone:
    /// correct, but the process holding the head in memory keeps winning.
    pub turns: bool,
    /// How long a process keeps the turn while others wait.
    pub turn: Duration,
    /// A holder whose turn document has not changed for this long (on the
    /// waiter's own clock) is presumed gone and its turn is taken over.
    pub turn_ttl: Duration,
    /// How often a waiting process looks at the turn document.
    pub turn_poll: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            events: "events".into(),
            reports: "integrityReports".into(),
            write_concern: Some(WriteConcern::majority()),
            max_attempts: 64,
            max_batch: 1000,
            heads: "chainHeads".into(),
            quarantine: "eventsQuarantine".into(),
            operation_timeout: Duration::from_secs(10),
            server_selection_timeout: Duration::from_secs(5),
            turns: true,
            turn: Duration::from_millis(25),
            turn_ttl: Duration::from_secs(1),
            turn_poll: Duration::from_millis(1),
        }
    }
}

/// One caller's drafts waiting for the group commit.
struct Job {
    id: u64,
    deadline: Instant,
    drafts: Vec<EventDraft>,
    done: Vec<SealedEvent>,
    reply: oneshot::Sender<Result<Vec<SealedEvent>>>,
}

static JOB_IDS: AtomicU64 = AtomicU64::new(0);

/// The job index of a rotation record in a commit (no caller's).
const ROTATION_JOB: usize = usize::MAX;

impl Job {
    fn finish(self, result: Result<()>) {
        let result = match result {
            Ok(()) => Ok(self.done),
            // Some of its events are stored: never say "not written".
            Err(cause) if !self.done.is_empty() => Err(Error::PartlyWritten {
                stored: self.done,
                cause: Box::new(cause),
            }),
            Err(e) => Err(e),
        };
        // The caller may have gone away (cancelled); nothing to do then.
        let _ = self.reply.send(result);
    }

    /// Answers the drafts at the front of the job whose event id is stored
    /// already (`known`, checked authentic) with the stored events, if they
    /// describe the same events; a draft that does not is a conflict.
    fn take_known(
        &mut self,
        chainer: &Chainer,
        known: &HashMap<String, SealedEvent>,
    ) -> Result<()> {
        while let Some(stored) = self
            .drafts
            .first()
            .and_then(|d| known.get(d.event_id.as_deref()?))
        {
            if let Some(draft) = self.drafts.first() {
                chainer.check_same_event(draft, stored)?;
            }
            self.drafts.remove(0);
            self.done.push(stored.clone());
        }
        Ok(())
    }

    /// How many drafts at the front are to be sealed now: up to the first
    /// whose id is known to be stored.
    fn sealable(&self, known: &HashMap<String, SealedEvent>) -> usize {
        self.drafts
            .iter()
            .position(|d| d.event_id.as_ref().is_some_and(|id| known.contains_key(id)))
            .unwrap_or(self.drafts.len())
    }
}

/// Per-chain group commit: callers queue their drafts; whoever holds the
/// commit lock writes everything queued in one ordered insert.
struct Writer {
    queue: Mutex<Vec<Job>>,
    state: tokio::sync::Mutex<ChainState>,
}

/// What the committing task of a chain knows, between commits.
struct ChainState {
    /// Where the chain continues, when this process wrote last (trusted:
    /// it wrote it) or read an authentic head.
    head: Option<Head>,
    /// The document of the last event this process wrote (the hint it
    /// publishes when its turn ends).
    head_doc: Option<Document>,
    /// A sequence number known to hold an authentic event, to probe
    /// forward from when the head is unknown.
    probe_from: Option<u64>,
    /// A sequence number found taken by someone else (a lost race): a head
    /// hint below it is stale.
    occupied: Option<u64>,
    /// The chain's last authentic rotation record, as last looked up
    /// (`None`: not looked up; valid while the head is sealed by its `to`).
    rotation: Option<Option<RotationRecord>>,
    turn: Turn,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            queue: Mutex::new(Vec::new()),
            state: tokio::sync::Mutex::new(ChainState {
                head: None,
                head_doc: None,
                probe_from: None,
                occupied: None,
                rotation: None,
                turn: Turn::new(),
            }),
        }
    }
}

/// What a purge did to one chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// Events deleted (the expired prefix, below the anchor).
    pub deleted: u64,
    /// Events replaced by their stub (expired after the first event kept).
    pub stubbed: u64,
    /// The first sequence number kept (it carries the anchor).
    pub first_kept: Option<u64>,
}

/// Progress of a keyset rotation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationProgress {
    /// Records examined.
    pub examined: u64,
    /// Records whose data keys were re-wrapped.
    pub rewrapped: u64,
    /// Records that could not be re-wrapped (malformed, or their key is not
    /// in the keyset): the old key must stay until they are dealt with.
    pub failed: u64,
    /// Records that changed between the read and the write (shredded,
    /// purged, re-wrapped by another job): left as they are.
    pub changed: u64,
}

/// What a shred did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShredOutcome {
    /// The detail keys whose data keys were erased.
    pub erased: Vec<String>,
    /// The sequence number of the shred record appended (`None` when an
    /// earlier, interrupted shred had recorded them already).
    pub record_seq: Option<u64>,
}

/// Counters of what appends met, since the log was made.
#[derive(Default)]
struct Counters {
    conflicts: AtomicU64,
    head_scans: AtomicU64,
    takeovers: AtomicU64,
}

/// What this process's appends met so far ([`EventLog::append_stats`]):
/// for operators and benchmarks; a steady rise of either means pods that
/// do not take turns, or a database that lies about its writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendStats {
    /// Inserts that lost the race for a position (another process wrote it).
    pub conflicts: u64,
    /// Head lookups that had to ask for the highest sequence number (a scan
    /// on servers without a query planner) instead of an O(1) probe.
    pub head_scans: u64,
    /// Turns taken over from a process presumed gone (silent for
    /// [`LogConfig::turn_ttl`]).
    pub takeovers: u64,
}

/// The event log of one database. Cheap to clone (clones share the
/// connection pool, the chainer and the group commit).
#[derive(Clone)]
pub struct EventLog {
    events: Collection<Document>,
    /// The same collection read with majority read concern: what is
    /// acknowledged after an unknown outcome must not be rolled back.
    events_majority: Collection<Document>,
    reports: Collection<Document>,
    quarantined: Collection<Document>,
    turns: Turns,
    stats: Arc<Counters>,
    chainer: Arc<RwLock<Chainer>>,
    writers: Arc<Mutex<HashMap<ChainId, Arc<Writer>>>>,
    config: Arc<LogConfig>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("events", &self.events.namespace())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave their data
    // inconsistent (plain pushes and takes), so a poisoned lock is usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EventLog {
    /// The log in `database`, sealing with `chainer`.
    pub fn new(database: &Database, chainer: Chainer, config: LogConfig) -> EventLog {
        let majority = CollectionOptions::builder()
            .read_concern(ReadConcern::majority())
            .build();
        EventLog {
            events: database.collection(&config.events),
            events_majority: database.collection_with_options(&config.events, majority),
            reports: database.collection(&config.reports),
            quarantined: database.collection(&config.quarantine),
            turns: Turns::new(database.collection(&config.heads)),
            stats: Arc::default(),
            chainer: Arc::new(RwLock::new(chainer)),
            writers: Arc::new(Mutex::new(HashMap::new())),
            config: Arc::new(config),
        }
    }

    /// The chainer in use (cheap clone).
    pub fn chainer(&self) -> Chainer {
        self.chainer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the chainer (new keyset primary or seal secret); appends
    /// after this call use it.
    pub fn set_chainer(&self, chainer: Chainer) {
        *self
            .chainer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = chainer;
    }

    /// Ends every turn this process holds, publishing its head hints: call
    /// it on a graceful shutdown (SIGTERM of a pod), after the last append
    /// returned, so that the other pods need not wait
    /// [`LogConfig::turn_ttl`] to take over. Appends made after it take
    /// turns again as usual.
    pub async fn release_turns(&self) -> Result<()> {
        let writers: Vec<(ChainId, Arc<Writer>)> = lock(&self.writers)
            .iter()
            .map(|(c, w)| (c.clone(), w.clone()))
            .collect();
        for (chain, writer) in writers {
            let mut state = writer.state.lock().await;
            let deadline = Instant::now() + self.config.operation_timeout;
            let ChainState { turn, head_doc, .. } = &mut *state;
            self.turns
                .after_commit(
                    &chain,
                    turn,
                    &self.config,
                    head_doc.as_ref(),
                    false,
                    deadline,
                )
                .await?;
        }
        Ok(())
    }

    /// What this process's appends met so far.
    pub fn append_stats(&self) -> AppendStats {
        AppendStats {
            conflicts: self.stats.conflicts.load(Ordering::Relaxed),
            head_scans: self.stats.head_scans.load(Ordering::Relaxed),
            takeovers: self.stats.takeovers.load(Ordering::Relaxed),
        }
    }

    /// The events collection.
    pub fn collection(&self) -> &Collection<Document> {
        &self.events
    }

    /// Creates the indexes appends, reads and search need. Idempotent, and
    /// safe when several processes run it at once on an empty database:
    /// transient failures (a connection closed mid-way, an index build
    /// racing another) are retried with backoff within
    /// [`LogConfig::operation_timeout`]; any other error is returned, never
    /// swallowed.
    pub async fn ensure_indexes(&self) -> Result<()> {
        let deadline = Instant::now() + self.config.operation_timeout;
        let mut pause = Duration::from_millis(50);
        let mut attempt = 1u32;
        loop {
            match self.create_indexes().await {
                Ok(()) => return Ok(()),
                Err(Error::Database(e))
                    if is_transient(&e) && Instant::now() + pause < deadline =>
                {
                    tracing::warn!(attempt, error = %e, "creating indexes failed; retrying");
                    let jitter = rand::rng().random_range(0..=pause.as_millis() as u64);
                    tokio::time::sleep(pause + Duration::from_millis(jitter)).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn create_indexes(&self) -> Result<()> {
        let unique = IndexOptions::builder()
            .unique(true)
            .name("chain_seq".to_owned())
            .build();
        let mut models = vec![
            IndexModel::builder()
                .keys(doc! {"chain": 1, "seq": 1})
                .options(unique)
                .build(),
            // Event ids, unique per chain; only events with one are indexed.
            IndexModel::builder()
                .keys(doc! {"eventKey": 1})
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .sparse(true)
                        .name("event_key".to_owned())
                        .build(),
                )
                .build(),
        ];
        for (name, keys) in [
            ("timestamp", doc! {"timestamp": -1}),
            ("code_timestamp", doc! {"code": 1, "timestamp": -1}),
            ("module_timestamp", doc! {"module": 1, "timestamp": -1}),
            ("node_timestamp", doc! {"node": 1, "timestamp": -1}),
            ("status_timestamp", doc! {"status": 1, "timestamp": -1}),
            ("terms", doc! {"terms": 1}),
            ("chain_removeAt", doc! {"chain": 1, "removeAt": 1}),
        ] {
            models.push(
                IndexModel::builder()
                    .keys(keys)
                    .options(IndexOptions::builder().name(name.to_owned()).build())
                    .build(),
            );
        }
        create_missing(&self.events, models).await?;
        let report_index = IndexModel::builder()
            .keys(doc! {"chain": 1, "toSeq": -1})
            .options(
                IndexOptions::builder()
                    .name("chain_toSeq".to_owned())
                    .build(),
            )
            .build();
        create_missing(&self.reports, vec![report_index]).await?;
        Ok(())
    }

    fn writer(&self, chain: &ChainId) -> Arc<Writer> {
        lock(&self.writers)
            .entry(chain.clone())
            .or_default()
            .clone()
    }

    /// Appends one event; returns it sealed once the write is acknowledged.
    pub async fn append(&self, chain: &ChainId, draft: EventDraft) -> Result<SealedEvent> {
        let mut events = self.append_batch(chain, vec![draft]).await?;
        events.pop().ok_or_else(|| Error::Malformed {
            chain: Some(chain.to_string()),
            seq: None,
            reason: "the append returned no event".into(),
        })
    }

    /// Appends drafts in order, contiguous in the chain; returns them sealed
    /// once the write is acknowledged. Concurrent callers in this process
    /// are committed together; processes take turns on the chain (see
    /// [`LogConfig::turns`]), and the unique `(chain, seq)` index decides
    /// every race. Returns within [`LogConfig::operation_timeout`] plus at
    /// most one second: acknowledged, or with an error saying whether the
    /// outcome is known ([`Error::Timeout`], [`Error::Unavailable`]).
    pub async fn append_batch(
        &self,
        chain: &ChainId,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<SealedEvent>> {
        let mut ids: HashMap<&str, &EventDraft> = HashMap::new();
        for draft in &drafts {
            check_not_reserved(draft)?;
            // An id given twice in one batch for two different events is
            // refused before anything is written.
            if let Some(id) = draft.event_id.as_deref() {
                if ids
                    .insert(id, draft)
                    .is_some_and(|first| !first.same_as(draft))
                {
                    return Err(stream_chain::Error::EventIdRepeated {
                        chain: chain.to_string(),
                        event_id: id.to_owned(),
                    }
                    .into());
                }
            }
        }
        self.append_records(chain, drafts).await
    }

    /// [`EventLog::append_batch`] without the check that no draft passes
    /// for a record of the store: for the store's own records.
    async fn append_records(
        &self,
        chain: &ChainId,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<SealedEvent>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let deadline = started + self.config.operation_timeout;
        let count = drafts.len();
        let writer = self.writer(chain);
        let (reply, answer) = oneshot::channel();
        let id = JOB_IDS.fetch_add(1, Ordering::Relaxed);
        lock(&writer.queue).push(Job {
            id,
            deadline,
            drafts,
            done: Vec::new(),
            reply,
        });
        // The commit runs in its own task: a caller that gives up (a
        // timeout, a dropped future) cannot cancel the writes of the others
        // committed with it.
        let log = self.clone();
        let chain_id = chain.clone();
        let committing = writer.clone();
        tokio::spawn(async move { log.drain(&chain_id, &committing).await });
        let grace = deadline + UNKNOWN_OUTCOME_GRACE;
        let result = match tokio::time::timeout_at(grace.into(), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Malformed {
                chain: Some(chain.to_string()),
                seq: None,
                reason: "the group commit ended without an answer".into(),
            }),
            Err(_) => {
                // Still queued: take it back, nothing was written. Taken by
                // a commit that has not answered: it may be written.
                let mut queue = lock(&writer.queue);
                let before = queue.len();
                queue.retain(|job| job.id != id);
                let outcome = if queue.len() < before {
                    Outcome::NotWritten
                } else {
                    Outcome::Unknown
                };
                Err(Error::Timeout {
                    chain: chain.to_string(),
                    operation: "append",
                    waited_ms: started.elapsed().as_millis() as u64,
                    outcome,
                })
            }
        };
        if let Ok(events) = &result {
            tracing::debug!(
                chain = %chain,
                events = count,
                first_seq = events.first().map(|e| e.seq),
                micros = started.elapsed().as_micros() as u64,
                "appended"
            );
        }
        result
    }

    /// Commits what is queued for `chain` until the queue stays empty, then
    /// ends this process's turn.
    async fn drain(&self, chain: &ChainId, writer: &Writer) {
        let mut state = writer.state.lock().await;
        loop {
            let jobs = std::mem::take(&mut *lock(&writer.queue));
            if jobs.is_empty() {
                return;
            }
            self.commit(chain, &mut state, jobs).await;
            let mut more = !lock(&writer.queue).is_empty();
            if !more && state.turn.held {
                // Callers answered a moment ago usually append again at
                // once: give them that moment before handing the turn on.
                for _ in 0..LINGER_YIELDS {
                    tokio::task::yield_now().await;
                    if !lock(&writer.queue).is_empty() {
                        more = true;
                        break;
                    }
                }
                if !more {
                    // A turn handed on costs the next holder a round trip
                    // or two: a short wait is cheaper when work is near.
                    tokio::time::sleep(LINGER).await;
                    more = !lock(&writer.queue).is_empty();
                }
            }
            if self.config.turns {
                let deadline = Instant::now() + self.config.operation_timeout;
                let ChainState { turn, head_doc, .. } = &mut *state;
                if let Err(e) = self
                    .turns
                    .after_commit(chain, turn, &self.config, head_doc.as_ref(), more, deadline)
                    .await
                {
                    // The turn document is a hint: a failure to update it
                    // costs others a wait, never correctness.
                    tracing::warn!(chain = %chain, error = %e, "could not end the turn");
                    state.turn.held = false;
                }
            }
            if !more {
                return;
            }
        }
    }

    async fn commit(&self, chain: &ChainId, state: &mut ChainState, mut jobs: Vec<Job>) {
        let mut attempts = 0u32;
        // Event ids found stored (authentic, at majority read concern)
        // during this commit: their drafts are answered with the stored
        // events, not sealed again.
        let mut known: HashMap<String, SealedEvent> = HashMap::new();
        while !jobs.is_empty() {
            if !known.is_empty() {
                let chainer = self.chainer();
                let mut waiting = Vec::with_capacity(jobs.len());
                for mut job in jobs {
                    match job.take_known(&chainer, &known) {
                        Ok(()) if job.drafts.is_empty() => job.finish(Ok(())),
                        Ok(()) => waiting.push(job),
                        Err(e) => job.finish(Err(e)),
                    }
                }
                jobs = waiting;
                if jobs.is_empty() {
                    return;
                }
            }
            // A job past its deadline is answered, unwritten.
            let now = Instant::now();
            let (expired, live): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|j| j.deadline <= now);
            for job in expired {
                job.finish(Err(Error::Timeout {
                    chain: chain.to_string(),
                    operation: "append",
                    waited_ms: self.config.operation_timeout.as_millis() as u64,
                    outcome: Outcome::NotWritten,
                }));
            }
            jobs = live;
            let Some(deadline) = jobs.iter().map(|j| j.deadline).min() else {
                return;
            };
            attempts += 1;
            if self.config.turns && !state.turn.held {
                let before = state.turn.takeovers;
                let acquired = self
                    .turns
                    .acquire(chain, &mut state.turn, &self.config, deadline)
                    .await;
                self.stats
                    .takeovers
                    .fetch_add(state.turn.takeovers - before, Ordering::Relaxed);
                match acquired {
                    Ok(document) => {
                        let chainer = self.chainer();
                        if let Some(hint) = authentic_hint(&document, chain, chainer.secrets()) {
                            let fresh = state.occupied.is_none_or(|taken| hint.seq >= taken);
                            match &state.head {
                                // Newer than where this process wrote: the
                                // chain went on there (a replayed older
                                // event could point into a purged range).
                                Some(h) if fresh && hint.seq >= h.next_seq => {
                                    state.head = Some(Head::after(&hint));
                                    state.probe_from = Some(hint.seq);
                                }
                                // Nothing known: only a place to probe from.
                                None if fresh => state.probe_from = Some(hint.seq),
                                _ => {}
                            }
                        }
                    }
                    Err(e) => {
                        self.turns.forget_ask(chain, &mut state.turn);
                        return fail_all(jobs, &unavailable(chain, e, Outcome::NotWritten));
                    }
                }
            }
            let start = match state.head.clone() {
                Some(h) => h,
                None => {
                    // Probe from the position found taken (or the last one
                    // known). A record there that is not at its derived `_id`
                    // (written by an older version) is invisible to probes:
                    // then the highest sequence number is asked for.
                    let from = state.occupied.or(state.probe_from);
                    match self.locate_head(chain, from, deadline).await {
                        Ok(h) => {
                            state.occupied = None;
                            h
                        }
                        Err(e) => {
                            return fail_all(jobs, &unavailable(chain, e, Outcome::NotWritten))
                        }
                    }
                }
            };
            let chainer = self.chainer();
            let mut plan = match self.plan(chain, &chainer, &start, state).await {
                Ok(plan) => plan,
                Err(e) => return fail_all(jobs, &unavailable(chain, e, Outcome::NotWritten)),
            };
            let mut working = start;
            let mut sealed: Vec<(usize, SealedEvent)> = Vec::new();
            let mut kept = Vec::with_capacity(jobs.len());
            let mut stopped = false;
            for job in jobs {
                // A job's events are contiguous: once one stops at a draft
                // stored already, the jobs after it wait for the next round.
                let take = job.sealable(&known);
                if stopped || take == 0 {
                    stopped = true;
                    kept.push(job);
                    continue;
                }
                stopped = take < job.drafts.len();
                match chainer.seal_planned(&mut working, &job.drafts[..take], &plan) {
                    Ok(Sealed { rotation, events }) => {
                        if let Some(record) = rotation {
                            sealed.push((ROTATION_JOB, record));
                            plan = SealPlan::With(chainer.secrets().current().id());
                        }
                        let index = kept.len();
                        sealed.extend(events.into_iter().map(|e| (index, e)));
                        kept.push(job);
                    }
                    Err(e) => job.finish(Err(e.into())),
                }
            }
            jobs = kept;
            if sealed.is_empty() {
                // Refused drafts only, or every job waits on a stored id
                // (answered at the top of the next round).
                if jobs.is_empty() || known.is_empty() {
                    jobs.into_iter().for_each(|j| {
                        j.finish(Err(Error::Malformed {
                            chain: Some(chain.to_string()),
                            seq: None,
                            reason: "nothing could be sealed".into(),
                        }))
                    });
                    return;
                }
                continue;
            }
            let docs: Vec<Document> = sealed.iter().map(|(_, e)| event_to_document(e)).collect();
            let last_doc = docs.last().cloned();
            let left = deadline.saturating_duration_since(Instant::now());
            // The waiters are a hint that may be read a few milliseconds
            // early; the head is still written only after the insert is
            // answered.
            if self.config.turns {
                self.turns
                    .prefetch_waiters(chain, &mut state.turn, &self.config);
            }
            let sent = Instant::now();
            let (inserted, error) = match tokio::time::timeout(left, self.insert(docs)).await {
                Ok(Ok(())) => (sealed.len(), None),
                Ok(Err((n, e))) => (n, Some(Some(e))),
                // No answer in time: the write may still land.
                Err(_) => (0, Some(None)),
            };
            state.turn.last_insert = sent.elapsed();
            let mut conflict = matches!(&error, Some(Some(e)) if duplicate_key_index(e).is_some());
            // The event id of a draft already stored (an earlier attempt, a
            // retry on another pod): its job gets the stored event; or the
            // job whose id cannot be resolved, with why.
            let mut stored_id: Option<usize> = None;
            let mut id_failure: Option<(usize, Error)> = None;
            if conflict {
                let seq = sealed.get(inserted).map(|(_, e)| e.seq);
                // A lost race only if the position is really taken: a
                // duplicate on an index an operator added (servers that do
                // not name the index, FerretDB) is an error, not a retry.
                conflict = match seq {
                    Some(seq) => self
                        .position_taken(chain, seq, deadline)
                        .await
                        .unwrap_or(true),
                    None => false,
                };
                if conflict {
                    state.occupied = seq;
                } else if let Some((job, id)) = sealed
                    .get(inserted)
                    .and_then(|(job, e)| Some((*job, e.event_id.clone()?)))
                {
                    // One lookup for every id still to write (a retried
                    // batch whose ids are all stored resolves at once).
                    let ids: Vec<&str> = jobs
                        .iter()
                        .flat_map(|j| j.drafts.iter())
                        .filter_map(|d| d.event_id.as_deref())
                        .collect();
                    match self.stored_with_ids(chain, &ids, deadline).await {
                        Ok(found) if found.contains_key(&id) => {
                            known.extend(found);
                            stored_id = Some(job);
                        }
                        // The key collides but no authentic event holds it
                        // at majority: not written by us as far as we can
                        // tell, and not ours to link to.
                        Ok(_) => {
                            id_failure = Some((
                                job,
                                Error::EventIdTaken {
                                    chain: chain.to_string(),
                                    event_id: id.clone(),
                                    seq: None,
                                    reason: "its key is taken, but no authentic event with that id is visible at majority read concern (a write not yet durable, or a forged key); retry later, or verify the chain".into(),
                                },
                            ));
                        }
                        Err(e) => id_failure = Some((job, e)),
                    }
                }
            }
            let failure = match error {
                Some(Some(e)) if !conflict && stored_id.is_none() && id_failure.is_none() => {
                    Some(Some(e))
                }
                Some(None) => Some(None),
                _ => None,
            };
            let (inserted, failure) = match failure {
                // Unknown outcome (connection lost, server restarting, write
                // concern not satisfied, no answer): ask the database, at
                // majority read concern, which of ours are durably written,
                // within a bounded grace.
                Some(cause) => {
                    let known = cause.as_ref().is_some_and(server_refused);
                    let outcome = if known {
                        Outcome::NotWritten
                    } else {
                        Outcome::Unknown
                    };
                    let grace = Instant::now().max(deadline) + CHECK_GRACE;
                    let more = if known {
                        Ok(0)
                    } else {
                        self.count_written(chain, &sealed[inserted..], grace).await
                    };
                    match more {
                        Ok(more) => (inserted + more, Some((cause, outcome))),
                        Err(e) => {
                            tracing::warn!(chain = %chain, error = %e, "could not tell which events were written");
                            (inserted, Some((cause, outcome)))
                        }
                    }
                }
                None => (inserted, None),
            };
            let last_written = inserted.checked_sub(1).map(|i| Head::after(&sealed[i].1));
            if inserted == sealed.len() {
                state.head_doc = last_doc;
            }
            // Hand the written events to their jobs; drop their drafts.
            let mut written = vec![0usize; jobs.len()];
            for (index, event) in sealed.into_iter().take(inserted) {
                match (written.get_mut(index), jobs.get_mut(index)) {
                    (Some(n), Some(job)) => {
                        *n += 1;
                        job.done.push(event);
                    }
                    // The rotation record this commit wrote first.
                    _ => state.rotation = Some(RotationRecord::parse(&event).and_then(|r| r.ok())),
                }
            }
            for (job, n) in jobs.iter_mut().zip(written) {
                job.drafts.drain(..n);
            }
            let retry_ids = stored_id.is_some() || id_failure.is_some();
            if let Some((index, e)) = id_failure {
                if index < jobs.len() {
                    jobs.remove(index).finish(Err(e));
                }
            }
            let (finished, waiting): (Vec<Job>, Vec<Job>) =
                jobs.into_iter().partition(|j| j.drafts.is_empty());
            finished.into_iter().for_each(|j| j.finish(Ok(())));
            jobs = waiting;
            if let Some(h) = &last_written {
                state.probe_from = Some(h.next_seq - 1);
            }
            if jobs.is_empty() {
                state.head = last_written;
                return;
            }
            state.head = None;
            if let Some((cause, outcome)) = failure {
                // Not a lost race: retrying would not help (or the server
                // is away). What was written is acknowledged above; the rest
                // fails, and the callers learn whether it may be stored.
                let error = match cause {
                    Some(e) => unavailable(chain, Error::Database(e), outcome),
                    None => Error::Timeout {
                        chain: chain.to_string(),
                        operation: "append",
                        waited_ms: self.config.operation_timeout.as_millis() as u64,
                        outcome,
                    },
                };
                return fail_all(jobs, &error);
            }
            if retry_ids {
                // Not a race: what follows the stored id is sealed again.
                continue;
            }
            // Someone else wrote at our position (a turn granted twice, a
            // holder presumed gone, a process not taking turns): find the
            // head again and retry.
            self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
            state.turn.held = false;
            if attempts >= self.config.max_attempts {
                let e = Error::Contention {
                    chain: chain.to_string(),
                    attempts,
                };
                return fail_all(jobs, &e);
            }
            if !self.config.turns {
                let backoff = rand::rng().random_range(0..=(1u64 << attempts.min(4)));
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
        }
    }

    /// Which secret seals the next events (see [`Chainer::plan`]): the
    /// current one, unless the head was sealed by another, when the chain's
    /// last rotation record decides (looked up once, then cached while the
    /// head is sealed by its `to`).
    async fn plan(
        &self,
        chain: &ChainId,
        chainer: &Chainer,
        head: &Head,
        state: &mut ChainState,
    ) -> Result<SealPlan> {
        let current = chainer.secrets().current().id();
        let Some(sealed_by) = head.sealed_by.filter(|id| *id != current) else {
            return Ok(SealPlan::With(current));
        };
        let cached = match &state.rotation {
            Some(Some(r)) if r.to == sealed_by => Some(r.clone()),
            _ => None,
        };
        let record = match cached {
            Some(r) => Some(r),
            None => {
                let found = self.last_rotation(chain, chainer).await?;
                state.rotation = Some(found.clone());
                found
            }
        };
        Ok(chainer.plan(head, record.as_ref())?)
    }

    /// The newest authentic rotation record of `chain` (forged ones are
    /// skipped; a planner misled by more than a few would write a record
    /// the verifier reports, never a silent one).
    pub async fn last_rotation(
        &self,
        chain: &ChainId,
        chainer: &Chainer,
    ) -> Result<Option<RotationRecord>> {
        let mut cursor = self
            .events
            .find(doc! {"chain": chain.as_str(), "code": ROTATION_CODE, "module": SYSTEM_MODULE})
            .sort(doc! {"seq": -1})
            .limit(32)
            .await?;
        while let Some(d) = cursor.try_next().await? {
            let Ok(event) = event_from_document(&d) else {
                continue;
            };
            // A forged record (one rotating down, say) is skipped: the one
            // before it counts.
            if let Some(record) = RotationRecord::authentic(&event, chainer.secrets()) {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Finds the head of `chain` without trusting what it finds: from
    /// `from` (a position known to hold an authentic event) it probes
    /// forward by `_id` (O(1) lookups); without one, it asks for the
    /// highest sequence number (a scan on servers without a planner). The
    /// record found must pass its seal, or nothing is linked to it.
    async fn locate_head(
        &self,
        chain: &ChainId,
        from: Option<u64>,
        deadline: Instant,
    ) -> Result<Head> {
        let found = match from {
            Some(known) => {
                bounded(deadline, chain, "finding the chain's head", async {
                    self.probe_head(chain, known).await
                })
                .await?
            }
            None => None,
        };
        let (position, document) = match found {
            Some((at, d)) => (Some(at), Some(d)),
            None => {
                self.stats.head_scans.fetch_add(1, Ordering::Relaxed);
                let scanned = bounded(deadline, chain, "finding the chain's head", async {
                    Ok(self
                        .events
                        .find_one(doc! {"chain": chain.as_str()})
                        .sort(doc! {"seq": -1})
                        .await?)
                })
                .await?;
                (None, scanned)
            }
        };
        let Some(document) = document else {
            return Ok(Head::genesis(chain.clone()));
        };
        let claimed = document
            .get_i64("seq")
            .ok()
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0);
        match event_from_document(&document) {
            // Found at its derived `_id` by a probe, it must be the event of
            // that position (an authentic event copied elsewhere is not).
            Ok(event) if position.is_some_and(|at| at != event.seq || &event.chain != chain) => {
                let at = position.unwrap_or(claimed);
                Err(Error::HeadRejected {
                    chain: chain.to_string(),
                    seq: at,
                    reason: format!(
                        "the record stored as {chain}#{at} is event {}#{}",
                        event.chain, event.seq
                    ),
                })
            }
            Ok(event) if &event.chain == chain && event.seal_is_valid(self.chainer().secrets()) => {
                Ok(Head::after(&event))
            }
            Ok(event) => Err(Error::HeadRejected {
                chain: chain.to_string(),
                seq: event.seq,
                reason: match self.chainer().secrets().get(event.secret_id) {
                    Some(_) => "its seal does not verify under any known seal secret".into(),
                    None => format!(
                        "it names seal secret {}, which this pod does not know: if another pod seals with a new secret, roll it out here first (EVENT_SEAL_SECRET_RETIRED); if not, the record is forged",
                        event.secret_id
                    ),
                },
            }),
            Err(m) => Err(Error::HeadRejected {
                chain: chain.to_string(),
                seq: m.seq.unwrap_or(claimed),
                reason: format!("malformed: {}", m.reason),
            }),
        }
    }

    /// Whether a record is stored at `chain#seq` (by `_id`, else by chain
    /// and seq for records written by an older version).
    async fn position_taken(&self, chain: &ChainId, seq: u64, deadline: Instant) -> Result<bool> {
        bounded(deadline, chain, "checking a taken position", async {
            if self
                .events
                .find_one(doc! {"_id": event_doc_id(chain, seq)})
                .projection(doc! {"_id": 1})
                .await?
                .is_some()
            {
                return Ok(true);
            }
            Ok(self
                .events
                .find_one(doc! {"chain": chain.as_str(), "seq": seq_to_bson(seq)})
                .projection(doc! {"_id": 1})
                .await?
                .is_some())
        })
        .await
    }

    /// The authentic events of `chain` stored with these event ids, by
    /// id, read at majority read concern (a write not yet durable is not
    /// taken as stored). A record the `event_key` index finds is taken only
    /// if its seal is valid and it carries that id in that chain (the key
    /// is derived, not sealed); one that does not is an error naming it.
    async fn stored_with_ids(
        &self,
        chain: &ChainId,
        ids: &[&str],
        deadline: Instant,
    ) -> Result<HashMap<String, SealedEvent>> {
        let keys: Vec<String> = ids.iter().map(|id| event_key(chain, id)).collect();
        let found: Vec<Document> = bounded(deadline, chain, "looking up event ids", async {
            Ok(self
                .events_majority
                .find(doc! {"eventKey": {"$in": keys}})
                .await?
                .try_collect()
                .await?)
        })
        .await?;
        let chainer = self.chainer();
        let mut out = HashMap::new();
        for document in found {
            let event = event_from_document(&document)?;
            let id = event.event_id.clone().unwrap_or_default();
            if event.chain != *chain
                || event.event_id.is_none()
                || !event.seal_is_valid(chainer.secrets())
            {
                return Err(Error::EventIdTaken {
                    chain: chain.to_string(),
                    event_id: id,
                    seq: Some(event.seq),
                    reason: "the record holding it is not an authentic event of this chain; verify the chain".into(),
                });
            }
            out.insert(id, event);
        }
        Ok(out)
    }

    /// The document of the last event in an unbroken run of `_id`s from
    /// `known`, or `None` when `known` itself is not there.
    async fn probe_head(&self, chain: &ChainId, known: u64) -> Result<Option<(u64, Document)>> {
        let at = |seq: u64| {
            let events = self.events.clone();
            let id = event_doc_id(chain, seq);
            async move { events.find_one(doc! {"_id": id}).await }
        };
        let Some(first) = at(known).await? else {
            return Ok(None);
        };
        let mut last = (known, first);
        // Gallop forward, then bisect between the last present and the
        // first missing position.
        let (mut low, mut step) = (known, 1u64);
        let high = loop {
            let Some(next) = low.checked_add(step) else {
                break u64::MAX;
            };
            match at(next).await? {
                Some(d) => {
                    last = (next, d);
                    low = next;
                    step = step.saturating_mul(2);
                }
                None => break next,
            }
        };
        let mut high = high;
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            match at(middle).await? {
                Some(d) => {
                    last = (middle, d);
                    low = middle;
                }
                None => high = middle,
            }
        }
        Ok(Some(last))
    }

    /// Inserts in order, in chunks; on error, how many were inserted.
    async fn insert(
        &self,
        docs: Vec<Document>,
    ) -> std::result::Result<(), (usize, mongodb::error::Error)> {
        let mut written = 0;
        for chunk in docs.chunks(self.config.max_batch.max(1)) {
            let mut action = self.events.insert_many(chunk).ordered(true);
            if let Some(wc) = &self.config.write_concern {
                action = action.write_concern(wc.clone());
            }
            if let Err(e) = action.await {
                return Err((written + duplicate_key_index(&e).unwrap_or(0), e));
            }
            written += chunk.len();
        }
        Ok(())
    }

    /// How many of `ours` (contiguous, in order: an ordered insert writes a
    /// prefix) are stored with our seals, read at majority read concern by
    /// `_id` (a bisection of O(1) lookups), within `grace`.
    async fn count_written(
        &self,
        chain: &ChainId,
        ours: &[(usize, SealedEvent)],
        grace: Instant,
    ) -> Result<usize> {
        let mine = |i: usize| {
            let events = self.events_majority.clone();
            let event = &ours[i].1;
            let id = event_doc_id(chain, event.seq);
            let seal = event.seal;
            async move {
                let found = events
                    .find_one(doc! {"_id": id})
                    .projection(doc! {"seal": 1})
                    .await?;
                Ok::<bool, Error>(found.is_some_and(|d| {
                    matches!(d.get("seal"), Some(Bson::Binary(b)) if Seal::from_slice(&b.bytes) == Some(seal))
                }))
            }
        };
        let bisect = async {
            // Invariant: ours[..low] are written, ours[high..] are not.
            let (mut low, mut high) = (0usize, ours.len());
            while low < high {
                let middle = low + (high - low) / 2;
                if mine(middle).await? {
                    low = middle + 1;
                } else {
                    high = middle;
                }
            }
            Ok::<usize, Error>(low)
        };
        bounded(grace, chain, "checking which events were written", bisect).await
    }

    /// The head of `chain` as stored (genesis if empty).
    pub async fn load_head(&self, chain: &ChainId) -> Result<Head> {
        Ok(match self.head(chain).await? {
            Some(last) => Head::after(&last),
            None => Head::genesis(chain.clone()),
        })
    }

    /// The newest event of `chain`.
    pub async fn head(&self, chain: &ChainId) -> Result<Option<SealedEvent>> {
        let found = self
            .events
            .find_one(doc! {"chain": chain.as_str()})
            .sort(doc! {"seq": -1})
            .await?;
        Ok(match found {
            Some(d) => Some(event_from_document(&d)?),
            None => None,
        })
    }

    /// The event `seq` of `chain`.
    pub async fn get(&self, chain: &ChainId, seq: u64) -> Result<Option<SealedEvent>> {
        // By `_id` first (O(1) everywhere); a record that is not at its
        // derived `_id` (written by an older version) by chain and seq.
        let by_id = self
            .events
            .find_one(doc! {"_id": event_doc_id(chain, seq)})
            .await?
            .filter(|d| {
                d.get_str("chain").ok() == Some(chain.as_str())
                    && d.get_i64("seq").ok() == i64::try_from(seq).ok()
            });
        let found = match by_id {
            Some(d) => Some(d),
            None => {
                self.events
                    .find_one(doc! {"chain": chain.as_str(), "seq": seq_to_bson(seq)})
                    .await?
            }
        };
        Ok(match found {
            Some(d) => Some(event_from_document(&d)?),
            None => None,
        })
    }

    /// Events `from..=to` of `chain`, in order, as a stream read through
    /// one cursor (constant memory).
    pub fn range(
        &self,
        chain: &ChainId,
        from: u64,
        to: u64,
    ) -> BoxStream<'static, Result<SealedEvent>> {
        let events = self.events.clone();
        let filter = doc! {"chain": chain.as_str(), "seq": {"$gte": seq_to_bson(from), "$lte": seq_to_bson(to)}};
        futures_util::stream::once(async move { events.find(filter).sort(doc! {"seq": 1}).await })
            .map_err(Error::from)
            .map_ok(|cursor| cursor.map(|d| Ok(event_from_document(&d.map_err(Error::from)?)?)))
            .try_flatten()
            .boxed()
    }

    /// Feeds every stored event (of `chain`, or all) into `verifier`, in
    /// (chain, seq) order through a cursor: constant memory.
    pub async fn verify_into(
        &self,
        chain: Option<&ChainId>,
        range: Option<(u64, u64)>,
        verifier: &mut Verifier,
    ) -> Result<()> {
        let mut filter = Document::new();
        if let Some(chain) = chain {
            filter.insert("chain", chain.as_str());
        }
        if let Some((from, to)) = range {
            filter.insert(
                "seq",
                doc! {"$gte": seq_to_bson(from), "$lte": seq_to_bson(to)},
            );
        }
        let mut cursor = self
            .events
            .clone_with_type::<RawDocumentBuf>()
            .find(filter)
            .sort(doc! {"chain": 1, "seq": 1})
            .projection(verify_projection())
            .await?;
        // Records in batches: their seals are checked on all cores
        // (`Verifier::push_batch`), a batch blocking the task for about a
        // millisecond.
        let mut batch = Vec::with_capacity(VERIFY_BATCH);
        while cursor.advance().await? {
            batch.push(match event_from_raw(cursor.current()) {
                Ok(event) => Record::Event(event),
                Err(Malformed { chain, seq, reason }) => Record::Malformed {
                    chain,
                    seq,
                    why: reason,
                },
            });
            if batch.len() >= VERIFY_BATCH {
                verifier.push_batch(&batch);
                batch.clear();
            }
        }
        verifier.push_batch(&batch);
        Ok(())
    }

    /// Verifies every stored chain (or one).
    pub async fn verify(&self, chain: Option<&ChainId>) -> Result<VerifyReport> {
        self.verify_with(chain, false).await
    }

    /// Verifies every stored chain (or one) and, with the keyset, that every
    /// wrapped data key unwraps and opens its payload
    /// ([`FindingKind::Undecryptable`](stream_chain::FindingKind) at the
    /// event's position otherwise).
    pub async fn verify_deep(&self, chain: Option<&ChainId>) -> Result<VerifyReport> {
        self.verify_with(chain, true).await
    }

    /// A verifier for this log: its secrets, the time, and the shred
    /// records stored (learned first, so that a restored key is found).
    pub async fn verifier(&self, chain: Option<&ChainId>, deep: bool) -> Result<Verifier> {
        let chainer = self.chainer();
        let mut verifier = Verifier::new(chainer.secrets().clone()).with_now_ms(wall_clock_ms());
        if deep {
            if chainer.envelope().is_none() {
                return Err(stream_chain::Error::NoKeyset("(deep verification)".into()).into());
            }
            verifier = verifier.with_keyset(chainer);
        }
        self.learn_shreds(chain, &mut verifier).await?;
        Ok(verifier)
    }

    async fn verify_with(&self, chain: Option<&ChainId>, deep: bool) -> Result<VerifyReport> {
        let started = Instant::now();
        let mut verifier = self.verifier(chain, deep).await?;
        self.verify_into(chain, None, &mut verifier).await?;
        self.push_quarantined(chain, &mut verifier).await?;
        let report = verifier.finish();
        tracing::info!(
            records = report.records,
            findings = report.total_findings,
            millis = started.elapsed().as_millis() as u64,
            "verified"
        );
        Ok(report)
    }

    /// Moves the record at `chain#seq` aside into the quarantine collection
    /// ([`LogConfig::quarantine`]), after checking that it is not an
    /// authentic event: the way out of [`Error::HeadRejected`]. Appends then
    /// continue from the last authentic event, and [`EventLog::verify`]
    /// keeps reporting the quarantined record at its position. An
    /// authentic event is refused ([`Error::NotQuarantinable`]): retention
    /// and erasure have their own, sealed, ways.
    pub async fn quarantine(&self, chain: &ChainId, seq: u64, reason: &str) -> Result<()> {
        let at = event_doc_id(chain, seq);
        let mut found = self
            .events
            .find(doc! {"chain": chain.as_str(), "seq": seq_to_bson(seq)})
            .await?
            .try_collect::<Vec<Document>>()
            .await?;
        // Also what sits at the position's `_id`, whatever it claims.
        if let Some(d) = self.events.find_one(doc! {"_id": &at}).await? {
            if !found.iter().any(|f| f.get("_id") == d.get("_id")) {
                found.push(d);
            }
        }
        // Only the newest position: a hole moved aside in the middle could
        // be filled by a new event and break the chain after it.
        let later = self
            .events
            .find_one(doc! {"chain": chain.as_str(), "seq": {"$gt": seq_to_bson(seq)}})
            .projection(doc! {"_id": 1})
            .await?;
        if later.is_some() && !found.is_empty() {
            return Err(Error::NotQuarantinable {
                chain: chain.to_string(),
                seq,
                reason:
                    "records with higher sequence numbers are stored: quarantine the newest first"
                        .into(),
            });
        }
        if found.is_empty() {
            return Err(Error::NotQuarantinable {
                chain: chain.to_string(),
                seq,
                reason: "no record is stored at this position".into(),
            });
        }
        let secrets = self.chainer().secrets().clone();
        for record in &found {
            // Authentic in place: its seal verifies and it is not stored
            // at another position's `_id`.
            let in_place = |event: &SealedEvent| match record.get("_id") {
                Some(Bson::String(id)) => *id == event_doc_id(&event.chain, event.seq),
                _ => true,
            };
            let why = match event_from_document(record) {
                Ok(event) if event.seal_is_valid(&secrets) && in_place(&event) => {
                    return Err(Error::NotQuarantinable {
                        chain: chain.to_string(),
                        seq,
                        reason: "it is an authentic event (its seal verifies)".into(),
                    })
                }
                Ok(event) if event.seal_is_valid(&secrets) => {
                    format!(
                        "an authentic event ({}#{}) copied to another position",
                        event.chain, event.seq
                    )
                }
                Ok(_) => "its seal does not verify".to_owned(),
                Err(m) => format!("malformed: {}", m.reason),
            };
            let id = record.get("_id").cloned().unwrap_or(Bson::Null);
            let entry = doc! {
                "chain": chain.as_str(),
                "seq": seq_to_bson(seq),
                "finding": &why,
                "reason": reason,
                "quarantinedAt": DateTime::now(),
                "record": record.clone(),
            };
            self.quarantined.insert_one(entry).await?;
            self.events.delete_one(doc! {"_id": id}).await?;
            tracing::warn!(chain = %chain, seq, finding = %why, "quarantined a record");
        }
        self.turns.clear_hint(chain).await?;
        let writer = self.writer(chain);
        let mut state = writer.state.lock().await;
        state.head = None;
        state.probe_from = None;
        Ok(())
    }

    /// Feeds the quarantined records (of `chain`, or all) into `verifier`
    /// as findings at their positions: moving a record aside does not hide
    /// it from an audit.
    async fn push_quarantined(
        &self,
        chain: Option<&ChainId>,
        verifier: &mut Verifier,
    ) -> Result<()> {
        let filter = chain.map_or_else(Document::new, |c| doc! {"chain": c.as_str()});
        let mut cursor = self.quarantined.find(filter).await?;
        while let Some(d) = cursor.try_next().await? {
            let chain = d.get_str("chain").ok().and_then(|c| ChainId::new(c).ok());
            let seq = d.get_i64("seq").ok().and_then(|s| u64::try_from(s).ok());
            let finding = d.get_str("finding").unwrap_or("unknown");
            verifier.push_malformed(chain, seq, format!("quarantined record ({finding})"));
        }
        Ok(())
    }

    /// One page of the events matching `query`, after `cursor` (from the
    /// start without one), in the query's order.
    ///
    /// # Errors
    /// [`Error::Query`] for a page size out of range, an empty time range
    /// or a cursor of another query.
    pub async fn search_page(
        &self,
        query: &SearchQuery,
        cursor: Option<&SearchCursor>,
    ) -> Result<SearchPage> {
        query.check()?;
        let filter = query.filter_after(cursor)?;
        let mut found = self
            .events
            .find(filter)
            .sort(query.sort())
            .limit(i64::from(query.page_size) + 1)
            .await?;
        let mut events = Vec::new();
        while let Some(d) = found.try_next().await? {
            events.push(event_from_document(&d)?);
        }
        Ok(SearchPage::of(query, events))
    }

    /// How many events match `query` in all (one count over the index; ask
    /// for it once, not per page).
    pub async fn count(&self, query: &SearchQuery) -> Result<u64> {
        query.check()?;
        Ok(self.events.count_documents(query.filter()).await?)
    }

    /// Verifies `from..=to` of `chain`, stores the sealed report and
    /// returns it. The link into `from` is taken from the stored event
    /// `from - 1`, when there is one.
    pub async fn report_range(
        &self,
        chain: &ChainId,
        from: u64,
        to: u64,
        now_ms: i64,
    ) -> Result<IntegrityReport> {
        let chainer = self.chainer();
        let head_secret = self.head(chain).await?.map(|h| h.secret_id);
        let secret = chainer.secret_for(head_secret);
        // The shred records of the whole chain: one after `to` covers an
        // erasure inside the range.
        let mut verifier = self.verifier(Some(chain), false).await?;
        if from > 1 {
            if let Some(before) = self.get(chain, from - 1).await? {
                // A synthetic trusted start: the range is verified from here.
                verifier.trust_checkpoint(Checkpoint::new(
                    chain.clone(),
                    before.seq,
                    before.seal,
                    before.timestamp_ms,
                    0,
                    secret,
                ))?;
            }
        }
        self.verify_into(Some(chain), Some((from, to)), &mut verifier)
            .await?;
        let verification = verifier.finish();
        let report = IntegrityReport::from_verification(
            chain.clone(),
            from,
            to,
            &verification,
            now_ms,
            secret,
        );
        self.reports.insert_one(report_to_document(&report)).await?;
        tracing::info!(chain = %chain, from, to, status = %report.status, "integrity report");
        Ok(report)
    }

    /// Verifies everything since the last report of `chain` (from its
    /// start if none) up to the current head, and stores the report.
    pub async fn report_since_last(
        &self,
        chain: &ChainId,
        now_ms: i64,
    ) -> Result<Option<IntegrityReport>> {
        // Only an authentic report may set where the next one starts: a
        // forged one must not make the next reports skip events.
        let last = self
            .reports_of(chain, 100)
            .await?
            .into_iter()
            .find(|(_, status)| *status != ReportStatus::ReportIntegrityFailure)
            .map(|(r, _)| r.to_seq);
        let from = last.map_or(1, |to| to.saturating_add(1));
        let head = self.head(chain).await?.map_or(0, |h| h.seq);
        if head < from {
            return match last {
                // The events up to the last report's end are gone (tail
                // deleted): report it, over the position that vanished.
                Some(to) if head < to => self.report_range(chain, to, to, now_ms).await.map(Some),
                _ => Ok(None),
            };
        }
        let first = self.first_seq(chain).await?.unwrap_or(1).max(from);
        self.report_range(chain, first, head, now_ms)
            .await
            .map(Some)
    }

    /// The newest `limit` reports of `chain`, each with the status to show:
    /// its own, or `reportIntegrityFailure` if it was tampered with.
    pub async fn reports_of(
        &self,
        chain: &ChainId,
        limit: i64,
    ) -> Result<Vec<(IntegrityReport, ReportStatus)>> {
        self.reports(chain, Some(limit)).await?.try_collect().await
    }

    /// The reports of `chain`, newest first (at most `limit`), each with
    /// the status to show, as a stream read through one cursor.
    pub async fn reports(
        &self,
        chain: &ChainId,
        limit: Option<i64>,
    ) -> Result<BoxStream<'static, Result<(IntegrityReport, ReportStatus)>>> {
        let chainer = self.chainer();
        let secrets = chainer.secrets().clone();
        let superseded = superseded_positions(&self.rotations(chain, &chainer).await?);
        let collection = self.config.reports.clone();
        let cursor = self
            .reports
            .find(doc! {"chain": chain.as_str()})
            .sort(doc! {"toSeq": -1, "created": -1})
            .limit(limit.unwrap_or(0))
            .await?;
        Ok(cursor
            .map(move |d| {
                let d = d?;
                let report = report_from_document(&d).map_err(|reason| Error::Document {
                    collection: collection.clone(),
                    id: d.get("_id").map(ToString::to_string).unwrap_or_default(),
                    reason,
                })?;
                let mut status = report.checked_status(&secrets);
                // Sealed by a secret superseded at or before the end of
                // its range: no pod made it.
                if superseded
                    .iter()
                    .any(|(id, at)| *id == report.secret_id && report.to_seq >= *at)
                {
                    status = ReportStatus::ReportIntegrityFailure;
                }
                Ok((report, status))
            })
            .boxed())
    }

    async fn first_seq(&self, chain: &ChainId) -> Result<Option<u64>> {
        let found = self
            .events
            .find_one(doc! {"chain": chain.as_str()})
            .sort(doc! {"seq": 1})
            .projection(doc! {"seq": 1})
            .await?;
        Ok(found
            .and_then(|d| d.get("seq").and_then(|s| s.as_i64()))
            .and_then(|s| u64::try_from(s).ok()))
    }

    /// The chains stored.
    pub async fn chains(&self) -> Result<Vec<ChainId>> {
        let values = self.events.distinct("chain", doc! {}).await?;
        Ok(values
            .iter()
            .filter_map(|v| v.as_str().and_then(|c| ChainId::new(c).ok()))
            .collect())
    }

    /// Purges the expired events of `chain`: every event whose sealed
    /// `removeAt` is at or before `now_ms`, wherever it stands. The expired
    /// prefix is deleted and the first event kept carries a sealed anchor
    /// (as in format 1); an expired event after it is replaced by its stub
    /// (format 2: position, link, content digest, seal and a sealed purge
    /// mark). Kept: the newest event (the head appends link to), the
    /// store's own records (shred and rotation records) and format 1 events
    /// after the prefix (their seal covers the content).
    ///
    /// The whole chain is verified on the way (seals, links, a legitimate
    /// start, the marks of earlier stubs): any doubt refuses the purge
    /// before anything is changed. Stubs are written first, then the
    /// anchor, then the prefix deleted in ascending order, each write
    /// conditioned on the seal read: an interruption at any point leaves a
    /// chain that verifies, and running it again finishes the work.
    pub async fn purge_expired(&self, chain: &ChainId, now_ms: i64) -> Result<PurgeOutcome> {
        let Some(head) = self.head(chain).await? else {
            return Ok(PurgeOutcome::default());
        };
        let chainer = self.chainer();
        let mut scan = PurgeScan::new(chainer.secrets(), now_ms);
        // An interrupted purge left events below its anchor: resume it.
        let anchored = self
            .events
            .find_one(doc! {"chain": chain.as_str(), "anchor": {"$type": "object"}})
            .sort(doc! {"seq": -1})
            .await?;
        if let Some(d) = anchored {
            let event = event_from_document(&d)?;
            if event
                .anchor
                .as_ref()
                .is_some_and(|a| a.is_valid_for(&event, chainer.secrets()))
            {
                let decided = event.anchor.as_ref().map_or(i64::MIN, |a| a.created_ms);
                scan = scan.resuming_below(event.seq).decided_at(decided);
            }
        }
        let mut cursor = self
            .events
            .find(doc! {"chain": chain.as_str()})
            .sort(doc! {"seq": 1})
            .await?;
        let mut first = None;
        let mut keep: Option<SealedEvent> = None;
        let mut stubs = Vec::new();
        let mut prefix = Vec::new();
        while let Some(d) = cursor.try_next().await? {
            let event = event_from_document(&d)?;
            first.get_or_insert(event.seq);
            match scan.step(&event, event.seq >= head.seq)? {
                PurgeStep::Keep if keep.is_none() => keep = Some(event),
                PurgeStep::Purge => prefix.push((event.seq, event.seal)),
                PurgeStep::Stub => {
                    // Only what the update needs: a long chain of expired
                    // events is not held in memory.
                    let seal = event.seal;
                    let mut stub = event;
                    stub.purge(now_ms, chainer.secret_for(Some(head.secret_id)))?;
                    if let Some(mark) = stub.purged {
                        stubs.push((stub.seq, seal, mark));
                    }
                }
                _ => {}
            }
        }
        let mut outcome = PurgeOutcome {
            first_kept: keep.as_ref().map(|k| k.seq).or(first),
            ..PurgeOutcome::default()
        };
        for (seq, seal, mark) in stubs {
            let updated = self
                .events
                .update_one(
                    doc! {"chain": chain.as_str(), "seq": seq_to_bson(seq), "seal": binary(&seal.0)},
                    doc! {
                        "$set": {"purged": purge_mark_to_document(&mark)},
                        "$unset": {"code": "", "module": "", "node": "", "status": "", "details": "", "terms": "", "eventId": "", "eventKey": ""},
                    },
                )
                .await?;
            outcome.stubbed += updated.modified_count;
        }
        let (Some(first), Some(keep)) = (first, keep) else {
            return Ok(outcome);
        };
        if keep.seq > first {
            let anchor = Anchor::new(&keep, now_ms, chainer.secret_for(Some(head.secret_id)));
            self.events
                .update_one(
                    doc! {"chain": chain.as_str(), "seq": seq_to_bson(keep.seq), "seal": binary(&keep.seal.0)},
                    doc! {"$set": {"anchor": anchor_to_document(&anchor)}},
                )
                .await?;
            // What was verified, in ascending order, each conditioned on
            // the seal read.
            for (seq, seal) in prefix.into_iter().filter(|(seq, _)| *seq < keep.seq) {
                outcome.deleted += self
                    .events
                    .delete_one(doc! {"chain": chain.as_str(), "seq": seq_to_bson(seq), "seal": binary(&seal.0)})
                    .await?
                    .deleted_count;
            }
        }
        tracing::info!(chain = %chain, deleted = outcome.deleted, stubbed = outcome.stubbed, first_kept = keep.seq, "purged expired events");
        Ok(outcome)
    }

    /// Re-wraps the data keys of every stored event under the keyset's
    /// current primary (the last step of a keyset rotation, run by one
    /// job once every pod has the keyset with the new primary). Resumable
    /// and idempotent: keys already under the primary are skipped. Each
    /// update is conditioned on the wrapped keys it read, so that a key
    /// shredded meanwhile is never brought back. Payloads and seals are
    /// untouched. `progress` is called every 1000 records and at the end.
    ///
    /// # Errors
    /// [`Error::RewrapIncomplete`] after the whole pass when some records
    /// could not be re-wrapped (their keys stay under the old key, which
    /// must not be removed from the keyset yet).
    pub async fn rewrap_events(
        &self,
        mut progress: impl FnMut(&RotationProgress),
    ) -> Result<RotationProgress> {
        let chainer = self.chainer();
        let mut state = RotationProgress::default();
        let mut first_failure = None;
        let mut cursor = self
            .events
            .find(doc! {"details.secure.dek": {"$type": "binData"}})
            .sort(doc! {"chain": 1, "seq": 1})
            .await?;
        while let Some(d) = cursor.try_next().await? {
            state.examined += 1;
            if state.examined.is_multiple_of(1000) {
                progress(&state);
            }
            // One bad record must not stop the job at the same place: it is
            // counted, logged and skipped.
            let event = match event_from_document(&d) {
                Ok(event) => event,
                Err(e) => {
                    state.failed += 1;
                    first_failure.get_or_insert_with(|| e.reason.clone());
                    continue;
                }
            };
            // The chainer re-wraps (all or nothing); the update sets each
            // re-wrapped key conditioned on the key it replaces.
            let mut rewrapped = event.clone();
            if let Err(e) = chainer.rewrap(&mut rewrapped) {
                let why = format!("{}#{}: {e}", event.chain, event.seq);
                state.failed += 1;
                tracing::warn!(error = %why, "re-wrap skipped a record");
                first_failure.get_or_insert(why);
                continue;
            }
            let mut filter = doc! {"chain": event.chain.as_str(), "seq": seq_to_bson(event.seq), "seal": binary(&event.seal.0)};
            let mut set = Document::new();
            for (i, (old, new)) in event.details.iter().zip(&rewrapped.details).enumerate() {
                if let (
                    DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: Some(old),
                        ..
                    }),
                    DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: Some(new),
                        ..
                    }),
                ) = (&old.value, &new.value)
                {
                    if old != new {
                        let path = format!("details.{i}.secure.dek");
                        filter.insert(path.clone(), binary(old));
                        set.insert(path, binary(new));
                    }
                }
            }
            if set.is_empty() {
                continue;
            }
            let updated = self.events.update_one(filter, doc! {"$set": set}).await?;
            if updated.matched_count == 1 {
                state.rewrapped += 1;
            } else {
                // Shredded, purged or re-wrapped meanwhile: nothing to do
                // now; a second pass picks up what still needs it.
                state.changed += 1;
            }
        }
        progress(&state);
        tracing::info!(
            examined = state.examined,
            rewrapped = state.rewrapped,
            failed = state.failed,
            "keyset rotation of events"
        );
        match first_failure {
            Some(first) => Err(Error::RewrapIncomplete {
                failed: state.failed,
                rewrapped: state.rewrapped,
                first,
            }),
            None => Ok(state),
        }
    }

    /// Crypto-shredding: erases the wrapped data keys of the sensitive
    /// details of event `seq` (all, or only `key`), so that they can never
    /// be decrypted again, and records it first in the chain with a sealed
    /// shred record (what, when, from which node, `reason`). A verifier
    /// without the keyset then tells the erasure from an attack, and a key
    /// restored from a backup is reported. Resumable: a shred interrupted
    /// after its record erases on the next call without a second record.
    ///
    /// # Errors
    /// [`Error::NotShreddable`] (nothing changed) when the event does not
    /// exist, is not authentic, is a stub or a record of the store, has no
    /// such sensitive detail, or everything asked was already erased.
    pub async fn shred(
        &self,
        chain: &ChainId,
        seq: u64,
        key: Option<&str>,
        reason: &str,
        node: &str,
        now_ms: i64,
    ) -> Result<ShredOutcome> {
        let chainer = self.chainer();
        let event = self.get(chain, seq).await?;
        if let Some(why) = shred_refusal(event.as_ref(), key, chainer.secrets()) {
            return Err(not_shreddable(chain, seq, &why));
        }
        let Some(event) = event else {
            return Err(not_shreddable(chain, seq, "no event is stored there"));
        };
        let covered = self.shredded_keys(chain, seq, &chainer).await?;
        let wanted = event.shreddable_keys(key);
        let record_seq = if let Some(record) = ShredRecord::for_keys(seq, &wanted, &covered, reason)
        {
            let sealed = self
                .append_records(chain, vec![record.draft(node, now_ms)])
                .await?;
            sealed.last().map(|e| e.seq)
        } else {
            None
        };
        let mut filter =
            doc! {"chain": chain.as_str(), "seq": seq_to_bson(seq), "seal": binary(&event.seal.0)};
        let mut set = Document::new();
        for (i, detail) in event.details.iter().enumerate() {
            if wanted.contains(&detail.key) {
                if let DetailValue::Sensitive(SensitiveValue {
                    wrapped_dek: Some(_),
                    ..
                }) = &detail.value
                {
                    let path = format!("details.{i}.secure.dek");
                    filter.insert(path.clone(), doc! {"$type": "binData"});
                    set.insert(path, Bson::Null);
                }
            }
        }
        let updated = self.events.update_one(filter, doc! {"$set": set}).await?;
        if updated.matched_count != 1 {
            return Err(not_shreddable(
                chain,
                seq,
                "the event changed while it was being shredded; run the shred again",
            ));
        }
        tracing::info!(chain = %chain, seq, keys = wanted.len(), record = ?record_seq, "shredded");
        Ok(ShredOutcome {
            erased: wanted,
            record_seq,
        })
    }

    /// The detail keys of event `seq` that authentic shred records cover.
    async fn shredded_keys(
        &self,
        chain: &ChainId,
        seq: u64,
        chainer: &Chainer,
    ) -> Result<Vec<String>> {
        let mut cursor = self
            .events
            .find(doc! {"chain": chain.as_str(), "code": SHRED_CODE, "terms": search_term("target", &seq.to_string())})
            .await?;
        let mut keys = Vec::new();
        while let Some(d) = cursor.try_next().await? {
            let Ok(event) = event_from_document(&d) else {
                continue;
            };
            if event.seal_is_valid(chainer.secrets()) {
                if let Some(Ok(record)) = ShredRecord::parse(&event) {
                    if record.target == seq {
                        keys.extend(record.keys);
                    }
                }
            }
        }
        Ok(keys)
    }

    /// The authentic rotation records of `chain` that rotate forward, with
    /// their sequence numbers.
    pub async fn rotations(
        &self,
        chain: &ChainId,
        chainer: &Chainer,
    ) -> Result<Vec<(u64, RotationRecord)>> {
        let mut cursor = self
            .events
            .find(doc! {"chain": chain.as_str(), "code": ROTATION_CODE, "module": SYSTEM_MODULE})
            .await?;
        let mut out = Vec::new();
        while let Some(d) = cursor.try_next().await? {
            let Ok(event) = event_from_document(&d) else {
                continue;
            };
            if let Some(record) = RotationRecord::authentic(&event, chainer.secrets()) {
                out.push((event.seq, record));
            }
        }
        Ok(out)
    }

    /// Teaches `verifier` the shred records stored (of `chain`, or all):
    /// the first pass that lets it report a shredded key restored.
    pub async fn learn_shreds(
        &self,
        chain: Option<&ChainId>,
        verifier: &mut Verifier,
    ) -> Result<()> {
        let mut filter = doc! {"code": {"$in": [SHRED_CODE, ROTATION_CODE]}};
        if let Some(chain) = chain {
            filter.insert("chain", chain.as_str());
        }
        let mut cursor = self.events.find(filter).await?;
        while let Some(d) = cursor.try_next().await? {
            if let Ok(event) = event_from_document(&d) {
                verifier.learn_record(&event);
            }
        }
        Ok(())
    }
}

fn not_shreddable(chain: &ChainId, seq: u64, reason: &str) -> Error {
    Error::NotShreddable {
        chain: chain.to_string(),
        seq,
        reason: reason.to_owned(),
    }
}

/// Records verified at a time by [`EventLog::verify_into`].
const VERIFY_BATCH: usize = 512;

/// The projection of online verification: every stored field of an event
/// but its search terms (`terms`), which no seal covers and the verifier
/// does not read. (`eventKey`, derived too, is read: it must match the
/// sealed event id, and a stub may not hold one.)
pub fn verify_projection() -> Document {
    doc! {"terms": 0}
}

/// The wall clock, in milliseconds since the Unix epoch (0 before it).
pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether an error of index creation is worth another try: the
/// connection failed (FerretDB closes it when concurrent index creations
/// collide), or the server reports a conflicting concurrent operation.
fn is_transient(error: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    // 48 NamespaceExists, 11000 a concurrent create of the same collection,
    // 112 WriteConflict, 276 IndexBuildAborted, 11600/11602 interrupted.
    const RACES: [i32; 6] = [48, 11000, 112, 276, 11600, 11602];
    if matches!(&*error.kind, ErrorKind::ServerSelection { .. }) {
        // Waiting once (the selection timeout) is enough.
        return false;
    }
    is_network(error)
        || error.contains_label("RetryableWriteError")
        || error.contains_label("TransientTransactionError")
        || matches!(&*error.kind, ErrorKind::Command(c) if RACES.contains(&c.code))
}

/// Creates the indexes whose names are not there yet (asking first keeps
/// this idempotent on servers that fail on re-creating an index).
async fn create_missing(collection: &Collection<Document>, models: Vec<IndexModel>) -> Result<()> {
    use mongodb::error::ErrorKind;
    // A collection that does not exist yet has no indexes (code 26,
    // NamespaceNotFound); any other failure is an error.
    let existing = match collection.list_index_names().await {
        Ok(names) => names,
        Err(e) if matches!(&*e.kind, ErrorKind::Command(c) if c.code == 26) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let missing: Vec<IndexModel> = models
        .into_iter()
        .filter(|m| {
            let name = m.options.as_ref().and_then(|o| o.name.as_ref());
            !name.is_some_and(|n| existing.contains(n))
        })
        .collect();
    if !missing.is_empty() {
        collection.create_indexes(missing).await?;
    }
    Ok(())
}

/// How long an append may wait for the check after an unknown outcome,
/// beyond its deadline.
const CHECK_GRACE: Duration = Duration::from_millis(800);

/// How long past its deadline a caller waits for its commit's answer (the
/// check above, and the hand-back) before it answers itself.
const UNKNOWN_OUTCOME_GRACE: Duration = Duration::from_millis(950);

/// How many times the committing task yields to the callers it just
/// answered before it ends its turn for want of work.
const LINGER_YIELDS: usize = 16;

/// How long a holder without work waits for more before ending its turn.
const LINGER: Duration = Duration::from_millis(1);

/// Whether the server answered a write with a refusal (nothing after the
/// refused document was written), rather than the connection failing or
/// the write concern not being met (the write may be stored).
fn server_refused(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*error.kind {
        ErrorKind::ServerSelection { .. } => true,
        ErrorKind::InsertMany(e) => e.write_concern_error.is_none() && e.write_errors.is_some(),
        ErrorKind::Write(WriteFailure::WriteError(_)) => true,
        ErrorKind::Command(_) => true,
        _ => false,
    }
}

/// Whether a driver error is a failed connection.
fn is_network(error: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    matches!(
        &*error.kind,
        ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. }
    )
}

/// Whether a driver error means the server is away (network, selection).
fn is_unreachable(error: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    is_network(error)
        || matches!(
            &*error.kind,
            ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. }
        )
}

/// The error an append's callers get: a driver error of an away server, or
/// of an unknown outcome, becomes [`Error::Unavailable`] with the outcome.
fn unavailable(chain: &ChainId, error: Error, outcome: Outcome) -> Error {
    match error {
        Error::Database(e) if outcome == Outcome::Unknown || is_unreachable(&e) => {
            Error::Unavailable {
                chain: chain.to_string(),
                outcome,
                source: e,
            }
        }
        other => other,
    }
}

fn fail_all(jobs: Vec<Job>, error: &Error) {
    for job in jobs {
        job.finish(Err(copy_error(error)));
    }
}

/// The same error for every waiting caller.
fn copy_error(error: &Error) -> Error {
    match error {
        Error::Database(e) => Error::Database(e.clone()),
        Error::Contention { chain, attempts } => Error::Contention {
            chain: chain.clone(),
            attempts: *attempts,
        },
        Error::Malformed { chain, seq, reason } => Error::Malformed {
            chain: chain.clone(),
            seq: *seq,
            reason: reason.clone(),
        },
        Error::Timeout {
            chain,
            operation,
            waited_ms,
            outcome,
        } => Error::Timeout {
            chain: chain.clone(),
            operation,
            waited_ms: *waited_ms,
            outcome: *outcome,
        },
        Error::Unavailable {
            chain,
            outcome,
            source,
        } => Error::Unavailable {
            chain: chain.clone(),
            outcome: *outcome,
            source: source.clone(),
        },
        Error::HeadRejected { chain, seq, reason } => Error::HeadRejected {
            chain: chain.clone(),
            seq: *seq,
            reason: reason.clone(),
        },
        other => Error::Malformed {
            chain: None,
            seq: None,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use stream_chain::{EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp};

    use super::*;

    /// A document as the server returns it under `projection`: the fields
    /// it excludes removed.
    fn projected(mut document: Document, projection: &Document) -> RawDocumentBuf {
        for (field, _) in projection {
            document.remove(field);
        }
        RawDocumentBuf::try_from(&document).unwrap()
    }

    /// What online verification fetches decodes to the event stored, for
    /// every shape: formats 2 and 3 (with an event id and its key), a stub.
    #[test]
    fn the_verify_projection_keeps_what_the_decoder_needs() {
        let secret = SealSecret::from_env_value("k8s-generated-32-character-secr1").unwrap();
        let chainer = Chainer::new(SealSecrets::new(secret.clone()), None);
        let mut head = Head::genesis(ChainId::new("ca").unwrap());
        let draft = |i: i64| {
            EventDraft::new(
                "OCSP-SIGN",
                "ocsp",
                "pod-0",
                Status::Success,
                Timestamp::from_millis(i),
            )
            .public("serial", format!("{i:04x}"))
            .remove_at(Timestamp::from_millis(i + 10))
        };
        let plain = chainer.seal(&mut head, &draft(1)).unwrap();
        let with_id = chainer
            .seal(&mut head, &draft(2).with_event_id("req-1"))
            .unwrap();
        let mut stub = chainer.seal(&mut head, &draft(3)).unwrap();
        stub.purge(100, &secret).unwrap();
        let projection = verify_projection();
        for event in [plain, with_id, stub] {
            let raw = projected(event_to_document(&event), &projection);
            assert_eq!(event_from_raw(&raw).unwrap(), event);
        }
    }
}
