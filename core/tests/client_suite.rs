//! The client suite: the same scenarios run against Apache Kafka 4.3.1 and against our broker.
//! Each cluster is started once per suite run (starting a JVM per scenario would dominate CI).

mod client_support;

use std::sync::Arc;

use client_support::{TestCluster, topic};
use odradek::admin::{Admin, AlterConfigOp, ConfigResource, NewTopic};
use odradek::cluster::Cluster;
use odradek::cluster::offsets::{EARLIEST, LATEST};
use odradek::compression::Compression;
use odradek::config::{ClientConfig, Config};
use odradek::consumer::{Consumer, ConsumerRecord, Offset};
use odradek::error::{ErrorClass, ErrorKind};
use odradek::group::GroupConsumer;
use odradek::producer::partitioner::murmur2_partition;
use odradek::producer::{Producer, ProducerRecord};
use odradek::records::RecordHeader;

type Scenario = fn(&TestCluster) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// A table entry per scenario: its name and the async fn run with the cluster's bootstrap.
macro_rules! scenario_table {
    ($($name:literal => $run:ident),* $(,)?) => {
        vec![$(($name, (|c: &TestCluster| Box::pin($run(c.bootstrap.clone())) as _) as Scenario)),*]
    };
}

fn scenarios() -> Vec<(&'static str, Scenario)> {
    scenario_table![
        "metadata_and_pipelining" => metadata_and_pipelining,
        "produce_many_every_send_resolves_once" => produce_many,
        "admin_topics_configs_offsets" => admin_scenario,
        "roundtrip_every_codec" => roundtrip_every_codec,
        "consumer_seek_pause_times_watermarks" => consumer_positions,
        "acks_0_and_1" => acks_levels,
        "queue_full_fails_fast_and_every_send_resolves" => queue_full,
        "unknown_topic_is_an_error" => unknown_topic,
        "record_too_large_is_permanent" => record_too_large,
        "refused_commit_fails_fast" => refused_commit_fails_fast,
    ]
}

fn run_suite(cluster: &TestCluster) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, scenario) in scenarios() {
        eprintln!("[{}] {name}", cluster.kind);
        rt.block_on(scenario(cluster));
    }
}

#[test]
fn suite_on_odradek_broker() {
    let cluster = TestCluster::odradek();
    run_suite(&cluster);
}

#[test]
fn suite_on_apache_kafka() {
    let cluster = TestCluster::apache_kafka();
    run_suite(&cluster);
}

async fn metadata_and_pipelining(bootstrap: String) {
    // A dead bootstrap server first: the client must move on to the live one.
    let config = ClientConfig::new(&format!("127.0.0.1:1,{bootstrap}")).unwrap();
    let cluster = Cluster::new(config);
    let t = topic("meta");
    let info = cluster.topic(&t).await.expect("auto-created topic");
    assert_eq!(info.partitions.len(), 1);
    let md = cluster.metadata();
    assert_eq!(md.brokers.len(), 1);
    assert!(md.leader(&t, 0).is_some());
    // 200 pipelined metadata requests on one connection, all answered.
    let conn = cluster
        .connection(*md.brokers.keys().next().unwrap())
        .await
        .unwrap();
    let req = odradek::protocol::messages::MetadataRequest::default().with_topics(Some(vec![]));
    let futs: Vec<_> = (0..200).map(|_| conn.request(&req)).collect();
    for r in futures::future::join_all(futs).await {
        assert_eq!(r.unwrap().brokers.len(), 1);
    }
    assert_eq!(conn.pending_requests(), 0);
    let _ = Arc::strong_count(&conn);
}

fn producer_config(bootstrap: &str, extra: &[(&str, &str)]) -> odradek::config::ProducerConfig {
    let mut config = Config::new();
    config.set("bootstrap.servers", bootstrap).unwrap();
    for (k, v) in extra {
        config.set(k, v).unwrap();
    }
    config.producer().unwrap()
}

