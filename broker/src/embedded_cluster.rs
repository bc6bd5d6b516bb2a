//! An N-node cluster in-process for fail-over tests of users' own code (every binding's
//! `testing.Cluster`): nodes 1..=N on 127.0.0.1, each a controller of the metadata quorum and a
//! broker (KRaft's combined mode) on its own small tokio runtime, so a node can be killed
//! abruptly, restarted on the same data dir and client port, or cut off from the network.
//!
//! Test timings (each overridable through `properties`): a broker's lease lapses after
//! `broker.session.timeout.ms=2000` without a heartbeat (`broker.heartbeat.interval.ms=200`,
//! ten per lease, so a busy machine does not fence a live node), and a follower that has not
//! caught up for `replica.lag.time.max.ms=2000` leaves the ISR: a killed or isolated leader's
//! partitions move within about two seconds. `default.replication.factor` is the number of
//! nodes, up to 3. Logs are not fsynced (a kill loses nothing the process had written).

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::embedded::{broker_runtime, set_properties, temp_data_dir};
use crate::{Broker, BrokerConfig, BrokerHandle, BrokerProperties, ClusterConfig, FsyncPolicy};

/// The largest cluster `start` makes (each node is two threads and a quorum voter).
pub const MAX_NODES: u16 = 9;

/// How long `start` and `restart` wait for nodes to register with the quorum.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a test cluster changes from the broker's defaults (see the module doc).
const TEST_TIMINGS: [(&str, &str); 3] = [
    ("broker.session.timeout.ms", "2000"),
    ("broker.heartbeat.interval.ms", "200"),
    ("replica.lag.time.max.ms", "2000"),
];

/// A running node: its runtime owns every task of the node, so dropping the runtime is a kill.
struct RunningNode {
    runtime: tokio::runtime::Runtime,
    handle: BrokerHandle,
}

struct Node {
    data_dir: PathBuf,
    /// The client listener's address, kept for a restart (clients' bootstrap lists stay valid).
    addr: SocketAddr,
    running: Option<RunningNode>,
}

