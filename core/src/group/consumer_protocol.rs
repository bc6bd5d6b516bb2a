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
    auto_commit_if_due, back_off_after_failure, commit_and_revoke_on_close, committed_starts,
    coordinator, kafka_error, lose_all, mark_stopped, poll_expired, revoke, s, wait,
};
use super::{Inner, lock};
use crate::error::Result;

const NONE: i16 = 0;
const UNKNOWN_MEMBER_ID: i16 = 25;
const FENCED_MEMBER_EPOCH: i16 = 110;
const UNRELEASED_INSTANCE_ID: i16 = 111;

/// A member id for ConsumerGroupHeartbeat v1+, where the member names itself (KIP-1082).
fn new_member_id() -> String {
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

async fn heartbeat(inner: &Inner, interval: &mut Duration) -> Result<Next> {
    let conn = coordinator(inner).await?;
    let topics = lock(&inner.topics).clone();
    let cluster = inner.consumer.cluster();
    cluster.add_topics(topics.iter().map(String::as_str));
    let metadata = cluster.metadata();
    let (epoch, member_id) = inner.membership.generation();
    let owned = inner.membership.owned();
    let mut by_id: BTreeMap<[u8; 16], Vec<i32>> = BTreeMap::new();
    for (t, p) in &owned {
        if let Some(info) = metadata.topics.get(t) {
            by_id.entry(info.id).or_default().push(*p);
        }
    }
    let mut req = ConsumerGroupHeartbeatRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.member_id = s(&member_id);
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
    let resp = conn
        .request_timeout(&req, cluster.request_timeout())
        .await?;
    match resp.error_code {
        NONE => {}
        UNKNOWN_MEMBER_ID | FENCED_MEMBER_EPOCH => {
            tracing::info!(group = %inner.settings.group_id, code = resp.error_code,
                "membership lost; rejoining");
            lose_all(inner);
            lock(&inner.membership.state).generation = 0;
            return Ok(Next::Now);
        }
        UNRELEASED_INSTANCE_ID => {
            return Err(kafka_error(resp.error_code, "ConsumerGroupHeartbeat"));
        }
        code => {
            let e = kafka_error(code, "ConsumerGroupHeartbeat");
            tracing::debug!(group = %inner.settings.group_id, message = ?resp.error_message, "{e}");
            return Err(e);
        }
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
    let mut target: BTreeSet<(String, i32)> = BTreeSet::new();
    for t in &assignment.topic_partitions {
        let Some(name) = names.get(t.topic_id.as_bytes()) else {
            // Still unknown: reconcile the rest now, this topic on a later heartbeat.
            continue;
        };
        target.extend(t.partitions.iter().map(|p| (name.clone(), *p)));
    }
    let revoked: BTreeSet<(String, i32)> = owned.difference(&target).cloned().collect();
    let added: BTreeSet<(String, i32)> = target.difference(&owned).cloned().collect();
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
        inner.consumer.incremental_assign(&starts)?;
        if let Some(l) = inner.listener() {
            l.on_assigned(&added_list);
        }
    }
    tracing::debug!(group = %inner.settings.group_id, epoch = resp.member_epoch,
        ?revoked, ?added, "reconciled");
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
