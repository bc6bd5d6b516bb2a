//! The consumer: manual assignment or a group subscription behind one class.
//!
//! Records cross into JavaScript a batch at a time as one `Buffer` holding every key, value and
//! header byte of the batch plus a `Float64Array` of positions; `index.js` hands out records
//! whose key and value are `subarray` views of that one Buffer (no per-record copy or
//! allocation on the native side).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use odradek::consumer::{ConsumerClient, ConsumerRecord, Offset};
use odradek::group::RebalanceListener;
use tokio::sync::Notify;

use crate::js_error;

/// Set once by close(); wakes every pending receive.
#[derive(Default)]
pub(crate) struct Closed {
    flag: AtomicBool,
    notify: Notify,
}

impl Closed {
    pub(crate) fn close(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) async fn wait(&self) {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.flag.load(Ordering::SeqCst) {
                return;
            }
            n.await;
        }
    }
}

/// One batch of records, encoded for `index.js` (see the module docs).
#[napi(object)]
pub struct RawBatch {
    /// Every key, value, header name and header value byte, back to back.
    pub data: Buffer,
    /// Per record: topic index, partition, offset, timestamp, key start, key length (-1: null),
    /// value start, value length (-1: null), header count, then per header name start, name
    /// length, value start, value length (-1: null).
    pub meta: Float64Array,
    /// Topic names referred to by index.
    pub topics: Vec<String>,
}

pub(crate) fn encode(records: Vec<ConsumerRecord>) -> RawBatch {
    let size: usize = records
        .iter()
        .map(|r| {
            r.key.as_ref().map_or(0, |k| k.len())
                + r.value.as_ref().map_or(0, |v| v.len())
                + r.headers
                    .iter()
                    .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()))
                    .sum::<usize>()
        })
        .sum();
    let mut data = Vec::with_capacity(size);
    let mut meta = Vec::with_capacity(records.len() * 9);
    let mut topics: Vec<String> = Vec::new();
    let put = |data: &mut Vec<u8>, meta: &mut Vec<f64>, b: Option<&[u8]>| match b {
        Some(b) => {
            meta.push(data.len() as f64);
            meta.push(b.len() as f64);
            data.extend_from_slice(b);
        }
        None => {
            meta.push(0.0);
            meta.push(-1.0);
        }
    };
    for r in &records {
        let t = match topics.iter().position(|t| **t == *r.topic) {
            Some(i) => i,
            None => {
                topics.push(r.topic.to_string());
                topics.len() - 1
            }
        };
        meta.push(t as f64);
        meta.push(f64::from(r.partition));
        meta.push(r.offset as f64);
        meta.push(r.timestamp as f64);
        put(&mut data, &mut meta, r.key.as_deref());
        put(&mut data, &mut meta, r.value.as_deref());
        meta.push(r.headers.len() as f64);
        for h in &r.headers {
            put(&mut data, &mut meta, Some(&h.key));
            put(&mut data, &mut meta, h.value.as_deref());
        }
    }
    RawBatch {
        data: Buffer::from(data),
        meta: Float64Array::new(meta),
        topics,
    }
}

/// A partition to assign and where to start.
#[napi(object)]
pub struct AssignSpec {
    pub topic: String,
    pub partition: i32,
    /// "earliest", "latest", "committed", "default" or "offset" (then `offset` is used).
    pub whence: String,
    pub offset: Option<i64>,
}

/// A topic partition.
#[napi(object)]
#[derive(Clone)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// A topic partition and an offset.
#[napi(object)]
pub struct TopicPartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A partition and a timestamp (ms since the epoch), for `offsetsForTimes`.
#[napi(object)]
pub struct TopicPartitionTimestamp {
    pub topic: String,
    pub partition: i32,
    pub timestamp: i64,
}

/// A change of partition ownership in a group.
#[napi(object)]
pub struct RebalanceEvent {
    /// "assigned", "revoked" or "lost".
    pub kind: String,
    pub partitions: Vec<TopicPartition>,
    /// Handed back to `rebalanceDone` once the listeners (and the promises they returned)
    /// finished: the group waits for that.
    pub id: u32,
}

type RebalanceFn = ThreadsafeFunction<RebalanceEvent, (), RebalanceEvent, Status, false, true>;

/// Rebalance events JavaScript has not finished yet, by id.
#[derive(Default)]
struct Unfinished {
    next: AtomicU32,
    waiting: Mutex<HashMap<u32, mpsc::Sender<()>>>,
}

