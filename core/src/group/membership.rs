//! The classic-protocol membership task (KIP-848's is in `consumer_protocol`): FindCoordinator, JoinGroup, (leader) assignment,
//! SyncGroup, Heartbeat, LeaveGroup, auto-commit; plus OffsetCommit/OffsetFetch. It talks to
//! the coordinator over its own connection, because a JoinGroup can be parked by the broker
//! for a whole rebalance and responses come back in order: fetches must not wait behind it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::assignor::{self, MemberSubscription};
use super::callbacks::Event;
use super::protocol::{self, Assignment, Subscription};
use super::{Inner, lock};
use crate::consumer::Offset;
use crate::error::{Error, ErrorClass, ErrorKind, Result};
use crate::net::{ConnectOptions, Connection};

const NONE: i16 = 0;
const REQUEST_TIMED_OUT: i16 = 7;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;
const STALE_MEMBER_EPOCH: i16 = 113;

pub(super) fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

pub(super) type Partitions = BTreeSet<(String, i32)>;

#[derive(Debug)]
pub(super) struct MemberState {
    pub(super) member_id: String,
    /// Generation (classic) or member epoch (KIP-848).
    pub(super) generation: i32,
    protocol: Option<String>,
    pub(super) owned: Partitions,
    coordinator: Option<Arc<Connection>>,
    rejoin: bool,
    pub(super) left_for_poll: bool,
}

#[derive(Debug)]
pub(crate) struct Membership {
    pub(super) state: Mutex<MemberState>,
    task: Mutex<Option<JoinHandle<()>>>,
    pub(super) stopped: Notify,
    pub(super) done: std::sync::atomic::AtomicBool,
}

impl Membership {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(MemberState {
                member_id: String::new(),
                generation: -1,
                protocol: None,
                owned: BTreeSet::new(),
                coordinator: None,
                rejoin: true,
                left_for_poll: false,
            }),
            task: Mutex::new(None),
            stopped: Notify::new(),
            done: std::sync::atomic::AtomicBool::new(false),
        }
    }
    pub fn set_task(&self, t: JoinHandle<()>) {
        *lock(&self.task) = Some(t);
    }
    pub fn owned(&self) -> Partitions {
        lock(&self.state).owned.clone()
    }
    pub fn generation(&self) -> (i32, String) {
        let st = lock(&self.state);
        (st.generation, st.member_id.clone())
    }
    pub fn request_rejoin(&self) {
        lock(&self.state).rejoin = true;
    }
    pub fn left_for_poll_timeout(&self) -> bool {
        lock(&self.state).left_for_poll
    }
    pub async fn wait_stopped(&self) {
        loop {
            let n = self.stopped.notified();
            if self.done.load(Ordering::SeqCst) {
                return;
            }
            n.await;
        }
    }
}

/// Why a round of the loop failed, and what to do about it.
pub(super) fn is_coordinator_error(code: i16) -> bool {
    matches!(
        code,
        COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR | COORDINATOR_LOAD_IN_PROGRESS
    )
}

/// Whether a failed commit is sent again (to the coordinator looked up next), as Java's
/// `commitSync` does: the coordinator moved, is unavailable or loading, timed the request out
/// (REQUEST_TIMED_OUT), or never answered (connection lost, request timeout). A fenced or stale
/// member (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION), an authorization failure or an unknown code
/// fails the commit at once: another coordinator would answer the same.
pub(super) fn commit_goes_to_next_coordinator(e: &Error) -> bool {
    match e.code() {
        Some(code) => is_coordinator_error(code) || code == REQUEST_TIMED_OUT,
        None => e.is_retriable() && matches!(e.kind(), ErrorKind::Io(_) | ErrorKind::Timeout),
    }
}

