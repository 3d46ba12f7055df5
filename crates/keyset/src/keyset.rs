//! Keysets: reading, writing, validating and managing keys in Tink's model.

use std::fmt;

use prost::Message as _;
use zeroize::Zeroize as _;

use crate::aead::Aead;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::json;
use crate::proto::{self, hash_type, key_material, key_status, output_prefix};

/// Type URL of Tink's AES-GCM-SIV keys.
pub const AES_GCM_SIV_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.AesGcmSivKey";
/// Type URL of Tink's AES-GCM keys.
pub const AES_GCM_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.AesGcmKey";
/// Type URL of Tink's AES-CTR-HMAC AEAD keys.
pub const AES_CTR_HMAC_AEAD_TYPE_URL: &str =
    "type.googleapis.com/google.crypto.tink.AesCtrHmacAeadKey";
/// Type URL of Tink's AES-EAX keys.
pub const AES_EAX_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.AesEaxKey";
/// Type URL of Tink's ChaCha20-Poly1305 keys.
pub const CHACHA20_POLY1305_TYPE_URL: &str =
    "type.googleapis.com/google.crypto.tink.ChaCha20Poly1305Key";
/// Type URL of Tink's XChaCha20-Poly1305 keys.
pub const XCHACHA20_POLY1305_TYPE_URL: &str =
    "type.googleapis.com/google.crypto.tink.XChaCha20Poly1305Key";

/// A key id: Tink's 32-bit identifier, carried in the ciphertext prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0.to_string())
    }
}

/// The AEAD algorithms this crate implements: Tink's key type and key size
/// (and hash, for AES-CTR-HMAC). The other parameters of a key (nonce, IV
/// and tag sizes) are read from the key; a new key gets Tink's standard ones
/// (see [`Template`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-128-GCM-SIV (RFC 8452), Tink's `AesGcmSivKey` with a 16-byte key.
    Aes128GcmSiv,
    /// AES-256-GCM-SIV (RFC 8452), Tink's `AesGcmSivKey` with a 32-byte key.
    Aes256GcmSiv,
    /// AES-128-GCM, Tink's `AesGcmKey` with a 16-byte key.
    Aes128Gcm,
    /// AES-256-GCM, Tink's `AesGcmKey` with a 32-byte key.
    Aes256Gcm,
    /// AES-128-CTR then HMAC-SHA256, Tink's `AesCtrHmacAeadKey` with a
    /// 16-byte AES key; new keys as Tink's `AES128_CTR_HMAC_SHA256` (16-byte
    /// IV, 32-byte HMAC key, 16-byte tag).
    Aes128CtrHmacSha256,
    /// AES-256-CTR then HMAC-SHA256; new keys as Tink's
    /// `AES256_CTR_HMAC_SHA256` (16-byte IV, 32-byte HMAC key, 32-byte tag).
    Aes256CtrHmacSha256,
    /// AES-128-CTR then HMAC-SHA512 (Tink has no template for it; new keys:
    /// 16-byte IV, 64-byte HMAC key, 32-byte tag).
    Aes128CtrHmacSha512,
    /// AES-256-CTR then HMAC-SHA512 (new keys: 16-byte IV, 64-byte HMAC
    /// key, 64-byte tag).
    Aes256CtrHmacSha512,
    /// AES-128-EAX, Tink's `AesEaxKey` with a 16-byte key; new keys as
    /// Tink's `AES128_EAX` (16-byte nonce).
    Aes128Eax,
    /// AES-256-EAX; new keys as Tink's `AES256_EAX` (16-byte nonce).
    Aes256Eax,
    /// ChaCha20-Poly1305 (RFC 8439), Tink's `ChaCha20Poly1305Key`.
    ChaCha20Poly1305,
    /// XChaCha20-Poly1305 (24-byte nonce), Tink's `XChaCha20Poly1305Key`.
    XChaCha20Poly1305,
}

