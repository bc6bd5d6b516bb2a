//! AlterPartitionReassignments, ListPartitionReassignments (KIP-455) and ElectLeaders
//! (KIP-460). In cluster mode each partition's change is a record proposed to the active
//! controller (`MetadataRecord::ReassignPartition` / `ElectLeader`); the controller records the
//! target and the replicas catch up by fetching (see `odradek_cluster::metadata`). A single node
//! holds every partition's only replica: nothing can move, and no election is ever needed.

use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse, ResponseKind, TopicName,
};
use odradek_cluster::metadata::{Election, Rejection};
use odradek_cluster::{Applied, MetadataImage, MetadataRecord, NodeId};

use super::{Ctx, Outcome, codes, forward, str_bytes};
use crate::cluster_mode::ClusterNode;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::topics::{INVALID_REPLICATION_FACTOR, TopicError, UNKNOWN_TOPIC_OR_PARTITION};

pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
pub const ELECTION_NOT_NEEDED: i16 = 84;
pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;

/// ElectLeaders' `election_type` (v1+; v0 asks for the preferred leader).
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// Kafka's answer to one partition's change that the controller refused.
pub fn rejection_error(why: &Rejection) -> Option<(i16, &'static str)> {
    Some(match why {
        Rejection::NoReassignmentInProgress => (
            NO_REASSIGNMENT_IN_PROGRESS,
            "no reassignment of the partition is in progress",
        ),
        Rejection::ElectionNotNeeded => (
            ELECTION_NOT_NEEDED,
            "the partition already has the leader asked for",
        ),
        Rejection::PreferredLeaderNotAvailable => (
            PREFERRED_LEADER_NOT_AVAILABLE,
            "the preferred replica is not live or not in the ISR",
        ),
        Rejection::EligibleLeadersNotAvailable => (
            ELIGIBLE_LEADERS_NOT_AVAILABLE,
            "no live replica can lead the partition",
        ),
        Rejection::UnknownPartition => (UNKNOWN_TOPIC_OR_PARTITION, "the partition does not exist"),
        _ => return None,
    })
}

/// What a proposal of one partition's change came to, as (error code, message).
async fn propose(cluster: &ClusterNode, record: MetadataRecord) -> (i16, Option<String>) {
    match forward::propose(cluster, record).await {
        Ok(_) => (codes::NONE, None),
        Err(e) => (e.code, Some(e.message)),
    }
}

/// The outcome `record` would have against `image` now (a dry run on a copy), so requests the
/// controller would refuse are answered without a proposal; the proposal still decides.
fn predict(image: &mut MetadataImage, record: &MetadataRecord) -> Result<(), TopicError> {
    let next = image.last_offset + 1;
    match image.apply(next, record) {
        Applied::Rejected(why) => Err(forward::rejected(why)),
        _ => Ok(()),
    }
}

fn cluster_denied(ctx: &Ctx, operation: i8) -> bool {
    !ctx.allowed(operation, resource::CLUSTER, CLUSTER_NAME)
}

pub fn alter_partition_reassignments(
    ctx: &Ctx,
    req: AlterPartitionReassignmentsRequest,
) -> Outcome {
    let mut resp = AlterPartitionReassignmentsResponse::default();
    resp.allow_replication_factor_change = req.allow_replication_factor_change;
    if cluster_denied(ctx, op::ALTER) {
        resp.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
        resp.error_message = Some(str_bytes(format!(
            "{} may not reassign partitions (ALTER on the cluster)",
            ctx.principal
        )));
        return Outcome::Respond(Box::new(ResponseKind::AlterPartitionReassignments(resp)));
    }
    let cluster = ctx.state.cluster.clone();
    let ctx = ctx.clone();
    Outcome::Later(Box::pin(async move {
        // The image as this node sees it, for the checks before a proposal.
        let mut image = cluster.as_ref().map(|c| (*c.image()).clone());
        for t in req.topics {
            let mut tr = ReassignableTopicResponse::default();
            tr.name = t.name.clone();
            for p in t.partitions {
                let target: Option<Vec<NodeId>> = p.replicas.as_ref().map(|r| {
                    r.iter()
                        .map(|b| u64::try_from(b.0).unwrap_or(u64::MAX))
                        .collect()
                });
                let (code, message) = reassign_one(
                    &ctx,
                    cluster.as_ref(),
                    image.as_mut(),
                    (&t.name.0, p.partition_index),
                    target,
                    req.allow_replication_factor_change,
                )
                .await;
                let mut pr = ReassignablePartitionResponse::default();
                pr.partition_index = p.partition_index;
                pr.error_code = code;
                pr.error_message = message.map(str_bytes);
                tr.partitions.push(pr);
            }
            resp.responses.push(tr);
        }
        ResponseKind::AlterPartitionReassignments(resp)
    }))
}

