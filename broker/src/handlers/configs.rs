//! DescribeConfigs, AlterConfigs, IncrementalAlterConfigs for topics and groups (and
//! describing the broker's static properties).

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResult;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ResponseKind,
};
use odradek_cluster::MetadataRecord;

use super::{Ctx, Outcome, codes, str_bytes};
use crate::config::{ConfigSource, TOPIC_CONFIGS, TopicOverrides, topic_config_def};
use crate::security::acl::{CLUSTER_NAME, op, resource};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const GROUP: i8 = 32;

/// One described config entry.
pub struct Entry {
    pub name: kafka_protocol::protocol::StrBytes,
    pub value: Option<kafka_protocol::protocol::StrBytes>,
    pub read_only: bool,
    pub config_source: i8,
    pub config_type: i8,
}

/// Every topic config with its effective value and source (filtered to `keys` if given).
pub fn topic_entries(ctx: &Ctx, overrides: &TopicOverrides, keys: Option<&[String]>) -> Vec<Entry> {
    let props = ctx.state.props();
    TOPIC_CONFIGS
        .iter()
        .filter(|d| keys.is_none_or(|k| k.iter().any(|k| k == d.name)))
        .map(|d| {
            let (value, source) = match overrides.get(d.name) {
                Some(v) => (v.clone(), ConfigSource::Topic),
                None => props.topic_default(d, ctx.state.fsync),
            };
            Entry {
                name: str_bytes(d.name),
                value: Some(str_bytes(value)),
                read_only: false,
                config_source: source as i8,
                config_type: d.kind as i8,
            }
        })
        .collect()
}

pub fn describe_configs(ctx: &Ctx, req: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let s = &ctx.state;
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let mut r = DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let keys: Option<Vec<String>> = res
            .configuration_keys
            .map(|k| k.iter().map(|s| s.to_string()).collect());
        let entries = match res.resource_type {
            _ if let Some(refused) = config_denied(
                ctx,
                res.resource_type,
                &res.resource_name,
                op::DESCRIBE_CONFIGS,
            ) =>
            {
                Err(refused)
            }
            TOPIC => match topic_overrides(ctx, &res.resource_name) {
                Some(o) => Ok(topic_entries(ctx, &o, keys.as_deref())),
                None => Err((
                    codes::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("topic '{}' does not exist", res.resource_name),
                )),
            },
            BROKER
                if res.resource_name.is_empty()
                    || res.resource_name.as_str() == s.node_id.to_string() =>
            {
                Ok(s.props()
                    .describe(s.fsync)
                    .into_iter()
                    .filter(|(k, _, _)| keys.as_ref().is_none_or(|ks| ks.contains(k)))
                    .map(|(k, v, src)| Entry {
                        name: str_bytes(k),
                        value: Some(str_bytes(v)),
                        read_only: true,
                        config_source: src as i8,
                        config_type: 2,
                    })
                    .collect())
            }
            BROKER => Err((
                codes::INVALID_REQUEST,
                format!("unknown broker '{}'", res.resource_name),
            )),
            // As Kafka: a group's configs can be described (and set) whether or not it exists.
            GROUP => Ok(s
                .groups
                .describe_configs(&res.resource_name, keys.as_deref())
                .into_iter()
                .map(|(k, v, src)| Entry {
                    name: str_bytes(k),
                    value: Some(str_bytes(v)),
                    read_only: false,
                    config_source: src as i8,
                    config_type: crate::config::ConfigType::Int as i8,
                })
                .collect()),
            other => Err((
                codes::INVALID_REQUEST,
                format!("resource type {other} is not supported"),
            )),
        };
        match entries {
            Ok(entries) => {
                r.configs = entries
                    .into_iter()
                    .map(|e| {
                        let mut c = DescribeConfigsResourceResult::default();
                        c.name = e.name;
                        c.value = e.value;
                        c.read_only = e.read_only;
                        c.config_source = e.config_source;
                        c.config_type = e.config_type;
                        c
                    })
                    .collect()
            }
            Err((code, msg)) => {
                r.error_code = code;
                r.error_message = Some(str_bytes(msg));
            }
        }
        resp.results.push(r);
    }
    resp
}

/// A topic's overrides: the metadata image's in cluster mode (this node may hold no replica),
/// else the local topic's.
fn topic_overrides(ctx: &Ctx, name: &str) -> Option<TopicOverrides> {
    match &ctx.state.cluster {
        Some(c) => c.image().topics.get(name).map(|t| t.configs.clone()),
        None => ctx.state.topics.get(name).map(|t| t.overrides()),
    }
}

