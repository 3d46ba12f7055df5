//! The event model of Stream and its canonical encoding.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use sha2::{Digest, Sha256};

use crate::canonical::{
    Counter, Sink, ANCHOR_LABEL, CONTENT_LABEL, DETAIL_LABEL, EVENT_LABEL, PURGE_LABEL,
};
use crate::error::{Error, Result};
use crate::secret::{Seal, SealSecret, SecretId};
use crate::time::Timestamp;

/// The format version of the events this crate writes: version 2 seals a
/// digest of the content, so that a purge may replace an expired event by a
/// sealed stub (see `docs/FORMAT.md`).
pub const FORMAT_VERSION: u8 = 2;

/// The first format version, whose seal covers the content itself. Still
/// read and verified; never written.
pub const LEGACY_FORMAT_VERSION: u8 = 1;

/// Format 3: format 2 whose content ends with the caller's event id (an
/// idempotency key, sealed). Written only for events that carry an id, so
/// that a pod still on a release that reads formats 1 and 2 verifies every
/// event without one.
pub const EVENT_ID_FORMAT_VERSION: u8 = 3;

/// The longest event id, in bytes.
pub const MAX_EVENT_ID_LEN: usize = 128;

/// The version byte of anchors, checkpoints, reports and the associated
/// data of sensitive details: their formats did not change in version 2,
/// so their bytes stay those of version 1 (a ciphertext or checkpoint made
/// before still verifies).
pub const RECORD_VERSION: u8 = 1;

/// The sequence number of a chain's genesis event.
pub const GENESIS_SEQ: u64 = 1;

/// Whether `c` must not appear in a chain id, and is escaped wherever a
/// report prints text that came from input: a control character (Unicode
/// `Cc`, which includes C1 controls such as NEL), a line or paragraph
/// separator (U+2028, U+2029), a format character (`Cf`: bidirectional
/// controls, zero-width characters, the soft hyphen, tags, …) or another
/// default-ignorable code point (variation selectors, Hangul fillers, …):
/// everything that moves the cursor, breaks a line, reorders text or
/// prints as nothing, so that distinct ids print distinctly. The ranges
/// are those of Unicode 15.1 (`Cf` and `Default_Ignorable_Code_Point`).
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// The id of a chain (for example `events`, a tenant, module or node name).
/// Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(Arc<str>);

impl ChainId {
    /// A chain id: 1 to 256 bytes of UTF-8, every character printable
    /// (none for which [`is_unprintable`] holds: no control, line
    /// separator, bidirectional or zero-width formatting character), so
    /// that an id printed in a report or a log cannot forge other lines
    /// or hide characters.
    pub fn new(id: &str) -> Result<ChainId> {
        if id.is_empty() || id.len() > 256 {
            return Err(Error::InvalidEvent(format!(
                "chain id must be 1 to 256 bytes, got {}",
                id.len()
            )));
        }
        if let Some((at, c)) = id.char_indices().find(|(_, c)| is_unprintable(*c)) {
            return Err(Error::InvalidEvent(format!(
                "chain id must be printable: U+{:04X} at byte {at} is a control or formatting character; use letters, digits and punctuation",
                u32::from(c)
            )));
        }
        Ok(ChainId(Arc::from(id)))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ChainId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Outcome of the audited operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// `success`
    Success,
    /// `warning`
    Warning,
    /// `failure`
    Failure,
}

impl Status {
    /// Stream's name: `success`, `warning` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Warning => "warning",
            Status::Failure => "failure",
        }
    }

    /// Parses Stream's name.
    pub fn parse(name: &str) -> Option<Status> {
        match name {
            "success" => Some(Status::Success),
            "warning" => Some(Status::Warning),
            "failure" => Some(Status::Failure),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Warning => 1,
            Status::Failure => 2,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A detail value before sealing.
#[derive(Clone)]
pub enum DraftValue {
    /// Kept in clear: searchable.
    Public(String),
    /// Encrypted with a fresh data key before it is stored (zeroized on drop).
    Sensitive(Zeroizing<Vec<u8>>),
}

impl fmt::Debug for DraftValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DraftValue::Public(v) => write!(f, "Public({v:?})"),
            DraftValue::Sensitive(v) => write!(f, "Sensitive(<{} bytes redacted>)", v.len()),
        }
    }
}

