//! Administration: topics, partitions, configs, offsets, record deletion, cluster description,
//! replica reassignment and leader elections,
//! consumer groups (`groups`: list, describe, committed offsets, lag, delete), and ACLs and
//! SCRAM users (`security`).
//!
//! ```no_run
//! # async fn demo() -> odradek::error::Result<()> {
//! use odradek::admin::{Admin, NewTopic};
//! use odradek::config::ClientConfig;
//!
//! let admin = Admin::new(ClientConfig::new("127.0.0.1:9092")?);
//! admin.create_topics(&[NewTopic::new("events", 6)]).await?;
//! let cluster = admin.describe_cluster().await?;
//! println!("{} brokers", cluster.brokers.len());
//! # Ok(()) }
//! ```

mod groups;
mod security;

pub use groups::{GroupDescription, GroupListing, GroupMember, PartitionLag};
pub use odradek_protocol::sasl::scram::ScramMechanism;
pub use security::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType,
    ScramCredentialInfo, scram_mechanism,
};

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeClusterRequest, DescribeClusterResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::cluster::offsets::OffsetAndTimestamp;
use crate::cluster::{BrokerInfo, Cluster, Metadata};
use crate::config::{ClientConfig, Config, IsolationLevel};
use crate::error::{Error, Result};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partitions (-1: the broker's default).
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and the broker's default replication factor.
    pub fn new(name: &str, partitions: i32) -> Self {
        NewTopic {
            name: name.to_owned(),
            partitions,
            replication_factor: -1,
            configs: Vec::new(),
        }
    }

    /// Adds a topic config.
    #[must_use]
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets the replication factor.
    #[must_use]
    pub fn replication_factor(mut self, rf: i16) -> Self {
        self.replication_factor = rf;
        self
    }
}

/// A resource whose configs can be described or altered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic.
    Topic(String),
    /// A broker by node id.
    Broker(i32),
}

impl ConfigResource {
    /// A resource from a binding's (type, name): `topic` or `broker` (any case; a broker's name
    /// is its node id).
    pub fn from_names(kind: &str, name: &str) -> Result<Self> {
        match kind.to_ascii_lowercase().as_str() {
            "topic" => Ok(ConfigResource::Topic(name.to_owned())),
            "broker" => name.parse().map(ConfigResource::Broker).map_err(|_| {
                Error::invalid_argument(format!("a broker is named by its node id, not {name:?}"))
            }),
            _ => Err(Error::invalid_argument(format!(
                "unknown config resource type {kind:?} (topic or broker)"
            ))),
        }
    }

    fn wire(&self) -> (i8, StrBytes) {
        match self {
            ConfigResource::Topic(t) => (2, StrBytes::from_string(t.clone())),
            ConfigResource::Broker(id) => (4, StrBytes::from_string(id.to_string())),
        }
    }
}

/// One config entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigEntry {
    /// Name.
    pub name: String,
    /// Value (`None` for sensitive or unset).
    pub value: Option<String>,
    /// Cannot be altered.
    pub read_only: bool,
    /// The value is the default (not set on this resource).
    pub is_default: bool,
    /// Sensitive (value hidden).
    pub is_sensitive: bool,
}

/// A change to one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set a value.
    Set(String, String),
    /// Revert to the default.
    Delete(String),
}

/// The cluster as described by DescribeCluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: String,
    /// Controller node id.
    pub controller_id: i32,
    /// Brokers.
    pub brokers: Vec<BrokerInfo>,
}

/// A partition reassignment in progress (ListPartitionReassignments, KIP-455).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReassignment {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Every replica meanwhile: the target ones, then those being removed.
    pub replicas: Vec<i32>,
    /// Replicas being added (catching up).
    pub adding: Vec<i32>,
    /// Replicas being removed once the target ones are in sync.
    pub removing: Vec<i32>,
}

