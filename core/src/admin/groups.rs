//! Consumer-group administration: list and describe groups (classic and KIP-848), list, alter
//! and delete committed offsets, delete groups, lag per partition. Group requests go to the
//! group's coordinator (FindCoordinator), as Kafka requires.

use std::collections::BTreeMap;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::cluster::offsets::{EARLIEST, LATEST};
use crate::config::IsolationLevel;
use crate::error::{Error, Result};
use crate::group::protocol::Assignment;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn check(code: i16, what: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Error::from_code(code)
        .unwrap_or_else(|| Error::network(format!("error code {code}")))
        .with_topic(what))
}

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group's name (`group.id`).
    pub group_id: String,
    /// `consumer` for consumer groups of either protocol; empty for groups with offsets only.
    pub protocol_type: String,
    /// The coordinator's state name, e.g. `Stable`, `PreparingRebalance`, `Empty`, `Dead`.
    pub state: String,
    /// `classic` or `consumer` (KIP-848).
    pub group_type: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The id the coordinator assigned the member when it joined.
    pub member_id: String,
    /// `group.instance.id` of a static member; `None` for a dynamic one.
    pub instance_id: Option<String>,
    /// The `client.id` the member's client sent.
    pub client_id: String,
    /// The member's address as the coordinator saw it (`/ip`).
    pub host: String,
    /// KIP-848 member epoch (-1 for classic members).
    pub member_epoch: i32,
    /// (topic, partition), sorted.
    pub assignment: Vec<(String, i32)>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group's name (`group.id`).
    pub group_id: String,
    /// `classic` or `consumer`.
    pub group_type: String,
    /// The coordinator's state name; `Dead` for a group that does not exist.
    pub state: String,
    /// Classic: the chosen protocol (assignor); consumer: the server-side assignor.
    pub assignor: String,
    /// Classic: the generation; consumer: the group epoch.
    pub epoch: i32,
    /// The current members; empty for a group with only committed offsets.
    pub members: Vec<GroupMember>,
}

/// Lag of one partition for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The topic's name.
    pub topic: String,
    /// The partition's index within the topic.
    pub partition: i32,
    /// None: nothing committed.
    pub committed: Option<i64>,
    /// The offset a `read_committed` consumer can read up to (the last stable offset), so
    /// records of open transactions do not count as lag.
    pub log_end: i64,
    /// log end minus committed (or minus the log start when nothing is committed).
    pub lag: i64,
}

impl Admin {
    /// The coordinator of `group`, as a node id usable with `Cluster::request_to`.
    async fn coordinator(&self, group: &str) -> Result<i32> {
        self.cluster.coordinator_node(group, 0).await
    }

