//! Share groups (KIP-932) over the wire: acquisition under locks, accept / release / reject,
//! the delivery-count limit, lock expiry, two members splitting a partition, the in-flight bound,
//! share sessions, the offsets admin APIs, and the share-partition state across a restart.

mod common;

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use odradek_broker::FsyncPolicy;
use uuid::Uuid;

const NONE: i16 = 0;
const UNKNOWN_MEMBER_ID: i16 = 25;
const GROUP_MAX_SIZE_REACHED: i16 = 81;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const INVALID_REQUEST: i16 = 42;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const INVALID_RECORD_STATE: i16 = 121;
const INVALID_SHARE_SESSION_EPOCH: i16 = 123;

const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const REJECT: i8 = 3;

/// Short locks and a delivery limit of 2, so the tests see both without waiting long.
const PROPS: &str = "group.share.min.record.lock.duration.ms=200\ngroup.share.delivery.count.limit=2\ngroup.share.partition.max.record.locks=8";

async fn topic_id(c: &mut Client, name: &str) -> Uuid {
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(topic(name));
    req.topics = Some(vec![t]);
    let resp = c.call(req, 12).await;
    resp.topics[0].topic_id
}

async fn set_group_config(c: &mut Client, group: &str, key: &str, value: &str) -> i16 {
    let mut cfg = incremental_alter_configs_request::AlterableConfig::default();
    cfg.name = s(key);
    cfg.config_operation = 0;
    cfg.value = Some(s(value));
    let mut res = incremental_alter_configs_request::AlterConfigsResource::default();
    res.resource_type = 32;
    res.resource_name = s(group);
    res.configs.push(cfg);
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources.push(res);
    c.call(req, 1).await.responses[0].error_code
}

async fn heartbeat(
    c: &mut Client,
    group: &str,
    member: &str,
    epoch: i32,
    topics: &[&str],
) -> ShareGroupHeartbeatResponse {
    let mut req = ShareGroupHeartbeatRequest::default();
    req.group_id = GroupId(s(group));
    req.member_id = s(member);
    req.member_epoch = epoch;
    req.subscribed_topic_names = (epoch == 0).then(|| topics.iter().map(|t| topic(t)).collect());
    c.call(req, 1).await
}

/// One ShareFetch of partition 0 of `tid`, with acknowledgements (first, last, types).
async fn share_fetch(
    c: &mut Client,
    (group, member): (&str, &str),
    epoch: i32,
    tid: Uuid,
    acks: &[(i64, i64, &[i8])],
    max_records: i32,
    max_wait_ms: i32,
) -> ShareFetchResponse {
    let mut p = share_fetch_request::FetchPartition::default();
    p.partition_index = 0;
    p.acknowledgement_batches = acks
        .iter()
        .map(|(first, last, types)| {
            let mut b = share_fetch_request::AcknowledgementBatch::default();
            b.first_offset = *first;
            b.last_offset = *last;
            b.acknowledge_types = types.to_vec();
            b
        })
        .collect();
    let mut t = share_fetch_request::FetchTopic::default();
    t.topic_id = tid;
    t.partitions.push(p);
    let mut req = ShareFetchRequest::default();
    req.group_id = Some(GroupId(s(group)));
    req.member_id = Some(s(member));
    req.share_session_epoch = epoch;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.max_records = max_records;
    req.batch_size = max_records;
    req.topics.push(t);
    c.call(req, 1).await
}

async fn share_ack(
    c: &mut Client,
    group: &str,
    member: &str,
    epoch: i32,
    tid: Uuid,
    acks: &[(i64, i64, &[i8])],
) -> ShareAcknowledgeResponse {
    let mut p = share_acknowledge_request::AcknowledgePartition::default();
    p.partition_index = 0;
    p.acknowledgement_batches = acks
        .iter()
        .map(|(first, last, types)| {
            let mut b = share_acknowledge_request::AcknowledgementBatch::default();
            b.first_offset = *first;
            b.last_offset = *last;
            b.acknowledge_types = types.to_vec();
            b
        })
        .collect();
    let mut t = share_acknowledge_request::AcknowledgeTopic::default();
    t.topic_id = tid;
    t.partitions.push(p);
    let mut req = ShareAcknowledgeRequest::default();
    req.group_id = Some(GroupId(s(group)));
    req.member_id = Some(s(member));
    req.share_session_epoch = epoch;
    req.topics.push(t);
    c.call(req, 1).await
}

