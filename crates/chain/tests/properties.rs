//! Properties of sealed chains, checked with `proptest` on random chains of
//! 1 to 2,000 events over 1 to 4 interleaved chains, with a seal-secret
//! rotation inside and a few sensitive details:
//!
//! - an untouched dump always verifies, with no finding at all;
//! - every single modification, deletion, insertion, duplication or
//!   reordering is reported, the earliest error naming its chain, sequence
//!   number and kind (DESIGN property 4);
//! - what the seal does not cover (wrapped data keys: keyset rotation,
//!   crypto-shredding) never breaks a chain (property 2), and the verifier
//!   needs the seal secrets only (property 1);
//! - a ciphertext moved elsewhere does not decrypt (property 3);
//! - checkpoints reveal truncation; retention anchors allow purging;
//! - arbitrary records never make the verifier panic (property 6).

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    append_at_head, build, describe, first_error, positions, verify, verify_all, Fixture, Rng, Spec,
};
use proptest::prelude::*;
use proptest::sample::Index;
use stream_chain::{
    Anchor, ChainId, Checkpoint, DetailValue, Error, FindingKind, Head, Record, SealSecret,
    SealSecrets, SealedEvent, SecretId, ShredRecord, Status, Verifier, VerifyReport,
};
use stream_keyset::{Algorithm, Template};

/// Random chains: 1 to 2,000 events (uniformly, so big ones are common),
/// 1 to 4 chains, round-robin or random interleaving.
fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=2000, 1usize..=4, any::<bool>(), any::<u64>()).prop_map(
        |(events, chains, round_robin, seed)| Spec {
            events,
            chains,
            round_robin,
            seed,
        },
    )
}

/// 2,000 events seal and verify in under 0.1 s in a debug build: 32 cases
/// per property keep the file well under a minute. `PROPTEST_CASES` asks
/// for more (a deeper run before a release).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        // No regression files: the test crate has no `lib.rs` to put them by.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A sealed field of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Code,
    Module,
    Node,
    PublicValue,
    SensitivePayload,
    Timestamp,
    Status,
    RemoveAt,
    Prev,
    Seal,
    SecretId,
}

const FIELDS: [Field; 11] = [
    Field::Code,
    Field::Module,
    Field::Node,
    Field::PublicValue,
    Field::SensitivePayload,
    Field::Timestamp,
    Field::Status,
    Field::RemoveAt,
    Field::Prev,
    Field::Seal,
    Field::SecretId,
];

fn field() -> impl Strategy<Value = Field> {
    proptest::sample::select(FIELDS.to_vec())
}

/// Whether `event` has this field to change.
fn has_field(event: &SealedEvent, field: Field) -> bool {
    match field {
        Field::PublicValue => event
            .details
            .iter()
            .any(|d| matches!(d.value, DetailValue::Public(_))),
        Field::SensitivePayload => event
            .details
            .iter()
            .any(|d| matches!(d.value, DetailValue::Sensitive(_))),
        _ => true,
    }
}

/// A non-zero byte to XOR with.
fn nonzero(sel: u64) -> u8 {
    1 + ((sel >> 40) % 255) as u8
}

fn flip(bytes: &mut [u8], sel: u64) {
    let i = (sel % bytes.len() as u64) as usize;
    bytes[i] ^= nonzero(sel);
}

/// Changes one byte of an ASCII string to another ASCII letter or digit.
fn change_char(s: &mut String, sel: u64) {
    let mut bytes = std::mem::take(s).into_bytes();
    let i = (sel % bytes.len() as u64) as usize;
    let mut new = common::alnum((sel >> 32) as usize) as u8;
    if new == bytes[i] {
        new = if new == b'A' { b'B' } else { b'A' };
    }
    bytes[i] = new;
    *s = String::from_utf8(bytes).unwrap();
}

/// Changes one byte (or value) of `field`, which `event` has.
fn mutate(event: &mut SealedEvent, field: Field, sel: u64) {
    match field {
        Field::Code => change_char(&mut event.code, sel),
        Field::Module => change_char(&mut event.module, sel),
        Field::Node => change_char(&mut event.node, sel),
        Field::PublicValue | Field::SensitivePayload => {
            let candidates: Vec<&mut DetailValue> = event
                .details
                .iter_mut()
                .map(|d| &mut d.value)
                .filter(|v| match v {
                    DetailValue::Public(_) => field == Field::PublicValue,
                    DetailValue::Sensitive(_) => field == Field::SensitivePayload,
                })
                .collect();
            let count = candidates.len();
            let value = candidates
                .into_iter()
                .nth((sel >> 8) as usize % count)
                .unwrap();
            match value {
                DetailValue::Public(v) => change_char(v, sel),
                DetailValue::Sensitive(v) => flip(&mut v.payload, sel),
            }
        }
        Field::Timestamp => {
            let mut bytes = event.timestamp_ms.to_be_bytes();
            flip(&mut bytes, sel);
            event.timestamp_ms = i64::from_be_bytes(bytes);
        }
        Field::Status => {
            let at = STATUSES_ORDER
                .iter()
                .position(|s| *s == event.status)
                .unwrap();
            event.status = STATUSES_ORDER[(at + 1 + (sel % 2) as usize) % 3];
        }
        Field::RemoveAt => {
            event.remove_at_ms = match event.remove_at_ms {
                Some(_) if sel.is_multiple_of(3) => None,
                Some(v) => {
                    let mut bytes = v.to_be_bytes();
                    flip(&mut bytes, sel);
                    Some(i64::from_be_bytes(bytes))
                }
                None => Some(sel as i64),
            }
        }
        Field::Prev => flip(&mut event.prev.0, sel),
        Field::Seal => flip(&mut event.seal.0, sel),
        Field::SecretId => flip(&mut event.secret_id.0, sel),
    }
}

