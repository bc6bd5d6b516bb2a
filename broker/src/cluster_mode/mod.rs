//! Cluster mode (issue #22; `--node-id`, `--controller-quorum`): this process is a controller
//! of the metadata quorum (`odradek-cluster`) and a broker registered with it, KRaft's combined
//! mode. The metadata image decides which brokers exist, which topics and partitions, and who
//! leads each partition in which leader epoch; handlers answer from it, and admin requests are
//! proposed to the active controller.
//!
//! - `reconcile`: opens, grows, reconfigures and deletes local logs as the image changes, and
//!   stamps a partition's leader epoch when this node becomes its leader.
//! - `producer_ids`: producer ids in blocks taken from the controller ahead of need.
//! - `leaders`, `delayed_produce`: the leader side of replication (ISR, high watermark,
//!   acks=all waiting for it, `min.insync.replicas`), over `odradek_cluster::replication`.
//! - `replica_fetcher`, `peer`: the follower side (fetching from the leader with a replica id,
//!   appending its batches verbatim, truncating where the logs diverged).
//!
//! - `group_log`: group coordinators on `__consumer_offsets` (Kafka's placement: the leader of
//!   the group's partition coordinates); offsets and membership are records of that partition,
//!   replayed by the next leader, so groups survive a coordinator move.
//!
//! A node leads nothing until the image holds this process's registration unfenced
//! (`ClusterNode::is_serving`). Not yet: replicated group configs, replica reassignment,
//! preferred-leader election, inter-broker TLS/SASL.

