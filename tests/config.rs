//! Configuration without surprises: `EventStore::from_env` and the builder
//! with empty, missing, malformed and contradictory settings, and the
//! quickstart given empty variables. One test per binary touches the
//! process environment, so the cases run one after the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use stream_store::{ErrorKind, EventStore, Keyset, SealSecret, Template};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const VARIABLES: [&str; 6] = [
    "KEYSET",
    "EVENT_SEAL_SECRET",
    "EVENT_SEAL_SECRET_RETIRED",
    "EVENT_SEAL_SECRET_NEXT",
    "MONGODB_URI",
    "STREAM_IN_MEMORY",
];

/// Sets exactly these variables (the others of [`VARIABLES`] unset).
fn set_env(vars: &[(&str, &str)]) {
    for name in VARIABLES {
        // This binary has a single test: no other thread reads the
        // environment meanwhile.
        std::env::remove_var(name);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

async fn from_env_error(vars: &[(&str, &str)]) -> stream_store::Error {
    set_env(vars);
    EventStore::from_env().await.expect_err("refused")
}

#[tokio::test]
async fn configuration_is_explicit_and_errors_name_the_variable() {
    let keyset = Keyset::generate(Template::AES256_GCM_SIV).insecure_to_json();

    // Empty variables are unset: no URI and no in-memory request is an
    // error, not a silent in-memory store.
    let e = from_env_error(&[
        ("EVENT_SEAL_SECRET", SECRET),
        ("MONGODB_URI", ""),
        ("KEYSET", ""),
    ])
    .await;
    assert_eq!(
        (e.kind(), e.variable()),
        (ErrorKind::Configuration, Some("MONGODB_URI"))
    );
    assert!(e.to_string().contains("STREAM_IN_MEMORY=1"), "{e}");

    // Asked for: in memory, with the keyset.
    set_env(&[
        ("EVENT_SEAL_SECRET", SECRET),
        ("STREAM_IN_MEMORY", "1"),
        ("KEYSET", &keyset),
        ("EVENT_SEAL_SECRET_RETIRED", " "),
    ]);
    let store = EventStore::from_env().await.unwrap();
    assert!(!store.is_mongodb());
    assert!(store.chainer().envelope().is_some());

    // Contradictory: a URI and the in-memory option.
    let e = from_env_error(&[
        ("EVENT_SEAL_SECRET", SECRET),
        ("STREAM_IN_MEMORY", "1"),
        ("MONGODB_URI", "mongodb://127.0.0.1:9/"),
    ])
    .await;
    assert_eq!(e.variable(), Some("STREAM_IN_MEMORY"), "{e}");
    let e = from_env_error(&[("EVENT_SEAL_SECRET", SECRET), ("STREAM_IN_MEMORY", "yes")]).await;
    assert_eq!(e.variable(), Some("STREAM_IN_MEMORY"), "{e}");

    // A missing or empty seal secret; one too short.
    for value in [None, Some(""), Some("short")] {
        let mut vars = vec![("STREAM_IN_MEMORY", "1")];
        if let Some(v) = value {
            vars.push(("EVENT_SEAL_SECRET", v));
        }
        let e = from_env_error(&vars).await;
        assert_eq!(
            (e.kind(), e.variable()),
            (ErrorKind::Configuration, Some("EVENT_SEAL_SECRET")),
            "{e}"
        );
        assert!(
            !e.to_string().contains("short"),
            "no secret in messages: {e}"
        );
    }

    // A keyset that is text but not JSON: the JSON parser's error.
    let e = from_env_error(&[
        ("EVENT_SEAL_SECRET", SECRET),
        ("STREAM_IN_MEMORY", "1"),
        ("KEYSET", "notjson"),
    ])
    .await;
    assert_eq!(e.variable(), Some("KEYSET"), "{e}");
    assert!(e.to_string().contains("JSON"), "{e}");
    assert!(!e.to_string().contains("protobuf"), "{e}");

    // A retired secret equal to the current one.
    let e = from_env_error(&[
        ("EVENT_SEAL_SECRET", SECRET),
        ("STREAM_IN_MEMORY", "1"),
        (
            "EVENT_SEAL_SECRET_RETIRED",
            &format!("another-secret-of-32-characters!,{SECRET}"),
        ),
    ])
    .await;
    assert_eq!(e.variable(), Some("EVENT_SEAL_SECRET_RETIRED"), "{e}");
    let e = from_env_error(&[
        ("EVENT_SEAL_SECRET", SECRET),
        ("STREAM_IN_MEMORY", "1"),
        ("EVENT_SEAL_SECRET_RETIRED", "x"),
    ])
    .await;
    assert_eq!(e.variable(), Some("EVENT_SEAL_SECRET_RETIRED"), "{e}");
    set_env(&[]);

    // The builder: nothing chosen, several backends, no secret.
    let secret = || SealSecret::from_env_value(SECRET).unwrap();
    let e = EventStore::builder()
        .seal_secret(secret())
        .build()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
    let e = EventStore::builder()
        .seal_secret(secret())
        .in_memory()
        .mongodb_uri("mongodb://127.0.0.1:9/")
        .build()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("several backends"), "{e}");
    let e = EventStore::builder().in_memory().build().await.unwrap_err();
    assert_eq!(e.variable(), Some("EVENT_SEAL_SECRET"), "{e}");
    let e = EventStore::builder()
        .seal_secret(secret())
        .retired_seal_secrets([secret()])
        .in_memory()
        .build()
        .await
        .unwrap_err();
    assert_eq!(e.variable(), Some("EVENT_SEAL_SECRET_RETIRED"), "{e}");

    the_quickstart_treats_empty_variables_as_unset();
}

/// The quickstart given empty `KEYSET` and `MONGODB_URI` (as containers
/// pass unset values) generates its keyset and runs in memory, as when
/// they are unset.
fn the_quickstart_treats_empty_variables_as_unset() {
    let tools = common::build_examples(&["quickstart"]);
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(tools.join("quickstart"))
        .args(["--events", "20"])
        .current_dir(dir.path())
        .env("KEYSET", "")
        .env("MONGODB_URI", "")
        .env("EVENT_SEAL_SECRET", "")
        .env("EVENT_SEAL_SECRET_RETIRED", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("KEYSET not set: generated one"), "{text}");
    assert!(text.contains("running in memory"), "{text}");
    assert!(text.contains("verified 20 events"), "{text}");
}
