//! The Rust half of the C++ binding: a [`cxx`] bridge over the `odradek` core, called by the
//! C++17 wrapper in `src/odradek.cc` (public API in `include/odradek/odradek.hpp`).
//!
//! Rules at this edge:
//! - No panic crosses into C++: every bridge function runs under [`guard`], which turns an
//!   error or a panic into a `Result` error; cxx turns that into a C++ exception, and the wrapper
//!   rethrows it as `odradek::KafkaError`.
//! - Errors travel as one string, [`encode_error`] (the core's `Error::to_fields`): the stable
//!   name, the numeric code, the class, the topic, partition and broker, and the message, so C++
//!   keeps what every binding keeps.
//! - Blocking calls (`flush`, `poll`, `commit`) run on the core's runtime from the caller's
//!   thread; delivery callbacks run on a runtime thread (see [`delivery_pump`]).
// cxx generates `unsafe` FFI glue; this module is an FFI edge, where `unsafe` is allowed.
#![allow(unsafe_code)]

mod admin;
mod consumer;
mod logging;
mod observability;
mod share;
mod transaction;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use odradek::admin::{Admin, NewTopic};
use odradek::config::Config;
use odradek::error::Error;
use odradek::producer::{DeliveryFuture, Producer, ProducerRecord};
use odradek::records::RecordHeader;
use tokio::sync::{Notify, mpsc};

use consumer::consumer_new;
pub use consumer::{ConsumerBox, RecordBatchBox};
use logging::set_log_forwarding;
pub use share::ShareConsumerBox;
use share::share_consumer_new;

#[cxx::bridge(namespace = "odradek::ffi")]
mod ffi {
    /// One `key=value` property.
    struct Property {
        key: String,
        value: String,
    }

    /// Where a record was written.
    struct Report {
        partition: i32,
        offset: i64,
        timestamp: i64,
    }

    /// A partition and an offset (special offsets as librdkafka: -2 beginning, -1 end,
    /// -1001 committed / auto.offset.reset).
    struct PartitionOffset {
        topic: String,
        partition: i32,
        offset: i64,
    }

    /// A consumer's group metadata for `send_offsets_to_transaction` (KIP-447);
    /// `group_instance_id` is empty for a dynamic member.
    struct GroupMetadata {
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: String,
    }

    /// A topic and its partition count.
    struct TopicInfo {
        name: String,
        partitions: i32,
    }

    /// An OAUTHBEARER token from the C++ token provider.
    struct OAuthToken {
        value: String,
        expires_at_ms: i64,
        principal: String,
        extension_keys: Vec<String>,
        extension_values: Vec<String>,
    }

