//! The hot path: drafts in, sealed events out.

use std::sync::Arc;

use stream_keyset::{Envelope, EnvelopeCiphertext};

use crate::error::{Error, Result};
use crate::event::{
    check_event_id, detail_aad, ChainId, Detail, DetailValue, DraftValue, EventDraft, SealedEvent,
    SensitiveValue, EVENT_ID_FORMAT_VERSION, FORMAT_VERSION, GENESIS_SEQ,
};
use crate::secret::{Seal, SealSecret, SealSecrets, SecretId};
use crate::system::RotationRecord;

/// Which secret seals the next events of a chain (see [`Chainer::plan`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealPlan {
    /// Seal with this known secret.
    With(SecretId),
    /// Append this rotation record first (sealed by the current secret,
    /// which then seals what follows).
    Rotate(RotationRecord),
}

/// Events sealed by [`Chainer::seal_planned`].
#[derive(Debug)]
pub struct Sealed {
    /// The rotation record sealed before the drafts, if the plan said so.
    pub rotation: Option<SealedEvent>,
    /// The drafts, sealed in order.
    pub events: Vec<SealedEvent>,
}

/// Where a chain continues: the next sequence number and the seal to link to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The chain.
    pub chain: ChainId,
    /// The sequence number the next event gets.
    pub next_seq: u64,
    /// The seal of the last event ([`Seal::GENESIS`] for an empty chain).
    pub prev: Seal,
    /// The secret that sealed the last event (`None` for an empty chain):
    /// where a seal-secret rotation stands (see [`Chainer::plan`]).
    pub sealed_by: Option<SecretId>,
}

impl Head {
    /// The head of an empty chain.
    pub fn genesis(chain: ChainId) -> Head {
        Head {
            chain,
            next_seq: GENESIS_SEQ,
            prev: Seal::GENESIS,
            sealed_by: None,
        }
    }

    /// The head after `last`, the newest event of its chain. (A stored
    /// record claiming the last sequence number, `u64::MAX`, gives a head
    /// that [`Chainer::seal`] refuses.)
    pub fn after(last: &SealedEvent) -> Head {
        Head {
            chain: last.chain.clone(),
            next_seq: last.seq.saturating_add(1),
            prev: last.seal,
            sealed_by: Some(last.secret_id),
        }
    }
}

/// Seals drafts into a chain: encrypts the sensitive details with a fresh
/// data key each, then seals and links each event to the one before.
/// Cheap to clone (the keyset and secrets are shared).
///
/// ```
/// use stream_chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp};
/// use stream_keyset::{Algorithm, Keyset, Template};
///
/// let keyset = Keyset::generate(Template::AES256_GCM_SIV);
/// let secrets = SealSecrets::new(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?);
/// let chainer = Chainer::new(secrets, Some(keyset.envelope(Algorithm::Aes256GcmSiv)?));
///
/// let mut head = Head::genesis(ChainId::new("ca")?);
/// let draft = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-1", Status::Success, Timestamp::from_millis(1_700_000_000_000))
///     .public("profile", "tls-server")
///     .sensitive("subject", b"CN=alice".to_vec());
/// let event = chainer.seal(&mut head, &draft)?;
/// assert_eq!(event.seq, 1);
/// assert_eq!(chainer.open_detail(&event, "subject")?, b"CN=alice");
/// # Ok::<(), stream_chain::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Chainer {
    secrets: Arc<SealSecrets>,
    envelope: Option<Arc<Envelope>>,
}

impl Chainer {
    /// A chainer sealing with `secrets`' current secret, encrypting with
    /// `envelope` (drafts with sensitive details need one).
    pub fn new(secrets: SealSecrets, envelope: Option<Envelope>) -> Chainer {
        Chainer {
            secrets: Arc::new(secrets),
            envelope: envelope.map(Arc::new),
        }
    }

    /// The seal secrets.
    pub fn secrets(&self) -> &SealSecrets {
        &self.secrets
    }

