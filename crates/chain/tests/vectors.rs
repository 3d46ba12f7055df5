//! Test vectors of every byte format of `stream-chain` (`docs/FORMAT.md`):
//! format 2 events (content, digest, sealed bytes, seal), the stub a purge
//! leaves (its purge mark), shred and rotation records, the seal-secret
//! rules of the verifier, format 1 events (still read: their bytes and
//! seals must not change), secret ids, the associated data of a sensitive
//! detail and its envelope, anchors, checkpoints (and their JSON file),
//! integrity reports (those four keep record version 1).
//!
//! Everything is built from fixed inputs and compared with
//! `tests/vectors/chain_vectors.json` at the workspace root, which
//! `tests/vectors/check_chain_vectors.py` checks independently (Python's
//! standard library only). `STREAM_WRITE_VECTORS=1 cargo test -p
//! stream-chain --test vectors` rewrites the file; a change of it is a
//! change of the format. Everything under `legacy` is the format 1 file
//! as it was, byte for byte.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aes_gcm_siv::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm_siv::Aes256GcmSiv;
use base64::Engine as _;
use serde_json::{json, Value};
use stream_chain::{
    detail_aad, shred_refusal, Anchor, ChainId, Chainer, Checkpoint, Detail, DetailValue,
    EventDraft, FindingKind, Head, IntegrityReport, PurgeScan, PurgeStep, ReportStatus,
    RotationRecord, Seal, SealPlan, SealSecret, SealSecrets, SealedEvent, SensitiveValue,
    ShredRecord, Status, Timestamp, Verifier, EVENT_ID_FORMAT_VERSION, FORMAT_VERSION,
    LEGACY_FORMAT_VERSION, RECORD_VERSION,
};
use stream_keyset::{Algorithm, EnvelopeCiphertext, Keyset};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/vectors/chain_vectors.json"
);

/// The seal secret of the vectors: 32 ASCII bytes, as Stream's chart makes.
const SECRET: &str = "stream test vector seal secret 1";
/// The key-encryption keyset: one AES-256-GCM-SIV key, TINK prefix.
const KEK_ID: u32 = 0x1234_5678;
/// Its key bytes: 0x40..=0x5f.
fn kek_key() -> Vec<u8> {
    (0x40..0x60).collect()
}
/// The data key of the sensitive detail: 0x80..=0x9f.
fn dek() -> Vec<u8> {
    (0x80..0xa0).collect()
}
/// The nonce wrapping the data key, and the nonce of the payload.
const WRAP_NONCE: &[u8; 12] = b"wrap-nonce-1";
const PAYLOAD_NONCE: &[u8; 12] = b"data-nonce-1";
const PLAINTEXT: &str = "CN=Alice Example,O=Stream";

const T1: i64 = 1_700_000_000_000;
const YEAR_MS: i64 = 365 * 86_400_000;

fn secret() -> SealSecret {
    SealSecret::from_env_value(SECRET).unwrap()
}

fn ca() -> ChainId {
    ChainId::new("ca").unwrap()
}

fn aes_gcm_siv(key: &[u8], nonce: &[u8; 12], msg: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256GcmSiv::new_from_slice(key).unwrap();
    let mut out = nonce.to_vec();
    out.extend(
        cipher
            .encrypt(&(*nonce).into(), Payload { msg, aad })
            .unwrap(),
    );
    out
}

/// The Tink JSON keyset of the KEK.
fn kek_keyset_json() -> String {
    let mut proto = vec![0x1a, 0x20];
    proto.extend(kek_key());
    let value = base64::engine::general_purpose::STANDARD.encode(proto);
    json!({
        "primaryKeyId": KEK_ID,
        "key": [{
            "keyData": {
                "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmSivKey",
                "value": value,
                "keyMaterialType": "SYMMETRIC"
            },
            "status": "ENABLED",
            "keyId": KEK_ID,
            "outputPrefixType": "TINK"
        }]
    })
    .to_string()
}

/// The envelope of the sensitive detail `subject` of `ca`#1, made by hand
/// with fixed keys and nonces: `(wrapped_dek, payload)`.
fn envelope_parts() -> (Vec<u8>, Vec<u8>) {
    let mut dek_proto = vec![0x1a, 0x20];
    dek_proto.extend(dek());
    let mut wrapped = vec![0x01];
    wrapped.extend(KEK_ID.to_be_bytes());
    wrapped.extend(aes_gcm_siv(&kek_key(), WRAP_NONCE, &dek_proto, b""));
    let aad = detail_aad(&ca(), 1, "subject");
    let payload = aes_gcm_siv(&dek(), PAYLOAD_NONCE, PLAINTEXT.as_bytes(), &aad);
    (wrapped, payload)
}

