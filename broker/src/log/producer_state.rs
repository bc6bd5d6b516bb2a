//! Idempotent-producer state of one partition: per producer id, its epoch and the metadata of
//! its last five batches, so a retried batch is answered with its original offset and a gap in
//! sequence numbers is refused (as Kafka's ProducerStateManager does).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::Path;

use odradek_protocol::records::BatchHeader;

/// Batches remembered per producer for duplicate detection (Kafka's constant).
pub const MAX_BATCHES_PER_PRODUCER: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
    /// Wall clock ms of the last append, for `producer.id.expiration.ms`.
    pub last_append_ms: i64,
    /// Offset of the first batch of the producer's open transaction in this partition, or -1.
    /// The partition's last stable offset cannot pass it until the transaction's marker lands.
    pub txn_first_offset: i64,
}

impl Default for ProducerEntry {
    fn default() -> Self {
        Self {
            epoch: 0,
            batches: VecDeque::new(),
            last_append_ms: 0,
            txn_first_offset: -1,
        }
    }
}

/// A transaction a marker just closed in this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
}

/// First word of a snapshot that carries open transactions; an old snapshot starts with its
/// producer count, which can never be this large.
const SNAPSHOT_V2: u32 = 0xFFFF_FF02;

/// What to do with an incoming idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already stored: answer with this metadata.
    Duplicate(BatchMetadata),
}

/// Kafka error codes the check can produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceError {
    OutOfOrder { expected: i32, got: i32 },
    InvalidEpoch { current: i16, got: i16 },
}

impl SequenceError {
    pub fn code(&self) -> i16 {
        match self {
            Self::OutOfOrder { .. } => 45,
            Self::InvalidEpoch { .. } => 47,
        }
    }
    pub fn message(&self) -> String {
        match self {
            Self::OutOfOrder { expected, got } => {
                format!("out of order sequence number: expected {expected}, got {got}")
            }
            Self::InvalidEpoch { current, got } => {
                format!("producer epoch {got} is older than the current epoch {current}")
            }
        }
    }
}

