//! The verifier against an attacker who writes the export (issue 11): it
//! holds write access to the database, not the seal secret. Each test is a
//! case the verifier once got wrong: checkpoints that did not combine, a
//! verdict that depended on the order of records, a position that was not
//! the first real break, junk that pushed a real finding out of the
//! report, and memory that grew with the number of chain ids.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{describe, first_error, verify, verify_all, T0};
use stream_chain::{
    ChainId, Chainer, Checkpoint, EventDraft, FindingKind, Head, SealSecret, SealSecrets,
    SealedEvent, Status, Timestamp, Verifier, DEFAULT_MAX_CHAINS, DEFAULT_MAX_FINDINGS,
};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn secrets() -> SealSecrets {
    SealSecrets::new(SealSecret::from_env_value(SECRET).unwrap())
}

fn draft(ts: i64) -> EventDraft {
    EventDraft::new(
        "LIFECYCLE-ENROLL",
        "ca",
        "pod-0",
        Status::Success,
        Timestamp::from_millis(ts),
    )
    .public("serial", "01")
}

/// `n` events of chain `name`, one millisecond apart.
fn sealed_chain(secrets: &SealSecrets, name: &str, n: u64) -> Vec<SealedEvent> {
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(ChainId::new(name).unwrap());
    (0..n)
        .map(|i| chainer.seal(&mut head, &draft(T0 + i as i64)).unwrap())
        .collect()
}

/// The checkpoint of `events[..upto]` (chain `ca`).
fn checkpoint_at(secrets: &SealSecrets, events: &[SealedEvent], upto: usize) -> Checkpoint {
    let report = verify_all(secrets, &events[..upto]);
    Checkpoint::from_summary(&report.chains[0], secrets.current()).unwrap()
}

fn trusting(secrets: &SealSecrets, checkpoints: &[&Checkpoint]) -> Verifier {
    let mut verifier = Verifier::new(secrets.clone());
    for cp in checkpoints {
        verifier.trust_checkpoint((*cp).clone()).unwrap();
    }
    verifier
}

#[test]
fn an_older_checkpoint_given_after_a_newer_one_does_not_hide_a_cut_tail() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 20);
    let old = checkpoint_at(&secrets, &events, 5);
    let new = checkpoint_at(&secrets, &events, 15);
    let cut = &events[..10];
    for order in [[&old, &new], [&new, &old]] {
        let report = verify(trusting(&secrets, &order), cut);
        assert_eq!(
            first_error(&report),
            Some(("ca".into(), Some(11), "truncated")),
            "{}",
            describe(&report)
        );
        assert_eq!(report.errors, 1, "{}", describe(&report));
        // The whole chain passes through both.
        assert!(verify(trusting(&secrets, &order), &events).is_ok());
    }
}

#[test]
fn two_checkpoints_naming_different_heads_at_one_position_conflict() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 10);
    let cp = checkpoint_at(&secrets, &events, 5);
    // A rewritten history: another event 5.
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::after(&events[3]);
    let other = chainer.seal(&mut head, &draft(T0 + 999)).unwrap();
    let forked = Checkpoint::new(
        cp.chain.clone(),
        5,
        other.seal,
        other.timestamp_ms,
        5,
        secrets.current(),
    );
    // An incremental export from 6 on: neither checkpoint's head is in it.
    let report = verify(trusting(&secrets, &[&cp, &forked]), &events[5..]);
    let conflict = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::CheckpointConflict)
        .unwrap_or_else(|| panic!("{}", describe(&report)));
    assert_eq!(conflict.seq, Some(5));
    assert!(!report.is_ok());
}

#[test]
fn the_checkpointed_head_stored_before_older_events_still_reveals_a_deleted_one() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 12);
    let cp = checkpoint_at(&secrets, &events, 8);
    // The head of the checkpoint first, then the others without event 3.
    let mut reordered = vec![events[7].clone()];
    reordered.extend(events.iter().filter(|e| e.seq != 8 && e.seq != 3).cloned());
    let sorted: Vec<SealedEvent> = events.iter().filter(|e| e.seq != 3).cloned().collect();
    for input in [&sorted, &reordered] {
        let report = verify(trusting(&secrets, &[&cp]), input);
        assert_eq!(
            first_error(&report),
            Some(("ca".into(), Some(3), "gap")),
            "{}",
            describe(&report)
        );
        assert_eq!(report.errors, 1, "{}", describe(&report));
    }
}

