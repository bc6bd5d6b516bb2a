//! Odradek: a Kafka client core.
//!
//! The layers, bottom up:
//! - [`protocol`]: sans-io framing, request/response headers, API version negotiation.
//! - [`records`]: RecordBatch v2 encoding and lazy, zero-copy decoding.
//! - [`compression`]: the four Kafka codecs with Kafka's framing rules.
//! - [`net`]: one multiplexed connection per broker, reconnect with backoff.
//! - [`cluster`]: bootstrap, metadata cache, leader routing.
//! - [`config`] and [`error`]: property names as librdkafka / Java, one error type.

// Every public item says what it is; the crate is the API other crates build on.
#![warn(missing_docs)]

pub mod admin;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod error;
pub mod group;
pub mod net;
pub mod producer;
pub mod runtime;

// The codec lives in `odradek-protocol`, shared with the broker; the client re-exports it so a
// user needs one crate (`odradek::records::Record`, `odradek::protocol::messages`).
pub use odradek_protocol as protocol;
pub(crate) use odradek_protocol::buffers;
pub use odradek_protocol::{compression, records};
