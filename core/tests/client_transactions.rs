//! Our transactional producer and read_committed consumer, against Apache Kafka 4.3.1 and our
//! broker: committed and aborted transactions over two partitions (read_committed gets exactly
//! the committed records, read_uncommitted all of them), offsets committed with a transaction
//! only when it commits, zombie fencing (fatal error class), and misuse errors. Each runs under
//! the transaction version the broker finalized: 2 (KIP-890: an epoch bump per transaction,
//! partitions and groups added by Produce and TxnOffsetCommit) on Apache Kafka 4.3.1 and our
//! broker by default, and 1's protocol against our broker with `transaction.version=1`.

mod client_support;

use std::collections::BTreeMap;
use std::time::Duration;

use client_support::{TestCluster, topic};
use odradek::admin::{Admin, NewTopic};
use odradek::config::{ClientConfig, Config};
use odradek::consumer::{Consumer, ConsumerRecord, Offset};
use odradek::error::ErrorClass;
use odradek::net::{CLIENT_SUPPORTED, ConnectOptions, Connection};
use odradek::producer::{ConsumerGroupMetadata, Producer, ProducerRecord};
use odradek::protocol::StrBytes;
use odradek::protocol::messages::{DescribeTransactionsRequest, TransactionalId};

fn producer(bootstrap: &str, txn_id: &str) -> Producer {
    let mut c = Config::new();
    c.set("bootstrap.servers", bootstrap).unwrap();
    c.set("transactional.id", txn_id).unwrap();
    c.set("linger.ms", "2").unwrap();
    c.set("compression.type", "lz4").unwrap();
    Producer::new(c.producer().unwrap()).unwrap()
}

fn consumer(bootstrap: &str, isolation: &str) -> Consumer {
    let mut c = Config::new();
    c.set("bootstrap.servers", bootstrap).unwrap();
    c.set("isolation.level", isolation).unwrap();
    c.set("auto.offset.reset", "earliest").unwrap();
    Consumer::new(c.consumer().unwrap()).unwrap()
}

/// Reads exactly `n` records (a read_committed reader that returned an aborted record would
/// return it among these: the last transaction is a committed one).
async fn read_n(c: &Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(60), c.recv_batch(n - out.len()))
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} records within 60 s", out.len()))
            .unwrap();
        out.extend(batch);
    }
    out
}

fn values_by_partition(records: &[ConsumerRecord]) -> BTreeMap<i32, Vec<String>> {
    let mut out: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for r in records {
        let v = String::from_utf8(r.value.clone().unwrap_or_default().to_vec()).unwrap();
        out.entry(r.partition).or_default().push(v);
    }
    out
}

async fn scenarios(bootstrap: String) {
    let admin = Admin::new(ClientConfig::new(&bootstrap).unwrap());
    let t = topic("txn");
    admin.create_topics(&[NewTopic::new(&t, 2)]).await.unwrap();

    // Misuse: no transactional.id; send before begin.
    let plain = Producer::new(
        Config::new()
            .with("bootstrap.servers", &bootstrap)
            .unwrap()
            .producer()
            .unwrap(),
    )
    .unwrap();
    assert!(plain.begin_transaction().is_err());
    let p = producer(&bootstrap, &topic("app"));
    assert!(p.begin_transaction().is_err(), "begin before init");
    p.init_transactions().await.unwrap();
    let early = p.send(ProducerRecord::new(&t).value(b"x")).await;
    assert!(early.is_err(), "send outside a transaction");

    // commit, abort, commit: interleaved in both partitions.
    let mut expected: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut all = 0;
    for (round, commit) in [(0, true), (1, false), (2, true)] {
        p.begin_transaction().unwrap();
        let mut futures = Vec::new();
        for i in 0..60 {
            let partition = i % 2;
            let v = format!("r{round}-{i}");
            futures.push(
                p.send(
                    ProducerRecord::new(&t)
                        .partition(partition)
                        .value(v.as_bytes()),
                ),
            );
            if commit {
                expected.entry(partition).or_default().push(v);
            }
            all += 1;
        }
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
        for f in futures {
            f.await.unwrap();
        }
    }
    let committed: usize = expected.values().map(Vec::len).sum();
    let c = consumer(&bootstrap, "read_committed");
    c.assign(&[(&t, 0, Offset::Beginning), (&t, 1, Offset::Beginning)])
        .unwrap();
    let got = read_n(&c, committed).await;
    assert_eq!(values_by_partition(&got), expected);
    let u = consumer(&bootstrap, "read_uncommitted");
    u.assign(&[(&t, 0, Offset::Beginning), (&t, 1, Offset::Beginning)])
        .unwrap();
    assert_eq!(read_n(&u, all).await.len(), all);

    // A record that fails before it is sent (no such partition): the commit is refused with an
    // abortable error, the abort works, and the producer goes on.
    p.begin_transaction().unwrap();
    let bad = p.send(ProducerRecord::new(&t).partition(99).value(b"bad"));
    assert!(bad.await.is_err());
    let err = p.commit_transaction().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Abortable, "{err}");
    p.abort_transaction().await.unwrap();

    // Offsets go with the transaction: only a commit stores them.
    let group = topic("g");
    let meta = ConsumerGroupMetadata::new(&group);
    for (offset, commit) in [(5, false), (7, true)] {
        p.begin_transaction().unwrap();
        let sent = p.send(ProducerRecord::new(&t).partition(0).value(b"o"));
        p.send_offsets_to_transaction(&[(t.clone(), 0, offset)], &meta)
            .await
            .unwrap();
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
        sent.await.unwrap();
        // Apache Kafka answers EndTxn before its markers reach the offsets topic: the commit
        // becomes visible a moment later.
        let want = commit.then_some(offset);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let stored = admin.list_group_offsets(&group).await.unwrap();
            let got = stored.get(&(t.clone(), 0)).copied();
            if got == want || std::time::Instant::now() > deadline {
                assert_eq!(got, want, "commit={commit}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Zombie fencing: a second producer with the same id fences the first for good.
    let id = topic("zombie");
    let old = producer(&bootstrap, &id);
    old.init_transactions().await.unwrap();
    old.begin_transaction().unwrap();
    old.send(ProducerRecord::new(&t).partition(1).value(b"zombie"))
        .await
        .unwrap();
    let new = producer(&bootstrap, &id);
    new.init_transactions().await.unwrap();
    let err = old.commit_transaction().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Fatal, "{err}");
    let again = old.begin_transaction().unwrap_err();
    assert_eq!(again.class(), ErrorClass::Fatal, "{again}");
    new.begin_transaction().unwrap();
    let fresh = new.send(ProducerRecord::new(&t).partition(1).value(b"fresh"));
    new.commit_transaction().await.unwrap();
    fresh.await.unwrap();
    let c = consumer(&bootstrap, "read_committed");
    c.assign(&[(&t, 1, Offset::Beginning)]).unwrap();
    let n = expected[&1].len() + 1;
    let tail: Vec<String> = values_by_partition(&read_n(&c, n).await)[&1]
        .iter()
        .skip(n - 1)
        .cloned()
        .collect();
    assert_eq!(tail, vec!["fresh".to_string()]);
}

/// The (producer id, epoch) the coordinator holds for `id` (DescribeTransactions).
async fn coordinator_epoch(conn: &Connection, id: &str) -> (i64, i16) {
    let r = conn
        .request(
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(
                StrBytes::from_string(id.to_string()),
            )]),
        )
        .await
        .unwrap();
    let st = &r.transaction_states[0];
    assert_eq!(st.error_code, 0, "DescribeTransactions of {id}");
    (st.producer_id.0, st.producer_epoch)
}

