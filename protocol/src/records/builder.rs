//! Encoding a v2 batch: records are appended to one buffer behind a header placeholder; on
//! finish the records section is compressed once (if asked), the header filled in, and the
//! CRC computed once over the final bytes.

use bytes::Bytes;

use super::header::{BatchHeader, CRC_AT, CRC_COVERS_FROM};
use super::record::{ControlRecord, RecordHeader};
use super::varint::{put_varint, varint_len, varlong_len, write_varint, write_varlong};
use super::{BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2, RecordsError, TimestampType};
use crate::compression::{self, Compression};

/// Everything about a batch except its records. `Default` is a plain, non-idempotent batch:
/// no compression, producer id/epoch/sequence -1, leader epoch -1, create time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// The codec the records section is compressed with.
    pub compression: Compression,
    /// librdkafka's `compression.level`; `None` or -1 = codec default.
    pub compression_level: Option<i32>,
    /// Offset of the first record; a producer writes 0 and the broker assigns the real one.
    pub base_offset: i64,
    /// The idempotent producer's id from InitProducerId; -1 when not idempotent.
    pub producer_id: i64,
    /// The epoch of `producer_id`; a newer epoch fences older producers with the same id.
    pub producer_epoch: i16,
    /// Sequence number of the first record for this producer and partition; -1 when not
    /// idempotent. The broker rejects gaps and replays duplicates' acks.
    pub base_sequence: i32,
    /// The batch belongs to a transaction; readers with `read_committed` hold it back until the
    /// transaction's marker arrives.
    pub is_transactional: bool,
    /// The batch holds a transaction marker (a [`ControlRecord`]) instead of user records.
    pub is_control: bool,
    /// The leader epoch the batch was written under; set by the broker, -1 from a producer.
    pub partition_leader_epoch: i32,
    /// Whether the timestamps are the producer's or the broker's append time.
    pub timestamp_type: TimestampType,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            compression: Compression::None,
            compression_level: None,
            base_offset: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            is_transactional: false,
            is_control: false,
            partition_leader_epoch: -1,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

/// Builds one v2 record batch.
///
/// The builder can be reused: [`RecordBatchBuilder::finish_into`] leaves it empty with its
/// buffers' capacity kept, so a producer's steady state allocates nothing per batch but the
/// output.
#[derive(Debug)]
pub struct RecordBatchBuilder {
    options: BatchOptions,
    /// Header placeholder followed by the uncompressed records.
    buf: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

/// Timestamp written when a batch has no records.
const NO_TIMESTAMP: i64 = -1;

fn field_len(len: usize, what: &str) -> Result<i32, RecordsError> {
    i32::try_from(len)
        .map_err(|_| RecordsError::Encode(format!("{what} of {len} bytes is too large")))
}

#[inline]
fn nullable_size(field: Option<&[u8]>) -> usize {
    match field {
        None => 1,
        Some(bytes) => varint_len(bytes.len() as i32) + bytes.len(),
    }
}

#[inline]
fn put_nullable(out: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, bytes.len() as i32);
            out.extend_from_slice(bytes);
        }
    }
}

impl RecordBatchBuilder {
    /// An empty builder for a batch with `options`, with room for 16 KiB of records before it
    /// grows.
    pub fn new(options: BatchOptions) -> Self {
        RecordBatchBuilder::with_capacity(options, 16 * 1024)
    }

    /// A builder whose buffer starts with room for `capacity` bytes of records.
    pub fn with_capacity(options: BatchOptions, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(BATCH_HEADER_LEN + capacity);
        buf.resize(BATCH_HEADER_LEN, 0);
        RecordBatchBuilder {
            options,
            buf,
            count: 0,
            base_timestamp: NO_TIMESTAMP,
            max_timestamp: NO_TIMESTAMP,
        }
    }

