//! The Tink AEADs beside AES-GCM and AES-GCM-SIV (AES-CTR-HMAC, AES-EAX,
//! ChaCha20-Poly1305, XChaCha20-Poly1305) against ciphertexts made by the
//! official Tink (`tools/tink-vectors/generate.py`: Tink Python, and Tink
//! Go for ChaCha20-Poly1305), with every output prefix; round trips, tamper cases, mixed keysets and envelopes.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use stream_keyset::{Algorithm, Error, KeyId, Keyset, OutputPrefix, Template};

/// The vectors, a copy of `tests/vectors/tink_aead_vectors.json` (the
/// generator writes both).
const VECTORS_JSON: &str = include_str!("vectors/tink_aead_vectors.json");

fn sets() -> &'static [Value] {
    static VECTORS: OnceLock<Value> = OnceLock::new();
    VECTORS
        .get_or_init(|| serde_json::from_str(VECTORS_JSON).unwrap())
        .get("aead")
        .and_then(Value::as_array)
        .unwrap()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap()
}

fn hex_of(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(text(v, key)).unwrap()
}

fn keyset_of(set: &Value) -> Keyset {
    Keyset::parse(text(set, "keyset_json").as_bytes()).unwrap()
}

#[test]
fn every_type_and_prefix_is_covered() {
    let names: Vec<&str> = sets().iter().map(|s| text(s, "name")).collect();
    for url in [
        stream_keyset::AES_CTR_HMAC_AEAD_TYPE_URL,
        stream_keyset::AES_EAX_TYPE_URL,
        stream_keyset::CHACHA20_POLY1305_TYPE_URL,
        stream_keyset::XCHACHA20_POLY1305_TYPE_URL,
    ] {
        for prefix in ["TINK", "LEGACY", "CRUNCHY", "RAW"] {
            assert!(
                sets()
                    .iter()
                    .any(|s| text(s, "type_url") == url && text(s, "output_prefix_type") == prefix),
                "no {url} {prefix} set in {names:?}"
            );
        }
    }
    assert!(names.iter().any(|n| n.contains("sha512")));
    assert!(names.iter().any(|n| n.contains("nonce12")));
}

#[test]
fn tinks_ciphertexts_decrypt() {
    let mut count = 0;
    for set in sets() {
        let name = text(set, "name");
        let keyset = keyset_of(set);
        let info = &keyset.list()[0];
        assert_eq!(info.type_url, text(set, "type_url"), "{name}");
        assert!(info.algorithm.is_some(), "{name}: type implemented");
        let aead = keyset.aead().unwrap();
        let prefix = match text(set, "output_prefix_type") {
            "TINK" => OutputPrefix::Tink,
            "LEGACY" => OutputPrefix::Legacy,
            "CRUNCHY" => OutputPrefix::Crunchy,
            _ => OutputPrefix::Raw,
        };
        assert_eq!(info.prefix, prefix, "{name}");
        for v in set.get("vectors").and_then(Value::as_array).unwrap() {
            let (pt, aad, ct) = (
                hex_of(v, "plaintext_hex"),
                hex_of(v, "aad_hex"),
                hex_of(v, "ciphertext_hex"),
            );
            if prefix != OutputPrefix::Raw {
                let marker = u8::from(prefix == OutputPrefix::Tink);
                assert_eq!(ct[0], marker, "{name}");
                assert_eq!(&ct[1..5], &keyset.primary_id().0.to_be_bytes(), "{name}");
            }
            assert_eq!(aead.decrypt(&ct, &aad).unwrap(), pt, "{name}");
            // Tamper: every byte position of a short one, the last byte of
            // any, another aad, a truncation.
            let positions: Vec<usize> = if ct.len() < 64 {
                (0..ct.len()).collect()
            } else {
                vec![0, 5, ct.len() / 2, ct.len() - 1]
            };
            for i in positions {
                let mut bad = ct.clone();
                bad[i] ^= 0x01;
                assert!(aead.decrypt(&bad, &aad).is_err(), "{name}: flip {i}");
            }
            assert!(aead.decrypt(&ct, b"elsewhere").is_err(), "{name}: aad");
            assert!(
                aead.decrypt(&ct[..ct.len() - 1], &aad).is_err(),
                "{name}: cut"
            );
            count += 1;
        }
        // Our own ciphertexts under Tink's keyset open.
        let ours = aead.encrypt(b"ours", b"ad").unwrap();
        assert_eq!(aead.decrypt(&ours, b"ad").unwrap(), b"ours", "{name}");
        // The keyset is written back as it was read.
        assert_eq!(
            Keyset::parse(keyset.insecure_to_json().as_bytes())
                .unwrap()
                .insecure_to_binary(),
            keyset.insecure_to_binary()
        );
    }
    assert!(count >= 200, "{count} ciphertexts");
}

