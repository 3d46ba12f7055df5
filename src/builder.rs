//! How an [`EventStore`] is made: a builder with every option explicit,
//! and `from_env`, a thin layer over it reading Stream's variables.

use stream_chain::{SealSecret, SealSecrets};
use stream_keyset::Keyset;
use stream_mongo::mongodb::Client;
use stream_mongo::LogConfig;

use crate::error::{Error, Result};
use crate::store::{EventStore, Setup};

/// The variable that asks [`EventStore::from_env`] for an in-memory store
/// when `MONGODB_URI` is not set (`1` or `true`).
pub const IN_MEMORY_VARIABLE: &str = "STREAM_IN_MEMORY";

enum Target {
    Memory,
    Uri(String),
    Client { client: Client, database: String },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Memory => "in_memory",
            Target::Uri(_) => "mongodb_uri",
            Target::Client { .. } => "mongodb_client",
        }
    }
}

/// Builds an [`EventStore`]: a seal secret and exactly one backend
/// (MongoDB by URI or by an existing client, or in memory) are required;
/// nothing falls back silently.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use stream_store::{EventStore, chain::SealSecret, keyset::{Keyset, Template}};
///
/// let store = EventStore::builder()
///     .keyset(Keyset::generate(Template::AES256_GCM_SIV))
///     .seal_secret(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?)
///     .in_memory()
///     .build()
///     .await?;
/// assert!(!store.is_mongodb());
/// # Ok::<(), stream_store::Error>(()) }).unwrap();
/// ```
#[must_use = "a builder does nothing until `build` is awaited"]
#[derive(Default)]
pub struct EventStoreBuilder {
    keyset: Option<Keyset>,
    secrets: Option<SealSecrets>,
    current: Option<SealSecret>,
    retired: Vec<SealSecret>,
    next: Vec<SealSecret>,
    targets: Vec<Target>,
    config: LogConfig,
    node: Option<String>,
    dek: Option<stream_keyset::Algorithm>,
    document_database: Option<String>,
}