/// Kafka's refusal when the principal may not `operation` the configs of a resource: TOPIC,
/// BROKER (the cluster) or GROUP.
fn config_denied(ctx: &Ctx, resource_type: i8, name: &str, operation: i8) -> Option<(i16, String)> {
    let (acl_type, acl_name, code) = match resource_type {
        TOPIC => (resource::TOPIC, name, codes::TOPIC_AUTHORIZATION_FAILED),
        BROKER => (
            resource::CLUSTER,
            CLUSTER_NAME,
            codes::CLUSTER_AUTHORIZATION_FAILED,
        ),
        GROUP => (
            resource::GROUP,
            name,
            crate::group::codes::GROUP_AUTHORIZATION_FAILED,
        ),
        _ => return None,
    };
    (!ctx.allowed(operation, acl_type, acl_name)).then(|| {
        (
            code,
            format!("{} may not access the configs of {name:?}", ctx.principal),
        )
    })
}

/// One resource's outcome: answered now, or (cluster mode) a topic's new overrides for the
/// controller to decide.
enum Change {
    Answered(i16, Option<String>),
    Propose {
        topic: String,
        configs: TopicOverrides,
    },
}

/// Applies an edit to a resource: only topics can change (broker properties are static). In
/// cluster mode the edit is made to the overrides the metadata image holds, checked here, and
/// proposed; every node then applies the result to its logs (`cluster_mode::reconcile`).
fn alter(
    ctx: &Ctx,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    edit: impl FnOnce(&mut TopicOverrides) -> Result<(), String>,
) -> Change {
    if resource_type != TOPIC {
        return Change::Answered(
            codes::INVALID_REQUEST,
            Some(
                "only topic configs can be altered; broker properties are static (--config)".into(),
            ),
        );
    }
    if let Some(cluster) = &ctx.state.cluster {
        let Some(mut configs) = cluster.image().topics.get(name).map(|t| t.configs.clone()) else {
            return Change::Answered(
                codes::UNKNOWN_TOPIC_OR_PARTITION,
                Some(format!("topic '{name}' does not exist")),
            );
        };
        if let Err(e) =
            edit(&mut configs).and_then(|()| crate::config::validate_overrides(&configs))
        {
            return Change::Answered(codes::INVALID_CONFIG, Some(e));
        }
        if validate_only {
            return Change::Answered(codes::NONE, None);
        }
        return Change::Propose {
            topic: name.to_string(),
            configs,
        };
    }
    let mut edit_err = None;
    let result = ctx.state.topics.alter_config(
        name,
        |o| {
            if let Err(e) = edit(o) {
                edit_err = Some(e);
            }
        },
        validate_only,
    );
    if let Some(e) = edit_err {
        return Change::Answered(codes::INVALID_CONFIG, Some(e));
    }
    match result {
        Ok(()) => Change::Answered(codes::NONE, None),
        Err(e) => Change::Answered(e.code, Some(e.message)),
    }
}

/// Answers every resource: at once when nothing is to be proposed, else after the proposals
/// (one per topic, in request order). `respond` builds the response from (code, message)s.
fn finish(
    ctx: &Ctx,
    changes: Vec<Change>,
    respond: impl FnOnce(Vec<(i16, Option<String>)>) -> ResponseKind + Send + 'static,
) -> Outcome {
    let pending = changes.iter().any(|c| matches!(c, Change::Propose { .. }));
    let cluster = ctx.state.cluster.clone();
    let (Some(cluster), true) = (cluster, pending) else {
        let results = changes
            .into_iter()
            .map(|c| match c {
                Change::Answered(code, msg) => (code, msg),
                Change::Propose { .. } => unreachable!("nothing pending"),
            })
            .collect();
        return Outcome::Respond(Box::new(respond(results)));
    };
    Outcome::Later(Box::pin(async move {
        let mut results = Vec::with_capacity(changes.len());
        for c in changes {
            results.push(match c {
                Change::Answered(code, msg) => (code, msg),
                Change::Propose { topic, configs } => {
                    let record = MetadataRecord::ReplaceTopicConfigs { topic, configs };
                    match super::forward::propose(&cluster, record).await {
                        Ok(_) => (codes::NONE, None),
                        Err(e) => (e.code, Some(e.message)),
                    }
                }
            });
        }
        respond(results)
    }))
}

pub fn alter_configs(ctx: &Ctx, req: AlterConfigsRequest) -> Outcome {
    let mut changes = Vec::with_capacity(req.resources.len());
    let mut names = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let configs: Vec<(String, Option<String>)> = res
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        // AlterConfigs replaces the whole set of overrides.
        let change = if let Some((code, msg)) = config_denied(
            ctx,
            res.resource_type,
            &res.resource_name,
            op::ALTER_CONFIGS,
        ) {
            Change::Answered(code, Some(msg))
        } else {
            alter(
                ctx,
                res.resource_type,
                &res.resource_name,
                req.validate_only,
                |o| {
                    o.clear();
                    for (k, v) in configs {
                        if let Some(v) = v {
                            o.insert(k, v);
                        }
                    }
                    Ok(())
                },
            )
        };
        changes.push(change);
        names.push((res.resource_type, res.resource_name));
    }
    finish(ctx, changes, move |results| {
        let mut resp = AlterConfigsResponse::default();
        for ((resource_type, resource_name), (code, msg)) in names.into_iter().zip(results) {
            let mut r = AlterConfigsResourceResponse::default();
            r.resource_type = resource_type;
            r.resource_name = resource_name;
            r.error_code = code;
            r.error_message = msg.map(str_bytes);
            resp.responses.push(r);
        }
        ResponseKind::AlterConfigs(resp)
    })
}

