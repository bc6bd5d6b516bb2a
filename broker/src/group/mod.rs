//! The group coordinator: classic-protocol groups ([`classic`]), KIP-848 consumer groups
//! ([`consumer`]) and committed offsets ([`offsets`], durable through a [`storage`] backend). A
//! group id names one group of either type; an empty group of one type turns into the other
//! when a member of it arrives. A single node coordinates every group; in cluster mode a node
//! coordinates the groups of the `__consumer_offsets` partitions it leads (loaded with
//! [`GroupCoordinator::load`]), and membership is written too ([`snapshot`]). One mutex guards
//! all groups and the offset store: group operations are short and never wait on I/O other than
//! an append to the offsets log (or partition).

pub mod classic;
pub mod configs;
pub mod consumer;
pub mod consumer_protocol;
pub mod offsets;
pub mod snapshot;
pub mod storage;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::{BrokerProperties, FsyncPolicy};
use classic::{ClassicGroup, GroupState, JoinRequest, JoinResult, Reply, SyncResult};
use configs::{GroupConfigEdit, GroupConfigSource, GroupConfigs};
use consumer::{ConsumerGroup, ConsumerSettings, HeartbeatIn, HeartbeatOut};
use offsets::{Committed, FileStore, OffsetMap};
use snapshot::{GroupKind, GroupSnapshot};
use storage::{GroupStorage, GroupWrite, Pending};

/// Kafka error codes of the group APIs.
pub mod codes {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub const INVALID_REQUEST: i16 = 42;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const FENCED_INSTANCE_ID: i16 = 82;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    pub const FENCED_MEMBER_EPOCH: i16 = 110;
    pub const UNRELEASED_INSTANCE_ID: i16 = 111;
    pub const UNSUPPORTED_ASSIGNOR: i16 = 112;
    pub const STALE_MEMBER_EPOCH: i16 = 113;
    pub const INVALID_REGULAR_EXPRESSION: i16 = 130;
}

/// Kafka's `offset.metadata.max.bytes` default.
pub(crate) const MAX_OFFSET_METADATA: usize = 4096;
/// How often the timer looks at sessions and rebalance deadlines.
pub const TICK: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Inner {
    groups: HashMap<String, ClassicGroup>,
    consumer_groups: HashMap<String, ConsumerGroup>,
    offsets: OffsetMap,
    storage: Box<dyn GroupStorage>,
    /// The membership last written per group (only when `storage` keeps membership), so that
    /// only changes are written.
    written: HashMap<String, GroupSnapshot>,
    configs: GroupConfigs,
}

impl Inner {
    /// Writes `group_id`'s membership if it changed since it was last written (a classic group
    /// mid-rebalance keeps its last Stable record). A failed write is logged: the group goes on
    /// here, and a move loses only what was not written (members then rejoin).
    fn persist_membership(&mut self, group_id: &str) {
        if !self.storage.keeps_membership() {
            return;
        }
        let now = match (
            self.consumer_groups.get(group_id),
            self.groups.get(group_id),
        ) {
            (Some(g), _) => Some(GroupSnapshot::new(GroupKind::Consumer(g.snapshot()))),
            (None, Some(g)) => match g.snapshot() {
                Some(s) => Some(GroupSnapshot::new(GroupKind::Classic(s))),
                None => return,
            },
            (None, None) => None,
        };
        if self.written.get(group_id) == now.as_ref() {
            return;
        }
        let written = self.storage.write(
            group_id,
            &[GroupWrite::Membership(now.as_ref())],
            &self.offsets,
        );
        if let Err(e) = written {
            tracing::warn!(
                group = group_id,
                "writing the group's membership failed: {}",
                e.message
            );
        }
        match now {
            Some(s) => self.written.insert(group_id.to_string(), s),
            None => self.written.remove(group_id),
        };
    }

    /// Applies offset changes of one group, then writes them.
    fn write_offsets(
        &mut self,
        group_id: &str,
        changes: &[(String, i32, Option<Committed>)],
    ) -> Result<Option<Pending>, storage::WriteError> {
        for (topic, partition, c) in changes {
            self.offsets.apply(group_id, topic, *partition, c.clone());
        }
        self.storage
            .write(group_id, &GroupWrite::offsets(changes), &self.offsets)
    }
}

