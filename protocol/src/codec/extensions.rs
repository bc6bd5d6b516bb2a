//! Versions newer than `kafka-protocol` 0.18 decodes whose wire format differs from the version
//! before only by fixed-size fields at the top level of the message: the broker decodes the
//! request after cutting those fields out, and encodes the response at the older version with
//! the new fields put in. Hand-written because the crate stops at the older version; remove an
//! entry when the crate learns it.
//!
//! - ShareFetch v2 (Apache Kafka 4.2, KIP-1206/KIP-1222): the request adds `ShareAcquireMode`
//!   (int8) and `IsRenewAck` (bool) after `BatchSize`; the response is v1's.
//! - ShareAcknowledge v2: the request adds `IsRenewAck` (bool) after `ShareSessionEpoch`; the
//!   response adds `AcquisitionLockTimeoutMs` (int32) after `ErrorMessage`.
//!
//! The dropped request fields only say whether renew acknowledgements (type 4) may appear, which
//! the acknowledgement types themselves show, and whether records may exceed `MaxRecords` to
//! keep whole batches, which a broker that never exceeds it satisfies either way.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;

/// (API, version, the version `kafka-protocol` decodes it as).
const EXTENSIONS: &[(ApiKey, i16, i16)] =
    &[(ApiKey::ShareFetch, 2, 1), (ApiKey::ShareAcknowledge, 2, 1)];

/// The version `kafka-protocol` handles for `version` of `api_key` on the broker's side.
pub(crate) fn base_version(api_key: ApiKey, version: i16) -> Option<i16> {
    EXTENSIONS
        .iter()
        .find(|&&(k, v, _)| k == api_key && v == version)
        .map(|&(_, _, base)| base)
}

/// The highest extended version of `api_key` above `max`, if any.
pub(crate) fn extended_max(api_key: ApiKey, max: i16) -> i16 {
    EXTENSIONS
        .iter()
        .filter(|&&(k, _, base)| k == api_key && base <= max)
        .map(|&(_, v, _)| v)
        .fold(max, i16::max)
}

/// Where the top-level fields an extension adds start in a request body, and how many bytes
/// they take.
fn request_fields(api_key: ApiKey, body: &[u8]) -> Result<(usize, usize), String> {
    // Both start with two compact nullable strings (group id, member id).
    let mut at = skip_compact_string(body, 0)?;
    at = skip_compact_string(body, at)?;
    match api_key {
        // ShareSessionEpoch, MaxWaitMs, MinBytes, MaxBytes, MaxRecords, BatchSize.
        ApiKey::ShareFetch => Ok((at + 6 * 4, 2)),
        // ShareSessionEpoch.
        ApiKey::ShareAcknowledge => Ok((at + 4, 1)),
        other => Err(format!("no wire extension for {other:?}")),
    }
}

/// The request body written at the base version: the extension's fields cut out.
pub(crate) fn strip_request(api_key: ApiKey, body: Bytes) -> Result<Bytes, String> {
    let (at, len) = request_fields(api_key, &body)?;
    if body.len() < at + len {
        return Err(format!(
            "truncated: {} bytes, the v2 fields end at byte {}",
            body.len(),
            at + len
        ));
    }
    let mut out = BytesMut::with_capacity(body.len() - len);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(&body[at + len..]);
    Ok(out.freeze())
}

/// Puts the response fields of the extension into a body encoded at the base version, which
/// starts at `start` of `dst`. `acquisition_lock_timeout_ms` fills ShareAcknowledge v2's field.
pub(crate) fn extend_response(
    api_key: ApiKey,
    dst: &mut BytesMut,
    start: usize,
    acquisition_lock_timeout_ms: i32,
) -> Result<(), String> {
    match api_key {
        ApiKey::ShareFetch => Ok(()),
        ApiKey::ShareAcknowledge => {
            // ThrottleTimeMs, ErrorCode, then the compact nullable ErrorMessage.
            let at = skip_compact_string(&dst[start..], 6)? + start;
            let tail = dst.split_off(at);
            dst.extend_from_slice(&acquisition_lock_timeout_ms.to_be_bytes());
            dst.unsplit(tail);
            Ok(())
        }
        other => Err(format!("no wire extension for {other:?}")),
    }
}

