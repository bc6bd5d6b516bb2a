//! The transaction coordinator and transactional partitions over the wire: commit and abort as
//! `read_committed` readers see them (last stable offset, aborted-transactions list), across a
//! restart; transaction offsets visible only after the commit; zombie fencing; timeouts; and
//! Kafka's error codes for bad input. Real clients (Java, librdkafka) are in tests/interop.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use odradek::compression::Compression;
use odradek::records::{BatchOptions, RecordBatchBuilder};
use odradek_broker::FsyncPolicy;

const NONE: i16 = 0;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
const UNSTABLE_OFFSET_COMMIT: i16 = 88;
const PRODUCER_FENCED: i16 = 90;
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
const TRANSACTION_ABORTABLE: i16 = 120;

async fn client(b: &TestBroker) -> Client {
    Client::connect(b.handle.local_addr()).await
}

async fn init(c: &mut Client, id: &str, timeout_ms: i32) -> (i16, i64, i16) {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = Some(TransactionalId(s(id)));
    req.transaction_timeout_ms = timeout_ms;
    req.producer_id = ProducerId(-1);
    req.producer_epoch = -1;
    let r = c.call(req, 4).await;
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

/// AddPartitionsToTxn v3 (what clients send); the code of each partition.
async fn add(c: &mut Client, id: &str, p: (i64, i16), name: &str, parts: &[i32]) -> Vec<i16> {
    let mut t = add_partitions_to_txn_request::AddPartitionsToTxnTopic::default();
    t.name = topic(name);
    t.partitions = parts.to_vec();
    let mut req = AddPartitionsToTxnRequest::default();
    req.v3_and_below_transactional_id = TransactionalId(s(id));
    req.v3_and_below_producer_id = ProducerId(p.0);
    req.v3_and_below_producer_epoch = p.1;
    req.v3_and_below_topics.push(t);
    let r = c.call(req, 3).await;
    r.results_by_topic_v3_and_below[0]
        .results_by_partition
        .iter()
        .map(|x| x.partition_error_code)
        .collect()
}

async fn end(c: &mut Client, id: &str, p: (i64, i16), commit: bool) -> i16 {
    let mut req = EndTxnRequest::default();
    req.transactional_id = TransactionalId(s(id));
    req.producer_id = ProducerId(p.0);
    req.producer_epoch = p.1;
    req.committed = commit;
    c.call(req, 3).await.error_code
}

/// A transactional batch of `values` from producer `p` starting at sequence `seq`.
fn txn_batch(values: &[&str], p: (i64, i16), seq: i32, compression: Compression) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        producer_id: p.0,
        producer_epoch: p.1,
        base_sequence: seq,
        is_transactional: true,
        compression,
        ..BatchOptions::default()
    });
    for v in values {
        b.push(1_700_000_000_000, None, Some(v.as_bytes()), &[])
            .unwrap();
    }
    b.finish().unwrap()
}

/// Produce v9 carrying the transactional id; the partition's error code.
async fn produce_txn(c: &mut Client, id: &str, name: &str, partition: i32, records: Bytes) -> i16 {
    produce_txn_at(c, 9, id, name, partition, records).await
}

/// EndTxn v5 (transaction version 2): the code and the producer id and epoch to go on with.
async fn end_v5(c: &mut Client, id: &str, p: (i64, i16), commit: bool) -> (i16, (i64, i16)) {
    let mut req = EndTxnRequest::default();
    req.transactional_id = TransactionalId(s(id));
    req.producer_id = ProducerId(p.0);
    req.producer_epoch = p.1;
    req.committed = commit;
    let r = c.call(req, 5).await;
    (r.error_code, (r.producer_id.0, r.producer_epoch))
}