/// One partition of an AlterPartitionReassignments.
async fn reassign_one(
    ctx: &Ctx,
    cluster: Option<&Arc<ClusterNode>>,
    image: Option<&mut MetadataImage>,
    (topic, partition): (&str, i32),
    target: Option<Vec<NodeId>>,
    allow_replication_factor_change: bool,
) -> (i16, Option<String>) {
    let Ok(index) = u32::try_from(partition) else {
        return unknown_partition(topic, partition);
    };
    let (Some(cluster), Some(image)) = (cluster, image) else {
        return reassign_single_node(ctx, topic, partition, target.as_deref());
    };
    let Some(current) = image.partition(topic, index) else {
        return unknown_partition(topic, partition);
    };
    if let Some(t) = &target
        && !allow_replication_factor_change
        && t.len() != current.original_replicas().len()
    {
        return (
            INVALID_REPLICATION_FACTOR,
            Some(format!(
                "the target {t:?} changes the replication factor of {topic}-{partition} ({}), and allow_replication_factor_change is false",
                current.original_replicas().len()
            )),
        );
    }
    let record = MetadataRecord::ReassignPartition {
        topic: topic.to_string(),
        partition: index,
        target: target.clone(),
    };
    if let Err(e) = predict(image, &record) {
        return (e.code, Some(with_partition(&e.message, topic, partition)));
    }
    let (code, message) = propose(cluster, record).await;
    (code, message.map(|m| with_partition(&m, topic, partition)))
}

/// A single node: the only replica is this node, so the only valid target is itself (no
/// change) and there is never a reassignment to cancel.
fn reassign_single_node(
    ctx: &Ctx,
    topic: &str,
    partition: i32,
    target: Option<&[NodeId]>,
) -> (i16, Option<String>) {
    if !local_partition_exists(ctx, topic, partition) {
        return unknown_partition(topic, partition);
    }
    let me = u64::try_from(ctx.state.node_id).unwrap_or(u64::MAX);
    match target {
        None => (
            NO_REASSIGNMENT_IN_PROGRESS,
            Some(format!(
                "no reassignment of {topic}-{partition} is in progress"
            )),
        ),
        Some([only]) if *only == me => (codes::NONE, None),
        Some(other) => (
            INVALID_REPLICA_ASSIGNMENT,
            Some(format!(
                "the target {other:?} for {topic}-{partition} names brokers other than this single node ({me})"
            )),
        ),
    }
}

/// A single node: whether it has `topic`-`partition` (`partition` is not negative).
fn local_partition_exists(ctx: &Ctx, topic: &str, partition: i32) -> bool {
    ctx.state
        .topics
        .get(topic)
        .is_some_and(|t| (partition as usize) < t.partition_count())
}

fn unknown_partition(topic: &str, partition: i32) -> (i16, Option<String>) {
    (
        UNKNOWN_TOPIC_OR_PARTITION,
        Some(format!("{topic}-{partition} does not exist")),
    )
}

fn with_partition(message: &str, topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}: {message}")
}

pub fn list_partition_reassignments(
    ctx: &Ctx,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let mut resp = ListPartitionReassignmentsResponse::default();
    if cluster_denied(ctx, op::DESCRIBE) {
        resp.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
        resp.error_message = Some(str_bytes(format!(
            "{} may not list reassignments (DESCRIBE on the cluster)",
            ctx.principal
        )));
        return resp;
    }
    // A single node never has one in progress.
    let Some(cluster) = &ctx.state.cluster else {
        return resp;
    };
    let image = cluster.image();
    let ids = |v: &[NodeId]| -> Vec<BrokerId> {
        v.iter()
            .map(|id| BrokerId(i32::try_from(*id).unwrap_or(-1)))
            .collect()
    };
    let wanted: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    for (name, t) in &image.topics {
        let only = match &wanted {
            None => None,
            Some(w) => match w.iter().find(|(n, _)| n == name) {
                Some((_, parts)) => Some(parts),
                None => continue,
            },
        };
        let mut out = OngoingTopicReassignment::default();
        out.name = TopicName(str_bytes(name.clone()));
        for (i, p) in t.partitions.iter().enumerate() {
            // As Kafka, partitions that do not exist or are not moving are left out.
            if !p.reassigning() || only.is_some_and(|o| !o.contains(&(i as i32))) {
                continue;
            }
            let mut op = OngoingPartitionReassignment::default();
            op.partition_index = i as i32;
            op.replicas = ids(&p.replicas);
            op.adding_replicas = ids(&p.adding);
            op.removing_replicas = ids(&p.removing);
            out.partitions.push(op);
        }
        if !out.partitions.is_empty() {
            resp.topics.push(out);
        }
    }
    resp
}

