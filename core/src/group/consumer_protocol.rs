//! The KIP-848 membership task (`group.protocol=consumer`): one ConsumerGroupHeartbeat every
//! interval the coordinator asks for; the coordinator computes the assignment and this member
//! reconciles to it — partitions taken away are revoked first (processed offsets committed when
//! auto-commit is on, `on_revoked`), new ones start at the committed offsets (`on_assigned`) —
//! and acknowledges at once with its owned partitions, so revoked partitions can move on.
//!
//! Every heartbeat is a full request (subscription, assignor, rebalance timeout, owned
//! partitions): the protocol allows it, the coordinator then always answers with the whole
//! assignment, and reconciling the whole assignment is idempotent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::*;

use super::membership::{
    Partitions, auto_commit_if_due, back_off_after_failure, commit_and_revoke_on_close,
    committed_starts, coordinator, kafka_error, lose_all, mark_stopped, poll_expired, revoke, s,
    start_assigned, wait,
};
use super::{Inner, lock};
use crate::cluster::{Cluster, Metadata};
use crate::error::Result;

const NONE: i16 = 0;
const UNKNOWN_MEMBER_ID: i16 = 25;
const FENCED_MEMBER_EPOCH: i16 = 110;
const UNRELEASED_INSTANCE_ID: i16 = 111;

/// A member id for ConsumerGroupHeartbeat v1+, where the member names itself (KIP-1082).
pub(crate) fn new_member_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for half in bytes.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        half.copy_from_slice(&h.finish().to_be_bytes());
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// What one heartbeat round asks of the loop.
enum Next {
    /// Wait the heartbeat interval.
    Wait,
    /// Send again at once (acknowledge a reconciliation, rejoin).
    Now,
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut last_commit = Instant::now();
    let mut failures = 0u32;
    let mut interval = inner.settings.heartbeat_interval;
    {
        let mut st = lock(&inner.membership.state);
        st.member_id = new_member_id();
        st.generation = 0;
    }
    loop {
        if inner.closing.load(Ordering::SeqCst) {
            break;
        }
        let no_topics = lock(&inner.topics).is_empty();
        let left = lock(&inner.membership.state).left_for_poll;
        if no_topics || (left && poll_expired(&inner)) {
            wait(&inner, Duration::from_secs(3600)).await;
            continue;
        }
        lock(&inner.membership.state).left_for_poll = false;
        if poll_expired(&inner) {
            tracing::warn!(group = %inner.settings.group_id,
                "max.poll.interval.ms exceeded: leaving the group until the next read");
            leave(&inner).await;
            lose_all(&inner);
            lock(&inner.membership.state).left_for_poll = true;
            continue;
        }
        auto_commit_if_due(&inner, &mut last_commit).await;
        match heartbeat(&inner, &mut interval).await {
            Ok(Next::Now) => failures = 0,
            Ok(Next::Wait) => {
                failures = 0;
                wait(&inner, interval).await;
            }
            Err(e) => {
                failures += 1;
                inner.consumer.report_security_failure(e.clone());
                back_off_after_failure(&inner, &e, "heartbeat", failures).await;
            }
        }
    }
    // Close: commit what was processed, revoke, then leave (a static member leaves with
    // epoch -2 and keeps its partitions until its session ends).
    commit_and_revoke_on_close(&inner).await;
    leave(&inner).await;
    mark_stopped(&inner);
}

