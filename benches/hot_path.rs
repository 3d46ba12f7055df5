//! The hot path of the event store: sealing a draft into a chain, against
//! the raw primitives it is made of, and streaming verification.
//!
//! One group, `hot_path`, each id at 64, 256, 1024 and 4096 bytes of
//! sensitive payload (the draft also carries three short public details):
//! - `encrypt_and_chain/SIZE`: [`Chainer::seal`] of the draft (keyset
//!   AES256_GCM_SIV, data keys AES-256-GCM-SIV): a fresh data key, the
//!   payload encrypted with it, the key wrapped by the keyset, the event
//!   sealed with HMAC-SHA256 and linked to its predecessor.
//! - `raw_primitives/SIZE`: the same cryptographic work done directly with
//!   `aes-gcm-siv`, `hmac` and `sha2`: a fresh random 32-byte key from
//!   `rand::rng()`, its cipher, the payload encrypted under a random nonce
//!   with the same associated data, the 34-byte data-key proto wrapped by a
//!   pre-built key-encryption cipher under a random nonce (with a 5-byte
//!   TINK prefix, in a `Vec` of its own as the envelope makes it), the
//!   SHA-256 content digest and HMAC-SHA256 (a pre-keyed state, cloned) of
//!   format 2 over the canonical bytes of an equivalent sealed event,
//!   computed once beforehand.
//! - `seal_v1/SIZE` and `seal_v2/SIZE`: only the seal of an already
//!   encrypted event, in format 1 (HMAC over the content) and format 2
//!   (SHA-256 of the content, then HMAC over the sealed fields and the
//!   digest): what the content digest, which makes purge stubs possible,
//!   costs on the hot path.
//! - `verify/SIZE`: [`VERIFY_EVENTS`] pre-sealed events pushed through a
//!   fresh [`Verifier`] and `finish`ed; throughput in sealed bytes (the sum
//!   of `SealedEvent::sealed_len`).
//!
//! - `verify_raw/SIZE`: the floor of `verify`: the same events' bytes
//!   serialized beforehand, then per event SHA-256 of the content and
//!   HMAC-SHA256 over the sealed fields and the digest (single core).
//! - `verify_batch/SIZE`: `verify` through [`Verifier::push_batch`], the
//!   seals checked on all cores.
//!
//! `cargo bench --bench hot_path -- --warm-up-time 1 --measurement-time 4`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use stream_store::Timestamp;

use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use aes_gcm_siv::Aes256GcmSiv;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::Mac as _;
use rand::RngCore as _;
use sha2::Sha256;
use stream_store::chain::{
    detail_aad, ChainId, Chainer, DetailValue, EventDraft, Head, Record, SealSecret, SealSecrets,
    SealedEvent, Status, Verifier,
};
use stream_store::keyset::{Algorithm, Keyset, Template, NONCE_LEN, PREFIX_LEN, TAG_LEN};
use zeroize::Zeroize as _;

/// Sizes of the sensitive detail, in bytes.
const SIZES: [usize; 4] = [64, 256, 1024, 4096];
/// Events verified per iteration of `verify/SIZE`.
const VERIFY_EVENTS: usize = 1000;
/// The seal secret (as env `EVENT_SEAL_SECRET` would hold it).
const SEAL_SECRET: &str = "bench-seal-secret-of-32-chars...";
/// Key of the sensitive detail.
const SENSITIVE_KEY: &str = "subject";
/// Serialized data-key proto: field 3 tag, length 32, the key.
const DEK_PROTO_LEN: usize = 2 + 32;

type HmacSha256 = hmac::Hmac<Sha256>;

/// A draft with three public details and one sensitive detail of `size`
/// bytes.
fn draft(size: usize, i: i64) -> EventDraft {
    EventDraft::new(
        "LIFECYCLE-ENROLL",
        "ca",
        "stream-ca-0",
        Status::Success,
        Timestamp::from_millis(1_700_000_000_000 + i),
    )
    .public("serial", "4f2a9c1e07d3b855")
    .public("profile", "tls-server")
    .public("issuer", "CN=Stream Issuing CA 1")
    .sensitive(SENSITIVE_KEY, vec![0x5a; size])
}

