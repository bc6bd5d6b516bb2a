//! Configuration: one flat map of librdkafka / Java client property names, with one set of
//! defaults, validated as it is filled, plus typed views for the producer, consumer and admin.
//!
//! Where librdkafka and the Java client spell a property differently, both spellings are
//! accepted and stored under one canonical key (`linger.ms` = `queue.buffering.max.ms`,
//! `acks` = `request.required.acks`, ...). An unknown key or a bad value is an error that names
//! the key.
//!
//! ```
//! use odradek::config::Config;
//!
//! let mut config = Config::new();
//! config.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
//! config.set("queue.buffering.max.ms", "20").unwrap(); // librdkafka name of linger.ms
//! assert_eq!(config.get("linger.ms"), Some("20"));
//! assert!(config.set("linger.msec", "1").is_err()); // unknown keys are errors
//! let producer = config.producer().unwrap();
//! assert_eq!(producer.linger.as_millis(), 20);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use crate::compression::Compression;
use crate::error::{Error, Result};

mod value;
pub use value::ConfigValue;

/// The kind of value a property takes (shared with the broker's config tables).
pub use odradek_protocol::config::ValueKind;

/// One known property.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// Canonical name.
    pub name: &'static str,
    /// Other accepted spellings (librdkafka or Java).
    pub aliases: &'static [&'static str],
    /// Default value (canonical form); `None` when unset by default.
    pub default: Option<&'static str>,
    /// What values are accepted.
    pub kind: ValueKind,
    /// One line of documentation.
    pub doc: &'static str,
}

const I32: i64 = i32::MAX as i64;

const ACKS: &[(&str, &str)] = &[("all", "all"), ("-1", "all"), ("0", "0"), ("1", "1")];
const CODECS: &[(&str, &str)] = &[
    ("none", "none"),
    ("gzip", "gzip"),
    ("snappy", "snappy"),
    ("lz4", "lz4"),
    ("zstd", "zstd"),
];
const PARTITIONERS: &[(&str, &str)] = &[
    ("murmur2_random", "murmur2_random"),
    ("murmur2", "murmur2"),
    ("consistent_random", "consistent_random"),
    ("consistent", "consistent"),
    ("random", "random"),
];
const OFFSET_RESET: &[(&str, &str)] = &[
    ("earliest", "earliest"),
    ("smallest", "earliest"),
    ("beginning", "earliest"),
    ("latest", "latest"),
    ("largest", "latest"),
    ("end", "latest"),
    ("error", "error"),
    ("none", "error"),
];
const ISOLATION: &[(&str, &str)] = &[
    ("read_committed", "read_committed"),
    ("read_uncommitted", "read_uncommitted"),
];
const GROUP_PROTOCOL: &[(&str, &str)] = &[("classic", "classic"), ("consumer", "consumer")];
const SHARE_ACK_MODE: &[(&str, &str)] = &[("implicit", "implicit"), ("explicit", "explicit")];
const SECURITY_PROTOCOL: &[(&str, &str)] = &[
    ("plaintext", "PLAINTEXT"),
    ("ssl", "SSL"),
    ("sasl_plaintext", "SASL_PLAINTEXT"),
    ("sasl_ssl", "SASL_SSL"),
];
const ENDPOINT_IDENTIFICATION: &[(&str, &str)] =
    &[("https", "https"), ("none", "none"), ("", "none")];
const SASL_MECHANISMS: &[(&str, &str)] = &[
    ("gssapi", "GSSAPI"),
    ("plain", "PLAIN"),
    ("scram-sha-256", "SCRAM-SHA-256"),
    ("scram-sha-512", "SCRAM-SHA-512"),
    ("oauthbearer", "OAUTHBEARER"),
];
const OAUTHBEARER_METHOD: &[(&str, &str)] = &[("default", "default"), ("oidc", "oidc")];

/// Properties whose values are secrets: never printed by `Debug`, bindings' `repr`/`toString`,
/// logs or errors (see [`Config::redacted`]).
pub const SECRET_PROPERTIES: &[&str] = &[
    "sasl.password",
    "ssl.key.password",
    "ssl.key.pem",
    "sasl.oauthbearer.client.secret",
];

/// True when `key` (any spelling) names a secret property.
pub fn is_secret(key: &str) -> bool {
    property(key).is_some_and(|p| SECRET_PROPERTIES.contains(&p.name))
}

