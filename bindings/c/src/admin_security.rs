//! Admin of ACLs and SCRAM users: create, describe and delete ACLs; set, list and delete SCRAM
//! credentials. Enums are Kafka's wire codes (the ODRADEK_ACL_* constants), so a value read
//! from Kafka's documentation means the same here.

use std::ffi::c_char;

use odradek::admin::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType,
    ScramMechanism,
};

use crate::admin::{OdradekAdmin, admin_call, admin_list};
use crate::error::OdradekError;
use crate::util::{
    FfiResult, OdradekCancel, block, each_arg, free_owned_str, guard_void, handle, invalid,
    owned_str, str_arg, strs_arg, take_array,
};

/// Resource type: any (filters only).
pub const ODRADEK_ACL_RESOURCE_ANY: i8 = 1;
/// Resource type: a topic.
pub const ODRADEK_ACL_RESOURCE_TOPIC: i8 = 2;
/// Resource type: a consumer group.
pub const ODRADEK_ACL_RESOURCE_GROUP: i8 = 3;
/// Resource type: the cluster (name `kafka-cluster`).
pub const ODRADEK_ACL_RESOURCE_CLUSTER: i8 = 4;
/// Resource type: a transactional id.
pub const ODRADEK_ACL_RESOURCE_TRANSACTIONAL_ID: i8 = 5;
/// Pattern type: any (filters only).
pub const ODRADEK_ACL_PATTERN_ANY: i8 = 1;
/// Pattern type: every ACL that applies to the name (filters only).
pub const ODRADEK_ACL_PATTERN_MATCH: i8 = 2;
/// Pattern type: the name exactly.
pub const ODRADEK_ACL_PATTERN_LITERAL: i8 = 3;
/// Pattern type: names starting with it.
pub const ODRADEK_ACL_PATTERN_PREFIXED: i8 = 4;
/// Operation: any (filters only).
pub const ODRADEK_ACL_OPERATION_ANY: i8 = 1;
/// Operation: all.
pub const ODRADEK_ACL_OPERATION_ALL: i8 = 2;
/// Operation: read.
pub const ODRADEK_ACL_OPERATION_READ: i8 = 3;
/// Operation: write.
pub const ODRADEK_ACL_OPERATION_WRITE: i8 = 4;
/// Operation: create.
pub const ODRADEK_ACL_OPERATION_CREATE: i8 = 5;
/// Operation: delete.
pub const ODRADEK_ACL_OPERATION_DELETE: i8 = 6;
/// Operation: alter.
pub const ODRADEK_ACL_OPERATION_ALTER: i8 = 7;
/// Operation: describe.
pub const ODRADEK_ACL_OPERATION_DESCRIBE: i8 = 8;
/// Permission: any (filters only).
pub const ODRADEK_ACL_PERMISSION_ANY: i8 = 1;
/// Permission: deny.
pub const ODRADEK_ACL_PERMISSION_DENY: i8 = 2;
/// Permission: allow.
pub const ODRADEK_ACL_PERMISSION_ALLOW: i8 = 3;
/// SCRAM mechanism SCRAM-SHA-256 (Kafka's code).
pub const ODRADEK_SCRAM_SHA_256: i8 = 1;
/// SCRAM mechanism SCRAM-SHA-512 (Kafka's code).
pub const ODRADEK_SCRAM_SHA_512: i8 = 2;

/// An ACL, or a filter of ACLs. In a filter a NULL string matches anything and the `*_ANY`
/// codes (and ODRADEK_ACL_PATTERN_MATCH) are allowed. In lists this library returns, the
/// strings are owned by the list (freed by odradek_acl_bindings_free).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekAclBinding {
    /// ODRADEK_ACL_RESOURCE_*.
    pub resource_type: i8,
    /// The resource's name (the cluster's is `kafka-cluster`).
    pub resource_name: *const c_char,
    /// ODRADEK_ACL_PATTERN_*.
    pub pattern_type: i8,
    /// `User:alice`; `User:*` is everyone.
    pub principal: *const c_char,
    /// A client address, or `*`.
    pub host: *const c_char,
    /// ODRADEK_ACL_OPERATION_* (Kafka's codes; others: 9 ClusterAction, 10 DescribeConfigs,
    /// 11 AlterConfigs, 12 IdempotentWrite).
    pub operation: i8,
    /// ODRADEK_ACL_PERMISSION_*.
    pub permission: i8,
}