async fn produce_many(bootstrap: String) {
    let t = topic("produce");
    let producer = Producer::new(producer_config(&bootstrap, &[("linger.ms", "2")])).unwrap();
    let started = std::time::Instant::now();
    producer
        .send(ProducerRecord::new(&t).value(b"first"))
        .await
        .unwrap();
    eprintln!("first record after {:?}", started.elapsed());
    let mut futures = Vec::new();
    for i in 0..20_000u32 {
        let key = format!("key-{}", i % 100);
        let value = format!("value-{i}");
        futures.push(
            producer.send(
                ProducerRecord::new(&t)
                    .key(key.as_bytes())
                    .value(value.as_bytes()),
            ),
        );
    }
    producer.flush().await.unwrap();
    eprintln!("20k records after {:?}", started.elapsed());
    let mut offsets = Vec::new();
    for f in futures {
        let report = f.await.expect("delivered");
        assert_eq!(report.partition, 0);
        offsets.push(report.offset);
    }
    // One partition: offsets are exactly 0..n in send order.
    assert_eq!(offsets, (1..20_001).collect::<Vec<i64>>());
    let m = producer.metrics();
    assert_eq!(m.records_delivered, 20_001);
    assert_eq!(m.queue_records, 0);
    assert!(m.to_json().contains("records_delivered"));
    producer.close().await.unwrap();
}

fn consumer_config(bootstrap: &str, extra: &[(&str, &str)]) -> odradek::config::ConsumerConfig {
    let mut config = Config::new();
    config.set("bootstrap.servers", bootstrap).unwrap();
    for (k, v) in extra {
        config.set(k, v).unwrap();
    }
    config.consumer().unwrap()
}

fn admin(bootstrap: &str) -> Admin {
    Admin::new(ClientConfig::new(bootstrap).unwrap())
}

/// Reads exactly `n` records from the assigned partitions.
async fn read_n(consumer: &Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            consumer.recv_batch(n - out.len()),
        )
        .await
        .unwrap_or_else(|_| {
            let positions: Vec<_> = consumer
                .assignment()
                .iter()
                .map(|(t, p)| {
                    (
                        t.clone(),
                        *p,
                        consumer.position(t, *p),
                        consumer.cached_watermarks(t, *p),
                    )
                })
                .collect();
            panic!(
                "only {} of {n} records arrived; positions {positions:?}; buffered {} bytes",
                out.len(),
                consumer.buffered_bytes()
            )
        })
        .expect("consume");
        out.extend(batch);
    }
    out
}

async fn admin_scenario(bootstrap: String) {
    let admin = admin(&bootstrap);
    let t = topic("admin");
    admin
        .create_topics(&[NewTopic::new(&t, 3).config("retention.ms", "3600000")])
        .await
        .unwrap();
    let err = admin
        .create_topics(&[NewTopic::new(&t, 3)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(36), "TOPIC_ALREADY_EXISTS: {err}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    let cluster = admin.describe_cluster().await.unwrap();
    assert_eq!(cluster.brokers.len(), 1);
    assert!(!cluster.cluster_id.is_empty());
    // A fresh admin whose first call names a broker: it loads metadata to find its address.
    let broker = ConfigResource::Broker(cluster.brokers[0].id);
    let configs = self::admin(&bootstrap)
        .describe_configs(&broker, None)
        .await
        .expect("describe a broker's configs as the first call");
    assert!(!configs.is_empty());
    let configs = admin
        .describe_configs(&ConfigResource::Topic(t.clone()), Some(&["retention.ms"]))
        .await
        .unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].value.as_deref(), Some("3600000"));
    admin
        .alter_configs(
            &ConfigResource::Topic(t.clone()),
            &[AlterConfigOp::Set("retention.ms".into(), "7200000".into())],
        )
        .await
        .unwrap();
    // Config changes propagate asynchronously in KRaft: wait until the broker shows the change.
    loop {
        let configs = admin
            .describe_configs(&ConfigResource::Topic(t.clone()), Some(&["retention.ms"]))
            .await
            .unwrap();
        match configs[0].value.as_deref() {
            Some("7200000") => break,
            Some("3600000") => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            other => panic!("unexpected retention.ms {other:?}"),
        }
    }
    admin.create_partitions(&t, 4).await.unwrap();
    assert_eq!(admin.cluster().metadata().partition_count(&t), Some(4));
    assert!(
        admin
            .list_topics()
            .await
            .unwrap()
            .iter()
            .any(|(name, n)| *name == t && *n == 4)
    );

    // Offsets and record deletion on partition 1.
    let producer = Producer::new(producer_config(&bootstrap, &[])).unwrap();
    let futs: Vec<_> = (0..10)
        .map(|i| {
            producer.send(
                ProducerRecord::new(&t)
                    .partition(1)
                    .value(format!("{i}").as_bytes()),
            )
        })
        .collect();
    for f in futs {
        f.await.unwrap();
    }
    let offs = admin
        .list_offsets(&[(&t, 1, LATEST), (&t, 0, LATEST)])
        .await
        .unwrap();
    assert_eq!(offs[&(t.clone(), 1)].offset, 10);
    assert_eq!(offs[&(t.clone(), 0)].offset, 0);
    let low = admin.delete_records(&[(&t, 1, 4)]).await.unwrap();
    assert_eq!(low[&(t.clone(), 1)], 4);
    let offs = admin.list_offsets(&[(&t, 1, EARLIEST)]).await.unwrap();
    assert_eq!(offs[&(t.clone(), 1)].offset, 4);

    // Close the producer first: its periodic metadata refresh would auto-create the topic
    // again between the two deletes.
    producer.close().await.unwrap();
    admin.delete_topics(&[&t]).await.unwrap();
    let err = admin.delete_topics(&[&t]).await.unwrap_err();
    assert_eq!(err.code(), Some(3), "UNKNOWN_TOPIC_OR_PARTITION: {err}");
}

