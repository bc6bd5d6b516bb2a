//! Share-group APIs (KIP-932): ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch,
//! ShareAcknowledge, and Describe/Alter/DeleteShareGroupOffsets. Wire structs are translated for
//! the share coordinator (`crate::share`) here, and ShareFetch reads the partition logs: the
//! coordinator says where to read, the log is read with no share lock held, and the coordinator
//! then acquires what is still available among the batches read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::*;
use odradek_protocol::records::RecordBatches;
use tokio::time::Instant;
use uuid::Uuid;

use super::{Ctx, Outcome, authorized, codes as common, str_bytes};
use crate::log::ReadError;
use crate::partition::Partition;
use crate::security::acl::{op, resource};
use crate::share::partition::{AckBatch, Acquired, BatchSpan};
use crate::share::{HeartbeatIn, ShareSettings, TopicPartition, codes};

const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
/// Records one ShareFetch hands out when the request sets no `MaxRecords`.
const DEFAULT_MAX_RECORDS: usize = 500;
/// How often a waiting ShareFetch looks again even if nothing woke it (acquisition locks run
/// out without a wake-up).
const RECHECK: Duration = Duration::from_millis(200);

fn respond(r: ResponseKind) -> Outcome {
    Outcome::Respond(Box::new(r))
}

/// Why a share API refuses a request's group or member before looking at partitions.
fn group_member(
    ctx: &Ctx,
    group: &Option<GroupId>,
    member: &Option<kafka_protocol::protocol::StrBytes>,
) -> Result<(String, Arc<str>), (i16, String)> {
    let group: &str = group.as_deref().map_or("", |g| g);
    let member: &str = member.as_deref().map_or("", |m| m);
    if group.is_empty() || member.is_empty() {
        return Err((
            codes::INVALID_REQUEST,
            "GroupId and MemberId must be set".into(),
        ));
    }
    if !ctx.allowed(op::READ, resource::GROUP, group) {
        return Err((
            GROUP_AUTHORIZATION_FAILED,
            format!("not authorized to read group {group}"),
        ));
    }
    if ctx.state.groups.knows(group) && !ctx.state.share.exists(group) {
        return Err((
            codes::GROUP_ID_NOT_FOUND,
            format!("group {group} is not a share group"),
        ));
    }
    Ok((group.to_string(), Arc::from(member)))
}

/// A requested partition resolved against the topic registry and the principal's rights.
fn resolve(ctx: &Ctx, topic_id: &Uuid, partition: i32) -> Result<Arc<Partition>, i16> {
    let Some(topic) = ctx.state.topics.get_by_id(topic_id) else {
        return Err(common::UNKNOWN_TOPIC_ID);
    };
    if !ctx.allowed(op::READ, resource::TOPIC, &topic.name) {
        return Err(TOPIC_AUTHORIZATION_FAILED);
    }
    topic
        .partition(partition)
        .ok_or(common::UNKNOWN_TOPIC_OR_PARTITION)
}

fn ack_batches(batches: impl IntoIterator<Item = AckBatch>) -> Vec<AckBatch> {
    batches.into_iter().collect()
}

pub fn share_group_heartbeat(
    ctx: &Ctx,
    client_id: &str,
    req: ShareGroupHeartbeatRequest,
) -> ShareGroupHeartbeatResponse {
    use kafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
    let mut resp = ShareGroupHeartbeatResponse::default();
    let group = req.group_id.to_string();
    if !ctx.allowed(op::READ, resource::GROUP, &group) {
        resp.error_code = GROUP_AUTHORIZATION_FAILED;
        resp.heartbeat_interval_ms = -1;
        return resp;
    }
    if ctx.state.groups.knows(&group) && !ctx.state.share.exists(&group) {
        resp.error_code = codes::GROUP_ID_NOT_FOUND;
        resp.error_message = Some(str_bytes(format!("group {group} is not a share group")));
        resp.heartbeat_interval_ms = -1;
        return resp;
    }
    let settings = ctx.state.share_settings(&group);
    let subscribed = req
        .subscribed_topic_names
        .map(|ts| ts.iter().map(|t| t.to_string()).collect::<Vec<_>>());
    // Topics the member may not read are left out of its assignment, as Kafka does.
    let topics = |name: &str| {
        if !ctx.allowed(op::READ, resource::TOPIC, name) {
            return None;
        }
        ctx.state
            .topics
            .get(name)
            .map(|t| (t.id, t.partition_count() as i32))
    };
    let out = ctx.state.share.heartbeat(
        &group,
        HeartbeatIn {
            member_id: req.member_id.to_string(),
            member_epoch: req.member_epoch,
            rack_id: req.rack_id.map(|r| r.to_string()),
            subscribed,
            client_id: client_id.to_string(),
            client_host: format!("/{}", ctx.peer.ip()),
        },
        &settings,
        &topics,
    );
    resp.error_code = out.error;
    resp.error_message = out.message.map(str_bytes);
    resp.member_id = out.member_id.map(str_bytes);
    resp.member_epoch = out.member_epoch;
    resp.heartbeat_interval_ms = settings.heartbeat_interval.as_millis() as i32;
    resp.assignment = out.assignment.map(|a| {
        let mut w = Assignment::default();
        w.topic_partitions = a
            .into_iter()
            .map(|(id, ps)| {
                let mut t = TopicPartitions::default();
                t.topic_id = id;
                t.partitions = ps;
                t
            })
            .collect();
        w
    });
    resp
}

