//! Bad input gives the specific typed error, and no error, `Debug` or
//! `Display` output ever carries key material (DESIGN, properties 6 and 7).

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use stream_keyset::{
    Algorithm, Envelope, EnvelopeCiphertext, Error, KeyId, Keyset, OutputPrefix, Template,
    AES_GCM_SIV_TYPE_URL, AES_GCM_TYPE_URL, MIN_CIPHERTEXT_LEN,
};

const HMAC_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.HmacKey";

// ---------------------------------------------------------------- helpers

/// A serialized `AesGcmSivKey` / `AesGcmKey`: `version` (field 1, omitted
/// when 0) and `key_value` (field 3).
fn key_proto(version: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if version != 0 {
        out.extend_from_slice(&[0x08, version]);
    }
    out.extend_from_slice(&[0x1a, key.len() as u8]);
    out.extend_from_slice(key);
    out
}

fn random_key(len: usize) -> Vec<u8> {
    use rand::RngCore as _;
    let mut key = vec![0u8; len];
    rand::rng().fill_bytes(&mut key);
    key
}

fn key_entry(id: i64, status: &str, prefix: &str, type_url: &str, value: &[u8]) -> Value {
    json!({
        "keyData": {
            "typeUrl": type_url,
            "value": STANDARD.encode(value),
            "keyMaterialType": "SYMMETRIC",
        },
        "status": status,
        "keyId": id,
        "outputPrefixType": prefix,
    })
}

fn keyset_json(primary: i64, keys: Vec<Value>) -> String {
    serde_json::to_string_pretty(&json!({ "primaryKeyId": primary, "key": keys })).unwrap()
}

/// Every key value met in this file, to look for in what is printed.
#[derive(Default)]
struct Secrets {
    values: Vec<Vec<u8>>,
}

impl Secrets {
    /// Records a serialized key proto and, when it is an AES key, its raw key.
    fn add_proto(&mut self, proto: &[u8]) {
        if proto.len() < 16 {
            return; // too short to hold a key, and to look for safely
        }
        if let Some(raw) = raw_key_of(proto) {
            self.values.push(raw.to_vec());
        }
        self.values.push(proto.to_vec());
    }

    /// Records every key of a keyset (read from its cleartext JSON).
    fn add_keyset(&mut self, keyset: &Keyset) {
        let json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
        for key in json["key"].as_array().unwrap() {
            if let Some(value) = key["keyData"]["value"].as_str() {
                self.add_proto(&STANDARD.decode(value).unwrap());
            }
        }
    }

    /// Fails if `printed` holds any key value in hex, base64 or raw form,
    /// or any 8-byte piece of one.
    fn assert_absent(&self, what: &str, printed: &str) {
        assert!(!self.values.is_empty());
        let lower = printed.to_ascii_lowercase();
        for value in &self.values {
            let forms = [
                hex::encode(value),
                STANDARD.encode(value),
                STANDARD_NO_PAD.encode(value),
                URL_SAFE.encode(value),
                URL_SAFE_NO_PAD.encode(value),
                format!("{value:?}"),
                format!("{:?}", &value[..8]),
                format!("{:?}", &value[value.len() - 8..]),
            ];
            for form in &forms {
                assert!(
                    !printed.contains(form.as_str()),
                    "{what} prints a key value: {printed}"
                );
            }
            // Debug of a byte slice without the brackets, hex in any case,
            // and the bytes themselves, by pieces of 8 bytes.
            for piece in value.windows(8) {
                let decimal = format!("{piece:?}");
                assert!(
                    !printed.contains(&decimal[1..decimal.len() - 1]),
                    "{what} prints key bytes: {printed}"
                );
                assert!(
                    !lower.contains(&hex::encode(piece)),
                    "{what} prints key bytes in hex: {printed}"
                );
                assert!(
                    !printed.as_bytes().windows(8).any(|w| w == piece),
                    "{what} prints raw key bytes"
                );
            }
            // Base64 pieces: 16 characters of the encoding, wherever aligned.
            for shift in 0..3 {
                if value.len() > shift + 12 {
                    let encoded = STANDARD.encode(&value[shift..]);
                    for piece in encoded.as_bytes().chunks(16).filter(|c| c.len() == 16) {
                        let piece = std::str::from_utf8(piece).unwrap();
                        assert!(
                            !printed.contains(piece),
                            "{what} prints key bytes in base64: {printed}"
                        );
                    }
                }
            }
        }
    }
}

