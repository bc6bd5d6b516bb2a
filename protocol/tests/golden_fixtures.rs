//! Golden vectors: record batches and Produce request frames made by the Java client
//! (kafka-clients 4.3.1) and librdkafka 2.16 (protocol/tests/fixtures, see its README). Every fixture
//! decodes to exactly what the Java client reads from it (the JSON sidecars), our uncompressed
//! encoding is byte-identical to the Java client's, and corrupting any byte gives an error naming
//! the batch, never a panic.

mod golden_common;

use bytes::{Bytes, BytesMut};
use golden_common::{
    Fixture, assert_batch_matches, assert_logical, b64, int, load_fixtures, logical_records,
};
use odradek_protocol::EncodeRequest;
use odradek_protocol::codec::{decode_request, encode_request};
use odradek_protocol::frame::FrameDecoder;
use odradek_protocol::messages::ProduceRequest;
use odradek_protocol::records::{
    BatchOptions, ControlRecord, RecordBatch, RecordBatchBuilder, RecordBatches, RecordsError,
};
use odradek_protocol::{ApiKey, RequestHeader, RequestKind};
use serde_json::Value;

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// Splits a whole Produce frame (size prefix included) into its header and request.
fn decode_produce_frame(frame: &Bytes) -> (RequestHeader, ProduceRequest) {
    let mut buf = BytesMut::from(&frame[..]);
    let body = FrameDecoder::default()
        .decode(&mut buf)
        .unwrap()
        .expect("a whole frame");
    assert!(buf.is_empty(), "nothing after the frame");
    match decode_request(body.freeze()).unwrap() {
        (header, RequestKind::Produce(request)) => (header, request),
        (_, other) => panic!("not a Produce request: {other:?}"),
    }
}

/// The records blobs of a Produce request, in order, with their topic and partition.
fn partitions(request: &ProduceRequest) -> Vec<(String, i32, Bytes)> {
    request
        .topic_data
        .iter()
        .flat_map(|t| {
            t.partition_data.iter().map(move |p| {
                (
                    t.name.to_string(),
                    p.index,
                    p.records.clone().expect("records present"),
                )
            })
        })
        .collect()
}

fn assert_blob_matches(blob: Bytes, expected: &Value, ctx: &str) {
    let expected = expected.as_array().unwrap();
    let batches: Vec<RecordBatch> = RecordBatches::strict(blob)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(batches.len(), expected.len(), "{ctx}: batch count");
    for (i, (batch, want)) in batches.iter().zip(expected).enumerate() {
        assert_batch_matches(batch, want, &format!("{ctx}, batch {i}"));
    }
}

fn check_fixture(f: &Fixture) {
    let ctx = f.name.as_str();
    match f.sidecar["kind"].as_str().unwrap() {
        "batches" => assert_blob_matches(f.bytes.clone(), &f.sidecar["batches"], ctx),
        "produce" => {
            let want = &f.sidecar["request"];
            let (header, request) = decode_produce_frame(&f.bytes);
            let version = header.request_api_version;
            assert_eq!(
                i64::from(header.request_api_key),
                int(&want["api_key"]),
                "{ctx}"
            );
            assert_eq!(i64::from(version), int(&want["api_version"]), "{ctx}");
            assert_eq!(
                i64::from(ApiKey::Produce.request_header_version(version)),
                int(&want["header_version"]),
                "{ctx}: header version"
            );
            assert_eq!(
                i64::from(header.correlation_id),
                int(&want["correlation_id"]),
                "{ctx}"
            );
            assert_eq!(
                header.client_id.as_deref(),
                want["client_id"].as_str(),
                "{ctx}: client id"
            );
            assert_eq!(
                request.transactional_id.as_ref().map(|id| id.as_str()),
                want["transactional_id"].as_str(),
                "{ctx}: transactional id"
            );
            assert_eq!(i64::from(request.acks), int(&want["acks"]), "{ctx}: acks");
            assert_eq!(
                i64::from(request.timeout_ms),
                int(&want["timeout_ms"]),
                "{ctx}: timeout"
            );
            let got = partitions(&request);
            let want_parts = f.sidecar["partitions"].as_array().unwrap();
            assert_eq!(got.len(), want_parts.len(), "{ctx}: partition count");
            for ((topic, index, blob), want) in got.into_iter().zip(want_parts) {
                let ctx = format!("{ctx}, {topic}-{index}");
                assert_eq!(topic, want["topic"].as_str().unwrap(), "{ctx}: topic");
                assert_eq!(
                    i64::from(index),
                    int(&want["partition"]),
                    "{ctx}: partition"
                );
                assert_blob_matches(blob, &want["batches"], &ctx);
            }
            // Our encoder writes the decoded request back byte for byte.
            let again = encode_request(&header, &request, version).unwrap();
            assert_eq!(&again[..], &f.bytes[..], "{ctx}: re-encoded frame differs");
            // So does the chunked encoder the connection uses (batches spliced, not copied).
            let chunked = request.encode_frame(&header, version).unwrap();
            assert_eq!(
                &chunked.to_bytes()[..],
                &f.bytes[..],
                "{ctx}: chunked frame differs"
            );
        }
        other => panic!("{ctx}: unknown fixture kind {other}"),
    }
}

