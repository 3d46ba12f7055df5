//! The canonical encoding of everything sealed: versioned, every variable
//! field length-prefixed, independent of how a record is stored.
//! `docs/FORMAT.md` specifies it byte by byte.

/// Where canonical bytes go: a buffer (for test vectors and other
/// implementations) or straight into an HMAC (the hot path, no allocation).
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);

    /// A `u8`.
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    /// A big-endian `u32`.
    fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }
    /// A big-endian `u64`.
    fn u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }
    /// A big-endian two's-complement `i64`.
    fn i64(&mut self, v: i64) {
        self.put(&v.to_be_bytes());
    }
    /// A length-prefixed byte string: `u32be(len) || bytes`.
    fn bytes(&mut self, v: &[u8]) {
        // Every field is bounded far below 4 GiB: `Chainer::seal` refuses
        // events over 16 MiB (MongoDB's document limit), and records read
        // back come from BSON documents of at most 16 MiB.
        self.u32(v.len() as u32);
        self.put(v);
    }
    /// A length-prefixed UTF-8 string.
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    /// An optional `i64`: `0x00`, or `0x01 || i64be`.
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
        }
    }
    /// The header of a record: its domain label (length-prefixed) and
    /// format version.
    fn header(&mut self, label: &str, version: u8) {
        self.str(label);
        self.u8(version);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for sha2::Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
    }
}

impl Sink for hmac::Hmac<sha2::Sha256> {
    fn put(&mut self, bytes: &[u8]) {
        hmac::Mac::update(self, bytes);
    }
}

/// Counts bytes (the sealed size of a record, for throughput figures).
#[derive(Default)]
pub(crate) struct Counter(pub u64);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

/// Domain label of events.
pub const EVENT_LABEL: &str = "stream.event";
/// Domain label of the content digest of an event (format 2).
pub const CONTENT_LABEL: &str = "stream.event-content";
/// Domain label of the purge mark of a stub (format 2).
pub const PURGE_LABEL: &str = "stream.purge";
/// Domain label of the associated data of a sensitive detail.
pub const DETAIL_LABEL: &str = "stream.detail";
/// Domain label of retention anchors.
pub const ANCHOR_LABEL: &str = "stream.anchor";
/// Domain label of checkpoints.
pub const CHECKPOINT_LABEL: &str = "stream.checkpoint";
/// Domain label of integrity reports.
pub const REPORT_LABEL: &str = "stream.report";
/// Domain label of seal secret ids.
pub const SECRET_ID_LABEL: &str = "stream.seal-secret-id";
