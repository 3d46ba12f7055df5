//! AEAD over a keyset, exactly as Tink does it.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use aes_gcm_siv::{Aes128GcmSiv, Aes256GcmSiv};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use prost::Message as _;
use zeroize::Zeroize as _;

use crate::error::{Error, Result};
use crate::keyset::{Algorithm, KeyId, KeyStatus, OutputPrefix};
use crate::modes::{CtrHmac, Eax, Hash, EAX_TAG_LEN};
use crate::proto::{self, hash_type};

/// Length of the random nonce of AES-GCM, AES-GCM-SIV and ChaCha20-Poly1305
/// in Tink (the nonce an [`Envelope`](crate::Envelope) draws for its key).
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag of AES-GCM, AES-GCM-SIV, AES-EAX and
/// (X)ChaCha20-Poly1305.
pub const TAG_LEN: usize = 16;
/// Length of a TINK, LEGACY or CRUNCHY output prefix.
pub const PREFIX_LEN: usize = 5;
/// The shortest valid ciphertext of a RAW AES-GCM, AES-GCM-SIV or
/// ChaCha20-Poly1305 key (nonce and tag). An AES-CTR-HMAC key with a
/// 12-byte IV and a 10-byte tag makes shorter ones (22 bytes).
pub const MIN_CIPHERTEXT_LEN: usize = NONCE_LEN + TAG_LEN;
/// Length of the XChaCha20-Poly1305 nonce.
const XNONCE_LEN: usize = 24;

/// One key, its schedule computed once. The cipher types zeroize their
/// round keys on drop (the `zeroize` features of `aes`, `aes-gcm`,
/// `aes-gcm-siv`, `chacha20poly1305`, `cmac`, `hmac` are enabled).
pub(crate) enum Cipher {
    GcmSiv128(Box<Aes128GcmSiv>),
    GcmSiv256(Box<Aes256GcmSiv>),
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    XChaCha(Box<XChaCha20Poly1305>),
    Eax(Box<Eax>),
    CtrHmac(Box<CtrHmac>),
}

/// The ciphers with a 12-byte nonce and a 16-byte tag after the ciphertext,
/// through their `AeadInOut`; `$other` for the rest.
macro_rules! dispatch12 {
    ($self:expr, $c:ident => $body:expr, $other:ident => $rest:expr) => {
        match $self {
            Cipher::GcmSiv128($c) => $body,
            Cipher::GcmSiv256($c) => $body,
            Cipher::Gcm128($c) => $body,
            Cipher::Gcm256($c) => $body,
            Cipher::ChaCha($c) => $body,
            $other => $rest,
        }
    };
}

