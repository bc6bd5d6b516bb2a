use bytes::Bytes;

use super::*;
use crate::compression::Compression;

/// Two records written by kafka-python's pure-Python `DefaultRecordBatchBuilder` (an
/// independent implementation), base offset patched to 5:
/// `(ts 1000, key "k", value "v")`, `(ts 1003, key null, value "hello", headers h1="x", h2=null)`.
const KAFKA_PYTHON_BATCH: &str = concat!(
    "0000000000000005", // base offset 5
    "0000004f",         // batch length 79
    "00000000",         // partition leader epoch 0
    "02",               // magic
    "fc55a5d3",         // crc32c
    "0000",             // attributes
    "00000001",         // last offset delta
    "00000000000003e8", // base timestamp 1000
    "00000000000003eb", // max timestamp 1003
    "ffffffffffffffff", // producer id -1
    "ffff",             // producer epoch -1
    "ffffffff",         // base sequence -1
    "00000002",         // records count
    // record 0: len 8, attrs, ts delta 0, offset delta 0, key len 1 "k", value len 1 "v", 0 headers
    "10",
    "00",
    "00",
    "00",
    "02",
    "6b",
    "02",
    "76",
    "00",
    // record 1: len 20, attrs, ts delta 3, offset delta 1, key null, value len 5 "hello", 2 headers
    "28",
    "00",
    "06",
    "02",
    "01",
    "0a",
    "68656c6c6f",
    "04",
    "04",
    "6831",
    "02",
    "78", // "h1" = "x"
    "04",
    "6832",
    "01", // "h2" = null
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type ReferenceRecord = (
    i64,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    Vec<RecordHeader>,
);

fn reference_records() -> Vec<ReferenceRecord> {
    vec![
        (1000, Some(b"k"), Some(b"v"), vec![]),
        (
            1003,
            None,
            Some(b"hello"),
            vec![
                RecordHeader::new(&b"h1"[..], Some(&b"x"[..])),
                RecordHeader::new(&b"h2"[..], None::<Bytes>),
            ],
        ),
    ]
}

#[test]
fn decodes_a_batch_written_by_another_implementation() {
    let bytes = Bytes::from(unhex(KAFKA_PYTHON_BATCH));
    let batch = RecordBatch::parse(bytes).unwrap();
    let h = batch.header;
    assert_eq!(
        (
            h.base_offset,
            h.batch_length,
            h.partition_leader_epoch,
            h.magic,
            h.crc
        ),
        (5, 79, 0, 2, 0xfc55a5d3)
    );
    assert_eq!(
        (h.last_offset_delta, h.base_timestamp, h.max_timestamp),
        (1, 1000, 1003)
    );
    assert_eq!(
        (
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
            h.records_count
        ),
        (-1, -1, -1, 2)
    );
    assert_eq!(h.compression(), Compression::None);
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
    assert!(!h.is_transactional() && !h.is_control());
    assert_eq!((h.last_offset(), h.total_len()), (6, 91));

    let records: Vec<Record> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 2);
    for (i, (record, (ts, key, value, headers))) in
        records.iter().zip(reference_records()).enumerate()
    {
        assert_eq!(record.offset, 5 + i as i64);
        assert_eq!(record.timestamp, ts);
        assert_eq!(record.key.as_deref(), key);
        assert_eq!(record.value.as_deref(), value);
        assert_eq!(record.headers, headers);
    }
}

