#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// Sealed, chained audit events and their verification (`stream-chain`).
pub use stream_chain as chain;
/// Tink keysets, AEAD and envelope encryption (`stream-keyset`).
pub use stream_keyset as keyset;
/// The MongoDB repository (`stream-mongo`).
pub use stream_mongo as mongo;
