//! Tink's protobuf messages (`tink.proto`, `aes_gcm.proto`, `aes_eax.proto`,
//! `aes_ctr_hmac_aead.proto`, `chacha20_poly1305.proto`,
//! `aes_gcm_siv.proto`), declared by hand with `prost` so that no build step
//! needs `protoc`. Field numbers follow Tink exactly; enums are kept as `i32`
//! so that values this crate does not know survive a read and a write.

/// `google.crypto.tink.KeyStatusType`.
pub mod key_status {
    /// ENABLED
    pub const ENABLED: i32 = 1;
    /// DISABLED
    pub const DISABLED: i32 = 2;
    /// DESTROYED
    pub const DESTROYED: i32 = 3;
}

/// `google.crypto.tink.OutputPrefixType`.
pub mod output_prefix {
    /// TINK
    pub const TINK: i32 = 1;
    /// LEGACY
    pub const LEGACY: i32 = 2;
    /// RAW
    pub const RAW: i32 = 3;
    /// CRUNCHY
    pub const CRUNCHY: i32 = 4;
}

/// `google.crypto.tink.KeyData.KeyMaterialType`.
pub mod key_material {
    /// SYMMETRIC
    pub const SYMMETRIC: i32 = 1;
}

/// `google.crypto.tink.KeyData`.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct KeyData {
    /// Type URL of the key, e.g. `type.googleapis.com/google.crypto.tink.AesGcmSivKey`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The serialized key proto (secret).
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// `KeyMaterialType`.
    #[prost(int32, tag = "3")]
    pub key_material_type: i32,
}

/// `google.crypto.tink.Keyset.Key`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Key {
    /// The key's data; absent on a destroyed key.
    #[prost(message, optional, tag = "1")]
    pub key_data: Option<KeyData>,
    /// `KeyStatusType`.
    #[prost(int32, tag = "2")]
    pub status: i32,
    /// The key id.
    #[prost(uint32, tag = "3")]
    pub key_id: u32,
    /// `OutputPrefixType`.
    #[prost(int32, tag = "4")]
    pub output_prefix_type: i32,
}

/// `google.crypto.tink.Keyset`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Keyset {
    /// Id of the primary key.
    #[prost(uint32, tag = "1")]
    pub primary_key_id: u32,
    /// The keys.
    #[prost(message, repeated, tag = "2")]
    pub key: Vec<Key>,
}

/// `google.crypto.tink.KeysetInfo.KeyInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyInfo {
    /// Type URL.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// `KeyStatusType`.
    #[prost(int32, tag = "2")]
    pub status: i32,
    /// The key id.
    #[prost(uint32, tag = "3")]
    pub key_id: u32,
    /// `OutputPrefixType`.
    #[prost(int32, tag = "4")]
    pub output_prefix_type: i32,
}

/// `google.crypto.tink.KeysetInfo`: metadata only, no key material.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeysetInfo {
    /// Id of the primary key.
    #[prost(uint32, tag = "1")]
    pub primary_key_id: u32,
    /// One entry per key.
    #[prost(message, repeated, tag = "2")]
    pub key_info: Vec<KeyInfo>,
}

/// `google.crypto.tink.EncryptedKeyset`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptedKeyset {
    /// The binary keyset, encrypted by the master AEAD.
    #[prost(bytes = "vec", tag = "2")]
    pub encrypted_keyset: Vec<u8>,
    /// Metadata in clear.
    #[prost(message, optional, tag = "3")]
    pub keyset_info: Option<KeysetInfo>,
}

/// `google.crypto.tink.AesGcmKey`, `google.crypto.tink.AesGcmSivKey` and
/// `google.crypto.tink.XChaCha20Poly1305Key` (the same fields: version 1,
/// key_value 3).
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct AesKey {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The raw AES key (secret).
    #[prost(bytes = "vec", tag = "3")]
    pub key_value: Vec<u8>,
}

/// `google.crypto.tink.HashType`.
pub mod hash_type {
    /// SHA1
    pub const SHA1: i32 = 1;
    /// SHA384
    pub const SHA384: i32 = 2;
    /// SHA256
    pub const SHA256: i32 = 3;
    /// SHA512
    pub const SHA512: i32 = 4;
    /// SHA224
    pub const SHA224: i32 = 5;
}

