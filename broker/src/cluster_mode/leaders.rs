//! The leader side of replication: for every partition this node leads, the sans-io
//! `LeaderPartition` of `odradek-cluster` fed with the local appends, the followers' Fetch
//! positions and the time. Its high watermark bounds what consumers read from the local log,
//! wakes acks=all produces waiting for it (`delayed_produce`), and its ISR changes go to the
//! controller as `ChangeIsr` (Kafka's AlterPartition).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use odradek_cluster::replication::{FetchRefused, LeaderPartition, ReplicationConfig};
use odradek_cluster::{MetadataImage, MetadataRecord, NodeId};
use tokio::sync::watch;

use super::ClusterNode;
use crate::config::BrokerProperties;
use crate::partition::Partition;
use crate::state::BrokerState;

/// How often leaders look for lagging followers and uncounted appends.
const TICK: Duration = Duration::from_millis(100);

/// One led partition in one leader epoch.
#[derive(Debug)]
pub struct Led {
    pub partition: Arc<Partition>,
    /// More than one replica: reads are bounded by the replication high watermark (a
    /// reassignment may change it within a leadership).
    replicated: AtomicBool,
    state: Mutex<LeaderPartition>,
    /// The high watermark; dropped (closing the channel) when the leadership ends.
    hw: watch::Sender<i64>,
}

/// Why a follower's fetch is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowerRefused {
    NotAReplica,
    OffsetOutOfRange,
}

impl Led {
    fn state(&self) -> MutexGuard<'_, LeaderPartition> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn leader_epoch(&self) -> i32 {
        self.state().leader_epoch()
    }

    /// Whether the partition has more than one replica (acks=all then waits for the ISR).
    pub fn replicated(&self) -> bool {
        self.replicated.load(Ordering::Acquire)
    }

    /// A receiver of the high watermark, for a produce waiting on it.
    pub fn watch_high_watermark(&self) -> watch::Receiver<i64> {
        self.hw.subscribe()
    }

    /// acks=all is refused while the ISR is smaller than `min.insync.replicas`.
    pub fn check_acks_all(&self) -> Result<(), String> {
        self.state().check_acks_all().map_err(|e| {
            format!(
                "the in-sync replicas ({}) are fewer than min.insync.replicas ({})",
                e.isr, e.min_insync_replicas
            )
        })
    }

    /// The ISR has fewer members than `min.insync.replicas` (an acks=all produce that was
    /// appended then answers NOT_ENOUGH_REPLICAS_AFTER_APPEND).
    pub fn below_min_isr(&self) -> bool {
        self.state().check_acks_all().is_err()
    }

    /// The local log grew (a produce, a marker): counts it and publishes the high watermark.
    pub fn appended(&self) {
        let log_end = self.partition.log().log_end_offset();
        let hw = self.state().appended(log_end);
        self.publish(hw);
    }

    /// A follower fetched from `fetch_offset`. Returns the high watermark to answer with and
    /// the ISR change to propose, if any.
    pub fn follower_fetch(
        &self,
        follower: NodeId,
        fetch_offset: i64,
    ) -> Result<(i64, Option<MetadataRecord>), FollowerRefused> {
        let log_end = self.partition.log().log_end_offset();
        let now = crate::time::now_ms() as u64;
        let result = {
            let mut s = self.state();
            s.appended(log_end);
            s.follower_fetch(follower, fetch_offset, now)
        };
        match result {
            Ok(a) => {
                self.publish(a.high_watermark);
                Ok((a.high_watermark, a.propose))
            }
            Err(FetchRefused::NotAReplica) => Err(FollowerRefused::NotAReplica),
            Err(FetchRefused::OffsetOutOfRange { .. }) => Err(FollowerRefused::OffsetOutOfRange),
        }
    }

    /// Time passes: appends not yet counted, followers lagging past `replica.lag.time.max.ms`.
    fn tick(&self) -> Option<MetadataRecord> {
        let log_end = self.partition.log().log_end_offset();
        let now = crate::time::now_ms() as u64;
        let (hw, propose) = {
            let mut s = self.state();
            let hw = s.appended(log_end);
            (hw, s.tick(now))
        };
        self.publish(hw);
        propose
    }

    /// Bounds reads at `hw` and wakes what waits for it when it moved.
    fn publish(&self, hw: i64) {
        if self.replicated() {
            self.partition.log().set_replicated_high_watermark(Some(hw));
        }
        let moved = self.hw.send_if_modified(|old| {
            let moved = hw > *old;
            *old = (*old).max(hw);
            moved
        });
        if moved {
            self.partition.data_arrived.notify_waiters();
        }
    }
}

