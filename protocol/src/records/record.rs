//! One record inside a v2 batch, its headers, and the control records that mark the end of a
//! transaction.
//!
//! Record layout (varints are zigzag, see [`super::varint`]):
//! `length varint, attributes i8, timestamp_delta varlong, offset_delta varint,
//!  key_length varint (-1 = null), key, value_length varint (-1 = null), value,
//!  header_count varint, [header_key_length varint, header_key, header_value_length varint
//!  (-1 = null), header_value]…`

use bytes::Bytes;

use super::RecordsError;
use super::varint::{VarintError, read_varint, read_varlong};

/// A record as handed to the user. Key, value and headers are slices of the batch's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's offset in its partition (base offset + delta).
    pub offset: i64,
    /// Milliseconds since the Unix epoch: the producer's create time, or the broker's append
    /// time for log-append-time topics.
    pub timestamp: i64,
    /// The key; `None` is a null key (distinct from an empty one).
    pub key: Option<Bytes>,
    /// The value; `None` is a null value, a tombstone on compacted topics.
    pub value: Option<Bytes>,
    /// The record's headers, in the order they were written (keys may repeat).
    pub headers: Vec<RecordHeader>,
}

/// A record header: the key is a (UTF-8 by convention) non-null string, the value may be null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// The header's name.
    pub key: Bytes,
    /// The header's value; `None` is null, distinct from empty.
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// A header named `key` with `value` (`None` for a null value).
    pub fn new(key: impl Into<Bytes>, value: Option<impl Into<Bytes>>) -> Self {
        RecordHeader {
            key: key.into(),
            value: value.map(Into::into),
        }
    }
}

/// The one record of a control batch: a transaction marker (or a control type this client does
/// not act on, such as KRaft's leader-change records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRecord {
    /// The producer's transaction was aborted: its records before this marker are discarded by
    /// `read_committed` readers.
    Abort {
        /// The epoch of the transaction coordinator that wrote the marker.
        coordinator_epoch: i32,
    },
    /// The producer's transaction was committed: its records before this marker become visible.
    Commit {
        /// The epoch of the transaction coordinator that wrote the marker.
        coordinator_epoch: i32,
    },
    /// A control record of another type, skipped by consumers.
    Other {
        /// The control type from the record key (2 and up are KRaft's own records).
        kind: i16,
    },
}

const CONTROL_ABORT: i16 = 0;
const CONTROL_COMMIT: i16 = 1;

impl ControlRecord {
    /// Decodes a control record from its key (version i16, type i16) and, for transaction
    /// markers, its value (version i16, coordinator epoch i32).
    pub fn parse(record: &Record, base_offset: i64) -> Result<ControlRecord, RecordsError> {
        let bad = |what: &str| {
            RecordsError::corrupt(
                base_offset,
                format!("control record at offset {}: {what}", record.offset),
            )
        };
        let key = record.key.as_deref().ok_or_else(|| bad("null key"))?;
        if key.len() < 4 {
            return Err(bad("key shorter than 4 bytes"));
        }
        let kind = i16::from_be_bytes([key[2], key[3]]);
        if kind != CONTROL_ABORT && kind != CONTROL_COMMIT {
            return Ok(ControlRecord::Other { kind });
        }
        let value = record
            .value
            .as_deref()
            .ok_or_else(|| bad("null marker value"))?;
        if value.len() < 6 {
            return Err(bad("marker value shorter than 6 bytes"));
        }
        let coordinator_epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
        Ok(if kind == CONTROL_ABORT {
            ControlRecord::Abort { coordinator_epoch }
        } else {
            ControlRecord::Commit { coordinator_epoch }
        })
    }

    /// The record key: version 0, then the control type. `None` for [`ControlRecord::Other`].
    pub fn key(&self) -> Option<[u8; 4]> {
        let kind = match self {
            ControlRecord::Abort { .. } => CONTROL_ABORT,
            ControlRecord::Commit { .. } => CONTROL_COMMIT,
            ControlRecord::Other { .. } => return None,
        };
        let [a, b] = kind.to_be_bytes();
        Some([0, 0, a, b])
    }