async fn roundtrip_every_codec(bootstrap: String) {
    let admin = admin(&bootstrap);
    for codec in Compression::ALL {
        let t = topic(&format!("codec-{}", codec.name()));
        admin.create_topics(&[NewTopic::new(&t, 3)]).await.unwrap();
        let producer = Producer::new(producer_config(
            &bootstrap,
            &[("compression.type", codec.name()), ("linger.ms", "10")],
        ))
        .unwrap();
        let n = 3000usize;
        let headers = [
            RecordHeader::new(&b"h1"[..], Some(&b"v1"[..])),
            RecordHeader::new(&b"h2"[..], None::<&[u8]>),
        ];
        let mut sent = Vec::new();
        for i in 0..n {
            let key = format!("key-{}", i % 97);
            let value = format!("value-{i}-{}", "x".repeat(i % 50));
            let ts = 1_700_000_000_000 + i as i64;
            let f = producer.send(
                ProducerRecord::new(&t)
                    .key(key.as_bytes())
                    .value(value.as_bytes())
                    .headers(if i % 2 == 0 { &headers[..] } else { &[] })
                    .timestamp(ts),
            );
            sent.push((key, value, ts, f));
        }
        let mut expected = std::collections::HashMap::new();
        for (key, value, ts, f) in sent {
            let report = f.await.unwrap_or_else(|e| panic!("{codec}: {e}"));
            assert_eq!(
                report.partition,
                murmur2_partition(key.as_bytes(), 3),
                "{codec}: murmur2 partition"
            );
            assert_eq!(report.timestamp, ts);
            expected.insert((report.partition, report.offset), (key, value, ts));
        }
        let consumer = Consumer::new(consumer_config(&bootstrap, &[])).unwrap();
        consumer
            .assign(&[
                (&t, 0, Offset::Beginning),
                (&t, 1, Offset::Beginning),
                (&t, 2, Offset::Beginning),
            ])
            .unwrap();
        let records = read_n(&consumer, n).await;
        for r in &records {
            let (key, value, ts) = expected
                .remove(&(r.partition, r.offset))
                .unwrap_or_else(|| panic!("{codec}: unexpected or duplicate record {r:?}"));
            assert_eq!(r.key.as_deref(), Some(key.as_bytes()));
            assert_eq!(r.value.as_deref(), Some(value.as_bytes()));
            assert_eq!(r.timestamp, ts);
            let i: usize = value.split('-').nth(1).unwrap().parse().unwrap();
            assert_eq!(
                r.headers.len(),
                if i.is_multiple_of(2) { 2 } else { 0 },
                "{codec}: headers"
            );
            if i.is_multiple_of(2) {
                assert_eq!(r.headers[0], headers[0]);
                assert_eq!(r.headers[1], headers[1]);
            }
        }
        assert!(expected.is_empty());
        // Nothing more arrives.
        assert!(
            consumer
                .recv_timeout(std::time::Duration::from_millis(300))
                .await
                .unwrap()
                .is_none()
        );
        producer.close().await.unwrap();
    }
}

