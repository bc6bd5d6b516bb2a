//! Group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, OffsetDelete, DescribeGroups, ListGroups, DeleteGroups, and KIP-848's
//! ConsumerGroupHeartbeat and ConsumerGroupDescribe. The wire structs are
//! translated to the coordinator's (`crate::group`) plain types here; the group logic is there.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{Ctx, Outcome, authorized, str_bytes};
use crate::group::classic::{JoinRequest, JoinResult, Reply, SyncResult};
use crate::group::consumer::{HeartbeatIn, TopicAssignment};
use crate::group::offsets::Committed;
use crate::group::{FetchedOffset, codes};
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::time::now_ms;
use crate::topics::OFFSETS_TOPIC;

fn opt_str(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

/// Retriable: no coordinator can be named yet.
const COORDINATOR_NOT_AVAILABLE: i16 = 15;

/// Cluster mode: NOT_COORDINATOR (another node coordinates the group, or none yet) or
/// COORDINATOR_LOAD_IN_PROGRESS (this node is replaying the group's partition); clients then
/// look the coordinator up again. `None`: this node coordinates the group.
fn not_coordinator(ctx: &Ctx, group: &str) -> Option<i16> {
    let cluster = ctx.state.cluster.as_ref()?;
    cluster.groups.coordinates(cluster, group).err()
}

pub fn find_coordinator(ctx: &Ctx, version: i16, req: FindCoordinatorRequest) -> Outcome {
    let s = &ctx.state;
    // Key type 0 is a group, 1 a transactional id: this node coordinates both.
    let error = if (0..=1).contains(&req.key_type) {
        codes::NONE
    } else {
        codes::INVALID_REQUEST
    };
    if req.key_type == 0
        && s.cluster.is_none()
        && let Err(e) = s.topics.ensure_offsets_topic()
    {
        // Offsets do not live in it (see `OFFSETS_TOPIC`), so the coordinator still answers.
        tracing::warn!("creating {OFFSETS_TOPIC} failed: {}", e.message);
    }
    // Kafka: DESCRIBE on the group (or transactional id) the key names.
    let denied_code = |key: &str| -> Option<i16> {
        match req.key_type {
            0 if !ctx.allowed(op::DESCRIBE, resource::GROUP, key) => {
                Some(codes::GROUP_AUTHORIZATION_FAILED)
            }
            1 if !ctx.allowed(op::DESCRIBE, resource::TRANSACTIONAL_ID, key) => {
                Some(codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            }
            _ => None,
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                let error = denied_code(&key).unwrap_or(error);
                let found = (error == codes::NONE)
                    .then(|| super::cluster_view::coordinator(ctx, req.key_type, &key))
                    .flatten();
                c.key = key;
                let error = if error == codes::NONE && found.is_none() {
                    COORDINATOR_NOT_AVAILABLE
                } else {
                    error
                };
                c.error_code = error;
                if let Some(a) = found {
                    c.node_id = BrokerId(a.id);
                    c.host = str_bytes(a.host);
                    c.port = a.port;
                } else {
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                    c.error_message = Some(str_bytes(if error == codes::INVALID_REQUEST {
                        "unknown coordinator key type".to_string()
                    } else if error == COORDINATOR_NOT_AVAILABLE {
                        "the coordinator is not available yet".to_string()
                    } else {
                        format!("{} may not describe this key", ctx.principal)
                    }));
                }
                c
            })
            .collect();
    } else {
        let error = denied_code(&req.key).unwrap_or(error);
        let found = (error == codes::NONE)
            .then(|| super::cluster_view::coordinator(ctx, req.key_type, &req.key))
            .flatten();
        resp.error_code = if error == codes::NONE && found.is_none() {
            COORDINATOR_NOT_AVAILABLE
        } else {
            error
        };
        if let Some(a) = found {
            resp.node_id = BrokerId(a.id);
            resp.host = str_bytes(a.host);
            resp.port = a.port;
        } else {
            resp.node_id = BrokerId(-1);
            resp.port = -1;
        }
    }
    Outcome::Respond(Box::new(ResponseKind::FindCoordinator(resp)))
}

fn join_response(version: i16, r: JoinResult) -> ResponseKind {
    let mut resp = JoinGroupResponse::default();
    resp.error_code = r.error;
    resp.generation_id = r.generation;
    resp.protocol_type = r.protocol_type.map(str_bytes);
    // Null before v7 would be an invalid non-nullable string; later versions send null.
    resp.protocol_name = match r.protocol_name {
        Some(p) => Some(str_bytes(p)),
        None if version < 7 => Some(StrBytes::default()),
        None => None,
    };
    resp.leader = str_bytes(r.leader);
    resp.member_id = str_bytes(r.member_id);
    resp.members = r
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = str_bytes(id);
            m.group_instance_id = instance.map(str_bytes);
            m.metadata = metadata;
            m
        })
        .collect();
    ResponseKind::JoinGroup(resp)
}

