//! The sender: one background task per producer that closes lingering batches, drains every
//! ready partition a broker leads into one Produce request per broker (up to
//! `max.in.flight.requests.per.connection` per broker, one batch in flight per partition so
//! retries keep per-partition order), and resolves, retries or fails batches from responses.
//!
//! Idempotence: the producer id/epoch come from InitProducerId; a batch is stamped with its
//! partition's next sequence when first sent and keeps that stamp across retries (the broker
//! de-duplicates). OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID, or a batch that expired
//! after being sent, bump the epoch (KIP-360) once nothing is in flight; sequences restart at 0.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cluster::{Metadata, needs_metadata_refresh};
use crate::config::Acks;
use crate::error::{Error, ErrorClass, ErrorKind, ResponseError, Result};

use super::Shared;
use super::accumulator::{ClosedBatch, Payload};

type RequestFuture = Pin<Box<dyn Future<Output = RequestOutcome> + Send>>;
type MetadataFuture = Pin<Box<dyn Future<Output = Result<Arc<Metadata>>> + Send>>;

struct RequestOutcome {
    broker: i32,
    batches: Vec<ClosedBatch>,
    result: Result<Option<ProduceResponse>>,
    latency: Duration,
}

/// Producer id and epoch for idempotent sends.
#[derive(Debug, Clone, Copy)]
struct ProducerIdentity {
    id: i64,
    epoch: i16,
}