/// Group answers the member keeps retrying but that no rejoin fixes by itself: the
/// application (or an operator) has to act, so they go to the error callback.
fn rejoining_cannot_fix(code: i16) -> bool {
    use kafka_protocol::error::ResponseError as E;
    E::try_from_code(code).is_some_and(|e| {
        matches!(
            e,
            E::GroupAuthorizationFailed
                | E::TopicAuthorizationFailed
                | E::FencedInstanceId
                | E::InconsistentGroupProtocol
                | E::InvalidSessionTimeout
                | E::GroupMaxSizeReached
                | E::UnsupportedAssignor
                | E::InvalidGroupId
                | E::UnreleasedInstanceId
        )
    })
}

pub(super) fn kafka_error(code: i16, what: &str) -> Error {
    Error::from_code(code)
        .unwrap_or_else(|| Error::network(format!("error code {code}")))
        .with_class(ErrorClass::Retriable)
        .with_topic(what)
}

pub(super) async fn coordinator(inner: &Inner) -> Result<Arc<Connection>> {
    if let Some(c) = lock(&inner.membership.state).coordinator.clone()
        && !c.is_closed()
    {
        return Ok(c);
    }
    let cluster = inner.consumer.cluster();
    let conn = cluster.any_connection().await?;
    let version = conn.require_version(ApiKey::FindCoordinator)?;
    let mut req = FindCoordinatorRequest::default();
    let group = &inner.settings.group_id;
    if version >= 4 {
        req.coordinator_keys = vec![s(group)];
    } else {
        req.key = s(group);
    }
    let resp = conn
        .request_timeout(&req, cluster.request_timeout())
        .await?;
    let (code, host, port) = match resp.coordinators.first() {
        Some(c) => (c.error_code, c.host.to_string(), c.port),
        None => (resp.error_code, resp.host.to_string(), resp.port),
    };
    if code != NONE {
        return Err(kafka_error(code, "FindCoordinator"));
    }
    let options = ConnectOptions::for_client(cluster.config());
    let conn = Arc::new(Connection::connect(&format!("{host}:{port}"), &options).await?);
    lock(&inner.membership.state).coordinator = Some(conn.clone());
    Ok(conn)
}

pub(super) fn drop_coordinator(inner: &Inner) {
    if let Some(c) = lock(&inner.membership.state).coordinator.take() {
        c.close();
    }
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut last_commit = Instant::now();
    let mut failures = 0u32;
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
        let rejoin = lock(&inner.membership.state).rejoin;
        let step = if rejoin {
            join_and_sync(&inner).await
        } else {
            wait(&inner, inner.settings.heartbeat_interval).await;
            if inner.closing.load(Ordering::SeqCst) {
                break;
            }
            if poll_expired(&inner) {
                tracing::warn!(group = %inner.settings.group_id,
                    "max.poll.interval.ms exceeded: leaving the group until the next read");
                leave(&inner).await;
                lose_all(&inner);
                let mut st = lock(&inner.membership.state);
                st.left_for_poll = true;
                st.rejoin = true;
                continue;
            }
            auto_commit_if_due(&inner, &mut last_commit).await;
            heartbeat(&inner).await
        };
        match step {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                inner.consumer.report_security_failure(e.clone());
                back_off_after_failure(&inner, &e, "group round", failures).await;
            }
        }
    }
    // Close: commit what was processed, then leave (static members stay until their session
    // times out, as in Kafka).
    commit_and_revoke_on_close(&inner).await;
    if inner.settings.instance_id.is_none() {
        leave(&inner).await;
    }
    mark_stopped(&inner);
}

/// Auto-commit of the processed positions, once per `auto.commit.interval.ms`; a failure is
/// only logged (the next interval, a revocation or the close commits again).
pub(super) async fn auto_commit_if_due(inner: &Inner, last_commit: &mut Instant) {
    if !inner.settings.auto_commit || last_commit.elapsed() < inner.settings.auto_commit_interval {
        return;
    }
    *last_commit = Instant::now();
    let owned = inner.membership.owned();
    if let Err(e) = commit(inner, &inner.processed_of(&owned)).await {
        tracing::debug!(group = %inner.settings.group_id, "auto-commit failed: {e}");
    }
}

