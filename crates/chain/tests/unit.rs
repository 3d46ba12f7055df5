//! Unit tests of the public API of `stream-chain`: seal secrets and their
//! ids, redaction, integrity reports, checkpoints and their JSON file,
//! malformed records, warnings, forks, and the chainer's errors.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_chain::Timestamp;
mod common;

use common::{describe, first_error, verify, verify_all, T0};
use stream_chain::{
    Anchor, ChainId, Chainer, Checkpoint, DetailValue, Error, EventDraft, FindingKind, Head,
    IntegrityReport, ReportStatus, Seal, SealSecret, SealSecrets, SealedEvent, SecretId, Status,
    Verifier, MIN_SECRET_LEN,
};
use stream_keyset::{Algorithm, Keyset, Template};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn secrets() -> SealSecrets {
    SealSecrets::new(SealSecret::from_env_value(SECRET).unwrap())
}

fn chain(name: &str) -> ChainId {
    ChainId::new(name).unwrap()
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

/// `n` events of chain `ca`, one millisecond apart.
fn sealed(secrets: &SealSecrets, n: u64) -> Vec<SealedEvent> {
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain("ca"));
    (0..n)
        .map(|i| chainer.seal(&mut head, &draft(T0 + i as i64)).unwrap())
        .collect()
}

// --- Seal secrets -----------------------------------------------------------

#[test]
fn a_32_character_secret_is_taken_as_its_bytes() {
    let secret = SealSecret::from_env_value(SECRET).unwrap();
    assert_eq!(
        secret.id(),
        SealSecret::new(SECRET.as_bytes()).unwrap().id()
    );
    // HMAC-SHA256(secret, u32be(21) || "stream.seal-secret-id")[..8],
    // computed with Python's hmac module.
    assert_eq!(secret.id().to_hex(), "6240962da90b751a");
}

#[test]
fn a_128_hex_character_secret_is_taken_as_64_bytes() {
    let bytes: Vec<u8> = (0..64).collect();
    let text = hex::encode(&bytes);
    assert_eq!(text.len(), 128);
    let secret = SealSecret::from_env_value(&text).unwrap();
    assert_eq!(secret.id(), SealSecret::new(&bytes).unwrap().id());
    assert_eq!(secret.id().to_hex(), "031c1c4205a5b250");
    assert_ne!(secret.id(), SealSecret::new(text.as_bytes()).unwrap().id());
    // Upper case hex too; a trailing newline (a mounted file) is ignored.
    let upper = SealSecret::from_env_value(&text.to_uppercase()).unwrap();
    assert_eq!(upper.id(), secret.id());
    let newline = SealSecret::from_env_value(&format!("{text}\n")).unwrap();
    assert_eq!(newline.id(), secret.id());
    // 127 or 129 hex characters are not hex: taken as the string.
    let odd = SealSecret::from_env_value(&text[..127]).unwrap();
    assert_eq!(
        odd.id(),
        SealSecret::new(&text.as_bytes()[..127]).unwrap().id()
    );
}

#[test]
fn a_short_or_empty_secret_is_refused_naming_the_minimum() {
    assert_eq!(MIN_SECRET_LEN, 16);
    for value in ["", "\n", "short", "fifteen-chars!!"] {
        match SealSecret::from_env_value(value) {
            Err(err @ Error::SecretTooShort { len, min }) => {
                assert_eq!(min, MIN_SECRET_LEN);
                assert_eq!(len, value.trim_end().len());
                let text = err.to_string();
                assert!(text.contains("at least 16 bytes"), "{text}");
                if !value.trim_end().is_empty() {
                    assert!(!text.contains(value.trim_end()), "{text}");
                }
            }
            other => panic!("{value:?}: {other:?}"),
        }
    }
    assert!(SealSecret::new(&[0; 15]).is_err());
    assert!(SealSecret::new(&[0; 16]).is_ok());
    assert!(SealSecret::from_env_value("sixteen-chars!!!").is_ok());
}

