//! The consumer with manual assignment: assign, seek, pause/resume, position, offsets for
//! times, watermarks; records as a `Stream` or in batches.
//!
//! ```no_run
//! # async fn demo() -> odradek::error::Result<()> {
//! use futures::StreamExt;
//! use odradek::config::Config;
//! use odradek::consumer::{Consumer, Offset};
//!
//! let config = Config::new().with("bootstrap.servers", "127.0.0.1:9092")?;
//! let consumer = Consumer::new(config.consumer()?)?;
//! consumer.assign(&[("events", 0, Offset::Beginning)])?;
//! let mut records = consumer.stream();
//! while let Some(record) = records.next().await {
//!     let record = record?;
//!     println!("{}@{}: {:?}", record.partition, record.offset, record.value);
//! }
//! # Ok(()) }
//! ```
//!
//! A background fetcher keeps one Fetch in flight per broker for the assigned, unpaused
//! partitions it leads, and stops prefetching when the buffered (still compressed) data reaches
//! `queued.max.messages.kbytes`. Batches are decompressed and decoded only as records are taken.

mod client;
mod fetch_session;
mod fetcher;

pub use client::ConsumerClient;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::buffers::BufferPool;
use crate::cluster::Cluster;
use crate::cluster::offsets::{EARLIEST, LATEST, OffsetAndTimestamp};
use crate::config::{Config, ConsumerConfig, IsolationLevel};
use crate::error::{Error, Result};
use crate::metrics::{ConsumerMetrics, PartitionStats};
use crate::records::{RecordBatches, RecordHeader, Records, TimestampType};

/// Where to start reading an assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// The log start offset.
    Beginning,
    /// The end (only records produced from now on).
    End,
    /// This exact offset.
    At(i64),
    /// As `auto.offset.reset` says.
    Default,
}

/// The special offset values every binding and the C ABI use (librdkafka's numbers):
/// `assign`/`seek` take them, `committed`/`position` return [`OFFSET_INVALID`] for "none".
pub const OFFSET_BEGINNING: i64 = -2;
/// See [`OFFSET_BEGINNING`]: the end of the partition.
pub const OFFSET_END: i64 = -1;
/// See [`OFFSET_BEGINNING`]: the group's committed offset, else `auto.offset.reset`.
pub const OFFSET_STORED: i64 = -1000;
/// See [`OFFSET_BEGINNING`]: no offset (nothing committed, position not known); in `assign` the
/// same as [`OFFSET_STORED`].
pub const OFFSET_INVALID: i64 = -1001;

/// Every special offset with the name bindings give it (`OFFSET_` + name in Python, C and
/// .NET's `Offset` names are these in PascalCase), for tests that check a binding's copy.
pub const SPECIAL_OFFSETS: [(&str, i64); 4] = [
    ("BEGINNING", OFFSET_BEGINNING),
    ("END", OFFSET_END),
    ("STORED", OFFSET_STORED),
    ("INVALID", OFFSET_INVALID),
];

impl Offset {
    /// A binding's number as an offset: ≥ 0, or one of the special offsets.
    pub fn from_raw(offset: i64) -> Result<Offset> {
        match offset {
            OFFSET_BEGINNING => Ok(Offset::Beginning),
            OFFSET_END => Ok(Offset::End),
            OFFSET_STORED | OFFSET_INVALID => Ok(Offset::Default),
            o if o >= 0 => Ok(Offset::At(o)),
            o => Err(Error::invalid_argument(format!(
                "offset {o}: expected ≥ 0, OFFSET_BEGINNING (-2), OFFSET_END (-1) or OFFSET_STORED (-1000)"
            ))),
        }
    }

    /// The number bindings use for this offset ([`Offset::Default`] is [`OFFSET_STORED`]).
    pub fn to_raw(self) -> i64 {
        match self {
            Offset::Beginning => OFFSET_BEGINNING,
            Offset::End => OFFSET_END,
            Offset::At(o) => o,
            Offset::Default => OFFSET_STORED,
        }
    }
}

