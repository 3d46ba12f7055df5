//! End-to-end tests of the keyset tool, `examples/keyset.rs`: they run the
//! compiled binary as other tools do and check its output, exit status and
//! the files it leaves on disk.
//!
//! Cargo gives integration tests the path of a `[[bin]]` target
//! (`CARGO_BIN_EXE_*`) but not of an example, so the binary is looked up at
//! `target/<profile>/examples/keyset`, next to the `deps/` directory this
//! test runs from. A plain `cargo test` builds the examples before it runs
//! the integration tests; a run restricted to this file (`cargo test --test
//! keyset_tool`) does not: so the tests run `cargo build --example keyset`
//! once, in the same profile, before the first run (a no-op when it is up
//! to date; see `common::build_examples`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine as _;
use stream_keyset::{Keyset, Template};
use tempfile::TempDir;

/// The compiled keyset tool, built once (up to date) for the tests.
fn tool() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::build_examples(&["keyset"]))
        .join(format!("keyset{}", std::env::consts::EXE_SUFFIX))
}

#[path = "common/mod.rs"]
mod common;

/// A scratch directory for one test, and the tool run in it.
struct Scratch {
    /// The directory, removed at the end of the test.
    dir: TempDir,
    /// The tool.
    bin: PathBuf,
}

/// What one run of the tool gave.
struct Run {
    /// The exit status (-1 if killed by a signal).
    code: i32,
    /// Standard output.
    stdout: Vec<u8>,
    /// Standard error, as text.
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    fn ok(self) -> Vec<u8> {
        assert_eq!(self.code, 0, "tool failed: {}", self.stderr);
        self.stdout
    }

    /// Asserts success and returns stdout as text.
    fn ok_text(self) -> String {
        String::from_utf8(self.ok()).unwrap()
    }

    /// Asserts exit status `code` and a `keyset: ` message on stderr; returns
    /// the message.
    fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "unexpected exit status; stderr: {}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with("keyset: "),
            "stderr: {}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "stdout on failure: {:?}",
            self.stdout
        );
        self.stderr
    }
}

impl Scratch {
    /// A fresh directory.
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
            bin: tool(),
        }
    }

    /// The path of `name` in the directory, as a string for arguments.
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// Runs the tool with `args`, feeding `stdin`.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = Command::new(&self.bin)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let input = stdin.to_vec();
        // Written from a thread so that a large output cannot dead-lock us.
        let writer = std::thread::spawn(move || {
            // The tool may exit before reading (usage errors): ignore EPIPE.
            let _ = pipe.write_all(&input);
        });
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    /// `keyset generate <args>` written to `name`; returns its path.
    fn generate(&self, name: &str, args: &[&str]) -> String {
        let mut all = vec!["generate"];
        all.extend_from_slice(args);
        let json = self.run(&all, b"").ok();
        let path = self.path(name);
        fs::write(&path, json).unwrap();
        path
    }

    /// `keyset list`, one line split in columns per key.
    fn list(&self, extra: &[&str]) -> Vec<Vec<String>> {
        let mut args = vec!["list"];
        args.extend_from_slice(extra);
        self.run(&args, b"")
            .ok_text()
            .lines()
            .map(|line| line.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    /// `keyset encrypt`, `--aad-hex` if `aad` is not empty.
    fn encrypt(&self, keyset: &str, extra: &[&str], plaintext: &[u8]) -> Vec<u8> {
        let mut args = vec!["encrypt", "--keyset", keyset];
        args.extend_from_slice(extra);
        if ![&"--aad-hex", &"--envelope", &"--no-aad"]
            .iter()
            .any(|flag| extra.contains(flag))
        {
            args.push("--no-aad");
        }
        self.run(&args, plaintext).ok()
    }

    /// `keyset decrypt`.
    fn decrypt(&self, keyset: &str, extra: &[&str], ciphertext: &[u8]) -> Run {
        let mut args = vec!["decrypt", "--keyset", keyset];
        args.extend_from_slice(extra);
        self.run(&args, ciphertext)
    }

    /// The names of the files in the directory.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The id of the primary key in a listing.
fn primary(listing: &[Vec<String>]) -> String {
    let primaries: Vec<_> = listing
        .iter()
        .filter(|row| row.get(4).map(String::as_str) == Some("primary"))
        .collect();
    assert_eq!(primaries.len(), 1, "{listing:?}");
    primaries[0][0].clone()
}

/// The row of key `id` in a listing.
fn row<'a>(listing: &'a [Vec<String>], id: &str) -> &'a [String] {
    listing
        .iter()
        .find(|row| row[0] == id)
        .unwrap_or_else(|| panic!("no key {id} in {listing:?}"))
}

