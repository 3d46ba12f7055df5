//! End-to-end tests of the offline chain verifier, `examples/verify_chain.rs`:
//! they write exports as mongodump and mongoexport do, run the compiled
//! verifier on them as other tools do, and check its exit status and output.
//!
//! Cargo gives integration tests the path of a `[[bin]]` target but not of
//! an example: the binaries are looked up in `target/<profile>/examples/`,
//! next to the `deps/` directory this test runs from. A plain `cargo test`
//! builds the examples first, a run restricted to this file (`cargo test
//! --test verify_chain`) does not: so the tests run `cargo build --example
//! verify_chain --example quickstart` once, in the same profile, before the
//! first run (a no-op when they are up to date).
//!
//! `large_export` (ignored) writes a 1,000,000-event export in both formats
//! for measuring the verifier's speed and memory:
//! `VERIFY_CHAIN_LARGE_DIR=/tmp/large cargo test --release --test verify_chain -- --ignored large_export`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use stream_store::Timestamp;

use bson::{Bson, Document};
use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;
use stream_store::chain::{
    ChainId, Chainer, DetailValue, EventDraft, Head, PurgeMark, RotationRecord, Seal, SealSecret,
    SealSecrets, SealedEvent, SecretId, ShredRecord, Status,
};
use stream_store::keyset::{Algorithm, Keyset, Template};
use stream_store::mongo::codec::event_to_document;
use tempfile::TempDir;

/// The seal secret of most tests (32 characters, as Stream's chart makes).
const SECRET: &str = "k8s-generated-32-character-secr1";
/// Another secret.
const OTHER_SECRET: &str = "another-32-character-seal-secret";

// ------------------------------------------------------------- harness

/// `target/<profile>/examples`, with both examples built.
fn examples() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::build_examples(&["verify_chain", "quickstart"]))
}

/// `name` with the platform's executable suffix.
fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// What one run gave.
#[derive(Debug)]
struct Run {
    /// Exit status (-1 if killed by a signal).
    code: i32,
    /// Standard output.
    stdout: String,
    /// Standard error.
    stderr: String,
}

impl Run {
    /// Asserts the exit status, showing the output otherwise.
    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit status: {self:#?}");
        assert!(
            !self.stderr.contains("panicked"),
            "the verifier panicked: {self:#?}"
        );
        self
    }

    /// Asserts that standard output contains `text`.
    fn stdout_has(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}: {self:#?}"
        );
        self
    }

    /// Asserts that standard error contains `text`.
    fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}: {self:#?}"
        );
        self
    }

    /// The first line of standard output naming a finding.
    fn first_finding(&self) -> &str {
        self.stdout
            .lines()
            .find(|l| l.contains('#') && !l.starts_with("chain "))
            .unwrap_or_else(|| panic!("no finding: {self:#?}"))
    }

    /// Standard output as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A verifier invocation.
struct Verify {
    /// The command.
    command: Command,
    /// Bytes for standard input.
    stdin: Vec<u8>,
}

/// The verifier with `args`, no seal secret in its environment.
fn verify<I, S>(args: I) -> Verify
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(examples().join(exe_name("verify_chain")));
    command.args(args).env_remove("EVENT_SEAL_SECRET");
    Verify {
        command,
        stdin: Vec::new(),
    }
}

impl Verify {
    /// Sets an environment variable.
    fn env(mut self, key: &str, value: &str) -> Verify {
        self.command.env(key, value);
        self
    }

    /// Gives bytes on standard input.
    fn stdin(mut self, bytes: Vec<u8>) -> Verify {
        self.stdin = bytes;
        self
    }

    /// Runs to completion.
    fn run(mut self) -> Run {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start verify_chain");
        let mut stdin = child.stdin.take().unwrap();
        let bytes = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The verifier may stop reading early (an input error).
            let _ = stdin.write_all(&bytes);
        });
        let output = child.wait_with_output().expect("wait for verify_chain");
        writer.join().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `--seal-secret SECRET` then `paths`.
fn with_secret(paths: &[&Path]) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["--seal-secret".into(), SECRET.into()];
    args.extend(paths.iter().map(|p| p.as_os_str().to_owned()));
    args
}

// ------------------------------------------------------------- exports

/// Seal secrets of one secret.
fn secrets(secret: &str) -> SealSecrets {
    SealSecrets::new(SealSecret::from_env_value(secret).unwrap())
}

/// A chainer with a fresh keyset, for sensitive details.
fn chainer(secrets: SealSecrets) -> Chainer {
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    Chainer::new(
        secrets,
        Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    )
}

/// The draft of event `i`: public and sensitive details, a unique serial.
fn draft(i: u64) -> EventDraft {
    EventDraft::new(
        ["LIFECYCLE-ENROLL", "LIFECYCLE-REVOKE", "OCSP-RESPONSE"][(i % 3) as usize],
        ["ca", "ocsp", "tsa"][(i % 3) as usize],
        format!("pod-{}", i % 3),
        if i.is_multiple_of(7) {
            Status::Warning
        } else {
            Status::Success
        },
        Timestamp::from_millis(1_700_000_000_000 + i as i64 * 1000),
    )
    .public("serial", format!("serial-{i:08}"))
    .public("profile", "tls-server")
    .sensitive("subject", format!("CN=user-{i},O=Example").into_bytes())
    .remove_at(Timestamp::from_millis(1_900_000_000_000))
}

/// `n` events of `chain` sealed under `secret`, from genesis.
fn chain_of(chain: &str, n: u64, secret: &str) -> Vec<SealedEvent> {
    let chainer = chainer(secrets(secret));
    let mut head = Head::genesis(ChainId::new(chain).unwrap());
    (1..=n)
        .map(|i| chainer.seal(&mut head, &draft(i)).unwrap())
        .collect()
}

/// Seals `drafts` at `head` as a store does: the chainer plans, given the
/// chain's last rotation record in `so_far` (the events before `head`),
/// which secret seals them, with a rotation record first when its current
/// secret takes over the chain.
fn seal_as_a_store(
    chainer: &Chainer,
    head: &mut Head,
    so_far: &[SealedEvent],
    drafts: impl IntoIterator<Item = EventDraft>,
) -> Vec<SealedEvent> {
    let last_rotation = so_far
        .iter()
        .rev()
        .find_map(|e| RotationRecord::parse(e).and_then(Result::ok));
    let drafts: Vec<EventDraft> = drafts.into_iter().collect();
    let plan = chainer.plan(head, last_rotation.as_ref()).unwrap();
    let sealed = chainer.seal_planned(head, &drafts, &plan).unwrap();
    sealed.rotation.into_iter().chain(sealed.events).collect()
}

/// The export formats.
#[derive(Clone, Copy, Debug)]
enum Export {
    /// mongodump `.bson`.
    Bson,
    /// mongodump `--gzip`: `.bson.gz`.
    BsonGz,
    /// mongoexport: canonical Extended JSON lines.
    Canonical,
    /// mongoexport `--jsonFormat relaxed`.
    Relaxed,
    /// mongoexport `--jsonArray`.
    JsonArray,
}

const ALL: [Export; 5] = [
    Export::Bson,
    Export::BsonGz,
    Export::Canonical,
    Export::Relaxed,
    Export::JsonArray,
];

impl Export {
    /// A file name for it.
    fn file_name(self) -> &'static str {
        match self {
            Export::Bson => "events.bson",
            Export::BsonGz => "events.bson.gz",
            Export::Canonical => "events.json",
            Export::Relaxed => "events.relaxed.json",
            Export::JsonArray => "events.array.json",
        }
    }

    /// The bytes of an export of `documents`.
    fn bytes(self, documents: &[Document]) -> Vec<u8> {
        let json = |canonical: bool| {
            documents.iter().map(move |d| {
                let bson = Bson::Document(d.clone());
                if canonical {
                    bson.into_canonical_extjson().to_string()
                } else {
                    bson.into_relaxed_extjson().to_string()
                }
            })
        };
        match self {
            Export::Bson => bson_bytes(documents),
            Export::BsonGz => {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&bson_bytes(documents)).unwrap();
                gz.finish().unwrap()
            }
            Export::Canonical => lines(json(true)),
            Export::Relaxed => lines(json(false)),
            Export::JsonArray => {
                let items: Vec<String> = json(true).collect();
                format!("[{}]", items.join(",\n")).into_bytes()
            }
        }
    }
}

/// mongodump's bytes: the documents one after another.
fn bson_bytes(documents: &[Document]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in documents {
        d.to_writer(&mut out).unwrap();
    }
    out
}

/// One line per item.
fn lines(items: impl Iterator<Item = String>) -> Vec<u8> {
    let mut out = String::new();
    for item in items {
        out.push_str(&item);
        out.push('\n');
    }
    out.into_bytes()
}

/// The documents of `events`.
fn documents(events: &[SealedEvent]) -> Vec<Document> {
    events.iter().map(event_to_document).collect()
}

/// A scratch directory.
fn scratch() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes `bytes` to `dir/name`.
fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// Writes an export of `events` in `format`.
fn export(dir: &TempDir, format: Export, events: &[SealedEvent]) -> PathBuf {
    write(dir, format.file_name(), &format.bytes(&documents(events)))
}

/// Replaces the first occurrence of `from` in `bytes` with `to` (of the
/// same length).
fn replace_first(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{} not found", String::from_utf8_lossy(from)));
    let mut out = bytes.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

// --------------------------------------------------------------- tests

#[test]
fn every_untouched_format_verifies() {
    let dir = scratch();
    let events = chain_of("ca", 40, SECRET);
    for format in ALL {
        let path = export(&dir, format, &events);
        verify(with_secret(&[&path]))
            .run()
            .expect_code(0)
            .stdout_has("chain ca: 40 events, seq 1..40: OK");
    }
}

#[test]
fn the_format_comes_from_the_content_not_the_name() {
    let dir = scratch();
    let events = chain_of("ca", 10, SECRET);
    let docs = documents(&events);
    let bson_named_json = write(&dir, "dump.json", &Export::Bson.bytes(&docs));
    let gz_without_suffix = write(&dir, "dump", &Export::BsonGz.bytes(&docs));
    let gz_json = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&Export::Relaxed.bytes(&docs)).unwrap();
        write(&dir, "export.json.gz", &gz.finish().unwrap())
    };
    // Pretty-printed documents (mongoexport --pretty), after blank lines.
    let pretty = {
        let mut out = b"\n\n".to_vec();
        for d in &docs {
            let value = Bson::Document(d.clone()).into_canonical_extjson();
            out.extend(serde_json::to_vec_pretty(&value).unwrap());
            out.extend(b"\r\n");
        }
        write(&dir, "pretty.txt", &out)
    };
    for path in [&bson_named_json, &gz_without_suffix, &gz_json, &pretty] {
        verify(with_secret(&[path]))
            .run()
            .expect_code(0)
            .stdout_has("chain ca: 10 events, seq 1..10: OK");
    }
    // `verify_chain dump/stream/*`: mongodump's metadata file is skipped.
    let metadata = write(
        &dir,
        "events.metadata.json",
        br#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"collectionName":"events","type":"collection"}"#,
    );
    verify(with_secret(&[&bson_named_json, &metadata]))
        .run()
        .expect_code(0)
        .stdout_has("chain ca: 10 events, seq 1..10: OK")
        .stderr_has("events.metadata.json: mongodump metadata");
}

