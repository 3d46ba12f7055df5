//! The embedded default: an event log in memory.

use std::collections::BTreeMap;

use stream_chain::{
    shred_refusal, Anchor, ChainId, Chainer, EventDraft, Head, IntegrityReport, PurgeScan,
    PurgeStep, RotationRecord, Sealed, SealedEvent, ShredRecord, Verifier, VerifyReport,
    ROTATION_CODE, SHRED_CODE,
};
use stream_mongo::{PurgeOutcome, RotationProgress, SearchPage, SearchQuery, ShredOutcome};

use crate::error::Result;

/// Chains in memory, each a vector in sequence order.
#[derive(Debug, Default)]
pub(crate) struct MemoryLog {
    chains: BTreeMap<ChainId, Vec<SealedEvent>>,
    reports: Vec<IntegrityReport>,
}

impl MemoryLog {
    pub(crate) fn append(
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
        events.extend(rotation);
        events.extend(sealed.iter().cloned());
        Ok(sealed)
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
    ) -> Result<ShredOutcome> {
        let refuse = |why: String| {
            crate::Error::Mongo(stream_mongo::Error::NotShreddable {
                chain: chain.to_string(),
                seq,
                reason: why,
            })
        };
        let event = self.get(chain, seq);
        if let Some(why) = shred_refusal(event, key, chainer.secrets()) {
            return Err(refuse(why));
        }
        let wanted = event.map(|e| e.shreddable_keys(key)).unwrap_or_default();
        let covered: Vec<String> = self
            .chains
            .get(chain)
            .into_iter()
            .flatten()
            .filter(|e| e.seq > seq && e.seal_is_valid(chainer.secrets()))
            .filter_map(|e| ShredRecord::parse(e).and_then(|r| r.ok()))
            .filter(|r| r.target == seq)
            .flat_map(|r| r.keys)
            .collect();
        let record_seq = match ShredRecord::for_keys(seq, &wanted, &covered, reason) {
            Some(record) => {
                let sealed = self.append(chainer, chain, &[draft_of(record)])?;
                sealed.last().map(|e| e.seq)
            }
            None => None,
        };
        if let Some(event) = self.get_mut(chain, seq) {
            for k in &wanted {
                event.shred(Some(k));
            }
        }
        Ok(ShredOutcome {
            erased: wanted,
            record_seq,
        })
    }

