//! Offline chain verifier: checks the sealed audit events of a MongoDB
//! export with the seal secret(s) only — no keyset, no database — and names
//! the first broken position of every chain. Given the keyset, it also
//! checks that every sensitive detail still decrypts (deep verification).
//!
//! ```sh
//! cargo run --release --example verify_chain -- \
//!     [--seal-secret S | --seal-secret-file F]... [--checkpoint FILE]... \
//!     [--save-checkpoint FILE] [--window N] [--json] \
//!     [--keyset FILE [--master-keyset FILE [--master-aad-hex HEX]]] INPUT...
//! ```
//!
//! **Inputs.** Each INPUT is a file, or `-` for standard input; all inputs
//! are verified together, as one stream of events. The format is found from
//! the content, not the name:
//! - a `mongodump` collection file (`events.bson`): BSON documents one after
//!   another, each starting with its length (int32, little-endian);
//! - a `mongoexport` file: one document per line (or pretty-printed), or
//!   `--jsonArray`'s single array, in canonical or relaxed Extended JSON;
//! - either of them gzip-compressed (`mongodump --gzip`, `.gz`): detected
//!   from the gzip magic bytes.
//!
//! The input is streamed: memory stays constant whatever the number of
//! events (a few MiB plus the verifier's reordering window per chain).
//! mongodump documents are read raw ([`codec::event_from_raw`]); mongoexport
//! documents of the usual shape straight into events, any other through
//! `bson`'s Extended JSON conversion, which decides what they are (env
//! `VERIFY_CHAIN_GENERIC_JSON` set: all of them, for differential tests).
//! Stubs (events purged by retention: a `purged` mark, no content) and
//! retention anchors are read by the BSON reader and, in JSON, by the
//! generic conversion.
//!
//! **Shred records.** When every INPUT is a regular file, the inputs are
//! read twice: a first pass learns the shred records (code
//! `STREAM-SHRED`), so that a data key shredded and later restored from a
//! backup is found (`unshredded`) although its event comes before the
//! record. A stream (`-`, a pipe) is read once: standard error then notes
//! that restored keys cannot be detected (a shredded key whose record is
//! missing is still found: `key_erased`).
//!
//! **Seal secrets.** `--seal-secret S` and `--seal-secret-file F` (the
//! file's content, trailing newline removed) may be repeated, in any mix:
//! the first secret given is the current one (it seals a saved checkpoint),
//! the others are retired ones that still verify what they sealed (secret
//! rotation). Without either flag, env `EVENT_SEAL_SECRET` is read. Prefer
//! the file or the variable: a command line is visible to other users of
//! the machine.
//!
//! **Deep verification.** `--keyset FILE` (a cleartext Tink keyset, JSON as
//! env `KEYSET` holds it, or binary) unwraps every wrapped data key and
//! opens its payload: a detail that does not decrypt (a wrapped key
//! corrupted, swapped with another event's, or of a key the keyset does
//! not hold) is an `undecryptable` finding at its event. With
//! `--master-keyset FILE` (a cleartext keyset), `--keyset` is a Tink
//! encrypted keyset that the master decrypts, with the associated data of
//! `--master-aad-hex HEX` (default none: what `keyset --master-keyset`
//! uses unless told otherwise). Keys are never printed. It costs one
//! decryption per sensitive detail.
//!
//! **Output.** Every finding, earliest first (`chain#seq: what`), then one
//! line per chain (events, first..last sequence number, status), then the
//! verdict. With `--json`, one JSON object instead:
//! `{"ok", "records", "sealedBytes", "chains": [{"chain", "events",
//! "stubs", "firstSeq", "lastSeq", "headSeal", "errors", "warnings"}],
//! "findings":
//! [{"chain", "seq", "kind", "message"}], "totalFindings"}`. A progress bar
//! is drawn on standard error when it is a terminal and the input is large.
//!
//! **Checkpoints.** `--save-checkpoint FILE` writes, after a clean
//! verification only, the sealed head of every chain (one checkpoint
//! object, or an array of them for several chains). `--checkpoint FILE`
//! (repeatable; an object or an array) trusts such heads: a later export
//! that no longer reaches a head (its tail was deleted) or holds another
//! event there (rollback, rewrite) fails. The export may start at the head
//! or right after it (incremental audit).
//!
//! **Exit status.** 0: every chain verified (warnings allowed); 1: integrity
//! findings (a modified, deleted, inserted, duplicated or reordered event, a
//! record that is not a valid event, an unknown secret, a truncated tail, a
//! stub that no valid purge explains, a retired or unannounced seal secret,
//! a bad rotation record, an erased or restored data key, and with
//! `--keyset` a detail that does not decrypt); 2: usage error, missing or
//! too short secret, unreadable or invalid checkpoint, unreadable or invalid
//! keyset or master keyset (or a master that does not decrypt the keyset),
//! or an input that is not a mongodump or mongoexport file at all (standard
//! error names the file and what is wrong).

use std::fs::File;
use std::io::{self, BufReader, IsTerminal as _, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use bson::{Bson, RawDocument};
use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Parser};
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use stream_store::chain::{
    ChainId, Chainer, Checkpoint, SealSecret, SealSecrets, SealedEvent, Verifier, VerifyReport,
    DEFAULT_WINDOW, MIN_SECRET_LEN, ROTATION_CODE, SHRED_CODE,
};
use stream_store::keyset::{Algorithm, Error as KeysetError, Keyset};
use stream_store::mongo::codec::{self, Malformed};
use zeroize::Zeroizing;

/// The environment variable holding the seal secret.
const ENV_SECRET: &str = "EVENT_SEAL_SECRET";
/// When set, JSON documents are all read through the generic Extended JSON
/// conversion, never the fast reader: for differential tests.
const ENV_GENERIC_JSON: &str = "VERIFY_CHAIN_GENERIC_JSON";
/// The largest BSON document MongoDB stores (16 MiB, plus its internal
/// allowance); a larger length means the input is not a mongodump file.
const MAX_BSON_DOCUMENT: usize = 16 * 1024 * 1024 + 16 * 1024;
/// The largest JSON document accepted (Extended JSON of a 16 MiB document
/// with binary data, base64-encoded, fits).
const MAX_JSON_DOCUMENT: usize = 64 * 1024 * 1024;
/// How much JSON is read at a time.
const JSON_CHUNK: usize = 1024 * 1024;
/// The read buffer of BSON and gzip input.
const READ_BUFFER: usize = 256 * 1024;
/// Inputs larger than this get a progress bar (when standard error is a
/// terminal).
const PROGRESS_THRESHOLD: u64 = 10 * 1024 * 1024;
/// The largest seal secret file read.
const SECRET_FILE_LIMIT: u64 = 64 * 1024;
/// The largest checkpoint file read.
const CHECKPOINT_FILE_LIMIT: u64 = 64 * 1024 * 1024;
/// The largest keyset (or master keyset) file read.
const KEYSET_FILE_LIMIT: u64 = 4 * 1024 * 1024;
/// At most this much leading whitespace is read to find the format.
const PREFIX_LIMIT: usize = 1024 * 1024;

