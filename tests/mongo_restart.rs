//! The fault test: the server restarted in the middle of appends. In a
//! test binary of its own, so that the restart hits no other test (cargo
//! runs test binaries one after the other).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_store::Timestamp;
mod common;

use std::sync::Arc;

use common::{chainer_with, keyset, test_db};
use stream_store::chain::{ChainId, EventDraft, Status};
use stream_store::mongo::{EventLog, LogConfig, Outcome};

fn draft(i: u64, sensitive: bool) -> EventDraft {
    let d = EventDraft::new(
        "LIFECYCLE-ENROLL",
        "ca",
        "pod-0",
        Status::Success,
        Timestamp::from_millis(1_700_000_000_000 + i as i64),
    )
    .public("serial", format!("{i:08x}"));
    if sensitive {
        d.sensitive("subject", format!("CN=user-{i}").into_bytes())
    } else {
        d
    }
}

fn log_on(
    db: &stream_store::mongo::mongodb::Database,
    chainer: stream_store::chain::Chainer,
) -> EventLog {
    EventLog::new(db, chainer, LogConfig::default())
}

fn chain(name: &str) -> ChainId {
    ChainId::new(name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_in_the_middle_of_appends_loses_no_acknowledged_event() {
    let Some(script) = common::restart_script() else {
        return;
    };
    let Some(t) = test_db("restart").await else {
        return;
    };
    let keyset = keyset();
    let c = chain("events");
    let log = Arc::new(log_on(&t.db, chainer_with(&keyset)));
    log.ensure_indexes().await.unwrap();
    let writer = {
        let log = log.clone();
        let c = c.clone();
        tokio::spawn(async move {
            // Every draft carries an event id; a failed append (unknown
            // outcome included) is retried with the same id, as a server
            // would: each must end up stored exactly once.
            let mut acked = Vec::new();
            let mut failed = 0;
            let mut unknown = 0;
            for i in 0..400u64 {
                let draft = draft(i, i % 4 == 0).with_event_id(format!("restart-{i}"));
                let mut attempts = 0;
                loop {
                    match log.append(&c, draft.clone()).await {
                        Ok(e) => {
                            acked.push(e);
                            break;
                        }
                        Err(e) => {
                            failed += 1;
                            if matches!(
                                e,
                                stream_store::mongo::Error::Timeout {
                                    outcome: Outcome::Unknown,
                                    ..
                                } | stream_store::mongo::Error::Unavailable {
                                    outcome: Outcome::Unknown,
                                    ..
                                }
                            ) {
                                unknown += 1;
                            }
                            attempts += 1;
                            assert!(attempts < 120, "draft {i} never stored: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        }
                    }
                }
            }
            (acked, failed, unknown)
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .arg("restart")
            .stdout(std::process::Stdio::null())
            .status()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "restart the server");
    let (acked, failed, unknown) = writer.await.unwrap();
    eprintln!(
        "restart test: {} acknowledged, {failed} attempts failed during the restart ({unknown} with an unknown outcome), retried with their event ids",
        acked.len(),
    );
    assert_eq!(acked.len(), 400);
    // Each event id stored once, at the position its append returned.
    for (i, a) in acked.iter().enumerate() {
        let id = format!("restart-{i}");
        assert_eq!(a.event_id.as_deref(), Some(id.as_str()));
        let stored = log
            .collection()
            .count_documents(
                stream_store::mongo::mongodb::bson::doc! {"chain": "events", "eventId": &id},
            )
            .await
            .unwrap();
        assert_eq!(stored, 1, "{id} stored once");
    }
    let mut seqs: Vec<u64> = acked.iter().map(|a| a.seq).collect();
    seqs.dedup();
    assert_eq!(
        seqs,
        (1..=400).collect::<Vec<_>>(),
        "contiguous, none twice"
    );
    for a in &acked {
        let stored = log
            .get(&c, a.seq)
            .await
            .unwrap()
            .expect("acknowledged event stored");
        assert_eq!(stored.seal, a.seal);
    }
    let more = log
        .append(&c, draft(9999, true))
        .await
        .expect("appending resumes");
    let report = log.verify(Some(&c)).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.chains[0].last_seq, Some(more.seq));
    t.drop().await;
}
