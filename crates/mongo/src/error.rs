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
    /// An operation did not finish within its deadline
    /// ([`LogConfig::operation_timeout`](crate::LogConfig)).
    #[error("chain `{chain}`: {operation} did not finish within {waited_ms} ms; {outcome}")]
    Timeout {
        /// The chain.
        chain: String,
        /// What was being done (`append`, `waiting for the chain's turn`, ...).
        operation: &'static str,
        /// How long it waited.
        waited_ms: u64,
        /// Whether the events may have been stored.
        outcome: Outcome,
    },
    /// The server could not be reached, or the connection failed, during an
    /// append.
    #[error("chain `{chain}`: the database is unavailable ({source}); {outcome}")]
    Unavailable {
        /// The chain.
        chain: String,
        /// Whether the events may have been stored.
        outcome: Outcome,
        /// The driver's error.
        #[source]
        source: mongodb::error::Error,
    },
    /// The server named by the connection string did not answer in time
    /// (start-up).
    #[error("cannot reach MongoDB at {hosts} within {waited_ms} ms: {source}; check the host, the port, TLS and credentials of MONGODB_URI")]
    Unreachable {
        /// The hosts of the connection string (never its credentials).
        hosts: String,
        /// How long it waited.
        waited_ms: u64,
        /// The driver's error.
        #[source]
        source: mongodb::error::Error,
    },
    /// The newest stored record of a chain is not an authentic event:
    /// nothing is linked to it, so the chain takes no appends until an
    /// operator deals with it.
    #[error("chain `{chain}`: the stored head {chain}#{seq} is not an authentic event ({reason}); nothing was appended. Verify the chain, then move the record aside with `EventLog::quarantine` (quickstart --quarantine {seq}); appends then continue from the last authentic event")]
    HeadRejected {
        /// The chain.
        chain: String,
        /// The sequence number the record claims.
        seq: u64,
        /// Why it was rejected.
        reason: String,
    },
    /// The event id of a draft is held by a stored record that is not an
    /// authentic event of that chain with that id: nothing was appended.
    #[error("chain `{chain}`: event id `{event_id}` is held by {chain}#{seq:?}: {reason}")]
    EventIdTaken {
        /// The chain.
        chain: String,
        /// The event id.
        event_id: String,
        /// Where the record holding it claims to stand.
        seq: Option<u64>,
        /// Why it is not taken as the stored event.
        reason: String,
    },
    /// A record asked to be quarantined is authentic, or absent.
    #[error("chain `{chain}`, seq {seq}: not quarantined: {reason}")]
    NotQuarantinable {
        /// The chain.
        chain: String,
        /// The sequence number.
        seq: u64,
        /// Why not.
        reason: String,
    },
    /// A shred was refused; nothing was changed.
    #[error("cannot shred {chain}#{seq}: {reason}")]
    NotShreddable {
        /// The chain.
        chain: String,
        /// The sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// A re-wrap pass could not re-wrap some records.
    #[error("re-wrap incomplete: {failed} records could not be re-wrapped ({rewrapped} were); the first: {first}. Keep the old key in the keyset until they are dealt with")]
    RewrapIncomplete {
        /// Records that failed.
        failed: u64,
        /// Records re-wrapped.
        rewrapped: u64,
        /// Why the first failed, and where.
        first: String,
    },
    /// A purge was asked for a time in the future.
    #[error("purge refused: its time {now_ms} is {ahead_ms} ms ahead of this clock; pass the current time")]
    PurgeInFuture {
        /// The time given.
        now_ms: i64,
        /// How far ahead of the clock.
        ahead_ms: i64,
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
    /// A stored document's sealed field was tampered with: stored in
    /// clear, its ciphertext removed, null or of an unknown version.
    #[error("document `{id}` in `{collection}`, field `{field}`: {reason}; the document was written by someone else than the store: restore it from a backup")]
    Tampered {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
        /// The field's path (`a.b.0`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A value given to store has a [`Secure`](crate::Secure) field without
    /// its clear value (`Secure::default()`): storing it would write what
    /// reading refuses. Nothing was stored.
    #[error("document `{id}` for `{collection}`: a Secure field has no clear value to store; build it with Secure::new (nothing was stored)")]
    NoClearValue {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
    },
    /// A value given to store does not serialize to a BSON document.
    #[error("document `{id}` for `{collection}`: the value does not serialize to a BSON document (a struct or map with string keys is needed)")]
    Unserializable {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
    },
    /// An append stored the first events of its batch, then failed: the
    /// stored ones are acknowledged here, the rest were not stored (or may
    /// have been, as the cause says).
    #[error("{} of the batch's events were stored ({}), then: {cause}. Retrying the whole batch stores them again unless every draft carries an event id", stored.len(), stored_range(stored))]
    PartlyWritten {
        /// The events stored, in order.
        stored: Vec<stream_chain::SealedEvent>,
        /// Why the rest failed.
        #[source]
        cause: Box<Error>,
    },
    /// A search query or cursor was refused.
    #[error(transparent)]
    Query(#[from] crate::search::QueryError),
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

fn stored_range(stored: &[stream_chain::SealedEvent]) -> String {
    match (stored.first(), stored.last()) {
        (Some(a), Some(b)) if a.seq == b.seq => format!("{}#{}", a.chain, a.seq),
        (Some(a), Some(b)) => format!("{}#{}..={}", a.chain, a.seq, b.seq),
        _ => "none".to_owned(),
    }
}

/// Whether a failed append may have stored its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// None of the events was stored: retrying appends them once.
    NotWritten,
    /// Some or all may be stored (the write reached the server but no
    /// answer came back, and the check afterwards could not decide): read
    /// the chain before retrying, or the events may be stored twice.
    Unknown,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::NotWritten => "nothing was stored; retrying is safe",
            Outcome::Unknown => {
                "the outcome is unknown: the events may be stored; read the chain before retrying"
            }
        })
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Whether a driver error is a duplicate key (code 11000) on insert from
/// one of the indexes that place an event (`_id`, derived from chain and
/// seq, or the unique `chain_seq`: a lost race) or from `event_key` (an
/// event id already stored: the caller looks it up). Returns the position of
/// the document that collided. A duplicate on any other unique index (one
/// an operator added) is not a race: retrying would not help.
pub(crate) fn duplicate_key_index(error: &mongodb::error::Error) -> Option<usize> {
    use mongodb::error::{ErrorKind, WriteFailure};
    let placing = |message: &str| match index_named(message) {
        Some(name) => name == "_id_" || name == "chain_seq" || name == "event_key",
        // A server that does not name the index (none seen so far): the
        // caller re-reads the position before linking, so a wrong guess
        // costs a retry, never a fork.
        None => true,
    };
    match &*error.kind {
        // With a write concern error the outcome of what came before the
        // duplicate is not durable: not a plain lost race.
        ErrorKind::InsertMany(e) if e.write_concern_error.is_some() => None,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()?
            .iter()
            .find(|w| w.code == 11000)
            .filter(|w| placing(&w.message))
            .map(|w| w.index),
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000 && placing(&w.message) => {
            Some(0)
        }
        _ => None,
    }
}

/// The index a duplicate-key message names (`... index: NAME dup key ...`).
pub(crate) fn index_named(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("index: ")?;
    rest.split_whitespace().next()
}
