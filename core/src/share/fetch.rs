//! Share sessions and the requests that use them. One session per broker: ShareFetch with epoch 0
//! opens it with the partitions to read, each later request (ShareFetch or ShareAcknowledge)
//! carries the next epoch (1, 2, ... wrapping to 1), names only partitions added and forgotten,
//! and may carry acknowledgements; epoch -1 closes it. A session the broker no longer knows is
//! opened again; acknowledgements lost that way come back after their lock times out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatch,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic,
};
use kafka_protocol::messages::share_fetch_response::PartitionData;
use kafka_protocol::messages::{GroupId, ShareAcknowledgeRequest, ShareFetchRequest};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::acks::{AcknowledgeType, Ready};
use super::membership::Assigned;
use super::{AcknowledgementMode, Inner, ShareRecord, lock};
use crate::error::{Error, Result};
use crate::records::RecordBatches;

const SHARE_SESSION_NOT_FOUND: i16 = 122;
const INVALID_SHARE_SESSION_EPOCH: i16 = 123;
/// Records per ShareFetch, as the Java client's `max.poll.records` default.
const MAX_RECORDS: i32 = 500;
const MAX_BYTES: i32 = 50 * 1024 * 1024;

/// A partition by topic id, with its name for the records.
type Key = (uuid::Uuid, i32);

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_broker: HashMap<i32, Session>,
}

#[derive(Debug, Default)]
struct Session {
    /// The epoch the next request carries (0: not open).
    epoch: i32,
    partitions: BTreeSet<Key>,
}

fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

/// What one ShareFetch to one broker carries.
#[derive(Default)]
struct Plan {
    want: BTreeMap<Key, String>,
    acks: Vec<Ready>,
}

fn group_id(inner: &Inner) -> Option<GroupId> {
    Some(GroupId(StrBytes::from_string(inner.group_id.clone())))
}

fn member_id(inner: &Inner) -> Option<StrBytes> {
    Some(StrBytes::from_string(inner.member.id.clone()))
}

/// The fill for records the user did not acknowledge when acknowledgements are sent.
fn implicit_fill(inner: &Inner) -> Option<AcknowledgeType> {
    match inner.mode {
        AcknowledgementMode::Implicit => Some(AcknowledgeType::Accept),
        AcknowledgementMode::Explicit => None,
    }
}

fn topic_id_of(inner: &Inner, topic: &str) -> Option<uuid::Uuid> {
    let meta = inner.cluster.metadata();
    meta.topics.get(topic).map(|t| uuid::Uuid::from_bytes(t.id))
}