impl Algorithm {
    /// Every algorithm, in the order the keyset tool lists them.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Aes256GcmSiv,
        Algorithm::Aes128GcmSiv,
        Algorithm::Aes256Gcm,
        Algorithm::Aes128Gcm,
        Algorithm::Aes128CtrHmacSha256,
        Algorithm::Aes256CtrHmacSha256,
        Algorithm::Aes128CtrHmacSha512,
        Algorithm::Aes256CtrHmacSha512,
        Algorithm::Aes128Eax,
        Algorithm::Aes256Eax,
        Algorithm::ChaCha20Poly1305,
        Algorithm::XChaCha20Poly1305,
    ];

    /// Tink's type URL of the key type.
    pub fn type_url(self) -> &'static str {
        match self {
            Algorithm::Aes128GcmSiv | Algorithm::Aes256GcmSiv => AES_GCM_SIV_TYPE_URL,
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => AES_GCM_TYPE_URL,
            Algorithm::Aes128CtrHmacSha256
            | Algorithm::Aes256CtrHmacSha256
            | Algorithm::Aes128CtrHmacSha512
            | Algorithm::Aes256CtrHmacSha512 => AES_CTR_HMAC_AEAD_TYPE_URL,
            Algorithm::Aes128Eax | Algorithm::Aes256Eax => AES_EAX_TYPE_URL,
            Algorithm::ChaCha20Poly1305 => CHACHA20_POLY1305_TYPE_URL,
            Algorithm::XChaCha20Poly1305 => XCHACHA20_POLY1305_TYPE_URL,
        }
    }

    /// Length in bytes of the (AES or ChaCha20) encryption key.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128GcmSiv
            | Algorithm::Aes128Gcm
            | Algorithm::Aes128CtrHmacSha256
            | Algorithm::Aes128CtrHmacSha512
            | Algorithm::Aes128Eax => 16,
            _ => 32,
        }
    }

    /// Whether this is AES-GCM or AES-GCM-SIV: the algorithms an
    /// [`Envelope`](crate::Envelope) can draw data keys of.
    pub fn is_gcm(self) -> bool {
        matches!(
            self,
            Algorithm::Aes128GcmSiv
                | Algorithm::Aes256GcmSiv
                | Algorithm::Aes128Gcm
                | Algorithm::Aes256Gcm
        )
    }

    /// The template name used by the keyset tool (`aes256-gcm-siv`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aes128GcmSiv => "aes128-gcm-siv",
            Algorithm::Aes256GcmSiv => "aes256-gcm-siv",
            Algorithm::Aes128Gcm => "aes128-gcm",
            Algorithm::Aes256Gcm => "aes256-gcm",
            Algorithm::Aes128CtrHmacSha256 => "aes128-ctr-hmac-sha256",
            Algorithm::Aes256CtrHmacSha256 => "aes256-ctr-hmac-sha256",
            Algorithm::Aes128CtrHmacSha512 => "aes128-ctr-hmac-sha512",
            Algorithm::Aes256CtrHmacSha512 => "aes256-ctr-hmac-sha512",
            Algorithm::Aes128Eax => "aes128-eax",
            Algorithm::Aes256Eax => "aes256-eax",
            Algorithm::ChaCha20Poly1305 => "chacha20-poly1305",
            Algorithm::XChaCha20Poly1305 => "xchacha20-poly1305",
        }
    }

    /// Parses a template name ([`Algorithm::name`], any case).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The AES-GCM or AES-GCM-SIV algorithm of a key of this type URL
    /// holding `key_value_len` bytes (the envelope's data keys).
    pub(crate) fn for_key(type_url: &str, key_value_len: usize) -> Option<Algorithm> {
        match (type_url, key_value_len) {
            (AES_GCM_SIV_TYPE_URL, 16) => Some(Algorithm::Aes128GcmSiv),
            (AES_GCM_SIV_TYPE_URL, _) => Some(Algorithm::Aes256GcmSiv),
            (AES_GCM_TYPE_URL, 16) => Some(Algorithm::Aes128Gcm),
            (AES_GCM_TYPE_URL, _) => Some(Algorithm::Aes256Gcm),
            _ => None,
        }
    }

    /// The serialized key proto of a fresh key of this algorithm, with
    /// Tink's standard parameters.
    fn new_key_value(self) -> Vec<u8> {
        let mut key = zeroize::Zeroizing::new(vec![0u8; self.key_len()]);
        crate::random::fill_or_abort(&mut key);
        // Every key proto wipes its material when dropped (`proto`), and
        // `encode_to_vec` allocates the exact length once.
        let simple = |key: &[u8]| {
            proto::AesKey {
                version: 0,
                key_value: key.to_vec(),
            }
            .encode_to_vec()
        };
        let ctr_hmac = |hash: i32, hmac_len: usize, tag_size: u32| {
            let mut hmac_key = zeroize::Zeroizing::new(vec![0u8; hmac_len]);
            crate::random::fill_or_abort(&mut hmac_key);
            proto::AesCtrHmacAeadKey {
                version: 0,
                aes_ctr_key: Some(proto::AesCtrKey {
                    version: 0,
                    params: Some(proto::AesCtrParams { iv_size: 16 }),
                    key_value: key.to_vec(),
                }),
                hmac_key: Some(proto::HmacKey {
                    version: 0,
                    params: Some(proto::HmacParams { hash, tag_size }),
                    key_value: hmac_key.to_vec(),
                }),
            }
            .encode_to_vec()
        };
        match self {
            Algorithm::Aes128GcmSiv
            | Algorithm::Aes256GcmSiv
            | Algorithm::Aes128Gcm
            | Algorithm::Aes256Gcm
            | Algorithm::XChaCha20Poly1305 => simple(&key),
            Algorithm::ChaCha20Poly1305 => proto::ChaCha20Poly1305Key {
                version: 0,
                key_value: key.to_vec(),
            }
            .encode_to_vec(),
            Algorithm::Aes128CtrHmacSha256 => ctr_hmac(hash_type::SHA256, 32, 16),
            Algorithm::Aes256CtrHmacSha256 => ctr_hmac(hash_type::SHA256, 32, 32),
            Algorithm::Aes128CtrHmacSha512 => ctr_hmac(hash_type::SHA512, 64, 32),
            Algorithm::Aes256CtrHmacSha512 => ctr_hmac(hash_type::SHA512, 64, 64),
            Algorithm::Aes128Eax | Algorithm::Aes256Eax => proto::AesEaxKey {
                version: 0,
                params: Some(proto::AesEaxParams { iv_size: 16 }),
                key_value: key.to_vec(),
            }
            .encode_to_vec(),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// How a key marks its ciphertexts (Tink's `OutputPrefixType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputPrefix {
    /// `0x01 || key id`: Tink's default.
    Tink,
    /// `0x00 || key id`.
    Legacy,
    /// No prefix.
    Raw,
    /// `0x00 || key id`.
    Crunchy,
}

impl OutputPrefix {
    pub(crate) fn from_proto(value: i32) -> Option<OutputPrefix> {
        match value {
            output_prefix::TINK => Some(OutputPrefix::Tink),
            output_prefix::LEGACY => Some(OutputPrefix::Legacy),
            output_prefix::RAW => Some(OutputPrefix::Raw),
            output_prefix::CRUNCHY => Some(OutputPrefix::Crunchy),
            _ => None,
        }
    }

    fn to_proto(self) -> i32 {
        match self {
            OutputPrefix::Tink => output_prefix::TINK,
            OutputPrefix::Legacy => output_prefix::LEGACY,
            OutputPrefix::Raw => output_prefix::RAW,
            OutputPrefix::Crunchy => output_prefix::CRUNCHY,
        }
    }

    /// The 5 prefix bytes of a key with this id (meaningless for RAW).
    pub(crate) fn prefix(self, key_id: u32) -> [u8; 5] {
        let marker = if self == OutputPrefix::Tink { 1 } else { 0 };
        let id = key_id.to_be_bytes();
        [marker, id[0], id[1], id[2], id[3]]
    }

    /// Parses `tink`, `raw`, `legacy` or `crunchy`.
    pub fn from_name(name: &str) -> Option<OutputPrefix> {
        match name.to_ascii_lowercase().as_str() {
            "tink" => Some(OutputPrefix::Tink),
            "raw" => Some(OutputPrefix::Raw),
            "legacy" => Some(OutputPrefix::Legacy),
            "crunchy" => Some(OutputPrefix::Crunchy),
            _ => None,
        }
    }
}

impl fmt::Display for OutputPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            OutputPrefix::Tink => "TINK",
            OutputPrefix::Legacy => "LEGACY",
            OutputPrefix::Raw => "RAW",
            OutputPrefix::Crunchy => "CRUNCHY",
        })
    }
}

