//! The producer: `send(record)` returns a future of the delivery report — nothing to poll.
//!
//! ```no_run
//! # async fn demo() -> odradek::error::Result<()> {
//! use odradek::config::Config;
//! use odradek::producer::{Producer, ProducerRecord};
//!
//! let config = Config::new().with("bootstrap.servers", "127.0.0.1:9092")?;
//! let producer = Producer::new(config.producer()?)?;
//! let report = producer.send(ProducerRecord::new("events").key(b"user-1").value(b"hello")).await?;
//! println!("partition {} offset {}", report.partition, report.offset);
//! producer.flush().await?;
//! # Ok(()) }
//! ```
//!
//! `send` appends the record to its partition's batch at once (no `.await` needed for that),
//! so a loop can call `send` many times and await the futures later; each future resolves
//! exactly once. When the buffer is full the record waits (up to `max.block.ms`) or, with
//! `max.block.ms=0`, fails at once with [`ErrorKind::QueueFull`](crate::error::ErrorKind).
//!
//! Invariants worth knowing:
//! - At most one batch per partition is in flight (many partitions per request, up to
//!   `max.in.flight.requests.per.connection` requests per broker). A retried batch keeps its
//!   sequence numbers and goes back to the head of its partition's queue, so per-partition order
//!   holds with and without idempotence.
//! - Records waiting for buffer space or for their topic's metadata are parked in send order,
//!   owning a copy of their data; parked records are not bounded by the buffer limits (each
//!   still has a caller holding its future), and fail after `max.block.ms` / `delivery.timeout.ms`.
//! - Dropping the last `Producer` handle does not lose records: the sender delivers what is
//!   buffered, then stops.

mod accumulator;
mod completion;
pub mod partitioner;
mod sender;
mod transaction;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::cluster::Cluster;
use crate::config::{Config, ProducerConfig};
use crate::error::{Error, Result};
use crate::records::RecordHeader;

use accumulator::{Appended, Limits, Reply, State, Ticket};
use completion::BatchSlot;
pub use transaction::ConsumerGroupMetadata;
use transaction::Transactions;

/// A record to send. Borrowed: the bytes are copied into the partition's batch by `send`.
#[derive(Debug, Clone, Copy)]
pub struct ProducerRecord<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`None` = null key).
    pub key: Option<&'a [u8]>,
    /// Value (`None` = null value, a tombstone on compacted topics).
    pub value: Option<&'a [u8]>,
    /// Headers.
    pub headers: &'a [RecordHeader],
    /// Create time in ms since the epoch; `None` = now.
    pub timestamp: Option<i64>,
}

impl<'a> ProducerRecord<'a> {
    /// A record for `topic` with no key, value or headers.
    pub fn new(topic: &'a str) -> Self {
        ProducerRecord {
            topic,
            partition: None,
            key: None,
            value: None,
            headers: &[],
            timestamp: None,
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets the value.
    #[must_use]
    pub fn value(mut self, value: &'a [u8]) -> Self {
        self.value = Some(value);
        self
    }

    /// Sets the partition.
    #[must_use]
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the headers.
    #[must_use]
    pub fn headers(mut self, headers: &'a [RecordHeader]) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the timestamp (ms since the epoch).
    #[must_use]
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// Where a record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Partition.
    pub partition: i32,
    /// Offset (-1 with acks=0).
    pub offset: i64,
    /// Timestamp: the record's create time, or the broker's log-append time if the topic uses it.
    pub timestamp: i64,
}

/// Resolves to the record's [`DeliveryReport`] or its error, exactly once. Dropping it does not
/// cancel the send. Usable from any executor; [`DeliveryFuture::wait`] blocks a plain thread.
#[must_use = "the delivery result is only known by awaiting this future"]
#[derive(Debug)]
pub struct DeliveryFuture {
    inner: Inner,
}

/// Most records share their batch's result slot (no allocation per record); records that had
/// to wait for metadata or buffer space have a channel of their own.
#[derive(Debug)]
enum Inner {
    Ready(Option<Result<DeliveryReport>>),
    Channel(oneshot::Receiver<Result<DeliveryReport>>),
    Batch {
        slot: Arc<BatchSlot>,
        index: u32,
        timestamp: i64,
        /// The waker last registered with the slot (not registered again for the same task).
        waker: Option<Waker>,
    },
}

fn stopped() -> Error {
    Error::closed("the producer stopped before the record was delivered")
}

impl DeliveryFuture {
    fn from_ticket(ticket: Ticket) -> DeliveryFuture {
        let inner = match ticket {
            Ticket::Ready(r) => Inner::Ready(Some(r)),
            Ticket::Channel(rx) => Inner::Channel(rx),
            Ticket::Batch {
                slot,
                index,
                timestamp,
            } => Inner::Batch {
                slot,
                index,
                timestamp,
                waker: None,
            },
        };
        DeliveryFuture { inner }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<DeliveryReport>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            Inner::Ready(r) => {
                Poll::Ready(r.take().unwrap_or_else(|| {
                    Err(Error::closed("DeliveryFuture polled after it completed"))
                }))
            }
            Inner::Channel(rx) => match Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(r)) => Poll::Ready(r),
                Poll::Ready(Err(_)) => Poll::Ready(Err(stopped())),
                Poll::Pending => Poll::Pending,
            },
            Inner::Batch {
                slot,
                index,
                timestamp,
                waker,
            } => {
                let known = waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
                let register = (!known).then(|| cx.waker());
                match slot.poll(*index, *timestamp, register) {
                    Some(r) => Poll::Ready(r),
                    None => {
                        if let Some(w) = register {
                            *waker = Some(w.clone());
                        }
                        Poll::Pending
                    }
                }
            }
        }
    }
}

