//! Admin of the cluster and of records: describe the cluster, delete records before offsets.

use std::ffi::c_char;

use crate::admin::{OdradekAdmin, admin_call};
use crate::consumer::{OdradekTopicPartition, partitions_arg};
use crate::error::OdradekError;
use crate::util::{
    OdradekCancel, block, check_out, free_owned_str, guard_void, owned_opt_str, owned_str,
    take_array, write_array, write_out,
};

/// A broker of the cluster.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekBrokerInfo {
    /// Node id.
    pub id: i32,
    /// Host name, NUL-terminated (owned by the description).
    pub host: *mut c_char,
    /// Port.
    pub port: i32,
    /// `broker.rack`; NULL when not set.
    pub rack: *mut c_char,
}

/// The cluster as DescribeCluster reports it, freed by odradek_cluster_description_free.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekClusterDescription {
    /// The cluster id, NUL-terminated.
    pub cluster_id: *mut c_char,
    /// The controller's node id (-1 when not known).
    pub controller_id: i32,
    /// The brokers.
    pub brokers: *mut OdradekBrokerInfo,
    /// Number of entries in `brokers`.
    pub broker_count: usize,
}

/// The cluster id, controller and brokers. `*out` receives a description owned by the caller:
/// odradek_cluster_description_free(*out).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_describe_cluster(
    admin: *const OdradekAdmin,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekClusterDescription,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        check_out(out, "out")?;
        let cluster = block(a.describe_cluster(), timeout_ms, cancel, "describe cluster")?;
        let mut brokers = std::ptr::null_mut();
        let mut broker_count = 0;
        let list = cluster.brokers.into_iter().map(|b| OdradekBrokerInfo {
            id: b.id,
            host: owned_str(b.host),
            port: b.port,
            rack: owned_opt_str(b.rack),
        });
        write_array(list, &mut brokers, &mut broker_count)?;
        let description = Box::new(OdradekClusterDescription {
            cluster_id: owned_str(cluster.cluster_id),
            controller_id: cluster.controller_id,
            brokers,
            broker_count,
        });
        write_out(out, Box::into_raw(description), "out")
    })
}

/// Frees a description returned by odradek_admin_describe_cluster. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_cluster_description_free(
    description: *mut OdradekClusterDescription,
) {
    if description.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the description came from Box::into_raw in odradek_admin_describe_cluster
        // and is freed once.
        let d = unsafe { Box::from_raw(description) };
        free_owned_str(d.cluster_id);
        for b in take_array(d.brokers, d.broker_count).iter() {
            free_owned_str(b.host);
            free_owned_str(b.rack);
        }
    })
}

/// Deletes the records before `partitions[i].offset` (ODRADEK_OFFSET_END: every record) in
/// each partition, then writes each partition's new low watermark into its `offset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_delete_records(
    admin: *const OdradekAdmin,
    partitions: *mut OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let before = partitions_arg(partitions, count)?;
        let low = block(
            a.delete_records(&before),
            timeout_ms,
            cancel,
            "delete records",
        )?;
        for (i, (topic, partition, _)) in before.iter().enumerate() {
            if let Some(watermark) = low.get(&(topic.to_string(), *partition)) {
                // SAFETY: `partitions` has `count` writable entries (checked non-null above).
                unsafe { (*partitions.add(i)).offset = *watermark };
            }
        }
        Ok(())
    })
}