/// Command line.
#[derive(Parser)]
#[command(
    about = "Verify the sealed audit event chains of a mongodump or mongoexport export",
    after_help = "Exit status: 0 verified, 1 integrity findings, 2 usage or input error."
)]
struct Args {
    /// A seal secret; repeat for retired secrets (the first is current:
    /// give the newest first, rotation records are checked against that order).
    /// Prefer --seal-secret-file or env EVENT_SEAL_SECRET.
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    seal_secret: Vec<String>,
    /// A file holding a seal secret (trailing newline removed); repeatable.
    #[arg(long, value_name = "F")]
    seal_secret_file: Vec<PathBuf>,
    /// A trusted checkpoint (or an array of them) from --save-checkpoint;
    /// repeatable, one per chain.
    #[arg(long, value_name = "FILE")]
    checkpoint: Vec<PathBuf>,
    /// After a clean verification, write the head of every chain here.
    #[arg(long, value_name = "FILE")]
    save_checkpoint: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Reordering window: how far out of order (events per chain) the input
    /// may be.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WINDOW)]
    window: usize,
    /// Deep verification: every sensitive detail must decrypt with this
    /// cleartext Tink keyset (JSON, as env KEYSET holds it, or binary).
    #[arg(long, value_name = "FILE")]
    keyset: Option<PathBuf>,
    /// A cleartext Tink keyset whose AEAD decrypts the --keyset file, then
    /// a Tink encrypted keyset.
    #[arg(long, value_name = "FILE", requires = "keyset")]
    master_keyset: Option<PathBuf>,
    /// The associated data the --keyset file was encrypted with, in hex
    /// (default: none).
    #[arg(long, value_name = "HEX", requires = "master_keyset", value_parser = parse_hex)]
    master_aad_hex: Option<Hex>,
    /// mongodump .bson or mongoexport JSON files, optionally gzipped; `-` for
    /// standard input.
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,
}

/// Bytes given in hex on the command line.
#[derive(Clone, Debug)]
struct Hex(Vec<u8>);

/// Parses a `--*-hex` value.
fn parse_hex(text: &str) -> Result<Hex, String> {
    hex::decode(text)
        .map(Hex)
        .map_err(|e| format!("not hex ({e}); expected an even number of hex digits"))
}

fn main() -> ExitCode {
    // Clap prints usage errors and exits with status 2 by itself.
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    match run(&args, &matches) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            // Nothing sensible is left to do if standard error is closed.
            let _ = writeln!(io::stderr(), "verify_chain: {message}");
            ExitCode::from(2)
        }
    }
}

/// Verifies; `Ok(true)` when every chain verified, `Err` for exit status 2.
fn run(args: &Args, matches: &ArgMatches) -> Result<bool, String> {
    let secrets = load_secrets(args, matches)?;
    let keys = load_keys(args, &secrets)?;
    let mut verifier = Verifier::new(secrets.clone()).with_window(args.window);
    match wall_clock_ms() {
        Some(now) => verifier = verifier.with_now_ms(now),
        None => {
            note("the system clock is before 1970: purge marks dated in the future are not found")
        }
    }
    if let Some(chainer) = keys {
        verifier = verifier.with_keyset(chainer);
    }
    for path in &args.checkpoint {
        trust_checkpoints(path, &mut verifier)?;
    }
    let progress = io::stderr().is_terminal();
    match rereadable(&args.inputs) {
        Reread::Files => {
            for input in args.inputs.iter().filter(|i| !is_dump_metadata(i)) {
                let name = input_name(input);
                let mut feed = Feed {
                    verifier: &mut verifier,
                    name: &name,
                    pass: Pass::Shreds,
                };
                verify_input(input, &mut feed, progress).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        Reread::Stream(name) => note(&format!(
            "{name} is read once, as a stream: a shredded data key restored from a backup \
             cannot be detected (give files to detect it)"
        )),
        // The verification names the input that cannot be read.
        Reread::Unreadable => {}
    }
    for input in &args.inputs {
        let name = input_name(input);
        if is_dump_metadata(input) {
            note(&format!(
                "{name}: mongodump metadata (indexes), not events: skipped"
            ));
            continue;
        }
        let mut feed = Feed {
            verifier: &mut verifier,
            name: &name,
            pass: Pass::Verify,
        };
        verify_input(input, &mut feed, progress).map_err(|e| format!("{name}: {e}"))?;
    }
    let report = verifier.finish();
    if report.records == 0 {
        note("the input holds no event (a deleted collection shows only against a checkpoint)");
    }
    if let Some(path) = &args.save_checkpoint {
        if report.is_ok() {
            save_checkpoints(path, &report, secrets.current())?;
        } else {
            note(&format!(
                "integrity findings: no checkpoint written to {}",
                path.display()
            ));
        }
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if args.json {
        writeln!(out, "{}", json_report(&report))
    } else {
        write_text_report(&mut out, &report)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))?;
    Ok(report.is_ok())
}

/// A message on standard error that does not change the exit status.
fn note(message: &str) {
    // Nothing sensible is left to do if standard error is closed.
    let _ = writeln!(io::stderr(), "verify_chain: {message}");
}

/// How an input is named in messages.
fn input_name(input: &Path) -> String {
    if is_stdin(input) {
        "<stdin>".to_owned()
    } else {
        input.display().to_string()
    }
}

/// Whether the input is the metadata file mongodump writes beside each
/// collection (`events.metadata.json`), as a shell glob over a dump
/// directory gives it.
fn is_dump_metadata(input: &Path) -> bool {
    input
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".metadata.json") || n.ends_with(".metadata.json.gz"))
}

/// Whether the input is standard input (`-`).
fn is_stdin(input: &Path) -> bool {
    input.as_os_str() == "-"
}

/// Whether the inputs can be read twice (a first pass for the shred
/// records).
enum Reread {
    /// Every input is a regular file.
    Files,
    /// This input is a stream (standard input, a pipe, a device): read once.
    Stream(String),
    /// An input cannot be examined (missing, a directory): the verification
    /// pass reports it.
    Unreadable,
}

/// Whether every input (mongodump metadata aside) is a regular file.
fn rereadable(inputs: &[PathBuf]) -> Reread {
    let mut unreadable = false;
    for input in inputs.iter().filter(|i| !is_dump_metadata(i)) {
        if is_stdin(input) {
            return Reread::Stream(input_name(input));
        }
        match std::fs::metadata(input) {
            Ok(metadata) if metadata.is_file() => {}
            Ok(metadata) if !metadata.is_dir() => return Reread::Stream(input_name(input)),
            _ => unreadable = true,
        }
    }
    if unreadable {
        Reread::Unreadable
    } else {
        Reread::Files
    }
}

/// The wall clock in milliseconds since the Unix epoch (`None` before it).
fn wall_clock_ms() -> Option<i64> {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(elapsed.as_millis()).ok()
}

// ---------------------------------------------------------------- secrets

