//! Records the store writes into a chain about the chain itself: shred
//! records (a crypto-shredding, so that a verifier tells it from an
//! erasure by an attacker) and rotation records (the seal secret that
//! takes over, so that the one it replaces is valid only before).
//!
//! Both are ordinary events (module [`SYSTEM_MODULE`], public details
//! only, no `removeAt`), sealed and linked like any other: a forged one
//! does not verify, a replayed one stands at the wrong position.

use crate::event::{DetailValue, EventDraft, SealedEvent, Status};
use crate::secret::SecretId;
use crate::time::Timestamp;

/// The module of the records the store writes about a chain.
pub const SYSTEM_MODULE: &str = "stream";
/// The code of a shred record.
pub const SHRED_CODE: &str = "STREAM-SHRED";
/// The code of a seal-secret rotation record.
pub const ROTATION_CODE: &str = "STREAM-SEAL-ROTATION";

/// What a shred record says: the wrapped data keys of these details of
/// event `target` of the same chain were erased, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShredRecord {
    /// The sequence number of the shredded event.
    pub target: u64,
    /// The detail keys whose data keys were erased (at least one).
    pub keys: Vec<String>,
    /// The reason the caller gave.
    pub reason: String,
}

impl ShredRecord {
    /// The record a shred of `wanted` (the data keys of `target` to erase)
    /// writes, given the keys earlier records already cover (`covered`):
    /// `None` when they cover all (an interrupted shred finishing).
    pub fn for_keys(
        target: u64,
        wanted: &[String],
        covered: &[String],
        reason: &str,
    ) -> Option<ShredRecord> {
        let keys: Vec<String> = wanted
            .iter()
            .filter(|k| !covered.contains(*k))
            .cloned()
            .collect();
        (!keys.is_empty()).then(|| ShredRecord {
            target,
            keys,
            reason: reason.to_owned(),
        })
    }

    /// The draft of the record (timestamped `now_ms`, from `node`).
    pub fn draft(&self, node: &str, now_ms: i64) -> EventDraft {
        let mut draft = EventDraft::new(
            SHRED_CODE,
            SYSTEM_MODULE,
            node,
            Status::Success,
            Timestamp::from_millis(now_ms),
        )
        .public("target", self.target.to_string());
        for key in &self.keys {
            draft = draft.public("key", key.clone());
        }
        draft.public("reason", self.reason.clone())
    }

    /// Reads a shred record: `None` if `event` is not one, `Some(Err)` if
    /// it claims to be one but is not well formed.
    pub fn parse(event: &SealedEvent) -> Option<Result<ShredRecord, String>> {
        if event.code != SHRED_CODE || event.module != SYSTEM_MODULE || event.is_stub() {
            return None;
        }
        let mut target = None;
        let mut keys = Vec::new();
        let mut reason = None;
        for detail in &event.details {
            let DetailValue::Public(value) = &detail.value else {
                return Some(Err("a shred record holds public details only".into()));
            };
            match detail.key.as_str() {
                "target" if target.is_none() => target = value.parse::<u64>().ok(),
                "key" => keys.push(value.clone()),
                "reason" if reason.is_none() => reason = Some(value.clone()),
                other => return Some(Err(format!("unexpected detail `{other}`"))),
            }
        }
        Some(match (target, reason) {
            (Some(target), Some(reason)) if !keys.is_empty() && target < event.seq => {
                Ok(ShredRecord {
                    target,
                    keys,
                    reason,
                })
            }
            _ => Err("a shred record names an earlier target, keys and a reason".into()),
        })
    }
}

/// The most secrets one rotation record may supersede (a deployment
/// rotating yearly for decades stays far below).
pub const MAX_SUPERSEDED: usize = 64;

/// What a rotation record says: from this position on, `to` seals the
/// chain; `superseded` (the secret it replaces, and every one before)
/// may no longer seal it. The record is sealed by `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationRecord {
    /// The secret that sealed the chain until now.
    pub from: SecretId,
    /// The secret that seals it from now on (and sealed this record).
    pub to: SecretId,
    /// Every secret that sealed the chain before `to`, `from` included.
    pub superseded: Vec<SecretId>,
}

impl RotationRecord {
    /// The record `event` is, if it is an authentic, well-formed rotation
    /// record that rotates forward by `secrets`' order (one rotating down
    /// was forged by a holder of a retired secret).
    pub fn authentic(event: &SealedEvent, secrets: &crate::SealSecrets) -> Option<RotationRecord> {
        let record = RotationRecord::parse(event)?.ok()?;
        (record.goes_forward(secrets) && event.seal_is_valid(secrets)).then_some(record)
    }

    /// Whether the record moves forward by `secrets`' order: `to` is not
    /// older than `from`, nor than any secret it supersedes.
    pub fn goes_forward(&self, secrets: &crate::SealSecrets) -> bool {
        self.superseded
            .iter()
            .chain(std::iter::once(&self.from))
            .all(|s| secrets.rotates_forward(*s, self.to))
    }

