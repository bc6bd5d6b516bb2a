//! ApiVersions: exactly the table in `server::versions`.

use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::ApiVersion;

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
            v.min_version = min;
            v.max_version = max;
            v
        })
        .collect();
    r.finalized_features_epoch = -1;
    r
}
