//! The C++ binding's admin of configs, groups, records, the cluster, ACLs and SCRAM users, and
//! the consumer's `offsets_for_times`: a second cxx bridge over the boxes of `lib.rs` (they are
//! shared through `ExternType`, so `src/lib.rs.h` declares them and this bridge reuses them).
//! Strings that may be absent travel with a `has_*` flag; in ACL filters an empty string
//! matches anything.

use odradek::admin::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType,
    AlterConfigOp, ConfigResource, ScramMechanism,
};
use odradek::error::Error;

use crate::ffi::PartitionOffset;
use crate::{AdminBox, ConsumerBox, FfiError, block_on, guard};

// SAFETY: AdminBox and ConsumerBox are the opaque Rust types `odradek::ffi::AdminBox` and
// `odradek::ffi::ConsumerBox` of the bridge in lib.rs; C++ only ever holds them by reference.
unsafe impl cxx::ExternType for AdminBox {
    type Id = cxx::type_id!("odradek::ffi::AdminBox");
    type Kind = cxx::kind::Opaque;
}

// SAFETY: as above.
unsafe impl cxx::ExternType for ConsumerBox {
    type Id = cxx::type_id!("odradek::ffi::ConsumerBox");
    type Kind = cxx::kind::Opaque;
}

#[cxx::bridge(namespace = "odradek::ffi")]
mod admin_ffi {
    /// One config as the broker describes it.
    struct ConfigValue {
        name: String,
        value: String,
        /// False when the value is sensitive or unset.
        has_value: bool,
        read_only: bool,
        is_default: bool,
        is_sensitive: bool,
    }

    /// Set `name` to `value`, or with `revert` back to its default.
    struct ConfigChange {
        name: String,
        value: String,
        revert: bool,
    }

    struct GroupListingRow {
        group_id: String,
        protocol_type: String,
        state: String,
        group_type: String,
    }

    struct GroupMemberRow {
        member_id: String,
        instance_id: String,
        has_instance_id: bool,
        client_id: String,
        host: String,
        member_epoch: i32,
        assignment: Vec<PartitionOffset>,
    }

    struct GroupDescriptionRow {
        group_id: String,
        group_type: String,
        state: String,
        assignor: String,
        epoch: i32,
        members: Vec<GroupMemberRow>,
    }

    struct PartitionLagRow {
        topic: String,
        partition: i32,
        /// -1001 when nothing is committed.
        committed: i64,
        log_end: i64,
        lag: i64,
    }

    struct BrokerRow {
        id: i32,
        host: String,
        port: i32,
        rack: String,
        has_rack: bool,
    }

    struct ClusterRow {
        cluster_id: String,
        controller_id: i32,
        brokers: Vec<BrokerRow>,
    }

    /// An ACL, or a filter (empty strings match anything), with Kafka's codes.
    struct AclRow {
        resource_type: i8,
        resource_name: String,
        pattern_type: i8,
        principal: String,
        host: String,
        operation: i8,
        permission: i8,
    }

    struct ScramRow {
        user: String,
        mechanism: i8,
        iterations: i32,
    }

    extern "C++" {
        include!("odradek-cpp/src/lib.rs.h");
        type AdminBox = crate::AdminBox;
        type ConsumerBox = crate::ConsumerBox;
        type PartitionOffset = crate::ffi::PartitionOffset;
    }

    extern "Rust" {
        fn admin_describe_configs(
            admin: &AdminBox,
            resource_type: i8,
            name: &str,
            keys: &[String],
        ) -> Result<Vec<ConfigValue>>;
        fn admin_alter_configs(
            admin: &AdminBox,
            resource_type: i8,
            name: &str,
            changes: &[ConfigChange],
        ) -> Result<()>;
        fn admin_list_groups(admin: &AdminBox) -> Result<Vec<GroupListingRow>>;
        fn admin_describe_groups(
            admin: &AdminBox,
            groups: &[String],
        ) -> Result<Vec<GroupDescriptionRow>>;
        fn admin_list_group_offsets(admin: &AdminBox, group: &str) -> Result<Vec<PartitionOffset>>;
        fn admin_alter_group_offsets(
            admin: &AdminBox,
            group: &str,
            offsets: &[PartitionOffset],
        ) -> Result<()>;
        fn admin_delete_group_offsets(
            admin: &AdminBox,
            group: &str,
            partitions: &[PartitionOffset],
        ) -> Result<()>;
        fn admin_delete_groups(admin: &AdminBox, groups: &[String]) -> Result<()>;
        fn admin_group_lag(
            admin: &AdminBox,
            group: &str,
            topics: &[String],
        ) -> Result<Vec<PartitionLagRow>>;
        fn admin_delete_records(
            admin: &AdminBox,
            before: &[PartitionOffset],
        ) -> Result<Vec<PartitionOffset>>;
        fn admin_describe_cluster(admin: &AdminBox) -> Result<ClusterRow>;
        fn admin_create_acls(admin: &AdminBox, acls: &[AclRow]) -> Result<()>;
        fn admin_describe_acls(admin: &AdminBox, filter: &AclRow) -> Result<Vec<AclRow>>;
        fn admin_delete_acls(admin: &AdminBox, filters: &[AclRow]) -> Result<Vec<AclRow>>;
        fn admin_describe_scram(admin: &AdminBox, users: &[String]) -> Result<Vec<ScramRow>>;
        fn admin_upsert_scram(
            admin: &AdminBox,
            user: &str,
            mechanism: i8,
            password: &str,
            iterations: u32,
        ) -> Result<()>;
        fn admin_delete_scram(admin: &AdminBox, user: &str, mechanism: i8) -> Result<()>;
        fn consumer_offsets_for_times(
            consumer: &ConsumerBox,
            times: &[PartitionOffset],
        ) -> Result<Vec<PartitionOffset>>;
    }
}