fn later<T: Send + 'static>(
    reply: Reply<T>,
    to_response: impl FnOnce(T) -> ResponseKind + Send + 'static,
    on_drop: fn() -> T,
) -> Outcome {
    match reply {
        Reply::Now(r) => Outcome::Respond(Box::new(to_response(r))),
        Reply::Later(rx) => Outcome::Later(Box::pin(async move {
            // A dropped sender means the group went away under the request.
            to_response(rx.await.unwrap_or_else(|_| on_drop()))
        })),
    }
}

pub fn join_group(ctx: &Ctx, version: i16, client_id: &str, req: JoinGroupRequest) -> Outcome {
    if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        let refused = JoinResult::error(codes::GROUP_AUTHORIZATION_FAILED, &req.member_id);
        return Outcome::Respond(Box::new(join_response(version, refused)));
    }
    if let Some(code) = not_coordinator(ctx, &req.group_id) {
        let refused = JoinResult::error(code, &req.member_id);
        return Outcome::Respond(Box::new(join_response(version, refused)));
    }
    if ctx.state.share.exists(&req.group_id) {
        // As Kafka: a share group's id does not take classic members.
        let refused = JoinResult::error(codes::INCONSISTENT_GROUP_PROTOCOL, &req.member_id);
        return Outcome::Respond(Box::new(join_response(version, refused)));
    }
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    let rebalance_ms = if version >= 1 {
        req.rebalance_timeout_ms
    } else {
        req.session_timeout_ms
    };
    let join = JoinRequest {
        member_id: req.member_id.to_string(),
        instance_id: opt_str(&req.group_instance_id),
        client_id: client_id.to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
        rebalance_timeout: Duration::from_millis(rebalance_ms.max(0) as u64),
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
    };
    let reply = ctx.state.groups.join(&req.group_id, join);
    later(
        reply,
        move |r| join_response(version, r),
        || JoinResult::error(codes::UNKNOWN_MEMBER_ID, ""),
    )
}

fn sync_response(r: SyncResult) -> ResponseKind {
    let mut resp = SyncGroupResponse::default();
    resp.error_code = r.error;
    resp.protocol_type = r.protocol_type.map(str_bytes);
    resp.protocol_name = r.protocol_name.map(str_bytes);
    resp.assignment = r.assignment;
    ResponseKind::SyncGroup(resp)
}

pub fn sync_group(ctx: &Ctx, req: SyncGroupRequest) -> Outcome {
    if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        let refused = SyncResult::error(codes::GROUP_AUTHORIZATION_FAILED);
        return Outcome::Respond(Box::new(sync_response(refused)));
    }
    if let Some(code) = not_coordinator(ctx, &req.group_id) {
        return Outcome::Respond(Box::new(sync_response(SyncResult::error(code))));
    }
    let assignments: Vec<(String, Bytes)> = req
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let reply = ctx.state.groups.sync(
        &req.group_id,
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
        req.protocol_type.as_deref(),
        req.protocol_name.as_deref(),
        assignments,
    );
    later(reply, sync_response, || {
        SyncResult::error(codes::UNKNOWN_MEMBER_ID)
    })
}

pub fn heartbeat(ctx: &Ctx, req: HeartbeatRequest) -> HeartbeatResponse {
    let mut resp = HeartbeatResponse::default();
    if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        resp.error_code = codes::GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    if let Some(code) = not_coordinator(ctx, &req.group_id) {
        resp.error_code = code;
        return resp;
    }
    resp.error_code = ctx.state.groups.heartbeat(
        &req.group_id,
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
    );
    resp
}

