//! The embedded backend: an event log (and sealed documents) in memory.
//!
//! Its lock is held only for short, bounded work (sealing the events of an
//! append, copying a pointer, applying what was decided); verification,
//! purge decisions and re-wrapping run on a snapshot without it: each
//! chain is an `Arc`'d vector, so a snapshot is a pointer copy and an
//! append made meanwhile copies the vector once (copy on write).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use stream_chain::{
    shred_refusal, Anchor, ChainId, Chainer, DetailValue, EventDraft, Head, IntegrityReport,
    PurgeScan, PurgeStep, RotationRecord, Sealed, SealedEvent, SensitiveValue, ShredRecord,
    Verifier, VerifyReport, ROTATION_CODE, SHRED_CODE,
};
use stream_mongo::mongodb::bson::Document;
use stream_mongo::{PurgeOutcome, RotationProgress, SearchCursor, SearchQuery};

use crate::error::{Error, Result};

type Events = Arc<Vec<SealedEvent>>;

/// Chains in memory, each a vector in sequence order; reports; sealed
/// documents by collection and id.
#[derive(Debug, Default)]
pub(crate) struct MemoryLog {
    chains: BTreeMap<ChainId, Events>,
    ids: HashMap<(ChainId, String), u64>,
    reports: Vec<IntegrityReport>,
    documents: BTreeMap<(String, String), Document>,
}

/// The shared log; several stores may share one (as pods a database).
pub(crate) type Shared = Arc<Mutex<MemoryLog>>;

pub(crate) fn lock(log: &Mutex<MemoryLog>) -> MutexGuard<'_, MemoryLog> {
    // Every operation leaves the log consistent before it can panic (what
    // is decided is computed first, then applied): a poisoned lock is still
    // usable.
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Chains as they were at one moment.
pub(crate) struct Snapshot {
    chains: Vec<(ChainId, Events)>,
}

impl Snapshot {
    pub(crate) fn events(&self) -> impl Iterator<Item = &SealedEvent> {
        self.chains.iter().flat_map(|(_, e)| e.iter())
    }

    fn learn_records(&self, verifier: &mut Verifier) {
        self.events()
            .filter(|e| e.code == SHRED_CODE || e.code == ROTATION_CODE)
            .for_each(|e| verifier.learn_record(e));
    }

    /// A verifier that learned the shred and rotation records first.
    pub(crate) fn verifier(&self, chainer: &Chainer) -> Verifier {
        let mut verifier =
            Verifier::new(chainer.secrets().clone()).with_now_ms(stream_mongo::wall_clock_ms());
        self.learn_records(&mut verifier);
        verifier
    }

    pub(crate) fn verify_into(&self, verifier: &mut Verifier) {
        self.events().for_each(|e| verifier.push(e));
    }

    pub(crate) fn verify(&self, chainer: &Chainer) -> VerifyReport {
        let mut verifier = self.verifier(chainer);
        self.verify_into(&mut verifier);
        verifier.finish()
    }

    /// The authentic rotation records that rotate forward.
    pub(crate) fn rotations(&self, chainer: &Chainer) -> Vec<(u64, RotationRecord)> {
        self.events()
            .filter(|e| e.code == ROTATION_CODE)
            .filter_map(|e| Some((e.seq, RotationRecord::authentic(e, chainer.secrets())?)))
            .collect()
    }
}

/// What a purge of one chain will do, decided on a snapshot.
pub(crate) struct PurgePlan {
    chain: ChainId,
    seen: Events,
    stubs: Vec<usize>,
    keep: Option<usize>,
}

/// The same rule as MongoDB's purge: the verified, expired prefix goes
/// (expiry read from the sealed `removeAt`), the first kept carries the
/// anchor, every expired event after it becomes a stub; the newest event
/// and the store's records stay. Pure: decided on a snapshot.
pub(crate) fn plan_purge(
    chainer: &Chainer,
    chain: ChainId,
    events: Events,
    now_ms: i64,
) -> Result<PurgePlan> {
    let mut scan = PurgeScan::new(chainer.secrets(), now_ms);
    let anchored = events.iter().rev().find(|e| {
        e.anchor
            .as_ref()
            .is_some_and(|a| a.is_valid_for(e, chainer.secrets()))
    });
    if let Some(event) = anchored {
        let decided = event.anchor.as_ref().map_or(i64::MIN, |a| a.created_ms);
        scan = scan.resuming_below(event.seq).decided_at(decided);
    }
    let last = events.len().saturating_sub(1);
    let mut keep = None;
    let mut stubs = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match scan.step(event, i == last)? {
            PurgeStep::Keep if keep.is_none() => keep = Some(i),
            PurgeStep::Stub => stubs.push(i),
            _ => {}
        }
    }
    Ok(PurgePlan {
        chain,
        seen: events,
        stubs,
        keep,
    })
}

