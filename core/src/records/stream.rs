//! Walking the records of one batch without materialising its decompressed records section: a
//! compressed batch is decoded through a [`BoundedDecoder`] into a small window that holds the
//! current record (and whatever follows it in the last piece decoded). For the broker, which
//! validates every produced batch and compacts logs, whatever a batch claims.

use super::header::BatchHeader;
use super::record::{RecordContext, RecordRef, decode_raw};
use super::varint::{VarintError, read_varint};
use super::{BATCH_HEADER_LEN, RecordsError, TimestampType};
use crate::compression::{BoundedDecoder, Compression};

/// The window grows in steps of this much (a record larger than the window grows it to fit).
const WINDOW_STEP: usize = 64 << 10;

/// Streaming iterator over the records of one batch (`batch` = the whole batch's bytes, its CRC
/// already checked by the caller). Decompressed output past `budget` bytes is an error, as is a
/// record count that does not match the records present.
#[derive(Debug)]
pub struct RecordStream<'a> {
    /// For an uncompressed batch, the records section itself; else empty.
    plain: &'a [u8],
    decoder: Option<BoundedDecoder<'a>>,
    window: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    ctx: RecordContext,
    left: usize,
    done: bool,
}

impl<'a> RecordStream<'a> {
    pub fn new(
        header: &BatchHeader,
        batch: &'a [u8],
        budget: usize,
    ) -> Result<RecordStream<'a>, RecordsError> {
        let base_offset = header.base_offset;
        if header.records_count < 0 {
            return Err(RecordsError::corrupt(
                base_offset,
                format!("negative records count {}", header.records_count),
            ));
        }
        let section = batch
            .get(BATCH_HEADER_LEN..)
            .ok_or(RecordsError::Truncated {
                base_offset,
                needed: BATCH_HEADER_LEN,
                available: batch.len(),
            })?;
        let ctx = RecordContext {
            base_offset,
            base_timestamp: header.base_timestamp,
            log_append_time: (header.timestamp_type() == TimestampType::LogAppendTime)
                .then_some(header.max_timestamp),
        };
        let (plain, decoder, eof, end) = match header.compression() {
            Compression::None => {
                if section.len() > budget {
                    return Err(RecordsError::Decompression {
                        base_offset,
                        source: crate::compression::CompressionError::TooLarge {
                            codec: Compression::None,
                            limit: budget,
                        },
                    });
                }
                (section, None, true, section.len())
            }
            codec => {
                let dec = BoundedDecoder::new(codec, section, budget).map_err(|source| {
                    RecordsError::Decompression {
                        base_offset,
                        source,
                    }
                })?;
                (&[][..], Some(dec), false, 0)
            }
        };
        Ok(RecordStream {
            plain,
            decoder,
            window: Vec::new(),
            start: 0,
            end,
            eof,
            ctx,
            left: header.records_count as usize,
            done: false,
        })
    }

    /// Records not yet yielded, per the batch header.
    pub fn remaining_count(&self) -> usize {
        self.left
    }

    fn data(&self) -> &[u8] {
        if self.decoder.is_some() {
            &self.window[..self.end]
        } else {
            &self.plain[..self.end]
        }
    }

    /// Makes at least `want` bytes available from `start` (fewer only at the end of the data).
    fn fill(&mut self, want: usize) -> Result<(), RecordsError> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        while self.end - self.start < want && !self.eof {
            if self.start > 0 {
                self.window.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.window.len() {
                let grown = (self.window.len() * 2).max(WINDOW_STEP);
                self.window.resize(grown, 0);
            }
            let n = decoder
                .read(&mut self.window[self.end..])
                .map_err(|source| RecordsError::Decompression {
                    base_offset: self.ctx.base_offset,
                    source,
                })?;
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
        Ok(())
    }

    fn corrupt(&mut self, reason: String) -> RecordsError {
        self.done = true;
        RecordsError::corrupt(self.ctx.base_offset, reason)
    }

    /// The next record, borrowed from the window.
    pub fn next_ref(&mut self) -> Option<Result<RecordRef<'_>, RecordsError>> {
        if self.done {
            return None;
        }
        match self.next_span() {
            Ok(Some((raw, _))) => {
                let data = if self.decoder.is_some() {
                    &self.window[..self.end]
                } else {
                    &self.plain[..self.end]
                };
                Some(Ok(raw.borrowed(data)))
            }
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn next_span(&mut self) -> Result<Option<(super::record::RawRecord, usize)>, RecordsError> {
        // One byte past the declared records tells whether anything follows them.
        self.fill(if self.left == 0 { 1 } else { 5 })?;
        let available = self.end - self.start;
        if self.left == 0 {
            self.done = true;
            if available != 0 {
                let more = if self.eof { "" } else { " or more" };
                return Err(self.corrupt(format!(
                    "{available}{more} bytes left after the declared records"
                )));
            }
            return Ok(None);
        }
        if available == 0 {
            let left = self.left;
            return Err(self.corrupt(format!(
                "records end with {left} of the declared records missing"
            )));
        }
        let (length, used) = match read_varint(&self.data()[self.start..]) {
            Ok(v) => v,
            Err(VarintError::Truncated) | Err(VarintError::TooLong) => {
                return Err(self.corrupt("malformed record length".into()));
            }
        };
        let Ok(length) = usize::try_from(length) else {
            return Err(self.corrupt(format!("negative record length {length}")));
        };
        let whole = used + length;
        self.fill(whole)?;
        if self.end - self.start < whole {
            let have = self.end - self.start;
            return Err(self.corrupt(format!(
                "record of {whole} bytes with {have} bytes left in the batch"
            )));
        }
        let mut pos = self.start;
        let data = if self.decoder.is_some() {
            &self.window[..self.start + whole]
        } else {
            &self.plain[..self.start + whole]
        };
        let raw = decode_raw(data, &mut pos, &self.ctx)?;
        self.start = pos;
        self.left -= 1;
        Ok(Some((raw, pos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{BatchOptions, RecordBatchBuilder};

    fn batch(codec: Compression, n: usize, value_len: usize) -> bytes::Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            compression: codec,
            base_offset: 100,
            ..Default::default()
        });
        for i in 0..n {
            let key = format!("k{i}");
            let value = vec![(i % 251) as u8; value_len];
            b.push(1000 + i as i64, Some(key.as_bytes()), Some(&value), &[])
                .unwrap();
        }
        b.finish().unwrap()
    }

    #[test]
    fn streams_the_same_records_as_the_batch_decoder() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            // Small records, and records larger than the window step.
            for (n, len) in [(500, 10), (5, 200_000)] {
                let bytes = batch(codec, n, len);
                let h = BatchHeader::parse(&bytes).unwrap();
                let mut s = RecordStream::new(&h, &bytes, 64 << 20).unwrap();
                let mut i = 0;
                while let Some(r) = s.next_ref() {
                    let r = r.unwrap();
                    assert_eq!(r.offset, 100 + i as i64, "{codec}");
                    assert_eq!(r.timestamp, 1000 + i as i64);
                    assert_eq!(r.key, Some(format!("k{i}").as_bytes()));
                    assert_eq!(r.value.unwrap().len(), len);
                    i += 1;
                }
                assert_eq!(i, n, "{codec}");
            }
        }
    }

    fn set_count(bytes: &bytes::Bytes, count: i32) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b
    }

    #[test]
    fn counts_that_do_not_match_the_records_fail() {
        for codec in [Compression::None, Compression::Zstd] {
            let bytes = batch(codec, 5, 10);
            for (count, expect) in [(1, "left after"), (9, "missing"), (i32::MAX, "missing")] {
                let lying = set_count(&bytes, count);
                let h = BatchHeader::parse(&lying).unwrap();
                let mut s = RecordStream::new(&h, &lying, 64 << 20).unwrap();
                let err = loop {
                    match s.next_ref() {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break e.to_string(),
                        None => panic!("{codec} count {count}: no error"),
                    }
                };
                assert!(err.contains(expect), "{codec} count {count}: {err}");
                assert!(s.next_ref().is_none());
            }
        }
    }
}
