//! Replays the committed fuzz inputs on stable: every file of
//! `fuzz/corpus/<target>/` (the seeds) and of `fuzz/regressions/<target>/`
//! (crash reproducers, kept as regression tests) through the function of
//! its target. A target whose seed directory is missing or empty fails, so
//! that a corpus lost by accident is not counted as passing; so does a
//! file of `fuzz/fuzz_targets` without a function here, or the reverse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use stream_fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_function_and_the_reverse() {
    let mut on_disk: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut here: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    here.sort();
    assert_eq!(on_disk, here);
    assert!(TARGETS.len() >= 8);
}

#[test]
fn the_seed_corpus_and_the_regressions_replay() {
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let seeds = files(&fuzz_dir().join("corpus").join(name));
        assert!(
            !seeds.is_empty(),
            "fuzz/corpus/{name}/ is missing or empty: run `cargo test -p stream-fuzzing --test seeds -- --ignored`"
        );
        let regressions = files(&fuzz_dir().join("regressions").join(name));
        for file in seeds.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "{name}: {} panics", file.display());
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len());
}

/// The seeds reach the paths past parsing: they decrypt, open, read as
/// events and verify, so that the fuzzer starts from inputs the code
/// accepts.
#[test]
fn the_seeds_are_accepted_inputs() {
    use stream_fuzzing::keys;
    let corpus = fuzz_dir().join("corpus");
    for file in files(&corpus.join("decrypt")) {
        let data = std::fs::read(&file).unwrap();
        let opened = if file.to_string_lossy().contains("envelope") {
            keys::envelope().decrypt(&data, keys::AAD)
        } else {
            keys::test_aead().decrypt(&data, keys::AAD)
        };
        assert!(opened.is_ok(), "{}", file.display());
    }
    for file in files(&corpus.join("keyset_encrypted")) {
        let data = std::fs::read(&file).unwrap();
        stream_keyset::Keyset::parse_encrypted(&data, keys::master_aead(), keys::MASTER_AAD)
            .unwrap();
    }
    for file in files(&corpus.join("bson_event")) {
        let data = std::fs::read(&file).unwrap();
        let raw = bson::RawDocument::from_bytes(&data).unwrap();
        stream_codec::event_from_raw(raw).unwrap();
    }
    for file in files(&corpus.join("sealed_document")) {
        let data = std::fs::read(&file).unwrap();
        let document = bson::Document::from_reader(data.as_slice()).unwrap();
        let (database, collection, id) = keys::DOCUMENT_PLACE;
        stream_mongo::open_document::<stream_fuzzing::SealedRecord>(
            keys::envelope(),
            database,
            collection,
            id,
            document,
        )
        .unwrap();
    }
    for file in files(&corpus.join("checkpoint_file")) {
        let data = std::fs::read(&file).unwrap();
        let mut verifier = keys::verifier();
        assert!(stream_audit::checkpoint::trust(&data, &mut verifier).unwrap() >= 1);
    }
    for dir in ["mongodump", "mongoexport"] {
        for file in files(&corpus.join(dir)) {
            let data = std::fs::read(&file).unwrap();
            let mut verifier = keys::verifier();
            for pass in [stream_audit::Pass::Learn, stream_audit::Pass::Verify] {
                let mut feed = stream_audit::Feed::new(&mut verifier, "seed", pass);
                stream_audit::read_input(data.as_slice(), &mut feed, &Default::default()).unwrap();
            }
            let report = verifier.finish();
            let damaged = file.to_string_lossy().contains("truncated");
            assert_eq!(
                report.is_ok(),
                !damaged,
                "{}: {:?}",
                file.display(),
                report.findings
            );
        }
    }
}