/// The re-wrapped copies of the events of a snapshot that hold a data key
/// not under the primary, with the counts; the first failure with why.
pub(crate) fn plan_rewrap(
    chainer: &Chainer,
    snapshot: &Snapshot,
) -> (Vec<SealedEvent>, RotationProgress, Option<String>) {
    let mut progress = RotationProgress::default();
    let mut first = None;
    let mut rewrapped = Vec::new();
    for event in snapshot.events().filter(|e| holds_key(e)) {
        progress.examined += 1;
        let mut copy = event.clone();
        match chainer.rewrap(&mut copy) {
            Ok(0) => {}
            Ok(_) => rewrapped.push(copy),
            Err(e) => {
                progress.failed += 1;
                first.get_or_insert_with(|| format!("{}#{}: {e}", event.chain, event.seq));
            }
        }
    }
    (rewrapped, progress, first)
}

/// Whether an event holds a wrapped data key.
fn holds_key(e: &SealedEvent) -> bool {
    e.details.iter().any(|d| {
        matches!(
            &d.value,
            DetailValue::Sensitive(SensitiveValue {
                wrapped_dek: Some(_),
                ..
            })
        )
    })
}

/// The payloads of an event, in order: what a re-wrap leaves unchanged.
fn payloads(e: &SealedEvent) -> Vec<&[u8]> {
    e.details
        .iter()
        .filter_map(|d| match &d.value {
            DetailValue::Sensitive(s) => Some(s.payload.as_slice()),
            DetailValue::Public(_) => None,
        })
        .collect()
}

impl MemoryLog {
    /// Appends drafts; a draft whose event id is stored already gets the
    /// stored event (if it is the same event), the others are sealed, in
    /// order and contiguous. All or nothing: any refusal comes before
    /// anything is stored.
    pub(crate) fn append(
        &mut self,
        chainer: &Chainer,
        chain: &ChainId,
        drafts: &[EventDraft],
    ) -> Result<Vec<SealedEvent>> {
        // Which drafts are new, which name a stored event (or one earlier
        // in this batch).
        enum Slot {
            Stored(Box<SealedEvent>),
            New(usize),
            Repeat(usize),
        }
        let mut fresh: Vec<&EventDraft> = Vec::new();
        let mut slots = Vec::with_capacity(drafts.len());
        let mut batch_ids: HashMap<&str, usize> = HashMap::new();
        for draft in drafts {
            if let Some(id) = &draft.event_id {
                if let Some(stored) = self.with_id(chain, id) {
                    chainer.check_same_event(draft, stored)?;
                    slots.push(Slot::Stored(Box::new(stored.clone())));
                    continue;
                }
                if let Some(&index) = batch_ids.get(id.as_str()) {
                    // Refused before anything is sealed: a batch is
                    // stored whole or not at all.
                    if !fresh.get(index).is_some_and(|first| first.same_as(draft)) {
                        return Err(stream_chain::Error::EventIdRepeated {
                            chain: chain.to_string(),
                            event_id: id.clone(),
                        }
                        .into());
                    }
                    slots.push(Slot::Repeat(index));
                    continue;
                }
                batch_ids.insert(id, fresh.len());
            }
            slots.push(Slot::New(fresh.len()));
            fresh.push(draft);
        }
        let sealed = if fresh.len() == drafts.len() {
            self.seal_new(chainer, chain, drafts)?
        } else if fresh.is_empty() {
            Vec::new()
        } else {
            let fresh: Vec<EventDraft> = fresh.into_iter().cloned().collect();
            self.seal_new(chainer, chain, &fresh)?
        };
        let mut out = Vec::with_capacity(drafts.len());
        for slot in slots {
            let event = match &slot {
                Slot::Stored(stored) => (**stored).clone(),
                Slot::New(index) | Slot::Repeat(index) => {
                    let Some(event) = sealed.get(*index) else {
                        return Err(Error::internal("an append lost one of its events"));
                    };
                    event.clone()
                }
            };
            out.push(event);
        }
        Ok(out)
    }

