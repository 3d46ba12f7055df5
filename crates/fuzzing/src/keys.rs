//! The fixed keys and secrets of the fuzz targets: test values written
//! here, never read from a file or the environment, so that every run (on
//! nightly under libFuzzer, on stable in the corpus replay) and the seed
//! generator use the same ones. They protect nothing.

use std::sync::OnceLock;

use stream_chain::{Chainer, SealSecret, SealSecrets, Verifier};
use stream_keyset::{Aead, Algorithm, Envelope, Keyset};

/// The seal secret of the targets (test bytes).
pub const SEAL_SECRET: &[u8] = b"stream-fuzzing-seal-secret-0123456789";

/// The associated data of the AEAD and envelope ciphertexts of the
/// decryption target and its seeds.
pub const AAD: &[u8] = b"stream-fuzzing/aad";

/// The associated data of the encrypted keysets of the encrypted-keyset
/// target and its seeds.
pub const MASTER_AAD: &[u8] = b"stream-fuzzing/master";

/// The database, collection and document id of the sealed-document target.
pub const DOCUMENT_PLACE: (&str, &str, &str) = ("stream", "fuzzing", "doc-1");

/// A cleartext Tink keyset of thirteen keys: every algorithm of
/// `stream-keyset` and every output prefix (TINK, RAW, LEGACY, CRUNCHY),
/// primary AES-256-GCM-SIV. Generated once by `Keyset::generate` and
/// `Keyset::add`; test key material.
pub const TEST_KEYSET_JSON: &str = r#"{
 "primaryKeyId": 1735766178,
 "key": [
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmSivKey",
    "value": "GiA16tmmORlcWogEWAbUMQTQnf/jdA4jSZL1Ifv0uO4ksg==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 1735766178,
   "outputPrefixType": "TINK"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmSivKey",
    "value": "GiCpIwYqVuzFYdy29XQ/vDZN+JM8bR8cC4gcpRrCXyO2hg==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 581891546,
   "outputPrefixType": "RAW"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmSivKey",
    "value": "GhDW+VLxmUAARb/rMbGTHsoC",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 3593977574,
   "outputPrefixType": "LEGACY"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmKey",
    "value": "GiABeMMTE4+ZdHn9kRUPZ3YE+TA0KPhVUeztU4/ylb8/5Q==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 3465661924,
   "outputPrefixType": "CRUNCHY"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmKey",
    "value": "GhDw90E75dVYMXes1yG4JApV",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 2925548897,
   "outputPrefixType": "TINK"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesCtrHmacAeadKey",
    "value": "EhYSAggQGhA5aiep5wXjkeuyh7zLqAK+GigSBAgDEBAaIM+MWRQpSH8K/GqMB+rfBnEGU3fvHRnVAHDzb9SQgJRs",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 1899209935,
   "outputPrefixType": "RAW"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesCtrHmacAeadKey",
    "value": "EiYSAggQGiAprl+x0EIQ6bUcPR7YyUw8cYTfS4mOuprrso+BROhAcBooEgQIAxAgGiDlDG01lvH7AdHMae43pXM8OQRzOqTZjr5Xu5c2t6eNWA==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 1167923760,
   "outputPrefixType": "LEGACY"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesCtrHmacAeadKey",
    "value": "EhYSAggQGhARcVidjZAD6Mjh7xcIQfkvGkgSBAgEECAaQKTqSWNBTCR225qiDGIbAD+VjXlqATz+OwaRru139H8v/E8GgdXFSt+A0wOniML1c1JXqAZvZxH+6YR+PkgMSWo=",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 1339998806,
   "outputPrefixType": "CRUNCHY"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesCtrHmacAeadKey",
    "value": "EiYSAggQGiBNBZ2ZnuvkZEZXbnMF88XTxlUaFWiwvO+VXd5zV4iCgRpIEgQIBBBAGkBrcyyFsbGEOo7ZCBSPicigtquDlWcyWFRgQut59R7Em5HGUdzTn2/QMoEd/BjgwyAh+JuPUkU1eDAK4sguaSRb",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 769804553,
   "outputPrefixType": "TINK"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesEaxKey",
    "value": "EgIIEBoQ8vxqSplZ1Wp1TPaih13lsg==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 3216029095,
   "outputPrefixType": "RAW"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesEaxKey",
    "value": "EgIIEBogzPaBg0uPGVuv57vB6TUkd61Cx0LiZnFYF59DUwOVdCE=",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 3008675673,
   "outputPrefixType": "LEGACY"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.ChaCha20Poly1305Key",
    "value": "EiDvrT6BM/xho5/vsQeXpYxEHyyQS0aq9WzfV5jegN1oUQ==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 1010068163,
   "outputPrefixType": "CRUNCHY"
  },
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.XChaCha20Poly1305Key",
    "value": "GiCOfxQcicNqAc3BVOw0Ep/EH1bTuC7nyTsGjviIt1W49A==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 3591572566,
   "outputPrefixType": "TINK"
  }
 ]
}"#;