    /// The envelope, if a keyset is configured.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_deref()
    }

    /// The envelope, shared (a cheap clone).
    pub fn shared_envelope(&self) -> Option<Arc<Envelope>> {
        self.envelope.clone()
    }

    /// Seals one draft at `head` with the current secret and advances
    /// `head` (a chain shared with other processes that may rotate the seal
    /// secret is sealed through [`Chainer::plan`] and
    /// [`Chainer::seal_planned`]).
    ///
    /// On error nothing is sealed and `head` is unchanged.
    pub fn seal(&self, head: &mut Head, draft: &EventDraft) -> Result<SealedEvent> {
        self.seal_by(head, draft, self.secrets.current())
    }

    /// Decides which secret seals the next events of the chain at `head`,
    /// given its last authentic rotation record (none if it has none):
    /// - an empty chain, or one sealed by the current secret: the current;
    /// - a chain sealed by a staged successor of this process's current
    ///   secret ([`SealSecrets::add_next`]): that secret (a pod not yet
    ///   restarted with the new secret as current follows the pods that
    ///   are, also on a chain one of them started);
    /// - a chain sealed by a secret held as retired: the current secret
    ///   takes over with a rotation record first, unless the chain already
    ///   rotated away from the current secret (refused: the process's
    ///   configuration is behind).
    ///
    /// Never a secret held as retired. A record that rotates down by this
    /// process's order of secrets is ignored, and an event sealed after the
    /// last record by a secret it superseded does not move the chain.
    ///
    /// # Errors
    /// [`Error::SecretNotKnown`] when the chain's head is sealed by a secret
    /// this process does not know; [`Error::RotationConflict`] when the
    /// chain rotated past this process's current secret.
    pub fn plan(&self, head: &Head, last_rotation: Option<&RotationRecord>) -> Result<SealPlan> {
        let current = self.secrets.current().id();
        let Some(mut chain_secret) = head.sealed_by else {
            return Ok(SealPlan::With(current));
        };
        // A record rotating down (by this process's order of secrets) is
        // no rotation: a holder of a retired secret forged it.
        let record = last_rotation.filter(|r| r.goes_forward(&self.secrets));
        // A head sealed by a secret the record superseded was written
        // after it by a holder of that secret: the chain's secret is the
        // record's.
        if let Some(r) = record {
            if r.superseded.contains(&chain_secret) {
                chain_secret = r.to;
            }
        }
        if chain_secret == current {
            return Ok(SealPlan::With(current));
        }
        if self.secrets.get(chain_secret).is_none() {
            return Err(Error::SecretNotKnown {
                chain: head.chain.to_string(),
                secret: chain_secret,
            });
        }
        if self.secrets.is_next(chain_secret) {
            return Ok(SealPlan::With(chain_secret));
        }
        let superseded = record.map_or(&[][..], |r| r.superseded.as_slice());
        if superseded.contains(&current) {
            // Never seal with a secret held as retired.
            return Err(Error::RotationConflict {
                chain: head.chain.to_string(),
                current,
                chain_secret,
            });
        }
        let mut superseded = superseded.to_vec();
        if !superseded.contains(&chain_secret) {
            superseded.push(chain_secret);
        }
        Ok(SealPlan::Rotate(RotationRecord {
            from: chain_secret,
            to: current,
            superseded,
        }))
    }

    /// The secret that seals what this process writes about a chain whose
    /// newest event was sealed by `head_secret` (anchors, purge marks,
    /// integrity reports, checkpoints): the chain's staged successor if it
    /// moved to one (a pod in the middle of a rollout), else the current
    /// secret. Never a secret the chain rotated away from.
    pub fn secret_for(&self, head_secret: Option<SecretId>) -> &SealSecret {
        head_secret
            .filter(|id| self.secrets.is_next(*id))
            .and_then(|id| self.secrets.get(id))
            .unwrap_or_else(|| self.secrets.current())
    }

    /// Seals `drafts` at `head` as `plan` says (all or nothing: on error
    /// `head` is unchanged). A rotation record takes the node and time of
    /// the first draft.
    pub fn seal_planned(
        &self,
        head: &mut Head,
        drafts: &[EventDraft],
        plan: &SealPlan,
    ) -> Result<Sealed> {
        let mut working = head.clone();
        let (rotation, secret) = match plan {
            SealPlan::With(id) => (
                None,
                self.secrets.get(*id).ok_or(Error::UnknownSecret(*id))?,
            ),
            SealPlan::Rotate(record) => {
                let secret = self.secrets.current();
                let (node, now) = drafts
                    .first()
                    .map_or(("", 0), |d| (d.node.as_str(), d.timestamp_ms));
                let draft = record.draft(node, now);
                (Some(self.seal_by(&mut working, &draft, secret)?), secret)
            }
        };
        let mut events = Vec::with_capacity(drafts.len());
        for draft in drafts {
            events.push(self.seal_by(&mut working, draft, secret)?);
        }
        *head = working;
        Ok(Sealed { rotation, events })
    }

    /// Checks that `stored`, found under the event id of `draft`, is the
    /// same event (an idempotent append returns it): the same id, code,
    /// module, node, status, retention date and details, sensitive values
    /// compared after decryption in constant time.
    ///
    /// # Errors
    /// [`Error::EventIdConflict`] when they differ or a sensitive value of
    /// `stored` cannot be decrypted (no keyset, shredded): the id was used
    /// for another event.
    pub fn check_same_event(&self, draft: &EventDraft, stored: &SealedEvent) -> Result<()> {
        let opened: Vec<Option<Vec<u8>>> = stored
            .details
            .iter()
            .map(|d| match (&d.value, self.envelope.as_deref()) {
                (
                    DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: Some(wrapped),
                        payload,
                    }),
                    Some(envelope),
                ) => {
                    let aad = detail_aad(&stored.chain, stored.seq, &d.key);
                    envelope.decrypt_parts(wrapped, payload, &aad).ok()
                }
                _ => None,
            })
            .collect();
        let same = draft.same_content(stored, &opened);
        // Decrypted values are secret: wiped before returning.
        for mut value in opened.into_iter().flatten() {
            zeroize::Zeroize::zeroize(&mut value);
        }
        if same {
            return Ok(());
        }
        Err(Error::EventIdConflict {
            chain: stored.chain.to_string(),
            seq: stored.seq,
            event_id: draft.event_id.clone().unwrap_or_default(),
        })
    }

    fn seal_by(
        &self,
        head: &mut Head,
        draft: &EventDraft,
        secret: &SealSecret,
    ) -> Result<SealedEvent> {
        let seq = head.next_seq;
        let next_seq = seq
            .checked_add(1)
            .ok_or_else(|| Error::InvalidEvent(format!("chain {} is full", head.chain)))?;
        check_sizes(draft)?;
        let mut details = Vec::with_capacity(draft.details.len());
        for (key, value) in &draft.details {
            let value = match value {
                DraftValue::Public(v) => DetailValue::Public(v.clone()),
                DraftValue::Sensitive(plaintext) => {
                    let envelope = self
                        .envelope
                        .as_deref()
                        .ok_or_else(|| Error::NoKeyset(key.clone()))?;
                    let aad = detail_aad(&head.chain, seq, key);
                    let EnvelopeCiphertext {
                        wrapped_dek,
                        payload,
                    } = envelope.encrypt_parts(plaintext, &aad)?;
                    DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: Some(wrapped_dek),
                        payload,
                    })
                }
            };
            details.push(Detail {
                key: key.clone(),
                value,
            });
        }
        let mut event = SealedEvent {
            version: if draft.event_id.is_some() {
                EVENT_ID_FORMAT_VERSION
            } else {
                FORMAT_VERSION
            },
            chain: head.chain.clone(),
            seq,
            timestamp_ms: draft.timestamp_ms,
            code: draft.code.clone(),
            module: draft.module.clone(),
            node: draft.node.clone(),
            status: draft.status,
            details,
            remove_at_ms: draft.remove_at_ms,
            secret_id: secret.id(),
            prev: head.prev,
            seal: Seal::GENESIS,
            anchor: None,
            purged: None,
            event_id: draft.event_id.clone(),
        };
        event.seal = event.compute_seal(secret);
        head.next_seq = next_seq;
        head.prev = event.seal;
        head.sealed_by = Some(event.secret_id);
        Ok(event)
    }

    /// Seals a batch in order. All or nothing: on error `head` is unchanged.
    pub fn seal_batch(&self, head: &mut Head, drafts: &[EventDraft]) -> Result<Vec<SealedEvent>> {
        let mut working = head.clone();
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            out.push(self.seal(&mut working, draft)?);
        }
        *head = working;
        Ok(out)
    }

    /// Decrypts the sensitive detail `key` of `event`.
    ///
    /// # Errors
    /// [`Error::NoKeyset`] without a keyset, [`Error::InvalidEvent`] if the
    /// detail is absent, public or shredded, and a keyset error if it does
    /// not decrypt (moved to another event, chain or key; wrong keyset).
    pub fn open_detail(&self, event: &SealedEvent, key: &str) -> Result<Vec<u8>> {
        let envelope = self
            .envelope
            .as_deref()
            .ok_or_else(|| Error::NoKeyset(key.to_owned()))?;
        let Some(DetailValue::Sensitive(value)) = event.detail(key) else {
            return Err(Error::InvalidEvent(format!(
                "event {}#{} has no sensitive detail `{key}`",
                event.chain, event.seq
            )));
        };
        let Some(wrapped_dek) = &value.wrapped_dek else {
            return Err(Error::InvalidEvent(format!(
                "detail `{key}` of event {}#{} was shredded",
                event.chain, event.seq
            )));
        };
        let aad = detail_aad(&event.chain, event.seq, key);
        Ok(envelope.decrypt_parts(wrapped_dek, &value.payload, &aad)?)
    }

    /// Deep verification of one event: every sensitive detail whose data key
    /// is present is unwrapped and its payload opened (then zeroized).
    /// Returns the keys of the details that failed, with why (a key id not
    /// in the keyset, a corrupted or swapped wrapped key or payload).
    pub fn check_keys(&self, event: &SealedEvent) -> Result<Vec<(String, stream_keyset::Error)>> {
        let envelope = self
            .envelope
            .as_deref()
            .ok_or_else(|| Error::NoKeyset("(deep verification needs the keyset)".to_owned()))?;
        let mut failed = Vec::new();
        for detail in &event.details {
            if let DetailValue::Sensitive(SensitiveValue {
                wrapped_dek: Some(dek),
                payload,
            }) = &detail.value
            {
                let aad = detail_aad(&event.chain, event.seq, &detail.key);
                match envelope.decrypt_parts(dek, payload, &aad) {
                    Ok(plaintext) => drop(zeroize::Zeroizing::new(plaintext)),
                    Err(e) => failed.push((detail.key.clone(), e)),
                }
            }
        }
        Ok(failed)
    }

    /// Re-wraps every data key of `event` under the keyset's current
    /// primary; the payloads and the seal are untouched. Returns how many
    /// keys were re-wrapped (0 if all were already under the primary).
    pub fn rewrap(&self, event: &mut SealedEvent) -> Result<usize> {
        let Some(envelope) = self.envelope.as_deref() else {
            return Ok(0);
        };
        // Compute everything first, then write: an error changes nothing.
        let mut rewrapped = Vec::new();
        for (i, detail) in event.details.iter().enumerate() {
            if let DetailValue::Sensitive(SensitiveValue {
                wrapped_dek: Some(dek),
                ..
            }) = &detail.value
            {
                if !envelope.is_wrapped_by_primary(dek) {
                    rewrapped.push((i, envelope.rewrap_dek(dek)?));
                }
            }
        }
        let count = rewrapped.len();
        for (i, dek) in rewrapped {
            if let Some(Detail {
                value: DetailValue::Sensitive(v),
                ..
            }) = event.details.get_mut(i)
            {
                v.wrapped_dek = Some(dek);
            }
        }
        Ok(count)
    }
}

/// The most bytes one event may hold (MongoDB's document limit): it keeps
/// every length of the canonical encoding far below `u32::MAX`.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

fn check_sizes(draft: &EventDraft) -> Result<()> {
    let details: usize = draft
        .details
        .iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    DraftValue::Public(v) => v.len(),
                    DraftValue::Sensitive(v) => v.len(),
                }
        })
        .sum();
    let total = draft.code.len() + draft.module.len() + draft.node.len() + details;
    if total > MAX_EVENT_BYTES || draft.details.len() > MAX_EVENT_BYTES / 8 {
        return Err(Error::InvalidEvent(format!(
            "the event holds {total} bytes in {} details; at most {MAX_EVENT_BYTES} bytes fit",
            draft.details.len()
        )));
    }
    if let Some(id) = &draft.event_id {
        check_event_id(id).map_err(Error::InvalidEvent)?;
    }
    Ok(())
}
