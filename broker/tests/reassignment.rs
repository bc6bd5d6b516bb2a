//! Replica reassignment (KIP-455), leader elections (KIP-460) and topic config changes in
//! cluster mode (issue #22), on three in-process nodes.
//!
//! - A topic grows from one replica to three and then moves off its leader's node while our
//!   client produces with acks=all: every acknowledged record is on the new leader once, in
//!   order, and the node the partition left deletes its local log.
//! - A reassignment that cannot finish (its new replica is down) is listed, then cancelled;
//!   Kafka's errors for bad targets, unknown partitions and a cancel with nothing in progress.
//! - Leaderships are spread at creation; after a node returns, ElectLeaders PREFERRED gives
//!   it its partition back (and answers ELECTION_NOT_NEEDED when done), and with
//!   `auto.leader.rebalance.enable` the controller does it by itself.
//! - IncrementalAlterConfigs / AlterConfigs of a topic reach every node's logs.
//! - A partition moved off a node that keeps another of its topic drops its records there.
//! - A replica added after records were deleted starts at the leader's log start.
//! - A single node answers as a one-broker Kafka: nothing moves, no election is needed.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use common::cluster::{
    TestCluster, acks_all_producer, eventually, read_partition0, read_partition0_from, send_values,
    values, wait_for_brokers,
};
use common::{Client, s, topic};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
const NOT_CONTROLLER: i16 = 41;
const ELECTION_NOT_NEEDED: i16 = 84;
const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// Kafka's timings shortened so a stopped node is fenced within seconds.
const FAST: &str = "broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\nreplica.lag.time.max.ms=2000\n";

/// Creates `name` through the node at `addr`; panics unless it is created.
async fn create(addr: SocketAddr, name: &str, partitions: i32, replication_factor: i16) {
    let mut c = Client::connect(addr).await;
    let r = common::create_topic_with(&mut c, name, partitions, replication_factor, &[]).await;
    assert_eq!(r.error_code, NONE, "{name}: {:?}", r.error_message);
}

/// Waits until every partition of `name` has a leader and `isr` in-sync replicas.
async fn settled(addr: SocketAddr, name: &str, isr: usize) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    eventually("leaders and in-sync replicas", || async {
        let ps = partitions(addr, name).await;
        ps.iter().all(|p| p.0 > 0 && p.2.len() == isr).then_some(ps)
    })
    .await
}

/// (leader, replicas, sorted ISR) of every partition of `name`, as the node at `addr` says.
async fn partitions(addr: SocketAddr, name: &str) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(topic(name));
    req.topics = Some(vec![t]);
    let m = Client::connect(addr).await.call(req, 12).await;
    let mut out: Vec<_> = m.topics[0]
        .partitions
        .iter()
        .map(|p| {
            let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
            isr.sort_unstable();
            let replicas = p.replica_nodes.iter().map(|b| b.0).collect();
            (p.partition_index, (p.leader_id.0, replicas, isr))
        })
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

/// AlterPartitionReassignments of one partition; retried while the answer is NOT_CONTROLLER
/// (a controller election after a node stopped), as Kafka's admin client does.
async fn reassign(
    addr: SocketAddr,
    name: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> (i16, Option<String>) {
    eventually("an answer from the active controller", || async {
        let answer = reassign_once(addr, name, partition, target).await;
        (answer.0 != NOT_CONTROLLER).then_some(answer)
    })
    .await
}

async fn reassign_once(
    addr: SocketAddr,
    name: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> (i16, Option<String>) {
    let mut p = alter_partition_reassignments_request::ReassignablePartition::default();
    p.partition_index = partition;
    p.replicas = target.map(|t| t.iter().map(|b| BrokerId(*b)).collect());
    let mut t = alter_partition_reassignments_request::ReassignableTopic::default();
    t.name = topic(name);
    t.partitions.push(p);
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = 10_000;
    req.allow_replication_factor_change = true;
    req.topics.push(t);
    let r = Client::connect(addr).await.call(req, 1).await;
    assert_eq!(r.error_code, NONE, "{:?}", r.error_message);
    let p = &r.responses[0].partitions[0];
    (
        p.error_code,
        p.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// The reassignments in progress: (topic, partition, replicas, adding, removing).
async fn list_reassignments(addr: SocketAddr) -> Vec<(String, i32, Vec<i32>, Vec<i32>, Vec<i32>)> {
    let req = ListPartitionReassignmentsRequest::default();
    let r = Client::connect(addr).await.call(req, 0).await;
    assert_eq!(r.error_code, NONE);
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    ids(&p.replicas),
                    ids(&p.adding_replicas),
                    ids(&p.removing_replicas),
                )
            })
        })
        .collect()
}