/// One ConsumerGroupHeartbeat round: send the member's full state, apply the answer, and
/// reconcile to the assignment it carries, if any.
async fn heartbeat(inner: &Inner, interval: &mut Duration) -> Result<Next> {
    let conn = coordinator(inner).await?;
    let topics = lock(&inner.topics).clone();
    let cluster = inner.consumer.cluster();
    cluster.add_topics(topics.iter().map(String::as_str));
    let metadata = cluster.metadata();
    let (epoch, member_id) = inner.membership.generation();
    let owned = inner.membership.owned();
    let req = heartbeat_request(inner, &metadata, &topics, epoch, &member_id, &owned);
    let resp = conn
        .request_timeout(&req, cluster.request_timeout())
        .await?;
    if let Some(next) = check_heartbeat_error(inner, &resp)? {
        return Ok(next);
    }
    if resp.heartbeat_interval_ms > 0 {
        *interval = Duration::from_millis(resp.heartbeat_interval_ms as u64);
    }
    {
        let mut st = lock(&inner.membership.state);
        if let Some(id) = &resp.member_id {
            st.member_id = id.to_string();
        }
        st.generation = resp.member_epoch;
    }
    let Some(assignment) = resp.assignment else {
        return Ok(Next::Wait);
    };
    let target = assigned_partitions(cluster, &metadata, &topics, &assignment).await?;
    reconcile(inner, &owned, &target, resp.member_epoch).await
}

/// A keep-alive heartbeat while a rebalance callback runs: member id and epoch only, every
/// other field null ("unchanged"), so the coordinator neither sees revoked partitions as
/// released before `on_revoked` returned nor changes the subscription. Its answer is not
/// reconciled now; the next full heartbeat carries the whole assignment again.
pub(super) async fn keep_alive(inner: &Inner) -> Result<()> {
    let conn = coordinator(inner).await?;
    let (epoch, member_id) = inner.membership.generation();
    let mut req = ConsumerGroupHeartbeatRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.member_id = s(&member_id);
    req.member_epoch = epoch;
    req.instance_id = inner.settings.instance_id.as_deref().map(s);
    req.rebalance_timeout_ms = -1;
    let resp = conn
        .request_timeout(&req, inner.consumer.cluster().request_timeout())
        .await?;
    match resp.error_code {
        NONE => Ok(()),
        code => Err(kafka_error(code, "ConsumerGroupHeartbeat")),
    }
}

/// A full heartbeat: subscription, assignor, rebalance timeout and the owned partitions (by
/// topic id; an owned topic missing from `metadata` is left out).
fn heartbeat_request(
    inner: &Inner,
    metadata: &Metadata,
    topics: &[String],
    epoch: i32,
    member_id: &str,
    owned: &Partitions,
) -> ConsumerGroupHeartbeatRequest {
    let mut by_id: BTreeMap<[u8; 16], Vec<i32>> = BTreeMap::new();
    for (t, p) in owned {
        if let Some(info) = metadata.topics.get(t) {
            by_id.entry(info.id).or_default().push(*p);
        }
    }
    let mut req = ConsumerGroupHeartbeatRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.member_id = s(member_id);
    req.member_epoch = epoch;
    req.instance_id = inner.settings.instance_id.as_deref().map(s);
    req.rebalance_timeout_ms = inner.settings.max_poll_interval.as_millis() as i32;
    req.subscribed_topic_names = Some(topics.iter().map(|t| TopicName(s(t))).collect());
    req.server_assignor = inner.settings.remote_assignor.as_deref().map(s);
    req.topic_partitions = Some(
        by_id
            .into_iter()
            .map(|(id, ps)| {
                let mut t = TopicPartitions::default();
                t.topic_id = uuid::Uuid::from_bytes(id);
                t.partitions = ps;
                t
            })
            .collect(),
    );
    req
}

/// The heartbeat's error code. `Ok(None)`: no error, go on with the answer. A lost
/// membership (unknown member, fenced epoch) drops the partitions without a commit and
/// rejoins at once with epoch 0; any other error fails the round (and is retried after the
/// backoff).
fn check_heartbeat_error(
    inner: &Inner,
    resp: &ConsumerGroupHeartbeatResponse,
) -> Result<Option<Next>> {
    match resp.error_code {
        NONE => Ok(None),
        UNKNOWN_MEMBER_ID | FENCED_MEMBER_EPOCH => {
            tracing::info!(group = %inner.settings.group_id, code = resp.error_code,
                "membership lost; rejoining");
            lose_all(inner);
            lock(&inner.membership.state).generation = 0;
            Ok(Some(Next::Now))
        }
        UNRELEASED_INSTANCE_ID => Err(kafka_error(resp.error_code, "ConsumerGroupHeartbeat")),
        code => {
            let e = kafka_error(code, "ConsumerGroupHeartbeat");
            tracing::debug!(group = %inner.settings.group_id, message = ?resp.error_message, "{e}");
            Err(e)
        }
    }
}

