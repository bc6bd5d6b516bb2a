//! Log compaction (`cleanup.policy=compact`): keep the latest record per key in the sealed
//! segments, and drop tombstones (null values) once `delete.retention.ms` has passed.
//!
//! Memory is bounded whatever the log holds, as in Kafka's cleaner:
//! - The key map holds a 128-bit hash of each key and its latest offset, and is sized by
//!   `log.cleaner.dedupe.buffer.size`. When it fills, the cleaner cleans with what it has (a
//!   record is dropped only if a later offset of its key is in the map) and starts another pass
//!   from where the map stopped, until the whole cleanable range has been mapped.
//! - Records are streamed: a compressed batch is decoded a piece at a time within the produce
//!   path's decompression budget, surviving records are re-encoded into batches of at most
//!   [`MAX_REWRITTEN_BATCH`] bytes, and the cleaned segment is written as it is produced.
//! - A batch that cannot be read (corrupt, or past the budget) is kept as it is, logged and
//!   counted on the partition ([`PartitionLog::cleaner_skipped_batches`]); cleaning goes on.
//!
//! Only sealed segments older than `min.compaction.lag.ms` are mapped or rewritten: a record in
//! the active segment may still be lost to a crash, so it must not remove an older value.
//!
//! Transactions: nothing at or past the last stable offset is cleaned (an open transaction may
//! still abort). Records of aborted transactions never enter the key map (they must not shadow
//! a committed value) and are removed; transaction markers are always kept, so the aborted
//! index and `read_committed` readers still find every transaction's end.
//! Offsets never change. A batch whose records all survive is kept byte for byte; otherwise its
//! survivors are re-encoded, one batch per run of consecutive offsets, with the original codec,
//! timestamp type and producer fields.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{self, BufWriter, Write};

use bytes::Bytes;
use odradek_protocol::records::{
    BatchHeader, BatchOptions, RecordBatchBuilder, RecordHeader, RecordStream,
};

use super::PartitionLog;
use super::segment::{ScanError, segment_stem};
use super::validate::decompression_budget;

/// A re-encoded batch is closed past this many bytes of records, so one huge run of survivors
/// never sits whole in memory.
pub const MAX_REWRITTEN_BATCH: usize = 1 << 20;
/// Bytes one slot of the key map costs: 16 bytes of key hash, 8 of offset, 1 control byte.
const MAP_SLOT_BYTES: usize = 25;

/// What one compaction run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    pub segments_rewritten: usize,
    pub records_removed: usize,
    /// Tombstones kept because `delete.retention.ms` has not passed yet.
    pub tombstones_retained: usize,
    /// Key-map passes over the cleanable range (more than one when the map filled).
    pub passes: usize,
    /// Batches that could not be read, kept as they are.
    pub skipped_batches: usize,
}

/// A key's 128-bit hash: the map never keeps keys themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyHash(u64, u64);

impl Hash for KeyHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

impl KeyHash {
    fn of(key: &[u8]) -> Self {
        let mut a = std::hash::DefaultHasher::new();
        key.hash(&mut a);
        let mut b = std::hash::DefaultHasher::new();
        0x9e37_79b9_7f4a_7c15u64.hash(&mut b);
        key.hash(&mut b);
        KeyHash(a.finish(), b.finish())
    }
}

/// The key's hash is already uniform: the table uses it as is.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Latest offset per key hash, with a fixed number of entries.
struct KeyMap {
    map: HashMap<KeyHash, i64, BuildHasherDefault<PassThrough>>,
    max_entries: usize,
}

impl KeyMap {
    /// A map whose table (a power of two of slots, filled to 7/8 at most) fits in `bytes`; it
    /// is allocated whole, as Kafka's is, and pages become resident as entries land in them.
    fn with_budget(bytes: usize) -> Self {
        let slots = (bytes / MAP_SLOT_BYTES).max(8);
        let slots = 1usize << (usize::BITS - 1 - slots.leading_zeros()); // round down to 2^n
        let max_entries = slots / 8 * 7;
        Self {
            map: HashMap::with_capacity_and_hasher(max_entries, Default::default()),
            max_entries,
        }
    }

    /// Records `offset` as the latest of `key`; false (nothing recorded) when the map is full
    /// and the key is new.
    fn put(&mut self, key: KeyHash, offset: i64) -> bool {
        if let Some(latest) = self.map.get_mut(&key) {
            *latest = offset;
            return true;
        }
        if self.map.len() >= self.max_entries {
            return false;
        }
        self.map.insert(key, offset);
        true
    }
}

