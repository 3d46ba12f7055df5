//! Turn-taking between processes that append to one chain, and the
//! chain's head hint: one small document per chain in `chainHeads`,
//! addressed by `_id` (O(1) on every server).
//!
//! ```text
//! { _id: <chain>, owner: <pod id> | null, version: Int64,
//!   head: <the document of the last event a holder wrote> | null,
//!   waiters: { <pod id>: <version seen when it asked> } }
//! ```
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

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::Collection;
use rand::Rng as _;
use stream_chain::{ChainId, SealSecrets, SealedEvent};

use crate::codec::event_from_document;
use crate::error::{Error, Outcome, Result};
use crate::log::LogConfig;

/// How stale a waiter's mark may be (in versions of the turn document)
/// before a holder no longer hands the turn to it: a waiter refreshes its
/// mark whenever it sees a new version, so only a dead one falls behind.
const LIVE_WAITER_VERSIONS: i64 = 16;

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
    /// Whether the turn document is known to exist.
    created: bool,
}

impl Turn {
    pub fn new() -> Turn {
        Turn {
            held: false,
            since: Instant::now(),
            observed: None,
            marked_at: None,
            created: false,
        }
    }

    /// Whether the holder has had the turn longer than its budget.
    pub fn budget_spent(&self, config: &LogConfig) -> bool {
        self.held && self.since.elapsed() >= config.turn
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

    fn waiter_field(&self) -> String {
        format!("waiters.{}", self.pod)
    }

    async fn create(&self, chain: &ChainId, turn: &mut Turn) -> Result<()> {
        if turn.created {
            return Ok(());
        }
        let result = self
            .heads
            .update_one(
                doc! {"_id": chain.as_str()},
                doc! {"$setOnInsert": {"owner": Bson::Null, "version": 0_i64, "head": Bson::Null, "waiters": {}}},
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
            if owner.is_none() || stale {
                let filter = match &owner {
                    Some(o) => doc! {"_id": chain.as_str(), "owner": o, "version": version},
                    None => doc! {"_id": chain.as_str(), "owner": Bson::Null},
                };
                let taken = bounded(deadline, chain, "taking the chain's turn", async {
                    Ok(self
                        .heads
                        .find_one_and_update(
                            filter,
                            doc! {"$set": {"owner": &self.pod}, "$inc": {"version": 1_i64}, "$unset": {self.waiter_field(): ""}},
                        )
                        .return_document(ReturnDocument::After)
                        .await?)
                })
                .await?;
                if let Some(d) = taken {
                    if stale {
                        tracing::warn!(chain = %chain, previous = ?owner, "took over the turn of a silent holder");
                    }
                    return Ok(self.taken(turn, d));
                }
                poll = config.turn_poll;
            } else if turn.marked_at != Some(version) {
                // Ask for the turn (again at each new version: a mark that
                // keeps up with the versions is a live waiter's).
                bounded(deadline, chain, "asking for the chain's turn", async {
                    Ok(self
                        .heads
                        .update_one(
                            doc! {"_id": chain.as_str()},
                            doc! {"$set": {self.waiter_field(): version}},
                        )
                        .await?)
                })
                .await?;
                turn.marked_at = Some(version);
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
            // Poll quickly, a little jittered so that waiters do not move in
            // lock step; never past the deadline.
            let jitter = rand::rng().random_range(0..=poll.as_micros() as u64 / 2);
            let pause = (poll + Duration::from_micros(jitter)).min(deadline - now);
            tokio::time::sleep(pause).await;
            poll = (poll * 2).min(config.turn_poll * 4);
        }
    }

    fn taken(&self, turn: &mut Turn, document: Document) -> Document {
        turn.held = true;
        turn.since = Instant::now();
        turn.observed = None;
        turn.marked_at = None;
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
        if !turn.held || (more && !turn.budget_spent(config)) {
            return Ok(());
        }
        let head = head.map_or(Bson::Null, |h| Bson::Document(h.clone()));
        let mine = doc! {"_id": chain.as_str(), "owner": &self.pod};
        if !more {
            turn.held = false;
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
        // Budget spent with work waiting: publish the head, see who waits.
        let renewed = bounded(deadline, chain, "renewing the chain's turn", async {
            Ok(self
                .heads
                .find_one_and_update(
                    mine.clone(),
                    doc! {"$set": {"head": head}, "$inc": {"version": 1_i64}},
                )
                .return_document(ReturnDocument::After)
                .await?)
        })
        .await?;
        let Some(renewed) = renewed else {
            // Someone took the turn over (they thought we were gone).
            turn.held = false;
            return Ok(());
        };
        turn.since = Instant::now();
        let version = version_of(&renewed);
        let next = renewed.get_document("waiters").ok().and_then(|waiters| {
            waiters
                .iter()
                .filter(|(pod, _)| pod.as_str() != self.pod)
                .filter_map(|(pod, mark)| match mark {
                    Bson::Int64(m) if *m + LIVE_WAITER_VERSIONS >= version => Some((*m, pod)),
                    _ => None,
                })
                .min()
                .map(|(_, pod)| pod.clone())
        });
        if let Some(next) = next {
            turn.held = false;
            bounded(deadline, chain, "handing over the chain's turn", async {
                Ok(self
                    .heads
                    .update_one(
                        mine,
                        doc! {"$set": {"owner": &next}, "$unset": {format!("waiters.{next}"): ""}, "$inc": {"version": 1_i64}},
                    )
                    .await?)
            })
            .await?;
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