const fn int(min: i64, max: i64) -> ValueKind {
    ValueKind::Int { min, max }
}

macro_rules! prop {
    ($name:literal, [$($alias:literal),*], $default:expr, $kind:expr, $doc:literal) => {
        Property { name: $name, aliases: &[$($alias),*], default: $default, kind: $kind, doc: $doc }
    };
}

/// Every property the client knows, in one table.
pub static PROPERTIES: &[Property] = &[
    // Common.
    prop!(
        "bootstrap.servers",
        ["metadata.broker.list"],
        None,
        ValueKind::Str,
        "Comma-separated host:port list used to discover the cluster."
    ),
    prop!(
        "client.id",
        [],
        Some("odradek"),
        ValueKind::Str,
        "Client id sent with every request."
    ),
    prop!(
        "request.timeout.ms",
        ["socket.timeout.ms"],
        Some("30000"),
        int(1, I32),
        "How long to wait for a response before failing (and possibly retrying) a request."
    ),
    prop!(
        "socket.connection.setup.timeout.ms",
        [],
        Some("10000"),
        int(1, I32),
        "How long a TCP connect plus ApiVersions handshake may take."
    ),
    prop!(
        "reconnect.backoff.ms",
        [],
        Some("100"),
        int(0, 3_600_000),
        "First delay before reconnecting to a broker; doubles per failure, with jitter."
    ),
    prop!(
        "reconnect.backoff.max.ms",
        [],
        Some("10000"),
        int(0, 3_600_000),
        "Upper bound of the reconnect delay."
    ),
    prop!(
        "retry.backoff.ms",
        [],
        Some("100"),
        int(1, 300_000),
        "First delay before retrying a failed request; doubles per retry, with jitter."
    ),
    prop!(
        "retry.backoff.max.ms",
        [],
        Some("1000"),
        int(1, 300_000),
        "Upper bound of the retry delay."
    ),
    prop!(
        "metadata.max.age.ms",
        ["topic.metadata.refresh.interval.ms"],
        Some("300000"),
        int(1, I32),
        "Metadata is refreshed at least this often."
    ),
    prop!(
        "message.max.bytes",
        ["max.request.size"],
        Some("1000000"),
        int(1000, 1_000_000_000),
        "Largest request / record batch the client will send."
    ),
    prop!(
        "receive.message.max.bytes",
        [],
        Some("104857600"),
        int(1000, I32),
        "Largest response frame accepted from a broker."
    ),
    prop!(
        "max.in.flight.requests.per.connection",
        ["max.in.flight"],
        Some("5"),
        int(1, 1_000_000),
        "Requests in flight per broker connection."
    ),
    prop!(
        "allow.auto.create.topics",
        [],
        Some("true"),
        ValueKind::Bool,
        "Ask the broker to create unknown topics on metadata requests (if the broker allows it)."
    ),
    // Security (librdkafka names; the Java client's are the same where both exist).
    prop!(
        "security.protocol",
        [],
        Some("PLAINTEXT"),
        ValueKind::Enum(SECURITY_PROTOCOL),
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    ),
    prop!(
        "ssl.ca.location",
        [],
        None,
        ValueKind::Str,
        "PEM file, or directory of PEM files, of CA certificates to trust; default: the system's."
    ),
    prop!(
        "ssl.ca.pem",
        [],
        None,
        ValueKind::Str,
        "CA certificates to trust, as PEM text."
    ),
    prop!(
        "ssl.certificate.location",
        [],
        None,
        ValueKind::Str,
        "Client certificate (PEM file) for mutual TLS."
    ),
    prop!(
        "ssl.certificate.pem",
        [],
        None,
        ValueKind::Str,
        "Client certificate for mutual TLS, as PEM text."
    ),
    prop!(
        "ssl.key.location",
        [],
        None,
        ValueKind::Str,
        "Client private key (PEM file) for mutual TLS."
    ),
    prop!(
        "ssl.key.pem",
        [],
        None,
        ValueKind::Str,
        "Client private key for mutual TLS, as PEM text (a secret)."
    ),
    prop!(
        "ssl.key.password",
        [],
        None,
        ValueKind::Str,
        "Password of an encrypted client key (a secret)."
    ),
    prop!(
        "ssl.endpoint.identification.algorithm",
        [],
        Some("https"),
        ValueKind::Enum(ENDPOINT_IDENTIFICATION),
        "https: check that the broker's certificate names the host connected to; none: do not."
    ),
    prop!(
        "enable.ssl.certificate.verification",
        [],
        Some("true"),
        ValueKind::Bool,
        "Verify the broker's certificate at all (false only for tests)."
    ),
    prop!(
        "sasl.mechanism",
        ["sasl.mechanisms"],
        Some("GSSAPI"),
        ValueKind::Enum(SASL_MECHANISMS),
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (GSSAPI, the Kafka default, is not \
         supported)."
    ),
    prop!(
        "sasl.username",
        [],
        None,
        ValueKind::Str,
        "SASL username (PLAIN, SCRAM)."
    ),
    prop!(
        "sasl.password",
        [],
        None,
        ValueKind::Str,
        "SASL password (PLAIN, SCRAM; a secret)."
    ),
    prop!(
        "sasl.oauthbearer.config",
        [],
        None,
        ValueKind::Str,
        "Unsecured JWT settings: principal=..., principalClaimName, scope, lifeSeconds, \
         extension_NAME."
    ),
    prop!(
        "enable.sasl.oauthbearer.unsecure.jwt",
        [],
        Some("false"),
        ValueKind::Bool,
        "Build an unsecured JWT from sasl.oauthbearer.config when no token provider is set \
         (tests only)."
    ),
    prop!(
        "sasl.oauthbearer.method",
        [],
        Some("default"),
        ValueKind::Enum(OAUTHBEARER_METHOD),
        "default (a token provider or the unsecured JWT) or oidc (client credentials from \
         sasl.oauthbearer.token.endpoint.url)."
    ),
    prop!(
        "sasl.oauthbearer.token.endpoint.url",
        [],
        None,
        ValueKind::Str,
        "OIDC: the provider's token endpoint (https:// only)."
    ),
    prop!(
        "sasl.oauthbearer.client.id",
        [],
        None,
        ValueKind::Str,
        "OIDC: the client id of the client credentials grant."
    ),
    prop!(
        "sasl.oauthbearer.client.secret",
        [],
        None,
        ValueKind::Str,
        "OIDC: the client secret (a secret)."
    ),
    prop!(
        "sasl.oauthbearer.scope",
        [],
        None,
        ValueKind::Str,
        "OIDC: the scope requested with the token."
    ),
    prop!(
        "sasl.oauthbearer.extensions",
        [],
        None,
        ValueKind::Str,
        "OIDC: SASL extensions sent with the token, as key=value pairs separated by commas."
    ),
    prop!(
        "sasl.oauthbearer.sub.claim.name",
        [],
        Some("sub"),
        ValueKind::Str,
        "OIDC: the token claim naming the principal."
    ),
    prop!(
        "https.ca.location",
        [],
        None,
        ValueKind::Str,
        "OIDC: CA certificates (PEM file or directory) trusted for the token endpoint; the \
         system store when neither this nor https.ca.pem is set."
    ),
    prop!(
        "https.ca.pem",
        [],
        None,
        ValueKind::Str,
        "OIDC: CA certificates trusted for the token endpoint, as PEM text."
    ),
    // Producer.
    prop!(
        "linger.ms",
        ["queue.buffering.max.ms"],
        Some("5"),
        int(0, 900_000),
        "How long a partition's batch waits for more records before it is sent."
    ),
    prop!(
        "batch.size",
        [],
        Some("1000000"),
        int(1, I32),
        "A partition's batch is sent once it holds this many bytes."
    ),
    prop!(
        "batch.num.messages",
        [],
        Some("10000"),
        int(1, 1_000_000),
        "A partition's batch is sent once it holds this many records."
    ),
    prop!(
        "acks",
        ["request.required.acks"],
        Some("all"),
        ValueKind::Enum(ACKS),
        "Broker acknowledgements: 0, 1 or all (-1)."
    ),
    prop!(
        "enable.idempotence",
        [],
        Some("true"),
        ValueKind::Bool,
        "Exactly-once per partition: producer id, epoch and sequence numbers."
    ),
    prop!(
        "transactional.id",
        [],
        None,
        ValueKind::Str,
        "Makes the producer transactional (init/begin/commit/abort); implies idempotence."
    ),
    prop!(
        "transaction.timeout.ms",
        [],
        Some("60000"),
        int(1000, I32),
        "The coordinator aborts a transaction open longer than this."
    ),
    prop!(
        "compression.type",
        ["compression.codec"],
        Some("none"),
        ValueKind::Enum(CODECS),
        "Codec for record batches."
    ),
    prop!(
        "compression.level",
        [],
        Some("-1"),
        int(-1, 22),
        "Codec level; -1 means the codec's default."
    ),
    prop!(
        "retries",
        ["message.send.max.retries"],
        Some("2147483647"),
        int(0, I32),
        "How many times a failed batch is retried (within delivery.timeout.ms)."
    ),
    prop!(
        "delivery.timeout.ms",
        ["message.timeout.ms"],
        Some("120000"),
        int(1, I32),
        "Upper bound on the time from send() to its delivery report."
    ),
    prop!(
        "queue.buffering.max.kbytes",
        [],
        Some("65536"),
        int(1, 2_097_151),
        "Producer buffer size in KiB (Java: buffer.memory, in bytes, also accepted)."
    ),
    prop!(
        "queue.buffering.max.messages",
        [],
        Some("1000000"),
        int(1, I32),
        "Most records waiting in the producer buffer."
    ),
    prop!(
        "max.block.ms",
        [],
        Some("60000"),
        int(0, I32),
        "How long send() may wait for buffer space; 0 fails fast with a queue-full error."
    ),
    prop!(
        "partitioner",
        [],
        Some("murmur2_random"),
        ValueKind::Enum(PARTITIONERS),
        "murmur2_random (Java default: murmur2 for keys, sticky for null keys), murmur2, \
         consistent_random, consistent, random."
    ),
    // Consumer.
    prop!("group.id", [], None, ValueKind::Str, "Consumer group id."),
    prop!(
        "group.instance.id",
        [],
        None,
        ValueKind::Str,
        "Static group membership id."
    ),
    prop!(
        "group.protocol",
        [],
        Some("classic"),
        ValueKind::Enum(GROUP_PROTOCOL),
        "Group protocol: classic or consumer (KIP-848)."
    ),
    prop!(
        "share.acknowledgement.mode",
        [],
        Some("implicit"),
        ValueKind::Enum(SHARE_ACK_MODE),
        "Share consumer: implicit (records not acknowledged are accepted at the next poll or \
         commit) or explicit (every record must be acknowledged before the next poll)."
    ),
    prop!(
        "group.remote.assignor",
        [],
        None,
        ValueKind::Str,
        "KIP-848: the server-side assignor to use (uniform or range); empty: the broker's default."
    ),
    prop!(
        "session.timeout.ms",
        [],
        Some("45000"),
        int(1, 3_600_000),
        "Group session timeout."
    ),
    prop!(
        "heartbeat.interval.ms",
        [],
        Some("3000"),
        int(1, 3_600_000),
        "Group heartbeat interval."
    ),
    prop!(
        "max.poll.interval.ms",
        [],
        Some("300000"),
        int(1, 86_400_000),
        "Largest gap between polls before the member leaves the group."
    ),
    prop!(
        "enable.auto.commit",
        [],
        Some("true"),
        ValueKind::Bool,
        "Commit offsets periodically."
    ),
    prop!(
        "auto.commit.interval.ms",
        [],
        Some("5000"),
        int(0, 86_400_000),
        "Auto-commit period."
    ),
    prop!(
        "partition.assignment.strategy",
        [],
        Some("range,roundrobin"),
        ValueKind::Str,
        "Classic-protocol assignors, in preference order."
    ),
    prop!(
        "auto.offset.reset",
        [],
        Some("latest"),
        ValueKind::Enum(OFFSET_RESET),
        "Where to start when there is no valid position: earliest, latest or error."
    ),
    prop!(
        "isolation.level",
        [],
        Some("read_committed"),
        ValueKind::Enum(ISOLATION),
        "read_committed hides aborted transactional records and stops at the LSO."
    ),
    prop!(
        "fetch.min.bytes",
        [],
        Some("1"),
        int(0, 100_000_000),
        "Broker waits until it has this many bytes (or fetch.wait.max.ms passes)."
    ),
    prop!(
        "fetch.max.bytes",
        [],
        Some("52428800"),
        int(0, 2_147_483_135),
        "Most bytes per Fetch response."
    ),
    prop!(
        "fetch.wait.max.ms",
        ["fetch.max.wait.ms"],
        Some("500"),
        int(0, 300_000),
        "Longest the broker holds a Fetch waiting for fetch.min.bytes."
    ),
    prop!(
        "max.partition.fetch.bytes",
        ["fetch.message.max.bytes"],
        Some("1048576"),
        int(1, 1_000_000_000),
        "Most bytes per partition per Fetch."
    ),
    prop!(
        "queued.max.messages.kbytes",
        [],
        Some("65536"),
        int(1, 2_097_151),
        "Prefetch budget in KiB across all assigned partitions."
    ),
    prop!(
        "check.crcs",
        [],
        Some("false"),
        ValueKind::Bool,
        "Verify the CRC of every fetched batch."
    ),
    prop!(
        "client.rack",
        [],
        None,
        ValueKind::Str,
        "Rack id for rack-aware fetching."
    ),
];