/// The seal secrets, in the order given on the command line (the first is
/// current), else from env `EVENT_SEAL_SECRET`.
fn load_secrets(args: &Args, matches: &ArgMatches) -> Result<SealSecrets, String> {
    /// Where one secret comes from.
    enum Given<'a> {
        /// `--seal-secret`.
        Value(&'a str),
        /// `--seal-secret-file`.
        File(&'a Path),
    }
    let mut given: Vec<(usize, Given<'_>)> = Vec::new();
    if let Some(indices) = matches.indices_of("seal_secret") {
        given.extend(indices.zip(args.seal_secret.iter().map(|s| Given::Value(s))));
    }
    if let Some(indices) = matches.indices_of("seal_secret_file") {
        given.extend(indices.zip(args.seal_secret_file.iter().map(|f| Given::File(f))));
    }
    given.sort_by_key(|(index, _)| *index);

    let mut secrets: Option<SealSecrets> = None;
    let mut add = |secret: SealSecret| match &mut secrets {
        None => secrets = Some(SealSecrets::new(secret)),
        Some(known) => known.add_retired(secret),
    };
    for (n, (_, source)) in given.iter().enumerate() {
        let secret = match source {
            Given::Value(value) => SealSecret::from_env_value(value)
                .map_err(|e| format!("--seal-secret (secret {}): {e}", n + 1))?,
            Given::File(path) => {
                let bytes = Zeroizing::new(read_limited(path, SECRET_FILE_LIMIT).map_err(|e| {
                    format!("--seal-secret-file {}: cannot read: {e}", path.display())
                })?);
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    format!(
                        "--seal-secret-file {}: not UTF-8 text (a seal secret is a string, or 128 hex characters)",
                        path.display()
                    )
                })?;
                SealSecret::from_env_value(text)
                    .map_err(|e| format!("--seal-secret-file {}: {e}", path.display()))?
            }
        };
        add(secret);
    }
    if let Some(secrets) = secrets {
        return Ok(secrets);
    }
    match std::env::var(ENV_SECRET) {
        Ok(value) => {
            let value = Zeroizing::new(value);
            let secret =
                SealSecret::from_env_value(&value).map_err(|e| format!("{ENV_SECRET}: {e}"))?;
            Ok(SealSecrets::new(secret))
        }
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{ENV_SECRET} is not UTF-8 text (a seal secret is a string, or 128 hex characters)"
        )),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "no seal secret: give --seal-secret S or --seal-secret-file F, or set {ENV_SECRET} \
             (at least {MIN_SECRET_LEN} bytes)"
        )),
    }
}

/// Reads a small file whole, refusing one larger than `limit` bytes (a
/// device or a wrong path must not exhaust memory).
fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

// ----------------------------------------------------------------- keyset

/// An encrypted keyset given without its master.
const ENCRYPTED_HINT: &str = "this is an encrypted keyset: pass --master-keyset FILE (and \
     --master-aad-hex HEX if it was encrypted with associated data)";
/// A cleartext keyset given with a master.
const CLEARTEXT_HINT: &str = "this looks like a cleartext keyset: drop --master-keyset";

/// The chainer of deep verification: the keyset of `--keyset` (decrypted
/// by the one of `--master-keyset`, if given), or `None` without
/// `--keyset`. The files are read into buffers zeroized when dropped; the
/// keyset crate's messages never hold key material.
fn load_keys(args: &Args, secrets: &SealSecrets) -> Result<Option<Chainer>, String> {
    let Some(path) = &args.keyset else {
        return Ok(None);
    };
    let at = |e: &dyn std::fmt::Display| format!("--keyset {}: {e}", path.display());
    let bytes = Zeroizing::new(
        read_limited(path, KEYSET_FILE_LIMIT).map_err(|e| at(&format!("cannot read: {e}")))?,
    );
    let keyset = match &args.master_keyset {
        None => Keyset::parse(&bytes).map_err(|e| {
            if contains(&bytes, b"\"encryptedKeyset\"") {
                at(&ENCRYPTED_HINT)
            } else {
                at(&e)
            }
        })?,
        Some(master_path) => {
            let master_at = |e: &dyn std::fmt::Display| {
                format!("--master-keyset {}: {e}", master_path.display())
            };
            let master_bytes = Zeroizing::new(
                read_limited(master_path, KEYSET_FILE_LIMIT)
                    .map_err(|e| master_at(&format!("cannot read: {e}")))?,
            );
            let master = Keyset::parse(&master_bytes)
                .and_then(|master| master.aead())
                .map_err(|e| {
                    if contains(&master_bytes, b"\"encryptedKeyset\"") {
                        master_at(
                            &"this is an encrypted keyset; a master keyset is a cleartext one",
                        )
                    } else {
                        master_at(&e)
                    }
                })?;
            let aad = args
                .master_aad_hex
                .as_ref()
                .map_or(&[][..], |h| h.0.as_slice());
            Keyset::parse_encrypted(&bytes, &master, aad).map_err(|e| {
                at(&match e {
                    KeysetError::Json(_)
                        if contains(&bytes, b"\"primaryKeyId\"")
                            && !contains(&bytes, b"\"encryptedKeyset\"") =>
                    {
                        format!("{e}; {CLEARTEXT_HINT}")
                    }
                    KeysetError::UnknownKey(_)
                    | KeysetError::KeyNotEnabled { .. }
                    | KeysetError::Decryption => {
                        let why = match e {
                            KeysetError::UnknownKey(id) => format!(
                                "it was encrypted by key {id}, which the master keyset does \
                                 not hold"
                            ),
                            KeysetError::KeyNotEnabled { key_id, status } => format!(
                                "it was encrypted by key {key_id} of the master keyset, which \
                                 is {status}"
                            ),
                            _ => "authentication failed: another master keyset, other \
                                  associated data, or a modified file"
                                .to_owned(),
                        };
                        let aad = if args.master_aad_hex.is_some() {
                            " and the associated data it was encrypted with"
                        } else {
                            " (and --master-aad-hex HEX if it was encrypted with associated \
                             data)"
                        };
                        format!(
                            "the master keyset {} does not decrypt it: {why}; give the \
                             master keyset that encrypted it{aad}",
                            master_path.display()
                        )
                    }
                    e => e.to_string(),
                })
            })?
        }
    };
    let envelope = keyset
        .envelope(Algorithm::Aes256GcmSiv)
        .map_err(|e| at(&e))?;
    Ok(Some(Chainer::new(secrets.clone(), Some(envelope))))
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ------------------------------------------------------------ checkpoints

/// Reads the checkpoint(s) of `path` (one object or an array) and trusts
/// them.
fn trust_checkpoints(path: &Path, verifier: &mut Verifier) -> Result<(), String> {
    let at = |e: &dyn std::fmt::Display| format!("--checkpoint {}: {e}", path.display());
    let bytes =
        read_limited(path, CHECKPOINT_FILE_LIMIT).map_err(|e| at(&format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| at(&"not UTF-8 text"))?;
    let objects: Vec<String> = if text.trim_start().starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| at(&format!("not a JSON array of checkpoints: {e}")))?;
        if items.is_empty() {
            return Err(at(&"the array holds no checkpoint"));
        }
        items.iter().map(Value::to_string).collect()
    } else {
        vec![text]
    };
    for object in objects {
        let checkpoint = Checkpoint::from_json(&object).map_err(|e| at(&e))?;
        let chain = checkpoint.chain.clone();
        verifier
            .trust_checkpoint(checkpoint)
            .map_err(|e| at(&format!("checkpoint of chain `{chain}`: {e}")))?;
    }
    Ok(())
}

