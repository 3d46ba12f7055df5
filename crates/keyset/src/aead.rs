//! AEAD over a keyset, exactly as Tink does it.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use aes_gcm_siv::{Aes128GcmSiv, Aes256GcmSiv};
use prost::Message as _;
use zeroize::Zeroize as _;

use crate::error::{Error, Result};
use crate::keyset::{Algorithm, KeyId, KeyStatus, OutputPrefix};
use crate::proto;

/// Length of the random nonce of AES-GCM and AES-GCM-SIV in Tink.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag.
pub const TAG_LEN: usize = 16;
/// Length of a TINK, LEGACY or CRUNCHY output prefix.
pub const PREFIX_LEN: usize = 5;
/// The shortest valid ciphertext of a RAW key (nonce and tag).
pub const MIN_CIPHERTEXT_LEN: usize = NONCE_LEN + TAG_LEN;

/// One AES key, its schedule computed once. The cipher types zeroize their
/// round keys on drop (the `zeroize` features of `aes`, `aes-gcm`,
/// `aes-gcm-siv` are enabled).
pub(crate) enum Cipher {
    GcmSiv128(Box<Aes128GcmSiv>),
    GcmSiv256(Box<Aes256GcmSiv>),
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
}

macro_rules! dispatch {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            Cipher::GcmSiv128($c) => $body,
            Cipher::GcmSiv256($c) => $body,
            Cipher::Gcm128($c) => $body,
            Cipher::Gcm256($c) => $body,
        }
    };
}

impl Cipher {
    /// Builds the cipher for a raw key of `algorithm`; `None` if the key has
    /// the wrong length.
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Option<Cipher> {
        Some(match algorithm {
            Algorithm::Aes128GcmSiv => {
                Cipher::GcmSiv128(Box::new(Aes128GcmSiv::new_from_slice(key).ok()?))
            }
            Algorithm::Aes256GcmSiv => {
                Cipher::GcmSiv256(Box::new(Aes256GcmSiv::new_from_slice(key).ok()?))
            }
            Algorithm::Aes128Gcm => Cipher::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Algorithm::Aes256Gcm => Cipher::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
        })
    }

    /// Builds the cipher of a serialized `AesGcmKey` / `AesGcmSivKey`.
    pub(crate) fn from_key_proto(
        algorithm: Algorithm,
        key_id: u32,
        value: &[u8],
    ) -> Result<Cipher> {
        let invalid = |detail: String| Error::InvalidKey {
            key_id,
            type_url: algorithm.type_url().to_owned(),
            detail,
        };
        let mut key = proto::AesKey::decode(value).map_err(|e| invalid(e.to_string()))?;
        let result = if key.version != 0 {
            Err(invalid(format!(
                "version {} is not supported, expected 0",
                key.version
            )))
        } else if key.key_value.len() != algorithm.key_len() {
            Err(invalid(format!(
                "key is {} bytes, {} expected",
                key.key_value.len(),
                algorithm.key_len()
            )))
        } else {
            Cipher::new(algorithm, &key.key_value).ok_or_else(|| invalid("wrong key length".into()))
        };
        key.key_value.zeroize();
        result
    }

    /// Appends `nonce || ciphertext || tag` of `plaintext` to `out`.
    pub(crate) fn seal_into(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::random::fill(&mut nonce)?;
        self.seal_into_with(nonce, plaintext, aad, out)
    }

    /// [`Cipher::seal_into`] with a nonce the caller drew (fresh, random:
    /// an envelope draws its data key and both nonces at once).
    pub(crate) fn seal_into_with(
        &self,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let body = &mut out[start..];
        let tag: [u8; TAG_LEN] = dispatch!(self, c => c
            .encrypt_inout_detached(&nonce.into(), aad, body.into())
            .map(|tag| tag.into()))
        .map_err(|_| Error::Encryption)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens `nonce || ciphertext || tag`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < MIN_CIPHERTEXT_LEN {
            return Err(Error::Decryption);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Decryption)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Decryption)?;
        let mut buffer = body.to_vec();
        let opened = dispatch!(self, c => c.decrypt_inout_detached(
            &nonce.into(),
            aad,
            buffer.as_mut_slice().into(),
            &tag.into(),
        ));
        match opened {
            Ok(()) => Ok(buffer),
            Err(_) => {
                buffer.zeroize();
                Err(Error::Decryption)
            }
        }
    }
}

/// One usable key of an [`Aead`]: its output prefix and its cipher.
struct Entry {
    id: KeyId,
    prefix: [u8; PREFIX_LEN],
    raw: bool,
    cipher: Cipher,
}

impl Entry {
    fn prefix(&self) -> &[u8] {
        if self.raw {
            &[]
        } else {
            &self.prefix
        }
    }
}