pub fn leave_group(ctx: &Ctx, version: i16, req: LeaveGroupRequest) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.to_string(), opt_str(&m.group_instance_id)))
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let mut resp = LeaveGroupResponse::default();
    if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        resp.error_code = codes::GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    if let Some(code) = not_coordinator(ctx, &req.group_id) {
        resp.error_code = code;
        return resp;
    }
    match ctx.state.groups.leave(&req.group_id, members) {
        Err(e) => resp.error_code = e,
        Ok(results) => {
            if version < 3 {
                resp.error_code = results.first().map(|r| r.2).unwrap_or(codes::NONE);
                return resp;
            }
            resp.members = results
                .into_iter()
                .map(|(id, instance, err)| {
                    let mut m = MemberResponse::default();
                    m.member_id = str_bytes(id);
                    m.group_instance_id = instance.map(str_bytes);
                    m.error_code = err;
                    m
                })
                .collect();
        }
    }
    resp
}

/// OffsetCommit; in cluster mode answered once the offsets are replicated.
pub fn offset_commit(ctx: &Ctx, version: i16, req: OffsetCommitRequest) -> Outcome {
    let now = now_ms();
    // As Kafka, partitions of topics that do not exist are refused before the coordinator sees
    // the request (AlterConsumerGroupOffsets of a typo must not store an offset).
    let mut refused = Vec::new();
    let mut offsets = Vec::new();
    let group_ok = ctx.allowed(op::READ, resource::GROUP, &req.group_id);
    let not_coordinator = not_coordinator(ctx, &req.group_id);
    let exists = |topic: &str| match &ctx.state.cluster {
        Some(c) => c.image().topics.contains_key(topic),
        None => ctx.state.topics.get(topic).is_some(),
    };
    for t in &req.topics {
        let code = if !group_ok {
            codes::GROUP_AUTHORIZATION_FAILED
        } else if let Some(code) = not_coordinator {
            code
        } else if !ctx.allowed(op::READ, resource::TOPIC, &t.name) {
            codes::TOPIC_AUTHORIZATION_FAILED
        } else if !exists(&t.name) {
            codes::UNKNOWN_TOPIC_OR_PARTITION
        } else {
            codes::NONE
        };
        for p in &t.partitions {
            if code != codes::NONE {
                refused.push((t.name.to_string(), p.partition_index, code));
                continue;
            }
            offsets.push((
                t.name.to_string(),
                p.partition_index,
                Committed {
                    offset: p.committed_offset,
                    leader_epoch: if version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: opt_str(&p.committed_metadata),
                    commit_timestamp: now,
                },
            ));
        }
    }
    let (mut results, pending) = if offsets.is_empty() {
        (Vec::new(), None)
    } else {
        ctx.state.groups.commit(
            &req.group_id,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id_or_member_epoch,
            offsets,
        )
    };
    results.extend(refused);
    let respond = |results| ResponseKind::OffsetCommit(offset_commit_response(results));
    match pending {
        None => Outcome::Respond(Box::new(respond(results))),
        Some(pending) => Outcome::Later(Box::pin(async move {
            if let Err(code) = pending.await {
                for r in results.iter_mut().filter(|r| r.2 == codes::NONE) {
                    r.2 = code;
                }
            }
            respond(results)
        })),
    }
}

fn offset_commit_response(results: Vec<(String, i32, i16)>) -> OffsetCommitResponse {
    let mut resp = OffsetCommitResponse::default();
    for (topic, partition, err) in results {
        let at = match resp.topics.iter().position(|t| *t.name == *topic) {
            Some(i) => i,
            None => {
                let mut t = OffsetCommitResponseTopic::default();
                t.name = TopicName(str_bytes(topic));
                resp.topics.push(t);
                resp.topics.len() - 1
            }
        };
        let mut p = OffsetCommitResponsePartition::default();
        p.partition_index = partition;
        p.error_code = err;
        resp.topics[at].partitions.push(p);
    }
    resp
}

