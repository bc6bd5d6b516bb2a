//! The controllers' RPC: openraft's three messages (append entries, vote, full snapshot) and
//! brokers' proposals and heartbeats, as length-prefixed JSON frames over TCP, one request in
//! flight per connection.
//!
//! Not Kafka frames: KRaft's Vote/BeginQuorumEpoch/Fetch carry a different protocol than
//! openraft's, so Kafka tools could not use them anyway, and a private listener keeps the
//! quorum's traffic off the client listeners. `Transport` is the seam: the TCP client here and
//! the simulation's in-memory network both carry `RpcRequest`s to `dispatch`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use openraft::BasicNode;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::active::{ControllerHandle, HeartbeatReply};
use crate::controller::ProposeError;
use crate::gate::NetworkGate;
use crate::metadata::{Applied, MetadataRecord, NodeId};
use crate::raft::{LogId, Snapshot, SnapshotMeta, TypeConfig, Vote};

/// A frame longer than this closes the connection.
const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub enum RpcRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    Snapshot {
        vote: Vote,
        meta: SnapshotMeta,
        data: Vec<u8>,
    },
    /// A broker (or another controller) asks the active controller to append a record.
    Propose(MetadataRecord),
    /// A broker's heartbeat to the active controller.
    Heartbeat {
        broker: NodeId,
        epoch: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RpcResponse {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    Snapshot(Result<SnapshotResponse<u64>, Fatal<u64>>),
    Propose(Result<(LogId, Applied), ProposeError>),
    Heartbeat(HeartbeatReply),
}

/// Hands a request to this controller and returns its answer.
pub async fn dispatch(controller: &ControllerHandle, request: RpcRequest) -> RpcResponse {
    let raft = controller.raft();
    match request {
        RpcRequest::AppendEntries(r) => RpcResponse::AppendEntries(raft.append_entries(r).await),
        RpcRequest::Vote(r) => RpcResponse::Vote(raft.vote(r).await),
        RpcRequest::Snapshot { vote, meta, data } => {
            let snapshot = Snapshot {
                meta,
                snapshot: Box::new(data),
            };
            RpcResponse::Snapshot(raft.install_full_snapshot(vote, snapshot).await)
        }
        RpcRequest::Propose(record) => RpcResponse::Propose(controller.propose(record).await),
        RpcRequest::Heartbeat { broker, epoch } => {
            RpcResponse::Heartbeat(controller.heartbeat(broker, epoch).await)
        }
    }
}

/// Carries one request to one peer and brings back its answer; an error means the peer could
/// not be reached (raft retries).
pub trait Transport: Send + Sync + 'static {
    fn call(&mut self, request: RpcRequest)
    -> impl Future<Output = io::Result<RpcResponse>> + Send;
}

/// Makes one `Transport` per peer.
pub trait TransportFactory: Send + Sync + 'static {
    type Transport: Transport;
    fn connect(&mut self, target: u64, node: &BasicNode) -> Self::Transport;
}

/// openraft's network over any `TransportFactory`.
#[derive(Debug)]
pub struct Network<F>(pub F);

/// openraft's per-peer client over a `Transport`.
#[derive(Debug)]
pub struct Peer<T> {
    target: u64,
    transport: T,
}

impl<F: TransportFactory> RaftNetworkFactory<TypeConfig> for Network<F> {
    type Network = Peer<F::Transport>;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Self::Network {
        Peer {
            target,
            transport: self.0.connect(target, node),
        }
    }
}

impl<T: Transport> Peer<T> {
    /// One call, given up after openraft's hard deadline for it (a stopped peer never answers).
    async fn call(&mut self, request: RpcRequest, option: &RPCOption) -> io::Result<RpcResponse> {
        match tokio::time::timeout(option.hard_ttl(), self.transport.call(request)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("controller {} did not answer in time", self.target),
            )),
        }
    }
}

impl<T> Peer<T> {
    /// openraft's error for a call's outcome: unreachable, the peer's raft error, or a reply of
    /// the wrong kind; `pick` takes the expected kind out of the response. (The error type is
    /// openraft's, as `RaftNetwork` returns it.)
    #[allow(clippy::result_large_err)]
    fn answer<R>(
        &self,
        what: &str,
        got: io::Result<RpcResponse>,
        pick: impl FnOnce(RpcResponse) -> Option<Result<R, RaftError<u64>>>,
    ) -> Result<R, RPCError<u64, BasicNode, RaftError<u64>>> {
        match got.map(pick) {
            Ok(Some(Ok(r))) => Ok(r),
            Ok(Some(Err(e))) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            Ok(None) => Err(RPCError::Network(NetworkError::new(&unexpected(what)))),
            Err(e) => Err(RPCError::Unreachable(Unreachable::new(&e))),
        }
    }
}

