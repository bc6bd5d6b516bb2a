//! DescribeCluster: this single node.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::{Ctx, authorized, str_bytes};

pub fn describe_cluster(ctx: &Ctx, req: DescribeClusterRequest) -> DescribeClusterResponse {
    let s = &ctx.state;
    let mut r = DescribeClusterResponse::default();
    r.cluster_id = str_bytes(s.cluster_id.clone());
    r.controller_id = BrokerId(s.node_id);
    r.endpoint_type = req.endpoint_type;
    if req.endpoint_type > 1 {
        // Endpoint type 2 (controllers) is not offered by a combined single node.
        r.error_code = super::codes::UNSUPPORTED_VERSION;
        r.error_message = Some(str_bytes("only broker endpoints (type 1) are described"));
        return r;
    }
    let mut b = DescribeClusterBroker::default();
    b.broker_id = BrokerId(s.node_id);
    b.host = str_bytes(ctx.listener.advertised_host.clone());
    b.port = ctx.listener.advertised_port;
    r.brokers = vec![b];
    r.cluster_authorized_operations = authorized::if_requested(
        req.include_cluster_authorized_operations,
        authorized::CLUSTER,
    );
    r
}