#[test]
fn generate_prints_a_cleartext_json_keyset_of_the_template() {
    let s = Scratch::new();
    let default = s.generate("default.json", &[]);
    let listing = s.list(&["--keyset", &default]);
    assert_eq!(listing.len(), 1);
    assert_eq!(
        listing[0][1..],
        ["ENABLED", "aes256-gcm-siv", "TINK", "primary"]
    );
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&default).unwrap()).unwrap();
    assert_eq!(
        json["key"][0]["keyData"]["typeUrl"],
        "type.googleapis.com/google.crypto.tink.AesGcmSivKey"
    );

    for template in [
        "aes256-gcm-siv",
        "aes128-gcm-siv",
        "aes256-gcm",
        "aes128-gcm",
    ] {
        for prefix in ["tink", "raw"] {
            let file = s.generate(
                &format!("{template}-{prefix}.json"),
                &["--template", template, "--prefix", prefix],
            );
            let listing = s.list(&["--keyset", &file]);
            assert_eq!(
                listing[0][1..],
                ["ENABLED", template, &prefix.to_ascii_uppercase(), "primary"]
            );
            let ciphertext = s.encrypt(&file, &[], b"payload");
            let overhead = if prefix == "tink" {
                5 + 12 + 16
            } else {
                12 + 16
            };
            assert_eq!(ciphertext.len(), b"payload".len() + overhead);
            assert_eq!(s.decrypt(&file, &[], &ciphertext).ok(), b"payload");
        }
    }
}

#[test]
fn the_other_tink_aead_templates_generate_encrypt_and_decrypt() {
    let s = Scratch::new();
    // Template, type URL suffix, nonce (IV) and tag lengths of Tink's
    // template of that name.
    for (template, type_name, nonce, tag) in [
        ("aes128-ctr-hmac-sha256", "AesCtrHmacAeadKey", 16, 16),
        ("aes256-ctr-hmac-sha256", "AesCtrHmacAeadKey", 16, 32),
        ("aes128-eax", "AesEaxKey", 16, 16),
        ("aes256-eax", "AesEaxKey", 16, 16),
        ("chacha20-poly1305", "ChaCha20Poly1305Key", 12, 16),
        ("xchacha20-poly1305", "XChaCha20Poly1305Key", 24, 16),
    ] {
        for prefix in ["tink", "raw"] {
            let file = s.generate(
                &format!("{template}-{prefix}.json"),
                &["--template", template, "--prefix", prefix],
            );
            let json: serde_json::Value =
                serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
            assert_eq!(
                json["key"][0]["keyData"]["typeUrl"],
                format!("type.googleapis.com/google.crypto.tink.{type_name}")
            );
            let listing = s.list(&["--keyset", &file]);
            assert_eq!(
                listing[0][1..],
                ["ENABLED", template, &prefix.to_ascii_uppercase(), "primary"]
            );
            let ciphertext = s.encrypt(&file, &["--aad-hex", "0a0b"], b"payload");
            let prefix_len = if prefix == "tink" { 5 } else { 0 };
            assert_eq!(
                ciphertext.len(),
                b"payload".len() + prefix_len + nonce + tag,
                "{template}"
            );
            assert_eq!(
                s.decrypt(&file, &["--aad-hex", "0a0b"], &ciphertext).ok(),
                b"payload"
            );
            s.decrypt(&file, &["--aad-hex", "0a0c"], &ciphertext)
                .fails(1);
            // The keyset as key-encryption key of an envelope.
            let sealed = s.encrypt(&file, &["--envelope"], b"enveloped");
            assert_eq!(
                s.decrypt(&file, &["--envelope"], &sealed).ok(),
                b"enveloped"
            );
        }
    }
}

