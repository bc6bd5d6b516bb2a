//! The `odradek` binary against `odradek broker` (the same binary) on an ephemeral port with a
//! temporary data dir: produce from stdin, consume as JSON and text, topics admin, perf, and the
//! exit codes scripts rely on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::BIN;
/// A hung command fails the test instead of hanging CI (not a timing assertion).
const HANG_LIMIT: Duration = Duration::from_secs(120);

struct TestBroker {
    child: Child,
    addr: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestBroker {
    fn start() -> Self {
        Self::start_with_properties("")
    }

    /// Starts `odradek broker --listen 127.0.0.1:0` with a temp data dir and these properties.
    fn start_with_properties(properties: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("server.properties");
        std::fs::write(&props, properties).unwrap();
        let data = dir.path().join("data");
        Self::spawn(
            &data,
            &["--fsync", "never", "--config", props.to_str().unwrap()],
            Some(dir),
        )
    }

    /// Starts `odradek broker --listen 127.0.0.1:0 --data-dir DATA EXTRA...`.
    fn spawn(data: &Path, extra: &[&str], dir: Option<tempfile::TempDir>) -> Self {
        let (child, addr) = support::spawn_broker("127.0.0.1:0", data, extra);
        TestBroker {
            child,
            addr,
            _dir: dir,
        }
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        wait_limited(&mut self.child)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_limited(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            panic!("process {} did not exit within {HANG_LIMIT:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `odradek ARGS` with `stdin` as its input.
fn odradek(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let status = wait_limited(&mut child);
    writer.join().unwrap();
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn ok(args: &[&str], stdin: &[u8]) -> String {
    let out = odradek(args, stdin);
    assert!(
        out.status.success(),
        "odradek {args:?} failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts the exit code and that stderr mentions `needle`; returns stderr.
fn fails(args: &[&str], stdin: &[u8], code: i32, needle: &str) -> String {
    let out = odradek(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "odradek {args:?}: expected exit {code}; stderr: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "odradek {args:?}: stderr should mention {needle:?}: {stderr}"
    );
    stderr
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

#[test]
fn produce_from_stdin_then_consume_as_json() {
    let broker = TestBroker::start();
    let b = broker.addr.as_str();
    ok(
        &["topics", "create", "-b", b, "-t", "orders", "-p", "1"],
        b"",
    );
    let input = "user-1:first order\nuser-2:second: with a colon\nno key here\n:empty key\n";
    ok(
        &[
            "produce",
            "-b",
            b,
            "-t",
            "orders",
            "-k",
            ":",
            "-H",
            "source=test",
            "-z",
            "lz4",
        ],
        input.as_bytes(),
    );
    let out = ok(
        &["consume", "-b", b, "-t", "orders", "-e", "--format", "json"],
        b"",
    );
    let records = json_lines(&out);
    let expected: [(Option<&str>, &str); 4] = [
        (Some("user-1"), "first order"),
        (Some("user-2"), "second: with a colon"),
        (None, "no key here"),
        (Some(""), "empty key"),
    ];
    assert_eq!(records.len(), expected.len(), "{out}");
    for (i, (record, (key, value))) in records.iter().zip(expected).enumerate() {
        assert_eq!(record["topic"], "orders");
        assert_eq!(record["partition"], 0);
        assert_eq!(record["offset"], i as i64);
        assert_eq!(
            record["key"],
            key.map_or(Value::Null, Value::from),
            "{record}"
        );
        assert_eq!(record["value"], value, "{record}");
        assert!(record["timestamp"].as_i64().unwrap() > 0, "{record}");
        assert_eq!(
            record["headers"],
            serde_json::json!([{"key": "source", "value": "test"}])
        );
    }

    // Text format with the key, a start offset and a count.
    let out = ok(
        &[
            "consume", "-b", b, "-t", "orders", "-o", "1", "-c", "2", "-k", "=",
        ],
        b"",
    );
    assert_eq!(out, "user-2=second: with a colon\n=no key here\n");
    // -o -1: the last record only.
    let out = ok(&["consume", "-b", b, "-t", "orders", "-o", "-1", "-e"], b"");
    assert_eq!(out, "empty key\n");
    assert!(
        broker.stop().success(),
        "SIGTERM should stop the broker cleanly"
    );
}

#[test]
fn keys_pick_partitions_and_bytes_survive() {
    let broker = TestBroker::start();
    let b = broker.addr.as_str();
    ok(
        &["topics", "create", "-b", b, "-t", "keyed", "-p", "4"],
        b"",
    );
    let mut input = Vec::new();
    for i in 0..40 {
        input.extend_from_slice(format!("key-{}|value-{i}\n", i % 5).as_bytes());
    }
    // A value that is not UTF-8 comes back as base64.
    input.extend_from_slice(b"bin|\xff\xfe\x00\n");
    ok(
        &["produce", "-b", b, "-t", "keyed", "-k", "|", "-q"],
        &input,
    );
    let records = json_lines(&ok(
        &[
            "consume", "-b", b, "-t", "keyed", "-e", "--format", "json", "-q",
        ],
        b"",
    ));
    assert_eq!(records.len(), 41);
    // Every key lands on exactly one partition.
    let mut partition_of = std::collections::HashMap::new();
    for r in &records {
        let key = r["key"].as_str().unwrap().to_owned();
        let p = r["partition"].as_i64().unwrap();
        assert_eq!(*partition_of.entry(key.clone()).or_insert(p), p, "{key}");
    }
    let bin = records.iter().find(|r| r["key"] == "bin").unwrap();
    assert_eq!(bin["value"], Value::Null);
    assert_eq!(bin["value_base64"], "//4A");
    // -p: only one partition.
    let p = partition_of["key-0"];
    let only = json_lines(&ok(
        &[
            "consume",
            "-b",
            b,
            "-t",
            "keyed",
            "-e",
            "--format",
            "json",
            "-p",
            &p.to_string(),
        ],
        b"",
    ));
    assert!(!only.is_empty());
    assert!(only.iter().all(|r| r["partition"] == p));
}

#[test]
fn exit_codes_for_unreachable_broker_unknown_topic_and_usage() {
    let broker = TestBroker::start_with_properties("auto.create.topics.enable=false\n");
    let b = broker.addr.as_str();
    // A port nobody listens on.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    for args in [
        vec!["produce", "-b", &dead, "-t", "x"],
        vec!["consume", "-b", &dead, "-t", "x", "-e"],
        vec!["topics", "list", "-b", &dead],
    ] {
        fails(&args, b"a\n", 3, &dead);
    }
    // Unknown topic, auto-creation disabled on the broker: exit 4, naming the topic.
    fails(
        &["produce", "-b", b, "-t", "missing"],
        b"a\n",
        4,
        "\"missing\"",
    );
    fails(
        &["consume", "-b", b, "-t", "missing", "-e"],
        b"",
        4,
        "\"missing\"",
    );
    fails(
        &["topics", "describe", "-b", b, "-t", "missing"],
        b"",
        4,
        "missing",
    );
    fails(
        &["topics", "delete", "-b", b, "-t", "missing"],
        b"",
        4,
        "missing",
    );
    // Usage errors: exit 2, naming what is wrong.
    fails(
        &["produce", "-b", b, "-t", "x", "-X", "linger.msec=5"],
        b"",
        2,
        "linger.msec",
    );
    fails(
        &["produce", "-b", b, "-t", "x", "-X", "linger.ms=soon"],
        b"",
        2,
        "linger.ms",
    );
    fails(
        &["produce", "-b", b, "-t", "x", "-z", "brotli"],
        b"",
        2,
        "brotli",
    );
    fails(
        &["consume", "-b", b, "-t", "x", "-g", "group-1", "-p", "0"],
        b"",
        2,
        "-p cannot be used with -g",
    );
    fails(
        &["consume", "-b", b, "-t", "x", "-o", "middle"],
        b"",
        2,
        "middle",
    );
    fails(&["no-such-command"], b"", 2, "no-such-command");
    let help = ok(&["--help"], b"");
    assert!(help.contains("Exit codes"), "{help}");
}

#[test]
fn topics_create_list_describe_delete() {
    let broker = TestBroker::start();
    let b = broker.addr.as_str();
    let out = ok(
        &[
            "topics",
            "create",
            "-b",
            b,
            "-t",
            "events",
            "-p",
            "3",
            "-c",
            "retention.ms=60000",
        ],
        b"",
    );
    assert!(out.contains("events") && out.contains('3'), "{out}");
    // Creating it again is a Kafka error naming the topic.
    fails(
        &["topics", "create", "-b", b, "-t", "events"],
        b"",
        1,
        "events",
    );
    // A bad topic config is refused by the broker.
    fails(
        &[
            "topics",
            "create",
            "-b",
            b,
            "-t",
            "bad",
            "-c",
            "no.such.config=1",
        ],
        b"",
        1,
        "bad",
    );
    ok(&["topics", "create", "-b", b, "-t", "other"], b"");
    let list = json_lines(&ok(&["topics", "list", "-b", b, "--json"], b""));
    assert_eq!(
        list,
        vec![
            serde_json::json!({"topic": "events", "partitions": 3}),
            serde_json::json!({"topic": "other", "partitions": 1}),
        ]
    );
    let table = ok(&["topics", "list", "-b", b], b"");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("events") && l.ends_with('3')),
        "{table}"
    );

    ok(
        &["produce", "-b", b, "-t", "events", "-p", "2", "-q"],
        b"a\nb\n",
    );
    let described = json_lines(&ok(
        &["topics", "describe", "-b", b, "-t", "events", "--json"],
        b"",
    ));
    let d = &described[0];
    assert_eq!(d["topic"], "events");
    assert_eq!(d["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(d["partitions"][2]["high_watermark"], 2);
    assert_eq!(d["partitions"][0]["high_watermark"], 0);
    assert_eq!(d["configs"]["retention.ms"], "60000");
    let text = ok(&["topics", "describe", "-b", b, "-t", "events"], b"");
    assert!(text.contains("retention.ms=60000"), "{text}");

    let out = ok(&["topics", "delete", "-b", b, "-t", "events"], b"");
    assert!(out.contains("events"), "{out}");
    let list = json_lines(&ok(&["topics", "list", "-b", b, "--json"], b""));
    assert_eq!(
        list,
        vec![serde_json::json!({"topic": "other", "partitions": 1})]
    );
}

#[test]
fn perf_reports_json() {
    let broker = TestBroker::start();
    let b = broker.addr.as_str();
    ok(&["topics", "create", "-b", b, "-t", "perf", "-p", "2"], b"");
    let out = ok(
        &[
            "perf", "produce", "-b", b, "-t", "perf", "-n", "2000", "-s", "64", "--json",
        ],
        b"",
    );
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["mode"], "produce");
    assert_eq!(report["records"], 2000);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["bytes"], 2000 * 64);
    for field in ["avg", "p50", "p95", "p99", "p999", "max"] {
        assert!(
            report["latency_ms"][field].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
    let out = ok(&["perf", "consume", "-b", b, "-t", "perf", "--json"], b"");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["mode"], "consume");
    assert_eq!(report["records"], 2000);
    assert_eq!(report["bytes"], 2000 * 64);
}

#[test]
fn broker_keeps_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = TestBroker::spawn(&data, &[], None);
    ok(
        &["produce", "-b", &broker.addr, "-t", "kept", "-q"],
        b"one\ntwo\n",
    );
    assert!(broker.stop().success());
    let broker = TestBroker::spawn(&data, &[], None);
    let out = ok(
        &["consume", "-b", &broker.addr, "-t", "kept", "-e", "-q"],
        b"",
    );
    assert_eq!(out, "one\ntwo\n");
}

#[test]
fn consume_waits_for_new_records_and_stops_on_sigint() {
    let broker = TestBroker::start();
    let b = broker.addr.as_str();
    ok(&["topics", "create", "-b", b, "-t", "live"], b"");
    // Started on the empty topic: it must wait for records produced later.
    let mut consumer = Command::new(BIN)
        .args(["consume", "-b", b, "-t", "live", "--format", "json", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(consumer.stdout.take().unwrap()).lines();
    ok(
        &["produce", "-b", b, "-t", "live", "-q"],
        b"first\nsecond\n",
    );
    let mut got = Vec::new();
    for _ in 0..2 {
        let line = lines.next().expect("a record line").unwrap();
        let record: Value = serde_json::from_str(&line).unwrap();
        got.push(record["value"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, ["first", "second"]);
    // Ctrl-C ends a tailing consume with success.
    Command::new("kill")
        .args(["-INT", &consumer.id().to_string()])
        .status()
        .unwrap();
    let status = wait_limited(&mut consumer);
    assert_eq!(status.code(), Some(0), "SIGINT should end consume with 0");
    assert!(lines.next().is_none(), "no output after the two records");
}

/// Apache Kafka 4.3.1 (KRaft) from the jars `scripts/setup.sh` installs, stopped on drop.
struct ApacheKafka {
    addr: String,
    dir: tempfile::TempDir,
}

impl ApacheKafka {
    fn script() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/apache-kafka.sh")
    }

    fn start(extra_props: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(Self::script())
            .arg("start")
            .arg(dir.path())
            .env("KAFKA_EXTRA_PROPS", extra_props)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "Apache Kafka did not start (are the jars installed? run scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let addr = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "bootstrap {addr:?}");
        ApacheKafka { addr, dir }
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

#[test]
fn same_commands_against_apache_kafka() {
    let kafka = ApacheKafka::start("auto.create.topics.enable=false");
    let b = kafka.addr.as_str();
    ok(
        &[
            "topics",
            "create",
            "-b",
            b,
            "-t",
            "orders",
            "-p",
            "3",
            "-c",
            "retention.ms=60000",
        ],
        b"",
    );
    ok(
        &[
            "produce", "-b", b, "-t", "orders", "-k", ":", "-z", "zstd", "-q",
        ],
        b"a:1\nb:2\na:3\n",
    );
    let records = json_lines(&ok(
        &[
            "consume", "-b", b, "-t", "orders", "-e", "--format", "json", "-q",
        ],
        b"",
    ));
    assert_eq!(records.len(), 3);
    let of = |key: &str| -> Vec<(i64, String)> {
        records
            .iter()
            .filter(|r| r["key"] == key)
            .map(|r| {
                (
                    r["partition"].as_i64().unwrap(),
                    r["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let a = of("a");
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].0, a[1].0, "one key, one partition");
    assert_eq!((a[0].1.as_str(), a[1].1.as_str()), ("1", "3"), "order kept");
    let d = json_lines(&ok(
        &["topics", "describe", "-b", b, "-t", "orders", "--json"],
        b"",
    ));
    assert_eq!(d[0]["configs"]["retention.ms"], "60000");
    let total: i64 = d[0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3);
    fails(&["produce", "-b", b, "-t", "missing"], b"x\n", 4, "missing");
    fails(
        &["consume", "-b", b, "-t", "missing", "-e"],
        b"",
        4,
        "missing",
    );
    // A group member and the group commands work the same against Apache Kafka.
    let read = json_lines(&ok(
        &[
            "consume", "-b", b, "-t", "orders", "-g", "og", "-e", "--format", "json", "-q",
        ],
        b"",
    ));
    assert_eq!(read.len(), 3);
    let lag = json_lines(&ok(&["groups", "lag", "-b", b, "-g", "og", "--json"], b""));
    assert_eq!(
        lag.iter().map(|l| l["lag"].as_i64().unwrap()).sum::<i64>(),
        0
    );
    let listed = json_lines(&ok(&["groups", "list", "-b", b, "--json"], b""));
    assert!(listed.iter().any(|g| g["group"] == "og"), "{listed:?}");
    ok(
        &[
            "groups",
            "reset-offsets",
            "-b",
            b,
            "-g",
            "og",
            "-t",
            "orders",
            "--to-earliest",
        ],
        b"",
    );
    let lag = json_lines(&ok(&["groups", "lag", "-b", b, "-g", "og", "--json"], b""));
    assert_eq!(
        lag.iter().map(|l| l["lag"].as_i64().unwrap()).sum::<i64>(),
        3
    );
    ok(&["groups", "delete", "-b", b, "-g", "og"], b"");
    ok(&["topics", "delete", "-b", b, "-t", "orders"], b"");
}

/// Values of JSON record lines.
fn values(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_owned())
        .collect()
}

/// `groups reset-offsets` of group `cg` on topic `gt`, with these options.
fn reset_args<'a>(b: &'a str, options: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["groups", "reset-offsets", "-b", b, "-g", "cg", "-t", "gt"];
    args.extend_from_slice(options);
    args
}

fn total_lag(b: &str, group: &str) -> i64 {
    json_lines(&ok(
        &["groups", "lag", "-b", b, "-g", group, "-t", "gt", "--json"],
        b"",
    ))
    .iter()
    .map(|l| l["lag"].as_i64().unwrap())
    .sum()
}

/// `consume -g` members share the work and resume at the committed offsets (classic and
/// KIP-848); `groups list|describe|lag|reset-offsets|delete` in tables and JSON; a SIGKILLed
/// `consume -g` loses nothing: its successor re-reads from the last commit (duplicates counted).
#[test]
fn consume_with_a_group_and_the_groups_commands() {
    let broker = TestBroker::start();
    let b = broker.addr.as_str();
    ok(&["topics", "create", "-b", b, "-t", "gt", "-p", "3"], b"");
    let input: String = (0..300).map(|i| format!("k{i}:v{i}\n")).collect();
    ok(
        &["produce", "-b", b, "-t", "gt", "-k", ":", "-q"],
        input.as_bytes(),
    );
    let all: std::collections::BTreeSet<String> = (0..300).map(|i| format!("v{i}")).collect();

    // A member reads 100 records and commits them on exit; the next one reads the rest.
    let consume = |group: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "consume", "-b", b, "-t", "gt", "-g", group, "--format", "json", "-q",
        ];
        args.extend_from_slice(extra);
        values(&json_lines(&ok(&args, b"")))
    };
    let first = consume("cg", &["-c", "100"]);
    assert_eq!(first.len(), 100);
    assert_eq!(total_lag(b, "cg"), 200);
    let second = consume("cg", &["-e"]);
    assert_eq!(first.len() + second.len(), 300, "nothing read twice");
    let union: std::collections::BTreeSet<String> =
        first.iter().chain(second.iter()).cloned().collect();
    assert_eq!(union, all);
    assert_eq!(total_lag(b, "cg"), 0);
    let table = ok(&["groups", "lag", "-b", b, "-g", "cg"], b"");
    assert!(table.starts_with("TOPIC"), "{table}");
    assert!(table.contains("total lag of group cg: 0"), "{table}");

    // KIP-848.
    let kip848 = consume("cg2", &["-e", "-X", "group.protocol=consumer"]);
    assert_eq!(kip848.len(), 300);
    let listed = json_lines(&ok(&["groups", "list", "-b", b, "--json"], b""));
    let kinds: Vec<(String, String, String)> = listed
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_owned(),
                g["type"].as_str().unwrap().to_owned(),
                g["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("cg".into(), "classic".into(), "Empty".into()),
            ("cg2".into(), "consumer".into(), "Empty".into())
        ]
    );
    let human = ok(&["groups", "list", "-b", b], b"");
    assert!(human.starts_with("GROUP"), "{human}");

    // reset-offsets: a dry run commits nothing; then to the earliest, a time, an offset.
    let dry = json_lines(&ok(
        &reset_args(b, &["--to-earliest", "--dry-run", "--json"]),
        b"",
    ));
    assert_eq!(dry.len(), 3);
    assert!(dry.iter().all(|r| r["offset"] == 0 && r["dry_run"] == true));
    assert_eq!(total_lag(b, "cg"), 0);
    ok(&reset_args(b, &["--to-earliest"]), b"");
    assert_eq!(total_lag(b, "cg"), 300);
    ok(
        &reset_args(b, &["--to-datetime", "2100-01-01T00:00:00Z"]),
        b"",
    );
    assert_eq!(total_lag(b, "cg"), 0, "after every record: the log end");
    ok(&reset_args(b, &["--to-offset", "0"]), b"");
    assert_eq!(total_lag(b, "cg"), 300);
    fails(
        &reset_args(b, &["--to-datetime", "soon"]),
        b"",
        2,
        "--to-datetime",
    );

    // A live member: describe shows it, reset-offsets refuses; then it is SIGKILLed.
    let mut member = Command::new(BIN)
        .args([
            "consume",
            "-b",
            b,
            "-t",
            "gt",
            "-g",
            "cg",
            "--format",
            "json",
            "-q",
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "auto.commit.interval.ms=200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(member.stdout.take().unwrap()).lines();
    let mut killed_read = Vec::new();
    for _ in 0..150 {
        let line = lines.next().expect("a record line").unwrap();
        let r: Value = serde_json::from_str(&line).unwrap();
        killed_read.push(r["value"].as_str().unwrap().to_owned());
    }
    let described = json_lines(&ok(
        &["groups", "describe", "-b", b, "-g", "cg", "--json"],
        b"",
    ));
    assert_eq!(described[0]["members"].as_array().unwrap().len(), 1);
    assert_eq!(described[0]["state"], "Stable");
    let owned = described[0]["members"][0]["partitions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(owned, 3);
    fails(&reset_args(b, &["--to-latest"]), b"", 1, "active member");
    std::thread::sleep(Duration::from_millis(600));
    member.kill().unwrap();
    member.wait().unwrap();
    killed_read.extend(lines.map_while(|l| l.ok()).map(|l| {
        let r: Value = serde_json::from_str(&l).unwrap();
        r["value"].as_str().unwrap().to_owned()
    }));
    // The coordinator notices the dead member after its session timeout.
    let deadline = Instant::now() + HANG_LIMIT;
    loop {
        let d = json_lines(&ok(
            &["groups", "describe", "-b", b, "-g", "cg", "--json"],
            b"",
        ));
        if d[0]["members"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the killed member never left");
        std::thread::sleep(Duration::from_millis(200));
    }
    let successor = consume("cg", &["-e"]);
    let union: std::collections::BTreeSet<String> = killed_read
        .iter()
        .chain(successor.iter())
        .cloned()
        .collect();
    assert_eq!(union, all, "every record read at least once");
    eprintln!(
        "SIGKILLed consume -g read {}, its successor {}: {} duplicates",
        killed_read.len(),
        successor.len(),
        killed_read.len() + successor.len() - 300
    );
    assert_eq!(total_lag(b, "cg"), 0);

    // Delete: refused for a group with members is covered by the broker tests; here both go.
    ok(&["groups", "delete", "-b", b, "-g", "cg", "-g", "cg2"], b"");
    let listed = ok(&["groups", "list", "-b", b, "--json"], b"");
    assert_eq!(listed, "");
}

/// `odradek users` and `odradek acls` against a broker with SASL and ACLs: the super user adds a
/// SCRAM user and an ACL; that user logs in with SCRAM and writes where the ACL allows; then both
/// are deleted again.
#[test]
fn users_and_acls_manage_a_secured_broker() {
    let broker = TestBroker::start_with_properties(
        "listeners=SASL_PLAINTEXT://127.0.0.1:0
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-secret\";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
",
    );
    let b = broker.addr.as_str();
    let admin = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                "-b",
                b,
                "-X",
                "security.protocol=SASL_PLAINTEXT",
                "-X",
                "sasl.mechanism=PLAIN",
                "-X",
                "sasl.username=admin",
                "-X",
                "sasl.password=admin-secret",
            ]
            .map(String::from),
        );
        v
    };
    let run = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), b"");

    run(admin(&["users", "add", "alice", "--password", "alice-pw"]));
    assert_eq!(
        run(admin(&["users", "list"])),
        "alice\tSCRAM-SHA-512\t4096\n"
    );
    run(admin(&["topics", "create", "-t", "orders", "-p", "1"]));
    let created = run(admin(&[
        "acls",
        "create",
        "--topic",
        "orders",
        "--principal",
        "User:alice",
        "--operation",
        "Write",
        "--operation",
        "Describe",
    ]));
    assert_eq!(created.lines().count(), 2, "{created}");
    let listed = json_lines(&run(admin(&["acls", "list", "--json"])));
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|a| a["principal"] == "User:alice" && a["resource_name"] == "orders")
    );

    let alice = [
        "-b",
        b,
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanism=SCRAM-SHA-512",
        "-X",
        "sasl.username=alice",
        "-X",
        "sasl.password=alice-pw",
    ];
    let mut produce = vec!["produce", "-t", "orders", "-q"];
    produce.extend(alice);
    ok(&produce, b"hello from alice\n");

    let deleted = run(admin(&[
        "acls",
        "delete",
        "--topic",
        "orders",
        "--principal",
        "User:alice",
    ]));
    assert_eq!(deleted.lines().count(), 2, "{deleted}");
    assert_eq!(run(admin(&["acls", "list"])), "");
    run(admin(&["users", "delete", "alice"]));
    assert_eq!(run(admin(&["users", "list"])), "");
    drop(broker);
}