async fn consumer_positions(bootstrap: String) {
    let admin = admin(&bootstrap);
    let t = topic("positions");
    admin.create_topics(&[NewTopic::new(&t, 1)]).await.unwrap();
    let producer = Producer::new(producer_config(&bootstrap, &[])).unwrap();
    // A day ago: brokers reject timestamps too far in the future.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 86_400_000;
    // One record per batch (each send awaited), so that timestamp lookups are exact even on a
    // broker that searches at batch granularity.
    for i in 0..100 {
        producer
            .send(
                ProducerRecord::new(&t)
                    .value(format!("{i}").as_bytes())
                    .timestamp(base + i * 10),
            )
            .await
            .unwrap();
    }
    let consumer = Consumer::new(consumer_config(
        &bootstrap,
        &[("auto.offset.reset", "earliest")],
    ))
    .unwrap();
    assert_eq!(consumer.fetch_watermarks(&t, 0).await.unwrap(), (0, 100));
    let times = consumer
        .offsets_for_times(&[(&t, 0, base + 505)])
        .await
        .unwrap();
    assert_eq!(times[&(t.clone(), 0)].offset, 51);
    assert_eq!(times[&(t.clone(), 0)].timestamp, base + 510);

    consumer.assign(&[(&t, 0, Offset::Default)]).unwrap();
    let first = read_n(&consumer, 10).await;
    assert_eq!(
        first.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(consumer.position(&t, 0), Some(10));
    consumer.seek(&t, 0, Offset::At(90)).unwrap();
    let tail = read_n(&consumer, 10).await;
    assert_eq!(
        tail.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (90..100).collect::<Vec<_>>()
    );
    assert_eq!(consumer.position(&t, 0), Some(100));
    // Paused: new records are not fetched until resumed.
    consumer.pause(&[(&t, 0)]);
    producer
        .send(ProducerRecord::new(&t).value(b"after-pause"))
        .await
        .unwrap();
    assert!(
        consumer
            .recv_timeout(std::time::Duration::from_millis(500))
            .await
            .unwrap()
            .is_none()
    );
    consumer.resume(&[(&t, 0)]);
    let r = read_n(&consumer, 1).await;
    assert_eq!(r[0].value.as_deref(), Some(&b"after-pause"[..]));
    assert_eq!(r[0].offset, 100);
    // Offset::End only sees new records.
    consumer.seek(&t, 0, Offset::End).unwrap();
    // End is resolved asynchronously; produce only once it is known.
    while consumer.position(&t, 0).is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    producer
        .send(ProducerRecord::new(&t).value(b"newest"))
        .await
        .unwrap();
    let r = read_n(&consumer, 1).await;
    assert_eq!(r[0].offset, 101);
    // The stream interface.
    use futures::StreamExt;
    consumer.seek(&t, 0, Offset::At(5)).unwrap();
    let streamed: Vec<_> = consumer.stream().take(3).collect().await;
    assert_eq!(
        streamed
            .into_iter()
            .map(|r| r.unwrap().offset)
            .collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    producer.close().await.unwrap();
}

async fn acks_levels(bootstrap: String) {
    for acks in ["0", "1"] {
        let t = topic(&format!("acks{acks}"));
        admin(&bootstrap)
            .create_topics(&[NewTopic::new(&t, 1)])
            .await
            .unwrap();
        let producer = Producer::new(producer_config(&bootstrap, &[("acks", acks)])).unwrap();
        let futs: Vec<_> = (0..500)
            .map(|i| producer.send(ProducerRecord::new(&t).value(format!("{i}").as_bytes())))
            .collect();
        for (i, f) in futs.into_iter().enumerate() {
            let r = f.await.unwrap();
            if acks == "0" {
                assert_eq!(r.offset, -1);
            } else {
                assert_eq!(r.offset, i as i64);
            }
        }
        producer.close().await.unwrap();
        let consumer = Consumer::new(consumer_config(&bootstrap, &[])).unwrap();
        consumer.assign(&[(&t, 0, Offset::Beginning)]).unwrap();
        let got = read_n(&consumer, 500).await;
        assert_eq!(got.last().unwrap().value.as_deref(), Some(&b"499"[..]));
    }
}

async fn queue_full(bootstrap: String) {
    let t = topic("queuefull");
    admin(&bootstrap)
        .create_topics(&[NewTopic::new(&t, 1)])
        .await
        .unwrap();
    let producer = Producer::new(producer_config(
        &bootstrap,
        &[
            ("queue.buffering.max.messages", "100"),
            ("max.block.ms", "0"),
            ("linger.ms", "50"),
        ],
    ))
    .unwrap();
    // Warm up metadata so that sends are not parked for it.
    producer
        .send(ProducerRecord::new(&t).value(b"warm"))
        .await
        .unwrap();
    let futs: Vec<_> = (0..1000)
        .map(|_| producer.send(ProducerRecord::new(&t).value(b"v")))
        .collect();
    let (mut ok, mut full) = (0, 0);
    for f in futs {
        match f.await {
            Ok(_) => ok += 1,
            Err(e) if *e.kind() == ErrorKind::QueueFull => full += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok + full, 1000);
    assert!(ok >= 100 && full > 0, "ok {ok} full {full}");
    producer.close().await.unwrap();
}

async fn unknown_topic(bootstrap: String) {
    let producer = Producer::new(producer_config(
        &bootstrap,
        &[
            ("allow.auto.create.topics", "false"),
            ("delivery.timeout.ms", "3000"),
            ("request.timeout.ms", "2000"),
        ],
    ))
    .unwrap();
    let err = producer
        .send(ProducerRecord::new("no-such-topic-here").value(b"v"))
        .await
        .unwrap_err();
    assert!(
        err.code() == Some(3) || err.name() == "_MSG_TIMED_OUT",
        "{err}"
    );
    assert_eq!(err.topic(), Some("no-such-topic-here"), "{err}");
}

async fn record_too_large(bootstrap: String) {
    let t = topic("large");
    admin(&bootstrap)
        .create_topics(&[NewTopic::new(&t, 1)])
        .await
        .unwrap();
    let producer = Producer::new(producer_config(
        &bootstrap,
        &[("message.max.bytes", "10000")],
    ))
    .unwrap();
    let big = vec![7u8; 20_000];
    let err = producer
        .send(ProducerRecord::new(&t).value(&big))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(10), "{err}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    producer
        .send(ProducerRecord::new(&t).value(b"small"))
        .await
        .unwrap();
}

/// acks=all + idempotence while our broker is stopped and restarted (same data dir and port)
/// mid-stream: every send resolves exactly once, no acknowledged record is lost, and no record
/// is stored twice.
#[test]
fn restart_mid_stream_loses_nothing_and_duplicates_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut cluster = TestCluster::odradek();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bootstrap = cluster.bootstrap.clone();
    let t = topic("restart");
    rt.block_on(admin(&bootstrap).create_topics(&[NewTopic::new(&t, 3)]))
        .unwrap();
    const N: usize = 30_000;
    let resolved = Arc::new(AtomicUsize::new(0));
    let producer = Producer::new(producer_config(
        &bootstrap,
        &[
            ("linger.ms", "1"),
            ("batch.size", "16384"),
            ("reconnect.backoff.max.ms", "200"),
        ],
    ))
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sender = {
        let producer = producer.clone();
        let t = t.clone();
        rt.spawn(async move {
            for i in 0..N {
                let value = format!("{i:08}");
                let f = producer.send(
                    ProducerRecord::new(&t)
                        .key(value.as_bytes())
                        .value(value.as_bytes()),
                );
                tx.send((i, f)).unwrap();
                if i % 200 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        })
    };
    let collector = {
        let resolved = resolved.clone();
        rt.spawn(async move {
            let mut results = vec![None; N];
            while let Some((i, f)) = rx.recv().await {
                let r: Result<_, odradek::error::Error> = f.await;
                assert!(results[i].is_none(), "send {i} resolved twice");
                results[i] = Some(r.map(|_| ()));
                resolved.fetch_add(1, Ordering::Relaxed);
            }
            results
        })
    };
    // Restart once a good part of the stream is acknowledged and more is in flight.
    while resolved.load(Ordering::Relaxed) < N / 4 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    cluster.restart();
    rt.block_on(sender).unwrap();
    let results = rt
        .block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(180), collector).await
        })
        .expect("every send resolves (none hangs)")
        .unwrap();
    let acked: Vec<usize> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| matches!(r, Some(Ok(()))).then_some(i))
        .collect();
    let failed = results.iter().filter(|r| matches!(r, Some(Err(_)))).count();
    assert_eq!(acked.len() + failed, N, "every send resolved");
    eprintln!(
        "restart test: {} acknowledged, {failed} failed; producer {:?}",
        acked.len(),
        producer.metrics()
    );

    let consumer = Consumer::new(consumer_config(&bootstrap, &[])).unwrap();
    consumer
        .assign(&[
            (&t, 0, Offset::Beginning),
            (&t, 1, Offset::Beginning),
            (&t, 2, Offset::Beginning),
        ])
        .unwrap();
    let ends: usize = rt.block_on(async {
        let mut total = 0;
        for p in 0..3 {
            total += consumer.fetch_watermarks(&t, p).await.unwrap().1 as usize;
        }
        total
    });
    let records = rt.block_on(read_n(&consumer, ends));
    let mut seen = vec![0u32; N];
    for r in &records {
        let i: usize = std::str::from_utf8(r.value.as_deref().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        seen[i] += 1;
    }
    let duplicates: Vec<usize> = (0..N).filter(|&i| seen[i] > 1).collect();
    assert!(
        duplicates.is_empty(),
        "{} records stored twice, e.g. {:?}",
        duplicates.len(),
        &duplicates[..duplicates.len().min(10)]
    );
    let lost: Vec<usize> = acked.iter().copied().filter(|&i| seen[i] == 0).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    drop(consumer);
    drop(producer);
    drop(rt);
}

