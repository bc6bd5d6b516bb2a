//! The client's view of the cluster: bootstrap from several servers, a metadata cache (brokers,
//! topics, partition leaders), leader routing, and refreshes after errors that mean the cache is
//! stale (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, lost connections).

pub mod offsets;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, ResponseError, Result};
use crate::net::{ConnectOptions, Connection, ConnectionPool, Readiness};
use crate::protocol::EncodeRequest;
use crate::protocol::codec::Response;

/// A broker as listed in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub id: i32,
    /// Leader node id (-1 when there is none).
    pub leader: i32,
    /// Leader epoch (-1 when unknown).
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Partition-level error, if any (e.g. LEADER_NOT_AVAILABLE).
    pub error: Option<Error>,
}

/// One topic's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id (all zero when the broker has none).
    pub id: [u8; 16],
    /// Internal topic (e.g. `__consumer_offsets`).
    pub is_internal: bool,
    /// Partitions, indexed by partition id.
    pub partitions: Vec<PartitionInfo>,
}

/// A snapshot of cluster metadata. Shared immutably; refreshes replace it.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller node id (-1 if unknown).
    pub controller_id: i32,
    /// Live brokers.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Known topics.
    pub topics: HashMap<String, Arc<TopicInfo>>,
    /// Topics the last refresh reported as failed (UNKNOWN_TOPIC_OR_PARTITION, ...).
    pub topic_errors: HashMap<String, Error>,
}

impl Metadata {
    /// The leader of a partition, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<&BrokerInfo> {
        let info = self.topics.get(topic)?.partitions.get(partition as usize)?;
        self.brokers.get(&info.leader)
    }

    /// Partition count of a topic, if known.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).map(|t| t.partitions.len())
    }
}

/// Shared cluster state: connections and metadata. One per client instance.
pub struct Cluster {
    config: ClientConfig,
    pool: ConnectionPool,
    metadata: RwLock<Arc<Metadata>>,
    /// Serializes metadata refreshes; a caller that waited behind another refresh reuses its
    /// result instead of sending its own.
    refresh_lock: tokio::sync::Mutex<u64>,
    generation: std::sync::atomic::AtomicU64,
    interesting: Mutex<HashSet<String>>,
    last_refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.config.bootstrap_servers)
            .finish()
    }
}

impl Cluster {
    /// A cluster handle; nothing is contacted until the first request.
    pub fn new(config: ClientConfig) -> Arc<Cluster> {
        let options = ConnectOptions::for_client(&config);
        let pool = ConnectionPool::new(
            options,
            config.reconnect_backoff,
            config.reconnect_backoff_max,
        );
        Arc::new(Cluster {
            config,
            pool,
            metadata: RwLock::new(Arc::new(Metadata {
                controller_id: -1,
                ..Metadata::default()
            })),
            refresh_lock: tokio::sync::Mutex::new(0),
            generation: std::sync::atomic::AtomicU64::new(0),
            interesting: Mutex::new(HashSet::new()),
            last_refresh: Mutex::new(None),
        })
    }

    /// A TLS or SASL failure of the last connect to some broker (see
    /// [`ConnectionPool::security_failure`]): fatal for the client.
    pub fn security_failure(&self) -> Option<Error> {
        self.pool.security_failure()
    }

    /// Where this client's background failures go (the error callback).
    pub fn events(&self) -> &crate::events::ErrorEvents {
        self.pool.events()
    }

    /// One row per broker this client has contacted or tried, sorted by address.
    pub fn broker_stats(&self) -> Vec<crate::metrics::BrokerStats> {
        self.pool.broker_stats()
    }