/// Produce at `version` carrying the transactional id; the partition's error code.
async fn produce_txn_at(
    c: &mut Client,
    version: i16,
    id: &str,
    name: &str,
    partition: i32,
    records: Bytes,
) -> i16 {
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = produce_request::TopicProduceData::default();
    td.name = topic(name);
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.transactional_id = Some(TransactionalId(s(id)));
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data.push(td);
    let resp = c.call(req, version).await;
    resp.responses[0].partition_responses[0].error_code
}

/// A fetch as a reader sees it: (LSO, aborted (producer id, first offset), (offset, value)).
type Fetched = (i64, Vec<(i64, i64)>, Vec<(i64, String)>);

/// A read_committed (or not) Fetch v12 from `offset`.
async fn fetch_iso(
    c: &mut Client,
    name: &str,
    partition: i32,
    offset: i64,
    committed: bool,
) -> Fetched {
    let mut req = fetch_request(name, partition, offset, 0, 0, 1 << 20);
    req.isolation_level = i8::from(committed);
    let resp = c.call(req, 12).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, NONE);
    let aborted: Vec<(i64, i64)> = p
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    let values = committed_values(p.records.clone().unwrap_or_default(), &aborted);
    (p.last_stable_offset, aborted, values)
}

/// What a read_committed consumer keeps of fetched batches: no control records, no records of
/// a transaction in `aborted` (from its first offset to its producer's next marker).
fn committed_values(records: Bytes, aborted: &[(i64, i64)]) -> Vec<(i64, String)> {
    let mut pending: Vec<(i64, i64)> = aborted.to_vec();
    pending.sort_by_key(|a| a.1);
    let mut dropping: Vec<i64> = Vec::new();
    let mut out = Vec::new();
    for batch in odradek::records::RecordBatches::new(records) {
        let batch = batch.unwrap();
        let h = batch.header;
        while let Some(&(pid, first)) = pending.first() {
            if first > h.last_offset() {
                break;
            }
            pending.remove(0);
            dropping.push(pid);
        }
        if h.is_control() {
            dropping.retain(|p| *p != h.producer_id);
            continue;
        }
        if h.is_transactional() && dropping.contains(&h.producer_id) {
            continue;
        }
        for r in batch.records().unwrap() {
            let r = r.unwrap();
            let v = r.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
            out.push((r.offset, v.unwrap_or_default()));
        }
    }
    out
}

async fn describe(c: &mut Client, id: &str) -> describe_transactions_response::TransactionState {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids.push(TransactionalId(s(id)));
    c.call(req, 0).await.transaction_states.remove(0)
}

