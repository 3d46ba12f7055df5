//! Properties of the AEAD, the envelope and key management, checked with
//! `proptest`: round trips, tamper and truncation resistance, no panic on
//! arbitrary input, and the key-management invariants (an enabled primary
//! always, failed operations change nothing, old ciphertexts open exactly
//! while their key is enabled).

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use stream_keyset::{
    Aead, Algorithm, Envelope, EnvelopeCiphertext, Error, KeyId, KeyStatus, Keyset, OutputPrefix,
    Template, NONCE_LEN, PREFIX_LEN, TAG_LEN,
};

/// The keyset shapes under test: both algorithms, TINK and RAW prefixes.
const TEMPLATES: [Template; 4] = [
    Template {
        algorithm: Algorithm::Aes256GcmSiv,
        prefix: OutputPrefix::Tink,
    },
    Template {
        algorithm: Algorithm::Aes256GcmSiv,
        prefix: OutputPrefix::Raw,
    },
    Template {
        algorithm: Algorithm::Aes256Gcm,
        prefix: OutputPrefix::Tink,
    },
    Template {
        algorithm: Algorithm::Aes256Gcm,
        prefix: OutputPrefix::Raw,
    },
];

/// The data-key algorithms of the envelope.
const DEKS: [Algorithm; 2] = [Algorithm::Aes256GcmSiv, Algorithm::Aes256Gcm];

/// One generated keyset per template, made once per test binary.
fn keysets() -> &'static [Keyset] {
    static KEYSETS: OnceLock<Vec<Keyset>> = OnceLock::new();
    KEYSETS.get_or_init(|| TEMPLATES.iter().map(|t| Keyset::generate(*t)).collect())
}

fn aead(template: usize) -> Aead {
    keysets()[template].aead().unwrap()
}

fn envelope(template: usize, dek: usize) -> Envelope {
    keysets()[template].envelope(DEKS[dek]).unwrap()
}

fn prefix_len(template: usize) -> usize {
    match TEMPLATES[template].prefix {
        OutputPrefix::Raw => 0,
        _ => PREFIX_LEN,
    }
}

/// Any way of saying no: a failed authentication, a ciphertext too short,
/// or a prefix naming a key the keyset does not hold or holds disabled (a
/// bit flipped in the prefix, or in the random nonce of a RAW ciphertext).
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::Decryption
            | Error::CiphertextTooShort { .. }
            | Error::UnknownKey(_)
            | Error::KeyNotEnabled { .. }
    )
}

fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..4096)
}

fn aad() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------- round trips

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn aead_round_trips(t in 0..TEMPLATES.len(), pt in plaintext(), aad in aad()) {
        let aead = aead(t);
        let ct = aead.encrypt(&pt, &aad).unwrap();
        prop_assert_eq!(ct.len(), prefix_len(t) + NONCE_LEN + pt.len() + TAG_LEN);
        if prefix_len(t) == PREFIX_LEN {
            prop_assert_eq!(ct[0], 1);
            prop_assert_eq!(&ct[1..PREFIX_LEN], &aead.primary_id().0.to_be_bytes()[..]);
        }
        prop_assert_eq!(aead.decrypt(&ct, &aad).unwrap(), pt);
    }

    #[test]
    fn envelope_round_trips(
        t in 0..TEMPLATES.len(),
        dek in 0..DEKS.len(),
        pt in plaintext(),
        aad in aad(),
    ) {
        let envelope = envelope(t, dek);
        let ct = envelope.encrypt(&pt, &aad).unwrap();
        let wrapped_len = prefix_len(t) + NONCE_LEN + 34 + TAG_LEN;
        prop_assert_eq!(ct.len(), 4 + wrapped_len + NONCE_LEN + pt.len() + TAG_LEN);
        let split = EnvelopeCiphertext::from_bytes(&ct).unwrap();
        prop_assert_eq!(split.wrapped_dek.len(), wrapped_len);
        prop_assert_eq!(split.to_bytes(), ct.clone());
        prop_assert_eq!(envelope.decrypt(&ct, &aad).unwrap(), pt.clone());
        prop_assert_eq!(envelope.decrypt_parts(&split.wrapped_dek, &split.payload, &aad).unwrap(), pt.clone());

        let parts = envelope.encrypt_parts(&pt, &aad).unwrap();
        prop_assert_eq!(envelope.decrypt(&parts.to_bytes(), &aad).unwrap(), pt.clone());
        let rewrapped = envelope.rewrap(&ct).unwrap();
        prop_assert_eq!(&EnvelopeCiphertext::from_bytes(&rewrapped).unwrap().payload, &split.payload);
        prop_assert_eq!(envelope.decrypt(&rewrapped, &aad).unwrap(), pt);
    }
}