/// (first, last, delivery count) ranges acquired in a ShareFetch answer, and the record values
/// it carries at those offsets.
/// (first, last, delivery count) of each acquired range.
type Ranges = Vec<(i64, i64, i16)>;

fn acquired(resp: &ShareFetchResponse) -> (Ranges, Vec<(i64, String)>) {
    assert_eq!(resp.error_code, NONE, "{:?}", resp.error_message);
    let mut ranges = Vec::new();
    let mut values = Vec::new();
    for t in &resp.responses {
        for p in &t.partitions {
            assert_eq!(p.error_code, NONE, "{:?}", p.error_message);
            for r in &p.acquired_records {
                ranges.push((r.first_offset, r.last_offset, r.delivery_count));
            }
            if let Some(records) = &p.records {
                for (offset, v) in decode_values(records.clone()) {
                    if p.acquired_records
                        .iter()
                        .any(|r| (r.first_offset..=r.last_offset).contains(&offset))
                    {
                        values.push((offset, v.unwrap_or_default()));
                    }
                }
            }
        }
    }
    (ranges, values)
}

fn ack_error(resp: &ShareFetchResponse) -> i16 {
    resp.responses[0].partitions[0].acknowledge_error_code
}

async fn start_offset(c: &mut Client, group: &str, name: &str) -> (i16, i64) {
    let mut t =
        describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestTopic::default();
    t.topic_name = topic(name);
    t.partitions = vec![0];
    let mut g =
        describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default();
    g.group_id = GroupId(s(group));
    g.topics = Some(vec![t]);
    let mut req = DescribeShareGroupOffsetsRequest::default();
    req.groups.push(g);
    let resp = c.call(req, 0).await;
    let g = &resp.groups[0];
    if g.error_code != NONE {
        return (g.error_code, -1);
    }
    (NONE, g.topics[0].partitions[0].start_offset)
}

async fn produce_ten(c: &mut Client, name: &str) {
    let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let (err, base) = produce(
        c,
        name,
        0,
        batch(&values, None, None, Compression::None),
        -1,
    )
    .await;
    assert_eq!((err, base), (NONE, 0));
}

/// Prepares topic `t` (10 records) and group `g` reading from the earliest offset.
async fn setup(c: &mut Client, group: &str) -> Uuid {
    assert_eq!(create_topic(c, "t", 1, &[]).await, NONE);
    produce_ten(c, "t").await;
    assert_eq!(
        set_group_config(c, group, "share.auto.offset.reset", "earliest").await,
        NONE
    );
    topic_id(c, "t").await
}

#[tokio::test]
async fn acquire_accept_release_reject_and_the_delivery_limit() {
    let b = start_with(PROPS, FsyncPolicy::Interval).await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let tid = setup(&mut c, "g").await;
    let hb = heartbeat(&mut c, "g", "m1", 0, &["t"]).await;
    assert_eq!(hb.error_code, NONE);
    assert_eq!(
        hb.assignment.unwrap().topic_partitions[0].partitions,
        vec![0]
    );

    let r = share_fetch(&mut c, ("g", "m1"), 0, tid, &[], 4, 0).await;
    let (ranges, values) = acquired(&r);
    assert_eq!(ranges, vec![(0, 3, 1)]);
    assert_eq!(values[0], (0, "v0".to_string()));
    assert!(r.acquisition_lock_timeout_ms > 0);

    // Accept 0, release 1, reject 2 (one type per offset); 3 stays acquired. The released
    // record comes back first, with delivery count 2.
    let r = share_fetch(
        &mut c,
        ("g", "m1"),
        1,
        tid,
        &[(0, 2, &[ACCEPT, RELEASE, REJECT])],
        4,
        0,
    )
    .await;
    assert_eq!(ack_error(&r), NONE);
    let (ranges, _) = acquired(&r);
    assert_eq!(ranges, vec![(1, 1, 2), (4, 6, 1)]);

    // An acknowledgement of a record this member does not hold changes nothing.
    let r = share_fetch(&mut c, ("g", "m1"), 2, tid, &[(3, 8, &[ACCEPT])], 4, 0).await;
    assert_eq!(ack_error(&r), INVALID_RECORD_STATE);
    assert_eq!(start_offset(&mut c, "g", "t").await, (NONE, 1));

    // Releasing a record at the delivery-count limit archives it: 0 accepted, 1 and 2 archived.
    let a = share_ack(
        &mut c,
        "g",
        "m1",
        3,
        tid,
        &[(1, 1, &[RELEASE]), (3, 3, &[ACCEPT])],
    )
    .await;
    assert_eq!(a.error_code, NONE);
    assert_eq!(a.responses[0].partitions[0].error_code, NONE);
    assert_eq!(start_offset(&mut c, "g", "t").await, (NONE, 4));

    // Wrong session epochs are refused.
    let r = share_fetch(&mut c, ("g", "m1"), 9, tid, &[], 4, 0).await;
    assert_eq!(r.error_code, INVALID_SHARE_SESSION_EPOCH);
    let a = share_ack(&mut c, "g", "m1", 0, tid, &[(4, 4, &[ACCEPT])]).await;
    assert_eq!(a.error_code, INVALID_SHARE_SESSION_EPOCH);
    // Malformed acknowledgements: too few types, an unknown type.
    let r = share_fetch(
        &mut c,
        ("g", "m1"),
        4,
        tid,
        &[(4, 6, &[ACCEPT, ACCEPT])],
        4,
        0,
    )
    .await;
    assert_eq!(ack_error(&r), INVALID_REQUEST);
    let r = share_fetch(&mut c, ("g", "m1"), 5, tid, &[(4, 4, &[9])], 4, 0).await;
    assert_eq!(ack_error(&r), INVALID_REQUEST);
    // None of that released 4..=6: accepting them still works.
    let r = share_fetch(&mut c, ("g", "m1"), 6, tid, &[(4, 6, &[ACCEPT])], 4, 0).await;
    assert_eq!(ack_error(&r), NONE);
    assert_eq!(start_offset(&mut c, "g", "t").await, (NONE, 7));
    b.handle.shutdown().await;
}