#[test]
fn rotation_keeps_old_ciphertexts_readable() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    let first = primary(&s.list(&["--keyset", &ks]));

    let added = s.run(
        &["add", "--keyset", &ks, "--template", "aes256-gcm-siv"],
        b"",
    );
    let added = added.ok_text().trim().to_owned();
    assert!(added.parse::<u32>().is_ok(), "add printed {added:?}");
    let listing = s.list(&["--keyset", &ks]);
    assert_eq!(listing.len(), 2);
    assert_eq!(primary(&listing), first, "a new key is not primary");
    assert_eq!(
        row(&listing, &added)[1..],
        ["ENABLED", "aes256-gcm-siv", "TINK"]
    );

    let plaintext = b"subject private data \x00\xff";
    let aad = ["--aad-hex", "6576656e74732f37"];
    let envelope_aad = ["--aad-hex", "6576656e74732f37", "--envelope"];
    let old = s.encrypt(&ks, &aad, plaintext);
    let old_envelope = s.encrypt(&ks, &envelope_aad, plaintext);
    assert_eq!(old[1..5], first.parse::<u32>().unwrap().to_be_bytes());

    s.run(&["promote", "--keyset", &ks, "--key-id", &added], b"")
        .ok();
    let listing = s.list(&["--keyset", &ks]);
    assert_eq!(primary(&listing), added);
    assert_eq!(row(&listing, &first)[1], "ENABLED");

    let new = s.encrypt(&ks, &aad, plaintext);
    let new_envelope = s.encrypt(&ks, &envelope_aad, plaintext);
    assert_eq!(new[0], 1);
    assert_eq!(new[1..5], added.parse::<u32>().unwrap().to_be_bytes());
    for (ciphertext, args) in [
        (&old, &aad[..]),
        (&new, &aad[..]),
        (&old_envelope, &envelope_aad[..]),
        (&new_envelope, &envelope_aad[..]),
    ] {
        assert_eq!(s.decrypt(&ks, args, ciphertext).ok(), plaintext);
    }

    // Empty input is a valid plaintext.
    let empty = s.encrypt(&ks, &[], b"");
    assert_eq!(s.decrypt(&ks, &[], &empty).ok(), b"");
}

#[test]
fn a_disabled_key_no_longer_decrypts_until_enabled() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    let old_key = primary(&s.list(&["--keyset", &ks]));
    let ciphertext = s.encrypt(&ks, &[], b"old secret");
    let envelope = s.encrypt(&ks, &["--envelope"], b"old secret");
    let new_key = s.run(&["add", "--keyset", &ks], b"").ok_text();
    let new_key = new_key.trim();
    s.run(&["promote", "--keyset", &ks, "--key-id", new_key], b"")
        .ok();

    s.run(&["disable", "--keyset", &ks, "--key-id", &old_key], b"")
        .ok();
    assert_eq!(row(&s.list(&["--keyset", &ks]), &old_key)[1], "DISABLED");
    // The ciphertext's prefix names the key: the message says what to do.
    let disabled = format!("key {old_key} of this keyset is DISABLED: enable it to decrypt");
    let message = s.decrypt(&ks, &[], &ciphertext).fails(1);
    assert!(message.contains(&disabled), "{message}");
    // ... also of an envelope, whose wrapped data key carries the prefix.
    let message = s.decrypt(&ks, &["--envelope"], &envelope).fails(1);
    assert!(message.contains(&disabled), "{message}");

    s.run(&["enable", "--keyset", &ks, "--key-id", &old_key], b"")
        .ok();
    assert_eq!(s.decrypt(&ks, &[], &ciphertext).ok(), b"old secret");

    s.run(&["destroy", "--keyset", &ks, "--key-id", &old_key], b"")
        .ok();
    assert_eq!(
        row(&s.list(&["--keyset", &ks]), &old_key)[1..3],
        ["DESTROYED", "-"]
    );
    let message = s.decrypt(&ks, &[], &ciphertext).fails(1);
    assert!(
        message.contains(&format!(
            "key {old_key} of this keyset is DESTROYED: its material was erased"
        )),
        "{message}"
    );
    let message = s.decrypt(&ks, &["--envelope"], &envelope).fails(1);
    assert!(message.contains("DESTROYED"), "{message}");
    // A destroyed key cannot come back.
    let before = fs::read(&ks).unwrap();
    s.run(&["enable", "--keyset", &ks, "--key-id", &old_key], b"")
        .fails(2);
    assert_eq!(fs::read(&ks).unwrap(), before);
}