    /// The draft of the record (timestamped `now_ms`, from `node`).
    pub fn draft(&self, node: &str, now_ms: i64) -> EventDraft {
        let superseded: Vec<String> = self.superseded.iter().map(SecretId::to_hex).collect();
        EventDraft::new(
            ROTATION_CODE,
            SYSTEM_MODULE,
            node,
            Status::Success,
            Timestamp::from_millis(now_ms),
        )
        .public("from", self.from.to_hex())
        .public("to", self.to.to_hex())
        .public("superseded", superseded.join(","))
    }

    /// Reads a rotation record: `None` if `event` is not one, `Some(Err)`
    /// if it claims to be one but is not well formed or not sealed by the
    /// secret it names as `to`.
    pub fn parse(event: &SealedEvent) -> Option<Result<RotationRecord, String>> {
        if event.code != ROTATION_CODE || event.module != SYSTEM_MODULE || event.is_stub() {
            return None;
        }
        let field = |key: &str| match event.detail(key) {
            Some(DetailValue::Public(v)) => Some(v.as_str()),
            _ => None,
        };
        let parsed = (|| {
            let from = SecretId::from_hex(field("from")?)?;
            let to = SecretId::from_hex(field("to")?)?;
            let superseded = field("superseded")?
                .split(',')
                .map(SecretId::from_hex)
                .collect::<Option<Vec<SecretId>>>()?;
            Some(RotationRecord {
                from,
                to,
                superseded,
            })
        })();
        Some(match parsed {
            None => Err("a rotation record names `from`, `to` and `superseded` secret ids".into()),
            Some(r) if r.superseded.len() > MAX_SUPERSEDED => Err(format!(
                "a rotation record supersedes at most {MAX_SUPERSEDED} secrets"
            )),
            Some(r)
                if r.superseded
                    .iter()
                    .enumerate()
                    .any(|(i, s)| r.superseded[..i].contains(s)) =>
            {
                Err("a rotation record names each superseded secret once".into())
            }
            Some(r) if r.to != event.secret_id => {
                Err("a rotation record is sealed by the secret it names as `to`".into())
            }
            Some(r) if r.to == r.from || !r.superseded.contains(&r.from) => {
                Err("a rotation record supersedes the secret it rotates from".into())
            }
            Some(r) if r.superseded.contains(&r.to) => {
                Err("a rotation record cannot bring back a superseded secret".into())
            }
            Some(r) => Ok(r),
        })
    }
}

/// Whether `event` is a record the store writes about its chain (shred or
/// rotation): never purged, never shredded.
pub fn is_system_record(event: &SealedEvent) -> bool {
    event.module == SYSTEM_MODULE && (event.code == SHRED_CODE || event.code == ROTATION_CODE)
}

/// Why `event` may not be shredded (of detail `key`, or all), if it may
/// not: it is absent, not authentic, a stub, a record of the store, or has
/// no such sensitive detail.
pub fn shred_refusal(
    event: Option<&SealedEvent>,
    key: Option<&str>,
    secrets: &crate::SealSecrets,
) -> Option<String> {
    let Some(event) = event else {
        return Some("no event is stored there".into());
    };
    if !event.seal_is_valid(secrets) {
        return Some("the record there is not authentic; verify the chain".into());
    }
    if event.is_stub() {
        return Some("it was purged: its content is gone already".into());
    }
    if is_system_record(event) {
        return Some("it is a record of the store, not an event".into());
    }
    let sensitive = event
        .details
        .iter()
        .filter(|d| key.is_none_or(|k| k == d.key))
        .any(|d| matches!(d.value, DetailValue::Sensitive(_)));
    if !sensitive {
        return Some(match key {
            Some(k) => format!("it has no sensitive detail `{k}`"),
            None => "it has no sensitive detail".into(),
        });
    }
    if event.shreddable_keys(key).is_empty() {
        return Some("every data key asked for was already erased".into());
    }
    None
}

/// From a chain's authentic rotation records (with their sequence numbers,
/// any order): each superseded secret and the first position at which it
/// was superseded. Anything that secret sealed covering that position or
/// later (an integrity report, say) was not made by a pod.
pub fn superseded_positions(records: &[(u64, RotationRecord)]) -> Vec<(SecretId, u64)> {
    let mut out: std::collections::HashMap<SecretId, u64> = std::collections::HashMap::new();
    for (seq, record) in records {
        for id in record
            .superseded
            .iter()
            .chain(std::iter::once(&record.from))
        {
            let at = out.entry(*id).or_insert(*seq);
            *at = (*at).min(*seq);
        }
    }
    out.into_iter().collect()
}

/// Refuses a draft that would pass for a record of the store (module
/// [`SYSTEM_MODULE`] with a shred or rotation code): only the store writes
/// those, through its own operations.
///
/// # Errors
/// [`Error::InvalidEvent`](crate::Error::InvalidEvent) naming the code.
pub fn check_not_reserved(draft: &EventDraft) -> crate::Result<()> {
    if draft.module == SYSTEM_MODULE && (draft.code == SHRED_CODE || draft.code == ROTATION_CODE) {
        return Err(crate::Error::InvalidEvent(format!(
            "module `{SYSTEM_MODULE}` with code `{}` is reserved for the store's own records; use EventStore::shred or a seal-secret rotation",
            draft.code
        )));
    }
    Ok(())
}
