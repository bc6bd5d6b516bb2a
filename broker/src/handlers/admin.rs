//! CreateTopics, DeleteTopics, CreatePartitions.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};

use super::{Ctx, codes, configs, str_bytes};
use crate::config::TopicOverrides;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::topics::{
    INVALID_CONFIG, INVALID_REPLICATION_FACTOR, TopicError, UNKNOWN_TOPIC_OR_PARTITION,
};

pub(super) const INVALID_REQUEST: i16 = 42;
pub(super) const UNKNOWN_TOPIC_ID: i16 = 100;
pub(super) const REASSIGNMENT_IN_PROGRESS_OR_INVALID: i16 = 39; // INVALID_REPLICA_ASSIGNMENT

pub fn create_topics(ctx: &Ctx, version: i16, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let s = &ctx.state;
    let mut resp = CreateTopicsResponse::default();
    for ct in req.topics {
        let name = ct.name.0.to_string();
        let mut r = CreatableTopicResult::default();
        r.name = ct.name.clone();
        r.num_partitions = -1;
        r.replication_factor = -1;
        let result = (|| -> Result<_, TopicError> {
            if !ctx.allowed(op::CREATE, resource::CLUSTER, CLUSTER_NAME)
                && !ctx.allowed(op::CREATE, resource::TOPIC, &name)
            {
                return Err(TopicError {
                    code: codes::TOPIC_AUTHORIZATION_FAILED,
                    message: format!("{} may not create topic {name}", ctx.principal),
                });
            }
            let overrides = requested_overrides(&ct)?;
            let (partitions, replication) = if ct.assignments.is_empty() {
                (ct.num_partitions, ct.replication_factor)
            } else {
                if ct.num_partitions != -1 || ct.replication_factor != -1 {
                    return Err(TopicError {
                        code: INVALID_REQUEST,
                        message: "both assignments and num_partitions/replication_factor were set"
                            .into(),
                    });
                }
                for (i, a) in ct.assignments.iter().enumerate() {
                    if a.partition_index != i as i32
                        || a.broker_ids.iter().any(|b| b.0 != s.node_id)
                    {
                        return Err(TopicError {
                            code: REASSIGNMENT_IN_PROGRESS_OR_INVALID,
                            message: format!(
                                "replica assignment must list partitions 0.. in order on broker {}",
                                s.node_id
                            ),
                        });
                    }
                }
                let rf = ct.assignments[0].broker_ids.len() as i16;
                if rf != 1 {
                    return Err(TopicError {
                        code: INVALID_REPLICATION_FACTOR,
                        message: format!(
                            "replication factor {rf} needs {rf} brokers; this cluster has 1"
                        ),
                    });
                }
                (ct.assignments.len() as i32, 1)
            };
            s.topics
                .create(&name, partitions, replication, overrides, req.validate_only)
        })();
        match result {
            Ok(topic) => {
                let (count, id, overrides) = match &topic {
                    Some(t) => (t.partition_count() as i32, t.id, t.overrides()),
                    None => (
                        if ct.num_partitions == -1 {
                            s.props().num_partitions()
                        } else {
                            ct.num_partitions
                        },
                        Default::default(),
                        TopicOverrides::new(),
                    ),
                };
                r.num_partitions = count;
                r.replication_factor = 1;
                r.topic_id = id;
                if version >= 5 {
                    r.configs = Some(creatable_configs(ctx, &overrides));
                }
            }
            Err(e) => {
                r.error_code = e.code;
                r.error_message = Some(str_bytes(e.message));
            }
        }
        resp.topics.push(r);
    }
    resp
}

/// A created topic's effective configs, as CreateTopics v5+ returns them.
pub(super) fn creatable_configs(
    ctx: &Ctx,
    overrides: &TopicOverrides,
) -> Vec<CreatableTopicConfigs> {
    configs::topic_entries(ctx, overrides, None)
        .into_iter()
        .map(|e| {
            let mut c = CreatableTopicConfigs::default();
            c.name = e.name;
            c.value = e.value;
            c.read_only = e.read_only;
            c.config_source = e.config_source;
            c.is_sensitive = false;
            c
        })
        .collect()
}

/// The overrides a CreateTopics entry asks for (a null value is refused).
pub(super) fn requested_overrides(
    ct: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<TopicOverrides, TopicError> {
    let mut overrides = TopicOverrides::new();
    for c in &ct.configs {
        let Some(v) = &c.value else {
            return Err(TopicError {
                code: INVALID_CONFIG,
                message: format!("null value for config {}", c.name),
            });
        };
        overrides.insert(c.name.to_string(), v.to_string());
    }
    Ok(overrides)
}

/// The topics a DeleteTopics names: v0-5 in `topic_names`; v6 in `topics` by name or id.
pub(super) fn delete_targets(
    version: i16,
    req: DeleteTopicsRequest,
) -> Vec<(Option<String>, uuid::Uuid)> {
    if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
            .collect()
    }
}

pub fn delete_topics(ctx: &Ctx, version: i16, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let s = &ctx.state;
    let mut resp = DeleteTopicsResponse::default();
    for (name, id) in delete_targets(version, req) {
        let mut r = DeletableTopicResult::default();
        r.topic_id = id;
        let resolved = match &name {
            Some(n) => Some(n.clone()),
            None => s.topics.get_by_id(&id).map(|t| t.name.to_string()),
        };
        match resolved {
            None => {
                r.error_code = UNKNOWN_TOPIC_ID;
                r.error_message = Some(str_bytes(format!("topic id {id} does not exist")));
            }
            Some(n) if !ctx.allowed(op::DELETE, resource::TOPIC, &n) => {
                r.name = Some(TopicName(str_bytes(n.clone())));
                r.error_code = codes::TOPIC_AUTHORIZATION_FAILED;
                r.error_message = Some(str_bytes(format!(
                    "{} may not delete topic {n}",
                    ctx.principal
                )));
            }
            Some(n) => {
                r.name = Some(TopicName(str_bytes(n.clone())));
                match s.topics.delete(&n) {
                    Ok(t) => r.topic_id = t.id,
                    Err(e) => {
                        r.error_code = e.code;
                        r.error_message = Some(str_bytes(e.message));
                    }
                }
            }
        }
        resp.responses.push(r);
    }
    resp
}

pub fn create_partitions(ctx: &Ctx, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let s = &ctx.state;
    let mut resp = CreatePartitionsResponse::default();
    for t in req.topics {
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name.clone();
        let bad_assignment = t.assignments.as_ref().is_some_and(|a| {
            a.iter()
                .any(|a| a.broker_ids.iter().any(|b| b.0 != s.node_id) || a.broker_ids.len() != 1)
        });
        let result = if !ctx.allowed(op::ALTER, resource::TOPIC, &t.name) {
            Err(TopicError {
                code: codes::TOPIC_AUTHORIZATION_FAILED,
                message: format!("{} may not alter topic {}", ctx.principal, t.name.0),
            })
        } else if bad_assignment {
            Err(TopicError {
                code: REASSIGNMENT_IN_PROGRESS_OR_INVALID,
                message: format!("new partitions can only be placed on broker {}", s.node_id),
            })
        } else {
            s.topics.add_partitions(&t.name, t.count, req.validate_only)
        };
        if let Err(e) = result {
            r.error_code = if e.code == UNKNOWN_TOPIC_OR_PARTITION {
                UNKNOWN_TOPIC_OR_PARTITION
            } else {
                e.code
            };
            r.error_message = Some(str_bytes(e.message));
        }
        resp.results.push(r);
    }
    resp
}