pub fn share_group_describe(
    ctx: &Ctx,
    req: ShareGroupDescribeRequest,
) -> ShareGroupDescribeResponse {
    use kafka_protocol::messages::share_group_describe_response::{
        Assignment, DescribedGroup, Member, TopicPartitions,
    };
    let mut resp = ShareGroupDescribeResponse::default();
    for id in req.group_ids {
        let mut g = DescribedGroup::default();
        g.authorized_operations = authorized::if_requested(
            req.include_authorized_operations,
            authorized::granted(ctx, resource::GROUP, &id, authorized::GROUP),
        );
        if !ctx.allowed(op::DESCRIBE, resource::GROUP, &id) {
            g.error_code = GROUP_AUTHORIZATION_FAILED;
            g.group_id = id;
            resp.groups.push(g);
            continue;
        }
        match ctx.state.share.describe(&id) {
            Some(d) => {
                g.group_state = str_bytes(d.state);
                g.group_epoch = d.epoch;
                g.assignment_epoch = d.epoch;
                g.assignor_name = str_bytes("simple");
                g.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut w = Member::default();
                        w.member_id = str_bytes(m.id);
                        w.rack_id = m.rack_id.map(str_bytes);
                        w.member_epoch = m.epoch;
                        w.client_id = str_bytes(m.client_id);
                        w.client_host = str_bytes(m.client_host);
                        w.subscribed_topic_names = m
                            .subscribed
                            .into_iter()
                            .map(|t| TopicName(str_bytes(t)))
                            .collect();
                        let mut a = Assignment::default();
                        a.topic_partitions = m
                            .assigned
                            .into_iter()
                            .map(|(tid, ps)| {
                                let mut t = TopicPartitions::default();
                                t.topic_id = tid;
                                t.topic_name = TopicName(str_bytes(
                                    ctx.state
                                        .topics
                                        .get_by_id(&tid)
                                        .map(|t| t.name.to_string())
                                        .unwrap_or_default(),
                                ));
                                t.partitions = ps;
                                t
                            })
                            .collect();
                        w.assignment = a;
                        w
                    })
                    .collect();
            }
            None => {
                g.group_state = str_bytes("Dead");
                g.error_code = codes::GROUP_ID_NOT_FOUND;
                g.error_message = Some(str_bytes(format!("group {} is not a share group", &*id)));
            }
        }
        g.group_id = id;
        resp.groups.push(g);
    }
    resp
}

/// One partition's answer in a ShareFetch response, being filled in.
#[derive(Default)]
struct PartitionAnswer {
    error: Option<(i16, String)>,
    ack_error: Option<(i16, String)>,
    records: Option<(Bytes, Acquired)>,
    leader_epoch: i32,
    /// Named in the request (so answered even when it has nothing).
    named: bool,
}

/// Applies acknowledgements for one partition; the error (if any) for its answer.
fn acknowledge(
    ctx: &Ctx,
    group: &str,
    member: &str,
    tp: TopicPartition,
    batches: &[AckBatch],
    settings: &ShareSettings,
) -> Option<(i16, String)> {
    if batches.is_empty() {
        return None;
    }
    if let Err(code) = resolve(ctx, &tp.0, tp.1) {
        return Some((
            code,
            format!("partition {}-{} cannot be acknowledged", tp.0, tp.1),
        ));
    }
    ctx.state
        .share
        .acknowledge(group, member, tp, batches, settings)
        .err()
}

