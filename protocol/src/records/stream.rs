//! Walking the records of one batch without materialising its decompressed records section: a
//! compressed batch is decoded through a [`BoundedDecoder`] into a small window that holds the
//! current record (and whatever follows it in the last piece decoded). For the broker, which
//! validates every produced batch and compacts logs, whatever a batch claims.

use std::cell::RefCell;

use super::header::BatchHeader;
use super::record::{RawRecord, RecordContext, RecordRef, decode_raw_sized};
use super::varint::{VarintError, read_varint, read_varlong};
use super::{BATCH_HEADER_LEN, RecordsError, TimestampType};
use crate::compression::{BoundedDecoder, Compression};

/// [`RecordStream::next_meta`] walks a decompressed record larger than this field by field
/// instead of holding it whole.
const LARGE_RECORD: usize = 1 << 20;
/// A window up to this size goes back to the thread's pool for the next batch (a stream per
/// produced batch would otherwise allocate and zero one each time); a larger one is freed.
const KEEP_WINDOW: usize = 4 << 20;

thread_local! {
    static WINDOW_POOL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What validation needs of a record, without its key, value or headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// Absolute offset (base offset + offset delta).
    pub offset: i64,
    /// Absolute timestamp (the batch's max timestamp for log-append-time batches).
    pub timestamp: i64,
    /// The key is not null.
    pub has_key: bool,
    /// The value is null (a tombstone).
    pub value_is_null: bool,
}

impl From<RawRecord> for RecordMeta {
    fn from(raw: RawRecord) -> Self {
        RecordMeta {
            offset: raw.offset,
            timestamp: raw.timestamp,
            has_key: raw.key.is_some(),
            value_is_null: raw.value.is_none(),
        }
    }
}

/// Streaming iterator over the records of one batch (`batch` = the whole batch's bytes, its CRC
/// already checked by the caller). Decompressed output past `budget` bytes is an error, as is a
/// record count that does not match the records present. Each record is parsed once: its length
/// prefix tells how much to make available, then its fields are read in place.
#[derive(Debug)]
pub struct RecordStream<'a> {
    /// For an uncompressed batch, the records section itself; else empty.
    plain: &'a [u8],
    decoder: Option<BoundedDecoder<'a>>,
    /// Decompressed bytes `window[start..end]` not yet walked; the decoder writes its blocks
    /// straight in after `end`.
    window: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    ctx: RecordContext,
    left: usize,
    done: bool,
}

