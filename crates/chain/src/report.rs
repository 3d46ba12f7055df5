//! Integrity reports as Stream has them, sealed.

use std::fmt;

use crate::canonical::{Sink, REPORT_LABEL};
use crate::event::{ChainId, RECORD_VERSION};
use crate::secret::{Seal, SealSecret, SealSecrets, SecretId};
use crate::verify::VerifyReport;

/// The status of an integrity report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// Every event in the range verified.
    Verified,
    /// An event in the range failed verification.
    EventIntegrityFailure,
    /// The report itself was tampered with (given when it is read).
    ReportIntegrityFailure,
}

impl ReportStatus {
    /// Stream's name: `verified`, `eventIntegrityFailure`,
    /// `reportIntegrityFailure`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Verified => "verified",
            ReportStatus::EventIntegrityFailure => "eventIntegrityFailure",
            ReportStatus::ReportIntegrityFailure => "reportIntegrityFailure",
        }
    }

    /// Parses Stream's name.
    pub fn parse(name: &str) -> Option<ReportStatus> {
        match name {
            "verified" => Some(ReportStatus::Verified),
            "eventIntegrityFailure" => Some(ReportStatus::EventIntegrityFailure),
            "reportIntegrityFailure" => Some(ReportStatus::ReportIntegrityFailure),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            ReportStatus::Verified => 0,
            ReportStatus::EventIntegrityFailure => 1,
            ReportStatus::ReportIntegrityFailure => 2,
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An integrity report over a range of one chain, sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityReport {
    /// The chain.
    pub chain: ChainId,
    /// First sequence number of the range.
    pub from_seq: u64,
    /// Last sequence number of the range.
    pub to_seq: u64,
    /// Timestamp of the first event of the range (UTC milliseconds).
    pub start_time_ms: Option<i64>,
    /// Timestamp of the last event of the range.
    pub end_time_ms: Option<i64>,
    /// Number of events read.
    pub events: u64,
    /// The outcome.
    pub status: ReportStatus,
    /// The first error found, as text.
    pub first_error: Option<String>,
    /// When the report was made (UTC milliseconds).
    pub created_ms: i64,
    /// The secret that sealed the report.
    pub secret_id: SecretId,
    /// The report's seal.
    pub seal: Seal,
}

impl IntegrityReport {
    /// Seals the report of a verification of `chain` over `from..=to`.
    pub fn from_verification(
        chain: ChainId,
        from_seq: u64,
        to_seq: u64,
        verification: &VerifyReport,
        created_ms: i64,
        secret: &SealSecret,
    ) -> IntegrityReport {
        let summary = verification.chains.iter().find(|c| c.chain == chain);
        let first_finding = verification
            .findings
            .iter()
            .find(|f| !f.kind.is_warning() && f.chain.as_ref() == Some(&chain))
            .map(ToString::to_string);
        // The status counts every error (kept or not, with or without a
        // chain), and a range the events do not reach is a failure too.
        let reached = summary.and_then(|s| s.last_seq).unwrap_or(0);
        let errors = summary.map_or(0, |s| s.errors)
            + verification
                .findings
                .iter()
                .filter(|f| f.chain.is_none() && !f.kind.is_warning())
                .count() as u64;
        let first_error = if errors > 0 {
            Some(first_finding.unwrap_or_else(|| format!("{chain}: {errors} integrity errors")))
        } else if reached < to_seq {
            Some(format!(
                "{chain}#{}: events {}..={to_seq} are missing",
                reached.saturating_add(1).max(from_seq),
                reached.saturating_add(1).max(from_seq)
            ))
        } else {
            None
        };
        let mut report = IntegrityReport {
            from_seq,
            to_seq,
            start_time_ms: summary.and_then(|s| s.first_ts),
            end_time_ms: summary.and_then(|s| s.last_ts),
            events: summary.map_or(0, |s| s.events),
            status: if first_error.is_some() {
                ReportStatus::EventIntegrityFailure
            } else {
                ReportStatus::Verified
            },
            first_error,
            created_ms,
            secret_id: secret.id(),
            seal: Seal::GENESIS,
            chain,
        };
        report.seal = secret.seal(|s| report.write_canonical(s));
        report
    }

    /// Writes the canonical bytes the report's seal covers.
    pub fn write_canonical(&self, s: &mut dyn Sink) {
        s.header(REPORT_LABEL, RECORD_VERSION);
        s.str(self.chain.as_str());
        s.u64(self.from_seq);
        s.u64(self.to_seq);
        s.opt_i64(self.start_time_ms);
        s.opt_i64(self.end_time_ms);
        s.u64(self.events);
        s.u8(self.status.code());
        match &self.first_error {
            None => s.u8(0),
            Some(e) => {
                s.u8(1);
                s.str(e);
            }
        }
        s.i64(self.created_ms);
        s.bytes(&self.secret_id.0);
    }

    /// The status to show when the report is read: its own, or
    /// `reportIntegrityFailure` if its seal does not verify.
    pub fn checked_status(&self, secrets: &SealSecrets) -> ReportStatus {
        let authentic = secrets
            .get(self.secret_id)
            .is_some_and(|secret| secret.seal(|s| self.write_canonical(s)) == self.seal);
        if authentic {
            self.status
        } else {
            ReportStatus::ReportIntegrityFailure
        }
    }
}
