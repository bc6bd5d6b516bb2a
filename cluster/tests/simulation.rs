//! Deterministic simulation of the metadata quorum: three or five controllers on the real
//! storage (temp dirs) and the real RPC codec, in one thread on tokio's paused clock, with an
//! in-memory network that delays, drops and reorders messages and partitions nodes, and with
//! controllers crashing and restarting, all drawn from one seed.
//!
//! Proposals go straight into a node's raft or, as a broker's would, through `ControllerClient`
//! over the same network.
//!
//! Invariants checked on every seed:
//! - at most one active controller per term;
//! - every image applied holds `MetadataImage::broken_invariants` empty (leaders live and in
//!   their ISR, ISRs never empty, ...);
//! - state-machine safety: every node that applies raft index i holds the same image after it
//!   (a restarted node re-applying its log included), so committed metadata is never rewritten;
//! - a node's applied index never goes back while it runs;
//! - every acknowledged proposal is in the final image of every node (no committed metadata
//!   lost), and acknowledged producer-id blocks never overlap;
//! - after the faults heal, every node converges to the same image.
//!
//! `ODRADEK_SIM_SEEDS=N` runs N seeds (default 40, about 15 s); `ODRADEK_SIM_SEED=S` replays
//! one seed.
//! The network's faults and openraft's election timeouts are functions of the seed; tokio's own
//! choice between two ready branches of an unbiased `select!` inside openraft is not, so a replay
//! follows the same fault schedule but is not guaranteed to interleave identically.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use odradek_cluster::active::ControllerHandle;
use odradek_cluster::client::ControllerClient;
use odradek_cluster::metadata::{Election, assign_replicas};
use odradek_cluster::raft::{Raft, seed_thread_rng};
use odradek_cluster::rpc::{RpcRequest, RpcResponse, Transport, TransportFactory, dispatch};
use odradek_cluster::{Applied, Controller, ControllerConfig, MetadataImage, MetadataRecord};
use openraft::{BasicNode, ServerState};

const DEFAULT_SEEDS: u64 = 40;
/// Seeds that once broke an invariant (503: a leader's log reader returned entries after a
/// purged gap, and the follower was sent them as if they followed its last entry).
const REGRESSION_SEEDS: &[u64] = &[503];
/// The network address of proposals sent through `ControllerClient` (never isolated).
const CLIENT: u64 = 0;
const STEPS: usize = 80;

/// The simulated network shared by every node's transports.
#[derive(Default)]
struct Net {
    rng: Mutex<Option<fastrand::Rng>>,
    /// Running nodes' raft handles; a crashed node is absent.
    nodes: Mutex<BTreeMap<u64, ControllerHandle>>,
    /// Nodes cut off from everyone.
    isolated: Mutex<BTreeSet<u64>>,
    /// Per-message drop probability in percent.
    drop_percent: u8,
}

impl Net {
    fn draw(&self, f: impl FnOnce(&mut fastrand::Rng) -> u64) -> u64 {
        f(self.rng.lock().unwrap().as_mut().expect("seeded"))
    }

    fn link_up(&self, a: u64, b: u64) -> bool {
        let cut = self.isolated.lock().unwrap();
        !cut.contains(&a) && !cut.contains(&b)
    }

    fn delivered(&self, from: u64, to: u64) -> bool {
        self.link_up(from, to) && self.draw(|r| r.u64(0..100)) >= u64::from(self.drop_percent)
    }
}

fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, what.to_string())
}

struct SimTransport {
    from: u64,
    to: u64,
    net: Arc<Net>,
}

