//! Quickstart: append audit events with public and sensitive details, read
//! some back decrypted, verify the chain, show what the verifier reports on
//! a tampered copy, and optionally export the chain as `mongoexport` would.
//!
//! ```sh
//! cargo run --release --example quickstart -- [--events N] [--chain NAME] [--shred SEQ [--reason TEXT]] [--export FILE]
//! cargo run --release --example quickstart -- --chain NAME --quarantine SEQ [--reason TEXT]
//! ```
//!
//! `--shred SEQ` crypto-shreds event `NAME#SEQ` through the store (its data
//! keys erased, a sealed shred record appended) after the events are
//! appended and before `--export`; the chain is verified again after it.
//!
//! `--quarantine SEQ` does only that: it moves the record at `NAME#SEQ`
//! aside (MongoDB), after checking that it is not an authentic event: the
//! way out when appends fail with "the stored head ... is not an authentic
//! event".
//!
//! In memory without `MONGODB_URI`; with it, the events go to that database
//! (database from the URI, else `stream`; collection `events`). `KEYSET` and
//! `EVENT_SEAL_SECRET` are taken from the environment when set; otherwise
//! both are generated and stored under `target/quickstart/`.
//! `EVENT_SEAL_SECRET_RETIRED` and `EVENT_SEAL_SECRET_NEXT` (newline- or
//! comma-separated) give the secrets that sealed before and the staged
//! successor, as for the server.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use futures_util::TryStreamExt as _;
use stream_store::chain::Verifier;
use stream_store::mongo::codec;
use stream_store::{
    env_value, EventDraft, EventStore, Keyset, ReadValue, SealSecret, SealSecrets, SealedEvent,
    Status, Template, Timestamp,
};

/// Command line.
#[derive(Parser)]
#[command(about = "Append, read, verify and export a chain of sealed audit events")]
struct Args {
    /// How many events to append.
    #[arg(long, default_value_t = 1000)]
    events: u64,
    /// The chain to append to.
    #[arg(long, default_value = "quickstart")]
    chain: String,
    /// Write the chain's events as mongoexport would (canonical Extended JSON lines).
    #[arg(long)]
    export: Option<PathBuf>,
    /// Only move the non-authentic record at this sequence number of the
    /// chain aside (into `eventsQuarantine`), then stop.
    #[arg(long, value_name = "SEQ")]
    quarantine: Option<u64>,
    /// Crypto-shred the sensitive details of this event of the chain
    /// (before `--export`).
    #[arg(long, value_name = "SEQ")]
    shred: Option<u64>,
    /// Why (kept with the quarantined record, or in the shred record).
    #[arg(long)]
    reason: Option<String>,
}

type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quickstart: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::from(2)
        }
    }
}

/// Reads `name` from the environment, or generates it into `file`.
fn secret_or_generate(
    name: &str,
    file: &Path,
    generate: impl FnOnce() -> String,
) -> Result<String, Failure> {
    if let Some(value) = env_value(name) {
        return Ok(value);
    }
    if let Ok(existing) = std::fs::read_to_string(file) {
        println!("{name} not set: using the one stored in {}", file.display());
        return Ok(existing);
    }
    let value = generate();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file)?.write_all(value.as_bytes())?;
    println!(
        "{name} not set: generated one and stored it in {} (mode 0600)",
        file.display()
    );
    Ok(value)
}

fn drafts(n: u64, offset: u64) -> Vec<EventDraft> {
    (offset..offset + n)
        .map(|i| {
            EventDraft::new(
                ["LIFECYCLE-ENROLL", "LIFECYCLE-REVOKE", "OCSP-RESPONSE"][(i % 3) as usize],
                ["ca", "ocsp", "tsa"][(i % 3) as usize],
                format!("pod-{}", i % 3),
                if i % 17 == 0 {
                    Status::Warning
                } else {
                    Status::Success
                },
                Timestamp::from_millis(1_700_000_000_000 + i as i64 * 1000),
            )
            .public("serial", format!("{i:016x}"))
            .public("profile", "tls-server")
            .sensitive("subject", format!("CN=user-{i},O=Example").into_bytes())
            .remove_at(Timestamp::from_millis(1_900_000_000_000))
            .with_event_id(format!("quickstart-{i}"))
        })
        .collect()
}

