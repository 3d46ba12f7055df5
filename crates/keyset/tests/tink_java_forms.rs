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
use stream_keyset::{KeyId, KeyStatus, Keyset, Template};

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
