//! Walking a records blob: batches out of a `Bytes`, then records out of a batch.

use bytes::Bytes;

use super::header::{BatchHeader, MAGIC_AT, MIN_BATCH_LENGTH, peek_base_offset, verify_crc_parsed};
use super::record::{ControlRecord, MIN_RECORD_LEN, Record, RecordContext, RecordRef, decode_raw};
use super::{BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2, RecordsError, TimestampType};
use crate::compression::{self, Compression};

/// Iterator over the batches of a records blob (the `records` field of a Produce or Fetch
/// partition, or a slice of a log segment).
///
/// A final batch cut short ends iteration quietly, because a Fetch response may stop mid-batch;
/// [`RecordBatches::strict`] makes that an error instead (for Produce requests and segment
/// recovery). After an error the iterator is finished.
///
/// ```
/// use odradek_protocol::records::{BatchOptions, RecordBatchBuilder, RecordBatches};
/// let mut builder = RecordBatchBuilder::new(BatchOptions { base_offset: 10, ..Default::default() });
/// builder.push(1_700_000_000_000, Some(b"k"), Some(b"v"), &[]).unwrap();
/// let blob = builder.finish().unwrap();
/// for batch in RecordBatches::new(blob) {
///     for record in batch.unwrap().records().unwrap() {
///         let record = record.unwrap();
///         assert_eq!((record.offset, record.value.as_deref()), (10, Some(&b"v"[..])));
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatches {
    data: Bytes,
    pos: usize,
    strict: bool,
}

impl RecordBatches {
    /// Iterates `data`, ending quietly at a truncated final batch.
    pub fn new(data: Bytes) -> Self {
        RecordBatches {
            data,
            pos: 0,
            strict: false,
        }
    }

    /// Iterates `data`, reporting a truncated final batch as [`RecordsError::Truncated`].
    pub fn strict(data: Bytes) -> Self {
        RecordBatches {
            data,
            pos: 0,
            strict: true,
        }
    }

    /// Bytes not yet consumed (after iteration ends: the truncated tail, if any).
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, RecordsError> {
        let rest = &self.data[self.pos..];
        if rest.is_empty() {
            return Ok(None);
        }
        let truncated = |needed: usize| RecordsError::Truncated {
            base_offset: peek_base_offset(rest),
            needed,
            available: rest.len(),
        };
        if rest.len() <= MAGIC_AT {
            return if self.strict {
                Err(truncated(MAGIC_AT + 1))
            } else {
                Ok(None)
            };
        }
        let base_offset = peek_base_offset(rest);
        let magic = rest[MAGIC_AT] as i8;
        if magic != MAGIC_V2 {
            return Err(RecordsError::UnsupportedMagic { base_offset, magic });
        }
        let batch_length = i32::from_be_bytes(rest[8..12].try_into().expect("4 bytes"));
        if batch_length < MIN_BATCH_LENGTH {
            return Err(RecordsError::corrupt(
                base_offset,
                format!("batch length {batch_length} is below the minimum {MIN_BATCH_LENGTH}"),
            ));
        }
        let total = LOG_OVERHEAD + batch_length as usize;
        if total > rest.len() {
            return if self.strict {
                Err(truncated(total))
            } else {
                Ok(None)
            };
        }
        let header = BatchHeader::parse(rest)?;
        let bytes = self.data.slice(self.pos..self.pos + total);
        self.pos += total;
        Ok(Some(RecordBatch { header, bytes }))
    }
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(batch) => batch.map(Ok),
            Err(e) => {
                self.pos = self.data.len();
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for RecordBatches {}

/// One v2 batch: its parsed header and its bytes (a slice of the blob it came from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// The batch's parsed 61-byte header.
    pub header: BatchHeader,
    /// The whole batch as on the wire, header included; its CRC is checked when the records are
    /// read ([`RecordBatch::records`]), not when the batch is split off.
    pub bytes: Bytes,
}

impl RecordBatch {
    /// Parses one complete batch from `bytes` (trailing bytes after it are an error).
    pub fn parse(bytes: Bytes) -> Result<RecordBatch, RecordsError> {
        let mut batches = RecordBatches::strict(bytes);
        let batch = batches.next().unwrap_or_else(|| {
            Err(RecordsError::Truncated {
                base_offset: super::UNKNOWN_OFFSET,
                needed: BATCH_HEADER_LEN,
                available: 0,
            })
        })?;
        if batches.remaining() != 0 {
            return Err(RecordsError::corrupt(
                batch.header.base_offset,
                format!("{} bytes after the batch", batches.remaining()),
            ));
        }
        Ok(batch)
    }

    /// Checks the CRC32C over attributes..end.
    pub fn verify_crc(&self) -> Result<(), RecordsError> {
        verify_crc_parsed(&self.header, &self.bytes)
    }

    /// The records, checked against the CRC first and decompressed once if the batch is
    /// compressed. Records are decoded lazily, as the iterator advances.
    pub fn records(&self) -> Result<Records, RecordsError> {
        self.verify_crc()?;
        self.records_unverified()
    }

    /// Like [`RecordBatch::records`] without the CRC check, for callers that already ran
    /// [`RecordBatch::verify_crc`] on these bytes.
    pub fn records_unverified(&self) -> Result<Records, RecordsError> {
        self.records_with(None)
    }

    /// [`RecordBatch::records`] (or, with `verify` false, [`RecordBatch::records_unverified`])
    /// for the consumer: a compressed batch decompresses into a buffer from `pool`, which goes
    /// back there once the last record of the batch is dropped.
    pub fn records_pooled(
        &self,
        verify: bool,
        pool: &crate::buffers::BufferPool,
    ) -> Result<Records, RecordsError> {
        if verify {
            self.verify_crc()?;
        }
        self.records_with(Some(pool))
    }

