//! Errors of the protocol layer.

use kafka_protocol::messages::ApiKey;

/// Why a frame or message could not be read or written.
///
/// None of these is cured by retrying the same bytes: a malformed frame means the connection's
/// framing can no longer be trusted, so the owner closes that one connection (and a client may
/// reconnect). [`ProtocolError::is_retriable`] says so explicitly for callers that classify errors.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The 4-byte size prefix announced more than the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The announced frame size, in bytes (excluding the prefix).
        size: usize,
        /// The configured maximum frame size, in bytes.
        max: usize,
    },
    /// The 4-byte size prefix was negative.
    #[error("frame size prefix is negative ({0})")]
    NegativeFrameSize(i32),
    /// A frame ended before a fixed-size part that must be there (`what` names it).
    #[error("frame truncated: {what} needs {needed} bytes, {available} available")]
    Truncated {
        /// The part that was cut short (a header field, a length-prefixed section).
        what: &'static str,
        /// The bytes that part needs.
        needed: usize,
        /// The bytes left in the frame.
        available: usize,
    },
    /// The API key is not one this library knows.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// The API key is known but not at this version.
    #[error("{api_key:?} v{version} is not supported")]
    UnsupportedVersion {
        /// The API asked for.
        api_key: ApiKey,
        /// The version asked for, outside the range this library implements for that API.
        version: i16,
    },
    /// The peer speaks no version of this API that we speak.
    #[error("the broker supports no version of {api_key:?} that this client speaks")]
    NoCommonVersion {
        /// The API whose version ranges do not overlap.
        api_key: ApiKey,
    },
    /// A header or body did not decode (`reason` says what was wrong).
    #[error("cannot decode {api_key:?} v{version}: {reason}")]
    Decode {
        /// The API of the message that failed.
        api_key: ApiKey,
        /// The version it was decoded at.
        version: i16,
        /// What was wrong (which field, which bound).
        reason: String,
    },
    /// A message could not be encoded (a field out of range for the version, a frame too big).
    #[error("cannot encode {api_key:?} v{version}: {reason}")]
    Encode {
        /// The API of the message that failed.
        api_key: ApiKey,
        /// The version it was encoded at.
        version: i16,
        /// Which field did not fit the version, or why the frame was refused.
        reason: String,
    },
}

impl ProtocolError {
    /// Whether sending the same request again may succeed. Never for protocol errors: the bytes or
    /// the version choice are wrong, not the moment.
    pub fn is_retriable(&self) -> bool {
        false
    }
}
