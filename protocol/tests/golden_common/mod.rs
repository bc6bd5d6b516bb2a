//! Shared by the golden-vector tests: loading fixtures and their JSON sidecars, the logical
//! records, and comparing a decoded batch field by field with a batch as the Java client read it
//! (the sidecars and tools/java/RecordDump print the same JSON shape).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use odradek_protocol::records::{ControlRecord, Record, RecordBatch, RecordHeader};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One golden fixture: its path relative to the fixtures dir, bytes and sidecar.
pub struct Fixture {
    pub name: String,
    pub bytes: Bytes,
    pub sidecar: Value,
}

/// Every fixture under `fixtures/{java,librdkafka}`, sorted by name.
pub fn load_fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for source in ["java", "librdkafka"] {
        let dir = fixtures_dir().join(source);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "bin") {
                let sidecar_path = path.with_extension("json");
                let sidecar: Value = serde_json::from_slice(
                    &std::fs::read(&sidecar_path)
                        .unwrap_or_else(|e| panic!("{}: {e}", sidecar_path.display())),
                )
                .unwrap();
                let name = format!("{source}/{}", path.file_name().unwrap().to_string_lossy());
                assert_eq!(
                    sidecar["fixture"],
                    name.as_str(),
                    "sidecar names its fixture"
                );
                out.push(Fixture {
                    name,
                    bytes: Bytes::from(std::fs::read(&path).unwrap()),
                    sidecar,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A base64 JSON string as bytes; JSON null as `None`.
pub fn b64(v: &Value) -> Option<Bytes> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Bytes::from(BASE64.decode(s).expect("valid base64"))),
        other => panic!("expected base64 string or null, got {other}"),
    }
}

pub fn int(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("expected an integer, got {v}"))
}

/// One record of tools/golden/logical-records.json.
#[derive(Debug, Clone)]
pub struct LogicalRecord {
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

pub fn logical_records() -> Vec<LogicalRecord> {
    let path = repo_root().join("tools/golden/logical-records.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| LogicalRecord {
            timestamp: int(&r["timestamp"]),
            key: b64(&r["key"]),
            value: b64(&r["value"]),
            headers: r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| RecordHeader {
                    key: b64(&h["key"]).unwrap(),
                    value: b64(&h["value"]),
                })
                .collect(),
        })
        .collect()
}

/// Asserts that `records` (offsets from 0) are tools/golden/logical-records.json, field by field.
pub fn assert_logical(records: &[Record], ctx: &str) {
    let logical = logical_records();
    assert_eq!(records.len(), logical.len(), "{ctx}: record count");
    for (i, (got, want)) in records.iter().zip(&logical).enumerate() {
        assert_eq!(
            (
                got.offset,
                got.timestamp,
                &got.key,
                &got.value,
                &got.headers
            ),
            (
                i as i64,
                want.timestamp,
                &want.key,
                &want.value,
                &want.headers
            ),
            "{ctx}: record {i}"
        );
    }
}

/// Asserts that every header field and every record of `batch` (decoded by us) equals the JSON
/// batch `expected` (as read by the Java client).
pub fn assert_batch_matches(batch: &RecordBatch, expected: &Value, ctx: &str) {
    let h = &batch.header;
    let fields: [(&str, i64); 16] = [
        ("base_offset", h.base_offset),
        ("batch_length", i64::from(h.batch_length)),
        (
            "partition_leader_epoch",
            i64::from(h.partition_leader_epoch),
        ),
        ("magic", i64::from(h.magic)),
        ("crc", i64::from(h.crc)),
        ("attributes", i64::from(h.attributes)),
        ("last_offset_delta", i64::from(h.last_offset_delta)),
        ("base_timestamp", h.base_timestamp),
        ("max_timestamp", h.max_timestamp),
        ("producer_id", h.producer_id),
        ("producer_epoch", i64::from(h.producer_epoch)),
        ("base_sequence", i64::from(h.base_sequence)),
        ("records_count", i64::from(h.records_count)),
        ("is_transactional", i64::from(h.is_transactional())),
        ("is_control", i64::from(h.is_control())),
        ("total_len", h.total_len() as i64),
    ];
    for (name, ours) in fields {
        let theirs = match name {
            "is_transactional" | "is_control" => i64::from(expected[name].as_bool().unwrap()),
            "total_len" => int(&expected["batch_length"]) + 12,
            _ => int(&expected[name]),
        };
        assert_eq!(ours, theirs, "{ctx}: batch field {name}");
    }
    assert_eq!(
        batch.bytes.len(),
        h.total_len(),
        "{ctx}: batch slice length"
    );
    assert_eq!(
        h.compression().name(),
        expected["compression"].as_str().unwrap(),
        "{ctx}: compression"
    );
    let timestamp_type = match h.timestamp_type() {
        odradek_protocol::records::TimestampType::CreateTime => "CreateTime",
        odradek_protocol::records::TimestampType::LogAppendTime => "LogAppendTime",
    };
    assert_eq!(
        timestamp_type, expected["timestamp_type"],
        "{ctx}: timestamp type"
    );

    let records: Vec<_> = batch
        .records()
        .unwrap_or_else(|e| panic!("{ctx}: {e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let want = expected["records"].as_array().unwrap();
    assert_eq!(records.len(), want.len(), "{ctx}: record count");
    for (i, (got, want)) in records.iter().zip(want).enumerate() {
        let ctx = format!("{ctx}, record {i}");
        assert_eq!(got.offset, int(&want["offset"]), "{ctx}: offset");
        assert_eq!(got.timestamp, int(&want["timestamp"]), "{ctx}: timestamp");
        assert_eq!(got.key, b64(&want["key"]), "{ctx}: key");
        assert_eq!(got.value, b64(&want["value"]), "{ctx}: value");
        let want_headers: Vec<RecordHeader> = want["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| RecordHeader {
                key: b64(&h["key"]).unwrap(),
                value: b64(&h["value"]),
            })
            .collect();
        assert_eq!(got.headers, want_headers, "{ctx}: headers");
        if let Some(control) = want.get("control") {
            let marker = ControlRecord::parse(got, h.base_offset).unwrap();
            let kind = match marker {
                ControlRecord::Commit { .. } => "COMMIT",
                ControlRecord::Abort { .. } => "ABORT",
                ControlRecord::Other { .. } => "OTHER",
            };
            assert_eq!(kind, control.as_str().unwrap(), "{ctx}: control type");
        }
    }
    if h.is_control() {
        assert!(
            batch.control_record().unwrap().is_some(),
            "{ctx}: control marker"
        );
    }
}
