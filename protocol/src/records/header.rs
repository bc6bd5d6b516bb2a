//! The fixed 61-byte RecordBatch v2 header: parsing, the CRC, the two fields a broker rewrites
//! in place (base offset and partition leader epoch, both outside the CRC), and the fields a
//! broker's topic settings change (max timestamp, timestamp type, codec and length; each
//! rewrite recomputes the CRC).

use super::{RecordsError, UNKNOWN_OFFSET};
use crate::compression::Compression;

/// Length of the v2 batch header, up to and including `records_count`.
pub const BATCH_HEADER_LEN: usize = 61;
/// `base_offset` + `batch_length`: the bytes not counted by `batch_length`.
pub const LOG_OVERHEAD: usize = 12;
/// The only batch format this module reads and writes.
pub const MAGIC_V2: i8 = 2;

pub(crate) const PARTITION_LEADER_EPOCH_AT: usize = 12;
pub(crate) const MAGIC_AT: usize = 16;
pub(crate) const CRC_AT: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
pub(crate) const CRC_COVERS_FROM: usize = 21;
const BATCH_LENGTH_AT: usize = 8;
const ATTRIBUTES_AT: usize = 21;
const MAX_TIMESTAMP_AT: usize = 35;
/// Smallest legal `batch_length`: a header with no records.
pub(crate) const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
const DELETE_HORIZON_BIT: i16 = 0x40;

/// Which clock a batch's timestamps come from (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker on append; every record's timestamp is the batch's `max_timestamp`.
    LogAppendTime,
}

/// The parsed header of a v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record in the batch.
    pub base_offset: i64,
    /// Bytes after this field to the end of the batch (the whole batch is this plus
    /// [`LOG_OVERHEAD`]).
    pub batch_length: i32,
    /// The leader epoch the batch was appended under (-1 when unknown); consumers use it to
    /// detect log truncation after a leader change.
    pub partition_leader_epoch: i32,
    /// The batch format version; always [`MAGIC_V2`] for a parsed header.
    pub magic: i8,
    /// CRC-32C of everything from `attributes` to the end of the batch.
    pub crc: u32,
    /// Bit flags: codec (bits 0-2), timestamp type (3), transactional (4), control (5),
    /// delete horizon (6); read them through the accessor methods.
    pub attributes: i16,
    /// Offset of the last record minus `base_offset`; may exceed `records_count - 1` after
    /// compaction removed records.
    pub last_offset_delta: i32,
    /// Timestamp of the first record in ms since the Unix epoch (the delete horizon when
    /// [`BatchHeader::has_delete_horizon`]); record timestamps are deltas from it.
    pub base_timestamp: i64,
    /// Largest record timestamp in ms, or the broker's append time for log-append-time batches.
    pub max_timestamp: i64,
    /// The idempotent or transactional producer's id; -1 for a plain producer.
    pub producer_id: i64,
    /// The epoch of `producer_id`; -1 for a plain producer.
    pub producer_epoch: i16,
    /// Per-partition sequence number of the first record; -1 for a plain producer.
    pub base_sequence: i32,
    /// How many records the batch holds.
    pub records_count: i32,
}

#[inline]
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[inline]
fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The base offset at the front of `bytes`, or [`UNKNOWN_OFFSET`] if there are fewer than 8.
pub(crate) fn peek_base_offset(bytes: &[u8]) -> i64 {
    if bytes.len() >= 8 {
        be_i64(bytes, 0)
    } else {
        UNKNOWN_OFFSET
    }
}

