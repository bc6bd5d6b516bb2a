//! `odradek acls create|list|delete` and `odradek users add|list|delete`: the broker's ACLs and
//! SCRAM users through the client's admin API (Kafka's ACL and SCRAM-credential requests, so
//! they work against Apache Kafka too).

use odradek::admin::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType, Admin,
    ScramMechanism,
};
use serde::Serialize;

use crate::args::{AclArgs, AclsCommand, ClientArgs, UsersCommand};
use crate::connect::{client_config, reach_broker};
use crate::failure::{CliResult, Failure};
use crate::topics::{json_line, print};

async fn admin(client: &ClientArgs) -> CliResult<Admin> {
    let config = client_config(client)?;
    let admin = Admin::from_config(&config).map_err(|e| Failure::usage(e.to_string()))?;
    reach_broker(admin.cluster()).await?;
    Ok(admin)
}

pub async fn acls(command: AclsCommand) -> CliResult {
    match command {
        AclsCommand::Create(a) => {
            let bindings = bindings(&a)?;
            admin(&a.client)
                .await?
                .create_acls(&bindings)
                .await
                .map_err(|e| Failure::client("creating ACLs", &e))?;
            print(&table(&bindings))
        }
        AclsCommand::List { acl, json } => {
            let found = admin(&acl.client)
                .await?
                .describe_acls(&filter(&acl)?.remove(0))
                .await
                .map_err(|e| Failure::client("listing ACLs", &e))?;
            print(&if json {
                json_lines(&found)
            } else {
                table(&found)
            })
        }
        AclsCommand::Delete(a) => {
            let deleted = admin(&a.client)
                .await?
                .delete_acls(&filter(&a)?)
                .await
                .map_err(|e| Failure::client("deleting ACLs", &e))?;
            print(&table(&deleted))
        }
    }
}

/// The resource named by the flags, if any: (type, name).
fn resource(a: &AclArgs) -> Option<(AclResourceType, String)> {
    if let Some(t) = &a.topic {
        Some((AclResourceType::Topic, t.clone()))
    } else if let Some(g) = &a.group {
        Some((AclResourceType::Group, g.clone()))
    } else if a.cluster {
        Some((AclResourceType::Cluster, "kafka-cluster".to_string()))
    } else {
        a.transactional_id
            .as_ref()
            .map(|t| (AclResourceType::TransactionalId, t.clone()))
    }
}

fn operations(a: &AclArgs) -> CliResult<Vec<AclOperation>> {
    a.operations
        .iter()
        .map(|o| {
            o.parse()
                .map_err(|e: odradek::error::Error| Failure::usage(e.to_string()))
        })
        .collect()
}

fn pattern(a: &AclArgs) -> AclPatternType {
    if a.prefixed {
        AclPatternType::Prefixed
    } else {
        AclPatternType::Literal
    }
}

fn permission(a: &AclArgs) -> AclPermission {
    if a.deny {
        AclPermission::Deny
    } else {
        AclPermission::Allow
    }
}

fn bindings(a: &AclArgs) -> CliResult<Vec<AclBinding>> {
    let (resource_type, resource_name) = resource(a).ok_or_else(|| {
        Failure::usage("name the resource: --topic, --group, --cluster or --transactional-id")
    })?;
    let principal = a
        .principal
        .clone()
        .ok_or_else(|| Failure::usage("--principal is required (e.g. User:alice)"))?;
    let ops = operations(a)?;
    if ops.is_empty() {
        return Err(Failure::usage(
            "--operation is required (e.g. --operation Write)",
        ));
    }
    Ok(ops
        .into_iter()
        .map(|operation| AclBinding {
            resource_type,
            resource_name: resource_name.clone(),
            pattern_type: pattern(a),
            principal: principal.clone(),
            host: a.host.clone().unwrap_or_else(|| "*".to_string()),
            operation,
            permission: permission(a),
        })
        .collect())
}

