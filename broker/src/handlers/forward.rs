//! Cluster mode: topic administration is proposed to the active controller (KRaft forwards it
//! the same way) and answered once this node's image holds the change. Local logs follow the
//! image (see `cluster_mode::reconcile`), never the request.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, ResponseKind, TopicName,
};
use odradek_cluster::metadata::Rejection;
use odradek_cluster::{Applied, MetadataImage, MetadataRecord, ProposeError};

use super::admin::{INVALID_REQUEST, REASSIGNMENT_IN_PROGRESS_OR_INVALID, UNKNOWN_TOPIC_ID};
use super::{Ctx, Outcome, admin, cluster_view, codes, str_bytes};
use crate::cluster_mode::ClusterNode;
use crate::config::TopicOverrides;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::topics::{
    INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, OFFSETS_TOPIC, TOPIC_ALREADY_EXISTS,
    TopicError, UNKNOWN_TOPIC_OR_PARTITION,
};

/// How long an answer waits for this node's image to catch up with a committed change.
const CATCH_UP: Duration = Duration::from_secs(5);
/// Kafka's NOT_CONTROLLER: retriable, the client asks again (another broker, or later).
const NOT_CONTROLLER: i16 = 41;

fn cluster(ctx: &Ctx) -> Arc<ClusterNode> {
    ctx.state
        .cluster
        .clone()
        .expect("forward handlers run in cluster mode only")
}

/// A proposal's outcome as a Kafka error; `Ok` when it applied.
pub(super) async fn propose(
    cluster: &ClusterNode,
    record: MetadataRecord,
) -> Result<Applied, TopicError> {
    match cluster.propose(record, CATCH_UP).await {
        Ok(Applied::Rejected(why)) => Err(rejected(why)),
        Ok(applied) => Ok(applied),
        Err(e @ (ProposeError::NotLeader { .. } | ProposeError::Unavailable(_))) => {
            Err(TopicError {
                code: NOT_CONTROLLER,
                message: format!("{e}; retry"),
            })
        }
        Err(e) => Err(TopicError {
            code: codes::KAFKA_STORAGE_ERROR,
            message: e.to_string(),
        }),
    }
}

pub(super) fn rejected(why: Rejection) -> TopicError {
    if let Some((code, message)) = super::reassign::rejection_error(&why) {
        return TopicError {
            code,
            message: message.into(),
        };
    }
    let (code, message) = match why {
        Rejection::TopicExists => (TOPIC_ALREADY_EXISTS, "the topic already exists".into()),
        Rejection::UnknownTopic | Rejection::UnknownPartition => (
            UNKNOWN_TOPIC_OR_PARTITION,
            "the topic does not exist".into(),
        ),
        Rejection::InvalidAssignment | Rejection::IneligibleReplica => (
            REASSIGNMENT_IN_PROGRESS_OR_INVALID,
            "the replica assignment names unknown or repeated brokers".into(),
        ),
        other => (
            INVALID_REQUEST,
            format!("the controller rejected it: {other:?}"),
        ),
    };
    TopicError { code, message }
}

/// A requested replication factor: at least 1 and at most the live brokers (Kafka's
/// INVALID_REPLICATION_FACTOR otherwise).
fn check_replication(image: &MetadataImage, rf: i64) -> Result<u16, TopicError> {
    let live = image.brokers.values().filter(|b| !b.fenced).count() as i64;
    if rf < 1 || rf > live || rf > i64::from(i16::MAX) {
        return Err(TopicError {
            code: INVALID_REPLICATION_FACTOR,
            message: format!(
                "replication factor {rf}: it must be at least 1 and at most the {live} live broker(s)"
            ),
        });
    }
    Ok(rf as u16)
}

