//! Routing events to chains by retention class.

use std::time::Duration;

use stream_chain::EventDraft;

/// A chain-naming policy the server configures: each event goes to the
/// chain of its retention class, `<base>.<class>`, chosen by how long it is
/// kept (`removeAt - timestamp`). Events of one class expire in about the
/// order they were written, so a purge deletes a chain's expired prefix
/// behind one anchor instead of leaving a stub per event in a chain mixing
/// short- and long-lived events.
///
/// ```
/// use std::time::Duration;
/// use stream_store::ChainPolicy;
/// use stream_store::{EventDraft, Status, Timestamp};
///
/// let policy = ChainPolicy::new()
///     .class("days", Duration::from_secs(7 * 86_400))
///     .class("years", Duration::from_secs(10 * 365 * 86_400));
/// let t = Timestamp::from_millis(1_700_000_000_000);
/// let day = Duration::from_secs(86_400);
/// let ocsp = EventDraft::new("OCSP-RESPONSE", "ocsp", "pod-0", Status::Success, t).remove_at(t.saturating_add(day));
/// let enroll = EventDraft::new("LIFECYCLE-ENROLL", "ca", "pod-0", Status::Success, t).remove_at(t.saturating_add(400 * day));
/// let audit = EventDraft::new("ADMIN-LOGIN", "admin", "pod-0", Status::Success, t);
/// assert_eq!(policy.chain_for("events", &ocsp), "events.days");
/// assert_eq!(policy.chain_for("events", &enroll), "events.years");
/// assert_eq!(policy.chain_for("events", &audit), "events.kept");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainPolicy {
    /// Classes by the longest retention they take, shortest first.
    classes: Vec<(String, i64)>,
}

/// The class of events kept without end (no `removeAt`), or longer than
/// every class.
pub const KEPT_CLASS: &str = "kept";

impl ChainPolicy {
    /// A policy without classes: every event goes to its base chain.
    pub fn new() -> ChainPolicy {
        ChainPolicy::default()
    }

    /// Adds a class: events kept at most `up_to` go to `<base>.<name>` (the
    /// shortest class that fits wins).
    pub fn class(mut self, name: impl Into<String>, up_to: Duration) -> ChainPolicy {
        let ms = i64::try_from(up_to.as_millis()).unwrap_or(i64::MAX);
        self.classes.push((name.into(), ms));
        self.classes.sort_by_key(|(_, ms)| *ms);
        self
    }

    /// The chain of `draft`: `base` without classes; else `<base>.<class>`,
    /// or `<base>.kept` ([`KEPT_CLASS`]) for an event without `removeAt` or
    /// kept longer than every class.
    pub fn chain_for(&self, base: &str, draft: &EventDraft) -> String {
        if self.classes.is_empty() {
            return base.to_owned();
        }
        let class = draft
            .remove_at_ms
            .map(|at| at.saturating_sub(draft.timestamp_ms))
            .and_then(|kept| {
                self.classes
                    .iter()
                    .find(|(_, up_to)| kept <= *up_to)
                    .map(|(name, _)| name.as_str())
            })
            .unwrap_or(KEPT_CLASS);
        format!("{base}.{class}")
    }
}
