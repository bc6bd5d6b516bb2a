//! What clients are told about the cluster's shape: its brokers, the controller, partition
//! leaders and coordinators. A single node names itself; in cluster mode every answer comes
//! from the metadata image (each broker's endpoint on the listener the client connected to).

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, TopicName};
use odradek_cluster::metadata::TopicImage;
use odradek_cluster::{MetadataImage, MetadataRecord};

use super::metadata::error_topic;
use super::{Ctx, authorized, codes, str_bytes};
use crate::cluster_mode::ClusterNode;
use crate::cluster_mode::group_log::partition_for;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::topics::{OFFSETS_TOPIC, is_internal};

/// Kafka's LEADER_NOT_AVAILABLE: retriable, the partition has no leader yet.
const LEADER_NOT_AVAILABLE: i16 = 5;

/// A broker as clients reach it.
#[derive(Debug, Clone)]
pub struct BrokerAddr {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

/// The live brokers clients may use (this node alone without a cluster).
pub fn brokers(ctx: &Ctx) -> Vec<BrokerAddr> {
    let Some(cluster) = &ctx.state.cluster else {
        return vec![this_node(ctx)];
    };
    let image = cluster.image();
    image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| endpoint(ctx, &image, b.id))
        .collect()
}

fn this_node(ctx: &Ctx) -> BrokerAddr {
    BrokerAddr {
        id: ctx.state.node_id,
        host: ctx.listener.advertised_host.clone(),
        port: ctx.listener.advertised_port,
        rack: None,
    }
}

/// Broker `id`'s endpoint on the client's listener, if it is registered with one.
fn endpoint(ctx: &Ctx, image: &MetadataImage, id: u64) -> Option<BrokerAddr> {
    let b = image.brokers.get(&id)?;
    let e = b
        .listeners
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(&ctx.listener.name))?;
    Some(BrokerAddr {
        id: i32::try_from(id).ok()?,
        host: e.host.clone(),
        port: i32::from(e.port),
        rack: b.rack.clone(),
    })
}

/// Cluster mode: the leader of `topic`/`partition` and its leader epoch, for a
/// NOT_LEADER_OR_FOLLOWER answer that tells the client where to go (Produce v10+, Fetch v12+).
pub fn current_leader(ctx: &Ctx, topic: &str, partition: i32) -> Option<(BrokerAddr, i32)> {
    let cluster = ctx.state.cluster.as_ref()?;
    let image = cluster.image();
    let p = image.partition(topic, u32::try_from(partition).ok()?)?;
    let leader = p.leader.filter(|l| image.is_live(*l))?;
    Some((endpoint(ctx, &image, leader)?, p.leader_epoch))
}

/// Cluster mode: whether the metadata image knows `topic`/`partition`, which this node may hold
/// no replica of (then it is led elsewhere: NOT_LEADER_OR_FOLLOWER, as Kafka answers).
pub fn known_partition(ctx: &Ctx, topic: &str, partition: i32) -> bool {
    ctx.state.cluster.as_ref().is_some_and(|c| {
        u32::try_from(partition).is_ok_and(|i| c.image().partition(topic, i).is_some())
    })
}

/// Cluster mode: the name of a topic the image knows, by `name` or (without one, as requests
/// naming topics by id) by `id`; for topics with no replica, hence no local log, on this node.
pub fn image_topic_name(ctx: &Ctx, name: Option<&str>, id: uuid::Uuid) -> Option<String> {
    let image = ctx.state.cluster.as_ref()?.image();
    match name {
        Some(n) => image.topics.contains_key(n).then(|| n.to_string()),
        None => image
            .topics
            .iter()
            .find(|(_, t)| uuid::Uuid::from_u128(t.id) == id)
            .map(|(n, _)| n.clone()),
    }
}

/// The controller id clients see (-1 during an election).
pub fn controller_id(ctx: &Ctx) -> i32 {
    match &ctx.state.cluster {
        None => ctx.state.node_id,
        Some(c) => c
            .active_controller()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(-1),
    }
}

/// The coordinator of a group (`key_type` 0) or transactional id (1). In cluster mode a group's
/// coordinator is the leader of its `__consumer_offsets` partition (the topic is created on the
/// first lookup; `None` until it has a live leader, which clients retry). Transactions are
/// refused in cluster mode: a transactional id is placed on a registered broker by a hash of
/// the key (the next live one if that one is fenced).
pub fn coordinator(ctx: &Ctx, key_type: i8, key: &str) -> Option<BrokerAddr> {
    let Some(cluster) = &ctx.state.cluster else {
        return Some(this_node(ctx));
    };
    let image = cluster.image();
    if key_type == 0 {
        // A node whose image is still replaying after a restart names old leaders: none yet.
        if !cluster.is_serving(&image) {
            return None;
        }
        let Some(topic) = image.topics.get(OFFSETS_TOPIC) else {
            super::forward::create_offsets_topic(ctx, cluster);
            return None;
        };
        let p = partition_for(key, topic.partitions.len());
        let leader = topic.partitions.get(p as usize)?.leader?;
        return image
            .is_live(leader)
            .then(|| endpoint(ctx, &image, leader))
            .flatten();
    }
    let ids: Vec<u64> = image.brokers.keys().copied().collect();
    if ids.is_empty() {
        return None;
    }
    let start = crc32c::crc32c(key.as_bytes()) as usize % ids.len();
    (0..ids.len())
        .map(|i| ids[(start + i) % ids.len()])
        .find(|id| image.is_live(*id))
        .and_then(|id| endpoint(ctx, &image, id))
}

