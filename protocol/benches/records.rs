//! Record batch encode and decode throughput per codec, for 100-byte and 1 KiB records, beside
//! a memcpy of the same payload bytes. Throughput counts key + value bytes (what the user sent).
//!
//! The `validate_*` groups time what the broker does to each produced batch of 64 KiB (the
//! producers' `batch.size`): the CRC and a [`RecordStream`] walk of every record's metadata,
//! beside the codec's own decompression of the same batch (the floor any validator pays).
//!
//! `cargo bench -p odradek-protocol --bench records -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use odradek_protocol::compression::Compression;
use odradek_protocol::records::{
    BATCH_HEADER_LEN, BatchHeader, BatchOptions, RecordBatch, RecordBatchBuilder, RecordStream,
    verify_crc,
};

const RECORDS_PER_BATCH: usize = 1000;

/// Deterministic JSON-like log lines: repeated field names, varying numbers, and text drawn from
/// a small vocabulary, so codecs see a realistic ratio rather than all-zeros or pure noise.
fn make_records(value_size: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const WORDS: [&str; 32] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "request", "served",
        "user", "cache", "miss", "latency",
    ];
    (0..RECORDS_PER_BATCH)
        .map(|i| {
            let key = format!("user-{}", next() % 10_000).into_bytes();
            let mut value = format!(
                "{{\"id\":{i},\"ts\":{},\"level\":\"{}\",\"msg\":\"",
                1_700_000_000_000u64 + next() % 1_000_000,
                ["info", "warn", "debug"][(next() % 3) as usize]
            )
            .into_bytes();
            while value.len() < value_size - 2 {
                let r = next();
                if r % 5 == 0 {
                    value.extend_from_slice(&(r >> 8).to_string().as_bytes()[..4]);
                } else {
                    value.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()].as_bytes());
                }
                value.push(b' ');
            }
            value.truncate(value_size - 2);
            value.extend_from_slice(b"\"}");
            (key, value)
        })
        .collect()
}

fn options(codec: Compression) -> BatchOptions {
    BatchOptions {
        compression: codec,
        producer_id: 1000,
        producer_epoch: 0,
        base_sequence: 0,
        ..Default::default()
    }
}

fn encode(builder: &mut RecordBatchBuilder, records: &[(Vec<u8>, Vec<u8>)], out: &mut Vec<u8>) {
    out.clear();
    for (i, (key, value)) in records.iter().enumerate() {
        builder
            .push(1_700_000_000_000 + i as i64, Some(key), Some(value), &[])
            .unwrap();
    }
    builder.finish_into(out).unwrap();
}

fn bench(c: &mut Criterion) {
    for (label, size) in [("100B", 100), ("1KiB", 1024)] {
        let records = make_records(size);
        let payload: u64 = records
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum();

        let mut group = c.benchmark_group(format!("records_{label}"));
        group.throughput(Throughput::Bytes(payload));

        let flat: Vec<u8> = records
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .flatten()
            .collect();
        let mut copy = vec![0u8; flat.len()];
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                copy.copy_from_slice(black_box(&flat));
                black_box(&copy);
            })
        });

        for codec in Compression::ALL {
            let mut builder =
                RecordBatchBuilder::with_capacity(options(codec), payload as usize * 2);
            let mut out = Vec::new();
            group.bench_function(BenchmarkId::new("encode", codec.name()), |b| {
                b.iter(|| encode(&mut builder, black_box(&records), &mut out))
            });

            encode(&mut builder, &records, &mut out);
            // For the report: how large the batch is next to the payload.
            println!("batch_size {label} {codec} {} payload {payload}", out.len());
            let batch_bytes = Bytes::from(out.clone());
            group.bench_function(BenchmarkId::new("decode", codec.name()), |b| {
                b.iter(|| {
                    let batch = RecordBatch::parse(black_box(batch_bytes.clone())).unwrap();
                    let mut total = 0usize;
                    for record in batch.records().unwrap() {
                        let record = record.unwrap();
                        total +=
                            record.key.map_or(0, |k| k.len()) + record.value.map_or(0, |v| v.len());
                    }
                    assert_eq!(total as u64, payload);
                })
            });
            group.bench_function(BenchmarkId::new("decode_ref", codec.name()), |b| {
                b.iter(|| {
                    let batch = RecordBatch::parse(black_box(batch_bytes.clone())).unwrap();
                    let mut records = batch.records().unwrap();
                    let mut total = 0usize;
                    while let Some(record) = records.next_ref() {
                        let record = record.unwrap();
                        total +=
                            record.key.map_or(0, <[u8]>::len) + record.value.map_or(0, <[u8]>::len);
                    }
                    assert_eq!(total as u64, payload);
                })
            });
        }
        group.finish();
        validate(c, label, &records[..(64 << 10) / size]);
    }
}

/// The broker's produce validation of one 64 KiB batch per codec.
fn validate(c: &mut Criterion, label: &str, records: &[(Vec<u8>, Vec<u8>)]) {
    let mut group = c.benchmark_group(format!("validate_{label}"));
    let payload: u64 = records
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    group.throughput(Throughput::Bytes(payload));
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let mut builder = RecordBatchBuilder::with_capacity(options(codec), payload as usize * 2);
        let mut batch = Vec::new();
        encode(&mut builder, records, &mut batch);
        let mut plain = Vec::new();
        if codec != Compression::None {
            group.bench_function(BenchmarkId::new("decompress", codec.name()), |b| {
                b.iter(|| {
                    plain.clear();
                    odradek_protocol::compression::decompress(
                        codec,
                        black_box(&batch[BATCH_HEADER_LEN..]),
                        &mut plain,
                    )
                    .unwrap();
                })
            });
        }
        group.bench_function(BenchmarkId::new("crc_and_walk", codec.name()), |b| {
            b.iter(|| {
                let batch = black_box(&batch[..]);
                let header = BatchHeader::parse(batch).unwrap();
                verify_crc(batch).unwrap();
                let mut stream = RecordStream::new(&header, batch, 64 << 20).unwrap();
                let mut n = 0;
                while let Some(meta) = stream.next_meta() {
                    black_box(meta.unwrap());
                    n += 1;
                }
                assert_eq!(n, records.len());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
