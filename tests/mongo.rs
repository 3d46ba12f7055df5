//! Integration tests of the MongoDB repository against a real server
//! (see `common` for how it is found).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_store::Timestamp;
mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{chainer_with, keyset, now_ms, secrets, test_db};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use stream_store::chain::{
    ChainId, Chainer, EventDraft, FindingKind, ReportStatus, SealedEvent, Status,
};
use stream_store::keyset::{Algorithm, Template};
use stream_store::mongo::mongodb::bson::{doc, Bson, DateTime};
use stream_store::mongo::{EventLog, LogConfig, SealedDocuments, SearchQuery, Secure};

fn draft(i: u64, sensitive: bool) -> EventDraft {
    let mut d = EventDraft::new(
        if i.is_multiple_of(3) {
            "LIFECYCLE-ENROLL"
        } else {
            "LIFECYCLE-REVOKE"
        },
        if i.is_multiple_of(2) { "ca" } else { "ocsp" },
        format!("pod-{}", i % 3),
        if i.is_multiple_of(5) {
            Status::Failure
        } else {
            Status::Success
        },
        Timestamp::from_millis(1_700_000_000_000 + i as i64),
    )
    .public("serial", format!("{i:08x}"));
    if sensitive {
        d = d.sensitive("subject", format!("CN=user-{i}").into_bytes());
    }
    d
}

fn log_on(db: &stream_store::mongo::mongodb::Database, chainer: Chainer) -> EventLog {
    EventLog::new(db, chainer, LogConfig::default())
}

fn chain(name: &str) -> ChainId {
    ChainId::new(name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pods_append_to_one_chain_without_fork_or_loss() {
    let Some(t) = test_db("three_pods").await else {
        return;
    };
    let keyset = keyset();
    let c = chain("events");
    log_on(&t.db, chainer_with(&keyset))
        .ensure_indexes()
        .await
        .unwrap();
    let mut pods = Vec::new();
    for pod in 0..3u64 {
        let (_client, db) = t.other_client().await;
        let log = Arc::new(log_on(&db, chainer_with(&keyset)));
        let c = c.clone();
        pods.push(tokio::spawn(async move {
            // Each pod: 8 tasks appending concurrently, 2,000 events in all,
            // some one by one, some in small batches.
            let mut tasks = Vec::new();
            for task in 0..8u64 {
                let log = log.clone();
                let c = c.clone();
                tasks.push(tokio::spawn(async move {
                    let mut acked = Vec::new();
                    let mut i = 0;
                    while i < 250 {
                        let n = if task % 2 == 0 { 1 } else { 5 };
                        let drafts = (0..n)
                            .map(|k| draft(pod * 10_000 + task * 1000 + i + k, k == 0))
                            .collect();
                        acked.extend(log.append_batch(&c, drafts).await.expect("append"));
                        i += n;
                    }
                    acked
                }));
            }
            let mut acked = Vec::new();
            for task in tasks {
                acked.extend(task.await.unwrap());
            }
            acked
        }));
    }
    let mut acked: Vec<SealedEvent> = Vec::new();
    for pod in pods {
        acked.extend(pod.await.unwrap());
    }
    assert_eq!(acked.len(), 6000);
    let log = log_on(&t.db, chainer_with(&keyset));
    let stored = log
        .range(&c, 1, u64::MAX >> 2)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(stored.len(), 6000, "exactly 6,000 events");
    for (i, e) in stored.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "contiguous sequence numbers");
    }
    let by_seq: HashMap<u64, &SealedEvent> = stored.iter().map(|e| (e.seq, e)).collect();
    for a in &acked {
        let s = by_seq
            .get(&a.seq)
            .expect("every acknowledged event is stored");
        assert_eq!(
            s.seal, a.seal,
            "the stored event at {} is the acknowledged one",
            a.seq
        );
    }
    let report = log.verify(Some(&c)).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.records, 6000);
    t.drop().await;
}

