//! Answers that differed from Apache Kafka 4.3.1 when librdkafka's and franz-go's own test
//! suites ran against this broker (issue 19), one test each: committing offsets of a topic that
//! does not exist, LogAppendTime topics, topic-level recompression, authorized-operation bit
//! fields, group configs, the internal `__consumer_offsets` topic, members that join together,
//! the advertised API versions, and ListOffsets v11 with the versions of its special timestamps.

mod common;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression as WireCompression;
use odradek::compression::Compression;
use odradek::records::{BatchHeader, RecordBatch, TimestampType};

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const INVALID_CONFIG: i16 = 40;
const MEMBER_ID_REQUIRED: i16 = 79;

async fn client(b: &TestBroker) -> Client {
    Client::connect(b.handle.local_addr()).await
}

fn commit_request(group: &str, topics: &[(&str, i32, i64)]) -> OffsetCommitRequest {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(group));
    req.generation_id_or_member_epoch = -1;
    for (name, partition, offset) in topics {
        let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
        p.partition_index = *partition;
        p.committed_offset = *offset;
        p.committed_leader_epoch = -1;
        let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
        t.name = topic(name);
        t.partitions.push(p);
        req.topics.push(t);
    }
    req
}

/// AlterConsumerGroupOffsets (an OffsetCommit from no member) of a topic that does not exist
/// is refused per partition, and nothing is stored for it; the known topic still commits.
#[tokio::test]
async fn committing_offsets_of_an_unknown_topic_is_refused() {
    let b = start().await;
    let mut c = client(&b).await;
    assert_eq!(create_topic(&mut c, "real", 1, &[]).await, NONE);
    let resp = c
        .call(
            commit_request("g", &[("real", 0, 5), ("no-such-topic", 0, 7)]),
            9,
        )
        .await;
    let code = |name: &str| {
        resp.topics
            .iter()
            .find(|t| t.name.as_str() == name)
            .map(|t| t.partitions[0].error_code)
    };
    assert_eq!(code("real"), Some(NONE));
    assert_eq!(code("no-such-topic"), Some(UNKNOWN_TOPIC_OR_PARTITION));

    let mut fetch = OffsetFetchRequest::default();
    fetch.group_id = GroupId(s("g"));
    fetch.topics = None;
    let committed = c.call(fetch, 7).await;
    let stored: Vec<(String, i64)> = committed
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.committed_offset))
        })
        .collect();
    assert_eq!(stored, vec![("real".to_string(), 5)]);
}

async fn produce_full(c: &mut Client, name: &str, records: Bytes) -> (i16, i64, i64) {
    let p = produce_response(c, name, 0, records, -1).await;
    (p.error_code, p.base_offset, p.log_append_time_ms)
}

/// The first stored batch of partition 0 (its bytes, as a consumer receives them).
async fn first_batch(c: &mut Client, name: &str) -> Bytes {
    let (err, _, records) = fetch(c, name, 0, 0, 1 << 20).await;
    assert_eq!(err, NONE);
    let h = BatchHeader::parse(&records).expect("a stored batch");
    records.slice(..h.total_len())
}

/// `message.timestamp.type=LogAppendTime`: the broker stamps each batch with its append time,
/// says so in the produce response, and consumers see timestamp type 1 with that time.
#[tokio::test]
async fn log_append_time_topics_stamp_each_batch() {
    let b = start().await;
    let mut c = client(&b).await;
    assert_eq!(
        create_topic(
            &mut c,
            "stamped",
            1,
            &[("message.timestamp.type", "LogAppendTime")]
        )
        .await,
        NONE
    );
    // The batch carries create times from 2023; the broker's clock is later.
    let sent = batch(&["a", "b", "c"], None, None, WireCompression::None);
    let (err, base, append_time) = produce_full(&mut c, "stamped", sent).await;
    assert_eq!((err, base), (NONE, 0));
    assert!(
        append_time > 1_700_000_000_002,
        "log_append_time_ms {append_time}"
    );

    let stored = first_batch(&mut c, "stamped").await;
    let h = BatchHeader::parse(&stored).unwrap();
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(h.max_timestamp, append_time);
    let parsed = RecordBatch::parse(stored).unwrap();
    parsed
        .verify_crc()
        .expect("the stamped batch has a valid CRC");
    let records: Vec<_> = parsed.records().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.timestamp == append_time));

    // A CreateTime topic keeps the producer's timestamps and answers -1.
    assert_eq!(create_topic(&mut c, "created", 1, &[]).await, NONE);
    let sent = batch(&["a"], None, None, WireCompression::None);
    let (_, _, append_time) = produce_full(&mut c, "created", sent).await;
    assert_eq!(append_time, -1);
}