struct Sender {
    shared: Arc<Shared>,
    in_flight: FuturesUnordered<RequestFuture>,
    per_broker: HashMap<i32, usize>,
    metadata: Option<MetadataFuture>,
    want_metadata: bool,
    last_metadata: Option<Instant>,
    identity: Option<ProducerIdentity>,
    need_bump: bool,
    init_retry_at: Option<Instant>,
    init_failures: u32,
    fatal: Option<Error>,
    /// The metadata snapshot whose topic errors were last checked against the parked records
    /// (held, so a new snapshot can never be mistaken for it).
    metadata_seen: Option<Arc<Metadata>>,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut sender = Sender {
        shared,
        in_flight: FuturesUnordered::new(),
        per_broker: HashMap::new(),
        metadata: None,
        want_metadata: false,
        last_metadata: None,
        identity: None,
        need_bump: false,
        init_retry_at: None,
        init_failures: 0,
        fatal: None,
        metadata_seen: None,
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

    /// One pass: admit parked records, expire what timed out, close lingering batches, and send
    /// what is ready. Returns when the sender must look again at the latest.
    async fn pass(&mut self, now: Instant) -> Option<Instant> {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut next: Option<Instant> = None;
        let mut merge = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        if let Some(fatal) = self.fatal.clone() {
            self.fail_everything(fatal);
            return None;
        }
        // Idempotence: make sure we have a producer id (or a bumped epoch) before sending.
        if cfg.enable_idempotence && (self.identity.is_none() || self.need_bump) {
            if !self.in_flight.is_empty() {
                // Bump only once the old epoch's requests are answered.
                return Some(now + Duration::from_millis(100));
            }
            let due = self.init_retry_at.is_none_or(|t| t <= now);
            let has_work = !self.shared.lock().is_idle();
            if due && has_work {
                self.init_producer_id().await;
            }
            if self.identity.is_none() || self.need_bump {
                merge(self.init_retry_at);
                merge(Some(now + Duration::from_millis(100)));
                self.expire_and_admit(now, &mut merge);
                return next;
            }
        }
        let metadata = self.shared.cluster.metadata();
        let errors_changed = self.topic_errors_changed(&metadata);
        let mut batches_by_broker: HashMap<i32, Vec<ClosedBatch>> = HashMap::new();
        let mut expired: Vec<(ClosedBatch, Error)> = Vec::new();
        {
            let mut state = self.shared.lock();
            let (_, missing) = state.admit_parked(&self.shared.limits, now);
            if missing.is_some() {
                self.want_metadata = true;
            }
            let topic_errors = &metadata.topic_errors;
            state.expire_parked(&self.shared.limits, now, errors_changed, |t| {
                topic_errors.get(t).cloned()
            });
            if !state.parked.is_empty() {
                merge(Some(now + Duration::from_millis(50)));
            }
            merge(state.close_lingering(cfg.linger, now));
            state.ready_hint = false;
            let max_in_flight = cfg.max_in_flight;
            let mut request_bytes: HashMap<i32, usize> = HashMap::new();
            for tq in state.topics.values_mut() {
                let topic_meta = metadata.topics.get(&*tq.name);
                for (index, pq) in tq.partitions.iter_mut().enumerate() {
                    if pq.in_flight {
                        continue;
                    }
                    // Expire batches that outlived delivery.timeout.ms while waiting.
                    while let Some(front) = pq.ready.front() {
                        if now.duration_since(front.created) < cfg.delivery_timeout {
                            break;
                        }
                        let batch = pq.ready.pop_front().expect("front exists");
                        let err = batch.last_error.clone().map_or_else(
                            || {
                                Error::timeout(format!(
                                    "record not delivered within delivery.timeout.ms ({:?})",
                                    cfg.delivery_timeout
                                ))
                            },
                            |e| {
                                Error::new(
                                    ErrorKind::Timeout,
                                    e.class(),
                                    format!(
                                        "delivery.timeout.ms ({:?}) expired; last error: {e}",
                                        cfg.delivery_timeout
                                    ),
                                )
                            },
                        );
                        if batch.stamp.is_some() {
                            // A sent-but-failed batch leaves a sequence gap: bump the epoch.
                            self.need_bump = true;
                        }
                        expired.push((batch, err));
                    }
                    let Some(front) = pq.ready.front() else {
                        continue;
                    };
                    if let Some(at) = front.retry_at
                        && at > now
                    {
                        merge(Some(at));
                        continue;
                    }
                    if self.need_bump && cfg.enable_idempotence {
                        continue;
                    }
                    let leader = topic_meta
                        .and_then(|t| t.partitions.get(index))
                        .map(|p| p.leader)
                        .filter(|l| metadata.brokers.contains_key(l));
                    let Some(leader) = leader else {
                        self.want_metadata = true;
                        merge(Some(now + cfg.client.retry_backoff));
                        continue;
                    };
                    let in_flight = self.per_broker.get(&leader).copied().unwrap_or(0);
                    if in_flight >= max_in_flight {
                        continue;
                    }
                    let size = request_bytes.entry(leader).or_insert(0);
                    let batch_size = match &front.payload {
                        Payload::Builder(b) => b.estimated_size(),
                        Payload::Encoded(b) => b.len(),
                    };
                    if *size > 0 && *size + batch_size > cfg.max_request_bytes {
                        continue;
                    }
                    *size += batch_size;
                    let mut batch = pq.ready.pop_front().expect("front exists");
                    pq.in_flight = true;
                    if cfg.enable_idempotence {
                        let identity = self.identity.expect("checked above");
                        let stale = batch.stamp.is_none_or(|(id, epoch, _)| {
                            id != identity.id || epoch != identity.epoch
                        });
                        if stale {
                            if pq.sequence_epoch != identity.epoch {
                                pq.sequence_epoch = identity.epoch;
                                pq.next_sequence = 0;
                            }
                            batch.stamp = Some((identity.id, identity.epoch, pq.next_sequence));
                            pq.next_sequence =
                                pq.next_sequence.wrapping_add(batch.record_count() as i32)
                                    & i32::MAX;
                        }
                    }
                    batches_by_broker.entry(leader).or_default().push(batch);
                }
            }
            let released: (usize, usize) = expired.iter().fold((0, 0), |(b, r), (batch, _)| {
                (b + batch.accounted, r + batch.record_count())
            });
            state.release(released.0, released.1);
        }
        for (batch, err) in expired {
            self.shared.metrics.record_errors(batch.record_count());
            batch.fail(err);
        }
        self.shared.notify_if_idle();
        // Periodic refresh (metadata.max.age.ms): picks up added partitions and moved leaders
        // even when no request failed.
        if self.shared.cluster.is_stale() && !self.shared.lock().topics.is_empty() {
            self.want_metadata = true;
        }
        if self.want_metadata {
            self.start_metadata_refresh(now);
            merge(Some(now + cfg.client.retry_backoff));
        }
        for (broker, batches) in batches_by_broker {
            self.send(broker, batches);
        }
        if !self.shared.lock().is_idle() {
            // Coarse tick for timeouts of queued batches.
            merge(Some(now + Duration::from_millis(200)));
        }
        next
    }

    fn expire_and_admit(&mut self, now: Instant, merge: &mut impl FnMut(Option<Instant>)) {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let metadata = self.shared.cluster.metadata();
        let errors_changed = self.topic_errors_changed(&metadata);
        let mut state = self.shared.lock();
        let (_, missing) = state.admit_parked(&self.shared.limits, now);
        if missing.is_some() {
            self.want_metadata = true;
        }
        state.expire_parked(&self.shared.limits, now, errors_changed, |t| {
            metadata.topic_errors.get(t).cloned()
        });
        merge(state.close_lingering(cfg.linger, now));
        drop(state);
        if self.want_metadata {
            self.start_metadata_refresh(now);
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
                self.want_metadata = true;
            }
        }
    }