/// Two producers interleave on one partition: A commits, B aborts. read_committed readers stop
/// at the last stable offset while B is open, then get B's range in the aborted list; the same
/// holds after a restart, and the producer epochs survive it.
#[tokio::test]
async fn read_committed_sees_commits_only_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let handle = start_in(dir.path(), "", FsyncPolicy::Always).await;
    let mut c = Client::connect(handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "t", 2, &[]).await, NONE);
    let (e, pa, ea) = init(&mut c, "a", 60_000).await;
    assert_eq!(e, NONE);
    let (e, pb, eb) = init(&mut c, "b", 60_000).await;
    assert_eq!(e, NONE);
    assert_ne!(pa, pb);
    let a = (pa, ea);
    let b = (pb, eb);
    assert_eq!(add(&mut c, "a", a, "t", &[0, 1]).await, vec![NONE, NONE]);
    assert_eq!(add(&mut c, "b", b, "t", &[0]).await, vec![NONE]);
    let a1 = txn_batch(&["a1", "a2"], a, 0, Compression::None);
    assert_eq!(produce_txn(&mut c, "a", "t", 0, a1).await, NONE);
    let b1 = txn_batch(&["b1", "b2", "b3"], b, 0, Compression::Lz4);
    assert_eq!(produce_txn(&mut c, "b", "t", 0, b1).await, NONE);
    let a2 = txn_batch(&["a3"], a, 2, Compression::Zstd);
    assert_eq!(produce_txn(&mut c, "a", "t", 0, a2).await, NONE);
    let a3 = txn_batch(&["a-p1"], a, 0, Compression::None);
    assert_eq!(produce_txn(&mut c, "a", "t", 1, a3).await, NONE);

    // Both open: nothing is stable.
    let (lso, _, values) = fetch_iso(&mut c, "t", 0, 0, true).await;
    assert_eq!(lso, 0);
    assert!(values.is_empty(), "{values:?}");
    let (_, _, all) = fetch_iso(&mut c, "t", 0, 0, false).await;
    assert_eq!(all.len(), 6, "read_uncommitted sees the open transactions");
    assert_eq!(
        describe(&mut c, "a").await.transaction_state.as_str(),
        "Ongoing"
    );

    assert_eq!(end(&mut c, "a", a, true).await, NONE);
    // A committed, B (from offset 2) still open: readers stop at 2.
    let (lso, _, values) = fetch_iso(&mut c, "t", 0, 0, true).await;
    assert_eq!(lso, 2);
    assert_eq!(values, vec![(0, "a1".into()), (1, "a2".into())]);
    let (_, _, p1) = fetch_iso(&mut c, "t", 1, 0, true).await;
    assert_eq!(p1, vec![(0, "a-p1".into())]);

    assert_eq!(end(&mut c, "b", b, false).await, NONE);
    let check = |(lso, aborted, values): Fetched| {
        // a1 a2 | b1 b2 b3 | a3 | commit(a) | abort(b): LSO = HW = 8.
        assert_eq!(lso, 8);
        assert_eq!(aborted, vec![(pb, 2)]);
        // b's records are dropped with the aborted list, control records skipped.
        let expected: Vec<(i64, String)> =
            vec![(0, "a1".into()), (1, "a2".into()), (5, "a3".into())];
        assert_eq!(values, expected);
    };
    check(fetch_iso(&mut c, "t", 0, 0, true).await);
    let (_, e, latest) = {
        let mut p = list_offsets_request::ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = -1;
        p.current_leader_epoch = -1;
        let mut t = list_offsets_request::ListOffsetsTopic::default();
        t.name = topic("t");
        t.partitions.push(p);
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.isolation_level = 1;
        req.topics.push(t);
        let r = c.call(req, 7).await;
        let p = &r.topics[0].partitions[0];
        ((), p.error_code, p.offset)
    };
    assert_eq!((e, latest), (NONE, 8));

    drop(c);
    handle.shutdown().await;
    let handle = start_in(dir.path(), "", FsyncPolicy::Always).await;
    let mut c = Client::connect(handle.local_addr()).await;
    check(fetch_iso(&mut c, "t", 0, 0, true).await);
    let st = describe(&mut c, "b").await;
    assert_eq!(st.transaction_state.as_str(), "CompleteAbort");
    assert_eq!((st.producer_id.0, st.producer_epoch), b);
    // The next producer of "a" gets the next epoch; a zombie write at the old one is refused.
    let (e, pa2, ea2) = init(&mut c, "a", 60_000).await;
    assert_eq!((e, pa2, ea2), (NONE, pa, ea + 1));
    let zombie = txn_batch(&["z"], a, 3, Compression::None);
    assert_eq!(
        produce_txn(&mut c, "a", "t", 0, zombie).await,
        INVALID_PRODUCER_EPOCH
    );
    handle.shutdown().await;
}