#[test]
fn secret_ids_are_stable_and_distinct() {
    let a = SealSecret::from_env_value(SECRET).unwrap();
    let again = SealSecret::from_env_value(SECRET).unwrap();
    assert_eq!(a.id(), again.id());
    let mut ids = std::collections::HashSet::new();
    for i in 0..200u8 {
        let mut bytes = [7u8; 32];
        bytes[usize::from(i % 32)] = i;
        bytes[0] = i;
        ids.insert(SealSecret::new(&bytes).unwrap().id());
    }
    assert_eq!(ids.len(), 200);
    assert_eq!(
        SecretId::from_hex(&a.id().to_hex()),
        Some(a.id()),
        "hex round trip"
    );
    assert_eq!(SecretId::from_hex("zz"), None);
}

#[test]
fn debug_never_shows_the_secret() {
    let hex64 = hex::encode((100..164).collect::<Vec<u8>>());
    let one = SealSecret::from_env_value(SECRET).unwrap();
    let two = SealSecret::from_env_value(&hex64).unwrap();
    let mut all = SealSecrets::new(one.clone());
    all.rotate(two.clone());
    let chainer = Chainer::new(all.clone(), None);
    let verifier = Verifier::new(all.clone());
    let shown = [
        format!("{one:?}"),
        format!("{one:#?}"),
        format!("{two:?}"),
        format!("{all:?}"),
        format!("{all:#?}"),
        format!("{chainer:?}"),
        format!("{verifier:?}"),
    ];
    let forbidden = [
        SECRET.to_owned(),
        hex::encode(SECRET),
        format!("{:?}", SECRET.as_bytes()),
        "48, 49, 50, 51".to_owned(), // the bytes of "0123"
        hex64[..16].to_owned(),
        hex64[64..80].to_owned(),
        "100, 101, 102".to_owned(),
    ];
    for text in &shown {
        for secret in &forbidden {
            assert!(!text.contains(secret.as_str()), "{text} shows {secret}");
        }
    }
    assert!(shown[0].contains(&one.id().to_hex()), "the id is shown");
}

#[test]
fn rotation_keeps_the_old_secret_for_verification() {
    let one = SealSecret::new(&[1; 32]).unwrap();
    let two = SealSecret::new(&[2; 32]).unwrap();
    let mut all = SealSecrets::new(one.clone());
    all.rotate(two.clone());
    assert_eq!(all.current().id(), two.id());
    assert_eq!(all.ids(), vec![two.id(), one.id()]);
    all.rotate(two.clone()); // no-op
    all.add_retired(one.clone()); // already known
    assert_eq!(all.ids(), vec![two.id(), one.id()]);
    all.rotate(one.clone()); // back to a retired one
    assert_eq!(all.ids(), vec![one.id(), two.id()]);
    assert!(all.get(SecretId([0; 8])).is_none());
}

// --- Integrity reports --------------------------------------------------------

#[test]
fn an_integrity_report_is_sealed_and_checked_when_read() {
    let secrets = secrets();
    let events = sealed(&secrets, 5);
    let verification = verify_all(&secrets, &events);
    let report = IntegrityReport::from_verification(
        chain("ca"),
        1,
        5,
        &verification,
        T0 + 10,
        secrets.current(),
    );
    assert_eq!(report.status, ReportStatus::Verified);
    assert_eq!(report.events, 5);
    assert_eq!(report.start_time_ms, Some(T0));
    assert_eq!(report.end_time_ms, Some(T0 + 4));
    assert_eq!(report.first_error, None);
    assert_eq!(report.checked_status(&secrets), ReportStatus::Verified);

    type Tamper = Box<dyn Fn(&mut IntegrityReport)>;
    let tampers: Vec<(&str, Tamper)> = vec![
        ("chain", Box::new(|r| r.chain = chain("cb"))),
        ("from", Box::new(|r| r.from_seq = 2)),
        ("to", Box::new(|r| r.to_seq = 4)),
        ("start", Box::new(|r| r.start_time_ms = None)),
        ("start+1", Box::new(|r| r.start_time_ms = Some(T0 + 1))),
        ("end", Box::new(|r| r.end_time_ms = Some(T0))),
        ("events", Box::new(|r| r.events = 4)),
        (
            "status",
            Box::new(|r| r.status = ReportStatus::EventIntegrityFailure),
        ),
        (
            "first error",
            Box::new(|r| r.first_error = Some("x".into())),
        ),
        ("created", Box::new(|r| r.created_ms += 1)),
        ("secret id", Box::new(|r| r.secret_id = SecretId([9; 8]))),
        ("seal", Box::new(|r| r.seal.0[31] ^= 1)),
    ];
    for (what, tamper) in tampers {
        let mut changed = report.clone();
        tamper(&mut changed);
        assert_eq!(
            changed.checked_status(&secrets),
            ReportStatus::ReportIntegrityFailure,
            "{what}"
        );
    }
    // Another secret cannot read it as authentic either.
    let stranger = SealSecrets::new(SealSecret::new(&[3; 32]).unwrap());
    assert_eq!(
        report.checked_status(&stranger),
        ReportStatus::ReportIntegrityFailure
    );
}

