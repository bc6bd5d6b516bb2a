//! Request frames as a list of byte chunks, so a Produce request's record batches go to the
//! socket without being copied.
//!
//! `kafka-protocol` encodes a `Bytes` field by copying it into the output buffer. For a Produce
//! request that is every record batch, after the producer already built it: with 1 KiB records
//! the copy (and the connection's buffered-writer copy after it) was ~40 % of the client's
//! instructions. [`EncodeRequest::encode_frame`] instead writes the request's own fields into one
//! small buffer and leaves each batch as a chunk of its own, pointing at the producer's `Bytes`;
//! the connection hands the chunks to a vectored write. Every other request is encoded into one
//! buffer as before (one chunk).
//!
//! The chunks concatenated are byte for byte what [`encode_request`] writes (checked against it
//! for every Produce version below, and by the golden fixtures of the Java client's frames).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::ProduceRequest;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message};

use super::ProtocolError;
use super::codec::{
    Response, check_version, encode_request, encode_tagged_fields, put_unsigned_varint,
    write_request_header,
};
use super::frame::SIZE_PREFIX_LEN;

/// Record batches shorter than this are copied into the request's own buffer: for them a copy
/// costs less than one more entry in the write's I/O vector (and keeps that vector short when a
/// request carries many small partitions, e.g. `linger.ms=0`).
const INLINE_RECORDS_BELOW: usize = 512;

/// A whole request frame (size prefix included) as chunks to be written in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFrame {
    chunks: Vec<Bytes>,
}

impl RequestFrame {
    /// The chunks, in wire order; none is empty.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// Takes the chunks out (for a writer that advances through them).
    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }

    /// Total length in bytes, size prefix included.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    /// True for a frame with no bytes (never produced by the encoders here).
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The frame as one contiguous buffer (copies when there is more than one chunk; for tests
    /// and for callers that need the bytes in one piece).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut out = BytesMut::with_capacity(self.len());
                for chunk in many {
                    out.put_slice(chunk);
                }
                out.freeze()
            }
        }
    }
}

impl From<BytesMut> for RequestFrame {
    fn from(frame: BytesMut) -> Self {
        RequestFrame {
            chunks: if frame.is_empty() {
                Vec::new()
            } else {
                vec![frame.freeze()]
            },
        }
    }
}

/// A request the client can send: its API key and response type, and how it turns into a
/// [`RequestFrame`]. Implemented in `codec` for the whole API table, encoded into one buffer unless
/// the type has a chunked encoder of its own (Produce). kafka-protocol's own `Request` trait
/// exists only when its broker half is compiled too, so the client ties requests to responses
/// here.
pub trait EncodeRequest: Message + Encodable + HeaderVersion + Sized {
    /// The API this request belongs to.
    const API_KEY: ApiKey;
    /// The response the broker answers with.
    type Response: Response + Decodable;

    /// Encodes the whole frame; the API key and version written are `Self::API_KEY` and
    /// `version`, and only the correlation id and client id of `header` are used (as
    /// [`encode_request`]).
    fn encode_frame(
        &self,
        header: &RequestHeader,
        version: i16,
    ) -> Result<RequestFrame, ProtocolError> {
        encode_request(header, self, version).map(RequestFrame::from)
    }
}

