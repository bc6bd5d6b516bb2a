//! The share-group coordinator (KIP-932, "queues for Kafka"): share-group membership
//! (ShareGroupHeartbeat; every member is assigned every partition of the topics it subscribes
//! to, so any number of members share a partition), share sessions (ShareFetch /
//! ShareAcknowledge epochs), and per group and partition the [`partition::SharePartition`] that
//! hands records out under acquisition locks.
//!
//! One mutex (`ShareCoordinator::inner`) guards everything here; it is never held while another
//! lock is taken (callers read the partition log and the group configs before or after). The
//! share-partition states are written to `DATA/__share/state.json` (whole, atomically) by the
//! timer when they changed, at most once per tick, and read back on start: a restart keeps every
//! acknowledgement older than one tick, and records acquired at the time become available again
//! with their delivery counts (at-least-once, as in Kafka after a lock times out).

pub mod partition;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::BrokerProperties;
use crate::log::index::write_file_atomically;
use partition::{Acquired, BatchSpan, Limits, SharePartition};

/// Kafka error codes of the share APIs.
pub mod codes {
    pub const NONE: i16 = 0;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_REQUEST: i16 = 42;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub const FENCED_MEMBER_EPOCH: i16 = 110;
    pub const SHARE_SESSION_NOT_FOUND: i16 = 122;
    pub const INVALID_SHARE_SESSION_EPOCH: i16 = 123;
    pub const SHARE_SESSION_LIMIT_REACHED: i16 = 133;
}

/// How often the timer expires members and locks and writes the state file.
pub const TICK: Duration = Duration::from_millis(250);

/// A topic partition by topic id, as the share APIs name them.
pub type TopicPartition = (Uuid, i32);

/// One group's effective settings: the broker's `group.share.*` with the group's `share.*`
/// configs over them.
#[derive(Debug, Clone, Copy)]
pub struct ShareSettings {
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub limits: Limits,
    /// `share.auto.offset.reset=earliest`: a new share-partition starts at the log start
    /// (else at the high watermark).
    pub earliest: bool,
}

/// A member of a share group.
#[derive(Debug, Clone)]
pub struct ShareMember {
    pub id: String,
    pub epoch: i32,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: Vec<String>,
    pub assigned: BTreeMap<Uuid, Vec<i32>>,
    expires: Instant,
}

#[derive(Debug, Default)]
struct ShareGroup {
    epoch: i32,
    members: BTreeMap<String, ShareMember>,
    partitions: HashMap<TopicPartition, SharePartition>,
    /// The limits its share-partitions were last used with (the timer expires locks with them).
    limits: Option<Limits>,
}

#[derive(Debug)]
struct Session {
    next_epoch: i32,
    partitions: BTreeSet<TopicPartition>,
}

#[derive(Debug, Default)]
struct Inner {
    groups: HashMap<String, ShareGroup>,
    sessions: HashMap<(String, String), Session>,
    dirty: bool,
}

#[derive(Debug)]
pub struct ShareCoordinator {
    inner: Mutex<Inner>,
    /// Woken when records become available again (released, lock expired, member gone), so
    /// waiting ShareFetch requests look again.
    pub available: Notify,
    path: PathBuf,
    max_sessions: usize,
    /// `group.share.max.size`: members one share group accepts.
    max_members: usize,
}

/// A ShareGroupHeartbeat, in the coordinator's terms.
#[derive(Debug, Clone)]
pub struct HeartbeatIn {
    pub member_id: String,
    pub member_epoch: i32,
    pub rack_id: Option<String>,
    pub subscribed: Option<Vec<String>>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, Default)]
pub struct HeartbeatOut {
    pub error: i16,
    pub message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    /// Sent when the member's assignment changed (and on joining).
    pub assignment: Option<BTreeMap<Uuid, Vec<i32>>>,
}

impl HeartbeatOut {
    fn error(code: i16, message: impl Into<String>) -> Self {
        Self {
            error: code,
            message: Some(message.into()),
            member_epoch: -1,
            ..Self::default()
        }
    }
}

/// A share group as ShareGroupDescribe reports it.
#[derive(Debug, Clone)]
pub struct ShareGroupDescription {
    pub state: &'static str,
    pub epoch: i32,
    pub members: Vec<ShareMember>,
}

/// The state file: per group, per partition its SPSO and run-length-encoded window.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    groups: BTreeMap<String, Vec<PartitionRecord>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PartitionRecord {
    /// The topic id, hyphenated.
    topic_id: String,
    partition: i32,
    start: i64,
    runs: Vec<(u8, u16, u32)>,
}

