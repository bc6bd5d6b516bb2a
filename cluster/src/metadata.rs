//! The controllers' replicated state as plain data, and the records that change it.
//!
//! Sans-io: `MetadataImage::apply` is a pure function of the image, the record and the record's
//! offset in the metadata log, so every node that applies the same log holds the same image.
//! Nothing here reads a clock: a lapsed lease becomes a `FenceBroker` record proposed by the
//! active controller (`lease.rs`), and replaying that record fences the broker on every node.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub type NodeId = u64;

/// Kafka's "no leader" (-1 on the wire).
pub const NO_LEADER: Option<NodeId> = None;

/// One listener a broker advertises (Metadata and DescribeCluster answer with these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub id: NodeId,
    /// Random per process start: a restarted broker registers again and gets a new epoch.
    pub incarnation: u128,
    /// The metadata-log offset of the registration (KRaft's broker epoch); heartbeats and
    /// fencing name it so a stale one cannot touch a newer incarnation.
    pub epoch: u64,
    pub listeners: Vec<Endpoint>,
    pub rack: Option<String>,
    /// Fenced brokers lead nothing and are in no ISR. New registrations start fenced.
    pub fenced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    /// Replica assignment, preferred leader first.
    pub replicas: Vec<NodeId>,
    pub leader: Option<NodeId>,
    /// Bumped on every leader change (stamped on batches; FENCED_LEADER_EPOCH).
    pub leader_epoch: i32,
    /// Bumped on every change of leader or ISR; an AlterPartition names the one it saw.
    pub partition_epoch: i32,
    pub isr: Vec<NodeId>,
    /// A reassignment in progress (KIP-455): replicas being added (not in the original
    /// assignment) and being removed (not in the target). `replicas` is then the target
    /// followed by the removing ones; both are empty when none is in progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding: Vec<NodeId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing: Vec<NodeId>,
}

impl PartitionImage {
    pub fn reassigning(&self) -> bool {
        !self.adding.is_empty() || !self.removing.is_empty()
    }

    /// The assignment a reassignment moves to (the replicas when none is in progress).
    pub fn target_replicas(&self) -> Vec<NodeId> {
        without(&self.replicas, &self.removing)
    }

    /// The assignment before the reassignment in progress (what cancelling returns to).
    pub fn original_replicas(&self) -> Vec<NodeId> {
        without(&self.replicas, &self.adding)
    }
}

/// Which leader ElectLeaders asks for (KIP-460).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Election {
    /// The first replica of the assignment, if it is live and in the ISR.
    Preferred,
    /// Only for a partition without a leader: an ISR member, else any live replica (which may
    /// lose acknowledged records, as Kafka's unclean election).
    Unclean,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub id: u128,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<PartitionImage>,
}

/// Everything the metadata log has decided, as of `last_offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// Offset of the last record applied (0 before any).
    pub last_offset: u64,
    pub brokers: BTreeMap<NodeId, BrokerRegistration>,
    pub topics: BTreeMap<String, TopicImage>,
    /// The first producer id not yet handed out in a block.
    pub next_producer_id: i64,
}

/// A change to the image. The controller validates what it can before proposing; `apply`
/// checks again against the image at the record's place in the log, since a proposal can race
/// another one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    RegisterBroker {
        id: NodeId,
        incarnation: u128,
        listeners: Vec<Endpoint>,
        rack: Option<String>,
    },
    /// The broker heartbeated with its current epoch and has caught up with the metadata log.
    UnfenceBroker {
        id: NodeId,
        epoch: u64,
    },
    /// The broker's lease lapsed (or it shut down): its leaderships move, it leaves every ISR.
    FenceBroker {
        id: NodeId,
        epoch: u64,
    },
    CreateTopic {
        name: String,
        id: u128,
        /// One replica list per partition (see `assign_replicas`).
        assignment: Vec<Vec<NodeId>>,
        configs: BTreeMap<String, String>,
    },
    DeleteTopic {
        name: String,
    },
    CreatePartitions {
        topic: String,
        assignment: Vec<Vec<NodeId>>,
    },
    /// `value: None` removes the override.
    SetTopicConfig {
        topic: String,
        key: String,
        value: Option<String>,
    },
    /// AlterConfigs / IncrementalAlterConfigs: the topic's overrides from now on, all of them.
    ReplaceTopicConfigs {
        topic: String,
        configs: BTreeMap<String, String>,
    },
    /// AlterPartitionReassignments: move the partition to `target` (Some), or cancel the
    /// reassignment in progress (None), KIP-455.
    ReassignPartition {
        topic: String,
        partition: u32,
        target: Option<Vec<NodeId>>,
    },
    /// ElectLeaders (KIP-460), also the active controller's automatic leader rebalance.
    ElectLeader {
        topic: String,
        partition: u32,
        election: Election,
    },
    /// A partition leader's AlterPartition: the new ISR, valid only against the leader epoch and
    /// partition epoch it was computed from.
    ChangeIsr {
        topic: String,
        partition: u32,
        leader: NodeId,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<NodeId>,
    },
    /// A block of producer ids for one broker's InitProducerId answers.
    AllocateProducerIds {
        broker: NodeId,
        count: u32,
    },
}