    extern "Rust" {
        type ProducerBox;
        type ConsumerBox;
        type RecordBatchBox;
        type ShareConsumerBox;
        type AdminBox;
        type BrokerBox;
        type ClusterBox;

        fn producer_new(
            config: &[Property],
            tokens: UniquePtr<TokenSink>,
        ) -> Result<Box<ProducerBox>>;
        #[allow(clippy::too_many_arguments)]
        fn send(
            self: &ProducerBox,
            topic: &[u8],
            partition: i32,
            key: &[u8],
            key_null: bool,
            value: &[u8],
            value_null: bool,
            timestamp: i64,
            headers: &[u8],
            header_lens: &[i64],
            sink: UniquePtr<DeliverySink>,
        ) -> Result<()>;
        fn flush(self: &ProducerBox, timeout_ms: i64) -> Result<()>;
        fn close(self: &ProducerBox, timeout_ms: i64) -> Result<()>;
        fn init_transactions(self: &ProducerBox, timeout_ms: i64) -> Result<()>;
        fn begin_transaction(self: &ProducerBox) -> Result<()>;
        fn send_offsets_to_transaction(
            self: &ProducerBox,
            offsets: &[PartitionOffset],
            group: &GroupMetadata,
            timeout_ms: i64,
        ) -> Result<()>;
        fn commit_transaction(self: &ProducerBox, timeout_ms: i64) -> Result<()>;
        fn abort_transaction(self: &ProducerBox, timeout_ms: i64) -> Result<()>;

        fn consumer_new(
            config: &[Property],
            tokens: UniquePtr<TokenSink>,
        ) -> Result<Box<ConsumerBox>>;
        fn subscribe(self: &ConsumerBox, topics: &[String]) -> Result<()>;
        fn assign(self: &ConsumerBox, partitions: &[PartitionOffset]) -> Result<()>;
        fn unassign(self: &ConsumerBox) -> Result<()>;
        fn assignment(self: &ConsumerBox) -> Result<Vec<PartitionOffset>>;
        fn poll_batch(
            self: &ConsumerBox,
            max: usize,
            timeout_ms: i64,
        ) -> Result<Box<RecordBatchBox>>;
        fn seek(self: &ConsumerBox, topic: &[u8], partition: i32, offset: i64) -> Result<()>;
        fn position(self: &ConsumerBox, topic: &[u8], partition: i32) -> Result<i64>;
        fn pause(self: &ConsumerBox, partitions: &[PartitionOffset]) -> Result<()>;
        fn resume(self: &ConsumerBox, partitions: &[PartitionOffset]) -> Result<()>;
        fn watermarks(self: &ConsumerBox, topic: &[u8], partition: i32) -> Result<Vec<i64>>;
        fn commit(self: &ConsumerBox) -> Result<()>;
        fn commit_offsets(self: &ConsumerBox, offsets: &[PartitionOffset]) -> Result<()>;
        fn committed(self: &ConsumerBox, partitions: &[PartitionOffset]) -> Result<Vec<i64>>;
        fn set_rebalance_sink(self: &ConsumerBox, sink: UniquePtr<RebalanceSink>) -> Result<()>;
        fn close(self: &ConsumerBox) -> Result<()>;
        fn group_metadata(self: &ConsumerBox) -> Result<GroupMetadata>;

        fn share_consumer_new(
            config: &[Property],
            tokens: UniquePtr<TokenSink>,
        ) -> Result<Box<ShareConsumerBox>>;
        fn subscribe(self: &ShareConsumerBox, topics: &[String]) -> Result<()>;
        fn assignment(self: &ShareConsumerBox) -> Result<Vec<PartitionOffset>>;
        fn poll(self: &ShareConsumerBox, timeout_ms: i64) -> Result<Box<RecordBatchBox>>;
        /// kind: 1 accept, 2 release, 3 reject.
        fn acknowledge(
            self: &ShareConsumerBox,
            topic: &[u8],
            partition: i32,
            offset: i64,
            kind: u8,
        ) -> Result<()>;
        fn commit_sync(self: &ShareConsumerBox) -> Result<()>;
        fn commit_async(self: &ShareConsumerBox) -> Result<()>;
        fn close(self: &ShareConsumerBox) -> Result<()>;
        /// The record's delivery count (share consumers), -1 for a classic consumer's record.
        fn delivery_count(self: &RecordBatchBox, i: usize) -> i16;

        fn len(self: &RecordBatchBox) -> usize;
        fn topic(self: &RecordBatchBox, i: usize) -> &str;
        fn partition(self: &RecordBatchBox, i: usize) -> i32;
        fn offset(self: &RecordBatchBox, i: usize) -> i64;
        fn timestamp(self: &RecordBatchBox, i: usize) -> i64;
        fn key(self: &RecordBatchBox, i: usize) -> &[u8];
        fn key_is_null(self: &RecordBatchBox, i: usize) -> bool;
        fn value(self: &RecordBatchBox, i: usize) -> &[u8];
        fn value_is_null(self: &RecordBatchBox, i: usize) -> bool;
        fn header_count(self: &RecordBatchBox, i: usize) -> usize;
        fn header_key(self: &RecordBatchBox, i: usize, h: usize) -> &[u8];
        fn header_value(self: &RecordBatchBox, i: usize, h: usize) -> &[u8];
        fn header_value_is_null(self: &RecordBatchBox, i: usize, h: usize) -> bool;

        fn admin_new(config: &[Property], tokens: UniquePtr<TokenSink>) -> Result<Box<AdminBox>>;
        fn create_topic(
            self: &AdminBox,
            name: &[u8],
            partitions: i32,
            replication_factor: i16,
            config: &[Property],
        ) -> Result<()>;
        fn delete_topic(self: &AdminBox, name: &[u8]) -> Result<()>;
        fn create_partitions(self: &AdminBox, topic: &[u8], total: i32) -> Result<()>;
        fn list_topics(self: &AdminBox) -> Result<Vec<TopicInfo>>;

        fn broker_start(properties: &[Property]) -> Result<Box<BrokerBox>>;
        fn broker_start_sasl_ssl(
            username: &str,
            password: &str,
            properties: &[Property],
        ) -> Result<Box<BrokerBox>>;
        fn bootstrap_servers(self: &BrokerBox) -> String;
        /// The CA of a SASL_SSL broker; empty for a plaintext one.
        fn ca_pem(self: &BrokerBox) -> String;
        fn stop(self: &mut BrokerBox);

        fn cluster_start(nodes: u16, properties: &[Property]) -> Result<Box<ClusterBox>>;
        fn cluster_bootstrap(self: &ClusterBox) -> String;
        fn cluster_node_ids(self: &ClusterBox) -> Vec<u64>;
        fn cluster_kill(self: &mut ClusterBox, node_id: u64) -> Result<()>;
        fn cluster_restart(self: &mut ClusterBox, node_id: u64) -> Result<()>;
        fn cluster_isolate(self: &mut ClusterBox, node_id: u64) -> Result<()>;
        fn cluster_heal(self: &mut ClusterBox, node_id: u64) -> Result<()>;
        /// The partition's leader, or -1 when there is none now.
        fn cluster_leader(self: &ClusterBox, topic: &str, partition: i32) -> i64;
        fn cluster_stop(self: &mut ClusterBox);

        fn library_version() -> String;

        /// Forwards the core's log records at `level` (1 error to 5 trace) and more severe to
        /// `log_record`; 0 stops forwarding.
        fn set_log_forwarding(level: u8) -> Result<()>;
    }