#[tokio::test]
async fn an_expired_lock_makes_records_available_again() {
    let b = start_with(PROPS, FsyncPolicy::Interval).await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let tid = setup(&mut c, "g").await;
    assert_eq!(
        set_group_config(&mut c, "g", "share.record.lock.duration.ms", "200").await,
        NONE
    );
    heartbeat(&mut c, "g", "m1", 0, &["t"]).await;
    heartbeat(&mut c, "g", "m2", 0, &["t"]).await;
    let mut c2 = Client::connect(b.handle.local_addr()).await;
    let (ranges, _) = acquired(&share_fetch(&mut c, ("g", "m1"), 0, tid, &[], 3, 0).await);
    assert_eq!(ranges, vec![(0, 2, 1)]);
    // m1 never acknowledges; once its lock runs out m2 gets the records, delivery count 2.
    let mut epoch = 0;
    let got = loop {
        let (ranges, _) =
            acquired(&share_fetch(&mut c2, ("g", "m2"), epoch, tid, &[], 3, 500).await);
        epoch += 1;
        if ranges.first().is_some_and(|r| r.0 == 0) {
            break ranges;
        }
        assert!(epoch < 50, "the lock never expired: last answer {ranges:?}");
        if !ranges.is_empty() {
            // Records past m1's are not what this test waits for: give them back.
            let (f, l, _) = ranges[0];
            let a = share_ack(&mut c2, "g", "m2", epoch, tid, &[(f, l, &[RELEASE])]).await;
            assert_eq!(a.error_code, NONE);
            epoch += 1;
        }
    };
    assert_eq!(got[0], (0, 2, 2));
    // m1's acknowledgement comes too late: it no longer holds the records.
    let a = share_ack(&mut c, "g", "m1", 1, tid, &[(0, 2, &[ACCEPT])]).await;
    assert_eq!(
        a.responses[0].partitions[0].error_code,
        INVALID_RECORD_STATE
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn two_members_split_the_records_and_the_window_is_bounded() {
    let b = start_with(PROPS, FsyncPolicy::Interval).await;
    let mut c1 = Client::connect(b.handle.local_addr()).await;
    let mut c2 = Client::connect(b.handle.local_addr()).await;
    let tid = setup(&mut c1, "g").await;
    for m in ["m1", "m2"] {
        let hb = heartbeat(&mut c1, "g", m, 0, &["t"]).await;
        assert_eq!(
            hb.assignment.unwrap().topic_partitions[0].partitions,
            vec![0]
        );
    }
    // At most group.share.partition.max.record.locks (8) records are in flight.
    let (r1, v1) = acquired(&share_fetch(&mut c1, ("g", "m1"), 0, tid, &[], 5, 0).await);
    let (r2, v2) = acquired(&share_fetch(&mut c2, ("g", "m2"), 0, tid, &[], 100, 0).await);
    assert_eq!(r1, vec![(0, 4, 1)]);
    assert_eq!(r2, vec![(5, 7, 1)]);
    let offsets: Vec<i64> = v1.iter().chain(&v2).map(|(o, _)| *o).collect();
    assert_eq!(
        offsets,
        (0..8).collect::<Vec<_>>(),
        "each record to one member"
    );
    // Nothing more until the front is acknowledged.
    let (r, _) = acquired(&share_fetch(&mut c2, ("g", "m2"), 1, tid, &[], 100, 0).await);
    assert!(r.is_empty(), "{r:?}");
    let a = share_ack(&mut c1, "g", "m1", 1, tid, &[(0, 4, &[ACCEPT])]).await;
    assert_eq!(a.responses[0].partitions[0].error_code, NONE);
    let (r, _) = acquired(&share_fetch(&mut c2, ("g", "m2"), 2, tid, &[], 100, 0).await);
    assert_eq!(r, vec![(8, 9, 1)]);

    // A share group's id takes no classic or KIP-848 members.
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(s("g"));
    join.member_id = s("");
    join.session_timeout_ms = 10_000;
    join.rebalance_timeout_ms = 10_000;
    join.protocol_type = s("consumer");
    let mut proto = join_group_request::JoinGroupRequestProtocol::default();
    proto.name = s("range");
    join.protocols.push(proto);
    assert_eq!(
        c1.call(join, 9).await.error_code,
        INCONSISTENT_GROUP_PROTOCOL
    );
    let mut chb = ConsumerGroupHeartbeatRequest::default();
    chb.group_id = GroupId(s("g"));
    chb.member_id = s("x");
    chb.rebalance_timeout_ms = 10_000;
    chb.subscribed_topic_names = Some(vec![topic("t")]);
    assert_eq!(c1.call(chb, 1).await.error_code, GROUP_ID_NOT_FOUND);

    // ShareGroupDescribe shows both members with the partition; ListGroups lists it as share.
    let mut d = ShareGroupDescribeRequest::default();
    d.group_ids = vec![GroupId(s("g"))];
    let d = c1.call(d, 1).await;
    assert_eq!(d.groups[0].error_code, NONE);
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].members.len(), 2);
    let mut l = ListGroupsRequest::default();
    l.types_filter = vec![s("share")];
    let l = c1.call(l, 5).await;
    let ids: Vec<&str> = l.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(ids, vec!["g"]);

    // A member leaving gives its records back: m2 leaves holding 5..=9, m1 gets them.
    let hb = heartbeat(&mut c1, "g", "m2", -1, &[]).await;
    assert_eq!(hb.member_epoch, -1);
    let (r, _) = acquired(&share_fetch(&mut c1, ("g", "m1"), 2, tid, &[], 100, 0).await);
    assert_eq!(r, vec![(5, 9, 2)]);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn only_members_fetch_and_a_group_holds_at_most_max_size_members() {
    let props = format!("{PROPS}\ngroup.share.max.size=2");
    let b = start_with(&props, FsyncPolicy::Interval).await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let tid = setup(&mut c, "g").await;

    // A ShareFetch from a client that never joined makes no state, in a known group id or not.
    for group in ["g", "made-up"] {
        let r = share_fetch(&mut c, (group, "stranger"), 0, tid, &[], 4, 0).await;
        assert_eq!(r.error_code, UNKNOWN_MEMBER_ID, "{group}");
        assert!(r.responses.is_empty(), "{group}: {:?}", r.responses);
    }
    let mut l = ListGroupsRequest::default();
    l.types_filter = vec![s("share")];
    assert!(c.call(l.clone(), 5).await.groups.is_empty());

    // Two members fit; the third is refused until one leaves.
    for m in ["m1", "m2"] {
        assert_eq!(heartbeat(&mut c, "g", m, 0, &["t"]).await.error_code, NONE);
    }
    assert_eq!(
        heartbeat(&mut c, "g", "m3", 0, &["t"]).await.error_code,
        GROUP_MAX_SIZE_REACHED
    );
    let r = share_fetch(&mut c, ("g", "m3"), 0, tid, &[], 4, 0).await;
    assert_eq!(r.error_code, UNKNOWN_MEMBER_ID);
    assert_eq!(heartbeat(&mut c, "g", "m1", -1, &[]).await.member_epoch, -1);
    assert_eq!(
        heartbeat(&mut c, "g", "m3", 0, &["t"]).await.error_code,
        NONE
    );
    let (ranges, _) = acquired(&share_fetch(&mut c, ("g", "m3"), 0, tid, &[], 4, 0).await);
    assert_eq!(ranges, vec![(0, 3, 1)]);
    let ids: Vec<String> = c
        .call(l, 5)
        .await
        .groups
        .iter()
        .map(|g| g.group_id.to_string())
        .collect();
    assert_eq!(ids, vec!["g"]);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn offsets_admin_and_state_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let handle = start_in(dir.path(), PROPS, FsyncPolicy::Interval).await;
    let mut c = Client::connect(handle.local_addr()).await;
    let tid = setup(&mut c, "g").await;
    assert_eq!(create_topic(&mut c, "other", 1, &[]).await, NONE);

    // AlterShareGroupOffsets on a group nobody consumes yet creates its state.
    let alter = |offset: i64| {
        let mut p =
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestPartition::default();
        p.partition_index = 0;
        p.start_offset = offset;
        let mut t =
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestTopic::default();
        t.topic_name = topic("t");
        t.partitions.push(p);
        let mut req = AlterShareGroupOffsetsRequest::default();
        req.group_id = GroupId(s("g"));
        req.topics.push(t);
        req
    };
    let r = c.call(alter(3), 0).await;
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (NONE, NONE)
    );
    assert_eq!(start_offset(&mut c, "g", "t").await, (NONE, 3));
    let r = c.call(alter(-5), 0).await;
    assert_eq!(r.responses[0].partitions[0].error_code, INVALID_REQUEST);

    // A classic group's id is not a share group's.
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(s("classic"));
    commit.generation_id_or_member_epoch = -1;
    let mut cp = offset_commit_request::OffsetCommitRequestPartition::default();
    cp.partition_index = 0;
    cp.committed_offset = 1;
    let mut ct = offset_commit_request::OffsetCommitRequestTopic::default();
    ct.name = topic("other");
    ct.partitions.push(cp);
    commit.topics.push(ct);
    assert_eq!(
        c.call(commit, 8).await.topics[0].partitions[0].error_code,
        NONE
    );
    assert_eq!(
        heartbeat(&mut c, "classic", "m", 0, &["t"])
            .await
            .error_code,
        GROUP_ID_NOT_FOUND
    );

    // Consume: 3 and 4 accepted, 5 released (delivery count 1 kept), 6 acquired at shutdown.
    heartbeat(&mut c, "g", "m1", 0, &["t"]).await;
    let r = c.call(alter(0), 0).await;
    assert_eq!(
        r.error_code, NON_EMPTY_GROUP,
        "a group with members keeps its offsets"
    );
    let (ranges, _) = acquired(&share_fetch(&mut c, ("g", "m1"), 0, tid, &[], 4, 0).await);
    assert_eq!(ranges, vec![(3, 6, 1)]);
    let a = share_ack(
        &mut c,
        "g",
        "m1",
        1,
        tid,
        &[(3, 5, &[ACCEPT, ACCEPT, RELEASE])],
    )
    .await;
    assert_eq!(a.responses[0].partitions[0].error_code, NONE);
    handle.shutdown().await;

    let handle = start_in(dir.path(), PROPS, FsyncPolicy::Interval).await;
    let mut c = Client::connect(handle.local_addr()).await;
    assert_eq!(start_offset(&mut c, "g", "t").await, (NONE, 5));
    heartbeat(&mut c, "g", "m1", 0, &["t"]).await;
    let (ranges, values) = acquired(&share_fetch(&mut c, ("g", "m1"), 0, tid, &[], 3, 0).await);
    assert_eq!(ranges, vec![(5, 6, 2), (7, 7, 1)]);
    assert_eq!(values[0], (5, "v5".to_string()));
    // The member leaves; the group is empty, so its offsets can be deleted, then the group.
    heartbeat(&mut c, "g", "m1", -1, &[]).await;
    let mut t = delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic::default();
    t.topic_name = topic("t");
    let mut req = DeleteShareGroupOffsetsRequest::default();
    req.group_id = GroupId(s("g"));
    req.topics.push(t);
    let r = c.call(req, 0).await;
    assert_eq!((r.error_code, r.responses[0].error_code), (NONE, NONE));
    assert_eq!(start_offset(&mut c, "g", "t").await, (NONE, -1));
    let mut dg = DeleteGroupsRequest::default();
    dg.groups_names = vec![GroupId(s("g"))];
    assert_eq!(c.call(dg, 2).await.results[0].error_code, NONE);
    assert_eq!(start_offset(&mut c, "g", "t").await.0, GROUP_ID_NOT_FOUND);
    handle.shutdown().await;
}