/// A key's status. Only ENABLED keys encrypt or decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStatus {
    /// In use.
    Enabled,
    /// Kept, but neither encrypts nor decrypts; can be enabled again.
    Disabled,
    /// Material erased, id kept; can never be used again.
    Destroyed,
}

impl KeyStatus {
    fn from_proto(value: i32) -> Option<KeyStatus> {
        match value {
            key_status::ENABLED => Some(KeyStatus::Enabled),
            key_status::DISABLED => Some(KeyStatus::Disabled),
            key_status::DESTROYED => Some(KeyStatus::Destroyed),
            _ => None,
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            KeyStatus::Enabled => "ENABLED",
            KeyStatus::Disabled => "DISABLED",
            KeyStatus::Destroyed => "DESTROYED",
        })
    }
}

/// What to generate: an algorithm and an output prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The output prefix.
    pub prefix: OutputPrefix,
}

impl Template {
    /// AES-256-GCM-SIV with a TINK prefix: the default for new keys.
    pub const AES256_GCM_SIV: Template = Template {
        algorithm: Algorithm::Aes256GcmSiv,
        prefix: OutputPrefix::Tink,
    };
    /// AES-256-GCM with a TINK prefix, as Tink's `AES256_GCM`.
    pub const AES256_GCM: Template = Template {
        algorithm: Algorithm::Aes256Gcm,
        prefix: OutputPrefix::Tink,
    };