/// The sealer and what the raw path needs to do the same work.
struct Fixture {
    secrets: SealSecrets,
    chainer: Chainer,
    /// The key-encryption cipher of the raw path.
    kek: Aes256GcmSiv,
    /// The TINK output prefix written before a wrapped key.
    kek_prefix: [u8; PREFIX_LEN],
    /// The seal secret, keyed into HMAC-SHA256 once.
    keyed: HmacSha256,
}

impl Fixture {
    fn new() -> Fixture {
        let secrets = SealSecrets::new(SealSecret::from_env_value(SEAL_SECRET).unwrap());
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let chainer = Chainer::new(
            secrets.clone(),
            Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
        );
        let mut kek_key = [0u8; 32];
        rand::rng().fill_bytes(&mut kek_key);
        let kek = Aes256GcmSiv::new(&kek_key.into());
        kek_key.zeroize();
        let mut kek_prefix = [1u8; PREFIX_LEN];
        kek_prefix[1..].copy_from_slice(&keyset.primary_id().0.to_be_bytes());
        let keyed = <HmacSha256 as hmac::KeyInit>::new_from_slice(SEAL_SECRET.as_bytes()).unwrap();
        Fixture {
            secrets,
            chainer,
            kek,
            kek_prefix,
            keyed,
        }
    }
}

/// Appends `nonce || ciphertext || tag` of `plaintext` to `out` under a
/// random nonce, directly with the cipher.
fn raw_seal(cipher: &Aes256GcmSiv, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), aad, (&mut out[start..]).into())
        .unwrap();
    out.extend_from_slice(&tag);
}

/// What `raw_primitives` produces: the two envelope halves and the seal.
struct RawOutput {
    wrapped_dek: Vec<u8>,
    payload: Vec<u8>,
    seal: [u8; 32],
}

/// The primitives of one sealed event, done directly.
fn raw_primitives(
    f: &Fixture,
    plaintext: &[u8],
    aad: &[u8],
    content: &[u8],
    sealed_fields: &[u8],
) -> RawOutput {
    let mut dek = [0u8; DEK_PROTO_LEN];
    dek[0] = 0x1a;
    dek[1] = 32;
    rand::rng().fill_bytes(&mut dek[2..]);
    let mut key = [0u8; 32];
    key.copy_from_slice(&dek[2..]);
    let cipher = Aes256GcmSiv::new(&key.into());
    key.zeroize();
    let mut payload = Vec::new();
    raw_seal(&cipher, plaintext, aad, &mut payload);
    let mut wrapped_dek = Vec::with_capacity(PREFIX_LEN + NONCE_LEN + DEK_PROTO_LEN + TAG_LEN);
    wrapped_dek.extend_from_slice(&f.kek_prefix);
    raw_seal(&f.kek, &dek, &[], &mut wrapped_dek);
    dek.zeroize();
    let digest = <Sha256 as sha2::Digest>::digest(content);
    let mut mac = f.keyed.clone();
    mac.update(sealed_fields);
    mac.update(&digest);
    RawOutput {
        wrapped_dek,
        payload,
        seal: mac.finalize().into_bytes().into(),
    }
}

/// `VERIFY_EVENTS` events of one chain from its genesis.
fn sealed_chain(f: &Fixture, size: usize) -> Vec<SealedEvent> {
    let mut head = Head::genesis(ChainId::new("verify").unwrap());
    let drafts: Vec<EventDraft> = (0..VERIFY_EVENTS as i64).map(|i| draft(size, i)).collect();
    f.chainer.seal_batch(&mut head, &drafts).unwrap()
}