#[test]
fn a_changed_byte_is_found_at_its_event() {
    let dir = scratch();
    let events = chain_of("ca", 30, SECRET);
    for format in ALL {
        let docs = documents(&events);
        // mongodump --gzip: change the byte before compressing.
        let (plain, gzip) = match format {
            Export::BsonGz => (Export::Bson, true),
            other => (other, false),
        };
        // The detail's value (its search term, unsealed, comes later).
        let mut bytes = replace_first(&plain.bytes(&docs), b"serial-00000017", b"serial-00000018");
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            bytes = gz.finish().unwrap();
        }
        let path = write(&dir, format.file_name(), &bytes);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1)
            .stdout_has("chain ca: 30 events, seq 1..30: FAILED");
        assert!(
            run.first_finding().starts_with("ca#17: modified"),
            "{format:?}: {run:#?}"
        );
    }
}

#[test]
fn a_changed_field_is_found_at_its_event() {
    let dir = scratch();
    let mut docs = documents(&chain_of("ca", 20, SECRET));
    docs[11].insert("node", "intruder");
    docs[4].insert("timestamp", bson::DateTime::from_millis(1));
    for format in [Export::Bson, Export::Relaxed] {
        let path = write(&dir, format.file_name(), &format.bytes(&docs));
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1)
            .stdout_has("ca#5: modified")
            .stdout_has("ca#12: modified");
        assert!(run.first_finding().starts_with("ca#5: "), "{run:#?}");
    }
}

#[test]
fn a_deleted_event_is_a_gap() {
    let dir = scratch();
    let mut events = chain_of("ca", 25, SECRET);
    events.remove(9);
    for format in ALL {
        let path = export(&dir, format, &events);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1);
        assert!(
            run.first_finding()
                .starts_with("ca#10: gap: events 10..=10 are missing"),
            "{format:?}: {run:#?}"
        );
    }
}

#[test]
fn a_duplicated_event_is_found() {
    let dir = scratch();
    let mut events = chain_of("ca", 25, SECRET);
    events.insert(14, events[13].clone());
    for format in ALL {
        let path = export(&dir, format, &events);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1);
        assert!(
            run.first_finding().starts_with("ca#14: duplicate"),
            "{format:?}: {run:#?}"
        );
    }
}

#[test]
fn a_chain_id_cannot_forge_lines_of_the_text_report() {
    let dir = scratch();
    let mut docs = documents(&chain_of("ca", 3, SECRET));
    let forged = "ca\nchain ca: 3 events, seq 1..3: OK\n\u{1b}[32m3 records in 1 chain: verified";
    docs[1].insert("chain", forged);
    for format in [Export::Bson, Export::Relaxed] {
        let path = write(&dir, format.file_name(), &format.bytes(&docs));
        let run = verify(with_secret(&[&path])).run();
        // The record names no chain id that can exist: malformed, and the
        // event it replaced is missing.
        run.expect_code(1).stdout_has("malformed record");
        for line in run.stdout.lines() {
            assert!(
                !line.chars().any(stream_store::chain::is_unprintable),
                "{format:?}: {line:?}"
            );
            assert!(
                !line.starts_with("chain ca: 3 events")
                    && !line.starts_with("3 records in 1 chain: verified"),
                "{format:?}: a forged line: {run:#?}"
            );
        }
        assert!(run.stdout.contains("INTEGRITY FINDINGS"), "{run:#?}");
    }
}