impl Cipher {
    /// Builds the cipher for a raw key of an AES-GCM, AES-GCM-SIV or
    /// (X)ChaCha20-Poly1305 `algorithm` (the others have parameters);
    /// `None` if the key has the wrong length or the algorithm parameters.
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
            Algorithm::ChaCha20Poly1305 => {
                Cipher::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            Algorithm::XChaCha20Poly1305 => {
                Cipher::XChaCha(Box::new(XChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            _ => return None,
        })
    }

    /// Builds the cipher of a serialized key proto of `algorithm`'s type.
    pub(crate) fn from_key_proto(
        algorithm: Algorithm,
        key_id: u32,
        value: &[u8],
    ) -> Result<Cipher> {
        let checks = Checks {
            key_id,
            type_url: algorithm.type_url(),
        };
        let invalid = |detail: String| checks.invalid(detail);
        let version = |what: &str, v: u32| checks.version(what, v);
        let key_len =
            |what: &str, len: usize, expected: &[usize]| checks.key_len(what, len, expected);
        match algorithm.type_url() {
            crate::keyset::AES_EAX_TYPE_URL => {
                // Every key proto wipes its material when dropped (`proto`).
                let key = proto::AesEaxKey::decode(value).map_err(|e| invalid(e.to_string()))?;
                let iv_size = key.params.as_ref().map_or(0, |p| p.iv_size);
                version("", key.version)
                    .and_then(|()| key_len("", key.key_value.len(), &[16, 32]))
                    .and_then(|()| {
                        let iv = usize::try_from(iv_size).unwrap_or(0);
                        Eax::new(&key.key_value, iv)
                            .map(|e| Cipher::Eax(Box::new(e)))
                            .ok_or_else(|| invalid(format!("nonce size {iv_size} is not 12 or 16")))
                    })
            }
            crate::keyset::CHACHA20_POLY1305_TYPE_URL => {
                let key = proto::ChaCha20Poly1305Key::decode(value)
                    .map_err(|e| invalid(e.to_string()))?;
                version("", key.version)
                    .and_then(|()| key_len("", key.key_value.len(), &[32]))
                    .and_then(|()| {
                        Cipher::new(algorithm, &key.key_value)
                            .ok_or_else(|| invalid("wrong key length".into()))
                    })
            }
            crate::keyset::AES_CTR_HMAC_AEAD_TYPE_URL => {
                let key =
                    proto::AesCtrHmacAeadKey::decode(value).map_err(|e| invalid(e.to_string()))?;
                ctr_hmac_from_proto(&key, &checks)
            }
            _ => {
                let key = proto::AesKey::decode(value).map_err(|e| invalid(e.to_string()))?;
                version("", key.version)
                    .and_then(|()| key_len("", key.key_value.len(), &[algorithm.key_len()]))
                    .and_then(|()| {
                        Cipher::new(algorithm, &key.key_value)
                            .ok_or_else(|| invalid("wrong key length".into()))
                    })
            }
        }
    }

    /// The shortest ciphertext this key makes (no prefix): nonce and tag.
    pub(crate) fn min_len(&self) -> usize {
        match self {
            Cipher::XChaCha(_) => XNONCE_LEN + TAG_LEN,
            Cipher::Eax(e) => e.nonce_len() + EAX_TAG_LEN,
            Cipher::CtrHmac(c) => c.iv_len() + c.tag_len(),
            _ => MIN_CIPHERTEXT_LEN,
        }
    }

    /// Appends `nonce || ciphertext || tag` of `plaintext` to `out`.
    pub(crate) fn seal_into(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self {
            Cipher::XChaCha(c) => {
                let mut nonce = [0u8; XNONCE_LEN];
                crate::random::fill(&mut nonce)?;
                out.reserve(XNONCE_LEN + plaintext.len() + TAG_LEN);
                out.extend_from_slice(&nonce);
                let start = out.len();
                out.extend_from_slice(plaintext);
                let body = &mut out[start..];
                let tag: [u8; TAG_LEN] = c
                    .encrypt_inout_detached(&nonce.into(), aad, body.into())
                    .map(|tag| tag.into())
                    .map_err(|_| Error::Encryption)?;
                out.extend_from_slice(&tag);
                Ok(())
            }
            Cipher::Eax(c) => c.seal_into(plaintext, aad, out),
            Cipher::CtrHmac(c) => c.seal_into(plaintext, aad, out),
            _ => {
                let mut nonce = [0u8; NONCE_LEN];
                crate::random::fill(&mut nonce)?;
                self.seal_into_with(nonce, plaintext, aad, out)
            }
        }
    }

    /// [`Cipher::seal_into`] with a nonce the caller drew (fresh, random:
    /// an envelope draws its data key and both nonces at once). A cipher
    /// whose nonce is not 12 bytes ignores it and draws its own.
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
        let tag: [u8; TAG_LEN] = dispatch12!(self, c => c
        .encrypt_inout_detached(&nonce.into(), aad, body.into())
        .map(|tag| tag.into()), other => {
            out.truncate(start - NONCE_LEN);
            return other.seal_into(plaintext, aad, out);
        })
        .map_err(|_| Error::Encryption)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens `nonce || ciphertext || tag`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        match self {
            Cipher::Eax(c) => return c.open(sealed, aad),
            Cipher::CtrHmac(c) => return c.open(sealed, aad),
            Cipher::XChaCha(c) => return open_with::<XNONCE_LEN, _>(&**c, sealed, aad),
            _ => {}
        }
        if sealed.len() < MIN_CIPHERTEXT_LEN {
            return Err(Error::Decryption);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Decryption)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Decryption)?;
        let mut buffer = body.to_vec();
        let opened = dispatch12!(self, c => c.decrypt_inout_detached(
            &nonce.into(),
            aad,
            buffer.as_mut_slice().into(),
            &tag.into(),
        ), _other => Err(aes_gcm::aead::Error));
        match opened {
            Ok(()) => Ok(buffer),
            Err(_) => {
                buffer.zeroize();
                Err(Error::Decryption)
            }
        }
    }
}

