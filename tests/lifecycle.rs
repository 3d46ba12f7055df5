//! The operator's procedures of a deployment's life, run by three stores as
//! three pods on one log (in memory, and on MongoDB): seal-secret rotation
//! in the documented order, keyset rotation in steps with a shred during
//! the re-wrap, retention of interleaved short- and long-lived events; the
//! chains verify online, deeply (with the keyset) and offline (the
//! auditor's `verify_chain` on an export) afterwards. Then, on MongoDB,
//! the attacker's versions (erasure, un-shredding, a re-seal with a retired
//! secret after its successor, a forged stub) are each reported at their
//! position, online and offline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stream_store::Timestamp;
mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{now_ms, test_db, TestDb};
use futures_util::TryStreamExt;
use stream_store::chain::{
    Chainer, EventDraft, FindingKind, Head, SealSecret, SealSecrets, SealedEvent, Status,
    VerifyReport,
};
use stream_store::keyset::{Algorithm, KeyId, Keyset, Template};
use stream_store::mongo::codec::event_to_document;
use stream_store::mongo::mongodb::bson::{doc, Bson, Document};
use stream_store::{EventStore, ReadValue};

const S0: &str = "the-first-seal-secret-of-32-char";
const S1: &str = "the-second-seal-secret-32-chars!";

fn secret(s: &str) -> SealSecret {
    SealSecret::from_env_value(s).unwrap()
}

/// Secrets as a pod's environment gives them: current, then retired.
fn env_secrets(current: &str, retired: &[&str]) -> SealSecrets {
    SealSecrets::new(secret(current))
        .with_retired_list(&retired.join("\n"))
        .unwrap()
}

/// Secrets of a pod in the first rollout step: `next` staged.
fn staged_secrets(current: &str, next: &str) -> SealSecrets {
    SealSecrets::new(secret(current))
        .with_next_list(next)
        .unwrap()
}

fn tools() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::build_examples(&["verify_chain", "quickstart"]))
}