/// After a failed round: forget a coordinator that moved or whose connection broke, then wait
/// the exponential retry backoff.
pub(super) async fn back_off_after_failure(inner: &Inner, e: &Error, what: &str, failures: u32) {
    tracing::debug!(group = %inner.settings.group_id, "{what} failed: {e}");
    // Connection failures reach the error callback from the pool; a refusal the member cannot
    // get past by rejoining (authorization, a fenced static member, a bad setting) does here.
    if e.code().is_some_and(rejoining_cannot_fix) {
        inner.consumer.cluster().events().report(e.clone());
    }
    if e.code().is_some_and(is_coordinator_error) || e.code().is_none() {
        drop_coordinator(inner);
    }
    let cfg = inner.consumer.cluster().config();
    tokio::time::sleep(crate::net::backoff(
        cfg.retry_backoff,
        cfg.retry_backoff_max,
        failures,
    ))
    .await;
}

/// The close of either protocol: auto-commit what was processed, then `on_revoked` for what
/// is still owned (the caller leaves the group its own way).
pub(super) async fn commit_and_revoke_on_close(inner: &Inner) {
    let owned = inner.membership.owned();
    if owned.is_empty() {
        return;
    }
    if inner.settings.auto_commit
        && let Err(e) = commit(inner, &inner.processed_of(&owned)).await
    {
        tracing::warn!(group = %inner.settings.group_id, "commit on close failed: {e}");
    }
    call_listener(inner, Event::Revoked, owned.iter().cloned().collect()).await;
}

/// The membership task is over: wake whoever waits in `wait_stopped`.
pub(super) fn mark_stopped(inner: &Inner) {
    drop_coordinator(inner);
    inner.membership.done.store(true, Ordering::SeqCst);
    inner.membership.stopped.notify_waiters();
}

pub(super) fn poll_expired(inner: &Inner) -> bool {
    lock(&inner.last_poll).elapsed() > inner.settings.max_poll_interval
}

pub(super) async fn wait(inner: &Inner, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = inner.wake.notified() => {}
    }
}

/// Partitions gone without a rebalance: no commit, `on_lost`.
pub(super) fn lose_all(inner: &Inner) {
    let owned = std::mem::take(&mut lock(&inner.membership.state).owned);
    if owned.is_empty() {
        return;
    }
    let list: Vec<(String, i32)> = owned.iter().cloned().collect();
    let refs: Vec<(&str, i32)> = list.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    inner.consumer.unassign(&refs);
    inner.forget_positions(&owned);
    // Queued, not awaited: the partitions are gone already.
    if let Some(l) = inner.listener() {
        drop(inner.callbacks.run(l, Event::Lost, list));
    }
}

/// Runs a listener callback on the callback thread and waits until it returned, at most
/// `max.poll.interval.ms`; heartbeats go on meanwhile (KIP-848: keep-alive heartbeats that
/// report no change) so a callback slower than the session timeout does not cost the
/// membership.
pub(super) async fn call_listener(inner: &Inner, event: Event, partitions: Vec<(String, i32)>) {
    let Some(l) = inner.listener() else {
        return;
    };
    let mut finished = inner.callbacks.run(l, event, partitions);
    let limit = tokio::time::sleep(inner.settings.max_poll_interval);
    tokio::pin!(limit);
    loop {
        tokio::select! {
            _ = &mut finished => return,
            () = &mut limit => {
                tracing::warn!(group = %inner.settings.group_id, ?event,
                    "the rebalance callback did not return within max.poll.interval.ms; the rebalance goes on without it");
                return;
            }
            () = tokio::time::sleep(inner.settings.heartbeat_interval) => {
                let sent = if inner.settings.consumer_protocol {
                    super::consumer_protocol::keep_alive(inner).await
                } else {
                    send_heartbeat(inner).await.map(drop)
                };
                if let Err(e) = sent {
                    tracing::debug!(group = %inner.settings.group_id, "heartbeat during a rebalance callback: {e}");
                }
            }
        }
    }
}