    unsafe extern "C++" {
        include!("odradek-cpp/src/bridge.h");

        /// Where one delivery result goes (a `std::promise` or a callback).
        type DeliverySink;
        /// Receives rebalance events (`std::function`s set by the user).
        type RebalanceSink;
        /// The user's OAUTHBEARER token provider (a `std::function`).
        type TokenSink;

        fn deliver_ok(sink: UniquePtr<DeliverySink>, report: &Report);
        fn deliver_err(sink: UniquePtr<DeliverySink>, error: &str);
        /// kind: 0 assigned, 1 revoked, 2 lost.
        fn rebalance_event(sink: &RebalanceSink, kind: u8, partitions: &[PartitionOffset]);
        /// Calls the provider (under the sink's lock); what it throws comes back as the error.
        fn provide_token(sink: &TokenSink, oauthbearer_config: &str) -> Result<OAuthToken>;
        /// Calls the user's log handler (on the core's `odradek-log` thread).
        fn log_record(level: u8, target: &str, message: &str);
    }
}

// SAFETY: a DeliverySink is created by one C++ thread, handed to Rust once, and consumed exactly
// once by `deliver_ok` / `deliver_err` on another thread; nothing else touches it meanwhile.
unsafe impl Send for ffi::DeliverySink {}
// SAFETY: RebalanceSink only holds `std::function`s set before it is handed over; C++ calls
// them under the sink's own lock, so sharing it across threads is sound.
unsafe impl Send for ffi::RebalanceSink {}
// SAFETY: as above.
unsafe impl Sync for ffi::RebalanceSink {}
// SAFETY: TokenSink holds a `std::function` set before it is handed over; C++ calls it under
// the sink's own lock, so sharing it across threads is sound.
unsafe impl Send for ffi::TokenSink {}
// SAFETY: as above.
unsafe impl Sync for ffi::TokenSink {}

use ffi::{Property, Report, TopicInfo};

/// A bridge error: the core error encoded for C++ (see [`encode_error`]).
#[derive(Debug)]
pub struct FfiError(String);

impl std::fmt::Display for FfiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError(encode_error(&e))
    }
}

/// `ODRADEK<US>` and the core's `Error::to_fields` (name, code, retriable, class, topic,
/// partition, broker, message), parsed by `odradek.cc`.
pub fn encode_error(e: &Error) -> String {
    format!("ODRADEK{SEP}{}", e.to_fields())
}

const SEP: char = odradek::error::FIELD_SEPARATOR;