/// The secret that takes over at the rotation record: bytes 0x00..=0x3f,
/// given as 128 hex characters.
fn successor_env() -> String {
    hex::encode((0..64).collect::<Vec<u8>>())
}

fn successor() -> SealSecret {
    SealSecret::from_env_value(&successor_env()).unwrap()
}

/// Both secrets, the successor current (as after the rotation).
fn both() -> SealSecrets {
    SealSecrets::new(successor()).with_retired(secret())
}

/// When a purge stubs event 2 (its `removeAt` has passed, not event 1's).
const STUB_MS: i64 = T1 + YEAR_MS + 1;
/// When a later purge removes events 1 and 2 and anchors event 3.
const ANCHOR_MS: i64 = T1 + 2 * YEAR_MS + 1;

/// The sensitive detail `subject` of event 1 (the envelope below).
fn subject() -> Detail {
    let (wrapped_dek, payload) = envelope_parts();
    Detail {
        key: "subject".into(),
        value: DetailValue::Sensitive(SensitiveValue {
            wrapped_dek: Some(wrapped_dek),
            payload,
        }),
    }
}

fn public(key: &str, value: &str) -> Detail {
    Detail {
        key: key.into(),
        value: DetailValue::Public(value.into()),
    }
}

/// An event of chain `ca` before sealing.
#[allow(clippy::too_many_arguments)]
fn unsealed(
    version: u8,
    seq: u64,
    timestamp_ms: i64,
    (code, module, node): (&str, &str, &str),
    status: Status,
    details: Vec<Detail>,
    remove_at_ms: Option<i64>,
    prev: Seal,
) -> SealedEvent {
    SealedEvent {
        version,
        chain: ca(),
        seq,
        timestamp_ms,
        code: code.into(),
        module: module.into(),
        node: node.into(),
        status,
        details,
        remove_at_ms,
        secret_id: secret().id(),
        prev,
        seal: Seal::GENESIS,
        anchor: None,
        purged: None,
        event_id: None,
    }
}

fn sealed(mut event: SealedEvent) -> SealedEvent {
    event.seal = event.compute_seal(&secret());
    event
}

/// The format 1 events: the two events of the format 1 vectors, unchanged
/// (what a store written before holds, and must keep verifying).
fn legacy_events() -> [SealedEvent; 2] {
    let first = sealed(unsealed(
        LEGACY_FORMAT_VERSION,
        1,
        T1,
        ("LIFECYCLE-ENROLL", "ca", "stream-0"),
        Status::Success,
        vec![public("profile", "tls-server"), subject()],
        Some(T1 + YEAR_MS),
        Seal::GENESIS,
    ));
    let second = sealed(unsealed(
        LEGACY_FORMAT_VERSION,
        2,
        T1 + 500,
        // two-byte UTF-8: lengths count bytes
        ("OCSP-SIGN", "ocsp", "nœud-1"),
        Status::Warning,
        vec![public("serial", "01ab")],
        None,
        first.seal,
    ));
    [first, second]
}

/// The format 2 chain `ca`:
/// 1. genesis, a public and a sensitive detail, `removeAt` in two years;
/// 2. chained, a two-byte UTF-8 character, `removeAt` in a year (its stub
///    is in the vectors too);
/// 3. the shred record of detail `subject` of event 1;
/// 4. the rotation record to the successor secret (sealed by it);
/// 5. an event sealed by the successor.
///
/// Events 1 and 2 are made by hand (fixed keys and nonces); the others by
/// the library's own sealing path (public details only: nothing random).
fn events() -> [SealedEvent; 5] {
    let first = sealed(unsealed(
        FORMAT_VERSION,
        1,
        T1,
        ("LIFECYCLE-ENROLL", "ca", "stream-0"),
        Status::Success,
        vec![public("profile", "tls-server"), subject()],
        Some(T1 + 2 * YEAR_MS),
        Seal::GENESIS,
    ));
    let second = sealed(unsealed(
        FORMAT_VERSION,
        2,
        T1 + 500,
        ("OCSP-SIGN", "ocsp", "nœud-1"),
        Status::Warning,
        vec![public("serial", "01ab")],
        Some(T1 + YEAR_MS),
        first.seal,
    ));
    let chainer = Chainer::new(SealSecrets::new(secret()), None);
    let mut head = Head::after(&second);
    let shred = ShredRecord {
        target: 1,
        keys: vec!["subject".into()],
        reason: "erasure request 42".into(),
    };
    let third = chainer
        .seal(&mut head, &shred.draft("stream-0", T1 + 1_000))
        .unwrap();
    // A process whose current secret is the successor takes the chain over.
    let rotating = Chainer::new(both(), None);
    let plan = rotating.plan(&head, None).unwrap();
    assert_eq!(
        plan,
        SealPlan::Rotate(RotationRecord {
            from: secret().id(),
            to: successor().id(),
            superseded: vec![secret().id()],
        })
    );
    let revoke = EventDraft::new(
        "LIFECYCLE-REVOKE",
        "ca",
        "stream-1",
        Status::Failure,
        Timestamp::from_millis(T1 + 2_000),
    )
    .public("serial", "01ab")
    .public("reason", "keyCompromise");
    let mut done = rotating.seal_planned(&mut head, &[revoke], &plan).unwrap();
    let fourth = done.rotation.take().unwrap();
    let fifth = done.events.pop().unwrap();
    assert!(done.events.is_empty());
    [first, second, third, fourth, fifth]
}

