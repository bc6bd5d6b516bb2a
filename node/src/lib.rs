//! The native half of the npm package `odradek`: thin napi-rs classes over the Rust client.
//!
//! Every rule a user can observe lives in the `odradek` crate; this file only converts values.
//! The JavaScript half (`index.js`) wraps these classes into the public API and turns the
//! errors below into `KafkaError` objects. Nothing here blocks the JavaScript thread: waits run
//! as futures on napi's tokio runtime and settle a Promise; the client's own background tasks
//! run on the library's runtime (`odradek::runtime`).

#![allow(missing_debug_implementations)] // napi classes are opaque JavaScript objects

mod admin;
mod config;
mod consumer;
mod logging;
mod oauth;
mod observability;
mod share;
mod transaction;

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use odradek::admin::{Admin, NewTopic};
use odradek::producer::{DeliveryFuture, Producer, ProducerRecord};
use odradek::records::RecordHeader;

pub use config::{JsConfigValue, config_setting};
pub use consumer::NativeConsumer;
pub use logging::{LogRecord, set_log_handler};
pub use oauth::{OAuthBearerToken, TokenRequest, token_done};
pub use share::NativeShareConsumer;

/// The core's small rules, for `index.js` to export instead of retyping them.
#[napi(object)]
pub struct Rules {
    /// The special offsets by name (`BEGINNING`, `END`, `STORED`, `INVALID`).
    pub offsets: std::collections::HashMap<String, i64>,
    /// Every local error's code by its name (`_TIMED_OUT`, ...).
    pub local_errors: std::collections::HashMap<String, i32>,
    /// The error class names, in the order of their numbers.
    pub error_classes: Vec<String>,
}

/// See [`Rules`].
#[napi]
pub fn rules() -> Rules {
    Rules {
        offsets: odradek::consumer::SPECIAL_OFFSETS
            .iter()
            .map(|(n, o)| (n.to_string(), *o))
            .collect(),
        local_errors: odradek::error::LOCAL_ERRORS
            .iter()
            .map(|(n, c)| (n.to_string(), *c))
            .collect(),
        error_classes: odradek::error::ErrorClass::ALL
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
    }
}

/// Prefix of an error message that carries a serialized `odradek::error::Error`
/// (`Error::to_fields`); `index.js` turns it into a `KafkaError` with its name, code, class and
/// the topic, partition and broker it is about.
const ERROR_PREFIX: &str = "\u{1}odradek-error:";

/// Converts a client error into a JavaScript exception the JS half recognizes.
pub(crate) fn js_error(e: odradek::error::Error) -> Error {
    Error::new(
        Status::GenericFailure,
        format!("{ERROR_PREFIX}{}", e.to_fields()),
    )
}

/// Delivery results collected since the last `takeDone()`.
#[derive(Default)]
struct Done {
    /// Per delivered record: id, partition, offset, timestamp.
    ok: Vec<f64>,
    /// Failed records: id and the encoded error (see [`js_error`]).
    errors: Vec<DeliveryError>,
    /// A call to the JavaScript callback is pending (one at a time).
    notified: bool,
}

/// A record whose delivery failed.
#[napi(object)]
pub struct DeliveryError {
    pub id: f64,
    /// The error message, encoded as [`js_error`] does.
    pub error: String,
}

/// The results `takeDone()` hands to JavaScript.
#[napi(object)]
pub struct DoneBatch {
    /// Per delivered record: id, partition, offset, timestamp.
    pub ok: Float64Array,
    pub errors: Vec<DeliveryError>,
}

type DoneFn = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Delivery futures handed over by `send` and not yet picked up by the collector.
#[derive(Default)]
struct Handover {
    futures: Vec<(f64, DeliveryFuture)>,
    /// No more sends: the collector ends once the outstanding futures resolved.
    closed: bool,
}

/// Awaits every delivery future and hands finished ones to JavaScript in batches: one callback
/// call per burst of completions instead of one Promise settlement from native code per record.
/// `send` does not wake this task per record (a thread wake-up per record cost more than the
/// send itself); JavaScript calls `kick()` once per turn of its event loop.
async fn collect_deliveries(
    handover: Arc<(Mutex<Handover>, tokio::sync::Notify)>,
    done: Arc<Mutex<Done>>,
    notify: DoneFn,
) {
    let mut pending = FuturesUnordered::new();
    loop {
        let closed = {
            let mut h = handover.0.lock().unwrap_or_else(|p| p.into_inner());
            for (id, delivery) in h.futures.drain(..) {
                pending.push(async move { (id, delivery.await) });
            }
            h.closed
        };
        if closed && pending.is_empty() {
            break;
        }
        tokio::select! {
            () = handover.1.notified() => {},
            Some(first) = pending.next(), if !pending.is_empty() => {
                let mut batch = vec![first];
                while let Some(Some(more)) = pending.next().now_or_never() {
                    batch.push(more);
                }
                let call = {
                    let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
                    for (id, result) in batch {
                        match result {
                            Ok(r) => d.ok.extend_from_slice(&[
                                id,
                                f64::from(r.partition),
                                r.offset as f64,
                                r.timestamp as f64,
                            ]),
                            Err(e) => d.errors.push(DeliveryError {
                                id,
                                error: js_error(e).reason,
                            }),
                        }
                    }
                    !std::mem::replace(&mut d.notified, true)
                };
                if call {
                    notify.call((), ThreadsafeFunctionCallMode::NonBlocking);
                }
            },
        }
    }
}

