//! `keyset`: generate, manage and use Tink keysets from the command line.
//!
//! ```text
//! keyset generate [--template T] [--prefix tink|raw]
//!                  # T: aes256-gcm-siv (default), aes128-gcm-siv, aes256-gcm, aes128-gcm,
//!                  #    aes128-ctr-hmac-sha256, aes256-ctr-hmac-sha256, aes128-eax,
//!                  #    aes256-eax, chacha20-poly1305, xchacha20-poly1305
//! keyset add      --keyset FILE [--template T] [--prefix P]      # prints the new key id
//! keyset promote  --keyset FILE --key-id ID
//! keyset enable   --keyset FILE --key-id ID
//! keyset disable  --keyset FILE --key-id ID
//! keyset destroy  --keyset FILE --key-id ID
//! keyset list     --keyset FILE
//! keyset encrypt  --keyset FILE (--aad-hex HEX | --no-aad | --envelope [--dek-template T]) # stdin -> stdout
//! keyset decrypt  --keyset FILE [--aad-hex HEX] [--envelope]    # stdin -> stdout
//! ```
//!
//! Every command that reads a keyset also takes `--master-keyset FILE
//! [--master-aad-hex HEX]`: FILE is then a Tink encrypted keyset, which the
//! primary of the (cleartext) master keyset decrypts; a command that changes
//! it writes it back encrypted by the same master with the same associated
//! data, never in clear. A keyset is written back in the form it was read in
//! (JSON or binary protobuf).
//!
//! A changed keyset replaces FILE atomically: the new content goes to a
//! temporary file in the same directory (created with mode 0600 on Unix),
//! which is given FILE's permissions, synced and renamed over FILE. On any
//! error FILE is left as it was.
//!
//! Exit status: 0 on success; 1 when decryption is refused: it fails
//! authentication (wrong key, wrong associated data, a modified
//! ciphertext), or the ciphertext's prefix names a key the keyset does not
//! hold (made by a newer keyset: roll it out first) or holds DISABLED or
//! DESTROYED; the same for an encrypted keyset that `--master-keyset` does
//! not decrypt; 2 on bad usage or malformed input (an envelope whose data
//! key authenticates but is not one Tink accepts, a key id that several keys
//! share given to promote/enable/disable/destroy). Errors go to stderr,
//! prefixed `keyset: `.
//!
//! Keysets are written as Tink Java reads them (a destroyed key with empty
//! key data); `tools/tink-java/run.sh` checks the tool against Tink Java.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stream_keyset::{Aead, Algorithm, Error, KeyId, Keyset, OutputPrefix, Template};
use zeroize::Zeroizing;

/// Generate, manage and use Tink keysets (AES-GCM-SIV, AES-GCM).
#[derive(Debug, Parser)]
#[command(name = "keyset", version)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The commands of the tool.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print a new cleartext JSON keyset holding one fresh primary key.
    Generate(NewKey),
    /// Add a fresh ENABLED key, not primary (roll the keyset out, then
    /// promote it); print its id.
    Add {
        /// The keyset to change.
        #[command(flatten)]
        source: Source,
        /// The new key.
        #[command(flatten)]
        key: NewKey,
    },
    /// Make an ENABLED key the primary (the key that encrypts).
    Promote(KeyCommand),
    /// Enable a DISABLED key again.
    Enable(KeyCommand),
    /// Disable a key: it no longer decrypts. Not the primary.
    Disable(KeyCommand),
    /// Destroy a key's material for good. Not the primary.
    Destroy(KeyCommand),
    /// Print each key's id, status, type and prefix, and which is primary.
    List(Source),
    /// Encrypt stdin to stdout with the primary key.
    Encrypt(Crypt),
    /// Decrypt stdin to stdout with any ENABLED key.
    Decrypt(Crypt),
}

/// Where the keyset is and how to read it.
#[derive(Debug, Args)]
struct Source {
    /// The keyset file: Tink JSON or binary, cleartext unless
    /// --master-keyset is given.
    #[arg(long, value_name = "FILE")]
    keyset: PathBuf,
    /// A cleartext keyset whose primary key encrypts the keyset file (Tink's
    /// encrypted keyset).
    #[arg(long, value_name = "FILE")]
    master_keyset: Option<PathBuf>,
    /// Associated data the keyset file is encrypted with, in hex (default:
    /// none).
    #[arg(long, value_name = "HEX", requires = "master_keyset", value_parser = parse_hex)]
    master_aad_hex: Option<Hex>,
}