#[test]
fn an_export_starting_after_the_checkpoint_names_the_first_missing_event() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 20);
    let cp = checkpoint_at(&secrets, &events, 8);
    // Events 9..=11 are gone; the export holds 12..=20.
    let report = verify(trusting(&secrets, &[&cp]), &events[11..]);
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(9), "gap")),
        "{}",
        describe(&report)
    );
    assert_eq!(report.errors, 1, "{}", describe(&report));
    // From the checkpoint's head, or right after it: clean.
    for from in [7, 8] {
        let report = verify(trusting(&secrets, &[&cp]), &events[from..]);
        assert!(report.is_ok(), "from {from}: {}", describe(&report));
    }
}

/// The verifier cannot tell an export that starts before the checkpoint's
/// head on purpose from one whose oldest events were deleted: such a start
/// is a gap from genesis (an incremental audit starts at the head or right
/// after it). Found by an adversarial review of the first version of this
/// change, which let a checkpoint vouch for any prefix.
#[test]
fn a_checkpoint_does_not_vouch_for_deleted_oldest_events() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 100);
    let cp = checkpoint_at(&secrets, &events, 50);
    let report = verify(trusting(&secrets, &[&cp]), &events[29..]);
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(1), "gap")),
        "{}",
        describe(&report)
    );
    assert_eq!(report.findings[0].kind, FindingKind::Gap { to: 29 });
    // An older checkpoint vouches for what was up to its head.
    let old = checkpoint_at(&secrets, &events, 20);
    let report = verify(trusting(&secrets, &[&cp, &old]), &events[29..]);
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(21), "gap")),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_record_below_genesis_is_reported_the_same_in_any_order() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 5);
    let mut junk = events[0].clone();
    junk.seq = 0;
    junk.code = "FORGED".into();
    let mut first = vec![junk.clone()];
    first.extend(events.iter().cloned());
    let mut last = events.clone();
    last.push(junk);
    let (a, b) = (verify_all(&secrets, &first), verify_all(&secrets, &last));
    assert_eq!(a.findings, b.findings);
    assert_eq!(first_error(&a), Some(("ca".into(), Some(0), "modified")));
    assert_eq!(a.errors, 1, "{}", describe(&a));
}

#[test]
fn junk_chain_ids_stored_first_do_not_take_every_place() {
    let secrets = secrets();
    let mut real = sealed_chain(&secrets, "ca", 10);
    real[4].code = "FORGED".into();
    let mut input = Vec::new();
    for i in 0..DEFAULT_MAX_CHAINS {
        let mut junk = real[0].clone();
        junk.chain = ChainId::new(&format!("junk-{i:04}")).unwrap();
        input.push(junk);
    }
    input.extend(real.iter().cloned());
    let report = verify_all(&secrets, &input);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.chain.as_ref().is_some_and(|c| c.as_str() == "ca")
                && f.seq == Some(5)
                && f.kind == FindingKind::Modified),
        "{}",
        describe(&report)
    );
    assert!(report.chains.len() <= DEFAULT_MAX_CHAINS / 2 + 1);
}

#[test]
fn a_reason_of_megabytes_is_kept_short() {
    let mut verifier = Verifier::new(secrets());
    let ca = ChainId::new("ca").unwrap();
    let reason = format!("BSON error at key \"{}\"", "K".repeat(1 << 20));
    for seq in 10..110 {
        verifier.push_malformed(Some(ca.clone()), Some(seq), reason.clone());
    }
    verifier.push_malformed(None, None, reason);
    let report = verifier.finish();
    let bytes: usize = report.findings.iter().map(|f| f.to_string().len()).sum();
    assert!(bytes < 100 * 1024, "{bytes} bytes of findings");
    assert_eq!(report.errors, 101 + 1, "{}", report.errors);
}