/// A commit the coordinator refuses for the member itself (not in the group, or a stale
/// generation) fails at once: only a coordinator that moved, timed out or went away is worth
/// a retry (as in Java's commitSync), and a retry would wait up to the session timeout.
async fn refused_commit_fails_fast(bootstrap: String) {
    let t = topic("refused-commit");
    admin(&bootstrap)
        .create_topics(&[NewTopic::new(&t, 1)])
        .await
        .unwrap();
    let config = Config::new()
        .with("bootstrap.servers", &bootstrap)
        .unwrap()
        .with("group.id", format!("{t}-group"))
        .unwrap()
        .with("session.timeout.ms", "30000")
        .unwrap();
    let member = GroupConsumer::new(&config).unwrap();
    member.subscribe(&[&t]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while member.assignment().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the member never joined"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Not subscribed, so never a member: generation -1 in a group that has one.
    let outsider = GroupConsumer::new(&config).unwrap();
    let started = std::time::Instant::now();
    let err = outsider
        .commit_offsets(&[(t.clone(), 0, 0)])
        .await
        .expect_err("a commit from outside the group is refused");
    let took = started.elapsed();
    const ILLEGAL_GENERATION: i16 = 22;
    const UNKNOWN_MEMBER_ID: i16 = 25;
    assert!(
        matches!(err.code(), Some(UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION)),
        "{err}"
    );
    assert!(!err.is_retriable(), "{err}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "the refused commit took {took:?}: it was retried"
    );
    outsider.close().await.unwrap();
    member.close().await.unwrap();
}
