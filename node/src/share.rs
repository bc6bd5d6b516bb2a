//! The share consumer (KIP-932, share groups): `odradek::share::ShareConsumer` behind
//! `ShareConsumer` in index.js. Records cross as the consumer's `RawBatch` plus their delivery
//! counts.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use odradek::share::{AcknowledgeType, ShareConsumer, ShareRecord};

use crate::consumer::{Closed, RawBatch, TopicPartition, encode};
use crate::js_error;

/// Records handed out by a share consumer: the batch and, per record, its delivery count.
#[napi(object)]
pub struct RawShareBatch {
    pub batch: RawBatch,
    pub delivery_counts: Vec<i32>,
}

/// A member of a share group (see `ShareConsumer` in index.d.ts).
#[napi]
pub struct NativeShareConsumer {
    inner: Arc<ShareConsumer>,
    closed: Arc<Closed>,
}

#[napi]
impl NativeShareConsumer {
    /// A share consumer (`group.id` required).
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
        Ok(Self {
            inner: Arc::new(ShareConsumer::new(&config).map_err(js_error)?),
            closed: Arc::default(),
        })
    }

    /// Subscribes to these topics (replacing the previous subscription).
    #[napi]
    pub fn subscribe(&self, topics: Vec<String>) {
        self.inner.subscribe(&topics);
    }

    /// The partitions the coordinator assigned to this member.
    #[napi]
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.inner
            .assignment()
            .into_iter()
            .map(|(topic, partition)| TopicPartition { topic, partition })
            .collect()
    }

    /// Records that arrive within `timeout_ms` (`null`: none, or the consumer was closed).
    #[napi(ts_return_type = "Promise<RawShareBatch | null>")]
    pub fn poll<'env>(
        &self,
        env: &'env Env,
        timeout_ms: u32,
    ) -> Result<PromiseRaw<'env, Option<RawShareBatch>>> {
        let consumer = self.inner.clone();
        let closed = self.closed.clone();
        env.spawn_future(async move {
            let wait = Duration::from_millis(u64::from(timeout_ms));
            // Biased: a poll after close fails at once (closed) rather than resolving empty.
            tokio::select! {
                biased;
                r = consumer.poll(wait) => match r {
                    Ok(records) if records.is_empty() => Ok(None),
                    Ok(records) => Ok(Some(RawShareBatch {
                        delivery_counts: records.iter().map(|r| i32::from(r.delivery_count)).collect(),
                        batch: encode(records.iter().map(ShareRecord::to_consumer_record).collect()),
                    })),
                    Err(e) => Err(js_error(e)),
                },
                () = closed.wait() => Ok(None),
            }
        })
    }

    /// Acknowledges a record handed out by `poll`: `kind` "accept", "release" or "reject".
    #[napi]
    pub fn acknowledge(
        &self,
        topic: String,
        partition: i32,
        offset: i64,
        kind: String,
    ) -> Result<()> {
        let kind = match kind.as_str() {
            "accept" => AcknowledgeType::Accept,
            "release" => AcknowledgeType::Release,
            "reject" => AcknowledgeType::Reject,
            other => {
                return Err(js_error(odradek::error::Error::invalid_argument(format!(
                    "acknowledge type {other:?}: expected accept, release or reject"
                ))));
            }
        };
        self.inner
            .acknowledge_offset(&topic, partition, offset, kind)
            .map_err(js_error)
    }

    /// Sends the pending acknowledgements and waits for the answers.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn commit_sync<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let consumer = self.inner.clone();
        env.spawn_future(async move { consumer.commit_sync().await.map_err(js_error) })
    }

    /// Sends the pending acknowledgements in the background (a failure is logged).
    #[napi]
    pub fn commit_async(&self) {
        self.inner.commit_async();
    }

    /// Leaves the share group; pending polls resolve to `null`. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        self.closed.close();
        let consumer = self.inner.clone();
        env.spawn_future(async move { consumer.close().await.map_err(js_error) })
    }
}