    fn get_mut(&mut self, chain: &ChainId, seq: u64) -> Option<&mut SealedEvent> {
        let events = self.chains.get_mut(chain)?;
        let first = events.first()?.seq;
        events.get_mut(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    pub(crate) fn get(&self, chain: &ChainId, seq: u64) -> Option<&SealedEvent> {
        let events = self.chains.get(chain)?;
        let first = events.first()?.seq;
        events.get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    pub(crate) fn range(&self, chain: &ChainId, from: u64, to: u64) -> Vec<SealedEvent> {
        self.chains.get(chain).map_or_else(Vec::new, |events| {
            events
                .iter()
                .filter(|e| e.seq >= from && e.seq <= to)
                .cloned()
                .collect()
        })
    }

    pub(crate) fn search(&self, query: &SearchQuery) -> SearchPage {
        let mut found: Vec<&SealedEvent> = self
            .chains
            .values()
            .flatten()
            .filter(|e| query.matches(e))
            .collect();
        found.sort_by(|a, b| {
            let by_time = a.timestamp_ms.cmp(&b.timestamp_ms);
            let by_seq = a.seq.cmp(&b.seq);
            let (by_time, by_seq) = if query.oldest_first {
                (by_time, by_seq)
            } else {
                (by_time.reverse(), by_seq.reverse())
            };
            by_time.then(a.chain.cmp(&b.chain)).then(by_seq)
        });
        let total = found.len() as u64;
        let skip = usize::try_from(query.skip).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.page_size()).unwrap_or(usize::MAX);
        SearchPage {
            events: found.into_iter().skip(skip).take(limit).cloned().collect(),
            total,
        }
    }

    pub(crate) fn verify_into(&self, chain: Option<&ChainId>, verifier: &mut Verifier) {
        for (id, events) in &self.chains {
            if chain.is_none_or(|c| c == id) {
                events.iter().for_each(|e| verifier.push(e));
            }
        }
    }

    /// A verifier that learned the shred records first.
    pub(crate) fn verifier(&self, chainer: &Chainer, chain: Option<&ChainId>) -> Verifier {
        let mut verifier =
            Verifier::new(chainer.secrets().clone()).with_now_ms(stream_mongo::wall_clock_ms());
        self.learn_shreds(chain, &mut verifier);
        verifier
    }

    pub(crate) fn learn_shreds(&self, chain: Option<&ChainId>, verifier: &mut Verifier) {
        for (id, events) in &self.chains {
            if chain.is_none_or(|c| c == id) {
                events
                    .iter()
                    .filter(|e| e.code == SHRED_CODE || e.code == ROTATION_CODE)
                    .for_each(|e| verifier.learn_record(e));
            }
        }
    }

    pub(crate) fn verify(&self, chainer: &Chainer, chain: Option<&ChainId>) -> VerifyReport {
        let mut verifier = self.verifier(chainer, chain);
        self.verify_into(chain, &mut verifier);
        verifier.finish()
    }

    /// The authentic rotation records of `chain` that rotate forward.
    pub(crate) fn rotations(
        &self,
        chainer: &Chainer,
        chain: &ChainId,
    ) -> Vec<(u64, RotationRecord)> {
        self.chains
            .get(chain)
            .into_iter()
            .flatten()
            .filter(|e| e.code == ROTATION_CODE)
            .filter_map(|e| Some((e.seq, RotationRecord::authentic(e, chainer.secrets())?)))
            .collect()
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

    /// The same rule as MongoDB's purge: the verified, expired prefix goes
    /// (expiry read from the sealed `removeAt`), the first kept carries the
    /// anchor, every expired event after it becomes a stub; the newest
    /// event and the store's records stay.
    pub(crate) fn purge_expired(
        &mut self,
        chainer: &Chainer,
        chain: &ChainId,
        now_ms: i64,
    ) -> Result<PurgeOutcome> {
        let Some(events) = self.chains.get_mut(chain) else {
            return Ok(PurgeOutcome::default());
        };
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
        // Decide everything first (any doubt refuses before a change).
        for (i, event) in events.iter().enumerate() {
            match scan.step(event, i == last)? {
                PurgeStep::Keep if keep.is_none() => keep = Some(i),
                PurgeStep::Stub => stubs.push(i),
                _ => {}
            }
        }
        let mut outcome = PurgeOutcome::default();
        let secret = chainer.secret_for(events.last().map(|e| e.secret_id));
        for i in stubs {
            if let Some(event) = events.get_mut(i) {
                event.purge(now_ms, secret)?;
                outcome.stubbed += 1;
            }
        }
        let Some(keep) = keep else {
            outcome.first_kept = events.first().map(|e| e.seq);
            return Ok(outcome);
        };
        if keep > 0 {
            let anchor = Anchor::new(&events[keep], now_ms, secret);
            events[keep].anchor = Some(anchor);
            events.drain(..keep);
        }
        outcome.deleted = keep as u64;
        outcome.first_kept = events.first().map(|e| e.seq);
        Ok(outcome)
    }

    /// Re-wraps every data key under the primary; a record that cannot be
    /// re-wrapped is counted and left as it is (with why, for the first).
    pub(crate) fn rewrap(&mut self, chainer: &Chainer) -> (RotationProgress, Option<String>) {
        let mut progress = RotationProgress::default();
        let mut first = None;
        // As on MongoDB: the records holding a wrapped data key.
        let holds_key = |e: &SealedEvent| {
            e.details.iter().any(|d| {
                matches!(
                    &d.value,
                    stream_chain::DetailValue::Sensitive(stream_chain::SensitiveValue {
                        wrapped_dek: Some(_),
                        ..
                    })
                )
            })
        };
        for event in self.chains.values_mut().flatten().filter(|e| holds_key(e)) {
            progress.examined += 1;
            match chainer.rewrap(event) {
                Ok(0) => {}
                Ok(_) => progress.rewrapped += 1,
                Err(e) => {
                    progress.failed += 1;
                    first.get_or_insert_with(|| format!("{}#{}: {e}", event.chain, event.seq));
                }
            }
        }
        (progress, first)
    }
}