/// Looks a property up by its canonical name or any alias.
pub fn property(key: &str) -> Option<&'static Property> {
    PROPERTIES
        .iter()
        .find(|p| p.name == key || p.aliases.contains(&key))
}

/// A validated map of property values (only those that were set; defaults come from the table).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    token_provider: Option<crate::security::TokenProvider>,
}

impl std::fmt::Debug for Config {
    /// Secrets ([`SECRET_PROPERTIES`]) show as `[redacted]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.redacted()).finish()
    }
}

impl Config {
    /// An empty configuration (every property at its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a configuration from key/value pairs, failing on the first bad one.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Config::new();
        for (k, v) in pairs {
            config.set(k.as_ref(), v.as_ref())?;
        }
        Ok(config)
    }

    /// Builds a configuration from typed values (what the bindings pass): each value becomes
    /// its property string by [`ConfigValue::to_setting`]; a `Null` value leaves the key unset.
    pub fn from_values<I, K>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, ConfigValue)>,
        K: AsRef<str>,
    {
        let mut config = Config::new();
        for (k, v) in pairs {
            if let Some(text) = v.to_setting(k.as_ref().trim())? {
                config.set(k.as_ref(), &text)?;
            }
        }
        Ok(config)
    }

    /// Sets one property; the key may be any accepted spelling. Errors name the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let key = key.trim();
        let value = value.trim();
        // Java's buffer.memory is bytes; our canonical key is KiB.
        if key == "buffer.memory" {
            let bytes: i64 = value
                .parse()
                .map_err(|_| Error::config(key, format!("expected an integer, got {value:?}")))?;
            let kib = (bytes / 1024).max(1);
            return self.set("queue.buffering.max.kbytes", &kib.to_string());
        }
        let prop = property(key).ok_or_else(|| Error::config(key, "unknown property"))?;
        let canonical = normalize(prop, key, value)?;
        self.values.insert(prop.name, canonical);
        Ok(self)
    }

    /// Chainable [`Config::set`].
    pub fn with(mut self, key: &str, value: impl ToString) -> Result<Self> {
        self.set(key, &value.to_string())?;
        Ok(self)
    }

    /// The value of a property (explicit or default), by any accepted spelling.
    pub fn get(&self, key: &str) -> Option<&str> {
        let prop = property(key)?;
        self.values
            .get(prop.name)
            .map(String::as_str)
            .or(prop.default)
    }

    /// True when the property was set explicitly.
    pub fn is_set(&self, key: &str) -> bool {
        property(key).is_some_and(|p| self.values.contains_key(p.name))
    }

    /// Sets the OAUTHBEARER token provider (`sasl.mechanism=OAUTHBEARER`): called for each
    /// login and re-authentication.
    pub fn set_oauthbearer_token_provider(
        &mut self,
        provider: crate::security::TokenProvider,
    ) -> &mut Self {
        self.token_provider = Some(provider);
        self
    }

    /// The OAUTHBEARER token provider, if one was set.
    pub fn oauthbearer_token_provider(&self) -> Option<&crate::security::TokenProvider> {
        self.token_provider.as_ref()
    }

    /// The explicitly set properties with every secret's value replaced by `[redacted]`: what
    /// a binding's `repr`/`toString` and any log may show.
    pub fn redacted(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.iter().map(|(k, v)| {
            if SECRET_PROPERTIES.contains(&k) {
                (k, "[redacted]")
            } else {
                (k, v)
            }
        })
    }

    /// The explicitly set properties, canonical names.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    fn int(&self, key: &'static str) -> i64 {
        // Values were validated on set and defaults are valid by construction (tested below).
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn ms(&self, key: &'static str) -> Duration {
        Duration::from_millis(self.int(key).max(0) as u64)
    }

    fn boolean(&self, key: &'static str) -> bool {
        self.get(key) == Some("true")
    }

    fn word(&self, key: &'static str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// The settings every client (producer, consumer, admin) shares.
    pub fn client(&self) -> Result<ClientConfig> {
        let servers = self.get("bootstrap.servers").unwrap_or("");
        let bootstrap_servers: Vec<String> = servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if bootstrap_servers.is_empty() {
            return Err(Error::config(
                "bootstrap.servers",
                "is required (host:port[,host:port...])",
            ));
        }
        for s in &bootstrap_servers {
            if s.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(Error::config(
                    "bootstrap.servers",
                    format!("{s:?} is not host:port"),
                ));
            }
        }
        Ok(ClientConfig {
            bootstrap_servers,
            client_id: self.word("client.id").to_owned(),
            request_timeout: self.ms("request.timeout.ms"),
            connection_setup_timeout: self.ms("socket.connection.setup.timeout.ms"),
            reconnect_backoff: self.ms("reconnect.backoff.ms"),
            reconnect_backoff_max: self.ms("reconnect.backoff.max.ms"),
            retry_backoff: self.ms("retry.backoff.ms"),
            retry_backoff_max: self.ms("retry.backoff.max.ms"),
            metadata_max_age: self.ms("metadata.max.age.ms"),
            max_response_bytes: self.int("receive.message.max.bytes") as usize,
            allow_auto_create_topics: self.boolean("allow.auto.create.topics"),
            security: crate::security::Security::from_config(self)?,
        })
    }

    /// The producer's typed settings.
    pub fn producer(&self) -> Result<ProducerConfig> {
        let acks = match self.word("acks") {
            "0" => Acks::None,
            "1" => Acks::Leader,
            _ => Acks::All,
        };
        let compression = match self.word("compression.type") {
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => Compression::None,
        };
        let level = self.int("compression.level");
        let partitioner = match self.word("partitioner") {
            "murmur2" => Partitioner::Murmur2,
            "consistent_random" => Partitioner::ConsistentRandom,
            "consistent" => Partitioner::Consistent,
            "random" => Partitioner::Random,
            _ => Partitioner::Murmur2Random,
        };
        let transactional_id = self
            .get("transactional.id")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let mut idempotence = self.boolean("enable.idempotence");
        if transactional_id.is_some() {
            if !idempotence || acks != Acks::All {
                return Err(Error::config(
                    "transactional.id",
                    "a transactional producer is idempotent: it needs enable.idempotence=true and acks=all",
                ));
            }
            idempotence = true;
        }
        if idempotence && acks != Acks::All && self.is_set("enable.idempotence") {
            return Err(Error::config(
                "acks",
                "enable.idempotence=true requires acks=all",
            ));
        }
        let config = ProducerConfig {
            client: self.client()?,
            linger: self.ms("linger.ms"),
            batch_size: self.int("batch.size") as usize,
            batch_num_messages: self.int("batch.num.messages") as usize,
            acks,
            // Idempotence is the default, but only where it can work: acks=all (as in Java).
            enable_idempotence: idempotence && acks == Acks::All,
            compression,
            compression_level: (level >= 0).then_some(level as i32),
            retries: self.int("retries") as u32,
            delivery_timeout: self.ms("delivery.timeout.ms"),
            buffer_bytes: self.int("queue.buffering.max.kbytes") as usize * 1024,
            buffer_messages: self.int("queue.buffering.max.messages") as usize,
            max_block: self.ms("max.block.ms"),
            partitioner,
            max_in_flight: self.int("max.in.flight.requests.per.connection") as usize,
            max_request_bytes: self.int("message.max.bytes") as usize,
            transactional_id,
            transaction_timeout: self.ms("transaction.timeout.ms"),
        };
        Ok(config)
    }

    /// The consumer's typed settings.
    pub fn consumer(&self) -> Result<ConsumerConfig> {
        Ok(ConsumerConfig {
            client: self.client()?,
            group_id: self.get("group.id").map(str::to_owned),
            auto_offset_reset: match self.word("auto.offset.reset") {
                "earliest" => OffsetReset::Earliest,
                "error" => OffsetReset::Error,
                _ => OffsetReset::Latest,
            },
            isolation_level: match self.word("isolation.level") {
                "read_uncommitted" => IsolationLevel::ReadUncommitted,
                _ => IsolationLevel::ReadCommitted,
            },
            fetch_min_bytes: self.int("fetch.min.bytes") as i32,
            fetch_max_bytes: self.int("fetch.max.bytes") as i32,
            fetch_max_wait: self.ms("fetch.wait.max.ms"),
            max_partition_fetch_bytes: self.int("max.partition.fetch.bytes") as i32,
            prefetch_budget_bytes: self.int("queued.max.messages.kbytes") as usize * 1024,
            check_crcs: self.boolean("check.crcs"),
            client_rack: self.get("client.rack").map(str::to_owned),
        })
    }
}

