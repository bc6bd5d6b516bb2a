//! Arbitrary bytes as a records blob: iterate batches (lenient and strict) and every record,
//! skipping the CRC check so the fuzzer reaches the record and decompression parsers.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use odradek_protocol::compression::Compression;
use odradek_protocol::records::RecordBatches;

fuzz_target!(|data: &[u8]| {
    let blob = Bytes::copy_from_slice(data);
    for batch in RecordBatches::strict(blob.clone()) {
        let Ok(batch) = batch else { break };
        let _ = batch.verify_crc();
        let _ = batch.control_record();
    }
    let mut seen = 0usize;
    for batch in RecordBatches::new(blob) {
        let Ok(batch) = batch else { break };
        assert_eq!(batch.bytes.len(), batch.header.total_len());
        seen += batch.bytes.len();
        let Ok(records) = batch.records_unverified() else {
            continue;
        };
        for record in records {
            let Ok(record) = record else { break };
            // Uncompressed records are slices of the batch, so they cannot be longer than it.
            if batch.header.compression() == Compression::None {
                let len = |b: Option<Bytes>| b.map_or(0, |b| b.len());
                assert!(len(record.key) + len(record.value) <= batch.bytes.len());
            }
        }
    }
    assert!(seen <= data.len());
});