/// A record as read by the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Whether the timestamp is the producer's create time or the broker's append time.
    pub timestamp_type: TimestampType,
    /// Key.
    pub key: Option<Bytes>,
    /// Value.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<RecordHeader>,
}

/// Partition key.
pub(crate) type TopicPartition = (Arc<str>, i32);

/// One assigned partition.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Next offset to fetch (`None`: needs a reset first).
    pub fetch_position: Option<i64>,
    /// Next offset to hand out.
    pub position: Option<i64>,
    /// Pending reset (a ListOffsets timestamp), when `fetch_position` is `None`.
    pub reset: Option<i64>,
    pub paused: bool,
    /// Assigned by a rebalance whose `on_assigned` callback has not returned yet: fetched, but
    /// nothing is handed out, so the application never sees a record of a partition before its
    /// callback (a seek in the callback, for one, must come first). Apart from `paused`, which
    /// is the user's.
    pub held: bool,
    /// Bumped on every seek: fetches and buffered data of older generations are dropped.
    pub generation: u64,
    pub fetch_in_flight: bool,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub last_stable_offset: i64,
}

/// Fetched data of one partition, decoded lazily.
pub(crate) struct Chunk {
    pub tp: TopicPartition,
    pub generation: u64,
    pub batches: RecordBatches,
    pub current: Option<(Records, TimestampType, bool)>,
    pub bytes: usize,
    /// Records not yet taken, per the batch headers (control batches, aborted and already
    /// returned records included): an upper bound to size a reader's batch once.
    pub records_hint: usize,
    /// read_committed: aborted transactions (producer id, first offset), ascending.
    pub aborted: VecDeque<(i64, i64)>,
    pub aborted_producers: Vec<i64>,
}

pub(crate) struct State {
    pub partitions: HashMap<TopicPartition, PartitionState, rustc_hash::FxBuildHasher>,
    pub chunks: VecDeque<Chunk>,
    pub buffered_bytes: usize,
    pub errors: VecDeque<Error>,
    pub closed: bool,
}

pub(crate) struct Shared {
    config: ConsumerConfig,
    cluster: Arc<Cluster>,
    state: Mutex<State>,
    /// Wakes the fetcher (assignment changed, data consumed, seek).
    wake: Notify,
    /// Wakes readers (data or an error arrived).
    data: Notify,
    /// Decompressed batches, recycled once their records are dropped (see crate::buffers).
    buffers: BufferPool,
    /// What `metrics` reports besides the partition state.
    counters: ConsumerCounters,
}

/// The consumer's own counters (the per-broker ones live in the connection pool).
#[derive(Default)]
pub(crate) struct ConsumerCounters {
    records: AtomicU64,
    bytes: AtomicU64,
    /// Fetch round trips, recorded by the fetcher.
    pub(crate) fetches: crate::metrics::LatencyStat,
}

/// Free decompression buffers a consumer keeps: a `recv_batch` of 10,000 1 KiB records holds
/// about 160 batches at once.
const DECOMPRESSED_KEEP_BYTES: usize = 32 * 1024 * 1024;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// A Kafka consumer with manual partition assignment. Cheap to clone.
#[derive(Clone)]
pub struct Consumer {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("bootstrap", &self.shared().config.client.bootstrap_servers)
            .finish()
    }
}

