//! The follower side of replication: for every leader this node follows partitions of, one
//! task fetches them with this node's replica id (Fetch v12: current leader epoch, last
//! fetched epoch), appends the leader's batches verbatim (same offsets, same leader epochs),
//! and bounds local reads by the leader's high watermark. When the leader answers with a
//! diverging epoch (KIP-320), the follower truncates its log to where it agrees with the
//! leader's (KIP-101/KIP-279) before fetching on. A partition is fetched only while the image
//! makes this node its follower.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use odradek_cluster::replication::truncation_offset;
use odradek_cluster::{MetadataImage, NodeId};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ClusterNode;
use super::peer::Peer;
use crate::partition::Partition;
use crate::state::BrokerState;

/// Fetch v12: topic names, leader epochs and the diverging-epoch answer.
const FETCH_VERSION: i16 = 12;
/// How long a fetch waits at the leader for new data (Kafka's replica.fetch.wait.max.ms).
const FETCH_WAIT_MS: i32 = 500;
const PARTITION_MAX_BYTES: i32 = 1 << 20;
const RESPONSE_MAX_BYTES: i32 = 16 << 20;
/// Pause after a failure (unreachable leader, an error answer) before fetching again.
const BACKOFF: Duration = Duration::from_millis(100);

const NONE: i16 = 0;
const OFFSET_OUT_OF_RANGE: i16 = 1;

/// A partition this node follows: its leader and leader epoch, as the image says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    pub leader: NodeId,
    pub leader_epoch: i32,
}

/// The partitions this node follows, by (topic, partition).
pub type Following = BTreeMap<(String, i32), Follow>;

/// What `image` makes `me` follow: partitions it is a replica of, led by another broker.
pub fn following(image: &MetadataImage, me: NodeId) -> Following {
    let mut out = Following::new();
    for (name, t) in &image.topics {
        for (index, p) in t.partitions.iter().enumerate() {
            if let Some(leader) = p.leader
                && leader != me
                && p.replicas.contains(&me)
            {
                let follow = Follow {
                    leader,
                    leader_epoch: p.leader_epoch,
                };
                out.insert((name.clone(), index as i32), follow);
            }
        }
    }
    out
}

/// Fetcher tasks by leader; aborted with their owner.
struct Fetchers(BTreeMap<NodeId, JoinHandle<()>>);

impl Drop for Fetchers {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.abort();
        }
    }
}