impl DeliveryFuture {
    /// The result if it is known already, without blocking; the future back while the record
    /// is still on its way (for a send loop that collects finished reports as it goes).
    pub fn try_wait(mut self) -> std::result::Result<Result<DeliveryReport>, DeliveryFuture> {
        match &mut self.inner {
            Inner::Ready(r) => Ok(r
                .take()
                .unwrap_or_else(|| Err(Error::closed("DeliveryFuture polled after it completed")))),
            Inner::Channel(rx) => match rx.try_recv() {
                Ok(r) => Ok(r),
                Err(oneshot::error::TryRecvError::Closed) => Ok(Err(stopped())),
                Err(oneshot::error::TryRecvError::Empty) => Err(self),
            },
            Inner::Batch {
                slot,
                index,
                timestamp,
                ..
            } => match slot.poll(*index, *timestamp, None) {
                Some(r) => Ok(r),
                None => Err(self),
            },
        }
    }

    /// Blocks the current (non-async) thread until the result is known.
    pub fn wait(self) -> Result<DeliveryReport> {
        // Most reports are in by the time a caller waits for them in send order: take the
        // result without setting up an executor (thread-local notifier, waker, poll).
        match self.try_wait() {
            Ok(r) => r,
            Err(pending) => futures::executor::block_on(pending),
        }
    }
}

/// A snapshot of producer counters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ProducerMetrics {
    /// Records acknowledged (or written, with acks=0).
    pub records_delivered: u64,
    /// Records that failed.
    pub records_failed: u64,
    /// Uncompressed record bytes delivered.
    pub bytes_delivered: u64,
    /// Produce requests completed.
    pub requests: u64,
    /// Batch retries.
    pub retries: u64,
    /// Mean Produce request latency, microseconds.
    pub request_latency_avg_us: u64,
    /// Largest Produce request latency, microseconds.
    pub request_latency_max_us: u64,
    /// Records waiting in the buffer (incl. in flight).
    pub queue_records: u64,
    /// Bytes waiting in the buffer (incl. in flight).
    pub queue_bytes: u64,
    /// Every broker the producer knows, sorted by address.
    pub brokers: Vec<crate::metrics::BrokerStats>,
}