/// A topic-level `compression.type` recompresses batches sent in another codec; the records
/// survive unchanged. Levels are validated with Kafka's ranges.
#[tokio::test]
async fn topic_compression_recompresses_on_append() {
    let b = start().await;
    let mut c = client(&b).await;
    for (name, codec) in [
        ("as-zstd", Compression::Zstd),
        ("as-gzip", Compression::Gzip),
        ("as-lz4", Compression::Lz4),
        ("as-snappy", Compression::Snappy),
    ] {
        assert_eq!(
            create_topic(&mut c, name, 1, &[("compression.type", codec.name())]).await,
            NONE,
            "{name}"
        );
        let sent = batch(&["one", "two", "three"], None, None, WireCompression::None);
        assert_eq!(produce_full(&mut c, name, sent).await.0, NONE);
        let stored = first_batch(&mut c, name).await;
        let h = BatchHeader::parse(&stored).unwrap();
        assert_eq!(h.compression(), codec, "{name}");
        let parsed = RecordBatch::parse(stored).unwrap();
        parsed.verify_crc().unwrap();
        let values: Vec<_> = parsed
            .records()
            .unwrap()
            .map(|r| r.unwrap().value.unwrap())
            .collect();
        assert_eq!(values, [&b"one"[..], b"two", b"three"]);
    }
    assert_eq!(
        create_topic(
            &mut c,
            "bad-level",
            1,
            &[
                ("compression.type", "gzip"),
                ("compression.gzip.level", "10")
            ]
        )
        .await,
        INVALID_CONFIG
    );
    assert_eq!(
        create_topic(
            &mut c,
            "good-level",
            1,
            &[
                ("compression.type", "zstd"),
                ("compression.zstd.level", "19")
            ]
        )
        .await,
        NONE
    );
}

/// With no authorizer Kafka reports every operation a resource type supports: 8 for a topic,
/// 7 for the cluster, 5 for a group; and i32::MIN when not asked.
#[tokio::test]
async fn authorized_operations_are_the_ones_kafka_reports() {
    let b = start().await;
    let mut c = client(&b).await;
    assert_eq!(create_topic(&mut c, "t", 1, &[]).await, NONE);

    let mut req = MetadataRequest::default();
    req.topics = None;
    req.include_cluster_authorized_operations = true;
    req.include_topic_authorized_operations = true;
    let md = c.call(req, 10).await;
    assert_eq!(md.cluster_authorized_operations, 8096);
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == "t"));
    assert_eq!(t.unwrap().topic_authorized_operations, 3576);
    let mut req = MetadataRequest::default();
    req.topics = None;
    let md = c.call(req, 10).await;
    assert_eq!(md.topics[0].topic_authorized_operations, i32::MIN);

    let mut req = DescribeClusterRequest::default();
    req.include_cluster_authorized_operations = true;
    assert_eq!(c.call(req, 1).await.cluster_authorized_operations, 8096);

    assert_eq!(
        c.call(commit_request("described", &[("t", 0, 1)]), 9)
            .await
            .topics[0]
            .partitions[0]
            .error_code,
        NONE
    );
    let mut req = DescribeGroupsRequest::default();
    req.groups = vec![GroupId(s("described"))];
    req.include_authorized_operations = true;
    let groups = c.call(req, 5).await;
    assert_eq!(groups.groups[0].authorized_operations, 3400);
}

fn describe_group_configs(group: &str) -> DescribeConfigsRequest {
    let mut r = describe_configs_request::DescribeConfigsResource::default();
    r.resource_type = 32;
    r.resource_name = s(group);
    r.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.resources.push(r);
    req
}

fn alter_group_config(group: &str, key: &str, value: &str) -> IncrementalAlterConfigsRequest {
    let mut cfg = incremental_alter_configs_request::AlterableConfig::default();
    cfg.name = s(key);
    cfg.config_operation = 0;
    cfg.value = Some(s(value));
    let mut r = incremental_alter_configs_request::AlterConfigsResource::default();
    r.resource_type = 32;
    r.resource_name = s(group);
    r.configs.push(cfg);
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources.push(r);
    req
}

