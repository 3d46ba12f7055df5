// The front page is the README. Its links to the repository's other
// documents are reference links (`[`docs/FORMAT.md`]`, defined at the end
// of the README for GitHub and crates.io); the definitions below come
// first, and the first definition of a label wins, so on docs.rs the same
// links go to the pages of `docs`.
#![doc = "[`docs/FORMAT.md`]: crate::docs::format"]
#![doc = "[`docs/PERFORMANCE.md`]: crate::docs::performance"]
#![doc = "[`docs/DECISIONS.md`]: crate::docs::decisions"]
#![doc = ""]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// The repository's documents, as pages of the API documentation.
#[cfg(not(doctest))] // their unmarked code blocks are byte layouts, not Rust
pub mod docs {
    /// The byte formats.
    #[doc = include_str!("../docs/FORMAT.md")]
    #[allow(rustdoc::invalid_rust_codeblocks)] // byte layouts in unmarked blocks
    pub mod format {}
    /// Measurements.
    #[doc = include_str!("../docs/PERFORMANCE.md")]
    pub mod performance {}
    /// Design decisions.
    #[doc = include_str!("../docs/DECISIONS.md")]
    pub mod decisions {}
}

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

/// Offline audit: mongodump and mongoexport readers, checkpoint files,
/// reports (`stream-audit`), e.g. to verify an uploaded export.
pub use stream_audit as audit;
/// Sealed, chained audit events and their verification (`stream-chain`).
pub use stream_chain as chain;
/// Tink keysets, AEAD and envelope encryption (`stream-keyset`).
pub use stream_keyset as keyset;
/// The MongoDB repository (`stream-mongo`).
pub use stream_mongo as mongo;
