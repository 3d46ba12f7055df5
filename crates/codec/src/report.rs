//! The BSON shape of integrity reports.

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Document};
use stream_chain::{ChainId, IntegrityReport, ReportStatus, Seal, SecretId};

use crate::event::seq_to_bson;

fn date_or_null(ms: Option<i64>) -> Bson {
    ms.map_or(Bson::Null, |ms| Bson::DateTime(DateTime::from_millis(ms)))
}

/// The BSON document of a report.
pub fn report_to_document(report: &IntegrityReport) -> Document {
    doc! {
        "v": 1,
        "chain": report.chain.as_str(),
        "fromSeq": seq_to_bson(report.from_seq),
        "toSeq": seq_to_bson(report.to_seq),
        "startTime": date_or_null(report.start_time_ms),
        "endTime": date_or_null(report.end_time_ms),
        "events": seq_to_bson(report.events),
        "status": report.status.as_str(),
        "firstError": report.first_error.as_deref().map_or(Bson::Null, Bson::from),
        "created": DateTime::from_millis(report.created_ms),
        "secretId": report.secret_id.to_hex(),
        "seal": Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: report.seal.0.to_vec() }),
    }
}

/// Reads a report from its BSON document.
pub fn report_from_document(d: &Document) -> Result<IntegrityReport, String> {
    let int = |field: &str| -> Result<u64, String> {
        match d.get(field) {
            Some(Bson::Int64(v)) => u64::try_from(*v).map_err(|_| format!("`{field}` negative")),
            Some(Bson::Int32(v)) => u64::try_from(*v).map_err(|_| format!("`{field}` negative")),
            _ => Err(format!("`{field}`: missing or not an integer")),
        }
    };
    let date = |field: &str| -> Result<Option<i64>, String> {
        match d.get(field) {
            None | Some(Bson::Null) => Ok(None),
            Some(Bson::DateTime(t)) => Ok(Some(t.timestamp_millis())),
            _ => Err(format!("`{field}`: not a date")),
        }
    };
    let string = |field: &str| -> Result<&str, String> {
        d.get_str(field)
            .map_err(|_| format!("`{field}`: missing or not a string"))
    };
    Ok(IntegrityReport {
        chain: ChainId::new(string("chain")?).map_err(|e| e.to_string())?,
        from_seq: int("fromSeq")?,
        to_seq: int("toSeq")?,
        start_time_ms: date("startTime")?,
        end_time_ms: date("endTime")?,
        events: int("events")?,
        status: ReportStatus::parse(string("status")?).ok_or("`status`: unknown")?,
        first_error: match d.get("firstError") {
            None | Some(Bson::Null) => None,
            Some(Bson::String(s)) => Some(s.clone()),
            _ => return Err("`firstError`: not a string".into()),
        },
        created_ms: date("created")?.ok_or("`created`: missing")?,
        secret_id: SecretId::from_hex(string("secretId")?).ok_or("`secretId`: not hex")?,
        seal: match d.get("seal") {
            Some(Bson::Binary(b)) => Seal::from_slice(&b.bytes).ok_or("`seal`: not 32 bytes")?,
            _ => return Err("`seal`: missing".into()),
        },
    })
}
