//! ACL and SCRAM-user administration: CreateAcls / DescribeAcls / DeleteAcls and
//! DescribeUserScramCredentials / AlterUserScramCredentials, with Kafka's names for resource
//! types, patterns, operations and permissions. A SCRAM password is salted and iterated here
//! (PBKDF2, as Kafka's admin client does); only the salted password goes on the wire.

use std::fmt;
use std::str::FromStr;

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use odradek_protocol::sasl::scram::{ScramCredential, ScramMechanism, salted_password};

use super::Admin;
use crate::error::{Error, Result};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn check(code: i16, message: Option<&StrBytes>, what: &str) -> Result<()> {
    match Error::from_code_msg(code, message.map(|m| m.as_str())) {
        None => Ok(()),
        Some(e) => Err(e.with_topic(what)),
    }
}

/// Defines a Kafka enum by (variant, wire code, name); names parse without regard to case.
macro_rules! kafka_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $(#[doc = $text] $variant,)* }

        impl $name {
            /// The wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code,)* }
            }

            /// The variant for a wire code.
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }

            /// Kafka's name.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(v: &str) -> Result<Self> {
                let wanted = v.replace(['_', '-'], "");
                [$($name::$variant,)*]
                    .into_iter()
                    .find(|x| x.name().eq_ignore_ascii_case(&wanted))
                    .ok_or_else(|| Error::invalid_argument(format!(
                        "unknown {} {v:?} (one of {})",
                        stringify!($name),
                        [$($text,)*].join(", ")
                    )))
            }
        }
    };
}

kafka_enum!(
    /// What an ACL is about.
    AclResourceType {
        Any = 1, "Any";
        Topic = 2, "Topic";
        Group = 3, "Group";
        Cluster = 4, "Cluster";
        TransactionalId = 5, "TransactionalId";
    }
);

kafka_enum!(
    /// How an ACL's resource name matches: exactly (`*` is every name) or as a prefix. `Match`
    /// and `Any` are for filters only.
    AclPatternType {
        Any = 1, "Any";
        Match = 2, "Match";
        Literal = 3, "Literal";
        Prefixed = 4, "Prefixed";
    }
);

kafka_enum!(
    /// The operation an ACL allows or denies.
    AclOperation {
        Any = 1, "Any";
        All = 2, "All";
        Read = 3, "Read";
        Write = 4, "Write";
        Create = 5, "Create";
        Delete = 6, "Delete";
        Alter = 7, "Alter";
        Describe = 8, "Describe";
        ClusterAction = 9, "ClusterAction";
        DescribeConfigs = 10, "DescribeConfigs";
        AlterConfigs = 11, "AlterConfigs";
        IdempotentWrite = 12, "IdempotentWrite";
    }
);

kafka_enum!(
    /// Allow or deny (`Any` for filters).
    AclPermission {
        Any = 1, "Any";
        Deny = 2, "Deny";
        Allow = 3, "Allow";
    }
);

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBinding {
    /// Topic, group, cluster or transactional id.
    pub resource_type: AclResourceType,
    /// The resource's name; the cluster's is `kafka-cluster`.
    pub resource_name: String,
    /// Literal or prefixed.
    pub pattern_type: AclPatternType,
    /// `User:alice`; `User:*` is everyone.
    pub principal: String,
    /// A client address, or `*`.
    pub host: String,
    /// What it allows or denies.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

impl AclBinding {
    /// An ACL from Kafka's names, as bindings take them (`"topic"`, `"LITERAL"`, `"Read"`, ...;
    /// any case, `_` and `-` ignored); an unknown name is an invalid-argument error naming it.
    pub fn from_names(
        resource_type: &str,
        resource_name: &str,
        pattern_type: &str,
        principal: &str,
        host: &str,
        operation: &str,
        permission: &str,
    ) -> Result<Self> {
        Ok(AclBinding {
            resource_type: resource_type.parse()?,
            resource_name: resource_name.to_owned(),
            pattern_type: pattern_type.parse()?,
            principal: principal.to_owned(),
            host: host.to_owned(),
            operation: operation.parse()?,
            permission: permission.parse()?,
        })
    }
}

/// Which ACLs to describe or delete; `None` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// The resource type, or `Any`.
    pub resource_type: AclResourceType,
    /// The resource name (`None`: any).
    pub resource_name: Option<String>,
    /// `Match` finds the ACLs that apply to `resource_name`; `Any` every pattern.
    pub pattern_type: AclPatternType,
    /// The principal (`None`: any).
    pub principal: Option<String>,
    /// The host (`None`: any).
    pub host: Option<String>,
    /// The operation, or `Any`.
    pub operation: AclOperation,
    /// The permission, or `Any`.
    pub permission: AclPermission,
}

