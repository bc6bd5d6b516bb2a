//! The Rust runner of the cross-language conformance scenarios (tests/conformance/README.md):
//! every scenario file runs against a fresh embedded broker, step by step, through the same
//! public API the bindings wrap (`Producer`, `ConsumerClient`, `Admin`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use odradek::admin::{Admin, AlterConfigOp, ConfigResource, NewTopic};
use odradek::config::Config;
use odradek::consumer::{ConsumerClient, ConsumerRecord, Offset};
use odradek::error::{Error, ErrorClass};
use odradek::events::ErrorEvents;
use odradek::group::RebalanceListener;
use odradek::logging::{LogLevel, LogRecord};
use odradek::producer::{Producer, ProducerRecord};
use odradek::records::RecordHeader;
use odradek::share::{AcknowledgeType, ShareConsumer, ShareRecord};
use odradek_broker::{EmbeddedBroker, EmbeddedCluster};
use serde_json::{Map, Value};

type Outcome = Result<(), String>;
/// A record's (key, value), for comparing generated sets.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/scenarios")
}

#[test]
fn every_scenario_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/conformance/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "scenario files missing: {files:?}");
    let only = std::env::var("CONFORMANCE_ONLY").ok();
    let docs: Vec<Value> = files
        .iter()
        .map(|file| {
            serde_json::from_str(&std::fs::read_to_string(file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        })
        .filter(|doc: &Value| {
            only.as_deref()
                .is_none_or(|o| doc["name"].as_str() == Some(o))
        })
        .collect();
    // Two scenarios at a time: each has its own broker (or cluster) and clients, and most of a
    // scenario's time is spent waiting (rebalances, fencing), so two halve the wall time.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(doc) =
                    docs.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                {
                    let name = doc["name"].as_str().unwrap_or("?");
                    let started = Instant::now();
                    let result = odradek::runtime::block_on(run_scenario(doc));
                    eprintln!(
                        "conformance {name}: {} in {:.1} s",
                        if result.is_ok() { "ok" } else { "FAILED" },
                        started.elapsed().as_secs_f64()
                    );
                    if let Err(e) = result {
                        failures.lock().unwrap().push(format!("{name}: {e}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

enum Client {
    Producer(Producer),
    Consumer(Box<ConsumerState>),
    Share(Box<ShareState>),
}

struct ShareState {
    consumer: ShareConsumer,
    /// Every record `share_poll` handed out, for `acknowledge` to find by offset.
    received: Vec<ShareRecord>,
}

struct ConsumerState {
    consumer: ConsumerClient,
    /// Records received while waiting for an assignment, handed out first by the next consume.
    pending: Vec<ConsumerRecord>,
}

struct Runner {
    /// What every client config starts with: `bootstrap.servers`, and the security keys of a
    /// `"security": "sasl_ssl"` scenario; the step's own config keys replace these.
    base_config: Vec<(String, String)>,
    admin: Admin,
    clients: HashMap<String, Client>,
    /// Failures inside rebalance callbacks (`"on_revoke": "commit"`), reported after the step.
    callback_errors: Arc<Mutex<Vec<String>>>,
    /// stop_broker, expect_error_event, expect_log.
    events: Events,
    /// The cluster of a `"cluster"` scenario, and the node names `leader` bound.
    nodes: Nodes,
}

/// `"on_revoke": "commit"`: a synchronous commit of what was handed out, from the callback
/// (a plain thread, so blocking on the commit is what a user would do).
struct CommitOnRevoke {
    consumer: OnceLock<ConsumerClient>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl RebalanceListener for CommitOnRevoke {
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        let Some(c) = self.consumer.get() else {
            return;
        };
        if let Err(e) = odradek::runtime::block_on(c.commit()) {
            self.errors
                .lock()
                .unwrap()
                .push(format!("commit in on_revoke of {partitions:?}: {e}"));
        }
    }
}

/// The SCRAM user of the embedded broker in a `"security": "sasl_ssl"` scenario.
const SASL_USER: &str = "conformance";
const SASL_PASSWORD: &str = "conformance-secret";

async fn run_scenario(doc: &Value) -> Outcome {
    let mut props: Vec<(String, String)> = Vec::new();
    if let Some(cfg) = doc.get("broker_config").and_then(Value::as_object) {
        for (k, v) in cfg {
            props.push((k.clone(), as_str(v)?));
        }
    }
    let secure = match doc.get("security").map(Value::as_str) {
        None => false,
        Some(Some("sasl_ssl")) => true,
        Some(other) => return Err(format!("unknown security {other:?}")),
    };
    let nodes = match doc.get("cluster") {
        None => None,
        Some(c) => Some(
            c.get("nodes")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or("cluster.nodes is not a node count")?,
        ),
    };
    // The broker (or cluster) has its own runtime; start it off this one.
    let (broker, cluster) = tokio::task::spawn_blocking(move || {
        let refs: Vec<(&str, &str)> = props
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match nodes {
            Some(n) => EmbeddedCluster::start(n, &refs).map(|c| (None, Some(c))),
            None if secure => EmbeddedBroker::start_sasl_ssl(SASL_USER, SASL_PASSWORD, &refs)
                .map(|b| (Some(b), None)),
            None => EmbeddedBroker::start(&refs).map(|b| (Some(b), None)),
        }
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("embedded broker: {e}"))?;
    let bootstrap = match (&broker, &cluster) {
        (Some(b), _) => b.bootstrap_servers().to_string(),
        (None, Some(c)) => c.bootstrap_servers(),
        (None, None) => unreachable!("one of them started"),
    };
    let mut base_config = vec![("bootstrap.servers".to_string(), bootstrap)];
    if let Some(ca) = broker.as_ref().and_then(EmbeddedBroker::ca_pem) {
        for (k, v) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", SASL_USER),
            ("sasl.password", SASL_PASSWORD),
            ("ssl.ca.pem", ca),
        ] {
            base_config.push((k.to_string(), v.to_string()));
        }
    }
    let mut admin_config = Config::new();
    for (k, v) in &base_config {
        admin_config.set(k, v).map_err(|e| e.to_string())?;
    }
    let mut runner = Runner {
        admin: Admin::from_config(&admin_config).map_err(|e| e.to_string())?,
        base_config,
        clients: HashMap::new(),
        callback_errors: Arc::default(),
        events: Events {
            broker,
            errors: HashMap::new(),
            logs: None,
        },
        nodes: Nodes {
            cluster,
            names: HashMap::new(),
        },
    };
    let steps = doc["steps"].as_array().ok_or("no steps")?;
    let mut outcome = Ok(());
    for (i, step) in steps.iter().enumerate() {
        let mut result = runner.step(step).await;
        let failed_callbacks = std::mem::take(&mut *runner.callback_errors.lock().unwrap());
        if result.is_ok() && !failed_callbacks.is_empty() {
            result = Err(failed_callbacks.join("; "));
        }
        if let Err(e) = result {
            outcome = Err(format!("step {i} ({}): {e}", step["op"]));
            break;
        }
    }
    for (_, c) in runner.clients.drain() {
        match c {
            Client::Producer(p) => {
                let _ = p.close().await;
            }
            Client::Consumer(c) => {
                let _ = c.consumer.close().await;
            }
            Client::Share(s) => {
                let _ = s.consumer.close().await;
            }
        }
    }
    if runner.events.logs.is_some() {
        odradek::logging::clear_log_callback();
    }
    if let Some(mut broker) = runner.events.broker.take() {
        tokio::task::spawn_blocking(move || broker.stop())
            .await
            .map_err(|e| e.to_string())?;
    }
    if let Some(mut cluster) = runner.nodes.cluster.take() {
        tokio::task::spawn_blocking(move || cluster.stop())
            .await
            .map_err(|e| e.to_string())?;
    }
    outcome
}

impl Runner {
    async fn step(&mut self, step: &Value) -> Outcome {
        let op = step["op"].as_str().ok_or("a step without op")?;
        let result = match op {
            "create_topic" => self.create_topic(step).await,
            "producer" => self.new_producer(step),
            "produce" => self.produce(step).await,
            "flush" => self
                .producer(step)?
                .flush()
                .await
                .map_err(StepError::Client),
            "consumer" => self.new_consumer(step),
            "assign" => self.assign(step).await,
            "subscribe" => {
                let topics = strings(&step["topics"])?;
                let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
                self.consumer(step)?
                    .consumer
                    .subscribe(&refs)
                    .map_err(StepError::Client)
            }
            "consume" => self.consume(step).await,
            "consume_none" => self.consume_none(step).await,
            "iterate" => self.iterate(step).await,
            "seek" => {
                let (t, p) = (string(&step["topic"])?, int(&step["partition"])? as i32);
                let offset = int(&step["offset"])?;
                self.consumer(step)?
                    .consumer
                    .seek(&t, p, Offset::At(offset))
                    .map_err(StepError::Client)
            }
            "position" => {
                let (t, p) = (string(&step["topic"])?, int(&step["partition"])? as i32);
                let want = int(&step["expect"])?;
                let got = self.consumer(step)?.consumer.position(&t, p);
                if got != Some(want) {
                    return Err(format!("position of {t}-{p}: expected {want}, got {got:?}"));
                }
                Ok(())
            }
            "pause" | "resume" => {
                let parts = partitions_of(&step["partitions"])?;
                let refs: Vec<(&str, i32)> = parts.iter().map(|(t, p)| (t.as_str(), *p)).collect();
                let consumer = self.consumer(step)?.consumer.consumer();
                if op == "pause" {
                    consumer.pause(&refs);
                } else {
                    consumer.resume(&refs);
                }
                Ok(())
            }
            "commit" => self.commit(step).await,
            "committed" => self.committed(step).await,
            "wait_assignment" => self.wait_assignment(step).await,
            "close" => self.close(step).await,
            "init_transactions" => self
                .producer(step)?
                .init_transactions()
                .await
                .map_err(StepError::Client),
            "begin_transaction" => self
                .producer(step)?
                .begin_transaction()
                .map_err(StepError::Client),
            "commit_transaction" => self
                .producer(step)?
                .commit_transaction()
                .await
                .map_err(StepError::Client),
            "abort_transaction" => self
                .producer(step)?
                .abort_transaction()
                .await
                .map_err(StepError::Client),
            "send_offsets_to_transaction" => self.send_offsets_to_transaction(step).await,
            "watermarks" => self.watermarks(step).await,
            "offsets_for_times" => self.offsets_for_times(step).await,
            "describe_cluster" => self.describe_cluster(step).await,
            "describe_group" => self.describe_group(step).await,
            "group_lag" => self.group_lag(step).await,
            "alter_group_offsets" => {
                let offsets = offsets_of(&step["offsets"])?;
                self.admin
                    .alter_group_offsets(&string(&step["group"])?, &offsets)
                    .await
                    .map_err(StepError::Client)
            }
            "delete_group" => self
                .admin
                .delete_groups(&[&string(&step["group"])?])
                .await
                .map_err(StepError::Client),
            "alter_config" => self.alter_config(step).await,
            "describe_config" => self.describe_config(step).await,
            "delete_records" => self.delete_records(step).await,
            "stop_broker" => self.stop_broker().await,
            "expect_error_event" => self.expect_error_event(step).await,
            "expect_log" => self.expect_log(step).await,
            "leader" => self.leader(step).await,
            "kill_node" | "restart_node" | "isolate_node" | "heal_node" => {
                self.node_op(op, step).await
            }
            "share_consumer" => self.new_share_consumer(step),
            "share_subscribe" => self.share_subscribe(step).await,
            "share_poll" => self.share_poll(step).await,
            "acknowledge" => self.acknowledge(step),
            "share_commit" => self
                .share(step)?
                .consumer
                .commit_sync()
                .await
                .map_err(StepError::Client),
            other => return Err(format!("unknown op {other:?}")),
        };
        check_error(step, result)
    }

    async fn create_topic(&mut self, step: &Value) -> Result<(), StepError> {
        let mut topic = NewTopic::new(&string(&step["topic"])?, int(&step["partitions"])? as i32);
        if let Some(rf) = step.get("replication_factor") {
            topic = topic.replication_factor(int(rf)? as i16);
        }
        if let Some(cfg) = step.get("config").and_then(Value::as_object) {
            for (k, v) in cfg {
                topic = topic.config(k, &as_str(v)?);
            }
        }
        self.admin
            .create_topics(&[topic])
            .await
            .map_err(StepError::Client)
    }

    fn config(&self, step: &Value) -> Result<Config, StepError> {
        let mut config = Config::new();
        for (k, v) in &self.base_config {
            config.set(k, v).map_err(StepError::Client)?;
        }
        if let Some(cfg) = step.get("config").and_then(Value::as_object) {
            for (k, v) in cfg {
                config.set(k, &as_str(v)?).map_err(StepError::Client)?;
            }
        }
        Ok(config)
    }

    fn new_producer(&mut self, step: &Value) -> Result<(), StepError> {
        let config = self.config(step)?;
        let producer = Producer::from_config(&config).map_err(StepError::Client)?;
        self.watch_errors(&string(&step["client"])?, producer.cluster().events());
        self.clients
            .insert(string(&step["client"])?, Client::Producer(producer));
        Ok(())
    }

    fn new_consumer(&mut self, step: &Value) -> Result<(), StepError> {
        let config = self.config(step)?;
        let consumer = ConsumerClient::new(&config).map_err(StepError::Client)?;
        match step.get("on_revoke").and_then(Value::as_str) {
            None => {}
            Some("commit") => {
                let listener = Arc::new(CommitOnRevoke {
                    consumer: OnceLock::new(),
                    errors: self.callback_errors.clone(),
                });
                let _ = listener.consumer.set(consumer.clone());
                consumer
                    .set_rebalance_listener(listener)
                    .map_err(StepError::Client)?;
            }
            Some(other) => return Err(format!("unknown on_revoke {other:?}").into()),
        }
        self.watch_errors(
            &string(&step["client"])?,
            consumer.consumer().cluster().events(),
        );
        self.clients.insert(
            string(&step["client"])?,
            Client::Consumer(Box::new(ConsumerState {
                consumer,
                pending: Vec::new(),
            })),
        );
        Ok(())
    }

    fn producer(&self, step: &Value) -> Result<&Producer, String> {
        match self.clients.get(&string(&step["client"])?) {
            Some(Client::Producer(p)) => Ok(p),
            _ => Err(format!("no producer named {}", step["client"])),
        }
    }

    fn consumer(&mut self, step: &Value) -> Result<&mut ConsumerState, String> {
        let name = string(&step["client"])?;
        consumer_named(&mut self.clients, &name)
    }

    async fn produce(&mut self, step: &Value) -> Result<(), StepError> {
        let topic = string(&step["topic"])?;
        let mut records = Vec::new();
        if let Some(rs) = step.get("records") {
            for r in rs.as_array().ok_or("records is not a list")? {
                records.push(Rec::parse(r)?);
            }
        }
        if let Some(g) = step.get("generate") {
            records.extend(generated(g)?);
        }
        let producer = self.producer(step)?;
        let mut futures = Vec::new();
        for r in &records {
            let mut pr = ProducerRecord::new(&topic).headers(&r.headers);
            pr.key = r.key.as_deref();
            pr.value = r.value.as_deref();
            pr.partition = r.partition;
            pr.timestamp = r.timestamp;
            futures.push(producer.send(pr));
        }
        let mut reports = Vec::new();
        for f in futures {
            reports.push(f.await);
        }
        if step.get("expect_error").is_some() {
            // Every delivery must fail the same way: return the first error for checking,
            // and complain about any success.
            if let Some(i) = reports.iter().position(Result::is_ok) {
                return Err(format!("record {i} was delivered, expected an error").into());
            }
        }
        let reports: Vec<_> = reports
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(StepError::Client)?;
        if let Some(expect) = step.get("expect") {
            let expect = expect.as_array().ok_or("expect is not a list")?;
            if expect.len() != reports.len() {
                return Err(format!(
                    "expect has {} entries for {} records",
                    expect.len(),
                    reports.len()
                )
                .into());
            }
            for (i, (e, r)) in expect.iter().zip(&reports).enumerate() {
                for (field, got) in [("partition", r.partition as i64), ("offset", r.offset)] {
                    if let Some(want) = e.get(field)
                        && int(want)? != got
                    {
                        return Err(
                            format!("record {i}: expected {field} {want}, got {got}").into()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    async fn assign(&mut self, step: &Value) -> Result<(), StepError> {
        let mut parts = Vec::new();
        for p in step["partitions"].as_array().ok_or("partitions")? {
            let offset = match &p["offset"] {
                Value::String(s) if s == "earliest" => Offset::Beginning,
                Value::String(s) if s == "latest" => Offset::End,
                Value::String(s) if s == "committed" => Offset::Default,
                v => Offset::At(int(v)?),
            };
            parts.push((string(&p["topic"])?, int(&p["partition"])? as i32, offset));
        }
        let refs: Vec<(&str, i32, Offset)> =
            parts.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
        self.consumer(step)?
            .consumer
            .assign(&refs)
            .await
            .map_err(StepError::Client)
    }

    async fn consume(&mut self, step: &Value) -> Result<(), StepError> {
        let count = int(&step["count"])? as usize;
        let deadline = Instant::now() + Duration::from_millis(int(&step["timeout_ms"])? as u64);
        let c = self.consumer(step)?;
        let mut got: Vec<ConsumerRecord> = std::mem::take(&mut c.pending);
        while got.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("received {} of {count} records in time", got.len()).into());
            }
            let batch = c
                .consumer
                .poll_batch(count - got.len(), left.min(Duration::from_millis(200)))
                .await
                .map_err(StepError::Client)?;
            got.extend(batch);
        }
        if got.len() > count {
            c.pending = got.split_off(count);
        }
        got.sort_by(|a, b| {
            (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset))
        });
        if let Some(expect) = step.get("expect") {
            let expect = expect.as_array().ok_or("expect is not a list")?;
            if expect.len() != count {
                return Err(
                    format!("expect has {} entries, count is {count}", expect.len()).into(),
                );
            }
            for (i, (e, r)) in expect.iter().zip(&got).enumerate() {
                compare_record(e, r).map_err(|m| format!("record {i}: {m}"))?;
            }
        }
        if let Some(g) = step.get("generate") {
            let mut want: Vec<KeyValue> = generated(g)?
                .into_iter()
                .map(|r| (r.key, r.value))
                .collect();
            let mut have: Vec<KeyValue> = got
                .iter()
                .map(|r| {
                    (
                        r.key.as_ref().map(|b| b.to_vec()),
                        r.value.as_ref().map(|b| b.to_vec()),
                    )
                })
                .collect();
            want.sort();
            have.sort();
            if want != have {
                let missing = want.iter().filter(|w| !have.contains(w)).count();
                return Err(format!(
                    "received records differ from the generated set ({missing} missing)"
                )
                .into());
            }
        }
        Ok(())
    }

    /// One record per `poll`, as a read loop takes them: what the fetch brought beyond them
    /// stays in the consumer.
    async fn iterate(&mut self, step: &Value) -> Result<(), StepError> {
        let count = int(&step["count"])? as usize;
        let deadline = Instant::now() + Duration::from_millis(int(&step["timeout_ms"])? as u64);
        let c = self.consumer(step)?;
        if !c.pending.is_empty() {
            return Err(format!("{} records were already waiting", c.pending.len()).into());
        }
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("received {} of {count} records in time", got.len()).into());
            }
            let polled = c.consumer.poll(left.min(Duration::from_millis(200)));
            got.extend(polled.await.map_err(StepError::Client)?);
        }
        if let Some(expect) = step.get("expect") {
            let expect = expect.as_array().ok_or("expect is not a list")?;
            for (i, (e, r)) in expect.iter().zip(&got).enumerate() {
                compare_record(e, r).map_err(|m| format!("record {i}: {m}"))?;
            }
        }
        Ok(())
    }

    async fn consume_none(&mut self, step: &Value) -> Result<(), StepError> {
        let timeout = Duration::from_millis(int(&step["timeout_ms"])? as u64);
        let c = self.consumer(step)?;
        if let Some(r) = c.pending.first() {
            return Err(format!(
                "a record was waiting: {}-{}@{}",
                r.topic, r.partition, r.offset
            )
            .into());
        }
        if let Some(r) = c.consumer.poll(timeout).await.map_err(StepError::Client)? {
            return Err(
                format!("unexpected record {}-{}@{}", r.topic, r.partition, r.offset).into(),
            );
        }
        Ok(())
    }

    async fn commit(&mut self, step: &Value) -> Result<(), StepError> {
        let c = self.consumer(step)?;
        match step.get("offsets") {
            None => c.consumer.commit().await.map_err(StepError::Client),
            Some(list) => {
                let offsets = offsets_of(list)?;
                c.consumer
                    .commit_offsets(&offsets)
                    .await
                    .map_err(StepError::Client)
            }
        }
    }

    /// The consumer named by `consumer` gives its group metadata; the producer `client` adds
    /// `offsets` to its open transaction.
    async fn send_offsets_to_transaction(&mut self, step: &Value) -> Result<(), StepError> {
        let name = string(&step["consumer"])?;
        let group = consumer_named(&mut self.clients, &name)?
            .consumer
            .group()
            .ok_or_else(|| format!("consumer {name} has no group.id"))?
            .group_metadata();
        let offsets = offsets_of(&step["offsets"])?;
        self.producer(step)?
            .send_offsets_to_transaction(&offsets, &group)
            .await
            .map_err(StepError::Client)
    }

    async fn committed(&mut self, step: &Value) -> Result<(), StepError> {
        let parts = partitions_of(&step["partitions"])?;
        let want: Vec<i64> = step["expect"]
            .as_array()
            .ok_or("expect")?
            .iter()
            .map(int)
            .collect::<Result<_, _>>()?;
        let got = self
            .consumer(step)?
            .consumer
            .committed(&parts)
            .await
            .map_err(StepError::Client)?;
        let got: Vec<i64> = parts
            .iter()
            .map(|k| got.get(k).copied().flatten().unwrap_or(-1))
            .collect();
        if got != want {
            return Err(format!("committed: expected {want:?}, got {got:?}").into());
        }
        Ok(())
    }

    async fn wait_assignment(&mut self, step: &Value) -> Result<(), StepError> {
        let names = strings(&step["clients"])?;
        let topic = string(&step["topic"])?;
        let partitions = int(&step["partitions"])? as i32;
        let deadline = Instant::now() + Duration::from_millis(int(&step["timeout_ms"])? as u64);
        loop {
            let mut owners: BTreeMap<i32, Vec<String>> = BTreeMap::new();
            let mut each_owns = true;
            for n in &names {
                let c = consumer_named(&mut self.clients, n)?;
                // Polling drives nothing in this client (membership has its own task), but it
                // keeps max.poll.interval.ms satisfied; records are kept for the next consume.
                let batch = c
                    .consumer
                    .poll_batch(1000, Duration::from_millis(50))
                    .await
                    .map_err(StepError::Client)?;
                c.pending.extend(batch);
                let mine: Vec<i32> = c
                    .consumer
                    .assignment()
                    .into_iter()
                    .filter(|(t, _)| *t == topic)
                    .map(|(_, p)| p)
                    .collect();
                each_owns &= !mine.is_empty() || partitions < names.len() as i32;
                for p in mine {
                    owners.entry(p).or_default().push(n.clone());
                }
            }
            let settled = each_owns
                && (0..partitions).all(|p| owners.get(&p).is_some_and(|o| o.len() == 1))
                && owners.keys().all(|p| (0..partitions).contains(p));
            if settled {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("assignment did not settle; owners: {owners:?}").into());
            }
        }
    }

    async fn watermarks(&mut self, step: &Value) -> Result<(), StepError> {
        let (t, p) = (string(&step["topic"])?, int(&step["partition"])? as i32);
        let want = ints(&step["expect"])?;
        let (low, high) = self
            .consumer(step)?
            .consumer
            .consumer()
            .fetch_watermarks(&t, p)
            .await
            .map_err(StepError::Client)?;
        if want != [low, high] {
            return Err(
                format!("watermarks of {t}-{p}: expected {want:?}, got [{low}, {high}]").into(),
            );
        }
        Ok(())
    }

    async fn offsets_for_times(&mut self, step: &Value) -> Result<(), StepError> {
        let mut queries = Vec::new();
        for q in step["partitions"].as_array().ok_or("partitions")? {
            queries.push((
                string(&q["topic"])?,
                int(&q["partition"])? as i32,
                int(&q["timestamp"])?,
            ));
        }
        let want = ints(&step["expect"])?;
        let refs: Vec<(&str, i32, i64)> = queries
            .iter()
            .map(|(t, p, ts)| (t.as_str(), *p, *ts))
            .collect();
        let found = self
            .consumer(step)?
            .consumer
            .consumer()
            .offsets_for_times(&refs)
            .await
            .map_err(StepError::Client)?;
        let got: Vec<i64> = queries
            .iter()
            .map(|(t, p, _)| found.get(&(t.clone(), *p)).map_or(-1, |o| o.offset))
            .collect();
        if got != want {
            return Err(format!("offsets_for_times: expected {want:?}, got {got:?}").into());
        }
        Ok(())
    }

    async fn describe_cluster(&mut self, step: &Value) -> Result<(), StepError> {
        let want = int(&step["brokers"])? as usize;
        let cluster = self
            .admin
            .describe_cluster()
            .await
            .map_err(StepError::Client)?;
        if cluster.brokers.len() != want {
            return Err(format!("expected {want} brokers, got {:?}", cluster.brokers).into());
        }
        if !cluster
            .brokers
            .iter()
            .any(|b| b.id == cluster.controller_id)
        {
            return Err(format!(
                "controller {} is not a listed broker",
                cluster.controller_id
            )
            .into());
        }
        Ok(())
    }

    async fn describe_group(&mut self, step: &Value) -> Result<(), StepError> {
        let group = string(&step["group"])?;
        let (state, members) = (string(&step["state"])?, int(&step["members"])? as usize);
        let described = self
            .admin
            .describe_groups(&[&group])
            .await
            .map_err(StepError::Client)?;
        let [d] = described.as_slice() else {
            return Err(format!("describe {group}: {} descriptions", described.len()).into());
        };
        if d.state != state || d.members.len() != members {
            return Err(format!(
                "group {group}: expected {state} with {members} members, got {} with {}",
                d.state,
                d.members.len()
            )
            .into());
        }
        Ok(())
    }

    async fn group_lag(&mut self, step: &Value) -> Result<(), StepError> {
        let group = string(&step["group"])?;
        let expect = step["expect"].as_array().ok_or("expect is not a list")?;
        let mut lags = self
            .admin
            .group_lag(&group, &[])
            .await
            .map_err(StepError::Client)?;
        lags.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        if lags.len() != expect.len() {
            return Err(format!(
                "lag of {group}: expected {} partitions, got {lags:?}",
                expect.len()
            )
            .into());
        }
        for (e, l) in expect.iter().zip(&lags) {
            if let Some(t) = e.get("topic")
                && string(t)? != l.topic
            {
                return Err(format!("lag of {group}: topic {} != {t}", l.topic).into());
            }
            for (field, got) in [
                ("partition", l.partition as i64),
                ("committed", l.committed.unwrap_or(-1)),
                ("log_end", l.log_end),
                ("lag", l.lag),
            ] {
                if let Some(want) = e.get(field)
                    && int(want)? != got
                {
                    return Err(format!("lag of {group}: {l:?}: {field} is not {want}").into());
                }
            }
        }
        Ok(())
    }

    async fn alter_config(&mut self, step: &Value) -> Result<(), StepError> {
        let topic = ConfigResource::Topic(string(&step["topic"])?);
        let mut ops = Vec::new();
        for (k, v) in step["set"].as_object().ok_or("set is not an object")? {
            ops.push(AlterConfigOp::Set(k.clone(), as_str(v)?));
        }
        self.admin
            .alter_configs(&topic, &ops)
            .await
            .map_err(StepError::Client)
    }

    async fn describe_config(&mut self, step: &Value) -> Result<(), StepError> {
        let topic = ConfigResource::Topic(string(&step["topic"])?);
        let entries = self
            .admin
            .describe_configs(&topic, None)
            .await
            .map_err(StepError::Client)?;
        for (k, v) in step["expect"]
            .as_object()
            .ok_or("expect is not an object")?
        {
            let want = as_str(v)?;
            let got = entries
                .iter()
                .find(|e| e.name == *k)
                .and_then(|e| e.value.clone());
            if got.as_deref() != Some(want.as_str()) {
                return Err(format!("config {k}: expected {want:?}, got {got:?}").into());
            }
        }
        Ok(())
    }

    async fn delete_records(&mut self, step: &Value) -> Result<(), StepError> {
        let (t, p) = (string(&step["topic"])?, int(&step["partition"])? as i32);
        let offset = int(&step["offset"])?;
        let low = self
            .admin
            .delete_records(&[(t.as_str(), p, offset)])
            .await
            .map_err(StepError::Client)?;
        let got = low.get(&(t.clone(), p)).copied();
        if let Some(want) = step.get("expect")
            && got != Some(int(want)?)
        {
            return Err(
                format!("delete_records {t}-{p}: low watermark {got:?}, expected {want}").into(),
            );
        }
        Ok(())
    }

    async fn close(&mut self, step: &Value) -> Result<(), StepError> {
        let name = string(&step["client"])?;
        match self.clients.remove(&name) {
            Some(Client::Producer(p)) => p.close().await.map_err(StepError::Client),
            Some(Client::Consumer(c)) => c.consumer.close().await.map_err(StepError::Client),
            Some(Client::Share(s)) => s.consumer.close().await.map_err(StepError::Client),
            None => Err(format!("no client named {name}").into()),
        }
    }
}

impl Runner {
    fn new_share_consumer(&mut self, step: &Value) -> Result<(), StepError> {
        let config = self.config(step)?;
        let consumer = ShareConsumer::new(&config).map_err(StepError::Client)?;
        self.clients.insert(
            string(&step["client"])?,
            Client::Share(Box::new(ShareState {
                consumer,
                received: Vec::new(),
            })),
        );
        Ok(())
    }

    fn share(&mut self, step: &Value) -> Result<&mut ShareState, String> {
        match self.clients.get_mut(&string(&step["client"])?) {
            Some(Client::Share(s)) => Ok(s),
            _ => Err(format!("no share consumer named {}", step["client"])),
        }
    }

    /// Subscribes, polls until the coordinator assigned a partition, then fetches once more:
    /// the share-partition starts at the log's end when first fetched. No record may arrive.
    async fn share_subscribe(&mut self, step: &Value) -> Result<(), StepError> {
        let topics = strings(&step["topics"])?;
        let deadline = Instant::now() + Duration::from_millis(int(&step["timeout_ms"])? as u64);
        let s = self.share(step)?;
        s.consumer.subscribe(&topics);
        loop {
            let assigned = !s.consumer.assignment().is_empty();
            let got = s
                .consumer
                .poll(Duration::from_millis(100))
                .await
                .map_err(StepError::Client)?;
            if let Some(r) = got.first() {
                return Err(
                    format!("record {}@{} before any was produced", r.topic, r.offset).into(),
                );
            }
            if assigned {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("no share assignment in time".into());
            }
        }
    }

    async fn share_poll(&mut self, step: &Value) -> Result<(), StepError> {
        let count = int(&step["count"])? as usize;
        let deadline = Instant::now() + Duration::from_millis(int(&step["timeout_ms"])? as u64);
        let s = self.share(step)?;
        let mut got: Vec<ShareRecord> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let batch = s.consumer.poll(left.min(Duration::from_millis(200)));
            got.extend(batch.await.map_err(StepError::Client)?);
            let done = if count == 0 {
                !got.is_empty()
            } else {
                got.len() >= count
            };
            if done || Instant::now() >= deadline {
                break;
            }
        }
        s.received.extend(got.iter().cloned());
        if got.len() != count {
            return Err(format!("received {} records, expected {count}", got.len()).into());
        }
        got.sort_by(|a, b| {
            (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset))
        });
        if let Some(expect) = step.get("expect") {
            let expect = expect.as_array().ok_or("expect is not a list")?;
            if expect.len() != count {
                return Err(
                    format!("expect has {} entries, count is {count}", expect.len()).into(),
                );
            }
            for (i, (e, r)) in expect.iter().zip(&got).enumerate() {
                compare_record(e, &r.to_consumer_record())
                    .and_then(|()| match e.get("delivery_count") {
                        Some(want) if int(want)? != i64::from(r.delivery_count) => {
                            Err(format!("delivery_count {} != {want}", r.delivery_count))
                        }
                        _ => Ok(()),
                    })
                    .map_err(|m| format!("record {i}: {m}"))?;
            }
        }
        Ok(())
    }

    fn acknowledge(&mut self, step: &Value) -> Result<(), StepError> {
        let (topic, partition) = (string(&step["topic"])?, int(&step["partition"])? as i32);
        let kind = match string(&step["type"])?.as_str() {
            "accept" => AcknowledgeType::Accept,
            "release" => AcknowledgeType::Release,
            "reject" => AcknowledgeType::Reject,
            other => return Err(format!("unknown acknowledge type {other:?}").into()),
        };
        let s = self.share(step)?;
        for o in step["offsets"].as_array().ok_or("offsets is not a list")? {
            let offset = int(o)?;
            let record = s
                .received
                .iter()
                .rev()
                .find(|r| r.topic == topic && r.partition == partition && r.offset == offset)
                .ok_or_else(|| format!("no record {topic}-{partition}@{offset} was received"))?;
            s.consumer
                .acknowledge(record, kind)
                .map_err(StepError::Client)?;
        }
        Ok(())
    }
}

/// `[{"topic", "partition", "offset"}]`.
fn offsets_of(list: &Value) -> Result<Vec<(String, i32, i64)>, String> {
    let mut offsets = Vec::new();
    for o in list.as_array().ok_or("offsets is not a list")? {
        offsets.push((
            string(&o["topic"])?,
            int(&o["partition"])? as i32,
            int(&o["offset"])?,
        ));
    }
    Ok(offsets)
}

/// `[{topic, partition}]` as (topic, partition) pairs.
fn partitions_of(list: &Value) -> Result<Vec<(String, i32)>, String> {
    let mut parts = Vec::new();
    for p in list.as_array().ok_or("partitions is not a list")? {
        parts.push((string(&p["topic"])?, int(&p["partition"])? as i32));
    }
    Ok(parts)
}

fn consumer_named<'a>(
    clients: &'a mut HashMap<String, Client>,
    name: &str,
) -> Result<&'a mut ConsumerState, String> {
    match clients.get_mut(name) {
        Some(Client::Consumer(c)) => Ok(c),
        _ => Err(format!("no consumer named {name}")),
    }
}