/// N combined nodes in this process, each killable, restartable and isolatable by id.
pub struct EmbeddedCluster {
    root: PathBuf,
    voters: BTreeMap<u64, String>,
    properties: BrokerProperties,
    nodes: BTreeMap<u64, Node>,
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("root", &self.root)
            .field("live", &self.live_ids())
            .finish_non_exhaustive()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl EmbeddedCluster {
    /// Starts `nodes` nodes (ids 1..=nodes) with these Kafka broker properties over the test
    /// timings, and returns once every node is registered and unfenced: a topic with
    /// replication factor `nodes` can be created at once.
    ///
    /// ```no_run
    /// let mut cluster = odradek_broker::EmbeddedCluster::start(3, &[]).unwrap();
    /// let bootstrap = cluster.bootstrap_servers(); // "127.0.0.1:p1,127.0.0.1:p2,..."
    /// # let _ = bootstrap;
    /// if let Some(leader) = cluster.leader("orders", 0) {
    ///     cluster.kill(leader).unwrap();
    ///     cluster.restart(leader).unwrap();
    /// }
    /// cluster.stop();
    /// ```
    pub fn start(nodes: u16, properties: &[(&str, &str)]) -> io::Result<EmbeddedCluster> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(invalid(format!(
                "an embedded cluster has 1 to {MAX_NODES} nodes, not {nodes}"
            )));
        }
        let mut props = BrokerProperties::default();
        set_properties(&mut props, &TEST_TIMINGS)?;
        let replication = nodes.min(3).to_string();
        set_properties(&mut props, &[("default.replication.factor", &replication)])?;
        set_properties(&mut props, properties)?;
        let root = temp_data_dir("odradek-cluster")?;
        let mut cluster = EmbeddedCluster {
            voters: BTreeMap::new(),
            properties: props,
            nodes: (1..=u64::from(nodes))
                .map(|id| {
                    let node = Node {
                        data_dir: root.join(format!("node-{id}")),
                        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                        running: None,
                    };
                    (id, node)
                })
                .collect(),
            root,
        };
        // On an error `cluster` is dropped, which kills what started and removes the dirs.
        cluster.voters = ClusterConfig::local_voters(nodes)?;
        for id in 1..=u64::from(nodes) {
            cluster.launch(id)?;
        }
        cluster.wait_until("every node registered and unfenced", |c| {
            c.nodes.values().all(|n| {
                n.running.as_ref().is_some_and(|r| {
                    r.handle.is_serving()
                        && r.handle.metadata_image().is_some_and(|i| {
                            i.brokers.values().filter(|b| !b.fenced).count() == usize::from(nodes)
                        })
                })
            })
        })?;
        Ok(cluster)
    }

    /// Starts node `id` on its data dir and its last client port (a fresh port the first time,
    /// or when the old one is taken).
    fn launch(&mut self, id: u64) -> io::Result<()> {
        let node = self.node(id)?;
        let runtime = broker_runtime(&format!("odradek-cluster-node-{id}"))?;
        let config = |listen: SocketAddr| {
            let mut config = BrokerConfig::cluster_node(
                id,
                &self.voters,
                listen,
                &node.data_dir,
                self.properties.clone(),
            );
            config.fsync = FsyncPolicy::Never;
            config
        };
        let started = match runtime.block_on(Broker::start(config(node.addr))) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && node.addr.port() != 0 => {
                tracing::warn!(node = id, addr = %node.addr, "client port taken; restarting on a new one");
                runtime.block_on(Broker::start(config(SocketAddr::from(([127, 0, 0, 1], 0)))))
            }
            other => other,
        };
        let handle = started.map_err(|e| io::Error::new(e.kind(), format!("node {id}: {e}")))?;
        let node = self.nodes.get_mut(&id).expect("checked by node()");
        node.addr = handle.local_addr();
        node.running = Some(RunningNode { runtime, handle });
        Ok(())
    }

    fn node(&self, id: u64) -> io::Result<&Node> {
        self.nodes.get(&id).ok_or_else(|| {
            invalid(format!(
                "no node {id} in this cluster (its nodes are {:?})",
                self.node_ids()
            ))
        })
    }

    fn running(&self, id: u64) -> io::Result<&RunningNode> {
        self.node(id)?.running.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                format!("node {id} is not running (killed; restart it first)"),
            )
        })
    }

    fn wait_until(&self, what: &str, done: impl Fn(&Self) -> bool) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !done(self) {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("embedded cluster: {what} not reached within {READY_TIMEOUT:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Every node id, running or not, in order.
    pub fn node_ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    fn live_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.running.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// `host:port,...` of every running node (isolated ones included), for
    /// `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        let addrs: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.running.is_some())
            .map(|n| n.addr.to_string())
            .collect();
        addrs.join(",")
    }

    /// The client address of node `id` (its last one when it is not running).
    pub fn node_addr(&self, id: u64) -> io::Result<SocketAddr> {
        Ok(self.node(id)?.addr)
    }

    /// Whether node `id` runs (it may be isolated).
    pub fn is_running(&self, id: u64) -> io::Result<bool> {
        Ok(self.node(id)?.running.is_some())
    }

    /// Stops node `id` abruptly, like `kill -9`: its runtime is dropped with every task, so its
    /// connections drop and nothing is flushed or closed cleanly; its data dir stays for
    /// `restart`. The other nodes fence it when its lease lapses and its leaderships move.
    pub fn kill(&mut self, id: u64) -> io::Result<()> {
        self.running(id)?;
        let node = self.nodes.get_mut(&id).expect("checked above");
        if let Some(RunningNode { runtime, handle }) = node.running.take() {
            // Drops every task (sockets, logs, the controller) before returning, so the data
            // dir and ports are free for a restart. The handle goes after: dropping it first
            // would signal a graceful shutdown.
            runtime.shutdown_timeout(Duration::from_secs(5));
            drop(handle);
        }
        Ok(())
    }

    /// Starts node `id` again with the same node id, data dir and (if free) client port, and
    /// returns once it is registered and unfenced again; a running node is killed first. It
    /// comes back connected (not isolated) and catches up as a follower.
    pub fn restart(&mut self, id: u64) -> io::Result<()> {
        if self.running(id).is_ok() {
            self.kill(id)?;
        }
        self.launch(id)?;
        self.wait_until(&format!("node {id} registered again"), |c| {
            c.running(id).is_ok_and(|r| r.handle.is_serving())
        })
    }

    /// Cuts node `id` off the network (a partition): it keeps running, but its open
    /// connections close and no client, peer or controller traffic reaches it or leaves it
    /// until `heal`. Its lease lapses, so its leaderships move to the others.
    pub fn isolate(&self, id: u64) -> io::Result<()> {
        self.running(id)?.handle.network_gate().isolate();
        Ok(())
    }

    /// Reconnects node `id`: it hears the quorum again, is unfenced, and catches up.
    pub fn heal(&self, id: u64) -> io::Result<()> {
        self.running(id)?.handle.network_gate().heal();
        Ok(())
    }

    /// Whether node `id` is isolated (`false` when it is not running).
    pub fn is_isolated(&self, id: u64) -> io::Result<bool> {
        Ok(self
            .node(id)?
            .running
            .as_ref()
            .is_some_and(|r| r.handle.network_gate().is_isolated()))
    }

    /// The leader of `topic`'s `partition` in the newest metadata image a connected node has
    /// (`None`: no such partition, or no leader now). The image changes after a leader dies
    /// only once its lease lapses, so right after `kill` this may still name the dead node.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<u64> {
        let image = self
            .nodes
            .values()
            .filter_map(|n| n.running.as_ref())
            .filter(|r| !r.handle.network_gate().is_isolated())
            .filter_map(|r| r.handle.metadata_image())
            .max_by_key(|i| i.last_offset)?;
        let index = usize::try_from(partition).ok()?;
        image.topics.get(topic)?.partitions.get(index)?.leader
    }

    /// Kills every node and removes the data dirs. Idempotent; also done on drop.
    pub fn stop(&mut self) {
        for id in self.live_ids() {
            let _ = self.kill(id);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_node_counts_and_ids_are_errors() {
        let e = EmbeddedCluster::start(0, &[]).unwrap_err();
        assert!(e.to_string().contains("1 to 9 nodes"), "{e}");
        let e = EmbeddedCluster::start(1, &[("num.partitions", "x")]).unwrap_err();
        assert!(e.to_string().contains("num.partitions"), "{e}");
    }

    #[test]
    fn nodes_are_killed_restarted_on_their_port_and_isolated() {
        let mut c = EmbeddedCluster::start(2, &[]).unwrap();
        assert_eq!(c.node_ids(), vec![1, 2]);
        assert_eq!(c.bootstrap_servers().split(',').count(), 2);
        let addr = c.node_addr(2).unwrap();
        std::net::TcpStream::connect(addr).unwrap();

        c.kill(2).unwrap();
        assert!(std::net::TcpStream::connect(addr).is_err());
        assert_eq!(c.bootstrap_servers(), c.node_addr(1).unwrap().to_string());
        assert!(
            c.isolate(2)
                .unwrap_err()
                .to_string()
                .contains("not running")
        );
        c.restart(2).unwrap();
        assert_eq!(c.node_addr(2).unwrap(), addr, "same client port");

        // A connection open before the partition is cut by it; a new one is accepted by the OS,
        // then closed at once by the gate.
        let mut before = std::net::TcpStream::connect(addr).unwrap();
        c.isolate(2).unwrap();
        assert!(c.is_isolated(2).unwrap());
        let mut after = std::net::TcpStream::connect(addr).unwrap();
        for s in [&mut before, &mut after] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 1];
            match io::Read::read(s, &mut buf) {
                Ok(0) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                other => panic!("not closed by the gate: {other:?}"),
            }
        }
        c.heal(2).unwrap();
        assert!(!c.is_isolated(2).unwrap());
        assert!(c.kill(3).unwrap_err().to_string().contains("no node 3"));

        let root = c.root.clone();
        c.stop();
        assert!(!root.exists());
    }
}
