//! The client suite: the same scenarios run against Apache Kafka 4.3.1 and against our broker.
//! Each cluster is started once per suite run (starting a JVM per scenario would dominate CI).

mod client_support;

use std::sync::Arc;

use client_support::{TestCluster, topic};
use odradek::cluster::Cluster;
use odradek::config::ClientConfig;

type Scenario = fn(&TestCluster) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![("metadata_and_pipelining", |c| Box::pin(metadata_and_pipelining(c.bootstrap.clone())))]
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
    let conn = cluster.connection(*md.brokers.keys().next().unwrap()).await.unwrap();
    let req = odradek::protocol::messages::MetadataRequest::default().with_topics(Some(vec![]));
    let futs: Vec<_> = (0..200).map(|_| conn.request(&req)).collect();
    for r in futures::future::join_all(futs).await {
        assert_eq!(r.unwrap().brokers.len(), 1);
    }
    assert_eq!(conn.pending_requests(), 0);
    let _ = Arc::strong_count(&conn);
}
