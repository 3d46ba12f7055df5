//! The lifecycle of format 2 chains, checked with `proptest` on random
//! chains and with unit tests whose every assertion names the finding kind
//! and its `chain#seq`:
//!
//! - retention of any expired event: the expired prefix goes behind an
//!   anchor, later expired events become sealed stubs, the head and the
//!   records of the store stay; the result verifies, and a second scan
//!   changes nothing;
//! - forged stubs are `Stripped` (or `Modified`, `Duplicate`, `Inserted`)
//!   at their position;
//! - seal-secret rotation across pods in a rolling restart, and its attacks
//!   (`RetiredSecret`, `BadRotation`, `UnannouncedSecret`, replayed records);
//! - crypto-shredding and its records (`KeyErased`, `Unshredded`), and why
//!   a shred is refused;
//! - deep verification with the keyset (`Undecryptable`);
//! - the list of retired seal secrets.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_chain::Timestamp;
mod common;

use std::collections::{BTreeSet, HashMap};

use common::{describe, positions, verify, Rng, CODES, MODULES, NODES, T0};
use proptest::prelude::*;
use proptest::sample::Index;
use stream_chain::{
    is_system_record, shred_refusal, Anchor, ChainId, Chainer, DetailValue, Error, EventDraft,
    FindingKind, Head, PurgeMark, PurgeScan, PurgeStep, RotationRecord, Seal, SealPlan, SealSecret,
    SealSecrets, SealedEvent, SecretId, SensitiveValue, ShredRecord, Status, Verifier,
    VerifyReport, DEFAULT_CLOCK_SKEW_MS, SHRED_CODE, SYSTEM_MODULE,
};
use stream_keyset::{Algorithm, Envelope, Keyset, Template};

/// Small case counts: the whole file runs in a few seconds. `PROPTEST_CASES`
/// asks for more.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        // No regression files: the test crate has no `lib.rs` to put them by.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Seal secret number `n` (distinct for distinct `n`).
fn secret(n: u8) -> SealSecret {
    SealSecret::new(&[n.wrapping_add(0x40); 32]).unwrap()
}

fn chain_id(name: &str) -> ChainId {
    ChainId::new(name).unwrap()
}

fn envelope(keyset: &Keyset) -> Option<Envelope> {
    Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap())
}

/// The findings as `(chain, seq, kind name)`, in the report's order.
fn found(report: &VerifyReport) -> Vec<(String, Option<u64>, &'static str)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.chain.as_ref().map_or("?".into(), ToString::to_string),
                f.seq,
                f.kind.name(),
            )
        })
        .collect()
}

/// `(chain, seq, kind)` rows for comparison with [`found`].
fn rows(chain: &str, items: &[(u64, &'static str)]) -> Vec<(String, Option<u64>, &'static str)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|&(seq, kind)| (chain.to_owned(), Some(seq), kind))
        .collect();
    // The report sorts by chain, seq, then kind (its declaration order),
    // which the names do not follow: compare sorted.
    out.sort();
    out
}

fn found_sorted(report: &VerifyReport) -> Vec<(String, Option<u64>, &'static str)> {
    let mut out = found(report);
    out.sort();
    out
}

fn verify_with(secrets: &SealSecrets, events: &[SealedEvent]) -> VerifyReport {
    verify(Verifier::new(secrets.clone()), events)
}

fn verify_at(secrets: &SealSecrets, now: i64, events: &[SealedEvent]) -> VerifyReport {
    verify(Verifier::new(secrets.clone()).with_now_ms(now), events)
}

fn assert_clean(report: &VerifyReport) {
    assert!(
        report.is_ok() && report.findings.is_empty(),
        "findings: {}",
        describe(report)
    );
}

fn prop_clean(report: &VerifyReport) -> Result<(), TestCaseError> {
    prop_assert!(
        report.is_ok() && report.findings.is_empty(),
        "findings: {}",
        describe(report)
    );
    Ok(())
}

/// The message of the one finding of `kind`-name at `seq`.
fn message_at(report: &VerifyReport, seq: u64, name: &str) -> String {
    report
        .findings
        .iter()
        .find(|f| f.seq == Some(seq) && f.kind.name() == name)
        .map(|f| match &f.kind {
            FindingKind::Stripped(why)
            | FindingKind::BadRotation(why)
            | FindingKind::KeyErased(why)
            | FindingKind::Unshredded(why)
            | FindingKind::Undecryptable(why)
            | FindingKind::Malformed(why) => why.clone(),
            other => other.name().to_owned(),
        })
        .unwrap_or_else(|| panic!("no {name} at #{seq}: {}", describe(report)))
}

/// Replaces the content of `event` by a stub whose mark says `purged_ms`,
/// sealed by `secret`, without the checks of [`SealedEvent::purge`]: what
/// someone holding the secret could write.
fn forge_stub(event: &mut SealedEvent, purged_ms: i64, secret: &SealSecret) {
    let mut mark = PurgeMark {
        digest: event.content_digest(),
        purged_ms,
        secret_id: secret.id(),
        seal: Seal::GENESIS,
    };
    mark.seal = secret.seal(|s| mark.write_canonical(event, s));
    event.code.clear();
    event.module.clear();
    event.node.clear();
    event.status = Status::Success;
    event.details.clear();
    event.purged = Some(mark);
}

/// Re-seals the mark of a stub after it was changed.
fn reseal_mark(event: &mut SealedEvent, secret: &SealSecret) {
    let mut mark = event.purged.clone().unwrap();
    mark.secret_id = secret.id();
    mark.seal = secret.seal(|s| mark.write_canonical(event, s));
    event.purged = Some(mark);
}

/// Strips the content of `event` as an attacker without the secret would:
/// the content gone, `mark` put on it as is.
fn strip_with(event: &mut SealedEvent, mark: PurgeMark) {
    event.code.clear();
    event.module.clear();
    event.node.clear();
    event.status = Status::Success;
    event.details.clear();
    event.purged = Some(mark);
}

/// The sensitive detail `key` of `event`, to change.
fn sensitive_mut<'a>(event: &'a mut SealedEvent, key: &str) -> &'a mut SensitiveValue {
    match event
        .details
        .iter_mut()
        .find(|d| d.key == key)
        .map(|d| &mut d.value)
    {
        Some(DetailValue::Sensitive(v)) => v,
        _ => panic!("no sensitive detail `{key}`"),
    }
}

fn flip(bytes: &mut [u8], sel: u64) {
    let i = (sel % bytes.len() as u64) as usize;
    bytes[i] ^= 1 + ((sel >> 40) % 255) as u8;
}

// ---------------------------------------------------------------------------
// Retention: a scan and its steps, applied as a store applies them
// ---------------------------------------------------------------------------

/// Random chains with random `removeAt` (absent, past or future, in any
/// order), a seal-secret rotation at a random place, sensitive details and
/// shred records (some carrying a past `removeAt`, which must not make them
/// expire).
struct Life {
    /// S1 current, S0 retired.
    secrets: SealSecrets,
    /// The dump, in the order the events were sealed (shredded copies in
    /// place).
    events: Vec<SealedEvent>,
    now: i64,
}

fn life(seed: u64, n: usize, chains: usize) -> Life {
    let mut rng = Rng::new(seed);
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let before = SealSecrets::new(secret(0));
    let after = SealSecrets::new(secret(1)).with_retired(secret(0));
    let chainers = [
        Chainer::new(before, envelope(&keyset)),
        Chainer::new(after.clone(), envelope(&keyset)),
    ];
    let rotated_at = rng.below(n + 1); // n: never rotates
    let ids: Vec<ChainId> = (0..chains)
        .map(|c| chain_id(&format!("life-{c}")))
        .collect();
    let mut heads: Vec<Head> = ids.iter().cloned().map(Head::genesis).collect();
    let mut rotations: Vec<Option<RotationRecord>> = vec![None; chains];
    let mut events: Vec<SealedEvent> = Vec::new();
    let span = n as i64 * 1000;
    let now = T0 + span / 2;
    for i in 0..n {
        let c = rng.below(chains);
        let ts = T0 + i as i64 * 1000;
        let chainer = &chainers[usize::from(i >= rotated_at)];
        let shreddable: Vec<usize> = (0..events.len())
            .filter(|&j| events[j].chain == ids[c] && !events[j].shreddable_keys(None).is_empty())
            .collect();
        let draft = if !shreddable.is_empty() && rng.below(6) == 0 {
            let j = *rng.pick(&shreddable);
            let keys = events[j].shreddable_keys(None);
            events[j].shred(None);
            let record = ShredRecord {
                target: events[j].seq,
                keys,
                reason: "erasure".into(),
            };
            let draft = record.draft("pod-0", ts);
            if rng.below(2) == 0 {
                draft.remove_at(Timestamp::from_millis(now - 1))
            } else {
                draft
            }
        } else {
            let mut draft = EventDraft::new(
                *rng.pick(&CODES),
                *rng.pick(&MODULES),
                *rng.pick(&NODES),
                Status::Success,
                Timestamp::from_millis(ts),
            )
            .public("serial", format!("{i:04x}"));
            if rng.below(3) == 0 {
                draft = draft.sensitive("subject", format!("CN={}", rng.word(8)).into_bytes());
            }
            match rng.below(4) {
                0 => draft,
                1 if rng.below(4) == 0 => draft.remove_at(Timestamp::from_millis(now)), // expired at the very ms
                1 | 2 => draft.remove_at(Timestamp::from_millis(
                    now - 1 - rng.below(span as usize) as i64,
                )),
                _ => draft.remove_at(Timestamp::from_millis(
                    now + 1 + rng.below(span as usize) as i64,
                )),
            }
        };
        let plan = chainer.plan(&heads[c], rotations[c].as_ref()).unwrap();
        let sealed = chainer
            .seal_planned(&mut heads[c], std::slice::from_ref(&draft), &plan)
            .unwrap();
        if let Some(record) = sealed.rotation {
            rotations[c] = Some(RotationRecord::parse(&record).unwrap().unwrap());
            events.push(record);
        }
        events.extend(sealed.events);
    }
    Life {
        secrets: after,
        events,
        now,
    }
}

/// What a scan did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Applied {
    deleted: usize,
    stubs: usize,
    anchors: usize,
}

fn chains_of(events: &[SealedEvent]) -> BTreeSet<ChainId> {
    events.iter().map(|e| e.chain.clone()).collect()
}

/// Runs a [`PurgeScan`] at `now` over each chain of the dump and applies
/// its steps: `Purge` deleted, the first `Keep` after a deletion anchored,
/// `Stub` purged to a stub. The dump order is kept.
fn apply_scan(
    secrets: &SealSecrets,
    events: &[SealedEvent],
    now: i64,
) -> Result<(Vec<SealedEvent>, Applied), Error> {
    let mut out: Vec<Option<SealedEvent>> = events.iter().cloned().map(Some).collect();
    let mut applied = Applied::default();
    for chain in chains_of(events) {
        let at = positions(events, &chain);
        let mut scan = PurgeScan::new(secrets, now);
        let mut deleted = false;
        let mut anchored = false;
        for (n, &i) in at.iter().enumerate() {
            match scan.step(&events[i], n + 1 == at.len())? {
                PurgeStep::Purge => {
                    out[i] = None;
                    deleted = true;
                    applied.deleted += 1;
                }
                PurgeStep::Keep => {
                    if deleted && !anchored {
                        let anchor = Anchor::new(&events[i], now, secrets.current());
                        out[i].as_mut().unwrap().anchor = Some(anchor);
                        anchored = true;
                        applied.anchors += 1;
                    }
                }
                PurgeStep::Stub => {
                    out[i].as_mut().unwrap().purge(now, secrets.current())?;
                    applied.stubs += 1;
                }
                PurgeStep::Stubbed => {}
            }
        }
    }
    Ok((out.into_iter().flatten().collect(), applied))
}

