//! Produce: validate each partition's batch outside any lock, append it under the partition
//! lock (offsets assigned, idempotent retries answered with their original offsets), then
//! acknowledge — after the fsync when `--fsync always` or `flush.messages` ask for it.
//! A transactional batch is appended only into a partition of its producer's open
//! transaction, checked by the transaction coordinator (`crate::txn`); under transaction
//! version 2 a v12+ request adds the partition to the transaction itself.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::produce_response::NodeEndpoint;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse, ResponseKind};

use super::{Ctx, Outcome, cluster_view, codes, str_bytes};
use crate::batch_rewrite;
use crate::cluster_mode::delayed_produce;
use crate::cluster_mode::leaders::Led;
use crate::config::FsyncPolicy;
use crate::log::{AppendError, ProduceRules, validate_produced};
use crate::partition::Partition;
use crate::security::acl::{op, resource};
use crate::time::now_ms;
use crate::topics::is_internal;

pub fn handle(ctx: &Ctx, version: i16, req: ProduceRequest) -> Outcome {
    let state = &ctx.state;
    let acks = req.acks;
    let txn_id = req.transactional_id.clone();
    // Produce v12+ under transaction version 2 adds its partitions to the transaction.
    let implicit_add = super::txn::version2(ctx, version, 12);
    let now = now_ms();
    let mut durable_waits: Vec<(usize, usize, Arc<Partition>, i64)> = Vec::new();
    // Cluster mode, acks=all on a replicated partition: answered once the high watermark
    // passes the batch (`cluster_mode::delayed_produce`).
    let mut replication_waits: Vec<(usize, usize, Arc<Led>, i64)> = Vec::new();
    let timeout = Duration::from_millis(req.timeout_ms.max(0) as u64);
    let mut resp = ProduceResponse::default();
    for (ti, topic_data) in req.topic_data.into_iter().enumerate() {
        let topic = if version >= 13 {
            state.topics.get_by_id(&topic_data.topic_id)
        } else {
            state.topics.get(&topic_data.name)
        };
        let mut tr = TopicProduceResponse::default();
        tr.name = topic_data.name.clone();
        tr.topic_id = topic_data.topic_id;
        let name = topic
            .as_ref()
            .map(|t| t.name.to_string())
            .unwrap_or_else(|| topic_data.name.to_string());
        // A transactional produce also needs WRITE on its transactional id (Kafka's check).
        let txn_refused = txn_id
            .as_ref()
            .is_some_and(|id| !ctx.allowed(op::WRITE, resource::TRANSACTIONAL_ID, id));
        if txn_refused || !ctx.allowed(op::WRITE, resource::TOPIC, &name) {
            let code = if txn_refused {
                crate::txn::codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            } else {
                codes::TOPIC_AUTHORIZATION_FAILED
            };
            for pd in &topic_data.partition_data {
                let mut pr = PartitionProduceResponse::default();
                pr.index = pd.index;
                pr.base_offset = -1;
                pr.log_append_time_ms = -1;
                pr.log_start_offset = -1;
                pr.error_code = code;
                tr.partition_responses.push(pr);
            }
            resp.responses.push(tr);
            continue;
        }
        for (pi, pd) in topic_data.partition_data.into_iter().enumerate() {
            let mut pr = PartitionProduceResponse::default();
            pr.index = pd.index;
            pr.base_offset = -1;
            pr.log_append_time_ms = -1;
            pr.log_start_offset = -1;
            let partition = topic.as_ref().and_then(|t| t.partition(pd.index));
            // Cluster mode: a partition with no replica here (or not opened yet) that the image
            // knows is led elsewhere, as Kafka answers.
            let elsewhere =
                partition.is_none() && cluster_view::known_partition(ctx, &name, pd.index);
            let not_leader = match &partition {
                Some(p) => ctx.state.not_leader(&p.topic, pd.index),
                None if elsewhere => Some(delayed_produce::NOT_LEADER_OR_FOLLOWER),
                None => None,
            };
            if let Some(code) = not_leader {
                pr.error_code = code;
                if version >= 10
                    && let Some((leader, epoch)) =
                        cluster_view::current_leader(ctx, &name, pd.index)
                {
                    pr.current_leader.leader_id = BrokerId(leader.id);
                    pr.current_leader.leader_epoch = epoch;
                    if !resp.node_endpoints.iter().any(|e| e.node_id.0 == leader.id) {
                        resp.node_endpoints.push(node_endpoint(&leader));
                    }
                }
                tr.partition_responses.push(pr);
                continue;
            }
            let Some(partition) = partition else {
                pr.error_code = if version >= 13 && topic.is_none() {
                    codes::UNKNOWN_TOPIC_ID
                } else {
                    codes::UNKNOWN_TOPIC_OR_PARTITION
                };
                tr.partition_responses.push(pr);
                continue;
            };
            if is_internal(&partition.topic) {
                // As Kafka: only the broker itself writes its internal topics.
                pr.error_code = codes::INVALID_TOPIC_EXCEPTION;
                if version >= 8 {
                    pr.error_message = Some(str_bytes(format!(
                        "cannot append to internal topic {}",
                        partition.topic
                    )));
                }
                tr.partition_responses.push(pr);
                continue;
            }
            if !matches!(acks, -1..=1) {
                pr.error_code = codes::INVALID_REQUIRED_ACKS;
                tr.partition_responses.push(pr);
                continue;
            }
            let led = state
                .cluster
                .as_ref()
                .and_then(|c| c.leaders.get(&partition.topic, pd.index));
            if acks == -1
                && let Some(Err(why)) = led.as_ref().map(|l| l.check_acks_all())
            {
                pr.error_code = delayed_produce::NOT_ENOUGH_REPLICAS;
                if version >= 8 {
                    pr.error_message = Some(str_bytes(why));
                }
                tr.partition_responses.push(pr);
                continue;
            }
            let records = pd.records.unwrap_or_default();
            let (rules, fsync, rewrite_cfg) = {
                let log = partition.log();
                let c = log.config();
                let rules = ProduceRules {
                    max_message_bytes: c.max_message_bytes,
                    compacted: c.compact,
                };
                (rules, c.fsync, c.rewrite)
            };
            let appended = validate_produced(records, rules).and_then(|v| {
                // After validation, outside the lock: the topic's recompression and
                // LogAppendTime stamping (most topics: none, and no copy).
                let rewritten = batch_rewrite::rewrite(
                    &v.records,
                    &v.header,
                    &rewrite_cfg,
                    rules.max_message_bytes,
                    now,
                )?;
                let (bytes, h) = match &rewritten {
                    Some(r) => (&r.bytes[..], r.header),
                    None => (&v.records[..], v.header),
                };
                let append = || {
                    let mut log = partition.log();
                    let info = log.append(bytes, &h, now)?;
                    // Only `flush.messages` makes the ack wait (as in Kafka); `flush.ms` is the
                    // background flusher's job, so no produce waits for a time-based fsync.
                    let flush_now = fsync == FsyncPolicy::Always
                        || (fsync == FsyncPolicy::Interval && log.flush_messages_due());
                    Ok((info, flush_now))
                };
                if h.is_transactional() {
                    // Only into a partition its transaction added (the coordinator's check).
                    state.txns.append_verified(
                        txn_id.as_ref().map(|t| t.as_str()),
                        (h.producer_id, h.producer_epoch),
                        &partition.topic,
                        pd.index,
                        implicit_add,
                        now,
                        append,
                    )
                } else {
                    append()
                }
            });
            match appended {
                Ok((info, flush_now)) => {
                    pr.base_offset = info.base_offset;
                    pr.log_start_offset = info.log_start_offset;
                    if rewrite_cfg.log_append_time {
                        pr.log_append_time_ms = now;
                    }
                    if flush_now {
                        durable_waits.push((ti, pi, partition.clone(), info.last_offset + 1));
                    }
                    if let Some(led) = led {
                        led.appended();
                        if acks == -1 && led.replicated() {
                            replication_waits.push((ti, pi, led, info.last_offset + 1));
                        }
                    }
                    // Outside `always` the high watermark moved on append: wake long-polling
                    // fetches now, even when this ack waits for a flush. (Under `always` the
                    // flush that moves it wakes them.)
                    if fsync != FsyncPolicy::Always && !info.duplicate {
                        partition.data_arrived.notify_waiters();
                    }
                }
                Err(e) => {
                    pr.error_code = e.code();
                    if version >= 8 {
                        pr.error_message = Some(str_bytes(e.to_string()));
                        if let AppendError::RecordErrors(errors) = &e {
                            pr.record_errors = errors
                                .iter()
                                .map(|r| {
                                    let mut b = BatchIndexAndErrorMessage::default();
                                    b.batch_index = r.batch_index;
                                    b.batch_index_error_message =
                                        Some(str_bytes(r.message.clone()));
                                    b
                                })
                                .collect();
                        }
                    }
                    tracing::debug!(topic = %partition.topic, partition = pd.index, "produce refused: {e}");
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    if durable_waits.is_empty() && replication_waits.is_empty() {
        return if acks == 0 {
            Outcome::NoResponse
        } else {
            Outcome::Respond(Box::new(ResponseKind::Produce(resp)))
        };
    }
    let fut = async move {
        for (ti, pi, partition, upto) in durable_waits {
            if let Err(e) = partition.flush_to(upto).await {
                let pr = &mut resp.responses[ti].partition_responses[pi];
                pr.error_code = codes::KAFKA_STORAGE_ERROR;
                pr.base_offset = -1;
                if version >= 8 {
                    pr.error_message = Some(str_bytes(format!("fsync failed: {e}")));
                }
            }
        }
        for (ti, pi, led, upto) in replication_waits {
            if let Err(code) = delayed_produce::wait_for_high_watermark(led, upto, timeout).await {
                let pr = &mut resp.responses[ti].partition_responses[pi];
                pr.error_code = code;
                pr.base_offset = -1;
            }
        }
        ResponseKind::Produce(resp)
    };
    if acks == 0 {
        tokio::spawn(fut);
        return Outcome::NoResponse;
    }
    Outcome::Later(Box::pin(fut))
}

fn node_endpoint(b: &cluster_view::BrokerAddr) -> NodeEndpoint {
    let mut e = NodeEndpoint::default();
    e.node_id = BrokerId(b.id);
    e.host = str_bytes(b.host.clone());
    e.port = b.port;
    e.rack = b.rack.clone().map(str_bytes);
    e
}
