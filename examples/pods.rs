//! Several pods on one database: a writer process, and a benchmark that
//! spawns writer processes.
//!
//! ```sh
//! # one writer process: 8 tasks appending to chain `ocsp` for 10 s; one JSON
//! # line per append on stdout (what the fault tests read)
//! cargo run --release --example pods -- writer --uri "$MONGODB_URI" \
//!     --seal-secret "$(openssl rand -hex 16)" --chain ocsp --id 0
//!
//! # the benchmark of docs/PERFORMANCE.md: 1, 2 and 3 writer processes on one
//! # chain and on one chain each, on loopback and (with TOXIPROXY_URL) with
//! # +1 ms each way through Toxiproxy
//! cargo run --release --example pods -- bench --uri "$MONGODB_URI"
//! ```
//!
//! A writer's line: `{"w":0,"n":12,"ok":true,"seq":40,"seal":"…","us":812}`
//! for an acknowledged event, `{"w":0,"n":13,"ok":false,"outcome":
//! "not_written"|"unknown"|"error","error":"…","us":10012}` for a failure.
//! `n` is the writer's own event number, stored as the public detail `n`
//! (with `writer`), so that a test can tell an event stored twice.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use stream_store::chain::{ChainId, Chainer, EventDraft, SealSecret, SealSecrets, Status};
use stream_store::mongo::{EventLog, LogConfig, Outcome};

#[path = "../tests/common/toxiproxy.rs"]
#[allow(dead_code)]
mod toxiproxy;

#[derive(Parser)]
#[command(about = "Writer processes on one MongoDB, and their benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Append for a while from several tasks; one JSON line per append.
    Writer(WriterArgs),
    /// Spawn writer processes and report throughput, shares and latency.
    Bench(BenchArgs),
}

#[derive(Parser, Clone)]
struct WriterArgs {
    /// Connection string (database from the URI).
    #[arg(long)]
    uri: String,
    /// The seal secret, as `EVENT_SEAL_SECRET` holds it (test secrets
    /// only: a real one belongs in the environment, not on a command line).
    #[arg(long)]
    seal_secret: String,
    /// The chain to append to.
    #[arg(long, default_value = "ocsp")]
    chain: String,
    /// This writer's id (in its events and its lines).
    #[arg(long, default_value_t = 0)]
    id: u64,
    /// Concurrent tasks.
    #[arg(long, default_value_t = 8)]
    tasks: usize,
    /// How long to append (ms).
    #[arg(long, default_value_t = 10_000)]
    duration_ms: u64,
    /// Operation deadline (ms).
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Added to this writer's clock for the event timestamps (ms): a pod
    /// whose clock is off.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset_ms: i64,
    /// Race through the unique index only, ignoring the turns (a turn
    /// granted to everyone).
    #[arg(long)]
    no_turns: bool,
    /// The turn budget (`LogConfig::turn`), ms.
    #[arg(long, default_value_t = 25)]
    turn_ms: u64,
    /// Give each event an id (`w<id>-<n>`) and retry a failed append with
    /// the same id until it is acknowledged (for up to 60 s past the run):
    /// what a server does after an unknown outcome.
    #[arg(long)]
    event_ids: bool,
}

#[derive(Parser)]
struct BenchArgs {
    /// Connection string of the server (a fresh database per run).
    #[arg(long)]
    uri: String,
    /// Seconds per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tasks per writer.
    #[arg(long, default_value_t = 8)]
    tasks: usize,
    /// Writer counts to run.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    writers: Vec<usize>,
    /// Toxiproxy API (else env TOXIPROXY_URL); with it, the runs are
    /// repeated with +1 ms each way.
    #[arg(long)]
    toxiproxy: Option<String>,
    /// Skip the loopback runs.
    #[arg(long)]
    only_latency: bool,
    /// The writers' turn budget, ms.
    #[arg(long, default_value_t = 25)]
    turn_ms: u64,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Cmd::Writer(args) => writer(args).await,
        Cmd::Bench(args) => bench(args),
    };
    std::process::exit(code);
}

/// Wall-clock microseconds: when an append was answered, so that a run's
/// turns can be reconstructed from the writers' lines.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn now_ms() -> i64 {
    (now_us() / 1000) as i64
}

