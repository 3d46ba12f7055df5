//! The conformance suite of the `EventStore` facade, run against the
//! in-memory log and against MongoDB (through the harness in `common`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_store::Timestamp;
mod common;

use futures_util::TryStreamExt as _;

use common::{keyset, now_ms, secrets, test_db};
use stream_store::chain::{EventDraft, FindingKind, ReportStatus, SealSecret, Status};
use stream_store::keyset::{Keyset, Template};
use stream_store::{
    ErrorKind, EventStore, LogConfig, ReadValue, SearchCursor, SearchQuery, Secure, MAX_PAGE_SIZE,
};

fn draft(i: u64) -> EventDraft {
    EventDraft::new(
        if i.is_multiple_of(2) {
            "LIFECYCLE-ENROLL"
        } else {
            "OCSP-RESPONSE"
        },
        "ca",
        "pod-0",
        if i.is_multiple_of(7) {
            Status::Failure
        } else {
            Status::Success
        },
        Timestamp::from_millis(1_700_000_000_000 + i as i64),
    )
    .public("serial", format!("{i:x}"))
    .sensitive("subject", format!("CN=user-{i}").into_bytes())
}

/// Everything a server does with the store, on any backend.
async fn conformance(store: EventStore, keyset_json: &str) {
    // Append one and a batch; read back decrypted.
    let first = store.append("ca", draft(0)).await.unwrap();
    assert_eq!(first.seq, 1);
    let batch = store
        .append_batch("ca", (1..40).map(draft).collect())
        .await
        .unwrap();
    assert_eq!(batch.last().unwrap().seq, 40);
    store
        .append_batch("ocsp", (0..10).map(draft).collect())
        .await
        .unwrap();
    let read = store.read("ca", 7).await.unwrap().unwrap();
    assert_eq!(
        read.details[0],
        ("serial".into(), ReadValue::Public("6".into()))
    );
    assert!(matches!(&read.details[1].1, ReadValue::Decrypted(v) if v.as_slice() == b"CN=user-6"));
    assert!(store.read("ca", 41).await.unwrap().is_none());

    // Search: streamed, paged by cursor, counted apart.
    let q = SearchQuery {
        chain: Some("ca".into()),
        code: Some("OCSP-RESPONSE".into()),
        page_size: 6,
        ..Default::default()
    };
    assert_eq!(store.count(&q).await.unwrap(), 20);
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.search_page(&q, cursor.as_ref()).await.unwrap();
        assert!(page.events.len() <= 6);
        pages.push(page.events.iter().map(|e| e.seq).collect::<Vec<_>>());
        // Appended meanwhile (newer, so before the cursor): never shown.
        store.append("ca", draft(1001)).await.unwrap();
        match page.next {
            // The cursor goes through text (a web client) and back.
            Some(next) => cursor = Some(SearchCursor::parse(&next.to_string()).unwrap()),
            None => break,
        }
    }
    let paged: Vec<u64> = pages.concat();
    let expected: Vec<u64> = (1..=40).rev().filter(|s| s % 2 == 0).collect();
    assert_eq!(
        paged, expected,
        "newest first, no event skipped or repeated"
    );
    assert_eq!(pages.len(), 4, "6 + 6 + 6 + 2");
    let streamed: Vec<u64> = store
        .search(q.clone())
        .map_ok(|e| e.seq)
        .try_collect()
        .await
        .unwrap();
    // A new search sees the four appended while paging, newest first.
    let mut with_new = vec![44, 43, 42, 41];
    with_new.extend(&expected);
    assert_eq!(streamed, with_new);
    let q2 = SearchQuery {
        detail: Some(("serial".into(), "a".into())),
        oldest_first: true,
        ..Default::default()
    };
    let found: Vec<(String, u64)> = store
        .search(q2.clone())
        .map_ok(|e| (e.chain.to_string(), e.seq))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found, vec![("ca".to_string(), 11)]);
    // Bad queries and cursors: typed, invalid input.
    let first_page = store.search_page(&q, None).await.unwrap();
    let foreign = first_page.next.unwrap();
    for (bad, cursor) in [
        (
            SearchQuery {
                page_size: 0,
                ..q.clone()
            },
            None,
        ),
        (
            SearchQuery {
                page_size: MAX_PAGE_SIZE + 1,
                ..q.clone()
            },
            None,
        ),
        (
            SearchQuery {
                from: Some(Timestamp::from_millis(10)),
                to: Some(Timestamp::from_millis(10)),
                ..q.clone()
            },
            None,
        ),
        (q2.clone(), Some(&foreign)),
    ] {
        let e = store.search_page(&bad, cursor).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert!(SearchCursor::parse("not a cursor").is_err());
    let mut chains = store.chains().await.unwrap();
    chains.sort();
    assert_eq!(
        chains.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["ca", "ocsp"]
    );
    let ranged: Vec<u64> = store
        .range("ca", 5, 9)
        .map_ok(|e| e.seq)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ranged, [5, 6, 7, 8, 9]);

    // Idempotent appends: an event id stored returns the stored event; a
    // different event under the same id is a conflict; nothing is stored
    // twice, also within one batch.
    let head = store.append("ca", draft(0)).await.unwrap().seq;
    let once = store
        .append("ca", draft(500).with_event_id("req-500"))
        .await
        .unwrap();
    assert_eq!(once.seq, head + 1);
    assert_eq!(once.event_id.as_deref(), Some("req-500"));
    let again = store
        .append("ca", draft(500).with_event_id("req-500"))
        .await
        .unwrap();
    assert_eq!((again.seq, again.seal), (once.seq, once.seal));
    let e = store
        .append("ca", draft(501).with_event_id("req-500"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(!e.is_retryable());
    let batch = store
        .append_batch(
            "ca",
            vec![
                draft(502).with_event_id("req-502"),
                draft(500).with_event_id("req-500"),
                draft(502).with_event_id("req-502"),
                draft(503),
            ],
        )
        .await
        .unwrap();
    let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [head + 2, head + 1, head + 2, head + 3]);
    let e = store
        .append("ca", draft(504).with_event_id("bad id"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // The events after were sealed again where the stored one would have been.
    assert!(store.verify(Some("ca")).await.unwrap().is_ok());
    let head_after = store.append("ca", draft(505)).await.unwrap().seq;
    assert_eq!(head_after, head + 4, "no position taken by a refused draft");
    // One id for two different events in one batch: refused, nothing stored.
    let e = store
        .append_batch(
            "ids",
            vec![
                draft(1).with_event_id("twice"),
                draft(2).with_event_id("twice"),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(store.read("ids", 1).await.unwrap().is_none());
    // A batch whose id names another stored event: a conflict, never
    // "nothing stored" when something was, never retryable.
    let e = store
        .append_batch("ca", vec![draft(600), draft(601).with_event_id("req-500")])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(!e.is_retryable());
    let written = store.read("ca", head + 5).await.unwrap().is_some();
    assert_eq!(
        written,
        e.outcome() == Some(stream_store::Outcome::Unknown),
        "the outcome says whether the first draft was stored: {e}"
    );
    // A retried batch whose ids are all stored returns them, at once.
    let many: Vec<_> = (0..300)
        .map(|i| draft(700 + i).with_event_id(format!("bulk-{i}")))
        .collect();
    let first_time = store.append_batch("bulk", many.clone()).await.unwrap();
    let again = store.append_batch("bulk", many).await.unwrap();
    assert_eq!(
        first_time.iter().map(|e| e.seq).collect::<Vec<_>>(),
        again.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
    assert!(store.read("bulk", 301).await.unwrap().is_none());
    let ca_head = store.append("ca", draft(602)).await.unwrap().seq;

    // Sealed documents, from the same handle.
    let keys = store.documents::<CaKey>("caKeys");
    let root = CaKey {
        name: "root".into(),
        private_key: Secure::new("-----BEGIN PRIVATE KEY----- root".into()),
        chain: vec![Secure::new(vec![1, 2, 3])],
    };
    keys.put("root", &root).await.unwrap();
    assert_eq!(keys.get("root").await.unwrap().as_ref(), Some(&root));
    assert!(keys.get("nobody").await.unwrap().is_none());

    // Verify, checkpoint, verify against it.
    assert!(store.verify(None).await.unwrap().is_ok());
    let checkpoint = store.checkpoint("ca").await.unwrap().unwrap();
    assert_eq!(checkpoint.seq, ca_head);
    store.append("ca", draft(40)).await.unwrap();
    assert!(store
        .verify_against(checkpoint.clone())
        .await
        .unwrap()
        .is_ok());

    // Integrity reports.
    let report = store
        .integrity_report("ca", common::at(now_ms()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.from_seq, report.to_seq, report.status),
        (1, ca_head + 1, ReportStatus::Verified)
    );
    assert!(
        store
            .integrity_report("ca", common::at(now_ms()))
            .await
            .unwrap()
            .is_none(),
        "nothing new"
    );
    store.append("ca", draft(41)).await.unwrap();
    let report = store
        .integrity_report("ca", common::at(now_ms()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.from_seq, report.to_seq), (ca_head + 2, ca_head + 2));
    let reports = store.reports("ca").try_collect::<Vec<_>>().await.unwrap();
    assert_eq!(
        reports
            .iter()
            .map(|(r, s)| (r.to_seq, *s))
            .collect::<Vec<_>>(),
        vec![
            (ca_head + 2, ReportStatus::Verified),
            (ca_head + 1, ReportStatus::Verified)
        ]
    );

    // Seal secret rotation continues the chain.
    store
        .rotate_seal_secret(SealSecret::from_env_value("a-brand-new-seal-secret-of-32-ch").unwrap())
        .unwrap();
    store
        .append_batch("ca", (42..50).map(draft).collect())
        .await
        .unwrap();
    assert!(store.verify(None).await.unwrap().is_ok());

    // Keyset rotation: add a key, promote it, re-wrap; then with the old
    // key disabled everything still reads, and a second run does nothing.
    let before = store.read("ca", 3).await.unwrap().unwrap();
    let mut rotated = Keyset::parse(keyset_json.as_bytes()).unwrap();
    let old = rotated.primary_id();
    let new = rotated.add(Template::AES256_GCM_SIV);
    let mut retired = Keyset::parse(rotated.insecure_to_json().as_bytes()).unwrap();
    // In steps: install (the new key not yet primary), promote, re-wrap.
    store.install_keyset(rotated).unwrap();
    store.promote_key(new).unwrap();
    let mut calls = 0;
    let progress = store.rewrap_keys(|_| calls += 1).await.unwrap();
    assert!(calls >= 1, "progress is reported");
    // The events holding a data key (not the rotation record the
    // seal-secret rotation wrote).
    assert_eq!(
        (progress.examined, progress.rewrapped),
        (ca_head + 320, ca_head + 320),
        "{progress:?}"
    );
    assert!(
        store
            .install_keyset(Keyset::generate(Template::AES256_GCM_SIV))
            .is_err(),
        "a keyset without the current primary is refused"
    );
    assert_eq!(
        store.rewrap_keys(|_| {}).await.unwrap().rewrapped,
        0,
        "idempotent"
    );
    assert_eq!(keys.rewrap_all().await.unwrap(), 1);
    assert_eq!(keys.rewrap_all().await.unwrap(), 0, "idempotent");
    // The old key disabled: everything still reads.
    retired.promote(new).unwrap();
    retired.disable(old).unwrap();
    store.install_keyset(retired).unwrap();
    let after = store.read("ca", 3).await.unwrap().unwrap();
    assert_eq!(before.details, after.details);
    // Sealed documents followed the keyset without a new handle.
    assert_eq!(keys.get("root").await.unwrap().as_ref(), Some(&root));
    assert_eq!(before.event.seal, after.event.seal);
    assert!(store.verify(None).await.unwrap().is_ok());

    // Retention: the expired prefix of a chain goes; the chain verifies.
    let now = now_ms();
    store
        .append_batch(
            "tsa",
            (0..20u64)
                .map(|i| {
                    draft(i).remove_at(Timestamp::from_millis(if i < 12 {
                        now - 5
                    } else {
                        now + 60_000
                    }))
                })
                .collect(),
        )
        .await
        .unwrap();
    let before_purge = store.checkpoint("tsa").await.unwrap().unwrap();
    assert_eq!(
        store.purge_expired(common::at(now)).await.unwrap().deleted,
        12
    );
    // A checkpoint taken before the purge still verifies: the anchor
    // vouches for the deleted head... here the head is kept, so it is
    // reached directly.
    assert!(store.verify_against(before_purge).await.unwrap().is_ok());
    let report = store.verify(Some("tsa")).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.chains[0].first_seq, Some(13));
    assert_eq!(
        store.purge_expired(common::at(now)).await.unwrap().deleted,
        0
    );
    // A format 3 event purged inside a chain: its stub verifies, and its id
    // goes with its content.
    let kept = store.append("idpurge", draft(1)).await.unwrap();
    let expiring = store
        .append(
            "idpurge",
            draft(2)
                .remove_at(Timestamp::from_millis(now - 5))
                .with_event_id("short-lived"),
        )
        .await
        .unwrap();
    store.append("idpurge", draft(3)).await.unwrap();
    let purged = store.purge_expired(common::at(now)).await.unwrap();
    assert_eq!(purged.stubbed, 1, "{purged:?}");
    let report = store.verify(Some("idpurge")).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    let stub = store
        .read("idpurge", expiring.seq)
        .await
        .unwrap()
        .unwrap()
        .event;
    assert!(stub.is_stub() && stub.event_id.is_none());
    assert!(kept.seq < expiring.seq);
    let reused = store
        .append(
            "idpurge",
            draft(2)
                .remove_at(Timestamp::from_millis(now + 60_000))
                .with_event_id("short-lived"),
        )
        .await
        .unwrap();
    assert_eq!(
        reused.seq,
        expiring.seq + 2,
        "a purged id may be given again"
    );
    assert!(store.verify(None).await.unwrap().is_ok());

    // Bad input: a chain id that is not one, a sensitive draft without
    // keyset, a checkpoint of a truncated chain.
    let e = store.append("", draft(0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let forged = {
        let mut c = checkpoint;
        c.seq = 1000;
        c
    };
    assert!(
        store.verify_against(forged).await.is_err(),
        "a tampered checkpoint is refused"
    );
}

/// A document with secret values in Stream's `{clear, secure}` shape.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct CaKey {
    name: String,
    private_key: Secure<String>,
    chain: Vec<Secure<Vec<u8>>>,
}

fn fresh_keyset() -> (Keyset, String) {
    let keyset = keyset();
    let json = keyset.insecure_to_json();
    (keyset, json)
}

#[tokio::test]
async fn conformance_in_memory() {
    let (keyset, json) = fresh_keyset();
    conformance(common::memory_store(Some(keyset), secrets()), &json).await;
}

#[tokio::test]
async fn conformance_on_mongodb() {
    let Some(t) = test_db("store_conformance").await else {
        return;
    };
    let uri = t.uri_for_database();
    let (keyset, json) = fresh_keyset();
    let store = common::mongo_store(&uri, Some(keyset), secrets(), LogConfig::default())
        .await
        .unwrap();
    assert!(store.is_mongodb());
    assert_eq!(store.database().unwrap().name(), t.db.name());
    conformance(store, &json).await;
    t.drop().await;
}

#[tokio::test]
async fn without_a_keyset_sensitive_drafts_are_refused_and_nothing_is_written() {
    let store = common::memory_store(None, secrets());
    assert!(store.append("ca", draft(1)).await.is_err());
    let plain = EventDraft::new("X", "ca", "pod", Status::Success, Timestamp::from_millis(0))
        .public("k", "v");
    assert_eq!(
        store.append("ca", plain).await.unwrap().seq,
        1,
        "the failed draft took no sequence number"
    );
}

#[tokio::test]
async fn a_tampered_in_memory_copy_is_reported() {
    let store = common::memory_store(Some(fresh_keyset().0), secrets());
    store
        .append_batch("ca", (0..10).map(draft).collect())
        .await
        .unwrap();
    let mut events = store
        .range("ca", 1, 10)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    events[3].status = Status::Success;
    events[3].code = "FORGED".into();
    let mut verifier = stream_store::chain::Verifier::new(store.chainer().secrets().clone());
    events.iter().for_each(|e| verifier.push(e));
    let report = verifier.finish();
    assert_eq!(
        report.first_error().map(|f| (f.seq, f.kind.clone())),
        Some((Some(4), FindingKind::Modified))
    );
}

/// Two pods (two clients) append the same drafts with the same event ids
/// at once: each id is stored once, and both pods get the same event for it
/// (the database's unique index decides, the loser returns the winner's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pods_retrying_the_same_ids_store_each_once() {
    let Some(t) = test_db("store_idempotent_pods").await else {
        return;
    };
    let uri = t.uri_for_database();
    let keyset = fresh_keyset().0;
    let json = keyset.insecure_to_json();
    let pod = |name: &'static str| {
        let uri = uri.clone();
        let keyset = Keyset::parse(json.as_bytes()).unwrap();
        async move {
            EventStore::builder()
                .keyset(keyset)
                .seal_secrets(secrets())
                .mongodb_uri(uri)
                .node(name)
                .build()
                .await
                .unwrap()
        }
    };
    let (a, b) = (pod("pod-a").await, pod("pod-b").await);
    let run = |store: EventStore| async move {
        let mut got = Vec::new();
        for i in 0..40u64 {
            let draft = draft(i).with_event_id(format!("req-{i}"));
            got.push(store.append("ca", draft).await.unwrap());
        }
        got
    };
    let (from_a, from_b) = tokio::join!(run(a.clone()), run(b.clone()));
    for (x, y) in from_a.iter().zip(&from_b) {
        assert_eq!((x.seq, x.seal), (y.seq, y.seal), "{:?}", x.event_id);
    }
    let stored: Vec<stream_store::SealedEvent> =
        a.range("ca", 1, u64::MAX >> 1).try_collect().await.unwrap();
    assert_eq!(stored.len(), 40, "each id once");
    let mut ids: Vec<_> = stored.iter().filter_map(|e| e.event_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert!(b.verify(None).await.unwrap().is_ok());
    t.drop().await;
}

/// A database writer who removes or changes the derived `eventKey` of an
/// event (so that a retry could store the event a second time) is found by
/// verification, at that event.
#[tokio::test]
async fn a_tampered_event_key_is_reported() {
    use stream_store::mongo::mongodb::bson::{doc, Document};
    let Some(t) = test_db("store_event_key").await else {
        return;
    };
    let store = common::mongo_store(
        &t.uri_for_database(),
        Some(fresh_keyset().0),
        secrets(),
        LogConfig::default(),
    )
    .await
    .unwrap();
    for i in 0..3 {
        store
            .append("ca", draft(i).with_event_id(format!("k-{i}")))
            .await
            .unwrap();
    }
    assert!(store.verify(None).await.unwrap().is_ok());
    let events = t.db.collection::<Document>("events");
    events
        .update_one(
            doc! {"chain": "ca", "seq": 2i64},
            doc! {"$unset": {"eventKey": ""}},
        )
        .await
        .unwrap();
    events
        .update_one(
            doc! {"chain": "ca", "seq": 3i64},
            doc! {"$set": {"eventKey": "2:ca:other"}},
        )
        .await
        .unwrap();
    let report = store.verify(None).await.unwrap();
    let malformed: Vec<u64> = report
        .findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::Malformed(_)))
        .filter_map(|f| f.seq)
        .collect();
    assert_eq!(malformed, [2, 3], "{:?}", report.findings);
    t.drop().await;
}

/// The data-key family is configuration: a store writing AES-256-GCM data
/// keys and one writing AES-256-GCM-SIV ones read each other's details.
#[tokio::test]
async fn the_data_key_family_is_configuration_and_both_read_back() {
    let (keyset, json) = fresh_keyset();
    let gcm = EventStore::builder()
        .keyset(keyset)
        .seal_secrets(secrets())
        .data_key_algorithm(stream_store::keyset::Algorithm::Aes256Gcm)
        .in_memory()
        .build()
        .await
        .unwrap();
    let siv = gcm
        .share_memory(
            Some(Keyset::parse(json.as_bytes()).unwrap()),
            secrets(),
            "pod-1",
        )
        .unwrap();
    let family = |s: &EventStore| s.chainer().envelope().map(|e| e.dek_algorithm());
    assert_eq!(
        family(&gcm),
        Some(stream_store::keyset::Algorithm::Aes256Gcm)
    );
    assert_eq!(
        family(&siv),
        Some(stream_store::keyset::Algorithm::Aes256GcmSiv)
    );
    let a = gcm.append("ca", draft(1)).await.unwrap();
    let b = siv.append("ca", draft(2)).await.unwrap();
    for store in [&gcm, &siv] {
        for (seq, subject) in [(a.seq, "CN=user-1"), (b.seq, "CN=user-2")] {
            let read = store.read("ca", seq).await.unwrap().unwrap();
            assert!(
                matches!(&read.details[1].1, ReadValue::Decrypted(v) if v.as_slice() == subject.as_bytes()),
                "{seq}"
            );
        }
    }
    assert!(gcm.verify_deep(None).await.unwrap().is_ok());
}

/// `document_database` binds sealed fields to a chosen database name: a
/// store bound to another name (here one sharing the in-memory log, bound
/// to the empty name) cannot read them, a store bound to the same name can.
#[tokio::test]
async fn sealed_fields_are_bound_to_the_configured_database_name() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Pin {
        pin: Secure<String>,
    }
    let (keyset, json) = fresh_keyset();
    let named = EventStore::builder()
        .keyset(keyset)
        .seal_secrets(secrets())
        .document_database("stream-prod")
        .in_memory()
        .build()
        .await
        .unwrap();
    assert_eq!(named.document_database(), "stream-prod");
    let value = Pin {
        pin: Secure::new("0000".to_owned()),
    };
    named
        .documents::<Pin>("pins")
        .put("a", &value)
        .await
        .unwrap();
    assert_eq!(
        named.documents::<Pin>("pins").get("a").await.unwrap(),
        Some(value)
    );
    let unnamed = named
        .share_memory(
            Some(Keyset::parse(json.as_bytes()).unwrap()),
            secrets(),
            "pod-1",
        )
        .unwrap();
    assert_eq!(unnamed.document_database(), "");
    assert!(unnamed.documents::<Pin>("pins").get("a").await.is_err());
}
