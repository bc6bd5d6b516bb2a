//! Admin of consumer groups: list, describe, committed offsets (list, alter, delete), delete
//! groups, and lag per partition. Requests go to each group's coordinator.

use std::ffi::c_char;

use odradek::admin::{GroupDescription, GroupListing, GroupMember, PartitionLag};

use crate::ODRADEK_OFFSET_INVALID;
use crate::admin::{OdradekAdmin, admin_call, admin_list};
use crate::consumer::{OdradekTopicPartition, partitions_arg};
use crate::error::OdradekError;
use crate::util::{
    OdradekCancel, block, free_owned_str, guard_void, owned_opt_str, owned_str, str_arg, strs_arg,
    take_array,
};

/// A group as the brokers list it.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekGroupListing {
    /// The group's name (`group.id`), NUL-terminated (owned by the array it is in).
    pub group_id: *mut c_char,
    /// `consumer` for consumer groups; empty for a group with committed offsets only.
    pub protocol_type: *mut c_char,
    /// The coordinator's state name: `Stable`, `PreparingRebalance`, `Empty`, `Dead`, ...
    pub state: *mut c_char,
    /// `classic` or `consumer` (KIP-848).
    pub group_type: *mut c_char,
}

/// A member of a described group.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekGroupMember {
    /// The id the coordinator gave the member.
    pub member_id: *mut c_char,
    /// `group.instance.id` of a static member; NULL for a dynamic one.
    pub instance_id: *mut c_char,
    /// The member's `client.id`.
    pub client_id: *mut c_char,
    /// The member's address as the coordinator saw it.
    pub host: *mut c_char,
    /// KIP-848 member epoch (-1 for classic members).
    pub member_epoch: i32,
    /// The partitions assigned to the member (offsets are ODRADEK_OFFSET_INVALID), sorted.
    pub assignment: *mut OdradekTopicPartition,
    /// Number of entries in `assignment`.
    pub assignment_count: usize,
}

/// A described group. Every pointer is owned by the array it is in.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekGroupDescription {
    /// The group's name.
    pub group_id: *mut c_char,
    /// `classic` or `consumer`.
    pub group_type: *mut c_char,
    /// The coordinator's state name; `Dead` for a group that does not exist.
    pub state: *mut c_char,
    /// Classic: the chosen assignor protocol; consumer: the server-side assignor.
    pub assignor: *mut c_char,
    /// Classic: the generation (-1 when not known); consumer: the group epoch.
    pub epoch: i32,
    /// The current members.
    pub members: *mut OdradekGroupMember,
    /// Number of entries in `members`.
    pub member_count: usize,
}

/// The lag of a group on one partition.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekPartitionLag {
    /// Topic name, NUL-terminated (owned by the array it is in).
    pub topic: *mut c_char,
    /// Partition.
    pub partition: i32,
    /// The committed offset; ODRADEK_OFFSET_INVALID when nothing is committed.
    pub committed: i64,
    /// The offset a read_committed consumer can read up to (the last stable offset).
    pub log_end: i64,
    /// `log_end` minus the committed offset (or minus the log start when none), ≥ 0.
    pub lag: i64,
}

fn owned_partition(topic: String, partition: i32, offset: i64) -> OdradekTopicPartition {
    OdradekTopicPartition {
        topic: owned_str(topic).cast_const(),
        partition,
        offset,
    }
}

pub(crate) fn free_partitions(list: *mut OdradekTopicPartition, count: usize) {
    for p in take_array(list, count).iter() {
        free_owned_str(p.topic);
    }
}

/// Every group of every broker, sorted by name. `*out` receives an array of `*count` entries
/// owned by the caller: odradek_group_listings_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_list_groups(
    admin: *const OdradekAdmin,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekGroupListing,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let groups = block(a.list_groups(), timeout_ms, cancel, "list groups")?;
        Ok(groups
            .into_iter()
            .map(|g: GroupListing| OdradekGroupListing {
                group_id: owned_str(g.group_id),
                protocol_type: owned_str(g.protocol_type),
                state: owned_str(g.state),
                group_type: owned_str(g.group_type),
            }))
    })
}

/// Frees an array returned by odradek_admin_list_groups. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_group_listings_free(list: *mut OdradekGroupListing, count: usize) {
    guard_void(|| {
        for g in take_array(list, count).iter() {
            for s in [g.group_id, g.protocol_type, g.state, g.group_type] {
                free_owned_str(s);
            }
        }
    })
}

fn member(m: GroupMember) -> OdradekGroupMember {
    let assignment: Box<[OdradekTopicPartition]> = m
        .assignment
        .into_iter()
        .map(|(t, p)| owned_partition(t, p, ODRADEK_OFFSET_INVALID))
        .collect();
    let assignment_count = assignment.len();
    OdradekGroupMember {
        member_id: owned_str(m.member_id),
        instance_id: owned_opt_str(m.instance_id),
        client_id: owned_str(m.client_id),
        host: owned_str(m.host),
        member_epoch: m.member_epoch,
        assignment: Box::into_raw(assignment).cast::<OdradekTopicPartition>(),
        assignment_count,
    }
}

