//! The fetcher: one background task per consumer. It resolves reset positions (ListOffsets),
//! keeps one Fetch in flight per broker for the fetchable partitions that broker leads, and
//! queues the responses' record blobs — still compressed — for the reader, within the global
//! prefetch budget.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::{Chunk, Shared, TopicPartition, reset_timestamp};
use crate::cluster::needs_metadata_refresh;
use crate::error::{Error, ResponseError, Result};
use crate::records::RecordBatches;

enum Event {
    Fetched {
        broker: i32,
        sent: Vec<(TopicPartition, u64, i64)>,
        result: Result<FetchResponse>,
    },
    Reset {
        items: Vec<(TopicPartition, u64, i64)>,
        result: Result<HashMap<(String, i32), crate::cluster::offsets::OffsetAndTimestamp>>,
    },
    Metadata,
}

type EventFuture = Pin<Box<dyn Future<Output = Event> + Send>>;

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut tasks: FuturesUnordered<EventFuture> = FuturesUnordered::new();
    let mut brokers_busy: HashMap<i32, bool> = HashMap::new();
    let mut resetting = false;
    let mut metadata_pending = false;
    let mut want_metadata = false;
    let mut backoff_until: Option<Instant> = None;
    let mut failures = 0u32;
    let mut last_metadata: Option<Instant> = None;
    loop {
        if shared.lock().closed {
            break;
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        // Periodic refresh (metadata.max.age.ms) besides the error-driven ones.
        want_metadata |= shared.cluster.is_stale() && !shared.lock().partitions.is_empty();
        let spaced = last_metadata
            .is_none_or(|t: Instant| t.elapsed() >= shared.config.client.retry_backoff);
        if want_metadata && !metadata_pending && spaced {
            want_metadata = false;
            last_metadata = Some(Instant::now());
            metadata_pending = true;
            let cluster = shared.cluster.clone();
            tasks.push(Box::pin(async move {
                let _ = cluster.refresh(&[]).await;
                Event::Metadata
            }));
        }
        if backoff_until.is_some_and(|t| t > now) {
            next = backoff_until;
        } else {
            let metadata = shared.cluster.metadata();
            let mut to_reset: Vec<(TopicPartition, u64, i64)> = Vec::new();
            let mut by_broker: HashMap<i32, Vec<(TopicPartition, u64, i64)>> = HashMap::new();
            {
                let state = shared.lock();
                let budget_left = shared
                    .config
                    .prefetch_budget_bytes
                    .saturating_sub(state.buffered_bytes);
                for (tp, ps) in &state.partitions {
                    if ps.paused || ps.fetch_in_flight {
                        continue;
                    }
                    match ps.fetch_position {
                        None => {
                            if let Some(ts) = ps.reset
                                && !resetting
                            {
                                to_reset.push((tp.clone(), ps.generation, ts));
                            }
                        }
                        Some(pos) => {
                            if budget_left == 0 {
                                continue;
                            }
                            let leader = metadata
                                .topics
                                .get(&*tp.0)
                                .and_then(|t| t.partitions.get(tp.1 as usize))
                                .map(|p| p.leader)
                                .filter(|l| metadata.brokers.contains_key(l));
                            match leader {
                                Some(l) if !brokers_busy.get(&l).copied().unwrap_or(false) => {
                                    by_broker.entry(l).or_default().push((
                                        tp.clone(),
                                        ps.generation,
                                        pos,
                                    ));
                                }
                                Some(_) => {}
                                None => want_metadata = true,
                            }
                        }
                    }
                }
            }
            if want_metadata && !metadata_pending {
                next = Some(now + shared.config.client.retry_backoff);
            }
            if !to_reset.is_empty() {
                resetting = true;
                let cluster = shared.cluster.clone();
                let isolation = shared.config.isolation_level;
                tasks.push(Box::pin(async move {
                    let queries: Vec<(&str, i32, i64)> = to_reset
                        .iter()
                        .map(|(tp, _, ts)| (&*tp.0, tp.1, *ts))
                        .collect();
                    let result = cluster.list_offsets(&queries, isolation).await;
                    Event::Reset {
                        items: to_reset,
                        result,
                    }
                }));
            }
            for (broker, partitions) in by_broker {
                brokers_busy.insert(broker, true);
                let request = build_fetch(&shared, &partitions);
                {
                    let mut state = shared.lock();
                    for (tp, _, _) in &partitions {
                        if let Some(ps) = state.partitions.get_mut(tp) {
                            ps.fetch_in_flight = true;
                        }
                    }
                }
                let cluster = shared.cluster.clone();
                // The broker may hold the fetch for fetch.wait.max.ms: allow for it.
                let timeout = shared.config.client.request_timeout + shared.config.fetch_max_wait;
                let span = tracing::debug_span!("fetch", broker, partitions = partitions.len());
                tasks.push(Box::pin(async move {
                    let result = async {
                        let conn = cluster.connection(broker).await?;
                        conn.request_timeout(&request, timeout).await
                    }
                    .instrument(span)
                    .await;
                    Event::Fetched {
                        broker,
                        sent: partitions,
                        result,
                    }
                }));
            }
        }
        let wake = shared.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let sleep = tokio::time::sleep_until(next.unwrap_or_else(|| now + Duration::from_secs(1)));
        tokio::select! {
            () = &mut wake => {}
            () = sleep => {}
            Some(event) = tasks.next(), if !tasks.is_empty() => match event {
                Event::Metadata => metadata_pending = false,
                Event::Reset { items, result } => {
                    resetting = false;
                    match result {
                        Ok(offsets) => apply_resets(&shared, items, &offsets),
                        Err(e) => {
                            tracing::debug!(error = %e, "offset reset failed");
                            if !e.is_retriable() {
                                shared.lock().errors.push_back(e);
                                shared.data.notify_waiters();
                            }
                            failures += 1;
                            backoff_until = Some(Instant::now() + crate::net::backoff(shared.config.client.retry_backoff, shared.config.client.retry_backoff_max, failures));
                        }
                    }
                }
                Event::Fetched { broker, sent, result } => {
                    brokers_busy.insert(broker, false);
                    match handle_fetch(&shared, &sent, result) {
                        Ok(refresh) => {
                            failures = 0;
                            want_metadata |= refresh;
                        }
                        Err(e) => {
                            tracing::debug!(broker, error = %e, "fetch failed");
                            want_metadata |= needs_metadata_refresh(&e);
                            failures += 1;
                            backoff_until = Some(Instant::now() + crate::net::backoff(shared.config.client.retry_backoff, shared.config.client.retry_backoff_max, failures));
                        }
                    }
                }
            }
        }
    }
}