pub(crate) async fn poll(inner: &Inner, timeout: Duration) -> Result<Vec<ShareRecord>> {
    if inner.member.is_closed() {
        return Err(Error::closed("the share consumer is closed"));
    }
    if inner.mode == AcknowledgementMode::Explicit {
        let waiting = lock(&inner.acks).unacknowledged();
        if !waiting.is_empty() {
            return Err(Error::invalid_argument(format!(
                "share.acknowledgement.mode=explicit: acknowledge every record of the previous \
                 poll first ({} waiting, e.g. {})",
                waiting.len(),
                waiting[0]
            )));
        }
    }
    let deadline = Instant::now() + timeout;
    let mut sessions = inner.sessions.lock().await;
    loop {
        let ready = lock(&inner.acks).take(implicit_fill(inner));
        let assignment = inner.member.assignment();
        if assignment.is_empty() && ready.is_empty() && sessions.by_broker.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            // Wait for the first assignment (re-checked now and then: a notification may race).
            let _ = tokio::time::timeout(
                left.min(Duration::from_millis(100)),
                inner.member.assigned.notified(),
            )
            .await;
            continue;
        }
        let plans = plan(inner, &assignment, ready, &sessions).await;
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(inner.max_wait);
        let requests: Vec<_> = plans
            .into_iter()
            .map(|(broker, plan)| {
                let session = sessions.by_broker.entry(broker).or_default();
                let request = fetch_request(inner, session, &plan, wait);
                (broker, plan.want, request)
            })
            .collect();
        let answers = futures::future::join_all(requests.into_iter().map(
            |(broker, names, request)| async move {
                let answer = inner.cluster.request_to(broker, &request).await;
                (broker, names, answer)
            },
        ))
        .await;
        let mut records = Vec::new();
        for (broker, names, answer) in answers {
            let response = match answer {
                Ok(r) => r,
                Err(error) => {
                    // The session's state is unknown now: open a new one next time.
                    sessions.by_broker.remove(&broker);
                    if !error.is_retriable() {
                        return Err(error);
                    }
                    tracing::warn!(broker, %error, "ShareFetch failed; retrying");
                    continue;
                }
            };
            if let Some(error) =
                Error::from_code_msg(response.error_code, response.error_message.as_deref())
            {
                sessions.by_broker.remove(&broker);
                let session_lost = matches!(
                    response.error_code,
                    SHARE_SESSION_NOT_FOUND | INVALID_SHARE_SESSION_EPOCH
                );
                if !session_lost && !error.is_retriable() {
                    return Err(error.with_broker(broker));
                }
                tracing::warn!(broker, %error, "ShareFetch refused; opening a new share session");
                continue;
            }
            if let Some(s) = sessions.by_broker.get_mut(&broker) {
                s.epoch = next_epoch(s.epoch);
            }
            for topic in response.responses {
                for part in topic.partitions {
                    let key = (topic.topic_id, part.partition_index);
                    let name = names.get(&key).cloned().or_else(|| {
                        let meta = inner.cluster.metadata();
                        meta.topics
                            .values()
                            .find(|t| t.id == *topic.topic_id.as_bytes())
                            .map(|t| t.name.clone())
                    });
                    let Some(name) = name else { continue };
                    take_partition(inner, &name, broker, part, &mut records)?;
                }
            }
        }
        if !records.is_empty() || Instant::now() >= deadline {
            return Ok(records);
        }
    }
}

/// Groups the assignment and the acknowledgements by leader; a broker whose session holds
/// partitions no longer wanted gets a request too (to forget them).
async fn plan(
    inner: &Inner,
    assignment: &[Assigned],
    ready: Vec<Ready>,
    sessions: &Sessions,
) -> BTreeMap<i32, Plan> {
    let mut plans: BTreeMap<i32, Plan> = BTreeMap::new();
    let mut meta = inner.cluster.metadata();
    if assignment
        .iter()
        .any(|a| meta.leader(&a.topic, a.partition).is_none())
    {
        match inner.cluster.refresh(&[]).await {
            Ok(m) => meta = m,
            Err(error) => tracing::warn!(%error, "metadata refresh for the share fetch failed"),
        }
    }
    for a in assignment {
        if let Some(leader) = meta.leader(&a.topic, a.partition) {
            plans
                .entry(leader.id)
                .or_default()
                .want
                .insert((a.topic_id, a.partition), a.topic.clone());
        }
    }
    for r in ready {
        plans.entry(r.leader).or_default().acks.push(r);
    }
    for (broker, session) in &sessions.by_broker {
        if session.epoch > 0 {
            plans.entry(*broker).or_default();
        }
    }
    plans
}