/// The producer (see `Producer` in index.d.ts).
#[napi]
pub struct NativeProducer {
    pub(crate) inner: Producer,
    handover: Arc<(Mutex<Handover>, tokio::sync::Notify)>,
    done: Arc<Mutex<Done>>,
}

#[napi]
impl NativeProducer {
    /// `on_done` is called (without arguments) when delivery results are ready for `takeDone`.
    #[napi(
        constructor,
        ts_args_type = "config: Record<string, unknown>, onDone: () => void, onToken?: (request: TokenRequest) => void"
    )]
    pub fn new(
        config: config::ConfigMap,
        on_done: Function<(), ()>,
        on_token: Option<Function<oauth::TokenRequest, ()>>,
    ) -> Result<Self> {
        let mut config = config::config_from(config)?;
        oauth::install(&mut config, on_token)?;
        let inner = Producer::from_config(&config).map_err(js_error)?;
        let notify: DoneFn = on_done
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let handover = Arc::new((Mutex::new(Handover::default()), tokio::sync::Notify::new()));
        let done = Arc::new(Mutex::new(Done::default()));
        // Unconstrained: tokio's cooperative budget would make FuturesUnordered yield and
        // re-poll after every 128 futures, quadratic when many records are handed over at once.
        odradek::runtime::spawn(tokio::task::unconstrained(collect_deliveries(
            handover.clone(),
            done.clone(),
            notify,
        )));
        Ok(Self {
            inner,
            handover,
            done,
        })
    }

    /// Appends the record to its partition's batch now (the bytes are copied once, straight
    /// from the caller's Buffers into the batch); its result arrives through `takeDone` under
    /// `id`.
    #[napi(
        ts_args_type = "id: number, topic: string, partition: number | null | undefined, key: Buffer | null | undefined, value: Buffer | null | undefined, headerNames: string[] | null | undefined, headerValues: Array<Buffer | null> | null | undefined, timestamp: number | null | undefined"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &self,
        id: f64,
        topic: String,
        partition: Option<i32>,
        key: Option<BufferSlice>,
        value: Option<BufferSlice>,
        header_names: Option<Vec<String>>,
        header_values: Option<Vec<Option<Buffer>>>,
        timestamp: Option<i64>,
    ) -> Result<()> {
        let headers: Vec<RecordHeader> = match header_names {
            None => Vec::new(),
            Some(names) => {
                let values = header_values.unwrap_or_default();
                names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| RecordHeader {
                        key: bytes::Bytes::from(n.into_bytes()),
                        value: values
                            .get(i)
                            .and_then(|v| v.as_ref())
                            .map(|b| bytes::Bytes::copy_from_slice(b)),
                    })
                    .collect()
            }
        };
        let mut handover = self.handover.0.lock().unwrap_or_else(|p| p.into_inner());
        if handover.closed {
            return Err(js_error(odradek::error::Error::closed(
                "the producer is closed",
            )));
        }
        let record = ProducerRecord {
            topic: &topic,
            partition,
            key: key.as_deref(),
            value: value.as_deref(),
            headers: &headers,
            timestamp,
        };
        handover.futures.push((id, self.inner.send(record)));
        Ok(())
    }

    /// Hands the futures of the records sent since the last call to the collector.
    #[napi]
    pub fn kick(&self) {
        self.handover.1.notify_one();
    }

    /// Delivery results since the last call.
    #[napi]
    pub fn take_done(&self) -> DoneBatch {
        let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        d.notified = false;
        DoneBatch {
            ok: Float64Array::new(std::mem::take(&mut d.ok)),
            errors: std::mem::take(&mut d.errors),
        }
    }

    /// Resolves once every record sent before the call is delivered or failed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        env.spawn_future(async move { p.flush().await.map_err(js_error) })
    }

    /// Flushes, then stops the sender; later sends fail with a closed error.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        // Ends the collector once the outstanding deliveries are reported, which releases the
        // JavaScript callback.
        self.handover
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .closed = true;
        self.handover.1.notify_one();
        env.spawn_future(async move { p.close().await.map_err(js_error) })
    }

    /// Counters as a JSON string.
    #[napi]
    pub fn metrics_json(&self) -> String {
        self.inner.metrics().to_json()
    }
}

