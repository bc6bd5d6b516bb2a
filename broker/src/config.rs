//! Broker and topic configuration, named as in Apache Kafka.
//!
//! A topic config (`retention.ms`) takes its default from the matching broker property
//! (`log.retention.ms`), which takes its default from Kafka's. [`TOPIC_CONFIGS`] is the one table
//! of what we know; DescribeConfigs, CreateTopics validation and [`LogConfig`] all read it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// When appended data is forced to disk (`--fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Every produce is fsynced before it is acknowledged and before consumers can read it.
    Always,
    /// fsync per `flush.messages` / `flush.ms` (`flush.ms` defaults to 1 s in this mode).
    #[default]
    Interval,
    /// Leave write-back to the OS (Kafka's default, which relies on replication).
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "always" => Ok(Self::Always),
            "interval" => Ok(Self::Interval),
            "never" => Ok(Self::Never),
            other => Err(format!(
                "unknown fsync policy {other:?}: expected always, interval or never"
            )),
        }
    }
}

/// Everything [`crate::Broker::start`] needs.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `host:port` given to clients in Metadata; defaults to the bound address.
    pub advertised: Option<String>,
    /// Where topic metadata and partition logs live.
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
    /// Kafka-style broker properties (`num.partitions`, `log.retention.ms`, ...).
    pub properties: BrokerProperties,
    /// Cluster mode (`--node-id`, `--controller-quorum`); `None` is the single-node broker.
    pub cluster: Option<ClusterConfig>,
}

/// A node of a multi-node cluster: a controller of the metadata quorum and a broker, in one
/// process (KRaft's combined mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub node_id: u64,
    /// `--controller-quorum`: every voter's id and controller address, this node included.
    pub voters: BTreeMap<u64, String>,
    /// Where this node's controller listens; by default its own voter address.
    pub controller_listen: Option<SocketAddr>,
}

/// The cluster-mode command-line options, shared by `odradek-broker` and `odradek broker`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// Cluster mode: this node's id (Kafka's `node.id`); needs --controller-quorum.
    #[arg(long)]
    pub node_id: Option<u64>,
    /// Cluster mode: the metadata quorum's voters, ID@HOST:PORT,... (Kafka's
    /// `controller.quorum.voters`); this node runs the controller at its own entry.
    #[arg(long)]
    pub controller_quorum: Option<String>,
    /// Cluster mode: bind this node's controller here instead of its quorum address.
    #[arg(long)]
    pub controller_listen: Option<SocketAddr>,
}

impl ClusterArgs {
    pub fn config(&self) -> Result<Option<ClusterConfig>, String> {
        ClusterConfig::from_args(
            self.node_id,
            self.controller_quorum.as_deref(),
            self.controller_listen,
        )
    }
}

impl ClusterConfig {
    /// A quorum of `nodes` voters (ids 1..=nodes) on free 127.0.0.1 ports, for a cluster in
    /// one process (`odradek broker --nodes`, the embedded cluster, tests). The ports are
    /// picked together, so they differ, and released for the controllers to bind.
    pub fn local_voters(nodes: u16) -> std::io::Result<BTreeMap<u64, String>> {
        let held = (0..nodes)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot pick a controller port: {e}"))
            })?;
        let mut voters = BTreeMap::new();
        for (id, socket) in (1..).zip(&held) {
            voters.insert(id, socket.local_addr()?.to_string());
        }
        Ok(voters)
    }

    /// Parses Kafka's `controller.quorum.voters` form: `ID@HOST:PORT,ID@HOST:PORT,...`.
    pub fn parse_voters(text: &str) -> Result<BTreeMap<u64, String>, String> {
        let mut voters = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, addr) = entry
                .split_once('@')
                .ok_or_else(|| format!("controller quorum voter '{entry}' is not ID@HOST:PORT"))?;
            let id: u64 = id.parse().map_err(|_| {
                format!("controller quorum voter '{entry}': '{id}' is not a node id")
            })?;
            if !addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            {
                return Err(format!(
                    "controller quorum voter '{entry}': '{addr}' is not HOST:PORT"
                ));
            }
            if voters.insert(id, addr.to_string()).is_some() {
                return Err(format!("controller quorum names node {id} twice"));
            }
        }
        if voters.is_empty() {
            return Err("the controller quorum names no voters".into());
        }
        Ok(voters)
    }

    /// From the command line's `--node-id`, `--controller-quorum` and `--controller-listen`:
    /// `None` (single node) when none is given; both of the first two or neither.
    pub fn from_args(
        node_id: Option<u64>,
        quorum: Option<&str>,
        controller_listen: Option<SocketAddr>,
    ) -> Result<Option<Self>, String> {
        match (node_id, quorum) {
            (None, None) if controller_listen.is_none() => Ok(None),
            (Some(node_id), Some(q)) => {
                let config = Self {
                    node_id,
                    voters: Self::parse_voters(q)?,
                    controller_listen,
                };
                config.controller_address()?;
                Ok(Some(config))
            }
            _ => Err("cluster mode needs both --node-id and --controller-quorum".into()),
        }
    }

    /// Checks that this node is a voter and returns where its controller listens.
    pub fn controller_address(&self) -> Result<String, String> {
        if let Some(a) = self.controller_listen {
            return Ok(a.to_string());
        }
        self.voters.get(&self.node_id).cloned().ok_or_else(|| {
            format!(
                "node {} is not in the controller quorum {:?} (dedicated brokers are not supported yet)",
                self.node_id,
                self.voters.keys().collect::<Vec<_>>()
            )
        })
    }
}