/// Orderly revocation: commit processed offsets (auto-commit), `on_revoked`, stop fetching.
pub(super) async fn revoke(inner: &Inner, parts: &Partitions) {
    if parts.is_empty() {
        return;
    }
    if inner.settings.auto_commit
        && let Err(e) = commit(inner, &inner.processed_of(parts)).await
    {
        tracing::warn!(group = %inner.settings.group_id, "commit on revoke failed: {e}");
    }
    let list: Vec<(String, i32)> = parts.iter().cloned().collect();
    call_listener(inner, Event::Revoked, list.clone()).await;
    let refs: Vec<(&str, i32)> = list.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    inner.consumer.unassign(&refs);
    inner.forget_positions(parts);
    lock(&inner.membership.state)
        .owned
        .retain(|k| !parts.contains(k));
}

async fn heartbeat(inner: &Inner) -> Result<()> {
    let code = send_heartbeat(inner).await?;
    handle_member_error(inner, code, "Heartbeat")
}

/// One Heartbeat request; the member-level error code it got back.
async fn send_heartbeat(inner: &Inner) -> Result<i16> {
    let conn = coordinator(inner).await?;
    let (generation, member_id) = inner.membership.generation();
    let mut req = HeartbeatRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.generation_id = generation;
    req.member_id = s(&member_id);
    req.group_instance_id = inner.settings.instance_id.as_deref().map(s);
    let resp = conn
        .request_timeout(&req, inner.settings.session_timeout)
        .await?;
    Ok(resp.error_code)
}

/// Reacts to a member-level error of any group request.
fn handle_member_error(inner: &Inner, code: i16, what: &str) -> Result<()> {
    match code {
        NONE => Ok(()),
        REBALANCE_IN_PROGRESS => {
            lock(&inner.membership.state).rejoin = true;
            Ok(())
        }
        UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | FENCED_INSTANCE_ID => {
            tracing::info!(group = %inner.settings.group_id, code, "{what}: membership lost; rejoining");
            lose_all(inner);
            let mut st = lock(&inner.membership.state);
            if code == UNKNOWN_MEMBER_ID {
                st.member_id.clear();
            }
            st.generation = -1;
            st.rejoin = true;
            Ok(())
        }
        other => Err(kafka_error(other, what)),
    }
}

/// One classic rebalance from this member's side: JoinGroup, the assignment (when leader),
/// SyncGroup, then taking on the partitions it got.
async fn join_and_sync(inner: &Inner) -> Result<()> {
    let conn = coordinator(inner).await?;
    let topics = lock(&inner.topics).clone();
    inner
        .consumer
        .cluster()
        .add_topics(topics.iter().map(String::as_str));
    let cooperative = assignor::is_cooperative(&inner.settings.strategies[0]);
    if !cooperative {
        // Eager protocols give everything back before rejoining.
        let owned = inner.membership.owned();
        revoke(inner, &owned).await;
    }
    let (generation, member_id) = inner.membership.generation();
    let subscription = own_subscription(inner, topics, generation);
    let join = join_group(inner, &conn, &subscription, member_id).await?;
    let joined = record_join(inner, &join);
    let assignments = if join.leader == join.member_id {
        leader_assign(inner, &joined.protocol_name, &join).await?
    } else {
        Vec::new()
    };
    let Some(assignment) = sync_group(inner, &conn, &joined, assignments).await? else {
        return Ok(());
    };
    let new = take_assignment(inner, &assignment, cooperative).await?;
    tracing::debug!(group = %inner.settings.group_id, generation = joined.generation,
        member = %joined.member_id, assigned = ?new, "joined");
    Ok(())
}

/// This member's JoinGroup metadata: its topics and (for cooperative assignors) what it owns
/// from `generation`.
fn own_subscription(inner: &Inner, topics: Vec<String>, generation: i32) -> Bytes {
    let owned = inner.membership.owned();
    let mut owned_by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
    for (t, p) in &owned {
        owned_by_topic.entry(t.clone()).or_default().push(*p);
    }
    Subscription {
        version: protocol::VERSION,
        topics,
        user_data: None,
        owned: owned_by_topic.into_iter().collect(),
        generation,
        rack: None,
    }
    .encode()
}