/// A key of the keyset that has no [`Entry`]: not ENABLED, or of a type this
/// crate does not implement. Kept (id, prefix and status only, no material)
/// to say why a ciphertext naming it does not open.
struct Unused {
    id: u32,
    /// `None` for a RAW key.
    prefix: Option<[u8; PREFIX_LEN]>,
    status: KeyStatus,
}

/// The AEAD primitive of a keyset: the primary key encrypts, every ENABLED
/// key of a supported type decrypts.
///
/// Ciphertexts follow Tink's layout: `prefix || nonce(12) || ciphertext ||
/// tag(16)`, the prefix being `0x01 || key id` (TINK), `0x00 || key id`
/// (LEGACY, CRUNCHY) or empty (RAW). Decryption tries the keys whose prefix
/// matches, then the RAW keys. The key schedules are computed once, when the
/// primitive is built.
///
/// A ciphertext whose prefix names a key the keyset does not hold is refused
/// with [`Error::UnknownKey`] (unless the keyset has a RAW key, see
/// [`Aead::decrypt`]), one naming a DISABLED or DESTROYED key with
/// [`Error::KeyNotEnabled`]: the prefix is public, and these say what to do.
///
/// ```
/// use stream_keyset::{Keyset, Template};
/// let keyset = Keyset::generate(Template::AES256_GCM_SIV);
/// let aead = keyset.aead()?;
/// let ciphertext = aead.encrypt(b"secret", b"where it belongs")?;
/// assert_eq!(aead.decrypt(&ciphertext, b"where it belongs")?, b"secret");
/// assert!(aead.decrypt(&ciphertext, b"somewhere else").is_err());
/// # Ok::<(), stream_keyset::Error>(())
/// ```
pub struct Aead {
    entries: Vec<Entry>,
    primary: usize,
    unused: Vec<Unused>,
}

