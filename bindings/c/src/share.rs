//! The share consumer (KIP-932, share groups): members of a share group read the same partitions,
//! the broker hands each record to one member at a time, and the member acknowledges it (accept,
//! release: deliver again, reject: never again). Messages come in the consumer's message layout
//! with a parallel array of delivery counts.

use std::ffi::c_char;
use std::ptr::null_mut;
use std::sync::Arc;

use odradek::consumer::ConsumerRecord;
use odradek::share::{AcknowledgeType, ShareConsumer, ShareRecord};

use crate::consumer::{
    MessageListOwner, OdradekMessage, OdradekTopicPartition, message_list, write_partitions,
};
use crate::error::OdradekError;
use crate::token::new_handle;
use crate::util::{
    FfiResult, OdradekCancel, OdradekConfigEntry, block, check_out, each_arg, guard, guard_void,
    handle, invalid, run_blocking, str_arg, write_out,
};
use crate::{ODRADEK_OFFSET_INVALID, token};

/// Acknowledge type: the record was processed; it is never delivered again.
pub const ODRADEK_ACKNOWLEDGE_ACCEPT: i32 = 1;
/// Acknowledge type: the record was not processed; it is delivered again (to any member) with
/// its delivery count one higher.
pub const ODRADEK_ACKNOWLEDGE_RELEASE: i32 = 2;
/// Acknowledge type: the record cannot be processed; it is never delivered again.
pub const ODRADEK_ACKNOWLEDGE_REJECT: i32 = 3;

/// A share consumer handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekShareConsumer {
    consumer: ShareConsumer,
    /// Triggered by close: wakes every poll still waiting.
    closing: Arc<OdradekCancel>,
    /// The OAUTHBEARER token callback's gate, closed by free.
    token_gate: Option<Arc<token::TokenGate>>,
}

/// Messages handed out by odradek_share_consumer_poll (owned by the caller, freed with
/// odradek_share_message_list_free). Every pointer points into the list.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekShareMessageList {
    /// The messages, in the order they were handed out (timestamp_type is always 0).
    pub messages: *const OdradekMessage,
    /// `delivery_counts[i]` is how often `messages[i]` has been delivered: 1 the first time, 2
    /// after one release or lock timeout, ...
    pub delivery_counts: *const i16,
    /// Number of messages (0 when the poll timed out).
    pub count: usize,
}

/// The allocation behind an OdradekShareMessageList (the public part is its first field).
#[repr(C)]
struct ShareListOwner {
    list: OdradekShareMessageList,
    messages: Box<MessageListOwner>,
    delivery_counts: Vec<i16>,
}

fn share_list(records: Vec<ShareRecord>) -> Box<ShareListOwner> {
    let delivery_counts: Vec<i16> = records.iter().map(|r| r.delivery_count).collect();
    let records: Vec<ConsumerRecord> = records
        .iter()
        .map(ShareRecord::to_consumer_record)
        .collect();
    let messages = message_list(records);
    Box::new(ShareListOwner {
        list: OdradekShareMessageList {
            messages: messages.list.messages,
            delivery_counts: delivery_counts.as_ptr(),
            count: delivery_counts.len(),
        },
        messages,
        delivery_counts,
    })
}

/// Creates a share consumer (`bootstrap.servers` and `group.id` required;
/// `share.acknowledgement.mode` is `implicit`, the default: records not acknowledged are
/// accepted at the next poll or commit, or `explicit`: every record must be acknowledged before
/// the next poll). `*out` receives the handle, freed with odradek_share_consumer_free().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_new(
    config: *const OdradekConfigEntry,
    config_len: usize,
    out: *mut *mut OdradekShareConsumer,
) -> *mut OdradekError {
    new_handle(config, config_len, None, null_mut(), out, share_handle)
}

/// odradek_share_consumer_new with an OAUTHBEARER token callback (see OdradekTokenCallback),
/// used when `sasl.mechanism` is OAUTHBEARER. `context` must stay valid until
/// odradek_share_consumer_free returns. A NULL callback is odradek_share_consumer_new.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_new_with_token_callback(
    config: *const OdradekConfigEntry,
    config_len: usize,
    callback: token::OdradekTokenCallback,
    context: *mut std::ffi::c_void,
    out: *mut *mut OdradekShareConsumer,
) -> *mut OdradekError {
    new_handle(config, config_len, callback, context, out, share_handle)
}

/// The handle of a share consumer made from `config`; `token_gate` is closed when it is freed.
fn share_handle(
    config: &odradek::config::Config,
    token_gate: Option<Arc<crate::token::TokenGate>>,
) -> FfiResult<OdradekShareConsumer> {
    Ok(OdradekShareConsumer {
        consumer: ShareConsumer::new(config)?,
        closing: Arc::default(),
        token_gate,
    })
}

/// Subscribes to these topics (replacing the previous subscription). Returns at once; the
/// coordinator's assignment arrives while polling.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_subscribe(
    consumer: *const OdradekShareConsumer,
    topics: *const *const c_char,
    count: usize,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let names = each_arg(topics, count, "topics", |t, what| str_arg(*t, what))?;
        c.consumer.subscribe(&names);
        Ok(())
    })
}

