//! The embedded default: an event log in memory.

use std::collections::BTreeMap;

use stream_chain::{
    Anchor, ChainId, Chainer, EventDraft, Head, IntegrityReport, PurgeScan, PurgeStep, SealedEvent,
    Verifier, VerifyReport,
};
use stream_mongo::{PurgeOutcome, SearchPage, SearchQuery};

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
        let sealed = chainer.seal_batch(&mut head, drafts)?;
        events.extend(sealed.iter().cloned());
        Ok(sealed)
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

    pub(crate) fn verify(&self, chainer: &Chainer, chain: Option<&ChainId>) -> VerifyReport {
        let mut verifier = Verifier::new(chainer.secrets().clone());
        self.verify_into(chain, &mut verifier);
        verifier.finish()
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
    /// (expiry read from the sealed `removeAt`), the newest event stays, the
    /// first kept carries the anchor.
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
            scan = scan.resuming_below(event.seq);
        }
        let last = events.len().saturating_sub(1);
        let mut keep = None;
        for (i, event) in events.iter().enumerate() {
            if scan.step(event, i == last)? == PurgeStep::Keep {
                keep = Some(i);
                break;
            }
        }
        let Some(keep) = keep else {
            return Ok(PurgeOutcome::default());
        };
        if keep > 0 {
            let anchor = Anchor::new(&events[keep], now_ms, chainer.secrets().current());
            events[keep].anchor = Some(anchor);
            events.drain(..keep);
        }
        Ok(PurgeOutcome {
            deleted: keep as u64,
            first_kept: events.first().map(|e| e.seq),
        })
    }

    /// Re-wraps every data key; returns (examined, re-wrapped) events.
    pub(crate) fn rewrap(&mut self, chainer: &Chainer) -> Result<(u64, u64)> {
        let (mut examined, mut rewrapped) = (0, 0);
        for event in self.chains.values_mut().flatten() {
            examined += 1;
            if chainer.rewrap(event)? > 0 {
                rewrapped += 1;
            }
        }
        Ok((examined, rewrapped))
    }
}
