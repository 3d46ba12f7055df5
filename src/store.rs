//! The `EventStore` facade: the one handle the Stream server links.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use stream_chain::{
    ChainId, Chainer, Checkpoint, DetailValue, EventDraft, IntegrityReport, ReportStatus,
    SealSecret, SealSecrets, SealedEvent, Verifier, VerifyReport,
};
use stream_keyset::{Algorithm, Keyset};
use stream_mongo::{
    EventLog, LogConfig, PurgeOutcome, RotationProgress, SearchPage, SearchQuery, ShredOutcome,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::memory::MemoryLog;

/// Where events are kept.
enum Backend {
    Memory(Arc<Mutex<MemoryLog>>),
    Mongo(Box<MongoBackend>),
}

struct MongoBackend {
    // Kept so the connection pool lives as long as the store.
    _client: stream_mongo::mongodb::Client,
    database: stream_mongo::mongodb::Database,
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

/// The event store: a keyset, the seal secrets and an event log, in memory
/// (the embedded default) or in MongoDB.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use stream_store::{EventStore, chain::{EventDraft, SealSecret, SealSecrets, Status}};
/// use stream_store::keyset::{Keyset, Template};
///
/// let secrets = SealSecrets::new(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?);
/// let store = EventStore::in_memory(Some(Keyset::generate(Template::AES256_GCM_SIV)), secrets)?;
/// let draft = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, 1_700_000_000_000)
///     .sensitive("subject", b"CN=alice".to_vec());
/// let event = store.append("ca", draft).await?;
/// let read = store.read("ca", event.seq).await?.expect("just appended");
/// assert!(matches!(&read.details[0].1, stream_store::ReadValue::Decrypted(v) if v.as_slice() == b"CN=alice"));
/// assert!(store.verify(None).await?.is_ok());
/// # Ok::<(), stream_store::Error>(()) }).unwrap();
/// ```
pub struct EventStore {
    keyset: RwLock<Option<Keyset>>,
    chainer: RwLock<Chainer>,
    backend: Backend,
    node: String,
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

fn node_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "stream-store".to_owned())
}

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field(
                "backend",
                &match &self.backend {
                    Backend::Memory(_) => "memory",
                    Backend::Mongo(_) => "mongodb",
                },
            )
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

fn memory(log: &Mutex<MemoryLog>) -> std::sync::MutexGuard<'_, MemoryLog> {
    // See `read`: every operation leaves the log consistent before it can
    // panic.
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn chainer_for(keyset: Option<&Keyset>, secrets: SealSecrets) -> Result<Chainer> {
    let envelope = match keyset {
        Some(k) => Some(k.envelope(Algorithm::Aes256GcmSiv)?),
        None => None,
    };
    Ok(Chainer::new(secrets, envelope))
}

fn chain_id(chain: &str) -> Result<ChainId> {
    Ok(ChainId::new(chain)?)
}

impl EventStore {
    /// A store in memory. Without a keyset, drafts with sensitive details
    /// are refused.
    pub fn in_memory(keyset: Option<Keyset>, secrets: SealSecrets) -> Result<EventStore> {
        let chainer = chainer_for(keyset.as_ref(), secrets)?;
        Ok(EventStore {
            keyset: RwLock::new(keyset),
            chainer: RwLock::new(chainer),
            backend: Backend::Memory(Arc::new(Mutex::new(MemoryLog::default()))),
            node: node_name(),
        })
    }

    /// Another store on the same log, with its own keyset and secrets: in
    /// memory, what another pod on the same database is (for tests and
    /// embedded use of the procedures of several pods). On MongoDB, connect
    /// another store to the same URI instead.
    ///
    /// # Errors
    /// [`Error::Config`] on a MongoDB store.
    pub fn share_memory(&self, keyset: Option<Keyset>, secrets: SealSecrets) -> Result<EventStore> {
        let Backend::Memory(log) = &self.backend else {
            return Err(Error::Config {
                variable: "MONGODB_URI",
                message: "share_memory is for in-memory stores; connect to the same URI".into(),
            });
        };
        Ok(EventStore {
            chainer: RwLock::new(chainer_for(keyset.as_ref(), secrets)?),
            keyset: RwLock::new(keyset),
            backend: Backend::Memory(log.clone()),
            node: node_name(),
        })
    }

    /// Names the node (pod) this store writes its records from (shred and
    /// rotation records); default: env `HOSTNAME`, else `stream-store`.
    pub fn with_node(mut self, node: impl Into<String>) -> EventStore {
        self.node = node.into();
        self
    }

    /// A store in the MongoDB of `uri` (database from the URI, else
    /// `stream`); creates its indexes.
    pub async fn mongodb(
        uri: &str,
        keyset: Option<Keyset>,
        secrets: SealSecrets,
        config: LogConfig,
    ) -> Result<EventStore> {
        let chainer = chainer_for(keyset.as_ref(), secrets)?;
        let (client, database) =
            stream_mongo::connect_with(uri, config.server_selection_timeout).await?;
        let log = EventLog::new(&database, chainer.clone(), config);
        log.ensure_indexes().await?;
        Ok(EventStore {
            keyset: RwLock::new(keyset),
            chainer: RwLock::new(chainer),
            backend: Backend::Mongo(Box::new(MongoBackend {
                _client: client,
                database,
                log,
            })),
            node: node_name(),
        })
    }

    /// A store configured as Stream's chart does: `KEYSET` (Tink JSON; if
    /// absent, sensitive details are refused), `EVENT_SEAL_SECRET`
    /// (required), `EVENT_SEAL_SECRET_RETIRED` (optional: the secrets that
    /// sealed before, separated by newlines or commas),
    /// `EVENT_SEAL_SECRET_NEXT` (optional: the successor being rolled out,
    /// see the README), `MONGODB_URI` (absent: in memory).
    pub async fn from_env() -> Result<EventStore> {
        let keyset = match std::env::var("KEYSET") {
            Ok(json) if !json.trim().is_empty() => {
                Some(Keyset::parse(json.as_bytes()).map_err(|e| Error::Config {
                    variable: "KEYSET",
                    message: e.to_string(),
                })?)
            }
            _ => None,
        };
        let secret = std::env::var("EVENT_SEAL_SECRET").map_err(|_| Error::Config {
            variable: "EVENT_SEAL_SECRET",
            message: "not set; it must hold the seal secret (at least 16 bytes)".into(),
        })?;
        let secret = SealSecret::from_env_value(&secret).map_err(|e| Error::Config {
            variable: "EVENT_SEAL_SECRET",
            message: e.to_string(),
        })?;
        let mut secrets = SealSecrets::new(secret);
        if let Ok(list) = std::env::var("EVENT_SEAL_SECRET_RETIRED") {
            secrets = secrets
                .with_retired_list(&list)
                .map_err(|e| Error::Config {
                    variable: "EVENT_SEAL_SECRET_RETIRED",
                    message: e.to_string(),
                })?;
        }
        if let Ok(list) = std::env::var("EVENT_SEAL_SECRET_NEXT") {
            secrets = secrets.with_next_list(&list).map_err(|e| Error::Config {
                variable: "EVENT_SEAL_SECRET_NEXT",
                message: e.to_string(),
            })?;
        }
        match std::env::var("MONGODB_URI") {
            Ok(uri) if !uri.is_empty() => {
                EventStore::mongodb(&uri, keyset, secrets, LogConfig::default())
                    .await
                    .map_err(|e| Error::Config {
                        variable: "MONGODB_URI",
                        message: e.to_string(),
                    })
            }
            _ => EventStore::in_memory(keyset, secrets),
        }
    }

    /// The chainer in use (cheap clone).
    pub fn chainer(&self) -> Chainer {
        read(&self.chainer).clone()
    }

    /// Whether events go to MongoDB.
    pub fn is_mongodb(&self) -> bool {
        matches!(self.backend, Backend::Mongo(_))
    }

    /// The MongoDB database, for a server that keeps other collections
    /// (sealed documents) next to the events.
    pub fn database(&self) -> Option<&stream_mongo::mongodb::Database> {
        match &self.backend {
            Backend::Mongo(m) => Some(&m.database),
            Backend::Memory(_) => None,
        }
    }

    /// Appends one event to `chain`; returns it once stored.
    pub async fn append(&self, chain: &str, draft: EventDraft) -> Result<SealedEvent> {
        let mut events = self.append_batch(chain, vec![draft]).await?;
        events.pop().ok_or_else(|| Error::Config {
            variable: "append",
            message: "no event was returned".into(),
        })
    }

    /// Appends drafts in order, contiguous in `chain`.
    pub async fn append_batch(
        &self,
        chain: &str,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<SealedEvent>> {
        let chain = chain_id(chain)?;
        // The MongoDB log checks and traces its own appends; the memory
        // log's are checked and traced here, once.
        let events = match &self.backend {
            Backend::Mongo(m) => m.log.append_batch(&chain, drafts).await?,
            Backend::Memory(log) => {
                for draft in &drafts {
                    stream_chain::check_not_reserved(draft)?;
                }
                let started = Instant::now();
                let events = memory(log).append(&self.chainer(), &chain, &drafts)?;
                tracing::debug!(
                    chain = %chain,
                    events = events.len(),
                    first_seq = events.first().map(|e| e.seq),
                    micros = started.elapsed().as_micros() as u64,
                    "appended"
                );
                events
            }
        };
        Ok(events)
    }

    /// The event `seq` of `chain`, its sensitive details decrypted when the
    /// keyset is present.
    pub async fn read(&self, chain: &str, seq: u64) -> Result<Option<ReadEvent>> {
        let chain = chain_id(chain)?;
        let event = match &self.backend {
            Backend::Memory(log) => memory(log).get(&chain, seq).cloned(),
            Backend::Mongo(m) => m.log.get(&chain, seq).await?,
        };
        event.map(|e| self.open(e)).transpose()
    }

    /// Events `from..=to` of `chain` as stored, in order.
    pub async fn range(&self, chain: &str, from: u64, to: u64) -> Result<Vec<SealedEvent>> {
        let chain = chain_id(chain)?;
        Ok(match &self.backend {
            Backend::Memory(log) => memory(log).range(&chain, from, to),
            Backend::Mongo(m) => m.log.range(&chain, from, to).await?,
        })
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

    /// Searches events (sorted by time, paged, counted).
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage> {
        Ok(match &self.backend {
            Backend::Memory(log) => memory(log).search(query),
            Backend::Mongo(m) => m.log.search(query).await?,
        })
    }

    /// Verifies every chain (or one).
    pub async fn verify(&self, chain: Option<&str>) -> Result<VerifyReport> {
        let chain = chain.map(chain_id).transpose()?;
        Ok(match &self.backend {
            Backend::Mongo(m) => m.log.verify(chain.as_ref()).await?,
            Backend::Memory(log) => {
                let started = Instant::now();
                let report = memory(log).verify(&self.chainer(), chain.as_ref());
                tracing::info!(
                    records = report.records,
                    findings = report.total_findings,
                    millis = started.elapsed().as_millis() as u64,
                    "verified"
                );
                report
            }
        })
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
        let mut verifier = self.verifier(Some(&chain), false).await?;
        verifier.trust_checkpoint(checkpoint)?;
        match &self.backend {
            Backend::Memory(log) => memory(log).verify_into(Some(&chain), &mut verifier),
            Backend::Mongo(m) => m.log.verify_into(Some(&chain), None, &mut verifier).await?,
        }
        Ok(verifier.finish())
    }

    /// A verifier for this store: its secrets, the time, the shred records
    /// stored, and with `deep` the keyset.
    async fn verifier(&self, chain: Option<&ChainId>, deep: bool) -> Result<Verifier> {
        let chainer = self.chainer();
        match &self.backend {
            Backend::Mongo(m) => Ok(m.log.verifier(chain, deep).await?),
            Backend::Memory(log) => {
                let verifier = memory(log).verifier(&chainer, chain);
                if !deep {
                    return Ok(verifier);
                }
                if chainer.envelope().is_none() {
                    return Err(stream_chain::Error::NoKeyset("(deep verification)".into()).into());
                }
                Ok(verifier.with_keyset(chainer))
            }
        }
    }

    /// Deep verification, for the operator who holds the keyset: what
    /// [`EventStore::verify`] checks, and that every wrapped data key
    /// unwraps and opens its payload (a corrupted or swapped key is
    /// reported at its `chain#seq`). A decryption per sensitive detail.
    pub async fn verify_deep(&self, chain: Option<&str>) -> Result<VerifyReport> {
        let chain = chain.map(chain_id).transpose()?;
        let mut verifier = self.verifier(chain.as_ref(), true).await?;
        match &self.backend {
            Backend::Memory(log) => memory(log).verify_into(chain.as_ref(), &mut verifier),
            Backend::Mongo(m) => {
                m.log
                    .verify_into(chain.as_ref(), None, &mut verifier)
                    .await?
            }
        }
        Ok(verifier.finish())
    }

    /// Verifies everything since the last integrity report of `chain`,
    /// stores the sealed report and returns it (`None`: nothing new).
    pub async fn integrity_report(
        &self,
        chain: &str,
        now_ms: i64,
    ) -> Result<Option<IntegrityReport>> {
        let id = chain_id(chain)?;
        match &self.backend {
            Backend::Mongo(m) => Ok(m.log.report_since_last(&id, now_ms).await?),
            Backend::Memory(log) => {
                let chainer = self.chainer();
                let mut log = memory(log);
                let from = log.last_report(&id).map_or(1, |r| r.to_seq + 1);
                let verification = log.verify(&chainer, Some(&id));
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
                let head_secret = log.get(&id, last).map(|e| e.secret_id);
                let report = IntegrityReport::from_verification(
                    id,
                    from.max(first),
                    last,
                    &verification,
                    now_ms,
                    chainer.secret_for(head_secret),
                );
                log.store_report(report.clone());
                Ok(Some(report))
            }
        }
    }

    /// The reports of `chain`, newest first, each with the status to show
    /// (`reportIntegrityFailure` if it was tampered with).
    pub async fn reports(&self, chain: &str) -> Result<Vec<(IntegrityReport, ReportStatus)>> {
        let id = chain_id(chain)?;
        match &self.backend {
            Backend::Mongo(m) => Ok(m.log.reports_of(&id, 1000).await?),
            Backend::Memory(log) => {
                let chainer = self.chainer();
                let log = memory(log);
                let superseded = stream_chain::superseded_positions(&log.rotations(&chainer, &id));
                let mut reports = log.reports(&id);
                reports.sort_by_key(|r| std::cmp::Reverse(r.to_seq));
                Ok(reports
                    .into_iter()
                    .map(|r| {
                        let mut status = r.checked_status(chainer.secrets());
                        // Sealed by a secret superseded at or before the
                        // end of its range: no pod made it.
                        if superseded
                            .iter()
                            .any(|(id, at)| *id == r.secret_id && r.to_seq >= *at)
                        {
                            status = ReportStatus::ReportIntegrityFailure;
                        }
                        (r, status)
                    })
                    .collect())
            }
        }
    }

    /// Moves the record at `chain#seq` aside, after checking that it is not
    /// an authentic event: the way out when appends to a chain fail with
    /// [`stream_mongo::Error::HeadRejected`] (a foreign or damaged record
    /// stored as the newest). Appends then continue from the last authentic
    /// event; verification keeps reporting the quarantined record. MongoDB
    /// only: the in-memory log holds nothing it did not seal itself.
    pub async fn quarantine(&self, chain: &str, seq: u64, reason: &str) -> Result<()> {
        let id = chain_id(chain)?;
        match &self.backend {
            Backend::Memory(_) => Err(Error::Mongo(stream_mongo::Error::NotQuarantinable {
                chain: chain.to_owned(),
                seq,
                reason: "the in-memory log holds only events it sealed itself".into(),
            })),
            Backend::Mongo(m) => Ok(m.log.quarantine(&id, seq, reason).await?),
        }
    }

    /// Retention: purges every event of every chain whose sealed
    /// `removeAt` is at or before `now_ms`, wherever it stands. The expired
    /// prefix of a chain is deleted behind a sealed anchor; an expired event
    /// after it is replaced by its sealed stub; each chain still verifies.
    /// The newest event of a chain and the store's own records stay.
    ///
    /// # Errors
    /// [`stream_mongo::Error::PurgeInFuture`] when `now_ms` is more than
    /// [`PURGE_CLOCK_SKEW_MS`] ahead of this clock, and
    /// [`stream_chain::Error::PurgeRefused`] when a chain does not verify
    /// up to where it would purge; nothing of that chain is changed then.
    pub async fn purge_expired(&self, now_ms: i64) -> Result<PurgeSummary> {
        let ahead_ms = now_ms.saturating_sub(stream_mongo::wall_clock_ms());
        if ahead_ms > PURGE_CLOCK_SKEW_MS {
            return Err(stream_mongo::Error::PurgeInFuture { now_ms, ahead_ms }.into());
        }
        let started = Instant::now();
        let chainer = self.chainer();
        let mut summary = PurgeSummary::default();
        let chains = match &self.backend {
            Backend::Memory(log) => memory(log).chains(),
            Backend::Mongo(m) => m.log.chains().await?,
        };
        for chain in chains {
            let outcome = match &self.backend {
                Backend::Memory(log) => memory(log).purge_expired(&chainer, &chain, now_ms)?,
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

    /// Crypto-shredding of event `seq` of `chain`: erases the wrapped data
    /// keys of its sensitive details (all, or only `key`'s), after
    /// appending a sealed shred record (what, when, from which node and
    /// `reason`). The values can never be decrypted again; the chain still
    /// verifies, and a verifier without the keyset tells this erasure from
    /// an attack, and reports a key restored from a backup.
    ///
    /// # Errors
    /// [`stream_mongo::Error::NotShreddable`] when the event does not
    /// exist, is not authentic, is a stub or a store record, has no such
    /// sensitive detail, or its keys are erased already; nothing changed.
    pub async fn shred(
        &self,
        chain: &str,
        seq: u64,
        key: Option<&str>,
        reason: &str,
    ) -> Result<ShredOutcome> {
        let id = chain_id(chain)?;
        let now = stream_mongo::wall_clock_ms();
        match &self.backend {
            Backend::Memory(log) => {
                let chainer = self.chainer();
                memory(log).shred(
                    &chainer,
                    &id,
                    seq,
                    key,
                    |r| r.draft(&self.node, now),
                    reason,
                )
            }
            Backend::Mongo(m) => Ok(m.log.shred(&id, seq, key, reason, &self.node, now).await?),
        }
    }

    /// Keyset rotation, step 1 (on every pod): installs `keyset`, which
    /// must hold the key that encrypts now (the current primary), so that
    /// what is stored stays readable. Data keys are wrapped by its primary
    /// from now on: install the new key as a non-primary first, promote it
    /// once every pod has it.
    ///
    /// # Errors
    /// [`Error::Config`] (variable `KEYSET`) when it lacks the current
    /// primary; nothing is changed.
    pub fn install_keyset(&self, keyset: Keyset) -> Result<()> {
        if let Some(current) = read(&self.keyset).as_ref() {
            let primary = current.primary_id();
            if !keyset.list().iter().any(|k| k.id == primary) {
                return Err(Error::Config {
                    variable: "KEYSET",
                    message: format!(
                        "the new keyset lacks key {primary}, the current primary: stored data would become unreadable; add keys to the keyset, do not replace it"
                    ),
                });
            }
        }
        self.set_keyset(keyset)
    }

    /// Seals and decrypts with `chainer` from now on (the MongoDB log too).
    fn use_chainer(&self, chainer: Chainer) {
        if let Backend::Mongo(m) = &self.backend {
            m.log.set_chainer(chainer.clone());
        }
        *write(&self.chainer) = chainer;
    }

    fn set_keyset(&self, keyset: Keyset) -> Result<()> {
        let chainer = chainer_for(Some(&keyset), self.chainer().secrets().clone())?;
        self.use_chainer(chainer);
        *write(&self.keyset) = Some(keyset);
        Ok(())
    }

    /// Keyset rotation, step 2 (on every pod, once every pod has the key):
    /// makes key `id` of the installed keyset the primary, which wraps new
    /// data keys from now on.
    ///
    /// # Errors
    /// A keyset error when no key has that id or it is not enabled.
    pub fn promote_key(&self, id: stream_keyset::KeyId) -> Result<()> {
        let mut guard = write(&self.keyset);
        let keyset = guard.as_mut().ok_or_else(|| Error::Config {
            variable: "KEYSET",
            message: "no keyset is installed".into(),
        })?;
        // Build the new chainer on a promoted keyset before anything is
        // kept: an error leaves the store as it was.
        let before = keyset.primary_id();
        keyset.promote(id)?;
        let chainer = match chainer_for(Some(keyset), self.chainer().secrets().clone()) {
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
    /// [`stream_mongo::Error::RewrapIncomplete`] when some records could not
    /// be re-wrapped, with how many and why the first failed: the old key
    /// must stay in the keyset until they are dealt with.
    pub async fn rewrap_keys(
        &self,
        mut progress: impl FnMut(&RotationProgress),
    ) -> Result<RotationProgress> {
        match &self.backend {
            Backend::Mongo(m) => Ok(m.log.rewrap_events(progress).await?),
            Backend::Memory(log) => {
                let (done, first) = memory(log).rewrap(&self.chainer());
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
        let chainer = chainer_for(read(&self.keyset).as_ref(), secrets)?;
        self.use_chainer(chainer);
        Ok(())
    }
}