/// A format 3 chain: two events carrying the caller's event id (the second
/// also a sensitive detail's ciphertext), sealed by the library.
fn event_id_events() -> [SealedEvent; 2] {
    let mut first = unsealed(
        EVENT_ID_FORMAT_VERSION,
        1,
        T1,
        ("LIFECYCLE-ENROLL", "ca", "stream-0"),
        Status::Success,
        vec![public("serial", "02cd"), subject()],
        None,
        Seal::GENESIS,
    );
    first.event_id = Some("req-7f3a-0001".into());
    let first = sealed(first);
    let chainer = Chainer::new(SealSecrets::new(secret()), None);
    let mut head = Head::after(&first);
    let draft = EventDraft::new(
        "OCSP-SIGN",
        "ocsp",
        "stream-1",
        Status::Warning,
        Timestamp::from_millis(T1 + 10),
    )
    .public("serial", "02cd")
    .remove_at(Timestamp::from_millis(T1 + YEAR_MS))
    .with_event_id("0b8f6c2e-2d1f-4a51-9c1e-4b4c1d2e3f40");
    let second = chainer.seal(&mut head, &draft).unwrap();
    assert_eq!(second.version, EVENT_ID_FORMAT_VERSION);
    [first, second]
}

/// The stub of event 2 a purge at [`STUB_MS`] leaves, its mark sealed by
/// the successor (the current secret then).
fn stub() -> SealedEvent {
    let mut stub = events()[1].clone();
    stub.purge(STUB_MS, &successor()).unwrap();
    stub
}

fn verify(chain: &[SealedEvent]) -> stream_chain::VerifyReport {
    let mut verifier = Verifier::new(both());
    chain.iter().for_each(|e| verifier.push(e));
    verifier.finish()
}

fn record_json(event: &SealedEvent) -> Value {
    if let Some(record) = ShredRecord::parse(event) {
        let record = record.unwrap();
        return json!({
            "kind": "shred",
            "target": record.target,
            "keys": record.keys,
            "reason": record.reason,
        });
    }
    if let Some(record) = RotationRecord::parse(event) {
        let record = record.unwrap();
        let superseded: Vec<String> = record.superseded.iter().map(|id| id.to_hex()).collect();
        return json!({
            "kind": "rotation",
            "from": record.from.to_hex(),
            "to": record.to.to_hex(),
            "superseded": superseded,
        });
    }
    Value::Null
}

fn event_json(name: &str, event: &SealedEvent) -> Value {
    let details: Vec<Value> = event
        .details
        .iter()
        .map(|d| match &d.value {
            DetailValue::Public(v) => json!({"key": d.key, "type": "public", "value": v}),
            DetailValue::Sensitive(v) => json!({
                "key": d.key,
                "type": "sensitive",
                "payload_hex": hex::encode(&v.payload),
                "wrapped_dek_hex": v.wrapped_dek.as_ref().map(hex::encode),
            }),
        })
        .collect();
    let mut value = json!({
        "name": name,
        "input": {
            "version": event.version,
            "chain": event.chain.as_str(),
            "seq": event.seq,
            "timestamp_ms": event.timestamp_ms,
            "code": event.code,
            "module": event.module,
            "node": event.node,
            "status": event.status.as_str(),
            "remove_at_ms": event.remove_at_ms,
            "secret_id_hex": event.secret_id.to_hex(),
            "prev_hex": event.prev.to_hex(),
            "details": details,
        },
        "canonical_hex": hex::encode(event.canonical_bytes()),
        "sealed_len": event.sealed_len(),
        "seal_hex": event.seal.to_hex(),
    });
    if let Some(id) = &event.event_id {
        value["input"]["event_id"] = id.clone().into();
    }
    if event.version != LEGACY_FORMAT_VERSION {
        let fields = value.as_object_mut().unwrap();
        fields.insert(
            "content_hex".into(),
            canonical(|s| event.write_content(s)).into(),
        );
        fields.insert(
            "digest_hex".into(),
            hex::encode(event.content_digest()).into(),
        );
        fields.insert("record".into(), record_json(event));
    }
    value
}

