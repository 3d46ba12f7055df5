//! The Stream event store: one package re-exporting the keyset, chain and
//! MongoDB crates for the Stream server.
//!
//! - [`keyset`]: Tink keysets, AEAD and envelope encryption.
//! - [`chain`]: sealed, chained audit events and their verification.
//! - [`mongo`]: the MongoDB repository.
#![forbid(unsafe_code)]

pub use stream_chain as chain;
pub use stream_keyset as keyset;
pub use stream_mongo as mongo;