async fn writer(args: WriterArgs) -> i32 {
    let secret = match SealSecret::from_env_value(&args.seal_secret) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pods writer: --seal-secret: {e}");
            return 2;
        }
    };
    let Ok(chain) = ChainId::new(&args.chain) else {
        eprintln!("pods writer: --chain must be 1 to 256 bytes");
        return 2;
    };
    let config = LogConfig {
        operation_timeout: Duration::from_millis(args.timeout_ms),
        server_selection_timeout: Duration::from_millis(args.timeout_ms / 2),
        turns: !args.no_turns,
        turn: Duration::from_millis(args.turn_ms),
        ..LogConfig::default()
    };
    let (_client, db) =
        match stream_store::mongo::connect_with(&args.uri, config.server_selection_timeout).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pods writer: {e}");
                return 1;
            }
        };
    let log = EventLog::new(&db, Chainer::new(SealSecrets::new(secret), None), config);
    if let Err(e) = log.ensure_indexes().await {
        eprintln!("pods writer: ensure_indexes: {e}");
        return 1;
    }
    // Ready: the benchmark starts its clock when every writer said so.
    println!("{{\"ready\":{}}}", args.id);
    let counter = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_millis(args.duration_ms);
    let mut tasks = Vec::new();
    for _ in 0..args.tasks {
        let (log, chain, counter, args) =
            (log.clone(), chain.clone(), counter.clone(), args.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let draft = EventDraft::new(
                    "OCSP-RESPONSE",
                    "ocsp",
                    format!("pod-{}", args.id),
                    Status::Success,
                    stream_store::Timestamp::from_millis(now_ms() + args.clock_offset_ms),
                )
                .public("writer", args.id.to_string())
                .public("n", n.to_string())
                .public("serial", format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
                let draft = if args.event_ids {
                    draft.with_event_id(format!("w{}-{n}", args.id))
                } else {
                    draft
                };
                loop {
                let started = Instant::now();
                let result = log.append(&chain, draft.clone()).await;
                let us = started.elapsed().as_micros() as u64;
                let retry = args.event_ids
                    && result.is_err()
                    && Instant::now() < until + Duration::from_secs(60);
                let line = match result {
                    Ok(e) => serde_json::json!({"w": args.id, "n": n, "ok": true, "seq": e.seq, "seal": e.seal.to_hex(), "us": us, "t": now_us()}),
                    Err(e) => {
                        let outcome = match &e {
                            stream_store::mongo::Error::Timeout { outcome, .. }
                            | stream_store::mongo::Error::Unavailable { outcome, .. } => {
                                match outcome {
                                    Outcome::NotWritten => "not_written",
                                    _ => "unknown",
                                }
                            }
                            _ => "error",
                        };
                        serde_json::json!({"w": args.id, "n": n, "ok": false, "outcome": outcome, "error": e.to_string(), "us": us})
                    }
                };
                // A closed stdout (the parent is gone): stop quietly.
                if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                    return;
                }
                if !retry {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    // A pod going away hands its turn on rather than leaving the others to
    // wait for the take-over.
    if let Err(e) = log.release_turns().await {
        eprintln!("pods writer: releasing the turn: {e}");
    }
    let stats = log.append_stats();
    println!(
        "{{\"stats\":{},\"conflicts\":{},\"head_scans\":{},\"takeovers\":{}}}",
        args.id, stats.conflicts, stats.head_scans, stats.takeovers
    );
    0
}

/// What one writer process did in a run.
#[derive(Default)]
struct Tally {
    acked: u64,
    failed: u64,
    latencies_us: Vec<u64>,
    conflicts: u64,
    head_scans: u64,
    takeovers: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

struct RunResult {
    events_per_s: f64,
    shares: Vec<f64>,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    failed: u64,
    conflicts: u64,
    head_scans: u64,
    takeovers: u64,
}

/// Runs `writers` processes for `seconds` against `uri` (one chain, or one
/// each) in a database of its own.
fn run(args: &BenchArgs, uri: &str, writers: usize, one_chain: bool, tag: &str) -> RunResult {
    let db = format!(
        "bench_pods_{tag}_{writers}_{}_{}",
        if one_chain { "one" } else { "each" },
        std::process::id()
    );
    let uri = with_database(uri, &db);
    let secret = hex::encode(rand::random::<[u8; 16]>());
    let exe = std::env::current_exe().unwrap_or_else(|_| "pods".into());
    let mut children = Vec::new();
    for id in 0..writers {
        let chain = if one_chain {
            "ocsp".to_owned()
        } else {
            format!("ocsp-{id}")
        };
        let child = Command::new(&exe)
            .args(["writer", "--uri", &uri, "--seal-secret", &secret])
            .args(["--chain", &chain, "--id", &id.to_string()])
            .args(["--tasks", &args.tasks.to_string()])
            .args(["--turn-ms", &args.turn_ms.to_string()])
            .args(["--duration-ms", &(args.seconds * 1000).to_string()])
            .stdout(Stdio::piped())
            .spawn();
        match child {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("pods bench: cannot spawn a writer: {e}");
                std::process::exit(1);
            }
        }
    }
    let started = Instant::now();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let out = c.stdout.take();
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                let Some(out) = out else { return tally };
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    if v.get("ready").is_some() {
                        continue;
                    }
                    if v.get("stats").is_some() {
                        tally.conflicts += v["conflicts"].as_u64().unwrap_or(0);
                        tally.head_scans += v["head_scans"].as_u64().unwrap_or(0);
                        tally.takeovers += v["takeovers"].as_u64().unwrap_or(0);
                        continue;
                    }
                    if v["ok"].as_bool() == Some(true) {
                        tally.acked += 1;
                        tally.latencies_us.push(v["us"].as_u64().unwrap_or(0));
                    } else {
                        tally.failed += 1;
                    }
                }
                tally
            })
        })
        .collect();
    let tallies: Vec<Tally> = readers
        .into_iter()
        .map(|r| r.join().unwrap_or_default())
        .collect();
    for mut c in children {
        let _ = c.wait();
    }
    // The writers run for `seconds` after start-up; count over that.
    let _ = started;
    let total: u64 = tallies.iter().map(|t| t.acked).sum();
    let mut all: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_us.clone())
        .collect();
    all.sort_unstable();
    RunResult {
        events_per_s: total as f64 / args.seconds as f64,
        shares: tallies
            .iter()
            .map(|t| t.acked as f64 / total.max(1) as f64)
            .collect(),
        p50_ms: percentile(&all, 0.50) as f64 / 1000.0,
        p99_ms: percentile(&all, 0.99) as f64 / 1000.0,
        max_ms: all.last().copied().unwrap_or(0) as f64 / 1000.0,
        failed: tallies.iter().map(|t| t.failed).sum(),
        conflicts: tallies.iter().map(|t| t.conflicts).sum(),
        head_scans: tallies.iter().map(|t| t.head_scans).sum(),
        takeovers: tallies.iter().map(|t| t.takeovers).sum(),
    }
}

