//! The Java client decodes our bytes, inside the test run: batches written by
//! `RecordBatchBuilder` for every codec (plain, idempotent + transactional, LogAppendTime,
//! maximum compression level) and transaction markers are read by kafka-clients 4.3.1 through
//! tools/java/RecordDump (compiled by scripts/setup.d/25-java-tools.sh), and every field it reports
//! is compared with what we put in. One JVM start for everything.

mod golden_common;

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use golden_common::{LogicalRecord, logical_records, repo_root};
use odradek_protocol::compression::Compression;
use odradek_protocol::records::{BatchOptions, ControlRecord, RecordBatchBuilder, TimestampType};
use serde_json::{Value, json};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// What one batch should hold, independent of how we encode it.
struct Spec {
    options: BatchOptions,
    records: Vec<LogicalRecord>,
    marker: Option<ControlRecord>,
}

fn cache_dir() -> PathBuf {
    std::env::var_os("ODRADEK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/odradek")
        })
}

/// The class path for RecordDump; fails (never skips) when setup has not run or is stale.
fn java_classpath() -> String {
    let cache = cache_dir();
    let tools = cache.join("java-tools");
    let libs = cache.join("kafka-4.3.1/libs");
    assert!(
        libs.join("kafka-clients-4.3.1.jar").is_file(),
        "Kafka 4.3.1 jars missing in {}: run scripts/setup.sh",
        libs.display()
    );
    assert!(
        tools.join("RecordDump.class").is_file(),
        "RecordDump not compiled in {}: run scripts/setup.sh",
        tools.display()
    );
    let source = std::fs::read(repo_root().join("tools/java/RecordDump.java")).unwrap();
    let compiled = std::fs::read(tools.join("src/RecordDump.java")).unwrap_or_default();
    assert!(
        source == compiled,
        "{} was compiled from another RecordDump.java: run scripts/setup.sh",
        tools.display()
    );
    format!("{}:{}/*", tools.display(), libs.display())
}

fn specs(codec: Compression, logical: &[LogicalRecord]) -> Vec<Spec> {
    let mut specs = vec![
        Spec {
            options: BatchOptions {
                compression: codec,
                ..Default::default()
            },
            records: logical.to_vec(),
            marker: None,
        },
        Spec {
            options: BatchOptions {
                compression: codec,
                base_offset: 1000,
                producer_id: 123_456_789,
                producer_epoch: 3,
                base_sequence: 42,
                is_transactional: true,
                partition_leader_epoch: 7,
                ..Default::default()
            },
            records: logical[..2].to_vec(),
            marker: None,
        },
        Spec {
            options: BatchOptions {
                compression: codec,
                base_offset: 2000,
                timestamp_type: TimestampType::LogAppendTime,
                ..Default::default()
            },
            records: logical[2..].to_vec(),
            marker: None,
        },
    ];
    let (_, max_level) = codec.level_range();
    if max_level > 0 {
        specs.push(Spec {
            options: BatchOptions {
                compression: codec,
                compression_level: Some(max_level),
                base_offset: 3000,
                ..Default::default()
            },
            records: logical.to_vec(),
            marker: None,
        });
    }
    specs
}

fn marker_specs() -> Vec<Spec> {
    [
        (
            5000,
            3,
            ControlRecord::Commit {
                coordinator_epoch: 11,
            },
        ),
        (
            5001,
            4,
            ControlRecord::Abort {
                coordinator_epoch: 12,
            },
        ),
    ]
    .into_iter()
    .map(|(base_offset, producer_epoch, marker)| Spec {
        options: BatchOptions {
            base_offset,
            producer_id: 99,
            producer_epoch,
            is_transactional: true,
            is_control: true,
            ..Default::default()
        },
        records: vec![LogicalRecord {
            timestamp: 1_700_000_020_000 + base_offset,
            key: marker.key().map(|k| Bytes::copy_from_slice(&k)),
            value: marker.value().map(|v| Bytes::copy_from_slice(&v)),
            headers: vec![],
        }],
        marker: Some(marker),
    })
    .collect()
}

fn encode(spec: &Spec) -> Bytes {
    let mut builder = RecordBatchBuilder::new(spec.options);
    match spec.marker {
        Some(marker) => {
            builder
                .push_control(spec.records[0].timestamp, marker)
                .unwrap();
        }
        None => {
            for r in &spec.records {
                builder
                    .push(
                        r.timestamp,
                        r.key.as_deref(),
                        r.value.as_deref(),
                        &r.headers,
                    )
                    .unwrap();
            }
        }
    }
    builder.finish().unwrap()
}

