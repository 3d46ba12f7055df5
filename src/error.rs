//! The facade's error type.

/// What can go wrong in the event store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable is missing or malformed.
    #[error("{variable}: {message}")]
    Config {
        /// The variable (`KEYSET`, `EVENT_SEAL_SECRET`, `MONGODB_URI`).
        variable: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A keyset error.
    #[error(transparent)]
    Keyset(#[from] stream_keyset::Error),
    /// A sealing or verification error.
    #[error(transparent)]
    Chain(#[from] stream_chain::Error),
    /// A MongoDB error.
    #[error(transparent)]
    Mongo(#[from] stream_mongo::Error),
}

/// Shorthand for results of the facade.
pub type Result<T> = std::result::Result<T, Error>;
