//! The fixed 61-byte header of a RecordBatch v2, read straight from stored or received bytes.
//!
//! The log only needs the header (offsets, timestamps, producer fields, CRC); record bodies are
//! stored and served as received and decoded only by the compactor.

use std::fmt;

/// Size of the RecordBatch v2 header up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before `batch_length` counts: base offset (8) + batch length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the first byte the CRC covers (attributes).
const CRC_START: usize = 21;

/// The parsed header of one record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

/// Why bytes are not a valid batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than the header or than `batch_length` claims.
    Truncated { needed: usize, available: usize },
    /// `batch_length` smaller than a header or negative.
    BadLength(i32),
    /// Not a v2 batch.
    BadMagic(i8),
    /// CRC-32C over attributes..end does not match.
    CrcMismatch { stored: u32, computed: u32 },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(
                    f,
                    "truncated batch: needs {needed} bytes, {available} available"
                )
            }
            Self::BadLength(n) => write!(f, "invalid batch length {n}"),
            Self::BadMagic(m) => write!(f, "unsupported record batch magic {m} (only v2)"),
            Self::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
        }
    }
}

impl std::error::Error for BatchError {}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

impl BatchHeader {
    /// Parses the header at the start of `bytes` (which may hold more than one batch).
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < BATCH_HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_LEN,
                available: bytes.len(),
            });
        }
        let batch_length = be_i32(bytes, 8);
        if batch_length < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(BatchError::BadLength(batch_length));
        }
        let magic = bytes[16] as i8;
        if magic != 2 {
            return Err(BatchError::BadMagic(magic));
        }
        Ok(Self {
            base_offset: be_i64(bytes, 0),
            batch_length,
            partition_leader_epoch: be_i32(bytes, 12),
            magic,
            crc: be_i32(bytes, 17) as u32,
            attributes: be_i16(bytes, 21),
            last_offset_delta: be_i32(bytes, 23),
            base_timestamp: be_i64(bytes, 27),
            max_timestamp: be_i64(bytes, 35),
            producer_id: be_i64(bytes, 43),
            producer_epoch: be_i16(bytes, 51),
            base_sequence: be_i32(bytes, 53),
            records_count: be_i32(bytes, 57),
        })
    }

    /// Whole batch size on disk: the 12-byte log overhead plus `batch_length`.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// Sequence number of the last record (sequences wrap at i32::MAX).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = self.base_sequence as i64 + self.last_offset_delta as i64;
        (last % (i32::MAX as i64 + 1)) as i32
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    pub fn compression_id(&self) -> i16 {
        self.attributes & 0x07
    }
}

/// Checks the CRC-32C of the whole batch in `bytes` (exactly one batch).
pub fn verify_crc(bytes: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    let total = header.total_len();
    if bytes.len() < total {
        return Err(BatchError::Truncated {
            needed: total,
            available: bytes.len(),
        });
    }
    let computed = crc32c::crc32c(&bytes[CRC_START..total]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Rewrites the base offset in place (not covered by the CRC).
pub fn set_base_offset(bytes: &mut [u8], offset: i64) {
    bytes[0..8].copy_from_slice(&offset.to_be_bytes());
}

/// Rewrites the partition leader epoch in place (not covered by the CRC).
pub fn set_partition_leader_epoch(bytes: &mut [u8], epoch: i32) {
    bytes[12..16].copy_from_slice(&epoch.to_be_bytes());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an uncompressed batch of `n` records with empty keys/values (test helper).
    pub fn make_batch(
        base_offset: i64,
        n: i32,
        ts: i64,
        pid: i64,
        epoch: i16,
        seq: i32,
    ) -> Vec<u8> {
        let mut records = Vec::new();
        for i in 0..n {
            // length, attributes, ts delta, offset delta, key len -1, value len 1 'x', headers 0
            let body = [0u8, 0, (i as u8) << 1, 1, 2, b'x', 0];
            records.push((body.len() as u8) << 1);
            records.extend_from_slice(&body);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&base_offset.to_be_bytes());
        b.extend_from_slice(
            &((BATCH_HEADER_LEN - LOG_OVERHEAD + records.len()) as i32).to_be_bytes(),
        );
        b.extend_from_slice(&0i32.to_be_bytes());
        b.push(2);
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&(n - 1).to_be_bytes());
        b.extend_from_slice(&ts.to_be_bytes());
        b.extend_from_slice(&ts.to_be_bytes());
        b.extend_from_slice(&pid.to_be_bytes());
        b.extend_from_slice(&epoch.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&n.to_be_bytes());
        b.extend_from_slice(&records);
        let crc = crc32c::crc32c(&b[CRC_START..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn parse_and_crc() {
        let mut b = make_batch(0, 3, 1000, 7, 1, 5);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.records_count, 3);
        assert_eq!(h.last_offset(), 2);
        assert_eq!(h.last_sequence(), 7);
        assert_eq!(h.total_len(), b.len());
        verify_crc(&b, &h).unwrap();
        set_base_offset(&mut b, 42);
        set_partition_leader_epoch(&mut b, 3);
        let h2 = BatchHeader::parse(&b).unwrap();
        assert_eq!((h2.base_offset, h2.partition_leader_epoch), (42, 3));
        verify_crc(&b, &h2).unwrap();
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(matches!(
            verify_crc(&b, &h2),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn rejects_short_and_bad() {
        assert!(matches!(
            BatchHeader::parse(&[0; 10]),
            Err(BatchError::Truncated { .. })
        ));
        let mut b = make_batch(0, 1, 0, -1, -1, -1);
        b[16] = 1;
        assert_eq!(BatchHeader::parse(&b), Err(BatchError::BadMagic(1)));
        let mut b = make_batch(0, 1, 0, -1, -1, -1);
        b[8..12].copy_from_slice(&3i32.to_be_bytes());
        assert_eq!(BatchHeader::parse(&b), Err(BatchError::BadLength(3)));
    }

    #[test]
    fn sequence_wraps() {
        let b = make_batch(0, 3, 0, 1, 0, i32::MAX - 1);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.last_sequence(), 0);
    }
}