impl BrokerConfig {
    /// A config with Kafka's defaults, listening on `listen` and storing in `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen,
            advertised: None,
            data_dir: data_dir.into(),
            fsync: FsyncPolicy::default(),
            properties: BrokerProperties::default(),
            cluster: None,
        }
    }

    /// Node `node_id` of a cluster in one process (`odradek broker --nodes`, the embedded
    /// cluster, tests): its client listener on `listen`, its data in `data_dir`, its controller
    /// at its own entry of `voters`.
    pub fn cluster_node(
        node_id: u64,
        voters: &BTreeMap<u64, String>,
        listen: SocketAddr,
        data_dir: impl Into<PathBuf>,
        properties: BrokerProperties,
    ) -> Self {
        Self {
            properties,
            cluster: Some(ClusterConfig {
                node_id,
                voters: voters.clone(),
                controller_listen: None,
            }),
            ..Self::new(listen, data_dir)
        }
    }
}

/// What one client may hold and how many may connect (see README, "Limits").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `socket.request.max.bytes`: the largest request frame.
    pub max_request_bytes: usize,
    /// `queued.max.request.bytes`: bytes of requests being received plus responses not yet
    /// written, over all connections; at the cap connections stop reading.
    pub queued_max_bytes: usize,
    /// `queued.max.requests.per.connection`: requests read but not yet answered.
    pub max_requests_per_connection: usize,
    /// `queued.max.response.bytes.per.connection`: unwritten response bytes at which the
    /// broker stops reading requests from that connection.
    pub max_response_bytes_per_connection: usize,
    /// `connections.max.idle.ms`: no byte read or written for this long closes a connection.
    pub idle_timeout: Duration,
    /// `socket.request.read.timeout.ms`: a request frame still incomplete this long after its
    /// first byte (while the broker was reading) closes the connection.
    pub partial_request_timeout: Duration,
    /// `max.connections`: open client connections; more are accepted and closed at once.
    pub max_connections: usize,
    /// `max.connections.per.ip`: the same per client address.
    pub max_connections_per_ip: usize,
}

/// Broker properties as `key=value` strings with typed accessors and Kafka's defaults.
#[derive(Debug, Clone, Default)]
pub struct BrokerProperties {
    values: BTreeMap<String, String>,
}