impl Transport for SimTransport {
    async fn call(&mut self, request: RpcRequest) -> io::Result<RpcResponse> {
        // Independent random delays per message reorder messages between tasks.
        let delay = self.net.draw(|r| r.u64(1..40));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if !self.net.delivered(self.from, self.to) {
            return Err(refused("request lost"));
        }
        let node = self.net.nodes.lock().unwrap().get(&self.to).cloned();
        let node = node.ok_or_else(|| refused("node down"))?;
        // Through the wire codec, as over TCP.
        let bytes = serde_json::to_vec(&request).map_err(io::Error::other)?;
        let request = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
        let response = dispatch(&node, request).await;
        let delay = self.net.draw(|r| r.u64(1..40));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if !self.net.delivered(self.to, self.from) {
            return Err(refused("response lost"));
        }
        let bytes = serde_json::to_vec(&response).map_err(io::Error::other)?;
        serde_json::from_slice(&bytes).map_err(io::Error::other)
    }
}

struct SimFactory {
    from: u64,
    net: Arc<Net>,
}

impl TransportFactory for SimFactory {
    type Transport = SimTransport;
    fn connect(&mut self, target: u64, _node: &BasicNode) -> SimTransport {
        SimTransport {
            from: self.from,
            to: target,
            net: self.net.clone(),
        }
    }
}

/// What the checks collect while the run goes on; a violation is recorded, not panicked, so
/// the seed is reported by the driver.
#[derive(Default)]
struct Observed {
    /// term → the node that led it.
    leaders: BTreeMap<u64, u64>,
    /// raft index → digest of the image after applying it (first node to apply it decides).
    digests: HashMap<u64, u64>,
    acked: Vec<(u64, MetadataRecord, Applied)>,
    violations: Vec<String>,
}

fn digest(image: &MetadataImage) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_vec(image).unwrap().hash(&mut h);
    h.finish()
}

struct Sim {
    seed: u64,
    rng: fastrand::Rng,
    net: Arc<Net>,
    dirs: Vec<tempfile::TempDir>,
    voters: BTreeMap<u64, String>,
    controllers: BTreeMap<u64, Controller>,
    observed: Arc<Mutex<Observed>>,
    topics_created: u64,
    /// Draws for reassignments and elections only (see `workload_record`).
    admin_rng: fastrand::Rng,
    /// openraft's election timeout range, in ms.
    election_timeout: Range<u64>,
}