fn normalize(prop: &Property, key: &str, value: &str) -> Result<String> {
    prop.kind
        .normalize(value)
        .map_err(|reason| Error::config(key, reason))
}

/// Settings shared by every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// host:port pairs used to discover the cluster.
    pub bootstrap_servers: Vec<String>,
    /// Sent as the client id of every request.
    pub client_id: String,
    /// Deadline per request.
    pub request_timeout: Duration,
    /// Deadline for connect + ApiVersions.
    pub connection_setup_timeout: Duration,
    /// First reconnect delay.
    pub reconnect_backoff: Duration,
    /// Largest reconnect delay.
    pub reconnect_backoff_max: Duration,
    /// First retry delay.
    pub retry_backoff: Duration,
    /// Largest retry delay.
    pub retry_backoff_max: Duration,
    /// Metadata refresh period.
    pub metadata_max_age: Duration,
    /// Largest response frame accepted.
    pub max_response_bytes: usize,
    /// Let metadata requests auto-create topics.
    pub allow_auto_create_topics: bool,
    /// TLS and SASL (`security.protocol`, `ssl.*`, `sasl.*`).
    pub security: crate::security::Security,
}

impl ClientConfig {
    /// Defaults with these bootstrap servers (comma-separated host:port).
    pub fn new(bootstrap_servers: &str) -> Result<Self> {
        Config::new()
            .with("bootstrap.servers", bootstrap_servers)?
            .client()
    }
}

