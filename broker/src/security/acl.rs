//! ACLs with Kafka's semantics, and the authorizer every handler asks.
//!
//! An ACL allows or denies one operation on a resource (topic, group, cluster, transactional
//! id) named literally (`*` is every name) or by prefix, to a principal (`User:*` is everyone)
//! from a host (`*` is every host). Deny wins over allow; DESCRIBE is implied by READ, WRITE,
//! DELETE and ALTER, DESCRIBE_CONFIGS by ALTER_CONFIGS. `super.users` may do everything. A
//! resource no ACL names is open only with `allow.everyone.if.no.acl.found=true`.
//!
//! Authorization is on once `authorizer.class.name` is set (any value: Kafka's
//! `org.apache.kafka.metadata.authorizer.StandardAuthorizer` is the usual one); without it
//! every request is allowed, as in Kafka. ACLs are durable in `__security/acls.json`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::config::BrokerProperties;
use crate::log::index::write_file_atomically;

const FILE: &str = "acls.json";

/// Kafka's `ResourceType` codes.
pub mod resource {
    pub const ANY: i8 = 1;
    pub const TOPIC: i8 = 2;
    pub const GROUP: i8 = 3;
    pub const CLUSTER: i8 = 4;
    pub const TRANSACTIONAL_ID: i8 = 5;
}

/// Kafka's `PatternType` codes.
pub mod pattern {
    pub const ANY: i8 = 1;
    pub const MATCH: i8 = 2;
    pub const LITERAL: i8 = 3;
    pub const PREFIXED: i8 = 4;
}

/// Kafka's `AclOperation` codes.
pub mod op {
    pub const ANY: i8 = 1;
    pub const ALL: i8 = 2;
    pub const READ: i8 = 3;
    pub const WRITE: i8 = 4;
    pub const CREATE: i8 = 5;
    pub const DELETE: i8 = 6;
    pub const ALTER: i8 = 7;
    pub const DESCRIBE: i8 = 8;
    pub const CLUSTER_ACTION: i8 = 9;
    pub const DESCRIBE_CONFIGS: i8 = 10;
    pub const ALTER_CONFIGS: i8 = 11;
    pub const IDEMPOTENT_WRITE: i8 = 12;
}

/// Kafka's `AclPermissionType` codes.
pub mod permission {
    pub const ANY: i8 = 1;
    pub const DENY: i8 = 2;
    pub const ALLOW: i8 = 3;
}

/// The one cluster resource's name.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// One ACL, as CreateAcls carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

/// A DescribeAcls / DeleteAcls filter; `None` strings match anything.
#[derive(Debug, Clone)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl AclBinding {
    /// Checks a binding to create; the message is Kafka's INVALID_REQUEST text.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(
            self.resource_type,
            resource::TOPIC | resource::GROUP | resource::CLUSTER | resource::TRANSACTIONAL_ID
        ) {
            return Err(format!("Invalid resource type {}", self.resource_type));
        }
        if !matches!(self.pattern_type, pattern::LITERAL | pattern::PREFIXED) {
            return Err(format!(
                "Invalid pattern type {}: LITERAL or PREFIXED",
                self.pattern_type
            ));
        }
        if self.resource_name.is_empty() {
            return Err("Resource name must not be empty".into());
        }
        if self.resource_type == resource::CLUSTER
            && (self.resource_name != CLUSTER_NAME || self.pattern_type != pattern::LITERAL)
        {
            return Err(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        if !(op::ALL..=op::IDEMPOTENT_WRITE).contains(&self.operation) {
            return Err(format!("Invalid operation {}", self.operation));
        }
        if !matches!(self.permission, permission::ALLOW | permission::DENY) {
            return Err(format!("Invalid permission type {}", self.permission));
        }
        match self.principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(()),
            _ => Err(format!(
                "Invalid principal {:?}: expected TYPE:NAME such as User:alice",
                self.principal
            )),
        }
    }

    /// Whether this ACL's resource pattern covers the resource `name` of `resource_type`.
    fn covers(&self, resource_type: i8, name: &str) -> bool {
        self.resource_type == resource_type
            && match self.pattern_type {
                pattern::LITERAL => self.resource_name == name || self.resource_name == "*",
                pattern::PREFIXED => name.starts_with(&self.resource_name),
                _ => false,
            }
    }

    fn applies_to(&self, principal: &str, host: &str) -> bool {
        (self.principal == principal || self.principal == "User:*")
            && (self.host == host || self.host == "*")
    }
}