impl AclFilter {
    /// Every ACL.
    pub fn all() -> Self {
        AclFilter {
            resource_type: AclResourceType::Any,
            resource_name: None,
            pattern_type: AclPatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// A filter from Kafka's names as [`AclBinding::from_names`] takes them; `None` for an enum
    /// is `Any`, for a string any value.
    pub fn from_names(
        resource_type: Option<&str>,
        resource_name: Option<String>,
        pattern_type: Option<&str>,
        principal: Option<String>,
        host: Option<String>,
        operation: Option<&str>,
        permission: Option<&str>,
    ) -> Result<Self> {
        Ok(AclFilter {
            resource_type: resource_type.map_or(Ok(AclResourceType::Any), str::parse)?,
            resource_name,
            pattern_type: pattern_type.map_or(Ok(AclPatternType::Any), str::parse)?,
            principal,
            host,
            operation: operation.map_or(Ok(AclOperation::Any), str::parse)?,
            permission: permission.map_or(Ok(AclPermission::Any), str::parse)?,
        })
    }
}

/// A SCRAM credential as DescribeUserScramCredentials reports it (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    pub mechanism: ScramMechanism,
    /// The PBKDF2 iteration count.
    pub iterations: i32,
}

/// The SCRAM mechanism for its name (`SCRAM-SHA-256` or `SCRAM-SHA-512`, any case), as
/// bindings take it.
pub fn scram_mechanism(name: &str) -> Result<ScramMechanism> {
    ScramMechanism::from_name(name).ok_or_else(|| {
        Error::invalid_argument(format!(
            "unknown SCRAM mechanism {name:?} (SCRAM-SHA-256 or SCRAM-SHA-512)"
        ))
    })
}

fn binding(
    rt: i8,
    name: &StrBytes,
    pt: i8,
    principal: &StrBytes,
    host: &StrBytes,
    op: i8,
    perm: i8,
) -> Result<AclBinding> {
    let bad = |what: &str, code: i8| {
        Error::network(format!("the broker sent an unknown ACL {what} {code}"))
    };
    Ok(AclBinding {
        resource_type: AclResourceType::from_code(rt).ok_or_else(|| bad("resource type", rt))?,
        resource_name: name.to_string(),
        pattern_type: AclPatternType::from_code(pt).ok_or_else(|| bad("pattern type", pt))?,
        principal: principal.to_string(),
        host: host.to_string(),
        operation: AclOperation::from_code(op).ok_or_else(|| bad("operation", op))?,
        permission: AclPermission::from_code(perm).ok_or_else(|| bad("permission", perm))?,
    })
}

impl Admin {
    /// Creates ACLs; fails with the first refusal (naming the ACL's resource).
    pub async fn create_acls(&self, acls: &[AclBinding]) -> Result<()> {
        let request = CreateAclsRequest::default().with_creations(
            acls.iter()
                .map(|a| {
                    AclCreation::default()
                        .with_resource_type(a.resource_type.code())
                        .with_resource_name(s(&a.resource_name))
                        .with_resource_pattern_type(a.pattern_type.code())
                        .with_principal(s(&a.principal))
                        .with_host(s(&a.host))
                        .with_operation(a.operation.code())
                        .with_permission_type(a.permission.code())
                })
                .collect(),
        );
        let response: CreateAclsResponse = self.cluster.request_any(&request).await?;
        for (r, a) in response.results.iter().zip(acls) {
            check(r.error_code, r.error_message.as_ref(), &a.resource_name)?;
        }
        Ok(())
    }

    /// The ACLs a filter matches.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type.code())
            .with_resource_name_filter(filter.resource_name.as_deref().map(s))
            .with_pattern_type_filter(filter.pattern_type.code())
            .with_principal_filter(filter.principal.as_deref().map(s))
            .with_host_filter(filter.host.as_deref().map(s))
            .with_operation(filter.operation.code())
            .with_permission_type(filter.permission.code());
        let response: DescribeAclsResponse = self.cluster.request_any_idempotent(&request).await?;
        check(response.error_code, response.error_message.as_ref(), "ACLs")?;
        let mut out = Vec::new();
        for r in &response.resources {
            for a in &r.acls {
                out.push(binding(
                    r.resource_type,
                    &r.resource_name,
                    r.pattern_type,
                    &a.principal,
                    &a.host,
                    a.operation,
                    a.permission_type,
                )?);
            }
        }
        Ok(out)
    }

