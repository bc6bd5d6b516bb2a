//! One classic-protocol group: members, generations and the rebalance state machine
//! Empty → PreparingRebalance → CompletingRebalance → Stable (→ PreparingRebalance ...), as in
//! Kafka's GroupMetadata. Responses that must wait (JoinGroup until every member rejoined,
//! SyncGroup until the leader sent the assignment) are parked as oneshot senders on the member
//! and completed by a later request or by the coordinator's timer (`tick`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::codes;
use super::snapshot::{ClassicMemberSnapshot, ClassicSnapshot, b64, unb64};

/// The shortest initial join phase of a new group, whatever `group.initial.rebalance.delay.ms`
/// says. Kafka never ends that phase inside the JoinGroup that began it: even with a delay of 0
/// its timer ends it on a later turn of the coordinator's event loop, so consumers that start
/// together share the first generation. The coordinator's timer (`group::TICK`) ends it here,
/// at least this long after the last new member joined.
const INITIAL_JOIN_MIN: Duration = Duration::from_millis(100);

/// How long the initial join phase waits after each new member.
fn initial_window(initial_delay: Duration) -> Duration {
    initial_delay.max(INITIAL_JOIN_MIN)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

/// What a JoinGroup answers.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// (member id, group instance id, metadata): filled for the leader only.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(error: i16, member_id: &str) -> Self {
        Self {
            error,
            generation: -1,
            member_id: member_id.to_string(),
            ..Self::default()
        }
    }
}

/// What a SyncGroup answers.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: i16) -> Self {
        Self {
            error,
            ..Self::default()
        }
    }
}

/// A reply available now or later.
#[derive(Debug)]
pub enum Reply<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// (protocol name, metadata) in the member's preference order.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// Order of first join: the leader is the earliest member still present.
    join_seq: u64,
    session_deadline: Instant,
    pending_join: Option<oneshot::Sender<JoinResult>>,
    pending_sync: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// What a join request carries.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a new dynamic member first gets an id with MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
}

#[derive(Debug)]
pub struct ClassicGroup {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// group.instance.id → current member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, valid until their deadline.
    pending_ids: HashMap<String, Instant>,
    next_seq: u64,
    /// PreparingRebalance: the join phase ends at this instant even if some members are missing.
    rebalance_deadline: Instant,
    /// PreparingRebalance: not before this instant (group.initial.rebalance.delay.ms).
    join_not_before: Instant,
    /// CompletingRebalance: the leader must send its SyncGroup by then.
    sync_deadline: Instant,
}

impl ClassicGroup {
    pub fn new(id: &str, now: Instant) -> Self {
        Self {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_ids: HashMap::new(),
            next_seq: 0,
            rebalance_deadline: now,
            join_not_before: now,
            sync_deadline: now,
        }
    }

