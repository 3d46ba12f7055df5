//! Turn-taking between processes that append to one chain, and the
//! chain's head hint: one small document per chain in `chainHeads`,
//! addressed by `_id` (O(1) on every server).
//!
//! ```text
//! { _id: <chain>, owner: <pod id> | null, version: Int64,
//!   head: <the document of the last event a holder wrote> | null }
//! { _id: "<len>:<chain>/<pod id>", waitsFor: <chain>, pod: <pod id>,
//!   mark: <version when it asked>, alive: <last version it saw> }
//! ```
//!
//! The turn document is written only by holders and by takers (with a
//! compare-and-set on owner and version); each waiter writes only its own
//! document. On a server whose updates are read-modify-write without
//! isolation (FerretDB), a waiter's write to a shared document could
//! otherwise undo a release or a hand-over.
//!
//! The turn is a *hint for fairness*, never for correctness: the unique
//! `(chain, seq)` index (and the `_id` derived from it) decides who wrote a
//! position. A turn granted twice (FerretDB's findAndModify is not atomic),
//! a holder that died, a head hint that is stale or forged cost a retry,
//! never a fork, a gap or a lost event. No clock is compared across pods:
//! a holder is presumed dead when its document has not changed for
//! [`LogConfig::turn_ttl`] as measured by the waiter's own monotonic clock.
//! See `docs/DECISIONS.md` for the design and its failure modes.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::Collection;
use rand::Rng as _;
use stream_chain::{ChainId, SealSecrets, SealedEvent};
use tokio::task::JoinHandle;

use crate::codec::event_from_document;
use crate::error::{Error, Outcome, Result};
use crate::log::LogConfig;

/// How far a waiter's `alive` may lag the version the holder last wrote
/// before the holder no longer hands the turn to it. A waiter writes
/// `alive` when it sees a version past this lag (so every other version),
/// and it looks at least every half turn, while a holder keeps the turn
/// for a whole one: a live waiter is never too far behind. Every write to
/// the server takes its one write lock from the holder's inserts (SQLite
/// under FerretDB), so with three pods this halves the waiters' writes per
/// turn. A process that took its turn is behind by at least two versions
/// at the next hand-over (it never wrote the version it took the turn at,
/// nor any after it), so it is not handed the turn again until it asks
/// again; a dead waiter may be named once more than with no lag, and is
/// taken over from after `turn_ttl` like any silent holder.
const LIVE_WAITER_VERSIONS: i64 = 1;

/// How many poll intervals a free turn is left to the first waiter in line
/// before anyone may take it (a waiter polls at most every two intervals
/// and a half, jitter included, so the first in line gets its chance).
const FREE_GRACE_POLLS: u32 = 10;

/// Most waiter documents read per hand-over.
const MAX_WAITERS: i64 = 64;

/// This process's view of the turn of one chain.
#[derive(Debug)]
pub(crate) struct Turn {
    /// Whether this process holds the turn (as far as it knows).
    pub held: bool,
    /// When the turn was taken or last renewed.
    since: Instant,
    /// The `(owner, version)` last seen while waiting, and when it was
    /// first seen: unchanged for `turn_ttl` means the holder is gone.
    observed: Option<(Option<String>, i64, Instant)>,
    /// The version at which this process last marked itself waiting.
    marked_at: Option<i64>,
    /// The mark of the waiter document this process may have stored
    /// (deleted when it releases the turn, not when it takes it: under
    /// contention it asks again at once, and a delete is one more write).
    asked: Option<i64>,
    /// Its place in line: the version at which it first asked.
    mark: Option<i64>,
    /// The version of the turn document as of this holder's last write.
    version: i64,
    /// Turns taken over from a holder presumed gone.
    pub takeovers: u64,
    /// The newest version of the turn document seen, and when.
    newest_seen: (i64, Instant),
    /// Whether the turn document is known to exist.
    created: bool,
    /// How long this process's last insert took.
    pub last_insert: Duration,
    /// The read of the waiters started beside what was expected to be the
    /// last insert of this turn, with the version it was read for: used by
    /// the hand-over after it if it is done by then and the version is
    /// still this holder's, else dropped.
    prefetched: Option<(i64, JoinHandle<Result<Vec<Document>>>)>,
}

