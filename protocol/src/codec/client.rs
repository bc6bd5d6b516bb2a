//! The client's half of the codec: request frames out, response frames in.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

use super::{
    Response, api_key_of, check_version, request_kind_key, supported_versions, wire_version,
};
use crate::ProtocolError;
use crate::frame::{begin_frame, finish_frame};
use crate::shape::{self, Direction};

/// Kafka error code UNSUPPORTED_VERSION, the one error an ApiVersions v0 fallback body carries.
pub(crate) const UNSUPPORTED_VERSION: i16 = 35;

/// Encodes a whole request frame, size prefix included.
///
/// The API key and version written are `R::API_KEY` and `version`; those two fields of `header` are
/// ignored, so a caller only fills in the correlation id and client id.
pub fn encode_request<R: crate::EncodeRequest>(
    header: &RequestHeader,
    body: &R,
    version: i16,
) -> Result<BytesMut, ProtocolError> {
    let api_key = R::API_KEY;
    check_version(api_key, version, R::VERSIONS)?;
    // Sized up front: a Produce request carries up to a few MiB of record batches, and growing
    // the buffer by doubling copied each of them twice more.
    let hint = body.compute_size(version).unwrap_or(0);
    write_request(api_key, version, header, hint, |dst| {
        body.encode(dst, version)
    })
}

/// Like [`encode_request`] for a request of any API (a proxy, a test replaying captured
/// traffic): the API key and version are the ones in `header`.
pub fn encode_request_kind(
    header: &RequestHeader,
    body: &RequestKind,
) -> Result<BytesMut, ProtocolError> {
    let api_key = api_key_of(header.request_api_key)?;
    let version = header.request_api_version;
    check_version(api_key, version, supported_versions(api_key))?;
    if request_kind_key(body) != Some(api_key) {
        return Err(ProtocolError::Encode {
            api_key,
            version,
            reason: format!("the body is a {:?} request", request_kind_key(body)),
        });
    }
    let wire = wire_version(api_key, version);
    write_request(api_key, version, header, 0, |dst| body.encode(dst, wire))
}

fn write_request<E: std::fmt::Display>(
    api_key: ApiKey,
    version: i16,
    header: &RequestHeader,
    body_size_hint: usize,
    encode_body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<BytesMut, ProtocolError> {
    let encode_err = |reason: String| ProtocolError::Encode {
        api_key,
        version,
        reason,
    };
    let mut dst = BytesMut::with_capacity(64 + body_size_hint);
    let at = begin_frame(&mut dst);
    write_request_header(&mut dst, api_key, version, header)?;
    encode_body(&mut dst).map_err(|e| encode_err(format!("{e:#}")))?;
    finish_frame(&mut dst, at).map_err(|len| encode_err(format!("frame of {len} bytes")))?;
    Ok(dst)
}

/// Writes the request header for `api_key` at `version` (the header version follows the API
/// version); only the correlation id, client id and tagged fields of `header` are used.
pub(crate) fn write_request_header(
    dst: &mut BytesMut,
    api_key: ApiKey,
    version: i16,
    header: &RequestHeader,
) -> Result<(), ProtocolError> {
    let header_version = api_key.request_header_version(version);
    dst.put_i16(api_key as i16);
    dst.put_i16(version);
    dst.put_i32(header.correlation_id);
    if header_version >= 1 {
        // client_id is a classic (non-compact) nullable string even in header v2.
        match &header.client_id {
            Some(id) => {
                let len = i16::try_from(id.len()).map_err(|_| ProtocolError::Encode {
                    api_key,
                    version,
                    reason: format!("client id of {} bytes", id.len()),
                })?;
                dst.put_i16(len);
                dst.put_slice(id.as_bytes());
            }
            None => dst.put_i16(-1),
        }
    }
    if header_version >= 2 {
        encode_tagged_fields(dst, &header.unknown_tagged_fields);
    }
    Ok(())
}

/// Decodes a response frame body (no size prefix) of the request sent at `version`; returns the
/// correlation id and the body.
///
/// An ApiVersions request at a version the broker does not speak is answered with a v0 body
/// carrying UNSUPPORTED_VERSION (and the broker's ranges); that body is decoded as v0.
pub fn decode_response<R: Response + Decodable>(
    frame: Bytes,
    version: i16,
) -> Result<(i32, R), ProtocolError> {
    check_version(R::API_KEY, version, R::VERSIONS)?;
    read_response(R::API_KEY, version, frame, |buf, v| R::decode(buf, v))
}

/// Like [`decode_response`] for a response of any API, chosen at run time.
pub fn decode_response_kind(
    api_key: ApiKey,
    version: i16,
    frame: Bytes,
) -> Result<(i32, ResponseKind), ProtocolError> {
    check_version(api_key, version, supported_versions(api_key))?;
    read_response(api_key, version, frame, |buf, v| {
        ResponseKind::decode(api_key, buf, wire_version(api_key, v))
    })
}

fn read_response<T, E: std::fmt::Display>(
    api_key: ApiKey,
    version: i16,
    frame: Bytes,
    decode_body: impl FnOnce(&mut Bytes, i16) -> Result<T, E>,
) -> Result<(i32, T), ProtocolError> {
    let mut buf = frame;
    let header_version = api_key.response_header_version(version);
    let header =
        ResponseHeader::decode(&mut buf, header_version).map_err(|e| ProtocolError::Decode {
            api_key,
            version,
            reason: format!("response header v{header_version}: {e:#}"),
        })?;
    let body_version = if api_key == ApiKey::ApiVersions
        && version > 0
        && buf.first_chunk::<2>().map(|b| i16::from_be_bytes(*b)) == Some(UNSUPPORTED_VERSION)
    {
        0
    } else {
        version
    };
    let decode_err = |reason: String| ProtocolError::Decode {
        api_key,
        version: body_version,
        reason,
    };
    shape::check(Direction::Response, api_key as i16, body_version, &buf).map_err(decode_err)?;
    let body = decode_body(&mut buf, body_version).map_err(|e| decode_err(format!("{e:#}")))?;
    reject_trailing(&buf, decode_err)?;
    Ok((header.correlation_id, body))
}

fn reject_trailing(
    rest: &Bytes,
    err: impl Fn(String) -> ProtocolError,
) -> Result<(), ProtocolError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(err(format!("{} bytes left after the body", rest.len())))
    }
}

/// Writes a tagged-field section holding the given (unknown, passed-through) fields.
pub(crate) fn encode_tagged_fields(
    dst: &mut BytesMut,
    fields: &std::collections::BTreeMap<i32, Bytes>,
) {
    put_unsigned_varint(dst, fields.len() as u32);
    for (tag, value) in fields {
        put_unsigned_varint(dst, *tag as u32);
        put_unsigned_varint(dst, value.len() as u32);
        dst.put_slice(value);
    }
}

pub(crate) fn put_unsigned_varint(dst: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        dst.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    dst.put_u8(v as u8);
}