/// Writes the checkpoint of every chain of a clean report to `path`,
/// atomically (a temporary file renamed over it).
fn save_checkpoints(path: &Path, report: &VerifyReport, secret: &SealSecret) -> Result<(), String> {
    let checkpoints: Vec<Checkpoint> = report
        .chains
        .iter()
        .filter_map(|summary| Checkpoint::from_summary(summary, secret))
        .collect();
    let mut text = match checkpoints.as_slice() {
        [] => {
            note(&format!(
                "no chain in the input: no checkpoint written to {}",
                path.display()
            ));
            return Ok(());
        }
        [one] => one.to_json(),
        several => {
            let items: Vec<String> = several.iter().map(Checkpoint::to_json).collect();
            format!("[\n{}\n]", items.join(",\n"))
        }
    };
    text.push('\n');
    write_atomically(path, text.as_bytes())
        .map_err(|e| format!("--save-checkpoint {}: cannot write: {e}", path.display()))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames
/// it over `path`: readers see the old file or the new one, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        // Best effort: the temporary file may not even exist.
        let _ = std::fs::remove_file(&temp);
    } else if let Ok(dir) = File::open(dir) {
        // Best effort: makes the rename durable where directories sync.
        let _ = dir.sync_all();
    }
    written
}

// ----------------------------------------------------------------- inputs

/// What a pass over the inputs does with their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// The first pass: learns the shred records, ignores everything else.
    Shreds,
    /// The verification: every record.
    Verify,
}

/// Hands the records of one input to the verifier.
struct Feed<'a> {
    /// The verifier of all inputs.
    verifier: &'a mut Verifier,
    /// The input's name, for findings about malformed records.
    name: &'a str,
    /// What this pass does.
    pass: Pass,
}

/// Whether the first pass learns records of this code: shred records (a
/// key restored after its shred is then found) and rotation records (an
/// incremental audit from a checkpoint then knows the secrets superseded
/// before it).
fn is_learned(code: &str) -> bool {
    code == SHRED_CODE || code == ROTATION_CODE
}

impl Feed<'_> {
    /// One event read.
    fn push(&mut self, event: &SealedEvent) {
        match self.pass {
            Pass::Verify => self.verifier.push(event),
            // The verifier checks the record's seal and shape.
            Pass::Shreds if is_learned(&event.code) => self.verifier.learn_record(event),
            Pass::Shreds => {}
        }
    }

    /// One record read as an event, or found not to be one.
    fn event(&mut self, read: Result<SealedEvent, Malformed>, offset: u64) {
        match read {
            Ok(event) => self.push(&event),
            Err(malformed) => self.malformed(malformed, offset),
        }
    }

    /// A record that is not a valid event: an integrity finding at its
    /// chain and sequence number when it names them (in the verification
    /// pass).
    fn malformed(&mut self, malformed: Malformed, offset: u64) {
        if self.pass == Pass::Shreds {
            return;
        }
        let Malformed { chain, seq, reason } = malformed;
        let why = format!("{reason} ({}, document at byte {offset})", self.name);
        self.verifier.push_malformed(chain, seq, why);
    }

    /// A JSON document that the fast reader refused: read again through
    /// the generic Extended JSON conversion, for the event or the reason.
    fn json_value(&mut self, value: Value, offset: u64) {
        // Of a repeated key, the last counts here as in the conversion.
        if self.pass == Pass::Shreds
            && !value
                .get("code")
                .and_then(Value::as_str)
                .is_some_and(is_learned)
        {
            return;
        }
        let chain = value
            .get("chain")
            .and_then(Value::as_str)
            .and_then(|c| ChainId::new(c).ok());
        let seq = value.get("seq").and_then(json_seq);
        match Bson::try_from(value) {
            Ok(Bson::Document(document)) => {
                self.event(codec::event_from_document(&document), offset)
            }
            Ok(other) => self.malformed(
                Malformed {
                    chain,
                    seq,
                    reason: format!(
                        "not a document but Extended JSON of type {:?}",
                        other.element_type()
                    ),
                },
                offset,
            ),
            Err(e) => self.malformed(
                Malformed {
                    chain,
                    seq,
                    reason: format!("not valid Extended JSON: {e}"),
                },
                offset,
            ),
        }
    }
}

/// A sequence number in Extended JSON (`5`, `{"$numberLong": "5"}`,
/// `{"$numberInt": "5"}`).
fn json_seq(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::Object(map) => map
            .get("$numberLong")
            .or_else(|| map.get("$numberInt"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        _ => None,
    }
}

/// Counts the bytes read from an input, for the progress bar.
struct Counting<R> {
    /// The input.
    inner: R,
    /// The bar (hidden unless drawn).
    bar: ProgressBar,
    /// Draw the bar once this many bytes were read (input of unknown size).
    reveal_at: Option<u64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        if self.reveal_at.is_some_and(|at| self.bar.position() >= at) {
            self.reveal_at = None;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        Ok(n)
    }
}

/// A progress bar for an input of `size` bytes (unknown for standard
/// input), drawn on standard error only when it is a terminal and the
/// input is large; and the byte count at which to draw a hidden one.
fn progress_bar(size: Option<u64>, name: &str, terminal: bool) -> (ProgressBar, Option<u64>) {
    if !terminal {
        return (ProgressBar::hidden(), None);
    }
    let (bar, reveal_at) = match size {
        Some(len) if len > PROGRESS_THRESHOLD => {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "[{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            (bar, None)
        }
        Some(_) => return (ProgressBar::hidden(), None),
        None => {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {bytes} read ({bytes_per_sec}) {wide_msg}")
            {
                bar.set_style(style);
            }
            (bar, Some(PROGRESS_THRESHOLD))
        }
    };
    bar.set_message(name.to_owned());
    (bar, reveal_at)
}

/// Opens one input and verifies its records.
fn verify_input(input: &Path, feed: &mut Feed<'_>, terminal: bool) -> Result<(), String> {
    let (reader, size): (Box<dyn Read>, Option<u64>) = if is_stdin(input) {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = File::open(input).map_err(|e| format!("cannot open: {e}"))?;
        let metadata = file.metadata().map_err(|e| format!("cannot open: {e}"))?;
        if metadata.is_dir() {
            return Err(
                "is a directory; give the collection's .bson (or .bson.gz) file of a mongodump directory"
                    .into(),
            );
        }
        let size = metadata.is_file().then_some(metadata.len());
        (Box::new(file), size)
    };
    let label = match feed.pass {
        Pass::Shreds => format!("{} (shred records)", feed.name),
        Pass::Verify => feed.name.to_owned(),
    };
    let (bar, reveal_at) = progress_bar(size, &label, terminal);
    let counted = Counting {
        inner: reader,
        bar: bar.clone(),
        reveal_at,
    };
    let result = read_records(Box::new(counted), feed);
    bar.finish_and_clear();
    result
}

/// The format of an input, found from its first bytes.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    /// No bytes at all: no records.
    Empty,
    /// mongodump: BSON documents.
    Bson,
    /// mongoexport: JSON documents, or one JSON array of them.
    Json,
    /// Neither.
    Unknown,
}