/// A second producer with the same transactional id fences the first: its open transaction
/// is aborted, and none of its later writes or commits get through.
#[tokio::test]
async fn zombie_is_fenced() {
    let b = start().await;
    let mut c = client(&b).await;
    assert_eq!(create_topic(&mut c, "z", 1, &[]).await, NONE);
    let (_, pid, epoch) = init(&mut c, "app", 60_000).await;
    let old = (pid, epoch);
    assert_eq!(add(&mut c, "app", old, "z", &[0]).await, vec![NONE]);
    let first = txn_batch(&["zombie-1"], old, 0, Compression::None);
    assert_eq!(produce_txn(&mut c, "app", "z", 0, first).await, NONE);

    let (e, pid2, epoch2) = init(&mut c, "app", 60_000).await;
    assert_eq!((e, pid2), (NONE, pid));
    assert!(epoch2 > epoch);
    let new = (pid2, epoch2);

    let late = txn_batch(&["zombie-2"], old, 1, Compression::None);
    assert_ne!(produce_txn(&mut c, "app", "z", 0, late).await, NONE);
    assert_eq!(
        add(&mut c, "app", old, "z", &[0]).await,
        vec![PRODUCER_FENCED]
    );
    assert_eq!(end(&mut c, "app", old, true).await, PRODUCER_FENCED);

    assert_eq!(add(&mut c, "app", new, "z", &[0]).await, vec![NONE]);
    let good = txn_batch(&["new-1"], new, 0, Compression::None);
    assert_eq!(produce_txn(&mut c, "app", "z", 0, good).await, NONE);
    assert_eq!(end(&mut c, "app", new, true).await, NONE);
    let (_, aborted, values) = fetch_iso(&mut c, "z", 0, 0, true).await;
    // The zombie's record is in an aborted transaction; the reader drops it.
    assert_eq!(aborted, vec![(pid, 0)]);
    let visible: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(visible, vec!["new-1"]);
}

async fn fetch_committed(c: &mut Client, group: &str, name: &str) -> i64 {
    let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
    t.name = topic(name);
    t.partition_indexes = vec![0];
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(s(group));
    req.topics = Some(vec![t]);
    c.call(req, 7).await.topics[0].partitions[0].committed_offset
}

/// Offsets sent with a transaction are invisible until it commits, and gone if it aborts.
#[tokio::test]
async fn transaction_offsets_visible_only_after_commit() {
    let b = start().await;
    let mut c = client(&b).await;
    assert_eq!(create_topic(&mut c, "in", 1, &[]).await, NONE);
    let (_, pid, epoch) = init(&mut c, "eos", 60_000).await;
    let p = (pid, epoch);
    for (commit, offset) in [(false, 10), (true, 20)] {
        let mut req = AddOffsetsToTxnRequest::default();
        req.transactional_id = TransactionalId(s("eos"));
        req.producer_id = ProducerId(pid);
        req.producer_epoch = epoch;
        req.group_id = GroupId(s("g"));
        assert_eq!(c.call(req, 3).await.error_code, NONE);
        let mut part = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default();
        part.partition_index = 0;
        part.committed_offset = offset;
        part.committed_leader_epoch = -1;
        let mut t = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default();
        t.name = topic("in");
        t.partitions.push(part);
        let mut req = TxnOffsetCommitRequest::default();
        req.transactional_id = TransactionalId(s("eos"));
        req.group_id = GroupId(s("g"));
        req.producer_id = ProducerId(pid);
        req.producer_epoch = epoch;
        req.generation_id = -1;
        req.topics.push(t);
        let r = c.call(req, 3).await;
        assert_eq!(r.topics[0].partitions[0].error_code, NONE);
        // Pending in the transaction: not committed yet, and unstable for a reader that asks.
        assert_eq!(fetch_committed(&mut c, "g", "in").await, -1);
        let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
        t.name = topic("in");
        t.partition_indexes = vec![0];
        let mut req = OffsetFetchRequest::default();
        req.group_id = GroupId(s("g"));
        req.topics = Some(vec![t]);
        req.require_stable = true;
        let r = c.call(req, 7).await;
        assert_eq!(r.topics[0].partitions[0].error_code, UNSTABLE_OFFSET_COMMIT);
        assert_eq!(end(&mut c, "eos", p, commit).await, NONE);
        let expected = if commit { offset } else { -1 };
        assert_eq!(fetch_committed(&mut c, "g", "in").await, expected);
    }
}