    async fn init_producer_id(&mut self) {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let (id, epoch) = match (self.identity, self.need_bump) {
            // Epoch exhaustion needs a fresh producer id.
            (Some(i), true) if i.epoch < i16::MAX - 1 => (i.id, i.epoch),
            _ => (-1, -1),
        };
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(i32::MAX)
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch);
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
                    bump = self.need_bump,
                    "producer id"
                );
                self.identity = Some(ProducerIdentity {
                    id: r.producer_id.0,
                    epoch: r.producer_epoch,
                });
                self.need_bump = false;
                self.init_failures = 0;
                self.init_retry_at = None;
            }
            Err(e)
                if e.is_retriable()
                    || e.code() == Some(ResponseError::UnsupportedVersion.code()) && id >= 0 =>
            {
                if e.code() == Some(ResponseError::UnsupportedVersion.code()) {
                    // An old broker cannot bump: start over with a new producer id.
                    self.identity = None;
                }
                self.init_failures += 1;
                let delay = crate::net::backoff(
                    cfg.client.retry_backoff,
                    cfg.client.retry_backoff_max,
                    self.init_failures,
                );
                self.init_retry_at = Some(Instant::now() + delay);
                tracing::debug!(error = %e, "InitProducerId failed; retrying");
            }
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId failed permanently");
                self.fatal = Some(Error::new(
                    e.kind().clone(),
                    ErrorClass::Fatal,
                    format!("idempotent producer cannot start: {e}"),
                ));
            }
        }
    }

    fn send(&mut self, broker: i32, mut batches: Vec<ClosedBatch>) {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        // Encode (compress) outside the lock, once per batch; retries reuse the bytes.
        let mut topics: Vec<TopicProduceData> = Vec::new();
        let mut failed = Vec::new();
        let mut keep = Vec::with_capacity(batches.len());
        for mut batch in batches.drain(..) {
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
            let mut state = self.shared.lock();
            for (batch, _) in &failed {
                state.release(batch.accounted, batch.record_count());
                if let Some(pq) = state
                    .topics
                    .get_mut(&*batch.topic)
                    .and_then(|t| t.partitions.get_mut(batch.partition as usize))
                {
                    pq.in_flight = false;
                }
            }
            drop(state);
            for (batch, e) in failed {
                batch.fail(e);
            }
            self.shared.notify_if_idle();
            // Those partitions' open batches were left open while in flight: look again.
            self.shared.wake_sender();
        }
        if keep.is_empty() {
            return;
        }
        let request = ProduceRequest::default()
            .with_acks(cfg.acks.as_i16())
            .with_timeout_ms(cfg.client.request_timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_topic_data(topics);
        let cluster = self.shared.cluster.clone();
        let acks = cfg.acks;
        let timeout = cfg.client.request_timeout;
        *self.per_broker.entry(broker).or_insert(0) += 1;
        let records: usize = keep.iter().map(ClosedBatch::record_count).sum();
        let span = tracing::debug_span!("produce", broker, batches = keep.len(), records);
        self.in_flight.push(Box::pin(
            async move {
                let started = Instant::now();
                let result = async {
                    let conn = cluster.connection(broker).await?;
                    if acks == Acks::None {
                        let version = conn.require_version(ApiKey::Produce)?;
                        conn.send_no_response(&request, version)
                            .await
                            .map(|()| None)
                    } else {
                        conn.request_timeout(&request, timeout).await.map(Some)
                    }
                }
                .await;
                RequestOutcome {
                    broker,
                    batches: keep,
                    result,
                    latency: started.elapsed(),
                }
            }
            .instrument(span),
        ));
    }

    fn handle(&mut self, outcome: RequestOutcome) {
        let RequestOutcome {
            broker,
            batches,
            result,
            latency,
        } = outcome;
        if let Some(n) = self.per_broker.get_mut(&broker) {
            *n = n.saturating_sub(1);
        }
        self.shared.metrics.record_request(latency);
        let now = Instant::now();
        let mut done: Vec<(ClosedBatch, Delivery)> = Vec::new();
        let mut retry: Vec<ClosedBatch> = Vec::new();
        match result {
            Ok(None) => {
                for b in batches {
                    done.push((b, Ok((-1, -1))));
                }
            }
            Ok(Some(response)) => {
                for mut b in batches {
                    let part = response
                        .responses
                        .iter()
                        .find(|t| *t.name.0 == *b.topic)
                        .and_then(|t| {
                            t.partition_responses
                                .iter()
                                .find(|p| p.index == b.partition)
                        });
                    let Some(p) = part else {
                        b.last_error = Some(
                            Error::network("partition missing from the Produce response")
                                .with_broker(broker),
                        );
                        retry.push(b);
                        continue;
                    };
                    match Error::from_code_msg(p.error_code, p.error_message.as_deref()) {
                        None => done.push((b, Ok((p.base_offset, p.log_append_time_ms)))),
                        Some(e)
                            if e.code() == Some(ResponseError::DuplicateSequenceNumber.code()) =>
                        {
                            // Already written by an earlier attempt: delivered, offset unknown.
                            done.push((b, Ok((-1, p.log_append_time_ms))));
                        }
                        Some(e) => {
                            let e = e.with_broker(broker);
                            match self.classify(&b, &e) {
                                Next::Retry => {
                                    b.last_error = Some(e);
                                    retry.push(b);
                                }
                                Next::Fail => done.push((b, Err(e))),
                            }
                        }
                    }
                }
            }
            Err(e) => {
                if needs_metadata_refresh(&e) {
                    self.want_metadata = true;
                }
                for mut b in batches {
                    match self.classify(&b, &e) {
                        Next::Retry => {
                            b.last_error = Some(e.clone());
                            retry.push(b);
                        }
                        Next::Fail => done.push((b, Err(e.clone()))),
                    }
                }
            }
        }
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut state = shared.lock();
        for b in &done {
            state.release(b.0.accounted, b.0.record_count());
        }
        for mut b in retry {
            b.attempts += 1;
            let expired = now.duration_since(b.created) >= cfg.delivery_timeout;
            if b.attempts > cfg.retries || expired {
                let last = b
                    .last_error
                    .clone()
                    .unwrap_or_else(|| Error::timeout("retries exhausted"));
                if b.stamp.is_some() {
                    self.need_bump = true;
                }
                state.release(b.accounted, b.record_count());
                done.push((b, Err(last)));
                continue;
            }
            if b.last_error.as_ref().is_some_and(needs_metadata_refresh) {
                self.want_metadata = true;
            }
            self.shared.metrics.record_retry();
            b.retry_at = Some(
                now + crate::net::backoff(
                    cfg.client.retry_backoff,
                    cfg.client.retry_backoff_max,
                    b.attempts,
                ),
            );
            let (topic, partition) = (b.topic.clone(), b.partition);
            if let Some(pq) = state
                .topics
                .get_mut(&*topic)
                .and_then(|t| t.partitions.get_mut(partition as usize))
            {
                pq.in_flight = false;
                pq.ready.push_front(b);
            }
        }
        for (b, _) in &done {
            if let Some(pq) = state
                .topics
                .get_mut(&*b.topic)
                .and_then(|t| t.partitions.get_mut(b.partition as usize))
            {
                pq.in_flight = false;
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
                    b.fail(e);
                }
            }
        }
        self.shared.notify_if_idle();
    }

    fn classify(&mut self, batch: &ClosedBatch, e: &Error) -> Next {
        use ResponseError as E;
        let current = self.identity;
        match e.response_error() {
            Some(E::OutOfOrderSequenceNumber | E::UnknownProducerId)
                if self.shared.config.enable_idempotence =>
            {
                // KIP-360: bump the epoch and resend with fresh sequences.
                if batch.stamp.map(|s| s.1) == current.map(|c| c.epoch) {
                    self.need_bump = true;
                }
                Next::Retry
            }
            Some(E::InvalidProducerEpoch)
                if batch.stamp.map(|s| s.1) != current.map(|c| c.epoch) =>
            {
                Next::Retry
            }
            _ if e.is_retriable() => {
                if needs_metadata_refresh(e) {
                    self.want_metadata = true;
                }
                Next::Retry
            }
            _ => Next::Fail,
        }
    }

    fn fail_everything(&mut self, error: Error) {
        let mut failed = Vec::new();
        {
            let mut state = self.shared.lock();
            state.closing = true;
            for tq in state.topics.values_mut() {
                for pq in &mut tq.partitions {
                    failed.extend(pq.ready.drain(..));
                }
            }
            let _ = state.close_lingering(Duration::ZERO, Instant::now());
            for tq in state.topics.values_mut() {
                for pq in &mut tq.partitions {
                    failed.extend(pq.ready.drain(..));
                }
            }
            for b in &failed {
                state.release(b.accounted, b.record_count());
            }
            let parked: Vec<_> = state.parked.drain(..).collect();
            drop(state);
            for p in parked {
                p.fail(error.clone());
            }
        }
        for b in failed {
            b.fail(error.clone());
        }
        self.shared.notify_if_idle();
    }
}

/// (base offset, log-append time) or the error a batch ends with.
type Delivery = std::result::Result<(i64, i64), Error>;

enum Next {
    Retry,
    Fail,
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