impl Consumer {
    /// Starts a consumer (its fetcher runs on the current tokio runtime, or the library's).
    pub fn new(config: ConsumerConfig) -> Result<Consumer> {
        let cluster = Cluster::new(config.client.clone());
        let shared = Arc::new(Shared {
            config,
            cluster,
            state: Mutex::new(State {
                partitions: HashMap::default(),
                chunks: VecDeque::new(),
                buffered_bytes: 0,
                errors: VecDeque::new(),
                closed: false,
            }),
            wake: Notify::new(),
            data: Notify::new(),
            buffers: BufferPool::new(DECOMPRESSED_KEEP_BYTES),
            counters: ConsumerCounters::default(),
        });
        crate::runtime::spawn(fetcher::run(shared.clone()));
        Ok(Consumer {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// Starts a consumer from a property map.
    pub fn from_config(config: &Config) -> Result<Consumer> {
        Consumer::new(config.consumer()?)
    }

    /// Hands a TLS or SASL failure met elsewhere (the group's coordinator connection) to the
    /// reader; other errors are ignored here.
    pub(crate) fn report_security_failure(&self, e: Error) {
        fetcher::report_security_failure(self.shared(), e);
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// The cluster handle this consumer uses.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.shared().cluster
    }

    /// Replaces the assignment with these partitions and starting points.
    pub fn assign(&self, partitions: &[(&str, i32, Offset)]) -> Result<()> {
        let shared = self.shared();
        let mut state = shared.lock();
        let keep: Vec<TopicPartition> = partitions
            .iter()
            .map(|(t, p, _)| (Arc::from(*t), *p))
            .collect();
        state.partitions.retain(|tp, _| keep.contains(tp));
        drop_chunks(&mut state, |tp| !keep.contains(tp));
        for ((topic, partition, offset), tp) in partitions.iter().zip(keep) {
            let _ = topic;
            let generation = state.partitions.get(&tp).map_or(0, |p| p.generation + 1);
            state.partitions.insert(
                tp,
                new_partition_state(&shared.config, *partition, *offset, generation)?,
            );
        }
        drop(state);
        shared
            .cluster
            .add_topics(partitions.iter().map(|(t, _, _)| *t));
        shared.wake.notify_one();
        Ok(())
    }

    /// Adds partitions to the assignment.
    pub fn incremental_assign(&self, partitions: &[(&str, i32, Offset)]) -> Result<()> {
        self.assign_partitions(partitions, false)
    }

    /// [`Consumer::incremental_assign`] with the partitions held: fetched, but no record of
    /// theirs is handed out until [`Consumer::release_held`] (the group's `on_assigned` runs
    /// in between).
    pub(crate) fn incremental_assign_held(&self, partitions: &[(&str, i32, Offset)]) -> Result<()> {
        self.assign_partitions(partitions, true)
    }

    /// Lets held partitions hand out their records.
    pub(crate) fn release_held(&self, partitions: &[(String, i32)]) {
        let shared = self.shared();
        let mut state = shared.lock();
        for (t, p) in partitions {
            if let Some(ps) = state.partitions.get_mut(&(Arc::from(t.as_str()), *p)) {
                ps.held = false;
            }
        }
        drop(state);
        // Records may be buffered already: wake readers, not only the fetcher.
        shared.data.notify_waiters();
    }

    fn assign_partitions(&self, partitions: &[(&str, i32, Offset)], held: bool) -> Result<()> {
        let shared = self.shared();
        let mut state = shared.lock();
        for (topic, partition, offset) in partitions {
            let tp: TopicPartition = (Arc::from(*topic), *partition);
            let generation = state.partitions.get(&tp).map_or(0, |p| p.generation + 1);
            let mut ps = new_partition_state(&shared.config, *partition, *offset, generation)?;
            ps.held = held;
            state.partitions.insert(tp, ps);
        }
        drop(state);
        shared
            .cluster
            .add_topics(partitions.iter().map(|(t, _, _)| *t));
        shared.wake.notify_one();
        Ok(())
    }

    /// Removes partitions from the assignment (their buffered data is dropped).
    pub fn unassign(&self, partitions: &[(&str, i32)]) {
        let mut state = self.shared().lock();
        let drop_set: Vec<TopicPartition> = partitions
            .iter()
            .map(|(t, p)| (Arc::from(*t), *p))
            .collect();
        state.partitions.retain(|tp, _| !drop_set.contains(tp));
        drop_chunks(&mut state, |tp| drop_set.contains(tp));
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        let state = self.shared().lock();
        let mut v: Vec<_> = state
            .partitions
            .keys()
            .map(|(t, p)| (t.to_string(), *p))
            .collect();
        v.sort();
        v
    }

    /// Moves a partition's position; buffered data for it is dropped.
    pub fn seek(&self, topic: &str, partition: i32, offset: Offset) -> Result<()> {
        let shared = self.shared();
        let mut state = shared.lock();
        let tp: TopicPartition = (Arc::from(topic), partition);
        let Some(current) = state.partitions.get(&tp) else {
            return Err(
                Error::invalid_argument("seek on a partition that is not assigned")
                    .with_partition(topic, partition),
            );
        };
        let (paused, held) = (current.paused, current.held);
        let generation = current.generation + 1;
        let mut next = new_partition_state(&shared.config, partition, offset, generation)?;
        next.paused = paused;
        next.held = held;
        state.partitions.insert(tp.clone(), next);
        drop_chunks(&mut state, |t| *t == tp);
        drop(state);
        shared.wake.notify_one();
        Ok(())
    }

    /// Stops handing out and fetching these partitions: records already fetched are held
    /// (not handed out, position unchanged) until [`Consumer::resume`].
    pub fn pause(&self, partitions: &[(&str, i32)]) {
        self.set_paused(partitions, true);
    }

    /// Resumes these partitions: the records held while paused come first, then fetching goes
    /// on from there.
    pub fn resume(&self, partitions: &[(&str, i32)]) {
        self.set_paused(partitions, false);
        let shared = self.shared();
        shared.wake.notify_one();
        // Records buffered while paused can be handed out now.
        shared.data.notify_waiters();
    }

    fn set_paused(&self, partitions: &[(&str, i32)], paused: bool) {
        let mut state = self.shared().lock();
        for (t, p) in partitions {
            if let Some(ps) = state.partitions.get_mut(&(Arc::from(*t), *p)) {
                ps.paused = paused;
            }
        }
    }

    /// The next offset this consumer will return for a partition (`None` until known).
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        let state = self.shared().lock();
        state
            .partitions
            .get(&(Arc::from(topic), partition))
            .and_then(|p| p.position)
    }

    /// For each partition, the earliest offset whose timestamp is at or after the given one.
    pub async fn offsets_for_times(
        &self,
        queries: &[(&str, i32, i64)],
    ) -> Result<HashMap<(String, i32), OffsetAndTimestamp>> {
        for &(t, p, ts) in queries {
            if ts < 0 {
                return Err(
                    Error::invalid_argument(format!("timestamp {ts} is negative"))
                        .with_partition(t, p),
                );
            }
        }
        self.shared()
            .cluster
            .list_offsets(queries, self.shared().config.isolation_level)
            .await
    }

    /// (low, high) watermarks of a partition, asked from its leader.
    pub async fn fetch_watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        let cluster = &self.shared().cluster;
        let r = cluster
            .list_offsets(
                &[(topic, partition, EARLIEST)],
                IsolationLevel::ReadUncommitted,
            )
            .await?;
        let low = r.values().next().map_or(-1, |o| o.offset);
        let r = cluster
            .list_offsets(
                &[(topic, partition, LATEST)],
                IsolationLevel::ReadUncommitted,
            )
            .await?;
        let high = r.values().next().map_or(-1, |o| o.offset);
        Ok((low, high))
    }

    /// The last (low, high) watermarks seen in fetch responses, without a request.
    pub fn cached_watermarks(&self, topic: &str, partition: i32) -> Option<(i64, i64)> {
        let state = self.shared().lock();
        state
            .partitions
            .get(&(Arc::from(topic), partition))
            .map(|p| (p.log_start_offset, p.high_watermark))
    }

    /// The next record (waits for one).
    pub async fn recv(&self) -> Result<ConsumerRecord> {
        let shared = self.shared();
        loop {
            let notified = shared.data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = shared.lock();
                if let Some(e) = state.errors.pop_front() {
                    return Err(e);
                }
                let mut got = None;
                let error = take_records(&mut state, shared, &mut |r| {
                    got = Some(r);
                    false
                });
                match (got, error) {
                    (Some(r), e) => {
                        state.errors.extend(e);
                        return Ok(r);
                    }
                    (None, Some(e)) => return Err(e),
                    (None, None) => {}
                }
            }
            notified.await;
        }
    }