/// The fetched offsets of topics the principal may describe (Kafka leaves the others out).
fn describable(ctx: &Ctx, fetched: Vec<FetchedOffset>) -> Vec<FetchedOffset> {
    fetched
        .into_iter()
        .filter(|f| ctx.allowed(op::DESCRIBE, resource::TOPIC, &f.topic))
        .collect()
}

/// Groups fetched offsets by topic, in request order.
fn by_topic(fetched: Vec<FetchedOffset>) -> Vec<(String, Vec<FetchedOffset>)> {
    let mut out: Vec<(String, Vec<FetchedOffset>)> = Vec::new();
    for f in fetched {
        match out.iter_mut().find(|(t, _)| *t == f.topic) {
            Some((_, v)) => v.push(f),
            None => out.push((f.topic.clone(), vec![f])),
        }
    }
    out
}

/// UNSTABLE_OFFSET_COMMIT: retriable; the offset is part of an open transaction.
const UNSTABLE_OFFSET_COMMIT: i16 = 88;

pub fn offset_fetch(ctx: &Ctx, version: i16, req: OffsetFetchRequest) -> OffsetFetchResponse {
    let groups = &ctx.state.groups;
    let mut resp = OffsetFetchResponse::default();
    let parts = |c: &Option<Committed>| match c {
        Some(c) => (
            c.offset,
            c.leader_epoch,
            c.metadata.clone().unwrap_or_default(),
        ),
        None => (-1, -1, String::new()),
    };
    if version >= 8 {
        for g in req.groups {
            let wanted = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.to_string(), t.partition_indexes))
                    .collect()
            });
            let mut rg = OffsetFetchResponseGroup::default();
            // v9: a consumer-group member names itself and its epoch.
            let member = g
                .member_id
                .as_deref()
                .filter(|_| version >= 9)
                .map(|m| (m, g.member_epoch));
            let fetched = if !ctx.allowed(op::DESCRIBE, resource::GROUP, &g.group_id) {
                rg.error_code = codes::GROUP_AUTHORIZATION_FAILED;
                Vec::new()
            } else if let Some(code) = not_coordinator(ctx, &g.group_id) {
                rg.error_code = code;
                Vec::new()
            } else {
                match groups.fetch_offsets(&g.group_id, member, wanted) {
                    Ok(f) => describable(ctx, f),
                    Err(e) => {
                        rg.error_code = e;
                        Vec::new()
                    }
                }
            };
            let group_id: &str = &g.group_id;
            rg.topics = by_topic(fetched)
                .into_iter()
                .map(|(topic, fetched)| {
                    let mut t = OffsetFetchResponseTopics::default();
                    t.name = TopicName(str_bytes(topic.clone()));
                    t.partitions = fetched
                        .iter()
                        .map(|f| {
                            let (offset, epoch, metadata) = parts(&f.committed);
                            let mut p = OffsetFetchResponsePartitions::default();
                            p.partition_index = f.partition;
                            p.committed_offset = offset;
                            p.committed_leader_epoch = epoch;
                            p.metadata = Some(str_bytes(metadata));
                            // KIP-447: a read_committed consumer waits while an open
                            // transaction holds offsets for the partition.
                            if req.require_stable
                                && ctx
                                    .state
                                    .txns
                                    .has_pending_offsets(group_id, &topic, f.partition)
                            {
                                p.error_code = UNSTABLE_OFFSET_COMMIT;
                            }
                            p
                        })
                        .collect();
                    t
                })
                .collect();
            rg.group_id = g.group_id;
            resp.groups.push(rg);
        }
    } else {
        if !ctx.allowed(op::DESCRIBE, resource::GROUP, &req.group_id) {
            resp.error_code = codes::GROUP_AUTHORIZATION_FAILED;
            return resp;
        }
        if let Some(code) = not_coordinator(ctx, &req.group_id) {
            resp.error_code = code;
            return resp;
        }
        let wanted = req.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.to_string(), t.partition_indexes))
                .collect()
        });
        resp.topics = by_topic(describable(
            ctx,
            groups
                .fetch_offsets(&req.group_id, None, wanted)
                .unwrap_or_default(),
        ))
        .into_iter()
        .map(|(topic, fetched)| {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = TopicName(str_bytes(topic.clone()));
            t.partitions = fetched
                .iter()
                .map(|f| {
                    let (offset, epoch, metadata) = parts(&f.committed);
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = f.partition;
                    p.committed_offset = offset;
                    p.committed_leader_epoch = epoch;
                    p.metadata = Some(str_bytes(metadata));
                    if req.require_stable
                        && ctx
                            .state
                            .txns
                            .has_pending_offsets(&req.group_id, &topic, f.partition)
                    {
                        p.error_code = UNSTABLE_OFFSET_COMMIT;
                    }
                    p
                })
                .collect();
            t
        })
        .collect();
    }
    resp
}