// ------------------------------------------------------------- tampering

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn aead_any_bit_flip_is_refused(
        t in 0..TEMPLATES.len(),
        pt in prop::collection::vec(any::<u8>(), 0..256),
        aad in aad(),
        at in any::<Index>(),
        bit in 0u8..8,
    ) {
        let aead = aead(t);
        let mut ct = aead.encrypt(&pt, &aad).unwrap();
        let at = at.index(ct.len());
        ct[at] ^= 1 << bit;
        let err = aead.decrypt(&ct, &aad).unwrap_err();
        prop_assert!(is_refusal(&err), "{:?}", err);
    }

    #[test]
    fn envelope_any_bit_flip_is_refused(
        t in 0..TEMPLATES.len(),
        dek in 0..DEKS.len(),
        pt in prop::collection::vec(any::<u8>(), 0..256),
        aad in aad(),
        at in any::<Index>(),
        bit in 0u8..8,
    ) {
        let envelope = envelope(t, dek);
        let mut ct = envelope.encrypt(&pt, &aad).unwrap();
        let at = at.index(ct.len());
        ct[at] ^= 1 << bit;
        let err = envelope.decrypt(&ct, &aad).unwrap_err();
        prop_assert!(is_refusal(&err), "{:?}", err);
    }

    #[test]
    fn a_different_aad_is_refused(
        t in 0..TEMPLATES.len(),
        dek in 0..DEKS.len(),
        pt in prop::collection::vec(any::<u8>(), 0..256),
        aad in aad(),
        other in aad(),
    ) {
        prop_assume!(aad != other);
        let aead = aead(t);
        let ct = aead.encrypt(&pt, &aad).unwrap();
        prop_assert!(matches!(aead.decrypt(&ct, &other), Err(Error::Decryption)));
        let envelope = envelope(t, dek);
        let ct = envelope.encrypt(&pt, &aad).unwrap();
        prop_assert!(matches!(envelope.decrypt(&ct, &other), Err(Error::Decryption)));
    }

    #[test]
    fn any_truncation_is_refused(
        t in 0..TEMPLATES.len(),
        dek in 0..DEKS.len(),
        pt in prop::collection::vec(any::<u8>(), 0..256),
        aad in aad(),
        keep in any::<Index>(),
        from_front in any::<bool>(),
    ) {
        let aead = aead(t);
        let ct = aead.encrypt(&pt, &aad).unwrap();
        let keep = keep.index(ct.len()); // 0..len: always shorter
        let cut = if from_front { &ct[ct.len() - keep..] } else { &ct[..keep] };
        let err = aead.decrypt(cut, &aad).unwrap_err();
        prop_assert!(is_refusal(&err), "{:?}", err);

        let envelope = envelope(t, dek);
        let ct = envelope.encrypt(&pt, &aad).unwrap();
        let keep = keep.min(ct.len() - 1);
        let cut = if from_front { &ct[ct.len() - keep..] } else { &ct[..keep] };
        let err = envelope.decrypt(cut, &aad).unwrap_err();
        prop_assert!(is_refusal(&err), "{:?}", err);
        if let Ok(split) = EnvelopeCiphertext::from_bytes(cut) {
            prop_assert!(envelope.decrypt_parts(&split.wrapped_dek, &split.payload, &aad).is_err());
        }
    }
}

