//! Cluster mode: three nodes on 127.0.0.1 (each a controller of the metadata quorum and a
//! broker) serve clients from the metadata image: Metadata, DescribeCluster and
//! FindCoordinator agree on every node, topic administration sent to any node is decided by the
//! quorum, partitions are led by different nodes and only their leader serves them, and
//! producer ids come from quorum-allocated blocks.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::cluster::{TestCluster, eventually};
use common::{Client, s, topic};
use kafka_protocol::messages::*;
use odradek::config::Config;
use odradek::producer::{Producer, ProducerRecord};

const NONE: i16 = 0;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const INVALID_REPLICATION_FACTOR: i16 = 38;

async fn metadata(addr: std::net::SocketAddr, topics: Option<&[&str]>) -> MetadataResponse {
    let mut c = Client::connect(addr).await;
    let mut req = MetadataRequest::default();
    req.topics = topics.map(|t| {
        t.iter()
            .map(|n| {
                let mut m = metadata_request::MetadataRequestTopic::default();
                m.name = Some(topic(n));
                m
            })
            .collect()
    });
    req.allow_auto_topic_creation = false;
    c.call(req, 12).await
}

async fn create(addr: std::net::SocketAddr, name: &str, partitions: i32, rf: i16) -> i16 {
    let mut c = Client::connect(addr).await;
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    c.call(req, 7).await.topics[0].error_code
}