pub fn elect_leaders(ctx: &Ctx, version: i16, req: ElectLeadersRequest) -> Outcome {
    let mut resp = ElectLeadersResponse::default();
    if cluster_denied(ctx, op::ALTER) {
        // As Kafka: the request's error, repeated on every partition it named.
        resp.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
        for t in req.topic_partitions.unwrap_or_default() {
            let mut tr = ReplicaElectionResult::default();
            tr.topic = t.topic;
            for partition in t.partitions {
                let mut pr = PartitionResult::default();
                pr.partition_id = partition;
                pr.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
                pr.error_message = Some(str_bytes(format!(
                    "{} may not elect leaders (ALTER on the cluster)",
                    ctx.principal
                )));
                tr.partition_result.push(pr);
            }
            resp.replica_election_results.push(tr);
        }
        return Outcome::Respond(Box::new(ResponseKind::ElectLeaders(resp)));
    }
    let election = match (version, req.election_type) {
        (0, _) | (_, PREFERRED) => Election::Preferred,
        (_, UNCLEAN) => Election::Unclean,
        (_, other) => {
            // Kafka's INVALID_REQUEST names the field; there is no per-partition answer.
            tracing::debug!(
                election_type = other,
                "ElectLeaders with an unknown election type"
            );
            resp.error_code = codes::INVALID_REQUEST;
            return Outcome::Respond(Box::new(ResponseKind::ElectLeaders(resp)));
        }
    };
    let cluster = ctx.state.cluster.clone();
    let ctx = ctx.clone();
    Outcome::Later(Box::pin(async move {
        let all = req.topic_partitions.is_none();
        let wanted: Vec<(String, Vec<i32>)> = match req.topic_partitions {
            Some(tps) => tps
                .into_iter()
                .map(|t| (t.topic.0.to_string(), t.partitions))
                .collect(),
            None => every_partition(&ctx, cluster.as_deref()),
        };
        let mut image = cluster.as_ref().map(|c| (*c.image()).clone());
        for (topic, partitions) in wanted {
            let mut tr = ReplicaElectionResult::default();
            tr.topic = TopicName(str_bytes(topic.clone()));
            for partition in partitions {
                let (code, message) = elect_one(
                    &ctx,
                    cluster.as_ref(),
                    image.as_mut(),
                    (&topic, partition),
                    election,
                )
                .await;
                // Electing every partition answers only for those an election was tried for.
                if all && code == ELECTION_NOT_NEEDED {
                    continue;
                }
                let mut pr = PartitionResult::default();
                pr.partition_id = partition;
                pr.error_code = code;
                pr.error_message = message.map(str_bytes);
                tr.partition_result.push(pr);
            }
            if !tr.partition_result.is_empty() || !all {
                resp.replica_election_results.push(tr);
            }
        }
        ResponseKind::ElectLeaders(resp)
    }))
}

/// Every partition of every topic (ElectLeaders with no partitions named).
fn every_partition(ctx: &Ctx, cluster: Option<&ClusterNode>) -> Vec<(String, Vec<i32>)> {
    match cluster {
        Some(c) => c
            .image()
            .topics
            .iter()
            .map(|(n, t)| (n.clone(), (0..t.partitions.len() as i32).collect()))
            .collect(),
        None => ctx
            .state
            .topics
            .list()
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    (0..t.partition_count() as i32).collect(),
                )
            })
            .collect(),
    }
}

async fn elect_one(
    ctx: &Ctx,
    cluster: Option<&Arc<ClusterNode>>,
    image: Option<&mut MetadataImage>,
    (topic, partition): (&str, i32),
    election: Election,
) -> (i16, Option<String>) {
    let Ok(index) = u32::try_from(partition) else {
        return unknown_partition(topic, partition);
    };
    let (Some(cluster), Some(image)) = (cluster, image) else {
        // A single node leads every partition it has: its only replica.
        if !local_partition_exists(ctx, topic, partition) {
            return unknown_partition(topic, partition);
        }
        return (
            ELECTION_NOT_NEEDED,
            Some(format!(
                "{topic}-{partition} is led by its only replica already"
            )),
        );
    };
    let record = MetadataRecord::ElectLeader {
        topic: topic.to_string(),
        partition: index,
        election,
    };
    if let Err(e) = predict(image, &record) {
        return (e.code, Some(with_partition(&e.message, topic, partition)));
    }
    let (code, message) = propose(cluster, record).await;
    (code, message.map(|m| with_partition(&m, topic, partition)))
}