/// What key to generate.
#[derive(Debug, Args)]
struct NewKey {
    /// The key's algorithm.
    #[arg(long, value_enum, default_value_t = TemplateName::Aes256GcmSiv)]
    template: TemplateName,
    /// The key's output prefix: TINK (the key id leads each ciphertext) or
    /// RAW (no prefix).
    #[arg(long, value_enum, default_value_t = PrefixName::Tink)]
    prefix: PrefixName,
}

impl NewKey {
    /// The library's template for these options.
    fn template(&self) -> Template {
        Template {
            algorithm: self.template.algorithm(),
            prefix: self.prefix.prefix(),
        }
    }
}

/// A command on one key of a keyset.
#[derive(Debug, Args)]
struct KeyCommand {
    /// The keyset to change.
    #[command(flatten)]
    source: Source,
    /// The key's id, as `list` prints it.
    #[arg(long, value_name = "ID")]
    key_id: u32,
}

/// Options of `encrypt` and `decrypt`.
#[derive(Debug, Args)]
struct Crypt {
    /// The keyset.
    #[command(flatten)]
    source: Source,
    /// Associated data, in hex. A plain `encrypt` needs it or `--no-aad`.
    #[arg(long, value_name = "HEX", value_parser = parse_hex, conflicts_with = "no_aad")]
    aad_hex: Option<Hex>,
    /// No associated data, on purpose (see `encrypt`).
    #[arg(long)]
    no_aad: bool,
    /// Envelope encryption: a fresh data key per message, wrapped by the
    /// keyset (Tink's KmsEnvelopeAead layout). Decryption opens either
    /// data-key family, whatever `--dek-template` says.
    #[arg(long)]
    envelope: bool,
    /// The data keys' template of `--envelope` encryption (an AES-GCM or
    /// AES-GCM-SIV one; the library refuses the others).
    #[arg(long, value_enum, default_value_t = TemplateName::Aes256GcmSiv, requires = "envelope")]
    dek_template: TemplateName,
}

/// The algorithms `--template` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TemplateName {
    /// AES-256-GCM-SIV.
    #[value(name = "aes256-gcm-siv")]
    Aes256GcmSiv,
    /// AES-128-GCM-SIV.
    #[value(name = "aes128-gcm-siv")]
    Aes128GcmSiv,
    /// AES-256-GCM.
    #[value(name = "aes256-gcm")]
    Aes256Gcm,
    /// AES-128-GCM.
    #[value(name = "aes128-gcm")]
    Aes128Gcm,
    /// AES-128-CTR-HMAC-SHA256 (Tink's AES128_CTR_HMAC_SHA256).
    #[value(name = "aes128-ctr-hmac-sha256")]
    Aes128CtrHmacSha256,
    /// AES-256-CTR-HMAC-SHA256 (Tink's AES256_CTR_HMAC_SHA256).
    #[value(name = "aes256-ctr-hmac-sha256")]
    Aes256CtrHmacSha256,
    /// AES-128-EAX, 16-byte nonce (Tink's AES128_EAX).
    #[value(name = "aes128-eax")]
    Aes128Eax,
    /// AES-256-EAX, 16-byte nonce (Tink's AES256_EAX).
    #[value(name = "aes256-eax")]
    Aes256Eax,
    /// ChaCha20-Poly1305.
    #[value(name = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// XChaCha20-Poly1305.
    #[value(name = "xchacha20-poly1305")]
    XChaCha20Poly1305,
}

impl TemplateName {
    /// The library's algorithm.
    fn algorithm(self) -> Algorithm {
        match self {
            TemplateName::Aes256GcmSiv => Algorithm::Aes256GcmSiv,
            TemplateName::Aes128GcmSiv => Algorithm::Aes128GcmSiv,
            TemplateName::Aes256Gcm => Algorithm::Aes256Gcm,
            TemplateName::Aes128Gcm => Algorithm::Aes128Gcm,
            TemplateName::Aes128CtrHmacSha256 => Algorithm::Aes128CtrHmacSha256,
            TemplateName::Aes256CtrHmacSha256 => Algorithm::Aes256CtrHmacSha256,
            TemplateName::Aes128Eax => Algorithm::Aes128Eax,
            TemplateName::Aes256Eax => Algorithm::Aes256Eax,
            TemplateName::ChaCha20Poly1305 => Algorithm::ChaCha20Poly1305,
            TemplateName::XChaCha20Poly1305 => Algorithm::XChaCha20Poly1305,
        }
    }
}

