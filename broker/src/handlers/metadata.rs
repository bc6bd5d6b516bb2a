//! Metadata: this node as the only broker and leader of every partition; topics are created on
//! first mention when `auto.create.topics.enable` allows and the client asks for it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{Ctx, authorized, cluster_view, codes, str_bytes};
use crate::config::TopicOverrides;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::topics::{OFFSETS_TOPIC, Topic, is_internal};

pub fn handle(ctx: &Ctx, version: i16, req: MetadataRequest) -> MetadataResponse {
    let s = &ctx.state;
    let mut r = MetadataResponse::default();
    r.brokers = cluster_view::brokers(ctx)
        .into_iter()
        .map(|a| {
            let mut b = MetadataResponseBroker::default();
            b.node_id = BrokerId(a.id);
            b.host = str_bytes(a.host);
            b.port = a.port;
            b.rack = a.rack.map(str_bytes);
            b
        })
        .collect();
    r.cluster_id = Some(str_bytes(s.cluster_id.clone()));
    r.controller_id = BrokerId(cluster_view::controller_id(ctx));
    // Only v8-10 carry the cluster's operations (KIP-700 moved them to DescribeCluster).
    r.cluster_authorized_operations = authorized::if_requested(
        req.include_cluster_authorized_operations,
        authorized::granted(ctx, resource::CLUSTER, CLUSTER_NAME, authorized::CLUSTER),
    );

    // v0: an empty list means all topics; v1+: null means all.
    let wanted = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    let auto_create =
        s.props().auto_create_topics() && (version < 4 || req.allow_auto_topic_creation);
    if let Some(cluster) = &s.cluster {
        r.topics = cluster_view::metadata_topics(
            ctx,
            cluster,
            wanted,
            auto_create,
            req.include_topic_authorized_operations,
        );
        return r;
    }
    r.topics = match wanted {
        None => s
            .topics
            .list()
            .iter()
            // Only the topics the principal may describe are listed.
            .filter(|t| ctx.allowed(op::DESCRIBE, resource::TOPIC, &t.name))
            .map(|t| describe(ctx, t, req.include_topic_authorized_operations))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|rt| {
                let name = rt.name.as_ref().map(|n| n.0.to_string());
                let found = match &name {
                    Some(n) => s.topics.get(n),
                    None => s.topics.get_by_id(&rt.topic_id),
                };
                let denied = match (&found, &name) {
                    (Some(t), _) => !ctx.allowed(op::DESCRIBE, resource::TOPIC, &t.name),
                    (None, Some(n)) => !ctx.allowed(op::DESCRIBE, resource::TOPIC, n),
                    (None, None) => false,
                };
                if denied {
                    // As Kafka: the same answer whether or not the topic exists.
                    let name = name.or_else(|| found.map(|t| t.name.to_string()));
                    return error_topic(name, rt.topic_id, codes::TOPIC_AUTHORIZATION_FAILED);
                }
                match (found, name) {
                    (Some(t), _) => describe(ctx, &t, req.include_topic_authorized_operations),
                    (None, Some(n))
                        if auto_create
                            && (ctx.allowed(op::CREATE, resource::CLUSTER, CLUSTER_NAME)
                                || ctx.allowed(op::CREATE, resource::TOPIC, &n)) =>
                    {
                        auto_create_topic(ctx, &n, req.include_topic_authorized_operations)
                    }
                    (None, Some(n)) => {
                        error_topic(Some(n), rt.topic_id, codes::UNKNOWN_TOPIC_OR_PARTITION)
                    }
                    (None, None) => error_topic(None, rt.topic_id, codes::UNKNOWN_TOPIC_ID),
                }
            })
            .collect(),
    };
    r
}

fn auto_create_topic(ctx: &Ctx, name: &str, ops: bool) -> MetadataResponseTopic {
    let s = &ctx.state;
    let created = if name == OFFSETS_TOPIC {
        s.topics.ensure_offsets_topic().map(Some)
    } else {
        s.topics.create(name, -1, -1, TopicOverrides::new(), false)
    };
    match created {
        Ok(Some(t)) => describe(ctx, &t, ops),
        Ok(None) => error_topic(
            Some(name.to_string()),
            Default::default(),
            codes::UNKNOWN_TOPIC_OR_PARTITION,
        ),
        // A concurrent request created it first.
        Err(e) if e.code == crate::topics::TOPIC_ALREADY_EXISTS => match s.topics.get(name) {
            Some(t) => describe(ctx, &t, ops),
            None => error_topic(
                Some(name.to_string()),
                Default::default(),
                codes::UNKNOWN_TOPIC_OR_PARTITION,
            ),
        },
        Err(e) if e.code == crate::topics::INVALID_TOPIC => error_topic(
            Some(name.to_string()),
            Default::default(),
            codes::INVALID_TOPIC_EXCEPTION,
        ),
        Err(e) => {
            tracing::warn!(topic = name, "auto-creating topic failed: {}", e.message);
            error_topic(Some(name.to_string()), Default::default(), e.code)
        }
    }
}

pub(super) fn error_topic(
    name: Option<String>,
    id: uuid::Uuid,
    code: i16,
) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.error_code = code;
    t.name = name.map(|n| TopicName(str_bytes(n)));
    t.topic_id = id;
    t.topic_authorized_operations = authorized::NOT_REQUESTED;
    t
}

pub fn describe(ctx: &Ctx, topic: &Topic, include_ops: bool) -> MetadataResponseTopic {
    let node = BrokerId(ctx.state.node_id);
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(str_bytes(topic.name.to_string())));
    t.topic_id = topic.id;
    t.is_internal = is_internal(&topic.name);
    t.topic_authorized_operations = authorized::if_requested(
        include_ops,
        authorized::granted(ctx, resource::TOPIC, &topic.name, authorized::TOPIC),
    );
    t.partitions = topic
        .partitions()
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index;
            mp.leader_id = node;
            mp.leader_epoch = p.log().leader_epoch();
            mp.replica_nodes = vec![node];
            mp.isr_nodes = vec![node];
            mp
        })
        .collect();
    t
}