impl<'a> RecordStream<'a> {
    /// A stream over the records of `batch` (whose header is `header`), decompressing at most
    /// `budget` bytes.
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
        let window = if decoder.is_some() {
            WINDOW_POOL.with(|w| std::mem::take(&mut *w.borrow_mut()))
        } else {
            Vec::new()
        };
        Ok(RecordStream {
            plain,
            decoder,
            window,
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

    #[inline]
    fn data(&self) -> &[u8] {
        if self.decoder.is_some() {
            &self.window[..self.end]
        } else {
            &self.plain[..self.end]
        }
    }

    /// Makes at least `want` bytes available from `start` (fewer only at the end of the data).
    #[inline]
    fn fill(&mut self, want: usize) -> Result<(), RecordsError> {
        if self.end - self.start >= want || self.eof {
            return Ok(());
        }
        self.fill_more(want)
    }

    #[inline(never)]
    fn fill_more(&mut self, want: usize) -> Result<(), RecordsError> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        while self.end - self.start < want && !self.eof {
            // Room after `end` for what is missing, and at least a whole block so the decoder
            // writes straight into the window.
            let room = (want - (self.end - self.start)).max(decoder.direct_read_len());
            if self.window.len() - self.end < room {
                if self.start > 0 {
                    self.window.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
                if self.window.len() - self.end < room {
                    self.window.resize(self.end + room, 0);
                }
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
        let next = match self.next_length() {
            Ok(Some((length, used))) => self.take_record(length, used),
            Ok(None) => return None,
            Err(e) => Err(e),
        };
        match next {
            Ok(raw) => Some(Ok(raw.borrowed(self.data()))),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// The next record's offset, timestamp and whether it has a key and a value, checked as
    /// [`RecordStream::next_ref`] checks it. A decompressed record larger than 1 MiB is walked
    /// field by field and never held whole, so memory stays at a window however large it is.
    pub fn next_meta(&mut self) -> Option<Result<RecordMeta, RecordsError>> {
        if self.done {
            return None;
        }
        let next = match self.next_length() {
            Ok(Some((length, used)))
                if self.decoder.is_some() && length.saturating_add(used) > LARGE_RECORD =>
            {
                self.walk_large(length, used)
            }
            Ok(Some((length, used))) => self.take_record(length, used).map(RecordMeta::from),
            Ok(None) => return None,
            Err(e) => Err(e),
        };
        match next {
            Ok(meta) => Some(Ok(meta)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// The next record's length prefix, read once: `(length, prefix bytes)`, or `None` after
    /// the declared records (when nothing follows them).
    #[inline]
    fn next_length(&mut self) -> Result<Option<(usize, usize)>, RecordsError> {
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
        Ok(Some((length, used)))
    }

    /// The record at `start` whose length prefix ([`RecordStream::next_length`]) was read:
    /// made available whole, its fields parsed in place.
    #[inline]
    fn take_record(&mut self, length: usize, used: usize) -> Result<RawRecord, RecordsError> {
        let whole = used + length;
        self.fill(whole)?;
        if self.end - self.start < whole {
            let have = self.end - self.start;
            return Err(self.corrupt(format!(
                "record of {whole} bytes with {have} bytes left in the batch"
            )));
        }
        let mut pos = self.start;
        let (fields, end) = (self.start + used, self.start + whole);
        let raw = decode_raw_sized(&self.data()[..end], &mut pos, fields, end, &self.ctx)?;
        self.start = pos;
        self.left -= 1;
        Ok(raw)
    }

    /// Consumes `n` bytes of the current record, of which `room` remain.
    fn skip(&mut self, n: usize, room: &mut usize, what: &str) -> Result<(), RecordsError> {
        if n > *room {
            return Err(self.corrupt(format!(
                "{what} of {n} bytes with {room} bytes left in the record"
            )));
        }
        *room -= n;
        let mut left = n;
        while left > 0 {
            self.fill(1)?;
            let have = self.end - self.start;
            if have == 0 {
                return Err(self.corrupt(format!("record truncated in its {what}")));
            }
            let k = have.min(left);
            self.start += k;
            left -= k;
        }
        Ok(())
    }

    /// One varint (or, with `long`, varlong) field of the current record.
    fn field(&mut self, long: bool, room: &mut usize, what: &str) -> Result<i64, RecordsError> {
        self.fill(10)?;
        let window = &self.data()[self.start..];
        let parsed = if long {
            read_varlong(window)
        } else {
            read_varint(window).map(|(v, n)| (i64::from(v), n))
        };
        let Ok((value, used)) = parsed else {
            return Err(self.corrupt(format!("malformed varint in the record's {what}")));
        };
        if used > *room {
            return Err(self.corrupt(format!("record ends inside its {what}")));
        }
        *room -= used;
        self.start += used;
        Ok(value)
    }

    /// A nullable length-prefixed field: skipped, and whether it was null.
    fn skip_nullable(&mut self, room: &mut usize, what: &str) -> Result<bool, RecordsError> {
        let len = self.field(false, room, what)?;
        match len {
            -1 => Ok(true),
            len if len >= 0 => self.skip(len as usize, room, what).map(|()| false),
            len => Err(self.corrupt(format!("{what} length {len}"))),
        }
    }

    /// A large record of a compressed batch, field by field (its length prefix already read).
    fn walk_large(&mut self, length: usize, used: usize) -> Result<RecordMeta, RecordsError> {
        self.start += used;
        let mut room = length;
        self.skip(1, &mut room, "attributes")?;
        let timestamp_delta = self.field(true, &mut room, "timestamp delta")?;
        let offset_delta = self.field(false, &mut room, "offset delta")?;
        let has_key = !self.skip_nullable(&mut room, "key")?;
        let value_is_null = self.skip_nullable(&mut room, "value")?;
        let headers = self.field(false, &mut room, "header count")?;
        if headers < 0 {
            return Err(self.corrupt(format!("negative header count {headers}")));
        }
        for _ in 0..headers {
            if self.skip_nullable(&mut room, "header key")? {
                return Err(self.corrupt("null header key".into()));
            }
            self.skip_nullable(&mut room, "header value")?;
        }
        if room != 0 {
            return Err(self.corrupt(format!("{room} bytes left after the record's fields")));
        }
        self.left -= 1;
        Ok(RecordMeta {
            offset: self.ctx.base_offset.wrapping_add(offset_delta),
            timestamp: self
                .ctx
                .log_append_time
                .unwrap_or_else(|| self.ctx.base_timestamp.wrapping_add(timestamp_delta)),
            has_key,
            value_is_null,
        })
    }
}

impl Drop for RecordStream<'_> {
    fn drop(&mut self) {
        let window = std::mem::take(&mut self.window);
        if window.capacity() > 0 && window.capacity() <= KEEP_WINDOW {
            WINDOW_POOL.with(|w| {
                let mut w = w.borrow_mut();
                if w.capacity() < window.capacity() {
                    *w = window;
                }
            });
        }
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
        for codec in crate::compression::ALL_CODECS {
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

    #[test]
    fn large_records_are_walked_without_holding_them() {
        for codec in [Compression::None, Compression::Zstd, Compression::Lz4] {
            let mut b = RecordBatchBuilder::new(BatchOptions {
                compression: codec,
                ..Default::default()
            });
            let big = vec![7u8; 5 << 20];
            let header = crate::records::RecordHeader::new(&b"h"[..], Some(&b"v"[..]));
            b.push(10, Some(b"key"), Some(&big), &[header]).unwrap();
            b.push(11, None, None, &[]).unwrap();
            let bytes = b.finish().unwrap();
            let h = BatchHeader::parse(&bytes).unwrap();
            let mut s = RecordStream::new(&h, &bytes, 64 << 20).unwrap();
            let first = s.next_meta().unwrap().unwrap();
            assert_eq!(
                (first.offset, first.timestamp, first.has_key),
                (0, 10, true)
            );
            assert!(
                s.window.len() <= 256 << 10,
                "{codec}: window {}",
                s.window.len()
            );
            let second = s.next_meta().unwrap().unwrap();
            assert_eq!(
                (second.offset, second.has_key, second.value_is_null),
                (1, false, true)
            );
            assert!(s.next_meta().is_none());
            // Past the budget it fails, large record or not.
            match RecordStream::new(&h, &bytes, 1 << 20) {
                Err(_) => assert_eq!(codec, Compression::None),
                Ok(mut s) => assert!(s.next_meta().unwrap().is_err(), "{codec}: over the budget"),
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