    /// Every group of every broker (classic and consumer).
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let metadata = self.cluster.refresh(&[]).await?;
        let mut out = Vec::new();
        for id in metadata.brokers.keys() {
            let resp = self
                .cluster
                .request_to(*id, &ListGroupsRequest::default())
                .await?;
            check(resp.error_code, "ListGroups")?;
            for g in resp.groups {
                out.push(GroupListing {
                    group_id: g.group_id.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: g.group_state.to_string(),
                    group_type: if g.group_type.is_empty() {
                        "classic".to_string()
                    } else {
                        g.group_type.to_string()
                    },
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    /// Describes groups: KIP-848 groups with ConsumerGroupDescribe, classic ones with
    /// DescribeGroups. A group that does not exist comes back with state `Dead` and no members.
    pub async fn describe_groups(&self, groups: &[&str]) -> Result<Vec<GroupDescription>> {
        let mut out = Vec::new();
        for &group in groups {
            let node = self.coordinator(group).await?;
            let conn = self.cluster.connection(node).await?;
            if conn.version(ApiKey::ConsumerGroupDescribe).is_some() {
                let mut req = ConsumerGroupDescribeRequest::default();
                req.group_ids = vec![GroupId(s(group))];
                let resp = self.cluster.request_to(node, &req).await?;
                if let Some(g) = resp.groups.into_iter().next()
                    && g.error_code == 0
                {
                    out.push(GroupDescription {
                        group_id: group.to_string(),
                        group_type: "consumer".to_string(),
                        state: g.group_state.to_string(),
                        assignor: g.assignor_name.to_string(),
                        epoch: g.group_epoch,
                        members: g
                            .members
                            .into_iter()
                            .map(|m| {
                                let mut assignment: Vec<(String, i32)> = m
                                    .assignment
                                    .topic_partitions
                                    .iter()
                                    .flat_map(|t| {
                                        t.partitions.iter().map(|p| (t.topic_name.to_string(), *p))
                                    })
                                    .collect();
                                assignment.sort();
                                GroupMember {
                                    member_id: m.member_id.to_string(),
                                    instance_id: m.instance_id.map(|i| i.to_string()),
                                    client_id: m.client_id.to_string(),
                                    host: m.client_host.to_string(),
                                    member_epoch: m.member_epoch,
                                    assignment,
                                }
                            })
                            .collect(),
                    });
                    continue;
                }
            }
            let mut req = DescribeGroupsRequest::default();
            req.groups = vec![GroupId(s(group))];
            let resp = self.cluster.request_to(node, &req).await?;
            let Some(g) = resp.groups.into_iter().next() else {
                return Err(Error::network("DescribeGroups returned no group"));
            };
            // GROUP_ID_NOT_FOUND (v6) means Dead: report it as such, like older versions.
            if g.error_code != 0 && g.error_code != 69 {
                check(g.error_code, "DescribeGroups")?;
            }
            let state = if g.error_code == 69 {
                "Dead".to_string()
            } else {
                g.group_state.to_string()
            };
            let consumer = g.protocol_type.as_str() == "consumer";
            out.push(GroupDescription {
                group_id: group.to_string(),
                group_type: "classic".to_string(),
                state,
                assignor: g.protocol_data.to_string(),
                epoch: -1,
                members: g
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut assignment: Vec<(String, i32)> = if consumer {
                            Assignment::decode(&m.member_assignment)
                                .map(|a| {
                                    a.partitions
                                        .iter()
                                        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
                                        .collect()
                                })
                                .unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        assignment.sort();
                        GroupMember {
                            member_id: m.member_id.to_string(),
                            instance_id: m.group_instance_id.map(|i| i.to_string()),
                            client_id: m.client_id.to_string(),
                            host: m.client_host.to_string(),
                            member_epoch: -1,
                            assignment,
                        }
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Every committed offset of `group`: (topic, partition) → offset.
    pub async fn list_group_offsets(&self, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
        let node = self.coordinator(group).await?;
        let conn = self.cluster.connection(node).await?;
        let version = conn.require_version(ApiKey::OffsetFetch)?;
        let mut req = OffsetFetchRequest::default();
        let mut out = BTreeMap::new();
        if version >= 8 {
            let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
            g.group_id = GroupId(s(group));
            g.topics = None;
            req.groups.push(g);
            let resp = self.cluster.request_to(node, &req).await?;
            for g in resp.groups {
                check(g.error_code, "OffsetFetch")?;
                for t in g.topics {
                    for p in t.partitions {
                        if p.committed_offset >= 0 {
                            out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
                        }
                    }
                }
            }
        } else {
            req.group_id = GroupId(s(group));
            req.topics = None;
            let resp = self.cluster.request_to(node, &req).await?;
            check(resp.error_code, "OffsetFetch")?;
            for t in resp.topics {
                for p in t.partitions {
                    if p.committed_offset >= 0 {
                        out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Sets committed offsets of a group without members (Kafka refuses it for an active
    /// group with UNKNOWN_MEMBER_ID).
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &[(String, i32, i64)],
    ) -> Result<()> {
        let node = self.coordinator(group).await?;
        let mut req = OffsetCommitRequest::default();
        req.group_id = GroupId(s(group));
        req.generation_id_or_member_epoch = -1;
        req.topics = crate::group::protocol::offset_commit_topics(offsets);
        let resp = self.cluster.request_to(node, &req).await?;
        for t in &resp.topics {
            for p in &t.partitions {
                check(p.error_code, "OffsetCommit")
                    .map_err(|e| e.with_partition(&t.name, p.partition_index))?;
            }
        }
        Ok(())
    }

    /// Deletes committed offsets (OffsetDelete); refused for topics the group consumes.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<()> {
        let node = self.coordinator(group).await?;
        let mut req = OffsetDeleteRequest::default();
        req.group_id = GroupId(s(group));
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in partitions {
            by_topic.entry(t).or_default().push(*p);
        }
        for (t, ps) in by_topic {
            let mut rt = offset_delete_request::OffsetDeleteRequestTopic::default();
            rt.name = TopicName(s(t));
            for p in ps {
                let mut rp = offset_delete_request::OffsetDeleteRequestPartition::default();
                rp.partition_index = p;
                rt.partitions.push(rp);
            }
            req.topics.push(rt);
        }
        let resp = self.cluster.request_to(node, &req).await?;
        check(resp.error_code, "OffsetDelete")?;
        for t in &resp.topics {
            for p in &t.partitions {
                check(p.error_code, "OffsetDelete")
                    .map_err(|e| e.with_partition(&t.name, p.partition_index))?;
            }
        }
        Ok(())
    }

    /// Deletes groups (each must have no members); fails with the first group's error.
    pub async fn delete_groups(&self, groups: &[&str]) -> Result<()> {
        for &group in groups {
            let node = self.coordinator(group).await?;
            let mut req = DeleteGroupsRequest::default();
            req.groups_names = vec![GroupId(s(group))];
            let resp = self.cluster.request_to(node, &req).await?;
            for r in resp.results {
                check(r.error_code, &format!("DeleteGroups {group}"))?;
            }
        }
        Ok(())
    }

    /// Lag per partition of every topic the group has committed offsets for, plus every
    /// partition of `topics`.
    pub async fn group_lag(&self, group: &str, topics: &[&str]) -> Result<Vec<PartitionLag>> {
        let committed = self.list_group_offsets(group).await?;
        let mut wanted: BTreeMap<(String, i32), Option<i64>> = committed
            .iter()
            .map(|(k, v)| (k.clone(), Some(*v)))
            .collect();
        for &t in topics {
            let info = self.cluster.topic(t).await?;
            for p in 0..info.partitions.len() as i32 {
                wanted.entry((t.to_string(), p)).or_insert(None);
            }
        }
        let mut lags = Vec::new();
        if wanted.is_empty() {
            return Ok(lags);
        }
        let ask = |ts: i64| -> Vec<(&str, i32, i64)> {
            wanted.keys().map(|(t, p)| (t.as_str(), *p, ts)).collect()
        };
        let ends = self
            .cluster
            .list_offsets(&ask(LATEST), IsolationLevel::ReadCommitted)
            .await?;
        let starts = self
            .cluster
            .list_offsets(&ask(EARLIEST), IsolationLevel::ReadUncommitted)
            .await?;
        for ((t, p), c) in wanted {
            let key = (t.clone(), p);
            let end = ends.get(&key).map_or(0, |o| o.offset);
            let start = starts.get(&key).map_or(0, |o| o.offset);
            lags.push(PartitionLag {
                topic: t,
                partition: p,
                committed: c,
                log_end: end,
                lag: (end - c.unwrap_or(start)).max(0),
            });
        }
        Ok(lags)
    }
}