/// One SCRAM credential of a user (never the password).
#[repr(C)]
#[derive(Debug)]
pub struct OdradekScramCredential {
    /// The user, NUL-terminated (owned by the array it is in).
    pub user: *mut c_char,
    /// ODRADEK_SCRAM_SHA_256 or ODRADEK_SCRAM_SHA_512.
    pub mechanism: i8,
    /// The PBKDF2 iteration count.
    pub iterations: i32,
}

fn code<T>(value: i8, parse: fn(i8) -> Option<T>, what: &str) -> FfiResult<T> {
    parse(value).ok_or_else(|| invalid(format!("{what}: {value} is not a Kafka code")))
}

fn optional_str(ptr: *const c_char, what: &str) -> FfiResult<Option<String>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, what).map(|s| Some(s.to_string()))
    }
}

/// The four enum fields of a binding or filter, checked against Kafka's codes.
type AclCodes = (AclResourceType, AclPatternType, AclOperation, AclPermission);

fn codes_arg(b: &OdradekAclBinding, what: &str) -> FfiResult<AclCodes> {
    Ok((
        code(
            b.resource_type,
            AclResourceType::from_code,
            &format!("{what}.resource_type"),
        )?,
        code(
            b.pattern_type,
            AclPatternType::from_code,
            &format!("{what}.pattern_type"),
        )?,
        code(
            b.operation,
            AclOperation::from_code,
            &format!("{what}.operation"),
        )?,
        code(
            b.permission,
            AclPermission::from_code,
            &format!("{what}.permission"),
        )?,
    ))
}

fn binding_arg(b: &OdradekAclBinding, what: &str) -> FfiResult<AclBinding> {
    let (resource_type, pattern_type, operation, permission) = codes_arg(b, what)?;
    Ok(AclBinding {
        resource_type,
        resource_name: str_arg(b.resource_name, &format!("{what}.resource_name"))?.to_string(),
        pattern_type,
        principal: str_arg(b.principal, &format!("{what}.principal"))?.to_string(),
        host: str_arg(b.host, &format!("{what}.host"))?.to_string(),
        operation,
        permission,
    })
}

fn filter_arg(b: &OdradekAclBinding, what: &str) -> FfiResult<AclFilter> {
    let (resource_type, pattern_type, operation, permission) = codes_arg(b, what)?;
    Ok(AclFilter {
        resource_type,
        resource_name: optional_str(b.resource_name, &format!("{what}.resource_name"))?,
        pattern_type,
        principal: optional_str(b.principal, &format!("{what}.principal"))?,
        host: optional_str(b.host, &format!("{what}.host"))?,
        operation,
        permission,
    })
}

/// `acls` as entries of an array freed by odradek_acl_bindings_free.
fn binding_rows(acls: Vec<AclBinding>) -> impl Iterator<Item = OdradekAclBinding> {
    acls.into_iter().map(|a| OdradekAclBinding {
        resource_type: a.resource_type.code(),
        resource_name: owned_str(a.resource_name),
        pattern_type: a.pattern_type.code(),
        principal: owned_str(a.principal),
        host: owned_str(a.host),
        operation: a.operation.code(),
        permission: a.permission.code(),
    })
}

/// Creates ACLs; fails with the first refusal (e.g. CLUSTER_AUTHORIZATION_FAILED).
/// `timeout_ms` < 0: no limit; `cancel` may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_create_acls(
    admin: *const OdradekAdmin,
    acls: *const OdradekAclBinding,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let acls = each_arg(acls, count, "acls", binding_arg)?;
        block(a.create_acls(&acls), timeout_ms, cancel, "create ACLs")
    })
}