    /// `algorithm` with a TINK prefix (Tink's templates of that name).
    pub const fn tink(algorithm: Algorithm) -> Template {
        Template {
            algorithm,
            prefix: OutputPrefix::Tink,
        }
    }
}

impl Default for Template {
    fn default() -> Self {
        Template::AES256_GCM_SIV
    }
}

/// Public facts about one key: never its material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id.
    pub id: KeyId,
    /// Its status.
    pub status: KeyStatus,
    /// Tink's type URL (empty for a destroyed key: its type is erased with
    /// its material).
    pub type_url: String,
    /// The algorithm, when this crate implements the type.
    pub algorithm: Option<Algorithm>,
    /// Its output prefix.
    pub prefix: OutputPrefix,
    /// Whether it is the primary key.
    pub primary: bool,
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.algorithm {
            Some(a) => a.name().to_owned(),
            None if self.type_url.is_empty() => "-".to_owned(),
            None => self.type_url.clone(),
        };
        write!(
            f,
            "{:>10}  {:<9}  {:<14}  {:<7}{}",
            self.id,
            self.status,
            kind,
            self.prefix,
            if self.primary { "  primary" } else { "" }
        )
    }
}

/// A Tink keyset: the keys, their statuses, and which one is primary.
///
/// The key material never leaves through `Debug` or `Display`, and is
/// zeroized when the keyset is dropped. Cleartext export is possible only
/// through the explicitly named [`Keyset::insecure_to_json`] and
/// [`Keyset::insecure_to_binary`].
///
/// Every operation checks before it changes anything: an error leaves the
/// keyset as it was, and no operation leaves it without an enabled primary.
pub struct Keyset {
    inner: proto::Keyset,
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyset")
            .field("primary", &KeyId(self.inner.primary_key_id))
            .field("keys", &self.list())
            .finish()
    }
}