    /// Deletes the ACLs each filter matches; returns what was deleted.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<AclBinding>> {
        let request = DeleteAclsRequest::default().with_filters(
            filters
                .iter()
                .map(|f| {
                    DeleteAclsFilter::default()
                        .with_resource_type_filter(f.resource_type.code())
                        .with_resource_name_filter(f.resource_name.as_deref().map(s))
                        .with_pattern_type_filter(f.pattern_type.code())
                        .with_principal_filter(f.principal.as_deref().map(s))
                        .with_host_filter(f.host.as_deref().map(s))
                        .with_operation(f.operation.code())
                        .with_permission_type(f.permission.code())
                })
                .collect(),
        );
        let response: DeleteAclsResponse = self.cluster.request_any(&request).await?;
        let mut out = Vec::new();
        for r in &response.filter_results {
            check(r.error_code, r.error_message.as_ref(), "ACLs")?;
            for m in &r.matching_acls {
                out.push(binding(
                    m.resource_type,
                    &m.resource_name,
                    m.pattern_type,
                    &m.principal,
                    &m.host,
                    m.operation,
                    m.permission_type,
                )?);
            }
        }
        Ok(out)
    }

    /// SCRAM users and their credentials (mechanism, iterations); `None` lists every user.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[&str]>,
    ) -> Result<Vec<(String, Vec<ScramCredentialInfo>)>> {
        let request = DescribeUserScramCredentialsRequest::default().with_users(users.map(|u| {
            u.iter()
                .map(|n| UserName::default().with_name(s(n)))
                .collect()
        }));
        let response: DescribeUserScramCredentialsResponse =
            self.cluster.request_any_idempotent(&request).await?;
        check(
            response.error_code,
            response.error_message.as_ref(),
            "SCRAM users",
        )?;
        let mut out = Vec::new();
        for r in &response.results {
            check(r.error_code, r.error_message.as_ref(), &r.user)?;
            let infos = r
                .credential_infos
                .iter()
                .filter_map(|i| {
                    Some(ScramCredentialInfo {
                        mechanism: ScramMechanism::from_kafka_type(i.mechanism)?,
                        iterations: i.iterations,
                    })
                })
                .collect();
            out.push((r.user.to_string(), infos));
        }
        Ok(out)
    }

    /// Sets a user's SCRAM password for one mechanism (a fresh random salt; `iterations` in
    /// 4096..=16384).
    pub async fn upsert_user_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        password: &str,
        iterations: u32,
    ) -> Result<()> {
        let salt = ScramCredential::random_salt();
        let salted = salted_password(mechanism, password, &salt, iterations)
            .map_err(|e| Error::invalid_argument(e.to_string()))?;
        let upsert = ScramCredentialUpsertion::default()
            .with_name(s(user))
            .with_mechanism(mechanism.kafka_type())
            .with_iterations(iterations as i32)
            .with_salt(salt.into())
            .with_salted_password(salted.into());
        self.alter_scram(AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsert]))
            .await
    }

    /// Deletes a user's SCRAM credential for one mechanism.
    pub async fn delete_user_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Result<()> {
        let deletion = ScramCredentialDeletion::default()
            .with_name(s(user))
            .with_mechanism(mechanism.kafka_type());
        self.alter_scram(AlterUserScramCredentialsRequest::default().with_deletions(vec![deletion]))
            .await
    }

    async fn alter_scram(&self, request: AlterUserScramCredentialsRequest) -> Result<()> {
        let response: AlterUserScramCredentialsResponse =
            self.cluster.request_any(&request).await?;
        for r in &response.results {
            check(r.error_code, r.error_message.as_ref(), &r.user)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_parse() {
        assert_eq!(
            "write".parse::<AclOperation>().unwrap(),
            AclOperation::Write
        );
        assert_eq!(
            "IDEMPOTENT_WRITE".parse::<AclOperation>().unwrap(),
            AclOperation::IdempotentWrite
        );
        assert_eq!(
            "transactional-id".parse::<AclResourceType>().unwrap(),
            AclResourceType::TransactionalId
        );
        assert_eq!(AclPatternType::Prefixed.code(), 4);
        assert!("sideways".parse::<AclPermission>().is_err());
    }

    #[test]
    fn bindings_and_filters_from_names() {
        let acl = AclBinding::from_names("TOPIC", "t", "prefixed", "User:a", "*", "Read", "deny")
            .unwrap();
        assert_eq!(acl.resource_type, AclResourceType::Topic);
        assert_eq!(acl.pattern_type, AclPatternType::Prefixed);
        assert_eq!(acl.permission, AclPermission::Deny);
        let err = AclBinding::from_names("topic", "t", "literal", "User:a", "*", "fly", "allow")
            .unwrap_err();
        assert!(err.to_string().contains("fly"), "{err}");
        let f = AclFilter::from_names(None, None, None, Some("User:a".into()), None, None, None)
            .unwrap();
        assert_eq!(
            f,
            AclFilter {
                principal: Some("User:a".into()),
                ..AclFilter::all()
            }
        );
        assert_eq!(
            scram_mechanism("scram-sha-512").unwrap(),
            ScramMechanism::Sha512
        );
        assert!(scram_mechanism("SCRAM-SHA-1").is_err());
    }
}
