//! The one error type of this crate.

/// What can go wrong talking to MongoDB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string is not valid.
    #[error("invalid MONGODB_URI: {0}")]
    InvalidUri(String),
    /// The server could not be reached or answered with an error.
    #[error("MongoDB error: {0}")]
    Database(#[from] mongodb::error::Error),
    /// Other writers kept winning the race for the chain's head.
    #[error("chain `{chain}`: gave up after {attempts} attempts against concurrent appenders; retry later or spread events over more chains")]
    Contention {
        /// The chain.
        chain: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A stored event could not be read.
    #[error("malformed event in the collection (chain {chain:?}, seq {seq:?}): {reason}")]
    Malformed {
        /// The chain, if readable.
        chain: Option<String>,
        /// The sequence number, if readable.
        seq: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// A stored document does not have the shape its type needs.
    #[error("document `{id}` in `{collection}`: {reason}")]
    Document {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Sealing or verification failed.
    #[error(transparent)]
    Chain(#[from] stream_chain::Error),
    /// Encryption or decryption failed.
    #[error(transparent)]
    Keyset(#[from] stream_keyset::Error),
}

impl From<crate::codec::Malformed> for Error {
    fn from(m: crate::codec::Malformed) -> Self {
        Error::Malformed {
            chain: m.chain.map(|c| c.to_string()),
            seq: m.seq,
            reason: m.reason,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Whether a driver error is a duplicate key (code 11000) on insert.
pub(crate) fn duplicate_key_index(error: &mongodb::error::Error) -> Option<usize> {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*error.kind {
        // With a write concern error the outcome of what came before the
        // duplicate is not durable: not a plain lost race.
        ErrorKind::InsertMany(e) if e.write_concern_error.is_some() => None,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()?
            .iter()
            .find(|w| w.code == 11000)
            .map(|w| w.index),
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000 => Some(0),
        _ => None,
    }
}
