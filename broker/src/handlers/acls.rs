//! CreateAcls, DescribeAcls, DeleteAcls over the broker's `Authorizer`. Creating and deleting
//! needs ALTER on the cluster, describing DESCRIBE; without `authorizer.class.name` they answer
//! SECURITY_DISABLED, as Kafka.

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};

use super::{Ctx, codes, str_bytes};
use crate::security::acl::{AclBinding, AclFilter, CLUSTER_NAME, op, resource};

/// Why an ACL request cannot be served at all: (error code, message).
fn refusal(ctx: &Ctx, operation: i8) -> Option<(i16, String)> {
    if !ctx.state.acls.enabled {
        return Some((
            codes::SECURITY_DISABLED,
            "No Authorizer is configured (authorizer.class.name)".into(),
        ));
    }
    (!ctx.allowed(operation, resource::CLUSTER, CLUSTER_NAME)).then(|| {
        (
            codes::CLUSTER_AUTHORIZATION_FAILED,
            format!("{} may not manage ACLs", ctx.principal),
        )
    })
}

pub fn create(ctx: &Ctx, req: CreateAclsRequest) -> CreateAclsResponse {
    let mut resp = CreateAclsResponse::default();
    let refused = refusal(ctx, op::ALTER);
    let mut valid = Vec::new();
    for c in req.creations {
        let mut r = AclCreationResult::default();
        let binding = AclBinding {
            resource_type: c.resource_type,
            resource_name: c.resource_name.to_string(),
            pattern_type: c.resource_pattern_type,
            principal: c.principal.to_string(),
            host: c.host.to_string(),
            operation: c.operation,
            permission: c.permission_type,
        };
        if let Some((code, msg)) = &refused {
            r.error_code = *code;
            r.error_message = Some(str_bytes(msg.clone()));
        } else if let Err(why) = binding.validate() {
            r.error_code = codes::INVALID_REQUEST;
            r.error_message = Some(str_bytes(why));
        } else {
            valid.push((resp.results.len(), binding));
        }
        resp.results.push(r);
    }
    if valid.is_empty() {
        return resp;
    }
    let bindings: Vec<AclBinding> = valid.iter().map(|(_, b)| b.clone()).collect();
    match ctx.state.acls.create(&bindings) {
        Ok(()) => {
            tracing::info!(principal = %ctx.principal, count = bindings.len(), "ACLs created")
        }
        Err(e) => {
            for (i, _) in &valid {
                resp.results[*i].error_code = codes::KAFKA_STORAGE_ERROR;
                resp.results[*i].error_message = Some(str_bytes(format!("cannot store ACLs: {e}")));
            }
        }
    }
    resp
}

fn filter(
    resource_type: i8,
    name: Option<&kafka_protocol::protocol::StrBytes>,
    pattern_type: i8,
    principal: Option<&kafka_protocol::protocol::StrBytes>,
    host: Option<&kafka_protocol::protocol::StrBytes>,
    operation: i8,
    permission: i8,
) -> AclFilter {
    AclFilter {
        resource_type,
        resource_name: name.map(|s| s.to_string()),
        pattern_type,
        principal: principal.map(|s| s.to_string()),
        host: host.map(|s| s.to_string()),
        operation,
        permission,
    }
}

pub fn describe(ctx: &Ctx, req: DescribeAclsRequest) -> DescribeAclsResponse {
    let mut resp = DescribeAclsResponse::default();
    if let Some((code, msg)) = refusal(ctx, op::DESCRIBE) {
        resp.error_code = code;
        resp.error_message = Some(str_bytes(msg));
        return resp;
    }
    let f = filter(
        req.resource_type_filter,
        req.resource_name_filter.as_ref(),
        req.pattern_type_filter,
        req.principal_filter.as_ref(),
        req.host_filter.as_ref(),
        req.operation,
        req.permission_type,
    );
    for b in ctx.state.acls.describe(&f) {
        let mut d = AclDescription::default();
        d.principal = str_bytes(b.principal);
        d.host = str_bytes(b.host);
        d.operation = b.operation;
        d.permission_type = b.permission;
        let same = |r: &&mut DescribeAclsResource| {
            r.resource_type == b.resource_type
                && r.pattern_type == b.pattern_type
                && r.resource_name.as_str() == b.resource_name
        };
        match resp.resources.iter_mut().find(same) {
            Some(r) => r.acls.push(d),
            None => {
                let mut r = DescribeAclsResource::default();
                r.resource_type = b.resource_type;
                r.resource_name = str_bytes(b.resource_name);
                r.pattern_type = b.pattern_type;
                r.acls.push(d);
                resp.resources.push(r);
            }
        }
    }
    resp
}

pub fn delete(ctx: &Ctx, req: DeleteAclsRequest) -> DeleteAclsResponse {
    let mut resp = DeleteAclsResponse::default();
    if let Some((code, msg)) = refusal(ctx, op::ALTER) {
        for _ in &req.filters {
            let mut r = DeleteAclsFilterResult::default();
            r.error_code = code;
            r.error_message = Some(str_bytes(msg.clone()));
            resp.filter_results.push(r);
        }
        return resp;
    }
    let filters: Vec<AclFilter> = req
        .filters
        .iter()
        .map(|f| {
            filter(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    match ctx.state.acls.delete(&filters) {
        Ok(removed) => {
            for bindings in removed {
                let mut r = DeleteAclsFilterResult::default();
                for b in bindings {
                    let mut m = DeleteAclsMatchingAcl::default();
                    m.resource_type = b.resource_type;
                    m.resource_name = str_bytes(b.resource_name);
                    m.pattern_type = b.pattern_type;
                    m.principal = str_bytes(b.principal);
                    m.host = str_bytes(b.host);
                    m.operation = b.operation;
                    m.permission_type = b.permission;
                    r.matching_acls.push(m);
                }
                resp.filter_results.push(r);
            }
            tracing::info!(principal = %ctx.principal, "ACLs deleted");
        }
        Err(e) => {
            for _ in &filters {
                let mut r = DeleteAclsFilterResult::default();
                r.error_code = codes::KAFKA_STORAGE_ERROR;
                r.error_message = Some(str_bytes(format!("cannot store ACLs: {e}")));
                resp.filter_results.push(r);
            }
        }
    }
    resp
}