    /// Up to `max` records: waits for the first, then takes whatever else is buffered.
    pub async fn recv_batch(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        loop {
            let notified = self.shared().data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let out = self.take_ready(max)?;
            if !out.is_empty() {
                return Ok(out);
            }
            notified.await;
        }
    }

    /// Up to `max` records buffered now, without waiting (empty: none ready). The hand-out
    /// every binding uses for a read that must not block (an iterator step, a sync call from
    /// an event loop); an error comes first, else after the records, with the next call.
    pub fn take_ready(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        let shared = self.shared();
        let max = max.max(1);
        let mut state = shared.lock();
        if let Some(e) = state.errors.pop_front() {
            return Err(e);
        }
        // Sized once from the batch headers: growing a vector of 128-byte records by
        // doubling copies each of them about twice more.
        let hint = state.chunks.iter().map(|c| c.records_hint).sum::<usize>();
        let mut out = Vec::with_capacity(hint.min(max));
        let error = take_records(&mut state, shared, &mut |r| {
            out.push(r);
            out.len() < max
        });
        match error {
            // Records first; the error comes with the next call.
            Some(e) if !out.is_empty() => state.errors.push_front(e),
            Some(e) => return Err(e),
            None => {}
        }
        Ok(out)
    }

    /// Waits until something may be handed out (an error, or fetched data of a partition that
    /// is neither paused nor held) and takes nothing, so a caller that gives up waiting loses
    /// no record. `take_ready` may still find nothing (the data held only control records).
    pub async fn wait_ready(&self) {
        let shared = self.shared();
        loop {
            let notified = shared.data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = shared.lock();
                let readable = !state.errors.is_empty()
                    || state.chunks.iter().any(|c| {
                        state
                            .partitions
                            .get(&c.tp)
                            .is_none_or(|p| p.generation != c.generation || !(p.paused || p.held))
                    });
                if readable {
                    return;
                }
            }
            notified.await;
        }
    }

    /// The next record, or `None` if none arrives within `timeout`.
    pub async fn recv_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Option<ConsumerRecord>> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Records as a stream (never ends by itself; errors are items).
    pub fn stream(&self) -> futures::stream::BoxStream<'_, Result<ConsumerRecord>> {
        use futures::StreamExt;
        futures::stream::unfold(self, |consumer| async move {
            Some((consumer.recv().await, consumer))
        })
        .boxed()
    }

    /// Bytes of fetched data buffered now (bounded by `queued.max.messages.kbytes`).
    pub fn buffered_bytes(&self) -> usize {
        self.shared().lock().buffered_bytes
    }

    /// A statistics snapshot: records handed out, fetch round trips, each assigned partition's
    /// position, high watermark and lag, and the brokers.
    pub fn metrics(&self) -> ConsumerMetrics {
        let shared = self.shared();
        let (buffered_bytes, mut partitions) = {
            let state = shared.lock();
            let partitions: Vec<PartitionStats> = state
                .partitions
                .iter()
                .map(|(tp, ps)| {
                    let position = ps.position.unwrap_or(-1);
                    let lag = if position >= 0 && ps.high_watermark >= 0 {
                        (ps.high_watermark - position).max(0)
                    } else {
                        -1
                    };
                    PartitionStats {
                        topic: tp.0.to_string(),
                        partition: tp.1,
                        position,
                        high_watermark: ps.high_watermark,
                        lag,
                        paused: ps.paused,
                    }
                })
                .collect();
            (state.buffered_bytes as u64, partitions)
        };
        partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let c = &shared.counters;
        ConsumerMetrics {
            records_consumed: c.records.load(Ordering::Relaxed),
            bytes_consumed: c.bytes.load(Ordering::Relaxed),
            fetch_requests: c.fetches.count(),
            fetch_latency_avg_us: c.fetches.avg_us(),
            fetch_latency_max_us: c.fetches.max_us(),
            buffered_bytes,
            partitions,
            brokers: shared.cluster.broker_stats(),
        }
    }
}