use admin_ffi::{
    AclRow, BrokerRow, ClusterRow, ConfigChange, ConfigValue, GroupDescriptionRow, GroupListingRow,
    GroupMemberRow, PartitionLagRow, ScramRow,
};

/// Kafka's resource type codes for configs: 2 topic, 4 broker (named by its node id).
fn config_resource(resource_type: i8, name: &str) -> odradek::error::Result<ConfigResource> {
    match resource_type {
        2 => Ok(ConfigResource::Topic(name.to_string())),
        4 => name.parse().map(ConfigResource::Broker).map_err(|_| {
            Error::invalid_argument(format!("a broker is named by its node id, not {name:?}"))
        }),
        other => Err(Error::invalid_argument(format!(
            "configs belong to a topic (2) or a broker (4), not resource type {other}"
        ))),
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn partition_row(topic: String, partition: i32, offset: i64) -> PartitionOffset {
    PartitionOffset {
        topic,
        partition,
        offset,
    }
}

fn admin_describe_configs(
    admin: &AdminBox,
    resource_type: i8,
    name: &str,
    keys: &[String],
) -> Result<Vec<ConfigValue>, FfiError> {
    guard(|| {
        let resource = config_resource(resource_type, name)?;
        let keys = strs(keys);
        let filter = (!keys.is_empty()).then_some(keys.as_slice());
        let entries = block_on(admin.admin.describe_configs(&resource, filter))??;
        Ok(entries
            .into_iter()
            .map(|e| ConfigValue {
                name: e.name,
                has_value: e.value.is_some(),
                value: e.value.unwrap_or_default(),
                read_only: e.read_only,
                is_default: e.is_default,
                is_sensitive: e.is_sensitive,
            })
            .collect())
    })
}

fn admin_alter_configs(
    admin: &AdminBox,
    resource_type: i8,
    name: &str,
    changes: &[ConfigChange],
) -> Result<(), FfiError> {
    guard(|| {
        let resource = config_resource(resource_type, name)?;
        let ops: Vec<AlterConfigOp> = changes
            .iter()
            .map(|c| {
                if c.revert {
                    AlterConfigOp::Delete(c.name.clone())
                } else {
                    AlterConfigOp::Set(c.name.clone(), c.value.clone())
                }
            })
            .collect();
        block_on(admin.admin.alter_configs(&resource, &ops))?
    })
}

fn admin_list_groups(admin: &AdminBox) -> Result<Vec<GroupListingRow>, FfiError> {
    guard(|| {
        let groups = block_on(admin.admin.list_groups())??;
        Ok(groups
            .into_iter()
            .map(|g| GroupListingRow {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: g.state,
                group_type: g.group_type,
            })
            .collect())
    })
}

fn admin_describe_groups(
    admin: &AdminBox,
    groups: &[String],
) -> Result<Vec<GroupDescriptionRow>, FfiError> {
    guard(|| {
        let described = block_on(admin.admin.describe_groups(&strs(groups)))??;
        Ok(described
            .into_iter()
            .map(|g| GroupDescriptionRow {
                group_id: g.group_id,
                group_type: g.group_type,
                state: g.state,
                assignor: g.assignor,
                epoch: g.epoch,
                members: g
                    .members
                    .into_iter()
                    .map(|m| GroupMemberRow {
                        member_id: m.member_id,
                        has_instance_id: m.instance_id.is_some(),
                        instance_id: m.instance_id.unwrap_or_default(),
                        client_id: m.client_id,
                        host: m.host,
                        member_epoch: m.member_epoch,
                        assignment: m
                            .assignment
                            .into_iter()
                            .map(|(t, p)| partition_row(t, p, odradek::consumer::OFFSET_INVALID))
                            .collect(),
                    })
                    .collect(),
            })
            .collect())
    })
}

fn admin_list_group_offsets(
    admin: &AdminBox,
    group: &str,
) -> Result<Vec<PartitionOffset>, FfiError> {
    guard(|| {
        let offsets = block_on(admin.admin.list_group_offsets(group))??;
        Ok(offsets
            .into_iter()
            .map(|((t, p), o)| partition_row(t, p, o))
            .collect())
    })
}

fn admin_alter_group_offsets(
    admin: &AdminBox,
    group: &str,
    offsets: &[PartitionOffset],
) -> Result<(), FfiError> {
    guard(|| {
        let offsets: Vec<(String, i32, i64)> = offsets
            .iter()
            .map(|p| (p.topic.clone(), p.partition, p.offset))
            .collect();
        block_on(admin.admin.alter_group_offsets(group, &offsets))?
    })
}

fn admin_delete_group_offsets(
    admin: &AdminBox,
    group: &str,
    partitions: &[PartitionOffset],
) -> Result<(), FfiError> {
    guard(|| {
        let partitions: Vec<(String, i32)> = partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect();
        block_on(admin.admin.delete_group_offsets(group, &partitions))?
    })
}

fn admin_delete_groups(admin: &AdminBox, groups: &[String]) -> Result<(), FfiError> {
    guard(|| block_on(admin.admin.delete_groups(&strs(groups)))?)
}

fn admin_group_lag(
    admin: &AdminBox,
    group: &str,
    topics: &[String],
) -> Result<Vec<PartitionLagRow>, FfiError> {
    guard(|| {
        let lags = block_on(admin.admin.group_lag(group, &strs(topics)))??;
        Ok(lags
            .into_iter()
            .map(|l| PartitionLagRow {
                topic: l.topic,
                partition: l.partition,
                committed: l.committed.unwrap_or(odradek::consumer::OFFSET_INVALID),
                log_end: l.log_end,
                lag: l.lag,
            })
            .collect())
    })
}

fn admin_delete_records(
    admin: &AdminBox,
    before: &[PartitionOffset],
) -> Result<Vec<PartitionOffset>, FfiError> {
    guard(|| {
        let queries: Vec<(&str, i32, i64)> = before
            .iter()
            .map(|p| (p.topic.as_str(), p.partition, p.offset))
            .collect();
        let low = block_on(admin.admin.delete_records(&queries))??;
        Ok(before
            .iter()
            .map(|p| {
                let watermark = low.get(&(p.topic.clone(), p.partition)).copied();
                partition_row(p.topic.clone(), p.partition, watermark.unwrap_or(p.offset))
            })
            .collect())
    })
}

fn admin_describe_cluster(admin: &AdminBox) -> Result<ClusterRow, FfiError> {
    guard(|| {
        let cluster = block_on(admin.admin.describe_cluster())??;
        Ok(ClusterRow {
            cluster_id: cluster.cluster_id,
            controller_id: cluster.controller_id,
            brokers: cluster
                .brokers
                .into_iter()
                .map(|b| BrokerRow {
                    id: b.id,
                    host: b.host,
                    port: b.port,
                    has_rack: b.rack.is_some(),
                    rack: b.rack.unwrap_or_default(),
                })
                .collect(),
        })
    })
}

fn code<T>(value: i8, parse: fn(i8) -> Option<T>, what: &str) -> odradek::error::Result<T> {
    parse(value)
        .ok_or_else(|| Error::invalid_argument(format!("{what}: {value} is not a Kafka code")))
}

type AclCodes = (AclResourceType, AclPatternType, AclOperation, AclPermission);

fn acl_codes(r: &AclRow) -> odradek::error::Result<AclCodes> {
    Ok((
        code(r.resource_type, AclResourceType::from_code, "resource_type")?,
        code(r.pattern_type, AclPatternType::from_code, "pattern_type")?,
        code(r.operation, AclOperation::from_code, "operation")?,
        code(r.permission, AclPermission::from_code, "permission")?,
    ))
}

fn acl_binding(r: &AclRow) -> odradek::error::Result<AclBinding> {
    let (resource_type, pattern_type, operation, permission) = acl_codes(r)?;
    Ok(AclBinding {
        resource_type,
        resource_name: r.resource_name.clone(),
        pattern_type,
        principal: r.principal.clone(),
        host: r.host.clone(),
        operation,
        permission,
    })
}

fn acl_filter(r: &AclRow) -> odradek::error::Result<AclFilter> {
    let (resource_type, pattern_type, operation, permission) = acl_codes(r)?;
    let any = |s: &String| (!s.is_empty()).then(|| s.clone());
    Ok(AclFilter {
        resource_type,
        resource_name: any(&r.resource_name),
        pattern_type,
        principal: any(&r.principal),
        host: any(&r.host),
        operation,
        permission,
    })
}

fn acl_rows(acls: Vec<AclBinding>) -> Vec<AclRow> {
    acls.into_iter()
        .map(|a| AclRow {
            resource_type: a.resource_type.code(),
            resource_name: a.resource_name,
            pattern_type: a.pattern_type.code(),
            principal: a.principal,
            host: a.host,
            operation: a.operation.code(),
            permission: a.permission.code(),
        })
        .collect()
}

fn admin_create_acls(admin: &AdminBox, acls: &[AclRow]) -> Result<(), FfiError> {
    guard(|| {
        let acls = acls
            .iter()
            .map(acl_binding)
            .collect::<odradek::error::Result<Vec<_>>>()?;
        block_on(admin.admin.create_acls(&acls))?
    })
}

fn admin_describe_acls(admin: &AdminBox, filter: &AclRow) -> Result<Vec<AclRow>, FfiError> {
    guard(|| {
        let filter = acl_filter(filter)?;
        Ok(acl_rows(block_on(admin.admin.describe_acls(&filter))??))
    })
}

fn admin_delete_acls(admin: &AdminBox, filters: &[AclRow]) -> Result<Vec<AclRow>, FfiError> {
    guard(|| {
        let filters = filters
            .iter()
            .map(acl_filter)
            .collect::<odradek::error::Result<Vec<_>>>()?;
        Ok(acl_rows(block_on(admin.admin.delete_acls(&filters))??))
    })
}

fn mechanism(value: i8) -> odradek::error::Result<ScramMechanism> {
    code(value, ScramMechanism::from_kafka_type, "mechanism")
}

fn admin_describe_scram(admin: &AdminBox, users: &[String]) -> Result<Vec<ScramRow>, FfiError> {
    guard(|| {
        let users = strs(users);
        let filter = (!users.is_empty()).then_some(users.as_slice());
        let described = block_on(admin.admin.describe_user_scram_credentials(filter))??;
        Ok(described
            .into_iter()
            .flat_map(|(user, infos)| {
                infos.into_iter().map(move |i| ScramRow {
                    user: user.clone(),
                    mechanism: i.mechanism.kafka_type(),
                    iterations: i.iterations,
                })
            })
            .collect())
    })
}

fn admin_upsert_scram(
    admin: &AdminBox,
    user: &str,
    mechanism_code: i8,
    password: &str,
    iterations: u32,
) -> Result<(), FfiError> {
    guard(|| {
        let m = mechanism(mechanism_code)?;
        block_on(
            admin
                .admin
                .upsert_user_scram_credential(user, m, password, iterations),
        )?
    })
}

fn admin_delete_scram(admin: &AdminBox, user: &str, mechanism_code: i8) -> Result<(), FfiError> {
    guard(|| {
        let m = mechanism(mechanism_code)?;
        block_on(admin.admin.delete_user_scram_credential(user, m))?
    })
}

fn consumer_offsets_for_times(
    consumer: &ConsumerBox,
    times: &[PartitionOffset],
) -> Result<Vec<PartitionOffset>, FfiError> {
    guard(|| {
        // One ListOffsets answers each partition once: a partition asked for several
        // timestamps is asked in requests of its own.
        let mut seen = std::collections::HashSet::new();
        let batches: Vec<&[PartitionOffset]> =
            if times.iter().all(|p| seen.insert((&p.topic, p.partition))) {
                vec![times]
            } else {
                times.chunks(1).collect()
            };
        let mut out = Vec::with_capacity(times.len());
        for batch in batches {
            let queries: Vec<(&str, i32, i64)> = batch
                .iter()
                .map(|p| (p.topic.as_str(), p.partition, p.offset))
                .collect();
            let found = block_on(consumer.client.consumer().offsets_for_times(&queries))??;
            out.extend(batch.iter().map(|p| {
                let offset = found
                    .get(&(p.topic.clone(), p.partition))
                    .map_or(odradek::consumer::OFFSET_END, |o| o.offset);
                partition_row(p.topic.clone(), p.partition, offset)
            }));
        }
        Ok(out)
    })
}