/// Counts a batch the cleaner cannot read; logged the first time it is met.
fn skip(log: &mut PartitionLog, stats: &mut CleanStats, base: i64, pos: u64, why: &str) {
    stats.skipped_batches += 1;
    if log.note_cleaner_skip(base, pos) {
        tracing::error!(
            dir = %log.dir().display(),
            segment = base,
            position = pos,
            "compaction skips a batch it cannot read (kept as it is; the partition is marked): {why}"
        );
    }
}

/// Compacts the sealed segments of `log` with a key map of about `map_bytes`. Holds the
/// caller's lock for its duration.
pub fn compact(log: &mut PartitionLog, now_ms: i64, map_bytes: usize) -> io::Result<CleanStats> {
    let mut stats = CleanStats::default();
    let cfg = log.config().clone();
    if !cfg.compact {
        return Ok(stats);
    }
    // The cleanable range: sealed segments up to the first one too fresh to compact.
    let mut cleanable = Vec::new();
    let stable = log.last_stable_offset();
    for seg in log.sealed_segments() {
        if now_ms.saturating_sub(seg.last_modified_ms) < cfg.min_compaction_lag_ms
            || seg.next_offset > stable
        {
            break;
        }
        cleanable.push(seg.base_offset);
    }
    let Some(&last) = cleanable.last() else {
        return Ok(stats);
    };
    let end_of_range = log.segment(last).map_or(last, |s| s.next_offset);
    let budget = decompression_budget(cfg.max_message_bytes);
    let mut map = KeyMap::with_budget(map_bytes);
    let mut start = i64::MIN;
    while start < end_of_range {
        map.map.clear();
        let mapped_to = build_map(log, &cleanable, start, budget, &mut map)?;
        stats.passes += 1;
        for &base in &cleanable {
            if base >= mapped_to {
                break;
            }
            clean_segment(log, base, mapped_to, now_ms, budget, &map, &mut stats)?;
        }
        start = mapped_to;
    }
    Ok(stats)
}

/// Maps keys of records at or after `start` until the map is full; returns the offset mapping
/// stopped at (the end of the range when it did not fill).
fn build_map(
    log: &mut PartitionLog,
    cleanable: &[i64],
    start: i64,
    budget: usize,
    map: &mut KeyMap,
) -> io::Result<i64> {
    // A batch that cannot be read is passed over here; cleaning reports it.
    let mut stopped = None;
    'segments: for &base in cleanable {
        let Some(seg) = log.segment(base) else {
            continue;
        };
        if seg.next_offset <= start {
            continue;
        }
        let mut reader = seg.reader(0)?;
        while let Some((_, h, bytes)) = reader.next_batch().map_err(ScanError::into_io)? {
            if h.is_control()
                || h.last_offset() < start
                || (h.is_transactional() && log.is_aborted(h.producer_id, h.base_offset))
            {
                continue;
            }
            let Ok(mut records) = RecordStream::new(&h, &bytes, budget) else {
                continue;
            };
            while let Some(r) = records.next_ref() {
                let Ok(r) = r else { break };
                if r.offset < start {
                    continue;
                }
                if let Some(key) = r.key
                    && !map.put(KeyHash::of(key), r.offset)
                {
                    stopped = Some(r.offset);
                    break 'segments;
                }
            }
        }
    }
    let end = cleanable
        .last()
        .and_then(|b| log.segment(*b))
        .map_or(start, |s| s.next_offset);
    Ok(stopped.unwrap_or(end))
}

/// What happens to one record in a cleaning pass.
fn keeps(
    map: &KeyMap,
    mapped_to: i64,
    tombstones_expire: bool,
    key: Option<&[u8]>,
    offset: i64,
    is_tombstone: bool,
    stats: &mut CleanStats,
) -> bool {
    let Some(key) = key else { return true };
    if offset >= mapped_to {
        return true;
    }
    match map.map.get(&KeyHash::of(key)) {
        Some(&latest) if latest > offset => false,
        Some(_) if is_tombstone => {
            if !tombstones_expire {
                stats.tombstones_retained += 1;
            }
            !tombstones_expire
        }
        _ => true,
    }
}