/// How many brokers must acknowledge a produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Fire and forget: no response (offsets in reports are -1).
    None,
    /// The leader has written it.
    Leader,
    /// All in-sync replicas have it.
    All,
}

impl Acks {
    /// The wire value.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// How a partition is chosen for a record without an explicit partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// murmur2 of the key as the Java client; null keys: sticky random (KIP-480). Default.
    Murmur2Random,
    /// murmur2 of the key; null keys go to one random-per-record partition.
    Murmur2,
    /// CRC32 of the key as librdkafka; null keys sticky random.
    ConsistentRandom,
    /// CRC32 of the key; null keys hash as empty.
    Consistent,
    /// Random per record.
    Random,
}

/// Producer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Shared settings.
    pub client: ClientConfig,
    /// How long a batch waits for more records.
    pub linger: Duration,
    /// Batch size trigger in bytes.
    pub batch_size: usize,
    /// Batch size trigger in records.
    pub batch_num_messages: usize,
    /// Acknowledgement level.
    pub acks: Acks,
    /// Idempotent producer (on by default with acks=all).
    pub enable_idempotence: bool,
    /// Batch codec.
    pub compression: Compression,
    /// Codec level (`None` = codec default).
    pub compression_level: Option<i32>,
    /// Retry limit per batch.
    pub retries: u32,
    /// From send() to delivery report, at most.
    pub delivery_timeout: Duration,
    /// Buffer bound in bytes.
    pub buffer_bytes: usize,
    /// Buffer bound in records.
    pub buffer_messages: usize,
    /// How long send() waits for buffer space (0: fail fast).
    pub max_block: Duration,
    /// Partition choice.
    pub partitioner: Partitioner,
    /// Produce requests in flight per broker.
    pub max_in_flight: usize,
    /// Largest batch / request in bytes.
    pub max_request_bytes: usize,
    /// `transactional.id`: a transactional producer when set.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: sent with InitProducerId.
    pub transaction_timeout: Duration,
}