/// The output prefixes `--prefix` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PrefixName {
    /// `0x01 || key id` before each ciphertext.
    Tink,
    /// No prefix.
    Raw,
}

impl PrefixName {
    /// The library's output prefix.
    fn prefix(self) -> OutputPrefix {
        match self {
            PrefixName::Tink => OutputPrefix::Tink,
            PrefixName::Raw => OutputPrefix::Raw,
        }
    }
}

/// Bytes given in hex on the command line.
#[derive(Clone, Debug, Default)]
struct Hex(Vec<u8>);

/// Parses a `--*-hex` value.
fn parse_hex(text: &str) -> Result<Hex, String> {
    hex::decode(text)
        .map(Hex)
        .map_err(|e| format!("not hex ({e}); expected an even number of hex digits"))
}

/// Why the tool failed; decides the exit status.
#[derive(Debug)]
enum Failure {
    /// The keyset library refused: malformed input, a forbidden operation,
    /// or a failed authentication.
    Keyset {
        /// What was being read (a file), if the error concerns one.
        context: Option<String>,
        /// The library's error.
        error: Error,
        /// What to do about it, when the tool can tell.
        hint: Option<&'static str>,
    },
    /// The input is not what the options say it is.
    Mismatch {
        /// The file concerned.
        context: String,
        /// What is wrong and what to do.
        message: &'static str,
    },
    /// Reading or writing a file or a standard stream failed.
    Io {
        /// What was being done.
        context: String,
        /// The system's error.
        error: io::Error,
    },
}

impl Failure {
    /// The exit status: 1 when decryption is refused (a failed
    /// authentication, a key the keyset does not hold or holds not
    /// ENABLED), 2 for the rest.
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Keyset {
                error: Error::Decryption | Error::UnknownKey(_) | Error::KeyNotEnabled { .. },
                ..
            } => 1,
            _ => 2,
        }
    }

    /// A library error about no file in particular.
    fn keyset(error: Error) -> Failure {
        Failure::Keyset {
            context: None,
            error,
            hint: None,
        }
    }

    /// A library error about the file at `path`.
    fn keyset_file(path: &Path, error: Error) -> Failure {
        Failure::Keyset {
            context: Some(path.display().to_string()),
            error,
            hint: None,
        }
    }

    /// A system error while doing `context`.
    fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Failure {
        let context = context.into();
        move |error| Failure::Io { context, error }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Keyset {
                context,
                error,
                hint,
            } => {
                if let Some(context) = context {
                    write!(f, "{context}: ")?;
                }
                write!(f, "{error}")?;
                if let Some(hint) = hint {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            Failure::Mismatch { context, message } => write!(f, "{context}: {message}"),
            Failure::Io { context, error } => write!(f, "{context}: {error}"),
        }
    }
}

/// An encrypted keyset read without its master keyset.
const ENCRYPTED: &str = "this is an encrypted keyset: pass --master-keyset FILE (and \
     --master-aad-hex HEX if it was encrypted with associated data)";
/// Hint for a binary file that is not a cleartext keyset.
const BINARY_HINT: &str = "if this is an encrypted keyset, pass --master-keyset FILE";
/// Hint for a JSON file that is not an encrypted keyset, read as one.
const CLEARTEXT_HINT: &str = "this looks like a cleartext keyset: drop --master-keyset";
/// Hint for an encrypted keyset that the master keyset does not decrypt.
const MASTER_HINT: &str = "the master keyset does not decrypt this keyset: give the one \
     that encrypted it (and its --master-aad-hex)";

/// A keyset read from a file, with what it takes to write it back the same
/// way.
struct Loaded {
    /// The file to replace (symbolic links resolved).
    path: PathBuf,
    /// The keyset.
    keyset: Keyset,
    /// The master AEAD and associated data, for an encrypted keyset.
    master: Option<(Aead, Vec<u8>)>,
    /// Whether the file was binary protobuf rather than JSON.
    binary: bool,
}

/// Whether `bytes` look like Tink's JSON form (the first non-blank byte
/// opens an object), as the library decides it.
fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Reads a whole file, zeroized when dropped.
fn read_secret(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(Failure::io(format!(
            "cannot read {what} {}",
            path.display()
        )))
}

