//! How a broker reaches the active controller: proposals and heartbeats go to the controller it
//! believes active, follow a NotLeader answer's hint, and fall through the other voters when
//! one is unreachable. `BrokerLifecycle` registers a broker and keeps its lease.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::BasicNode;
use tokio::sync::watch;

use crate::active::HeartbeatReply;
use crate::controller::ProposeError;
use crate::metadata::{Applied, Endpoint, MetadataRecord, NodeId};
use crate::raft::LogId;
use crate::rpc::{RpcRequest, RpcResponse, Transport, TransportFactory};

/// Talks to whichever voter is the active controller.
#[derive(Debug)]
pub struct ControllerClient<F: TransportFactory> {
    voters: BTreeMap<NodeId, BasicNode>,
    factory: F,
    transports: BTreeMap<NodeId, F::Transport>,
    /// The voter that last answered as (or was named) the active controller.
    leader: Option<NodeId>,
}

/// Whether an answer is final or names another voter to ask.
enum Next<T> {
    Done(T),
    AskLeader(Option<NodeId>),
}

impl<F: TransportFactory> ControllerClient<F> {
    pub fn new(voters: &BTreeMap<NodeId, String>, factory: F) -> Self {
        Self {
            voters: voters
                .iter()
                .map(|(id, addr)| (*id, BasicNode::new(addr)))
                .collect(),
            factory,
            transports: BTreeMap::new(),
            leader: None,
        }
    }

    /// Sends `request` to the active controller, trying each voter at most twice.
    async fn call<T>(
        &mut self,
        request: RpcRequest,
        answer: impl Fn(RpcResponse) -> Option<Next<T>>,
    ) -> Result<T, ProposeError> {
        let ids: Vec<NodeId> = self.voters.keys().copied().collect();
        let mut last_error = String::from("no voters");
        for attempt in 0..ids.len() * 2 {
            let target = self.leader.unwrap_or(ids[attempt % ids.len()]);
            let node = self.voters[&target].clone();
            let factory = &mut self.factory;
            let transport = self
                .transports
                .entry(target)
                .or_insert_with(|| factory.connect(target, &node));
            let response = match transport.call(clone_request(&request)).await {
                Ok(r) => r,
                Err(e) => {
                    last_error = format!("controller {target}: {e}");
                    self.leader = None;
                    continue;
                }
            };
            match answer(response) {
                Some(Next::Done(t)) => {
                    self.leader = Some(target);
                    return Ok(t);
                }
                Some(Next::AskLeader(hint)) => {
                    last_error = format!("controller {target} is not active");
                    // A hint naming the voter just asked would loop; fall through instead.
                    self.leader = hint.filter(|h| *h != target && self.voters.contains_key(h));
                }
                None => {
                    last_error = format!("controller {target} answered another kind of response");
                    self.leader = None;
                }
            }
        }
        Err(ProposeError::Unavailable(last_error))
    }

    /// Appends `record` through the active controller.
    pub async fn propose(
        &mut self,
        record: MetadataRecord,
    ) -> Result<(LogId, Applied), ProposeError> {
        self.call(RpcRequest::Propose(record), |r| match r {
            RpcResponse::Propose(Err(ProposeError::NotLeader { leader })) => {
                Some(Next::AskLeader(leader))
            }
            RpcResponse::Propose(result) => Some(Next::Done(result)),
            _ => None,
        })
        .await?
    }

    pub async fn heartbeat(
        &mut self,
        broker: NodeId,
        epoch: u64,
    ) -> Result<HeartbeatReply, ProposeError> {
        self.call(RpcRequest::Heartbeat { broker, epoch }, |r| match r {
            RpcResponse::Heartbeat(HeartbeatReply::NotLeader { leader }) => {
                Some(Next::AskLeader(leader))
            }
            RpcResponse::Heartbeat(reply) => Some(Next::Done(reply)),
            _ => None,
        })
        .await
    }
}

/// Only proposals and heartbeats are retried, and they are small.
fn clone_request(request: &RpcRequest) -> RpcRequest {
    match request {
        RpcRequest::Propose(r) => RpcRequest::Propose(r.clone()),
        RpcRequest::Heartbeat { broker, epoch } => RpcRequest::Heartbeat {
            broker: *broker,
            epoch: *epoch,
        },
        RpcRequest::AppendEntries(r) => RpcRequest::AppendEntries(r.clone()),
        RpcRequest::Vote(r) => RpcRequest::Vote(r.clone()),
        RpcRequest::Snapshot { vote, meta, data } => RpcRequest::Snapshot {
            vote: *vote,
            meta: meta.clone(),
            data: data.clone(),
        },
    }
}

/// Who a broker is, for its registration.
#[derive(Debug, Clone)]
pub struct BrokerIdentity {
    pub id: NodeId,
    /// Random per process start.
    pub incarnation: u128,
    pub listeners: Vec<Endpoint>,
    pub rack: Option<String>,
}

/// Registers a broker and heartbeats every `interval` until the task is dropped; registers
/// again when the controller no longer knows its epoch. `epoch` publishes the current broker
/// epoch and whether the broker is live (unfenced).
pub async fn run_broker_lifecycle<F: TransportFactory>(
    mut client: ControllerClient<F>,
    identity: BrokerIdentity,
    interval: Duration,
    state: watch::Sender<Option<(u64, bool)>>,
) {
    let mut epoch: Option<u64> = None;
    loop {
        match epoch {
            None => {
                let record = MetadataRecord::RegisterBroker {
                    id: identity.id,
                    incarnation: identity.incarnation,
                    listeners: identity.listeners.clone(),
                    rack: identity.rack.clone(),
                };
                if let Ok((_, Applied::Registered { epoch: e })) = client.propose(record).await {
                    epoch = Some(e);
                    state.send_replace(Some((e, false)));
                    continue;
                }
            }
            Some(e) => match client.heartbeat(identity.id, e).await {
                Ok(HeartbeatReply::Live) => {
                    state.send_replace(Some((e, true)));
                }
                Ok(HeartbeatReply::Fenced) | Err(_) => {}
                Ok(HeartbeatReply::Unregistered) => epoch = None,
                Ok(HeartbeatReply::NotLeader { .. }) => {}
            },
        }
        tokio::time::sleep(interval).await;
    }
}