/// The coordinator's assignment as (topic name, partition) pairs.
/// Invariant: a topic id not in `metadata` triggers one refresh; one still unknown after it
/// is left out now and reconciled on a later heartbeat.
async fn assigned_partitions(
    cluster: &Cluster,
    metadata: &Metadata,
    topics: &[String],
    assignment: &consumer_group_heartbeat_response::Assignment,
) -> Result<Partitions> {
    // Topic ids to names; an id not in our metadata yet needs a refresh first.
    let mut names: HashMap<[u8; 16], String> = metadata
        .topics
        .values()
        .map(|t| (t.id, t.name.clone()))
        .collect();
    if assignment
        .topic_partitions
        .iter()
        .any(|t| !names.contains_key(t.topic_id.as_bytes()))
    {
        let extra: Vec<&str> = topics.iter().map(String::as_str).collect();
        let fresh = cluster.refresh(&extra).await?;
        names = fresh
            .topics
            .values()
            .map(|t| (t.id, t.name.clone()))
            .collect();
    }
    let mut target: Partitions = BTreeSet::new();
    for t in &assignment.topic_partitions {
        let Some(name) = names.get(t.topic_id.as_bytes()) else {
            // Still unknown: reconcile the rest now, this topic on a later heartbeat.
            continue;
        };
        target.extend(t.partitions.iter().map(|p| (name.clone(), *p)));
    }
    Ok(target)
}

/// Moves from `owned` to `target`: revokes first, then starts the added partitions at the
/// committed offsets. Invariant: with any change the next heartbeat goes out at once, because
/// revoked partitions are free for others only once it is acknowledged.
async fn reconcile(
    inner: &Inner,
    owned: &Partitions,
    target: &Partitions,
    epoch: i32,
) -> Result<Next> {
    let revoked: Partitions = owned.difference(target).cloned().collect();
    let added: Partitions = target.difference(owned).cloned().collect();
    if revoked.is_empty() && added.is_empty() {
        return Ok(Next::Wait);
    }
    revoke(inner, &revoked).await;
    let added_list: Vec<(String, i32)> = added.iter().cloned().collect();
    let starts = committed_starts(inner, &added_list).await?;
    lock(&inner.membership.state)
        .owned
        .extend(added.iter().cloned());
    if !starts.is_empty() {
        start_assigned(inner, &starts, &added_list).await?;
    }
    tracing::debug!(group = %inner.settings.group_id, epoch, ?revoked, ?added, "reconciled");
    // Acknowledge at once: revoked partitions are free for others only after this.
    Ok(Next::Now)
}

/// Leaves with epoch -1 (-2 for a static member).
async fn leave(inner: &Inner) {
    let Ok(conn) = coordinator(inner).await else {
        return;
    };
    let (epoch, member_id) = inner.membership.generation();
    if epoch <= 0 {
        return;
    }
    let mut req = ConsumerGroupHeartbeatRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.member_id = s(&member_id);
    req.instance_id = inner.settings.instance_id.as_deref().map(s);
    req.member_epoch = if inner.settings.instance_id.is_some() {
        -2
    } else {
        -1
    };
    req.rebalance_timeout_ms = -1;
    let timeout = inner.consumer.cluster().request_timeout();
    if let Err(e) = conn.request_timeout(&req, timeout).await {
        tracing::debug!(group = %inner.settings.group_id, "leaving failed: {e}");
    }
    lock(&inner.membership.state).generation = 0;
}
