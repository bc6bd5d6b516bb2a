//! Kafka's variable-length integers: zigzag-encoded, 7 bits per byte, least significant group
//! first (the protobuf encoding). Record fields use them for lengths, deltas and counts.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended in the middle of the number.
    Truncated,
    /// More continuation bytes than the type can hold (5 for varint, 10 for varlong).
    TooLong,
}

/// Bytes needed to encode `value` as a zigzag varint.
#[inline]
pub fn varint_len(value: i32) -> usize {
    unsigned_len(zigzag32(value) as u64)
}

/// Bytes needed to encode `value` as a zigzag varlong.
#[inline]
pub fn varlong_len(value: i64) -> usize {
    unsigned_len(zigzag64(value))
}

#[inline]
fn unsigned_len(value: u64) -> usize {
    // One byte per started group of 7 bits; zero still takes one byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline]
fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

#[inline]
fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Appends `value` as a zigzag varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_unsigned(out, zigzag32(value) as u64);
}

/// Appends `value` as a zigzag varlong.
#[inline]
pub fn put_varlong(out: &mut Vec<u8>, value: i64) {
    put_unsigned(out, zigzag64(value));
}

#[inline]
fn put_unsigned(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes `value` as a zigzag varint into `buf` at `at`; returns the position after it. For
/// assembling a record's leading fields in a small stack buffer, then appending them at once
/// (one capacity check instead of one per byte). Panics if `buf` is too short.
#[inline]
pub fn write_varint(buf: &mut [u8], at: usize, value: i32) -> usize {
    write_unsigned(buf, at, zigzag32(value) as u64)
}

/// [`write_varint`] for a zigzag varlong.
#[inline]
pub fn write_varlong(buf: &mut [u8], at: usize, value: i64) -> usize {
    write_unsigned(buf, at, zigzag64(value))
}

#[inline]
fn write_unsigned(buf: &mut [u8], mut at: usize, mut value: u64) -> usize {
    while value >= 0x80 {
        buf[at] = (value as u8) | 0x80;
        value >>= 7;
        at += 1;
    }
    buf[at] = value as u8;
    at + 1
}

/// Reads a zigzag varint from the front of `input`; returns the value and the bytes consumed.
#[inline]
pub fn read_varint(input: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, used) = read_unsigned(input, 5)?;
    if raw > u32::MAX as u64 {
        return Err(VarintError::TooLong);
    }
    let raw = raw as u32;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Reads a zigzag varlong from the front of `input`; returns the value and the bytes consumed.
#[inline]
pub fn read_varlong(input: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, used) = read_unsigned(input, 10)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

#[inline]
pub(crate) fn read_unsigned(input: &[u8], max_bytes: usize) -> Result<(u64, usize), VarintError> {
    // Fast path: the common one-byte case (small lengths and deltas).
    match input.first() {
        None => return Err(VarintError::Truncated),
        Some(&b) if b < 0x80 => return Ok((b as u64, 1)),
        Some(_) => {}
    }
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(max_bytes) {
        value |= ((byte & 0x7f) as u64) << (7 * i);
        if byte < 0x80 {
            return Ok((value, i + 1));
        }
    }
    if input.len() < max_bytes {
        Err(VarintError::Truncated)
    } else {
        Err(VarintError::TooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc32(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    fn enc64(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varlong(&mut out, v);
        out
    }

    #[test]
    fn hand_checked_encodings() {
        // zigzag: 0→0, -1→1, 1→2, -2→3, 63→126, -64→127, 64→128 (two bytes).
        assert_eq!(enc32(0), [0x00]);
        assert_eq!(enc32(-1), [0x01]);
        assert_eq!(enc32(1), [0x02]);
        assert_eq!(enc32(-2), [0x03]);
        assert_eq!(enc32(63), [0x7e]);
        assert_eq!(enc32(-64), [0x7f]);
        assert_eq!(enc32(64), [0x80, 0x01]);
        assert_eq!(enc32(300), [0xd8, 0x04]);
        assert_eq!(enc32(i32::MAX), [0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(enc32(i32::MIN), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(
            enc64(i64::MIN),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn round_trips_and_lengths() {
        for v in [
            0,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            8191,
            8192,
            1 << 20,
            i32::MAX,
            i32::MIN,
        ] {
            let bytes = enc32(v);
            assert_eq!(bytes.len(), varint_len(v), "{v}");
            assert_eq!(read_varint(&bytes), Ok((v, bytes.len())));
        }
        for v in [
            0,
            1,
            -1,
            1 << 35,
            -(1 << 40),
            i64::MAX,
            i64::MIN,
            1_700_000_000_000,
        ] {
            let bytes = enc64(v);
            assert_eq!(bytes.len(), varlong_len(v), "{v}");
            assert_eq!(read_varlong(&bytes), Ok((v, bytes.len())));
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(read_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(read_varint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(read_varint(&[0x80; 6]), Err(VarintError::TooLong));
        // Five bytes whose value does not fit in 32 bits.
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(VarintError::TooLong)
        );
        assert_eq!(read_varlong(&[0xff; 11]), Err(VarintError::TooLong));
    }
}
