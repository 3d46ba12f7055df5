//! Event search: the filters, the order, and opaque cursors that page
//! through the results without skipping (each page starts after the last
//! event of the one before, whatever was appended meanwhile).

use base64::Engine as _;
use mongodb::bson::{doc, DateTime, Document};
use sha2::{Digest, Sha256};
use stream_chain::canonical::Sink;
use stream_chain::{ChainId, SealedEvent, Status, Timestamp};

use crate::codec::{search_term, seq_to_bson};

/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest page size.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Search filters: the fields Stream's event search filters on. Results are
/// sorted by time (newest first unless `oldest_first`), then chain, then
/// sequence number; purged events (stubs) are never found.
#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// Only this chain.
    pub chain: Option<String>,
    /// Event code.
    pub code: Option<String>,
    /// Module.
    pub module: Option<String>,
    /// Node.
    pub node: Option<String>,
    /// Status.
    pub status: Option<Status>,
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Until this time (exclusive).
    pub to: Option<Timestamp>,
    /// A public detail equal to this value.
    pub detail: Option<(String, String)>,
    /// Oldest first (default: newest first).
    pub oldest_first: bool,
    /// Events per page: 1 to [`MAX_PAGE_SIZE`] (default
    /// [`DEFAULT_PAGE_SIZE`]).
    pub page_size: u32,
}

impl Default for SearchQuery {
    fn default() -> SearchQuery {
        SearchQuery {
            chain: None,
            code: None,
            module: None,
            node: None,
            status: None,
            from: None,
            to: None,
            detail: None,
            oldest_first: false,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// Why a query or a cursor was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The page size is out of range.
    #[error("search page size {0}: give 1 to {MAX_PAGE_SIZE}")]
    PageSize(u32),
    /// `from` is not before `to`: nothing can match.
    #[error("search time range is empty: `from` ({from}) must be before `to` ({to})")]
    EmptyRange {
        /// The start.
        from: i64,
        /// The end.
        to: i64,
    },
    /// The cursor is not one this library made.
    #[error("search cursor is malformed: pass back the `next` cursor of a page unchanged")]
    MalformedCursor,
    /// The cursor was made by another query.
    #[error("search cursor belongs to another query: page with the query that returned it, or start again without a cursor")]
    ForeignCursor,
}

impl SearchQuery {
    /// Checks the query: a page size of 1 to [`MAX_PAGE_SIZE`], a time
    /// range that is not empty.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(QueryError::PageSize(self.page_size));
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Err(QueryError::EmptyRange {
                    from: from.millis(),
                    to: to.millis(),
                });
            }
        }
        Ok(())
    }

    /// Whether `event` matches the filters (the same semantics as the
    /// MongoDB query, for logs kept elsewhere, e.g. in memory).
    pub fn matches(&self, event: &SealedEvent) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        !event.is_stub()
            && eq(&self.chain, event.chain.as_str())
            && eq(&self.code, &event.code)
            && eq(&self.module, &event.module)
            && eq(&self.node, &event.node)
            && self.status.is_none_or(|s| s == event.status)
            && self
                .from
                .is_none_or(|from| event.timestamp_ms >= from.millis())
            && self.to.is_none_or(|to| event.timestamp_ms < to.millis())
            && self.detail.as_ref().is_none_or(|(k, v)| {
                event.details.iter().any(|d| {
                    d.key == *k
                        && matches!(&d.value, stream_chain::DetailValue::Public(p) if p == v)
                })
            })
    }

    /// The MongoDB filter of the query (without paging).
    pub fn filter(&self) -> Document {
        let mut filter = Document::new();
        for (field, value) in [
            ("chain", &self.chain),
            ("code", &self.code),
            ("module", &self.module),
            ("node", &self.node),
        ] {
            if let Some(v) = value {
                filter.insert(field, v.as_str());
            }
        }
        if let Some(status) = self.status {
            filter.insert("status", status.as_str());
        }
        let mut time = Document::new();
        if let Some(from) = self.from {
            time.insert("$gte", DateTime::from_millis(from.millis()));
        }
        if let Some(to) = self.to {
            time.insert("$lt", DateTime::from_millis(to.millis()));
        }
        if !time.is_empty() {
            filter.insert("timestamp", time);
        }
        if let Some((k, v)) = &self.detail {
            filter.insert("terms", search_term(k, v));
        }
        // Stubs (purged events) hold nothing to find.
        filter.insert("purged", doc! {"$exists": false});
        filter
    }

    /// The MongoDB sort of the results.
    pub fn sort(&self) -> Document {
        let order = if self.oldest_first { 1 } else { -1 };
        doc! {"timestamp": order, "chain": 1, "seq": order}
    }

    /// The MongoDB filter of the page after `cursor`: the query's filter
    /// and a position strictly after the cursor's in the sort order.
    pub fn filter_after(&self, cursor: Option<&SearchCursor>) -> Result<Document, QueryError> {
        let mut filter = self.filter();
        let Some(cursor) = cursor else {
            return Ok(filter);
        };
        cursor.check_for(self)?;
        let (time_op, seq_op) = if self.oldest_first {
            ("$gt", "$gt")
        } else {
            ("$lt", "$lt")
        };
        let t = DateTime::from_millis(cursor.timestamp_ms);
        let after = doc! {"$or": [
            {"timestamp": {time_op: t}},
            {"timestamp": t, "chain": {"$gt": cursor.chain.as_str()}},
            {"timestamp": t, "chain": cursor.chain.as_str(), "seq": {seq_op: seq_to_bson(cursor.seq)}},
        ]};
        filter = doc! {"$and": [filter, after]};
        Ok(filter)
    }

    /// Whether `event` comes after `cursor` in this query's order.
    pub fn is_after(&self, event: &SealedEvent, cursor: &SearchCursor) -> bool {
        use std::cmp::Ordering;
        let by_time = event.timestamp_ms.cmp(&cursor.timestamp_ms);
        let by_seq = event.seq.cmp(&cursor.seq);
        let (by_time, by_seq) = if self.oldest_first {
            (by_time, by_seq)
        } else {
            (by_time.reverse(), by_seq.reverse())
        };
        by_time
            .then(event.chain.as_str().cmp(cursor.chain.as_str()))
            .then(by_seq)
            == Ordering::Greater
    }

    /// Orders two events as the results are sorted.
    pub fn order(&self, a: &SealedEvent, b: &SealedEvent) -> std::cmp::Ordering {
        let by_time = a.timestamp_ms.cmp(&b.timestamp_ms);
        let by_seq = a.seq.cmp(&b.seq);
        let (by_time, by_seq) = if self.oldest_first {
            (by_time, by_seq)
        } else {
            (by_time.reverse(), by_seq.reverse())
        };
        by_time.then(a.chain.cmp(&b.chain)).then(by_seq)
    }

    /// A digest of the filters and the order (not the page size): what a
    /// cursor is bound to.
    fn fingerprint(&self) -> [u8; 8] {
        struct Hash(Sha256);
        impl Sink for Hash {
            fn put(&mut self, bytes: &[u8]) {
                self.0.update(bytes);
            }
        }
        let mut h = Hash(Sha256::new());
        h.header("stream.search-query", 1);
        for field in [&self.chain, &self.code, &self.module, &self.node] {
            match field {
                Some(v) => {
                    h.u8(1);
                    h.str(v);
                }
                None => h.u8(0),
            }
        }
        h.str(self.status.map_or("", Status::as_str));
        h.opt_i64(self.from.map(Timestamp::millis));
        h.opt_i64(self.to.map(Timestamp::millis));
        match &self.detail {
            Some((k, v)) => {
                h.u8(1);
                h.str(k);
                h.str(v);
            }
            None => h.u8(0),
        }
        h.u8(u8::from(self.oldest_first));
        let digest = h.0.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }
}

