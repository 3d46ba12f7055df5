//! The hot path: drafts in, sealed events out.

use std::sync::Arc;

use stream_keyset::{Envelope, EnvelopeCiphertext};

use crate::error::{Error, Result};
use crate::event::{
    detail_aad, ChainId, Detail, DetailValue, DraftValue, EventDraft, SealedEvent, SensitiveValue,
    FORMAT_VERSION, GENESIS_SEQ,
};
use crate::secret::{Seal, SealSecrets};

/// Where a chain continues: the next sequence number and the seal to link to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The chain.
    pub chain: ChainId,
    /// The sequence number the next event gets.
    pub next_seq: u64,
    /// The seal of the last event ([`Seal::GENESIS`] for an empty chain).
    pub prev: Seal,
}

impl Head {
    /// The head of an empty chain.
    pub fn genesis(chain: ChainId) -> Head {
        Head {
            chain,
            next_seq: GENESIS_SEQ,
            prev: Seal::GENESIS,
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
        }
    }
}

/// Seals drafts into a chain: encrypts the sensitive details with a fresh
/// data key each, then seals and links each event to the one before.
/// Cheap to clone (the keyset and secrets are shared).
///
/// ```
/// use stream_chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status};
/// use stream_keyset::{Algorithm, Keyset, Template};
///
/// let keyset = Keyset::generate(Template::AES256_GCM_SIV);
/// let secrets = SealSecrets::new(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?);
/// let chainer = Chainer::new(secrets, Some(keyset.envelope(Algorithm::Aes256GcmSiv)?));
///
/// let mut head = Head::genesis(ChainId::new("ca")?);
/// let draft = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-1", Status::Success, 1_700_000_000_000)
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

    /// Seals one draft at `head` and advances `head`.
    ///
    /// On error nothing is sealed and `head` is unchanged.
    pub fn seal(&self, head: &mut Head, draft: &EventDraft) -> Result<SealedEvent> {
        let secret = self.secrets.current();
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
            version: FORMAT_VERSION,
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
        };
        event.seal = event.compute_seal(secret);
        head.next_seq = next_seq;
        head.prev = event.seal;
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
    Ok(())
}
