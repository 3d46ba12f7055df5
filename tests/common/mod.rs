//! The harness of the MongoDB integration tests: finds a server, gives each
//! test its own database.
//!
//! 1. `MONGODB_URI` if set (a real MongoDB, a replica set, or the FerretDB
//!    that `scripts/test.sh` starts);
//! 2. otherwise a MongoDB container through testcontainers when a Docker
//!    engine answers;
//! 3. otherwise the test is skipped with a loud message — unless
//!    `STREAM_REQUIRE_MONGO=1`, when it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod toxiproxy;

use std::sync::atomic::{AtomicU32, Ordering};

use stream_store::chain::{Chainer, SealSecret, SealSecrets};
use stream_store::keyset::{Algorithm, Keyset, Template};
use stream_store::mongo::mongodb::{Client, Database};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::ContainerAsync;

static CONTAINER: tokio::sync::OnceCell<
    Option<(ContainerAsync<testcontainers_modules::mongo::Mongo>, String)>,
> = tokio::sync::OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test; `drop` it at the end.
pub struct TestDb {
    pub client: Client,
    pub db: Database,
    pub uri: String,
}

impl TestDb {
    pub async fn drop(self) {
        self.db.drop().await.expect("drop the test database");
    }

    /// The server's URI naming this test's database (options kept).
    pub fn uri_for_database(&self) -> String {
        let (base, query) = match self.uri.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.uri.as_str(), None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let hosts_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut uri = format!("{}/{}", &base[..hosts_end], self.db.name());
        if let Some(q) = query {
            uri.push('?');
            uri.push_str(q);
        }
        uri
    }

    /// Another client to the same database (as another pod would have).
    pub async fn other_client(&self) -> (Client, Database) {
        let client = Client::with_uri_str(&self.uri)
            .await
            .expect("second client");
        let db = client.database(self.db.name());
        (client, db)
    }
}

fn docker_available() -> bool {
    std::env::var_os("DOCKER_HOST").is_some()
        || std::path::Path::new("/var/run/docker.sock").exists()
}

async fn server_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("MONGODB_URI") {
        if !uri.is_empty() {
            return Some(uri);
        }
    }
    if docker_available() {
        let started = CONTAINER
            .get_or_init(|| async {
                match testcontainers_modules::mongo::Mongo::default()
                    .start()
                    .await
                {
                    Ok(container) => {
                        let port = container.get_host_port_ipv4(27017).await.ok()?;
                        Some((container, format!("mongodb://127.0.0.1:{port}/")))
                    }
                    Err(e) => {
                        eprintln!("testcontainers: could not start MongoDB: {e}");
                        None
                    }
                }
            })
            .await;
        if let Some((_, uri)) = started {
            return Some(uri.clone());
        }
    }
    None
}

