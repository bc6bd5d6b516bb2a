//! The admin calls beyond topics: configs, groups (offsets, lag), records, the cluster, ACLs and
//! SCRAM users. Each returns a Promise settled from napi's runtime; `index.js` shapes the
//! results the kafkajs way.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use odradek::admin::{
    AclBinding, AclFilter, AlterConfigOp, ConfigResource, ElectionType, GroupDescription,
    scram_mechanism,
};

use crate::consumer::{TopicPartition, TopicPartitionOffset};
use crate::{NativeAdmin, js_error};

/// One described config.
/// A partition's move for `alterPartitionReassignments`: its target replicas (the first one
/// preferred), or null to cancel its reassignment in progress.
#[napi(object)]
pub struct ReassignmentMove {
    pub topic: String,
    pub partition: i32,
    pub replicas: Option<Vec<i32>>,
}

/// A reassignment in progress: every replica meanwhile, those catching up, those to drop.
#[napi(object)]
pub struct ReassignmentInfo {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding_replicas: Vec<i32>,
    pub removing_replicas: Vec<i32>,
}

/// One partition's election outcome; `error` is encoded as `js_error` encodes errors.
#[napi(object)]
pub struct ElectionOutcome {
    pub topic: String,
    pub partition: i32,
    pub error: Option<String>,
}

#[napi(object)]
pub struct ConfigEntryInfo {
    pub config_name: String,
    /// Null for a sensitive or unset config.
    pub config_value: Option<String>,
    pub read_only: bool,
    pub is_default: bool,
    pub is_sensitive: bool,
}

/// A config change: `value` null reverts it to the default.
#[napi(object)]
pub struct ConfigChange {
    pub name: String,
    pub value: Option<String>,
}

/// A broker of the cluster.
#[napi(object)]
pub struct BrokerNode {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

/// What DescribeCluster reports.
#[napi(object)]
pub struct ClusterInfo {
    pub cluster_id: String,
    pub controller: i32,
    pub brokers: Vec<BrokerNode>,
}

/// A group as listed.
#[napi(object)]
pub struct GroupListingInfo {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
    /// `classic` or `consumer` (KIP-848).
    pub group_type: String,
}

/// A member of a described group.
#[napi(object)]
pub struct GroupMemberInfo {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub assignment: Vec<TopicPartition>,
}

/// A described group (`Dead` with no members when it does not exist).
#[napi(object)]
pub struct GroupInfo {
    pub group_id: String,
    pub group_type: String,
    pub state: String,
    /// The assignor (classic: the chosen protocol).
    pub protocol: String,
    pub epoch: i32,
    pub members: Vec<GroupMemberInfo>,
}

/// Lag of one partition.
#[napi(object)]
pub struct PartitionLagInfo {
    pub topic: String,
    pub partition: i32,
    /// Null when the group committed nothing here.
    pub committed: Option<i64>,
    pub log_end: i64,
    pub lag: i64,
}

/// One ACL; enums by Kafka's name (any case) or wire code.
#[napi(object)]
pub struct AclSpec {
    pub resource_type: Either<String, i32>,
    pub resource_name: String,
    pub resource_pattern_type: Option<Either<String, i32>>,
    pub principal: String,
    pub host: Option<String>,
    pub operation: Either<String, i32>,
    pub permission_type: Option<Either<String, i32>>,
}

/// An ACL filter: anything absent matches any value.
#[napi(object)]
pub struct AclFilterSpec {
    pub resource_type: Option<Either<String, i32>>,
    pub resource_name: Option<String>,
    pub resource_pattern_type: Option<Either<String, i32>>,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<Either<String, i32>>,
    pub permission_type: Option<Either<String, i32>>,
}

/// An ACL as the broker reports it, enums by Kafka's name.
#[napi(object)]
pub struct AclInfo {
    pub resource_type: String,
    pub resource_name: String,
    pub resource_pattern_type: String,
    pub principal: String,
    pub host: String,
    pub operation: String,
    pub permission_type: String,
}

/// A SCRAM credential (never the password).
#[napi(object)]
pub struct ScramCredential {
    pub mechanism: String,
    pub iterations: i32,
}

/// A SCRAM user and its credentials.
#[napi(object)]
pub struct ScramUser {
    pub user: String,
    pub credentials: Vec<ScramCredential>,
}

/// A kafkajs-style enum value: a wire code or Kafka's name, as the core's name.
fn enum_name(v: Either<String, i32>, name_of: fn(i8) -> Option<&'static str>) -> Result<String> {
    match v {
        Either::A(name) => Ok(name),
        Either::B(code) => i8::try_from(code)
            .ok()
            .and_then(name_of)
            .map(str::to_owned)
            .ok_or_else(|| {
                js_error(odradek::error::Error::invalid_argument(format!(
                    "unknown ACL enum code {code}"
                )))
            }),
    }
}

fn opt_enum(
    v: Option<Either<String, i32>>,
    name_of: fn(i8) -> Option<&'static str>,
) -> Result<Option<String>> {
    v.map(|v| enum_name(v, name_of)).transpose()
}

mod codes {
    use odradek::admin::{AclOperation, AclPatternType, AclPermission, AclResourceType};
    pub fn resource(c: i8) -> Option<&'static str> {
        AclResourceType::from_code(c).map(AclResourceType::name)
    }
    pub fn pattern(c: i8) -> Option<&'static str> {
        AclPatternType::from_code(c).map(AclPatternType::name)
    }
    pub fn operation(c: i8) -> Option<&'static str> {
        AclOperation::from_code(c).map(AclOperation::name)
    }
    pub fn permission(c: i8) -> Option<&'static str> {
        AclPermission::from_code(c).map(AclPermission::name)
    }
}

