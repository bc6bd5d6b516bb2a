//! The group coordinator over the wire: joins, protocol selection, sync, heartbeats, leave,
//! session expiry, static members, committed offsets across a restart, and the admin APIs.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use odradek_broker::FsyncPolicy;

const NONE: i16 = 0;
const ILLEGAL_GENERATION: i16 = 22;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;

fn join_req(
    group: &str,
    member: &str,
    instance: Option<&str>,
    protocols: &[&str],
) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.group_instance_id = instance.map(s);
    r.session_timeout_ms = 1500;
    r.rebalance_timeout_ms = 5000;
    r.protocol_type = s("consumer");
    r.protocols = protocols
        .iter()
        .map(|p| {
            let mut jp = join_group_request::JoinGroupRequestProtocol::default();
            jp.name = s(p);
            jp.metadata = Bytes::from(format!("meta-{p}"));
            jp
        })
        .collect();
    r
}

/// A dynamic member joins the KIP-394 way: MEMBER_ID_REQUIRED, then again with that id.
async fn join_new(c: &mut Client, group: &str, protocols: &[&str]) -> JoinGroupResponse {
    let first = c.call(join_req(group, "", None, protocols), 9).await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    assert!(!first.member_id.is_empty());
    c.call(join_req(group, &first.member_id, None, protocols), 9)
        .await
}

async fn sync(
    c: &mut Client,
    group: &str,
    member: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncGroupResponse {
    let mut r = SyncGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.generation_id = generation;
    r.protocol_type = Some(s("consumer"));
    r.assignments = assignments
        .iter()
        .map(|(m, a)| {
            let mut x = sync_group_request::SyncGroupRequestAssignment::default();
            x.member_id = s(m);
            x.assignment = Bytes::from(a.to_string());
            x
        })
        .collect();
    c.call(r, 5).await
}

async fn heartbeat(c: &mut Client, group: &str, member: &str, generation: i32) -> i16 {
    let mut r = HeartbeatRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.generation_id = generation;
    c.call(r, 4).await.error_code
}

async fn commit(
    c: &mut Client,
    group: &str,
    member: &str,
    generation: i32,
    offsets: &[(&str, i32, i64)],
) -> Vec<i16> {
    let mut r = OffsetCommitRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.generation_id_or_member_epoch = generation;
    for (t, p, o) in offsets {
        let mut tp = offset_commit_request::OffsetCommitRequestTopic::default();
        tp.name = topic(t);
        let mut pp = offset_commit_request::OffsetCommitRequestPartition::default();
        pp.partition_index = *p;
        pp.committed_offset = *o;
        pp.committed_metadata = Some(s("m"));
        tp.partitions.push(pp);
        r.topics.push(tp);
    }
    c.call(r, 9)
        .await
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// OffsetFetch v9 for several groups at once (all partitions when `partitions` is empty).
async fn fetch_offsets(c: &mut Client, groups: &[&str]) -> Vec<(String, Vec<(String, i32, i64)>)> {
    let mut r = OffsetFetchRequest::default();
    for g in groups {
        let mut rg = offset_fetch_request::OffsetFetchRequestGroup::default();
        rg.group_id = GroupId(s(g));
        rg.topics = None;
        r.groups.push(rg);
    }
    let resp = c.call(r, 9).await;
    resp.groups
        .into_iter()
        .map(|g| {
            let mut v: Vec<(String, i32, i64)> = g
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.name.to_string(), p.partition_index, p.committed_offset))
                })
                .collect();
            v.sort();
            (g.group_id.to_string(), v)
        })
        .collect()
}

async fn describe(c: &mut Client, group: &str) -> describe_groups_response::DescribedGroup {
    let mut r = DescribeGroupsRequest::default();
    r.groups.push(GroupId(s(group)));
    c.call(r, 5).await.groups.remove(0)
}

async fn connect(addr: SocketAddr) -> Client {
    Client::connect(addr).await
}

