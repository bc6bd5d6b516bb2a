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
    FrameTooLarge { size: usize, max: usize },
    /// The 4-byte size prefix was negative.
    #[error("frame size prefix is negative ({0})")]
    NegativeFrameSize(i32),
    /// A frame ended before a fixed-size part that must be there (`what` names it).
    #[error("frame truncated: {what} needs {needed} bytes, {available} available")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// The API key is not one this library knows.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// The API key is known but not at this version.
    #[error("{api_key:?} v{version} is not supported")]
    UnsupportedVersion { api_key: ApiKey, version: i16 },
    /// The peer speaks no version of this API that we speak.
    #[error("the broker supports no version of {api_key:?} that this client speaks")]
    NoCommonVersion { api_key: ApiKey },
    /// A header or body did not decode (`reason` says what was wrong).
    #[error("cannot decode {api_key:?} v{version}: {reason}")]
    Decode {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
    /// A message could not be encoded (a field out of range for the version, a frame too big).
    #[error("cannot encode {api_key:?} v{version}: {reason}")]
    Encode {
        api_key: ApiKey,
        version: i16,
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