#[test]
fn a_key_repeated_in_a_document_is_malformed() {
    let dir = scratch();
    let docs = documents(&chain_of("ca", 5, SECRET));
    // BSON: a forged `node` before the authentic one (a reader that takes
    // the last value would verify the record, one that takes the first
    // would show the forgery).
    let original = bson::RawDocumentBuf::try_from(&docs[2]).unwrap();
    let mut forged = bson::RawDocumentBuf::new();
    for element in original.iter() {
        let (key, value) = element.unwrap();
        if key.as_str() == "node" {
            forged.append(key, "intruder");
        }
        forged.append(key, value);
    }
    let mut bytes = bson_bytes(&docs[..2]);
    bytes.extend_from_slice(forged.as_bytes());
    bytes.extend_from_slice(&bson_bytes(&docs[3..]));
    let path = write(&dir, "repeated.bson", &bytes);
    let run = verify(with_secret(&[&path])).run();
    run.expect_code(1)
        .stdout_has("ca#3: malformed record: key `node` appears twice");
    assert!(!run.stdout.contains("gap"), "{run:#?}");

    // JSON, both readers: a sealed field, a field the event does not
    // read, a key inside a detail.
    let text = String::from_utf8(Export::Relaxed.bytes(&docs)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The last case: a key with NUL (not a BSON key), malformed for both
    // readers alike.
    let twice = "ca#3: malformed record: a key appears twice";
    for (from, to, expected) in [
        (r#""node":""#, r#""node":"intruder","node":""#, twice),
        (r#""seq":"#, r#""x":1,"x":2,"seq":"#, twice),
        (r#""k":""#, r#""k":"forged","k":""#, twice),
        (
            r#""seq":"#,
            r#""x\u0000":1,"seq":"#,
            "ca#3: malformed record: ",
        ),
    ] {
        assert!(lines[2].contains(from), "{}", lines[2]);
        let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        edited[2] = lines[2].replacen(from, to, 1);
        let path = write(&dir, "repeated.json", edited.join("\n").as_bytes());
        for generic in [false, true] {
            let mut command = verify(with_secret(&[&path]));
            if generic {
                command = command.env("VERIFY_CHAIN_GENERIC_JSON", "1");
            }
            let run = command.run();
            run.expect_code(1).stdout_has(expected);
            assert!(!run.stdout.contains("gap"), "{to}: {run:#?}");
        }
    }
}

#[test]
fn a_record_that_is_not_an_event_is_a_finding_at_its_place() {
    let dir = scratch();
    let mut docs = documents(&chain_of("ca", 12, SECRET));
    docs[6].remove("code");
    docs[8].insert("v", 4);
    for format in [Export::Bson, Export::Canonical] {
        let path = write(&dir, format.file_name(), &format.bytes(&docs));
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1)
            .stdout_has("ca#7: malformed record: field `code`: missing")
            .stdout_has("ca#9: malformed record: unknown format version 4");
        // Not also reported as missing.
        assert!(!run.stdout.contains("gap"), "{run:#?}");
    }
    // Valid JSON, invalid Extended JSON: a finding too, at its place.
    let text = String::from_utf8(Export::Canonical.bytes(&docs[..4])).unwrap();
    let text = text.replacen(
        r#"{"$date":{"$numberLong":"1700000003000"}}"#,
        r#"{"$date":"not a date"}"#,
        1,
    );
    let path = write(&dir, "extjson.json", text.as_bytes());
    let run = verify(with_secret(&[&path])).run();
    run.expect_code(1);
    assert!(
        run.first_finding().starts_with("ca#3: malformed record: "),
        "{run:#?}"
    );
}

#[test]
fn a_cut_tail_is_found_against_a_saved_checkpoint() {
    let dir = scratch();
    let events = chain_of("ca", 30, SECRET);
    for format in [Export::Bson, Export::Canonical, Export::JsonArray] {
        let full = export(&dir, format, &events);
        let checkpoint = dir.path().join("checkpoint.json");
        let _ = fs::remove_file(&checkpoint);
        let mut args = with_secret(&[&full]);
        args.extend(["--save-checkpoint".into(), checkpoint.clone().into()]);
        verify(args).run().expect_code(0);
        let saved: Value = serde_json::from_str(&fs::read_to_string(&checkpoint).unwrap()).unwrap();
        assert_eq!(saved["chain"], "ca");
        assert_eq!(saved["seq"], 30);

        // The same export still reaches the head.
        let trusting = |path: &Path| {
            let mut args = vec!["--checkpoint".into(), checkpoint.clone().into_os_string()];
            args.extend(with_secret(&[path]));
            verify(args).run()
        };
        trusting(&full).expect_code(0);

        // Three events cut from the tail.
        let cut = export(&dir, format, &events[..27]);
        let run = trusting(&cut);
        run.expect_code(1);
        assert!(
            run.first_finding().starts_with("ca#28: truncated"),
            "{format:?}: {run:#?}"
        );
        // Without the checkpoint, the cut is invisible.
        verify(with_secret(&[&cut])).run().expect_code(0);
    }
}

/// Checkpoints of one chain combine, in any order on the command line: an
/// older one given after a newer one does not hide a cut tail (issue 11;
/// the last one read used to win).
#[test]
fn an_older_checkpoint_after_a_newer_one_does_not_hide_a_cut_tail() {
    let dir = scratch();
    let events = chain_of("ca", 30, SECRET);
    let save = |n: usize, name: &str| {
        let path = dir.path().join(name);
        let mut args = with_secret(&[&export(&dir, Export::Canonical, &events[..n])]);
        args.extend(["--save-checkpoint".into(), path.clone().into()]);
        verify(args).run().expect_code(0);
        path
    };
    let (old, new) = (save(10, "old.json"), save(25, "new.json"));
    let cut = export(&dir, Export::Bson, &events[..20]);
    for order in [[&old, &new], [&new, &old]] {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for path in order {
            args.extend(["--checkpoint".into(), path.clone().into_os_string()]);
        }
        args.extend(with_secret(&[&cut]));
        let run = verify(args).run();
        run.expect_code(1);
        assert!(
            run.first_finding().starts_with("ca#21: truncated"),
            "{run:#?}"
        );
    }
}

/// Chains beyond `--max-chains` are counted, not verified: the run fails
/// and says so (issue 11: state for every chain id, without a bound).
#[test]
fn chains_beyond_the_limit_fail_and_are_named_in_the_report() {
    let dir = scratch();
    let mut events = chain_of("a", 3, SECRET);
    events.extend(chain_of("b", 3, SECRET));
    events.extend(chain_of("c", 3, SECRET));
    let path = export(&dir, Export::Bson, &events);
    verify(with_secret(&[&path])).run().expect_code(0);
    let mut args = with_secret(&[&path]);
    args.extend(["--max-chains".into(), "2".into(), "--json".into()]);
    let run = verify(args).run();
    run.expect_code(1);
    let report = run.json();
    assert_eq!(report["chains"].as_array().unwrap().len(), 2, "{run:#?}");
    let untracked: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "untracked")
        .collect();
    assert_eq!(untracked.len(), 1, "{run:#?}");
    assert!(
        untracked[0]["message"]
            .as_str()
            .unwrap()
            .contains("3 records of chains beyond the first 2"),
        "{run:#?}"
    );
}

#[test]
fn a_checkpoint_allows_an_incremental_audit_and_detects_a_rewrite() {
    let dir = scratch();
    let secrets = secrets(SECRET);
    let chainer = chainer(secrets.clone());
    let mut head = Head::genesis(ChainId::new("ca").unwrap());
    let first: Vec<SealedEvent> = (1..=10)
        .map(|i| chainer.seal(&mut head, &draft(i)).unwrap())
        .collect();
    let fork_head = head.clone();
    let later: Vec<SealedEvent> = (11..=20)
        .map(|i| chainer.seal(&mut head, &draft(i)).unwrap())
        .collect();
    let checkpoint = dir.path().join("cp.json");
    let mut args = with_secret(&[&export(&dir, Export::Bson, &first)]);
    args.extend(["--save-checkpoint".into(), checkpoint.clone().into()]);
    verify(args).run().expect_code(0);
    let trusting = |path: &Path| {
        let mut args = vec!["--checkpoint".into(), checkpoint.clone().into_os_string()];
        args.extend(with_secret(&[path]));
        verify(args).run()
    };
    // Only the events after the checkpoint: they continue its head.
    trusting(&export(&dir, Export::Canonical, &later))
        .expect_code(0)
        .stdout_has("chain ca: 10 events, seq 11..20: OK");
    // Events 10.. rewritten (rolled back, sealed again with other content).
    let mut rewritten = first[..9].to_vec();
    let mut fork = Head {
        next_seq: 10,
        prev: first[8].seal,
        ..fork_head
    };
    rewritten.extend((10..=12).map(|i| chainer.seal(&mut fork, &draft(i + 100)).unwrap()));
    let run = trusting(&export(&dir, Export::Bson, &rewritten));
    run.expect_code(1).stdout_has("ca#10: checkpoint mismatch");
}

#[test]
fn a_bad_checkpoint_is_a_usage_error() {
    let dir = scratch();
    let events = chain_of("ca", 5, SECRET);
    let path = export(&dir, Export::Bson, &events);
    let checkpoint = dir.path().join("cp.json");
    let mut args = with_secret(&[&path]);
    args.extend(["--save-checkpoint".into(), checkpoint.clone().into()]);
    verify(args).run().expect_code(0);
    let text = fs::read_to_string(&checkpoint).unwrap();

    let run_with = |checkpoint: &Path, secret: &str| {
        verify([
            "--checkpoint".as_ref(),
            checkpoint.as_os_str(),
            "--seal-secret".as_ref(),
            secret.as_ref(),
            path.as_os_str(),
        ])
        .run()
    };
    let tampered = write(
        &dir,
        "tampered.json",
        text.replace("\"seq\": 5", "\"seq\": 6").as_bytes(),
    );
    run_with(&tampered, SECRET)
        .expect_code(2)
        .stderr_has("tampered.json")
        .stderr_has("not authentic");
    run_with(&checkpoint, OTHER_SECRET)
        .expect_code(2)
        .stderr_has("unknown seal secret id");
    let garbage = write(&dir, "garbage.json", b"{\"chain\": 1}");
    run_with(&garbage, SECRET)
        .expect_code(2)
        .stderr_has("malformed checkpoint");
    run_with(&dir.path().join("missing.json"), SECRET)
        .expect_code(2)
        .stderr_has("missing.json: cannot read");
}

#[test]
fn two_interleaved_chains_verify_and_fail_separately() {
    let dir = scratch();
    let ca = chain_of("ca", 20, SECRET);
    let ocsp = chain_of("ocsp", 15, SECRET);
    let mut interleaved = Vec::new();
    for (i, event) in ca.iter().enumerate() {
        interleaved.push(event.clone());
        if let Some(e) = ocsp.get(i) {
            interleaved.push(e.clone());
        }
    }
    for format in [Export::Bson, Export::JsonArray] {
        let path = export(&dir, format, &interleaved);
        let checkpoint = dir.path().join("both.json");
        let mut args = with_secret(&[&path]);
        args.extend(["--save-checkpoint".into(), checkpoint.clone().into()]);
        verify(args)
            .run()
            .expect_code(0)
            .stdout_has("chain ca: 20 events, seq 1..20: OK")
            .stdout_has("chain ocsp: 15 events, seq 1..15: OK");
        // Several chains: an array of checkpoints, read back as such.
        let saved: Value = serde_json::from_str(&fs::read_to_string(&checkpoint).unwrap()).unwrap();
        assert_eq!(saved.as_array().map(Vec::len), Some(2), "{saved}");
        let mut args = vec!["--checkpoint".into(), checkpoint.clone().into_os_string()];
        args.extend(with_secret(&[&path]));
        verify(args).run().expect_code(0);
    }
    let mut tampered = interleaved.clone();
    let at = tampered
        .iter()
        .position(|e| e.chain.as_str() == "ocsp" && e.seq == 8)
        .unwrap();
    tampered[at].code = "FORGED".into();
    let path = export(&dir, Export::Canonical, &tampered);
    let run = verify(with_secret(&[&path])).run();
    run.expect_code(1)
        .stdout_has("chain ca: 20 events, seq 1..20: OK")
        .stdout_has("chain ocsp: 15 events, seq 1..15: FAILED");
    assert!(
        run.first_finding().starts_with("ocsp#8: modified"),
        "{run:#?}"
    );
    // Chains split over several inputs are verified together.
    let ca_file = export(&dir, Export::Bson, &ca);
    let ocsp_file = export(&dir, Export::Relaxed, &ocsp);
    verify(with_secret(&[&ca_file, &ocsp_file]))
        .run()
        .expect_code(0)
        .stdout_has("35 records in 2 chains");
}

#[test]
fn rotated_secrets_verify_together() {
    let dir = scratch();
    let mut rotating = secrets(OTHER_SECRET);
    let old = chainer(rotating.clone());
    let mut head = Head::genesis(ChainId::new("ca").unwrap());
    let mut events = seal_as_a_store(&old, &mut head, &[], (1..=6).map(draft));
    // A pod restarted with the new secret current, the old one retired:
    // it writes a rotation record (7) before its events.
    rotating.rotate(SealSecret::from_env_value(SECRET).unwrap());
    let new = chainer(rotating);
    let more = seal_as_a_store(&new, &mut head, &events, (7..=12).map(draft));
    events.extend(more);
    assert_eq!(events.len(), 13);
    assert!(RotationRecord::parse(&events[6]).is_some_and(|r| r.is_ok()));
    let path = export(&dir, Export::Bson, &events);

    // Current first, retired after; a file and a flag mixed.
    let retired = write(
        &dir,
        "old-secret.txt",
        format!("{OTHER_SECRET}\n").as_bytes(),
    );
    verify([
        "--seal-secret".as_ref(),
        SECRET.as_ref(),
        "--seal-secret-file".as_ref(),
        retired.as_os_str(),
        path.as_os_str(),
    ])
    .run()
    .expect_code(0)
    .stdout_has("chain ca: 13 events, seq 1..13: OK");
    // Only the current one: the older events cannot be checked.
    let run = verify(with_secret(&[&path])).run();
    run.expect_code(1);
    assert!(
        run.first_finding()
            .starts_with("ca#1: unknown seal secret id"),
        "{run:#?}"
    );
}

#[test]
fn the_secret_comes_from_a_file_or_the_environment() {
    let dir = scratch();
    let path = export(&dir, Export::Canonical, &chain_of("ca", 5, SECRET));
    let file = write(&dir, "secret.txt", format!("{SECRET}\r\n").as_bytes());
    verify([
        "--seal-secret-file".as_ref(),
        file.as_os_str(),
        path.as_os_str(),
    ])
    .run()
    .expect_code(0);
    verify([&path])
        .env("EVENT_SEAL_SECRET", SECRET)
        .run()
        .expect_code(0);
    // The flags win over the environment.
    verify(with_secret(&[&path]))
        .env("EVENT_SEAL_SECRET", OTHER_SECRET)
        .run()
        .expect_code(0);
}

#[test]
fn a_wrong_secret_gives_unknown_secret_findings() {
    let dir = scratch();
    let path = export(&dir, Export::Bson, &chain_of("ca", 5, SECRET));
    let run = verify([&path]).env("EVENT_SEAL_SECRET", OTHER_SECRET).run();
    run.expect_code(1)
        .stdout_has("ca#1: unknown seal secret id");
    // A secret with the same id cannot exist; a forged seal under the
    // right id is `modified`, tested above.
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(OTHER_SECRET));
}

#[test]
fn a_missing_or_short_secret_is_a_usage_error() {
    let dir = scratch();
    let path = export(&dir, Export::Bson, &chain_of("ca", 3, SECRET));
    verify([&path])
        .run()
        .expect_code(2)
        .stderr_has("--seal-secret")
        .stderr_has("EVENT_SEAL_SECRET")
        .stderr_has("16 bytes");
    let short = "short-secret";
    verify(["--seal-secret".as_ref(), short.as_ref(), path.as_os_str()])
        .run()
        .expect_code(2)
        .stderr_has("--seal-secret")
        .stderr_has("at least 16 bytes");
    let run = verify([&path]).env("EVENT_SEAL_SECRET", short).run();
    run.expect_code(2)
        .stderr_has("EVENT_SEAL_SECRET")
        .stderr_has("at least 16 bytes");
    assert!(
        !run.stderr.contains(short),
        "the secret is echoed: {run:#?}"
    );
    let file = write(&dir, "short.txt", b"tiny\n");
    verify([
        "--seal-secret-file".as_ref(),
        file.as_os_str(),
        path.as_os_str(),
    ])
    .run()
    .expect_code(2)
    .stderr_has("short.txt")
    .stderr_has("at least 16 bytes");
    verify(["--seal-secret-file", "/nonexistent/secret"])
        .run()
        .expect_code(2);
}

#[test]
fn usage_errors_exit_2() {
    verify(["--seal-secret", SECRET]).run().expect_code(2);
    verify(["--frobnicate", "x.bson"]).run().expect_code(2);
    verify(["--seal-secret", SECRET, "--window", "many", "x.bson"])
        .run()
        .expect_code(2);
    verify(["--seal-secret", SECRET, "/nonexistent/dump.bson"])
        .run()
        .expect_code(2)
        .stderr_has("/nonexistent/dump.bson: cannot open");
    let dir = scratch();
    verify(with_secret(&[dir.path()]))
        .run()
        .expect_code(2)
        .stderr_has("is a directory");
}

#[test]
fn inputs_that_are_not_exports_exit_2_without_panic() {
    let dir = scratch();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let random: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
    let mut gzipped_text = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzipped_text
        .write_all(b"hello, this is not an export\n")
        .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random.bin", random, "verify_chain: "),
        (
            "text.txt",
            b"hello, this is not an export\n".to_vec(),
            "not a mongodump (BSON) or mongoexport (JSON) file",
        ),
        (
            "text.txt.gz",
            gzipped_text.finish().unwrap(),
            "(of the decompressed gzip data)",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = write(&dir, name, &bytes);
        verify(with_secret(&[&path]))
            .run()
            .expect_code(2)
            .stderr_has(name)
            .stderr_has(message);
    }
}

#[test]
fn a_damaged_export_is_a_finding_naming_the_offset_not_a_usage_error() {
    let dir = scratch();
    let events = chain_of("ca", 6, SECRET);
    let bson = Export::Bson.bytes(&documents(&events));
    let json = Export::Canonical.bytes(&documents(&events));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.bson",
            bson[..bson.len() - 10].to_vec(),
            "truncated BSON document at byte",
        ),
        (
            "short-header.bson",
            [&bson[..], &[7u8, 0][..]].concat(),
            "truncated BSON document at byte",
        ),
        (
            "invalid.json",
            [&json[..], &b"{\"chain\": \"ca\", oops}\n"[..]].concat(),
            "invalid JSON at byte",
        ),
        (
            "truncated.json",
            json[..json.len() - 40].to_vec(),
            "truncated JSON document at byte",
        ),
        (
            "unclosed.json",
            b"[{\"a\": 1},\n".to_vec(),
            "truncated JSON array",
        ),
        (
            "after-array.json",
            b"[]\n[]".to_vec(),
            "expected nothing after the JSON array",
        ),
        (
            "scalar.json",
            b"{\"a\": 1}\n42\n".to_vec(),
            "expected a document",
        ),
        (
            "nested.json",
            [vec![b'['; 100_000], vec![b']'; 100_000]].concat(),
            "invalid JSON",
        ),
        (
            "corrupt.bson.gz",
            [&[0x1f, 0x8b, 8, 0][..], &[0xff; 64][..]].concat(),
            "damaged gzip data",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = write(&dir, name, &bytes);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1)
            .stdout_has(message)
            .stdout_has(&format!("{name}, document at byte "));
    }
}