impl AclFilter {
    pub fn matches(&self, b: &AclBinding) -> bool {
        let text = |f: &Option<String>, v: &str| f.as_deref().is_none_or(|f| f == v);
        let code = |f: i8, any: i8, v: i8| f == any || f == v;
        let name_and_pattern = match self.pattern_type {
            pattern::ANY => text(&self.resource_name, &b.resource_name),
            // MATCH: the ACLs that would apply to a resource of that exact name.
            pattern::MATCH => match &self.resource_name {
                None => true,
                Some(n) => match b.pattern_type {
                    pattern::LITERAL => b.resource_name == *n || b.resource_name == "*",
                    pattern::PREFIXED => n.starts_with(&b.resource_name),
                    _ => false,
                },
            },
            p => p == b.pattern_type && text(&self.resource_name, &b.resource_name),
        };
        code(self.resource_type, resource::ANY, b.resource_type)
            && name_and_pattern
            && text(&self.principal, &b.principal)
            && text(&self.host, &b.host)
            && code(self.operation, op::ANY, b.operation)
            && code(self.permission, permission::ANY, b.permission)
    }
}

/// The broker's authorizer: settings and the ACL table.
#[derive(Debug)]
pub struct Authorizer {
    /// `authorizer.class.name` is set.
    pub enabled: bool,
    super_users: Vec<String>,
    allow_if_no_acl: bool,
    path: PathBuf,
    acls: RwLock<Vec<AclBinding>>,
}

/// Who asks: principal and client address.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub principal: &'a str,
    pub host: &'a str,
}

impl Authorizer {
    pub fn open(data_dir: &Path, props: &BrokerProperties) -> io::Result<Self> {
        let path = data_dir.join(super::SECURITY_DIR).join(FILE);
        let acls = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        };
        Ok(Self {
            enabled: props
                .get("authorizer.class.name")
                .is_some_and(|v| !v.trim().is_empty()),
            super_users: props
                .get("super.users")
                .unwrap_or("")
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            allow_if_no_acl: props
                .get("allow.everyone.if.no.acl.found")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            path,
            acls: RwLock::new(acls),
        })
    }

    /// Whether `who` may do `operation` on the resource.
    pub fn authorize(
        &self,
        who: Requester<'_>,
        operation: i8,
        resource_type: i8,
        name: &str,
    ) -> bool {
        if !self.enabled || self.super_users.iter().any(|s| s == who.principal) {
            return true;
        }
        let acls = self.acls.read().unwrap_or_else(|p| p.into_inner());
        let mut any_for_resource = false;
        let mut allowed = false;
        for acl in acls.iter().filter(|a| a.covers(resource_type, name)) {
            any_for_resource = true;
            if !acl.applies_to(who.principal, who.host) {
                continue;
            }
            let exact = acl.operation == operation || acl.operation == op::ALL;
            if acl.permission == permission::DENY && exact {
                return false;
            }
            if acl.permission == permission::ALLOW && (exact || implies(acl.operation, operation)) {
                allowed = true;
            }
        }
        allowed || (!any_for_resource && self.allow_if_no_acl)
    }

    /// Kafka's check for idempotent producers without IDEMPOTENT_WRITE on the cluster: WRITE
    /// allowed on some topic.
    pub fn may_write_some_topic(&self, who: Requester<'_>) -> bool {
        if !self.enabled || self.super_users.iter().any(|s| s == who.principal) {
            return true;
        }
        let acls = self.acls.read().unwrap_or_else(|p| p.into_inner());
        acls.iter().any(|a| {
            a.resource_type == resource::TOPIC
                && a.permission == permission::ALLOW
                && (a.operation == op::WRITE || a.operation == op::ALL)
                && a.applies_to(who.principal, who.host)
        })
    }

    /// The ACLs a filter matches.
    pub fn describe(&self, filter: &AclFilter) -> Vec<AclBinding> {
        let acls = self.acls.read().unwrap_or_else(|p| p.into_inner());
        acls.iter().filter(|a| filter.matches(a)).cloned().collect()
    }

    /// Adds bindings (already validated); an existing identical binding is kept once.
    pub fn create(&self, bindings: &[AclBinding]) -> io::Result<()> {
        let mut acls = self.acls.write().unwrap_or_else(|p| p.into_inner());
        let before = acls.len();
        for b in bindings {
            if !acls.contains(b) {
                acls.push(b.clone());
            }
        }
        if let Err(e) = self.persist(&acls) {
            acls.truncate(before);
            return Err(e);
        }
        Ok(())
    }

    /// Removes what each filter matches; per filter, the bindings removed.
    pub fn delete(&self, filters: &[AclFilter]) -> io::Result<Vec<Vec<AclBinding>>> {
        let mut acls = self.acls.write().unwrap_or_else(|p| p.into_inner());
        let before = acls.clone();
        let mut removed = Vec::with_capacity(filters.len());
        for f in filters {
            removed.push(
                acls.iter()
                    .filter(|a| f.matches(a))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            acls.retain(|a| !f.matches(a));
        }
        if let Err(e) = self.persist(&acls) {
            *acls = before;
            return Err(e);
        }
        Ok(removed)
    }

    fn persist(&self, acls: &[AclBinding]) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(acls).map_err(io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_file_atomically(&self.path, &bytes)
    }
}

