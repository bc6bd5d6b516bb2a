//! Group coordinators on the internal `__consumer_offsets` topic (cluster mode), as Kafka
//! places them: a group belongs to partition `abs(javaStringHashCode(group id)) % partitions`,
//! and the leader of that partition coordinates it. Committed offsets and group membership are
//! records of that partition ([`PartitionStore`], the replicated backend of
//! `group::storage`), replicated by the follower fetchers like any partition; a commit is
//! acknowledged once the high watermark covers it. When this node starts leading such a
//! partition it replays it into the coordinator ([`GroupPartitions::sync`]); when it stops, the
//! partition's groups are dropped here.
//!
//! Record format (ours, versioned; only this broker reads it, and it is simpler than Kafka's
//! schemas while keeping their keys, so compaction keeps the latest record per key):
//! - key: `[format u8 = 1][kind u8][group str]`, then `[topic str][partition i32]` for an
//!   offset (strings are `[len u32][utf-8]`);
//! - value of an offset: `[format u8 = 1]` and `Committed::put`; of a group: the JSON of
//!   `group::snapshot::GroupSnapshot`; a null value is a tombstone (OffsetDelete, DeleteGroups).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use odradek_protocol::records::{BatchHeader, BatchOptions, RecordBatchBuilder, RecordBatches};

use super::ClusterNode;
use super::delayed_produce::{self, NOT_LEADER_OR_FOLLOWER};
use super::leaders::Led;
use crate::group::Replayed;
use crate::group::offsets::{Committed, OffsetMap, Reader, put_str};
use crate::group::snapshot::GroupSnapshot;
use crate::group::storage::{GroupStorage, GroupWrite, Pending, WriteError};
use crate::state::BrokerState;
use crate::topics::OFFSETS_TOPIC;

/// Kafka's error codes of a coordinator that is not (yet) one.
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const NOT_COORDINATOR: i16 = 16;

const FORMAT: u8 = 1;
const KIND_OFFSET: u8 = 1;
const KIND_GROUP: u8 = 2;
/// How long a commit waits for replication (Kafka's `offsets.commit.timeout.ms` default).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of the partition one read of the replay takes.
const REPLAY_CHUNK: usize = 1 << 20;

/// Java's `String.hashCode` (over UTF-16 code units), which Kafka places groups by.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The partition of `__consumer_offsets` that owns `group` (Kafka's `Utils.abs(hash) % n`).
pub fn partition_for(group: &str, partitions: usize) -> u32 {
    let h = java_string_hash(group);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    (abs as usize % partitions.max(1)) as u32
}

/// The offsets topic's partition count in `node`'s image, if the topic exists.
fn offsets_partitions(node: &ClusterNode) -> Option<usize> {
    node.image()
        .topics
        .get(OFFSETS_TOPIC)
        .map(|t| t.partitions.len())
        .filter(|n| *n > 0)
}

fn group_key(kind: u8, group: &str) -> Vec<u8> {
    let mut k = vec![FORMAT, kind];
    put_str(&mut k, group);
    k
}

