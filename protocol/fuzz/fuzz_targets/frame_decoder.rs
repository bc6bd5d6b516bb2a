//! Arbitrary bytes, delivered in arbitrary chunk sizes, through the frame decoder: no panic, no
//! frame above the maximum, and every byte accounted for.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use odradek_protocol::frame::{FrameDecoder, SIZE_PREFIX_LEN};

fuzz_target!(|data: &[u8]| {
    let [max_selector, chunk_selector, stream @ ..] = data else {
        return;
    };
    let max_frame_bytes = *max_selector as usize * 16;
    let chunk = (*chunk_selector as usize).max(1);
    let mut decoder = FrameDecoder::new(max_frame_bytes);
    let mut buf = BytesMut::new();
    let mut framed = 0usize;
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max_frame_bytes);
                    framed += SIZE_PREFIX_LEN + frame.len();
                }
                Ok(None) => break,
                // The connection would be closed here.
                Err(_) => return,
            }
        }
    }
    assert_eq!(framed + buf.len(), stream.len());
});
