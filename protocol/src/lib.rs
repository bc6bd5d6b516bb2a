//! The Kafka wire protocol, sans-io: everything both the client (`odradek`) and the broker
//! (`odradek-broker`) need to read and write Kafka's bytes, and nothing about sockets, tasks or
//! clocks. The connection layers (the client's `net`, the broker's `server`) feed bytes in and
//! take frames out.
//!
//! Modules, bottom up:
//! - [`frame`]: the 4-byte size prefix; a frame decoder that grows its buffer only as bytes arrive.
//! - [`codec`]: request and response headers and bodies, with the wire-shape checks that bound
//!   every count and length before anything is allocated.
//! - [`versions`]: API version negotiation (the ranges each side supports, intersected).
//! - [`records`]: RecordBatch v2 encoding and lazy, zero-copy decoding.
//! - [`compression`]: gzip, snappy, lz4 and zstd with Kafka's framing rules.
//! - [`buffers`]: recycled byte buffers that decoded records point into.
//! - [`config`]: config value kinds and checks shared by the client's and the broker's tables.
//! - [`sasl`]: SASL mechanisms (PLAIN, SCRAM-SHA-256/512 client and server, OAUTHBEARER and
//!   unsecured JWTs) as pure state machines.
//!
//! Message bodies are the structs of the `kafka-protocol` crate, re-exported as [`messages`].
//! The `client` feature builds what a client needs (encode requests, decode responses), the
//! `broker` feature the other direction; a client build carries no request decoders.
//!
//! ```
//! use odradek_protocol::records::{BatchOptions, RecordBatchBuilder, RecordBatches};
//!
//! let mut builder = RecordBatchBuilder::new(BatchOptions::default());
//! builder.push(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]).unwrap();
//! let bytes = builder.finish().unwrap();
//! let batch = RecordBatches::strict(bytes).next().unwrap().unwrap();
//! let record = batch.records().unwrap().next().unwrap().unwrap();
//! assert_eq!(record.value.as_deref(), Some(&b"value"[..]));
//! ```

// Every public item says what it is; the crate is the API other crates build on.
#![warn(missing_docs)]

pub mod buffers;
pub mod codec;
pub mod compression;
pub mod config;
mod error;
pub mod frame;
pub mod records;
#[cfg(feature = "client")]
mod request_frame;
pub mod sasl;
pub mod security;
#[cfg(any(feature = "client", feature = "broker"))]
mod shape;
pub mod versions;

pub use error::ProtocolError;
pub use kafka_protocol::messages;
pub use kafka_protocol::messages::{
    ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
pub use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Message, Request, StrBytes,
};
#[cfg(feature = "client")]
pub use request_frame::{EncodeRequest, RequestFrame};