/// Rewrites one sealed segment without the records the map supersedes; a segment that loses
/// nothing is left alone.
fn clean_segment(
    log: &mut PartitionLog,
    base: i64,
    mapped_to: i64,
    now_ms: i64,
    budget: usize,
    map: &KeyMap,
    stats: &mut CleanStats,
) -> io::Result<()> {
    let cfg = log.config().clone();
    let Some(seg) = log.segment(base) else {
        return Ok(());
    };
    let tombstones_expire = now_ms.saturating_sub(seg.last_modified_ms) >= cfg.delete_retention_ms;
    let cleaned_path = log.dir().join(format!("{}.cleaned", segment_stem(base)));
    let mut out = BufWriter::with_capacity(256 << 10, std::fs::File::create(&cleaned_path)?);
    let mut removed = 0usize;
    let mut retained = 0usize;
    let mut skipped = Vec::new();
    let mut reader = seg.reader(0)?;
    while let Some((pos, h, bytes)) = reader.next_batch().map_err(ScanError::into_io)? {
        if h.is_control() || h.base_offset >= mapped_to {
            out.write_all(&bytes)?;
            continue;
        }
        if h.is_transactional() && log.is_aborted(h.producer_id, h.base_offset) {
            removed += h.records_count.max(0) as usize;
            continue;
        }
        // First walk: does anything go? (Counted without holding the records.)
        let mut tally = CleanStats::default();
        let mut dropping = 0usize;
        let walked = (|| -> Result<(), String> {
            let mut records = RecordStream::new(&h, &bytes, budget).map_err(|e| e.to_string())?;
            while let Some(r) = records.next_ref() {
                let r = r.map_err(|e| e.to_string())?;
                if !keeps(
                    map,
                    mapped_to,
                    tombstones_expire,
                    r.key,
                    r.offset,
                    r.value.is_none(),
                    &mut tally,
                ) {
                    dropping += 1;
                }
            }
            Ok(())
        })();
        if let Err(why) = walked {
            skipped.push((pos, why));
            out.write_all(&bytes)?;
            continue;
        }
        retained += tally.tombstones_retained;
        if dropping == 0 {
            out.write_all(&bytes)?;
            continue;
        }
        removed += dropping;
        rewrite_batch(
            &h,
            &bytes,
            budget,
            |key, offset, tombstone| {
                let mut ignore = CleanStats::default();
                keeps(
                    map,
                    mapped_to,
                    tombstones_expire,
                    key,
                    offset,
                    tombstone,
                    &mut ignore,
                )
            },
            &mut out,
        )?;
    }
    out.flush()?;
    drop(out);
    for (pos, why) in skipped {
        skip(log, stats, base, pos, &why);
    }
    stats.tombstones_retained += retained;
    if removed == 0 {
        std::fs::remove_file(&cleaned_path)?;
        return Ok(());
    }
    log.replace_segment(base, &cleaned_path)?;
    stats.segments_rewritten += 1;
    stats.records_removed += removed;
    Ok(())
}