/// Groups replayed from a partition of `__consumer_offsets` (cluster mode), for
/// [`GroupCoordinator::load`]: records applied in log order, a later one replacing an earlier.
#[derive(Debug, Default)]
pub struct Replayed {
    offsets: OffsetMap,
    membership: HashMap<String, GroupSnapshot>,
}

impl Replayed {
    pub fn offset(&mut self, group: &str, topic: &str, partition: i32, c: Option<Committed>) {
        self.offsets.apply(group, topic, partition, c);
    }

    pub fn membership(&mut self, group: &str, snapshot: Option<GroupSnapshot>) {
        match snapshot {
            Some(s) => self.membership.insert(group.to_string(), s),
            None => self.membership.remove(group),
        };
    }
}

#[derive(Debug)]
pub struct GroupCoordinator {
    inner: Mutex<Inner>,
    session_timeout_range_ms: (i64, i64),
    initial_delay: Duration,
    consumer: ConsumerSettings,
    props: BrokerProperties,
}

/// A KIP-848 group as ConsumerGroupDescribe reports it (assignments by topic id).
#[derive(Debug, Clone)]
pub struct ConsumerGroupDescription {
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<consumer::ConsumerMember>,
    pub targets: HashMap<String, consumer::TopicAssignment>,
}

/// A member as DescribeGroups reports it.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// One partition's outcome in OffsetFetch.
#[derive(Debug, Clone)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<Committed>,
}

impl GroupCoordinator {
    pub fn open(
        data_dir: &Path,
        props: &BrokerProperties,
        fsync: FsyncPolicy,
    ) -> std::io::Result<Self> {
        let (store, offsets) = FileStore::open(data_dir, fsync)?;
        Self::with_storage(data_dir, props, Box::new(store), offsets)
    }

