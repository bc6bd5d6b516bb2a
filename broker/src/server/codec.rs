//! Framing and header handling for the broker side. Mirrors `odradek::protocol::{frame, codec}`
//! (same shapes), until that lands on main and replaces this module.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

/// Why a request frame could not be used. Every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame of {size} bytes exceeds socket.request.max.bytes {max}")]
    FrameTooLarge { size: usize, max: usize },
    #[error("frame size prefix is negative ({0})")]
    NegativeFrameSize(i32),
    #[error("request header truncated: {0} bytes")]
    Truncated(usize),
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("cannot decode {api_key:?} v{version}: {reason}")]
    Decode {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("cannot encode {api_key:?} v{version}: {reason}")]
    Encode {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// Splits the next whole frame body (without its size prefix) off `buf`. The size is checked
/// against `max` before anything is reserved; `Ok(None)` means more bytes are needed, and
/// `needed` tells how many the next frame still lacks.
pub fn next_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, WireError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let size = i32::from_be_bytes(*prefix);
    if size < 0 {
        return Err(WireError::NegativeFrameSize(size));
    }
    let size = size as usize;
    if size > max {
        return Err(WireError::FrameTooLarge { size, max });
    }
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size)))
}

/// API key, version and correlation id: the part of a header readable for any API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPreamble {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

pub fn peek_request_preamble(frame: &[u8]) -> Option<RequestPreamble> {
    let b = frame.first_chunk::<8>()?;
    Some(RequestPreamble {
        api_key: i16::from_be_bytes([b[0], b[1]]),
        api_version: i16::from_be_bytes([b[2], b[3]]),
        correlation_id: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    })
}

/// Decodes header and body of a request whose API and version the caller has checked.
pub fn decode_request(
    mut frame: Bytes,
    api_key: ApiKey,
    version: i16,
) -> Result<(RequestHeader, RequestKind), WireError> {
    let err = |reason: String| WireError::Decode {
        api_key,
        version,
        reason,
    };
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| err(format!("header: {e:#}")))?;
    let body =
        RequestKind::decode(api_key, &mut frame, version).map_err(|e| err(format!("{e:#}")))?;
    // Trailing bytes are ignored, as Kafka's parser does (librdkafka 2.16 sends Metadata v13
    // with 3 bytes more than the schema has).
    if frame.has_remaining() {
        tracing::trace!(
            ?api_key,
            version,
            extra = frame.remaining(),
            "ignoring trailing request bytes"
        );
    }
    Ok((header, body))
}

/// Encodes a whole response frame (size prefix included). ApiVersions responses always use
/// header v0, as clients read them before knowing our versions.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, WireError> {
    let err = |reason: String| WireError::Encode {
        api_key,
        version,
        reason,
    };
    let mut dst = BytesMut::with_capacity(128);
    dst.put_i32(0);
    let header_version = if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    };
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut dst, header_version)
        .map_err(|e| err(format!("header: {e:#}")))?;
    body.encode(&mut dst, version)
        .map_err(|e| err(format!("{e:#}")))?;
    let len = i32::try_from(dst.len() - 4)
        .map_err(|_| err(format!("response of {} bytes", dst.len())))?;
    dst[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(dst.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked_before_reserving() {
        let mut b = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            next_frame(&mut b, 1000),
            Err(WireError::FrameTooLarge { .. })
        ));
        assert!(b.capacity() < 1000);
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            next_frame(&mut b, 1000),
            Err(WireError::NegativeFrameSize(-1))
        ));
        let mut b = BytesMut::from(&[0, 0, 0, 2, 9][..]);
        assert!(next_frame(&mut b, 1000).unwrap().is_none());
        b.extend_from_slice(&[8, 0, 0, 0, 0]);
        assert_eq!(&next_frame(&mut b, 1000).unwrap().unwrap()[..], &[9, 8]);
        assert_eq!(b.len(), 4);
    }
}
