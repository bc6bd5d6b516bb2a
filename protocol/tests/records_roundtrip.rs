//! Encode → decode round trips of random records under every codec, and single-byte corruption
//! of encoded batches: always an error naming the batch's base offset, never a panic, never
//! different data.

use bytes::Bytes;
use odradek_protocol::compression::Compression;
use odradek_protocol::records::{
    BatchOptions, Record, RecordBatch, RecordBatchBuilder, RecordBatches, RecordHeader,
    RecordsError, TimestampType,
};
use proptest::prelude::*;

type Field = Option<Vec<u8>>;

#[derive(Debug, Clone)]
struct Input {
    timestamp: i64,
    key: Field,
    value: Field,
    headers: Vec<(Vec<u8>, Field)>,
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        1 => Just(None),
        4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Some),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let headers = proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 0..20), field()),
        0..4,
    );
    (any::<i64>(), field(), field(), headers).prop_map(|(timestamp, key, value, headers)| Input {
        timestamp,
        key,
        value,
        headers,
    })
}

fn options() -> impl Strategy<Value = BatchOptions> {
    (
        0..i64::MAX / 2,
        any::<i64>(),
        any::<i16>(),
        any::<i32>(),
        any::<bool>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(
            |(base_offset, producer_id, producer_epoch, base_sequence, txn, epoch, append)| {
                BatchOptions {
                    base_offset,
                    producer_id,
                    producer_epoch,
                    base_sequence,
                    is_transactional: txn,
                    partition_leader_epoch: epoch,
                    timestamp_type: if append {
                        TimestampType::LogAppendTime
                    } else {
                        TimestampType::CreateTime
                    },
                    ..Default::default()
                }
            },
        )
}

fn headers_of(input: &Input) -> Vec<RecordHeader> {
    input
        .headers
        .iter()
        .map(|(k, v)| RecordHeader {
            key: Bytes::copy_from_slice(k),
            value: v.as_deref().map(Bytes::copy_from_slice),
        })
        .collect()
}

fn encode(options: BatchOptions, inputs: &[Input]) -> Bytes {
    let mut builder = RecordBatchBuilder::new(options);
    for input in inputs {
        builder
            .push(
                input.timestamp,
                input.key.as_deref(),
                input.value.as_deref(),
                &headers_of(input),
            )
            .unwrap();
    }
    builder.finish().unwrap()
}

fn decode(bytes: Bytes) -> Result<(RecordBatch, Vec<Record>), RecordsError> {
    let batch = RecordBatch::parse(bytes)?;
    let records = batch.records()?.collect::<Result<Vec<_>, _>>()?;
    Ok((batch, records))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_codec_round_trips(
        options in options(),
        inputs in proptest::collection::vec(input(), 0..24),
        level_pick in 0..3u8,
    ) {
        for codec in Compression::ALL {
            let (min, max) = codec.level_range();
            let level = match level_pick {
                0 => None,
                1 => Some(min.max(-3)),
                _ => Some(max.min(9)),
            };
            let options = BatchOptions { compression: codec, compression_level: level, ..options };
            let bytes = encode(options, &inputs);
            let (batch, records) = decode(bytes).unwrap();
            let h = batch.header;
            prop_assert_eq!(h.compression(), codec);
            prop_assert_eq!(h.base_offset, options.base_offset);
            prop_assert_eq!(h.producer_id, options.producer_id);
            prop_assert_eq!(h.producer_epoch, options.producer_epoch);
            prop_assert_eq!(h.base_sequence, options.base_sequence);
            prop_assert_eq!(h.partition_leader_epoch, options.partition_leader_epoch);
            prop_assert_eq!(h.is_transactional(), options.is_transactional);
            prop_assert_eq!(h.timestamp_type(), options.timestamp_type);
            prop_assert_eq!(h.records_count as usize, inputs.len());
            prop_assert_eq!(records.len(), inputs.len());
            let max_timestamp = inputs.iter().map(|i| i.timestamp).max();
            for (i, (record, input)) in records.iter().zip(&inputs).enumerate() {
                prop_assert_eq!(record.offset, options.base_offset + i as i64);
                let expected_ts = match options.timestamp_type {
                    TimestampType::CreateTime => input.timestamp,
                    TimestampType::LogAppendTime => max_timestamp.unwrap(),
                };
                prop_assert_eq!(record.timestamp, expected_ts);
                prop_assert_eq!(record.key.as_deref(), input.key.as_deref());
                prop_assert_eq!(record.value.as_deref(), input.value.as_deref());
                prop_assert_eq!(&record.headers, &headers_of(input));
            }
            // The borrowing path sees the same records.
            let mut borrowed = batch.records().unwrap();
            let mut i = 0;
            while let Some(record) = borrowed.next_ref() {
                let record = record.unwrap();
                let owned = &records[i];
                prop_assert_eq!(record.offset, owned.offset);
                prop_assert_eq!(record.timestamp, owned.timestamp);
                prop_assert_eq!(record.key, owned.key.as_deref());
                prop_assert_eq!(record.value, owned.value.as_deref());
                prop_assert_eq!(record.header_count(), owned.headers.len());
                let headers: Vec<RecordHeader> = record
                    .headers()
                    .map(|(k, v)| RecordHeader::new(k.to_vec(), v.map(<[u8]>::to_vec)))
                    .collect();
                prop_assert_eq!(&headers, &owned.headers);
                i += 1;
            }
            prop_assert_eq!(i, records.len());
        }
    }
}

fn sample_inputs() -> Vec<Input> {
    vec![
        Input {
            timestamp: 1_700_000_000_000,
            key: Some(b"key-1".to_vec()),
            value: Some(b"value number one, value number one".to_vec()),
            headers: vec![
                (b"trace".to_vec(), Some(b"abc".to_vec())),
                (b"n".to_vec(), None),
            ],
        },
        Input {
            timestamp: 1_700_000_000_005,
            key: None,
            value: None,
            headers: vec![],
        },
        Input {
            timestamp: 1_700_000_000_002,
            key: Some(vec![]),
            value: Some(b"value number three".to_vec()),
            headers: vec![],
        },
    ]
}

/// Bytes 0..8 (base offset) and 12..16 (partition leader epoch) are outside the CRC by design:
/// a broker rewrites them in place. Every other byte is covered by the CRC or checked as format.
fn outside_crc(index: usize) -> bool {
    index < 8 || (12..16).contains(&index)
}

#[test]
fn flipping_any_byte_is_an_error_naming_the_base_offset() {
    const BASE: i64 = 4242;
    for codec in Compression::ALL {
        let options = BatchOptions {
            compression: codec,
            base_offset: BASE,
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 0,
            ..Default::default()
        };
        let original = encode(options, &sample_inputs());
        let (_, expected) = decode(original.clone()).unwrap();
        for index in 0..original.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = original.to_vec();
                bytes[index] ^= flip;
                let result = decode(Bytes::from(bytes));
                if outside_crc(index) {
                    // Still decodes; only offsets (or nothing visible) change.
                    let (_, records) = result.unwrap();
                    for (got, want) in records.iter().zip(&expected) {
                        assert_eq!(
                            (&got.key, &got.value, &got.headers, got.timestamp),
                            (&want.key, &want.value, &want.headers, want.timestamp)
                        );
                    }
                    continue;
                }
                let err = match result {
                    Ok(_) => panic!("{codec}: flipping byte {index} by {flip:#x} went unnoticed"),
                    Err(e) => e,
                };
                assert_eq!(err.base_offset(), Some(BASE), "{codec} byte {index}: {err}");
                assert!(err.to_string().contains("offset 4242"), "{err}");
            }
        }
    }
}

#[test]
fn truncating_a_batch_anywhere_is_an_error_or_a_quiet_end() {
    for codec in Compression::ALL {
        let options = BatchOptions {
            compression: codec,
            base_offset: 9,
            ..Default::default()
        };
        let original = encode(options, &sample_inputs());
        for cut in 0..original.len() {
            let bytes = original.slice(..cut);
            // Fetch-style iteration: a cut batch is simply not there.
            assert_eq!(
                RecordBatches::new(bytes.clone()).count(),
                0,
                "{codec} cut {cut}"
            );
            // Produce-style: an error, naming the offset once it is readable.
            let err = RecordBatch::parse(bytes).unwrap_err();
            if cut >= 8 {
                assert_eq!(err.base_offset(), Some(9), "{codec} cut {cut}: {err}");
            }
        }
    }
}
