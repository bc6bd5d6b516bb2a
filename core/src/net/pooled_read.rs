//! The read side's path for large response frames: each is read into a buffer of its own from
//! the connection's pool (see crate::buffers), which comes back once the consumer has dropped the
//! frame's last record. Small frames are split off the stream buffer as before.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use odradek_socket::ReadHalf;
use tokio::io::AsyncReadExt;

use crate::buffers::BufferPool;
use crate::error::{Error, ErrorClass, Result};
use crate::protocol::frame::SIZE_PREFIX_LEN;

/// Frames at least this large (Fetch responses with data) are read into a pooled buffer.
pub(super) const POOLED_FRAME_MIN: usize = 32 * 1024;

/// Free frame buffers a connection keeps for its next large responses.
const KEEP_BYTES: usize = 16 * 1024 * 1024;

/// A connection's pool of frame buffers.
pub(super) fn frame_pool() -> BufferPool {
    BufferPool::new(KEEP_BYTES)
}

/// Reads the frame of `body_len` bytes whose size prefix is at the front of `buf` into a buffer
/// from `pool`: what `buf` already holds of it is copied over, the rest is read straight in,
/// never past the frame's end (the stream buffer keeps whatever follows).
pub(super) async fn read_frame(
    read: &mut ReadHalf,
    buf: &mut BytesMut,
    body_len: usize,
    pool: &BufferPool,
) -> Result<Bytes> {
    buf.advance(SIZE_PREFIX_LEN);
    // Read into spare capacity: a fresh buffer is not zero-filled first.
    let mut body = pool.take_empty(body_len);
    let have = buf.len().min(body_len);
    body.extend_from_slice(&buf[..have]);
    buf.advance(have);
    while body.len() < body_len {
        let want = body_len - body.len();
        match read.read_buf(&mut (&mut body).limit(want)).await {
            Ok(0) => return Err(Error::network("broker closed the connection")),
            Ok(_) => {}
            Err(e) => return Err(Error::from(e).with_class(ErrorClass::Retriable)),
        }
    }
    Ok(pool.freeze(body, body_len))
}