#[test]
fn a_failed_verification_gives_a_sealed_failure_report() {
    let secrets = secrets();
    let mut events = sealed(&secrets, 5);
    events[2].code = "FORGED".into();
    let verification = verify_all(&secrets, &events);
    let report =
        IntegrityReport::from_verification(chain("ca"), 1, 5, &verification, 0, secrets.current());
    assert_eq!(report.status, ReportStatus::EventIntegrityFailure);
    assert_eq!(
        report.first_error.as_deref(),
        Some("ca#3: modified: the seal does not match the content")
    );
    assert_eq!(
        report.checked_status(&secrets),
        ReportStatus::EventIntegrityFailure
    );
    // Hiding the failure is detected.
    let mut hidden = report.clone();
    hidden.status = ReportStatus::Verified;
    hidden.first_error = None;
    assert_eq!(
        hidden.checked_status(&secrets),
        ReportStatus::ReportIntegrityFailure
    );
}

#[test]
fn report_status_names_round_trip() {
    for status in [
        ReportStatus::Verified,
        ReportStatus::EventIntegrityFailure,
        ReportStatus::ReportIntegrityFailure,
    ] {
        assert_eq!(ReportStatus::parse(status.as_str()), Some(status));
        assert_eq!(status.to_string(), status.as_str());
    }
    assert_eq!(ReportStatus::parse("Verified"), None);
    for status in [Status::Success, Status::Warning, Status::Failure] {
        assert_eq!(Status::parse(status.as_str()), Some(status));
    }
    assert_eq!(Status::parse("ok"), None);
}

// --- Checkpoints --------------------------------------------------------------

fn checkpoint() -> (SealSecrets, Checkpoint) {
    let secrets = secrets();
    let events = sealed(&secrets, 4);
    let report = verify_all(&secrets, &events);
    let cp = Checkpoint::from_summary(&report.chains[0], secrets.current()).unwrap();
    (secrets, cp)
}

#[test]
fn a_checkpoint_round_trips_through_json() {
    let (secrets, cp) = checkpoint();
    assert_eq!(cp.seq, 4);
    assert_eq!(cp.count, 4);
    let json = cp.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "chain",
            "count",
            "mac",
            "seal",
            "secretId",
            "seq",
            "timestamp",
            "version"
        ]
    );
    assert_eq!(value["version"], 1);
    let back = Checkpoint::from_json(&json).unwrap();
    assert_eq!(back, cp);
    back.verify(&secrets).unwrap();
}