/// What applying a record decided; the proposer gets it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    Done,
    /// The registration's broker epoch.
    Registered {
        epoch: u64,
    },
    /// `[start, start + count)` belongs to the broker that asked.
    ProducerIds {
        start: i64,
        count: u32,
    },
    /// The record was valid when proposed but not at its place in the log; nothing changed.
    Rejected(Rejection),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    UnknownBroker,
    StaleBrokerEpoch,
    TopicExists,
    UnknownTopic,
    UnknownPartition,
    /// The ISR change names an old leader or partition epoch (Kafka's FENCED_LEADER_EPOCH /
    /// INVALID_UPDATE_VERSION for AlterPartition).
    StaleEpoch,
    /// The ISR names a broker that is not a replica, is fenced, or leaves out the leader.
    IneligibleReplica,
    InvalidAssignment,
    /// Cancelling where nothing is being reassigned (NO_REASSIGNMENT_IN_PROGRESS).
    NoReassignmentInProgress,
    /// The partition already has the leader asked for (ELECTION_NOT_NEEDED).
    ElectionNotNeeded,
    /// The preferred replica is fenced or out of the ISR (PREFERRED_LEADER_NOT_AVAILABLE).
    PreferredLeaderNotAvailable,
    /// No live replica could lead (ELIGIBLE_LEADERS_NOT_AVAILABLE).
    EligibleLeadersNotAvailable,
}