impl std::fmt::Debug for Aead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aead")
            .field("primary", &self.entries.get(self.primary).map(|e| e.id))
            .field(
                "keys",
                &self.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Aead {
    /// Builds the primitive from a validated keyset.
    pub(crate) fn from_keyset(keyset: &proto::Keyset) -> Result<Aead> {
        let mut entries = Vec::new();
        let mut primary = None;
        let mut unused = Vec::new();
        for key in &keyset.key {
            let mut keep_unused = |status: KeyStatus| {
                unused.push(Unused {
                    id: key.key_id,
                    prefix: OutputPrefix::from_proto(key.output_prefix_type)
                        .filter(|p| *p != OutputPrefix::Raw)
                        .map(|p| p.prefix(key.key_id)),
                    status,
                });
            };
            if key.status != proto::key_status::ENABLED {
                // Validation admits only DISABLED and DESTROYED here.
                keep_unused(if key.status == proto::key_status::DESTROYED {
                    KeyStatus::Destroyed
                } else {
                    KeyStatus::Disabled
                });
                continue;
            }
            let Some(data) = &key.key_data else {
                return Err(Error::MissingKeyData(key.key_id));
            };
            let is_primary = key.key_id == keyset.primary_key_id;
            let Some(algorithm) = crate::keyset::algorithm_of(data) else {
                if is_primary {
                    return Err(Error::UnsupportedKeyType {
                        key_id: key.key_id,
                        type_url: data.type_url.clone(),
                    });
                }
                keep_unused(KeyStatus::Enabled);
                continue; // kept in the keyset, never used
            };
            let prefix_type = OutputPrefix::from_proto(key.output_prefix_type)
                .ok_or(Error::UnknownPrefix(key.key_id))?;
            let cipher = Cipher::from_key_proto(algorithm, key.key_id, &data.value)?;
            if is_primary {
                primary = Some(entries.len());
            }
            entries.push(Entry {
                id: KeyId(key.key_id),
                prefix: prefix_type.prefix(key.key_id),
                raw: prefix_type == OutputPrefix::Raw,
                cipher,
            });
        }
        let primary = primary.ok_or(Error::PrimaryNotEnabled(keyset.primary_key_id))?;
        Ok(Aead {
            entries,
            primary,
            unused,
        })
    }

    fn primary_entry(&self) -> &Entry {
        // `primary` is an index into `entries` set by `from_keyset`, the only
        // constructor; entries are never removed.
        &self.entries[self.primary]
    }

    /// The id of the key that encrypts.
    pub fn primary_id(&self) -> KeyId {
        self.primary_entry().id
    }

    /// Encrypts `plaintext` under the primary key, binding `aad`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(PREFIX_LEN + MIN_CIPHERTEXT_LEN + plaintext.len());
        self.encrypt_into(plaintext, aad, &mut out)?;
        Ok(out)
    }

    /// Appends the ciphertext of `plaintext` to `out` (no other allocation
    /// than `out` growing).
    pub fn encrypt_into(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let primary = self.primary_entry();
        out.extend_from_slice(primary.prefix());
        primary.cipher.seal_into(plaintext, aad, out)
    }

    /// [`Aead::encrypt`] with a fresh random nonce the caller drew.
    pub(crate) fn encrypt_with(
        &self,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>> {
        let primary = self.primary_entry();
        let mut out = Vec::with_capacity(PREFIX_LEN + MIN_CIPHERTEXT_LEN + plaintext.len());
        out.extend_from_slice(primary.prefix());
        primary
            .cipher
            .seal_into_with(nonce, plaintext, aad, &mut out)?;
        Ok(out)
    }

    /// Decrypts a ciphertext made by any ENABLED key of the keyset.
    ///
    /// # Errors
    /// - [`Error::CiphertextTooShort`] when no key could have made it;
    /// - [`Error::UnknownKey`] when it starts with a TINK, LEGACY or CRUNCHY
    ///   prefix naming a key id the keyset does not hold, and the keyset has
    ///   no ENABLED RAW key (the keyset that made it was not rolled out
    ///   here). With a RAW key in the keyset this stays
    ///   [`Error::Decryption`]: the prefix could be the random nonce of a RAW
    ///   ciphertext that failed to authenticate. A RAW ciphertext of a
    ///   foreign key whose nonce happens to start with `0x00` or `0x01` is
    ///   reported as `UnknownKey`, with a meaningless id;
    /// - [`Error::KeyNotEnabled`] when that prefix names a DISABLED or
    ///   DESTROYED key of the keyset, and no RAW key opens it;
    /// - [`Error::Decryption`] otherwise, when no key opens it with this
    ///   `aad`: a key with its prefix exists but authentication fails.
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if ciphertext.len() < MIN_CIPHERTEXT_LEN {
            return Err(Error::CiphertextTooShort {
                len: ciphertext.len(),
                min: MIN_CIPHERTEXT_LEN,
            });
        }
        if let Some((prefix, rest)) = ciphertext.split_first_chunk::<PREFIX_LEN>() {
            for entry in self
                .entries
                .iter()
                .filter(|e| !e.raw && &e.prefix == prefix)
            {
                if let Ok(plaintext) = entry.cipher.open(rest, aad) {
                    return Ok(plaintext);
                }
            }
        }
        for entry in self.entries.iter().filter(|e| e.raw) {
            if let Ok(plaintext) = entry.cipher.open(ciphertext, aad) {
                return Ok(plaintext);
            }
        }
        Err(self.refusal(ciphertext))
    }

    /// Why no key opened `ciphertext`, from its (public) prefix only; run
    /// after every attempt failed, so the success path does not pay for it.
    fn refusal(&self, ciphertext: &[u8]) -> Error {
        let Some((prefix, _)) = ciphertext.split_first_chunk::<PREFIX_LEN>() else {
            return Error::Decryption;
        };
        let [marker, id @ ..] = *prefix;
        if marker > 1 {
            return Error::Decryption; // not a TINK, LEGACY or CRUNCHY prefix
        }
        let id = u32::from_be_bytes(id);
        if self.entries.iter().any(|e| e.id.0 == id) {
            // An enabled key with this id tried (or, with another prefix
            // type, could not have made it): an authentication failure.
            return Error::Decryption;
        }
        // Key ids are unique in a validated keyset.
        match self.unused.iter().find(|u| u.id == id) {
            // With a RAW key in the keyset, a prefix-like start may be the
            // random nonce of a RAW ciphertext that failed to authenticate
            // (wrong aad, modified): stay opaque. (A chance match of the
            // whole 5-byte prefix of a known key, below, is negligible.)
            None if self.entries.iter().any(|e| e.raw) => Error::Decryption,
            None => Error::UnknownKey(id),
            Some(unused)
                if unused.status != KeyStatus::Enabled && unused.prefix == Some(*prefix) =>
            {
                Error::KeyNotEnabled {
                    key_id: id,
                    status: unused.status,
                }
            }
            // A key of a type this crate cannot use, or one whose prefix type
            // does not make this prefix.
            Some(_) => Error::Decryption,
        }
    }

    /// Whether the primary key alone decrypts `ciphertext` (used by rotation
    /// to skip what is already wrapped under the primary).
    pub fn decrypts_with_primary(&self, ciphertext: &[u8], aad: &[u8]) -> bool {
        let primary = self.primary_entry();
        let Some(rest) = ciphertext.strip_prefix(primary.prefix()) else {
            return false;
        };
        primary
            .cipher
            .open(rest, aad)
            .map(|mut plaintext| plaintext.zeroize())
            .is_ok()
    }
}