fn stub_json(name: &str, stub: &SealedEvent) -> Value {
    let mark = stub.purged.as_ref().unwrap();
    json!({
        "name": name,
        "input": {
            "version": stub.version,
            "chain": stub.chain.as_str(),
            "seq": stub.seq,
            "timestamp_ms": stub.timestamp_ms,
            "remove_at_ms": stub.remove_at_ms,
            "secret_id_hex": stub.secret_id.to_hex(),
            "prev_hex": stub.prev.to_hex(),
            "seal_hex": stub.seal.to_hex(),
            "purged": {
                "digest_hex": hex::encode(mark.digest),
                "purged_ms": mark.purged_ms,
                "secret_id_hex": mark.secret_id.to_hex(),
            },
        },
        "canonical_hex": hex::encode(stub.canonical_bytes()),
        "sealed_len": stub.sealed_len(),
        "mark_canonical_hex": canonical(|s| mark.write_canonical(stub, s)),
        "mark_seal_hex": mark.seal.to_hex(),
    })
}

/// The findings the verifier reports at `seq` when event `seq` of `chain`
/// is sealed by `by` instead (what follows no longer links; not shown).
fn resealed_findings(chain: &[SealedEvent], seq: u64, by: &SealSecret) -> Vec<&'static str> {
    let chain: Vec<SealedEvent> = chain
        .iter()
        .cloned()
        .map(|mut event| {
            if event.seq == seq {
                event.secret_id = by.id();
                event.seal = event.compute_seal(by);
            }
            event
        })
        .collect();
    verify(&chain)
        .findings
        .iter()
        .filter(|f| f.seq == Some(seq))
        .map(|f| f.kind.name())
        .collect()
}

fn secret_rule_json(
    name: &str,
    (chain_name, chain): (&str, &[SealedEvent]),
    seq: u64,
    by: &SealSecret,
) -> Value {
    json!({
        "name": name,
        "chain": chain_name,
        "seq": seq,
        "sealed_by_hex": by.id().to_hex(),
        "findings": resealed_findings(chain, seq, by),
    })
}

fn canonical(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    hex::encode(out)
}

fn anchor_json(anchor: &Anchor) -> Value {
    json!({
        "input": {
            "chain": anchor.chain.as_str(),
            "first_seq": anchor.first_seq,
            "prev_hex": anchor.prev.to_hex(),
            "created_ms": anchor.created_ms,
            "secret_id_hex": anchor.secret_id.to_hex(),
        },
        "canonical_hex": canonical(|s| anchor.write_canonical(s)),
        "seal_hex": anchor.seal.to_hex(),
    })
}

fn checkpoint_json(checkpoint: &Checkpoint) -> Value {
    json!({
        "input": {
            "chain": checkpoint.chain.as_str(),
            "seq": checkpoint.seq,
            "seal_hex": checkpoint.seal.to_hex(),
            "timestamp_ms": checkpoint.timestamp_ms,
            "count": checkpoint.count,
            "secret_id_hex": checkpoint.secret_id.to_hex(),
        },
        "canonical_hex": canonical(|s| checkpoint.write_canonical(s)),
        "mac_hex": checkpoint.mac.to_hex(),
        "json": checkpoint.to_json(),
    })
}

fn report_json(name: &str, report: &IntegrityReport) -> Value {
    json!({
        "name": name,
        "input": {
            "chain": report.chain.as_str(),
            "from_seq": report.from_seq,
            "to_seq": report.to_seq,
            "start_time_ms": report.start_time_ms,
            "end_time_ms": report.end_time_ms,
            "events": report.events,
            "status": report.status.as_str(),
            "first_error": report.first_error,
            "created_ms": report.created_ms,
            "secret_id_hex": report.secret_id.to_hex(),
        },
        "canonical_hex": canonical(|s| report.write_canonical(s)),
        "seal_hex": report.seal.to_hex(),
    })
}

