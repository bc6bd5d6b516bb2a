//! Partition replication, sans-io: what a partition's leader keeps about its followers (fetch
//! positions, ISR membership by `replica.lag.time.max.ms`, the high watermark), and how a
//! follower finds where its log diverged from the leader's (leader epochs, KIP-101/KIP-279).
//!
//! The caller owns the log and the clock: it reports the leader's own appends, each follower
//! Fetch (with `replica_id`), the time, and metadata changes; it gets back the high watermark
//! and the `ChangeIsr` records to propose to the controller. The ISR used for the high
//! watermark is the committed one plus any member a pending expansion adds (Kafka's "maximal
//! ISR"), so a change in flight can only make the high watermark more careful.

use std::collections::BTreeMap;

use crate::metadata::{MetadataRecord, NodeId, PartitionImage};

/// Why a produce with acks=all is refused (Kafka's NOT_ENOUGH_REPLICAS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEnoughReplicas {
    pub isr: usize,
    pub min_insync_replicas: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchRefused {
    /// The fetching broker is not a replica of the partition (UNKNOWN_... / NOT_LEADER in Kafka).
    NotAReplica,
    /// The follower asks from past the leader's log end (OFFSET_OUT_OF_RANGE).
    OffsetOutOfRange { log_end: i64 },
}

/// What a follower fetch changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchAccepted {
    pub high_watermark: i64,
    /// An ISR expansion to propose to the controller.
    pub propose: Option<MetadataRecord>,
}

#[derive(Debug, Clone)]
struct Progress {
    /// The follower's log end as its last fetch showed (everything before it is replicated).
    log_end: Option<i64>,
    /// When it last fetched from at or past the leader's log end.
    caught_up_ms: u64,
}

/// The leader's view of one partition for one leader epoch. Built when the metadata makes this
/// broker leader, dropped when it stops being leader (`metadata_changed` returns false).
#[derive(Debug)]
pub struct LeaderPartition {
    me: NodeId,
    topic: String,
    partition: u32,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: Vec<NodeId>,
    isr: Vec<NodeId>,
    /// A proposed ISR not yet committed, and when it was proposed.
    pending: Option<(Vec<NodeId>, u64)>,
    followers: BTreeMap<NodeId, Progress>,
    log_end: i64,
    /// The leader's log end when it took over: a follower joins the ISR only past it, so the
    /// ISR never holds a replica that may still carry an older leader's divergent tail.
    epoch_start: i64,
    high_watermark: i64,
    lag_max_ms: u64,
    min_insync_replicas: usize,
}

/// Settings from the topic and broker configs.
#[derive(Debug, Clone, Copy)]
pub struct ReplicationConfig {
    /// `replica.lag.time.max.ms`
    pub lag_max_ms: u64,
    /// `min.insync.replicas`
    pub min_insync_replicas: usize,
}

