//! Odradek broker: a Kafka-compatible broker, as a library and a binary; one node, or a node of
//! a cluster (cluster mode, in progress: no replication yet).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use odradek_broker::{Broker, BrokerConfig};
//! let dir = std::env::temp_dir().join("odradek-demo");
//! let broker = Broker::start(BrokerConfig::new("127.0.0.1:0".parse().unwrap(), dir)).await?;
//! println!("listening on {}", broker.local_addr());
//! broker.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Modules:
//! - `server`: the listener and one task per connection (framing, decoding, responses in
//!   request order); `server::versions` is the ApiVersions table ([`SUPPORTED_APIS`]).
//! - `handlers`: one module per API family, from decoded request to response body;
//!   `batch_rewrite`: what a topic's configs change in a produced batch (recompression,
//!   LogAppendTime) before it is appended.
//! - [`topics`]: the topic registry (names, ids, partition counts, config overrides).
//! - [`data_dir`]: what the broker owns in its data directory (markers, adoption of older
//!   directories); nothing else there is touched.
//! - [`partition`]: a partition as handlers see it (log lock, long-poll wake-up, group commit).
//! - [`log`]: durable storage of one partition (segments, indexes, recovery, retention,
//!   compaction, idempotent-producer state, last stable offset, aborted-transactions index).
//! - [`group`]: the group coordinator (classic and KIP-848 groups, committed offsets, group
//!   configs).
//! - `txn`: the transaction coordinator (transactional ids, epochs, open transactions, the
//!   transaction log, markers, timeouts).
//! - [`config`]: broker and topic configuration, named as in Apache Kafka.
//! - [`security`]: listeners and their security protocols, TLS, SASL.
//! - [`embedded`]: the broker in-process on its own runtime, for tests and bindings.
//! - [`embedded_cluster`]: an N-node cluster in-process, each node killable, restartable and
//!   isolatable by id, for fail-over tests in every binding.
//! - `cluster_mode`: a node of a multi-node cluster (`BrokerConfig::cluster`): its controller of
//!   the metadata quorum, its registration, local logs following the metadata image.
//! - `state`: what every handler shares; `background`: retention, compaction, flushes;
//!   `time`: wall-clock helpers.
//!
//! The internals (tasks, locks, the path of a request) are described in `docs/ARCHITECTURE.md`.

pub mod config;
pub mod data_dir;
pub mod embedded;
pub mod embedded_cluster;
pub mod fetch_session;
pub mod group;
pub mod log;
pub mod partition;
pub mod security;
pub mod topics;

mod background;
mod batch_rewrite;
mod cluster_mode;
mod handlers;
mod server;
mod share;
mod state;
mod time;
mod txn;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{BrokerConfig, BrokerProperties, ClusterConfig, FsyncPolicy};
pub use embedded::EmbeddedBroker;
pub use embedded_cluster::EmbeddedCluster;
pub use server::versions::SUPPORTED_APIS;

