//! The sender: one background task per producer that closes lingering batches, drains every
//! ready partition a broker leads into one Produce request per broker (up to
//! `max.in.flight.requests.per.connection` per broker, one batch in flight per partition so
//! retries keep per-partition order), and resolves, retries or fails batches from responses.
//!
//! A pass is a sequence of named steps, each keeping one invariant:
//! - [`Sender::ensure_identity`]: no batch is stamped without a producer id;
//! - [`Sender::admit_and_expire_parked`]: parked records join their partitions or fail on time;
//! - [`Sender::drain`]: a batch leaves its queue only for a leader with a live connection, so
//!   connecting and reconnect back-off never happen inside a request a partition waits on — a
//!   partition whose leader is unreachable keeps its batches queued, free to go to the next
//!   leader metadata names;
//! - [`Sender::expire_front`]: a record is never held past `delivery.timeout.ms` (`_MSG_TIMED_OUT`);
//! - [`Sender::dispatch`]: a request is bounded by `request.timeout.ms` and by the earliest
//!   delivery deadline of its batches (as librdkafka bounds it), so a hung broker holds a
//!   partition no longer than its records may wait anyway.
//!
//! Idempotence: the producer id comes from InitProducerId; a batch is stamped with its
//! partition's next sequence when first sent and keeps that stamp across retries (the broker
//! de-duplicates). Sequences and epochs are per partition: a sequence gap (a sent batch that
//! failed or expired, OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID) bumps the producer's
//! epoch locally (as the Java client does for idempotent producers; the broker accepts a higher
//! epoch starting at sequence 0) and moves only that partition to it once its own batch is
//! resolved. Other partitions keep sending under their epoch: nothing waits for another
//! partition's request, least of all one stuck on a dead connection.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cluster::{BrokerInfo, LeaderHint, Metadata, needs_metadata_refresh};
use crate::config::Acks;
use crate::error::{Error, ErrorClass, ResponseError, Result};
use crate::net::{Connection, Readiness};

use super::Shared;
use super::accumulator::{ClosedBatch, PartitionQueue, Payload, State};

type RequestFuture = Pin<Box<dyn Future<Output = RequestOutcome> + Send>>;
type MetadataFuture = Pin<Box<dyn Future<Output = Result<Arc<Metadata>>> + Send>>;

/// The shortest bound a Produce request gets when its batches are about to expire.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(100);

struct RequestOutcome {
    id: u64,
    broker: i32,
    batches: Vec<ClosedBatch>,
    result: Result<Option<ProduceResponse>>,
    latency: Duration,
}

/// A Produce request in flight: where it went, for which partitions, and how to abandon it.
struct InFlight {
    broker: i32,
    partitions: Vec<(Arc<str>, i32)>,
    sent_at: Instant,
    abandon: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A request unanswered this long makes the sender ask for metadata (at most this often), so
/// a leader that stopped answering is noticed to have been replaced before the request's own
/// deadline; see [`Sender::abandon_moved_requests`].
const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// Producer id and the latest epoch for idempotent sends.
#[derive(Debug, Clone, Copy)]
struct ProducerIdentity {
    id: i64,
    epoch: i16,
}

struct Sender {
    shared: Arc<Shared>,
    in_flight: FuturesUnordered<RequestFuture>,
    requests: HashMap<u64, InFlight>,
    next_request: u64,
    per_broker: HashMap<i32, usize>,
    metadata: Option<MetadataFuture>,
    want_metadata: bool,
    last_metadata: Option<Instant>,
    identity: Option<ProducerIdentity>,
    init_retry_at: Option<Instant>,
    init_failures: u32,
    fatal: Option<Error>,
    /// The metadata snapshot whose topic errors were last checked against the parked records
    /// (held, so a new snapshot can never be mistaken for it).
    metadata_seen: Option<Arc<Metadata>>,
    /// Transactional: the generation of the identity in use (see `Transactions::identity`).
    txn_generation: Option<u64>,
}

/// Batches a pass took out of their queues: per broker to send, or expired.
#[derive(Default)]
struct Drained {
    by_broker: HashMap<i32, (Arc<Connection>, Vec<ClosedBatch>)>,
    request_bytes: HashMap<i32, usize>,
    expired: Vec<(ClosedBatch, Error)>,
    /// Leaders found without a live connection in this pass (asked once per pass).
    unreachable: Vec<i32>,
    /// Transactional: partitions with a batch ready that the transaction has not added yet.
    to_add: Vec<(Arc<str>, i32)>,
}

/// A batch's verdict from one response.
enum Verdict {
    Delivered(i64, i64),
    Retry(Error),
    Fail(Error),
}

/// The earliest of several wake-up times.
#[derive(Default)]
struct NextWake(Option<Instant>);

impl NextWake {
    fn at(&mut self, t: Option<Instant>) {
        if let Some(t) = t {
            self.0 = Some(self.0.map_or(t, |n| n.min(t)));
        }
    }
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut sender = Sender {
        shared,
        in_flight: FuturesUnordered::new(),
        requests: HashMap::new(),
        next_request: 0,
        per_broker: HashMap::new(),
        metadata: None,
        want_metadata: false,
        last_metadata: None,
        identity: None,
        init_retry_at: None,
        init_failures: 0,
        fatal: None,
        metadata_seen: None,
        txn_generation: None,
    };
    sender.run().await;
}

impl Sender {
    async fn run(&mut self) {
        loop {
            let now = Instant::now();
            let next_deadline = self.pass(now).await;
            if self.is_finished() {
                break;
            }
            let shared = self.shared.clone();
            let wake = shared.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            // Something may have changed while we worked; look again before sleeping.
            if self.shared.take_wake_hint() {
                continue;
            }
            let sleep = tokio::time::sleep_until(
                next_deadline.unwrap_or_else(|| now + Duration::from_secs(3600)),
            );
            tokio::select! {
                () = &mut wake => {}
                () = sleep => {}
                Some(outcome) = self.in_flight.next(), if !self.in_flight.is_empty() => self.handle(outcome),
                result = async { self.metadata.as_mut().expect("guarded").await }, if self.metadata.is_some() => {
                    self.metadata = None;
                    self.on_metadata(result);
                }
            }
        }
        tracing::debug!("producer sender stopped");
    }