/// Findings before and after damage are all reported: one broken record
/// hides nothing.
#[test]
fn findings_before_and_after_a_broken_record_are_reported() {
    let dir = scratch();
    let events = chain_of("ca", 12, SECRET);
    let docs = documents(&events);
    let modify = |bytes: &[u8]| {
        let bytes = replace_first(bytes, b"serial-00000003", b"serial-00000004");
        replace_first(&bytes, b"serial-00000010", b"serial-00000011")
    };

    // JSON lines: broken lines between the two modifications, read past.
    let json = modify(&Export::Canonical.bytes(&docs));
    let text = String::from_utf8(json).unwrap();
    let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(1000), "]".repeat(1000));
    let mut too_large = b"{\"a\": \"".to_vec();
    too_large.resize(25 * 1024 * 1024, b'x');
    too_large.extend_from_slice(b"\"}");
    let broken: Vec<Vec<u8>> = vec![
        b"{\"chain\": \"c\xffa\"}".to_vec(),
        br#"{"chain": "\ud800"}"#.to_vec(),
        deep.into_bytes(),
        too_large,
        b"{\"chain\": \"ca\", \"seq\": ".to_vec(),
    ];
    lines.splice(6..6, broken);
    let path = write(&dir, "damaged.json", &lines.join(&b"\n"[..]));
    for generic in [false, true] {
        let mut command = verify(with_secret(&[&path]));
        if generic {
            command = command.env("VERIFY_CHAIN_GENERIC_JSON", "1");
        }
        command
            .run()
            .expect_code(1)
            .stdout_has("ca#3: modified")
            .stdout_has("ca#10: modified")
            .stdout_has("invalid unicode code point")
            .stdout_has("hex escape")
            .stdout_has("recursion limit exceeded")
            .stdout_has("larger than 24 MiB")
            .stdout_has("invalid JSON at byte")
            .stdout_has("chain ca: 12 events, seq 1..12: FAILED");
    }

    // mongodump: a document with a valid length but not BSON is skipped by
    // its length; a cut tail ends the input after what came before.
    let bson = modify(&Export::Bson.bytes(&docs));
    let mut unterminated = bson_bytes(&docs[5..6]);
    let last = unterminated.len() - 1;
    unterminated[last] = 1;
    let first_five: usize = bson_bytes(&docs[..5]).len();
    let damaged = [
        &bson[..first_five],
        &unterminated,
        &bson[first_five..bson.len() - 7],
    ]
    .concat();
    let path = write(&dir, "damaged.bson", &damaged);
    verify(with_secret(&[&path]))
        .run()
        .expect_code(1)
        .stdout_has("ca#3: modified")
        .stdout_has("ca#10: modified")
        .stdout_has("does not end with a zero byte")
        .stdout_has("truncated BSON document at byte");

    // mongodump --gzip, the compressed data cut: the findings before the
    // damage, then the damage.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let many = chain_of("ca", 300, SECRET);
    gz.write_all(&modify(&Export::Bson.bytes(&documents(&many))))
        .unwrap();
    let gzipped = gz.finish().unwrap();
    let path = write(&dir, "damaged.bson.gz", &gzipped[..gzipped.len() * 3 / 4]);
    verify(with_secret(&[&path]))
        .run()
        .expect_code(1)
        .stdout_has("ca#3: modified")
        .stdout_has("ca#10: modified")
        .stdout_has("damaged gzip data");

    // --jsonArray: a broken element ends the input, after the findings
    // before it.
    let array = modify(&Export::JsonArray.bytes(&docs));
    let at = array
        .windows(16)
        .position(|w| w == b"serial-00000011\"")
        .unwrap();
    let path = write(
        &dir,
        "damaged.array.json",
        &[&array[..at], b"\xff oops"].concat(),
    );
    verify(with_secret(&[&path]))
        .run()
        .expect_code(1)
        .stdout_has("ca#3: modified")
        .stdout_has("truncated JSON document at byte");
}

#[test]
fn a_deeply_nested_bson_document_is_a_finding_not_a_crash() {
    // 500,000 nested documents: recursing into them would overflow the
    // stack; the verifier reads only an event's own fields.
    let depth = 500_000usize;
    let mut nested = Vec::new();
    for i in 0..depth {
        let len = 5 + (depth - i) * 8;
        nested.extend_from_slice(&(len as i32).to_le_bytes());
        nested.extend_from_slice(&[3, b'x', 0]);
    }
    nested.extend_from_slice(&5i32.to_le_bytes());
    nested.push(0);
    nested.extend(std::iter::repeat_n(0u8, depth));
    let dir = scratch();
    let mut bytes = Export::Bson.bytes(&documents(&chain_of("ca", 3, SECRET)));
    bytes.extend_from_slice(&nested);
    let path = write(&dir, "deep.bson", &bytes);
    verify(with_secret(&[&path]))
        .run()
        .expect_code(1)
        .stdout_has("?#?: malformed record: field `v`: missing");
}

#[test]
fn random_damage_never_panics() {
    let dir = scratch();
    let events = chain_of("ca", 8, SECRET);
    let docs = documents(&events);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for format in [Export::Bson, Export::Canonical, Export::BsonGz] {
        let clean = format.bytes(&docs);
        for round in 0..15 {
            let mut bytes = clean.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            if round % 5 == 4 {
                bytes.truncate(rng.random_range(0..bytes.len()));
            }
            let path = write(&dir, format.file_name(), &bytes);
            let run = verify(with_secret(&[&path])).run();
            assert!(
                [0, 1, 2].contains(&run.code) && !run.stderr.contains("panicked"),
                "{format:?} round {round}: {run:#?}"
            );
        }
    }
}

