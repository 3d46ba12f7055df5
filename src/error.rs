//! The facade's one error type: flat, classified, with the failure of the
//! layer below kept as its [`source`](std::error::Error::source).

use std::error::Error as StdError;
use std::fmt;

pub use stream_mongo::Outcome;

/// What kind of failure an [`Error`] is: what a server can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input is not valid (a chain id, a draft, a page size, a
    /// cursor from another query, a time in the future): fix the call.
    InvalidInput,
    /// Configuration is missing, malformed or contradictory (an environment
    /// variable, a keyset, a seal secret the chain needs): fix the
    /// deployment; [`Error::variable`] names the variable when there is one.
    Configuration,
    /// A ciphertext or a seal did not authenticate: the wrong key or
    /// secret, or data modified in the database.
    Authentication,
    /// Stored data failed an integrity check (a forged or malformed record,
    /// a chain that does not verify): nothing was changed; verify the chain
    /// and investigate.
    Integrity,
    /// An event id already names a different event of the chain.
    Conflict,
    /// The operation does not apply to what is stored (e.g. shredding an
    /// event already shredded, quarantining an authentic event); nothing
    /// was changed.
    Refused,
    /// A long operation did only part of its work (re-wrapping keys); it is
    /// resumable.
    Incomplete,
    /// The database could not be reached or the connection failed; see
    /// [`Error::outcome`] for whether an append may have been stored.
    Unavailable,
    /// The operation did not finish within its deadline; see
    /// [`Error::outcome`].
    Timeout,
    /// Other writers kept winning the race for the chain's head.
    Contention,
    /// A failure of the store itself or an unexpected answer of the
    /// database: report it.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Configuration => "configuration",
            ErrorKind::Authentication => "authentication failure",
            ErrorKind::Integrity => "integrity failure",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Refused => "refused",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Contention => "contention",
            ErrorKind::Internal => "internal error",
        })
    }
}

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// What can go wrong in the event store: one flat type whatever the layer
/// (keyset, chain, MongoDB). Its message says what happened and what to
/// do; [`Error::kind`] classifies it; the error of the layer below (a
/// [`stream_keyset::Error`], [`stream_chain::Error`] or
/// [`stream_mongo::Error`], never nested in one another) is its
/// [`source`](StdError::source), and [`Error::driver_error`] reaches the
/// MongoDB driver's error with its labels.
///
/// ```
/// use stream_store::{Error, ErrorKind};
/// let e = Error::invalid_input("page size 0: give 1 to 1000");
/// assert_eq!(e.kind(), ErrorKind::InvalidInput);
/// assert!(!e.is_retryable());
/// ```
pub struct Error {
    kind: ErrorKind,
    message: String,
    variable: Option<&'static str>,
    outcome: Option<Outcome>,
    idempotent: bool,
    source: Option<Source>,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            variable: None,
            outcome: None,
            idempotent: false,
            source: None,
        }
    }

    /// An invalid input, with what is wrong and what to give instead.
    pub fn invalid_input(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// A configuration error of `variable` (an environment variable or a
    /// builder option).
    pub fn configuration(variable: &'static str, message: impl Into<String>) -> Error {
        Error {
            variable: Some(variable),
            ..Error::new(
                ErrorKind::Configuration,
                format!("{variable}: {}", message.into()),
            )
        }
    }

    pub(crate) fn with_variable(mut self, variable: &'static str) -> Error {
        if self.variable.is_none() {
            self.message = format!("{variable}: {}", self.message);
        }
        self.variable = Some(variable);
        self.kind = ErrorKind::Configuration;
        self
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    /// Marks a failed append whose drafts all carry event ids: retrying it
    /// cannot store an event twice, whatever the outcome.
    pub(crate) fn idempotent(mut self, idempotent: bool) -> Error {
        self.idempotent = idempotent;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// For a failed append (unavailable, timeout): whether its events may
    /// have been stored.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The environment variable or builder option at fault, for a
    /// configuration error.
    pub fn variable(&self) -> Option<&'static str> {
        self.variable
    }

    /// Whether the same call may succeed if made again, and cannot store
    /// anything twice: contention, and an unavailable database or a timeout
    /// when nothing was stored or every draft carries an event id
    /// (idempotent). A timeout with an unknown outcome and no event ids is
    /// not: read the chain first.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Contention | ErrorKind::Unavailable | ErrorKind::Timeout => {
                self.idempotent || self.outcome != Some(Outcome::Unknown)
            }
            _ => false,
        }
    }

    /// The MongoDB driver's error behind this one, if any (its labels,
    /// e.g. `RetryableWriteError`, and its kind).
    pub fn driver_error(&self) -> Option<&stream_mongo::mongodb::error::Error> {
        let mut next: Option<&(dyn StdError + 'static)> = self.source();
        while let Some(e) = next {
            if let Some(driver) = e.downcast_ref::<stream_mongo::mongodb::error::Error>() {
                return Some(driver);
            }
            next = e.source();
        }
        None
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages never hold secret material (the layers below make sure
        // of it); the source is shown by its message only.
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("variable", &self.variable)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

fn keyset_kind(e: &stream_keyset::Error) -> ErrorKind {
    use stream_keyset::Error as K;
    match e {
        K::CiphertextTooShort { .. } | K::Decryption => ErrorKind::Authentication,
        K::Randomness => ErrorKind::Internal,
        K::KeyNotFound(_) | K::InvalidTransition { .. } | K::Encryption => ErrorKind::InvalidInput,
        _ => ErrorKind::Configuration,
    }
}

impl From<stream_keyset::Error> for Error {
    fn from(e: stream_keyset::Error) -> Error {
        Error::classified(keyset_kind(&e), None, None, e)
    }
}

fn chain_class(e: &stream_chain::Error) -> (ErrorKind, Option<&'static str>) {
    use stream_chain::Error as C;
    match e {
        C::Keyset(k) => (keyset_kind(k), None),
        C::SecretTooShort { .. } => (ErrorKind::Configuration, Some("EVENT_SEAL_SECRET")),
        C::InvalidRetiredSecret { variable, .. } => (ErrorKind::Configuration, Some(*variable)),
        C::NoKeyset(_) => (ErrorKind::Configuration, Some("KEYSET")),
        C::UnknownSecret(_) | C::SecretNotKnown { .. } | C::RotationConflict { .. } => {
            (ErrorKind::Configuration, None)
        }
        C::NotAuthentic(_) => (ErrorKind::Authentication, None),
        C::PurgeRefused { .. } => (ErrorKind::Integrity, None),
        C::EventIdConflict { .. } | C::EventIdRepeated { .. } => (ErrorKind::Conflict, None),
        _ => (ErrorKind::InvalidInput, None),
    }
}

fn mongo_class(e: &stream_mongo::Error) -> (ErrorKind, Option<Outcome>, Option<&'static str>) {
    use stream_mongo::Error as M;
    let kind = match e {
        M::Chain(c) => {
            let (kind, variable) = chain_class(c);
            return (kind, None, variable);
        }
        M::Keyset(k) => return (keyset_kind(k), None, None),
        // Classified by its cause, but some events are stored: the outcome
        // of the batch is never "not written".
        M::PartlyWritten { cause, .. } => {
            let (kind, _, variable) = mongo_class(cause);
            return (kind, Some(Outcome::Unknown), variable);
        }
        M::InvalidUri(_) => return (ErrorKind::Configuration, None, Some("MONGODB_URI")),
        M::Timeout { outcome, .. } => return (ErrorKind::Timeout, Some(*outcome), None),
        M::Unavailable { outcome, .. } => return (ErrorKind::Unavailable, Some(*outcome), None),
        M::Database(d) => driver_kind(d),
        M::Contention { .. } => ErrorKind::Contention,
        M::Unreachable { .. } => ErrorKind::Unavailable,
        M::HeadRejected { .. } | M::Malformed { .. } | M::EventIdTaken { .. } => {
            ErrorKind::Integrity
        }
        M::Document { .. } | M::Tampered { .. } => ErrorKind::Integrity,
        M::Unserializable { .. }
        | M::NoClearValue { .. }
        | M::PurgeInFuture { .. }
        | M::Query(_) => ErrorKind::InvalidInput,
        M::NotQuarantinable { .. } | M::NotShreddable { .. } => ErrorKind::Refused,
        M::RewrapIncomplete { .. } => ErrorKind::Incomplete,
        _ => ErrorKind::Internal,
    };
    (kind, None, None)
}

impl Error {
    fn classified(
        kind: ErrorKind,
        outcome: Option<Outcome>,
        variable: Option<&'static str>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Error {
        let message = match variable {
            Some(v) => format!("{v}: {source}"),
            None => source.to_string(),
        };
        Error {
            kind,
            message,
            variable,
            outcome,
            idempotent: false,
            source: Some(Box::new(source)),
        }
    }
}

impl From<stream_chain::Error> for Error {
    fn from(e: stream_chain::Error) -> Error {
        // Flattened: the keyset's own error is the source.
        if let stream_chain::Error::Keyset(k) = e {
            return k.into();
        }
        let (kind, variable) = chain_class(&e);
        Error::classified(kind, None, variable, e)
    }
}

fn driver_kind(e: &stream_mongo::mongodb::error::Error) -> ErrorKind {
    use stream_mongo::mongodb::error::ErrorKind as D;
    match &*e.kind {
        D::Io(_) | D::ServerSelection { .. } | D::ConnectionPoolCleared { .. } => {
            ErrorKind::Unavailable
        }
        D::Authentication { .. } | D::InvalidArgument { .. } | D::InvalidTlsConfig { .. } => {
            ErrorKind::Configuration
        }
        _ if e.contains_label("RetryableWriteError") => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

impl From<stream_mongo::Error> for Error {
    /// Flattened: a chain or keyset error carried by the MongoDB crate is
    /// that crate's error as source. A partly written batch keeps the
    /// MongoDB error as source (its `stored` events are reachable there).
    fn from(e: stream_mongo::Error) -> Error {
        use stream_mongo::Error as M;
        let e = match e {
            M::Chain(c) => return c.into(),
            M::Keyset(k) => return k.into(),
            other => other,
        };
        let (kind, outcome, variable) = mongo_class(&e);
        Error::classified(kind, outcome, variable, e)
    }
}

/// Shorthand for results of the facade.
pub type Result<T> = std::result::Result<T, Error>;