/// `google.crypto.tink.AesEaxParams`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AesEaxParams {
    /// Nonce length: 12 or 16.
    #[prost(uint32, tag = "1")]
    pub iv_size: u32,
}

/// `google.crypto.tink.AesEaxKey`.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct AesEaxKey {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// Parameters.
    #[prost(message, optional, tag = "2")]
    pub params: Option<AesEaxParams>,
    /// The raw AES key (secret).
    #[prost(bytes = "vec", tag = "3")]
    pub key_value: Vec<u8>,
}

/// `google.crypto.tink.AesCtrParams`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AesCtrParams {
    /// IV length: 12 to 16.
    #[prost(uint32, tag = "1")]
    pub iv_size: u32,
}

/// `google.crypto.tink.AesCtrKey`.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct AesCtrKey {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// Parameters.
    #[prost(message, optional, tag = "2")]
    pub params: Option<AesCtrParams>,
    /// The raw AES key (secret).
    #[prost(bytes = "vec", tag = "3")]
    pub key_value: Vec<u8>,
}

/// `google.crypto.tink.HmacParams`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HmacParams {
    /// `HashType`.
    #[prost(int32, tag = "1")]
    pub hash: i32,
    /// Tag length in bytes.
    #[prost(uint32, tag = "2")]
    pub tag_size: u32,
}

/// `google.crypto.tink.HmacKey`.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct HmacKey {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// Parameters.
    #[prost(message, optional, tag = "2")]
    pub params: Option<HmacParams>,
    /// The HMAC key (secret).
    #[prost(bytes = "vec", tag = "3")]
    pub key_value: Vec<u8>,
}

/// `google.crypto.tink.AesCtrHmacAeadKey`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AesCtrHmacAeadKey {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The AES-CTR half.
    #[prost(message, optional, tag = "2")]
    pub aes_ctr_key: Option<AesCtrKey>,
    /// The HMAC half.
    #[prost(message, optional, tag = "3")]
    pub hmac_key: Option<HmacKey>,
}

/// `google.crypto.tink.ChaCha20Poly1305Key`: unlike the others, its key is
/// field 2.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct ChaCha20Poly1305Key {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The raw ChaCha20 key (secret).
    #[prost(bytes = "vec", tag = "2")]
    pub key_value: Vec<u8>,
}

/// Key material held by a message: wiped when the message is dropped, on
/// every path (after use, and when `prost` drops a message it was decoding
/// because the input turned out malformed), and never shown by `Debug`.
macro_rules! secret_fields {
    ($($message:ident { $field:ident }),* $(,)?) => {$(
        impl Drop for $message {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.$field);
            }
        }

        impl core::fmt::Debug for $message {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($message))
                    .field(stringify!($field), &format_args!("<{} bytes>", self.$field.len()))
                    .finish_non_exhaustive()
            }
        }
    )*};
}

secret_fields! {
    KeyData { value },
    AesKey { key_value },
    AesEaxKey { key_value },
    AesCtrKey { key_value },
    HmacKey { key_value },
    ChaCha20Poly1305Key { key_value },
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    /// `Debug` of a message with key material shows its length only, also
    /// nested in a keyset.
    #[test]
    fn debug_hides_key_material() {
        let secret = vec![0xA5u8; 32];
        let key = AesKey {
            version: 0,
            key_value: secret.clone(),
        };
        let keyset = Keyset {
            primary_key_id: 7,
            key: vec![Key {
                key_data: Some(KeyData {
                    type_url: "t".into(),
                    value: key.encode_to_vec(),
                    key_material_type: key_material::SYMMETRIC,
                }),
                status: key_status::ENABLED,
                key_id: 7,
                output_prefix_type: output_prefix::TINK,
            }],
        };
        for shown in [format!("{key:?}"), format!("{keyset:?}")] {
            assert!(shown.contains("bytes>"), "{shown}");
            assert!(!shown.contains("165"), "{shown}"); // 0xA5 as a number
            assert!(!shown.to_lowercase().contains("a5a5"), "{shown}");
        }
    }

    /// A malformed key proto is refused (and dropped, wiping what was
    /// decoded) rather than half-read.
    #[test]
    fn truncated_key_proto_is_refused() {
        let mut bytes = AesKey {
            version: 0,
            key_value: vec![1; 32],
        }
        .encode_to_vec();
        bytes.truncate(20);
        assert!(AesKey::decode(bytes.as_slice()).is_err());
    }
}
