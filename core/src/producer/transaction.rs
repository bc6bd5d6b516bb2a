//! The transactional producer (`transactional.id`): the transaction manager the public calls
//! and the sender share. Transactions version 1 (KIP-98): the coordinator found with
//! FindCoordinator (key type 1), InitProducerId with the id, AddPartitionsToTxn before a
//! partition's first batch of a transaction (the sender asks, `add_partitions`),
//! AddOffsetsToTxn + TxnOffsetCommit with the consumer's group metadata (KIP-447), EndTxn.
//!
//! Version 2 (KIP-890), used when the coordinator finalized the `transaction.version` feature
//! at 2 (checked at `init_transactions` and after every transaction, as the Java client does):
//! Produce v12 adds partitions and TxnOffsetCommit v5 the group, so neither AddPartitionsToTxn
//! nor AddOffsetsToTxn is sent; EndTxn v5 returns the producer epoch bumped by the coordinator,
//! which the next transaction uses with sequences from 0. Against older brokers the requests
//! stay at version 1's versions (Produce v11, EndTxn v4, TxnOffsetCommit v4).
//!
//! Error classes, as the Java client: a fenced producer (PRODUCER_FENCED,
//! INVALID_PRODUCER_EPOCH), a lost mapping or authorization is *fatal* — every later call fails;
//! a failed batch or offset commit is *abortable* — `commit_transaction` refuses,
//! `abort_transaction` clears it. After a sequence gap the abort re-initialises with the current
//! id and epoch so the coordinator bumps the epoch (KIP-360) and sequences start over.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::error::{Error, ErrorClass, ErrorKind, ResponseError, Result};
use crate::net::Connection;

/// What `send_offsets_to_transaction` needs of the consumer: its group, generation and member
/// (`GroupConsumer::group_metadata`), so a zombie consumer's offsets are refused (KIP-447).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// The consumer's `group.id`.
    pub group_id: String,
    /// -1 when not known (the commit is then not checked against the group).
    pub generation_id: i32,
    /// The member id the coordinator gave the consumer ("" when not known).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata naming only the group (no generation check), as older clients send.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Uninitialized,
    Ready,
    InTransaction,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// (producer id, epoch, generation): the generation changes with every new identity, so the
    /// sender knows to restart its sequences.
    identity: Option<(i64, i16, u64)>,
    added: HashSet<(Arc<str>, i32)>,
    groups: HashSet<String>,
    abortable: Option<Error>,
    fatal: Option<Error>,
    /// A batch was lost to a sequence gap: the epoch must be bumped before the next transaction.
    bump_epoch: bool,
    /// The accumulator's `local_failures` when the transaction began.
    local_failures_at_begin: u64,
    /// Transaction version 2 (KIP-890) is in use.
    version2: bool,
}

/// The transaction state of one producer.
#[derive(Debug)]
pub(crate) struct Transactions {
    id: String,
    timeout_ms: i32,
    /// Bound on one call (init, commit, abort, offsets): `max.block.ms`.
    max_block: Duration,
    inner: Mutex<Inner>,
    /// Public calls run one at a time.
    op: tokio::sync::Mutex<()>,
}

/// Kafka error codes the coordinator answers that mean "ask again".
fn retry_code(code: i16) -> bool {
    use ResponseError as E;
    ResponseError::try_from_code(code).is_some_and(|e| {
        matches!(
            e,
            E::CoordinatorNotAvailable
                | E::NotCoordinator
                | E::CoordinatorLoadInProgress
                | E::ConcurrentTransactions
                | E::RequestTimedOut
        )
    })
}

fn fenced(e: &Error) -> bool {
    matches!(
        e.response_error(),
        Some(ResponseError::ProducerFenced | ResponseError::InvalidProducerEpoch)
    )
}