pub fn share_fetch(ctx: &Ctx, req: ShareFetchRequest) -> Outcome {
    let mut resp = ShareFetchResponse::default();
    let (group, member) = match group_member(ctx, &req.group_id, &req.member_id) {
        Ok(gm) => gm,
        Err((code, msg)) => {
            resp.error_code = code;
            resp.error_message = Some(str_bytes(msg));
            return respond(ResponseKind::ShareFetch(resp));
        }
    };
    let settings = ctx.state.share_settings(&group);
    resp.acquisition_lock_timeout_ms = settings.limits.lock_duration.as_millis() as i32;
    let mut answers: BTreeMap<TopicPartition, PartitionAnswer> = BTreeMap::new();
    let mut added = Vec::new();
    let mut acks: Vec<(TopicPartition, Vec<AckBatch>)> = Vec::new();
    for t in req.topics {
        for p in t.partitions {
            let tp = (t.topic_id, p.partition_index);
            let answer = answers.entry(tp).or_default();
            answer.named = true;
            match resolve(ctx, &t.topic_id, p.partition_index) {
                Ok(part) => {
                    answer.leader_epoch = part.log().leader_epoch();
                    added.push(tp);
                }
                Err(code) => {
                    answer.error = Some((code, format!("partition {}-{}", tp.0, tp.1)));
                }
            }
            let batches = ack_batches(
                p.acknowledgement_batches
                    .into_iter()
                    .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types)),
            );
            if !batches.is_empty() {
                acks.push((tp, batches));
            }
        }
    }
    let forgotten: Vec<TopicPartition> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
        .collect();
    // A final ShareFetch (epoch -1) only acknowledges; partitions it names fetch nothing.
    let epoch = req.share_session_epoch;
    let session = match ctx
        .state
        .share
        .session(&group, &member, epoch, &added, &forgotten, true)
    {
        Ok(s) => s,
        Err((code, msg)) => {
            resp.error_code = code;
            resp.error_message = Some(str_bytes(msg));
            return respond(ResponseKind::ShareFetch(resp));
        }
    };
    for (tp, batches) in &acks {
        let answer = answers.entry(*tp).or_default();
        answer.named = true;
        answer.ack_error = acknowledge(ctx, &group, &member, *tp, batches, &settings);
    }
    if epoch == -1 {
        ctx.state.share.release_member(&group, &member, &settings);
        return respond(ResponseKind::ShareFetch(assemble(
            ctx.state.node_id,
            resp,
            answers,
        )));
    }
    let max_records = usize::try_from(req.max_records)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MAX_RECORDS);
    let max_bytes = req.max_bytes.max(0) as usize;
    let min_bytes = req.min_bytes.max(0) as usize;
    let max_wait = Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let partitions: Vec<(TopicPartition, Arc<Partition>)> = session
        .into_iter()
        .filter_map(|tp| resolve(ctx, &tp.0, tp.1).ok().map(|p| (tp, p)))
        .collect();
    let bytes = acquire_all(
        ctx,
        &group,
        &member,
        &partitions,
        &settings,
        max_records,
        max_bytes,
        &mut answers,
    );
    let errors = answers
        .values()
        .any(|a| a.error.is_some() || a.ack_error.is_some());
    if (bytes > 0 && bytes >= min_bytes) || errors || max_wait.is_zero() || partitions.is_empty() {
        return respond(ResponseKind::ShareFetch(assemble(
            ctx.state.node_id,
            resp,
            answers,
        )));
    }
    let ctx = ctx.clone();
    let mut shutdown = ctx.shutdown.clone();
    Outcome::Later(Box::pin(async move {
        let deadline = Instant::now() + max_wait;
        let mut total = bytes;
        loop {
            let share = ctx.state.share.clone();
            let mut waits: Vec<_> = partitions
                .iter()
                .map(|(_, p)| Box::pin(p.data_arrived.notified()))
                .collect();
            let mut released = Box::pin(share.available.notified());
            released.as_mut().enable();
            for w in &mut waits {
                w.as_mut().enable();
            }
            total += acquire_all(
                &ctx,
                &group,
                &member,
                &partitions,
                &settings,
                max_records,
                max_bytes,
                &mut answers,
            );
            if (total > 0 && total >= min_bytes) || Instant::now() >= deadline || *shutdown.borrow()
            {
                return ResponseKind::ShareFetch(assemble(ctx.state.node_id, resp, answers));
            }
            let any = std::future::poll_fn(|cx| {
                if released.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                for w in waits.iter_mut() {
                    if w.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending
            });
            let wake = deadline.min(Instant::now() + RECHECK);
            tokio::select! {
                _ = any => {}
                _ = tokio::time::sleep_until(wake) => {}
                _ = shutdown.changed() => {}
            }
        }
    }))
}

