//! Where the coordinator's durable state goes: one interface, two backends. A single node keeps
//! committed offsets in a local file (`offsets::FileStore`); in cluster mode they, and the
//! groups' membership, are records of the `__consumer_offsets` partition that owns the group
//! (`cluster_mode::group_log`), replicated like any partition and acknowledged once the high
//! watermark covers them.
//!
//! The coordinator applies a change to its memory first, then writes it: a backend compacting
//! its file rewrites it from `live`, which must already hold the change.

use std::future::Future;
use std::pin::Pin;

use super::offsets::{Committed, OffsetMap};
use super::snapshot::GroupSnapshot;

/// One change of a group's durable state.
#[derive(Debug, Clone, Copy)]
pub enum GroupWrite<'a> {
    /// A committed offset, or its deletion (`None`: OffsetDelete, DeleteGroups).
    Offset {
        topic: &'a str,
        partition: i32,
        committed: Option<&'a Committed>,
    },
    /// The group's membership as it should survive a coordinator move, or its deletion.
    Membership(Option<&'a GroupSnapshot>),
}

impl<'a> GroupWrite<'a> {
    /// The writes of (topic, partition, committed offset or deletion) changes.
    pub fn offsets(changes: &'a [(String, i32, Option<Committed>)]) -> Vec<Self> {
        changes
            .iter()
            .map(|(topic, partition, committed)| GroupWrite::Offset {
                topic,
                partition: *partition,
                committed: committed.as_ref(),
            })
            .collect()
    }
}

/// Resolves once the write is as durable as the backend makes it; `Err` is the Kafka error code
/// to answer (retriable: REQUEST_TIMED_OUT, NOT_COORDINATOR).
pub type Pending = Pin<Box<dyn Future<Output = Result<(), i16>> + Send>>;

/// A write that could not be made.
#[derive(Debug, Clone)]
pub struct WriteError {
    pub code: i16,
    pub message: String,
}

pub trait GroupStorage: Send + std::fmt::Debug {
    /// Whether membership is written (`GroupWrite::Membership`); the coordinator skips
    /// computing it otherwise.
    fn keeps_membership(&self) -> bool;

    /// Writes the changes of one group (already applied to `live`). `Ok(None)`: durable now;
    /// `Ok(Some(p))`: appended, durable when `p` resolves.
    fn write(
        &mut self,
        group: &str,
        writes: &[GroupWrite<'_>],
        live: &OffsetMap,
    ) -> Result<Option<Pending>, WriteError>;
}
