//! Framing: every Kafka request and response is a 4-byte big-endian size followed by that many
//! bytes. The size is checked against a maximum before anything is allocated for the frame, so a
//! hostile prefix cannot make us reserve memory.

use bytes::BytesMut;

use super::ProtocolError;

/// Kafka's `socket.request.max.bytes` default: the largest frame accepted unless configured.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 104_857_600;

/// Length of the size prefix in front of every frame.
pub const SIZE_PREFIX_LEN: usize = 4;

/// Splits frames off a byte stream. Feed it the connection's read buffer after every read.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
}

impl FrameDecoder {
    /// A decoder that rejects frames whose body is larger than `max_frame_bytes`.
    pub fn new(max_frame_bytes: usize) -> Self {
        Self { max_frame_bytes }
    }

    /// The largest frame body this decoder accepts.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Takes the next complete frame off the front of `buf` and returns its body (without the
    /// size prefix). `Ok(None)` means more bytes are needed; `buf` is left untouched then.
    ///
    /// An error means the stream cannot be framed any more: close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, ProtocolError> {
        let Some(body_len) = self.peek_body_len(buf)? else {
            return Ok(None);
        };
        if buf.len() - SIZE_PREFIX_LEN < body_len {
            return Ok(None);
        }
        let mut frame = buf.split_to(SIZE_PREFIX_LEN + body_len);
        Ok(Some(frame.split_off(SIZE_PREFIX_LEN)))
    }

    /// The validated body length announced at the front of `buf`, if the prefix has arrived.
    /// Lets a reader size its next read without trusting more than the maximum.
    pub fn peek_body_len(&self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(prefix) = buf.first_chunk::<SIZE_PREFIX_LEN>() else {
            return Ok(None);
        };
        let size = i32::from_be_bytes(*prefix);
        let body_len = usize::try_from(size).map_err(|_| ProtocolError::NegativeFrameSize(size))?;
        if body_len > self.max_frame_bytes {
            return Err(ProtocolError::FrameTooLarge {
                size: body_len,
                max: self.max_frame_bytes,
            });
        }
        Ok(Some(body_len))
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

/// Starts a frame in `dst`: writes a placeholder size prefix and returns where it is, for
/// [`finish_frame`] once the body has been written after it.
#[cfg(any(feature = "client", feature = "broker"))]
pub(crate) fn begin_frame(dst: &mut BytesMut) -> usize {
    use bytes::BufMut;
    let at = dst.len();
    dst.put_i32(0);
    at
}

/// Fills in the size prefix written by [`begin_frame`] at `at`; fails if the body does not fit
/// the protocol's i32 size.
#[cfg(any(feature = "client", feature = "broker"))]
pub(crate) fn finish_frame(dst: &mut BytesMut, at: usize) -> Result<(), usize> {
    let body_len = dst.len() - at - SIZE_PREFIX_LEN;
    let size = i32::try_from(body_len).map_err(|_| body_len)?;
    dst[at..at + SIZE_PREFIX_LEN].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn splits_consecutive_frames_and_keeps_the_rest() {
        let mut stream = framed(b"hello");
        stream.extend(framed(b""));
        stream.extend(framed(b"world"));
        stream.extend_from_slice(&[0, 0]); // start of a next prefix
        let mut buf = BytesMut::from(&stream[..]);
        let mut dec = FrameDecoder::default();
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap(), &b""[..]);
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap(), &b"world"[..]);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert_eq!(&buf[..], &[0, 0]);
    }

    #[test]
    fn waits_for_a_truncated_frame_without_consuming_it() {
        let whole = framed(b"0123456789");
        let mut dec = FrameDecoder::default();
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(dec.decode(&mut buf).unwrap(), None, "cut at {cut}");
            assert_eq!(buf.len(), cut, "nothing consumed at cut {cut}");
        }
        // Byte-at-a-time arrival yields the frame exactly once.
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for b in &whole {
            buf.put_u8(*b);
            if let Some(f) = dec.decode(&mut buf).unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames, vec![BytesMut::from(&b"0123456789"[..])]);
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_an_oversized_prefix_before_the_body_arrives() {
        let mut dec = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&1025i32.to_be_bytes()[..]);
        let capacity_before = buf.capacity();
        match dec.decode(&mut buf) {
            Err(ProtocolError::FrameTooLarge {
                size: 1025,
                max: 1024,
            }) => {}
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        assert_eq!(
            buf.capacity(),
            capacity_before,
            "nothing reserved for the frame"
        );
        // Exactly the maximum is fine.
        let mut buf = BytesMut::from(&framed(&[7u8; 1024])[..]);
        assert_eq!(dec.decode(&mut buf).unwrap().unwrap().len(), 1024);
    }

    #[test]
    fn rejects_hostile_prefixes() {
        let mut dec = FrameDecoder::default();
        for size in [i32::MAX, DEFAULT_MAX_FRAME_BYTES as i32 + 1] {
            let mut buf = BytesMut::from(&size.to_be_bytes()[..]);
            assert!(matches!(
                dec.decode(&mut buf),
                Err(ProtocolError::FrameTooLarge { .. })
            ));
        }
        for size in [-1i32, i32::MIN] {
            let mut buf = BytesMut::from(&size.to_be_bytes()[..]);
            match dec.decode(&mut buf) {
                Err(ProtocolError::NegativeFrameSize(s)) => assert_eq!(s, size),
                other => panic!("expected NegativeFrameSize, got {other:?}"),
            }
        }
    }

    #[test]
    fn begin_and_finish_frame_write_the_body_length() {
        let mut dst = BytesMut::from(&b"xx"[..]);
        let at = begin_frame(&mut dst);
        dst.put_slice(b"abc");
        finish_frame(&mut dst, at).unwrap();
        assert_eq!(&dst[..], b"xx\0\0\0\x03abc");
    }
}