/// Acquires records for the member from every session partition that has none in this answer
/// yet, within the request's record and byte budgets. Returns the bytes added.
#[allow(clippy::too_many_arguments)]
fn acquire_all(
    ctx: &Ctx,
    group: &str,
    member: &Arc<str>,
    partitions: &[(TopicPartition, Arc<Partition>)],
    settings: &ShareSettings,
    max_records: usize,
    max_bytes: usize,
    answers: &mut BTreeMap<TopicPartition, PartitionAnswer>,
) -> usize {
    let mut records_left = max_records
        - answers
            .values()
            .filter_map(|a| a.records.as_ref())
            .map(|(_, acq)| acq.iter().map(|r| (r.1 - r.0 + 1) as usize).sum::<usize>())
            .sum::<usize>()
            .min(max_records);
    let mut bytes_left = max_bytes.saturating_sub(
        answers
            .values()
            .filter_map(|a| a.records.as_ref())
            .map(|(b, _)| b.len())
            .sum(),
    );
    let mut added = 0;
    for (tp, p) in partitions {
        if records_left == 0 {
            break;
        }
        if answers.get(tp).is_some_and(|a| a.records.is_some()) {
            continue;
        }
        match acquire_one(
            ctx,
            group,
            member,
            *tp,
            p,
            settings,
            records_left,
            bytes_left,
        ) {
            Ok(Some((bytes, acquired, epoch))) => {
                records_left -= acquired
                    .iter()
                    .map(|r| (r.1 - r.0 + 1) as usize)
                    .sum::<usize>()
                    .min(records_left);
                bytes_left = bytes_left.saturating_sub(bytes.len());
                added += bytes.len();
                let a = answers.entry(*tp).or_default();
                a.leader_epoch = epoch;
                a.records = Some((bytes, acquired));
            }
            Ok(None) => {}
            Err(e) => answers.entry(*tp).or_default().error = Some(e),
        }
    }
    added
}

/// One partition: where to read, the read, and the acquisition among the batches read; the
/// response bytes are cut to the batches that hold acquired records.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn acquire_one(
    ctx: &Ctx,
    group: &str,
    member: &Arc<str>,
    tp: TopicPartition,
    p: &Partition,
    settings: &ShareSettings,
    max_records: usize,
    max_bytes: usize,
) -> Result<Option<(Bytes, Acquired, i32)>, (i16, String)> {
    let share = &ctx.state.share;
    let (log_start, hwm, epoch) = {
        let log = p.log();
        (
            log.log_start_offset(),
            log.high_watermark(),
            log.leader_epoch(),
        )
    };
    let Some(from) = share.next_to_acquire(group, tp, log_start, hwm, settings) else {
        return Ok(None);
    };
    let plan = p.log().read_below(from, max_bytes, true, hwm);
    let data = match plan {
        Ok(Some(plan)) => plan.read().map_err(|e| storage_error(p, e))?,
        Ok(None) | Err(ReadError::OutOfRange { .. }) => return Ok(None),
        Err(ReadError::Io(e)) => return Err(storage_error(p, e)),
    };
    let mut spans = Vec::new();
    let mut ranges = Vec::new();
    let mut at = 0usize;
    for batch in RecordBatches::new(data.clone()) {
        let Ok(batch) = batch else { break };
        let len = batch.bytes.len();
        spans.push(BatchSpan {
            first: batch.header.base_offset,
            last: batch.header.last_offset(),
            control: batch.header.is_control(),
        });
        ranges.push(at..at + len);
        at += len;
    }
    let acquired = share.acquire(group, member, tp, &spans, settings, max_records);
    let (Some(first), Some(last)) = (acquired.first(), acquired.last()) else {
        return Ok(None);
    };
    let (first, last) = (first.0, last.1);
    let keep: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].last >= first && spans[i].first <= last)
        .collect();
    let (Some(&a), Some(&b)) = (keep.first(), keep.last()) else {
        return Ok(None);
    };
    Ok(Some((
        data.slice(ranges[a].start..ranges[b].end),
        acquired,
        epoch,
    )))
}

