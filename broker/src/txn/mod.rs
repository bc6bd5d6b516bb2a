//! The transaction coordinator of this single node: transactional ids, their producer id and
//! epoch, the partitions and group offsets of each open transaction, and its end.
//!
//! Every state change is written to the transaction log (`log`) before it is acted on or
//! answered. A transaction ends synchronously: `Prepare*` is logged, the markers are appended
//! to every partition of the transaction (this node leads them all), a commit stores the
//! transaction's group offsets, and `Complete*` is logged. A crash between those steps leaves a
//! `Prepare*` state, which `recover` finishes at start (markers are idempotent for readers).
//!
//! Transaction version 2 (KIP-890, when the `transaction.version` feature is finalized at 2 and
//! the client speaks EndTxn v5): every commit and abort bumps the producer epoch (the markers
//! carry the new one and EndTxn returns it), so a batch of a finished transaction is refused by
//! epoch; Produce v12+ adds its partition to the transaction and TxnOffsetCommit v5 its group,
//! without AddPartitionsToTxn / AddOffsetsToTxn.
//!
//! One mutex guards all transactions. It is held while markers are appended and while a
//! transactional batch is checked and appended (`append_verified`), so a batch can never land
//! after its transaction's marker (the race KIP-890 closes). Lock order: coordinator, then a
//! partition's log, then the group coordinator.

pub mod log;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use odradek_protocol::records::ControlRecord;

use crate::config::FsyncPolicy;
use crate::group::offsets::Committed;
use crate::log::AppendError;
use crate::partition::Partition;
use crate::state::BrokerState;
use log::TxnLog;

/// Kafka error codes of the transaction APIs.
pub mod codes {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const PRODUCER_FENCED: i16 = 90;
    pub const TRANSACTION_ABORTABLE: i16 = 120;
}

/// The epoch this coordinator writes into markers (one coordinator, never moved).
pub const COORDINATOR_EPOCH: i32 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
}

impl TxnState {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Empty,
            1 => Self::Ongoing,
            2 => Self::PrepareCommit,
            3 => Self::PrepareAbort,
            4 => Self::CompleteCommit,
            5 => Self::CompleteAbort,
            _ => return None,
        })
    }

    /// The name DescribeTransactions and ListTransactions use (Kafka's).
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
        }
    }

    fn is_prepare(self) -> bool {
        matches!(self, Self::PrepareCommit | Self::PrepareAbort)
    }
}

/// Offsets a transaction will commit for one group.
pub type PendingOffsets = BTreeMap<(String, i32), Committed>;

/// What the coordinator knows of one transactional id.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnMeta {
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// When the open transaction began (its first AddPartitions/AddOffsets), wall clock ms.
    pub start_ms: i64,
    pub last_update_ms: i64,
    pub partitions: BTreeSet<(String, i32)>,
    /// Group id → offsets committed with the transaction.
    pub offsets: BTreeMap<String, PendingOffsets>,
    /// The producer id before a KIP-890 epoch overflow moved to a new one, so a retried EndTxn
    /// of that last transaction is recognised (-1: none; not logged, a retry follows at once).
    pub previous_producer_id: i64,
}

impl TxnMeta {
    fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            producer_id,
            epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            start_ms: -1,
            last_update_ms: now_ms,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            previous_producer_id: -1,
        }
    }
}

/// Partitions that received markers: flushed (`--fsync always`) or woken before answering.
#[derive(Default)]
#[must_use]
pub struct Written(Vec<(Arc<Partition>, i64)>);

impl Written {
    pub fn extend(&mut self, other: Written) {
        self.0.extend(other.0);
    }

    /// Makes the markers visible: waits for their fsync under `--fsync always` (the high
    /// watermark moves then), otherwise wakes long-polling fetches.
    pub async fn settle(self, fsync: FsyncPolicy) -> std::io::Result<()> {
        for (p, upto) in self.0 {
            if fsync == FsyncPolicy::Always {
                p.flush_to(upto).await?;
            } else {
                p.data_arrived.notify_waiters();
            }
        }
        Ok(())
    }
}

