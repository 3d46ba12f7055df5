//! The verifier's report for people and for programs: text (findings
//! earliest first, one line per chain, the verdict) and one JSON object
//! (the schema is in the crate documentation).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

use serde_json::{json, Value};
use stream_chain::{is_unprintable, ChainId, VerifyReport};

/// `text` as the text report prints it: a backslash as `\\`, and every
/// character for which [`is_unprintable`] holds (controls, line
/// separators, bidirectional and invisible formatting characters) as
/// `\u{XXXX}`. What came from the input therefore never starts a line,
/// moves the cursor, colours the terminal or reorders what follows it,
/// and distinct texts print distinctly.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_unprintable(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_unprintable(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The report as text: findings (earliest first), one line per chain, the
/// verdict. Every text that came from the input (chain ids, the reasons
/// of malformed records) is printed through [`printable`]: each finding,
/// chain and verdict is exactly one line.
pub fn write_text(out: &mut (impl io::Write + ?Sized), report: &VerifyReport) -> io::Result<()> {
    for finding in &report.findings {
        writeln!(out, "{}", printable(&finding.to_string()))?;
    }
    let hidden = report
        .total_findings
        .saturating_sub(report.findings.len() as u64);
    if hidden > 0 {
        writeln!(out, "... and {hidden} more findings")?;
    }
    for chain in &report.chains {
        let seq = match (chain.first_seq, chain.last_seq) {
            (Some(first), Some(last)) => format!("seq {first}..{last}"),
            _ => "no event placed".to_owned(),
        };
        let status = match (chain.errors, chain.warnings) {
            (0, 0) => "OK".to_owned(),
            (0, w) => format!("OK ({w} {})", plural(w, "warning")),
            (e, w) => format!(
                "FAILED ({e} {}, {w} {})",
                plural(e, "error"),
                plural(w, "warning")
            ),
        };
        writeln!(
            out,
            "chain {}: {} {}, {seq}: {status}",
            printable(chain.chain.as_str()),
            chain.events,
            plural(chain.events, "event")
        )?;
    }
    let warnings = report.total_findings.saturating_sub(report.errors);
    writeln!(
        out,
        "{} {} in {} {}, {} sealed bytes: {}",
        report.records,
        plural(report.records, "record"),
        report.chains.len(),
        plural(report.chains.len() as u64, "chain"),
        report.sealed_bytes,
        if report.is_ok() {
            format!("verified ({warnings} {})", plural(warnings, "warning"))
        } else {
            format!(
                "INTEGRITY FINDINGS ({} {}, {warnings} {})",
                report.errors,
                plural(report.errors, "error"),
                plural(warnings, "warning")
            )
        }
    )
}

/// `word` or `words`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// The report as one JSON object (printed compact, on one line, by the
/// verifier).
pub fn json(report: &VerifyReport) -> Value {
    let chains: Vec<Value> = report
        .chains
        .iter()
        .map(|c| {
            json!({
                "chain": c.chain.as_str(),
                "events": c.events,
                "stubs": c.stubs,
                "firstSeq": c.first_seq,
                "lastSeq": c.last_seq,
                "headSeal": c.head_seal.map(|s| s.to_hex()),
                "errors": c.errors,
                "warnings": c.warnings,
            })
        })
        .collect();
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "chain": f.chain.as_ref().map(ChainId::as_str),
                "seq": f.seq,
                "kind": f.kind.name(),
                "message": f.to_string(),
            })
        })
        .collect();
    json!({
        "ok": report.is_ok(),
        "records": report.records,
        "sealedBytes": report.sealed_bytes,
        "chains": chains,
        "findings": findings,
        "totalFindings": report.total_findings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::testing::{chain, verifier};

    #[test]
    fn text_and_json_say_the_same() {
        let events = chain(3);
        let mut verifier = verifier();
        for event in [&events[0], &events[2]] {
            verifier.push(event);
        }
        let report = verifier.finish();
        let mut text = Vec::new();
        write_text(&mut text, &report).unwrap();
        let text = String::from_utf8(text).unwrap();
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("2 records in 1 chain, "), "{text}");
        assert!(last.contains(": INTEGRITY FINDINGS (1 error, "), "{text}");
        assert!(
            text.contains("chain ca: 2 events, seq 1..3: FAILED (1 error, "),
            "{text}"
        );
        let json = json(&report);
        assert_eq!(json["ok"], false);
        assert_eq!(json["records"], 2);
        assert_eq!(json["chains"][0]["chain"], "ca");
        assert_eq!(json["findings"][0]["seq"], 2);
        assert_eq!(json["findings"][0]["kind"], "gap");
        assert_eq!(json["totalFindings"], 1);
    }

    #[test]
    fn printable_escapes_what_could_forge_a_line() {
        assert_eq!(printable("ca"), "ca");
        assert_eq!(printable("a\nchain ca: OK"), "a\\u{000A}chain ca: OK");
        assert_eq!(printable("\u{1b}[32mOK"), "\\u{001B}[32mOK");
        assert_eq!(printable("x\u{202E}y"), "x\\u{202E}y");
        // Injective: an escape written literally does not print as the
        // character it names.
        assert_eq!(printable("\\u{000A}"), "\\\\u{000A}");
        assert_eq!(printable("é"), "é");
    }

    proptest::proptest! {
        /// Whatever text a hostile record puts in a finding, the text
        /// report prints one line per finding, per chain and the
        /// verdict, with no control or formatting character in them.
        #[test]
        fn the_text_report_has_one_line_per_item(reasons in proptest::collection::vec(".*", 0..6), raw in ".*") {
            let mut verifier = verifier();
            for event in chain(2) {
                verifier.push(&event);
            }
            let mut report = verifier.finish();
            for why in reasons.iter().chain(std::iter::once(&raw)) {
                report.findings.push(stream_chain::Finding {
                    chain: None,
                    seq: None,
                    kind: stream_chain::FindingKind::Malformed(why.clone()),
                });
            }
            let mut text = Vec::new();
            write_text(&mut text, &report).unwrap();
            let text = String::from_utf8(text).unwrap();
            let lines: Vec<&str> = text.split_terminator('\n').collect();
            proptest::prop_assert_eq!(lines.len(), report.findings.len() + report.chains.len() + 1);
            for line in lines {
                proptest::prop_assert!(!line.chars().any(is_unprintable), "{:?}", line);
            }
        }
    }
}
