//! What the keyset abstractions cost: `stream_keyset`'s AEAD and envelope
//! against the same work done directly with `aes-gcm-siv`.
//!
//! Groups, each at 64, 256, 1024 and 4096 bytes of plaintext:
//! - `aead/keyset` ([`Aead::encrypt`] of an AES256_GCM_SIV TINK keyset) vs
//!   `aead/raw` (a pre-built `Aes256GcmSiv`, random nonce from `rand::rng()`
//!   as the crate draws it, `nonce || ciphertext || tag` in a new `Vec`);
//!   `aead_open/*` the reverse, on the same ciphertexts.
//! - `envelope/seal` ([`Envelope::encrypt`]) vs `envelope/raw`: a fresh
//!   random 32-byte data key, its cipher, the payload encrypted with it, and
//!   the 34-byte data-key proto wrapped by the pre-built key-encryption
//!   cipher, written in Tink's layout in one `Vec`; `envelope_open/*` the
//!   reverse, on the same ciphertexts.
//! - `random/*/56`: one envelope's draw (a 32-byte data key and two 12-byte
//!   nonces) from `stream_random::fill` (`random/stream`, the fork-safe
//!   generator the crate uses), straight from the operating system
//!   (`random/os`, one `getrandom` call) and from `rand::rng()`
//!   (`random/rand`, the raw baselines' generator, not fork-safe).
//!
//! `cargo bench --bench keyset -- --warm-up-time 1 --measurement-time 3`
//!
//! Both sides run the same `aes`/`aes-gcm-siv` code, instantiated in two
//! crates (`stream-keyset` and this bench). On CPUs with AVX-512 VAES, `aes`
//! 0.9 broadcasts the round keys on every call, even for one block; whether
//! that is optimized away depends on how each crate is split in codegen
//! units, and the outcome can move either side by 1.3-1.5x after an
//! unrelated change. For a stable comparison, add
//! `--config profile.bench.codegen-units=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use aes_gcm_siv::Aes256GcmSiv;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::RngCore as _;
use stream_keyset::{Aead, Algorithm, Envelope, Keyset, Template, NONCE_LEN, PREFIX_LEN, TAG_LEN};
use zeroize::Zeroize as _;

/// Plaintext sizes.
const SIZES: [usize; 4] = [64, 256, 1024, 4096];
/// Associated data of every message.
const AAD: &[u8] = b"events/42/details.pan";
/// Length of the big-endian length field of Tink's envelope layout.
const LEN_FIELD: usize = 4;
/// Serialized data-key proto: field 3 tag, length 32, the key.
const DEK_PROTO_LEN: usize = 2 + 32;

/// Appends `nonce || ciphertext || tag` to `out`, directly with the cipher.
fn raw_seal(cipher: &Aes256GcmSiv, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), aad, (&mut out[start..]).into())
        .unwrap();
    out.extend_from_slice(&tag);
}

/// Opens `nonce || ciphertext || tag` into `out`, directly with the cipher.
fn raw_open_into(cipher: &Aes256GcmSiv, sealed: &[u8], aad: &[u8], out: &mut [u8]) {
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    out.copy_from_slice(body);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().unwrap();
    let tag: [u8; TAG_LEN] = tag.try_into().unwrap();
    cipher
        .decrypt_inout_detached(&nonce.into(), aad, out.into(), &tag.into())
        .unwrap();
}

/// Opens `nonce || ciphertext || tag` into a new `Vec`.
fn raw_open(cipher: &Aes256GcmSiv, sealed: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; sealed.len() - NONCE_LEN - TAG_LEN];
    raw_open_into(cipher, sealed, aad, &mut out);
    out
}

