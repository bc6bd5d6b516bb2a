//! Replication in cluster mode (issue #22): three nodes, a topic with replication factor 3.
//! Our client produces with acks=all, the partition's leader stops, a follower in the ISR
//! takes over and the client goes on; every acknowledged record is then on the new leader
//! exactly once, in order. With a node down, `min.insync.replicas=3` refuses acks=all
//! (NOT_ENOUGH_REPLICAS); the stopped node comes back, catches up and rejoins the ISR. A node
//! that does not lead answers NOT_LEADER_OR_FOLLOWER naming the leader, to Produce and to Fetch,
//! also for a topic it holds no replica of.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::cluster::{
    TestCluster, client_config, eventually, partition0, read_partition0, send_values, values,
    wait_for_brokers,
};
use common::{Client, topic};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use odradek::producer::Producer;

const NONE: i16 = 0;
const NOT_ENOUGH_REPLICAS: i16 = 19;

async fn create(addr: SocketAddr, name: &str, configs: &[(&str, &str)]) {
    let mut c = Client::connect(addr).await;
    let r = common::create_topic_with(&mut c, name, 1, 3, configs).await;
    assert_eq!(
        (r.error_code, r.replication_factor),
        (NONE, 3),
        "{:?}",
        r.error_message
    );
}

/// Produce v10 of one batch to a node that does not lead the partition: the answer names the
/// leader, its epoch and its endpoint (KIP-951).
async fn produce_to_follower(addr: SocketAddr, name: &str) -> ProduceResponse {
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(common::batch(&["stray"], None, None, Compression::None));
    let mut td = produce_request::TopicProduceData::default();
    td.name = topic(name);
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data.push(td);
    Client::connect(addr).await.call(req, 10).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_survives_the_loss_of_the_leader_and_the_old_leader_rejoins() {
    let mut cluster = TestCluster::start(
        3,
        "broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\nreplica.lag.time.max.ms=2000\n",
    )
    .await;
    let addrs = cluster.addrs();
    let started = Instant::now();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "failover", &[]).await;
    create(addrs[0], "strict", &[("min.insync.replicas", "3")]).await;
    let (leader, epoch, _) = eventually("a full ISR", || async {
        partition0(addrs[0], "failover")
            .await
            .filter(|(l, _, isr)| *l > 0 && isr.len() == 3)
    })
    .await;

    let follower = (1..=3).find(|id| *id != leader as u64).unwrap();
    let r = produce_to_follower(cluster.addr(follower), "failover").await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 6, "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(
        (p.current_leader.leader_id.0, p.current_leader.leader_epoch),
        (leader, epoch)
    );
    assert_eq!(r.node_endpoints.len(), 1);
    assert_eq!(
        r.node_endpoints[0].port,
        i32::from(cluster.addr(leader as u64).port())
    );

    let mut config = client_config(&addrs);
    config.set("acks", "all").unwrap();
    config.set("enable.idempotence", "true").unwrap();
    config.set("linger.ms", "5").unwrap();
    let producer = Producer::new(config.producer().unwrap()).unwrap();
    send_values(&producer, "failover", 0..300).await;
    eprintln!("300 acks=all records after {:?}", started.elapsed());

    // The leader stops; the next ISR member leads in the next epoch, and the client goes on.
    let old = leader as u64;
    cluster.stop_node(old).await;
    let stopped = Instant::now();
    send_values(&producer, "failover", 300..600).await;
    eprintln!(
        "300 more records acknowledged {:?} after the leader stopped",
        stopped.elapsed()
    );
    producer.close().await.unwrap();
    let survivor = cluster.addrs()[0];
    let (new_leader, new_epoch, isr) = eventually("a new leader", || async {
        partition0(survivor, "failover")
            .await
            .filter(|(l, _, _)| *l > 0 && *l != leader)
    })
    .await;
    assert!(new_epoch > epoch, "epoch {new_epoch} after {epoch}");
    assert!(
        !isr.contains(&leader),
        "the stopped node left the ISR: {isr:?}"
    );

    let records = read_partition0(cluster.addr(new_leader as u64), "failover").await;
    assert_eq!(
        records,
        values(600),
        "every acknowledged record once, in order, on the new leader"
    );

    // min.insync.replicas=3 with two live replicas: acks=all is refused before the append;
    // acks=1 is still taken.
    let (strict_leader, _, strict_isr) =
        eventually("the strict topic led by a live node", || async {
            partition0(survivor, "strict")
                .await
                .filter(|(l, _, isr)| *l > 0 && *l != leader && isr.len() == 2)
        })
        .await;
    assert_eq!(strict_isr.len(), 2);
    let strict_addr = cluster.addr(strict_leader as u64);
    let batch = common::batch(&["x"], None, None, Compression::None);
    // (NOT_LEADER_OR_FOLLOWER until the new leader has taken the leadership up.)
    let code = eventually("an answer from the strict topic's leader", || async {
        let mut c = Client::connect(strict_addr).await;
        let (code, _) = common::produce(&mut c, "strict", 0, batch.clone(), -1).await;
        (code != 6).then_some(code)
    })
    .await;
    let mut c = Client::connect(strict_addr).await;
    assert_eq!(code, NOT_ENOUGH_REPLICAS);
    assert_eq!(
        common::produce(&mut c, "strict", 0, batch.clone(), 1)
            .await
            .0,
        NONE
    );

    // The old leader comes back as a follower, catches up and rejoins both ISRs; then acks=all
    // on the strict topic is taken again.
    cluster.start_node(old).await;
    eventually("the old leader back in the ISR", || async {
        let f = partition0(survivor, "failover").await?;
        let s = partition0(survivor, "strict").await?;
        (f.2.len() == 3 && s.2.len() == 3).then_some(())
    })
    .await;
    let (code, _) = common::produce(&mut c, "strict", 0, batch, -1).await;
    assert_eq!(code, NONE);
    eprintln!("test body took {:?}", started.elapsed());
    cluster.shutdown().await;
}