/// Metadata's topics in cluster mode, from the image; a missing topic the client may create is
/// proposed to the controller and answered LEADER_NOT_AVAILABLE, as Kafka does.
pub fn metadata_topics(
    ctx: &Ctx,
    cluster: &Arc<ClusterNode>,
    wanted: Option<Vec<kafka_protocol::messages::metadata_request::MetadataRequestTopic>>,
    auto_create: bool,
    ops: bool,
) -> Vec<MetadataResponseTopic> {
    let image = cluster.image();
    let Some(list) = wanted else {
        return image
            .topics
            .iter()
            .filter(|(name, _)| ctx.allowed(op::DESCRIBE, resource::TOPIC, name))
            .map(|(name, t)| describe(ctx, &image, name, t, ops))
            .collect();
    };
    list.into_iter()
        .map(|rt| {
            let name = rt.name.as_ref().map(|n| n.0.to_string());
            let found = match &name {
                Some(n) => image.topics.get_key_value(n),
                None => image
                    .topics
                    .iter()
                    .find(|(_, t)| uuid::Uuid::from_u128(t.id) == rt.topic_id),
            };
            let shown = name.clone().or_else(|| found.map(|(n, _)| n.clone()));
            let denied = shown
                .as_deref()
                .is_some_and(|n| !ctx.allowed(op::DESCRIBE, resource::TOPIC, n));
            if denied {
                return error_topic(shown, rt.topic_id, codes::TOPIC_AUTHORIZATION_FAILED);
            }
            match (found, name) {
                (Some((n, t)), _) => describe(ctx, &image, n, t, ops),
                (None, Some(n))
                    if auto_create
                        && crate::topics::validate_topic_name(&n).is_ok()
                        && (ctx.allowed(op::CREATE, resource::CLUSTER, CLUSTER_NAME)
                            || ctx.allowed(op::CREATE, resource::TOPIC, &n)) =>
                {
                    super::forward::auto_create(ctx, cluster, &n);
                    error_topic(Some(n), rt.topic_id, LEADER_NOT_AVAILABLE)
                }
                (None, Some(n)) => {
                    error_topic(Some(n), rt.topic_id, codes::UNKNOWN_TOPIC_OR_PARTITION)
                }
                (None, None) => error_topic(None, rt.topic_id, codes::UNKNOWN_TOPIC_ID),
            }
        })
        .collect()
}

fn describe(
    ctx: &Ctx,
    image: &MetadataImage,
    name: &str,
    topic: &TopicImage,
    include_ops: bool,
) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(str_bytes(name.to_string())));
    t.topic_id = uuid::Uuid::from_u128(topic.id);
    t.is_internal = is_internal(name);
    t.topic_authorized_operations = authorized::if_requested(
        include_ops,
        authorized::granted(ctx, resource::TOPIC, name, authorized::TOPIC),
    );
    let ids = |v: &[u64]| -> Vec<BrokerId> {
        v.iter()
            .map(|id| BrokerId(i32::try_from(*id).unwrap_or(-1)))
            .collect()
    };
    t.partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = i as i32;
            mp.leader_id = BrokerId(p.leader.and_then(|l| i32::try_from(l).ok()).unwrap_or(-1));
            if p.leader.is_none() {
                mp.error_code = LEADER_NOT_AVAILABLE;
            }
            mp.leader_epoch = p.leader_epoch;
            mp.replica_nodes = ids(&p.replicas);
            mp.isr_nodes = ids(&p.isr);
            let offline: Vec<u64> = p
                .replicas
                .iter()
                .copied()
                .filter(|r| !image.is_live(*r))
                .collect();
            mp.offline_replicas = ids(&offline);
            mp
        })
        .collect();
    t
}

/// The proposal a CreateTopics or an auto-creation makes.
pub fn create_topic_record(
    image: &MetadataImage,
    name: &str,
    partitions: u32,
    replication_factor: u16,
    configs: crate::config::TopicOverrides,
) -> Result<MetadataRecord, String> {
    let live = image.brokers.values().filter(|b| !b.fenced).count();
    // Leaderships of consecutive topics start on different brokers.
    let start = crc32c::crc32c(name.as_bytes()) as usize;
    let assignment = odradek_cluster::metadata::assign_replicas(
        image,
        partitions,
        replication_factor,
        start,
    )
    .ok_or_else(|| {
        format!(
            "unable to replicate the partition {replication_factor} time(s): the target replication factor of {replication_factor} cannot be reached because only {live} broker(s) are registered"
        )
    })?;
    Ok(MetadataRecord::CreateTopic {
        name: name.to_string(),
        id: crate::time::random_uuid().as_u128(),
        assignment,
        configs,
    })
}
