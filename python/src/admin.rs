//! The admin client: topics and partitions, configs, groups (offsets, lag), records, the
//! cluster, ACLs and SCRAM users. Every call blocks with the GIL released. Results go back as
//! tuples; `odradek._admin` turns them into named types.

use odradek::admin::{
    AclBinding, AclFilter, Admin, AlterConfigOp, ConfigResource, ElectionType, NewTopic,
    scram_mechanism,
};
use pyo3::prelude::*;

/// A topic to create as Python passes it: (name, partitions, replication factor, configs).
type TopicSpec = (String, i32, i16, crate::config::ConfigPairs);
/// A config entry: (name, value, read only, is default, is sensitive).
type ConfigTuple = (String, Option<String>, bool, bool, bool);
/// A group member: (member id, instance id, client id, host, member epoch, assignment).
type MemberTuple = (
    String,
    Option<String>,
    String,
    String,
    i32,
    Vec<(String, i32)>,
);
/// A group: (group id, type, state, assignor, epoch, members).
type GroupTuple = (String, String, String, String, i32, Vec<MemberTuple>);
/// The cluster: (cluster id, controller id, [(node id, host, port, rack)]).
type ClusterTuple = (String, i32, Vec<(i32, String, i32, Option<String>)>);
/// A SCRAM user: (user, [(mechanism, iterations)]).
type ScramUserTuple = (String, Vec<(String, i32)>);
/// Lag of a partition: (topic, partition, committed, log end, lag).
type LagTuple = (String, i32, Option<i64>, i64, i64);
/// A reassignment in progress: (topic, partition, replicas, adding, removing).
type ReassignmentTuple = (String, i32, Vec<i32>, Vec<i32>, Vec<i32>);
/// An election's outcome: (topic, partition, the error as a `KafkaError`, or `None`).
type ElectionTuple<'py> = (String, i32, Option<Bound<'py, PyAny>>);
/// An ACL by Kafka's names: (resource type, name, pattern type, principal, host, operation,
/// permission).
type AclTuple = (String, String, String, String, String, String, String);
/// An ACL filter: as [`AclTuple`], `None` matching anything.
type AclFilterTuple = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn acl_tuple(a: AclBinding) -> AclTuple {
    (
        a.resource_type.name().to_owned(),
        a.resource_name,
        a.pattern_type.name().to_owned(),
        a.principal,
        a.host,
        a.operation.name().to_owned(),
        a.permission.name().to_owned(),
    )
}

fn acl_filter(f: AclFilterTuple) -> odradek::error::Result<AclFilter> {
    let (rt, name, pt, principal, host, op, perm) = f;
    AclFilter::from_names(
        rt.as_deref(),
        name,
        pt.as_deref(),
        principal,
        host,
        op.as_deref(),
        perm.as_deref(),
    )
}

/// The native admin client under `odradek.AdminClient`.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeAdmin {
    admin: Admin,
}

impl NativeAdmin {
    /// Runs `call` with the admin client, blocking with the GIL released for at most `timeout`
    /// seconds (a timeout names `what`).
    fn call<T, F>(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        what: &str,
        call: impl FnOnce(Admin) -> F,
    ) -> PyResult<T>
    where
        F: std::future::Future<Output = odradek::error::Result<T>> + Send,
        T: Send,
    {
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            what,
            call(self.admin.clone()),
        )
    }
}

#[pymethods]
impl NativeAdmin {
    #[new]
    #[pyo3(signature = (config, oauth_cb=None))]
    fn new(
        py: Python<'_>,
        config: crate::config::ConfigPairs,
        oauth_cb: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = crate::config_of(py, config, oauth_cb)?;
        let admin = Admin::from_config(&config).map_err(|e| crate::raise(py, e))?;
        Ok(NativeAdmin { admin })
    }