/// Which leader an election asks for (ElectLeaders, KIP-460).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// The first replica of the assignment, if it is in sync.
    Preferred,
    /// For a partition without a leader: any live replica, even one not in sync (may lose
    /// acknowledged records).
    Unclean,
}

/// One partition's outcome of [`Admin::elect_leaders`].
#[derive(Debug, Clone)]
pub struct ElectionResult {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// `None` when the leader was elected; ELECTION_NOT_NEEDED when it already leads.
    pub error: Option<Error>,
}

/// An admin client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    cluster: Arc<Cluster>,
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

fn timeout_ms(cluster: &Cluster) -> i32 {
    cluster.request_timeout().as_millis().min(i32::MAX as u128) as i32
}

impl Admin {
    /// An admin client for the cluster.
    pub fn new(mut config: ClientConfig) -> Admin {
        // Describing a topic must never create it.
        config.allow_auto_create_topics = false;
        Admin {
            cluster: Cluster::new(config),
        }
    }

    /// An admin client from a property map.
    pub fn from_config(config: &Config) -> Result<Admin> {
        Ok(Admin::new(config.client()?))
    }

    /// An admin client sharing another client's cluster handle (connections, metadata).
    pub fn with_cluster(cluster: Arc<Cluster>) -> Admin {
        Admin { cluster }
    }

    /// The cluster handle.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Creates topics; fails with the first topic's error (naming it). The topics are usable
    /// (have leaders in metadata) when this returns.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<()> {
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(timeout_ms(&self.cluster))
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(name(&t.name))
                            .with_num_partitions(t.partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(StrBytes::from_string(k.clone()))
                                            .with_value(Some(StrBytes::from_string(v.clone())))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response: CreateTopicsResponse = self.cluster.request_any(&request).await?;
        for t in &response.topics {
            if let Some(e) = Error::from_code_msg(t.error_code, t.error_message.as_deref()) {
                return Err(e.with_topic(&t.name.0));
            }
        }
        for t in topics {
            self.cluster.topic(&t.name).await?;
        }
        Ok(())
    }