impl ProducerConfig {
    /// Defaults with these bootstrap servers.
    pub fn new(bootstrap_servers: &str) -> Result<Self> {
        Config::new()
            .with("bootstrap.servers", bootstrap_servers)?
            .producer()
    }
}

/// Where to start reading when a partition has no valid position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start offset.
    Earliest,
    /// The high watermark (only new records).
    Latest,
    /// Fail with OFFSET_OUT_OF_RANGE.
    Error,
}

/// Which records a consumer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Everything up to the high watermark, aborted transactions included.
    ReadUncommitted,
    /// Only committed records, up to the last stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value.
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// Consumer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Shared settings.
    pub client: ClientConfig,
    /// Group id (groups are not implemented by the manual-assignment consumer).
    pub group_id: Option<String>,
    /// Where to start without a valid position.
    pub auto_offset_reset: OffsetReset,
    /// Transaction visibility.
    pub isolation_level: IsolationLevel,
    /// Fetch min bytes.
    pub fetch_min_bytes: i32,
    /// Fetch max bytes per response.
    pub fetch_max_bytes: i32,
    /// Fetch max wait.
    pub fetch_max_wait: Duration,
    /// Bytes per partition per fetch.
    pub max_partition_fetch_bytes: i32,
    /// Prefetch budget across all partitions, bytes.
    pub prefetch_budget_bytes: usize,
    /// Verify CRCs of fetched batches.
    pub check_crcs: bool,
    /// Rack id.
    pub client_rack: Option<String>,
}