impl Turn {
    pub fn new() -> Turn {
        Turn {
            held: false,
            since: Instant::now(),
            observed: None,
            marked_at: None,
            asked: None,
            last_insert: Duration::ZERO,
            prefetched: None,
            mark: None,
            version: 0,
            takeovers: 0,
            newest_seen: (0, Instant::now()),
            created: false,
        }
    }

    /// Whether the holder has had the turn longer than its budget.
    pub fn budget_spent(&self, config: &LogConfig) -> bool {
        self.held && self.since.elapsed() >= config.turn
    }

    /// Drops the read of the waiters started for a hand-over, if any.
    fn drop_prefetched(&mut self) {
        if let Some((_, read)) = self.prefetched.take() {
            read.abort();
        }
    }
}

/// The turn documents of a database, as seen by one process (`pod`).
#[derive(Clone, Debug)]
pub(crate) struct Turns {
    pub heads: Collection<Document>,
    /// This process's id: random, unique per [`crate::EventLog`].
    pub pod: String,
}

/// A head hint: the last event written, if it is authentic.
pub(crate) fn authentic_hint(
    document: &Document,
    chain: &ChainId,
    secrets: &SealSecrets,
) -> Option<SealedEvent> {
    let head = document.get_document("head").ok()?;
    let event = match event_from_document(head) {
        Ok(event) => event,
        Err(m) => {
            tracing::warn!(chain = %chain, reason = %m.reason, "ignored a malformed head hint");
            return None;
        }
    };
    if &event.chain != chain || !event.seal_is_valid(secrets) {
        tracing::warn!(chain = %chain, seq = event.seq, "ignored a head hint that fails its seal");
        return None;
    }
    Some(event)
}

/// The live waiter that asked first (other than `except`): the smallest
/// `(mark, pod)` among the waiter documents whose `alive` is within
/// [`LIVE_WAITER_VERSIONS`] of `version`.
fn first_waiter(waiters: &[Document], version: i64, except: Option<&str>) -> Option<String> {
    waiters
        .iter()
        .filter_map(|w| {
            let pod = w.get_str("pod").ok()?;
            let mark = w.get("mark").and_then(as_i64)?;
            let alive = w.get("alive").and_then(as_i64).unwrap_or(mark);
            (Some(pod) != except && is_live(mark, alive, version)).then_some((mark, pod))
        })
        .min()
        .map(|(_, pod)| pod.to_owned())
}

/// Whether a waiter document (`mark`, `alive`) is live for a holder at
/// `version`: it saw a version at most [`LIVE_WAITER_VERSIONS`] before the
/// holder's and none after it (a forged `alive` from the future is not a
/// waiter), and it asked before it was alive.
fn is_live(mark: i64, alive: i64, version: i64) -> bool {
    alive.saturating_add(LIVE_WAITER_VERSIONS) >= version && alive <= version && mark <= alive
}

/// Whether a waiter that last wrote `alive` (none: it has not asked since
/// its last turn) must write it again on seeing `version`: before it would
/// stop being live, or when the version went back.
fn must_refresh(alive: Option<i64>, version: i64) -> bool {
    alive
        .is_none_or(|alive| version < alive || version > alive.saturating_add(LIVE_WAITER_VERSIONS))
}

/// The waiter documents of `chain` that may be live at `version`, earliest
/// mark first (a small collection: one document per chain and per waiting
/// process). Documents left by processes gone, and documents forged with
/// an `alive` or a `mark` from the future, are filtered out by the server,
/// so that however many accumulate they do not crowd a live one out of
/// the [`MAX_WAITERS`] read.
async fn read_waiters(
    heads: Collection<Document>,
    chain: String,
    version: i64,
) -> Result<Vec<Document>> {
    let oldest_live = version.saturating_sub(LIVE_WAITER_VERSIONS);
    Ok(heads
        .find(doc! {
            "waitsFor": chain,
            "alive": {"$gte": oldest_live, "$lte": version},
            "mark": {"$lte": version},
        })
        .sort(doc! {"mark": 1})
        // Bounded, whatever was written there: a handful of pods wait.
        .limit(MAX_WAITERS)
        .await?
        .try_collect()
        .await?)
}

fn as_i64(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        _ => None,
    }
}

