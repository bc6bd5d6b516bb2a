//! The transaction APIs: wire structs translated for the coordinator in `crate::txn`.
//! AddPartitionsToTxn (v0-3 one transaction, v4+ batched), AddOffsetsToTxn, EndTxn,
//! TxnOffsetCommit, WriteTxnMarkers, DescribeTransactions, ListTransactions. Answers that
//! wrote markers wait for them to become visible (`Written::settle`).

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedState;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    ResponseKind, TopicName, TransactionalId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
    WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};

use super::{Ctx, Outcome, str_bytes};
use crate::group::offsets::Committed;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::time::now_ms;
use crate::txn::{PartitionCodes, Written, codes};

/// TRANSACTIONAL_ID_NOT_FOUND (DescribeTransactions of an unknown id).
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;

fn topics_of(topics: Vec<AddPartitionsToTxnTopic>) -> Vec<(String, i32)> {
    topics
        .into_iter()
        .flat_map(|t| {
            let name = t.name.to_string();
            t.partitions.into_iter().map(move |p| (name.clone(), p))
        })
        .collect()
}

/// Groups (topic, partition, code) results by topic, keeping the request's order.
fn by_topic<T>(
    results: Vec<((String, i32), i16)>,
    mut make: impl FnMut(i32, i16) -> T,
) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for ((topic, p), code) in results {
        match out.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, v)) => v.push(make(p, code)),
            None => out.push((topic, vec![make(p, code)])),
        }
    }
    out
}

fn add_results(results: Vec<((String, i32), i16)>) -> Vec<AddPartitionsToTxnTopicResult> {
    by_topic(results, |p, code| {
        let mut r = AddPartitionsToTxnPartitionResult::default();
        r.partition_index = p;
        r.partition_error_code = code;
        r
    })
    .into_iter()
    .map(|(topic, parts)| {
        let mut t = AddPartitionsToTxnTopicResult::default();
        t.name = TopicName(str_bytes(topic));
        t.results_by_partition = parts;
        t
    })
    .collect()
}

/// Kafka's checks of AddPartitionsToTxn: WRITE on the transactional id, WRITE on each topic
/// (a refused topic fails its partitions, the others are not attempted).
fn refuse_add(ctx: &Ctx, id: &str, parts: &[(String, i32)]) -> Option<PartitionCodes> {
    if !ctx.allowed(op::WRITE, resource::TRANSACTIONAL_ID, id) {
        let code = codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return Some(parts.iter().map(|tp| (tp.clone(), code)).collect());
    }
    let refused: Vec<bool> = parts
        .iter()
        .map(|(t, _)| !ctx.allowed(op::WRITE, resource::TOPIC, t))
        .collect();
    refused.iter().any(|r| *r).then(|| {
        parts
            .iter()
            .zip(refused)
            .map(|(tp, r)| {
                let code = if r {
                    codes::TOPIC_AUTHORIZATION_FAILED
                } else {
                    codes::OPERATION_NOT_ATTEMPTED
                };
                (tp.clone(), code)
            })
            .collect()
    })
}

pub fn add_partitions_to_txn(
    ctx: &Ctx,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let s = &ctx.state;
    let now = now_ms();
    let mut resp = AddPartitionsToTxnResponse::default();
    let run = |id: &str, pid: i64, epoch: i16, parts: Vec<(String, i32)>, verify: bool| {
        if let Some(refused) = refuse_add(ctx, id, &parts) {
            return refused;
        }
        match s
            .txns
            .add_partitions(s, id, (pid, epoch), parts.clone(), verify, now)
        {
            Ok(r) => r,
            Err(code) => parts.into_iter().map(|tp| (tp, code)).collect(),
        }
    };
    if version < 4 {
        let parts = topics_of(req.v3_and_below_topics);
        resp.results_by_topic_v3_and_below = add_results(run(
            &req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            parts,
            false,
        ));
        return resp;
    }
    for t in req.transactions {
        let parts = topics_of(t.topics);
        let mut r = AddPartitionsToTxnResult::default();
        let mut results = run(
            &t.transactional_id,
            t.producer_id.0,
            t.producer_epoch,
            parts,
            t.verify_only,
        );
        if version >= 5 && t.verify_only {
            // v5 (KIP-890): a partition outside the transaction makes it abortable.
            for (_, code) in &mut results {
                if *code == codes::INVALID_TXN_STATE {
                    *code = codes::TRANSACTION_ABORTABLE;
                }
            }
        }
        r.topic_results = add_results(results);
        r.transactional_id = t.transactional_id;
        resp.results_by_transaction.push(r);
    }
    resp
}

