#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod aead;
mod envelope;
mod error;
mod json;
mod keyset;
mod modes;
mod proto;
mod random;

pub use crate::aead::{Aead, MIN_CIPHERTEXT_LEN, NONCE_LEN, PREFIX_LEN, TAG_LEN};
pub use crate::envelope::{Envelope, EnvelopeCiphertext};
pub use crate::error::{Error, Result};
pub use crate::keyset::{
    Algorithm, KeyId, KeyInfo, KeyStatus, Keyset, OutputPrefix, Template,
    AES_CTR_HMAC_AEAD_TYPE_URL, AES_EAX_TYPE_URL, AES_GCM_SIV_TYPE_URL, AES_GCM_TYPE_URL,
    CHACHA20_POLY1305_TYPE_URL, XCHACHA20_POLY1305_TYPE_URL,
};
