//! Streaming decompression with an output budget: the records section of one batch comes out a
//! piece at a time (one codec block, or one buffer of zstd or gzip output), so a reader that
//! walks the records never holds the whole decompressed batch, and a payload that expands past
//! the budget fails as soon as it does, without being materialised (a "decompression bomb").

use std::cell::RefCell;
use std::io::Read;

use super::{
    Compression, CompressionError, lz4_block_error, lz4_frame_header, snappy, take, u32_le,
};

/// Output buffers kept per thread between batches; a larger one is freed, so a big batch does
/// not leave its memory behind.
const KEEP_SCRATCH: usize = 4 << 20;
/// Output a zstd context may have produced and still be kept for the next batch; past this its
/// window buffer (up to the frame's window size) is freed with it.
const KEEP_ZSTD_AFTER: usize = 8 << 20;
/// Chunk size for codecs that write into a caller's buffer (zstd, gzip).
const STREAM_CHUNK: usize = 64 << 10;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static ZSTD_STREAM_DCTX: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
        const { RefCell::new(None) };
}

/// Decompresses one codec stream piece by piece, failing with [`CompressionError::TooLarge`]
/// once more than `budget` bytes have come out.
pub struct BoundedDecoder<'a> {
    codec: Compression,
    state: State<'a>,
    /// Decoded bytes not yet handed out: `block[block_pos..block_len]`.
    block: Vec<u8>,
    block_pos: usize,
    block_len: usize,
    produced: usize,
    budget: usize,
}