#[test]
fn a_malformed_checkpoint_file_is_a_typed_error() {
    let (_, cp) = checkpoint();
    let json = cp.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edit = |key: &str, new: serde_json::Value| {
        let mut v = value.clone();
        v[key] = new;
        v.to_string()
    };
    let without = |key: &str| {
        let mut v = value.clone();
        v.as_object_mut().unwrap().remove(key);
        v.to_string()
    };
    let mut extra = value.clone();
    extra["note"] = "x".into();
    let bad = [
        String::new(),
        "{".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        json[..json.len() / 2].to_owned(),
        extra.to_string(),
        without("mac"),
        without("seq"),
        edit("version", 2.into()),
        edit("seq", (-1).into()),
        edit("seq", "4".into()),
        edit("seal", "00".into()),
        edit("seal", "zz".repeat(32).into()),
        edit("mac", "".into()),
        edit("secretId", "0011".into()),
        edit("chain", "".into()),
        edit("chain", "x".repeat(257).into()),
    ];
    for text in bad {
        match Checkpoint::from_json(&text) {
            Err(Error::Malformed { what, .. }) => assert_eq!(what, "checkpoint", "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn a_tampered_checkpoint_is_not_authentic() {
    let (secrets, cp) = checkpoint();
    for tamper in [
        |c: &mut Checkpoint| c.seq += 1,
        |c: &mut Checkpoint| c.seal.0[0] ^= 1,
        |c: &mut Checkpoint| c.timestamp_ms += 1,
        |c: &mut Checkpoint| c.count += 1,
        |c: &mut Checkpoint| c.mac.0[5] ^= 0x80,
        |c: &mut Checkpoint| c.chain = ChainId::new("cb").unwrap(),
    ] {
        let mut changed = cp.clone();
        tamper(&mut changed);
        assert!(matches!(
            changed.verify(&secrets),
            Err(Error::NotAuthentic("checkpoint"))
        ));
        let mut verifier = Verifier::new(secrets.clone());
        assert!(verifier.trust_checkpoint(changed).is_err());
    }
    let mut unknown = cp.clone();
    unknown.secret_id = SecretId([0; 8]);
    assert!(matches!(
        unknown.verify(&secrets),
        Err(Error::UnknownSecret(id)) if id == SecretId([0; 8])
    ));
}

#[test]
fn a_rolled_back_and_rewritten_chain_mismatches_its_checkpoint() {
    let secrets = secrets();
    let chainer = Chainer::new(secrets.clone(), None);
    let events = sealed(&secrets, 6);
    let cp = Checkpoint::from_summary(&verify_all(&secrets, &events).chains[0], secrets.current())
        .unwrap();
    // Roll back to 3, and the server goes on writing 4, 5, 6, 7.
    let mut rewritten = events[..3].to_vec();
    let mut head = Head::after(&events[2]);
    for i in 0..4 {
        rewritten.push(chainer.seal(&mut head, &draft(T0 + 100 + i)).unwrap());
    }
    assert!(verify_all(&secrets, &rewritten).is_ok());
    let mut verifier = Verifier::new(secrets.clone());
    verifier.trust_checkpoint(cp).unwrap();
    let report = verify(verifier, &rewritten);
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(6), "checkpoint_mismatch")),
        "{}",
        describe(&report)
    );
}

#[test]
fn a_checkpoint_of_a_chain_absent_from_the_input_is_truncation() {
    let (secrets, cp) = checkpoint();
    let mut verifier = Verifier::new(secrets);
    verifier.trust_checkpoint(cp).unwrap();
    let report = verifier.finish();
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(4), "truncated"))
    );
}

// --- Malformed records, warnings, forks -----------------------------------------

#[test]
fn a_malformed_record_takes_its_place_without_a_gap() {
    let secrets = secrets();
    let events = sealed(&secrets, 6);
    let mut verifier = Verifier::new(secrets.clone());
    for event in &events {
        if event.seq == 3 {
            verifier.push_malformed(
                Some(event.chain.clone()),
                Some(3),
                "field `code` is missing".into(),
            );
        } else {
            verifier.push(event);
        }
    }
    let report = verifier.finish();
    assert_eq!(report.errors, 1, "{}", describe(&report));
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert_eq!(finding.seq, Some(3));
    assert_eq!(
        finding.kind,
        FindingKind::Malformed("field `code` is missing".into())
    );
    assert_eq!(report.records, 6);
}

