//! Group coordinators in cluster mode (issue #22): groups live on the partitions of the
//! internal `__consumer_offsets` topic (replication factor 3 here), coordinated by each
//! partition's leader. The coordinator node stops; the partition's new leader replays it and
//! answers with the same committed offsets, and the members of a classic group and of a KIP-848
//! group keep their membership (same generation / epoch, heartbeats answered NONE) without a
//! rejoin; a deleted group's offsets stay deleted. A node that does not coordinate a group
//! answers NOT_COORDINATOR. Our client's
//! consumer in a group goes on through the move without skipping or re-reading a record.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::cluster::{
    TestCluster, client_config, eventually, partition0, send_values, wait_for_brokers,
};
use common::{Client, s, topic};
use kafka_protocol::messages::*;
use odradek::consumer::ConsumerClient as Consumer;
use odradek::producer::Producer;

const NONE: i16 = 0;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const MEMBER_ID_REQUIRED: i16 = 79;

/// Errors after which a client looks the coordinator up again.
fn moving(code: i16) -> bool {
    matches!(
        code,
        COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
    )
}

const PROPS: &str = "broker.session.timeout.ms=2000\nbroker.heartbeat.interval.ms=200\n\
replica.lag.time.max.ms=2000\noffsets.topic.num.partitions=3\n\
group.initial.rebalance.delay.ms=0\ngroup.consumer.session.timeout.ms=45000\n";

/// Java's `String.hashCode`, to pick group ids that share an offsets partition.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

fn offsets_partition(group: &str, partitions: i32) -> i32 {
    java_hash(group).checked_abs().unwrap_or(0) % partitions
}

/// The coordinator FindCoordinator (v4) names at `addr`, once it names one.
async fn coordinator(addr: SocketAddr, group: &str) -> i32 {
    eventually("a group coordinator", || async {
        let mut req = FindCoordinatorRequest::default();
        req.key_type = 0;
        req.coordinator_keys = vec![s(group)];
        let r = Client::connect(addr).await.call(req, 4).await;
        let c = &r.coordinators[0];
        (c.error_code == NONE).then_some(c.node_id.0)
    })
    .await
}

fn commit_req(group: &str, member: &str, generation: i32, offset: i64) -> OffsetCommitRequest {
    let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = offset;
    p.committed_metadata = Some(s("m"));
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = topic("t");
    t.partitions = vec![p];
    let mut r = OffsetCommitRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.generation_id_or_member_epoch = generation;
    r.topics = vec![t];
    r
}

async fn commit(addr: SocketAddr, group: &str, member: &str, generation: i32, offset: i64) -> i16 {
    let r = Client::connect(addr)
        .await
        .call(commit_req(group, member, generation, offset), 8)
        .await;
    r.topics[0].partitions[0].error_code
}

/// (error, committed offset of t-0) from OffsetFetch v8.
async fn fetch_committed(addr: SocketAddr, group: &str) -> (i16, i64) {
    let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
    g.group_id = GroupId(s(group));
    let mut t = offset_fetch_request::OffsetFetchRequestTopics::default();
    t.name = topic("t");
    t.partition_indexes = vec![0];
    g.topics = Some(vec![t]);
    let mut req = OffsetFetchRequest::default();
    req.groups = vec![g];
    let r = Client::connect(addr).await.call(req, 8).await;
    let g = &r.groups[0];
    let offset = g
        .topics
        .first()
        .map(|t| t.partitions[0].committed_offset)
        .unwrap_or(-1);
    (g.error_code, offset)
}

fn join_req(group: &str, member: &str) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.session_timeout_ms = 30000;
    r.rebalance_timeout_ms = 10000;
    r.protocol_type = s("consumer");
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = Bytes::from_static(b"meta");
    r.protocols = vec![p];
    r
}

fn heartbeat_req(group: &str, member: &str, generation: i32) -> HeartbeatRequest {
    let mut r = HeartbeatRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.generation_id = generation;
    r
}