/// Every vector, from the fixed inputs.
fn vectors() -> Value {
    let secret = secret();
    let successor = successor();
    let events = events();
    let stub = stub();
    let legacy = legacy_events();
    let ids = event_id_events();
    assert!(verify(&ids).is_ok(), "{:?}", verify(&ids).findings);
    let mut id_stub = ids[1].clone();
    id_stub.purge(STUB_MS, &secret).unwrap();
    assert!(id_stub.event_id.is_none());
    let id_stubbed = verify(&[ids[0].clone(), id_stub.clone()]);
    assert!(id_stubbed.is_ok(), "{:?}", id_stubbed.findings);

    // Both chains verify, with the seal secrets only; so does the format 2
    // chain with its stub.
    let verification = verify(&events);
    assert!(verification.is_ok(), "{:?}", verification.findings);
    let legacy_verification = verify(&legacy);
    assert!(
        legacy_verification.is_ok(),
        "{:?}",
        legacy_verification.findings
    );
    let mut stubbed = events.clone();
    stubbed[1] = stub.clone();
    let stubbed = verify(&stubbed);
    assert!(stubbed.is_ok(), "{:?}", stubbed.findings);
    assert_eq!(stubbed.chains[0].stubs, 1);

    let (wrapped_dek, payload) = envelope_parts();
    let aad = detail_aad(&ca(), 1, "subject");
    let tink = EnvelopeCiphertext {
        wrapped_dek: wrapped_dek.clone(),
        payload: payload.clone(),
    }
    .to_bytes();

    let anchor = Anchor::new(&events[2], ANCHOR_MS, &successor);
    let checkpoint = Checkpoint::new(
        ca(),
        5,
        events[4].seal,
        events[4].timestamp_ms,
        5,
        &successor,
    );
    let verified =
        IntegrityReport::from_verification(ca(), 1, 5, &verification, T1 + 600_000, &successor);
    let mut failed = IntegrityReport {
        chain: ca(),
        from_seq: 1,
        to_seq: 3,
        start_time_ms: None,
        end_time_ms: None,
        events: 0,
        status: ReportStatus::EventIntegrityFailure,
        first_error: Some("ca#3: gap: events 3..=3 are missing".into()),
        created_ms: T1 + 700_000,
        secret_id: secret.id(),
        seal: Seal::GENESIS,
    };
    failed.seal = secret.seal(|s| failed.write_canonical(s));

    let legacy_anchor = Anchor::new(&legacy[1], T1 + YEAR_MS + 1, &secret);
    let legacy_checkpoint =
        Checkpoint::new(ca(), 2, legacy[1].seal, legacy[1].timestamp_ms, 2, &secret);
    let legacy_verified =
        IntegrityReport::from_verification(ca(), 1, 2, &legacy_verification, T1 + 600_000, &secret);

    let secret_json = |env_value: &str, secret: &SealSecret, bytes: &[u8]| {
        json!({
            "env_value": env_value,
            "secret_hex": hex::encode(bytes),
            "id_hex": secret.id().to_hex(),
        })
    };
    let successor_bytes: Vec<u8> = (0..64).collect();
    let chain = ("events", &events[..]);
    json!({
        "description": "Test vectors of the byte formats of stream-chain (docs/FORMAT.md). \
            Generated by crates/chain/tests/vectors.rs, checked independently by \
            tests/vectors/check_chain_vectors.py. Hex is lowercase; integers are JSON numbers. \
            `events` is a format 2 chain; `legacy` holds the format 1 vectors, unchanged.",
        "format_version": FORMAT_VERSION,
        "legacy_format_version": LEGACY_FORMAT_VERSION,
        "record_version": RECORD_VERSION,
        "seal_secret": secret_json(SECRET, &secret, SECRET.as_bytes()),
        "successor_secret": secret_json(&successor_env(), &successor, &successor_bytes),
        "secret_ids": [
            secret_json(SECRET, &secret, SECRET.as_bytes()),
            secret_json(&successor_env(), &successor, &successor_bytes),
        ],
        "events": [
            event_json("genesis with a public and a sensitive detail", &events[0]),
            event_json("second event, chained, removeAt in a year (stubbed below)", &events[1]),
            event_json("shred record of detail `subject` of event 1", &events[2]),
            event_json("rotation record to the successor secret, sealed by it", &events[3]),
            event_json("sealed by the successor after the rotation record", &events[4]),
        ],
        "event_id_format_version": EVENT_ID_FORMAT_VERSION,
        "event_id_events": [
            event_json("format 3: genesis with an event id", &ids[0]),
            event_json("format 3: chained, with an event id", &ids[1]),
        ],
        "event_id_stub": stub_json("format 3 event 2 purged: its id goes with the content", &id_stub),
        "stubs": [
            stub_json("event 2 purged by retention, the mark sealed by the successor", &stub),
        ],
        "secret_rules": [
            secret_rule_json("event 5 sealed by the superseded secret, after the rotation record",
                chain, 5, &secret),
            secret_rule_json("event 3 sealed by the successor, before any rotation record",
                chain, 3, &successor),
            secret_rule_json("the rotation record sealed by `from` instead of `to`",
                chain, 4, &secret),
            secret_rule_json("format 1 event 2 sealed by another secret: not checked",
                ("legacy", &legacy[..]), 2, &successor),
        ],
        "detail_aad": [{
            "chain": "ca",
            "seq": 1,
            "key": "subject",
            "aad_hex": hex::encode(&aad),
        }],
        "envelope": {
            "note": "the sensitive detail `subject` of ca#1; the seal covers payload only",
            "kek_keyset_json": kek_keyset_json(),
            "kek_key_id": KEK_ID,
            "kek_key_hex": hex::encode(kek_key()),
            "dek_hex": hex::encode(dek()),
            "dek_proto_hex": format!("1a20{}", hex::encode(dek())),
            "wrap_nonce_hex": hex::encode(WRAP_NONCE),
            "payload_nonce_hex": hex::encode(PAYLOAD_NONCE),
            "plaintext": PLAINTEXT,
            "aad_hex": hex::encode(&aad),
            "wrapped_dek_hex": hex::encode(&wrapped_dek),
            "payload_hex": hex::encode(&payload),
            "tink_ciphertext_hex": hex::encode(&tink),
        },
        "anchor": anchor_json(&anchor),
        "checkpoint": checkpoint_json(&checkpoint),
        "reports": [
            report_json("verified range", &verified),
            report_json("failed range, no event read", &failed),
        ],
        "legacy": {
            "note": "format 1 (still read, never written): the vectors of the format 1 file, \
                byte for byte",
            "events": [
                event_json("genesis with a public and a sensitive detail", &legacy[0]),
                event_json("second event, chained, no retention date", &legacy[1]),
            ],
            "anchor": anchor_json(&legacy_anchor),
            "checkpoint": checkpoint_json(&legacy_checkpoint),
            "reports": [report_json("verified range", &legacy_verified)],
        },
    })
}