#[test]
fn refused_changes_exit_2_and_leave_the_file_byte_identical() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    let added = s.run(&["add", "--keyset", &ks], b"").ok_text();
    let primary_id = primary(&s.list(&["--keyset", &ks]));
    s.run(&["disable", "--keyset", &ks, "--key-id", added.trim()], b"")
        .ok();
    let before = fs::read(&ks).unwrap();
    let files = s.files();

    let message = s
        .run(&["destroy", "--keyset", &ks, "--key-id", &primary_id], b"")
        .fails(2);
    assert!(message.contains("primary"), "{message}");
    s.run(&["disable", "--keyset", &ks, "--key-id", &primary_id], b"")
        .fails(2);
    let message = s
        .run(&["promote", "--keyset", &ks, "--key-id", "1"], b"")
        .fails(2);
    assert!(message.contains("no key with id 1"), "{message}");
    let message = s
        .run(&["promote", "--keyset", &ks, "--key-id", added.trim()], b"")
        .fails(2);
    assert!(message.contains("ENABLED"), "{message}");

    assert_eq!(fs::read(&ks).unwrap(), before);
    assert_eq!(s.files(), files, "no temporary file is left behind");
}

#[test]
fn a_malformed_keyset_exits_2_with_a_message() {
    let s = Scratch::new();
    let bad = s.path("bad.json");
    fs::write(&bad, b"{\"primaryKeyId\": 1, \"key\": [").unwrap();
    let message = s.run(&["list", "--keyset", &bad], b"").fails(2);
    assert!(message.contains("malformed keyset JSON"), "{message}");
    assert!(message.contains("bad.json"), "{message}");
    s.run(&["add", "--keyset", &bad], b"").fails(2);
    s.encrypt_fails(&bad);
    assert_eq!(fs::read(&bad).unwrap(), b"{\"primaryKeyId\": 1, \"key\": [");

    let empty = s.path("empty.json");
    fs::write(&empty, b"{\"key\": []}").unwrap();
    let message = s.run(&["list", "--keyset", &empty], b"").fails(2);
    assert!(message.contains("holds no key"), "{message}");

    let missing = s.path("missing.json");
    let message = s.run(&["list", "--keyset", &missing], b"").fails(2);
    assert!(message.contains("cannot read keyset"), "{message}");
}

impl Scratch {
    /// `encrypt` with `keyset` exits 2.
    fn encrypt_fails(&self, keyset: &str) {
        self.run(&["encrypt", "--keyset", keyset, "--no-aad"], b"x")
            .fails(2);
    }
}

#[test]
fn wrong_or_missing_aad_fails_authentication() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    for envelope in [false, true] {
        let flag: &[&str] = if envelope { &["--envelope"] } else { &[] };
        let with = |aad: &'static str| -> Vec<&str> {
            let mut args = vec!["--aad-hex", aad];
            args.extend_from_slice(flag);
            args
        };
        let ciphertext = s.encrypt(&ks, &with("00ff"), b"bound");
        assert_eq!(s.decrypt(&ks, &with("00ff"), &ciphertext).ok(), b"bound");
        s.decrypt(&ks, &with("00fe"), &ciphertext).fails(1);
        s.decrypt(&ks, flag, &ciphertext).fails(1);

        let mut tampered = ciphertext.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        s.decrypt(&ks, &with("00ff"), &tampered).fails(1);
    }
    // Too short to be a ciphertext at all: malformed input.
    let message = s.decrypt(&ks, &[], b"short").fails(2);
    assert!(message.contains("too short"), "{message}");
    // A plain encryption without associated data must be asked for: it
    // could pass for an envelope's wrapped data key. Nothing is written.
    let run = s.run(&["encrypt", "--keyset", &ks], b"data");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--no-aad"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let run = s.run(&["encrypt", "--keyset", &ks, "--aad-hex", ""], b"data");
    assert_eq!(
        run.code, 2,
        "an empty --aad-hex is no associated data: {}",
        run.stderr
    );
    let ciphertext = s.encrypt(&ks, &["--no-aad"], b"on purpose");
    assert_eq!(s.decrypt(&ks, &[], &ciphertext).ok(), b"on purpose");
    // Envelopes with data keys of either family open without saying which.
    for dek in [
        "aes256-gcm",
        "aes128-gcm",
        "aes256-gcm-siv",
        "aes128-gcm-siv",
    ] {
        let args = ["--envelope", "--dek-template", dek, "--aad-hex", "0102"];
        let ciphertext = s.encrypt(&ks, &args, b"either family");
        let opened = s.decrypt(&ks, &["--envelope", "--aad-hex", "0102"], &ciphertext);
        assert_eq!(opened.ok(), b"either family", "{dek}");
    }
    let run = s.run(
        &[
            "encrypt",
            "--keyset",
            &ks,
            "--no-aad",
            "--dek-template",
            "aes256-gcm",
        ],
        b"x",
    );
    assert_eq!(
        run.code, 2,
        "--dek-template needs --envelope: {}",
        run.stderr
    );
}