/// Writes the records of a batch that `keep` keeps, one batch per run of consecutive offsets
/// (and per [`MAX_REWRITTEN_BATCH`] bytes), with the batch's codec and producer fields.
fn rewrite_batch(
    h: &BatchHeader,
    bytes: &Bytes,
    budget: usize,
    mut keep: impl FnMut(Option<&[u8]>, i64, bool) -> bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let invalid = |e: odradek_protocol::records::RecordsError| {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    };
    let options_at = |offset: i64| BatchOptions {
        compression: h.compression(),
        base_offset: offset,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: if h.base_sequence >= 0 {
            h.base_sequence
                .wrapping_add((offset - h.base_offset) as i32)
        } else {
            -1
        },
        partition_leader_epoch: h.partition_leader_epoch,
        timestamp_type: h.timestamp_type(),
        is_transactional: h.is_transactional(),
        ..BatchOptions::default()
    };
    let mut encoded = Vec::new();
    let mut builder: Option<RecordBatchBuilder> = None;
    let mut expect = i64::MIN;
    let mut flush = |b: &mut Option<RecordBatchBuilder>, encoded: &mut Vec<u8>| -> io::Result<()> {
        if let Some(mut b) = b.take() {
            encoded.clear();
            b.finish_into(encoded)
                .map_err(|e| io::Error::other(e.to_string()))?;
            out.write_all(encoded)?;
        }
        Ok(())
    };
    let mut records = RecordStream::new(h, bytes, budget).map_err(invalid)?;
    let mut headers = Vec::new();
    while let Some(r) = records.next_ref() {
        let r = r.map_err(invalid)?;
        if !keep(r.key, r.offset, r.value.is_none()) {
            continue;
        }
        let full = builder
            .as_ref()
            .is_some_and(|b| b.estimated_size() >= MAX_REWRITTEN_BATCH);
        if r.offset != expect || full {
            flush(&mut builder, &mut encoded)?;
        }
        let b = builder.get_or_insert_with(|| RecordBatchBuilder::new(options_at(r.offset)));
        headers.clear();
        headers.extend(r.headers().map(|(k, v)| {
            RecordHeader::new(Bytes::copy_from_slice(k), v.map(Bytes::copy_from_slice))
        }));
        b.push(r.timestamp, r.key, r.value, &headers)
            .map_err(|e| io::Error::other(e.to_string()))?;
        expect = r.offset + 1;
    }
    flush(&mut builder, &mut encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BrokerProperties, FsyncPolicy, LogConfig, TopicOverrides};
    use odradek_protocol::records::RecordBatch;

    fn keyed(key: &str, value: Option<&str>) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        b.push(1000, Some(key.as_bytes()), value.map(str::as_bytes), &[])
            .unwrap();
        b.finish().unwrap()
    }

    fn compacted_log(dir: &std::path::Path, segment_bytes: &str) -> PartitionLog {
        let mut o = TopicOverrides::new();
        o.insert("cleanup.policy".into(), "compact".into());
        o.insert("segment.bytes".into(), segment_bytes.into());
        o.insert("delete.retention.ms".into(), "0".into());
        let cfg = LogConfig::resolve(&BrokerProperties::default(), FsyncPolicy::Never, &o);
        PartitionLog::open(dir, cfg, 0).unwrap()
    }

    fn append(log: &mut PartitionLog, b: &Bytes) {
        let h = BatchHeader::parse(b).unwrap();
        log.append(b, &h, 0).unwrap();
    }

    /// (offset, key, value) of every record in the log.
    fn contents(log: &PartitionLog) -> Vec<(i64, Bytes, Option<Bytes>)> {
        let mut seen = Vec::new();
        for seg in log.all_segments() {
            let mut r = seg.reader(0).unwrap();
            while let Some((_, h, bytes)) = r.next_batch().unwrap() {
                let batch = RecordBatch { header: h, bytes };
                for r in batch.records().unwrap() {
                    let r = r.unwrap();
                    seen.push((r.offset, r.key.unwrap(), r.value));
                }
            }
        }
        seen
    }

    #[test]
    fn compacts_sealed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = compacted_log(dir.path(), "300");
        for round in 0..5 {
            for k in ["a", "b"] {
                append(&mut log, &keyed(k, Some(&format!("{k}{round}"))));
            }
        }
        append(&mut log, &keyed("a", None));
        for i in 0..6 {
            append(&mut log, &keyed("z", Some(&format!("{i}"))));
        }
        assert!(log.segment_count() > 2);
        let stats = compact(&mut log, 10_000, 1 << 20).unwrap();
        assert!(stats.segments_rewritten > 0, "{stats:?}");
        let seen = contents(&log);
        assert!(!seen.iter().any(|(_, k, _)| &k[..] == b"a"), "{seen:?}");
        let b: Vec<_> = seen.iter().filter(|(_, k, _)| &k[..] == b"b").collect();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].2.as_deref(), Some(&b"b4"[..]));
        assert_eq!(log.log_end_offset(), 17);
    }

    /// A transactional batch of one keyed record from producer `pid` (epoch 0).
    fn txn_keyed(pid: i64, key: &str, value: &str) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            is_transactional: true,
            ..BatchOptions::default()
        });
        b.push(1000, Some(key.as_bytes()), Some(value.as_bytes()), &[])
            .unwrap();
        b.finish().unwrap()
    }

    fn control_batches(log: &PartitionLog) -> usize {
        let mut n = 0;
        for seg in log.all_segments() {
            let mut r = seg.reader(0).unwrap();
            while let Some((_, h)) = r.next_header().unwrap() {
                n += usize::from(h.is_control());
            }
        }
        n
    }

    /// An aborted value never shadows the committed one (a read_committed reader would lose
    /// the key), aborted records are dropped, markers and the aborted index stay correct, and
    /// nothing past the last stable offset is touched.
    #[test]
    fn transactions_survive_compaction() {
        use odradek_protocol::records::ControlRecord;
        let dir = tempfile::tempdir().unwrap();
        let mut log = compacted_log(dir.path(), "300");
        append(&mut log, &txn_keyed(1, "a", "committed"));
        log.append_marker(
            1,
            0,
            ControlRecord::Commit {
                coordinator_epoch: 0,
            },
            0,
        )
        .unwrap();
        append(&mut log, &txn_keyed(2, "a", "aborted"));
        let abort = log
            .append_marker(
                2,
                0,
                ControlRecord::Abort {
                    coordinator_epoch: 0,
                },
                0,
            )
            .unwrap();
        // Still open: compaction must leave it and everything after it alone.
        append(&mut log, &txn_keyed(3, "b", "open"));
        for i in 0..8 {
            append(&mut log, &keyed("z", Some(&format!("{i}"))));
        }
        assert!(log.segment_count() > 3);
        let stable = log.last_stable_offset();
        assert_eq!(stable, 4);
        compact(&mut log, 10_000, 1 << 20).unwrap();
        let seen = contents(&log);
        let values = |k: &[u8]| -> Vec<Option<Bytes>> {
            seen.iter()
                .filter(|(_, key, _)| &key[..] == k)
                .map(|(_, _, v)| v.clone())
                .collect()
        };
        assert_eq!(values(b"a"), vec![Some(Bytes::from_static(b"committed"))]);
        assert_eq!(values(b"b"), vec![Some(Bytes::from_static(b"open"))]);
        assert_eq!(control_batches(&log), 2);
        assert_eq!(log.last_stable_offset(), stable);
        drop(log);
        let cfg = compacted_log(dir.path(), "300").config().clone();
        let back = PartitionLog::open(dir.path(), cfg, 0).unwrap();
        assert_eq!(back.aborted_between(0, back.log_end_offset()), vec![(2, 2)]);
        assert_eq!(abort.base_offset, 3);
        assert_eq!(back.last_stable_offset(), stable);
    }

    #[test]
    fn a_map_smaller_than_the_keys_compacts_in_passes() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = compacted_log(dir.path(), "4000");
        // 300 keys, each written 3 times; the map holds 56 of them.
        for round in 0..3 {
            for k in 0..300 {
                append(
                    &mut log,
                    &keyed(&format!("key{k}"), Some(&format!("{round}"))),
                );
            }
        }
        append(&mut log, &keyed("last", Some("x"))); // seals the rest
        for _ in 0..40 {
            append(&mut log, &keyed("filler", Some("x")));
        }
        let stats = compact(&mut log, 10_000, 64 * MAP_SLOT_BYTES).unwrap();
        assert!(stats.passes > 5, "{stats:?}");
        let seen = contents(&log);
        for k in 0..300 {
            let key = format!("key{k}");
            let of_key: Vec<_> = seen
                .iter()
                .filter(|(_, kk, _)| kk[..] == *key.as_bytes())
                .collect();
            assert_eq!(of_key.len(), 1, "{key}: {of_key:?}");
            assert_eq!(of_key[0].2.as_deref(), Some(&b"2"[..]));
        }
    }

    #[test]
    fn an_unreadable_batch_is_kept_and_the_rest_still_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = compacted_log(dir.path(), "300");
        append(&mut log, &keyed("a", Some("1")));
        // A batch whose zstd section is garbage, with a good CRC (bypassing produce validation,
        // as a log written before validation existed could hold).
        let mut bad = keyed("x", Some("garbage")).to_vec();
        bad[21..23].copy_from_slice(&4i16.to_be_bytes());
        let crc = crc32c::crc32c(&bad[21..]);
        bad[17..21].copy_from_slice(&crc.to_be_bytes());
        append(&mut log, &Bytes::from(bad));
        append(&mut log, &keyed("a", Some("2")));
        for i in 0..8 {
            append(&mut log, &keyed("z", Some(&format!("{i}"))));
        }
        let stats = compact(&mut log, 10_000, 1 << 20).unwrap();
        assert!(stats.skipped_batches >= 1, "{stats:?}");
        assert!(log.cleaner_skipped_batches() >= 1);
        assert!(stats.records_removed >= 1, "{stats:?}");
        // The garbage batch is still there, byte for byte; "a" keeps only its latest value.
        let mut offsets_of_a = Vec::new();
        let mut garbage_kept = false;
        for seg in log.all_segments() {
            let mut r = seg.reader(0).unwrap();
            while let Some((_, h, bytes)) = r.next_batch().unwrap() {
                let batch = RecordBatch { header: h, bytes };
                match batch.records() {
                    Err(_) => garbage_kept = true,
                    Ok(records) => {
                        for r in records {
                            let r = r.unwrap();
                            if r.key.as_deref() == Some(b"a") {
                                offsets_of_a.push(r.offset);
                            }
                        }
                    }
                }
            }
        }
        assert!(garbage_kept);
        assert_eq!(offsets_of_a, [2]);
    }
}