/// An event before it is sealed: what the server knows of it.
#[derive(Debug, Clone)]
pub struct EventDraft {
    /// UTC time in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Event code, e.g. `LIFECYCLE-ENROLL`.
    pub code: String,
    /// Module, e.g. `ca`.
    pub module: String,
    /// Node (host) that produced it.
    pub node: String,
    /// Outcome.
    pub status: Status,
    /// Ordered key/value details.
    pub details: Vec<(String, DraftValue)>,
    /// When retention may purge it (UTC milliseconds).
    pub remove_at_ms: Option<i64>,
    /// The caller's id for this event, unique in its chain: appending an
    /// id already stored returns the stored event instead of a second one
    /// (an idempotency key, e.g. a UUID made before the first attempt).
    pub event_id: Option<String>,
}

impl EventDraft {
    /// A draft with no details and no retention date.
    pub fn new(
        code: impl Into<String>,
        module: impl Into<String>,
        node: impl Into<String>,
        status: Status,
        at: impl Into<Timestamp>,
    ) -> EventDraft {
        EventDraft {
            timestamp_ms: at.into().millis(),
            code: code.into(),
            module: module.into(),
            node: node.into(),
            status,
            details: Vec::new(),
            remove_at_ms: None,
            event_id: None,
        }
    }

    /// Gives the event an id (see [`EventDraft::event_id`]): at most
    /// [`MAX_EVENT_ID_LEN`] bytes of printable ASCII, checked when sealed.
    pub fn with_event_id(mut self, id: impl Into<String>) -> EventDraft {
        self.event_id = Some(id.into());
        self
    }

    /// Whether `other` describes the same event as this draft (an id given
    /// twice in one batch): the same fields as [`EventDraft::same_content`]
    /// compares, sensitive values in constant time.
    pub fn same_as(&self, other: &EventDraft) -> bool {
        self.same_fields(
            &other.event_id,
            (&other.code, &other.module, &other.node),
            other.status,
            other.remove_at_ms,
        ) && self.details.len() == other.details.len()
            && self
                .details
                .iter()
                .zip(&other.details)
                .all(|((k1, v1), (k2, v2))| {
                    k1 == k2
                        && match (v1, v2) {
                            (DraftValue::Public(a), DraftValue::Public(b)) => a == b,
                            (DraftValue::Sensitive(a), DraftValue::Sensitive(b)) => bool::from(
                                subtle::ConstantTimeEq::ct_eq(a.as_slice(), b.as_slice()),
                            ),
                            _ => false,
                        }
                })
    }

    /// The fields of an event other than its time and details.
    fn same_fields(
        &self,
        event_id: &Option<String>,
        (code, module, node): (&str, &str, &str),
        status: Status,
        remove_at_ms: Option<i64>,
    ) -> bool {
        self.event_id == *event_id
            && self.code == code
            && self.module == module
            && self.node == node
            && self.status == status
            && self.remove_at_ms == remove_at_ms
    }

    /// Whether the stored `event` describes this draft (what an idempotent append
    /// compares against the stored event; the time may differ between two
    /// attempts, so it is not compared). `opened` holds the decrypted value
    /// of each sensitive detail of `event`, by position (`None`: not
    /// decryptable, which never compares equal).
    pub fn same_content(&self, event: &SealedEvent, opened: &[Option<Vec<u8>>]) -> bool {
        self.same_fields(
            &event.event_id,
            (&event.code, &event.module, &event.node),
            event.status,
            event.remove_at_ms,
        ) && self.details.len() == event.details.len()
            && self
                .details
                .iter()
                .zip(&event.details)
                .zip(opened.iter().chain(std::iter::repeat(&None)))
                .all(|(((key, value), stored), clear)| {
                    *key == stored.key
                        && match (value, &stored.value) {
                            (DraftValue::Public(a), DetailValue::Public(b)) => a == b,
                            (DraftValue::Sensitive(a), DetailValue::Sensitive(_)) => {
                                clear.as_deref().is_some_and(|c| {
                                    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_slice(), c))
                                })
                            }
                            _ => false,
                        }
                })
    }

    /// Adds a public detail.
    pub fn public(mut self, key: impl Into<String>, value: impl Into<String>) -> EventDraft {
        self.details
            .push((key.into(), DraftValue::Public(value.into())));
        self
    }

    /// Adds a sensitive detail (encrypted before storage).
    pub fn sensitive(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> EventDraft {
        self.details.push((
            key.into(),
            DraftValue::Sensitive(Zeroizing::new(value.into())),
        ));
        self
    }

    /// Sets the retention date.
    pub fn remove_at(mut self, at: impl Into<Timestamp>) -> EventDraft {
        self.remove_at_ms = Some(at.into().millis());
        self
    }
}