/// The master keyset (one AES-256-GCM key) that encrypts keysets for the
/// encrypted-keyset target; test key material.
pub const MASTER_KEYSET_JSON: &str = r#"{
 "primaryKeyId": 585923220,
 "key": [
  {
   "keyData": {
    "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmKey",
    "value": "GiD1fw8zG/kaunr7wHPf+4K8uxJUeebRYoQYLtaaf6dnqA==",
    "keyMaterialType": "SYMMETRIC"
   },
   "status": "ENABLED",
   "keyId": 585923220,
   "outputPrefixType": "TINK"
  }
 ]
}"#;

/// The seal secrets of the targets: [`SEAL_SECRET`] alone.
pub fn secrets() -> SealSecrets {
    match SealSecret::new(SEAL_SECRET) {
        Ok(secret) => SealSecrets::new(secret),
        // A constant of more than the minimum length: never refused.
        Err(e) => unreachable!("the fuzzing seal secret is refused: {e}"),
    }
}

/// [`TEST_KEYSET_JSON`], parsed.
pub fn test_keyset() -> Keyset {
    parsed(TEST_KEYSET_JSON)
}

/// [`MASTER_KEYSET_JSON`], parsed.
pub fn master_keyset() -> Keyset {
    parsed(MASTER_KEYSET_JSON)
}

fn parsed(json: &str) -> Keyset {
    match Keyset::from_json(json) {
        Ok(keyset) => keyset,
        // A constant that the replay test reads: never refused.
        Err(e) => unreachable!("a fixed fuzzing keyset is refused: {e}"),
    }
}

fn aead_of(keyset: &Keyset) -> Aead {
    match keyset.aead() {
        Ok(aead) => aead,
        Err(e) => unreachable!("a fixed fuzzing keyset has no AEAD: {e}"),
    }
}

/// The AEAD of [`test_keyset`], built once (key schedules are not what
/// is fuzzed).
pub fn test_aead() -> &'static Aead {
    static AEAD: OnceLock<Aead> = OnceLock::new();
    AEAD.get_or_init(|| aead_of(&test_keyset()))
}

/// The AEAD of [`master_keyset`], built once.
pub fn master_aead() -> &'static Aead {
    static AEAD: OnceLock<Aead> = OnceLock::new();
    AEAD.get_or_init(|| aead_of(&master_keyset()))
}

/// Envelope encryption under [`test_keyset`] with AES-256-GCM-SIV data
/// keys, built once.
pub fn envelope() -> &'static Envelope {
    static ENVELOPE: OnceLock<Envelope> = OnceLock::new();
    ENVELOPE.get_or_init(|| match test_keyset().envelope(Algorithm::Aes256GcmSiv) {
        Ok(envelope) => envelope,
        Err(e) => unreachable!("the fuzzing keyset has no envelope: {e}"),
    })
}

/// A chainer sealing with [`secrets`] and envelope encryption under
/// [`test_keyset`] (a clone of one built once).
pub fn chainer() -> Chainer {
    static CHAINER: OnceLock<Chainer> = OnceLock::new();
    CHAINER
        .get_or_init(|| {
            let envelope = match test_keyset().envelope(Algorithm::Aes256GcmSiv) {
                Ok(envelope) => envelope,
                Err(e) => unreachable!("the fuzzing keyset has no envelope: {e}"),
            };
            Chainer::new(secrets(), Some(envelope))
        })
        .clone()
}

/// The verifier's clock: 2026-12-03, after every seed's timestamps.
pub const NOW_MS: i64 = 1_796_256_000_000;

/// A verifier of [`secrets`] that also opens sensitive details
/// ([`chainer`]: deep verification), its clock at [`NOW_MS`].
pub fn verifier() -> Verifier {
    Verifier::new(secrets())
        .with_keyset(chainer())
        .with_now_ms(NOW_MS)
}