pub fn incremental_alter_configs(ctx: &Ctx, req: IncrementalAlterConfigsRequest) -> Outcome {
    let mut changes = Vec::with_capacity(req.resources.len());
    let mut names = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let change = if let Some((code, msg)) = config_denied(
            ctx,
            res.resource_type,
            &res.resource_name,
            op::ALTER_CONFIGS,
        ) {
            Change::Answered(code, Some(msg))
        } else if res.resource_type == GROUP {
            let (code, msg) = alter_group(ctx, &res, req.validate_only);
            Change::Answered(code, msg)
        } else if res.resource_type == BROKER && res.configs.iter().all(|c| c.config_operation == 1)
        {
            // Deleting dynamic broker configs: there are none (broker properties are static),
            // so there is nothing to delete, as Kafka answers for an unset one. (Kafka's
            // kafka-reassign-partitions --verify clears its throttles this way.)
            Change::Answered(codes::NONE, None)
        } else {
            alter_incrementally(ctx, &res, req.validate_only)
        };
        changes.push(change);
        names.push((res.resource_type, res.resource_name));
    }
    finish(ctx, changes, move |results| {
        let mut resp = IncrementalAlterConfigsResponse::default();
        for ((resource_type, resource_name), (code, msg)) in names.into_iter().zip(results) {
            let mut r = IncrementalResult::default();
            r.resource_type = resource_type;
            r.resource_name = resource_name;
            r.error_code = code;
            r.error_message = msg.map(str_bytes);
            resp.responses.push(r);
        }
        ResponseKind::IncrementalAlterConfigs(resp)
    })
}

/// IncrementalAlterConfigs of a topic: SET, DELETE, and APPEND / SUBTRACT on list configs.
fn alter_incrementally(
    ctx: &Ctx,
    res: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource,
    validate_only: bool,
) -> Change {
    let ops: Vec<(String, i8, Option<String>)> = res
        .configs
        .iter()
        .map(|c| {
            (
                c.name.to_string(),
                c.config_operation,
                c.value.as_ref().map(|v| v.to_string()),
            )
        })
        .collect();
    alter(
        ctx,
        res.resource_type,
        &res.resource_name,
        validate_only,
        |o| {
            for (k, op, v) in ops {
                let is_list =
                    topic_config_def(&k).is_some_and(|d| d.kind == crate::config::ConfigType::List);
                match (op, v) {
                    (0, Some(v)) => {
                        o.insert(k, v);
                    }
                    (1, _) => {
                        o.remove(&k);
                    }
                    (2, Some(v)) if is_list => {
                        let mut items: Vec<String> = o
                            .get(&k)
                            .map(|c| c.split(',').map(str::to_string).collect())
                            .unwrap_or_default();
                        for i in v.split(',') {
                            if !items.iter().any(|x| x == i) {
                                items.push(i.to_string());
                            }
                        }
                        o.insert(k, items.join(","));
                    }
                    (3, Some(v)) if is_list => {
                        let remove: Vec<&str> = v.split(',').collect();
                        let items: Vec<String> = o
                            .get(&k)
                            .map(|c| {
                                c.split(',')
                                    .filter(|x| !remove.contains(x))
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        o.insert(k, items.join(","));
                    }
                    (2 | 3, _) => {
                        return Err(format!(
                            "APPEND/SUBTRACT need a list config with a value; {k} is not"
                        ));
                    }
                    (0, None) => return Err(format!("SET of {k} needs a value")),
                    (other, _) => return Err(format!("unknown config operation {other}")),
                }
            }
            Ok(())
        },
    )
}

/// IncrementalAlterConfigs of a group: SET and DELETE (the group configs are not lists).
fn alter_group(
    ctx: &Ctx,
    res: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource,
    validate_only: bool,
) -> (i16, Option<String>) {
    let mut edits = Vec::with_capacity(res.configs.len());
    for c in &res.configs {
        let value = c.value.as_ref().map(|v| v.to_string());
        match (c.config_operation, value) {
            (0, Some(v)) => edits.push((c.name.to_string(), Some(v))),
            (1, _) => edits.push((c.name.to_string(), None)),
            (0, None) => {
                return (
                    codes::INVALID_CONFIG,
                    Some(format!("SET of {} needs a value", &*c.name)),
                );
            }
            (op, _) => {
                return (
                    codes::INVALID_CONFIG,
                    Some(format!(
                        "operation {op} on {}: group configs take SET (0) or DELETE (1)",
                        &*c.name
                    )),
                );
            }
        }
    }
    match ctx
        .state
        .groups
        .alter_configs(&res.resource_name, edits, validate_only)
    {
        Ok(()) => (codes::NONE, None),
        Err(e) => (codes::INVALID_CONFIG, Some(e)),
    }
}
