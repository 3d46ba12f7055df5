//! Known-answer tests against `tests/vectors/tink_vectors.json`, produced by
//! the official Tink (Python 1.16.1): keysets read and written byte for
//! byte, AEAD with every output prefix, key rotation, `KmsEnvelopeAead`,
//! encrypted keysets, and key types this crate keeps without using (HMAC,
//! PRF, KMS envelope keys). Every vector also gets tamper cases.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;
use stream_keyset::{
    Aead, Algorithm, Envelope, EnvelopeCiphertext, Error, KeyId, KeyStatus, Keyset, OutputPrefix,
    Template, NONCE_LEN, PREFIX_LEN, TAG_LEN,
};

/// The vectors, copied from `shared/vectors/tink/tink_vectors.json`; the
/// build reads nothing outside this crate.
const VECTORS_JSON: &str = include_str!("vectors/tink_vectors.json");

fn vectors() -> &'static Value {
    static VECTORS: OnceLock<Value> = OnceLock::new();
    VECTORS.get_or_init(|| serde_json::from_str(VECTORS_JSON).expect("vector file is JSON"))
}

// ---------------------------------------------------------------- helpers

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("vector field `{key}` missing in {v}"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    field(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("vector field `{key}` is not a string"))
}

fn num(v: &Value, key: &str) -> u64 {
    field(v, key)
        .as_u64()
        .unwrap_or_else(|| panic!("vector field `{key}` is not a number"))
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    field(v, key)
        .as_array()
        .unwrap_or_else(|| panic!("vector field `{key}` is not an array"))
}

fn bytes(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(text(v, key)).unwrap_or_else(|e| panic!("vector field `{key}`: {e}"))
}

fn name(v: &Value) -> &str {
    text(v, "name")
}

/// Any way of saying no: a failed authentication, a ciphertext too short,
/// or a prefix naming a key the keyset does not hold or holds disabled.
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::Decryption
            | Error::CiphertextTooShort { .. }
            | Error::UnknownKey(_)
            | Error::KeyNotEnabled { .. }
    )
}

fn flip(data: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    let mut out = data.to_vec();
    out[byte] ^= 1 << bit;
    out
}

fn status_of(name: &str) -> KeyStatus {
    match name {
        "ENABLED" => KeyStatus::Enabled,
        "DISABLED" => KeyStatus::Disabled,
        "DESTROYED" => KeyStatus::Destroyed,
        other => panic!("unexpected status {other} in vectors"),
    }
}

fn prefix_of(name: &str) -> OutputPrefix {
    OutputPrefix::from_name(name).unwrap_or_else(|| panic!("unexpected prefix {name}"))
}

/// The data-key algorithm of a DEK template: the family from the type URL,
/// the size from the serialized key format (`AesGcmKeyFormat` and
/// `AesGcmSivKeyFormat` both carry `key_size` as field 2).
fn dek_algorithm(template: &Value) -> Algorithm {
    let format = bytes(template, "value_hex");
    assert_eq!(format, [0x10, 0x20], "DEK format is key_size = 32");
    match text(template, "type_url") {
        "type.googleapis.com/google.crypto.tink.AesGcmSivKey" => Algorithm::Aes256GcmSiv,
        "type.googleapis.com/google.crypto.tink.AesGcmKey" => Algorithm::Aes256Gcm,
        other => panic!("unexpected DEK type {other}"),
    }
}

/// Reads a keyset block (`cleartext_json`, `binary_keyset_hex`, `keys`) in
/// both forms and checks that each writes back byte-identically to both of
/// Tink's encodings and lists the keys Tink wrote. Returns the keyset read
/// from JSON.
fn check_keyset_block(block: &Value, what: &str) -> Keyset {
    let json = text(block, "cleartext_json");
    let binary = bytes(block, "binary_keyset_hex");

    let from_json = Keyset::parse(json.as_bytes())
        .unwrap_or_else(|e| panic!("{what}: JSON keyset does not parse: {e}"));
    let from_binary = Keyset::parse(&binary)
        .unwrap_or_else(|e| panic!("{what}: binary keyset does not parse: {e}"));
    assert!(Keyset::from_json(json).is_ok(), "{what}: from_json");
    assert!(Keyset::from_binary(&binary).is_ok(), "{what}: from_binary");

    for (form, keyset) in [("JSON", &from_json), ("binary", &from_binary)] {
        assert_eq!(
            hex::encode(keyset.insecure_to_binary()),
            hex::encode(&binary),
            "{what}: binary re-encoding of the keyset read from {form}"
        );
        assert_eq!(
            keyset.insecure_to_json(),
            json,
            "{what}: JSON re-encoding of the keyset read from {form}"
        );
        assert_eq!(
            keyset.primary_id(),
            KeyId(num(block, "primary_key_id") as u32),
            "{what}: primary id"
        );

        let keys = list(block, "keys");
        let listed = keyset.list();
        assert_eq!(listed.len(), keys.len(), "{what}: number of keys");
        for (info, key) in listed.iter().zip(keys) {
            assert_eq!(info.id, KeyId(num(key, "key_id") as u32), "{what}: key id");
            assert_eq!(
                info.status,
                status_of(text(key, "status")),
                "{what}: status"
            );
            assert_eq!(
                info.prefix,
                prefix_of(text(key, "output_prefix_type")),
                "{what}"
            );
            assert_eq!(info.type_url, text(key, "type_url"), "{what}: type URL");
            assert_eq!(
                info.primary,
                info.id == keyset.primary_id(),
                "{what}: primary flag"
            );
        }
    }
    from_json
}

/// Checks `prefix || nonce || ct || tag` against the whole ciphertext and
/// returns the region boundaries `[prefix, nonce, ct, tag]` as ranges.
fn aead_regions(vector: &Value, ciphertext: &[u8]) -> [std::ops::Range<usize>; 4] {
    let layout = field(vector, "layout");
    let prefix = bytes(layout, "prefix_hex");
    let nonce = bytes(layout, "nonce_hex");
    let ct = bytes(layout, "ct_hex");
    let tag = bytes(layout, "tag_hex");
    assert_eq!(nonce.len(), NONCE_LEN);
    assert_eq!(tag.len(), TAG_LEN);
    assert_eq!(
        [prefix.as_slice(), &nonce, &ct, &tag].concat(),
        ciphertext,
        "layout concatenates to the ciphertext"
    );
    let a = prefix.len();
    let b = a + nonce.len();
    let c = b + ct.len();
    [0..a, a..b, b..c, c..ciphertext.len()]
}