#[test]
fn encodes_byte_for_byte_what_another_implementation_writes() {
    let mut builder = RecordBatchBuilder::new(BatchOptions {
        base_offset: 5,
        partition_leader_epoch: 0,
        ..Default::default()
    });
    for (ts, key, value, headers) in reference_records() {
        builder.push(ts, key, value, &headers).unwrap();
    }
    let bytes = builder.finish().unwrap();
    assert_eq!(hex(&bytes), KAFKA_PYTHON_BATCH);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn crc_covers_attributes_to_end_only() {
    let mut bytes = unhex(KAFKA_PYTHON_BATCH);
    verify_crc(&bytes).unwrap();
    // Outside the CRC: base offset and leader epoch are rewritten in place.
    set_base_offset(&mut bytes, 1_000_000).unwrap();
    set_partition_leader_epoch(&mut bytes, 7).unwrap();
    verify_crc(&bytes).unwrap();
    let header = BatchHeader::parse(&bytes).unwrap();
    assert_eq!(
        (header.base_offset, header.partition_leader_epoch),
        (1_000_000, 7)
    );
    let batch = RecordBatch::parse(Bytes::from(bytes.clone())).unwrap();
    let offsets: Vec<i64> = batch
        .records()
        .unwrap()
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(offsets, [1_000_000, 1_000_001]);
    // Inside the CRC: the last byte of the last record.
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = verify_crc(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            RecordsError::CrcMismatch {
                base_offset: 1_000_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("offset 1000000"), "{err}");
    // Also the well-known CRC32C check value, so the crate is the Castagnoli polynomial.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn attribute_bits() {
    for (attributes, codec, ts_type, txn, control, horizon) in [
        (
            0x0000,
            Compression::None,
            TimestampType::CreateTime,
            false,
            false,
            false,
        ),
        (
            0x0001,
            Compression::Gzip,
            TimestampType::CreateTime,
            false,
            false,
            false,
        ),
        (
            0x0002,
            Compression::Snappy,
            TimestampType::CreateTime,
            false,
            false,
            false,
        ),
        (
            0x000b,
            Compression::Lz4,
            TimestampType::LogAppendTime,
            false,
            false,
            false,
        ),
        (
            0x0014,
            Compression::Zstd,
            TimestampType::CreateTime,
            true,
            false,
            false,
        ),
        (
            0x0030,
            Compression::None,
            TimestampType::CreateTime,
            true,
            true,
            false,
        ),
        (
            0x0040,
            Compression::None,
            TimestampType::CreateTime,
            false,
            false,
            true,
        ),
    ] {
        let mut bytes = unhex(KAFKA_PYTHON_BATCH);
        bytes[21..23].copy_from_slice(&(attributes as i16).to_be_bytes());
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(h.compression(), codec);
        assert_eq!(h.timestamp_type(), ts_type);
        assert_eq!(h.is_transactional(), txn);
        assert_eq!(h.is_control(), control);
        assert_eq!(h.has_delete_horizon(), horizon);
        if !horizon {
            assert_eq!(
                BatchHeader::encode_attributes(codec, ts_type, txn, control),
                attributes as i16
            );
        }
    }
    let mut bytes = unhex(KAFKA_PYTHON_BATCH);
    bytes[22] = 5; // codec id 5 does not exist
    let err = BatchHeader::parse(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("offset 5") && err.to_string().contains("codec"),
        "{err}"
    );
}

#[test]
fn log_append_time_gives_every_record_the_max_timestamp() {
    let mut builder = RecordBatchBuilder::new(BatchOptions {
        timestamp_type: TimestampType::LogAppendTime,
        ..Default::default()
    });
    builder.push(10, None, Some(b"a"), &[]).unwrap();
    builder.push(30, None, Some(b"b"), &[]).unwrap();
    builder.push(20, None, Some(b"c"), &[]).unwrap();
    let batch = RecordBatch::parse(builder.finish().unwrap()).unwrap();
    assert_eq!(batch.header.max_timestamp, 30);
    let ts: Vec<i64> = batch
        .records()
        .unwrap()
        .map(|r| r.unwrap().timestamp)
        .collect();
    assert_eq!(ts, [30, 30, 30]);
}

#[test]
fn idempotent_and_transactional_fields_round_trip() {
    let options = BatchOptions {
        compression: Compression::Zstd,
        base_offset: 42,
        producer_id: 9_000_000_001,
        producer_epoch: 3,
        base_sequence: 77,
        is_transactional: true,
        partition_leader_epoch: 12,
        ..Default::default()
    };
    let mut builder = RecordBatchBuilder::new(options);
    for i in 0..3 {
        builder.push(5000 + i, Some(b"key"), None, &[]).unwrap();
    }
    let batch = RecordBatch::parse(builder.finish().unwrap()).unwrap();
    let h = batch.header;
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (9_000_000_001, 3, 77)
    );
    assert_eq!(
        (
            h.partition_leader_epoch,
            h.last_offset_delta,
            h.records_count
        ),
        (12, 2, 3)
    );
    assert!(h.is_transactional() && !h.is_control());
    assert_eq!(h.compression(), Compression::Zstd);
    let records: Vec<Record> = batch.records().unwrap().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r.value.is_none() && r.key.as_deref() == Some(b"key"))
    );
}