fn storage_error(p: &Partition, e: std::io::Error) -> (i16, String) {
    tracing::error!(topic = %p.topic, partition = p.index, "share fetch read failed: {e}");
    (
        common::KAFKA_STORAGE_ERROR,
        format!("reading {}-{} failed", p.topic, p.index),
    )
}

fn assemble(
    node_id: i32,
    mut resp: ShareFetchResponse,
    answers: BTreeMap<TopicPartition, PartitionAnswer>,
) -> ShareFetchResponse {
    use kafka_protocol::messages::share_fetch_response::{
        AcquiredRecords, LeaderIdAndEpoch, PartitionData, ShareFetchableTopicResponse,
    };
    let mut topics: Vec<ShareFetchableTopicResponse> = Vec::new();
    for ((topic_id, index), a) in answers {
        if !a.named && a.records.is_none() && a.error.is_none() {
            continue;
        }
        let mut pd = PartitionData::default();
        pd.partition_index = index;
        if let Some((code, msg)) = a.error {
            pd.error_code = code;
            pd.error_message = Some(str_bytes(msg));
        }
        if let Some((code, msg)) = a.ack_error {
            pd.acknowledge_error_code = code;
            pd.acknowledge_error_message = Some(str_bytes(msg));
        }
        let mut leader = LeaderIdAndEpoch::default();
        leader.leader_id = node_id;
        leader.leader_epoch = a.leader_epoch;
        pd.current_leader = leader;
        match a.records {
            Some((bytes, acquired)) => {
                pd.records = Some(bytes);
                pd.acquired_records = acquired
                    .into_iter()
                    .map(|(first, last, count)| {
                        let mut r = AcquiredRecords::default();
                        r.first_offset = first;
                        r.last_offset = last;
                        r.delivery_count = count;
                        r
                    })
                    .collect();
            }
            None => pd.records = Some(Bytes::new()),
        }
        match topics.last_mut() {
            Some(t) if t.topic_id == topic_id => t.partitions.push(pd),
            _ => {
                let mut t = ShareFetchableTopicResponse::default();
                t.topic_id = topic_id;
                t.partitions.push(pd);
                topics.push(t);
            }
        }
    }
    resp.responses = topics;
    resp
}

pub fn share_acknowledge(
    ctx: &Ctx,
    version: i16,
    req: ShareAcknowledgeRequest,
) -> ShareAcknowledgeResponse {
    use kafka_protocol::messages::share_acknowledge_response::{
        LeaderIdAndEpoch, PartitionData, ShareAcknowledgeTopicResponse,
    };
    let mut resp = ShareAcknowledgeResponse::default();
    let (group, member) = match group_member(ctx, &req.group_id, &req.member_id) {
        Ok(gm) => gm,
        Err((code, msg)) => {
            resp.error_code = code;
            resp.error_message = Some(str_bytes(msg));
            return resp;
        }
    };
    let settings = ctx.state.share_settings(&group);
    if version >= 2 {
        odradek_protocol::codec::set_acknowledge_lock_timeout(
            &mut resp,
            settings.limits.lock_duration.as_millis() as i32,
        );
    }
    let epoch = req.share_session_epoch;
    if let Err((code, msg)) = ctx
        .state
        .share
        .session(&group, &member, epoch, &[], &[], false)
    {
        resp.error_code = code;
        resp.error_message = Some(str_bytes(msg));
        return resp;
    }
    for t in req.topics {
        let mut tr = ShareAcknowledgeTopicResponse::default();
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let tp = (t.topic_id, p.partition_index);
            let batches = ack_batches(
                p.acknowledgement_batches
                    .into_iter()
                    .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types)),
            );
            let mut pd = PartitionData::default();
            pd.partition_index = p.partition_index;
            let mut leader = LeaderIdAndEpoch::default();
            leader.leader_id = ctx.state.node_id;
            if let Ok(part) = resolve(ctx, &tp.0, tp.1) {
                leader.leader_epoch = part.log().leader_epoch();
            }
            pd.current_leader = leader;
            if let Some((code, msg)) = acknowledge(ctx, &group, &member, tp, &batches, &settings) {
                pd.error_code = code;
                pd.error_message = Some(str_bytes(msg));
            }
            tr.partitions.push(pd);
        }
        resp.responses.push(tr);
    }
    if epoch == -1 {
        ctx.state.share.release_member(&group, &member, &settings);
    }
    resp
}

