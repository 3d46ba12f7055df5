//! The one error type of this crate.

use crate::keyset::KeyStatus;

/// Everything that can go wrong while reading, using or managing a keyset.
///
/// Messages name what was wrong and what to do; they never contain key
/// material. Authentication failures are deliberately opaque
/// ([`Error::Decryption`]): which key was tried, or why it failed, is not
/// something a caller may learn from a ciphertext. Only the key id a
/// ciphertext carries in clear in its prefix is reported, when the keyset
/// does not hold that key ([`Error::UnknownKey`]) or holds it not ENABLED
/// ([`Error::KeyNotEnabled`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The keyset (or encrypted keyset) is not valid JSON of Tink's shape.
    #[error("malformed keyset JSON: {0}; expected Tink's JSON keyset format")]
    Json(String),
    /// A base64 field could not be decoded.
    #[error("malformed base64 in `{field}`: expected standard base64 with padding")]
    Base64 {
        /// The JSON field that held the value.
        field: &'static str,
    },
    /// A binary keyset, key or key template is not valid protobuf.
    #[error("malformed protobuf in {what}: {detail}")]
    Protobuf {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message (it never contains key bytes).
        detail: String,
    },
    /// An enum field holds a name or number Tink does not define.
    #[error("unknown {field} `{value}`; expected one of: {expected}")]
    UnknownEnum {
        /// The enum's field name.
        field: &'static str,
        /// The value found.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// A key id is outside the u32 range Tink uses.
    #[error("key id {0} is out of range; Tink key ids are 32-bit (Java writes the top half as negative numbers)")]
    KeyIdOutOfRange(i64),
    /// The keyset holds no key at all.
    #[error("the keyset holds no key; generate one with `keyset generate`")]
    EmptyKeyset,
    /// `primaryKeyId` names no key of the keyset.
    #[error("the primary key id {0} names no key of the keyset; promote an existing key")]
    NoPrimary(u32),
    /// The primary key is not ENABLED.
    #[error("the primary key {0} is not ENABLED; enable it or promote an enabled key")]
    PrimaryNotEnabled(u32),
    /// Several ENABLED keys have the primary key id: which one encrypts
    /// would be ambiguous, and Tink refuses such a keyset. (Keys that are not
    /// primary may share an id, as Tink allows.)
    #[error("several ENABLED keys have the primary key id {0}; Tink refuses such a keyset: which key encrypts is ambiguous")]
    DuplicateKeyId(u32),
    /// A key management operation names an id that several keys of the
    /// keyset share (Tink accepts such keys when they are not primary):
    /// which key it means is ambiguous, so nothing is changed.
    #[error("several keys of the keyset have id {0}: changing a key by this id would be ambiguous, so nothing was changed")]
    AmbiguousKeyId(u32),
    /// A key's status is UNKNOWN_STATUS.
    #[error("key {0} has no status; expected ENABLED, DISABLED or DESTROYED")]
    UnknownStatus(u32),
    /// A key's output prefix type is UNKNOWN_PREFIX.
    #[error("key {0} has no output prefix type; expected TINK, LEGACY, RAW or CRUNCHY")]
    UnknownPrefix(u32),
    /// A key that is not destroyed carries no key data.
    #[error("key {0} is not DESTROYED but carries no key data")]
    MissingKeyData(u32),
    /// A key of a supported type has material of the wrong size or version.
    #[error("key {key_id} ({type_url}) is invalid: {detail}")]
    InvalidKey {
        /// The key's id.
        key_id: u32,
        /// The key's type URL.
        type_url: String,
        /// What is wrong (sizes and versions only, never bytes).
        detail: String,
    },
    /// A key of a type this crate does not implement was asked to work.
    #[error("key {key_id} has type {type_url}, which this library cannot use; supported: AesGcmSivKey, AesGcmKey, AesCtrHmacAeadKey, AesEaxKey, ChaCha20Poly1305Key, XChaCha20Poly1305Key")]
    UnsupportedKeyType {
        /// The key's id.
        key_id: u32,
        /// The key's type URL.
        type_url: String,
    },
    /// An envelope was asked for data keys of an algorithm it cannot draw
    /// (only AES-GCM and AES-GCM-SIV data keys are made).
    #[error("data keys of {0} are not supported; use aes256-gcm-siv or aes256-gcm")]
    UnsupportedDataKey(crate::keyset::Algorithm),
    /// An envelope's wrapped data key authenticates under the keyset but is
    /// not a data key Tink accepts (an `AesGcmSivKey` / `AesGcmKey` proto of
    /// version 0 holding 16 or 32 bytes): Tink's `KmsEnvelopeAead` refuses
    /// it too. The detail gives versions and sizes only, never key bytes.
    #[error("the envelope's data key is invalid: {0}; Tink refuses it too (expected a key proto of version 0 with a 16- or 32-byte key)")]
    InvalidDataKey(String),
    /// No key of the keyset has this id.
    #[error("no key with id {0} in the keyset; `keyset list` shows the ids")]
    KeyNotFound(u32),
    /// A key management operation is not allowed in the key's current state.
    #[error("cannot {op} key {key_id}: {reason}")]
    InvalidTransition {
        /// The operation (promote, enable, disable, destroy).
        op: &'static str,
        /// The key's id.
        key_id: u32,
        /// Why not.
        reason: &'static str,
    },
    /// A ciphertext is shorter than any valid ciphertext.
    #[error("ciphertext too short: {len} bytes, at least {min} expected; it was truncated or is not a ciphertext")]
    CiphertextTooShort {
        /// Its length.
        len: usize,
        /// The least a valid one can have.
        min: usize,
    },
    /// Decryption failed: wrong key, wrong associated data, or a modified
    /// ciphertext. Deliberately says nothing more.
    #[error("decryption failed: wrong key, wrong associated data, or a modified ciphertext")]
    Decryption,
    /// A ciphertext's TINK, LEGACY or CRUNCHY prefix names a key id (the
    /// unsigned 32-bit Tink id) that no key of this keyset has, and the
    /// keyset has no RAW key: it was made by a newer (or another) keyset.
    #[error("key {0} is not in this keyset: roll out the new keyset first")]
    UnknownKey(u32),
    /// A ciphertext's prefix names a key of this keyset that is DISABLED or
    /// DESTROYED (and no RAW key of the keyset opens it).
    #[error("key {key_id} of this keyset is {status}: {}", not_enabled_hint(*.status))]
    KeyNotEnabled {
        /// The key's id.
        key_id: u32,
        /// Its status: [`KeyStatus::Disabled`] or [`KeyStatus::Destroyed`].
        status: KeyStatus,
    },
    /// The operating system's random generator could not be reached:
    /// nothing was encrypted.
    #[error("the operating system's random generator is unavailable: nothing was encrypted")]
    Randomness,
    /// Encryption failed (the plaintext or associated data is too long for
    /// the algorithm).
    #[error("encryption failed: plaintext or associated data too long")]
    Encryption,
}

fn not_enabled_hint(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Destroyed => {
            "its material was erased, what it encrypted cannot be decrypted any more"
        }
        _ => "enable it to decrypt",
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