#[test]
fn a_malformed_record_without_a_position_is_counted() {
    let secrets = secrets();
    let mut verifier = Verifier::new(secrets.clone());
    for event in sealed(&secrets, 3) {
        verifier.push(&event);
    }
    verifier.push_malformed(None, None, "not a document".into());
    verifier.push_malformed(Some(chain("ca")), None, "no seq".into());
    let report = verifier.finish();
    assert_eq!(report.errors, 2, "{}", describe(&report));
    assert_eq!(report.findings[0].chain, None);
    assert_eq!(report.findings[0].seq, None);
    assert_eq!(report.findings[1].chain, Some(chain("ca")));
}

#[test]
fn an_unknown_version_is_malformed_at_its_seq_without_a_gap() {
    let secrets = secrets();
    for version in [0u8, 4, 255] {
        let mut events = sealed(&secrets, 5);
        events[3].version = version;
        // Even resealed, a version this crate does not know is refused.
        events[3].seal = events[3].compute_seal(secrets.current());
        let report = verify_all(&secrets, &events);
        assert_eq!(report.errors, 1, "{}", describe(&report));
        assert_eq!(report.findings[0].seq, Some(4));
        assert_eq!(
            report.findings[0].kind,
            FindingKind::Malformed(format!("unknown format version {version}"))
        );
    }
}

/// Format 3 is format 2 with an event id: an id in a format 2 event, or a
/// format 3 event without one, is malformed even when resealed.
#[test]
fn an_event_id_must_match_its_format_version() {
    let secrets = secrets();
    let cases: [(u8, Option<&str>, &str); 4] = [
        (
            2,
            Some("req-1"),
            "an event id in a format 2 event (ids are format 3)",
        ),
        (3, None, "a format 3 event without its event id"),
        (
            3,
            Some(""),
            "an event id has 1 to 128 bytes; this one has 0",
        ),
        (
            3,
            Some("a b"),
            "an event id is printable ASCII without spaces; byte 1 is not",
        ),
    ];
    for (version, id, why) in cases {
        let mut events = sealed(&secrets, 5);
        events[3].version = version;
        events[3].event_id = id.map(str::to_owned);
        events[3].seal = events[3].compute_seal(secrets.current());
        let report = verify_all(&secrets, &events);
        assert_eq!(report.errors, 1, "{}", describe(&report));
        assert_eq!(report.findings[0].seq, Some(4));
        assert_eq!(report.findings[0].kind, FindingKind::Malformed(why.into()));
    }
    // A valid one verifies, and its id is sealed: changing it breaks the seal.
    let mut events = sealed(&secrets, 5);
    events[3].version = 3;
    events[3].event_id = Some("req-1".into());
    events[3].seal = events[3].compute_seal(secrets.current());
    let mut relinked = events.clone();
    for i in 4..relinked.len() {
        relinked[i].prev = relinked[i - 1].seal;
        relinked[i].seal = relinked[i].compute_seal(secrets.current());
    }
    assert!(verify_all(&secrets, &relinked).is_ok());
    relinked[3].event_id = Some("req-2".into());
    let report = verify_all(&secrets, &relinked);
    assert_eq!(report.findings[0].seq, Some(4));
    assert_eq!(report.findings[0].kind, FindingKind::Modified);
}

#[test]
fn a_timestamp_going_backwards_is_a_warning_only() {
    let secrets = secrets();
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain("ca"));
    // Back by more than the default tolerance (pods' clocks) at seq 3.
    let skew = stream_chain::DEFAULT_CLOCK_SKEW_MS;
    let events: Vec<SealedEvent> = [skew + 10, skew + 20, 15, skew + 30, skew + 30]
        .into_iter()
        .map(|ts| chainer.seal(&mut head, &draft(T0 + ts)).unwrap())
        .collect();
    let report = verify_all(&secrets, &events);
    assert!(report.is_ok(), "{}", describe(&report));
    assert_eq!(report.first_error(), None);
    assert_eq!(report.errors, 0);
    assert_eq!(report.total_findings, 1);
    assert_eq!(report.findings[0].seq, Some(3));
    assert_eq!(report.findings[0].kind, FindingKind::TimestampBackwards);
    assert!(report.findings[0].kind.is_warning());
    assert_eq!(report.chains[0].warnings, 1);
    assert_eq!(report.chains[0].errors, 0);
}