/// Every region of a ciphertext, with one bit flipped in each (first and
/// last byte of the region), plus a wrong aad and truncations: all refused.
fn check_aead_tampering(
    aead: &Aead,
    ciphertext: &[u8],
    aad: &[u8],
    regions: &[std::ops::Range<usize>],
    what: &str,
) {
    for (region, range) in ["prefix", "nonce", "ct", "tag"].iter().zip(regions) {
        if range.is_empty() {
            continue;
        }
        for (byte, bit) in [(range.start, 0), (range.end - 1, 7)] {
            let err = aead
                .decrypt(&flip(ciphertext, byte, bit), aad)
                .expect_err(&format!("{what}: bit flipped in {region} still decrypts"));
            assert!(is_refusal(&err), "{what}: flip in {region} gave {err:?}");
        }
    }
    let mut wrong_aad = aad.to_vec();
    wrong_aad.push(0);
    let err = aead.decrypt(ciphertext, &wrong_aad).expect_err(what);
    assert!(
        matches!(err, Error::Decryption),
        "{what}: wrong aad gave {err:?}"
    );
    if !aad.is_empty() {
        let err = aead.decrypt(ciphertext, b"").expect_err(what);
        assert!(
            matches!(err, Error::Decryption),
            "{what}: empty aad gave {err:?}"
        );
    }
    for cut in [1, TAG_LEN, ciphertext.len() - 1, ciphertext.len()] {
        let err = aead
            .decrypt(&ciphertext[..ciphertext.len() - cut], aad)
            .expect_err(&format!("{what}: truncated by {cut} still decrypts"));
        assert!(is_refusal(&err), "{what}: truncation gave {err:?}");
    }
}

// ---------------------------------------------------------------- aead

#[test]
fn aead_sets_cover_every_prefix() {
    let prefixes: Vec<&str> = list(vectors(), "aead")
        .iter()
        .map(|set| text(field(set, "template"), "output_prefix_type"))
        .collect();
    for wanted in ["TINK", "RAW", "LEGACY", "CRUNCHY"] {
        assert!(
            prefixes.contains(&wanted),
            "no AEAD set with prefix {wanted}"
        );
    }
    assert_eq!(list(vectors(), "aead").len(), 5);
}

#[test]
fn aead_keysets_round_trip_byte_identically() {
    for set in list(vectors(), "aead") {
        let block = field(set, "keyset");
        check_keyset_block(block, name(set));
        let key = &list(block, "keys")[0];
        assert_eq!(
            text(key, "type_url"),
            text(field(set, "template"), "type_url")
        );
    }
}

