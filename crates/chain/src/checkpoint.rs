//! Checkpoints: sealed records of a chain's head, kept outside the database.

use serde::{Deserialize, Serialize};

use crate::canonical::{Sink, CHECKPOINT_LABEL};
use crate::error::{Error, Result};
use crate::event::{ChainId, RECORD_VERSION};
use crate::secret::{Seal, SealSecret, SealSecrets, SecretId};
use crate::verify::ChainSummary;

/// A sealed record of a chain's head. Kept outside the database (a file,
/// the auditor's notes), it reveals tail truncation and rollback: a later
/// verification that trusts it fails unless the chain still contains this
/// head or a continuation of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The chain.
    pub chain: ChainId,
    /// The head's sequence number.
    pub seq: u64,
    /// The head's seal.
    pub seal: Seal,
    /// The head's timestamp (UTC milliseconds).
    pub timestamp_ms: i64,
    /// Events verified up to the head.
    pub count: u64,
    /// The secret that sealed the checkpoint.
    pub secret_id: SecretId,
    /// The checkpoint's own seal.
    pub mac: Seal,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckpointJson {
    version: u8,
    chain: String,
    seq: u64,
    seal: String,
    timestamp: i64,
    count: u64,
    secret_id: String,
    mac: String,
}

impl Checkpoint {
    /// Seals a checkpoint of the head `seq`/`seal`.
    pub fn new(
        chain: ChainId,
        seq: u64,
        seal: Seal,
        timestamp_ms: i64,
        count: u64,
        secret: &SealSecret,
    ) -> Checkpoint {
        let mut cp = Checkpoint {
            chain,
            seq,
            seal,
            timestamp_ms,
            count,
            secret_id: secret.id(),
            mac: Seal::GENESIS,
        };
        cp.mac = secret.seal(|s| cp.write_canonical(s));
        cp
    }

    /// The checkpoint of a verified chain's head (`None` for an empty one).
    ///
    /// A checkpoint vouches for its head: none is made for a chain whose
    /// verification found errors.
    pub fn from_summary(summary: &ChainSummary, secret: &SealSecret) -> Option<Checkpoint> {
        if summary.errors > 0 {
            return None;
        }
        Some(Checkpoint::new(
            summary.chain.clone(),
            summary.last_seq?,
            summary.head_seal?,
            summary.last_ts?,
            summary.events,
            secret,
        ))
    }

    /// Writes the canonical bytes the checkpoint's seal covers.
    pub fn write_canonical(&self, s: &mut dyn Sink) {
        s.header(CHECKPOINT_LABEL, RECORD_VERSION);
        s.str(self.chain.as_str());
        s.u64(self.seq);
        s.put(&self.seal.0);
        s.i64(self.timestamp_ms);
        s.u64(self.count);
        s.bytes(&self.secret_id.0);
    }

    /// Checks the checkpoint's own seal.
    pub fn verify(&self, secrets: &SealSecrets) -> Result<()> {
        let secret = secrets
            .get(self.secret_id)
            .ok_or(Error::UnknownSecret(self.secret_id))?;
        if secret.seal(|s| self.write_canonical(s)) != self.mac {
            return Err(Error::NotAuthentic("checkpoint"));
        }
        Ok(())
    }

    /// The checkpoint as a JSON document.
    pub fn to_json(&self) -> String {
        let json = CheckpointJson {
            version: RECORD_VERSION,
            chain: self.chain.to_string(),
            seq: self.seq,
            seal: self.seal.to_hex(),
            timestamp: self.timestamp_ms,
            count: self.count,
            secret_id: self.secret_id.to_hex(),
            mac: self.mac.to_hex(),
        };
        // A struct of strings and integers always serializes.
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }

    /// Reads a checkpoint written by [`Checkpoint::to_json`] (its seal is
    /// not checked here: see [`Checkpoint::verify`]).
    pub fn from_json(text: &str) -> Result<Checkpoint> {
        let bad = |detail: String| Error::Malformed {
            what: "checkpoint",
            detail,
        };
        let json: CheckpointJson = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if json.version != RECORD_VERSION {
            return Err(bad(format!("unknown version {}", json.version)));
        }
        Ok(Checkpoint {
            chain: ChainId::new(&json.chain).map_err(|e| bad(e.to_string()))?,
            seq: json.seq,
            seal: Seal::from_hex(&json.seal).ok_or_else(|| bad("seal is not 64 hex".into()))?,
            timestamp_ms: json.timestamp,
            count: json.count,
            secret_id: SecretId::from_hex(&json.secret_id)
                .ok_or_else(|| bad("secretId is not 16 hex".into()))?,
            mac: Seal::from_hex(&json.mac).ok_or_else(|| bad("mac is not 64 hex".into()))?,
        })
    }
}