/// Properties we read directly (besides the `log.*` defaults of topic configs).
const BROKER_KEYS: &[(&str, &str)] = &[
    ("node.id", "1"),
    // Cluster mode: a broker silent this long is fenced by the controller, and how often it
    // heartbeats (Kafka's defaults).
    ("broker.session.timeout.ms", "9000"),
    ("broker.heartbeat.interval.ms", "2000"),
    // A follower that has not caught up for this long leaves the ISR (Kafka's default).
    ("replica.lag.time.max.ms", "30000"),
    // Cluster mode: the active controller moves leaderships back to preferred replicas when a
    // broker's share of partitions led elsewhere passes the percentage (Kafka's defaults).
    ("auto.leader.rebalance.enable", "true"),
    ("leader.imbalance.check.interval.seconds", "300"),
    ("leader.imbalance.per.broker.percentage", "10"),
    ("num.partitions", "1"),
    ("default.replication.factor", "1"),
    ("auto.create.topics.enable", "true"),
    ("delete.topic.enable", "true"),
    ("socket.request.max.bytes", "104857600"),
    ("log.retention.check.interval.ms", "300000"),
    ("log.cleaner.backoff.ms", "15000"),
    ("log.cleaner.enable", "true"),
    // Kafka's default is 128 MiB; 16 MiB (about 460,000 keys per pass) suits a small machine,
    // and a log with more keys is compacted in several passes.
    ("log.cleaner.dedupe.buffer.size", "16777216"),
    ("log.flush.scheduler.interval.ms", "1000"),
    ("transactional.id.expiration.ms", "604800000"),
    ("transaction.max.timeout.ms", "900000"),
    // The finalized `transaction.version` feature ApiVersions advertises (Kafka sets it with
    // `kafka-features`; one node has no controller, so it is a property): 2 is KIP-890's
    // transactions (an epoch bump per transaction, partitions added by Produce), 0 or 1 the
    // classic protocol.
    ("transaction.version", "2"),
    (
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        "3600000",
    ),
    (
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "10000",
    ),
    ("producer.id.expiration.ms", "86400000"),
    ("queued.max.requests", "500"),
    // KIP-227 fetch sessions the broker keeps (Kafka's default); 0 turns sessions off.
    ("max.incremental.fetch.session.cache.slots", "1000"),
    // Connection limits (issue 16): memory stays bounded whatever clients do. Kafka's defaults
    // for queued.max.request.bytes, max.connections and max.connections.per.ip are "unbounded";
    // ours are finite so one host cannot take the broker's memory or descriptors.
    ("queued.max.request.bytes", "209715200"),
    ("queued.max.requests.per.connection", "64"),
    ("queued.max.response.bytes.per.connection", "4194304"),
    ("connections.max.idle.ms", "600000"),
    ("socket.request.read.timeout.ms", "60000"),
    ("max.connections", "4096"),
    ("max.connections.per.ip", "2147483647"),
    ("group.min.session.timeout.ms", "6000"),
    ("group.max.session.timeout.ms", "1800000"),
    // Kafka's built-in default is 3000; its shipped server.properties (and this dev broker) use 0.
    ("group.initial.rebalance.delay.ms", "0"),
    // KIP-848 consumer groups. Kafka's heartbeat interval default is 5000; this development
    // broker asks for 1000 so rebalances settle in about a second.
    ("group.consumer.session.timeout.ms", "45000"),
    ("group.consumer.heartbeat.interval.ms", "1000"),
    // Bounds of the per-group `consumer.*` configs (Kafka's; the heartbeat minimum is lowered
    // to this broker's default interval).
    ("group.consumer.min.session.timeout.ms", "45000"),
    ("group.consumer.max.session.timeout.ms", "60000"),
    ("group.consumer.min.heartbeat.interval.ms", "1000"),
    ("group.consumer.max.heartbeat.interval.ms", "15000"),
    ("group.consumer.assignors", "uniform,range"),
    // KIP-932 share groups (Kafka's defaults, except the heartbeat interval and its minimum,
    // lowered as for consumer groups).
    ("group.share.session.timeout.ms", "45000"),
    ("group.share.min.session.timeout.ms", "45000"),
    ("group.share.max.session.timeout.ms", "60000"),
    ("group.share.heartbeat.interval.ms", "1000"),
    ("group.share.min.heartbeat.interval.ms", "1000"),
    ("group.share.max.heartbeat.interval.ms", "15000"),
    ("group.share.record.lock.duration.ms", "30000"),
    ("group.share.min.record.lock.duration.ms", "15000"),
    ("group.share.max.record.lock.duration.ms", "60000"),
    ("group.share.delivery.count.limit", "5"),
    ("group.share.partition.max.record.locks", "2000"),
    ("group.share.max.share.sessions", "2000"),
    ("group.share.max.size", "200"),
    // `__consumer_offsets`, created on the first group coordinator lookup.
    ("offsets.topic.num.partitions", "50"),
    // Cluster mode: capped by the live brokers when the topic is created.
    ("offsets.topic.replication.factor", "3"),
    ("offsets.topic.segment.bytes", "104857600"),
];

/// Security properties read by `crate::security` (each also per listener as
/// `listener.name.<name>.<key>`).
const SECURITY_KEYS: &[&str] = &[
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.principal.mapping.rules",
    "sasl.enabled.mechanisms",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.clock.skew.seconds",
    "sasl.jaas.config",
    "sasl.server.max.receive.size",
    "connections.max.reauth.ms",
    "authorizer.class.name",
    "super.users",
    "allow.everyone.if.no.acl.found",
];

/// Kafka properties that do not apply to a single embedded node and are accepted silently,
/// so a stock `server.properties` loads.
const IGNORED_KEYS: &[&str] = &[
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "inter.broker.listener.name",
    "log.dirs",
    "log.dir",
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "broker.id",
];