impl ShareCoordinator {
    /// Loads `data_dir/__share/state.json` (missing: no share state yet).
    pub fn open(data_dir: &Path, props: &BrokerProperties) -> io::Result<Self> {
        let dir = data_dir.join("__share");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("state.json");
        let max_locks = max_record_locks(props);
        let mut inner = Inner::default();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let file: StateFile = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                for (id, parts) in file.groups {
                    let g = inner.groups.entry(id).or_default();
                    for p in parts {
                        let topic_id = Uuid::parse_str(&p.topic_id).map_err(|e| {
                            io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("{}: topic id {:?}: {e}", path.display(), p.topic_id),
                            )
                        })?;
                        g.partitions.insert(
                            (topic_id, p.partition),
                            SharePartition::from_runs(p.start, &p.runs, max_locks),
                        );
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Self {
            inner: Mutex::new(inner),
            available: Notify::new(),
            path,
            max_sessions: props.long("group.share.max.share.sessions").max(1) as usize,
            max_members: props.long("group.share.max.size").max(1) as usize,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a share group of this id exists.
    pub fn exists(&self, group_id: &str) -> bool {
        self.lock().groups.contains_key(group_id)
    }

    /// ShareGroupHeartbeat. `topics` resolves a topic name to (id, partition count).
    pub fn heartbeat(
        &self,
        group_id: &str,
        req: HeartbeatIn,
        settings: &ShareSettings,
        topics: &dyn Fn(&str) -> Option<(Uuid, i32)>,
    ) -> HeartbeatOut {
        if group_id.is_empty() {
            return HeartbeatOut::error(codes::INVALID_GROUP_ID, "the group id is empty");
        }
        if req.member_id.is_empty() || req.member_id.len() > 255 {
            return HeartbeatOut::error(
                codes::INVALID_REQUEST,
                "the member id must be set by the client (1 to 255 bytes)",
            );
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        if req.member_epoch == -1 {
            let left = inner
                .groups
                .get_mut(group_id)
                .and_then(|g| g.members.remove(&req.member_id))
                .is_some();
            if left {
                self.member_gone(inner, group_id, &req.member_id, &settings.limits);
            }
            return HeartbeatOut {
                member_id: Some(req.member_id),
                member_epoch: -1,
                ..HeartbeatOut::default()
            };
        }
        let group = match (req.member_epoch, inner.groups.get_mut(group_id)) {
            (0, _) => inner.groups.entry(group_id.to_string()).or_default(),
            (_, Some(g)) => g,
            (_, None) => {
                return HeartbeatOut::error(
                    codes::UNKNOWN_MEMBER_ID,
                    format!("share group {group_id} has no member {}", req.member_id),
                );
            }
        };
        group.limits = Some(settings.limits);
        let joining = req.member_epoch == 0;
        let full = group.members.len() >= self.max_members;
        let member = match group.members.get_mut(&req.member_id) {
            Some(m) if !joining && m.epoch != req.member_epoch => {
                return HeartbeatOut::error(
                    codes::FENCED_MEMBER_EPOCH,
                    format!(
                        "member {} is at epoch {}, the heartbeat says {}",
                        req.member_id, m.epoch, req.member_epoch
                    ),
                );
            }
            Some(m) => m,
            None if !joining => {
                return HeartbeatOut::error(
                    codes::UNKNOWN_MEMBER_ID,
                    format!("share group {group_id} has no member {}", req.member_id),
                );
            }
            None if full => {
                return HeartbeatOut::error(
                    codes::GROUP_MAX_SIZE_REACHED,
                    format!(
                        "share group {group_id} has {} members (group.share.max.size)",
                        group.members.len()
                    ),
                );
            }
            None => {
                let Some(subscribed) = req.subscribed.clone().filter(|s| !s.is_empty()) else {
                    return HeartbeatOut::error(
                        codes::INVALID_REQUEST,
                        "a joining member must name the topics it subscribes to",
                    );
                };
                group.members.insert(
                    req.member_id.clone(),
                    ShareMember {
                        id: req.member_id.clone(),
                        epoch: 0,
                        rack_id: None,
                        client_id: String::new(),
                        client_host: String::new(),
                        subscribed,
                        assigned: BTreeMap::new(),
                        expires: now,
                    },
                );
                group.members.get_mut(&req.member_id).expect("inserted")
            }
        };
        if let Some(s) = req.subscribed {
            member.subscribed = s;
        }
        member.rack_id = req.rack_id;
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        member.expires = now + settings.session_timeout;
        // Every partition of every subscribed topic that exists (Kafka's simple assignor with
        // one member per partition is a special case: any member may consume any partition).
        let target: BTreeMap<Uuid, Vec<i32>> = member
            .subscribed
            .iter()
            .filter_map(|t| topics(t))
            .map(|(id, n)| (id, (0..n).collect()))
            .collect();
        let changed = target != member.assigned || joining;
        if changed {
            group.epoch += 1;
            let epoch = group.epoch;
            let member = group.members.get_mut(&req.member_id).expect("present");
            member.assigned = target;
            member.epoch = epoch;
        }
        let member = &group.members[&req.member_id];
        HeartbeatOut {
            error: codes::NONE,
            message: None,
            member_id: Some(member.id.clone()),
            member_epoch: member.epoch,
            assignment: changed.then(|| member.assigned.clone()),
        }
    }

    /// ShareGroupDescribe of one group.
    pub fn describe(&self, group_id: &str) -> Option<ShareGroupDescription> {
        let inner = self.lock();
        let g = inner.groups.get(group_id)?;
        Some(ShareGroupDescription {
            state: state_name(g),
            epoch: g.epoch,
            members: g.members.values().cloned().collect(),
        })
    }

    /// (group id, state) of every share group.
    pub fn list(&self) -> Vec<(String, &'static str)> {
        let inner = self.lock();
        let mut out: Vec<_> = inner
            .groups
            .iter()
            .map(|(id, g)| (id.clone(), state_name(g)))
            .collect();
        out.sort();
        out
    }

    /// DeleteGroups of a share group: None if there is no share group of that id.
    pub fn delete_group(&self, group_id: &str) -> Option<i16> {
        let mut inner = self.lock();
        let g = inner.groups.get(group_id)?;
        if !g.members.is_empty() {
            return Some(codes::NON_EMPTY_GROUP);
        }
        inner.groups.remove(group_id);
        inner.sessions.retain(|(g, _), _| g != group_id);
        inner.dirty = true;
        Some(codes::NONE)
    }

    /// Opens, continues or checks a member's share session (ShareFetch and ShareAcknowledge
    /// share it): epoch 0 opens a new session with `added`, a positive epoch must be the next
    /// one and adds `added` and drops `forgotten`, -1 closes it (the caller then releases the
    /// member's records). Returns the session's partitions.
    pub fn session(
        &self,
        group_id: &str,
        member_id: &str,
        epoch: i32,
        added: &[TopicPartition],
        forgotten: &[TopicPartition],
        fetch: bool,
    ) -> Result<Vec<TopicPartition>, (i16, String)> {
        let key = (group_id.to_string(), member_id.to_string());
        let mut inner = self.lock();
        match epoch {
            0 if !fetch => Err((
                codes::INVALID_SHARE_SESSION_EPOCH,
                "ShareAcknowledge cannot open a share session (epoch 0)".into(),
            )),
            0 => {
                if !forgotten.is_empty() {
                    return Err((
                        codes::INVALID_REQUEST,
                        "a new share session (epoch 0) has nothing to forget".into(),
                    ));
                }
                // Only a member that joined through ShareGroupHeartbeat may open a session:
                // otherwise any client could make share-partition state for any group id.
                let member = inner
                    .groups
                    .get(group_id)
                    .is_some_and(|g| g.members.contains_key(member_id));
                if !member {
                    return Err((
                        codes::UNKNOWN_MEMBER_ID,
                        format!(
                            "{member_id} is not a member of share group {group_id}: join it with ShareGroupHeartbeat first"
                        ),
                    ));
                }
                if !inner.sessions.contains_key(&key) && inner.sessions.len() >= self.max_sessions {
                    return Err((
                        codes::SHARE_SESSION_LIMIT_REACHED,
                        format!(
                            "{} share sessions are open (group.share.max.share.sessions)",
                            self.max_sessions
                        ),
                    ));
                }
                let partitions: BTreeSet<_> = added.iter().copied().collect();
                let out = partitions.iter().copied().collect();
                inner.sessions.insert(
                    key,
                    Session {
                        next_epoch: 1,
                        partitions,
                    },
                );
                Ok(out)
            }
            -1 => {
                let s = inner.sessions.remove(&key);
                Ok(s.map(|s| s.partitions.into_iter().collect())
                    .unwrap_or_default())
            }
            e if e < 0 => Err((
                codes::INVALID_SHARE_SESSION_EPOCH,
                format!("share session epoch {e} is not valid"),
            )),
            e => {
                let Some(s) = inner.sessions.get_mut(&key) else {
                    return Err((
                        codes::SHARE_SESSION_NOT_FOUND,
                        format!("member {member_id} of group {group_id} has no share session"),
                    ));
                };
                if s.next_epoch != e {
                    return Err((
                        codes::INVALID_SHARE_SESSION_EPOCH,
                        format!("share session epoch {e}, expected {}", s.next_epoch),
                    ));
                }
                s.next_epoch = if s.next_epoch == i32::MAX {
                    1
                } else {
                    s.next_epoch + 1
                };
                if fetch {
                    for tp in forgotten {
                        s.partitions.remove(tp);
                    }
                    s.partitions.extend(added.iter().copied());
                }
                Ok(s.partitions.iter().copied().collect())
            }
        }
    }

    /// Applies a member's acknowledgements to one share-partition (all or none).
    pub fn acknowledge(
        &self,
        group_id: &str,
        member_id: &str,
        tp: TopicPartition,
        batches: &[partition::AckBatch],
        settings: &ShareSettings,
    ) -> Result<(), (i16, String)> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(p) = inner
            .groups
            .get_mut(group_id)
            .and_then(|g| g.partitions.get_mut(&tp))
        else {
            return Err((
                partition::INVALID_RECORD_STATE,
                format!("group {group_id} has acquired nothing of {}-{}", tp.0, tp.1),
            ));
        };
        let before = p.in_flight();
        p.acknowledge(member_id, batches, Instant::now(), &settings.limits)?;
        inner.dirty = true;
        // A release (or a move of the SPSO) may give waiting fetches something to take.
        if p.in_flight() != before
            || batches
                .iter()
                .any(|b| b.2.contains(&partition::ack::RELEASE))
        {
            self.available.notify_waiters();
        }
        Ok(())
    }

    /// Where the group's next acquisition on `tp` reads from, creating the share-partition
    /// (at the log start or the high watermark, per `share.auto.offset.reset`) on first use.
    /// None when there is nothing to acquire, or the group is gone (its last member left
    /// after the session was checked).
    pub fn next_to_acquire(
        &self,
        group_id: &str,
        tp: TopicPartition,
        log_start: i64,
        high_watermark: i64,
        settings: &ShareSettings,
    ) -> Option<i64> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let group = inner.groups.get_mut(group_id)?;
        group.limits = Some(settings.limits);
        let p = group.partitions.entry(tp).or_insert_with(|| {
            inner.dirty = true;
            SharePartition::new(if settings.earliest {
                log_start
            } else {
                high_watermark
            })
        });
        if p.start() < log_start {
            p.skip_to(log_start);
            inner.dirty = true;
        }
        if p.start() > high_watermark {
            // The log was truncated or recreated below the SPSO: start over at its end.
            p.reset(high_watermark);
            inner.dirty = true;
        }
        if p.expire(Instant::now(), &settings.limits) > 0 {
            inner.dirty = true;
        }
        p.next_to_acquire(high_watermark, &settings.limits)
    }

    /// Acquires records of `batches` for a member (see [`SharePartition::acquire`]).
    pub fn acquire(
        &self,
        group_id: &str,
        member_id: &Arc<str>,
        tp: TopicPartition,
        batches: &[BatchSpan],
        settings: &ShareSettings,
        max_records: usize,
    ) -> Acquired {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(p) = inner
            .groups
            .get_mut(group_id)
            .and_then(|g| g.partitions.get_mut(&tp))
        else {
            return Vec::new();
        };
        let got = p.acquire(
            batches,
            member_id,
            Instant::now(),
            &settings.limits,
            max_records,
        );
        if !got.is_empty() {
            inner.dirty = true;
        }
        got
    }

    /// Releases everything a member holds in the group (its share session closed).
    pub fn release_member(&self, group_id: &str, member_id: &str, settings: &ShareSettings) {
        let mut inner = self.lock();
        self.member_gone(&mut inner, group_id, member_id, &settings.limits);
    }

    fn member_gone(&self, inner: &mut Inner, group_id: &str, member_id: &str, limits: &Limits) {
        inner
            .sessions
            .remove(&(group_id.to_string(), member_id.to_string()));
        let Some(g) = inner.groups.get_mut(group_id) else {
            return;
        };
        if g.members.contains_key(member_id) {
            return;
        }
        g.epoch += 1;
        let mut released = 0;
        for p in g.partitions.values_mut() {
            released += p.release_member(member_id, limits);
        }
        inner.dirty = true;
        if released > 0 {
            self.available.notify_waiters();
        }
    }

    /// DescribeShareGroupOffsets: the SPSO of each share-partition of the group.
    pub fn start_offsets(&self, group_id: &str) -> Option<HashMap<TopicPartition, i64>> {
        let inner = self.lock();
        let g = inner.groups.get(group_id)?;
        Some(
            g.partitions
                .iter()
                .map(|(tp, p)| (*tp, p.start()))
                .collect(),
        )
    }

    /// AlterShareGroupOffsets: sets SPSOs of an empty group (creating it), forgetting the
    /// partitions' record states.
    pub fn alter_offsets(&self, group_id: &str, offsets: &[(TopicPartition, i64)]) -> i16 {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let g = inner.groups.entry(group_id.to_string()).or_default();
        if !g.members.is_empty() {
            return codes::NON_EMPTY_GROUP;
        }
        for &(tp, start) in offsets {
            g.partitions
                .entry(tp)
                .or_insert_with(|| SharePartition::new(start))
                .reset(start);
        }
        inner.dirty = true;
        codes::NONE
    }

    /// DeleteShareGroupOffsets: forgets an empty group's state of the given topics.
    pub fn delete_offsets(&self, group_id: &str, topic_ids: &[Uuid]) -> i16 {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(g) = inner.groups.get_mut(group_id) else {
            return codes::GROUP_ID_NOT_FOUND;
        };
        if !g.members.is_empty() {
            return codes::NON_EMPTY_GROUP;
        }
        g.partitions.retain(|(t, _), _| !topic_ids.contains(t));
        inner.dirty = true;
        codes::NONE
    }

    /// Expires members past their session timeout and acquisition locks past their duration,
    /// then writes the state file if anything changed.
    pub fn tick(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut released = 0;
        let mut gone = Vec::new();
        for (id, g) in &mut inner.groups {
            for (m, member) in &g.members {
                if member.expires <= now {
                    gone.push((id.clone(), m.clone()));
                }
            }
            if let Some(limits) = g.limits {
                for p in g.partitions.values_mut() {
                    released += p.expire(now, &limits);
                }
            }
        }
        for (group, member) in gone {
            tracing::info!(group, member, "share-group member's session expired");
            let limits = inner.groups.get_mut(&group).and_then(|g| {
                g.members.remove(&member);
                g.limits
            });
            if let Some(limits) = limits {
                self.member_gone(inner, &group, &member, &limits);
            }
        }
        if released > 0 {
            inner.dirty = true;
            self.available.notify_waiters();
        }
        if inner.dirty {
            let file = StateFile {
                groups: inner
                    .groups
                    .iter()
                    .map(|(id, g)| {
                        let mut parts: Vec<_> = g
                            .partitions
                            .iter()
                            .map(|(tp, p)| PartitionRecord {
                                topic_id: tp.0.to_string(),
                                partition: tp.1,
                                start: p.start(),
                                runs: p.runs(),
                            })
                            .collect();
                        parts.sort_by(|a, b| {
                            (&a.topic_id, a.partition).cmp(&(&b.topic_id, b.partition))
                        });
                        (id.clone(), parts)
                    })
                    .collect(),
            };
            match serde_json::to_vec(&file)
                .map_err(io::Error::other)
                .and_then(|b| write_file_atomically(&self.path, &b))
            {
                Ok(()) => inner.dirty = false,
                Err(e) => tracing::error!(
                    path = %self.path.display(),
                    "writing the share-group state failed (retried next tick): {e}"
                ),
            }
        }
    }
}

fn state_name(g: &ShareGroup) -> &'static str {
    if g.members.is_empty() {
        "Empty"
    } else {
        "Stable"
    }
}

fn max_record_locks(props: &BrokerProperties) -> usize {
    props
        .long("group.share.partition.max.record.locks")
        .clamp(1, 1_000_000) as usize
}

/// The broker's share settings with `group`'s configs over them (`config` reads a group's own
/// setting of a config).
pub fn settings(
    props: &BrokerProperties,
    config: &dyn Fn(&str) -> Option<String>,
) -> ShareSettings {
    let millis = |group_key: &str, broker_key: &str| {
        let ms = config(group_key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_else(|| props.long(broker_key));
        Duration::from_millis(ms.max(1) as u64)
    };
    ShareSettings {
        session_timeout: millis("share.session.timeout.ms", "group.share.session.timeout.ms"),
        heartbeat_interval: millis(
            "share.heartbeat.interval.ms",
            "group.share.heartbeat.interval.ms",
        ),
        limits: Limits {
            lock_duration: millis(
                "share.record.lock.duration.ms",
                "group.share.record.lock.duration.ms",
            ),
            delivery_count_limit: props
                .long("group.share.delivery.count.limit")
                .clamp(1, i16::MAX as i64) as u16,
            max_record_locks: max_record_locks(props),
        },
        earliest: config("share.auto.offset.reset").as_deref() == Some("earliest"),
    }
}