/// An open transaction past its timeout is aborted by the coordinator with an epoch bump: its
/// producer is fenced and nothing of it becomes visible.
#[tokio::test]
async fn timed_out_transaction_is_aborted_and_fenced() {
    let b = start_with(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=100",
        FsyncPolicy::Interval,
    )
    .await;
    let mut c = client(&b).await;
    assert_eq!(create_topic(&mut c, "slow", 1, &[]).await, NONE);
    let (_, pid, epoch) = init(&mut c, "slow", 300).await;
    let p = (pid, epoch);
    assert_eq!(add(&mut c, "slow", p, "slow", &[0]).await, vec![NONE]);
    let batch = txn_batch(&["late"], p, 0, Compression::None);
    assert_eq!(produce_txn(&mut c, "slow", "slow", 0, batch).await, NONE);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let st = describe(&mut c, "slow").await;
        if st.transaction_state.as_str() == "CompleteAbort" {
            assert_eq!(st.producer_epoch, epoch + 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never aborted: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(end(&mut c, "slow", p, true).await, PRODUCER_FENCED);
    let (lso, aborted, _) = fetch_iso(&mut c, "slow", 0, 0, true).await;
    assert_eq!(lso, 2);
    assert_eq!(aborted, vec![(pid, 0)]);
}

/// Transaction version 2 (KIP-890), finalized by default: ApiVersions says so; Produce v12
/// adds its partition; EndTxn v5 bumps the epoch on commit and abort (also of an empty
/// transaction) and answers a retry with the bumped one; a batch of the finished epoch is
/// refused; AddPartitionsToTxn v5 verification answers TRANSACTION_ABORTABLE. With the feature
/// at 1 the same EndTxn v5 keeps the epoch and Produce v12 adds nothing.
#[tokio::test]
async fn transaction_version_2() {
    let b = start().await;
    let mut c = client(&b).await;
    let v = c.call(ApiVersionsRequest::default(), 3).await;
    let f = &v.finalized_features;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].name.as_str(), f[0].max_version_level),
        ("transaction.version", 2)
    );
    assert_eq!(create_topic(&mut c, "tv2", 2, &[]).await, NONE);
    let (_, pid, e0) = init(&mut c, "tv2", 60_000).await;
    let batch = txn_batch(&["a", "b"], (pid, e0), 0, Compression::None);
    // Produce v11 is version 1: the partition must have been added first.
    let old = produce_txn_at(&mut c, 11, "tv2", "tv2", 0, batch.clone()).await;
    assert_eq!(old, INVALID_TXN_STATE);
    assert_eq!(
        produce_txn_at(&mut c, 12, "tv2", "tv2", 0, batch).await,
        NONE
    );
    assert_eq!(
        end_v5(&mut c, "tv2", (pid, e0), true).await,
        (NONE, (pid, e0 + 1))
    );
    // The retry of that EndTxn (its answer lost) gets the same answer.
    assert_eq!(
        end_v5(&mut c, "tv2", (pid, e0), true).await,
        (NONE, (pid, e0 + 1))
    );
    // A straggler of the committed transaction is refused by epoch.
    let late = txn_batch(&["late"], (pid, e0), 2, Compression::None);
    let code = produce_txn_at(&mut c, 12, "tv2", "tv2", 0, late).await;
    assert_eq!(code, INVALID_PRODUCER_EPOCH);
    // The next transaction runs under the bumped epoch, sequences from 0; it aborts.
    let next = txn_batch(&["x"], (pid, e0 + 1), 0, Compression::None);
    assert_eq!(
        produce_txn_at(&mut c, 12, "tv2", "tv2", 1, next).await,
        NONE
    );
    assert_eq!(
        end_v5(&mut c, "tv2", (pid, e0 + 1), false).await,
        (NONE, (pid, e0 + 2))
    );
    // An abort with nothing in the transaction bumps too; a commit of nothing is refused.
    assert_eq!(
        end_v5(&mut c, "tv2", (pid, e0 + 2), false).await,
        (NONE, (pid, e0 + 3))
    );
    assert_eq!(
        end_v5(&mut c, "tv2", (pid, e0 + 3), true).await.0,
        INVALID_TXN_STATE
    );
    assert_eq!(
        end_v5(&mut c, "tv2", (pid, e0 + 1), true).await.0,
        PRODUCER_FENCED
    );
    // Verification (the partition leader's question) of a partition outside the transaction.
    let mut t = add_partitions_to_txn_request::AddPartitionsToTxnTopic::default();
    t.name = topic("tv2");
    t.partitions = vec![0];
    let mut txn = add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default();
    txn.transactional_id = TransactionalId(s("tv2"));
    txn.producer_id = ProducerId(pid);
    txn.producer_epoch = e0 + 3;
    txn.verify_only = true;
    txn.topics.push(t);
    let mut req = AddPartitionsToTxnRequest::default();
    req.transactions.push(txn);
    let r = c.call(req, 5).await;
    let code =
        r.results_by_transaction[0].topic_results[0].results_by_partition[0].partition_error_code;
    assert_eq!(code, TRANSACTION_ABORTABLE);
    let (lso, aborted, values) = fetch_iso(&mut c, "tv2", 0, 0, true).await;
    assert_eq!((lso, aborted), (3, vec![]));
    assert_eq!(values, vec![(0, "a".to_string()), (1, "b".to_string())]);
    let (_, aborted, values) = fetch_iso(&mut c, "tv2", 1, 0, true).await;
    assert_eq!((aborted, values), (vec![(pid, 0)], vec![]));

    let b1 = start_with("transaction.version=1", FsyncPolicy::Interval).await;
    let mut c = client(&b1).await;
    let v = c.call(ApiVersionsRequest::default(), 3).await;
    assert_eq!(v.finalized_features[0].max_version_level, 1);
    assert_eq!(create_topic(&mut c, "tv1", 1, &[]).await, NONE);
    let (_, pid, e0) = init(&mut c, "tv1", 60_000).await;
    let batch = txn_batch(&["a"], (pid, e0), 0, Compression::None);
    let code = produce_txn_at(&mut c, 12, "tv1", "tv1", 0, batch).await;
    assert_eq!(code, INVALID_TXN_STATE);
    assert_eq!(add(&mut c, "tv1", (pid, e0), "tv1", &[0]).await, vec![NONE]);
    let batch = txn_batch(&["a"], (pid, e0), 0, Compression::None);
    assert_eq!(
        produce_txn_at(&mut c, 12, "tv1", "tv1", 0, batch).await,
        NONE
    );
    assert_eq!(
        end_v5(&mut c, "tv1", (pid, e0), true).await,
        (NONE, (pid, e0))
    );
}