/// One filter per --operation (one matching any operation without the flag).
fn filter(a: &AclArgs) -> CliResult<Vec<AclFilter>> {
    let (resource_type, resource_name) = match resource(a) {
        Some((t, n)) => (t, Some(n)),
        None => (AclResourceType::Any, None),
    };
    let base = AclFilter {
        resource_type,
        resource_name,
        pattern_type: if a.prefixed {
            AclPatternType::Prefixed
        } else if resource_type == AclResourceType::Any {
            AclPatternType::Any
        } else {
            AclPatternType::Literal
        },
        principal: a.principal.clone(),
        host: a.host.clone(),
        operation: AclOperation::Any,
        permission: if a.deny {
            AclPermission::Deny
        } else {
            AclPermission::Any
        },
    };
    let ops = operations(a)?;
    if ops.is_empty() {
        return Ok(vec![base]);
    }
    Ok(ops
        .into_iter()
        .map(|operation| AclFilter {
            operation,
            ..base.clone()
        })
        .collect())
}

fn table(acls: &[AclBinding]) -> String {
    let mut out = String::new();
    for a in acls {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            a.resource_type,
            a.resource_name,
            a.pattern_type,
            a.principal,
            a.host,
            a.operation,
            a.permission
        ));
    }
    out
}

fn json_lines(acls: &[AclBinding]) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        resource_type: &'a str,
        resource_name: &'a str,
        pattern_type: &'a str,
        principal: &'a str,
        host: &'a str,
        operation: &'a str,
        permission: &'a str,
    }
    acls.iter()
        .map(|a| {
            json_line(&Row {
                resource_type: a.resource_type.name(),
                resource_name: &a.resource_name,
                pattern_type: a.pattern_type.name(),
                principal: &a.principal,
                host: &a.host,
                operation: a.operation.name(),
                permission: a.permission.name(),
            })
        })
        .collect()
}

fn mechanism(name: &str) -> CliResult<ScramMechanism> {
    match name.to_ascii_uppercase().as_str() {
        "SCRAM-SHA-256" => Ok(ScramMechanism::Sha256),
        "SCRAM-SHA-512" => Ok(ScramMechanism::Sha512),
        _ => Err(Failure::usage(format!(
            "--mechanism {name}: expected SCRAM-SHA-256 or SCRAM-SHA-512"
        ))),
    }
}

pub async fn users(command: UsersCommand) -> CliResult {
    match command {
        UsersCommand::Add {
            client,
            user,
            password,
            mechanism: m,
            iterations,
        } => {
            let m = mechanism(&m)?;
            let password = match password.or_else(|| std::env::var("ODRADEK_USER_PASSWORD").ok()) {
                Some(p) if !p.is_empty() => p,
                _ => {
                    return Err(Failure::usage(
                        "give the password with --password or ODRADEK_USER_PASSWORD",
                    ));
                }
            };
            admin(&client)
                .await?
                .upsert_user_scram_credential(&user, m, &password, iterations)
                .await
                .map_err(|e| Failure::client(format!("adding SCRAM user {user}"), &e))?;
            print(&format!("{user}\t{}\t{iterations}\n", m.name()))
        }
        UsersCommand::List { client, json } => {
            let users = admin(&client)
                .await?
                .describe_user_scram_credentials(None)
                .await
                .map_err(|e| Failure::client("listing SCRAM users", &e))?;
            let mut text = String::new();
            for (user, creds) in &users {
                for c in creds {
                    if json {
                        #[derive(Serialize)]
                        struct Row<'a> {
                            user: &'a str,
                            mechanism: &'a str,
                            iterations: i32,
                        }
                        text.push_str(&json_line(&Row {
                            user,
                            mechanism: c.mechanism.name(),
                            iterations: c.iterations,
                        }));
                    } else {
                        text.push_str(&format!(
                            "{user}\t{}\t{}\n",
                            c.mechanism.name(),
                            c.iterations
                        ));
                    }
                }
            }
            print(&text)
        }
        UsersCommand::Delete {
            client,
            user,
            mechanism: m,
        } => {
            let admin = admin(&client).await?;
            let mechanisms = match m {
                Some(m) => vec![mechanism(&m)?],
                None => admin
                    .describe_user_scram_credentials(Some(&[user.as_str()]))
                    .await
                    .map_err(|e| Failure::client(format!("describing SCRAM user {user}"), &e))?
                    .into_iter()
                    .flat_map(|(_, creds)| creds.into_iter().map(|c| c.mechanism))
                    .collect(),
            };
            for m in mechanisms {
                admin
                    .delete_user_scram_credential(&user, m)
                    .await
                    .map_err(|e| Failure::client(format!("deleting SCRAM user {user}"), &e))?;
                print(&format!("{user}\t{}\tdeleted\n", m.name()))?;
            }
            Ok(())
        }
    }
}