impl Unfinished {
    fn finish(&self, id: u32) {
        let done = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

/// The core runs this on its rebalance callback thread and waits for it: it hands the event
/// to JavaScript and blocks until `index.js` reports that the listeners, and any promise they
/// returned, are done (bounded by `max.poll.interval.ms`), so an `await commit()` in a
/// `revoked` listener lands before the partitions move.
struct JsRebalanceListener {
    callback: RebalanceFn,
    unfinished: Arc<Unfinished>,
    max_wait: Duration,
}

impl JsRebalanceListener {
    fn emit(&self, kind: &str, partitions: &[(String, i32)]) {
        let id = self.unfinished.next.fetch_add(1, Ordering::Relaxed);
        let (done, finished) = mpsc::channel();
        self.unfinished
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, done);
        let event = RebalanceEvent {
            kind: kind.to_string(),
            partitions: partitions
                .iter()
                .map(|(t, p)| TopicPartition {
                    topic: t.clone(),
                    partition: *p,
                })
                .collect(),
            id,
        };
        let status = self
            .callback
            .call(event, ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            // JavaScript is going away: nobody will run the listeners.
            self.unfinished.finish(id);
            return;
        }
        if finished.recv_timeout(self.max_wait).is_err() {
            self.unfinished.finish(id);
        }
    }
}

impl RebalanceListener for JsRebalanceListener {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        self.emit("assigned", partitions);
    }
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        self.emit("revoked", partitions);
    }
    fn on_lost(&self, partitions: &[(String, i32)]) {
        self.emit("lost", partitions);
    }
}

/// The consumer (see `Consumer` in index.d.ts): `odradek::consumer::ConsumerClient`, which
/// either subscribes or is assigned partitions and commits the same way in both cases.
#[napi]
pub struct NativeConsumer {
    pub(crate) inner: ConsumerClient,
    closed: Arc<Closed>,
    unfinished: Arc<Unfinished>,
    /// `max.poll.interval.ms`: the longest a rebalance waits for the listeners.
    max_wait: Duration,
}

fn pairs(partitions: &[TopicPartition]) -> Vec<(&str, i32)> {
    partitions
        .iter()
        .map(|p| (p.topic.as_str(), p.partition))
        .collect()
}