use security::Listener;
use state::BrokerState;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts brokers.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// Recovers the data directory, binds every listener and starts serving.
    ///
    /// Listeners come from the `listeners` property (Kafka's `NAME://HOST:PORT,...`) or, when it
    /// is unset, one PLAINTEXT listener on `config.listen`. A listener that authenticates
    /// nobody and is bound to a non-loopback address is reported with a warning.
    pub async fn start(config: BrokerConfig) -> std::io::Result<BrokerHandle> {
        for key in config.properties.unknown_keys() {
            tracing::warn!(key, "unknown broker property ignored");
        }
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let specs = security::listeners::parse(
            &config.properties,
            config.listen,
            config.advertised.as_deref(),
        )
        .map_err(invalid)?;
        let mut listeners = Vec::with_capacity(specs.len());
        for spec in &specs {
            let socket = TcpListener::bind(spec.bind).await.map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("listener {} cannot bind {}: {e}", spec.name, spec.bind),
                )
            })?;
            let local_addr = socket.local_addr()?;
            let listener = Listener::new(spec, local_addr, &config.properties).map_err(invalid)?;
            if !spec.authenticates(&config.properties) && !local_addr.ip().is_loopback() {
                tracing::warn!(
                    listener = %spec.name,
                    %local_addr,
                    "listener {} ({}) authenticates nobody and is bound to a non-loopback \
                     address: anyone who can reach {local_addr} has full access to every topic \
                     and group",
                    spec.name,
                    spec.protocol.name()
                );
            }
            listeners.push((socket, Arc::new(listener)));
        }
        let addrs: Vec<(String, SocketAddr)> = listeners
            .iter()
            .map(|(_, l)| (l.name.clone(), l.local_addr))
            .collect();
        let network = odradek_cluster::NetworkGate::default();
        let mut config = config;
        if let Some(cluster) = &config.cluster {
            let id = i32::try_from(cluster.node_id)
                .map_err(|_| invalid(format!("node id {} is too large", cluster.node_id)))?;
            config
                .properties
                .set("node.id", &id.to_string())
                .map_err(invalid)?;
        }
        let cfg = config.clone();
        let mut state = tokio::task::spawn_blocking(move || BrokerState::open(&cfg))
            .await
            .map_err(|e| std::io::Error::other(format!("recovery task failed: {e}")))??;
        // After `open` has claimed the data dir: the quorum keeps its files in it.
        if let Some(cluster) = &config.cluster {
            let endpoints = cluster_mode::endpoints(
                &listeners.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(),
            );
            let node = cluster_mode::ClusterNode::start(
                cluster,
                &config.data_dir,
                &config.properties,
                endpoints,
                network.clone(),
            )
            .await?;
            // Groups live on `__consumer_offsets` (none until this node leads a partition of
            // it), not in the single node's file.
            state.groups = Arc::new(group::GroupCoordinator::with_storage(
                &config.data_dir,
                &config.properties,
                Box::new(cluster_mode::group_log::PartitionStore::new(node.clone())),
                group::offsets::OffsetMap::default(),
            )?);
            state.cluster = Some(node);
            state.cluster_id = state::quorum_cluster_id(&cluster.voters);
        }
        let state = Arc::new(state);
        if let Some(node) = &state.cluster {
            node.spawn_tasks(state.clone());
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let server = tokio::spawn(server::serve(
            listeners,
            state.clone(),
            shutdown_rx.clone(),
            network.clone(),
        ));
        let background = background::spawn(state.clone(), shutdown_rx);
        for (name, addr) in &addrs {
            tracing::info!(listener = %name, %addr, "listening");
        }
        tracing::info!(data_dir = %config.data_dir.display(), fsync = ?config.fsync, "broker started");
        Ok(BrokerHandle {
            listeners: addrs,
            network,
            state,
            shutdown_tx,
            server,
            background,
        })
    }
}

/// A running broker. Dropping it without [`BrokerHandle::shutdown`] stops accepting nothing;
/// call `shutdown` to stop and flush.
#[derive(Debug)]
#[must_use = "a broker runs until shutdown() is awaited"]
pub struct BrokerHandle {
    /// (listener name, bound address), in the order of `listeners`.
    listeners: Vec<(String, SocketAddr)>,
    /// Every network path of this node (listeners, and in cluster mode the quorum's RPC and
    /// the replica fetchers) checks it; `network_gate` isolates the node in tests.
    network: odradek_cluster::NetworkGate,
    state: Arc<BrokerState>,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The bound address of the first listener (the real port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners[0].1
    }

    /// Every listener's name and bound address, in the order of `listeners`.
    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// The bound address of the listener named `name` (case-insensitive).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| *a)
    }

    /// The node's network gate: `isolate()` cuts it off from clients, peers and controllers
    /// (open connections close), `heal()` reconnects it. For fail-over tests
    /// ([`EmbeddedCluster::isolate`]).
    pub fn network_gate(&self) -> &odradek_cluster::NetworkGate {
        &self.network
    }

    /// Cluster mode: the metadata image this node has applied (who leads each partition in
    /// which epoch, the ISR, the registered brokers); `None` for a single-node broker.
    pub fn metadata_image(&self) -> Option<Arc<odradek_cluster::MetadataImage>> {
        self.state.cluster.as_ref().map(|node| node.image())
    }

    /// Cluster mode: whether this node is registered and unfenced in its own image, i.e. may
    /// lead partitions (a single-node broker always serves).
    pub fn is_serving(&self) -> bool {
        self.state
            .cluster
            .as_ref()
            .is_none_or(|node| node.is_serving(&node.image()))
    }

    /// Sets a SCRAM user's password for `mechanism` (4096 iterations, a random salt), as
    /// AlterUserScramCredentials would; for tests and the embedded broker.
    pub fn set_scram_password(
        &self,
        user: &str,
        mechanism: odradek_protocol::sasl::scram::ScramMechanism,
        password: &str,
    ) -> std::io::Result<()> {
        use odradek_protocol::sasl::scram::{MIN_ITERATIONS, ScramCredential};
        let salt = ScramCredential::random_salt();
        let credential = ScramCredential::new(mechanism, password, &salt, MIN_ITERATIONS)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        self.state.scram.set(user, credential)
    }

    /// Stops accepting, closes connections, flushes and closes every log.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.server.await;
        for t in self.background {
            let _ = t.await;
        }
        if let Some(node) = &self.state.cluster {
            node.shutdown().await;
        }
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || state.topics.close_all()).await;
        tracing::info!("broker stopped");
    }
}
