//! The fault test: the server restarted in the middle of appends. In a
//! test binary of its own, so that the restart hits no other test (cargo
//! runs test binaries one after the other).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_store::Timestamp;
mod common;

use std::sync::Arc;

use common::{chainer_with, keyset, test_db};
use stream_store::chain::{ChainId, EventDraft, Status};
use stream_store::mongo::{EventLog, LogConfig};

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
            let mut acked = Vec::new();
            let mut failed = 0;
            for i in 0..400u64 {
                match log.append(&c, draft(i, i % 4 == 0)).await {
                    Ok(e) => acked.push(e),
                    Err(_) => failed += 1,
                }
            }
            (acked, failed)
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
    let (acked, failed) = writer.await.unwrap();
    eprintln!(
        "restart test: {} acknowledged, {} failed during the restart",
        acked.len(),
        failed
    );
    assert!(!acked.is_empty());
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