fn owner_of(document: &Document) -> Option<String> {
    document.get_str("owner").ok().map(str::to_owned)
}

fn version_of(document: &Document) -> i64 {
    match document.get("version") {
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Int32(v)) => i64::from(*v),
        _ => 0,
    }
}

impl Turns {
    pub fn new(heads: Collection<Document>) -> Turns {
        let pod: u64 = rand::rng().random();
        Turns {
            heads,
            pod: format!("p{pod:016x}"),
        }
    }

    fn waiter_id(&self, chain: &ChainId) -> String {
        format!("{}:{}/{}", chain.as_str().len(), chain.as_str(), self.pod)
    }

    /// The waiter documents of `chain` that may be live at `version`.
    async fn waiters(&self, chain: &ChainId, version: i64) -> Result<Vec<Document>> {
        read_waiters(self.heads.clone(), chain.as_str().to_owned(), version).await
    }

    /// Before an insert: if it is expected to be the last of the holder's
    /// turn (at least half the budget used, and the budget spent by the
    /// time an insert as long as the last one is answered), starts reading
    /// the waiters beside it, so that the hand-over after it is one round
    /// trip, not two. The insert's answer never waits for this read.
    pub fn prefetch_waiters(&self, chain: &ChainId, turn: &mut Turn, config: &LogConfig) {
        let used = turn.since.elapsed();
        let last_of_turn = turn.held
            && used >= config.turn / 2
            && used.saturating_add(turn.last_insert) >= config.turn;
        if !last_of_turn {
            return;
        }
        turn.drop_prefetched();
        let read = tokio::spawn(read_waiters(
            self.heads.clone(),
            chain.as_str().to_owned(),
            turn.version,
        ));
        turn.prefetched = Some((turn.version, read));
    }

    /// Forgets this process's ask for the turn (it released the turn for
    /// want of work, or gave up waiting at its deadline): deletes its
    /// waiter document, off the commit path, so that no holder names a
    /// process that no longer waits. If the delete is lost, the document
    /// stops being live two versions on.
    pub fn forget_ask(&self, chain: &ChainId, turn: &mut Turn) {
        turn.mark = None;
        turn.marked_at = None;
        if let Some(mark) = turn.asked.take() {
            // Only the document of that mark: a later ask (a new mark) that
            // the delete arrives after stays.
            let heads = self.heads.clone();
            let id = self.waiter_id(chain);
            tokio::spawn(async move {
                let _ = heads.delete_one(doc! {"_id": id, "mark": mark}).await;
            });
        }
    }

    async fn create(&self, chain: &ChainId, turn: &mut Turn) -> Result<()> {
        if turn.created {
            return Ok(());
        }
        let result = self
            .heads
            .update_one(
                doc! {"_id": chain.as_str()},
                doc! {"$setOnInsert": {"owner": Bson::Null, "version": 0_i64, "head": Bson::Null}},
            )
            .upsert(true)
            .await;
        match result {
            Ok(_) => {}
            // Two pods creating it at once: the other one did.
            Err(e) if is_duplicate(&e) => {}
            Err(e) => return Err(e.into()),
        }
        turn.created = true;
        Ok(())
    }