#[test]
fn vectors_match_the_file() {
    let computed = vectors();
    if std::env::var_os("STREAM_WRITE_VECTORS").is_some_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&computed).unwrap() + "\n";
        std::fs::write(PATH, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| {
        panic!("{PATH}: {e}; generate it with STREAM_WRITE_VECTORS=1 cargo test -p stream-chain --test vectors")
    });
    let stored: Value = serde_json::from_str(&text).unwrap();
    for (key, value) in computed.as_object().unwrap() {
        assert_eq!(
            Some(value),
            stored.get(key),
            "vector `{key}` differs from {PATH}: the format changed"
        );
    }
    assert_eq!(computed, stored);
}

/// The format 1 vectors are those of the format 1 file, byte for byte: a
/// store written before still verifies.
#[test]
fn legacy_vectors_are_unchanged() {
    let legacy = legacy_events();
    let expect = [
        (
            230,
            "4e46e686e1598d47094b9b7d17321c2bd2f9e9eb04a89f7873e3866f417b735c",
        ),
        (
            140,
            "ffe2edf6de3c560c44bdea8674922d3d2c849fe45b61f18bae573f6a3bf3f506",
        ),
    ];
    for (event, (len, seal)) in legacy.iter().zip(expect) {
        assert_eq!(event.sealed_len(), len);
        assert_eq!(event.seal.to_hex(), seal);
        assert!(event.seal_is_valid(&both()));
    }
    let anchor = Anchor::new(&legacy[1], T1 + YEAR_MS + 1, &secret());
    assert_eq!(
        anchor.seal.to_hex(),
        "35987d4e0410f1febdd798940ca8dbbeb16e1c8d9bb8d3f4cd22da11f836a8a6"
    );
    let checkpoint = Checkpoint::new(ca(), 2, legacy[1].seal, T1 + 500, 2, &secret());
    assert_eq!(
        checkpoint.mac.to_hex(),
        "ec086147194d746af2457345e777f00d91bac9cce9b5957da9d64fbeed399819"
    );
}