/// Group configs (resource type 32): described with their defaults, set within Kafka's bounds,
/// refused outside them, and applied to the group's consumer-protocol members.
#[tokio::test]
async fn group_configs_are_described_altered_and_applied() {
    let b = start().await;
    let mut c = client(&b).await;
    let value = |resp: &DescribeConfigsResponse, key: &str| {
        let e = resp.results[0]
            .configs
            .iter()
            .find(|e| e.name.as_str() == key)
            .unwrap_or_else(|| panic!("{key} not described"));
        (e.value.as_ref().unwrap().to_string(), e.config_source)
    };
    let before = c.call(describe_group_configs("cg"), 4).await;
    assert_eq!(before.results[0].error_code, NONE);
    assert_eq!(
        value(&before, "consumer.session.timeout.ms"),
        ("45000".to_string(), 5)
    );

    let ok = c
        .call(
            alter_group_config("cg", "consumer.heartbeat.interval.ms", "3000"),
            1,
        )
        .await;
    assert_eq!(ok.responses[0].error_code, NONE);
    let too_short = c
        .call(
            alter_group_config("cg", "consumer.session.timeout.ms", "10"),
            1,
        )
        .await;
    assert_eq!(too_short.responses[0].error_code, INVALID_CONFIG);
    let after = c.call(describe_group_configs("cg"), 4).await;
    assert_eq!(
        value(&after, "consumer.heartbeat.interval.ms"),
        ("3000".to_string(), 8)
    );

    let mut hb = ConsumerGroupHeartbeatRequest::default();
    hb.group_id = GroupId(s("cg"));
    hb.member_id = s("member-1");
    hb.member_epoch = 0;
    hb.rebalance_timeout_ms = 5000;
    hb.subscribed_topic_names = Some(vec![topic("t")]);
    hb.topic_partitions = Some(vec![]);
    let joined = c.call(hb, 1).await;
    assert_eq!(joined.error_code, NONE, "{:?}", joined.error_message);
    assert_eq!(joined.heartbeat_interval_ms, 3000);
}

/// `__consumer_offsets` appears once a group coordinator is looked up, with
/// `offsets.topic.num.partitions` partitions, marked internal, compacted, and closed to produce
/// and to DeleteRecords from clients.
#[tokio::test]
async fn the_offsets_topic_is_listed_internal_and_closed_to_produce() {
    let b = start_with(
        "offsets.topic.num.partitions=3",
        odradek_broker::FsyncPolicy::Interval,
    )
    .await;
    let mut c = client(&b).await;
    let mut find = FindCoordinatorRequest::default();
    find.key_type = 0;
    find.coordinator_keys = vec![s("some-group")];
    let found = c.call(find, 4).await;
    assert_eq!(found.coordinators[0].error_code, NONE);

    let mut req = MetadataRequest::default();
    req.topics = None;
    let md = c.call(req, 12).await;
    let t = md
        .topics
        .iter()
        .find(|t| {
            t.name
                .as_ref()
                .is_some_and(|n| n.as_str() == "__consumer_offsets")
        })
        .expect("__consumer_offsets is listed");
    assert!(t.is_internal);
    assert_eq!(t.partitions.len(), 3);

    let sent = batch(&["x"], Some(&["k"]), None, WireCompression::None);
    assert_eq!(
        produce_full(&mut c, "__consumer_offsets", sent).await.0,
        INVALID_TOPIC_EXCEPTION
    );

    let mut partition = delete_records_request::DeleteRecordsPartition::default();
    partition.partition_index = 0;
    partition.offset = 0;
    let mut records = delete_records_request::DeleteRecordsTopic::default();
    records.name = topic("__consumer_offsets");
    records.partitions.push(partition);
    let mut delete = DeleteRecordsRequest::default();
    delete.topics.push(records);
    delete.timeout_ms = 5000;
    assert_eq!(
        c.call(delete, 2).await.topics[0].partitions[0].error_code,
        INVALID_TOPIC_EXCEPTION
    );

    let mut r = describe_configs_request::DescribeConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = s("__consumer_offsets");
    r.configuration_keys = Some(vec![s("cleanup.policy")]);
    let mut req = DescribeConfigsRequest::default();
    req.resources.push(r);
    let described = c.call(req, 4).await;
    assert_eq!(
        described.results[0].configs[0].value.as_deref(),
        Some("compact")
    );
}

fn join_request(group: &str, member: &str) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.session_timeout_ms = 10_000;
    r.rebalance_timeout_ms = 10_000;
    r.protocol_type = s("consumer");
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = Bytes::from_static(b"m");
    r.protocols.push(p);
    r
}

