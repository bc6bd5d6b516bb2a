//! What every request handler shares: identity of the cluster and node, the topic registry and
//! the producer id allocator.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{BrokerConfig, BrokerProperties, FsyncPolicy};
use crate::group::GroupCoordinator;
use crate::log::index::write_file_atomically;
use crate::security::acl::Authorizer;
use crate::security::scram_store::ScramStore;
use crate::time::random_uuid;
use crate::topics::TopicRegistry;
use crate::txn::TxnCoordinator;

/// Kafka's NOT_LEADER_OR_FOLLOWER (retriable: the client refreshes metadata).
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;

#[derive(Debug)]
pub struct BrokerState {
    pub node_id: i32,
    pub cluster_id: String,
    pub topics: TopicRegistry,
    pub fsync: FsyncPolicy,
    pub groups: std::sync::Arc<GroupCoordinator>,
    /// Share groups (KIP-932) and their share-partition states.
    pub share: std::sync::Arc<crate::share::ShareCoordinator>,
    pub txns: TxnCoordinator,
    /// SCRAM credentials (SaslAuthenticate, Describe/AlterUserScramCredentials).
    pub scram: ScramStore,
    /// ACLs and the authorization check every handler makes.
    pub acls: Authorizer,
    producer_ids: Mutex<ProducerIdAllocator>,
    /// Consumers' fetch sessions (KIP-227), `max.incremental.fetch.session.cache.slots` of them.
    pub fetch_sessions: crate::fetch_session::FetchSessionCache,
    /// Cluster mode: the metadata quorum this broker answers from (`None`: single node).
    pub cluster: Option<std::sync::Arc<crate::cluster_mode::ClusterNode>>,
}

impl BrokerState {
    pub fn open(config: &BrokerConfig) -> std::io::Result<Self> {
        // Before anything is written: refuses a directory that is not ours (see data_dir).
        let claim = crate::data_dir::claim(&config.data_dir)?;
        let props: &BrokerProperties = &config.properties;
        let node_id = props.node_id();
        let cluster_id = load_or_create_cluster_id(&config.data_dir, node_id)?;
        let topics = TopicRegistry::open(&config.data_dir, props.clone(), config.fsync, claim)?;
        let producer_ids = ProducerIdAllocator::open(&config.data_dir)?;
        let groups = GroupCoordinator::open(&config.data_dir, props, config.fsync)?;
        let txns = TxnCoordinator::open(&config.data_dir, config.fsync)?;
        let share = crate::share::ShareCoordinator::open(&config.data_dir, props)?;
        let scram = ScramStore::open(&config.data_dir)?;
        let acls = Authorizer::open(&config.data_dir, props)?;
        if claim == crate::data_dir::Claim::Legacy {
            crate::data_dir::finish_migration(&config.data_dir)?;
        }
        let state = Self {
            node_id,
            cluster_id,
            topics,
            fsync: config.fsync,
            groups: std::sync::Arc::new(groups),
            share: std::sync::Arc::new(share),
            txns,
            scram,
            acls,
            producer_ids: Mutex::new(producer_ids),
            fetch_sessions: crate::fetch_session::FetchSessionCache::new(
                props.fetch_session_cache_slots(),
            ),
            cluster: None,
        };
        let now = crate::time::now_ms();
        state
            .txns
            .recover(&state, now)
            .settle_blocking(state.fsync, now)?;
        Ok(state)
    }

    /// A share group's settings: the broker's with the group's `share.*` configs over them.
    pub fn share_settings(&self, group_id: &str) -> crate::share::ShareSettings {
        crate::share::settings(self.props(), &|name| {
            self.groups.group_config(group_id, name)
        })
    }