/// Opens `nonce(N) || ciphertext || tag(16)` with an AEAD of `N`-byte nonces.
fn open_with<const N: usize, C>(cipher: &C, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>>
where
    C: AeadInOut,
    for<'a> &'a aes_gcm::aead::Nonce<C>: From<&'a [u8; N]>,
    for<'a> &'a aes_gcm::aead::Tag<C>: From<&'a [u8; TAG_LEN]>,
{
    if sealed.len() < N + TAG_LEN {
        return Err(Error::Decryption);
    }
    let (nonce, rest) = sealed.split_at(N);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: &[u8; N] = nonce.try_into().map_err(|_| Error::Decryption)?;
    let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Decryption)?;
    let mut buffer = body.to_vec();
    match cipher.decrypt_inout_detached(nonce.into(), aad, buffer.as_mut_slice().into(), tag.into())
    {
        Ok(()) => Ok(buffer),
        Err(_) => {
            buffer.zeroize();
            Err(Error::Decryption)
        }
    }
}

/// The errors of one key's checks: [`Error::InvalidKey`] naming it.
struct Checks {
    key_id: u32,
    type_url: &'static str,
}

impl Checks {
    fn invalid(&self, detail: String) -> Error {
        Error::InvalidKey {
            key_id: self.key_id,
            type_url: self.type_url.to_owned(),
            detail,
        }
    }

    /// `what` (a prefix such as "HMAC ") has version 0.
    fn version(&self, what: &str, v: u32) -> Result<()> {
        if v == 0 {
            Ok(())
        } else {
            Err(self.invalid(format!("{what}version {v} is not supported, expected 0")))
        }
    }

    /// `what`'s key has one of the `expected` lengths.
    fn key_len(&self, what: &str, len: usize, expected: &[usize]) -> Result<()> {
        if expected.contains(&len) {
            Ok(())
        } else {
            let expected: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
            Err(self.invalid(format!(
                "{what}key is {len} bytes, {} expected",
                expected.join(" or ")
            )))
        }
    }
}

/// The cipher of an `AesCtrHmacAeadKey`, every size checked as Tink does.
fn ctr_hmac_from_proto(key: &proto::AesCtrHmacAeadKey, checks: &Checks) -> Result<Cipher> {
    let invalid = |detail: String| checks.invalid(detail);
    let version = |what: &str, v: u32| checks.version(what, v);
    let key_len = |what: &str, len: usize, expected: &[usize]| checks.key_len(what, len, expected);
    version("", key.version)?;
    let aes = key
        .aes_ctr_key
        .as_ref()
        .ok_or_else(|| invalid("no AES-CTR key".into()))?;
    let hmac = key
        .hmac_key
        .as_ref()
        .ok_or_else(|| invalid("no HMAC key".into()))?;
    version("AES-CTR ", aes.version)?;
    version("HMAC ", hmac.version)?;
    key_len("AES-CTR ", aes.key_value.len(), &[16, 32])?;
    let iv_size = aes.params.as_ref().map_or(0, |p| p.iv_size);
    if !(12..=16).contains(&iv_size) {
        return Err(invalid(format!("IV size {iv_size} is not 12 to 16")));
    }
    let params = hmac
        .params
        .as_ref()
        .ok_or_else(|| invalid("no HMAC parameters".into()))?;
    let hash = match params.hash {
        hash_type::SHA256 => Hash::Sha256,
        hash_type::SHA512 => Hash::Sha512,
        other => {
            let name = match other {
                hash_type::SHA1 => "SHA1",
                hash_type::SHA224 => "SHA224",
                hash_type::SHA384 => "SHA384",
                _ => "UNKNOWN_HASH",
            };
            return Err(invalid(format!(
                "HMAC hash {name} is not supported; SHA256 or SHA512 expected"
            )));
        }
    };
    let tag = params.tag_size;
    if tag < crate::modes::MIN_HMAC_TAG_LEN as u32 || tag > hash.max_tag_len() as u32 {
        return Err(invalid(format!(
            "HMAC tag size {tag} is not {} to {}",
            crate::modes::MIN_HMAC_TAG_LEN,
            hash.max_tag_len()
        )));
    }
    if hmac.key_value.len() < crate::modes::MIN_HMAC_KEY_LEN {
        return Err(invalid(format!(
            "HMAC key is {} bytes, at least {} expected",
            hmac.key_value.len(),
            crate::modes::MIN_HMAC_KEY_LEN
        )));
    }
    // The sizes were checked above, so the conversions hold.
    CtrHmac::new(
        &aes.key_value,
        iv_size as usize,
        hash,
        &hmac.key_value,
        tag as usize,
    )
    .map(|c| Cipher::CtrHmac(Box::new(c)))
    .ok_or_else(|| invalid("wrong key sizes".into()))
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
    /// The type URL of an ENABLED key of a type this crate does not
    /// implement (`None` for a DISABLED or DESTROYED key).
    unsupported: Option<String>,
}