impl BrokerProperties {
    /// Parses a Kafka `server.properties`-style text: `key=value` lines, `#`/`!` comments.
    /// Unknown keys are kept (and reported by [`BrokerProperties::unknown_keys`]) so a stock
    /// Kafka file loads; malformed lines are an error naming the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut props = Self::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((k, v)) = line.split_once(['=', ':']) else {
                return Err(format!("line {}: expected key=value, got {line:?}", n + 1));
            };
            props.set(k.trim(), v.trim())?;
        }
        Ok(props)
    }

    /// Reads and parses a properties file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Sets one property, checking its value if we know its type; a broker key is stored in its
    /// canonical form (so `true`/`1`/`yes` all read as true).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        if let Some(def) = TOPIC_CONFIGS.iter().find(|d| d.broker_key == Some(key)) {
            def.validate(value).map_err(|e| format!("{key}: {e}"))?;
        }
        if let Some(alias) = time_alias(key) {
            let ms = parse_time_alias(key, value)?;
            self.values.insert(alias.to_string(), ms.to_string());
            return Ok(());
        }
        let value = match BROKER_KEYS.iter().find(|(k, _)| *k == key) {
            Some((_, default)) => broker_key_kind(default)
                .normalize(value)
                .map_err(|e| format!("{key}: {e}"))?,
            None => value.to_string(),
        };
        self.values.insert(key.to_string(), value);
        Ok(())
    }

    /// The raw value set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Keys that are neither known nor in the list of accepted-but-ignored Kafka keys.
    pub fn unknown_keys(&self) -> Vec<&str> {
        self.values
            .keys()
            .map(String::as_str)
            .filter(|k| {
                !BROKER_KEYS.iter().any(|(b, _)| b == k)
                    && !IGNORED_KEYS.contains(k)
                    && !SECURITY_KEYS.contains(k)
                    && !is_listener_key(k)
                    && !TOPIC_CONFIGS.iter().any(|d| d.broker_key == Some(*k))
            })
            .collect()
    }

    fn broker_default(key: &str) -> &'static str {
        BROKER_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or("")
    }

    /// An integer property: its value if set, else the broker default.
    pub fn long(&self, key: &str) -> i64 {
        self.get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| Self::broker_default(key).parse().unwrap_or(0))
    }

    fn bool(&self, key: &str) -> bool {
        self.get(key)
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or_else(|| Self::broker_default(key) == "true")
    }

    pub fn node_id(&self) -> i32 {
        self.get("node.id")
            .or(self.get("broker.id"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }
    /// `max.incremental.fetch.session.cache.slots`: how many fetch sessions are kept.
    pub fn fetch_session_cache_slots(&self) -> usize {
        self.long("max.incremental.fetch.session.cache.slots")
            .clamp(0, i32::MAX as i64) as usize
    }

    pub fn num_partitions(&self) -> i32 {
        self.long("num.partitions").clamp(1, i32::MAX as i64) as i32
    }
    pub fn default_replication_factor(&self) -> i16 {
        self.long("default.replication.factor").clamp(1, 1000) as i16
    }
    /// Cluster mode: the automatic preferred-leader rebalance (`auto.leader.rebalance.enable`),
    /// as (check interval, allowed imbalance per broker in percent); `None` when disabled.
    pub fn leader_rebalance(&self) -> Option<(std::time::Duration, u32)> {
        self.bool("auto.leader.rebalance.enable").then(|| {
            let every = self.long("leader.imbalance.check.interval.seconds").max(1) as u64;
            let percent = self
                .long("leader.imbalance.per.broker.percentage")
                .clamp(0, 100);
            (std::time::Duration::from_secs(every), percent as u32)
        })
    }
    pub fn auto_create_topics(&self) -> bool {
        self.bool("auto.create.topics.enable")
    }
    pub fn delete_topic_enable(&self) -> bool {
        self.bool("delete.topic.enable")
    }
    pub fn max_request_bytes(&self) -> usize {
        self.long("socket.request.max.bytes")
            .clamp(1024, i32::MAX as i64) as usize
    }
    /// The connection limits of the `server` module, resolved once at start-up.
    pub fn connection_limits(&self) -> ConnectionLimits {
        let positive = |key: &str| self.long(key).clamp(1, i32::MAX as i64) as usize;
        let ms = |key: &str| Duration::from_millis(self.long(key).max(1) as u64);
        // Kafka's -1 ("no limit") is accepted for the byte cap.
        let queued = self.long("queued.max.request.bytes");
        ConnectionLimits {
            max_request_bytes: self.max_request_bytes(),
            queued_max_bytes: if queued < 0 {
                usize::MAX
            } else {
                (queued.max(1024)) as usize
            },
            max_requests_per_connection: positive("queued.max.requests.per.connection"),
            max_response_bytes_per_connection: positive("queued.max.response.bytes.per.connection"),
            idle_timeout: ms("connections.max.idle.ms"),
            partial_request_timeout: ms("socket.request.read.timeout.ms"),
            max_connections: positive("max.connections"),
            max_connections_per_ip: positive("max.connections.per.ip"),
        }
    }
    pub fn retention_check_interval(&self) -> Duration {
        Duration::from_millis(self.long("log.retention.check.interval.ms").max(10) as u64)
    }
    pub fn cleaner_backoff(&self) -> Duration {
        Duration::from_millis(self.long("log.cleaner.backoff.ms").max(10) as u64)
    }
    pub fn cleaner_enable(&self) -> bool {
        self.bool("log.cleaner.enable")
    }
    /// Bytes of the compaction key map (`log.cleaner.dedupe.buffer.size`).
    pub fn cleaner_dedupe_buffer_size(&self) -> usize {
        self.long("log.cleaner.dedupe.buffer.size").max(0) as usize
    }
    pub fn flush_scheduler_interval(&self) -> Duration {
        Duration::from_millis(self.long("log.flush.scheduler.interval.ms").max(10) as u64)
    }
    /// Session timeouts a JoinGroup may ask for (inclusive), in ms.
    pub fn group_session_timeout_range_ms(&self) -> (i64, i64) {
        (
            self.long("group.min.session.timeout.ms"),
            self.long("group.max.session.timeout.ms"),
        )
    }
    pub fn group_consumer_session_timeout(&self) -> Duration {
        Duration::from_millis(self.long("group.consumer.session.timeout.ms").max(1) as u64)
    }
    pub fn group_consumer_heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.long("group.consumer.heartbeat.interval.ms").max(1) as u64)
    }
    /// Server-side assignors, by their short names (`uniform`, `range`); Kafka's class names
    /// are accepted too.
    pub fn group_consumer_assignors(&self) -> Vec<String> {
        let v = self
            .get("group.consumer.assignors")
            .unwrap_or("uniform,range");
        let mut out: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter_map(|a| {
                let short = a.rsplit('.').next().unwrap_or(a).to_ascii_lowercase();
                match short.as_str() {
                    "uniform" | "uniformassignor" => Some("uniform".to_string()),
                    "range" | "rangeassignor" => Some("range".to_string()),
                    _ => None,
                }
            })
            .collect();
        if out.is_empty() {
            out.push("uniform".to_string());
        }
        out
    }
    pub fn group_initial_rebalance_delay(&self) -> Duration {
        Duration::from_millis(self.long("group.initial.rebalance.delay.ms").max(0) as u64)
    }
    pub fn offsets_topic_num_partitions(&self) -> i32 {
        self.long("offsets.topic.num.partitions").clamp(1, 100_000) as i32
    }
    pub fn offsets_topic_replication_factor(&self) -> i64 {
        self.long("offsets.topic.replication.factor")
            .clamp(1, i64::from(i16::MAX))
    }
    pub fn offsets_topic_segment_bytes(&self) -> i64 {
        self.long("offsets.topic.segment.bytes")
            .clamp(14, i32::MAX as i64)
    }
    pub fn producer_id_expiration_ms(&self) -> i64 {
        self.long("producer.id.expiration.ms")
    }

    /// The longest `transaction.timeout.ms` a producer may ask for.
    pub fn transaction_max_timeout_ms(&self) -> i64 {
        self.long("transaction.max.timeout.ms")
    }

    /// The finalized `transaction.version` (0 to 2).
    pub fn transaction_version(&self) -> i16 {
        self.long("transaction.version").clamp(0, 2) as i16
    }

    /// How long a transactional id with no transaction open is kept after its last use.
    pub fn transactional_id_expiration_ms(&self) -> i64 {
        self.long("transactional.id.expiration.ms")
    }

    /// How often the coordinator looks for transactional ids past their expiration.
    pub fn transactional_id_expiry_interval(&self) -> Duration {
        Duration::from_millis(
            self.long("transaction.remove.expired.transaction.cleanup.interval.ms")
                .max(1) as u64,
        )
    }

    /// How often the coordinator looks for transactions past their timeout.
    pub fn transaction_abort_interval(&self) -> Duration {
        Duration::from_millis(
            self.long("transaction.abort.timed.out.transaction.cleanup.interval.ms")
                .max(1) as u64,
        )
    }

    /// The broker-level default for a topic config: the `log.*` property if set, else Kafka's.
    pub fn topic_default(
        &self,
        def: &TopicConfigDef,
        fsync: FsyncPolicy,
    ) -> (String, ConfigSource) {
        if let Some(v) = def.broker_key.and_then(|k| self.get(k)) {
            return (v.to_string(), ConfigSource::StaticBroker);
        }
        if def.name == "flush.ms" && fsync == FsyncPolicy::Interval {
            return ("1000".to_string(), ConfigSource::Default);
        }
        (def.default.to_string(), ConfigSource::Default)
    }

    /// Every broker property with its value (set or default), for DescribeConfigs.
    pub fn describe(&self, fsync: FsyncPolicy) -> Vec<(String, String, ConfigSource)> {
        let mut out = Vec::new();
        for (k, d) in BROKER_KEYS {
            match self.get(k) {
                Some(v) => out.push((k.to_string(), v.to_string(), ConfigSource::StaticBroker)),
                None => out.push((k.to_string(), d.to_string(), ConfigSource::Default)),
            }
        }
        for def in TOPIC_CONFIGS {
            if let Some(bk) = def.broker_key {
                let (v, src) = self.topic_default(def, fsync);
                out.push((bk.to_string(), v, src));
            }
        }
        out
    }
}

