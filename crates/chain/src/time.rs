//! Points in time as the chain stores them: UTC milliseconds since the
//! Unix epoch, with conversions from and to [`SystemTime`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in UTC milliseconds since the Unix epoch (what the
/// seal covers; BSON dates have the same resolution).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use stream_chain::Timestamp;
///
/// let t = Timestamp::from(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
/// assert_eq!(t.millis(), 1_700_000_000_123);
/// assert_eq!(t.to_system_time(), UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The time `millis` milliseconds after the Unix epoch (before it when
    /// negative).
    pub const fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    /// This clock's current time.
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time `by` later, saturating at the end of the range.
    pub fn saturating_add(self, by: Duration) -> Timestamp {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(by))
    }

    /// As a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_millis(self.0.unsigned_abs());
        // SystemTime spans far more than ±2^63 ms on every supported
        // platform; the fallback is never taken there.
        let shifted = if self.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        };
        shifted.unwrap_or(UNIX_EPOCH)
    }
}

impl From<SystemTime> for Timestamp {
    /// Truncated to the millisecond; saturates outside ±292 million years.
    fn from(time: SystemTime) -> Timestamp {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(millis(after)),
            Err(before) => Timestamp(millis(before.duration()).saturating_neg()),
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        t.to_system_time()
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms since the epoch", self.0)
    }
}