/// Where a scan at `now` refuses the chain of `chain`, if it does.
fn scan_refusal(secrets: &SealSecrets, events: &[SealedEvent], now: i64) -> Option<(String, u64)> {
    match apply_scan(secrets, events, now) {
        Ok(_) => None,
        Err(Error::PurgeRefused { chain, seq, .. }) => Some((chain, seq)),
        Err(e) => panic!("not a refusal: {e}"),
    }
}

fn expired(event: &SealedEvent, now: i64) -> bool {
    event.remove_at_ms.is_some_and(|at| at <= now)
}

/// `event` without its anchor (what a scan may add to a kept event).
fn unanchored(event: &SealedEvent) -> SealedEvent {
    SealedEvent {
        anchor: None,
        ..event.clone()
    }
}

/// Checks a retention result against the dump before any purge: every
/// expired event that is neither a head nor a record of the store is gone
/// or a stub of itself (same seal, still valid), every other one intact;
/// what is gone is a prefix of its chain.
fn check_retention(
    secrets: &SealSecrets,
    original: &[SealedEvent],
    result: &[SealedEvent],
    now: i64,
) -> Result<(), TestCaseError> {
    let kept: HashMap<(ChainId, u64), &SealedEvent> = result
        .iter()
        .map(|e| ((e.chain.clone(), e.seq), e))
        .collect();
    prop_assert_eq!(kept.len(), result.len(), "one event per position");
    for chain in chains_of(original) {
        let at = positions(original, &chain);
        let head = original[*at.last().unwrap()].seq;
        let mut first_kept = None;
        let mut last_gone = None;
        for &i in &at {
            let e = &original[i];
            let r = kept.get(&(chain.clone(), e.seq)).copied();
            match r {
                Some(_) => {
                    first_kept.get_or_insert(e.seq);
                }
                None => last_gone = Some(e.seq),
            }
            let whole = e.seq == head || is_system_record(e) || !expired(e, now);
            if whole {
                let r = r.ok_or_else(|| {
                    TestCaseError::fail(format!("{chain}#{} should be kept", e.seq))
                })?;
                prop_assert_eq!(unanchored(r), unanchored(e), "{}#{} intact", chain, e.seq);
            } else if let Some(r) = r {
                prop_assert!(r.is_stub(), "{}#{} expired: gone or a stub", chain, e.seq);
                prop_assert_eq!(r.seal, e.seal);
                prop_assert_eq!(r.prev, e.prev);
                prop_assert_eq!(r.content_digest(), e.content_digest());
                prop_assert!(r.seal_is_valid(secrets), "a stub keeps its seal");
                prop_assert!(r.code.is_empty() && r.details.is_empty());
            }
        }
        if let (Some(first), Some(gone)) = (first_kept, last_gone) {
            prop_assert!(gone < first, "{}: only a prefix is deleted", chain);
        }
    }
    Ok(())
}