/// Kafka's implied operations: an allowed READ, WRITE, DELETE or ALTER allows DESCRIBE; an
/// allowed ALTER_CONFIGS allows DESCRIBE_CONFIGS.
fn implies(granted: i8, wanted: i8) -> bool {
    match wanted {
        op::DESCRIBE => matches!(granted, op::READ | op::WRITE | op::DELETE | op::ALTER),
        op::DESCRIBE_CONFIGS => granted == op::ALTER_CONFIGS,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(rt: i8, name: &str, pt: i8, principal: &str, operation: i8, perm: i8) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission: perm,
        }
    }

    fn authorizer(dir: &Path, kv: &[(&str, &str)]) -> Authorizer {
        let mut p = BrokerProperties::default();
        p.set(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .unwrap();
        for (k, v) in kv {
            p.set(k, v).unwrap();
        }
        Authorizer::open(dir, &p).unwrap()
    }

    const ALICE: Requester = Requester {
        principal: "User:alice",
        host: "10.0.0.1",
    };
    const BOB: Requester = Requester {
        principal: "User:bob",
        host: "10.0.0.1",
    };

    #[test]
    fn kafka_semantics() {
        let dir = tempfile::tempdir().unwrap();
        let a = authorizer(dir.path(), &[("super.users", "User:admin;User:root")]);
        assert!(
            !a.authorize(ALICE, op::READ, resource::TOPIC, "t"),
            "no ACL: denied"
        );
        a.create(&[
            acl(
                resource::TOPIC,
                "orders-",
                pattern::PREFIXED,
                "User:alice",
                op::WRITE,
                permission::ALLOW,
            ),
            acl(
                resource::TOPIC,
                "orders-secret",
                pattern::LITERAL,
                "User:alice",
                op::ALL,
                permission::DENY,
            ),
            acl(
                resource::GROUP,
                "*",
                pattern::LITERAL,
                "User:*",
                op::READ,
                permission::ALLOW,
            ),
        ])
        .unwrap();
        assert!(a.authorize(ALICE, op::WRITE, resource::TOPIC, "orders-eu"));
        assert!(
            a.authorize(ALICE, op::DESCRIBE, resource::TOPIC, "orders-eu"),
            "implied"
        );
        assert!(!a.authorize(ALICE, op::READ, resource::TOPIC, "orders-eu"));
        assert!(
            !a.authorize(ALICE, op::WRITE, resource::TOPIC, "orders-secret"),
            "deny wins"
        );
        assert!(!a.authorize(BOB, op::WRITE, resource::TOPIC, "orders-eu"));
        assert!(
            a.authorize(BOB, op::READ, resource::GROUP, "any-group"),
            "wildcards"
        );
        let admin = Requester {
            principal: "User:root",
            host: "h",
        };
        assert!(
            a.authorize(admin, op::DELETE, resource::CLUSTER, CLUSTER_NAME),
            "super user"
        );
        assert!(a.may_write_some_topic(ALICE));
        assert!(!a.may_write_some_topic(BOB));

        // Durable; deleted by filter.
        let again = authorizer(dir.path(), &[]);
        assert!(again.authorize(ALICE, op::WRITE, resource::TOPIC, "orders-eu"));
        let all = AclFilter {
            resource_type: resource::TOPIC,
            resource_name: Some("orders-eu".into()),
            pattern_type: pattern::MATCH,
            principal: None,
            host: None,
            operation: op::ANY,
            permission: permission::ANY,
        };
        assert_eq!(
            again.describe(&all).len(),
            1,
            "MATCH finds the prefixed ACL only"
        );
        let removed = again.delete(&[all]).unwrap();
        assert_eq!(removed[0].len(), 1);
        assert!(!authorizer(dir.path(), &[]).authorize(
            ALICE,
            op::WRITE,
            resource::TOPIC,
            "orders-eu"
        ));
    }

    #[test]
    fn open_without_acls_when_asked_and_without_an_authorizer() {
        let dir = tempfile::tempdir().unwrap();
        let a = authorizer(dir.path(), &[("allow.everyone.if.no.acl.found", "true")]);
        assert!(a.authorize(ALICE, op::READ, resource::TOPIC, "t"));
        a.create(&[acl(
            resource::TOPIC,
            "t",
            pattern::LITERAL,
            "User:bob",
            op::READ,
            permission::ALLOW,
        )])
        .unwrap();
        assert!(
            !a.authorize(ALICE, op::READ, resource::TOPIC, "t"),
            "an ACL exists now"
        );
        let off = Authorizer::open(dir.path(), &BrokerProperties::default()).unwrap();
        assert!(off.authorize(ALICE, op::READ, resource::TOPIC, "t"));
    }

    #[test]
    fn validation() {
        let mut b = acl(
            resource::CLUSTER,
            "x",
            pattern::LITERAL,
            "User:a",
            op::ALTER,
            permission::ALLOW,
        );
        assert!(b.validate().is_err());
        b.resource_name = CLUSTER_NAME.into();
        assert!(b.validate().is_ok());
        b.principal = "alice".into();
        assert!(b.validate().is_err());
        let b = acl(
            resource::ANY,
            "x",
            pattern::LITERAL,
            "User:a",
            op::READ,
            permission::ALLOW,
        );
        assert!(b.validate().is_err());
    }
}