#[napi]
impl NativeConsumer {
    /// A consumer; with `group.id` it can subscribe and commit.
    #[napi(
        constructor,
        ts_args_type = "config: Record<string, unknown>, onToken?: (request: TokenRequest) => void"
    )]
    pub fn new(
        config: crate::config::ConfigMap,
        on_token: Option<Function<crate::oauth::TokenRequest, ()>>,
    ) -> Result<Self> {
        let mut config = crate::config::config_from(config)?;
        crate::oauth::install(&mut config, on_token)?;
        let max_wait = config
            .get("max.poll.interval.ms")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::from_secs(300), Duration::from_millis);
        Ok(Self {
            inner: ConsumerClient::new(&config).map_err(js_error)?,
            closed: Arc::new(Closed::default()),
            unfinished: Arc::default(),
            max_wait,
        })
    }

    /// Joins the group for these topics.
    #[napi]
    pub fn subscribe(&self, topics: Vec<String>) -> Result<()> {
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.inner.subscribe(&refs).map_err(js_error)
    }

    /// Calls `callback` on the JavaScript thread for every assignment change; the group waits
    /// until `rebalanceDone(event.id)`. The callback does not keep the process alive.
    #[napi(ts_args_type = "callback: (event: RebalanceEvent) => void")]
    pub fn on_rebalance(&self, callback: Function<RebalanceEvent, ()>) -> Result<()> {
        let tsfn: RebalanceFn = callback
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        self.inner
            .set_rebalance_listener(Arc::new(JsRebalanceListener {
                callback: tsfn,
                unfinished: self.unfinished.clone(),
                max_wait: self.max_wait,
            }))
            .map_err(js_error)
    }

    /// The listeners of rebalance event `id` are done: the rebalance goes on.
    #[napi]
    pub fn rebalance_done(&self, id: u32) {
        self.unfinished.finish(id);
    }

    /// Replaces the manual assignment.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn assign<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<AssignSpec>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let client = self.inner.clone();
        env.spawn_future(async move {
            let mut list = Vec::with_capacity(partitions.len());
            for p in &partitions {
                let offset = match p.whence.as_str() {
                    "earliest" | "beginning" => Offset::Beginning,
                    "latest" | "end" => Offset::End,
                    // The group's committed offset, else auto.offset.reset.
                    "committed" | "default" => Offset::Default,
                    "offset" => Offset::from_raw(p.offset.unwrap_or(0)).map_err(js_error)?,
                    other => {
                        return Err(js_error(odradek::error::Error::invalid_argument(format!(
                            "offset {other:?}: expected earliest, latest, committed or a number"
                        ))));
                    }
                };
                list.push((p.topic.as_str(), p.partition, offset));
            }
            client.assign(&list).await.map_err(js_error)
        })
    }

    /// Up to `max` records, waiting at most `timeout_ms` for the first; `null` on timeout or
    /// once the consumer is closed.
    #[napi(ts_return_type = "Promise<RawBatch | null>")]
    pub fn recv_batch<'env>(
        &self,
        env: &'env Env,
        max: u32,
        timeout_ms: u32,
    ) -> Result<PromiseRaw<'env, Option<RawBatch>>> {
        let client = self.inner.clone();
        let closed = self.closed.clone();
        env.spawn_future(async move {
            let wait = Duration::from_millis(u64::from(timeout_ms));
            tokio::select! {
                r = client.poll_batch(max.max(1) as usize, wait) => match r {
                    Ok(records) if records.is_empty() => Ok(None),
                    Ok(records) => Ok(Some(encode(records))),
                    Err(e) => Err(js_error(e)),
                },
                () = closed.wait() => Ok(None),
            }
        })
    }

    /// Moves the position of an assigned partition.
    #[napi]
    pub fn seek(&self, topic: String, partition: i32, offset: i64) -> Result<()> {
        self.inner
            .seek(
                &topic,
                partition,
                Offset::from_raw(offset).map_err(js_error)?,
            )
            .map_err(js_error)
    }

    /// Up to `max` records the consumer has ready now, without waiting (`null`: none). The
    /// per-message path (async iterator, `eachMessage`): a plain call, no Promise.
    #[napi(ts_return_type = "RawBatch | null")]
    pub fn take_ready(&self, max: u32) -> Result<Option<RawBatch>> {
        if self.closed.flag.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let records = self
            .inner
            .take_ready(max.max(1) as usize)
            .map_err(js_error)?;
        Ok((!records.is_empty()).then(|| encode(records)))
    }

    /// The offset of the next record of a partition (`null` until known).
    #[napi]
    pub fn position(&self, topic: String, partition: i32) -> Option<i64> {
        self.inner.position(&topic, partition)
    }

    /// The partitions this consumer reads now.
    #[napi]
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.inner
            .assignment()
            .into_iter()
            .map(|(topic, partition)| TopicPartition { topic, partition })
            .collect()
    }

    #[napi]
    pub fn pause(&self, partitions: Vec<TopicPartition>) {
        self.inner.consumer().pause(&pairs(&partitions));
    }

    #[napi]
    pub fn resume(&self, partitions: Vec<TopicPartition>) {
        self.inner.consumer().resume(&pairs(&partitions));
    }

    /// Commits these offsets, or (without) the position of every partition read so far.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn commit<'env>(
        &self,
        env: &'env Env,
        offsets: Option<Vec<TopicPartitionOffset>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let client = self.inner.clone();
        env.spawn_future(async move {
            match offsets {
                Some(list) => {
                    let triples: Vec<(String, i32, i64)> = list
                        .into_iter()
                        .map(|o| (o.topic, o.partition, o.offset))
                        .collect();
                    client.commit_offsets(&triples).await.map_err(js_error)
                }
                None => client.commit().await.map_err(js_error),
            }
        })
    }

    /// The group's committed offsets of these partitions, in order (-1: none).
    #[napi(ts_return_type = "Promise<number[]>")]
    pub fn committed<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<TopicPartition>,
    ) -> Result<PromiseRaw<'env, Vec<i64>>> {
        let client = self.inner.clone();
        env.spawn_future(async move {
            let keys: Vec<(String, i32)> = partitions
                .into_iter()
                .map(|p| (p.topic, p.partition))
                .collect();
            let map = client.committed(&keys).await.map_err(js_error)?;
            Ok(keys
                .iter()
                .map(|k| map.get(k).copied().flatten().unwrap_or(-1))
                .collect())
        })
    }

    /// (low, high) watermarks of a partition, asked from its leader.
    #[napi(ts_return_type = "Promise<number[]>")]
    pub fn watermarks<'env>(
        &self,
        env: &'env Env,
        topic: String,
        partition: i32,
    ) -> Result<PromiseRaw<'env, Vec<i64>>> {
        let client = self.inner.clone();
        env.spawn_future(async move {
            let (low, high) = client
                .consumer()
                .fetch_watermarks(&topic, partition)
                .await
                .map_err(js_error)?;
            Ok(vec![low, high])
        })
    }

    /// For each (topic, partition, timestamp), the offset of the first record at or after the
    /// timestamp (-1 when there is none).
    #[napi(ts_return_type = "Promise<TopicPartitionOffset[]>")]
    pub fn offsets_for_times<'env>(
        &self,
        env: &'env Env,
        queries: Vec<TopicPartitionTimestamp>,
    ) -> Result<PromiseRaw<'env, Vec<TopicPartitionOffset>>> {
        let client = self.inner.clone();
        env.spawn_future(async move {
            let refs: Vec<(&str, i32, i64)> = queries
                .iter()
                .map(|q| (q.topic.as_str(), q.partition, q.timestamp))
                .collect();
            let found = client
                .consumer()
                .offsets_for_times(&refs)
                .await
                .map_err(js_error)?;
            Ok(queries
                .iter()
                .map(|q| TopicPartitionOffset {
                    topic: q.topic.clone(),
                    partition: q.partition,
                    offset: found
                        .get(&(q.topic.clone(), q.partition))
                        .map_or(-1, |o| o.offset),
                })
                .collect())
        })
    }

    /// Leaves the group (committing processed offsets when auto-commit is on) and stops;
    /// pending receives resolve to `null`. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        self.closed.close();
        let client = self.inner.clone();
        env.spawn_future(async move { client.close().await.map_err(js_error) })
    }
}