/// Reads the keyset `source` names.
fn load(source: &Source) -> Result<Loaded, Failure> {
    let bytes = read_secret(&source.keyset, "keyset")?;
    let binary = !looks_like_json(&bytes);
    let (keyset, master) = match &source.master_keyset {
        None => {
            let keyset = Keyset::parse(&bytes).map_err(|error| {
                let context = source.keyset.display().to_string();
                if !binary && contains(&bytes, b"\"encryptedKeyset\"") {
                    return Failure::Mismatch {
                        context,
                        message: ENCRYPTED,
                    };
                }
                let hint =
                    (binary && matches!(error, Error::Protobuf { .. })).then_some(BINARY_HINT);
                Failure::Keyset {
                    context: Some(context),
                    error,
                    hint,
                }
            })?;
            (keyset, None)
        }
        Some(master_path) => {
            let master_bytes = read_secret(master_path, "master keyset")?;
            let master = Keyset::parse(&master_bytes)
                .and_then(|master| master.aead())
                .map_err(|error| Failure::keyset_file(master_path, error))?;
            let aad = source.master_aad_hex.clone().unwrap_or_default().0;
            let keyset = Keyset::parse_encrypted(&bytes, &master, &aad).map_err(|error| {
                let cleartext = matches!(error, Error::Json(_))
                    && contains(&bytes, b"\"primaryKeyId\"")
                    && !contains(&bytes, b"\"encryptedKeyset\"");
                let refused = matches!(
                    error,
                    Error::Decryption | Error::UnknownKey(_) | Error::KeyNotEnabled { .. }
                );
                let hint = if cleartext {
                    Some(CLEARTEXT_HINT)
                } else {
                    refused.then_some(MASTER_HINT)
                };
                Failure::Keyset {
                    context: Some(source.keyset.display().to_string()),
                    error,
                    hint,
                }
            })?;
            (keyset, Some((master, aad)))
        }
    };
    let path = fs::canonicalize(&source.keyset).map_err(Failure::io(format!(
        "cannot resolve {}",
        source.keyset.display()
    )))?;
    Ok(Loaded {
        path,
        keyset,
        master,
        binary,
    })
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Appends a newline to a text form, in a buffer zeroized when dropped.
fn text_file(text: &str) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() + 1));
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(b'\n');
    bytes
}

impl Loaded {
    /// Writes the keyset back to its file, in the form it was read in.
    fn save(&self) -> Result<(), Failure> {
        let contents = match (&self.master, self.binary) {
            (None, false) => text_file(&Zeroizing::new(self.keyset.insecure_to_json())),
            (None, true) => Zeroizing::new(self.keyset.insecure_to_binary()),
            (Some((master, aad)), false) => text_file(
                &self
                    .keyset
                    .to_encrypted_json(master, aad)
                    .map_err(Failure::keyset)?,
            ),
            (Some((master, aad)), true) => Zeroizing::new(
                self.keyset
                    .to_encrypted_binary(master, aad)
                    .map_err(Failure::keyset)?,
            ),
        };
        replace_file(&self.path, &contents)
    }
}

/// Replaces the file at `path` by `contents` atomically: a temporary file
/// in the same directory is written, given the permissions of `path`,
/// synced and renamed over it; then the directory is synced.
fn replace_file(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    let shown = path.display();
    let permissions = fs::metadata(path)
        .map_err(Failure::io(format!("cannot read the metadata of {shown}")))?
        .permissions();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let (temp_path, mut temp) = create_temp(dir, path)?;
    let written = temp
        .write_all(contents)
        .and_then(|()| temp.set_permissions(permissions))
        .and_then(|()| temp.sync_all())
        .and_then(|()| {
            drop(temp);
            fs::rename(&temp_path, path)
        });
    if let Err(error) = written {
        // Best effort: the original file is intact whatever happens here.
        let _ = fs::remove_file(&temp_path);
        return Err(Failure::Io {
            context: format!("cannot replace {shown} (left unchanged)"),
            error,
        });
    }
    sync_dir(dir).map_err(Failure::io(format!(
        "{shown} was replaced, but syncing its directory failed"
    )))
}

/// Creates a new temporary file next to `path`, readable by its owner only.
fn create_temp(dir: &Path, path: &Path) -> Result<(PathBuf, File), Failure> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0u32;
    loop {
        let temp_path = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(error) => {
                return Err(Failure::Io {
                    context: format!("cannot create a temporary file in {}", dir.display()),
                    error,
                })
            }
        }
    }
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes a rename in `dir` durable (nothing to do off Unix).
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Writes `bytes` to stdout.
fn output(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(Failure::io("cannot write to standard output"))
}