/// A sensitive detail as stored: an envelope ciphertext in two halves.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveValue {
    /// The data key wrapped by the keyset. Not covered by the seal, so that
    /// keyset rotation may replace it and crypto-shredding may erase it
    /// (`None`) without breaking the chain.
    pub wrapped_dek: Option<Vec<u8>>,
    /// The value encrypted by the data key, bound to chain, sequence and
    /// detail key. Covered by the seal.
    pub payload: Vec<u8>,
}

impl fmt::Debug for SensitiveValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensitiveValue")
            .field(
                "wrapped_dek",
                &self.wrapped_dek.as_ref().map(|_| "<wrapped>"),
            )
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// A stored detail value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetailValue {
    /// In clear.
    Public(String),
    /// Encrypted.
    Sensitive(SensitiveValue),
}

/// One stored detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: DetailValue,
}

/// A retention anchor: a sealed statement that events before `first_seq`
/// of `chain` may have been purged, and that the predecessor of
/// `first_seq` had seal `prev`. Stored on the event at `first_seq`, outside
/// that event's own seal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The chain.
    pub chain: ChainId,
    /// The first sequence number kept.
    pub first_seq: u64,
    /// The seal of event `first_seq - 1`.
    pub prev: Seal,
    /// When the purge was decided (UTC milliseconds).
    pub created_ms: i64,
    /// The secret that sealed the anchor.
    pub secret_id: SecretId,
    /// The anchor's seal.
    pub seal: Seal,
}

impl Anchor {
    /// Seals an anchor for the event `first` (which becomes the first event
    /// kept).
    pub fn new(first: &SealedEvent, created_ms: i64, secret: &SealSecret) -> Anchor {
        let mut anchor = Anchor {
            chain: first.chain.clone(),
            first_seq: first.seq,
            prev: first.prev,
            created_ms,
            secret_id: secret.id(),
            seal: Seal::GENESIS,
        };
        anchor.seal = secret.seal(|s| anchor.write_canonical(s));
        anchor
    }

    /// Writes the canonical bytes the anchor's seal covers.
    pub fn write_canonical(&self, s: &mut dyn Sink) {
        s.header(ANCHOR_LABEL, RECORD_VERSION);
        s.str(self.chain.as_str());
        s.u64(self.first_seq);
        s.put(&self.prev.0);
        s.i64(self.created_ms);
        s.bytes(&self.secret_id.0);
    }

    /// Whether the anchor's seal is valid, it belongs to `event`, and it is
    /// sealed by a secret not older than the event's (a holder of an older,
    /// retired secret cannot vouch for a deletion after its successor).
    pub fn is_valid_for(&self, event: &SealedEvent, secrets: &crate::SealSecrets) -> bool {
        self.prev == event.prev
            && self.is_valid_at(&event.chain, event.seq, secrets)
            && secrets.rotates_forward(event.secret_id, self.secret_id)
    }

    /// Whether the anchor's seal is valid and it stands at `chain`#`seq`,
    /// whatever the event there says (the verifier then checks that event
    /// against the anchor's `prev`).
    pub(crate) fn is_valid_at(
        &self,
        chain: &ChainId,
        seq: u64,
        secrets: &crate::SealSecrets,
    ) -> bool {
        let Some(secret) = secrets.get(self.secret_id) else {
            return false;
        };
        &self.chain == chain
            && self.first_seq == seq
            && secret.seal(|s| self.write_canonical(s)) == self.seal
    }
}

/// The mark a purge leaves on a stub: a sealed statement that the content of
/// the event `chain#seq` with seal `event_seal` was removed at `purged_ms`
/// by retention. Without it a stub is content stripped by someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeMark {
    /// The digest of the removed content, which the event's seal covers.
    pub digest: [u8; 32],
    /// When the purge removed it (UTC milliseconds).
    pub purged_ms: i64,
    /// The secret that sealed the mark.
    pub secret_id: SecretId,
    /// The mark's seal.
    pub seal: Seal,
}