fn acl_of(a: AclSpec) -> Result<AclBinding> {
    let pattern = opt_enum(a.resource_pattern_type, codes::pattern)?;
    let permission = opt_enum(a.permission_type, codes::permission)?;
    AclBinding::from_names(
        &enum_name(a.resource_type, codes::resource)?,
        &a.resource_name,
        pattern.as_deref().unwrap_or("Literal"),
        &a.principal,
        a.host.as_deref().unwrap_or("*"),
        &enum_name(a.operation, codes::operation)?,
        permission.as_deref().unwrap_or("Allow"),
    )
    .map_err(js_error)
}

fn filter_of(f: AclFilterSpec) -> Result<AclFilter> {
    AclFilter::from_names(
        opt_enum(f.resource_type, codes::resource)?.as_deref(),
        f.resource_name,
        opt_enum(f.resource_pattern_type, codes::pattern)?.as_deref(),
        f.principal,
        f.host,
        opt_enum(f.operation, codes::operation)?.as_deref(),
        opt_enum(f.permission_type, codes::permission)?.as_deref(),
    )
    .map_err(js_error)
}

fn acl_info(a: AclBinding) -> AclInfo {
    AclInfo {
        resource_type: a.resource_type.name().to_owned(),
        resource_name: a.resource_name,
        resource_pattern_type: a.pattern_type.name().to_owned(),
        principal: a.principal,
        host: a.host,
        operation: a.operation.name().to_owned(),
        permission_type: a.permission.name().to_owned(),
    }
}

fn group_info(g: GroupDescription) -> GroupInfo {
    GroupInfo {
        group_id: g.group_id,
        group_type: g.group_type,
        state: g.state,
        protocol: g.assignor,
        epoch: g.epoch,
        members: g
            .members
            .into_iter()
            .map(|m| GroupMemberInfo {
                member_id: m.member_id,
                group_instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.host,
                assignment: m
                    .assignment
                    .into_iter()
                    .map(|(topic, partition)| TopicPartition { topic, partition })
                    .collect(),
            })
            .collect(),
    }
}

impl NativeAdmin {
    /// A Promise of `call` with the admin client, its error as a `KafkaError` for `index.js`.
    fn run<'env, T, F>(
        &self,
        env: &'env Env,
        call: impl FnOnce(odradek::admin::Admin) -> F,
    ) -> Result<PromiseRaw<'env, T>>
    where
        F: std::future::Future<Output = odradek::error::Result<T>> + Send + 'static,
        T: ToNapiValue + Send + 'static,
    {
        let fut = call(self.inner.clone());
        env.spawn_future(async move { fut.await.map_err(js_error) })
    }
}

