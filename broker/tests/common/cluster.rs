//! A cluster of combined nodes (controller + broker) on 127.0.0.1 for the cluster-mode tests:
//! nodes stop and start again by id, with their data dirs and quorum addresses kept.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{DescribeClusterRequest, MetadataRequest, metadata_request};
use odradek::producer::{Producer, ProducerRecord};
use odradek_broker::{Broker, BrokerConfig, BrokerHandle, BrokerProperties, ClusterConfig};

use super::{Client, topic};

pub struct TestCluster {
    voters: BTreeMap<u64, String>,
    dirs: BTreeMap<u64, tempfile::TempDir>,
    pub nodes: BTreeMap<u64, BrokerHandle>,
    props: String,
}

impl TestCluster {
    /// Starts `n` nodes with `props` (server.properties lines).
    pub async fn start(n: u64, props: &str) -> Self {
        super::init_tracing("warn");
        let voters = ClusterConfig::local_voters(u16::try_from(n).unwrap()).unwrap();
        let mut cluster = Self {
            voters,
            dirs: (1..=n)
                .map(|id| (id, tempfile::tempdir().unwrap()))
                .collect(),
            nodes: BTreeMap::new(),
            props: props.to_string(),
        };
        for id in 1..=n {
            cluster.start_node(id).await;
        }
        cluster
    }

    /// Starts node `id` (again), on its data dir; its client port is new.
    pub async fn start_node(&mut self, id: u64) {
        let cfg = BrokerConfig::cluster_node(
            id,
            &self.voters,
            "127.0.0.1:0".parse().unwrap(),
            self.dirs[&id].path(),
            BrokerProperties::parse(&self.props).unwrap(),
        );
        let handle = Broker::start(cfg).await.unwrap();
        self.nodes.insert(id, handle);
    }

    /// Stops node `id` (its controller too); the others fence it when its lease lapses.
    pub async fn stop_node(&mut self, id: u64) {
        if let Some(h) = self.nodes.remove(&id) {
            h.shutdown().await;
        }
    }

    /// Node `id`'s data dir (its topic files and partition logs).
    pub fn data_dir(&self, id: u64) -> &std::path::Path {
        self.dirs[&id].path()
    }

    pub fn addr(&self, id: u64) -> SocketAddr {
        self.nodes[&id].local_addr()
    }

    /// The client addresses of the running nodes, by node id order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.values().map(BrokerHandle::local_addr).collect()
    }

    pub async fn shutdown(mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop_node(id).await;
        }
    }
}

/// A client config bootstrapping from every node at `addrs`.
pub fn client_config(addrs: &[SocketAddr]) -> odradek::config::Config {
    let mut config = odradek::config::Config::new();
    let bootstrap: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    config
        .set("bootstrap.servers", &bootstrap.join(","))
        .unwrap();
    config
}

/// Polls `check` until it returns `Some`, for at most 30 s.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the node at `addr` lists `n` live brokers.
pub async fn wait_for_brokers(addr: SocketAddr, n: usize) {
    eventually("the brokers registered", || async {
        let mut c = Client::connect(addr).await;
        let r = c.call(DescribeClusterRequest::default(), 0).await;
        (r.brokers.len() == n).then_some(())
    })
    .await;
}

/// (leader, leader epoch, sorted ISR) of partition 0 of `name`, as the node at `addr` says.
pub async fn partition0(addr: SocketAddr, name: &str) -> Option<(i32, i32, Vec<i32>)> {
    let mut c = Client::connect(addr).await;
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(topic(name));
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    let m = c.call(req, 12).await;
    let p = m.topics.first()?.partitions.first()?;
    let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
    isr.sort_unstable();
    Some((p.leader_id.0, p.leader_epoch, isr))
}

/// Every record of partition 0 of `name` up to the high watermark, read from `addr` (retried
/// while the node answers an error: a new leader may not have taken its leadership up yet).
pub async fn read_partition0(addr: SocketAddr, name: &str) -> Vec<(i64, Option<String>)> {
    read_partition0_from(addr, name, 0).await
}

/// `read_partition0` from offset `start` (records of a batch before it are skipped, as a
/// client does).
pub async fn read_partition0_from(
    addr: SocketAddr,
    name: &str,
    start: i64,
) -> Vec<(i64, Option<String>)> {
    eventually("a whole read of partition 0", || async {
        let mut c = Client::connect(addr).await;
        let mut out: Vec<(i64, Option<String>)> = Vec::new();
        loop {
            let next = out.last().map_or(start, |(o, _)| o + 1);
            let (code, hw, records) = super::fetch(&mut c, name, 0, next, 1 << 20).await;
            if code != 0 {
                eprintln!("fetch from {addr} at {next}: error {code}; retrying");
                return None;
            }
            let values = super::decode_values(records);
            out.extend(values.into_iter().filter(|(o, _)| *o >= next));
            if out.last().map_or(start, |(o, _)| o + 1) >= hw {
                return Some(out);
            }
        }
    })
    .await
}

/// An idempotent acks=all producer (linger 5 ms) bootstrapping from every node in `addrs`.
pub fn acks_all_producer(addrs: &[SocketAddr]) -> Producer {
    let mut config = client_config(addrs);
    config.set("acks", "all").unwrap();
    config.set("enable.idempotence", "true").unwrap();
    config.set("linger.ms", "5").unwrap();
    Producer::new(config.producer().unwrap()).unwrap()
}

/// Sends `v{i}` for every i in `range` to partition 0 of `name`; panics unless all are
/// acknowledged.
pub async fn send_values(producer: &Producer, name: &str, range: std::ops::Range<usize>) {
    let pending: Vec<_> = range
        .map(|i| {
            let value = format!("v{i}");
            producer.send(
                ProducerRecord::new(name)
                    .partition(0)
                    .value(value.as_bytes()),
            )
        })
        .collect();
    for (i, f) in pending.into_iter().enumerate() {
        f.await
            .unwrap_or_else(|e| panic!("record {i} of the batch not acknowledged: {e}"));
    }
}

/// `v0` .. `v{n-1}` at offsets 0 .. n-1.
pub fn values(n: usize) -> Vec<(i64, Option<String>)> {
    (0..n).map(|i| (i as i64, Some(format!("v{i}")))).collect()
}