/// Leader id per partition, as one node's Metadata says.
async fn leaders(addr: std::net::SocketAddr, name: &str) -> Vec<i32> {
    let m = metadata(addr, Some(&[name])).await;
    m.topics[0]
        .partitions
        .iter()
        .map(|p| p.leader_id.0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_clients_from_the_metadata_image() {
    // Short leases so a stopped node is fenced quickly.
    let nodes = TestCluster::start(
        3,
        "broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\n",
    )
    .await;
    let addrs = nodes.addrs();
    let started = Instant::now();

    // Every node lists the three brokers once they have registered, each at its own address.
    for addr in &addrs {
        let brokers = eventually("three registered brokers", || async {
            let m = metadata(*addr, None).await;
            (m.brokers.len() == 3 && m.controller_id.0 > 0).then_some(m.brokers)
        })
        .await;
        let by_id: BTreeMap<i32, i32> = brokers.iter().map(|b| (b.node_id.0, b.port)).collect();
        let expected: BTreeMap<i32, i32> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| (i as i32 + 1, i32::from(a.port())))
            .collect();
        assert_eq!(by_id, expected);
    }
    eprintln!("quorum and registrations after {:?}", started.elapsed());
    let mut c = Client::connect(addrs[1]).await;
    let dc = c.call(DescribeClusterRequest::default(), 0).await;
    assert_eq!(dc.error_code, NONE);
    assert_eq!(dc.brokers.len(), 3);
    let mut cluster_ids = BTreeSet::new();
    for addr in &addrs {
        cluster_ids.insert(metadata(*addr, None).await.cluster_id);
    }
    assert_eq!(cluster_ids.len(), 1, "one cluster id: {cluster_ids:?}");

    // Admin requests to any node are decided once, by the quorum.
    assert_eq!(create(addrs[2], "spread", 6, 1).await, NONE);
    assert_eq!(create(addrs[0], "spread", 6, 1).await, TOPIC_ALREADY_EXISTS);
    assert_eq!(
        create(addrs[0], "replicated", 1, 4).await,
        INVALID_REPLICATION_FACTOR,
        "more replicas than live brokers"
    );
    let mut ids = BTreeSet::new();
    for addr in &addrs {
        // The node that forwarded has the topic; the others learn it from the quorum.
        let m = eventually("the topic on every node", || async {
            let m = metadata(*addr, Some(&["spread"])).await;
            (m.topics[0].error_code == NONE).then_some(m)
        })
        .await;
        assert_eq!(m.topics[0].partitions.len(), 6);
        ids.insert(m.topics[0].topic_id);
    }
    assert_eq!(ids.len(), 1, "every node names the quorum's topic id");
    let leaders = leaders(addrs[0], "spread").await;
    let distinct: BTreeSet<i32> = leaders.iter().copied().collect();
    assert_eq!(
        distinct,
        BTreeSet::from([1, 2, 3]),
        "leaderships spread: {leaders:?}"
    );

    // Our client routes each partition to its leader; idempotence takes producer ids from the
    // quorum's blocks.
    let mut config = Config::new();
    config
        .set("bootstrap.servers", &addrs[0].to_string())
        .unwrap();
    config.set("acks", "all").unwrap();
    config.set("enable.idempotence", "true").unwrap();
    let producer = Producer::new(config.producer().unwrap()).unwrap();
    let mut sent: BTreeMap<i32, i64> = BTreeMap::new();
    let mut pending = Vec::new();
    for i in 0..60 {
        let value = format!("v{i}");
        pending.push(
            producer.send(
                ProducerRecord::new("spread")
                    .partition(i % 6)
                    .value(value.as_bytes()),
            ),
        );
    }
    for f in pending {
        let report = f.await.expect("delivered by the partition's leader");
        *sent.entry(report.partition).or_default() += 1;
    }
    producer.close().await.unwrap();
    for (partition, leader) in leaders.iter().enumerate() {
        let partition = partition as i32;
        for (i, addr) in addrs.iter().enumerate() {
            let mut c = Client::connect(*addr).await;
            let (code, offset, _) = common::list_offset(&mut c, "spread", partition, -1).await;
            if i as i32 + 1 == *leader {
                assert_eq!((code, offset), (NONE, sent[&partition]));
            } else {
                assert_eq!(
                    code,
                    NOT_LEADER_OR_FOLLOWER,
                    "node {} for partition {partition}",
                    i + 1
                );
            }
        }
    }

    // Producer ids from different nodes never collide.
    let mut pids = BTreeSet::new();
    for addr in &addrs {
        let mut c = Client::connect(*addr).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let r = loop {
            let mut req = InitProducerIdRequest::default();
            req.transactional_id = None;
            req.transaction_timeout_ms = 60_000;
            req.producer_id = ProducerId(-1);
            req.producer_epoch = -1;
            let r = c.call(req, 4).await;
            if r.error_code == NONE {
                break r.producer_id.0;
            }
            assert!(
                Instant::now() < deadline,
                "no producer id block on {addr}: {}",
                r.error_code
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        pids.insert(r);
    }
    assert_eq!(pids.len(), 3, "distinct producer ids: {pids:?}");

    // Every node names the same coordinator for a group (COORDINATOR_NOT_AVAILABLE while the
    // first lookup creates `__consumer_offsets`, as Kafka).
    let mut coordinators = BTreeSet::new();
    for addr in &addrs {
        let found = eventually("a group coordinator", || async {
            let mut c = Client::connect(*addr).await;
            let mut req = FindCoordinatorRequest::default();
            req.key_type = 0;
            req.coordinator_keys = vec![s("group-a")];
            let r = c.call(req, 4).await;
            let code = r.coordinators[0].error_code;
            assert!(matches!(code, NONE | 15), "FindCoordinator: {code}");
            (code == NONE).then(|| (r.coordinators[0].node_id.0, r.coordinators[0].port))
        })
        .await;
        coordinators.insert(found);
    }
    assert_eq!(coordinators.len(), 1, "{coordinators:?}");

    // CreatePartitions and DeleteTopics through other nodes.
    let mut c = Client::connect(addrs[1]).await;
    let mut t = create_partitions_request::CreatePartitionsTopic::default();
    t.name = topic("spread");
    t.count = 8;
    let mut req = CreatePartitionsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    let r = c.call(req, 3).await;
    assert_eq!(
        r.results[0].error_code, NONE,
        "{:?}",
        r.results[0].error_message
    );
    for addr in &addrs {
        eventually("8 partitions on every node", || async {
            let m = metadata(*addr, Some(&["spread"])).await;
            (m.topics[0].partitions.len() == 8).then_some(())
        })
        .await;
    }
    let mut c = Client::connect(addrs[2]).await;
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![topic("spread")];
    req.timeout_ms = 10_000;
    let r = c.call(req, 5).await;
    assert_eq!(r.responses[0].error_code, NONE);
    for addr in &addrs {
        eventually("the topic deleted on every node", || async {
            let m = metadata(*addr, Some(&["spread"])).await;
            (m.topics[0].error_code == 3).then_some(())
        })
        .await;
    }
    eprintln!("cluster test body took {:?}", started.elapsed());
    nodes.shutdown().await;
}