/// `uri` naming database `db` (options kept).
fn with_database(uri: &str, db: &str) -> String {
    let (base, query) = match uri.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (uri, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let hosts_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..hosts_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn bench(args: BenchArgs) -> i32 {
    let mut setups: Vec<(String, String)> = Vec::new();
    if !args.only_latency {
        setups.push(("loopback".into(), args.uri.clone()));
    }
    let toxi = args
        .toxiproxy
        .as_deref()
        .map(toxiproxy::Toxiproxy::new)
        .or_else(toxiproxy::Toxiproxy::from_env);
    let mut proxy = None;
    if let Some(toxi) = &toxi {
        let upstream = host_port(&args.uri);
        match toxi.create_proxy("pods_bench", &upstream) {
            Ok(p) => {
                let latency = p
                    .add_latency("up", "upstream", 1, 0)
                    .and_then(|()| p.add_latency("down", "downstream", 1, 0));
                if let Err(e) = latency {
                    eprintln!("pods bench: toxiproxy latency: {e}");
                    return 1;
                }
                setups.push((
                    "+1 ms each way".into(),
                    toxiproxy::mongodb_uri_through(&args.uri, &p.listen),
                ));
                proxy = Some(p);
            }
            Err(e) => {
                eprintln!("pods bench: toxiproxy: {e}");
                return 1;
            }
        }
    } else {
        eprintln!("pods bench: no TOXIPROXY_URL: loopback only");
    }
    println!("| setup | chains | writers | events/s | ratio to one writer | share of each writer | p50 / p99 / max append latency | failed | conflicts / head scans / take-overs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (tag, (setup, uri)) in setups.iter().enumerate() {
        for one_chain in [true, false] {
            let mut single = None;
            for &writers in &args.writers {
                let r = run(&args, uri, writers, one_chain, &tag.to_string());
                let base = *single.get_or_insert(r.events_per_s);
                let shares: Vec<String> = r.shares.iter().map(|s| format!("{s:.2}")).collect();
                println!(
                    "| {setup} | {} | {writers} | {:.0} | {:.2} | {} | {:.1} / {:.1} / {:.1} ms | {} | {} / {} / {} |",
                    if one_chain { "one" } else { "one each" },
                    r.events_per_s,
                    r.events_per_s / base.max(1.0),
                    shares.join(" / "),
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.failed,
                    r.conflicts,
                    r.head_scans,
                    r.takeovers
                );
                let _ = std::io::stdout().flush();
            }
        }
    }
    if let Some(p) = proxy {
        let _ = p.delete();
    }
    0
}

/// `host:port` of a simple `mongodb://host:port/...` URI.
fn host_port(uri: &str) -> String {
    let rest = uri.strip_prefix("mongodb://").unwrap_or(uri);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}