fn panic_error(what: &str) -> FfiError {
    // librdkafka's _FATAL: the client hit a bug; the process can go on but this call failed.
    FfiError(format!(
        "ODRADEK{SEP}_FATAL{SEP}-150{SEP}false{SEP}fatal{SEP}{SEP}{SEP}{SEP}internal error in odradek (a Rust panic, caught at the C++ boundary): {what}"
    ))
}

/// Runs `f`, turning its error or a panic into an [`FfiError`]: nothing unwinds into C++.
pub(crate) fn guard<T>(f: impl FnOnce() -> odradek::error::Result<T>) -> Result<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(FfiError::from),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(panic_error(&what))
        }
    }
}

/// Runs `f` where no error is possible but a panic must still not cross the boundary.
pub(crate) fn guard_or<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

pub(crate) fn utf8<'a>(bytes: &'a [u8], what: &str) -> odradek::error::Result<&'a str> {
    std::str::from_utf8(bytes)
        .map_err(|_| Error::invalid_argument(format!("{what} is not valid UTF-8")))
}

/// The core config of these properties, with the C++ token provider (a null `tokens`: none).
pub(crate) fn config_of(
    properties: &[Property],
    tokens: cxx::UniquePtr<ffi::TokenSink>,
) -> odradek::error::Result<Config> {
    let mut config = Config::from_pairs(properties.iter().map(|p| (&p.key, &p.value)))?;
    if !tokens.is_null() {
        let oauth_config = config
            .get("sasl.oauthbearer.config")
            .unwrap_or("")
            .to_string();
        config.set_oauthbearer_token_provider(token_provider(Arc::new(tokens), oauth_config));
    }
    Ok(config)
}

/// The C++ provider as a core token provider: called on the blocking pool, at each login and
/// before each token expires; an exception fails the login with its `what()`.
fn token_provider(
    sink: Arc<cxx::UniquePtr<ffi::TokenSink>>,
    oauth_config: String,
) -> odradek::security::TokenProvider {
    use odradek::protocol::sasl::{Secret, oauthbearer::Token};
    odradek::security::TokenProvider::blocking(move || {
        let sink = sink.as_ref().as_ref().ok_or("no token provider")?;
        let t = ffi::provide_token(sink, &oauth_config).map_err(|e| e.what().to_string())?;
        Ok(Token {
            value: Secret::new(t.value),
            principal: t.principal,
            expires_at_ms: t.expires_at_ms,
            extensions: t
                .extension_keys
                .into_iter()
                .zip(t.extension_values)
                .collect(),
        })
    })
}

/// Blocks the calling (C++) thread on the core's runtime. Called from a runtime thread (a
/// delivery or rebalance callback) it would deadlock or panic, so it fails instead.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> odradek::error::Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::invalid_argument(
            "a blocking odradek call (flush, poll, commit, close, ...) was made from inside a delivery or rebalance callback; call it from your own thread",
        ));
    }
    Ok(odradek::runtime::block_on(f))
}

pub(crate) fn timeout_of(ms: i64) -> Duration {
    if ms < 0 {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        Duration::from_millis(ms as u64)
    }
}

// ------------------------------------------------------------------------------------ producer

type Pending = (DeliveryFuture, cxx::UniquePtr<ffi::DeliverySink>);

/// A producer plus the task that hands delivery results to C++.
pub struct ProducerBox {
    pub(crate) producer: Producer,
    to_pump: mpsc::UnboundedSender<Pending>,
    progress: Arc<Progress>,
}

impl std::fmt::Debug for ProducerBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBox")
            .field("producer", &self.producer)
            .finish()
    }
}

/// Counts sends and completed callbacks, so `flush` returns only after every callback ran.
#[derive(Default)]
struct Progress {
    sent: AtomicU64,
    completed: AtomicU64,
    changed: Notify,
}

fn producer_new(
    config: &[Property],
    tokens: cxx::UniquePtr<ffi::TokenSink>,
) -> Result<Box<ProducerBox>, FfiError> {
    guard(|| {
        let config = config_of(config, tokens)?;
        let producer = Producer::from_config(&config)?;
        let (to_pump, from_send) = mpsc::unbounded_channel();
        let progress = Arc::new(Progress::default());
        odradek::runtime::spawn(delivery_pump(from_send, progress.clone()));
        Ok(Box::new(ProducerBox {
            producer,
            to_pump,
            progress,
        }))
    })
}

