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

use super::completion::{BatchSlot, Completer};
use super::partitioner::{self, Choice};
use super::{DeliveryReport, ProducerRecord};

/// A parked record's result channel.
pub(crate) type Tx = oneshot::Sender<Result<DeliveryReport>>;

/// Where a record's delivery result goes.
pub(crate) enum Reply {
    /// A channel (records that were parked: their caller holds the receiver).
    Tx(Tx),
    /// The caller of `send`, still holding the lock: the result, or where it will be, is left
    /// in [`State::ticket`].
    Direct,
}

/// What `send` turns into the record's future.
pub(crate) enum Ticket {
    /// Known at once (an error before the record joined a batch).
    Ready(Result<DeliveryReport>),
    /// Parked: the result comes through a channel.
    Channel(oneshot::Receiver<Result<DeliveryReport>>),
    /// In a batch: its shared slot and the record's index and create time.
    Batch {
        slot: Arc<BatchSlot>,
        index: u32,
        timestamp: i64,
    },
}

fn resolve(
    ticket: &mut Option<Ticket>,
    failures: &mut u64,
    reply: Reply,
    result: Result<DeliveryReport>,
) {
    *failures += u64::from(result.is_err());
    match reply {
        Reply::Tx(tx) => {
            let _ = tx.send(result);
        }
        Reply::Direct => *ticket = Some(Ticket::Ready(result)),
    }
}

/// A record of a batch whose result goes through its own channel (it was parked).
pub(crate) struct Waiter {
    pub reply: Tx,
    pub timestamp: i64,
    pub index: u32,
}

/// A batch being filled.
pub(crate) struct OpenBatch {
    builder: RecordBatchBuilder,
    completer: Completer,
    records: u32,
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
    /// Resolves the futures of the records appended directly.
    pub completer: Completer,
    pub records: usize,
    /// Records that were parked first, with their own channels.
    pub waiters: Vec<Waiter>,
    pub created: Instant,
    /// Buffer bytes this batch holds (released when it completes).
    pub accounted: usize,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    /// (producer id, epoch, base sequence) once stamped for an idempotent send.
    pub stamp: Option<(i64, i16, i32)>,
    pub last_error: Option<Error>,
    /// The last attempt was sent and got no answer: the broker may have written it.
    pub fate_unknown: bool,
    /// The broker the last attempt went to (a retry skips its back-off when the leader moved).
    pub last_leader: Option<i32>,
}

impl ClosedBatch {
    pub fn record_count(&self) -> usize {
        self.records
    }

