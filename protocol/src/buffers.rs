//! Recycled byte buffers, handed out as `Bytes` that come back when their last view is dropped.
//!
//! A consumer's records are views into the memory they were read or decompressed into: a Fetch
//! response frame (about `max.partition.fetch.bytes`) or a decompressed batch. Taking fresh memory
//! for each costs a page fault per 4 KiB on first touch and an unmap when it is freed (the
//! allocator hands large blocks straight back to the kernel); at 1 KiB records that was most of
//! the consumer's system time. A pool keeps the buffers of dropped frames and batches, with their
//! pages mapped, up to a byte bound; beyond it buffers are freed as usual.
//!
//! Buffers are kept initialised (their length is the initialised extent, zero-filled once when
//! they grow), so decoders that need `&mut [u8]` can write into them without clearing them first.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// A set of free buffers. Cheap to clone (clones share the buffers).
#[derive(Clone)]
pub struct BufferPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool")
            .field("keep_bytes", &self.inner.keep_bytes)
            .finish_non_exhaustive()
    }
}

struct Inner {
    free: Mutex<Free>,
    /// Most bytes kept; a buffer larger than this is never kept.
    keep_bytes: usize,
}

#[derive(Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufferPool {
    /// A pool keeping at most `keep_bytes` of free buffers.
    pub fn new(keep_bytes: usize) -> Self {
        BufferPool {
            inner: Arc::new(Inner {
                free: Mutex::new(Free::default()),
                keep_bytes,
            }),
        }
    }

    /// A buffer of at least `len` initialised bytes (contents unspecified): a recycled one when
    /// there is one (the first that is large enough, else the largest, grown), else a new one.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let mut buf = self.pick(len);
        grow(&mut buf, len);
        buf
    }

    fn pick(&self, len: usize) -> Vec<u8> {
        let mut free = self.lock();
        let pick = free
            .buffers
            .iter()
            .position(|b| b.len() >= len)
            .or_else(|| (0..free.buffers.len()).max_by_key(|&i| free.buffers[i].len()));
        match pick {
            Some(i) => {
                let buf = free.buffers.swap_remove(i);
                free.bytes -= buf.capacity();
                buf
            }
            None => Vec::new(),
        }
    }

    /// A buffer with room for `len` bytes and no contents, for a reader that appends (a socket
    /// read into spare capacity): nothing is zero-filled.
    pub fn take_empty(&self, len: usize) -> Vec<u8> {
        let mut buf = self.pick(len);
        buf.clear();
        buf.reserve_exact(len);
        buf
    }

    /// The first `used` bytes of `buf` as a `Bytes`; `buf` comes back to this pool once the last
    /// view of it is dropped.
    pub fn freeze(&self, buf: Vec<u8>, used: usize) -> Bytes {
        debug_assert!(used <= buf.len());
        Bytes::from_owner(Pooled {
            buf,
            used,
            pool: self.clone(),
        })
    }

    /// Returns a buffer taken but not used.
    pub fn put_back(&self, buf: Vec<u8>) {
        self.give_back(buf);
    }

    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self.lock();
        if free.bytes + buf.capacity() <= self.inner.keep_bytes {
            free.bytes += buf.capacity();
            free.buffers.push(buf);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Free> {
        self.inner.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Makes at least `len` bytes of `buf` initialised, zero-filling only what is new.
pub fn grow(buf: &mut Vec<u8>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
}

/// The owner behind a pooled buffer's `Bytes`.
struct Pooled {
    buf: Vec<u8>,
    used: usize,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.used]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_once_its_last_view_is_dropped() {
        let pool = BufferPool::new(1 << 20);
        let mut buf = pool.take(100_000);
        assert_eq!(buf.len(), 100_000);
        buf[..5].copy_from_slice(b"hello");
        let at = buf.as_ptr();
        let frame = pool.freeze(buf, 5);
        assert_eq!(&frame[..], b"hello");
        let view = frame.slice(1..3);
        drop(frame);
        // Still referenced by `view`: a new buffer is handed out.
        let other = pool.take(100_000);
        assert_ne!(other.as_ptr(), at);
        assert_eq!(&view[..], b"el");
        drop(view);
        let again = pool.take(50_000);
        assert_eq!(again.as_ptr(), at, "the released buffer comes back");
        assert_eq!(again.len(), 100_000, "kept initialised");
    }

    #[test]
    fn keeps_at_most_its_byte_bound() {
        let pool = BufferPool::new(1000);
        let frames: Vec<Bytes> = (0..5).map(|_| pool.freeze(pool.take(300), 1)).collect();
        drop(frames);
        let free = pool.lock();
        assert_eq!(free.buffers.len(), 3);
        assert!(free.bytes <= 1000 && free.bytes >= 900, "{}", free.bytes);
    }

    #[test]
    fn an_empty_buffer_has_room_and_comes_back_filled() {
        let pool = BufferPool::new(1 << 20);
        let mut buf = pool.take_empty(5000);
        assert!(buf.is_empty() && buf.capacity() >= 5000);
        buf.extend_from_slice(&[9; 5000]);
        let at = buf.as_ptr();
        drop(pool.freeze(buf, 5000));
        let again = pool.take_empty(4000);
        assert_eq!((again.as_ptr(), again.len()), (at, 0));
    }

    #[test]
    fn a_small_buffer_grows_to_the_length_asked() {
        let pool = BufferPool::new(1 << 20);
        drop(pool.freeze(pool.take(10), 10));
        let big = pool.take(4096);
        assert_eq!(big.len(), 4096);
    }
}
