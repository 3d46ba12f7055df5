//! Offline chain verifier: checks the sealed audit events of a MongoDB
//! export with the seal secret(s) only — no keyset, no database — and names
//! the first broken position of every chain. Given the keyset, it also
//! checks that every sensitive detail still decrypts (deep verification).
//!
//! ```sh
//! cargo run --release --example verify_chain -- \
//!     [--seal-secret S | --seal-secret-file F]... [--checkpoint FILE]... \
//!     [--save-checkpoint FILE] [--window N] [--max-chains N] [--json] \
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
//! The input is streamed: memory stays bounded whatever the input (at
//! most 64 MiB resident: one document at a time, a JSON one at most
//! 24 MiB, a BSON one 16 MiB + 16 KiB, plus the verifier's bounded
//! state). A record that cannot be decoded is a finding at its byte
//! offset and reading goes on with the next one (JSON lines: the next
//! line opening with `{`; BSON: by its length); a broken `--jsonArray`, a
//! BSON length past the end or damaged gzip data ends the input with one
//! finding for the damage, after the findings before it.
//! Reading, verifying, checkpoint files and the reports are the library
//! `stream-audit` (`crates/audit`): mongodump documents are read raw,
//! mongoexport documents of the usual shape straight into events, any
//! other through `bson`'s Extended JSON conversion, which decides what
//! they are (env `VERIFY_CHAIN_GENERIC_JSON` set: all of them, for
//! differential tests). This file is its command line: arguments, files,
//! secrets and keysets, the progress bar, exit codes. It builds without
//! the MongoDB driver (package `stream-tools`, `examples/Cargo.toml`).
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
//! an input that is not a mongodump or mongoexport file at all from its
//! first bytes, or an I/O error reading an input file itself (standard
//! error names the file and what is wrong). Damage further on in an input
//! (a broken record, a truncated file, damaged gzip data) is a finding:
//! exit 1, with every other finding.

use std::fs::File;
use std::io::{self, IsTerminal as _, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Parser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stream_audit::{checkpoint, read_input, report, verify_input, Feed, Pass, ReadOptions};
use stream_chain::{
    Chainer, SealSecret, SealSecrets, Verifier, VerifyReport, DEFAULT_MAX_CHAINS, DEFAULT_WINDOW,
    MIN_SECRET_LEN,
};
use stream_keyset::{Algorithm, Error as KeysetError, Keyset};
use zeroize::Zeroizing;

/// The environment variable holding the seal secret.
const ENV_SECRET: &str = "EVENT_SEAL_SECRET";
/// When set, JSON documents are all read through the generic Extended JSON
/// conversion, never the fast reader: for differential tests.
const ENV_GENERIC_JSON: &str = "VERIFY_CHAIN_GENERIC_JSON";
/// Inputs larger than this get a progress bar (when standard error is a
/// terminal).
const PROGRESS_THRESHOLD: u64 = 10 * 1024 * 1024;
/// The largest seal secret file read.
const SECRET_FILE_LIMIT: u64 = 64 * 1024;
/// The largest checkpoint file read.
const CHECKPOINT_FILE_LIMIT: u64 = 64 * 1024 * 1024;
/// The largest keyset (or master keyset) file read.
const KEYSET_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// Command line.
#[derive(Parser)]
#[command(
    about = "Verify the sealed audit event chains of a mongodump or mongoexport export",
    after_help = "Exit status: 0 verified, 1 integrity findings (damaged records included), \
                  2 usage error, an input that is not an export, or an I/O error."
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
    /// repeatable. Several of one chain combine: the chain must pass
    /// through each, and reach the newest.
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
    /// Chains verified in detail; the records of chains beyond are only
    /// counted, and fail the verification (`untracked`). Memory grows with
    /// it (the windows of all chains share 8,192 records, at least 32
    /// each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CHAINS)]
    max_chains: usize,
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
            // Messages may quote the input (a field name, a file name):
            // escaped like the report, so that they cannot forge lines.
            let _ = writeln!(
                io::stderr(),
                "verify_chain: {}",
                report::printable(&message)
            );
            ExitCode::from(2)
        }
    }
}

/// Verifies; `Ok(true)` when every chain verified, `Err` for exit status 2.
fn run(args: &Args, matches: &ArgMatches) -> Result<bool, String> {
    let secrets = load_secrets(args, matches)?;
    let keys = load_keys(args, &secrets)?;
    let mut verifier = Verifier::new(secrets.clone())
        .with_window(args.window)
        .with_max_chains(args.max_chains);
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
    let options =
        ReadOptions::default().with_generic_json(std::env::var_os(ENV_GENERIC_JSON).is_some());
    match rereadable(&args.inputs) {
        Reread::Files => {
            for input in args.inputs.iter().filter(|i| !is_dump_metadata(i)) {
                let name = input_name(input);
                read_one(input, &mut verifier, Pass::Learn, &options, progress)
                    .map_err(|e| format!("{name}: {e}"))?;
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
        read_one(input, &mut verifier, Pass::Verify, &options, progress)
            .map_err(|e| format!("{name}: {e}"))?;
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
        writeln!(out, "{}", report::json(&report))
    } else {
        report::write_text(&mut out, &report)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))?;
    Ok(report.is_ok())
}

/// A message on standard error that does not change the exit status.
fn note(message: &str) {
    // Nothing sensible is left to do if standard error is closed.
    let _ = writeln!(io::stderr(), "verify_chain: {}", report::printable(message));
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
    checkpoint::trust(&bytes, verifier).map_err(|e| at(&e))?;
    Ok(())
}

/// Writes the checkpoint of every chain of a clean report to `path`,
/// atomically (a temporary file renamed over it).
fn save_checkpoints(path: &Path, report: &VerifyReport, secret: &SealSecret) -> Result<(), String> {
    let Some(text) = checkpoint::file(report, secret) else {
        note(&format!(
            "no chain in the input: no checkpoint written to {}",
            path.display()
        ));
        return Ok(());
    };
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

/// Opens one input and reads it for `pass`: the verification through
/// [`verify_input`] (a mongodump on all cores), the first pass through a
/// [`Feed`].
fn read_one(
    input: &Path,
    verifier: &mut Verifier,
    pass: Pass,
    options: &ReadOptions,
    terminal: bool,
) -> Result<(), String> {
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
    let name = input_name(input);
    let label = match pass {
        Pass::Learn => format!("{name} (shred records)"),
        Pass::Verify => name.clone(),
    };
    let (bar, reveal_at) = progress_bar(size, &label, terminal);
    let counted = Counting {
        inner: reader,
        bar: bar.clone(),
        reveal_at,
    };
    let result = match pass {
        Pass::Verify => verify_input(counted, verifier, &name, options),
        Pass::Learn => read_input(counted, &mut Feed::new(verifier, &name, pass), options),
    };
    bar.finish_and_clear();
    result.map_err(|e| e.to_string())
}