#[test]
fn control_batches_carry_transaction_markers() {
    for marker in [
        ControlRecord::Commit {
            coordinator_epoch: 17,
        },
        ControlRecord::Abort {
            coordinator_epoch: -1,
        },
    ] {
        let mut builder = RecordBatchBuilder::new(BatchOptions {
            base_offset: 100,
            producer_id: 1,
            producer_epoch: 0,
            is_transactional: true,
            is_control: true,
            ..Default::default()
        });
        builder.push_control(1234, marker).unwrap();
        let batch = RecordBatch::parse(builder.finish().unwrap()).unwrap();
        assert!(batch.header.is_control());
        let record = batch.records().unwrap().next().unwrap().unwrap();
        // Key: version 0, type (0 abort, 1 commit); value: version 0, coordinator epoch.
        let kind = if matches!(marker, ControlRecord::Commit { .. }) {
            1
        } else {
            0
        };
        assert_eq!(record.key.as_deref(), Some(&[0, 0, 0, kind][..]));
        assert_eq!(record.value.as_deref().map(|v| v.len()), Some(6));
        assert_eq!(batch.control_record().unwrap(), Some(marker));
    }
    // A control type this client does not act on (KRaft leader change = 2).
    let record = Record {
        offset: 0,
        timestamp: 0,
        key: Some(Bytes::from_static(&[0, 0, 0, 2])),
        value: Some(Bytes::from_static(b"whatever")),
        headers: vec![],
    };
    assert_eq!(
        ControlRecord::parse(&record, 0).unwrap(),
        ControlRecord::Other { kind: 2 }
    );
}

fn three_batches() -> Vec<u8> {
    let mut blob = Vec::new();
    for (base, codec) in [
        (0, Compression::None),
        (3, Compression::Gzip),
        (6, Compression::Lz4),
    ] {
        let mut builder = RecordBatchBuilder::new(BatchOptions {
            base_offset: base,
            compression: codec,
            ..Default::default()
        });
        for i in 0..3 {
            builder
                .push(
                    i,
                    Some(b"k"),
                    Some(format!("v{}", base + i).as_bytes()),
                    &[],
                )
                .unwrap();
        }
        builder.finish_into(&mut blob).unwrap();
    }
    blob
}

#[test]
fn iterates_concatenated_batches_and_stops_quietly_at_a_truncated_tail() {
    let blob = three_batches();
    let all: Vec<Record> = RecordBatches::new(Bytes::from(blob.clone()))
        .flat_map(|b| b.unwrap().records().unwrap())
        .map(Result::unwrap)
        .collect();
    let values: Vec<String> = all
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(values, (0..9).map(|i| format!("v{i}")).collect::<Vec<_>>());
    assert_eq!(
        all.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..9).collect::<Vec<_>>()
    );

    // Cutting the blob anywhere inside the last batch leaves exactly two whole batches.
    let last_start = {
        let first = BatchHeader::parse(&blob).unwrap().total_len();
        first + BatchHeader::parse(&blob[first..]).unwrap().total_len()
    };
    for cut in last_start..blob.len() {
        let data = Bytes::copy_from_slice(&blob[..cut]);
        let mut lenient = RecordBatches::new(data.clone());
        let batches: Vec<_> = lenient.by_ref().map(Result::unwrap).collect();
        assert_eq!(batches.len(), 2, "cut at {cut}");
        assert_eq!(lenient.remaining(), cut - last_start);
        let strict: Result<Vec<_>, _> = RecordBatches::strict(data).collect();
        if cut > last_start {
            let err = strict.unwrap_err();
            assert!(matches!(err, RecordsError::Truncated { .. }), "{err}");
            if cut >= last_start + 8 {
                assert_eq!(err.base_offset(), Some(6));
            }
        } else {
            assert_eq!(strict.unwrap().len(), 2);
        }
    }
}

#[test]
fn other_magic_is_an_error_naming_the_offset() {
    let mut blob = three_batches();
    let second = BatchHeader::parse(&blob).unwrap().total_len();
    blob[second + 16] = 1;
    let results: Vec<_> = RecordBatches::new(Bytes::from(blob)).collect();
    assert_eq!(results.len(), 2, "iteration stops after the error");
    let err = results[1].as_ref().unwrap_err();
    assert!(
        matches!(
            err,
            RecordsError::UnsupportedMagic {
                base_offset: 3,
                magic: 1
            }
        ),
        "{err}"
    );
}

