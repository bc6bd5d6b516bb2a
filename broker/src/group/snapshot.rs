//! A group's membership as written to `__consumer_offsets` in cluster mode, so that the next
//! coordinator of the group carries on with the same members, generation or epoch, and
//! assignments. Our own format, not Kafka's GroupMetadataValue / ConsumerGroup*Value records:
//! this coordinator's state (KIP-848 reconciliation included) differs from Kafka's, and only
//! this broker reads these records. JSON with a `version`, so a later version can add fields
//! (serde defaults) and still read what this one wrote. Deadlines are not kept: they restart
//! when a coordinator loads the group.

use serde::{Deserialize, Serialize};

/// The version this broker writes.
pub const VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub version: u16,
    pub group: GroupKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum GroupKind {
    Classic(ClassicSnapshot),
    Consumer(ConsumerSnapshot),
}

/// A classic group, written when it becomes Stable or Empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicSnapshot {
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// In join order (the leader is the earliest member still present).
    pub members: Vec<ClassicMemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicMemberSnapshot {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    /// (protocol name, metadata in base64).
    pub protocols: Vec<(String, String)>,
    /// Base64.
    pub assignment: String,
}

/// Partitions by topic id (hyphenated).
pub type AssignmentSnapshot = Vec<(String, Vec<i32>)>;

/// A KIP-848 consumer group, written whenever its epochs, members or assignments change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSnapshot {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    /// Target assignment by member id.
    pub target: Vec<(String, AssignmentSnapshot)>,
    /// Subscribed topics as last seen: (name, id, partition count).
    pub topics_seen: Vec<(String, String, i32)>,
    pub members: Vec<ConsumerMemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerMemberSnapshot {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_epoch: i32,
    /// "stable", "unrevoked" or "unreleased".
    pub state: String,
    pub rebalance_timeout_ms: u64,
    pub subscribed: Vec<String>,
    pub subscribed_names: Vec<String>,
    pub regex: Option<String>,
    pub server_assignor: Option<String>,
    pub assigned: AssignmentSnapshot,
    pub revoking: AssignmentSnapshot,
    pub left_static: bool,
}

impl GroupSnapshot {
    pub fn new(group: GroupKind) -> Self {
        Self {
            version: VERSION,
            group,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Plain data: serialization cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `Err` names what does not parse (a record of a newer, incompatible version included).
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let s: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if s.version > VERSION {
            return Err(format!(
                "group record version {} is newer than this broker's {VERSION}",
                s.version
            ));
        }
        Ok(s)
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> bytes::Bytes {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
        .into()
}