#[test]
fn an_encrypted_keyset_is_read_and_written_back_encrypted() {
    let s = Scratch::new();
    let master_path = s.generate("master.json", &[]);
    let master = Keyset::parse(&fs::read(&master_path).unwrap()).unwrap();
    let master_aead = master.aead().unwrap();
    let aad = b"keyset:payments";
    let aad_hex = hex::encode(aad);
    let inner = Keyset::generate(Template::AES256_GCM_SIV);
    let inner_material = key_material(&inner.insecure_to_json());
    let ks = s.path("keyset.enc.json");
    fs::write(&ks, inner.to_encrypted_json(&master_aead, aad).unwrap()).unwrap();
    let with_master = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(
            [
                "--keyset",
                &ks,
                "--master-keyset",
                &master_path,
                "--master-aad-hex",
                &aad_hex,
            ]
            .map(str::to_owned),
        );
        all
    };
    let run = |args: &[&str], stdin: &[u8]| {
        let args = with_master(args);
        s.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), stdin)
    };

    let listing = run(&["list"], b"").ok_text();
    assert!(
        listing.contains(&inner.primary_id().to_string()),
        "{listing}"
    );

    let added = run(&["add", "--template", "aes128-gcm"], b"").ok_text();
    let added = added.trim().to_owned();
    run(&["promote", "--key-id", &added], b"").ok();
    let listing = run(&["list"], b"").ok_text();
    assert_eq!(listing.lines().count(), 2);

    // Still an encrypted keyset on disk: no cleartext keys, no material.
    let on_disk = fs::read_to_string(&ks).unwrap();
    let json: serde_json::Value = serde_json::from_str(&on_disk).unwrap();
    assert!(json.get("encryptedKeyset").is_some(), "{on_disk}");
    assert!(json.get("key").is_none(), "{on_disk}");
    assert!(!on_disk.contains("\"value\""), "{on_disk}");
    for secret in &inner_material {
        assert!(!on_disk.contains(secret.as_str()));
    }
    assert_eq!(json["keysetInfo"]["keyInfo"].as_array().unwrap().len(), 2);
    // ... encrypted by the same master with the same associated data.
    let reread = Keyset::parse_encrypted(on_disk.as_bytes(), &master_aead, aad).unwrap();
    assert_eq!(reread.primary_id().to_string(), added);
    assert!(Keyset::parse_encrypted(on_disk.as_bytes(), &master_aead, b"").is_err());

    let ciphertext = run(&["encrypt", "--aad-hex", "01"], b"via master").ok();
    assert_eq!(
        reread.aead().unwrap().decrypt(&ciphertext, &[1]).unwrap(),
        b"via master"
    );
    assert_eq!(
        run(&["decrypt", "--aad-hex", "01"], &ciphertext).ok(),
        b"via master"
    );
    let sealed = run(&["encrypt", "--envelope"], b"enveloped").ok();
    assert_eq!(run(&["decrypt", "--envelope"], &sealed).ok(), b"enveloped");

    // Without the master, or with the wrong associated data: refused, unchanged.
    let message = s.run(&["list", "--keyset", &ks], b"").fails(2);
    assert!(message.contains("encrypted keyset"), "{message}");
    assert!(message.contains("--master-keyset"), "{message}");
    // ... and the reverse mistake.
    let message = s
        .run(
            &[
                "list",
                "--keyset",
                &master_path,
                "--master-keyset",
                &master_path,
            ],
            b"",
        )
        .fails(2);
    assert!(message.contains("drop --master-keyset"), "{message}");
    s.run(&["add", "--keyset", &ks], b"").fails(2);
    let message = s
        .run(
            &[
                "add",
                "--keyset",
                &ks,
                "--master-keyset",
                &master_path,
                "--master-aad-hex",
                "00",
            ],
            b"",
        )
        .fails(1);
    assert!(message.contains("decryption failed"), "{message}");
    assert!(
        message.contains("the master keyset does not decrypt this keyset"),
        "{message}"
    );
    // Another master: the prefix of the encrypted keyset names a key it
    // does not hold.
    let other_master = s.generate("other-master.json", &[]);
    let message = s
        .run(
            &["list", "--keyset", &ks, "--master-keyset", &other_master],
            b"",
        )
        .fails(1);
    assert!(
        message.contains(&format!(
            "key {} is not in this keyset",
            master.primary_id()
        )),
        "{message}"
    );
    assert!(
        message.contains("the master keyset does not decrypt this keyset"),
        "{message}"
    );
    assert_eq!(fs::read_to_string(&ks).unwrap(), on_disk);
}