#[test]
fn an_event_right_after_the_checkpoint_must_link_to_its_head() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 10);
    let cp = checkpoint_at(&secrets, &events, 5);
    // A rewritten history from 5 on: the new 6 links to another 5.
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::after(&events[3]);
    let mut rewritten = vec![chainer.seal(&mut head, &draft(T0 + 500)).unwrap()];
    for i in 0..4 {
        rewritten.push(chainer.seal(&mut head, &draft(T0 + 501 + i)).unwrap());
    }
    let report = verify(trusting(&secrets, &[&cp]), &rewritten[1..]);
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(6), "fork")),
        "{}",
        describe(&report)
    );
}

#[test]
fn junk_records_do_not_push_a_real_finding_out_of_the_report() {
    let secrets = secrets();
    let mut events = sealed_chain(&secrets, "ca", 50);
    events[39].node = "forged".into();
    let mut verifier = Verifier::new(secrets.clone());
    for i in 0..(DEFAULT_MAX_FINDINGS + 5_000) {
        verifier.push_malformed(None, None, format!("junk {i}"));
    }
    for event in &events {
        verifier.push(event);
    }
    // And as many junk findings in the same chain, after it.
    let mut junk = events[0].clone();
    junk.code = "FORGED".into();
    for seq in 51..(51 + DEFAULT_MAX_FINDINGS as u64) {
        junk.seq = seq;
        verifier.push(&junk);
    }
    let report = verifier.finish();
    assert!(report.findings.len() <= DEFAULT_MAX_FINDINGS);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.seq == Some(40) && f.kind == FindingKind::Modified),
        "{} findings kept of {}",
        report.findings.len(),
        report.total_findings
    );
    assert_eq!(first_error(&report), Some(("?".into(), None, "malformed")));
}

#[test]
fn chains_beyond_the_limit_are_counted_and_fail_the_verification() {
    let secrets = secrets();
    let real = sealed_chain(&secrets, "ca", 10);
    let mut verifier = Verifier::new(secrets.clone()).with_max_chains(100);
    for event in &real {
        verifier.push(event);
    }
    let mut junk = real[0].clone();
    for i in 0..10_000 {
        junk.chain = ChainId::new(&format!("junk-{i}")).unwrap();
        verifier.push(&junk);
    }
    let report = verifier.finish();
    // Junk (its seals fail) gets only half the places: the other half is
    // for chains with an authentic record.
    assert_eq!(
        report.chains.len(),
        50,
        "only the first 50 chains in detail"
    );
    assert!(report.chains.iter().any(|c| c.chain.as_str() == "ca"));
    let untracked = report
        .findings
        .iter()
        .find(|f| f.kind.name() == "untracked")
        .unwrap();
    assert_eq!(
        untracked.kind,
        FindingKind::Untracked {
            records: 10_000 - 49,
            tracked: 100
        }
    );
    assert!(!report.is_ok());
}

#[test]
fn unsealed_fields_reported_by_a_reader_are_findings_at_their_event() {
    let secrets = secrets();
    let events = sealed_chain(&secrets, "ca", 5);
    let mut verifier = Verifier::new(secrets.clone());
    for event in &events {
        verifier.push(event);
    }
    let ca = ChainId::new("ca").unwrap();
    verifier.push_unsealed(&ca, 3, FindingKind::UnknownField("note".into()));
    // Only these two kinds: any other is ignored.
    verifier.push_unsealed(&ca, 2, FindingKind::Modified);
    let warned = verifier.finish();
    assert!(warned.is_ok(), "{}", describe(&warned));
    assert_eq!(warned.total_findings, 1);
    assert_eq!(warned.findings[0].kind.name(), "unknown_field");

    let mut verifier = Verifier::new(secrets.clone());
    for event in &events {
        verifier.push(event);
    }
    verifier.push_unsealed(&ca, 4, FindingKind::Terms("term 0 is missing".into()));
    let report = verifier.finish();
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(4), "terms")),
        "{}",
        describe(&report)
    );
    assert_eq!(report.chains[0].errors, 1);
}