pub fn add_offsets_to_txn(ctx: &Ctx, req: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let mut resp = AddOffsetsToTxnResponse::default();
    if !ctx.allowed(op::WRITE, resource::TRANSACTIONAL_ID, &req.transactional_id) {
        resp.error_code = codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return resp;
    }
    if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        resp.error_code = codes::GROUP_AUTHORIZATION_FAILED;
        return resp;
    }
    resp.error_code = ctx.state.txns.add_offsets(
        &req.transactional_id,
        (req.producer_id.0, req.producer_epoch),
        &req.group_id,
        now_ms(),
    );
    resp
}

/// Answers once the markers are visible; an fsync failure is a storage error.
fn after_markers(
    ctx: &Ctx,
    written: Written,
    respond: impl FnOnce(Option<i16>) -> ResponseKind + Send + 'static,
) -> Outcome {
    let fsync = ctx.state.fsync;
    Outcome::Later(Box::pin(async move {
        let failed = match written.settle(fsync).await {
            Ok(()) => None,
            Err(e) => {
                tracing::error!("flushing transaction markers failed: {e}");
                Some(codes::KAFKA_STORAGE_ERROR)
            }
        };
        respond(failed)
    }))
}

/// Whether a request of a transaction-version-2 version (EndTxn v5, TxnOffsetCommit v5,
/// Produce v12) gets version 2's semantics: only while the feature is finalized at 2.
pub fn version2(ctx: &Ctx, request_version: i16, first_v2_version: i16) -> bool {
    request_version >= first_v2_version && ctx.state.props().transaction_version() >= 2
}

pub fn end_txn(ctx: &Ctx, version: i16, req: EndTxnRequest) -> Outcome {
    let s = &ctx.state;
    let producer = (req.producer_id.0, req.producer_epoch);
    if !ctx.allowed(op::WRITE, resource::TRANSACTIONAL_ID, &req.transactional_id) {
        let mut resp = EndTxnResponse::default();
        resp.error_code = codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        resp.producer_id = ProducerId(-1);
        resp.producer_epoch = -1;
        return Outcome::Respond(Box::new(ResponseKind::EndTxn(resp)));
    }
    let (code, next, written) = s.txns.end_txn(
        s,
        &req.transactional_id,
        producer,
        req.committed,
        version2(ctx, version, 5),
        now_ms(),
    );
    after_markers(ctx, written, move |failed| {
        let mut resp = EndTxnResponse::default();
        resp.error_code = failed.unwrap_or(code);
        // v5 returns the producer id and epoch to go on with (bumped under version 2).
        let (pid, epoch) = next.filter(|_| failed.is_none()).unwrap_or((-1, -1));
        resp.producer_id = ProducerId(pid);
        resp.producer_epoch = epoch;
        ResponseKind::EndTxn(resp)
    })
}