    /// A coordinator over `storage` that already holds `offsets` (cluster mode: none until a
    /// partition is loaded).
    pub fn with_storage(
        data_dir: &Path,
        props: &BrokerProperties,
        storage: Box<dyn GroupStorage>,
        offsets: OffsetMap,
    ) -> std::io::Result<Self> {
        Ok(Self {
            inner: Mutex::new(Inner {
                groups: HashMap::new(),
                consumer_groups: HashMap::new(),
                offsets,
                storage,
                written: HashMap::new(),
                configs: GroupConfigs::open(&data_dir.join("__groups"))?,
            }),
            session_timeout_range_ms: props.group_session_timeout_range_ms(),
            initial_delay: props.group_initial_rebalance_delay(),
            consumer: ConsumerSettings {
                session_timeout: props.group_consumer_session_timeout(),
                heartbeat_interval: props.group_consumer_heartbeat_interval(),
                assignors: props.group_consumer_assignors(),
            },
            props: props.clone(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn join(&self, group_id: &str, req: JoinRequest) -> Reply<JoinResult> {
        if group_id.is_empty() {
            return Reply::Now(JoinResult::error(codes::INVALID_GROUP_ID, &req.member_id));
        }
        let session_ms = req.session_timeout.as_millis() as i64;
        let (min, max) = self.session_timeout_range_ms;
        if session_ms < min || session_ms > max {
            return Reply::Now(JoinResult::error(
                codes::INVALID_SESSION_TIMEOUT,
                &req.member_id,
            ));
        }
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.consumer_groups.get(group_id) {
            Some(g) if !g.members.is_empty() => {
                return Reply::Now(JoinResult::error(
                    codes::INCONSISTENT_GROUP_PROTOCOL,
                    &req.member_id,
                ));
            }
            Some(_) => {
                inner.consumer_groups.remove(group_id);
            }
            None => {}
        }
        let group = inner
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| ClassicGroup::new(group_id, now));
        let prefix = req
            .instance_id
            .clone()
            .unwrap_or_else(|| req.client_id.clone());
        let reply = group.join(req, now, self.initial_delay, || {
            format!("{prefix}-{}", crate::time::random_uuid())
        });
        inner.persist_membership(group_id);
        reply
    }

    /// The consumer-group settings of one group: the coordinator's, with the group's own
    /// `consumer.*` configs over them.
    fn consumer_settings(&self, inner: &Inner, group_id: &str) -> ConsumerSettings {
        let mut s = self.consumer.clone();
        if let Some(t) = inner
            .configs
            .millis(group_id, "consumer.session.timeout.ms")
        {
            s.session_timeout = t;
        }
        if let Some(t) = inner
            .configs
            .millis(group_id, "consumer.heartbeat.interval.ms")
        {
            s.heartbeat_interval = t;
        }
        s
    }

    /// The heartbeat interval members of a consumer group are told to use.
    pub fn consumer_heartbeat_interval(&self, group_id: &str) -> Duration {
        let inner = self.lock();
        self.consumer_settings(&inner, group_id).heartbeat_interval
    }

    /// DescribeConfigs of a group resource: every group config with its value and source.
    pub fn describe_configs(
        &self,
        group_id: &str,
        keys: Option<&[String]>,
    ) -> Vec<(&'static str, String, GroupConfigSource)> {
        self.lock().configs.describe(&self.props, group_id, keys)
    }

    /// A group's own setting of a group config, if it has one.
    pub fn group_config(&self, group_id: &str, name: &str) -> Option<String> {
        self.lock()
            .configs
            .value(group_id, name)
            .map(str::to_string)
    }

    /// Whether `group_id` names a classic or consumer group (or a group with committed
    /// offsets): a share group may not take its id.
    pub fn knows(&self, group_id: &str) -> bool {
        let inner = self.lock();
        inner.groups.contains_key(group_id)
            || inner.consumer_groups.contains_key(group_id)
            || inner.offsets.group(group_id).is_some()
    }

    /// IncrementalAlterConfigs of a group resource (SET or DELETE per key, all or none).
    pub fn alter_configs(
        &self,
        group_id: &str,
        edits: Vec<GroupConfigEdit>,
        validate_only: bool,
    ) -> Result<(), String> {
        self.lock()
            .configs
            .alter(&self.props, group_id, edits, validate_only)
    }

    /// ConsumerGroupHeartbeat. `topics` resolves a topic name to (id, partition count).
    pub fn consumer_heartbeat(
        &self,
        group_id: &str,
        req: HeartbeatIn,
        topics: &dyn Fn(&str) -> Option<(uuid::Uuid, i32)>,
        topic_names: &dyn Fn() -> Vec<String>,
    ) -> HeartbeatOut {
        if group_id.is_empty() {
            return HeartbeatOut::error(codes::INVALID_GROUP_ID, "the group id is empty");
        }
        let mut inner = self.lock();
        match inner.groups.get(group_id) {
            Some(g) if g.state != GroupState::Empty => {
                return HeartbeatOut::error(
                    codes::GROUP_ID_NOT_FOUND,
                    format!("group {group_id} is a classic group with members"),
                );
            }
            Some(_) => {
                inner.groups.remove(group_id);
            }
            None => {}
        }
        if req.member_epoch != 0 && !inner.consumer_groups.contains_key(group_id) {
            return HeartbeatOut::error(
                codes::UNKNOWN_MEMBER_ID,
                format!("group {group_id} has no member {}", req.member_id),
            );
        }
        let settings = self.consumer_settings(&inner, group_id);
        let group = inner
            .consumer_groups
            .entry(group_id.to_string())
            .or_insert_with(|| ConsumerGroup::new(group_id));
        let out = group.heartbeat(req, Instant::now(), &settings, topics, topic_names, || {
            crate::time::random_uuid().to_string()
        });
        inner.persist_membership(group_id);
        out
    }

    /// ConsumerGroupDescribe for one group: None if it is not a consumer group.
    pub fn consumer_describe(&self, group_id: &str) -> Option<ConsumerGroupDescription> {
        let inner = self.lock();
        let g = inner.consumer_groups.get(group_id)?;
        Some(ConsumerGroupDescription {
            state: g.state(),
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            assignor: g.assignor.clone(),
            members: g.members.values().cloned().collect(),
            targets: g.target.clone(),
        })
    }

    /// Whether the group is a classic group with members (DescribeGroups' subject).
    pub fn is_consumer_group(&self, group_id: &str) -> bool {
        self.lock().consumer_groups.contains_key(group_id)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncResult> {
        let mut inner = self.lock();
        let reply = match inner.groups.get_mut(group_id) {
            Some(g) => g.sync(
                member_id,
                instance_id,
                generation,
                protocol_type,
                protocol_name,
                assignments,
                Instant::now(),
            ),
            None => Reply::Now(SyncResult::error(codes::UNKNOWN_MEMBER_ID)),
        };
        inner.persist_membership(group_id);
        reply
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        let mut inner = self.lock();
        match inner.groups.get_mut(group_id) {
            Some(g) => g.heartbeat(member_id, instance_id, generation, Instant::now()),
            None => codes::UNKNOWN_MEMBER_ID,
        }
    }

    /// Removes members (member id, instance id); returns each one's outcome.
    pub fn leave(
        &self,
        group_id: &str,
        members: Vec<(String, Option<String>)>,
    ) -> Result<Vec<(String, Option<String>, i16)>, i16> {
        let mut inner = self.lock();
        let Some(g) = inner.groups.get_mut(group_id) else {
            return Err(codes::UNKNOWN_MEMBER_ID);
        };
        let now = Instant::now();
        let results = members
            .into_iter()
            .map(|(member, instance)| {
                let (id, err) = g.leave(&member, instance.as_deref(), now, self.initial_delay);
                (id, instance, err)
            })
            .collect();
        inner.persist_membership(group_id);
        Ok(results)
    }

    /// OffsetCommit: validates the member, then stores every valid partition's offset in one
    /// append. Returns (topic, partition, error) per requested partition, and what to wait for
    /// before answering (cluster mode: replication), whose error replaces the NONE codes.
    #[allow(clippy::type_complexity)]
    pub fn commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        offsets: Vec<(String, i32, Committed)>,
    ) -> (Vec<(String, i32, i16)>, Option<Pending>) {
        let all = |offsets: Vec<(String, i32, Committed)>, err| {
            (
                offsets.into_iter().map(|(t, p, _)| (t, p, err)).collect(),
                None,
            )
        };
        if group_id.is_empty() {
            return all(offsets, codes::INVALID_GROUP_ID);
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        let err = match (
            inner.consumer_groups.get(group_id),
            inner.groups.get_mut(group_id),
        ) {
            (Some(g), _) => g.check_member_epoch(member_id, generation, true),
            (None, Some(g)) => g.check_commit(member_id, instance_id, generation, now),
            (None, None) if generation < 0 => codes::NONE,
            (None, None) => codes::ILLEGAL_GENERATION,
        };
        if err != codes::NONE {
            return all(offsets, err);
        }
        let mut results = Vec::with_capacity(offsets.len());
        let mut accepted = Vec::with_capacity(offsets.len());
        for (topic, partition, c) in offsets {
            if c.metadata
                .as_ref()
                .is_some_and(|m| m.len() > MAX_OFFSET_METADATA)
            {
                results.push((topic, partition, codes::OFFSET_METADATA_TOO_LARGE));
            } else {
                results.push((topic.clone(), partition, codes::NONE));
                accepted.push((topic, partition, Some(c)));
            }
        }
        match inner.write_offsets(group_id, &accepted) {
            Ok(pending) => (results, pending),
            Err(e) => {
                tracing::error!(
                    group = group_id,
                    "writing committed offsets failed: {}",
                    e.message
                );
                for r in results.iter_mut().filter(|r| r.2 == codes::NONE) {
                    r.2 = e.code;
                }
                (results, None)
            }
        }
    }

    /// TxnOffsetCommit's group check (KIP-447): a producer that names the consumer's member
    /// and generation is refused when that member is gone or its generation is old. A request
    /// without them (an older client) is not checked.
    pub fn check_txn_commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        if group_id.is_empty() {
            return codes::INVALID_GROUP_ID;
        }
        if generation < 0 && member_id.is_empty() {
            return codes::NONE;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        match (
            inner.consumer_groups.get(group_id),
            inner.groups.get_mut(group_id),
        ) {
            (Some(g), _) => g.check_member_epoch(member_id, generation, true),
            (None, Some(g)) => g.check_commit(member_id, instance_id, generation, now),
            (None, None) => codes::NONE,
        }
    }

    /// Stores offsets a committed transaction carried (already checked by TxnOffsetCommit).
    pub fn commit_transactional(
        &self,
        group_id: &str,
        offsets: Vec<(String, i32, Committed)>,
    ) -> std::io::Result<()> {
        let changes: Vec<_> = offsets
            .into_iter()
            .map(|(t, p, c)| (t, p, Some(c)))
            .collect();
        // Transactions are refused in cluster mode: this is the single node's file, durable
        // on return.
        self.lock()
            .write_offsets(group_id, &changes)
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.message))
    }

    /// OffsetFetch for one group: the requested partitions, or every committed one.
    /// With `member` (OffsetFetch v9 from a consumer-group member), the member and its epoch
    /// are checked first.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<FetchedOffset>, i16> {
        let inner = self.lock();
        // As Kafka: an unknown group has no committed offsets, whoever asks (a member of a
        // group the coordinator forgot in a restart rejoins via its heartbeat).
        if let Some((member_id, epoch)) = member
            && let Some(g) = inner.consumer_groups.get(group_id)
        {
            let err = g.check_member_epoch(member_id, epoch, false);
            if err != codes::NONE {
                return Err(err);
            }
        }
        let committed = inner.offsets.group(group_id);
        Ok(match partitions {
            Some(topics) => topics
                .into_iter()
                .flat_map(|(topic, parts)| parts.into_iter().map(move |p| (topic.clone(), p)))
                .map(|(topic, partition)| FetchedOffset {
                    committed: committed
                        .and_then(|g| g.get(&(topic.clone(), partition)))
                        .cloned(),
                    topic,
                    partition,
                })
                .collect(),
            None => committed
                .into_iter()
                .flatten()
                .map(|((topic, partition), c)| FetchedOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    committed: Some(c.clone()),
                })
                .collect(),
        })
    }

