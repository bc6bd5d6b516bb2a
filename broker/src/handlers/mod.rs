//! Request handlers, one module per API family. Each takes the decoded request and returns the
//! response body; handlers that must wait (fetch long poll, fsync before ack, a JoinGroup parked
//! until the rebalance completes) return a future. Group APIs (`groups`) translate the wire
//! structs for the coordinator in `crate::group`, transaction APIs (`txn`) for the one in
//! `crate::txn`.

pub mod acls;
pub mod admin;
pub mod api_versions;
pub mod authorized;
pub mod cluster;
pub mod cluster_view;
pub mod configs;
pub mod fetch;
pub mod forward;
pub mod groups;
pub mod log_dirs;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod reassign;
pub mod scram;
pub mod share;
pub mod txn;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::messages::{RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;

use crate::security::Listener;
use crate::security::acl::{CLUSTER_NAME, Requester, op, resource};
use crate::state::BrokerState;

/// What a handler needs besides the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub state: Arc<BrokerState>,
    pub shutdown: watch::Receiver<bool>,
    /// The client's address (DescribeGroups reports it as the member's host).
    pub peer: std::net::SocketAddr,
    /// The listener the client connected to (Metadata advertises its address).
    pub listener: Arc<Listener>,
    /// `User:ANONYMOUS`, `User:<SASL name>` or `User:<certificate DN>`.
    pub principal: Arc<str>,
}

impl Ctx {
    /// Whether this connection's principal may do `operation` on the resource (always, without
    /// `authorizer.class.name`).
    pub fn allowed(&self, operation: i8, resource_type: i8, name: &str) -> bool {
        if !self.state.acls.enabled {
            return true;
        }
        let host = self.peer.ip().to_string();
        let who = Requester {
            principal: &self.principal,
            host: &host,
        };
        self.state
            .acls
            .authorize(who, operation, resource_type, name)
    }

    /// Kafka's idempotent-producer check: IDEMPOTENT_WRITE on the cluster, or WRITE on some
    /// topic.
    pub fn may_produce_idempotently(&self) -> bool {
        if self.allowed(op::IDEMPOTENT_WRITE, resource::CLUSTER, CLUSTER_NAME) {
            return true;
        }
        let host = self.peer.ip().to_string();
        self.state.acls.may_write_some_topic(Requester {
            principal: &self.principal,
            host: &host,
        })
    }
}

pub type BodyFuture = Pin<Box<dyn Future<Output = ResponseKind> + Send>>;

/// A handler's answer.
pub enum Outcome {
    Respond(Box<ResponseKind>),
    /// Completes later (long poll, waiting for fsync); still answered in request order.
    Later(BodyFuture),
    /// Produce with acks=0: Kafka sends nothing back.
    NoResponse,
}

