//! The `EventStore` facade: the one handle the Stream server links.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use stream_chain::{
    ChainId, Chainer, Checkpoint, DetailValue, EventDraft, IntegrityReport, ReportStatus,
    SealSecret, SealSecrets, SealedEvent, Timestamp, Verifier, VerifyReport,
};
use stream_keyset::{Algorithm, Keyset};
use stream_mongo::{
    EventLog, LogConfig, PurgeOutcome, RotationProgress, SearchCursor, SearchPage, SearchQuery,
    ShredOutcome,
};
use zeroize::Zeroizing;

use crate::documents::Documents;
use crate::error::{Error, Result};
use crate::memory::{self, MemoryLog, Shared, Snapshot};

/// Where events are kept.
pub(crate) enum Backend {
    Memory(Shared),
    Mongo(Box<MongoBackend>),
}

pub(crate) struct MongoBackend {
    // Kept so the connection pool lives as long as the store.
    _client: stream_mongo::mongodb::Client,
    pub(crate) database: stream_mongo::mongodb::Database,
    log: EventLog,
}

/// A detail as read back.
#[derive(Clone, PartialEq, Eq)]
pub enum ReadValue {
    /// A public value.
    Public(String),
    /// A sensitive value, decrypted (zeroized on drop).
    Decrypted(Zeroizing<Vec<u8>>),
    /// A sensitive value that cannot be read: no keyset, or shredded.
    Unavailable,
}

impl std::fmt::Debug for ReadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadValue::Public(v) => write!(f, "Public({v:?})"),
            ReadValue::Decrypted(v) => write!(f, "Decrypted(<{} bytes redacted>)", v.len()),
            ReadValue::Unavailable => f.write_str("Unavailable"),
        }
    }
}

/// An event read back, with its details in clear where possible.
#[derive(Debug, Clone)]
pub struct ReadEvent {
    /// The event as stored.
    pub event: SealedEvent,
    /// Its details, in order.
    pub details: Vec<(String, ReadValue)>,
}

/// The event store: a keyset, the seal secrets and an event log, in
/// MongoDB or in memory. Cheap to clone: clones share one store (one
/// connection pool, one keyset, one set of secrets).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use stream_store::{EventStore, chain::{EventDraft, SealSecret, Status, Timestamp}};
/// use stream_store::keyset::{Keyset, Template};
///
/// let store = EventStore::builder()
///     .keyset(Keyset::generate(Template::AES256_GCM_SIV))
///     .seal_secret(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?)
///     .in_memory()
///     .build()
///     .await?;
/// let draft = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, Timestamp::now())
///     .sensitive("subject", b"CN=alice".to_vec())
///     .with_event_id("req-42");
/// let event = store.append("ca", draft.clone()).await?;
/// // A retry with the same event id returns the stored event.
/// assert_eq!(store.append("ca", draft).await?.seq, event.seq);
/// let read = store.read("ca", event.seq).await?.expect("just appended");
/// assert!(matches!(&read.details[0].1, stream_store::ReadValue::Decrypted(v) if v.as_slice() == b"CN=alice"));
/// assert!(store.verify(None).await?.is_ok());
/// # Ok::<(), stream_store::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The data-key family new sensitive details are encrypted with.
    dek: Algorithm,
    keyset: RwLock<Option<Keyset>>,
    chainer: RwLock<Chainer>,
    backend: Backend,
    node: String,
    /// The database name sealed document fields are bound to, when not the
    /// database's own (a database restored under another name).
    document_database: Option<String>,
}

/// What a store is made with, whatever its backend.
pub(crate) struct Setup {
    /// The keyset wrapping data keys, if any.
    pub(crate) keyset: Option<Keyset>,
    /// The seal secrets.
    pub(crate) secrets: SealSecrets,
    /// The data-key family of new details.
    pub(crate) dek: Algorithm,
    /// The node name of the store's own records.
    pub(crate) node: String,
    /// The database name sealed document fields are bound to, if not the
    /// database's own.
    pub(crate) document_database: Option<String>,
}