fn kafka(code: i16, what: &str) -> Option<Error> {
    Error::from_code(code).map(|e| {
        let class = if fenced(&e) || e.class() == ErrorClass::Fatal {
            ErrorClass::Fatal
        } else {
            ErrorClass::Abortable
        };
        let message = format!("{what}: {e}");
        Error::new(e.kind().clone(), class, message)
    })
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

impl Transactions {
    pub(crate) fn new(id: String, timeout: Duration, max_block: Duration) -> Self {
        Self {
            id,
            timeout_ms: timeout.as_millis().min(i32::MAX as u128) as i32,
            max_block,
            inner: Mutex::new(Inner {
                phase: Phase::Uninitialized,
                identity: None,
                added: HashSet::new(),
                groups: HashSet::new(),
                abortable: None,
                fatal: None,
                bump_epoch: false,
                local_failures_at_begin: 0,
                version2: false,
            }),
            op: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn transactional_id(&self) -> &str {
        &self.id
    }

    /// The identity the sender stamps batches with, once `init_transactions` got one.
    pub(crate) fn identity(&self) -> Option<(i64, i16, u64)> {
        self.lock().identity
    }

    /// The fatal error, if the producer can no longer go on.
    pub(crate) fn fatal(&self) -> Option<Error> {
        self.lock().fatal.clone()
    }

    /// Whether `send` may take a record now.
    pub(crate) fn check_send(&self) -> Result<()> {
        let inner = self.lock();
        if let Some(e) = &inner.fatal {
            return Err(e.clone());
        }
        if inner.phase != Phase::InTransaction {
            return Err(Error::invalid_argument(
                "a transactional producer sends only inside a transaction (begin_transaction)",
            ));
        }
        Ok(())
    }

    /// Whether the sender may send a batch of the partition now: it is in the transaction, or
    /// (version 2) its Produce request adds it. Otherwise AddPartitionsToTxn comes first.
    pub(crate) fn may_send(&self, topic: &Arc<str>, partition: i32) -> bool {
        let mut inner = self.lock();
        if inner.version2 {
            inner.added.insert((topic.clone(), partition));
            return true;
        }
        inner.added.contains(&(topic.clone(), partition))
    }

    /// Whether transaction version 2 is in use.
    pub(crate) fn version2(&self) -> bool {
        self.lock().version2
    }

    /// The highest Produce version a transactional batch may go with: v12+ only under version 2.
    pub(crate) fn produce_version_cap(&self) -> Option<i16> {
        (!self.version2()).then_some(11)
    }

    /// The cap of EndTxn and TxnOffsetCommit: their v5 are version 2's.
    fn v1_cap(&self) -> Option<i16> {
        (!self.version2()).then_some(4)
    }

    /// Looks at the coordinator's finalized `transaction.version` (and that it speaks the
    /// version-2 requests) and uses version 2 from the next transaction if it is 2.
    async fn choose_version(&self, cluster: &Cluster) -> Result<()> {
        let conn = self.coordinator(cluster).await?;
        let v2 = conn.finalized_level("transaction.version") >= 2
            && conn.version(ApiKey::EndTxn).is_some_and(|v| v >= 5)
            && conn
                .version(ApiKey::TxnOffsetCommit)
                .is_some_and(|v| v >= 5)
            && conn.version(ApiKey::Produce).is_some_and(|v| v >= 12);
        let mut inner = self.lock();
        if inner.version2 != v2 {
            tracing::debug!(
                transactional_id = self.id,
                version2 = v2,
                "transaction version chosen"
            );
        }
        inner.version2 = v2;
        Ok(())
    }

    /// A batch of the transaction failed: the transaction must abort, or (fenced) the producer
    /// must stop.
    /// Returns the producer's fatal error when this failure made it fatal (the first time).
    pub(crate) fn record_failure(&self, e: &Error) -> Option<Error> {
        let mut inner = self.lock();
        if fenced(e) || e.class() == ErrorClass::Fatal {
            if inner.fatal.is_none() {
                tracing::warn!(transactional_id = self.id, error = %e, "transactional producer fenced or failed fatally");
                let fatal = e.clone().with_class(ErrorClass::Fatal);
                inner.fatal = Some(fatal.clone());
                return Some(fatal);
            }
        } else if inner.abortable.is_none() {
            inner.abortable = Some(
                Error::new(
                    e.kind().clone(),
                    ErrorClass::Abortable,
                    format!("a record of the transaction failed: {e}"),
                )
                .with_class(ErrorClass::Abortable),
            );
        }
        None
    }

    /// A sent batch may be lost: the epoch is bumped at the next abort.
    pub(crate) fn note_sequence_gap(&self) {
        self.lock().bump_epoch = true;
    }

    /// The transaction coordinator's connection.
    async fn coordinator(&self, cluster: &Cluster) -> Result<Arc<Connection>> {
        let node = cluster.coordinator_node(&self.id, 1).await?;
        cluster.connection(node).await
    }

    /// Sends a request to the coordinator of `key_type`/`key` until its answer's code (read by
    /// `code`) is not a "try again" one, within `max.block.ms`.
    async fn call<R>(
        &self,
        cluster: &Cluster,
        key: (&str, i8),
        request: &R,
        cap: Option<i16>,
        code: impl Fn(&R::Response) -> i16,
    ) -> Result<R::Response>
    where
        R: crate::protocol::EncodeRequest,
        R::Response: crate::protocol::codec::Response,
    {
        let deadline = Instant::now() + self.max_block;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let conn = if key.1 == 1 {
                    self.coordinator(cluster).await?
                } else {
                    let node = cluster.coordinator_node(key.0, key.1).await?;
                    cluster.connection(node).await?
                };
                conn.request_timeout_capped(request, cap, cluster.request_timeout())
                    .await
            }
            .await;
            let retry = match &result {
                Ok(r) => retry_code(code(r)),
                Err(e) => e.is_retriable(),
            };
            if !retry {
                return result;
            }
            if Instant::now() >= deadline {
                let why = match &result {
                    Ok(r) => format!("error code {}", code(r)),
                    Err(e) => e.to_string(),
                };
                return Err(Error::timeout(format!(
                    "transaction coordinator for {:?} did not answer within max.block.ms ({:?}): {why}",
                    key.0, self.max_block
                )));
            }
            let cfg = cluster.config();
            tokio::time::sleep(crate::net::backoff(
                cfg.retry_backoff,
                cfg.retry_backoff_max,
                attempt,
            ))
            .await;
        }
    }

    fn check_fatal(&self) -> Result<()> {
        match &self.lock().fatal {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail_fatal(&self, e: Error) -> Error {
        let e = e.with_class(ErrorClass::Fatal);
        self.lock().fatal = Some(e.clone());
        e
    }

    /// InitProducerId with the transactional id; `expected` (KIP-360) names the current
    /// producer so the coordinator bumps its epoch instead of fencing it.
    async fn init_producer_id(
        &self,
        cluster: &Cluster,
        expected: Option<(i64, i16)>,
    ) -> Result<()> {
        let (pid, epoch) = expected.unwrap_or((-1, -1));
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(&self.id))))
            .with_transaction_timeout_ms(self.timeout_ms)
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch);
        let r = self
            .call(cluster, (&self.id, 1), &request, None, |r| r.error_code)
            .await?;
        if let Some(e) = kafka(r.error_code, "InitProducerId") {
            // Anything but "try again" leaves no usable identity.
            return Err(self.fail_fatal(e));
        }
        let mut inner = self.lock();
        let generation = inner.identity.map_or(0, |i| i.2 + 1);
        inner.identity = Some((r.producer_id.0, r.producer_epoch, generation));
        inner.bump_epoch = false;
        tracing::debug!(
            transactional_id = self.id,
            producer_id = r.producer_id.0,
            epoch = r.producer_epoch,
            "transactional producer id"
        );
        Ok(())
    }

    pub(crate) async fn init(&self, cluster: &Cluster) -> Result<()> {
        let _op = self.op.lock().await;
        self.check_fatal()?;
        if self.lock().phase != Phase::Uninitialized {
            return Err(Error::invalid_argument(
                "init_transactions was already called",
            ));
        }
        self.init_producer_id(cluster, None).await?;
        self.choose_version(cluster).await?;
        self.lock().phase = Phase::Ready;
        Ok(())
    }

    /// `local_failures`: the accumulator's count of records it failed itself, so far.
    pub(crate) fn begin(&self, local_failures: u64) -> Result<()> {
        let mut inner = self.lock();
        if let Some(e) = &inner.fatal {
            return Err(e.clone());
        }
        match inner.phase {
            Phase::Uninitialized => Err(Error::invalid_argument(
                "begin_transaction before init_transactions",
            )),
            Phase::InTransaction => Err(Error::invalid_argument("a transaction is already open")),
            Phase::Ready => {
                inner.phase = Phase::InTransaction;
                inner.local_failures_at_begin = local_failures;
                inner.added.clear();
                inner.groups.clear();
                inner.abortable = None;
                Ok(())
            }
        }
    }

    fn require_open(&self) -> Result<(i64, i16)> {
        let inner = self.lock();
        if let Some(e) = &inner.fatal {
            return Err(e.clone());
        }
        if inner.phase != Phase::InTransaction {
            return Err(Error::invalid_argument("no transaction is open"));
        }
        let (pid, epoch, _) = inner.identity.expect("initialized");
        Ok((pid, epoch))
    }

    /// AddPartitionsToTxn for partitions about to get their first batch of the transaction
    /// (called by the sender). A failure is recorded (abortable or fatal) and returned.
    pub(crate) async fn add_partitions(
        &self,
        cluster: &Cluster,
        partitions: Vec<(Arc<str>, i32)>,
    ) -> Result<()> {
        let Some((pid, epoch, _)) = self.identity() else {
            return Err(Error::invalid_argument("no transactional producer id"));
        };
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (t, p) in &partitions {
            match topics.iter_mut().find(|x| *x.name.0 == **t) {
                Some(x) => x.partitions.push(*p),
                None => topics.push(
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partitions(vec![*p]),
                ),
            }
        }
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s(&self.id)))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(topics);
        let first_code = |r: &AddPartitionsToTxnResponse| {
            r.results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| &t.results_by_partition)
                .map(|p| p.partition_error_code)
                .find(|c| *c != 0)
                .unwrap_or(0)
        };
        let result = self
            .call(cluster, (&self.id, 1), &request, None, first_code)
            .await
            .and_then(|r| match kafka(first_code(&r), "AddPartitionsToTxn") {
                Some(e) => Err(e),
                None => Ok(()),
            });
        match result {
            Ok(()) => {
                self.lock().added.extend(partitions);
                Ok(())
            }
            Err(e) => {
                let _ = self.record_failure(&e);
                Err(e)
            }
        }
    }

    pub(crate) async fn send_offsets(
        &self,
        cluster: &Cluster,
        offsets: &[(String, i32, i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let _op = self.op.lock().await;
        let (pid, epoch) = self.require_open()?;
        let (added, version2) = {
            let inner = self.lock();
            (inner.groups.contains(&group.group_id), inner.version2)
        };
        if version2 {
            // TxnOffsetCommit v5 adds the group itself.
            self.lock().groups.insert(group.group_id.clone());
        } else if !added {
            let request = AddOffsetsToTxnRequest::default()
                .with_transactional_id(TransactionalId(s(&self.id)))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_group_id(GroupId(s(&group.group_id)));
            let r = self
                .call(cluster, (&self.id, 1), &request, None, |r| r.error_code)
                .await?;
            if let Some(e) = kafka(r.error_code, "AddOffsetsToTxn") {
                let _ = self.record_failure(&e);
                return Err(e);
            }
            self.lock().groups.insert(group.group_id.clone());
        }
        let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
        for (t, p, o) in offsets {
            let part = TxnOffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(*o)
                .with_committed_leader_epoch(-1);
            match topics.iter_mut().find(|x| *x.name.0 == **t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    TxnOffsetCommitRequestTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partitions(vec![part]),
                ),
            }
        }
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s(&self.id)))
            .with_group_id(GroupId(s(&group.group_id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id(group.generation_id)
            .with_member_id(s(&group.member_id))
            .with_group_instance_id(group.group_instance_id.as_deref().map(s))
            .with_topics(topics);
        let first_code = |r: &TxnOffsetCommitResponse| {
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code)
                .find(|c| *c != 0)
                .unwrap_or(0)
        };
        let r = self
            .call(
                cluster,
                (&group.group_id, 0),
                &request,
                self.v1_cap(),
                first_code,
            )
            .await?;
        if let Some(e) = kafka(first_code(&r), "TxnOffsetCommit") {
            let _ = self.record_failure(&e);
            return Err(e);
        }
        Ok(())
    }

    /// EndTxn once everything sent is acknowledged (`flushed` is the producer's flush;
    /// `local_failures` the accumulator's count, see `begin`).
    pub(crate) async fn end(
        &self,
        cluster: &Cluster,
        commit: bool,
        flushed: Result<()>,
        local_failures: u64,
    ) -> Result<()> {
        let (pid, epoch) = self.require_open()?;
        if commit {
            flushed?;
            let failed_here = local_failures - self.lock().local_failures_at_begin;
            if failed_here > 0 {
                let e = Error::new(
                    ErrorKind::InvalidArgument,
                    ErrorClass::Abortable,
                    format!(
                        "{failed_here} record(s) of the transaction failed before they were sent; abort it"
                    ),
                );
                self.lock().abortable.get_or_insert(e.clone());
                return Err(e);
            }
            let pending = self.lock().abortable.clone();
            if let Some(e) = pending {
                return Err(e);
            }
        }
        self.check_fatal()?;
        let nothing_sent = {
            let inner = self.lock();
            inner.added.is_empty() && inner.groups.is_empty()
        };
        if !nothing_sent {
            let request = EndTxnRequest::default()
                .with_transactional_id(TransactionalId(s(&self.id)))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_committed(commit);
            let r = self
                .call(cluster, (&self.id, 1), &request, self.v1_cap(), |r| {
                    r.error_code
                })
                .await?;
            if let Some(e) = kafka(r.error_code, "EndTxn") {
                // The coordinator refused to end the transaction: nothing certain is left.
                return Err(self.fail_fatal(e));
            }
            if self.version2() {
                // The coordinator bumped the epoch: the next transaction runs under it, with
                // sequences from 0 (a new generation for the sender), and needs no KIP-360 bump.
                if r.producer_id.0 < 0 || r.producer_epoch < 0 {
                    return Err(self.fail_fatal(Error::new(
                        ErrorKind::Protocol,
                        ErrorClass::Fatal,
                        "EndTxn v5 answered without the next producer id and epoch",
                    )));
                }
                let mut inner = self.lock();
                let generation = inner.identity.map_or(0, |i| i.2 + 1);
                inner.identity = Some((r.producer_id.0, r.producer_epoch, generation));
                inner.bump_epoch = false;
            }
        }
        let bump = {
            let mut inner = self.lock();
            inner.phase = Phase::Ready;
            inner.added.clear();
            inner.groups.clear();
            inner.abortable = None;
            inner.bump_epoch
        };
        if bump {
            self.init_producer_id(cluster, Some((pid, epoch))).await?;
        }
        // The broker may have changed its finalized version since (a rolling upgrade). The
        // transaction is over either way: a failed look leaves the version as it was.
        if let Err(e) = self.choose_version(cluster).await {
            tracing::debug!(transactional_id = self.id, error = %e, "transaction version not checked");
        }
        Ok(())
    }

    /// Serializes commit and abort with the other calls.
    pub(crate) async fn op(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.op.lock().await
    }
}

/// The error `send` and `begin_transaction` give on a producer without `transactional.id`.
pub(crate) fn not_transactional() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        ErrorClass::Permanent,
        "this producer has no transactional.id",
    )
}
