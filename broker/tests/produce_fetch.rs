//! The broker library end to end over raw protocol requests.

mod common;

use std::time::Duration;

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use odradek_broker::FsyncPolicy;

#[tokio::test]
async fn produce_fetch_round_trip_and_offsets() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "t", 2, &[]).await, 0);
    assert_eq!(
        create_topic(&mut c, "t", 2, &[]).await,
        36,
        "TOPIC_ALREADY_EXISTS"
    );

    let (e, base0) = produce(
        &mut c,
        "t",
        0,
        batch(&["a", "b", "c"], None, None, Compression::None),
        -1,
    )
    .await;
    assert_eq!((e, base0), (0, 0));
    let (e, base1) = produce(
        &mut c,
        "t",
        0,
        batch(&["d", "e"], None, None, Compression::None),
        1,
    )
    .await;
    assert_eq!((e, base1), (0, 3));
    let (e, base2) = produce(
        &mut c,
        "t",
        0,
        batch(&["f"], None, None, Compression::None),
        1,
    )
    .await;
    assert_eq!((e, base2), (0, 5));

    let (e, hw, recs) = fetch(&mut c, "t", 0, 0, 1 << 20).await;
    assert_eq!((e, hw), (0, 6));
    let values: Vec<_> = decode_values(recs)
        .into_iter()
        .map(|(o, v)| (o, v.unwrap()))
        .collect();
    let expected: Vec<_> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v.to_string()))
        .collect();
    assert_eq!(values, expected);

    // From inside the second batch: the whole batch comes back, starting at its base offset.
    let (_, _, recs) = fetch(&mut c, "t", 0, 4, 1 << 20).await;
    let offsets: Vec<i64> = decode_values(recs).into_iter().map(|(o, _)| o).collect();
    assert_eq!(offsets, vec![3, 4, 5]);

    // A partition limit smaller than a batch still returns the first batch whole.
    let (_, _, recs) = fetch(&mut c, "t", 0, 0, 1).await;
    let offsets: Vec<i64> = decode_values(recs).into_iter().map(|(o, _)| o).collect();
    assert_eq!(offsets, vec![0, 1, 2]);

    // Past the end: OFFSET_OUT_OF_RANGE; at the end: empty.
    assert_eq!(fetch(&mut c, "t", 0, 7, 1 << 20).await.0, 1);
    let (e, _, recs) = fetch(&mut c, "t", 0, 6, 1 << 20).await;
    assert_eq!((e, recs.len()), (0, 0));
    assert_eq!(fetch(&mut c, "nope", 0, 0, 1 << 20).await.0, 3);

    assert_eq!(list_offset(&mut c, "t", 0, -2).await.1, 0);
    assert_eq!(list_offset(&mut c, "t", 0, -1).await.1, 6);
    assert_eq!(list_offset(&mut c, "t", 1, -1).await.1, 0);
    // Timestamps in `batch` are 1_700_000_000_000 + index.
    let (_, off, ts) = list_offset(&mut c, "t", 0, 1_700_000_000_001).await;
    assert_eq!(
        (off, ts),
        (1, 1_700_000_000_001),
        "first record at or after the time"
    );
    // Max timestamp: the last record of the last batch (1_700_000_000_000 + 0, one record).
    let (_, off, ts) = list_offset(&mut c, "t", 0, -3).await;
    assert_eq!((off, ts), (2, 1_700_000_000_002));
    assert_eq!(list_offset(&mut c, "t", 0, 1_800_000_000_000).await.1, -1);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn compressed_batches_are_stored_as_sent() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "z", 1, &[]).await, 0);
    use odradek::compression::Compression as Codec;
    use odradek::records::{BatchOptions, RecordBatchBuilder};
    for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
        let mut builder = RecordBatchBuilder::new(BatchOptions {
            compression: codec,
            ..BatchOptions::default()
        });
        for v in ["x1", "x2", "x3"] {
            builder
                .push(1_700_000_000_000, Some(b"k"), Some(v.as_bytes()), &[])
                .unwrap();
        }
        let sent = builder.finish().unwrap();
        let (e, base) = produce(&mut c, "z", 0, sent.clone(), 1).await;
        assert_eq!(e, 0, "{codec:?}");
        let (_, _, recs) = fetch(&mut c, "z", 0, base, 1 << 20).await;
        let first_len = 12 + i32::from_be_bytes(recs[8..12].try_into().unwrap()) as usize;
        // Identical except the base offset (bytes 0..8) and leader epoch (12..16).
        assert_eq!(
            &recs[16..first_len],
            &sent[16..],
            "{codec:?} batch body rewritten"
        );
        assert_eq!(&recs[8..12], &sent[8..12]);
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn metadata_auto_creates_and_message_too_large() {
    let b = start_with(
        "num.partitions=3\nmessage.max.bytes=200",
        odradek_broker::FsyncPolicy::Never,
    )
    .await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(topic("auto"));
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = true;
    let resp = c.call(req, 12).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].partitions.len(), 3);
    assert_eq!(resp.brokers[0].port as u16, b.handle.local_addr().port());

    let big = "x".repeat(300);
    let (e, _) = produce(
        &mut c,
        "auto",
        0,
        batch(&[big.as_str()], None, None, Compression::None),
        1,
    )
    .await;
    assert_eq!(e, 10, "MESSAGE_TOO_LARGE");
    let (e, _) = produce(
        &mut c,
        "auto",
        7,
        batch(&["a"], None, None, Compression::None),
        1,
    )
    .await;
    assert_eq!(e, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn long_poll_wakes_on_produce() {
    long_poll_woken_by_produce("", FsyncPolicy::Interval).await;
}

/// With `flush.messages` reached the ack waits for the fsync, but the record is readable on
/// append (interval mode), so a waiting fetch must be woken then too.
#[tokio::test]
async fn long_poll_wakes_on_produce_that_waits_for_flush_messages() {
    long_poll_woken_by_produce("log.flush.interval.messages=1", FsyncPolicy::Interval).await;
}

/// Under `--fsync always` the fetch is woken by the fsync that makes the record visible.
#[tokio::test]
async fn long_poll_wakes_on_fsynced_produce() {
    long_poll_woken_by_produce("", FsyncPolicy::Always).await;
}

async fn long_poll_woken_by_produce(props: &str, fsync: FsyncPolicy) {
    let b = start_with(props, fsync).await;
    let addr = b.handle.local_addr();
    let mut c = Client::connect(addr).await;
    assert_eq!(create_topic(&mut c, "lp", 1, &[]).await, 0);
    let waiter = tokio::spawn(async move {
        let mut f = Client::connect(addr).await;
        // Waits up to 10 minutes for one byte: only a produce can end it before the guard.
        let resp = f
            .call(fetch_request("lp", 0, 0, 600_000, 1, 1 << 20), 12)
            .await;
        resp.responses[0].partitions[0]
            .records
            .clone()
            .unwrap_or_default()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (e, _) = produce(
        &mut c,
        "lp",
        0,
        batch(&["wake"], None, None, Compression::None),
        1,
    )
    .await;
    assert_eq!(e, 0);
    let recs = tokio::time::timeout(Duration::from_secs(60), waiter)
        .await
        .expect("long poll not woken by produce")
        .unwrap();
    assert_eq!(decode_values(recs), vec![(0, Some("wake".to_string()))]);
    b.handle.shutdown().await;
}

/// A waiting fetch does not stop its connection: a produce pipelined behind it on the same
/// connection is handled, wakes it, and the answers come back in request order.
#[tokio::test]
async fn produce_behind_a_long_poll_on_one_connection_wakes_it() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "same", 1, &[]).await, 0);
    let (fetch_cid, fetch) = c.encode(&fetch_request("same", 0, 0, 600_000, 1, 1 << 20), 12);
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch(&["behind"], None, None, Compression::None));
    let mut td = produce_request::TopicProduceData::default();
    td.name = topic("same");
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 5000;
    req.topic_data.push(td);
    let (produce_cid, produce) = c.encode(&req, 9);
    c.write(&fetch).await;
    c.write(&produce).await;
    let answers = async {
        let f = c.read_response::<FetchRequest>(fetch_cid, 12).await;
        let p = c.read_response::<ProduceRequest>(produce_cid, 9).await;
        (f, p)
    };
    let (f, p) = tokio::time::timeout(Duration::from_secs(60), answers)
        .await
        .expect("the produce behind the long poll was not handled");
    let recs = f.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    assert_eq!(decode_values(recs), vec![(0, Some("behind".to_string()))]);
    let pr = &p.responses[0].partition_responses[0];
    assert_eq!((pr.error_code, pr.base_offset), (0, 0));
    b.handle.shutdown().await;
}

