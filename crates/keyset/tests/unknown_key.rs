//! A ciphertext whose prefix names a key the keyset does not hold is refused
//! with [`Error::UnknownKey`] (roll the new keyset out), one naming a
//! DISABLED or DESTROYED key with [`Error::KeyNotEnabled`]; an authentication
//! failure under a key the keyset holds stays [`Error::Decryption`].

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{json, Value};
use stream_keyset::{
    Algorithm, EnvelopeCiphertext, Error, KeyId, KeyStatus, Keyset, OutputPrefix, Template,
    PREFIX_LEN,
};

/// The prefixed templates: both algorithms, every prefix that names a key.
const PREFIXED: [Template; 4] = [
    Template::AES256_GCM_SIV,
    Template::AES256_GCM,
    Template {
        algorithm: Algorithm::Aes128GcmSiv,
        prefix: OutputPrefix::Legacy,
    },
    Template {
        algorithm: Algorithm::Aes128Gcm,
        prefix: OutputPrefix::Crunchy,
    },
];

const RAW: Template = Template {
    algorithm: Algorithm::Aes256GcmSiv,
    prefix: OutputPrefix::Raw,
};

/// A copy of `keyset` (material included).
fn copy(keyset: &Keyset) -> Keyset {
    Keyset::parse(&keyset.insecure_to_binary()).unwrap()
}

/// `keyset` with its one key renumbered `id`.
fn with_id(keyset: &Keyset, id: u32) -> Keyset {
    let mut json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
    json["primaryKeyId"] = json!(id);
    json["key"][0]["keyId"] = json!(id);
    Keyset::parse(json.to_string().as_bytes()).unwrap()
}

fn assert_unknown_key(result: Result<Vec<u8>, Error>, id: KeyId, what: &str) {
    match result {
        Err(e @ Error::UnknownKey(found)) => {
            assert_eq!(found, id.0, "{what}");
            let message = e.to_string();
            assert!(message.contains(&format!("key {id} ")), "{what}: {message}");
            assert!(message.contains("not in this keyset"), "{what}: {message}");
            assert!(message.contains("roll out"), "{what}: {message}");
        }
        other => panic!("{what}: expected UnknownKey({id}), got {other:?}"),
    }
}

fn assert_decryption(result: Result<Vec<u8>, Error>, what: &str) {
    assert!(
        matches!(result, Err(Error::Decryption)),
        "{what}: expected Decryption, got {result:?}"
    );
}

#[test]
fn a_ciphertext_of_a_key_not_in_the_keyset_is_unknown_key() {
    for template in PREFIXED {
        let what = format!("{template:?}");
        let a = Keyset::generate(template);
        let b = Keyset::generate(Template::AES256_GCM_SIV);
        assert_ne!(a.primary_id(), b.primary_id());
        let ct = a.aead().unwrap().encrypt(b"payload", b"ad").unwrap();
        assert_unknown_key(b.aead().unwrap().decrypt(&ct, b"ad"), a.primary_id(), &what);
        // The aad cannot matter: no key was tried.
        assert_unknown_key(
            b.aead().unwrap().decrypt(&ct, b"other"),
            a.primary_id(),
            &what,
        );

        // The realistic case: the keyset was rotated somewhere, and this copy
        // of it was not rolled out yet.
        let old = copy(&a);
        let mut rotated = copy(&a);
        let new = rotated.add(template);
        rotated.promote(new).unwrap();
        let ct = rotated.aead().unwrap().encrypt(b"payload", b"ad").unwrap();
        assert_unknown_key(old.aead().unwrap().decrypt(&ct, b"ad"), new, &what);
        // Rolled out, it opens.
        assert_eq!(
            copy(&rotated).aead().unwrap().decrypt(&ct, b"ad").unwrap(),
            b"payload"
        );
    }
}

