//! Admin of configs: describe and alter (incrementally) the configs of a topic or a broker.

use std::ffi::c_char;

use odradek::admin::{AlterConfigOp, ConfigResource};

use crate::admin::{OdradekAdmin, admin_call, admin_list};
use crate::error::OdradekError;
use crate::util::{
    FfiResult, OdradekCancel, OdradekConfigEntry, block, each_arg, free_owned_str, guard_void,
    invalid, owned_opt_str, owned_str, str_arg, strs_arg, take_array,
};

/// Config resource type: a topic (Kafka's code).
pub const ODRADEK_CONFIG_RESOURCE_TOPIC: i8 = 2;
/// Config resource type: a broker, named by its node id in decimal (Kafka's code).
pub const ODRADEK_CONFIG_RESOURCE_BROKER: i8 = 4;

/// One config of a resource as the broker describes it.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekConfigDescription {
    /// The config's name, NUL-terminated (owned by the array it is in).
    pub name: *mut c_char,
    /// Its value; NULL when sensitive or unset.
    pub value: *mut c_char,
    /// It cannot be altered.
    pub read_only: bool,
    /// The value is the default (not set on this resource).
    pub is_default: bool,
    /// The value is hidden (a password, a key).
    pub is_sensitive: bool,
}

fn resource_arg(resource_type: i8, name: *const c_char) -> FfiResult<ConfigResource> {
    let name = str_arg(name, "resource_name")?;
    match resource_type {
        ODRADEK_CONFIG_RESOURCE_TOPIC => Ok(ConfigResource::Topic(name.to_string())),
        ODRADEK_CONFIG_RESOURCE_BROKER => name.parse().map(ConfigResource::Broker).map_err(|_| {
            invalid(format!(
                "resource_name: a broker is named by its node id, not {name:?}"
            ))
        }),
        other => Err(invalid(format!(
            "resource_type: {other} is not ODRADEK_CONFIG_RESOURCE_TOPIC or _BROKER"
        ))),
    }
}

/// The configs of a topic or broker (`resource_type` ODRADEK_CONFIG_RESOURCE_*): all of them,
/// or with `key_count` > 0 only `keys`. `*out` receives an array of `*count` entries owned by
/// the caller: odradek_config_descriptions_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_describe_configs(
    admin: *const OdradekAdmin,
    resource_type: i8,
    resource_name: *const c_char,
    keys: *const *const c_char,
    key_count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekConfigDescription,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let resource = resource_arg(resource_type, resource_name)?;
        let keys = strs_arg(keys, key_count, "keys")?;
        let filter = (!keys.is_empty()).then_some(keys.as_slice());
        let entries = block(
            a.describe_configs(&resource, filter),
            timeout_ms,
            cancel,
            "describe configs",
        )?;
        Ok(entries.into_iter().map(|e| OdradekConfigDescription {
            name: owned_str(e.name),
            value: owned_opt_str(e.value),
            read_only: e.read_only,
            is_default: e.is_default,
            is_sensitive: e.is_sensitive,
        }))
    })
}

/// Frees an array returned by odradek_admin_describe_configs. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_config_descriptions_free(
    list: *mut OdradekConfigDescription,
    count: usize,
) {
    guard_void(|| {
        for e in take_array(list, count).iter() {
            free_owned_str(e.name);
            free_owned_str(e.value);
        }
    })
}

/// Changes configs of a topic or broker, leaving the others as they are (Kafka's
/// IncrementalAlterConfigs): each entry sets `key` to `value`, or with a NULL `value` reverts
/// `key` to its default.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_alter_configs(
    admin: *const OdradekAdmin,
    resource_type: i8,
    resource_name: *const c_char,
    changes: *const OdradekConfigEntry,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let resource = resource_arg(resource_type, resource_name)?;
        let ops = each_arg(changes, count, "changes", |e, what| {
            let key = str_arg(e.key, &format!("{what}.key"))?.to_string();
            Ok(if e.value.is_null() {
                AlterConfigOp::Delete(key)
            } else {
                let value = str_arg(e.value, &format!("{what}.value ({key})"))?;
                AlterConfigOp::Set(key, value.to_string())
            })
        })?;
        block(
            a.alter_configs(&resource, &ops),
            timeout_ms,
            cancel,
            "alter configs",
        )
    })
}