enum State<'a> {
    Plain(&'a [u8]),
    Gzip(Box<flate2::read::MultiGzDecoder<&'a [u8]>>),
    Zstd {
        dctx: Option<zstd::zstd_safe::DCtx<'static>>,
        input: &'a [u8],
        pos: usize,
        frame_done: bool,
    },
    Lz4 {
        input: &'a [u8],
        frame: Option<Lz4FrameState>,
        /// The last 64 KiB of this frame's output, for linked blocks.
        history: Vec<u8>,
    },
    Snappy {
        chunks: &'a [u8],
        xerial: bool,
    },
    Done,
}

/// Where [`BoundedDecoder::next_block`] put a block.
enum Block {
    /// The input has ended.
    End,
    /// In `self.block`, to be copied out.
    Buffered,
    /// Straight into the caller's buffer: this many bytes.
    Direct(usize),
}

struct Lz4FrameState {
    independent: bool,
    block_checksums: bool,
    content_checksum: bool,
    block_max: usize,
}

impl std::fmt::Debug for BoundedDecoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedDecoder")
            .field("codec", &self.codec)
            .field("produced", &self.produced)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<'a> BoundedDecoder<'a> {
    /// A decoder of `input` (one batch's compressed records section) with `codec`.
    pub fn new(
        codec: Compression,
        input: &'a [u8],
        budget: usize,
    ) -> Result<Self, CompressionError> {
        let state = match codec {
            Compression::None => State::Plain(input),
            Compression::Gzip => State::Gzip(Box::new(flate2::read::MultiGzDecoder::new(input))),
            Compression::Zstd => {
                // A frame that declares more than the budget is refused before any work.
                if let Ok(Some(n)) = zstd::zstd_safe::get_frame_content_size(input)
                    && n > budget as u64
                {
                    return Err(CompressionError::TooLarge {
                        codec,
                        limit: budget,
                    });
                }
                let mut dctx = ZSTD_STREAM_DCTX
                    .with(|c| c.borrow_mut().take())
                    .unwrap_or_else(zstd::zstd_safe::DCtx::create);
                dctx.reset(zstd::zstd_safe::ResetDirective::SessionOnly)
                    .map_err(zstd_error)?;
                State::Zstd {
                    dctx: Some(dctx),
                    input,
                    pos: 0,
                    frame_done: false,
                }
            }
            Compression::Lz4 => {
                if input.is_empty() {
                    return Err(CompressionError::corrupt(codec, "empty lz4 input"));
                }
                State::Lz4 {
                    input,
                    frame: None,
                    history: Vec::new(),
                }
            }
            Compression::Snappy => {
                let xerial =
                    input.len() >= snappy::XERIAL_HEADER_LEN && input[..8] == snappy::XERIAL_MAGIC;
                let chunks = if xerial {
                    &input[snappy::XERIAL_HEADER_LEN..]
                } else {
                    input
                };
                State::Snappy { chunks, xerial }
            }
        };
        let block = match codec {
            Compression::None => Vec::new(),
            _ => SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut())),
        };
        Ok(Self {
            codec,
            state,
            block,
            block_pos: 0,
            block_len: 0,
            produced: 0,
            budget,
        })
    }

    /// Bytes handed out so far.
    pub fn produced(&self) -> usize {
        self.produced
    }

    /// Copies the next decoded bytes into `out`; 0 means the stream has ended.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, CompressionError> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.block_pos < self.block_len {
                let n = out.len().min(self.block_len - self.block_pos);
                out[..n].copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
                self.block_pos += n;
                return Ok(n);
            }
            let n = match &mut self.state {
                State::Done => return Ok(0),
                State::Plain(rest) => {
                    let n = out.len().min(rest.len());
                    out[..n].copy_from_slice(&rest[..n]);
                    *rest = &rest[n..];
                    n
                }
                // Codecs that decode straight into the caller's buffer.
                State::Gzip(dec) => {
                    let want = out.len().min(self.budget - self.produced + 1);
                    dec.read(&mut out[..want])
                        .map_err(|e| CompressionError::corrupt(self.codec, e))?
                }
                State::Zstd { .. } => self.zstd_read(out)?,
                State::Lz4 { .. } | State::Snappy { .. } => match self.next_block(out)? {
                    Block::End => {
                        self.state = State::Done;
                        return Ok(0);
                    }
                    Block::Direct(n) if n > 0 => return Ok(n),
                    Block::Direct(_) | Block::Buffered => continue,
                },
            };
            if n == 0 {
                self.finish();
                return Ok(0);
            }
            self.produced += n;
            if self.produced > self.budget {
                self.fail_too_large();
                return Err(CompressionError::TooLarge {
                    codec: self.codec,
                    limit: self.budget,
                });
            }
            return Ok(n);
        }
    }

    fn fail_too_large(&mut self) {
        // A context that decoded this much keeps a large window; let it go.
        if let State::Zstd { dctx, .. } = &mut self.state {
            dctx.take();
        }
        self.state = State::Done;
    }

    fn finish(&mut self) {
        if let State::Zstd { dctx, .. } = &mut self.state
            && let Some(d) = dctx.take()
            && self.produced <= KEEP_ZSTD_AFTER
        {
            ZSTD_STREAM_DCTX.with(|c| *c.borrow_mut() = Some(d));
        }
        self.state = State::Done;
    }

    fn zstd_read(&mut self, out: &mut [u8]) -> Result<usize, CompressionError> {
        use zstd::zstd_safe::{InBuffer, OutBuffer};
        let State::Zstd {
            dctx,
            input,
            pos,
            frame_done,
        } = &mut self.state
        else {
            unreachable!("zstd_read on a zstd state");
        };
        let dctx = dctx.as_mut().expect("a live zstd context");
        let want = out.len().min(STREAM_CHUNK);
        let out = &mut out[..want];
        loop {
            if *pos == input.len() && *frame_done {
                return Ok(0);
            }
            let mut inb = InBuffer::around(&input[*pos..]);
            let mut outb = OutBuffer::around(&mut *out);
            let hint = dctx
                .decompress_stream(&mut outb, &mut inb)
                .map_err(zstd_error)?;
            let (consumed, written) = (inb.pos(), outb.pos());
            *pos += consumed;
            *frame_done = hint == 0;
            if written > 0 {
                return Ok(written);
            }
            if *pos == input.len() {
                if *frame_done {
                    return Ok(0);
                }
                return Err(CompressionError::corrupt(
                    Compression::Zstd,
                    "truncated zstd frame",
                ));
            }
            if consumed == 0 {
                return Err(CompressionError::corrupt(
                    Compression::Zstd,
                    "zstd decoder made no progress",
                ));
            }
        }
    }

    /// How much room in the buffer given to [`BoundedDecoder::read`] lets it decode the next
    /// piece straight into that buffer (an lz4 block of the current frame: its block size)
    /// instead of into its own and copying out.
    pub fn direct_read_len(&self) -> usize {
        match &self.state {
            State::Lz4 { frame: Some(f), .. } => f.block_max,
            _ => STREAM_CHUNK,
        }
    }

    /// Decodes the next lz4 or snappy block: an independent lz4 block straight into `out` when
    /// it has room for the frame's block size, anything else into `self.block`.
    fn next_block(&mut self, out: &mut [u8]) -> Result<Block, CompressionError> {
        let room = self.budget - self.produced;
        let len = match &mut self.state {
            State::Lz4 {
                input,
                frame,
                history,
            } => loop {
                let Some(f) = frame else {
                    if input.is_empty() {
                        return Ok(Block::End);
                    }
                    *frame = lz4_frame_header(input)?.map(|h| Lz4FrameState {
                        independent: h.independent,
                        block_checksums: h.block_checksums,
                        content_checksum: h.content_checksum,
                        block_max: h.block_max,
                    });
                    history.clear();
                    self.block_len = 0;
                    continue;
                };
                let word = u32_le(take(input, 4)?);
                if word == 0 {
                    if f.content_checksum {
                        take(input, 4)?;
                    }
                    *frame = None;
                    continue;
                }
                let len = (word & 0x7FFF_FFFF) as usize;
                let data = take(input, len)?;
                if f.block_checksums {
                    take(input, 4)?;
                }
                let stored = word & 0x8000_0000 != 0;
                if f.independent {
                    // No history needed: decode (or copy) into the caller's buffer when it
                    // can take a whole block, saving a copy per block.
                    let cap = if stored {
                        len
                    } else {
                        f.block_max.min(room.saturating_add(1))
                    };
                    if out.len() >= cap {
                        let n = if stored {
                            out[..len].copy_from_slice(data);
                            len
                        } else {
                            lz4_flex::block::decompress_into(data, &mut out[..cap])
                                .map_err(|e| lz4_block_error(e, cap, room, self.budget))?
                        };
                        if n > room {
                            return Err(self.too_large());
                        }
                        self.produced += n;
                        return Ok(Block::Direct(n));
                    }
                } else if self.block_len > 0 {
                    // Keep the last 64 KiB of output for the next linked block.
                    history.extend_from_slice(&self.block[..self.block_len]);
                    let excess = history.len().saturating_sub(64 << 10);
                    history.drain(..excess);
                }
                if stored {
                    if len > room {
                        return Err(CompressionError::TooLarge {
                            codec: self.codec,
                            limit: self.budget,
                        });
                    }
                    grow(&mut self.block, len);
                    self.block[..len].copy_from_slice(data);
                    break len;
                }
                let cap = f.block_max.min(room.saturating_add(1));
                grow(&mut self.block, cap);
                let n = lz4_flex::block::decompress_into_with_dict(
                    data,
                    &mut self.block[..cap],
                    history,
                )
                .map_err(|e| lz4_block_error(e, cap, room, self.budget))?;
                break n;
            },
            State::Snappy { chunks, xerial } => {
                if chunks.is_empty() {
                    return Ok(Block::End);
                }
                let block = if *xerial {
                    let Some((len, rest)) = chunks.split_first_chunk::<4>() else {
                        return Err(CompressionError::corrupt(
                            Compression::Snappy,
                            "truncated xerial chunk length",
                        ));
                    };
                    let len = u32::from_be_bytes(*len) as usize;
                    if len > rest.len() {
                        return Err(CompressionError::corrupt(
                            Compression::Snappy,
                            format!("xerial chunk of {len} bytes but only {} remain", rest.len()),
                        ));
                    }
                    let (block, rest) = rest.split_at(len);
                    *chunks = rest;
                    block
                } else {
                    std::mem::take(chunks)
                };
                self.block.clear();
                snappy::decompress_block(block, &mut self.block, 0, room).map_err(|e| match e {
                    CompressionError::TooLarge { codec, .. } => CompressionError::TooLarge {
                        codec,
                        limit: self.budget,
                    },
                    other => other,
                })?;
                self.block.len()
            }
            _ => unreachable!("next_block on a block codec"),
        };
        if len > room {
            return Err(self.too_large());
        }
        self.produced += len;
        self.block_pos = 0;
        self.block_len = len;
        Ok(Block::Buffered)
    }

    fn too_large(&mut self) -> CompressionError {
        self.state = State::Done;
        CompressionError::TooLarge {
            codec: self.codec,
            limit: self.budget,
        }
    }
}

