//! API version negotiation: intersect the versions we speak with the ones a broker advertises
//! in its ApiVersions response, and use the highest version both sides know.

use std::collections::BTreeMap;

use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};

use super::ProtocolError;

/// The APIs and version ranges the Odradek client speaks.
///
/// Every range lies inside what the `kafka-protocol` crate encodes, what Apache Kafka 4.3 serves
/// and what the Java 4.x client sends. The maxima stop before versions that change the client's
/// obligations: Produce v13+, Fetch v13+, OffsetCommit v10+ and OffsetFetch v10+ (topic ids
/// instead of names). Produce v12, EndTxn v5 and TxnOffsetCommit v5 are transaction version 2
/// (KIP-890): a transactional producer uses them only when the broker finalized the
/// `transaction.version` feature at 2, and caps them one below otherwise.
pub const CLIENT_SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 4, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AlterPartitionReassignments, 0, 1),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::DescribeTopicPartitions, 0, 0),
    // KIP-932 share groups, the share consumer (`core/src/share/`).
    (ApiKey::ShareGroupHeartbeat, 1, 1),
    (ApiKey::ShareFetch, 1, 1),
    (ApiKey::ShareAcknowledge, 1, 1),
];

/// The versions usable with one broker: for each API both sides speak, the common range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiVersionMap {
    common: BTreeMap<i16, (i16, i16)>,
    /// Finalized feature → its level (KIP-584; ApiVersions v3+).
    features: BTreeMap<String, i16>,
}

impl ApiVersionMap {
    /// Intersects `ours` with the ranges in the broker's ApiVersions response. APIs the broker
    /// does not list, or whose ranges do not overlap ours, are left out. The response's error code
    /// is not looked at: an UNSUPPORTED_VERSION answer still lists the broker's ranges.
    pub fn negotiate(ours: &[(ApiKey, i16, i16)], theirs: &ApiVersionsResponse) -> Self {
        let mut common = BTreeMap::new();
        for &(api_key, our_min, our_max) in ours {
            let key = api_key as i16;
            let Some(their) = theirs.api_keys.iter().find(|k| k.api_key == key) else {
                continue;
            };
            let min = our_min.max(their.min_version);
            let max = our_max.min(their.max_version);
            if min <= max {
                common.insert(key, (min, max));
            }
        }
        let features = theirs
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.max_version_level))
            .collect();
        Self { common, features }
    }

    /// The level at which the broker finalized `feature` (0 when it did not).
    pub fn finalized_level(&self, feature: &str) -> i16 {
        self.features.get(feature).copied().unwrap_or(0)
    }

    /// The highest version both sides speak, if any.
    pub fn version(&self, api_key: ApiKey) -> Option<i16> {
        self.common.get(&(api_key as i16)).map(|&(_, max)| max)
    }

    /// The common range `(min, max)`, if any.
    pub fn range(&self, api_key: ApiKey) -> Option<(i16, i16)> {
        self.common.get(&(api_key as i16)).copied()
    }

    /// Like [`version`](Self::version), as an error naming the API when there is none.
    pub fn require(&self, api_key: ApiKey) -> Result<i16, ProtocolError> {
        self.version(api_key)
            .ok_or(ProtocolError::NoCommonVersion { api_key })
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    use super::*;

    fn advertised(ranges: &[(i16, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse::default().with_api_keys(
            ranges
                .iter()
                .map(|&(k, min, max)| {
                    ApiVersion::default()
                        .with_api_key(k)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
        )
    }

    #[test]
    fn picks_the_highest_common_version() {
        let ours = [
            (ApiKey::Produce, 3, 11),
            (ApiKey::Fetch, 4, 12),
            (ApiKey::Metadata, 4, 12),
            (ApiKey::ApiVersions, 0, 4),
        ];
        // Produce: broker newer; Fetch: broker older; Metadata: disjoint; ApiVersions: not listed.
        let theirs = advertised(&[(0, 0, 13), (1, 4, 7), (3, 0, 3), (999, 0, 1)]);
        let map = ApiVersionMap::negotiate(&ours, &theirs);
        assert_eq!(map.version(ApiKey::Produce), Some(11));
        assert_eq!(map.range(ApiKey::Produce), Some((3, 11)));
        assert_eq!(map.version(ApiKey::Fetch), Some(7));
        assert_eq!(map.range(ApiKey::Fetch), Some((4, 7)));
        assert_eq!(map.version(ApiKey::Metadata), None);
        assert_eq!(map.version(ApiKey::ApiVersions), None);
        assert!(matches!(
            map.require(ApiKey::Metadata),
            Err(ProtocolError::NoCommonVersion {
                api_key: ApiKey::Metadata
            })
        ));
    }

    #[test]
    fn keeps_finalized_feature_levels() {
        use kafka_protocol::messages::api_versions_response::FinalizedFeatureKey;
        let mut theirs = advertised(&[(0, 0, 13)]);
        theirs.finalized_features = vec![
            FinalizedFeatureKey::default()
                .with_name(kafka_protocol::protocol::StrBytes::from_static_str(
                    "transaction.version",
                ))
                .with_min_version_level(2)
                .with_max_version_level(2),
        ];
        let map = ApiVersionMap::negotiate(CLIENT_SUPPORTED, &theirs);
        assert_eq!(map.finalized_level("transaction.version"), 2);
        assert_eq!(map.finalized_level("group.version"), 0);
    }

    #[test]
    fn client_table_fits_what_the_codec_can_encode() {
        for &(api_key, min, max) in CLIENT_SUPPORTED {
            let valid = crate::codec::supported_versions(api_key);
            assert!(
                valid.min <= min && min <= max && max <= valid.max,
                "{api_key:?} {min}..={max} outside what kafka-protocol encodes both ways ({valid})"
            );
        }
        let mut keys: Vec<i16> = CLIENT_SUPPORTED.iter().map(|e| e.0 as i16).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), CLIENT_SUPPORTED.len(), "an API listed twice");
    }
}
