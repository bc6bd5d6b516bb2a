//! Mixed consumer groups: our GroupConsumer, confluent-kafka (librdkafka) and the Java consumer
//! in one group, with range and with cooperative-sticky (classic protocol) and with the
//! server-side uniform and range assignors (KIP-848, `group.protocol=consumer`), against our
//! broker and Apache Kafka 4.3.1. Members join and leave one by one; after every rebalance settles, each partition is
//! owned by exactly one member. Every record is read at least once, and after the members
//! close cleanly the committed offsets equal the log-end offsets. The external members are
//! tests/interop/groups/member.py and GroupMember.java (same line protocol).

mod client_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_support::{TestCluster, topic};
use odradek::admin::{Admin, NewTopic};
use odradek::config::{ClientConfig, Config};
use odradek::group::{GroupConsumer, RebalanceListener};
use odradek::producer::{Producer, ProducerRecord};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 3000;
/// A hang guard for convergence, not a timing assertion.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cache() -> PathBuf {
    std::env::var_os("ODRADEK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/odradek"))
}

/// What one member reported.
#[derive(Default, Debug)]
struct Seen {
    owned: BTreeSet<i32>,
    records: Vec<(i32, i64)>,
    reported: bool,
    closed: bool,
}

struct External {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    seen: Arc<Mutex<Seen>>,
    /// Reads the member's stdout to EOF; may lag behind the process by many lines.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl External {
    fn spawn(
        kind: &str,
        bootstrap: &str,
        topic: &str,
        group: &str,
        strategy: &str,
        protocol: &str,
    ) -> External {
        Self::spawn_env(kind, bootstrap, topic, group, strategy, protocol, &[])
    }

    fn spawn_env(
        kind: &str,
        bootstrap: &str,
        topic: &str,
        group: &str,
        strategy: &str,
        protocol: &str,
        env: &[(&str, &str)],
    ) -> External {
        let dir = repo_root().join("tests/interop/groups");
        let mut cmd = if kind == "java" {
            let mut c = Command::new("java");
            c.arg("-cp")
                .arg(format!("{}/kafka-4.3.1/libs/*", cache().display()))
                .arg(dir.join("GroupMember.java"));
            c
        } else {
            let mut c = Command::new(cache().join("venv/bin/python"));
            c.arg(dir.join("member.py")).arg(kind);
            c
        };
        cmd.args([bootstrap, topic, group, strategy, protocol])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start the {kind} member (run scripts/setup.sh): {e}")
        });
        let stdout = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s2 = seen.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut s = s2.lock().unwrap();
                if let Some(rest) = line.strip_prefix("ASSIGNED") {
                    s.owned = rest
                        .trim()
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(|x| x.parse().unwrap())
                        .collect();
                    s.reported = true;
                } else if let Some(rest) = line.strip_prefix("RECORD ") {
                    let mut it = rest.split(' ');
                    let p = it.next().unwrap().parse().unwrap();
                    let o = it.next().unwrap().parse().unwrap();
                    s.records.push((p, o));
                } else if line == "CLOSED" {
                    s.closed = true;
                }
            }
        });
        External {
            name: kind.to_string(),
            stdin: child.stdin.take(),
            child,
            seen,
            reader: Some(reader),
        }
    }

    /// Waits until every line the (exited) member printed has been read.
    fn drain(&mut self) {
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
    }

    /// Asks the member to commit and leave; waits for it to exit.
    fn quit(&mut self) {
        if let Some(mut i) = self.stdin.take() {
            let _ = writeln!(i, "quit");
        }
        let status = self.child.wait().unwrap();
        self.drain();
        assert!(
            status.success(),
            "{} member exited with {status}",
            self.name
        );
        assert!(
            self.seen.lock().unwrap().closed,
            "{} did not close cleanly",
            self.name
        );
        self.seen.lock().unwrap().owned.clear();
    }
}

impl Drop for External {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our member: a GroupConsumer reading (and committing after each batch) on its own task.
struct Ours {
    consumer: GroupConsumer,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

struct Tracker(Arc<Mutex<Seen>>);

impl RebalanceListener for Tracker {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        let mut s = self.0.lock().unwrap();
        s.owned.extend(partitions.iter().map(|(_, p)| *p));
        s.reported = true;
    }
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        let mut s = self.0.lock().unwrap();
        for (_, p) in partitions {
            s.owned.remove(p);
        }
    }
    fn on_lost(&self, partitions: &[(String, i32)]) {
        self.on_revoked(partitions);
    }
}