/// JoinGroup until the coordinator admits the member, offering every configured assignor.
/// Invariant: only MEMBER_ID_REQUIRED (KIP-394: the first join of a new member) is retried
/// here, with the id the coordinator handed out; any other error ends the round.
async fn join_group(
    inner: &Inner,
    conn: &Connection,
    subscription: &Bytes,
    mut member_id: String,
) -> Result<JoinGroupResponse> {
    let rebalance_timeout = inner.settings.max_poll_interval;
    loop {
        let mut req = JoinGroupRequest::default();
        req.group_id = GroupId(s(&inner.settings.group_id));
        req.session_timeout_ms = inner.settings.session_timeout.as_millis() as i32;
        req.rebalance_timeout_ms = rebalance_timeout.as_millis() as i32;
        req.member_id = s(&member_id);
        req.group_instance_id = inner.settings.instance_id.as_deref().map(s);
        req.protocol_type = s("consumer");
        req.protocols = inner
            .settings
            .strategies
            .iter()
            .map(|name| {
                let mut p = join_group_request::JoinGroupRequestProtocol::default();
                p.name = s(name);
                p.metadata = subscription.clone();
                p
            })
            .collect();
        let resp = conn
            .request_timeout(&req, rebalance_timeout + Duration::from_secs(5))
            .await?;
        match resp.error_code {
            NONE => return Ok(resp),
            MEMBER_ID_REQUIRED => {
                member_id = resp.member_id.to_string();
                lock(&inner.membership.state).member_id = member_id.clone();
            }
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | FENCED_INSTANCE_ID => {
                return handle_member_error(inner, resp.error_code, "JoinGroup")
                    .and(Err(kafka_error(resp.error_code, "JoinGroup")));
            }
            code => return Err(kafka_error(code, "JoinGroup")),
        }
    }
}

/// What JoinGroup made of this member.
struct Joined {
    generation: i32,
    member_id: String,
    /// The assignor the coordinator chose among those all members offered.
    protocol_name: String,
}

/// Stores the member id, generation and chosen assignor from a successful JoinGroup.
/// Invariant: from here on, requests of this member carry the new generation.
fn record_join(inner: &Inner, join: &JoinGroupResponse) -> Joined {
    let joined = Joined {
        generation: join.generation_id,
        member_id: join.member_id.to_string(),
        protocol_name: join.protocol_name.as_deref().unwrap_or("range").to_string(),
    };
    let mut st = lock(&inner.membership.state);
    st.member_id = joined.member_id.clone();
    st.generation = joined.generation;
    st.protocol = Some(joined.protocol_name.clone());
    joined
}

/// SyncGroup: hands in the leader's `assignments` (empty from followers) and gets this
/// member's own. `None`: the generation moved on meanwhile and the member rejoins.
async fn sync_group(
    inner: &Inner,
    conn: &Connection,
    joined: &Joined,
    assignments: Vec<sync_group_request::SyncGroupRequestAssignment>,
) -> Result<Option<Assignment>> {
    let mut req = SyncGroupRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.generation_id = joined.generation;
    req.member_id = s(&joined.member_id);
    req.group_instance_id = inner.settings.instance_id.as_deref().map(s);
    if conn.version(ApiKey::SyncGroup).unwrap_or(0) >= 5 {
        req.protocol_type = Some(s("consumer"));
        req.protocol_name = Some(s(&joined.protocol_name));
    }
    req.assignments = assignments;
    let rebalance_timeout = inner.settings.max_poll_interval;
    let resp = conn
        .request_timeout(&req, rebalance_timeout + Duration::from_secs(5))
        .await?;
    if resp.error_code != NONE {
        handle_member_error(inner, resp.error_code, "SyncGroup")?;
        lock(&inner.membership.state).rejoin = true;
        return Ok(None);
    }
    Ok(Some(Assignment::decode(&resp.assignment)?))
}