/// The fast JSON reader gives exactly what the generic Extended JSON
/// conversion gives, on documents of every shape: the verifier's output is
/// the same with it and without it (`VERIFY_CHAIN_GENERIC_JSON`).
#[test]
fn the_fast_json_reader_agrees_with_the_generic_conversion() {
    use serde_json::json;
    type Edit = fn(&mut serde_json::Map<String, Value>);
    let edits: Vec<(&str, Edit)> = vec![
        ("none", |_| {}),
        ("seq plain", |d| {
            let seq = d["seq"].clone();
            d.insert("seq".into(), json!(seq_of(&seq)));
        }),
        ("seq numberInt", |d| {
            let seq = seq_of(&d["seq"]);
            d.insert("seq".into(), json!({"$numberInt": seq.to_string()}));
        }),
        ("seq float", |d| {
            let seq = seq_of(&d["seq"]);
            d.insert("seq".into(), json!(seq as f64));
        }),
        ("seq string", |d| {
            let seq = seq_of(&d["seq"]);
            d.insert("seq".into(), json!(seq.to_string()));
        }),
        ("seq numberDouble", |d| {
            let seq = seq_of(&d["seq"]);
            d.insert("seq".into(), json!({"$numberDouble": format!("{seq}.0")}));
        }),
        ("seq huge", |d| {
            d.insert("seq".into(), json!(1e20));
        }),
        ("seq numberLong bad", |d| {
            d.insert("seq".into(), json!({"$numberLong": "12x"}));
        }),
        ("v float", |d| {
            d.insert("v".into(), json!(1.0));
        }),
        ("v long", |d| {
            d.insert("v".into(), json!({"$numberLong": "1"}));
        }),
        ("v 2", |d| {
            d.insert("v".into(), json!(2));
        }),
        ("v 300", |d| {
            d.insert("v".into(), json!(300));
        }),
        ("v null", |d| {
            d.insert("v".into(), Value::Null);
        }),
        ("v extra key", |d| {
            d.insert("v".into(), json!({"$numberInt": "1", "x": 1}));
        }),
        ("timestamp relaxed", |d| {
            d.insert(
                "timestamp".into(),
                json!({"$date": "2023-11-14T22:13:20.000Z"}),
            );
        }),
        ("timestamp offset", |d| {
            d.insert(
                "timestamp".into(),
                json!({"$date": "2023-11-14T23:13:20+01:00"}),
            );
        }),
        ("timestamp legacy", |d| {
            d.insert("timestamp".into(), json!({"$date": 1_700_000_005_000_i64}));
        }),
        ("timestamp bad long", |d| {
            d.insert("timestamp".into(), json!({"$date": {"$numberLong": "abc"}}));
        }),
        ("timestamp float", |d| {
            d.insert("timestamp".into(), json!({"$date": 1.5}));
        }),
        ("timestamp garbage", |d| {
            d.insert("timestamp".into(), json!({"$date": "garbage"}));
        }),
        ("timestamp null", |d| {
            d.insert("timestamp".into(), Value::Null);
        }),
        ("timestamp extra", |d| {
            d.insert("timestamp".into(), json!({"$date": 5, "x": 1}));
        }),
        ("removeAt null", |d| {
            d.insert("removeAt".into(), Value::Null);
        }),
        ("removeAt absent", |d| {
            d.remove("removeAt");
        }),
        ("removeAt relaxed", |d| {
            d.insert("removeAt".into(), json!({"$date": "2030-03-17T17:46:40Z"}));
        }),
        ("seal subtype 0", |d| {
            set_binary_field(d, "seal", "subType", json!("0"))
        }),
        ("seal subtype 000", |d| {
            set_binary_field(d, "seal", "subType", json!("000"))
        }),
        ("seal subtype 80", |d| {
            set_binary_field(d, "seal", "subType", json!("80"))
        }),
        ("seal subtype AB", |d| {
            set_binary_field(d, "seal", "subType", json!("AB"))
        }),
        ("seal base64 unpadded", |d| {
            let b = d["seal"]["$binary"]["base64"]
                .as_str()
                .unwrap()
                .trim_end_matches('=')
                .to_owned();
            set_binary_field(d, "seal", "base64", json!(b));
        }),
        ("seal base64 bad", |d| {
            set_binary_field(d, "seal", "base64", json!("!!!!"))
        }),
        ("seal body extra", |d| {
            set_binary_field(d, "seal", "x", json!(1))
        }),
        ("seal legacy", |d| {
            let b = d["seal"]["$binary"]["base64"].clone();
            d.insert("seal".into(), json!({"$binary": b, "$type": "00"}));
        }),
        ("prev null", |d| {
            d.insert("prev".into(), Value::Null);
        }),
        ("prev short", |d| {
            set_binary_field(d, "prev", "base64", json!("AAAA"))
        }),
        ("details null", |d| {
            d.insert("details".into(), Value::Null);
        }),
        ("details empty", |d| {
            d.insert("details".into(), json!([]));
        }),
        ("details object", |d| {
            d.insert("details".into(), json!({}));
        }),
        ("detail extra", |d| {
            d["details"][0]["extra"] = json!({"$oid": "0123456789abcdef01234567"});
        }),
        ("detail extra garbage", |d| {
            d["details"][0]["extra"] = json!({"$date": "garbage"});
        }),
        ("detail v and secure", |d| {
            let secure = d["details"][2]["secure"].clone();
            d["details"][0]["secure"] = secure;
        }),
        ("detail no k", |d| {
            d["details"][1].as_object_mut().unwrap().remove("k");
        }),
        ("detail v number", |d| {
            d["details"][1]["v"] = json!(7);
        }),
        ("detail v symbol", |d| {
            d["details"][1]["v"] = json!({"$symbol": "tls-server"});
        }),
        ("detail dollar key", |d| {
            d["details"][1]["$x"] = json!(1);
        }),
        ("dek null", |d| {
            d["details"][2]["secure"]["dek"] = Value::Null;
        }),
        ("dek absent", |d| {
            d["details"][2]["secure"]
                .as_object_mut()
                .unwrap()
                .remove("dek");
        }),
        ("ct null", |d| {
            d["details"][2]["secure"]["ct"] = Value::Null;
        }),
        ("secure extra garbage", |d| {
            d["details"][2]["secure"]["x"] = json!({"$numberLong": "zz"});
        }),
        ("id oid", |d| {
            d.insert("_id".into(), json!({"$oid": "0123456789abcdef01234567"}));
        }),
        ("id oid bad", |d| {
            d.insert("_id".into(), json!({"$oid": "0123"}));
        }),
        ("id oid extra", |d| {
            d.insert(
                "_id".into(),
                json!({"$oid": "0123456789abcdef01234567", "x": 1}),
            );
        }),
        ("dollar key", |d| {
            d.insert("$foo".into(), json!(1));
        }),
        ("extra bad long", |d| {
            d.insert("x".into(), json!({"$numberLong": "zz"}));
        }),
        ("extra nested", |d| {
            d.insert("x".into(), json!({"a": [1, 2.5, {"b": null}], "c": true}));
        }),
        ("terms garbage", |d| {
            d.insert("terms".into(), json!([{"$date": "garbage"}]));
        }),
        ("anchor null", |d| {
            d.insert("anchor".into(), Value::Null);
        }),
        ("anchor empty", |d| {
            d.insert("anchor".into(), json!({}));
        }),
        ("purged null", |d| {
            d.insert("purged".into(), Value::Null);
        }),
        ("purged empty", |d| {
            d.insert("purged".into(), json!({}));
        }),
        ("purged and anchor null", |d| {
            d.insert("purged".into(), Value::Null);
            d.insert("anchor".into(), Value::Null);
        }),
        ("stub without mark seal", |d| {
            for content in ["code", "module", "node", "status", "details", "terms"] {
                d.remove(content);
            }
            let seal = d["seal"].clone();
            d.insert(
                "purged".into(),
                json!({"digest": seal, "at": {"$date": {"$numberLong": "1"}}, "secretId": "0011223344556677"}),
            );
        }),
        ("stub", |d| {
            for content in ["code", "module", "node", "status", "details", "terms"] {
                d.remove(content);
            }
            let seal = d["seal"].clone();
            d.insert(
                "purged".into(),
                json!({"digest": seal, "at": {"$date": {"$numberLong": "1"}}, "secretId": "0011223344556677", "seal": seal}),
            );
        }),
        ("code number", |d| {
            d.insert("code".into(), json!(5));
        }),
        ("code symbol", |d| {
            d.insert("code".into(), json!({"$symbol": "X"}));
        }),
        ("chain empty", |d| {
            d.insert("chain".into(), json!(""));
        }),
        ("chain absent", |d| {
            d.remove("chain");
        }),
        ("status bogus", |d| {
            d.insert("status".into(), json!("bogus"));
        }),
        ("secretId bad", |d| {
            d.insert("secretId".into(), json!("xyz"));
        }),
        ("node changed", |d| {
            d.insert("node".into(), json!("intruder"));
        }),
    ];
    // Edits of the text: repeated keys, escapes.
    type TextEdit = fn(String) -> String;
    let text_edits: Vec<(&str, TextEdit)> = vec![
        ("repeated key first", |t| {
            t.replacen('{', "{\"code\":\"X\",", 1)
        }),
        ("repeated key last", |t| {
            format!("{},\"code\":\"X\"}}", t.strip_suffix('}').unwrap())
        }),
        ("repeated seal", |t| {
            format!("{},\"seal\":null}}", t.strip_suffix('}').unwrap())
        }),
        ("escaped string", |t| {
            t.replacen("LIFECYCLE-", "LIFECYCLE\\u002d", 1)
        }),
        ("escaped key", |t| {
            t.replacen("\"node\"", "\"no\\u0064e\"", 1)
        }),
    ];
    let count = edits.len() + text_edits.len();
    let events = chain_of("ca", 2 * count as u64, SECRET);
    let mut text = String::new();
    for (i, event) in events.iter().enumerate() {
        let bson = Bson::Document(event_to_document(event));
        let value = if i < count {
            bson.into_canonical_extjson()
        } else {
            bson.into_relaxed_extjson()
        };
        let Value::Object(mut map) = value else {
            unreachable!()
        };
        let n = i % count;
        let line = if let Some((_, edit)) = edits.get(n) {
            edit(&mut map);
            Value::Object(map).to_string()
        } else {
            (text_edits[n - edits.len()].1)(Value::Object(map).to_string())
        };
        text.push_str(&line);
        text.push('\n');
    }
    let dir = scratch();
    for (name, bytes) in [
        ("lines.json", text.clone().into_bytes()),
        (
            "array.json",
            format!("[{}]", text.trim_end().replace('\n', ",\n")).into_bytes(),
        ),
    ] {
        let path = write(&dir, name, &bytes);
        let fast = verify(with_secret(&[&path])).run();
        let generic = verify(with_secret(&[&path]))
            .env("VERIFY_CHAIN_GENERIC_JSON", "1")
            .run();
        fast.expect_code(1).stdout_has("malformed record");
        assert_eq!(fast.code, generic.code);
        let (fast_lines, generic_lines): (Vec<&str>, Vec<&str>) = (
            fast.stdout.lines().collect(),
            generic.stdout.lines().collect(),
        );
        for (f, g) in fast_lines.iter().zip(&generic_lines) {
            assert_eq!(f, g, "the fast reader differs");
        }
        assert_eq!(
            fast_lines.len(),
            generic_lines.len(),
            "{fast:#?} {generic:#?}"
        );
    }
}

/// The sequence number of an Extended JSON `{"$numberLong": "…"}` or number.
fn seq_of(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value["$numberLong"].as_str().and_then(|s| s.parse().ok()))
        .unwrap()
}

/// Sets `field` of the `$binary` body of `key`.
fn set_binary_field(d: &mut serde_json::Map<String, Value>, key: &str, field: &str, to: Value) {
    d[key]["$binary"][field] = to;
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let events = chain_of("ca", 9, SECRET);
    for format in [Export::Bson, Export::BsonGz, Export::Relaxed] {
        verify(["--seal-secret", SECRET, "-"])
            .stdin(format.bytes(&documents(&events)))
            .run()
            .expect_code(0)
            .stdout_has("chain ca: 9 events, seq 1..9: OK");
    }
    verify(["--seal-secret", SECRET, "-"])
        .stdin(b"garbage garbage".to_vec())
        .run()
        .expect_code(2)
        .stderr_has("<stdin>");
}

#[test]
fn json_output_is_one_machine_readable_object() {
    let dir = scratch();
    let mut events = chain_of("ca", 10, SECRET);
    let path = export(&dir, Export::Bson, &events);
    let run = verify([
        "--json".as_ref(),
        "--seal-secret".as_ref(),
        SECRET.as_ref(),
        path.as_os_str(),
    ])
    .run();
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["records"], 10);
    assert!(report["sealedBytes"].as_u64().unwrap() > 0);
    assert_eq!(report["totalFindings"], 0);
    let chain = &report["chains"][0];
    assert_eq!(chain["chain"], "ca");
    assert_eq!(chain["events"], 10);
    assert_eq!(chain["firstSeq"], 1);
    assert_eq!(chain["lastSeq"], 10);
    assert_eq!(chain["headSeal"], events[9].seal.to_hex());
    assert_eq!(chain["errors"], 0);
    assert_eq!(chain["warnings"], 0);

    events[3].module = "forged".into();
    let path = export(&dir, Export::Canonical, &events);
    let run = verify([
        "--json".as_ref(),
        "--seal-secret".as_ref(),
        SECRET.as_ref(),
        path.as_os_str(),
    ])
    .run();
    run.expect_code(1);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    let report = run.json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["totalFindings"], 1);
    let finding = &report["findings"][0];
    assert_eq!(finding["chain"], "ca");
    assert_eq!(finding["seq"], 4);
    assert_eq!(finding["kind"], "modified");
    assert!(finding["message"].as_str().unwrap().contains("modified"));
    assert_eq!(report["chains"][0]["errors"], 1);
}

