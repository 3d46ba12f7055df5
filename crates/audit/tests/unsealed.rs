//! What no seal covers in a stored event document, checked by every reader
//! (issue 11): search terms that are not the event's are an error at the
//! event, a field that is not an event's a warning; the event itself is
//! still placed, and the fast and the generic JSON reader agree.

// Tests may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bson::{Bson, Document};
use stream_audit::{read_input, Feed, Pass, ReadOptions};
use stream_chain::{
    ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp, Verifier,
    VerifyReport,
};

fn secrets() -> SealSecrets {
    SealSecrets::new(SealSecret::from_env_value("k8s-generated-32-character-secr1").unwrap())
}

/// The documents of a sealed chain of five events (one public detail each).
fn documents() -> Vec<Document> {
    let chainer = Chainer::new(secrets(), None);
    let mut head = Head::genesis(ChainId::new("ca").unwrap());
    (0..5)
        .map(|i| {
            let draft = EventDraft::new(
                "LIFECYCLE-ENROLL",
                "ca",
                "pod-0",
                Status::Success,
                Timestamp::from_millis(1_700_000_000_000 + i),
            )
            .public("serial", format!("{i:04x}"));
            stream_codec::event_to_document(&chainer.seal(&mut head, &draft).unwrap())
        })
        .collect()
}

fn dump(documents: &[Document]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for d in documents {
        d.to_writer(&mut bytes).unwrap();
    }
    bytes
}

fn export(documents: &[Document], canonical: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for d in documents {
        let value = if canonical {
            Bson::Document(d.clone()).into_canonical_extjson()
        } else {
            Bson::Document(d.clone()).into_relaxed_extjson()
        };
        bytes.extend_from_slice(value.to_string().as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

fn verify(bytes: &[u8], options: &ReadOptions) -> VerifyReport {
    let mut verifier = Verifier::new(secrets());
    let mut feed = Feed::new(&mut verifier, "export", Pass::Verify);
    read_input(bytes, &mut feed, options).unwrap();
    verifier.finish()
}

/// Every input form of `documents`, through both JSON readers.
fn every_form(documents: &[Document]) -> Vec<(String, VerifyReport)> {
    let mut out = vec![(
        "bson".to_owned(),
        verify(&dump(documents), &ReadOptions::default()),
    )];
    for canonical in [true, false] {
        for generic in [false, true] {
            let options = ReadOptions::default().with_generic_json(generic);
            out.push((
                format!("json canonical={canonical} generic={generic}"),
                verify(&export(documents, canonical), &options),
            ));
        }
    }
    out
}

fn found(report: &VerifyReport) -> Vec<(Option<u64>, &'static str)> {
    report
        .findings
        .iter()
        .map(|f| (f.seq, f.kind.name()))
        .collect()
}

#[test]
fn untouched_documents_have_no_finding() {
    for (form, report) in every_form(&documents()) {
        assert!(report.findings.is_empty(), "{form}: {:?}", report.findings);
        assert_eq!(report.chains[0].events, 5, "{form}");
    }
}

#[test]
fn rewritten_or_removed_terms_are_an_error_at_their_event() {
    let mut documents = documents();
    documents[1].insert("terms", vec![Bson::String("6:serial=beef".into())]);
    documents[3].remove("terms");
    for (form, report) in every_form(&documents) {
        assert_eq!(
            found(&report),
            vec![(Some(2), "terms"), (Some(4), "terms")],
            "{form}: {:?}",
            report.findings
        );
        assert!(!report.is_ok(), "{form}");
        assert_eq!(
            report.chains[0].last_seq,
            Some(5),
            "{form}: the events are placed"
        );
        let message = report.findings[0].to_string();
        assert!(
            message.contains("`6:serial=beef`, not `6:serial=0001`"),
            "{form}: {message}"
        );
    }
}

#[test]
fn a_field_that_is_not_an_events_is_a_warning() {
    let mut documents = documents();
    documents[2].insert("note", "written by someone");
    for (form, report) in every_form(&documents) {
        assert_eq!(found(&report), vec![(Some(3), "unknown_field")], "{form}");
        assert!(report.is_ok(), "{form}: a warning only");
        assert!(report.findings[0].kind.is_warning());
    }
}