/// The vectors also hold as the library reads them: the sensitive detail
/// opens with the KEK keyset (and only where it belongs), the checkpoint
/// files read back, anchors and reports check, the stub is what a purge
/// leaves and what retention decides, the records parse, and the verifier
/// applies the seal-secret rules.
#[test]
fn vectors_hold_for_the_library() {
    let secret = secret();
    let successor = successor();
    let secrets = both();
    let events = events();
    let keyset = Keyset::from_json(&kek_keyset_json()).unwrap();
    let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
    let (wrapped_dek, payload) = envelope_parts();
    let aad = detail_aad(&ca(), 1, "subject");
    let tink = EnvelopeCiphertext {
        wrapped_dek: wrapped_dek.clone(),
        payload,
    }
    .to_bytes();
    assert_eq!(envelope.decrypt(&tink, &aad).unwrap(), PLAINTEXT.as_bytes());
    assert!(envelope.is_wrapped_by_primary(&wrapped_dek));
    let chainer = Chainer::new(secrets.clone(), Some(envelope));
    for first in [&events[0], &legacy_events()[0]] {
        assert_eq!(
            chainer.open_detail(first, "subject").unwrap(),
            PLAINTEXT.as_bytes()
        );
        let mut moved = first.clone();
        moved.seq = 2;
        assert!(chainer.open_detail(&moved, "subject").is_err());
    }

    // The records of the store parse as the vectors say.
    let shred = ShredRecord::parse(&events[2]).unwrap().unwrap();
    assert_eq!(
        (shred.target, &shred.keys[..]),
        (1, &["subject".to_owned()][..])
    );
    assert!(shred_refusal(Some(&events[2]), None, &secrets).is_some());
    assert!(shred_refusal(Some(&events[0]), Some("subject"), &secrets).is_none());
    let rotation = RotationRecord::parse(&events[3]).unwrap().unwrap();
    assert_eq!(rotation.to, events[3].secret_id);
    assert_eq!(events[3].secret_id, successor.id());
    assert_eq!(events[4].secret_id, successor.id());
    assert!(events[..3].iter().all(|e| e.secret_id == secret.id()));

    // The stub: the event's seal unchanged, its mark valid, no content.
    let stub = stub();
    assert_eq!(stub.seal, events[1].seal);
    assert_eq!(stub.canonical_bytes(), events[1].canonical_bytes());
    assert!(stub.seal_is_valid(&secrets));
    let mark = stub.purged.as_ref().unwrap();
    mark.check(&stub, &secrets).unwrap();
    assert_eq!(mark.digest, events[1].content_digest());
    assert_eq!(mark.secret_id, successor.id());
    assert!(stub.code.is_empty() && stub.module.is_empty() && stub.node.is_empty());
    assert!(stub.details.is_empty());
    // A purge before the sealed removeAt, of a format 1 event or of a stub
    // is refused.
    assert!(events[1]
        .clone()
        .purge(T1 + YEAR_MS - 1, &successor)
        .is_err());
    assert!(legacy_events()[1]
        .clone()
        .purge(STUB_MS, &successor)
        .is_err());
    assert!(stub.clone().purge(STUB_MS, &successor).is_err());
    // A mark dated before removeAt, though sealed, explains nothing.
    let mut early = stub.clone();
    let forged = early.purged.as_mut().unwrap();
    forged.purged_ms = T1 + YEAR_MS - 1;
    let resealed = successor.seal(|s| forged.write_canonical(&stub, s));
    early.purged.as_mut().unwrap().seal = resealed;
    let mut chain = events.clone();
    chain[1] = early;
    let report = verify(&chain);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(matches!(report.findings[0].kind, FindingKind::Stripped(_)));
    assert_eq!(report.findings[0].seq, Some(2));
    // A format 1 stub is malformed.
    let mut legacy_stub = stub.clone();
    legacy_stub.version = LEGACY_FORMAT_VERSION;
    let mut chain = events.clone();
    chain[1] = legacy_stub;
    assert!(matches!(
        verify(&chain).findings[0].kind,
        FindingKind::Malformed(_)
    ));

    // Retention: at STUB_MS event 2 is stubbed (event 1 is kept, records
    // of the store always); at ANCHOR_MS events 1 and 2 go and event 3
    // carries the anchor.
    let scan = |chain: &[SealedEvent], now: i64| -> Vec<PurgeStep> {
        let mut scan = PurgeScan::new(&secrets, now);
        chain
            .iter()
            .enumerate()
            .map(|(i, e)| scan.step(e, i + 1 == chain.len()).unwrap())
            .collect()
    };
    use PurgeStep::{Keep, Purge, Stub};
    assert_eq!(scan(&events, STUB_MS), [Keep, Stub, Keep, Keep, Keep]);
    let mut stubbed = events.clone();
    stubbed[1] = stub.clone();
    assert_eq!(scan(&stubbed, ANCHOR_MS), [Purge, Purge, Keep, Keep, Keep]);
    let anchor = Anchor::new(&events[2], ANCHOR_MS, &successor);
    assert!(anchor.is_valid_for(&events[2], &secrets));
    let mut anchored = events[2..].to_vec();
    anchored[0].anchor = Some(anchor);
    assert!(verify(&anchored).is_ok());
    // The shredded chain (data key erased, covered by the record) verifies.
    let mut shredded = stubbed.clone();
    assert_eq!(shredded[0].shred(Some("subject")), 1);
    let report = verify(&shredded);
    assert!(report.is_ok(), "{:?}", report.findings);
    // Without the shred record, the erasure is found.
    assert_eq!(
        verify(&shredded[..2]).findings[0].kind,
        FindingKind::KeyErased("subject".into())
    );

    // The seal-secret rules.
    assert_eq!(resealed_findings(&events, 5, &secret), ["retired_secret"]);
    assert_eq!(
        resealed_findings(&events, 3, &successor),
        ["unannounced_secret"]
    );
    assert_eq!(resealed_findings(&events, 4, &secret), ["bad_rotation"]);
    assert!(resealed_findings(&legacy_events(), 2, &successor).is_empty());

    // Checkpoints and reports.
    let checkpoint = Checkpoint::new(
        ca(),
        5,
        events[4].seal,
        events[4].timestamp_ms,
        5,
        &successor,
    );
    let read = Checkpoint::from_json(&checkpoint.to_json()).unwrap();
    assert_eq!(read, checkpoint);
    read.verify(&secrets).unwrap();
    let mut trusting = Verifier::new(secrets.clone());
    trusting.trust_checkpoint(read).unwrap();
    events.iter().for_each(|e| trusting.push(e));
    assert!(trusting.finish().is_ok());
    let report =
        IntegrityReport::from_verification(ca(), 1, 5, &verify(&events), T1 + 600_000, &successor);
    assert_eq!(report.checked_status(&secrets), ReportStatus::Verified);
    assert_eq!(report.events, 5);
    assert_eq!(
        secret.id(),
        SealSecret::new(SECRET.as_bytes()).unwrap().id()
    );
}