/// `listener.name.<listener>.<security key>`, or `...<mechanism>.sasl.jaas.config`.
fn is_listener_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("listener.name.") else {
        return false;
    };
    let Some((_, tail)) = rest.split_once('.') else {
        return false;
    };
    SECURITY_KEYS.contains(&tail) || tail.ends_with(".sasl.jaas.config")
}

/// What a broker key accepts, read off its default: every one of them is a boolean, an integer
/// of at least -1 (Kafka's "no limit" where a limit has one) or free text (the assignor list),
/// checked by the same [`ValueKind`] as the client's properties and the topic configs.
fn broker_key_kind(default: &str) -> ValueKind {
    if default == "true" || default == "false" {
        ValueKind::Bool
    } else if default.parse::<i64>().is_ok() {
        ValueKind::Int {
            min: -1,
            max: i64::MAX,
        }
    } else {
        ValueKind::Str
    }
}

/// `log.retention.hours` and friends are stored as their `.ms` form.
fn time_alias(key: &str) -> Option<&'static str> {
    match key {
        "log.retention.hours" | "log.retention.minutes" => Some("log.retention.ms"),
        "log.roll.hours" => Some("log.roll.ms"),
        _ => None,
    }
}

fn parse_time_alias(key: &str, value: &str) -> Result<i64, String> {
    let n: i64 = value
        .parse()
        .map_err(|_| format!("{key}: expected an integer, got {value:?}"))?;
    let unit = if key.ends_with(".hours") {
        3_600_000
    } else {
        60_000
    };
    Ok(n.saturating_mul(unit))
}