/// Finds the format from the first bytes of the (decompressed) input: a
/// plausible BSON length first (JSON text can never give one: its fourth
/// byte makes any length above 150 MiB), else `{` or `[` for JSON.
fn detect(prefix: &[u8]) -> Format {
    if prefix.is_empty() {
        return Format::Empty;
    }
    if let Some(&[a, b, c, d]) = prefix.first_chunk::<4>() {
        let len = u32::from_le_bytes([a, b, c, d]);
        if usize::try_from(len).is_ok_and(|len| (5..=MAX_BSON_DOCUMENT).contains(&len)) {
            return Format::Bson;
        }
    }
    match prefix.iter().find(|b| !is_json_whitespace(**b)) {
        Some(b'{' | b'[') | None => Format::Json,
        Some(_) => Format::Unknown,
    }
}

/// JSON's insignificant whitespace.
fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Reads up to `want` bytes (fewer only at the end of the input).
fn read_up_to(reader: &mut dyn Read, want: usize) -> Result<Vec<u8>, String> {
    let mut bytes = vec![0; want];
    let got = read_full(reader, &mut bytes).map_err(|e| read_error(0, &e))?;
    bytes.truncate(got);
    Ok(bytes)
}

/// Reads until `buf` is full or the input ends; returns how many bytes
/// were read.
fn read_full(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The message of a read error at `offset`.
fn read_error(offset: u64, e: &io::Error) -> String {
    format!("cannot read at byte {offset}: {e}")
}

/// Decompresses if gzipped, finds the format, and reads every record.
fn read_records(mut reader: Box<dyn Read>, feed: &mut Feed<'_>) -> Result<(), String> {
    let magic = read_up_to(&mut reader, 2)?;
    let gzip = magic == [0x1f, 0x8b];
    let mut reader: Box<dyn Read> = Box::new(io::Cursor::new(magic).chain(reader));
    if gzip {
        reader = Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER,
            reader,
        )));
    }
    // Enough to tell BSON from JSON: a length, and the first byte that is
    // not whitespace.
    let mut prefix = read_up_to(&mut reader, 4)?;
    while prefix.len() < PREFIX_LIMIT && prefix.iter().all(|b| is_json_whitespace(*b)) {
        let more = read_up_to(&mut reader, 4096)?;
        if more.is_empty() {
            break;
        }
        prefix.extend_from_slice(&more);
    }
    let format = detect(&prefix);
    let start: Vec<u8> = prefix.iter().take(8).copied().collect();
    let reader = io::Cursor::new(prefix).chain(reader);
    let result = match format {
        Format::Empty => Ok(()),
        Format::Bson => read_bson(reader, feed),
        Format::Json => read_json(reader, feed),
        Format::Unknown => Err(format!(
            "not a mongodump (BSON) or mongoexport (JSON) file: it starts with bytes {}",
            hex::encode(&start)
        )),
    };
    if gzip {
        result.map_err(|e| format!("{e} (of the decompressed gzip data)"))
    } else {
        result
    }
}

/// Reads a mongodump file: BSON documents, each starting with its length.
fn read_bson(reader: impl Read, feed: &mut Feed<'_>) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut document: Vec<u8> = Vec::with_capacity(4096);
    let mut offset: u64 = 0;
    loop {
        let mut header = [0u8; 4];
        let got = read_full(&mut reader, &mut header).map_err(|e| read_error(offset, &e))?;
        if got == 0 {
            return Ok(());
        }
        if got < header.len() {
            return Err(format!(
                "truncated BSON document at byte {offset}: the input ends inside its length"
            ));
        }
        let len = u32::from_le_bytes(header);
        let Some(len) = usize::try_from(len)
            .ok()
            .filter(|len| (5..=MAX_BSON_DOCUMENT).contains(len))
        else {
            return Err(format!(
                "not a BSON document at byte {offset}: it claims {len} bytes (5 bytes to 16 MiB \
                 expected); the file is corrupt or not a mongodump .bson file"
            ));
        };
        document.clear();
        document.extend_from_slice(&header);
        document.resize(len, 0);
        let body = document.get_mut(header.len()..).unwrap_or_default();
        let got = read_full(&mut reader, body).map_err(|e| read_error(offset, &e))?;
        if got + header.len() < len {
            return Err(format!(
                "truncated BSON document at byte {offset}: {len} bytes announced, the input \
                 ends after {}",
                got + header.len()
            ));
        }
        let raw = RawDocument::from_bytes(&document).map_err(|_| {
            format!(
                "not a BSON document at byte {offset}: it does not end with a zero byte; the \
                 file is corrupt or not a mongodump .bson file"
            )
        })?;
        feed.event(codec::event_from_raw(raw), offset);
        offset += len as u64;
    }
}

/// Where a mongoexport reader stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Before the first value: `[` opens a `--jsonArray` export.
    Start,
    /// Documents one after another (JSON lines, or pretty-printed).
    Lines,
    /// Inside the array.
    Array {
        /// An element (not `,` or `]`) comes next.
        element_next: bool,
        /// No element yet (`]` may close an empty array).
        first: bool,
    },
    /// After the array's closing `]`.
    Done,
}

/// Streams JSON documents out of a reader through a buffer of about
/// [`JSON_CHUNK`] bytes.
struct JsonInput<R> {
    /// The input.
    reader: R,
    /// Read but not yet consumed from `pos` on.
    buf: Vec<u8>,
    /// The next byte to look at in `buf`.
    pos: usize,
    /// The input offset of `buf[0]`.
    base: u64,
    /// The input has ended.
    eof: bool,
    /// Read every document through the generic conversion only.
    generic: bool,
}

