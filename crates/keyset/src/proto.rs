//! Tink's protobuf messages (`tink.proto`, `aes_gcm.proto`,
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

/// `google.crypto.tink.AesGcmKey` and `google.crypto.tink.AesGcmSivKey`
/// (the same fields: version 1, key_value 3).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AesKey {
    /// Key version (0).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The raw AES key (secret).
    #[prost(bytes = "vec", tag = "3")]
    pub key_value: Vec<u8>,
}