// ------------------------------------------------------------- no panic

/// Arbitrary bytes, and valid inputs with a few bytes changed, cut or
/// appended (which reach deeper than random bytes).
fn mangled(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len().max(1);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (prop::collection::vec((0..len, any::<u8>()), 1..6)).prop_map({
            let valid = valid.clone();
            move |edits| {
                let mut out = valid.clone();
                for (at, byte) in edits {
                    if at < out.len() {
                        out[at] = byte;
                    }
                }
                out
            }
        }),
        (0..len, prop::collection::vec(any::<u8>(), 0..64)).prop_map(move |(keep, tail)| {
            let mut out = valid[..keep.min(valid.len())].to_vec();
            out.extend_from_slice(&tail);
            out
        }),
    ]
}

fn master() -> &'static Keyset {
    static MASTER: OnceLock<Keyset> = OnceLock::new();
    MASTER.get_or_init(|| Keyset::generate(Template::AES256_GCM))
}

fn sample_keyset() -> &'static Keyset {
    static KEYSET: OnceLock<Keyset> = OnceLock::new();
    KEYSET.get_or_init(|| {
        let mut keyset = Keyset::generate(Template::AES256_GCM_SIV);
        keyset.add(TEMPLATES[3]);
        let disabled = keyset.add(TEMPLATES[2]);
        keyset.disable(disabled).unwrap();
        let destroyed = keyset.add(TEMPLATES[1]);
        keyset.destroy(destroyed).unwrap();
        keyset
    })
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn decrypt_never_panics(
        bytes in mangled(aead(0).encrypt(b"some plaintext", b"aad").unwrap()),
        t in 0..TEMPLATES.len(),
    ) {
        match aead(t).decrypt(&bytes, b"aad") {
            Ok(_) => prop_assert_eq!(t, 0),
            Err(e) => prop_assert!(is_refusal(&e), "{:?}", e),
        }
    }

    #[test]
    fn envelope_decrypt_never_panics(
        bytes in mangled(envelope(0, 0).encrypt(b"some plaintext", b"aad").unwrap()),
        t in 0..TEMPLATES.len(),
        dek in 0..DEKS.len(),
    ) {
        let envelope = envelope(t, dek);
        if let Err(e) = envelope.decrypt(&bytes, b"aad") {
            prop_assert!(is_refusal(&e), "{:?}", e);
        }
        let _ = envelope.rewrap(&bytes);
        if let Ok(split) = EnvelopeCiphertext::from_bytes(&bytes) {
            prop_assert_eq!(split.to_bytes(), bytes.clone());
            let _ = envelope.decrypt_parts(&split.wrapped_dek, &split.payload, b"aad");
            let _ = envelope.rewrap_dek(&split.wrapped_dek);
            let _ = envelope.is_wrapped_by_primary(&split.wrapped_dek);
        }
    }

    #[test]
    fn envelope_ciphertext_from_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        match EnvelopeCiphertext::from_bytes(&bytes) {
            Ok(split) => prop_assert_eq!(split.to_bytes(), bytes),
            Err(e) => prop_assert!(matches!(e, Error::CiphertextTooShort { .. }), "{:?}", e),
        }
    }

    #[test]
    fn parse_binary_never_panics(bytes in mangled(sample_keyset().insecure_to_binary())) {
        if let Ok(keyset) = Keyset::parse(&bytes) {
            // Whatever parses is a valid keyset that writes back and reads again.
            let again = Keyset::parse(&keyset.insecure_to_binary()).unwrap();
            prop_assert_eq!(again.insecure_to_binary(), keyset.insecure_to_binary());
            let _ = keyset.aead();
        }
    }

    #[test]
    fn parse_json_never_panics(bytes in mangled(sample_keyset().insecure_to_json().into_bytes())) {
        if let Ok(keyset) = Keyset::parse(&bytes) {
            let again = Keyset::parse(keyset.insecure_to_json().as_bytes()).unwrap();
            prop_assert_eq!(again.insecure_to_binary(), keyset.insecure_to_binary());
            let _ = keyset.aead();
        }
    }

    #[test]
    fn parse_encrypted_never_panics(
        bytes in prop_oneof![
            mangled(sample_keyset().to_encrypted_json(&master().aead().unwrap(), b"ad").unwrap().into_bytes()),
            mangled(sample_keyset().to_encrypted_binary(&master().aead().unwrap(), b"ad").unwrap()),
        ],
    ) {
        let _ = Keyset::parse_encrypted(&bytes, &master().aead().unwrap(), b"ad");
    }
}