/// A topic with replication factor 1 lives on one node; the others hold no replica (no local
/// log) yet answer Fetch (by name, v12, and by topic id, v16) and Produce with
/// NOT_LEADER_OR_FOLLOWER naming the leader, as Kafka, not UNKNOWN_TOPIC_OR_PARTITION.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_no_replica_names_the_leader_to_fetch_and_produce() {
    let cluster = TestCluster::start(3, "").await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    let mut c = Client::connect(addrs[0]).await;
    let r = common::create_topic_with(&mut c, "single", 1, 1, &[]).await;
    assert_eq!(r.error_code, NONE, "{:?}", r.error_message);
    let (leader, epoch, _) = eventually("a leader", || async {
        partition0(addrs[0], "single")
            .await
            .filter(|(l, _, _)| *l > 0)
    })
    .await;
    let other = cluster.addr((1..=3).find(|id| *id != leader as u64).unwrap());
    let leader_port = i32::from(cluster.addr(leader as u64).port());

    // (Until its copy of the metadata image has the topic the node does not know it.)
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(topic("single"));
    req.topics = Some(vec![t]);
    let topic_id = eventually("the topic in the other node's image", || async {
        let m = Client::connect(other).await.call(req.clone(), 12).await;
        m.topics
            .first()
            .filter(|t| t.error_code == NONE)
            .map(|t| t.topic_id)
    })
    .await;

    let mut c = Client::connect(other).await;
    let by_name = common::fetch_request("single", 0, 0, 0, 0, 1 << 20);
    let r = c.call(by_name, 12).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 6, "Fetch v12: NOT_LEADER_OR_FOLLOWER");
    assert_eq!(
        (p.current_leader.leader_id.0, p.current_leader.leader_epoch),
        (leader, epoch)
    );

    let mut by_id = common::fetch_request("", 0, 0, 0, 0, 1 << 20);
    by_id.topics[0].topic_id = topic_id;
    by_id.replica_state.replica_id = BrokerId(-1);
    let r = c.call(by_id, 16).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 6, "Fetch v16: NOT_LEADER_OR_FOLLOWER");
    assert_eq!(p.current_leader.leader_id.0, leader);
    assert_eq!(r.node_endpoints.len(), 1);
    assert_eq!(r.node_endpoints[0].port, leader_port);

    let r = produce_to_follower(other, "single").await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 6, "Produce: NOT_LEADER_OR_FOLLOWER");
    assert_eq!(p.current_leader.leader_id.0, leader);
    cluster.shutdown().await;
}
