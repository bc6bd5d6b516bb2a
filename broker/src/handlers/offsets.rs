//! ListOffsets, OffsetForLeaderEpoch and DeleteRecords: questions and edits about a
//! partition's offset range.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};

use super::{Ctx, check_leader_epoch, codes};
use crate::log::{PartitionLog, ReadError};
use crate::security::acl::{op, resource};
use crate::topics::is_internal;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;

/// The first ListOffsets version that may ask for a special timestamp; an older request that
/// asks gets UNSUPPORTED_VERSION, as from Apache Kafka 4.3.1.
fn first_version_for(target: i64) -> i16 {
    match target {
        MAX_TIMESTAMP => 7,
        EARLIEST_LOCAL => 8,
        LATEST_TIERED => 9,
        EARLIEST_PENDING_UPLOAD => 11,
        _ => 0,
    }
}

pub fn list_offsets(ctx: &Ctx, version: i16, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut resp = ListOffsetsResponse::default();
    // read_committed (1) asks for the last stable offset as the latest offset.
    let committed = req.isolation_level == 1;
    for t in req.topics {
        let denied = !ctx.allowed(op::DESCRIBE, resource::TOPIC, &t.name);
        let topic = if denied {
            None
        } else {
            ctx.state.topics.get(&t.name)
        };
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            pr.timestamp = -1;
            pr.offset = -1;
            pr.leader_epoch = -1;
            let not_leader = topic
                .as_ref()
                .and_then(|t| ctx.state.not_leader(&t.name, p.partition_index));
            match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                None => pr.error_code = unknown_or_denied(denied),
                Some(_) if let Some(code) = not_leader => pr.error_code = code,
                Some(_) if version < first_version_for(p.timestamp) => {
                    pr.error_code = codes::UNSUPPORTED_VERSION;
                }
                Some(part) => {
                    let log = part.log();
                    pr.error_code = check_leader_epoch(p.current_leader_epoch, log.leader_epoch());
                    if pr.error_code == codes::NONE {
                        match lookup(&log, p.timestamp, committed) {
                            Ok((offset, ts, epoch)) => {
                                pr.offset = offset;
                                pr.timestamp = ts;
                                // LeaderEpoch exists from v4 on; Kafka leaves it out before.
                                pr.leader_epoch = if version >= 4 { epoch } else { -1 };
                            }
                            Err(e) => {
                                tracing::error!(topic = %part.topic, partition = part.index, "offset lookup failed: {e}");
                                pr.error_code = codes::KAFKA_STORAGE_ERROR;
                            }
                        }
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    resp
}

/// (offset, timestamp, leader epoch) for a ListOffsets target; (-1, -1, -1) when none.
fn lookup(log: &PartitionLog, target: i64, committed: bool) -> std::io::Result<(i64, i64, i32)> {
    let epoch = log.leader_epoch();
    Ok(match target {
        LATEST if committed => (log.last_stable_offset(), -1, epoch),
        LATEST => (log.high_watermark(), -1, epoch),
        EARLIEST | EARLIEST_LOCAL => (log.log_start_offset(), -1, epoch),
        // No tiered storage: nothing is remote, nothing waits for an upload.
        LATEST_TIERED | EARLIEST_PENDING_UPLOAD => (-1, -1, -1),
        MAX_TIMESTAMP => match log.batch_with_max_timestamp()? {
            Some((h, plan)) => {
                let start = log.log_start_offset();
                let found = first_record(&h, &plan, |best, r| {
                    r.offset >= start && best.is_none_or(|(_, ts)| r.timestamp > ts)
                });
                let (offset, ts) = found.unwrap_or((h.base_offset.max(start), h.max_timestamp));
                (offset, ts, h.partition_leader_epoch)
            }
            None => (-1, -1, -1),
        },
        ts if ts >= 0 => match log.batch_for_timestamp(ts)? {
            Some((h, plan)) => {
                let start = log.log_start_offset();
                let found = first_record(&h, &plan, |best, r| {
                    best.is_none() && r.offset >= start && r.timestamp >= ts
                });
                let (offset, found_ts) =
                    found.unwrap_or((h.base_offset.max(start), h.max_timestamp));
                (offset, found_ts, h.partition_leader_epoch)
            }
            None => (-1, -1, -1),
        },
        _ => (-1, -1, -1),
    })
}

/// Scans the records of one batch, keeping the (offset, timestamp) that `better` prefers;
/// `None` if the batch cannot be read or decoded (the caller answers at batch granularity).
fn first_record(
    h: &odradek_protocol::records::BatchHeader,
    plan: &crate::log::ReadPlan,
    better: impl Fn(Option<(i64, i64)>, &odradek_protocol::records::Record) -> bool,
) -> Option<(i64, i64)> {
    let fail = |e: &dyn std::fmt::Display| {
        tracing::warn!(
            base_offset = h.base_offset,
            "answering at batch granularity: {e}"
        );
    };
    let bytes = plan.read().map_err(|e| fail(&e)).ok()?;
    let batch = odradek_protocol::records::RecordBatch { header: *h, bytes };
    let mut best = None;
    for r in batch.records().map_err(|e| fail(&e)).ok()? {
        let r = r.map_err(|e| fail(&e)).ok()?;
        if better(best, &r) {
            best = Some((r.offset, r.timestamp));
        }
    }
    best
}

pub fn offset_for_leader_epoch(
    ctx: &Ctx,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for t in req.topics {
        let denied = !ctx.allowed(op::DESCRIBE, resource::TOPIC, &t.topic);
        let topic = if denied {
            None
        } else {
            ctx.state.topics.get(&t.topic)
        };
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = t.topic;
        for p in t.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            e.leader_epoch = -1;
            e.end_offset = -1;
            match topic.as_ref().and_then(|t| t.partition(p.partition)) {
                None => e.error_code = unknown_or_denied(denied),
                Some(part) if let Some(code) = ctx.state.not_leader(&part.topic, p.partition) => {
                    e.error_code = code;
                }
                Some(part) => {
                    let log = part.log();
                    e.error_code = check_leader_epoch(p.current_leader_epoch, log.leader_epoch());
                    if e.error_code == codes::NONE {
                        let (epoch, end) = log.end_offset_for_epoch(p.leader_epoch);
                        e.leader_epoch = epoch;
                        e.end_offset = end;
                    }
                }
            }
            tr.partitions.push(e);
        }
        resp.topics.push(tr);
    }
    resp
}

pub fn delete_records(ctx: &Ctx, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut resp = DeleteRecordsResponse::default();
    for t in req.topics {
        let denied = !ctx.allowed(op::DELETE, resource::TOPIC, &t.name);
        let topic = if denied {
            None
        } else {
            ctx.state.topics.get(&t.name)
        };
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            pr.low_watermark = -1;
            match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                None => pr.error_code = unknown_or_denied(denied),
                // As Kafka: clients may not delete records of internal topics.
                Some(part) if is_internal(&part.topic) => {
                    pr.error_code = codes::INVALID_TOPIC_EXCEPTION;
                }
                Some(part) if let Some(code) = ctx.state.not_leader(&part.topic, part.index) => {
                    pr.error_code = code;
                }
                Some(part) => match part.log().delete_records_before(p.offset) {
                    Ok(low) => pr.low_watermark = low,
                    Err(ReadError::OutOfRange { .. }) => pr.error_code = codes::OFFSET_OUT_OF_RANGE,
                    Err(ReadError::Io(e)) => {
                        tracing::error!(topic = %part.topic, partition = part.index, "delete records failed: {e}");
                        pr.error_code = codes::KAFKA_STORAGE_ERROR;
                    }
                },
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    resp
}

/// A partition the handler cannot serve: not authorized, or unknown.
fn unknown_or_denied(denied: bool) -> i16 {
    if denied {
        codes::TOPIC_AUTHORIZATION_FAILED
    } else {
        codes::UNKNOWN_TOPIC_OR_PARTITION
    }
}