#[test]
fn every_fixture_decodes_exactly_as_the_java_client_reads_it() {
    let fixtures = load_fixtures();
    for f in &fixtures {
        check_fixture(f);
    }
    // The set is complete: both sources, every codec, batches and Produce frames.
    let names: Vec<&str> = fixtures.iter().map(|f| f.name.as_str()).collect();
    for codec in CODECS {
        for name in [
            format!("java/batches-{codec}.bin"),
            format!("java/produce-v11-{codec}.bin"),
            format!("librdkafka/produce-{codec}.bin"),
        ] {
            assert!(names.contains(&name.as_str()), "missing fixture {name}");
        }
    }
    for name in [
        "java/control-markers.bin",
        "java/produce-v3-none.bin",
        "java/produce-v8-none.bin",
        "java/produce-v9-none.bin",
    ] {
        assert!(names.contains(&name), "missing fixture {name}");
    }
}

#[test]
fn librdkafka_fixtures_carry_the_logical_records_with_idempotence() {
    for codec in CODECS {
        let f = load_fixtures()
            .into_iter()
            .find(|f| f.name == format!("librdkafka/produce-{codec}.bin"))
            .unwrap();
        let (_, request) = decode_produce_frame(&f.bytes);
        let (_, _, blob) = partitions(&request).remove(0);
        let batch = RecordBatch::parse(blob).unwrap();
        assert_eq!(batch.header.compression().name(), codec);
        assert!(batch.header.producer_id >= 0, "idempotent producer id");
        assert_eq!(batch.header.base_sequence, 0);
        let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
        assert_logical(&records, &format!("librdkafka {codec}"));
    }
}

/// Our encoder, given what the Java client was given, writes the same bytes (uncompressed:
/// compressed bytes legitimately differ between codec libraries).
#[test]
fn our_uncompressed_batches_are_byte_identical_to_the_java_clients() {
    let fixtures = load_fixtures();
    let java = |name: &str| {
        let f = fixtures.iter().find(|f| f.name == name).unwrap();
        RecordBatches::strict(f.bytes.clone())
            .map(|b| b.unwrap().bytes)
            .collect::<Vec<_>>()
    };
    let logical = logical_records();
    let build = |options: BatchOptions, count: std::ops::Range<usize>| {
        let mut builder = RecordBatchBuilder::new(options);
        for r in &logical[count] {
            builder
                .push(
                    r.timestamp,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    &r.headers,
                )
                .unwrap();
        }
        builder.finish().unwrap()
    };
    let plain = build(BatchOptions::default(), 0..logical.len());
    let transactional = build(
        BatchOptions {
            base_offset: 1000,
            producer_id: 123_456_789,
            producer_epoch: 3,
            base_sequence: 42,
            is_transactional: true,
            partition_leader_epoch: 7,
            ..Default::default()
        },
        0..2,
    );
    let java_batches = java("java/batches-none.bin");
    assert_eq!(plain, java_batches[0], "plain batch");
    assert_eq!(transactional, java_batches[1], "transactional batch");

    let marker = |base_offset, epoch, timestamp, control| {
        let mut builder = RecordBatchBuilder::new(BatchOptions {
            base_offset,
            producer_id: 123_456_789,
            producer_epoch: epoch,
            is_transactional: true,
            is_control: true,
            partition_leader_epoch: 7,
            ..Default::default()
        });
        builder.push_control(timestamp, control).unwrap();
        builder.finish().unwrap()
    };
    let java_markers = java("java/control-markers.bin");
    assert_eq!(
        marker(
            3000,
            3,
            1_700_000_010_000,
            ControlRecord::Commit {
                coordinator_epoch: 11
            }
        ),
        java_markers[0],
        "commit marker"
    );
    assert_eq!(
        marker(
            3001,
            4,
            1_700_000_010_001,
            ControlRecord::Abort {
                coordinator_epoch: 12
            }
        ),
        java_markers[1],
        "abort marker"
    );
}

/// Every record batch in the fixtures: (fixture name, the blob it sits in, its range there).
fn fixture_batches() -> Vec<(String, Bytes, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    for f in load_fixtures() {
        let blobs = if f.sidecar["kind"] == "produce" {
            let (_, request) = decode_produce_frame(&f.bytes);
            partitions(&request).into_iter().map(|p| p.2).collect()
        } else {
            vec![f.bytes.clone()]
        };
        for blob in blobs {
            let mut at = 0;
            for batch in RecordBatches::strict(blob.clone()) {
                let len = batch.unwrap().bytes.len();
                out.push((f.name.clone(), blob.clone(), at..at + len));
                at += len;
            }
        }
    }
    out
}