pub fn offset_delete(ctx: &Ctx, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let mut resp = OffsetDeleteResponse::default();
    if !ctx.allowed(op::DELETE, resource::GROUP, &req.group_id) {
        resp.error_code = codes::GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    if let Some(code) = not_coordinator(ctx, &req.group_id) {
        resp.error_code = code;
        return resp;
    }
    match ctx.state.groups.delete_offsets(&req.group_id, partitions) {
        Err(e) => resp.error_code = e,
        Ok(results) => {
            for (topic, partition, err) in results {
                if !resp.topics.iter().any(|t| *t.name == *topic) {
                    let mut t = OffsetDeleteResponseTopic::default();
                    t.name = TopicName(str_bytes(topic.clone()));
                    resp.topics.push(t);
                }
                let t = resp
                    .topics
                    .iter_mut()
                    .find(|t| *t.name == *topic)
                    .expect("pushed");
                let mut p = OffsetDeleteResponsePartition::default();
                p.partition_index = partition;
                p.error_code = err;
                t.partitions.push(p);
            }
        }
    }
    resp
}

pub fn describe_groups(
    ctx: &Ctx,
    version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    for id in req.groups {
        let mut g = DescribedGroup::default();
        g.authorized_operations = authorized::if_requested(
            req.include_authorized_operations,
            authorized::granted(ctx, resource::GROUP, &id, authorized::GROUP),
        );
        if !ctx.allowed(op::DESCRIBE, resource::GROUP, &id) {
            g.error_code = codes::GROUP_AUTHORIZATION_FAILED;
            g.group_id = id;
            resp.groups.push(g);
            continue;
        }
        if let Some(code) = not_coordinator(ctx, &id) {
            g.error_code = code;
            g.group_id = id;
            resp.groups.push(g);
            continue;
        }
        let consumer_group = ctx.state.groups.is_consumer_group(&id) || ctx.state.share.exists(&id);
        match ctx.state.groups.describe(&id) {
            _ if consumer_group => {
                // As Kafka: DescribeGroups is for classic groups; ConsumerGroupDescribe for these.
                g.group_state = str_bytes("Dead");
                if version >= 6 {
                    g.error_code = codes::GROUP_ID_NOT_FOUND;
                    g.error_message =
                        Some(str_bytes(format!("group {} is not a classic group", &*id)));
                }
            }
            Some(d) => {
                g.group_state = str_bytes(d.state);
                g.protocol_type = str_bytes(d.protocol_type);
                g.protocol_data = str_bytes(d.protocol);
                g.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut dm = DescribedGroupMember::default();
                        dm.member_id = str_bytes(m.member_id);
                        dm.group_instance_id = m.instance_id.map(str_bytes);
                        dm.client_id = str_bytes(m.client_id);
                        dm.client_host = str_bytes(m.client_host);
                        dm.member_metadata = m.metadata;
                        dm.member_assignment = m.assignment;
                        dm
                    })
                    .collect();
            }
            None => {
                // Kafka describes an unknown group as Dead; v6 adds an explicit error.
                g.group_state = str_bytes("Dead");
                if version >= 6 {
                    g.error_code = codes::GROUP_ID_NOT_FOUND;
                    g.error_message = Some(str_bytes(format!("group {} not found", &*id)));
                }
            }
        }
        g.group_id = id;
        resp.groups.push(g);
    }
    resp
}