/// The finalized `transaction.version` is `level`, and the producer follows it: under 2 every
/// commit and abort bumps the epoch (and a transaction of offsets alone commits them, the group
/// added by TxnOffsetCommit v5); under 1 the epoch stays.
async fn version_scenario(bootstrap: String, level: i16) {
    let options = ConnectOptions {
        client_id: "txn-version".into(),
        setup_timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
        supported: CLIENT_SUPPORTED,
        security: Default::default(),
    };
    let conn = Connection::connect(&bootstrap, &options).await.unwrap();
    assert_eq!(conn.finalized_level("transaction.version"), level);
    let admin = Admin::new(ClientConfig::new(&bootstrap).unwrap());
    let t = topic("txnv");
    admin.create_topics(&[NewTopic::new(&t, 1)]).await.unwrap();
    let id = topic("txnv-id");
    let p = producer(&bootstrap, &id);
    p.init_transactions().await.unwrap();
    let (pid, first) = coordinator_epoch(&conn, &id).await;
    for commit in [true, false, true] {
        p.begin_transaction().unwrap();
        let sent = p.send(ProducerRecord::new(&t).value(b"v"));
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
        let _ = sent.await;
    }
    let group = topic("gv");
    p.begin_transaction().unwrap();
    p.send_offsets_to_transaction(&[(t.clone(), 0, 3)], &ConsumerGroupMetadata::new(&group))
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
    let bumps = if level >= 2 { 4 } else { 0 };
    assert_eq!(
        coordinator_epoch(&conn, &id).await,
        (pid, first + bumps),
        "transaction.version {level}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = admin.list_group_offsets(&group).await.unwrap();
        let got = got.get(&(t.clone(), 0)).copied();
        if got == Some(3) || std::time::Instant::now() > deadline {
            assert_eq!(got, Some(3), "offsets of an offsets-only transaction");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = consumer(&bootstrap, "read_committed");
    c.assign(&[(&t, 0, Offset::Beginning)]).unwrap();
    assert_eq!(read_n(&c, 2).await.len(), 2);
}

fn run(cluster: &TestCluster, level: i16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    eprintln!(
        "[{}] transactions, transaction.version {level}",
        cluster.kind
    );
    rt.block_on(version_scenario(cluster.bootstrap.clone(), level));
    rt.block_on(scenarios(cluster.bootstrap.clone()));
}

#[test]
fn transactions_on_odradek_broker() {
    run(&TestCluster::odradek(), 2);
}

#[test]
fn transactions_on_odradek_broker_version1() {
    run(
        &TestCluster::odradek_with(&[("transaction.version", "1")]),
        1,
    );
}

#[test]
fn transactions_on_apache_kafka() {
    // Kafka 4.3.1 finalizes transaction.version 2 on a freshly formatted cluster.
    run(&TestCluster::apache_kafka(), 2);
}