// ------------------------------------------------------------- key management

#[derive(Clone, Debug)]
enum Op {
    Add(usize),
    Promote(usize),
    Enable(usize),
    Disable(usize),
    Destroy(usize),
}

fn op() -> impl Strategy<Value = Op> {
    // The key index is taken modulo the key count + 1: the extra slot is an
    // id the keyset does not hold.
    prop_oneof![
        1 => (0..TEMPLATES.len()).prop_map(Op::Add),
        2 => any::<usize>().prop_map(Op::Promote),
        2 => any::<usize>().prop_map(Op::Enable),
        2 => any::<usize>().prop_map(Op::Disable),
        1 => any::<usize>().prop_map(Op::Destroy),
    ]
}

/// What the keyset should look like: statuses by id, the primary, and which
/// key cannot be primary (a type this crate does not implement).
struct Model {
    keys: Vec<(KeyId, KeyStatus)>,
    primary: KeyId,
    unsupported: KeyId,
}

impl Model {
    fn status(&self, id: KeyId) -> Option<KeyStatus> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, s)| *s)
    }

    fn set(&mut self, id: KeyId, status: KeyStatus) {
        for key in &mut self.keys {
            if key.0 == id {
                key.1 = status;
            }
        }
    }

    fn pick(&self, i: usize) -> KeyId {
        let i = i % (self.keys.len() + 1);
        self.keys.get(i).map_or(KeyId(0), |k| k.0) // 0: never generated
    }
}