/// The private tag that carries ShareAcknowledge v2's `AcquisitionLockTimeoutMs` from the
/// broker's handler to the encoder (kafka-protocol's v1 struct has no such field); the encoder
/// removes it before writing, so it never reaches the wire.
const LOCK_TIMEOUT_TAG: i32 = i32::MAX;

/// Sets the `AcquisitionLockTimeoutMs` a ShareAcknowledge v2 response carries.
pub fn set_acknowledge_lock_timeout(
    response: &mut kafka_protocol::messages::ShareAcknowledgeResponse,
    ms: i32,
) {
    response
        .unknown_tagged_fields
        .insert(LOCK_TIMEOUT_TAG, Bytes::copy_from_slice(&ms.to_be_bytes()));
}

/// Takes the carried lock timeout out of a response about to be encoded (0 if none was set).
pub(crate) fn take_lock_timeout(
    body: &kafka_protocol::messages::ResponseKind,
) -> Option<(kafka_protocol::messages::ResponseKind, i32)> {
    let kafka_protocol::messages::ResponseKind::ShareAcknowledge(r) = body else {
        return None;
    };
    let mut r = r.clone();
    let ms = r
        .unknown_tagged_fields
        .remove(&LOCK_TIMEOUT_TAG)
        .and_then(|b| b.first_chunk::<4>().map(|b| i32::from_be_bytes(*b)))
        .unwrap_or(0);
    Some((
        kafka_protocol::messages::ResponseKind::ShareAcknowledge(r),
        ms,
    ))
}

/// The position after a compact (nullable) string starting at `at`.
fn skip_compact_string(buf: &[u8], mut at: usize) -> Result<usize, String> {
    let mut len: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *buf
            .get(at)
            .ok_or_else(|| format!("truncated string length at byte {at}"))?;
        at += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            // Length + 1; 0 is null.
            let n = len.saturating_sub(1) as usize;
            return if at + n <= buf.len() {
                Ok(at + n)
            } else {
                Err(format!(
                    "string of {n} bytes at byte {at} runs past the end"
                ))
            };
        }
    }
    Err(format!("string length varint too long before byte {at}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_fetch_v2_fields_are_cut_after_batch_size() {
        // group "g", member null, six int32s 1..=6, mode 1, renew 0, then the rest.
        let mut v2 = vec![2, b'g', 0];
        for n in 1..=6i32 {
            v2.extend_from_slice(&n.to_be_bytes());
        }
        v2.extend_from_slice(&[1, 0, 0xAA, 0xBB]);
        let v1 = strip_request(ApiKey::ShareFetch, Bytes::from(v2.clone())).unwrap();
        assert_eq!(&v1[..27], &v2[..27]);
        assert_eq!(&v1[27..], &[0xAA, 0xBB]);
        assert!(strip_request(ApiKey::ShareFetch, Bytes::from(vec![2, b'g'])).is_err());
    }

    #[test]
    fn share_acknowledge_v2_response_gets_the_lock_timeout() {
        // throttle 0, error 0, message "x", then the topics array.
        let mut dst = BytesMut::from(&[9u8, 0, 0, 0, 0, 0, 0, 2, b'x', 1, 0][..]);
        extend_response(ApiKey::ShareAcknowledge, &mut dst, 1, 15_000).unwrap();
        let mut want = vec![9u8, 0, 0, 0, 0, 0, 0, 2, b'x'];
        want.extend_from_slice(&15_000i32.to_be_bytes());
        want.extend_from_slice(&[1, 0]);
        assert_eq!(&dst[..], &want[..]);
    }
}
