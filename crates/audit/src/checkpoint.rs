//! Checkpoint files: one checkpoint object (`docs/FORMAT.md`), or an array
//! of them for several chains, as the verifier saves them after a clean
//! verification and trusts them in a later one. Reading and writing the
//! file itself is the caller's.

use serde_json::Value;
use stream_chain::{Checkpoint, SealSecret, Verifier, VerifyReport};

use crate::error::Error;

/// Reads the checkpoint(s) of a checkpoint file (one object, or an array
/// of them) and has `verifier` trust each in turn; returns how many. The
/// first one that is malformed or refused (see
/// [`Verifier::trust_checkpoint`]) is the error; those before it are
/// trusted already.
pub fn trust(file: &[u8], verifier: &mut Verifier) -> Result<usize, Error> {
    let text = std::str::from_utf8(file).map_err(|_| Error::CheckpointNotText)?;
    let objects: Vec<String> = if text.trim_start().starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(text).map_err(Error::CheckpointArray)?;
        if items.is_empty() {
            return Err(Error::NoCheckpoint);
        }
        items.iter().map(Value::to_string).collect()
    } else {
        vec![text.to_owned()]
    };
    for object in &objects {
        let checkpoint = Checkpoint::from_json(object).map_err(Error::Checkpoint)?;
        let chain = checkpoint.chain.clone();
        verifier
            .trust_checkpoint(checkpoint)
            .map_err(|source| Error::CheckpointRefused { chain, source })?;
    }
    Ok(objects.len())
}

/// The checkpoint file of a report: the checkpoint of every chain without
/// errors that holds an event, sealed by `secret` (one object for one
/// chain, an array for several), ending with a newline; `None` when there
/// is no such chain. Save it only for a report without findings
/// ([`VerifyReport::is_ok`]): a checkpoint vouches for everything before
/// its head.
pub fn file(report: &VerifyReport, secret: &SealSecret) -> Option<String> {
    let checkpoints: Vec<Checkpoint> = report
        .chains
        .iter()
        .filter_map(|summary| Checkpoint::from_summary(summary, secret))
        .collect();
    let mut text = match checkpoints.as_slice() {
        [] => return None,
        [one] => one.to_json(),
        several => {
            let items: Vec<String> = several.iter().map(Checkpoint::to_json).collect();
            format!("[\n{}\n]", items.join(",\n"))
        }
    };
    text.push('\n');
    Some(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::testing::{chain, secrets, verifier};

    fn report_of(events: &[stream_chain::SealedEvent]) -> VerifyReport {
        let mut verifier = verifier();
        events.iter().for_each(|e| verifier.push(e));
        verifier.finish()
    }

    #[test]
    fn a_saved_file_is_trusted_and_detects_a_cut_tail() {
        let events = chain(4);
        let file = file(&report_of(&events), secrets().current()).unwrap();
        assert!(file.starts_with('{') && file.ends_with("}\n"), "{file}");
        let mut later = verifier();
        assert_eq!(trust(file.as_bytes(), &mut later).unwrap(), 1);
        events[..3].iter().for_each(|e| later.push(e));
        assert!(!later.finish().is_ok());
        // An array of them reads too.
        let array = format!("[{}]", file.trim_end());
        assert_eq!(trust(array.as_bytes(), &mut verifier()).unwrap(), 1);
    }

    #[test]
    fn no_chain_no_file() {
        assert_eq!(file(&report_of(&[]), secrets().current()), None);
    }

    #[test]
    fn a_bad_file_is_an_error() {
        let e = |bytes: &[u8]| trust(bytes, &mut verifier()).unwrap_err().to_string();
        assert_eq!(e(b"\xff"), "not UTF-8 text");
        assert_eq!(e(b"[]"), "the array holds no checkpoint");
        assert!(e(b"[1,").starts_with("not a JSON array of checkpoints: "));
        let events = chain(1);
        let file = file(&report_of(&events), secrets().current()).unwrap();
        // Sealed by a secret the verifier does not know.
        let other = SealSecret::from_env_value("another-32-character-seal-secret").unwrap();
        let mut other = Verifier::new(stream_chain::SealSecrets::new(other));
        let refused = trust(file.as_bytes(), &mut other).unwrap_err();
        assert!(
            matches!(refused, Error::CheckpointRefused { .. }),
            "{refused:?}"
        );
        assert!(refused
            .to_string()
            .starts_with("checkpoint of chain `ca`: "));
    }
}