impl fmt::Display for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for key in self.list() {
            writeln!(f, "{key}")?;
        }
        Ok(())
    }
}

impl Keyset {
    /// A new keyset holding one fresh key of `template`, primary.
    pub fn generate(template: Template) -> Keyset {
        let mut keyset = Keyset {
            inner: proto::Keyset::default(),
        };
        let id = keyset.push_new_key(template);
        keyset.inner.primary_key_id = id.0;
        keyset
    }

    /// Reads a keyset in either of Tink's cleartext forms: JSON (what env
    /// `KEYSET` holds) or binary protobuf.
    pub fn parse(bytes: &[u8]) -> Result<Keyset> {
        // Text is meant as JSON (a binary keyset starts with a protobuf tag,
        // a control byte): its error is the JSON parser's, which says what
        // is wrong, not a protobuf decoder's.
        if json::looks_like_json(bytes) || json::is_text(bytes) {
            let text =
                std::str::from_utf8(bytes).map_err(|_| Error::Json("not UTF-8 text".to_owned()))?;
            Keyset::from_json(text)
        } else {
            Keyset::from_binary(bytes)
        }
    }

    /// Reads Tink's cleartext JSON keyset.
    pub fn from_json(text: &str) -> Result<Keyset> {
        Keyset::validated(json::keyset_from_json(text)?)
    }

    /// Reads Tink's cleartext binary keyset (a serialized `Keyset` proto).
    pub fn from_binary(bytes: &[u8]) -> Result<Keyset> {
        let inner = proto::Keyset::decode(bytes).map_err(|e| Error::Protobuf {
            what: "keyset",
            detail: e.to_string(),
        })?;
        Keyset::validated(inner)
    }

    /// Reads an encrypted keyset (JSON or binary `EncryptedKeyset`) whose
    /// `encryptedKeyset` the `master` AEAD decrypts with `aad`.
    pub fn parse_encrypted(bytes: &[u8], master: &Aead, aad: &[u8]) -> Result<Keyset> {
        let encrypted = if json::looks_like_json(bytes) {
            let text =
                std::str::from_utf8(bytes).map_err(|_| Error::Json("not UTF-8 text".to_owned()))?;
            json::encrypted_from_json(text)?
        } else {
            proto::EncryptedKeyset::decode(bytes).map_err(|e| Error::Protobuf {
                what: "encrypted keyset",
                detail: e.to_string(),
            })?
        };
        let mut cleartext = master.decrypt(&encrypted.encrypted_keyset, aad)?;
        let parsed = Keyset::from_binary(&cleartext);
        cleartext.zeroize();
        parsed
    }

    fn validated(inner: proto::Keyset) -> Result<Keyset> {
        // On error `inner` is dropped, and its key data wiped (`proto`).
        validate(&inner)?;
        let mut keyset = Keyset { inner };
        for key in &mut keyset.inner.key {
            if key.status == key_status::DESTROYED {
                erase_destroyed(key);
            }
        }
        Ok(keyset)
    }

    /// Writes the keyset as Tink's cleartext JSON, key material included.
    /// Only for storing it where a secret belongs (a secret manager, env
    /// `KEYSET`); prefer [`Keyset::to_encrypted_json`].
    pub fn insecure_to_json(&self) -> String {
        json::keyset_to_json(&self.inner)
    }

    /// Writes the keyset as Tink's cleartext binary protobuf, key material
    /// included.
    pub fn insecure_to_binary(&self) -> Vec<u8> {
        self.inner.encode_to_vec()
    }

    /// Writes the keyset encrypted by `master` (with `aad`) as Tink's JSON
    /// `EncryptedKeyset`, with its clear `keysetInfo`.
    pub fn to_encrypted_json(&self, master: &Aead, aad: &[u8]) -> Result<String> {
        Ok(json::encrypted_to_json(&self.encrypted(master, aad)?))
    }