fn description(g: GroupDescription) -> OdradekGroupDescription {
    let members: Box<[OdradekGroupMember]> = g.members.into_iter().map(member).collect();
    let member_count = members.len();
    OdradekGroupDescription {
        group_id: owned_str(g.group_id),
        group_type: owned_str(g.group_type),
        state: owned_str(g.state),
        assignor: owned_str(g.assignor),
        epoch: g.epoch,
        members: Box::into_raw(members).cast::<OdradekGroupMember>(),
        member_count,
    }
}

/// Describes groups, one entry per name in order; a group that does not exist has state
/// `Dead` and no members. `*out` receives an array of `*count` entries owned by the caller:
/// odradek_group_descriptions_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_describe_groups(
    admin: *const OdradekAdmin,
    groups: *const *const c_char,
    group_count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekGroupDescription,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let names = strs_arg(groups, group_count, "groups")?;
        let described = block(
            a.describe_groups(&names),
            timeout_ms,
            cancel,
            "describe groups",
        )?;
        Ok(described.into_iter().map(description))
    })
}

/// Frees an array returned by odradek_admin_describe_groups. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_group_descriptions_free(
    list: *mut OdradekGroupDescription,
    count: usize,
) {
    guard_void(|| {
        for g in take_array(list, count).iter() {
            for s in [g.group_id, g.group_type, g.state, g.assignor] {
                free_owned_str(s);
            }
            for m in take_array(g.members, g.member_count).iter() {
                for s in [m.member_id, m.instance_id, m.client_id, m.host] {
                    free_owned_str(s);
                }
                free_partitions(m.assignment, m.assignment_count);
            }
        }
    })
}

/// Every committed offset of `group`. `*out` receives an array of `*count` partitions (each
/// `offset` the committed one) owned by the caller: odradek_topic_partitions_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_list_group_offsets(
    admin: *const OdradekAdmin,
    group: *const c_char,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekTopicPartition,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let group = str_arg(group, "group")?;
        let offsets = block(
            a.list_group_offsets(group),
            timeout_ms,
            cancel,
            "list group offsets",
        )?;
        Ok(offsets
            .into_iter()
            .map(|((t, p), o)| owned_partition(t, p, o)))
    })
}

/// Sets committed offsets of `group` (each `offset` the next one to read). The group must
/// have no members (Kafka answers UNKNOWN_MEMBER_ID for an active group).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_alter_group_offsets(
    admin: *const OdradekAdmin,
    group: *const c_char,
    offsets: *const OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let group = str_arg(group, "group")?;
        let offsets: Vec<(String, i32, i64)> = partitions_arg(offsets, count)?
            .into_iter()
            .map(|(t, p, o)| (t.to_string(), p, o))
            .collect();
        block(
            a.alter_group_offsets(group, &offsets),
            timeout_ms,
            cancel,
            "alter group offsets",
        )
    })
}

/// Deletes committed offsets of `group` for these partitions (their `offset` is ignored);
/// refused for topics the group is consuming.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_delete_group_offsets(
    admin: *const OdradekAdmin,
    group: *const c_char,
    partitions: *const OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let group = str_arg(group, "group")?;
        let partitions: Vec<(String, i32)> = partitions_arg(partitions, count)?
            .into_iter()
            .map(|(t, p, _)| (t.to_string(), p))
            .collect();
        block(
            a.delete_group_offsets(group, &partitions),
            timeout_ms,
            cancel,
            "delete group offsets",
        )
    })
}

/// Deletes groups (each must have no members); fails with the first group's error
/// (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ...).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_delete_groups(
    admin: *const OdradekAdmin,
    groups: *const *const c_char,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    admin_call(admin, |a| {
        let names = strs_arg(groups, count, "groups")?;
        block(a.delete_groups(&names), timeout_ms, cancel, "delete groups")
    })
}

/// The lag of `group` on every partition it has committed offsets for, plus every partition
/// of `topics` (may be NULL when `topic_count` is 0), sorted. `*out` receives an array of
/// `*count` entries owned by the caller: odradek_partition_lags_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_admin_group_lag(
    admin: *const OdradekAdmin,
    group: *const c_char,
    topics: *const *const c_char,
    topic_count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekPartitionLag,
    count: *mut usize,
) -> *mut OdradekError {
    admin_list(admin, out, count, |a| {
        let group = str_arg(group, "group")?;
        let topics = strs_arg(topics, topic_count, "topics")?;
        let lags = block(a.group_lag(group, &topics), timeout_ms, cancel, "group lag")?;
        Ok(lags.into_iter().map(|l: PartitionLag| OdradekPartitionLag {
            topic: owned_str(l.topic),
            partition: l.partition,
            committed: l.committed.unwrap_or(ODRADEK_OFFSET_INVALID),
            log_end: l.log_end,
            lag: l.lag,
        }))
    })
}

/// Frees an array returned by odradek_admin_group_lag. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_partition_lags_free(list: *mut OdradekPartitionLag, count: usize) {
    guard_void(|| {
        for l in take_array(list, count).iter() {
            free_owned_str(l.topic);
        }
    })
}