impl LeaderPartition {
    /// This broker became leader of `topic`/`partition` as `image` says, with its log ending at
    /// `log_end` and its high watermark at `high_watermark`. ISR followers get a full lag
    /// window from now before they can be dropped.
    pub fn new(
        me: NodeId,
        (topic, partition): (&str, u32),
        image: &PartitionImage,
        log_end: i64,
        high_watermark: i64,
        config: ReplicationConfig,
        now_ms: u64,
    ) -> Self {
        let followers = image
            .replicas
            .iter()
            .filter(|r| **r != me)
            .map(|r| {
                let progress = Progress {
                    log_end: None,
                    caught_up_ms: now_ms,
                };
                (*r, progress)
            })
            .collect();
        Self {
            me,
            topic: topic.to_string(),
            partition,
            leader_epoch: image.leader_epoch,
            partition_epoch: image.partition_epoch,
            replicas: image.replicas.clone(),
            isr: image.isr.clone(),
            pending: None,
            followers,
            log_end,
            epoch_start: log_end,
            high_watermark,
            lag_max_ms: config.lag_max_ms,
            min_insync_replicas: config.min_insync_replicas,
        }
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    pub fn isr(&self) -> &[NodeId] {
        &self.isr
    }

    /// acks=all is refused while the ISR is smaller than `min.insync.replicas`.
    pub fn check_acks_all(&self) -> Result<(), NotEnoughReplicas> {
        if self.isr.len() < self.min_insync_replicas {
            return Err(NotEnoughReplicas {
                isr: self.isr.len(),
                min_insync_replicas: self.min_insync_replicas,
            });
        }
        Ok(())
    }

    /// The leader appended to its own log; returns the high watermark.
    pub fn appended(&mut self, log_end: i64) -> i64 {
        self.log_end = log_end;
        self.advance_high_watermark()
    }

    /// A follower fetched from `fetch_offset` (so holds everything before it). The caller has
    /// checked the leader epoch the follower named and found no divergence.
    pub fn follower_fetch(
        &mut self,
        follower: NodeId,
        fetch_offset: i64,
        now_ms: u64,
    ) -> Result<FetchAccepted, FetchRefused> {
        let log_end = self.log_end;
        let Some(progress) = self.followers.get_mut(&follower) else {
            return Err(FetchRefused::NotAReplica);
        };
        if fetch_offset > log_end {
            return Err(FetchRefused::OffsetOutOfRange { log_end });
        }
        progress.log_end = Some(fetch_offset);
        if fetch_offset >= log_end {
            progress.caught_up_ms = now_ms;
        }
        let high_watermark = self.advance_high_watermark();
        let mut propose = None;
        let joins = !self.isr.contains(&follower)
            && self.pending.is_none()
            && fetch_offset >= high_watermark
            && fetch_offset >= self.epoch_start;
        if joins {
            let mut isr = self.isr.clone();
            isr.push(follower);
            propose = Some(self.propose(isr, now_ms));
        }
        Ok(FetchAccepted {
            high_watermark,
            propose,
        })
    }

    /// Time passes: proposes dropping ISR followers that have not caught up for longer than
    /// `replica.lag.time.max.ms`. A proposal with no answer within that time is sent again,
    /// never given up: it may have been committed with the answer lost, so until the metadata
    /// shows the partition's next epoch its members keep counting for the high watermark.
    /// (Giving up an expansion let the HW pass a replica the controller had put in the ISR and
    /// could elect; the replication simulation found it.)
    pub fn tick(&mut self, now_ms: u64) -> Option<MetadataRecord> {
        if let Some((isr, at)) = &self.pending {
            if now_ms.saturating_sub(*at) <= self.lag_max_ms {
                return None;
            }
            let isr = isr.clone();
            return Some(self.propose(isr, now_ms));
        }
        let lagging = |id: &NodeId| {
            self.followers
                .get(id)
                .is_some_and(|p| now_ms.saturating_sub(p.caught_up_ms) > self.lag_max_ms)
        };
        if !self.isr.iter().any(lagging) {
            return None;
        }
        let isr: Vec<NodeId> = self.isr.iter().copied().filter(|r| !lagging(r)).collect();
        Some(self.propose(isr, now_ms))
    }

    /// The metadata changed. Returns false when this broker no longer leads this partition in
    /// this leader epoch (the caller drops this state and becomes a follower). A reassignment
    /// changes the replicas within a leader epoch: added ones start fetching now (outside the
    /// ISR until caught up), removed ones are no longer served.
    pub fn metadata_changed(&mut self, image: &PartitionImage, now_ms: u64) -> bool {
        if image.leader != Some(self.me) || image.leader_epoch != self.leader_epoch {
            return false;
        }
        if image.partition_epoch != self.partition_epoch {
            self.partition_epoch = image.partition_epoch;
            self.isr = image.isr.clone();
            self.replicas = image.replicas.clone();
            self.pending = None;
            let me = self.me;
            self.followers
                .retain(|id, _| image.replicas.contains(id) && *id != me);
            for r in image.replicas.iter().filter(|r| **r != me) {
                self.followers.entry(*r).or_insert(Progress {
                    log_end: None,
                    caught_up_ms: now_ms,
                });
            }
            self.advance_high_watermark();
        }
        true
    }

    fn propose(&mut self, isr: Vec<NodeId>, now_ms: u64) -> MetadataRecord {
        self.pending = Some((isr.clone(), now_ms));
        MetadataRecord::ChangeIsr {
            topic: self.topic.clone(),
            partition: self.partition,
            leader: self.me,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            isr,
        }
    }

    /// High watermark = the lowest log end across the maximal ISR; it never goes back.
    fn advance_high_watermark(&mut self) -> i64 {
        let pending = self
            .pending
            .as_ref()
            .map(|(p, _)| p.as_slice())
            .unwrap_or(&[]);
        let mut lowest = self.log_end;
        for id in self.isr.iter().chain(pending) {
            if *id == self.me {
                continue;
            }
            let end = self.followers.get(id).and_then(|p| p.log_end);
            lowest = lowest.min(end.unwrap_or(i64::MIN));
        }
        self.high_watermark = self.high_watermark.max(lowest);
        self.high_watermark
    }
}

/// OffsetsForLeaderEpoch over a leader-epoch history of `(epoch, start offset)` pairs: the
/// largest epoch at or below `epoch` and the offset where the next one starts (`log_end` for
/// the latest). `None` when `epoch` is older than the whole history.
pub fn end_offset_for_epoch(
    history: &[(i32, i64)],
    log_end: i64,
    epoch: i32,
) -> Option<(i32, i64)> {
    let i = history.partition_point(|&(e, _)| e <= epoch);
    let (found, _) = *history.get(i.checked_sub(1)?)?;
    let end = history.get(i).map_or(log_end, |&(_, start)| start);
    Some((found, end))
}

/// The leader's check of a follower Fetch (KIP-320): the follower's last fetched epoch and its
/// fetch offset must agree with the leader's history, else the answer is the diverging epoch
/// and its end offset for the follower to truncate to. A follower with nothing fetched yet
/// (`last_fetched_epoch` < 0) cannot diverge.
pub fn diverging_epoch(
    leader_history: &[(i32, i64)],
    leader_log_end: i64,
    last_fetched_epoch: i32,
    fetch_offset: i64,
) -> Option<(i32, i64)> {
    if last_fetched_epoch < 0 {
        return None;
    }
    match end_offset_for_epoch(leader_history, leader_log_end, last_fetched_epoch) {
        Some((epoch, end)) if epoch == last_fetched_epoch && end >= fetch_offset => None,
        Some(answer) => Some(answer),
        None => Some((-1, 0)),
    }
}

/// Where a follower truncates its log after the leader answered `diverging` (epoch, end): the
/// end of that epoch in its own history, but never past the leader's end for it.
pub fn truncation_offset(
    own_history: &[(i32, i64)],
    own_log_end: i64,
    diverging: (i32, i64),
) -> i64 {
    let (epoch, leader_end) = diverging;
    match end_offset_for_epoch(own_history, own_log_end, epoch) {
        Some((_, own_end)) if epoch >= 0 => own_end.min(leader_end),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: ReplicationConfig = ReplicationConfig {
        lag_max_ms: 1000,
        min_insync_replicas: 2,
    };

    fn partition(isr: Vec<NodeId>) -> PartitionImage {
        PartitionImage {
            replicas: vec![1, 2, 3],
            leader: Some(1),
            leader_epoch: 5,
            partition_epoch: 9,
            isr,
            adding: vec![],
            removing: vec![],
        }
    }

    #[test]
    fn the_high_watermark_is_the_lowest_isr_log_end_and_never_goes_back() {
        let mut leader =
            LeaderPartition::new(1, ("t", 0), &partition(vec![1, 2, 3]), 0, 0, CONFIG, 0);
        assert_eq!(leader.appended(10), 0, "followers' positions unknown");
        leader.follower_fetch(2, 10, 1).unwrap();
        assert_eq!(leader.high_watermark(), 0, "follower 3 has not fetched");
        let a = leader.follower_fetch(3, 6, 2).unwrap();
        assert_eq!(a.high_watermark, 6);
        // A follower that fetches from lower (it truncated) does not pull the HW back.
        assert_eq!(leader.follower_fetch(3, 4, 3).unwrap().high_watermark, 6);
        assert_eq!(leader.follower_fetch(3, 10, 4).unwrap().high_watermark, 10);
    }

    #[test]
    fn a_lagging_follower_leaves_the_isr_and_returns_when_caught_up() {
        let mut leader =
            LeaderPartition::new(1, ("t", 0), &partition(vec![1, 2, 3]), 0, 0, CONFIG, 0);
        leader.appended(10);
        leader.follower_fetch(2, 10, 500).unwrap();
        leader.follower_fetch(3, 3, 500).unwrap();
        assert_eq!(leader.tick(1000), None, "within the lag window");
        let Some(MetadataRecord::ChangeIsr {
            isr,
            partition_epoch,
            ..
        }) = leader.tick(1001)
        else {
            panic!("no shrink");
        };
        assert_eq!((isr.clone(), partition_epoch), (vec![1, 2], 9));
        assert_eq!(leader.tick(1002), None, "one change in flight");

        let mut shrunk = partition(vec![1, 2]);
        shrunk.partition_epoch = 10;
        assert!(leader.metadata_changed(&shrunk, 1000));
        assert_eq!(
            leader.high_watermark(),
            10,
            "follower 3 no longer holds it back"
        );
        assert_eq!(leader.check_acks_all(), Ok(()));

        let back = leader.follower_fetch(3, 10, 1500).unwrap();
        let Some(MetadataRecord::ChangeIsr { isr, .. }) = back.propose else {
            panic!("no expansion");
        };
        assert_eq!(isr, vec![1, 2, 3]);
    }

    #[test]
    fn an_unanswered_expansion_is_sent_again_and_its_member_still_holds_the_high_watermark() {
        let mut leader = LeaderPartition::new(1, ("t", 0), &partition(vec![1, 2]), 0, 0, CONFIG, 0);
        leader.appended(10);
        leader.follower_fetch(2, 10, 10).unwrap();
        let joined = leader.follower_fetch(3, 10, 10).unwrap().propose;
        let Some(MetadataRecord::ChangeIsr { isr, .. }) = joined.clone() else {
            panic!("no expansion");
        };
        assert_eq!(isr, vec![1, 2, 3]);
        leader.appended(20);
        leader.follower_fetch(2, 20, 20).unwrap();
        leader.follower_fetch(3, 12, 20).unwrap();
        assert_eq!(leader.high_watermark(), 12, "the pending member counts");
        assert_eq!(leader.tick(2000), joined, "asked again, not given up");
        assert_eq!(leader.high_watermark(), 12);
    }

    #[test]
    fn a_reassignment_adds_and_removes_followers_within_the_leader_epoch() {
        let mut leader =
            LeaderPartition::new(1, ("t", 0), &partition(vec![1, 2, 3]), 10, 10, CONFIG, 0);
        assert_eq!(
            leader.follower_fetch(4, 10, 1),
            Err(FetchRefused::NotAReplica)
        );
        // Moving to [1, 2, 4]: 4 is added (outside the ISR), 3 still a replica until done.
        let mut moving = partition(vec![1, 2, 3]);
        moving.replicas = vec![1, 2, 4, 3];
        moving.adding = vec![4];
        moving.removing = vec![3];
        moving.partition_epoch = 10;
        assert!(leader.metadata_changed(&moving, 5));
        let joined = leader.follower_fetch(4, 10, 6).unwrap();
        let Some(MetadataRecord::ChangeIsr { isr, .. }) = joined.propose else {
            panic!("no expansion");
        };
        assert_eq!(isr, vec![1, 2, 3, 4]);
        let mut done = partition(vec![1, 2, 4]);
        done.replicas = vec![1, 2, 4];
        done.partition_epoch = 12;
        assert!(leader.metadata_changed(&done, 7));
        assert_eq!(
            leader.follower_fetch(3, 10, 8),
            Err(FetchRefused::NotAReplica),
            "a removed replica is no longer served"
        );
    }

    #[test]
    fn acks_all_needs_min_insync_replicas_and_a_new_leader_epoch_ends_leadership() {
        let mut leader = LeaderPartition::new(1, ("t", 0), &partition(vec![1]), 0, 0, CONFIG, 0);
        assert_eq!(
            leader.check_acks_all(),
            Err(NotEnoughReplicas {
                isr: 1,
                min_insync_replicas: 2
            })
        );
        let mut moved = partition(vec![2, 3]);
        moved.leader = Some(2);
        moved.leader_epoch = 6;
        assert!(!leader.metadata_changed(&moved, 0));
    }

    #[test]
    fn a_returning_leader_truncates_its_divergent_tail() {
        // Old leader wrote offsets 0..8 in epoch 1; the new leader (epoch 2) had 0..5 of them
        // and appended 5..12 in epoch 2.
        let leader_history = [(1, 0), (2, 5)];
        let old_history = [(1, 0)];
        let diverging = diverging_epoch(&leader_history, 12, 1, 8).expect("diverges");
        assert_eq!(diverging, (1, 5));
        assert_eq!(truncation_offset(&old_history, 8, diverging), 5);
        // A follower that stopped at 4 in epoch 1 is consistent and needs no truncation.
        assert_eq!(diverging_epoch(&leader_history, 12, 1, 4), None);
        assert_eq!(end_offset_for_epoch(&leader_history, 12, 0), None);
    }
}