#[test]
fn the_quickstart_export_verifies() {
    let dir = scratch();
    let export = dir.path().join("quickstart.json");
    let keyset = Keyset::generate(Template::AES256_GCM_SIV).insecure_to_json();
    let output = Command::new(examples().join(exe_name("quickstart")))
        .args(["--events", "300", "--export"])
        .arg(&export)
        .current_dir(dir.path())
        .env("KEYSET", keyset)
        .env("EVENT_SEAL_SECRET", SECRET)
        .env_remove("MONGODB_URI")
        .output()
        .expect("run quickstart");
    assert!(
        output.status.success(),
        "quickstart failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    verify(with_secret(&[&export]))
        .run()
        .expect_code(0)
        .stdout_has("chain quickstart: 300 events, seq 1..300: OK");
    verify([&export])
        .env("EVENT_SEAL_SECRET", OTHER_SECRET)
        .run()
        .expect_code(1);
}

// ------------- format 2: stubs, shred and rotation records, deep checks

/// When the events of [`expiring`] may be purged: after all of them, long
/// before the tests run.
const EXPIRED_AT: i64 = 1_700_000_000_000 + 100_000_000;

/// The draft of event `i`, whose retention date has passed.
fn expiring(i: u64) -> EventDraft {
    draft(i).remove_at(Timestamp::from_millis(EXPIRED_AT))
}

/// A chain sealed by `chainer` from genesis; with its head, to go on.
fn sealed_chain(
    chainer: &Chainer,
    chain: &str,
    drafts: impl IntoIterator<Item = EventDraft>,
) -> (Head, Vec<SealedEvent>) {
    let mut head = Head::genesis(ChainId::new(chain).unwrap());
    let events = drafts
        .into_iter()
        .map(|d| chainer.seal(&mut head, &d).unwrap())
        .collect();
    (head, events)
}

/// The shred record of detail `subject` of event `target`, sealed at `head`.
fn shred_record(chainer: &Chainer, head: &mut Head, target: u64) -> SealedEvent {
    let record = ShredRecord {
        target,
        keys: vec!["subject".to_owned()],
        reason: "erasure request".to_owned(),
    };
    chainer
        .seal(head, &record.draft("pod-0", 1_700_000_200_000))
        .unwrap()
}

/// The wrapped data key of detail `key` of `event`.
fn dek_mut<'a>(event: &'a mut SealedEvent, key: &str) -> &'a mut Option<Vec<u8>> {
    event
        .details
        .iter_mut()
        .find_map(|d| match &mut d.value {
            DetailValue::Sensitive(v) if d.key == key => Some(&mut v.wrapped_dek),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no sensitive detail `{key}`"))
}

/// `--json --seal-secret SECRET` and `args`.
fn json_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<std::ffi::OsString> {
    let mut all: Vec<std::ffi::OsString> = vec!["--json".into()];
    all.extend(with_secret(&[]));
    all.extend(args.iter().map(|a| a.as_ref().to_owned()));
    all
}

impl Run {
    /// The findings of a `--json` run: `(chain#seq, kind)`.
    fn json_findings(&self) -> Vec<(String, String)> {
        self.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    format!("{}#{}", f["chain"].as_str().unwrap(), f["seq"]),
                    f["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Asserts that neither output holds any of `secrets`.
    fn leaks_none(&self, secrets: &[String]) -> &Run {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret.as_str()) && !self.stderr.contains(secret.as_str()),
                "key material printed: {self:#?}"
            );
        }
        self
    }
}

/// `(chain#seq, kind)` pairs, for comparing with [`Run::json_findings`].
fn found(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(at, kind)| ((*at).to_owned(), (*kind).to_owned()))
        .collect()
}

/// The key material of a keyset (base64 of every `keyData.value`), which
/// must never be printed.
fn material(keyset: &Keyset) -> Vec<String> {
    let json: Value = serde_json::from_str(&keyset.insecure_to_json()).unwrap();
    json["key"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["keyData"]["value"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_chain_with_purged_stubs_verifies_in_every_format() {
    let dir = scratch();
    let secret = SealSecret::from_env_value(SECRET).unwrap();
    let (_, mut events) = sealed_chain(&chainer(secrets(SECRET)), "ca", (1..=12).map(expiring));
    // Retention purged events anywhere in the chain, the genesis and the
    // head included: stubs, their content gone, their place kept.
    let purged_at = common::now_ms() - 60_000;
    for i in [0, 4, 5, 11] {
        events[i].purge(purged_at, &secret).unwrap();
        assert!(events[i].is_stub() && events[i].details.is_empty());
    }
    for format in ALL {
        let path = export(&dir, format, &events);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(0)
            .stdout_has("chain ca: 12 events, seq 1..12: OK")
            .stdout_has("12 records in 1 chain");
        assert!(!run.stdout.contains('#'), "{format:?}: {run:#?}");
        // Every JSON document through the generic conversion: the same.
        verify(with_secret(&[&path]))
            .env("VERIFY_CHAIN_GENERIC_JSON", "1")
            .run()
            .expect_code(0)
            .stdout_has("chain ca: 12 events, seq 1..12: OK");
    }
    let path = export(&dir, Export::Bson, &events);
    let run = verify(json_args(&[&path])).run();
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report["chains"][0]["events"], 12);
    assert_eq!(report["chains"][0]["stubs"], 4, "purged, told from deleted");
    assert_eq!(report["chains"][0]["lastSeq"], 12);
    assert_eq!(report["chains"][0]["headSeal"], events[11].seal.to_hex());
    assert_eq!(report["totalFindings"], 0);
    // Standard input reads stubs too.
    verify(["--seal-secret", SECRET, "-"])
        .stdin(Export::Relaxed.bytes(&documents(&events)))
        .run()
        .expect_code(0)
        .stdout_has("chain ca: 12 events, seq 1..12: OK");
}

#[test]
fn a_forged_stub_is_stripped_at_its_position() {
    let dir = scratch();
    let secret = SealSecret::from_env_value(SECRET).unwrap();
    let (_, events) = sealed_chain(&chainer(secrets(SECRET)), "ca", (1..=8).map(expiring));
    let now = common::now_ms();
    // The stub of event 4 with a purge mark `edit` gives, resealed by the
    // secret when `reseal` (an insider or a bug, not an outsider).
    let stub = |edit: &dyn Fn(&mut PurgeMark), reseal: bool| {
        let mut forged = events.clone();
        let event = &mut forged[3];
        event.purge(EXPIRED_AT, &secret).unwrap();
        let mut mark = event.purged.take().unwrap();
        edit(&mut mark);
        if reseal {
            mark.seal = secret.seal(|s| mark.write_canonical(event, s));
        }
        event.purged = Some(mark);
        forged
    };
    let cases: Vec<(&str, Vec<SealedEvent>, &str)> = vec![
        // An outsider strips the content and cannot seal the mark.
        (
            "bad seal",
            stub(&|m| m.seal = Seal([0x5a; 32]), false),
            "not authentic",
        ),
        (
            "mark of an unknown secret",
            stub(&|m| m.secret_id = SecretId([7; 8]), false),
            "unknown seal secret id",
        ),
        (
            "purged before its removeAt",
            stub(&|m| m.purged_ms = EXPIRED_AT - 1, true),
            "before its removeAt",
        ),
        (
            "mark dated in the future",
            stub(&|m| m.purged_ms = now + 86_400_000, true),
            "dated in the future",
        ),
    ];
    for (name, forged, why) in &cases {
        for format in [Export::Bson, Export::Canonical, Export::Relaxed] {
            let path = export(&dir, format, forged);
            let run = verify(with_secret(&[&path])).run();
            run.expect_code(1)
                .stdout_has("chain ca: 8 events, seq 1..8: FAILED (1 error, 0 warnings)");
            let finding = run.first_finding();
            assert!(
                finding.starts_with("ca#4: stripped: the content is gone") && finding.contains(why),
                "{name}, {format:?}: {run:#?}"
            );
            let run = verify(json_args(&[&path])).run();
            assert_eq!(
                run.json_findings(),
                found(&[("ca#4", "stripped")]),
                "{name}, {format:?}: {run:#?}"
            );
        }
    }
    // A mark whose digest is not the content's: the event's seal breaks.
    let wrong_digest = stub(&|m| m.digest[0] ^= 1, true);
    let path = export(&dir, Export::Bson, &wrong_digest);
    let run = verify(json_args(&[&path])).run();
    assert_eq!(
        run.json_findings(),
        found(&[("ca#4", "modified")]),
        "{run:#?}"
    );
    // Content removed, no mark at all: not an event, found at its place.
    let mut docs = documents(&stub(&|_| {}, false));
    docs[3].remove("purged");
    for format in [Export::Bson, Export::Canonical] {
        let path = write(&dir, format.file_name(), &format.bytes(&docs));
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1);
        assert!(
            run.first_finding()
                .starts_with("ca#4: malformed record: field `code`"),
            "{format:?}: {run:#?}"
        );
        assert!(!run.stdout.contains("gap"), "{run:#?}");
    }
}

#[test]
fn an_erased_data_key_without_shred_record_is_key_erased() {
    let dir = scratch();
    let chainer = chainer(secrets(SECRET));
    let (mut head, mut events) = sealed_chain(&chainer, "ca", (1..=10).map(draft));
    assert_eq!(events[4].shred(None), 1);
    for format in [Export::Bson, Export::Canonical, Export::BsonGz] {
        let path = export(&dir, format, &events);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1)
            .stdout_has("chain ca: 10 events, seq 1..10: FAILED");
        assert!(
            run.first_finding().starts_with(
                "ca#5: key erased: the data key of detail `subject` is gone and no shred record covers it"
            ),
            "{format:?}: {run:#?}"
        );
        let run = verify(json_args(&[&path])).run();
        assert_eq!(run.json_findings(), found(&[("ca#5", "key_erased")]));
    }
    // Found from a stream as well: erased keys are checked at the end.
    verify(["--seal-secret", SECRET, "-"])
        .stdin(Export::Bson.bytes(&documents(&events)))
        .run()
        .expect_code(1)
        .stdout_has("ca#5: key erased");
    // A shred as the store makes it: the record explains the erasure.
    let record = shred_record(&chainer, &mut head, 5);
    events.push(record);
    for format in [Export::Bson, Export::Relaxed] {
        let path = export(&dir, format, &events);
        verify(with_secret(&[&path]))
            .run()
            .expect_code(0)
            .stdout_has("chain ca: 11 events, seq 1..11: OK");
    }
    verify(["--seal-secret", SECRET, "-"])
        .stdin(Export::Bson.bytes(&documents(&events)))
        .run()
        .expect_code(0);
    // A record of another event does not cover it.
    let mut wrong = events.clone();
    wrong.pop();
    let mut head = Head::after(wrong.last().unwrap());
    wrong.push(shred_record(&chainer, &mut head, 6));
    let path = export(&dir, Export::Bson, &wrong);
    let run = verify(json_args(&[&path])).run();
    let findings = run.json_findings();
    assert!(
        findings.contains(&("ca#5".to_owned(), "key_erased".to_owned())),
        "{run:#?}"
    );
}

