//! Retention: deciding, from sealed data only, which events may be purged.

use crate::error::{Error, Result};
use crate::event::{SealedEvent, GENESIS_SEQ, LEGACY_FORMAT_VERSION};
use crate::secret::{Seal, SealSecrets};
use crate::system::is_system_record;

/// What to do with the event just checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeStep {
    /// Expired (or a stub) before any event kept, and verified: it goes
    /// entirely; the first event kept after it carries the anchor.
    Purge,
    /// Expired (by its sealed `removeAt`) after an event kept: it is
    /// replaced by its stub ([`SealedEvent::purge`]).
    Stub,
    /// Already a stub, after an event kept: nothing to do.
    Stubbed,
    /// Kept (not expired, a record of the store, or the newest event).
    Keep,
}

/// Walks a chain from its first stored event, oldest first, and decides
/// what a purge may delete. Every event is verified on the way (its own
/// seal, its link to the one before, a legitimate start), and expiry is
/// read from the *sealed* `removeAt`, so that someone who can write to the
/// database cannot make the purge delete events early, or cover a deletion
/// with a genuine anchor. Any doubt refuses the purge.
#[derive(Debug)]
pub struct PurgeScan<'a> {
    secrets: &'a SealSecrets,
    now_ms: i64,
    expected: Option<(u64, Seal)>,
    anchored_at: Option<u64>,
    /// When the interrupted purge decided (its anchor's time).
    decided_ms: i64,
    kept: bool,
}

impl<'a> PurgeScan<'a> {
    /// A scan purging what expired before `now_ms`.
    pub fn new(secrets: &'a SealSecrets, now_ms: i64) -> PurgeScan<'a> {
        PurgeScan {
            secrets,
            now_ms,
            expected: None,
            anchored_at: None,
            decided_ms: i64::MIN,
            kept: false,
        }
    }

    /// Resumes an interrupted purge: the event at `seq` carries a valid
    /// retention anchor (checked by the caller with
    /// [`Anchor::is_valid_for`](crate::Anchor::is_valid_for)), so the events
    /// still stored below it were already decided purgeable. They must still
    /// verify and link up to it.
    pub fn resuming_below(mut self, seq: u64) -> PurgeScan<'a> {
        self.anchored_at = Some(seq);
        self
    }

    /// The time the interrupted purge decided (its anchor's `created_ms`):
    /// what was expired then below the anchor still is, whatever this
    /// process's clock says.
    pub fn decided_at(mut self, created_ms: i64) -> PurgeScan<'a> {
        self.decided_ms = created_ms;
        self
    }

    /// Checks the next event (in sequence order); `is_head` for the newest
    /// event of the chain, which is always kept, as are the records of the
    /// store (shred and rotation records). Every expired event goes: the
    /// expired prefix entirely, each one after the first event kept as a
    /// stub (format 2; a format 1 event seals its content and is kept).
    ///
    /// # Errors
    /// [`Error::PurgeRefused`] naming the event when it is not authentic,
    /// does not link to the one before, or the chain does not start at
    /// genesis or a valid anchor.
    pub fn step(&mut self, event: &SealedEvent, is_head: bool) -> Result<PurgeStep> {
        let refuse = |reason: &str| Error::PurgeRefused {
            chain: event.chain.to_string(),
            seq: event.seq,
            reason: reason.to_owned(),
        };
        let secret = self
            .secrets
            .get(event.secret_id)
            .ok_or_else(|| refuse("sealed by an unknown secret"))?;
        if event.compute_seal(secret) != event.seal {
            return Err(refuse("its seal does not match its content"));
        }
        if let Some(mark) = &event.purged {
            mark.check(event, self.secrets)
                .map_err(|e| refuse(&format!("a stub no valid purge explains: {e}")))?;
            if mark.purged_ms > self.now_ms {
                return Err(refuse("a stub whose purge mark is dated after this purge"));
            }
        }
        match self.expected {
            None => {
                let genesis = event.seq == GENESIS_SEQ && event.prev == Seal::GENESIS;
                let anchored = event
                    .anchor
                    .as_ref()
                    .is_some_and(|a| a.is_valid_for(event, self.secrets));
                let below_anchor = self.anchored_at.is_some_and(|at| event.seq < at);
                if !(genesis || anchored || below_anchor) {
                    return Err(refuse(
                        "the chain starts neither at genesis nor at a valid anchor",
                    ));
                }
            }
            Some((seq, prev)) => {
                if event.seq != seq || event.prev != prev {
                    return Err(refuse("it does not follow the event before"));
                }
            }
        }
        self.expected = Some((event.seq.saturating_add(1), event.seal));
        let below_anchor = self.anchored_at.is_some_and(|at| event.seq < at);
        let expired =
            event.remove_at_ms.is_some_and(|at| at <= self.now_ms) && !is_system_record(event);
        // An interrupted purge left only what it had decided to purge below
        // its anchor: anything else there means the anchor is not a purge's
        // (forged by a holder of a retired secret, say).
        let expired_then = event
            .remove_at_ms
            .is_some_and(|at| at <= self.now_ms.max(self.decided_ms))
            && !is_system_record(event);
        if below_anchor && !is_head && !(expired_then || event.is_stub()) {
            return Err(refuse(
                "it stands below a retention anchor but has not expired: the anchor is not a purge's",
            ));
        }
        let step = match () {
            _ if is_head => PurgeStep::Keep,
            _ if !self.kept && (below_anchor || expired || event.is_stub()) => PurgeStep::Purge,
            _ if event.is_stub() => PurgeStep::Stubbed,
            _ if expired && event.version != LEGACY_FORMAT_VERSION => PurgeStep::Stub,
            _ => PurgeStep::Keep,
        };
        if step == PurgeStep::Keep {
            self.kept = true;
        }
        Ok(step)
    }
}
