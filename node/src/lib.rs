//! The native half of the npm package `odradek`: thin napi-rs classes over the Rust client.
//!
//! Every rule a user can observe lives in the `odradek` crate; this file only converts values.
//! The JavaScript half (`index.js`) wraps these classes into the public API and turns the
//! errors below into `KafkaError` objects. Nothing here blocks the JavaScript thread: waits run
//! as futures on napi's tokio runtime and settle a Promise; the client's own background tasks
//! run on the library's runtime (`odradek::runtime`).

#![allow(missing_debug_implementations)] // napi classes are opaque JavaScript objects

mod consumer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use odradek::admin::{Admin, NewTopic};
use odradek::config::Config;
use odradek::producer::{Producer, ProducerRecord};
use odradek::records::RecordHeader;

pub use consumer::NativeConsumer;

/// Prefix of an error message that carries a serialized `odradek::error::Error`; `index.js`
/// turns it into a `KafkaError` with `code`, `name`, `retriable` and `kind`.
const ERROR_PREFIX: &str = "\u{1}odradek-error:";

/// Converts a client error into a JavaScript exception the JS half recognizes.
pub(crate) fn js_error(e: odradek::error::Error) -> Error {
    let class = match e.class() {
        odradek::error::ErrorClass::Retriable => "retriable",
        odradek::error::ErrorClass::Permanent => "permanent",
        odradek::error::ErrorClass::Abortable => "abortable",
        odradek::error::ErrorClass::Fatal => "fatal",
        _ => "permanent",
    };
    let payload = format!(
        "{ERROR_PREFIX}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
        e.name(),
        e.numeric_code(),
        e.is_retriable(),
        class,
        e
    );
    Error::new(Status::GenericFailure, payload)
}

pub(crate) fn config_from(map: HashMap<String, String>) -> Result<Config> {
    // Sorted, so that the first bad key reported is the same on every run.
    let mut pairs: Vec<(String, String)> = map.into_iter().collect();
    pairs.sort();
    Config::from_pairs(pairs).map_err(js_error)
}

/// Where a record was written.
#[napi(object)]
pub struct DeliveryReport {
    pub partition: i32,
    /// Offset (-1 with acks=0).
    pub offset: i64,
    /// Create time, or the broker's log-append time (ms since the epoch).
    pub timestamp: i64,
}

/// The producer (see `Producer` in index.d.ts).
#[napi]
pub struct NativeProducer {
    inner: Producer,
}

#[napi]
impl NativeProducer {
    #[napi(constructor)]
    pub fn new(config: HashMap<String, String>) -> Result<Self> {
        let config = config_from(config)?;
        let inner = Producer::from_config(&config).map_err(js_error)?;
        Ok(Self { inner })
    }

    /// Appends the record to its partition's batch now (the bytes are copied once, straight
    /// from the caller's Buffers into the batch) and returns a Promise of its delivery report.
    #[napi(
        ts_return_type = "Promise<DeliveryReport>",
        ts_args_type = "topic: string, partition: number | null | undefined, key: Buffer | null | undefined, value: Buffer | null | undefined, headerNames: string[] | null | undefined, headerValues: Array<Buffer | null> | null | undefined, timestamp: number | null | undefined"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        topic: String,
        partition: Option<i32>,
        key: Option<BufferSlice>,
        value: Option<BufferSlice>,
        header_names: Option<Vec<String>>,
        header_values: Option<Vec<Option<Buffer>>>,
        timestamp: Option<i64>,
    ) -> Result<PromiseRaw<'env, DeliveryReport>> {
        let headers: Vec<RecordHeader> = match header_names {
            None => Vec::new(),
            Some(names) => {
                let values = header_values.unwrap_or_default();
                names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let v = values
                            .get(i)
                            .and_then(|v| v.as_ref())
                            .map(|b| bytes::Bytes::copy_from_slice(b));
                        RecordHeader {
                            key: bytes::Bytes::from(n.into_bytes()),
                            value: v,
                        }
                    })
                    .collect()
            }
        };
        let record = ProducerRecord {
            topic: &topic,
            partition,
            key: key.as_deref(),
            value: value.as_deref(),
            headers: &headers,
            timestamp,
        };
        let delivery = self.inner.send(record);
        env.spawn_future(async move {
            let r = delivery.await.map_err(js_error)?;
            Ok(DeliveryReport {
                partition: r.partition,
                offset: r.offset,
                timestamp: r.timestamp,
            })
        })
    }

    /// Resolves once every record sent before the call is delivered or failed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        env.spawn_future(async move { p.flush().await.map_err(js_error) })
    }

    /// Flushes, then stops the sender; later sends fail with `_DESTROY`-like closed errors.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let p = self.inner.clone();
        env.spawn_future(async move { p.close().await.map_err(js_error) })
    }

    /// Counters as a JSON string.
    #[napi]
    pub fn metrics_json(&self) -> String {
        self.inner.metrics().to_json()
    }
}

/// A topic to create.
#[napi(object)]
pub struct TopicSpec {
    pub topic: String,
    pub num_partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub config: Option<HashMap<String, String>>,
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
    #[napi(constructor)]
    pub fn new(config: HashMap<String, String>) -> Result<Self> {
        let config = config_from(config)?;
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
                let mut configs: Vec<(String, String)> =
                    t.config.unwrap_or_default().into_iter().collect();
                configs.sort();
                for (k, v) in configs {
                    n = n.config(&k, &v);
                }
                n
            })
            .collect();
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
    /// Starts a broker with these Kafka broker properties.
    #[napi(ts_return_type = "Promise<NativeBroker>")]
    pub fn start(
        env: &Env,
        properties: Option<HashMap<String, String>>,
    ) -> Result<PromiseRaw<'_, NativeBroker>> {
        env.spawn_future(async move {
            let broker = off_thread(move || {
                let props: Vec<(String, String)> =
                    properties.unwrap_or_default().into_iter().collect();
                let refs: Vec<(&str, &str)> = props
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                odradek_broker::EmbeddedBroker::start(&refs)
            })
            .await?
            .map_err(|e| Error::from_reason(format!("embedded broker: {e}")))?;
            Ok(NativeBroker {
                bootstrap: broker.bootstrap_servers().to_string(),
                inner: Arc::new(Mutex::new(Some(broker))),
            })
        })
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
