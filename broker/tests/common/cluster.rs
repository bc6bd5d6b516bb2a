//! A cluster of combined nodes (controller + broker) on 127.0.0.1 for the cluster-mode tests:
//! nodes stop and start again by id, with their data dirs and quorum addresses kept.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use odradek_broker::{Broker, BrokerConfig, BrokerHandle, BrokerProperties, ClusterConfig};

pub struct TestCluster {
    voters: BTreeMap<u64, String>,
    dirs: BTreeMap<u64, tempfile::TempDir>,
    pub nodes: BTreeMap<u64, BrokerHandle>,
    props: String,
}

impl TestCluster {
    /// Starts `n` nodes with `props` (server.properties lines). Controller ports are picked
    /// together, then released for the controllers to bind.
    pub async fn start(n: u64, props: &str) -> Self {
        super::init_tracing("warn");
        let held: Vec<std::net::TcpListener> = (0..n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let voters: BTreeMap<u64, String> = held
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.local_addr().unwrap().to_string()))
            .collect();
        drop(held);
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
        let mut cfg = BrokerConfig::new("127.0.0.1:0".parse().unwrap(), self.dirs[&id].path());
        cfg.properties = BrokerProperties::parse(&self.props).unwrap();
        cfg.cluster = Some(ClusterConfig {
            node_id: id,
            voters: self.voters.clone(),
            controller_listen: None,
        });
        let handle = Broker::start(cfg).await.unwrap();
        self.nodes.insert(id, handle);
    }

    /// Stops node `id` (its controller too); the others fence it when its lease lapses.
    pub async fn stop_node(&mut self, id: u64) {
        if let Some(h) = self.nodes.remove(&id) {
            h.shutdown().await;
        }
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