/// What the cluster ops (leader, kill_node, restart_node, isolate_node, heal_node) need.
struct Nodes {
    /// Taken out while a blocking call runs on it.
    cluster: Option<EmbeddedCluster>,
    /// Node ids by the names `leader` bound.
    names: HashMap<String, u64>,
}

impl Runner {
    /// Runs `op` on the cluster off the async runtime (it blocks on the nodes' runtimes).
    async fn on_cluster<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut EmbeddedCluster) -> T + Send + 'static,
    ) -> Result<T, String> {
        let mut cluster = self
            .nodes
            .cluster
            .take()
            .ok_or("a cluster op in a scenario without \"cluster\"")?;
        let (cluster, out) = tokio::task::spawn_blocking(move || {
            let out = op(&mut cluster);
            (cluster, out)
        })
        .await
        .map_err(|e| e.to_string())?;
        self.nodes.cluster = Some(cluster);
        Ok(out)
    }

    /// Binds `name` to the partition's leader, once it is a node not named in `not`.
    async fn leader(&mut self, step: &Value) -> Result<(), StepError> {
        let (topic, partition) = (string(&step["topic"])?, int(&step["partition"])? as i32);
        let name = string(&step["name"])?;
        let mut excluded = Vec::new();
        if let Some(not) = step.get("not") {
            for n in strings(not)? {
                excluded.push(self.node_named(&n)?);
            }
        }
        let ms = int(&step["timeout_ms"])?;
        let deadline = Instant::now() + Duration::from_millis(ms as u64);
        loop {
            let t = topic.clone();
            let leader = self.on_cluster(move |c| c.leader(&t, partition)).await?;
            match leader {
                Some(id) if !excluded.contains(&id) => {
                    self.nodes.names.insert(name, id);
                    return Ok(());
                }
                _ if Instant::now() > deadline => {
                    return Err(format!(
                        "no leader of {topic}-{partition} other than {excluded:?} within {ms} ms \
                         (last seen: {leader:?})"
                    )
                    .into());
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn node_named(&self, name: &str) -> Result<u64, String> {
        self.nodes
            .names
            .get(name)
            .copied()
            .ok_or_else(|| format!("no node named {name:?} (bind it with a leader step)"))
    }

    async fn node_op(&mut self, op: &str, step: &Value) -> Result<(), StepError> {
        let id = self.node_named(&string(&step["node"])?)?;
        let op = op.to_string();
        self.on_cluster(move |c| match op.as_str() {
            "kill_node" => c.kill(id),
            "restart_node" => c.restart(id),
            "isolate_node" => c.isolate(id),
            _ => c.heal(id),
        })
        .await?
        .map_err(|e| StepError::from(format!("node {id}: {e}")))
    }
}

/// A step failure: a client error (which `expect_error` may match) or a mismatch.
/// What the background-failure ops (stop_broker, expect_error_event, expect_log) need.
struct Events {
    /// The embedded broker, until stop_broker.
    broker: Option<EmbeddedBroker>,
    /// Every background error each client's callback received, by client name.
    errors: HashMap<String, Arc<Mutex<Vec<Error>>>>,
    /// Log records at warn and more severe, captured from stop_broker on.
    logs: Option<Arc<Mutex<Vec<LogRecord>>>>,
}

impl Runner {
    fn watch_errors(&mut self, name: &str, events: &ErrorEvents) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        events.set_callback(Arc::new(move |e: &Error| {
            sink.lock().unwrap().push(e.clone());
        }));
        self.events.errors.insert(name.to_string(), seen);
    }

    async fn stop_broker(&mut self) -> Result<(), StepError> {
        if self.events.logs.is_none() {
            let logs = Arc::new(Mutex::new(Vec::new()));
            let sink = logs.clone();
            odradek::logging::set_log_callback(
                LogLevel::Warn,
                Arc::new(move |r: &LogRecord| sink.lock().unwrap().push(r.clone())),
            )
            .map_err(StepError::Client)?;
            self.events.logs = Some(logs);
        }
        let mut broker = self
            .events
            .broker
            .take()
            .ok_or("the broker is stopped already")?;
        tokio::task::spawn_blocking(move || broker.stop())
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn expect_error_event(&self, step: &Value) -> Result<(), StepError> {
        let name = string(&step["client"])?;
        let seen = self
            .events
            .errors
            .get(&name)
            .ok_or_else(|| format!("no client named {name:?}"))?;
        let names = strings(&step["names"])?;
        let ms = int(&step["timeout_ms"])?;
        let hit = seen_within(seen, ms, |seen| {
            seen.iter()
                .find(|e| names.iter().any(|n| *n == e.name()))
                .cloned()
        })
        .await;
        let Some(e) = hit else {
            let received: Vec<String> = seen
                .lock()
                .unwrap()
                .iter()
                .map(|e| format!("{} ({e})", e.name()))
                .collect();
            return Err(format!(
                "no error event named {names:?} within {ms} ms; received {received:?}"
            )
            .into());
        };
        match step.get("retriable").and_then(Value::as_bool) {
            Some(want) if e.is_retriable() != want => Err(format!(
                "error event {}: expected retriable={want}, got {}",
                e.name(),
                e.is_retriable()
            )
            .into()),
            _ => Ok(()),
        }
    }

    async fn expect_log(&self, step: &Value) -> Result<(), StepError> {
        let least = match step["level"].as_str() {
            Some("warn") => LogLevel::Warn,
            Some("error") => LogLevel::Error,
            other => return Err(format!("level {other:?} is not warn or error").into()),
        };
        let logs = self
            .events
            .logs
            .as_ref()
            .ok_or("expect_log before stop_broker: no log capture")?;
        let ms = int(&step["timeout_ms"])?;
        // LogLevel orders the most severe first.
        let hit = seen_within(logs, ms, |logs| {
            logs.iter().find(|r| r.level <= least).cloned()
        })
        .await;
        if hit.is_none() {
            let captured: Vec<String> = logs
                .lock()
                .unwrap()
                .iter()
                .map(|r| r.message.clone())
                .collect();
            return Err(format!(
                "no log record at {least:?} or above within {ms} ms; captured {captured:?}"
            )
            .into());
        }
        Ok(())
    }
}

/// Polls what a callback collects until `find` returns something or `ms` pass.
async fn seen_within<T, R>(
    seen: &Mutex<Vec<T>>,
    ms: i64,
    mut find: impl FnMut(&[T]) -> Option<R>,
) -> Option<R> {
    let deadline = Instant::now() + Duration::from_millis(ms as u64);
    loop {
        if let Some(hit) = find(&seen.lock().unwrap()) {
            return Some(hit);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

enum StepError {
    Client(Error),
    Mismatch(String),
}

impl From<String> for StepError {
    fn from(s: String) -> Self {
        StepError::Mismatch(s)
    }
}

impl From<&str> for StepError {
    fn from(s: &str) -> Self {
        StepError::Mismatch(s.to_string())
    }
}

fn check_error(step: &Value, result: Result<(), StepError>) -> Outcome {
    match (step.get("expect_error"), result) {
        (None, Ok(())) => Ok(()),
        (None, Err(StepError::Client(e))) => Err(format!("unexpected error: {e} [{}]", e.name())),
        (_, Err(StepError::Mismatch(m))) => Err(m),
        (Some(want), Ok(())) => Err(format!("expected error {want}, the step succeeded")),
        (Some(want), Err(StepError::Client(e))) => {
            let name = string(&want["name"])?;
            if e.name() != name {
                return Err(format!("expected error {name}, got {} ({e})", e.name()));
            }
            if let Some(r) = want.get("retriable").and_then(Value::as_bool)
                && r != e.is_retriable()
            {
                return Err(format!("expected retriable={r} for {name}, got {e}"));
            }
            if let Some(f) = want.get("fatal").and_then(Value::as_bool)
                && f != (e.class() == ErrorClass::Fatal)
            {
                return Err(format!("expected fatal={f} for {name}, got {e}"));
            }
            if let Some(t) = want.get("topic").and_then(Value::as_str)
                && Some(t) != e.topic()
            {
                return Err(format!(
                    "expected topic {t} for {name}, got {:?}",
                    e.topic()
                ));
            }
            if let Some(p) = want.get("partition").and_then(Value::as_i64)
                && Some(p) != e.partition().map(i64::from)
            {
                return Err(format!(
                    "expected partition {p} for {name}, got {:?}",
                    e.partition()
                ));
            }
            Ok(())
        }
    }
}

struct Rec {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<RecordHeader>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

impl Rec {
    fn parse(v: &Value) -> Result<Rec, String> {
        let obj = v.as_object().ok_or("a record is not an object")?;
        Ok(Rec {
            key: bytes_of(obj.get("key").unwrap_or(&Value::Null))?,
            value: bytes_of(obj.get("value").unwrap_or(&Value::Null))?,
            headers: headers_of(obj.get("headers"))?,
            partition: obj.get("partition").map(int).transpose()?.map(|p| p as i32),
            timestamp: obj.get("timestamp").map(int).transpose()?,
        })
    }
}

fn headers_of(v: Option<&Value>) -> Result<Vec<RecordHeader>, String> {
    let mut out = Vec::new();
    if let Some(v) = v {
        for h in v.as_array().ok_or("headers is not a list")? {
            let pair = h
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or("a header is not a pair")?;
            out.push(RecordHeader::new(
                Bytes::from(string(&pair[0])?),
                bytes_of(&pair[1])?.map(Bytes::from),
            ));
        }
    }
    Ok(out)
}

fn generated(g: &Value) -> Result<Vec<Rec>, String> {
    let count = int(&g["count"])?;
    let pattern = |field: &str, i: i64| -> Result<Option<Vec<u8>>, String> {
        match g.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Ok(Some(string(v)?.replace("{i}", &i.to_string()).into_bytes())),
        }
    };
    (0..count)
        .map(|i| {
            Ok(Rec {
                key: pattern("key", i)?,
                value: pattern("value", i)?,
                headers: Vec::new(),
                partition: None,
                timestamp: None,
            })
        })
        .collect()
}

fn compare_record(e: &Value, r: &ConsumerRecord) -> Result<(), String> {
    let e: &Map<String, Value> = e.as_object().ok_or("an expected record is not an object")?;
    if let Some(t) = e.get("topic")
        && string(t)? != *r.topic
    {
        return Err(format!("topic {} != {t}", r.topic));
    }
    for (field, got) in [("partition", r.partition as i64), ("offset", r.offset)] {
        if let Some(want) = e.get(field)
            && int(want)? != got
        {
            return Err(format!("{field} {got} != {want}"));
        }
    }
    for (field, got) in [("key", &r.key), ("value", &r.value)] {
        if let Some(want) = e.get(field) {
            let want = bytes_of(want)?;
            let got = got.as_ref().map(|b| b.to_vec());
            if want != got {
                return Err(format!("{field} {} != {}", show(&got), show(&want)));
            }
        }
    }
    if let Some(h) = e.get("headers") {
        let want = headers_of(Some(h))?;
        if want != r.headers {
            return Err(format!("headers {:?} != {:?}", r.headers, want));
        }
    }
    Ok(())
}

fn show(b: &Option<Vec<u8>>) -> String {
    match b {
        None => "null".into(),
        Some(b) if b.len() > 40 => format!("<{} bytes>", b.len()),
        Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
    }
}

fn bytes_of(v: &Value) -> Result<Option<Vec<u8>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        Value::Object(o) if o.contains_key("hex") => {
            let h = string(&o["hex"])?;
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(h.get(i..i + 2).unwrap_or("?"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map(Some)
                .map_err(|e| format!("bad hex {h:?}: {e}"))
        }
        Value::Object(o) if o.contains_key("repeat") => Ok(Some(
            string(&o["repeat"])?
                .repeat(int(&o["count"])? as usize)
                .into_bytes(),
        )),
        other => Err(format!("not a byte string: {other}")),
    }
}

fn string(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {v}"))
}

fn strings(v: &Value) -> Result<Vec<String>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected a list, got {v}"))?
        .iter()
        .map(string)
        .collect()
}

fn as_str(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("a config value must be a string, got {other}")),
    }
}

fn ints(v: &Value) -> Result<Vec<i64>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected a list, got {v}"))?
        .iter()
        .map(int)
        .collect()
}

fn int(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("expected an integer, got {v}"))
}
