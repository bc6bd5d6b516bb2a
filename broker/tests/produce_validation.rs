//! Produce refuses batches whose records are not what their header says, as Apache Kafka does
//! (issue 16, finding 6; issue 19, item 1): nothing of a refused batch is stored and the log end
//! offset does not move.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use kafka_protocol::messages::*;
use odradek::compression::Compression;
use odradek::records::{BatchOptions, RecordBatchBuilder, RecordBatches};

const INVALID_RECORD: i16 = 87;
const CORRUPT_MESSAGE: i16 = 2;

/// A batch of `keys.len()` small records (a `None` key is a keyless record).
fn batch(keys: &[Option<&str>], codec: Compression) -> BytesMut {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        compression: codec,
        ..Default::default()
    });
    for k in keys {
        b.push(1_700_000_000_000, k.map(str::as_bytes), Some(b"value"), &[])
            .unwrap();
    }
    BytesMut::from(&b.finish().unwrap()[..])
}

fn set_i32(b: &mut BytesMut, at: usize, v: i32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Recomputes the batch length and CRC after tampering, so only the records can give it away.
fn seal(mut b: BytesMut) -> Bytes {
    let len = (b.len() - 12) as i32;
    set_i32(&mut b, 8, len);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// Sets records_count and last_offset_delta consistently with each other.
fn claim_count(b: &mut BytesMut, count: i32) {
    set_i32(b, 57, count);
    set_i32(b, 23, count - 1);
}

/// A header for `count` records whose records section is `section`, with `codec`.
fn with_section(codec: Compression, count: i32, section: &[u8]) -> Bytes {
    let mut b = batch(&[Some("k")], Compression::None);
    b.truncate(61);
    b.extend_from_slice(section);
    b[21..23].copy_from_slice(&(codec.id() as i16).to_be_bytes());
    claim_count(&mut b, count);
    seal(b)
}

/// A zstd frame of about 32 KB whose single record carries a 1 GiB value: a raw block with the
/// record's head, then 128 KiB RLE blocks of zeros.
fn zstd_bomb() -> Vec<u8> {
    const VALUE: u64 = 1 << 30;
    fn varint(mut z: u64, out: &mut Vec<u8>) {
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    let zig = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
    let mut body = vec![0u8, 0, 0]; // attributes, timestamp delta 0, offset delta 0
    varint(zig(-1), &mut body); // null key
    varint(zig(VALUE as i64), &mut body);
    let mut head = Vec::new();
    varint(zig((body.len() as u64 + VALUE + 1) as i64), &mut head);
    head.extend_from_slice(&body);
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]; // magic, no size, 128 KiB window
    let block = |last: bool, kind: u32, size: u32| {
        let h = u32::from(last) | (kind << 1) | (size << 3);
        [h as u8, (h >> 8) as u8, (h >> 16) as u8]
    };
    frame.extend_from_slice(&block(false, 0, head.len() as u32));
    frame.extend_from_slice(&head);
    let rle = 128 << 10;
    let blocks = VALUE / rle;
    for i in 0..blocks {
        frame.extend_from_slice(&block(false, 1, rle as u32));
        frame.push(0);
        let _ = i;
    }
    // The record's header count (0), last.
    frame.extend_from_slice(&block(true, 0, 1));
    frame.push(0);
    frame
}

async fn produce_v9(
    c: &mut Client,
    name: &str,
    records: Bytes,
) -> produce_response::PartitionProduceResponse {
    produce_response(c, name, 0, records, -1).await
}

async fn log_end(c: &mut Client, name: &str) -> i64 {
    let (err, offset, _) = list_offset(c, name, 0, -1).await;
    assert_eq!(err, 0);
    offset
}

#[tokio::test]
async fn lying_batches_are_refused_and_never_stored() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    assert_eq!(create_topic(&mut c, "lies", 1, &[]).await, 0);

    let one_record_claiming_max = {
        let mut b = batch(&[Some("a")], Compression::None);
        claim_count(&mut b, i32::MAX);
        seal(b)
    };
    let five_records_claiming_one = {
        let mut b = batch(
            &[Some("a"), Some("b"), Some("c"), Some("d"), Some("e")],
            Compression::None,
        );
        claim_count(&mut b, 1);
        seal(b)
    };
    let offset_deltas_all_zero = {
        let mut b = batch(&[Some("a"), Some("b"), Some("c")], Compression::None);
        // Each record: length (1 byte here), attributes, timestamp delta, offset delta, ...
        let mut at = 61;
        while at < b.len() {
            let len = (b[at] >> 1) as usize;
            b[at + 3] = 0;
            at += 1 + len;
        }
        seal(b)
    };
    let garbage_zstd = {
        let mut garbage = vec![0x28, 0xb5, 0x2f, 0xfd];
        garbage.extend((0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        with_section(Compression::Zstd, 1, &garbage)
    };
    let bomb = {
        let frame = zstd_bomb();
        assert!(frame.len() < 40 << 10, "the bomb is {} bytes", frame.len());
        with_section(Compression::Zstd, 1, &frame)
    };
    let cases = [
        (
            "one record claiming 2^31-1",
            one_record_claiming_max,
            INVALID_RECORD,
        ),
        (
            "five records claiming one",
            five_records_claiming_one,
            INVALID_RECORD,
        ),
        (
            "offset deltas all 0",
            offset_deltas_all_zero,
            INVALID_RECORD,
        ),
        (
            "garbage zstd with a valid CRC",
            garbage_zstd,
            CORRUPT_MESSAGE,
        ),
        ("32 KB of zstd expanding to 1 GiB", bomb, INVALID_RECORD),
    ];
    for (what, records, code) in cases {
        let r = produce_v9(&mut c, "lies", records).await;
        assert_eq!(r.error_code, code, "{what}: {:?}", r.error_message);
        assert!(r.error_message.is_some(), "{what}: the refusal says why");
        assert_eq!(log_end(&mut c, "lies").await, 0, "{what}: nothing stored");
    }

    // An honest batch still goes in, at offset 0, and is all there is to read.
    let good = batch(&[Some("x"), Some("y")], Compression::Zstd).freeze();
    let r = produce_v9(&mut c, "lies", good).await;
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    let (err, hw, records) = fetch(&mut c, "lies", 0, 0, 1 << 20).await;
    assert_eq!((err, hw), (0, 2));
    let mut keys = Vec::new();
    for batch in RecordBatches::new(records) {
        for r in batch.unwrap().records().unwrap() {
            let r = r.unwrap();
            keys.push((r.offset, r.key.unwrap()));
        }
    }
    assert_eq!(keys, [(0, Bytes::from("x")), (1, Bytes::from("y"))]);
}

#[tokio::test]
async fn keyless_records_are_refused_on_compacted_topics() {
    let b = start().await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    for (name, policy) in [("compacted", "compact"), ("both", "delete,compact")] {
        assert_eq!(
            create_topic(&mut c, name, 1, &[("cleanup.policy", policy)]).await,
            0
        );
        for codec in [Compression::None, Compression::Lz4] {
            let records = batch(&[Some("a"), None, Some("c"), None], codec).freeze();
            let r = produce_v9(&mut c, name, records).await;
            assert_eq!(r.error_code, INVALID_RECORD, "{name} {codec}");
            let indexes: Vec<i32> = r.record_errors.iter().map(|e| e.batch_index).collect();
            assert_eq!(
                indexes,
                [1, 3],
                "{name} {codec}: the keyless records are named"
            );
            let msg = r.record_errors[0]
                .batch_index_error_message
                .as_deref()
                .unwrap();
            assert!(msg.contains("without a key"), "{msg}");
            assert_eq!(log_end(&mut c, name).await, 0, "{name}: nothing stored");
        }
        let keyed = batch(&[Some("a"), Some("b")], Compression::None).freeze();
        assert_eq!(produce_v9(&mut c, name, keyed).await.error_code, 0);
    }
    // A topic that only deletes takes keyless records.
    assert_eq!(create_topic(&mut c, "plain", 1, &[]).await, 0);
    let keyless = batch(&[None, None], Compression::None).freeze();
    assert_eq!(produce_v9(&mut c, "plain", keyless).await.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_topic_fed_a_bomb_still_compacts() {
    let b = start_with(
        "log.cleaner.backoff.ms=50",
        odradek_broker::FsyncPolicy::Never,
    )
    .await;
    let mut c = Client::connect(b.handle.local_addr()).await;
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "300"),
        ("delete.retention.ms", "0"),
        // A 4 MiB decompression budget: the bomb is refused sooner.
        ("max.message.bytes", "65536"),
    ];
    assert_eq!(create_topic(&mut c, "bombed", 1, &configs).await, 0);
    let bomb = with_section(Compression::Zstd, 1, &zstd_bomb());
    let mut produced = 0;
    for round in 0..6 {
        for key in ["a", "b"] {
            let mut one = RecordBatchBuilder::new(BatchOptions::default());
            one.push(
                1,
                Some(key.as_bytes()),
                Some(format!("{key}{round}").as_bytes()),
                &[],
            )
            .unwrap();
            assert_eq!(
                produce_v9(&mut c, "bombed", one.finish().unwrap())
                    .await
                    .error_code,
                0
            );
            produced += 1;
        }
        let r = produce_v9(&mut c, "bombed", bomb.clone()).await;
        assert_eq!(r.error_code, INVALID_RECORD, "the bomb is refused");
    }
    // Compaction leaves one "a" and one "b" in the sealed segments (the newest may sit in the
    // active one), so fewer records than were produced remain.
    let mut left = produced;
    for _ in 0..600 {
        let (err, hw, records) = fetch(&mut c, "bombed", 0, 0, 1 << 20).await;
        assert_eq!((err, hw), (0, produced as i64), "no bomb was stored");
        left = RecordBatches::new(records)
            .map(|b| b.unwrap().records().unwrap().count())
            .sum::<usize>();
        if left <= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        left <= 4,
        "{left} of {produced} records left: compaction did not run"
    );
}
