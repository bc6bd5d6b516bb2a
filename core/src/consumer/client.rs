//! [`ConsumerClient`]: the one consumer every binding wraps, shaped like the Java
//! `KafkaConsumer` and librdkafka's consumer: it either subscribes (a group member, partitions
//! from the coordinator) or is assigned partitions by hand, and commits, reads committed offsets,
//! seeks and reports positions the same way in both cases.
//!
//! ```no_run
//! # async fn demo() -> odradek::error::Result<()> {
//! use std::time::Duration;
//! use odradek::config::Config;
//! use odradek::consumer::{ConsumerClient, Offset};
//!
//! let config = Config::new()
//!     .with("bootstrap.servers", "127.0.0.1:9092")?
//!     .with("group.id", "audit")?;
//! let consumer = ConsumerClient::new(&config)?;
//! // Manual assignment inside a group: start at the committed offset, else auto.offset.reset.
//! consumer.assign(&[("events", 0, Offset::Default)]).await?;
//! if let Some(record) = consumer.poll(Duration::from_secs(1)).await? {
//!     println!("{}@{}", record.partition, record.offset);
//! }
//! consumer.commit().await?;
//! consumer.close().await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Consumer, ConsumerRecord, Offset};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::group::{GroupConsumer, RebalanceListener};

/// A consumer that can subscribe (with `group.id`) or be assigned partitions. Cheap to clone.
#[derive(Clone)]
pub struct ConsumerClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// Present when `group.id` is set: subscriptions, commits and committed offsets go through it.
    group: Option<GroupConsumer>,
    /// The consumer that fetches: the group's own, or a plain one without `group.id`.
    consumer: Consumer,
    subscribed: AtomicBool,
    /// Partitions assigned by hand (not by the group).
    manual: Mutex<Vec<(String, i32)>>,
    /// Set when close starts; `closed` once the group was left, so the commit in an
    /// `on_revoked` that close runs still goes through.
    closing: AtomicBool,
    closed: AtomicBool,
}

impl std::fmt::Debug for ConsumerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerClient")
            .field("group", &self.inner.group)
            .field("subscribed", &self.inner.subscribed.load(Ordering::Relaxed))
            .finish()
    }
}

impl ConsumerClient {
    /// A consumer from a property map; a group member only once it subscribes.
    pub fn new(config: &Config) -> Result<Self> {
        let group = match config.get("group.id").filter(|g| !g.is_empty()) {
            Some(_) => Some(GroupConsumer::new(config)?),
            None => None,
        };
        let consumer = match &group {
            Some(g) => g.consumer().clone(),
            None => Consumer::from_config(config)?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                group,
                consumer,
                subscribed: AtomicBool::new(false),
                manual: Mutex::new(Vec::new()),
                closing: AtomicBool::new(false),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Sends failures that no call returns (a broker unreachable, every broker down, a TLS or
    /// SASL failure, the group refusing this member) to `callback`, on the library's event
    /// thread.
    pub fn set_error_callback(&self, callback: crate::events::ErrorCallback) {
        self.inner
            .consumer
            .cluster()
            .events()
            .set_callback(callback);
    }

    /// A statistics snapshot: records handed out, fetch round trips, each assigned
    /// partition's position and lag, and the brokers.
    pub fn metrics(&self) -> crate::metrics::ConsumerMetrics {
        self.inner.consumer.metrics()
    }

    /// The group id, if any.
    pub fn group(&self) -> Option<&GroupConsumer> {
        self.inner.group.as_ref()
    }

    /// The fetching consumer underneath (pause/resume, watermarks, offsets for times).
    pub fn consumer(&self) -> &Consumer {
        &self.inner.consumer
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(Error::closed("the consumer is closed"));
        }
        Ok(())
    }

    fn require_group(&self, what: &str) -> Result<&GroupConsumer> {
        self.inner.group.as_ref().ok_or_else(|| {
            Error::config("group.id", format!("is required to {what} (it is not set)"))
        })
    }

    /// Joins the group for these topics (replacing an earlier subscription). Not allowed while
    /// partitions are assigned by hand, as in the Java client.
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        self.check_open()?;
        let group = self.require_group("subscribe")?;
        if !lock(&self.inner.manual).is_empty() {
            return Err(Error::invalid_argument(
                "subscribe after assign: call unassign() first (a consumer either subscribes or is assigned partitions)",
            ));
        }
        group.subscribe(topics)?;
        self.inner.subscribed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Callbacks for partitions assigned, revoked and lost by the group.
    pub fn set_rebalance_listener(&self, listener: Arc<dyn RebalanceListener>) -> Result<()> {
        self.require_group("listen to rebalances")?
            .set_rebalance_listener(listener);
        Ok(())
    }

    /// Assigns partitions by hand, replacing any earlier manual assignment. [`Offset::Default`]
    /// starts at the group's committed offset when `group.id` is set and one exists, else where
    /// `auto.offset.reset` says (librdkafka's `RD_KAFKA_OFFSET_INVALID`, Java's `assign`).
    pub async fn assign(&self, partitions: &[(&str, i32, Offset)]) -> Result<()> {
        self.check_open()?;
        if self.inner.subscribed.load(Ordering::SeqCst) {
            return Err(Error::invalid_argument(
                "assign after subscribe: a consumer either subscribes or is assigned partitions",
            ));
        }
        let mut starts: Vec<(&str, i32, Offset)> = partitions.to_vec();
        if let Some(group) = &self.inner.group {
            let wanted: Vec<(String, i32)> = starts
                .iter()
                .filter(|(_, _, o)| *o == Offset::Default)
                .map(|(t, p, _)| (t.to_string(), *p))
                .collect();
            if !wanted.is_empty() {
                let committed = group.committed(&wanted).await?;
                for (t, p, o) in starts.iter_mut() {
                    if *o == Offset::Default
                        && let Some(Some(c)) = committed.get(&(t.to_string(), *p))
                    {
                        *o = Offset::At(*c);
                    }
                }
            }
        }
        self.inner.consumer.assign(&starts)?;
        *lock(&self.inner.manual) = partitions
            .iter()
            .map(|(t, p, _)| (t.to_string(), *p))
            .collect();
        Ok(())
    }

    /// Drops the manual assignment.
    pub fn unassign(&self) {
        let parts = std::mem::take(&mut *lock(&self.inner.manual));
        let refs: Vec<(&str, i32)> = parts.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        self.inner.consumer.unassign(&refs);
    }

    /// The partitions this consumer reads: the group's share when subscribed, else the manual
    /// assignment.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        match (
            &self.inner.group,
            self.inner.subscribed.load(Ordering::SeqCst),
        ) {
            (Some(g), true) => g.assignment(),
            _ => lock(&self.inner.manual).clone(),
        }
    }