/// Reads all of stdin (a plaintext, or key material), zeroized when
/// dropped. The buffer grows by hand: a `Vec`'s own growth would free its
/// old buffer without wiping it.
fn input() -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut stdin = io::stdin().lock();
    let mut bytes = Zeroizing::new(Vec::with_capacity(64 * 1024));
    loop {
        if bytes.len() == bytes.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(bytes.capacity() * 2));
            bigger.extend_from_slice(&bytes);
            bytes = bigger; // the old buffer is wiped as it drops
        }
        let filled = bytes.len();
        let room = bytes.capacity();
        bytes.resize(room, 0); // within capacity: no reallocation
        let read = stdin.read(&mut bytes[filled..]);
        match read {
            Ok(0) => {
                bytes.truncate(filled);
                return Ok(bytes);
            }
            Ok(n) => bytes.truncate(filled + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => bytes.truncate(filled),
            Err(e) => return Err(Failure::io("cannot read standard input")(e)),
        }
    }
}

/// Loads a keyset, applies `change` to it and writes it back.
fn change(
    source: &Source,
    change: impl FnOnce(&mut Keyset) -> stream_keyset::Result<()>,
) -> Result<(), Failure> {
    let mut loaded = load(source)?;
    change(&mut loaded.keyset).map_err(Failure::keyset)?;
    loaded.save()
}

/// Runs one command.
fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Generate(key) => {
            let keyset = Keyset::generate(key.template());
            output(&text_file(&Zeroizing::new(keyset.insecure_to_json())))
        }
        Command::Add { source, key } => {
            let mut loaded = load(&source)?;
            let id = loaded.keyset.add(key.template());
            loaded.save()?;
            output(format!("{id}\n").as_bytes())
        }
        Command::Promote(c) => change(&c.source, |k| k.promote(KeyId(c.key_id))),
        Command::Enable(c) => change(&c.source, |k| k.enable(KeyId(c.key_id))),
        Command::Disable(c) => change(&c.source, |k| k.disable(KeyId(c.key_id))),
        Command::Destroy(c) => change(&c.source, |k| k.destroy(KeyId(c.key_id))),
        Command::List(source) => {
            let loaded = load(&source)?;
            let listing: String = loaded
                .keyset
                .list()
                .iter()
                .map(|key| format!("{key}\n"))
                .collect();
            output(listing.as_bytes())
        }
        Command::Encrypt(crypt) => {
            // With empty associated data, a keyset ciphertext of a chosen
            // 34-byte data-key proto would serve as an envelope's wrapped
            // key: a plain encryption without associated data must be asked
            // for, and the events' keyset should encrypt nothing else.
            let no_aad_given = crypt.aad_hex.as_ref().is_none_or(|h| h.0.is_empty());
            if !crypt.envelope && no_aad_given && !crypt.no_aad {
                return Err(Failure::Mismatch {
                    context: "encrypt".into(),
                    message: "give the associated data (--aad-hex HEX) or --no-aad: a ciphertext without associated data could be passed off as an envelope's wrapped data key, so the keyset that encrypts events must not encrypt other data without it",
                });
            }
            let keyset = load(&crypt.source)?.keyset;
            let aad = crypt.aad_hex.unwrap_or_default().0;
            let plaintext = input()?;
            let ciphertext = if crypt.envelope {
                keyset
                    .envelope(crypt.dek_template.algorithm())
                    .and_then(|envelope| envelope.encrypt(&plaintext, &aad))
            } else {
                keyset
                    .aead()
                    .and_then(|aead| aead.encrypt(&plaintext, &aad))
            }
            .map_err(Failure::keyset)?;
            output(&ciphertext)
        }
        Command::Decrypt(crypt) => {
            let keyset = load(&crypt.source)?.keyset;
            let aad = crypt.aad_hex.unwrap_or_default().0;
            let ciphertext = input()?;
            let plaintext = if crypt.envelope {
                keyset
                    .envelope(Algorithm::Aes256GcmSiv)
                    .and_then(|envelope| envelope.decrypt(&ciphertext, &aad))
            } else {
                keyset
                    .aead()
                    .and_then(|aead| aead.decrypt(&ciphertext, &aad))
            }
            .map(Zeroizing::new)
            .map_err(Failure::keyset)?;
            output(&plaintext)
        }
    }
}

/// Parses the command line, runs the command, and maps its failure to the
/// exit status.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 2, --help and --version 0, as clap does.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(io::stderr(), "keyset: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