    /// Resolves every record of this batch with its own result.
    pub fn complete(self, base_offset: i64, log_append_time: i64) {
        self.completer
            .complete(self.partition, base_offset, log_append_time);
        for w in self.waiters {
            let offset = if base_offset >= 0 {
                base_offset + i64::from(w.index)
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
        self.completer.fail(error.clone());
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
    /// Next sequence to stamp, valid for `sequence_owner`.
    pub next_sequence: i32,
    /// The producer id and epoch this partition's sequences run under. `None` until its first
    /// idempotent send, and again after a sequence gap: the next batch then takes the producer's
    /// latest epoch and starts at sequence 0 (partitions move to a new epoch one by one).
    pub sequence_owner: Option<(i64, i16)>,
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
    reply: Tx,
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
    pub topics: HashMap<Arc<str>, TopicQueues, rustc_hash::FxBuildHasher>,
    pub parked: VecDeque<Parked>,
    /// No parked record can expire before this (max.block.ms / delivery.timeout.ms); lets a
    /// sender pass skip the walk over a long parked queue. None when nothing is parked.
    parked_next_expiry: Option<Instant>,
    pub buffered_bytes: usize,
    pub buffered_records: usize,
    /// Set by flush(): batches are sent without waiting for linger.
    pub flushing: usize,
    pub closing: bool,
    /// A batch became ready (full) since the sender last looked.
    pub ready_hint: bool,
    /// The outcome of the last `append` with [`Reply::Direct`], for `send` to take.
    pub ticket: Option<Ticket>,
    /// Records failed here, before any batch was sent (bad partition, too large, expired
    /// while parked): a transaction with such a record must not commit.
    pub local_failures: u64,
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
    pub delivery_timeout: std::time::Duration,
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
                is_transactional: config.transactional_id.is_some(),
                ..BatchOptions::default()
            },
            max_block: config.max_block,
            delivery_timeout: config.delivery_timeout,
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
            parked_next_expiry: None,
            buffered_bytes: 0,
            buffered_records: 0,
            flushing: 0,
            closing: false,
            ready_hint: false,
            ticket: None,
            local_failures: 0,
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
        mut reply: Reply,
    ) -> Appended {
        let size = RecordBatchBuilder::record_size(record.key, record.value, record.headers);
        if let Err(e) = check_size(limits, size) {
            resolve(
                &mut self.ticket,
                &mut self.local_failures,
                reply,
                Err(e.with_topic(record.topic)),
            );
            return Appended::Done { wake: false };
        }
        if self.closing {
            resolve(
                &mut self.ticket,
                &mut self.local_failures,
                reply,
                Err(Error::closed("the producer is closed")),
            );
            return Appended::Done { wake: false };
        }
        if self.parked.is_empty() && self.has_room(limits, size) {
            // The common case, with one topic lookup.
            match self.append_known(
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
            ) {
                Ok(appended) => return appended,
                Err(back) => reply = back, // topic unknown: parked below
            }
        }
        let known = self.topics.contains_key(record.topic);
        if known && self.parked.is_empty() && limits.max_block.is_zero() {
            let err = queue_full(limits, self).with_topic(record.topic);
            resolve(&mut self.ticket, &mut self.local_failures, reply, Err(err));
            return Appended::Done { wake: false };
        }
        // Park an owned copy; order with earlier parked records is kept.
        let topic = self
            .topics
            .get_key_value(record.topic)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Arc::from(record.topic));
        let reply = match reply {
            Reply::Tx(tx) => tx,
            Reply::Direct => {
                let (tx, rx) = oneshot::channel();
                self.ticket = Some(Ticket::Channel(rx));
                tx
            }
        };
        let parked_at = Instant::now();
        let block_deadline = known.then(|| parked_at + limits.max_block);
        self.note_parked_expiry(block_deadline, parked_at + limits.delivery_timeout);
        self.parked.push_back(Parked {
            topic,
            partition: record.partition,
            key: record.key.map(Bytes::copy_from_slice),
            value: record.value.map(Bytes::copy_from_slice),
            headers: record.headers.to_vec(),
            timestamp,
            reply,
            block_deadline,
            parked_at,
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
                    let deadline = now + limits.max_block;
                    front.block_deadline = Some(deadline);
                    self.note_parked_expiry(Some(deadline), deadline);
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
                Reply::Tx(p.reply),
                size,
                Some(now),
            ) {
                wake |= w;
            }
        }
        if self.parked.is_empty() {
            self.parked_next_expiry = None;
        }
        (wake, None)
    }

    fn note_parked_expiry(&mut self, block_deadline: Option<Instant>, timeout_at: Instant) {
        let at = block_deadline.map_or(timeout_at, |d| d.min(timeout_at));
        self.parked_next_expiry = Some(self.parked_next_expiry.map_or(at, |t| t.min(at)));
    }

