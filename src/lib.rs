#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod memory;
mod policy;
mod store;

pub use crate::error::{Error, Result};
pub use crate::policy::{ChainPolicy, KEPT_CLASS};
pub use crate::store::{EventStore, PurgeSummary, ReadEvent, ReadValue, PURGE_CLOCK_SKEW_MS};
pub use stream_mongo::{
    LogConfig, PurgeOutcome, RotationProgress, SearchPage, SearchQuery, ShredOutcome,
};

/// Sealed, chained audit events and their verification (`stream-chain`).
pub use stream_chain as chain;
/// Tink keysets, AEAD and envelope encryption (`stream-keyset`).
pub use stream_keyset as keyset;
/// The MongoDB repository (`stream-mongo`).
pub use stream_mongo as mongo;
