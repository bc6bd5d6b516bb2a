//! DescribeLogDirs: the broker's one log dir (its data dir) and the size of every partition
//! replica in it. Kafka's reassignment tool asks it of every broker before a move.

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};

use super::{Ctx, codes, str_bytes};
use crate::security::acl::{CLUSTER_NAME, op, resource};

pub fn describe_log_dirs(ctx: &Ctx, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let mut resp = DescribeLogDirsResponse::default();
    if !ctx.allowed(op::DESCRIBE, resource::CLUSTER, CLUSTER_NAME) {
        // As Kafka: v3+ say so; older versions get an empty answer.
        resp.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
        return resp;
    }
    let s = &ctx.state;
    let wanted: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.0.to_string(), t.partitions))
            .collect()
    });
    // In cluster mode only the partitions this node is a replica of live here (the others of
    // a topic it holds are empty placeholders).
    let image = s.cluster.as_ref().map(|c| (c.node_id, c.image()));
    let mut result = DescribeLogDirsResult::default();
    result.log_dir = str_bytes(s.topics.data_dir().display().to_string());
    result.total_bytes = -1;
    result.usable_bytes = -1;
    for topic in s.topics.list() {
        let only = match &wanted {
            None => None,
            Some(w) => match w.iter().find(|(n, _)| n.as_str() == &*topic.name) {
                Some((_, parts)) => Some(parts),
                None => continue,
            },
        };
        let mut t = DescribeLogDirsTopic::default();
        t.name = TopicName(str_bytes(topic.name.to_string()));
        for (index, partition) in topic.partitions().iter().enumerate() {
            let index = index as i32;
            let replica_here = image.as_ref().is_none_or(|(me, image)| {
                image
                    .partition(&topic.name, index as u32)
                    .is_some_and(|p| p.replicas.contains(me))
            });
            if !replica_here || only.is_some_and(|o| !o.contains(&index)) {
                continue;
            }
            let log = partition.log();
            let offsets = log.offsets();
            let mut p = DescribeLogDirsPartition::default();
            p.partition_index = index;
            p.partition_size = log.size_bytes() as i64;
            p.offset_lag = (offsets.high_watermark - offsets.log_end_offset).max(0);
            t.partitions.push(p);
        }
        if !t.partitions.is_empty() {
            result.topics.push(t);
        }
    }
    resp.results.push(result);
    resp
}