    fn is_finished(&self) -> bool {
        let state = self.shared.lock();
        state.closing && state.is_idle() && self.in_flight.is_empty()
    }

    /// One pass: make sure of a producer id, admit parked records, expire what timed out, close
    /// lingering batches and send what is ready. Returns when the sender must look again.
    async fn pass(&mut self, now: Instant) -> Option<Instant> {
        #[cfg(test)]
        self.shared
            .passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut next = NextWake::default();
        if let Some(fatal) = self.shared.txn.as_ref().and_then(|t| t.fatal()) {
            self.fatal.get_or_insert(fatal);
        }
        if let Some(fatal) = self.fatal.clone() {
            self.fail_everything(fatal);
            return None;
        }
        self.ensure_identity(now, &mut next).await;
        let metadata = self.shared.cluster.metadata();
        let drained = {
            let shared = self.shared.clone();
            let mut state = shared.lock();
            self.admit_and_expire_parked(&mut state, &metadata, now, &mut next);
            let drained = self.drain(&mut state, &metadata, now, &mut next);
            let released = drained.expired.iter().fold((0, 0), |(b, r), (batch, _)| {
                (b + batch.accounted, r + batch.record_count())
            });
            state.release(released.0, released.1);
            drained
        };
        for (batch, err) in drained.expired {
            self.shared.metrics.record_errors(batch.record_count());
            if let Some(fatal) = self
                .shared
                .txn
                .as_ref()
                .and_then(|t| t.record_failure(&err))
            {
                self.shared.cluster.events().report(fatal);
            }
            batch.fail(err);
        }
        if !drained.to_add.is_empty() {
            self.add_to_transaction(drained.to_add).await;
            next.at(Some(Instant::now()));
        }
        self.shared.notify_if_idle();
        // Periodic refresh (metadata.max.age.ms): picks up added partitions and moved leaders
        // even when no request failed.
        if self.shared.cluster.is_stale() && !self.shared.lock().topics.is_empty() {
            self.want_metadata = true;
        }
        self.watch_slow_requests(now, &mut next);
        if self.want_metadata {
            self.start_metadata_refresh(now);
            next.at(Some(now + self.shared.config.client.retry_backoff));
        }
        for (broker, (conn, batches)) in drained.by_broker {
            self.dispatch(broker, conn, batches, now);
        }
        if !self.shared.lock().is_idle() {
            // Coarse tick for timeouts of queued batches.
            next.at(Some(now + Duration::from_millis(200)));
        }
        next.0
    }

    /// Idempotence: fetches a producer id when there is none and there is work (at start, and
    /// after the epoch is exhausted). Until it comes, only partitions that already run under an
    /// id may send.
    async fn ensure_identity(&mut self, now: Instant, next: &mut NextWake) {
        if let Some(txn) = &self.shared.txn {
            // The transaction manager owns the identity (init_transactions, KIP-360 bumps).
            let current = txn.identity();
            if current.map(|i| i.2) != self.txn_generation {
                self.txn_generation = current.map(|i| i.2);
                self.identity = current.map(|(id, epoch, _)| ProducerIdentity { id, epoch });
                let mut state = self.shared.lock();
                for tq in state.topics.values_mut() {
                    for pq in tq.partitions.iter_mut() {
                        pq.sequence_owner = None;
                    }
                }
            }
            return;
        }
        if !self.shared.config.enable_idempotence || self.identity.is_some() {
            return;
        }
        let due = self.init_retry_at.is_none_or(|t| t <= now);
        let oldest = {
            let state = self.shared.lock();
            (!state.is_idle()).then(|| state.oldest_waiting()).flatten()
        };
        if due && let Some(oldest) = oldest {
            // An attempt may not hold the pass past the oldest record's delivery deadline:
            // with no broker reachable it would wait out request.timeout.ms while the records
            // waiting for the id are past theirs (expired only by the next pass).
            let deadline = oldest + self.shared.config.delivery_timeout;
            let attempt = self.init_producer_id();
            if tokio::time::timeout_at(deadline, attempt).await.is_err() {
                self.init_failed(Error::timeout(
                    "InitProducerId: no answer before the oldest record's delivery deadline",
                ));
            }
        }
        if self.identity.is_none() {
            next.at(self.init_retry_at);
            next.at(Some(now + Duration::from_millis(100)));
        }
    }