/// Where a config value came from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Topic = 1,
    StaticBroker = 4,
    Default = 5,
}

pub use odradek_protocol::config::ConfigType;
use odradek_protocol::config::ValueKind;

/// One topic-level config key.
#[derive(Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    /// The broker property that provides the default.
    pub broker_key: Option<&'static str>,
    pub default: &'static str,
    pub kind: ConfigType,
    /// Allowed values for enumerations.
    pub choices: &'static [&'static str],
    /// Minimum for numbers.
    pub min: i64,
    /// Maximum for numbers.
    pub max: i64,
    /// A number outside `min..=max` that is still valid (Kafka's "-1 means the codec's
    /// default" for `compression.gzip.level`).
    pub also: Option<i64>,
}

impl TopicConfigDef {
    /// Checks a value's type and range.
    pub fn validate(&self, value: &str) -> Result<(), String> {
        if self.also.is_some() && value.trim().parse::<i64>().ok() == self.also {
            return Ok(());
        }
        self.value_kind().normalize(value).map(drop)
    }

    /// What values this config takes, in the terms of the checker the client shares.
    fn value_kind(&self) -> ValueKind {
        match self.kind {
            ConfigType::Boolean => ValueKind::Bool,
            ConfigType::Short => ValueKind::Int {
                min: self.min,
                max: i16::MAX as i64,
            },
            ConfigType::Int => ValueKind::Int {
                min: self.min,
                max: self.max.min(i32::MAX as i64),
            },
            ConfigType::Long => ValueKind::Int {
                min: self.min,
                max: self.max,
            },
            ConfigType::Double => ValueKind::Double,
            ConfigType::List => ValueKind::List(self.choices),
            ConfigType::String | ConfigType::Class | ConfigType::Password
                if self.choices.is_empty() =>
            {
                ValueKind::Str
            }
            ConfigType::String | ConfigType::Class | ConfigType::Password => {
                ValueKind::OneOf(self.choices)
            }
        }
    }
}

const fn def(
    name: &'static str,
    broker_key: Option<&'static str>,
    default: &'static str,
    kind: ConfigType,
    min: i64,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key,
        default,
        kind,
        choices: &[],
        min,
        max: i64::MAX,
        also: None,
    }
}

/// A numeric config bounded on both sides.
const fn ranged(
    name: &'static str,
    default: &'static str,
    min: i64,
    max: i64,
    also: Option<i64>,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key: Some(name),
        default,
        kind: ConfigType::Int,
        choices: &[],
        min,
        max,
        also,
    }
}

const MAX: &str = "9223372036854775807";