    /// Creates topics: (name, partitions, replication factor, [(config, value)]) tuples.
    #[pyo3(signature = (topics, timeout=None))]
    fn create_topics(
        &self,
        py: Python<'_>,
        topics: Vec<TopicSpec>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let topics = topics
            .into_iter()
            .map(|(name, partitions, rf, configs)| {
                Ok(NewTopic {
                    name,
                    partitions,
                    replication_factor: rf,
                    configs: crate::config::settings(py, configs)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        self.call(py, timeout, "create_topics", |admin| async move {
            admin.create_topics(&topics).await
        })
    }

    /// Deletes topics.
    #[pyo3(signature = (topics, timeout=None))]
    fn delete_topics(
        &self,
        py: Python<'_>,
        topics: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.call(py, timeout, "delete_topics", |admin| async move {
            let t: Vec<&str> = topics.iter().map(String::as_str).collect();
            admin.delete_topics(&t).await
        })
    }

    /// Grows a topic to `total` partitions.
    #[pyo3(signature = (topic, total, timeout=None))]
    fn create_partitions(
        &self,
        py: Python<'_>,
        topic: String,
        total: i32,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.call(py, timeout, "create_partitions", |admin| async move {
            admin.create_partitions(&topic, total).await
        })
    }

    /// (name, partition count) of every topic.
    #[pyo3(signature = (timeout=None))]
    fn list_topics(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Vec<(String, usize)>> {
        self.call(py, timeout, "list_topics", |admin| async move {
            admin.list_topics().await
        })
    }

    /// Configs of a resource: `restype` `topic` or `broker`, all of them or only `keys`.
    #[pyo3(signature = (restype, name, keys=None, timeout=None))]
    fn describe_configs(
        &self,
        py: Python<'_>,
        restype: String,
        name: String,
        keys: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ConfigTuple>> {
        let resource =
            ConfigResource::from_names(&restype, &name).map_err(|e| crate::raise(py, e))?;
        self.call(py, timeout, "describe_configs", |admin| async move {
            let keys: Option<Vec<&str>> = keys
                .as_ref()
                .map(|k| k.iter().map(String::as_str).collect());
            let entries = admin.describe_configs(&resource, keys.as_deref()).await?;
            Ok(entries
                .into_iter()
                .map(|e| (e.name, e.value, e.read_only, e.is_default, e.is_sensitive))
                .collect())
        })
    }

    /// Incremental config changes: (name, value) sets it, (name, None) reverts it to the default.
    #[pyo3(signature = (restype, name, changes, timeout=None))]
    fn alter_configs(
        &self,
        py: Python<'_>,
        restype: String,
        name: String,
        changes: Vec<(String, Option<String>)>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let resource =
            ConfigResource::from_names(&restype, &name).map_err(|e| crate::raise(py, e))?;
        let ops: Vec<AlterConfigOp> = changes
            .into_iter()
            .map(|(k, v)| match v {
                Some(v) => AlterConfigOp::Set(k, v),
                None => AlterConfigOp::Delete(k),
            })
            .collect();
        self.call(py, timeout, "alter_configs", |admin| async move {
            admin.alter_configs(&resource, &ops).await
        })
    }

    /// (cluster id, controller id, [(node id, host, port, rack)]).
    #[pyo3(signature = (timeout=None))]
    fn describe_cluster(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<ClusterTuple> {
        self.call(py, timeout, "describe_cluster", |admin| async move {
            let c = admin.describe_cluster().await?;
            let brokers = c
                .brokers
                .into_iter()
                .map(|b| (b.id, b.host, b.port, b.rack))
                .collect();
            Ok((c.cluster_id, c.controller_id, brokers))
        })
    }

    /// Every group: (group id, protocol type, state, group type).
    #[pyo3(signature = (timeout=None))]
    fn list_groups(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<(String, String, String, String)>> {
        self.call(py, timeout, "list_groups", |admin| async move {
            let groups = admin.list_groups().await?;
            Ok(groups
                .into_iter()
                .map(|g| (g.group_id, g.protocol_type, g.state, g.group_type))
                .collect())
        })
    }

    /// The groups described, in the order asked.
    #[pyo3(signature = (groups, timeout=None))]
    fn describe_groups(
        &self,
        py: Python<'_>,
        groups: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<GroupTuple>> {
        self.call(py, timeout, "describe_groups", |admin| async move {
            let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
            let described = admin.describe_groups(&ids).await?;
            Ok(described
                .into_iter()
                .map(|g| {
                    let members = g
                        .members
                        .into_iter()
                        .map(|m| {
                            (
                                m.member_id,
                                m.instance_id,
                                m.client_id,
                                m.host,
                                m.member_epoch,
                                m.assignment,
                            )
                        })
                        .collect();
                    (
                        g.group_id,
                        g.group_type,
                        g.state,
                        g.assignor,
                        g.epoch,
                        members,
                    )
                })
                .collect())
        })
    }

    /// Every committed offset of a group: (topic, partition, offset).
    #[pyo3(signature = (group, timeout=None))]
    fn list_group_offsets(
        &self,
        py: Python<'_>,
        group: String,
        timeout: Option<f64>,
    ) -> PyResult<Vec<(String, i32, i64)>> {
        self.call(py, timeout, "list_group_offsets", |admin| async move {
            let offsets = admin.list_group_offsets(&group).await?;
            Ok(offsets.into_iter().map(|((t, p), o)| (t, p, o)).collect())
        })
    }

    /// Sets committed offsets of a group without members.
    #[pyo3(signature = (group, offsets, timeout=None))]
    fn alter_group_offsets(
        &self,
        py: Python<'_>,
        group: String,
        offsets: Vec<(String, i32, i64)>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.call(py, timeout, "alter_group_offsets", |admin| async move {
            admin.alter_group_offsets(&group, &offsets).await
        })
    }

    /// Deletes committed offsets of a group.
    #[pyo3(signature = (group, partitions, timeout=None))]
    fn delete_group_offsets(
        &self,
        py: Python<'_>,
        group: String,
        partitions: Vec<(String, i32)>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.call(py, timeout, "delete_group_offsets", |admin| async move {
            admin.delete_group_offsets(&group, &partitions).await
        })
    }

    /// Deletes groups without members.
    #[pyo3(signature = (groups, timeout=None))]
    fn delete_groups(
        &self,
        py: Python<'_>,
        groups: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.call(py, timeout, "delete_groups", |admin| async move {
            let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
            admin.delete_groups(&ids).await
        })
    }

    /// Lag of every partition the group committed, plus every partition of `topics`.
    #[pyo3(signature = (group, topics, timeout=None))]
    fn group_lag(
        &self,
        py: Python<'_>,
        group: String,
        topics: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<LagTuple>> {
        self.call(py, timeout, "group_lag", |admin| async move {
            let t: Vec<&str> = topics.iter().map(String::as_str).collect();
            let lags = admin.group_lag(&group, &t).await?;
            Ok(lags
                .into_iter()
                .map(|l| (l.topic, l.partition, l.committed, l.log_end, l.lag))
                .collect())
        })
    }

    /// Deletes records before each (topic, partition, offset); the new low watermarks, in order.
    #[pyo3(signature = (before, timeout=None))]
    fn delete_records(
        &self,
        py: Python<'_>,
        before: Vec<(String, i32, i64)>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<(String, i32, i64)>> {
        self.call(py, timeout, "delete_records", |admin| async move {
            let refs: Vec<(&str, i32, i64)> = before
                .iter()
                .map(|(t, p, o)| (t.as_str(), *p, *o))
                .collect();
            let low = admin.delete_records(&refs).await?;
            Ok(before
                .iter()
                .map(|(t, p, _)| {
                    (
                        t.clone(),
                        *p,
                        low.get(&(t.clone(), *p)).copied().unwrap_or(-1),
                    )
                })
                .collect())
        })
    }

    /// Moves each (topic, partition) to the replicas given (the first preferred), or cancels
    /// its reassignment in progress (`None`). Fails with the first partition's error.
    #[pyo3(signature = (moves, timeout=None))]
    fn alter_partition_reassignments(
        &self,
        py: Python<'_>,
        moves: Vec<(String, i32, Option<Vec<i32>>)>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.call(
            py,
            timeout,
            "alter_partition_reassignments",
            |admin| async move {
                let refs: Vec<(&str, i32, Option<Vec<i32>>)> = moves
                    .iter()
                    .map(|(t, p, r)| (t.as_str(), *p, r.clone()))
                    .collect();
                admin.alter_partition_reassignments(&refs).await
            },
        )
    }

    /// The reassignments in progress (of these partitions, if given): (topic, partition,
    /// replicas, adding, removing).
    #[pyo3(signature = (partitions=None, timeout=None))]
    fn list_partition_reassignments(
        &self,
        py: Python<'_>,
        partitions: Option<Vec<(String, i32)>>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ReassignmentTuple>> {
        self.call(
            py,
            timeout,
            "list_partition_reassignments",
            |admin| async move {
                let refs: Option<Vec<(&str, i32)>> = partitions
                    .as_ref()
                    .map(|ps| ps.iter().map(|(t, p)| (t.as_str(), *p)).collect());
                let listed = admin.list_partition_reassignments(refs.as_deref()).await?;
                Ok(listed
                    .into_iter()
                    .map(|r| (r.topic, r.partition, r.replicas, r.adding, r.removing))
                    .collect())
            },
        )
    }

    /// Elects leaders (preferred, or unclean) of these partitions, or of every one when
    /// `None`: (topic, partition, error or `None`) for each partition an election was tried
    /// for.
    #[pyo3(signature = (unclean, partitions=None, timeout=None))]
    fn elect_leaders<'py>(
        &self,
        py: Python<'py>,
        unclean: bool,
        partitions: Option<Vec<(String, i32)>>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ElectionTuple<'py>>> {
        let election = if unclean {
            ElectionType::Unclean
        } else {
            ElectionType::Preferred
        };
        let results = self.call(py, timeout, "elect_leaders", |admin| async move {
            let refs: Option<Vec<(&str, i32)>> = partitions
                .as_ref()
                .map(|ps| ps.iter().map(|(t, p)| (t.as_str(), *p)).collect());
            admin.elect_leaders(election, refs.as_deref()).await
        })?;
        Ok(results
            .into_iter()
            .map(|r| {
                let error = r.error.map(|e| crate::exception(py, &e));
                (r.topic, r.partition, error)
            })
            .collect())
    }

    /// Creates ACLs given by Kafka's names.
    #[pyo3(signature = (acls, timeout=None))]
    fn create_acls(
        &self,
        py: Python<'_>,
        acls: Vec<AclTuple>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let acls = acls
            .into_iter()
            .map(|(rt, name, pt, principal, host, op, perm)| {
                AclBinding::from_names(&rt, &name, &pt, &principal, &host, &op, &perm)
            })
            .collect::<odradek::error::Result<Vec<_>>>()
            .map_err(|e| crate::raise(py, e))?;
        self.call(py, timeout, "create_acls", |admin| async move {
            admin.create_acls(&acls).await
        })
    }

    /// The ACLs matching a filter.
    #[pyo3(signature = (filter, timeout=None))]
    fn describe_acls(
        &self,
        py: Python<'_>,
        filter: AclFilterTuple,
        timeout: Option<f64>,
    ) -> PyResult<Vec<AclTuple>> {
        let filter = acl_filter(filter).map_err(|e| crate::raise(py, e))?;
        self.call(py, timeout, "describe_acls", |admin| async move {
            Ok(admin
                .describe_acls(&filter)
                .await?
                .into_iter()
                .map(acl_tuple)
                .collect())
        })
    }

    /// Deletes the ACLs matching any filter; the ACLs deleted.
    #[pyo3(signature = (filters, timeout=None))]
    fn delete_acls(
        &self,
        py: Python<'_>,
        filters: Vec<AclFilterTuple>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<AclTuple>> {
        let filters = filters
            .into_iter()
            .map(acl_filter)
            .collect::<odradek::error::Result<Vec<_>>>()
            .map_err(|e| crate::raise(py, e))?;
        self.call(py, timeout, "delete_acls", |admin| async move {
            Ok(admin
                .delete_acls(&filters)
                .await?
                .into_iter()
                .map(acl_tuple)
                .collect())
        })
    }

    /// SCRAM users (all, or `users`): (user, [(mechanism, iterations)]).
    #[pyo3(signature = (users=None, timeout=None))]
    fn describe_scram_users(
        &self,
        py: Python<'_>,
        users: Option<Vec<String>>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ScramUserTuple>> {
        self.call(
            py,
            timeout,
            "describe_user_scram_credentials",
            |admin| async move {
                let names: Option<Vec<&str>> = users
                    .as_ref()
                    .map(|u| u.iter().map(String::as_str).collect());
                let described = admin
                    .describe_user_scram_credentials(names.as_deref())
                    .await?;
                Ok(described
                    .into_iter()
                    .map(|(user, infos)| {
                        let infos = infos
                            .into_iter()
                            .map(|i| (i.mechanism.name().to_owned(), i.iterations))
                            .collect();
                        (user, infos)
                    })
                    .collect())
            },
        )
    }

    /// Sets a user's SCRAM password for a mechanism (the password never leaves this call but
    /// salted and iterated).
    #[pyo3(signature = (user, mechanism, password, iterations, timeout=None))]
    fn upsert_scram_user(
        &self,
        py: Python<'_>,
        user: String,
        mechanism: String,
        password: String,
        iterations: u32,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let mechanism = scram_mechanism(&mechanism).map_err(|e| crate::raise(py, e))?;
        self.call(
            py,
            timeout,
            "alter_user_scram_credentials",
            |admin| async move {
                admin
                    .upsert_user_scram_credential(&user, mechanism, &password, iterations)
                    .await
            },
        )
    }

    /// Deletes a user's SCRAM credential for a mechanism.
    #[pyo3(signature = (user, mechanism, timeout=None))]
    fn delete_scram_user(
        &self,
        py: Python<'_>,
        user: String,
        mechanism: String,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let mechanism = scram_mechanism(&mechanism).map_err(|e| crate::raise(py, e))?;
        self.call(
            py,
            timeout,
            "alter_user_scram_credentials",
            |admin| async move { admin.delete_user_scram_credential(&user, mechanism).await },
        )
    }
}