    /// Waits for this process's turn on `chain` until `deadline`. Returns
    /// the turn document as it was when the turn was taken (its head hint).
    pub async fn acquire(
        &self,
        chain: &ChainId,
        turn: &mut Turn,
        config: &LogConfig,
        deadline: Instant,
    ) -> Result<Document> {
        self.create(chain, turn).await?;
        let started = Instant::now();
        let mut poll = config.turn_poll;
        loop {
            let seen = bounded(deadline, chain, "reading the chain's turn", async {
                Ok(self.heads.find_one(doc! {"_id": chain.as_str()}).await?)
            })
            .await?;
            let Some(seen) = seen else {
                // Deleted under us (by an operator, or an attacker): make it again.
                turn.created = false;
                self.create(chain, turn).await?;
                continue;
            };
            let owner = owner_of(&seen);
            let version = version_of(&seen);
            if version < turn.newest_seen.0 && turn.newest_seen.1.elapsed() < config.turn_ttl {
                // An older state than one seen lately (FerretDB on SQLite
                // was seen to answer from an old snapshot): no news. Acting
                // on it would take a turn that was handed on long ago. Only
                // for a while: a version set back for good (by hand, or a
                // forged huge one undone) is accepted after `turn_ttl`.
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(config.turn_poll.min(left)).await;
                continue;
            }
            turn.newest_seen = (version, Instant::now());
            if owner.as_deref() == Some(self.pod.as_str()) {
                // Handed to us by the previous holder.
                return Ok(self.taken(turn, seen));
            }
            let stale = match &turn.observed {
                Some((o, v, at)) if *o == owner && *v == version => at.elapsed() >= config.turn_ttl,
                _ => {
                    turn.observed = Some((owner.clone(), version, Instant::now()));
                    false
                }
            };
            // A free turn goes to the longest-waiting live waiter (FIFO by
            // the version at which each asked), so that the process that
            // just released it does not take it straight back; anyone may
            // take it once it has stayed free for a poll or two.
            let free_for = match &turn.observed {
                Some((None, v, at)) if *v == version => at.elapsed(),
                _ => Duration::ZERO,
            };
            let first_in_line = if owner.is_none() && free_for < config.turn_poll * FREE_GRACE_POLLS
            {
                let waiters = bounded(deadline, chain, "reading the chain's waiters", async {
                    self.waiters(chain, version).await
                })
                .await?;
                first_waiter(&waiters, version, None).is_none_or(|first| first == self.pod)
            } else {
                true
            };
            if (owner.is_none() && first_in_line) || stale {
                // Compare-and-set on the values as stored, whatever their
                // type: a document written with wrong types (by hand, or by
                // an attacker) is taken and repaired, never wedged.
                let mut filter = doc! {"_id": chain.as_str()};
                for field in ["owner", "version"] {
                    filter.insert(
                        field,
                        seen.get(field)
                            .cloned()
                            .unwrap_or_else(|| Bson::Document(doc! {"$exists": false})),
                    );
                }
                if seen.get("owner").is_none() {
                    filter.insert("owner", Bson::Null);
                }
                let taken = bounded(deadline, chain, "taking the chain's turn", async {
                    Ok(self
                        .heads
                        .find_one_and_update(
                            filter,
                            doc! {"$set": {"owner": &self.pod, "version": version.saturating_add(1)}},
                        )
                        .return_document(ReturnDocument::After)
                        .await?)
                })
                .await?;
                if let Some(d) = taken {
                    if stale {
                        turn.takeovers += 1;
                        tracing::warn!(chain = %chain, previous = ?owner, "took over the turn of a silent holder");
                    }
                    return Ok(self.taken(turn, d));
                }
                poll = config.turn_poll;
            }
            if must_refresh(turn.marked_at, version) {
                // Ask for the turn, and say we are alive before we lag more
                // than `LIVE_WAITER_VERSIONS` (or when the version went
                // back). The place in line (the first mark) is written again
                // each time: an update of the holder's on a server without
                // atomic updates (FerretDB) may have overwritten it.
                if turn.mark.is_some_and(|mark| mark > version) {
                    // Asked at a version since set back (by hand, or a
                    // forged one undone): ask again, or never be live.
                    turn.mark = None;
                }
                let mark = *turn.mark.get_or_insert(version);
                let update = doc! {"$set": {
                    "waitsFor": chain.as_str(),
                    "pod": &self.pod,
                    "mark": mark,
                    "alive": version,
                }};
                bounded(deadline, chain, "asking for the chain's turn", async {
                    Ok(self
                        .heads
                        .update_one(doc! {"_id": self.waiter_id(chain)}, update)
                        .upsert(true)
                        .await?)
                })
                .await?;
                turn.marked_at = Some(version);
                turn.asked = Some(mark);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    chain: chain.to_string(),
                    operation: "waiting for the chain's turn",
                    waited_ms: started.elapsed().as_millis() as u64,
                    outcome: Outcome::NotWritten,
                });
            }
            // While another process is early in its turn (it keeps it for
            // `turn` when it has work), look again near the turn's end
            // rather than every poll: polls cost the server. Then poll
            // quickly, a little jittered so that waiters do not move in lock
            // step; never past the deadline.
            let early = match &turn.observed {
                Some((Some(_), v, at)) if *v == version => {
                    (config.turn * 3 / 4).saturating_sub(at.elapsed())
                }
                _ => Duration::ZERO,
            };
            let jitter = rand::rng().random_range(0..=poll.as_micros() as u64 / 2);
            let pause = (poll + Duration::from_micros(jitter))
                .max(early.min(config.turn / 2))
                .min(deadline - now);
            tokio::time::sleep(pause).await;
            poll = (poll * 2).min(config.turn_poll * 2);
        }
    }

    fn taken(&self, turn: &mut Turn, document: Document) -> Document {
        // The waiter document stays: it stops being live as the version
        // moves on (its `alive` is behind the version taken), and under
        // contention this process asks again as soon as it hands over.
        turn.drop_prefetched();
        turn.held = true;
        turn.version = version_of(&document);
        turn.newest_seen = (turn.newest_seen.0.max(turn.version), Instant::now());
        turn.since = Instant::now();
        turn.observed = None;
        turn.marked_at = None;
        turn.mark = None;
        document
    }

    /// Ends or renews the turn after a commit. `head` is the document of
    /// the last event written (the hint for the next holder); `more` says
    /// whether this process has events waiting. Without waiting events the
    /// turn is released; with them it is kept until its budget is spent,
    /// then handed to the longest-waiting live waiter, if any.
    pub async fn after_commit(
        &self,
        chain: &ChainId,
        turn: &mut Turn,
        config: &LogConfig,
        head: Option<&Document>,
        more: bool,
        deadline: Instant,
    ) -> Result<()> {
        let prefetched = turn.prefetched.take();
        if !turn.held || (more && !turn.budget_spent(config)) {
            if let Some((_, read)) = prefetched {
                read.abort();
            }
            return Ok(());
        }
        let head = head.map_or(Bson::Null, |h| Bson::Document(h.clone()));
        let mine = doc! {"_id": chain.as_str(), "owner": &self.pod};
        if !more {
            turn.held = false;
            self.forget_ask(chain, turn);
            bounded(deadline, chain, "releasing the chain's turn", async {
                Ok(self
                    .heads
                    .update_one(
                        mine,
                        doc! {"$set": {"owner": Bson::Null, "head": head}, "$inc": {"version": 1_i64}},
                    )
                    .await?)
            })
            .await?;
            return Ok(());
        }
        // Budget spent with work waiting: see who waits, then publish the
        // head and hand the turn over (or renew it) in one write.
        let waiters = match prefetched {
            Some((version, read)) if version == turn.version && read.is_finished() => {
                match read.await {
                    Ok(Ok(waiters)) => Some(waiters),
                    _ => None,
                }
            }
            Some((_, read)) => {
                read.abort();
                None
            }
            None => None,
        };
        let waiters = match waiters {
            Some(waiters) => waiters,
            None => {
                bounded(deadline, chain, "reading the chain's waiters", async {
                    self.waiters(chain, turn.version).await
                })
                .await?
            }
        };
        let next = first_waiter(&waiters, turn.version, Some(&self.pod));
        let update = match &next {
            Some(next) => doc! {"$set": {"head": head, "owner": next}, "$inc": {"version": 1_i64}},
            None => doc! {"$set": {"head": head}, "$inc": {"version": 1_i64}},
        };
        let written = bounded(deadline, chain, "handing over the chain's turn", async {
            Ok(self.heads.update_one(mine, update).await?)
        })
        .await?;
        turn.version = turn.version.saturating_add(1);
        turn.newest_seen = (turn.newest_seen.0.max(turn.version), Instant::now());
        if written.matched_count == 0 {
            // Someone took the turn over (they thought we were gone).
            turn.held = false;
        } else if next.is_some() {
            turn.held = false;
        } else {
            turn.since = Instant::now();
        }
        Ok(())
    }

    /// Forgets the head hint of `chain` (after a quarantine).
    pub async fn clear_hint(&self, chain: &ChainId) -> Result<()> {
        self.heads
            .update_one(
                doc! {"_id": chain.as_str()},
                doc! {"$set": {"head": Bson::Null}, "$inc": {"version": 1_i64}},
            )
            .await?;
        Ok(())
    }
}

