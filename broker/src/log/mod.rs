//! Durable storage of one partition: segments of record batches stored as received, sparse
//! indexes, recovery, retention, idempotent-producer state, leader epochs, and transactions
//! (open transactions bound the last stable offset; aborted ones are indexed in `aborted`).
//!
//! Invariants:
//! - Batches are written exactly as produced except the base offset and partition leader
//!   epoch, which the CRC does not cover; nothing is recompressed.
//! - `high_watermark` ≤ log end offset. With `--fsync always` it only advances once the data
//!   is fsynced, so no consumer sees a record that a crash could take back.
//! - Only the last segment is written; the others are sealed with index files on disk.

pub mod aborted;
pub mod cleaner;
pub mod epoch;
pub mod files;
pub mod index;
pub mod producer_state;
#[cfg(test)]
mod replica_tests;
pub mod segment;
pub mod validate;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aborted::{AbortedIndex, AbortedTxn};
use bytes::Bytes;

use crate::config::{FsyncPolicy, LogConfig};
use epoch::LeaderEpochCache;
use files::SegmentFile;
use odradek_protocol::records::{
    BatchHeader, BatchOptions, ControlRecord, RecordBatch, RecordBatchBuilder, RecordsError,
    set_base_offset, set_partition_leader_epoch,
};
use producer_state::{ProducerStateTable, SequenceCheck, SequenceError};
use segment::Segment;
pub use validate::{ProduceRules, RecordError, Validated, validate_produced};

const LOG_START_FILE: &str = "log-start-offset";

/// Why a produced batch was refused. Each maps to a Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("corrupt record batch: {0}")]
    Corrupt(RecordsError),
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    TooLarge { size: usize, max: usize },
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),
    /// Records refused one by one (Kafka's `record_errors`); the batch is refused whole.
    #[error("{}", record_errors_message(.0))]
    RecordErrors(Vec<RecordError>),
    #[error("{}", .0.message())]
    Sequence(SequenceError),
    /// A transactional batch the coordinator does not know as part of an open transaction
    /// (or with a stale epoch): the code comes from the coordinator's check.
    #[error("{message}")]
    Transaction { code: i16, message: String },
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
}

impl AppendError {
    /// The Kafka error code for a produce response.
    pub fn code(&self) -> i16 {
        match self {
            Self::Corrupt(_) => 2,         // CORRUPT_MESSAGE
            Self::TooLarge { .. } => 10,   // MESSAGE_TOO_LARGE
            Self::InvalidRecord(_) => 87,  // INVALID_RECORD
            Self::RecordErrors(_) => 87,   // INVALID_RECORD
            Self::Sequence(e) => e.code(), // OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH
            Self::Transaction { code, .. } => *code,
            Self::Io(_) => 56, // KAFKA_STORAGE_ERROR
        }
    }
}

/// The batch-level message for refused records, shaped like Kafka's.
fn record_errors_message(errors: &[RecordError]) -> String {
    let shown: Vec<String> = errors
        .iter()
        .take(3)
        .map(|e| format!("record {}: {}", e.batch_index, e.message))
        .collect();
    format!(
        "one or more records have been rejected due to {} record errors in total, and only \
         showing the first three errors at most: [{}]",
        errors.len(),
        shown.join("; ")
    )
}

/// Result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The batch was a retry of one already stored; offsets are the original ones.
    pub duplicate: bool,
    pub log_start_offset: i64,
}

/// A byte range of a segment file to send to a consumer; read outside the partition lock.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub file: Arc<File>,
    pub position: u64,
    pub len: usize,
}

impl ReadPlan {
    pub fn read(&self) -> io::Result<Bytes> {
        Segment::read(&self.file, self.position, self.len)
    }
}

/// The offsets a reader sees with its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOffsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
}

/// Files to fsync and the state they make durable; run outside the partition lock.
#[derive(Debug)]
pub struct FlushJob {
    files: Vec<Arc<SegmentFile>>,
    sync_dir: Option<PathBuf>,
    upto_offset: i64,
    committed: (i64, u64),
}