/// What a change of `field` (already made to `event`) is reported as: an
/// unknown secret id is `UnknownSecret`, anything else `Modified`.
fn expected_kind(secrets: &SealSecrets, event: &SealedEvent, field: Field) -> &'static str {
    if field == Field::SecretId && secrets.get(event.secret_id).is_none() {
        "unknown_secret"
    } else {
        "modified"
    }
}

const STATUSES_ORDER: [Status; 3] = [Status::Success, Status::Warning, Status::Failure];

/// The position of an event to work on among those satisfying `ok`
/// (`None` if there is none).
fn choose(
    events: &[SealedEvent],
    pick: &Index,
    ok: impl Fn(&SealedEvent) -> bool,
) -> Option<usize> {
    let candidates: Vec<usize> = (0..events.len()).filter(|&i| ok(&events[i])).collect();
    (!candidates.is_empty()).then(|| candidates[pick.index(candidates.len())])
}

/// The newest sequence number of the chain of `event` in the fixture.
fn last_seq(fixture: &Fixture, chain: &ChainId) -> u64 {
    fixture
        .heads
        .iter()
        .find(|h| &h.chain == chain)
        .map_or(0, |h| h.next_seq - 1)
}

/// Asserts that the earliest error is `kind` at `chain`#`seq`.
fn assert_first(
    report: &VerifyReport,
    chain: &ChainId,
    seq: u64,
    kind: &'static str,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        first_error(report),
        Some((chain.to_string(), Some(seq), kind)),
        "findings: {}",
        describe(report)
    );
    Ok(())
}

