//! DescribeCluster: this single node. DescribeClientQuotas: this broker enforces no client
//! quotas, so there are none to describe (Kafka's admin tools ask for them next to SCRAM users).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::{Ctx, authorized, str_bytes};
use crate::security::acl::{CLUSTER_NAME, op, resource};

pub fn describe_cluster(ctx: &Ctx, req: DescribeClusterRequest) -> DescribeClusterResponse {
    let s = &ctx.state;
    let mut r = DescribeClusterResponse::default();
    r.cluster_id = str_bytes(s.cluster_id.clone());
    r.controller_id = BrokerId(super::cluster_view::controller_id(ctx));
    r.endpoint_type = req.endpoint_type;
    if req.endpoint_type > 1 {
        // Endpoint type 2 (controllers) is not offered by a combined single node.
        r.error_code = super::codes::UNSUPPORTED_VERSION;
        r.error_message = Some(str_bytes("only broker endpoints (type 1) are described"));
        return r;
    }
    r.brokers = super::cluster_view::brokers(ctx)
        .into_iter()
        .map(|a| {
            let mut b = DescribeClusterBroker::default();
            b.broker_id = BrokerId(a.id);
            b.host = str_bytes(a.host);
            b.port = a.port;
            b.rack = a.rack.map(str_bytes);
            b
        })
        .collect();
    r.cluster_authorized_operations = authorized::if_requested(
        req.include_cluster_authorized_operations,
        authorized::granted(ctx, resource::CLUSTER, CLUSTER_NAME, authorized::CLUSTER),
    );
    r
}

pub fn describe_client_quotas(
    ctx: &Ctx,
    _req: kafka_protocol::messages::DescribeClientQuotasRequest,
) -> kafka_protocol::messages::DescribeClientQuotasResponse {
    let mut r = kafka_protocol::messages::DescribeClientQuotasResponse::default();
    if !ctx.allowed(op::DESCRIBE_CONFIGS, resource::CLUSTER, CLUSTER_NAME) {
        r.error_code = super::codes::CLUSTER_AUTHORIZATION_FAILED;
        r.error_message = Some(str_bytes(format!(
            "{} may not describe client quotas",
            ctx.principal
        )));
        return r;
    }
    r.entries = Some(Vec::new());
    r
}
