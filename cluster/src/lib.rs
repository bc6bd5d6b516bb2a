//! Odradek's cluster metadata quorum (issue #22, in progress; see "Cluster" in
//! docs/ARCHITECTURE.md). The broker's cluster mode runs it
//! (`broker/src/cluster_mode/`).
//!
//! - `metadata`: the replicated state (`MetadataImage`) and its records, sans-io.
//! - `lease`: broker heartbeat leases on the active controller, sans-io.
//! - `replication`: a partition leader's follower positions, ISR and high watermark, and
//!   leader-epoch divergence, sans-io.
//! - `raft`: openraft's type configuration and a tokio runtime with seedable randomness.
//! - `election`: a fresh random timeout for every failed election (breaks repeated split votes).
//! - `store`: the raft log, vote and snapshots in the data dir.
//! - `rpc`: the controllers' framed RPC over TCP and the `Transport` seam the simulation uses.
//! - `active`: the active controller's broker duties: heartbeats, leases, fencing.
//! - `gate`: a node's network gate (tests' network partitions: isolate / heal).
//! - `client`: how a broker reaches the active controller (register, heartbeat, propose).
//! - `controller`: one controller node tying them together.

pub mod active;
pub mod client;
pub mod controller;
pub mod election;
pub mod gate;
pub mod lease;
pub mod metadata;
pub mod raft;
pub mod replication;
pub mod rpc;
pub mod store;

pub use controller::{Controller, ControllerConfig, ProposeError};
pub use gate::NetworkGate;
pub use metadata::{Applied, MetadataImage, MetadataRecord, NodeId};