/// Tink's envelope layout made directly with the ciphers: `u32be(len) ||
/// kek_prefix || wrapped data-key proto || payload`.
fn raw_envelope_seal(
    kek: &Aes256GcmSiv,
    kek_prefix: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Vec<u8> {
    let mut dek = [0u8; DEK_PROTO_LEN];
    dek[0] = 0x1a;
    dek[1] = 32;
    rand::rng().fill_bytes(&mut dek[2..]);
    let key: [u8; 32] = dek[2..].try_into().unwrap();
    let cipher = Aes256GcmSiv::new(&key.into());
    let wrapped_len = kek_prefix.len() + NONCE_LEN + DEK_PROTO_LEN + TAG_LEN;
    let mut out =
        Vec::with_capacity(LEN_FIELD + wrapped_len + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&(wrapped_len as u32).to_be_bytes());
    out.extend_from_slice(kek_prefix);
    raw_seal(kek, &dek, &[], &mut out);
    dek.zeroize();
    raw_seal(&cipher, plaintext, aad, &mut out);
    out
}

/// Opens [`raw_envelope_seal`]'s layout (and [`Envelope::encrypt`]'s).
fn raw_envelope_open(kek: &Aes256GcmSiv, kek_prefix: &[u8], sealed: &[u8], aad: &[u8]) -> Vec<u8> {
    let (len, rest) = sealed.split_first_chunk::<LEN_FIELD>().unwrap();
    let (wrapped, payload) = rest.split_at(u32::from_be_bytes(*len) as usize);
    let wrapped = wrapped.strip_prefix(kek_prefix).unwrap();
    let mut dek = [0u8; DEK_PROTO_LEN];
    raw_open_into(kek, wrapped, &[], &mut dek);
    assert_eq!(dek[..2], [0x1a, 32]);
    let key: [u8; 32] = dek[2..].try_into().unwrap();
    dek.zeroize();
    let cipher = Aes256GcmSiv::new(&key.into());
    raw_open(&cipher, payload, aad)
}

/// The keyset under test and the same primary key as a bare cipher.
struct Fixture {
    /// The keyset's AEAD.
    aead: Aead,
    /// Envelope encryption with the keyset as KEK.
    envelope: Envelope,
    /// The primary key, as a bare cipher.
    raw: Aes256GcmSiv,
    /// The primary's TINK prefix.
    prefix: [u8; PREFIX_LEN],
}

impl Fixture {
    /// A fresh AES256_GCM_SIV TINK keyset.
    fn new() -> Fixture {
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        // The raw key is read from the cleartext export, as another
        // implementation would.
        let json: serde_json::Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
        let value = json["key"][0]["keyData"]["value"].as_str().unwrap();
        let proto = base64_decode(value);
        assert_eq!(proto[..2], [0x1a, 32]);
        let raw = Aes256GcmSiv::new_from_slice(&proto[2..]).unwrap();
        let mut prefix = [1u8; PREFIX_LEN];
        prefix[1..].copy_from_slice(&keyset.primary_id().0.to_be_bytes());
        let fixture = Fixture {
            aead: keyset.aead().unwrap(),
            envelope: keyset.envelope(Algorithm::Aes256GcmSiv).unwrap(),
            raw,
            prefix,
        };
        fixture.check();
        fixture
    }

    /// The raw and the keyset paths read each other's output: they do the
    /// same work.
    fn check(&self) {
        let message = b"the same bytes either way";
        let sealed = self.aead.encrypt(message, AAD).unwrap();
        assert_eq!(raw_open(&self.raw, &sealed[PREFIX_LEN..], AAD), message);
        let mut raw = self.prefix.to_vec();
        raw_seal(&self.raw, message, AAD, &mut raw);
        assert_eq!(self.aead.decrypt(&raw, AAD).unwrap(), message);

        let sealed = self.envelope.encrypt(message, AAD).unwrap();
        assert_eq!(
            raw_envelope_open(&self.raw, &self.prefix, &sealed, AAD),
            message
        );
        let raw = raw_envelope_seal(&self.raw, &self.prefix, message, AAD);
        assert_eq!(raw.len(), sealed.len());
        assert_eq!(self.envelope.decrypt(&raw, AAD).unwrap(), message);
    }
}

/// Standard base64 with padding (the keyset JSON's), decoded.
fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// `aead` and `aead_open`.
fn aead(c: &mut Criterion) {
    let f = Fixture::new();
    let mut group = c.benchmark_group("aead");
    for size in SIZES {
        let plaintext = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("keyset", size), &plaintext, |b, p| {
            b.iter(|| f.aead.encrypt(black_box(p), black_box(AAD)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("raw", size), &plaintext, |b, p| {
            b.iter(|| {
                let mut out = Vec::with_capacity(NONCE_LEN + p.len() + TAG_LEN);
                raw_seal(&f.raw, black_box(p), black_box(AAD), &mut out);
                out
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("aead_open");
    for size in SIZES {
        let sealed = f.aead.encrypt(&vec![0x5a; size], AAD).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("keyset", size), &sealed, |b, s| {
            b.iter(|| f.aead.decrypt(black_box(s), black_box(AAD)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("raw", size), &sealed, |b, s| {
            b.iter(|| raw_open(&f.raw, black_box(&s[PREFIX_LEN..]), black_box(AAD)))
        });
    }
    group.finish();
}

/// `envelope` and `envelope_open`.
fn envelope(c: &mut Criterion) {
    let f = Fixture::new();
    let mut group = c.benchmark_group("envelope");
    for size in SIZES {
        let plaintext = vec![0x5a; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &plaintext, |b, p| {
            b.iter(|| f.envelope.encrypt(black_box(p), black_box(AAD)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("raw", size), &plaintext, |b, p| {
            b.iter(|| raw_envelope_seal(&f.raw, &f.prefix, black_box(p), black_box(AAD)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("envelope_open");
    for size in SIZES {
        let sealed = f.envelope.encrypt(&vec![0x5a; size], AAD).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &sealed, |b, s| {
            b.iter(|| f.envelope.decrypt(black_box(s), black_box(AAD)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("raw", size), &sealed, |b, s| {
            b.iter(|| raw_envelope_open(&f.raw, &f.prefix, black_box(s), black_box(AAD)))
        });
    }
    group.finish();
}

/// `random`: what one envelope's draw costs from each generator.
fn random(c: &mut Criterion) {
    let mut group = c.benchmark_group("random");
    let mut bytes = [0u8; 56];
    group.throughput(Throughput::Bytes(56));
    group.bench_function("stream/56", |b| {
        b.iter(|| stream_random::fill(black_box(&mut bytes)).unwrap())
    });
    group.bench_function("os/56", |b| {
        b.iter(|| stream_random::fill_from_os(black_box(&mut bytes)).unwrap())
    });
    group.bench_function("rand/56", |b| {
        b.iter(|| rand::rng().fill_bytes(black_box(&mut bytes)))
    });
    group.finish();
}

criterion_group!(benches, aead, envelope, random);
criterion_main!(benches);