pub fn txn_offset_commit(
    ctx: &Ctx,
    version: i16,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let s = &ctx.state;
    let now = now_ms();
    let offsets: Vec<(String, i32, Committed)> = req
        .topics
        .into_iter()
        .flat_map(|t| {
            let topic = t.name.to_string();
            t.partitions.into_iter().map(move |p| {
                (
                    topic.clone(),
                    p.partition_index,
                    Committed {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.map(|m| m.to_string()),
                        commit_timestamp: now,
                    },
                )
            })
        })
        .collect();
    let refused = if !ctx.allowed(op::WRITE, resource::TRANSACTIONAL_ID, &req.transactional_id) {
        Some(codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    } else if !ctx.allowed(op::READ, resource::GROUP, &req.group_id) {
        Some(codes::GROUP_AUTHORIZATION_FAILED)
    } else {
        None
    };
    // Topics the principal may not read are refused one by one (Kafka's TOPIC READ check).
    let (offsets, unreadable): (Vec<_>, Vec<_>) = offsets
        .into_iter()
        .partition(|(t, _, _)| refused.is_some() || ctx.allowed(op::READ, resource::TOPIC, t));
    let mut results = match refused {
        Some(code) => offsets.into_iter().map(|(t, p, _)| (t, p, code)).collect(),
        None => s.txns.txn_offset_commit(
            s,
            &req.transactional_id,
            (req.producer_id.0, req.producer_epoch),
            &req.group_id,
            (
                &req.member_id,
                req.group_instance_id.as_deref(),
                req.generation_id,
            ),
            offsets,
            version2(ctx, version, 5),
            now,
        ),
    };
    results.extend(
        unreadable
            .into_iter()
            .map(|(t, p, _)| (t, p, codes::TOPIC_AUTHORIZATION_FAILED)),
    );
    let mut resp = TxnOffsetCommitResponse::default();
    let results = results.into_iter().map(|(t, p, c)| ((t, p), c)).collect();
    resp.topics = by_topic(results, |p, code| {
        let mut r = TxnOffsetCommitResponsePartition::default();
        r.partition_index = p;
        r.error_code = code;
        r
    })
    .into_iter()
    .map(|(topic, partitions)| {
        let mut t = TxnOffsetCommitResponseTopic::default();
        t.name = TopicName(str_bytes(topic));
        t.partitions = partitions;
        t
    })
    .collect();
    resp
}

pub fn write_txn_markers(ctx: &Ctx, req: WriteTxnMarkersRequest) -> Outcome {
    let s = &ctx.state;
    let now = now_ms();
    let mut all = Written::default();
    let mut markers = Vec::new();
    // An inter-broker API: CLUSTER_ACTION on the cluster.
    let allowed = ctx.allowed(op::CLUSTER_ACTION, resource::CLUSTER, CLUSTER_NAME);
    for m in req.markers {
        let parts = m
            .topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name.to_string();
                t.partition_indexes
                    .into_iter()
                    .map(move |p| (name.clone(), p))
            })
            .collect();
        let (results, written) = if allowed {
            s.txns.write_external_marker(
                s,
                (m.producer_id.0, m.producer_epoch),
                m.transaction_result,
                m.coordinator_epoch,
                parts,
                now,
            )
        } else {
            let code = codes::CLUSTER_AUTHORIZATION_FAILED;
            let refused = parts.into_iter().map(|tp: (String, i32)| (tp, code));
            (refused.collect(), Written::default())
        };
        all.extend(written);
        let mut r = WritableTxnMarkerResult::default();
        r.producer_id = m.producer_id;
        r.topics = by_topic(results, |p, code| {
            let mut r = WritableTxnMarkerPartitionResult::default();
            r.partition_index = p;
            r.error_code = code;
            r
        })
        .into_iter()
        .map(|(topic, partitions)| {
            let mut t = WritableTxnMarkerTopicResult::default();
            t.name = TopicName(str_bytes(topic));
            t.partitions = partitions;
            t
        })
        .collect();
        markers.push(r);
    }
    after_markers(ctx, all, move |failed| {
        let mut resp = WriteTxnMarkersResponse::default();
        if let Some(code) = failed {
            for m in &mut markers {
                for t in &mut m.topics {
                    for p in &mut t.partitions {
                        if p.error_code == codes::NONE {
                            p.error_code = code;
                        }
                    }
                }
            }
        }
        resp.markers = markers;
        ResponseKind::WriteTxnMarkers(resp)
    })
}