#[tokio::test]
async fn idempotent_producer_dedup_and_sequence_gaps() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "idem", 1, &[]).await, 0);
    let mut req = InitProducerIdRequest::default();
    req.transaction_timeout_ms = 60_000;
    req.transactional_id = None;
    req.producer_id = ProducerId(-1);
    req.producer_epoch = -1;
    let resp = c.call(req, 4).await;
    assert_eq!(resp.error_code, 0);
    let (pid, epoch) = (resp.producer_id.0, resp.producer_epoch);

    let first = batch(&["a", "b"], None, Some((pid, epoch, 0)), Compression::None);
    assert_eq!(produce(&mut c, "idem", 0, first.clone(), -1).await, (0, 0));
    assert_eq!(
        produce(
            &mut c,
            "idem",
            0,
            batch(&["c"], None, Some((pid, epoch, 2)), Compression::None),
            -1
        )
        .await,
        (0, 2)
    );
    // A retry of the first batch: success with its original offset, nothing appended.
    assert_eq!(produce(&mut c, "idem", 0, first, -1).await, (0, 0));
    assert_eq!(list_offset(&mut c, "idem", 0, -1).await.1, 3);
    // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER.
    let (e, _) = produce(
        &mut c,
        "idem",
        0,
        batch(&["x"], None, Some((pid, epoch, 9)), Compression::None),
        -1,
    )
    .await;
    assert_eq!(e, 45);
    // An older epoch is fenced.
    let (e, _) = produce(
        &mut c,
        "idem",
        0,
        batch(&["x"], None, Some((pid, epoch - 1, 3)), Compression::None),
        -1,
    )
    .await;
    assert_eq!(e, 47);
    assert_eq!(list_offset(&mut c, "idem", 0, -1).await.1, 3);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let b = start_with("", odradek_broker::FsyncPolicy::Always).await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "pipe", 1, &[]).await, 0);
    let mut cids = Vec::new();
    for i in 0..20 {
        let mut pd = produce_request::PartitionProduceData::default();
        pd.index = 0;
        pd.records = Some(batch(&[&format!("m{i}")], None, None, Compression::None));
        let mut td = produce_request::TopicProduceData::default();
        td.name = topic("pipe");
        td.partition_data.push(pd);
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 5000;
        req.topic_data.push(td);
        let (cid, bytes) = c.encode(&req, 9);
        c.write(&bytes).await;
        cids.push(cid);
    }
    for (i, cid) in cids.into_iter().enumerate() {
        let resp = c.read_response::<ProduceRequest>(cid, 9).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (0, i as i64));
    }
    b.handle.shutdown().await;
}