/// A topic to create.
#[napi(object, object_to_js = false)]
pub struct TopicSpec {
    pub topic: String,
    pub num_partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub config: Option<config::ConfigMap>,
}

/// A topic and its partition count.
#[napi(object)]
pub struct TopicInfo {
    pub topic: String,
    pub partitions: u32,
}

/// The admin client (see `Admin` in index.d.ts).
#[napi]
pub struct NativeAdmin {
    inner: Admin,
}

#[napi]
impl NativeAdmin {
    #[napi(
        constructor,
        ts_args_type = "config: Record<string, unknown>, onToken?: (request: TokenRequest) => void"
    )]
    pub fn new(
        config: config::ConfigMap,
        on_token: Option<Function<oauth::TokenRequest, ()>>,
    ) -> Result<Self> {
        let mut config = config::config_from(config)?;
        oauth::install(&mut config, on_token)?;
        let inner = Admin::from_config(&config).map_err(js_error)?;
        Ok(Self { inner })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn create_topics<'env>(
        &self,
        env: &'env Env,
        topics: Vec<TopicSpec>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let specs: Vec<NewTopic> = topics
            .into_iter()
            .map(|t| {
                let mut n = NewTopic::new(&t.topic, t.num_partitions.unwrap_or(-1));
                if let Some(rf) = t.replication_factor {
                    n = n.replication_factor(rf as i16);
                }
                for (k, v) in config::settings(t.config.unwrap_or_default())? {
                    n = n.config(&k, &v);
                }
                Ok(n)
            })
            .collect::<Result<Vec<_>>>()?;
        let admin = self.inner.clone();
        env.spawn_future(async move { admin.create_topics(&specs).await.map_err(js_error) })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_topics<'env>(
        &self,
        env: &'env Env,
        topics: Vec<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let admin = self.inner.clone();
        env.spawn_future(async move {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            admin.delete_topics(&names).await.map_err(js_error)
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn create_partitions<'env>(
        &self,
        env: &'env Env,
        topic: String,
        total: i32,
    ) -> Result<PromiseRaw<'env, ()>> {
        let admin = self.inner.clone();
        env.spawn_future(async move {
            admin
                .create_partitions(&topic, total)
                .await
                .map_err(js_error)
        })
    }

    #[napi(ts_return_type = "Promise<TopicInfo[]>")]
    pub fn list_topics<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<TopicInfo>>> {
        let admin = self.inner.clone();
        env.spawn_future(async move {
            let topics = admin.list_topics().await.map_err(js_error)?;
            Ok(topics
                .into_iter()
                .map(|(topic, n)| TopicInfo {
                    topic,
                    partitions: n as u32,
                })
                .collect())
        })
    }

    /// Closes the admin client's connections.
    #[napi]
    pub fn close(&self) {}
}

/// The broker in-process, for tests: an ephemeral port on 127.0.0.1 and a temporary data
/// directory removed on stop.
#[napi]
pub struct NativeBroker {
    inner: Arc<Mutex<Option<odradek_broker::EmbeddedBroker>>>,
    bootstrap: String,
    ca_pem: Option<String>,
}

/// An N-node cluster in-process, for fail-over tests: nodes 1..=N on 127.0.0.1, each killable,
/// restartable and isolatable by id. Every call runs on a plain thread (the nodes' runtimes
/// are driven with block_on).
#[napi]
pub struct NativeCluster {
    inner: Arc<Mutex<Option<odradek_broker::EmbeddedCluster>>>,
}

impl NativeCluster {
    /// Runs `op` on the running cluster off the JS thread; errors name the operation.
    fn with<'env, T: Send + 'static + ToNapiValue>(
        &self,
        env: &'env Env,
        what: String,
        op: impl FnOnce(&mut odradek_broker::EmbeddedCluster) -> std::io::Result<T> + Send + 'static,
    ) -> Result<PromiseRaw<'env, T>> {
        let inner = self.inner.clone();
        env.spawn_future(async move {
            off_thread(move || {
                let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
                match guard.as_mut() {
                    Some(c) => op(c).map_err(|e| format!("embedded cluster: {what}: {e}")),
                    None => Err(format!("embedded cluster: {what}: the cluster was stopped")),
                }
            })
            .await?
            .map_err(Error::from_reason)
        })
    }
}

