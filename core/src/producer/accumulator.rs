//! The record accumulator: per-partition batches being filled, closed batches waiting to be
//! sent, records parked until their topic's metadata or buffer space is available, and the
//! buffer accounting behind `queue.buffering.max.kbytes` / `.messages`.
//!
//! Everything lives under one mutex, held only for appends and for moving batches in and out;
//! compression and I/O happen outside it (in the sender).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::config::{Partitioner, ProducerConfig};
use crate::error::{Error, ErrorClass, ErrorKind, ResponseError, Result};
use crate::records::{BatchOptions, RecordBatchBuilder, RecordHeader};

use super::partitioner::{self, Choice};
use super::{DeliveryReport, ProducerRecord};

pub(crate) type Reply = oneshot::Sender<Result<DeliveryReport>>;

/// One record's completion slot within a batch.
pub(crate) struct Waiter {
    pub reply: Reply,
    pub timestamp: i64,
}

/// A batch being filled.
pub(crate) struct OpenBatch {
    builder: RecordBatchBuilder,
    waiters: Vec<Waiter>,
    created: Instant,
    accounted: usize,
}

/// A batch's bytes: still a builder (compressed on first send, outside the lock) or encoded.
pub(crate) enum Payload {
    Builder(RecordBatchBuilder),
    Encoded(Bytes),
}

/// A closed batch, waiting to be sent or being retried.
pub(crate) struct ClosedBatch {
    pub topic: Arc<str>,
    pub partition: i32,
    pub payload: Payload,
    pub waiters: Vec<Waiter>,
    pub created: Instant,
    /// Buffer bytes this batch holds (released when it completes).
    pub accounted: usize,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    /// (producer id, epoch, base sequence) once stamped for an idempotent send.
    pub stamp: Option<(i64, i16, i32)>,
    pub last_error: Option<Error>,
}

impl ClosedBatch {
    pub fn record_count(&self) -> usize {
        self.waiters.len()
    }

    /// Resolves every record of this batch with its own result.
    pub fn complete(self, base_offset: i64, log_append_time: i64) {
        for (i, w) in self.waiters.into_iter().enumerate() {
            let offset = if base_offset >= 0 {
                base_offset + i as i64
            } else {
                -1
            };
            let timestamp = if log_append_time >= 0 {
                log_append_time
            } else {
                w.timestamp
            };
            let _ = w.reply.send(Ok(DeliveryReport {
                partition: self.partition,
                offset,
                timestamp,
            }));
        }
    }

    /// Resolves every record of this batch with `error`.
    pub fn fail(self, error: Error) {
        let error = error.with_partition(&self.topic, self.partition);
        for w in self.waiters {
            let _ = w.reply.send(Err(error.clone()));
        }
    }
}

/// A partition's queues and idempotence state.
#[derive(Default)]
pub(crate) struct PartitionQueue {
    pub open: Option<OpenBatch>,
    pub ready: VecDeque<ClosedBatch>,
    pub in_flight: bool,
    /// Next sequence to stamp, valid for `sequence_epoch`.
    pub next_sequence: i32,
    pub sequence_epoch: i16,
}

/// A topic's partitions (from metadata) and its sticky partition.
pub(crate) struct TopicQueues {
    pub name: Arc<str>,
    pub partitions: Vec<PartitionQueue>,
    sticky: Option<i32>,
}

/// A record held back (topic metadata unknown, or the buffer is full), with owned data.
pub(crate) struct Parked {
    topic: Arc<str>,
    partition: Option<i32>,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<RecordHeader>,
    timestamp: i64,
    reply: Reply,
    /// When it fails with a queue-full error (buffer full) — None while waiting for metadata.
    block_deadline: Option<Instant>,
    parked_at: Instant,
}

impl Parked {
    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    pub fn fail(self, error: Error) {
        let _ = self.reply.send(Err(error.with_topic(&self.topic)));
    }
}

/// The accumulator state (under the producer's mutex).
pub(crate) struct State {
    pub topics: HashMap<Arc<str>, TopicQueues, crate::random::FastHash>,
    pub parked: VecDeque<Parked>,
    pub buffered_bytes: usize,
    pub buffered_records: usize,
    /// Set by flush(): batches are sent without waiting for linger.
    pub flushing: usize,
    pub closing: bool,
    /// A batch became ready (full) since the sender last looked.
    pub ready_hint: bool,
}