impl FlushJob {
    /// Performs the fsyncs (blocking).
    pub fn run(&self) -> io::Result<()> {
        for f in &self.files {
            match f.get() {
                Ok(file) => file.sync_data()?,
                // Deleted meanwhile (retention, compaction): nothing left to make durable.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(d) = &self.sync_dir {
            File::open(d)?.sync_all()?;
        }
        Ok(())
    }
    pub fn upto_offset(&self) -> i64 {
        self.upto_offset
    }
}

/// One partition's log.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    /// What this replica holds durably enough to serve (the log end, or with `--fsync always`
    /// the flushed end).
    high_watermark: i64,
    /// Cluster mode, replicated partition: the replication high watermark (the leader's, or
    /// what the leader last told this follower); `i64::MAX` when nothing else bounds reads.
    replicated_bound: i64,
    /// (segment base, byte size) up to which consumers may read (matches `high_watermark`).
    committed: (i64, u64),
    leader_epoch: i32,
    epochs: LeaderEpochCache,
    producers: ProducerStateTable,
    aborted: AbortedIndex,
    /// Sealed segments with writes not yet fsynced.
    unflushed_files: Vec<Arc<SegmentFile>>,
    dir_dirty: bool,
    unflushed_messages: i64,
    last_flush_ms: i64,
    flushed_offset: i64,
    append_buf: Vec<u8>,
    /// Batches compaction could not read, by (segment base, position): kept as they are.
    cleaner_skips: std::collections::BTreeSet<(i64, u64)>,
}