/// Routes a decoded request to its handler. Only APIs in `SUPPORTED_APIS` reach here.
pub async fn handle(ctx: &Ctx, header: &RequestHeader, request: RequestKind) -> Outcome {
    let v = header.request_api_version;
    let respond = |r: ResponseKind| Outcome::Respond(Box::new(r));
    let clustered = ctx.state.cluster.is_some();
    match request {
        RequestKind::CreateTopics(r) if clustered => forward::create_topics(ctx, v, r),
        RequestKind::DeleteTopics(r) if clustered => forward::delete_topics(ctx, v, r),
        RequestKind::CreatePartitions(r) if clustered => forward::create_partitions(ctx, r),
        RequestKind::AlterPartitionReassignments(r) => {
            reassign::alter_partition_reassignments(ctx, r)
        }
        RequestKind::ListPartitionReassignments(r) => {
            respond(ResponseKind::ListPartitionReassignments(
                reassign::list_partition_reassignments(ctx, r),
            ))
        }
        RequestKind::ElectLeaders(r) => reassign::elect_leaders(ctx, v, r),
        RequestKind::DescribeLogDirs(r) => respond(ResponseKind::DescribeLogDirs(
            log_dirs::describe_log_dirs(ctx, r),
        )),
        RequestKind::ApiVersions(_) => respond(ResponseKind::ApiVersions(api_versions::response(
            0,
            ctx.state.props().transaction_version(),
        ))),
        RequestKind::Metadata(r) => respond(ResponseKind::Metadata(metadata::handle(ctx, v, r))),
        RequestKind::Produce(r) => produce::handle(ctx, v, r),
        RequestKind::Fetch(r) => fetch::handle(ctx, v, r),
        RequestKind::ListOffsets(r) => {
            respond(ResponseKind::ListOffsets(offsets::list_offsets(ctx, v, r)))
        }
        RequestKind::OffsetForLeaderEpoch(r) => respond(ResponseKind::OffsetForLeaderEpoch(
            offsets::offset_for_leader_epoch(ctx, r),
        )),
        RequestKind::DeleteRecords(r) => {
            respond(ResponseKind::DeleteRecords(offsets::delete_records(ctx, r)))
        }
        RequestKind::CreateTopics(r) => {
            respond(ResponseKind::CreateTopics(admin::create_topics(ctx, v, r)))
        }
        RequestKind::DeleteTopics(r) => {
            respond(ResponseKind::DeleteTopics(admin::delete_topics(ctx, v, r)))
        }
        RequestKind::CreatePartitions(r) => respond(ResponseKind::CreatePartitions(
            admin::create_partitions(ctx, r),
        )),
        RequestKind::DescribeConfigs(r) => respond(ResponseKind::DescribeConfigs(
            configs::describe_configs(ctx, r),
        )),
        RequestKind::AlterConfigs(r) => configs::alter_configs(ctx, r),
        RequestKind::IncrementalAlterConfigs(r) => configs::incremental_alter_configs(ctx, r),
        RequestKind::DescribeCluster(r) => respond(ResponseKind::DescribeCluster(
            cluster::describe_cluster(ctx, r),
        )),
        RequestKind::InitProducerId(r) => producer_id::init_producer_id(ctx, r),
        RequestKind::AddPartitionsToTxn(r) => respond(ResponseKind::AddPartitionsToTxn(
            txn::add_partitions_to_txn(ctx, v, r),
        )),
        RequestKind::AddOffsetsToTxn(r) => respond(ResponseKind::AddOffsetsToTxn(
            txn::add_offsets_to_txn(ctx, r),
        )),
        RequestKind::EndTxn(r) => txn::end_txn(ctx, v, r),
        RequestKind::TxnOffsetCommit(r) => respond(ResponseKind::TxnOffsetCommit(
            txn::txn_offset_commit(ctx, v, r),
        )),
        RequestKind::WriteTxnMarkers(r) => txn::write_txn_markers(ctx, r),
        RequestKind::DescribeTransactions(r) => respond(ResponseKind::DescribeTransactions(
            txn::describe_transactions(ctx, r),
        )),
        RequestKind::ListTransactions(r) => respond(ResponseKind::ListTransactions(
            txn::list_transactions(ctx, v, r),
        )),
        RequestKind::FindCoordinator(r) => groups::find_coordinator(ctx, v, r),
        RequestKind::JoinGroup(r) => {
            let client_id = header.client_id.as_deref().unwrap_or_default();
            groups::join_group(ctx, v, client_id, r)
        }
        RequestKind::SyncGroup(r) => groups::sync_group(ctx, r),
        RequestKind::Heartbeat(r) => respond(ResponseKind::Heartbeat(groups::heartbeat(ctx, r))),
        RequestKind::LeaveGroup(r) => {
            respond(ResponseKind::LeaveGroup(groups::leave_group(ctx, v, r)))
        }
        RequestKind::OffsetCommit(r) => groups::offset_commit(ctx, v, r),
        RequestKind::OffsetFetch(r) => {
            respond(ResponseKind::OffsetFetch(groups::offset_fetch(ctx, v, r)))
        }
        RequestKind::OffsetDelete(r) => {
            respond(ResponseKind::OffsetDelete(groups::offset_delete(ctx, r)))
        }
        RequestKind::DescribeGroups(r) => respond(ResponseKind::DescribeGroups(
            groups::describe_groups(ctx, v, r),
        )),
        RequestKind::ListGroups(r) => {
            respond(ResponseKind::ListGroups(groups::list_groups(ctx, r)))
        }
        RequestKind::DeleteGroups(r) => {
            respond(ResponseKind::DeleteGroups(groups::delete_groups(ctx, r)))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => {
            let client_id = header.client_id.as_deref().unwrap_or_default();
            respond(ResponseKind::ConsumerGroupHeartbeat(
                groups::consumer_group_heartbeat(ctx, client_id, r),
            ))
        }
        RequestKind::ConsumerGroupDescribe(r) => respond(ResponseKind::ConsumerGroupDescribe(
            groups::consumer_group_describe(ctx, r),
        )),
        RequestKind::ShareGroupHeartbeat(r) => {
            let client_id = header.client_id.as_deref().unwrap_or_default();
            respond(ResponseKind::ShareGroupHeartbeat(
                share::share_group_heartbeat(ctx, client_id, r),
            ))
        }
        RequestKind::ShareGroupDescribe(r) => respond(ResponseKind::ShareGroupDescribe(
            share::share_group_describe(ctx, r),
        )),
        RequestKind::ShareFetch(r) => share::share_fetch(ctx, r),
        RequestKind::ShareAcknowledge(r) => respond(ResponseKind::ShareAcknowledge(
            share::share_acknowledge(ctx, v, r),
        )),
        RequestKind::DescribeShareGroupOffsets(r) => respond(
            ResponseKind::DescribeShareGroupOffsets(share::describe_share_group_offsets(ctx, r)),
        ),
        RequestKind::AlterShareGroupOffsets(r) => respond(ResponseKind::AlterShareGroupOffsets(
            share::alter_share_group_offsets(ctx, r),
        )),
        RequestKind::DeleteShareGroupOffsets(r) => respond(ResponseKind::DeleteShareGroupOffsets(
            share::delete_share_group_offsets(ctx, r),
        )),
        RequestKind::DescribeClientQuotas(r) => respond(ResponseKind::DescribeClientQuotas(
            cluster::describe_client_quotas(ctx, r),
        )),
        RequestKind::CreateAcls(r) => respond(ResponseKind::CreateAcls(acls::create(ctx, r))),
        RequestKind::DescribeAcls(r) => respond(ResponseKind::DescribeAcls(acls::describe(ctx, r))),
        RequestKind::DeleteAcls(r) => respond(ResponseKind::DeleteAcls(acls::delete(ctx, r))),
        RequestKind::DescribeUserScramCredentials(r) => respond(
            ResponseKind::DescribeUserScramCredentials(scram::describe(ctx, r)),
        ),
        RequestKind::AlterUserScramCredentials(r) => respond(
            ResponseKind::AlterUserScramCredentials(scram::alter(ctx, r)),
        ),
        // Reached only on listeners without SASL (the connection serves them on SASL ones).
        RequestKind::SaslHandshake(_) => {
            let mut r = kafka_protocol::messages::SaslHandshakeResponse::default();
            r.error_code = crate::security::sasl::ILLEGAL_SASL_STATE;
            respond(ResponseKind::SaslHandshake(r))
        }
        RequestKind::SaslAuthenticate(_) => {
            let mut r = kafka_protocol::messages::SaslAuthenticateResponse::default();
            r.error_code = crate::security::sasl::ILLEGAL_SASL_STATE;
            r.error_message = Some(str_bytes(format!(
                "listener {} does not use SASL",
                ctx.listener.name
            )));
            respond(ResponseKind::SaslAuthenticate(r))
        }
        other => {
            // Unreachable while the version table and this match agree; answer nothing rather
            // than panic, and say so.
            tracing::error!(request = ?std::mem::discriminant(&other), "no handler for a supported API");
            Outcome::NoResponse
        }
    }
}

pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Kafka error codes used by several handlers.
pub mod codes {
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const INVALID_REQUEST: i16 = 42;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 76;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const INVALID_CONFIG: i16 = 40;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub const SECURITY_DISABLED: i16 = 54;
}

/// Checks a client's `current_leader_epoch` against ours (-1 means "not checked").
pub fn check_leader_epoch(requested: i32, ours: i32) -> i16 {
    if requested == -1 || requested == ours {
        codes::NONE
    } else if requested < ours {
        codes::FENCED_LEADER_EPOCH
    } else {
        codes::UNKNOWN_LEADER_EPOCH
    }
}
