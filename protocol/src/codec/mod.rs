//! Request and response framing around the `kafka-protocol` message structs: which header
//! version goes with which API version, the size prefix, and the two Kafka special cases
//! (ApiVersions responses always carry header v0; an ApiVersions request at a version the broker
//! does not know is answered with a v0 body).
//!
//! The codec has two halves, each behind the matching cargo feature: module `client` (feature
//! `client`: encode requests, decode responses) and module `broker` (feature `broker`: decode
//! requests, encode responses); their functions are re-exported here.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::{HeaderVersion, Message, VersionRange};

#[cfg(any(feature = "client", feature = "broker"))]
use super::ProtocolError;

#[cfg(feature = "broker")]
pub mod broker;
#[cfg(feature = "broker")]
mod extensions;
#[cfg(feature = "broker")]
pub use extensions::set_acknowledge_lock_timeout;
#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "broker")]
pub use broker::{broker_versions, decode_request, encode_response, encode_response_message};
#[cfg(feature = "client")]
pub use client::{decode_response, decode_response_kind, encode_request, encode_request_kind};
#[cfg(feature = "client")]
pub(crate) use client::{encode_tagged_fields, put_unsigned_varint, write_request_header};

/// A response message type, tied to its API key (the `kafka-protocol` crate ties only requests).
pub trait Response: Message + HeaderVersion {
    /// The API this is a response of.
    const API_KEY: ApiKey;
}

macro_rules! apis {
    ($($key:ident => $request:ident, $response:ident $(, $chunked:ident)?;)*) => {
        $(impl Response for $response { const API_KEY: ApiKey = ApiKey::$key; })*
        #[cfg(feature = "client")]
        const _: () = { $(apis!(@encode_request $key $request $response $($chunked)?);)* };

        /// The versions of an API whose request and response `kafka-protocol` can both encode and
        /// decode.
        fn codec_versions(api_key: ApiKey) -> VersionRange {
            match api_key {
                $(ApiKey::$key => $request::VERSIONS.intersect(&$response::VERSIONS),)*
            }
        }

        /// The API a request body belongs to.
        #[cfg(feature = "client")]
        fn request_kind_key(body: &RequestKind) -> Option<ApiKey> {
            match body {
                $(RequestKind::$key(_) => Some(ApiKey::$key),)*
                #[allow(unreachable_patterns)] // RequestKind is non_exhaustive
                _ => None,
            }
        }

        /// The API a response body belongs to.
        #[cfg(feature = "broker")]
        fn response_kind_key(body: &ResponseKind) -> Option<ApiKey> {
            match body {
                $(ResponseKind::$key(_) => Some(ApiKey::$key),)*
                #[allow(unreachable_patterns)] // ResponseKind is non_exhaustive
                _ => None,
            }
        }

        /// The default request and response of an API, encoded at `version` (test support for
        /// checking the wire shapes against kafka-protocol's encoder).
        #[cfg(all(test, feature = "client", feature = "broker"))]
        pub(crate) fn encode_defaults(api_key: ApiKey, version: i16) -> (bytes::BytesMut, bytes::BytesMut) {
            use kafka_protocol::protocol::Encodable;
            let mut request = bytes::BytesMut::new();
            let mut response = bytes::BytesMut::new();
            match api_key {
                $(ApiKey::$key => {
                    $request::default().encode(&mut request, version).unwrap();
                    $response::default().encode(&mut response, version).unwrap();
                })*
            }
            (request, response)
        }
    };
    // One buffer per request (the trait's default); Produce has a chunked encoder of its own in
    // request_frame.rs (the only API marked `chunked`).
    (@encode_request $key:ident $request:ident $response:ident) => {
        impl crate::EncodeRequest for $request {
            const API_KEY: ApiKey = ApiKey::$key;
            type Response = $response;
        }
    };
    (@encode_request $key:ident $request:ident $response:ident chunked) => {
        impl crate::EncodeRequest for $request {
            const API_KEY: ApiKey = ApiKey::$key;
            type Response = $response;
            fn encode_frame(
                &self,
                header: &RequestHeader,
                version: i16,
            ) -> Result<crate::RequestFrame, crate::ProtocolError> {
                crate::request_frame::encode_produce(header, self, version)
            }
        }
    };
}