/// `docs/FORMAT.md` shows the same vectors (its hex blocks may wrap): every
/// sealed byte string and seal, content and digest, purge mark, secret id,
/// and both checkpoint files.
#[test]
fn format_md_shows_the_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/FORMAT.md");
    let doc: String = std::fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .collect();
    let v = vectors();
    let legacy = &v["legacy"];
    let mut shown: Vec<&Value> = vec![
        &v["seal_secret"]["secret_hex"],
        &v["seal_secret"]["id_hex"],
        &v["successor_secret"]["id_hex"],
        &v["detail_aad"][0]["aad_hex"],
        &v["envelope"]["wrapped_dek_hex"],
        &v["envelope"]["payload_hex"],
        &v["envelope"]["tink_ciphertext_hex"],
    ];
    for record in [&v["anchor"], &legacy["anchor"]] {
        shown.push(&record["canonical_hex"]);
        shown.push(&record["seal_hex"]);
    }
    for record in [&v["checkpoint"], &legacy["checkpoint"]] {
        shown.push(&record["canonical_hex"]);
        shown.push(&record["mac_hex"]);
    }
    let records = |key: &str| -> Vec<&Value> {
        let mut out: Vec<&Value> = v[key].as_array().unwrap().iter().collect();
        out.extend(legacy[key].as_array().into_iter().flatten());
        out
    };
    for record in records("events").into_iter().chain(records("reports")) {
        shown.push(&record["canonical_hex"]);
        shown.push(&record["seal_hex"]);
    }
    for event in v["events"].as_array().unwrap() {
        shown.push(&event["content_hex"]);
        shown.push(&event["digest_hex"]);
    }
    for stub in v["stubs"].as_array().unwrap() {
        shown.push(&stub["mark_canonical_hex"]);
        shown.push(&stub["mark_seal_hex"]);
        shown.push(&stub["input"]["purged"]["digest_hex"]);
        shown.push(&stub["input"]["seal_hex"]);
    }
    for hex in shown {
        let hex = hex.as_str().unwrap();
        assert!(doc.contains(hex), "docs/FORMAT.md lacks {hex}");
    }
    for rule in v["secret_rules"].as_array().unwrap() {
        for finding in rule["findings"].as_array().unwrap() {
            let finding = format!("`{}`", finding.as_str().unwrap());
            assert!(doc.contains(&finding), "docs/FORMAT.md lacks {finding}");
        }
    }
    for checkpoint in [&v["checkpoint"], &legacy["checkpoint"]] {
        let file: String = checkpoint["json"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect();
        assert!(
            doc.contains(&file),
            "docs/FORMAT.md lacks the checkpoint file {file}"
        );
    }
}