/// The AEAD primitive of a keyset: the primary key encrypts, every ENABLED
/// key of a supported type decrypts, whatever the type of the primary (a
/// keyset whose primary this crate cannot use still decrypts what its other
/// keys made; encrypting is then [`Error::UnsupportedKeyType`]).
///
/// Ciphertexts follow Tink's layout: `prefix || nonce || ciphertext ||
/// tag`, (AES-GCM, AES-GCM-SIV, ChaCha20-Poly1305: 12-byte nonce, 16-byte
/// tag; XChaCha20-Poly1305: 24 and 16; AES-EAX: 12 or 16 and 16;
/// AES-CTR-HMAC: `iv || ciphertext || hmac`, a 12- to 16-byte IV and a 10-
/// to 64-byte tag, as the key says), the prefix being `0x01 || key id` (TINK), `0x00 || key id`
/// (LEGACY, CRUNCHY) or empty (RAW). Decryption tries the keys whose prefix
/// matches, then the RAW keys. The key schedules are computed once, when the
/// primitive is built.
///
/// A ciphertext whose prefix names a key the keyset does not hold is refused
/// with [`Error::UnknownKey`] (unless the keyset has a RAW key, see
/// [`Aead::decrypt`]), one naming a DISABLED or DESTROYED key with
/// [`Error::KeyNotEnabled`], one naming a key of a type this crate does not
/// implement with [`Error::UnsupportedKeyType`]: the prefix is public, and
/// these say what to do.
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
    /// Index of the primary in `entries`; `None` when the primary is of a
    /// type this crate does not implement.
    primary: Option<usize>,
    primary_id: KeyId,
    unused: Vec<Unused>,
    /// The shortest ciphertext any entry makes, prefix included.
    min_len: usize,
}

