//! One KIP-848 consumer group (`group.protocol=consumer`): members heartbeat with
//! ConsumerGroupHeartbeat, the coordinator computes the target assignment with a server-side
//! assignor (`uniform` or `range`) and reconciles each member towards it, one heartbeat at a
//! time.
//!
//! Invariants (the reason this module exists):
//! - A partition is owned by at most one member: it is handed to a member only when no other
//!   member holds it, either as assigned or as pending revocation.
//! - Revoke before assign: a member that must give partitions up is first sent its assignment
//!   without them (its epoch unchanged); only when a later heartbeat reports owned partitions
//!   without them does it move to the target epoch, and only then are they free for others.
//! - The group epoch grows on every change of members, subscriptions or subscribed topics'
//!   partition counts; the target assignment is recomputed lazily when it lags the group epoch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::codes;
use super::snapshot::{AssignmentSnapshot, ConsumerMemberSnapshot, ConsumerSnapshot};

/// Partitions by topic id.
pub type TopicAssignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// Server-side assignors this coordinator implements; the first is the default.
pub const ASSIGNORS: &[&str] = &["uniform", "range"];

/// The epoch a member sends to leave the group.
pub const LEAVE_EPOCH: i32 = -1;
/// The epoch a static member sends to leave temporarily (it keeps its partitions until its
/// session expires, so a restart does not move them).
pub const STATIC_LEAVE_EPOCH: i32 = -2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// At the target epoch with every target partition.
    Stable,
    /// Waiting for the member to acknowledge revoked partitions.
    UnrevokedPartitions,
    /// At the target epoch, waiting for other members to release partitions.
    UnreleasedPartitions,
}

#[derive(Debug, Clone)]
pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    previous_epoch: i32,
    pub state: MemberState,
    pub rebalance_timeout: Duration,
    /// Sorted, deduplicated.
    pub subscribed: Vec<String>,
    /// The names the member subscribed to, and its regular expression (KIP-848's
    /// SubscribedTopicRegex, resolved here against every topic name); `subscribed` is both.
    pub subscribed_names: Vec<String>,
    pub regex: Option<String>,
    pub server_assignor: Option<String>,
    /// What the member owns and was told it owns.
    pub assigned: TopicAssignment,
    /// Partitions the member was asked to give up and has not yet acknowledged.
    pub revoking: TopicAssignment,
    session_deadline: Instant,
    revoke_deadline: Option<Instant>,
    /// A static member that left with epoch -2: its partitions stay reserved.
    pub left_static: bool,
}

/// Coordinator-wide settings for consumer groups.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// Enabled assignors; the first is the default.
    pub assignors: Vec<String>,
}

/// One ConsumerGroupHeartbeat, translated from the wire.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatIn {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    /// None: unchanged.
    pub subscribed: Option<Vec<String>>,
    /// None: unchanged; empty: no regular expression any more.
    pub regex: Option<String>,
    pub server_assignor: Option<String>,
    /// None: unchanged.
    pub owned: Option<TopicAssignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatOut {
    pub error: i16,
    pub message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    /// Sent on a full request or when the member's assignment changed.
    pub assignment: Option<TopicAssignment>,
}

impl HeartbeatOut {
    pub fn error(error: i16, message: impl Into<String>) -> Self {
        Self {
            error,
            message: Some(message.into()),
            ..Self::default()
        }
    }
}

#[derive(Debug)]
pub struct ConsumerGroup {
    pub id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// Target assignment per member id, at `assignment_epoch`.
    pub target: HashMap<String, TopicAssignment>,
    pub assignor: String,
    /// Subscribed topics as last seen: name → (id, partition count).
    topics_seen: BTreeMap<String, (Uuid, i32)>,
}

fn is_disjoint(a: &TopicAssignment, b: &TopicAssignment) -> bool {
    a.iter()
        .all(|(t, ps)| b.get(t).is_none_or(|qs| ps.is_disjoint(qs)))
}

fn minus(a: &TopicAssignment, b: &TopicAssignment) -> TopicAssignment {
    let mut out = TopicAssignment::new();
    for (t, ps) in a {
        let rest: BTreeSet<i32> = match b.get(t) {
            Some(qs) => ps.difference(qs).copied().collect(),
            None => ps.clone(),
        };
        if !rest.is_empty() {
            out.insert(*t, rest);
        }
    }
    out
}

fn intersect(a: &TopicAssignment, b: &TopicAssignment) -> TopicAssignment {
    let mut out = TopicAssignment::new();
    for (t, ps) in a {
        if let Some(qs) = b.get(t) {
            let both: BTreeSet<i32> = ps.intersection(qs).copied().collect();
            if !both.is_empty() {
                out.insert(*t, both);
            }
        }
    }
    out
}