#[tokio::test]
async fn find_coordinator_single_and_batched() {
    let b = start().await;
    let mut c = connect(b.handle.local_addr()).await;
    let mut r = FindCoordinatorRequest::default();
    r.key = s("g");
    let old = c.call(r, 3).await;
    assert_eq!(old.error_code, NONE);
    assert_eq!(old.port, b.handle.local_addr().port() as i32);
    let mut r = FindCoordinatorRequest::default();
    r.coordinator_keys = vec![s("a"), s("b")];
    let new = c.call(r, 6).await;
    assert_eq!(new.coordinators.len(), 2);
    assert!(
        new.coordinators
            .iter()
            .all(|x| x.error_code == NONE && x.port == b.handle.local_addr().port() as i32)
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn two_members_rebalance_sync_heartbeat_and_leave() {
    let b = start_with("group.min.session.timeout.ms=1000", FsyncPolicy::Interval).await;
    let addr = b.handle.local_addr();
    let (mut a, mut bb, mut admin) = (
        connect(addr).await,
        connect(addr).await,
        connect(addr).await,
    );
    // Offsets are committed only for topics that exist.
    assert_eq!(create_topic(&mut admin, "t", 2, &[]).await, NONE);

    // A alone: generation 1, A leads.
    let ja = join_new(&mut a, "g1", &["roundrobin", "range"]).await;
    assert_eq!(ja.error_code, NONE);
    assert_eq!(ja.generation_id, 1);
    assert_eq!(ja.leader, ja.member_id);
    assert_eq!(ja.members.len(), 1);
    let sa = sync(&mut a, "g1", &ja.member_id, 1, &[(&ja.member_id, "all")]).await;
    assert_eq!((sa.error_code, &sa.assignment[..]), (NONE, &b"all"[..]));
    assert_eq!(heartbeat(&mut a, "g1", &ja.member_id, 1).await, NONE);

    // A protocol no member supports is refused.
    let bad = admin.call(join_req("g1", "", None, &["sticky"]), 9).await;
    assert_eq!(bad.error_code, INCONSISTENT_GROUP_PROTOCOL);

    // B joins (supports only range): A learns of the rebalance by heartbeat and rejoins.
    let b_first = bb.call(join_req("g1", "", None, &["range"]), 9).await;
    assert_eq!(b_first.error_code, MEMBER_ID_REQUIRED);
    let b_id = b_first.member_id.to_string();
    let b_join = tokio::spawn(async move {
        let r = bb.call(join_req("g1", &b_id, None, &["range"]), 9).await;
        (bb, r)
    });
    let mut hb = NONE;
    while hb != REBALANCE_IN_PROGRESS {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        hb = heartbeat(&mut a, "g1", &ja.member_id, 1).await;
    }
    let ja2 = a
        .call(
            join_req("g1", &ja.member_id, None, &["roundrobin", "range"]),
            9,
        )
        .await;
    let (mut bb, jb2) = b_join.await.unwrap();
    assert_eq!((ja2.error_code, jb2.error_code), (NONE, NONE));
    assert_eq!((ja2.generation_id, jb2.generation_id), (2, 2));
    // The only protocol both support.
    assert_eq!(ja2.protocol_name.as_deref(), Some("range"));
    assert_eq!(ja2.leader, ja.member_id, "the leader stays the leader");
    assert_eq!(ja2.members.len(), 2);
    assert!(jb2.members.is_empty(), "only the leader gets the members");
    assert!(ja2.members.iter().any(|m| &m.metadata[..] == b"meta-range"));

    // The follower's SyncGroup waits for the leader's.
    let b_member = jb2.member_id.to_string();
    let b_sync = tokio::spawn(async move {
        let r = sync(&mut bb, "g1", &b_member, 2, &[]).await;
        (bb, r)
    });
    let assignments = [(&*ja.member_id, "for-a"), (&*jb2.member_id, "for-b")];
    let sa2 = sync(&mut a, "g1", &ja.member_id, 2, &assignments).await;
    let (mut bb, sb2) = b_sync.await.unwrap();
    assert_eq!(&sa2.assignment[..], b"for-a");
    assert_eq!(&sb2.assignment[..], b"for-b");
    assert_eq!(sb2.protocol_name.as_deref(), Some("range"));

    // Stale generation and unknown member.
    assert_eq!(
        heartbeat(&mut bb, "g1", &jb2.member_id, 1).await,
        ILLEGAL_GENERATION
    );
    assert_eq!(
        heartbeat(&mut bb, "g1", "nobody", 2).await,
        UNKNOWN_MEMBER_ID
    );
    let d = describe(&mut admin, "g1").await;
    assert_eq!(&*d.group_state, "Stable");
    assert_eq!(&*d.protocol_data, "range");
    assert_eq!(d.members.len(), 2);

    // Members commit in their generation; the fetch sees it.
    assert_eq!(
        commit(&mut a, "g1", &ja.member_id, 2, &[("t", 0, 42)]).await,
        vec![NONE]
    );
    assert_eq!(
        commit(&mut a, "g1", &ja.member_id, 1, &[("t", 0, 1)]).await,
        vec![ILLEGAL_GENERATION]
    );
    assert_eq!(
        commit(&mut a, "g1", "", -1, &[("t", 0, 1)]).await,
        vec![UNKNOWN_MEMBER_ID]
    );

    // Deleting a group with members is refused.
    let mut del = DeleteGroupsRequest::default();
    del.groups_names.push(GroupId(s("g1")));
    assert_eq!(
        admin.call(del.clone(), 2).await.results[0].error_code,
        NON_EMPTY_GROUP
    );

    // B leaves (batched form), then A stops heartbeating and its session expires.
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = GroupId(s("g1"));
    let mut m = leave_group_request::MemberIdentity::default();
    m.member_id = jb2.member_id.clone();
    leave.members.push(m);
    let lr = bb.call(leave, 5).await;
    assert_eq!(lr.members[0].error_code, NONE);
    loop {
        let d = describe(&mut admin, "g1").await;
        if &*d.group_state == "Empty" {
            assert!(d.members.is_empty());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // An Empty group takes admin commits and can be deleted with its offsets.
    assert_eq!(
        commit(&mut admin, "g1", "", -1, &[("t", 1, 7)]).await,
        vec![NONE]
    );
    assert_eq!(admin.call(del.clone(), 2).await.results[0].error_code, NONE);
    assert_eq!(
        admin.call(del, 2).await.results[0].error_code,
        GROUP_ID_NOT_FOUND
    );
    assert_eq!(fetch_offsets(&mut admin, &["g1"]).await[0].1, vec![]);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn static_member_rejoins_without_rebalance_and_fences_the_old_id() {
    let b = start_with("group.min.session.timeout.ms=1000", FsyncPolicy::Interval).await;
    let addr = b.handle.local_addr();
    let (mut a, mut x) = (connect(addr).await, connect(addr).await);
    // Static members get their id at once (no MEMBER_ID_REQUIRED round).
    let lead = a
        .call(join_req("gs", "", Some("lead"), &["range"]), 9)
        .await;
    assert_eq!(lead.error_code, NONE);
    let s1 = sync(&mut a, "gs", &lead.member_id, 1, &[(&lead.member_id, "L")]).await;
    assert_eq!(s1.error_code, NONE);
    // A second static member: the leader must rejoin for generation 2.
    let jx = tokio::spawn(async move {
        let r = x
            .call(join_req("gs", "", Some("inst-x"), &["range"]), 9)
            .await;
        (x, r)
    });
    while heartbeat(&mut a, "gs", &lead.member_id, 1).await != REBALANCE_IN_PROGRESS {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let lead2 = a
        .call(join_req("gs", &lead.member_id, Some("lead"), &["range"]), 9)
        .await;
    let (mut x, jx) = jx.await.unwrap();
    assert_eq!(lead2.generation_id, 2);
    let old_x = jx.member_id.to_string();
    let xs = tokio::spawn(async move {
        let r = sync(&mut x, "gs", &old_x, 2, &[]).await;
        (x, r)
    });
    let sync_lead = sync(
        &mut a,
        "gs",
        &lead.member_id,
        2,
        &[(&lead.member_id, "L"), (&jx.member_id, "X")],
    )
    .await;
    assert_eq!(sync_lead.error_code, NONE);
    let (_x, sx) = xs.await.unwrap();
    assert_eq!(&sx.assignment[..], b"X");

    // inst-x restarts: new member id, same generation, same assignment, no rebalance.
    let mut x2 = connect(addr).await;
    let rejoin = x2
        .call(join_req("gs", "", Some("inst-x"), &["range"]), 9)
        .await;
    assert_eq!(rejoin.error_code, NONE);
    assert_eq!(rejoin.generation_id, 2);
    assert_ne!(rejoin.member_id, jx.member_id);
    let again = sync(&mut x2, "gs", &rejoin.member_id, 2, &[]).await;
    assert_eq!(&again.assignment[..], b"X");
    assert_eq!(heartbeat(&mut a, "gs", &lead.member_id, 2).await, NONE);
    // The old incarnation is fenced.
    let mut hb = HeartbeatRequest::default();
    hb.group_id = GroupId(s("gs"));
    hb.member_id = jx.member_id.clone();
    hb.group_instance_id = Some(s("inst-x"));
    hb.generation_id = 2;
    assert_eq!(x2.call(hb, 4).await.error_code, FENCED_INSTANCE_ID);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn committed_offsets_survive_restart_and_fetch_is_batched() {
    let dir = tempfile::tempdir().unwrap();
    let handle = start_in(dir.path(), "", FsyncPolicy::Interval).await;
    let mut c = connect(handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "t", 2, &[]).await, NONE);
    assert_eq!(create_topic(&mut c, "u", 1, &[]).await, NONE);
    assert_eq!(
        commit(
            &mut c,
            "ga",
            "",
            -1,
            &[("t", 0, 10), ("t", 1, 11), ("u", 0, 12)]
        )
        .await,
        vec![NONE; 3]
    );
    assert_eq!(
        commit(&mut c, "gb", "", -1, &[("t", 0, 20)]).await,
        vec![NONE]
    );
    assert_eq!(
        commit(&mut c, "ga", "", -1, &[("t", 0, 13)]).await,
        vec![NONE]
    );
    // OffsetDelete of one partition.
    let mut od = OffsetDeleteRequest::default();
    od.group_id = GroupId(s("ga"));
    let mut t = offset_delete_request::OffsetDeleteRequestTopic::default();
    t.name = topic("u");
    let mut p = offset_delete_request::OffsetDeleteRequestPartition::default();
    p.partition_index = 0;
    t.partitions.push(p);
    od.topics.push(t);
    let odr = c.call(od, 0).await;
    assert_eq!(
        (odr.error_code, odr.topics[0].partitions[0].error_code),
        (NONE, NONE)
    );
    handle.shutdown().await;

    let handle = start_in(dir.path(), "", FsyncPolicy::Interval).await;
    let mut c = connect(handle.local_addr()).await;
    let got = fetch_offsets(&mut c, &["ga", "gb", "gc"]).await;
    assert_eq!(got[0].1, vec![("t".into(), 0, 13), ("t".into(), 1, 11)]);
    assert_eq!(got[1].1, vec![("t".into(), 0, 20)]);
    assert_eq!(got[2].1, vec![]);
    // Older single-group form, with an explicit unknown partition answered with -1.
    let mut r = OffsetFetchRequest::default();
    r.group_id = GroupId(s("ga"));
    let mut ft = offset_fetch_request::OffsetFetchRequestTopic::default();
    ft.name = topic("t");
    ft.partition_indexes = vec![1, 5];
    r.topics = Some(vec![ft]);
    let old = c.call(r, 5).await;
    let offs: Vec<i64> = old.topics[0]
        .partitions
        .iter()
        .map(|p| p.committed_offset)
        .collect();
    assert_eq!(offs, vec![11, -1]);
    // Groups known only from offsets are listed as Empty after the restart.
    let lg = c.call(ListGroupsRequest::default(), 4).await;
    let listed: Vec<(String, String)> = lg
        .groups
        .iter()
        .map(|g| (g.group_id.to_string(), g.group_state.to_string()))
        .collect();
    assert_eq!(
        listed,
        vec![("ga".into(), "Empty".into()), ("gb".into(), "Empty".into())]
    );
    handle.shutdown().await;
}

const FENCED_MEMBER_EPOCH: i16 = 110;
const STALE_MEMBER_EPOCH: i16 = 113;
const UNSUPPORTED_ASSIGNOR: i16 = 112;

fn cg_heartbeat(
    group: &str,
    member: &str,
    epoch: i32,
    owned: Option<Vec<(uuid::Uuid, Vec<i32>)>>,
) -> ConsumerGroupHeartbeatRequest {
    let mut r = ConsumerGroupHeartbeatRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.member_epoch = epoch;
    r.rebalance_timeout_ms = if epoch == 0 { 5000 } else { -1 };
    if epoch == 0 {
        r.subscribed_topic_names = Some(vec![topic("k")]);
    }
    r.topic_partitions = owned.map(|o| {
        o.into_iter()
            .map(|(id, ps)| {
                let mut t = consumer_group_heartbeat_request::TopicPartitions::default();
                t.topic_id = id;
                t.partitions = ps;
                t
            })
            .collect()
    });
    r
}

fn partitions(resp: &ConsumerGroupHeartbeatResponse) -> Option<Vec<(uuid::Uuid, Vec<i32>)>> {
    resp.assignment.as_ref().map(|a| {
        a.topic_partitions
            .iter()
            .map(|t| (t.topic_id, t.partitions.clone()))
            .collect()
    })
}

fn count(a: &Option<Vec<(uuid::Uuid, Vec<i32>)>>) -> usize {
    a.iter().flatten().map(|(_, ps)| ps.len()).sum()
}

/// KIP-848 over the wire: advertised versions, join, revoke-before-assign, describe, list by
/// type, commits and fetches checked against member epochs, the group-type guards, leave.
#[tokio::test]
async fn consumer_group_heartbeat_reconciles_and_offsets_check_member_epochs() {
    let b = start_with("group.min.session.timeout.ms=1000", FsyncPolicy::Interval).await;
    let mut c = connect(b.handle.local_addr()).await;
    let versions = c.call(ApiVersionsRequest::default(), 3).await;
    for (key, max) in [
        (ApiKey::ConsumerGroupHeartbeat, 1),
        (ApiKey::ConsumerGroupDescribe, 1),
    ] {
        let k = versions
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .expect("advertised");
        assert_eq!((k.min_version, k.max_version), (0, max));
    }
    assert_eq!(create_topic(&mut c, "k", 4, &[]).await, NONE);

    // An unknown assignor is refused.
    let mut bad = cg_heartbeat("cg", "m0", 0, Some(vec![]));
    bad.server_assignor = Some(s("sticky-ish"));
    assert_eq!(c.call(bad, 1).await.error_code, UNSUPPORTED_ASSIGNOR);

    // v0: the coordinator names the member; it gets all four partitions.
    let a = c.call(cg_heartbeat("cg", "", 0, Some(vec![])), 0).await;
    assert_eq!(a.error_code, NONE, "{:?}", a.error_message);
    let a_id = a.member_id.clone().unwrap().to_string();
    assert!(!a_id.is_empty());
    assert_eq!(count(&partitions(&a)), 4);
    let tid = partitions(&a).unwrap()[0].0;
    // v1: the member names itself.
    let b1 = c
        .call(cg_heartbeat("cg", "member-b", 0, Some(vec![])), 1)
        .await;
    assert_eq!(b1.member_id.as_deref(), Some("member-b"));
    assert_eq!(count(&partitions(&b1)), 0, "nothing is free yet");
    assert!(b1.heartbeat_interval_ms > 0);
    // a is asked to give up two partitions, at its old epoch.
    let a2 = c
        .call(cg_heartbeat("cg", &a_id, a.member_epoch, None), 1)
        .await;
    assert_eq!(a2.member_epoch, a.member_epoch);
    let kept = partitions(&a2).unwrap();
    assert_eq!(count(&Some(kept.clone())), 2);
    // Before a acknowledges, b still has nothing.
    let b2 = c
        .call(cg_heartbeat("cg", "member-b", b1.member_epoch, None), 1)
        .await;
    assert_eq!(count(&partitions(&b2)), 0);
    // ConsumerGroupDescribe while reconciling.
    let mut d = ConsumerGroupDescribeRequest::default();
    d.group_ids = vec![GroupId(s("cg")), GroupId(s("nope"))];
    let desc = c.call(d.clone(), 1).await;
    assert_eq!(desc.groups[0].error_code, NONE);
    assert_eq!(desc.groups[0].group_state.as_str(), "Reconciling");
    assert_eq!(desc.groups[0].assignor_name.as_str(), "uniform");
    assert_eq!(desc.groups[0].members.len(), 2);
    assert_eq!(desc.groups[1].error_code, GROUP_ID_NOT_FOUND);
    // a acknowledges; then b gets the two freed partitions.
    let a3 = c
        .call(
            cg_heartbeat("cg", &a_id, a2.member_epoch, Some(kept.clone())),
            1,
        )
        .await;
    assert_eq!(a3.member_epoch, b1.member_epoch);
    let b3 = c
        .call(cg_heartbeat("cg", "member-b", b2.member_epoch, None), 1)
        .await;
    let got = partitions(&b3).unwrap();
    assert_eq!(count(&Some(got.clone())), 2);
    let mut all: Vec<i32> = kept
        .iter()
        .chain(got.iter())
        .flat_map(|(_, ps)| ps.clone())
        .collect();
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3]);
    let desc = c.call(d, 1).await;
    assert_eq!(desc.groups[0].group_state.as_str(), "Stable");
    let named = &desc.groups[0].members[0].assignment.topic_partitions[0];
    assert_eq!((named.topic_id, named.topic_name.as_str()), (tid, "k"));
    // A future epoch is fenced.
    assert_eq!(
        c.call(cg_heartbeat("cg", "member-b", 99, None), 1)
            .await
            .error_code,
        FENCED_MEMBER_EPOCH
    );

    // Commits carry the member epoch.
    let epoch_b = b3.member_epoch;
    assert_eq!(
        commit(&mut c, "cg", "member-b", epoch_b, &[("k", 0, 5)]).await,
        vec![NONE]
    );
    assert_eq!(
        commit(&mut c, "cg", "member-b", epoch_b + 5, &[("k", 0, 6)]).await,
        vec![STALE_MEMBER_EPOCH]
    );
    assert_eq!(
        commit(&mut c, "cg", "ghost", epoch_b, &[("k", 0, 6)]).await,
        vec![UNKNOWN_MEMBER_ID]
    );
    assert_eq!(
        commit(&mut c, "cg", "", -1, &[("k", 0, 6)]).await,
        vec![UNKNOWN_MEMBER_ID],
        "an admin commit needs an empty group"
    );
    // OffsetFetch v9 with the member's id and epoch; a stale epoch is refused.
    let fetch = |member: &str, epoch: i32| {
        let mut r = OffsetFetchRequest::default();
        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
        g.group_id = GroupId(s("cg"));
        g.member_id = Some(s(member));
        g.member_epoch = epoch;
        g.topics = None;
        r.groups.push(g);
        r
    };
    let f = c.call(fetch("member-b", epoch_b), 9).await;
    assert_eq!(f.groups[0].error_code, NONE);
    assert_eq!(f.groups[0].topics[0].partitions[0].committed_offset, 5);
    let f = c.call(fetch("member-b", epoch_b + 5), 9).await;
    assert_eq!(f.groups[0].error_code, STALE_MEMBER_EPOCH);
    // A group the coordinator does not know (e.g. after a restart) has no offsets, and that is
    // not an error even for a member naming its epoch: it rejoins through its heartbeat.
    let mut r = OffsetFetchRequest::default();
    let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
    g.group_id = GroupId(s("forgotten"));
    g.member_id = Some(s("m"));
    g.member_epoch = 7;
    g.topics = None;
    r.groups.push(g);
    let f = c.call(r, 9).await;
    assert_eq!(
        (f.groups[0].error_code, f.groups[0].topics.len()),
        (NONE, 0)
    );

    // Classic groups and consumer groups share the id space.
    let mut j = join_req("cg", "", None, &["range"]);
    j.session_timeout_ms = 6000;
    assert_eq!(c.call(j, 9).await.error_code, INCONSISTENT_GROUP_PROTOCOL);
    let mut dr = DescribeGroupsRequest::default();
    dr.groups.push(GroupId(s("cg")));
    let described = c.call(dr, 6).await.groups.remove(0);
    assert_eq!(
        described.error_code, GROUP_ID_NOT_FOUND,
        "not a classic group"
    );
    let mut dg = DeleteGroupsRequest::default();
    dg.groups_names = vec![GroupId(s("cg"))];
    assert_eq!(
        c.call(dg.clone(), 2).await.results[0].error_code,
        NON_EMPTY_GROUP
    );
    // ListGroups v5 by type.
    let _classic = join_new(&mut c, "classic-g", &["range"]).await;
    let list = |types: &[&str]| {
        let mut r = ListGroupsRequest::default();
        r.types_filter = types.iter().map(|t| s(t)).collect();
        r
    };
    let names = |r: ListGroupsResponse| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = r
            .groups
            .iter()
            .map(|g| (g.group_id.to_string(), g.group_type.to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(c.call(list(&["consumer"]), 5).await),
        vec![("cg".to_string(), "consumer".to_string())]
    );
    assert_eq!(
        names(c.call(list(&["classic"]), 5).await),
        vec![("classic-g".to_string(), "classic".to_string())]
    );
    assert_eq!(names(c.call(list(&[]), 5).await).len(), 2);

    // Both leave; the empty group can be deleted with its offsets.
    let left = c.call(cg_heartbeat("cg", &a_id, -1, None), 1).await;
    assert_eq!((left.error_code, left.member_epoch), (NONE, -1));
    let left = c.call(cg_heartbeat("cg", "member-b", -1, None), 1).await;
    assert_eq!((left.error_code, left.member_epoch), (NONE, -1));
    assert_eq!(c.call(dg, 2).await.results[0].error_code, NONE);
    b.handle.shutdown().await;
}
