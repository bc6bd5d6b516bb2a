//! Odradek: a Kafka client core.
//!
//! The layers, bottom up:
//! - [`protocol`]: the sans-io codec crate `odradek-protocol`, re-exported (framing, headers,
//!   API version negotiation, the request/response codec); [`records`] (RecordBatch v2 encoding
//!   and lazy, zero-copy decoding) and [`compression`] (the four Kafka codecs) are its modules.
//! - [`runtime`]: where background tasks run (the caller's tokio runtime, or the library's own).
//! - [`net`]: one multiplexed connection per broker, reconnect with backoff.
//! - [`cluster`]: bootstrap, metadata cache, leader routing, ListOffsets.
//! - [`producer`]: `send` → accumulator → sender task → delivery futures.
//! - [`consumer`]: manual assignment, the fetcher task, lazy hand-out; [`consumer::ConsumerClient`]
//!   is the consumer every binding wraps.
//! - [`group`]: consumer-group membership (classic and KIP-848), assignors, commits.
//! - [`share`]: the share consumer (KIP-932 share groups: acknowledge, release, reject).
//! - [`admin`]: topics, configs, offsets, records, cluster and group administration.
//! - [`config`] and [`error`]: property names as librdkafka / Java, one error type.
//!
//! The internals (tasks, locks, the path of a record) are described in `docs/ARCHITECTURE.md`.

// Every public item says what it is; the crate is the API other crates build on.
#![warn(missing_docs)]

pub mod admin;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod error;
pub mod events;
pub mod group;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod producer;
pub mod runtime;
pub mod security;
pub mod share;

// The codec lives in `odradek-protocol`, shared with the broker; the client re-exports it so a
// user needs one crate (`odradek::records::Record`, `odradek::protocol::messages`).
pub use odradek_protocol as protocol;
pub(crate) use odradek_protocol::buffers;
pub use odradek_protocol::{compression, records};