impl std::fmt::Debug for Aead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aead")
            .field("primary", &self.primary_id)
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
            let mut keep_unused = |status: KeyStatus, unsupported: Option<String>| {
                unused.push(Unused {
                    id: key.key_id,
                    prefix: OutputPrefix::from_proto(key.output_prefix_type)
                        .filter(|p| *p != OutputPrefix::Raw)
                        .map(|p| p.prefix(key.key_id)),
                    status,
                    unsupported,
                });
            };
            if key.status != proto::key_status::ENABLED {
                // Validation admits only DISABLED and DESTROYED here.
                let status = if key.status == proto::key_status::DESTROYED {
                    KeyStatus::Destroyed
                } else {
                    KeyStatus::Disabled
                };
                keep_unused(status, None);
                continue;
            }
            let Some(data) = &key.key_data else {
                return Err(Error::MissingKeyData(key.key_id));
            };
            let is_primary = key.key_id == keyset.primary_key_id;
            let Some(algorithm) = crate::keyset::algorithm_of(data) else {
                // Kept in the keyset, never used; named when a ciphertext
                // may be its own, and by `encrypt` if it is the primary.
                keep_unused(KeyStatus::Enabled, Some(data.type_url.clone()));
                continue;
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
        let primary_id = KeyId(keyset.primary_key_id);
        let primary_unsupported = unused
            .iter()
            .any(|u| u.id == primary_id.0 && u.unsupported.is_some());
        if primary.is_none() && !primary_unsupported {
            return Err(Error::PrimaryNotEnabled(keyset.primary_key_id));
        }
        let min_len = entries
            .iter()
            .map(|e| e.prefix().len() + e.cipher.min_len())
            .min()
            .unwrap_or(MIN_CIPHERTEXT_LEN)
            .min(MIN_CIPHERTEXT_LEN);
        Ok(Aead {
            entries,
            primary,
            primary_id,
            unused,
            min_len,
        })
    }

    /// The primary's entry, or why there is none.
    fn primary_entry(&self) -> Result<&Entry> {
        // `primary` is an index into `entries` set by `from_keyset`, the only
        // constructor; entries are never removed.
        match self.primary.and_then(|i| self.entries.get(i)) {
            Some(entry) => Ok(entry),
            None => Err(Error::UnsupportedKeyType {
                key_id: self.primary_id.0,
                type_url: self
                    .unused
                    .iter()
                    .find(|u| u.id == self.primary_id.0)
                    .and_then(|u| u.unsupported.clone())
                    .unwrap_or_default(),
            }),
        }
    }

    /// The id of the key that encrypts.
    pub fn primary_id(&self) -> KeyId {
        self.primary_id
    }

    /// Whether the primary can encrypt: its type is one this crate
    /// implements. When it is not, [`Aead::encrypt`] is
    /// [`Error::UnsupportedKeyType`] naming it, and decryption still works.
    pub fn can_encrypt(&self) -> bool {
        self.primary.is_some()
    }

    /// Encrypts `plaintext` under the primary key, binding `aad`.
    ///
    /// # Security
    /// An envelope ([`crate::Envelope`]) wraps its data keys with this
    /// keyset and empty associated data, as Tink's `KmsEnvelopeAead` does.
    /// A keyset that wraps data keys must not also encrypt chosen
    /// plaintexts with empty `aad`: the ciphertext of a 34-byte data-key
    /// proto would pass for a wrapped data key. Give other data its own
    /// keyset, or non-empty associated data.
    ///
    /// # Errors
    /// [`Error::UnsupportedKeyType`] if the primary is of a type this crate
    /// does not implement; [`Error::Randomness`], [`Error::Encryption`].
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(PREFIX_LEN + MIN_CIPHERTEXT_LEN + plaintext.len());
        self.encrypt_into(plaintext, aad, &mut out)?;
        Ok(out)
    }

    /// Appends the ciphertext of `plaintext` to `out` (no other allocation
    /// than `out` growing).
    pub fn encrypt_into(&self, plaintext: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let primary = self.primary_entry()?;
        out.extend_from_slice(primary.prefix());
        primary.cipher.seal_into(plaintext, aad, out)
    }

    /// [`Aead::encrypt`] with a fresh random nonce the caller drew; a
    /// primary whose nonce is not 12 bytes draws its own instead.
    pub(crate) fn encrypt_with(
        &self,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>> {
        let primary = self.primary_entry()?;
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
    /// - [`Error::UnsupportedKeyType`], naming the key's id and type URL,
    ///   when that prefix names an ENABLED key of a type this crate does not
    ///   implement, or when nothing opened it and the keyset has an ENABLED
    ///   RAW key of such a type (which may have made it): such a key is
    ///   never silently skipped;
    /// - [`Error::Decryption`] otherwise, when no key opens it with this
    ///   `aad`: a key with its prefix exists but authentication fails.
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if ciphertext.len() < self.min_len {
            return Err(Error::CiphertextTooShort {
                len: ciphertext.len(),
                min: self.min_len,
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
        let by_prefix = self.refusal_by_prefix(ciphertext);
        if matches!(by_prefix, Error::Decryption | Error::UnknownKey(_)) {
            // A RAW key of an unsupported type may have made it.
            if let Some((id, type_url)) = self
                .unused
                .iter()
                .filter(|u| u.prefix.is_none())
                .find_map(|u| Some((u.id, u.unsupported.clone()?)))
            {
                return Error::UnsupportedKeyType {
                    key_id: id,
                    type_url,
                };
            }
        }
        by_prefix
    }

    fn refusal_by_prefix(&self, ciphertext: &[u8]) -> Error {
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
        // Keys that are not primary may share an id: one of a type this
        // crate does not implement, whose prefix this is, may have made it;
        // else the first with this prefix, else any.
        let candidates = || self.unused.iter().filter(move |u| u.id == id);
        let unused = candidates()
            .find(|u| u.prefix == Some(*prefix) && u.unsupported.is_some())
            .or_else(|| candidates().find(|u| u.prefix == Some(*prefix)))
            .or_else(|| candidates().next());
        match unused {
            // With a RAW key in the keyset, a prefix-like start may be the
            // random nonce of a RAW ciphertext that failed to authenticate
            // (wrong aad, modified): stay opaque. (A chance match of the
            // whole 5-byte prefix of a known key, below, is negligible.)
            None if self.entries.iter().any(|e| e.raw) => Error::Decryption,
            None => Error::UnknownKey(id),
            Some(unused) if unused.prefix == Some(*prefix) => match &unused.unsupported {
                Some(type_url) => Error::UnsupportedKeyType {
                    key_id: id,
                    type_url: type_url.clone(),
                },
                None => Error::KeyNotEnabled {
                    key_id: id,
                    status: unused.status,
                },
            },
            // A key whose prefix type does not make this prefix.
            Some(_) => Error::Decryption,
        }
    }

    /// Whether the primary key alone decrypts `ciphertext` (used by rotation
    /// to skip what is already wrapped under the primary).
    pub fn decrypts_with_primary(&self, ciphertext: &[u8], aad: &[u8]) -> bool {
        let Ok(primary) = self.primary_entry() else {
            return false;
        };
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