/// What to propose for one CreateTopics entry (checked against this node's image).
fn prepare_topic(
    ctx: &Ctx,
    cluster: &ClusterNode,
    ct: &CreatableTopic,
) -> Result<(MetadataRecord, TopicOverrides, i32), TopicError> {
    let name = ct.name.0.to_string();
    if !ctx.allowed(op::CREATE, resource::CLUSTER, CLUSTER_NAME)
        && !ctx.allowed(op::CREATE, resource::TOPIC, &name)
    {
        return Err(TopicError {
            code: codes::TOPIC_AUTHORIZATION_FAILED,
            message: format!("{} may not create topic {name}", ctx.principal),
        });
    }
    let overrides = admin::requested_overrides(ct)?;
    let image = cluster.image();
    if image.topics.contains_key(&name) {
        return Err(TopicError {
            code: TOPIC_ALREADY_EXISTS,
            message: format!("topic '{name}' already exists"),
        });
    }
    let s = &ctx.state;
    if ct.assignments.is_empty() {
        let partitions = s
            .topics
            .check_new_topic(&name, ct.num_partitions, &overrides)?;
        let rf = match ct.replication_factor {
            -1 => s.props().default_replication_factor(),
            rf => rf,
        };
        let rf = check_replication(&image, i64::from(rf))?;
        let record = cluster_view::create_topic_record(
            &image,
            &name,
            partitions as u32,
            rf,
            overrides.clone(),
        )
        .map_err(|message| TopicError {
            code: INVALID_REPLICATION_FACTOR,
            message,
        })?;
        return Ok((record, overrides, partitions));
    }
    if ct.num_partitions != -1 || ct.replication_factor != -1 {
        return Err(TopicError {
            code: INVALID_REQUEST,
            message: "both assignments and num_partitions/replication_factor were set".into(),
        });
    }
    let partitions = s
        .topics
        .check_new_topic(&name, ct.assignments.len() as i32, &overrides)?;
    let mut assignment = Vec::with_capacity(ct.assignments.len());
    for (i, a) in ct.assignments.iter().enumerate() {
        if a.partition_index != i as i32 || a.broker_ids.iter().any(|b| b.0 < 0) {
            return Err(TopicError {
                code: REASSIGNMENT_IN_PROGRESS_OR_INVALID,
                message: "replica assignment must list partitions 0.. in order, by broker id"
                    .into(),
            });
        }
        check_replication(&image, a.broker_ids.len() as i64)?;
        assignment.push(a.broker_ids.iter().map(|b| b.0 as u64).collect());
    }
    let record = MetadataRecord::CreateTopic {
        name,
        id: crate::time::random_uuid().as_u128(),
        assignment,
        configs: overrides.clone(),
    };
    Ok((record, overrides, partitions))
}

pub fn create_topics(ctx: &Ctx, version: i16, req: CreateTopicsRequest) -> Outcome {
    let cluster = cluster(ctx);
    let ctx = ctx.clone();
    Outcome::Later(Box::pin(async move {
        let mut resp = CreateTopicsResponse::default();
        for ct in req.topics {
            let mut r = CreatableTopicResult::default();
            r.name = ct.name.clone();
            r.num_partitions = -1;
            r.replication_factor = -1;
            let result = match prepare_topic(&ctx, &cluster, &ct) {
                Ok((record, overrides, partitions)) => {
                    let (id, rf) = match &record {
                        MetadataRecord::CreateTopic { id, assignment, .. } => {
                            (*id, assignment.first().map_or(0, Vec::len) as i16)
                        }
                        _ => (0, -1),
                    };
                    let done = if req.validate_only {
                        Ok(())
                    } else {
                        propose(&cluster, record).await.map(|_| ())
                    };
                    done.map(|()| (overrides, partitions, id, rf))
                }
                Err(e) => Err(e),
            };
            match result {
                Ok((overrides, partitions, id, rf)) => {
                    r.num_partitions = partitions;
                    r.replication_factor = rf;
                    if !req.validate_only {
                        r.topic_id = uuid::Uuid::from_u128(id);
                    }
                    if version >= 5 {
                        r.configs = Some(admin::creatable_configs(&ctx, &overrides));
                    }
                }
                Err(e) => {
                    r.error_code = e.code;
                    r.error_message = Some(str_bytes(e.message));
                }
            }
            resp.topics.push(r);
        }
        ResponseKind::CreateTopics(resp)
    }))
}

