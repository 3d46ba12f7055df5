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

/// Gathers the many short fields of a record into a buffer on the stack and
/// hands them to `inner` in a few large writes: a hash costs much more per
/// call than per byte for fields of a few bytes. Counts the bytes too.
/// [`Buffered::finish`] hands on the rest.
pub(crate) struct Buffered<'a> {
    inner: &'a mut dyn Sink,
    buf: [u8; BUFFERED],
    used: usize,
    /// Bytes put in all.
    pub(crate) len: u64,
}

/// The buffer of [`Buffered`]: four SHA-256 blocks.
const BUFFERED: usize = 256;

impl<'a> Buffered<'a> {
    /// An empty buffer in front of `inner`.
    pub(crate) fn new(inner: &'a mut dyn Sink) -> Buffered<'a> {
        Buffered {
            inner,
            buf: [0; BUFFERED],
            used: 0,
            len: 0,
        }
    }

    /// Hands on what is buffered; returns the bytes put in all.
    pub(crate) fn finish(mut self) -> u64 {
        self.flush();
        self.len
    }

    fn flush(&mut self) {
        if let Some(held) = self.buf.get(..self.used) {
            if !held.is_empty() {
                self.inner.put(held);
            }
        }
        self.used = 0;
    }
}

impl Sink for Buffered<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if bytes.len() > BUFFERED - self.used {
            self.flush();
        }
        match self.buf.get_mut(self.used..self.used + bytes.len()) {
            // (Always there when it fits: `used` is at most BUFFERED.)
            Some(room) if bytes.len() < BUFFERED => {
                room.copy_from_slice(bytes);
                self.used += bytes.len();
            }
            // A long field (a ciphertext) goes through unbuffered.
            _ => self.inner.put(bytes),
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Records each write, to see that few reach the inner sink.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Sink for Writes {
        fn put(&mut self, bytes: &[u8]) {
            self.0.push(bytes.to_vec());
        }
    }

    proptest! {
        /// Whatever the fields (empty, short, as long as the buffer or
        /// longer), the inner sink receives exactly their concatenation, no
        /// empty write, and the count is their total length.
        #[test]
        fn buffered_hands_on_the_same_bytes(
            fields in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..9),
                    proptest::collection::vec(any::<u8>(), 250..260),
                    proptest::collection::vec(any::<u8>(), 0..700),
                ],
                0..40,
            )
        ) {
            let mut writes = Writes::default();
            let mut buffered = Buffered::new(&mut writes);
            for field in &fields {
                buffered.put(field);
            }
            let len = buffered.finish();
            let expected: Vec<u8> = fields.concat();
            prop_assert_eq!(len, expected.len() as u64);
            prop_assert!(writes.0.iter().all(|w| !w.is_empty()));
            prop_assert_eq!(writes.0.concat(), expected);
        }
    }

    #[test]
    fn short_fields_reach_the_inner_sink_in_one_write() {
        let mut writes = Writes::default();
        let mut buffered = Buffered::new(&mut writes);
        buffered.header(EVENT_LABEL, 2);
        buffered.str("ca");
        buffered.u64(7);
        buffered.opt_i64(Some(-1));
        buffered.finish();
        assert_eq!(writes.0.len(), 1);
    }
}