fn new_partition_state(
    config: &ConsumerConfig,
    partition: i32,
    offset: Offset,
    generation: u64,
) -> Result<PartitionState> {
    let (position, reset) = match offset {
        Offset::At(o) if o >= 0 => (Some(o), None),
        Offset::At(o) => {
            return Err(Error::invalid_argument(format!(
                "offset {o} is negative (partition {partition})"
            )));
        }
        Offset::Beginning => (None, Some(EARLIEST)),
        Offset::End => (None, Some(LATEST)),
        Offset::Default => (None, reset_timestamp(config)),
    };
    Ok(PartitionState {
        fetch_position: position,
        position,
        reset,
        paused: false,
        held: false,
        generation,
        fetch_in_flight: false,
        high_watermark: -1,
        log_start_offset: -1,
        last_stable_offset: -1,
    })
}

/// The ListOffsets timestamp for `auto.offset.reset` (`None`: reset is an error).
pub(crate) fn reset_timestamp(config: &ConsumerConfig) -> Option<i64> {
    match config.auto_offset_reset {
        crate::config::OffsetReset::Earliest => Some(EARLIEST),
        crate::config::OffsetReset::Latest => Some(LATEST),
        crate::config::OffsetReset::Error => None,
    }
}

fn drop_chunks(state: &mut State, mut pred: impl FnMut(&TopicPartition) -> bool) {
    let mut freed = 0;
    state.chunks.retain(|c| {
        let drop = pred(&c.tp);
        if drop {
            freed += c.bytes;
        }
        !drop
    });
    state.buffered_bytes -= freed;
}