pub fn list_groups(ctx: &Ctx, req: ListGroupsRequest) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    let states: Vec<String> = req
        .states_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let types: Vec<String> = req
        .types_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let all = ctx.allowed(op::DESCRIBE, resource::CLUSTER, CLUSTER_NAME);
    let mut listed = ctx.state.groups.list();
    listed.extend(super::share::listed(ctx));
    for (id, protocol_type, state, group_type) in listed {
        if !all && !ctx.allowed(op::DESCRIBE, resource::GROUP, &id) {
            continue;
        }
        if !states.is_empty() && !states.contains(&state.to_ascii_lowercase()) {
            continue;
        }
        if !types.is_empty() && !types.iter().any(|t| t == group_type) {
            continue;
        }
        let mut g = ListedGroup::default();
        g.group_id = GroupId(str_bytes(id));
        g.protocol_type = str_bytes(protocol_type);
        g.group_state = str_bytes(state);
        g.group_type = str_bytes(group_type);
        resp.groups.push(g);
    }
    resp
}

pub fn delete_groups(ctx: &Ctx, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut resp = DeleteGroupsResponse::default();
    for id in req.groups_names {
        let mut r = DeletableGroupResult::default();
        r.error_code = if !ctx.allowed(op::DELETE, resource::GROUP, &id) {
            codes::GROUP_AUTHORIZATION_FAILED
        } else if let Some(code) = not_coordinator(ctx, &id) {
            code
        } else {
            ctx.state
                .share
                .delete_group(&id)
                .unwrap_or_else(|| ctx.state.groups.delete_group(&id))
        };
        r.group_id = id;
        resp.results.push(r);
    }
    resp
}

fn wire_assignment(
    ctx: &Ctx,
    a: &TopicAssignment,
) -> Vec<kafka_protocol::messages::consumer_group_describe_response::TopicPartitions> {
    a.iter()
        .map(|(id, ps)| {
            let mut t =
                kafka_protocol::messages::consumer_group_describe_response::TopicPartitions::default();
            t.topic_id = *id;
            t.topic_name = TopicName(str_bytes(
                ctx.state
                    .topics
                    .get_by_id(id)
                    .map(|t| t.name.to_string())
                    .unwrap_or_default(),
            ));
            t.partitions = ps.iter().copied().collect();
            t
        })
        .collect()
}

pub fn consumer_group_heartbeat(
    ctx: &Ctx,
    client_id: &str,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    use kafka_protocol::messages::consumer_group_heartbeat_response::{
        Assignment, TopicPartitions,
    };
    if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        let mut resp = ConsumerGroupHeartbeatResponse::default();
        resp.error_code = codes::GROUP_AUTHORIZATION_FAILED;
        resp.heartbeat_interval_ms = -1;
        return resp;
    }
    if let Some(code) = not_coordinator(ctx, &req.group_id) {
        let mut resp = ConsumerGroupHeartbeatResponse::default();
        resp.error_code = code;
        resp.heartbeat_interval_ms = -1;
        return resp;
    }
    if ctx.state.share.exists(&req.group_id) {
        let mut resp = ConsumerGroupHeartbeatResponse::default();
        resp.error_code = codes::GROUP_ID_NOT_FOUND;
        resp.error_message = Some(str_bytes(format!(
            "group {} is a share group, not a consumer group",
            &*req.group_id
        )));
        resp.heartbeat_interval_ms = -1;
        return resp;
    }
    let groups = &ctx.state.groups;
    let input = HeartbeatIn {
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: opt_str(&req.instance_id),
        rack_id: opt_str(&req.rack_id),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed: req
            .subscribed_topic_names
            .map(|ts| ts.iter().map(|t| t.to_string()).collect()),
        // Empty clears it (librdkafka sends one when it subscribes by name).
        regex: opt_str(&req.subscribed_topic_regex),
        server_assignor: opt_str(&req.server_assignor),
        owned: req.topic_partitions.map(|ts| {
            ts.into_iter()
                .map(|t| (t.topic_id, t.partitions.into_iter().collect()))
                .collect()
        }),
        client_id: client_id.to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    // In cluster mode from the metadata image: the coordinator may hold no replica of a topic.
    let image = ctx.state.cluster.as_ref().map(|c| c.image());
    let topics = |name: &str| match &image {
        Some(image) => image
            .topics
            .get(name)
            .map(|t| (uuid::Uuid::from_u128(t.id), t.partitions.len() as i32)),
        None => ctx
            .state
            .topics
            .get(name)
            .map(|t| (t.id, t.partition_count() as i32)),
    };
    let topic_names = || match &image {
        Some(image) => image.topics.keys().cloned().collect(),
        None => ctx
            .state
            .topics
            .list()
            .iter()
            .map(|t| t.name.to_string())
            .collect(),
    };
    let out = groups.consumer_heartbeat(&req.group_id, input, &topics, &topic_names);
    if out.error != codes::NONE {
        tracing::debug!(group = %&*req.group_id, member = %&*req.member_id, epoch = req.member_epoch,
            error = out.error, message = ?out.message, "ConsumerGroupHeartbeat refused");
    }
    let mut resp = ConsumerGroupHeartbeatResponse::default();
    resp.error_code = out.error;
    resp.error_message = out.message.map(str_bytes);
    resp.member_id = out.member_id.map(str_bytes);
    resp.member_epoch = out.member_epoch;
    resp.heartbeat_interval_ms = groups
        .consumer_heartbeat_interval(&req.group_id)
        .as_millis() as i32;
    resp.assignment = out.assignment.map(|a| {
        let mut w = Assignment::default();
        w.topic_partitions = a
            .into_iter()
            .map(|(id, ps)| {
                let mut t = TopicPartitions::default();
                t.topic_id = id;
                t.partitions = ps.into_iter().collect();
                t
            })
            .collect();
        w
    });
    resp
}