async fn run(args: Args) -> Result<(), Failure> {
    let dir = Path::new("target").join("quickstart");
    let keyset_json = secret_or_generate("KEYSET", &dir.join("keyset.json"), || {
        Keyset::generate(Template::AES256_GCM_SIV).insecure_to_json()
    })?;
    let seal_secret =
        secret_or_generate("EVENT_SEAL_SECRET", &dir.join("seal-secret.txt"), || {
            let bytes: [u8; 32] = rand::random();
            hex::encode(bytes).chars().take(32).collect()
        })?;
    let keyset = Keyset::parse(keyset_json.as_bytes()).map_err(|e| format!("KEYSET: {e}"))?;
    let secret =
        SealSecret::from_env_value(&seal_secret).map_err(|e| format!("EVENT_SEAL_SECRET: {e}"))?;
    let mut secrets = SealSecrets::new(secret);
    if let Some(list) = env_value("EVENT_SEAL_SECRET_RETIRED") {
        secrets = secrets
            .with_retired_list(&list)
            .map_err(|e| format!("EVENT_SEAL_SECRET_RETIRED: {e}"))?;
    }
    if let Some(list) = env_value("EVENT_SEAL_SECRET_NEXT") {
        secrets = secrets
            .with_next_list(&list)
            .map_err(|e| format!("EVENT_SEAL_SECRET_NEXT: {e}"))?;
    }
    let builder = EventStore::builder()
        .keyset(keyset)
        .seal_secrets(secrets.clone());
    let store = match env_value("MONGODB_URI") {
        Some(uri) => {
            let store = builder.mongodb_uri(uri).build().await?;
            if let Some(db) = store.database() {
                println!(
                    "appending to MongoDB database `{}`, collection `events`",
                    db.name()
                );
            }
            store
        }
        None => {
            println!("MONGODB_URI not set: running in memory (lost when the quickstart ends)");
            builder.in_memory().build().await?
        }
    };

    if let Some(seq) = args.quarantine {
        let reason = args
            .reason
            .as_deref()
            .unwrap_or("quarantined with quickstart --quarantine");
        store.quarantine(&args.chain, seq, reason).await?;
        println!(
            "moved {}#{seq} aside into `eventsQuarantine`; appends continue from the last authentic event",
            args.chain
        );
        return Ok(());
    }

    let started = Instant::now();
    let mut appended = 0;
    while appended < args.events {
        let n = (args.events - appended).min(500);
        store.append_batch(&args.chain, drafts(n, appended)).await?;
        appended += n;
    }
    let elapsed = started.elapsed();
    println!(
        "appended {} events in {:.1?} ({:.1} µs per event)",
        args.events,
        elapsed,
        elapsed.as_secs_f64() * 1e6 / args.events.max(1) as f64
    );
    // The whole chain, for the tampered copy below (a server would consume
    // the stream as it comes instead).
    let mut events: Vec<SealedEvent> = store
        .range(&args.chain, 1, u64::MAX >> 1)
        .try_collect()
        .await?;

    for event in events.iter().rev().take(3) {
        let seq = event.seq;
        let Some(read) = store.read(&args.chain, seq).await? else {
            continue;
        };
        let details: Vec<String> = read
            .details
            .iter()
            .map(|(k, v)| match v {
                ReadValue::Public(v) => format!("{k}={v}"),
                ReadValue::Decrypted(v) => {
                    format!("{k}={} (decrypted)", String::from_utf8_lossy(v))
                }
                _ => format!("{k}=<unavailable>"),
            })
            .collect();
        println!(
            "  {}#{seq} {} {}: {}",
            args.chain,
            event.code,
            event.status,
            details.join(", ")
        );
    }

    let verify = |events: &[SealedEvent]| {
        let mut verifier = Verifier::new(secrets.clone());
        events.iter().for_each(|e| verifier.push(e));
        verifier.finish()
    };
    let started = Instant::now();
    let report = store.verify(Some(&args.chain)).await?;
    println!(
        "verified {} events ({} sealed bytes) in {:.1?}: {}",
        report.records,
        report.sealed_bytes,
        started.elapsed(),
        if report.is_ok() { "intact" } else { "FINDINGS" }
    );
    for finding in &report.findings {
        println!("  {finding}");
    }

    if events.len() > 2 {
        let mut tampered = events.clone();
        let middle = tampered.len() / 2;
        tampered[middle].node = "intruder".into();
        tampered.remove(middle + 1);
        let report = verify(&tampered);
        println!(
            "a tampered copy (event {} changed, {} deleted) gives:",
            middle + 1,
            middle + 2
        );
        for finding in &report.findings {
            println!("  {finding}");
        }
    }

    if let Some(seq) = args.shred {
        let reason = args
            .reason
            .as_deref()
            .unwrap_or("erased with quickstart --shred");
        let outcome = store.shred(&args.chain, seq, None, reason).await?;
        let record = outcome.record_seq.map_or_else(
            || "recorded before".to_owned(),
            |r| format!("shred record {}#{r}", args.chain),
        );
        println!(
            "shredded {}#{seq}: data keys of {} erased ({record})",
            args.chain,
            outcome.erased.join(", ")
        );
        let report = store.verify(Some(&args.chain)).await?;
        println!(
            "verified {} events after the shred: {}",
            report.records,
            if report.is_ok() { "intact" } else { "FINDINGS" }
        );
        for finding in &report.findings {
            println!("  {finding}");
        }
        events = store
            .range(&args.chain, 1, u64::MAX >> 1)
            .try_collect()
            .await?;
    }

    if let Some(path) = &args.export {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for event in &events {
            let json =
                stream_store::mongo::mongodb::bson::Bson::Document(codec::event_to_document(event))
                    .into_canonical_extjson();
            writeln!(out, "{json}")?;
        }
        out.flush()?;
        println!(
            "exported {} events to {} (mongoexport format)",
            events.len(),
            path.display()
        );
    }
    Ok(())
}
