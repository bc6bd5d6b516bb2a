//! Golden conversations: every request and response of real client sessions (librdkafka 2.16's
//! AdminClient, producer and consumer, the Java client 4.3.1's producer and consumer, against
//! Apache Kafka 4.3.1), captured by tools/golden/capture_kafka.py (see fixtures/README.md). Each
//! request decodes with `protocol::codec` and re-encodes byte for byte (up to bytes past the
//! body, which Kafka ignores); so does each response; the records that went through Kafka decode
//! to the logical records; and the versions we negotiate from Kafka's real ApiVersions answer are
//! the ones we expect.

mod golden_common;

use bytes::{Bytes, BytesMut};
use golden_common::{assert_logical, fixtures_dir, int};
use odradek_protocol::codec::{
    decode_request, decode_response, decode_response_kind, encode_request_kind, encode_response,
    peek_request_preamble, supported_versions,
};
use odradek_protocol::frame::FrameDecoder;
use odradek_protocol::messages::ApiVersionsResponse;
use odradek_protocol::records::{Record, RecordBatches};
use odradek_protocol::versions::{ApiVersionMap, CLIENT_SUPPORTED};
use odradek_protocol::{ApiKey, ProtocolError, RequestKind, ResponseKind};
use serde_json::Value;

const SESSIONS: [&str; 4] = ["admin", "librdkafka", "java", "api-versions"];

struct Exchange {
    ctx: String,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<String>,
    request: Bytes,
    response: Option<Bytes>,
}

impl Exchange {
    fn supported(&self) -> bool {
        let ours = supported_versions(self.api_key);
        (ours.min..=ours.max).contains(&self.version)
    }
}

fn exchanges(session: &str) -> Vec<Exchange> {
    let dir = fixtures_dir().join("conversations").join(session);
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let read = |name: &Value| Bytes::from(std::fs::read(dir.join(name.as_str().unwrap())).unwrap());
    index["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Exchange {
            ctx: format!("{session}/{}", e["request"].as_str().unwrap()),
            api_key: ApiKey::try_from(int(&e["api_key"]) as i16).unwrap(),
            version: int(&e["api_version"]) as i16,
            correlation_id: int(&e["correlation_id"]) as i32,
            client_id: e["client_id"].as_str().map(str::to_owned),
            request: read(&e["request"]),
            response: (!e["response"].is_null()).then(|| read(&e["response"])),
        })
        .collect()
}

fn all_exchanges() -> Vec<Exchange> {
    SESSIONS.iter().flat_map(|s| exchanges(s)).collect()
}

/// The frame body, after checking the size prefix covers exactly the rest.
fn body(frame: &Bytes) -> Bytes {
    let mut buf = BytesMut::from(&frame[..]);
    let body = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty());
    body.freeze()
}

#[test]
fn every_captured_request_decodes_and_re_encodes_byte_for_byte() {
    let all = all_exchanges();
    let mut decoded = 0;
    let mut too_new = Vec::new();
    let mut trailing = Vec::new();
    for e in &all {
        let frame = body(&e.request);
        if !e.supported() {
            // Newer than kafka-protocol 0.18 handles (a broker built on it must not advertise it).
            assert!(e.version > supported_versions(e.api_key).max, "{}", e.ctx);
            match decode_request(frame.clone()) {
                Err(ProtocolError::UnsupportedVersion { api_key, version }) => {
                    assert_eq!((api_key, version), (e.api_key, e.version), "{}", e.ctx);
                }
                other => panic!("{}: expected UnsupportedVersion, got {other:?}", e.ctx),
            }
            let preamble = peek_request_preamble(&frame).unwrap();
            assert_eq!(preamble.correlation_id, e.correlation_id, "{}", e.ctx);
            too_new.push((e.api_key, e.version));
            continue;
        }
        let (header, kind) = decode_request(frame).unwrap_or_else(|err| panic!("{}: {err}", e.ctx));
        assert_eq!(header.request_api_key, e.api_key as i16, "{}", e.ctx);
        assert_eq!(header.request_api_version, e.version, "{}", e.ctx);
        assert_eq!(header.correlation_id, e.correlation_id, "{}", e.ctx);
        assert_eq!(
            header.client_id.as_deref(),
            e.client_id.as_deref(),
            "{}",
            e.ctx
        );
        let again = encode_request_kind(&header, &kind).unwrap();
        let (again_body, captured_body) = (&again[4..], &e.request[4..]);
        assert_eq!(
            again_body,
            &captured_body[..again_body.len().min(captured_body.len())],
            "{}: re-encoded request differs",
            e.ctx
        );
        if captured_body.len() != again_body.len() {
            let extra = captured_body.len() - again_body.len();
            trailing.push((e.api_key, e.version, e.client_id.clone(), extra));
        }
        decoded += 1;
    }
    assert!(decoded >= 35, "only {decoded} requests decoded");
    // Kafka ignores bytes after a request body, and librdkafka 2.16's AdminClient relies on it:
    // its Metadata v13 requests carry 3 bytes beyond the schema. Nothing else has any.
    assert!(
        !trailing.is_empty(),
        "the librdkafka AdminClient quirk is no longer captured"
    );
    for t in &trailing {
        assert_eq!(
            t,
            &(ApiKey::Metadata, 13, Some("golden-admin".to_string()), 3)
        );
    }
    assert!(too_new.contains(&(ApiKey::ApiVersions, 9)), "{too_new:?}");
    // The APIs both clients need for a produce/consume session are all covered.
    for api in [
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::InitProducerId,
        ApiKey::Produce,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::OffsetFetch,
        ApiKey::Fetch,
        ApiKey::OffsetCommit,
        ApiKey::ConsumerGroupHeartbeat,
    ] {
        assert!(
            all.iter().any(|e| e.api_key == api && e.supported()),
            "no captured {api:?} exchange"
        );
    }
}