    /// Protocols every current member supports (candidates for selection).
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    fn check_instance(&self, member_id: &str, instance_id: Option<&str>) -> i16 {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) if current != member_id => codes::FENCED_INSTANCE_ID,
            _ => codes::NONE,
        }
    }

    pub fn join(
        &mut self,
        req: JoinRequest,
        now: Instant,
        initial_delay: Duration,
        new_member_id: impl FnOnce() -> String,
    ) -> Reply<JoinResult> {
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return Reply::Now(JoinResult::error(
                codes::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        if !self.supports(&req.protocol_type, &req.protocols) {
            return Reply::Now(JoinResult::error(
                codes::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        let (tx, rx) = oneshot::channel();
        if req.member_id.is_empty() {
            let id = new_member_id();
            if let Some(instance) = req.instance_id.clone() {
                if let Some(old_id) = self.static_members.get(&instance).cloned() {
                    return self.replace_static_member(old_id, id, req, now, initial_delay);
                }
                self.static_members.insert(instance, id.clone());
            } else if req.require_known_member_id {
                // The member must come back with this id; joins it never completes expire.
                self.pending_ids
                    .insert(id.clone(), now + req.session_timeout);
                return Reply::Now(JoinResult::error(codes::MEMBER_ID_REQUIRED, &id));
            }
            self.add_member(id, req, tx, now);
            self.on_membership_change(now, initial_delay);
            return Reply::Later(rx);
        }
        let fenced = self.check_instance(&req.member_id, req.instance_id.as_deref());
        if fenced != codes::NONE {
            return Reply::Now(JoinResult::error(fenced, &req.member_id));
        }
        if !self.members.contains_key(&req.member_id) {
            if self.pending_ids.remove(&req.member_id).is_none() {
                return Reply::Now(JoinResult::error(codes::UNKNOWN_MEMBER_ID, &req.member_id));
            }
            let id = req.member_id.clone();
            self.add_member(id, req, tx, now);
            self.on_membership_change(now, initial_delay);
            return Reply::Later(rx);
        }
        // A known member rejoining.
        let id = req.member_id.clone();
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let member = self.members.get_mut(&id).expect("checked above");
        let same_protocols = member.protocols == req.protocols;
        member.session_deadline = now + req.session_timeout;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        match self.state {
            GroupState::CompletingRebalance | GroupState::Stable
                if same_protocols
                    && (!is_leader || self.state == GroupState::CompletingRebalance) =>
            {
                // It missed (or repeats) the join response: answer with the current generation.
                Reply::Now(self.join_result_for(&id))
            }
            _ => {
                let member = self.members.get_mut(&id).expect("checked above");
                member.protocols = req.protocols;
                if let Some(old) = member.pending_join.replace(tx) {
                    let _ = old.send(JoinResult::error(codes::REBALANCE_IN_PROGRESS, &id));
                }
                if self.state == GroupState::PreparingRebalance {
                    self.maybe_complete_join(now);
                } else {
                    self.prepare_rebalance(now, initial_delay);
                }
                Reply::Later(rx)
            }
        }
    }

    /// KIP-345: a static member restarted (new member id, same instance id). The old id is
    /// fenced; its assignment carries over, and a stable group does not rebalance unless the
    /// member led it or changed its protocols.
    fn replace_static_member(
        &mut self,
        old_id: String,
        new_id: String,
        req: JoinRequest,
        now: Instant,
        initial_delay: Duration,
    ) -> Reply<JoinResult> {
        let Some(mut member) = self.members.remove(&old_id) else {
            self.static_members
                .remove(req.instance_id.as_deref().unwrap_or_default());
            return self.join(req, now, initial_delay, || new_id);
        };
        if let Some(old) = member.pending_join.take() {
            let _ = old.send(JoinResult::error(codes::FENCED_INSTANCE_ID, &old_id));
        }
        if let Some(old) = member.pending_sync.take() {
            let _ = old.send(SyncResult::error(codes::FENCED_INSTANCE_ID));
        }
        let was_leader = self.leader.as_deref() == Some(old_id.as_str());
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        let same_protocols = member.protocols == req.protocols;
        member.id = new_id.clone();
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.session_deadline = now + req.session_timeout;
        member.protocols = req.protocols;
        if let Some(instance) = &req.instance_id {
            self.static_members.insert(instance.clone(), new_id.clone());
        }
        let (tx, rx) = oneshot::channel();
        if self.state == GroupState::Stable && same_protocols && !was_leader {
            self.members.insert(new_id.clone(), member);
            return Reply::Now(self.join_result_for(&new_id));
        }
        member.pending_join = Some(tx);
        self.members.insert(new_id, member);
        if self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(now);
        } else {
            self.prepare_rebalance(now, initial_delay);
        }
        Reply::Later(rx)
    }

    fn add_member(
        &mut self,
        id: String,
        req: JoinRequest,
        tx: oneshot::Sender<JoinResult>,
        now: Instant,
    ) {
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        self.next_seq += 1;
        self.members.insert(
            id.clone(),
            Member {
                id,
                instance_id: req.instance_id,
                client_id: req.client_id,
                client_host: req.client_host,
                session_timeout: req.session_timeout,
                rebalance_timeout: req.rebalance_timeout,
                protocols: req.protocols,
                assignment: Bytes::new(),
                join_seq: self.next_seq,
                session_deadline: now + req.session_timeout,
                pending_join: Some(tx),
                pending_sync: None,
            },
        );
    }

    fn on_membership_change(&mut self, now: Instant, initial_delay: Duration) {
        match self.state {
            GroupState::PreparingRebalance => {
                // Kafka's initial delay: each join during it pushes completion back, within
                // the rebalance timeout.
                if self.join_not_before > now {
                    self.join_not_before =
                        (now + initial_window(initial_delay)).min(self.rebalance_deadline);
                }
                self.maybe_complete_join(now)
            }
            _ => self.prepare_rebalance(now, initial_delay),
        }
    }

    fn prepare_rebalance(&mut self, now: Instant, initial_delay: Duration) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(tx) = m.pending_sync.take() {
                    let _ = tx.send(SyncResult::error(codes::REBALANCE_IN_PROGRESS));
                }
            }
        }
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = now + timeout;
        self.join_not_before = if self.state == GroupState::Empty {
            (now + initial_window(initial_delay)).min(self.rebalance_deadline)
        } else {
            now
        };
        self.state = GroupState::PreparingRebalance;
        tracing::debug!(group = %self.id, generation = self.generation, "preparing rebalance");
        self.maybe_complete_join(now);
    }

    /// Ends the join phase once every member rejoined (after the initial delay) or the
    /// rebalance timeout passed; members that did not rejoin by then are removed.
    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(|m| m.pending_join.is_some());
        if !((all_joined && now >= self.join_not_before) || now >= self.rebalance_deadline) {
            return;
        }
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| m.pending_join.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            self.drop_member(&id);
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.protocol = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.join_seq)
                .map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        let sync_timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.sync_deadline = now + sync_timeout;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result_for(&id);
            let m = self.members.get_mut(&id).expect("listed above");
            m.session_deadline = now + m.session_timeout;
            if let Some(tx) = m.pending_join.take() {
                let _ = tx.send(result);
            }
        }
        tracing::debug!(group = %self.id, generation = self.generation, protocol = ?self.protocol,
            members = self.members.len(), "join phase complete");
    }

    /// Each member votes for its most preferred protocol that all members support; the most
    /// votes win, ties going to the leader's (earliest member's) preference order.
    fn select_protocol(&self) -> Option<String> {
        let mut by_seq: Vec<&Member> = self.members.values().collect();
        by_seq.sort_by_key(|m| m.join_seq);
        let first = by_seq.first()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                by_seq
                    .iter()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == *n))
            })
            .collect();
        let mut votes: HashMap<&String, usize> = HashMap::new();
        for m in &by_seq {
            if let Some((n, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
                *votes.entry(n).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        candidates
            .into_iter()
            .find(|c| votes.get(c) == Some(&best))
            .cloned()
    }

    fn join_result_for(&self, member_id: &str) -> JoinResult {
        let is_leader = self.leader.as_deref() == Some(member_id);
        let protocol = self.protocol.clone().unwrap_or_default();
        let mut members = Vec::new();
        if is_leader {
            let mut all: Vec<&Member> = self.members.values().collect();
            all.sort_by_key(|m| m.join_seq);
            members = all
                .into_iter()
                .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol)))
                .collect();
        }
        JoinResult {
            error: codes::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Checks a member's id, instance id and generation; NONE if they match the group.
    fn check_member(&self, member_id: &str, instance_id: Option<&str>, generation: i32) -> i16 {
        let fenced = self.check_instance(member_id, instance_id);
        if fenced != codes::NONE {
            return fenced;
        }
        if !self.members.contains_key(member_id) {
            return codes::UNKNOWN_MEMBER_ID;
        }
        if generation != self.generation {
            return codes::ILLEGAL_GENERATION;
        }
        codes::NONE
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Reply<SyncResult> {
        let err = self.check_member(member_id, instance_id, generation);
        if err != codes::NONE {
            return Reply::Now(SyncResult::error(err));
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|p| Some(p) != self.protocol.as_deref())
        {
            return Reply::Now(SyncResult::error(codes::INCONSISTENT_GROUP_PROTOCOL));
        }
        let is_leader = self.leader.as_deref() == Some(member_id);
        let result_for = |g: &Self, m: &Member| SyncResult {
            error: codes::NONE,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            assignment: m.assignment.clone(),
        };
        match self.state {
            GroupState::Empty => Reply::Now(SyncResult::error(codes::UNKNOWN_MEMBER_ID)),
            GroupState::PreparingRebalance => {
                Reply::Now(SyncResult::error(codes::REBALANCE_IN_PROGRESS))
            }
            GroupState::Stable => {
                let m = &self.members[member_id];
                Reply::Now(result_for(self, m))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                let m = self.members.get_mut(member_id).expect("checked");
                m.session_deadline = now + m.session_timeout;
                m.pending_sync = Some(tx);
                if is_leader {
                    let mut assignments: HashMap<String, Bytes> = assignments.into_iter().collect();
                    let pending: Vec<(oneshot::Sender<SyncResult>, SyncResult)> = {
                        let (pt, pn) = (self.protocol_type.clone(), self.protocol.clone());
                        self.members
                            .values_mut()
                            .filter_map(|m| {
                                m.assignment = assignments.remove(&m.id).unwrap_or_default();
                                m.session_deadline = now + m.session_timeout;
                                let tx = m.pending_sync.take()?;
                                Some((
                                    tx,
                                    SyncResult {
                                        error: codes::NONE,
                                        protocol_type: pt.clone(),
                                        protocol_name: pn.clone(),
                                        assignment: m.assignment.clone(),
                                    },
                                ))
                            })
                            .collect()
                    };
                    self.state = GroupState::Stable;
                    tracing::debug!(group = %self.id, generation = self.generation, "group stable");
                    for (tx, r) in pending {
                        let _ = tx.send(r);
                    }
                }
                Reply::Later(rx)
            }
        }
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        let err = self.check_member(member_id, instance_id, generation);
        if err != codes::NONE {
            return err;
        }
        let m = self.members.get_mut(member_id).expect("checked");
        m.session_deadline = now + m.session_timeout;
        match self.state {
            GroupState::PreparingRebalance => codes::REBALANCE_IN_PROGRESS,
            GroupState::Empty => codes::UNKNOWN_MEMBER_ID,
            _ => codes::NONE,
        }
    }

    /// LeaveGroup for one member (by member id, or by instance id when member id is empty).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
        initial_delay: Duration,
    ) -> (String, i16) {
        let id = match instance_id {
            Some(inst) => match self.static_members.get(inst) {
                Some(cur) if member_id.is_empty() || cur == member_id => cur.clone(),
                Some(_) => return (member_id.to_string(), codes::FENCED_INSTANCE_ID),
                None => return (member_id.to_string(), codes::UNKNOWN_MEMBER_ID),
            },
            None => member_id.to_string(),
        };
        if !self.members.contains_key(&id) {
            return (id, codes::UNKNOWN_MEMBER_ID);
        }
        self.remove_member(&id, now, initial_delay);
        (id, codes::NONE)
    }

    /// Removes a member and rebalances what is left.
    fn remove_member(&mut self, id: &str, now: Instant, initial_delay: Duration) {
        self.drop_member(id);
        match self.state {
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty => {}
            _ => self.prepare_rebalance(now, initial_delay),
        }
    }

    fn drop_member(&mut self, id: &str) {
        if let Some(mut m) = self.members.remove(id) {
            tracing::debug!(group = %self.id, member = id, "member removed");
            if let Some(tx) = m.pending_join.take() {
                let _ = tx.send(JoinResult::error(codes::UNKNOWN_MEMBER_ID, id));
            }
            if let Some(tx) = m.pending_sync.take() {
                let _ = tx.send(SyncResult::error(codes::UNKNOWN_MEMBER_ID));
            }
            if let Some(inst) = &m.instance_id
                && self.static_members.get(inst).map(String::as_str) == Some(id)
            {
                self.static_members.remove(inst);
            }
        }
    }

    /// Timer work: expired sessions, the end of a join phase, a leader that never synced.
    pub fn tick(&mut self, now: Instant, initial_delay: Duration) {
        self.pending_ids.retain(|_, deadline| *deadline > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.pending_join.is_none() && m.pending_sync.is_none() && m.session_deadline <= now
            })
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "session timed out");
            self.remove_member(&id, now, initial_delay);
        }
        match self.state {
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::CompletingRebalance if now >= self.sync_deadline => {
                let laggards: Vec<String> = self
                    .members
                    .values()
                    .filter(|m| m.pending_sync.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                tracing::info!(group = %self.id, ?laggards, "sync phase timed out");
                for id in laggards {
                    self.drop_member(&id);
                }
                self.prepare_rebalance(now, initial_delay);
            }
            _ => {}
        }
    }

    /// Validates a commit from a member (Kafka: Empty groups accept generation -1 commits from
    /// anyone, e.g. admin tools; members commit in their generation, not while the leader is
    /// computing the assignment).
    pub fn check_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        if generation < 0 && member_id.is_empty() && self.state == GroupState::Empty {
            return codes::NONE;
        }
        let err = self.check_member(member_id, instance_id, generation);
        if err != codes::NONE {
            return err;
        }
        if self.state == GroupState::CompletingRebalance {
            return codes::REBALANCE_IN_PROGRESS;
        }
        let m = self.members.get_mut(member_id).expect("checked");
        m.session_deadline = now + m.session_timeout;
        codes::NONE
    }

    /// Topics the members subscribe to (parsed from consumer-protocol metadata).
    pub fn subscribed_topics(&self) -> Vec<String> {
        let protocol = self.protocol.clone().unwrap_or_default();
        let mut out = Vec::new();
        for m in self.members.values() {
            out.extend(super::consumer_protocol::subscription_topics(
                &m.metadata(&protocol),
            ));
        }
        out.sort();
        out.dedup();
        out
    }
}