/// A keyset to start from: a fresh AES-GCM-SIV primary next to an HMAC key
/// (Tink's, from the vectors) that must be kept but can never be primary.
fn start() -> (Keyset, KeyId) {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("vectors/tink_vectors.json")).unwrap();
    let hmac_keyset: serde_json::Value = serde_json::from_str(
        vectors["mac"][0]["keyset"]["cleartext_json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let hmac_key = hmac_keyset["key"][0].clone();
    let hmac_id = KeyId(hmac_key["keyId"].as_u64().unwrap() as u32);
    let mut json: serde_json::Value =
        serde_json::from_str(&Keyset::generate(Template::AES256_GCM_SIV).insecure_to_json())
            .unwrap();
    json["key"].as_array_mut().unwrap().push(hmac_key);
    (Keyset::parse(json.to_string().as_bytes()).unwrap(), hmac_id)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn key_management_keeps_its_invariants(ops in prop::collection::vec(op(), 1..32)) {
        let (mut keyset, hmac) = start();
        let mut model = Model {
            keys: keyset.list().iter().map(|k| (k.id, k.status)).collect(),
            primary: keyset.primary_id(),
            unsupported: hmac,
        };
        // Ciphertexts made along the way: (key that made it, aead, envelope).
        let mut made: Vec<(KeyId, Vec<u8>, Vec<u8>)> = Vec::new();

        for op in ops {
            let before = keyset.insecure_to_binary();
            let (result, expected_ok) = match op {
                Op::Add(t) => {
                    let id = keyset.add(TEMPLATES[t]);
                    prop_assert!(model.status(id).is_none() && id != KeyId(0), "fresh id");
                    model.keys.push((id, KeyStatus::Enabled));
                    (Ok(()), true)
                }
                Op::Promote(i) => {
                    let id = model.pick(i);
                    let ok = model.status(id) == Some(KeyStatus::Enabled) && id != model.unsupported;
                    let result = keyset.promote(id);
                    if ok {
                        model.primary = id;
                    }
                    (result, ok)
                }
                Op::Enable(i) => {
                    let id = model.pick(i);
                    let ok = matches!(model.status(id), Some(KeyStatus::Enabled | KeyStatus::Disabled));
                    let result = keyset.enable(id);
                    if ok {
                        model.set(id, KeyStatus::Enabled);
                    }
                    (result, ok)
                }
                Op::Disable(i) => {
                    let id = model.pick(i);
                    let ok = id != model.primary
                        && matches!(model.status(id), Some(KeyStatus::Enabled | KeyStatus::Disabled));
                    let result = keyset.disable(id);
                    if ok {
                        model.set(id, KeyStatus::Disabled);
                    }
                    (result, ok)
                }
                Op::Destroy(i) => {
                    let id = model.pick(i);
                    let ok = id != model.primary && model.status(id).is_some();
                    let result = keyset.destroy(id);
                    if ok {
                        model.set(id, KeyStatus::Destroyed);
                    }
                    (result, ok)
                }
            };
            prop_assert_eq!(result.is_ok(), expected_ok, "{:?}: {:?}", op, result);
            if let Err(e) = &result {
                // A failed operation changes nothing.
                prop_assert_eq!(&keyset.insecure_to_binary(), &before, "{:?} failed with {:?} but changed the keyset", op, e);
                let typed = matches!(
                    e,
                    Error::KeyNotFound(_) | Error::InvalidTransition { .. } | Error::UnsupportedKeyType { .. }
                );
                prop_assert!(typed, "{:?}", e);
            }

            // The keyset is what the model says, and always has an enabled primary.
            prop_assert_eq!(keyset.primary_id(), model.primary);
            let listed: Vec<(KeyId, KeyStatus)> = keyset.list().iter().map(|k| (k.id, k.status)).collect();
            prop_assert_eq!(&listed, &model.keys);
            prop_assert_eq!(model.status(model.primary), Some(KeyStatus::Enabled));
            let aead = keyset.aead().unwrap();
            prop_assert_eq!(aead.primary_id(), model.primary);
            let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();

            // It still reads back in both forms.
            let binary = keyset.insecure_to_binary();
            prop_assert_eq!(&Keyset::parse(&binary).unwrap().insecure_to_binary(), &binary);
            prop_assert_eq!(&Keyset::parse(keyset.insecure_to_json().as_bytes()).unwrap().insecure_to_binary(), &binary);

            // Old ciphertexts open exactly while the key that made them is enabled.
            let info = keyset.list();
            for (id, ct, sealed) in &made {
                let status = model.status(*id);
                let enabled = status == Some(KeyStatus::Enabled);
                let raw = info.iter().any(|k| k.id == *id && k.prefix == OutputPrefix::Raw);
                // A TINK ciphertext of a key kept DISABLED or DESTROYED says
                // so; a RAW one cannot be told from a forgery (and its random
                // nonce may look like a prefix of an unknown key).
                let refused_as_expected = |e: &Error| match e {
                    Error::KeyNotEnabled { key_id, status: s } => {
                        !raw && *key_id == id.0 && Some(*s) == status
                    }
                    Error::Decryption | Error::UnknownKey(_) => raw,
                    _ => false,
                };
                let opened = aead.decrypt(ct, b"ad");
                prop_assert_eq!(opened.is_ok(), enabled, "key {} is {:?}: {:?}", id, status, opened);
                match opened {
                    Ok(pt) => prop_assert_eq!(pt, id.0.to_be_bytes().to_vec()),
                    Err(e) => prop_assert!(refused_as_expected(&e), "key {} is {:?}: {:?}", id, status, e),
                }
                let opened = envelope.decrypt(sealed, b"ad");
                prop_assert_eq!(opened.is_ok(), enabled, "envelope of key {}: {:?}", id, opened);
                if let Err(e) = opened {
                    prop_assert!(refused_as_expected(&e), "envelope of key {} is {:?}: {:?}", id, status, e);
                }
            }
            made.push((
                model.primary,
                aead.encrypt(&model.primary.0.to_be_bytes(), b"ad").unwrap(),
                envelope.encrypt(&model.primary.0.to_be_bytes(), b"ad").unwrap(),
            ));
        }
    }
}

#[test]
fn rotation_then_disable_and_destroy() {
    for template in TEMPLATES {
        let mut keyset = Keyset::generate(template);
        let old = keyset.primary_id();
        let before = keyset.aead().unwrap().encrypt(b"before", b"ad").unwrap();
        let sealed = keyset
            .envelope(Algorithm::Aes256GcmSiv)
            .unwrap()
            .encrypt(b"sealed", b"ad")
            .unwrap();

        let new = keyset.add(Template::AES256_GCM_SIV);
        // Added, not yet primary: encryption still uses the old key.
        assert_eq!(keyset.aead().unwrap().primary_id(), old);
        keyset.promote(new).unwrap();
        let aead = keyset.aead().unwrap();
        assert_eq!(aead.primary_id(), new);
        assert_eq!(aead.decrypt(&before, b"ad").unwrap(), b"before");
        let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
        assert_eq!(envelope.decrypt(&sealed, b"ad").unwrap(), b"sealed");
        let rewrapped = envelope.rewrap(&sealed).unwrap();

        // What a refusal of the old key's ciphertexts must be: a TINK one
        // names the key and its status; a RAW one is opaque (or, when its
        // random nonce starts like a prefix, names an unknown key).
        let refused = |result: Result<Vec<u8>, Error>, expected: KeyStatus| match result {
            Err(Error::KeyNotEnabled { key_id, status }) => {
                template.prefix != OutputPrefix::Raw && key_id == old.0 && status == expected
            }
            Err(Error::Decryption | Error::UnknownKey(_)) => template.prefix == OutputPrefix::Raw,
            _ => false,
        };

        keyset.disable(old).unwrap();
        let aead = keyset.aead().unwrap();
        assert!(refused(aead.decrypt(&before, b"ad"), KeyStatus::Disabled));
        let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
        assert!(refused(
            envelope.decrypt(&sealed, b"ad"),
            KeyStatus::Disabled
        ));
        assert_eq!(envelope.decrypt(&rewrapped, b"ad").unwrap(), b"sealed");

        keyset.enable(old).unwrap();
        assert_eq!(
            keyset.aead().unwrap().decrypt(&before, b"ad").unwrap(),
            b"before"
        );

        keyset.destroy(old).unwrap();
        assert!(refused(
            keyset.aead().unwrap().decrypt(&before, b"ad"),
            KeyStatus::Destroyed
        ));
        let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
        assert!(refused(
            envelope.decrypt(&sealed, b"ad"),
            KeyStatus::Destroyed
        ));
        assert!(matches!(
            keyset.enable(old),
            Err(Error::InvalidTransition { .. })
        ));
        assert!(matches!(
            keyset.promote(old),
            Err(Error::InvalidTransition { .. })
        ));
        let envelope = keyset.envelope(Algorithm::Aes256GcmSiv).unwrap();
        assert_eq!(envelope.decrypt(&rewrapped, b"ad").unwrap(), b"sealed");
        // The destroyed key holds no material any more.
        let json: serde_json::Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
        let destroyed = json["key"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["keyId"].as_u64() == Some(u64::from(old.0)))
            .unwrap();
        // In the form Tink Java reads: key data without type or value.
        assert_eq!(
            destroyed["keyData"],
            serde_json::json!({"typeUrl": "", "value": "", "keyMaterialType": "SYMMETRIC"})
        );
        assert_eq!(destroyed["status"], "DESTROYED");
    }
}