/// The versions of an API the codec encodes and decodes: those whose request and response
/// `kafka-protocol` both handle, and the [`WIRE_ALIASES`] above them. Narrower than
/// [`ApiKey::valid_versions`] for some APIs in kafka-protocol 0.18 (OffsetFetch and OffsetCommit
/// v10, InitProducerId v6 exist only as responses), so this, not `valid_versions`, is what a
/// broker may advertise and what the codec accepts.
pub fn supported_versions(api_key: ApiKey) -> VersionRange {
    let mut range = codec_versions(api_key);
    for &(key, version, same_as) in WIRE_ALIASES {
        if key == api_key && same_as == range.max && version == same_as + 1 {
            range.max = version;
        }
    }
    range
}

/// Versions Kafka added for a change of meaning only, with the schema of the version before,
/// which `kafka-protocol` 0.18 does not list: (API, version, the version whose wire format it
/// has). ListOffsets v11 (KIP-1023: the earliest-pending-upload timestamp -6) is v10's schema in
/// Apache Kafka 4.3.1, request and response alike. Hand-written because the crate stops at 10.
const WIRE_ALIASES: &[(ApiKey, i16, i16)] = &[(ApiKey::ListOffsets, 11, 10)];

/// The version whose schema `version` of `api_key` is written in.
pub(crate) fn wire_version(api_key: ApiKey, version: i16) -> i16 {
    WIRE_ALIASES
        .iter()
        .find(|&&(key, v, _)| key == api_key && v == version)
        .map_or(version, |&(_, _, same_as)| same_as)
}