/// One task per producer: awaits the delivery futures and completes each C++ sink, on a runtime
/// thread (so a callback should be short, as in the Java client's I/O thread).
async fn delivery_pump(mut from_send: mpsc::UnboundedReceiver<Pending>, progress: Arc<Progress>) {
    let mut pending = FuturesUnordered::new();
    let mut open = true;
    while open || !pending.is_empty() {
        tokio::select! {
            Some((result, sink)) = pending.next(), if !pending.is_empty() => {
                complete(result, sink);
                progress.completed.fetch_add(1, Ordering::SeqCst);
                progress.changed.notify_waiters();
            }
            item = from_send.recv(), if open => match item {
                Some((future, sink)) => pending.push(async move { (future.await, sink) }),
                None => open = false,
            },
        }
    }
}

fn complete(
    result: odradek::error::Result<odradek::producer::DeliveryReport>,
    sink: cxx::UniquePtr<ffi::DeliverySink>,
) {
    // The C++ side catches everything a user callback throws; a panic here cannot happen, but
    // must not take the pump down if it did.
    let _ = catch_unwind(AssertUnwindSafe(move || match result {
        Ok(r) => ffi::deliver_ok(
            sink,
            &Report {
                partition: r.partition,
                offset: r.offset,
                timestamp: r.timestamp,
            },
        ),
        Err(e) => ffi::deliver_err(sink, &encode_error(&e)),
    }));
}

impl ProducerBox {
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        topic: &[u8],
        partition: i32,
        key: &[u8],
        key_null: bool,
        value: &[u8],
        value_null: bool,
        timestamp: i64,
        headers: &[u8],
        header_lens: &[i64],
        sink: cxx::UniquePtr<ffi::DeliverySink>,
    ) -> Result<(), FfiError> {
        guard(|| {
            let topic = utf8(topic, "the topic name")?;
            let headers = decode_headers(headers, header_lens)?;
            let mut record = ProducerRecord::new(topic).headers(&headers);
            if !key_null {
                record = record.key(key);
            }
            if !value_null {
                record = record.value(value);
            }
            if partition >= 0 {
                record = record.partition(partition);
            }
            if timestamp >= 0 {
                record = record.timestamp(timestamp);
            }
            let future = self.producer.send(record);
            self.progress.sent.fetch_add(1, Ordering::SeqCst);
            self.to_pump
                .send((future, sink))
                .map_err(|_| Error::closed("the producer is closed"))?;
            Ok(())
        })
    }

    fn flush(&self, timeout_ms: i64) -> Result<(), FfiError> {
        guard(|| {
            let target = self.progress.sent.load(Ordering::SeqCst);
            let timeout = timeout_of(timeout_ms);
            block_on(async {
                let deadline = tokio::time::Instant::now() + timeout;
                self.producer.flush_timeout(timeout).await?;
                // Every record is delivered; wait until its C++ sink has run too.
                loop {
                    let changed = self.progress.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    if self.progress.completed.load(Ordering::SeqCst) >= target {
                        return Ok(());
                    }
                    if tokio::time::timeout_at(deadline, changed).await.is_err() {
                        return Err(Error::timeout(format!(
                            "flush did not finish within {timeout:?}"
                        )));
                    }
                }
            })?
        })
    }

    fn close(&self, timeout_ms: i64) -> Result<(), FfiError> {
        self.flush(timeout_ms)?;
        guard(|| block_on(self.producer.close())?)
    }
}

/// Headers come flattened from C++: for each, the name length and the value length (-1: null)
/// in `lens`, the bytes back to back in `buf`.
fn decode_headers(buf: &[u8], lens: &[i64]) -> odradek::error::Result<Vec<RecordHeader>> {
    let bad = || Error::invalid_argument("malformed header list from the C++ wrapper");
    if !lens.len().is_multiple_of(2) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(lens.len() / 2);
    let mut at = 0usize;
    let mut take = |n: usize| -> odradek::error::Result<bytes::Bytes> {
        let end = at
            .checked_add(n)
            .filter(|e| *e <= buf.len())
            .ok_or_else(bad)?;
        let b = bytes::Bytes::copy_from_slice(&buf[at..end]);
        at = end;
        Ok(b)
    };
    for pair in lens.chunks_exact(2) {
        let name_len = usize::try_from(pair[0]).map_err(|_| bad())?;
        let key = take(name_len)?;
        let value = match pair[1] {
            -1 => None,
            n => Some(take(usize::try_from(n).map_err(|_| bad())?)?),
        };
        out.push(RecordHeader { key, value });
    }
    Ok(out)
}