pub mod delayed_produce;
pub mod group_log;
pub mod leaders;
mod peer;
mod producer_ids;
mod reconcile;
mod replica_fetcher;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use odradek_cluster::client::{BrokerIdentity, ControllerClient, run_broker_lifecycle};
use odradek_cluster::metadata::Endpoint;
use odradek_cluster::rpc::Tcp;
use odradek_cluster::{
    Applied, Controller, ControllerConfig, MetadataImage, MetadataRecord, NetworkGate, NodeId,
    ProposeError,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{BrokerProperties, ClusterConfig};
use crate::state::BrokerState;

use leaders::Leaders;
use producer_ids::ProducerIdBlocks;
use replica_fetcher::Following;

/// This node's part in the cluster, shared by the handlers through `BrokerState`.
pub struct ClusterNode {
    pub node_id: NodeId,
    /// This process's registration (a restart registers a new one).
    incarnation: u128,
    controller: Mutex<Option<Controller>>,
    image: watch::Receiver<Arc<MetadataImage>>,
    /// Proposals go through the active controller, wherever it is.
    client: tokio::sync::Mutex<ControllerClient<Tcp>>,
    producer_ids: ProducerIdBlocks,
    /// The partitions this node leads (the leader side of replication).
    pub leaders: Leaders,
    /// The `__consumer_offsets` partitions whose groups this node coordinates.
    pub groups: group_log::GroupPartitions,
    /// The partitions this node follows, for the replica fetchers.
    following: watch::Sender<Following>,
    /// The node's network gate (tests isolate a node): the controller's RPC, the broker's
    /// controller client and the replica fetchers go through it.
    network: NetworkGate,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl ClusterNode {
    /// Starts this node's controller on its quorum address and registers the broker with the
    /// quorum, advertising `listeners`. Returns before a quorum exists (the other voters may
    /// not have started yet): until then the image is empty and clients see no brokers.
    pub async fn start(
        config: &ClusterConfig,
        data_dir: &Path,
        props: &BrokerProperties,
        listeners: Vec<Endpoint>,
        network: NetworkGate,
    ) -> io::Result<Arc<Self>> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        let address = config.controller_address().map_err(invalid)?;
        let socket = TcpListener::bind(&address).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("controller listener cannot bind {address}: {e}"),
            )
        })?;
        let session_timeout_ms = props.long("broker.session.timeout.ms").max(100) as u64;
        let controller_config = ControllerConfig {
            node_id: config.node_id,
            data_dir: data_dir.to_path_buf(),
            voters: config.voters.clone(),
            sync: true,
            raft: ControllerConfig::default_raft_config(),
            broker_session_timeout_ms: session_timeout_ms,
            leader_rebalance: props.leader_rebalance(),
        };
        let controller = Controller::start_tcp(controller_config, socket, network.clone()).await?;
        let image = controller.watch_image();
        let incarnation = crate::time::random_uuid().as_u128();
        let identity = BrokerIdentity {
            id: config.node_id,
            incarnation,
            listeners,
            rack: props.get("broker.rack").map(str::to_string),
        };
        let heartbeat =
            Duration::from_millis(props.long("broker.heartbeat.interval.ms").max(10) as u64);
        let (registration, _) = watch::channel(None);
        let tcp = Tcp {
            gate: network.clone(),
        };
        let lifecycle = tokio::spawn(run_broker_lifecycle(
            ControllerClient::new(&config.voters, tcp.clone()),
            identity,
            heartbeat,
            registration,
        ));
        tracing::info!(
            node = config.node_id,
            controller = %address,
            voters = ?config.voters,
            "cluster mode: controller started, registering the broker"
        );
        Ok(Arc::new(Self {
            node_id: config.node_id,
            incarnation,
            controller: Mutex::new(Some(controller)),
            image,
            client: tokio::sync::Mutex::new(ControllerClient::new(&config.voters, tcp)),
            producer_ids: ProducerIdBlocks::default(),
            leaders: Leaders::default(),
            groups: group_log::GroupPartitions::default(),
            following: watch::channel(Following::new()).0,
            network,
            tasks: Mutex::new(vec![lifecycle]),
        }))
    }

    /// Starts what needs the broker's state: local logs following the image, producer-id
    /// blocks fetched ahead.
    pub fn spawn_tasks(self: &Arc<Self>, state: Arc<BrokerState>) {
        let reconcile = tokio::spawn(reconcile::run(
            state.clone(),
            self.clone(),
            self.image.clone(),
        ));
        let refill = tokio::spawn(producer_ids::refill(self.clone()));
        let ticks = tokio::spawn(leaders::run_ticks(self.clone()));
        let fetchers = tokio::spawn(replica_fetcher::run(self.clone(), state));
        self.tasks_lock()
            .extend([reconcile, refill, ticks, fetchers]);
    }

    fn tasks_lock(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The metadata image as this node's controller last applied it.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// Whether `image` has this process registered and unfenced: only then has the image
    /// caught up with the metadata log far enough for this node to lead partitions (after a
    /// restart the image replays old leaderships first).
    pub fn is_serving(&self, image: &MetadataImage) -> bool {
        image
            .brokers
            .get(&self.node_id)
            .is_some_and(|b| b.incarnation == self.incarnation && !b.fenced)
    }

    /// The active controller as this node knows it.
    pub fn active_controller(&self) -> Option<NodeId> {
        self.controller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(Controller::current_leader)
    }

    /// Appends `record` through the active controller, then waits (up to `wait`) until this
    /// node's image includes it, so the answer a client gets next agrees with the change.
    pub async fn propose(
        &self,
        record: MetadataRecord,
        wait: Duration,
    ) -> Result<Applied, ProposeError> {
        let (log_id, applied) = self.client.lock().await.propose(record).await?;
        let mut image = self.image.clone();
        let _ = tokio::time::timeout(wait, image.wait_for(|i| i.last_offset >= log_id.index)).await;
        Ok(applied)
    }

    /// A producer id from this broker's current block (InitProducerId). Fails, retriably, only
    /// while the first block has not arrived or the controller is unreachable for long.
    pub fn next_producer_id(&self) -> io::Result<i64> {
        self.producer_ids.next()
    }

    /// Stops the controller and the broker's tasks; the files stay for the next start. The
    /// controller fences this broker when its lease lapses.
    pub async fn shutdown(&self) {
        for task in self.tasks_lock().drain(..) {
            task.abort();
        }
        let controller = self
            .controller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = controller {
            c.shutdown().await;
        }
    }
}

/// The advertised listeners, as the image keeps them.
pub fn endpoints(listeners: &[Arc<crate::security::Listener>]) -> Vec<Endpoint> {
    listeners
        .iter()
        .map(|l| Endpoint {
            name: l.name.clone(),
            host: l.advertised_host.clone(),
            port: u16::try_from(l.advertised_port).unwrap_or(0),
        })
        .collect()
}
