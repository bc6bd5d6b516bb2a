//! The fetcher: one background task per consumer. It resolves reset positions (ListOffsets),
//! keeps one Fetch in flight per broker for the fetchable partitions that broker leads, and
//! queues the responses' record blobs — still compressed — for the reader, within the global
//! prefetch budget. Each broker's fetches go through a fetch session (KIP-227, see
//! `super::fetch_session`), so a steady consumer names only the partitions that moved.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::fetch_session::{
    FETCH_SESSION_ID_NOT_FOUND, FINAL_EPOCH, FetchSession, INVALID_FETCH_SESSION_EPOCH,
    SessionFetch,
};
use super::{Chunk, PartitionState, Shared, State, TopicPartition, reset_timestamp};
use crate::cluster::needs_metadata_refresh;
use crate::config::ConsumerConfig;
use crate::error::{Error, ResponseError, Result};
use crate::records::RecordBatches;

/// A partition as the fetcher asked about it: its key, the seek generation at the time, and
/// the offset (fetch position, or ListOffsets timestamp for a reset). An answer whose
/// generation or offset no longer matches the partition's state is stale and dropped.
type PartitionAt = (TopicPartition, u64, i64);

enum Event {
    Fetched {
        broker: i32,
        sent: Vec<PartitionAt>,
        /// The broker's fetch session, back from the request that used it.
        session: FetchSession,
        result: Result<FetchResponse>,
    },
    Reset {
        items: Vec<PartitionAt>,
        result: Result<HashMap<(String, i32), crate::cluster::offsets::OffsetAndTimestamp>>,
    },
    Metadata,
}

type EventFuture = Pin<Box<dyn Future<Output = Event> + Send>>;

/// The requests one turn of the loop starts.
#[derive(Default)]
struct Plan {
    /// Partitions waiting for a ListOffsets reset.
    to_reset: Vec<PartitionAt>,
    /// Fetchable partitions by the broker that leads them (idle brokers only).
    by_broker: HashMap<i32, Vec<PartitionAt>>,
}

/// The fetcher's bookkeeping between turns of its loop; only the fetcher task touches it.
struct Fetcher {
    shared: Arc<Shared>,
    /// The fetches, resets and metadata refreshes in flight.
    tasks: FuturesUnordered<EventFuture>,
    /// Brokers with a Fetch in flight (`true`); at most one per broker.
    brokers_busy: HashMap<i32, bool>,
    /// Each broker's fetch session; out of the map while a Fetch to that broker is in flight.
    sessions: HashMap<i32, FetchSession>,
    /// A ListOffsets reset is in flight; at most one at a time.
    resetting: bool,
    /// A metadata refresh is in flight.
    metadata_pending: bool,
    /// A leader is unknown or an error asked for fresh metadata.
    want_metadata: bool,
    /// After a failed fetch or reset, nothing new is sent before this instant.
    backoff_until: Option<Instant>,
    /// Consecutive failures, for the exponential backoff; a successful fetch clears it.
    failures: u32,
    /// When the last metadata refresh started.
    last_metadata: Option<Instant>,
}

/// The fetcher task, until the consumer closes. Each turn: maybe refresh metadata, send what
/// can be sent (unless backing off), then wait for one event and apply it.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut fetcher = Fetcher::new(shared);
    loop {
        if fetcher.shared.lock().closed {
            break;
        }
        let now = Instant::now();
        fetcher.refresh_metadata_if_wanted();
        let next = if fetcher.backoff_until.is_some_and(|t| t > now) {
            fetcher.backoff_until
        } else {
            fetcher.send_requests(now)
        };
        if let Some(event) = fetcher.wait_for_event(now, next).await {
            fetcher.handle_event(event);
        }
    }
    fetcher.close_sessions().await;
}

impl Fetcher {
    fn new(shared: Arc<Shared>) -> Self {
        Fetcher {
            shared,
            tasks: FuturesUnordered::new(),
            brokers_busy: HashMap::new(),
            sessions: HashMap::new(),
            resetting: false,
            metadata_pending: false,
            want_metadata: false,
            backoff_until: None,
            failures: 0,
            last_metadata: None,
        }
    }

    /// Starts a metadata refresh when one is wanted (or the cache is past metadata.max.age.ms).
    /// Invariant: at most one refresh in flight, and starts are spaced by retry.backoff.ms.
    fn refresh_metadata_if_wanted(&mut self) {
        let shared = &self.shared;
        self.want_metadata |= shared.cluster.is_stale() && !shared.lock().partitions.is_empty();
        let spaced = self
            .last_metadata
            .is_none_or(|t: Instant| t.elapsed() >= shared.config.client.retry_backoff);
        if self.want_metadata && !self.metadata_pending && spaced {
            self.want_metadata = false;
            self.last_metadata = Some(Instant::now());
            self.metadata_pending = true;
            let shared = shared.clone();
            self.tasks.push(Box::pin(async move {
                if let Err(e) = shared.cluster.refresh(&[]).await {
                    report_security_failure(&shared, e);
                }
                Event::Metadata
            }));
        }
    }