pub fn consumer_group_describe(
    ctx: &Ctx,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    use kafka_protocol::messages::consumer_group_describe_response::{
        Assignment, DescribedGroup, Member,
    };
    let mut resp = ConsumerGroupDescribeResponse::default();
    for id in req.group_ids {
        let mut g = DescribedGroup::default();
        g.authorized_operations = authorized::if_requested(
            req.include_authorized_operations,
            authorized::granted(ctx, resource::GROUP, &id, authorized::GROUP),
        );
        if !ctx.allowed(op::DESCRIBE, resource::GROUP, &id) {
            g.error_code = codes::GROUP_AUTHORIZATION_FAILED;
            g.group_id = id;
            resp.groups.push(g);
            continue;
        }
        if let Some(code) = not_coordinator(ctx, &id) {
            g.error_code = code;
            g.group_id = id;
            resp.groups.push(g);
            continue;
        }
        match ctx.state.groups.consumer_describe(&id) {
            Some(d) => {
                g.group_state = str_bytes(d.state);
                g.group_epoch = d.group_epoch;
                g.assignment_epoch = d.assignment_epoch;
                g.assignor_name = str_bytes(d.assignor);
                g.members = d
                    .members
                    .iter()
                    .map(|m| {
                        let mut w = Member::default();
                        w.member_id = str_bytes(m.id.clone());
                        w.instance_id = m.instance_id.clone().map(str_bytes);
                        w.rack_id = m.rack_id.clone().map(str_bytes);
                        w.member_epoch = m.member_epoch;
                        w.client_id = str_bytes(m.client_id.clone());
                        w.client_host = str_bytes(m.client_host.clone());
                        w.subscribed_topic_regex = m.regex.clone().map(str_bytes);
                        w.subscribed_topic_names = m
                            .subscribed_names
                            .iter()
                            .map(|t| TopicName(str_bytes(t.clone())))
                            .collect();
                        let mut a = Assignment::default();
                        a.topic_partitions = wire_assignment(ctx, &m.assigned);
                        w.assignment = a;
                        let mut t = Assignment::default();
                        t.topic_partitions = wire_assignment(
                            ctx,
                            &d.targets.get(&m.id).cloned().unwrap_or_default(),
                        );
                        w.target_assignment = t;
                        // 1: a member speaking the consumer protocol.
                        w.member_type = 1;
                        w
                    })
                    .collect();
            }
            None => {
                g.group_state = str_bytes("Dead");
                g.error_code = codes::GROUP_ID_NOT_FOUND;
                g.error_message =
                    Some(str_bytes(format!("group {} is not a consumer group", &*id)));
            }
        }
        g.group_id = id;
        resp.groups.push(g);
    }
    resp
}
