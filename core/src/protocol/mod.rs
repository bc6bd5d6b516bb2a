//! The Kafka wire protocol, sans-io: framing, request/response headers, API version
//! negotiation. No sockets here; the connection layers (`net`, the broker's server) feed bytes in
//! and take frames out.
//!
//! Message bodies are the structs of the `kafka-protocol` crate, re-exported as [`messages`].

pub mod codec;
mod error;
pub mod frame;
mod request_frame;
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
pub use request_frame::{EncodeRequest, RequestFrame};
