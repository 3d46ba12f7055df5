//! Envelope encryption in Tink's `KmsEnvelopeAead` layout, the keyset being
//! the key-encryption key (KEK).

use prost::Message as _;
use zeroize::{Zeroize as _, Zeroizing};

use crate::aead::{Aead, Cipher, MIN_CIPHERTEXT_LEN, NONCE_LEN};
use crate::error::{Error, Result};
use crate::keyset::Algorithm;
use crate::proto;

/// Length of the big-endian length field in front of the wrapped data key.
const LEN_FIELD: usize = 4;
/// Largest serialized data-key proto: tag, length, 32-byte key.
const MAX_DEK_PROTO: usize = 2 + 32;

/// An envelope ciphertext split in its two halves.
///
/// The `payload` is what the data key encrypted (`nonce || ciphertext ||
/// tag`, no prefix): it never changes once written. The `wrapped_dek` is the
/// data key encrypted by the keyset: keyset rotation replaces it
/// ([`Envelope::rewrap_dek`]), crypto-shredding erases it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvelopeCiphertext {
    /// The data key (a serialized Tink key proto) encrypted by the keyset,
    /// with associated data empty as in Tink.
    pub wrapped_dek: Vec<u8>,
    /// The payload encrypted by the data key.
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for EnvelopeCiphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeCiphertext")
            .field("wrapped_dek_len", &self.wrapped_dek.len())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl EnvelopeCiphertext {
    /// Tink's byte layout: `u32be(len(wrapped_dek)) || wrapped_dek || payload`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN_FIELD + self.wrapped_dek.len() + self.payload.len());
        // A wrapped key is a few dozen bytes; it always fits a u32.
        out.extend_from_slice(&(self.wrapped_dek.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.wrapped_dek);
        out.extend_from_slice(&self.payload);
        out
    }

    /// Splits Tink's byte layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<EnvelopeCiphertext> {
        let (wrapped_dek, payload) = split(bytes)?;
        Ok(EnvelopeCiphertext {
            wrapped_dek: wrapped_dek.to_vec(),
            payload: payload.to_vec(),
        })
    }
}

fn split(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    let min = LEN_FIELD + 2 * MIN_CIPHERTEXT_LEN;
    let too_short = || Error::CiphertextTooShort {
        len: bytes.len(),
        min,
    };
    let (len, rest) = bytes
        .split_first_chunk::<LEN_FIELD>()
        .ok_or_else(too_short)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| too_short())?;
    // `rest.len() - MIN_CIPHERTEXT_LEN < len`, written so that a length
    // field near u32::MAX cannot overflow where usize is 32 bits.
    if len < MIN_CIPHERTEXT_LEN || rest.len().saturating_sub(MIN_CIPHERTEXT_LEN) < len {
        return Err(too_short());
    }
    Ok(rest.split_at(len))
}

/// Envelope encryption: each message gets a fresh data key (DEK), the DEK
/// is encrypted by the keyset's primary key, the message by the DEK.
///
/// ```
/// use stream_keyset::{Algorithm, Keyset, Template};
/// let keyset = Keyset::generate(Template::AES256_GCM_SIV);
/// let envelope = keyset.envelope(Algorithm::Aes256GcmSiv)?;
/// let sealed = envelope.encrypt(b"card number", b"events/42/details.pan")?;
/// assert_eq!(envelope.decrypt(&sealed, b"events/42/details.pan")?, b"card number");
/// # Ok::<(), stream_keyset::Error>(())
/// ```
#[derive(Debug)]
pub struct Envelope {
    kek: Aead,
    dek: Algorithm,
}

impl Envelope {
    /// Envelope encryption under `kek` (a keyset of any supported type)
    /// with data keys of `dek`, AES-GCM or AES-GCM-SIV (encryption with any
    /// other is [`Error::UnsupportedDataKey`]). The KEK's nonce is drawn
    /// with the data key when it is 12 bytes long; other KEK types draw
    /// their own.
    pub fn new(kek: Aead, dek: Algorithm) -> Envelope {
        Envelope { kek, dek }
    }

    /// The key-encryption AEAD.
    pub fn kek(&self) -> &Aead {
        &self.kek
    }

    /// The data-key algorithm.
    pub fn dek_algorithm(&self) -> Algorithm {
        self.dek
    }

