//! Sealed, HMAC-chained audit events and their streaming verification.
//!
//! Every event is sealed with `HMAC-SHA256(seal secret, canonical bytes)`,
//! the canonical bytes including the seal of the event before, so that any
//! modification, deletion, insertion, duplication or reordering is found by
//! the [`Verifier`], which needs the seal secrets only, never the keyset.
//! Sensitive details are envelope-encrypted (crate `stream-keyset`); the
//! seal covers their ciphertext but not the wrapped data key, so keyset
//! rotation and crypto-shredding never break a chain.
//!
//! This crate is pure: no I/O, no async runtime.
//!
//! ```
//! use stream_chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp, Verifier};
//! use stream_keyset::{Algorithm, Keyset, Template};
//!
//! let secrets = SealSecrets::new(SealSecret::from_env_value("k8s-generated-32-character-secret")?);
//! let keyset = Keyset::generate(Template::AES256_GCM_SIV);
//! let chainer = Chainer::new(secrets.clone(), Some(keyset.envelope(Algorithm::Aes256GcmSiv)?));
//!
//! let mut head = Head::genesis(ChainId::new("ca")?);
//! let drafts: Vec<EventDraft> = (0..3)
//!     .map(|i| {
//!         EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, Timestamp::from_millis(1_700_000_000_000 + i))
//!             .public("serial", format!("{i:04x}"))
//!             .sensitive("subject", format!("CN=user{i}").into_bytes())
//!     })
//!     .collect();
//! let events = chainer.seal_batch(&mut head, &drafts)?;
//!
//! // An auditor holding only the seal secret verifies.
//! let mut verifier = Verifier::new(secrets);
//! events.iter().for_each(|e| verifier.push(e));
//! assert!(verifier.finish().is_ok());
//! # Ok::<(), stream_chain::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod canonical;
mod chainer;
mod checkpoint;
mod error;
mod event;
mod findings;
mod report;
mod retention;
mod secret;
mod system;
mod time;
mod verify;

pub use crate::chainer::{Chainer, Head, SealPlan, Sealed, MAX_EVENT_BYTES};
pub use crate::checkpoint::Checkpoint;
pub use crate::error::{Error, Result};
pub use crate::event::{
    check_event_id, detail_aad, is_unprintable, Anchor, ChainId, Detail, DetailValue, DraftValue,
    EventDraft, PurgeMark, SealedEvent, SensitiveValue, Status, EVENT_ID_FORMAT_VERSION,
    FORMAT_VERSION, GENESIS_SEQ, LEGACY_FORMAT_VERSION, MAX_EVENT_ID_LEN, RECORD_VERSION,
};
pub use crate::report::{IntegrityReport, ReportStatus};
pub use crate::retention::{PurgeScan, PurgeStep};
pub use crate::secret::{Seal, SealSecret, SealSecrets, SecretId, MIN_SECRET_LEN};
pub use crate::system::{
    check_not_reserved, is_system_record, shred_refusal, superseded_positions, RotationRecord,
    ShredRecord, MAX_SUPERSEDED, ROTATION_CODE, SHRED_CODE, SYSTEM_MODULE,
};
pub use crate::time::Timestamp;
pub use crate::verify::{
    ChainSummary, Finding, FindingKind, Record, Verifier, VerifyReport, DEFAULT_CLOCK_SKEW_MS,
    DEFAULT_MAX_CHAINS, DEFAULT_MAX_FINDINGS, DEFAULT_WINDOW, DEFAULT_WINDOW_BUDGET,
    MAX_LEARNED_ROTATIONS, MAX_REASON_CHARS, MIN_WINDOW,
};
