//! Hostile and malformed input: each bad connection gets Kafka's error or is closed, and the
//! broker keeps serving a well-behaved client throughout.

mod common;

use bytes::{BufMut, BytesMut};
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;
use kafka_protocol::records::Compression;

/// The good client still gets metadata (and its connection was never disturbed).
async fn still_serving(good: &mut Client) {
    let resp = good.call(MetadataRequest::default(), 12).await;
    assert_eq!(resp.brokers.len(), 1);
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[tokio::test]
async fn malformed_frames_close_only_their_connection() {
    let b = start().await;
    let addr = b.handle.local_addr();
    let mut good = Client::connect(addr).await;
    still_serving(&mut good).await;

    // A frame claiming 2 GiB: refused before any allocation, connection closed.
    let mut c = Client::connect(addr).await;
    c.send_raw(&0x7fff_ffffi32.to_be_bytes()).await;
    assert!(c.closed_by_peer().await, "2 GiB frame");
    still_serving(&mut good).await;

    // A negative size.
    let mut c = Client::connect(addr).await;
    c.send_raw(&(-5i32).to_be_bytes()).await;
    assert!(c.closed_by_peer().await, "negative size");
    still_serving(&mut good).await;

    // A truncated frame, then the peer goes away mid-frame.
    let mut c = Client::connect(addr).await;
    c.send_raw(&100i32.to_be_bytes()).await;
    c.send_raw(&[0, 18, 0, 3, 0, 0]).await;
    drop(c);
    still_serving(&mut good).await;

    // A frame too short to hold a request header.
    let mut c = Client::connect(addr).await;
    c.send_raw(&frame(&[0, 18, 0])).await;
    assert!(c.closed_by_peer().await, "short header");
    still_serving(&mut good).await;

    // Garbage after a valid preamble (Metadata v12 with a nonsense body).
    let mut c = Client::connect(addr).await;
    let mut body = vec![0, 3, 0, 12, 0, 0, 0, 7];
    body.extend_from_slice(&[0xff; 40]);
    c.send_raw(&frame(&body)).await;
    assert!(c.closed_by_peer().await, "garbage body");
    still_serving(&mut good).await;

    // An unknown API key.
    let mut c = Client::connect(addr).await;
    c.send_raw(&frame(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff]))
        .await;
    assert!(c.closed_by_peer().await, "unknown API key");
    still_serving(&mut good).await;

    // A known API at a version we do not implement (Produce v1, removed in Kafka 4).
    let mut c = Client::connect(addr).await;
    c.send_raw(&frame(&[
        0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ]))
    .await;
    assert!(c.closed_by_peer().await, "unsupported version");
    still_serving(&mut good).await;

    // A hostile array count: Produce v9 whose topic array claims u32::MAX - 1 entries
    // (kafka-protocol would size a Vec from it and abort the process).
    let mut c = Client::connect(addr).await;
    let mut body = BytesMut::new();
    body.put_slice(&[0, 0, 0, 9, 0, 0, 0, 9, 0xff, 0xff, 0]); // header v2, null client id, no tags
    body.put_u8(0); // transactional id: null (compact)
    body.put_i16(1); // acks
    body.put_i32(1000); // timeout
    body.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // compact array length varint = u32::MAX
    c.send_raw(&frame(&body)).await;
    assert!(c.closed_by_peer().await, "hostile count");
    still_serving(&mut good).await;

    // The same in a nested array of a non-flexible version: Metadata v1 with 2^31-1 topics.
    let mut c = Client::connect(addr).await;
    let mut body = BytesMut::new();
    body.put_slice(&[0, 3, 0, 1, 0, 0, 0, 10, 0xff, 0xff]);
    body.put_i32(i32::MAX);
    c.send_raw(&frame(&body)).await;
    assert!(c.closed_by_peer().await, "hostile count, non-flexible");
    still_serving(&mut good).await;
    b.handle.shutdown().await;
}

#[tokio::test]
async fn api_versions_at_an_unknown_version_gets_v0_with_the_error() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    // ApiVersions v99, header v2 (client id + empty tags), body unknown to us.
    let body = [
        0u8, 18, 0, 99, 0, 0, 0, 42, 0, 4, b't', b'e', b's', b't', 0, 1, 2, 3,
    ];
    c.send_raw(&frame(&body)).await;
    let mut resp = c.read_frame().await.expect("a response");
    let h = ResponseHeader::decode(&mut resp, 0).unwrap();
    assert_eq!(h.correlation_id, 42);
    let r = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(r.error_code, 35, "UNSUPPORTED_VERSION");
    let produce = r
        .api_keys
        .iter()
        .find(|k| k.api_key == 0)
        .expect("Produce listed");
    // Advertised from v0 as Kafka 4 does (for librdkafka's compression check); v0-2 are refused.
    assert_eq!((produce.min_version, produce.max_version), (0, 13));
    // The connection stays usable.
    let ok = c.call(ApiVersionsRequest::default(), 3).await;
    assert_eq!(ok.error_code, 0);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn corrupted_crc_gets_corrupt_message() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "crc", 1, &[]).await, 0);
    let good = batch(&["payload"], None, None, Compression::None);
    let mut bad = BytesMut::from(&good[..]);
    let last = bad.len() - 2;
    bad[last] ^= 0x55;
    let (e, _) = produce(&mut c, "crc", 0, bad.freeze(), 1).await;
    assert_eq!(e, 2, "CORRUPT_MESSAGE");
    // Truncated batch inside a well-formed request.
    let (e, _) = produce(&mut c, "crc", 0, good.slice(..good.len() - 3), 1).await;
    assert_eq!(e, 2, "CORRUPT_MESSAGE for a truncated batch");
    // Nothing was stored, and the same connection still works.
    assert_eq!(list_offset(&mut c, "crc", 0, -1).await.1, 0);
    assert_eq!(produce(&mut c, "crc", 0, good, 1).await, (0, 0));
    b.handle.shutdown().await;
}