impl std::fmt::Debug for EventStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStoreBuilder")
            .field("keyset", &self.keyset.as_ref().map(Keyset::primary_id))
            .field(
                "backends",
                &self.targets.iter().map(Target::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl EventStoreBuilder {
    /// The keyset that wraps the data keys of sensitive details (without
    /// one, drafts with sensitive details are refused).
    pub fn keyset(mut self, keyset: Keyset) -> Self {
        self.keyset = Some(keyset);
        self
    }

    /// The current seal secret (`EVENT_SEAL_SECRET`).
    pub fn seal_secret(mut self, secret: SealSecret) -> Self {
        self.current = Some(secret);
        self
    }

    /// Retired seal secrets, **newest first** (`EVENT_SEAL_SECRET_RETIRED`):
    /// they verify what they sealed, never seal again.
    pub fn retired_seal_secrets(mut self, secrets: impl IntoIterator<Item = SealSecret>) -> Self {
        self.retired.extend(secrets);
        self
    }

    /// Successors staged ahead of a rotation (`EVENT_SEAL_SECRET_NEXT`).
    pub fn next_seal_secrets(mut self, secrets: impl IntoIterator<Item = SealSecret>) -> Self {
        self.next.extend(secrets);
        self
    }

    /// A whole set of seal secrets (current, retired, staged), instead of
    /// [`seal_secret`](Self::seal_secret) and the lists.
    pub fn seal_secrets(mut self, secrets: SealSecrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Events in the MongoDB of this connection string (database from the
    /// URI, else `stream`); the store opens its own client.
    pub fn mongodb_uri(mut self, uri: impl Into<String>) -> Self {
        self.targets.push(Target::Uri(uri.into()));
        self
    }

    /// Events in `database` through an existing client (one connection pool
    /// for the server and the store).
    pub fn mongodb_client(mut self, client: Client, database: impl Into<String>) -> Self {
        self.targets.push(Target::Client {
            client,
            database: database.into(),
        });
        self
    }

    /// Events in memory: lost when the process ends (tests, embedded use).
    pub fn in_memory(mut self) -> Self {
        self.targets.push(Target::Memory);
        self
    }

    /// The event log's configuration (collections, deadlines, turns).
    pub fn log_config(mut self, config: LogConfig) -> Self {
        self.config = config;
        self
    }

    /// The family of the data keys that encrypt new sensitive details
    /// (default AES-256-GCM-SIV). Stored details of either family are read
    /// whatever this says.
    pub fn data_key_algorithm(mut self, dek: stream_keyset::Algorithm) -> Self {
        self.dek = Some(dek);
        self
    }

    /// The node (pod) name this store writes its own records from (shred
    /// and rotation records); default: env `HOSTNAME`, else
    /// `stream-store`.
    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// The database name that sealed document fields ([`Documents`]) are
    /// bound to, in place of the database's own name: for a database
    /// restored under another name, give the name it had when its fields
    /// were written, or they do not decrypt (`docs/FORMAT.md` §11). Fields
    /// written afterwards are bound to this name too.
    ///
    /// [`Documents`]: crate::Documents
    pub fn document_database(mut self, name: impl Into<String>) -> Self {
        self.document_database = Some(name.into());
        self
    }

    fn secrets(&mut self) -> Result<SealSecrets> {
        let mut secrets =
            match (self.secrets.take(), self.current.take()) {
                (Some(_), Some(_)) => {
                    return Err(Error::configuration(
                        "seal_secret",
                        "both a set of seal secrets and a current secret were given: give one",
                    ))
                }
                (Some(set), None) => set,
                (None, Some(current)) => SealSecrets::new(current),
                (None, None) => return Err(Error::configuration(
                    "EVENT_SEAL_SECRET",
                    "no seal secret was given; it must hold the seal secret (at least 16 bytes)",
                )),
            };
        let current = secrets.current().id();
        for (n, secret) in self.retired.drain(..).enumerate() {
            if secret.id() == current {
                return Err(Error::configuration(
                    "EVENT_SEAL_SECRET_RETIRED",
                    format!(
                        "retired secret #{} is the current secret (id {current}); remove it from the retired list",
                        n + 1
                    ),
                ));
            }
            secrets.add_retired(secret);
        }
        for (n, secret) in self.next.drain(..).enumerate() {
            if secrets.get(secret.id()).is_some() {
                return Err(Error::configuration(
                    "EVENT_SEAL_SECRET_NEXT",
                    format!(
                        "staged secret #{} (id {}) is already current or retired; stage only a new secret",
                        n + 1,
                        secret.id()
                    ),
                ));
            }
            secrets.add_next(secret);
        }
        Ok(secrets)
    }

    /// Builds the store: connects and creates indexes on MongoDB, and logs
    /// at `info` which backend and which key and secret ids it uses (never
    /// material).
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) when
    /// no seal secret or no backend is given, or several backends, or a
    /// retired secret equals the current one;
    /// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable) when
    /// MongoDB does not answer within the server-selection timeout.
    pub async fn build(mut self) -> Result<EventStore> {
        let secrets = self.secrets()?;
        let target = match self.targets.len() {
            0 => {
                return Err(Error::configuration(
                    "MONGODB_URI",
                    format!("no backend was chosen: give a MongoDB URI or client, or ask for an in-memory store (in_memory(), or {IN_MEMORY_VARIABLE}=1), which is lost on restart"),
                ))
            }
            1 => self.targets.remove(0),
            _ => {
                let names: Vec<&str> = self.targets.iter().map(Target::name).collect();
                return Err(Error::configuration(
                    "MONGODB_URI",
                    format!(
                        "several backends were given ({}): give exactly one",
                        names.join(", ")
                    ),
                ));
            }
        };
        let node = self.node.unwrap_or_else(default_node);
        let dek = self.dek.unwrap_or(stream_keyset::Algorithm::Aes256GcmSiv);
        let keyset = self.keyset;
        let key_ids: Vec<u32> = keyset
            .as_ref()
            .map(|k| k.list().iter().map(|i| i.id.0).collect())
            .unwrap_or_default();
        let primary = keyset.as_ref().map(|k| k.primary_id().0);
        let secret_ids: Vec<String> = secrets.ids().iter().map(ToString::to_string).collect();
        // The MongoDB database to use, if any, and how it is named in the log.
        let mongo = match target {
            Target::Memory => None,
            Target::Uri(uri) => {
                let (client, database) =
                    stream_mongo::connect_with(&uri, self.config.server_selection_timeout).await?;
                let name = format!("mongodb (database {})", database.name());
                Some((client, database, name))
            }
            Target::Client { client, database } => {
                let database = client.database(&database);
                let name = format!(
                    "mongodb (database {}, the caller's client)",
                    database.name()
                );
                Some((client, database, name))
            }
        };
        let setup = Setup {
            keyset,
            secrets,
            dek,
            node,
            document_database: self.document_database,
        };
        let (store, backend) = match mongo {
            None => (EventStore::memory_store(setup)?, "memory".to_owned()),
            Some((client, database, name)) => {
                let store = EventStore::mongo_store(client, database, setup, self.config).await?;
                (store, name)
            }
        };
        tracing::info!(
            backend = %backend,
            keyset_keys = ?key_ids,
            keyset_primary = ?primary,
            seal_secret_ids = ?secret_ids,
            "event store ready"
        );
        Ok(store)
    }
}

fn default_node() -> String {
    env_value("HOSTNAME").unwrap_or_else(|| "stream-store".to_owned())
}

/// The value of an environment variable; empty or blank counts as unset
/// (containers often pass unset values as empty strings).
pub fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl EventStore {
    /// A builder (see [`EventStoreBuilder`]).
    pub fn builder() -> EventStoreBuilder {
        EventStoreBuilder::default()
    }

    /// A store configured as Stream's chart does, over
    /// [`EventStore::builder`]. An empty variable counts as unset.
    ///
    /// | variable | |
    /// |---|---|
    /// | `EVENT_SEAL_SECRET` | required: the seal secret |
    /// | `EVENT_SEAL_SECRET_RETIRED` | optional: the secrets that sealed before, newest first, separated by newlines or commas |
    /// | `EVENT_SEAL_SECRET_NEXT` | optional: the successor being rolled out |
    /// | `KEYSET` | optional: Tink JSON keyset; without it sensitive details are refused |
    /// | `MONGODB_URI` | the MongoDB to use; required unless `STREAM_IN_MEMORY=1` |
    /// | `STREAM_IN_MEMORY` | `1`: an in-memory store (lost on restart) when `MONGODB_URI` is unset |
    /// | `HOSTNAME` | the node name of the store's own records |
    ///
    /// # Errors
    /// A configuration error naming the variable that is missing,
    /// malformed or contradicts another.
    pub async fn from_env() -> Result<EventStore> {
        let mut builder = EventStore::builder();
        if let Some(json) = env_value("KEYSET") {
            let keyset = Keyset::parse(json.as_bytes())
                .map_err(|e| Error::from(e).with_variable("KEYSET"))?;
            builder = builder.keyset(keyset);
        }
        let secret = env_value("EVENT_SEAL_SECRET").ok_or_else(|| {
            Error::configuration(
                "EVENT_SEAL_SECRET",
                "not set; it must hold the seal secret (at least 16 bytes)",
            )
        })?;
        let secret = SealSecret::from_env_value(&secret)
            .map_err(|e| Error::from(e).with_variable("EVENT_SEAL_SECRET"))?;
        let mut secrets = SealSecrets::new(secret);
        if let Some(list) = env_value("EVENT_SEAL_SECRET_RETIRED") {
            secrets = secrets.with_retired_list(&list)?;
        }
        if let Some(list) = env_value("EVENT_SEAL_SECRET_NEXT") {
            secrets = secrets.with_next_list(&list)?;
        }
        builder = builder.seal_secrets(secrets);
        let in_memory = match env_value(IN_MEMORY_VARIABLE).as_deref().map(str::trim) {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(Error::configuration(
                    IN_MEMORY_VARIABLE,
                    format!("`{other}` is neither 1 nor 0 (true or false)"),
                ))
            }
        };
        match (env_value("MONGODB_URI"), in_memory) {
            (Some(_), true) => {
                return Err(Error::configuration(
                    IN_MEMORY_VARIABLE,
                    "set together with MONGODB_URI: unset one of them",
                ))
            }
            (Some(uri), false) => builder = builder.mongodb_uri(uri),
            (None, true) => builder = builder.in_memory(),
            (None, false) => {
                return Err(Error::configuration(
                    "MONGODB_URI",
                    format!("not set; set it, or set {IN_MEMORY_VARIABLE}=1 for an in-memory store, which is lost on restart"),
                ))
            }
        }
        builder.build().await
    }
}