impl ProducerMetrics {
    /// JSON text of this snapshot.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Default)]
struct Metrics {
    delivered: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    retries: AtomicU64,
    /// Produce requests and their round trips.
    requests: crate::metrics::LatencyStat,
}

impl Metrics {
    fn record_delivered(&self, records: usize, bytes: usize) {
        self.delivered.fetch_add(records as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    fn record_errors(&self, records: usize) {
        self.failed.fetch_add(records as u64, Ordering::Relaxed);
    }
    fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    fn record_request(&self, latency: Duration) {
        self.requests.record(latency);
    }
}

/// State shared by the producer handles and the sender task.
pub(crate) struct Shared {
    config: ProducerConfig,
    limits: Limits,
    cluster: Arc<Cluster>,
    state: Mutex<State>,
    /// Wakes the sender.
    wake: Notify,
    wake_hint: std::sync::atomic::AtomicBool,
    /// Notified when the accumulator became idle while a flush waits (flush waits on it).
    idle: Notify,
    /// Sender passes so far (tests count them to catch busy loops).
    #[cfg(test)]
    passes: AtomicU64,
    metrics: Metrics,
    /// With `transactional.id`: the transaction manager.
    txn: Option<Transactions>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_sender(&self) {
        self.wake_hint.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn take_wake_hint(&self) -> bool {
        self.wake_hint.swap(false, Ordering::AcqRel)
    }

    /// Wakes flush waiters once nothing is buffered, parked or in flight. Only then: a waiter
    /// woken earlier found work left, woke the sender, which notified it again — the two
    /// threads kept waking each other for as long as a flush (every commit) waited.
    fn notify_if_idle(&self) {
        let idle = {
            let state = self.lock();
            state.flushing > 0 && state.is_idle()
        };
        if idle {
            self.idle.notify_waiters();
        }
    }
}

/// Closes the producer when the last user handle goes away: buffered records are still
/// delivered (each future still resolves), then the sender stops.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake_sender();
    }
}

/// An asynchronous Kafka producer. Cheap to clone; all clones share one buffer and sender.
#[derive(Clone)]
pub struct Producer {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field(
                "bootstrap",
                &self.handle.shared.config.client.bootstrap_servers,
            )
            .finish()
    }
}

impl Producer {
    /// Starts a producer. Works inside a tokio runtime (the sender runs there) and from plain
    /// threads (the sender runs on the library's runtime, see [`crate::runtime`]).
    pub fn new(config: ProducerConfig) -> Result<Producer> {
        if config.compression_level.is_some() {
            // Validate the level against the codec now rather than on the first batch.
            let mut out = Vec::new();
            crate::compression::compress(
                config.compression,
                config.compression_level,
                b"",
                &mut out,
            )
            .map_err(|e| Error::config("compression.level", e))?;
        }
        let cluster = Cluster::new(config.client.clone());
        let txn = config
            .transactional_id
            .clone()
            .map(|id| Transactions::new(id, config.transaction_timeout, config.max_block));
        let shared = Arc::new(Shared {
            limits: Limits::new(&config),
            config,
            cluster,
            state: Mutex::new(State::new()),
            wake: Notify::new(),
            wake_hint: std::sync::atomic::AtomicBool::new(false),
            idle: Notify::new(),
            #[cfg(test)]
            passes: AtomicU64::new(0),
            metrics: Metrics::default(),
            txn,
        });
        crate::runtime::spawn(sender::run(shared.clone()));
        Ok(Producer {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// Starts a producer from a property map.
    pub fn from_config(config: &Config) -> Result<Producer> {
        Producer::new(config.producer()?)
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Sends a record: it is appended to its partition's batch now, and the returned future
    /// resolves once the broker acknowledged it (or it failed). See the module docs.
    pub fn send(&self, record: ProducerRecord<'_>) -> DeliveryFuture {
        let shared = self.shared();
        if let Some(txn) = &shared.txn
            && let Err(e) = txn.check_send()
        {
            return DeliveryFuture::from_ticket(Ticket::Ready(Err(e)));
        }
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let (outcome, ticket) = {
            let mut state = shared.lock();
            let outcome = state.append(&shared.limits, record, timestamp, Reply::Direct);
            (outcome, state.ticket.take())
        };
        let ticket = ticket.unwrap_or_else(|| {
            // Every path of `append` leaves a ticket for a direct reply; never lose a record's
            // result if one did not.
            Ticket::Ready(Err(Error::closed("the record was not accepted")))
        });
        match outcome {
            Appended::Done { wake: false } => {}
            Appended::Done { wake: true } | Appended::NeedsMetadata | Appended::Parked => {
                shared.wake_sender()
            }
        }
        DeliveryFuture::from_ticket(ticket)
    }

    /// Waits until every record sent before this call is delivered or failed; batches are sent
    /// without waiting for `linger.ms`.
    pub async fn flush(&self) -> Result<()> {
        let shared = self.shared();
        shared.lock().flushing += 1;
        struct Unflush<'a>(&'a Shared);
        impl Drop for Unflush<'_> {
            fn drop(&mut self) {
                self.0.lock().flushing -= 1;
            }
        }
        let _unflush = Unflush(shared);
        // One wake: with `flushing` set the sender closes every open batch it can send now,
        // the rest as their partitions' responses arrive (it looks again after each), and
        // notifies `idle` when nothing is left.
        shared.wake_sender();
        loop {
            let idle = shared.idle.notified();
            tokio::pin!(idle);
            // Registered before the check, so a notification after it is not missed.
            idle.as_mut().enable();
            if shared.lock().is_idle() {
                return Ok(());
            }
            idle.await;
        }
    }

    /// [`Producer::flush`] with a deadline.
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        match tokio::time::timeout(timeout, self.flush()).await {
            Ok(r) => r,
            Err(_) => Err(Error::timeout(format!(
                "flush did not finish within {timeout:?}"
            ))),
        }
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> ProducerMetrics {
        let m = &self.shared().metrics;
        let (queue_records, queue_bytes) = {
            let s = self.shared().lock();
            (s.buffered_records as u64, s.buffered_bytes as u64)
        };
        ProducerMetrics {
            records_delivered: m.delivered.load(Ordering::Relaxed),
            records_failed: m.failed.load(Ordering::Relaxed),
            bytes_delivered: m.bytes.load(Ordering::Relaxed),
            requests: m.requests.count(),
            retries: m.retries.load(Ordering::Relaxed),
            request_latency_avg_us: m.requests.avg_us(),
            request_latency_max_us: m.requests.max_us(),
            queue_records,
            queue_bytes,
            brokers: self.shared().cluster.broker_stats(),
        }
    }

    /// Sends failures that no call returns (a broker unreachable, every broker down, a TLS or
    /// SASL failure, the producer fenced) to `callback`, on the library's event thread.
    pub fn set_error_callback(&self, callback: crate::events::ErrorCallback) {
        self.shared().cluster.events().set_callback(callback);
    }

    /// The cluster handle (metadata, connections) this producer uses.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.shared().cluster
    }

    fn transactions(&self) -> Result<&Transactions> {
        self.shared()
            .txn
            .as_ref()
            .ok_or_else(transaction::not_transactional)
    }

    /// Registers `transactional.id` with its coordinator: fences any earlier producer with the
    /// same id and aborts (or completes) its open transaction. Call once, before the first
    /// transaction.
    pub async fn init_transactions(&self) -> Result<()> {
        let txn = self.transactions()?;
        txn.init(&self.shared().cluster).await?;
        self.shared().wake_sender();
        Ok(())
    }

    /// Opens a transaction: records sent until commit or abort belong to it.
    pub fn begin_transaction(&self) -> Result<()> {
        let txn = self.transactions()?;
        txn.begin(self.shared().lock().local_failures)
    }

    /// Adds the consumer's offsets (`(topic, partition, next offset to read)`) to the open
    /// transaction: they are committed for `group.group_id` if, and only if, it commits.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[(String, i32, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.transactions()?
            .send_offsets(&self.shared().cluster, offsets, group)
            .await
    }

