//! Odradek: a Kafka client core.
//!
//! The layers, bottom up:
//! - [`protocol`]: sans-io framing, request/response headers, API version negotiation.
//! - [`records`]: RecordBatch v2 encoding and lazy, zero-copy decoding.
//! - [`compression`]: the four Kafka codecs with Kafka's framing rules.

pub mod compression;
pub mod error;
pub mod protocol;
pub mod records;