    fn seal_new(
        &mut self,
        chainer: &Chainer,
        chain: &ChainId,
        drafts: &[EventDraft],
    ) -> Result<Vec<SealedEvent>> {
        let events = self.chains.entry(chain.clone()).or_default();
        let mut head = events
            .last()
            .map_or_else(|| Head::genesis(chain.clone()), Head::after);
        // The newest authentic rotation record decides the secret, as on
        // MongoDB (several stores may share this log, as pods a database).
        let rotation = events
            .iter()
            .rev()
            .filter(|e| e.code == ROTATION_CODE)
            .find_map(|e| RotationRecord::authentic(e, chainer.secrets()));
        let plan = chainer.plan(&head, rotation.as_ref())?;
        let Sealed {
            rotation,
            events: sealed,
        } = chainer.seal_planned(&mut head, drafts, &plan)?;
        let events = Arc::make_mut(events);
        events.extend(rotation);
        events.extend(sealed.iter().cloned());
        for event in &sealed {
            if let Some(id) = &event.event_id {
                self.ids.insert((chain.clone(), id.clone()), event.seq);
            }
        }
        Ok(sealed)
    }

    fn with_id(&self, chain: &ChainId, id: &str) -> Option<&SealedEvent> {
        let seq = *self.ids.get(&(chain.clone(), id.to_owned()))?;
        self.get(chain, seq)
            .filter(|e| e.event_id.as_deref() == Some(id))
    }

    /// Crypto-shredding, as on MongoDB: the shred record first (unless an
    /// earlier one covers the keys), then the data keys erased.
    pub(crate) fn shred(
        &mut self,
        chainer: &Chainer,
        chain: &ChainId,
        seq: u64,
        key: Option<&str>,
        draft_of: impl FnOnce(ShredRecord) -> EventDraft,
        reason: &str,
    ) -> Result<stream_mongo::ShredOutcome> {
        let event = self.get(chain, seq);
        if let Some(why) = shred_refusal(event, key, chainer.secrets()) {
            return Err(stream_mongo::Error::NotShreddable {
                chain: chain.to_string(),
                seq,
                reason: why,
            }
            .into());
        }
        let wanted = event.map(|e| e.shreddable_keys(key)).unwrap_or_default();
        let covered: Vec<String> = self
            .chains
            .get(chain)
            .into_iter()
            .flat_map(|e| e.iter())
            .filter(|e| e.seq > seq && e.seal_is_valid(chainer.secrets()))
            .filter_map(|e| ShredRecord::parse(e).and_then(|r| r.ok()))
            .filter(|r| r.target == seq)
            .flat_map(|r| r.keys)
            .collect();
        let record_seq = match ShredRecord::for_keys(seq, &wanted, &covered, reason) {
            Some(record) => {
                let sealed = self.seal_new(chainer, chain, &[draft_of(record)])?;
                sealed.last().map(|e| e.seq)
            }
            None => None,
        };
        if let Some(event) = self.get_mut(chain, seq) {
            for k in &wanted {
                event.shred(Some(k));
            }
        }
        Ok(stream_mongo::ShredOutcome {
            erased: wanted,
            record_seq,
        })
    }

    fn index_of(events: &[SealedEvent], seq: u64) -> Option<usize> {
        let first = events.first()?.seq;
        usize::try_from(seq.checked_sub(first)?).ok()
    }

    fn get_mut(&mut self, chain: &ChainId, seq: u64) -> Option<&mut SealedEvent> {
        let events = Arc::make_mut(self.chains.get_mut(chain)?);
        let index = Self::index_of(events, seq)?;
        events.get_mut(index)
    }

    pub(crate) fn get(&self, chain: &ChainId, seq: u64) -> Option<&SealedEvent> {
        let events = self.chains.get(chain)?;
        events.get(Self::index_of(events, seq)?)
    }

    /// The chains (all, or one) as they are now: a pointer copy each.
    pub(crate) fn snapshot(&self, chain: Option<&ChainId>) -> Snapshot {
        Snapshot {
            chains: self
                .chains
                .iter()
                .filter(|(id, _)| chain.is_none_or(|c| c == *id))
                .map(|(id, events)| (id.clone(), events.clone()))
                .collect(),
        }
    }

    pub(crate) fn chain(&self, chain: &ChainId) -> Events {
        self.chains.get(chain).cloned().unwrap_or_default()
    }