/// The layout of a Produce request (v3–v13), written field by field with the record batches
/// left out as chunks of their own.
pub(crate) fn encode_produce(
    header: &RequestHeader,
    body: &ProduceRequest,
    version: i16,
) -> Result<RequestFrame, ProtocolError> {
    let api_key = ApiKey::Produce;
    check_version(api_key, version, ProduceRequest::VERSIONS)?;
    let err = |reason: String| ProtocolError::Encode {
        api_key,
        version,
        reason,
    };
    let flexible = version >= 9;
    let partitions: usize = body.topic_data.iter().map(|t| t.partition_data.len()).sum();
    let mut head = BytesMut::with_capacity(128 + 32 * body.topic_data.len() + 16 * partitions);
    head.put_i32(0); // size prefix, filled in below
    write_request_header(&mut head, api_key, version, header)?;
    // Where each spliced batch goes: (offset in `head`, batch).
    let mut splices: Vec<(usize, &Bytes)> = Vec::with_capacity(partitions);
    let mut spliced_len = 0usize;

    let transactional_id = body.transactional_id.as_ref().map(|id| id.as_bytes());
    put_string(&mut head, flexible, transactional_id).map_err(err)?;
    head.put_i16(body.acks);
    head.put_i32(body.timeout_ms);
    put_array_len(&mut head, flexible, body.topic_data.len()).map_err(err)?;
    for topic in &body.topic_data {
        if version <= 12 {
            put_string(&mut head, flexible, Some(topic.name.as_bytes())).map_err(err)?;
        } else {
            head.put_slice(topic.topic_id.as_bytes());
        }
        put_array_len(&mut head, flexible, topic.partition_data.len()).map_err(err)?;
        for partition in &topic.partition_data {
            head.put_i32(partition.index);
            match &partition.records {
                None if flexible => put_unsigned_varint(&mut head, 0),
                None => head.put_i32(-1),
                Some(records) => {
                    if flexible {
                        let len = u32::try_from(records.len())
                            .ok()
                            .and_then(|n| n.checked_add(1))
                            .ok_or_else(|| err(format!("records of {} bytes", records.len())))?;
                        put_unsigned_varint(&mut head, len);
                    } else {
                        let len = i32::try_from(records.len())
                            .map_err(|_| err(format!("records of {} bytes", records.len())))?;
                        head.put_i32(len);
                    }
                    if records.len() < INLINE_RECORDS_BELOW {
                        head.put_slice(records);
                    } else {
                        splices.push((head.len(), records));
                        spliced_len += records.len();
                    }
                }
            }
            if flexible {
                encode_tagged_fields(&mut head, &partition.unknown_tagged_fields);
            }
        }
        if flexible {
            encode_tagged_fields(&mut head, &topic.unknown_tagged_fields);
        }
    }
    if flexible {
        encode_tagged_fields(&mut head, &body.unknown_tagged_fields);
    }

    let body_len = head.len() - SIZE_PREFIX_LEN + spliced_len;
    let size = i32::try_from(body_len).map_err(|_| err(format!("frame of {body_len} bytes")))?;
    head[..SIZE_PREFIX_LEN].copy_from_slice(&size.to_be_bytes());

    // Cut the buffer at the splice points (cheap: the pieces share its allocation).
    let mut rest = head.freeze();
    let mut chunks = Vec::with_capacity(2 * splices.len() + 1);
    let mut cut = 0;
    for (at, records) in splices {
        if at > cut {
            chunks.push(rest.split_to(at - cut));
            cut = at;
        }
        chunks.push(records.clone());
    }
    if !rest.is_empty() {
        chunks.push(rest);
    }
    Ok(RequestFrame { chunks })
}

/// A nullable string: compact (unsigned varint length + 1, 0 for null) in flexible versions,
/// else an i16 length (-1 for null).
fn put_string(dst: &mut BytesMut, flexible: bool, s: Option<&[u8]>) -> Result<(), String> {
    match s {
        None if flexible => put_unsigned_varint(dst, 0),
        None => dst.put_i16(-1),
        Some(s) => {
            if flexible {
                let len = u32::try_from(s.len())
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or_else(|| format!("string of {} bytes", s.len()))?;
                put_unsigned_varint(dst, len);
            } else {
                let len =
                    i16::try_from(s.len()).map_err(|_| format!("string of {} bytes", s.len()))?;
                dst.put_i16(len);
            }
            dst.put_slice(s);
        }
    }
    Ok(())
}

