//! MongoDB repository of the Stream event store: a thin adapter of the pure
//! crates `stream-keyset` and `stream-chain` to the official `mongodb`
//! driver.
//!
//! - [`EventLog`]: appends safe and fair across processes: the unique
//!   `(chain, seq)` index decides every race, processes take short turns on
//!   a chain through one small document per chain (`chainHeads`, which also
//!   carries a head hint checked by its seal), every append returns within
//!   its deadline with a typed outcome; group commit inside a process;
//!   quarantine of a forged head; reading, search,
//!   verification through a cursor, integrity reports, retention with
//!   sealed anchors, and keyset rotation.
//! - [`SealedDocuments`]: typed documents whose secret values use Stream's
//!   `{clear, secure}` shape.
//!
//! No multi-document transaction, TTL index or atomic findAndModify is
//! needed (a turn granted twice costs a retry): it runs on a standalone
//! server, a replica set, or FerretDB.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use stream_chain::{ChainId, Chainer, EventDraft, SealSecret, SealSecrets, Status};
//! use stream_mongo::{connect, EventLog, LogConfig};
//!
//! let (_client, db) = connect("mongodb://127.0.0.1:27017/stream").await?;
//! let secrets = SealSecrets::new(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?);
//! let log = EventLog::new(&db, Chainer::new(secrets, None), LogConfig::default());
//! log.ensure_indexes().await?;
//! let event = log
//!     .append(&ChainId::new("ca")?, EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, stream_chain::Timestamp::now()))
//!     .await?;
//! assert!(event.seq >= 1);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod documents;
mod error;
mod log;
mod search;
mod turn;

pub use crate::documents::{
    open_document, rewrap_document, seal_document, SealedDocuments, Secure,
};
pub use crate::error::{Error, Outcome, Result};
pub use crate::log::{
    verify_projection, wall_clock_ms, AppendStats, EventLog, LogConfig, PurgeOutcome,
    RotationProgress, ShredOutcome,
};
pub use crate::search::{
    QueryError, SearchCursor, SearchPage, SearchQuery, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
pub use mongodb;
/// The stored BSON layout of events and reports (crate `stream-codec`,
/// shared with the offline auditor `stream-audit`).
pub use stream_codec as codec;
pub use stream_codec::{report_from_document, report_to_document};

/// The default database name (Stream's).
pub const DEFAULT_DATABASE: &str = "stream";

/// Connects to `uri` and returns the client and the database the URI names
/// (`stream` if it names none), with the default server-selection timeout
/// of [`LogConfig`]. Connecting does not wait for the server: see
/// [`connect_with`].
pub async fn connect(uri: &str) -> Result<(mongodb::Client, mongodb::Database)> {
    let options = client_options(uri, LogConfig::default().server_selection_timeout).await?;
    open(options)
}

/// Connects to `uri` with `selection_timeout` (unless the URI sets
/// `serverSelectionTimeoutMS`) and checks that a server answers within it:
/// an unreachable server is [`Error::Unreachable`], naming the URI's
/// hosts, never its credentials.
pub async fn connect_with(
    uri: &str,
    selection_timeout: std::time::Duration,
) -> Result<(mongodb::Client, mongodb::Database)> {
    let options = client_options(uri, selection_timeout).await?;
    let hosts = options
        .hosts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let waited = options
        .server_selection_timeout
        .unwrap_or(selection_timeout);
    let (client, database) = open(options)?;
    let ping = database.run_command(mongodb::bson::doc! {"ping": 1});
    // One second over the selection timeout: the driver's own error
    // (naming what it saw) normally comes first.
    match tokio::time::timeout(waited + std::time::Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => Ok((client, database)),
        Ok(Err(source)) => Err(Error::Unreachable {
            hosts,
            waited_ms: waited.as_millis() as u64,
            source,
        }),
        Err(_) => Err(Error::Unreachable {
            hosts,
            waited_ms: waited.as_millis() as u64,
            source: mongodb::error::Error::custom("no answer to ping"),
        }),
    }
}

async fn client_options(
    uri: &str,
    selection_timeout: std::time::Duration,
) -> Result<mongodb::options::ClientOptions> {
    let mut options = mongodb::options::ClientOptions::parse(uri)
        .await
        .map_err(|e| Error::InvalidUri(e.to_string()))?;
    if options.server_selection_timeout.is_none() {
        options.server_selection_timeout = Some(selection_timeout);
    }
    if options.connect_timeout.is_none() {
        options.connect_timeout = Some(selection_timeout);
    }
    Ok(options)
}

fn open(options: mongodb::options::ClientOptions) -> Result<(mongodb::Client, mongodb::Database)> {
    let name = options
        .default_database
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    let client = mongodb::Client::with_options(options)?;
    let database = client.database(&name);
    Ok((client, database))
}