fn stubs_seen(report: &VerifyReport) -> u64 {
    report.chains.iter().map(|s| s.stubs).sum()
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// 1. Retention of any expired event: the scan's steps, applied, give a
    /// chain that verifies with no finding; expired events are gone or
    /// stubs, the others intact; the verifier counts the stubs made; a
    /// second scan at the same time changes nothing; a later scan, applied
    /// on top, verifies too.
    #[test]
    fn retention_purges_every_expired_event(
        seed in any::<u64>(), n in 1usize..70, chains in 1usize..=3, later in 0i64..100_000,
    ) {
        let lf = life(seed, n, chains);
        prop_clean(&verify_at(&lf.secrets, lf.now, &lf.events))?;

        let (purged, applied) = apply_scan(&lf.secrets, &lf.events, lf.now)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_retention(&lf.secrets, &lf.events, &purged, lf.now)?;
        prop_assert_eq!(purged.len() + applied.deleted, lf.events.len());
        prop_assert_eq!(purged.iter().filter(|e| e.is_stub()).count(), applied.stubs);
        let report = verify_at(&lf.secrets, lf.now, &purged);
        prop_clean(&report)?;
        prop_assert_eq!(stubs_seen(&report), applied.stubs as u64);
        prop_assert_eq!(report.records, purged.len() as u64);

        // A second scan changes nothing.
        let (again, twice) = apply_scan(&lf.secrets, &purged, lf.now)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(twice, Applied::default());
        prop_assert_eq!(&again, &purged);

        // Later, more has expired: purging the purged chain again.
        let now2 = lf.now + later;
        let (purged2, _) = apply_scan(&lf.secrets, &purged, now2)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_retention(&lf.secrets, &lf.events, &purged2, now2)?;
        let report = verify_at(&lf.secrets, now2, &purged2);
        prop_clean(&report)?;
        prop_assert_eq!(stubs_seen(&report), purged2.iter().filter(|e| e.is_stub()).count() as u64);
    }

    /// 2. Forged stubs, at a random stub of a purged random chain: one byte
    /// of its mark changed is `Stripped` there (of the digest: `Modified`,
    /// the event's seal covers it); another stub's mark is `Modified` (or
    /// `Stripped` when both contents are equal: the digest alone does not
    /// name the position) and `Stripped` with the digest set right; a mark
    /// dated before `removeAt` or in the future, re-sealed with the secret,
    /// is `Stripped`. The purge scan refuses what is not authentic.
    #[test]
    fn forged_stub_marks_are_reported_at_the_stub(
        seed in any::<u64>(), n in 8usize..70, chains in 1usize..=2,
        pick in any::<Index>(), other in any::<Index>(), part in 0u8..4, sel in any::<u64>(),
        early in 1i64..1_000_000,
    ) {
        let lf = life(seed, n, chains);
        let (purged, _) = apply_scan(&lf.secrets, &lf.events, lf.now).unwrap();
        let stubs: Vec<usize> = (0..purged.len()).filter(|&i| purged[i].is_stub()).collect();
        if stubs.is_empty() {
            return Err(TestCaseError::reject("no stub"));
        }
        let i = stubs[pick.index(stubs.len())];
        let (chain, seq) = (purged[i].chain.to_string(), purged[i].seq);
        let secret = lf.secrets.current();

        // One byte of the mark.
        let mut forged = purged.clone();
        let mark = forged[i].purged.as_mut().unwrap();
        let kind = match part {
            0 => { flip(&mut mark.digest, sel); "modified" }
            1 => {
                let mut bytes = mark.purged_ms.to_be_bytes();
                flip(&mut bytes, sel);
                mark.purged_ms = i64::from_be_bytes(bytes);
                "stripped"
            }
            2 => { flip(&mut mark.secret_id.0, sel); "stripped" }
            _ => { flip(&mut mark.seal.0, sel); "stripped" }
        };
        let report = verify_at(&lf.secrets, lf.now, &forged);
        prop_assert_eq!(found(&report), vec![(chain.clone(), Some(seq), kind)], "{}", describe(&report));
        prop_assert_eq!(scan_refusal(&lf.secrets, &forged, lf.now), Some((chain.clone(), seq)));

        // Another stub's mark, as is and with the digest set right.
        let j = stubs[other.index(stubs.len())];
        if j != i {
            let copied = purged[j].purged.clone().unwrap();
            let same_content = copied.digest == purged[i].content_digest();
            let mut forged = purged.clone();
            forged[i].purged = Some(copied.clone());
            let report = verify_at(&lf.secrets, lf.now, &forged);
            let kind = if same_content { "stripped" } else { "modified" };
            prop_assert_eq!(found(&report), vec![(chain.clone(), Some(seq), kind)], "{}", describe(&report));
            let mut forged = purged.clone();
            forged[i].purged = Some(PurgeMark { digest: purged[i].content_digest(), ..copied });
            let report = verify_at(&lf.secrets, lf.now, &forged);
            prop_assert_eq!(found(&report), vec![(chain.clone(), Some(seq), "stripped")], "{}", describe(&report));
            prop_assert_eq!(scan_refusal(&lf.secrets, &forged, lf.now), Some((chain.clone(), seq)));
        }

        // Re-sealed with the secret, dated before removeAt: the rule refuses.
        let remove_at = purged[i].remove_at_ms.unwrap();
        let mut forged = purged.clone();
        forged[i].purged.as_mut().unwrap().purged_ms = remove_at - early;
        reseal_mark(&mut forged[i], secret);
        let report = verify_at(&lf.secrets, lf.now, &forged);
        prop_assert_eq!(found(&report), vec![(chain.clone(), Some(seq), "stripped")], "{}", describe(&report));
        prop_assert!(message_at(&report, seq, "stripped").contains("before its removeAt"));
        prop_assert_eq!(scan_refusal(&lf.secrets, &forged, lf.now), Some((chain.clone(), seq)));

        // Re-sealed, dated after now + the clock skew: stripped when the
        // verifier knows the time; at now + skew exactly, not.
        let mut forged = purged.clone();
        forged[i].purged.as_mut().unwrap().purged_ms = lf.now + DEFAULT_CLOCK_SKEW_MS + early;
        reseal_mark(&mut forged[i], secret);
        let report = verify_at(&lf.secrets, lf.now, &forged);
        prop_assert_eq!(found(&report), vec![(chain.clone(), Some(seq), "stripped")], "{}", describe(&report));
        prop_assert!(message_at(&report, seq, "stripped").contains("future"));
        prop_clean(&verify_with(&lf.secrets, &forged))?;
        let mut edge = purged.clone();
        edge[i].purged.as_mut().unwrap().purged_ms = lf.now + DEFAULT_CLOCK_SKEW_MS;
        reseal_mark(&mut edge[i], secret);
        prop_clean(&verify_at(&lf.secrets, lf.now, &edge))?;
    }

    /// 2. The content of a kept event (not a record of the store) that has
    /// no `removeAt`, or one still to come, stripped under a mark sealed
    /// with the secret, is `Stripped` there; the original event restored
    /// beside a stub is a `Duplicate`, a forged one `Inserted`.
    #[test]
    fn a_stub_no_purge_explains_is_stripped(
        seed in any::<u64>(), n in 4usize..70, pick in any::<Index>(), before in any::<bool>(),
    ) {
        let lf = life(seed, n, 1);
        let (purged, _) = apply_scan(&lf.secrets, &lf.events, lf.now).unwrap();
        let unexpired: Vec<usize> = (0..purged.len())
            .filter(|&i| !purged[i].is_stub() && !is_system_record(&purged[i]) && !expired(&purged[i], lf.now))
            .collect();
        if let Some(&i) = unexpired.get(pick.index(unexpired.len().max(1))) {
            let mut forged = purged.clone();
            forge_stub(&mut forged[i], lf.now, lf.secrets.current());
            let seq = forged[i].seq;
            let report = verify_at(&lf.secrets, lf.now, &forged);
            prop_assert_eq!(found(&report), vec![("life-0".to_owned(), Some(seq), "stripped")], "{}", describe(&report));
            let why = message_at(&report, seq, "stripped");
            let want = if purged[i].remove_at_ms.is_some() { "before its removeAt" } else { "no removeAt" };
            prop_assert!(why.contains(want), "{}", why);
            prop_assert_eq!(scan_refusal(&lf.secrets, &forged, lf.now), Some(("life-0".to_owned(), seq)));
        }

        let stubs: Vec<usize> = (0..purged.len()).filter(|&i| purged[i].is_stub()).collect();
        if stubs.is_empty() {
            return Ok(());
        }
        let i = stubs[pick.index(stubs.len())];
        let seq = purged[i].seq;
        let original = lf.events.iter().find(|e| e.seq == seq).unwrap().clone();
        let at = if before { i } else { i + 1 };
        let mut restored = purged.clone();
        restored.insert(at, original.clone());
        let report = verify_at(&lf.secrets, lf.now, &restored);
        prop_assert_eq!(found(&report), vec![("life-0".to_owned(), Some(seq), "duplicate")], "{}", describe(&report));

        let mut other = original;
        other.node.push('x');
        let mut inserted = purged.clone();
        inserted.insert(at, other);
        let report = verify_at(&lf.secrets, lf.now, &inserted);
        prop_assert_eq!(found(&report), vec![("life-0".to_owned(), Some(seq), "inserted")], "{}", describe(&report));
    }

    /// 3. A rolling restart in any order: pods B (S0 current, S1 staged) and
    /// C (S0 only) write first; then A (S1 current, S0 retired), B and C in
    /// any order, each planning with the chain's last rotation record. A
    /// rotates once; B then follows S1; C refuses (`SecretNotKnown`, head
    /// unchanged). The chain verifies clean.
    #[test]
    fn a_rollout_in_any_order_verifies(
        first in proptest::collection::vec((1usize..3, 1usize..3), 1..5),
        ops in proptest::collection::vec((0usize..3, 1usize..3), 1..30),
    ) {
        let pods = Pods::new();
        let mut head = Head::genesis(chain_id("main"));
        let mut last_rotation: Option<RotationRecord> = None;
        let mut events = Vec::new();
        let mut ts = T0;
        for (pod, count) in first.into_iter().chain(ops) {
            let chainer = pods.pod(pod);
            let drafts: Vec<EventDraft> = (0..count)
                .map(|k| { ts += 10; pod_draft(pod, k, ts) })
                .collect();
            match chainer.plan(&head, last_rotation.as_ref()) {
                Err(Error::SecretNotKnown { secret, chain }) => {
                    prop_assert_eq!(pod, 2, "only C refuses");
                    prop_assert_eq!(secret, pods.s1.id());
                    prop_assert_eq!(chain, "main");
                    prop_assert!(last_rotation.is_some());
                    continue;
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
                Ok(plan) => {
                    let rotates = matches!(plan, SealPlan::Rotate(_));
                    prop_assert_eq!(rotates, pod == 0 && last_rotation.is_none(), "{:?}", plan);
                    let sealed = chainer.seal_planned(&mut head, &drafts, &plan).unwrap();
                    if let Some(record) = sealed.rotation {
                        prop_assert_eq!(record.secret_id, pods.s1.id());
                        last_rotation = Some(RotationRecord::parse(&record).unwrap().unwrap());
                        events.push(record);
                    }
                    let want = if last_rotation.is_some() { pods.s1.id() } else { pods.s0.id() };
                    for event in &sealed.events {
                        prop_assert_eq!(event.secret_id, want);
                    }
                    events.extend(sealed.events);
                }
            }
        }
        prop_assert_eq!(head.sealed_by, events.last().map(|e| e.secret_id));
        prop_clean(&verify_with(&pods.auditor, &events))?;
    }

    /// 5. Deep verification: the wrapped data keys of two random sensitive
    /// details of different events swapped are `Undecryptable` at both
    /// positions (the chain itself verifies without the keyset).
    #[test]
    fn swapped_wrapped_keys_are_undecryptable_at_both(
        seed in any::<u64>(), n in 2usize..40, a in any::<Index>(), b in any::<Index>(),
    ) {
        let mut rng = Rng::new(seed);
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let secrets = SealSecrets::new(secret(0));
        let chainer = Chainer::new(secrets.clone(), envelope(&keyset));
        let mut head = Head::genesis(chain_id("deep"));
        let events: Vec<SealedEvent> = (0..n)
            .map(|i| {
                let mut draft = EventDraft::new("OCSP-SIGN", "ocsp", "pod-0", Status::Success, Timestamp::from_millis(T0 + i as i64));
                if i < 2 || rng.below(2) == 0 {
                    draft = draft.sensitive("subject", format!("CN={}", rng.word(12)).into_bytes());
                }
                chainer.seal(&mut head, &draft).unwrap()
            })
            .collect();
        let deep = || Verifier::new(secrets.clone()).with_keyset(chainer.clone());
        prop_clean(&verify(deep(), &events))?;
        let sensitive: Vec<usize> = (0..n).filter(|&i| events[i].detail("subject").is_some()).collect();
        let x = sensitive[a.index(sensitive.len())];
        let y = sensitive[b.index(sensitive.len())];
        if x == y {
            return Err(TestCaseError::reject("the same event"));
        }
        let mut swapped = events.clone();
        let dx = sensitive_mut(&mut swapped[x], "subject").wrapped_dek.take();
        let dy = sensitive_mut(&mut swapped[y], "subject").wrapped_dek.take();
        sensitive_mut(&mut swapped[x], "subject").wrapped_dek = dy;
        sensitive_mut(&mut swapped[y], "subject").wrapped_dek = dx;
        prop_clean(&verify_with(&secrets, &swapped))?;
        let report = verify(deep(), &swapped);
        prop_assert_eq!(
            found_sorted(&report),
            rows("deep", &[(swapped[x].seq, "undecryptable"), (swapped[y].seq, "undecryptable")]),
            "{}", describe(&report)
        );
        prop_assert!(message_at(&report, swapped[x].seq, "undecryptable").contains("detail `subject`"));
    }

    /// 6. A list of retired secrets, separated by newlines, commas or CRLF,
    /// with blank entries: every secret is added; a too-short entry is
    /// refused naming its place among the entries that are not blank, and
    /// the message never holds its text.
    #[test]
    fn retired_lists_parse_and_name_the_bad_entry(
        seed in any::<u64>(), count in 1usize..6, seps in proptest::collection::vec(0usize..7, 8),
        bad in proptest::option::of(any::<Index>()), short in 8usize..16,
    ) {
        const SEPARATORS: [&str; 7] = ["\n", ",", "\r\n", "\n\n", ",\n", "\n,\n", ", ,"];
        let mut rng = Rng::new(seed);
        let mut texts: Vec<String> = (0..count).map(|_| format!("s{}", rng.word(30)) + "-pad-to-16-bytes").collect();
        let bad = bad.map(|b| b.index(count));
        if let Some(b) = bad {
            texts[b] = (0..short).map(|_| common::alnum(rng.below(62))).collect();
        }
        let mut list = String::from(SEPARATORS[seps[7] % 2 + 3]); // leading blanks
        for (k, text) in texts.iter().enumerate() {
            list.push_str(text);
            list.push_str(SEPARATORS[seps[k % 7]]);
        }
        let base = SealSecrets::new(secret(9));
        match (base.with_retired_list(&list), bad) {
            (Ok(secrets), None) => {
                for text in &texts {
                    let id = SealSecret::from_env_value(text).unwrap().id();
                    prop_assert!(secrets.get(id).is_some(), "{:?} in {:?}", text, list);
                }
                let distinct: BTreeSet<String> = texts.iter().cloned().collect();
                prop_assert_eq!(secrets.ids().len(), 1 + distinct.len());
                prop_assert_eq!(secrets.current().id(), secret(9).id());
            }
            (Err(e), Some(b)) => {
                prop_assert!(matches!(e, Error::InvalidRetiredSecret { entry, .. } if entry == b + 1), "{:?}", e);
                let shown = format!("{e} {e:?}");
                prop_assert!(!shown.contains(&texts[b]), "{}", shown);
            }
            (other, bad) => return Err(TestCaseError::fail(format!("{other:?} for bad {bad:?} in {list:?}"))),
        }
    }
}

// ---------------------------------------------------------------------------
// 1, 2. Retention and forged stubs: unit tests on a small chain
// ---------------------------------------------------------------------------

const NOW: i64 = T0 + 1_000_000;

/// A chain of six events, one secret: #1 kept (removeAt to come), #2 and #3
/// expired, #4 without removeAt, #5 to come, #6 the head (expired, kept).
fn small() -> (SealSecrets, Vec<SealedEvent>) {
    let secrets = SealSecrets::new(secret(0));
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain_id("main"));
    let removes = [
        Some(NOW + 1),
        Some(NOW - 5),
        Some(NOW),
        None,
        Some(NOW + 1000),
        Some(NOW - 1),
    ];
    let events = removes
        .iter()
        .enumerate()
        .map(|(i, remove)| {
            let mut draft = EventDraft::new(
                "LIFECYCLE-ENROLL",
                "ca",
                "pod-0",
                Status::Success,
                Timestamp::from_millis(T0 + i as i64),
            )
            .public("serial", format!("{:02}", i + 1));
            draft.remove_at_ms = *remove;
            chainer.seal(&mut head, &draft).unwrap()
        })
        .collect();
    (secrets, events)
}

fn steps(secrets: &SealSecrets, events: &[SealedEvent], now: i64) -> Vec<PurgeStep> {
    let mut scan = PurgeScan::new(secrets, now);
    events
        .iter()
        .enumerate()
        .map(|(i, e)| scan.step(e, i + 1 == events.len()).unwrap())
        .collect()
}

#[test]
fn a_scan_stubs_what_expired_after_a_kept_event_and_keeps_the_head() {
    let (secrets, events) = small();
    use PurgeStep::{Keep, Purge, Stub, Stubbed};
    assert_eq!(
        steps(&secrets, &events, NOW),
        [Keep, Stub, Stub, Keep, Keep, Keep]
    );
    let (purged, applied) = apply_scan(&secrets, &events, NOW).unwrap();
    assert_eq!(
        applied,
        Applied {
            deleted: 0,
            stubs: 2,
            anchors: 0
        }
    );
    assert!(purged[1].is_stub() && purged[2].is_stub());
    assert_eq!(purged[1].seal, events[1].seal);
    assert!(purged[1].seal_is_valid(&secrets));
    let report = verify_at(&secrets, NOW, &purged);
    assert_clean(&report);
    assert_eq!(report.chains[0].stubs, 2);
    assert_eq!(
        steps(&secrets, &purged, NOW),
        [Keep, Stubbed, Stubbed, Keep, Keep, Keep]
    );

    // Later, #1 expired too: #1..#3 go, #4 is anchored.
    let later = NOW + 1;
    assert_eq!(
        steps(&secrets, &purged, later),
        [Purge, Purge, Purge, Keep, Keep, Keep]
    );
    let (gone, applied) = apply_scan(&secrets, &purged, later).unwrap();
    assert_eq!(
        applied,
        Applied {
            deleted: 3,
            stubs: 0,
            anchors: 1
        }
    );
    assert_eq!(gone[0].seq, 4);
    assert!(gone[0]
        .anchor
        .as_ref()
        .unwrap()
        .is_valid_for(&gone[0], &secrets));
    assert_clean(&verify_at(&secrets, later, &gone));
    // Without the anchor it is a gap from #1.
    let mut bare = gone.clone();
    bare[0].anchor = None;
    let report = verify_with(&secrets, &bare);
    assert_eq!(
        found(&report),
        rows("main", &[(1, "gap")]),
        "{}",
        describe(&report)
    );
    assert_eq!(report.findings[0].kind, FindingKind::Gap { to: 3 });
}