fn put_array_len(dst: &mut BytesMut, flexible: bool, len: usize) -> Result<(), String> {
    if flexible {
        let n = u32::try_from(len)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| format!("array of {len} entries"))?;
        put_unsigned_varint(dst, n);
    } else {
        let n = i32::try_from(len).map_err(|_| format!("array of {len} entries"))?;
        dst.put_i32(n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{MetadataRequest, TopicName, TransactionalId};
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    fn header() -> RequestHeader {
        let mut h = RequestHeader::default()
            .with_correlation_id(0x0102_0304)
            .with_client_id(Some(StrBytes::from_static_str("chunks")));
        h.unknown_tagged_fields
            .insert(3, Bytes::from_static(b"header-tag"));
        h
    }

    fn tags(value: &'static [u8]) -> BTreeMap<i32, Bytes> {
        BTreeMap::from([
            (1, Bytes::from_static(value)),
            (300, Bytes::from_static(b"t")),
        ])
    }

    fn partition(index: i32, records: Option<Vec<u8>>) -> PartitionProduceData {
        PartitionProduceData::default()
            .with_index(index)
            .with_records(records.map(Bytes::from))
    }

    /// Requests covering every field shape: null and set transactional id, several topics and
    /// partitions, null, empty, inlined and spliced record batches, tagged fields everywhere.
    fn requests(flexible: bool) -> Vec<ProduceRequest> {
        let big = |n: usize, fill: u8| Some(vec![fill; n]);
        let mut topic_a = TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("topic-a")))
            .with_topic_id(uuid::Uuid::from_bytes([7; 16]))
            .with_partition_data(vec![
                partition(0, big(INLINE_RECORDS_BELOW, 1)),
                partition(1, None),
                partition(2, Some(Vec::new())),
                partition(3, big(INLINE_RECORDS_BELOW - 1, 2)),
                partition(4, big(70_000, 3)),
            ]);
        let mut topic_b = TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("b")))
            .with_partition_data(vec![partition(7, big(200_000, 4))]);
        let mut with_id = ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("txn-1"))))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![topic_a.clone(), topic_b.clone()]);
        if flexible {
            topic_a.partition_data[4].unknown_tagged_fields = tags(b"partition");
            topic_a.unknown_tagged_fields = tags(b"topic");
            topic_b.partition_data[0].unknown_tagged_fields = tags(b"p");
            with_id.topic_data = vec![topic_a.clone(), topic_b.clone()];
            with_id.unknown_tagged_fields = tags(b"request");
        }
        vec![
            ProduceRequest::default(),
            ProduceRequest::default()
                .with_acks(1)
                .with_timeout_ms(5)
                .with_topic_data(vec![topic_b]),
            with_id,
            ProduceRequest::default().with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("only-small")))
                    .with_partition_data(vec![partition(0, big(10, 9))]),
            ]),
        ]
    }

    #[test]
    fn produce_chunks_concatenate_to_the_one_buffer_encoding() {
        for version in 3..=13 {
            for (i, request) in requests(version >= 9).iter().enumerate() {
                let expected = encode_request(&header(), request, version)
                    .unwrap()
                    .freeze();
                let frame = request.encode_frame(&header(), version).unwrap();
                assert!(frame.chunks().iter().all(|c| !c.is_empty()));
                assert_eq!(frame.len(), expected.len(), "v{version} request {i}");
                assert_eq!(frame.to_bytes(), expected, "v{version} request {i}");
            }
        }
    }

    #[test]
    fn large_batches_are_referenced_not_copied() {
        let request = &requests(true)[2];
        let frame = request.encode_frame(&header(), 11).unwrap();
        let batches: Vec<&Bytes> = request
            .topic_data
            .iter()
            .flat_map(|t| &t.partition_data)
            .filter_map(|p| p.records.as_ref())
            .filter(|r| r.len() >= INLINE_RECORDS_BELOW)
            .collect();
        assert_eq!(batches.len(), 3);
        for batch in batches {
            assert!(
                frame
                    .chunks()
                    .iter()
                    .any(|c| c.as_ptr() == batch.as_ptr() && c.len() == batch.len()),
                "a batch of {} bytes was copied",
                batch.len()
            );
        }
        // Small batches and the request's fields share the head buffer: 3 spliced batches
        // between 4 pieces of it.
        assert_eq!(frame.chunks().len(), 7);
    }

    #[test]
    fn produce_versions_and_sizes_are_checked() {
        let request = &requests(false)[1];
        for version in [2, 14] {
            assert!(matches!(
                request.encode_frame(&header(), version),
                Err(ProtocolError::UnsupportedVersion { version: v, .. }) if v == version
            ));
        }
        let long_id = "x".repeat(i16::MAX as usize + 1);
        let bad = request
            .clone()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_string(long_id))));
        assert!(matches!(
            bad.encode_frame(&header(), 8),
            Err(ProtocolError::Encode { .. })
        ));
    }

    #[test]
    fn other_requests_are_one_chunk() {
        let request = MetadataRequest::default();
        let frame = request.encode_frame(&header(), 12).unwrap();
        assert_eq!(frame.chunks().len(), 1);
        assert_eq!(
            frame.to_bytes(),
            encode_request(&header(), &request, 12).unwrap().freeze()
        );
    }
}