    /// Admits parked records whose topic metadata arrived and fails those past their deadline;
    /// closes lingering batches.
    fn admit_and_expire_parked(
        &mut self,
        state: &mut State,
        metadata: &Arc<Metadata>,
        now: Instant,
        next: &mut NextWake,
    ) {
        let errors_changed = self.topic_errors_changed(metadata);
        let (_, missing) = state.admit_parked(&self.shared.limits, now);
        if missing.is_some() {
            self.want_metadata = true;
        }
        let topic_errors = &metadata.topic_errors;
        state.expire_parked(&self.shared.limits, now, errors_changed, |t| {
            topic_errors.get(t).cloned()
        });
        if !state.parked.is_empty() {
            next.at(Some(now + Duration::from_millis(50)));
        }
        // A busy partition's open batch spans at most 1/16 of delivery.timeout.ms, so expiry
        // (by batch creation) fails records at most that much before their own deadline.
        let busy_max_age = self.shared.config.delivery_timeout / 16;
        next.at(state.close_lingering(self.shared.config.linger, busy_max_age, now));
        state.ready_hint = false;
    }

    /// Takes the front batch of every partition that can send now. A partition is skipped
    /// (its batches stay queued) while it has a batch in flight, waits out a retry back-off,
    /// has no known leader, or its leader has no live connection (a connect starts in the
    /// background, and metadata is refreshed in case the leader moved).
    fn drain(
        &mut self,
        state: &mut State,
        metadata: &Metadata,
        now: Instant,
        next: &mut NextWake,
    ) -> Drained {
        let mut drained = Drained::default();
        for tq in state.topics.values_mut() {
            let topic_meta = metadata.topics.get(&*tq.name);
            for (index, pq) in tq.partitions.iter_mut().enumerate() {
                if pq.in_flight {
                    continue;
                }
                self.expire_front(pq, now, &mut drained.expired);
                let Some(front) = pq.ready.front() else {
                    continue;
                };
                if let Some(at) = front.retry_at.filter(|&at| at > now) {
                    next.at(Some(at));
                    continue;
                }
                if self.shared.config.enable_idempotence
                    && self.identity.is_none()
                    && pq.sequence_owner.is_none()
                {
                    continue;
                }
                if let Some(txn) = &self.shared.txn
                    && !txn.may_send(&tq.name, index as i32)
                {
                    drained.to_add.push((tq.name.clone(), index as i32));
                    continue;
                }
                let leader = topic_meta
                    .and_then(|t| t.partitions.get(index))
                    .map(|p| p.leader)
                    .filter(|l| metadata.brokers.contains_key(l));
                let Some(leader) = leader else {
                    self.want_metadata = true;
                    next.at(Some(now + self.shared.config.client.retry_backoff));
                    continue;
                };
                let Some(conn) = self.live_connection(leader, &mut drained, now, next) else {
                    continue;
                };
                if !self.has_room(leader, pq, &mut drained) {
                    continue;
                }
                let mut batch = pq.ready.pop_front().expect("front exists");
                pq.in_flight = true;
                batch.last_leader = Some(leader);
                self.stamp(pq, &mut batch);
                drained
                    .by_broker
                    .entry(leader)
                    .or_insert_with(|| (conn, Vec::new()))
                    .1
                    .push(batch);
            }
        }
        drained
    }

    /// The live connection to `leader`, or `None` after starting a background connect (the
    /// sender is woken when it ends) and asking for metadata, in case the leader moved.
    fn live_connection(
        &mut self,
        leader: i32,
        drained: &mut Drained,
        now: Instant,
        next: &mut NextWake,
    ) -> Option<Arc<Connection>> {
        if let Some((conn, _)) = drained.by_broker.get(&leader) {
            return Some(conn.clone());
        }
        if drained.unreachable.contains(&leader) {
            return None;
        }
        drained.unreachable.push(leader);
        match self.shared.cluster.readiness(leader) {
            Some(Readiness::Ready(conn)) => {
                drained.unreachable.pop();
                return Some(conn);
            }
            Some(Readiness::BackingOff(at)) => next.at(Some(at)),
            Some(Readiness::Idle) => {
                let shared = self.shared.clone();
                self.shared
                    .cluster
                    .connect_in_background(leader, move || shared.wake_sender());
            }
            Some(Readiness::Connecting) | None => {}
        }
        self.want_metadata = true;
        next.at(Some(now + self.shared.config.client.retry_backoff));
        None
    }

    /// Whether `leader` can take this partition's front batch: under
    /// `max.in.flight.requests.per.connection` and, unless the request is empty, under the
    /// request size limit. Counts the batch into the request when it fits.
    fn has_room(&self, leader: i32, pq: &PartitionQueue, drained: &mut Drained) -> bool {
        let cfg = &self.shared.config;
        if self.per_broker.get(&leader).copied().unwrap_or(0) >= cfg.max_in_flight {
            return false;
        }
        let Some(front) = pq.ready.front() else {
            return false;
        };
        let size = drained.request_bytes.entry(leader).or_insert(0);
        let batch_size = match &front.payload {
            Payload::Builder(b) => b.estimated_size(),
            Payload::Encoded(b) => b.len(),
        };
        if *size > 0 && *size + batch_size > cfg.max_request_bytes {
            return false;
        }
        *size += batch_size;
        true
    }