    /// The next record within `timeout`, or `None`.
    pub async fn poll(&self, timeout: Duration) -> Result<Option<ConsumerRecord>> {
        self.check_open()?;
        match &self.inner.group {
            Some(g) if self.inner.subscribed.load(Ordering::SeqCst) => {
                g.recv_timeout(timeout).await
            }
            _ => self.inner.consumer.recv_timeout(timeout).await,
        }
    }

    /// Up to `max` records: waits up to `timeout` for the first, then takes what is buffered.
    /// Cancel-safe: a cancelled call has taken nothing.
    pub async fn poll_batch(&self, max: usize, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            let records = self.take_ready(max)?;
            if !records.is_empty() {
                return Ok(records);
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(tokio::time::Instant::now())
            });
            if left.is_zero() || !self.wait_ready(left).await? {
                return Ok(Vec::new());
            }
        }
    }

    /// The next record read from this partition will be at `offset`.
    pub fn seek(&self, topic: &str, partition: i32, offset: Offset) -> Result<()> {
        self.check_open()?;
        match &self.inner.group {
            Some(g) if self.inner.subscribed.load(Ordering::SeqCst) => {
                g.seek(topic, partition, offset)
            }
            _ => self.inner.consumer.seek(topic, partition, offset),
        }
    }

    /// Up to `max` records buffered now, without waiting (empty: none ready yet). With
    /// [`ConsumerClient::wait_ready`] this is how a binding hands out records without a buffer of
    /// its own: what this returns counts as handed out to the application, for position,
    /// `commit()`, the commit on revoke and on close.
    pub fn take_ready(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        self.check_open()?;
        match &self.inner.group {
            Some(g) if self.inner.subscribed.load(Ordering::SeqCst) => g.take_ready(max),
            _ => self.inner.consumer.take_ready(max),
        }
    }

    /// Waits up to `timeout` until [`ConsumerClient::take_ready`] may find a record (or an
    /// error); takes nothing, so giving up the wait (a cancelled task, an interrupted call)
    /// loses no record. `false`: the timeout passed.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<bool> {
        self.check_open()?;
        let wait = async {
            match &self.inner.group {
                Some(g) if self.inner.subscribed.load(Ordering::SeqCst) => g.wait_ready().await,
                _ => self.inner.consumer.wait_ready().await,
            }
        };
        Ok(tokio::time::timeout(timeout, wait).await.is_ok())
    }

    /// The offset of the next record to be handed out from this partition (`None`: not
    /// assigned, or its start offset is not resolved yet).
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.inner.consumer.position(topic, partition)
    }

    /// Commits synchronously the positions of every partition read so far: the group's
    /// delivered offsets when subscribed, the positions of the manual assignment otherwise.
    pub async fn commit(&self) -> Result<()> {
        self.check_open()?;
        let group = self.require_group("commit offsets")?;
        if self.inner.subscribed.load(Ordering::SeqCst) {
            return group.commit().await;
        }
        let offsets: Vec<(String, i32, i64)> = lock(&self.inner.manual)
            .iter()
            .filter_map(|(t, p)| self.position(t, *p).map(|o| (t.clone(), *p, o)))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        group.commit_offsets(&offsets).await
    }

    /// Commits these (topic, partition, next offset to read) triples.
    pub async fn commit_offsets(&self, offsets: &[(String, i32, i64)]) -> Result<()> {
        self.check_open()?;
        self.require_group("commit offsets")?
            .commit_offsets(offsets)
            .await
    }

    /// The group's committed offsets of these partitions (`None`: nothing committed).
    pub async fn committed(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<HashMap<(String, i32), Option<i64>>> {
        self.check_open()?;
        self.require_group("read committed offsets")?
            .committed(partitions)
            .await
    }

    /// Leaves the group (committing processed offsets when auto-commit is on, then running
    /// `on_revoked`, in which the consumer still commits) and stops fetching. Idempotent.
    pub async fn close(&self) -> Result<()> {
        if self.inner.closing.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.unassign();
        let left = match &self.inner.group {
            Some(g) => g.clone().close().await,
            None => Ok(()),
        };
        self.inner.closed.store(true, Ordering::SeqCst);
        left
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
