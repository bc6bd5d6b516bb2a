//! The Java client (kafka-clients 4.3.1, from `scripts/setup.sh`) decodes every batch we encode,
//! under every codec, to exactly the records we put in; and we decode exactly what the Java
//! client encodes from the same records. Multi-block data checks lz4's 64 KiB blocks and snappy's
//! 32 KiB xerial chunks.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use odradek::compression::Compression;
use odradek::records::{BatchOptions, RecordBatchBuilder, RecordBatches, RecordHeader};

struct Input {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

struct Batch {
    options: BatchOptions,
    records: Vec<Input>,
}

fn kafka_libs() -> PathBuf {
    let cache = std::env::var_os("ODRADEK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/odradek"));
    let libs = cache.join("kafka-4.3.1/libs");
    assert!(
        libs.join("kafka-clients-4.3.1.jar").exists(),
        "Kafka client jars missing in {}: run scripts/setup.sh",
        libs.display()
    );
    libs
}

fn batches() -> Vec<Batch> {
    let small = vec![
        Input {
            timestamp: 1_700_000_000_000,
            key: Some(b"key-0".to_vec()),
            value: Some(b"first value".to_vec()),
            headers: vec![
                ("trace-id".into(), Some(b"\x00\x01\xfe".to_vec())),
                ("empty".into(), Some(vec![])),
                ("null".into(), None),
            ],
        },
        Input {
            timestamp: 1_700_000_000_123,
            key: None,
            value: None,
            headers: vec![],
        },
        Input {
            timestamp: 1_699_999_999_000,
            key: Some(vec![]),
            value: Some("ünïcödé".as_bytes().to_vec()),
            headers: vec![("h".into(), Some(b"v".to_vec()))],
        },
    ];
    // ~300 KiB of partly repetitive data: several lz4 blocks and snappy chunks.
    let big = (0..300)
        .map(|i: i64| Input {
            timestamp: 1_700_000_001_000 + i,
            key: Some(format!("key-{}", i % 10).into_bytes()),
            value: Some(
                (0..1024)
                    .map(|j| ((i * 7 + j * (j % 13)) % 251) as u8)
                    .collect(),
            ),
            headers: vec![],
        })
        .collect();
    vec![
        Batch {
            options: BatchOptions {
                base_offset: 0,
                partition_leader_epoch: 3,
                ..Default::default()
            },
            records: small,
        },
        Batch {
            options: BatchOptions {
                base_offset: 3,
                producer_id: 4001,
                producer_epoch: 2,
                base_sequence: 17,
                partition_leader_epoch: 3,
                ..Default::default()
            },
            records: big,
        },
    ]
}

fn hex(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".into(),
        Some(b) => std::iter::once("x".to_string())
            .chain(b.iter().map(|b| format!("{b:02x}")))
            .collect(),
    }
}

/// The lines RecordsCheck.java prints for `batches`, computed from the inputs.
fn expected_lines(codec: Compression, batches: &[Batch]) -> Vec<String> {
    let mut lines = Vec::new();
    for batch in batches {
        let o = &batch.options;
        let max_ts = batch.records.iter().map(|r| r.timestamp).max().unwrap();
        lines.push(format!(
            "batch {codec} base={} last={} codec={codec} pid={} epoch={} seq={} txn={} control={} ple={} maxts={max_ts}",
            o.base_offset,
            o.base_offset + batch.records.len() as i64 - 1,
            o.producer_id,
            o.producer_epoch,
            o.base_sequence,
            o.is_transactional,
            o.is_control,
            o.partition_leader_epoch,
        ));
        for (i, r) in batch.records.iter().enumerate() {
            let mut line = format!(
                "record {codec} {} {} {} {}",
                o.base_offset + i as i64,
                r.timestamp,
                hex(r.key.as_deref()),
                hex(r.value.as_deref())
            );
            for (k, v) in &r.headers {
                line.push_str(&format!(" {k}={}", hex(v.as_deref())));
            }
            lines.push(line);
        }
    }
    lines
}

fn encode(codec: Compression, batches: &[Batch]) -> Vec<u8> {
    let mut blob = Vec::new();
    for batch in batches {
        let mut builder = RecordBatchBuilder::new(BatchOptions {
            compression: codec,
            ..batch.options
        });
        for r in &batch.records {
            let headers: Vec<RecordHeader> = r
                .headers
                .iter()
                .map(|(k, v)| RecordHeader::new(k.clone().into_bytes(), v.clone()))
                .collect();
            builder
                .push(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
                .unwrap();
        }
        builder.finish_into(&mut blob).unwrap();
    }
    blob
}

/// Our decoding of `blob`, printed like RecordsCheck.java prints its own.
fn decoded_lines(codec: Compression, blob: Vec<u8>) -> Vec<String> {
    let mut lines = Vec::new();
    for batch in RecordBatches::strict(Bytes::from(blob)) {
        let batch = batch.unwrap();
        let h = batch.header;
        assert_eq!(h.compression(), codec);
        lines.push(format!(
            "batch {codec} base={} last={} codec={codec} pid={} epoch={} seq={} txn={} control={} ple={} maxts={}",
            h.base_offset,
            h.last_offset(),
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
            h.is_transactional(),
            h.is_control(),
            h.partition_leader_epoch,
            h.max_timestamp,
        ));
        for r in batch.records().unwrap() {
            let r = r.unwrap();
            let mut line = format!(
                "record {codec} {} {} {} {}",
                r.offset,
                r.timestamp,
                hex(r.key.as_deref()),
                hex(r.value.as_deref())
            );
            for h in &r.headers {
                line.push_str(&format!(
                    " {}={}",
                    String::from_utf8(h.key.to_vec()).unwrap(),
                    hex(h.value.as_deref())
                ));
            }
            lines.push(line);
        }
    }
    lines
}

fn run_java(dir: &Path) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/records_java/RecordsCheck.java");
    let classpath = format!("{}/*", kafka_libs().display());
    let output = Command::new("java")
        .arg("-cp")
        .arg(classpath)
        .arg(source)
        .arg(dir)
        .output()
        .expect("cannot run java (needed for the Java client interop check)");
    assert!(
        output.status.success(),
        "RecordsCheck.java failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn java_client_and_odradek_decode_each_others_batches_under_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let batches = batches();
    for codec in Compression::ALL {
        std::fs::write(
            dir.path().join(format!("odradek-{codec}.bin")),
            encode(codec, &batches),
        )
        .unwrap();
    }
    let java_output = run_java(dir.path());
    let java_lines: Vec<&str> = java_output.lines().collect();

    for codec in Compression::ALL {
        let expected = expected_lines(codec, &batches);
        let java_saw: Vec<&str> = java_lines
            .iter()
            .copied()
            .filter(|l| l.split(' ').nth(1) == Some(codec.name()))
            .collect();
        assert_eq!(
            java_saw.len(),
            expected.len(),
            "{codec}: Java decoded a different count"
        );
        for (got, want) in java_saw.iter().zip(&expected) {
            assert_eq!(got, want, "{codec}: Java decoded our batch differently");
        }

        let java_blob = std::fs::read(dir.path().join(format!("java-{codec}.bin"))).unwrap();
        let ours = decoded_lines(codec, java_blob);
        assert_eq!(
            ours.len(),
            expected.len(),
            "{codec}: we decoded a different count"
        );
        for (got, want) in ours.iter().zip(&expected) {
            assert_eq!(got, want, "{codec}: we decoded Java's batch differently");
        }
    }
}