    /// Writes the keyset encrypted by `master` as Tink's binary
    /// `EncryptedKeyset`.
    pub fn to_encrypted_binary(&self, master: &Aead, aad: &[u8]) -> Result<Vec<u8>> {
        Ok(self.encrypted(master, aad)?.encode_to_vec())
    }

    fn encrypted(&self, master: &Aead, aad: &[u8]) -> Result<proto::EncryptedKeyset> {
        let mut cleartext = self.inner.encode_to_vec();
        let sealed = master.encrypt(&cleartext, aad);
        cleartext.zeroize();
        Ok(proto::EncryptedKeyset {
            encrypted_keyset: sealed?,
            keyset_info: Some(self.keyset_info()),
        })
    }

    fn keyset_info(&self) -> proto::KeysetInfo {
        proto::KeysetInfo {
            primary_key_id: self.inner.primary_key_id,
            key_info: self
                .inner
                .key
                .iter()
                .map(|k| proto::KeyInfo {
                    type_url: k
                        .key_data
                        .as_ref()
                        .map(|d| d.type_url.clone())
                        .unwrap_or_default(),
                    status: k.status,
                    key_id: k.key_id,
                    output_prefix_type: k.output_prefix_type,
                })
                .collect(),
        }
    }

    /// The primary key's id.
    pub fn primary_id(&self) -> KeyId {
        KeyId(self.inner.primary_key_id)
    }