#[napi]
impl NativeAdmin {
    /// Configs of a resource (`topic` or `broker`), all of them or only `keys`.
    #[napi(ts_return_type = "Promise<ConfigEntryInfo[]>")]
    pub fn describe_configs<'env>(
        &self,
        env: &'env Env,
        resource_type: String,
        name: String,
        keys: Option<Vec<String>>,
    ) -> Result<PromiseRaw<'env, Vec<ConfigEntryInfo>>> {
        let resource = ConfigResource::from_names(&resource_type, &name).map_err(js_error)?;
        self.run(env, |admin| async move {
            let keys: Option<Vec<&str>> = keys
                .as_ref()
                .map(|k| k.iter().map(String::as_str).collect());
            let entries = admin.describe_configs(&resource, keys.as_deref()).await?;
            Ok(entries
                .into_iter()
                .map(|e| ConfigEntryInfo {
                    config_name: e.name,
                    config_value: e.value,
                    read_only: e.read_only,
                    is_default: e.is_default,
                    is_sensitive: e.is_sensitive,
                })
                .collect())
        })
    }

    /// Incremental changes: a name with a value sets it, with null reverts it to the default.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn alter_configs<'env>(
        &self,
        env: &'env Env,
        resource_type: String,
        name: String,
        changes: Vec<ConfigChange>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let resource = ConfigResource::from_names(&resource_type, &name).map_err(js_error)?;
        let ops: Vec<AlterConfigOp> = changes
            .into_iter()
            .map(|c| match c.value {
                Some(v) => AlterConfigOp::Set(c.name, v),
                None => AlterConfigOp::Delete(c.name),
            })
            .collect();
        self.run(env, |admin| async move {
            admin.alter_configs(&resource, &ops).await
        })
    }

    #[napi(ts_return_type = "Promise<ClusterInfo>")]
    pub fn describe_cluster<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ClusterInfo>> {
        self.run(env, |admin| async move {
            let c = admin.describe_cluster().await?;
            Ok(ClusterInfo {
                cluster_id: c.cluster_id,
                controller: c.controller_id,
                brokers: c
                    .brokers
                    .into_iter()
                    .map(|b| BrokerNode {
                        node_id: b.id,
                        host: b.host,
                        port: b.port,
                        rack: b.rack,
                    })
                    .collect(),
            })
        })
    }

    /// Deletes records before each offset; the new low watermarks, in the order given.
    #[napi(ts_return_type = "Promise<TopicPartitionOffset[]>")]
    pub fn delete_records<'env>(
        &self,
        env: &'env Env,
        before: Vec<TopicPartitionOffset>,
    ) -> Result<PromiseRaw<'env, Vec<TopicPartitionOffset>>> {
        self.run(env, |admin| async move {
            let refs: Vec<(&str, i32, i64)> = before
                .iter()
                .map(|b| (b.topic.as_str(), b.partition, b.offset))
                .collect();
            let low = admin.delete_records(&refs).await?;
            Ok(before
                .iter()
                .map(|b| TopicPartitionOffset {
                    topic: b.topic.clone(),
                    partition: b.partition,
                    offset: low
                        .get(&(b.topic.clone(), b.partition))
                        .copied()
                        .unwrap_or(-1),
                })
                .collect())
        })
    }

    /// Moves partitions to new replicas or cancels their reassignments (null replicas).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn alter_partition_reassignments<'env>(
        &self,
        env: &'env Env,
        moves: Vec<ReassignmentMove>,
    ) -> Result<PromiseRaw<'env, ()>> {
        self.run(env, |admin| async move {
            let refs: Vec<(&str, i32, Option<Vec<i32>>)> = moves
                .iter()
                .map(|m| (m.topic.as_str(), m.partition, m.replicas.clone()))
                .collect();
            admin.alter_partition_reassignments(&refs).await
        })
    }

    /// The reassignments in progress (of `only` these partitions, if given).
    #[napi(ts_return_type = "Promise<ReassignmentInfo[]>")]
    pub fn list_partition_reassignments<'env>(
        &self,
        env: &'env Env,
        only: Option<Vec<TopicPartition>>,
    ) -> Result<PromiseRaw<'env, Vec<ReassignmentInfo>>> {
        self.run(env, |admin| async move {
            let refs = partition_refs(&only);
            let listed = admin.list_partition_reassignments(refs.as_deref()).await?;
            Ok(listed
                .into_iter()
                .map(|r| ReassignmentInfo {
                    topic: r.topic,
                    partition: r.partition,
                    replicas: r.replicas,
                    adding_replicas: r.adding,
                    removing_replicas: r.removing,
                })
                .collect())
        })
    }

    /// Elects leaders (preferred, or unclean) of `only` these partitions, or of every one.
    #[napi(ts_return_type = "Promise<ElectionOutcome[]>")]
    pub fn elect_leaders<'env>(
        &self,
        env: &'env Env,
        unclean: bool,
        only: Option<Vec<TopicPartition>>,
    ) -> Result<PromiseRaw<'env, Vec<ElectionOutcome>>> {
        let election = if unclean {
            ElectionType::Unclean
        } else {
            ElectionType::Preferred
        };
        self.run(env, move |admin| async move {
            let refs = partition_refs(&only);
            let results = admin.elect_leaders(election, refs.as_deref()).await?;
            Ok(results
                .into_iter()
                .map(|r| ElectionOutcome {
                    topic: r.topic,
                    partition: r.partition,
                    error: r.error.map(|e| js_error(e).reason),
                })
                .collect())
        })
    }

    #[napi(ts_return_type = "Promise<GroupListingInfo[]>")]
    pub fn list_groups<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<GroupListingInfo>>> {
        self.run(env, |admin| async move {
            let groups = admin.list_groups().await?;
            Ok(groups
                .into_iter()
                .map(|g| GroupListingInfo {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    state: g.state,
                    group_type: g.group_type,
                })
                .collect())
        })
    }

    #[napi(ts_return_type = "Promise<GroupInfo[]>")]
    pub fn describe_groups<'env>(
        &self,
        env: &'env Env,
        groups: Vec<String>,
    ) -> Result<PromiseRaw<'env, Vec<GroupInfo>>> {
        self.run(env, |admin| async move {
            let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
            let described = admin.describe_groups(&ids).await?;
            Ok(described.into_iter().map(group_info).collect())
        })
    }

    /// Every committed offset of a group, sorted by topic and partition.
    #[napi(ts_return_type = "Promise<TopicPartitionOffset[]>")]
    pub fn list_group_offsets<'env>(
        &self,
        env: &'env Env,
        group: String,
    ) -> Result<PromiseRaw<'env, Vec<TopicPartitionOffset>>> {
        self.run(env, |admin| async move {
            let offsets = admin.list_group_offsets(&group).await?;
            Ok(offsets
                .into_iter()
                .map(|((topic, partition), offset)| TopicPartitionOffset {
                    topic,
                    partition,
                    offset,
                })
                .collect())
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn alter_group_offsets<'env>(
        &self,
        env: &'env Env,
        group: String,
        offsets: Vec<TopicPartitionOffset>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let offsets: Vec<(String, i32, i64)> = offsets
            .into_iter()
            .map(|o| (o.topic, o.partition, o.offset))
            .collect();
        self.run(env, |admin| async move {
            admin.alter_group_offsets(&group, &offsets).await
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_group_offsets<'env>(
        &self,
        env: &'env Env,
        group: String,
        partitions: Vec<TopicPartition>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let partitions: Vec<(String, i32)> = partitions
            .into_iter()
            .map(|p| (p.topic, p.partition))
            .collect();
        self.run(env, |admin| async move {
            admin.delete_group_offsets(&group, &partitions).await
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_groups<'env>(
        &self,
        env: &'env Env,
        groups: Vec<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        self.run(env, |admin| async move {
            let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
            admin.delete_groups(&ids).await
        })
    }

    /// Lag of every partition the group committed, plus every partition of `topics`.
    #[napi(ts_return_type = "Promise<PartitionLagInfo[]>")]
    pub fn group_lag<'env>(
        &self,
        env: &'env Env,
        group: String,
        topics: Vec<String>,
    ) -> Result<PromiseRaw<'env, Vec<PartitionLagInfo>>> {
        self.run(env, |admin| async move {
            let t: Vec<&str> = topics.iter().map(String::as_str).collect();
            let lags = admin.group_lag(&group, &t).await?;
            Ok(lags
                .into_iter()
                .map(|l| PartitionLagInfo {
                    topic: l.topic,
                    partition: l.partition,
                    committed: l.committed,
                    log_end: l.log_end,
                    lag: l.lag,
                })
                .collect())
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn create_acls<'env>(
        &self,
        env: &'env Env,
        acls: Vec<AclSpec>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let acls = acls.into_iter().map(acl_of).collect::<Result<Vec<_>>>()?;
        self.run(env, |admin| async move { admin.create_acls(&acls).await })
    }

    #[napi(ts_return_type = "Promise<AclInfo[]>")]
    pub fn describe_acls<'env>(
        &self,
        env: &'env Env,
        filter: AclFilterSpec,
    ) -> Result<PromiseRaw<'env, Vec<AclInfo>>> {
        let filter = filter_of(filter)?;
        self.run(env, |admin| async move {
            let acls = admin.describe_acls(&filter).await?;
            Ok(acls.into_iter().map(acl_info).collect())
        })
    }

    /// Deletes the ACLs matching any filter; the ACLs deleted.
    #[napi(ts_return_type = "Promise<AclInfo[]>")]
    pub fn delete_acls<'env>(
        &self,
        env: &'env Env,
        filters: Vec<AclFilterSpec>,
    ) -> Result<PromiseRaw<'env, Vec<AclInfo>>> {
        let filters = filters
            .into_iter()
            .map(filter_of)
            .collect::<Result<Vec<_>>>()?;
        self.run(env, |admin| async move {
            let acls = admin.delete_acls(&filters).await?;
            Ok(acls.into_iter().map(acl_info).collect())
        })
    }

    /// SCRAM users (all, or `users`) and their credentials.
    #[napi(ts_return_type = "Promise<ScramUser[]>")]
    pub fn describe_scram_users<'env>(
        &self,
        env: &'env Env,
        users: Option<Vec<String>>,
    ) -> Result<PromiseRaw<'env, Vec<ScramUser>>> {
        self.run(env, |admin| async move {
            let names: Option<Vec<&str>> = users
                .as_ref()
                .map(|u| u.iter().map(String::as_str).collect());
            let described = admin
                .describe_user_scram_credentials(names.as_deref())
                .await?;
            Ok(described
                .into_iter()
                .map(|(user, infos)| ScramUser {
                    user,
                    credentials: infos
                        .into_iter()
                        .map(|i| ScramCredential {
                            mechanism: i.mechanism.name().to_owned(),
                            iterations: i.iterations,
                        })
                        .collect(),
                })
                .collect())
        })
    }

    /// Sets a user's SCRAM password for a mechanism (salted and iterated here; the password
    /// itself never goes to the broker).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn upsert_scram_user<'env>(
        &self,
        env: &'env Env,
        user: String,
        mechanism: String,
        password: String,
        iterations: u32,
    ) -> Result<PromiseRaw<'env, ()>> {
        let mechanism = scram_mechanism(&mechanism).map_err(js_error)?;
        self.run(env, |admin| async move {
            admin
                .upsert_user_scram_credential(&user, mechanism, &password, iterations)
                .await
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_scram_user<'env>(
        &self,
        env: &'env Env,
        user: String,
        mechanism: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let mechanism = scram_mechanism(&mechanism).map_err(js_error)?;
        self.run(env, |admin| async move {
            admin.delete_user_scram_credential(&user, mechanism).await
        })
    }
}

/// Optional partitions as the core's `(topic, partition)` pairs.
fn partition_refs(only: &Option<Vec<TopicPartition>>) -> Option<Vec<(&str, i32)>> {
    only.as_ref()
        .map(|ps| ps.iter().map(|p| (p.topic.as_str(), p.partition)).collect())
}
