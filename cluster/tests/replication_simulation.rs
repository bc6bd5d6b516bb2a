//! Deterministic simulation of partition replication: one partition with three replicas, the
//! real metadata state machine and leases as the controller, `replication::LeaderPartition` on
//! each leader and leader-epoch truncation on followers, over a seeded network that delays,
//! drops and reorders messages and isolates nodes, with brokers crashing and restarting (their
//! logs survive, as on disk). A producer sends acks=all with `min.insync.replicas=2`, sometimes
//! to a broker whose metadata is stale.
//!
//! Invariants, per seed:
//! - one leader per leader epoch; the controller's image keeps `broken_invariants` empty;
//! - a leader's high watermark never goes back, and an offset below any high watermark never
//!   changes afterwards (the records a consumer could read are final);
//! - no follower truncates below its high watermark;
//! - every acknowledged record is, after healing, at its offset in every replica's log;
//! - after healing, all replicas hold the same log.
//!
//! `ODRADEK_SIM_SEEDS=N` runs N seeds (default 300); `ODRADEK_SIM_SEED=S` replays one. Nothing
//! here depends on anything but the seed: a replay is exact.

mod common;

use std::collections::{BTreeMap, HashMap};

use odradek_cluster::Applied;
use odradek_cluster::lease::Leases;
use odradek_cluster::metadata::{MetadataImage, MetadataRecord, NodeId};
use odradek_cluster::replication::{
    LeaderPartition, ReplicationConfig, diverging_epoch, truncation_offset,
};

const DEFAULT_SEEDS: u64 = 300;
/// Seeds that once broke an invariant, run every time as regressions (2436: a leader gave up an
/// unanswered ISR expansion and let its high watermark pass the new member).
const REGRESSION_SEEDS: &[u64] = &[2436];
const TOPIC: &str = "t";
const CONTROLLER: NodeId = 0;
const STEP_MS: u64 = 10;
const FAULT_STEPS: u64 = 600;
const HEAL_STEPS: u64 = 3000;
const CONFIG: ReplicationConfig = ReplicationConfig {
    lag_max_ms: 300,
    min_insync_replicas: 2,
};
const SESSION_TIMEOUT_MS: u64 = 400;
const MAX_RECORDS_PER_FETCH: usize = 5;

#[derive(Debug, Clone)]
enum Msg {
    Metadata(Box<MetadataImage>),
    Heartbeat {
        incarnation: u128,
    },
    ChangeIsr(MetadataRecord),
    Fetch {
        leader_epoch: i32,
        fetch_offset: i64,
        last_fetched_epoch: i32,
    },
    Records {
        leader_epoch: i32,
        base: i64,
        records: Vec<(i32, u64)>,
        high_watermark: i64,
    },
    Diverging {
        leader_epoch: i32,
        at: (i32, i64),
    },
    Refused,
}

#[derive(Debug)]
struct Node {
    id: NodeId,
    alive: bool,
    incarnation: u128,
    /// (leader epoch, value) per offset; survives crashes.
    log: Vec<(i32, u64)>,
    /// Leader-epoch history: (epoch, start offset).
    epochs: Vec<(i32, i64)>,
    known: MetadataImage,
    leader: Option<LeaderPartition>,
    high_watermark: i64,
    fetch_sent_at: Option<u64>,
}

impl Node {
    fn log_end(&self) -> i64 {
        self.log.len() as i64
    }

    fn note_epoch(&mut self, epoch: i32, start: i64) {
        if self.epochs.last().is_none_or(|(e, _)| *e < epoch) {
            self.epochs.push((epoch, start));
        }
    }

    fn truncate(&mut self, to: i64) {
        self.log.truncate(to as usize);
        self.epochs.retain(|(_, start)| *start < to);
    }
}

