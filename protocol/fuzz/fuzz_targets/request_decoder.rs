//! Arbitrary frame bodies through the broker's request decoder: no panic, no abort.
//!
//! It once found that kafka-protocol 0.18 sizes `Vec::with_capacity` from array counts read off
//! the wire; `decode_request` now checks counts first, and protocol/tests/hostile_requests.rs keeps
//! that input as a regression test.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use odradek_protocol::codec::decode_request;

fuzz_target!(|data: &[u8]| {
    let _ = decode_request(Bytes::copy_from_slice(data));
});
