//! Fetch sessions (KIP-227) over raw Fetch requests: a full fetch creates a session, incremental
//! fetches add, update and forget partitions and are answered only with what changed, epoch -1
//! closes, wrong ids and epochs are refused, and a full cache evicts by Kafka's rule.

mod common;

use common::*;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Encodable;
use kafka_protocol::records::Compression;

const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
const FETCH_SESSION_TOPIC_ID_ERROR: i16 = 106;

fn partition(index: i32, offset: i64) -> FetchPartition {
    let mut fp = FetchPartition::default();
    fp.partition = index;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    fp.current_leader_epoch = -1;
    fp.log_start_offset = -1;
    fp
}

/// A Fetch (no waiting) of `parts` (partition, offset) of `name`, with a session id and epoch.
fn session_fetch(name: &str, parts: &[(i32, i64)], session_id: i32, epoch: i32) -> FetchRequest {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = 50 * 1024 * 1024;
    req.session_id = session_id;
    req.session_epoch = epoch;
    if !parts.is_empty() {
        let mut ft = FetchTopic::default();
        ft.topic = topic(name);
        ft.partitions = parts.iter().map(|&(p, o)| partition(p, o)).collect();
        req.topics.push(ft);
    }
    req
}

fn forget(req: &mut FetchRequest, name: &str, parts: &[i32]) {
    let mut ft = ForgottenTopic::default();
    ft.topic = topic(name);
    ft.partitions = parts.to_vec();
    req.forgotten_topics_data.push(ft);
}

/// (partition, error, high watermark, record bytes) of every partition in a response.
fn answered(resp: &FetchResponse) -> Vec<(i32, i16, i64, usize)> {
    resp.responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            (
                p.partition_index,
                p.error_code,
                p.high_watermark,
                p.records.as_ref().map_or(0, |r| r.len()),
            )
        })
        .collect()
}

async fn produce_one(c: &mut Client, name: &str, partition: i32, value: &str) {
    let (e, _) = produce(
        c,
        name,
        partition,
        batch(&[value], None, None, Compression::None),
        1,
    )
    .await;
    assert_eq!(e, 0);
}

#[tokio::test]
async fn a_session_answers_only_partitions_that_changed() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "fs", 8, &[]).await, 0);
    produce_one(&mut c, "fs", 0, "a").await;
    let all: Vec<(i32, i64)> = (0..8).map(|p| (p, 0)).collect();

    // Full fetch asking for a session: every partition answered, a session id returned.
    let resp = c.call(session_fetch("fs", &all, 0, 0), 12).await;
    assert_eq!(resp.error_code, 0);
    let id = resp.session_id;
    assert_ne!(id, 0, "a full fetch with epoch 0 creates a session");
    let got = answered(&resp);
    assert_eq!(got.len(), 8);
    assert_eq!(got[0].2, 1);
    assert!(got[0].3 > 0);

    // Incremental, the client moved partition 0 past its record: nothing changed anywhere.
    let resp = c.call(session_fetch("fs", &[(0, 1)], id, 1), 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, id));
    assert_eq!(answered(&resp), vec![], "no partition has news");

    // A record on partition 5 (not named in the request): only partition 5 comes back.
    produce_one(&mut c, "fs", 5, "b").await;
    let resp = c.call(session_fetch("fs", &[], id, 2), 12).await;
    let got = answered(&resp);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, got[0].1, got[0].2), (5, 0, 1));
    assert!(got[0].3 > 0);

    // The session still fetches partition 5 from offset 0 until told otherwise: the same
    // record again (the client's position is what the session holds).
    let resp = c.call(session_fetch("fs", &[], id, 3), 12).await;
    assert_eq!(answered(&resp).len(), 1);
    let resp = c.call(session_fetch("fs", &[(5, 1)], id, 4), 12).await;
    assert_eq!(answered(&resp), vec![]);

    // Forget partition 5: a new record there is not answered.
    let mut req = session_fetch("fs", &[], id, 5);
    forget(&mut req, "fs", &[5]);
    assert_eq!(answered(&c.call(req, 12).await), vec![]);
    produce_one(&mut c, "fs", 5, "c").await;
    let resp = c.call(session_fetch("fs", &[], id, 6), 12).await;
    assert_eq!(
        answered(&resp),
        vec![],
        "a forgotten partition is not fetched"
    );

    // Added back: answered at once (nothing was sent for it since it was added).
    let resp = c.call(session_fetch("fs", &[(5, 1)], id, 7), 12).await;
    let got = answered(&resp);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].2), (5, 2));
    assert!(got[0].3 > 0, "the record at offset 1");

    // An unknown partition is in the session and answered with its error every time.
    let resp = c
        .call(session_fetch("fs", &[(5, 2), (99, 0)], id, 8), 12)
        .await;
    assert_eq!(answered(&resp), vec![(99, 3, -1, 0)]);
    let resp = c.call(session_fetch("fs", &[], id, 9), 12).await;
    assert_eq!(answered(&resp), vec![(99, 3, -1, 0)]);

    // Epoch -1 closes the session: a full, sessionless answer, and the id is gone.
    let resp = c.call(session_fetch("fs", &all, id, -1), 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, 0));
    assert_eq!(answered(&resp).len(), 8);
    let resp = c.call(session_fetch("fs", &[], id, 10), 12).await;
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);
    assert_eq!(resp.session_id, 0);
    assert!(resp.responses.is_empty());
}