fn hot_path(c: &mut Criterion) {
    let f = Fixture::new();
    let mut group = c.benchmark_group("hot_path");
    for size in SIZES {
        // encrypt_and_chain: the library's hot path.
        let draft = draft(size, 0);
        let mut head = Head::genesis(ChainId::new("bench").unwrap());
        let event = f.chainer.seal(&mut head, &draft).unwrap();
        group.throughput(Throughput::Bytes(event.sealed_len()));
        group.bench_function(BenchmarkId::new("encrypt_and_chain", size), |b| {
            b.iter(|| {
                f.chainer
                    .seal(black_box(&mut head), black_box(&draft))
                    .unwrap()
            })
        });

        // raw_primitives: the same work, directly. The canonical bytes are
        // those of an equivalent sealed event (same fields, same sizes).
        let canonical = event.canonical_bytes();
        let mut content = Vec::new();
        event.write_content(&mut content);
        let sealed_fields = &canonical[..canonical.len() - 32];
        let aad = detail_aad(&event.chain, event.seq, SENSITIVE_KEY);
        let plaintext = vec![0x5a; size];
        let check = raw_primitives(&f, &plaintext, &aad, &content, sealed_fields);
        // Same sizes out as the chainer's, and the same seal.
        let expected = match event.detail(SENSITIVE_KEY) {
            Some(DetailValue::Sensitive(v)) => Some(v),
            _ => None,
        }
        .expect("the sealed event has its sensitive detail");
        assert_eq!(check.payload.len(), expected.payload.len());
        assert_eq!(
            check.wrapped_dek.len(),
            expected.wrapped_dek.as_ref().unwrap().len()
        );
        assert_eq!(check.seal, event.seal.0);
        group.bench_function(BenchmarkId::new("raw_primitives", size), |b| {
            b.iter(|| {
                raw_primitives(
                    &f,
                    black_box(&plaintext),
                    black_box(&aad),
                    black_box(&content),
                    black_box(sealed_fields),
                )
            })
        });

        // The seal alone, in both formats.
        let secret = f.secrets.current();
        let mut v1 = event.clone();
        v1.version = stream_store::chain::LEGACY_FORMAT_VERSION;
        group.bench_function(BenchmarkId::new("seal_v1", size), |b| {
            b.iter(|| black_box(&v1).compute_seal(secret))
        });
        group.bench_function(BenchmarkId::new("seal_v2", size), |b| {
            b.iter(|| black_box(&event).compute_seal(secret))
        });

        // verify: a fresh verifier per iteration, over a pre-sealed chain.
        let events = sealed_chain(&f, size);
        let sealed_bytes: u64 = events.iter().map(SealedEvent::sealed_len).sum();
        let mut verifier = Verifier::new(f.secrets.clone());
        events.iter().for_each(|e| verifier.push(e));
        let report = verifier.finish();
        assert!(report.is_ok(), "{:?}", report.first_error());
        assert_eq!(report.sealed_bytes, sealed_bytes);
        group.throughput(Throughput::Bytes(sealed_bytes));
        group.bench_function(BenchmarkId::new("verify", size), |b| {
            b.iter(|| {
                let mut verifier = Verifier::new(f.secrets.clone());
                for event in black_box(&events) {
                    verifier.push(event);
                }
                verifier.finish()
            })
        });

        // verify_raw: the floor, every sealed byte hashed once. The same
        // events' bytes, serialized beforehand: SHA-256 of the content,
        // then HMAC-SHA256 (a pre-keyed state, cloned) over the sealed
        // fields and that digest, as format 2 seals; single core.
        let raw: Vec<(Vec<u8>, Vec<u8>)> = events
            .iter()
            .map(|e| {
                let canonical = e.canonical_bytes();
                let mut content = Vec::new();
                e.write_content(&mut content);
                let fields = canonical[..canonical.len() - 32].to_vec();
                (content, fields)
            })
            .collect();
        for ((content, fields), e) in raw.iter().zip(&events) {
            assert_eq!(raw_seal_v2(&f.keyed, content, fields), e.seal.0);
        }
        group.bench_function(BenchmarkId::new("verify_raw", size), |b| {
            b.iter(|| {
                for (content, fields) in black_box(&raw) {
                    black_box(raw_seal_v2(&f.keyed, content, fields));
                }
            })
        });

        // verify_batch: the same events through `Verifier::push_batch`
        // (seals on all cores), in batches of 1,024 as `verify_input`.
        let records: Vec<Record> = events.iter().cloned().map(Record::Event).collect();
        group.bench_function(BenchmarkId::new("verify_batch", size), |b| {
            b.iter(|| {
                let mut verifier = Verifier::new(f.secrets.clone());
                verifier.push_batch(black_box(&records));
                verifier.finish()
            })
        });
    }
    group.finish();
}

/// A format 2 seal from the serialized content and sealed fields: the
/// verifier's floor.
fn raw_seal_v2(keyed: &HmacSha256, content: &[u8], fields: &[u8]) -> [u8; 32] {
    let digest = <Sha256 as sha2::Digest>::digest(content);
    let mut mac = keyed.clone();
    mac.update(fields);
    mac.update(&digest);
    mac.finalize().into_bytes().into()
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