struct Sim {
    rng: fastrand::Rng,
    now: u64,
    seq: u64,
    drop_percent: u64,
    /// (deliver at, sequence) → (from, to, message).
    in_flight: BTreeMap<(u64, u64), (NodeId, NodeId, Msg)>,
    isolated: Option<NodeId>,
    controller: MetadataImage,
    leases: Leases,
    nodes: BTreeMap<NodeId, Node>,
    next_value: u64,
    /// Produced with acks=all and waiting for the high watermark: (node, epoch, offset, value).
    pending_acks: Vec<(NodeId, i32, i64, u64)>,
    acked: Vec<(i64, u64)>,
    /// Offsets a high watermark has passed, and what was there.
    committed: HashMap<i64, (i32, u64)>,
    leaders_by_epoch: BTreeMap<i32, NodeId>,
    not_enough_replicas: u64,
    violations: Vec<String>,
    /// `ODRADEK_SIM_TRACE=1`: print what happens (with a replayed seed).
    trace: bool,
}

macro_rules! trace {
    ($sim:expr, $($arg:tt)*) => {
        if $sim.trace {
            eprintln!("{:>6} {}", $sim.now, format!($($arg)*));
        }
    };
}

impl Sim {
    fn new(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let drop_percent = rng.u64(0..20);
        let mut sim = Self {
            rng,
            now: 0,
            seq: 0,
            drop_percent,
            in_flight: BTreeMap::new(),
            isolated: None,
            controller: MetadataImage::default(),
            leases: Leases::new(SESSION_TIMEOUT_MS),
            nodes: BTreeMap::new(),
            next_value: 0,
            pending_acks: vec![],
            acked: vec![],
            committed: HashMap::new(),
            leaders_by_epoch: BTreeMap::new(),
            not_enough_replicas: 0,
            violations: vec![],
            trace: std::env::var_os("ODRADEK_SIM_TRACE").is_some(),
        };
        for id in 1..=3 {
            let incarnation = u128::from(sim.rng.u64(..));
            sim.nodes.insert(
                id,
                Node {
                    id,
                    alive: true,
                    incarnation,
                    log: vec![],
                    epochs: vec![],
                    known: MetadataImage::default(),
                    leader: None,
                    high_watermark: 0,
                    fetch_sent_at: None,
                },
            );
            let Applied::Registered { epoch } = sim.apply(MetadataRecord::RegisterBroker {
                id,
                incarnation,
                listeners: vec![],
                rack: None,
            }) else {
                unreachable!("registration of a new broker")
            };
            sim.apply(MetadataRecord::UnfenceBroker { id, epoch });
        }
        sim.apply(MetadataRecord::CreateTopic {
            name: TOPIC.into(),
            id: 1,
            assignment: vec![vec![1, 2, 3]],
            configs: BTreeMap::new(),
        });
        sim.broadcast();
        sim
    }

    fn apply(&mut self, record: MetadataRecord) -> Applied {
        let offset = self.controller.last_offset + 1;
        let applied = self.controller.apply(offset, &record);
        for broken in self.controller.broken_invariants() {
            self.violations.push(format!("after {record:?}: {broken}"));
        }
        trace!(
            self,
            "controller: {record:?} → {applied:?}; now {:?}",
            self.controller.partition(TOPIC, 0)
        );
        applied
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        let cut = self.isolated.is_some_and(|i| i == from || i == to);
        if cut || self.rng.u64(0..100) < self.drop_percent {
            return;
        }
        self.seq += 1;
        let at = self.now + self.rng.u64(1..50);
        self.in_flight.insert((at, self.seq), (from, to, msg));
    }

    fn broadcast(&mut self) {
        for id in 1..=3 {
            let image = Box::new(self.controller.clone());
            self.send(CONTROLLER, id, Msg::Metadata(image));
        }
    }