/// ElectLeaders v2 for `partitions` of `name` (every partition of every topic with `None`):
/// (topic, partition, error code) of each result; asked again while any is NOT_CONTROLLER.
async fn elect(
    addr: SocketAddr,
    election_type: i8,
    wanted: Option<(&str, &[i32])>,
) -> Vec<(String, i32, i16)> {
    eventually("an answer from the active controller", || async {
        let results = elect_once(addr, election_type, wanted).await;
        (!results.iter().any(|r| r.2 == NOT_CONTROLLER)).then_some(results)
    })
    .await
}

async fn elect_once(
    addr: SocketAddr,
    election_type: i8,
    wanted: Option<(&str, &[i32])>,
) -> Vec<(String, i32, i16)> {
    let mut req = ElectLeadersRequest::default();
    req.election_type = election_type;
    req.timeout_ms = 10_000;
    req.topic_partitions = wanted.map(|(name, parts)| {
        let mut t = elect_leaders_request::TopicPartitions::default();
        t.topic = topic(name);
        t.partitions = parts.to_vec();
        vec![t]
    });
    let r = Client::connect(addr).await.call(req, 2).await;
    assert_eq!(r.error_code, NONE);
    r.replica_election_results
        .iter()
        .flat_map(|t| {
            t.partition_result
                .iter()
                .map(|p| (t.topic.0.to_string(), p.partition_id, p.error_code))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassignment_grows_a_partition_and_moves_it_off_its_leader_while_producing() {
    let cluster = TestCluster::start(3, FAST).await;
    let addrs = cluster.addrs();
    let started = Instant::now();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "moving", 1, 1).await;
    let leader = settled(addrs[0], "moving", 1).await[0].0;
    let others: Vec<i32> = (1..=3).filter(|id| *id != leader).collect();

    // acks=all records flow the whole time: 10 × 100, a little apart.
    let producer = acks_all_producer(&addrs);
    let writer = tokio::spawn(async move {
        for chunk in 0..10 {
            send_values(&producer, "moving", chunk * 100..(chunk + 1) * 100).await;
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }
        producer.close().await.unwrap();
    });

    // RF 1 → 3: the new replicas catch up by fetching and join the ISR; then the assignment
    // is the target and nothing is in progress.
    let grown = [leader, others[0], others[1]];
    assert_eq!(
        reassign(addrs[0], "moving", 0, Some(&grown)).await,
        (NONE, None)
    );
    eventually("three replicas in the ISR", || async {
        let p = partitions(addrs[1], "moving").await.remove(0);
        let done = p.1 == grown && p.2.len() == 3 && p.0 == leader;
        (done && list_reassignments(addrs[2]).await.is_empty()).then_some(())
    })
    .await;
    eprintln!("RF 1 → 3 after {:?}", started.elapsed());

    // Off the leader's node: the leader is removed, a target replica takes over.
    let moved = [others[0], others[1]];
    assert_eq!(
        reassign(addrs[2], "moving", 0, Some(&moved)).await,
        (NONE, None)
    );
    let new_leader = eventually("the partition off the old leader's node", || async {
        let p = partitions(addrs[0], "moving").await.remove(0);
        (p.1 == moved && moved.contains(&p.0) && p.2 == moved).then_some(p.0)
    })
    .await;
    eprintln!("moved off node {leader} after {:?}", started.elapsed());
    assert!(!writer.is_finished(), "the move happened while producing");
    let gone = cluster.data_dir(leader as u64).join("moving-0");
    eventually("the old replica's log deleted", || async {
        (!gone.exists()).then_some(())
    })
    .await;

    writer.await.unwrap();
    let records = read_partition0(cluster.addr(new_leader as u64), "moving").await;
    assert_eq!(
        records,
        values(1000),
        "every acknowledged record once, in order, on the new leader"
    );
    let follower = moved.iter().find(|id| **id != new_leader).unwrap();
    let follower_dir = cluster.data_dir(*follower as u64).join("moving-0");
    assert!(
        follower_dir.exists(),
        "the other target replica keeps its log"
    );
    eprintln!("test body took {:?}", started.elapsed());
    cluster.shutdown().await;
}

/// A replica added to a partition whose first records were deleted (DeleteRecords, or
/// retention) starts its log at the leader's log start, catches up from there and joins the
/// ISR, as Kafka's follower; it then leads with exactly the records that were left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_starts_at_the_leaders_log_start() {
    let cluster = TestCluster::start(3, FAST).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "trimmed", 1, 1).await;
    let leader = settled(addrs[0], "trimmed", 1).await[0].0;
    let producer = acks_all_producer(&addrs);
    send_values(&producer, "trimmed", 0..100).await;
    producer.close().await.unwrap();

    let mut p = delete_records_request::DeleteRecordsPartition::default();
    p.partition_index = 0;
    p.offset = 60;
    let mut t = delete_records_request::DeleteRecordsTopic::default();
    t.name = topic("trimmed");
    t.partitions.push(p);
    let mut delete = DeleteRecordsRequest::default();
    delete.topics.push(t);
    delete.timeout_ms = 5000;
    let r = Client::connect(cluster.addr(leader as u64))
        .await
        .call(delete, 2)
        .await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (NONE, 60));

    let others: Vec<i32> = (1..=3).filter(|id| *id != leader).collect();
    let target = [others[0], others[1]];
    assert_eq!(
        reassign(addrs[0], "trimmed", 0, Some(&target)).await,
        (NONE, None)
    );
    let new_leader = eventually("the partition on its new replicas", || async {
        let p = partitions(addrs[0], "trimmed").await.remove(0);
        (p.1 == target && p.2 == target).then_some(p.0)
    })
    .await;
    let expected: Vec<(i64, Option<String>)> =
        (60..100).map(|i| (i, Some(format!("v{i}")))).collect();
    let new_leader = cluster.addr(new_leader as u64);
    assert_eq!(
        read_partition0_from(new_leader, "trimmed", 60).await,
        expected
    );
    // The deleted records stay deleted on the new leader.
    let mut c = Client::connect(new_leader).await;
    let (code, _, _) = common::fetch(&mut c, "trimmed", 0, 10, 1 << 20).await;
    assert_eq!(code, 1, "OFFSET_OUT_OF_RANGE below the log start");
    cluster.shutdown().await;
}

