//! The `EventStore` facade: the one handle the Stream server links.

use std::sync::{Mutex, RwLock};
use std::time::Instant;

use stream_chain::{
    ChainId, Chainer, Checkpoint, DetailValue, EventDraft, IntegrityReport, ReportStatus,
    SealSecret, SealSecrets, SealedEvent, Verifier, VerifyReport,
};
use stream_keyset::{Algorithm, Keyset};
use stream_mongo::{EventLog, LogConfig, PurgeOutcome, RotationProgress, SearchPage, SearchQuery};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::memory::MemoryLog;

/// Where events are kept.
enum Backend {
    Memory(Mutex<MemoryLog>),
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
            backend: Backend::Memory(Mutex::new(MemoryLog::default())),
        })
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
        })
    }

    /// A store configured as Stream's chart does: `KEYSET` (Tink JSON; if
    /// absent, sensitive details are refused), `EVENT_SEAL_SECRET`
    /// (required), `MONGODB_URI` (absent: in memory).
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
        let secrets = SealSecrets::new(secret);
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
        // The MongoDB log traces its own appends; the memory log's are
        // traced here, once.
        let events = match &self.backend {
            Backend::Mongo(m) => m.log.append_batch(&chain, drafts).await?,
            Backend::Memory(log) => {
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
        let chainer = self.chainer();
        let mut verifier = Verifier::new(chainer.secrets().clone());
        let chain = checkpoint.chain.clone();
        verifier.trust_checkpoint(checkpoint)?;
        match &self.backend {
            Backend::Memory(log) => memory(log).verify_into(Some(&chain), &mut verifier),
            Backend::Mongo(m) => m.log.verify_into(Some(&chain), None, &mut verifier).await?,
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
                let report = IntegrityReport::from_verification(
                    id,
                    from.max(first),
                    last,
                    &verification,
                    now_ms,
                    chainer.secrets().current(),
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
                let mut reports = memory(log).reports(&id);
                reports.sort_by_key(|r| std::cmp::Reverse(r.to_seq));
                Ok(reports
                    .into_iter()
                    .map(|r| {
                        let status = r.checked_status(chainer.secrets());
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

    /// Purges expired events of every chain, oldest first, anchoring each
    /// chain's new first event. Returns the total deleted.
    pub async fn purge_expired(&self, now_ms: i64) -> Result<u64> {
        let started = Instant::now();
        let chainer = self.chainer();
        let mut deleted = 0;
        match &self.backend {
            Backend::Memory(log) => {
                let mut log = memory(log);
                for chain in log.chains() {
                    let PurgeOutcome { deleted: d, .. } =
                        log.purge_expired(&chainer, &chain, now_ms)?;
                    deleted += d;
                }
            }
            Backend::Mongo(m) => {
                for chain in m.log.chains().await? {
                    deleted += m.log.purge_expired(&chain, now_ms).await?.deleted;
                }
            }
        }
        tracing::info!(
            deleted,
            millis = started.elapsed().as_millis() as u64,
            "purge"
        );
        Ok(deleted)
    }

    /// Keyset rotation: from now on `keyset` (with its new primary)
    /// encrypts, and every stored data key is re-wrapped under its primary.
    /// The chain verifies afterwards. Resumable: run it again after an
    /// interruption.
    pub async fn rotate_keyset(&self, keyset: Keyset) -> Result<RotationProgress> {
        let started = Instant::now();
        let chainer = chainer_for(Some(&keyset), self.chainer().secrets().clone())?;
        *write(&self.chainer) = chainer.clone();
        *write(&self.keyset) = Some(keyset);
        let progress = match &self.backend {
            Backend::Memory(log) => {
                let (examined, rewrapped) = memory(log).rewrap(&chainer)?;
                tracing::info!(
                    examined,
                    rewrapped,
                    millis = started.elapsed().as_millis() as u64,
                    "keyset rotation of events"
                );
                RotationProgress {
                    examined,
                    rewrapped,
                    failed: 0,
                }
            }
            // The MongoDB log traces its own rotation.
            Backend::Mongo(m) => {
                m.log.set_chainer(chainer);
                m.log.rewrap_events(|_| {}).await?
            }
        };
        Ok(progress)
    }

    /// Seal secret rotation: `secret` seals from now on; the previous
    /// secrets keep verifying what they sealed.
    pub fn rotate_seal_secret(&self, secret: SealSecret) -> Result<()> {
        let current = self.chainer();
        let mut secrets = current.secrets().clone();
        secrets.rotate(secret);
        let chainer = chainer_for(read(&self.keyset).as_ref(), secrets)?;
        if let Backend::Mongo(m) = &self.backend {
            m.log.set_chainer(chainer.clone());
        }
        *write(&self.chainer) = chainer;
        Ok(())
    }
}