    /// One page of search results: the matching events after `cursor`.
    pub(crate) fn search_page(
        &self,
        query: &SearchQuery,
        cursor: Option<&SearchCursor>,
    ) -> Vec<SealedEvent> {
        let mut found: Vec<&SealedEvent> = self
            .chains
            .values()
            .flat_map(|e| e.iter())
            .filter(|e| query.matches(e))
            .filter(|e| cursor.is_none_or(|c| query.is_after(e, c)))
            .collect();
        found.sort_by(|a, b| query.order(a, b));
        found
            .into_iter()
            .take(query.page_size as usize + 1)
            .cloned()
            .collect()
    }

    pub(crate) fn count(&self, query: &SearchQuery) -> u64 {
        self.chains
            .values()
            .flat_map(|e| e.iter())
            .filter(|e| query.matches(e))
            .count() as u64
    }

    pub(crate) fn chains(&self) -> Vec<ChainId> {
        self.chains.keys().cloned().collect()
    }

    pub(crate) fn store_report(&mut self, report: IntegrityReport) {
        self.reports.push(report);
    }

    pub(crate) fn last_report(&self, chain: &ChainId) -> Option<&IntegrityReport> {
        self.reports
            .iter()
            .filter(|r| &r.chain == chain)
            .max_by_key(|r| r.to_seq)
    }

    pub(crate) fn reports(&self, chain: &ChainId) -> Vec<IntegrityReport> {
        self.reports
            .iter()
            .filter(|r| &r.chain == chain)
            .cloned()
            .collect()
    }

    /// Applies a purge decided on a snapshot, if the chain did not change
    /// since; `None` if it did (decide again).
    pub(crate) fn apply_purge(
        &mut self,
        plan: PurgePlan,
        chainer: &Chainer,
        now_ms: i64,
    ) -> Result<Option<PurgeOutcome>> {
        let PurgePlan {
            chain,
            seen,
            stubs,
            keep,
        } = plan;
        let Some(current) = self.chains.get_mut(&chain) else {
            return Ok(Some(PurgeOutcome::default()));
        };
        if !Arc::ptr_eq(current, &seen) {
            return Ok(None);
        }
        drop(seen);
        let events = Arc::make_mut(current);
        let mut outcome = PurgeOutcome::default();
        let secret = chainer.secret_for(events.last().map(|e| e.secret_id));
        // Checked by the plan: each stub is expired, of format 2 or later,
        // and not a stub yet, so `purge` cannot refuse; were it to, nothing
        // of that event changes.
        for i in stubs {
            if let Some(event) = events.get_mut(i) {
                event.purge(now_ms, secret)?;
                outcome.stubbed += 1;
            }
        }
        let Some(keep) = keep else {
            outcome.first_kept = events.first().map(|e| e.seq);
            return Ok(Some(outcome));
        };
        if keep > 0 {
            let anchor = Anchor::new(&events[keep], now_ms, secret);
            events[keep].anchor = Some(anchor);
            events.drain(..keep);
        }
        outcome.deleted = keep as u64;
        outcome.first_kept = events.first().map(|e| e.seq);
        Ok(Some(outcome))
    }

    /// Writes the re-wrapped events, each only where the stored event still
    /// holds the keys it was re-wrapped from (a shred meanwhile wins);
    /// returns how many were written and how many had changed.
    pub(crate) fn apply_rewrap(
        &mut self,
        rewrapped: Vec<SealedEvent>,
        before: &Snapshot,
    ) -> (u64, u64) {
        let (mut written, mut changed) = (0, 0);
        let originals: HashMap<(&ChainId, u64), &SealedEvent> =
            before.events().map(|e| ((&e.chain, e.seq), e)).collect();
        for new in rewrapped {
            let original = originals.get(&(&new.chain, new.seq));
            let chain = new.chain.clone();
            let seq = new.seq;
            match (self.get_mut(&chain, seq), original) {
                // Only an event unchanged since the snapshot (no shred, no
                // anchor or stub from a purge meanwhile).
                (Some(stored), Some(original))
                    if *stored == **original && payloads(stored) == payloads(&new) =>
                {
                    *stored = new;
                    written += 1;
                }
                _ => changed += 1,
            }
        }
        (written, changed)
    }

    pub(crate) fn put_document(&mut self, collection: &str, id: &str, document: Document) {
        self.documents
            .insert((collection.to_owned(), id.to_owned()), document);
    }

