//! Fetch: serve stored batches as byte ranges of segment files, from the batch that holds the
//! requested offset, within the partition and response byte limits (the first batch of the
//! response is always whole, as KIP-74 requires). When fewer than `min_bytes` are available
//! the request waits, up to `max_wait_ms`, for any of its partitions to grow.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ProducerId, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use uuid::Uuid;

use odradek_cluster::replication::diverging_epoch;

use super::{Ctx, Outcome, check_leader_epoch, cluster_view, codes, str_bytes};
use crate::cluster_mode::ClusterNode;
use crate::cluster_mode::delayed_produce::NOT_LEADER_OR_FOLLOWER;
use crate::cluster_mode::leaders::{self, FollowerRefused};
use crate::fetch_session::{
    Answer, FETCH_SESSION_ID_NOT_FOUND, FINAL_EPOCH, FetchContext, INITIAL_EPOCH,
    INVALID_SESSION_ID, PartitionKey, Requested, Sent, SessionRequest, TopicKey,
};
use crate::log::ReadError;
use crate::partition::Partition;
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::state::BrokerState;

/// One requested partition, resolved.
struct Wanted {
    topic_slot: usize,
    /// The partition as the fetch session knows it.
    key: PartitionKey,
    partition: Option<Arc<Partition>>,
    missing_code: i16,
    index: i32,
    fetch_offset: i64,
    max_bytes: usize,
    current_leader_epoch: i32,
    /// A follower's epoch of its last fetched batch (Fetch v12+; -1 otherwise).
    last_fetched_epoch: i32,
    /// With NOT_LEADER_OR_FOLLOWER (Fetch v12+): the leader's id and epoch.
    current_leader: Option<(i32, i32)>,
}

impl Wanted {
    fn requested(&self) -> Requested {
        Requested {
            fetch_offset: self.fetch_offset,
            max_bytes: self.max_bytes.min(i32::MAX as usize) as i32,
            current_leader_epoch: self.current_leader_epoch,
            last_fetched_epoch: self.last_fetched_epoch,
        }
    }
}

/// A follower's Fetch (cluster mode, a replica id set): served past the high watermark, and
/// its position counts for the ISR and the high watermark.
#[derive(Clone)]
struct Follower {
    id: u64,
    cluster: Arc<ClusterNode>,
}

/// How the response is finished: as asked (full, maybe creating a fetch session), or as an
/// incremental fetch of a session (only partitions with news).
struct Finish {
    state: Arc<BrokerState>,
    principal: Arc<str>,
    uses_topic_ids: bool,
    context: FetchContext,
}

/// The partitions a request names, with what it asks of each (-1 for fields its version lacks).
fn requested_partitions(version: i16, req: &mut FetchRequest) -> Vec<(PartitionKey, Requested)> {
    let mut out = Vec::new();
    for ft in std::mem::take(&mut req.topics) {
        let topic = topic_key(version, ft.topic.0, ft.topic_id);
        for fp in ft.partitions {
            out.push((
                (topic.clone(), fp.partition),
                Requested {
                    fetch_offset: fp.fetch_offset,
                    max_bytes: fp.partition_max_bytes.max(0),
                    current_leader_epoch: if version >= 9 {
                        fp.current_leader_epoch
                    } else {
                        -1
                    },
                    last_fetched_epoch: if version >= 12 {
                        fp.last_fetched_epoch
                    } else {
                        -1
                    },
                },
            ));
        }
    }
    out
}

fn topic_key(version: i16, name: StrBytes, id: Uuid) -> TopicKey {
    if version >= 13 {
        TopicKey::Id(id)
    } else {
        TopicKey::Name(name)
    }
}