/// What a purge did, in all and per chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeSummary {
    /// Events deleted (expired prefixes, below their anchors).
    pub deleted: u64,
    /// Events replaced by their stubs.
    pub stubbed: u64,
    /// Per chain, in chain order.
    pub chains: Vec<(ChainId, PurgeOutcome)>,
}

/// How far ahead of this clock a purge time may be (the pods' clocks
/// differ; more is a mistake, refused).
pub const PURGE_CLOCK_SKEW_MS: i64 = 60_000;

/// How often a purge of an in-memory chain decides again when appends
/// keep changing the chain meanwhile.
const MEMORY_PURGE_ATTEMPTS: u32 = 8;

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field(
                "backend",
                &match &self.inner.backend {
                    Backend::Memory(_) => "memory",
                    Backend::Mongo(_) => "mongodb",
                },
            )
            .field("node", &self.inner.node)
            .finish_non_exhaustive()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The guarded values are replaced whole; a panic elsewhere cannot leave
    // them half-written, so a poisoned lock is still usable.
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn chainer_for(keyset: Option<&Keyset>, secrets: SealSecrets, dek: Algorithm) -> Result<Chainer> {
    let envelope = match keyset {
        Some(k) => Some(k.envelope(dek)?),
        None => None,
    };
    Ok(Chainer::new(secrets, envelope))
}

fn chain_id(chain: &str) -> Result<ChainId> {
    Ok(ChainId::new(chain)?)
}

/// CPU-bound work without holding a lock: on tokio's blocking pool when a
/// runtime is there (other tasks keep their worker), else inline.
async fn cpu<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|e| Error::internal(format!("a verification task failed: {e}"))),
        Err(_) => Ok(work()),
    }
}

fn millis(time: SystemTime) -> i64 {
    Timestamp::from(time).millis()
}

impl EventStore {
    pub(crate) fn memory_store(setup: Setup) -> Result<EventStore> {
        EventStore::with_backend(
            setup,
            Backend::Memory(Arc::new(Mutex::new(MemoryLog::default()))),
        )
    }

    pub(crate) async fn mongo_store(
        client: stream_mongo::mongodb::Client,
        database: stream_mongo::mongodb::Database,
        setup: Setup,
        config: LogConfig,
    ) -> Result<EventStore> {
        let chainer = chainer_for(setup.keyset.as_ref(), setup.secrets.clone(), setup.dek)?;
        let log = EventLog::new(&database, chainer, config);
        log.ensure_indexes().await?;
        let backend = Backend::Mongo(Box::new(MongoBackend {
            _client: client,
            database,
            log,
        }));
        EventStore::with_backend(setup, backend)
    }

    fn with_backend(setup: Setup, backend: Backend) -> Result<EventStore> {
        let Setup {
            keyset,
            secrets,
            dek,
            node,
            document_database,
        } = setup;
        let chainer = chainer_for(keyset.as_ref(), secrets, dek)?;
        if let Backend::Mongo(m) = &backend {
            m.log.set_chainer(chainer.clone());
        }
        Ok(EventStore {
            inner: Arc::new(Inner {
                dek,
                keyset: RwLock::new(keyset),
                chainer: RwLock::new(chainer),
                backend,
                node,
                document_database,
            }),
        })
    }