#[test]
fn purge_refuses_what_it_may_not_stub() {
    let (secrets, mut events) = small();
    let s = secrets.current().clone();
    for (i, why) in [(0, "is after"), (3, "no removeAt")] {
        let before = events[i].clone();
        let err = events[i].purge(NOW, &s).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidEvent(m) if m.contains(why)),
            "{err}"
        );
        assert_eq!(events[i], before, "nothing changed");
    }
    events[1].purge(NOW, &s).unwrap();
    let err = events[1].purge(NOW, &s).unwrap_err();
    assert!(err.to_string().contains("already a stub"), "{err}");
}

#[test]
fn a_mark_copied_from_another_stub_is_modified_or_stripped() {
    let (secrets, events) = small();
    let (purged, _) = apply_scan(&secrets, &events, NOW).unwrap();
    let mark = purged[1].purged.clone().unwrap();
    // As is: its digest is #2's content, not #5's; #5's seal fails.
    let mut forged = purged.clone();
    strip_with(&mut forged[4], mark.clone());
    let report = verify_at(&secrets, NOW, &forged);
    assert_eq!(
        found(&report),
        rows("main", &[(5, "modified")]),
        "{}",
        describe(&report)
    );
    // With #5's digest (anyone can compute it): its seal holds, the mark's not.
    let mut forged = purged.clone();
    let digest = forged[4].content_digest();
    strip_with(&mut forged[4], PurgeMark { digest, ..mark });
    let report = verify_at(&secrets, NOW, &forged);
    assert_eq!(
        found(&report),
        rows("main", &[(5, "stripped")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, 5, "stripped").contains("not authentic"));
    assert_eq!(
        scan_refusal(&secrets, &forged, NOW),
        Some(("main".into(), 5))
    );
}

#[test]
fn a_mark_with_a_flipped_byte_is_stripped() {
    let (secrets, events) = small();
    let (purged, _) = apply_scan(&secrets, &events, NOW).unwrap();
    let mut forged = purged.clone();
    forged[1].purged.as_mut().unwrap().seal.0[7] ^= 1;
    let report = verify_at(&secrets, NOW, &forged);
    assert_eq!(
        found(&report),
        rows("main", &[(2, "stripped")]),
        "{}",
        describe(&report)
    );
    let mut forged = purged;
    forged[2].purged.as_mut().unwrap().secret_id.0[0] ^= 1;
    let report = verify_at(&secrets, NOW, &forged);
    assert_eq!(
        found(&report),
        rows("main", &[(3, "stripped")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, 3, "stripped").contains("unknown seal secret id"));
}

#[test]
fn a_resealed_mark_before_remove_at_or_without_one_is_stripped() {
    let (secrets, events) = small();
    let s = secrets.current();
    // #5: removeAt NOW + 1000, "purged" at NOW with a genuine seal.
    let mut early = events.clone();
    forge_stub(&mut early[4], NOW, s);
    assert!(early[4].seal_is_valid(&secrets));
    let report = verify_at(&secrets, NOW, &early);
    assert_eq!(
        found(&report),
        rows("main", &[(5, "stripped")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, 5, "stripped").contains("before its removeAt"));
    assert_eq!(
        scan_refusal(&secrets, &early, NOW),
        Some(("main".into(), 5))
    );
    // #4: no removeAt at all.
    let mut never = events.clone();
    forge_stub(&mut never[3], NOW, s);
    let report = verify_at(&secrets, NOW, &never);
    assert_eq!(
        found(&report),
        rows("main", &[(4, "stripped")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, 4, "stripped").contains("no removeAt"));
    assert_eq!(
        scan_refusal(&secrets, &never, NOW),
        Some(("main".into(), 4))
    );
}

#[test]
fn a_mark_dated_beyond_now_and_the_skew_is_stripped() {
    let (secrets, events) = small();
    let s = secrets.current();
    let mut future = events.clone();
    forge_stub(&mut future[1], NOW + DEFAULT_CLOCK_SKEW_MS + 1, s);
    let report = verify_at(&secrets, NOW, &future);
    assert_eq!(
        found(&report),
        rows("main", &[(2, "stripped")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, 2, "stripped").contains("future"));
    // Within the skew, or a verifier that does not know the time: clean.
    assert_clean(&verify_with(&secrets, &future));
    let mut edge = events.clone();
    forge_stub(&mut edge[1], NOW + DEFAULT_CLOCK_SKEW_MS, s);
    assert_clean(&verify_at(&secrets, NOW, &edge));
    // A tighter skew makes it stripped.
    let report = verify(
        Verifier::new(secrets.clone())
            .with_now_ms(NOW)
            .with_clock_skew_ms(10),
        &edge,
    );
    assert_eq!(
        found(&report),
        rows("main", &[(2, "stripped")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_stub_whose_digest_changed_is_modified() {
    let (secrets, events) = small();
    let (purged, _) = apply_scan(&secrets, &events, NOW).unwrap();
    // The mark re-sealed after the change: only the event's seal fails.
    let mut forged = purged.clone();
    forged[1].purged.as_mut().unwrap().digest[0] ^= 0x80;
    let report = verify_at(&secrets, NOW, &forged);
    assert_eq!(
        found(&report),
        rows("main", &[(2, "modified")]),
        "{}",
        describe(&report)
    );
    reseal_mark(&mut forged[1], secrets.current());
    let report = verify_at(&secrets, NOW, &forged);
    assert_eq!(
        found(&report),
        rows("main", &[(2, "modified")]),
        "{}",
        describe(&report)
    );
    assert!(!forged[1].seal_is_valid(&secrets));
    assert_eq!(
        scan_refusal(&secrets, &forged, NOW),
        Some(("main".into(), 2))
    );
}

#[test]
fn the_event_restored_beside_its_stub_is_a_duplicate_another_is_inserted() {
    let (secrets, events) = small();
    let (purged, _) = apply_scan(&secrets, &events, NOW).unwrap();
    for at in [1, 2, purged.len()] {
        let mut restored = purged.clone();
        restored.insert(at, events[1].clone());
        let report = verify_at(&secrets, NOW, &restored);
        assert_eq!(
            found(&report),
            rows("main", &[(2, "duplicate")]),
            "at {at}: {}",
            describe(&report)
        );

        let mut other = events[1].clone();
        other.code = "LIFECYCLE-REVOKE".into();
        let mut inserted = purged.clone();
        inserted.insert(at, other);
        let report = verify_at(&secrets, NOW, &inserted);
        assert_eq!(
            found(&report),
            rows("main", &[(2, "inserted")]),
            "at {at}: {}",
            describe(&report)
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Seal-secret rotation across pods
// ---------------------------------------------------------------------------

/// Three pods on one chain during a rolling restart, and an auditor.
struct Pods {
    s0: SealSecret,
    s1: SealSecret,
    s2: SealSecret,
    /// Restarted: S1 current, S0 retired.
    a: Chainer,
    /// The rollout step: S0 current, S1 staged (`EVENT_SEAL_SECRET_NEXT`).
    b: Chainer,
    /// Not restarted yet: S0 only.
    c: Chainer,
    /// Every secret, S2 included.
    auditor: SealSecrets,
}

impl Pods {
    fn new() -> Pods {
        let (s0, s1, s2) = (secret(0), secret(1), secret(2));
        Pods {
            a: Chainer::new(SealSecrets::new(s1.clone()).with_retired(s0.clone()), None),
            b: Chainer::new(
                {
                    let mut staged = SealSecrets::new(s0.clone());
                    staged.add_next(s1.clone());
                    staged
                },
                None,
            ),
            c: Chainer::new(SealSecrets::new(s0.clone()), None),
            // Newest first: S2 (the next rotation of some tests), S1, S0.
            auditor: SealSecrets::new(s2.clone())
                .with_retired(s1.clone())
                .with_retired(s0.clone()),
            s0,
            s1,
            s2,
        }
    }

    fn pod(&self, n: usize) -> &Chainer {
        [&self.a, &self.b, &self.c][n]
    }

    /// A chainer sealing with `current`, knowing the three secrets.
    fn sealing_with(&self, current: &SealSecret) -> Chainer {
        let mut secrets = SealSecrets::new(current.clone());
        // Retired secrets newest first.
        for s in [&self.s2, &self.s1, &self.s0] {
            secrets.add_retired(s.clone());
        }
        Chainer::new(secrets, None)
    }
}

fn pod_draft(pod: usize, k: usize, ts: i64) -> EventDraft {
    EventDraft::new(
        "TSA-STAMP",
        "tsa",
        format!("pod-{pod}"),
        Status::Success,
        Timestamp::from_millis(ts),
    )
    .public("n", k.to_string())
}

/// Appends one draft by `chainer` as a store does (plan, then seal).
fn append(
    chainer: &Chainer,
    head: &mut Head,
    rotation: Option<&RotationRecord>,
    events: &mut Vec<SealedEvent>,
    ts: i64,
) -> Appended {
    let plan = chainer.plan(head, rotation).unwrap();
    let sealed = chainer
        .seal_planned(head, &[pod_draft(9, 0, ts)], &plan)
        .unwrap();
    let out = Appended {
        plan,
        rotation: sealed.rotation.clone(),
    };
    events.extend(sealed.rotation);
    events.extend(sealed.events);
    out
}

struct Appended {
    plan: SealPlan,
    rotation: Option<SealedEvent>,
}

/// The rollout: C and B seal with S0; A rotates to S1; B follows S1.
/// Returns the events, the head, the rotation record and its seq.
fn rollout(pods: &Pods) -> (Vec<SealedEvent>, Head, RotationRecord, u64) {
    let mut head = Head::genesis(chain_id("main"));
    let mut events = Vec::new();
    for (k, pod) in [&pods.c, &pods.b, &pods.c].into_iter().enumerate() {
        let done = append(pod, &mut head, None, &mut events, T0 + k as i64);
        assert_eq!(done.plan, SealPlan::With(pods.s0.id()));
    }
    let done = append(&pods.a, &mut head, None, &mut events, T0 + 10);
    let want = RotationRecord {
        from: pods.s0.id(),
        to: pods.s1.id(),
        superseded: vec![pods.s0.id()],
    };
    assert_eq!(done.plan, SealPlan::Rotate(want.clone()));
    let record = done.rotation.unwrap();
    assert_eq!(record.secret_id, pods.s1.id());
    assert_eq!(RotationRecord::parse(&record), Some(Ok(want.clone())));
    let at = record.seq;
    for (k, pod) in [&pods.b, &pods.a, &pods.b].into_iter().enumerate() {
        let done = append(pod, &mut head, Some(&want), &mut events, T0 + 20 + k as i64);
        assert_eq!(done.plan, SealPlan::With(pods.s1.id()), "follows S1");
        assert!(done.rotation.is_none());
    }
    assert_eq!(head.sealed_by, Some(pods.s1.id()));
    (events, head, want, at)
}

#[test]
fn a_rollout_across_three_pods_verifies() {
    let pods = Pods::new();
    let (events, head, record, at) = rollout(&pods);
    assert_eq!(at, 4);
    assert_eq!(events.len(), 8);
    assert!(events[..3].iter().all(|e| e.secret_id == pods.s0.id()));
    assert!(events[3..].iter().all(|e| e.secret_id == pods.s1.id()));
    assert_clean(&verify_with(&pods.auditor, &events));
    // Pod C does not know S1: it refuses, naming it.
    let err = pods.c.plan(&head, Some(&record)).unwrap_err();
    assert!(
        matches!(&err, Error::SecretNotKnown { chain, secret } if chain == "main" && *secret == pods.s1.id()),
        "{err}"
    );
    assert!(err.to_string().contains(&pods.s1.id().to_hex()), "{err}");
    // Without the record too: the head alone names the secret it lacks.
    let err = pods.c.plan(&head, None).unwrap_err();
    assert!(matches!(err, Error::SecretNotKnown { .. }), "{err}");
    // Asked to seal that plan anyway, it refuses and leaves the head.
    let mut h = head.clone();
    let err = pods
        .c
        .seal_planned(
            &mut h,
            &[pod_draft(2, 0, T0 + 99)],
            &SealPlan::With(pods.s1.id()),
        )
        .unwrap_err();
    assert!(matches!(err, Error::UnknownSecret(_)), "{err}");
    assert_eq!(h, head);
}

#[test]
fn an_event_sealed_by_the_superseded_secret_after_the_rotation_is_retired_secret() {
    let pods = Pods::new();
    let (mut events, mut head, _, _) = rollout(&pods);
    let seq = head.next_seq;
    events.push(pods.c.seal(&mut head, &pod_draft(2, 0, T0 + 50)).unwrap());
    let report = verify_with(&pods.auditor, &events);
    assert_eq!(
        found(&report),
        rows("main", &[(seq, "retired_secret")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_rotation_back_to_the_superseded_secret_is_bad_rotation() {
    let pods = Pods::new();
    let (events, head, _, _) = rollout(&pods);
    let r = head.next_seq;

    // A pod that takes S1 for an old secret (given as retired, not staged)
    // and plans without the last rotation record writes "S1 -> S0" (sealed
    // by S0): well formed, but it brings back a superseded secret; its
    // event after it is sealed by S0, superseded.
    let misconfigured = Chainer::new(
        SealSecrets::new(pods.s0.clone()).with_retired(pods.s1.clone()),
        None,
    );
    let mut back = events.clone();
    let mut h = head.clone();
    let done = append(&misconfigured, &mut h, None, &mut back, T0 + 50);
    assert_eq!(
        done.plan,
        SealPlan::Rotate(RotationRecord {
            from: pods.s1.id(),
            to: pods.s0.id(),
            superseded: vec![pods.s1.id()],
        })
    );
    let report = verify_with(&pods.auditor, &back);
    assert_eq!(
        found_sorted(&report),
        rows("main", &[(r, "bad_rotation"), (r + 1, "retired_secret")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, r, "bad_rotation").contains("brings back"));

    // The same naming S0 as superseded: malformed, and sealed by S0.
    let forged = RotationRecord {
        from: pods.s1.id(),
        to: pods.s0.id(),
        superseded: vec![pods.s0.id(), pods.s1.id()],
    };
    let mut bad = events.clone();
    let mut h = head.clone();
    bad.push(
        pods.c
            .seal(&mut h, &forged.draft("pod-2", T0 + 50))
            .unwrap(),
    );
    let report = verify_with(&pods.auditor, &bad);
    assert_eq!(
        found_sorted(&report),
        rows("main", &[(r, "bad_rotation"), (r, "retired_secret")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, r, "bad_rotation").contains("cannot bring back"));

    // "S0 -> S1" again, but sealed by S0: not sealed by its `to`.
    let again = RotationRecord {
        from: pods.s0.id(),
        to: pods.s1.id(),
        superseded: vec![pods.s0.id()],
    };
    let mut bad = events.clone();
    let mut h = head.clone();
    bad.push(pods.c.seal(&mut h, &again.draft("pod-2", T0 + 50)).unwrap());
    let report = verify_with(&pods.auditor, &bad);
    assert_eq!(
        found_sorted(&report),
        rows("main", &[(r, "bad_rotation"), (r, "retired_secret")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, r, "bad_rotation").contains("sealed by the secret it names"));

    // "S0 -> S2" sealed by S2 while the chain is at S1: not from the
    // chain's secret.
    let skip = RotationRecord {
        from: pods.s0.id(),
        to: pods.s2.id(),
        superseded: vec![pods.s0.id()],
    };
    let mut bad = events.clone();
    let mut h = head.clone();
    bad.push(
        pods.sealing_with(&pods.s2)
            .seal(&mut h, &skip.draft("pod-2", T0 + 50))
            .unwrap(),
    );
    let report = verify_with(&pods.auditor, &bad);
    assert_eq!(
        found(&report),
        rows("main", &[(r, "bad_rotation")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, r, "bad_rotation").contains("rotates from"));

    // A proper "S1 -> S2" by a pod with S2 current verifies.
    let mut ok = events.clone();
    let mut h = head.clone();
    let last = RotationRecord {
        from: pods.s0.id(),
        to: pods.s1.id(),
        superseded: vec![pods.s0.id()],
    };
    let done = append(
        &pods.sealing_with(&pods.s2),
        &mut h,
        Some(&last),
        &mut ok,
        T0 + 50,
    );
    assert!(
        matches!(done.plan, SealPlan::Rotate(ref rec) if rec.superseded == vec![pods.s0.id(), pods.s1.id()])
    );
    assert_clean(&verify_with(&pods.auditor, &ok));
    // And then S1 is retired too.
    let seq = h.next_seq;
    ok.push(pods.a.seal(&mut h, &pod_draft(0, 0, T0 + 60)).unwrap());
    let report = verify_with(&pods.auditor, &ok);
    assert_eq!(
        found(&report),
        rows("main", &[(seq, "retired_secret")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_copied_rotation_record_is_an_error_at_its_position() {
    let pods = Pods::new();
    let (events, head, _, at) = rollout(&pods);
    let record = events.iter().find(|e| e.seq == at).unwrap().clone();
    let next = head.next_seq;

    // Stored again as is: a duplicate at its own position.
    let mut copied = events.clone();
    copied.push(record.clone());
    let report = verify_with(&pods.auditor, &copied);
    assert_eq!(
        found(&report),
        rows("main", &[(at, "duplicate")]),
        "{}",
        describe(&report)
    );

    // Moved to the head (linked there): its seal covers seq and prev.
    let mut moved = record.clone();
    moved.seq = next;
    moved.prev = head.prev;
    let mut copied = events.clone();
    copied.push(moved);
    let report = verify_with(&pods.auditor, &copied);
    assert_eq!(
        found(&report),
        rows("main", &[(next, "modified")]),
        "{}",
        describe(&report)
    );

    // Beside the authentic event of another position.
    let mut beside = record.clone();
    beside.seq = 6;
    beside.prev = events[4].seal;
    let mut copied = events.clone();
    copied.insert(5, beside);
    let report = verify_with(&pods.auditor, &copied);
    assert_eq!(
        found(&report),
        rows("main", &[(6, "inserted")]),
        "{}",
        describe(&report)
    );

    // From another chain that rotated the same way.
    let mut other_head = Head::genesis(chain_id("other"));
    let mut other = Vec::new();
    append(&pods.b, &mut other_head, None, &mut other, T0);
    let done = append(&pods.a, &mut other_head, None, &mut other, T0 + 1);
    let mut foreign = done.rotation.unwrap();
    foreign.chain = chain_id("main");
    foreign.seq = next;
    foreign.prev = head.prev;
    let mut copied = events.clone();
    copied.push(foreign);
    let report = verify_with(&pods.auditor, &copied);
    assert_eq!(
        found(&report),
        rows("main", &[(next, "modified")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn an_event_sealed_by_a_third_secret_without_a_record_is_unannounced() {
    let pods = Pods::new();
    let (mut events, mut head, _, _) = rollout(&pods);
    let seq = head.next_seq;
    events.push(
        pods.sealing_with(&pods.s2)
            .seal(&mut head, &pod_draft(3, 0, T0 + 50))
            .unwrap(),
    );
    let report = verify_with(&pods.auditor, &events);
    assert_eq!(
        found(&report),
        rows("main", &[(seq, "unannounced_secret")]),
        "{}",
        describe(&report)
    );
    // Without the rotation a chain sealed by S0 then S1 is unannounced too.
    let mut head = Head::genesis(chain_id("plain"));
    let mut plain = vec![pods.c.seal(&mut head, &pod_draft(2, 0, T0)).unwrap()];
    plain.push(pods.a.seal(&mut head, &pod_draft(0, 0, T0 + 1)).unwrap());
    let report = verify_with(&pods.auditor, &plain);
    assert_eq!(
        found(&report),
        rows("plain", &[(2, "unannounced_secret")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn plan_refuses_a_chain_rotated_to_a_secret_the_pod_does_not_know() {
    let pods = Pods::new();
    let (mut events, mut head, first, _) = rollout(&pods);
    // A pod with S2 current rotates the chain on to S2.
    let d = pods.sealing_with(&pods.s2);
    let done = append(&d, &mut head, Some(&first), &mut events, T0 + 50);
    let SealPlan::Rotate(second) = done.plan else {
        panic!("expected a rotation, got {:?}", done.plan)
    };
    assert_eq!(second.superseded, vec![pods.s0.id(), pods.s1.id()]);
    for pod in [&pods.a, &pods.b, &pods.c] {
        let err = pod.plan(&head, Some(&second)).unwrap_err();
        assert!(
            matches!(err, Error::SecretNotKnown { secret, .. } if secret == pods.s2.id()),
            "{err}"
        );
    }
    assert_clean(&verify_with(&pods.auditor, &events));
}

/// A new chain, started during the rollout by a restarted pod: sealed by
/// S1 from its genesis, with no rotation record (an empty chain is sealed
/// by the current secret).
fn started_by_a_restarted_pod(pods: &Pods) -> (Vec<SealedEvent>, Head) {
    let mut head = Head::genesis(chain_id("new"));
    let mut events = Vec::new();
    let done = append(&pods.a, &mut head, None, &mut events, T0);
    assert_eq!(done.plan, SealPlan::With(pods.s1.id()));
    (events, head)
}

#[test]
fn a_pod_not_restarted_refuses_a_chain_sealed_by_a_secret_it_does_not_know() {
    let pods = Pods::new();
    let (_, head) = started_by_a_restarted_pod(&pods);
    let plan = pods.c.plan(&head, None);
    assert!(
        matches!(&plan, Err(Error::SecretNotKnown { secret, .. }) if *secret == pods.s1.id()),
        "pod C plans {plan:?}"
    );
}

#[test]

fn a_chain_started_during_the_rollout_ends_up_on_the_new_secret() {
    let pods = Pods::new();
    let (mut events, mut head) = started_by_a_restarted_pod(&pods);
    let mut last: Option<RotationRecord> = None;
    // Pod B, in the rollout step, appends as a store does.
    let done = append(&pods.b, &mut head, None, &mut events, T0 + 1);
    if let Some(record) = &done.rotation {
        last = RotationRecord::parse(record).map(|r| r.unwrap());
    }
    // Pod A again, planning with the chain's last rotation record.
    append(&pods.a, &mut head, last.as_ref(), &mut events, T0 + 2);
    assert_clean(&verify_with(&pods.auditor, &events));
    // The rollout is over: every pod has S1 current, S0 is dropped. The
    // chain must go on, sealed by S1.
    let after = Chainer::new(SealSecrets::new(pods.s1.clone()), None);
    let plan = after.plan(&head, last.as_ref());
    assert!(
        matches!(plan, Ok(SealPlan::With(id)) if id == pods.s1.id()),
        "after the rollout: {plan:?}; the chain is sealed by {:?}, rotations {last:?}",
        head.sealed_by
    );
}

// ---------------------------------------------------------------------------
// 4. Crypto-shredding and its records
// ---------------------------------------------------------------------------

/// `main`: #1 with sensitive `subject` and `pin`, #2 public only, #3 with
/// `subject`, #4 public. Returns the secrets, the chainer and the events.
fn shred_chain() -> (SealSecrets, Chainer, Vec<SealedEvent>, Head) {
    let secrets = SealSecrets::new(secret(0));
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let chainer = Chainer::new(secrets.clone(), envelope(&keyset));
    let mut head = Head::genesis(chain_id("main"));
    let drafts = [
        EventDraft::new(
            "LIFECYCLE-ENROLL",
            "ca",
            "pod-0",
            Status::Success,
            Timestamp::from_millis(T0),
        )
        .public("serial", "01")
        .sensitive("subject", b"CN=alice".to_vec())
        .sensitive("pin", b"1234".to_vec()),
        EventDraft::new(
            "OCSP-SIGN",
            "ocsp",
            "pod-0",
            Status::Success,
            Timestamp::from_millis(T0 + 1),
        )
        .public("serial", "02"),
        EventDraft::new(
            "LIFECYCLE-ENROLL",
            "ca",
            "pod-1",
            Status::Success,
            Timestamp::from_millis(T0 + 2),
        )
        .sensitive("subject", b"CN=bob".to_vec())
        .remove_at(Timestamp::from_millis(NOW - 1)),
        EventDraft::new(
            "TSA-STAMP",
            "tsa",
            "pod-1",
            Status::Success,
            Timestamp::from_millis(T0 + 3),
        )
        .public("serial", "04"),
    ];
    let events = chainer.seal_batch(&mut head, &drafts).unwrap();
    (secrets, chainer, events, head)
}

fn shred_record(chainer: &Chainer, head: &mut Head, target: u64, keys: &[&str]) -> SealedEvent {
    let record = ShredRecord {
        target,
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        reason: "GDPR erasure".into(),
    };
    chainer.seal(head, &record.draft("pod-0", T0 + 10)).unwrap()
}

#[test]
fn an_erased_key_without_a_record_is_key_erased_there() {
    let (secrets, _, mut events, _) = shred_chain();
    assert_eq!(events[0].shred(None), 2);
    let report = verify_with(&secrets, &events);
    assert_eq!(
        found_sorted(&report),
        rows("main", &[(1, "key_erased"), (1, "key_erased")]),
        "{}",
        describe(&report)
    );
    let mut keys: Vec<String> = report
        .findings
        .iter()
        .filter_map(|f| match &f.kind {
            FindingKind::KeyErased(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["pin", "subject"]);
}

#[test]
fn a_shred_record_covers_exactly_the_keys_it_names() {
    let (secrets, chainer, mut events, mut head) = shred_chain();
    events[0].shred(None);
    let mut all = events.clone();
    all.push(shred_record(
        &chainer,
        &mut head.clone(),
        1,
        &["subject", "pin"],
    ));
    assert_clean(&verify_with(&secrets, &all));
    // Naming `subject` only: `pin` is still erased by someone else.
    let mut part = events.clone();
    part.push(shred_record(&chainer, &mut head, 1, &["subject"]));
    let report = verify_with(&secrets, &part);
    assert_eq!(
        found(&report),
        rows("main", &[(1, "key_erased")]),
        "{}",
        describe(&report)
    );
    assert_eq!(message_at(&report, 1, "key_erased"), "pin");
}

#[test]
fn a_key_restored_after_its_shred_is_unshredded_when_the_records_are_learned_first() {
    let (secrets, chainer, original, mut head) = shred_chain();
    let mut events = original.clone();
    events[0].shred(Some("pin"));
    events.push(shred_record(&chainer, &mut head, 1, &["pin"]));
    assert_clean(&verify_with(&secrets, &events));
    let mut restored = events.clone();
    restored[0] = original[0].clone();
    // Learned from the input only, the record comes after: not seen.
    assert_clean(&verify_with(&secrets, &restored));
    let mut verifier = Verifier::new(secrets.clone());
    restored.iter().for_each(|e| verifier.learn_shred(e));
    let report = verify(verifier, &restored);
    assert_eq!(
        found(&report),
        rows("main", &[(1, "unshredded")]),
        "{}",
        describe(&report)
    );
    assert_eq!(message_at(&report, 1, "unshredded"), "pin");
}

#[test]
fn a_forged_shred_record_covers_nothing() {
    let (secrets, chainer, mut events, mut head) = shred_chain();
    events[0].shred(None);
    let r = head.next_seq;

    // A genuine record for #3, its target changed to #1: not authentic.
    let mut modified = shred_record(&chainer, &mut head.clone(), 3, &["subject", "pin"]);
    for d in &mut modified.details {
        if d.key == "target" {
            d.value = DetailValue::Public("1".into());
        }
    }
    assert_eq!(
        ShredRecord::parse(&modified).unwrap().unwrap().target,
        1,
        "it reads as a record for #1"
    );
    let mut forged = events.clone();
    forged.push(modified.clone());
    let mut verifier = Verifier::new(secrets.clone());
    verifier.learn_shred(&modified); // ignored: not authentic
    let report = verify(verifier, &forged);
    assert_eq!(
        found_sorted(&report),
        rows(
            "main",
            &[(1, "key_erased"), (1, "key_erased"), (r, "modified")]
        ),
        "{}",
        describe(&report)
    );

    // A record sealed by a secret the verifier does not know.
    let stranger = Chainer::new(SealSecrets::new(secret(7)), None);
    let mut forged = events.clone();
    forged.push(shred_record(&stranger, &mut head, 1, &["subject", "pin"]));
    let report = verify_with(&secrets, &forged);
    assert_eq!(
        found_sorted(&report),
        rows(
            "main",
            &[(1, "key_erased"), (1, "key_erased"), (r, "unknown_secret")]
        ),
        "{}",
        describe(&report)
    );
}

#[test]
fn shred_refusal_says_why() {
    let (secrets, chainer, events, mut head) = shred_chain();
    let refusal = |event: Option<&SealedEvent>, key: Option<&str>| {
        shred_refusal(event, key, &secrets).unwrap_or_default()
    };
    assert!(refusal(None, None).contains("no event is stored there"));
    // Not authentic.
    let mut modified = events[0].clone();
    modified.node = "forged".into();
    assert!(refusal(Some(&modified), None).contains("not authentic"));
    // A stub.
    let mut stub = events[2].clone();
    stub.purge(NOW, secrets.current()).unwrap();
    assert!(refusal(Some(&stub), None).contains("purged"));
    // Records of the store: a shred record, a rotation record.
    let record = shred_record(&chainer, &mut head, 1, &["pin"]);
    assert!(refusal(Some(&record), None).contains("record of the store"));
    let rotating = Chainer::new(SealSecrets::new(secret(1)).with_retired(secret(0)), None);
    let plan = rotating.plan(&head, None).unwrap();
    let rotation = rotating
        .seal_planned(&mut head, &[pod_draft(0, 0, T0 + 20)], &plan)
        .unwrap()
        .rotation
        .unwrap();
    let rotation_refusal = shred_refusal(Some(&rotation), None, rotating.secrets());
    assert!(
        rotation_refusal
            .as_deref()
            .unwrap_or_default()
            .contains("record of the store"),
        "{rotation_refusal:?}"
    );
    // No sensitive detail; no such one; a public one of that name.
    assert_eq!(
        refusal(Some(&events[1]), None),
        "it has no sensitive detail"
    );
    assert!(refusal(Some(&events[0]), Some("nope")).contains("no sensitive detail `nope`"));
    assert!(refusal(Some(&events[0]), Some("serial")).contains("no sensitive detail `serial`"));
    // Already erased: all, or the one asked for; another still may be.
    let mut shredded = events[0].clone();
    shredded.shred(Some("pin"));
    assert!(refusal(Some(&shredded), Some("pin")).contains("already erased"));
    assert_eq!(
        shred_refusal(Some(&shredded), Some("subject"), &secrets),
        None
    );
    assert_eq!(shred_refusal(Some(&shredded), None, &secrets), None);
    shredded.shred(None);
    assert!(refusal(Some(&shredded), None).contains("already erased"));
    assert_eq!(shred_refusal(Some(&events[0]), None, &secrets), None);
}

// ---------------------------------------------------------------------------
// 5. Deep verification with the keyset
// ---------------------------------------------------------------------------

#[test]
fn deep_verification_opens_every_key_and_names_what_does_not_decrypt() {
    let (secrets, chainer, events, mut head) = shred_chain();
    let deep = |with: &Chainer| Verifier::new(secrets.clone()).with_keyset(with.clone());
    assert_clean(&verify(deep(&chainer), &events));

    // `subject` wrapped keys of #1 and #3 swapped.
    let mut swapped = events.clone();
    let (first, rest) = swapped.split_at_mut(2);
    std::mem::swap(
        &mut sensitive_mut(&mut first[0], "subject").wrapped_dek,
        &mut sensitive_mut(&mut rest[0], "subject").wrapped_dek,
    );
    assert_clean(&verify_with(&secrets, &swapped));
    let report = verify(deep(&chainer), &swapped);
    assert_eq!(
        found_sorted(&report),
        rows("main", &[(1, "undecryptable"), (3, "undecryptable")]),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, 3, "undecryptable").contains("detail `subject`"));

    // A keyset lacking the key: every sensitive detail, named.
    let stranger = Chainer::new(
        secrets.clone(),
        envelope(&Keyset::generate(Template::AES256_GCM_SIV)),
    );
    let report = verify(deep(&stranger), &events);
    assert_eq!(
        found_sorted(&report),
        rows(
            "main",
            &[
                (1, "undecryptable"),
                (1, "undecryptable"),
                (3, "undecryptable")
            ]
        ),
        "{}",
        describe(&report)
    );
    for f in &report.findings {
        assert!(f.to_string().contains("not in this keyset"), "{f}");
    }

    // A shredded detail is not opened; with its record the chain is clean.
    let mut shredded = events.clone();
    shredded[0].shred(None);
    shredded.push(shred_record(&chainer, &mut head, 1, &["subject", "pin"]));
    assert_clean(&verify(deep(&chainer), &shredded));

    // A chainer without a keyset: no deep verification.
    let blind = Chainer::new(secrets.clone(), None);
    assert_clean(&verify(deep(&blind), &swapped));
}

// ---------------------------------------------------------------------------
// 6. The list of retired seal secrets
// ---------------------------------------------------------------------------

#[test]
fn a_retired_list_is_split_on_newlines_and_commas_blanks_skipped() {
    let a = "first-retired-secret-of-32-chars";
    let b = "second-retired-secret-32-chars..";
    let c = "0123456789abcdef".repeat(8); // 128 hex: 64 bytes
    let list = format!("\n{a}\r\n\n , \n{b},{c}\n,\n");
    let secrets = SealSecrets::new(secret(9))
        .with_retired_list(&list)
        .unwrap();
    assert_eq!(secrets.ids().len(), 4, "{:?}", secrets.ids());
    for text in [a, b, c.as_str()] {
        let id = SealSecret::from_env_value(text).unwrap().id();
        assert!(secrets.get(id).is_some(), "{text}");
    }
    let hex = SealSecret::new(&hex::decode(&c).unwrap()).unwrap();
    assert!(
        secrets.get(hex.id()).is_some(),
        "128 hex characters are 64 bytes"
    );
    // Blank: nothing more. The current secret listed as retired or staged
    // is a contradiction, refused naming the entry.
    let same = SealSecrets::new(secret(9))
        .with_retired_list(" \n,\r\n")
        .unwrap();
    assert_eq!(same.ids(), vec![secret(9).id()]);
    let current = || SealSecrets::new(SealSecret::from_env_value(a).unwrap());
    for err in [
        current()
            .with_retired_list(&format!("{b},{a}"))
            .unwrap_err(),
        current().with_next_list(&format!("{b},{a}")).unwrap_err(),
    ] {
        assert!(
            matches!(&err, stream_chain::Error::InvalidRetiredSecret { entry: 2, reason, .. } if reason.contains("current")),
            "{err}"
        );
    }
}

#[test]
fn a_too_short_retired_entry_is_named_without_its_text() {
    let good = "a-retired-secret-of-32-characters";
    for (list, entry) in [
        ("tooShortXyz".to_owned(), 1),
        (format!("{good}\ntooShortXyz"), 2),
        (format!("{good},,\n\n{good}x,tooShortXyz,{good}y"), 3),
        (format!("\r\n{good}\r\ntooShortXyz\r\n"), 2),
    ] {
        let err = SealSecrets::new(secret(9))
            .with_retired_list(&list)
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRetiredSecret { entry: e, .. } if *e == entry),
            "{list:?}: {err:?}"
        );
        let shown = format!("{err} / {err:?}");
        assert!(shown.contains(&format!("#{entry}")), "{shown}");
        assert!(!shown.contains("tooShortXyz"), "{shown}");
        assert!(!shown.contains(good), "{shown}");
    }
}

#[test]
fn secret_ids_of_the_pods_differ() {
    // The fixtures above rely on distinct secrets.
    let ids: BTreeSet<SecretId> = (0..10).map(|n| secret(n).id()).collect();
    assert_eq!(ids.len(), 10);
}

#[test]
fn list_entries_are_trimmed_and_staged_successors_are_known_and_followed() {
    let a = "first-retired-secret-of-32-chars";
    let b = "second-retired-secret-32-chars..";
    let spaced = SealSecrets::new(secret(9))
        .with_retired_list(&format!("{a}, {b}\t"))
        .unwrap();
    let plain = SealSecrets::new(secret(9))
        .with_retired_list(&format!("{a},{b}"))
        .unwrap();
    assert_eq!(spaced.ids(), plain.ids());
    let staged = SealSecrets::new(secret(9))
        .with_next_list(&format!("{b}\n"))
        .unwrap();
    let b_id = SealSecret::from_env_value(b).unwrap().id();
    assert!(staged.is_next(b_id) && staged.get(b_id).is_some());
    assert!(!plain.is_next(b_id));
    let err = SealSecrets::new(secret(9))
        .with_next_list("short")
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidRetiredSecret {
                variable: "EVENT_SEAL_SECRET_NEXT",
                entry: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // Made current, a staged secret is no longer staged.
    let mut rotated = staged.clone();
    rotated.rotate(SealSecret::from_env_value(b).unwrap());
    assert!(!rotated.is_next(b_id) && rotated.current().id() == b_id);
}

#[test]
fn a_malformed_shred_record_is_reported_and_covers_nothing() {
    let (secrets, chainer, mut events, mut head) = shred_chain();
    events[0].shred(None);
    // Authentic (sealed by the pod's secret) but naming no key.
    let draft = EventDraft::new(
        SHRED_CODE,
        SYSTEM_MODULE,
        "pod-0",
        Status::Success,
        Timestamp::from_millis(T0 + 10),
    )
    .public("target", "1")
    .public("reason", "no keys named");
    let seq = head.next_seq;
    events.push(chainer.seal(&mut head, &draft).unwrap());
    let report = verify_with(&secrets, &events);
    assert_eq!(
        found_sorted(&report),
        rows(
            "main",
            &[(1, "key_erased"), (1, "key_erased"), (seq, "malformed")]
        ),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, seq, "malformed").contains("shred record"));
}

#[test]
fn a_purge_refuses_a_stub_dated_after_it() {
    let (secrets, events) = small();
    let mut later = events.clone();
    forge_stub(&mut later[1], NOW + 10, secrets.current());
    let mut scan = PurgeScan::new(&secrets, NOW);
    let refused = later
        .iter()
        .enumerate()
        .find_map(|(i, e)| scan.step(e, i + 1 == later.len()).err());
    assert!(
        matches!(&refused, Some(Error::PurgeRefused { seq: 2, reason, .. }) if reason.contains("dated after")),
        "{refused:?}"
    );
}

// ---------------------------------------------------------------------------
// 7. A holder of a retired secret (the adversarial review of format 2)
// ---------------------------------------------------------------------------

/// What a holder of S0 seals at `head`: the draft, sealed by S0 whatever
/// the chain says.
fn forge(pods: &Pods, head: &mut Head, draft: &EventDraft) -> SealedEvent {
    Chainer::new(SealSecrets::new(pods.s0.clone()), None)
        .seal(head, draft)
        .unwrap()
}

fn rotation_draft(from: &SealSecret, to: &SealSecret, superseded: &[&SealSecret]) -> EventDraft {
    RotationRecord {
        from: from.id(),
        to: to.id(),
        superseded: superseded.iter().map(|s| s.id()).collect(),
    }
    .draft("intruder", T0 + 90)
}

#[test]
fn a_retired_secret_cannot_take_over_a_chain_born_on_its_successor() {
    let pods = Pods::new();
    let after = pods.a.secrets().clone(); // S1 current, S0 retired
    let mut head = Head::genesis(chain_id("main"));
    let mut events = Vec::new();
    for k in 0..3 {
        append(&pods.a, &mut head, None, &mut events, T0 + k);
    }
    // S1 -> S0, sealed by S0, then events sealed by S0.
    let r = head.next_seq;
    let record = forge(
        &pods,
        &mut head,
        &rotation_draft(&pods.s1, &pods.s0, &[&pods.s1]),
    );
    events.push(record.clone());
    events.push(forge(&pods, &mut head, &pod_draft(9, 1, T0 + 91)));
    let report = verify_with(&after, &events);
    assert_eq!(
        found(&report),
        rows(
            "main",
            &[(r, "bad_rotation"), (r + 1, "unannounced_secret")]
        ),
        "{}",
        describe(&report)
    );
    assert!(message_at(&report, r, "bad_rotation").contains("down to"));
    // An honest pod given that record as the last one never seals with S0:
    // it takes the chain back to S1, which the verifier accepts.
    let parsed = RotationRecord::parse(&record).unwrap().unwrap();
    let done = append(&pods.a, &mut head, Some(&parsed), &mut events, T0 + 92);
    assert!(
        matches!(&done.plan, SealPlan::Rotate(r) if r.to == pods.s1.id()),
        "{:?}",
        done.plan
    );
    append(&pods.a, &mut head, None, &mut events, T0 + 93);
    let report = verify_with(&after, &events);
    assert_eq!(
        report.errors,
        2,
        "only the forgeries: {}",
        describe(&report)
    );
    assert!(events.last().unwrap().secret_id == pods.s1.id());
}

#[test]
fn a_format_1_event_after_format_2_events_is_held_to_the_chains_secret() {
    let pods = Pods::new();
    let after = pods.a.secrets().clone();
    let mut head = Head::genesis(chain_id("main"));
    let mut events = Vec::new();
    append(&pods.a, &mut head, None, &mut events, T0);
    let seq = head.next_seq;
    let mut legacy = forge(&pods, &mut head, &pod_draft(9, 1, T0 + 1));
    legacy.version = stream_chain::LEGACY_FORMAT_VERSION;
    legacy.seal = legacy.compute_seal(&pods.s0);
    events.push(legacy);
    let report = verify_with(&after, &events);
    assert_eq!(
        found(&report),
        rows("main", &[(seq, "unannounced_secret")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn after_a_forged_back_rotation_or_event_the_pods_keep_the_new_secret() {
    let pods = Pods::new();
    let (events, head, record, _) = rollout(&pods);
    // A back-rotation S1 -> S0 (sealed by S0), or one event sealed by S0.
    for forged in [
        rotation_draft(&pods.s1, &pods.s0, &[&pods.s1]),
        pod_draft(9, 7, T0 + 90),
    ] {
        let mut events = events.clone();
        let mut head = head.clone();
        let at = head.next_seq;
        events.push(forge(&pods, &mut head, &forged));
        // The last valid rotation record is S0 -> S1: A seals with S1, B
        // (S0 current, S1 staged) follows S1.
        for pod in [&pods.a, &pods.b] {
            let done = append(pod, &mut head, Some(&record), &mut events, T0 + 95);
            assert_eq!(done.plan, SealPlan::With(pods.s1.id()));
        }
        let report = verify_with(&pods.a.secrets().clone(), &events);
        assert_eq!(report.errors, 1, "only the forgery: {}", describe(&report));
        assert_eq!(report.first_error().and_then(|f| f.seq), Some(at));
        // Given the forged record itself as the last one (a planner that
        // did not filter it), A still never seals with S0.
        if let Some(Ok(back)) = RotationRecord::parse(&events[at as usize - 1]) {
            let plan = pods.a.plan(&head, Some(&back)).unwrap();
            assert_eq!(plan, SealPlan::With(pods.s1.id()));
        }
    }
}

#[test]
fn a_forged_anchor_does_not_make_the_purge_delete_unexpired_events() {
    let pods = Pods::new();
    let (events, _, _, _) = rollout(&pods);
    // A holder of S0 anchors event 6: events 1..=5 (none expired, the
    // rotation record among them) would go.
    let mut forged = events.clone();
    forged[5].anchor = Some(Anchor::new(&forged[5], NOW, &pods.s0));
    let secrets = pods.a.secrets().clone();
    let mut scan = PurgeScan::new(&secrets, NOW).resuming_below(6);
    let refused = forged
        .iter()
        .enumerate()
        .find_map(|(i, e)| scan.step(e, i + 1 == forged.len()).err());
    assert!(
        matches!(&refused, Some(Error::PurgeRefused { seq: 1, reason, .. }) if reason.contains("not a purge's")),
        "{refused:?}"
    );
}

#[test]
fn a_verification_starting_inside_a_chain_knows_the_secrets_superseded_before() {
    let pods = Pods::new();
    let (mut events, mut head, _, _) = rollout(&pods);
    let at = head.next_seq;
    events.push(forge(&pods, &mut head, &pod_draft(9, 8, T0 + 90)));
    let secrets = pods.a.secrets().clone();
    // From the checkpoint at the head (#8) on, with the records learned
    // first: the S0 event after the rotation (#4) is a retired secret.
    let checkpoint = {
        let report = verify_with(&secrets, &events[..8]);
        stream_chain::Checkpoint::from_summary(&report.chains[0], &pods.s1).unwrap()
    };
    let mut verifier = Verifier::new(secrets.clone());
    verifier.trust_checkpoint(checkpoint.clone()).unwrap();
    events.iter().for_each(|e| verifier.learn_record(e));
    let report = verify(verifier, &events[8..]);
    assert_eq!(
        found(&report),
        rows("main", &[(at, "retired_secret")]),
        "{}",
        describe(&report)
    );
    // Without them, starting right at the forgery, it could not know.
    let mut blind = Verifier::new(secrets);
    blind.trust_checkpoint(checkpoint).unwrap();
    assert_eq!(verify(blind, &events[8..]).errors, 0);
}

#[test]
fn a_stripped_rotation_record_moves_no_finding_onto_genuine_events() {
    let pods = Pods::new();
    let (mut events, mut head, _, at) = rollout(&pods);
    // The rotation record (#4) stripped, a bogus mark on its true digest.
    let digest = events[at as usize - 1].content_digest();
    strip_with(
        &mut events[at as usize - 1],
        PurgeMark {
            digest,
            purged_ms: NOW,
            secret_id: pods.s1.id(),
            seal: Seal([7; 32]),
        },
    );
    let forged_at = head.next_seq;
    events.push(forge(&pods, &mut head, &pod_draft(9, 8, T0 + 90)));
    let report = verify_with(&pods.a.secrets().clone(), &events);
    assert_eq!(
        found(&report),
        rows(
            "main",
            &[(at, "stripped"), (forged_at, "unannounced_secret")]
        ),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_finding_after_an_interrupted_purge_does_not_make_its_prefix_a_gap() {
    // An interrupted purge: events 1 and 2 deleted, 3 and 4 still stored
    // below the anchor on 5; a stripped stub at 7 (a finding of its own,
    // not a broken link).
    let secrets = SealSecrets::new(secret(0));
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain_id("main"));
    let mut events: Vec<SealedEvent> = (0..8)
        .map(|i| {
            let mut draft = pod_draft(0, i, T0 + i as i64);
            draft.remove_at_ms = Some(NOW + 1);
            chainer.seal(&mut head, &draft).unwrap()
        })
        .collect();
    events[4].anchor = Some(Anchor::new(&events[4], NOW, secrets.current()));
    forge_stub(&mut events[6], NOW - 1, secrets.current()); // before removeAt
    let report = verify_with(&secrets, &events[2..]);
    assert_eq!(
        found(&report),
        rows("main", &[(7, "stripped")]),
        "{}",
        describe(&report)
    );
}

// ---------------------------------------------------------------------------
// 8. The second review: older retired secrets, forged records, limits
// ---------------------------------------------------------------------------

/// S3 current, S2 and S1 retired (newest first), as every pod and the
/// auditor hold them after two rotations.
fn after_two_rotations() -> (SealSecrets, [SealSecret; 3]) {
    let (s1, s2, s3) = (secret(11), secret(12), secret(13));
    let secrets = SealSecrets::new(s3.clone())
        .with_retired(s2.clone())
        .with_retired(s1.clone());
    (secrets, [s1, s2, s3])
}

#[test]
fn an_older_retired_secret_cannot_rotate_a_chain_back_to_it() {
    let (secrets, [s1, s2, s3]) = after_two_rotations();
    // A chain born on S2 (never sealed by S1); a holder of S1 rotates it
    // from S2 to S1 and seals with S1.
    let on_s2 = Chainer::new(SealSecrets::new(s2.clone()), None);
    let mut head = Head::genesis(chain_id("main"));
    let mut events = vec![on_s2.seal(&mut head, &pod_draft(0, 0, T0)).unwrap()];
    let by_s1 = Chainer::new(SealSecrets::new(s1.clone()), None);
    let r = head.next_seq;
    let record = rotation_draft(&s2, &s1, &[&s2]);
    events.push(by_s1.seal(&mut head, &record).unwrap());
    events.push(by_s1.seal(&mut head, &pod_draft(0, 1, T0 + 1)).unwrap());
    let report = verify_with(&secrets, &events);
    assert_eq!(
        found(&report),
        rows(
            "main",
            &[(r, "bad_rotation"), (r + 1, "unannounced_secret")]
        ),
        "{}",
        describe(&report)
    );
    // The store does not take it for the chain's last rotation.
    assert_eq!(RotationRecord::authentic(&events[1], &secrets), None);
    // Nor a record superseding a secret newer than its `to`.
    let forged = RotationRecord {
        from: secret(99).id(),
        to: s2.id(),
        superseded: vec![secret(99).id(), s3.id()],
    };
    assert!(!forged.goes_forward(&secrets));
}

#[test]
fn a_forged_seeded_record_does_not_blame_genuine_events() {
    let (secrets, [s1, s2, s3]) = after_two_rotations();
    let _ = s3;
    // A genuine chain on S2; a holder of S1 writes, somewhere, a record
    // "X -> S1 superseding S2".
    let on_s2 = Chainer::new(SealSecrets::new(s2.clone()), None);
    let mut head = Head::genesis(chain_id("main"));
    let events: Vec<SealedEvent> = (0..4)
        .map(|i| {
            on_s2
                .seal(&mut head, &pod_draft(0, i, T0 + i as i64))
                .unwrap()
        })
        .collect();
    let by_s1 = Chainer::new(SealSecrets::new(s1.clone()), None);
    let mut elsewhere = Head::genesis(chain_id("main"));
    let forged = by_s1
        .seal(
            &mut elsewhere,
            &rotation_draft(&secret(99), &s1, &[&secret(99), &s2]),
        )
        .unwrap();
    let checkpoint = {
        let report = verify_with(&secrets, &events[..2]);
        stream_chain::Checkpoint::from_summary(&report.chains[0], secrets.current()).unwrap()
    };
    let mut verifier = Verifier::new(secrets.clone());
    verifier.trust_checkpoint(checkpoint).unwrap();
    verifier.learn_record(&forged);
    events.iter().for_each(|e| verifier.learn_record(e));
    assert_clean(&verify(verifier, &events[2..]));
    assert!(stream_chain::superseded_positions(&[]).is_empty());
}

#[test]
fn a_rotation_record_supersedes_a_bounded_list_of_distinct_secrets() {
    let (secrets, [_, s2, s3]) = after_two_rotations();
    let on_s3 = Chainer::new(secrets.clone(), None);
    for (superseded, why) in [
        (vec![s2.id(); 2], "once"),
        (
            (0..=stream_chain::MAX_SUPERSEDED as u8)
                .map(|i| secret(i).id())
                .collect(),
            "at most",
        ),
    ] {
        let mut head = Head::genesis(chain_id("main"));
        let record = RotationRecord {
            from: s2.id(),
            to: s3.id(),
            superseded,
        };
        let event = on_s3.seal(&mut head, &record.draft("pod", T0)).unwrap();
        match RotationRecord::parse(&event) {
            Some(Err(e)) => assert!(e.contains(why), "{e}"),
            other => panic!("{why}: {other:?}"),
        }
    }
}

#[test]
fn an_anchor_or_mark_sealed_by_an_older_secret_than_its_event_is_refused() {
    let (secrets, [s1, s2, _]) = after_two_rotations();
    let on_s2 = Chainer::new(SealSecrets::new(s2.clone()), None);
    let mut head = Head::genesis(chain_id("main"));
    let mut events: Vec<SealedEvent> = (0..6)
        .map(|i| {
            let mut d = pod_draft(0, i, T0 + i as i64);
            d.remove_at_ms = Some(NOW - 10);
            on_s2.seal(&mut head, &d).unwrap()
        })
        .collect();
    // Events 1..=3 deleted behind an anchor sealed by the older S1.
    events[3].anchor = Some(Anchor::new(&events[3], NOW, &s1));
    assert!(!events[3]
        .anchor
        .as_ref()
        .unwrap()
        .is_valid_for(&events[3], &secrets));
    let report = verify_with(&secrets, &events[3..]);
    assert!(report.errors >= 1, "{}", describe(&report));
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f.kind, FindingKind::Gap { .. }) && f.seq == Some(1)),
        "{}",
        describe(&report)
    );
    // A stub whose mark S1 sealed is stripped.
    let mut stubbed = events.clone();
    stubbed[3].anchor = None;
    stubbed[4].purge(NOW, &s1).unwrap();
    let report = verify_with(&secrets, &stubbed[..5]);
    assert_eq!(
        found(&report),
        rows("main", &[(5, "stripped")]),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_format_1_event_sealed_by_the_chains_secret_may_follow_format_2() {
    // Pods not yet upgraded write format 1 beside upgraded ones.
    let secrets = SealSecrets::new(secret(0));
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain_id("main"));
    let first = chainer.seal(&mut head, &pod_draft(0, 0, T0)).unwrap();
    let mut legacy = chainer.seal(&mut head, &pod_draft(0, 1, T0 + 1)).unwrap();
    legacy.version = stream_chain::LEGACY_FORMAT_VERSION;
    legacy.seal = legacy.compute_seal(secrets.current());
    let mut after = Head::after(&legacy);
    let third = chainer.seal(&mut after, &pod_draft(0, 2, T0 + 2)).unwrap();
    assert_clean(&verify_with(&secrets, &[first, legacy, third]));
}

#[test]
fn a_resumed_purge_uses_the_time_it_decided_at() {
    let (secrets, events) = small();
    // The purge at NOW decided #2 and #3 (expired at NOW - 5 and NOW) and
    // anchored #4, deleted #1; resumed by a pod whose clock is 20 ms late.
    let mut rest = events[1..].to_vec();
    rest[2].anchor = Some(Anchor::new(&rest[2], NOW, secrets.current()));
    let late = NOW - 20;
    let scan = PurgeScan::new(&secrets, late).resuming_below(4);
    let mut refused = scan;
    assert!(rest
        .iter()
        .enumerate()
        .any(|(i, e)| refused.step(e, i + 1 == rest.len()).is_err()));
    let mut scan = PurgeScan::new(&secrets, late)
        .resuming_below(4)
        .decided_at(NOW);
    let steps: Vec<PurgeStep> = rest
        .iter()
        .enumerate()
        .map(|(i, e)| scan.step(e, i + 1 == rest.len()).unwrap())
        .collect();
    assert_eq!(&steps[..2], &[PurgeStep::Purge, PurgeStep::Purge]);
}