/// Hands the buffered records, decoded lazily, to `sink` until it returns `false` or nothing
/// is left, advancing the partitions' positions. Each partition is looked up once per chunk, not
/// per record. A corrupt batch stops it with the error; the chunk holding it is dropped (the
/// fetch position is already past it), and what was taken before stays taken.
fn take_records(
    state: &mut State,
    shared: &Shared,
    sink: &mut dyn FnMut(ConsumerRecord) -> bool,
) -> Option<Error> {
    let State {
        partitions,
        chunks,
        buffered_bytes,
        ..
    } = state;
    let mut i = 0;
    while let Some(chunk) = chunks.get_mut(i) {
        let partition = partitions
            .get_mut(&chunk.tp)
            .filter(|p| p.generation == chunk.generation);
        let valid = partition.is_some();
        let mut error = None;
        if let Some(ps) = partition {
            if ps.paused || ps.held {
                // Paused and held partitions keep their buffered data until resumed / released.
                i += 1;
                continue;
            }
            match drain_chunk(chunk, ps, shared, sink) {
                Drained::Stopped => return None,
                Drained::Exhausted => {}
                Drained::Failed(e) => error = Some(e.with_partition(&chunk.tp.0, chunk.tp.1)),
            }
        }
        // Chunk exhausted, corrupt or stale: free its budget.
        let chunk = chunks.remove(i).expect("index exists");
        *buffered_bytes -= chunk.bytes;
        shared.wake.notify_one();
        if error.is_some() {
            return error;
        }
        // Control batches and aborted records occupy offsets the user never sees, so the
        // position moves to the fetch position once nothing more of the partition is buffered.
        if valid
            && !chunks.iter().any(|c| c.tp == chunk.tp)
            && let Some(ps) = partitions.get_mut(&chunk.tp)
            && let Some(fp) = ps.fetch_position
            && ps.position.is_none_or(|p| p < fp)
        {
            ps.position = Some(fp);
        }
    }
    None
}

/// How [`drain_chunk`] stopped.
enum Drained {
    /// The sink wants no more; the chunk may hold more records.
    Stopped,
    /// Every record of the chunk was handed out.
    Exhausted,
    Failed(Error),
}