apis! {
    Produce => ProduceRequest, ProduceResponse, chunked;
    Fetch => FetchRequest, FetchResponse;
    ListOffsets => ListOffsetsRequest, ListOffsetsResponse;
    Metadata => MetadataRequest, MetadataResponse;
    OffsetCommit => OffsetCommitRequest, OffsetCommitResponse;
    OffsetFetch => OffsetFetchRequest, OffsetFetchResponse;
    FindCoordinator => FindCoordinatorRequest, FindCoordinatorResponse;
    JoinGroup => JoinGroupRequest, JoinGroupResponse;
    Heartbeat => HeartbeatRequest, HeartbeatResponse;
    LeaveGroup => LeaveGroupRequest, LeaveGroupResponse;
    SyncGroup => SyncGroupRequest, SyncGroupResponse;
    DescribeGroups => DescribeGroupsRequest, DescribeGroupsResponse;
    ListGroups => ListGroupsRequest, ListGroupsResponse;
    SaslHandshake => SaslHandshakeRequest, SaslHandshakeResponse;
    ApiVersions => ApiVersionsRequest, ApiVersionsResponse;
    CreateTopics => CreateTopicsRequest, CreateTopicsResponse;
    DeleteTopics => DeleteTopicsRequest, DeleteTopicsResponse;
    DeleteRecords => DeleteRecordsRequest, DeleteRecordsResponse;
    InitProducerId => InitProducerIdRequest, InitProducerIdResponse;
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
    AddPartitionsToTxn => AddPartitionsToTxnRequest, AddPartitionsToTxnResponse;
    AddOffsetsToTxn => AddOffsetsToTxnRequest, AddOffsetsToTxnResponse;
    EndTxn => EndTxnRequest, EndTxnResponse;
    WriteTxnMarkers => WriteTxnMarkersRequest, WriteTxnMarkersResponse;
    TxnOffsetCommit => TxnOffsetCommitRequest, TxnOffsetCommitResponse;
    DescribeAcls => DescribeAclsRequest, DescribeAclsResponse;
    CreateAcls => CreateAclsRequest, CreateAclsResponse;
    DeleteAcls => DeleteAclsRequest, DeleteAclsResponse;
    DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
    AlterConfigs => AlterConfigsRequest, AlterConfigsResponse;
    AlterReplicaLogDirs => AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse;
    DescribeLogDirs => DescribeLogDirsRequest, DescribeLogDirsResponse;
    SaslAuthenticate => SaslAuthenticateRequest, SaslAuthenticateResponse;
    CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
    CreateDelegationToken => CreateDelegationTokenRequest, CreateDelegationTokenResponse;
    RenewDelegationToken => RenewDelegationTokenRequest, RenewDelegationTokenResponse;
    ExpireDelegationToken => ExpireDelegationTokenRequest, ExpireDelegationTokenResponse;
    DescribeDelegationToken => DescribeDelegationTokenRequest, DescribeDelegationTokenResponse;
    DeleteGroups => DeleteGroupsRequest, DeleteGroupsResponse;
    ElectLeaders => ElectLeadersRequest, ElectLeadersResponse;
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
    AlterPartitionReassignments => AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse;
    ListPartitionReassignments => ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse;
    OffsetDelete => OffsetDeleteRequest, OffsetDeleteResponse;
    DescribeClientQuotas => DescribeClientQuotasRequest, DescribeClientQuotasResponse;
    AlterClientQuotas => AlterClientQuotasRequest, AlterClientQuotasResponse;
    DescribeUserScramCredentials => DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse;
    AlterUserScramCredentials => AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse;
    Vote => VoteRequest, VoteResponse;
    BeginQuorumEpoch => BeginQuorumEpochRequest, BeginQuorumEpochResponse;
    EndQuorumEpoch => EndQuorumEpochRequest, EndQuorumEpochResponse;
    DescribeQuorum => DescribeQuorumRequest, DescribeQuorumResponse;
    AlterPartition => AlterPartitionRequest, AlterPartitionResponse;
    UpdateFeatures => UpdateFeaturesRequest, UpdateFeaturesResponse;
    Envelope => EnvelopeRequest, EnvelopeResponse;
    FetchSnapshot => FetchSnapshotRequest, FetchSnapshotResponse;
    DescribeCluster => DescribeClusterRequest, DescribeClusterResponse;
    DescribeProducers => DescribeProducersRequest, DescribeProducersResponse;
    BrokerRegistration => BrokerRegistrationRequest, BrokerRegistrationResponse;
    BrokerHeartbeat => BrokerHeartbeatRequest, BrokerHeartbeatResponse;
    UnregisterBroker => UnregisterBrokerRequest, UnregisterBrokerResponse;
    DescribeTransactions => DescribeTransactionsRequest, DescribeTransactionsResponse;
    ListTransactions => ListTransactionsRequest, ListTransactionsResponse;
    AllocateProducerIds => AllocateProducerIdsRequest, AllocateProducerIdsResponse;
    ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse;
    ConsumerGroupDescribe => ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse;
    ControllerRegistration => ControllerRegistrationRequest, ControllerRegistrationResponse;
    GetTelemetrySubscriptions => GetTelemetrySubscriptionsRequest, GetTelemetrySubscriptionsResponse;
    PushTelemetry => PushTelemetryRequest, PushTelemetryResponse;
    AssignReplicasToDirs => AssignReplicasToDirsRequest, AssignReplicasToDirsResponse;
    ListConfigResources => ListConfigResourcesRequest, ListConfigResourcesResponse;
    DescribeTopicPartitions => DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse;
    ShareGroupHeartbeat => ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse;
    ShareGroupDescribe => ShareGroupDescribeRequest, ShareGroupDescribeResponse;
    ShareFetch => ShareFetchRequest, ShareFetchResponse;
    ShareAcknowledge => ShareAcknowledgeRequest, ShareAcknowledgeResponse;
    AddRaftVoter => AddRaftVoterRequest, AddRaftVoterResponse;
    RemoveRaftVoter => RemoveRaftVoterRequest, RemoveRaftVoterResponse;
    UpdateRaftVoter => UpdateRaftVoterRequest, UpdateRaftVoterResponse;
    InitializeShareGroupState => InitializeShareGroupStateRequest, InitializeShareGroupStateResponse;
    ReadShareGroupState => ReadShareGroupStateRequest, ReadShareGroupStateResponse;
    WriteShareGroupState => WriteShareGroupStateRequest, WriteShareGroupStateResponse;
    DeleteShareGroupState => DeleteShareGroupStateRequest, DeleteShareGroupStateResponse;
    ReadShareGroupStateSummary => ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse;
    DescribeShareGroupOffsets => DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse;
    AlterShareGroupOffsets => AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse;
    DeleteShareGroupOffsets => DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse;
}