/// Outcome of an append attempt, for the caller to act on outside the lock.
pub(crate) enum Appended {
    /// In a batch; `wake` if the sender should look now (new or full batch).
    Done { wake: bool },
    /// Parked until metadata for the topic arrives.
    NeedsMetadata,
    /// Parked until buffer space frees up.
    Parked,
}

pub(crate) struct Limits {
    pub batch_size: usize,
    pub batch_num_messages: usize,
    pub buffer_bytes: usize,
    pub buffer_records: usize,
    pub max_request_bytes: usize,
    pub partitioner: Partitioner,
    pub options: BatchOptions,
    pub max_block: std::time::Duration,
}

impl Limits {
    pub fn new(config: &ProducerConfig) -> Limits {
        Limits {
            batch_size: config.batch_size.min(config.max_request_bytes),
            batch_num_messages: config.batch_num_messages,
            buffer_bytes: config.buffer_bytes,
            buffer_records: config.buffer_messages,
            max_request_bytes: config.max_request_bytes,
            partitioner: config.partitioner,
            options: BatchOptions {
                compression: config.compression,
                compression_level: config.compression_level,
                ..BatchOptions::default()
            },
            max_block: config.max_block,
        }
    }
}

fn queue_full(limits: &Limits, state: &State) -> Error {
    Error::new(
        ErrorKind::QueueFull,
        ErrorClass::Retriable,
        format!(
            "producer queue is full ({} records, {} bytes buffered; limits queue.buffering.max.messages={}, queue.buffering.max.kbytes={})",
            state.buffered_records,
            state.buffered_bytes,
            limits.buffer_records,
            limits.buffer_bytes / 1024
        ),
    )
}

impl State {
    pub fn new() -> State {
        State {
            topics: HashMap::default(),
            parked: VecDeque::new(),
            buffered_bytes: 0,
            buffered_records: 0,
            flushing: 0,
            closing: false,
            ready_hint: false,
        }
    }

    /// Sets (or updates) a topic's partition count from metadata.
    pub fn set_partition_count(&mut self, topic: &str, count: usize) {
        match self.topics.get_mut(topic) {
            Some(t) => {
                if t.partitions.len() < count {
                    t.partitions.resize_with(count, PartitionQueue::default);
                }
            }
            None => {
                let name: Arc<str> = Arc::from(topic);
                let mut partitions = Vec::with_capacity(count);
                partitions.resize_with(count, PartitionQueue::default);
                self.topics.insert(
                    name.clone(),
                    TopicQueues {
                        name,
                        partitions,
                        sticky: None,
                    },
                );
            }
        }
    }

    fn has_room(&self, limits: &Limits, size: usize) -> bool {
        self.buffered_records < limits.buffer_records
            && self.buffered_bytes + size <= limits.buffer_bytes
    }

