//! What chaining costs on MongoDB: [`EventLog::append_batch`] against a
//! bare `insert_many` of the same documents, and three writers on one chain.
//!
//! Needs a server: set `MONGODB_URI` (for example the FerretDB of
//! `scripts/mongo-server.sh`); without it the bench prints why and exits
//! without measuring anything. Each run works in a fresh database
//! (`bench_mongo_append_<pid>`), dropped at the end.
//!
//! Group `mongo_append`; every draft has three public details and one
//! sensitive detail of [`SENSITIVE_LEN`] bytes:
//! - `chained_batch/BATCH` (100, 1000): one [`EventLog`], one writer,
//!   appending BATCH drafts to one chain per iteration (sealing, encoding
//!   and the ordered insert of the library's default write concern).
//! - `raw_insert_many/BATCH`: an ordered `insert_many` of the same BSON
//!   documents (`codec::event_to_document` of events sealed outside the
//!   measurement, from drafts like those of `chained_batch`, at a head of
//!   their own so that `seq` stays unique) into a collection of the same
//!   database with the same indexes (`EventLog::ensure_indexes`) and the
//!   same write concern.
//! - `three_writers/100`: three [`EventLog`]s with a `mongodb::Client`
//!   each, appending 100 drafts each concurrently to one chain (300 events
//!   per iteration) in a collection of their own with the same indexes;
//!   afterwards the chain must verify with no fork. The writers take
//!   turns on the chain (`chainHeads`); the multi-process figures are those
//!   of `examples/pods.rs bench`.
//!
//! Throughput in events (elements).
//!
//! `cargo bench --bench mongo_append -- --warm-up-time 1 --measurement-time 5 --sample-size 10`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "server.rs"]
mod server;

use std::collections::BTreeMap;
use std::future::IntoFuture as _;
use std::sync::Arc;
use stream_store::Timestamp;

use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, Throughput};
use stream_store::chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status};
use stream_store::keyset::{Algorithm, Keyset, Template};
use stream_store::mongo::codec::event_to_document;
use stream_store::mongo::mongodb::bson::Document;
use stream_store::mongo::mongodb::{Client, Database};
use stream_store::mongo::{EventLog, LogConfig};
use tokio::runtime::Runtime;

/// Batch sizes of `chained_batch` and `raw_insert_many`.
const BATCHES: [usize; 2] = [100, 1000];
/// Batch of each of the three writers.
const WRITER_BATCH: usize = 100;
/// Number of concurrent writers of `three_writers`.
const WRITERS: usize = 3;
/// Size of the sensitive detail of every draft.
const SENSITIVE_LEN: usize = 256;
/// The seal secret.
const SEAL_SECRET: &str = "bench-seal-secret-of-32-chars...";

/// Draft number `i`: three public details and one sensitive detail.
fn draft(i: u64) -> EventDraft {
    EventDraft::new(
        if i.is_multiple_of(3) {
            "LIFECYCLE-ENROLL"
        } else {
            "LIFECYCLE-REVOKE"
        },
        "ca",
        format!("stream-ca-{}", i % 3),
        Status::Success,
        Timestamp::from_millis(1_700_000_000_000 + i as i64),
    )
    .public("serial", format!("{i:016x}"))
    .public("profile", "tls-server")
    .public("issuer", "CN=Stream Issuing CA 1")
    .sensitive("subject", vec![0x5a; SENSITIVE_LEN])
}

/// `n` drafts numbered from `*next`, which advances.
fn drafts(next: &mut u64, n: usize) -> Vec<EventDraft> {
    let out = (*next..*next + n as u64).map(draft).collect();
    *next += n as u64;
    out
}

/// The database of this run and how to reach it.
struct Bench {
    uri: String,
    client: Client,
    db: Database,
    chainer: Chainer,
}

impl Bench {
    fn new(rt: &Runtime, uri: String) -> Bench {
        let client = rt.block_on(Client::with_uri_str(&uri)).unwrap();
        let db = client.database(&format!("bench_mongo_append_{}", std::process::id()));
        rt.block_on(db.drop().into_future()).unwrap();
        let secrets = SealSecrets::new(SealSecret::from_env_value(SEAL_SECRET).unwrap());
        let keyset = Keyset::generate(Template::AES256_GCM_SIV);
        let chainer = Chainer::new(
            secrets,
            Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
        );
        Bench {
            uri,
            client,
            db,
            chainer,
        }
    }

    /// An event log on this database, with its indexes.
    fn log(&self, rt: &Runtime, db: &Database, config: LogConfig) -> EventLog {
        let log = EventLog::new(db, self.chainer.clone(), config);
        rt.block_on(log.ensure_indexes()).unwrap();
        log
    }
}