impl Ours {
    fn start(bootstrap: &str, topic: &str, group: &str, strategy: &str, protocol: &str) -> Ours {
        let config = Config::new()
            .with("bootstrap.servers", bootstrap)
            .unwrap()
            .with("group.id", group)
            .unwrap()
            .with("group.protocol", protocol)
            .unwrap();
        let config = if protocol == "consumer" {
            config.with("group.remote.assignor", strategy).unwrap()
        } else {
            config
                .with("partition.assignment.strategy", strategy)
                .unwrap()
        };
        let config = config
            .with("auto.offset.reset", "earliest")
            .unwrap()
            .with("session.timeout.ms", "6000")
            .unwrap()
            .with("heartbeat.interval.ms", "500")
            .unwrap();
        let consumer = GroupConsumer::new(&config).unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        consumer.set_rebalance_listener(Arc::new(Tracker(seen.clone())));
        consumer.subscribe(&[topic]).unwrap();
        let c = consumer.clone();
        let s = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                match c.recv_timeout(Duration::from_millis(100)).await {
                    Ok(Some(r)) => s.lock().unwrap().records.push((r.partition, r.offset)),
                    Ok(None) => {}
                    Err(e) => eprintln!("our member: {e}"),
                }
                if let Err(e) = c.commit().await {
                    eprintln!("our member: commit: {e}");
                }
            }
        });
        Ours {
            consumer,
            seen,
            task,
        }
    }

    async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
        self.consumer.commit().await.ok();
        self.consumer.close().await.unwrap();
        self.seen.lock().unwrap().owned.clear();
    }
}