/// One partition of a DescribeShareGroupOffsets answer: index, SPSO, leader epoch, error.
type Described = (i32, i64, i32, i16);
/// The partitions of a DescribeShareGroupOffsets group, by topic name.
type Named = Vec<(String, Uuid, Vec<Described>)>;

pub fn describe_share_group_offsets(
    ctx: &Ctx,
    req: DescribeShareGroupOffsetsRequest,
) -> DescribeShareGroupOffsetsResponse {
    use kafka_protocol::messages::describe_share_group_offsets_response::{
        DescribeShareGroupOffsetsResponseGroup as G,
        DescribeShareGroupOffsetsResponsePartition as P,
        DescribeShareGroupOffsetsResponseTopic as T,
    };
    let mut resp = DescribeShareGroupOffsetsResponse::default();
    for rg in req.groups {
        let mut g = G::default();
        let id = rg.group_id.to_string();
        g.group_id = rg.group_id;
        if !ctx.allowed(op::DESCRIBE, resource::GROUP, &id) {
            g.error_code = GROUP_AUTHORIZATION_FAILED;
            resp.groups.push(g);
            continue;
        }
        let Some(offsets) = ctx.state.share.start_offsets(&id) else {
            g.error_code = codes::GROUP_ID_NOT_FOUND;
            g.error_message = Some(str_bytes(format!("group {id} is not a share group")));
            resp.groups.push(g);
            continue;
        };
        let epoch_of = |tid: &Uuid, p: i32| {
            ctx.state
                .topics
                .get_by_id(tid)
                .and_then(|t| t.partition(p))
                .map(|p| p.log().leader_epoch())
        };
        let named: Named = match rg.topics {
            Some(topics) => topics
                .into_iter()
                .map(|t| {
                    let topic = ctx.state.topics.get(&t.topic_name);
                    let tid = topic.as_ref().map(|t| t.id).unwrap_or_default();
                    let parts = t
                        .partitions
                        .into_iter()
                        .map(|p| match (&topic, epoch_of(&tid, p)) {
                            (Some(_), Some(e))
                                if ctx.allowed(op::DESCRIBE, resource::TOPIC, &t.topic_name) =>
                            {
                                (p, offsets.get(&(tid, p)).copied().unwrap_or(-1), e, 0)
                            }
                            (Some(_), Some(_)) => (p, -1, -1, TOPIC_AUTHORIZATION_FAILED),
                            _ => (p, -1, -1, common::UNKNOWN_TOPIC_OR_PARTITION),
                        })
                        .collect();
                    (t.topic_name.to_string(), tid, parts)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, (Uuid, Vec<Described>)> = BTreeMap::new();
                for ((tid, p), start) in &offsets {
                    let Some(topic) = ctx.state.topics.get_by_id(tid) else {
                        continue;
                    };
                    if !ctx.allowed(op::DESCRIBE, resource::TOPIC, &topic.name) {
                        continue;
                    }
                    let e = epoch_of(tid, *p).unwrap_or(-1);
                    by_topic
                        .entry(topic.name.to_string())
                        .or_insert_with(|| (*tid, Vec::new()))
                        .1
                        .push((*p, *start, e, 0));
                }
                by_topic
                    .into_iter()
                    .map(|(name, (tid, mut parts))| {
                        parts.sort();
                        (name, tid, parts)
                    })
                    .collect()
            }
        };
        g.topics = named
            .into_iter()
            .map(|(name, tid, parts)| {
                let mut t = T::default();
                t.topic_name = TopicName(str_bytes(name));
                t.topic_id = tid;
                t.partitions = parts
                    .into_iter()
                    .map(|(index, start, epoch, code)| {
                        let mut p = P::default();
                        p.partition_index = index;
                        p.start_offset = start;
                        p.leader_epoch = epoch;
                        p.error_code = code;
                        p
                    })
                    .collect();
                t
            })
            .collect();
        resp.groups.push(g);
    }
    resp
}

pub fn alter_share_group_offsets(
    ctx: &Ctx,
    req: AlterShareGroupOffsetsRequest,
) -> AlterShareGroupOffsetsResponse {
    use kafka_protocol::messages::alter_share_group_offsets_response::{
        AlterShareGroupOffsetsResponsePartition as P, AlterShareGroupOffsetsResponseTopic as T,
    };
    let mut resp = AlterShareGroupOffsetsResponse::default();
    let group = req.group_id.to_string();
    let group_error = if group.is_empty() {
        Some((codes::INVALID_GROUP_ID, "the group id is empty".to_string()))
    } else if !ctx.allowed(op::READ, resource::GROUP, &group) {
        Some((
            GROUP_AUTHORIZATION_FAILED,
            format!("not authorized to read group {group}"),
        ))
    } else if ctx.state.groups.knows(&group) && !ctx.state.share.exists(&group) {
        Some((
            codes::GROUP_ID_NOT_FOUND,
            format!("group {group} is not a share group"),
        ))
    } else {
        None
    };
    let mut valid = Vec::new();
    let mut slots: Vec<(usize, usize)> = Vec::new();
    for t in req.topics {
        let mut tr = T::default();
        let topic = ctx.state.topics.get(&t.topic_name);
        tr.topic_id = topic.as_ref().map(|t| t.id).unwrap_or_default();
        tr.topic_name = t.topic_name.clone();
        for p in t.partitions {
            let mut pr = P::default();
            pr.partition_index = p.partition_index;
            let part = topic.as_ref().and_then(|t| t.partition(p.partition_index));
            pr.error_code = if let Some((code, _)) = &group_error {
                *code
            } else if topic.is_none() || part.is_none() {
                common::UNKNOWN_TOPIC_OR_PARTITION
            } else if !ctx.allowed(op::READ, resource::TOPIC, &t.topic_name) {
                TOPIC_AUTHORIZATION_FAILED
            } else if p.start_offset < 0 {
                pr.error_message = Some(str_bytes(format!(
                    "start offset {} is negative",
                    p.start_offset
                )));
                codes::INVALID_REQUEST
            } else {
                slots.push((resp.responses.len(), tr.partitions.len()));
                valid.push(((tr.topic_id, p.partition_index), p.start_offset));
                common::NONE
            };
            tr.partitions.push(pr);
        }
        resp.responses.push(tr);
    }
    if let Some((code, msg)) = group_error {
        resp.error_code = code;
        resp.error_message = Some(str_bytes(msg));
        return resp;
    }
    let code = ctx.state.share.alter_offsets(&group, &valid);
    if code != codes::NONE {
        resp.error_code = code;
        resp.error_message = Some(str_bytes(format!(
            "share group {group} has members: stop them before altering its offsets"
        )));
        for (t, p) in slots {
            resp.responses[t].partitions[p].error_code = code;
        }
    }
    resp
}

pub fn delete_share_group_offsets(
    ctx: &Ctx,
    req: DeleteShareGroupOffsetsRequest,
) -> DeleteShareGroupOffsetsResponse {
    use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic as T;
    let mut resp = DeleteShareGroupOffsetsResponse::default();
    let group = req.group_id.to_string();
    if !ctx.allowed(op::DELETE, resource::GROUP, &group) {
        resp.error_code = GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    let mut ids = Vec::new();
    for t in req.topics {
        let mut tr = T::default();
        match ctx.state.topics.get(&t.topic_name) {
            Some(topic) if ctx.allowed(op::READ, resource::TOPIC, &topic.name) => {
                tr.topic_id = topic.id;
                ids.push(topic.id);
            }
            Some(_) => tr.error_code = TOPIC_AUTHORIZATION_FAILED,
            None => {
                tr.error_code = common::UNKNOWN_TOPIC_OR_PARTITION;
                tr.error_message = Some(str_bytes(format!("unknown topic {}", &*t.topic_name)));
            }
        }
        tr.topic_name = t.topic_name;
        resp.responses.push(tr);
    }
    let code = ctx.state.share.delete_offsets(&group, &ids);
    if code != codes::NONE {
        resp.error_code = code;
        resp.error_message = Some(str_bytes(if code == codes::NON_EMPTY_GROUP {
            format!("share group {group} has members")
        } else {
            format!("group {group} is not a share group")
        }));
    }
    resp
}

/// Share groups for ListGroups: (id, protocol type, state, group type).
pub fn listed(ctx: &Ctx) -> Vec<(String, String, &'static str, &'static str)> {
    ctx.state
        .share
        .list()
        .into_iter()
        .map(|(id, state)| (id, "share".to_string(), state, "share"))
        .collect()
}
