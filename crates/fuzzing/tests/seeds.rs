//! The seed generator of the fuzz corpus: writes `fuzz/corpus/<target>/`
//! from real keysets, ciphertexts, sealed events, exports and checkpoints,
//! made with the fixed keys of `stream_fuzzing::keys`. Ignored: run it by
//! hand when a format changes, then commit what it wrote (a few small
//! files per target; the fuzzer's own finds stay out of git):
//!
//! ```sh
//! cargo test -p stream-fuzzing --test seeds -- --ignored
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use bson::{Bson, RawDocumentBuf};
use stream_chain::{Anchor, ChainId, EventDraft, Head, SealedEvent, Status, Timestamp};
use stream_fuzzing::{keys, Nested, SealedRecord};
use stream_keyset::{Algorithm, KeyStatus, Keyset, OutputPrefix, Template};
use stream_mongo::Secure;

const T0: i64 = 1_767_225_600_000; // 2026-01-01

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    assert!(
        bytes.len() <= 4096,
        "{target}/{name}: {} bytes",
        bytes.len()
    );
    std::fs::write(corpus(target).join(name), bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A small keyset with a disabled and a destroyed key besides the primary.
fn small_keyset() -> Keyset {
    let mut keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let disabled = keyset.add(Template {
        algorithm: Algorithm::Aes128Gcm,
        prefix: OutputPrefix::Raw,
    });
    let destroyed = keyset.add(Template::tink(Algorithm::ChaCha20Poly1305));
    keyset.disable(disabled).unwrap();
    keyset.destroy(destroyed).unwrap();
    keyset
}

/// Chain `ca`: a genesis event with a public and a sensitive detail, one
/// with a removeAt in the past, one with an event id, and a shred-free
/// fourth; chain `ocsp`: two events.
fn events() -> (Vec<SealedEvent>, Vec<SealedEvent>) {
    let chainer = keys::chainer();
    let mut head = Head::genesis(ChainId::new("ca").unwrap());
    let drafts = [
        EventDraft::new(
            "LIFECYCLE-ENROLL",
            "ca",
            "stream-ca-0",
            Status::Success,
            Timestamp::from_millis(T0),
        )
        .public("profile", "tls-server")
        .sensitive("subject", b"CN=alice".to_vec()),
        EventDraft::new(
            "LIFECYCLE-REVOKE",
            "ca",
            "stream-ca-1",
            Status::Failure,
            Timestamp::from_millis(T0 + 1),
        )
        .public("serial", "0a1b\u{e9}")
        .remove_at(Timestamp::from_millis(T0 + 2)),
        EventDraft::new(
            "LIFECYCLE-ENROLL",
            "ca",
            "stream-ca-0",
            Status::Success,
            Timestamp::from_millis(T0 + 3),
        )
        .public("serial", "0003")
        .sensitive("sans", b"DNS:a.example".to_vec())
        .with_event_id("enroll-7f3a9c"),
        EventDraft::new(
            "OCSP-SIGN",
            "ca",
            "stream-ca-0",
            Status::Success,
            Timestamp::from_millis(T0 + 4),
        ),
    ];
    let ca = drafts
        .iter()
        .map(|d| chainer.seal(&mut head, d).unwrap())
        .collect();
    let mut head = Head::genesis(ChainId::new("ocsp").unwrap());
    let ocsp = (0..2)
        .map(|i| {
            let draft = EventDraft::new(
                "OCSP-SIGN",
                "ocsp",
                "stream-ocsp-0",
                Status::Success,
                Timestamp::from_millis(T0 + 10 + i),
            )
            .public("serial", format!("{i:04x}"));
            chainer.seal(&mut head, &draft).unwrap()
        })
        .collect();
    (ca, ocsp)
}

fn bson_bytes(event: &SealedEvent) -> Vec<u8> {
    let document = stream_codec::event_to_document(event);
    RawDocumentBuf::try_from(&document)
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn dump(events: &[&SealedEvent]) -> Vec<u8> {
    events.iter().flat_map(|e| bson_bytes(e)).collect()
}

fn export(events: &[&SealedEvent], canonical: bool, array: bool) -> Vec<u8> {
    let lines: Vec<String> = events
        .iter()
        .map(|e| {
            let document = Bson::Document(stream_codec::event_to_document(e));
            let json = if canonical {
                document.into_canonical_extjson()
            } else {
                document.into_relaxed_extjson()
            };
            json.to_string()
        })
        .collect();
    if array {
        format!("[{}]", lines.join(",\n")).into_bytes()
    } else {
        format!("{}\n", lines.join("\n")).into_bytes()
    }
}

#[test]
#[ignore = "writes fuzz/corpus: run by hand, then commit"]
fn write_seed_corpus() {
    // Keysets, cleartext.
    let small = small_keyset();
    write(
        "keyset_json",
        "test-keyset.json",
        keys::TEST_KEYSET_JSON.as_bytes(),
    );
    write(
        "keyset_json",
        "master-keyset.json",
        keys::MASTER_KEYSET_JSON.as_bytes(),
    );
    write(
        "keyset_json",
        "disabled-destroyed.json",
        small.insecure_to_json().as_bytes(),
    );
    write(
        "keyset_binary",
        "test-keyset.bin",
        &keys::test_keyset().insecure_to_binary(),
    );
    write(
        "keyset_binary",
        "master-keyset.bin",
        &keys::master_keyset().insecure_to_binary(),
    );
    write(
        "keyset_binary",
        "disabled-destroyed.bin",
        &small.insecure_to_binary(),
    );

    // Keysets, encrypted by the master keyset.
    let master = keys::master_aead();
    for (name, keyset) in [("small", &small), ("master", &keys::master_keyset())] {
        let json = keyset.to_encrypted_json(master, keys::MASTER_AAD).unwrap();
        write("keyset_encrypted", &format!("{name}.json"), json.as_bytes());
        let binary = keyset
            .to_encrypted_binary(master, keys::MASTER_AAD)
            .unwrap();
        write("keyset_encrypted", &format!("{name}.bin"), &binary);
    }

    // Ciphertexts of every key of the test keyset (each promoted in turn),
    // and envelopes.
    for info in keys::test_keyset().list() {
        let mut keyset = keys::test_keyset();
        keyset.promote(info.id).unwrap();
        assert_eq!(info.status, KeyStatus::Enabled);
        let ciphertext = keyset
            .aead()
            .unwrap()
            .encrypt(b"CN=alice, O=Stream", keys::AAD)
            .unwrap();
        let name = format!("{}-{}.ct", info.algorithm.unwrap().name(), info.prefix);
        write("decrypt", &name.to_lowercase(), &ciphertext);
    }
    let envelope = keys::envelope();
    write(
        "decrypt",
        "envelope.ct",
        &envelope.encrypt(b"card", keys::AAD).unwrap(),
    );
    write(
        "decrypt",
        "envelope-empty.ct",
        &envelope.encrypt(b"", keys::AAD).unwrap(),
    );

    // Sealed events, one BSON document each.
    let (ca, ocsp) = events();
    let secret = keys::secrets().current().clone();
    let mut stub = ca[1].clone();
    stub.purge(T0 + 5, &secret).unwrap();
    let mut anchored = ca[2].clone();
    anchored.anchor = Some(Anchor::new(&anchored, T0 + 6, &secret));
    write("bson_event", "genesis.bson", &bson_bytes(&ca[0]));
    write("bson_event", "stub.bson", &bson_bytes(&stub));
    write("bson_event", "event-id-anchor.bson", &bson_bytes(&anchored));
    write("bson_event", "no-details.bson", &bson_bytes(&ca[3]));

    // mongodump files.
    let chain: Vec<&SealedEvent> = ca.iter().collect();
    let mixed = vec![&ca[0], &ocsp[0], &stub, &ocsp[1], &anchored, &ca[3]];
    write("mongodump", "ca.bson", &dump(&chain));
    write("mongodump", "two-chains-stub.bson", &dump(&mixed));
    write("mongodump", "ca.bson.gz", &gzip(&dump(&chain)));
    write(
        "mongodump",
        "truncated.bson",
        &dump(&chain)[..dump(&chain).len() - 7],
    );

    // mongoexport files: canonical and relaxed, lines and array.
    let short = vec![&ca[0], &ca[1], &ocsp[0]];
    write(
        "mongoexport",
        "canonical-lines.json",
        &export(&short, true, false),
    );
    write(
        "mongoexport",
        "relaxed-lines.json",
        &export(&short, false, false),
    );
    write(
        "mongoexport",
        "canonical-array.json",
        &export(&short, true, true),
    );
    write(
        "mongoexport",
        "relaxed-array.json",
        &export(&short, false, true),
    );
    write(
        "mongoexport",
        "stub-anchor-relaxed.json",
        &export(&[&stub, &anchored], false, false),
    );
    write(
        "mongoexport",
        "canonical-lines.json.gz",
        &gzip(&export(&chain, true, false)),
    );

    // Checkpoint files: one chain, and an array of two.
    let mut verifier = keys::verifier();
    for event in ca.iter().chain(&ocsp) {
        verifier.push(event);
    }
    let report = verifier.finish();
    assert!(report.is_ok(), "{:?}", report.findings);
    let two = stream_audit::checkpoint::file(&report, &secret).unwrap();
    write("checkpoint_file", "two-chains.json", two.as_bytes());
    let mut verifier = keys::verifier();
    for event in &ca {
        verifier.push(event);
    }
    let one = stream_audit::checkpoint::file(&verifier.finish(), &secret).unwrap();
    write("checkpoint_file", "one-chain.json", one.as_bytes());

    // Sealed documents.
    let (database, collection, id) = keys::DOCUMENT_PLACE;
    let record = SealedRecord {
        name: "ca-key".to_owned(),
        secret: Secure::new("-----BEGIN PRIVATE KEY-----".to_owned()),
        nested: Nested {
            pin: Secure::new(1234),
            count: 2,
        },
        keys: vec![Secure::new(vec![1, 2, 3]), Secure::new(Vec::new())],
        note: Some(Secure::new("rotated".to_owned())),
    };
    let sealed = stream_mongo::seal_document(envelope, database, collection, id, &record).unwrap();
    let bytes = RawDocumentBuf::try_from(&sealed).unwrap();
    write("sealed_document", "record.bson", bytes.as_bytes());
    let record = SealedRecord {
        keys: Vec::new(),
        note: None,
        ..record
    };
    let sealed = stream_mongo::seal_document(envelope, database, collection, id, &record).unwrap();
    let bytes = RawDocumentBuf::try_from(&sealed).unwrap();
    write("sealed_document", "record-no-note.bson", bytes.as_bytes());
}