    /// Delivers everything sent in the transaction, then commits it. An abortable error
    /// (a record failed) leaves the transaction to `abort_transaction`; a fatal one (fenced)
    /// ends the producer.
    pub async fn commit_transaction(&self) -> Result<()> {
        let txn = self.transactions()?;
        let _op = txn.op().await;
        let flushed = self.flush().await;
        let failures = self.shared().lock().local_failures;
        txn.end(&self.shared().cluster, true, flushed, failures)
            .await
    }

    /// Aborts the open transaction: what it wrote is never visible to read_committed readers.
    pub async fn abort_transaction(&self) -> Result<()> {
        let txn = self.transactions()?;
        let _op = txn.op().await;
        // Records still in flight must land (or fail) before the abort marker.
        let flushed = self.flush().await;
        let failures = self.shared().lock().local_failures;
        txn.end(&self.shared().cluster, false, flushed, failures)
            .await
    }

    /// The transactional id, if this producer has one.
    pub fn transactional_id(&self) -> Option<&str> {
        self.shared()
            .txn
            .as_ref()
            .map(Transactions::transactional_id)
    }

    /// Flushes, then stops the sender. Later sends fail with a closed error.
    pub async fn close(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.shared().lock().closing = true;
        self.shared().wake_sender();
        flushed
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flush that waits does not keep the sender busy: it wakes the sender once, and the
    /// sender notifies it only when nothing is left. The two used to wake each other on every
    /// pass for as long as the flush waited (~460 futex calls per transaction of 100 records).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_flush_does_not_spin_the_sender() {
        // Nothing listens there: the record stays parked, waiting for its topic's metadata.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // Without idempotence: no InitProducerId attempt holds the sender's pass.
        let config = Config::from_pairs([
            ("bootstrap.servers", address.to_string()),
            ("enable.idempotence", "false".into()),
        ])
        .unwrap()
        .producer()
        .unwrap();
        let producer = Producer::new(config).unwrap();
        let _pending = producer.send(ProducerRecord::new("t").value(b"v"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let passes = || producer.shared().passes.load(Ordering::Relaxed);
        let before = passes();
        let flushed = producer.flush_timeout(Duration::from_millis(500)).await;
        assert!(flushed.is_err(), "nothing can be delivered: {flushed:?}");
        let during = passes() - before;
        // The sender's own timers (parked records every 50 ms, connect back-off) allow ~10-20.
        assert!(during < 60, "{during} sender passes during a 500 ms flush");
    }
}