/// Metadata's auto-creation: proposed in the background; the client retries the lookup.
pub fn auto_create(ctx: &Ctx, cluster: &Arc<ClusterNode>, name: &str) {
    if name == OFFSETS_TOPIC {
        return create_offsets_topic(ctx, cluster);
    }
    let s = &ctx.state;
    let partitions = s.props().num_partitions() as u32;
    let rf = i64::from(s.props().default_replication_factor());
    propose_in_background(cluster, name, partitions, rf, TopicOverrides::new());
}

/// Creates `__consumer_offsets` as Kafka does on the first coordinator lookup:
/// `offsets.topic.num.partitions` partitions, `offsets.topic.replication.factor` replicas (at
/// most the live brokers, so a smaller cluster still gets one), compacted.
pub fn create_offsets_topic(ctx: &Ctx, cluster: &Arc<ClusterNode>) {
    let props = ctx.state.props();
    let live = cluster
        .image()
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .count() as i64;
    let rf = props.offsets_topic_replication_factor().min(live).max(1);
    let mut configs = TopicOverrides::new();
    configs.insert("cleanup.policy".into(), "compact".into());
    configs.insert("compression.type".into(), "producer".into());
    configs.insert(
        "segment.bytes".into(),
        props.offsets_topic_segment_bytes().to_string(),
    );
    let partitions = props.offsets_topic_num_partitions() as u32;
    propose_in_background(cluster, OFFSETS_TOPIC, partitions, rf, configs);
}

/// Proposes a topic's creation without waiting; one already created meanwhile is fine.
fn propose_in_background(
    cluster: &Arc<ClusterNode>,
    name: &str,
    partitions: u32,
    rf: i64,
    configs: TopicOverrides,
) {
    let image = cluster.image();
    let rf = match check_replication(&image, rf) {
        Ok(rf) => rf,
        Err(e) => {
            tracing::info!(topic = name, "not auto-creating yet: {}", e.message);
            return;
        }
    };
    let record = match cluster_view::create_topic_record(&image, name, partitions, rf, configs) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(topic = name, "not auto-creating yet: {e}");
            return;
        }
    };
    let cluster = cluster.clone();
    tokio::spawn(async move {
        if let Err(e) = propose(&cluster, record).await
            && e.code != TOPIC_ALREADY_EXISTS
        {
            tracing::info!("auto-creating a topic failed: {}", e.message);
        }
    });
}

pub fn delete_topics(ctx: &Ctx, version: i16, req: DeleteTopicsRequest) -> Outcome {
    let cluster = cluster(ctx);
    let ctx = ctx.clone();
    Outcome::Later(Box::pin(async move {
        let mut resp = DeleteTopicsResponse::default();
        for (name, id) in admin::delete_targets(version, req) {
            let mut r = DeletableTopicResult::default();
            r.topic_id = id;
            let image = cluster.image();
            let found = match &name {
                Some(n) => image.topics.get_key_value(n),
                None => image
                    .topics
                    .iter()
                    .find(|(_, t)| uuid::Uuid::from_u128(t.id) == id),
            };
            r.name = name
                .clone()
                .or_else(|| found.map(|(n, _)| n.clone()))
                .map(|n| TopicName(str_bytes(n)));
            let result = match (found, &name) {
                (None, None) => Err(TopicError {
                    code: UNKNOWN_TOPIC_ID,
                    message: format!("topic id {id} does not exist"),
                }),
                (_, Some(n)) | (Some((n, _)), None)
                    if !ctx.allowed(op::DELETE, resource::TOPIC, n) =>
                {
                    Err(TopicError {
                        code: codes::TOPIC_AUTHORIZATION_FAILED,
                        message: format!("{} may not delete topic {n}", ctx.principal),
                    })
                }
                (None, Some(n)) => Err(TopicError {
                    code: UNKNOWN_TOPIC_OR_PARTITION,
                    message: format!("topic '{n}' does not exist"),
                }),
                (Some(_), _) if !ctx.state.props().delete_topic_enable() => Err(TopicError {
                    code: crate::topics::TOPIC_DELETION_DISABLED,
                    message: "topic deletion is disabled (delete.topic.enable=false)".into(),
                }),
                (Some((n, t)), _) => {
                    r.topic_id = uuid::Uuid::from_u128(t.id);
                    let record = MetadataRecord::DeleteTopic { name: n.clone() };
                    propose(&cluster, record).await.map(|_| ())
                }
            };
            if let Err(e) = result {
                r.error_code = e.code;
                r.error_message = Some(str_bytes(e.message));
            }
            resp.responses.push(r);
        }
        ResponseKind::DeleteTopics(resp)
    }))
}

