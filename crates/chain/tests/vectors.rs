//! Test vectors of every byte format of `stream-chain` (`docs/FORMAT.md`):
//! canonical event bytes and seals, secret ids, the associated data of a
//! sensitive detail and its envelope, anchors, checkpoints (and their JSON
//! file), integrity reports.
//!
//! Everything is built from fixed inputs and compared with
//! `tests/vectors/chain_vectors.json` at the workspace root, which
//! `tests/vectors/check_chain_vectors.py` checks independently (Python's
//! standard library only). `STREAM_WRITE_VECTORS=1 cargo test -p
//! stream-chain --test vectors` rewrites the file; a change of it is a
//! change of the format.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aes_gcm_siv::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm_siv::Aes256GcmSiv;
use base64::Engine as _;
use serde_json::{json, Value};
use stream_chain::{
    detail_aad, Anchor, ChainId, Chainer, Checkpoint, Detail, DetailValue, IntegrityReport,
    ReportStatus, Seal, SealSecret, SealSecrets, SealedEvent, SensitiveValue, Status, Verifier,
    FORMAT_VERSION,
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

/// The two events of the vectors, sealed and chained.
fn events() -> [SealedEvent; 2] {
    let secret = secret();
    let (wrapped_dek, payload) = envelope_parts();
    let mut first = SealedEvent {
        version: FORMAT_VERSION,
        chain: ca(),
        seq: 1,
        timestamp_ms: T1,
        code: "LIFECYCLE-ENROLL".into(),
        module: "ca".into(),
        node: "stream-0".into(),
        status: Status::Success,
        details: vec![
            Detail {
                key: "profile".into(),
                value: DetailValue::Public("tls-server".into()),
            },
            Detail {
                key: "subject".into(),
                value: DetailValue::Sensitive(SensitiveValue {
                    wrapped_dek: Some(wrapped_dek),
                    payload,
                }),
            },
        ],
        remove_at_ms: Some(T1 + YEAR_MS),
        secret_id: secret.id(),
        prev: Seal::GENESIS,
        seal: Seal::GENESIS,
        anchor: None,
        purged: None,
    };
    first.seal = first.compute_seal(&secret);
    let mut second = SealedEvent {
        version: FORMAT_VERSION,
        chain: ca(),
        seq: 2,
        timestamp_ms: T1 + 500,
        code: "OCSP-SIGN".into(),
        module: "ocsp".into(),
        node: "nœud-1".into(), // two-byte UTF-8: lengths count bytes
        status: Status::Warning,
        details: vec![Detail {
            key: "serial".into(),
            value: DetailValue::Public("01ab".into()),
        }],
        remove_at_ms: None,
        secret_id: secret.id(),
        prev: first.seal,
        seal: Seal::GENESIS,
        anchor: None,
        purged: None,
    };
    second.seal = second.compute_seal(&secret);
    [first, second]
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
    json!({
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
    })
}

fn canonical(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    hex::encode(out)
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
    let secrets = SealSecrets::new(secret.clone());
    let [first, second] = events();

    // The two events verify as a chain, with the seal secret only.
    let mut verifier = Verifier::new(secrets.clone());
    verifier.push(&first);
    verifier.push(&second);
    let verification = verifier.finish();
    assert!(verification.is_ok(), "{:?}", verification.findings);

    let hex64: String = hex::encode((0..64).collect::<Vec<u8>>());
    let env_hex = SealSecret::from_env_value(&hex64).unwrap();

    let (wrapped_dek, payload) = envelope_parts();
    let aad = detail_aad(&ca(), 1, "subject");
    let tink = EnvelopeCiphertext {
        wrapped_dek: wrapped_dek.clone(),
        payload: payload.clone(),
    }
    .to_bytes();

    let anchor = Anchor::new(&second, T1 + YEAR_MS + 1, &secret);
    let checkpoint = Checkpoint::new(ca(), 2, second.seal, second.timestamp_ms, 2, &secret);
    let verified =
        IntegrityReport::from_verification(ca(), 1, 2, &verification, T1 + 600_000, &secret);
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

    json!({
        "description": "Test vectors of the byte formats of stream-chain (docs/FORMAT.md). \
            Generated by crates/chain/tests/vectors.rs, checked independently by \
            tests/vectors/check_chain_vectors.py. Hex is lowercase; integers are JSON numbers.",
        "format_version": FORMAT_VERSION,
        "seal_secret": {
            "env_value": SECRET,
            "secret_hex": hex::encode(SECRET),
            "id_hex": secret.id().to_hex(),
        },
        "secret_ids": [
            {"env_value": SECRET, "secret_hex": hex::encode(SECRET), "id_hex": secret.id().to_hex()},
            {"env_value": hex64, "secret_hex": hex64, "id_hex": env_hex.id().to_hex()},
        ],
        "events": [
            event_json("genesis with a public and a sensitive detail", &first),
            event_json("second event, chained, no retention date", &second),
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
        "anchor": {
            "input": {
                "chain": anchor.chain.as_str(),
                "first_seq": anchor.first_seq,
                "prev_hex": anchor.prev.to_hex(),
                "created_ms": anchor.created_ms,
                "secret_id_hex": anchor.secret_id.to_hex(),
            },
            "canonical_hex": canonical(|s| anchor.write_canonical(s)),
            "seal_hex": anchor.seal.to_hex(),
        },
        "checkpoint": {
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
        },
        "reports": [
            report_json("verified range", &verified),
            report_json("failed range, no event read", &failed),
        ],
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

/// The vectors also hold as the library reads them: the sensitive detail
/// opens with the KEK keyset (and only where it belongs), the checkpoint
/// file reads back, anchors and reports check.
#[test]
fn vectors_hold_for_the_library() {
    let secret = secret();
    let secrets = SealSecrets::new(secret.clone());
    let [first, second] = events();
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
    assert_eq!(
        chainer.open_detail(&first, "subject").unwrap(),
        PLAINTEXT.as_bytes()
    );
    let mut moved = first.clone();
    moved.seq = 2;
    assert!(chainer.open_detail(&moved, "subject").is_err());

    let anchor = Anchor::new(&second, T1 + YEAR_MS + 1, &secret);
    assert!(anchor.is_valid_for(&second, &secrets));
    let checkpoint = Checkpoint::new(ca(), 2, second.seal, second.timestamp_ms, 2, &secret);
    let read = Checkpoint::from_json(&checkpoint.to_json()).unwrap();
    assert_eq!(read, checkpoint);
    read.verify(&secrets).unwrap();
    assert_eq!(
        secret.id(),
        SealSecret::new(SECRET.as_bytes()).unwrap().id()
    );
}

/// `docs/FORMAT.md` shows the same vectors (its hex blocks may wrap).
#[test]
fn format_md_shows_the_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/FORMAT.md");
    let doc: String = std::fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .collect();
    let v = vectors();
    let mut shown: Vec<&Value> = vec![
        &v["seal_secret"]["secret_hex"],
        &v["seal_secret"]["id_hex"],
        &v["secret_ids"][1]["id_hex"],
        &v["detail_aad"][0]["aad_hex"],
        &v["envelope"]["wrapped_dek_hex"],
        &v["envelope"]["payload_hex"],
        &v["envelope"]["tink_ciphertext_hex"],
        &v["anchor"]["canonical_hex"],
        &v["anchor"]["seal_hex"],
        &v["checkpoint"]["canonical_hex"],
        &v["checkpoint"]["mac_hex"],
    ];
    for record in v["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["reports"].as_array().unwrap())
    {
        shown.push(&record["canonical_hex"]);
        shown.push(&record["seal_hex"]);
    }
    for hex in shown {
        let hex = hex.as_str().unwrap();
        assert!(doc.contains(hex), "docs/FORMAT.md lacks {hex}");
    }
    let file: String = v["checkpoint"]["json"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(
        doc.contains(&file),
        "docs/FORMAT.md lacks the checkpoint file"
    );
}