    /// Appends a record from `send()`: into its partition's batch when possible, else parked.
    /// Errors are delivered through `reply` directly.
    pub fn append(
        &mut self,
        limits: &Limits,
        record: ProducerRecord<'_>,
        timestamp: i64,
        reply: Reply,
    ) -> Appended {
        let size = RecordBatchBuilder::record_size(record.key, record.value, record.headers);
        if let Err(e) = check_size(limits, size) {
            let _ = reply.send(Err(e.with_topic(record.topic)));
            return Appended::Done { wake: false };
        }
        if self.closing {
            let _ = reply.send(Err(Error::closed("the producer is closed")));
            return Appended::Done { wake: false };
        }
        let known = self.topics.contains_key(record.topic);
        if self.parked.is_empty() && known && self.has_room(limits, size) {
            return self.append_now(
                limits,
                record.topic,
                record.partition,
                record.key,
                record.value,
                record.headers,
                timestamp,
                reply,
                size,
                None,
            );
        }
        if known && self.parked.is_empty() && limits.max_block.is_zero() {
            let _ = reply.send(Err(queue_full(limits, self).with_topic(record.topic)));
            return Appended::Done { wake: false };
        }
        // Park an owned copy; order with earlier parked records is kept.
        let topic = self
            .topics
            .get_key_value(record.topic)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Arc::from(record.topic));
        self.parked.push_back(Parked {
            topic,
            partition: record.partition,
            key: record.key.map(Bytes::copy_from_slice),
            value: record.value.map(Bytes::copy_from_slice),
            headers: record.headers.to_vec(),
            timestamp,
            reply,
            block_deadline: known.then(|| Instant::now() + limits.max_block),
            parked_at: Instant::now(),
        });
        if known {
            Appended::Parked
        } else {
            Appended::NeedsMetadata
        }
    }

    /// Moves parked records into batches, in order, while metadata and space allow. Returns
    /// the topics whose metadata is missing (the head of the queue waits for them).
    pub fn admit_parked(&mut self, limits: &Limits, now: Instant) -> (bool, Option<Arc<str>>) {
        let mut wake = false;
        while let Some(front) = self.parked.front_mut() {
            if !self.topics.contains_key(&*front.topic) {
                return (wake, Some(front.topic.clone()));
            }
            let size = RecordBatchBuilder::record_size(
                front.key.as_deref(),
                front.value.as_deref(),
                &front.headers,
            );
            if !(self.buffered_records < limits.buffer_records
                && self.buffered_bytes + size <= limits.buffer_bytes)
            {
                if front.block_deadline.is_none() {
                    front.block_deadline = Some(now + limits.max_block);
                }
                return (wake, None);
            }
            let Some(p) = self.parked.pop_front() else {
                break;
            };
            if let Appended::Done { wake: w } = self.append_now(
                limits,
                &p.topic,
                p.partition,
                p.key.as_deref(),
                p.value.as_deref(),
                &p.headers,
                p.timestamp,
                p.reply,
                size,
                Some(now),
            ) {
                wake |= w;
            }
        }
        (wake, None)
    }

    /// Fails parked records whose wait exceeded `max.block.ms` (buffer full) or
    /// `delivery.timeout.ms` (metadata never came). Returns how many failed.
    pub fn expire_parked(
        &mut self,
        limits: &Limits,
        delivery_timeout: std::time::Duration,
        now: Instant,
        metadata_error: impl Fn(&str) -> Option<Error>,
    ) -> usize {
        let mut failed = 0;
        let mut kept = VecDeque::with_capacity(self.parked.len());
        while let Some(p) = self.parked.pop_front() {
            let full = p.block_deadline.is_some_and(|d| now >= d);
            let timed_out = now.duration_since(p.parked_at) >= delivery_timeout;
            let permanent = metadata_error(&p.topic).filter(|e| !e.is_retriable());
            if full || timed_out || permanent.is_some() {
                let err = if let Some(e) = permanent {
                    e
                } else if full {
                    queue_full(limits, self)
                } else {
                    metadata_error(&p.topic).unwrap_or_else(|| {
                        Error::timeout(format!("no metadata for topic within delivery.timeout.ms ({delivery_timeout:?})"))
                    })
                };
                let _ = p.reply.send(Err(err.with_topic(&p.topic)));
                failed += 1;
            } else {
                kept.push_back(p);
            }
        }
        self.parked = kept;
        failed
    }

    #[allow(clippy::too_many_arguments)]
    fn append_now(
        &mut self,
        limits: &Limits,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
        timestamp: i64,
        reply: Reply,
        size: usize,
        now: Option<Instant>,
    ) -> Appended {
        let Some(tq) = self.topics.get_mut(topic) else {
            let _ = reply.send(Err(
                Error::kafka(ResponseError::UnknownTopicOrPartition).with_topic(topic)
            ));
            return Appended::Done { wake: false };
        };
        let count = tq.partitions.len() as u32;
        let mut partition = match partition {
            Some(p) if p >= 0 && (p as u32) < count => p,
            Some(p) => {
                let _ = reply.send(Err(Error::invalid_argument(format!(
                    "partition {p} does not exist (topic {topic} has {count} partitions)"
                ))
                .with_topic(topic)));
                return Appended::Done { wake: false };
            }
            None => match partitioner::choose(limits.partitioner, key, count) {
                Choice::Fixed(p) => p,
                Choice::Sticky => *tq
                    .sticky
                    .get_or_insert_with(|| partitioner::next_sticky(None, count)),
            },
        };
        let mut wake = false;
        // A sticky partition whose batch is full moves on (KIP-480): the full batch is closed and
        // the record goes to a new sticky partition.
        let sticky = Some(partition) == tq.sticky && key.is_none();
        if batch_would_overflow(&tq.partitions[partition as usize], limits, size) {
            close_open(&tq.name, partition, &mut tq.partitions[partition as usize]);
            wake = true;
            if sticky {
                let next = partitioner::next_sticky(Some(partition), count);
                tq.sticky = Some(next);
                partition = next;
                if batch_would_overflow(&tq.partitions[partition as usize], limits, size) {
                    close_open(&tq.name, partition, &mut tq.partitions[partition as usize]);
                }
            }
        }
        let pq = &mut tq.partitions[partition as usize];
        let open = pq.open.get_or_insert_with(|| {
            wake = true;
            OpenBatch {
                builder: RecordBatchBuilder::with_capacity(
                    limits.options,
                    limits.batch_size.clamp(1024, 64 * 1024),
                ),
                waiters: Vec::new(),
                created: now.unwrap_or_else(Instant::now),
                accounted: 0,
            }
        });
        if let Err(e) = open.builder.push(timestamp, key, value, headers) {
            let _ = reply.send(Err(Error::from(e).with_partition(topic, partition)));
            return Appended::Done { wake };
        }
        open.waiters.push(Waiter { reply, timestamp });
        open.accounted += size;
        self.buffered_bytes += size;
        self.buffered_records += 1;
        if open.builder.estimated_size() >= limits.batch_size
            || open.waiters.len() >= limits.batch_num_messages
        {
            let name = tq.name.clone();
            close_open(&name, partition, pq);
            self.ready_hint = true;
            wake = true;
        }
        Appended::Done { wake }
    }

    /// Closes open batches whose linger expired (or all, when flushing/closing); returns the
    /// earliest linger deadline among those still open.
    pub fn close_lingering(
        &mut self,
        linger: std::time::Duration,
        now: Instant,
    ) -> Option<Instant> {
        let all = self.flushing > 0 || self.closing;
        let mut next: Option<Instant> = None;
        for tq in self.topics.values_mut() {
            for (i, pq) in tq.partitions.iter_mut().enumerate() {
                let Some(open) = &pq.open else { continue };
                let due = open.created + linger;
                if all || due <= now {
                    close_open(&tq.name, i as i32, pq);
                    if tq.sticky == Some(i as i32) {
                        tq.sticky = None;
                    }
                } else {
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
            }
        }
        next
    }

    /// Releases the buffer space of a completed batch.
    pub fn release(&mut self, bytes: usize, records: usize) {
        self.buffered_bytes = self.buffered_bytes.saturating_sub(bytes);
        self.buffered_records = self.buffered_records.saturating_sub(records);
    }

    /// Whether nothing is buffered, parked or in flight.
    pub fn is_idle(&self) -> bool {
        self.buffered_records == 0 && self.parked.is_empty()
    }
}