/// Where a page of search results ended: pass it back to get the next
/// page. Opaque; [`SearchCursor::to_string`](ToString::to_string) and
/// [`SearchCursor::parse`] carry it through a web client (URL-safe base64).
/// It is bound to its query: given with another, it is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchCursor {
    query: [u8; 8],
    timestamp_ms: i64,
    chain: ChainId,
    seq: u64,
}

const CURSOR_VERSION: u8 = 1;

impl SearchCursor {
    /// The cursor after `event`, the last of a page of `query`.
    pub fn after(query: &SearchQuery, event: &SealedEvent) -> SearchCursor {
        SearchCursor {
            query: query.fingerprint(),
            timestamp_ms: event.timestamp_ms,
            chain: event.chain.clone(),
            seq: event.seq,
        }
    }

    /// Reads a cursor from its text.
    ///
    /// # Errors
    /// [`QueryError::MalformedCursor`] when it is not one.
    pub fn parse(text: &str) -> Result<SearchCursor, QueryError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| QueryError::MalformedCursor)?;
        let (&version, rest) = bytes.split_first().ok_or(QueryError::MalformedCursor)?;
        if version != CURSOR_VERSION || rest.len() < 24 {
            return Err(QueryError::MalformedCursor);
        }
        let (query, rest) = rest.split_at(8);
        let (time, rest) = rest.split_at(8);
        let (seq, chain) = rest.split_at(8);
        let array = |b: &[u8]| <[u8; 8]>::try_from(b).map_err(|_| QueryError::MalformedCursor);
        let chain = std::str::from_utf8(chain).map_err(|_| QueryError::MalformedCursor)?;
        Ok(SearchCursor {
            query: array(query)?,
            timestamp_ms: i64::from_be_bytes(array(time)?),
            chain: ChainId::new(chain).map_err(|_| QueryError::MalformedCursor)?,
            seq: u64::from_be_bytes(array(seq)?),
        })
    }

    fn check_for(&self, query: &SearchQuery) -> Result<(), QueryError> {
        if self.query == query.fingerprint() {
            Ok(())
        } else {
            Err(QueryError::ForeignCursor)
        }
    }
}

impl std::fmt::Display for SearchCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = Vec::with_capacity(25 + self.chain.as_str().len());
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&self.query);
        bytes.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        bytes.extend_from_slice(&self.seq.to_be_bytes());
        bytes.extend_from_slice(self.chain.as_str().as_bytes());
        f.write_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// One page of search results.
#[derive(Debug)]
pub struct SearchPage {
    /// The events of this page, in order.
    pub events: Vec<SealedEvent>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<SearchCursor>,
}

impl SearchPage {
    /// The page of `events` (at most `page_size + 1` fetched: one more
    /// tells whether a next page exists). Each event is checked against
    /// the query before it is returned: the index finds documents by their
    /// `terms` and stored fields, which no seal covers, so a document whose
    /// terms were rewritten is found but not returned (the next page still
    /// starts after it; a page may then hold fewer events than its size).
    pub fn of(query: &SearchQuery, mut events: Vec<SealedEvent>) -> SearchPage {
        let size = query.page_size as usize;
        let more = events.len() > size;
        events.truncate(size);
        let next = if more {
            events.last().map(|e| SearchCursor::after(query, e))
        } else {
            None
        };
        events.retain(|e| query.matches(e));
        SearchPage { events, next }
    }
}
