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
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// A record header: the key is a (UTF-8 by convention) non-null string, the value may be null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl RecordHeader {
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
    Abort { coordinator_epoch: i32 },
    Commit { coordinator_epoch: i32 },
    Other { kind: i16 },
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
    fn varint(&mut self, ctx: &RecordContext, what: &str) -> Result<i32, RecordsError> {
        match read_varint(&self.buf[self.pos..self.end]) {
            Ok((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            Err(e) => Err(varint_error(ctx, e, what)),
        }
    }

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

/// Decodes the record at `*pos` in `data`, advancing `*pos` past it.
pub(crate) fn decode_record(
    data: &Bytes,
    pos: &mut usize,
    ctx: &RecordContext,
) -> Result<Record, RecordsError> {
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
    let mut headers = Vec::with_capacity(header_count as usize);
    for _ in 0..header_count {
        let key_len = c.varint(ctx, "header key length")?;
        let (ks, ke) = c.sized(ctx, key_len, "header key")?;
        let value = c.nullable(ctx, "header value")?;
        headers.push(RecordHeader {
            key: data.slice(ks..ke),
            value: value.map(|(s, e)| data.slice(s..e)),
        });
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
    Ok(Record {
        offset: ctx.base_offset.wrapping_add(offset_delta as i64),
        timestamp: ctx
            .log_append_time
            .unwrap_or_else(|| ctx.base_timestamp.wrapping_add(timestamp_delta)),
        key: key.map(|(s, e)| data.slice(s..e)),
        value: value.map(|(s, e)| data.slice(s..e)),
        headers,
    })
}
