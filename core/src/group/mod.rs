//! Consumer groups (classic protocol): a [`GroupConsumer`] subscribes to topics and lets the
//! group coordinator spread their partitions over the members.
//!
//! ```no_run
//! # async fn demo() -> odradek::error::Result<()> {
//! use odradek::config::Config;
//! use odradek::group::GroupConsumer;
//!
//! let config = Config::new()
//!     .with("bootstrap.servers", "127.0.0.1:9092")?
//!     .with("group.id", "billing")?
//!     .with("partition.assignment.strategy", "cooperative-sticky")?;
//! let consumer = GroupConsumer::new(&config)?;
//! consumer.subscribe(&["events"])?;
//! for _ in 0..10 {
//!     let record = consumer.recv().await?;
//!     println!("{}@{}", record.partition, record.offset);
//! }
//! consumer.commit().await?;
//! consumer.close().await?;
//! # Ok(()) }
//! ```
//!
//! Membership runs on its own task: it finds the coordinator, joins, (as leader) runs the
//! assignor, syncs, and heartbeats every `heartbeat.interval.ms` however often the user reads.
//! Partitions are handed to the manual-assignment [`Consumer`] underneath, starting at the
//! group's committed offsets. Offsets count as processed once the user asks for more records
//! after them (as in the Java client); auto-commit and the commit on revoke and close commit
//! processed offsets, so delivery is at-least-once.

pub mod assignor;
mod callbacks;
pub(crate) mod consumer_protocol;
mod membership;
pub mod protocol;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::config::Config;
use crate::consumer::{Consumer, ConsumerRecord, Offset};
use crate::error::{Error, Result};

/// Partition ownership changes. The callbacks run one at a time, in order, on a plain thread
/// of the consumer's own (never a runtime worker), so they may call back into the consumer:
/// commit, seek, pause, or block on a future with [`crate::runtime::block_on`]. The rebalance
/// waits for `on_assigned` and `on_revoked` to return, up to `max.poll.interval.ms` (heartbeats
/// go on meanwhile with the classic protocol), as in the Java client and librdkafka.
pub trait RebalanceListener: Send + Sync {
    /// Partitions newly assigned to this member (already fetching from their start offsets).
    /// None of their records is handed out before this returns, so a seek or pause here comes
    /// first.
    fn on_assigned(&self, _partitions: &[(String, i32)]) {}
    /// Partitions taken away in an orderly rebalance, while this member still owns them: a
    /// commit here (of what was handed out) lands before another member gets them. Their
    /// processed offsets were committed first when auto-commit is on.
    fn on_revoked(&self, _partitions: &[(String, i32)]) {}
    /// Partitions lost without a rebalance (session expired, fenced): another member may
    /// already own them, so nothing was committed.
    fn on_lost(&self, _partitions: &[(String, i32)]) {}
}

/// Group settings, from the same property names as the Java client and librdkafka.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// `group.id`: the group to join; required.
    pub group_id: String,
    /// `group.instance.id`: makes the member static (KIP-345), so a restart within the session
    /// timeout keeps its partitions without a rebalance.
    pub instance_id: Option<String>,
    /// `session.timeout.ms`: how long the coordinator waits without a heartbeat before it drops
    /// the member.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`: the time between heartbeats (the KIP-848 coordinator may set
    /// its own).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`: the longest the application may go between polls before the
    /// member leaves the group; also the rebalance timeout sent with JoinGroup.
    pub max_poll_interval: Duration,
    /// `enable.auto.commit`: commit the offsets of polled records in the background and
    /// before partitions are revoked.
    pub auto_commit: bool,
    /// `auto.commit.interval.ms`: the time between background commits.
    pub auto_commit_interval: Duration,
    /// Assignor names in preference order (classic protocol).
    pub strategies: Vec<String>,
    /// `group.protocol=consumer`: KIP-848, assignment computed by the coordinator.
    pub consumer_protocol: bool,
    /// `group.remote.assignor` (KIP-848): the server-side assignor to ask for.
    pub remote_assignor: Option<String>,
}