    /// Cluster mode: NOT_LEADER_OR_FOLLOWER unless the image says this node leads the
    /// partition in an epoch it has taken up (single node: always the leader).
    pub fn not_leader(&self, topic: &str, partition: i32) -> Option<i16> {
        let cluster = self.cluster.as_ref()?;
        let image = cluster.image();
        // The image names this node, and the reconciler has taken the leadership up (leader
        // epoch stamped, replication state ready): until then requests wait elsewhere.
        let leads = cluster.is_serving(&image)
            && u32::try_from(partition)
                .ok()
                .and_then(|p| image.partition(topic, p))
                .is_some_and(|p| {
                    p.leader == Some(cluster.node_id)
                        && cluster
                            .leaders
                            .get(topic, partition)
                            .is_some_and(|l| l.leader_epoch() == p.leader_epoch)
                });
        (!leads).then_some(NOT_LEADER_OR_FOLLOWER)
    }

    pub fn props(&self) -> &BrokerProperties {
        self.topics.props()
    }

    /// A fresh producer id (InitProducerId).
    pub fn next_producer_id(&self) -> std::io::Result<i64> {
        if let Some(cluster) = &self.cluster {
            return cluster.next_producer_id();
        }
        self.producer_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next()
    }
}

/// Reads `meta.properties` (cluster id, node id), creating it on first start.
fn load_or_create_cluster_id(dir: &Path, node_id: i32) -> std::io::Result<String> {
    let path = dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some(id) = text.lines().find_map(|l| l.strip_prefix("cluster.id="))
    {
        return Ok(id.trim().to_string());
    }
    let id = base64_url(random_uuid().as_bytes());
    let text = format!("version=1\ncluster.id={id}\nnode.id={node_id}\n");
    write_file_atomically(&path, text.as_bytes())?;
    Ok(id)
}

/// Cluster mode: every node must report the same cluster id, and the metadata log does not
/// carry one yet, so it is derived from the controller quorum (ids and addresses), which every
/// node is started with. (KRaft formats each node with an id chosen once; that record is to come.)
pub fn quorum_cluster_id(voters: &std::collections::BTreeMap<u64, String>) -> String {
    let quorum: String = voters.iter().map(|(id, a)| format!("{id}@{a},")).collect();
    let mut bytes = Vec::with_capacity(16);
    for salt in 0u8..4 {
        let mut input = vec![salt];
        input.extend_from_slice(quorum.as_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&input).to_be_bytes());
    }
    base64_url(&bytes)
}

/// A UUID as Kafka renders topic ids in `partition.metadata`.
pub(crate) fn kafka_uuid(id: &uuid::Uuid) -> String {
    base64_url(id.as_bytes())
}

/// Kafka renders cluster ids as unpadded URL-safe base64 of a UUID (22 chars).
fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Hands out producer ids in persisted blocks, so ids never repeat across restarts without a
/// disk write per id.
#[derive(Debug)]
struct ProducerIdAllocator {
    path: PathBuf,
    next: i64,
    block_end: i64,
}

const PRODUCER_ID_BLOCK: i64 = 1000;

impl ProducerIdAllocator {
    fn open(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join("producer-id-block");
        let next = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Ok(Self {
            path,
            next,
            block_end: next,
        })
    }

    fn next(&mut self) -> std::io::Result<i64> {
        if self.next >= self.block_end {
            let end = self.next + PRODUCER_ID_BLOCK;
            write_file_atomically(&self.path, end.to_string().as_bytes())?;
            self.block_end = end;
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_shape() {
        assert_eq!(base64_url(&[0u8; 16]).len(), 22);
        let quorum = |a: &str| std::collections::BTreeMap::from([(1, a.to_string())]);
        let id = quorum_cluster_id(&quorum("127.0.0.1:1"));
        assert_eq!(id.len(), 22);
        assert_eq!(id, quorum_cluster_id(&quorum("127.0.0.1:1")));
        assert_ne!(id, quorum_cluster_id(&quorum("127.0.0.1:2")));
    }

    #[test]
    fn producer_ids_survive_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = ProducerIdAllocator::open(dir.path()).unwrap();
        assert_eq!(a.next().unwrap(), 0);
        assert_eq!(a.next().unwrap(), 1);
        let mut b = ProducerIdAllocator::open(dir.path()).unwrap();
        assert_eq!(b.next().unwrap(), PRODUCER_ID_BLOCK);
    }
}
