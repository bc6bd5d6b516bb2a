//! Wall-clock helpers (Kafka timestamps are milliseconds since the Unix epoch).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// 64 random bits from the std hasher's per-process random keys (ids, not cryptography).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A random (version 4 shaped) UUID.
pub fn random_uuid() -> uuid::Uuid {
    let v = ((random_u64() as u128) << 64) | random_u64() as u128;
    uuid::Builder::from_random_bytes(v.to_be_bytes()).into_uuid()
}