/// `transactional.id.expiration.ms`: an id with no transaction open and idle past it is
/// forgotten (also across a restart) and a new InitProducerId starts it over with a new
/// producer id; an id with an open transaction is kept (its timeout ends it first).
#[tokio::test]
async fn idle_transactional_id_expires() {
    const PROPS: &str = "transactional.id.expiration.ms=300\n\
        transaction.remove.expired.transaction.cleanup.interval.ms=50";
    let dir = tempfile::tempdir().unwrap();
    let handle = start_in(dir.path(), PROPS, FsyncPolicy::Interval).await;
    let mut c = Client::connect(handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "exp", 1, &[]).await, NONE);
    let (_, idle_pid, _) = init(&mut c, "idle", 60_000).await;
    let (_, pid, epoch) = init(&mut c, "open", 60_000).await;
    assert_eq!(
        add(&mut c, "open", (pid, epoch), "exp", &[0]).await,
        vec![NONE]
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while describe(&mut c, "idle").await.error_code != TRANSACTIONAL_ID_NOT_FOUND {
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open = describe(&mut c, "open").await;
    assert_eq!(open.transaction_state.as_str(), "Ongoing");
    drop(c);
    handle.shutdown().await;
    let handle = start_in(dir.path(), PROPS, FsyncPolicy::Interval).await;
    let mut c = Client::connect(handle.local_addr()).await;
    let idle = describe(&mut c, "idle").await;
    assert_eq!(idle.error_code, TRANSACTIONAL_ID_NOT_FOUND);
    let (e, new_pid, new_epoch) = init(&mut c, "idle", 60_000).await;
    assert_eq!(e, NONE);
    assert_ne!(new_pid, idle_pid);
    assert_eq!(new_epoch, 0);
    handle.shutdown().await;
}

/// Requests that break the protocol's rules get Kafka's error codes and change nothing.
#[tokio::test]
async fn bad_input_gets_kafka_error_codes() {
    let b = start().await;
    let mut c = client(&b).await;
    assert_eq!(create_topic(&mut c, "bad", 2, &[]).await, NONE);
    // EndTxn for a transactional id nobody initialised.
    assert_eq!(
        end(&mut c, "nobody", (5, 0), true).await,
        INVALID_PRODUCER_ID_MAPPING
    );
    // A timeout above transaction.max.timeout.ms (900000), or none.
    assert_eq!(
        init(&mut c, "x", 900_001).await.0,
        INVALID_TRANSACTION_TIMEOUT
    );
    assert_eq!(init(&mut c, "x", 0).await.0, INVALID_TRANSACTION_TIMEOUT);
    let (_, pid, e0) = init(&mut c, "x", 60_000).await;
    let (_, _, e1) = init(&mut c, "x", 60_000).await;
    assert_eq!(e1, e0 + 1);
    // An epoch from the past; a producer id that is not the transactional id's.
    assert_eq!(end(&mut c, "x", (pid, e0), false).await, PRODUCER_FENCED);
    assert_eq!(
        add(&mut c, "x", (pid, e0), "bad", &[0]).await,
        vec![PRODUCER_FENCED]
    );
    assert_eq!(
        add(&mut c, "x", (pid + 1000, e1), "bad", &[0]).await,
        vec![INVALID_PRODUCER_ID_MAPPING]
    );
    // Ending a transaction that never began.
    assert_eq!(end(&mut c, "x", (pid, e1), true).await, INVALID_TXN_STATE);
    // A transactional batch into a partition the transaction did not add.
    assert_eq!(add(&mut c, "x", (pid, e1), "bad", &[0]).await, vec![NONE]);
    let stray = txn_batch(&["stray"], (pid, e1), 0, Compression::None);
    assert_eq!(
        produce_txn(&mut c, "x", "bad", 1, stray).await,
        INVALID_TXN_STATE
    );
    // Adding a partition that does not exist: nothing of the request is applied.
    let codes = add(&mut c, "x", (pid, e1), "bad", &[1, 7]).await;
    assert_eq!(codes, vec![55, 3]); // OPERATION_NOT_ATTEMPTED, UNKNOWN_TOPIC_OR_PARTITION
    let st = describe(&mut c, "x").await;
    assert_eq!(st.topics[0].partitions, vec![0]);
    // Markers for a producer whose transaction this coordinator runs: not from outside.
    let mut t = write_txn_markers_request::WritableTxnMarkerTopic::default();
    t.name = topic("bad");
    t.partition_indexes = vec![0];
    let mut m = write_txn_markers_request::WritableTxnMarker::default();
    m.producer_id = ProducerId(pid);
    m.producer_epoch = e1;
    m.transaction_result = true;
    m.coordinator_epoch = 0;
    m.topics.push(t);
    let mut req = WriteTxnMarkersRequest::default();
    req.markers.push(m);
    let r = c.call(req, 1).await;
    assert_eq!(
        r.markers[0].topics[0].partitions[0].error_code,
        TRANSACTION_COORDINATOR_FENCED
    );
    assert_eq!(
        describe(&mut c, "nobody").await.error_code,
        TRANSACTIONAL_ID_NOT_FOUND
    );
    // ListTransactions filters by state.
    let mut req = ListTransactionsRequest::default();
    req.state_filters.push(s("Ongoing"));
    req.duration_filter = -1;
    let r = c.call(req, 1).await;
    let ids: Vec<&str> = r
        .transaction_states
        .iter()
        .map(|t| t.transactional_id.as_str())
        .collect();
    assert_eq!(ids, vec!["x"]);
}

/// With an authorizer, transactional ids are resources: WRITE on the id to initialise it and
/// run transactions, CLUSTER_ACTION to write markers from outside, DESCRIBE to see it.
#[tokio::test]
async fn acls_guard_transactional_ids() {
    const PROPS: &str = "listeners=SASL_PLAINTEXT://127.0.0.1:0
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-pw\" user_alice=\"alice-pw\";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
";
    let dir = tempfile::tempdir().unwrap();
    let b = start_in(dir.path(), PROPS, FsyncPolicy::Never).await;
    let addr = b.local_addr();
    let mut admin = login_plain(addr, "admin").await;
    assert_eq!(create_topic(&mut admin, "t", 1, &[]).await, NONE);
    let mut alice = login_plain(addr, "alice").await;
    assert_eq!(init(&mut alice, "app", 60_000).await.0, 53);

    let allow = |resource_type: i8, name: &str, operation: i8| {
        let mut a = create_acls_request::AclCreation::default();
        a.resource_type = resource_type;
        a.resource_name = s(name);
        a.resource_pattern_type = 3; // LITERAL
        a.principal = s("User:alice");
        a.host = s("*");
        a.operation = operation;
        a.permission_type = 3; // ALLOW
        a
    };
    let mut req = CreateAclsRequest::default();
    req.creations.push(allow(5, "app", 4)); // TRANSACTIONAL_ID app: WRITE
    let r = admin.call(req, 3).await;
    assert_eq!(r.results[0].error_code, NONE);
    let (e, pid, epoch) = init(&mut alice, "app", 60_000).await;
    assert_eq!(e, NONE);
    // No WRITE on the topic yet.
    assert_eq!(
        add(&mut alice, "app", (pid, epoch), "t", &[0]).await,
        vec![29]
    );
    let mut req = CreateAclsRequest::default();
    req.creations.push(allow(2, "t", 4)); // TOPIC t: WRITE
    assert_eq!(admin.call(req, 3).await.results[0].error_code, NONE);
    assert_eq!(
        add(&mut alice, "app", (pid, epoch), "t", &[0]).await,
        vec![NONE]
    );
    let one = txn_batch(&["x"], (pid, epoch), 0, Compression::None);
    assert_eq!(produce_txn(&mut alice, "app", "t", 0, one).await, NONE);
    // Not another id, and no markers from a client without CLUSTER_ACTION.
    assert_eq!(init(&mut alice, "other", 60_000).await.0, 53);
    let mut t = write_txn_markers_request::WritableTxnMarkerTopic::default();
    t.name = topic("t");
    t.partition_indexes = vec![0];
    let mut m = write_txn_markers_request::WritableTxnMarker::default();
    m.producer_id = ProducerId(pid);
    m.producer_epoch = epoch;
    m.topics.push(t);
    let mut req = WriteTxnMarkersRequest::default();
    req.markers.push(m);
    let r = alice.call(req, 1).await;
    assert_eq!(r.markers[0].topics[0].partitions[0].error_code, 31);
    assert_eq!(end(&mut alice, "app", (pid, epoch), true).await, NONE);
    b.shutdown().await;
}