// --------------------------------------------------------------------------------------- admin

/// An admin client.
#[derive(Debug)]
pub struct AdminBox {
    admin: Admin,
}

fn admin_new(
    config: &[Property],
    tokens: cxx::UniquePtr<ffi::TokenSink>,
) -> Result<Box<AdminBox>, FfiError> {
    guard(|| {
        let admin = Admin::from_config(&config_of(config, tokens)?)?;
        Ok(Box::new(AdminBox { admin }))
    })
}

impl AdminBox {
    fn create_topic(
        &self,
        name: &[u8],
        partitions: i32,
        replication_factor: i16,
        config: &[Property],
    ) -> Result<(), FfiError> {
        guard(|| {
            let mut topic = NewTopic::new(utf8(name, "the topic name")?, partitions)
                .replication_factor(replication_factor);
            for p in config {
                topic = topic.config(&p.key, &p.value);
            }
            block_on(self.admin.create_topics(&[topic]))?
        })
    }

    fn delete_topic(&self, name: &[u8]) -> Result<(), FfiError> {
        guard(|| {
            let name = utf8(name, "the topic name")?;
            block_on(self.admin.delete_topics(&[name]))?
        })
    }

    fn create_partitions(&self, topic: &[u8], total: i32) -> Result<(), FfiError> {
        guard(|| {
            let topic = utf8(topic, "the topic name")?;
            block_on(self.admin.create_partitions(topic, total))?
        })
    }

    fn list_topics(&self) -> Result<Vec<TopicInfo>, FfiError> {
        guard(|| {
            let topics = block_on(self.admin.list_topics())??;
            Ok(topics
                .into_iter()
                .map(|(name, n)| TopicInfo {
                    name,
                    partitions: i32::try_from(n).unwrap_or(i32::MAX),
                })
                .collect())
        })
    }
}

// ------------------------------------------------------------------------------ embedded broker

/// The in-process broker for tests (`odradek::testing::Broker`).
#[derive(Debug)]
pub struct BrokerBox {
    broker: odradek_broker::EmbeddedBroker,
}

fn broker_start(properties: &[Property]) -> Result<Box<BrokerBox>, FfiError> {
    start_broker(properties, None)
}

fn broker_start_sasl_ssl(
    username: &str,
    password: &str,
    properties: &[Property],
) -> Result<Box<BrokerBox>, FfiError> {
    start_broker(properties, Some((username, password)))
}

fn start_broker(
    properties: &[Property],
    sasl_ssl: Option<(&str, &str)>,
) -> Result<Box<BrokerBox>, FfiError> {
    guard(|| {
        let props: Vec<(&str, &str)> = properties
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        let started = match sasl_ssl {
            Some((user, password)) => {
                odradek_broker::EmbeddedBroker::start_sasl_ssl(user, password, &props)
            }
            None => odradek_broker::EmbeddedBroker::start(&props),
        };
        let broker = started.map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                Error::config("broker property", e)
            } else {
                Error::from(e)
            }
        })?;
        Ok(Box::new(BrokerBox { broker }))
    })
}

impl BrokerBox {
    fn bootstrap_servers(&self) -> String {
        guard_or(String::new(), || {
            self.broker.bootstrap_servers().to_string()
        })
    }

    fn ca_pem(&self) -> String {
        guard_or(String::new(), || {
            self.broker.ca_pem().unwrap_or_default().to_string()
        })
    }

    fn stop(&mut self) {
        guard_or((), || self.broker.stop());
    }
}

// ------------------------------------------------------------------------------ embedded cluster

/// The in-process N-node cluster for fail-over tests (`odradek::testing::Cluster`).
#[derive(Debug)]
pub struct ClusterBox {
    cluster: odradek_broker::EmbeddedCluster,
}