    /// Fails the partition's front batches that outlived `delivery.timeout.ms` while queued.
    /// A batch that was sent before leaves a sequence gap: its partition moves to a new epoch.
    fn expire_front(
        &mut self,
        pq: &mut PartitionQueue,
        now: Instant,
        expired: &mut Vec<(ClosedBatch, Error)>,
    ) {
        let timeout = self.shared.config.delivery_timeout;
        while let Some(front) = pq.ready.front() {
            if now.duration_since(front.created) < timeout {
                break;
            }
            let batch = pq.ready.pop_front().expect("front exists");
            let err =
                Error::message_timed_out(timeout, batch.last_error.as_ref(), batch.fate_unknown);
            log_expired(&batch, &err);
            if batch.stamp.is_some() {
                self.open_sequence_gap(pq);
            }
            expired.push((batch, err));
        }
    }

    /// Stamps a batch with its partition's producer id, epoch and next sequence. A retried
    /// batch keeps the stamp it was sent with as long as its partition's epoch is unchanged
    /// (the broker de-duplicates it); after a gap the partition takes the latest epoch from 0.
    fn stamp(&self, pq: &mut PartitionQueue, batch: &mut ClosedBatch) {
        if !self.shared.config.enable_idempotence {
            return;
        }
        if let Some((id, epoch, _)) = batch.stamp
            && pq.sequence_owner == Some((id, epoch))
        {
            return;
        }
        let owner = match pq.sequence_owner {
            Some(owner) => owner,
            None => {
                let identity = self.identity.expect("drain checks the identity");
                pq.next_sequence = 0;
                *pq.sequence_owner.insert((identity.id, identity.epoch))
            }
        };
        batch.stamp = Some((owner.0, owner.1, pq.next_sequence));
        pq.next_sequence = pq.next_sequence.wrapping_add(batch.record_count() as i32) & i32::MAX;
    }

    /// AddPartitionsToTxn for partitions about to get the transaction's first batch; on failure
    /// their queued batches fail with the error (the transaction must abort, or is fenced).
    async fn add_to_transaction(&mut self, partitions: Vec<(Arc<str>, i32)>) {
        let Some(txn) = &self.shared.txn else {
            return;
        };
        let Err(e) = txn
            .add_partitions(&self.shared.cluster, partitions.clone())
            .await
        else {
            return;
        };
        let mut failed = Vec::new();
        {
            let mut state = self.shared.lock();
            for (topic, index) in &partitions {
                let Some(pq) = state
                    .topics
                    .get_mut(&**topic)
                    .and_then(|tq| tq.partitions.get_mut(*index as usize))
                else {
                    continue;
                };
                failed.extend(pq.ready.drain(..));
            }
            let released = failed.iter().fold((0, 0), |(b, r), batch: &ClosedBatch| {
                (b + batch.accounted, r + batch.record_count())
            });
            state.release(released.0, released.1);
        }
        for batch in failed {
            self.shared.metrics.record_errors(batch.record_count());
            let err = e.clone().with_partition(&batch.topic, batch.partition);
            batch.fail(err);
        }
        self.shared.notify_if_idle();
    }

    /// A sent batch of this partition will never be written with its sequence (or may not have
    /// been): the partition's next batch starts a new epoch at sequence 0. The producer's epoch
    /// is bumped locally unless the partition is already behind it; an exhausted epoch asks
    /// InitProducerId for a new id.
    fn open_sequence_gap(&mut self, pq: &mut PartitionQueue) {
        if !self.shared.config.enable_idempotence {
            return;
        }
        if let Some(txn) = &self.shared.txn {
            // Only the coordinator bumps a transactional epoch: at the next abort.
            pq.sequence_owner = None;
            txn.note_sequence_gap();
            return;
        }
        let Some(owner) = pq.sequence_owner.take() else {
            return;
        };
        let Some(identity) = self.identity.as_mut() else {
            return;
        };
        if owner != (identity.id, identity.epoch) {
            return;
        }
        if identity.epoch >= i16::MAX - 1 {
            tracing::info!(
                producer_id = identity.id,
                "producer epoch exhausted; asking for a new producer id"
            );
            self.identity = None;
        } else {
            identity.epoch += 1;
            tracing::debug!(
                producer_id = identity.id,
                epoch = identity.epoch,
                "producer epoch bumped after a sequence gap"
            );
        }
    }

    /// Asks for metadata (at most once per [`SLOW_REQUEST`]) while a request has gone unanswered
    /// that long, and looks again then.
    fn watch_slow_requests(&mut self, now: Instant, next: &mut NextWake) {
        let Some(oldest) = self.requests.values().map(|r| r.sent_at).min() else {
            return;
        };
        if now.duration_since(oldest) >= SLOW_REQUEST
            && self
                .last_metadata
                .is_none_or(|t| now.duration_since(t) >= SLOW_REQUEST)
        {
            self.want_metadata = true;
        }
        next.at(Some(now + SLOW_REQUEST));
    }

    /// Abandons requests to a broker that no longer leads one of their partitions (a hung
    /// leader was replaced): their batches go to the new leader at once, under the same
    /// sequence numbers, so the broker de-duplicates one the old leader had replicated.
    fn abandon_moved_requests(&mut self, metadata: &Metadata) {
        if !self.shared.config.enable_idempotence {
            // Without sequence numbers a re-send could write the batch twice.
            return;
        }
        for r in self.requests.values_mut() {
            let moved = r.partitions.iter().any(|(topic, partition)| {
                metadata
                    .topics
                    .get(&**topic)
                    .and_then(|t| t.partitions.get(*partition as usize))
                    .is_some_and(|p| p.leader >= 0 && p.leader != r.broker)
            });
            if moved && let Some(abandon) = r.abandon.take() {
                tracing::info!(
                    broker = r.broker,
                    "abandoning a Produce request: leader moved"
                );
                let _ = abandon.send(());
            }
        }
    }