#[test]
fn a_ciphertext_of_a_key_not_rolled_out_exits_1_and_names_the_key() {
    let s = Scratch::new();
    let old = s.generate("old.json", &[]);
    let new = s.path("new.json");
    fs::copy(&old, &new).unwrap();
    let added = s.run(&["add", "--keyset", &new], b"").ok_text();
    let added = added.trim();
    s.run(&["promote", "--keyset", &new, "--key-id", added], b"")
        .ok();
    let not_rolled_out =
        format!("key {added} is not in this keyset: roll out the new keyset first");
    for flag in [&[][..], &["--envelope"][..]] {
        let ciphertext = s.encrypt(&new, flag, b"made by the new keyset");
        let message = s.decrypt(&old, flag, &ciphertext).fails(1);
        assert!(message.contains(&not_rolled_out), "{flag:?}: {message}");
        assert_eq!(
            s.decrypt(&new, flag, &ciphertext).ok(),
            b"made by the new keyset"
        );
    }
    // A RAW key in the keyset: a prefix may be a RAW ciphertext's nonce,
    // so the refusal stays opaque (still exit 1).
    let raw = s.generate("raw.json", &["--prefix", "raw"]);
    let ciphertext = s.encrypt(&new, &[], b"x");
    let message = s.decrypt(&raw, &[], &ciphertext).fails(1);
    assert!(message.contains("decryption failed"), "{message}");
}

/// The secrets of a cleartext JSON keyset, in the forms a leak could take:
/// base64 of `keyData.value`, and base64 and hex of the raw AES key in it.
fn key_material(json: &str) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut secrets = Vec::new();
    for key in json["key"].as_array().unwrap() {
        let Some(value) = key["keyData"]["value"].as_str() else {
            continue;
        };
        let proto = base64::engine::general_purpose::STANDARD
            .decode(value)
            .unwrap();
        // AesGcmKey / AesGcmSivKey: field 3 (0x1a), length, key bytes.
        assert_eq!(proto[0], 0x1a);
        let key_value = &proto[2..2 + usize::from(proto[1])];
        secrets.push(value.to_owned());
        secrets.push(base64::engine::general_purpose::STANDARD.encode(key_value));
        secrets.push(hex::encode(key_value));
        secrets.push(hex::encode_upper(key_value));
        secrets.push(hex::encode(&proto));
    }
    assert!(!secrets.is_empty());
    secrets
}