fn fetch_request(
    inner: &Inner,
    session: &mut Session,
    plan: &Plan,
    wait: Duration,
) -> ShareFetchRequest {
    let mut topics: BTreeMap<uuid::Uuid, Vec<FetchPartition>> = BTreeMap::new();
    let mut forgotten: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
    if session.epoch == 0 {
        session.partitions = plan.want.keys().copied().collect();
        for &(id, p) in &session.partitions {
            topics
                .entry(id)
                .or_default()
                .push(FetchPartition::default().with_partition_index(p));
        }
        if !plan.acks.is_empty() {
            tracing::warn!(
                "acknowledgements for a share session that is gone are dropped; \
                 those records are delivered again once their locks time out"
            );
        }
    } else {
        let mut acked = BTreeMap::new();
        for r in &plan.acks {
            let Some(id) = topic_id_of(inner, &r.topic) else {
                continue;
            };
            acked.insert((id, r.partition), r);
        }
        let wanted: BTreeSet<Key> = plan.want.keys().copied().collect();
        for &key in wanted.union(&acked.keys().copied().collect()) {
            if session.partitions.contains(&key) && !acked.contains_key(&key) {
                continue;
            }
            let batches = acked
                .get(&key)
                .map(|r| {
                    r.runs
                        .iter()
                        .map(|&(first, last, kind)| {
                            AcknowledgementBatch::default()
                                .with_first_offset(first)
                                .with_last_offset(last)
                                .with_acknowledge_types(vec![kind])
                        })
                        .collect()
                })
                .unwrap_or_default();
            topics.entry(key.0).or_default().push(
                FetchPartition::default()
                    .with_partition_index(key.1)
                    .with_acknowledgement_batches(batches),
            );
        }
        for &key in &session.partitions {
            if !wanted.contains(&key) && !acked.contains_key(&key) {
                forgotten.entry(key.0).or_default().push(key.1);
            }
        }
        session.partitions = wanted
            .union(&acked.keys().copied().collect())
            .copied()
            .collect();
    }
    ShareFetchRequest::default()
        .with_group_id(group_id(inner))
        .with_member_id(member_id(inner))
        .with_share_session_epoch(session.epoch)
        .with_max_wait_ms(wait.as_millis().min(i32::MAX as u128) as i32)
        .with_min_bytes(1)
        .with_max_bytes(MAX_BYTES)
        .with_max_records(MAX_RECORDS)
        .with_batch_size(MAX_RECORDS)
        .with_topics(
            topics
                .into_iter()
                .map(|(id, partitions)| {
                    FetchTopic::default()
                        .with_topic_id(id)
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            forgotten
                .into_iter()
                .map(|(id, partitions)| {
                    ForgottenTopic::default()
                        .with_topic_id(id)
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// The acquired records of one partition answer: handed to the user, remembered for their
/// acknowledgement.
fn take_partition(
    inner: &Inner,
    topic: &str,
    broker: i32,
    part: PartitionData,
    out: &mut Vec<ShareRecord>,
) -> Result<()> {
    let partition = part.partition_index;
    if let Some(error) = Error::from_code_msg(
        part.acknowledge_error_code,
        part.acknowledge_error_message.as_deref(),
    ) {
        tracing::warn!(topic, partition, %error, "share acknowledgement refused");
    }
    if let Some(error) = Error::from_code_msg(part.error_code, part.error_message.as_deref()) {
        // A moved leader shows in the next metadata refresh, which `plan` asks for when a leader
        // is unknown; the partition is simply skipped until then.
        tracing::warn!(topic, partition, %error, "share fetch of a partition failed");
        return Ok(());
    }
    if part.acquired_records.is_empty() {
        return Ok(());
    }
    let delivery = |offset: i64| {
        part.acquired_records
            .iter()
            .find(|a| a.first_offset <= offset && offset <= a.last_offset)
            .map(|a| a.delivery_count)
    };
    let mut handed = Vec::new();
    if let Some(bytes) = part.records.clone() {
        for batch in RecordBatches::new(bytes) {
            let batch = batch.map_err(|e| {
                Error::invalid_argument(format!("share fetch of {topic}-{partition}: {e}"))
            })?;
            if batch.header.is_control() {
                continue;
            }
            for record in batch.records().map_err(|e| {
                Error::invalid_argument(format!("share fetch of {topic}-{partition}: {e}"))
            })? {
                let record = record.map_err(|e| {
                    Error::invalid_argument(format!("share fetch of {topic}-{partition}: {e}"))
                })?;
                let Some(delivery_count) = delivery(record.offset) else {
                    continue;
                };
                handed.push(record.offset);
                out.push(ShareRecord {
                    topic: topic.to_owned(),
                    partition,
                    offset: record.offset,
                    timestamp: record.timestamp,
                    key: record.key,
                    value: record.value,
                    headers: record.headers,
                    delivery_count,
                });
            }
        }
    }
    let acquired: Vec<i64> = part
        .acquired_records
        .iter()
        .flat_map(|a| a.first_offset..=a.last_offset)
        .collect();
    lock(&inner.acks).acquired(topic, partition, broker, &acquired, &handed);
    Ok(())
}

/// Sends the pending acknowledgements with ShareAcknowledge. `close`: records not acknowledged
/// are released and every share session is closed (epoch -1).
pub(crate) async fn commit(inner: &Inner, close: bool) -> Result<()> {
    let mut sessions = inner.sessions.lock().await;
    let fill = if close {
        Some(AcknowledgeType::Release)
    } else {
        implicit_fill(inner)
    };
    let ready = lock(&inner.acks).take(fill);
    let mut by_broker: BTreeMap<i32, Vec<Ready>> = BTreeMap::new();
    for r in ready {
        by_broker.entry(r.leader).or_default().push(r);
    }
    if close {
        for (&broker, s) in &sessions.by_broker {
            if s.epoch > 0 {
                by_broker.entry(broker).or_default();
            }
        }
    }
    let mut first_error = None;
    for (broker, acks) in by_broker {
        let Some(session) = sessions.by_broker.get_mut(&broker).filter(|s| s.epoch > 0) else {
            tracing::warn!(
                broker,
                "no share session for these acknowledgements; the records are delivered again \
                 once their locks time out"
            );
            continue;
        };
        let epoch = if close { -1 } else { session.epoch };
        let request = ack_request(inner, epoch, &acks);
        match inner.cluster.request_to(broker, &request).await {
            Ok(response) => {
                if close {
                    sessions.by_broker.remove(&broker);
                } else {
                    session.epoch = next_epoch(session.epoch);
                }
                let top =
                    Error::from_code_msg(response.error_code, response.error_message.as_deref());
                if let Some(e) = top {
                    sessions.by_broker.remove(&broker);
                    first_error.get_or_insert(e.with_broker(broker));
                }
                for topic in &response.responses {
                    for p in &topic.partitions {
                        if let Some(e) =
                            Error::from_code_msg(p.error_code, p.error_message.as_deref())
                        {
                            let name = acks
                                .iter()
                                .find(|r| {
                                    r.partition == p.partition_index
                                        && topic_id_of(inner, &r.topic) == Some(topic.topic_id)
                                })
                                .map(|r| r.topic.clone())
                                .unwrap_or_else(|| topic.topic_id.to_string());
                            first_error.get_or_insert(e.with_partition(&name, p.partition_index));
                        }
                    }
                }
            }
            Err(e) => {
                sessions.by_broker.remove(&broker);
                first_error.get_or_insert(e);
            }
        }
    }
    if close {
        sessions.by_broker.clear();
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn ack_request(inner: &Inner, epoch: i32, acks: &[Ready]) -> ShareAcknowledgeRequest {
    let mut topics: BTreeMap<uuid::Uuid, Vec<AcknowledgePartition>> = BTreeMap::new();
    for r in acks {
        let Some(id) = topic_id_of(inner, &r.topic) else {
            continue;
        };
        topics.entry(id).or_default().push(
            AcknowledgePartition::default()
                .with_partition_index(r.partition)
                .with_acknowledgement_batches(
                    r.runs
                        .iter()
                        .map(|&(first, last, kind)| {
                            AckBatch::default()
                                .with_first_offset(first)
                                .with_last_offset(last)
                                .with_acknowledge_types(vec![kind])
                        })
                        .collect(),
                ),
        );
    }
    ShareAcknowledgeRequest::default()
        .with_group_id(group_id(inner))
        .with_member_id(member_id(inner))
        .with_share_session_epoch(epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(id, partitions)| {
                    AcknowledgeTopic::default()
                        .with_topic_id(id)
                        .with_partitions(partitions)
                })
                .collect(),
        )
}