    /// Another store on the same in-memory log, with its own keyset,
    /// secrets and node name (and the default data-key family): what another pod on the same database is (for
    /// tests and embedded use of the procedures of several pods). On
    /// MongoDB, build another store on the same URI instead.
    ///
    /// # Errors
    /// A configuration error on a MongoDB store.
    pub fn share_memory(
        &self,
        keyset: Option<Keyset>,
        secrets: SealSecrets,
        node: impl Into<String>,
    ) -> Result<EventStore> {
        let Backend::Memory(log) = &self.inner.backend else {
            return Err(Error::configuration(
                "MONGODB_URI",
                "share_memory is for in-memory stores; build another store on the same URI",
            ));
        };
        // Another pod: its own configuration, the default data-key family.
        EventStore::with_backend(
            Setup {
                keyset,
                secrets,
                dek: Algorithm::Aes256GcmSiv,
                node: node.into(),
                document_database: None,
            },
            Backend::Memory(log.clone()),
        )
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The chainer in use (cheap clone).
    pub fn chainer(&self) -> Chainer {
        read(&self.inner.chainer).clone()
    }

    /// The node name of this store's own records.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Whether events go to MongoDB.
    pub fn is_mongodb(&self) -> bool {
        matches!(self.inner.backend, Backend::Mongo(_))
    }

    /// The MongoDB database, for a server that keeps other collections
    /// next to the events.
    pub fn database(&self) -> Option<&stream_mongo::mongodb::Database> {
        match &self.inner.backend {
            Backend::Mongo(m) => Some(&m.database),
            Backend::Memory(_) => None,
        }
    }

    /// The database name sealed document fields are bound to: the one
    /// given to [`EventStoreBuilder::document_database`], else the
    /// database's own name, else (in memory) the empty name.
    pub fn document_database(&self) -> &str {
        match (&self.inner.document_database, self.database()) {
            (Some(name), _) => name,
            (None, Some(database)) => database.name(),
            (None, None) => "",
        }
    }

    /// The sealed `{clear, secure}` documents of `collection` (see
    /// [`Documents`]), in the store's backend, encrypted with its keyset as
    /// it is at each call (a keyset rotation needs no new handle).
    pub fn documents<T>(&self, collection: &str) -> Documents<T> {
        Documents::new(self.clone(), collection)
    }

    /// The envelope of the keyset now (sealed documents).
    pub(crate) fn envelope(&self) -> Result<Arc<stream_keyset::Envelope>> {
        self.chainer().shared_envelope().ok_or_else(|| {
            Error::configuration(
                "KEYSET",
                "sealed documents need a keyset; none is configured",
            )
        })
    }

    /// Appends one event to `chain`; returns it once stored. With an event
    /// id ([`EventDraft::with_event_id`]) the append is idempotent: an id
    /// already stored in the chain returns the stored event (after checking
    /// that it is the same event) instead of storing a second one, across
    /// pods and after an unknown outcome.
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when the id names
    /// a different event; see [`Error::is_retryable`] for failures worth a
    /// retry.
    pub async fn append(&self, chain: &str, draft: EventDraft) -> Result<SealedEvent> {
        let mut events = self.append_batch(chain, vec![draft]).await?;
        events
            .pop()
            .ok_or_else(|| Error::internal("an append of one event returned none"))
    }

    /// Appends drafts in order, contiguous in `chain` (those whose event id
    /// is stored already get the stored event, see [`EventStore::append`]).
    pub async fn append_batch(
        &self,
        chain: &str,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<SealedEvent>> {
        let chain = chain_id(chain)?;
        let idempotent = drafts.iter().all(|d| d.event_id.is_some());
        // The MongoDB log checks and traces its own appends; the memory
        // log's are checked and traced here, once.
        let result = match &self.inner.backend {
            Backend::Mongo(m) => m
                .log
                .append_batch(&chain, drafts)
                .await
                .map_err(Error::from),
            Backend::Memory(log) => {
                for draft in &drafts {
                    stream_chain::check_not_reserved(draft)?;
                }
                let started = Instant::now();
                let chainer = self.chainer();
                let events = memory::lock(log).append(&chainer, &chain, &drafts)?;
                tracing::debug!(
                    chain = %chain,
                    events = events.len(),
                    first_seq = events.first().map(|e| e.seq),
                    micros = started.elapsed().as_micros() as u64,
                    "appended"
                );
                Ok(events)
            }
        };
        result.map_err(|e| e.idempotent(idempotent))
    }

    /// The event `seq` of `chain`, its sensitive details decrypted when the
    /// keyset is present.
    pub async fn read(&self, chain: &str, seq: u64) -> Result<Option<ReadEvent>> {
        let chain = chain_id(chain)?;
        let event = match &self.inner.backend {
            Backend::Memory(log) => memory::lock(log).get(&chain, seq).cloned(),
            Backend::Mongo(m) => m.log.get(&chain, seq).await?,
        };
        event.map(|e| self.open(e)).transpose()
    }

    /// Events `from..=to` of `chain` as stored, in order: a stream read
    /// through one cursor (constant memory, whatever the range).
    pub fn range(
        &self,
        chain: &str,
        from: u64,
        to: u64,
    ) -> BoxStream<'static, Result<SealedEvent>> {
        let chain = match chain_id(chain) {
            Ok(c) => c,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        match &self.inner.backend {
            Backend::Mongo(m) => m.log.range(&chain, from, to).map_err(Error::from).boxed(),
            Backend::Memory(log) => {
                let events = memory::lock(log).chain(&chain);
                let mut next = 0;
                stream::iter(std::iter::from_fn(move || loop {
                    let event = events.get(next)?;
                    next += 1;
                    if event.seq > to {
                        return None;
                    }
                    if event.seq >= from {
                        return Some(Ok(event.clone()));
                    }
                }))
                .boxed()
            }
        }
    }

    /// Decrypts what can be decrypted of `event`.
    pub fn open(&self, event: SealedEvent) -> Result<ReadEvent> {
        let chainer = self.chainer();
        let mut details = Vec::with_capacity(event.details.len());
        for detail in &event.details {
            let value = match &detail.value {
                DetailValue::Public(v) => ReadValue::Public(v.clone()),
                DetailValue::Sensitive(s)
                    if s.wrapped_dek.is_none() || chainer.envelope().is_none() =>
                {
                    ReadValue::Unavailable
                }
                DetailValue::Sensitive(_) => {
                    ReadValue::Decrypted(Zeroizing::new(chainer.open_detail(&event, &detail.key)?))
                }
            };
            details.push((detail.key.clone(), value));
        }
        Ok(ReadEvent { event, details })
    }

    /// One page of the events matching `query` after `cursor` (from the
    /// first without one); the page's `next` cursor gives the page after.
    /// Pages never skip or repeat events, whatever is appended meanwhile.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a
    /// page size of 0 or over [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE), an
    /// empty time range, or a cursor of another query.
    pub async fn search_page(
        &self,
        query: &SearchQuery,
        cursor: Option<&SearchCursor>,
    ) -> Result<SearchPage> {
        match &self.inner.backend {
            Backend::Mongo(m) => Ok(m.log.search_page(query, cursor).await?),
            Backend::Memory(log) => {
                query.check().map_err(stream_mongo::Error::from)?;
                if let Some(c) = cursor {
                    // Checks the cursor belongs to the query.
                    query
                        .filter_after(Some(c))
                        .map_err(stream_mongo::Error::from)?;
                }
                let events = memory::lock(log).search_page(query, cursor);
                Ok(SearchPage::of(query, events))
            }
        }
    }

    /// Every event matching `query`, in its order, as a stream that fetches
    /// a page at a time (constant memory).
    pub fn search(&self, query: SearchQuery) -> BoxStream<'static, Result<SealedEvent>> {
        let store = self.clone();
        let pages = stream::try_unfold(Some(None), move |cursor: Option<Option<SearchCursor>>| {
            let store = store.clone();
            let query = query.clone();
            async move {
                let Some(cursor) = cursor else {
                    return Ok::<_, Error>(None);
                };
                let page = store.search_page(&query, cursor.as_ref()).await?;
                let next = page.next.map(Some);
                Ok(Some((stream::iter(page.events.into_iter().map(Ok)), next)))
            }
        });
        pages.try_flatten().boxed()
    }

    /// How many events match `query` in all (a count over the whole result:
    /// ask once, not per page).
    pub async fn count(&self, query: &SearchQuery) -> Result<u64> {
        match &self.inner.backend {
            Backend::Mongo(m) => Ok(m.log.count(query).await?),
            Backend::Memory(log) => {
                query.check().map_err(stream_mongo::Error::from)?;
                Ok(memory::lock(log).count(query))
            }
        }
    }

    /// The chains stored (to drive a scheduled report or purge per chain).
    pub async fn chains(&self) -> Result<Vec<ChainId>> {
        match &self.inner.backend {
            Backend::Memory(log) => Ok(memory::lock(log).chains()),
            Backend::Mongo(m) => Ok(m.log.chains().await?),
        }
    }

    fn snapshot(&self, log: &Shared, chain: Option<&ChainId>) -> Snapshot {
        memory::lock(log).snapshot(chain)
    }

    /// Verifies every chain (or one).
    pub async fn verify(&self, chain: Option<&str>) -> Result<VerifyReport> {
        let chain = chain.map(chain_id).transpose()?;
        match &self.inner.backend {
            Backend::Mongo(m) => Ok(m.log.verify(chain.as_ref()).await?),
            Backend::Memory(log) => {
                let started = Instant::now();
                let snapshot = self.snapshot(log, chain.as_ref());
                let chainer = self.chainer();
                let report = cpu(move || snapshot.verify(&chainer)).await?;
                tracing::info!(
                    records = report.records,
                    findings = report.total_findings,
                    millis = started.elapsed().as_millis() as u64,
                    "verified"
                );
                Ok(report)
            }
        }
    }

    /// Verifies `chain` and returns a sealed checkpoint of its head, to keep
    /// outside the database; `None` if the chain is empty or does not
    /// verify.
    pub async fn checkpoint(&self, chain: &str) -> Result<Option<Checkpoint>> {
        let report = self.verify(Some(chain)).await?;
        let chainer = self.chainer();
        Ok(report
            .chains
            .first()
            .and_then(|s| Checkpoint::from_summary(s, chainer.secrets().current())))
    }

    /// Verifies `chain` against a trusted checkpoint: findings if the chain
    /// no longer contains its head or a continuation of it.
    pub async fn verify_against(&self, checkpoint: Checkpoint) -> Result<VerifyReport> {
        let chain = checkpoint.chain.clone();
        self.verify_with(Some(chain), false, Some(checkpoint)).await
    }

    /// Deep verification, for the operator who holds the keyset: what
    /// [`EventStore::verify`] checks, and that every wrapped data key
    /// unwraps and opens its payload (a corrupted or swapped key is
    /// reported at its `chain#seq`). A decryption per sensitive detail.
    pub async fn verify_deep(&self, chain: Option<&str>) -> Result<VerifyReport> {
        let chain = chain.map(chain_id).transpose()?;
        self.verify_with(chain, true, None).await
    }

    async fn verify_with(
        &self,
        chain: Option<ChainId>,
        deep: bool,
        checkpoint: Option<Checkpoint>,
    ) -> Result<VerifyReport> {
        let chainer = self.chainer();
        if deep && chainer.envelope().is_none() {
            return Err(stream_chain::Error::NoKeyset("(deep verification)".into()).into());
        }
        match &self.inner.backend {
            Backend::Mongo(m) => {
                let mut verifier = m.log.verifier(chain.as_ref(), deep).await?;
                if let Some(c) = checkpoint {
                    verifier.trust_checkpoint(c)?;
                }
                m.log
                    .verify_into(chain.as_ref(), None, &mut verifier)
                    .await?;
                Ok(verifier.finish())
            }
            Backend::Memory(log) => {
                let snapshot = self.snapshot(log, chain.as_ref());
                cpu(move || {
                    let mut verifier: Verifier = snapshot.verifier(&chainer);
                    if deep {
                        verifier = verifier.with_keyset(chainer);
                    }
                    if let Some(c) = checkpoint {
                        verifier.trust_checkpoint(c)?;
                    }
                    snapshot.verify_into(&mut verifier);
                    Ok(verifier.finish())
                })
                .await?
            }
        }
    }

    /// Verifies everything since the last integrity report of `chain`,
    /// stores the sealed report (made at `now`) and returns it (`None`:
    /// nothing new).
    pub async fn integrity_report(
        &self,
        chain: &str,
        now: SystemTime,
    ) -> Result<Option<IntegrityReport>> {
        let id = chain_id(chain)?;
        let now_ms = millis(now);
        match &self.inner.backend {
            Backend::Mongo(m) => Ok(m.log.report_since_last(&id, now_ms).await?),
            Backend::Memory(log) => {
                let chainer = self.chainer();
                let (snapshot, from) = {
                    let log = memory::lock(log);
                    let from = log.last_report(&id).map_or(1, |r| r.to_seq + 1);
                    (log.snapshot(Some(&id)), from)
                };
                let head_secret = snapshot.events().last().map(|e| e.secret_id);
                let verifying = chainer.clone();
                let verification = cpu(move || snapshot.verify(&verifying)).await?;
                let Some(summary) = verification.chains.first() else {
                    return Ok(None);
                };
                let (Some(first), Some(last)) = (summary.first_seq, summary.last_seq) else {
                    return Ok(None);
                };
                if last < from {
                    return Ok(None);
                }
                // In memory the whole chain is verified: a report over a
                // range still covers the links before it.
                let report = IntegrityReport::from_verification(
                    id,
                    from.max(first),
                    last,
                    &verification,
                    now_ms,
                    chainer.secret_for(head_secret),
                );
                memory::lock(log).store_report(report.clone());
                Ok(Some(report))
            }
        }
    }

    /// The reports of `chain`, newest first, each with the status to show
    /// (`reportIntegrityFailure` if it was tampered with), as a stream.
    pub fn reports(
        &self,
        chain: &str,
    ) -> BoxStream<'static, Result<(IntegrityReport, ReportStatus)>> {
        let id = match chain_id(chain) {
            Ok(c) => c,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        match &self.inner.backend {
            Backend::Mongo(m) => {
                let log = m.log.clone();
                stream::once(async move { log.reports(&id, None).await })
                    .map_ok(|reports| reports.map_err(Error::from))
                    .map_err(Error::from)
                    .try_flatten()
                    .boxed()
            }
            Backend::Memory(log) => {
                let chainer = self.chainer();
                let (snapshot, mut reports) = {
                    let log = memory::lock(log);
                    (log.snapshot(Some(&id)), log.reports(&id))
                };
                let superseded = stream_chain::superseded_positions(&snapshot.rotations(&chainer));
                reports.sort_by_key(|r| std::cmp::Reverse(r.to_seq));
                stream::iter(reports.into_iter().map(move |r| {
                    let mut status = r.checked_status(chainer.secrets());
                    // Sealed by a secret superseded at or before the end of
                    // its range: no pod made it.
                    if superseded
                        .iter()
                        .any(|(id, at)| *id == r.secret_id && r.to_seq >= *at)
                    {
                        status = ReportStatus::ReportIntegrityFailure;
                    }
                    Ok((r, status))
                }))
                .boxed()
            }
        }
    }

    /// Moves the record at `chain#seq` aside, after checking that it is not
    /// an authentic event: the way out when appends to a chain fail with an
    /// integrity error naming a stored head (a foreign or damaged record
    /// stored as the newest). Appends then continue from the last authentic
    /// event; verification keeps reporting the quarantined record. MongoDB
    /// only: the in-memory log holds nothing it did not seal itself.
    pub async fn quarantine(&self, chain: &str, seq: u64, reason: &str) -> Result<()> {
        let id = chain_id(chain)?;
        match &self.inner.backend {
            Backend::Memory(_) => Err(stream_mongo::Error::NotQuarantinable {
                chain: chain.to_owned(),
                seq,
                reason: "the in-memory log holds only events it sealed itself".into(),
            }
            .into()),
            Backend::Mongo(m) => Ok(m.log.quarantine(&id, seq, reason).await?),
        }
    }

    /// Retention: purges every event of every chain whose sealed
    /// `removeAt` is at or before `now`, wherever it stands. The expired
    /// prefix of a chain is deleted behind a sealed anchor; an expired event
    /// after it is replaced by its sealed stub; each chain still verifies.
    /// The newest event of a chain and the store's own records stay.
    ///
    /// # Errors
    /// Invalid input when `now` is more than [`PURGE_CLOCK_SKEW_MS`] ahead
    /// of this clock; an integrity error when a chain does not verify up to
    /// where it would purge (nothing of that chain is changed then).
    pub async fn purge_expired(&self, now: SystemTime) -> Result<PurgeSummary> {
        let now_ms = millis(now);
        let ahead_ms = now_ms.saturating_sub(stream_mongo::wall_clock_ms());
        if ahead_ms > PURGE_CLOCK_SKEW_MS {
            return Err(stream_mongo::Error::PurgeInFuture { now_ms, ahead_ms }.into());
        }
        let started = Instant::now();
        let mut summary = PurgeSummary::default();
        for chain in self.chains().await? {
            let outcome = match &self.inner.backend {
                Backend::Memory(log) => self.purge_memory(log, &chain, now_ms).await?,
                Backend::Mongo(m) => m.log.purge_expired(&chain, now_ms).await?,
            };
            summary.deleted += outcome.deleted;
            summary.stubbed += outcome.stubbed;
            summary.chains.push((chain, outcome));
        }
        tracing::info!(
            deleted = summary.deleted,
            stubbed = summary.stubbed,
            millis = started.elapsed().as_millis() as u64,
            "purge"
        );
        Ok(summary)
    }

    /// A purge of one in-memory chain: decided on a snapshot without the
    /// lock, applied under it if the chain did not change meanwhile.
    async fn purge_memory(
        &self,
        log: &Shared,
        chain: &ChainId,
        now_ms: i64,
    ) -> Result<PurgeOutcome> {
        let chainer = self.chainer();
        for _ in 0..MEMORY_PURGE_ATTEMPTS {
            let events = memory::lock(log).chain(chain);
            let (deciding, id) = (chainer.clone(), chain.clone());
            let plan = cpu(move || memory::plan_purge(&deciding, id, events, now_ms)).await??;
            if let Some(outcome) = memory::lock(log).apply_purge(plan, &chainer, now_ms)? {
                return Ok(outcome);
            }
        }
        Err(stream_mongo::Error::Contention {
            chain: chain.to_string(),
            attempts: MEMORY_PURGE_ATTEMPTS,
        }
        .into())
    }

    /// Crypto-shredding of event `seq` of `chain`: erases the wrapped data
    /// keys of its sensitive details (all, or only `key`'s), after
    /// appending a sealed shred record (what, when, from which node and
    /// `reason`). The values can never be decrypted again; the chain still
    /// verifies, and a verifier without the keyset tells this erasure from
    /// an attack, and reports a key restored from a backup.
    ///
    /// # Errors
    /// Refused when the event does not exist, is not authentic, is a stub
    /// or a store record, has no such sensitive detail, or its keys are
    /// erased already; nothing changed.
    pub async fn shred(
        &self,
        chain: &str,
        seq: u64,
        key: Option<&str>,
        reason: &str,
    ) -> Result<ShredOutcome> {
        let id = chain_id(chain)?;
        let now = stream_mongo::wall_clock_ms();
        let node = &self.inner.node;
        match &self.inner.backend {
            Backend::Memory(log) => {
                let chainer = self.chainer();
                memory::lock(log).shred(&chainer, &id, seq, key, |r| r.draft(node, now), reason)
            }
            Backend::Mongo(m) => Ok(m.log.shred(&id, seq, key, reason, node, now).await?),
        }
    }

    /// Keyset rotation, step 1 (on every pod): installs `keyset`, which
    /// must hold the key that encrypts now (the current primary), so that
    /// what is stored stays readable. Data keys are wrapped by its primary
    /// from now on: install the new key as a non-primary first, promote it
    /// once every pod has it. Sealed documents follow at once.
    ///
    /// # Errors
    /// A configuration error (variable `KEYSET`) when it lacks the current
    /// primary; nothing is changed.
    pub fn install_keyset(&self, keyset: Keyset) -> Result<()> {
        if let Some(current) = read(&self.inner.keyset).as_ref() {
            let primary = current.primary_id();
            if !keyset.list().iter().any(|k| k.id == primary) {
                return Err(Error::configuration(
                    "KEYSET",
                    format!(
                        "the new keyset lacks key {primary}, the current primary: stored data would become unreadable; add keys to the keyset, do not replace it"
                    ),
                ));
            }
        }
        let chainer = chainer_for(
            Some(&keyset),
            self.chainer().secrets().clone(),
            self.inner.dek,
        )?;
        self.use_chainer(chainer);
        *write(&self.inner.keyset) = Some(keyset);
        Ok(())
    }

    /// Seals and decrypts with `chainer` from now on (the MongoDB log too).
    fn use_chainer(&self, chainer: Chainer) {
        if let Backend::Mongo(m) = &self.inner.backend {
            m.log.set_chainer(chainer.clone());
        }
        *write(&self.inner.chainer) = chainer;
    }

    /// Keyset rotation, step 2 (on every pod, once every pod has the key):
    /// makes key `id` of the installed keyset the primary, which wraps new
    /// data keys from now on.
    ///
    /// # Errors
    /// Invalid input when no key has that id or it is not enabled; a
    /// configuration error without a keyset.
    pub fn promote_key(&self, id: stream_keyset::KeyId) -> Result<()> {
        let mut guard = write(&self.inner.keyset);
        let keyset = guard
            .as_mut()
            .ok_or_else(|| Error::configuration("KEYSET", "no keyset is installed"))?;
        // Build the new chainer on a promoted keyset before anything is
        // kept: an error leaves the store as it was.
        let before = keyset.primary_id();
        keyset.promote(id)?;
        let chainer = match chainer_for(
            Some(keyset),
            self.chainer().secrets().clone(),
            self.inner.dek,
        ) {
            Ok(c) => c,
            Err(e) => {
                // `before` was the primary a moment ago: promotable back.
                let _ = keyset.promote(before);
                return Err(e);
            }
        };
        drop(guard);
        self.use_chainer(chainer);
        Ok(())
    }

    /// Keyset rotation, step 3 (one job, on one pod, once every pod has
    /// promoted): re-wraps every stored data key under the primary.
    /// Resumable and idempotent (keys under the primary are skipped); never
    /// brings back a key shredded meanwhile. `progress` is called as it
    /// goes (every 1000 records on MongoDB) and at the end.
    ///
    /// # Errors
    /// Incomplete when some records could not be re-wrapped, with how many
    /// and why the first failed: the old key must stay in the keyset until
    /// they are dealt with.
    pub async fn rewrap_keys(
        &self,
        mut progress: impl FnMut(&RotationProgress),
    ) -> Result<RotationProgress> {
        match &self.inner.backend {
            Backend::Mongo(m) => Ok(m.log.rewrap_events(progress).await?),
            Backend::Memory(log) => {
                let chainer = self.chainer();
                let snapshot = self.snapshot(log, None);
                let (rewrapped, mut done, first, snapshot) = cpu(move || {
                    let (rewrapped, done, first) = memory::plan_rewrap(&chainer, &snapshot);
                    (rewrapped, done, first, snapshot)
                })
                .await?;
                let (written, changed) = memory::lock(log).apply_rewrap(rewrapped, &snapshot);
                done.rewrapped = written;
                done.changed = changed;
                progress(&done);
                match first {
                    Some(first) => Err(stream_mongo::Error::RewrapIncomplete {
                        failed: done.failed,
                        rewrapped: done.rewrapped,
                        first,
                    }
                    .into()),
                    None => Ok(done),
                }
            }
        }
    }

    /// Seal secret rotation in this process: `secret` is current from now
    /// on; the previous current one is kept as retired. Each chain this
    /// store appends to next gets a sealed rotation record first, after
    /// which the secrets it supersedes may no longer seal there; stores
    /// still on an older current secret that know `secret` follow the
    /// chain. See the README for the order across pods.
    pub fn rotate_seal_secret(&self, secret: SealSecret) -> Result<()> {
        let current = self.chainer();
        let mut secrets = current.secrets().clone();
        secrets.rotate(secret);
        let chainer = chainer_for(read(&self.inner.keyset).as_ref(), secrets, self.inner.dek)?;
        self.use_chainer(chainer);
        Ok(())
    }
}
