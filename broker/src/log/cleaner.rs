//! Log compaction (`cleanup.policy=compact`): keep the latest record per key in the sealed
//! segments, and drop tombstones (null values) once `delete.retention.ms` has passed.
//!
//! Offsets never change. A batch whose records all survive is kept byte for byte; otherwise
//! its surviving records are re-encoded, one batch per run of consecutive offsets (v2 offset
//! deltas must be contiguous), with the original codec, timestamps and producer fields. The
//! active segment is never rewritten (its records still count as "latest" for the key map).

use std::collections::HashMap;
use std::io::{self, Write};

use bytes::Bytes;
use odradek_protocol::records::{
    BatchHeader, BatchOptions, Record, RecordBatch, RecordBatchBuilder,
};

use super::PartitionLog;
use super::segment::{ScanError, Segment};

/// What one compaction pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    pub segments_rewritten: usize,
    pub records_removed: usize,
    /// Tombstones kept because `delete.retention.ms` has not passed yet.
    pub tombstones_retained: usize,
}

fn records_of(h: &BatchHeader, bytes: Bytes) -> io::Result<Vec<Record>> {
    let batch = RecordBatch { header: *h, bytes };
    let invalid = |e: odradek_protocol::records::RecordsError| {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    };
    batch
        .records()
        .map_err(invalid)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)
}

fn batches_of(seg: &Segment) -> io::Result<Vec<(BatchHeader, Bytes)>> {
    let mut r = seg.reader(0);
    let mut out = Vec::new();
    while let Some((_, h, bytes)) = r.next_batch().map_err(ScanError::into_io)? {
        out.push((h, bytes));
    }
    Ok(out)
}

/// Compacts the sealed segments of `log`. Holds the caller's lock for its duration.
pub fn compact(log: &mut PartitionLog, now_ms: i64) -> io::Result<CleanStats> {
    let mut stats = CleanStats::default();
    let cfg = log.config().clone();
    if !cfg.compact {
        return Ok(stats);
    }
    let sealed: Vec<i64> = log.sealed_segments().map(|s| s.base_offset).collect();
    if sealed.is_empty() {
        return Ok(stats);
    }
    // Latest offset per key over the whole log, active segment included.
    let mut latest: HashMap<Bytes, i64> = HashMap::new();
    for seg in log.all_segments() {
        for (h, bytes) in batches_of(seg)? {
            if h.is_control() {
                continue;
            }
            for r in records_of(&h, bytes)? {
                if let Some(k) = r.key {
                    latest.insert(k, r.offset);
                }
            }
        }
    }
    for base in sealed {
        let Some(seg) = log.segment(base) else {
            continue;
        };
        // min.compaction.lag.ms: too fresh segments wait.
        if now_ms.saturating_sub(seg.last_modified_ms) < cfg.min_compaction_lag_ms {
            continue;
        }
        let tombstones_expire =
            now_ms.saturating_sub(seg.last_modified_ms) >= cfg.delete_retention_ms;
        let mut out: Vec<u8> = Vec::with_capacity(seg.size as usize);
        let mut removed_here = 0usize;
        for (h, bytes) in batches_of(seg)? {
            if h.is_control() {
                out.extend_from_slice(&bytes);
                continue;
            }
            let records = records_of(&h, bytes.clone())?;
            let keep: Vec<bool> = records
                .iter()
                .map(|r| {
                    let newest = r
                        .key
                        .as_ref()
                        .is_none_or(|k| latest.get(k) == Some(&r.offset));
                    let expired_tombstone = r.value.is_none() && tombstones_expire;
                    if newest && r.value.is_none() && !tombstones_expire {
                        stats.tombstones_retained += 1;
                    }
                    newest && !expired_tombstone
                })
                .collect();
            let kept = keep.iter().filter(|k| **k).count();
            removed_here += records.len() - kept;
            if kept == records.len() {
                out.extend_from_slice(&bytes);
                continue;
            }
            // Re-encode runs of consecutive surviving offsets.
            let mut i = 0;
            while i < records.len() {
                if !keep[i] {
                    i += 1;
                    continue;
                }
                let first = &records[i];
                let mut builder = RecordBatchBuilder::new(BatchOptions {
                    compression: h.compression(),
                    base_offset: first.offset,
                    producer_id: h.producer_id,
                    producer_epoch: h.producer_epoch,
                    base_sequence: if h.base_sequence >= 0 {
                        h.base_sequence
                            .wrapping_add((first.offset - h.base_offset) as i32)
                    } else {
                        -1
                    },
                    partition_leader_epoch: h.partition_leader_epoch,
                    ..BatchOptions::default()
                });
                let mut expect = first.offset;
                while i < records.len() && keep[i] && records[i].offset == expect {
                    let r = &records[i];
                    builder
                        .push(
                            r.timestamp,
                            r.key.as_deref(),
                            r.value.as_deref(),
                            &r.headers,
                        )
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    expect += 1;
                    i += 1;
                }
                let encoded = builder
                    .finish()
                    .map_err(|e| io::Error::other(e.to_string()))?;
                out.extend_from_slice(&encoded);
            }
        }
        if removed_here == 0 {
            continue;
        }
        let cleaned = log
            .dir()
            .join(format!("{}.cleaned", super::segment::segment_stem(base)));
        {
            let mut f = std::fs::File::create(&cleaned)?;
            f.write_all(&out)?;
        }
        log.replace_segment(base, &cleaned)?;
        stats.segments_rewritten += 1;
        stats.records_removed += removed_here;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BrokerProperties, FsyncPolicy, LogConfig, TopicOverrides};
    use odradek_protocol::records::BatchHeader;

    fn keyed(key: &str, value: Option<&str>) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        b.push(1000, Some(key.as_bytes()), value.map(str::as_bytes), &[])
            .unwrap();
        b.finish().unwrap()
    }

    #[test]
    fn compacts_sealed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = TopicOverrides::new();
        o.insert("cleanup.policy".into(), "compact".into());
        o.insert("segment.bytes".into(), "300".into());
        o.insert("delete.retention.ms".into(), "0".into());
        let cfg = LogConfig::resolve(&BrokerProperties::default(), FsyncPolicy::Never, &o);
        let mut log = PartitionLog::open(dir.path(), cfg, 0).unwrap();
        let mut append = |k: &str, v: Option<&str>| {
            let b = keyed(k, v);
            let h = BatchHeader::parse(&b).unwrap();
            log.append(&b, &h, 0).unwrap();
        };
        for round in 0..5 {
            for k in ["a", "b"] {
                append(k, Some(&format!("{k}{round}")));
            }
        }
        append("a", None);
        for i in 0..6 {
            append("z", Some(&format!("{i}")));
        }
        assert!(log.segment_count() > 2);
        let stats = compact(&mut log, 10_000).unwrap();
        assert!(stats.segments_rewritten > 0, "{stats:?}");
        let mut seen = Vec::new();
        for seg in log.all_segments() {
            for (h, bytes) in batches_of(seg).unwrap() {
                for r in records_of(&h, bytes).unwrap() {
                    seen.push((r.offset, r.key.unwrap(), r.value));
                }
            }
        }
        assert!(!seen.iter().any(|(_, k, _)| &k[..] == b"a"), "{seen:?}");
        let b: Vec<_> = seen.iter().filter(|(_, k, _)| &k[..] == b"b").collect();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].2.as_deref(), Some(&b"b4"[..]));
        assert_eq!(log.log_end_offset(), 17);
    }
}