fn build_fetch(shared: &Shared, partitions: &[(TopicPartition, u64, i64)]) -> FetchRequest {
    let cfg = &shared.config;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, _, pos) in partitions {
        let p = FetchPartition::default()
            .with_partition(tp.1)
            .with_fetch_offset(*pos)
            .with_partition_max_bytes(cfg.max_partition_fetch_bytes);
        match topics.iter_mut().find(|t| *t.topic.0 == *tp.0) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(tp.0.to_string())))
                    .with_partitions(vec![p]),
            ),
        }
    }
    let budget_left = {
        let state = shared.lock();
        cfg.prefetch_budget_bytes
            .saturating_sub(state.buffered_bytes)
    };
    FetchRequest::default()
        .with_max_wait_ms(cfg.fetch_max_wait.as_millis().min(i32::MAX as u128) as i32)
        .with_min_bytes(cfg.fetch_min_bytes)
        .with_max_bytes(
            cfg.fetch_max_bytes
                .min(budget_left.max(1).min(i32::MAX as usize) as i32),
        )
        .with_isolation_level(cfg.isolation_level.as_i8())
        .with_session_epoch(-1)
        .with_rack_id(StrBytes::from_string(
            cfg.client_rack.clone().unwrap_or_default(),
        ))
        .with_topics(topics)
}