impl Written {
    /// As `settle`, on a plain thread (recovery at start, before anything serves).
    pub fn settle_blocking(self, fsync: FsyncPolicy, now_ms: i64) -> std::io::Result<()> {
        if fsync != FsyncPolicy::Always {
            return Ok(());
        }
        for (p, _) in self.0 {
            let job = p.log().prepare_flush();
            job.run()?;
            p.log().complete_flush(&job, now_ms);
        }
        Ok(())
    }
}

/// A transaction as DescribeTransactions / ListTransactions show it.
pub struct TxnView {
    pub transactional_id: String,
    pub meta: TxnMeta,
}

#[derive(Debug)]
pub struct TxnCoordinator {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    txns: HashMap<String, TxnMeta>,
    log: TxnLog,
}

type Partitions = Vec<(String, i32)>;
/// A Kafka error code per partition.
pub type PartitionCodes = Vec<((String, i32), i16)>;

impl TxnCoordinator {
    /// Opens the transaction log under `data_dir`; `recover` must run once topics are loaded.
    pub fn open(data_dir: &std::path::Path, fsync: FsyncPolicy) -> std::io::Result<Self> {
        let (log, txns) = TxnLog::open(data_dir, fsync)?;
        Ok(Self {
            inner: Mutex::new(Inner { txns, log }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finishes transactions a crash left between their decision and their markers.
    pub fn recover(&self, s: &BrokerState, now_ms: i64) -> Written {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .txns
            .iter()
            .filter(|(_, m)| m.state.is_prepare())
            .map(|(id, _)| id.clone())
            .collect();
        let mut written = Written::default();
        for id in ids {
            let commit = inner.txns[&id].state == TxnState::PrepareCommit;
            tracing::info!(
                transactional_id = id,
                commit,
                "finishing a transaction decided before the restart"
            );
            // A version-2 epoch bump is already in the logged Prepare state.
            match inner.complete(s, &id, commit, false, now_ms) {
                Ok(w) => written.0.extend(w.0),
                Err(code) => tracing::error!(transactional_id = id, code, "could not finish"),
            }
        }
        written
    }

    /// InitProducerId with a transactional id: a new id gets a producer id at epoch 0; a known
    /// one gets its epoch bumped, which fences the previous producer, and an open transaction
    /// of the previous producer is aborted first.
    pub fn init_producer_id(
        &self,
        s: &BrokerState,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
    ) -> (Result<(i64, i16), i16>, Written) {
        if timeout_ms <= 0 || i64::from(timeout_ms) > s.props().transaction_max_timeout_ms() {
            return (Err(codes::INVALID_TRANSACTION_TIMEOUT), Written::default());
        }
        let mut inner = self.lock();
        let Some(current) = inner.txns.get(id).cloned() else {
            let pid = match s.next_producer_id() {
                Ok(pid) => pid,
                Err(e) => {
                    tracing::error!("allocating a producer id failed: {e}");
                    return (Err(codes::COORDINATOR_NOT_AVAILABLE), Written::default());
                }
            };
            let meta = TxnMeta::new(pid, timeout_ms, now_ms);
            return match inner.put(id, meta) {
                Ok(()) => (Ok((pid, 0)), Written::default()),
                Err(code) => (Err(code), Written::default()),
            };
        };
        // KIP-360: a producer recovering its own id names it; anyone else is fenced.
        if let Some((pid, epoch)) = expected
            && (pid != current.producer_id || epoch != current.epoch)
        {
            return (Err(codes::PRODUCER_FENCED), Written::default());
        }
        if current.state.is_prepare() {
            return (Err(codes::CONCURRENT_TRANSACTIONS), Written::default());
        }
        let mut written = Written::default();
        let mut meta = current;
        if meta.state == TxnState::Ongoing {
            // The new epoch goes into the abort markers, so the old producer's later writes
            // are refused by every partition it wrote to.
            meta.epoch = meta.epoch.saturating_add(1);
            meta.last_update_ms = now_ms;
            if let Err(code) = inner.put(id, meta.clone()) {
                return (Err(code), written);
            }
            match inner.complete(s, id, false, false, now_ms) {
                Ok(w) => written = w,
                Err(code) => return (Err(code), written),
            }
            meta = inner.txns[id].clone();
        } else if meta.epoch >= i16::MAX - 1 {
            match s.next_producer_id() {
                Ok(pid) => {
                    meta.producer_id = pid;
                    meta.epoch = 0;
                }
                Err(e) => {
                    tracing::error!("allocating a producer id failed: {e}");
                    return (Err(codes::COORDINATOR_NOT_AVAILABLE), written);
                }
            }
        } else {
            meta.epoch += 1;
        }
        meta.timeout_ms = timeout_ms;
        meta.state = TxnState::Empty;
        meta.partitions.clear();
        meta.offsets.clear();
        meta.last_update_ms = now_ms;
        let ids = (meta.producer_id, meta.epoch);
        match inner.put(id, meta) {
            Ok(()) => (Ok(ids), written),
            Err(code) => (Err(code), written),
        }
    }

    /// AddPartitionsToTxn for one transaction: per partition an error code, or one code for
    /// the whole transaction. `verify_only` (KIP-890) only answers whether each is added.
    pub fn add_partitions(
        &self,
        s: &BrokerState,
        id: &str,
        producer: (i64, i16),
        partitions: Partitions,
        verify_only: bool,
        now_ms: i64,
    ) -> Result<PartitionCodes, i16> {
        let mut inner = self.lock();
        let mut meta = inner.checked(id, producer)?.clone();
        if verify_only {
            let ongoing = meta.state == TxnState::Ongoing;
            return Ok(partitions
                .into_iter()
                .map(|tp| {
                    let code = if ongoing && meta.partitions.contains(&tp) {
                        codes::NONE
                    } else {
                        codes::INVALID_TXN_STATE
                    };
                    (tp, code)
                })
                .collect());
        }
        let missing: Vec<bool> = partitions
            .iter()
            .map(|(t, p)| s.topics.partition(t, *p).is_none())
            .collect();
        if missing.iter().any(|m| *m) {
            return Ok(partitions
                .into_iter()
                .zip(missing)
                .map(|(tp, m)| {
                    let code = if m {
                        codes::UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        codes::OPERATION_NOT_ATTEMPTED
                    };
                    (tp, code)
                })
                .collect());
        }
        let before = meta.clone();
        meta.begin(now_ms);
        meta.partitions.extend(partitions.iter().cloned());
        let result = if meta != before {
            meta.last_update_ms = now_ms;
            inner.put(id, meta).err()
        } else {
            None
        };
        let code = result.unwrap_or(codes::NONE);
        Ok(partitions.into_iter().map(|tp| (tp, code)).collect())
    }

    /// AddOffsetsToTxn: the transaction will carry offsets of `group`.
    pub fn add_offsets(&self, id: &str, producer: (i64, i16), group: &str, now_ms: i64) -> i16 {
        let mut inner = self.lock();
        let mut meta = match inner.checked(id, producer) {
            Ok(m) => m.clone(),
            Err(code) => return code,
        };
        if group.is_empty() {
            return crate::group::codes::INVALID_GROUP_ID;
        }
        meta.begin(now_ms);
        meta.offsets.entry(group.to_string()).or_default();
        meta.last_update_ms = now_ms;
        inner.put(id, meta).err().unwrap_or(codes::NONE)
    }

    /// TxnOffsetCommit: offsets held with the transaction, stored only if it commits.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_offset_commit(
        &self,
        s: &BrokerState,
        id: &str,
        producer: (i64, i16),
        group: &str,
        member: (&str, Option<&str>, i32),
        offsets: Vec<(String, i32, Committed)>,
        implicit_add: bool,
        now_ms: i64,
    ) -> Vec<(String, i32, i16)> {
        let all = |offsets: Vec<(String, i32, Committed)>, code| {
            offsets.into_iter().map(|(t, p, _)| (t, p, code)).collect()
        };
        let mut inner = self.lock();
        let mut meta = match inner.checked(id, producer) {
            Ok(m) => m.clone(),
            Err(code) => return all(offsets, code),
        };
        if implicit_add && !meta.offsets.contains_key(group) {
            // Version 2: the commit itself adds the group (no AddOffsetsToTxn).
            meta.begin(now_ms);
            meta.offsets.entry(group.to_string()).or_default();
        }
        if meta.state != TxnState::Ongoing || !meta.offsets.contains_key(group) {
            // The group must have been added with AddOffsetsToTxn first.
            return all(offsets, codes::INVALID_TXN_STATE);
        }
        let (member_id, instance_id, generation) = member;
        let code = s
            .groups
            .check_txn_commit(group, member_id, instance_id, generation);
        if code != codes::NONE {
            return all(offsets, code);
        }
        let mut results = Vec::with_capacity(offsets.len());
        let pending = meta.offsets.entry(group.to_string()).or_default();
        for (topic, partition, c) in offsets {
            if c.metadata
                .as_ref()
                .is_some_and(|m| m.len() > crate::group::MAX_OFFSET_METADATA)
            {
                results.push((topic, partition, codes::OFFSET_METADATA_TOO_LARGE));
                continue;
            }
            pending.insert((topic.clone(), partition), c);
            results.push((topic, partition, codes::NONE));
        }
        meta.last_update_ms = now_ms;
        if let Err(code) = inner.put(id, meta) {
            for r in results.iter_mut() {
                r.2 = code;
            }
        }
        results
    }

    /// EndTxn: commits or aborts the open transaction (markers written before answering).
    /// Returns Kafka's code and, on success, the producer id and epoch the producer goes on
    /// with (bumped by version 2).
    pub fn end_txn(
        &self,
        s: &BrokerState,
        id: &str,
        producer: (i64, i16),
        commit: bool,
        version2: bool,
        now_ms: i64,
    ) -> (i16, Option<(i64, i16)>, Written) {
        let mut inner = self.lock();
        if version2 {
            return inner.end_txn_v2(s, id, producer, commit, now_ms);
        }
        let state = match inner.checked(id, producer) {
            Ok(m) => m.state,
            Err(code) => return (code, None, Written::default()),
        };
        let done = |code| {
            (
                code,
                (code == codes::NONE).then_some(producer),
                Written::default(),
            )
        };
        match (state, commit) {
            (TxnState::Ongoing, _) => match inner.complete(s, id, commit, false, now_ms) {
                Ok(w) => (codes::NONE, Some(producer), w),
                Err(code) => done(code),
            },
            // A retry of an EndTxn that already completed.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                done(codes::NONE)
            }
            (TxnState::PrepareCommit | TxnState::PrepareAbort, _) => {
                done(codes::CONCURRENT_TRANSACTIONS)
            }
            _ => done(codes::INVALID_TXN_STATE),
        }
    }

    /// Aborts transactions open longer than their timeout, bumping the epoch so the producer
    /// that abandoned them is fenced.
    pub fn abort_timed_out(&self, s: &BrokerState, now_ms: i64) -> Written {
        let mut inner = self.lock();
        let expired: Vec<String> = inner
            .txns
            .iter()
            .filter(|(_, m)| {
                m.state == TxnState::Ongoing
                    && now_ms.saturating_sub(m.start_ms) > i64::from(m.timeout_ms)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut written = Written::default();
        for id in expired {
            let mut meta = inner.txns[&id].clone();
            tracing::info!(
                transactional_id = id,
                producer_id = meta.producer_id,
                timeout_ms = meta.timeout_ms,
                "aborting a transaction past its timeout"
            );
            meta.epoch = meta.epoch.saturating_add(1);
            if inner.put(&id, meta).is_err() {
                continue;
            }
            match inner.complete(s, &id, false, false, now_ms) {
                Ok(w) => written.0.extend(w.0),
                Err(code) => tracing::error!(transactional_id = id, code, "timeout abort failed"),
            }
        }
        written
    }

    /// Forgets transactional ids with no transaction open whose last use is older than
    /// `expiration_ms` (`transactional.id.expiration.ms`, as Kafka): a later InitProducerId
    /// with the id starts over with a new producer id. Returns the ids removed.
    pub fn expire_ids(&self, now_ms: i64, expiration_ms: i64) -> Vec<String> {
        let mut inner = self.lock();
        let expired: Vec<String> = inner
            .txns
            .iter()
            .filter(|(_, m)| {
                matches!(
                    m.state,
                    TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                ) && now_ms.saturating_sub(m.last_update_ms) >= expiration_ms
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut removed = Vec::with_capacity(expired.len());
        for id in expired {
            let meta = inner.txns.remove(&id).expect("listed");
            let Inner { txns, log } = &mut *inner;
            if let Err(e) = log.write_removal(&id, txns) {
                tracing::error!(transactional_id = id, "logging an expiry failed: {e}");
                // Not logged, not applied: tried again next time.
                inner.txns.insert(id, meta);
                continue;
            }
            tracing::info!(
                transactional_id = id,
                producer_id = meta.producer_id,
                "transactional id expired"
            );
            removed.push(id);
        }
        removed
    }

    /// Appends a transactional batch if its producer has `topic`/`partition` in an open
    /// transaction (KIP-890's check), holding the coordinator across the append so the
    /// transaction cannot end in between. With `implicit_add` (Produce v12+ under version 2)
    /// the batch adds its partition, and opens the transaction, itself.
    #[allow(clippy::too_many_arguments)]
    pub fn append_verified<R>(
        &self,
        id: Option<&str>,
        producer: (i64, i16),
        topic: &str,
        partition: i32,
        implicit_add: bool,
        now_ms: i64,
        append: impl FnOnce() -> Result<R, AppendError>,
    ) -> Result<R, AppendError> {
        let mut inner = self.lock();
        let refuse = |code, message: String| Err(AppendError::Transaction { code, message });
        let Some(id) = id else {
            return refuse(
                codes::INVALID_TXN_STATE,
                "a transactional batch in a produce request without a transactional id".into(),
            );
        };
        let Some(meta) = inner.txns.get(id) else {
            return refuse(
                codes::INVALID_PRODUCER_ID_MAPPING,
                format!("unknown transactional id {id:?}"),
            );
        };
        if meta.producer_id != producer.0 {
            return refuse(
                codes::INVALID_PRODUCER_ID_MAPPING,
                format!("producer id {} is not the one of {id:?}", producer.0),
            );
        }
        if producer.1 != meta.epoch {
            return refuse(
                codes::INVALID_PRODUCER_EPOCH,
                format!(
                    "producer epoch {} of {id:?} is not the current epoch {}",
                    producer.1, meta.epoch
                ),
            );
        }
        let tp = (topic.to_string(), partition);
        if implicit_add && meta.state.is_prepare() {
            return refuse(
                codes::CONCURRENT_TRANSACTIONS,
                format!("the transaction of {id:?} is ending"),
            );
        }
        if implicit_add && (meta.state != TxnState::Ongoing || !meta.partitions.contains(&tp)) {
            let mut added = meta.clone();
            added.begin(now_ms);
            added.partitions.insert(tp.clone());
            added.last_update_ms = now_ms;
            if let Err(code) = inner.put(id, added) {
                return refuse(
                    code,
                    format!("adding {topic}-{partition} to the transaction of {id:?} failed"),
                );
            }
        }
        let meta = &inner.txns[id];
        if meta.state != TxnState::Ongoing || !meta.partitions.contains(&tp) {
            return refuse(
                codes::INVALID_TXN_STATE,
                format!("{topic}-{partition} is not part of an open transaction of {id:?}"),
            );
        }
        append()
    }

    /// WriteTxnMarkers from outside (an admin aborting a hanging transaction): a producer this
    /// coordinator has an open transaction for is refused, its markers are ours to write.
    pub fn write_external_marker(
        &self,
        s: &BrokerState,
        producer: (i64, i16),
        commit: bool,
        coordinator_epoch: i32,
        partitions: Partitions,
        now_ms: i64,
    ) -> (PartitionCodes, Written) {
        let inner = self.lock();
        let owned = inner.txns.values().any(|m| {
            m.producer_id == producer.0 && (m.state == TxnState::Ongoing || m.state.is_prepare())
        });
        let mut written = Written::default();
        let results = partitions
            .into_iter()
            .map(|(topic, index)| {
                if owned || coordinator_epoch < 0 {
                    return ((topic, index), codes::TRANSACTION_COORDINATOR_FENCED);
                }
                let Some(p) = s.topics.partition(&topic, index) else {
                    return ((topic, index), codes::UNKNOWN_TOPIC_OR_PARTITION);
                };
                let code = match write_marker(&p, producer, commit, coordinator_epoch, now_ms) {
                    Ok(upto) => {
                        written.0.push((p, upto));
                        codes::NONE
                    }
                    Err(e) => e.code(),
                };
                ((topic, index), code)
            })
            .collect();
        (results, written)
    }

    /// Whether an open transaction carries an offset of `group` for the partition (an
    /// OffsetFetch with `require_stable` is told to wait, KIP-447).
    pub fn has_pending_offsets(&self, group: &str, topic: &str, partition: i32) -> bool {
        let key = (topic.to_string(), partition);
        self.lock().txns.values().any(|m| {
            m.state != TxnState::CompleteCommit
                && m.state != TxnState::CompleteAbort
                && m.offsets.get(group).is_some_and(|o| o.contains_key(&key))
        })
    }

    /// Transactions by id (DescribeTransactions); `None` for an unknown id.
    pub fn describe(&self, id: &str) -> Option<TxnMeta> {
        self.lock().txns.get(id).cloned()
    }

    /// Every transaction (ListTransactions filters them).
    pub fn list(&self) -> Vec<TxnView> {
        self.lock()
            .txns
            .iter()
            .map(|(id, m)| TxnView {
                transactional_id: id.clone(),
                meta: m.clone(),
            })
            .collect()
    }
}

impl TxnMeta {
    /// Opens a transaction if none is open.
    fn begin(&mut self, now_ms: i64) {
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.start_ms = now_ms;
            self.partitions.clear();
            self.offsets.clear();
        }
    }
}

impl Inner {
    /// The transaction of `id` if `producer` is its current producer; else Kafka's code.
    fn checked(&self, id: &str, (pid, epoch): (i64, i16)) -> Result<&TxnMeta, i16> {
        let meta = self
            .txns
            .get(id)
            .ok_or(codes::INVALID_PRODUCER_ID_MAPPING)?;
        if meta.producer_id != pid {
            return Err(codes::INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != meta.epoch {
            return Err(codes::PRODUCER_FENCED);
        }
        if meta.state.is_prepare() {
            return Err(codes::CONCURRENT_TRANSACTIONS);
        }
        Ok(meta)
    }

    /// Logs `meta` as the state of `id`, then keeps it.
    fn put(&mut self, id: &str, meta: TxnMeta) -> Result<(), i16> {
        let previous = self.txns.insert(id.to_string(), meta);
        if let Err(e) = self.log.write(id, &self.txns[id], &self.txns) {
            tracing::error!(
                transactional_id = id,
                "writing the transaction log failed: {e}"
            );
            // Not logged, not applied.
            match previous {
                Some(p) => self.txns.insert(id.to_string(), p),
                None => self.txns.remove(id),
            };
            return Err(codes::COORDINATOR_NOT_AVAILABLE);
        }
        Ok(())
    }

    /// Ends the open (or prepared) transaction of `id`: decision logged, markers written,
    /// offsets stored on commit, completion logged.
    /// `bump` (version 2) raises the epoch with the decision, so the markers fence every
    /// batch of this transaction's epoch.
    fn complete(
        &mut self,
        s: &BrokerState,
        id: &str,
        commit: bool,
        bump: bool,
        now_ms: i64,
    ) -> Result<Written, i16> {
        let mut meta = self.txns[id].clone();
        meta.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        if bump {
            meta.epoch = meta.epoch.saturating_add(1);
        }
        meta.last_update_ms = now_ms;
        self.put(id, meta.clone())?;
        let mut written = Written::default();
        let producer = (meta.producer_id, meta.epoch);
        for (topic, index) in &meta.partitions {
            // A partition deleted meanwhile has nothing left to mark.
            let Some(p) = s.topics.partition(topic, *index) else {
                continue;
            };
            match write_marker(&p, producer, commit, COORDINATOR_EPOCH, now_ms) {
                Ok(upto) => written.0.push((p, upto)),
                Err(e) => {
                    // The decision stays logged as Prepare*; the next start finishes it.
                    tracing::error!(
                        transactional_id = id,
                        topic,
                        partition = index,
                        "writing a transaction marker failed: {e}"
                    );
                    return Err(codes::COORDINATOR_NOT_AVAILABLE);
                }
            }
        }
        if commit {
            for (group, offsets) in &meta.offsets {
                let offsets = offsets
                    .iter()
                    .map(|((t, p), c)| (t.clone(), *p, c.clone()))
                    .collect::<Vec<_>>();
                if offsets.is_empty() {
                    continue;
                }
                if let Err(e) = s.groups.commit_transactional(group, offsets) {
                    tracing::error!(
                        transactional_id = id,
                        group,
                        "storing transaction offsets failed: {e}"
                    );
                    return Err(codes::COORDINATOR_NOT_AVAILABLE);
                }
            }
        }
        meta.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        meta.partitions.clear();
        meta.offsets.clear();
        meta.last_update_ms = now_ms;
        if meta.epoch == i16::MAX {
            // The epoch is exhausted: the producer goes on under a new id (Kafka's overflow).
            match s.next_producer_id() {
                Ok(pid) => {
                    meta.previous_producer_id = meta.producer_id;
                    meta.producer_id = pid;
                    meta.epoch = 0;
                }
                Err(e) => tracing::error!("allocating a producer id failed: {e}"),
            }
        }
        self.put(id, meta)?;
        Ok(written)
    }

    /// EndTxn under version 2 (Kafka's rules): the epoch is bumped by every commit and abort,
    /// an abort is allowed with nothing in the transaction, and a retry of an EndTxn that
    /// completed is recognised by the epoch one below the current one.
    fn end_txn_v2(
        &mut self,
        s: &BrokerState,
        id: &str,
        (pid, epoch): (i64, i16),
        commit: bool,
        now_ms: i64,
    ) -> (i16, Option<(i64, i16)>, Written) {
        let fail = |code| (code, None, Written::default());
        let Some(meta) = self.txns.get(id) else {
            return fail(codes::INVALID_PRODUCER_ID_MAPPING);
        };
        let retry_on_overflow =
            meta.previous_producer_id == pid && epoch == i16::MAX - 1 && meta.epoch == 0;
        if meta.producer_id != pid && !retry_on_overflow {
            return fail(codes::INVALID_PRODUCER_ID_MAPPING);
        }
        let retry_on_bump = i32::from(meta.epoch) == i32::from(epoch) + 1;
        let valid = match meta.state {
            TxnState::Ongoing | TxnState::Empty => epoch == meta.epoch,
            TxnState::PrepareCommit | TxnState::PrepareAbort => retry_on_bump,
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                retry_on_bump || retry_on_overflow || epoch == meta.epoch
            }
        };
        if !valid {
            return fail(codes::PRODUCER_FENCED);
        }
        let retry = retry_on_bump || retry_on_overflow;
        let current = Some((meta.producer_id, meta.epoch));
        let end = |inner: &mut Self, commit| match inner.complete(s, id, commit, true, now_ms) {
            Ok(w) => {
                let m = &inner.txns[id];
                (codes::NONE, Some((m.producer_id, m.epoch)), w)
            }
            Err(code) => fail(code),
        };
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => end(self, commit),
            (TxnState::PrepareCommit | TxnState::PrepareAbort, _) => {
                fail(codes::CONCURRENT_TRANSACTIONS)
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => {
                (codes::NONE, current, Written::default())
            }
            // Aborting with nothing in the transaction still bumps the epoch.
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false)
                if !retry =>
            {
                end(self, false)
            }
            _ => fail(codes::INVALID_TXN_STATE),
        }
    }
}

/// Appends one marker to `p`; returns the offset after it.
fn write_marker(
    p: &Partition,
    (pid, epoch): (i64, i16),
    commit: bool,
    coordinator_epoch: i32,
    now_ms: i64,
) -> Result<i64, AppendError> {
    let marker = if commit {
        ControlRecord::Commit { coordinator_epoch }
    } else {
        ControlRecord::Abort { coordinator_epoch }
    };
    let info = p.log().append_marker(pid, epoch, marker, now_ms)?;
    Ok(info.last_offset + 1)
}