impl BatchHeader {
    /// Parses the header at the front of `bytes` (which may hold more than one batch).
    ///
    /// Checks the magic, the codec id and that `batch_length` covers at least a header; it does
    /// not check that the whole batch is present nor the CRC (see [`verify_crc`]).
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, RecordsError> {
        let base_offset = peek_base_offset(bytes);
        if bytes.len() > MAGIC_AT && bytes[MAGIC_AT] as i8 != MAGIC_V2 {
            return Err(RecordsError::UnsupportedMagic {
                base_offset,
                magic: bytes[MAGIC_AT] as i8,
            });
        }
        if bytes.len() < BATCH_HEADER_LEN {
            return Err(RecordsError::Truncated {
                base_offset,
                needed: BATCH_HEADER_LEN,
                available: bytes.len(),
            });
        }
        let header = BatchHeader {
            base_offset,
            batch_length: be_i32(bytes, 8),
            partition_leader_epoch: be_i32(bytes, PARTITION_LEADER_EPOCH_AT),
            magic: bytes[MAGIC_AT] as i8,
            crc: be_i32(bytes, CRC_AT) as u32,
            attributes: be_i16(bytes, 21),
            last_offset_delta: be_i32(bytes, 23),
            base_timestamp: be_i64(bytes, 27),
            max_timestamp: be_i64(bytes, 35),
            producer_id: be_i64(bytes, 43),
            producer_epoch: be_i16(bytes, 51),
            base_sequence: be_i32(bytes, 53),
            records_count: be_i32(bytes, 57),
        };
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(RecordsError::corrupt(
                base_offset,
                format!(
                    "batch length {} is below the minimum {MIN_BATCH_LENGTH}",
                    header.batch_length
                ),
            ));
        }
        let codec = (header.attributes & COMPRESSION_MASK) as u8;
        if Compression::from_id(codec).is_none() {
            return Err(RecordsError::corrupt(
                base_offset,
                format!("unknown compression codec id {codec}"),
            ));
        }
        Ok(header)
    }

    /// Writes this header into the first [`BATCH_HEADER_LEN`] bytes of `out`, with `crc` as is.
    pub(crate) fn write(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        out[8..12].copy_from_slice(&self.batch_length.to_be_bytes());
        out[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out[16] = self.magic as u8;
        out[17..21].copy_from_slice(&self.crc.to_be_bytes());
        out[21..23].copy_from_slice(&self.attributes.to_be_bytes());
        out[23..27].copy_from_slice(&self.last_offset_delta.to_be_bytes());
        out[27..35].copy_from_slice(&self.base_timestamp.to_be_bytes());
        out[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        out[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        out[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        out[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        out[57..61].copy_from_slice(&self.records_count.to_be_bytes());
    }

    /// The codec of the records section (validated by [`BatchHeader::parse`]).
    pub fn compression(&self) -> Compression {
        Compression::from_id((self.attributes & COMPRESSION_MASK) as u8).unwrap_or_default()
    }

    /// Whose clock the record timestamps come from (attribute bit 3).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// The batch was written inside a transaction (attribute bit 4); `read_committed` readers
    /// skip it if the transaction aborted.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// A control batch holds transaction markers, not user records.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Set by log compaction: `base_timestamp` is then the delete horizon.
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.last_offset_delta as i64)
    }

    /// Offset the next batch starts at.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Bytes the whole batch occupies: `LOG_OVERHEAD + batch_length`.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    pub(crate) fn encode_attributes(
        compression: Compression,
        timestamp_type: TimestampType,
        transactional: bool,
        control: bool,
    ) -> i16 {
        let mut attributes = compression.id() as i16;
        if timestamp_type == TimestampType::LogAppendTime {
            attributes |= TIMESTAMP_TYPE_BIT;
        }
        if transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        if control {
            attributes |= CONTROL_BIT;
        }
        attributes
    }
}

/// Checks the CRC32C of the batch at the front of `batch` (the slice must hold all of it).
pub fn verify_crc(batch: &[u8]) -> Result<(), RecordsError> {
    let header = BatchHeader::parse(batch)?;
    verify_crc_parsed(&header, batch)
}

/// The batch's whole length, checked against the bytes present.
fn whole_len(header: &BatchHeader, batch: &[u8]) -> Result<usize, RecordsError> {
    let total = header.total_len();
    if batch.len() < total {
        return Err(RecordsError::Truncated {
            base_offset: header.base_offset,
            needed: total,
            available: batch.len(),
        });
    }
    Ok(total)
}

pub(crate) fn verify_crc_parsed(header: &BatchHeader, batch: &[u8]) -> Result<(), RecordsError> {
    let total = whole_len(header, batch)?;
    let computed = crc32c::crc32c(&batch[CRC_COVERS_FROM..total]);
    if computed != header.crc {
        return Err(RecordsError::CrcMismatch {
            base_offset: header.base_offset,
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

fn check_header_room(batch: &[u8]) -> Result<(), RecordsError> {
    if batch.len() < BATCH_HEADER_LEN {
        return Err(RecordsError::Truncated {
            base_offset: peek_base_offset(batch),
            needed: BATCH_HEADER_LEN,
            available: batch.len(),
        });
    }
    Ok(())
}

/// Rewrites the base offset of the batch at the front of `batch`. The CRC does not cover it, so
/// a broker assigns offsets on append without touching (or recompressing) the records.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), RecordsError> {
    check_header_room(batch)?;
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Rewrites the partition leader epoch of the batch at the front of `batch` (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), RecordsError> {
    check_header_room(batch)?;
    batch[PARTITION_LEADER_EPOCH_AT..PARTITION_LEADER_EPOCH_AT + 4]
        .copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Rewrites the max timestamp of the whole batch at the front of `batch` and recomputes its CRC
/// (which covers the timestamp), as a broker does when the header disagrees with the records.
pub fn set_max_timestamp(batch: &mut [u8], max_timestamp: i64) -> Result<(), RecordsError> {
    let header = BatchHeader::parse(batch)?;
    let total = whole_len(&header, batch)?;
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp.to_be_bytes());
    rewrite_crc(&mut batch[..total]);
    Ok(())
}

/// Stamps the batch at the front of `batch` with a log append time: the timestamp-type
/// attribute becomes LogAppendTime and the max timestamp `append_time_ms` (consumers then read
/// every record's timestamp as that time); the CRC is recomputed. What a broker does for a
/// topic with `message.timestamp.type=LogAppendTime`.
pub fn set_log_append_time(batch: &mut [u8], append_time_ms: i64) -> Result<(), RecordsError> {
    let header = BatchHeader::parse(batch)?;
    let total = whole_len(&header, batch)?;
    let attributes = header.attributes | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&append_time_ms.to_be_bytes());
    rewrite_crc(&mut batch[..total]);
    Ok(())
}

/// Marks `batch` — a header followed by a records section just compressed with `codec` — as
/// that codec's, with its batch length set to the bytes present, and recomputes the CRC. For a
/// broker that recompresses a produced batch (topic-level `compression.type`).
pub fn set_compression(batch: &mut [u8], codec: Compression) -> Result<(), RecordsError> {
    check_header_room(batch)?;
    let batch_length = i32::try_from(batch.len() - LOG_OVERHEAD)
        .map_err(|_| RecordsError::corrupt(peek_base_offset(batch), "a record batch over 2 GiB"))?;
    let attributes = i16::from_be_bytes([batch[ATTRIBUTES_AT], batch[ATTRIBUTES_AT + 1]]);
    let attributes = (attributes & !COMPRESSION_MASK) | i16::from(codec.id());
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&batch_length.to_be_bytes());
    rewrite_crc(batch);
    Ok(())
}

/// Recomputes the CRC of `batch`, exactly one whole batch.
fn rewrite_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[CRC_COVERS_FROM..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}
