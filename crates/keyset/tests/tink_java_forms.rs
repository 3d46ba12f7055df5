//! What Tink (Java first) writes and reads, where it differs from a naive
//! reading of `tink.proto` (found by `tools/tink-java/run.sh`):
//!
//! - a DESTROYED key is written with key data of empty type URL and value
//!   and a known key material type: Tink Java's JSON reader refuses a key
//!   without `keyData` and `UNKNOWN_KEYMATERIAL` (which Tink Java itself
//!   writes), and a known type URL without its key fails its key parser;
//! - keys that are not primary may share an id (Tink accepts them); a change
//!   by such an id is refused as ambiguous; two ENABLED keys with the
//!   primary's id are refused, as Tink refuses them;
//! - an envelope's data key of a version other than 0 is a typed error;
//! - with duplicate ids, an ENABLED key of an unsupported type is named.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use stream_keyset::{
    Algorithm, EnvelopeCiphertext, Error, KeyId, KeyStatus, Keyset, OutputPrefix, Template,
};

/// The one key of a fresh keyset of `template`, as JSON, renumbered `id`.
fn key(template: Template, id: u32) -> Value {
    let json: Value = serde_json::from_str(&Keyset::generate(template).insecure_to_json()).unwrap();
    let mut key = json["key"][0].clone();
    key["keyId"] = json!(id);
    key
}

fn keyset(primary: u32, keys: Vec<Value>) -> String {
    json!({"primaryKeyId": primary, "key": keys}).to_string()
}

/// A keyset holding only `key`, as its primary.
fn alone(key: &Value) -> Keyset {
    let id = u32::try_from(key["keyId"].as_u64().unwrap()).unwrap();
    Keyset::parse(keyset(id, vec![key.clone()]).as_bytes()).unwrap()
}

fn with_status(mut key: Value, status: &str) -> Value {
    key["status"] = json!(status);
    key
}

const SIV: Template = Template::AES256_GCM_SIV;
const GCM: Template = Template::AES256_GCM;

#[test]
fn destroyed_keys_are_written_in_the_form_tink_java_reads() {
    let primary = key(SIV, 1);
    let material = key(GCM, 2);
    // What each Tink writes for a destroyed key: nothing (Tink C++/Python),
    // empty key data with UNKNOWN_KEYMATERIAL (Tink Java), and a key marked
    // DESTROYED that still holds its type and material (hand-edited).
    let forms = [
        json!({"status": "DESTROYED", "keyId": 2, "outputPrefixType": "TINK"}),
        json!({"keyData": {"typeUrl": "", "value": "", "keyMaterialType": "UNKNOWN_KEYMATERIAL"},
               "status": "DESTROYED", "keyId": 2, "outputPrefixType": "TINK"}),
        with_status(material.clone(), "DESTROYED"),
    ];
    let secret = material["keyData"]["value"].as_str().unwrap().to_owned();
    for form in forms {
        let text = keyset(1, vec![primary.clone(), form.clone()]);
        let mut read = Keyset::parse(text.as_bytes()).unwrap();
        // Written back (and after a change) in Tink Java's readable form.
        read.add(SIV);
        let written = read.insecure_to_json();
        assert!(!written.contains(&secret), "{form}: material kept");
        let json: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(
            json["key"][1]["keyData"],
            json!({"typeUrl": "", "value": "", "keyMaterialType": "SYMMETRIC"}),
            "{form}"
        );
        assert_eq!(json["key"][1]["status"], "DESTROYED");
        // The binary form holds the same key data (field 1 present).
        let binary = read.insecure_to_binary();
        let again = Keyset::parse(&binary).unwrap();
        assert_eq!(again.insecure_to_json(), written, "{form}");
        let info = &again.list()[1];
        assert_eq!(
            (info.status, info.type_url.as_str()),
            (KeyStatus::Destroyed, "")
        );
    }
    // And what `destroy` makes.
    let mut fresh = Keyset::parse(keyset(1, vec![primary, material]).as_bytes()).unwrap();
    fresh.destroy(KeyId(2)).unwrap();
    let json: Value = serde_json::from_str(&fresh.insecure_to_json()).unwrap();
    assert_eq!(
        json["key"][1]["keyData"],
        json!({"typeUrl": "", "value": "", "keyMaterialType": "SYMMETRIC"})
    );
}