pub fn describe_transactions(
    ctx: &Ctx,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let mut resp = DescribeTransactionsResponse::default();
    for id in req.transactional_ids {
        let mut st = TransactionState::default();
        let known = if ctx.allowed(op::DESCRIBE, resource::TRANSACTIONAL_ID, &id) {
            ctx.state
                .txns
                .describe(&id)
                .ok_or(TRANSACTIONAL_ID_NOT_FOUND)
        } else {
            Err(codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        };
        match known {
            Err(code) => {
                st.error_code = code;
                st.producer_id = ProducerId(-1);
                st.producer_epoch = -1;
                st.transaction_state = str_bytes("Dead");
                st.transaction_start_time_ms = -1;
            }
            Ok(m) => {
                st.transaction_state = str_bytes(m.state.name());
                st.transaction_timeout_ms = m.timeout_ms;
                st.transaction_start_time_ms = m.start_ms;
                st.producer_id = ProducerId(m.producer_id);
                st.producer_epoch = m.epoch;
                let parts = m.partitions.into_iter().map(|tp| (tp, 0)).collect();
                st.topics = by_topic(parts, |p, _| p)
                    .into_iter()
                    .map(|(topic, partitions)| {
                        let mut t = TopicData::default();
                        t.topic = TopicName(str_bytes(topic));
                        t.partitions = partitions;
                        t
                    })
                    .collect();
            }
        }
        st.transactional_id = id;
        resp.transaction_states.push(st);
    }
    resp
}

pub fn list_transactions(
    ctx: &Ctx,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    const STATES: [&str; 6] = [
        "Empty",
        "Ongoing",
        "PrepareCommit",
        "PrepareAbort",
        "CompleteCommit",
        "CompleteAbort",
    ];
    let mut resp = ListTransactionsResponse::default();
    let filters: Vec<String> = req.state_filters.iter().map(|s| s.to_string()).collect();
    resp.unknown_state_filters = req
        .state_filters
        .iter()
        .filter(|f| !STATES.contains(&f.as_str()))
        .cloned()
        .collect();
    let pattern = match req
        .transactional_id_pattern
        .as_deref()
        .filter(|_| version >= 2)
    {
        Some(p) if !p.is_empty() => match regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(r) => Some(r),
            Err(_) => {
                resp.error_code = 130; // INVALID_REGULAR_EXPRESSION
                return resp;
            }
        },
        _ => None,
    };
    let now = now_ms();
    let mut listed: Vec<ListedState> = ctx
        .state
        .txns
        .list()
        .into_iter()
        .filter(|v| filters.is_empty() || filters.iter().any(|f| f == v.meta.state.name()))
        .filter(|v| {
            req.producer_id_filters.is_empty()
                || req
                    .producer_id_filters
                    .iter()
                    .any(|p| p.0 == v.meta.producer_id)
        })
        // v1: only transactions running longer than the filter (-1: no filter).
        .filter(|v| {
            req.duration_filter < 0
                || version < 1
                || (v.meta.start_ms >= 0 && now - v.meta.start_ms > req.duration_filter)
        })
        .filter(|v| {
            pattern
                .as_ref()
                .is_none_or(|r| r.is_match(&v.transactional_id))
        })
        // Only the transactions the principal may describe.
        .filter(|v| {
            ctx.allowed(
                op::DESCRIBE,
                resource::TRANSACTIONAL_ID,
                &v.transactional_id,
            )
        })
        .map(|v| {
            let mut st = ListedState::default();
            st.transactional_id = TransactionalId(str_bytes(v.transactional_id));
            st.producer_id = ProducerId(v.meta.producer_id);
            st.transaction_state = str_bytes(v.meta.state.name());
            st
        })
        .collect();
    listed.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
    resp.transaction_states = listed;
    resp
}