    /// Whether `metadata` is a snapshot not seen by this check before and has topic errors (a
    /// parked record's topic may have failed permanently).
    fn topic_errors_changed(&mut self, metadata: &Arc<Metadata>) -> bool {
        if self
            .metadata_seen
            .as_ref()
            .is_some_and(|seen| Arc::ptr_eq(seen, metadata))
        {
            return false;
        }
        self.metadata_seen = Some(metadata.clone());
        !metadata.topic_errors.is_empty()
    }

    fn start_metadata_refresh(&mut self, now: Instant) {
        if self.metadata.is_some() {
            return;
        }
        if self
            .last_metadata
            .is_some_and(|t| now.duration_since(t) < self.shared.config.client.retry_backoff)
        {
            return;
        }
        self.want_metadata = false;
        self.last_metadata = Some(now);
        let topics: Vec<String> = {
            let state = self.shared.lock();
            state
                .parked
                .iter()
                .map(|p| p.topic().to_string())
                .chain(state.topics.keys().map(|t| t.to_string()))
                .collect()
        };
        let cluster = self.shared.cluster.clone();
        self.metadata = Some(Box::pin(async move {
            let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
            cluster.refresh(&refs).await
        }));
    }

    fn on_metadata(&mut self, result: Result<Arc<Metadata>>) {
        match result {
            Ok(metadata) => {
                self.abandon_moved_requests(&metadata);
                let mut state = self.shared.lock();
                for (name, info) in &metadata.topics {
                    let relevant = state.topics.contains_key(name.as_str())
                        || state.parked.iter().any(|p| &**p.topic() == name.as_str());
                    if relevant {
                        state.set_partition_count(name, info.partitions.len());
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "producer metadata refresh failed");
                if crate::net::is_security_failure(&e) {
                    // A wrong password or an untrusted certificate: fail every record now
                    // instead of retrying until delivery.timeout.ms.
                    self.fatal = Some(e);
                }
                self.want_metadata = true;
            }
        }
    }

    /// A retriable InitProducerId failure: try again after the back-off.
    fn init_failed(&mut self, e: Error) {
        self.init_failures += 1;
        let cfg = &self.shared.config.client;
        let delay =
            crate::net::backoff(cfg.retry_backoff, cfg.retry_backoff_max, self.init_failures);
        self.init_retry_at = Some(Instant::now() + delay);
        tracing::debug!(error = %e, "InitProducerId failed; retrying");
    }

    async fn init_producer_id(&mut self) {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(i32::MAX)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let result: Result<InitProducerIdResponse> =
            self.shared.cluster.request_any(&request).await;
        let result = result.and_then(|r| match Error::from_code(r.error_code) {
            Some(e) => Err(e),
            None => Ok(r),
        });
        match result {
            Ok(r) => {
                tracing::debug!(
                    producer_id = r.producer_id.0,
                    epoch = r.producer_epoch,
                    "producer id"
                );
                self.identity = Some(ProducerIdentity {
                    id: r.producer_id.0,
                    epoch: r.producer_epoch,
                });
                self.init_failures = 0;
                self.init_retry_at = None;
            }
            Err(e) if e.is_retriable() => self.init_failed(e),
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId failed permanently");
                let fatal = Error::new(
                    e.kind().clone(),
                    ErrorClass::Fatal,
                    format!("idempotent producer cannot start: {e}"),
                );
                self.shared.cluster.events().report(fatal.clone());
                self.fatal = Some(fatal);
            }
        }
    }