/// One keyset holding every set's key (ids are random, so distinct): each
/// of Tink's ciphertexts opens whatever the primary, RAW keys included.
#[test]
fn a_keyset_of_every_type_decrypts_all_of_them() {
    let mut keys = Vec::new();
    for set in sets() {
        let json: Value = serde_json::from_str(text(set, "keyset_json")).unwrap();
        keys.extend(json["key"].as_array().unwrap().iter().cloned());
    }
    let first = keys[0]["keyId"].clone();
    let merged = serde_json::json!({ "primaryKeyId": first, "key": keys });
    let keyset = Keyset::parse(merged.to_string().as_bytes()).unwrap();
    let aead = keyset.aead().unwrap();
    for set in sets() {
        for v in set["vectors"].as_array().unwrap().iter().take(2) {
            let pt = aead
                .decrypt(&hex_of(v, "ciphertext_hex"), &hex_of(v, "aad_hex"))
                .unwrap();
            assert_eq!(pt, hex_of(v, "plaintext_hex"), "{}", text(set, "name"));
        }
    }
}

const NEW: [Algorithm; 8] = [
    Algorithm::Aes128CtrHmacSha256,
    Algorithm::Aes256CtrHmacSha256,
    Algorithm::Aes128CtrHmacSha512,
    Algorithm::Aes256CtrHmacSha512,
    Algorithm::Aes128Eax,
    Algorithm::Aes256Eax,
    Algorithm::ChaCha20Poly1305,
    Algorithm::XChaCha20Poly1305,
];

const PREFIXES: [OutputPrefix; 4] = [
    OutputPrefix::Tink,
    OutputPrefix::Legacy,
    OutputPrefix::Crunchy,
    OutputPrefix::Raw,
];

fn generated() -> &'static [Keyset] {
    static KEYSETS: OnceLock<Vec<Keyset>> = OnceLock::new();
    KEYSETS.get_or_init(|| {
        NEW.iter()
            .flat_map(|&algorithm| {
                PREFIXES
                    .iter()
                    .map(move |&prefix| Keyset::generate(Template { algorithm, prefix }))
            })
            .collect()
    })
}

#[test]
fn generated_keys_list_their_algorithm_and_reparse() {
    for keyset in generated() {
        let info = &keyset.list()[0];
        let algorithm = info.algorithm.unwrap();
        assert!(NEW.contains(&algorithm));
        assert_eq!(info.type_url, algorithm.type_url());
        assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
        let reread = Keyset::parse(keyset.insecure_to_json().as_bytes()).unwrap();
        assert_eq!(reread.list(), keyset.list());
    }
}

#[test]
fn an_envelope_works_under_every_kek_type() {
    for keyset in generated() {
        for dek in [Algorithm::Aes256GcmSiv, Algorithm::Aes128Gcm] {
            let envelope = keyset.envelope(dek).unwrap();
            let sealed = envelope.encrypt(b"card", b"ad").unwrap();
            assert_eq!(envelope.decrypt(&sealed, b"ad").unwrap(), b"card");
            assert!(envelope.decrypt(&sealed, b"other").is_err());
            assert!(envelope.is_wrapped_by_primary(
                &stream_keyset::EnvelopeCiphertext::from_bytes(&sealed)
                    .unwrap()
                    .wrapped_dek
            ));
        }
        assert!(matches!(
            keyset.envelope(Algorithm::ChaCha20Poly1305),
            Err(Error::UnsupportedDataKey(Algorithm::ChaCha20Poly1305))
        ));
    }
}

#[test]
fn rotation_between_types_keeps_old_ciphertexts() {
    let mut keyset = Keyset::generate(Template::AES256_GCM);
    let old = keyset.aead().unwrap().encrypt(b"old", b"").unwrap();
    let mut olds = vec![(old, b"old".to_vec())];
    for algorithm in NEW {
        let id = keyset.add(Template::tink(algorithm));
        keyset.promote(id).unwrap();
        let aead = keyset.aead().unwrap();
        assert_eq!(aead.primary_id(), id);
        olds.push((
            aead.encrypt(algorithm.name().as_bytes(), b"").unwrap(),
            algorithm.name().into(),
        ));
        for (ct, pt) in &olds {
            assert_eq!(&aead.decrypt(ct, b"").unwrap(), pt);
        }
    }
}