    fn step(&mut self, faults: bool) {
        self.now += STEP_MS;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (from, to, msg) = entry.remove();
            self.deliver(from, to, msg);
        }
        if faults {
            self.inject_faults();
            if self.rng.u8(0..2) == 0 {
                self.produce();
            }
        }
        for id in 1..=3 {
            self.node_tick(id);
        }
        self.controller_tick();
        self.settle_acks();
        self.check_high_watermarks();
    }

    fn inject_faults(&mut self) {
        match self.rng.u16(0..400) {
            0..=2 => {
                let id = self.rng.u64(1..=3);
                let down = self.nodes.values().filter(|n| !n.alive).count();
                if down < 2 {
                    let n = self.nodes.get_mut(&id).unwrap();
                    n.alive = false;
                    n.leader = None;
                    n.fetch_sent_at = None;
                }
            }
            3..=6 => {
                if let Some(n) = self.nodes.values_mut().find(|n| !n.alive) {
                    n.alive = true;
                    n.incarnation = u128::from(self.rng.u64(..));
                    n.known = MetadataImage::default();
                    n.high_watermark = 0;
                }
            }
            7 | 8 => self.isolated = Some(self.rng.u64(1..=3)),
            9..=12 => self.isolated = None,
            _ => {}
        }
    }

    /// acks=all to a broker that thinks it leads (by its own, maybe stale, metadata).
    fn produce(&mut self) {
        let leaders: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.alive && n.leader.is_some())
            .map(|n| n.id)
            .collect();
        if leaders.is_empty() {
            return;
        }
        let id = leaders[self.rng.usize(0..leaders.len())];
        self.next_value += 1;
        let value = self.next_value;
        let n = self.nodes.get_mut(&id).unwrap();
        let leader = n.leader.as_mut().unwrap();
        if leader.check_acks_all().is_err() {
            self.not_enough_replicas += 1;
            return;
        }
        let epoch = leader.leader_epoch();
        let offset = n.log.len() as i64;
        n.log.push((epoch, value));
        let end = n.log_end();
        n.leader.as_mut().unwrap().appended(end);
        self.pending_acks.push((id, epoch, offset, value));
    }

    fn node_tick(&mut self, id: NodeId) {
        let now = self.now;
        let n = &self.nodes[&id];
        if !n.alive {
            return;
        }
        let incarnation = n.incarnation;
        self.send(id, CONTROLLER, Msg::Heartbeat { incarnation });
        let n = self.nodes.get_mut(&id).unwrap();
        if let Some(leader) = n.leader.as_mut() {
            if let Some(change) = leader.tick(now) {
                self.send(id, CONTROLLER, Msg::ChangeIsr(change));
            }
            return;
        }
        let Some(p) = n.known.partition(TOPIC, 0) else {
            return;
        };
        let (Some(leader), epoch) = (p.leader, p.leader_epoch) else {
            return;
        };
        let waiting = n.fetch_sent_at.is_some_and(|at| now - at < 200);
        if leader == id || !p.replicas.contains(&id) || waiting {
            return;
        }
        n.fetch_sent_at = Some(now);
        let msg = Msg::Fetch {
            leader_epoch: epoch,
            fetch_offset: n.log_end(),
            last_fetched_epoch: n.log.last().map_or(-1, |(e, _)| *e),
        };
        self.send(id, leader, msg);
    }

    fn controller_tick(&mut self) {
        let fence = self.leases.expired(&self.controller, self.now);
        let mut changed = !fence.is_empty();
        for record in fence {
            self.apply(record);
        }
        // Metadata updates get lost too: re-send now and then.
        changed |= self.rng.u8(0..10) == 0;
        if changed {
            self.broadcast();
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        if to == CONTROLLER {
            return self.controller_receives(from, msg);
        }
        if !self.nodes[&to].alive {
            return;
        }
        match msg {
            Msg::Metadata(image) => self.metadata_arrives(to, *image),
            Msg::Fetch {
                leader_epoch,
                fetch_offset,
                last_fetched_epoch,
            } => {
                let reply =
                    self.leader_answers(to, from, leader_epoch, fetch_offset, last_fetched_epoch);
                self.send(to, from, reply);
            }
            Msg::Records {
                leader_epoch,
                base,
                records,
                high_watermark,
            } => {
                let n = self.nodes.get_mut(&to).unwrap();
                n.fetch_sent_at = None;
                let current = n.known.partition(TOPIC, 0).map(|p| p.leader_epoch);
                if n.leader.is_some() || current != Some(leader_epoch) || base != n.log_end() {
                    return;
                }
                for (epoch, value) in records {
                    let at = n.log_end();
                    n.note_epoch(epoch, at);
                    n.log.push((epoch, value));
                }
                n.high_watermark = n.high_watermark.max(high_watermark.min(n.log_end()));
            }
            Msg::Diverging { leader_epoch, at } => {
                let n = self.nodes.get_mut(&to).unwrap();
                n.fetch_sent_at = None;
                let current = n.known.partition(TOPIC, 0).map(|p| p.leader_epoch);
                if n.leader.is_some() || current != Some(leader_epoch) {
                    return;
                }
                let to_offset = truncation_offset(&n.epochs, n.log_end(), at);
                let n = &self.nodes[&to];
                if to_offset < n.high_watermark {
                    self.violations.push(format!(
                        "node {to} truncated to {to_offset}, below its high watermark {}",
                        n.high_watermark
                    ));
                }
                trace!(
                    self,
                    "node {to} truncates {} → {to_offset} (diverging {at:?}, hw {})",
                    self.nodes[&to].log_end(),
                    self.nodes[&to].high_watermark
                );
                self.nodes.get_mut(&to).unwrap().truncate(to_offset);
            }
            Msg::Refused => self.nodes.get_mut(&to).unwrap().fetch_sent_at = None,
            Msg::Heartbeat { .. } | Msg::ChangeIsr(_) => {}
        }
    }

    fn controller_receives(&mut self, from: NodeId, msg: Msg) {
        match msg {
            Msg::Heartbeat { incarnation } => {
                let registered = self.controller.brokers.get(&from).cloned();
                let epoch = match registered {
                    Some(b) if b.incarnation == incarnation => b.epoch,
                    _ => {
                        let Applied::Registered { epoch } =
                            self.apply(MetadataRecord::RegisterBroker {
                                id: from,
                                incarnation,
                                listeners: vec![],
                                rack: None,
                            })
                        else {
                            unreachable!("registration always succeeds")
                        };
                        self.broadcast();
                        epoch
                    }
                };
                self.leases.heartbeat(from, epoch, self.now);
                if self.controller.brokers[&from].fenced {
                    self.apply(MetadataRecord::UnfenceBroker { id: from, epoch });
                    self.broadcast();
                }
            }
            Msg::ChangeIsr(record) => {
                let applied = self.apply(record);
                if applied == Applied::Done {
                    self.broadcast();
                }
            }
            _ => {}
        }
    }

    fn metadata_arrives(&mut self, id: NodeId, image: MetadataImage) {
        let now = self.now;
        let n = self.nodes.get_mut(&id).unwrap();
        if image.last_offset <= n.known.last_offset {
            return;
        }
        n.known = image;
        let Some(p) = n.known.partition(TOPIC, 0).cloned() else {
            return;
        };
        let (end, hw) = (n.log_end(), n.high_watermark);
        trace!(self, "node {id} learns {p:?} (log end {end}, hw {hw})");
        let n = self.nodes.get_mut(&id).unwrap();
        if let Some(leader) = n.leader.as_mut()
            && !leader.metadata_changed(&p, now)
        {
            n.leader = None;
        }
        if n.leader.is_none() && p.leader == Some(id) {
            let start = n.log_end();
            n.note_epoch(p.leader_epoch, start);
            let state =
                LeaderPartition::new(id, (TOPIC, 0), &p, start, n.high_watermark, CONFIG, now);
            n.fetch_sent_at = None;
            n.leader = Some(state);
            if let Some(other) = self.leaders_by_epoch.insert(p.leader_epoch, id)
                && other != id
            {
                self.violations.push(format!(
                    "leader epoch {} led by {other} and {id}",
                    p.leader_epoch
                ));
            }
        }
    }

    fn leader_answers(
        &mut self,
        id: NodeId,
        follower: NodeId,
        leader_epoch: i32,
        fetch_offset: i64,
        last_fetched_epoch: i32,
    ) -> Msg {
        let now = self.now;
        let n = self.nodes.get_mut(&id).unwrap();
        let log_end = n.log_end();
        let Some(leader) = n
            .leader
            .as_mut()
            .filter(|l| l.leader_epoch() == leader_epoch)
        else {
            return Msg::Refused;
        };
        if let Some(at) = diverging_epoch(&n.epochs, log_end, last_fetched_epoch, fetch_offset) {
            return Msg::Diverging { leader_epoch, at };
        }
        let Ok(accepted) = leader.follower_fetch(follower, fetch_offset, now) else {
            return Msg::Refused;
        };
        let end = (fetch_offset as usize + MAX_RECORDS_PER_FETCH).min(n.log.len());
        let records = n.log[fetch_offset as usize..end].to_vec();
        if let Some(change) = accepted.propose {
            self.send(id, CONTROLLER, Msg::ChangeIsr(change));
        }
        Msg::Records {
            leader_epoch,
            base: fetch_offset,
            records,
            high_watermark: accepted.high_watermark,
        }
    }

    /// acks=all completes when the leader that took the record, still leading in that epoch,
    /// has a high watermark past it; a leader that lost its leadership fails the request.
    fn settle_acks(&mut self) {
        let nodes = &self.nodes;
        let mut acked = vec![];
        self.pending_acks.retain(|&(id, epoch, offset, value)| {
            let n = &nodes[&id];
            match n
                .leader
                .as_ref()
                .filter(|l| n.alive && l.leader_epoch() == epoch)
            {
                None => false,
                Some(l) if l.high_watermark() > offset => {
                    acked.push((offset, value));
                    false
                }
                Some(_) => true,
            }
        });
        self.acked.extend(acked);
    }

    fn check_high_watermarks(&mut self) {
        for n in self.nodes.values_mut() {
            let Some(leader) = n.leader.as_ref().filter(|_| n.alive) else {
                continue;
            };
            let hw = leader.high_watermark();
            if hw < n.high_watermark {
                self.violations.push(format!(
                    "node {}'s high watermark went back from {} to {hw}",
                    n.id, n.high_watermark
                ));
            }
            n.high_watermark = hw;
            for offset in 0..hw {
                let entry = n.log[offset as usize];
                match self.committed.insert(offset, entry) {
                    Some(before) if before != entry => self.violations.push(format!(
                        "offset {offset} below a high watermark changed from {before:?} to \
                         {entry:?} (leader {})",
                        n.id
                    )),
                    _ => {}
                }
            }
        }
    }

    fn converged(&self) -> bool {
        let first = &self.nodes[&1].log;
        self.nodes.values().all(|n| n.alive && n.log == *first)
            && self.nodes.values().any(|n| {
                n.leader
                    .as_ref()
                    .is_some_and(|l| l.high_watermark() == n.log_end())
            })
    }

    fn run(mut self) -> (Vec<String>, (usize, u64, usize)) {
        for _ in 0..FAULT_STEPS {
            self.step(true);
        }
        self.isolated = None;
        self.drop_percent = 0;
        for n in self.nodes.values_mut() {
            if !n.alive {
                n.alive = true;
                n.incarnation += 1;
                n.known = MetadataImage::default();
                n.high_watermark = 0;
            }
        }
        let mut healed = false;
        for _ in 0..HEAL_STEPS {
            self.step(false);
            if self.converged() {
                healed = true;
                break;
            }
        }
        if !healed {
            self.violations
                .push("replicas did not converge after the faults healed".into());
        }
        let log = self.nodes[&1].log.clone();
        for &(offset, value) in &self.acked {
            if log.get(offset as usize).map(|e| e.1) != Some(value) {
                self.violations.push(format!(
                    "acknowledged record {value} at offset {offset} lost (now {:?})",
                    log.get(offset as usize)
                ));
            }
        }
        let stats = (
            self.acked.len(),
            self.not_enough_replicas,
            self.leaders_by_epoch.len(),
        );
        (self.violations, stats)
    }
}

#[test]
fn replication_keeps_acknowledged_records_and_the_high_watermark_under_faults() {
    let seeds = common::seeds(DEFAULT_SEEDS, REGRESSION_SEEDS);
    let started = std::time::Instant::now();
    let (mut acked, mut refused, mut epochs) = (0, 0, 0);
    for seed in &seeds {
        let (violations, (a, r, e)) = Sim::new(*seed).run();
        assert!(
            violations.is_empty(),
            "seed {seed} broke replication's invariants (replay: ODRADEK_SIM_SEED={seed} \
             cargo test -p odradek-cluster --test replication_simulation):\n  {}",
            violations.join("\n  ")
        );
        acked += a;
        refused += r;
        epochs += e;
    }
    println!(
        "simulated {} seeds in {:.1} s: {acked} records acknowledged, {refused} produces refused \
         with NOT_ENOUGH_REPLICAS, {epochs} leader epochs",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
}
