//! The stored layout of the Stream event store: the BSON document of a
//! sealed event (and of its stub, its retention anchor, its purge mark) and
//! of a sealed integrity report, and the readers back (`docs/FORMAT.md`).
//!
//! It is what the MongoDB adapter (`stream-mongo`, which re-exports it as
//! `stream_mongo::codec`) and the offline auditor (`stream-audit`, reading
//! mongodump and mongoexport files) share, so it depends on the `bson`
//! crate only, never on the MongoDB driver. Pure: no I/O.
//!
//! ```
//! use stream_chain::{ChainId, Chainer, EventDraft, Head, SealSecret, SealSecrets, Status, Timestamp};
//! use stream_codec::{event_from_document, event_from_raw, event_to_document};
//!
//! let secrets = SealSecrets::new(SealSecret::from_env_value("k8s-generated-32-character-secret")?);
//! let chainer = Chainer::new(secrets, None);
//! let mut head = Head::genesis(ChainId::new("ca")?);
//! let draft = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, Timestamp::from_millis(1_700_000_000_000))
//!     .public("serial", "00ff");
//! let event = chainer.seal(&mut head, &draft)?;
//!
//! let document = event_to_document(&event);
//! assert_eq!(event_from_document(&document), Ok(event.clone()));
//! // A mongodump record reads without building a `Document` first.
//! let raw = bson::RawDocumentBuf::try_from(&document)?;
//! assert_eq!(event_from_raw(&raw), Ok(event));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod event;
mod report;

pub use crate::event::{
    anchor_to_document, binary, event_doc_id, event_from_document, event_from_document_noting,
    event_from_raw, event_from_raw_noting, event_key, event_to_document, purge_mark_to_document,
    search_term, search_terms, seq_to_bson, terms_mismatch, Malformed,
};
pub use crate::report::{report_from_document, report_to_document};