impl MetadataImage {
    /// Applies the record at `offset` of the metadata log. Offsets must increase; a replayed
    /// record (offset at or below `last_offset`) is ignored.
    pub fn apply(&mut self, offset: u64, record: &MetadataRecord) -> Applied {
        if offset <= self.last_offset && self.last_offset != 0 {
            return Applied::Done;
        }
        self.last_offset = offset;
        match record {
            MetadataRecord::RegisterBroker {
                id,
                incarnation,
                listeners,
                rack,
            } => {
                // A new incarnation fences the old one's leaderships first.
                if let Some(old) = self.brokers.get(id).map(|b| b.epoch) {
                    self.fence(*id, old);
                }
                self.brokers.insert(
                    *id,
                    BrokerRegistration {
                        id: *id,
                        incarnation: *incarnation,
                        epoch: offset,
                        listeners: listeners.clone(),
                        rack: rack.clone(),
                        fenced: true,
                    },
                );
                Applied::Registered { epoch: offset }
            }
            MetadataRecord::UnfenceBroker { id, epoch } => match self.brokers.get_mut(id) {
                None => Applied::Rejected(Rejection::UnknownBroker),
                Some(b) if b.epoch != *epoch => Applied::Rejected(Rejection::StaleBrokerEpoch),
                Some(b) => {
                    b.fenced = false;
                    self.elect_where_leaderless(*id);
                    Applied::Done
                }
            },
            MetadataRecord::FenceBroker { id, epoch } => match self.brokers.get(id) {
                None => Applied::Rejected(Rejection::UnknownBroker),
                Some(b) if b.epoch != *epoch => Applied::Rejected(Rejection::StaleBrokerEpoch),
                Some(_) => {
                    self.fence(*id, *epoch);
                    Applied::Done
                }
            },
            MetadataRecord::CreateTopic {
                name,
                id,
                assignment,
                configs,
            } => {
                if self.topics.contains_key(name) {
                    return Applied::Rejected(Rejection::TopicExists);
                }
                if !self.valid_assignment(assignment) {
                    return Applied::Rejected(Rejection::InvalidAssignment);
                }
                let partitions = assignment
                    .iter()
                    .map(|replicas| self.new_partition(replicas))
                    .collect();
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        id: *id,
                        configs: configs.clone(),
                        partitions,
                    },
                );
                Applied::Done
            }
            MetadataRecord::DeleteTopic { name } => match self.topics.remove(name) {
                Some(_) => Applied::Done,
                None => Applied::Rejected(Rejection::UnknownTopic),
            },
            MetadataRecord::CreatePartitions { topic, assignment } => {
                if !self.valid_assignment(assignment) {
                    return Applied::Rejected(Rejection::InvalidAssignment);
                }
                let new: Vec<PartitionImage> = assignment
                    .iter()
                    .map(|replicas| self.new_partition(replicas))
                    .collect();
                match self.topics.get_mut(topic) {
                    None => Applied::Rejected(Rejection::UnknownTopic),
                    Some(t) => {
                        t.partitions.extend(new);
                        Applied::Done
                    }
                }
            }
            MetadataRecord::SetTopicConfig { topic, key, value } => {
                match self.topics.get_mut(topic) {
                    None => Applied::Rejected(Rejection::UnknownTopic),
                    Some(t) => {
                        match value {
                            Some(v) => t.configs.insert(key.clone(), v.clone()),
                            None => t.configs.remove(key),
                        };
                        Applied::Done
                    }
                }
            }
            MetadataRecord::ReplaceTopicConfigs { topic, configs } => {
                match self.topics.get_mut(topic) {
                    None => Applied::Rejected(Rejection::UnknownTopic),
                    Some(t) => {
                        t.configs = configs.clone();
                        Applied::Done
                    }
                }
            }
            MetadataRecord::ReassignPartition {
                topic,
                partition,
                target,
            } => self.reassign(topic, *partition, target.as_deref()),
            MetadataRecord::ElectLeader {
                topic,
                partition,
                election,
            } => self.elect(topic, *partition, *election),
            MetadataRecord::ChangeIsr {
                topic,
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => self.change_isr(
                topic,
                *partition,
                *leader,
                *leader_epoch,
                *partition_epoch,
                isr,
            ),
            MetadataRecord::AllocateProducerIds { broker, count } => {
                if !self.brokers.contains_key(broker) {
                    return Applied::Rejected(Rejection::UnknownBroker);
                }
                let start = self.next_producer_id;
                self.next_producer_id += i64::from(*count);
                Applied::ProducerIds {
                    start,
                    count: *count,
                }
            }
        }
    }

    /// Every partition names registered brokers, no broker twice, and at least one live one
    /// (else it would start with an empty ISR and could never elect a leader; KRaft refuses it
    /// the same way).
    fn valid_assignment(&self, assignment: &[Vec<NodeId>]) -> bool {
        !assignment.is_empty()
            && assignment.iter().all(|replicas| {
                !replicas.is_empty()
                    && !has_duplicates(replicas)
                    && replicas.iter().all(|r| self.brokers.contains_key(r))
                    && replicas.iter().any(|r| self.is_live(*r))
            })
    }

    /// What must hold of every partition after any sequence of records; empty when it does.
    /// (The simulations check it at every applied record.)
    pub fn broken_invariants(&self) -> Vec<String> {
        let mut broken = vec![];
        for (name, topic) in &self.topics {
            for (i, p) in topic.partitions.iter().enumerate() {
                let mut fail = |what: &str| broken.push(format!("{name}-{i}: {what}: {p:?}"));
                if p.isr.is_empty() {
                    fail("empty ISR");
                }
                if has_duplicates(&p.isr) || !p.isr.iter().all(|r| p.replicas.contains(r)) {
                    fail("ISR not a set of replicas");
                }
                match p.leader {
                    Some(l) if !p.isr.contains(&l) || !self.is_live(l) => {
                        fail("leader outside the ISR or fenced")
                    }
                    None if p.isr.iter().any(|r| self.is_live(*r)) => {
                        fail("no leader though a live ISR member could lead")
                    }
                    _ => {}
                }
                if p.isr.len() > 1 && p.isr.iter().any(|r| !self.is_live(*r)) {
                    fail("a fenced broker in a multi-member ISR");
                }
            }
        }
        broken
    }

    /// A broker that may lead or be in an ISR: registered and not fenced.
    pub fn is_live(&self, id: NodeId) -> bool {
        self.brokers.get(&id).is_some_and(|b| !b.fenced)
    }

    pub fn partition(&self, topic: &str, partition: u32) -> Option<&PartitionImage> {
        self.topics.get(topic)?.partitions.get(partition as usize)
    }

    fn new_partition(&self, replicas: &[NodeId]) -> PartitionImage {
        let isr: Vec<NodeId> = replicas
            .iter()
            .copied()
            .filter(|r| self.is_live(*r))
            .collect();
        PartitionImage {
            replicas: replicas.to_vec(),
            leader: isr.first().copied(),
            leader_epoch: 0,
            partition_epoch: 0,
            isr,
            adding: vec![],
            removing: vec![],
        }
    }

    fn live_brokers(&self) -> BTreeSet<NodeId> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    }

    fn partition_mut(
        &mut self,
        topic: &str,
        partition: u32,
    ) -> Result<&mut PartitionImage, Rejection> {
        self.topics
            .get_mut(topic)
            .ok_or(Rejection::UnknownTopic)?
            .partitions
            .get_mut(partition as usize)
            .ok_or(Rejection::UnknownPartition)
    }

    /// Starts, replaces or (with no target) cancels a partition's reassignment. A target that
    /// the ISR already covers completes at once (e.g. only removing replicas).
    fn reassign(&mut self, topic: &str, partition: u32, target: Option<&[NodeId]>) -> Applied {
        let live = self.live_brokers();
        let valid = target.is_none_or(|t| {
            !t.is_empty()
                && !has_duplicates(t)
                && t.iter().all(|r| self.brokers.contains_key(r))
                && t.iter().any(|r| live.contains(r))
        });
        let p = match self.partition_mut(topic, partition) {
            Ok(p) => p,
            Err(why) => return Applied::Rejected(why),
        };
        if !valid {
            return Applied::Rejected(Rejection::InvalidAssignment);
        }
        let Some(target) = target else {
            if !p.reassigning() {
                return Applied::Rejected(Rejection::NoReassignmentInProgress);
            }
            revert_reassignment(p, &live);
            return Applied::Done;
        };
        // A new target replaces the one in progress: it starts from the original assignment.
        if p.reassigning() {
            revert_reassignment(p, &live);
        }
        let original = p.replicas.clone();
        p.adding = without(target, &original);
        p.removing = without(&original, target);
        p.replicas = target.to_vec();
        p.replicas.extend(p.removing.iter().copied());
        p.partition_epoch += 1;
        complete_reassignment(p, &live);
        Applied::Done
    }

    fn elect(&mut self, topic: &str, partition: u32, election: Election) -> Applied {
        let live = self.live_brokers();
        let p = match self.partition_mut(topic, partition) {
            Ok(p) => p,
            Err(why) => return Applied::Rejected(why),
        };
        let leader = match election {
            Election::Preferred => {
                let preferred = p.replicas[0];
                if p.leader == Some(preferred) {
                    return Applied::Rejected(Rejection::ElectionNotNeeded);
                }
                if !p.isr.contains(&preferred) || !live.contains(&preferred) {
                    return Applied::Rejected(Rejection::PreferredLeaderNotAvailable);
                }
                preferred
            }
            Election::Unclean => {
                if p.leader.is_some() {
                    return Applied::Rejected(Rejection::ElectionNotNeeded);
                }
                let in_isr = p
                    .replicas
                    .iter()
                    .find(|r| p.isr.contains(r) && live.contains(r));
                match in_isr.or_else(|| p.replicas.iter().find(|r| live.contains(r))) {
                    Some(r) => *r,
                    None => return Applied::Rejected(Rejection::EligibleLeadersNotAvailable),
                }
            }
        };
        if !p.isr.contains(&leader) {
            // Unclean: the new leader's log is the truth from now on.
            p.isr = vec![leader];
        }
        p.leader = Some(leader);
        p.leader_epoch += 1;
        p.partition_epoch += 1;
        Applied::Done
    }

    /// The preferred-replica elections the automatic leader rebalance asks for: on every broker
    /// whose share of partitions led elsewhere (of those it is the preferred replica of) is
    /// above `imbalance_percent`, its partitions it could lead again (live, in the ISR).
    pub fn preferred_elections_due(&self, imbalance_percent: u32) -> Vec<(String, u32)> {
        let live = self.live_brokers();
        // Per preferred broker: partitions it is preferred for, and those led by another.
        let mut counts: BTreeMap<NodeId, (u64, Vec<(String, u32)>)> = BTreeMap::new();
        for (name, t) in &self.topics {
            for (i, p) in t.partitions.iter().enumerate() {
                let preferred = p.replicas[0];
                let entry = counts.entry(preferred).or_default();
                entry.0 += 1;
                if p.leader != Some(preferred) {
                    entry.1.push((name.clone(), i as u32));
                }
            }
        }
        let mut due = vec![];
        for (broker, (total, elsewhere)) in counts {
            let imbalanced = elsewhere.len() as u64 * 100 > u64::from(imbalance_percent) * total;
            if !imbalanced || !live.contains(&broker) {
                continue;
            }
            due.extend(elsewhere.into_iter().filter(|(name, i)| {
                self.partition(name, *i)
                    .is_some_and(|p| p.isr.contains(&broker))
            }));
        }
        due
    }

    /// Takes `id` out of every ISR and moves its leaderships to the next live ISR member in
    /// replica order. The last ISR member stays in the ISR with no leader (no unclean election):
    /// only it is known to hold every acknowledged record.
    fn fence(&mut self, id: NodeId, epoch: u64) {
        match self.brokers.get_mut(&id) {
            Some(b) if b.epoch == epoch => b.fenced = true,
            _ => return,
        }
        for topic in self.topics.values_mut() {
            for p in &mut topic.partitions {
                if !p.isr.contains(&id) && p.leader != Some(id) {
                    continue;
                }
                if p.isr.len() > 1 {
                    p.isr.retain(|r| *r != id);
                }
                if p.leader == Some(id) {
                    let next = p
                        .replicas
                        .iter()
                        .copied()
                        .find(|r| *r != id && p.isr.contains(r));
                    p.leader = next;
                    p.leader_epoch += 1;
                }
                p.partition_epoch += 1;
            }
        }
    }

    /// An unfenced broker takes the partitions that have no leader and name it in their ISR.
    fn elect_where_leaderless(&mut self, id: NodeId) {
        for topic in self.topics.values_mut() {
            for p in &mut topic.partitions {
                if p.leader.is_none() && p.isr.contains(&id) {
                    p.leader = Some(id);
                    p.leader_epoch += 1;
                    p.partition_epoch += 1;
                }
            }
        }
    }

    fn change_isr(
        &mut self,
        topic: &str,
        partition: u32,
        leader: NodeId,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: &[NodeId],
    ) -> Applied {
        let live: Vec<bool> = isr.iter().map(|r| self.is_live(*r)).collect();
        let live_set = self.live_brokers();
        let Some(t) = self.topics.get_mut(topic) else {
            return Applied::Rejected(Rejection::UnknownTopic);
        };
        let Some(p) = t.partitions.get_mut(partition as usize) else {
            return Applied::Rejected(Rejection::UnknownPartition);
        };
        if p.leader != Some(leader)
            || p.leader_epoch != leader_epoch
            || p.partition_epoch != partition_epoch
        {
            return Applied::Rejected(Rejection::StaleEpoch);
        }
        let eligible = isr.contains(&leader)
            && isr.iter().all(|r| p.replicas.contains(r))
            && live.iter().all(|l| *l)
            && !has_duplicates(isr);
        if !eligible {
            return Applied::Rejected(Rejection::IneligibleReplica);
        }
        p.isr = isr.to_vec();
        p.partition_epoch += 1;
        complete_reassignment(p, &live_set);
        Applied::Done
    }
}