    fn records_with(
        &self,
        pool: Option<&crate::buffers::BufferPool>,
    ) -> Result<Records, RecordsError> {
        let header = &self.header;
        let base_offset = header.base_offset;
        if header.records_count < 0 {
            return Err(RecordsError::corrupt(
                base_offset,
                format!("negative records count {}", header.records_count),
            ));
        }
        let section = self.bytes.slice(BATCH_HEADER_LEN..);
        let decompression_error = |source| RecordsError::Decompression {
            base_offset,
            source,
        };
        let pooled = match (header.compression(), pool) {
            (Compression::None, _) | (_, None) => None,
            (codec, Some(pool)) => {
                let mut buf = pool.take(0);
                match compression::decompress_into_scratch(
                    codec,
                    &section,
                    &mut buf,
                    compression::MAX_DECOMPRESSED_BYTES,
                )
                .map_err(decompression_error)?
                {
                    Some(len) => Some(pool.freeze(buf, len)),
                    None => {
                        pool.put_back(buf);
                        None
                    }
                }
            }
        };
        let data = match (pooled, header.compression()) {
            (Some(data), _) => data,
            (None, Compression::None) => section,
            (None, codec) => {
                // Rough first guess for the output; decompress grows it as data arrives. lz4
                // decodes its first block into a buffer of its own and takes that as `out`.
                let mut out = match codec {
                    Compression::Lz4 => Vec::new(),
                    _ => Vec::with_capacity(section.len().saturating_mul(4).min(1 << 24)),
                };
                compression::decompress(codec, &section, &mut out).map_err(decompression_error)?;
                Bytes::from(out)
            }
        };
        let count = header.records_count as usize;
        if count > data.len() / MIN_RECORD_LEN {
            return Err(RecordsError::corrupt(
                base_offset,
                format!(
                    "records count {count} cannot fit in {} bytes of records",
                    data.len()
                ),
            ));
        }
        Ok(Records {
            data,
            pos: 0,
            left: count,
            ctx: RecordContext {
                base_offset,
                base_timestamp: header.base_timestamp,
                log_append_time: (header.timestamp_type() == TimestampType::LogAppendTime)
                    .then_some(header.max_timestamp),
            },
            done: false,
        })
    }

    /// For a control batch: its marker (decoded from the first record).
    pub fn control_record(&self) -> Result<Option<ControlRecord>, RecordsError> {
        if !self.header.is_control() {
            return Ok(None);
        }
        match self.records()?.next() {
            Some(record) => ControlRecord::parse(&record?, self.header.base_offset).map(Some),
            None => Err(RecordsError::corrupt(
                self.header.base_offset,
                "control batch without records",
            )),
        }
    }
}

/// Lazy iterator over the records of one batch. Ends with an error if the data holds fewer or
/// more records than the header's `records_count`.
#[derive(Debug, Clone)]
pub struct Records {
    data: Bytes,
    pos: usize,
    left: usize,
    ctx: RecordContext,
    done: bool,
}

impl Records {
    /// Records not yet yielded, per the batch header.
    pub fn remaining_count(&self) -> usize {
        self.left
    }

    /// The next record borrowed from the buffer (no reference counting, no allocation). Mixes
    /// freely with [`Iterator::next`].
    ///
    /// ```
    /// # use odradek_protocol::records::{BatchOptions, RecordBatch, RecordBatchBuilder};
    /// # let mut builder = RecordBatchBuilder::new(BatchOptions::default());
    /// # builder.push(0, None, Some(b"v"), &[]).unwrap();
    /// # let batch = RecordBatch::parse(builder.finish().unwrap()).unwrap();
    /// let mut records = batch.records().unwrap();
    /// while let Some(record) = records.next_ref() {
    ///     assert_eq!(record.unwrap().value, Some(&b"v"[..]));
    /// }
    /// ```
    #[inline]
    pub fn next_ref(&mut self) -> Option<Result<RecordRef<'_>, RecordsError>> {
        match self.advance()? {
            Ok(raw) => Some(Ok(raw.borrowed(&self.data))),
            Err(e) => Some(Err(e)),
        }
    }

    /// The next record as positions in [`Records::data`], for the consumer, which builds its
    /// own record type from them without an intermediate [`Record`].
    #[inline]
    pub fn next_raw(&mut self) -> Option<Result<super::RawRecord, RecordsError>> {
        self.advance()
    }

    /// The (decompressed) records section the spans of [`Records::next_raw`] point into.
    #[inline]
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    #[inline]
    fn advance(&mut self) -> Option<Result<super::record::RawRecord, RecordsError>> {
        if self.done {
            return None;
        }
        if self.left == 0 {
            self.done = true;
            let extra = self.data.len() - self.pos;
            return (extra != 0).then(|| {
                Err(RecordsError::corrupt(
                    self.ctx.base_offset,
                    format!("{extra} bytes left after the declared records"),
                ))
            });
        }
        if self.pos == self.data.len() {
            self.done = true;
            return Some(Err(RecordsError::corrupt(
                self.ctx.base_offset,
                format!(
                    "records end with {} of the declared records missing",
                    self.left
                ),
            )));
        }
        match decode_raw(&self.data, &mut self.pos, &self.ctx) {
            Ok(raw) => {
                self.left -= 1;
                Some(Ok(raw))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, RecordsError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.advance()?.map(|raw| raw.into_owned(&self.data)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.left + 1))
        }
    }
}

impl std::iter::FusedIterator for Records {}