/// A partition moved off a node whose other partition stays there: the moved one's records are
/// dropped from the node's log (its directory stays with the topic's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_moved_off_a_node_keeping_another_drops_its_records_there() {
    let cluster = TestCluster::start(3, FAST).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = topic("halves");
    t.num_partitions = -1;
    t.replication_factor = -1;
    for index in 0..2 {
        let mut a = create_topics_request::CreatableReplicaAssignment::default();
        a.partition_index = index;
        a.broker_ids = vec![BrokerId(1)];
        t.assignments.push(a);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    let r = Client::connect(addrs[0]).await.call(req, 7).await;
    assert_eq!(
        r.topics[0].error_code, NONE,
        "{:?}",
        r.topics[0].error_message
    );
    settled(addrs[0], "halves", 1).await;
    let node1 = cluster.addr(1);
    let batch = common::batch(&["a", "b", "c"], None, None, Compression::None);
    let code = eventually("node 1 taking produce", || async {
        let mut c = Client::connect(node1).await;
        let (code, _) = common::produce(&mut c, "halves", 0, batch.clone(), -1).await;
        (code != 6).then_some(code)
    })
    .await;
    assert_eq!(code, NONE);

    assert_eq!(
        reassign(addrs[0], "halves", 0, Some(&[2])).await,
        (NONE, None)
    );
    let moved = cluster.data_dir(1).join("halves-0");
    eventually(
        "the moved partition's records dropped on node 1",
        || async {
            let bytes: u64 = std::fs::read_dir(&moved)
                .ok()?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum();
            (bytes == 0).then_some(())
        },
    )
    .await;
    assert!(
        cluster.data_dir(1).join("halves-1").exists(),
        "partition 1 stays"
    );
    let p = partitions(addrs[0], "halves").await;
    assert_eq!((p[0].0, p[1].0), (2, 1));
    let records = read_partition0(cluster.addr(2), "halves").await;
    let values: Vec<Option<String>> = records.into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["a", "b", "c"].map(|v| Some(v.to_string())));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_reassignment_is_listed_and_cancelled_and_bad_ones_get_kafkas_errors() {
    let mut cluster = TestCluster::start(3, FAST).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "stuck", 2, 1).await;
    let before = settled(addrs[0], "stuck", 1).await;
    let (leader, ref replicas, _) = before[0];
    // A node with no replica of partition 0, stopped: it cannot catch up.
    let down = (1..=3)
        .find(|id| *id != leader && !before.iter().any(|p| p.0 == *id))
        .or_else(|| (1..=3).find(|id| *id != leader))
        .unwrap();
    let here = (1..=3).find(|id| *id != down).unwrap() as u64;
    cluster.stop_node(down as u64).await;
    let addr = cluster.addr(here);

    let target = [leader, down];
    assert_eq!(
        reassign(addr, "stuck", 0, Some(&target)).await,
        (NONE, None)
    );
    let listed = list_reassignments(addr).await;
    assert_eq!(
        listed,
        vec![(
            "stuck".to_string(),
            0,
            vec![leader, down],
            vec![down],
            vec![]
        )]
    );
    // Metadata shows the full replica set meanwhile (target, then removing ones), as Kafka.
    assert_eq!(partitions(addr, "stuck").await[0].1, vec![leader, down]);

    assert_eq!(reassign(addr, "stuck", 0, None).await, (NONE, None));
    assert!(list_reassignments(addr).await.is_empty());
    assert_eq!(&partitions(addr, "stuck").await[0].1, replicas);
    let (code, message) = reassign(addr, "stuck", 0, None).await;
    assert_eq!(code, NO_REASSIGNMENT_IN_PROGRESS, "{message:?}");

    for bad in [&[leader, 99][..], &[leader, leader], &[]] {
        let (code, message) = reassign(addr, "stuck", 0, Some(bad)).await;
        assert_eq!(code, INVALID_REPLICA_ASSIGNMENT, "{bad:?}: {message:?}");
        assert!(message.is_some_and(|m| m.contains("stuck-0")));
    }
    for (name, partition) in [("stuck", 7), ("nosuch", 0)] {
        let (code, _) = reassign(addr, name, partition, Some(&[leader])).await;
        assert_eq!(code, UNKNOWN_TOPIC_OR_PARTITION, "{name}-{partition}");
    }
    assert!(list_reassignments(addr).await.is_empty());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_election_returns_leadership_to_a_node_that_came_back() {
    let props = format!("{FAST}auto.leader.rebalance.enable=false\n");
    let mut cluster = TestCluster::start(3, &props).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "spread", 3, 3).await;
    let ps = settled(addrs[0], "spread", 3).await;
    let leaders: BTreeSet<i32> = ps.iter().map(|p| p.0).collect();
    assert_eq!(
        leaders.len(),
        3,
        "one leadership per node at creation: {ps:?}"
    );
    for p in &ps {
        assert_eq!(p.0, p.1[0], "each partition led by its preferred replica");
    }

    // Nothing to do while every partition is led by its preferred replica.
    assert_eq!(elect(addrs[0], PREFERRED, None).await, vec![]);
    assert_eq!(
        elect(addrs[0], PREFERRED, Some(("spread", &[0]))).await,
        vec![("spread".to_string(), 0, ELECTION_NOT_NEEDED)]
    );
    assert_eq!(
        elect(addrs[0], UNCLEAN, Some(("spread", &[1, 9]))).await,
        vec![
            ("spread".to_string(), 1, ELECTION_NOT_NEEDED),
            ("spread".to_string(), 9, UNKNOWN_TOPIC_OR_PARTITION)
        ]
    );

    // The node leading partition 0 stops: another replica leads it. It comes back and
    // catches up, but keeps following until a preferred election.
    let preferred = ps[0].0;
    cluster.stop_node(preferred as u64).await;
    let survivor = cluster.addrs()[0];
    eventually("partition 0 led elsewhere", || async {
        let p = partitions(survivor, "spread").await.remove(0);
        (p.0 > 0 && p.0 != preferred).then_some(())
    })
    .await;
    cluster.start_node(preferred as u64).await;
    eventually("the node back in the ISR", || async {
        let p = partitions(survivor, "spread").await.remove(0);
        (p.2.len() == 3).then_some(())
    })
    .await;
    assert_ne!(partitions(survivor, "spread").await[0].0, preferred);

    let results = elect(survivor, PREFERRED, None).await;
    assert_eq!(results, vec![("spread".to_string(), 0, NONE)]);
    let p = partitions(survivor, "spread").await.remove(0);
    assert_eq!(p.0, preferred, "the preferred replica leads again: {p:?}");
    let back = cluster.addr(preferred as u64);
    let batch = common::batch(&["back"], None, None, Compression::None);
    let code = eventually("the returned leader takes produce", || async {
        let mut c = Client::connect(back).await;
        let (code, _) = common::produce(&mut c, "spread", 0, batch.clone(), -1).await;
        (code != 6).then_some(code)
    })
    .await;
    assert_eq!(code, NONE);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_rebalances_leaders_by_itself() {
    let props = format!("{FAST}leader.imbalance.check.interval.seconds=1\n");
    let mut cluster = TestCluster::start(3, &props).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "balanced", 3, 3).await;
    let ps = settled(addrs[0], "balanced", 3).await;
    let node = ps[1].0;
    cluster.stop_node(node as u64).await;
    let survivor = cluster.addrs()[0];
    eventually("partition 1 led elsewhere", || async {
        let p = partitions(survivor, "balanced").await.remove(1);
        (p.0 > 0 && p.0 != node).then_some(())
    })
    .await;
    cluster.start_node(node as u64).await;
    let back = Instant::now();
    eventually("partition 1 led by its preferred replica again", || async {
        let p = partitions(survivor, "balanced").await.remove(1);
        (p.0 == node).then_some(())
    })
    .await;
    eprintln!("leadership back {:?} after the restart", back.elapsed());
    cluster.shutdown().await;
}