#[test]
fn clock_skew_within_the_tolerance_is_no_warning_and_beyond_it_is() {
    let secrets = secrets();
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain("ca"));
    // Three pods whose clocks differ by up to 2 s, interleaved.
    let events: Vec<SealedEvent> = [1_000, 3_000, 1_001, 2_000, 3_001, 1_002]
        .into_iter()
        .map(|ts| chainer.seal(&mut head, &draft(T0 + ts)).unwrap())
        .collect();
    let report = verify_all(&secrets, &events);
    assert_eq!(report.total_findings, 0, "{}", describe(&report));
    // The same events with a tolerance of 1 s: the 2 s steps back warn.
    let strict = verify(
        Verifier::new(secrets.clone()).with_clock_skew_ms(1_000),
        &events,
    );
    let warned: Vec<Option<u64>> = strict.findings.iter().map(|f| f.seq).collect();
    assert_eq!(warned, vec![Some(3), Some(6)], "{}", describe(&strict));
    assert!(strict
        .findings
        .iter()
        .all(|f| f.kind == FindingKind::TimestampBackwards));
    // A timestamp moved by someone without the secret is a modification.
    let mut moved = events.clone();
    moved[2].timestamp_ms = T0 + 3_000;
    let report = verify_all(&secrets, &moved);
    assert_eq!(report.first_error().map(|f| f.seq), Some(Some(3)));
}

#[test]
fn two_authentic_events_at_one_position_are_a_fork() {
    let secrets = secrets();
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain("ca"));
    let base: Vec<SealedEvent> = (0..2)
        .map(|i| chainer.seal(&mut head, &draft(T0 + i)).unwrap())
        .collect();
    let mut head_a = head.clone();
    let mut head_b = head;
    let a = chainer.seal(&mut head_a, &draft(T0 + 5)).unwrap();
    let b = chainer
        .seal(
            &mut head_b,
            &EventDraft::new(
                "SSH-SIGN",
                "ssh",
                "pod-1",
                Status::Failure,
                Timestamp::from_millis(T0 + 6),
            ),
        )
        .unwrap();
    assert_eq!((a.seq, a.prev), (b.seq, b.prev));
    let a4 = chainer.seal(&mut head_a, &draft(T0 + 7)).unwrap();
    for order in [
        vec![&base[0], &base[1], &a, &b],
        vec![&base[0], &base[1], &b, &a],
        vec![&base[0], &base[1], &a, &b, &a4],
        vec![&base[0], &base[1], &a, &a4, &b],
    ] {
        let report = verify(Verifier::new(secrets.clone()), order);
        assert_eq!(
            first_error(&report),
            Some(("ca".into(), Some(3), "fork")),
            "{}",
            describe(&report)
        );
    }
    // Two genesis events.
    let mut g1 = Head::genesis(chain("cb"));
    let mut g2 = g1.clone();
    let one = chainer.seal(&mut g1, &draft(T0)).unwrap();
    let two = chainer.seal(&mut g2, &draft(T0 + 1)).unwrap();
    let report = verify(Verifier::new(secrets.clone()), [&one, &two]);
    assert_eq!(first_error(&report), Some(("cb".into(), Some(1), "fork")));
}

#[test]
fn an_event_sealed_by_an_unknown_secret_is_reported() {
    let secrets = secrets();
    let other = SealSecrets::new(SealSecret::new(&[5; 32]).unwrap());
    let mut events = sealed(&secrets, 3);
    let chainer = Chainer::new(other, None);
    let mut head = Head::after(&events[2]);
    events.push(chainer.seal(&mut head, &draft(T0 + 9)).unwrap());
    let report = verify_all(&secrets, &events);
    assert_eq!(
        first_error(&report),
        Some(("ca".into(), Some(4), "unknown_secret"))
    );
}

