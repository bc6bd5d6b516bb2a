//! The client suite: the same scenarios run against Apache Kafka 4.3.1 and against our broker.
//! Each cluster is started once per suite run (starting a JVM per scenario would dominate CI).

mod client_support;

use std::sync::Arc;

use client_support::{TestCluster, topic};
use odradek::cluster::Cluster;
use odradek::config::{ClientConfig, Config};
use odradek::producer::{Producer, ProducerRecord};

type Scenario = fn(&TestCluster) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        ("metadata_and_pipelining", |c| {
            Box::pin(metadata_and_pipelining(c.bootstrap.clone()))
        }),
        ("produce_many_every_send_resolves_once", |c| {
            Box::pin(produce_many(c.bootstrap.clone()))
        }),
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