    /// OffsetDelete: refused for topics the group's members subscribe to.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<(String, i32, i16)>, i16> {
        let mut inner = self.lock();
        let consumer_topics = inner
            .consumer_groups
            .get(group_id)
            .filter(|g| !g.members.is_empty())
            .map(ConsumerGroup::subscribed_topics);
        let subscribed = match inner.groups.get(group_id) {
            _ if consumer_topics.is_some() => consumer_topics.expect("checked"),
            Some(g) if g.state != GroupState::Empty => {
                if g.protocol_type.as_deref() != Some("consumer") {
                    return Err(codes::NON_EMPTY_GROUP);
                }
                g.subscribed_topics()
            }
            Some(_) => Vec::new(),
            None if inner.offsets.group(group_id).is_some() => Vec::new(),
            None => return Err(codes::GROUP_ID_NOT_FOUND),
        };
        let (refused, deletable): (Vec<_>, Vec<_>) = partitions
            .into_iter()
            .partition(|(t, _)| subscribed.contains(t));
        let mut results: Vec<(String, i32, i16)> = refused
            .into_iter()
            .map(|(t, p)| (t, p, codes::GROUP_SUBSCRIBED_TO_TOPIC))
            .collect();
        let tombstones: Vec<_> = deletable
            .iter()
            .map(|(t, p)| (t.clone(), *p, None))
            .collect();
        let err = match inner.write_offsets(group_id, &tombstones) {
            Ok(_) => codes::NONE,
            Err(e) => {
                tracing::error!(
                    group = group_id,
                    "deleting committed offsets failed: {}",
                    e.message
                );
                e.code
            }
        };
        results.extend(deletable.into_iter().map(|(t, p)| (t, p, err)));
        Ok(results)
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let inner = self.lock();
        match inner.groups.get(group_id) {
            Some(g) => {
                let protocol = g.protocol.clone().unwrap_or_default();
                Some(GroupDescription {
                    state: g.state.name(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    members: g
                        .members
                        .values()
                        .map(|m| MemberDescription {
                            member_id: m.id.clone(),
                            instance_id: m.instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            metadata: m.metadata(&protocol),
                            assignment: m.assignment.clone(),
                        })
                        .collect(),
                    protocol,
                })
            }
            None if inner.offsets.group(group_id).is_some() => Some(GroupDescription {
                state: GroupState::Empty.name(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            }),
            None => None,
        }
    }

    /// (group id, protocol type, state, group type) of every group, including groups that
    /// only have committed offsets (classic and Empty, as after a restart).
    pub fn list(&self) -> Vec<(String, String, &'static str, &'static str)> {
        let inner = self.lock();
        let mut out: Vec<_> = inner
            .groups
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state.name(),
                    "classic",
                )
            })
            .collect();
        for g in inner.consumer_groups.values() {
            out.push((g.id.clone(), "consumer".to_string(), g.state(), "consumer"));
        }
        for id in inner.offsets.group_ids() {
            if !inner.groups.contains_key(id) && !inner.consumer_groups.contains_key(id) {
                out.push((
                    id.to_string(),
                    String::new(),
                    GroupState::Empty.name(),
                    "classic",
                ));
            }
        }
        out.sort();
        out
    }

    /// DeleteGroups for one group: only an Empty group (its offsets go too, as tombstones).
    pub fn delete_group(&self, group_id: &str) -> i16 {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let known = match (
            inner.consumer_groups.get(group_id),
            inner.groups.get(group_id),
        ) {
            (Some(g), _) if !g.members.is_empty() => return codes::NON_EMPTY_GROUP,
            (None, Some(g)) if g.state != GroupState::Empty => return codes::NON_EMPTY_GROUP,
            (Some(_), _) | (None, Some(_)) => true,
            (None, None) => inner.offsets.group(group_id).is_some(),
        };
        if !known {
            return codes::GROUP_ID_NOT_FOUND;
        }
        let tombstones: Vec<_> = inner
            .offsets
            .group(group_id)
            .into_iter()
            .flat_map(|g| g.keys())
            .map(|(t, p)| (t.clone(), *p, None))
            .collect();
        if let Err(e) = inner.write_offsets(group_id, &tombstones) {
            tracing::error!(
                group = group_id,
                "deleting a group's offsets failed: {}",
                e.message
            );
            return e.code;
        }
        inner.consumer_groups.remove(group_id);
        inner.groups.remove(group_id);
        inner.persist_membership(group_id);
        codes::NONE
    }

    /// Cluster mode: takes up the groups of a partition of `__consumer_offsets` this node now
    /// leads. Members' sessions start now.
    pub fn load(&self, replayed: Replayed) {
        let now = Instant::now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.offsets.extend(replayed.offsets);
        for (id, s) in replayed.membership {
            inner.groups.remove(&id);
            inner.consumer_groups.remove(&id);
            match s.group.clone() {
                GroupKind::Classic(c) => {
                    inner
                        .groups
                        .insert(id.clone(), ClassicGroup::restore(&id, c, now));
                }
                GroupKind::Consumer(c) => {
                    let settings = self.consumer_settings(inner, &id);
                    inner
                        .consumer_groups
                        .insert(id.clone(), ConsumerGroup::restore(&id, c, now, &settings));
                }
            }
            inner.written.insert(id, s);
        }
    }

    /// Cluster mode: forgets the groups `gone` selects (this node no longer leads their
    /// partition). Requests parked on them are answered as if the group went away.
    pub fn unload(&self, gone: impl Fn(&str) -> bool) {
        let mut inner = self.lock();
        inner.groups.retain(|id, _| !gone(id));
        inner.consumer_groups.retain(|id, _| !gone(id));
        inner.written.retain(|id, _| !gone(id));
        inner.offsets.retain(|id| !gone(id));
    }

    /// Session expiry and the join-phase and sync-phase deadlines (the broker's timer).
    pub fn tick(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        for g in inner.groups.values_mut() {
            g.tick(now, self.initial_delay);
        }
        for g in inner.consumer_groups.values_mut() {
            g.tick(now);
        }
        if inner.storage.keeps_membership() {
            let ids: Vec<String> = inner
                .groups
                .keys()
                .chain(inner.consumer_groups.keys())
                .cloned()
                .collect();
            for id in ids {
                inner.persist_membership(&id);
            }
        }
    }
}
