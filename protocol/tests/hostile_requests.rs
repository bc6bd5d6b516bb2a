//! Inputs the fuzzers once crashed on stay errors: a request whose array counts claim more
//! elements than the frame has bytes must be refused before anything is allocated for them.

use bytes::Bytes;
use odradek_protocol::codec::decode_request;

#[test]
fn produce_with_a_huge_array_count_is_an_error_not_an_abort() {
    // Found by protocol/fuzz's request_decoder: a 26-byte Produce body whose array count made
    // kafka-protocol 0.18 reserve about 16 GB before the count was checked.
    let frame = include_bytes!("fixtures/hostile/produce-huge-array-count.bin");
    let err = decode_request(Bytes::from_static(frame)).expect_err("hostile Produce must fail");
    assert!(!err.to_string().is_empty());
}