/// A cluster operation's failure, naming the operation: a bad node id or property is a
/// config-class error, the rest the core's mapping of the I/O error.
fn cluster_error(what: &str, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::NotConnected => {
            Error::invalid_argument(format!("embedded cluster: {what}: {e}"))
        }
        kind => Error::from(std::io::Error::new(
            kind,
            format!("embedded cluster: {what}: {e}"),
        )),
    }
}

fn cluster_start(nodes: u16, properties: &[Property]) -> Result<Box<ClusterBox>, FfiError> {
    guard(|| {
        let props: Vec<(&str, &str)> = properties
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        let cluster = odradek_broker::EmbeddedCluster::start(nodes, &props)
            .map_err(|e| cluster_error("start", e))?;
        Ok(Box::new(ClusterBox { cluster }))
    })
}

impl ClusterBox {
    fn cluster_bootstrap(&self) -> String {
        guard_or(String::new(), || self.cluster.bootstrap_servers())
    }

    fn cluster_node_ids(&self) -> Vec<u64> {
        guard_or(Vec::new(), || self.cluster.node_ids())
    }

    fn node_op(
        &mut self,
        what: &str,
        node_id: u64,
        op: fn(&mut odradek_broker::EmbeddedCluster, u64) -> std::io::Result<()>,
    ) -> Result<(), FfiError> {
        guard(|| {
            op(&mut self.cluster, node_id)
                .map_err(|e| cluster_error(&format!("{what} node {node_id}"), e))
        })
    }

    fn cluster_kill(&mut self, node_id: u64) -> Result<(), FfiError> {
        self.node_op("kill", node_id, odradek_broker::EmbeddedCluster::kill)
    }

    fn cluster_restart(&mut self, node_id: u64) -> Result<(), FfiError> {
        self.node_op("restart", node_id, odradek_broker::EmbeddedCluster::restart)
    }

    fn cluster_isolate(&mut self, node_id: u64) -> Result<(), FfiError> {
        self.node_op("isolate", node_id, |c, id| c.isolate(id))
    }

    fn cluster_heal(&mut self, node_id: u64) -> Result<(), FfiError> {
        self.node_op("heal", node_id, |c, id| c.heal(id))
    }

    fn cluster_leader(&self, topic: &str, partition: i32) -> i64 {
        guard_or(-1, || {
            self.cluster
                .leader(topic, partition)
                .and_then(|id| i64::try_from(id).ok())
                .unwrap_or(-1)
        })
    }

    fn cluster_stop(&mut self) {
        guard_or((), || self.cluster.stop());
    }
}

fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_encode_name_code_class_and_message() {
        let e = Error::config("linger.msec", "unknown property");
        let s = encode_error(&e);
        let f: Vec<&str> = s.split(SEP).collect();
        assert_eq!(
            f[..8],
            [
                "ODRADEK",
                "_INVALID_CONFIG",
                "-186",
                "false",
                "permanent",
                "",
                "",
                ""
            ]
        );
        assert!(f[8].contains("linger.msec"), "{s}");
    }

    #[test]
    fn a_panic_becomes_an_error_not_an_unwind() {
        let r: Result<(), FfiError> = guard(|| panic!("boom"));
        let s = r.unwrap_err().0;
        assert!(s.starts_with(&format!("ODRADEK{SEP}_FATAL{SEP}")), "{s}");
        assert_eq!(s.split(SEP).count(), 9, "the fields of encode_error: {s}");
        assert!(s.contains("boom"), "{s}");
    }

    #[test]
    fn headers_decode_in_order_with_null_and_empty_values() {
        let lens = [5, 3, 5, 0, 4, -1, 3, 2];
        let buf = b"traceabcemptynonebin\x00\xff";
        let h = decode_headers(&buf[..], &lens).unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(&h[0].key[..], b"trace");
        assert_eq!(h[0].value.as_deref(), Some(&b"abc"[..]));
        assert_eq!(h[1].value.as_deref(), Some(&b""[..]));
        assert_eq!(h[2].value, None);
        assert_eq!(h[3].value.as_deref(), Some(&b"\x00\xff"[..]));
        assert!(decode_headers(b"ab", &[5, 0]).is_err());
        assert!(decode_headers(b"ab", &[1]).is_err());
    }
}