#[tokio::test]
async fn a_document_changed_in_the_collection_is_reported_at_its_position() {
    let Some(t) = test_db("tamper").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("ca");
    log.append_batch(&c, (0..50).map(|i| draft(i, i % 7 == 0)).collect())
        .await
        .unwrap();
    assert!(log.verify(None).await.unwrap().is_ok());
    log.collection()
        .update_one(
            doc! {"chain": "ca", "seq": 17i64},
            doc! {"$set": {"code": "LIFECYCLE-FORGED"}},
        )
        .await
        .unwrap();
    log.collection()
        .delete_one(doc! {"chain": "ca", "seq": 30i64})
        .await
        .unwrap();
    let report = log.verify(None).await.unwrap();
    let kinds: Vec<(Option<u64>, FindingKind)> = report
        .findings
        .iter()
        .map(|f| (f.seq, f.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Some(17), FindingKind::Modified),
            (Some(30), FindingKind::Gap { to: 30 })
        ]
    );
    t.drop().await;
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct CaKey {
    name: String,
    pin: Secure<String>,
    backups: Vec<Backup>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Backup {
    location: String,
    passphrase: Secure<Vec<i32>>,
}

#[tokio::test]
async fn sealed_documents_store_only_the_secure_half() {
    let Some(t) = test_db("sealed_docs").await else {
        return;
    };
    let mut keyset = keyset();
    let envelope = Arc::new(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap());
    let repo: SealedDocuments<CaKey> = SealedDocuments::new(&t.db, "caKeys", envelope);
    let value = CaKey {
        name: "root".into(),
        pin: Secure::new("1234-5678".into()),
        backups: vec![Backup {
            location: "vault".into(),
            passphrase: Secure::new(vec![1, 2, 3]),
        }],
    };
    repo.put("root", &value).await.unwrap();
    repo.put("sub", &value).await.unwrap();
    let raw =
        t.db.collection::<stream_store::mongo::mongodb::bson::Document>("caKeys");
    let stored = raw.find_one(doc! {"_id": "root"}).await.unwrap().unwrap();
    let text = format!("{stored:?}");
    assert!(
        !text.contains("1234-5678") && !text.contains("clear"),
        "{text}"
    );
    let back = repo.get("root").await.unwrap().unwrap();
    assert_eq!(back.pin.clear.as_deref(), Some("1234-5678"));
    assert_eq!(back.backups[0].passphrase.clear, Some(vec![1, 2, 3]));
    // A ciphertext moved to another document fails to decrypt.
    let sub = raw.find_one(doc! {"_id": "sub"}).await.unwrap().unwrap();
    let moved = sub.get_document("pin").unwrap().clone();
    raw.update_one(doc! {"_id": "root"}, doc! {"$set": {"pin": moved}})
        .await
        .unwrap();
    assert!(repo.get("root").await.is_err());
    // A sealed field stored in clear, with a null or missing ciphertext,
    // or of an unknown version: tampered, naming the field; never a value.
    for (field, bad) in [
        ("pin", Bson::Document(doc! {"clear": "0000"})),
        ("pin", Bson::Document(doc! {"secure": Bson::Null})),
        ("pin", Bson::Document(doc! {"secure": "text", "v": 2})),
        ("backups.0.passphrase", Bson::Document(doc! {"clear": [9]})),
    ] {
        repo.put("root", &value).await.unwrap();
        raw.update_one(doc! {"_id": "root"}, doc! {"$set": {field: bad}})
            .await
            .unwrap();
        match repo.get("root").await {
            Err(stream_store::mongo::Error::Tampered { field: named, .. }) => {
                assert_eq!(named, field)
            }
            other => panic!("{field}: expected Tampered, got {other:?}"),
        }
    }
    repo.put("root", &value).await.unwrap();
    let mut stored = raw.find_one(doc! {"_id": "root"}).await.unwrap().unwrap();
    let mut unversioned = stored.get_document("pin").unwrap().clone();
    unversioned.insert("v", 7);
    raw.update_one(doc! {"_id": "root"}, doc! {"$set": {"pin": unversioned}})
        .await
        .unwrap();
    assert!(matches!(
        repo.get("root").await,
        Err(stream_store::mongo::Error::Tampered { .. })
    ));
    // The field removed, emptied, or replaced by a shape the reader does
    // not decrypt (an extra key, an array): an error, not a value.
    for update in [
        doc! {"$unset": {"pin": ""}},
        doc! {"$set": {"pin": {}}},
        doc! {"$set": {"pin": {"clear": "0000", "x": 1}}},
        doc! {"$set": {"pin": ["0000"]}},
    ] {
        repo.put("root", &value).await.unwrap();
        raw.update_one(doc! {"_id": "root"}, update).await.unwrap();
        assert!(repo.get("root").await.is_err());
    }
    // The same document copied into another database that shares the
    // keyset does not decrypt there: the database is bound too.
    repo.put("root", &value).await.unwrap();
    stored = raw.find_one(doc! {"_id": "root"}).await.unwrap().unwrap();
    let other = t.db.client().database(&format!("{}_copy", t.db.name()));
    other
        .collection::<stream_store::mongo::mongodb::bson::Document>("caKeys")
        .insert_one(stored)
        .await
        .unwrap();
    let copied: SealedDocuments<CaKey> = SealedDocuments::new(
        &other,
        "caKeys",
        Arc::new(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    assert!(copied.get("root").await.is_err(), "bound to its database");
    // Restored under another name: bound to the name it was written in,
    // it reads again.
    let restored = copied.bound_to(t.db.name());
    assert_eq!(
        restored.get("root").await.unwrap(),
        Some(repo.get("root").await.unwrap().unwrap())
    );
    other.drop().await.unwrap();
    // Rotation re-wraps, idempotently; the value still reads.
    repo.put("root", &value).await.unwrap();
    let old = keyset.primary_id();
    let new = keyset.add(Template::AES256_GCM_SIV);
    keyset.promote(new).unwrap();
    let rotated: SealedDocuments<CaKey> = SealedDocuments::new(
        &t.db,
        "caKeys",
        Arc::new(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    assert_eq!(rotated.rewrap_all().await.unwrap(), 2);
    assert_eq!(rotated.rewrap_all().await.unwrap(), 0);
    keyset.disable(old).unwrap();
    let after: SealedDocuments<CaKey> = SealedDocuments::new(
        &t.db,
        "caKeys",
        Arc::new(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    assert_eq!(
        after
            .get("root")
            .await
            .unwrap()
            .unwrap()
            .pin
            .clear
            .as_deref(),
        Some("1234-5678")
    );
    t.drop().await;
}

#[tokio::test]
async fn integrity_reports_are_sealed_and_rechecked_when_read() {
    let Some(t) = test_db("reports").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("ca");
    log.append_batch(&c, (0..40).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    let first = log.report_since_last(&c, now_ms()).await.unwrap().unwrap();
    assert_eq!(
        (first.from_seq, first.to_seq, first.events, first.status),
        (1, 40, 40, ReportStatus::Verified)
    );
    log.append_batch(&c, (40..60).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    let second = log.report_since_last(&c, now_ms()).await.unwrap().unwrap();
    assert_eq!(
        (second.from_seq, second.to_seq, second.events, second.status),
        (41, 60, 20, ReportStatus::Verified)
    );
    // An event changed after the first report: the next report fails.
    log.append_batch(&c, (60..70).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    log.collection()
        .update_one(
            doc! {"chain": "ca", "seq": 65i64},
            doc! {"$set": {"node": "elsewhere"}},
        )
        .await
        .unwrap();
    let third = log.report_since_last(&c, now_ms()).await.unwrap().unwrap();
    assert_eq!(third.status, ReportStatus::EventIntegrityFailure);
    assert!(
        third.first_error.as_deref().unwrap().contains("ca#65"),
        "{:?}",
        third.first_error
    );
    // A tampered stored report reads as reportIntegrityFailure.
    let reports =
        t.db.collection::<stream_store::mongo::mongodb::bson::Document>("integrityReports");
    reports
        .update_one(doc! {"toSeq": 40i64}, doc! {"$set": {"events": 41i64}})
        .await
        .unwrap();
    let read = log.reports_of(&c, 10).await.unwrap();
    let statuses: Vec<(u64, ReportStatus)> = read.iter().map(|(r, s)| (r.to_seq, *s)).collect();
    assert_eq!(
        statuses,
        vec![
            (70, ReportStatus::EventIntegrityFailure),
            (60, ReportStatus::Verified),
            (40, ReportStatus::ReportIntegrityFailure)
        ]
    );
    t.drop().await;
}

#[tokio::test]
async fn retention_purges_oldest_first_and_the_chain_still_verifies() {
    let Some(t) = test_db("retention").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("ocsp");
    let now = now_ms();
    let drafts = (0..60u64)
        .map(|i| {
            let expired = i < 25 || i == 40; // 40 expires but is not in the oldest prefix
            draft(i, i % 10 == 0).remove_at(Timestamp::from_millis(if expired {
                now - 1000
            } else {
                now + 86_400_000
            }))
        })
        .collect();
    log.append_batch(&c, drafts).await.unwrap();
    let outcome = log.purge_expired(&c, now).await.unwrap();
    assert_eq!((outcome.deleted, outcome.first_kept), (25, Some(26)));
    let report = log.verify(Some(&c)).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.chains[0].first_seq, Some(26));
    assert!(
        log.get(&c, 41).await.unwrap().is_some(),
        "not oldest-first: kept"
    );
    // Idempotent.
    assert_eq!(log.purge_expired(&c, now).await.unwrap().deleted, 0);
    // Appending continues; a deletion beyond the anchor is still caught.
    log.append(&c, draft(100, false)).await.unwrap();
    log.collection()
        .delete_one(doc! {"chain": "ocsp", "seq": 27i64})
        .await
        .unwrap();
    let report = log.verify(Some(&c)).await.unwrap();
    assert_eq!(
        report.first_error().map(|f| (f.seq, f.kind.clone())),
        Some((Some(27), FindingKind::Gap { to: 27 }))
    );
    // Deleting the anchored event itself: the chain now starts neither at
    // genesis nor at an anchor.
    log.collection()
        .delete_one(doc! {"chain": "ocsp", "seq": 26i64})
        .await
        .unwrap();
    let report = log.verify(Some(&c)).await.unwrap();
    assert_eq!(
        report.first_error().map(|f| f.kind.clone()),
        Some(FindingKind::Gap { to: 27 })
    );
    t.drop().await;
}

#[tokio::test]
async fn an_interrupted_purge_leaves_a_chain_that_verifies() {
    let Some(t) = test_db("purge_interrupted").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("tsa");
    let now = now_ms();
    log.append_batch(
        &c,
        (0..30u64)
            .map(|i| {
                draft(i, false).remove_at(Timestamp::from_millis(if i < 20 {
                    now - 1
                } else {
                    now + 10_000
                }))
            })
            .collect(),
    )
    .await
    .unwrap();
    // The purge wrote its anchor on 21 and deleted 1..=7, then stopped.
    let keep = log.get(&c, 21).await.unwrap().unwrap();
    let anchor = stream_store::chain::Anchor::new(&keep, now, log.chainer().secrets().current());
    log.collection()
        .update_one(
            doc! {"chain": "tsa", "seq": 21i64},
            doc! {"$set": {"anchor": stream_store::mongo::codec::anchor_to_document(&anchor)}},
        )
        .await
        .unwrap();
    log.collection()
        .delete_many(doc! {"chain": "tsa", "seq": {"$lte": 7i64}})
        .await
        .unwrap();
    let report = log.verify(Some(&c)).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    // Resuming the purge finishes the job.
    assert_eq!(log.purge_expired(&c, now).await.unwrap().deleted, 13);
    assert!(log.verify(Some(&c)).await.unwrap().is_ok());
    t.drop().await;
}

#[tokio::test]
async fn keyset_rotation_rewraps_every_data_key_and_the_chain_verifies() {
    let Some(t) = test_db("rotation").await else {
        return;
    };
    let mut keyset = keyset();
    let log = log_on(&t.db, chainer_with(&keyset));
    log.ensure_indexes().await.unwrap();
    let c = chain("ssh");
    let events = log
        .append_batch(&c, (0..30).map(|i| draft(i, true)).collect())
        .await
        .unwrap();
    let old = keyset.primary_id();
    let new = keyset.add(Template::AES256_GCM_SIV);
    keyset.promote(new).unwrap();
    log.set_chainer(chainer_with(&keyset));
    let mut seen = Vec::new();
    let progress = log.rewrap_events(|p| seen.push(p.clone())).await.unwrap();
    assert_eq!((progress.examined, progress.rewrapped), (30, 30));
    assert!(!seen.is_empty());
    assert_eq!(
        log.rewrap_events(|_| {}).await.unwrap().rewrapped,
        0,
        "idempotent"
    );
    keyset.disable(old).unwrap();
    let reader = chainer_with(&keyset);
    for e in &events {
        let stored = log.get(&c, e.seq).await.unwrap().unwrap();
        assert_eq!(stored.seal, e.seal);
        let subject = reader.open_detail(&stored, "subject").unwrap();
        assert!(String::from_utf8(subject).unwrap().starts_with("CN=user-"));
    }
    assert!(log.verify(None).await.unwrap().is_ok());
    t.drop().await;
}

#[tokio::test]
async fn search_filters_sorts_pages_and_counts() {
    let Some(t) = test_db("search").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    log.append_batch(&chain("a"), (0..30).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    log.append_batch(&chain("b"), (30..45).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    let first = SearchQuery {
        page_size: 10,
        ..Default::default()
    };
    let all = log.search_page(&first, None).await.unwrap();
    assert_eq!(log.count(&first).await.unwrap(), 45);
    assert_eq!(all.events.len(), 10);
    assert!(all
        .events
        .windows(2)
        .all(|w| w[0].timestamp_ms >= w[1].timestamp_ms));
    let q = SearchQuery {
        code: Some("LIFECYCLE-ENROLL".into()),
        module: Some("ca".into()),
        ..Default::default()
    };
    assert_eq!(
        log.count(&q).await.unwrap(),
        (0..45).filter(|i| i % 3 == 0 && i % 2 == 0).count() as u64
    );
    let q = SearchQuery {
        status: Some(Status::Failure),
        chain: Some("b".into()),
        ..Default::default()
    };
    assert_eq!(
        log.count(&q).await.unwrap(),
        (30..45).filter(|i| i % 5 == 0).count() as u64
    );
    let q = SearchQuery {
        node: Some("pod-1".into()),
        from: Some(Timestamp::from_millis(1_700_000_000_010)),
        to: Some(Timestamp::from_millis(1_700_000_000_020)),
        oldest_first: true,
        ..Default::default()
    };
    let page = log.search_page(&q, None).await.unwrap();
    let serials: Vec<i64> = page
        .events
        .iter()
        .map(|e| e.timestamp_ms - 1_700_000_000_000)
        .collect();
    assert_eq!(serials, vec![10, 13, 16, 19]);
    let q = SearchQuery {
        detail: Some(("serial".into(), format!("{:08x}", 33))),
        ..Default::default()
    };
    let page = log.search_page(&q, None).await.unwrap();
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4]
    );
    // Pages by cursor: 45 = 4 x 10 + 5, none skipped or repeated.
    let q = SearchQuery {
        oldest_first: true,
        page_size: 10,
        ..Default::default()
    };
    let (mut cursor, mut seen, mut sizes) = (None, Vec::new(), Vec::new());
    loop {
        let page = log.search_page(&q, cursor.as_ref()).await.unwrap();
        sizes.push(page.events.len());
        seen.extend(page.events.iter().map(|e| (e.chain.to_string(), e.seq)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 10, 10, 5]);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 45);
    t.drop().await;
}

/// `terms`, the search helper, is no seal's: an attacker who adds a term
/// to a document makes the index find it, but the search checks every
/// event against the query before returning it (issue 11).
#[tokio::test]
async fn search_results_are_checked_against_the_query() {
    let Some(t) = test_db("search_terms").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    log.append_batch(&chain("a"), (0..6).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    // Event 2 (serial 1) now also claims serial 3, and so does event 5.
    let lie = format!("{}:serial={:08x}", "serial".len(), 3);
    let stored =
        t.db.collection::<stream_store::mongo::mongodb::bson::Document>("events");
    let changed = stored
        .update_many(
            doc! {"chain": "a", "seq": {"$in": [2_i64, 5_i64]}},
            doc! {"$push": {"terms": &lie}},
        )
        .await
        .unwrap();
    assert_eq!(changed.modified_count, 2);
    let q = SearchQuery {
        detail: Some(("serial".into(), format!("{:08x}", 3))),
        page_size: 1,
        ..Default::default()
    };
    // The index finds three documents; only the event of serial 3 (seq 4)
    // is returned, over as many pages as the index needs.
    assert_eq!(log.count(&q).await.unwrap(), 3);
    let (mut cursor, mut seen) = (None, Vec::new());
    loop {
        let page = log.search_page(&q, cursor.as_ref()).await.unwrap();
        seen.extend(page.events.iter().map(|e| e.seq));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec![4]);
    t.drop().await;
}

#[tokio::test]
async fn bad_input_gives_typed_errors() {
    let err = stream_store::mongo::connect("not-a-uri").await.unwrap_err();
    assert!(
        matches!(err, stream_store::mongo::Error::InvalidUri(_)),
        "{err}"
    );
    // An unreachable server: a closed port, a short selection timeout.
    let (_client, db) =
        stream_store::mongo::connect("mongodb://127.0.0.1:9/stream?serverSelectionTimeoutMS=300")
            .await
            .unwrap();
    let log = log_on(&db, chainer_with(&keyset()));
    let err = log.append(&chain("x"), draft(1, false)).await.unwrap_err();
    assert!(
        matches!(
            err,
            stream_store::mongo::Error::Unavailable {
                outcome: stream_store::mongo::Outcome::NotWritten,
                ..
            }
        ),
        "{err}"
    );

    let Some(t) = test_db("bad_input").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("ca");
    log.append_batch(&c, (0..5).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    // Someone else writes sequence number 6 with something that is not an event.
    log.collection()
        .insert_one(doc! {"chain": "ca", "seq": 6i64, "timestamp": DateTime::now(), "oops": true})
        .await
        .unwrap();
    let err = log.append(&c, draft(6, false)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            stream_store::mongo::Error::HeadRejected { seq: 6, chain, .. } if chain == "ca"
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("quarantine"),
        "says what to do: {err}"
    );
    let report = log.verify(Some(&c)).await.unwrap();
    assert!(matches!(
        report.first_error().map(|f| (&f.kind, f.seq)),
        Some((FindingKind::Malformed(_), Some(6)))
    ));
    // An authentic event is never quarantined; an empty position neither.
    let refused = log.quarantine(&c, 5, "test").await.unwrap_err();
    assert!(
        matches!(
            refused,
            stream_store::mongo::Error::NotQuarantinable { seq: 5, .. }
        ),
        "{refused}"
    );
    let refused = log.quarantine(&c, 60, "test").await.unwrap_err();
    assert!(
        matches!(
            refused,
            stream_store::mongo::Error::NotQuarantinable { seq: 60, .. }
        ),
        "{refused}"
    );
    // The way out: move the foreign record aside; the chain continues from
    // its last authentic event, and verification still reports it.
    log.quarantine(&c, 6, "foreign record, ticket 42")
        .await
        .unwrap();
    let sixth = log.append(&c, draft(6, false)).await.unwrap();
    assert_eq!(sixth.seq, 6);
    let report = log.verify(Some(&c)).await.unwrap();
    assert_eq!(report.errors, 1, "{report:?}");
    assert!(matches!(
        report.first_error().map(|f| (&f.kind, f.seq)),
        Some((FindingKind::Malformed(why), Some(6))) if why.contains("quarantined")
    ));
    // A draft that cannot be sealed (sensitive, no keyset) fails alone.
    let plain = log_on(&t.db, Chainer::new(secrets(), None));
    let other = chain("other");
    let err = plain.append(&other, draft(1, true)).await.unwrap_err();
    assert!(matches!(err, stream_store::mongo::Error::Chain(_)), "{err}");
    assert_eq!(plain.head(&other).await.unwrap(), None, "nothing written");
    let ids: Vec<Bson> = log
        .collection()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.get("seq").cloned().unwrap())
        .collect();
    assert_eq!(ids.len(), 6);
    t.drop().await;
}

#[tokio::test]
async fn ensure_indexes_is_idempotent_and_a_second_client_sees_the_same_head() {
    let Some(t) = test_db("indexes").await else {
        return;
    };
    let keyset = keyset();
    let log = log_on(&t.db, chainer_with(&keyset));
    log.ensure_indexes().await.unwrap();
    log.ensure_indexes().await.unwrap();
    let c = chain("ca");
    log.append_batch(&c, (0..3).map(|i| draft(i, true)).collect())
        .await
        .unwrap();
    let (_client, db) = t.other_client().await;
    let other = log_on(&db, chainer_with(&keyset));
    let e = other.append(&c, draft(3, true)).await.unwrap();
    assert_eq!(e.seq, 4);
    // The first log's cached head is stale: it recovers through the unique index.
    let e = log.append(&c, draft(4, true)).await.unwrap();
    assert_eq!(e.seq, 5);
    assert!(log.verify(None).await.unwrap().is_ok());
    t.drop().await;
}

#[tokio::test]
async fn a_purge_trusts_only_sealed_data() {
    let Some(t) = test_db("purge_forged").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("ca");
    let now = now_ms();
    log.append_batch(
        &c,
        (0..20u64)
            .map(|i| {
                draft(i, false).remove_at(Timestamp::from_millis(if i < 5 {
                    now - 1
                } else {
                    now + 60_000
                }))
            })
            .collect(),
    )
    .await
    .unwrap();
    // A writer moves `removeAt` of unexpired events into the past.
    log.collection()
        .update_many(
            doc! {"chain": "ca", "seq": {"$lte": 12i64}}, // 1..=5 keep their value
            doc! {"$set": {"removeAt": DateTime::from_millis(now - 1)}},
        )
        .await
        .unwrap();
    let err = log.purge_expired(&c, now).await.unwrap_err();
    assert!(
        matches!(
            &err,
            stream_store::mongo::Error::Chain(stream_store::chain::Error::PurgeRefused {
                seq: 6,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(
        log.range(&c, 1, 20)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        20,
        "nothing deleted"
    );
    t.drop().await;

    // Deleting the first unexpired event does not get covered by an anchor.
    let Some(t) = test_db("purge_gap").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.append_batch(
        &c,
        (0..20u64)
            .map(|i| {
                draft(i, false).remove_at(Timestamp::from_millis(if i < 5 {
                    now - 1
                } else {
                    now + 60_000
                }))
            })
            .collect(),
    )
    .await
    .unwrap();
    log.collection()
        .delete_one(doc! {"chain": "ca", "seq": 6i64})
        .await
        .unwrap();
    let err = log.purge_expired(&c, now).await.unwrap_err();
    assert!(
        matches!(
            &err,
            stream_store::mongo::Error::Chain(stream_store::chain::Error::PurgeRefused {
                seq: 7,
                ..
            })
        ),
        "{err}"
    );
    t.drop().await;
}

#[tokio::test]
async fn reports_are_not_fooled_by_a_forged_report_or_a_deleted_tail() {
    let Some(t) = test_db("reports_forged").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    let c = chain("ca");
    log.append_batch(&c, (0..10).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    log.report_since_last(&c, now_ms()).await.unwrap().unwrap();
    // A forged report claiming everything up to 1,000,000 was verified.
    let reports =
        t.db.collection::<stream_store::mongo::mongodb::bson::Document>("integrityReports");
    let mut forged = reports.find_one(doc! {}).await.unwrap().unwrap();
    forged.remove("_id");
    forged.insert("toSeq", 1_000_000i64);
    reports.insert_one(forged).await.unwrap();
    log.append_batch(&c, (10..15).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    let next = log.report_since_last(&c, now_ms()).await.unwrap().unwrap();
    assert_eq!(
        (next.from_seq, next.to_seq, next.status),
        (11, 15, ReportStatus::Verified)
    );
    // The tail after the last report is deleted: the next report fails.
    log.collection()
        .delete_many(doc! {"chain": "ca", "seq": {"$gte": 13i64}})
        .await
        .unwrap();
    let next = log.report_since_last(&c, now_ms()).await.unwrap().unwrap();
    assert_eq!(next.status, ReportStatus::EventIntegrityFailure, "{next:?}");
    t.drop().await;
}

#[tokio::test]
async fn a_head_hint_that_lies_costs_a_retry_never_a_fork_or_a_gap() {
    let Some(t) = test_db("lying_hint").await else {
        return;
    };
    let keyset = keyset();
    let c = chain("ca");
    let log = log_on(&t.db, chainer_with(&keyset));
    log.ensure_indexes().await.unwrap();
    let first = log
        .append_batch(&c, (0..3).map(|i| draft(i, false)).collect())
        .await
        .unwrap();
    let heads =
        t.db.collection::<stream_store::mongo::mongodb::bson::Document>("chainHeads");
    let stale = stream_store::mongo::codec::event_to_document(&first[0]);
    let mut forged = stream_store::mongo::codec::event_to_document(&first[2]);
    forged.insert("seq", 1_000_i64);
    forged.insert("_id", "2:ca#1000");
    for (what, hint) in [("stale", stale), ("forged", forged)] {
        heads
            .update_one(
                doc! {"_id": "ca"},
                doc! {"$set": {"head": hint, "owner": Bson::Null}, "$inc": {"version": 1_i64}},
            )
            .await
            .unwrap();
        // A new process: it knows nothing but what is stored.
        let pod = log_on(&t.db, chainer_with(&keyset));
        let next = pod.append(&c, draft(9, false)).await.unwrap();
        let report = pod.verify(Some(&c)).await.unwrap();
        assert!(report.is_ok(), "{what} hint: {:?}", report.findings);
        assert_eq!(report.chains[0].last_seq, Some(next.seq), "{what} hint");
        assert_eq!(report.chains[0].events, next.seq, "{what} hint: contiguous");
    }
    t.drop().await;
}

#[tokio::test]
async fn a_duplicate_on_another_unique_index_is_an_error_not_a_lost_race() {
    let Some(t) = test_db("other_index").await else {
        return;
    };
    let log = log_on(&t.db, chainer_with(&keyset()));
    log.ensure_indexes().await.unwrap();
    // An operator's unique index on `node`: the second event of a node clashes.
    log.collection()
        .create_index(
            stream_store::mongo::mongodb::IndexModel::builder()
                .keys(doc! {"node": 1})
                .options(
                    stream_store::mongo::mongodb::options::IndexOptions::builder()
                        .unique(true)
                        .name("node_unique".to_owned())
                        .build(),
                )
                .build(),
        )
        .await
        .unwrap();
    let c = chain("ca");
    log.append(&c, draft(0, false)).await.unwrap();
    // draft(3) has the node of draft(0).
    let err = log.append(&c, draft(3, false)).await.unwrap_err();
    assert!(
        matches!(err, stream_store::mongo::Error::Database(_)),
        "a typed database error, not contention: {err}"
    );
    assert_eq!(log.append_stats().conflicts, 0, "not taken for a race");
    assert_eq!(log.head(&c).await.unwrap().map(|e| e.seq), Some(1));
    t.drop().await;
}

#[tokio::test]
async fn three_processes_create_the_indexes_of_an_empty_database_at_once() {
    let Some(t) = test_db("concurrent_indexes").await else {
        return;
    };
    let keyset = keyset();
    let mut starts = Vec::new();
    for _ in 0..3 {
        let (_client, db) = t.other_client().await;
        let log = log_on(&db, chainer_with(&keyset));
        starts.push(tokio::spawn(async move { log.ensure_indexes().await }));
    }
    for start in starts {
        start
            .await
            .unwrap()
            .expect("ensure_indexes on an empty database");
    }
    let names =
        t.db.collection::<stream_store::mongo::mongodb::bson::Document>("events")
            .list_index_names()
            .await
            .unwrap();
    assert!(names.contains(&"chain_seq".to_owned()), "{names:?}");
    t.drop().await;
}

#[tokio::test]
async fn an_unreachable_server_fails_within_the_selection_timeout_naming_the_host() {
    let config = LogConfig {
        server_selection_timeout: std::time::Duration::from_millis(500),
        ..LogConfig::default()
    };
    let started = std::time::Instant::now();
    let err = common::mongo_store(
        "mongodb://auditor:hunter2-secret@127.0.0.1:9/stream",
        None,
        secrets(),
        config,
    )
    .await
    .unwrap_err();
    let waited = started.elapsed();
    let text = err.to_string();
    assert!(
        matches!(
            common::mongo_error(&err),
            Some(stream_store::mongo::Error::Unreachable { .. })
        ),
        "{text}"
    );
    assert_eq!(err.kind(), stream_store::ErrorKind::Unavailable);
    assert!(
        err.driver_error().is_some(),
        "the driver's error is reachable"
    );
    assert!(text.contains("127.0.0.1:9"), "names the host: {text}");
    assert!(!text.contains("hunter2"), "never the password: {text}");
    // The selection timeout, not the driver's default of 30 s twice over.
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
}