impl<R: Read> JsonInput<R> {
    /// The input offset of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more input, keeping what is not consumed yet; `false` if the
    /// input had ended.
    fn refill(&mut self) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let kept = self.buf.len();
        if kept > MAX_JSON_DOCUMENT {
            return Err(format!(
                "the JSON document at byte {} is larger than {} MiB",
                self.base,
                MAX_JSON_DOCUMENT >> 20
            ));
        }
        // Doubles while one document fills the buffer: a document needs
        // few re-reads, whatever its size.
        let more = JSON_CHUNK.max(kept);
        self.buf.resize(kept + more, 0);
        let rest = self.buf.get_mut(kept..).unwrap_or_default();
        let got = read_full(&mut self.reader, rest)
            .map_err(|e| read_error(self.base + kept as u64, &e))?;
        self.buf.truncate(kept + got);
        self.eof = got < more;
        Ok(got > 0)
    }

    /// The next byte that is not whitespace (not consumed); `None` at the
    /// end of the input.
    fn peek(&mut self) -> Result<Option<u8>, String> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if !is_json_whitespace(b) {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Reads the JSON document (`{...}`) that starts at the current
    /// position and hands it on: straight into an event when it has the
    /// usual shape, else through the generic Extended JSON conversion.
    fn document(&mut self, feed: &mut Feed<'_>) -> Result<(), String> {
        while !self.generic {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<fast::Event>();
            match stream.next() {
                Some(Ok(parsed)) => {
                    let Some(event) = parsed.into_event() else {
                        break;
                    };
                    self.pos += stream.byte_offset();
                    feed.push(&event);
                    return Ok(());
                }
                Some(Err(e)) if e.is_eof() && !self.eof => {
                    self.refill()?;
                }
                // Not the usual shape, or not JSON at all: the generic
                // reader decides, and says why.
                Some(Err(_)) | None => break,
            }
        }
        self.generic_document(feed)
    }

    /// Reads the document at the current position as a JSON value and
    /// converts it with `bson`'s Extended JSON conversion (the reference
    /// the fast reader follows).
    fn generic_document(&mut self, feed: &mut Feed<'_>) -> Result<(), String> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
            match stream.next() {
                Some(Ok(value)) => {
                    let at = self.offset();
                    self.pos += stream.byte_offset();
                    feed.json_value(value, at);
                    return Ok(());
                }
                Some(Err(e)) if e.is_eof() && !self.eof => {
                    self.refill()?;
                }
                Some(Err(e)) => return Err(json_error(self.offset(), rest, &e)),
                None => {
                    if !self.refill()? {
                        return Err(format!("truncated JSON document at byte {}", self.offset()));
                    }
                }
            }
        }
    }
}

/// The message of a JSON error in the document starting at input offset
/// `start` (`text` holds the document onwards).
fn json_error(start: u64, text: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return format!("truncated JSON document at byte {start}: the input ends inside it");
    }
    if e.is_io() {
        return format!("cannot read at byte {start}: {e}");
    }
    // serde_json counts lines and columns from the document's start.
    let mut at = 0usize;
    for _ in 1..e.line() {
        match text.iter().skip(at).position(|&b| b == b'\n') {
            Some(newline) => at += newline + 1,
            None => break,
        }
    }
    let at = start + (at + e.column().saturating_sub(1)) as u64;
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(what, _)| what);
    format!("invalid JSON at byte {at}: {message}")
}

