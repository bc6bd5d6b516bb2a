//! One controller: openraft over our storage and a network, proposing `MetadataRecord`s and
//! publishing every applied `MetadataImage` on a watch channel.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{InitializeError, RaftError};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::active::ControllerHandle;
use crate::election;
use crate::gate::NetworkGate;
use crate::metadata::{Applied, MetadataImage, MetadataRecord, NodeId};
use crate::raft::{LogId, Raft};
use crate::rpc::{self, Network, Tcp, TransportFactory};
use crate::store::{self, ApplyObserver, LogStore, StateMachineStore};

/// What a controller needs to start.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub node_id: NodeId,
    /// The node's data dir; the quorum keeps its files in `__cluster_metadata-0/` inside it.
    pub data_dir: PathBuf,
    /// Every voter and its controller address (`--controller-quorum`), this node included.
    pub voters: BTreeMap<NodeId, String>,
    /// fsync each log write, vote and snapshot (off only in simulation).
    pub sync: bool,
    pub raft: openraft::Config,
    /// Kafka's `broker.session.timeout.ms`: a broker silent this long is fenced.
    pub broker_session_timeout_ms: u64,
    /// `auto.leader.rebalance.enable`: how often the active controller looks for leaderships
    /// away from their preferred replica, and the share of them per broker (percent) it lets
    /// be (`leader.imbalance.check.interval.seconds`, `leader.imbalance.per.broker.percentage`).
    pub leader_rebalance: Option<(Duration, u32)>,
}

impl ControllerConfig {
    /// openraft's timing for a controller quorum on one host or a LAN: heartbeats every 50 ms,
    /// elections after 300–600 ms of silence, a snapshot every 1000 records.
    pub fn default_raft_config() -> openraft::Config {
        openraft::Config {
            cluster_name: "odradek-metadata".into(),
            heartbeat_interval: 50,
            election_timeout_min: 300,
            election_timeout_max: 600,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(1000),
            max_in_snapshot_log_to_keep: 100,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ProposeError {
    /// Only the active controller appends; retry there (`leader` is `None` during an election).
    #[error("this controller is not the active one; the active controller is {leader:?}")]
    NotLeader { leader: Option<NodeId> },
    #[error("the metadata quorum stopped: {0}")]
    Stopped(String),
    /// No controller answered (all unreachable, or none active); retry later.
    #[error("no active controller could be reached: {0}")]
    Unavailable(String),
}

/// A running controller.
pub struct Controller {
    pub node_id: NodeId,
    handle: ControllerHandle,
    image: watch::Receiver<Arc<MetadataImage>>,
    /// The lease checks, and the controller listener (`start_tcp`).
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// Opens this node's metadata log and state machine in `config.data_dir` and starts raft on
    /// `network`. On a node that has never voted, proposes the configured voters as the first
    /// membership (every voter may do this; they propose the same set).
    pub async fn start<F: TransportFactory>(
        config: ControllerConfig,
        network: F,
        observer: Option<ApplyObserver>,
    ) -> io::Result<Self> {
        let dir = config.data_dir.join(store::DIR);
        let log = LogStore::open(&dir, config.sync)?;
        let (sm, image) = StateMachineStore::open(&dir, config.sync, observer)?;
        let raft_config = config
            .raft
            .clone()
            .validate()
            .map_err(|e| invalid(format!("controller raft config: {e}")))?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            Network(network),
            log,
            sm,
        )
        .await
        .map_err(|e| io::Error::other(format!("starting controller {}: {e}", config.node_id)))?;
        let members: BTreeMap<NodeId, BasicNode> = config
            .voters
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        if !members.contains_key(&config.node_id) {
            return Err(invalid(format!(
                "controller {} is not among the voters {:?}",
                config.node_id,
                members.keys().collect::<BTreeSet<_>>()
            )));
        }
        match raft.initialize(members).await {
            Ok(()) => {}
            // Already initialized (a restart, or a peer's membership arrived first).
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
            Err(e) => {
                return Err(io::Error::other(format!(
                    "initializing controller {}: {e}",
                    config.node_id
                )));
            }
        }
        let breaker = election::spawn_split_vote_breaker(
            raft.clone(),
            config.raft.election_timeout_min..config.raft.election_timeout_max,
        );
        let handle = ControllerHandle::new(raft, image.clone(), config.broker_session_timeout_ms);
        // A lease is checked a few times per session timeout, so a lapse is acted on promptly.
        let every = Duration::from_millis((config.broker_session_timeout_ms / 4).max(10));
        let mut tasks = vec![breaker, handle.spawn_lease_checks(every)];
        if let Some((every, percent)) = config.leader_rebalance {
            tasks.push(handle.spawn_leader_rebalance(every, percent));
        }
        Ok(Self {
            node_id: config.node_id,
            handle,
            image,
            tasks,
        })
    }

    /// `start` over TCP: peers are reached at the voters' addresses and answered on `listener`,
    /// both through `gate` (the node's network gate; `NetworkGate::default()` stays open).
    pub async fn start_tcp(
        config: ControllerConfig,
        listener: TcpListener,
        gate: NetworkGate,
    ) -> io::Result<Self> {
        let tcp = Tcp { gate: gate.clone() };
        let mut controller = Self::start(config, tcp, None).await?;
        let server = tokio::spawn(rpc::serve(listener, controller.handle.clone(), gate));
        controller.tasks.push(server);
        Ok(controller)
    }

    /// Appends `record` through the quorum (see `ControllerHandle::propose`).
    pub async fn propose(&self, record: MetadataRecord) -> Result<(LogId, Applied), ProposeError> {
        self.handle.propose(record).await
    }

    /// What the RPC server and the simulation's network hand requests to.
    pub fn handle(&self) -> &ControllerHandle {
        &self.handle
    }

    /// The image as of the last applied record.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// Wakes on every applied batch (how a broker on this node learns metadata).
    pub fn watch_image(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.image.clone()
    }

    /// The active controller as this node knows it.
    pub fn current_leader(&self) -> Option<NodeId> {
        self.raft().metrics().borrow().current_leader
    }

    pub fn raft(&self) -> &Raft {
        self.handle.raft()
    }

    /// Stops raft; the files stay for the next start.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(e) = self.raft().shutdown().await {
            tracing::warn!(node = self.node_id, error = %e, "controller shutdown");
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The quorum's directory inside a data dir.
pub fn metadata_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(store::DIR)
}