#[test]
fn aead_vectors_decrypt_from_json_and_binary_keysets() {
    for set in list(vectors(), "aead") {
        let block = field(set, "keyset");
        let from_json = Keyset::parse(text(block, "cleartext_json").as_bytes()).unwrap();
        let from_binary = Keyset::parse(&bytes(block, "binary_keyset_hex")).unwrap();
        let key = &list(block, "keys")[0];
        let expected_prefix = bytes(key, "expected_prefix_hex");
        let vectors = list(set, "vectors");
        assert_eq!(vectors.len(), 12, "{}", name(set));
        for (i, vector) in vectors.iter().enumerate() {
            let what = format!("{} #{i}", name(set));
            let ciphertext = bytes(vector, "ciphertext_hex");
            let plaintext = bytes(vector, "plaintext_hex");
            let aad = bytes(vector, "aad_hex");
            assert_eq!(num(vector, "expected_key_id"), num(key, "key_id"), "{what}");
            let regions = aead_regions(vector, &ciphertext);
            assert_eq!(
                &ciphertext[regions[0].clone()],
                expected_prefix.as_slice(),
                "{what}"
            );
            assert_eq!(
                ciphertext[regions[2].clone()].len(),
                plaintext.len(),
                "{what}"
            );
            for keyset in [&from_json, &from_binary] {
                let aead = keyset.aead().unwrap();
                assert_eq!(
                    aead.decrypt(&ciphertext, &aad).unwrap(),
                    plaintext,
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn aead_vectors_tampered_are_refused() {
    for set in list(vectors(), "aead") {
        let keyset =
            Keyset::parse(text(field(set, "keyset"), "cleartext_json").as_bytes()).unwrap();
        let aead = keyset.aead().unwrap();
        for (i, vector) in list(set, "vectors").iter().enumerate() {
            let what = format!("{} #{i}", name(set));
            let ciphertext = bytes(vector, "ciphertext_hex");
            let aad = bytes(vector, "aad_hex");
            let regions = aead_regions(vector, &ciphertext);
            check_aead_tampering(&aead, &ciphertext, &aad, &regions, &what);
        }
    }
}

#[test]
fn aead_own_encryption_round_trips_with_tink_layout() {
    for set in list(vectors(), "aead") {
        let block = field(set, "keyset");
        let keyset = Keyset::parse(text(block, "cleartext_json").as_bytes()).unwrap();
        let aead = keyset.aead().unwrap();
        let key = &list(block, "keys")[0];
        let expected_prefix = bytes(key, "expected_prefix_hex");
        let prefix_type = text(key, "output_prefix_type");
        assert_eq!(
            expected_prefix.len(),
            if prefix_type == "RAW" { 0 } else { PREFIX_LEN }
        );
        assert_eq!(aead.primary_id(), KeyId(num(key, "key_id") as u32));
        for vector in list(set, "vectors") {
            let plaintext = bytes(vector, "plaintext_hex");
            let aad = bytes(vector, "aad_hex");
            let ciphertext = aead.encrypt(&plaintext, &aad).unwrap();
            assert!(
                ciphertext.starts_with(&expected_prefix),
                "{}: prefix",
                name(set)
            );
            assert_eq!(
                ciphertext.len(),
                expected_prefix.len() + NONCE_LEN + plaintext.len() + TAG_LEN,
                "{}: length layout",
                name(set)
            );
            assert_eq!(ciphertext.len(), bytes(vector, "ciphertext_hex").len());
            assert_eq!(aead.decrypt(&ciphertext, &aad).unwrap(), plaintext);
            // Random nonces: the same message twice gives two ciphertexts.
            assert_ne!(aead.encrypt(&plaintext, &aad).unwrap(), ciphertext);

            let mut appended = b"head".to_vec();
            aead.encrypt_into(&plaintext, &aad, &mut appended).unwrap();
            assert_eq!(&appended[..4], b"head");
            assert_eq!(aead.decrypt(&appended[4..], &aad).unwrap(), plaintext);
        }
    }
}

#[test]
fn aead_vectors_from_another_set_are_refused() {
    let sets = list(vectors(), "aead");
    for (i, set) in sets.iter().enumerate() {
        let keyset =
            Keyset::parse(text(field(set, "keyset"), "cleartext_json").as_bytes()).unwrap();
        let aead = keyset.aead().unwrap();
        let other = &sets[(i + 1) % sets.len()];
        for vector in list(other, "vectors") {
            let err = aead
                .decrypt(&bytes(vector, "ciphertext_hex"), &bytes(vector, "aad_hex"))
                .unwrap_err();
            assert!(
                is_refusal(&err),
                "{} opened a vector of {}",
                name(set),
                name(other)
            );
        }
    }
}

// ---------------------------------------------------------------- rotation

fn rotation() -> &'static Value {
    field(vectors(), "aead_rotation")
}

fn check_decrypts(aead: &Aead, vectors: &[Value], what: &str) {
    assert!(!vectors.is_empty(), "{what}: no vectors");
    for vector in vectors {
        let plaintext = aead
            .decrypt(&bytes(vector, "ciphertext_hex"), &bytes(vector, "aad_hex"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(plaintext, bytes(vector, "plaintext_hex"), "{what}");
    }
}

#[test]
fn rotation_keysets_round_trip() {
    let before = check_keyset_block(
        field(rotation(), "keyset_before_rotation"),
        "before rotation",
    );
    assert_eq!(
        before.primary_id(),
        KeyId(num(rotation(), "old_primary_key_id") as u32)
    );
    let after = check_keyset_block(field(rotation(), "keyset"), "after rotation");
    assert_eq!(
        after.primary_id(),
        KeyId(num(rotation(), "new_primary_key_id") as u32)
    );
    let statuses: Vec<(u32, KeyStatus, OutputPrefix)> = after
        .list()
        .iter()
        .map(|k| (k.id.0, k.status, k.prefix))
        .collect();
    let id = |key: &str| num(rotation(), key) as u32;
    assert_eq!(
        statuses,
        [
            (
                id("old_primary_key_id"),
                KeyStatus::Enabled,
                OutputPrefix::Tink
            ),
            (
                id("new_primary_key_id"),
                KeyStatus::Enabled,
                OutputPrefix::Tink
            ),
            (id("raw_key_id"), KeyStatus::Enabled, OutputPrefix::Raw),
            (
                id("disabled_key_id"),
                KeyStatus::Disabled,
                OutputPrefix::Tink
            ),
        ]
    );
}

#[test]
fn rotation_every_enabled_key_decrypts_with_the_final_keyset() {
    let keyset = Keyset::parse(&bytes(field(rotation(), "keyset"), "binary_keyset_hex")).unwrap();
    let aead = keyset.aead().unwrap();
    check_decrypts(
        &aead,
        list(rotation(), "vectors_old_primary"),
        "old primary",
    );
    check_decrypts(
        &aead,
        list(rotation(), "vectors_new_primary"),
        "new primary",
    );
    check_decrypts(&aead, list(rotation(), "vectors_raw_key"), "raw key");

    // The old primary's vectors were made before the rotation.
    let before = Keyset::parse(
        text(
            field(rotation(), "keyset_before_rotation"),
            "cleartext_json",
        )
        .as_bytes(),
    )
    .unwrap();
    check_decrypts(
        &before.aead().unwrap(),
        list(rotation(), "vectors_old_primary"),
        "before rotation",
    );

    for (group, key) in [
        ("vectors_old_primary", "old_primary_key_id"),
        ("vectors_new_primary", "new_primary_key_id"),
        ("vectors_raw_key", "raw_key_id"),
        ("vectors_disabled_key_must_fail", "disabled_key_id"),
    ] {
        for vector in list(rotation(), group) {
            assert_eq!(
                num(vector, "expected_key_id"),
                num(rotation(), key),
                "{group}"
            );
            let ciphertext = bytes(vector, "ciphertext_hex");
            let regions = aead_regions(vector, &ciphertext);
            if group != "vectors_disabled_key_must_fail" {
                check_aead_tampering(
                    &aead,
                    &ciphertext,
                    &bytes(vector, "aad_hex"),
                    &regions,
                    group,
                );
            }
        }
    }
}

#[test]
fn rotation_disabled_key_does_not_decrypt_until_enabled() {
    let mut keyset =
        Keyset::parse(text(field(rotation(), "keyset"), "cleartext_json").as_bytes()).unwrap();
    let disabled = list(rotation(), "vectors_disabled_key_must_fail");
    assert!(!disabled.is_empty());
    let aead = keyset.aead().unwrap();
    for vector in disabled {
        let err = aead
            .decrypt(&bytes(vector, "ciphertext_hex"), &bytes(vector, "aad_hex"))
            .unwrap_err();
        let id = num(rotation(), "disabled_key_id") as u32;
        assert!(
            matches!(
                err,
                Error::KeyNotEnabled { key_id, status: KeyStatus::Disabled } if key_id == id
            ),
            "disabled key: {err:?}"
        );
    }
    // Only the status kept it out: enabling the key opens its ciphertexts.
    keyset
        .enable(KeyId(num(rotation(), "disabled_key_id") as u32))
        .unwrap();
    check_decrypts(&keyset.aead().unwrap(), disabled, "re-enabled key");
}

#[test]
fn rotation_final_keyset_encrypts_with_the_new_primary() {
    let keyset =
        Keyset::parse(text(field(rotation(), "keyset"), "cleartext_json").as_bytes()).unwrap();
    let aead = keyset.aead().unwrap();
    let new_primary = num(rotation(), "new_primary_key_id") as u32;
    assert_eq!(aead.primary_id(), KeyId(new_primary));
    let expected_prefix = list(field(rotation(), "keyset"), "keys")
        .iter()
        .find(|k| num(k, "key_id") == u64::from(new_primary))
        .map(|k| bytes(k, "expected_prefix_hex"))
        .unwrap();
    let mut prefix = vec![1u8];
    prefix.extend_from_slice(&new_primary.to_be_bytes());
    assert_eq!(expected_prefix, prefix);
    let ciphertext = aead.encrypt(b"after rotation", b"aad").unwrap();
    assert_eq!(&ciphertext[..PREFIX_LEN], prefix.as_slice());
    assert_eq!(
        aead.decrypt(&ciphertext, b"aad").unwrap(),
        b"after rotation"
    );
    assert!(aead.decrypts_with_primary(&ciphertext, b"aad"));
    let old = &list(rotation(), "vectors_old_primary")[0];
    assert!(!aead.decrypts_with_primary(&bytes(old, "ciphertext_hex"), &bytes(old, "aad_hex")));

    // The keyset before rotation does not know the new key.
    let before = Keyset::parse(
        text(
            field(rotation(), "keyset_before_rotation"),
            "cleartext_json",
        )
        .as_bytes(),
    )
    .unwrap();
    let err = before
        .aead()
        .unwrap()
        .decrypt(&ciphertext, b"aad")
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownKey(id) if id == new_primary),
        "{err:?}"
    );
    assert!(err.to_string().contains(&new_primary.to_string()), "{err}");
}

// ---------------------------------------------------------------- envelope

fn envelope_sets() -> &'static [Value] {
    list(vectors(), "kms_envelope_aead")
}

/// The four sets whose KEK is a plain AEAD keyset.
fn kek_sets() -> Vec<&'static Value> {
    let sets: Vec<&Value> = envelope_sets()
        .iter()
        .filter(|s| s.get("kek_keyset").is_some() && s.get("vectors").is_some())
        .collect();
    assert_eq!(sets.len(), 4);
    sets
}

fn envelope_of(set: &Value) -> (Keyset, Envelope) {
    let keyset = check_keyset_block(field(set, "kek_keyset"), name(set));
    let dek = dek_algorithm(field(set, "dek_template"));
    let expected = if name(set).ends_with("dek_AES256_GCM_SIV") {
        Algorithm::Aes256GcmSiv
    } else {
        assert!(name(set).ends_with("dek_AES256_GCM"), "{}", name(set));
        Algorithm::Aes256Gcm
    };
    assert_eq!(dek, expected, "{}: DEK template and name agree", name(set));
    let envelope = Envelope::new(keyset.aead().unwrap(), dek);
    assert_eq!(envelope.dek_algorithm(), dek);
    (keyset, envelope)
}

/// Splits an envelope ciphertext as the vector's layout says; returns
/// `(length field, wrapped DEK, payload)` ranges.
fn envelope_regions(vector: &Value, ciphertext: &[u8]) -> [std::ops::Range<usize>; 3] {
    let layout = field(vector, "layout");
    let wrapped = bytes(layout, "encrypted_dek_hex");
    let payload = bytes(layout, "payload_hex");
    assert_eq!(wrapped.len() as u64, num(layout, "encrypted_dek_len"));
    let mut expected = (wrapped.len() as u32).to_be_bytes().to_vec();
    expected.extend_from_slice(&wrapped);
    expected.extend_from_slice(&payload);
    assert_eq!(
        expected, ciphertext,
        "layout concatenates to the ciphertext"
    );

    let split = EnvelopeCiphertext::from_bytes(ciphertext).unwrap();
    assert_eq!(hex::encode(&split.wrapped_dek), hex::encode(&wrapped));
    assert_eq!(hex::encode(&split.payload), hex::encode(&payload));
    assert_eq!(split.to_bytes(), ciphertext);
    let a = 4 + wrapped.len();
    [0..4, 4..a, a..ciphertext.len()]
}

fn check_envelope_tampering(
    envelope: &Envelope,
    ciphertext: &[u8],
    aad: &[u8],
    regions: &[std::ops::Range<usize>],
    what: &str,
) {
    for (region, range) in ["length", "wrapped DEK", "payload"].iter().zip(regions) {
        let mut positions = vec![(range.start, 0), (range.end - 1, 7)];
        if *region == "wrapped DEK" || *region == "payload" {
            // nonce, body and tag of the inner ciphertexts
            let mid = range.start + (range.end - range.start) / 2;
            positions.push((mid, 3));
            positions.push((range.end - TAG_LEN - 1, 5));
            positions.push((range.start + PREFIX_LEN + 1, 1));
        }
        for (byte, bit) in positions {
            let err = envelope
                .decrypt(&flip(ciphertext, byte, bit), aad)
                .expect_err(&format!("{what}: bit flipped in {region} still decrypts"));
            assert!(is_refusal(&err), "{what}: flip in {region} gave {err:?}");
        }
    }
    let mut wrong_aad = aad.to_vec();
    wrong_aad.push(0x5a);
    let err = envelope.decrypt(ciphertext, &wrong_aad).unwrap_err();
    assert!(
        matches!(err, Error::Decryption),
        "{what}: wrong aad gave {err:?}"
    );
    for cut in [
        1,
        TAG_LEN,
        ciphertext.len() - 40,
        ciphertext.len() - 4,
        ciphertext.len(),
    ] {
        let err = envelope
            .decrypt(&ciphertext[..ciphertext.len() - cut], aad)
            .expect_err(&format!("{what}: truncated by {cut} still decrypts"));
        assert!(is_refusal(&err), "{what}: truncation gave {err:?}");
    }
}

#[test]
fn envelope_vectors_decrypt_and_split_as_tink_lays_them_out() {
    for set in kek_sets() {
        let (keyset, envelope) = envelope_of(set);
        let vectors = list(set, "vectors");
        assert!(!vectors.is_empty());
        for (i, vector) in vectors.iter().enumerate() {
            let what = format!("{} #{i}", name(set));
            let ciphertext = bytes(vector, "ciphertext_hex");
            let plaintext = bytes(vector, "plaintext_hex");
            let aad = bytes(vector, "aad_hex");
            let layout = field(vector, "layout");
            let regions = envelope_regions(vector, &ciphertext);

            assert_eq!(
                envelope.decrypt(&ciphertext, &aad).unwrap(),
                plaintext,
                "{what}"
            );
            let split = EnvelopeCiphertext::from_bytes(&ciphertext).unwrap();
            assert_eq!(
                envelope
                    .decrypt_parts(&split.wrapped_dek, &split.payload, &aad)
                    .unwrap(),
                plaintext
            );

            // The wrapped DEK is the KEK's encryption (aad empty) of the
            // serialized key proto: `0x1a 0x20 || key`.
            let wrapped = &ciphertext[regions[1].clone()];
            let kek_prefix = bytes(
                &list(field(set, "kek_keyset"), "keys")[0],
                "expected_prefix_hex",
            );
            assert!(
                wrapped.starts_with(&kek_prefix),
                "{what}: wrapped DEK carries the KEK prefix"
            );
            let dek_proto = keyset.aead().unwrap().decrypt(wrapped, b"").unwrap();
            assert_eq!(
                hex::encode(&dek_proto),
                text(layout, "dek_key_proto_hex"),
                "{what}"
            );
            let mut expected_proto = vec![0x1a, 0x20];
            expected_proto.extend_from_slice(&bytes(layout, "dek_raw_key_hex"));
            assert_eq!(dek_proto, expected_proto, "{what}");

            // The payload is `nonce || ct || tag` of the DEK, no prefix:
            // a RAW keyset holding the DEK opens it on its own.
            let payload = &ciphertext[regions[2].clone()];
            assert_eq!(
                [
                    bytes(layout, "payload_nonce_hex"),
                    bytes(layout, "payload_ct_hex"),
                    bytes(layout, "payload_tag_hex")
                ]
                .concat(),
                payload,
                "{what}"
            );
            let dek_keyset = raw_keyset(text(field(set, "dek_template"), "type_url"), &dek_proto);
            assert_eq!(
                dek_keyset.aead().unwrap().decrypt(payload, &aad).unwrap(),
                plaintext,
                "{what}"
            );

            // Our encryption has the same layout and sizes.
            let ours = envelope.encrypt(&plaintext, &aad).unwrap();
            assert_eq!(ours.len(), ciphertext.len(), "{what}: same length");
            assert_eq!(
                ours[..4],
                ciphertext[..4],
                "{what}: same wrapped-DEK length"
            );
            assert_eq!(
                ours[4..4 + kek_prefix.len()],
                kek_prefix[..],
                "{what}: KEK prefix"
            );
            assert_eq!(envelope.decrypt(&ours, &aad).unwrap(), plaintext);
        }
    }
}

/// A one-key RAW keyset of `type_url` holding the serialized key `value`.
fn raw_keyset(type_url: &str, value: &[u8]) -> Keyset {
    let json = serde_json::json!({
        "primaryKeyId": 42,
        "key": [{
            "keyData": {
                "typeUrl": type_url,
                "value": STANDARD.encode(value),
                "keyMaterialType": "SYMMETRIC",
            },
            "status": "ENABLED",
            "keyId": 42,
            "outputPrefixType": "RAW",
        }],
    });
    Keyset::parse(json.to_string().as_bytes()).unwrap()
}

/// An envelope opens Tink envelopes of either data-key family whatever
/// family it is configured to write (the wrapped proto does not say which;
/// each family's tag authenticates the guess), and a tampered payload is
/// still refused under both guesses.
#[test]
fn envelope_vectors_open_whatever_family_is_configured() {
    let mut checked = 0;
    for set in kek_sets() {
        let (keyset, _) = envelope_of(set);
        for configured in [Algorithm::Aes256GcmSiv, Algorithm::Aes256Gcm] {
            let envelope = Envelope::new(keyset.aead().unwrap(), configured);
            for vector in list(set, "vectors") {
                let ciphertext = bytes(vector, "ciphertext_hex");
                let aad = bytes(vector, "aad_hex");
                assert_eq!(
                    envelope.decrypt(&ciphertext, &aad).unwrap(),
                    bytes(vector, "plaintext_hex"),
                    "{} with {configured:?}",
                    name(set)
                );
                let mut tampered = ciphertext.clone();
                let last = tampered.len() - 1;
                tampered[last] ^= 1;
                assert!(envelope.decrypt(&tampered, &aad).is_err());
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn envelope_vectors_tampered_are_refused() {
    for set in kek_sets() {
        let (keyset, envelope) = envelope_of(set);
        for (i, vector) in list(set, "vectors").iter().enumerate() {
            let what = format!("{} #{i}", name(set));
            let ciphertext = bytes(vector, "ciphertext_hex");
            let aad = bytes(vector, "aad_hex");
            let regions = envelope_regions(vector, &ciphertext);
            check_envelope_tampering(&envelope, &ciphertext, &aad, &regions, &what);
            // Configured with the other family it still opens (issue 10):
            // `envelope_vectors_open_whatever_family_is_configured`; so is
            // every tampering refused under that configuration.
            let other = match envelope.dek_algorithm() {
                Algorithm::Aes256GcmSiv => Algorithm::Aes256Gcm,
                _ => Algorithm::Aes256GcmSiv,
            };
            let guessing = Envelope::new(keyset.aead().unwrap(), other);
            check_envelope_tampering(&guessing, &ciphertext, &aad, &regions, &what);
        }
    }
}

#[test]
fn envelope_vectors_rewrap_keeps_the_payload() {
    for set in kek_sets() {
        let (keyset, envelope) = envelope_of(set);
        for (i, vector) in list(set, "vectors").iter().enumerate() {
            let what = format!("{} #{i}", name(set));
            let ciphertext = bytes(vector, "ciphertext_hex");
            let plaintext = bytes(vector, "plaintext_hex");
            let aad = bytes(vector, "aad_hex");
            let payload = bytes(field(vector, "layout"), "payload_hex");
            let original = EnvelopeCiphertext::from_bytes(&ciphertext).unwrap();
            assert!(
                envelope.is_wrapped_by_primary(&original.wrapped_dek),
                "{what}"
            );

            // Same keyset: a fresh wrapping, same payload.
            let rewrapped = envelope.rewrap(&ciphertext).unwrap();
            let split = EnvelopeCiphertext::from_bytes(&rewrapped).unwrap();
            assert_eq!(split.payload, payload, "{what}: payload bytes kept");
            assert_ne!(
                split.wrapped_dek, original.wrapped_dek,
                "{what}: fresh wrapping"
            );
            assert_eq!(
                envelope.decrypt(&rewrapped, &aad).unwrap(),
                plaintext,
                "{what}"
            );

            // After a rotation: the DEK moves to the new primary, the payload stays.
            let mut rotated = Keyset::parse(&keyset.insecure_to_binary()).unwrap();
            let new_key = rotated.add(Template::AES256_GCM_SIV);
            rotated.promote(new_key).unwrap();
            let rotated_envelope = rotated.envelope(envelope.dek_algorithm()).unwrap();
            assert!(
                !rotated_envelope.is_wrapped_by_primary(&original.wrapped_dek),
                "{what}"
            );
            let rewrapped = rotated_envelope.rewrap(&ciphertext).unwrap();
            let split = EnvelopeCiphertext::from_bytes(&rewrapped).unwrap();
            assert_eq!(split.payload, payload, "{what}: payload bytes kept");
            assert_eq!(split.wrapped_dek[0], 1);
            assert_eq!(
                split.wrapped_dek[1..PREFIX_LEN],
                new_key.0.to_be_bytes(),
                "{what}"
            );
            assert!(
                rotated_envelope.is_wrapped_by_primary(&split.wrapped_dek),
                "{what}"
            );
            assert_eq!(
                rotated_envelope
                    .rewrap_dek(&original.wrapped_dek)
                    .unwrap()
                    .len(),
                split.wrapped_dek.len()
            );

            // Once the old key is gone only the rewrapped form opens.
            let old = keyset.primary_id();
            rotated.disable(old).unwrap();
            rotated.destroy(old).unwrap();
            let after = rotated.envelope(envelope.dek_algorithm()).unwrap();
            assert_eq!(
                after.decrypt(&rewrapped, &aad).unwrap(),
                plaintext,
                "{what}"
            );
            let err = after.decrypt(&ciphertext, &aad).unwrap_err();
            assert!(
                is_refusal(&err),
                "{what}: destroyed KEK still opens: {err:?}"
            );
            let err = after.rewrap(&ciphertext).unwrap_err();
            // A TINK-prefixed DEK names its destroyed key; a RAW one cannot.
            let raw = keyset.list()[0].prefix == OutputPrefix::Raw;
            let expected = match &err {
                Error::KeyNotEnabled {
                    key_id,
                    status: KeyStatus::Destroyed,
                } => !raw && *key_id == old.0,
                Error::Decryption | Error::UnknownKey(_) => raw,
                _ => false,
            };
            assert!(expected, "{what}: rewrap under destroyed KEK: {err:?}");
        }
    }
}

// ------------------------------------------------- envelope keyset (fake KMS)

fn fake_kms() -> &'static Value {
    let set = envelope_sets()
        .iter()
        .find(|s| name(s) == "envelope_keyset_fake_kms")
        .expect("fake KMS set");
    assert_eq!(envelope_sets().len(), 5);
    set
}

const KMS_ENVELOPE_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.KmsEnvelopeAeadKey";

#[test]
fn fake_kms_keysets_are_kept_but_refused() {
    let set = fake_kms();
    let kek_binary = bytes(set, "kek_keyset_binary_hex");
    assert_eq!(
        kek_binary,
        bytes(field(set, "kek_keyset"), "binary_keyset_hex")
    );
    let uri = text(set, "kek_uri");
    assert_eq!(
        uri,
        format!("fake-kms://{}", URL_SAFE_NO_PAD.encode(&kek_binary))
    );

    for variant in ["raw_prefix_template", "tink_prefix"] {
        let block = field(field(set, variant), "keyset");
        let keyset = check_keyset_block(block, variant);
        let key = &list(block, "keys")[0];
        assert_eq!(text(key, "type_url"), KMS_ENVELOPE_TYPE_URL);
        assert_eq!(text(key, "key_material_type"), "REMOTE");
        assert_eq!(text(field(key, "decoded"), "kek_uri"), uri);
        let info = &keyset.list()[0];
        assert_eq!(info.algorithm, None, "{variant}");
        assert_eq!(info.type_url, KMS_ENVELOPE_TYPE_URL);

        // The primitive builds (it would decrypt with other keys), but
        // encrypting names the primary and its type.
        let id = keyset.primary_id().0;
        match keyset.aead().unwrap().encrypt(b"x", b"") {
            Err(Error::UnsupportedKeyType { key_id, type_url }) => {
                assert_eq!(key_id, id);
                assert_eq!(type_url, KMS_ENVELOPE_TYPE_URL);
            }
            other => panic!("{variant}: encrypt gave {other:?}"),
        }
        assert!(matches!(
            keyset
                .envelope(Algorithm::Aes256GcmSiv)
                .unwrap()
                .encrypt(b"x", b""),
            Err(Error::UnsupportedKeyType { .. })
        ));
    }
}

#[test]
fn fake_kms_vectors_decrypt_with_the_kek_keyset() {
    let set = fake_kms();
    let kek = check_keyset_block(field(set, "kek_keyset"), "fake KMS KEK");
    for variant in ["raw_prefix_template", "tink_prefix"] {
        let block = field(set, variant);
        let key = &list(field(block, "keyset"), "keys")[0];
        let dek = dek_algorithm(field(field(key, "decoded"), "dek_template"));
        let envelope = Envelope::new(kek.aead().unwrap(), dek);
        let expected_prefix = bytes(key, "expected_prefix_hex");
        let vectors = list(block, "vectors");
        assert!(!vectors.is_empty());
        for (i, vector) in vectors.iter().enumerate() {
            let what = format!("{variant} #{i}");
            let ciphertext = bytes(vector, "ciphertext_hex");
            let plaintext = bytes(vector, "plaintext_hex");
            let aad = bytes(vector, "aad_hex");
            let layout = field(vector, "layout");
            assert_eq!(num(vector, "expected_key_id"), num(key, "key_id"));
            let prefix = bytes(layout, "prefix_hex");
            assert_eq!(prefix, expected_prefix, "{what}");
            assert_eq!(
                prefix.len(),
                if variant == "tink_prefix" {
                    PREFIX_LEN
                } else {
                    0
                }
            );
            // The KmsEnvelopeAead key's own output prefix goes in front of
            // the envelope; strip it, the rest is the plain envelope layout.
            let body = ciphertext.strip_prefix(prefix.as_slice()).unwrap();
            let mut expected = (num(layout, "encrypted_dek_len") as u32)
                .to_be_bytes()
                .to_vec();
            expected.extend_from_slice(&bytes(layout, "encrypted_dek_hex"));
            expected.extend_from_slice(&bytes(layout, "payload_hex"));
            assert_eq!(body, expected.as_slice(), "{what}");
            let split = EnvelopeCiphertext::from_bytes(body).unwrap();
            assert_eq!(
                split.wrapped_dek,
                bytes(layout, "encrypted_dek_hex"),
                "{what}"
            );
            assert_eq!(split.payload, bytes(layout, "payload_hex"), "{what}");

            assert_eq!(envelope.decrypt(body, &aad).unwrap(), plaintext, "{what}");
            let regions = [
                0..4,
                4..4 + split.wrapped_dek.len(),
                4 + split.wrapped_dek.len()..body.len(),
            ];
            check_envelope_tampering(&envelope, body, &aad, &regions, &what);
            if !prefix.is_empty() {
                // Unstripped, the KEK cannot make sense of it.
                let err = envelope.decrypt(&ciphertext, &aad).unwrap_err();
                assert!(is_refusal(&err), "{what}: {err:?}");
            }
        }
    }
}

// ---------------------------------------------------------------- encrypted keysets

#[test]
fn encrypted_keysets_open_with_their_master() {
    let sets = list(vectors(), "encrypted_keysets");
    assert_eq!(sets.len(), 4);
    for set in sets {
        let what = name(set);
        let master = check_keyset_block(field(set, "master_keyset"), what);
        let plaintext = field(set, "plaintext_keyset");
        check_keyset_block(plaintext, what);
        let expected = text(plaintext, "binary_keyset_hex");
        let aad = bytes(set, "associated_data_hex");
        let master_aead = master.aead().unwrap();

        let json = text(set, "encrypted_keyset_json");
        let binary = bytes(set, "encrypted_keyset_binary_hex");
        for (form, encrypted) in [("JSON", json.as_bytes()), ("binary", binary.as_slice())] {
            let keyset = Keyset::parse_encrypted(encrypted, &master_aead, &aad)
                .unwrap_or_else(|e| panic!("{what} ({form}): {e}"));
            assert_eq!(
                hex::encode(keyset.insecure_to_binary()),
                expected,
                "{what} ({form})"
            );
            assert_eq!(keyset.insecure_to_json(), text(plaintext, "cleartext_json"));
        }
    }
}

#[test]
fn encrypted_keysets_refuse_wrong_aad_and_wrong_master() {
    let sets = list(vectors(), "encrypted_keysets");
    for (i, set) in sets.iter().enumerate() {
        let what = name(set);
        let master =
            Keyset::parse(text(field(set, "master_keyset"), "cleartext_json").as_bytes()).unwrap();
        let master_aead = master.aead().unwrap();
        let aad = bytes(set, "associated_data_hex");
        let mut wrong_aad = aad.clone();
        wrong_aad.extend_from_slice(b"!");
        // Sets share masters in pairs: take the first set with another one.
        let other_set = (1..sets.len())
            .map(|d| &sets[(i + d) % sets.len()])
            .find(|s| {
                num(field(s, "master_keyset"), "primary_key_id")
                    != num(field(set, "master_keyset"), "primary_key_id")
            })
            .unwrap();
        let other_master =
            Keyset::parse(text(field(other_set, "master_keyset"), "cleartext_json").as_bytes())
                .unwrap();
        let fresh_master = Keyset::generate(Template::AES256_GCM_SIV);
        let json = text(set, "encrypted_keyset_json");
        let binary = bytes(set, "encrypted_keyset_binary_hex");
        for encrypted in [json.as_bytes(), binary.as_slice()] {
            for (case, result) in [
                (
                    "wrong aad",
                    Keyset::parse_encrypted(encrypted, &master_aead, &wrong_aad),
                ),
                (
                    "other master",
                    Keyset::parse_encrypted(encrypted, &other_master.aead().unwrap(), &aad),
                ),
                (
                    "fresh master",
                    Keyset::parse_encrypted(encrypted, &fresh_master.aead().unwrap(), &aad),
                ),
            ] {
                // Another master does not hold the key the encrypted keyset
                // names; the right one with the wrong aad fails to
                // authenticate.
                let master_id = num(field(set, "master_keyset"), "primary_key_id") as u32;
                match (case, result) {
                    ("wrong aad", Err(Error::Decryption)) => {}
                    ("other master" | "fresh master", Err(Error::UnknownKey(id)))
                        if id == master_id => {}
                    (_, other) => panic!("{what}: {case} gave {other:?}"),
                }
            }
        }
    }
}

#[test]
fn encrypted_keysets_round_trip_through_our_writer() {
    for set in list(vectors(), "encrypted_keysets") {
        let what = name(set);
        let master =
            Keyset::parse(text(field(set, "master_keyset"), "cleartext_json").as_bytes()).unwrap();
        let master_aead = master.aead().unwrap();
        let aad = bytes(set, "associated_data_hex");
        let expected = bytes(field(set, "plaintext_keyset"), "binary_keyset_hex");
        let keyset = Keyset::parse(&expected).unwrap();

        let json = keyset.to_encrypted_json(&master_aead, &aad).unwrap();
        let reread = Keyset::parse_encrypted(json.as_bytes(), &master_aead, &aad).unwrap();
        assert_eq!(reread.insecure_to_binary(), expected, "{what}: JSON");
        let binary = keyset.to_encrypted_binary(&master_aead, &aad).unwrap();
        let reread = Keyset::parse_encrypted(&binary, &master_aead, &aad).unwrap();
        assert_eq!(reread.insecure_to_binary(), expected, "{what}: binary");

        // The clear metadata is what Tink writes; the ciphertext is ours.
        let ours: Value = serde_json::from_str(&json).unwrap();
        let tinks: Value = serde_json::from_str(text(set, "encrypted_keyset_json")).unwrap();
        assert_eq!(
            ours["keysetInfo"], tinks["keysetInfo"],
            "{what}: keysetInfo"
        );
        let sealed = STANDARD
            .decode(ours["encryptedKeyset"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            &sealed[..PREFIX_LEN],
            &bytes(
                &list(field(set, "master_keyset"), "keys")[0],
                "expected_prefix_hex"
            )[..]
        );
        assert_eq!(
            sealed.len(),
            PREFIX_LEN + NONCE_LEN + expected.len() + TAG_LEN
        );

        // And it is bound to the aad.
        let mut wrong_aad = aad.clone();
        wrong_aad.push(1);
        assert!(matches!(
            Keyset::parse_encrypted(json.as_bytes(), &master_aead, &wrong_aad),
            Err(Error::Decryption)
        ));
    }
}

// ---------------------------------------------------------------- mac, prf

fn unsupported_sets() -> Vec<(String, &'static Value, &'static str)> {
    let mut sets: Vec<(String, &Value, &str)> = list(vectors(), "mac")
        .iter()
        .map(|s| {
            (
                name(s).to_owned(),
                field(s, "keyset"),
                "type.googleapis.com/google.crypto.tink.HmacKey",
            )
        })
        .collect();
    assert_eq!(sets.len(), 5);
    let prf = field(vectors(), "prf");
    sets.push((
        name(prf).to_owned(),
        field(prf, "keyset"),
        "type.googleapis.com/google.crypto.tink.HmacPrfKey",
    ));
    sets
}

#[test]
fn mac_and_prf_keysets_are_kept_but_refused() {
    for (what, block, type_url) in unsupported_sets() {
        let keyset = check_keyset_block(block, &what);
        assert_eq!(keyset.list()[0].type_url, type_url);
        assert_eq!(keyset.list()[0].algorithm, None);
        match keyset.aead().unwrap().encrypt(b"x", b"") {
            Err(Error::UnsupportedKeyType {
                key_id,
                type_url: found,
            }) => {
                assert_eq!(key_id, keyset.primary_id().0, "{what}");
                assert_eq!(found, type_url, "{what}");
            }
            other => panic!("{what}: encrypt gave {other:?}"),
        }
        assert!(matches!(
            keyset
                .envelope(Algorithm::Aes256GcmSiv)
                .unwrap()
                .encrypt(b"x", b""),
            Err(Error::UnsupportedKeyType { .. })
        ));
    }
    let mac_sets = list(vectors(), "mac");
    let prefixes: Vec<&str> = mac_sets
        .iter()
        .map(|s| text(field(s, "template"), "output_prefix_type"))
        .collect();
    for wanted in ["TINK", "RAW", "LEGACY", "CRUNCHY"] {
        assert!(
            prefixes.contains(&wanted),
            "no MAC set with prefix {wanted}"
        );
    }
    // The tags carry the same 5-byte prefix as our AEAD ciphertexts would.
    for set in mac_sets {
        let key = &list(field(set, "keyset"), "keys")[0];
        for vector in list(set, "vectors") {
            assert!(text(vector, "tag_hex").starts_with(text(key, "expected_prefix_hex")));
        }
    }
}

#[test]
fn unsupported_keys_survive_next_to_an_aes_primary() {
    for (what, block, type_url) in unsupported_sets() {
        let mut keyset = Keyset::parse(&bytes(block, "binary_keyset_hex")).unwrap();
        let hmac = keyset.primary_id();
        let aes = keyset.add(Template::AES256_GCM);
        keyset.promote(aes).unwrap();
        let aead = keyset.aead().unwrap();
        assert_eq!(aead.primary_id(), aes, "{what}");
        let ciphertext = aead.encrypt(b"x", b"y").unwrap();

        // Both encodings keep the HMAC key's bytes as Tink wrote them.
        let binary = keyset.insecure_to_binary();
        let key_binary = bytes(block, "binary_keyset_hex");
        // The original keyset's key entry (after the primary id) is a
        // substring of the new binary keyset.
        let entry = &key_binary[key_binary.iter().position(|b| *b == 0x12).unwrap()..];
        assert!(
            binary.windows(entry.len()).any(|w| w == entry),
            "{what}: key entry kept"
        );
        for reread in [
            Keyset::parse(&binary).unwrap(),
            Keyset::parse(keyset.insecure_to_json().as_bytes()).unwrap(),
        ] {
            assert_eq!(reread.insecure_to_binary(), binary, "{what}");
            assert_eq!(
                reread.aead().unwrap().decrypt(&ciphertext, b"y").unwrap(),
                b"x"
            );
            assert_eq!(reread.list()[0].type_url, type_url);
        }

        // Going back to the HMAC key as primary is refused and changes nothing.
        assert!(
            matches!(keyset.promote(hmac), Err(Error::UnsupportedKeyType { .. })),
            "{what}"
        );
        assert_eq!(keyset.insecure_to_binary(), binary);
    }
}

// ---------------------------------------------------------------- Java key ids

/// Tink's first AEAD keyset with its key id replaced by `id` in both places.
fn keyset_json_with_id(id: &str) -> String {
    let set = &list(vectors(), "aead")[0];
    let block = field(set, "keyset");
    let original = num(block, "primary_key_id").to_string();
    let json = text(block, "cleartext_json");
    assert_eq!(json.matches(&original).count(), 2);
    json.replace(&original, id)
}

#[test]
fn java_negative_key_ids_are_read_as_unsigned() {
    let keyset = Keyset::parse(keyset_json_with_id("-1").as_bytes()).unwrap();
    assert_eq!(keyset.primary_id(), KeyId(4_294_967_295));
    assert_eq!(keyset.list()[0].id, KeyId(u32::MAX));
    // Written back in the unsigned form, as Tink's Python and Go write it.
    let unsigned = keyset_json_with_id("4294967295");
    assert_eq!(keyset.insecure_to_json(), unsigned);
    let from_unsigned = Keyset::parse(unsigned.as_bytes()).unwrap();
    assert_eq!(
        keyset.insecure_to_binary(),
        from_unsigned.insecure_to_binary()
    );
    // The id travels in the prefix as the same 32 bits.
    let ciphertext = keyset.aead().unwrap().encrypt(b"", b"").unwrap();
    assert_eq!(ciphertext[..PREFIX_LEN], [1, 0xff, 0xff, 0xff, 0xff]);
    assert!(from_unsigned
        .aead()
        .unwrap()
        .decrypt(&ciphertext, b"")
        .is_ok());

    let keyset = Keyset::parse(keyset_json_with_id("-2147483648").as_bytes()).unwrap();
    assert_eq!(keyset.primary_id(), KeyId(2_147_483_648));
    let keyset = Keyset::parse(keyset_json_with_id("-1894569952").as_bytes()).unwrap();
    assert_eq!(keyset.primary_id(), KeyId((-1_894_569_952i32) as u32));
}

#[test]
fn key_ids_outside_32_bits_are_refused() {
    for id in ["-2147483649", "4294967296", "-9223372036854775808"] {
        match Keyset::parse(keyset_json_with_id(id).as_bytes()) {
            Err(Error::KeyIdOutOfRange(found)) => assert_eq!(found.to_string(), id),
            other => panic!("key id {id}: {other:?}"),
        }
    }
}
