//! The follower's side of the log: batches appended verbatim from a leader's log, the leader
//! epochs they carry, truncation to a divergence point, and the replicated high watermark.

use bytes::Bytes;
use odradek_protocol::records::{BatchHeader, BatchOptions, RecordBatchBuilder};

use super::PartitionLog;
use crate::config::{BrokerProperties, FsyncPolicy, LogConfig, TopicOverrides};

fn log_in(dir: &std::path::Path) -> PartitionLog {
    let mut o = TopicOverrides::new();
    // Small segments so truncation crosses segment boundaries.
    o.insert("segment.bytes".into(), "300".into());
    let cfg = LogConfig::resolve(&BrokerProperties::default(), FsyncPolicy::Never, &o);
    PartitionLog::open(dir, cfg, 0).unwrap()
}

fn append(log: &mut PartitionLog, value: &str) {
    let mut b = RecordBatchBuilder::new(BatchOptions::default());
    b.push(1000, None, Some(value.as_bytes()), &[]).unwrap();
    let bytes = b.finish().unwrap();
    let h = BatchHeader::parse(&bytes).unwrap();
    log.append(&bytes, &h, 0).unwrap();
}

/// Everything the leader holds from `offset`, as a follower's fetch reads it.
fn replica_read(log: &PartitionLog, offset: i64) -> Bytes {
    let mut out = Vec::new();
    let mut next = offset;
    while let Some(plan) = log.read_for_replica(next, 1 << 20).unwrap() {
        let bytes = plan.read().unwrap();
        let mut rest = &bytes[..];
        while rest.len() >= odradek_protocol::records::BATCH_HEADER_LEN {
            let h = BatchHeader::parse(rest).unwrap();
            next = h.last_offset() + 1;
            rest = &rest[h.total_len()..];
        }
        out.extend_from_slice(&bytes);
    }
    Bytes::from(out)
}

#[test]
fn a_follower_copies_batches_verbatim_and_truncates_where_it_diverged() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = log_in(ld.path());
    let mut follower = log_in(fd.path());
    for i in 0..4 {
        append(&mut leader, &format!("a{i}"));
    }
    leader.become_leader(3).unwrap();
    for i in 4..8 {
        append(&mut leader, &format!("b{i}"));
    }
    follower
        .append_replicated(&replica_read(&leader, 0), 0)
        .unwrap();
    assert_eq!(follower.log_end_offset(), 8);
    assert_eq!(follower.epoch_history(), leader.epoch_history());
    assert_eq!(
        replica_read(&follower, 0),
        replica_read(&leader, 0),
        "same bytes"
    );
    // Appending what it already has changes nothing.
    assert_eq!(
        follower
            .append_replicated(&replica_read(&leader, 2), 0)
            .unwrap(),
        8
    );

    // Reads stop at the replicated high watermark.
    follower.set_replicated_high_watermark(Some(5));
    assert_eq!(follower.high_watermark(), 5);
    assert!(follower.read(5, 1 << 20, true).unwrap().is_none());

    // The follower wrote offsets 8.. as a leader in epoch 4 that nobody else saw; it goes
    // back to 8 and its epoch 4 is forgotten.
    follower.become_leader(4).unwrap();
    append(&mut follower, "lost");
    assert_eq!(follower.log_end_offset(), 9);
    follower.truncate_to(6, 0).unwrap();
    assert_eq!(follower.log_end_offset(), 6);
    assert_eq!(follower.leader_epoch(), 3);
    assert_eq!(follower.epoch_history(), &[(0, 0), (3, 4)]);
    assert_eq!(follower.high_watermark(), 5);
    follower
        .append_replicated(&replica_read(&leader, 6), 0)
        .unwrap();
    assert_eq!(replica_read(&follower, 0), replica_read(&leader, 0));

    // An epoch started with no batch is dropped by a truncation at the log end.
    follower.become_leader(7).unwrap();
    follower.truncate_to(8, 0).unwrap();
    assert_eq!(follower.epoch_history().last(), Some(&(3, 4)));

    // After a restart the copy is whole.
    drop(follower);
    let follower = log_in(fd.path());
    assert_eq!(follower.log_end_offset(), 8);
    assert_eq!(replica_read(&follower, 0), replica_read(&leader, 0));
}

#[test]
fn a_follower_behind_the_leaders_log_start_starts_over_there_and_it_lasts() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = log_in(ld.path());
    for i in 0..10 {
        append(&mut leader, &format!("v{i}"));
    }
    assert_eq!(leader.delete_records_before(6).unwrap(), 6);
    let mut follower = log_in(fd.path());
    append(&mut follower, "stale");
    follower.restart_at(6, 0).unwrap();
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (6, 6)
    );
    assert!(follower.epoch_history().is_empty(), "nothing fetched yet");
    follower
        .append_replicated(&replica_read(&leader, 6), 0)
        .unwrap();
    assert_eq!(follower.log_end_offset(), 10);
    assert_eq!(follower.epoch_history(), &[(0, 6)]);
    drop(follower);
    let reopened = log_in(fd.path());
    assert_eq!(
        (reopened.log_start_offset(), reopened.log_end_offset()),
        (6, 10)
    );
}