#[test]
fn a_shredded_key_restored_from_a_backup_is_unshredded_in_files() {
    let dir = scratch();
    let chainer = chainer(secrets(SECRET));
    let (mut head, mut events) = sealed_chain(&chainer, "ca", (1..=10).map(draft));
    // The store shredded event 5 and recorded it (11); a restore from an
    // older backup brought the data key back.
    events.push(shred_record(&chainer, &mut head, 5));
    for format in ALL {
        let path = export(&dir, format, &events);
        let run = verify(with_secret(&[&path])).run();
        run.expect_code(1)
            .stdout_has("chain ca: 11 events, seq 1..11: FAILED (1 error, 0 warnings)")
            // Read twice, counted once.
            .stdout_has("11 records in 1 chain");
        assert!(
            run.first_finding().starts_with(
                "ca#5: unshredded: the data key of detail `subject` is present although a shred record covers it"
            ),
            "{format:?}: {run:#?}"
        );
        assert!(!run.stderr.contains("cannot be detected"), "{run:#?}");
        let run = verify(json_args(&[&path])).run();
        assert_eq!(run.json_findings(), found(&[("ca#5", "unshredded")]));
    }
    // The record in a later file than the event: the first pass reads all.
    let before = export(&dir, Export::Bson, &events[..10]);
    let after = write(
        &dir,
        "later.json",
        &Export::Canonical.bytes(&documents(&events[10..])),
    );
    let run = verify(json_args(&[&before, &after])).run();
    assert_eq!(run.json_findings(), found(&[("ca#5", "unshredded")]));
    // A stream is read once: the record comes too late, and a note says so.
    verify(["--seal-secret", SECRET, "-"])
        .stdin(Export::Bson.bytes(&documents(&events)))
        .run()
        .expect_code(0)
        .stderr_has("<stdin> is read once")
        .stderr_has("restored from a backup cannot be detected");
    // So is a pipe given by name.
    #[cfg(unix)]
    verify(["--seal-secret", SECRET, "/dev/stdin"])
        .stdin(Export::Bson.bytes(&documents(&events)))
        .run()
        .expect_code(0)
        .stderr_has("/dev/stdin is read once");
    // Shredded for real: verifies, from files and from a stream.
    events[4].shred(Some("subject"));
    let path = export(&dir, Export::Canonical, &events);
    verify(with_secret(&[&path])).run().expect_code(0);
    verify(["--seal-secret", SECRET, "-"])
        .stdin(Export::Canonical.bytes(&documents(&events)))
        .run()
        .expect_code(0);
}

#[test]
fn a_retired_secret_sealing_after_a_rotation_record_is_found() {
    let dir = scratch();
    let a = secrets(OTHER_SECRET);
    let sealer_a = chainer(a.clone());
    let mut head = Head::genesis(ChainId::new("ca").unwrap());
    let mut events = seal_as_a_store(&sealer_a, &mut head, &[], (1..=3).map(draft));
    // A pod with B current and A retired takes over: rotation record (4).
    let mut b = secrets(SECRET);
    b.add_retired(SealSecret::from_env_value(OTHER_SECRET).unwrap());
    let sealer_b = chainer(b);
    let more = seal_as_a_store(&sealer_b, &mut head, &events, [draft(5)]);
    events.extend(more);
    assert!(RotationRecord::parse(&events[3]).is_some_and(|r| r.is_ok()));
    assert_eq!(events.len(), 5);
    // Then the retired secret A (leaked?) seals an event linked after it.
    events.push(sealer_a.seal(&mut head, &draft(6)).unwrap());
    let path = export(&dir, Export::Bson, &events[..5]);
    let both = |path: &Path, json: bool| {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if json {
            args.push("--json".into());
        }
        args.extend(["--seal-secret", SECRET, "--seal-secret", OTHER_SECRET].map(Into::into));
        args.push(path.into());
        verify(args).run()
    };
    both(&path, false)
        .expect_code(0)
        .stdout_has("chain ca: 5 events, seq 1..5: OK");
    for format in [Export::Bson, Export::JsonArray] {
        let path = export(&dir, format, &events);
        let run = both(&path, false);
        run.expect_code(1)
            .stdout_has("chain ca: 6 events, seq 1..6: FAILED");
        assert!(
            run.first_finding().starts_with("ca#6: retired secret"),
            "{format:?}: {run:#?}"
        );
        assert_eq!(
            both(&path, true).json_findings(),
            found(&[("ca#6", "retired_secret")])
        );
    }
}

#[test]
fn a_secret_change_without_rotation_record_is_unannounced() {
    let dir = scratch();
    let mut rotating = secrets(OTHER_SECRET);
    let old = chainer(rotating.clone());
    let mut head = Head::genesis(ChainId::new("ca").unwrap());
    let mut events: Vec<SealedEvent> = (1..=6)
        .map(|i| old.seal(&mut head, &draft(i)).unwrap())
        .collect();
    rotating.rotate(SealSecret::from_env_value(SECRET).unwrap());
    let new = chainer(rotating);
    // Sealed by the new secret without the record a store writes first.
    events.extend((7..=9).map(|i| new.seal(&mut head, &draft(i)).unwrap()));
    let path = export(&dir, Export::Bson, &events);
    let args = |json: bool| {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if json {
            args.push("--json".into());
        }
        args.extend(["--seal-secret", SECRET, "--seal-secret", OTHER_SECRET].map(Into::into));
        args.push(path.clone().into());
        args
    };
    let run = verify(args(false)).run();
    run.expect_code(1);
    assert!(
        run.first_finding().starts_with("ca#7: unannounced secret"),
        "{run:#?}"
    );
    // Each event of the other secret: the chain's secret did not change.
    assert_eq!(
        verify(args(true)).run().json_findings(),
        found(&[
            ("ca#7", "unannounced_secret"),
            ("ca#8", "unannounced_secret"),
            ("ca#9", "unannounced_secret")
        ])
    );
}