impl PartitionLog {
    /// Opens (creating if needed) and recovers the log in `dir`.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log")
                && let Ok(base) = stem.parse::<i64>()
            {
                bases.push(base);
            } else if name.ends_with(".tmp") || name.ends_with(".cleaned") {
                // Leftovers of an interrupted atomic write or compaction.
                let _ = std::fs::remove_file(dir.join(&*name));
            }
        }
        bases.sort_unstable();
        let stored_start = std::fs::read_to_string(dir.join(LOG_START_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        let mut segments = BTreeMap::new();
        let last = bases.last().copied();
        for base in bases {
            let active = Some(base) == last;
            let (seg, truncated) = Segment::open(dir, base, active, config.index_interval_bytes)?;
            if let Some(pos) = truncated {
                tracing::warn!(dir = %dir.display(), segment = base, position = pos, "recovered segment: truncated an invalid tail");
            }
            segments.insert(base, seg);
        }
        if segments.is_empty() {
            let base = stored_start.unwrap_or(0).max(0);
            segments.insert(base, Segment::create(dir, base, now_ms)?);
        }
        let first_base = *segments.keys().next().expect("at least one segment");
        let active = segments.values().next_back().expect("at least one segment");
        let leo = active.next_offset;
        let log_start_offset = stored_start.unwrap_or(first_base).clamp(first_base, leo);
        let committed = (active.base_offset, active.size);
        let mut epochs = LeaderEpochCache::load(dir);
        if epochs.latest_epoch().is_none() {
            epochs.assign(0, log_start_offset)?;
        }
        epochs.truncate_from_end(leo.max(log_start_offset + 1))?;
        let leader_epoch = epochs.latest_epoch().unwrap_or(0);
        let mut log = Self {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            high_watermark: leo,
            replicated_bound: i64::MAX,
            committed,
            leader_epoch,
            epochs,
            producers: ProducerStateTable::default(),
            aborted: AbortedIndex::load(dir),
            unflushed_files: Vec::new(),
            dir_dirty: false,
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            flushed_offset: leo,
            append_buf: Vec::new(),
            cleaner_skips: Default::default(),
        };
        log.rebuild_producer_state(now_ms)?;
        Ok(log)
    }

    /// Loads the producer snapshot taken when the active segment was rolled in, then replays
    /// batches after it; without a snapshot, replays every segment's headers.
    fn rebuild_producer_state(&mut self, now_ms: i64) -> io::Result<()> {
        let active_base = self.active().base_offset;
        let snap = self
            .dir
            .join(format!("{}.snapshot", segment::segment_stem(active_base)));
        let (table, from) = match ProducerStateTable::read_snapshot(&snap) {
            Some(t) => (t, active_base),
            None => (ProducerStateTable::default(), i64::MIN),
        };
        self.producers = table;
        let segments = self
            .segments
            .range(from..)
            .map(|(_, seg)| Ok((seg.reader(0)?, seg.file()?)))
            .collect::<io::Result<Vec<_>>>()?;
        for (mut r, file) in segments {
            while let Some((pos, h)) = r.next_header().map_err(segment::ScanError::into_io)? {
                if h.producer_id < 0 {
                    continue;
                }
                self.producers.update(&h, now_ms);
                if h.is_control() {
                    let bytes = Segment::read(&file, pos, h.total_len())?;
                    let marker = RecordBatch::parse(bytes)
                        .and_then(|b| b.control_record())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    self.close_txn(h.producer_id, h.base_offset, marker)?;
                }
            }
        }
        Ok(())
    }

    /// A marker at `marker_offset` ends the producer's open transaction; an abort is indexed.
    fn close_txn(
        &mut self,
        producer_id: i64,
        marker_offset: i64,
        marker: Option<ControlRecord>,
    ) -> io::Result<()> {
        let closed = self.producers.close_txn(producer_id);
        if let (Some(c), Some(ControlRecord::Abort { .. })) = (closed, marker) {
            self.aborted.record(AbortedTxn {
                producer_id,
                first_offset: c.first_offset,
                last_offset: marker_offset,
            })?;
        }
        Ok(())
    }

    fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    pub fn high_watermark(&self) -> i64 {
        self.visible_high_watermark()
    }
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The high watermark consumers see: what this replica holds, bounded in cluster mode by
    /// the replication high watermark of a replicated partition.
    fn visible_high_watermark(&self) -> i64 {
        self.high_watermark.min(self.replicated_bound)
    }

    /// Cluster mode: bounds reads by the replication high watermark (`None`: no bound, an
    /// unreplicated partition). Never past the log end.
    pub fn set_replicated_high_watermark(&mut self, hw: Option<i64>) {
        self.replicated_bound = hw.map_or(i64::MAX, |hw| hw.min(self.log_end_offset()));
    }

    /// The leader-epoch history, (epoch, start offset) ascending (KIP-101).
    pub fn epoch_history(&self) -> &[(i32, i64)] {
        self.epochs.entries()
    }

    /// A follower's append: whole batches from the leader's log, stored verbatim (offsets and
    /// leader epochs as the leader assigned them). A batch this log already holds is skipped;
    /// a trailing partial batch (a fetch cut at its size limit) is left for the next fetch.
    /// Returns the new log end offset.
    pub fn append_replicated(
        &mut self,
        mut records: &[u8],
        now_ms: i64,
    ) -> Result<i64, AppendError> {
        while records.len() >= odradek_protocol::records::BATCH_HEADER_LEN {
            let h = BatchHeader::parse(records).map_err(AppendError::Corrupt)?;
            let total = h.total_len();
            if records.len() < total {
                break;
            }
            let (batch, rest) = records.split_at(total);
            records = rest;
            let leo = self.log_end_offset();
            if h.last_offset() < leo {
                continue;
            }
            if h.base_offset != leo {
                return Err(AppendError::InvalidRecord(format!(
                    "replicated batch at offset {} does not follow the log end {leo}",
                    h.base_offset
                )));
            }
            odradek_protocol::records::verify_crc(batch).map_err(AppendError::Corrupt)?;
            if h.partition_leader_epoch > self.leader_epoch {
                self.epochs
                    .assign(h.partition_leader_epoch, h.base_offset)?;
                self.leader_epoch = h.partition_leader_epoch;
            }
            self.maybe_roll(total, now_ms)?;
            let interval = self.config.index_interval_bytes;
            self.active_mut().append(batch, &[h], interval, now_ms)?;
            if h.producer_id >= 0 {
                self.producers.update(&h, now_ms);
            }
            if h.is_control() {
                let marker = RecordBatch::parse(Bytes::copy_from_slice(batch))
                    .and_then(|b| b.control_record())
                    .map_err(AppendError::Corrupt)?;
                self.close_txn(h.producer_id, h.base_offset, marker)?;
            }
            self.unflushed_messages += h.records_count as i64;
            if self.config.fsync != FsyncPolicy::Always {
                self.advance_high_watermark();
            }
        }
        Ok(self.log_end_offset())
    }

    /// A follower whose log diverged from the leader's drops everything from `offset` on
    /// (a batch boundary the leader-epoch exchange found), then rebuilds what depends on it.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> io::Result<()> {
        if offset >= self.log_end_offset() {
            if offset == self.log_end_offset() {
                // Epochs started here with no batch yet are not this replica's any more.
                self.epochs.truncate_from_end(offset)?;
                self.leader_epoch = self.epochs.latest_epoch().unwrap_or(0);
            }
            return Ok(());
        }
        tracing::info!(dir = %self.dir.display(), from = self.log_end_offset(), to = offset, "truncating a diverged replica");
        let offset = offset.max(self.log_start_offset);
        let doomed: Vec<i64> = self.segments.range(offset..).map(|(b, _)| *b).collect();
        for base in doomed {
            self.segments
                .remove(&base)
                .expect("listed")
                .delete_files()?;
        }
        match self.segments.range(..offset).next_back().map(|(b, _)| *b) {
            Some(base) => {
                let seg = self.segments.get(&base).expect("listed");
                let cut = seg.find(offset, seg.size)?.map_or(seg.size, |(pos, _)| pos);
                let path = Segment::log_path(&self.dir, base);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(cut)?;
                let (seg, _) =
                    Segment::open(&self.dir, base, true, self.config.index_interval_bytes)?;
                self.segments.insert(base, seg);
            }
            // Every segment went: start over empty at `offset`.
            None => {
                self.segments
                    .insert(offset, Segment::create(&self.dir, offset, now_ms)?);
            }
        }
        self.dir_dirty = true;
        let leo = self.log_end_offset();
        self.epochs.truncate_from_end(leo)?;
        self.leader_epoch = self.epochs.latest_epoch().unwrap_or(0);
        self.aborted.truncate_from(leo)?;
        self.flushed_offset = self.flushed_offset.min(leo);
        self.replicated_bound = self.replicated_bound.min(leo);
        if self.high_watermark >= leo || !self.segments.contains_key(&self.committed.0) {
            self.advance_high_watermark();
        }
        self.rebuild_producer_state(now_ms)
    }

    /// Cluster mode: a follower whose log ends before the leader's log start (the leader has
    /// deleted those records: retention, DeleteRecords; typically a replica a reassignment just
    /// added) drops everything it has and goes on empty at `offset`, the leader's log start,
    /// as Kafka's follower does. Its epoch history restarts with the batches it fetches next.
    pub fn restart_at(&mut self, offset: i64, now_ms: i64) -> io::Result<()> {
        tracing::info!(dir = %self.dir.display(), from = self.log_end_offset(), to = offset, "replica behind the leader's log start: starting over there");
        for (_, seg) in std::mem::take(&mut self.segments) {
            seg.delete_files()?;
        }
        self.segments
            .insert(offset, Segment::create(&self.dir, offset, now_ms)?);
        self.log_start_offset = offset;
        index::write_file_atomically(
            &self.dir.join(LOG_START_FILE),
            offset.to_string().as_bytes(),
        )?;
        self.dir_dirty = true;
        self.epochs.clear()?;
        // Below any real epoch, so the first fetched batch records its own.
        self.leader_epoch = -1;
        self.aborted.truncate_from(i64::MIN)?;
        self.cleaner_skips.clear();
        self.flushed_offset = offset;
        self.replicated_bound = self.replicated_bound.min(offset);
        self.advance_high_watermark();
        self.rebuild_producer_state(now_ms)
    }

    /// Cluster mode: this replica leads from now on in `epoch` (from the metadata image);
    /// batches appended from here on carry it and the epoch history records where it starts.
    pub fn become_leader(&mut self, epoch: i32) -> io::Result<()> {
        if epoch <= self.leader_epoch {
            return Ok(());
        }
        self.epochs.assign(epoch, self.log_end_offset())?;
        self.leader_epoch = epoch;
        Ok(())
    }
    pub fn offsets(&self) -> LogOffsets {
        LogOffsets {
            log_start_offset: self.log_start_offset,
            high_watermark: self.visible_high_watermark(),
            log_end_offset: self.log_end_offset(),
        }
    }
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// Appends one validated batch (see [`validate_produced`]), assigning its offsets.
    pub fn append(
        &mut self,
        records: &[u8],
        header: &BatchHeader,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        if header.producer_id >= 0 {
            match self
                .producers
                .check(header)
                .map_err(AppendError::Sequence)?
            {
                SequenceCheck::Duplicate(m) => {
                    return Ok(AppendInfo {
                        base_offset: m.first_offset,
                        last_offset: m.last_offset,
                        duplicate: true,
                        log_start_offset: self.log_start_offset,
                    });
                }
                SequenceCheck::Append => {}
            }
        }
        self.write_batch(records, header, now_ms)
    }

    /// Writes a transaction marker (a control batch) for `producer_id` and closes its open
    /// transaction here. A marker from an epoch older than the partition knows is refused.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        marker: ControlRecord,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        if let Some(current) = self.producers.epoch_of(producer_id)
            && producer_epoch < current
        {
            return Err(AppendError::Sequence(SequenceError::InvalidEpoch {
                current,
                got: producer_epoch,
            }));
        }
        let mut b = RecordBatchBuilder::new(BatchOptions {
            producer_id,
            producer_epoch,
            base_sequence: -1,
            is_transactional: true,
            is_control: true,
            ..BatchOptions::default()
        });
        let built = b.push_control(now_ms, marker).and_then(|_| b.finish());
        let bytes = built.map_err(AppendError::Corrupt)?;
        let header = BatchHeader::parse(&bytes).map_err(AppendError::Corrupt)?;
        let info = self.write_batch(&bytes, &header, now_ms)?;
        self.close_txn(producer_id, info.base_offset, Some(marker))?;
        Ok(info)
    }

    /// Appends a checked batch at the log end.
    fn write_batch(
        &mut self,
        records: &[u8],
        header: &BatchHeader,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let total = header.total_len();
        self.maybe_roll(total, now_ms)?;
        let base = self.log_end_offset();
        let mut stored = *header;
        stored.base_offset = base;
        stored.partition_leader_epoch = self.leader_epoch;
        let buf = &mut self.append_buf;
        buf.clear();
        buf.extend_from_slice(&records[..total]);
        // The header is whole (validated), so these rewrites cannot fail.
        let _ = set_base_offset(buf, base);
        let _ = set_partition_leader_epoch(buf, self.leader_epoch);
        let interval = self.config.index_interval_bytes;
        let buf = std::mem::take(&mut self.append_buf);
        let res = self.active_mut().append(&buf, &[stored], interval, now_ms);
        self.append_buf = buf;
        res?;
        self.producers.update(&stored, now_ms);
        self.unflushed_messages += header.records_count as i64;
        if self.config.fsync != FsyncPolicy::Always {
            self.advance_high_watermark();
        }
        Ok(AppendInfo {
            base_offset: base,
            last_offset: stored.last_offset(),
            duplicate: false,
            log_start_offset: self.log_start_offset,
        })
    }

    /// The last stable offset: below it every transaction is decided (`read_committed`
    /// readers stop here).
    pub fn last_stable_offset(&self) -> i64 {
        match self.producers.first_unstable_offset() {
            Some(first) => first.min(self.visible_high_watermark()),
            None => self.visible_high_watermark(),
        }
    }

    /// Aborted transactions with records in `[from, to)`: (producer id, first offset).
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        self.aborted
            .overlapping(from, to)
            .map(|t| (t.producer_id, t.first_offset))
            .collect()
    }

    /// Whether a batch of `producer_id` at `offset` belongs to an aborted transaction.
    pub(crate) fn is_aborted(&self, producer_id: i64, offset: i64) -> bool {
        self.aborted.is_aborted(producer_id, offset)
    }

    fn advance_high_watermark(&mut self) {
        let (base, size, next) = {
            let a = self.active();
            (a.base_offset, a.size, a.next_offset)
        };
        self.committed = (base, size);
        self.high_watermark = next;
    }

    fn maybe_roll(&mut self, incoming: usize, now_ms: i64) -> io::Result<()> {
        let cfg = &self.config;
        let a = self.active();
        if a.is_empty() {
            return Ok(());
        }
        let too_big = a.size + incoming as u64 > cfg.segment_bytes;
        let too_old = a
            .first_append_ms
            .is_some_and(|t| now_ms.saturating_sub(t) >= cfg.segment_ms);
        let offsets_full = a.next_offset - a.base_offset > (u32::MAX as i64) - 1_000_000;
        if too_big || too_old || offsets_full {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end offset.
    pub fn roll(&mut self, now_ms: i64) -> io::Result<()> {
        let leo = self.log_end_offset();
        let active = self.active_mut();
        if active.is_empty() {
            return Ok(());
        }
        active.write_indexes()?;
        let file = active.handle();
        self.aborted.sync()?;
        self.unflushed_files.push(file);
        let snapshot = self
            .dir
            .join(format!("{}.snapshot", segment::segment_stem(leo)));
        self.producers.write_snapshot(&snapshot)?;
        self.prune_snapshots(leo);
        self.segments
            .insert(leo, Segment::create(&self.dir, leo, now_ms)?);
        self.dir_dirty = true;
        if self.config.fsync != FsyncPolicy::Always {
            self.advance_high_watermark();
        }
        tracing::debug!(dir = %self.dir.display(), base = leo, "rolled segment");
        Ok(())
    }

    /// Keeps only the snapshot for the active segment.
    fn prune_snapshots(&self, keep: i64) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".snapshot")
                && stem.parse::<i64>().is_ok_and(|o| o != keep)
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Plans a read of up to `max_bytes` starting at the batch holding `offset`. With
    /// `min_one`, the first batch is returned whole even if larger than `max_bytes`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
    ) -> Result<Option<ReadPlan>, ReadError> {
        self.read_below(offset, max_bytes, min_one, self.visible_high_watermark())
    }

    /// As [`PartitionLog::read`], but nothing at or after `upper` (≤ the high watermark; the
    /// last stable offset for `read_committed`, which is always a batch's first offset).
    pub fn read_below(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        upper: i64,
    ) -> Result<Option<ReadPlan>, ReadError> {
        self.read_upto(
            offset,
            max_bytes,
            min_one,
            upper.min(self.visible_high_watermark()),
        )
    }

    /// A follower's read (Fetch with a replica id): past the replication high watermark, up to
    /// what this leader holds (its log end, or the flushed end under `--fsync always`).
    pub fn read_for_replica(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Option<ReadPlan>, ReadError> {
        self.read_upto(offset, max_bytes, true, i64::MAX)
    }

    fn read_upto(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        upper: i64,
    ) -> Result<Option<ReadPlan>, ReadError> {
        let leo = self.log_end_offset();
        if offset < self.log_start_offset || offset > leo {
            return Err(ReadError::OutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: leo,
            });
        }
        let upper = upper.min(self.high_watermark);
        if offset >= upper {
            return Ok(None);
        }
        let from = self
            .segments
            .range(..=offset)
            .next_back()
            .map(|(b, _)| *b)
            .unwrap_or(i64::MIN);
        for (_, seg) in self.segments.range(from..) {
            if seg.base_offset >= upper {
                return Ok(None);
            }
            let end = if seg.base_offset == self.committed.0 {
                self.committed.1
            } else if seg.base_offset > self.committed.0 {
                return Ok(None);
            } else {
                seg.size
            };
            // The batch that starts at `upper` and everything after it stay out.
            let end = if upper < self.high_watermark && upper < seg.next_offset {
                match seg.find(upper, end)? {
                    Some((pos, _)) => pos,
                    None => end,
                }
            } else {
                end
            };
            if let Some((pos, h)) = seg.find(offset, end)? {
                let available = (end - pos) as usize;
                let limit = if min_one {
                    max_bytes.max(h.total_len())
                } else {
                    max_bytes
                };
                let len = available.min(limit);
                if len == 0 {
                    return Ok(None);
                }
                return Ok(Some(ReadPlan {
                    file: seg.file()?,
                    position: pos,
                    len,
                }));
            }
        }
        Ok(None)
    }

    /// Collects what must be fsynced to make everything appended so far durable.
    pub fn prepare_flush(&mut self) -> FlushJob {
        let mut files = std::mem::take(&mut self.unflushed_files);
        files.push(self.active().handle());
        let sync_dir = std::mem::take(&mut self.dir_dirty).then(|| self.dir.clone());
        self.unflushed_messages = 0;
        let a = self.active();
        FlushJob {
            files,
            sync_dir,
            upto_offset: a.next_offset,
            committed: (a.base_offset, a.size),
        }
    }

    /// Marks a finished flush; with `--fsync always` this advances the high watermark.
    /// Returns whether the high watermark moved.
    pub fn complete_flush(&mut self, job: &FlushJob, now_ms: i64) -> bool {
        self.last_flush_ms = now_ms;
        self.flushed_offset = self.flushed_offset.max(job.upto_offset);
        if job.upto_offset > self.high_watermark && self.segments.contains_key(&job.committed.0) {
            self.high_watermark = job.upto_offset;
            self.committed = job.committed;
            return true;
        }
        false
    }

    /// Puts back files of a failed flush so the next one retries them.
    pub fn abort_flush(&mut self, job: FlushJob) {
        self.unflushed_files.extend(job.files);
        if job.sync_dir.is_some() {
            self.dir_dirty = true;
        }
    }

    fn dirty(&self) -> bool {
        self.flushed_offset < self.log_end_offset() || !self.unflushed_files.is_empty()
    }

    /// Whether `flush.messages` or `flush.ms` call for a flush now (interval mode; the
    /// background flusher asks this).
    pub fn flush_due(&self, now_ms: i64) -> bool {
        self.flush_messages_due()
            || (self.dirty() && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms)
    }

    /// Whether `flush.messages` calls for a flush now (interval mode; the produce path asks
    /// this and then acks after the fsync, as Kafka flushes in its append path).
    pub fn flush_messages_due(&self) -> bool {
        self.dirty() && self.unflushed_messages >= self.config.flush_messages
    }

    /// Offset and timestamp of the first batch with max timestamp ≥ `ts` (ListOffsets by
    /// time), with that batch's bytes for record-level refinement.
    pub fn batch_for_timestamp(&self, ts: i64) -> io::Result<Option<(BatchHeader, ReadPlan)>> {
        for seg in self.segments.values() {
            if let Some((pos, h)) = seg.find_by_timestamp(ts)? {
                if h.last_offset() < self.log_start_offset
                    || h.base_offset >= self.visible_high_watermark()
                {
                    continue;
                }
                let plan = ReadPlan {
                    file: seg.file()?,
                    position: pos,
                    len: h.total_len(),
                };
                return Ok(Some((h, plan)));
            }
        }
        Ok(None)
    }

    /// The batch holding the largest timestamp (ListOffsets MAX_TIMESTAMP).
    pub fn batch_with_max_timestamp(&self) -> io::Result<Option<(BatchHeader, ReadPlan)>> {
        let Some(seg) = self
            .segments
            .values()
            .filter(|s| s.max_timestamp >= 0)
            .max_by_key(|s| (s.max_timestamp, std::cmp::Reverse(s.base_offset)))
        else {
            return Ok(None);
        };
        match seg.find(seg.offset_of_max_timestamp, seg.size)? {
            Some((pos, h)) if h.base_offset < self.visible_high_watermark() => {
                let plan = ReadPlan {
                    file: seg.file()?,
                    position: pos,
                    len: h.total_len(),
                };
                Ok(Some((h, plan)))
            }
            _ => Ok(None),
        }
    }

    /// OffsetsForLeaderEpoch for this partition.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// DeleteRecords: moves the log start offset to `offset` (-1 = high watermark) and drops
    /// segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, ReadError> {
        let target = if offset == -1 {
            self.visible_high_watermark()
        } else {
            offset
        };
        if target < 0 || target > self.visible_high_watermark() {
            return Err(ReadError::OutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.visible_high_watermark(),
            });
        }
        if target > self.log_start_offset {
            self.log_start_offset = target;
            index::write_file_atomically(
                &self.dir.join(LOG_START_FILE),
                target.to_string().as_bytes(),
            )?;
            self.delete_segments_below_start()?;
            self.aborted.truncate_below(self.log_start_offset)?;
        }
        Ok(self.log_start_offset)
    }

    fn delete_segments_below_start(&mut self) -> io::Result<()> {
        while self.segments.len() > 1 {
            let (&base, seg) = self.segments.iter().next().expect("non-empty");
            let next_base = *self.segments.keys().nth(1).expect("two segments");
            if next_base > self.log_start_offset {
                break;
            }
            seg.delete_files()?;
            self.segments.remove(&base);
        }
        Ok(())
    }

    /// Time and size retention (`cleanup.policy` containing delete). Returns segments deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> io::Result<usize> {
        if !self.config.delete {
            return Ok(0);
        }
        let mut deleted = 0;
        let retention_ms = self.config.retention_ms;
        let retention_bytes = self.config.retention_bytes;
        // An expired active segment is rolled so it can go too, as Kafka does.
        if retention_ms >= 0 {
            let a = self.active();
            if !a.is_empty()
                && a.next_offset <= self.visible_high_watermark()
                && a.max_timestamp >= 0
                && now_ms - a.max_timestamp > retention_ms
            {
                self.roll(now_ms)?;
            }
        }
        let mut total = self.size_bytes() as i64;
        loop {
            if self.segments.len() <= 1 {
                break;
            }
            let seg = self.segments.values().next().expect("non-empty");
            if seg.next_offset > self.visible_high_watermark() {
                break;
            }
            // A segment with no timestamps ages by its last write.
            let newest = if seg.max_timestamp >= 0 {
                seg.max_timestamp
            } else {
                seg.last_modified_ms
            };
            let expired_by_time = retention_ms >= 0 && now_ms - newest > retention_ms;
            let expired_by_size =
                retention_bytes >= 0 && total - seg.size as i64 >= retention_bytes;
            if !(expired_by_time || expired_by_size) {
                break;
            }
            total -= seg.size as i64;
            let base = seg.base_offset;
            seg.delete_files()?;
            self.segments.remove(&base);
            deleted += 1;
        }
        if deleted > 0 {
            let first = *self.segments.keys().next().expect("non-empty");
            if first > self.log_start_offset {
                self.log_start_offset = first;
            }
            self.aborted.truncate_below(self.log_start_offset)?;
            tracing::info!(dir = %self.dir.display(), deleted, log_start_offset = self.log_start_offset, "retention deleted segments");
        }
        Ok(deleted)
    }

    /// Expires idle producer ids.
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers.expire(now_ms, expiration_ms);
    }

    /// Sealed segments (all but the active one), oldest first, for the compactor.
    pub(crate) fn sealed_segments(&self) -> impl Iterator<Item = &Segment> {
        let n = self.segments.len();
        self.segments.values().take(n.saturating_sub(1))
    }

    #[cfg(test)]
    pub(crate) fn all_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    pub(crate) fn segment(&self, base: i64) -> Option<&Segment> {
        self.segments.get(&base)
    }

    /// Replaces a sealed segment with a compacted copy (`cleaned`, in the log dir): fsync,
    /// rename over the original, reopen with fresh indexes.
    pub(crate) fn replace_segment(&mut self, base: i64, cleaned: &Path) -> io::Result<()> {
        let target = Segment::log_path(&self.dir, base);
        File::open(cleaned)?.sync_all()?;
        std::fs::rename(cleaned, &target)?;
        File::open(&self.dir)?.sync_all()?;
        let (mut seg, _) = Segment::open(&self.dir, base, true, self.config.index_interval_bytes)?;
        seg.write_indexes()?;
        self.segments.insert(base, seg);
        Ok(())
    }

    /// Compacts sealed segments when `cleanup.policy` includes compact, with a key map of
    /// about `map_bytes` (`log.cleaner.dedupe.buffer.size`).
    pub fn compact(&mut self, now_ms: i64, map_bytes: usize) -> io::Result<cleaner::CleanStats> {
        cleaner::compact(self, now_ms, map_bytes)
    }

    /// Marks a batch compaction cannot read; true the first time it is seen.
    pub(crate) fn note_cleaner_skip(&mut self, segment: i64, position: u64) -> bool {
        self.cleaner_skips.insert((segment, position))
    }

    /// How many batches compaction has had to keep unread (the partition's mark).
    pub fn cleaner_skipped_batches(&self) -> usize {
        self.cleaner_skips.len()
    }

    /// Writes the active segment's indexes and fsyncs everything (clean shutdown).
    pub fn close(&mut self) -> io::Result<()> {
        let job = self.prepare_flush();
        job.run()?;
        self.complete_flush(&job, 0);
        self.aborted.sync()?;
        self.active_mut().write_indexes()
    }

    /// Removes the log's directory (topic deletion).
    pub fn delete(self) -> io::Result<()> {
        std::fs::remove_dir_all(&self.dir)
    }
}
