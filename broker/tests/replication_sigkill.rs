//! Replication with real processes: three `odradek-broker` processes in cluster mode, a topic
//! with replication factor 3, our client producing with acks=all (idempotent) while the
//! partition's leader is SIGKILLed. Every record is acknowledged and present exactly once, in
//! order, on the new leader; the killed node restarts, truncates what it had not replicated,
//! rejoins the ISR, and after the next leader is killed too, the log is still whole. A leader
//! cut off from its followers (SIGSTOP) that takes acks=1 writes and dies comes back with a
//! divergent tail and truncates it (KIP-101 through the Fetch diverging epoch).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Client;
use common::cluster::{
    eventually, partition0, read_partition0, send_values, values, wait_for_brokers,
};
use kafka_protocol::records::Compression;
use odradek::config::Config;
use odradek::producer::Producer;

const NONE: i16 = 0;
const RECORDS: usize = 3000;

/// The broker processes; each killed (SIGKILL) when the test ends.
struct Nodes {
    dir: tempfile::TempDir,
    quorum: String,
    children: BTreeMap<u64, (Child, SocketAddr)>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (child, _) in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Nodes {
    fn start(n: u64) -> Self {
        let held: Vec<std::net::TcpListener> = (0..n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let quorum = held
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{}@{}", i + 1, l.local_addr().unwrap()))
            .collect::<Vec<_>>()
            .join(",");
        drop(held);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("server.properties"),
            "broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\n\
             replica.lag.time.max.ms=2000\ndefault.replication.factor=3\n",
        )
        .unwrap();
        let mut nodes = Self {
            dir,
            quorum,
            children: BTreeMap::new(),
        };
        for id in 1..=n {
            nodes.spawn(id);
        }
        nodes
    }

    fn node_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node-{id}"))
    }