/// Every topic config we accept, with Kafka 4's defaults.
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        name: "cleanup.policy",
        broker_key: Some("log.cleanup.policy"),
        default: "delete",
        kind: ConfigType::List,
        choices: &["delete", "compact"],
        min: 0,
        max: 0,
        also: None,
    },
    // Other than `producer`, batches in another codec are recompressed on append
    // (`crate::batch_rewrite`).
    TopicConfigDef {
        name: "compression.type",
        broker_key: Some("compression.type"),
        default: "producer",
        kind: ConfigType::String,
        choices: &["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"],
        min: 0,
        max: 0,
        also: None,
    },
    // Kafka's level ranges (KIP-390); -1 is gzip's "codec default". lz4 levels are accepted but
    // our lz4 encoder has one speed.
    ranged("compression.gzip.level", "-1", 1, 9, Some(-1)),
    ranged("compression.lz4.level", "9", 1, 17, None),
    ranged("compression.zstd.level", "3", -131072, 22, None),
    def(
        "delete.retention.ms",
        Some("log.cleaner.delete.retention.ms"),
        "86400000",
        ConfigType::Long,
        0,
    ),
    def(
        "file.delete.delay.ms",
        Some("log.segment.delete.delay.ms"),
        "60000",
        ConfigType::Long,
        0,
    ),
    def(
        "flush.messages",
        Some("log.flush.interval.messages"),
        MAX,
        ConfigType::Long,
        1,
    ),
    def(
        "flush.ms",
        Some("log.flush.interval.ms"),
        MAX,
        ConfigType::Long,
        0,
    ),
    def(
        "index.interval.bytes",
        Some("log.index.interval.bytes"),
        "4096",
        ConfigType::Int,
        0,
    ),
    def(
        "max.compaction.lag.ms",
        Some("log.cleaner.max.compaction.lag.ms"),
        MAX,
        ConfigType::Long,
        1,
    ),
    def(
        "max.message.bytes",
        Some("message.max.bytes"),
        "1048588",
        ConfigType::Int,
        0,
    ),
    def(
        "message.timestamp.after.max.ms",
        Some("log.message.timestamp.after.max.ms"),
        "3600000",
        ConfigType::Long,
        0,
    ),
    def(
        "message.timestamp.before.max.ms",
        Some("log.message.timestamp.before.max.ms"),
        MAX,
        ConfigType::Long,
        0,
    ),
    TopicConfigDef {
        name: "message.timestamp.type",
        broker_key: Some("log.message.timestamp.type"),
        default: "CreateTime",
        kind: ConfigType::String,
        choices: &["CreateTime", "LogAppendTime"],
        min: 0,
        max: 0,
        also: None,
    },
    def(
        "min.cleanable.dirty.ratio",
        Some("log.cleaner.min.cleanable.ratio"),
        "0.5",
        ConfigType::Double,
        0,
    ),
    def(
        "min.compaction.lag.ms",
        Some("log.cleaner.min.compaction.lag.ms"),
        "0",
        ConfigType::Long,
        0,
    ),
    def(
        "min.insync.replicas",
        Some("min.insync.replicas"),
        "1",
        ConfigType::Int,
        1,
    ),
    def(
        "preallocate",
        Some("log.preallocate"),
        "false",
        ConfigType::Boolean,
        0,
    ),
    def(
        "retention.bytes",
        Some("log.retention.bytes"),
        "-1",
        ConfigType::Long,
        -1,
    ),
    def(
        "retention.ms",
        Some("log.retention.ms"),
        "604800000",
        ConfigType::Long,
        -1,
    ),
    def(
        "segment.bytes",
        Some("log.segment.bytes"),
        "1073741824",
        ConfigType::Int,
        14,
    ),
    def(
        "segment.index.bytes",
        Some("log.index.size.max.bytes"),
        "10485760",
        ConfigType::Int,
        4,
    ),
    def(
        "segment.ms",
        Some("log.roll.ms"),
        "604800000",
        ConfigType::Long,
        1,
    ),
    def(
        "unclean.leader.election.enable",
        Some("unclean.leader.election.enable"),
        "false",
        ConfigType::Boolean,
        0,
    ),
];

/// Looks up a topic config definition by name.
pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The typed, effective config of one partition log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub compact: bool,
    pub delete: bool,
    pub delete_retention_ms: i64,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub index_interval_bytes: u32,
    pub max_message_bytes: usize,
    pub min_compaction_lag_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub retention_bytes: i64,
    pub retention_ms: i64,
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub fsync: FsyncPolicy,
    /// Recompression and LogAppendTime stamping of produced batches.
    pub rewrite: crate::batch_rewrite::RewriteConfig,
}

/// A topic's config overrides (only keys set on the topic).
pub type TopicOverrides = BTreeMap<String, String>;

impl LogConfig {
    /// Resolves overrides over broker defaults over Kafka defaults.
    pub fn resolve(
        props: &BrokerProperties,
        fsync: FsyncPolicy,
        overrides: &TopicOverrides,
    ) -> Self {
        let value = |name: &str| -> String {
            if let Some(v) = overrides.get(name) {
                return v.clone();
            }
            let def = topic_config_def(name).expect("known topic config");
            props.topic_default(def, fsync).0
        };
        let long = |name: &str| -> i64 { value(name).parse().unwrap_or(0) };
        let policy = value("cleanup.policy");
        Self {
            compact: policy.split(',').any(|p| p.trim() == "compact"),
            delete: policy.split(',').any(|p| p.trim() == "delete"),
            delete_retention_ms: long("delete.retention.ms"),
            flush_messages: long("flush.messages").max(1),
            flush_ms: long("flush.ms"),
            index_interval_bytes: long("index.interval.bytes").clamp(0, u32::MAX as i64) as u32,
            max_message_bytes: long("max.message.bytes").max(0) as usize,
            min_compaction_lag_ms: long("min.compaction.lag.ms"),
            min_cleanable_dirty_ratio: value("min.cleanable.dirty.ratio").parse().unwrap_or(0.5),
            retention_bytes: long("retention.bytes"),
            retention_ms: long("retention.ms"),
            segment_bytes: long("segment.bytes").max(14) as u64,
            segment_ms: long("segment.ms").max(1),
            fsync,
            rewrite: crate::batch_rewrite::RewriteConfig {
                compression: topic_compression(&value("compression.type"), &long),
                log_append_time: value("message.timestamp.type") == "LogAppendTime",
            },
        }
    }
}

/// The codec and level `compression.type` asks for; `None` for `producer`.
fn topic_compression(
    kind: &str,
    long: &dyn Fn(&str) -> i64,
) -> Option<(odradek_protocol::compression::Compression, Option<i32>)> {
    use odradek_protocol::compression::Compression;
    Some(match kind {
        "uncompressed" => (Compression::None, None),
        "gzip" => (
            Compression::Gzip,
            Some(long("compression.gzip.level") as i32).filter(|l| *l >= 0),
        ),
        "snappy" => (Compression::Snappy, None),
        // One lz4 speed (README): the level is validated, not applied.
        "lz4" => (Compression::Lz4, None),
        "zstd" => (
            Compression::Zstd,
            Some(long("compression.zstd.level") as i32),
        ),
        _ => return None,
    })
}

