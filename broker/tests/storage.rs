//! Storage behaviour through the wire: restart recovery, retention, compaction.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use odradek_broker::FsyncPolicy;

fn segment_files(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn restart_recovers_a_torn_tail_and_missing_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_in(dir.path(), "", FsyncPolicy::Always).await;
    let mut c = Client::connect(h.local_addr()).await;
    assert_eq!(
        create_topic(&mut c, "r", 1, &[("segment.bytes", "300")]).await,
        0
    );
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = None;
    let pid = c.call(init, 4).await.producer_id.0;
    let mut sent = Vec::new();
    for i in 0..20 {
        let v = format!("value-{i}");
        let b = batch(&[v.as_str()], None, Some((pid, 0, i)), Compression::None);
        assert_eq!(produce(&mut c, "r", 0, b.clone(), -1).await, (0, i as i64));
        sent.push(b);
    }
    drop(c);
    h.shutdown().await;

    let pdir = dir.path().join("r-0");
    let logs = segment_files(&pdir, "log");
    assert!(
        logs.len() > 2,
        "segment.bytes=300 rolled segments: {logs:?}"
    );
    // A torn write at the end of the active segment: half a batch.
    let active = logs.last().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(active)
        .unwrap();
    f.write_all(&sent[0][..30]).unwrap();
    drop(f);
    // Lost and corrupt index files of sealed segments.
    let indexes = segment_files(&pdir, "index");
    std::fs::remove_file(&indexes[0]).unwrap();
    std::fs::write(&indexes[1], [1, 2, 3]).unwrap();

    let h = start_in(dir.path(), "", FsyncPolicy::Always).await;
    let mut c = Client::connect(h.local_addr()).await;
    assert_eq!(
        list_offset(&mut c, "r", 0, -1).await.1,
        20,
        "torn tail truncated, nothing lost"
    );
    let mut all = Vec::new();
    let mut next = 0;
    while next < 20 {
        let (e, _, recs) = fetch(&mut c, "r", 0, next, 1 << 20).await;
        assert_eq!(e, 0);
        let got = decode_values(recs);
        next = got.last().unwrap().0 + 1;
        all.extend(got);
    }
    let expected: Vec<_> = (0..20)
        .map(|i| (i as i64, Some(format!("value-{i}"))))
        .collect();
    assert_eq!(all, expected);
    // Producer state survived: a retry of the last batch is a duplicate, the next one appends.
    assert_eq!(produce(&mut c, "r", 0, sent[19].clone(), -1).await, (0, 19));
    let b = batch(&["after"], None, Some((pid, 0, 20)), Compression::None);
    assert_eq!(produce(&mut c, "r", 0, b, -1).await, (0, 20));
    h.shutdown().await;
}