impl Sim {
    fn new(seed: u64, rng: fastrand::Rng, nodes: u64, drop_percent: u8) -> Self {
        let net = Arc::new(Net {
            rng: Mutex::new(Some(fastrand::Rng::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15))),
            drop_percent,
            ..Default::default()
        });
        Sim {
            seed,
            rng,
            net,
            dirs: (0..nodes).map(|_| tempfile::tempdir().unwrap()).collect(),
            voters: (1..=nodes).map(|id| (id, format!("sim-{id}"))).collect(),
            controllers: BTreeMap::new(),
            observed: Arc::default(),
            topics_created: 0,
            admin_rng: fastrand::Rng::with_seed(seed ^ 0x5eed_ad11),
            election_timeout: 150..300,
        }
    }

    fn config(&self, id: u64) -> ControllerConfig {
        ControllerConfig {
            node_id: id,
            data_dir: self.dirs[(id - 1) as usize].path().to_path_buf(),
            voters: self.voters.clone(),
            sync: false,
            raft: openraft::Config {
                heartbeat_interval: 50,
                election_timeout_min: self.election_timeout.start,
                election_timeout_max: self.election_timeout.end,
                // Small, so snapshots, purges and snapshot installs happen within a run.
                snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(8),
                max_in_snapshot_log_to_keep: 2,
                ..Default::default()
            },
            broker_session_timeout_ms: 9_000,
            leader_rebalance: None,
        }
    }

    async fn start(&mut self, id: u64) {
        let observed = self.observed.clone();
        let observer = Box::new(move |index: u64, image: &MetadataImage| {
            let d = digest(image);
            let mut o = observed.lock().unwrap();
            for broken in image.broken_invariants() {
                o.violations
                    .push(format!("node {id}, raft index {index}: {broken}"));
            }
            match o.digests.get(&index) {
                None => {
                    o.digests.insert(index, d);
                }
                Some(first) if *first != d => o.violations.push(format!(
                    "node {id} holds a different image after raft index {index}"
                )),
                Some(_) => {}
            }
        });
        let factory = SimFactory {
            from: id,
            net: self.net.clone(),
        };
        let controller = Controller::start(self.config(id), factory, Some(observer))
            .await
            .expect("controller starts");
        self.net
            .nodes
            .lock()
            .unwrap()
            .insert(id, controller.handle().clone());
        watch_leadership(id, controller.raft().clone(), self.observed.clone());
        self.controllers.insert(id, controller);
    }

    async fn crash(&mut self, id: u64) {
        self.net.nodes.lock().unwrap().remove(&id);
        if let Some(c) = self.controllers.remove(&id) {
            c.shutdown().await;
        }
    }

    /// A proposal built from `from`'s current view (so it may be stale and be rejected). One
    /// in four is a reassignment or a leader election instead, drawn from a generator of its
    /// own so each seed's other draws (faults, timings) stay what they were before these
    /// records were added.
    fn workload_record(&mut self, image: &MetadataImage) -> MetadataRecord {
        let record = self.regular_record(image);
        if self.admin_rng.u8(0..4) > 0 {
            return record;
        }
        self.admin_record(image).unwrap_or(record)
    }

    /// A reassignment (to 1–3 of brokers 1–4, or a cancel) or an election of a random partition.
    fn admin_record(&mut self, image: &MetadataImage) -> Option<MetadataRecord> {
        let rng = &mut self.admin_rng;
        let (name, t) = image
            .topics
            .iter()
            .nth(rng.usize(0..image.topics.len().max(1)))?;
        let partition = rng.u32(0..t.partitions.len() as u32);
        if rng.bool() {
            let target = (rng.u8(0..4) > 0).then(|| {
                let mut ids = vec![1, 2, 3, 4];
                rng.shuffle(&mut ids);
                ids.truncate(rng.usize(1..=3));
                ids
            });
            return Some(MetadataRecord::ReassignPartition {
                topic: name.clone(),
                partition,
                target,
            });
        }
        let election = if rng.bool() {
            Election::Preferred
        } else {
            Election::Unclean
        };
        Some(MetadataRecord::ElectLeader {
            topic: name.clone(),
            partition,
            election,
        })
    }

    fn regular_record(&mut self, image: &MetadataImage) -> MetadataRecord {
        let broker = self.rng.u64(1..=4);
        let epoch_of = |id| image.brokers.get(&id).map_or(0, |b| b.epoch);
        match self.rng.u8(0..7) {
            0 => MetadataRecord::RegisterBroker {
                id: broker,
                incarnation: u128::from(self.rng.u64(..)),
                listeners: vec![],
                rack: None,
            },
            1 => MetadataRecord::UnfenceBroker {
                id: broker,
                epoch: epoch_of(broker),
            },
            2 => MetadataRecord::FenceBroker {
                id: broker,
                epoch: epoch_of(broker),
            },
            3 => {
                self.topics_created += 1;
                let partitions = self.rng.u32(1..=3);
                let rf = self.rng.u16(1..=2);
                let assignment = assign_replicas(image, partitions, rf, self.rng.usize(0..4))
                    .unwrap_or_else(|| vec![vec![1]; partitions as usize]);
                MetadataRecord::CreateTopic {
                    name: format!("s{}-t{}", self.seed, self.topics_created),
                    id: u128::from(self.topics_created),
                    assignment,
                    configs: BTreeMap::new(),
                }
            }
            4 => {
                let Some((name, t)) = image
                    .topics
                    .iter()
                    .nth(self.rng.usize(0..image.topics.len().max(1)))
                else {
                    return MetadataRecord::AllocateProducerIds { broker, count: 10 };
                };
                let partition = self.rng.u32(0..t.partitions.len() as u32);
                let p = &t.partitions[partition as usize];
                let Some(leader) = p.leader else {
                    return MetadataRecord::AllocateProducerIds { broker, count: 10 };
                };
                let mut isr = vec![leader];
                isr.extend(
                    p.replicas
                        .iter()
                        .filter(|r| **r != leader && self.rng.bool()),
                );
                MetadataRecord::ChangeIsr {
                    topic: name.clone(),
                    partition,
                    leader,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    isr,
                }
            }
            5 => MetadataRecord::SetTopicConfig {
                topic: image.topics.keys().next().cloned().unwrap_or_default(),
                key: "retention.ms".into(),
                value: Some(self.rng.u32(..).to_string()),
            },
            _ => MetadataRecord::AllocateProducerIds { broker, count: 10 },
        }
    }

    fn propose_somewhere(&mut self) {
        let ids: Vec<u64> = self.controllers.keys().copied().collect();
        if ids.is_empty() {
            return;
        }
        let id = ids[self.rng.usize(0..ids.len())];
        let controller = &self.controllers[&id];
        let image = controller.image();
        let raft = controller.raft().clone();
        let record = self.workload_record(&image);
        let observed = self.observed.clone();
        let ack = move |index: u64, record: MetadataRecord, applied: Applied| {
            observed
                .lock()
                .unwrap()
                .acked
                .push((index, record, applied));
        };
        if self.rng.bool() {
            // Straight into one node's raft (a follower refuses with ForwardToLeader).
            tokio::spawn(async move {
                if let Ok(r) = raft.client_write(record.clone()).await {
                    ack(r.log_id.index, record, r.data);
                }
            });
        } else {
            // As a broker would: over the network to whichever controller is active.
            let factory = SimFactory {
                from: CLIENT,
                net: self.net.clone(),
            };
            let mut client = ControllerClient::new(&self.voters, factory);
            tokio::spawn(async move {
                if let Ok((log_id, applied)) = client.propose(record.clone()).await {
                    ack(log_id.index, record, applied);
                }
            });
        }
    }

    async fn run(&mut self) {
        let ids: Vec<u64> = self.voters.keys().copied().collect();
        for id in &ids {
            self.start(*id).await;
        }
        let mut down: BTreeSet<u64> = BTreeSet::new();
        for _ in 0..STEPS {
            match self.rng.u8(0..20) {
                0..=9 => self.propose_somewhere(),
                10 | 11 => {
                    // Crash one node, keeping a majority running most of the time.
                    let id = ids[self.rng.usize(0..ids.len())];
                    if down.len() + 1 < ids.len().div_ceil(2) + usize::from(self.rng.bool()) {
                        self.crash(id).await;
                        down.insert(id);
                    }
                }
                12 | 13 => {
                    if let Some(id) = down.pop_first() {
                        self.start(id).await;
                    }
                }
                14 => {
                    let id = ids[self.rng.usize(0..ids.len())];
                    self.net.isolated.lock().unwrap().insert(id);
                }
                15 | 16 => self.net.isolated.lock().unwrap().clear(),
                _ => {}
            }
            let pause = self.rng.u64(5..400);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        // Heal: everyone up and connected, then wait for the quorum to settle.
        self.net.isolated.lock().unwrap().clear();
        for id in std::mem::take(&mut down) {
            self.start(id).await;
        }
        // One more proposal through whoever leads, so every node has something to catch up on.
        self.settle().await;
    }

    /// Waits (in simulated time) until every node has applied the same last index, at or past
    /// every acknowledged proposal, with a barrier write committed after the heal.
    async fn settle(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let mut barrier: Option<u64> = None;
        loop {
            if tokio::time::Instant::now() > deadline {
                let nodes: Vec<String> = self
                    .controllers
                    .values()
                    .map(|c| {
                        let m = c.raft().metrics().borrow().clone();
                        format!(
                            "{}: {:?} term {} leader {:?} log {:?} applied {:?} snapshot {:?} \
                             purged {:?} {:?}",
                            c.node_id,
                            m.state,
                            m.current_term,
                            m.current_leader,
                            m.last_log_index,
                            m.last_applied.map(|l| l.index),
                            m.snapshot.map(|l| l.index),
                            m.purged.map(|l| l.index),
                            m.running_state
                        )
                    })
                    .collect();
                self.observed.lock().unwrap().violations.push(format!(
                    "the quorum did not converge within 120 s after the faults healed (barrier \
                     {barrier:?}):\n    {}",
                    nodes.join("\n    ")
                ));
                return;
            }
            if barrier.is_none() {
                let leader = self
                    .controllers
                    .values()
                    .find_map(|c| c.current_leader())
                    .and_then(|l| self.controllers.get(&l));
                if let Some(c) = leader {
                    let write = MetadataRecord::AllocateProducerIds {
                        broker: 0,
                        count: 1,
                    };
                    let t =
                        tokio::time::timeout(Duration::from_secs(2), c.raft().client_write(write));
                    if let Ok(Ok(r)) = t.await {
                        barrier = Some(r.log_id.index);
                    }
                }
            }
            let acked_max = self
                .observed
                .lock()
                .unwrap()
                .acked
                .iter()
                .map(|a| a.0)
                .max();
            let target = barrier.max(acked_max);
            let applied: BTreeSet<Option<u64>> = self
                .controllers
                .values()
                .map(|c| c.raft().metrics().borrow().last_applied.map(|l| l.index))
                .collect();
            if barrier.is_some() && applied.len() == 1 && applied.first().unwrap() >= &target {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn check_final(&self) -> Vec<String> {
        let mut observed = self.observed.lock().unwrap();
        let images: Vec<(u64, Arc<MetadataImage>)> = self
            .controllers
            .iter()
            .map(|(id, c)| (*id, c.image()))
            .collect();
        let mut v = std::mem::take(&mut observed.violations);
        if v.is_empty() {
            let first = &images[0].1;
            for (id, image) in &images[1..] {
                if image != first {
                    v.push(format!(
                        "node {id}'s final image differs from node {}'s",
                        images[0].0
                    ));
                }
            }
            let mut blocks = vec![];
            for (index, record, applied) in &observed.acked {
                match (record, applied) {
                    (MetadataRecord::CreateTopic { name, .. }, Applied::Done)
                        if !first.topics.contains_key(name) =>
                    {
                        v.push(format!(
                            "acknowledged topic {name} (raft index {index}) lost"
                        ));
                    }
                    (_, Applied::ProducerIds { start, count }) => {
                        blocks.push((*start, start + i64::from(*count), *index));
                    }
                    _ => {}
                }
                if first.last_offset < *index {
                    v.push(format!(
                        "acknowledged raft index {index} is past the final image"
                    ));
                }
            }
            blocks.sort();
            for w in blocks.windows(2) {
                if w[0].1 > w[1].0 {
                    v.push(format!(
                        "producer-id blocks overlap: {:?} and {:?}",
                        w[0], w[1]
                    ));
                }
            }
        }
        v
    }
}

/// Records who led each term and that this node's applied index never goes back.
fn watch_leadership(id: u64, raft: Raft, observed: Arc<Mutex<Observed>>) {
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        let mut applied = None;
        loop {
            {
                let m = metrics.borrow_and_update();
                let mut o = observed.lock().unwrap();
                if m.state == ServerState::Leader {
                    match o.leaders.insert(m.current_term, id) {
                        Some(other) if other != id => o.violations.push(format!(
                            "two leaders in term {}: {other} and {id}",
                            m.current_term
                        )),
                        _ => {}
                    }
                }
                if let Err(e) = &m.running_state
                    && !matches!(e, openraft::error::Fatal::Stopped)
                {
                    o.violations.push(format!("node {id}'s raft failed: {e}"));
                }
                let now = m.last_applied.map(|l| l.index);
                if now < applied {
                    o.violations.push(format!(
                        "node {id}'s applied index went back from {applied:?} to {now:?}"
                    ));
                }
                applied = now;
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
}

/// What one seed did, so the printout shows the faults were real.
#[derive(Debug, Default)]
struct Stats {
    acked: usize,
    terms: usize,
    last_index: u64,
}

/// One thread on tokio's paused clock: simulated time, advanced only when every task waits.
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn run_seed(seed: u64) -> (Vec<String>, Stats) {
    let rt = paused_runtime();
    rt.block_on(async {
        seed_thread_rng(seed);
        let mut rng = fastrand::Rng::with_seed(seed);
        let nodes = if rng.u8(0..4) == 0 { 5 } else { 3 };
        let drop_percent = rng.u8(0..15);
        let mut sim = Sim::new(seed, rng, nodes, drop_percent);
        sim.run().await;
        let violations = sim.check_final();
        let stats = {
            let o = sim.observed.lock().unwrap();
            Stats {
                acked: o.acked.len(),
                terms: o.leaders.len(),
                last_index: o.digests.keys().max().copied().unwrap_or(0),
            }
        };
        for id in sim.controllers.keys().copied().collect::<Vec<_>>() {
            sim.crash(id).await;
        }
        (violations, stats)
    })
}

#[test]
fn metadata_quorum_keeps_its_invariants_under_faults() {
    let seeds = common::seeds(DEFAULT_SEEDS, REGRESSION_SEEDS);
    if let Ok(filter) = std::env::var("ODRADEK_SIM_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .init();
    }
    let started = std::time::Instant::now();
    let mut total = Stats::default();
    for seed in &seeds {
        let (violations, stats) = run_seed(*seed);
        if seeds.len() == 1 {
            println!("seed {seed}: {stats:?}");
        }
        total.acked += stats.acked;
        total.terms += stats.terms;
        total.last_index += stats.last_index;
        assert!(
            violations.is_empty(),
            "seed {seed} broke the quorum's invariants (replay: ODRADEK_SIM_SEED={seed} \
             cargo test -p odradek-cluster --test simulation):\n  {}",
            violations.join("\n  ")
        );
    }
    println!(
        "simulated {} seeds in {:.1} s: {} acknowledged proposals, {} terms with a leader, \
         {} raft entries applied",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        total.acked,
        total.terms,
        total.last_index
    );
}

/// Five controllers started at one instant, on a lossless network, whose openraft election
/// timers all fall on the same tick: openraft checks its timeout (drawn once per node) every
/// 75 ms here, so any timeout in 226..300 ms fires on the 4th tick. Every candidate votes for
/// itself on that tick, term after term (seed 171 of an earlier workload stalled so to term 456
/// with no leader); the quorum must still elect one, by drawing a fresh timeout per failed
/// election (`odradek_cluster::election`).
#[test]
fn candidates_whose_election_timers_coincide_still_elect_a_leader() {
    let rt = paused_runtime();
    rt.block_on(async {
        seed_thread_rng(171);
        let mut sim = Sim::new(171, fastrand::Rng::with_seed(171), 5, 0);
        sim.election_timeout = 226..300;
        for id in 1..=5 {
            sim.start(id).await;
        }
        let started = tokio::time::Instant::now();
        let elected = loop {
            let leading = sim
                .controllers
                .values()
                .find(|c| c.raft().metrics().borrow().state == ServerState::Leader);
            if let Some(c) = leading {
                break Some((c.node_id, c.raft().metrics().borrow().current_term));
            }
            if started.elapsed() > Duration::from_secs(30) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let took = started.elapsed();
        let violations = std::mem::take(&mut sim.observed.lock().unwrap().violations);
        for id in 1..=5 {
            sim.crash(id).await;
        }
        let (leader, term) = elected.expect("no controller elected within 30 s (simulated)");
        println!("node {leader} elected in term {term} after {took:?} (simulated)");
        assert!(violations.is_empty(), "{violations:?}");
    });
}