/// Keeps one fetcher task per leader this node follows partitions of.
pub async fn run(node: Arc<ClusterNode>, state: Arc<BrokerState>) {
    let mut targets = node.following.subscribe();
    let mut fetchers = Fetchers(BTreeMap::new());
    loop {
        let leaders: BTreeSet<NodeId> = targets
            .borrow_and_update()
            .values()
            .map(|f| f.leader)
            .collect();
        fetchers.0.retain(|id, task| {
            let keep = leaders.contains(id) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for id in leaders {
            fetchers
                .0
                .entry(id)
                .or_insert_with(|| tokio::spawn(fetch_from(node.clone(), state.clone(), id)));
        }
        if targets.changed().await.is_err() {
            return;
        }
    }
}

/// The address a follower reaches `leader` at: the listener named by
/// `inter.broker.listener.name`, else its first one.
fn address_of(node: &ClusterNode, state: &BrokerState, leader: NodeId) -> Option<String> {
    let image = node.image();
    let b = image.brokers.get(&leader)?;
    let wanted = state.props().get("inter.broker.listener.name");
    let e = wanted
        .and_then(|w| b.listeners.iter().find(|e| e.name.eq_ignore_ascii_case(w)))
        .or_else(|| b.listeners.first())?;
    Some(format!("{}:{}", e.host, e.port))
}

/// Fetches every partition this node follows from `leader`, until it follows none there.
async fn fetch_from(node: Arc<ClusterNode>, state: Arc<BrokerState>, leader: NodeId) {
    let targets = node.following.subscribe();
    let mut peer: Option<Peer> = None;
    loop {
        let mine: Vec<((String, i32), Follow, Arc<Partition>)> = targets
            .borrow()
            .iter()
            .filter(|(_, f)| f.leader == leader)
            .filter_map(|(k, f)| Some((k.clone(), *f, state.topics.partition(&k.0, k.1)?)))
            .collect();
        if mine.is_empty() {
            // Not followed any more, or the local logs are not open yet.
            tokio::time::sleep(BACKOFF).await;
            continue;
        }
        let connected = match peer.as_mut() {
            Some(p) => p,
            None => {
                let Some(address) = address_of(&node, &state, leader) else {
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                };
                match Peer::connect(
                    &address,
                    node.node_id,
                    Duration::from_secs(2),
                    &node.network,
                )
                .await
                {
                    Ok(p) => peer.insert(p),
                    Err(e) => {
                        tracing::debug!(leader, %address, "replica fetcher cannot connect: {e}");
                        tokio::time::sleep(BACKOFF).await;
                        continue;
                    }
                }
            }
        };
        let req = fetch_request(node.node_id, &mine);
        let timeout = Duration::from_millis(FETCH_WAIT_MS as u64) + Duration::from_secs(5);
        let resp = match connected.call(&req, FETCH_VERSION, timeout).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(leader, "replica fetch failed: {e}; reconnecting");
                peer = None;
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        if resp.error_code != NONE {
            tracing::debug!(leader, code = resp.error_code, "replica fetch refused");
            tokio::time::sleep(BACKOFF).await;
            continue;
        }
        let mut backoff = false;
        for topic in resp.responses {
            for pd in topic.partitions {
                let key = (topic.topic.0.to_string(), pd.partition_index);
                let Some((_, follow, partition)) = mine.iter().find(|(k, _, _)| *k == key) else {
                    continue;
                };
                backoff |= !apply(partition, *follow, &targets, &key, pd);
            }
        }
        if backoff {
            tokio::time::sleep(BACKOFF).await;
        }
    }
}

fn fetch_request(me: NodeId, mine: &[((String, i32), Follow, Arc<Partition>)]) -> FetchRequest {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(i32::try_from(me).unwrap_or(-1));
    req.max_wait_ms = FETCH_WAIT_MS;
    req.min_bytes = 1;
    req.max_bytes = RESPONSE_MAX_BYTES;
    req.session_id = 0;
    req.session_epoch = -1;
    let mut topics: BTreeMap<&str, FetchTopic> = BTreeMap::new();
    for ((name, index), follow, partition) in mine {
        let (fetch_offset, last_fetched_epoch, log_start) = {
            let log = partition.log();
            let leo = log.log_end_offset();
            // The epoch of the last batch held: an epoch started at the log end has none.
            let last = log
                .epoch_history()
                .iter()
                .rev()
                .find(|(_, start)| *start < leo)
                .map_or(-1, |(e, _)| *e);
            (leo, last, log.log_start_offset())
        };
        let mut fp = FetchPartition::default();
        fp.partition = *index;
        fp.current_leader_epoch = follow.leader_epoch;
        fp.fetch_offset = fetch_offset;
        fp.last_fetched_epoch = last_fetched_epoch;
        fp.log_start_offset = log_start;
        fp.partition_max_bytes = PARTITION_MAX_BYTES;
        let t = topics.entry(name).or_insert_with(|| {
            let mut t = FetchTopic::default();
            t.topic = TopicName(StrBytes::from_string(name.clone()));
            t
        });
        t.partitions.push(fp);
    }
    req.topics = topics.into_values().collect();
    req
}

/// Applies one partition of the leader's answer; false when the fetcher should pause.
fn apply(
    partition: &Partition,
    follow: Follow,
    targets: &watch::Receiver<Following>,
    key: &(String, i32),
    pd: PartitionData,
) -> bool {
    let now = crate::time::now_ms();
    // Under the log lock, so a leadership taken meanwhile (`reconcile`) sees either nothing
    // or all of this answer before it stamps its epoch.
    let mut log = partition.log();
    if targets.borrow().get(key) != Some(&follow) {
        return true;
    }
    match pd.error_code {
        NONE => {}
        OFFSET_OUT_OF_RANGE if log.log_end_offset() < pd.log_start_offset => {
            // Behind what the leader still has (a new replica of a topic with deleted records).
            if let Err(e) = log.restart_at(pd.log_start_offset, now) {
                tracing::error!(topic = %key.0, partition = key.1, "starting over at the leader's log start: {e}");
            }
            return false;
        }
        OFFSET_OUT_OF_RANGE => {
            // Ahead of the leader with no epoch to tell where: keep what it has committed.
            let to = pd.high_watermark.max(0);
            tracing::warn!(topic = %key.0, partition = key.1, to, "replica out of range at the leader; truncating to its high watermark");
            if let Err(e) = log.truncate_to(to, now) {
                tracing::error!(topic = %key.0, partition = key.1, "truncating: {e}");
            }
            return false;
        }
        code => {
            // The leader has not seen the same metadata yet (or moved on): fetch again soon.
            tracing::debug!(topic = %key.0, partition = key.1, code, "replica fetch partition error");
            return false;
        }
    }
    let d = &pd.diverging_epoch;
    if d.epoch >= 0 || d.end_offset >= 0 {
        let to = truncation_offset(
            log.epoch_history(),
            log.log_end_offset(),
            (d.epoch, d.end_offset),
        );
        tracing::info!(topic = %key.0, partition = key.1, epoch = d.epoch, end = d.end_offset, to, "the leader says this replica diverged");
        if let Err(e) = log.truncate_to(to, now) {
            tracing::error!(topic = %key.0, partition = key.1, "truncating a diverged replica: {e}");
            return false;
        }
        return true;
    }
    let records = pd.records.unwrap_or_default();
    // The leader's log start can fall inside a batch (DeleteRecords): an empty log that asked
    // from there starts at that batch instead, as Kafka's follower does.
    let first_base = records
        .get(..8)
        .map(|b| i64::from_be_bytes(b.try_into().expect("8 bytes")));
    if let Some(base) = first_base
        && base < log.log_end_offset()
        && log.log_end_offset() == log.log_start_offset()
        && let Err(e) = log.restart_at(base, now)
    {
        tracing::error!(topic = %key.0, partition = key.1, "starting over at the leader's first batch: {e}");
        return false;
    }
    if !records.is_empty()
        && let Err(e) = log.append_replicated(&records, now)
    {
        tracing::error!(topic = %key.0, partition = key.1, "appending the leader's batches: {e}");
        return false;
    }
    log.set_replicated_high_watermark(Some(pd.high_watermark));
    // Records the leader no longer has (DeleteRecords) are gone here too, so they cannot come
    // back should this replica lead.
    let start = pd.log_start_offset.min(log.high_watermark());
    if start > log.log_start_offset()
        && let Err(e) = log.delete_records_before(start)
    {
        tracing::warn!(topic = %key.0, partition = key.1, start, "following the leader's log start: {e:?}");
    }
    true
}