fn b64(bytes: &Option<Bytes>) -> Value {
    use base64::Engine;
    match bytes {
        None => Value::Null,
        Some(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
    }
}

/// The lines RecordDump must print for `spec` encoded as `bytes`, computed from the inputs.
fn expected_lines(spec: &Spec, bytes: &Bytes) -> Vec<Value> {
    let o = &spec.options;
    let n = spec.records.len();
    let max_timestamp = spec.records.iter().map(|r| r.timestamp).max().unwrap();
    let log_append = o.timestamp_type == TimestampType::LogAppendTime;
    let attributes = i64::from(o.compression.id())
        | if log_append { 0x08 } else { 0 }
        | if o.is_transactional { 0x10 } else { 0 }
        | if o.is_control { 0x20 } else { 0 };
    let crc = u32::from_be_bytes(bytes[17..21].try_into().unwrap());
    let mut lines = vec![json!({
        "type": "batch",
        "base_offset": o.base_offset,
        "batch_length": bytes.len() - 12,
        "partition_leader_epoch": o.partition_leader_epoch,
        "magic": 2,
        "crc": crc,
        "attributes": attributes,
        "compression": o.compression.name(),
        "timestamp_type": if log_append { "LogAppendTime" } else { "CreateTime" },
        "is_transactional": o.is_transactional,
        "is_control": o.is_control,
        "last_offset_delta": n - 1,
        "base_timestamp": spec.records[0].timestamp,
        "max_timestamp": max_timestamp,
        "producer_id": o.producer_id,
        "producer_epoch": o.producer_epoch,
        "base_sequence": o.base_sequence,
        "records_count": n,
    })];
    for (i, r) in spec.records.iter().enumerate() {
        let mut line = json!({
            "type": "record",
            "offset": o.base_offset + i as i64,
            "timestamp": if log_append { max_timestamp } else { r.timestamp },
            "key": b64(&r.key),
            "value": b64(&r.value),
            "headers": r.headers.iter().map(|h| json!({
                "key": b64(&Some(h.key.clone())),
                "value": b64(&h.value),
            })).collect::<Vec<_>>(),
        });
        if let Some(marker) = spec.marker {
            let kind = match marker {
                ControlRecord::Commit { .. } => "COMMIT",
                ControlRecord::Abort { .. } => "ABORT",
                ControlRecord::Other { .. } => unreachable!("only markers are encoded here"),
            };
            line["control"] = kind.into();
        }
        lines.push(line);
    }
    lines
}

#[test]
fn the_java_client_decodes_every_batch_we_encode() {
    let classpath = java_classpath();
    let logical = logical_records();
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<(String, Vec<Value>)> = Vec::new();
    let mut args = Vec::new();
    let groups: Vec<(String, Vec<Spec>)> = CODECS
        .iter()
        .map(|&c| (format!("ours-{c}.bin"), specs(c, &logical)))
        .chain([("ours-control.bin".to_string(), marker_specs())])
        .collect();
    for (name, specs) in &groups {
        let path = dir.path().join(name);
        let mut blob = Vec::new();
        let mut expected = vec![json!({
            "type": "file", "path": path.to_str().unwrap(), "kind": "batches",
        })];
        for spec in specs {
            let bytes = encode(spec);
            expected.extend(expected_lines(spec, &bytes));
            blob.extend_from_slice(&bytes);
        }
        std::fs::write(&path, &blob).unwrap();
        args.push(format!("batches:{}", path.display()));
        files.push((name.clone(), expected));
    }

    let out = Command::new("java")
        .args(["-cp", &classpath, "RecordDump"])
        .args(&args)
        .output()
        .expect("java on PATH (Java 17): run scripts/setup.sh on a machine with a JDK");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Java client rejected our bytes: {stderr}"
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let expected: Vec<(String, Value)> = files
        .into_iter()
        .flat_map(|(name, lines)| lines.into_iter().map(move |l| (name.clone(), l)))
        .collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "line count; Java printed {lines:#?}"
    );
    for (i, (got, (file, want))) in lines.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "{file}, line {i}");
    }
    let records = lines.iter().filter(|l| l["type"] == "record").count();
    assert!(records >= 5 * 15, "only {records} records compared");
}