fn check_size(limits: &Limits, size: usize) -> Result<()> {
    // Batch overhead included: a record that can never fit in one request fails at once.
    if size + crate::records::BATCH_HEADER_LEN > limits.max_request_bytes
        || size > limits.buffer_bytes
    {
        return Err(Error::new(
            ErrorKind::Kafka(ResponseError::MessageTooLarge),
            ErrorClass::Permanent,
            format!(
                "record of {size} bytes is larger than message.max.bytes ({}) or the producer buffer ({} bytes)",
                limits.max_request_bytes, limits.buffer_bytes
            ),
        ));
    }
    Ok(())
}

fn batch_would_overflow(pq: &PartitionQueue, limits: &Limits, size: usize) -> bool {
    pq.open.as_ref().is_some_and(|o| {
        !o.waiters.is_empty() && o.builder.estimated_size() + size > limits.batch_size
    })
}

fn close_open(topic: &Arc<str>, partition: i32, pq: &mut PartitionQueue) {
    if let Some(open) = pq.open.take() {
        if open.waiters.is_empty() {
            return;
        }
        pq.ready.push_back(ClosedBatch {
            topic: topic.clone(),
            partition,
            payload: Payload::Builder(open.builder),
            waiters: open.waiters,
            created: open.created,
            accounted: open.accounted,
            attempts: 0,
            retry_at: None,
            stamp: None,
            last_error: None,
        });
    }
}