fn assert_clean(report: &VerifyReport) -> Result<(), TestCaseError> {
    prop_assert!(report.is_ok(), "findings: {}", describe(report));
    prop_assert!(report.findings.is_empty(), "findings: {}", describe(report));
    prop_assert_eq!(report.total_findings, 0);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// An untouched dump verifies with no finding, with only the seal
    /// secrets (property 1), and the summaries name every head.
    #[test]
    fn untouched_chains_verify(spec in spec()) {
        let fx = build(&spec);
        let report = verify_all(&fx.secrets, &fx.events);
        assert_clean(&report)?;
        prop_assert_eq!(report.records, fx.events.len() as u64);
        let present = fx.heads.iter().filter(|h| h.next_seq > 1).count();
        prop_assert_eq!(report.chains.len(), present);
        for summary in &report.chains {
            let head = fx.heads.iter().find(|h| h.chain == summary.chain).unwrap();
            prop_assert_eq!(summary.first_seq, Some(1));
            prop_assert_eq!(summary.last_seq, Some(head.next_seq - 1));
            prop_assert_eq!(summary.head_seal, Some(head.prev));
            prop_assert_eq!(summary.events, head.next_seq - 1);
        }
    }

    /// Changing any byte of any sealed field is `Modified` at that event,
    /// and nothing else is reported; a changed secret id is
    /// `UnknownSecret` (or `Modified` if it names another known secret).
    #[test]
    fn a_changed_field_is_modified_there(
        spec in spec(), field in field(), pick in any::<Index>(), sel in any::<u64>(),
    ) {
        let fx = build(&spec);
        let Some(i) = choose(&fx.events, &pick, |e| has_field(e, field)) else {
            return Err(TestCaseError::reject("no event has this field"));
        };
        let mut events = fx.events.clone();
        mutate(&mut events[i], field, sel);
        let (chain, seq) = (events[i].chain.clone(), events[i].seq);
        let kind = expected_kind(&fx.secrets, &events[i], field);
        let report = verify_all(&fx.secrets, &events);
        assert_first(&report, &chain, seq, kind)?;
        prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
    }

    /// What the seal does not cover never breaks a chain (property 2):
    /// a changed wrapped data key, crypto-shredding, keyset rotation with
    /// re-wrapping; after re-wrapping every sensitive detail still opens.
    #[test]
    fn unsealed_changes_keep_the_chain_valid(
        spec in spec(), pick in any::<Index>(), sel in any::<u64>(),
    ) {
        let mut fx = build(&spec);
        let target = &fx.sensitive[pick.index(fx.sensitive.len())];

        // A changed wrapped data key: the chain verifies, the detail no
        // longer opens.
        let mut events = fx.events.clone();
        let event = &mut events[target.index];
        let detail = event.details.iter_mut().find(|d| d.key == target.key).unwrap();
        let DetailValue::Sensitive(value) = &mut detail.value else { unreachable!() };
        flip(value.wrapped_dek.as_mut().unwrap(), sel);
        prop_assert!(fx.chainer.open_detail(&events[target.index], &target.key).is_err());
        assert_clean(&verify_all(&fx.secrets, &events))?;

        // Crypto-shredding one event, with its shred record: clean.
        let mut events = fx.events.clone();
        let erased = events[target.index].shred(None);
        let expected = fx.sensitive.iter().filter(|s| s.index == target.index).count();
        prop_assert_eq!(erased, expected);
        prop_assert!(matches!(
            fx.chainer.open_detail(&events[target.index], &target.key),
            Err(Error::InvalidEvent(_))
        ));
        let shredded = events[target.index].clone();
        let keys: Vec<String> = fx.sensitive.iter().filter(|s| s.index == target.index).map(|s| s.key.clone()).collect();
        // Without a record, each erased key is reported there.
        let report = verify_all(&fx.secrets, &events);
        let mut erased_keys: Vec<String> = report.findings.iter().filter_map(|f| match &f.kind {
            FindingKind::KeyErased(k) if f.seq == Some(shredded.seq) && f.chain.as_ref() == Some(&shredded.chain) => Some(k.clone()),
            _ => None,
        }).collect();
        erased_keys.sort();
        let mut want = keys.clone();
        want.sort();
        prop_assert_eq!(&erased_keys, &want);
        prop_assert_eq!(report.errors as usize, want.len());
        let record = ShredRecord { target: shredded.seq, keys: keys.clone(), reason: "GDPR erasure".into() };
        let with_record_at = append_at_head(&fx, &mut events, &shredded.chain, &record.draft("pod-1", fx.last_ts));
        prop_assert!(with_record_at > shredded.seq);
        assert_clean(&verify_all(&fx.secrets, &events))?;
        // The key restored from a backup, the record learned first: unshredded there.
        let mut restored = events.clone();
        restored[target.index] = fx.events[target.index].clone();
        let mut verifier = Verifier::new(fx.secrets.clone());
        restored.iter().for_each(|e| verifier.learn_shred(e));
        let report = verify(verifier, &restored);
        prop_assert_eq!(report.errors as usize, keys.len(), "{:?}", report.findings);
        prop_assert!(report.findings.iter().all(|f| matches!(f.kind, FindingKind::Unshredded(_)) && f.seq == Some(shredded.seq)));

        // Keyset rotation: add, promote, re-wrap everything.
        let new_key = fx.keyset.add(Template::AES256_GCM_SIV);
        fx.keyset.promote(new_key).unwrap();
        let rotated = stream_chain::Chainer::new(
            fx.secrets.clone(),
            Some(fx.keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
        );
        let mut events = fx.events.clone();
        let mut rewrapped = 0;
        for event in &mut events {
            rewrapped += rotated.rewrap(event).unwrap();
        }
        prop_assert_eq!(rewrapped, fx.sensitive.len());
        for event in &mut events {
            prop_assert_eq!(rotated.rewrap(event).unwrap(), 0, "already under the primary");
        }
        assert_clean(&verify_all(&fx.secrets, &events))?;
        for secret in &fx.sensitive {
            let event = &events[secret.index];
            prop_assert_ne!(event.detail(&secret.key), fx.events[secret.index].detail(&secret.key));
            prop_assert_eq!(&rotated.open_detail(event, &secret.key).unwrap(), &secret.plaintext);
        }
    }

    /// Deleting an event that is not the newest of its chain is a gap at
    /// its sequence number; deleting a genesis is a gap at 1.
    #[test]
    fn a_deleted_event_is_a_gap(spec in spec(), pick in any::<Index>(), genesis in any::<bool>()) {
        let fx = build(&spec);
        let Some(i) = choose(&fx.events, &pick, |e| {
            e.seq < last_seq(&fx, &e.chain) && (!genesis || e.seq == 1)
        }) else {
            return Err(TestCaseError::reject("every chain has a single event"));
        };
        let mut events = fx.events.clone();
        let gone = events.remove(i);
        let report = verify_all(&fx.secrets, &events);
        assert_first(&report, &gone.chain, gone.seq, "gap")?;
        prop_assert_eq!(
            &report.first_error().unwrap().kind,
            &FindingKind::Gap { to: gone.seq }
        );
        prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
    }

    /// A forged copy of an event (one sealed field changed, same sequence
    /// number) stored right before or right after the original, or
    /// anywhere within the window, is `Inserted` at that sequence number.
    #[test]
    fn a_forged_copy_is_inserted(
        spec in spec(),
        field in field().prop_filter("a changed secret id is an unknown secret", |f| *f != Field::SecretId),
        pick in any::<Index>(),
        sel in any::<u64>(),
        place in 0u8..3,
        anywhere in any::<Index>(),
    ) {
        let fx = build(&spec);
        let Some(i) = choose(&fx.events, &pick, |e| has_field(e, field)) else {
            return Err(TestCaseError::reject("no event has this field"));
        };
        let mut forged = fx.events[i].clone();
        mutate(&mut forged, field, sel);
        let (chain, seq) = (forged.chain.clone(), forged.seq);
        let mut events = fx.events.clone();
        let at = match place {
            0 => i,                                  // right before the original
            1 => i + 1,                              // right after it
            _ => anywhere.index(events.len() + 1),   // anywhere (within the window)
        };
        events.insert(at, forged);
        let report = verify_all(&fx.secrets, &events);
        assert_first(&report, &chain, seq, "inserted")?;
        prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
    }

    /// An exact copy of an event stored again, later (or anywhere) within
    /// the window, is a `Duplicate` at its sequence number.
    #[test]
    fn a_duplicate_is_reported(
        spec in spec(), pick in any::<Index>(), to in any::<Index>(), later in any::<bool>(),
    ) {
        let fx = build(&spec);
        let i = pick.index(fx.events.len());
        let copy = fx.events[i].clone();
        let at = if later {
            i + 1 + to.index(fx.events.len() - i)
        } else {
            to.index(fx.events.len() + 1)
        };
        let mut events = fx.events.clone();
        events.insert(at, copy.clone());
        let report = verify_all(&fx.secrets, &events);
        assert_first(&report, &copy.chain, copy.seq, "duplicate")?;
        prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
    }

    /// Swapping the sequence numbers of two events of one chain is
    /// `Modified` at the smaller one.
    #[test]
    fn swapped_sequence_numbers_are_modified(
        spec in spec(), chain in any::<Index>(), a in any::<Index>(), b in any::<Index>(),
    ) {
        let fx = build(&spec);
        let long: Vec<&ChainId> = fx.chains.iter().filter(|c| last_seq(&fx, c) >= 2).collect();
        if long.is_empty() {
            return Err(TestCaseError::reject("no chain of two events"));
        }
        let chain = long[chain.index(long.len())];
        let at = positions(&fx.events, chain);
        let (x, y) = (a.index(at.len()), b.index(at.len()));
        if x == y {
            return Err(TestCaseError::reject("the same event"));
        }
        let (x, y) = (at[x.min(y)], at[x.max(y)]);
        let mut events = fx.events.clone();
        let (low, high) = (events[x].seq, events[y].seq);
        events[x].seq = high;
        events[y].seq = low;
        let report = verify_all(&fx.secrets, &events);
        assert_first(&report, chain, low, "modified")?;
    }

    /// Checkpoints: an untouched chain verifies against its checkpoint, so
    /// does a chain extended after it, and the events after it alone (or
    /// from its head on); a truncated tail is `Truncated` right after the
    /// new last event; a tampered checkpoint is refused.
    #[test]
    fn checkpoints_reveal_truncation(
        spec in spec(), chain in any::<Index>(), cut in any::<Index>(), extra in 1usize..40, sel in any::<u64>(),
    ) {
        let fx = build(&spec);
        let first = verify_all(&fx.secrets, &fx.events);
        let checkpoints: Vec<Checkpoint> = first
            .chains
            .iter()
            .map(|s| Checkpoint::from_summary(s, fx.secrets.current()).unwrap())
            .collect();
        for cp in &checkpoints {
            prop_assert_eq!(&Checkpoint::from_json(&cp.to_json()).unwrap(), cp);
        }
        let trusting = || {
            let mut verifier = Verifier::new(fx.secrets.clone());
            for cp in &checkpoints {
                verifier.trust_checkpoint(cp.clone()).unwrap();
            }
            verifier
        };

        // Untouched.
        assert_clean(&verify(trusting(), &fx.events))?;

        let cp = &checkpoints[chain.index(checkpoints.len())];
        let at = positions(&fx.events, &cp.chain);

        // Truncated to 1..=cut (at least one event kept).
        if cp.seq >= 2 {
            let keep = 1 + cut.index(cp.seq as usize - 1) as u64;
            let events: Vec<SealedEvent> = fx
                .events
                .iter()
                .filter(|e| e.chain != cp.chain || e.seq <= keep)
                .cloned()
                .collect();
            let plain = verify_all(&fx.secrets, &events);
            assert_clean(&plain)?; // undetectable without the checkpoint
            let report = verify(trusting(), &events);
            assert_first(&report, &cp.chain, keep + 1, "truncated")?;
            prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
        }

        // Extended after the checkpoint.
        let mut rng = Rng::new(sel);
        let mut head = Head::after(&fx.events[*at.last().unwrap()]);
        let mut ts = fx.last_ts;
        let mut more = Vec::new();
        for _ in 0..extra {
            ts += rng.below(100) as i64;
            let (draft, _) = common::draft(&mut rng, ts, &[]);
            // As a store appends: a rotation record first if the chain
            // is still sealed by the old secret.
            let plan = fx.chainer.plan(&head, None).unwrap();
            let sealed = fx.chainer.seal_planned(&mut head, std::slice::from_ref(&draft), &plan).unwrap();
            more.extend(sealed.rotation);
            more.extend(sealed.events);
        }
        let mut extended = fx.events.clone();
        extended.extend(more.iter().cloned());
        assert_clean(&verify(trusting(), &extended))?;

        // Incremental: only the events after the checkpoint, or from its
        // head on.
        let mut only = Verifier::new(fx.secrets.clone());
        only.trust_checkpoint(cp.clone()).unwrap();
        assert_clean(&verify(only, &more))?;
        let mut from_head = Verifier::new(fx.secrets.clone());
        from_head.trust_checkpoint(cp.clone()).unwrap();
        let head_event = &fx.events[*at.last().unwrap()];
        assert_clean(&verify(from_head, std::iter::once(head_event).chain(&more)))?;

        // A tampered checkpoint is refused.
        let mut tampered = cp.clone();
        flip(&mut tampered.mac.0, sel);
        let mut verifier = Verifier::new(fx.secrets.clone());
        prop_assert!(matches!(verifier.trust_checkpoint(tampered), Err(Error::NotAuthentic(_))));
        let mut moved = cp.clone();
        moved.seq += 1;
        prop_assert!(matches!(verifier.trust_checkpoint(moved), Err(Error::NotAuthentic(_))));
        let stranger = SealSecrets::new(SealSecret::new(&[7; 32]).unwrap());
        let mut verifier = Verifier::new(stranger);
        prop_assert!(matches!(verifier.trust_checkpoint(cp.clone()), Err(Error::UnknownSecret(_))));
    }

    /// A nearly sorted dump (each event at most W/2 places from its place)
    /// verifies with window W, and a change in it is still reported at its
    /// event; an event delayed beyond the window is reported, not a panic.
    #[test]
    fn nearly_sorted_dumps_verify_within_the_window(
        spec in spec(), window in 1usize..=64, seed in any::<u64>(), pick in any::<Index>(),
        field in field(), sel in any::<u64>(),
    ) {
        let fx = build(&spec);
        let mut rng = Rng::new(seed);
        let reach = window / 2;
        let mut keyed: Vec<(usize, usize)> = (0..fx.events.len())
            .map(|i| (i + rng.below(reach + 1), i))
            .collect();
        keyed.sort_unstable();
        let shuffled: Vec<SealedEvent> = keyed.iter().map(|&(_, i)| fx.events[i].clone()).collect();
        let report = verify(Verifier::new(fx.secrets.clone()).with_window(window), &shuffled);
        assert_clean(&report)?;

        if let Some(i) = choose(&shuffled, &pick, |e| has_field(e, field)) {
            let mut changed = shuffled.clone();
            mutate(&mut changed[i], field, sel);
            let kind = expected_kind(&fx.secrets, &changed[i], field);
            let report = verify(Verifier::new(fx.secrets.clone()).with_window(window), &changed);
            assert_first(&report, &changed[i].chain, changed[i].seq, kind)?;
            prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
        }

        // Delay one event behind window + 1 later events of its chain.
        let w = window as u64;
        let Some(i) = choose(&fx.events, &pick, |e| e.seq + w < last_seq(&fx, &e.chain)) else {
            return Err(TestCaseError::reject("chains shorter than the window"));
        };
        let late = fx.events[i].clone();
        let after = positions(&fx.events, &late.chain)[(late.seq + w) as usize];
        let mut events = fx.events.clone();
        events.insert(after + 1, late.clone());
        events.remove(i);
        let report = verify(Verifier::new(fx.secrets.clone()).with_window(window), &events);
        prop_assert!(!report.is_ok());
        assert_first(&report, &late.chain, late.seq, "gap")?;
    }

    /// Retention: purging the oldest events of a chain and anchoring the
    /// first one kept verifies; without the anchor it is a gap from 1; a
    /// deletion after the anchor is a gap there; an interrupted purge
    /// (anchor set, some older events still there) verifies.
    #[test]
    fn retention_anchors_allow_purging(
        spec in spec(), chain in any::<Index>(), k in any::<Index>(), m in any::<Index>(),
    ) {
        let fx = build(&spec);
        let long: Vec<&ChainId> = fx.chains.iter().filter(|c| last_seq(&fx, c) >= 2).collect();
        if long.is_empty() {
            return Err(TestCaseError::reject("no chain of two events"));
        }
        let chain = long[chain.index(long.len())];
        let last = last_seq(&fx, chain);
        let now = fx.last_ts + 1;
        let secret = fx.secrets.current();
        // Purge 1..=k, k in 1..last.
        let k = 1 + k.index(last as usize - 1) as u64;
        let purge = |keep_from: u64, anchor_at: Option<u64>| -> Vec<SealedEvent> {
            fx.events
                .iter()
                .filter(|e| &e.chain != chain || e.seq >= keep_from)
                .cloned()
                .map(|mut e| {
                    if &e.chain == chain && Some(e.seq) == anchor_at {
                        e.anchor = Some(Anchor::new(&e, now, secret));
                    }
                    e
                })
                .collect()
        };

        let anchored = purge(k + 1, Some(k + 1));
        assert_clean(&verify_all(&fx.secrets, &anchored))?;

        let bare = purge(k + 1, None);
        let report = verify_all(&fx.secrets, &bare);
        assert_first(&report, chain, 1, "gap")?;
        prop_assert_eq!(&report.first_error().unwrap().kind, &FindingKind::Gap { to: k });

        if last >= k + 3 {
            let gone = k + 2 + m.index((last - k - 2) as usize) as u64;
            let mut holed = anchored.clone();
            holed.retain(|e| &e.chain != chain || e.seq != gone);
            let report = verify_all(&fx.secrets, &holed);
            assert_first(&report, chain, gone, "gap")?;
            prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
        }

        // Interrupted purge: anchor on n, events k'..n-1 still there.
        let n = 2 + m.index(last as usize - 1) as u64;
        let kept_from = k.min(n - 1);
        let interrupted = purge(kept_from, Some(n));
        assert_clean(&verify_all(&fx.secrets, &interrupted))?;
    }

    /// After a purge, a change to any event kept (the anchored one
    /// included) is reported at that event, not as a gap.
    #[test]
    fn a_change_after_a_purge_is_reported_there(
        spec in spec(), chain in any::<Index>(), k in any::<Index>(),
        field in field(), pick in any::<Index>(), sel in any::<u64>(), on_anchor in any::<bool>(),
    ) {
        let fx = build(&spec);
        let long: Vec<&ChainId> = fx.chains.iter().filter(|c| last_seq(&fx, c) >= 2).collect();
        if long.is_empty() {
            return Err(TestCaseError::reject("no chain of two events"));
        }
        let chain = long[chain.index(long.len())];
        let first_kept = 2 + k.index(last_seq(&fx, chain) as usize - 1) as u64;
        let mut events: Vec<SealedEvent> = fx
            .events
            .iter()
            .filter(|e| &e.chain != chain || e.seq >= first_kept)
            .cloned()
            .collect();
        let at = positions(&events, chain)[0];
        events[at].anchor = Some(Anchor::new(&events[at], fx.last_ts, fx.secrets.current()));
        let Some(i) = choose(&events, &pick, |e| {
            &e.chain == chain && has_field(e, field) && (!on_anchor || e.seq == first_kept)
        }) else {
            return Err(TestCaseError::reject("no event has this field"));
        };
        mutate(&mut events[i], field, sel);
        let seq = events[i].seq;
        let kind = expected_kind(&fx.secrets, &events[i], field);
        let report = verify_all(&fx.secrets, &events);
        assert_first(&report, chain, seq, kind)?;
        prop_assert_eq!(report.errors, 1, "findings: {}", describe(&report));
    }

    /// A ciphertext moved to another detail, event or chain does not
    /// decrypt (property 3).
    #[test]
    fn moved_ciphertexts_do_not_decrypt(spec in spec(), pick in any::<Index>()) {
        let fx = build(&spec);
        let first = &fx.events[0];
        for secret in fx.sensitive.iter().filter(|s| s.index == 0) {
            prop_assert_eq!(&fx.chainer.open_detail(first, &secret.key).unwrap(), &secret.plaintext);
        }

        // Two details of one event swapped.
        let mut swapped = first.clone();
        let subject = swapped.detail("subject").cloned().unwrap();
        let pin = swapped.detail("pin").cloned().unwrap();
        for d in &mut swapped.details {
            if d.key == "subject" { d.value = pin.clone(); } else if d.key == "pin" { d.value = subject.clone(); }
        }
        prop_assert!(fx.chainer.open_detail(&swapped, "subject").is_err());
        prop_assert!(fx.chainer.open_detail(&swapped, "pin").is_err());

        // The same event claiming another sequence number or chain.
        let mut moved = first.clone();
        moved.seq += 1;
        prop_assert!(fx.chainer.open_detail(&moved, "subject").is_err());
        let mut moved = first.clone();
        moved.chain = ChainId::new("elsewhere").unwrap();
        prop_assert!(fx.chainer.open_detail(&moved, "subject").is_err());

        // Two events' ciphertexts (payload and wrapped key) swapped.
        let others: Vec<usize> = fx.sensitive.iter().map(|s| s.index).filter(|&i| i != 0).collect();
        if !others.is_empty() {
            let j = others[pick.index(others.len())];
            let mut a = first.clone();
            let mut b = fx.events[j].clone();
            let va = a.detail("subject").cloned().unwrap();
            let vb = b.detail("subject").cloned().unwrap();
            a.details.iter_mut().find(|d| d.key == "subject").unwrap().value = vb;
            b.details.iter_mut().find(|d| d.key == "subject").unwrap().value = va;
            prop_assert!(fx.chainer.open_detail(&a, "subject").is_err());
            prop_assert!(fx.chainer.open_detail(&b, "subject").is_err());
        }
    }

    /// Order independence (issue 11): any permutation of an export's
    /// records, the chains interleaved anyhow (all within the window: at
    /// most 2,000 events, a window of 4,096), gives the same findings as
    /// the export in order, hence the same verdict and first finding of
    /// each chain: untouched or with one change (a deletion, a modified
    /// field, a duplicate, a forged copy, a cut tail, an export that starts
    /// late), with or without a trusted checkpoint in each chain.
    #[test]
    fn the_verdict_does_not_depend_on_the_order_of_records(
        spec in spec(), damage in 0usize..7, pick in any::<Index>(), field in field(),
        sel in any::<u64>(), seed in any::<u64>(), with_checkpoints in any::<bool>(),
        cut in any::<Index>(),
    ) {
        let fx = build(&spec);
        let checkpoints: Vec<Checkpoint> = if with_checkpoints {
            fx.chains
                .iter()
                // (A chain may hold no event when there are fewer events
                // than chains.)
                .filter_map(|chain| {
                    let at = positions(&fx.events, chain);
                    let e = &fx.events[*at.get(cut.index(at.len().max(1)))?];
                    Some(Checkpoint::new(chain.clone(), e.seq, e.seal, e.timestamp_ms, e.seq, fx.secrets.current()))
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut events = fx.events.clone();
        let i = pick.index(events.len());
        match damage {
            1 => {
                events.remove(i);
            }
            2 if has_field(&events[i], field) => mutate(&mut events[i], field, sel),
            3 => events.insert((sel as usize) % events.len(), fx.events[i].clone()),
            4 => {
                let mut forged = fx.events[i].clone();
                forged.node.push('x');
                events.insert((sel as usize) % events.len(), forged);
            }
            5 => {
                // The tail of one chain cut from the picked event on.
                let victim = fx.events[i].clone();
                events.retain(|e| e.chain != victim.chain || e.seq < victim.seq);
            }
            6 => {
                // An export of one chain from the picked event on.
                let victim = fx.events[i].clone();
                events.retain(|e| e.chain != victim.chain || e.seq >= victim.seq);
            }
            _ => {}
        }
        let mut shuffled = events.clone();
        let mut rng = Rng::new(seed);
        for k in (1..shuffled.len()).rev() {
            shuffled.swap(k, rng.below(k + 1));
        }
        let run = |input: &[SealedEvent]| {
            let mut verifier = Verifier::new(fx.secrets.clone());
            for cp in &checkpoints {
                verifier.trust_checkpoint(cp.clone()).unwrap();
            }
            verify(verifier, input)
        };
        let (in_order, any_order) = (run(&events), run(&shuffled));
        prop_assert_eq!(in_order.is_ok(), any_order.is_ok(), "in order: {}\nany order: {}\n{} events, damage {}", describe(&in_order), describe(&any_order), events.len(), damage);
        prop_assert_eq!(
            &in_order.findings, &any_order.findings,
            "in order: {}\nany order: {}", describe(&in_order), describe(&any_order)
        );
        prop_assert_eq!(in_order.chains, any_order.chains);
    }

    /// Arbitrary records (any sequence number, version, chain, secret id;
    /// malformed records; checkpoints at the far end of the sequence
    /// space) never make the verifier panic.
    #[test]
    fn arbitrary_records_never_panic(
        seed in any::<u64>(),
        records in proptest::collection::vec(
            (0usize..3, prop_oneof![Just(0u64), Just(1), Just(u64::MAX), Just(u64::MAX - 1), 0u64..50, any::<u64>()],
             0u8..4, any::<u64>()),
            0..120,
        ),
        window in 1usize..8,
        checkpoint_seq in prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), Just(0u64), 0u64..50],
    ) {
        let fx = build(&Spec { events: 40, chains: 2, round_robin: false, seed });
        let mut verifier = Verifier::new(fx.secrets.clone()).with_window(window);
        let cp = Checkpoint::new(fx.chains[0].clone(), checkpoint_seq, fx.events[0].seal, 0, 1, fx.secrets.current());
        verifier.trust_checkpoint(cp).unwrap();
        for (n, (source, seq, what, sel)) in records.into_iter().enumerate() {
            let mut event = fx.events[(sel as usize) % fx.events.len()].clone();
            match what {
                0 => event.seq = seq,
                1 => { event.seq = seq; event.version = sel as u8; }
                2 => { event.seq = seq; event.secret_id = SecretId(sel.to_be_bytes()); }
                _ => {
                    let seq = (n % 2 == 0).then_some(seq);
                    verifier.push_malformed(Some(fx.chains[source % 2].clone()), seq, "junk".into());
                    continue;
                }
            }
            if source == 2 {
                event.anchor = Some(Anchor::new(&event, 0, fx.secrets.current()));
            }
            verifier.push(&event);
        }
        let report = verifier.finish();
        prop_assert!(report.findings.len() as u64 <= report.total_findings);
    }
}

/// Past every removeAt of the fixtures (90 days after their timestamp).
const LATER_MS: i64 = 91 * 86_400_000;

proptest! {
    #![proptest_config(config())]

    /// Parallel verification (issue 12): the same records pushed in
    /// batches of any size ([`Verifier::push_batch`], seals checked on
    /// all cores before the batch is placed) give the same report as
    /// pushed one by one: the same findings in the same order, summaries
    /// and counts. The records are damaged (moved sequence numbers,
    /// versions, unknown secrets, anchors, purge stubs valid and forged,
    /// malformed and unsealed records, partly shuffled), through a small
    /// window and few chains, with and without deep verification.
    #[test]
    fn batches_find_what_single_pushes_find(
        spec in spec(),
        damage in proptest::collection::vec((0u8..9, any::<u64>(), any::<u64>()), 0..40),
        batch in 1usize..300,
        window in prop_oneof![Just(4096usize), 1usize..16],
        max_chains in prop_oneof![Just(1000usize), 1usize..5],
        max_findings in prop_oneof![Just(1000usize), 1usize..4],
        deep in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let fx = build(&spec);
        let mut records: Vec<Record> = fx.events.iter().cloned().map(Record::Event).collect();
        let mut rng = Rng::new(seed);
        for (what, sel, value) in damage {
            let at = (sel as usize) % records.len().max(1);
            let mut event = fx.events[(value as usize) % fx.events.len()].clone();
            let record = match what {
                0 => { event.seq = value % 2_100; Record::Event(event) }
                1 => { event.version = value as u8; Record::Event(event) }
                2 => { event.secret_id = SecretId(value.to_be_bytes()); Record::Event(event) }
                3 => {
                    event.anchor = Some(Anchor::new(&event, value as i64, fx.secrets.current()));
                    Record::Event(event)
                }
                4 => {
                    // A stub, its mark valid or made with a secret unknown here.
                    let other = SealSecret::new(&rng.bytes(32)).unwrap();
                    let secret = if value % 2 == 0 { fx.secrets.current() } else { &other };
                    // (Refused for an event without removeAt: pushed whole.)
                    let _ = event.purge(LATER_MS + fx.last_ts + (value % 1000) as i64, secret);
                    Record::Event(event)
                }
                5 => { event.node.push('x'); Record::Event(event) }
                6 => Record::Malformed {
                    chain: (value % 3 != 0).then(|| event.chain.clone()),
                    seq: (value % 2 == 0).then_some(event.seq),
                    why: format!("junk {value}"),
                },
                7 => Record::Unsealed {
                    chain: event.chain.clone(),
                    seq: event.seq,
                    kind: FindingKind::Terms(format!("terms {value}")),
                },
                _ => {
                    let j = (value as usize) % records.len().max(1);
                    records.swap(at, j);
                    continue;
                }
            };
            records.insert(at, record);
        }
        let make = || {
            let verifier = Verifier::new(fx.secrets.clone())
                .with_window(window)
                .with_max_chains(max_chains)
                .with_max_findings(max_findings)
                .with_now_ms(LATER_MS + fx.last_ts + 500);
            if deep { verifier.with_keyset(fx.chainer.clone()) } else { verifier }
        };
        let mut one_by_one = make();
        for record in &records {
            match record {
                Record::Event(event) => one_by_one.push(event),
                Record::Malformed { chain, seq, why } => {
                    one_by_one.push_malformed(chain.clone(), *seq, why.clone());
                }
                Record::Unsealed { chain, seq, kind } => {
                    one_by_one.push_unsealed(chain, *seq, kind.clone());
                }
            }
        }
        let mut batched = make();
        for chunk in records.chunks(batch) {
            batched.push_batch(chunk);
        }
        let (a, b) = (one_by_one.finish(), batched.finish());
        prop_assert_eq!(&a.findings, &b.findings, "one by one: {}\nbatched: {}", describe(&a), describe(&b));
        prop_assert_eq!(a.chains, b.chains);
        prop_assert_eq!(
            (a.total_findings, a.errors, a.records, a.sealed_bytes),
            (b.total_findings, b.errors, b.records, b.sealed_bytes)
        );
    }
}