/// A fresh database for `test`, or `None` (after a loud message) when no
/// server exists and none is required.
pub async fn test_db(test: &str) -> Option<TestDb> {
    let Some(uri) = server_uri().await else {
        if std::env::var("STREAM_REQUIRE_MONGO").as_deref() == Ok("1") {
            panic!("STREAM_REQUIRE_MONGO=1 but no MongoDB: set MONGODB_URI or run scripts/test.sh");
        }
        eprintln!("\n*** SKIPPED {test}: no MongoDB (set MONGODB_URI, start Docker, or run scripts/test.sh) ***\n");
        return None;
    };
    let client = Client::with_uri_str(&uri)
        .await
        .expect("connect to MONGODB_URI");
    let name = format!(
        "t_{}_{}_{}",
        test.chars().take(30).collect::<String>(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let db = client.database(&name);
    let _ = db.drop().await;
    Some(TestDb { client, db, uri })
}

pub fn secrets() -> SealSecrets {
    SealSecrets::new(SealSecret::from_env_value("integration-test-seal-secret-32c").unwrap())
}

pub fn keyset() -> Keyset {
    Keyset::generate(Template::AES256_GCM_SIV)
}

pub fn chainer_with(keyset: &Keyset) -> Chainer {
    Chainer::new(
        secrets(),
        Some(keyset.envelope(Algorithm::Aes256GcmSiv).unwrap()),
    )
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Builds the examples `names` with the profile of the running test (a
/// plain `cargo test` builds examples first, a run restricted to one test
/// file does not) and returns `target/<profile>/examples`.
pub fn build_examples(names: &[&str]) -> std::path::PathBuf {
    use std::path::Path;
    let exe = std::env::current_exe().expect("path of the test binary");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("unexpected test binary path {}", exe.display()),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = std::process::Command::new(cargo);
    // What cargo sets for running this test, not for building: build
    // scripts watching such a variable (ring's `CARGO_MANIFEST_DIR`)
    // would otherwise see it change, and rebuild half the tree.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&name.as_ref())
        {
            build.env_remove(name.as_ref());
        }
    }
    // The examples belong to the root package `stream-store` (quickstart,
    // pods) and to `stream-tools` (verify_chain, keyset: examples/Cargo.toml),
    // these tests to `stream-store-tests` (tests/Cargo.toml): `--workspace` finds them
    // from here, with the features that `cargo test --workspace` resolved
    // (no second build of the dependencies).
    build.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--quiet",
        "--workspace",
        "--profile",
        profile,
    ]);
    for name in names {
        build.args(["--example", name]);
    }
    let output = build.output().expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build of the examples {names:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = profile_dir.join("examples");
    for name in names {
        let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        assert!(
            path.is_file(),
            "{} is missing after the build",
            path.display()
        );
    }
    dir
}

/// The script that restarts the test server (`STREAM_MONGO_SCRIPT`, set by
/// `scripts/test.sh`), or `None` (skip, loudly) when the server is not ours
/// to restart; required when the suite must run and started the server.
pub fn restart_script() -> Option<std::ffi::OsString> {
    if let Some(script) = std::env::var_os("STREAM_MONGO_SCRIPT") {
        return Some(script);
    }
    if std::env::var("STREAM_REQUIRE_MONGO").as_deref() == Ok("1")
        && std::env::var_os("MONGODB_URI").is_none()
    {
        panic!("STREAM_MONGO_SCRIPT is required to restart the server");
    }
    eprintln!(
        "\n*** SKIPPED restart test: no controllable server (STREAM_MONGO_SCRIPT unset) ***\n"
    );
    None
}

/// The time `ms` milliseconds after the epoch.
#[allow(dead_code)]
pub fn at(ms: i64) -> std::time::SystemTime {
    stream_store::Timestamp::from_millis(ms).to_system_time()
}

/// An in-memory store.
#[allow(dead_code)]
pub fn memory_store(keyset: Option<Keyset>, secrets: SealSecrets) -> stream_store::EventStore {
    let builder = stream_store::EventStore::builder()
        .seal_secrets(secrets)
        .in_memory();
    let builder = match keyset {
        Some(k) => builder.keyset(k),
        None => builder,
    };
    futures_util::FutureExt::now_or_never(builder.build())
        .expect("an in-memory store is built without waiting")
        .expect("an in-memory store")
}

/// A MongoDB store.
#[allow(dead_code)]
pub async fn mongo_store(
    uri: &str,
    keyset: Option<Keyset>,
    secrets: SealSecrets,
    config: stream_store::LogConfig,
) -> stream_store::Result<stream_store::EventStore> {
    let builder = stream_store::EventStore::builder()
        .seal_secrets(secrets)
        .mongodb_uri(uri)
        .log_config(config);
    match keyset {
        Some(k) => builder.keyset(k),
        None => builder,
    }
    .build()
    .await
}

/// The `stream_store::mongo::Error` behind a store error, if that is its
/// source.
#[allow(dead_code)]
pub fn mongo_error(e: &stream_store::Error) -> Option<&stream_store::mongo::Error> {
    std::error::Error::source(e)?.downcast_ref()
}