    /// Encodes the batches (compressing outside the lock, once per batch; retries reuse the
    /// bytes) and sends one Produce request on `conn`. A batch that cannot be encoded fails
    /// alone.
    fn dispatch(
        &mut self,
        broker: i32,
        conn: Arc<Connection>,
        batches: Vec<ClosedBatch>,
        now: Instant,
    ) {
        let (topics, keep) = self.encode_all(batches);
        if keep.is_empty() {
            return;
        }
        let cfg = &self.shared.config;
        // Bounded by the earliest delivery deadline among the batches (librdkafka does the same).
        let earliest = keep.iter().map(|b| b.created + cfg.delivery_timeout).min();
        let timeout = earliest
            .map_or(cfg.client.request_timeout, |t| {
                t.saturating_duration_since(now)
            })
            .clamp(
                MIN_REQUEST_TIMEOUT,
                cfg.client.request_timeout.max(MIN_REQUEST_TIMEOUT),
            );
        // The broker may wait for replicas up to request.timeout.ms; only our wait is shorter.
        let clamped = timeout < cfg.client.request_timeout;
        let request = ProduceRequest::default()
            .with_transactional_id(
                self.shared
                    .txn
                    .as_ref()
                    .map(|t| TransactionalId(StrBytes::from_string(t.transactional_id().into()))),
            )
            .with_acks(cfg.acks.as_i16())
            .with_timeout_ms(cfg.client.request_timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_topic_data(topics);
        let acks = cfg.acks;
        // A transaction of version 1 stays below Produce v12 (v12 adds partitions implicitly).
        let cap = self
            .shared
            .txn
            .as_ref()
            .and_then(|t| t.produce_version_cap());
        *self.per_broker.entry(broker).or_insert(0) += 1;
        let id = self.next_request;
        self.next_request += 1;
        let (abandon, abandoned) = tokio::sync::oneshot::channel::<()>();
        self.requests.insert(
            id,
            InFlight {
                broker,
                partitions: keep
                    .iter()
                    .map(|b| (b.topic.clone(), b.partition))
                    .collect(),
                sent_at: now,
                abandon: Some(abandon),
            },
        );
        let records: usize = keep.iter().map(ClosedBatch::record_count).sum();
        let span = tracing::debug_span!("produce", broker, batches = keep.len(), records);
        self.in_flight.push(Box::pin(
            async move {
                let started = Instant::now();
                let result = if acks == Acks::None {
                    match conn.require_version(ApiKey::Produce) {
                        Ok(version) => conn
                            .send_no_response(&request, version)
                            .await
                            .map(|()| None),
                        Err(e) => Err(e),
                    }
                } else {
                    let answer = async {
                        if clamped {
                            // A slow broker (waiting for replicas) keeps its connection:
                            // closing it would fail every other request on it.
                            conn.request_within(&request, cap, timeout).await
                        } else {
                            // request.timeout.ms without an answer: gone or hung.
                            conn.request_timeout_capped(&request, cap, timeout).await
                        }
                    };
                    tokio::select! {
                        r = answer => r.map(Some),
                        Ok(()) = abandoned => Err(Error::network(
                            "request abandoned: its partitions' leader moved to another broker",
                        )
                        .with_broker(broker)),
                    }
                };
                RequestOutcome {
                    id,
                    broker,
                    batches: keep,
                    result,
                    latency: started.elapsed(),
                }
            }
            .instrument(span),
        ));
    }

    /// The request's topic data and the batches in it; batches that fail to encode are failed.
    fn encode_all(
        &mut self,
        batches: Vec<ClosedBatch>,
    ) -> (Vec<TopicProduceData>, Vec<ClosedBatch>) {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        let mut failed = Vec::new();
        let mut keep = Vec::with_capacity(batches.len());
        for mut batch in batches {
            let bytes = match encode(&mut batch) {
                Ok(b) => b,
                Err(e) => {
                    failed.push((batch, e));
                    continue;
                }
            };
            let partition = PartitionProduceData::default()
                .with_index(batch.partition)
                .with_records(Some(bytes));
            match topics.iter_mut().find(|t| *t.name.0 == *batch.topic) {
                Some(t) => t.partition_data.push(partition),
                None => topics.push(
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(batch.topic.to_string())))
                        .with_partition_data(vec![partition]),
                ),
            }
            keep.push(batch);
        }
        if !failed.is_empty() {
            self.finish(failed.into_iter().map(|(b, e)| (b, Err(e))).collect());
            // Those partitions' open batches were left open while in flight: look again.
            self.shared.wake_sender();
        }
        (topics, keep)
    }

    /// Handles a Produce outcome: each batch is delivered, retried (back at the head of its
    /// partition's queue, so order holds) or failed; leaders named in the response are used.
    fn handle(&mut self, outcome: RequestOutcome) {
        let RequestOutcome {
            id,
            broker,
            batches,
            result,
            latency,
        } = outcome;
        self.requests.remove(&id);
        if let Some(n) = self.per_broker.get_mut(&broker) {
            *n = n.saturating_sub(1);
        }
        self.shared.metrics.record_request(latency);
        let verdicts = match result {
            Ok(None) => batches
                .into_iter()
                .map(|b| (b, Verdict::Delivered(-1, -1)))
                .collect(),
            Ok(Some(response)) => self.judge_response(broker, batches, &response),
            Err(e) => self.judge_lost_request(batches, &e),
        };
        let mut done = Vec::new();
        let mut retry = Vec::new();
        for (batch, verdict) in verdicts {
            match verdict {
                Verdict::Delivered(offset, time) => done.push((batch, Ok((offset, time)))),
                Verdict::Fail(e) => done.push((batch, Err(e))),
                Verdict::Retry(e) => retry.push((batch, e)),
            }
        }
        self.requeue(retry, &mut done);
        self.finish(done);
    }

    /// Verdicts for a request that got no response: every batch may have been written, so each
    /// keeps its stamp and is retried (the broker de-duplicates), unless its error is final.
    fn judge_lost_request(
        &mut self,
        batches: Vec<ClosedBatch>,
        e: &Error,
    ) -> Vec<(ClosedBatch, Verdict)> {
        if needs_metadata_refresh(e) {
            self.want_metadata = true;
        }
        batches
            .into_iter()
            .map(|mut b| {
                b.fate_unknown = true;
                let verdict = self.classify(&b, e.clone());
                (b, verdict)
            })
            .collect()
    }