/// Two consumers that join a new group at the same moment land in its first generation
/// together (Kafka ends the initial join phase on its timer, never inside the first JoinGroup,
/// even with `group.initial.rebalance.delay.ms=0`).
#[tokio::test]
async fn members_joining_together_share_the_first_generation() {
    let b = start().await;
    let mut a = client(&b).await;
    let mut z = client(&b).await;
    let id_a = a.call(join_request("together", ""), 9).await;
    let id_z = z.call(join_request("together", ""), 9).await;
    assert_eq!(
        (id_a.error_code, id_z.error_code),
        (MEMBER_ID_REQUIRED, MEMBER_ID_REQUIRED)
    );
    let (cid_a, req_a) = a.encode(&join_request("together", &id_a.member_id), 9);
    let (cid_z, req_z) = z.encode(&join_request("together", &id_z.member_id), 9);
    a.write(&req_a).await;
    z.write(&req_z).await;
    let ja = a.read_response::<JoinGroupRequest>(cid_a, 9).await;
    let jz = z.read_response::<JoinGroupRequest>(cid_z, 9).await;
    assert_eq!((ja.error_code, jz.error_code), (NONE, NONE));
    assert_eq!((ja.generation_id, jz.generation_id), (1, 1));
    let leader = if ja.leader == ja.member_id { &ja } else { &jz };
    assert_eq!(leader.members.len(), 2, "the leader sees both members");
}

/// ApiVersions advertises what is implemented, as Kafka 4.3.1 does: InitProducerId up to v5
/// (v6 is KIP-939's two-phase commit, unstable in Kafka).
#[tokio::test]
async fn init_producer_id_is_advertised_up_to_v5() {
    let b = start().await;
    let mut c = client(&b).await;
    let versions = c.call(ApiVersionsRequest::default(), 3).await;
    let init = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::InitProducerId as i16)
        .unwrap();
    assert_eq!((init.min_version, init.max_version), (0, 5));
}

fn list_offsets_request(name: &str, timestamp: i64) -> ListOffsetsRequest {
    let mut p = list_offsets_request::ListOffsetsPartition::default();
    p.partition_index = 0;
    p.current_leader_epoch = -1;
    p.timestamp = timestamp;
    let mut t = list_offsets_request::ListOffsetsTopic::default();
    t.name = topic(name);
    t.partitions.push(p);
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.timeout_ms = 1000;
    req.topics.push(t);
    req
}

/// (error, offset, timestamp) of one ListOffsets partition at `version`. Version 11 has v10's
/// schema (Kafka bumped it for KIP-1023's timestamp -6 only, and kafka-protocol stops at 10),
/// so it is sent as v10's bytes with the version field set to 11.
async fn list_offsets_at(
    c: &mut Client,
    name: &str,
    timestamp: i64,
    version: i16,
) -> (i16, i64, i64) {
    let req = list_offsets_request(name, timestamp);
    let wire = version.min(10);
    let (cid, bytes) = c.encode(&req, wire);
    let mut bytes = bytes.to_vec();
    bytes[6..8].copy_from_slice(&version.to_be_bytes()); // after the size and the API key
    c.write(&Bytes::from(bytes)).await;
    let resp = c.read_response::<ListOffsetsRequest>(cid, wire).await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

/// ListOffsets v11 is served as Apache Kafka 4.3.1 serves it (advertised, the earliest pending
/// upload -6 answered with no offset, as nothing is tiered), and each special timestamp asked
/// at a version older than its own is UNSUPPORTED_VERSION, as from Kafka (MAX_TIMESTAMP v7,
/// EARLIEST_LOCAL v8, LATEST_TIERED v9, EARLIEST_PENDING_UPLOAD v11).
#[tokio::test]
async fn list_offsets_v11_and_special_timestamps_by_version() {
    const UNSUPPORTED_VERSION: i16 = 35;
    let b = start().await;
    let mut c = client(&b).await;
    let versions = c.call(ApiVersionsRequest::default(), 3).await;
    let lo = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ListOffsets as i16)
        .unwrap();
    assert_eq!((lo.min_version, lo.max_version), (1, 11));
    assert_eq!(create_topic(&mut c, "lo", 1, &[]).await, NONE);
    let records = batch(&["a", "b", "c"], None, None, WireCompression::None);
    assert_eq!(produce(&mut c, "lo", 0, records, -1).await, (NONE, 0));

    assert_eq!(list_offsets_at(&mut c, "lo", -6, 11).await, (NONE, -1, -1));
    assert_eq!(list_offsets_at(&mut c, "lo", -1, 11).await, (NONE, 3, -1));
    assert_eq!(list_offsets_at(&mut c, "lo", -2, 11).await, (NONE, 0, -1));
    for (timestamp, first) in [(-3i64, 7i16), (-4, 8), (-5, 9), (-6, 11)] {
        let (code, offset, _) = list_offsets_at(&mut c, "lo", timestamp, first - 1).await;
        assert_eq!(
            (code, offset),
            (UNSUPPORTED_VERSION, -1),
            "timestamp {timestamp} at v{}",
            first - 1
        );
        let (code, _, _) = list_offsets_at(&mut c, "lo", timestamp, first).await;
        assert_eq!(code, NONE, "timestamp {timestamp} at v{first}");
    }
}
