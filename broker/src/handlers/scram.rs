//! DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554), over the broker's
//! `ScramStore`: Kafka's own admin tools (`kafka-configs.sh --alter --add-config
//! 'SCRAM-SHA-512=[password=...]'`) manage users here. One result per user; a user's changes
//! in one request are applied together or not at all.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::{Ctx, str_bytes};
use crate::security::acl::{CLUSTER_NAME, op, resource};
use crate::security::scram_store::{Upsert, codes};

pub fn describe(
    ctx: &Ctx,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let mut resp = DescribeUserScramCredentialsResponse::default();
    if !ctx.allowed(op::DESCRIBE, resource::CLUSTER, CLUSTER_NAME) {
        resp.error_code = super::codes::CLUSTER_AUTHORIZATION_FAILED;
        resp.error_message = Some(str_bytes(format!(
            "{} may not describe users",
            ctx.principal
        )));
        return resp;
    }
    let store = &ctx.state.scram;
    let names: Option<Vec<String>> = req
        .users
        .filter(|u| !u.is_empty())
        .map(|u| u.into_iter().map(|n| n.name.to_string()).collect());
    let Some(names) = names else {
        resp.results = store
            .describe(None)
            .into_iter()
            .map(|(user, infos)| result(user, infos))
            .collect();
        return resp;
    };
    let found: BTreeMap<String, Vec<(i8, i32)>> =
        store.describe(Some(&names)).into_iter().collect();
    let mut seen = Vec::new();
    for name in &names {
        if seen.contains(name) {
            continue;
        }
        seen.push(name.clone());
        let mut r = match found.get(name) {
            Some(infos) => result(name.clone(), infos.clone()),
            None => {
                let mut r = DescribeUserScramCredentialsResult::default();
                r.user = str_bytes(name.clone());
                r.error_code = codes::RESOURCE_NOT_FOUND;
                r.error_message = Some(str_bytes(format!(
                    "Attempt to describe a user credential that does not exist: {name}"
                )));
                r
            }
        };
        if names.iter().filter(|n| *n == name).count() > 1 {
            r.error_code = codes::DUPLICATE_RESOURCE;
            r.error_message = Some(str_bytes(format!(
                "Cannot describe the same user twice: {name}"
            )));
            r.credential_infos.clear();
        }
        resp.results.push(r);
    }
    resp
}

fn result(user: String, infos: Vec<(i8, i32)>) -> DescribeUserScramCredentialsResult {
    let mut r = DescribeUserScramCredentialsResult::default();
    r.user = str_bytes(user);
    r.credential_infos = infos
        .into_iter()
        .map(|(mechanism, iterations)| {
            let mut i = CredentialInfo::default();
            i.mechanism = mechanism;
            i.iterations = iterations;
            i
        })
        .collect();
    r
}

pub fn alter(
    ctx: &Ctx,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    // Group by user, in the order users first appear.
    let mut order: Vec<String> = Vec::new();
    let mut deletions: BTreeMap<String, Vec<i8>> = BTreeMap::new();
    for d in &req.deletions {
        let user = d.name.to_string();
        if !order.contains(&user) {
            order.push(user.clone());
        }
        deletions.entry(user).or_default().push(d.mechanism);
    }
    let mut upserts: BTreeMap<String, Vec<Upsert<'_>>> = BTreeMap::new();
    for u in &req.upsertions {
        let user = u.name.to_string();
        if !order.contains(&user) {
            order.push(user.clone());
        }
        upserts.entry(user).or_default().push((
            u.mechanism,
            u.iterations,
            &u.salt[..],
            &u.salted_password[..],
        ));
    }
    let mut resp = AlterUserScramCredentialsResponse::default();
    let authorized = ctx.allowed(op::ALTER, resource::CLUSTER, CLUSTER_NAME);
    for user in order {
        if !authorized {
            let mut r = AlterUserScramCredentialsResult::default();
            r.error_code = super::codes::CLUSTER_AUTHORIZATION_FAILED;
            r.error_message = Some(str_bytes(format!("{} may not alter users", ctx.principal)));
            r.user = str_bytes(user);
            resp.results.push(r);
            continue;
        }
        let outcome = ctx.state.scram.alter(
            &user,
            deletions.get(&user).map(Vec::as_slice).unwrap_or(&[]),
            upserts.get(&user).map(Vec::as_slice).unwrap_or(&[]),
        );
        let mut r = AlterUserScramCredentialsResult::default();
        if let Err((code, message)) = outcome {
            r.error_code = code;
            r.error_message = Some(str_bytes(message));
        } else {
            tracing::info!(user = %user, principal = %ctx.principal, "SCRAM credentials altered");
        }
        r.user = str_bytes(user);
        resp.results.push(r);
    }
    resp
}