/// Polls ListOffsets earliest until it passes `above` (retention runs in the background).
async fn wait_for_log_start(c: &mut Client, topic: &str, above: i64) -> i64 {
    for _ in 0..600 {
        let start = list_offset(c, topic, 0, -2).await.1;
        if start > above {
            return start;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("retention never advanced the log start offset of {topic}");
}

#[tokio::test]
async fn retention_by_size_and_time_and_delete_records() {
    let b = start_with("log.retention.check.interval.ms=50", FsyncPolicy::Never).await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    // Size: ~100-byte batches, 300-byte segments, keep at most ~600 bytes (and no time limit:
    // the test batches carry 2023 timestamps).
    assert_eq!(
        create_topic(
            &mut c,
            "size",
            1,
            &[
                ("segment.bytes", "300"),
                ("retention.bytes", "600"),
                ("retention.ms", "-1")
            ]
        )
        .await,
        0
    );
    // Time: the test batches carry 2023 timestamps, far older than one hour.
    assert_eq!(
        create_topic(
            &mut c,
            "time",
            1,
            &[("segment.bytes", "300"), ("retention.ms", "3600000")]
        )
        .await,
        0
    );
    for i in 0..30 {
        let v = format!("record-{i:04}");
        for t in ["size", "time"] {
            assert_eq!(
                produce(
                    &mut c,
                    t,
                    0,
                    batch(&[v.as_str()], None, None, Compression::None),
                    1
                )
                .await
                .0,
                0
            );
        }
    }
    let start = wait_for_log_start(&mut c, "size", 0).await;
    assert!(start < 30);
    assert_eq!(list_offset(&mut c, "size", 0, -1).await.1, 30);
    // What is left is readable from the new start; below it is out of range.
    let (e, _, recs) = fetch(&mut c, "size", 0, start, 1 << 20).await;
    assert_eq!(e, 0);
    assert_eq!(decode_values(recs)[0].0, start);
    assert_eq!(
        fetch(&mut c, "size", 0, 0, 1 << 20).await.0,
        1,
        "OFFSET_OUT_OF_RANGE below the start"
    );

    // Every segment expired by time, the active one included.
    assert_eq!(wait_for_log_start(&mut c, "time", 29).await, 30);

    // DeleteRecords moves the start offset explicitly.
    let mut req = DeleteRecordsRequest::default();
    let mut t = delete_records_request::DeleteRecordsTopic::default();
    t.name = topic("size");
    let mut p = delete_records_request::DeleteRecordsPartition::default();
    p.partition_index = 0;
    p.offset = 28;
    t.partitions.push(p);
    req.topics.push(t);
    let resp = c.call(req, 2).await;
    let r = &resp.topics[0].partitions[0];
    assert_eq!((r.error_code, r.low_watermark), (0, 28));
    assert_eq!(list_offset(&mut c, "size", 0, -2).await.1, 28);
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_latest_value_per_key_and_drops_tombstones() {
    let b = start_with("log.cleaner.backoff.ms=50", FsyncPolicy::Never).await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "400"),
        ("delete.retention.ms", "0"),
    ];
    assert_eq!(create_topic(&mut c, "cmp", 1, &configs).await, 0);
    let mut produced = 0i64;
    let send = async |c: &mut Client, key: &str, value: &str| {
        let b = batch(&[value], Some(&[key]), None, Compression::None);
        assert_eq!(produce(c, "cmp", 0, b, 1).await.0, 0);
    };
    for round in 0..10 {
        for k in 0..4 {
            send(&mut c, &format!("k{k}"), &format!("v{k}-{round}")).await;
            produced += 1;
        }
    }
    send(&mut c, "k0", "").await; // tombstone
    produced += 1;
    // Filler on another key rolls the tombstone into a sealed segment.
    for i in 0..12 {
        send(&mut c, "filler", &format!("f{i}")).await;
        produced += 1;
    }
    let read_all = async |c: &mut Client| {
        let mut all = Vec::new();
        let mut next = 0;
        loop {
            let (e, _, recs) = fetch(c, "cmp", 0, next, 1 << 20).await;
            assert_eq!(e, 0);
            let got = decode_records(recs);
            let Some(last) = got.last() else { break };
            next = last.0 + 1;
            all.extend(got);
        }
        all
    };
    let mut all = Vec::new();
    for _ in 0..1200 {
        all = read_all(&mut c).await;
        let k0_visible = all.iter().any(|(_, k, _)| k.as_deref() == Some("k0"));
        if (all.len() as i64) < produced && !k0_visible {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!((all.len() as i64) < produced, "nothing was compacted");
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "offsets stay increasing"
    );
    assert!(
        !all.iter().any(|(_, k, _)| k.as_deref() == Some("k0")),
        "k0 and its tombstone are gone"
    );
    for k in 1..4 {
        let key = format!("k{k}");
        let values: Vec<_> = all
            .iter()
            .filter(|(_, kk, _)| kk.as_deref() == Some(key.as_str()))
            .collect();
        assert_eq!(values.len(), 1, "{key} kept once: {values:?}");
        assert_eq!(values[0].2.as_deref(), Some(format!("v{k}-9").as_str()));
    }
    // The log end offset did not move: compaction never renumbers.
    assert_eq!(list_offset(&mut c, "cmp", 0, -1).await.1, produced);
    b.handle.shutdown().await;
}