    /// The client settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<Metadata> {
        self.metadata
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A connection to broker `id` (from metadata, loaded first when `id` is not in it: an
    /// admin's first call may name a broker before anything fetched metadata).
    pub async fn connection(&self, id: i32) -> Result<Arc<Connection>> {
        let address_of = |m: &Metadata| m.brokers.get(&id).map(BrokerInfo::address);
        let address = match address_of(&self.metadata()) {
            Some(address) => address,
            None => address_of(&*self.refresh(&[]).await?)
                .ok_or_else(|| Error::network(format!("broker {id} is not in the metadata")))?,
        };
        self.pool
            .get(&address)
            .await
            .map_err(|e| e.with_broker(format_args!("{id} ({address})")))
    }

    /// What the pool has for broker `id` right now (never waits). `None` when the broker is not
    /// in the metadata.
    pub fn readiness(&self, id: i32) -> Option<Readiness> {
        let address = self.metadata().brokers.get(&id)?.address();
        Some(self.pool.readiness(&address))
    }

    /// Starts connecting to broker `id` in the background (unless a connect is under way or the
    /// broker is backing off) and calls `done` when the attempt ends either way. Lets a caller
    /// keep its work queued — free to go to another leader — instead of waiting in a connect.
    pub fn connect_in_background(self: &Arc<Self>, id: i32, done: impl FnOnce() + Send + 'static) {
        if !matches!(self.readiness(id), Some(Readiness::Idle)) {
            return;
        }
        let cluster = self.clone();
        tokio::spawn(async move {
            let _ = cluster.connection(id).await;
            done();
        });
    }

    /// Brokers to try for a request that any broker can answer: live connections first, then
    /// the known brokers and the bootstrap servers in random order (so that many clients spread
    /// over the list); brokers in reconnect back-off last.
    fn candidates(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .metadata()
            .brokers
            .values()
            .map(BrokerInfo::address)
            .collect();
        for b in &self.config.bootstrap_servers {
            if !all.contains(b) {
                all.push(b.clone());
            }
        }
        if !all.is_empty() {
            let start = fastrand::usize(..all.len());
            all.rotate_left(start);
        }
        let rank = |a: &String| match self.pool.readiness(a) {
            Readiness::Ready(_) => 0,
            Readiness::Idle | Readiness::Connecting => 1,
            Readiness::BackingOff(_) => 2,
        };
        all.sort_by_key(rank);
        all
    }

    /// How many `candidates` to ask at once: the first alone when its connection is live (a
    /// steady-state metadata refresh costs one request), else [`crate::net::BROKERS_AT_ONCE`].
    fn at_once(&self, candidates: &[String]) -> usize {
        match candidates.first().map(|a| self.pool.readiness(a)) {
            Some(Readiness::Ready(_)) => 1,
            _ => crate::net::BROKERS_AT_ONCE,
        }
    }

    /// A connection to any broker: a live one if there is one, else the candidates are connected
    /// to [`crate::net::BROKERS_AT_ONCE`] at a time, then staggered (happy eyeballs), so one hung
    /// host costs nothing while another answers, never its whole connection setup timeout.
    pub async fn any_connection(&self) -> Result<Arc<Connection>> {
        let candidates = self.candidates();
        if let Some(conn) = candidates.first().and_then(|a| self.pool.existing(a)) {
            return Ok(conn);
        }
        let at_once = self.at_once(&candidates);
        crate::net::race_staggered(candidates, at_once, crate::net::STAGGER, |a| async move {
            self.pool.get(&a).await
        })
        .await
    }

    /// The node coordinating `key` (`key_type` 0: a group, 1: a transactional id), usable
    /// with [`Cluster::connection`]; metadata is refreshed if the node is not in it yet.
    pub async fn coordinator_node(&self, key: &str, key_type: i8) -> Result<i32> {
        use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest};
        let conn = self.any_connection().await?;
        let version = conn.require_version(ApiKey::FindCoordinator)?;
        let mut req = FindCoordinatorRequest::default().with_key_type(key_type);
        if version >= 4 {
            req.coordinator_keys = vec![StrBytes::from_string(key.to_string())];
        } else {
            req.key = StrBytes::from_string(key.to_string());
        }
        let resp = conn.request_timeout(&req, self.request_timeout()).await?;
        let (code, node) = match resp.coordinators.first() {
            Some(c) => (c.error_code, c.node_id.0),
            None => (resp.error_code, resp.node_id.0),
        };
        if let Some(e) = Error::from_code(code) {
            return Err(e.with_topic(&format!("FindCoordinator({key})")));
        }
        if !self.metadata().brokers.contains_key(&node) {
            self.refresh(&[]).await?;
        }
        Ok(node)
    }