impl ClassicGroup {
    /// What a coordinator move must keep: the group once Stable (members, generation,
    /// assignments) or Empty; `None` mid-rebalance (the last Stable one stays written, and
    /// members rejoin from it).
    pub fn snapshot(&self) -> Option<ClassicSnapshot> {
        if !matches!(self.state, GroupState::Stable | GroupState::Empty) {
            return None;
        }
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.join_seq);
        Some(ClassicSnapshot {
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            members: members
                .into_iter()
                .map(|m| ClassicMemberSnapshot {
                    id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout.as_millis() as u64,
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as u64,
                    protocols: m
                        .protocols
                        .iter()
                        .map(|(n, b)| (n.clone(), b64(b)))
                        .collect(),
                    assignment: b64(&m.assignment),
                })
                .collect(),
        })
    }

    /// The group a snapshot describes, its members' sessions starting at `now`.
    pub fn restore(id: &str, s: ClassicSnapshot, now: Instant) -> Self {
        let mut g = Self::new(id, now);
        g.generation = s.generation;
        g.protocol_type = s.protocol_type;
        g.protocol = s.protocol;
        g.leader = s.leader;
        for m in s.members {
            let seq = g.next_seq;
            g.next_seq += 1;
            let session_timeout = Duration::from_millis(m.session_timeout_ms);
            if let Some(i) = &m.instance_id {
                g.static_members.insert(i.clone(), m.id.clone());
            }
            g.members.insert(
                m.id.clone(),
                Member {
                    id: m.id,
                    instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    session_timeout,
                    rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms),
                    protocols: m
                        .protocols
                        .iter()
                        .map(|(n, b)| (n.clone(), unb64(b)))
                        .collect(),
                    assignment: unb64(&m.assignment),
                    join_seq: seq,
                    session_deadline: now + session_timeout,
                    pending_join: None,
                    pending_sync: None,
                },
            );
        }
        g.state = if g.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        g
    }
}
