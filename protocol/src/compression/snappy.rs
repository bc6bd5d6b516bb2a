//! Snappy as Kafka clients frame it.
//!
//! The Java client writes snappy-java's "xerial" stream: a 16-byte header (magic
//! `\x82SNAPPY\0`, version 1, compatible version 1, both big-endian i32), then chunks of
//! `[i32 big-endian compressed length][raw snappy block]`. Some producers write a single raw
//! snappy block instead, so decoding accepts both. This framing is small and fixed, so it is
//! written here rather than pulled from a crate (snap's own frame format is a different one).

use super::{Compression, CompressionError};

pub(super) const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
pub(super) const XERIAL_HEADER_LEN: usize = 16;
/// snappy-java's default chunk size: readers size their buffers for it.
const XERIAL_CHUNK: usize = 32 * 1024;
/// A valid snappy block expands at most ~21.4x (a 3-byte copy yields 64 bytes); a block claiming
/// more is corrupt, and checking first keeps the claimed length from sizing an allocation.
const MAX_EXPANSION: usize = 22;

fn corrupt(reason: impl std::fmt::Display) -> CompressionError {
    CompressionError::Corrupt {
        codec: Compression::Snappy,
        reason: reason.to_string(),
    }
}

pub(super) fn compress_xerial(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_CHUNK) {
        let len_at = out.len();
        let body_at = len_at + 4;
        out.resize(body_at + snap::raw::max_compress_len(chunk.len()), 0);
        let written =
            encoder
                .compress(chunk, &mut out[body_at..])
                .map_err(|e| CompressionError::Encode {
                    codec: Compression::Snappy,
                    reason: e.to_string(),
                })?;
        out.truncate(body_at + written);
        out[len_at..body_at].copy_from_slice(&(written as u32).to_be_bytes());
    }
    Ok(())
}

pub(super) fn decompress(
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), CompressionError> {
    let start = out.len();
    let result = if input.len() >= XERIAL_HEADER_LEN && input[..8] == XERIAL_MAGIC {
        decompress_xerial(&input[XERIAL_HEADER_LEN..], out, start, limit)
    } else {
        decompress_block(input, out, start, limit)
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn decompress_xerial(
    mut chunks: &[u8],
    out: &mut Vec<u8>,
    start: usize,
    limit: usize,
) -> Result<(), CompressionError> {
    while !chunks.is_empty() {
        let Some((len, rest)) = chunks.split_first_chunk::<4>() else {
            return Err(corrupt("truncated xerial chunk length"));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len > rest.len() {
            return Err(corrupt(format!(
                "xerial chunk of {len} bytes but only {} remain",
                rest.len()
            )));
        }
        let (block, rest) = rest.split_at(len);
        decompress_block(block, out, start, limit)?;
        chunks = rest;
    }
    Ok(())
}

pub(super) fn decompress_block(
    block: &[u8],
    out: &mut Vec<u8>,
    start: usize,
    limit: usize,
) -> Result<(), CompressionError> {
    if block.is_empty() {
        return Ok(());
    }
    let claimed = snap::raw::decompress_len(block).map_err(corrupt)?;
    if claimed > block.len().saturating_mul(MAX_EXPANSION) {
        return Err(corrupt(format!(
            "block of {} bytes claims {claimed} bytes uncompressed",
            block.len()
        )));
    }
    let at = out.len();
    if at - start + claimed > limit {
        return Err(CompressionError::TooLarge {
            codec: Compression::Snappy,
            limit,
        });
    }
    out.resize(at + claimed, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[at..])
        .map_err(corrupt)?;
    if written != claimed {
        return Err(corrupt(format!(
            "block decompressed to {written} bytes, header said {claimed}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xerial_layout_is_what_snappy_java_writes() {
        let mut out = Vec::new();
        compress_xerial(b"abc", &mut out).unwrap();
        // Header: magic, version 1, compatible version 1.
        assert_eq!(
            out[..16],
            [
                0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1
            ]
        );
        // One chunk: length 5 = varint preamble 3, literal tag (len-1)<<2, "abc".
        assert_eq!(out[16..], [0, 0, 0, 5, 3, 0x08, b'a', b'b', b'c']);
    }

    #[test]
    fn raw_block_decodes() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(&[7u8; 100_000])
            .unwrap();
        let mut out = Vec::new();
        decompress(&raw, &mut out, usize::MAX).unwrap();
        assert_eq!(out, vec![7u8; 100_000]);
    }

    #[test]
    fn multi_chunk_xerial_round_trips() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut packed = Vec::new();
        compress_xerial(&data, &mut packed).unwrap();
        let mut out = Vec::new();
        decompress(&packed, &mut out, usize::MAX).unwrap();
        assert!(out == data);
    }

    #[test]
    fn lying_lengths_are_rejected_before_allocation() {
        // Preamble claims 2^31 bytes from a 6-byte block.
        let block = [0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        let mut out = Vec::new();
        assert!(decompress(&block, &mut out, usize::MAX).is_err());
        assert_eq!(out.capacity(), 0);
        // A xerial chunk length beyond the input.
        let mut framed = Vec::new();
        compress_xerial(b"hello", &mut framed).unwrap();
        framed[19] = 0xff;
        assert!(decompress(&framed, &mut out, usize::MAX).is_err());
    }
}