#[test]
fn list_never_shows_key_material() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    for template in ["aes128-gcm-siv", "aes256-gcm", "aes128-gcm"] {
        s.run(
            &[
                "add",
                "--keyset",
                &ks,
                "--template",
                template,
                "--prefix",
                "raw",
            ],
            b"",
        )
        .ok();
    }
    let json = fs::read_to_string(&ks).unwrap();
    let secrets = key_material(&json);
    assert_eq!(secrets.len(), 4 * 5);
    let listing = s.run(&["list", "--keyset", &ks], b"").ok();
    let text = String::from_utf8(listing.clone()).unwrap();
    assert_eq!(text.lines().count(), 4);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "list leaks {secret}");
    }
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in json["key"].as_array().unwrap() {
        let proto = base64::engine::general_purpose::STANDARD
            .decode(key["keyData"]["value"].as_str().unwrap())
            .unwrap();
        let raw = &proto[2..];
        assert!(!listing.windows(raw.len()).any(|w| w == raw));
    }
}

#[test]
fn usage_errors_exit_2() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    for args in [
        &[][..],
        &["frobnicate"],
        &["generate", "--template", "des"],
        &["generate", "--prefix", "legacy"],
        &[
            "encrypt",
            "--keyset",
            &ks,
            "--envelope",
            "--dek-template",
            "aes128-eax",
        ],
        &["promote", "--keyset", &ks],
        &["promote", "--keyset", &ks, "--key-id", "-1"],
        &["promote", "--keyset", &ks, "--key-id", "abc"],
        &["list"],
        &["add", "--keyset", &ks, "--key-id", "1"],
        &["encrypt", "--keyset", &ks, "--aad-hex", "abc"],
        &["encrypt", "--keyset", &ks, "--aad-hex", "zz"],
        &["encrypt", "--keyset", &ks, "--aad-hex", "00", "--no-aad"],
        &["list", "--keyset", &ks, "--master-aad-hex", "00"],
    ] {
        let run = s.run(args, b"");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    assert_eq!(s.run(&["--help"], b"").code, 0);
}

#[cfg(unix)]
#[test]
fn a_rewrite_keeps_the_permissions_and_leaves_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    for mode in [0o600, 0o640] {
        fs::set_permissions(&ks, fs::Permissions::from_mode(mode)).unwrap();
        s.run(&["add", "--keyset", &ks], b"").ok();
        let kept = fs::metadata(&ks).unwrap().permissions().mode() & 0o777;
        assert_eq!(kept, mode);
    }
    assert_eq!(s.files(), ["keyset.json"]);

    // A symbolic link stays a link; its target is replaced.
    let link = s.path("link.json");
    std::os::unix::fs::symlink(&ks, &link).unwrap();
    s.run(&["add", "--keyset", &link], b"").ok();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(s.list(&["--keyset", &ks]).len(), 4);
}

#[test]
fn a_binary_keyset_is_written_back_binary() {
    let s = Scratch::new();
    let keyset = Keyset::generate(Template::AES256_GCM);
    let ks = s.path("keyset.bin");
    fs::write(&ks, keyset.insecure_to_binary()).unwrap();
    let added = s.run(&["add", "--keyset", &ks], b"").ok_text();
    let bytes = fs::read(&ks).unwrap();
    assert_ne!(bytes.first(), Some(&b'{'));
    let reread = Keyset::from_binary(&bytes).unwrap();
    assert_eq!(reread.list().len(), 2);
    assert!(reread
        .list()
        .iter()
        .any(|k| k.id.to_string() == added.trim()));
    let ciphertext = s.encrypt(&ks, &[], b"binary");
    assert_eq!(
        reread.aead().unwrap().decrypt(&ciphertext, b"").unwrap(),
        b"binary"
    );
}

/// Standard input larger than the tool's first buffer (64 KiB), which it
/// grows by hand to wipe every old copy, arrives whole: a plaintext of
/// 300,001 bytes and its envelope round-trip byte for byte.
#[test]
fn large_standard_input_round_trips() {
    let s = Scratch::new();
    let ks = s.generate("keyset.json", &[]);
    let plaintext: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    for extra in [&["--no-aad"][..], &["--envelope"][..]] {
        let sealed = s.encrypt(&ks, extra, &plaintext);
        let decrypt_extra: &[&str] = if extra == ["--envelope"] {
            &["--envelope"]
        } else {
            &[]
        };
        assert_eq!(s.decrypt(&ks, decrypt_extra, &sealed).ok(), plaintext);
    }
}
