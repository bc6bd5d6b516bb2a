//! ApiVersions: the table in `server::versions` (Produce advertised from v0, as Kafka 4 does).

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::server::versions::SUPPORTED_APIS;

/// The feature KIP-890 clients look for.
pub const TRANSACTION_VERSION: &str = "transaction.version";

/// The response body with `error_code` (0, or UNSUPPORTED_VERSION for the v0 fallback) and the
/// finalized `transaction.version` (v3+ carry features; older versions drop them).
pub fn response(error_code: i16, transaction_version: i16) -> ApiVersionsResponse {
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
    let name = StrBytes::from_static_str(TRANSACTION_VERSION);
    let mut supported = SupportedFeatureKey::default();
    supported.name = name.clone();
    supported.min_version = 0;
    supported.max_version = 2;
    r.supported_features = vec![supported];
    // Level 0 is "not finalized": Kafka lists only levels above 0.
    if transaction_version > 0 {
        let mut finalized = FinalizedFeatureKey::default();
        finalized.name = name;
        finalized.min_version_level = transaction_version;
        finalized.max_version_level = transaction_version;
        r.finalized_features = vec![finalized];
    }
    // One node, never changed while it runs: epoch 0 once anything is finalized.
    r.finalized_features_epoch = if transaction_version > 0 { 0 } else { -1 };
    r
}