/// Moves from the owned partitions to `assignment`: revokes what is gone, starts what is new
/// at the group's committed offsets, and returns the new assignment.
/// Invariant: revocation (with its commit) happens before anything new is fetched; a
/// cooperative member that gave partitions up rejoins so they can move (KIP-429).
async fn take_assignment(
    inner: &Inner,
    assignment: &Assignment,
    cooperative: bool,
) -> Result<Partitions> {
    let new: Partitions = assignment
        .partitions
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
        .collect();
    let owned = inner.membership.owned();
    let revoked: Partitions = owned.difference(&new).cloned().collect();
    let added: Partitions = new.difference(&owned).cloned().collect();
    revoke(inner, &revoked).await;
    // Start the new partitions at the group's committed offsets.
    let added_list: Vec<(String, i32)> = added.iter().cloned().collect();
    let starts = committed_starts(inner, &added_list).await?;
    {
        let mut st = lock(&inner.membership.state);
        st.owned.extend(added.iter().cloned());
        st.rejoin = cooperative && !revoked.is_empty();
    }
    start_assigned(inner, &starts, &added_list).await?;
    Ok(new)
}

/// Starts newly assigned partitions and runs `on_assigned` for them. With a listener the
/// partitions are held until it returned: fetching starts at once, but no record of theirs
/// reaches the application before its callback (which may seek, pause or read committed
/// offsets first), as in the Java client, where the callback runs inside `poll`.
pub(super) async fn start_assigned(
    inner: &Inner,
    starts: &[(&str, i32, Offset)],
    added: &[(String, i32)],
) -> Result<()> {
    if inner.listener().is_none() {
        return inner.consumer.incremental_assign(starts);
    }
    inner.consumer.incremental_assign_held(starts)?;
    call_listener(inner, Event::Assigned, added.to_vec()).await;
    inner.consumer.release_held(added);
    Ok(())
}

/// The leader's job: decode subscriptions, learn partition counts, run the assignor.
async fn leader_assign(
    inner: &Inner,
    protocol_name: &str,
    join: &JoinGroupResponse,
) -> Result<Vec<sync_group_request::SyncGroupRequestAssignment>> {
    let mut members = Vec::new();
    let mut version = protocol::VERSION;
    for m in &join.members {
        let sub = Subscription::decode(&m.metadata)?;
        version = version.min(sub.version.max(0));
        members.push(MemberSubscription {
            member_id: m.member_id.to_string(),
            instance_id: m.group_instance_id.as_deref().map(str::to_owned),
            subscription: sub,
        });
    }
    let all_topics: BTreeSet<String> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().cloned())
        .collect();
    let cluster = inner.consumer.cluster();
    let extra: Vec<&str> = all_topics.iter().map(String::as_str).collect();
    let metadata = cluster.refresh(&extra).await?;
    let counts: HashMap<String, i32> = all_topics
        .iter()
        .filter_map(|t| metadata.partition_count(t).map(|n| (t.clone(), n as i32)))
        .collect();
    let result = assignor::assign(protocol_name, &members, &counts);
    Ok(result
        .into_iter()
        .map(|(member, parts)| {
            let mut a = sync_group_request::SyncGroupRequestAssignment::default();
            a.member_id = s(&member);
            a.assignment = Assignment {
                partitions: assignor::to_topic_partitions(&parts),
                user_data: None,
            }
            .encode(version);
            a
        })
        .collect())
}

async fn leave(inner: &Inner) {
    let Ok(conn) = coordinator(inner).await else {
        return;
    };
    let (_, member_id) = inner.membership.generation();
    if member_id.is_empty() {
        return;
    }
    let mut req = LeaveGroupRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    if conn.version(ApiKey::LeaveGroup).unwrap_or(0) >= 3 {
        let mut m = leave_group_request::MemberIdentity::default();
        m.member_id = s(&member_id);
        m.group_instance_id = inner.settings.instance_id.as_deref().map(s);
        req.members.push(m);
    } else {
        req.member_id = s(&member_id);
    }
    let timeout = inner.consumer.cluster().request_timeout();
    if let Err(e) = conn.request_timeout(&req, timeout).await {
        tracing::debug!(group = %inner.settings.group_id, "LeaveGroup failed: {e}");
    }
    let mut st = lock(&inner.membership.state);
    st.member_id.clear();
    st.generation = -1;
}

