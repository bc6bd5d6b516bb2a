//! ListOffsets across partitions: grouped by leader, retried after metadata refreshes.

use std::collections::HashMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, ListOffsetsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::{Cluster, needs_metadata_refresh};
use crate::config::IsolationLevel;
use crate::error::{Error, Result};

/// Timestamp that asks for the log start offset.
pub const EARLIEST: i64 = -2;
/// Timestamp that asks for the end offset (high watermark / LSO).
pub const LATEST: i64 = -1;

/// An offset found by ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The offset (-1 when no record has a timestamp at or after the one asked for).
    pub offset: i64,
    /// The record's timestamp (-1 for EARLIEST/LATEST).
    pub timestamp: i64,
}

impl Cluster {
    /// For each (topic, partition, timestamp) — or [`EARLIEST`] / [`LATEST`] — the first offset
    /// whose timestamp is at or after it. Retries retriable errors within `request.timeout.ms`.
    pub async fn list_offsets(
        &self,
        queries: &[(&str, i32, i64)],
        isolation: IsolationLevel,
    ) -> Result<HashMap<(String, i32), OffsetAndTimestamp>> {
        let deadline = Instant::now() + self.config().request_timeout;
        let mut results = HashMap::new();
        let mut pending: Vec<(&str, i32, i64)> = queries.to_vec();
        let mut attempt = 0;
        loop {
            let mut by_leader: HashMap<i32, Vec<(&str, i32, i64)>> = HashMap::new();
            let mut last_error = None;
            for &(topic, partition, ts) in &pending {
                let info = self.topic(topic).await?;
                if partition < 0 || partition as usize >= info.partitions.len() {
                    return Err(Error::invalid_argument(format!(
                        "partition {partition} does not exist (topic has {})",
                        info.partitions.len()
                    ))
                    .with_partition(topic, partition));
                }
                let leader = info.partitions[partition as usize].leader;
                by_leader
                    .entry(leader)
                    .or_default()
                    .push((topic, partition, ts));
            }
            let mut retry = Vec::new();
            for (leader, items) in by_leader {
                let mut topics: Vec<ListOffsetsTopic> = Vec::new();
                for &(topic, partition, ts) in &items {
                    let p = ListOffsetsPartition::default()
                        .with_partition_index(partition)
                        .with_timestamp(ts);
                    match topics.iter_mut().find(|t| &*t.name.0 == topic) {
                        Some(t) => t.partitions.push(p),
                        None => topics.push(
                            ListOffsetsTopic::default()
                                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                                .with_partitions(vec![p]),
                        ),
                    }
                }
                let request = ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_isolation_level(isolation.as_i8())
                    .with_topics(topics);
                let response: Result<ListOffsetsResponse> = self.request_to(leader, &request).await;
                let response = match response {
                    Ok(r) => r,
                    Err(e) if e.is_retriable() => {
                        last_error = Some(e);
                        retry.extend(items);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for &(topic, partition, ts) in &items {
                    let found = response
                        .topics
                        .iter()
                        .find(|t| &*t.name.0 == topic)
                        .and_then(|t| t.partitions.iter().find(|p| p.partition_index == partition));
                    let Some(p) = found else {
                        last_error = Some(Error::network(
                            "partition missing from the ListOffsets response",
                        ));
                        retry.push((topic, partition, ts));
                        continue;
                    };
                    match Error::from_code(p.error_code) {
                        None => {
                            results.insert(
                                (topic.to_owned(), partition),
                                OffsetAndTimestamp {
                                    offset: p.offset,
                                    timestamp: p.timestamp,
                                },
                            );
                        }
                        Some(e) if e.is_retriable() => {
                            last_error = Some(e.with_partition(topic, partition));
                            retry.push((topic, partition, ts));
                        }
                        Some(e) => {
                            return Err(e.with_partition(topic, partition).with_broker(leader));
                        }
                    }
                }
            }
            if retry.is_empty() {
                return Ok(results);
            }
            let err = last_error.unwrap_or_else(|| Error::network("ListOffsets failed"));
            attempt += 1;
            if Instant::now() >= deadline {
                return Err(err);
            }
            if needs_metadata_refresh(&err) {
                let topics: Vec<&str> = retry.iter().map(|r| r.0).collect();
                let _ = self.refresh(&topics).await;
            }
            let cfg = self.config();
            tokio::time::sleep(crate::net::backoff(
                cfg.retry_backoff,
                cfg.retry_backoff_max,
                attempt,
            ))
            .await;
            pending = retry;
        }
    }
}