#[test]
fn an_event_delayed_beyond_the_window_is_out_of_window() {
    let secrets = secrets();
    let mut events = sealed(&secrets, 10);
    let late = events.remove(1);
    events.push(late);
    let report = verify(Verifier::new(secrets.clone()).with_window(3), &events);
    let kinds: Vec<(Option<u64>, &str)> = report
        .findings
        .iter()
        .map(|f| (f.seq, f.kind.name()))
        .collect();
    assert_eq!(kinds, [(Some(2), "gap"), (Some(2), "out_of_window")]);
    // The default window takes it.
    assert!(verify_all(&secrets, &events).is_ok());
}

#[test]
fn a_forgery_stored_before_its_original_is_inserted() {
    let secrets = secrets();
    let events = sealed(&secrets, 6);
    let mut forged = events[2].clone();
    forged.status = Status::Failure;
    let kinds = |window: usize, order: &[&SealedEvent]| -> Vec<(Option<u64>, &'static str)> {
        let report = verify(
            Verifier::new(secrets.clone()).with_window(window),
            order.iter().copied(),
        );
        report
            .findings
            .iter()
            .map(|f| (f.seq, f.kind.name()))
            .collect()
    };
    // The forgery first: the position waits for its authentic event.
    let before = [
        &events[0], &events[1], &forged, &events[2], &events[3], &events[4], &events[5],
    ];
    assert_eq!(kinds(4096, &before), [(Some(3), "inserted")]);
    assert_eq!(kinds(1, &before), [(Some(3), "inserted")]);
    // The original later than the window: the forgery stood there.
    let late = [
        &events[0], &events[1], &forged, &events[3], &events[4], &events[5], &events[2],
    ];
    assert_eq!(kinds(4096, &late), [(Some(3), "inserted")]);
    assert_eq!(
        kinds(2, &late),
        [(Some(3), "modified"), (Some(3), "out_of_window")]
    );
}

#[test]
fn findings_beyond_the_limit_are_counted_not_kept() {
    let secrets = secrets();
    let mut events = sealed(&secrets, 10);
    for event in &mut events {
        event.node = "elsewhere".into();
    }
    let report = verify(Verifier::new(secrets.clone()).with_max_findings(3), &events);
    assert_eq!(report.findings.len(), 3);
    assert_eq!(report.total_findings, 10);
    assert_eq!(report.errors, 10);
    assert!(!report.is_ok());
}

#[test]
fn a_tampered_anchor_does_not_excuse_a_purge() {
    let secrets = secrets();
    let mut events = sealed(&secrets, 6);
    events.drain(..2);
    let mut anchor = Anchor::new(&events[0], T0 + 100, secrets.current());
    assert!(anchor.is_valid_for(&events[0], &secrets));
    assert!(!anchor.is_valid_for(&events[1], &secrets));
    anchor.first_seq = 2; // claims more was kept than was
    events[0].anchor = Some(anchor);
    let report = verify_all(&secrets, &events);
    let kinds: Vec<(Option<u64>, &str)> = report
        .findings
        .iter()
        .map(|f| (f.seq, f.kind.name()))
        .collect();
    assert_eq!(kinds, [(Some(1), "gap"), (Some(3), "malformed")]);
}

// --- Chainer -------------------------------------------------------------------

#[test]
fn the_chainer_refuses_what_it_cannot_seal() {
    let secrets = secrets();
    let chainer = Chainer::new(secrets.clone(), None);
    let mut head = Head::genesis(chain("ca"));
    let drafts = [
        draft(T0),
        draft(T0 + 1).sensitive("subject", b"CN=x".to_vec()),
    ];
    let before = head.clone();
    assert!(matches!(
        chainer.seal_batch(&mut head, &drafts),
        Err(Error::NoKeyset(key)) if key == "subject"
    ));
    assert_eq!(head, before, "a failed batch changes nothing");

    // The last sequence number is never sealed, and a stored record
    // claiming it does not make `Head::after` panic.
    let mut full = Head {
        chain: chain("ca"),
        next_seq: u64::MAX,
        prev: Seal::GENESIS,
        sealed_by: None,
    };
    assert!(matches!(
        chainer.seal(&mut full, &draft(T0)),
        Err(Error::InvalidEvent(_))
    ));
    let mut last = sealed(&secrets, 1).remove(0);
    last.seq = u64::MAX;
    assert_eq!(Head::after(&last).next_seq, u64::MAX);
}

