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