/// Where the pods keep their events.
enum Log<'a> {
    Memory(&'a EventStore),
    Mongo(&'a TestDb),
}

/// A pod (re)started with this keyset and these secrets.
async fn pod(log: &Log<'_>, keyset: &str, secrets: SealSecrets, name: &str) -> EventStore {
    let keyset = Some(Keyset::parse(keyset.as_bytes()).unwrap());
    let store = match log {
        Log::Memory(first) => first.share_memory(keyset, secrets, name).unwrap(),
        Log::Mongo(t) => {
            let builder = EventStore::builder()
                .seal_secrets(secrets)
                .mongodb_uri(t.uri_for_database())
                .node(name);
            match keyset {
                Some(k) => builder.keyset(k),
                None => builder,
            }
            .build()
            .await
            .unwrap()
        }
    };
    store
}

fn draft(i: u64, now: i64, short_lived: bool) -> EventDraft {
    let code = if short_lived {
        "OCSP-RESPONSE"
    } else {
        "LIFECYCLE-ENROLL"
    };
    EventDraft::new(
        code,
        "ca",
        format!("pod-{}", i % 3),
        Status::Success,
        Timestamp::from_millis(now - 10_000 + i as i64),
    )
    .public("serial", format!("{i:08x}"))
    .sensitive("subject", format!("CN=user-{i}").into_bytes())
    .remove_at(Timestamp::from_millis(if short_lived {
        now - 1_000
    } else {
        now + 86_400_000
    }))
}

fn assert_clean(report: &VerifyReport, what: &str) {
    assert!(
        report.is_ok() && report.total_findings == 0,
        "{what}: {:?}",
        report.findings
    );
}

/// Every event of the chains as an auditor's export (canonical Extended
/// JSON lines, as mongoexport writes them).
async fn export(pods: &[EventStore], chains: &[&str], path: &Path) {
    let mut out = std::fs::File::create(path).unwrap();
    match pods[0].database() {
        Some(db) => {
            let mut cursor = db
                .collection::<Document>("events")
                .find(doc! {})
                .await
                .unwrap();
            while let Some(d) = cursor.try_next().await.unwrap() {
                writeln!(out, "{}", Bson::Document(d).into_canonical_extjson()).unwrap();
            }
        }
        None => {
            for chain in chains {
                for event in pods[0]
                    .range(chain, 0, u64::MAX >> 1)
                    .try_collect::<Vec<_>>()
                    .await
                    .unwrap()
                {
                    let json = Bson::Document(event_to_document(&event)).into_canonical_extjson();
                    writeln!(out, "{json}").unwrap();
                }
            }
        }
    }
}

/// Runs the offline verifier on `path` with both seal secrets; returns its
/// exit code and output.
fn verify_offline(path: &Path, keyset: Option<&Path>) -> (i32, String) {
    let mut command = std::process::Command::new(tools().join("verify_chain"));
    command
        .args(["--seal-secret", S1, "--seal-secret", S0])
        .arg(path);
    if let Some(keyset) = keyset {
        command.arg("--keyset").arg(keyset);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// The whole life of a deployment on `log`; returns the pods at the end
/// and the keyset they hold.
async fn lifecycle(log: Log<'_>, dir: &Path) -> (Vec<EventStore>, String) {
    let now = now_ms();
    let mut keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let k1 = keyset.insecure_to_json();

    // Three pods on secret S0 and keyset K1, appending interleaved short-
    // (OCSP) and long-lived events to two chains.
    let mut pods = Vec::new();
    for p in 0..3 {
        pods.push(pod(&log, &k1, env_secrets(S0, &[]), &format!("pod-{p}")).await);
    }
    for i in 0..30u64 {
        let chain = if i % 2 == 0 { "ocsp" } else { "ca" };
        pods[(i % 3) as usize]
            .append(chain, draft(i, now, i % 3 != 0))
            .await
            .unwrap();
    }

    // Seal-secret rotation. 1: every pod restarted with S1 staged
    // (EVENT_SEAL_SECRET_NEXT), S0 still current.
    for (p, slot) in pods.iter_mut().enumerate() {
        *slot = pod(&log, &k1, staged_secrets(S0, S1), &format!("pod-{p}")).await;
    }
    // 2: the rollout making S1 current reaches pod 0 first: its next append
    // to each chain writes the rotation record; pods 1 and 2, still on S0,
    // follow the chains to S1.
    pods[0] = pod(&log, &k1, env_secrets(S1, &[S0]), "pod-0").await;
    for i in 30..42u64 {
        let chain = if i % 2 == 0 { "ocsp" } else { "ca" };
        pods[(i % 3) as usize]
            .append(chain, draft(i, now, i % 3 != 0))
            .await
            .unwrap();
    }
    // A chain started during the rollout, by a pod on S1: the pods still
    // on S0 follow it (S1 is their staged successor), no rotation back.
    for i in 42..48u64 {
        pods[(i % 3) as usize]
            .append("tsa", draft(i, now, false))
            .await
            .unwrap();
    }
    let tsa = pods[0]
        .range("tsa", 0, u64::MAX >> 1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(tsa.len(), 6, "no rotation record in a chain born on S1");
    assert!(tsa.iter().all(|e| e.secret_id == secret(S1).id()));
    // A pod still on S0 (S1 staged) writes an integrity report of a chain
    // that moved to S1: sealed by S1, a genuine report for every pod.
    let report = pods[1]
        .integrity_report("ocsp", common::at(now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.secret_id, secret(S1).id());
    let shown = pods[0]
        .reports("ocsp")
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(
        shown[0].1,
        stream_store::chain::ReportStatus::Verified,
        "{shown:?}"
    );
    for (p, slot) in pods.iter_mut().enumerate().skip(1) {
        *slot = pod(&log, &k1, env_secrets(S1, &[S0]), &format!("pod-{p}")).await;
    }
    for p in &pods {
        assert_clean(
            &p.verify(None).await.unwrap(),
            "after the seal-secret rotation",
        );
    }
    let mut rotation_records = 0;
    for chain in ["ocsp", "ca", "tsa"] {
        let events = pods[2]
            .range(chain, 0, u64::MAX >> 1)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        rotation_records += events
            .iter()
            .filter(|e| e.code == stream_store::chain::ROTATION_CODE)
            .count();
        assert!(
            events
                .iter()
                .skip_while(|e| e.code != stream_store::chain::ROTATION_CODE)
                .all(|e| e.secret_id == secret(S1).id()),
            "after its rotation record, {chain} is sealed by S1 only"
        );
    }
    assert_eq!(rotation_records, 2, "one rotation record per chain");

    // Keyset rotation in steps. 1: K2 = K1 plus a new key, installed on
    // every pod; 2: the new key promoted on every pod.
    let k2_key = keyset.add(Template::AES256_GCM_SIV);
    let k2 = keyset.insecure_to_json();
    for p in &pods {
        p.install_keyset(Keyset::parse(k2.as_bytes()).unwrap())
            .unwrap();
    }
    for p in &pods {
        p.promote_key(k2_key).unwrap();
    }
    // 3: one re-wrap job, while another pod shreds an event.
    let target = 4;
    let before = pods[1].read("ocsp", target).await.unwrap().unwrap();
    assert!(matches!(before.details[1].1, ReadValue::Decrypted(_)));
    let (rewrap, shred) = tokio::join!(
        pods[0].rewrap_keys(|_| {}),
        pods[1].shred("ocsp", target, None, "data subject asked for erasure"),
    );
    let progress = rewrap.unwrap();
    let shred = shred.unwrap();
    assert_eq!(shred.erased, vec!["subject".to_owned()]);
    assert!(shred.record_seq.is_some());
    assert!(progress.rewrapped > 0, "{progress:?}");
    // A second pass does what the shred made the first skip, and never
    // brings the shredded key back.
    pods[2].rewrap_keys(|_| {}).await.unwrap();
    let after = pods[2].read("ocsp", target).await.unwrap().unwrap();
    assert_eq!(
        after.details[1].1,
        ReadValue::Unavailable,
        "the shred holds"
    );
    assert!(matches!(
        pods[0]
            .shred("ocsp", target, None, "again")
            .await
            .as_ref()
            .err()
            .and_then(common::mongo_error),
        Some(stream_store::mongo::Error::NotShreddable { .. })
    ));
    // With only K2's new key, everything not shredded still opens.
    keyset.promote(k2_key).unwrap();
    let k2 = keyset.insecure_to_json();
    let mut only_new = Keyset::parse(k2.as_bytes()).unwrap();
    only_new.destroy(first_key(&k1)).unwrap();
    let only_new_json = only_new.insecure_to_json();
    let reader = pod(&log, &only_new_json, env_secrets(S1, &[S0]), "reader").await;
    assert_clean(
        &reader.verify_deep(None).await.unwrap(),
        "deep, new key only",
    );

    // Retention: every expired event goes, interleaved or not.
    let summary = pods[2].purge_expired(common::at(now)).await.unwrap();
    assert!(summary.stubbed > 0, "{summary:?}");
    for p in &pods {
        assert_clean(&p.verify(None).await.unwrap(), "after the purge");
        assert_clean(&p.verify_deep(None).await.unwrap(), "deep, after the purge");
    }
    for chain in ["ocsp", "ca"] {
        let events = pods[0]
            .range(chain, 0, u64::MAX >> 1)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        let head = events.last().unwrap().seq;
        for e in &events {
            let expired = e.remove_at_ms.is_some_and(|at| at <= now);
            let system = stream_store::chain::is_system_record(e);
            assert_eq!(
                e.is_stub(),
                expired && !system && e.seq != head,
                "{chain}#{}: expired {expired}",
                e.seq
            );
        }
    }
    // Stubs hold nothing to search.
    let query = stream_store::SearchQuery {
        chain: Some("ocsp".into()),
        page_size: 7,
        ..Default::default()
    };
    let found: Vec<_> = pods[1].search(query.clone()).try_collect().await.unwrap();
    assert!(!found.is_empty() && found.iter().all(|e| !e.is_stub()));
    assert_eq!(pods[1].count(&query).await.unwrap() as usize, found.len());
    assert_eq!(
        found.len(),
        pods[1]
            .range("ocsp", 0, u64::MAX >> 1)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .iter()
            .filter(|e| !e.is_stub())
            .count()
    );
    let again = pods[0].purge_expired(common::at(now)).await.unwrap();
    assert_eq!((again.deleted, again.stubbed), (0, 0), "idempotent");
    // A purge dated in the future is refused.
    assert!(matches!(
        pods[0]
            .purge_expired(common::at(now + 3_600_000))
            .await
            .as_ref()
            .err()
            .and_then(common::mongo_error),
        Some(stream_store::mongo::Error::PurgeInFuture { .. })
    ));

    // Offline, as the auditor verifies an export: clean, and deep with the
    // keyset.
    let dump = dir.join("export.jsonl");
    export(&pods, &["ocsp", "ca", "tsa"], &dump).await;
    let (code, text) = verify_offline(&dump, None);
    assert_eq!(code, 0, "{text}");
    let keyset_file = dir.join("keyset.json");
    std::fs::write(&keyset_file, &k2).unwrap();
    let (code, text) = verify_offline(&dump, Some(&keyset_file));
    assert_eq!(code, 0, "deep: {text}");
    (pods, k2)
}

/// The id of the only key of a one-key keyset.
fn first_key(json: &str) -> KeyId {
    Keyset::parse(json.as_bytes()).unwrap().primary_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pods_in_memory_run_every_procedure() {
    let dir = tempfile::tempdir().unwrap();
    let first = common::memory_store(None, env_secrets(S0, &[]));
    lifecycle(Log::Memory(&first), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pods_on_mongodb_run_every_procedure_and_attacks_are_found() {
    let Some(t) = test_db("lifecycle").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (pods, _keyset) = lifecycle(Log::Mongo(&t), dir.path()).await;
    let events = t.db.collection::<Document>("events");
    let ocsp = pods[0]
        .range("ocsp", 0, u64::MAX >> 1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let by_seq = |seq: u64| ocsp.iter().find(|e| e.seq == seq).unwrap().clone();
    let filter = |seq: u64| doc! {"chain": "ocsp", "seq": seq as i64};
    let kept: Vec<&SealedEvent> = ocsp
        .iter()
        .filter(|e| !e.is_stub() && !stream_store::chain::is_system_record(e))
        .collect();
    let shredded = 4;

    // 1. Erasure: the wrapped key of a kept event erased, no shred record.
    let erased = kept
        .iter()
        .find(|e| e.seq != shredded && e.seq > 10)
        .unwrap()
        .seq;
    events
        .update_one(
            filter(erased),
            doc! {"$set": {"details.1.secure.dek": Bson::Null}},
        )
        .await
        .unwrap();
    // 2. Un-shredding: a wrapped key back on the shredded detail, as from
    // an old backup (without the keyset, any bytes pass for one).
    let dek = stream_store::mongo::codec::binary(&[7; 60]);
    events
        .update_one(
            filter(shredded),
            doc! {"$set": {"details.1.secure.dek": dek}},
        )
        .await
        .unwrap();
    // 3. A forged stub: a kept (unexpired) event stripped, with its true
    // content digest (anyone can compute it) and the seal of a real stub's
    // mark.
    let stub = ocsp.iter().find(|e| e.is_stub()).unwrap();
    let forged = kept
        .iter()
        .find(|e| e.seq != erased && e.seq != shredded && e.seq > 10)
        .unwrap()
        .seq;
    let mut mark = events
        .find_one(filter(stub.seq))
        .await
        .unwrap()
        .unwrap()
        .get_document("purged")
        .unwrap()
        .clone();
    mark.insert(
        "digest",
        stream_store::mongo::codec::binary(&by_seq(forged).content_digest()),
    );
    events
        .update_one(
            filter(forged),
            doc! {"$set": {"purged": mark}, "$unset": {"code": "", "module": "", "node": "", "status": "", "details": "", "terms": ""}},
        )
        .await
        .unwrap();
    // 4. A re-seal with the retired S0 after S1 took over: an event linked
    // to the head, sealed by whoever holds the old secret.
    let head = ocsp.last().unwrap();
    let old = Chainer::new(
        SealSecrets::new(secret(S0)),
        Some(
            Keyset::generate(Template::AES256_GCM_SIV)
                .envelope(Algorithm::Aes256GcmSiv)
                .unwrap(),
        ),
    );
    let mut at = Head::after(head);
    let resealed = old
        .seal(
            &mut at,
            &EventDraft::new(
                "LIFECYCLE-REVOKE",
                "ca",
                "intruder",
                Status::Success,
                Timestamp::from_millis(now_ms()),
            ),
        )
        .unwrap();
    events
        .insert_one(event_to_document(&resealed))
        .await
        .unwrap();

    let want = |report: &VerifyReport| {
        let at = |seq: u64, kind: &dyn Fn(&FindingKind) -> bool| {
            report.findings.iter().any(|f| {
                f.chain.as_ref().map(|c| c.as_str()) == Some("ocsp")
                    && f.seq == Some(seq)
                    && kind(&f.kind)
            })
        };
        assert!(
            at(
                erased,
                &|k| matches!(k, FindingKind::KeyErased(key) if key == "subject")
            ),
            "erasure: {:?}",
            report.findings
        );
        assert!(
            at(
                shredded,
                &|k| matches!(k, FindingKind::Unshredded(key) if key == "subject")
            ),
            "un-shredding: {:?}",
            report.findings
        );
        assert!(
            at(forged, &|k| matches!(k, FindingKind::Stripped(_))),
            "forged stub: {:?}",
            report.findings
        );
        assert!(
            at(resealed.seq, &|k| matches!(k, FindingKind::RetiredSecret)),
            "re-seal: {:?}",
            report.findings
        );
    };
    want(&pods[1].verify(Some("ocsp")).await.unwrap());

    // 5. A report forged with the retired S0 over the whole chain (so that
    // the next reports would skip it): shown as a failure, not used.
    let clean = stream_store::chain::Verifier::new(SealSecrets::new(secret(S0))).finish();
    let forged_report = stream_store::chain::IntegrityReport::from_verification(
        stream_store::chain::ChainId::new("ocsp").unwrap(),
        1,
        resealed.seq,
        &clean,
        now_ms(),
        &secret(S0),
    );
    t.db.collection::<Document>("integrityReports")
        .insert_one(stream_store::mongo::report_to_document(&forged_report))
        .await
        .unwrap();
    let reports = pods[0]
        .reports("ocsp")
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(reports
        .iter()
        .any(|(r, status)| r.secret_id == secret(S0).id()
            && *status == stream_store::chain::ReportStatus::ReportIntegrityFailure));
    let next = pods[0]
        .integrity_report("ocsp", common::at(now_ms()))
        .await
        .unwrap()
        .unwrap();
    // It starts after the last genuine report (written during the
    // rollout), not after the forged one.
    let genuine_end = reports
        .iter()
        .filter(|(_, status)| *status != stream_store::chain::ReportStatus::ReportIntegrityFailure)
        .map(|(r, _)| r.to_seq)
        .max()
        .unwrap_or(0);
    assert_eq!(
        next.from_seq,
        genuine_end + 1,
        "the forged report is not where the next starts"
    );
    assert!(next.from_seq < resealed.seq);
    assert_ne!(next.status, stream_store::chain::ReportStatus::Verified);

    // Offline: each reported at its position too.
    let dump = dir.path().join("attacked.jsonl");
    export(&pods, &["ocsp", "ca"], &dump).await;
    let (code, text) = verify_offline(&dump, None);
    assert_eq!(code, 1, "{text}");
    for (seq, what) in [
        (erased, "key erased"),
        (shredded, "unshredded"),
        (forged, "stripped"),
        (resealed.seq, "retired secret"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("ocsp#{seq}: {what}"))),
            "offline: ocsp#{seq} {what}:\n{text}"
        );
    }
    t.drop().await;
}

/// Refused operations say what and where, and change nothing.
async fn bad_input(log: Log<'_>) {
    let now = now_ms();
    let k1 = Keyset::generate(Template::AES256_GCM_SIV).insecure_to_json();
    let a = pod(&log, &k1, env_secrets(S0, &[]), "pod-0").await;
    for i in 0..6u64 {
        a.append("ocsp", draft(i, now, i % 2 == 0)).await.unwrap();
    }
    a.append(
        "ocsp",
        EventDraft::new(
            "ADMIN-LOGIN",
            "admin",
            "pod-0",
            Status::Success,
            Timestamp::from_millis(now),
        )
        .public("user", "root"),
    )
    .await
    .unwrap();
    let shred = a.shred("ocsp", 2, None, "test").await.unwrap();
    let record = shred.record_seq.unwrap();
    a.purge_expired(common::at(now)).await.unwrap();
    let before = a
        .range("ocsp", 0, u64::MAX >> 1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let stub = before.iter().find(|e| e.is_stub()).unwrap().seq;
    let refused = |r: stream_store::Result<stream_store::ShredOutcome>, seq: u64, why: &str| {
        assert_eq!(
            r.as_ref().err().map(stream_store::Error::kind),
            Some(stream_store::ErrorKind::Refused)
        );
        match r.as_ref().err().and_then(common::mongo_error) {
            Some(stream_store::mongo::Error::NotShreddable {
                chain,
                seq: at,
                reason,
            }) => {
                assert_eq!((chain.as_str(), *at), ("ocsp", seq));
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("expected NotShreddable ({why}), got {other:?}"),
        }
    };
    refused(a.shred("ocsp", 99, None, "x").await, 99, "no event");
    refused(
        a.shred("ocsp", 7, None, "x").await,
        7,
        "no sensitive detail",
    );
    refused(
        a.shred("ocsp", 6, Some("nope"), "x").await,
        6,
        "no sensitive detail `nope`",
    );
    refused(a.shred("ocsp", stub, None, "x").await, stub, "purged");
    refused(
        a.shred("ocsp", record, None, "x").await,
        record,
        "record of the store",
    );
    refused(a.shred("ocsp", 2, None, "x").await, 2, "already erased");
    // Only the store writes its own records.
    for code in [
        stream_store::chain::SHRED_CODE,
        stream_store::chain::ROTATION_CODE,
    ] {
        let fake = EventDraft::new(
            code,
            "stream",
            "pod-0",
            Status::Success,
            Timestamp::from_millis(now),
        )
        .public("target", "6")
        .public("key", "subject")
        .public("reason", "x");
        let err = a.append("ocsp", fake).await.unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }
    assert!(matches!(
        a.purge_expired(common::at(now + 10 * 60_000))
            .await
            .as_ref()
            .err()
            .and_then(common::mongo_error),
        Some(stream_store::mongo::Error::PurgeInFuture { .. })
    ));
    // A pod that does not know the secret the chain moved to is refused,
    // naming the secret to roll out.
    let b = pod(&log, &k1, env_secrets(S1, &[S0]), "pod-1").await;
    b.append("ocsp", draft(10, now, false)).await.unwrap();
    let c = pod(&log, &k1, env_secrets(S0, &[]), "pod-2").await;
    let err = c.append("ocsp", draft(11, now, false)).await.unwrap_err();
    assert!(err.to_string().contains(&secret(S1).id().to_hex()), "{err}");
    let after = a
        .range("ocsp", 0, u64::MAX >> 1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(&after[..before.len()], &before[..], "nothing changed");
    assert_eq!(
        after.len(),
        before.len() + 2,
        "the rotation record and pod-1's event"
    );
    // (The drafts' timestamps are ten seconds old: warnings only.)
    let report = b.verify(None).await.unwrap();
    assert!(report.is_ok(), "after the refusals: {:?}", report.findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_operations_change_nothing_in_memory() {
    let first = common::memory_store(None, env_secrets(S0, &[]));
    bad_input(Log::Memory(&first)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_operations_change_nothing_on_mongodb() {
    let Some(t) = test_db("lifecycle_bad_input").await else {
        return;
    };
    bad_input(Log::Mongo(&t)).await;
    t.drop().await;
    let Some(t) = test_db("lifecycle_refusals").await else {
        return;
    };
    // On MongoDB also: a forged stub refuses the purge (nothing changed),
    // and a re-wrap that cannot re-wrap a record says how many and why.
    let now = now_ms();
    let k1 = Keyset::generate(Template::AES256_GCM_SIV);
    let mut k2 = Keyset::parse(k1.insecure_to_json().as_bytes()).unwrap();
    let store = pod(
        &Log::Mongo(&t),
        &k1.insecure_to_json(),
        env_secrets(S1, &[S0]),
        "pod-0",
    )
    .await;
    for i in 0..6u64 {
        store.append("tsa", draft(i, now, true)).await.unwrap();
    }
    let events = t.db.collection::<Document>("events");
    events
        .update_one(
            doc! {"chain": "tsa", "seq": 3i64},
            doc! {"$set": {"purged": {"digest": stream_store::mongo::codec::binary(&[0; 32]), "at": stream_store::mongo::mongodb::bson::DateTime::from_millis(now), "secretId": secret(S1).id().to_hex(), "seal": stream_store::mongo::codec::binary(&[0; 32])}},
              "$unset": {"code": "", "module": "", "node": "", "status": "", "details": "", "terms": ""}},
        )
        .await
        .unwrap();
    let before = events
        .count_documents(doc! {"chain": "tsa", "purged": {"$exists": false}})
        .await
        .unwrap();
    let refused = store.purge_expired(common::at(now)).await;
    let source = refused
        .as_ref()
        .err()
        .and_then(|e| std::error::Error::source(e)?.downcast_ref::<stream_store::chain::Error>());
    match source {
        Some(stream_store::chain::Error::PurgeRefused { chain, seq, .. }) => {
            assert_eq!((chain.as_str(), *seq), ("tsa", 3));
        }
        other => panic!("expected PurgeRefused at tsa#3, got {other:?} ({refused:?})"),
    }
    let after = events
        .count_documents(doc! {"chain": "tsa", "purged": {"$exists": false}})
        .await
        .unwrap();
    assert_eq!(before, after, "nothing purged");
    events
        .update_one(
            doc! {"chain": "tsa", "seq": 5i64},
            doc! {"$set": {"details.1.secure.dek": stream_store::mongo::codec::binary(&[1; 60])}},
        )
        .await
        .unwrap();
    let new = k2.add(Template::AES256_GCM_SIV);
    k2.promote(new).unwrap();
    store.install_keyset(k2).unwrap();
    let incomplete = store.rewrap_keys(|_| {}).await;
    assert_eq!(
        incomplete.as_ref().err().map(stream_store::Error::kind),
        Some(stream_store::ErrorKind::Incomplete)
    );
    match incomplete.as_ref().err().and_then(common::mongo_error) {
        Some(stream_store::mongo::Error::RewrapIncomplete {
            failed,
            rewrapped,
            first,
        }) => {
            assert_eq!((*failed, *rewrapped), (1, 4), "{first}");
            assert!(first.contains("tsa#5"), "{first}");
        }
        other => panic!("expected RewrapIncomplete, got {other:?}"),
    }
    t.drop().await;
}

/// The quickstart as an operator runs it: `--shred SEQ` before `--export`,
/// the secrets from the environment (retired ones included); the export
/// verifies offline with both secrets, and the shredded key is recorded.
#[test]
fn quickstart_shreds_through_the_store_and_reads_retired_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let keyset = Keyset::generate(Template::AES256_GCM_SIV).insecure_to_json();
    let run = |retired: &str, args: &[&str]| {
        std::process::Command::new(tools().join("quickstart"))
            .args(args)
            .env("KEYSET", &keyset)
            .env("EVENT_SEAL_SECRET", S1)
            .env("EVENT_SEAL_SECRET_RETIRED", retired)
            .env_remove("MONGODB_URI")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let export = dir.path().join("export.jsonl");
    let out = run(
        &format!("{S0},\n"),
        &[
            "--events",
            "20",
            "--shred",
            "3",
            "--reason",
            "erasure request 17",
            "--export",
            export.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("shredded quickstart#3"), "{text}");
    assert!(
        text.contains("verified 21 events after the shred: intact"),
        "{text}"
    );
    let exported = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        exported.lines().count(),
        21,
        "the events and the shred record"
    );
    assert!(exported.contains("STREAM-SHRED") && exported.contains("erasure request 17"));
    let (code, report) = verify_offline(&export, None);
    assert_eq!(code, 0, "{report}");
    // A retired secret that is not one: refused, naming the entry, without
    // printing it.
    let out = run(&format!("{S0}\nshort"), &["--events", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("EVENT_SEAL_SECRET_RETIRED") && err.contains("#2"),
        "{err}"
    );
    assert!(
        !err.contains("short") && !err.contains(S0),
        "no secret in the message: {err}"
    );
}