pub fn create_partitions(ctx: &Ctx, req: CreatePartitionsRequest) -> Outcome {
    let cluster = cluster(ctx);
    let ctx = ctx.clone();
    Outcome::Later(Box::pin(async move {
        let mut resp = CreatePartitionsResponse::default();
        for t in req.topics {
            let mut r = CreatePartitionsTopicResult::default();
            r.name = t.name.clone();
            let result = async {
                if !ctx.allowed(op::ALTER, resource::TOPIC, &t.name) {
                    return Err(TopicError {
                        code: codes::TOPIC_AUTHORIZATION_FAILED,
                        message: format!("{} may not alter topic {}", ctx.principal, t.name.0),
                    });
                }
                let image = cluster.image();
                let Some(topic) = image.topics.get(t.name.0.as_str()) else {
                    return Err(TopicError {
                        code: UNKNOWN_TOPIC_OR_PARTITION,
                        message: format!("topic '{}' does not exist", t.name.0),
                    });
                };
                let current = topic.partitions.len() as i32;
                // New partitions get the topic's replication factor.
                let rf = topic
                    .partitions
                    .first()
                    .map_or(1, |p| p.target_replicas().len()) as u16;
                if t.count <= current || t.count > 100_000 {
                    return Err(TopicError {
                        code: INVALID_PARTITIONS,
                        message: format!(
                            "topic has {current} partitions; the new count must be above it and at most 100000, got {}",
                            t.count
                        ),
                    });
                }
                let added = (t.count - current) as u32;
                let given = t.assignments.as_ref().filter(|a| !a.is_empty());
                let assignment: Vec<Vec<u64>> = match given {
                    Some(a) => {
                        let mut out = Vec::new();
                        for a in a {
                            check_replication(&image, a.broker_ids.len() as i64)?;
                            out.push(a.broker_ids.iter().map(|b| b.0 as u64).collect());
                        }
                        out
                    }
                    None => odradek_cluster::metadata::assign_replicas(
                        &image,
                        added,
                        rf,
                        current as usize,
                    )
                    .ok_or_else(|| TopicError {
                        code: INVALID_REPLICATION_FACTOR,
                        message: format!("fewer than {rf} live brokers to place the new partitions on"),
                    })?,
                };
                if assignment.len() != added as usize {
                    return Err(TopicError {
                        code: REASSIGNMENT_IN_PROGRESS_OR_INVALID,
                        message: format!("{} assignments for {added} new partitions", assignment.len()),
                    });
                }
                if req.validate_only {
                    return Ok(());
                }
                let record = MetadataRecord::CreatePartitions {
                    topic: t.name.0.to_string(),
                    assignment,
                };
                propose(&cluster, record).await.map(|_| ())
            }
            .await;
            if let Err(e) = result {
                r.error_code = e.code;
                r.error_message = Some(str_bytes(e.message));
            }
            resp.results.push(r);
        }
        ResponseKind::CreatePartitions(resp)
    }))
}