#[napi]
impl NativeCluster {
    /// Starts `nodes` nodes with these Kafka broker properties; resolves once all registered.
    #[napi(ts_return_type = "Promise<NativeCluster>")]
    pub fn start(
        env: &Env,
        nodes: u32,
        properties: Option<config::ConfigMap>,
    ) -> Result<PromiseRaw<'_, NativeCluster>> {
        let props = config::settings(properties.unwrap_or_default())?;
        env.spawn_future(async move {
            let cluster = off_thread(move || {
                let refs: Vec<(&str, &str)> = props
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                odradek_broker::EmbeddedCluster::start(u16::try_from(nodes).unwrap_or(0), &refs)
            })
            .await?
            .map_err(|e| Error::from_reason(format!("embedded cluster: start: {e}")))?;
            Ok(NativeCluster {
                inner: Arc::new(Mutex::new(Some(cluster))),
            })
        })
    }

    /// `host:port,...` of every running node.
    #[napi]
    pub fn bootstrap_servers(&self) -> String {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(odradek_broker::EmbeddedCluster::bootstrap_servers)
            .unwrap_or_default()
    }

    /// Every node id, running or not.
    #[napi]
    pub fn node_ids(&self) -> Vec<u32> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| c.node_ids().into_iter().map(|id| id as u32).collect())
            .unwrap_or_default()
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn kill<'env>(&self, env: &'env Env, node_id: u32) -> Result<PromiseRaw<'env, ()>> {
        self.with(env, format!("kill node {node_id}"), move |c| {
            c.kill(u64::from(node_id))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn restart<'env>(&self, env: &'env Env, node_id: u32) -> Result<PromiseRaw<'env, ()>> {
        self.with(env, format!("restart node {node_id}"), move |c| {
            c.restart(u64::from(node_id))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn isolate<'env>(&self, env: &'env Env, node_id: u32) -> Result<PromiseRaw<'env, ()>> {
        self.with(env, format!("isolate node {node_id}"), move |c| {
            c.isolate(u64::from(node_id))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn heal<'env>(&self, env: &'env Env, node_id: u32) -> Result<PromiseRaw<'env, ()>> {
        self.with(env, format!("heal node {node_id}"), move |c| {
            c.heal(u64::from(node_id))
        })
    }

    /// The partition's leader in the newest metadata a connected node has; null when none.
    #[napi]
    pub fn leader(&self, topic: String, partition: i32) -> Option<u32> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|c| c.leader(&topic, partition))
            .map(|id| id as u32)
    }

    /// Kills every node and removes the data. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        env.spawn_future(async move {
            off_thread(move || {
                let cluster = inner.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(mut c) = cluster {
                    c.stop();
                }
            })
            .await
        })
    }
}

/// Runs a blocking call on a plain thread and awaits its result (never on the JS thread, and
/// not on a runtime worker, since the embedded broker drives its own runtime with block_on).
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("odradek-node-blocking".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Error::from_reason(format!("cannot start a thread: {e}")))?;
    rx.await
        .map_err(|_| Error::from_reason("the blocking call panicked"))
}

#[napi]
impl NativeBroker {
    /// Starts a broker with these Kafka broker properties; with `saslSsl` (`[username,
    /// password]`) its one listener is SASL_SSL (TLS with a CA made now, SCRAM).
    #[napi(ts_return_type = "Promise<NativeBroker>")]
    pub fn start(
        env: &Env,
        properties: Option<config::ConfigMap>,
        sasl_ssl: Option<Vec<String>>,
    ) -> Result<PromiseRaw<'_, NativeBroker>> {
        let props = config::settings(properties.unwrap_or_default())?;
        env.spawn_future(async move {
            let broker = off_thread(move || {
                let refs: Vec<(&str, &str)> = props
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                match sasl_ssl.as_deref() {
                    Some([user, password]) => {
                        odradek_broker::EmbeddedBroker::start_sasl_ssl(user, password, &refs)
                    }
                    Some(_) => Err(std::io::Error::other("saslSsl is [username, password]")),
                    None => odradek_broker::EmbeddedBroker::start(&refs),
                }
            })
            .await?
            .map_err(|e| Error::from_reason(format!("embedded broker: {e}")))?;
            Ok(NativeBroker {
                bootstrap: broker.bootstrap_servers().to_string(),
                ca_pem: broker.ca_pem().map(str::to_string),
                inner: Arc::new(Mutex::new(Some(broker))),
            })
        })
    }

    /// The CA certificate (PEM) of a SASL_SSL broker; null for a plaintext one.
    #[napi(getter)]
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// `host:port` for `bootstrap.servers`.
    #[napi(getter)]
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    /// Stops the broker and removes its data directory. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        env.spawn_future(async move {
            off_thread(move || {
                let broker = inner.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(mut b) = broker {
                    b.stop();
                }
            })
            .await
        })
    }
}