fn apply_resets(
    shared: &Shared,
    items: Vec<(TopicPartition, u64, i64)>,
    offsets: &HashMap<(String, i32), crate::cluster::offsets::OffsetAndTimestamp>,
) {
    let mut state = shared.lock();
    for (tp, generation, _) in items {
        let Some(ps) = state.partitions.get_mut(&tp) else {
            continue;
        };
        if ps.generation != generation {
            continue;
        }
        if let Some(o) = offsets.get(&(tp.0.to_string(), tp.1)) {
            tracing::info!(topic = %tp.0, partition = tp.1, offset = o.offset, "offset reset");
            ps.fetch_position = Some(o.offset);
            ps.position = Some(o.offset);
            ps.reset = None;
        }
    }
    drop(state);
    shared.wake.notify_one();
}

/// Queues the data of a Fetch response. Returns whether metadata should be refreshed.
fn handle_fetch(
    shared: &Shared,
    sent: &[(TopicPartition, u64, i64)],
    result: Result<FetchResponse>,
) -> Result<bool> {
    let mut state = shared.lock();
    for (tp, _, _) in sent {
        if let Some(ps) = state.partitions.get_mut(tp) {
            ps.fetch_in_flight = false;
        }
    }
    let response = result?;
    if let Some(e) = Error::from_code(response.error_code) {
        return Err(e);
    }
    let mut refresh = false;
    let mut new_data = false;
    let mut errors = Vec::new();
    for topic in response.responses {
        let name = topic.topic.0;
        for p in topic.partitions {
            let Some((tp, generation, fetched_at)) = sent
                .iter()
                .find(|(tp, _, _)| *tp.0 == *name && tp.1 == p.partition_index)
            else {
                continue;
            };
            let Some(ps) = state.partitions.get_mut(tp) else {
                continue;
            };
            if ps.generation != *generation || ps.fetch_position != Some(*fetched_at) {
                continue; // seeked meanwhile
            }
            if let Some(e) = Error::from_code(p.error_code) {
                match e.response_error() {
                    Some(ResponseError::OffsetOutOfRange) => {
                        tracing::warn!(topic = %tp.0, partition = tp.1, offset = *fetched_at, "fetch offset out of range; resetting by auto.offset.reset");
                        match reset_timestamp(&shared.config) {
                            Some(ts) => {
                                ps.fetch_position = None;
                                ps.position = None;
                                ps.reset = Some(ts);
                            }
                            None => {
                                ps.paused = true;
                                errors.push(e.with_partition(&tp.0, tp.1));
                            }
                        }
                    }
                    _ if needs_metadata_refresh(&e) || e.is_retriable() => refresh = true,
                    _ => errors.push(e.with_partition(&tp.0, tp.1)),
                }
                continue;
            }
            ps.high_watermark = p.high_watermark;
            ps.log_start_offset = p.log_start_offset;
            ps.last_stable_offset = p.last_stable_offset;
            let Some(records) = p.records.filter(|r| !r.is_empty()) else {
                continue;
            };
            // Advance the fetch position past the last complete batch; a cut-off tail is
            // fetched again next time.
            let mut next = *fetched_at;
            let mut records_hint = 0usize;
            for batch in RecordBatches::new(records.clone()) {
                match batch {
                    Ok(b) => {
                        next = next.max(b.header.last_offset() + 1);
                        records_hint += b.header.records_count.max(0) as usize;
                    }
                    Err(_) => break,
                }
            }
            if next == *fetched_at {
                continue;
            }
            ps.fetch_position = Some(next);
            let mut aborted: Vec<(i64, i64)> = p
                .aborted_transactions
                .unwrap_or_default()
                .iter()
                .map(|a| (a.producer_id.0, a.first_offset))
                .collect();
            aborted.sort_by_key(|a| a.1);
            let bytes = records.len();
            state.buffered_bytes += bytes;
            state.chunks.push_back(Chunk {
                tp: tp.clone(),
                generation: *generation,
                batches: RecordBatches::new(records),
                current: None,
                bytes,
                records_hint,
                aborted: VecDeque::from(aborted),
                aborted_producers: Vec::new(),
            });
            new_data = true;
        }
    }
    let had_errors = !errors.is_empty();
    state.errors.extend(errors);
    drop(state);
    if new_data || had_errors {
        shared.data.notify_waiters();
    }
    Ok(refresh)
}