#[tokio::test]
async fn wrong_ids_and_epochs_are_refused_and_forgetting_everything_closes() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "fe", 2, &[]).await, 0);
    let resp = c
        .call(session_fetch("fe", &[(0, 0), (1, 0)], 0, 0), 12)
        .await;
    let id = resp.session_id;
    assert_ne!(id, 0);

    let resp = c
        .call(session_fetch("fe", &[], id.wrapping_add(1), 1), 12)
        .await;
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);
    let resp = c.call(session_fetch("fe", &[], 0, 1), 12).await;
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);
    let resp = c.call(session_fetch("fe", &[], id, 2), 12).await;
    assert_eq!(resp.error_code, INVALID_FETCH_SESSION_EPOCH);
    // A refused epoch leaves the session as it was.
    let resp = c.call(session_fetch("fe", &[], id, 1), 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, id));
    // The same epoch twice (a duplicate request) is refused.
    let resp = c.call(session_fetch("fe", &[], id, 1), 12).await;
    assert_eq!(resp.error_code, INVALID_FETCH_SESSION_EPOCH);

    // Fetch v13+ names topics by id: a session made with names cannot be used with ids.
    let mut req = session_fetch("fe", &[], id, 2);
    req.topics.clear();
    let resp = c.call(req, 13).await;
    assert_eq!(resp.error_code, FETCH_SESSION_TOPIC_ID_ERROR);

    // Forgetting every partition closes the session (the answer is sessionless).
    let mut req = session_fetch("fe", &[], id, 2);
    forget(&mut req, "fe", &[0, 1]);
    let resp = c.call(req, 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, 0));
    let resp = c.call(session_fetch("fe", &[], id, 3), 12).await;
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);

    // Epoch 0 with an existing id replaces that session with a new one.
    let first = c.call(session_fetch("fe", &[(0, 0)], 0, 0), 12).await;
    let second = c
        .call(session_fetch("fe", &[(0, 0)], first.session_id, 0), 12)
        .await;
    assert_ne!(second.session_id, 0);
    assert_ne!(second.session_id, first.session_id);
    let resp = c
        .call(session_fetch("fe", &[], first.session_id, 1), 12)
        .await;
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);
}

#[tokio::test]
async fn sessions_by_topic_id_on_fetch_v13() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let created = create_topic_with(&mut c, "fid", 3, 1, &[]).await;
    assert_eq!(created.error_code, 0);
    let topic_id = created.topic_id;
    produce_one(&mut c, "fid", 2, "x").await;
    let by_id = |parts: &[(i32, i64)], session_id: i32, epoch: i32| {
        let mut req = session_fetch("", parts, session_id, epoch);
        for t in &mut req.topics {
            t.topic_id = topic_id;
        }
        req
    };
    let resp = c.call(by_id(&[(0, 0), (1, 0), (2, 0)], 0, 0), 13).await;
    assert_eq!(resp.error_code, 0);
    assert_ne!(resp.session_id, 0);
    let id = resp.session_id;
    assert_eq!(resp.responses[0].topic_id, topic_id);
    assert_eq!(answered(&resp).len(), 3);

    let resp = c.call(by_id(&[(2, 1)], id, 1), 13).await;
    assert_eq!(answered(&resp), vec![]);
    produce_one(&mut c, "fid", 0, "y").await;
    let resp = c.call(by_id(&[], id, 2), 13).await;
    assert_eq!(resp.responses.len(), 1);
    assert_eq!(resp.responses[0].topic_id, topic_id);
    let got = answered(&resp);
    assert_eq!((got.len(), got[0].0, got[0].2), (1, 0, 1));

    let mut req = by_id(&[], id, 3);
    let mut ft = ForgottenTopic::default();
    ft.topic_id = topic_id;
    ft.partitions = vec![0];
    req.forgotten_topics_data.push(ft);
    assert_eq!(answered(&c.call(req, 13).await), vec![]);
    produce_one(&mut c, "fid", 0, "z").await;
    assert_eq!(answered(&c.call(by_id(&[], id, 4), 13).await), vec![]);
}