    /// Starts node `id` and waits for its listener address on stdout.
    fn spawn(&mut self, id: u64) {
        let log = std::fs::File::create(self.dir.path().join(format!("node-{id}.log"))).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_odradek-broker"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.node_dir(id))
            .arg("--config")
            .arg(self.dir.path().join("server.properties"))
            .args([
                "--node-id",
                &id.to_string(),
                "--controller-quorum",
                &self.quorum,
            ])
            .env(
                "RUST_LOG",
                "warn,odradek_broker::cluster_mode=info,odradek_broker::log=info",
            )
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("odradek-broker starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().parse().expect("the bound address on stdout");
        self.children.insert(id, (child, addr));
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`) node `id`: it stays connected but silent.
    fn pause(&self, id: u64, stop: bool) {
        let pid = self.children[&id].0.id().to_string();
        let signal = if stop { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(ok.success(), "kill {signal} {pid}");
    }

    /// Stops node `id` with SIGTERM (a clean shutdown flushing its logs).
    fn terminate(&mut self, id: u64) {
        let (mut child, _) = self.children.remove(&id).unwrap();
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        child.wait().unwrap();
    }

    /// The records of `name`-0 in node `id`'s log files (node stopped).
    fn stored_values(&self, id: u64, name: &str) -> Vec<(i64, Option<String>)> {
        let dir = self.node_dir(id).join(format!("{name}-0"));
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        let mut bytes = Vec::new();
        for l in logs {
            bytes.extend(std::fs::read(l).unwrap());
        }
        common::decode_values(bytes.into())
    }

    fn kill(&mut self, id: u64) {
        let (mut child, _) = self.children.remove(&id).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn addr(&self, id: u64) -> SocketAddr {
        self.children[&id].1
    }

    fn log_of(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{id}.log"))).unwrap_or_default()
    }
}

async fn leader_with_full_isr(addr: SocketAddr) -> i32 {
    eventually("a leader with a full ISR", || async {
        partition0(addr, "killed")
            .await
            .filter(|(l, _, isr)| *l > 0 && isr.len() == 3)
            .map(|(l, _, _)| l)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_under_acks_all_loses_no_record() {
    common::init_tracing("warn");
    let mut nodes = Nodes::start(3);
    let started = Instant::now();
    let a1 = nodes.addr(1);
    wait_for_brokers(a1, 3).await;
    // default.replication.factor=3 applies to a topic created without one.
    let mut c = Client::connect(a1).await;
    let r = common::create_topic_with(&mut c, "killed", 1, -1, &[]).await;
    assert_eq!((r.error_code, r.replication_factor), (NONE, 3));
    let leader = leader_with_full_isr(a1).await as u64;

    let mut config = Config::new();
    let bootstrap: Vec<String> = (1..=3).map(|id| nodes.addr(id).to_string()).collect();
    config
        .set("bootstrap.servers", &bootstrap.join(","))
        .unwrap();
    config.set("acks", "all").unwrap();
    config.set("enable.idempotence", "true").unwrap();
    config.set("linger.ms", "2").unwrap();
    let producer = Producer::new(config.producer().unwrap()).unwrap();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sending = {
        let acked = acked.clone();
        tokio::spawn(async move {
            for start in (0..RECORDS).step_by(50) {
                send_values(&producer, "killed", start..(start + 50).min(RECORDS)).await;
                acked.fetch_add(50, std::sync::atomic::Ordering::Relaxed);
            }
            producer.close().await.unwrap();
        })
    };
    while acked.load(std::sync::atomic::Ordering::Relaxed) < RECORDS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes.kill(leader);
    let killed_at = Instant::now();
    let at_kill = acked.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(60), sending)
        .await
        .expect("the producer finishes")
        .unwrap();
    eprintln!(
        "{at_kill} acknowledged at the SIGKILL; all {RECORDS} {:?} later",
        killed_at.elapsed()
    );
    let survivor = nodes.addr(if leader == 1 { 2 } else { 1 });
    let new_leader = eventually("a new leader", || async {
        partition0(survivor, "killed")
            .await
            .map(|(l, _, _)| l)
            .filter(|l| *l > 0 && *l as u64 != leader)
    })
    .await;
    assert_eq!(
        read_partition0(nodes.addr(new_leader as u64), "killed").await,
        values(RECORDS)
    );

    // The killed node returns, catches up, rejoins the ISR; then the current leader is killed
    // too and the log is still whole wherever the partition goes.
    nodes.spawn(leader);
    let second = leader_with_full_isr(survivor).await as u64;
    nodes.kill(second);
    let remaining = *nodes.children.keys().next().unwrap();
    let third = eventually("a third leader", || async {
        partition0(nodes.addr(remaining), "killed")
            .await
            .map(|(l, _, _)| l as u64)
            .filter(|l| *l > 0 && *l != second)
    })
    .await;
    let records = read_partition0(nodes.addr(third), "killed").await;
    assert_eq!(
        records,
        values(RECORDS),
        "after two leader kills, node {third}; node {leader}'s log:\n{}",
        nodes.log_of(leader)
    );
    eprintln!(
        "truncations on the restarted node: {}",
        nodes
            .log_of(leader)
            .matches("truncating a diverged replica")
            .count()
    );
    eprintln!("test body took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_leader_truncates_the_tail_nobody_replicated() {
    common::init_tracing("warn");
    let mut nodes = Nodes::start(3);
    let a1 = nodes.addr(1);
    wait_for_brokers(a1, 3).await;
    let mut c = Client::connect(a1).await;
    let r = common::create_topic_with(&mut c, "tail", 1, 3, &[]).await;
    assert_eq!(r.error_code, NONE);
    let leader = eventually("a full ISR", || async {
        partition0(a1, "tail")
            .await
            .filter(|(l, _, isr)| *l > 0 && isr.len() == 3)
            .map(|(l, _, _)| l as u64)
    })
    .await;
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let mut to_leader = Client::connect(nodes.addr(leader)).await;
    let batch = |v: &str| common::batch(&[v], None, None, Compression::None);
    // (The leader may not have opened the topic's log yet: UNKNOWN_TOPIC_OR_PARTITION first.)
    eventually("the first record taken", || async {
        let mut c = Client::connect(nodes.addr(leader)).await;
        let (code, _) = common::produce(&mut c, "tail", 0, batch("v0"), -1).await;
        (code == NONE).then_some(())
    })
    .await;
    for i in 1..5 {
        let (code, _) =
            common::produce(&mut to_leader, "tail", 0, batch(&format!("v{i}")), -1).await;
        assert_eq!(code, NONE);
    }
    // The followers go silent; the leader still takes acks=1 writes nobody will copy, then
    // dies.
    for f in &followers {
        nodes.pause(*f, true);
    }
    // Fetches in flight at the pause are answered (empty) within their wait; none follows.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for i in 0..3 {
        let (code, _) =
            common::produce(&mut to_leader, "tail", 0, batch(&format!("lost{i}")), 1).await;
        assert_eq!(code, NONE);
    }
    nodes.kill(leader);
    for f in &followers {
        nodes.pause(*f, false);
    }
    let survivor = nodes.addr(followers[0]);
    let new_leader = eventually("a new leader", || async {
        partition0(survivor, "tail")
            .await
            .map(|(l, _, _)| l as u64)
            .filter(|l| *l > 0 && *l != leader)
    })
    .await;
    let to_new = nodes.addr(new_leader);
    eventually("the new leader taking records", || async {
        let mut c = Client::connect(to_new).await;
        let (code, _) = common::produce(&mut c, "tail", 0, batch("v5"), -1).await;
        (code == NONE).then_some(())
    })
    .await;
    let mut c = Client::connect(to_new).await;
    for i in 6..10 {
        let (code, _) = common::produce(&mut c, "tail", 0, batch(&format!("v{i}")), -1).await;
        assert_eq!(code, NONE);
    }
    assert_eq!(
        read_partition0(nodes.addr(new_leader), "tail").await,
        values(10)
    );

    // The old leader returns with `lost*` at offsets 5..8 in the old epoch: it truncates them
    // and copies the new leader's 5..10.
    nodes.spawn(leader);
    eventually("the old leader back in the ISR", || async {
        partition0(survivor, "tail")
            .await
            .filter(|(_, _, isr)| isr.len() == 3)
    })
    .await;
    nodes.terminate(leader);
    assert_eq!(
        nodes.stored_values(leader, "tail"),
        values(10),
        "node {leader}'s log:\n{}",
        nodes.log_of(leader)
    );
    assert!(
        nodes
            .log_of(leader)
            .contains("truncating a diverged replica"),
        "{}",
        nodes.log_of(leader)
    );
}