fn contains(a: &TopicAssignment, t: &Uuid, p: i32) -> bool {
    a.get(t).is_some_and(|ps| ps.contains(&p))
}

impl ConsumerGroup {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: HashMap::new(),
            assignor: String::new(),
            topics_seen: BTreeMap::new(),
        }
    }

    /// Kafka's consumer group states.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self.members.values().any(|m| {
            !m.left_static
                && (m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        }) {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// Every subscribed topic name.
    pub fn subscribed_topics(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn bump(&mut self) {
        self.group_epoch += 1;
    }

    fn remove_member(&mut self, id: &str) {
        if self.members.remove(id).is_some() {
            self.target.remove(id);
            self.bump();
        }
    }

    /// One heartbeat. `topics` resolves a topic name to (id, partition count).
    pub fn heartbeat(
        &mut self,
        req: HeartbeatIn,
        now: Instant,
        settings: &ConsumerSettings,
        topics: &dyn Fn(&str) -> Option<(Uuid, i32)>,
        topic_names: &dyn Fn() -> Vec<String>,
        new_member_id: impl FnOnce() -> String,
    ) -> HeartbeatOut {
        if let Some(a) = &req.server_assignor
            && !settings.assignors.iter().any(|n| n == a)
        {
            return HeartbeatOut::error(
                codes::UNSUPPORTED_ASSIGNOR,
                format!(
                    "assignor {a} is not supported (use one of {:?})",
                    settings.assignors
                ),
            );
        }
        if let Some(r) = req.regex.as_deref().filter(|r| !r.is_empty())
            && let Err(e) = full_match(r)
        {
            return HeartbeatOut::error(
                codes::INVALID_REGULAR_EXPRESSION,
                format!("SubscribedTopicRegex {r:?} is invalid: {e}"),
            );
        }
        if req.member_epoch == LEAVE_EPOCH || req.member_epoch == STATIC_LEAVE_EPOCH {
            return self.leave(&req, now, settings);
        }
        let full = req.member_epoch == 0
            || (req.rebalance_timeout_ms != -1 && req.subscribed.is_some() && req.owned.is_some());
        let id = if req.member_epoch == 0 {
            match self.join(&req, now, settings, new_member_id) {
                Ok(id) => id,
                Err(e) => return e,
            }
        } else {
            let Some(m) = self.members.get(&req.member_id) else {
                return HeartbeatOut::error(
                    codes::UNKNOWN_MEMBER_ID,
                    format!("member {} is not in group {}", req.member_id, self.id),
                );
            };
            if m.left_static {
                return HeartbeatOut::error(codes::UNKNOWN_MEMBER_ID, "the member left the group");
            }
            let acceptable = req.member_epoch == m.member_epoch
                || (req.member_epoch == m.previous_epoch
                    && req
                        .owned
                        .as_ref()
                        .is_none_or(|o| minus(&minus(o, &m.assigned), &m.revoking).is_empty()));
            if !acceptable {
                return HeartbeatOut::error(
                    codes::FENCED_MEMBER_EPOCH,
                    format!(
                        "member epoch {} is fenced (current {})",
                        req.member_epoch, m.member_epoch
                    ),
                );
            }
            req.member_id.clone()
        };
        // Updates from the request.
        let mut changed = false;
        {
            let m = self.members.get_mut(&id).expect("present");
            m.session_deadline = now + settings.session_timeout;
            if req.rebalance_timeout_ms > 0 {
                m.rebalance_timeout = Duration::from_millis(req.rebalance_timeout_ms as u64);
            }
            if !req.client_id.is_empty() {
                m.client_id = req.client_id.clone();
            }
            m.client_host = req.client_host.clone();
            if req.rack_id.is_some() {
                m.rack_id = req.rack_id.clone();
            }
            if let Some(s) = &req.subscribed {
                let mut s = s.clone();
                s.sort();
                s.dedup();
                m.subscribed_names = s;
            }
            if let Some(r) = &req.regex {
                m.regex = Some(r.clone()).filter(|r| !r.is_empty());
            }
            if req.server_assignor.is_some() && req.server_assignor != m.server_assignor {
                m.server_assignor = req.server_assignor.clone();
                changed = true;
            }
        }
        changed |= self.resolve_subscriptions(topic_names);
        if changed {
            self.bump();
        }
        self.refresh_topics(topics);
        self.maybe_assign(settings);
        let before = self.members[&id].assigned.clone();
        self.reconcile(&id, req.owned.as_ref(), now);
        let m = &self.members[&id];
        HeartbeatOut {
            error: codes::NONE,
            message: None,
            member_id: Some(id.clone()),
            member_epoch: m.member_epoch,
            assignment: (full || m.assigned != before).then(|| m.assigned.clone()),
        }
    }

    fn join(
        &mut self,
        req: &HeartbeatIn,
        now: Instant,
        settings: &ConsumerSettings,
        new_member_id: impl FnOnce() -> String,
    ) -> Result<String, HeartbeatOut> {
        if req.subscribed.is_none() && req.regex.is_none() {
            return Err(HeartbeatOut::error(
                codes::INVALID_REQUEST,
                "SubscribedTopicNames or SubscribedTopicRegex must be set when joining",
            ));
        }
        if req.rebalance_timeout_ms <= 0 {
            return Err(HeartbeatOut::error(
                codes::INVALID_REQUEST,
                "RebalanceTimeoutMs must be set when joining",
            ));
        }
        if req.owned.as_ref().is_some_and(|o| !o.is_empty()) {
            return Err(HeartbeatOut::error(
                codes::INVALID_REQUEST,
                "TopicPartitions must be empty when joining",
            ));
        }
        let id = if req.member_id.is_empty() {
            new_member_id()
        } else {
            req.member_id.clone()
        };
        // A static member replacing its earlier incarnation takes over its partitions.
        if let Some(instance) = &req.instance_id
            && let Some(old) = self
                .members
                .values()
                .find(|m| m.instance_id.as_deref() == Some(instance))
                .cloned()
        {
            if !old.left_static && old.id != id {
                return Err(HeartbeatOut::error(
                    codes::UNRELEASED_INSTANCE_ID,
                    format!(
                        "static member {instance} is still in the group as {}",
                        old.id
                    ),
                ));
            }
            if old.left_static {
                self.members.remove(&old.id);
                let target = self.target.remove(&old.id);
                let mut m = old;
                m.id = id.clone();
                m.left_static = false;
                m.session_deadline = now + settings.session_timeout;
                self.members.insert(id.clone(), m);
                if let Some(t) = target {
                    self.target.insert(id.clone(), t);
                }
                return Ok(id);
            }
        }
        // A known member rejoining (after being fenced) starts over with nothing.
        self.remove_member(&id);
        self.members.insert(
            id.clone(),
            ConsumerMember {
                id: id.clone(),
                instance_id: req.instance_id.clone(),
                rack_id: req.rack_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                member_epoch: 0,
                previous_epoch: 0,
                state: MemberState::Stable,
                rebalance_timeout: Duration::from_millis(req.rebalance_timeout_ms as u64),
                subscribed: Vec::new(),
                subscribed_names: Vec::new(),
                regex: None,
                server_assignor: None,
                assigned: TopicAssignment::new(),
                revoking: TopicAssignment::new(),
                session_deadline: now + settings.session_timeout,
                revoke_deadline: None,
                left_static: false,
            },
        );
        self.bump();
        Ok(id)
    }

    fn leave(
        &mut self,
        req: &HeartbeatIn,
        now: Instant,
        settings: &ConsumerSettings,
    ) -> HeartbeatOut {
        let found = self
            .members
            .get(&req.member_id)
            .map(|m| m.id.clone())
            .or_else(|| {
                let instance = req.instance_id.as_deref()?;
                self.members
                    .values()
                    .find(|m| m.instance_id.as_deref() == Some(instance))
                    .map(|m| m.id.clone())
            });
        let Some(id) = found else {
            return HeartbeatOut::error(
                codes::UNKNOWN_MEMBER_ID,
                format!("member {} is not in group {}", req.member_id, self.id),
            );
        };
        let m = self.members.get_mut(&id).expect("found");
        if req.member_epoch == STATIC_LEAVE_EPOCH && m.instance_id.is_some() {
            m.left_static = true;
            m.session_deadline = now + settings.session_timeout;
        } else {
            self.remove_member(&id);
        }
        HeartbeatOut {
            member_id: Some(id),
            member_epoch: req.member_epoch,
            ..HeartbeatOut::default()
        }
    }

    /// Recomputes each member's subscription (names plus the topics its regular expression
    /// matches, internal ones included, as Kafka's broker-side resolution does); true if one
    /// changed. Runs on every heartbeat, so topics created later are picked up.
    fn resolve_subscriptions(&mut self, topic_names: &dyn Fn() -> Vec<String>) -> bool {
        let all = if self.members.values().any(|m| m.regex.is_some()) {
            topic_names()
        } else {
            Vec::new()
        };
        let mut changed = false;
        for m in self.members.values_mut() {
            let mut s = m.subscribed_names.clone();
            if let Some(re) = m.regex.as_deref().and_then(|r| full_match(r).ok()) {
                s.extend(all.iter().filter(|t| re.is_match(t)).cloned());
                s.sort();
                s.dedup();
            }
            if s != m.subscribed {
                m.subscribed = s;
                changed = true;
            }
        }
        changed
    }

    fn refresh_topics(&mut self, topics: &dyn Fn(&str) -> Option<(Uuid, i32)>) {
        let now: BTreeMap<String, (Uuid, i32)> = self
            .subscribed_topics()
            .into_iter()
            .filter_map(|t| topics(&t).map(|v| (t, v)))
            .collect();
        if now != self.topics_seen {
            self.topics_seen = now;
            self.bump();
        }
    }

    /// The group's assignor: the one most members ask for, else the server default.
    fn choose_assignor(&self, settings: &ConsumerSettings) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.server_assignor {
                *votes.entry(a).or_default() += 1;
            }
        }
        let best = votes.values().copied().max();
        match best {
            Some(n) => votes
                .iter()
                .find(|(_, v)| **v == n)
                .map(|(a, _)| a.to_string())
                .expect("max exists"),
            None => settings
                .assignors
                .first()
                .cloned()
                .unwrap_or_else(|| ASSIGNORS[0].to_string()),
        }
    }

    fn maybe_assign(&mut self, settings: &ConsumerSettings) {
        if self.group_epoch <= self.assignment_epoch && !self.target.is_empty() {
            return;
        }
        self.assignor = self.choose_assignor(settings);
        let members: Vec<(String, Vec<String>)> = self
            .members
            .values()
            .map(|m| (m.id.clone(), m.subscribed.clone()))
            .collect();
        self.target = if self.assignor == "range" {
            assign_range(&members, &self.topics_seen)
        } else {
            assign_uniform(&members, &self.topics_seen, &self.target)
        };
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves one member one step towards its target assignment.
    fn reconcile(&mut self, id: &str, owned: Option<&TopicAssignment>, now: Instant) {
        let assignment_epoch = self.assignment_epoch;
        let target = self.target.get(id).cloned().unwrap_or_default();
        let m = &self.members[id];
        match m.state {
            MemberState::UnrevokedPartitions => match owned {
                Some(o) if is_disjoint(o, &m.revoking) => {}
                _ => return,
            },
            MemberState::Stable if m.member_epoch == assignment_epoch => return,
            _ => {}
        }
        let revoke = minus(&m.assigned, &target);
        if !revoke.is_empty() {
            let m = self.members.get_mut(id).expect("present");
            m.assigned = intersect(&m.assigned, &target);
            m.revoking = revoke;
            m.state = MemberState::UnrevokedPartitions;
            m.revoke_deadline = Some(now + m.rebalance_timeout);
            return;
        }
        // Add the target partitions nobody else holds.
        let mut next = m.assigned.clone();
        let mut unreleased = false;
        for (t, ps) in minus(&target, &m.assigned) {
            for p in ps {
                let held = self.members.values().any(|o| {
                    o.id != id && (contains(&o.assigned, &t, p) || contains(&o.revoking, &t, p))
                });
                if held {
                    unreleased = true;
                } else {
                    next.entry(t).or_default().insert(p);
                }
            }
        }
        let m = self.members.get_mut(id).expect("present");
        m.revoking.clear();
        m.revoke_deadline = None;
        m.assigned = next;
        if m.member_epoch != assignment_epoch {
            m.previous_epoch = m.member_epoch;
            m.member_epoch = assignment_epoch;
        }
        m.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
    }

    /// Timer work: expired sessions and revocations not acknowledged within the rebalance
    /// timeout remove the member (its partitions become free).
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<(String, &'static str)> = self
            .members
            .values()
            .filter_map(|m| {
                if m.session_deadline <= now {
                    Some((m.id.clone(), "session timed out"))
                } else if m.revoke_deadline.is_some_and(|d| d <= now) {
                    Some((
                        m.id.clone(),
                        "revocation not acknowledged within the rebalance timeout",
                    ))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in expired {
            tracing::info!(group = %self.id, member = %id, "{why}");
            self.remove_member(&id);
        }
    }

    /// Validates an OffsetCommit (or OffsetFetch with a member) against member epochs.
    /// Commits from the member's previous epoch are accepted: an epoch bump that only added
    /// partitions can race with a commit already on its way.
    pub fn check_member_epoch(&self, member_id: &str, epoch: i32, commit: bool) -> i16 {
        if member_id.is_empty() && epoch < 0 {
            // An admin commit (no member) is only for a group without members.
            return if commit && self.members.values().any(|m| !m.left_static) {
                codes::UNKNOWN_MEMBER_ID
            } else {
                codes::NONE
            };
        }
        match self.members.get(member_id) {
            None => codes::UNKNOWN_MEMBER_ID,
            Some(m) if epoch != m.member_epoch && epoch != m.previous_epoch => {
                codes::STALE_MEMBER_EPOCH
            }
            Some(_) => codes::NONE,
        }
    }
}

/// A subscription regex as Kafka applies it: to the whole topic name (RE2 syntax).
fn full_match(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

/// Every partition of the topics `subscribed` names that exist.
fn partitions_of<'a>(
    topics: &'a BTreeMap<String, (Uuid, i32)>,
    subscribed: &'a [String],
) -> impl Iterator<Item = (Uuid, i32)> + 'a {
    subscribed
        .iter()
        .filter_map(|t| topics.get(t))
        .flat_map(|(id, n)| (0..*n).map(move |p| (*id, p)))
}

/// `range`: per topic, the subscribed members (by member id) get contiguous ranges, the
/// first `n % m` one partition more.
pub fn assign_range(
    members: &[(String, Vec<String>)],
    topics: &BTreeMap<String, (Uuid, i32)>,
) -> HashMap<String, TopicAssignment> {
    let mut out: HashMap<String, TopicAssignment> = members
        .iter()
        .map(|(id, _)| (id.clone(), TopicAssignment::new()))
        .collect();
    for (name, (tid, n)) in topics {
        let mut subs: Vec<&String> = members
            .iter()
            .filter(|(_, s)| s.contains(name))
            .map(|(id, _)| id)
            .collect();
        subs.sort();
        if subs.is_empty() {
            continue;
        }
        let k = subs.len() as i32;
        let (base, extra) = (n / k, n % k);
        let mut start = 0;
        for (i, id) in subs.iter().enumerate() {
            let len = base + i32::from((i as i32) < extra);
            if len > 0 {
                out.get_mut(*id)
                    .expect("member")
                    .insert(*tid, (start..start + len).collect());
            }
            start += len;
        }
    }
    out
}

/// `uniform`: balanced (member counts differ by at most one among members that could take a
/// partition) and sticky (a partition stays with its previous owner when balance allows).
pub fn assign_uniform(
    members: &[(String, Vec<String>)],
    topics: &BTreeMap<String, (Uuid, i32)>,
    previous: &HashMap<String, TopicAssignment>,
) -> HashMap<String, TopicAssignment> {
    let names: HashMap<Uuid, &String> = topics.iter().map(|(n, (id, _))| (*id, n)).collect();
    let eligible =
        |m: &(String, Vec<String>), t: &Uuid| names.get(t).is_some_and(|n| m.1.contains(n));
    let index: HashMap<&String, usize> = members
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id, i))
        .collect();
    let mut owned: Vec<BTreeSet<(Uuid, i32)>> = vec![BTreeSet::new(); members.len()];
    let mut owner: HashMap<(Uuid, i32), usize> = HashMap::new();
    let all: BTreeSet<(Uuid, i32)> = members
        .iter()
        .flat_map(|(_, s)| partitions_of(topics, s).collect::<Vec<_>>())
        .collect();
    // Keep previous owners.
    for (id, a) in previous {
        let Some(&i) = index.get(id) else { continue };
        for (t, ps) in a {
            for &p in ps {
                if all.contains(&(*t, p))
                    && eligible(&members[i], t)
                    && !owner.contains_key(&(*t, p))
                {
                    owner.insert((*t, p), i);
                    owned[i].insert((*t, p));
                }
            }
        }
    }
    // Place the rest on the least loaded eligible member.
    for &(t, p) in &all {
        if owner.contains_key(&(t, p)) {
            continue;
        }
        if let Some(i) = (0..members.len())
            .filter(|&i| eligible(&members[i], &t))
            .min_by_key(|&i| (owned[i].len(), i))
        {
            owner.insert((t, p), i);
            owned[i].insert((t, p));
        }
    }
    // Balance: move partitions from a member to an eligible one with two fewer, until none.
    loop {
        let mut moved = false;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(owned[i].len()));
        'outer: for &a in &order {
            for &(t, p) in owned[a].iter().rev() {
                if let Some(b) = (0..members.len())
                    .filter(|&b| {
                        b != a && eligible(&members[b], &t) && owned[b].len() + 1 < owned[a].len()
                    })
                    .min_by_key(|&b| (owned[b].len(), b))
                {
                    owned[a].remove(&(t, p));
                    owned[b].insert((t, p));
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }
    members
        .iter()
        .zip(owned)
        .map(|((id, _), set)| {
            let mut a = TopicAssignment::new();
            for (t, p) in set {
                a.entry(t).or_default().insert(p);
            }
            (id.clone(), a)
        })
        .collect()
}

fn assignment_snapshot(a: &TopicAssignment) -> AssignmentSnapshot {
    a.iter()
        .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
        .collect()
}

fn assignment_restore(a: AssignmentSnapshot) -> TopicAssignment {
    a.into_iter()
        .filter_map(|(t, ps)| Some((Uuid::parse_str(&t).ok()?, ps.into_iter().collect())))
        .collect()
}

impl ConsumerGroup {
    /// Everything a coordinator move keeps (all but deadlines).
    pub fn snapshot(&self) -> ConsumerSnapshot {
        let mut target: Vec<_> = self
            .target
            .iter()
            .map(|(m, a)| (m.clone(), assignment_snapshot(a)))
            .collect();
        target.sort();
        ConsumerSnapshot {
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            assignor: self.assignor.clone(),
            target,
            topics_seen: self
                .topics_seen
                .iter()
                .map(|(n, (id, count))| (n.clone(), id.to_string(), *count))
                .collect(),
            members: self
                .members
                .values()
                .map(|m| ConsumerMemberSnapshot {
                    id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    member_epoch: m.member_epoch,
                    previous_epoch: m.previous_epoch,
                    state: match m.state {
                        MemberState::Stable => "stable",
                        MemberState::UnrevokedPartitions => "unrevoked",
                        MemberState::UnreleasedPartitions => "unreleased",
                    }
                    .to_string(),
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as u64,
                    subscribed: m.subscribed.clone(),
                    subscribed_names: m.subscribed_names.clone(),
                    regex: m.regex.clone(),
                    server_assignor: m.server_assignor.clone(),
                    assigned: assignment_snapshot(&m.assigned),
                    revoking: assignment_snapshot(&m.revoking),
                    left_static: m.left_static,
                })
                .collect(),
        }
    }

    /// The group a snapshot describes; sessions (and pending revocations) start at `now`.
    pub fn restore(
        id: &str,
        s: ConsumerSnapshot,
        now: Instant,
        settings: &ConsumerSettings,
    ) -> Self {
        let mut g = Self::new(id);
        g.group_epoch = s.group_epoch;
        g.assignment_epoch = s.assignment_epoch;
        g.assignor = s.assignor;
        g.target = s
            .target
            .into_iter()
            .map(|(m, a)| (m, assignment_restore(a)))
            .collect();
        g.topics_seen = s
            .topics_seen
            .into_iter()
            .filter_map(|(n, id, count)| Some((n, (Uuid::parse_str(&id).ok()?, count))))
            .collect();
        for m in s.members {
            let state = match m.state.as_str() {
                "unrevoked" => MemberState::UnrevokedPartitions,
                "unreleased" => MemberState::UnreleasedPartitions,
                _ => MemberState::Stable,
            };
            let rebalance_timeout = Duration::from_millis(m.rebalance_timeout_ms);
            let revoke_deadline =
                (state == MemberState::UnrevokedPartitions).then(|| now + rebalance_timeout);
            g.members.insert(
                m.id.clone(),
                ConsumerMember {
                    id: m.id,
                    instance_id: m.instance_id,
                    rack_id: m.rack_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    member_epoch: m.member_epoch,
                    previous_epoch: m.previous_epoch,
                    state,
                    rebalance_timeout,
                    subscribed: m.subscribed,
                    subscribed_names: m.subscribed_names,
                    regex: m.regex,
                    server_assignor: m.server_assignor,
                    assigned: assignment_restore(m.assigned),
                    revoking: assignment_restore(m.revoking),
                    session_deadline: now + settings.session_timeout,
                    revoke_deadline,
                    left_static: m.left_static,
                },
            );
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::snapshot::{GroupKind, GroupSnapshot};

    fn settings() -> ConsumerSettings {
        ConsumerSettings {
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_millis(500),
            assignors: ASSIGNORS.iter().map(|s| s.to_string()).collect(),
        }
    }

    const T: Uuid = Uuid::from_u128(7);

    fn topics(name: &str) -> Option<(Uuid, i32)> {
        (name == "t").then_some((T, 6))
    }

    fn join(g: &mut ConsumerGroup, id: &str, now: Instant) -> HeartbeatOut {
        g.heartbeat(
            HeartbeatIn {
                member_id: id.into(),
                member_epoch: 0,
                rebalance_timeout_ms: 30000,
                subscribed: Some(vec!["t".into()]),
                owned: Some(TopicAssignment::new()),
                ..HeartbeatIn::default()
            },
            now,
            &settings(),
            &topics,
            &Vec::new,
            || unreachable!(),
        )
    }

    fn beat(
        g: &mut ConsumerGroup,
        id: &str,
        epoch: i32,
        owned: Option<&TopicAssignment>,
        now: Instant,
    ) -> HeartbeatOut {
        g.heartbeat(
            HeartbeatIn {
                member_id: id.into(),
                member_epoch: epoch,
                rebalance_timeout_ms: -1,
                owned: owned.cloned(),
                ..HeartbeatIn::default()
            },
            now,
            &settings(),
            &topics,
            &Vec::new,
            || unreachable!(),
        )
    }

    fn count(a: &TopicAssignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    /// A group restored from its snapshot (a coordinator move) is the same group: members keep
    /// their epochs and assignments, and a revocation in progress goes on.
    #[test]
    fn snapshot_restores_members_epochs_and_assignments() {
        let now = Instant::now();
        let mut g = ConsumerGroup::new("g");
        let a = join(&mut g, "a", now);
        let a_owned = a.assignment.clone().unwrap();
        assert_eq!(count(&a_owned), 6);
        join(&mut g, "b", now);
        // a is asked to give partitions up (revoking), b waits for them.
        let a2 = beat(&mut g, "a", a.member_epoch, Some(&a_owned), now);
        assert!(count(a2.assignment.as_ref().unwrap()) < 6);
        let s = g.snapshot();
        let json = GroupSnapshot::new(GroupKind::Consumer(s.clone())).encode();
        let decoded = GroupSnapshot::decode(&json).unwrap();
        let GroupKind::Consumer(s2) = decoded.group else {
            panic!("not a consumer group")
        };
        let mut r = ConsumerGroup::restore("g", s2, now, &settings());
        assert_eq!(r.snapshot(), s);
        assert_eq!(r.state(), g.state());
        assert_eq!(r.members["a"].member_epoch, g.members["a"].member_epoch);
        assert_eq!(r.members["a"].revoking, g.members["a"].revoking);
        // The restored group answers the next heartbeat as the original would.
        let owned = a2.assignment.clone().unwrap();
        assert_eq!(
            beat(&mut r, "a", a2.member_epoch, Some(&owned), now),
            beat(&mut g, "a", a2.member_epoch, Some(&owned), now)
        );
        // Sessions restart at the restore: expiry counts from then.
        r.tick(now + Duration::from_secs(44));
        assert_eq!(r.members.len(), 2);
    }

    #[test]
    fn revoke_before_assign() {
        let now = Instant::now();
        let mut g = ConsumerGroup::new("g");
        let a = join(&mut g, "a", now);
        assert_eq!(a.error, 0);
        let a_owned = a.assignment.clone().unwrap();
        assert_eq!(count(&a_owned), 6);
        assert_eq!(g.state(), "Stable");
        let b = join(&mut g, "b", now);
        // b gets nothing yet: a still owns everything.
        assert_eq!(b.assignment.as_ref().map(count), Some(0));
        assert!(b.member_epoch > a.member_epoch);
        assert_eq!(g.state(), "Reconciling");
        // a is asked to give up three partitions, at its old epoch.
        let a2 = beat(&mut g, "a", a.member_epoch, None, now);
        assert_eq!(a2.member_epoch, a.member_epoch);
        let kept = a2.assignment.clone().unwrap();
        assert_eq!(count(&kept), 3);
        // b still waits while a has not acknowledged.
        let b2 = beat(&mut g, "b", b.member_epoch, None, now);
        assert!(b2.assignment.is_none());
        // a acknowledges; then b gets the freed partitions.
        let a3 = beat(&mut g, "a", a2.member_epoch, Some(&kept), now);
        assert_eq!(a3.member_epoch, b.member_epoch);
        let b3 = beat(&mut g, "b", b2.member_epoch, None, now);
        let got = b3.assignment.unwrap();
        assert_eq!(count(&got), 3);
        assert!(is_disjoint(&got, &kept));
        assert_eq!(g.state(), "Stable");
        // A fenced epoch is refused; leaving frees the partitions.
        assert_eq!(
            beat(&mut g, "a", 99, None, now).error,
            codes::FENCED_MEMBER_EPOCH
        );
        assert_eq!(
            beat(&mut g, "b", LEAVE_EPOCH, None, now).member_epoch,
            LEAVE_EPOCH
        );
        let a4 = beat(&mut g, "a", a3.member_epoch, None, now);
        assert_eq!(count(&a4.assignment.unwrap()), 6);
    }

    #[test]
    fn unacknowledged_revocation_expires_and_static_member_comes_back() {
        let now = Instant::now();
        let mut g = ConsumerGroup::new("g");
        let s = g.heartbeat(
            HeartbeatIn {
                member_id: "s1".into(),
                instance_id: Some("i".into()),
                rebalance_timeout_ms: 1000,
                subscribed: Some(vec!["t".into()]),
                owned: Some(TopicAssignment::new()),
                ..HeartbeatIn::default()
            },
            now,
            &settings(),
            &topics,
            &Vec::new,
            || unreachable!(),
        );
        let owned = s.assignment.unwrap();
        // Leaves temporarily: keeps its partitions, a new member waits.
        let left = g.heartbeat(
            HeartbeatIn {
                member_id: "s1".into(),
                member_epoch: STATIC_LEAVE_EPOCH,
                instance_id: Some("i".into()),
                ..HeartbeatIn::default()
            },
            now,
            &settings(),
            &topics,
            &Vec::new,
            || unreachable!(),
        );
        assert_eq!(left.member_epoch, STATIC_LEAVE_EPOCH);
        let back = g.heartbeat(
            HeartbeatIn {
                member_id: "s2".into(),
                instance_id: Some("i".into()),
                rebalance_timeout_ms: 1000,
                subscribed: Some(vec!["t".into()]),
                owned: Some(TopicAssignment::new()),
                ..HeartbeatIn::default()
            },
            now,
            &settings(),
            &topics,
            &Vec::new,
            || unreachable!(),
        );
        assert_eq!(back.assignment.unwrap(), owned);
        assert_eq!(back.member_epoch, s.member_epoch);
        let b = join(&mut g, "b", now);
        let s2 = beat(&mut g, "s2", back.member_epoch, None, now);
        assert_eq!(count(&s2.assignment.unwrap()), 3);
        // s2 never acknowledges: after its rebalance timeout it is removed.
        g.tick(now + Duration::from_secs(2));
        assert!(!g.members.contains_key("s2"));
        let b2 = beat(
            &mut g,
            "b",
            b.member_epoch,
            None,
            now + Duration::from_secs(2),
        );
        assert_eq!(count(&b2.assignment.unwrap()), 6);
    }

    #[test]
    fn a_regex_subscription_follows_the_topics_that_match() {
        let now = Instant::now();
        let mut g = ConsumerGroup::new("g");
        let lookup = |n: &str| Some((Uuid::from_u128(n.len() as u128), 1));
        let beat = |g: &mut ConsumerGroup, req: HeartbeatIn, names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            g.heartbeat(
                req,
                now,
                &settings(),
                &lookup,
                &|| names.clone(),
                || unreachable!(),
            )
        };
        let joined = beat(
            &mut g,
            HeartbeatIn {
                member_id: "m".into(),
                rebalance_timeout_ms: 1000,
                regex: Some("orders.*".into()),
                owned: Some(TopicAssignment::new()),
                ..HeartbeatIn::default()
            },
            &["orders", "orders-v2", "payments", "old-orders"],
        );
        assert_eq!(joined.error, codes::NONE, "{:?}", joined.message);
        // The whole name must match, as in Kafka.
        assert_eq!(g.members["m"].subscribed, ["orders", "orders-v2"]);
        let next = |epoch, regex: Option<&str>| HeartbeatIn {
            member_id: "m".into(),
            member_epoch: epoch,
            rebalance_timeout_ms: -1,
            regex: regex.map(str::to_string),
            ..HeartbeatIn::default()
        };
        let again = beat(
            &mut g,
            next(joined.member_epoch, None),
            &["orders", "orders-v2", "orders-v3"],
        );
        assert_eq!(again.error, codes::NONE);
        assert_eq!(g.members["m"].subscribed.len(), 3);
        let bad = beat(&mut g, next(again.member_epoch, Some("orders(")), &[]);
        assert_eq!(bad.error, codes::INVALID_REGULAR_EXPRESSION);
    }

    #[test]
    fn uniform_is_balanced_and_sticky() {
        let t: BTreeMap<String, (Uuid, i32)> = [
            ("t".to_string(), (T, 7)),
            ("u".to_string(), (Uuid::from_u128(9), 2)),
        ]
        .into();
        let m = |ids: &[&str]| -> Vec<(String, Vec<String>)> {
            ids.iter()
                .map(|i| (i.to_string(), vec!["t".to_string(), "u".to_string()]))
                .collect()
        };
        let one = assign_uniform(&m(&["a", "b"]), &t, &HashMap::new());
        let two = assign_uniform(&m(&["a", "b", "c"]), &t, &one);
        let counts: Vec<usize> = ["a", "b", "c"].iter().map(|i| count(&two[*i])).collect();
        assert_eq!(counts.iter().sum::<usize>(), 9);
        assert!(counts.iter().all(|c| *c == 3), "{counts:?}");
        // Sticky: a and b keep all they can.
        for id in ["a", "b"] {
            assert_eq!(count(&intersect(&one[id], &two[id])), 3);
        }
        let r = assign_range(&m(&["b", "a"]), &t);
        assert_eq!(r["a"][&T], (0..4).collect());
        assert_eq!(r["b"][&T], (4..7).collect());
    }
}
