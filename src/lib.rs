#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod builder;
mod documents;
mod error;
mod memory;
mod policy;
mod store;

pub use crate::builder::{env_value, EventStoreBuilder, IN_MEMORY_VARIABLE};
pub use crate::documents::Documents;
pub use crate::error::{Error, ErrorKind, Outcome, Result};
pub use crate::policy::{ChainPolicy, KEPT_CLASS};
pub use crate::store::{EventStore, PurgeSummary, ReadEvent, ReadValue, PURGE_CLOCK_SKEW_MS};
pub use stream_chain::{
    ChainId, Checkpoint, EventDraft, FindingKind, IntegrityReport, ReportStatus, SealSecret,
    SealSecrets, SealedEvent, Status, Timestamp, VerifyReport,
};
pub use stream_keyset::{KeyId, Keyset, Template};
pub use stream_mongo::{
    LogConfig, PurgeOutcome, RotationProgress, SearchCursor, SearchPage, SearchQuery, Secure,
    ShredOutcome, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};

/// Sealed, chained audit events and their verification (`stream-chain`).
pub use stream_chain as chain;
/// Tink keysets, AEAD and envelope encryption (`stream-keyset`).
pub use stream_keyset as keyset;
/// The MongoDB repository (`stream-mongo`).
pub use stream_mongo as mongo;