/// Hands the records of one chunk of a live, unpaused partition to `sink`, skipping those
/// before the partition's position (fetches start at batch boundaries).
fn drain_chunk(
    chunk: &mut Chunk,
    ps: &mut PartitionState,
    shared: &Shared,
    sink: &mut dyn FnMut(ConsumerRecord) -> bool,
) -> Drained {
    let config = &shared.config;
    let mut position = ps.position;
    // Counted locally and added once: the loop below is the consumer's hot path.
    let (mut records_out, mut bytes_out) = (0u64, 0u64);
    let outcome = 'chunk: loop {
        if let Some((records, ts_type, _)) = &mut chunk.current {
            while let Some(next) = records.next_raw() {
                let raw = match next {
                    Ok(raw) => raw,
                    Err(e) => {
                        chunk.current = None;
                        break 'chunk Drained::Failed(e.into());
                    }
                };
                chunk.records_hint = chunk.records_hint.saturating_sub(1);
                if position.is_some_and(|p| raw.offset < p) {
                    continue;
                }
                position = Some(raw.offset + 1);
                let data = records.data();
                let record = ConsumerRecord {
                    topic: chunk.tp.0.clone(),
                    partition: chunk.tp.1,
                    offset: raw.offset,
                    timestamp: raw.timestamp,
                    timestamp_type: *ts_type,
                    key: raw.key.map(|(s, e)| data.slice(s..e)),
                    value: raw.value.map(|(s, e)| data.slice(s..e)),
                    headers: raw.owned_headers(data),
                };
                records_out += 1;
                bytes_out += (record.key.as_ref().map_or(0, |k| k.len())
                    + record.value.as_ref().map_or(0, |v| v.len()))
                    as u64;
                if !sink(record) {
                    break 'chunk Drained::Stopped;
                }
            }
            chunk.current = None;
        }
        match next_batch(
            chunk,
            config.check_crcs,
            config.isolation_level,
            &shared.buffers,
        ) {
            Ok(Some(current)) => chunk.current = Some(current),
            Ok(None) => break Drained::Exhausted,
            Err(e) => break Drained::Failed(e),
        }
    };
    ps.position = position;
    shared
        .counters
        .records
        .fetch_add(records_out, Ordering::Relaxed);
    shared
        .counters
        .bytes
        .fetch_add(bytes_out, Ordering::Relaxed);
    outcome
}

/// The records of the chunk's next batch that has any for the user: control batches and
/// (read_committed) aborted transactions are skipped. `None` when the chunk is exhausted.
fn next_batch(
    chunk: &mut Chunk,
    check_crcs: bool,
    isolation: IsolationLevel,
    buffers: &BufferPool,
) -> Result<Option<(Records, TimestampType, bool)>> {
    loop {
        let Some(batch) = chunk.batches.next() else {
            return Ok(None);
        };
        let batch = batch?;
        let h = &batch.header;
        if isolation == IsolationLevel::ReadCommitted {
            while let Some(&(pid, first)) = chunk.aborted.front() {
                if first > h.last_offset() {
                    break;
                }
                chunk.aborted.pop_front();
                chunk.aborted_producers.push(pid);
            }
            if h.is_control() {
                if let Ok(Some(crate::records::ControlRecord::Abort { .. })) =
                    batch.control_record()
                {
                    chunk.aborted_producers.retain(|p| *p != h.producer_id);
                }
                chunk.records_hint = chunk
                    .records_hint
                    .saturating_sub(h.records_count.max(0) as usize);
                continue;
            }
            if h.is_transactional() && chunk.aborted_producers.contains(&h.producer_id) {
                chunk.records_hint = chunk
                    .records_hint
                    .saturating_sub(h.records_count.max(0) as usize);
                continue;
            }
        }
        if h.is_control() {
            chunk.records_hint = chunk
                .records_hint
                .saturating_sub(h.records_count.max(0) as usize);
            continue;
        }
        let records = batch.records_pooled(check_crcs, buffers)?;
        return Ok(Some((records, h.timestamp_type(), h.is_transactional())));
    }
}