    /// Sends a read-only `request` (safe to send twice) to a live connection, or with none to
    /// [`crate::net::BROKERS_AT_ONCE`] candidates at once, then the others staggered: a broker
    /// that stops answering costs at most [`crate::net::STAGGER`] before the next one is asked
    /// beside it. Bounded by `request.timeout.ms`; retried on all candidates while errors are
    /// retriable.
    pub async fn request_any_idempotent<R>(&self, request: &R) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        let timeout = self.config.request_timeout;
        let attempt = |a: String| async move {
            let conn = self.pool.get(&a).await?;
            conn.request_timeout(request, timeout).await
        };
        self.retry_within_request_timeout(|| {
            let candidates = self.candidates();
            let at_once = self.at_once(&candidates);
            crate::net::race_staggered(candidates, at_once, crate::net::STAGGER, attempt)
        })
        .await
    }

    /// Runs `round` until it succeeds, fails for good, or `request.timeout.ms` has passed, with
    /// the retry back-off between rounds.
    async fn retry_within_request_timeout<T, F, Fut>(&self, round: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.config.request_timeout;
        let mut rounds = 0;
        loop {
            let err = match tokio::time::timeout_at(deadline, round()).await {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(e)) => e,
                Err(_) => return Err(self.none_answered()),
            };
            rounds += 1;
            if !err.is_retriable() || Instant::now() >= deadline {
                return Err(err);
            }
            let delay = self.retry_backoff(rounds);
            tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    fn none_answered(&self) -> Error {
        Error::timeout(format!(
            "no broker answered within {:?} (bootstrap: {})",
            self.config.request_timeout,
            self.config.bootstrap_servers.join(",")
        ))
    }

    /// Sends `request` to any broker, retrying on other brokers while the error is retriable,
    /// within `request.timeout.ms`.
    pub async fn request_any<R>(&self, request: &R) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        self.retry_within_request_timeout(|| async {
            let conn = self.any_connection().await?;
            conn.request_timeout(request, self.config.request_timeout)
                .await
        })
        .await
    }

    /// Sends `request` to broker `id`.
    pub async fn request_to<R>(&self, id: i32, request: &R) -> Result<R::Response>
    where
        R: EncodeRequest,
        R::Response: Response,
    {
        let conn = self.connection(id).await?;
        conn.request_timeout(request, self.config.request_timeout)
            .await
            .map_err(|e| e.with_broker(id))
    }

    /// Adds topics to the set whose metadata every refresh fetches.
    pub fn add_topics<'a>(&self, topics: impl IntoIterator<Item = &'a str>) {
        let mut set = self.interesting.lock().unwrap_or_else(|p| p.into_inner());
        for t in topics {
            if !set.contains(t) {
                set.insert(t.to_owned());
            }
        }
    }

    /// Refreshes metadata for the interesting topics (and `extra`). Concurrent callers share one
    /// request: whoever waited behind a refresh that started after it asked gets that result.
    pub async fn refresh(&self, extra: &[&str]) -> Result<Arc<Metadata>> {
        self.add_topics(extra.iter().copied());
        let asked_at = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let mut done = self.refresh_lock.lock().await;
        if *done > asked_at {
            let snapshot = self.metadata();
            if extra
                .iter()
                .all(|t| snapshot.topics.contains_key(*t) || snapshot.topic_errors.contains_key(*t))
            {
                return Ok(snapshot);
            }
        }
        let topics: Vec<String> = {
            let set = self.interesting.lock().unwrap_or_else(|p| p.into_inner());
            set.iter().cloned().collect()
        };
        let request = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(self.config.allow_auto_create_topics);
        let response: MetadataResponse = self.request_any_idempotent(&request).await?;
        let snapshot = Arc::new(self.merge(response, &topics));
        log_leader_changes(&self.metadata(), &snapshot);
        *self.metadata.write().unwrap_or_else(|p| p.into_inner()) = snapshot.clone();
        *done += 1;
        self.generation
            .store(*done, std::sync::atomic::Ordering::Release);
        *self.last_refresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok(snapshot)
    }

    /// True when the metadata is older than `metadata.max.age.ms` (or was never fetched).
    pub fn is_stale(&self) -> bool {
        self.last_refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|at| at.elapsed() >= self.config.metadata_max_age)
    }

    /// Refreshes if the metadata is older than `metadata.max.age.ms` (or was never fetched).
    pub async fn refresh_if_stale(&self) -> Result<Arc<Metadata>> {
        if self.is_stale() {
            self.refresh(&[]).await
        } else {
            Ok(self.metadata())
        }
    }

    /// The metadata of `topic`, fetching it if unknown. Errors if the topic does not exist (and
    /// is not auto-created) or has no partitions yet after `request.timeout.ms`.
    pub async fn topic(&self, topic: &str) -> Result<Arc<TopicInfo>> {
        if let Some(t) = self.metadata().topics.get(topic) {
            return Ok(t.clone());
        }
        let deadline = Instant::now() + self.config.request_timeout;
        let mut attempt = 0;
        loop {
            let snapshot = self.refresh(&[topic]).await?;
            if let Some(t) = snapshot.topics.get(topic) {
                return Ok(t.clone());
            }
            let err = snapshot
                .topic_errors
                .get(topic)
                .cloned()
                .unwrap_or_else(|| {
                    Error::kafka(ResponseError::UnknownTopicOrPartition).with_topic(topic)
                });
            attempt += 1;
            if !err.is_retriable() || Instant::now() >= deadline {
                return Err(err);
            }
            tokio::time::sleep(self.retry_backoff(attempt)).await;
        }
    }

    fn merge(&self, response: MetadataResponse, asked: &[String]) -> Metadata {
        let old = self.metadata();
        let mut brokers = BTreeMap::new();
        for b in &response.brokers {
            brokers.insert(
                b.node_id.0,
                BrokerInfo {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                },
            );
        }
        let mut topics = old.topics.clone();
        let mut topic_errors = HashMap::new();
        for t in response.topics {
            let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if let Some(err) = Error::from_code(t.error_code) {
                // A topic that is still being created reports LEADER_NOT_AVAILABLE with no
                // partitions: keep asking.
                topics.remove(&name);
                topic_errors.insert(name.clone(), err.with_topic(&name));
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    id: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|r| r.0).collect(),
                    isr: p.isr_nodes.iter().map(|r| r.0).collect(),
                    error: Error::from_code(p.error_code)
                        .map(|e| e.with_partition(&name, p.partition_index)),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            // A broker lagging behind may answer with an older leader than the one already known
            // (from a newer snapshot or a KIP-951 hint): the higher leader epoch wins.
            // (Same topic id only: a re-created topic starts its epochs again.)
            if let Some(known) = old
                .topics
                .get(&name)
                .filter(|k| k.id == *t.topic_id.as_bytes())
            {
                for (p, k) in partitions.iter_mut().zip(&known.partitions) {
                    if p.id == k.id && p.leader_epoch >= 0 && k.leader_epoch > p.leader_epoch {
                        p.leader = k.leader;
                        p.leader_epoch = k.leader_epoch;
                    }
                }
            }
            // A gap in partition ids would break index-based routing; treat as not ready yet.
            if partitions.is_empty() || partitions.iter().enumerate().any(|(i, p)| p.id != i as i32)
            {
                topics.remove(&name);
                topic_errors.insert(
                    name.clone(),
                    Error::kafka(ResponseError::LeaderNotAvailable).with_topic(&name),
                );
                continue;
            }
            topics.insert(
                name.clone(),
                Arc::new(TopicInfo {
                    name,
                    id: *t.topic_id.as_bytes(),
                    is_internal: t.is_internal,
                    partitions,
                }),
            );
        }
        for name in asked {
            if !topics.contains_key(name) && !topic_errors.contains_key(name) {
                topic_errors.insert(
                    name.clone(),
                    Error::kafka(ResponseError::UnknownTopicOrPartition).with_topic(name),
                );
            }
        }
        Metadata {
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller_id: response.controller_id.0,
            brokers,
            topics,
            topic_errors,
        }
    }

    /// Applies leaders a broker named in an error response (KIP-951: Produce v10+ carries the
    /// current leader and epoch with NOT_LEADER_OR_FOLLOWER, and the new leader's endpoint), so
    /// the next attempt goes to the new leader without waiting for a metadata refresh. A hint
    /// whose epoch is not newer than the cached one is ignored. Returns how many leaders moved.
    pub fn apply_leader_hints(&self, hints: &[LeaderHint], endpoints: &[BrokerInfo]) -> usize {
        let mut guard = self.metadata.write().unwrap_or_else(|p| p.into_inner());
        let mut next: Option<Metadata> = None;
        let mut moved = 0;
        for hint in hints {
            let current = guard
                .topics
                .get(&hint.topic)
                .and_then(|t| t.partitions.get(hint.partition as usize));
            let Some(current) = current else { continue };
            let known = guard.brokers.contains_key(&hint.leader)
                || endpoints.iter().any(|b| b.id == hint.leader);
            if hint.leader < 0 || hint.leader_epoch <= current.leader_epoch || !known {
                continue;
            }
            let snapshot = next.get_or_insert_with(|| (**guard).clone());
            for b in endpoints {
                snapshot.brokers.entry(b.id).or_insert_with(|| b.clone());
            }
            if let Some(topic) = snapshot.topics.get_mut(&hint.topic) {
                let topic = Arc::make_mut(topic);
                let p = &mut topic.partitions[hint.partition as usize];
                tracing::info!(
                    topic = %hint.topic,
                    partition = hint.partition,
                    from = p.leader,
                    to = hint.leader,
                    leader_epoch = hint.leader_epoch,
                    "partition leader changed (from the broker's response)"
                );
                p.leader = hint.leader;
                p.leader_epoch = hint.leader_epoch;
                p.error = None;
                moved += 1;
            }
        }
        if let Some(snapshot) = next {
            *guard = Arc::new(snapshot);
        }
        moved
    }

    /// Forgets a topic (after it was deleted).
    pub fn forget_topic(&self, topic: &str) {
        self.interesting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(topic);
        let mut guard = self.metadata.write().unwrap_or_else(|p| p.into_inner());
        let mut next = (**guard).clone();
        next.topics.remove(topic);
        *guard = Arc::new(next);
    }

    /// Closes every connection.
    pub fn close(&self) {
        self.pool.close_all();
    }

    /// Default request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// The pause before retry number `attempt` (1-based) of a failed request:
    /// `retry.backoff.ms` doubling up to `retry.backoff.max.ms`, jittered.
    pub fn retry_backoff(&self, attempt: u32) -> Duration {
        crate::net::backoff(
            self.config.retry_backoff,
            self.config.retry_backoff_max,
            attempt,
        )
    }
}