/// Validates a set of topic config overrides; the error names the key.
pub fn validate_overrides(configs: &TopicOverrides) -> Result<(), String> {
    for (k, v) in configs {
        let def = topic_config_def(k).ok_or_else(|| format!("unknown topic config {k:?}"))?;
        def.validate(v)
            .map_err(|e| format!("invalid value for {k}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_quorum_voters_parse_and_bad_ones_say_why() {
        let v = ClusterConfig::parse_voters("1@127.0.0.1:9093, 2@localhost:9094").unwrap();
        assert_eq!(v[&1], "127.0.0.1:9093");
        assert_eq!(v[&2], "localhost:9094");
        for (bad, why) in [
            ("1@h:1,1@h:2", "twice"),
            ("x@h:1", "not a node id"),
            ("1@h", "not HOST:PORT"),
            ("1h:1", "not ID@HOST:PORT"),
            ("", "no voters"),
        ] {
            let e = ClusterConfig::parse_voters(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let not_a_voter = ClusterConfig::from_args(Some(3), Some("1@h:1,2@h:2"), None);
        assert!(
            not_a_voter
                .unwrap_err()
                .contains("not in the controller quorum")
        );
        assert!(ClusterConfig::from_args(Some(1), None, None).is_err());
        assert_eq!(ClusterConfig::from_args(None, None, None), Ok(None));
    }

    #[test]
    fn parses_properties_and_aliases() {
        let p = BrokerProperties::parse(
            "# comment\nnum.partitions=3\nlog.retention.hours = 2\nlisteners=PLAINTEXT://:9092\nfoo.bar=1\n",
        )
        .unwrap();
        assert_eq!(p.num_partitions(), 3);
        assert_eq!(p.get("log.retention.ms"), Some("7200000"));
        assert_eq!(p.unknown_keys(), vec!["foo.bar"]);
        let c = LogConfig::resolve(&p, FsyncPolicy::Never, &TopicOverrides::new());
        assert_eq!(c.retention_ms, 7_200_000);
        assert!(c.delete && !c.compact);
    }

    #[test]
    fn broker_keys_are_checked_and_stored_canonical() {
        for (key, default) in BROKER_KEYS {
            let mut p = BrokerProperties::default();
            p.set(key, default).unwrap();
            assert_eq!(p.get(key), Some(*default), "{key}");
        }
        let mut p = BrokerProperties::default();
        p.set("log.cleaner.enable", "FALSE").unwrap();
        assert!(!p.cleaner_enable());
        p.set("auto.create.topics.enable", "yes").unwrap();
        assert!(p.auto_create_topics());
        let e = p.set("num.partitions", "three").unwrap_err();
        assert!(e.contains("num.partitions") && e.contains("integer"), "{e}");
        assert!(p.set("max.connections", "-5").is_err());
        assert!(p.set("delete.topic.enable", "sometimes").is_err());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(BrokerProperties::parse("log.segment.bytes=abc").is_err());
        assert!(BrokerProperties::parse("just a line").is_err());
        let mut o = TopicOverrides::new();
        o.insert("cleanup.policy".into(), "compact,delete".into());
        assert!(validate_overrides(&o).is_ok());
        o.insert("cleanup.policy".into(), "shred".into());
        assert!(validate_overrides(&o).is_err());
        let mut o = TopicOverrides::new();
        o.insert("no.such".into(), "1".into());
        assert!(validate_overrides(&o).unwrap_err().contains("no.such"));
    }

    #[test]
    fn connection_limits_from_properties() {
        let d = BrokerProperties::default().connection_limits();
        assert_eq!(d.queued_max_bytes, 209_715_200);
        assert_eq!(d.max_connections, 4096);
        assert_eq!(d.idle_timeout, Duration::from_secs(600));
        let p = BrokerProperties::parse(
            "queued.max.request.bytes=-1\nmax.connections.per.ip=3\nconnections.max.idle.ms=1500\n",
        )
        .unwrap();
        assert!(p.unknown_keys().is_empty());
        let l = p.connection_limits();
        assert_eq!(l.queued_max_bytes, usize::MAX);
        assert_eq!(l.max_connections_per_ip, 3);
        assert_eq!(l.idle_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn overrides_win() {
        let p = BrokerProperties::parse("log.segment.bytes=1000").unwrap();
        let mut o = TopicOverrides::new();
        o.insert("segment.bytes".into(), "2000".into());
        assert_eq!(
            LogConfig::resolve(&p, FsyncPolicy::Never, &o).segment_bytes,
            2000
        );
        assert_eq!(
            LogConfig::resolve(&p, FsyncPolicy::Never, &TopicOverrides::new()).segment_bytes,
            1000
        );
    }
}