#[tokio::test]
async fn a_full_cache_evicts_only_for_a_bigger_session() {
    let b = start_with(
        "max.incremental.fetch.session.cache.slots=2",
        odradek_broker::FsyncPolicy::Interval,
    )
    .await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "ev", 4, &[]).await, 0);
    let one = c.call(session_fetch("ev", &[(0, 0)], 0, 0), 12).await;
    let two = c
        .call(session_fetch("ev", &[(1, 0), (2, 0)], 0, 0), 12)
        .await;
    assert_ne!(one.session_id, 0);
    assert_ne!(two.session_id, 0);

    // Full, and none stale: a session of one partition is not worth more than either.
    let three = c.call(session_fetch("ev", &[(3, 0)], 0, 0), 12).await;
    assert_eq!(three.error_code, 0);
    assert_eq!(three.session_id, 0, "no room: the fetch stays sessionless");
    assert_eq!(answered(&three).len(), 1, "still answered in full");

    // Three partitions beat the smallest session (one partition), which is evicted.
    let big = c
        .call(session_fetch("ev", &[(0, 0), (1, 0), (3, 0)], 0, 0), 12)
        .await;
    assert_ne!(big.session_id, 0);
    let resp = c
        .call(session_fetch("ev", &[], one.session_id, 1), 12)
        .await;
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND, "evicted");
    let resp = c
        .call(session_fetch("ev", &[], two.session_id, 1), 12)
        .await;
    assert_eq!((resp.error_code, resp.session_id), (0, two.session_id));

    // With no slots at all, no sessions.
    let none = start_with(
        "max.incremental.fetch.session.cache.slots=0",
        odradek_broker::FsyncPolicy::Interval,
    )
    .await;
    let mut c = Client::connect(none.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "ev", 1, &[]).await, 0);
    let resp = c.call(session_fetch("ev", &[(0, 0)], 0, 0), 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, 0));
}

/// The point of sessions: with 200 partitions and data on two, an incremental request and its
/// response are a small fraction of a full one.
#[tokio::test]
async fn incremental_fetches_of_many_partitions_are_small() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "many", 200, &[]).await, 0);
    let all: Vec<(i32, i64)> = (0..200).map(|p| (p, 0)).collect();
    let full = session_fetch("many", &all, 0, 0);
    let full_request_bytes = full.compute_size(12).unwrap();
    let resp = c.call(full, 12).await;
    let id = resp.session_id;
    assert_ne!(id, 0);
    let full_response_bytes = resp.compute_size(12).unwrap();

    produce_one(&mut c, "many", 17, "v").await;
    produce_one(&mut c, "many", 123, "w").await;
    let incremental = session_fetch("many", &[], id, 1);
    let incremental_request_bytes = incremental.compute_size(12).unwrap();
    let resp = c.call(incremental, 12).await;
    let got: Vec<i32> = answered(&resp).iter().map(|p| p.0).collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&17) && got.contains(&123), "{got:?}");
    let incremental_response_bytes = resp.compute_size(12).unwrap();
    eprintln!(
        "200 partitions: full request {full_request_bytes} B, response {full_response_bytes} B; \
         incremental request {incremental_request_bytes} B, response {incremental_response_bytes} B"
    );
    assert!(incremental_request_bytes * 20 < full_request_bytes);
    assert!(incremental_response_bytes * 5 < full_response_bytes);
}

/// Cluster mode: a consumer's session on the partition leader sees the high watermark that
/// the followers' (sessionless, full) fetches advance; records produced with acks=all come back
/// in an incremental answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_on_a_replicated_partition_in_cluster_mode() {
    use common::cluster::{TestCluster, eventually, partition0, wait_for_brokers};
    let cluster = TestCluster::start(3, "").await;
    let addrs = cluster.addrs();
    wait_for_brokers(addrs[0], 3).await;
    let mut c = Client::connect(addrs[0]).await;
    let created = create_topic_with(&mut c, "cs", 1, 3, &[]).await;
    assert_eq!((created.error_code, created.replication_factor), (0, 3));
    let (leader, _, _) = eventually("a full ISR", || async {
        partition0(addrs[0], "cs")
            .await
            .filter(|(l, _, isr)| *l > 0 && isr.len() == 3)
    })
    .await;
    let leader_addr = cluster.addr(leader as u64);
    // The leader serves fetches once it has taken the leadership up from the image.
    eventually("the leader serving fetches", || async {
        let mut c = Client::connect(leader_addr).await;
        (fetch(&mut c, "cs", 0, 0, 1 << 20).await.0 == 0).then_some(())
    })
    .await;
    let mut c = Client::connect(leader_addr).await;
    let resp = c.call(session_fetch("cs", &[(0, 0)], 0, 0), 12).await;
    assert_eq!(resp.error_code, 0);
    let id = resp.session_id;
    assert_ne!(id, 0);
    let resp = c.call(session_fetch("cs", &[], id, 1), 12).await;
    assert_eq!(answered(&resp), vec![]);
    let (e, _) = produce(
        &mut c,
        "cs",
        0,
        batch(&["r1", "r2"], None, None, Compression::None),
        -1,
    )
    .await;
    assert_eq!(e, 0);
    let resp = c.call(session_fetch("cs", &[], id, 2), 12).await;
    let got = answered(&resp);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1, got[0].2), (0, 0, 2));
    assert!(got[0].3 > 0);
    let resp = c.call(session_fetch("cs", &[(0, 2)], id, 3), 12).await;
    assert_eq!(answered(&resp), vec![]);
    cluster.shutdown().await;
}