impl PurgeMark {
    /// Writes the canonical bytes the mark's seal covers.
    pub fn write_canonical(&self, event: &SealedEvent, s: &mut dyn Sink) {
        s.header(PURGE_LABEL, FORMAT_VERSION);
        s.str(event.chain.as_str());
        s.u64(event.seq);
        s.put(&event.seal.0);
        s.put(&self.digest);
        s.i64(self.purged_ms);
        s.bytes(&self.secret_id.0);
    }

    /// Whether the mark's seal is valid for `event` and a purge at its
    /// time was allowed: the event's sealed `removeAt` had passed.
    pub fn check(&self, event: &SealedEvent, secrets: &crate::SealSecrets) -> Result<()> {
        let Some(secret) = secrets.get(self.secret_id) else {
            return Err(Error::UnknownSecret(self.secret_id));
        };
        if secret.seal(|s| self.write_canonical(event, s)) != self.seal {
            return Err(Error::NotAuthentic("purge mark"));
        }
        if !secrets.rotates_forward(event.secret_id, self.secret_id) {
            return Err(Error::InvalidEvent(format!(
                "the purge mark is sealed by {}, older than the event's secret",
                self.secret_id
            )));
        }
        match event.remove_at_ms {
            Some(at) if at <= self.purged_ms => Ok(()),
            Some(at) => Err(Error::InvalidEvent(format!(
                "purged at {} before its removeAt {at}",
                self.purged_ms
            ))),
            None => Err(Error::InvalidEvent(
                "purged although it has no removeAt".into(),
            )),
        }
    }
}

/// A sealed event, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEvent {
    /// Format version ([`FORMAT_VERSION`], or [`LEGACY_FORMAT_VERSION`]
    /// for events written before).
    pub version: u8,
    /// The chain it belongs to.
    pub chain: ChainId,
    /// Its sequence number in the chain (genesis is [`GENESIS_SEQ`]).
    pub seq: u64,
    /// UTC time in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Event code (empty on a stub).
    pub code: String,
    /// Module (empty on a stub).
    pub module: String,
    /// Node (host) (empty on a stub).
    pub node: String,
    /// Outcome (meaningless on a stub).
    pub status: Status,
    /// Ordered details (none on a stub).
    pub details: Vec<Detail>,
    /// Retention date.
    pub remove_at_ms: Option<i64>,
    /// The id of the secret that sealed it.
    pub secret_id: SecretId,
    /// The seal of the previous event ([`Seal::GENESIS`] for genesis).
    pub prev: Seal,
    /// `HMAC-SHA256(secret, canonical bytes)`.
    pub seal: Seal,
    /// A retention anchor, on the first event kept after a purge.
    pub anchor: Option<Anchor>,
    /// Set on a stub: the content was purged; the seal still covers its
    /// digest, kept here.
    pub purged: Option<PurgeMark>,
    /// The caller's event id (format 3, part of the content; `None` in
    /// formats 1 and 2 and in stubs).
    pub event_id: Option<String>,
}

impl SealedEvent {
    /// Writes the canonical bytes the seal covers (see `docs/FORMAT.md`).
    /// Format 2 covers the content through its digest, computed here (or
    /// taken from the purge mark of a stub).
    pub fn write_canonical(&self, s: &mut dyn Sink) {
        if self.version == LEGACY_FORMAT_VERSION {
            return self.write_legacy(s);
        }
        let digest = self.content_digest();
        self.write_sealed_fields(&digest, s);
    }

    /// The fields format 2 seals directly, around the content's digest.
    fn write_sealed_fields(&self, digest: &[u8; 32], s: &mut dyn Sink) {
        s.header(EVENT_LABEL, self.version);
        s.str(self.chain.as_str());
        s.u64(self.seq);
        s.i64(self.timestamp_ms);
        s.opt_i64(self.remove_at_ms);
        s.bytes(&self.secret_id.0);
        s.put(&self.prev.0);
        s.put(digest);
    }

    /// The content a format 2 seal covers through its digest.
    pub fn write_content(&self, s: &mut dyn Sink) {
        s.header(CONTENT_LABEL, self.version);
        s.str(&self.code);
        s.str(&self.module);
        s.str(&self.node);
        s.u8(self.status.code());
        self.write_details(s);
        if self.version >= EVENT_ID_FORMAT_VERSION {
            s.str(self.event_id.as_deref().unwrap_or_default());
        }
    }