/// OffsetCommit in the current generation.
pub(crate) async fn commit(inner: &Inner, offsets: &[(String, i32, i64)]) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let conn = coordinator(inner).await?;
    let (generation, member_id) = inner.membership.generation();
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(&inner.settings.group_id));
    req.generation_id_or_member_epoch = generation;
    req.member_id = s(&member_id);
    if conn.version(ApiKey::OffsetCommit).unwrap_or(0) >= 7 {
        req.group_instance_id = inner.settings.instance_id.as_deref().map(s);
    }
    req.topics = protocol::offset_commit_topics(offsets);
    let resp = conn
        .request_timeout(&req, inner.consumer.cluster().request_timeout())
        .await?;
    for t in &resp.topics {
        for p in &t.partitions {
            if p.error_code != NONE {
                if matches!(
                    p.error_code,
                    UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | REBALANCE_IN_PROGRESS
                ) {
                    lock(&inner.membership.state).rejoin = true;
                }
                if is_coordinator_error(p.error_code) {
                    drop_coordinator(inner);
                }
                // A code this client does not know is not a lost connection: not retried.
                let mut e = Error::from_code(p.error_code)
                    .unwrap_or_else(|| {
                        Error::new(
                            ErrorKind::Protocol,
                            ErrorClass::Permanent,
                            format!(
                                "OffsetCommit answered with unknown error code {}",
                                p.error_code
                            ),
                        )
                    })
                    .with_partition(&t.name, p.partition_index);
                // A rebalance under way (or a KIP-848 epoch that just moved on): the same
                // commit succeeds once the member has caught up.
                if matches!(p.error_code, REBALANCE_IN_PROGRESS | STALE_MEMBER_EPOCH) {
                    e = e.with_class(ErrorClass::Retriable);
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Where newly owned partitions start: the group's committed offset, else
/// `auto.offset.reset` (`Offset::Default`).
pub(super) async fn committed_starts<'a>(
    inner: &Inner,
    added: &'a [(String, i32)],
) -> Result<Vec<(&'a str, i32, Offset)>> {
    let committed = fetch_committed(inner, added).await?;
    Ok(added
        .iter()
        .map(|(t, p)| {
            let at = committed
                .get(&(t.clone(), *p))
                .copied()
                .flatten()
                .map_or(Offset::Default, Offset::At);
            (t.as_str(), *p, at)
        })
        .collect())
}

/// OffsetFetch of the group's committed offsets.
pub(crate) async fn fetch_committed(
    inner: &Inner,
    partitions: &[(String, i32)],
) -> Result<HashMap<(String, i32), Option<i64>>> {
    // Retriable answers (a coordinator still loading or moving, offsets of an open transaction)
    // are retried within request.timeout.ms, as the Java client's committed() does: a fresh
    // cluster answers COORDINATOR_NOT_AVAILABLE to the first lookup.
    let deadline = Instant::now() + inner.consumer.cluster().request_timeout();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fetch_committed_once(inner, partitions).await {
            Err(e) if retriable_offset_fetch(&e) && Instant::now() < deadline => {
                tracing::debug!(group = %inner.settings.group_id, error = %e, "retrying OffsetFetch");
                tokio::time::sleep(inner.consumer.cluster().retry_backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

/// Whether an OffsetFetch failure may pass on retry. Kafka codes are judged by their own class
/// ([`kafka_error`] marks every group-loop code retriable, which an authorization failure is not).
fn retriable_offset_fetch(e: &Error) -> bool {
    match e.code() {
        Some(code) => Error::from_code(code).is_some_and(|k| k.is_retriable()),
        None => e.is_retriable(),
    }
}

async fn fetch_committed_once(
    inner: &Inner,
    partitions: &[(String, i32)],
) -> Result<HashMap<(String, i32), Option<i64>>> {
    let mut out = HashMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    let conn = coordinator(inner).await?;
    let version = conn.require_version(ApiKey::OffsetFetch)?;
    let req = build_offset_fetch(&inner.settings.group_id, version, partitions);
    let resp = conn
        .request_timeout(&req, inner.consumer.cluster().request_timeout())
        .await?;
    let mut put = |t: &str, p: i32, o: i64, code: i16| -> Result<()> {
        if code != NONE {
            if is_coordinator_error(code) {
                drop_coordinator(inner);
            }
            return Err(kafka_error(code, "OffsetFetch").with_partition(t, p));
        }
        out.insert((t.to_string(), p), (o >= 0).then_some(o));
        Ok(())
    };
    if version >= 8 {
        for g in &resp.groups {
            if g.error_code != NONE {
                return Err(kafka_error(g.error_code, "OffsetFetch"));
            }
            for t in &g.topics {
                for p in &t.partitions {
                    put(&t.name, p.partition_index, p.committed_offset, p.error_code)?;
                }
            }
        }
    } else {
        if resp.error_code != NONE {
            return Err(kafka_error(resp.error_code, "OffsetFetch"));
        }
        for t in &resp.topics {
            for p in &t.partitions {
                put(&t.name, p.partition_index, p.committed_offset, p.error_code)?;
            }
        }
    }
    Ok(out)
}

/// The OffsetFetch request for `partitions` of `group_id` at `version` (v8+ nests it in a
/// per-group list). It asks for stable offsets (v7+): pending transactional commits make the
/// coordinator answer with a retriable error instead of an offset that may still change.
fn build_offset_fetch(
    group_id: &str,
    version: i16,
    partitions: &[(String, i32)],
) -> OffsetFetchRequest {
    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (t, p) in partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    let mut req = OffsetFetchRequest::default();
    req.require_stable = version >= 7;
    let group = GroupId(s(group_id));
    if version >= 8 {
        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
        g.group_id = group;
        g.topics = Some(
            by_topic
                .iter()
                .map(|(t, ps)| {
                    let mut x = offset_fetch_request::OffsetFetchRequestTopics::default();
                    x.name = TopicName(s(t));
                    x.partition_indexes = ps.clone();
                    x
                })
                .collect(),
        );
        req.groups.push(g);
    } else {
        req.group_id = group;
        req.topics = Some(
            by_topic
                .iter()
                .map(|(t, ps)| {
                    let mut x = offset_fetch_request::OffsetFetchRequestTopic::default();
                    x.name = TopicName(s(t));
                    x.partition_indexes = ps.clone();
                    x
                })
                .collect(),
        );
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_retried_only_where_java_retries_it() {
        for code in [
            COORDINATOR_NOT_AVAILABLE,
            NOT_COORDINATOR,
            COORDINATOR_LOAD_IN_PROGRESS,
            REQUEST_TIMED_OUT,
        ] {
            let e = Error::from_code(code).unwrap();
            assert!(commit_goes_to_next_coordinator(&e), "{e}");
        }
        assert!(commit_goes_to_next_coordinator(&Error::network(
            "broker closed the connection"
        )));
        assert!(commit_goes_to_next_coordinator(&Error::timeout(
            "the broker did not answer"
        )));
        // REBALANCE_IN_PROGRESS and STALE_MEMBER_EPOCH have their own wait for the rejoin.
        for code in [
            ILLEGAL_GENERATION,
            UNKNOWN_MEMBER_ID,
            REBALANCE_IN_PROGRESS,
            FENCED_INSTANCE_ID,
            STALE_MEMBER_EPOCH,
            3,  // UNKNOWN_TOPIC_OR_PARTITION
            12, // OFFSET_METADATA_TOO_LARGE
            30, // GROUP_AUTHORIZATION_FAILED
        ] {
            let e = Error::from_code(code).unwrap();
            assert!(!commit_goes_to_next_coordinator(&e), "{e}");
            // Even where the group code marked it retriable (a rebalance under way).
            let e = e.with_class(ErrorClass::Retriable);
            assert!(!commit_goes_to_next_coordinator(&e), "{e}");
        }
        assert!(!commit_goes_to_next_coordinator(&Error::closed(
            "consumer closed"
        )));
        assert!(!commit_goes_to_next_coordinator(&Error::new(
            ErrorKind::Protocol,
            ErrorClass::Permanent,
            "unknown error code 999"
        )));
    }
}