fn set_config(name: &str, key: &str, value: &str) -> IncrementalAlterConfigsRequest {
    let mut cfg = incremental_alter_configs_request::AlterableConfig::default();
    cfg.name = s(key);
    cfg.config_operation = 0;
    cfg.value = Some(s(value));
    let mut r = incremental_alter_configs_request::AlterConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = s(name);
    r.configs.push(cfg);
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources.push(r);
    req
}

async fn described(addr: SocketAddr, name: &str, key: &str) -> Option<String> {
    let mut r = describe_configs_request::DescribeConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = s(name);
    r.configuration_keys = Some(vec![s(key)]);
    let mut req = DescribeConfigsRequest::default();
    req.resources.push(r);
    let resp = Client::connect(addr).await.call(req, 4).await;
    let res = &resp.results[0];
    assert_eq!(res.error_code, NONE, "{:?}", res.error_message);
    res.configs[0].value.as_ref().map(|v| v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_config_changes_reach_every_node() {
    let cluster = TestCluster::start(3, "").await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    create(addrs[0], "tuned", 1, 3).await;
    create(addrs[0], "single", 1, 1).await;

    let resp = Client::connect(addrs[1])
        .await
        .call(set_config("tuned", "max.message.bytes", "2000"), 1)
        .await;
    assert_eq!(
        resp.responses[0].error_code, NONE,
        "{:?}",
        resp.responses[0].error_message
    );
    for id in 1..=3u64 {
        let addr = cluster.addr(id);
        eventually("the config described by every node", || async {
            let v = described(addr, "tuned", "max.message.bytes").await;
            (v.as_deref() == Some("2000")).then_some(())
        })
        .await;
        let file = cluster.data_dir(id).join("topics/tuned.properties");
        eventually("the config in the node's topic file", || async {
            let text = std::fs::read_to_string(&file).ok()?;
            text.contains("config.max.message.bytes=2000").then_some(())
        })
        .await;
    }
    // The leader's log enforces it.
    let leader = settled(addrs[0], "tuned", 3).await[0].0;
    let big = "x".repeat(3000);
    let batch = common::batch(&[big.as_str()], None, None, Compression::None);
    let mut c = Client::connect(cluster.addr(leader as u64)).await;
    assert_eq!(
        common::produce(&mut c, "tuned", 0, batch, 1).await.0,
        MESSAGE_TOO_LARGE
    );

    // A node with no replica of the topic alters it too; bad values and unknown topics get
    // Kafka's errors, as on one node.
    let bad = Client::connect(addrs[2])
        .await
        .call(set_config("tuned", "max.message.bytes", "lots"), 1)
        .await;
    assert_eq!(bad.responses[0].error_code, 40, "INVALID_CONFIG");
    let unknown = Client::connect(addrs[2])
        .await
        .call(set_config("nosuch", "retention.ms", "1000"), 1)
        .await;
    assert_eq!(unknown.responses[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);

    // AlterConfigs replaces the whole set.
    let mut cfg = alter_configs_request::AlterableConfig::default();
    cfg.name = s("retention.ms");
    cfg.value = Some(s("60000"));
    let mut res = alter_configs_request::AlterConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = s("single");
    res.configs.push(cfg);
    let mut req = AlterConfigsRequest::default();
    req.resources.push(res);
    let resp = Client::connect(addrs[0]).await.call(req, 2).await;
    assert_eq!(
        resp.responses[0].error_code, NONE,
        "{:?}",
        resp.responses[0].error_message
    );
    for addr in addrs {
        eventually("the replaced configs on every node", || async {
            let v = described(addr, "single", "retention.ms").await;
            (v.as_deref() == Some("60000")).then_some(())
        })
        .await;
    }
    cluster.shutdown().await;
}

/// One node holds the only replica of everything: its own id is the one valid target, there
/// is never a reassignment to list or cancel, and no election is needed (as a one-broker
/// Apache Kafka answers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_answers_that_nothing_moves() {
    let b = common::start().await;
    let addr = b.handle.local_addr();
    let mut c = Client::connect(addr).await;
    assert_eq!(common::create_topic(&mut c, "one", 2, &[]).await, NONE);
    assert_eq!(reassign(addr, "one", 0, Some(&[1])).await, (NONE, None));
    assert_eq!(
        reassign(addr, "one", 1, Some(&[2])).await.0,
        INVALID_REPLICA_ASSIGNMENT
    );
    assert_eq!(
        reassign(addr, "one", 0, None).await.0,
        NO_REASSIGNMENT_IN_PROGRESS
    );
    assert_eq!(
        reassign(addr, "one", 5, Some(&[1])).await.0,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert!(list_reassignments(addr).await.is_empty());
    assert_eq!(elect(addr, PREFERRED, None).await, vec![]);
    assert_eq!(
        elect(addr, UNCLEAN, Some(("one", &[1, 2]))).await,
        vec![
            ("one".to_string(), 1, ELECTION_NOT_NEEDED),
            ("one".to_string(), 2, UNKNOWN_TOPIC_OR_PARTITION)
        ]
    );
}