/// Builds an uncompressed batch around a hand-written records section, with a valid CRC.
fn batch_with_records_section(records_count: i32, section: &[u8]) -> Bytes {
    let mut bytes = unhex(KAFKA_PYTHON_BATCH)[..BATCH_HEADER_LEN].to_vec();
    bytes.extend_from_slice(section);
    let batch_length = (bytes.len() - LOG_OVERHEAD) as i32;
    bytes[8..12].copy_from_slice(&batch_length.to_be_bytes());
    bytes[57..61].copy_from_slice(&records_count.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(bytes)
}

fn first_error(batch: Bytes) -> RecordsError {
    let batch = RecordBatch::parse(batch).unwrap();
    match batch.records() {
        Err(e) => e,
        Ok(records) => records
            .filter_map(Result::err)
            .next()
            .expect("expected a decoding error"),
    }
}

#[test]
fn hostile_counts_and_lengths_are_errors_without_big_allocations() {
    let one_record = [0x10, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x02, 0x76, 0x00];
    let cases: Vec<(i32, Vec<u8>, &str)> = vec![
        (i32::MAX, one_record.to_vec(), "records count"),
        (-1, one_record.to_vec(), "negative records count"),
        (
            2,
            [&one_record[..], &one_record[..], &one_record[..]].concat(),
            "bytes left after",
        ),
        (
            2,
            [&one_record[..], &[0x10, 0, 0, 0, 0, 0, 0]].concat(),
            "record length",
        ),
        // Key length claims 2^30 bytes.
        (
            1,
            vec![0x10, 0x00, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x08],
            "key length",
        ),
        // Header count claims a billion headers.
        (
            1,
            vec![
                0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x07,
            ],
            "varint in header count",
        ),
        (
            1,
            vec![
                0x14, 0x00, 0x00, 0x00, 0x01, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x07,
            ],
            "header count",
        ),
        // A varint that never ends.
        (
            1,
            vec![0x0e, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            "varint",
        ),
        // Record length says 8 but the fields only use 7.
        (
            1,
            vec![0x10, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x01, 0x00, 0x00],
            "end 1 bytes early",
        ),
        // Header keys cannot be null.
        (
            1,
            vec![0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x00],
            "header key length -1",
        ),
    ];
    for (count, section, expected) in cases {
        let err = first_error(batch_with_records_section(count, &section));
        let text = err.to_string();
        assert!(text.contains("offset 5"), "{text}");
        assert!(text.contains(expected), "expected {expected:?} in {text:?}");
    }
}

#[test]
fn builder_is_reusable_and_estimates_size() {
    let mut builder = RecordBatchBuilder::new(BatchOptions::default());
    assert!(builder.is_empty());
    assert_eq!(builder.estimated_size(), BATCH_HEADER_LEN);
    let upper = RecordBatchBuilder::record_size(Some(b"key"), Some(&[0; 100]), &[]);
    builder.push(1, Some(b"key"), Some(&[0; 100]), &[]).unwrap();
    assert!(builder.estimated_size() - BATCH_HEADER_LEN <= upper);
    let mut out = Vec::new();
    builder.finish_into(&mut out).unwrap();
    assert!(builder.is_empty());
    builder.push(2, None, Some(b"second"), &[]).unwrap();
    builder.finish_into(&mut out).unwrap();
    let batches: Vec<RecordBatch> = RecordBatches::strict(Bytes::from(out))
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches.len(), 2);
    let second = batches[1].records().unwrap().next().unwrap().unwrap();
    assert_eq!(
        (second.timestamp, second.value.as_deref()),
        (2, Some(&b"second"[..]))
    );
}

#[test]
fn empty_batch_encodes_and_decodes() {
    let bytes = RecordBatchBuilder::new(BatchOptions::default())
        .finish()
        .unwrap();
    assert_eq!(bytes.len(), BATCH_HEADER_LEN);
    let batch = RecordBatch::parse(bytes).unwrap();
    assert_eq!(batch.header.records_count, 0);
    assert_eq!(batch.records().unwrap().count(), 0);
}

#[test]
fn borrowed_records_match_owned_ones_and_report_the_same_errors() {
    let batch = RecordBatch::parse(Bytes::from(unhex(KAFKA_PYTHON_BATCH))).unwrap();
    let mut records = batch.records().unwrap();
    let first = records.next_ref().unwrap().unwrap();
    assert_eq!((first.offset, first.timestamp), (5, 1000));
    assert_eq!(
        (first.key, first.value, first.header_count()),
        (Some(&b"k"[..]), Some(&b"v"[..]), 0)
    );
    let second = records.next_ref().unwrap().unwrap();
    assert_eq!((second.key, second.value), (None, Some(&b"hello"[..])));
    let headers: Vec<_> = second.headers().collect();
    assert_eq!(headers, [(&b"h1"[..], Some(&b"x"[..])), (&b"h2"[..], None)]);
    assert!(records.next_ref().is_none());

    let mut broken = records_with_extra_byte();
    let mut seen = 0;
    let err = loop {
        match broken.next_ref().expect("an error before the end") {
            Ok(_) => seen += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(seen, 1);
    assert!(err.to_string().contains("bytes left after"), "{err}");
}

fn records_with_extra_byte() -> Records {
    let one_record = [0x10, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x02, 0x76, 0x00, 0x00];
    RecordBatch::parse(batch_with_records_section(1, &one_record))
        .unwrap()
        .records()
        .unwrap()
}
