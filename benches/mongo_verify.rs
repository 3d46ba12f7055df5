//! What online verification costs on MongoDB: [`EventLog::verify`] of one
//! chain against a bare cursor scan of the same documents.
//!
//! Needs a server: set `MONGODB_URI` (for example the FerretDB of
//! `scripts/mongo-server.sh`); without it the bench prints why and exits
//! without measuring anything. Each run works in a fresh database
//! (`bench_mongo_verify_<pid>`), dropped at the end.
//!
//! Group `mongo_verify`, over one chain of [`EVENTS`] events (three public
//! details and one sensitive detail of 256 bytes each, appended
//! beforehand):
//! - `online_verify/EVENTS`: `EventLog::verify(Some(chain))`: the stored
//!   shred and rotation records learned, every event fetched, decoded,
//!   its seal checked and placed, the quarantine read;
//! - `raw_scan/EVENTS`: the floor: a `find` of the same chain with the
//!   same sort and projection, every document received as raw BSON and
//!   dropped.
//!
//! Throughput in events (elements).
//!
//! `cargo bench --bench mongo_verify -- --warm-up-time 1 --measurement-time 5 --sample-size 10`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "server.rs"]
mod server;

use std::future::IntoFuture as _;
use stream_store::Timestamp;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use stream_store::chain::{ChainId, Chainer, EventDraft, SealSecret, SealSecrets, Status};
use stream_store::keyset::{Algorithm, Keyset, Template};
use stream_store::mongo::mongodb::bson::{doc, RawDocumentBuf};
use stream_store::mongo::mongodb::Client;
use stream_store::mongo::{verify_projection, EventLog, LogConfig};
use tokio::runtime::Runtime;

/// Events of the chain verified.
const EVENTS: usize = 5_000;
/// The seal secret.
const SEAL_SECRET: &str = "bench-seal-secret-of-32-chars...";

/// Draft number `i`: three public details and one sensitive detail.
fn draft(i: u64) -> EventDraft {
    EventDraft::new(
        "OCSP-SIGN",
        "ocsp",
        format!("stream-ocsp-{}", i % 3),
        Status::Success,
        Timestamp::from_millis(1_700_000_000_000 + i as i64),
    )
    .public("serial", format!("{i:016x}"))
    .public("profile", "tls-server")
    .public("issuer", "CN=Stream Issuing CA 1")
    .sensitive("subject", vec![0x5a; 256])
}

fn mongo_verify(c: &mut Criterion) {
    let Some(uri) = server::uri() else {
        return;
    };
    let rt = Runtime::new().unwrap();
    let client = rt.block_on(Client::with_uri_str(&uri)).unwrap();
    let db = client.database(&format!("bench_mongo_verify_{}", std::process::id()));
    rt.block_on(db.drop().into_future()).unwrap();
    let secrets = SealSecrets::new(SealSecret::from_env_value(SEAL_SECRET).unwrap());
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let chainer = Chainer::new(
        secrets,
        Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    let log = EventLog::new(&db, chainer, LogConfig::default());
    rt.block_on(log.ensure_indexes()).unwrap();
    let chain = ChainId::new("ocsp").unwrap();
    for start in (0..EVENTS as u64).step_by(1000) {
        let drafts: Vec<EventDraft> = (start..start + 1000).map(draft).collect();
        rt.block_on(log.append_batch(&chain, drafts)).unwrap();
    }
    let report = rt.block_on(log.verify(Some(&chain))).unwrap();
    assert!(report.is_ok(), "{:?}", report.first_error());
    assert_eq!(report.records, EVENTS as u64);

    let mut group = c.benchmark_group("mongo_verify");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function(BenchmarkId::new("online_verify", EVENTS), |b| {
        b.iter(|| {
            let report = rt.block_on(log.verify(Some(&chain))).unwrap();
            assert_eq!(report.records, EVENTS as u64);
            report
        })
    });
    let raw = log.collection().clone_with_type::<RawDocumentBuf>();
    group.bench_function(BenchmarkId::new("raw_scan", EVENTS), |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut cursor = raw
                    .find(doc! {"chain": chain.as_str()})
                    .sort(doc! {"chain": 1, "seq": 1})
                    .projection(verify_projection())
                    .await
                    .unwrap();
                let mut n = 0usize;
                while cursor.advance().await.unwrap() {
                    n += cursor.current().as_bytes().len().min(1);
                }
                assert_eq!(n, EVENTS);
                n
            })
        })
    });
    group.finish();
    rt.block_on(db.drop().into_future()).unwrap();
}

criterion_group!(benches, mongo_verify);

fn main() {
    server::run_with_server("mongo_verify", benches);
}