/// A keyset whose primary this crate cannot use still decrypts with its
/// other keys, and names the primary when asked to encrypt.
#[test]
fn an_unsupported_primary_still_decrypts() {
    let keyset = Keyset::generate(Template::AES256_GCM);
    let ct = keyset.aead().unwrap().encrypt(b"kept", b"").unwrap();
    let mut json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
    json["key"].as_array_mut().unwrap().push(serde_json::json!({
        "keyData": {
            "typeUrl": "type.googleapis.com/google.crypto.tink.KmsAeadKey",
            "value": "",
            "keyMaterialType": "REMOTE",
        },
        "status": "ENABLED",
        "keyId": 77,
        "outputPrefixType": "TINK",
    }));
    json["primaryKeyId"] = 77.into();
    let keyset = Keyset::parse(json.to_string().as_bytes()).unwrap();
    let aead = keyset.aead().unwrap();
    assert!(!aead.can_encrypt());
    assert_eq!(aead.primary_id(), KeyId(77));
    assert_eq!(aead.decrypt(&ct, b"").unwrap(), b"kept");
    match aead.encrypt(b"x", b"") {
        Err(Error::UnsupportedKeyType {
            key_id: 77,
            type_url,
        }) => {
            assert!(type_url.ends_with("KmsAeadKey"))
        }
        other => panic!("{other:?}"),
    }
    // A ciphertext naming key 77 names it and its type.
    let mut named = vec![1, 0, 0, 0, 77];
    named.extend_from_slice(&[0; 40]);
    assert!(matches!(
        aead.decrypt(&named, b""),
        Err(Error::UnsupportedKeyType { key_id: 77, .. })
    ));
}

fn prefix_len(keyset: &Keyset) -> usize {
    if keyset.list()[0].prefix == OutputPrefix::Raw {
        0
    } else {
        5
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every new type and prefix round-trips, and binds its aad.
    #[test]
    fn round_trips(
        k in 0..NEW.len() * PREFIXES.len(),
        pt in prop::collection::vec(any::<u8>(), 0..200),
        aad in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let keyset = &generated()[k];
        let aead = keyset.aead().unwrap();
        let ct = aead.encrypt(&pt, &aad).unwrap();
        prop_assert!(ct.len() > prefix_len(keyset) + pt.len());
        prop_assert_eq!(aead.decrypt(&ct, &aad).unwrap(), pt);
        let mut other = aad.clone();
        other.push(0);
        prop_assert!(aead.decrypt(&ct, &other).is_err());
    }

    /// Any single bit flipped anywhere is refused.
    #[test]
    fn any_bit_flip_is_refused(
        k in 0..NEW.len() * PREFIXES.len(),
        pt in prop::collection::vec(any::<u8>(), 0..64),
        bit in any::<prop::sample::Index>(),
    ) {
        let aead = generated()[k].aead().unwrap();
        let mut ct = aead.encrypt(&pt, b"ad").unwrap();
        let i = bit.index(ct.len() * 8);
        ct[i / 8] ^= 1 << (i % 8);
        prop_assert!(aead.decrypt(&ct, b"ad").is_err());
    }

    /// Decrypting arbitrary bytes never panics.
    #[test]
    fn decrypt_never_panics(
        k in 0..NEW.len() * PREFIXES.len(),
        bytes in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let _ = generated()[k].aead().unwrap().decrypt(&bytes, b"");
    }
}

/// A RAW key of an unsupported type may have made any ciphertext that no
/// key opens: the refusal names it instead of skipping it.
#[test]
fn an_unsupported_raw_key_is_named_when_nothing_opens() {
    let keyset = Keyset::generate(Template::AES256_GCM);
    let aead = keyset.aead().unwrap();
    let ct = aead.encrypt(b"kept", b"ad").unwrap();
    let mut json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
    json["key"].as_array_mut().unwrap().push(serde_json::json!({
        "keyData": {
            "typeUrl": "type.googleapis.com/google.crypto.tink.KmsAeadKey",
            "value": "",
            "keyMaterialType": "REMOTE",
        },
        "status": "ENABLED",
        "keyId": 78,
        "outputPrefixType": "RAW",
    }));
    let keyset = Keyset::parse(json.to_string().as_bytes()).unwrap();
    let aead = keyset.aead().unwrap();
    assert_eq!(aead.decrypt(&ct, b"ad").unwrap(), b"kept");
    for bad in [vec![0x42; 40], ct.clone()] {
        match aead.decrypt(&bad, b"other") {
            Err(Error::UnsupportedKeyType {
                key_id: 78,
                type_url,
            }) => {
                assert!(type_url.ends_with("KmsAeadKey"))
            }
            other => panic!("{other:?}"),
        }
    }
}