impl Drop for BoundedDecoder<'_> {
    fn drop(&mut self) {
        let block = std::mem::take(&mut self.block);
        if block.capacity() > 0 && block.capacity() <= KEEP_SCRATCH {
            SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                if s.capacity() < block.capacity() {
                    *s = block;
                }
            });
        }
    }
}

/// Grows `buf` to at least `len` initialised bytes (only new bytes are zeroed).
fn grow(buf: &mut Vec<u8>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
}

fn zstd_error(code: usize) -> CompressionError {
    CompressionError::corrupt(Compression::Zstd, zstd::zstd_safe::get_error_name(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::compress;

    fn drain(
        codec: Compression,
        packed: &[u8],
        budget: usize,
    ) -> Result<Vec<u8>, CompressionError> {
        let mut dec = BoundedDecoder::new(codec, packed, budget)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = dec.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn every_codec_round_trips_in_pieces() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        for codec in crate::compression::ALL_CODECS {
            let mut packed = Vec::new();
            compress(codec, None, &data, &mut packed).unwrap();
            let out = drain(codec, &packed, data.len()).unwrap();
            assert!(out == data, "{codec}");
            // One byte less of budget fails, whatever the codec.
            let err = drain(codec, &packed, data.len() - 1).unwrap_err();
            assert!(
                matches!(err, CompressionError::TooLarge { .. }),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn a_bomb_fails_at_the_budget_without_materialising() {
        // 64 MiB of zeros compress to a few KiB; the budget stops it at 1 MiB.
        let zeros = vec![0u8; 64 << 20];
        for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
            let mut packed = Vec::new();
            compress(codec, None, &zeros, &mut packed).unwrap();
            let mut dec = BoundedDecoder::new(codec, &packed, 1 << 20).unwrap();
            let mut buf = vec![0u8; 64 << 10];
            let err = loop {
                match dec.read(&mut buf) {
                    Ok(0) => panic!("{codec}: the bomb decoded within the budget"),
                    Ok(_) => {}
                    Err(e) => break e,
                }
            };
            assert!(matches!(err, CompressionError::TooLarge { .. }), "{codec}");
            assert!(dec.produced() <= (1 << 20) + (64 << 10), "{codec}");
        }
    }

    #[test]
    fn garbage_is_corrupt() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let garbage = [0x28u8, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8, 9];
            let res = drain(codec, &garbage, 1 << 20);
            assert!(
                matches!(res, Err(CompressionError::Corrupt { .. })),
                "{codec}: {res:?}"
            );
        }
    }
}