/// Waits until the live members' reported assignments partition the topic exactly, and stay
/// that way for a moment (a rebalance in flight would change them).
async fn settle(label: &str, members: &[(&str, Arc<Mutex<Seen>>)]) {
    let deadline = Instant::now() + SETTLE_LIMIT;
    let mut stable_since: Option<(Instant, Vec<BTreeSet<i32>>)> = None;
    loop {
        let snapshot: Vec<BTreeSet<i32>> = members
            .iter()
            .map(|(_, s)| s.lock().unwrap().owned.clone())
            .collect();
        let all_reported = members.iter().all(|(_, s)| s.lock().unwrap().reported);
        let total: usize = snapshot.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = snapshot.iter().flatten().copied().collect();
        let exact = all_reported && total == PARTITIONS as usize && union.len() == total;
        if exact {
            match &stable_since {
                Some((since, snap)) if *snap == snapshot => {
                    if since.elapsed() > Duration::from_secs(2) {
                        let names: Vec<String> = members
                            .iter()
                            .zip(&snapshot)
                            .map(|((n, _), o)| format!("{n}={o:?}"))
                            .collect();
                        eprintln!("{label}: settled: {}", names.join(" "));
                        return;
                    }
                }
                _ => stable_since = Some((Instant::now(), snapshot.clone())),
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: ownership never settled to one owner per partition: {:?}",
            members
                .iter()
                .zip(&snapshot)
                .map(|((n, _), o)| format!("{n}={o:?}"))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates `t` with PARTITIONS partitions and writes values `v0..v{n-1}` round-robin over
/// them, every one acknowledged.
async fn create_and_fill(bootstrap: &str, t: &str, n: usize) {
    let admin = Admin::new(ClientConfig::new(bootstrap).unwrap());
    admin
        .create_topics(&[NewTopic::new(t, PARTITIONS)])
        .await
        .unwrap();
    let producer = Producer::new(
        Config::new()
            .with("bootstrap.servers", bootstrap)
            .unwrap()
            .with("linger.ms", "5")
            .unwrap()
            .producer()
            .unwrap(),
    )
    .unwrap();
    let acks: Vec<_> = (0..n)
        .map(|i| {
            producer.send(
                ProducerRecord::new(t)
                    .partition((i % PARTITIONS as usize) as i32)
                    .value(format!("v{i}").as_bytes()),
            )
        })
        .collect();
    producer.flush().await.unwrap();
    for a in acks {
        a.await.expect("delivered");
    }
    producer.close().await.unwrap();
}

async fn scenario(bootstrap: &str, strategy: &str, protocol: &str) {
    let label = format!("{protocol} {strategy}");
    let label = label.as_str();
    let t = topic(&format!("mixed-{protocol}-{strategy}"));
    let group = format!("{t}-group");
    create_and_fill(bootstrap, &t, RECORDS).await;

    let ours = Ours::start(bootstrap, &t, &group, strategy, protocol);
    settle(label, &[("ours", ours.seen.clone())]).await;
    let mut confluent = External::spawn("confluent", bootstrap, &t, &group, strategy, protocol);
    settle(
        label,
        &[
            ("ours", ours.seen.clone()),
            ("confluent", confluent.seen.clone()),
        ],
    )
    .await;
    let mut java = External::spawn("java", bootstrap, &t, &group, strategy, protocol);
    let three = [
        ("ours", ours.seen.clone()),
        ("confluent", confluent.seen.clone()),
        ("java", java.seen.clone()),
    ];
    settle(label, &three).await;
    // Members leave one by one; the rest take over.
    confluent.quit();
    settle(
        label,
        &[("ours", ours.seen.clone()), ("java", java.seen.clone())],
    )
    .await;
    // Everything is read before the last members leave.
    let deadline = Instant::now() + SETTLE_LIMIT;
    let read = |all: &[&Arc<Mutex<Seen>>]| -> BTreeSet<(i32, i64)> {
        all.iter()
            .flat_map(|s| s.lock().unwrap().records.clone())
            .collect()
    };
    while read(&[&ours.seen, &confluent.seen, &java.seen]).len() < RECORDS {
        assert!(Instant::now() < deadline, "not every record was read");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    java.quit();
    settle(label, &[("ours", ours.seen.clone())]).await;
    let all: Vec<(i32, i64)> = [&ours.seen, &confluent.seen, &java.seen]
        .iter()
        .flat_map(|s| s.lock().unwrap().records.clone())
        .collect();
    let distinct: BTreeSet<(i32, i64)> = all.iter().copied().collect();
    assert_eq!(distinct.len(), RECORDS);
    eprintln!(
        "{label}: {} records read, {} duplicates (at-least-once)",
        all.len(),
        all.len() - distinct.len()
    );
    let probe = ours.consumer.clone();
    ours.close().await;
    // Committed offsets equal the log-end offsets.
    let parts: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (t.clone(), p)).collect();
    let committed = probe.committed(&parts).await.unwrap();
    let mut ends = BTreeMap::new();
    for p in 0..PARTITIONS {
        let (_, high) = probe.consumer().fetch_watermarks(&t, p).await.unwrap();
        ends.insert(p, high);
        assert_eq!(committed[&(t.clone(), p)], Some(high), "partition {p}");
    }
}

/// The four group flavours on one cluster, side by side (each on its own topic and group):
/// most of a scenario is waiting for rebalances, so running them together saves wall time.
const FLAVOURS: [(&str, &str); 4] = [
    ("range", "classic"),
    ("cooperative-sticky", "classic"),
    ("uniform", "consumer"),
    ("range", "consumer"),
];

fn run_all(cluster: &TestCluster) {
    // A thread and runtime each: a scenario blocks while an external member exits.
    std::thread::scope(|scope| {
        let runs: Vec<_> = FLAVOURS
            .iter()
            .map(|&(strategy, protocol)| {
                scope.spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .unwrap();
                    let started = Instant::now();
                    rt.block_on(scenario(&cluster.bootstrap, strategy, protocol));
                    eprintln!(
                        "== {} {protocol} {strategy}: {:?}",
                        cluster.kind,
                        started.elapsed()
                    );
                })
            })
            .collect();
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

#[test]
fn mixed_groups_on_odradek_broker() {
    run_all(&TestCluster::odradek());
}

#[test]
fn mixed_groups_on_apache_kafka() {
    // KIP-848 members heartbeat every second (Kafka's default is 5 s) so rebalances settle fast.
    run_all(&TestCluster::apache_kafka_with(
        "group.initial.rebalance.delay.ms=0 group.consumer.heartbeat.interval.ms=1000 \
         group.consumer.min.heartbeat.interval.ms=1000",
    ));
}

/// At-least-once under churn: 3 consumers that commit after processing read 100k records while
/// members join, leave cleanly, and one (a separate confluent-kafka process) is killed with
/// SIGKILL. Every record is processed at least once; after the survivors close cleanly the
/// committed offsets equal the log-end offsets. Duplicates are counted and printed (they come
/// from the killed member's uncommitted batch and from revocations).
#[test]
fn at_least_once_under_churn() {
    const TOTAL: usize = 100_000;
    let cluster = TestCluster::odradek();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bootstrap = cluster.bootstrap.as_str();
        let t = topic("churn");
        let group = format!("{t}-group");
        create_and_fill(bootstrap, &t, TOTAL).await;
        let started = Instant::now();

        // Our members read in batches of 200 and pause 20 ms per batch ("processing"), then
        // commit; the confluent members pause 40 ms per batch of up to 500.
        let slow = [("MEMBER_BATCH_DELAY_MS", "40")];
        let a = Throttled::start(bootstrap, &t, &group);
        let mut victim = External::spawn_env(
            "confluent",
            bootstrap,
            &t,
            &group,
            "range",
            "classic",
            &slow,
        );
        let seen_all = |extra: &[&Arc<Mutex<Seen>>]| -> (usize, usize) {
            let mut all = 0;
            let mut distinct = BTreeSet::new();
            for s in extra {
                let s = s.lock().unwrap();
                all += s.records.len();
                distinct.extend(s.records.iter().copied());
            }
            (all, distinct.len())
        };
        let wait_for = |n: usize, what: &str, members: Vec<Arc<Mutex<Seen>>>| {
            let what = what.to_string();
            async move {
                let deadline = Instant::now() + SETTLE_LIMIT;
                loop {
                    let refs: Vec<&Arc<Mutex<Seen>>> = members.iter().collect();
                    let (_, distinct) = seen_all(&refs);
                    if distinct >= n {
                        eprintln!("churn: {distinct} distinct records read: {what}");
                        return;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "churn: stuck at {distinct} distinct records before {what}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let mut everyone = vec![a.seen.clone(), victim.seen.clone()];
        wait_for(15_000, "a second member of ours joins", everyone.clone()).await;
        let c = Throttled::start(bootstrap, &t, &group);
        everyone.push(c.seen.clone());
        wait_for(30_000, "SIGKILL of the confluent member", everyone.clone()).await;
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();
        victim.drain();
        wait_for(50_000, "a new confluent member joins", everyone.clone()).await;
        let mut d = External::spawn_env(
            "confluent",
            bootstrap,
            &t,
            &group,
            "range",
            "classic",
            &slow,
        );
        everyone.push(d.seen.clone());
        wait_for(70_000, "our second member leaves", everyone.clone()).await;
        c.close().await;
        wait_for(TOTAL, "the survivors stop", everyone.clone()).await;
        // Let the last batches' commits land before the clean close.
        tokio::time::sleep(Duration::from_millis(500)).await;
        d.quit();
        let probe = a.consumer.clone();
        a.close().await;

        let refs: Vec<&Arc<Mutex<Seen>>> = everyone.iter().collect();
        let (all, distinct) = seen_all(&refs);
        assert_eq!(distinct, TOTAL, "every record is processed at least once");
        eprintln!(
            "churn: {all} records processed for {TOTAL} produced: {} duplicates, in {:?}",
            all - distinct,
            started.elapsed()
        );
        let parts: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (t.clone(), p)).collect();
        let committed = probe.committed(&parts).await.unwrap();
        for p in 0..PARTITIONS {
            let (_, high) = probe.consumer().fetch_watermarks(&t, p).await.unwrap();
            assert_eq!(
                committed[&(t.clone(), p)],
                Some(high),
                "partition {p}: committed offset equals the log end"
            );
        }
    });
}

/// One of our members processing slowly: batches of up to 200, 20 ms each, commit after each.
struct Throttled {
    consumer: GroupConsumer,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Throttled {
    fn start(bootstrap: &str, topic: &str, group: &str) -> Throttled {
        let config = Config::new()
            .with("bootstrap.servers", bootstrap)
            .unwrap()
            .with("group.id", group)
            .unwrap()
            .with("auto.offset.reset", "earliest")
            .unwrap()
            .with("enable.auto.commit", "false")
            .unwrap()
            .with("session.timeout.ms", "6000")
            .unwrap()
            .with("heartbeat.interval.ms", "500")
            .unwrap();
        let consumer = GroupConsumer::new(&config).unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        consumer.set_rebalance_listener(Arc::new(Tracker(seen.clone())));
        consumer.subscribe(&[topic]).unwrap();
        let c = consumer.clone();
        let s = seen.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        // Stops between batches, never inside one: a batch handed out is always recorded
        // before the commit that covers it.
        let task = tokio::spawn(async move {
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                match tokio::time::timeout(Duration::from_millis(200), c.recv_batch(200)).await {
                    Ok(Ok(batch)) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        s.lock()
                            .unwrap()
                            .records
                            .extend(batch.iter().map(|r| (r.partition, r.offset)));
                    }
                    Ok(Err(e)) => eprintln!("our member: {e}"),
                    Err(_) => {}
                }
                if let Err(e) = c.commit().await {
                    eprintln!("our member: commit: {e}");
                }
            }
        });
        Throttled {
            consumer,
            seen,
            stop,
            task,
        }
    }

    /// Stops processing after the current batch, commits what was processed, leaves.
    async fn close(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.task.await;
        self.consumer.commit().await.ok();
        self.consumer.close().await.unwrap();
    }
}