/// A partition's leader as named by a broker in a response (KIP-951).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderHint {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The new leader's node id.
    pub leader: i32,
    /// The new leader's epoch.
    pub leader_epoch: i32,
}

/// Logs the leaders a refresh moved (info: users want to see fail-overs), at most a few lines.
fn log_leader_changes(old: &Metadata, new: &Metadata) {
    const SHOWN: usize = 5;
    let mut changed = 0;
    for (name, topic) in &new.topics {
        let Some(before) = old.topics.get(name) else {
            continue;
        };
        for (p, b) in topic.partitions.iter().zip(&before.partitions) {
            if p.leader == b.leader {
                continue;
            }
            changed += 1;
            if changed <= SHOWN {
                tracing::info!(topic = %name, partition = p.id, from = b.leader, to = p.leader, leader_epoch = p.leader_epoch, "partition leader changed");
            }
        }
    }
    if changed > SHOWN {
        tracing::info!(
            changed,
            "partition leaders changed ({} more not shown)",
            changed - SHOWN
        );
    }
}

/// True for errors after which the metadata cache should be refreshed before retrying.
pub fn needs_metadata_refresh(err: &Error) -> bool {
    use ResponseError as E;
    match err.kind() {
        ErrorKind::Kafka(code) => matches!(
            code,
            E::NotLeaderOrFollower
                | E::UnknownTopicOrPartition
                | E::LeaderNotAvailable
                | E::FencedLeaderEpoch
                | E::UnknownLeaderEpoch
                | E::KafkaStorageError
                | E::NotController
                | E::BrokerNotAvailable
                | E::ReplicaNotAvailable
        ),
        ErrorKind::Io(_) | ErrorKind::Timeout | ErrorKind::Closed | ErrorKind::NoBrokers => true,
        _ => false,
    }
}