    /// Deletes topics; fails with the first topic's error.
    pub async fn delete_topics(&self, topics: &[&str]) -> Result<()> {
        use kafka_protocol::messages::ApiKey;
        use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
        let conn = self.cluster.any_connection().await?;
        // v6 names topics in `topics`, older versions in `topic_names`.
        let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms(&self.cluster));
        let request = if conn.require_version(ApiKey::DeleteTopics)? >= 6 {
            request.with_topics(
                topics
                    .iter()
                    .map(|t| DeleteTopicState::default().with_name(Some(name(t))))
                    .collect(),
            )
        } else {
            request.with_topic_names(topics.iter().map(|t| name(t)).collect())
        };
        let response: DeleteTopicsResponse = conn
            .request_timeout(&request, self.cluster.request_timeout())
            .await?;
        for r in &response.responses {
            let topic = r.name.as_ref().map_or("?", |n| &n.0);
            if let Some(e) = Error::from_code_msg(r.error_code, r.error_message.as_deref()) {
                return Err(e.with_topic(topic));
            }
        }
        for t in topics {
            self.cluster.forget_topic(t);
        }
        Ok(())
    }

    /// Grows a topic to `total` partitions.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(timeout_ms(&self.cluster))
            .with_topics(vec![
                CreatePartitionsTopic::default()
                    .with_name(name(topic))
                    .with_count(total)
                    .with_assignments(None),
            ]);
        let response: CreatePartitionsResponse = self.cluster.request_any(&request).await?;
        for r in &response.results {
            if let Some(e) = Error::from_code_msg(r.error_code, r.error_message.as_deref()) {
                return Err(e.with_topic(topic));
            }
        }
        // The new partitions reach the brokers' metadata asynchronously: wait for them.
        let deadline = tokio::time::Instant::now() + self.cluster.request_timeout();
        let mut attempt = 0;
        loop {
            let metadata = self.cluster.refresh(&[topic]).await?;
            if metadata.partition_count(topic).unwrap_or(0) >= total as usize {
                return Ok(());
            }
            attempt += 1;
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::timeout(format!(
                    "{topic} did not show {total} partitions in metadata in time"
                )));
            }
            let cfg = self.cluster.config();
            tokio::time::sleep(crate::net::backoff(
                cfg.retry_backoff,
                cfg.retry_backoff_max,
                attempt,
            ))
            .await;
        }
    }

    /// The configs of a resource (all of them, or only `keys`).
    pub async fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: Option<&[&str]>,
    ) -> Result<Vec<ConfigEntry>> {
        let (kind, res_name) = resource.wire();
        let request = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(res_name)
                .with_configuration_keys(keys.map(|k| {
                    k.iter()
                        .map(|s| StrBytes::from_string((*s).to_owned()))
                        .collect()
                })),
        ]);
        let response: DescribeConfigsResponse = match resource {
            ConfigResource::Broker(id) => self.cluster.request_to(*id, &request).await?,
            ConfigResource::Topic(_) => self.cluster.request_any(&request).await?,
        };
        let mut out = Vec::new();
        for r in response.results {
            if let Some(e) = Error::from_code_msg(r.error_code, r.error_message.as_deref()) {
                return Err(e.with_topic(&r.resource_name));
            }
            for c in r.configs {
                out.push(ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.map(|v| v.to_string()),
                    read_only: c.read_only,
                    // 5 = DEFAULT_CONFIG in the config_source enum.
                    is_default: c.config_source == 5,
                    is_sensitive: c.is_sensitive,
                });
            }
        }
        Ok(out)
    }

    /// Changes configs of a resource (IncrementalAlterConfigs).
    pub async fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[AlterConfigOp],
    ) -> Result<()> {
        let (kind, res_name) = resource.wire();
        let configs = ops
            .iter()
            .map(|op| match op {
                AlterConfigOp::Set(k, v) => AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_string(v.clone()))),
                AlterConfigOp::Delete(k) => AlterableConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_config_operation(1)
                    .with_value(None),
            })
            .collect();
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(res_name)
                .with_configs(configs),
        ]);
        let response: IncrementalAlterConfigsResponse = match resource {
            ConfigResource::Broker(id) => self.cluster.request_to(*id, &request).await?,
            ConfigResource::Topic(_) => self.cluster.request_any(&request).await?,
        };
        for r in response.responses {
            if let Some(e) = Error::from_code_msg(r.error_code, r.error_message.as_deref()) {
                return Err(e.with_topic(&r.resource_name));
            }
        }
        Ok(())
    }

    /// Offsets by timestamp (or [`EARLIEST`](crate::cluster::offsets::EARLIEST) /
    /// [`LATEST`](crate::cluster::offsets::LATEST)) for partitions.
    pub async fn list_offsets(
        &self,
        queries: &[(&str, i32, i64)],
    ) -> Result<HashMap<(String, i32), OffsetAndTimestamp>> {
        self.cluster
            .list_offsets(queries, IsolationLevel::ReadUncommitted)
            .await
    }

    /// Deletes records before the given offsets; returns each partition's new low watermark.
    pub async fn delete_records(
        &self,
        before: &[(&str, i32, i64)],
    ) -> Result<HashMap<(String, i32), i64>> {
        let mut by_leader: HashMap<i32, Vec<(&str, i32, i64)>> = HashMap::new();
        for &(topic, partition, offset) in before {
            let info = self.cluster.topic(topic).await?;
            let leader = info
                .partitions
                .get(partition as usize)
                .map(|p| p.leader)
                .ok_or_else(|| {
                    Error::invalid_argument("no such partition").with_partition(topic, partition)
                })?;
            by_leader
                .entry(leader)
                .or_default()
                .push((topic, partition, offset));
        }
        let mut out = HashMap::new();
        for (leader, items) in by_leader {
            let mut topics: Vec<DeleteRecordsTopic> = Vec::new();
            for &(topic, partition, offset) in &items {
                let p = DeleteRecordsPartition::default()
                    .with_partition_index(partition)
                    .with_offset(offset);
                match topics.iter_mut().find(|t| &*t.name.0 == topic) {
                    Some(t) => t.partitions.push(p),
                    None => topics.push(
                        DeleteRecordsTopic::default()
                            .with_name(name(topic))
                            .with_partitions(vec![p]),
                    ),
                }
            }
            let request = DeleteRecordsRequest::default()
                .with_timeout_ms(timeout_ms(&self.cluster))
                .with_topics(topics);
            let response: DeleteRecordsResponse = self.cluster.request_to(leader, &request).await?;
            for t in response.topics {
                for p in t.partitions {
                    if let Some(e) = Error::from_code(p.error_code) {
                        return Err(e
                            .with_partition(&t.name.0, p.partition_index)
                            .with_broker(leader));
                    }
                    out.insert((t.name.0.to_string(), p.partition_index), p.low_watermark);
                }
            }
        }
        Ok(out)
    }

    /// Cluster id, controller and brokers.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let request = DescribeClusterRequest::default().with_endpoint_type(1);
        let response: DescribeClusterResponse =
            self.cluster.request_any_idempotent(&request).await?;
        if let Some(e) =
            Error::from_code_msg(response.error_code, response.error_message.as_deref())
        {
            return Err(e);
        }
        Ok(ClusterDescription {
            cluster_id: response.cluster_id.to_string(),
            controller_id: response.controller_id.0,
            brokers: response
                .brokers
                .iter()
                .map(|b| BrokerInfo {
                    id: b.broker_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                })
                .collect(),
        })
    }

    /// All topics (names and partition counts) from a fresh metadata request.
    pub async fn list_topics(&self) -> Result<Vec<(String, usize)>> {
        use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
        let response: MetadataResponse = self
            .cluster
            .request_any_idempotent(&MetadataRequest::default().with_topics(None))
            .await?;
        let mut topics: Vec<(String, usize)> = response
            .topics
            .iter()
            .filter(|t| t.error_code == 0 && !t.is_internal)
            .filter_map(|t| {
                t.name
                    .as_ref()
                    .map(|n| (n.0.to_string(), t.partitions.len()))
            })
            .collect();
        topics.sort();
        Ok(topics)
    }

    /// Starts moving partitions to new replicas (`Some(broker ids)`, the first one preferred)
    /// or cancels their reassignment in progress (`None`); AlterPartitionReassignments. Returns
    /// once the controller has recorded the targets (the new replicas then catch up; see
    /// [`Admin::list_partition_reassignments`]). Fails with the first partition's error.
    pub async fn alter_partition_reassignments(
        &self,
        moves: &[(&str, i32, Option<Vec<i32>>)],
    ) -> Result<()> {
        use kafka_protocol::messages::alter_partition_reassignments_request::{
            ReassignablePartition, ReassignableTopic,
        };
        use kafka_protocol::messages::{
            AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
        };
        let mut topics: Vec<ReassignableTopic> = Vec::new();
        for (topic, partition, target) in moves {
            let p = ReassignablePartition::default()
                .with_partition_index(*partition)
                .with_replicas(
                    target
                        .as_ref()
                        .map(|t| t.iter().map(|b| BrokerId(*b)).collect()),
                );
            match topics.iter_mut().find(|t| t.name.0.as_str() == *topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(
                    ReassignableTopic::default()
                        .with_name(name(topic))
                        .with_partitions(vec![p]),
                ),
            }
        }
        let request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(timeout_ms(&self.cluster))
            .with_allow_replication_factor_change(true)
            .with_topics(topics);
        let response: AlterPartitionReassignmentsResponse =
            self.cluster.request_any(&request).await?;
        if let Some(e) =
            Error::from_code_msg(response.error_code, response.error_message.as_deref())
        {
            return Err(e);
        }
        for t in &response.responses {
            for p in &t.partitions {
                if let Some(e) = Error::from_code_msg(p.error_code, p.error_message.as_deref()) {
                    return Err(e.with_partition(&t.name.0, p.partition_index));
                }
            }
        }
        Ok(())
    }

    /// The partition reassignments in progress (of `only` these partitions, if given).
    pub async fn list_partition_reassignments(
        &self,
        only: Option<&[(&str, i32)]>,
    ) -> Result<Vec<PartitionReassignment>> {
        use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
        use kafka_protocol::messages::{
            ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
        };
        let topics = only.map(|parts| {
            let mut topics: Vec<ListPartitionReassignmentsTopics> = Vec::new();
            for (topic, partition) in parts {
                match topics.iter_mut().find(|t| t.name.0.as_str() == *topic) {
                    Some(t) => t.partition_indexes.push(*partition),
                    None => topics.push(
                        ListPartitionReassignmentsTopics::default()
                            .with_name(name(topic))
                            .with_partition_indexes(vec![*partition]),
                    ),
                }
            }
            topics
        });
        let request = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(timeout_ms(&self.cluster))
            .with_topics(topics);
        let response: ListPartitionReassignmentsResponse =
            self.cluster.request_any_idempotent(&request).await?;
        if let Some(e) =
            Error::from_code_msg(response.error_code, response.error_message.as_deref())
        {
            return Err(e);
        }
        let ids = |v: &[kafka_protocol::messages::BrokerId]| v.iter().map(|b| b.0).collect();
        let mut out: Vec<PartitionReassignment> = response
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| PartitionReassignment {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    replicas: ids(&p.replicas),
                    adding: ids(&p.adding_replicas),
                    removing: ids(&p.removing_replicas),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(out)
    }

    /// Elects leaders (ElectLeaders): of `only` these partitions, or of every partition when
    /// `None` (then only partitions an election was tried for are reported). Each partition's
    /// outcome is returned; the call fails only when the request as a whole does.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        only: Option<&[(&str, i32)]>,
    ) -> Result<Vec<ElectionResult>> {
        use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
        use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
        let partitions = only.map(|parts| {
            let mut topics: Vec<TopicPartitions> = Vec::new();
            for (topic, partition) in parts {
                match topics.iter_mut().find(|t| t.topic.0.as_str() == *topic) {
                    Some(t) => t.partitions.push(*partition),
                    None => topics.push(
                        TopicPartitions::default()
                            .with_topic(name(topic))
                            .with_partitions(vec![*partition]),
                    ),
                }
            }
            topics
        });
        let election_type = match election {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        };
        let request = ElectLeadersRequest::default()
            .with_election_type(election_type)
            .with_timeout_ms(timeout_ms(&self.cluster))
            .with_topic_partitions(partitions);
        let response: ElectLeadersResponse = self.cluster.request_any(&request).await?;
        if let Some(e) = Error::from_code(response.error_code) {
            return Err(e);
        }
        Ok(response
            .replica_election_results
            .iter()
            .flat_map(|t| {
                t.partition_result.iter().map(|p| ElectionResult {
                    topic: t.topic.0.to_string(),
                    partition: p.partition_id,
                    error: Error::from_code_msg(p.error_code, p.error_message.as_deref())
                        .map(|e| e.with_partition(&t.topic.0, p.partition_id)),
                })
            })
            .collect())
    }

    /// Metadata of some topics (fetched now).
    pub async fn describe_topics(&self, topics: &[&str]) -> Result<Arc<Metadata>> {
        for t in topics {
            self.cluster.topic(t).await?;
        }
        self.cluster.refresh(topics).await
    }
}