pub fn handle(ctx: &Ctx, version: i16, mut req: FetchRequest) -> Outcome {
    let mut resp = FetchResponse::default();
    let state = &ctx.state;
    let replica_id = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let follower = match (&state.cluster, u64::try_from(replica_id)) {
        (Some(cluster), Ok(id)) => {
            // Only brokers replicate (Kafka's CLUSTER_ACTION on the cluster).
            if !ctx.allowed(op::CLUSTER_ACTION, resource::CLUSTER, CLUSTER_NAME) {
                resp.error_code = codes::CLUSTER_AUTHORIZATION_FAILED;
                return Outcome::Respond(Box::new(ResponseKind::Fetch(resp)));
            }
            Some(Follower {
                id,
                cluster: cluster.clone(),
            })
        }
        _ => None,
    };
    let uses_topic_ids = version >= 13;
    let mut requested = requested_partitions(version, &mut req);
    let incremental = req.session_epoch != INITIAL_EPOCH && req.session_epoch != FINAL_EPOCH;
    // Fetch sessions are for consumers (v7+); a follower replica keeps full fetches, so an
    // incremental one from it names a session that cannot exist.
    let context = if version < 7 || (follower.is_some() && !incremental) {
        FetchContext::Sessionless
    } else if follower.is_some() {
        FetchContext::Error(FETCH_SESSION_ID_NOT_FOUND)
    } else {
        let forgotten = std::mem::take(&mut req.forgotten_topics_data)
            .into_iter()
            .flat_map(|ft| {
                let topic = topic_key(version, ft.topic.0, ft.topic_id);
                ft.partitions.into_iter().map(move |p| (topic.clone(), p))
            })
            .collect();
        // Only an incremental fetch updates the session with what it names; a full one is
        // read as named.
        let request = SessionRequest {
            session_id: req.session_id,
            epoch: req.session_epoch,
            requested: if incremental {
                std::mem::take(&mut requested)
            } else {
                Vec::new()
            },
            forgotten,
        };
        state.fetch_sessions.context(
            &ctx.principal,
            uses_topic_ids,
            request,
            crate::time::now_ms(),
        )
    };
    let to_read = match &context {
        FetchContext::Error(code) => {
            resp.error_code = *code;
            return Outcome::Respond(Box::new(ResponseKind::Fetch(resp)));
        }
        FetchContext::Incremental { partitions, .. } => partitions.clone(),
        FetchContext::Full | FetchContext::Sessionless => requested,
    };
    let finish = Finish {
        state: state.clone(),
        principal: ctx.principal.clone(),
        uses_topic_ids,
        context,
    };
    let mut wanted = Vec::with_capacity(to_read.len());
    let mut topics = Vec::new();
    let mut slots: HashMap<TopicKey, usize> = HashMap::new();
    let mut slot_keys: Vec<TopicKey> = Vec::new();
    let mut resolved: Vec<ResolvedTopic> = Vec::new();
    let mut last_slot: Option<usize> = None;
    for ((topic_key, partition), asked) in to_read {
        // Partitions mostly come topic by topic: the previous one's slot, else the map.
        let same_as_last = last_slot.filter(|i| slot_keys[*i] == topic_key);
        let slot = match same_as_last.or_else(|| slots.get(&topic_key).copied()) {
            Some(slot) => slot,
            None => {
                let slot = topics.len();
                let mut tr = FetchableTopicResponse::default();
                match &topic_key {
                    TopicKey::Name(name) => tr.topic = TopicName(name.clone()),
                    TopicKey::Id(id) => tr.topic_id = *id,
                }
                topics.push(tr);
                resolved.push(resolve_topic(ctx, version, &topic_key));
                slots.insert(topic_key.clone(), slot);
                slot_keys.push(topic_key.clone());
                slot
            }
        };
        last_slot = Some(slot);
        let rt = &resolved[slot];
        let (topic, remote, name, denied) = (&rt.topic, &rt.remote, &rt.name, rt.denied);
        let not_leader = match topic {
            Some(t) => ctx.state.not_leader(&t.name, partition),
            None if remote.is_some() && cluster_view::known_partition(ctx, name, partition) => {
                Some(NOT_LEADER_OR_FOLLOWER)
            }
            None => None,
        };
        let current_leader = match not_leader {
            Some(_) if version >= 12 => cluster_view::current_leader(ctx, name, partition),
            _ => None,
        };
        if let Some((leader, _)) = current_leader.as_ref().filter(|_| version >= 16)
            && !resp.node_endpoints.iter().any(|e| e.node_id.0 == leader.id)
        {
            let mut e = NodeEndpoint::default();
            e.node_id = BrokerId(leader.id);
            e.host = str_bytes(leader.host.clone());
            e.port = leader.port;
            e.rack = leader.rack.clone().map(str_bytes);
            resp.node_endpoints.push(e);
        }
        let missing_code = if denied {
            codes::TOPIC_AUTHORIZATION_FAILED
        } else if let Some(code) = not_leader {
            code
        } else if version >= 13 && topic.is_none() {
            codes::UNKNOWN_TOPIC_ID
        } else {
            codes::UNKNOWN_TOPIC_OR_PARTITION
        };
        wanted.push(Wanted {
            topic_slot: slot,
            key: (topic_key, partition),
            partition: topic
                .as_ref()
                .filter(|_| not_leader.is_none())
                .and_then(|t| t.partition(partition)),
            missing_code,
            index: partition,
            fetch_offset: asked.fetch_offset,
            max_bytes: asked.max_bytes.max(0) as usize,
            current_leader_epoch: asked.current_leader_epoch,
            last_fetched_epoch: asked.last_fetched_epoch,
            current_leader: current_leader.map(|(l, epoch)| (l.id, epoch)),
        });
    }
    let max_bytes = if version >= 3 {
        req.max_bytes.max(0) as usize
    } else {
        usize::MAX
    };
    let min_bytes = req.min_bytes.max(0) as usize;
    let max_wait = Duration::from_millis(req.max_wait_ms.max(0) as u64);

    let committed = req.isolation_level == 1;
    let (data, total, any_error) = read_all(&wanted, max_bytes, committed, follower.as_ref());
    if total >= min_bytes || any_error || max_wait.is_zero() || wanted.is_empty() {
        return Outcome::Respond(Box::new(ResponseKind::Fetch(assemble(
            resp, topics, &wanted, data, &finish,
        ))));
    }
    let mut shutdown = ctx.shutdown.clone();
    Outcome::Later(Box::pin(async move {
        let deadline = Instant::now() + max_wait;
        loop {
            let parts: Vec<&Partition> = wanted
                .iter()
                .filter_map(|w| w.partition.as_deref())
                .collect();
            let mut waits: Vec<_> = parts
                .iter()
                .map(|p| Box::pin(p.data_arrived.notified()))
                .collect();
            for w in &mut waits {
                w.as_mut().enable();
            }
            let (data, total, any_error) =
                read_all(&wanted, max_bytes, committed, follower.as_ref());
            if total >= min_bytes || any_error || Instant::now() >= deadline || *shutdown.borrow() {
                return ResponseKind::Fetch(assemble(resp, topics, &wanted, data, &finish));
            }
            let any = std::future::poll_fn(|cx| {
                for w in waits.iter_mut() {
                    if w.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending
            });
            tokio::select! {
                _ = any => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = shutdown.changed() => {}
            }
        }
    }) as Pin<Box<dyn Future<Output = ResponseKind> + Send>>)
}

/// A requested topic, looked up once per request: ours, or (cluster mode) known only to the
/// metadata image as `remote`; `denied` when the principal may not read it.
struct ResolvedTopic {
    topic: Option<Arc<crate::topics::Topic>>,
    remote: Option<String>,
    name: String,
    denied: bool,
}

fn resolve_topic(ctx: &Ctx, version: i16, key: &TopicKey) -> ResolvedTopic {
    let state = &ctx.state;
    let (name_asked, id) = match key {
        TopicKey::Name(name) => (Some(name.as_str()), Uuid::nil()),
        TopicKey::Id(id) => (None, *id),
    };
    let topic = match name_asked {
        Some(name) if version < 13 => state.topics.get(name),
        _ => state.topics.get_by_id(&id),
    };
    // Cluster mode: a topic with no replica on this node is known only to the image.
    let remote = match &topic {
        Some(_) => None,
        None => cluster_view::image_topic_name(ctx, name_asked.filter(|_| version < 13), id),
    };
    let name = topic
        .as_ref()
        .map(|t| t.name.to_string())
        .or_else(|| remote.clone())
        .unwrap_or_else(|| name_asked.unwrap_or_default().to_string());
    let denied = !ctx.allowed(op::READ, resource::TOPIC, &name);
    ResolvedTopic {
        topic: if denied { None } else { topic },
        remote: remote.filter(|_| !denied),
        name,
        denied,
    }
}

/// Reads every wanted partition; returns per-partition data, total record bytes, and whether
/// any partition carries an error (which answers the fetch at once, as Kafka does).
/// `read_committed` reads stop at the last stable offset and list the aborted transactions
/// they overlap.
fn read_all(
    wanted: &[Wanted],
    max_bytes: usize,
    read_committed: bool,
    follower: Option<&Follower>,
) -> (Vec<PartitionData>, usize, bool) {
    let mut out = Vec::with_capacity(wanted.len());
    let mut total = 0usize;
    let mut any_error = false;
    for w in wanted {
        let mut pd = PartitionData::default();
        pd.partition_index = w.index;
        pd.high_watermark = -1;
        pd.last_stable_offset = -1;
        pd.log_start_offset = -1;
        pd.preferred_read_replica = kafka_protocol::messages::BrokerId(-1);
        pd.records = Some(Bytes::new());
        let Some(p) = &w.partition else {
            pd.error_code = w.missing_code;
            if let Some((id, epoch)) = w.current_leader {
                pd.current_leader.leader_id = kafka_protocol::messages::BrokerId(id);
                pd.current_leader.leader_epoch = epoch;
            }
            any_error = true;
            out.push(pd);
            continue;
        };
        let budget = max_bytes.saturating_sub(total).min(w.max_bytes);
        if let Some(f) = follower {
            let (bytes, error) = read_for_follower(p, w, f, budget, &mut pd);
            total += bytes;
            any_error |= error;
            out.push(pd);
            continue;
        }
        let (plan, offsets, stable, aborted, epoch_code) = {
            let log = p.log();
            let epoch_code = check_leader_epoch(w.current_leader_epoch, log.leader_epoch());
            let stable = log.last_stable_offset();
            let upper = if read_committed {
                stable
            } else {
                log.high_watermark()
            };
            let plan = if epoch_code == codes::NONE {
                // The first batch of the response is whole even beyond the limits (KIP-74).
                Some(log.read_below(w.fetch_offset, budget, total == 0, upper))
            } else {
                None
            };
            let aborted = if read_committed {
                log.aborted_between(w.fetch_offset, upper)
            } else {
                Vec::new()
            };
            (plan, log.offsets(), stable, aborted, epoch_code)
        };
        pd.high_watermark = offsets.high_watermark;
        pd.last_stable_offset = stable;
        pd.log_start_offset = offsets.log_start_offset;
        pd.aborted_transactions = Some(
            aborted
                .into_iter()
                .map(|(pid, first)| {
                    let mut a = AbortedTransaction::default();
                    a.producer_id = ProducerId(pid);
                    a.first_offset = first;
                    a
                })
                .collect(),
        );
        match plan {
            None => {
                pd.error_code = epoch_code;
                any_error = true;
            }
            Some(Err(ReadError::OutOfRange { .. })) => {
                pd.error_code = codes::OFFSET_OUT_OF_RANGE;
                any_error = true;
            }
            Some(Err(ReadError::Io(e))) => {
                tracing::error!(topic = %p.topic, partition = p.index, "read failed: {e}");
                pd.error_code = codes::KAFKA_STORAGE_ERROR;
                any_error = true;
            }
            Some(Ok(None)) => {}
            Some(Ok(Some(plan))) => match plan.read() {
                Ok(bytes) => {
                    total += bytes.len();
                    pd.records = Some(bytes);
                }
                Err(e) => {
                    tracing::error!(topic = %p.topic, partition = p.index, "read failed: {e}");
                    pd.error_code = codes::KAFKA_STORAGE_ERROR;
                    any_error = true;
                }
            },
        }
        out.push(pd);
    }
    (out, total, any_error)
}

/// One partition of a follower's Fetch: the leader-epoch checks (fenced, unknown, diverged:
/// KIP-101/KIP-320), then its position counts for the ISR and the high watermark, then the
/// batches past it up to the log end. Returns the bytes read and whether to answer at once.
fn read_for_follower(
    p: &Partition,
    w: &Wanted,
    f: &Follower,
    budget: usize,
    pd: &mut PartitionData,
) -> (usize, bool) {
    let Some(led) = f.cluster.leaders.get(&p.topic, p.index) else {
        pd.error_code = NOT_LEADER_OR_FOLLOWER;
        return (0, true);
    };
    let (epoch_code, diverging, plan, log_start, stable) = {
        let log = p.log();
        let epoch_code = check_leader_epoch(w.current_leader_epoch, log.leader_epoch());
        let diverging = diverging_epoch(
            log.epoch_history(),
            log.log_end_offset(),
            w.last_fetched_epoch,
            w.fetch_offset,
        );
        let plan = (epoch_code == codes::NONE && diverging.is_none())
            .then(|| log.read_for_replica(w.fetch_offset, budget));
        (
            epoch_code,
            diverging,
            plan,
            log.log_start_offset(),
            log.last_stable_offset(),
        )
    };
    pd.log_start_offset = log_start;
    pd.last_stable_offset = stable;
    if epoch_code != codes::NONE {
        pd.error_code = epoch_code;
        return (0, true);
    }
    if let Some((epoch, end_offset)) = diverging {
        pd.diverging_epoch.epoch = epoch;
        pd.diverging_epoch.end_offset = end_offset;
        pd.high_watermark = led.watch_high_watermark().borrow().to_owned();
        return (0, true);
    }
    match led.follower_fetch(f.id, w.fetch_offset) {
        Ok((hw, propose)) => {
            pd.high_watermark = hw;
            if let Some(record) = propose {
                leaders::propose_isr(&f.cluster, record);
            }
        }
        Err(FollowerRefused::NotAReplica) => {
            pd.error_code = NOT_LEADER_OR_FOLLOWER;
            return (0, true);
        }
        Err(FollowerRefused::OffsetOutOfRange) => {
            pd.error_code = codes::OFFSET_OUT_OF_RANGE;
            return (0, true);
        }
    }
    let read = match plan {
        Some(Ok(Some(plan))) => plan.read().map_err(|e| e.to_string()),
        Some(Ok(None)) | None => Ok(Bytes::new()),
        Some(Err(ReadError::OutOfRange { .. })) => {
            pd.error_code = codes::OFFSET_OUT_OF_RANGE;
            return (0, true);
        }
        Some(Err(ReadError::Io(e))) => Err(e.to_string()),
    };
    match read {
        Ok(bytes) => {
            let n = bytes.len();
            pd.records = Some(bytes);
            (n, false)
        }
        Err(e) => {
            tracing::error!(topic = %p.topic, partition = p.index, "replica read failed: {e}");
            pd.error_code = codes::KAFKA_STORAGE_ERROR;
            (0, true)
        }
    }
}

/// Puts the partitions into their topics and finishes the session part: a full fetch may
/// create a session (its id in the response); an incremental one keeps only the partitions
/// with records, an error or a changed high watermark, log start or last stable offset.
fn assemble(
    mut resp: FetchResponse,
    mut topics: Vec<FetchableTopicResponse>,
    wanted: &[Wanted],
    data: Vec<PartitionData>,
    finish: &Finish,
) -> FetchResponse {
    let sessions = &finish.state.fetch_sessions;
    let now = crate::time::now_ms();
    resp.session_id = INVALID_SESSION_ID;
    let keep = match &finish.context {
        FetchContext::Full if resp.error_code == codes::NONE => {
            let partitions = wanted
                .iter()
                .zip(&data)
                .map(|(w, pd)| (w.key.clone(), w.requested(), facts(pd)))
                .collect();
            resp.session_id =
                sessions.create(&finish.principal, finish.uses_topic_ids, partitions, now);
            None
        }
        FetchContext::Incremental {
            session_id, epoch, ..
        } => {
            let answers: Vec<(&PartitionKey, Answer)> = wanted
                .iter()
                .zip(&data)
                .map(|(w, pd)| {
                    let answer = Answer {
                        facts: facts(pd),
                        has_records: pd.records.as_ref().is_some_and(|r| !r.is_empty()),
                        must_send: pd.error_code != codes::NONE
                            || pd.diverging_epoch.epoch != -1
                            || pd.current_leader.leader_id.0 != -1
                            || pd.preferred_read_replica.0 != -1,
                    };
                    (&w.key, answer)
                })
                .collect();
            match sessions.respond(*session_id, *epoch, &answers) {
                Ok(keep) => {
                    resp.session_id = *session_id;
                    Some(keep)
                }
                Err(code) => {
                    resp.error_code = code;
                    return resp;
                }
            }
        }
        _ => None,
    };
    for (i, (w, pd)) in wanted.iter().zip(data).enumerate() {
        if keep.as_ref().is_none_or(|k| k[i]) {
            topics[w.topic_slot].partitions.push(pd);
        }
    }
    if keep.is_some() {
        topics.retain(|t| !t.partitions.is_empty());
    }
    resp.responses = topics;
    resp
}

/// The partition facts a session compares between responses.
fn facts(pd: &PartitionData) -> Sent {
    Sent {
        high_watermark: pd.high_watermark,
        log_start_offset: pd.log_start_offset,
        last_stable_offset: pd.last_stable_offset,
    }
}