/// The fixed start of every request header, readable even when the rest does not decode, so a
/// broker can answer an unknown API or version with an error carrying the right correlation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPreamble {
    /// The raw API key (may be one this library does not know).
    pub api_key: i16,
    /// The version of that API the client sent.
    pub api_version: i16,
    /// The id the client matches the response by; echoed in every response, errors included.
    pub correlation_id: i32,
}

/// Reads the api key, version and correlation id off the front of a request frame body.
pub fn peek_request_preamble(frame: &[u8]) -> Option<RequestPreamble> {
    let b = frame.first_chunk::<8>()?;
    Some(RequestPreamble {
        api_key: i16::from_be_bytes([b[0], b[1]]),
        api_version: i16::from_be_bytes([b[2], b[3]]),
        correlation_id: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    })
}

/// The correlation id of a response frame body (as returned by
/// [`FrameDecoder::decode`](super::frame::FrameDecoder::decode)): every response header starts
/// with it, so a client can find the waiting request before it knows how to decode the body.
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    frame.first_chunk::<4>().map(|b| i32::from_be_bytes(*b))
}

#[cfg(any(feature = "client", feature = "broker"))]
pub(crate) fn api_key_of(key: i16) -> Result<ApiKey, ProtocolError> {
    ApiKey::try_from(key).map_err(|()| ProtocolError::UnknownApiKey(key))
}

#[cfg(any(feature = "client", feature = "broker"))]
pub(crate) fn check_version(
    api_key: ApiKey,
    version: i16,
    range: VersionRange,
) -> Result<(), ProtocolError> {
    if version < range.min || version > range.max {
        return Err(ProtocolError::UnsupportedVersion { api_key, version });
    }
    Ok(())
}

#[cfg(all(test, feature = "client", feature = "broker"))]
mod tests {
    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::client::UNSUPPORTED_VERSION;

    use super::*;
    use crate::frame::FrameDecoder;

