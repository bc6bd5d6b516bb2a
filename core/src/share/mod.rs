//! The share consumer (KIP-932, "queues for Kafka"): members of a share group read the same
//! partitions and the broker hands each record to one member at a time under an acquisition lock.
//! The member acknowledges each record: accept (done), release (deliver again, the delivery count
//! grows) or reject (never again).
//!
//! Kept apart from the regular consumer: no offsets, no positions, no rebalance protocol. Three
//! parts:
//! - [`membership`]: the ShareGroupHeartbeat task (the client names itself, the broker assigns).
//! - [`fetch`]: share sessions per broker (ShareFetch with epochs) and ShareAcknowledge.
//! - [`acks`]: the records handed out and their pending acknowledgements.
//!
//! Acknowledgement modes as the Java client: `implicit` (default) accepts every record handed out
//! that the user did not acknowledge at the next `poll` or commit; `explicit` requires every record
//! to be acknowledged before the next `poll`.

mod acks;
mod fetch;
mod membership;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::records::RecordHeader;

pub use acks::AcknowledgeType;

/// One record handed out by [`ShareConsumer::poll`], with how often it has been delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch (create or log-append time).
    pub timestamp: i64,
    /// The key (`None`: null).
    pub key: Option<Bytes>,
    /// The value (`None`: null).
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<RecordHeader>,
    /// 1 the first time the record is delivered, 2 after one release or lock timeout, ...
    pub delivery_count: i16,
}

impl ShareRecord {
    /// The record in the regular consumer's shape (create-time timestamp type), so bindings
    /// hand both kinds out through one conversion; the delivery count stays here.
    pub fn to_consumer_record(&self) -> crate::consumer::ConsumerRecord {
        crate::consumer::ConsumerRecord {
            topic: std::sync::Arc::from(self.topic.as_str()),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: crate::records::TimestampType::CreateTime,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.clone(),
        }
    }
}

/// `share.acknowledgement.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcknowledgementMode {
    /// Records not acknowledged are accepted at the next poll or commit.
    Implicit,
    /// Every record must be acknowledged before the next poll.
    Explicit,
}

pub(crate) struct Inner {
    cluster: Arc<Cluster>,
    group_id: String,
    mode: AcknowledgementMode,
    max_wait: Duration,
    member: membership::Member,
    acks: Mutex<acks::InFlight>,
    sessions: tokio::sync::Mutex<fetch::Sessions>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A member of a share group.
///
/// ```no_run
/// # async fn demo() -> odradek::error::Result<()> {
/// use odradek::share::{AcknowledgeType, ShareConsumer};
/// let config = odradek::config::Config::new()
///     .with("bootstrap.servers", "127.0.0.1:9092")?
///     .with("group.id", "workers")?;
/// let consumer = ShareConsumer::new(&config)?;
/// consumer.subscribe(&["jobs"]);
/// for record in consumer.poll(std::time::Duration::from_secs(1)).await? {
///     if record.value.is_none() {
///         consumer.acknowledge(&record, AcknowledgeType::Reject)?;
///     } // the others are accepted at the next poll (implicit mode)
/// }
/// consumer.close().await?;
/// # Ok(()) }
/// ```
pub struct ShareConsumer {
    inner: Arc<Inner>,
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConsumer")
            .field("group_id", &self.inner.group_id)
            .field("member_id", &self.inner.member.id)
            .finish()
    }
}