/// The partitions this node leads, by (topic, partition).
#[derive(Debug, Default)]
pub struct Leaders {
    led: Mutex<BTreeMap<(String, i32), Arc<Led>>>,
}

impl Leaders {
    fn led(&self) -> MutexGuard<'_, BTreeMap<(String, i32), Arc<Led>>> {
        self.led.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Led>> {
        self.led().get(&(topic.to_string(), partition)).cloned()
    }

    /// Brings the led partitions in line with `image` (called after the local logs were, with
    /// the leader epoch already stamped): new leaderships start, lost ones end, ISR changes
    /// the controller committed reach the leader. Nothing is led until `serving` (see
    /// `ClusterNode::is_serving`).
    pub fn apply(&self, state: &BrokerState, me: NodeId, image: &MetadataImage, serving: bool) {
        let props = state.props();
        let mut led = self.led();
        let mut keep = BTreeMap::new();
        let topics = if serving {
            image.topics.iter()
        } else {
            Default::default()
        };
        for (name, t) in topics {
            for (index, p) in t.partitions.iter().enumerate() {
                if p.leader != Some(me) {
                    continue;
                }
                let key = (name.clone(), index as i32);
                let Some(partition) = state.topics.partition(name, index as i32) else {
                    continue;
                };
                if let Some(current) = led.remove(&key) {
                    // A topic deleted and created again has new logs.
                    let now = crate::time::now_ms() as u64;
                    let still = Arc::ptr_eq(&current.partition, &partition)
                        && current.state().metadata_changed(p, now);
                    if still {
                        let replicated = p.replicas.len() > 1;
                        let was = current.replicated.swap(replicated, Ordering::AcqRel);
                        if was && !replicated {
                            // One replica left: its log end is the high watermark again.
                            current.partition.log().set_replicated_high_watermark(None);
                        }
                        // An ISR shrink may let the high watermark move.
                        let hw = current.state().high_watermark();
                        current.publish(hw);
                        keep.insert(key, current);
                        continue;
                    }
                }
                let config = ReplicationConfig {
                    lag_max_ms: props.long("replica.lag.time.max.ms").max(1) as u64,
                    min_insync_replicas: min_insync_replicas(props, &t.configs),
                };
                let replicated = p.replicas.len() > 1;
                let (log_end, hw) = {
                    let log = partition.log();
                    (log.log_end_offset(), log.high_watermark())
                };
                let leader = LeaderPartition::new(
                    me,
                    (name, index as u32),
                    p,
                    log_end,
                    hw.min(log_end),
                    config,
                    crate::time::now_ms() as u64,
                );
                let (hw_tx, _) = watch::channel(leader.high_watermark());
                let l = Arc::new(Led {
                    partition,
                    replicated: AtomicBool::new(replicated),
                    state: Mutex::new(leader),
                    hw: hw_tx,
                });
                let hw = l.state().high_watermark();
                l.publish(hw);
                tracing::info!(topic = %name, partition = index, epoch = p.leader_epoch, isr = ?p.isr, "leading the partition");
                keep.insert(key, l);
            }
        }
        // Leaderships not in the image any more end here: their waiting produces are answered
        // NOT_LEADER_OR_FOLLOWER when the last `Led` handle drops.
        *led = keep;
    }

    fn all(&self) -> Vec<Arc<Led>> {
        self.led().values().cloned().collect()
    }
}

/// `min.insync.replicas`: the topic's override, else the broker's, else 1.
fn min_insync_replicas(
    props: &BrokerProperties,
    topic_configs: &BTreeMap<String, String>,
) -> usize {
    topic_configs
        .get("min.insync.replicas")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or_else(|| props.long("min.insync.replicas"))
        .max(1) as usize
}

/// Ticks every led partition and proposes the ISR changes they ask for.
pub async fn run_ticks(node: Arc<ClusterNode>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        for led in node.leaders.all() {
            if let Some(record) = led.tick() {
                propose_isr(&node, record);
            }
        }
    }
}

/// Sends an ISR change to the controller in the background; a lost or refused one is asked
/// again by the leader's next tick (see `LeaderPartition::tick`).
pub fn propose_isr(node: &Arc<ClusterNode>, record: MetadataRecord) {
    let node = node.clone();
    tokio::spawn(async move {
        tracing::info!(change = ?record, "proposing an ISR change");
        match node.propose(record, Duration::ZERO).await {
            Ok(odradek_cluster::Applied::Rejected(why)) => {
                tracing::info!("the controller refused an ISR change: {why:?}")
            }
            Ok(_) => {}
            Err(e) => tracing::info!("proposing an ISR change: {e}"),
        }
    });
}