    /// Verdicts from a Produce response, applying the leaders it names (KIP-951).
    fn judge_response(
        &mut self,
        broker: i32,
        batches: Vec<ClosedBatch>,
        response: &ProduceResponse,
    ) -> Vec<(ClosedBatch, Verdict)> {
        let mut hints = Vec::new();
        let verdicts: Vec<_> = batches
            .into_iter()
            .map(|mut b| {
                let verdict = match find_partition(response, &b) {
                    None => Verdict::Retry(
                        Error::network("partition missing from the Produce response")
                            .with_broker(broker),
                    ),
                    Some(p) => {
                        if p.current_leader.leader_id.0 >= 0 && p.error_code != 0 {
                            hints.push(LeaderHint {
                                topic: b.topic.to_string(),
                                partition: b.partition,
                                leader: p.current_leader.leader_id.0,
                                leader_epoch: p.current_leader.leader_epoch,
                            });
                        }
                        self.judge_partition(broker, &mut b, p)
                    }
                };
                (b, verdict)
            })
            .collect();
        if !hints.is_empty() {
            let endpoints: Vec<BrokerInfo> = response
                .node_endpoints
                .iter()
                .map(|n| BrokerInfo {
                    id: n.node_id.0,
                    host: n.host.to_string(),
                    port: n.port,
                    rack: n.rack.as_ref().map(|r| r.to_string()),
                })
                .collect();
            if self.shared.cluster.apply_leader_hints(&hints, &endpoints) > 0 {
                let metadata = self.shared.cluster.metadata();
                self.abandon_moved_requests(&metadata);
            }
        }
        verdicts
    }

    /// One partition's verdict from its part of a Produce response.
    fn judge_partition(
        &mut self,
        broker: i32,
        batch: &mut ClosedBatch,
        p: &PartitionProduceResponse,
    ) -> Verdict {
        use ResponseError as E;
        let error = Error::from_code_msg(p.error_code, p.error_message.as_deref());
        // The leader appended the batch but its replicas did not confirm in time: it may still
        // be committed.
        batch.fate_unknown = matches!(
            error.as_ref().and_then(Error::response_error),
            Some(E::RequestTimedOut | E::NotEnoughReplicasAfterAppend)
        );
        match error {
            None => Verdict::Delivered(p.base_offset, p.log_append_time_ms),
            // Already written by an earlier attempt: delivered, offset unknown.
            Some(e) if e.code() == Some(ResponseError::DuplicateSequenceNumber.code()) => {
                Verdict::Delivered(-1, p.log_append_time_ms)
            }
            Some(e) => self.classify(batch, e.with_broker(broker)),
        }
    }

    /// Retry or fail, by the error. Sequence errors (KIP-360) are retried under a new epoch: the
    /// batch was certainly not written, so its partition starts over (see [`Sender::requeue`]).
    fn classify(&mut self, batch: &ClosedBatch, e: Error) -> Verdict {
        use ResponseError as E;
        let idempotent = self.shared.config.enable_idempotence;
        let transactional = self.shared.txn.is_some();
        match e.response_error() {
            // A transactional producer's epoch is the coordinator's: an old one means fenced.
            Some(E::InvalidProducerEpoch | E::ProducerFenced) if transactional => Verdict::Fail(e),
            Some(E::OutOfOrderSequenceNumber | E::UnknownProducerId | E::InvalidProducerEpoch)
                if idempotent && batch.stamp.is_some() && !transactional =>
            {
                Verdict::Retry(e)
            }
            _ if e.is_retriable() => {
                if needs_metadata_refresh(&e) {
                    self.want_metadata = true;
                }
                Verdict::Retry(e)
            }
            _ => Verdict::Fail(e),
        }
    }

    /// Puts retried batches back at the head of their partitions (with a back-off, skipped when
    /// the response named a new leader); those out of retries or time fail instead.
    fn requeue(
        &mut self,
        retry: Vec<(ClosedBatch, Error)>,
        done: &mut Vec<(ClosedBatch, Delivery)>,
    ) {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let now = Instant::now();
        let metadata = shared.cluster.metadata();
        let mut state = shared.lock();
        for (mut b, e) in retry {
            b.attempts += 1;
            let sequence_error = is_sequence_error(&e);
            let Some(pq) = partition_queue(&mut state, &b) else {
                done.push((b, Err(e)));
                continue;
            };
            pq.in_flight = false;
            if now.duration_since(b.created) >= cfg.delivery_timeout || b.attempts > cfg.retries {
                let err = if b.attempts > cfg.retries {
                    e
                } else {
                    Error::message_timed_out(cfg.delivery_timeout, Some(&e), b.fate_unknown)
                };
                log_expired(&b, &err);
                self.open_sequence_gap(pq);
                done.push((b, Err(err)));
                continue;
            }
            if sequence_error {
                // Not written: the partition starts a new epoch and the batch is re-stamped.
                self.open_sequence_gap(pq);
                b.stamp = None;
            }
            tracing::debug!(topic = %b.topic, partition = b.partition, attempt = b.attempts, error = %e, "retrying batch");
            self.shared.metrics.record_retry();
            let moved = leader_of(&metadata, &b) != b.last_leader;
            b.retry_at = (!moved).then(|| {
                now + crate::net::backoff(
                    cfg.client.retry_backoff,
                    cfg.client.retry_backoff_max,
                    b.attempts,
                )
            });
            b.last_error = Some(e);
            pq.ready.push_front(b);
        }
    }

    /// Releases buffer space, clears the in-flight marks and resolves the records' futures.
    fn finish(&mut self, done: Vec<(ClosedBatch, Delivery)>) {
        let shared = self.shared.clone();
        let mut state = shared.lock();
        for (b, result) in &done {
            state.release(b.accounted, b.record_count());
            let gap = result.is_err() && b.stamp.is_some();
            if let Some(pq) = partition_queue(&mut state, b) {
                pq.in_flight = false;
                if gap {
                    self.open_sequence_gap(pq);
                }
            }
        }
        drop(state);
        for (b, r) in done {
            match r {
                Ok((offset, append_time)) => {
                    self.shared
                        .metrics
                        .record_delivered(b.record_count(), b.accounted);
                    b.complete(offset, append_time);
                }
                Err(e) => {
                    self.shared.metrics.record_errors(b.record_count());
                    if let Some(fatal) = self.shared.txn.as_ref().and_then(|t| t.record_failure(&e))
                    {
                        self.shared.cluster.events().report(fatal);
                    }
                    b.fail(e);
                }
            }
        }
        self.shared.notify_if_idle();
    }