fn unexpected(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("peer answered a {what} with another kind of response"),
    )
}

impl<T: Transport> RaftNetwork<TypeConfig> for Peer<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let got = self.call(RpcRequest::AppendEntries(rpc), &option).await;
        self.answer("append", got, |r| match r {
            RpcResponse::AppendEntries(a) => Some(a),
            _ => None,
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let got = self.call(RpcRequest::Vote(rpc), &option).await;
        self.answer("vote", got, |r| match r {
            RpcResponse::Vote(v) => Some(v),
            _ => None,
        })
    }

    #[allow(deprecated)]
    async fn install_snapshot(
        &mut self,
        _rpc: openraft::raft::InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        openraft::raft::InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        // With `generic-snapshot-data` openraft sends snapshots through `full_snapshot` only.
        let e = io::Error::other("chunked snapshots are not used; full_snapshot is");
        Err(RPCError::Network(NetworkError::new(&e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let request = RpcRequest::Snapshot {
            vote,
            meta: snapshot.meta,
            data: *snapshot.snapshot,
        };
        match self.call(request, &option).await {
            Ok(RpcResponse::Snapshot(Ok(r))) => Ok(r),
            Ok(RpcResponse::Snapshot(Err(e))) => Err(StreamingError::RemoteError(
                RemoteError::new(self.target, e),
            )),
            Ok(_) => Err(StreamingError::Network(NetworkError::new(&unexpected(
                "snapshot",
            )))),
            Err(e) => Err(StreamingError::Unreachable(Unreachable::new(&e))),
        }
    }
}

async fn write_frame<T: Serialize>(stream: &mut TcpStream, value: &T) -> io::Result<()> {
    let body = serde_json::to_vec(value).map_err(io::Error::other)?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    stream.write_all(&buf).await
}

/// `Ok(None)` at a clean end of stream between frames.
async fn read_frame<T: for<'de> Deserialize<'de>>(stream: &mut TcpStream) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("controller RPC frame of {len} bytes exceeds {MAX_FRAME}"),
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Answers peers on `listener` until the task is aborted (which also ends its connections).
/// A connection that sends a bad frame is closed; the listener goes on. While `gate` is
/// closed connections are dropped as they arrive, and isolation ends the open ones.
pub async fn serve(listener: TcpListener, controller: ControllerHandle, gate: NetworkGate) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = connections.join_next() => continue,
        };
        let (mut stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "controller listener: accept failed");
                continue;
            }
        };
        if gate.is_isolated() {
            continue;
        }
        let _ = stream.set_nodelay(true);
        let controller = controller.clone();
        let gate = gate.clone();
        connections.spawn(async move {
            gate.cut_on_isolation(async {
                loop {
                    let request = match read_frame::<RpcRequest>(&mut stream).await {
                        Ok(Some(r)) => r,
                        Ok(None) => return,
                        Err(e) => {
                            tracing::warn!(%peer, error = %e, "controller RPC: closing connection");
                            return;
                        }
                    };
                    let response = dispatch(&controller, request).await;
                    if write_frame(&mut stream, &response).await.is_err() {
                        return;
                    }
                }
            })
            .await;
        });
    }
}

/// A peer over TCP at the address in its `BasicNode`; reconnects after any error.
#[derive(Debug)]
pub struct TcpTransport {
    addr: String,
    stream: Option<TcpStream>,
    gate: NetworkGate,
}

impl TcpTransport {
    async fn exchange(&mut self, request: &RpcRequest) -> io::Result<RpcResponse> {
        if self.gate.is_isolated() {
            return Err(self.gate.refused());
        }
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        write_frame(stream, request).await?;
        read_frame(stream).await?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "controller peer closed the connection before answering",
            )
        })
    }
}

impl Transport for TcpTransport {
    async fn call(&mut self, request: RpcRequest) -> io::Result<RpcResponse> {
        let gate = self.gate.clone();
        let result = match gate.cut_on_isolation(self.exchange(&request)).await {
            Some(result) => result,
            None => Err(gate.refused()),
        };
        if result.is_err() {
            // The stream may hold half a frame: start over on the next call.
            self.stream = None;
        }
        result
    }
}

/// Connects to peers over TCP, through this node's network gate (`Tcp::default()`: one that
/// stays open).
#[derive(Debug, Default, Clone)]
pub struct Tcp {
    pub gate: NetworkGate,
}

impl TransportFactory for Tcp {
    type Transport = TcpTransport;
    fn connect(&mut self, _target: u64, node: &BasicNode) -> TcpTransport {
        TcpTransport {
            addr: node.addr.clone(),
            stream: None,
            gate: self.gate.clone(),
        }
    }
}

/// Binds a controller listener on `addr` (tests: 127.0.0.1:0) and reports where it is.
pub async fn bind(addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