#[test]
fn every_captured_response_decodes_and_re_encodes_byte_for_byte() {
    let mut decoded = 0;
    for e in all_exchanges().iter().filter(|e| e.supported()) {
        let Some(response) = &e.response else {
            continue;
        };
        let (correlation_id, kind) = decode_response_kind(e.api_key, e.version, body(response))
            .unwrap_or_else(|err| panic!("{} response: {err}", e.ctx));
        assert_eq!(correlation_id, e.correlation_id, "{}", e.ctx);
        let again = encode_response(e.api_key, e.version, correlation_id, &kind).unwrap();
        assert_eq!(
            &again[..],
            &response[..],
            "{}: re-encoded response differs",
            e.ctx
        );
        decoded += 1;
    }
    assert!(decoded >= 30, "only {decoded} responses decoded");
}

/// Kafka answers an ApiVersions request at a version it does not know with a v0 body carrying
/// UNSUPPORTED_VERSION and its ranges; a client that asked with our highest version reads it.
#[test]
fn kafkas_answer_to_an_unknown_api_versions_version_is_read_as_v0() {
    let e = exchanges("api-versions")
        .into_iter()
        .find(|e| e.version == 9)
        .unwrap();
    let response = body(e.response.as_ref().unwrap());
    let (correlation_id, answer) = decode_response::<ApiVersionsResponse>(response, 4).unwrap();
    assert_eq!(correlation_id, e.correlation_id);
    assert_eq!(answer.error_code, 35, "UNSUPPORTED_VERSION");
    let own = answer
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
        .expect("the answer lists ApiVersions itself");
    assert_eq!((own.min_version, own.max_version), (0, 4));
}

#[test]
fn negotiation_against_kafka_4_3_picks_our_maxima() {
    let e = exchanges("java")
        .into_iter()
        .find(|e| e.api_key == ApiKey::ApiVersions)
        .unwrap();
    let (_, theirs) =
        decode_response::<ApiVersionsResponse>(body(e.response.as_ref().unwrap()), e.version)
            .unwrap();
    let map = ApiVersionMap::negotiate(CLIENT_SUPPORTED, &theirs);
    // Kafka 4.3.1 speaks every API the client table lists, at least up to our maximum.
    for &(api_key, _, max) in CLIENT_SUPPORTED {
        assert_eq!(map.version(api_key), Some(max), "{api_key:?}");
    }
}

fn decode_blob(blob: Bytes, ctx: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for batch in RecordBatches::new(blob) {
        let batch = batch.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        for record in batch.records().unwrap_or_else(|e| panic!("{ctx}: {e}")) {
            out.push(record.unwrap_or_else(|e| panic!("{ctx}: {e}")));
        }
    }
    out
}

#[test]
fn records_produced_and_fetched_through_kafka_are_the_logical_records() {
    let mut produced = 0;
    let mut fetched = 0;
    for e in all_exchanges().iter().filter(|e| e.supported()) {
        if e.api_key == ApiKey::Produce {
            let (_, RequestKind::Produce(request)) = decode_request(body(&e.request)).unwrap()
            else {
                unreachable!()
            };
            for topic in &request.topic_data {
                for p in &topic.partition_data {
                    let blob = p.records.clone().unwrap();
                    assert_logical(&decode_blob(blob, &e.ctx), &e.ctx);
                    produced += 1;
                }
            }
        }
        if e.api_key == ApiKey::Fetch
            && let Some(response) = &e.response
        {
            let (_, ResponseKind::Fetch(fetch)) =
                decode_response_kind(e.api_key, e.version, body(response)).unwrap()
            else {
                unreachable!()
            };
            for topic in &fetch.responses {
                for p in &topic.partitions {
                    let Some(blob) = p.records.clone().filter(|b| !b.is_empty()) else {
                        continue;
                    };
                    assert_logical(&decode_blob(blob, &e.ctx), &e.ctx);
                    fetched += 1;
                }
            }
        }
    }
    assert!(
        produced >= 2 && fetched >= 2,
        "produced {produced}, fetched {fetched}"
    );
}

/// Hostile counts and lengths anywhere in real frames: each 4-byte window set to i32::MAX and
/// each byte set to 0xff. Decoding must return (an error or a value), never abort on a huge
/// allocation or panic.
#[test]
fn hostile_counts_anywhere_in_captured_frames_never_abort() {
    let mut rejected = 0;
    for e in all_exchanges().iter().filter(|e| e.supported()) {
        let mut frames = vec![(true, body(&e.request))];
        if let Some(response) = &e.response {
            frames.push((false, body(response)));
        }
        for (is_request, frame) in frames {
            for pos in 0..frame.len() {
                let mut variants = vec![frame.to_vec()];
                variants[0][pos] = 0xff;
                if pos + 4 <= frame.len() {
                    let mut v = frame.to_vec();
                    v[pos..pos + 4].copy_from_slice(&i32::MAX.to_be_bytes());
                    variants.push(v);
                }
                for v in variants {
                    let failed = if is_request {
                        decode_request(Bytes::from(v)).is_err()
                    } else {
                        decode_response_kind(e.api_key, e.version, Bytes::from(v)).is_err()
                    };
                    rejected += usize::from(failed);
                }
            }
        }
    }
    assert!(rejected > 1000, "only {rejected} corruptions rejected");
}