/// Whether a driver error is a duplicate key.
pub(crate) fn is_duplicate(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

/// Runs `operation` until `deadline`; past it, a [`Error::Timeout`] whose
/// outcome is [`Outcome::NotWritten`] (the operations bounded here write
/// no event).
pub(crate) async fn bounded<T>(
    deadline: Instant,
    chain: &ChainId,
    operation: &'static str,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let started = Instant::now();
    let left = deadline.saturating_duration_since(started);
    match tokio::time::timeout(left, future).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            chain: chain.to_string(),
            operation,
            waited_ms: started.elapsed().as_millis() as u64,
            outcome: Outcome::NotWritten,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn waiter(pod: &str, mark: i64, alive: i64) -> Document {
        doc! {"waitsFor": "c", "pod": pod, "mark": mark, "alive": alive}
    }

    proptest! {
        /// A waiter that refreshes by `must_refresh` at each version it
        /// sees (versions only move on, by any steps) is live for a
        /// holder at every version it has seen.
        #[test]
        fn a_refreshing_waiter_stays_live(first in -5i64..1_000, steps in prop::collection::vec(0i64..4, 1..60)) {
            let mark = first;
            let mut written: Option<i64> = None;
            let mut version = first;
            for step in steps {
                version += step;
                if must_refresh(written, version) {
                    written = Some(version);
                }
                let alive = written.expect("the first version seen is always written");
                prop_assert!(is_live(mark, alive, version), "mark {mark} alive {alive} version {version}");
            }
        }

        /// Between two holders, a waiter writes at most every other
        /// version: that is the write saved per hand-over.
        #[test]
        fn a_waiter_writes_at_most_every_other_version(first in 0i64..1_000, n in 1i64..200) {
            let mut written: Option<i64> = None;
            let mut writes = 0;
            for version in first..first + n {
                if must_refresh(written, version) {
                    written = Some(version);
                    writes += 1;
                }
            }
            prop_assert_eq!(writes, (n + LIVE_WAITER_VERSIONS) / (LIVE_WAITER_VERSIONS + 1));
        }

        /// A process that took the turn at `taken` (it wrote `alive` at
        /// most one version before) is not live at the next hand-over
        /// or any later one, until it asks again.
        #[test]
        fn a_process_that_took_the_turn_is_not_named_again(mark in 0i64..100, lag in 1i64..50, after in 1i64..50) {
            let taken = mark + lag;
            let alive = taken - 1;
            prop_assert!(!is_live(mark, alive, taken + after));
        }

        /// `first_waiter` names the live waiter with the smallest
        /// `(mark, pod)`, never `except`, never a stale, future or
        /// malformed document.
        #[test]
        fn first_waiter_is_the_earliest_live_one(
            version in 10i64..50,
            docs in prop::collection::vec((0u8..6, 0i64..60, 0i64..60, any::<bool>()), 0..12),
            except in prop::option::of(0u8..6),
        ) {
            let except = except.map(|p| format!("p{p}"));
            let waiters: Vec<Document> = docs
                .iter()
                .map(|(p, mark, alive, malformed)| {
                    let mut d = waiter(&format!("p{p}"), *mark, *alive);
                    if *malformed {
                        d.insert("mark", "x");
                    }
                    d
                })
                .collect();
            let expected = docs
                .iter()
                .filter(|(p, mark, alive, malformed)| {
                    !malformed && Some(format!("p{p}")) != except && is_live(*mark, *alive, version)
                })
                .map(|(p, mark, _, _)| (*mark, format!("p{p}")))
                .min()
                .map(|(_, pod)| pod);
            prop_assert_eq!(first_waiter(&waiters, version, except.as_deref()), expected);
        }
    }

    #[test]
    fn liveness_window() {
        // Live at the version it saw and the next one; not two after,
        // not before it asked, not from the future.
        assert!(is_live(5, 7, 7));
        assert!(is_live(5, 7, 8));
        assert!(!is_live(5, 7, 9));
        assert!(!is_live(5, 7, 6));
        assert!(!is_live(8, 7, 7));
        assert!(!is_live(i64::MIN, i64::MAX, 0));
        assert!(must_refresh(None, 3));
        assert!(!must_refresh(Some(3), 4));
        assert!(must_refresh(Some(3), 5));
        assert!(must_refresh(Some(3), 2));
    }
}
