//! Arbitrary frame bodies through the broker's request decoder: no panic, no abort.
//!
//! Known failure (found by this target): kafka-protocol 0.18 sizes `Vec::with_capacity` from
//! array counts read off the wire, so a 35-byte Produce request can ask for a 16 GB allocation.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use odradek::protocol::codec::decode_request;

fuzz_target!(|data: &[u8]| {
    let _ = decode_request(Bytes::copy_from_slice(data));
});