/// Sequence number of a batch's last record (sequences wrap from i32::MAX to 0).
pub fn last_sequence(h: &BatchHeader) -> i32 {
    if h.base_sequence < 0 {
        return -1;
    }
    let last = h.base_sequence as i64 + h.last_offset_delta as i64;
    (last % (i32::MAX as i64 + 1)) as i32
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

#[derive(Debug, Default, Clone)]
pub struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateTable {
    /// Checks an incoming batch from an idempotent producer (producer id ≥ 0).
    pub fn check(&self, h: &BatchHeader) -> Result<SequenceCheck, SequenceError> {
        let Some(entry) = self.producers.get(&h.producer_id) else {
            // Unknown producer (new, or its state expired): any sequence is accepted.
            return Ok(SequenceCheck::Append);
        };
        if h.producer_epoch < entry.epoch {
            return Err(SequenceError::InvalidEpoch {
                current: entry.epoch,
                got: h.producer_epoch,
            });
        }
        if h.producer_epoch > entry.epoch {
            // A new epoch restarts sequences at 0.
            if h.base_sequence != 0 {
                return Err(SequenceError::OutOfOrder {
                    expected: 0,
                    got: h.base_sequence,
                });
            }
            return Ok(SequenceCheck::Append);
        }
        let last_seq = last_sequence(h);
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        match entry.batches.back() {
            Some(last) if next_seq(last.last_seq) != h.base_sequence => {
                Err(SequenceError::OutOfOrder {
                    expected: next_seq(last.last_seq),
                    got: h.base_sequence,
                })
            }
            _ => Ok(SequenceCheck::Append),
        }
    }

    /// Records an appended batch (also used to replay the log on recovery).
    pub fn update(&mut self, h: &BatchHeader, now_ms: i64) {
        if h.producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(h.producer_id).or_default();
        if h.is_control() {
            // A marker carries no sequence numbers: it only moves the epoch forward (fencing
            // older writers) and ends the open transaction (see `close_txn`).
            if h.producer_epoch > entry.epoch {
                entry.batches.clear();
                entry.epoch = h.producer_epoch;
            }
            entry.last_append_ms = now_ms;
            return;
        }
        if h.producer_epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = h.producer_epoch;
        }
        if h.is_transactional() && entry.txn_first_offset < 0 {
            entry.txn_first_offset = h.base_offset;
        }
        if entry.batches.len() == MAX_BATCHES_PER_PRODUCER {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: last_sequence(h),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
            timestamp: h.max_timestamp,
        });
        entry.last_append_ms = now_ms;
    }

    /// Ends the producer's open transaction (a marker was written); returns where it began.
    pub fn close_txn(&mut self, producer_id: i64) -> Option<ClosedTxn> {
        let entry = self.producers.get_mut(&producer_id)?;
        let first_offset = std::mem::replace(&mut entry.txn_first_offset, -1);
        (first_offset >= 0).then_some(ClosedTxn {
            producer_id,
            first_offset,
        })
    }

    /// The current epoch of a producer this partition knows.
    pub fn epoch_of(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// The first offset of the oldest open transaction: the last stable offset's bound.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .values()
            .filter(|e| e.txn_first_offset >= 0)
            .map(|e| e.txn_first_offset)
            .min()
    }

    /// Forgets producers idle for longer than `expiration_ms`; never one with an open
    /// transaction (its marker still has to close it).
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers.retain(|_, e| {
            e.txn_first_offset >= 0 || now_ms.saturating_sub(e.last_append_ms) < expiration_ms
        });
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Serializes the table (with a CRC-32C trailer) for a snapshot file.
    pub fn write_snapshot(&self, path: &Path) -> io::Result<()> {
        let mut b = Vec::new();
        b.extend_from_slice(&SNAPSHOT_V2.to_be_bytes());
        b.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        for (pid, e) in &self.producers {
            b.extend_from_slice(&pid.to_be_bytes());
            b.extend_from_slice(&e.epoch.to_be_bytes());
            b.extend_from_slice(&e.last_append_ms.to_be_bytes());
            b.extend_from_slice(&e.txn_first_offset.to_be_bytes());
            b.push(e.batches.len() as u8);
            for m in &e.batches {
                b.extend_from_slice(&m.first_seq.to_be_bytes());
                b.extend_from_slice(&m.last_seq.to_be_bytes());
                b.extend_from_slice(&m.first_offset.to_be_bytes());
                b.extend_from_slice(&m.last_offset.to_be_bytes());
                b.extend_from_slice(&m.timestamp.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        super::index::write_file_atomically(path, &b)
    }

    /// Loads a snapshot; `None` if missing or corrupt (the caller replays the log instead).
    pub fn read_snapshot(path: &Path) -> Option<Self> {
        let b = std::fs::read(path).ok()?;
        if b.len() < 8 {
            return None;
        }
        let (body, crc) = b.split_at(b.len() - 4);
        if crc32c::crc32c(body) != u32::from_be_bytes(crc.try_into().ok()?) {
            return None;
        }
        let mut r = Cursor { b: body, at: 0 };
        let mut n = r.u32()?;
        let with_txns = n == SNAPSHOT_V2;
        if with_txns {
            n = r.u32()?;
        }
        let mut table = Self::default();
        for _ in 0..n {
            let pid = r.i64()?;
            let epoch = r.i16()?;
            let last_append_ms = r.i64()?;
            let txn_first_offset = if with_txns { r.i64()? } else { -1 };
            let count = r.u8()? as usize;
            let mut batches = VecDeque::with_capacity(count.min(MAX_BATCHES_PER_PRODUCER));
            for _ in 0..count {
                batches.push_back(BatchMetadata {
                    first_seq: r.i32()?,
                    last_seq: r.i32()?,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                    timestamp: r.i64()?,
                });
            }
            table.producers.insert(
                pid,
                ProducerEntry {
                    epoch,
                    batches,
                    last_append_ms,
                    txn_first_offset,
                },
            );
        }
        Some(table)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.b.get(self.at..self.at + N)?;
        self.at += N;
        s.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use odradek_protocol::records::{BatchOptions, RecordBatchBuilder};

    /// A batch of `n` one-byte records from producer `pid`.
    pub fn make_batch(offset: i64, n: i32, pid: i64, epoch: i16, seq: i32) -> bytes::Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            base_offset: offset,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            ..BatchOptions::default()
        });
        for _ in 0..n {
            b.push(0, None, Some(b"x"), &[]).unwrap();
        }
        b.finish().unwrap()
    }

    fn header(offset: i64, n: i32, pid: i64, epoch: i16, seq: i32) -> BatchHeader {
        BatchHeader::parse(&make_batch(offset, n, pid, epoch, seq)).unwrap()
    }

    #[test]
    fn sequence_wraps() {
        assert_eq!(last_sequence(&header(0, 3, 1, 0, i32::MAX - 1)), 0);
        assert_eq!(last_sequence(&header(0, 3, 1, 0, 5)), 7);
    }

    #[test]
    fn duplicates_and_gaps() {
        let mut t = ProducerStateTable::default();
        let h0 = header(0, 2, 9, 0, 0);
        assert_eq!(t.check(&h0), Ok(SequenceCheck::Append));
        t.update(&h0, 0);
        let h1 = header(2, 3, 9, 0, 2);
        assert_eq!(t.check(&h1), Ok(SequenceCheck::Append));
        t.update(&h1, 0);
        // retry of the first batch
        match t.check(&header(99, 2, 9, 0, 0)) {
            Ok(SequenceCheck::Duplicate(m)) => assert_eq!((m.first_offset, m.last_offset), (0, 1)),
            other => panic!("{other:?}"),
        }
        // gap
        assert_eq!(
            t.check(&header(5, 1, 9, 0, 7)),
            Err(SequenceError::OutOfOrder {
                expected: 5,
                got: 7
            })
        );
        // old epoch
        assert!(matches!(
            t.check(&header(5, 1, 9, -1, 5)),
            Err(SequenceError::InvalidEpoch { .. })
        ));
        // new epoch must start at 0
        assert!(t.check(&header(5, 1, 9, 1, 3)).is_err());
        assert_eq!(t.check(&header(5, 1, 9, 1, 0)), Ok(SequenceCheck::Append));
    }

    #[test]
    fn keeps_five_and_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = ProducerStateTable::default();
        for i in 0..7 {
            t.update(&header(i, 1, 1, 0, i as i32), 5);
        }
        assert!(matches!(
            t.check(&header(0, 1, 1, 0, 0)),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert!(matches!(
            t.check(&header(0, 1, 1, 0, 2)),
            Ok(SequenceCheck::Duplicate(_))
        ));
        let p = dir.path().join("s");
        t.write_snapshot(&p).unwrap();
        let back = ProducerStateTable::read_snapshot(&p).unwrap();
        assert!(matches!(
            back.check(&header(0, 1, 1, 0, 6)),
            Ok(SequenceCheck::Duplicate(_))
        ));
        assert_eq!(
            back.check(&header(0, 1, 1, 0, 7)),
            Ok(SequenceCheck::Append)
        );
        let mut raw = std::fs::read(&p).unwrap();
        raw[9] ^= 0xff;
        std::fs::write(&p, raw).unwrap();
        assert!(ProducerStateTable::read_snapshot(&p).is_none());
    }
}
