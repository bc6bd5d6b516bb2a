//! ApiVersions: the table in `server::versions` (Produce advertised from v0, as Kafka 4 does).

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};

use crate::server::versions::SUPPORTED_APIS;

/// The response body with `error_code` (0, or UNSUPPORTED_VERSION for the v0 fallback).
pub fn response(error_code: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = error_code;
    r.api_keys = SUPPORTED_APIS
        .iter()
        .map(|&(k, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = k as i16;
            // Like Kafka 4 (KAFKA-18659), advertise Produce from v0 although v0-2 requests are
            // refused: older librdkafka (Debian's 2.0.2 among them) sends gzip and snappy batches
            // uncompressed unless the broker lists Produce v0 ("Broker does not support
            // compression type").
            v.min_version = if k == ApiKey::Produce { 0 } else { min };
            v.max_version = max;
            v
        })
        .collect();
    r.finalized_features_epoch = -1;
    r
}