fn raw_key_of(proto: &[u8]) -> Option<&[u8]> {
    let at = proto.iter().position(|b| *b == 0x1a)?;
    let len = usize::from(*proto.get(at + 1)?);
    proto.get(at + 2..at + 2 + len).filter(|k| k.len() >= 16)
}

/// An error and where it came from, for the hygiene check.
struct Produced {
    what: &'static str,
    error: Error,
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> Error {
    match result {
        Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        Err(error) => error,
    }
}

fn parse_err(input: &str, what: &str) -> Error {
    expect_err(Keyset::parse(input.as_bytes()), what)
}

// ---------------------------------------------------------------- bad keysets

/// Runs every bad-input case, checks its error variant, and returns the
/// errors with the secrets involved.
fn bad_inputs() -> (Vec<Produced>, Secrets) {
    let mut secrets = Secrets::default();
    let mut produced = Vec::new();
    let mut push = |what: &'static str, error: Error| produced.push(Produced { what, error });

    let key = random_key(32);
    let proto = key_proto(0, &key);
    secrets.add_proto(&proto);
    let good = keyset_json(
        7,
        vec![key_entry(
            7,
            "ENABLED",
            "TINK",
            AES_GCM_SIV_TYPE_URL,
            &proto,
        )],
    );
    // The positive control: the same keyset, unharmed, is fine.
    assert_eq!(
        Keyset::parse(good.as_bytes()).unwrap().primary_id(),
        KeyId(7)
    );

    // Malformed JSON: cut in the middle of the key value, or broken syntax.
    let cut = &good[..good.find("\"value\"").unwrap() + 20];
    let e = parse_err(cut, "truncated JSON");
    assert!(matches!(e, Error::Json(_)), "truncated JSON: {e:?}");
    push("truncated JSON", e);
    let e = parse_err(&good.replacen("\"key\":", "\"key\"", 1), "missing colon");
    assert!(matches!(e, Error::Json(_)), "missing colon: {e:?}");
    push("missing colon", e);
    let e = parse_err(&format!("{good},"), "trailing comma");
    assert!(matches!(e, Error::Json(_)), "trailing comma: {e:?}");
    push("trailing comma", e);
    let e = expect_err(Keyset::parse(b"{\"primaryKeyId\": 1, \xff}"), "not UTF-8");
    assert!(matches!(e, Error::Json(_)), "not UTF-8: {e:?}");
    push("not UTF-8", e);
    let e = parse_err(
        &good.replace("\"keyId\": 7", "\"keyId\": 7.5"),
        "fractional id",
    );
    assert!(matches!(e, Error::Json(_)), "fractional id: {e:?}");
    push("fractional id", e);

    // Wrong base64: a character outside the alphabet in the key value, or
    // the padding dropped.
    let b64 = STANDARD.encode(&proto);
    let mut broken = b64.clone();
    broken.replace_range(10..11, "!");
    let e = parse_err(&good.replace(&b64, &broken), "bad base64 character");
    assert!(
        matches!(
            e,
            Error::Base64 {
                field: "keyData.value"
            }
        ),
        "bad base64: {e:?}"
    );
    push("bad base64 character", e);
    let e = parse_err(
        &good.replace(&b64, b64.trim_end_matches('=')),
        "base64 without padding",
    );
    assert!(
        matches!(
            e,
            Error::Base64 {
                field: "keyData.value"
            }
        ),
        "no padding: {e:?}"
    );
    push("base64 without padding", e);
    // Unknown enum names.
    for (field, from, to) in [
        ("status", "\"ENABLED\"", "\"ENABLD\""),
        ("outputPrefixType", "\"TINK\"", "\"TINKY\""),
        ("keyMaterialType", "\"SYMMETRIC\"", "\"SYMETRIC\""),
        ("status", "\"ENABLED\"", "\"enabled\""),
    ] {
        let e = parse_err(&good.replace(from, to), field);
        match &e {
            Error::UnknownEnum {
                field: found,
                value,
                ..
            } => {
                assert_eq!(*found, field);
                assert_eq!(format!("\"{value}\""), to);
            }
            other => panic!("unknown {field}: {other:?}"),
        }
        push("unknown enum", e);
    }
    let e = parse_err(&good.replace("\"ENABLED\"", "17"), "status 17");
    assert!(matches!(e, Error::UnknownStatus(7)), "status 17: {e:?}");
    push("status number", e);
    let e = parse_err(
        &good.replace("\"ENABLED\"", "\"UNKNOWN_STATUS\""),
        "UNKNOWN_STATUS",
    );
    assert!(
        matches!(e, Error::UnknownStatus(7)),
        "UNKNOWN_STATUS: {e:?}"
    );
    push("UNKNOWN_STATUS", e);
    let e = parse_err(
        &good.replace("\"TINK\"", "\"UNKNOWN_PREFIX\""),
        "UNKNOWN_PREFIX",
    );
    assert!(
        matches!(e, Error::UnknownPrefix(7)),
        "UNKNOWN_PREFIX: {e:?}"
    );
    push("UNKNOWN_PREFIX", e);

    // No primary.
    let e = parse_err(
        &good.replace("\"primaryKeyId\": 7", "\"primaryKeyId\": 8"),
        "no primary",
    );
    assert!(matches!(e, Error::NoPrimary(8)), "no primary: {e:?}");
    push("primary names no key", e);
    let absent = json!({ "key": [key_entry(7, "ENABLED", "TINK", AES_GCM_SIV_TYPE_URL, &proto)] });
    let e = parse_err(&absent.to_string(), "primary absent");
    assert!(matches!(e, Error::NoPrimary(0)), "primary absent: {e:?}");
    push("primary absent", e);
    let e = parse_err(&keyset_json(7, vec![]), "empty keyset");
    assert!(matches!(e, Error::EmptyKeyset), "empty keyset: {e:?}");
    push("empty keyset", e);
    let e = parse_err("{}", "empty object");
    assert!(matches!(e, Error::EmptyKeyset), "empty object: {e:?}");
    // The binary form without its primary id field (field 1, first).
    let binary = Keyset::parse(good.as_bytes()).unwrap().insecure_to_binary();
    assert_eq!(binary[0], 0x08);
    let e = expect_err(Keyset::parse(&binary[2..]), "binary without primary");
    assert!(
        matches!(e, Error::NoPrimary(0)),
        "binary without primary: {e:?}"
    );
    push("binary without primary", e);

    // A disabled or destroyed primary.
    let e = parse_err(
        &good.replace("\"ENABLED\"", "\"DISABLED\""),
        "disabled primary",
    );
    assert!(
        matches!(e, Error::PrimaryNotEnabled(7)),
        "disabled primary: {e:?}"
    );
    push("disabled primary", e);
    let destroyed = keyset_json(
        7,
        vec![json!({"status": "DESTROYED", "keyId": 7, "outputPrefixType": "TINK"})],
    );
    let e = parse_err(&destroyed, "destroyed primary");
    assert!(
        matches!(e, Error::PrimaryNotEnabled(7)),
        "destroyed primary: {e:?}"
    );
    push("destroyed primary", e);

    // Duplicate ids, missing key data, ids out of range.
    let other_proto = key_proto(0, &random_key(32));
    secrets.add_proto(&other_proto);
    let duplicate = keyset_json(
        7,
        vec![
            key_entry(7, "ENABLED", "TINK", AES_GCM_SIV_TYPE_URL, &proto),
            key_entry(7, "ENABLED", "RAW", AES_GCM_TYPE_URL, &other_proto),
        ],
    );
    let e = parse_err(&duplicate, "duplicate id");
    assert!(matches!(e, Error::DuplicateKeyId(7)), "duplicate id: {e:?}");
    push("duplicate id", e);
    let no_data = keyset_json(
        7,
        vec![
            key_entry(7, "ENABLED", "TINK", AES_GCM_SIV_TYPE_URL, &proto),
            json!({"status": "DISABLED", "keyId": 9, "outputPrefixType": "TINK"}),
        ],
    );
    let e = parse_err(&no_data, "missing key data");
    assert!(
        matches!(e, Error::MissingKeyData(9)),
        "missing key data: {e:?}"
    );
    push("missing key data", e);
    let e = parse_err(
        &good.replace("\"primaryKeyId\": 7", "\"primaryKeyId\": 4294967296"),
        "id out of range",
    );
    assert!(matches!(e, Error::KeyIdOutOfRange(4_294_967_296)), "{e:?}");
    push("id out of range", e);

    // Keys of the wrong length, version or shape, primary or not.
    for (what, type_url, value) in [
        (
            "24-byte AES-GCM-SIV key",
            AES_GCM_SIV_TYPE_URL,
            key_proto(0, &random_key(24)),
        ),
        (
            "24-byte AES-GCM key",
            AES_GCM_TYPE_URL,
            key_proto(0, &random_key(24)),
        ),
        (
            "64-byte AES-GCM-SIV key",
            AES_GCM_SIV_TYPE_URL,
            key_proto(0, &random_key(64)),
        ),
        (
            "version 1 key",
            AES_GCM_SIV_TYPE_URL,
            key_proto(1, &random_key(32)),
        ),
        ("empty key", AES_GCM_TYPE_URL, Vec::new()),
        ("not a key proto", AES_GCM_SIV_TYPE_URL, {
            let mut v = vec![0x1a, 0x40];
            v.extend_from_slice(&random_key(32));
            v
        }),
    ] {
        secrets.add_proto(&value);
        for (status, primary) in [("ENABLED", 9), ("DISABLED", 7)] {
            let json = keyset_json(
                primary,
                vec![
                    key_entry(7, "ENABLED", "TINK", AES_GCM_SIV_TYPE_URL, &proto),
                    key_entry(9, status, "RAW", type_url, &value),
                ],
            );
            let e = parse_err(&json, what);
            match &e {
                Error::InvalidKey {
                    key_id: 9,
                    type_url: found,
                    ..
                } => assert_eq!(found, type_url, "{what}"),
                other => panic!("{what}: {other:?}"),
            }
            push("invalid key", e);
        }
    }
    // A destroyed key is not checked: its material is gone.
    let json = keyset_json(
        7,
        vec![
            key_entry(7, "ENABLED", "TINK", AES_GCM_SIV_TYPE_URL, &proto),
            key_entry(
                9,
                "DESTROYED",
                "RAW",
                AES_GCM_TYPE_URL,
                &key_proto(0, &[1; 24]),
            ),
        ],
    );
    assert!(Keyset::parse(json.as_bytes()).is_ok());

    // Binary garbage.
    for (what, bytes) in [
        ("garbage", vec![0xff; 12]),
        ("truncated binary", binary[..binary.len() - 3].to_vec()),
    ] {
        let e = expect_err(Keyset::parse(&bytes), what);
        assert!(
            matches!(e, Error::Protobuf { what: "keyset", .. }),
            "{what}: {e:?}"
        );
        push("bad protobuf", e);
    }

    // Values of the wrong JSON type, key material among them: the error
    // must not quote them.
    let entry = key_entry(7, "ENABLED", "TINK", AES_GCM_SIV_TYPE_URL, &proto);
    let double_encoded = keyset_json(
        7,
        vec![json!({
            "keyData": entry["keyData"].to_string(),
            "status": "ENABLED", "keyId": 7, "outputPrefixType": "TINK",
        })],
    );
    let e = parse_err(&double_encoded, "keyData as a string");
    assert!(matches!(e, Error::Json(_)), "keyData as a string: {e:?}");
    push("keyData as a string", e);
    let e = parse_err(
        &good.replace("\"keyId\": 7", &format!("\"keyId\": \"{b64}\"")),
        "id as a string",
    );
    assert!(matches!(e, Error::Json(_)), "id as a string: {e:?}");
    push("key id holding the key", e);
    let e = parse_err(
        &good.replace("\"ENABLED\"", &format!("[\"{b64}\"]")),
        "status as an array",
    );
    assert!(
        matches!(
            e,
            Error::UnknownEnum {
                field: "status",
                ..
            }
        ),
        "{e:?}"
    );
    push("status holding the key", e);
    let e = parse_err(
        &good.replace("\"ENABLED\"", &format!("\"{b64}\"")),
        "status as the key",
    );
    match &e {
        Error::UnknownEnum {
            field: "status",
            value,
            ..
        } => {
            assert_eq!(value, &format!("a string of {} characters", b64.len()));
        }
        other => panic!("status as the key: {other:?}"),
    }
    push("status is the key", e);
    let e = parse_err(&good.replace("\"TINK\"", "true"), "prefix as a boolean");
    assert!(
        matches!(
            e,
            Error::UnknownEnum {
                field: "outputPrefixType",
                ..
            }
        ),
        "{e:?}"
    );
    push("prefix as a boolean", e);

    (produced, secrets)
}

#[test]
fn bad_keysets_give_specific_errors() {
    let (produced, _) = bad_inputs();
    assert!(produced.len() > 30);
}

// ---------------------------------------------------------------- bad ciphertexts

fn bad_ciphertexts(secrets: &mut Secrets, produced: &mut Vec<Produced>) {
    let mut push = |what: &'static str, error: Error| produced.push(Produced { what, error });
    for template in [Template::AES256_GCM_SIV, Template::AES256_GCM] {
        let keyset = Keyset::generate(template);
        secrets.add_keyset(&keyset);
        let aead = keyset.aead().unwrap();
        let ct = aead.encrypt(b"payload", b"ad").unwrap();

        let e = expect_err(aead.decrypt(&ct[..MIN_CIPHERTEXT_LEN - 1], b"ad"), "short");
        assert!(
            matches!(e, Error::CiphertextTooShort { len: 27, min: 28 }),
            "short: {e:?}"
        );
        push("short ciphertext", e);
        let e = expect_err(aead.decrypt(&[], b"ad"), "empty");
        assert!(
            matches!(e, Error::CiphertextTooShort { len: 0, .. }),
            "{e:?}"
        );
        push("empty ciphertext", e);
        let e = expect_err(aead.decrypt(&ct[..ct.len() - 1], b"ad"), "truncated");
        assert!(matches!(e, Error::Decryption), "truncated: {e:?}");
        push("truncated ciphertext", e);
        let e = expect_err(aead.decrypt(&ct, b"other ad"), "wrong ad");
        assert!(matches!(e, Error::Decryption), "wrong ad: {e:?}");
        push("wrong ad", e);
        let other = Keyset::generate(template);
        secrets.add_keyset(&other);
        // A keyset without the key named by the TINK prefix says so.
        let e = expect_err(other.aead().unwrap().decrypt(&ct, b"ad"), "wrong key");
        let id = keyset.primary_id().0;
        assert!(
            matches!(e, Error::UnknownKey(found) if found == id),
            "wrong key: {e:?}"
        );
        push("wrong key", e);

        for dek in [Algorithm::Aes256GcmSiv, Algorithm::Aes256Gcm] {
            let envelope = keyset.envelope(dek).unwrap();
            let sealed = envelope.encrypt(b"payload", b"ad").unwrap();
            let e = expect_err(envelope.decrypt(&sealed[..59], b"ad"), "short envelope");
            assert!(
                matches!(e, Error::CiphertextTooShort { len: 59, min: 60 }),
                "short envelope: {e:?}"
            );
            push("short envelope", e);
            let e = expect_err(envelope.decrypt(&sealed[..sealed.len() - 1], b"ad"), "cut");
            assert!(matches!(e, Error::Decryption), "truncated envelope: {e:?}");
            push("truncated envelope", e);
            let e = expect_err(EnvelopeCiphertext::from_bytes(&sealed[..10]), "split");
            assert!(
                matches!(e, Error::CiphertextTooShort { .. }),
                "split: {e:?}"
            );
            push("short split", e);
            let mut huge = sealed.clone();
            huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
            let e = expect_err(EnvelopeCiphertext::from_bytes(&huge), "length past the end");
            assert!(matches!(e, Error::CiphertextTooShort { .. }), "{e:?}");
            let e = expect_err(envelope.decrypt(&huge, b"ad"), "length past the end");
            assert!(matches!(e, Error::CiphertextTooShort { .. }), "{e:?}");
            push("length past the end", e);
            let split = EnvelopeCiphertext::from_bytes(&sealed).unwrap();
            let e = expect_err(
                envelope.decrypt_parts(&split.wrapped_dek, &split.payload[..20], b"ad"),
                "short payload",
            );
            assert!(
                matches!(e, Error::CiphertextTooShort { len: 20, min: 28 }),
                "{e:?}"
            );
            push("short payload", e);
            let e = expect_err(envelope.rewrap(&sealed[..30]), "short rewrap");
            assert!(matches!(e, Error::CiphertextTooShort { .. }), "{e:?}");
            push("short rewrap", e);
            let e = expect_err(envelope.decrypt(&sealed, b"other ad"), "wrong ad");
            assert!(matches!(e, Error::Decryption), "{e:?}");
            push("envelope wrong ad", e);
            let e = expect_err(
                other.envelope(dek).unwrap().decrypt(&sealed, b"ad"),
                "wrong kek",
            );
            assert!(
                matches!(e, Error::UnknownKey(found) if found == id),
                "{e:?}"
            );
            push("envelope wrong KEK", e);
            // A KEK ciphertext of something that is not a data key.
            let not_a_key = EnvelopeCiphertext {
                wrapped_dek: aead.encrypt(&[0xff; 40], b"").unwrap(),
                payload: split.payload.clone(),
            };
            let e = expect_err(envelope.decrypt(&not_a_key.to_bytes(), b"ad"), "not a DEK");
            assert!(matches!(e, Error::InvalidDataKey(_)), "{e:?}");
            push("wrapped value is not a DEK", e);
        }
    }
}

#[test]
fn bad_ciphertexts_give_specific_errors() {
    let mut secrets = Secrets::default();
    let mut produced = Vec::new();
    bad_ciphertexts(&mut secrets, &mut produced);
    assert!(produced.len() > 20);
}

// ---------------------------------------------------------------- encrypted keysets

fn bad_encrypted(secrets: &mut Secrets, produced: &mut Vec<Produced>) {
    let mut push = |what: &'static str, error: Error| produced.push(Produced { what, error });
    let master = Keyset::generate(Template::AES256_GCM);
    let wrong_master = Keyset::generate(Template::AES256_GCM);
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    for k in [&master, &wrong_master, &keyset] {
        secrets.add_keyset(k);
    }
    let master_aead = master.aead().unwrap();
    let json = keyset.to_encrypted_json(&master_aead, b"ad").unwrap();
    let binary = keyset.to_encrypted_binary(&master_aead, b"ad").unwrap();

    for encrypted in [json.as_bytes(), binary.as_slice()] {
        let e = expect_err(
            Keyset::parse_encrypted(encrypted, &wrong_master.aead().unwrap(), b"ad"),
            "wrong master",
        );
        let id = master.primary_id().0;
        assert!(
            matches!(e, Error::UnknownKey(found) if found == id),
            "wrong master: {e:?}"
        );
        push("wrong master", e);
        let e = expect_err(
            Keyset::parse_encrypted(encrypted, &master_aead, b"da"),
            "wrong ad",
        );
        assert!(matches!(e, Error::Decryption), "wrong ad: {e:?}");
        push("wrong master ad", e);
    }
    // A master that is the keyset itself (a classic mix-up).
    let e = expect_err(
        Keyset::parse_encrypted(json.as_bytes(), &keyset.aead().unwrap(), b"ad"),
        "keyset as its own master",
    );
    let id = master.primary_id().0;
    assert!(
        matches!(e, Error::UnknownKey(found) if found == id),
        "{e:?}"
    );
    push("keyset as master", e);

    let value: Value = serde_json::from_str(&json).unwrap();
    let sealed = value["encryptedKeyset"].as_str().unwrap().to_owned();
    let e = expect_err(
        Keyset::parse_encrypted(
            json.replace(&sealed, "AAAA").as_bytes(),
            &master_aead,
            b"ad",
        ),
        "short encrypted keyset",
    );
    assert!(
        matches!(e, Error::CiphertextTooShort { len: 3, .. }),
        "{e:?}"
    );
    push("short encrypted keyset", e);
    let e = expect_err(
        Keyset::parse_encrypted(
            json.replace(&sealed, &sealed[1..]).as_bytes(),
            &master_aead,
            b"ad",
        ),
        "encrypted keyset bad base64",
    );
    assert!(
        matches!(
            e,
            Error::Base64 {
                field: "encryptedKeyset"
            }
        ),
        "{e:?}"
    );
    push("encrypted keyset bad base64", e);
    let e = expect_err(
        Keyset::parse_encrypted(&json.as_bytes()[..json.len() / 2], &master_aead, b"ad"),
        "encrypted keyset cut",
    );
    assert!(matches!(e, Error::Json(_)), "{e:?}");
    push("encrypted keyset cut", e);
    let e = expect_err(
        Keyset::parse_encrypted(b"{\"keysetInfo\": {}}", &master_aead, b"ad"),
        "no encryptedKeyset",
    );
    assert!(matches!(e, Error::Json(_)), "{e:?}");
    push("no encryptedKeyset", e);
    let e = expect_err(
        Keyset::parse_encrypted(&[0xff; 40], &master_aead, b"ad"),
        "encrypted garbage",
    );
    assert!(
        matches!(
            e,
            Error::Protobuf {
                what: "encrypted keyset",
                ..
            }
        ),
        "{e:?}"
    );
    push("encrypted garbage", e);
    // Authentic ciphertext of something that is not a keyset.
    let not_a_keyset = format!(
        "{{\"encryptedKeyset\": \"{}\"}}",
        STANDARD.encode(master_aead.encrypt(&[0xff; 40], b"ad").unwrap())
    );
    let e = expect_err(
        Keyset::parse_encrypted(not_a_keyset.as_bytes(), &master_aead, b"ad"),
        "not a keyset",
    );
    assert!(matches!(e, Error::Protobuf { what: "keyset", .. }), "{e:?}");
    push("encrypted non-keyset", e);
}

#[test]
fn bad_encrypted_keysets_give_specific_errors() {
    let mut secrets = Secrets::default();
    let mut produced = Vec::new();
    bad_encrypted(&mut secrets, &mut produced);
    assert!(produced.len() >= 10);
}

// ---------------------------------------------------------------- key management

/// A keyset of every kind of key: primary, RAW, disabled, destroyed, and an
/// HMAC key this crate keeps without using.
fn mixed_keyset(secrets: &mut Secrets) -> (Keyset, KeyId, KeyId, KeyId) {
    let mut keyset = Keyset::generate(Template::AES256_GCM_SIV);
    keyset.add(Template {
        algorithm: Algorithm::Aes128Gcm,
        prefix: OutputPrefix::Raw,
    });
    let disabled = keyset.add(Template::AES256_GCM);
    keyset.disable(disabled).unwrap();
    let destroyed = keyset.add(Template::AES256_GCM);
    secrets.add_keyset(&keyset); // before destroying: its material too
    keyset.destroy(destroyed).unwrap();

    let hmac_value = {
        let mut v = vec![0x12, 0x04, 0x08, 0x03, 0x10, 0x20, 0x1a, 0x20];
        v.extend_from_slice(&random_key(32));
        v
    };
    secrets.add_proto(&hmac_value);
    let mut json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
    json["key"].as_array_mut().unwrap().push(key_entry(
        99,
        "ENABLED",
        "TINK",
        HMAC_TYPE_URL,
        &hmac_value,
    ));
    let keyset = Keyset::parse(json.to_string().as_bytes()).unwrap();
    (keyset, disabled, destroyed, KeyId(99))
}

fn bad_management(secrets: &mut Secrets, produced: &mut Vec<Produced>) {
    let mut push = |what: &'static str, error: Error| produced.push(Produced { what, error });
    let (mut keyset, disabled, destroyed, hmac) = mixed_keyset(secrets);
    let primary = keyset.primary_id();
    let before = keyset.insecure_to_binary();

    type Op = Box<dyn Fn(&mut Keyset) -> Result<(), Error>>;
    let unknown = KeyId(12345);
    let cases: Vec<(&'static str, Op)> = vec![
        ("promote unknown", Box::new(move |k| k.promote(unknown))),
        ("promote disabled", Box::new(move |k| k.promote(disabled))),
        ("promote destroyed", Box::new(move |k| k.promote(destroyed))),
        ("promote HMAC", Box::new(move |k| k.promote(hmac))),
        ("enable destroyed", Box::new(move |k| k.enable(destroyed))),
        ("enable unknown", Box::new(move |k| k.enable(unknown))),
        ("disable primary", Box::new(move |k| k.disable(primary))),
        ("disable destroyed", Box::new(move |k| k.disable(destroyed))),
        ("disable unknown", Box::new(move |k| k.disable(unknown))),
        ("destroy primary", Box::new(move |k| k.destroy(primary))),
        ("destroy unknown", Box::new(move |k| k.destroy(unknown))),
    ];
    for (what, op) in cases {
        let e = expect_err(op(&mut keyset), what);
        let expected = match what {
            w if w.ends_with("unknown") => matches!(e, Error::KeyNotFound(12345)),
            "promote HMAC" => {
                matches!(&e, Error::UnsupportedKeyType { key_id: 99, type_url } if type_url == HMAC_TYPE_URL)
            }
            _ => matches!(e, Error::InvalidTransition { .. }),
        };
        assert!(expected, "{what}: {e:?}");
        assert_eq!(
            keyset.insecure_to_binary(),
            before,
            "{what} changed the keyset"
        );
        push("management", e);
    }
}

#[test]
fn refused_key_management_changes_nothing() {
    let mut secrets = Secrets::default();
    let mut produced = Vec::new();
    bad_management(&mut secrets, &mut produced);
    assert_eq!(produced.len(), 11);
}

// ---------------------------------------------------------------- hygiene

#[test]
fn nothing_printed_carries_key_material() {
    let (mut produced, mut secrets) = bad_inputs();
    bad_ciphertexts(&mut secrets, &mut produced);
    bad_encrypted(&mut secrets, &mut produced);
    bad_management(&mut secrets, &mut produced);

    for Produced { what, error } in &produced {
        secrets.assert_absent(what, &format!("{error:?}"));
        secrets.assert_absent(what, &format!("{error}"));
        secrets.assert_absent(what, &format!("{error:#?}"));
    }

    let (keyset, _, _, _) = mixed_keyset(&mut secrets);
    let aead = keyset.aead().unwrap();
    let envelope: Envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
    let sealed = envelope.encrypt_parts(b"x", b"y").unwrap();
    for (what, printed) in [
        ("Keyset Debug", format!("{keyset:?}")),
        ("Keyset Debug (pretty)", format!("{keyset:#?}")),
        ("Keyset Display", format!("{keyset}")),
        ("KeyInfo Debug", format!("{:?}", keyset.list())),
        ("Aead Debug", format!("{aead:?}")),
        ("Aead Debug (pretty)", format!("{aead:#?}")),
        ("Envelope Debug", format!("{envelope:?}")),
        ("Envelope Debug (pretty)", format!("{envelope:#?}")),
        ("EnvelopeCiphertext Debug", format!("{sealed:?}")),
    ] {
        secrets.assert_absent(what, &printed);
    }
    // The keysets of the Tink vectors as well.
    let vectors: Value = serde_json::from_str(include_str!("vectors/tink_vectors.json")).unwrap();
    let mut tink = Secrets::default();
    for set in vectors["aead"].as_array().unwrap() {
        let keyset =
            Keyset::parse(set["keyset"]["cleartext_json"].as_str().unwrap().as_bytes()).unwrap();
        tink.add_keyset(&keyset);
        let aead = keyset.aead().unwrap();
        tink.assert_absent(
            "Tink keyset Debug",
            &format!("{keyset:?} {keyset} {aead:?}"),
        );
        let envelope = Envelope::new(aead, Algorithm::Aes256Gcm);
        tink.assert_absent("Tink envelope Debug", &format!("{envelope:?}"));
    }

    // The check itself finds what it looks for.
    let json = keyset.insecure_to_json();
    let leaked = std::panic::catch_unwind(|| secrets.assert_absent("self-check", &json));
    assert!(
        leaked.is_err(),
        "the hygiene check does not see base64 key values"
    );
    let hex_dump = hex::encode(keyset.insecure_to_binary());
    let leaked = std::panic::catch_unwind(|| secrets.assert_absent("self-check", &hex_dump));
    assert!(
        leaked.is_err(),
        "the hygiene check does not see hex key values"
    );
}
