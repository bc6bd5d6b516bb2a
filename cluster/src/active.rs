//! What only the active controller does for brokers: it keeps their heartbeat leases, unfences
//! a broker whose heartbeat names its current epoch, and fences one whose lease lapsed (which
//! moves its leaderships, see `MetadataImage::apply`). Leases live in memory only; a newly
//! active controller starts them afresh (`Leases` grants a full lease on its first look).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::ServerState;
use openraft::error::{ClientWriteError, RaftError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::controller::ProposeError;
use crate::lease::Leases;
use crate::metadata::{Applied, Election, MetadataImage, MetadataRecord, NodeId};
use crate::raft::{LogId, Raft};

/// The active controller's answer to a broker heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeartbeatReply {
    /// The broker may lead and be in ISRs.
    Live,
    /// Registered but fenced (it could not be unfenced now; heartbeat again).
    Fenced,
    /// No registration with this epoch: register again.
    Unregistered,
    NotLeader {
        leader: Option<NodeId>,
    },
}

#[derive(Debug)]
struct LeaseTable {
    /// The term these leases were granted in; a new term starts them afresh.
    term: Option<u64>,
    leases: Leases,
}

/// A handle on one controller's raft and its active-controller duties; cheap to clone. The RPC
/// server and the simulation's network hand requests to it.
#[derive(Clone)]
pub struct ControllerHandle {
    raft: Raft,
    image: watch::Receiver<Arc<MetadataImage>>,
    table: Arc<Mutex<LeaseTable>>,
    started: tokio::time::Instant,
    session_timeout_ms: u64,
}

impl std::fmt::Debug for ControllerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerHandle")
            .field("session_timeout_ms", &self.session_timeout_ms)
            .finish_non_exhaustive()
    }
}

impl ControllerHandle {
    pub fn new(
        raft: Raft,
        image: watch::Receiver<Arc<MetadataImage>>,
        session_timeout_ms: u64,
    ) -> Self {
        Self {
            raft,
            image,
            table: Arc::new(Mutex::new(LeaseTable {
                term: None,
                leases: Leases::new(session_timeout_ms),
            })),
            started: tokio::time::Instant::now(),
            session_timeout_ms,
        }
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// Appends `record` through the quorum and returns what applying it decided, once it is
    /// committed and applied here. Only the active controller accepts proposals.
    pub async fn propose(&self, record: MetadataRecord) -> Result<(LogId, Applied), ProposeError> {
        match self.raft.client_write(record).await {
            Ok(r) => Ok((r.log_id, r.data)),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(e) => Err(ProposeError::Stopped(e.to_string())),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn leading_term(&self) -> Result<u64, Option<NodeId>> {
        let m = self.raft.metrics().borrow().clone();
        if m.state == ServerState::Leader {
            Ok(m.current_term)
        } else {
            Err(m.current_leader)
        }
    }

    fn with_leases<R>(&self, term: u64, f: impl FnOnce(&mut Leases) -> R) -> R {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.term != Some(term) {
            table.term = Some(term);
            table.leases = Leases::new(self.session_timeout_ms);
        }
        f(&mut table.leases)
    }

    /// A broker's heartbeat (Kafka's BrokerHeartbeat): renews its lease and unfences it.
    pub async fn heartbeat(&self, broker: NodeId, epoch: u64) -> HeartbeatReply {
        let term = match self.leading_term() {
            Ok(t) => t,
            Err(leader) => return HeartbeatReply::NotLeader { leader },
        };
        let registered = self.image().brokers.get(&broker).cloned();
        let Some(b) = registered.filter(|b| b.epoch == epoch) else {
            return HeartbeatReply::Unregistered;
        };
        let now = self.now_ms();
        self.with_leases(term, |l| l.heartbeat(broker, epoch, now));
        if !b.fenced {
            return HeartbeatReply::Live;
        }
        match self
            .propose(MetadataRecord::UnfenceBroker { id: broker, epoch })
            .await
        {
            Ok((_, Applied::Done)) => HeartbeatReply::Live,
            Ok(_) => HeartbeatReply::Unregistered,
            Err(ProposeError::NotLeader { leader }) => HeartbeatReply::NotLeader { leader },
            Err(ProposeError::Stopped(_) | ProposeError::Unavailable(_)) => HeartbeatReply::Fenced,
        }
    }

    /// On the active controller: fences every broker whose lease lapsed.
    pub async fn fence_lapsed(&self) {
        let Ok(term) = self.leading_term() else {
            return;
        };
        let image = self.image();
        let now = self.now_ms();
        for record in self.with_leases(term, |l| l.expired(&image, now)) {
            if let Err(e) = self.propose(record.clone()).await {
                tracing::info!(error = %e, ?record, "fencing a broker whose lease lapsed");
                return;
            }
        }
    }

    /// On the active controller: preferred-replica elections for the brokers whose share of
    /// partitions led elsewhere is above `imbalance_percent` (Kafka's automatic leader
    /// rebalance). A refused election (the image moved on meanwhile) is simply not done.
    pub async fn rebalance_leaders(&self, imbalance_percent: u32) {
        if self.leading_term().is_err() {
            return;
        }
        for (topic, partition) in self.image().preferred_elections_due(imbalance_percent) {
            let record = MetadataRecord::ElectLeader {
                topic,
                partition,
                election: Election::Preferred,
            };
            match self.propose(record.clone()).await {
                Ok((_, Applied::Done)) => tracing::info!(?record, "preferred leader elected"),
                Ok(_) => {}
                Err(e) => {
                    tracing::info!(error = %e, ?record, "automatic leader rebalance");
                    return;
                }
            }
        }
    }

    /// Runs `rebalance_leaders` every `every` until the task is aborted.
    pub fn spawn_leader_rebalance(
        &self,
        every: Duration,
        imbalance_percent: u32,
    ) -> tokio::task::JoinHandle<()> {
        let handle = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                handle.rebalance_leaders(imbalance_percent).await;
            }
        })
    }

    /// Checks leases every `every` until the task is aborted.
    pub fn spawn_lease_checks(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let handle = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                handle.fence_lapsed().await;
            }
        })
    }
}