    /// The options the batch will be finished with.
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// Changes the options for the records pushed from now on (base offset, sequence, …);
    /// meant to be called on an empty builder.
    pub fn set_options(&mut self, options: BatchOptions) {
        self.options = options;
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// No record pushed yet; finishing now gives a batch with no records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch if finished now without compression (an upper bound for most data).
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Size a record adds to the uncompressed batch, without pushing it (for `batch.size`
    /// decisions).
    pub fn record_size(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> usize {
        // Worst-case deltas keep this an upper bound.
        let body =
            1 + 10 + 5 + nullable_size(key) + nullable_size(value) + 5 + headers_size(headers);
        varint_len(body as i32) + body
    }

    /// Appends a record; returns its offset delta.
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> Result<i32, RecordsError> {
        let offset_delta = self.count;
        if offset_delta == i32::MAX {
            return Err(RecordsError::Encode(
                "too many records for one batch".into(),
            ));
        }
        if self.count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        // Deltas wrap like Java's long arithmetic, and decoding wraps back.
        let timestamp_delta = timestamp.wrapping_sub(self.base_timestamp);
        if let Some(key) = key {
            field_len(key.len(), "key")?;
        }
        if let Some(value) = value {
            field_len(value.len(), "value")?;
        }
        let header_count = field_len(headers.len(), "header list")?;
        for header in headers {
            field_len(header.key.len(), "header key")?;
            if let Some(value) = &header.value {
                field_len(value.len(), "header value")?;
            }
        }
        let body = 1
            + varlong_len(timestamp_delta)
            + varint_len(offset_delta)
            + nullable_size(key)
            + nullable_size(value)
            + varint_len(header_count)
            + headers_size(headers);
        let body_len = field_len(body, "record")?;

        let out = &mut self.buf;
        out.reserve(varint_len(body_len) + body);
        // Length, attributes, deltas and the key's length (at most 5+1+10+5+5 bytes) go through
        // a stack buffer and are appended at once.
        let mut head = [0u8; 32];
        let mut n = write_varint(&mut head, 0, body_len);
        head[n] = 0; // record attributes: unused
        n = write_varlong(&mut head, n + 1, timestamp_delta);
        n = write_varint(&mut head, n, offset_delta);
        n = write_varint(&mut head, n, key.map_or(-1, |k| k.len() as i32));
        out.extend_from_slice(&head[..n]);
        if let Some(key) = key {
            out.extend_from_slice(key);
        }
        n = write_varint(&mut head, 0, value.map_or(-1, |v| v.len() as i32));
        out.extend_from_slice(&head[..n]);
        if let Some(value) = value {
            out.extend_from_slice(value);
        }
        put_varint(out, header_count);
        for header in headers {
            put_varint(out, header.key.len() as i32);
            out.extend_from_slice(&header.key);
            put_nullable(out, header.value.as_deref());
        }
        self.count += 1;
        Ok(offset_delta)
    }

    /// Appends the marker record of a control batch (set `is_control` in the options).
    pub fn push_control(
        &mut self,
        timestamp: i64,
        marker: ControlRecord,
    ) -> Result<i32, RecordsError> {
        let (Some(key), Some(value)) = (marker.key(), marker.value()) else {
            return Err(RecordsError::Encode(format!(
                "cannot encode control record {marker:?}"
            )));
        };
        self.push(timestamp, Some(&key), Some(&value), &[])
    }

    /// Finishes the batch and returns its bytes.
    pub fn finish(mut self) -> Result<Bytes, RecordsError> {
        if self.options.compression == Compression::None {
            self.fill_header_and_crc_uncompressed()?;
            return Ok(Bytes::from(self.buf));
        }
        let mut out = Vec::new();
        self.finish_into(&mut out)?;
        Ok(Bytes::from(out))
    }

    /// Appends the finished batch to `out` and empties the builder for the next batch (same
    /// options), keeping its buffer.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> Result<(), RecordsError> {
        let start = out.len();
        let records = &self.buf[BATCH_HEADER_LEN..];
        out.reserve(BATCH_HEADER_LEN + records.len() / 2);
        out.resize(start + BATCH_HEADER_LEN, 0);
        let compressed = compression::compress(
            self.options.compression,
            self.options.compression_level,
            records,
            out,
        );
        if let Err(e) = compressed {
            out.truncate(start);
            return Err(RecordsError::Compression(e));
        }
        let batch = &mut out[start..];
        if let Err(e) = self.write_header(batch) {
            out.truncate(start);
            return Err(e);
        }
        self.reset();
        Ok(())
    }

    /// Empties the builder, keeping its options and buffer capacity.
    pub fn reset(&mut self) {
        self.buf.truncate(BATCH_HEADER_LEN);
        self.count = 0;
        self.base_timestamp = NO_TIMESTAMP;
        self.max_timestamp = NO_TIMESTAMP;
    }

    fn fill_header_and_crc_uncompressed(&mut self) -> Result<(), RecordsError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.write_header(&mut buf);
        self.buf = buf;
        result
    }

    /// Fills the header of the complete `batch` and computes its CRC.
    fn write_header(&self, batch: &mut [u8]) -> Result<(), RecordsError> {
        let batch_length = field_len(batch.len() - LOG_OVERHEAD, "batch")?;
        let o = &self.options;
        let header = BatchHeader {
            base_offset: o.base_offset,
            batch_length,
            partition_leader_epoch: o.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes: BatchHeader::encode_attributes(
                o.compression,
                o.timestamp_type,
                o.is_transactional,
                o.is_control,
            ),
            last_offset_delta: (self.count - 1).max(0),
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: o.producer_id,
            producer_epoch: o.producer_epoch,
            base_sequence: o.base_sequence,
            records_count: self.count,
        };
        header.write(batch);
        let crc = crc32c::crc32c(&batch[CRC_COVERS_FROM..]);
        batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(())
    }
}

fn headers_size(headers: &[RecordHeader]) -> usize {
    headers
        .iter()
        .map(|h| varint_len(h.key.len() as i32) + h.key.len() + nullable_size(h.value.as_deref()))
        .sum()
}