/// `ids` without those in `drop`, in order.
fn without(ids: &[NodeId], drop: &[NodeId]) -> Vec<NodeId> {
    ids.iter().copied().filter(|r| !drop.contains(r)).collect()
}

/// Moves the leadership to the first replica in `order` that is live and in the ISR when the
/// current leader may not keep it; `None` when no replica can lead.
fn keep_or_move_leader(p: &mut PartitionImage, live: &BTreeSet<NodeId>) {
    let keeps = p
        .leader
        .is_some_and(|l| p.replicas.contains(&l) && p.isr.contains(&l) && live.contains(&l));
    if keeps {
        return;
    }
    let next = p
        .replicas
        .iter()
        .copied()
        .find(|r| p.isr.contains(r) && live.contains(r));
    if next != p.leader {
        p.leader = next;
        p.leader_epoch += 1;
    }
}

/// KIP-455's completion: once every adding replica is in the ISR and the ISR keeps a member
/// outside the removing ones, the assignment becomes the target and the removing replicas
/// leave; a removed leader hands the leadership to the first target replica in the ISR.
fn complete_reassignment(p: &mut PartitionImage, live: &BTreeSet<NodeId>) {
    if !p.reassigning() {
        return;
    }
    let isr = without(&p.isr, &p.removing);
    if isr.is_empty() || !p.adding.iter().all(|r| isr.contains(r)) {
        return;
    }
    p.replicas = p.target_replicas();
    p.isr = isr;
    p.adding.clear();
    p.removing.clear();
    p.partition_epoch += 1;
    keep_or_move_leader(p, live);
}