    /// Encrypts `plaintext` bound to `aad`, in Tink's byte layout.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        Ok(self.encrypt_parts(plaintext, aad)?.to_bytes())
    }

    /// Encrypts `plaintext` bound to `aad`, keeping the two halves apart.
    pub fn encrypt_parts(&self, plaintext: &[u8], aad: &[u8]) -> Result<EnvelopeCiphertext> {
        if !self.dek.is_gcm() {
            return Err(Error::UnsupportedDataKey(self.dek));
        }
        let key_len = self.dek.key_len();
        // The serialized key proto: field 3 (key_value), length, key bytes.
        let mut dek_proto = Zeroizing::new([0u8; MAX_DEK_PROTO]);
        dek_proto[0] = 0x1a;
        // 16 or 32.
        dek_proto[1] = key_len as u8;
        // One draw for the data key and both nonces.
        let mut drawn = Zeroizing::new([0u8; 32 + 2 * NONCE_LEN]);
        crate::random::fill(&mut drawn[..key_len + 2 * NONCE_LEN])?;
        let (key, nonces) = drawn.split_at(key_len);
        dek_proto[2..2 + key_len].copy_from_slice(key);
        let mut wrap_nonce = [0u8; NONCE_LEN];
        let mut payload_nonce = [0u8; NONCE_LEN];
        wrap_nonce.copy_from_slice(&nonces[..NONCE_LEN]);
        payload_nonce.copy_from_slice(&nonces[NONCE_LEN..2 * NONCE_LEN]);
        let cipher = Cipher::new(self.dek, &dek_proto[2..2 + key_len]).ok_or(Error::Encryption)?;
        let wrapped_dek = self
            .kek
            .encrypt_with(wrap_nonce, &dek_proto[..2 + key_len], &[])?;
        let mut payload = Vec::new();
        cipher.seal_into_with(payload_nonce, plaintext, aad, &mut payload)?;
        Ok(EnvelopeCiphertext {
            wrapped_dek,
            payload,
        })
    }

    /// Decrypts Tink's byte layout.
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let (wrapped_dek, payload) = split(ciphertext)?;
        self.decrypt_parts(wrapped_dek, payload, aad)
    }

    /// Decrypts the two halves.
    pub fn decrypt_parts(&self, wrapped_dek: &[u8], payload: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if payload.len() < MIN_CIPHERTEXT_LEN {
            return Err(Error::CiphertextTooShort {
                len: payload.len(),
                min: MIN_CIPHERTEXT_LEN,
            });
        }
        let key = self.unwrap_dek(wrapped_dek)?;
        // The wrapped proto does not say which family made the payload
        // (Tink's envelopes are configured with one): the configured one is
        // tried first, then the other of the same key size; each family's
        // tag authenticates the guess.
        let families = [self.dek.type_url(), other_family(self.dek.type_url())];
        for family in families {
            let Some(cipher) =
                Algorithm::for_key(family, key.len()).and_then(|a| Cipher::new(a, &key))
            else {
                continue;
            };
            match cipher.open(payload, aad) {
                Ok(plaintext) => return Ok(plaintext),
                Err(Error::Decryption) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::Decryption)
    }

    /// The raw data key of a wrapped data-key proto (zeroized on drop).
    fn unwrap_dek(&self, wrapped_dek: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut dek_proto = self.kek.decrypt(wrapped_dek, &[])?;
        let parsed = proto::AesKey::decode(dek_proto.as_slice());
        dek_proto.zeroize();
        // A DEK that authenticates under the keyset (so made by a holder of
        // the keyset, not forged) but is not a key Tink accepts: refused as
        // Tink refuses it, saying why (version and size only).
        let mut key = parsed
            .map_err(|_| Error::InvalidDataKey("it is not a serialized key proto".to_owned()))?;
        let value = Zeroizing::new(std::mem::take(&mut key.key_value));
        if key.version != 0 {
            return Err(Error::InvalidDataKey(format!(
                "its key proto has version {}, only version 0 is defined",
                key.version
            )));
        }
        if !matches!(value.len(), 16 | 32) {
            return Err(Error::InvalidDataKey(format!(
                "its key is {} bytes",
                value.len()
            )));
        }
        Ok(value)
    }

    /// Re-encrypts only the data key of Tink's byte layout under the current
    /// primary; the payload bytes are copied untouched.
    pub fn rewrap(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let (wrapped_dek, payload) = split(ciphertext)?;
        let rewrapped = EnvelopeCiphertext {
            wrapped_dek: self.rewrap_dek(wrapped_dek)?,
            payload: payload.to_vec(),
        };
        Ok(rewrapped.to_bytes())
    }

    /// Re-encrypts a wrapped data key under the current primary.
    pub fn rewrap_dek(&self, wrapped_dek: &[u8]) -> Result<Vec<u8>> {
        let mut dek_proto = self.kek.decrypt(wrapped_dek, &[])?;
        let rewrapped = self.kek.encrypt(&dek_proto, &[]);
        dek_proto.zeroize();
        rewrapped
    }

    /// Whether `wrapped_dek` is already wrapped by the current primary (a
    /// rotation job skips those).
    pub fn is_wrapped_by_primary(&self, wrapped_dek: &[u8]) -> bool {
        self.kek.decrypts_with_primary(wrapped_dek, &[])
    }
}

/// The other AES data-key family of an envelope (GCM for GCM-SIV and back).
fn other_family(type_url: &'static str) -> &'static str {
    if type_url == crate::keyset::AES_GCM_SIV_TYPE_URL {
        crate::keyset::AES_GCM_TYPE_URL
    } else {
        crate::keyset::AES_GCM_SIV_TYPE_URL
    }
}