fn cg_heartbeat(group: &str, member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    let mut r = ConsumerGroupHeartbeatRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.member_epoch = epoch;
    r.rebalance_timeout_ms = if epoch == 0 { 10000 } else { -1 };
    if epoch == 0 {
        r.subscribed_topic_names = Some(vec![topic("t")]);
        r.topic_partitions = Some(Vec::new());
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_offsets_move_with_the_coordinator() {
    let mut cluster = TestCluster::start(3, PROPS).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    let mut c = Client::connect(addrs[0]).await;
    let r = common::create_topic_with(&mut c, "t", 1, 3, &[]).await;
    assert_eq!(r.error_code, NONE, "{:?}", r.error_message);

    // A classic group and a KIP-848 group on the same offsets partition.
    let classic = "classic-group";
    let consumer = (0..)
        .map(|i| format!("consumer-group-{i}"))
        .find(|g| offsets_partition(g, 3) == offsets_partition(classic, 3))
        .unwrap();
    let coord = coordinator(addrs[0], classic).await;
    assert_eq!(coordinator(addrs[1], &consumer).await, coord);
    let coord_addr = cluster.addr(coord as u64);

    // The internal topic: 3 partitions, 3 replicas, internal.
    let mut req = MetadataRequest::default();
    let mut mt = metadata_request::MetadataRequestTopic::default();
    mt.name = Some(topic("__consumer_offsets"));
    req.topics = Some(vec![mt]);
    let m = Client::connect(addrs[0]).await.call(req, 12).await;
    let t = &m.topics[0];
    assert_eq!(t.error_code, NONE);
    assert!(t.is_internal);
    assert_eq!(t.partitions.len(), 3);
    assert!(t.partitions.iter().all(|p| p.replica_nodes.len() == 3));

    // Another node does not coordinate the group.
    let other = cluster.addr((1..=3).find(|id| *id != coord as u64).unwrap());
    assert_eq!(commit(other, classic, "", -1, 1).await, NOT_COORDINATOR);
    let hb = Client::connect(other)
        .await
        .call(heartbeat_req(classic, "x", 1), 4)
        .await;
    assert_eq!(hb.error_code, NOT_COORDINATOR);

    // The classic member joins (KIP-394), leads and syncs: generation 1, Stable.
    let mut cc = Client::connect(coord_addr).await;
    let first = cc.call(join_req(classic, ""), 9).await;
    let first = if moving(first.error_code) {
        // The coordinator may still be loading its partition.
        eventually("the coordinator loaded", || async {
            let r = Client::connect(coord_addr)
                .await
                .call(join_req(classic, ""), 9)
                .await;
            (!moving(r.error_code)).then_some(r)
        })
        .await
    } else {
        first
    };
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    let joined = cc.call(join_req(classic, &first.member_id), 9).await;
    assert_eq!(joined.error_code, NONE);
    let member = joined.member_id.to_string();
    let generation = joined.generation_id;
    let mut sync = SyncGroupRequest::default();
    sync.group_id = GroupId(s(classic));
    sync.member_id = s(&member);
    sync.generation_id = generation;
    sync.protocol_type = Some(s("consumer"));
    let mut a = sync_group_request::SyncGroupRequestAssignment::default();
    a.member_id = s(&member);
    a.assignment = Bytes::from_static(b"all of t");
    sync.assignments = vec![a];
    let synced = cc.call(sync, 5).await;
    assert_eq!(synced.error_code, NONE);

    // The KIP-848 member joins and gets t-0.
    let r = cc.call(cg_heartbeat(&consumer, "", 0), 0).await;
    assert_eq!(r.error_code, NONE, "{:?}", r.error_message);
    let cg_member = r.member_id.unwrap().to_string();
    let mut cg_epoch = r.member_epoch;
    if r.assignment.is_none() {
        let r = cc
            .call(cg_heartbeat(&consumer, &cg_member, cg_epoch), 0)
            .await;
        cg_epoch = r.member_epoch;
    }
    assert!(cg_epoch > 0);

    // Commits are acknowledged once replicated (after the group records: those are covered).
    assert_eq!(
        commit(coord_addr, classic, &member, generation, 42).await,
        NONE
    );
    assert_eq!(
        commit(coord_addr, &consumer, &cg_member, cg_epoch, 7).await,
        NONE
    );
    assert_eq!(fetch_committed(coord_addr, classic).await, (NONE, 42));
    // A group with offsets only, deleted: its offsets are tombstones the next coordinator
    // replays too.
    let deleted = (0..)
        .map(|i| format!("deleted-group-{i}"))
        .find(|g| offsets_partition(g, 3) == offsets_partition(classic, 3))
        .unwrap();
    assert_eq!(commit(coord_addr, &deleted, "", -1, 5).await, NONE);
    let mut req = DeleteGroupsRequest::default();
    req.groups_names = vec![GroupId(s(&deleted))];
    let r = Client::connect(coord_addr).await.call(req, 2).await;
    assert_eq!(r.results[0].error_code, NONE);

    // The coordinator stops; the offsets partition's new leader coordinates.
    cluster.stop_node(coord as u64).await;
    let survivor = cluster.addrs()[0];
    let new_coord = eventually("a new coordinator", || async {
        let c = coordinator(survivor, classic).await;
        (c != coord).then_some(c)
    })
    .await;
    let new_addr = cluster.addr(new_coord as u64);
    let hb = eventually(
        "the classic member's heartbeat on the new coordinator",
        || async {
            let r = Client::connect(new_addr)
                .await
                .call(heartbeat_req(classic, &member, generation), 4)
                .await;
            (!moving(r.error_code)).then_some(r.error_code)
        },
    )
    .await;
    assert_eq!(hb, NONE, "the classic member kept its membership");
    assert_eq!(fetch_committed(new_addr, classic).await, (NONE, 42));
    assert_eq!(fetch_committed(new_addr, &consumer).await, (NONE, 7));
    assert_eq!(fetch_committed(new_addr, &deleted).await, (NONE, -1));
    let r = Client::connect(new_addr)
        .await
        .call(cg_heartbeat(&consumer, &cg_member, cg_epoch), 0)
        .await;
    assert_eq!(
        (r.error_code, r.member_epoch),
        (NONE, cg_epoch),
        "the KIP-848 member kept its membership: {:?}",
        r.error_message
    );
    // And both go on committing.
    assert_eq!(
        commit(new_addr, classic, &member, generation, 43).await,
        NONE
    );
    assert_eq!(
        commit(new_addr, &consumer, &cg_member, cg_epoch, 8).await,
        NONE
    );
    assert_eq!(fetch_committed(new_addr, classic).await, (NONE, 43));
    cluster.shutdown().await;
}

fn group_consumer(addrs: &[SocketAddr], group: &str) -> Consumer {
    let mut config = client_config(addrs);
    config.set("group.id", group).unwrap();
    config.set("enable.auto.commit", "false").unwrap();
    config.set("auto.offset.reset", "earliest").unwrap();
    let consumer = Consumer::new(&config).unwrap();
    consumer.subscribe(&["c"]).unwrap();
    consumer
}

/// Reads `n` records, checking they continue at `from` with no gap or repeat.
async fn read_from(consumer: &Consumer, from: i64, n: usize) {
    let mut next = from;
    while next < from + n as i64 {
        let r = consumer
            .poll(Duration::from_secs(60))
            .await
            .unwrap()
            .expect("a record within 60 s");
        assert_eq!(r.offset, next, "no skipped or repeated offset");
        assert_eq!(r.value.as_deref(), Some(format!("v{next}").as_bytes()));
        next += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_group_consumer_goes_on_after_its_coordinator_stops() {
    let mut cluster = TestCluster::start(3, PROPS).await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    let mut c = Client::connect(addrs[0]).await;
    let r = common::create_topic_with(&mut c, "c", 1, 3, &[]).await;
    assert_eq!(r.error_code, NONE, "{:?}", r.error_message);
    eventually("a full ISR", || async {
        partition0(addrs[0], "c")
            .await
            .filter(|(l, _, isr)| *l > 0 && isr.len() == 3)
    })
    .await;
    let mut config = client_config(&addrs);
    config.set("acks", "all").unwrap();
    let producer = Producer::new(config.producer().unwrap()).unwrap();
    send_values(&producer, "c", 0..200).await;
    producer.close().await.unwrap();

    let group = "ours";
    let consumer = group_consumer(&addrs, group);
    read_from(&consumer, 0, 100).await;
    consumer.commit().await.unwrap();
    let coord = coordinator(addrs[0], group).await;
    cluster.stop_node(coord as u64).await;
    // The consumer finds the new coordinator by itself and goes on where it was.
    read_from(&consumer, 100, 100).await;
    consumer.commit().await.unwrap();
    consumer.close().await.unwrap();
    let committed = eventually("the committed offset on the new coordinator", || async {
        let survivor = cluster.addrs()[0];
        let c = coordinator(survivor, group).await;
        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
        g.group_id = GroupId(s(group));
        g.topics = None;
        let mut req = OffsetFetchRequest::default();
        req.groups = vec![g];
        let r = Client::connect(cluster.addr(c as u64))
            .await
            .call(req, 8)
            .await;
        let g = &r.groups[0];
        (g.error_code == NONE)
            .then(|| g.topics.first().map(|t| t.partitions[0].committed_offset))
            .flatten()
            .filter(|o| *o >= 200)
    })
    .await;
    assert_eq!(committed, 200);
    // A new member of the group starts at the committed offset: nothing re-read.
    let addrs = cluster.addrs();
    let again = group_consumer(&addrs, group);
    assert!(again.poll(Duration::from_secs(3)).await.unwrap().is_none());
    again.close().await.unwrap();
    cluster.shutdown().await;
}