    /// The record value: version 0, then the coordinator epoch.
    pub fn value(&self) -> Option<[u8; 6]> {
        let (ControlRecord::Abort { coordinator_epoch }
        | ControlRecord::Commit { coordinator_epoch }) = self
        else {
            return None;
        };
        let e = coordinator_epoch.to_be_bytes();
        Some([0, 0, e[0], e[1], e[2], e[3]])
    }
}

/// Batch-level values every record needs to become absolute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext {
    pub base_offset: i64,
    pub base_timestamp: i64,
    /// `Some(max_timestamp)` for log-append-time batches.
    pub log_append_time: Option<i64>,
}

/// A read position over the records section; lengths are checked against what remains.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn varint(&mut self, ctx: &RecordContext, what: &str) -> Result<i32, RecordsError> {
        match read_varint(&self.buf[self.pos..self.end]) {
            Ok((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            Err(e) => Err(varint_error(ctx, e, what)),
        }
    }

    #[inline]
    fn varlong(&mut self, ctx: &RecordContext, what: &str) -> Result<i64, RecordsError> {
        match read_varlong(&self.buf[self.pos..self.end]) {
            Ok((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            Err(e) => Err(varint_error(ctx, e, what)),
        }
    }

    /// A nullable length-prefixed field, as a range of the buffer.
    #[inline]
    fn nullable(
        &mut self,
        ctx: &RecordContext,
        what: &str,
    ) -> Result<Option<(usize, usize)>, RecordsError> {
        let len = self.varint(ctx, what)?;
        if len == -1 {
            return Ok(None);
        }
        self.sized(ctx, len, what).map(Some)
    }

    #[inline]
    fn sized(
        &mut self,
        ctx: &RecordContext,
        len: i32,
        what: &str,
    ) -> Result<(usize, usize), RecordsError> {
        let remaining = self.end - self.pos;
        if len < 0 || len as usize > remaining {
            return Err(RecordsError::corrupt(
                ctx.base_offset,
                format!("{what} length {len} with {remaining} bytes left in the record"),
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok((start, self.pos))
    }
}

#[cold]
fn varint_error(ctx: &RecordContext, e: VarintError, what: &str) -> RecordsError {
    let problem = match e {
        VarintError::Truncated => "truncated",
        VarintError::TooLong => "overlong",
    };
    RecordsError::corrupt(ctx.base_offset, format!("{problem} varint in {what}"))
}

/// Smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
pub(crate) const MIN_RECORD_LEN: usize = 7;

type Span = (usize, usize);

/// A validated record as positions in the records buffer; turned into [`Record`] (refcounted
/// slices) or [`RecordRef`] (borrowed slices) without parsing twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord {
    /// Absolute offset (base offset + delta).
    pub offset: i64,
    /// Absolute timestamp in ms (base timestamp + delta, or the batch's for log-append time).
    pub timestamp: i64,
    /// The key's `(start, end)` in the records buffer; `None` for a null key.
    pub key: Option<Span>,
    /// The value's `(start, end)` in the records buffer; `None` for a null value.
    pub value: Option<Span>,
    /// The header section (already validated).
    pub headers: Span,
    /// How many headers the section holds.
    pub header_count: usize,
}

/// Parses and validates the record at `*pos` in `data`, advancing `*pos` past it.
///
/// Well-formed records take [`decode_plain`], a single pass without error bookkeeping; anything
/// it does not accept is decoded again by [`decode_checked`], which names the problem.
#[inline]
pub(crate) fn decode_raw(
    data: &[u8],
    pos: &mut usize,
    ctx: &RecordContext,
) -> Result<RawRecord, RecordsError> {
    match decode_plain(data, *pos, ctx) {
        Some((raw, end)) => {
            *pos = end;
            Ok(raw)
        }
        None => decode_checked(data, pos, ctx),
    }
}

/// An unsigned varint of at most `max_bytes` at `*pos` in `buf` (`None`: truncated or overlong).
/// One- and two-byte values, the lengths and deltas of ordinary records, skip the loop.
#[inline(always)]
fn plain_unsigned(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let b0 = *buf.get(*pos)?;
    if b0 < 0x80 {
        *pos += 1;
        return Some(b0 as u64);
    }
    let b1 = *buf.get(*pos + 1)?;
    if b1 < 0x80 {
        *pos += 2;
        return Some((b0 & 0x7f) as u64 | (b1 as u64) << 7);
    }
    let (v, used) = super::varint::read_unsigned(&buf[*pos..], max_bytes).ok()?;
    *pos += used;
    Some(v)
}

#[inline(always)]
fn plain_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let raw = u32::try_from(plain_unsigned(buf, pos, 5)?).ok()?;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

#[inline(always)]
fn plain_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let raw = plain_unsigned(buf, pos, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// A nullable length-prefixed field inside `rec` (`Some(None)`: null).
#[inline(always)]
fn plain_nullable(rec: &[u8], pos: &mut usize) -> Option<Option<Span>> {
    let len = plain_varint(rec, pos)?;
    if len == -1 {
        return Some(None);
    }
    let start = *pos;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    if end > rec.len() {
        return None;
    }
    *pos = end;
    Some(Some((start, end)))
}

/// The fast path of [`decode_raw`]: the same checks, but any failure is just `None` (the caller
/// then decodes again with [`decode_checked`] for the error). Returns the record and its end.
#[inline(always)]
fn decode_plain(data: &[u8], pos: usize, ctx: &RecordContext) -> Option<(RawRecord, usize)> {
    let mut p = pos;
    let length = plain_varint(data, &mut p)?;
    let end = p.checked_add(usize::try_from(length).ok()?)?;
    decode_plain_fields(data, p, end, ctx).map(|raw| (raw, end))
}

/// Parses and validates the record whose fields span `data[fields..end]`, its length prefix
/// (at `*pos`) already read by the caller; advances `*pos` to `end`. For a reader that needs
/// the length first (to make the whole record available) and should not parse it again.
#[inline]
pub(crate) fn decode_raw_sized(
    data: &[u8],
    pos: &mut usize,
    fields: usize,
    end: usize,
    ctx: &RecordContext,
) -> Result<RawRecord, RecordsError> {
    match decode_plain_fields(data, fields, end, ctx) {
        Some(raw) => {
            *pos = end;
            Ok(raw)
        }
        None => decode_checked(data, pos, ctx),
    }
}

/// The fields of [`decode_plain`]'s record, from `p` (past the length) to `end`.
#[inline(always)]
fn decode_plain_fields(
    data: &[u8],
    mut p: usize,
    end: usize,
    ctx: &RecordContext,
) -> Option<RawRecord> {
    // Fields are read from `rec`, so none can reach past the record's declared end.
    let rec = data.get(..end)?;
    if p >= end {
        return None; // empty record
    }
    p += 1; // attributes: unused in v2
    let timestamp_delta = plain_varlong(rec, &mut p)?;
    let offset_delta = plain_varint(rec, &mut p)?;
    let key = plain_nullable(rec, &mut p)?;
    let value = plain_nullable(rec, &mut p)?;
    let header_count = usize::try_from(plain_varint(rec, &mut p)?).ok()?;
    let headers_start = p;
    if header_count > (end - p) / 2 {
        return None;
    }
    for _ in 0..header_count {
        plain_nullable(rec, &mut p)??; // a header key is never null
        plain_nullable(rec, &mut p)?;
    }
    if p != end {
        return None;
    }
    Some(RawRecord {
        offset: ctx.base_offset.wrapping_add(offset_delta as i64),
        timestamp: ctx
            .log_append_time
            .unwrap_or_else(|| ctx.base_timestamp.wrapping_add(timestamp_delta)),
        key,
        value,
        headers: (headers_start, end),
        header_count,
    })
}

/// [`decode_raw`] with precise errors: the slow path, for malformed records.
#[inline(never)]
fn decode_checked(
    data: &[u8],
    pos: &mut usize,
    ctx: &RecordContext,
) -> Result<RawRecord, RecordsError> {
    let mut outer = Cursor {
        buf: data,
        pos: *pos,
        end: data.len(),
    };
    let length = outer.varint(ctx, "record length")?;
    let (start, end) = outer.sized(ctx, length, "record")?;
    let mut c = Cursor {
        buf: data,
        pos: start,
        end,
    };
    if c.pos >= c.end {
        return Err(RecordsError::corrupt(ctx.base_offset, "empty record"));
    }
    c.pos += 1; // attributes: unused in v2
    let timestamp_delta = c.varlong(ctx, "timestamp delta")?;
    let offset_delta = c.varint(ctx, "offset delta")?;
    let key = c.nullable(ctx, "key")?;
    let value = c.nullable(ctx, "value")?;
    let header_count = c.varint(ctx, "header count")?;
    // Each header takes at least two bytes, so a larger count cannot be true.
    if header_count < 0 || header_count as usize > (c.end - c.pos) / 2 {
        return Err(RecordsError::corrupt(
            ctx.base_offset,
            format!(
                "header count {header_count} with {} bytes left in the record",
                c.end - c.pos
            ),
        ));
    }
    let headers_start = c.pos;
    for _ in 0..header_count {
        let key_len = c.varint(ctx, "header key length")?;
        c.sized(ctx, key_len, "header key")?;
        c.nullable(ctx, "header value")?;
    }
    if c.pos != c.end {
        return Err(RecordsError::corrupt(
            ctx.base_offset,
            format!(
                "record length {length} but its fields end {} bytes early",
                c.end - c.pos
            ),
        ));
    }
    *pos = end;
    Ok(RawRecord {
        offset: ctx.base_offset.wrapping_add(offset_delta as i64),
        timestamp: ctx
            .log_append_time
            .unwrap_or_else(|| ctx.base_timestamp.wrapping_add(timestamp_delta)),
        key,
        value,
        headers: (headers_start, end),
        header_count: header_count as usize,
    })
}

/// Walks a header section that [`decode_raw`] already validated, yielding spans.
#[derive(Debug, Clone)]
pub(crate) struct HeaderSpans<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    left: usize,
}

impl<'a> HeaderSpans<'a> {
    pub(crate) fn new(buf: &'a [u8], section: Span, count: usize) -> Self {
        HeaderSpans {
            buf,
            pos: section.0,
            end: section.1,
            left: count,
        }
    }

    fn field(&mut self) -> Option<Option<Span>> {
        let (len, used) = read_varint(&self.buf[self.pos..self.end]).ok()?;
        self.pos += used;
        if len < 0 {
            return Some(None);
        }
        let start = self.pos;
        self.pos = start.checked_add(len as usize).filter(|&e| e <= self.end)?;
        Some(Some((start, self.pos)))
    }
}

impl Iterator for HeaderSpans<'_> {
    type Item = (Span, Option<Span>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The section was validated, so these never fail; if they did, iteration just ends.
        let key = self.field()??;
        let value = self.field()?;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl RawRecord {
    pub(crate) fn into_owned(self, data: &Bytes) -> Record {
        let slice = |(s, e): Span| data.slice(s..e);
        Record {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(slice),
            value: self.value.map(slice),
            headers: self.owned_headers(data),
        }
    }

    /// The headers as refcounted slices of `data` (no allocation when there are none).
    #[inline]
    pub fn owned_headers(&self, data: &Bytes) -> Vec<RecordHeader> {
        if self.header_count == 0 {
            return Vec::new();
        }
        let slice = |(s, e): Span| data.slice(s..e);
        HeaderSpans::new(data, self.headers, self.header_count)
            .map(|(k, v)| RecordHeader {
                key: slice(k),
                value: v.map(slice),
            })
            .collect()
    }

    pub(crate) fn borrowed(self, data: &[u8]) -> RecordRef<'_> {
        let slice = |(s, e): Span| &data[s..e];
        RecordRef {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(slice),
            value: self.value.map(slice),
            headers: HeaderSpans::new(data, self.headers, self.header_count),
        }
    }
}

/// A record borrowed from its batch's buffer: no reference counting and no allocation, for
/// callers that copy or inspect records in place (bindings, broker validation).
#[derive(Debug, Clone)]
pub struct RecordRef<'a> {
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch (create or append time, as [`Record::timestamp`]).
    pub timestamp: i64,
    /// The key; `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// The value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<&'a [u8]>,
    headers: HeaderSpans<'a>,
}

impl<'a> RecordRef<'a> {
    /// The headers, in order: `(key, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + use<'a> {
        let buf = self.headers.buf;
        self.headers
            .clone()
            .map(move |((ks, ke), v)| (&buf[ks..ke], v.map(|(s, e)| &buf[s..e])))
    }

    /// How many headers the record has (as [`RecordRef::headers`] yields them).
    pub fn header_count(&self) -> usize {
        self.headers.left
    }
}