    /// Plans this turn's requests and starts them. Returns when the loop must wake at the
    /// latest (`None`: only on an event), which is sooner when metadata is wanted but not yet
    /// asked for.
    fn send_requests(&mut self, now: Instant) -> Option<Instant> {
        let plan = self.plan();
        let next = (self.want_metadata && !self.metadata_pending)
            .then(|| now + self.shared.config.client.retry_backoff);
        if !plan.to_reset.is_empty() {
            self.start_reset(plan.to_reset);
        }
        for (broker, partitions) in plan.by_broker {
            self.start_fetch(broker, partitions);
        }
        next
    }

    /// Sorts the assigned partitions into resets and per-broker fetches, under one lock.
    /// Invariant: paused partitions and those with a fetch in flight are left out; fetches only
    /// while prefetch budget is left, only to idle brokers, and resets only when none is in
    /// flight. A partition whose leader is unknown asks for metadata instead.
    fn plan(&mut self) -> Plan {
        let metadata = self.shared.cluster.metadata();
        let mut plan = Plan::default();
        let state = self.shared.lock();
        let budget_left = self
            .shared
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
                        && !self.resetting
                    {
                        plan.to_reset.push((tp.clone(), ps.generation, ts));
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
                        Some(l) if !self.brokers_busy.get(&l).copied().unwrap_or(false) => {
                            plan.by_broker.entry(l).or_default().push((
                                tp.clone(),
                                ps.generation,
                                pos,
                            ));
                        }
                        Some(_) => {}
                        None => self.want_metadata = true,
                    }
                }
            }
        }
        plan
    }

    /// Sends one ListOffsets for every partition waiting for a reset.
    /// Invariant: `resetting` stays set until its `Event::Reset` is handled.
    fn start_reset(&mut self, to_reset: Vec<PartitionAt>) {
        self.resetting = true;
        let cluster = self.shared.cluster.clone();
        let isolation = self.shared.config.isolation_level;
        self.tasks.push(Box::pin(async move {
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

    /// Sends one Fetch to `broker` for `partitions`, through the broker's fetch session: the
    /// request is built once the connection is known (a new connection restarts the session).
    /// Invariant: the broker is busy and each partition is marked `fetch_in_flight` before the
    /// request leaves, so no second fetch for either starts until `Event::Fetched`.
    fn start_fetch(&mut self, broker: i32, partitions: Vec<PartitionAt>) {
        let shared = &self.shared;
        self.brokers_busy.insert(broker, true);
        let mut session = self.sessions.remove(&broker).unwrap_or_default();
        {
            let mut state = shared.lock();
            for (tp, _, _) in &partitions {
                if let Some(ps) = state.partitions.get_mut(tp) {
                    ps.fetch_in_flight = true;
                }
            }
        }
        let wanted: Vec<(TopicPartition, i64)> = partitions
            .iter()
            .map(|(tp, _, pos)| (tp.clone(), *pos))
            .collect();
        // The broker may hold the fetch for fetch.wait.max.ms: allow for it.
        let timeout = shared.config.client.request_timeout + shared.config.fetch_max_wait;
        let span = tracing::debug_span!("fetch", broker, partitions = partitions.len());
        let shared = shared.clone();
        self.tasks.push(Box::pin(async move {
            let result = async {
                let conn = shared.cluster.connection(broker).await?;
                session.use_connection(&conn);
                let fetch = session.next_fetch(&wanted);
                let request = build_fetch(&shared, &fetch);
                tracing::trace!(
                    full = fetch.is_full(),
                    named = fetch.to_send.len(),
                    forgotten = fetch.forgotten.len(),
                    "fetch session step"
                );
                let sent = std::time::Instant::now();
                let response = conn.request_timeout(&request, timeout).await;
                let answer = response.as_ref().map(|r| (r.error_code, r.session_id));
                session.on_answer(fetch, answer.map_err(|_| ()));
                if response.is_ok() {
                    shared.counters.fetches.record(sent.elapsed());
                }
                response
            }
            .instrument(span)
            .await;
            Event::Fetched {
                broker,
                sent: partitions,
                session,
                result,
            }
        }));
    }

    /// On close: tells each broker with an open session to drop it (epoch -1), as the Java
    /// client does, so its slot is free at once; best effort, a second at most.
    async fn close_sessions(&mut self) {
        let cluster = &self.shared.cluster;
        let closes =
            self.sessions
                .drain()
                .filter(|(_, s)| s.id() != 0)
                .map(|(broker, s)| async move {
                    let request = FetchRequest::default()
                        .with_max_wait_ms(0)
                        .with_session_id(s.id())
                        .with_session_epoch(FINAL_EPOCH);
                    let conn = cluster.connection(broker).await?;
                    conn.request_timeout(&request, Duration::from_secs(1))
                        .await
                        .map(|_| ())
                });
        let all = futures::future::join_all(closes);
        let _ = tokio::time::timeout(Duration::from_secs(1), all).await;
    }

    /// Sleeps until a wake-up (assignment, seek, consumed data), `next` (or a second), or a
    /// request completing; returns the completion, if that is what woke it.
    async fn wait_for_event(&mut self, now: Instant, next: Option<Instant>) -> Option<Event> {
        let wake = self.shared.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let sleep = tokio::time::sleep_until(next.unwrap_or_else(|| now + Duration::from_secs(1)));
        tokio::select! {
            () = &mut wake => None,
            () = sleep => None,
            Some(event) = self.tasks.next(), if !self.tasks.is_empty() => Some(event),
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Metadata => self.metadata_pending = false,
            Event::Reset { items, result } => self.on_reset_done(items, result),
            Event::Fetched {
                broker,
                sent,
                session,
                result,
            } => {
                self.sessions.insert(broker, session);
                self.on_fetch_done(broker, &sent, result)
            }
        }
    }

    /// Applies a ListOffsets answer. A failure backs off; one a retry cannot fix is also
    /// reported to the reader.
    fn on_reset_done(
        &mut self,
        items: Vec<PartitionAt>,
        result: Result<HashMap<(String, i32), crate::cluster::offsets::OffsetAndTimestamp>>,
    ) {
        self.resetting = false;
        match result {
            Ok(offsets) => apply_resets(&self.shared, items, &offsets),
            Err(e) => {
                tracing::debug!(error = %e, "offset reset failed");
                if !e.is_retriable() {
                    self.shared.lock().errors.push_back(e);
                    self.shared.data.notify_waiters();
                }
                self.back_off();
            }
        }
    }

    /// Queues a Fetch answer's data. Invariant: the broker is idle again whatever the outcome;
    /// a failed request backs off, a successful one clears the failure count.
    fn on_fetch_done(&mut self, broker: i32, sent: &[PartitionAt], result: Result<FetchResponse>) {
        self.brokers_busy.insert(broker, false);
        match handle_fetch(&self.shared, sent, result) {
            Ok(refresh) => {
                self.failures = 0;
                self.want_metadata |= refresh;
            }
            Err(e) => {
                tracing::debug!(broker, error = %e, "fetch failed");
                report_security_failure(&self.shared, e.clone());
                self.want_metadata |= needs_metadata_refresh(&e);
                self.back_off();
            }
        }
    }

    /// One more consecutive failure: nothing is sent until the exponential backoff has passed.
    fn back_off(&mut self) {
        self.failures += 1;
        let client = &self.shared.config.client;
        self.backoff_until = Some(
            Instant::now()
                + crate::net::backoff(
                    client.retry_backoff,
                    client.retry_backoff_max,
                    self.failures,
                ),
        );
    }
}

/// The Fetch for one session step: the partitions it names (all of them in a full fetch) and
/// those it forgets.
fn build_fetch(shared: &Shared, fetch: &SessionFetch) -> FetchRequest {
    let cfg = &shared.config;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, pos) in &fetch.to_send {
        let p = FetchPartition::default()
            .with_partition(tp.1)
            .with_fetch_offset(*pos)
            .with_partition_max_bytes(cfg.max_partition_fetch_bytes);
        match topics.iter_mut().find(|t| *t.topic.0 == *tp.0) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                FetchTopic::default()
                    .with_topic(topic_name(&tp.0))
                    .with_partitions(vec![p]),
            ),
        }
    }
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for tp in &fetch.forgotten {
        match forgotten.iter_mut().find(|t| *t.topic.0 == *tp.0) {
            Some(t) => t.partitions.push(tp.1),
            None => forgotten.push(
                ForgottenTopic::default()
                    .with_topic(topic_name(&tp.0))
                    .with_partitions(vec![tp.1]),
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
        .with_session_id(fetch.session_id)
        .with_session_epoch(fetch.epoch)
        .with_rack_id(StrBytes::from_string(
            cfg.client_rack.clone().unwrap_or_default(),
        ))
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn apply_resets(
    shared: &Shared,
    items: Vec<PartitionAt>,
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

/// What the fetch loop must do after one partition's part of a Fetch response.
enum Followup {
    Nothing,
    RefreshMetadata,
    /// Hand the error to the reader (the partition cannot go on by itself).
    Report(Error),
    /// Data was queued: wake the readers.
    WakeReaders,
}

/// Queues the data of a Fetch response. Returns whether metadata should be refreshed.
fn handle_fetch(
    shared: &Shared,
    sent: &[PartitionAt],
    result: Result<FetchResponse>,
) -> Result<bool> {
    let mut state = shared.lock();
    for (tp, _, _) in sent {
        if let Some(ps) = state.partitions.get_mut(tp) {
            ps.fetch_in_flight = false;
        }
    }
    let response = result?;
    if matches!(
        response.error_code,
        FETCH_SESSION_ID_NOT_FOUND | INVALID_FETCH_SESSION_EPOCH
    ) {
        // The session already restarted: the next fetch is a full one, no backoff needed.
        return Ok(false);
    }
    if let Some(e) = Error::from_code(response.error_code) {
        return Err(e);
    }
    let mut refresh = false;
    let mut new_data = false;
    let mut errors = Vec::new();
    for topic in response.responses {
        let name = topic.topic.0;
        for p in topic.partitions {
            let Some(asked) = sent
                .iter()
                .find(|(tp, _, _)| *tp.0 == *name && tp.1 == p.partition_index)
            else {
                continue;
            };
            match take_partition(&shared.config, &mut state, asked, p) {
                Followup::Nothing => {}
                Followup::RefreshMetadata => refresh = true,
                Followup::Report(e) => errors.push(e),
                Followup::WakeReaders => new_data = true,
            }
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

/// Applies one partition's answer to the partition it was `asked` for.
/// Invariant: an answer for an older generation or another fetch position (a seek meanwhile)
/// changes nothing; the fetch position only moves forward, past complete batches.
fn take_partition(
    config: &ConsumerConfig,
    state: &mut State,
    asked: &PartitionAt,
    p: PartitionData,
) -> Followup {
    let (tp, generation, fetched_at) = asked;
    let Some(ps) = state.partitions.get_mut(tp) else {
        return Followup::Nothing;
    };
    if ps.generation != *generation || ps.fetch_position != Some(*fetched_at) {
        return Followup::Nothing; // seeked meanwhile
    }
    if let Some(e) = Error::from_code(p.error_code) {
        return on_partition_error(config, ps, tp, e);
    }
    ps.high_watermark = p.high_watermark;
    ps.log_start_offset = p.log_start_offset;
    ps.last_stable_offset = p.last_stable_offset;
    let Some(records) = p.records.filter(|r| !r.is_empty()) else {
        return Followup::Nothing;
    };
    let (next, records_hint) = end_of_complete_batches(&records, *fetched_at);
    if next == *fetched_at {
        return Followup::Nothing;
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
    Followup::WakeReaders
}

/// A partition-level error code: an out-of-range position resets per auto.offset.reset (or
/// pauses the partition and reports when it is `none`); errors fresh metadata or a retry can
/// cure ask for metadata; the rest are reported.
fn on_partition_error(
    config: &ConsumerConfig,
    ps: &mut PartitionState,
    tp: &TopicPartition,
    e: Error,
) -> Followup {
    match e.response_error() {
        Some(ResponseError::OffsetOutOfRange) => match reset_timestamp(config) {
            Some(ts) => {
                tracing::warn!(topic = %tp.0, partition = tp.1, offset = ?ps.fetch_position, "fetch offset out of range; resetting by auto.offset.reset");
                ps.fetch_position = None;
                ps.position = None;
                ps.reset = Some(ts);
                Followup::Nothing
            }
            None => {
                ps.paused = true;
                Followup::Report(e.with_partition(&tp.0, tp.1))
            }
        },
        _ if needs_metadata_refresh(&e) || e.is_retriable() => Followup::RefreshMetadata,
        _ => Followup::Report(e.with_partition(&tp.0, tp.1)),
    }
}

/// The offset after the last complete batch in `records` (`fetched_at` if there is none) and
/// the record count of those batches. A cut-off tail is fetched again next time.
fn end_of_complete_batches(records: &Bytes, fetched_at: i64) -> (i64, usize) {
    let mut next = fetched_at;
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
    (next, records_hint)
}

/// A TLS or SASL failure is handed to the reader (once until it is read): retrying will not
/// fix it, and the application must hear of it instead of waiting for records forever.
pub(crate) fn report_security_failure(shared: &Shared, e: Error) {
    if crate::net::is_security_failure(&e) {
        let mut state = shared.lock();
        if state.errors.is_empty() {
            state.errors.push_back(e);
        }
        drop(state);
        shared.data.notify_waiters();
    }
}