/// The ACLs `filter` matches. `*out` receives an array of `*count` ACLs owned by the caller:
/// odradek_acl_bindings_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_describe_acls(
    admin: *const OdradekAdmin,
    filter: *const OdradekAclBinding,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekAclBinding,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let filter = filter_arg(handle(filter, "filter")?, "filter")?;
        let acls = block(
            a.describe_acls(&filter),
            timeout_ms,
            cancel,
            "describe ACLs",
        )?;
        Ok(binding_rows(acls))
    })
}

/// Deletes the ACLs the filters match; `*out` receives the deleted ACLs (an array of `*count`
/// owned by the caller: odradek_acl_bindings_free).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_delete_acls(
    admin: *const OdradekAdmin,
    filters: *const OdradekAclBinding,
    filter_count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekAclBinding,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let filters = each_arg(filters, filter_count, "filters", filter_arg)?;
        let deleted = block(a.delete_acls(&filters), timeout_ms, cancel, "delete ACLs")?;
        Ok(binding_rows(deleted))
    })
}

/// Frees an array of ACLs returned by this library (with its count). NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_acl_bindings_free(list: *mut OdradekAclBinding, count: usize) {
    guard_void(|| {
        for a in take_array(list, count).iter() {
            for s in [a.resource_name, a.principal, a.host] {
                free_owned_str(s);
            }
        }
    })
}

fn mechanism_arg(mechanism: i8) -> FfiResult<ScramMechanism> {
    code(mechanism, ScramMechanism::from_kafka_type, "mechanism")
}

/// Sets `user`'s SCRAM password for `mechanism` (ODRADEK_SCRAM_SHA_256/512), salted and
/// iterated here (`iterations` in 4096..=16384): the password never reaches the broker.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_upsert_scram_credential(
    admin: *const OdradekAdmin,
    user: *const c_char,
    mechanism: i8,
    password: *const c_char,
    iterations: u32,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let user = str_arg(user, "user")?;
        let mechanism = mechanism_arg(mechanism)?;
        let password = str_arg(password, "password")?;
        block(
            a.upsert_user_scram_credential(user, mechanism, password, iterations),
            timeout_ms,
            cancel,
            "set a SCRAM credential",
        )
    })
}

/// Deletes `user`'s SCRAM credential for `mechanism`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_delete_scram_credential(
    admin: *const OdradekAdmin,
    user: *const c_char,
    mechanism: i8,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let user = str_arg(user, "user")?;
        let mechanism = mechanism_arg(mechanism)?;
        block(
            a.delete_user_scram_credential(user, mechanism),
            timeout_ms,
            cancel,
            "delete a SCRAM credential",
        )
    })
}

/// The SCRAM credentials of `users` (`user_count` 0: every user), one entry per user and
/// mechanism. `*out` receives an array of `*count` entries owned by the caller:
/// odradek_scram_credentials_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_describe_scram_credentials(
    admin: *const OdradekAdmin,
    users: *const *const c_char,
    user_count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekScramCredential,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let names = strs_arg(users, user_count, "users")?;
        let filter = (!names.is_empty()).then_some(names.as_slice());
        let described = block(
            a.describe_user_scram_credentials(filter),
            timeout_ms,
            cancel,
            "describe SCRAM credentials",
        )?;
        Ok(described.into_iter().flat_map(|(user, infos)| {
            infos.into_iter().map(move |i| OdradekScramCredential {
                user: owned_str(user.clone()),
                mechanism: i.mechanism.kafka_type(),
                iterations: i.iterations,
            })
        }))
    })
}

/// Frees an array returned by odradek_admin_describe_scram_credentials. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_scram_credentials_free(
    list: *mut OdradekScramCredential,
    count: usize,
) {
    guard_void(|| {
        for c in take_array(list, count).iter() {
            free_owned_str(c.user);
        }
    })
}