    /// Replaces document `id` by `new` if it is still `expected`.
    pub(crate) fn replace_document(
        &mut self,
        collection: &str,
        id: &str,
        expected: &Document,
        new: Document,
    ) -> bool {
        match self
            .documents
            .get_mut(&(collection.to_owned(), id.to_owned()))
        {
            Some(stored) if stored == expected => {
                *stored = new;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn document(&self, collection: &str, id: &str) -> Option<Document> {
        self.documents
            .get(&(collection.to_owned(), id.to_owned()))
            .cloned()
    }

    pub(crate) fn documents_of(&self, collection: &str) -> Vec<(String, Document)> {
        self.documents
            .iter()
            .filter(|((c, _), _)| c == collection)
            .map(|((_, id), d)| (id.clone(), d.clone()))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stream_chain::{SealSecret, SealSecrets, Status, Timestamp};
    use stream_keyset::{Algorithm, Keyset, Template};

    fn chainer(keyset: &Keyset) -> Chainer {
        let secrets = SealSecrets::new(
            SealSecret::from_env_value("memory-unit-test-secret-32-chars").unwrap(),
        );
        Chainer::new(
            secrets,
            Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
        )
    }

    fn draft(i: i64) -> EventDraft {
        EventDraft::new(
            "T",
            "ca",
            "pod",
            Status::Success,
            Timestamp::from_millis(1_700_000_000_000 + i),
        )
    }

    /// A re-wrap decided before a purge anchored the event it re-wraps
    /// leaves that event alone (it changed meanwhile): the anchor stays and
    /// the chain verifies.
    #[test]
    fn a_rewrap_never_undoes_a_purge_made_meanwhile() {
        let mut keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let old = chainer(&keyset);
        let chain = ChainId::new("a").unwrap();
        let mut log = MemoryLog::default();
        let now = stream_mongo::wall_clock_ms();
        log.append(
            &old,
            &chain,
            &[
                draft(0).remove_at(Timestamp::from_millis(now - 10)),
                draft(1).sensitive("s", b"secret".to_vec()),
                draft(2),
            ],
        )
        .unwrap();
        let new = keyset.add(Template::AES256_GCM_SIV);
        keyset.promote(new).unwrap();
        let rotated = chainer(&keyset);
        let snapshot = log.snapshot(None);
        let (rewrapped, _, first) = plan_rewrap(&rotated, &snapshot);
        assert!(first.is_none());
        assert_eq!(rewrapped.len(), 1);
        let plan = plan_purge(&rotated, chain.clone(), log.chain(&chain), now).unwrap();
        assert_eq!(
            log.apply_purge(plan, &rotated, now)
                .unwrap()
                .unwrap()
                .deleted,
            1
        );
        assert_eq!(
            log.apply_rewrap(rewrapped, &snapshot),
            (0, 1),
            "changed meanwhile: left alone"
        );
        let report = log.snapshot(None).verify(&rotated);
        assert!(report.is_ok(), "{:?}", report.findings);
    }

    /// A purge decided before an append is not applied over it.
    #[test]
    fn a_purge_decided_before_an_append_is_decided_again() {
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let c = chainer(&keyset);
        let chain = ChainId::new("a").unwrap();
        let mut log = MemoryLog::default();
        let now = stream_mongo::wall_clock_ms();
        log.append(
            &c,
            &chain,
            &[
                draft(0).remove_at(Timestamp::from_millis(now - 10)),
                draft(1),
            ],
        )
        .unwrap();
        let plan = plan_purge(&c, chain.clone(), log.chain(&chain), now).unwrap();
        log.append(&c, &chain, &[draft(2)]).unwrap();
        assert!(log.apply_purge(plan, &c, now).unwrap().is_none());
        assert_eq!(log.chain(&chain).len(), 3);
    }

    /// One id for two different events in a batch: nothing is stored.
    #[test]
    fn a_repeated_id_with_another_content_stores_nothing() {
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let c = chainer(&keyset);
        let chain = ChainId::new("a").unwrap();
        let mut log = MemoryLog::default();
        let e = log.append(
            &c,
            &chain,
            &[
                draft(0).public("k", "a").with_event_id("x"),
                draft(1).public("k", "b").with_event_id("x"),
            ],
        );
        assert!(e.is_err());
        assert!(log.chain(&chain).is_empty());
    }
}
