//! Which findings a verification keeps: at most a configured number, chosen
//! so that no volume of findings of one chain and kind hides the earliest
//! finding of another chain or kind.
//!
//! Findings go to buckets, one per chain (or none) and kind. Each bucket
//! keeps its earliest findings (by sequence number). While the total is
//! below the limit, every finding is kept; at the limit, the largest
//! bucket gives up its latest finding for the new one, unless the new
//! one's bucket would then be at least as large (it then keeps its
//! earliest). So every bucket keeps at least its share of the limit (the
//! limit divided by the number of buckets, and at least its earliest
//! finding while there are fewer buckets than the limit), whatever the
//! order the findings come in. Memory: the kept findings, plus one entry
//! per non-empty bucket.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use crate::event::ChainId;
use crate::verify::Finding;

/// A bucket: a chain (or none) and a kind's name.
type Bucket = (Option<ChainId>, &'static str);

/// A finding ordered by where it is (chain, sequence number, kind).
#[derive(Debug, PartialEq, Eq)]
struct ByPlace(Finding);

impl Ord for ByPlace {
    fn cmp(&self, other: &ByPlace) -> Ordering {
        self.0.order_key().cmp(&other.0.order_key())
    }
}

impl PartialOrd for ByPlace {
    fn partial_cmp(&self, other: &ByPlace) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The findings kept.
#[derive(Debug)]
pub(crate) struct Kept {
    /// At most this many.
    max: usize,
    /// How many are kept.
    len: usize,
    /// Each bucket's findings, the latest on top.
    buckets: HashMap<Bucket, BinaryHeap<ByPlace>>,
    /// The non-empty buckets by size, the largest last.
    sizes: BTreeSet<(usize, Bucket)>,
    /// The earliest finding each bucket did not keep: a later one is not
    /// kept either, so that a bucket keeps its earliest findings.
    dropped: HashMap<Bucket, ByPlace>,
}

impl Kept {
    /// Keeps at most `max` findings.
    pub(crate) fn new(max: usize) -> Kept {
        Kept {
            max,
            len: 0,
            buckets: HashMap::new(),
            sizes: BTreeSet::new(),
            dropped: HashMap::new(),
        }
    }

    /// Sets the limit (before any finding is kept).
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// One more finding: kept, or not (see the module's rule).
    pub(crate) fn push(&mut self, finding: Finding) {
        if self.max == 0 {
            return;
        }
        let bucket: Bucket = (finding.chain.clone(), finding.kind.name());
        let finding = ByPlace(finding);
        if self
            .dropped
            .get(&bucket)
            .is_some_and(|first| finding >= *first)
        {
            return;
        }
        let own = self.buckets.get(&bucket).map_or(0, BinaryHeap::len);
        if self.len >= self.max {
            let largest = self.sizes.last().cloned();
            match largest {
                // Another bucket holds more than this one would: it gives
                // up its latest.
                Some((size, other)) if size > own + 1 => {
                    self.pop_latest(&other);
                }
                // This bucket is among the largest: it keeps its earliest.
                _ => {
                    let earlier = self
                        .buckets
                        .get(&bucket)
                        .and_then(BinaryHeap::peek)
                        .is_some_and(|latest| finding < *latest);
                    if !earlier {
                        self.drop_one(bucket, finding);
                        return;
                    }
                    self.pop_latest(&bucket);
                }
            }
        }
        let size = self.buckets.get(&bucket).map_or(0, BinaryHeap::len);
        self.sizes.remove(&(size, bucket.clone()));
        self.sizes.insert((size + 1, bucket.clone()));
        self.buckets.entry(bucket).or_default().push(finding);
        self.len += 1;
    }

    /// Drops the latest finding of `bucket`.
    fn pop_latest(&mut self, bucket: &Bucket) {
        let Some(heap) = self.buckets.get_mut(bucket) else {
            return;
        };
        let size = heap.len();
        let Some(latest) = heap.pop() else {
            return;
        };
        self.len -= 1;
        self.drop_one(bucket.clone(), latest);
        self.sizes.remove(&(size, bucket.clone()));
        if size > 1 {
            self.sizes.insert((size - 1, bucket.clone()));
        } else {
            self.buckets.remove(bucket);
        }
    }

    /// Notes that `bucket` did not keep `finding`.
    fn drop_one(&mut self, bucket: Bucket, finding: ByPlace) {
        match self.dropped.get_mut(&bucket) {
            Some(first) if finding >= *first => {}
            Some(first) => *first = finding,
            None => {
                self.dropped.insert(bucket, finding);
            }
        }
    }

    /// Every finding kept, earliest first (chain, sequence number, kind).
    pub(crate) fn into_sorted(self) -> Vec<Finding> {
        let mut all: Vec<Finding> = self
            .buckets
            .into_values()
            .flat_map(|heap| heap.into_vec().into_iter().map(|f| f.0))
            .collect();
        all.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        all
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::verify::FindingKind;

    fn finding(chain: Option<&str>, seq: u64, kind: FindingKind) -> Finding {
        Finding {
            chain: chain.map(|c| ChainId::new(c).unwrap()),
            seq: Some(seq),
            kind,
        }
    }

    #[test]
    fn junk_does_not_push_out_a_real_finding() {
        let mut kept = Kept::new(100);
        for i in 0..10_000 {
            kept.push(finding(None, i, FindingKind::Malformed("junk".into())));
        }
        kept.push(finding(Some("ca"), 7, FindingKind::Modified));
        for i in 0..10_000 {
            kept.push(finding(
                Some("ca"),
                100 + i,
                FindingKind::Gap { to: 100 + i },
            ));
        }
        let all = kept.into_sorted();
        assert_eq!(all.len(), 100);
        assert!(all.contains(&finding(Some("ca"), 7, FindingKind::Modified)));
        // Each bucket kept its earliest.
        assert!(all.contains(&finding(None, 0, FindingKind::Malformed("junk".into()))));
        assert!(all.contains(&finding(Some("ca"), 100, FindingKind::Gap { to: 100 })));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the order and the limit: at most `max` kept; with fewer
        /// buckets than the limit, the earliest finding of every bucket is
        /// kept, and each bucket keeps its earliest findings (a prefix).
        #[test]
        fn every_bucket_keeps_its_earliest(
            max in 1usize..40,
            items in proptest::collection::vec((0usize..4, 0u64..30, 0usize..3), 0..200),
        ) {
            let chains = [None, Some("a"), Some("b"), Some("c")];
            let kinds = [FindingKind::Modified, FindingKind::Duplicate, FindingKind::Fork];
            let mut kept = Kept::new(max);
            let all: Vec<Finding> = items
                .iter()
                .map(|&(c, s, k)| finding(chains[c], s, kinds[k].clone()))
                .collect();
            for f in &all {
                kept.push(f.clone());
            }
            let out = kept.into_sorted();
            prop_assert!(out.len() <= max);
            prop_assert_eq!(out.len(), all.len().min(max));
            let mut buckets: Vec<Bucket> = all.iter().map(|f| (f.chain.clone(), f.kind.name())).collect();
            buckets.sort();
            buckets.dedup();
            for bucket in &buckets {
                let mut mine: Vec<&Finding> = all.iter().filter(|f| (f.chain.clone(), f.kind.name()) == *bucket).collect();
                mine.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
                let got: Vec<&Finding> = out.iter().filter(|f| (f.chain.clone(), f.kind.name()) == *bucket).collect();
                if buckets.len() <= max {
                    prop_assert!(!got.is_empty(), "bucket {:?} lost its earliest", bucket);
                    prop_assert!(got.len() >= (max / buckets.len()).min(mine.len()));
                }
                // A prefix of its findings in order (equal places may tie).
                for (g, m) in got.iter().zip(&mine) {
                    prop_assert_eq!(g.order_key(), m.order_key());
                }
            }
        }
    }
}