    /// Every key, in keyset order, without material.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.inner
            .key
            .iter()
            .filter_map(|k| {
                let (type_url, algorithm) = match &k.key_data {
                    Some(d) => (d.type_url.clone(), algorithm_of(d)),
                    None => (String::new(), None),
                };
                Some(KeyInfo {
                    id: KeyId(k.key_id),
                    // Validation guarantees known statuses and prefixes.
                    status: KeyStatus::from_proto(k.status)?,
                    type_url,
                    algorithm,
                    prefix: OutputPrefix::from_proto(k.output_prefix_type)?,
                    primary: k.key_id == self.inner.primary_key_id,
                })
            })
            .collect()
    }

    /// The AEAD primitive of this keyset (key schedules computed now). It
    /// decrypts with every ENABLED key of a supported type whatever the
    /// primary's type; if this crate cannot use the primary,
    /// [`Aead::encrypt`] is [`Error::UnsupportedKeyType`].
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if a key's material is malformed.
    pub fn aead(&self) -> Result<Aead> {
        Aead::from_keyset(&self.inner)
    }

    /// Envelope encryption with this keyset as key-encryption key (any
    /// supported type) and fresh data keys of `dek` (normally
    /// [`Algorithm::Aes256GcmSiv`]).
    ///
    /// # Errors
    /// [`Error::UnsupportedDataKey`] if `dek` is not AES-GCM or AES-GCM-SIV.
    pub fn envelope(&self, dek: Algorithm) -> Result<Envelope> {
        if !dek.is_gcm() {
            return Err(Error::UnsupportedDataKey(dek));
        }
        Ok(Envelope::new(self.aead()?, dek))
    }

    /// Adds a fresh ENABLED key of `template`; it is not primary until
    /// promoted (roll it out everywhere first).
    pub fn add(&mut self, template: Template) -> KeyId {
        self.push_new_key(template)
    }

    fn push_new_key(&mut self, template: Template) -> KeyId {
        let id = self.fresh_id();
        let value = template.algorithm.new_key_value();
        self.inner.key.push(proto::Key {
            key_data: Some(proto::KeyData {
                type_url: template.algorithm.type_url().to_owned(),
                value,
                key_material_type: key_material::SYMMETRIC,
            }),
            status: key_status::ENABLED,
            key_id: id.0,
            output_prefix_type: template.prefix.to_proto(),
        });
        id
    }

    fn fresh_id(&self) -> KeyId {
        loop {
            let id = crate::random::next_u32();
            if id != 0 && self.find(KeyId(id)).is_none() {
                return KeyId(id);
            }
        }
    }

    fn find(&self, id: KeyId) -> Option<usize> {
        self.inner.key.iter().position(|k| k.key_id == id.0)
    }

    /// The one key with this id: a change by an id that several keys share
    /// (as Tink allows for keys that are not primary) is refused.
    fn key_mut(&mut self, id: KeyId) -> Result<&mut proto::Key> {
        let mut keys = self.inner.key.iter_mut().filter(|k| k.key_id == id.0);
        match (keys.next(), keys.next()) {
            (Some(key), None) => Ok(key),
            (None, _) => Err(Error::KeyNotFound(id.0)),
            (Some(_), Some(_)) => Err(Error::AmbiguousKeyId(id.0)),
        }
    }

    /// Makes key `id` the primary. It must be ENABLED and of a type this
    /// crate implements.
    pub fn promote(&mut self, id: KeyId) -> Result<()> {
        let key = self.key_mut(id)?;
        if key.status != key_status::ENABLED {
            return Err(Error::InvalidTransition {
                op: "promote",
                key_id: id.0,
                reason: "only an ENABLED key can become primary; enable it first",
            });
        }
        if let Some(data) = &key.key_data {
            if algorithm_of(data).is_none() {
                return Err(Error::UnsupportedKeyType {
                    key_id: id.0,
                    type_url: data.type_url.clone(),
                });
            }
        }
        self.inner.primary_key_id = id.0;
        Ok(())
    }

    /// Enables a DISABLED key.
    pub fn enable(&mut self, id: KeyId) -> Result<()> {
        let key = self.key_mut(id)?;
        match key.status {
            key_status::ENABLED => Ok(()),
            key_status::DESTROYED => Err(Error::InvalidTransition {
                op: "enable",
                key_id: id.0,
                reason: "the key is DESTROYED and its material is gone",
            }),
            _ => {
                key.status = key_status::ENABLED;
                Ok(())
            }
        }
    }

    /// Disables a key: it no longer decrypts. The primary cannot be disabled.
    pub fn disable(&mut self, id: KeyId) -> Result<()> {
        self.not_primary(id, "disable")?;
        let key = self.key_mut(id)?;
        match key.status {
            key_status::DESTROYED => Err(Error::InvalidTransition {
                op: "disable",
                key_id: id.0,
                reason: "the key is DESTROYED",
            }),
            _ => {
                key.status = key_status::DISABLED;
                Ok(())
            }
        }
    }

    /// Destroys a key: its material is erased, its id kept. The primary
    /// cannot be destroyed. Everything it encrypted is lost for good.
    pub fn destroy(&mut self, id: KeyId) -> Result<()> {
        self.not_primary(id, "destroy")?;
        let key = self.key_mut(id)?;
        erase_destroyed(key);
        key.status = key_status::DESTROYED;
        Ok(())
    }

    fn not_primary(&self, id: KeyId, op: &'static str) -> Result<()> {
        if id.0 == self.inner.primary_key_id {
            return Err(Error::InvalidTransition {
                op,
                key_id: id.0,
                reason: "it is the primary; promote another key first",
            });
        }
        Ok(())
    }
}

/// Erases a key's material and type, leaving the key data Tink Java reads
/// for a DESTROYED key: an empty type URL and value, and the key material
/// type (SYMMETRIC when unknown). Tink Java's JSON reader refuses a key
/// without `keyData` and a `keyMaterialType` of `UNKNOWN_KEYMATERIAL` (what
/// Tink Java itself writes for a destroyed key), and a known type URL
/// without its key fails Tink Java's key parser, for the whole keyset.
fn erase_destroyed(key: &mut proto::Key) {
    // The old key data is wiped as it is replaced (`proto::KeyData`).
    let key_material_type = key.key_data.as_ref().map_or(0, |d| d.key_material_type);
    key.key_data = Some(proto::KeyData {
        type_url: String::new(),
        value: Vec::new(),
        key_material_type: if (1..=4).contains(&key_material_type) {
            key_material_type
        } else {
            key_material::SYMMETRIC
        },
    });
}