    /// What is wrong with the shape of this event for its format version,
    /// if anything: an unknown version, a format 1 stub, an event id where
    /// the version has none or none where it must.
    pub fn shape_error(&self) -> Option<String> {
        let stub = self.purged.is_some();
        match (self.version, &self.event_id) {
            (LEGACY_FORMAT_VERSION, _) if stub => {
                Some("a format 1 event cannot be a stub".to_owned())
            }
            (LEGACY_FORMAT_VERSION | FORMAT_VERSION, None) => None,
            (LEGACY_FORMAT_VERSION | FORMAT_VERSION, Some(_)) => Some(format!(
                "an event id in a format {} event (ids are format 3)",
                self.version
            )),
            (EVENT_ID_FORMAT_VERSION, Some(_)) if stub => {
                Some("a stub keeps no event id".to_owned())
            }
            (EVENT_ID_FORMAT_VERSION, Some(id)) => check_event_id(id).err(),
            (EVENT_ID_FORMAT_VERSION, None) if stub => None,
            (EVENT_ID_FORMAT_VERSION, None) => {
                Some("a format 3 event without its event id".to_owned())
            }
            (v, _) => Some(format!("unknown format version {v}")),
        }
    }

    fn write_details(&self, s: &mut dyn Sink) {
        // Details are bounded by the document size; see `Sink::bytes`.
        s.u32(self.details.len() as u32);
        for detail in &self.details {
            s.str(&detail.key);
            match &detail.value {
                DetailValue::Public(v) => {
                    s.u8(1);
                    s.str(v);
                }
                DetailValue::Sensitive(v) => {
                    s.u8(2);
                    s.bytes(&v.payload);
                }
            }
        }
    }

    fn write_legacy(&self, s: &mut dyn Sink) {
        s.header(EVENT_LABEL, self.version);
        s.str(self.chain.as_str());
        s.u64(self.seq);
        s.i64(self.timestamp_ms);
        s.str(&self.code);
        s.str(&self.module);
        s.str(&self.node);
        s.u8(self.status.code());
        s.opt_i64(self.remove_at_ms);
        s.bytes(&self.secret_id.0);
        s.put(&self.prev.0);
        self.write_details(s);
    }

    /// `SHA-256` of the content (format 2): what a stub keeps of it.
    pub fn content_digest(&self) -> [u8; 32] {
        match &self.purged {
            Some(mark) => mark.digest,
            None => {
                let mut hash = Sha256::new();
                self.write_content(&mut hash);
                hash.finalize().into()
            }
        }
    }

    /// The seal under `secret` and how many bytes it covers (content
    /// included): one pass, for the verifier.
    pub(crate) fn seal_counted(&self, secret: &SealSecret) -> (Seal, u64) {
        if self.version == LEGACY_FORMAT_VERSION || self.purged.is_some() {
            return secret.seal_counted(|s| self.write_canonical(s));
        }
        struct Counted {
            hash: Sha256,
            len: u64,
        }
        impl Sink for Counted {
            fn put(&mut self, bytes: &[u8]) {
                self.len += bytes.len() as u64;
                self.hash.update(bytes);
            }
        }
        let mut content = Counted {
            hash: Sha256::new(),
            len: 0,
        };
        self.write_content(&mut content);
        let digest: [u8; 32] = content.hash.finalize().into();
        let (seal, len) = secret.seal_counted(|s| self.write_sealed_fields(&digest, s));
        (seal, len + content.len)
    }

    /// Whether this is a stub: its content was purged.
    pub fn is_stub(&self) -> bool {
        self.purged.is_some()
    }