impl GroupSettings {
    /// Reads the group properties from `config`. Fails with a configuration error when
    /// `group.id` is missing or `partition.assignment.strategy` names an unknown assignor or
    /// mixes eager and cooperative ones.
    pub fn from_config(config: &Config) -> Result<Self> {
        let group_id = config
            .get("group.id")
            .filter(|g| !g.is_empty())
            .ok_or_else(|| Error::config("group.id", "is required for a group consumer"))?
            .to_string();
        let consumer_protocol = config.get("group.protocol") == Some("consumer");
        let remote_assignor = config
            .get("group.remote.assignor")
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        let ms = |key: &str| -> Duration {
            Duration::from_millis(
                config
                    .get(key)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0),
            )
        };
        let mut strategies = Vec::new();
        for s in config
            .get("partition.assignment.strategy")
            .unwrap_or("range")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let name = assignor::NAMES
                .iter()
                .find(|n| s.eq_ignore_ascii_case(n))
                .ok_or_else(|| {
                    Error::config(
                        "partition.assignment.strategy",
                        format!("unknown assignor {s:?}: expected range, roundrobin or cooperative-sticky"),
                    )
                })?;
            strategies.push(name.to_string());
        }
        if strategies.is_empty() {
            return Err(Error::config("partition.assignment.strategy", "is empty"));
        }
        let cooperative = strategies
            .iter()
            .filter(|s| assignor::is_cooperative(s))
            .count();
        if cooperative != 0 && cooperative != strategies.len() {
            return Err(Error::config(
                "partition.assignment.strategy",
                "cannot mix eager (range, roundrobin) and cooperative assignors",
            ));
        }
        Ok(Self {
            group_id,
            instance_id: config
                .get("group.instance.id")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            session_timeout: ms("session.timeout.ms"),
            heartbeat_interval: ms("heartbeat.interval.ms"),
            max_poll_interval: ms("max.poll.interval.ms"),
            auto_commit: config.get("enable.auto.commit") == Some("true"),
            auto_commit_interval: ms("auto.commit.interval.ms"),
            strategies,
            consumer_protocol,
            remote_assignor,
        })
    }
}

type Positions = HashMap<(String, i32), i64>;

pub(crate) struct Inner {
    consumer: Consumer,
    settings: GroupSettings,
    topics: Mutex<Vec<String>>,
    listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
    callbacks: callbacks::CallbackThread,
    /// Next offset after the last record handed out, per partition.
    delivered: Mutex<Positions>,
    /// `delivered` as of the latest read: records before it count as processed.
    processed: Mutex<Positions>,
    last_poll: Mutex<Instant>,
    membership: membership::Membership,
    /// Wakes the membership task (subscription changed, poll after a poll timeout, close).
    wake: Notify,
    closing: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A consumer in a consumer group. Cheap to clone; [`GroupConsumer::close`] leaves the group.
#[derive(Clone)]
pub struct GroupConsumer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group", &self.inner.settings.group_id)
            .finish()
    }
}

impl GroupConsumer {
    /// A group consumer from a property map (`group.id` required).
    pub fn new(config: &Config) -> Result<Self> {
        let settings = GroupSettings::from_config(config)?;
        let consumer = Consumer::from_config(config)?;
        let inner = Arc::new(Inner {
            membership: membership::Membership::new(),
            consumer,
            settings,
            topics: Mutex::new(Vec::new()),
            listener: Mutex::new(None),
            callbacks: callbacks::CallbackThread::default(),
            delivered: Mutex::new(HashMap::new()),
            processed: Mutex::new(HashMap::new()),
            last_poll: Mutex::new(Instant::now()),
            wake: Notify::new(),
            closing: AtomicBool::new(false),
        });
        let task = if inner.settings.consumer_protocol {
            crate::runtime::spawn(consumer_protocol::run(inner.clone()))
        } else {
            crate::runtime::spawn(membership::run(inner.clone()))
        };
        inner.membership.set_task(task);
        Ok(Self { inner })
    }