/// The algorithm of a key of a supported type: the type from the type
/// URL, the size (and hash) from the key; 256-bit (SHA-256) if the key does
/// not parse, using it then reports the problem.
pub(crate) fn algorithm_of(data: &proto::KeyData) -> Option<Algorithm> {
    let value = data.value.as_slice();
    Some(match data.type_url.as_str() {
        AES_GCM_SIV_TYPE_URL | AES_GCM_TYPE_URL => {
            let len = proto::AesKey::decode(value)
                .map(|k| k.key_value.len())
                .unwrap_or(32);
            Algorithm::for_key(&data.type_url, len)?
        }
        AES_EAX_TYPE_URL => {
            let len = proto::AesEaxKey::decode(value)
                .map(|k| k.key_value.len())
                .unwrap_or(32);
            if len == 16 {
                Algorithm::Aes128Eax
            } else {
                Algorithm::Aes256Eax
            }
        }
        AES_CTR_HMAC_AEAD_TYPE_URL => {
            let (len, hash) = proto::AesCtrHmacAeadKey::decode(value)
                .map(|k| {
                    let len = k.aes_ctr_key.as_ref().map_or(32, |a| a.key_value.len());
                    let hash = k
                        .hmac_key
                        .as_ref()
                        .and_then(|h| h.params.as_ref())
                        .map_or(hash_type::SHA256, |p| p.hash);
                    (len, hash)
                })
                .unwrap_or((32, hash_type::SHA256));
            match (len, hash == hash_type::SHA512) {
                (16, false) => Algorithm::Aes128CtrHmacSha256,
                (16, true) => Algorithm::Aes128CtrHmacSha512,
                (_, false) => Algorithm::Aes256CtrHmacSha256,
                (_, true) => Algorithm::Aes256CtrHmacSha512,
            }
        }
        CHACHA20_POLY1305_TYPE_URL => Algorithm::ChaCha20Poly1305,
        XCHACHA20_POLY1305_TYPE_URL => Algorithm::XChaCha20Poly1305,
        _ => return None,
    })
}

/// Tink's keyset validation (keys that are not primary may share an id; the
/// primary is the first key with its id, ENABLED, and no other ENABLED key
/// has that id), plus: every key of a supported type that is not destroyed
/// holds well-formed material.
fn validate(keyset: &proto::Keyset) -> Result<()> {
    if keyset.key.is_empty() {
        return Err(Error::EmptyKeyset);
    }
    for key in &keyset.key {
        let status = KeyStatus::from_proto(key.status).ok_or(Error::UnknownStatus(key.key_id))?;
        OutputPrefix::from_proto(key.output_prefix_type).ok_or(Error::UnknownPrefix(key.key_id))?;
        if status == KeyStatus::Destroyed {
            continue;
        }
        let data = key
            .key_data
            .as_ref()
            .ok_or(Error::MissingKeyData(key.key_id))?;
        if let Some(algorithm) = algorithm_of(data) {
            // Builds (and drops, zeroizing) the cipher: checks version and size.
            crate::aead::Cipher::from_key_proto(algorithm, key.key_id, &data.value)?;
        }
    }
    let primary = keyset
        .key
        .iter()
        .find(|k| k.key_id == keyset.primary_key_id)
        .ok_or(Error::NoPrimary(keyset.primary_key_id))?;
    // Tink Java takes the first key with the primary id as the primary.
    if primary.status != key_status::ENABLED {
        return Err(Error::PrimaryNotEnabled(primary.key_id));
    }
    let enabled = |k: &&proto::Key| k.key_id == primary.key_id && k.status == key_status::ENABLED;
    if keyset.key.iter().filter(enabled).count() > 1 {
        return Err(Error::DuplicateKeyId(primary.key_id));
    }
    Ok(())
}
