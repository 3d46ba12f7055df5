//! The one error type of this crate.

/// What can go wrong while sealing events or handling checkpoints and
/// reports. Integrity problems found while verifying are not errors: they
/// are [`Finding`](crate::Finding)s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The seal secret is empty or too short.
    #[error("the seal secret is {len} bytes long; it must be at least {min} bytes (Stream's chart generates 32 characters; 128 hex characters are read as 64 bytes)")]
    SecretTooShort {
        /// Its length in bytes.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// An entry of a list of seal secrets (retired or staged) is not a
    /// valid secret.
    #[error("seal secret #{entry} of {variable} (separated by newlines or commas) is not valid: {reason}")]
    InvalidRetiredSecret {
        /// The list: `EVENT_SEAL_SECRET_RETIRED` or `EVENT_SEAL_SECRET_NEXT`.
        variable: &'static str,
        /// Its position in the list, from 1.
        entry: usize,
        /// Why.
        reason: String,
    },
    /// A record names a seal secret id that is not among the known secrets.
    #[error("unknown seal secret id {0}; add the retired secret that made it")]
    UnknownSecret(crate::SecretId),
    /// The chain is sealed by a secret this process does not know (another
    /// pod made a new secret current).
    #[error("chain `{chain}` is sealed by seal secret {secret}, which this process does not know: give it in EVENT_SEAL_SECRET_RETIRED (a new secret is rolled out to every pod before any makes it current); nothing was appended")]
    SecretNotKnown {
        /// The chain.
        chain: String,
        /// The secret's id.
        secret: crate::SecretId,
    },
    /// The chain rotated past this process's current secret to one this
    /// process holds as retired: its configuration is behind or wrong.
    #[error("chain `{chain}` rotated away from this process's current seal secret {current} to {chain_secret}, which it holds as retired: give the newer secret as current (or staged in EVENT_SEAL_SECRET_NEXT) and verify the chain; nothing was appended")]
    RotationConflict {
        /// The chain.
        chain: String,
        /// This process's current secret.
        current: crate::SecretId,
        /// The chain's secret.
        chain_secret: crate::SecretId,
    },
    /// A checkpoint, anchor or report does not carry a valid seal.
    #[error("the {0} is not authentic: its seal does not match (tampered, or sealed with another secret)")]
    NotAuthentic(&'static str),
    /// An event has a sensitive detail but no keyset was given.
    #[error("event detail `{0}` is sensitive but no keyset is configured; set KEYSET")]
    NoKeyset(String),
    /// A value does not fit the event model.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A checkpoint or report file is not valid JSON of the expected shape.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// A purge was refused: the chain it would purge does not verify.
    #[error("purge of chain `{chain}` refused at #{seq}: {reason}; run a verification and investigate before purging")]
    PurgeRefused {
        /// The chain.
        chain: String,
        /// The event where the check failed.
        seq: u64,
        /// What failed.
        reason: String,
    },
    /// Encryption or decryption of a sensitive detail failed.
    /// An event id already names another event of the chain.
    #[error("event id `{event_id}` already names {chain}#{seq}, a different event: give each event its own id (retry with the same id only what is the same event); nothing was appended")]
    EventIdConflict {
        /// The chain.
        chain: String,
        /// The event stored with that id.
        seq: u64,
        /// The id.
        event_id: String,
    },
    /// One batch gives one event id to two different events.
    #[error("event id `{event_id}` is given to two different events of one batch for chain `{chain}`: give each event its own id; nothing was appended")]
    EventIdRepeated {
        /// The chain.
        chain: String,
        /// The id.
        event_id: String,
    },
    /// A keyset error.
    #[error(transparent)]
    Keyset(#[from] stream_keyset::Error),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