    /// The canonical bytes as a buffer (for vectors and other
    /// implementations; sealing and verifying stream them instead).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_canonical(&mut out);
        out
    }

    /// How many bytes the seal covers (the content included).
    pub fn sealed_len(&self) -> u64 {
        let mut counter = Counter::default();
        self.write_canonical(&mut counter);
        if self.version != LEGACY_FORMAT_VERSION && self.purged.is_none() {
            self.write_content(&mut counter);
        }
        counter.0
    }

    /// Computes the seal this event should carry under `secret`.
    pub fn compute_seal(&self, secret: &SealSecret) -> Seal {
        secret.seal(|s| self.write_canonical(s))
    }

    /// Whether its seal is valid under the secret it names (compared in
    /// constant time). Says nothing of its link: that is the verifier's,
    /// over the chain; nor, for a stub, of its purge mark.
    pub fn seal_is_valid(&self, secrets: &crate::SealSecrets) -> bool {
        secrets
            .get(self.secret_id)
            .is_some_and(|secret| self.compute_seal(secret) == self.seal)
    }

    /// The detail with this key.
    pub fn detail(&self, key: &str) -> Option<&DetailValue> {
        self.details.iter().find(|d| d.key == key).map(|d| &d.value)
    }

    /// The keys of the sensitive details whose wrapped data key is present
    /// (`key` alone, if given): what a shred would erase.
    pub fn shreddable_keys(&self, key: Option<&str>) -> Vec<String> {
        self.details
            .iter()
            .filter(|d| key.is_none_or(|k| k == d.key))
            .filter(|d| {
                matches!(
                    &d.value,
                    DetailValue::Sensitive(SensitiveValue {
                        wrapped_dek: Some(_),
                        ..
                    })
                )
            })
            .map(|d| d.key.clone())
            .collect()
    }

    /// Crypto-shredding of this copy: erases the wrapped data key of every
    /// sensitive detail (or only `key`'s). The values can never be
    /// decrypted again; the seal still verifies. Returns how many were
    /// erased. The store's `shred` also records the erasure in the chain,
    /// so that a verifier can tell it from an attack.
    pub fn shred(&mut self, key: Option<&str>) -> usize {
        let mut erased = 0;
        for detail in &mut self.details {
            if key.is_some_and(|k| k != detail.key) {
                continue;
            }
            if let DetailValue::Sensitive(v) = &mut detail.value {
                if v.wrapped_dek.take().is_some() {
                    erased += 1;
                }
            }
        }
        erased
    }

    /// Replaces the content by its digest and a purge mark sealed by
    /// `secret` at `now_ms`: the stub a purge leaves. The seal still
    /// verifies.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for a format 1 event (its seal covers the
    /// content itself), a stub, or an event whose `removeAt` is absent or
    /// after `now_ms`; nothing is changed then.
    pub fn purge(&mut self, now_ms: i64, secret: &SealSecret) -> Result<()> {
        let refuse = |why: &str| {
            Err(Error::InvalidEvent(format!(
                "event {}#{} cannot be purged: {why}",
                self.chain, self.seq
            )))
        };
        if self.version == LEGACY_FORMAT_VERSION {
            return refuse("format 1 seals its content; only a prefix can be compacted");
        }
        if self.purged.is_some() {
            return refuse("it is already a stub");
        }
        match self.remove_at_ms {
            Some(at) if at <= now_ms => {}
            Some(at) => return refuse(&format!("its removeAt {at} is after {now_ms}")),
            None => return refuse("it has no removeAt"),
        }
        let mut mark = PurgeMark {
            digest: self.content_digest(),
            purged_ms: now_ms,
            secret_id: secret.id(),
            seal: Seal::GENESIS,
        };
        mark.seal = secret.seal(|s| mark.write_canonical(self, s));
        self.code.clear();
        self.module.clear();
        self.node.clear();
        self.status = Status::Success;
        self.details.clear();
        self.event_id = None;
        self.purged = Some(mark);
        Ok(())
    }
}

/// Checks an event id: 1 to [`MAX_EVENT_ID_LEN`] bytes of printable ASCII
/// (no space, no control character), e.g. a UUID or `<request>-<n>`.
pub fn check_event_id(id: &str) -> std::result::Result<(), String> {
    if id.is_empty() || id.len() > MAX_EVENT_ID_LEN {
        return Err(format!(
            "an event id has 1 to {MAX_EVENT_ID_LEN} bytes; this one has {}",
            id.len()
        ));
    }
    match id.bytes().position(|b| !b.is_ascii_graphic()) {
        Some(at) => Err(format!(
            "an event id is printable ASCII without spaces; byte {at} is not"
        )),
        None => Ok(()),
    }
}

/// The associated data of a sensitive detail: binds its ciphertext to the
/// chain, the sequence number and the detail key.
pub fn detail_aad(chain: &ChainId, seq: u64, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + chain.as_str().len() + key.len());
    aad.header(DETAIL_LABEL, RECORD_VERSION);
    aad.str(chain.as_str());
    aad.u64(seq);
    aad.str(key);
    aad
}