    fn header(correlation_id: i32) -> RequestHeader {
        RequestHeader::default()
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("odradek-test")))
    }

    fn produce(records: &'static [u8]) -> ProduceRequest {
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(2)
                            .with_records(Some(Bytes::from_static(records))),
                    ]),
            ])
    }

    /// Strips the size prefix after checking it matches the frame length.
    fn body_of(frame: BytesMut) -> Bytes {
        let mut buf = frame;
        let total = buf.len();
        let body = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(body.len() + 4, total);
        assert!(buf.is_empty());
        body.freeze()
    }

    #[test]
    fn requests_round_trip_across_header_versions() {
        // Produce v3..=8 use header v1, v9+ header v2 (flexible, tagged fields).
        for version in [3, 8, 9, 11] {
            let mut h = header(7 + i32::from(version));
            if version >= 9 {
                h.unknown_tagged_fields
                    .insert(5, Bytes::from_static(b"tag"));
            }
            let body = produce(b"records-bytes");
            let frame = body_of(encode_request(&h, &body, version).unwrap());

            // Same bytes as kafka-protocol's own header encoder followed by the body.
            let mut expected = BytesMut::new();
            let full = h
                .clone()
                .with_request_api_key(ApiKey::Produce as i16)
                .with_request_api_version(version);
            kafka_protocol::protocol::encode_request_header_into_buffer(&mut expected, &full)
                .unwrap();
            body.encode(&mut expected, version).unwrap();
            assert_eq!(frame, expected.freeze(), "Produce v{version}");

            let (got_header, got_body) = decode_request(frame).unwrap();
            assert_eq!(got_header, full);
            assert_eq!(got_body, RequestKind::Produce(body));
        }
    }

    #[test]
    fn kind_variants_match_the_typed_functions() {
        let body = produce(b"records");
        let h = header(5)
            .with_request_api_key(ApiKey::Produce as i16)
            .with_request_api_version(9);
        let typed = encode_request(&h, &body, 9).unwrap();
        let kind = encode_request_kind(&h, &RequestKind::Produce(body)).unwrap();
        assert_eq!(typed, kind);
        let bad = h.clone().with_request_api_version(2);
        assert!(matches!(
            encode_request_kind(&bad, &RequestKind::Produce(produce(b""))),
            Err(ProtocolError::UnsupportedVersion { version: 2, .. })
        ));

        let resp = MetadataResponse::default().with_throttle_time_ms(9);
        let frame = encode_response_message(12, 77, &resp).unwrap().slice(4..);
        let (corr, got) = decode_response_kind(ApiKey::Metadata, 12, frame).unwrap();
        assert_eq!((corr, got), (77, ResponseKind::Metadata(resp)));

        let v0 = ApiVersionsResponse::default().with_error_code(UNSUPPORTED_VERSION);
        let frame = encode_response_message(0, 3, &v0).unwrap().slice(4..);
        let (_, got) = decode_response_kind(ApiKey::ApiVersions, 4, frame).unwrap();
        assert_eq!(got, ResponseKind::ApiVersions(v0));
    }

    #[test]
    fn supported_versions_are_where_request_and_response_both_exist() {
        let mut narrower = Vec::new();
        for api_key in ApiKey::iter() {
            let ours = codec_versions(api_key);
            let valid = api_key.valid_versions();
            assert!(!ours.is_empty(), "{api_key:?}");
            assert!(
                valid.min <= ours.min && ours.max <= valid.max,
                "{api_key:?}"
            );
            if ours != valid {
                narrower.push((api_key, ours.max, valid.max));
            }
        }
        // kafka-protocol 0.18 lists these versions for the API but only has the response struct.
        assert_eq!(
            narrower,
            vec![
                (ApiKey::OffsetCommit, 9, 10),
                (ApiKey::OffsetFetch, 9, 10),
                (ApiKey::InitProducerId, 5, 6),
            ]
        );
        // Wire aliases extend the codec's range above kafka-protocol's.
        let list_offsets = supported_versions(ApiKey::ListOffsets);
        assert_eq!((list_offsets.min, list_offsets.max), (1, 11));
        assert_eq!(wire_version(ApiKey::ListOffsets, 11), 10);
        assert_eq!(wire_version(ApiKey::ListOffsets, 10), 10);
        // Such a request is reported as an unsupported version, not as undecodable bytes.
        let mut raw = BytesMut::new();
        raw.put_i16(ApiKey::OffsetFetch as i16);
        raw.put_i16(10);
        raw.put_i32(4);
        raw.put_i16(-1);
        raw.put_u8(0);
        assert!(matches!(
            decode_request(raw.freeze()),
            Err(ProtocolError::UnsupportedVersion {
                api_key: ApiKey::OffsetFetch,
                version: 10
            })
        ));
    }

    #[test]
    fn hostile_array_counts_are_a_decode_error_not_an_abort() {
        // Metadata v0 claiming i32::MAX topics: kafka-protocol alone would try to reserve
        // ~150 GB for them and abort the process.
        let frame =
            Bytes::from_static(&[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
        match decode_request(frame) {
            Err(ProtocolError::Decode {
                api_key: ApiKey::Metadata,
                version: 0,
                reason,
            }) => assert!(reason.contains("array count of 2147483647"), "{reason}"),
            other => panic!("expected Decode, got {other:?}"),
        }
        // The same for a response: a Metadata v12 answer claiming u32::MAX - 2 brokers.
        let mut raw = BytesMut::new();
        raw.put_i32(1); // correlation id
        raw.put_u8(0); // header tagged fields
        raw.put_i32(0); // throttle time
        raw.put_slice(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            decode_response::<MetadataResponse>(raw.freeze(), 12),
            Err(ProtocolError::Decode { .. })
        ));
    }

    #[test]
    fn a_body_of_another_api_is_an_encode_error() {
        let h = header(1)
            .with_request_api_key(ApiKey::Metadata as i16)
            .with_request_api_version(12);
        assert!(matches!(
            encode_request_kind(&h, &RequestKind::Produce(produce(b""))),
            Err(ProtocolError::Encode {
                api_key: ApiKey::Metadata,
                ..
            })
        ));
        let body = ResponseKind::Produce(ProduceResponse::default());
        assert!(matches!(
            encode_response(ApiKey::Metadata, 12, 1, &body),
            Err(ProtocolError::Encode {
                api_key: ApiKey::Metadata,
                ..
            })
        ));
    }

    #[test]
    fn null_client_id_round_trips() {
        let h = RequestHeader::default()
            .with_correlation_id(1)
            .with_client_id(None);
        let req = MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("a")))),
        ]));
        let frame = body_of(encode_request(&h, &req, 12).unwrap());
        let (got, body) = decode_request(frame).unwrap();
        assert_eq!(got.client_id, None);
        assert_eq!(got.request_api_key, ApiKey::Metadata as i16);
        assert_eq!(body, RequestKind::Metadata(req));
    }

    #[test]
    fn responses_round_trip_with_the_right_header_version() {
        let resp = MetadataResponse::default().with_throttle_time_ms(3);
        for version in [4, 8, 9, 12] {
            let frame = encode_response(
                ApiKey::Metadata,
                version,
                42,
                &ResponseKind::Metadata(resp.clone()),
            )
            .unwrap();
            let generic = encode_response_message(version, 42, &resp).unwrap();
            assert_eq!(frame, generic);
            let mut buf = BytesMut::from(&frame[..]);
            let body = FrameDecoder::default()
                .decode(&mut buf)
                .unwrap()
                .unwrap()
                .freeze();
            // Header v1 (Metadata v9+) has an empty tagged-field section after the id.
            let header_len = if version >= 9 { 5 } else { 4 };
            let mut expected = BytesMut::new();
            resp.encode(&mut expected, version).unwrap();
            assert_eq!(&body[header_len..], &expected[..]);
            assert_eq!(peek_correlation_id(&body), Some(42));
            let (corr, got) = decode_response::<MetadataResponse>(body, version).unwrap();
            assert_eq!((corr, got), (42, resp.clone()));
        }
    }

    #[test]
    fn api_versions_responses_always_use_header_v0() {
        let resp = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(0)
                .with_min_version(3)
                .with_max_version(13),
        ]);
        let frame = encode_response(
            ApiKey::ApiVersions,
            3,
            9,
            &ResponseKind::ApiVersions(resp.clone()),
        )
        .unwrap();
        let body = frame.slice(4..);
        // Correlation id, then directly the body's error code (no tagged-field byte).
        assert_eq!(&body[..6], &[0, 0, 0, 9, 0, 0]);
        let mut expected = BytesMut::new();
        resp.encode(&mut expected, 3).unwrap();
        assert_eq!(&body[4..], &expected[..]);
        let (corr, got) = decode_response::<ApiVersionsResponse>(body, 3).unwrap();
        assert_eq!((corr, got), (9, resp));
    }

    #[test]
    fn api_versions_unsupported_version_answer_is_read_as_v0() {
        // A broker that does not know ApiVersions v4 answers with a v0 body and error 35.
        let v0 = ApiVersionsResponse::default()
            .with_error_code(UNSUPPORTED_VERSION)
            .with_api_keys(vec![
                ApiVersion::default()
                    .with_api_key(18)
                    .with_min_version(0)
                    .with_max_version(2),
            ]);
        let frame = encode_response_message(0, 5, &v0).unwrap();
        let (corr, got) = decode_response::<ApiVersionsResponse>(frame.slice(4..), 4).unwrap();
        assert_eq!((corr, got), (5, v0));
    }

    #[test]
    fn unknown_api_key_and_unsupported_versions_are_named() {
        let mut raw = BytesMut::new();
        raw.put_i16(1000);
        raw.put_i16(0);
        raw.put_i32(77);
        raw.put_i16(-1);
        let frame = raw.freeze();
        assert!(matches!(
            decode_request(frame.clone()),
            Err(ProtocolError::UnknownApiKey(1000))
        ));
        assert_eq!(
            peek_request_preamble(&frame),
            Some(RequestPreamble {
                api_key: 1000,
                api_version: 0,
                correlation_id: 77
            })
        );

        let mut raw = BytesMut::new();
        raw.put_i16(ApiKey::Produce as i16);
        raw.put_i16(2); // Produce v0-v2 were removed in Kafka 4
        raw.put_i32(1);
        raw.put_i16(-1);
        match decode_request(raw.freeze()) {
            Err(ProtocolError::UnsupportedVersion {
                api_key: ApiKey::Produce,
                version: 2,
            }) => {}
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
        assert!(matches!(
            encode_request(&header(1), &produce(b""), 99),
            Err(ProtocolError::UnsupportedVersion { version: 99, .. })
        ));
        assert!(matches!(
            decode_response::<ProduceResponse>(Bytes::from_static(&[0; 8]), -1),
            Err(ProtocolError::UnsupportedVersion { version: -1, .. })
        ));
    }

    #[test]
    fn every_truncation_of_a_request_or_response_is_an_error() {
        for version in [3, 9, 11] {
            let mut h = header(3);
            h.unknown_tagged_fields.insert(1, Bytes::from_static(b"x"));
            let frame = body_of(encode_request(&h, &produce(b"0123456789"), version).unwrap());
            for cut in 0..frame.len() {
                match decode_request(frame.slice(..cut)) {
                    Err(ProtocolError::Truncated { .. } | ProtocolError::Decode { .. }) => {}
                    other => panic!("Produce v{version} cut at {cut}: {other:?}"),
                }
            }
        }
        let resp =
            MetadataResponse::default().with_cluster_id(Some(StrBytes::from_static_str("c")));
        for version in [4, 12] {
            let frame = encode_response_message(version, 1, &resp)
                .unwrap()
                .slice(4..);
            for cut in 0..frame.len() {
                assert!(
                    decode_response::<MetadataResponse>(frame.slice(..cut), version).is_err(),
                    "Metadata v{version} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn trailing_request_bytes_are_ignored_like_kafka() {
        let frame = body_of(encode_request(&header(1), &produce(b"r"), 9).unwrap());
        let mut longer = BytesMut::from(&frame[..]);
        longer.put_u8(0);
        let (h, body) = decode_request(longer.freeze()).unwrap();
        assert_eq!(h.correlation_id, 1);
        assert!(matches!(body, RequestKind::Produce(_)));
    }

    #[test]
    fn peeks_need_enough_bytes() {
        assert_eq!(peek_correlation_id(&[0, 0, 1]), None);
        assert_eq!(peek_correlation_id(&[0, 0, 1, 2, 9]), Some(258));
        assert_eq!(peek_request_preamble(&[0; 7]), None);
        assert!(matches!(
            decode_request(Bytes::from_static(&[0, 3, 0])),
            Err(ProtocolError::Truncated {
                needed: 8,
                available: 3,
                ..
            })
        ));
    }
}