fn offset_key(group: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut k = group_key(KIND_OFFSET, group);
    put_str(&mut k, topic);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

/// The replicated backend: appends to the led partition that owns the group.
#[derive(Debug)]
pub struct PartitionStore {
    node: Arc<ClusterNode>,
}

impl PartitionStore {
    pub fn new(node: Arc<ClusterNode>) -> Self {
        Self { node }
    }

    fn led_partition(&self, group: &str) -> Result<Arc<Led>, WriteError> {
        let not_coordinator = || WriteError {
            code: NOT_COORDINATOR,
            message: format!("this node does not lead the {OFFSETS_TOPIC} partition of {group}"),
        };
        let n = offsets_partitions(&self.node).ok_or_else(not_coordinator)?;
        let p = partition_for(group, n);
        self.node
            .leaders
            .get(OFFSETS_TOPIC, p as i32)
            .ok_or_else(not_coordinator)
    }
}

impl GroupStorage for PartitionStore {
    fn keeps_membership(&self) -> bool {
        true
    }

    fn write(
        &mut self,
        group: &str,
        writes: &[GroupWrite<'_>],
        _live: &OffsetMap,
    ) -> Result<Option<Pending>, WriteError> {
        if writes.is_empty() {
            return Ok(None);
        }
        let led = self.led_partition(group)?;
        if let Err(why) = led.check_acks_all() {
            return Err(WriteError {
                code: COORDINATOR_NOT_AVAILABLE,
                message: why,
            });
        }
        let now = crate::time::now_ms();
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        let corrupt = |e: odradek_protocol::records::RecordsError| WriteError {
            code: crate::group::codes::KAFKA_STORAGE_ERROR,
            message: format!("encoding a group record: {e}"),
        };
        for w in writes {
            let (key, value) = match w {
                GroupWrite::Offset {
                    topic,
                    partition,
                    committed,
                } => (
                    offset_key(group, topic, *partition),
                    committed.map(|c| {
                        let mut v = vec![FORMAT];
                        c.put(&mut v);
                        v
                    }),
                ),
                GroupWrite::Membership(s) => {
                    (group_key(KIND_GROUP, group), s.map(GroupSnapshot::encode))
                }
            };
            b.push(now, Some(&key), value.as_deref(), &[])
                .map_err(corrupt)?;
        }
        let bytes = b.finish().map_err(corrupt)?;
        let header = BatchHeader::parse(&bytes).map_err(corrupt)?;
        let info = led
            .partition
            .log()
            .append(&bytes, &header, now)
            .map_err(|e| WriteError {
                code: NOT_COORDINATOR,
                message: format!("appending to {OFFSETS_TOPIC}: {e}"),
            })?;
        led.appended();
        led.partition.data_arrived.notify_waiters();
        let upto = info.last_offset + 1;
        Ok(Some(Box::pin(async move {
            // As Kafka's coordinator: a lost leadership is NOT_COORDINATOR, anything else
            // (timeout, ISR below min.insync.replicas) COORDINATOR_NOT_AVAILABLE; both retriable.
            delayed_produce::wait_for_high_watermark(led, upto, COMMIT_TIMEOUT)
                .await
                .map_err(|code| {
                    if code == NOT_LEADER_OR_FOLLOWER {
                        NOT_COORDINATOR
                    } else {
                        COORDINATOR_NOT_AVAILABLE
                    }
                })
        })))
    }
}

/// The offsets partitions whose groups this node has loaded, with the leader epoch loaded in.
#[derive(Debug, Default)]
pub struct GroupPartitions {
    loaded: Mutex<BTreeMap<u32, i32>>,
}

impl GroupPartitions {
    fn loaded(&self) -> MutexGuard<'_, BTreeMap<u32, i32>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this node coordinates `group` now: `Err` is NOT_COORDINATOR (another node
    /// leads its partition, or none does yet) or COORDINATOR_LOAD_IN_PROGRESS (being replayed).
    pub fn coordinates(&self, node: &ClusterNode, group: &str) -> Result<(), i16> {
        let n = offsets_partitions(node).ok_or(NOT_COORDINATOR)?;
        let p = partition_for(group, n);
        let led = node
            .leaders
            .get(OFFSETS_TOPIC, p as i32)
            .ok_or(NOT_COORDINATOR)?;
        match self.loaded().get(&p) {
            Some(epoch) if *epoch == led.leader_epoch() => Ok(()),
            _ => Err(COORDINATOR_LOAD_IN_PROGRESS),
        }
    }

    /// Brings the loaded groups in line with the offsets partitions this node leads (after
    /// `Leaders::apply`): unloads the lost ones, replays the new ones. Blocking (reads logs).
    pub fn sync(&self, state: &BrokerState, node: &ClusterNode) {
        let n = offsets_partitions(node).unwrap_or(0);
        let led: BTreeMap<u32, Arc<Led>> = (0..n as u32)
            .filter_map(|p| Some((p, node.leaders.get(OFFSETS_TOPIC, p as i32)?)))
            .collect();
        let gone: Vec<u32> = self
            .loaded()
            .iter()
            .filter(|(p, epoch)| led.get(p).is_none_or(|l| l.leader_epoch() != **epoch))
            .map(|(p, _)| *p)
            .collect();
        for p in gone {
            self.loaded().remove(&p);
            state.groups.unload(|g| partition_for(g, n) == p);
            tracing::info!(
                partition = p,
                "unloaded the groups of an {OFFSETS_TOPIC} partition"
            );
        }
        for (p, l) in led {
            if self.loaded().contains_key(&p) {
                continue;
            }
            let epoch = l.leader_epoch();
            match replay(&l) {
                Ok((replayed, records)) => {
                    state.groups.load(replayed);
                    self.loaded().insert(p, epoch);
                    tracing::info!(
                        partition = p,
                        epoch,
                        records,
                        "loaded the groups of an {OFFSETS_TOPIC} partition"
                    );
                }
                Err(e) => {
                    tracing::error!(partition = p, "replaying an {OFFSETS_TOPIC} partition: {e}")
                }
            }
        }
    }
}

/// Reads the whole local log of a led offsets partition (all of it is this leader's now) into
/// groups. Returns them with the number of records read.
fn replay(led: &Led) -> std::io::Result<(Replayed, usize)> {
    let mut replayed = Replayed::default();
    let mut records = 0;
    let (mut offset, end) = {
        let log = led.partition.log();
        (log.log_start_offset(), log.log_end_offset())
    };
    while offset < end {
        let plan = led
            .partition
            .log()
            .read_for_replica(offset, REPLAY_CHUNK)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let Some(plan) = plan else { break };
        let before = offset;
        for batch in RecordBatches::new(plan.read()?) {
            let batch = batch.map_err(|e| std::io::Error::other(e.to_string()))?;
            offset = batch.header.next_offset();
            if batch.header.is_control() {
                continue;
            }
            let rs = batch
                .records()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            for r in rs {
                let r = r.map_err(|e| std::io::Error::other(e.to_string()))?;
                records += 1;
                if let Some(key) = &r.key
                    && apply(&mut replayed, key, r.value.as_deref()).is_none()
                {
                    tracing::warn!(
                        offset = r.offset,
                        "skipping a {OFFSETS_TOPIC} record this broker cannot read"
                    );
                }
            }
        }
        if offset == before {
            break;
        }
    }
    Ok((replayed, records))
}

/// Applies one record; `None` when it does not parse (an unknown format included).
fn apply(replayed: &mut Replayed, key: &[u8], value: Option<&[u8]>) -> Option<()> {
    let mut k = Reader(key);
    if k.u8()? != FORMAT {
        return None;
    }
    let kind = k.u8()?;
    let group = k.string()?;
    match kind {
        KIND_OFFSET => {
            let topic = k.string()?;
            let partition = k.i32()?;
            let committed = match value {
                None => None,
                Some(v) => {
                    let mut r = Reader(v);
                    if r.u8()? != FORMAT {
                        return None;
                    }
                    Some(Committed::read(&mut r)?)
                }
            };
            replayed.offset(&group, &topic, partition, committed);
        }
        KIND_GROUP => {
            let snapshot = match value {
                None => None,
                Some(v) => Some(GroupSnapshot::decode(v).ok()?),
            };
            replayed.membership(&group, snapshot);
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_groups_as_kafka_does() {
        // Java: "my-group".hashCode() == -1_906_497_762; Kafka puts it on partition 12 of 50.
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(java_string_hash(""), 0);
        // Characters outside the BMP hash as their two UTF-16 units.
        assert_eq!(java_string_hash("😀"), 0xd83d * 31 + 0xde00);
        // Negative hashes take their absolute value.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }
}