#[test]
fn sensitive_details_open_only_where_they_belong() {
    let secrets = secrets();
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let chainer = Chainer::new(
        secrets.clone(),
        Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    let mut head = Head::genesis(chain("ca"));
    let event = chainer
        .seal(
            &mut head,
            &draft(T0).sensitive("subject", b"CN=alice".to_vec()),
        )
        .unwrap();
    assert_eq!(chainer.open_detail(&event, "subject").unwrap(), b"CN=alice");
    assert!(matches!(
        chainer.open_detail(&event, "serial"),
        Err(Error::InvalidEvent(_))
    ));
    assert!(matches!(
        chainer.open_detail(&event, "absent"),
        Err(Error::InvalidEvent(_))
    ));
    let without_keyset = Chainer::new(secrets.clone(), None);
    assert!(matches!(
        without_keyset.open_detail(&event, "subject"),
        Err(Error::NoKeyset(_))
    ));
    // Another keyset cannot open it.
    let other = Keyset::generate(Template::AES256_GCM_SIV);
    let stranger = Chainer::new(
        secrets.clone(),
        Some(other.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    assert!(matches!(
        stranger.open_detail(&event, "subject"),
        Err(Error::Keyset(_))
    ));
    // The debug form shows no clear value and no key.
    let shown = format!("{event:?}");
    assert!(!shown.contains("alice"), "{shown}");
    let Some(DetailValue::Sensitive(value)) = event.detail("subject") else {
        panic!("sensitive detail expected");
    };
    let wrapped = value.wrapped_dek.as_ref().unwrap();
    assert!(!shown.contains(&format!("{:?}", &wrapped[..4])), "{shown}");
    assert!(!format!("{:?}", draft(T0).sensitive("pin", b"1234".to_vec())).contains("1234"));
}

#[test]
fn chain_ids_are_1_to_256_bytes() {
    assert!(matches!(ChainId::new(""), Err(Error::InvalidEvent(_))));
    assert!(ChainId::new(&"x".repeat(256)).is_ok());
    assert!(matches!(
        ChainId::new(&"x".repeat(257)),
        Err(Error::InvalidEvent(_))
    ));
}

#[test]
fn chain_ids_are_printable() {
    for bad in [
        "a\nb",
        "\u{1b}[31m",
        "ca\r",
        "x\u{85}",
        "x\u{2028}",
        "rtl\u{202E}",
        "zw\u{200B}",
        "\u{FEFF}ca",
        "soft\u{00AD}",
        "vs\u{FE0F}",
        "tag\u{E0041}",
        "fill\u{3164}",
    ] {
        let Err(Error::InvalidEvent(why)) = ChainId::new(bad) else {
            panic!("{bad:?} was accepted");
        };
        assert!(why.contains("printable") && why.contains("U+"), "{why}");
        assert!(!why.chars().any(stream_chain::is_unprintable), "{why:?}");
    }
    for good in ["ca", "tenant-1/ocsp", "é", "日本", "a b", "x\\y"] {
        assert!(ChainId::new(good).is_ok(), "{good:?}");
    }
}

#[test]
fn seals_read_and_print_as_hex() {
    let seal = Seal([0xab; 32]);
    assert_eq!(seal.to_hex(), "ab".repeat(32));
    assert_eq!(Seal::from_hex(&seal.to_hex()), Some(seal));
    assert_eq!(Seal::from_hex("ab"), None);
    assert_eq!(Seal::from_slice(&[0xab; 32]), Some(seal));
    assert_eq!(Seal::from_slice(&[0xab; 31]), None);
    assert_eq!(seal.to_string(), seal.to_hex());
    assert_ne!(seal, Seal::GENESIS);
}