    /// Fails parked records whose wait exceeded `max.block.ms` (buffer full) or
    /// `delivery.timeout.ms` (metadata never came), or whose topic has a permanent metadata
    /// error. Returns how many failed.
    ///
    /// The walk over the parked queue is O(parked), so it only happens when some record can
    /// have expired (`parked_next_expiry`) or when `topic_errors_changed` (new metadata with
    /// topic errors); otherwise this is O(1) — with a burst of records parked behind a full
    /// buffer, a walk per sender pass was quadratic.
    pub fn expire_parked(
        &mut self,
        limits: &Limits,
        now: Instant,
        topic_errors_changed: bool,
        metadata_error: impl Fn(&str) -> Option<Error>,
    ) -> usize {
        if self.parked.is_empty() {
            self.parked_next_expiry = None;
            return 0;
        }
        if !topic_errors_changed && self.parked_next_expiry.is_some_and(|t| now < t) {
            return 0;
        }
        let delivery_timeout = limits.delivery_timeout;
        let mut failed = 0;
        let mut next: Option<Instant> = None;
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
                    // A topic the cluster reports as failed (UNKNOWN_TOPIC_OR_PARTITION with
                    // auto-creation off) keeps its own error, as in librdkafka; no metadata at
                    // all is a record past its deadline. Never sent, so certainly not written.
                    metadata_error(&p.topic).unwrap_or_else(|| {
                        let cause = Error::timeout("no metadata for the topic");
                        Error::message_timed_out(delivery_timeout, Some(&cause), false)
                    })
                };
                let _ = p.reply.send(Err(err.with_topic(&p.topic)));
                failed += 1;
                self.local_failures += 1;
            } else {
                let timeout_at = p.parked_at + delivery_timeout;
                let at = p.block_deadline.map_or(timeout_at, |d| d.min(timeout_at));
                next = Some(next.map_or(at, |n| n.min(at)));
                kept.push_back(p);
            }
        }
        self.parked = kept;
        self.parked_next_expiry = next;
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
        match self.append_known(
            limits, topic, partition, key, value, headers, timestamp, reply, size, now,
        ) {
            Ok(appended) => appended,
            Err(reply) => {
                let err = Error::kafka(ResponseError::UnknownTopicOrPartition).with_topic(topic);
                resolve(&mut self.ticket, &mut self.local_failures, reply, Err(err));
                Appended::Done { wake: false }
            }
        }
    }

    /// [`State::append_now`], or the reply back when the topic is not known (yet).
    #[allow(clippy::too_many_arguments)]
    fn append_known(
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
    ) -> std::result::Result<Appended, Reply> {
        let Some(tq) = self.topics.get_mut(topic) else {
            return Err(reply);
        };
        let count = tq.partitions.len() as u32;
        let partition = match choose_partition(tq, limits, topic, partition, key) {
            Ok(p) => p,
            Err(err) => {
                resolve(&mut self.ticket, &mut self.local_failures, reply, Err(err));
                return Ok(Appended::Done { wake: false });
            }
        };
        // The sender is woken for a new batch (to time its linger) and for a full one (to send
        // it), but not for a partition with a request in flight: nothing of it can be sent before
        // that response, and the sender passes over every partition when the response arrives.
        // Waking it anyway cost a context switch per batch (twice) for nothing.
        let (partition, mut wake) = make_room(tq, limits, partition, key.is_none(), size, count);
        let pq = &mut tq.partitions[partition as usize];
        let in_flight = pq.in_flight;
        let open = pq.open.get_or_insert_with(|| {
            wake |= !in_flight;
            OpenBatch {
                builder: RecordBatchBuilder::with_capacity(
                    limits.options,
                    limits.batch_size.clamp(1024, 64 * 1024),
                ),
                completer: Completer::new(),
                records: 0,
                waiters: Vec::new(),
                created: now.unwrap_or_else(Instant::now),
                accounted: 0,
            }
        });
        if let Err(e) = open.builder.push(timestamp, key, value, headers) {
            let err = Error::from(e).with_partition(topic, partition);
            resolve(&mut self.ticket, &mut self.local_failures, reply, Err(err));
            return Ok(Appended::Done { wake });
        }
        let index = open.records;
        open.records += 1;
        match reply {
            Reply::Tx(tx) => open.waiters.push(Waiter {
                reply: tx,
                timestamp,
                index,
            }),
            Reply::Direct => {
                self.ticket = Some(Ticket::Batch {
                    slot: open.completer.slot().clone(),
                    index,
                    timestamp,
                })
            }
        }
        open.accounted += size;
        self.buffered_bytes += size;
        self.buffered_records += 1;
        if open.builder.estimated_size() >= limits.batch_size
            || open.records as usize >= limits.batch_num_messages
        {
            let name = tq.name.clone();
            close_open(&name, partition, pq);
            self.ready_hint = true;
            wake |= !in_flight;
        }
        Ok(Appended::Done { wake })
    }

    /// Closes open batches whose linger expired (or all, when flushing/closing); returns the
    /// earliest deadline among those still open. A busy partition's batch stays open past its
    /// linger, but never past `busy_max_age`.
    pub fn close_lingering(
        &mut self,
        linger: std::time::Duration,
        busy_max_age: std::time::Duration,
        now: Instant,
    ) -> Option<Instant> {
        let all = self.flushing > 0 || self.closing;
        let mut next: Option<Instant> = None;
        for tq in self.topics.values_mut() {
            for (i, pq) in tq.partitions.iter_mut().enumerate() {
                let Some(open) = &pq.open else { continue };
                let busy = (pq.in_flight || !pq.ready.is_empty()) && !self.closing;
                // A busy partition's batch could not be sent before the request in flight is
                // answered, nor before the batches queued ahead of it (one batch in flight per
                // partition): it keeps filling, so a partition moves a batch of what arrived
                // meanwhile per round trip rather than a queue of tiny lingered batches (one
                // record each at linger.ms=0; after a leader fail-over such a queue took a
                // round trip per record to drain). But expiry goes by a batch's creation: one
                // batch holding a whole stall failed every record of it at the first one's
                // delivery deadline, so it is closed at `busy_max_age`.
                let due = open.created
                    + if busy {
                        busy_max_age.max(linger)
                    } else {
                        linger
                    };
                if due <= now || (all && !busy) {
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

    /// When the oldest record still waiting (parked, in an open batch or queued) was added:
    /// its delivery deadline is the earliest of all. Walks every partition; the sender calls it
    /// only while it has no producer id yet.
    pub fn oldest_waiting(&self) -> Option<Instant> {
        let parked = self.parked.front().map(|p| p.parked_at);
        let batches = self
            .topics
            .values()
            .flat_map(|tq| &tq.partitions)
            .flat_map(|pq| {
                let open = pq.open.as_ref().map(|o| o.created);
                open.into_iter().chain(pq.ready.front().map(|b| b.created))
            });
        parked.into_iter().chain(batches).min()
    }
}

/// The partition a record goes to: the one asked for (if it exists), the key's, or the
/// topic's sticky partition.
#[inline]
fn choose_partition(
    tq: &mut TopicQueues,
    limits: &Limits,
    topic: &str,
    partition: Option<i32>,
    key: Option<&[u8]>,
) -> Result<i32> {
    let count = tq.partitions.len() as u32;
    Ok(match partition {
        Some(p) if p >= 0 && (p as u32) < count => p,
        Some(p) => {
            return Err(Error::invalid_argument(format!(
                "partition {p} does not exist (topic {topic} has {count} partitions)"
            ))
            .with_topic(topic));
        }
        None => match partitioner::choose(limits.partitioner, key, count) {
            Choice::Fixed(p) => p,
            Choice::Sticky => *tq
                .sticky
                .get_or_insert_with(|| partitioner::next_sticky(None, count)),
        },
    })
}

/// Closes the partition's open batch if the record would overflow it; a keyless record on the
/// sticky partition then moves to a new sticky partition (KIP-480). Returns the partition the
/// record goes to and whether the sender must be woken for a closed batch.
#[inline]
fn make_room(
    tq: &mut TopicQueues,
    limits: &Limits,
    partition: i32,
    keyless: bool,
    size: usize,
    count: u32,
) -> (i32, bool) {
    if !batch_would_overflow(&tq.partitions[partition as usize], limits, size) {
        return (partition, false);
    }
    close_open(&tq.name, partition, &mut tq.partitions[partition as usize]);
    let wake = !tq.partitions[partition as usize].in_flight;
    if !(keyless && Some(partition) == tq.sticky) {
        return (partition, wake);
    }
    let next = partitioner::next_sticky(Some(partition), count);
    tq.sticky = Some(next);
    if batch_would_overflow(&tq.partitions[next as usize], limits, size) {
        close_open(&tq.name, next, &mut tq.partitions[next as usize]);
    }
    (next, wake)
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
    pq.open
        .as_ref()
        .is_some_and(|o| o.records > 0 && o.builder.estimated_size() + size > limits.batch_size)
}

fn close_open(topic: &Arc<str>, partition: i32, pq: &mut PartitionQueue) {
    if let Some(open) = pq.open.take() {
        if open.records == 0 {
            return;
        }
        pq.ready.push_back(ClosedBatch {
            topic: topic.clone(),
            partition,
            payload: Payload::Builder(open.builder),
            completer: open.completer,
            records: open.records as usize,
            waiters: open.waiters,
            created: open.created,
            accounted: open.accounted,
            attempts: 0,
            retry_at: None,
            stamp: None,
            last_error: None,
            fate_unknown: false,
            last_leader: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::time::Duration;

    fn limits(pairs: &[(&str, &str)]) -> Limits {
        let mut config = Config::new()
            .with("bootstrap.servers", "127.0.0.1:1")
            .unwrap();
        for (k, v) in pairs {
            config = config.with(k, v).unwrap();
        }
        Limits::new(&config.producer().unwrap())
    }

    fn send(
        state: &mut State,
        limits: &Limits,
        topic: &str,
    ) -> (Appended, oneshot::Receiver<Result<DeliveryReport>>) {
        let (tx, rx) = oneshot::channel();
        let record = ProducerRecord::new(topic).value(b"v");
        (state.append(limits, record, 1, Reply::Tx(tx)), rx)
    }

    #[test]
    fn parked_records_expire_on_time_and_the_walk_is_skipped_before() {
        let limits = limits(&[("delivery.timeout.ms", "1000")]);
        let mut state = State::new();
        let mut replies = Vec::new();
        for _ in 0..3 {
            let (appended, rx) = send(&mut state, &limits, "unknown");
            assert!(matches!(appended, Appended::NeedsMetadata));
            replies.push(rx);
        }
        let t0 = Instant::now();
        let no_error = |_: &str| None;
        // Before the earliest expiry nothing is walked or failed.
        assert_eq!(
            state.expire_parked(&limits, t0 + Duration::from_millis(999), false, no_error),
            0
        );
        assert_eq!(state.parked.len(), 3);
        // At delivery.timeout.ms every record fails, each exactly once.
        assert_eq!(
            state.expire_parked(&limits, t0 + Duration::from_millis(1000), false, no_error),
            3
        );
        assert!(state.parked.is_empty() && state.parked_next_expiry.is_none());
        for mut rx in replies {
            let err = rx.try_recv().unwrap().unwrap_err();
            assert_eq!(err.name(), "_MSG_TIMED_OUT", "{err}");
        }
    }

    #[test]
    fn a_permanent_topic_error_fails_parked_records_when_new_metadata_says_so() {
        let limits = limits(&[]);
        let mut state = State::new();
        let (_, mut rx) = send(&mut state, &limits, "forbidden");
        let now = Instant::now();
        let denied = |t: &str| {
            (t == "forbidden").then(|| Error::kafka(ResponseError::TopicAuthorizationFailed))
        };
        // Not expired and no new metadata: the queue is not looked at.
        assert_eq!(state.expire_parked(&limits, now, false, denied), 0);
        assert!(rx.try_recv().is_err());
        // New metadata with topic errors: walked, and the record fails with its topic's error.
        assert_eq!(state.expire_parked(&limits, now, true, denied), 1);
        let err = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(
            err.response_error(),
            Some(ResponseError::TopicAuthorizationFailed),
            "{err}"
        );
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_busy_partition_closes_its_open_batch_at_the_age_limit() {
        let limits = limits(&[("linger.ms", "0")]);
        let mut state = State::new();
        state.set_partition_count("t", 1);
        let (_, _rx1) = send(&mut state, &limits, "t");
        state.topics.get_mut("t").unwrap().partitions[0].in_flight = true;
        let (_, _rx2) = send(&mut state, &limits, "t");
        let created = state.topics["t"].partitions[0]
            .open
            .as_ref()
            .unwrap()
            .created;
        let max_age = Duration::from_millis(500);
        // Younger than the limit: it stays open, and the sender is told when to look again.
        let before = created + Duration::from_millis(100);
        assert_eq!(
            state.close_lingering(Duration::ZERO, max_age, before),
            Some(created + max_age)
        );
        assert!(state.topics["t"].partitions[0].ready.is_empty());
        // At the limit it is closed and queued, though the partition is still busy.
        state.close_lingering(Duration::ZERO, max_age, created + max_age);
        let pq = &state.topics["t"].partitions[0];
        assert_eq!(pq.ready.len(), 1);
        assert!(pq.open.is_none());
    }

    #[test]
    fn a_partition_with_a_request_in_flight_keeps_filling_its_open_batch() {
        let limits = limits(&[("linger.ms", "0")]);
        let mut state = State::new();
        state.set_partition_count("t", 1);
        let (_, _rx1) = send(&mut state, &limits, "t");
        state.topics.get_mut("t").unwrap().partitions[0].in_flight = true;
        let (_, _rx2) = send(&mut state, &limits, "t");
        let now = Instant::now() + Duration::from_millis(10);
        // linger.ms=0 has expired, but the partition is busy: the batch stays open (until
        // the age limit, an hour here).
        let open_until = state.close_lingering(Duration::ZERO, HOUR, now);
        assert!(open_until.is_some_and(|t| t > now + Duration::from_secs(3000)));
        let pq = &state.topics.get("t").unwrap().partitions[0];
        assert!(pq.ready.is_empty());
        assert_eq!(pq.open.as_ref().unwrap().records, 2);
        // Once the response is in, both records go out as one batch.
        state.topics.get_mut("t").unwrap().partitions[0].in_flight = false;
        state.close_lingering(Duration::ZERO, HOUR, now);
        let pq = &state.topics.get("t").unwrap().partitions[0];
        assert_eq!(pq.ready.len(), 1);
        assert_eq!(pq.ready[0].record_count(), 2);
    }

    #[test]
    fn a_partition_with_batches_queued_keeps_filling_its_open_batch() {
        // A partition whose leader is unreachable queues batches; what arrives meanwhile must
        // become one batch, not one batch per linger period (each a round trip to drain later).
        let limits = limits(&[("linger.ms", "0")]);
        let mut state = State::new();
        state.set_partition_count("t", 1);
        let mut replies = Vec::new();
        replies.push(send(&mut state, &limits, "t").1);
        let now = Instant::now() + Duration::from_millis(10);
        state.close_lingering(Duration::ZERO, HOUR, now);
        for _ in 0..5 {
            replies.push(send(&mut state, &limits, "t").1);
            state.close_lingering(Duration::ZERO, HOUR, now);
        }
        let pq = &state.topics.get("t").unwrap().partitions[0];
        assert_eq!(
            pq.ready.len(),
            1,
            "the queued batch, and one open behind it"
        );
        assert_eq!(pq.open.as_ref().unwrap().records, 5);
    }

    #[test]
    fn the_sender_is_woken_for_new_and_full_batches_unless_their_partition_is_in_flight() {
        // batch.num.messages=2: the second record of a batch fills it.
        let limits = limits(&[("batch.num.messages", "2")]);
        let mut state = State::new();
        state.set_partition_count("t", 1);
        let woken = |a: &Appended| matches!(a, Appended::Done { wake: true });
        // Idle partition: a new batch (to time its linger) and a full one (to send it) wake it;
        // a record joining an open batch does not.
        let (a, _r1) = send(&mut state, &limits, "t");
        assert!(woken(&a), "new batch");
        let (a, _r2) = send(&mut state, &limits, "t");
        assert!(woken(&a), "full batch");
        let (a, _r3) = send(&mut state, &limits, "t");
        assert!(woken(&a), "new batch");
        // In flight: the sender passes again when the response arrives, so no wake-up for the
        // batch that fills meanwhile, nor for the one opened after it.
        state.topics.get_mut("t").unwrap().partitions[0].in_flight = true;
        let (a, _r4) = send(&mut state, &limits, "t");
        assert!(!woken(&a), "full batch while in flight");
        let (a, _r5) = send(&mut state, &limits, "t");
        assert!(!woken(&a), "new batch while in flight");
        let pq = &state.topics.get("t").unwrap().partitions[0];
        assert_eq!(pq.ready.len(), 2);
        assert_eq!(pq.open.as_ref().unwrap().records, 1);
    }
}