/// Decodes a whole blob, records included: the first error, or the batches' (base offset,
/// leader epoch) pairs.
fn decode_all(blob: Bytes) -> Result<Vec<(i64, i32)>, RecordsError> {
    let mut seen = Vec::new();
    for batch in RecordBatches::strict(blob) {
        let batch = batch?;
        for record in batch.records()? {
            record?;
        }
        batch.control_record()?;
        seen.push((
            batch.header.base_offset,
            batch.header.partition_leader_epoch,
        ));
    }
    Ok(seen)
}

#[test]
fn every_single_byte_corruption_of_a_fixture_batch_is_an_error_naming_its_offset() {
    let batches = fixture_batches();
    assert!(
        batches.len() >= 30,
        "only {} fixture batches",
        batches.len()
    );
    let mut checked = 0;
    for (name, blob, range) in batches {
        let base_offset =
            i64::from_be_bytes(blob[range.start..range.start + 8].try_into().unwrap());
        let clean = decode_all(blob.clone()).unwrap();
        for pos in range.clone() {
            let at = pos - range.start;
            let mut bytes = blob.to_vec();
            bytes[pos] ^= 0xff;
            let result = decode_all(Bytes::from(bytes));
            match at {
                // Base offset and partition leader epoch lie outside the CRC by design (brokers
                // rewrite them in place): the batch decodes, reporting the changed value.
                0..8 | 12..16 => {
                    let seen = result.unwrap_or_else(|e| panic!("{name} byte {at}: {e}"));
                    assert_eq!(seen.len(), clean.len(), "{name} byte {at}");
                    assert_ne!(seen, clean, "{name} byte {at}: change not visible");
                }
                _ => {
                    let err =
                        result.expect_err(&format!("{name}: flipping byte {at} went unnoticed"));
                    assert_eq!(
                        err.base_offset(),
                        Some(base_offset),
                        "{name} byte {at}: error names another batch: {err}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 10_000, "checked {checked} bytes");
}

/// With the CRC recomputed, a corrupted byte reaches the record decoder and the decompressors:
/// the result may decode (a changed value) but must never panic, and any error names the batch.
#[test]
fn corruption_behind_a_valid_crc_is_a_format_error_or_a_changed_record() {
    let mut errors = 0;
    for (name, blob, range) in fixture_batches() {
        let base_offset =
            i64::from_be_bytes(blob[range.start..range.start + 8].try_into().unwrap());
        let crc_from = range.start + 21;
        for pos in crc_from..range.end {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = blob.to_vec();
                bytes[pos] ^= flip;
                let crc = crc32c::crc32c(&bytes[crc_from..range.end]);
                bytes[range.start + 17..crc_from].copy_from_slice(&crc.to_be_bytes());
                if let Err(err) = decode_all(Bytes::from(bytes)) {
                    assert_eq!(
                        err.base_offset(),
                        Some(base_offset),
                        "{name} byte {} ^ {flip:#x}: {err}",
                        pos - range.start
                    );
                    errors += 1;
                }
            }
        }
    }
    assert!(
        errors > 1000,
        "only {errors} corruptions detected as format errors"
    );
}

#[test]
fn every_single_byte_corruption_of_a_produce_frame_is_handled() {
    for f in load_fixtures()
        .into_iter()
        .filter(|f| f.sidecar["kind"] == "produce")
    {
        for pos in 0..f.bytes.len() {
            let mut bytes = f.bytes.to_vec();
            bytes[pos] ^= 0xff;
            let mut buf = BytesMut::from(&bytes[..]);
            let Ok(Some(body)) = FrameDecoder::default().decode(&mut buf) else {
                continue; // size prefix changed: rejected or waiting for more bytes
            };
            if let Ok((_, RequestKind::Produce(request))) = decode_request(body.freeze()) {
                // A corrupted frame may decode with null records (trailing bytes are ignored).
                let blobs = request.topic_data.iter().flat_map(|t| &t.partition_data);
                for blob in blobs.filter_map(|p| p.records.clone()) {
                    let _ = decode_all(blob);
                }
            }
        }
    }
}

#[test]
fn sidecars_agree_with_the_logical_records() {
    // The generator already checked this; the test keeps a hand-edited sidecar honest.
    let logical = logical_records();
    let f = load_fixtures()
        .into_iter()
        .find(|f| f.name == "java/batches-none.bin")
        .unwrap();
    let records = f.sidecar["batches"][0]["records"].as_array().unwrap();
    assert_eq!(records.len(), logical.len());
    for (got, want) in records.iter().zip(&logical) {
        assert_eq!(b64(&got["key"]), want.key);
        assert_eq!(b64(&got["value"]), want.value);
        assert_eq!(int(&got["timestamp"]), want.timestamp);
    }
}