#[test]
fn deep_verification_opens_every_detail_with_the_keyset() {
    let dir = scratch();
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let secret = SealSecret::from_env_value(SECRET).unwrap();
    let chainer = Chainer::new(
        secrets(SECRET),
        Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    let (mut head, mut events) = sealed_chain(&chainer, "ca", (1..=10).map(expiring));
    // A stub and a recorded shred hold nothing to decrypt: not findings.
    events[1].purge(common::now_ms() - 1000, &secret).unwrap();
    events[6].shred(None);
    events.push(shred_record(&chainer, &mut head, 7));
    let keyset_file = write(&dir, "keyset.json", keyset.insecure_to_json().as_bytes());
    let secrets_of_keys = material(&keyset);
    let deep = |path: &Path, keys: &Path, json: bool| {
        let mut args: Vec<std::ffi::OsString> = if json {
            json_args::<&str>(&[])
        } else {
            with_secret(&[])
        };
        args.extend(["--keyset".into(), keys.into(), path.into()]);
        verify(args).run()
    };
    for format in [Export::Bson, Export::Canonical] {
        let path = export(&dir, format, &events);
        deep(&path, &keyset_file, false)
            .expect_code(0)
            .stdout_has("chain ca: 11 events, seq 1..11: OK")
            .leaks_none(&secrets_of_keys);
    }

    // Wrapped keys swapped between events 3 and 9, and event 6's
    // corrupted: unsealed, so the seals still verify...
    let mut tampered = events.clone();
    let (three, nine) = (
        dek_mut(&mut tampered[2], "subject").clone(),
        dek_mut(&mut tampered[8], "subject").clone(),
    );
    *dek_mut(&mut tampered[2], "subject") = nine;
    *dek_mut(&mut tampered[8], "subject") = three;
    let corrupted = dek_mut(&mut tampered[5], "subject").as_mut().unwrap();
    let last = corrupted.len() - 1;
    corrupted[last] ^= 1;
    for format in [Export::Bson, Export::Relaxed] {
        let path = export(&dir, format, &tampered);
        verify(with_secret(&[&path])).run().expect_code(0);
        // ... but with the keyset they do not decrypt.
        let run = deep(&path, &keyset_file, false);
        run.expect_code(1)
            .stdout_has("chain ca: 11 events, seq 1..11: FAILED (3 errors, 0 warnings)")
            .stdout_has("ca#6: undecryptable: detail `subject`: decryption failed")
            .stdout_has("ca#9: undecryptable: detail `subject`")
            .leaks_none(&secrets_of_keys);
        assert!(
            run.first_finding()
                .starts_with("ca#3: undecryptable: detail `subject`"),
            "{format:?}: {run:#?}"
        );
        assert_eq!(
            deep(&path, &keyset_file, true).json_findings(),
            found(&[
                ("ca#3", "undecryptable"),
                ("ca#6", "undecryptable"),
                ("ca#9", "undecryptable")
            ])
        );
    }

    // A keyset without the key that wrapped them (another one, not rolled
    // out): every detail, with the key it needs.
    let other = Keyset::generate(Template::AES256_GCM_SIV);
    let other_file = write(&dir, "other.json", other.insecure_to_json().as_bytes());
    let path = export(&dir, Export::Bson, &events);
    let run = deep(&path, &other_file, false);
    run.expect_code(1).leaks_none(&material(&other));
    let message = format!(
        "ca#1: undecryptable: detail `subject`: key {} is not in this keyset",
        keyset.primary_id()
    );
    assert!(run.first_finding().starts_with(&message), "{run:#?}");
    let kinds = deep(&path, &other_file, true).json_findings();
    // Events 1, 3..=6, 8..=10: the stub (2) and the shredded (7) aside.
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert!(kinds.iter().all(|(_, kind)| kind == "undecryptable"));

    // A rotated keyset (a new primary, the old key kept) still opens them.
    let mut rotated = Keyset::parse(keyset.insecure_to_json().as_bytes()).unwrap();
    let new_key = rotated.add(Template::AES256_GCM_SIV);
    rotated.promote(new_key).unwrap();
    let rotated_file = write(&dir, "rotated.json", &rotated.insecure_to_binary());
    deep(&path, &rotated_file, false).expect_code(0);
}

#[test]
fn an_encrypted_keyset_is_opened_with_its_master_keyset() {
    let dir = scratch();
    let keyset = Keyset::generate(Template::AES256_GCM_SIV);
    let master = Keyset::generate(Template::AES256_GCM_SIV);
    let master_aead = master.aead().unwrap();
    let chainer = Chainer::new(
        secrets(SECRET),
        Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    );
    let (_, events) = sealed_chain(&chainer, "ca", (1..=6).map(draft));
    let path = export(&dir, Export::Bson, &events);
    let mut swapped = events.clone();
    let first = dek_mut(&mut swapped[0], "subject").clone();
    *dek_mut(&mut swapped[0], "subject") = dek_mut(&mut swapped[4], "subject").clone();
    *dek_mut(&mut swapped[4], "subject") = first;
    let swapped_path = write(
        &dir,
        "swapped.bson",
        &Export::Bson.bytes(&documents(&swapped)),
    );

    // As `keyset --master-keyset` writes it: no associated data.
    let encrypted = write(
        &dir,
        "keyset.enc.json",
        keyset
            .to_encrypted_json(&master_aead, b"")
            .unwrap()
            .as_bytes(),
    );
    let master_file = write(&dir, "master.json", master.insecure_to_json().as_bytes());
    let secrets_of_keys: Vec<String> = [material(&keyset), material(&master)].concat();
    let with_master = |keys: &Path, master: &Path, extra: &[&str], input: &Path| {
        let mut args = with_secret(&[]);
        args.extend(["--keyset".into(), keys.into()]);
        args.extend(["--master-keyset".into(), master.into()]);
        args.extend(extra.iter().map(Into::into));
        args.push(input.into());
        verify(args).run()
    };
    with_master(&encrypted, &master_file, &[], &path)
        .expect_code(0)
        .stdout_has("chain ca: 6 events, seq 1..6: OK")
        .leaks_none(&secrets_of_keys);
    let run = with_master(&encrypted, &master_file, &[], &swapped_path);
    run.expect_code(1)
        .stdout_has("ca#1: undecryptable")
        .stdout_has("ca#5: undecryptable")
        .leaks_none(&secrets_of_keys);

    // With associated data, given by --master-aad-hex.
    let with_aad = write(
        &dir,
        "keyset.aad.bin",
        &keyset
            .to_encrypted_binary(&master_aead, b"keyset:audit")
            .unwrap(),
    );
    let aad_hex = hex::encode(b"keyset:audit");
    with_master(
        &with_aad,
        &master_file,
        &["--master-aad-hex", &aad_hex],
        &path,
    )
    .expect_code(0);
    with_master(&with_aad, &master_file, &[], &path)
        .expect_code(2)
        .stderr_has("--keyset")
        .stderr_has("keyset.aad.bin: the master keyset")
        .stderr_has("does not decrypt it: authentication failed")
        .stderr_has("--master-aad-hex");

    // The wrong master: a clear error, exit 2, nothing verified.
    let wrong = Keyset::generate(Template::AES256_GCM_SIV);
    let wrong_file = write(
        &dir,
        "wrong-master.json",
        wrong.insecure_to_json().as_bytes(),
    );
    let run = with_master(&encrypted, &wrong_file, &[], &path);
    run.expect_code(2)
        .stderr_has(&format!("--keyset {}", encrypted.display()))
        .stderr_has("wrong-master.json does not decrypt it")
        .stderr_has(&format!(
            "it was encrypted by key {}, which the master keyset does not hold",
            master.primary_id()
        ))
        .stderr_has("give the master keyset that encrypted it")
        .leaks_none(&secrets_of_keys)
        .leaks_none(&material(&wrong));
    assert!(run.stdout.is_empty(), "{run:#?}");

    // The usual mistakes.
    let mut args = with_secret(&[]);
    args.extend([
        "--keyset".into(),
        encrypted.clone().into(),
        path.clone().into(),
    ]);
    verify(args)
        .run()
        .expect_code(2)
        .stderr_has("this is an encrypted keyset: pass --master-keyset FILE");
    let cleartext = write(&dir, "clear.json", keyset.insecure_to_json().as_bytes());
    with_master(&cleartext, &master_file, &[], &path)
        .expect_code(2)
        .stderr_has("drop --master-keyset")
        .leaks_none(&secrets_of_keys);
    with_master(&encrypted, &encrypted, &[], &path)
        .expect_code(2)
        .stderr_has(&format!("--master-keyset {}: ", encrypted.display()))
        .stderr_has("this is an encrypted keyset");
    // --master-keyset needs --keyset, --master-aad-hex a master, in hex.
    let mut args = with_secret(&[]);
    args.extend([
        "--master-keyset".into(),
        master_file.clone().into(),
        path.clone().into(),
    ]);
    verify(args).run().expect_code(2);
    let mut args = with_secret(&[]);
    args.extend([
        "--keyset".into(),
        encrypted.clone().into(),
        "--master-aad-hex".into(),
        "00".into(),
        path.clone().into(),
    ]);
    verify(args).run().expect_code(2);
    with_master(&with_aad, &master_file, &["--master-aad-hex", "zz"], &path).expect_code(2);
}

#[test]
fn a_bad_keyset_file_is_an_input_error() {
    let dir = scratch();
    let path = export(&dir, Export::Bson, &chain_of("ca", 3, SECRET));
    let master = write(
        &dir,
        "master.json",
        Keyset::generate(Template::AES256_GCM_SIV)
            .insecure_to_json()
            .as_bytes(),
    );
    let garbage = write(&dir, "garbage.json", b"{\"primaryKeyId\": 1, \"key\": [");
    let empty = write(&dir, "empty.json", b"{\"key\": []}");
    let binary = write(&dir, "random.bin", &[0xff; 64]);
    let missing = dir.path().join("missing.json");
    let run_with = |extra: &[&Path]| {
        let mut args = with_secret(&[]);
        for (flag, file) in ["--keyset", "--master-keyset"].iter().zip(extra) {
            args.extend([(*flag).into(), file.into()]);
        }
        args.push(path.clone().into());
        verify(args).run()
    };
    for (file, message) in [
        (&garbage, "malformed keyset JSON"),
        (&empty, "holds no key"),
        (&binary, "malformed protobuf"),
        (&missing, "cannot read"),
    ] {
        let run = run_with(&[file]);
        run.expect_code(2)
            .stderr_has(&format!("verify_chain: --keyset {}: ", file.display()))
            .stderr_has(message);
        assert!(run.stdout.is_empty(), "{run:#?}");
        // An encrypted keyset file that is no keyset at all.
        run_with(&[file, &master])
            .expect_code(2)
            .stderr_has(&format!("--keyset {}: ", file.display()));
        run_with(&[&garbage, file])
            .expect_code(2)
            .stderr_has(&format!("--master-keyset {}: ", file.display()))
            .stderr_has(message);
    }
}

/// Writes a 1,000,000-event export (`events.json`, mongoexport JSON lines;
/// `events.bson`, mongodump) for measuring, then verifies both.
#[test]
#[ignore = "writes about 1.5 GB; run in release mode to measure the verifier"]
fn large_export() {
    let n: u64 = std::env::var("VERIFY_CHAIN_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let temp = scratch();
    let dir = std::env::var_os("VERIFY_CHAIN_LARGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_owned());
    fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("events.json");
    let bson_path = dir.join("events.bson");
    let mut json = std::io::BufWriter::new(fs::File::create(&json_path).unwrap());
    let mut bson = std::io::BufWriter::new(fs::File::create(&bson_path).unwrap());
    let chainer = chainer(secrets(SECRET));
    let mut head = Head::genesis(ChainId::new("events").unwrap());
    for i in 1..=n {
        let event = chainer.seal(&mut head, &draft(i)).unwrap();
        let document = event_to_document(&event);
        document.to_writer(&mut bson).unwrap();
        let line = Bson::Document(document)
            .into_canonical_extjson()
            .to_string();
        writeln!(json, "{line}").unwrap();
    }
    json.flush().unwrap();
    bson.flush().unwrap();
    drop((json, bson));
    for path in [&json_path, &bson_path] {
        let started = std::time::Instant::now();
        let run = verify(with_secret(&[path])).run();
        run.expect_code(0);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{}: {} bytes, {n} events in {seconds:.2} s: {:.0} events/s",
            path.display(),
            fs::metadata(path).unwrap().len(),
            n as f64 / seconds
        );
    }
}

// ------------------------------------------- a dump from a real server

#[path = "common/mod.rs"]
mod common;

/// Events written through the MongoDB event log, read back from the server
/// as they are stored (`_id`, derived fields and all), written as a
/// mongodump `.bson` and a mongoexport file: both verify; a document
/// changed on the server is reported at its position.
#[tokio::test]
async fn a_dump_and_an_export_of_a_real_server_verify() {
    use futures_util::TryStreamExt as _;
    use stream_store::mongo::mongodb::bson::{doc, RawDocumentBuf};

    let Some(t) = common::test_db("verify_chain_export").await else {
        return;
    };
    let keyset = common::keyset();
    let log = stream_store::mongo::EventLog::new(
        &t.db,
        common::chainer_with(&keyset),
        stream_store::mongo::LogConfig::default(),
    );
    log.ensure_indexes().await.unwrap();
    for name in ["ca", "ocsp"] {
        let chain = ChainId::new(name).unwrap();
        let drafts = (0..100i64)
            .map(|i| {
                EventDraft::new(
                    "LIFECYCLE-ENROLL",
                    name,
                    "pod-1",
                    Status::Success,
                    Timestamp::from_millis(1_700_000_000_000 + i),
                )
                .public("serial", format!("{i:x}"))
                .sensitive("subject", format!("CN=user-{i}").into_bytes())
            })
            .collect();
        log.append_batch(&chain, drafts).await.unwrap();
    }
    let secret = "integration-test-seal-secret-32c";
    let dir = tempfile::tempdir().unwrap();
    let export = |tag: &'static str| {
        let raw = t.db.collection::<RawDocumentBuf>("events");
        let dir = dir.path().to_owned();
        async move {
            let docs: Vec<RawDocumentBuf> = raw
                .find(doc! {})
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(docs.len(), 200);
            let dump = dir.join(format!("{tag}.bson"));
            let mut bytes = Vec::new();
            let mut lines = String::new();
            for d in &docs {
                bytes.extend_from_slice(d.as_bytes());
                let document = Document::try_from(d.as_ref()).unwrap();
                lines.push_str(
                    &Bson::Document(document)
                        .into_canonical_extjson()
                        .to_string(),
                );
                lines.push('\n');
            }
            fs::write(&dump, bytes).unwrap();
            let json = dir.join(format!("{tag}.json"));
            fs::write(&json, lines).unwrap();
            (dump, json)
        }
    };
    let (dump, json) = export("clean").await;
    for file in [&dump, &json] {
        verify(["--seal-secret", secret, file.to_str().unwrap()])
            .run()
            .expect_code(0);
    }
    log.collection()
        .update_one(
            doc! {"chain": "ocsp", "seq": 42i64},
            doc! {"$set": {"node": "intruder"}},
        )
        .await
        .unwrap();
    let (dump, json) = export("tampered").await;
    for file in [&dump, &json] {
        verify(["--seal-secret", secret, file.to_str().unwrap()])
            .run()
            .expect_code(1)
            .stdout_has("ocsp#42");
    }
    t.drop().await;
}