    /// Sets the topics to consume (replacing any earlier subscription) and (re)joins.
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        if topics.is_empty() {
            return Err(Error::invalid_argument(
                "subscribe needs at least one topic",
            ));
        }
        let mut t: Vec<String> = topics.iter().map(|s| s.to_string()).collect();
        t.sort();
        t.dedup();
        *lock(&self.inner.topics) = t;
        self.inner.membership.request_rejoin();
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Sets the callbacks for assigned, revoked and lost partitions.
    pub fn set_rebalance_listener(&self, listener: Arc<dyn RebalanceListener>) {
        *lock(&self.inner.listener) = Some(listener);
    }

    /// The underlying consumer (positions, pause/resume, watermarks).
    pub fn consumer(&self) -> &Consumer {
        &self.inner.consumer
    }

    /// The next record read from this partition will be at `offset`; what was handed out of
    /// it moves to that offset too, so `commit()`, the commit on revoke, on close and
    /// auto-commit cover the records before it — the position, as in the Java client. A seek
    /// to the beginning or end forgets what was handed out until the next record is.
    pub fn seek(&self, topic: &str, partition: i32, offset: Offset) -> Result<()> {
        self.inner.consumer.seek(topic, partition, offset)?;
        let key = (topic.to_string(), partition);
        for positions in [&self.inner.delivered, &self.inner.processed] {
            let mut positions = lock(positions);
            match offset {
                Offset::At(o) => {
                    positions.insert(key.clone(), o);
                }
                _ => {
                    positions.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// Partitions this member owns now.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.inner.membership.owned().into_iter().collect()
    }

    /// The current generation and member id (`-1`, `""` before the first join).
    pub fn generation(&self) -> (i32, String) {
        self.inner.membership.generation()
    }

    /// What a transactional producer sends with this consumer's offsets
    /// (`Producer::send_offsets_to_transaction`, KIP-447): a zombie member's commit is refused.
    pub fn group_metadata(&self) -> crate::producer::ConsumerGroupMetadata {
        let (generation_id, member_id) = self.generation();
        crate::producer::ConsumerGroupMetadata {
            group_id: self.inner.settings.group_id.clone(),
            generation_id,
            member_id,
            group_instance_id: self.inner.settings.instance_id.clone(),
        }
    }

    fn before_read(&self) {
        *lock(&self.inner.last_poll) = Instant::now();
        let delivered = lock(&self.inner.delivered).clone();
        *lock(&self.inner.processed) = delivered;
        if self.inner.membership.left_for_poll_timeout() {
            self.inner.wake.notify_one();
        }
    }

    fn after_read(&self, records: &[ConsumerRecord]) {
        let owned = self.inner.membership.owned();
        let mut d = lock(&self.inner.delivered);
        for r in records {
            let key = (r.topic.to_string(), r.partition);
            if owned.contains(&key) {
                d.insert(key, r.offset + 1);
            }
        }
    }

    /// The next record (waits for one). Reading marks earlier records as processed.
    pub async fn recv(&self) -> Result<ConsumerRecord> {
        self.before_read();
        let r = self.inner.consumer.recv().await?;
        self.after_read(std::slice::from_ref(&r));
        Ok(r)
    }

    /// Up to `max` records (waits for the first).
    pub async fn recv_batch(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        self.before_read();
        let rs = self.inner.consumer.recv_batch(max).await?;
        self.after_read(&rs);
        Ok(rs)
    }

    /// Up to `max` records buffered now, without waiting (empty: none ready). Like every
    /// read, it marks the records handed out before it as processed.
    pub fn take_ready(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        self.before_read();
        let rs = self.inner.consumer.take_ready(max)?;
        self.after_read(&rs);
        Ok(rs)
    }

    /// Waits until `take_ready` may find something; takes nothing. Counts as a poll for
    /// `max.poll.interval.ms`.
    pub async fn wait_ready(&self) {
        self.before_read();
        self.inner.consumer.wait_ready().await
    }

    /// The next record, or `None` after `timeout`.
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<Option<ConsumerRecord>> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Commits the offsets after every record handed out so far (of partitions still owned).
    pub async fn commit(&self) -> Result<()> {
        let owned = self.inner.membership.owned();
        let offsets: Vec<(String, i32, i64)> = lock(&self.inner.delivered)
            .iter()
            .filter(|(k, _)| owned.contains(*k))
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect();
        self.commit_offsets(&offsets).await
    }

    /// Commits in the background; the outcome is logged (use [`GroupConsumer::commit`] to see it).
    pub fn commit_async(&self) {
        let this = self.clone();
        crate::runtime::spawn(async move {
            if let Err(e) = this.commit().await {
                tracing::warn!(group = %this.inner.settings.group_id, "async commit failed: {e}");
            }
        });
    }

    /// Commits these (topic, partition, next offset) triples in the current generation.
    /// A commit refused because a rebalance is under way (REBALANCE_IN_PROGRESS, or a stale
    /// KIP-848 member epoch) is retried once the membership task has caught up, for the
    /// partitions this member still owns; one the coordinator could not take (it moved, timed
    /// out or went away) is retried on the coordinator found next, as Java's `commitSync`. Any
    /// other refusal (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, ...) is returned at once.
    pub async fn commit_offsets(&self, offsets: &[(String, i32, i64)]) -> Result<()> {
        const REBALANCE_IN_PROGRESS: i16 = 27;
        const STALE_MEMBER_EPOCH: i16 = 113;
        let mut offsets = offsets.to_vec();
        let deadline = Instant::now()
            + self
                .inner
                .settings
                .session_timeout
                .max(Duration::from_secs(10));
        loop {
            match membership::commit(&self.inner, &offsets).await {
                Err(e)
                    if matches!(e.code(), Some(REBALANCE_IN_PROGRESS | STALE_MEMBER_EPOCH))
                        && Instant::now() < deadline =>
                {
                    self.inner.wake.notify_one();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let owned = self.inner.membership.owned();
                    offsets.retain(|(t, p, _)| owned.contains(&(t.clone(), *p)));
                }
                // As Java's commitSync: a coordinator that moved, timed out or went away is
                // looked up again and the commit retried; any other error returns at once.
                Err(e)
                    if membership::commit_goes_to_next_coordinator(&e)
                        && Instant::now() < deadline =>
                {
                    tracing::debug!(group = %self.inner.settings.group_id, "commit retried: {e}");
                    membership::drop_coordinator(&self.inner);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// The group's committed offsets for these partitions (`None`: nothing committed).
    pub async fn committed(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<HashMap<(String, i32), Option<i64>>> {
        membership::fetch_committed(&self.inner, partitions).await
    }

    /// Lag per owned partition: high watermark minus committed offset (or the whole partition
    /// when nothing is committed).
    pub async fn lag(&self) -> Result<Vec<(String, i32, i64)>> {
        let owned: Vec<(String, i32)> = self.assignment();
        let committed = self.committed(&owned).await?;
        let mut out = Vec::new();
        for (t, p) in owned {
            let (low, high) = self.inner.consumer.fetch_watermarks(&t, p).await?;
            let from = committed
                .get(&(t.clone(), p))
                .copied()
                .flatten()
                .unwrap_or(low);
            out.push((t, p, (high - from).max(0)));
        }
        Ok(out)
    }

    /// Commits processed offsets (with auto-commit on), leaves the group and stops.
    pub async fn close(self) -> Result<()> {
        self.before_read();
        self.inner.closing.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        self.inner.membership.wait_stopped().await;
        Ok(())
    }
}

impl Inner {
    fn listener(&self) -> Option<Arc<dyn RebalanceListener>> {
        lock(&self.listener).clone()
    }

    /// Processed offsets of these partitions.
    fn processed_of(&self, parts: &BTreeSet<(String, i32)>) -> Vec<(String, i32, i64)> {
        lock(&self.processed)
            .iter()
            .filter(|(k, _)| parts.contains(*k))
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect()
    }

    fn forget_positions(&self, parts: &BTreeSet<(String, i32)>) {
        lock(&self.delivered).retain(|k, _| !parts.contains(k));
        lock(&self.processed).retain(|k, _| !parts.contains(k));
    }
}
