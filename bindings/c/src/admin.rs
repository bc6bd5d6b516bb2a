//! Admin: create and delete topics, add partitions, list topics.

use std::ffi::c_char;
use std::ptr::null_mut;

use odradek::admin::{Admin, NewTopic};

use crate::error::OdradekError;
use crate::token::new_handle;
use crate::util::{
    FfiResult, OdradekCancel, OdradekConfigEntry, block, check_out, free_owned_str, guard,
    guard_void, handle, owned_str, slice_arg, str_arg, strs_arg, take_array, write_array,
};

/// An admin client handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekAdmin {
    pub(crate) admin: Admin,
    /// The OAUTHBEARER token callback's gate, closed by free.
    token_gate: Option<std::sync::Arc<crate::token::TokenGate>>,
}

/// A topic to create.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekNewTopic {
    /// Topic name, NUL-terminated.
    pub name: *const c_char,
    /// Number of partitions (-1: the broker's num.partitions).
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    pub replication_factor: i16,
    /// Topic configs (cleanup.policy, ...); may be NULL when config_len is 0.
    pub config: *const OdradekConfigEntry,
    /// Number of topic configs.
    pub config_len: usize,
}

/// A topic and its number of partitions.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekTopicInfo {
    /// Topic name, NUL-terminated (owned by the array it is in).
    pub name: *mut c_char,
    /// Number of partitions.
    pub partitions: i32,
}

/// Runs an admin call on the handle: the panic guard, the NULL check, then `f`.
pub(crate) fn admin_call(
    admin: *const OdradekAdmin,
    f: impl FnOnce(&Admin) -> FfiResult,
) -> *mut OdradekError {
    guard(|| f(&handle(admin, "admin")?.admin))
}

/// An admin call that hands out an array as `*out` and `*count` (both checked before `f` runs).
pub(crate) fn admin_list<T, I: IntoIterator<Item = T>>(
    admin: *const OdradekAdmin,
    out: *mut *mut T,
    count: *mut usize,
    f: impl FnOnce(&Admin) -> FfiResult<I>,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        check_out(out, "out")?;
        check_out(count, "count")?;
        write_array(f(a)?, out, count)
    })
}

/// Creates an admin client. `*out` receives the handle, freed with odradek_admin_free().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_new(
    config: *const OdradekConfigEntry,
    config_len: usize,
    out: *mut *mut OdradekAdmin,
) -> *mut OdradekError {
    new_handle(config, config_len, None, null_mut(), out, admin_handle)
}

/// odradek_admin_new with an OAUTHBEARER token callback (see OdradekTokenCallback), used when
/// `sasl.mechanism` is OAUTHBEARER. `context` must stay valid until odradek_admin_free returns;
/// no callback starts after that. A NULL callback is odradek_admin_new.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_new_with_token_callback(
    config: *const OdradekConfigEntry,
    config_len: usize,
    callback: crate::token::OdradekTokenCallback,
    context: *mut std::ffi::c_void,
    out: *mut *mut OdradekAdmin,
) -> *mut OdradekError {
    new_handle(config, config_len, callback, context, out, admin_handle)
}

/// The handle of an admin client made from `config`; `token_gate` is closed when it is freed.
fn admin_handle(
    config: &odradek::config::Config,
    token_gate: Option<std::sync::Arc<crate::token::TokenGate>>,
) -> FfiResult<OdradekAdmin> {
    Ok(OdradekAdmin {
        admin: Admin::from_config(config)?,
        token_gate,
    })
}

/// Creates topics; fails with the first topic's error (e.g. TOPIC_ALREADY_EXISTS). The topics
/// are usable when it returns. `timeout_ms` < 0: no limit; `cancel` may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_create_topics(
    admin: *const OdradekAdmin,
    topics: *const OdradekNewTopic,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let mut new = Vec::new();
        for (i, t) in slice_arg(topics, count, "topics")?.iter().enumerate() {
            let name = str_arg(t.name, &format!("topics[{i}].name"))?;
            let mut topic =
                NewTopic::new(name, t.partitions).replication_factor(t.replication_factor);
            for (j, e) in slice_arg(t.config, t.config_len, "topic config")?
                .iter()
                .enumerate()
            {
                topic = topic.config(
                    str_arg(e.key, &format!("topics[{i}].config[{j}].key"))?,
                    str_arg(e.value, &format!("topics[{i}].config[{j}].value"))?,
                );
            }
            new.push(topic);
        }
        block(a.create_topics(&new), timeout_ms, cancel, "create topics")
    })
}

/// Deletes topics; fails with the first topic's error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_delete_topics(
    admin: *const OdradekAdmin,
    topics: *const *const c_char,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let names = strs_arg(topics, count, "topics")?;
        block(a.delete_topics(&names), timeout_ms, cancel, "delete topics")
    })
}

/// Grows a topic to `total` partitions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_create_partitions(
    admin: *const OdradekAdmin,
    topic: *const c_char,
    total: i32,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let topic = str_arg(topic, "topic")?;
        block(
            a.create_partitions(topic, total),
            timeout_ms,
            cancel,
            "create partitions",
        )
    })
}

/// Every (non-internal) topic with its partition count, sorted by name. `*out` receives an
/// array of `*count` entries owned by the caller: odradek_topic_infos_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_list_topics(
    admin: *const OdradekAdmin,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekTopicInfo,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let topics = block(a.list_topics(), timeout_ms, cancel, "list topics")?;
        Ok(topics.into_iter().map(|(name, n)| OdradekTopicInfo {
            name: owned_str(name),
            partitions: i32::try_from(n).unwrap_or(i32::MAX),
        }))
    })
}

/// Frees an array returned by odradek_admin_list_topics (with its count). NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_topic_infos_free(list: *mut OdradekTopicInfo, count: usize) {
    guard_void(|| {
        for t in take_array(list, count).iter() {
            free_owned_str(t.name);
        }
    })
}

/// Frees the admin client. It must be the last call on the handle. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_free(admin: *mut OdradekAdmin) {
    if !admin.is_null() {
        guard_void(|| {
            // SAFETY: the handle came from odradek_admin_new and is freed once.
            let a = unsafe { Box::from_raw(admin) };
            let gate = a.token_gate.clone();
            drop(a);
            if let Some(g) = gate {
                g.close();
            }
        });
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<OdradekAdmin>();
}
