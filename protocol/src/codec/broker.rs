//! The broker's half of the codec: request frames in, response frames out.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::extensions;
use super::{
    Response, api_key_of, check_version, peek_request_preamble, response_kind_key,
    supported_versions, wire_version,
};

/// The versions of an API the broker's half decodes and encodes: [`supported_versions`] plus
/// the hand-written extensions above it (`extensions.rs`: ShareFetch and ShareAcknowledge v2).
pub fn broker_versions(api_key: ApiKey) -> kafka_protocol::protocol::VersionRange {
    let mut range = supported_versions(api_key);
    range.max = extensions::extended_max(api_key, range.max);
    range
}
use crate::ProtocolError;
use crate::frame::{begin_frame, finish_frame};
use crate::shape::{self, Direction};

/// Decodes a request frame body (no size prefix): header, then the body for its API and version.
///
/// Unknown API keys and versions outside what `kafka-protocol` knows are reported as such (use
/// [`peek_request_preamble`] to answer them). Trailing bytes after the body are ignored, as
/// Kafka's request parser does: librdkafka 2.16 sends Metadata v13 with bytes beyond the schema.
pub fn decode_request(frame: Bytes) -> Result<(RequestHeader, RequestKind), ProtocolError> {
    let preamble = peek_request_preamble(&frame).ok_or(ProtocolError::Truncated {
        what: "request header",
        needed: 8,
        available: frame.len(),
    })?;
    let api_key = api_key_of(preamble.api_key)?;
    let version = preamble.api_version;
    check_version(api_key, version, broker_versions(api_key))?;
    let decode_err = |reason: String| ProtocolError::Decode {
        api_key,
        version,
        reason,
    };
    let mut buf = frame;
    let header_version = api_key.request_header_version(version);
    let header = if header_version == 0 {
        buf.advance(8);
        RequestHeader::default()
            .with_request_api_key(preamble.api_key)
            .with_request_api_version(version)
            .with_correlation_id(preamble.correlation_id)
            .with_client_id(None)
    } else {
        RequestHeader::decode(&mut buf, header_version)
            .map_err(|e| decode_err(format!("request header v{header_version}: {e:#}")))?
    };
    // Bounds every count and length before kafka-protocol allocates from them (see shape.rs).
    let mut wire = wire_version(api_key, version);
    shape::check(Direction::Request, preamble.api_key, wire, &buf).map_err(decode_err)?;
    if let Some(base) = extensions::base_version(api_key, version) {
        buf = extensions::strip_request(api_key, buf).map_err(decode_err)?;
        wire = base;
    }
    let body =
        RequestKind::decode(api_key, &mut buf, wire).map_err(|e| decode_err(format!("{e:#}")))?;
    Ok((header, body))
}

/// Encodes a whole response frame, size prefix included, for a broker.
///
/// `body` must be the response of `api_key` (checked). The header version follows the API version, except
/// for ApiVersions, whose responses always carry header v0 so that a client can read them before
/// it knows which versions the broker speaks.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Bytes, ProtocolError> {
    check_version(api_key, version, broker_versions(api_key))?;
    let encode_err = |reason: String| ProtocolError::Encode {
        api_key,
        version,
        reason,
    };
    if response_kind_key(body) != Some(api_key) {
        return Err(encode_err(format!(
            "the body is a {:?} response",
            response_kind_key(body)
        )));
    }
    let mut dst = BytesMut::with_capacity(64);
    let at = begin_frame(&mut dst);
    encode_response_header(&mut dst, api_key, version, correlation_id);
    if let Some(base) = extensions::base_version(api_key, version) {
        let start = dst.len();
        let (body, lock_timeout) = match extensions::take_lock_timeout(body) {
            Some((b, ms)) => (std::borrow::Cow::Owned(b), ms),
            None => (std::borrow::Cow::Borrowed(body), 0),
        };
        body.encode(&mut dst, base)
            .map_err(|e| encode_err(format!("{e:#}")))?;
        extensions::extend_response(api_key, &mut dst, start, lock_timeout).map_err(encode_err)?;
    } else {
        body.encode(&mut dst, wire_version(api_key, version))
            .map_err(|e| encode_err(format!("{e:#}")))?;
    }
    finish_frame(&mut dst, at).map_err(|len| encode_err(format!("frame of {len} bytes")))?;
    Ok(dst.freeze())
}

/// Like [`encode_response`] for a concrete response type.
pub fn encode_response_message<R: Response + Encodable>(
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, ProtocolError> {
    let api_key = R::API_KEY;
    check_version(api_key, version, R::VERSIONS)?;
    let encode_err = |reason: String| ProtocolError::Encode {
        api_key,
        version,
        reason,
    };
    let mut dst = BytesMut::with_capacity(64);
    let at = begin_frame(&mut dst);
    encode_response_header(&mut dst, api_key, version, correlation_id);
    body.encode(&mut dst, version)
        .map_err(|e| encode_err(format!("{e:#}")))?;
    finish_frame(&mut dst, at).map_err(|len| encode_err(format!("frame of {len} bytes")))?;
    Ok(dst.freeze())
}

fn encode_response_header(dst: &mut BytesMut, api_key: ApiKey, version: i16, correlation_id: i32) {
    dst.put_i32(correlation_id);
    // kafka-protocol already maps ApiVersions to header v0 at every version.
    if api_key.response_header_version(version) >= 1 {
        dst.put_u8(0); // no tagged fields
    }
}