/// Verifies `chain` and prints the outcome; panics on any finding.
fn verify(rt: &Runtime, log: &EventLog, chain: &ChainId) {
    let report = rt.block_on(log.verify(Some(chain))).unwrap();
    let summary = report.chains.first();
    let mut kinds = BTreeMap::<&str, u64>::new();
    for finding in &report.findings {
        *kinds.entry(finding.kind.name()).or_default() += 1;
    }
    let forks = kinds.get("fork").copied().unwrap_or(0);
    println!(
        "mongo_append: chain `{chain}`: {} events, seq {:?}..={:?}, {} errors, {} findings \
         {kinds:?}, {forks} forks: {}",
        report.records,
        summary.and_then(|s| s.first_seq),
        summary.and_then(|s| s.last_seq),
        report.errors,
        report.total_findings,
        if report.is_ok() {
            "verified"
        } else {
            "NOT VERIFIED"
        },
    );
    assert!(
        report.is_ok(),
        "chain {chain} does not verify: {:?}",
        report.first_error()
    );
}

fn mongo_append(c: &mut Criterion) {
    let Some(uri) = server::uri() else {
        return;
    };
    let rt = Runtime::new().unwrap();
    let bench = Bench::new(&rt, uri);
    let config = LogConfig::default();
    let write_concern = config.write_concern.clone();
    let log = bench.log(&rt, &bench.db, config.clone());
    // The raw inserts go to a collection of their own, with the same indexes.
    let raw_log = bench.log(
        &rt,
        &bench.db,
        LogConfig {
            events: "raw_events".into(),
            reports: "raw_integrityReports".into(),
            ..config.clone()
        },
    );
    let single = ChainId::new("single-writer").unwrap();
    let mut next_draft = 0u64;
    let mut next_raw_draft = 0u64;
    let mut raw_head = Head::genesis(single.clone());

    let mut group = c.benchmark_group("mongo_append");
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("chained_batch", batch), |b| {
            b.iter_batched(
                || drafts(&mut next_draft, batch),
                |drafts| {
                    let events = rt.block_on(log.append_batch(&single, drafts)).unwrap();
                    assert_eq!(events.len(), batch);
                    events
                },
                BatchSize::PerIteration,
            )
        });

        // The same documents, sealed outside the measurement: drafts like
        // those above (distinct timestamps, serials, nodes: a server may pay
        // for many equal index keys, so re-inserting one set of documents
        // would not be the same work), sealed at a head of their own so
        // that every `seq` is unique.
        group.bench_function(BenchmarkId::new("raw_insert_many", batch), |b| {
            b.iter_batched(
                || {
                    let events = bench
                        .chainer
                        .seal_batch(&mut raw_head, &drafts(&mut next_raw_draft, batch))
                        .unwrap();
                    events
                        .iter()
                        .map(event_to_document)
                        .collect::<Vec<Document>>()
                },
                |docs| {
                    let mut insert = raw_log.collection().insert_many(&docs).ordered(true);
                    if let Some(wc) = &write_concern {
                        insert = insert.write_concern(wc.clone());
                    }
                    let result = rt.block_on(insert.into_future()).unwrap();
                    assert_eq!(result.inserted_ids.len(), batch);
                    docs
                },
                BatchSize::PerIteration,
            )
        });
    }

    // Three writers, each with its own client, on one chain, in a
    // collection of their own (same indexes): what a writer pays to catch
    // up after losing a race then depends on this chain only, not on how
    // much the ids above wrote.
    let shared = ChainId::new("three-writers").unwrap();
    let shared_config = LogConfig {
        events: "three_writers_events".into(),
        reports: "three_writers_integrityReports".into(),
        ..config.clone()
    };
    let writers: Vec<Arc<EventLog>> = (0..WRITERS)
        .map(|_| {
            let client = rt.block_on(Client::with_uri_str(&bench.uri)).unwrap();
            let db = client.database(bench.db.name());
            Arc::new(bench.log(&rt, &db, shared_config.clone()))
        })
        .collect();
    group.throughput(Throughput::Elements((WRITERS * WRITER_BATCH) as u64));
    group.bench_function(BenchmarkId::new("three_writers", WRITER_BATCH), |b| {
        b.iter_batched(
            || {
                (0..WRITERS)
                    .map(|_| drafts(&mut next_draft, WRITER_BATCH))
                    .collect::<Vec<_>>()
            },
            |batches| {
                rt.block_on(async {
                    let tasks: Vec<_> = writers
                        .iter()
                        .zip(batches)
                        .map(|(log, drafts)| {
                            let log = log.clone();
                            let chain = shared.clone();
                            tokio::spawn(async move { log.append_batch(&chain, drafts).await })
                        })
                        .collect();
                    for task in tasks {
                        let events = task.await.unwrap().unwrap();
                        assert_eq!(events.len(), WRITER_BATCH);
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    verify(&rt, &log, &single);
    verify(&rt, &raw_log, &single);
    verify(&rt, &writers[0], &shared);
    drop(writers);
    rt.block_on(bench.db.drop().into_future()).unwrap();
    drop(bench.client);
}

criterion_group!(benches, mongo_append);

fn main() {
    server::run_with_server("mongo_append", benches);
}