impl ConsumerConfig {
    /// Defaults with these bootstrap servers.
    pub fn new(bootstrap_servers: &str) -> Result<Self> {
        Config::new()
            .with("bootstrap.servers", bootstrap_servers)?
            .consumer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in PROPERTIES {
            for name in std::iter::once(&p.name).chain(p.aliases) {
                assert!(seen.insert(*name), "duplicate property name {name}");
            }
            if let Some(d) = p.default {
                assert_eq!(normalize(p, p.name, d).unwrap(), d, "default of {}", p.name);
            }
        }
    }

    #[test]
    fn aliases_map_to_one_key_and_values_normalize() {
        let c = Config::from_pairs([
            ("metadata.broker.list", "a:1,b:2"),
            ("request.required.acks", "-1"),
            ("compression.codec", "ZSTD"),
            ("fetch.max.wait.ms", "7"),
            ("auto.offset.reset", "smallest"),
            ("buffer.memory", "33554432"),
        ])
        .unwrap();
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("compression.type"), Some("zstd"));
        assert_eq!(c.get("fetch.wait.max.ms"), Some("7"));
        assert_eq!(c.get("queue.buffering.max.kbytes"), Some("32768"));
        let p = c.producer().unwrap();
        assert_eq!(p.client.bootstrap_servers, vec!["a:1", "b:2"]);
        assert_eq!(p.compression, Compression::Zstd);
        assert!(p.enable_idempotence);
        assert_eq!(
            c.consumer().unwrap().auto_offset_reset,
            OffsetReset::Earliest
        );
    }

    #[test]
    fn errors_name_the_key() {
        let mut c = Config::new();
        let e = c.set("linger.mss", "1").unwrap_err();
        assert!(e.to_string().contains("linger.mss"), "{e}");
        let e = c.set("linger.ms", "soon").unwrap_err();
        assert!(e.to_string().contains("linger.ms"), "{e}");
        let e = c.set("acks", "2").unwrap_err();
        assert!(e.to_string().contains("acks"), "{e}");
        let e = c.set("compression.level", "99").unwrap_err();
        assert!(e.to_string().contains("compression.level"), "{e}");
        let e = Config::new().producer().unwrap_err();
        assert!(e.to_string().contains("bootstrap.servers"), "{e}");
        let e = Config::from_pairs([
            ("bootstrap.servers", "x:1"),
            ("acks", "1"),
            ("enable.idempotence", "true"),
        ])
        .unwrap()
        .producer()
        .unwrap_err();
        assert!(e.to_string().contains("acks"), "{e}");
        // acks=1 without an explicit idempotence setting just turns idempotence off.
        let p = Config::from_pairs([("bootstrap.servers", "x:1"), ("acks", "1")])
            .unwrap()
            .producer()
            .unwrap();
        assert!(!p.enable_idempotence);
    }
}
