//! The Java client (kafka-clients 4.3.1, from `scripts/setup.sh`) decodes every batch we encode,
//! under every codec, to exactly the records we put in; and we decode exactly what the Java
//! client encodes from the same records. Multi-block data checks lz4's 64 KiB blocks and snappy's
//! 32 KiB xerial chunks.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use odradek_protocol::compression::Compression;
use odradek_protocol::records::{BatchOptions, RecordBatchBuilder, RecordBatches, RecordHeader};
use serde_json::Value;

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

/// RecordDump's class path (compiled by scripts/setup.d/25-java-tools.sh); fails, never skips,
/// when set-up has not run.
fn record_dump_classpath() -> String {
    let cache = std::env::var_os("ODRADEK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/odradek"));
    let (tools, libs) = (cache.join("java-tools"), cache.join("kafka-4.3.1/libs"));
    assert!(
        libs.join("kafka-clients-4.3.1.jar").exists() && tools.join("RecordDump.class").exists(),
        "Kafka client jars or RecordDump missing in {}: run scripts/setup.sh",
        cache.display()
    );
    format!("{}:{}/*", tools.display(), libs.display())
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

/// The lines [`run_java`] prints for `batches`, computed from the inputs.
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

/// Our decoding of `blob`, printed like [`run_java`] prints the Java client's.
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

/// What the Java client decodes from each `odradek-<codec>.bin` in `dir`, printed as
/// [`expected_lines`] prints; and the Java client's re-encoding of `odradek-none.bin` under every
/// codec into `java-<codec>.bin`. Both through tools/java/RecordDump, in one JVM.
fn run_java(dir: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for codec in Compression::ALL {
        args.push(format!(
            "batches:{}",
            dir.join(format!("odradek-{codec}.bin")).display()
        ));
    }
    for codec in Compression::ALL {
        args.push(format!(
            "reencode:{codec}:{}:{}",
            dir.join("odradek-none.bin").display(),
            dir.join(format!("java-{codec}.bin")).display()
        ));
    }
    let output = Command::new("java")
        .arg("-cp")
        .arg(record_dump_classpath())
        .arg("RecordDump")
        .args(&args)
        .output()
        .expect("cannot run java (needed for the Java client interop check)");
    assert!(
        output.status.success(),
        "RecordDump failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines = Vec::new();
    let mut codec = String::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str().unwrap() {
            "file" => {
                codec = v["path"]
                    .as_str()
                    .unwrap()
                    .rsplit_once('-')
                    .unwrap()
                    .1
                    .trim_end_matches(".bin")
                    .to_string()
            }
            "batch" => {
                let base = v["base_offset"].as_i64().unwrap();
                lines.push(format!(
                    "batch {codec} base={base} last={} codec={} pid={} epoch={} seq={} txn={} control={} ple={} maxts={}",
                    base + v["last_offset_delta"].as_i64().unwrap(),
                    v["compression"].as_str().unwrap(),
                    v["producer_id"], v["producer_epoch"], v["base_sequence"], v["is_transactional"],
                    v["is_control"], v["partition_leader_epoch"], v["max_timestamp"],
                ));
            }
            "record" => {
                let mut line = format!(
                    "record {codec} {} {} {} {}",
                    v["offset"],
                    v["timestamp"],
                    hex(unbase64(&v["key"]).as_deref()),
                    hex(unbase64(&v["value"]).as_deref())
                );
                for h in v["headers"].as_array().unwrap() {
                    let key = String::from_utf8(unbase64(&h["key"]).unwrap()).unwrap();
                    line.push_str(&format!(" {key}={}", hex(unbase64(&h["value"]).as_deref())));
                }
                lines.push(line);
            }
            other => panic!("unexpected RecordDump line type {other}"),
        }
    }
    lines
}

fn unbase64(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| BASE64.decode(s).unwrap())
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
    let java_lines: Vec<&str> = java_output.iter().map(String::as_str).collect();

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