/// Cancels a reassignment: back to the original replicas; the adding ones leave the ISR (if
/// only they were in it, the live original replicas form it again, as Kafka's revert).
fn revert_reassignment(p: &mut PartitionImage, live: &BTreeSet<NodeId>) {
    let original = p.original_replicas();
    let mut isr = without(&p.isr, &p.adding);
    if isr.is_empty() {
        isr = original
            .iter()
            .copied()
            .filter(|r| live.contains(r))
            .collect();
        if isr.is_empty() {
            isr = vec![original[0]];
        }
    }
    p.replicas = original;
    p.isr = isr;
    p.adding.clear();
    p.removing.clear();
    p.partition_epoch += 1;
    keep_or_move_leader(p, live);
}

fn has_duplicates(ids: &[NodeId]) -> bool {
    ids.iter()
        .enumerate()
        .any(|(i, a)| ids[i + 1..].contains(a))
}

/// Kafka's rack-unaware placement: partition `p`'s replicas start at broker `(start + p) % n`
/// and step by one, so leaderships spread across the live brokers. `None` when fewer live
/// brokers than `replication_factor`.
pub fn assign_replicas(
    image: &MetadataImage,
    partitions: u32,
    replication_factor: u16,
    start: usize,
) -> Option<Vec<Vec<NodeId>>> {
    let live: Vec<NodeId> = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| b.id)
        .collect();
    let rf = usize::from(replication_factor);
    if rf == 0 || live.len() < rf {
        return None;
    }
    Some(
        (0..partitions as usize)
            .map(|p| {
                (0..rf)
                    .map(|r| live[(start + p + r) % live.len()])
                    .collect()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(image: &mut MetadataImage, offset: &mut u64, id: NodeId) -> u64 {
        *offset += 1;
        let rec = MetadataRecord::RegisterBroker {
            id,
            incarnation: u128::from(id) * 7 + *offset as u128,
            listeners: vec![],
            rack: None,
        };
        let Applied::Registered { epoch } = image.apply(*offset, &rec) else {
            panic!("registration refused");
        };
        *offset += 1;
        image.apply(*offset, &MetadataRecord::UnfenceBroker { id, epoch });
        epoch
    }

    fn three_brokers_one_topic() -> (MetadataImage, u64, Vec<u64>) {
        let mut image = MetadataImage::default();
        let mut offset = 0;
        let epochs = (1..=3)
            .map(|id| register(&mut image, &mut offset, id))
            .collect();
        let assignment = assign_replicas(&image, 3, 3, 0).unwrap();
        offset += 1;
        let created = image.apply(
            offset,
            &MetadataRecord::CreateTopic {
                name: "t".into(),
                id: 1,
                assignment,
                configs: BTreeMap::new(),
            },
        );
        assert_eq!(created, Applied::Done);
        (image, offset, epochs)
    }

    #[test]
    fn placement_spreads_leaders_and_fencing_moves_them() {
        let (mut image, offset, epochs) = three_brokers_one_topic();
        let leaders: Vec<_> = (0..3)
            .map(|p| image.partition("t", p).unwrap().leader)
            .collect();
        assert_eq!(leaders, vec![Some(1), Some(2), Some(3)]);

        image.apply(
            offset + 1,
            &MetadataRecord::FenceBroker {
                id: 1,
                epoch: epochs[0],
            },
        );
        let p0 = image.partition("t", 0).unwrap();
        assert_eq!(p0.leader, Some(2), "next ISR member in replica order");
        assert_eq!(p0.leader_epoch, 1);
        assert_eq!(p0.isr, vec![2, 3]);
        let p1 = image.partition("t", 1).unwrap();
        assert_eq!((p1.leader, p1.leader_epoch), (Some(2), 0), "leader kept");
        assert!(!p1.isr.contains(&1));
    }

    #[test]
    fn the_last_isr_member_keeps_the_partition_leaderless_until_it_returns() {
        let (mut image, mut offset, epochs) = three_brokers_one_topic();
        for (id, epoch) in [(1, epochs[0]), (2, epochs[1]), (3, epochs[2])] {
            offset += 1;
            image.apply(offset, &MetadataRecord::FenceBroker { id, epoch });
        }
        let p0 = image.partition("t", 0).unwrap().clone();
        assert_eq!(p0.leader, None);
        assert_eq!(
            p0.isr,
            vec![3],
            "no unclean election: the last ISR member stays"
        );

        // Broker 1 comes back: it is not in the ISR, so it must not lead.
        offset += 1;
        image.apply(
            offset,
            &MetadataRecord::UnfenceBroker {
                id: 1,
                epoch: epochs[0],
            },
        );
        assert_eq!(image.partition("t", 0).unwrap().leader, None);
        offset += 1;
        image.apply(
            offset,
            &MetadataRecord::UnfenceBroker {
                id: 3,
                epoch: epochs[2],
            },
        );
        let p0 = image.partition("t", 0).unwrap();
        assert_eq!(p0.leader, Some(3));
        // 1 → 2 → 3 → none → 3: four leader changes.
        assert_eq!(p0.leader_epoch, 4);
    }

    #[test]
    fn stale_isr_changes_and_stale_broker_epochs_are_rejected() {
        let (mut image, mut offset, epochs) = three_brokers_one_topic();
        let p = image.partition("t", 0).unwrap().clone();
        offset += 1;
        let shrink = MetadataRecord::ChangeIsr {
            topic: "t".into(),
            partition: 0,
            leader: 1,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr: vec![1, 2],
        };
        assert_eq!(image.apply(offset, &shrink), Applied::Done);
        offset += 1;
        assert_eq!(
            image.apply(offset, &shrink),
            Applied::Rejected(Rejection::StaleEpoch),
            "the same change again names an old partition epoch"
        );
        offset += 1;
        let stale_fence = MetadataRecord::FenceBroker {
            id: 2,
            epoch: epochs[1] + 1000,
        };
        assert_eq!(
            image.apply(offset, &stale_fence),
            Applied::Rejected(Rejection::StaleBrokerEpoch)
        );
        assert!(image.is_live(2));
    }

    #[test]
    fn producer_id_blocks_never_overlap() {
        let (mut image, mut offset, _) = three_brokers_one_topic();
        let mut blocks = vec![];
        for broker in [1, 2, 3, 1] {
            offset += 1;
            let Applied::ProducerIds { start, count } = image.apply(
                offset,
                &MetadataRecord::AllocateProducerIds {
                    broker,
                    count: 1000,
                },
            ) else {
                panic!("no block");
            };
            blocks.push((start, start + i64::from(count)));
        }
        for w in blocks.windows(2) {
            assert!(w[0].1 <= w[1].0, "{blocks:?}");
        }
    }

    #[test]
    fn an_assignment_with_no_live_or_unknown_replicas_is_refused() {
        let (mut image, mut offset, epochs) = three_brokers_one_topic();
        offset += 1;
        image.apply(
            offset,
            &MetadataRecord::FenceBroker {
                id: 3,
                epoch: epochs[2],
            },
        );
        for assignment in [vec![vec![3]], vec![vec![1, 9]], vec![vec![1, 1]], vec![]] {
            offset += 1;
            let create = MetadataRecord::CreateTopic {
                name: "u".into(),
                id: 2,
                assignment: assignment.clone(),
                configs: BTreeMap::new(),
            };
            assert_eq!(
                image.apply(offset, &create),
                Applied::Rejected(Rejection::InvalidAssignment),
                "{assignment:?}"
            );
        }
        assert!(
            image.broken_invariants().is_empty(),
            "{:?}",
            image.broken_invariants()
        );
    }

    #[test]
    fn broken_invariants_names_what_is_wrong() {
        let (mut image, _, _) = three_brokers_one_topic();
        image.topics.get_mut("t").unwrap().partitions[0].isr = vec![2, 3];
        let broken = image.broken_invariants();
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].starts_with("t-0: leader outside the ISR"),
            "{broken:?}"
        );
    }

    fn isr_change(image: &MetadataImage, partition: u32, isr: Vec<NodeId>) -> MetadataRecord {
        let p = image.partition("t", partition).unwrap();
        MetadataRecord::ChangeIsr {
            topic: "t".into(),
            partition,
            leader: p.leader.unwrap(),
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr,
        }
    }

    #[test]
    fn a_reassignment_completes_when_the_adding_replicas_join_the_isr() {
        let (mut image, mut offset, _) = three_brokers_one_topic();
        offset += 1;
        register(&mut image, &mut offset, 4);
        // t-0 is [1, 2, 3] led by 1; move it to [4, 2]: 4 added, 1 (the leader) and 3 removed.
        offset += 1;
        let move_it = MetadataRecord::ReassignPartition {
            topic: "t".into(),
            partition: 0,
            target: Some(vec![4, 2]),
        };
        assert_eq!(image.apply(offset, &move_it), Applied::Done);
        let p = image.partition("t", 0).unwrap().clone();
        assert_eq!(
            (&p.replicas, &p.adding, &p.removing),
            (&vec![4, 2, 1, 3], &vec![4], &vec![1, 3])
        );
        assert_eq!(
            (p.leader, p.leader_epoch),
            (Some(1), 0),
            "no leader change yet"
        );

        offset += 1;
        assert_eq!(
            image.apply(offset, &isr_change(&image, 0, vec![1, 2, 3, 4])),
            Applied::Done
        );
        let p = image.partition("t", 0).unwrap();
        assert_eq!((&p.replicas, &p.isr), (&vec![4, 2], &vec![2, 4]));
        assert!(!p.reassigning());
        assert_eq!(
            (p.leader, p.leader_epoch),
            (Some(4), 1),
            "the removed leader hands over to the first target replica in the ISR"
        );
        assert!(image.broken_invariants().is_empty());
    }

    #[test]
    fn cancelling_reverts_and_only_a_reassignment_in_progress_can_be_cancelled() {
        let (mut image, mut offset, _) = three_brokers_one_topic();
        offset += 1;
        register(&mut image, &mut offset, 4);
        let cancel = MetadataRecord::ReassignPartition {
            topic: "t".into(),
            partition: 1,
            target: None,
        };
        offset += 1;
        assert_eq!(
            image.apply(offset, &cancel),
            Applied::Rejected(Rejection::NoReassignmentInProgress)
        );
        let before = image.partition("t", 1).unwrap().clone();
        offset += 1;
        let grow = MetadataRecord::ReassignPartition {
            topic: "t".into(),
            partition: 1,
            target: Some(vec![2, 3, 1, 4]),
        };
        assert_eq!(image.apply(offset, &grow), Applied::Done);
        // 4 is fetching; an ISR change that does not name it completes nothing.
        offset += 1;
        image.apply(offset, &isr_change(&image, 1, vec![2, 3]));
        assert!(image.partition("t", 1).unwrap().reassigning());
        offset += 1;
        assert_eq!(image.apply(offset, &cancel), Applied::Done);
        let p = image.partition("t", 1).unwrap();
        assert_eq!(p.replicas, before.replicas);
        assert!(!p.reassigning());
        assert_eq!(p.leader, before.leader);

        // Only removing replicas, all in the ISR: done at once.
        offset += 1;
        let shrink = MetadataRecord::ReassignPartition {
            topic: "t".into(),
            partition: 2,
            target: Some(vec![1]),
        };
        assert_eq!(image.apply(offset, &shrink), Applied::Done);
        let p = image.partition("t", 2).unwrap();
        assert_eq!(
            (&p.replicas, &p.isr, p.leader),
            (&vec![1], &vec![1], Some(1))
        );
        for bad in [vec![], vec![1, 1], vec![1, 9]] {
            offset += 1;
            let r = MetadataRecord::ReassignPartition {
                topic: "t".into(),
                partition: 2,
                target: Some(bad.clone()),
            };
            assert_eq!(
                image.apply(offset, &r),
                Applied::Rejected(Rejection::InvalidAssignment),
                "{bad:?}"
            );
        }
        assert!(image.broken_invariants().is_empty());
    }

    #[test]
    fn elections_preferred_unclean_and_the_automatic_rebalance() {
        let (mut image, mut offset, epochs) = three_brokers_one_topic();
        let elect = |partition, election| MetadataRecord::ElectLeader {
            topic: "t".into(),
            partition,
            election,
        };
        offset += 1;
        assert_eq!(
            image.apply(offset, &elect(0, Election::Preferred)),
            Applied::Rejected(Rejection::ElectionNotNeeded)
        );
        assert!(image.preferred_elections_due(10).is_empty());
        let unfence = |id, epoch| MetadataRecord::UnfenceBroker { id, epoch };
        // Broker 1 fenced: t-0 moves to 2. Back (unfenced), it is not in the ISR yet.
        let (id, epoch) = (1, epochs[0]);
        for record in [
            MetadataRecord::FenceBroker { id, epoch },
            unfence(id, epoch),
        ] {
            offset += 1;
            image.apply(offset, &record);
        }
        offset += 1;
        assert_eq!(
            image.apply(offset, &elect(0, Election::Preferred)),
            Applied::Rejected(Rejection::PreferredLeaderNotAvailable)
        );
        assert!(
            image.preferred_elections_due(10).is_empty(),
            "1 not in the ISR"
        );
        offset += 1;
        image.apply(offset, &isr_change(&image, 0, vec![2, 3, 1]));
        assert_eq!(
            image.preferred_elections_due(10),
            vec![("t".to_string(), 0)]
        );
        assert_eq!(
            image.preferred_elections_due(100),
            vec![],
            "one of one partition led elsewhere is 100 %, not above it"
        );
        offset += 1;
        assert_eq!(
            image.apply(offset, &elect(0, Election::Preferred)),
            Applied::Done
        );
        assert_eq!(image.partition("t", 0).unwrap().leader, Some(1));

        // Unclean: only without a leader; an ISR member first, else any live replica.
        offset += 1;
        assert_eq!(
            image.apply(offset, &elect(1, Election::Unclean)),
            Applied::Rejected(Rejection::ElectionNotNeeded)
        );
        for (id, epoch) in [(1, epochs[0]), (3, epochs[2]), (2, epochs[1])] {
            offset += 1;
            image.apply(offset, &MetadataRecord::FenceBroker { id, epoch });
        }
        let p = image.partition("t", 1).unwrap().clone();
        assert_eq!((p.leader, &p.isr), (None, &vec![2]));
        offset += 1;
        assert_eq!(
            image.apply(offset, &elect(1, Election::Unclean)),
            Applied::Rejected(Rejection::EligibleLeadersNotAvailable)
        );
        offset += 1;
        image.apply(offset, &unfence(3, epochs[2]));
        offset += 1;
        assert_eq!(
            image.apply(offset, &elect(1, Election::Unclean)),
            Applied::Done
        );
        let p = image.partition("t", 1).unwrap();
        assert_eq!(
            (p.leader, &p.isr),
            (Some(3), &vec![3]),
            "unclean: 3 was not in the ISR"
        );
        assert!(image.broken_invariants().is_empty());
    }

    #[test]
    fn replayed_records_change_nothing() {
        let (mut image, offset, _) = three_brokers_one_topic();
        let before = image.clone();
        let again = image.apply(offset, &MetadataRecord::DeleteTopic { name: "t".into() });
        assert_eq!(again, Applied::Done);
        assert_eq!(image, before);
    }
}