/// The partitions the coordinator assigned to this member now. `*out` receives an array of
/// `*count` entries (offset ODRADEK_OFFSET_INVALID), owned by the caller:
/// odradek_topic_partitions_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_assignment(
    consumer: *const OdradekShareConsumer,
    out: *mut *mut OdradekTopicPartition,
    count: *mut usize,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        check_out(out, "out")?;
        check_out(count, "count")?;
        let mut assignment = c.consumer.assignment();
        assignment.sort();
        let list = assignment
            .into_iter()
            .map(|(t, p)| (t, p, ODRADEK_OFFSET_INVALID));
        write_partitions(list, out, count)
    })
}

/// Waits up to `timeout_ms` (< 0: no limit) for records; acknowledgements of the records handed
/// out before travel with this fetch. `*out` receives a list (empty after the timeout), owned by
/// the caller: odradek_share_message_list_free(). `cancel` (may be NULL) interrupts the wait
/// ("_INTR"); records acquired by an interrupted poll are delivered again once their
/// acquisition lock times out. In explicit mode a record of the previous poll left
/// unacknowledged is an error ("_INVALID_ARG").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_poll(
    consumer: *const OdradekShareConsumer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekShareMessageList,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        check_out(out, "out")?;
        // SAFETY: a non-null token is alive for the call (header contract).
        let cancel = unsafe { cancel.as_ref() };
        let closing = &c.closing;
        // "No limit" is a year: the core adds the timeout to the current instant.
        let timeout = if timeout_ms < 0 {
            std::time::Duration::from_secs(365 * 24 * 3600)
        } else {
            crate::util::duration_ms(timeout_ms)
        };
        let records = run_blocking(async {
            let cancelled = async {
                match cancel {
                    Some(token) => token.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = c.consumer.poll(timeout) => r.map_err(Into::into),
                _ = cancelled => Err(crate::error::Failure::Interrupted),
                _ = closing.cancelled() => Err(odradek::error::Error::closed("the share consumer is closed").into()),
            }
        })?;
        write_out(
            out,
            Box::into_raw(share_list(records)).cast::<OdradekShareMessageList>(),
            "out",
        )
    })
}

/// Frees a list returned by odradek_share_consumer_poll. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_message_list_free(list: *mut OdradekShareMessageList) {
    if !list.is_null() {
        // SAFETY: lists handed to callers are the first field of a boxed ShareListOwner
        // (repr(C)), created by Box::into_raw in odradek_share_consumer_poll; freed once.
        guard_void(|| drop(unsafe { Box::from_raw(list.cast::<ShareListOwner>()) }));
    }
}

/// Acknowledges the record at `topic` / `partition` / `offset` handed out by
/// odradek_share_consumer_poll, with `acknowledge_type` one of ODRADEK_ACKNOWLEDGE_*. It is sent
/// with the next poll or commit. A record acknowledged already, or not handed out to this
/// member, is an error ("_INVALID_ARG").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_acknowledge(
    consumer: *const OdradekShareConsumer,
    topic: *const c_char,
    partition: i32,
    offset: i64,
    acknowledge_type: i32,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let topic = str_arg(topic, "topic")?;
        let kind = acknowledge_type_arg(acknowledge_type)?;
        c.consumer
            .acknowledge_offset(topic, partition, offset, kind)?;
        Ok(())
    })
}

fn acknowledge_type_arg(value: i32) -> FfiResult<AcknowledgeType> {
    match value {
        ODRADEK_ACKNOWLEDGE_ACCEPT => Ok(AcknowledgeType::Accept),
        ODRADEK_ACKNOWLEDGE_RELEASE => Ok(AcknowledgeType::Release),
        ODRADEK_ACKNOWLEDGE_REJECT => Ok(AcknowledgeType::Reject),
        other => Err(invalid(format!(
            "acknowledge_type {other} is not one of ODRADEK_ACKNOWLEDGE_ACCEPT (1), \
             ODRADEK_ACKNOWLEDGE_RELEASE (2), ODRADEK_ACKNOWLEDGE_REJECT (3)"
        ))),
    }
}

/// Sends the pending acknowledgements now (in implicit mode every record handed out and not
/// acknowledged is accepted) and waits up to `timeout_ms` (< 0: no limit) for the brokers'
/// answers. Returns the first partition's error, if any.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_commit_sync(
    consumer: *const OdradekShareConsumer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        block(c.consumer.commit_sync(), timeout_ms, cancel, "commit_sync")
    })
}

/// odradek_share_consumer_commit_sync in the background: returns at once; a failure is logged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_commit_async(
    consumer: *const OdradekShareConsumer,
) -> *mut OdradekError {
    guard(|| {
        handle(consumer, "consumer")?.consumer.commit_async();
        Ok(())
    })
}

/// Leaves the share group: explicit acknowledgements are sent, records handed out and not
/// acknowledged are released (delivered again, to any member), and waiting polls return
/// "_DESTROY". Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_close(
    consumer: *const OdradekShareConsumer,
    timeout_ms: i32,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        c.closing.trigger();
        block(c.consumer.close(), timeout_ms, std::ptr::null(), "close")
    })
}

/// Frees the share consumer (closing it first if needed). It must be the last call on the
/// handle. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_share_consumer_free(consumer: *mut OdradekShareConsumer) {
    if consumer.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the handle came from odradek_share_consumer_new and is freed once.
        let c = unsafe { Box::from_raw(consumer) };
        c.closing.trigger();
        let _ = run_blocking(c.consumer.close());
        let gate = c.token_gate.clone();
        drop(c);
        if let Some(g) = gate {
            g.close();
        }
    })
}