/// Describes a byte found where something else was expected.
fn found(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", char::from(b))
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// Reads a mongoexport file: JSON documents one after another (JSON lines,
/// pretty-printed), or one JSON array of them (`--jsonArray`).
fn read_json(reader: impl Read, feed: &mut Feed<'_>) -> Result<(), String> {
    let mut input = JsonInput {
        reader,
        buf: Vec::with_capacity(JSON_CHUNK),
        pos: 0,
        base: 0,
        eof: false,
        generic: std::env::var_os(ENV_GENERIC_JSON).is_some(),
    };
    let mut layout = Layout::Start;
    loop {
        let Some(b) = input.peek()? else {
            return match layout {
                Layout::Array { .. } => Err(format!(
                    "truncated JSON array: the input ends at byte {} before its closing `]`",
                    input.offset()
                )),
                _ => Ok(()),
            };
        };
        let expected = |what: &str| {
            format!(
                "invalid JSON at byte {}: expected {what}, found {}",
                input.offset(),
                found(b)
            )
        };
        layout = match layout {
            Layout::Start if b == b'[' => {
                input.pos += 1;
                Layout::Array {
                    element_next: true,
                    first: true,
                }
            }
            Layout::Start | Layout::Lines => {
                if b != b'{' {
                    return Err(expected("a document `{`"));
                }
                input.document(feed)?;
                Layout::Lines
            }
            Layout::Array {
                element_next: true,
                first,
            } => {
                if b == b']' && first {
                    input.pos += 1;
                    Layout::Done
                } else if b == b'{' {
                    input.document(feed)?;
                    Layout::Array {
                        element_next: false,
                        first: false,
                    }
                } else {
                    return Err(expected("a document `{`"));
                }
            }
            Layout::Array {
                element_next: false,
                ..
            } => match b {
                b',' => {
                    input.pos += 1;
                    Layout::Array {
                        element_next: true,
                        first: false,
                    }
                }
                b']' => {
                    input.pos += 1;
                    Layout::Done
                }
                _ => return Err(expected("`,` or `]`")),
            },
            Layout::Done => return Err(expected("nothing after the JSON array")),
        };
    }
}

// ------------------------------------------------- fast Extended JSON

/// Reads a mongoexport document straight into an event, without building a
/// JSON value and a BSON document first: the hot path of JSON input.
///
/// It takes a strict subset of Extended JSON, the shapes mongoexport writes
/// for an event (canonical or relaxed), and gives exactly the event the
/// generic conversion (`serde_json::Value` → `bson::Bson` →
/// [`codec::event_from_document`]) gives for it. Anything else (a repeated
/// key, a key starting with `$` where a document is expected, another
/// Extended JSON type, a retention anchor, an invalid value) is declined:
/// an error, or `None` from [`fast::Event::into_event`], and the generic
/// conversion reads the document again and decides, with its reason.
mod fast {
    use std::borrow::Cow;
    use std::fmt;

    use base64::Engine as _;
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use stream_store::chain::{
        ChainId, Detail, DetailValue, Seal, SealedEvent, SecretId, SensitiveValue, Status,
    };

    /// Declines the document: the generic conversion takes over.
    fn decline<E: de::Error>() -> E {
        E::custom("not in the fast reader's subset")
    }

    /// The next key of a document's map, declining one starting with `$`
    /// (an Extended JSON type where a document is expected).
    fn next_key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Text<'de>>, A::Error> {
        match map.next_key::<Text<'de>>()? {
            Some(key) if key.0.starts_with('$') => Err(decline()),
            key => Ok(key),
        }
    }

    /// Fills a field's slot, declining a repeated key (the generic
    /// conversion keeps the last value; the fast reader does not choose).
    fn fill<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
        match slot.replace(value) {
            None => Ok(()),
            Some(_) => Err(decline()),
        }
    }

    /// A JSON string, borrowed from the input when it has no escapes.
    pub struct Text<'de>(pub Cow<'de, str>);

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits a string.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// An integer as the generic conversion reads one: a JSON number (a
    /// float only if integral and below 9e15), `{"$numberLong": "…"}` or
    /// `{"$numberInt": "…"}`.
    pub struct Int(pub i64);

    impl<'de> Deserialize<'de> for Int {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits an integer.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Int;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an integer")
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                    Ok(Int(v))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                    i64::try_from(v).map(Int).map_err(|_| decline())
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                    if v.fract() == 0.0 && v.abs() < 9.0e15 {
                        Ok(Int(v as i64))
                    } else {
                        Err(decline())
                    }
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Int, A::Error> {
                    let key = map.next_key::<Text<'de>>()?.ok_or_else(decline)?;
                    let text = map.next_value::<Text<'de>>()?;
                    let value = match &*key.0 {
                        "$numberLong" => text.0.parse::<i64>().map_err(|_| decline())?,
                        "$numberInt" => i64::from(text.0.parse::<i32>().map_err(|_| decline())?),
                        _ => return Err(decline()),
                    };
                    match map.next_key::<de::IgnoredAny>()? {
                        None => Ok(Int(value)),
                        Some(_) => Err(decline()),
                    }
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A date in milliseconds: `{"$date": {"$numberLong": "…"}}`,
    /// `{"$date": "<RFC 3339>"}` or `{"$date": <integer>}`; `None` for
    /// `null`.
    pub struct Date(pub Option<i64>);

    impl<'de> Deserialize<'de> for Date {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// The body of `$date`.
            struct Body(i64);
            impl<'de> Deserialize<'de> for Body {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    /// Visits the body of `$date`.
                    struct V;
                    impl<'de> Visitor<'de> for V {
                        type Value = Body;
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            f.write_str("a date")
                        }
                        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Body, E> {
                            Ok(Body(v))
                        }
                        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Body, E> {
                            i64::try_from(v).map(Body).map_err(|_| decline())
                        }
                        fn visit_str<E: de::Error>(self, v: &str) -> Result<Body, E> {
                            bson::DateTime::parse_rfc3339_str(v)
                                .map(|d| Body(d.timestamp_millis()))
                                .map_err(|_| decline())
                        }
                        fn visit_map<A: MapAccess<'de>>(
                            self,
                            mut map: A,
                        ) -> Result<Body, A::Error> {
                            match map.next_key::<Text<'de>>()? {
                                Some(key) if key.0 == "$numberLong" => {}
                                _ => return Err(decline()),
                            }
                            let text = map.next_value::<Text<'de>>()?;
                            let millis = text.0.parse::<i64>().map_err(|_| decline())?;
                            match map.next_key::<de::IgnoredAny>()? {
                                None => Ok(Body(millis)),
                                Some(_) => Err(decline()),
                            }
                        }
                    }
                    d.deserialize_any(V)
                }
            }

            /// Visits a date or `null`.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Date;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a date")
                }
                fn visit_unit<E: de::Error>(self) -> Result<Date, E> {
                    Ok(Date(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
                    match map.next_key::<Text<'de>>()? {
                        Some(key) if key.0 == "$date" => {}
                        _ => return Err(decline()),
                    }
                    let body = map.next_value::<Body>()?;
                    match map.next_key::<de::IgnoredAny>()? {
                        None => Ok(Date(Some(body.0))),
                        Some(_) => Err(decline()),
                    }
                }
            }
            d.deserialize_any(V)
        }
    }

    /// Binary data: `{"$binary": {"base64": "…", "subType": "<2 hex>"}}`;
    /// `None` for `null`.
    pub struct Bin(pub Option<Vec<u8>>);

    impl<'de> Deserialize<'de> for Bin {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// The body of `$binary`.
            struct Body(Vec<u8>);
            impl<'de> Deserialize<'de> for Body {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    /// Visits the body of `$binary`.
                    struct V;
                    impl<'de> Visitor<'de> for V {
                        type Value = Body;
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            f.write_str("a binary body")
                        }
                        fn visit_map<A: MapAccess<'de>>(
                            self,
                            mut map: A,
                        ) -> Result<Body, A::Error> {
                            let (mut base64, mut subtype) = (None, None);
                            while let Some(key) = map.next_key::<Text<'de>>()? {
                                let slot = match &*key.0 {
                                    "base64" => &mut base64,
                                    "subType" => &mut subtype,
                                    _ => return Err(decline()),
                                };
                                if slot.replace(map.next_value::<Text<'de>>()?).is_some() {
                                    return Err(decline());
                                }
                            }
                            let (Some(base64), Some(subtype)) = (base64, subtype) else {
                                return Err(decline());
                            };
                            // One byte in hex, as the generic conversion requires.
                            if !(subtype.0.len() == 2
                                && subtype.0.bytes().all(|b| b.is_ascii_hexdigit()))
                            {
                                return Err(decline());
                            }
                            base64::engine::general_purpose::STANDARD
                                .decode(base64.0.as_bytes())
                                .map(Body)
                                .map_err(|_| decline())
                        }
                    }
                    d.deserialize_map(V)
                }
            }

            /// Visits binary data or `null`.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Bin;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("binary data")
                }
                fn visit_unit<E: de::Error>(self) -> Result<Bin, E> {
                    Ok(Bin(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bin, A::Error> {
                    match map.next_key::<Text<'de>>()? {
                        Some(key) if key.0 == "$binary" => {}
                        _ => return Err(decline()),
                    }
                    let body = map.next_value::<Body>()?;
                    match map.next_key::<de::IgnoredAny>()? {
                        None => Ok(Bin(Some(body.0))),
                        Some(_) => Err(decline()),
                    }
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A value of a field the event does not have (`_id`, `terms`, …):
    /// checked, so that a document the generic conversion refuses is
    /// declined, then dropped. Of Extended JSON types only `$oid` is taken.
    struct Other;

    impl<'de> Deserialize<'de> for Other {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits any value.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Other;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Other, E> {
                    Ok(Other)
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<Other, E> {
                    Ok(Other)
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<Other, E> {
                    Ok(Other)
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Other, E> {
                    Ok(Other)
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Other, E> {
                    Ok(Other)
                }
                fn visit_unit<E: de::Error>(self) -> Result<Other, E> {
                    Ok(Other)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Other, A::Error> {
                    while seq.next_element::<Other>()?.is_some() {}
                    Ok(Other)
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Other, A::Error> {
                    let mut first = true;
                    while let Some(key) = map.next_key::<Text<'de>>()? {
                        if key.0 == "$oid" && first {
                            let hex = map.next_value::<Text<'de>>()?;
                            let valid =
                                hex.0.len() == 24 && hex.0.bytes().all(|b| b.is_ascii_hexdigit());
                            return match map.next_key::<de::IgnoredAny>()? {
                                None if valid => Ok(Other),
                                _ => Err(decline()),
                            };
                        }
                        if key.0.starts_with('$') {
                            return Err(decline());
                        }
                        map.next_value::<Other>()?;
                        first = false;
                    }
                    Ok(Other)
                }
            }
            d.deserialize_any(V)
        }
    }

    /// `details[i].secure`.
    struct Secure {
        /// `dek`: the wrapped data key, `None` when shredded.
        dek: Option<Vec<u8>>,
        /// `ct`: the payload.
        ct: Vec<u8>,
    }

    impl<'de> Deserialize<'de> for Secure {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits `secure`.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Secure;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a secure value")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secure, A::Error> {
                    let (mut dek, mut ct) = (None, None);
                    while let Some(key) = next_key(&mut map)? {
                        match &*key.0 {
                            "dek" => fill(&mut dek, map.next_value::<Bin>()?.0)?,
                            "ct" => fill(&mut ct, map.next_value::<Bin>()?.0)?,
                            _ => {
                                map.next_value::<Other>()?;
                            }
                        }
                    }
                    Ok(Secure {
                        dek: dek.flatten(),
                        ct: ct.flatten().ok_or_else(decline)?,
                    })
                }
            }
            d.deserialize_map(V)
        }
    }

    /// One of `details`.
    struct DetailItem(Detail);

    impl<'de> Deserialize<'de> for DetailItem {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits a detail.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = DetailItem;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a detail")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailItem, A::Error> {
                    let (mut k, mut v, mut secure) = (None, None, None);
                    while let Some(key) = next_key(&mut map)? {
                        match &*key.0 {
                            "k" => fill(&mut k, map.next_value::<Text<'de>>()?)?,
                            "v" => fill(&mut v, map.next_value::<Text<'de>>()?)?,
                            "secure" => fill(&mut secure, map.next_value::<Secure>()?)?,
                            _ => {
                                map.next_value::<Other>()?;
                            }
                        }
                    }
                    let value = match (v, secure) {
                        (Some(v), None) => DetailValue::Public(v.0.into_owned()),
                        (None, Some(s)) => DetailValue::Sensitive(SensitiveValue {
                            wrapped_dek: s.dek,
                            payload: s.ct,
                        }),
                        _ => return Err(decline()),
                    };
                    Ok(DetailItem(Detail {
                        key: k.ok_or_else(decline)?.0.into_owned(),
                        value,
                    }))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// `details`: an array, or `null`.
    struct Details(Vec<Detail>);

    impl<'de> Deserialize<'de> for Details {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits `details`.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Details;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("details")
                }
                fn visit_unit<E: de::Error>(self) -> Result<Details, E> {
                    Ok(Details(Vec::new()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Details, A::Error> {
                    let mut details = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
                    while let Some(DetailItem(detail)) = seq.next_element()? {
                        details.push(detail);
                    }
                    Ok(Details(details))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// The fields of an event document, as read.
    #[derive(Default)]
    pub struct Event<'de> {
        /// `v`.
        v: Option<i64>,
        /// `chain`.
        chain: Option<Cow<'de, str>>,
        /// `seq`.
        seq: Option<i64>,
        /// `timestamp` (`Some(None)` for `null`).
        timestamp: Option<Option<i64>>,
        /// `code`.
        code: Option<Cow<'de, str>>,
        /// `module`.
        module: Option<Cow<'de, str>>,
        /// `node`.
        node: Option<Cow<'de, str>>,
        /// `status`.
        status: Option<Cow<'de, str>>,
        /// `details`.
        details: Option<Vec<Detail>>,
        /// `removeAt` (`Some(None)` for `null`).
        remove_at: Option<Option<i64>>,
        /// `secretId`.
        secret_id: Option<Cow<'de, str>>,
        /// `prev`.
        prev: Option<Option<Vec<u8>>>,
        /// `seal`.
        seal: Option<Option<Vec<u8>>>,
        /// `anchor`, when `null` (any other value is declined).
        anchor: Option<()>,
        /// `eventId` (format 3).
        event_id: Option<Cow<'de, str>>,
        /// `eventKey` (derived from chain and `eventId`).
        event_key: Option<Cow<'de, str>>,
    }

    impl<'de> Deserialize<'de> for Event<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            /// Visits an event document.
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Event<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an event document")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event<'de>, A::Error> {
                    let mut e = Event::default();
                    while let Some(key) = next_key(&mut map)? {
                        match &*key.0 {
                            "v" => fill(&mut e.v, map.next_value::<Int>()?.0)?,
                            "chain" => fill(&mut e.chain, map.next_value::<Text<'de>>()?.0)?,
                            "seq" => fill(&mut e.seq, map.next_value::<Int>()?.0)?,
                            "timestamp" => fill(&mut e.timestamp, map.next_value::<Date>()?.0)?,
                            "code" => fill(&mut e.code, map.next_value::<Text<'de>>()?.0)?,
                            "module" => fill(&mut e.module, map.next_value::<Text<'de>>()?.0)?,
                            "node" => fill(&mut e.node, map.next_value::<Text<'de>>()?.0)?,
                            "status" => fill(&mut e.status, map.next_value::<Text<'de>>()?.0)?,
                            "details" => fill(&mut e.details, map.next_value::<Details>()?.0)?,
                            "removeAt" => fill(&mut e.remove_at, map.next_value::<Date>()?.0)?,
                            "secretId" => {
                                fill(&mut e.secret_id, map.next_value::<Text<'de>>()?.0)?;
                            }
                            "prev" => fill(&mut e.prev, map.next_value::<Bin>()?.0)?,
                            "seal" => fill(&mut e.seal, map.next_value::<Bin>()?.0)?,
                            "eventId" => fill(&mut e.event_id, map.next_value::<Text<'de>>()?.0)?,
                            "eventKey" => {
                                fill(&mut e.event_key, map.next_value::<Text<'de>>()?.0)?;
                            }
                            // A retention anchor is rare: the generic
                            // conversion reads it.
                            // So is a stub (`purged`).
                            "anchor" | "purged" => {
                                fill(&mut e.anchor, ())?;
                                map.next_value::<Option<de::IgnoredAny>>()?
                                    .map_or(Ok(()), |_| Err(decline()))?;
                            }
                            _ => {
                                map.next_value::<Other>()?;
                            }
                        }
                    }
                    Ok(e)
                }
            }
            d.deserialize_map(V)
        }
    }

    impl Event<'_> {
        /// The event, if the document is a valid one; `None` leaves the
        /// document to the generic conversion (and its reason).
        pub fn into_event(self) -> Option<SealedEvent> {
            let event_key = self.event_key;
            let event = SealedEvent {
                version: u8::try_from(self.v?).ok()?,
                chain: ChainId::new(&self.chain?).ok()?,
                seq: u64::try_from(self.seq?).ok()?,
                timestamp_ms: self.timestamp??,
                code: self.code?.into_owned(),
                module: self.module?.into_owned(),
                node: self.node?.into_owned(),
                status: Status::parse(&self.status?)?,
                details: self.details.unwrap_or_default(),
                remove_at_ms: self.remove_at.flatten(),
                secret_id: SecretId::from_hex(&self.secret_id?)?,
                prev: Seal::from_slice(&self.prev??)?,
                seal: Seal::from_slice(&self.seal??)?,
                anchor: None,
                purged: None,
                event_id: self.event_id.map(Cow::into_owned),
            };
            // A shape its version does not allow, or an `eventKey` that is
            // not the one derived from chain and id: the generic conversion
            // names what is wrong.
            let key_ok = match (&event.event_id, event_key.as_deref()) {
                (None, None) => true,
                (Some(id), Some(key)) => {
                    key == stream_store::mongo::codec::event_key(&event.chain, id)
                }
                _ => false,
            };
            (key_ok && event.shape_error().is_none()).then_some(event)
        }
    }
}

// ----------------------------------------------------------------- output

/// The report as text: findings (earliest first), one line per chain, the
/// verdict.
fn write_text_report(out: &mut impl io::Write, report: &VerifyReport) -> io::Result<()> {
    for finding in &report.findings {
        writeln!(out, "{finding}")?;
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
            chain.chain,
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

/// The report as one JSON object.
fn json_report(report: &VerifyReport) -> Value {
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
