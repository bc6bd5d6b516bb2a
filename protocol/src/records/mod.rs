//! RecordBatch v2 (magic 2): the unit Kafka stores, replicates and sends in Produce and Fetch.
//!
//! Layout (big-endian, offsets in bytes):
//!
//! ```text
//!  0 base_offset i64          12 partition_leader_epoch i32   17 crc u32 (CRC32C of 21..end)
//!  8 batch_length i32         16 magic i8 (= 2)               21 attributes i16
//! 23 last_offset_delta i32    27 base_timestamp i64           35 max_timestamp i64
//! 43 producer_id i64          51 producer_epoch i16           53 base_sequence i32
//! 57 records_count i32        61 records (compressed as one stream when attributes say so)
//! ```
//!
//! Decoding is lazy and zero-copy: [`RecordBatches`] slices batches out of a `Bytes` blob, and
//! [`RecordBatch::records`] checks the CRC, decompresses once if needed, then yields [`Record`]s
//! whose keys, values and headers are `Bytes` slices of that buffer. Nothing is ever allocated
//! from a count or length read off the wire: every length is checked against the bytes that are
//! actually there first. Every corruption error names the batch's base offset.

mod builder;
mod header;
mod iter;
mod record;
mod stream;
pub mod varint;

pub use builder::{BatchOptions, RecordBatchBuilder};
pub use header::{
    BATCH_HEADER_LEN, BatchHeader, LOG_OVERHEAD, MAGIC_V2, TimestampType, set_base_offset,
    set_compression, set_log_append_time, set_max_timestamp, set_partition_leader_epoch,
    verify_crc,
};
pub use iter::{RecordBatch, RecordBatches, Records};
pub use record::{ControlRecord, RawRecord, Record, RecordHeader, RecordRef};
pub use stream::{RecordMeta, RecordStream};

use crate::compression::CompressionError;

/// Base offset reported when not even the first 8 bytes of a batch are present.
pub const UNKNOWN_OFFSET: i64 = -1;

/// Why a record batch could not be decoded or encoded.
///
/// Every decoding variant carries the base offset of the batch it concerns (or
/// [`UNKNOWN_OFFSET`] when the input is too short to contain one).
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The batch's stored CRC-32C does not match its bytes: corrupted on disk or in transit.
    /// Fetching again can help only if the damage happened in transit.
    #[error(
        "record batch at offset {base_offset}: CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
    )]
    CrcMismatch {
        /// Offset of the batch's first record.
        base_offset: i64,
        /// The CRC written in the batch header.
        stored: u32,
        /// The CRC computed over the bytes received.
        computed: u32,
    },
    /// The batch is in the v0/v1 message-set format (magic 0 or 1), which this library does
    /// not read; the data is intact but needs an older client or a format conversion.
    #[error(
        "record batch at offset {base_offset}: unsupported magic {magic} (only v2 is supported)"
    )]
    UnsupportedMagic {
        /// Offset of the batch's first record.
        base_offset: i64,
        /// The magic byte found.
        magic: i8,
    },
    /// The input ends inside a batch. Only a strict reader ([`RecordBatches::strict`]) reports
    /// this; a fetch response legitimately stops mid-batch and is read leniently.
    #[error(
        "record batch at offset {base_offset}: truncated ({needed} bytes needed, {available} present)"
    )]
    Truncated {
        /// Offset of the batch's first record, or [`UNKNOWN_OFFSET`] if cut before it.
        base_offset: i64,
        /// Bytes the batch (or the part being read) needs.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// A length, count or field inside the batch is inconsistent (`reason` says which); the
    /// same bytes fail the same way on every retry.
    #[error("record batch at offset {base_offset}: {reason}")]
    Corrupt {
        /// Offset of the batch's first record.
        base_offset: i64,
        /// What is inconsistent, naming the record offset where known.
        reason: String,
    },
    /// The records section did not decompress (corrupt, or larger than the decompression limit).
    #[error("record batch at offset {base_offset}: decompression failed: {source}")]
    Decompression {
        /// Offset of the batch's first record.
        base_offset: i64,
        /// The codec's error.
        #[source]
        source: CompressionError,
    },
    /// A batch could not be built: a field longer than the format's i32 lengths, more records
    /// than one batch counts, or a control type with no encoding. The caller's input is at
    /// fault; retrying does not help.
    #[error("cannot encode record batch: {0}")]
    Encode(String),
    /// Compressing the records section failed (typically an out-of-range `compression.level`).
    #[error("cannot encode record batch: {0}")]
    Compression(#[source] CompressionError),
}

impl RecordsError {
    /// The base offset of the batch the error concerns (None for encoding errors).
    pub fn base_offset(&self) -> Option<i64> {
        match self {
            RecordsError::CrcMismatch { base_offset, .. }
            | RecordsError::UnsupportedMagic { base_offset, .. }
            | RecordsError::Truncated { base_offset, .. }
            | RecordsError::Corrupt { base_offset, .. }
            | RecordsError::Decompression { base_offset, .. } => Some(*base_offset),
            RecordsError::Encode(_) | RecordsError::Compression(_) => None,
        }
    }

    /// Whether fetching or sending the same bytes again may help: a CRC mismatch can come from
    /// corruption in transit (Kafka's CORRUPT_MESSAGE is retriable); malformed data cannot.
    pub fn is_retriable(&self) -> bool {
        matches!(self, RecordsError::CrcMismatch { .. })
    }

    pub(crate) fn corrupt(base_offset: i64, reason: impl Into<String>) -> Self {
        RecordsError::Corrupt {
            base_offset,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests;