#[test]
fn an_unknown_key_id_is_printed_as_tinks_unsigned_id() {
    let a = with_id(&Keyset::generate(Template::AES256_GCM_SIV), u32::MAX);
    assert_eq!(a.primary_id(), KeyId(4_294_967_295));
    let ct = a.aead().unwrap().encrypt(b"payload", b"").unwrap();
    assert_eq!(ct[..PREFIX_LEN], [1, 0xff, 0xff, 0xff, 0xff]);
    let err = Keyset::generate(Template::AES256_GCM)
        .aead()
        .unwrap()
        .decrypt(&ct, b"")
        .unwrap_err();
    assert!(matches!(err, Error::UnknownKey(u32::MAX)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "key 4294967295 is not in this keyset: roll out the new keyset first"
    );
}

#[test]
fn a_modified_ciphertext_of_a_key_in_the_keyset_stays_decryption() {
    for template in PREFIXED {
        let what = format!("{template:?}");
        let a = Keyset::generate(template);
        let ct = a.aead().unwrap().encrypt(b"payload", b"ad").unwrap();
        // The key is there, primary or not.
        let mut b = copy(&a);
        let other = b.add(Template::AES256_GCM_SIV);
        b.promote(other).unwrap();
        for keyset in [&a, &b] {
            let aead = keyset.aead().unwrap();
            for at in [PREFIX_LEN, PREFIX_LEN + 12, ct.len() / 2 + 3, ct.len() - 1] {
                let mut modified = ct.clone();
                modified[at] ^= 0x20;
                assert_decryption(aead.decrypt(&modified, b"ad"), &what);
            }
            assert_decryption(aead.decrypt(&ct, b"other ad"), &what);
            assert_decryption(aead.decrypt(&ct[..ct.len() - 1], b"ad"), &what);
            assert_eq!(aead.decrypt(&ct, b"ad").unwrap(), b"payload");
        }
    }
}

#[test]
fn a_disabled_or_destroyed_key_says_so() {
    for template in PREFIXED {
        let what = format!("{template:?}");
        let mut keyset = Keyset::generate(template);
        let old = keyset.primary_id();
        let ct = keyset.aead().unwrap().encrypt(b"payload", b"ad").unwrap();
        let new = keyset.add(Template::AES256_GCM_SIV);
        keyset.promote(new).unwrap();

        keyset.disable(old).unwrap();
        let err = keyset.aead().unwrap().decrypt(&ct, b"ad").unwrap_err();
        assert!(
            matches!(err, Error::KeyNotEnabled { key_id, status: KeyStatus::Disabled } if key_id == old.0),
            "{what}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("key {old} ")), "{message}");
        assert!(message.contains("DISABLED"), "{message}");
        assert!(message.contains("enable it"), "{message}");

        keyset.destroy(old).unwrap();
        let err = keyset.aead().unwrap().decrypt(&ct, b"ad").unwrap_err();
        assert!(
            matches!(err, Error::KeyNotEnabled { key_id, status: KeyStatus::Destroyed } if key_id == old.0),
            "{what}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("key {old} ")), "{message}");
        assert!(message.contains("DESTROYED"), "{message}");
        assert!(!message.contains("enable it"), "{message}");
    }
}

#[test]
fn a_disabled_key_is_named_only_by_the_prefix_it_makes() {
    // Key `raw` (RAW) cannot have made `0x01 || raw`, key `legacy` (LEGACY,
    // `0x00 || id`) cannot have made `0x01 || legacy`: opaque, not "disabled".
    let mut keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let raw = keyset.add(RAW);
    let legacy = keyset.add(PREFIXED[2]);
    keyset.disable(raw).unwrap();
    keyset.disable(legacy).unwrap();
    let aead = keyset.aead().unwrap();
    for (marker, id, expected) in [
        (1, raw, None),
        (0, raw, None),
        (1, legacy, None),
        (0, legacy, Some(legacy)),
    ] {
        let mut ct = vec![marker];
        ct.extend_from_slice(&id.0.to_be_bytes());
        ct.extend_from_slice(&[0x55; 40]);
        let err = aead.decrypt(&ct, b"").unwrap_err();
        match expected {
            Some(id) => assert!(
                matches!(err, Error::KeyNotEnabled { key_id, status: KeyStatus::Disabled } if key_id == id.0),
                "{marker} || {id}: {err:?}"
            ),
            None => assert!(
                matches!(err, Error::Decryption),
                "{marker} || {id}: {err:?}"
            ),
        }
    }
}

#[test]
fn a_raw_key_in_the_keyset_keeps_an_unknown_prefix_opaque() {
    // With a RAW key, a prefix-like start may be the random nonce of a RAW
    // ciphertext that failed to authenticate: no key id can be claimed.
    let a = Keyset::generate(Template::AES256_GCM_SIV);
    let ct = a.aead().unwrap().encrypt(b"payload", b"ad").unwrap();
    let mut b = Keyset::generate(Template::AES256_GCM_SIV);
    b.add(RAW);
    assert_decryption(b.aead().unwrap().decrypt(&ct, b"ad"), "TINK + RAW keyset");
    let only_raw = Keyset::generate(RAW);
    assert_decryption(only_raw.aead().unwrap().decrypt(&ct, b"ad"), "RAW keyset");
    // A RAW ciphertext starting like a TINK prefix, with the wrong aad, stays
    // an authentication failure.
    let raw = only_raw.aead().unwrap();
    let ct = (0..)
        .map(|_| raw.encrypt(b"payload", b"ad").unwrap())
        .find(|ct| ct[0] == 1)
        .unwrap();
    assert_decryption(raw.decrypt(&ct, b"other ad"), "RAW nonce like a prefix");
    assert_eq!(raw.decrypt(&ct, b"ad").unwrap(), b"payload");
}

#[test]
fn a_key_of_an_unsupported_type_is_in_the_keyset() {
    // An ENABLED HMAC key the keyset keeps without using: a ciphertext naming
    // it is not "unknown", and not silently skipped: the error names the
    // key and its type.
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let mut json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
    let hmac_value = {
        use base64::Engine as _;
        let mut v = vec![0x12, 0x04, 0x08, 0x03, 0x10, 0x20, 0x1a, 0x20];
        v.extend_from_slice(&[7; 32]);
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    json["key"].as_array_mut().unwrap().push(json!({
        "keyData": {
            "typeUrl": "type.googleapis.com/google.crypto.tink.HmacKey",
            "value": hmac_value,
            "keyMaterialType": "SYMMETRIC",
        },
        "status": "ENABLED",
        "keyId": 99,
        "outputPrefixType": "TINK",
    }));
    let keyset = Keyset::parse(json.to_string().as_bytes()).unwrap();
    let mut ct = vec![1, 0, 0, 0, 99];
    ct.extend_from_slice(&[0x55; 40]);
    match keyset.aead().unwrap().decrypt(&ct, b"") {
        Err(Error::UnsupportedKeyType {
            key_id: 99,
            type_url,
        }) => {
            assert_eq!(type_url, "type.googleapis.com/google.crypto.tink.HmacKey")
        }
        other => panic!("HMAC key id: {other:?}"),
    }
    ct[4] = 98;
    assert_unknown_key(keyset.aead().unwrap().decrypt(&ct, b""), KeyId(98), "id 98");
}

#[test]
fn an_envelope_whose_data_key_names_an_unknown_key_is_unknown_key() {
    for dek in [Algorithm::Aes256GcmSiv, Algorithm::Aes256Gcm] {
        let old = Keyset::generate(Template::AES256_GCM_SIV);
        let mut rotated = copy(&old);
        let new = rotated.add(Template::AES256_GCM_SIV);
        rotated.promote(new).unwrap();
        let sealed = rotated
            .envelope(dek)
            .unwrap()
            .encrypt_parts(b"card number", b"events/42")
            .unwrap();
        assert_eq!(sealed.wrapped_dek[1..PREFIX_LEN], new.0.to_be_bytes());

        let envelope = old.envelope(dek).unwrap();
        let what = format!("{dek:?}");
        assert_unknown_key(
            envelope.decrypt_parts(&sealed.wrapped_dek, &sealed.payload, b"events/42"),
            new,
            &what,
        );
        assert_unknown_key(
            envelope.decrypt(&sealed.to_bytes(), b"events/42"),
            new,
            &what,
        );
        assert_unknown_key(envelope.rewrap_dek(&sealed.wrapped_dek), new, &what);
        assert_unknown_key(envelope.rewrap(&sealed.to_bytes()), new, &what);
        assert!(!envelope.is_wrapped_by_primary(&sealed.wrapped_dek));

        // With the key present, a modified payload or wrapped key stays an
        // authentication failure.
        let current = rotated.envelope(dek).unwrap();
        let mut payload = sealed.payload.clone();
        payload[15] ^= 1;
        assert_decryption(
            current.decrypt_parts(&sealed.wrapped_dek, &payload, b"events/42"),
            &what,
        );
        let mut wrapped = sealed.wrapped_dek.clone();
        wrapped[PREFIX_LEN + 2] ^= 1;
        assert_decryption(
            current.decrypt_parts(&wrapped, &sealed.payload, b"events/42"),
            &what,
        );
        assert_eq!(
            current
                .decrypt_parts(&sealed.wrapped_dek, &sealed.payload, b"events/42")
                .unwrap(),
            b"card number"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A's ciphertext under B: it opens when B holds A's primary, is
    /// `UnknownKey(A's primary)` when B does not and has no RAW key, and is
    /// `Decryption` when B does not but has a RAW key.
    #[test]
    fn another_keyset_says_unknown_key_unless_it_holds_the_key(
        a_template in 0..PREFIXED.len(),
        b_templates in prop::collection::vec(0..PREFIXED.len() + 1, 1..4),
        b_holds_a in any::<bool>(),
        pt in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let template = |i: usize| PREFIXED.get(i).copied().unwrap_or(RAW);
        let a = Keyset::generate(PREFIXED[a_template]);
        // B holds A's keys and fresh ones (the last added is B's primary),
        // or only fresh ones.
        let mut b = if b_holds_a { copy(&a) } else { Keyset::generate(template(b_templates[0])) };
        for t in &b_templates[usize::from(!b_holds_a)..] {
            let id = b.add(template(*t));
            b.promote(id).unwrap();
        }
        let b_ids: Vec<KeyId> = b.list().iter().map(|k| k.id).collect();
        prop_assert_eq!(b_ids.contains(&a.primary_id()), b_holds_a);
        let b_has_raw = b.list().iter().any(|k| k.prefix == OutputPrefix::Raw);

        let ct = a.aead().unwrap().encrypt(&pt, b"ad").unwrap();
        let sealed = a.envelope(Algorithm::Aes256GcmSiv).unwrap().encrypt_parts(&pt, b"ad").unwrap();
        let envelope = b.envelope(Algorithm::Aes256GcmSiv).unwrap();
        for (what, result) in [
            ("aead", b.aead().unwrap().decrypt(&ct, b"ad")),
            ("envelope", envelope.decrypt_parts(&sealed.wrapped_dek, &sealed.payload, b"ad")),
            ("envelope bytes", envelope.decrypt(&EnvelopeCiphertext::to_bytes(&sealed), b"ad")),
        ] {
            match result {
                Ok(opened) => prop_assert!(b_holds_a && opened == pt, "{}: opened", what),
                Err(Error::UnknownKey(id)) => {
                    prop_assert!(!b_holds_a && !b_has_raw, "{}: UnknownKey({})", what, id);
                    prop_assert_eq!(id, a.primary_id().0, "{}", what);
                }
                Err(Error::Decryption) => prop_assert!(!b_holds_a && b_has_raw, "{}: Decryption", what),
                Err(e) => prop_assert!(false, "{}: {:?}", what, e),
            }
        }
    }
}
