//! `odradek topics reassign|reassignments|elect-leaders` against a local 3-node cluster
//! (`odradek broker --nodes 3`): a one-replica partition grows to three replicas, the move is
//! followed until done, a cancel with nothing in progress is Kafka's error, and a preferred
//! election finds nothing to do.

#[allow(dead_code)] // only its binary path is used here
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::BIN;

/// The cluster process; killed when dropped.
struct Nodes {
    child: Child,
    addrs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `odradek broker --nodes 3`: its first stdout lines are `ID ADDRESS`, one per node.
fn start_cluster() -> Nodes {
    let dir = tempfile::tempdir().unwrap();
    let props = dir.path().join("server.properties");
    std::fs::write(&props, "broker.heartbeat.interval.ms=200\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["broker", "--nodes", "3", "--fsync", "never", "--config"])
        .arg(&props)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addrs = (1..=3)
        .map(|id| {
            let line = lines.next().unwrap().unwrap();
            let (n, addr) = line.split_once(' ').unwrap();
            assert_eq!(n, id.to_string(), "{line:?}");
            addr.to_owned()
        })
        .collect();
    Nodes {
        child,
        addrs,
        _dir: dir,
    }
}

fn odradek(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = odradek(args);
    assert!(
        out.status.success(),
        "odradek {args:?}: {:?} {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args` until `done` accepts its output (at most 30 s).
fn until(args: &[&str], what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = odradek(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && done(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn partition0(describe_json: &str) -> (i64, Vec<i64>, Vec<i64>) {
    let v: Value = serde_json::from_str(describe_json.trim()).unwrap();
    let p = &v["partitions"][0];
    let ids = |k: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = p[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    (p["leader"].as_i64().unwrap(), ids("replicas"), ids("isr"))
}

#[test]
fn a_partition_grows_to_three_replicas_and_elections_find_nothing_to_do() {
    let nodes = start_cluster();
    let b = nodes.addrs.join(",");
    let b = b.as_str();
    // RF 1 needs one live broker; the growth needs all three.
    until(
        &[
            "topics", "create", "-b", b, "-t", "grow", "-p", "1", "-r", "1",
        ],
        "the topic created",
        |_| true,
    );
    let described = until(
        &["topics", "describe", "-b", b, "-t", "grow", "--json"],
        "a leader",
        |out| partition0(out).0 > 0,
    );
    let leader = partition0(&described).0;
    let mut target: Vec<String> = vec![leader.to_string()];
    target.extend((1..=3).filter(|id| *id != leader).map(|id| id.to_string()));
    let target = format!("grow:0={}", target.join(","));
    until(
        &["topics", "reassign", "-b", b, "--move", &target],
        "the move recorded (all three nodes registered)",
        |out| out.contains("moving grow:0 to"),
    );
    until(
        &["topics", "reassignments", "-b", b],
        "the move done",
        |out| out.contains("no reassignments in progress"),
    );
    let (_, replicas, isr) = partition0(&ok(&[
        "topics", "describe", "-b", b, "-t", "grow", "--json",
    ]));
    assert_eq!((replicas, isr), (vec![1, 2, 3], vec![1, 2, 3]));

    let out = odradek(&["topics", "reassign", "-b", b, "--cancel", "grow:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(Kafka error code 85)"), "{stderr}");

    let out = ok(&["topics", "elect-leaders", "-b", b]);
    assert_eq!(out, "every partition already has its leader\n");
    let out = ok(&["topics", "elect-leaders", "-b", b, "-p", "grow:0"]);
    assert_eq!(out, "grow:0  already led as asked\n");
}