#[test]
fn keys_that_are_not_primary_may_share_an_id() {
    let primary = key(SIV, 1);
    let first = key(GCM, 7);
    let second = key(
        Template {
            algorithm: Algorithm::ChaCha20Poly1305,
            prefix: OutputPrefix::Tink,
        },
        7,
    );
    let third = with_status(key(SIV, 7), "DISABLED");
    let text = keyset(
        1,
        vec![primary, first.clone(), second.clone(), third.clone()],
    );
    let mut keys = Keyset::parse(text.as_bytes()).unwrap();
    assert_eq!(keys.list().len(), 4);
    // Ciphertexts of each ENABLED key with that id decrypt; the DISABLED
    // one's are refused naming it.
    let aead = keys.aead().unwrap();
    for key in [&first, &second] {
        let ct = alone(key).aead().unwrap().encrypt(b"pt", b"ad").unwrap();
        assert_eq!(aead.decrypt(&ct, b"ad").unwrap(), b"pt");
    }
    let third_ct = alone(&with_status(third, "ENABLED"))
        .aead()
        .unwrap()
        .encrypt(b"pt", b"ad")
        .unwrap();
    assert!(aead.decrypt(&third_ct, b"ad").is_err());

    // Managing a key by that id is ambiguous: refused, nothing changed.
    let before = keys.insecure_to_binary();
    type Op = fn(&mut Keyset, KeyId) -> Result<(), Error>;
    let ops: [(&str, Op); 4] = [
        ("promote", Keyset::promote),
        ("enable", Keyset::enable),
        ("disable", Keyset::disable),
        ("destroy", Keyset::destroy),
    ];
    for (what, op) in ops {
        let e = op(&mut keys, KeyId(7)).unwrap_err();
        assert!(matches!(e, Error::AmbiguousKeyId(7)), "{what}: {e:?}");
        assert!(e.to_string().contains("id 7"), "{e}");
        assert_eq!(
            keys.insecure_to_binary(),
            before,
            "{what} changed the keyset"
        );
    }
    // The other keys are managed as usual.
    let new = keys.add(SIV);
    keys.promote(new).unwrap();
    keys.destroy(KeyId(1)).unwrap();
    let again = Keyset::parse(keys.insecure_to_json().as_bytes()).unwrap();
    assert_eq!(again.primary_id(), new);
}

#[test]
fn the_primary_id_must_name_one_enabled_key_as_in_tink() {
    let a = key(SIV, 5);
    let b = key(GCM, 5);
    // Two ENABLED keys with the primary's id: Tink's "multiple primary keys".
    let e = Keyset::parse(keyset(5, vec![a.clone(), b.clone()]).as_bytes()).unwrap_err();
    assert!(matches!(e, Error::DuplicateKeyId(5)), "{e:?}");
    assert!(e.to_string().contains("ENABLED"), "{e}");
    // The primary's id also on a DISABLED key after it: accepted, the
    // first encrypts (Tink Java takes the first key with the id).
    let ok =
        Keyset::parse(keyset(5, vec![a.clone(), with_status(b.clone(), "DISABLED")]).as_bytes())
            .unwrap();
    let ct = ok.aead().unwrap().encrypt(b"pt", b"").unwrap();
    assert_eq!(alone(&a).aead().unwrap().decrypt(&ct, b"").unwrap(), b"pt");
    // A DISABLED key first: Tink Java's primary is not enabled.
    let e = Keyset::parse(keyset(5, vec![with_status(b, "DISABLED"), a]).as_bytes()).unwrap_err();
    assert!(matches!(e, Error::PrimaryNotEnabled(5)), "{e:?}");
}

#[test]
fn a_data_key_tink_refuses_is_a_typed_error() {
    let keys = Keyset::generate(SIV);
    let envelope = keys.envelope(Algorithm::Aes256GcmSiv).unwrap();
    let good = EnvelopeCiphertext::from_bytes(&envelope.encrypt(b"pt", b"ad").unwrap()).unwrap();
    let aead = keys.aead().unwrap();
    let key = [0x5au8; 32];
    let mut v1 = vec![0x08, 0x01, 0x1a, 0x20];
    v1.extend_from_slice(&key);
    let mut short = vec![0x1a, 24];
    short.extend_from_slice(&key[..24]);
    for (proto, detail) in [(v1, "version 1"), (short, "24 bytes")] {
        let forged = EnvelopeCiphertext {
            wrapped_dek: aead.encrypt(&proto, b"").unwrap(),
            payload: good.payload.clone(),
        };
        let e = envelope.decrypt(&forged.to_bytes(), b"ad").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidDataKey(d) if d.contains(detail)),
            "{e:?}"
        );
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains("5a5a") && !shown.contains("90, 90"),
            "{shown}"
        );
    }
}

#[test]
fn an_unsupported_key_sharing_an_id_is_named() {
    const FOO: &str = "type.googleapis.com/google.crypto.tink.FooKey";
    let primary = key(SIV, 1);
    let disabled = with_status(key(GCM, 9), "DISABLED");
    let mut foo = key(SIV, 9);
    foo["keyData"]["typeUrl"] = json!(FOO);
    let keys = Keyset::parse(keyset(1, vec![primary, disabled, foo]).as_bytes()).unwrap();
    let mut ct = vec![1, 0, 0, 0, 9];
    ct.extend_from_slice(&[0x33; 40]);
    let e = keys.aead().unwrap().decrypt(&ct, b"").unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedKeyType { key_id: 9, type_url } if type_url == FOO),
        "{e:?}"
    );
}