    /// Fails every buffered and parked record with a fatal error (the producer cannot go on).
    fn fail_everything(&mut self, error: Error) {
        let mut failed = Vec::new();
        let parked: Vec<_> = {
            let mut state = self.shared.lock();
            state.closing = true;
            let _ = state.close_lingering(Duration::ZERO, Duration::ZERO, Instant::now());
            for tq in state.topics.values_mut() {
                for pq in &mut tq.partitions {
                    failed.extend(pq.ready.drain(..));
                }
            }
            for b in &failed {
                state.release(b.accounted, b.record_count());
            }
            state.parked.drain(..).collect()
        };
        for p in parked {
            p.fail(error.clone());
        }
        for b in failed {
            b.fail(error.clone());
        }
        self.shared.notify_if_idle();
    }
}

/// (base offset, log-append time) or the error a batch ends with.
type Delivery = std::result::Result<(i64, i64), Error>;

fn is_sequence_error(e: &Error) -> bool {
    use ResponseError as E;
    matches!(
        e.response_error(),
        Some(E::OutOfOrderSequenceNumber | E::UnknownProducerId | E::InvalidProducerEpoch)
    )
}

fn find_partition<'r>(
    response: &'r ProduceResponse,
    b: &ClosedBatch,
) -> Option<&'r PartitionProduceResponse> {
    response
        .responses
        .iter()
        .find(|t| *t.name.0 == *b.topic)
        .and_then(|t| {
            t.partition_responses
                .iter()
                .find(|p| p.index == b.partition)
        })
}

fn partition_queue<'s>(state: &'s mut State, b: &ClosedBatch) -> Option<&'s mut PartitionQueue> {
    state
        .topics
        .get_mut(&*b.topic)
        .and_then(|t| t.partitions.get_mut(b.partition as usize))
}

fn leader_of(metadata: &Metadata, b: &ClosedBatch) -> Option<i32> {
    metadata
        .topics
        .get(&*b.topic)
        .and_then(|t| t.partitions.get(b.partition as usize))
        .map(|p| p.leader)
}

fn log_expired(batch: &ClosedBatch, err: &Error) {
    tracing::warn!(
        topic = %batch.topic,
        partition = batch.partition,
        records = batch.record_count(),
        possibly_persisted = err.possibly_persisted(),
        error = %err,
        "batch failed"
    );
}

/// The batch's wire bytes, stamped with its producer id/epoch/sequence when idempotent.
fn encode(batch: &mut ClosedBatch) -> Result<Bytes> {
    let bytes = match std::mem::replace(&mut batch.payload, Payload::Encoded(Bytes::new())) {
        Payload::Builder(mut builder) => {
            if let Some((id, epoch, seq)) = batch.stamp {
                let mut options = *builder.options();
                options.producer_id = id;
                options.producer_epoch = epoch;
                options.base_sequence = seq;
                builder.set_options(options);
            }
            builder.finish()?
        }
        Payload::Encoded(bytes) => match batch.stamp {
            Some((id, epoch, seq)) => restamp(bytes, id, epoch, seq),
            None => bytes,
        },
    };
    batch.payload = Payload::Encoded(bytes.clone());
    Ok(bytes)
}

/// Rewrites producer id, epoch and base sequence of an encoded batch (they are inside the CRC,
/// so the CRC is recomputed). Only needed when a batch is re-sent under a new epoch.
fn restamp(bytes: Bytes, id: i64, epoch: i16, seq: i32) -> Bytes {
    const PRODUCER_ID: usize = 43;
    const CRC: usize = 17;
    const CRC_FROM: usize = 21;
    if bytes.len() < crate::records::BATCH_HEADER_LEN {
        return bytes;
    }
    let current = (
        i64::from_be_bytes(bytes[43..51].try_into().expect("8 bytes")),
        i16::from_be_bytes(bytes[51..53].try_into().expect("2 bytes")),
        i32::from_be_bytes(bytes[53..57].try_into().expect("4 bytes")),
    );
    if current == (id, epoch, seq) {
        return bytes;
    }
    let mut buf = bytes
        .try_into_mut()
        .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
    buf[PRODUCER_ID..PRODUCER_ID + 8].copy_from_slice(&id.to_be_bytes());
    buf[51..53].copy_from_slice(&epoch.to_be_bytes());
    buf[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&buf[CRC_FROM..]);
    buf[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BatchOptions, RecordBatch, RecordBatchBuilder};

    #[test]
    fn restamp_rewrites_identity_and_keeps_the_crc_valid() {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 0,
            ..BatchOptions::default()
        });
        b.push(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        let bytes = b.finish().unwrap();
        let out = restamp(bytes, 9, 2, 42);
        let batch = RecordBatch::parse(out).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(
            (
                batch.header.producer_id,
                batch.header.producer_epoch,
                batch.header.base_sequence
            ),
            (9, 2, 42)
        );
    }
}