impl ShareConsumer {
    /// A share consumer from `config` (`bootstrap.servers` and `group.id` are required;
    /// `share.acknowledgement.mode` is `implicit` or `explicit`; `fetch.wait.max.ms` bounds one
    /// ShareFetch wait). Nothing is contacted until [`ShareConsumer::subscribe`].
    pub fn new(config: &Config) -> Result<ShareConsumer> {
        let consumer = config.consumer()?;
        let group_id = consumer
            .group_id
            .clone()
            .filter(|g| !g.is_empty())
            .ok_or_else(|| Error::config("group.id", "a share consumer needs a group.id"))?;
        let mode = match config.get("share.acknowledgement.mode") {
            Some("explicit") => AcknowledgementMode::Explicit,
            _ => AcknowledgementMode::Implicit,
        };
        let cluster = Cluster::new(consumer.client.clone());
        let inner = Arc::new(Inner {
            cluster,
            group_id,
            mode,
            max_wait: consumer.fetch_max_wait,
            member: membership::Member::new(),
            acks: Mutex::new(acks::InFlight::default()),
            sessions: tokio::sync::Mutex::new(fetch::Sessions::default()),
        });
        let heartbeat = crate::runtime::spawn(membership::run(inner.clone()));
        Ok(ShareConsumer {
            inner,
            heartbeat: Mutex::new(Some(heartbeat)),
        })
    }

    /// The member id this client chose for itself.
    pub fn member_id(&self) -> &str {
        &self.inner.member.id
    }

    /// The acknowledgement mode in force.
    pub fn acknowledgement_mode(&self) -> AcknowledgementMode {
        self.inner.mode
    }

    /// Subscribes to `topics` (replacing the previous subscription); the next heartbeat tells the
    /// coordinator.
    pub fn subscribe<S: AsRef<str>>(&self, topics: &[S]) {
        let topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_owned()).collect();
        self.inner
            .cluster
            .add_topics(topics.iter().map(String::as_str));
        self.inner.member.subscribe(topics);
    }

    /// The partitions the coordinator assigned to this member, as `(topic, partition)`.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.inner
            .member
            .assignment()
            .into_iter()
            .map(|p| (p.topic, p.partition))
            .collect()
    }

    /// Waits up to `timeout` for records. Acknowledgements of the records handed out before
    /// (explicit ones, and in implicit mode acceptance of the rest) travel with this ShareFetch.
    /// In explicit mode a record of the previous poll left unacknowledged is an error.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ShareRecord>> {
        fetch::poll(&self.inner, timeout).await
    }

    /// Acknowledges one record handed out by [`ShareConsumer::poll`]; it is sent with the next
    /// poll or commit. A record acknowledged already, or not handed out to this member, is an
    /// error.
    pub fn acknowledge(&self, record: &ShareRecord, kind: AcknowledgeType) -> Result<()> {
        self.acknowledge_offset(&record.topic, record.partition, record.offset, kind)
    }

    /// [`ShareConsumer::acknowledge`] by the record's coordinates, for callers that keep only
    /// those (the C ABI and the bindings over it).
    pub fn acknowledge_offset(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        kind: AcknowledgeType,
    ) -> Result<()> {
        lock(&self.inner.acks).acknowledge(topic, partition, offset, kind)
    }

    /// Sends the pending acknowledgements now (ShareAcknowledge) and waits for the answers; the
    /// first partition error is returned. In implicit mode every record handed out is accepted.
    pub async fn commit_sync(&self) -> Result<()> {
        fetch::commit(&self.inner, false).await
    }

    /// [`ShareConsumer::commit_sync`] in the background; a failure is logged.
    pub fn commit_async(&self) {
        let inner = self.inner.clone();
        crate::runtime::spawn(async move {
            if let Err(error) = fetch::commit(&inner, false).await {
                tracing::warn!(group = %inner.group_id, %error, "share acknowledgement failed");
            }
        });
    }

    /// Leaves the group: records handed out and not acknowledged are released (delivered again,
    /// to any member), explicit acknowledgements are sent, the share sessions are closed and the
    /// member leaves with a final heartbeat. Calling it twice is harmless.
    pub async fn close(&self) -> Result<()> {
        if self.inner.member.close() {
            return Ok(());
        }
        let acked = fetch::commit(&self.inner, true).await;
        let left = membership::leave(&self.inner).await;
        if let Some(task) = lock(&self.heartbeat).take() {
            task.abort();
        }
        self.inner.cluster.close();
        acked.and(left)
    }
}

impl Drop for ShareConsumer {
    fn drop(&mut self) {
        self.inner.member.close();
        if let Some(task) = lock(&self.heartbeat).take() {
            task.abort();
        }
    }
}
