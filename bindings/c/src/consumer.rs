//! The consumer: manual assignment or group subscription, messages in batches (blocking with
//! a timeout and a cancel token, or through a completion callback), commit/committed/seek/
//! position, rebalance callbacks.

use std::collections::HashMap;
use std::ffi::{CString, c_char, c_void};
use std::ptr::null_mut;
use std::sync::{Arc, Mutex};

use odradek::consumer::{ConsumerRecord, Offset};
use odradek::group::RebalanceListener;

use crate::ODRADEK_OFFSET_INVALID;
use crate::error::OdradekError;
use crate::producer::OdradekHeader;
use crate::token::new_handle;
use crate::util::{
    FfiResult, OdradekCancel, OdradekConfigEntry, UserContext, block, check_out, duration_ms,
    guard, guard_void, handle, invalid, run_blocking, slice_arg, str_arg, write_out,
};
use odradek::consumer::ConsumerClient;

/// A consumer handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekConsumer {
    pub(crate) client: ConsumerClient,
    /// Callback contexts registered with the group, dropped with the handle.
    listener: Mutex<Option<Arc<CallbackListener>>>,
    pending: Arc<PendingPolls>,
    /// Triggered by close: wakes every poll still waiting.
    closing: Arc<OdradekCancel>,
    /// The OAUTHBEARER token callback's gate, closed by free.
    token_gate: Option<Arc<crate::token::TokenGate>>,
}

/// Asynchronous polls not completed yet: close waits for them.
#[derive(Debug, Default)]
struct PendingPolls {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
    /// Set by free; callbacks run under the read lock (see the producer's).
    freed: std::sync::RwLock<bool>,
}

/// A topic and partition.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekTopicPartition {
    /// Topic name, NUL-terminated.
    pub topic: *const c_char,
    /// Partition.
    pub partition: i32,
    /// An offset: where to start (assign; ODRADEK_OFFSET_* or ≥ 0), the next offset to read
    /// (commit), or an output (committed: ODRADEK_OFFSET_INVALID when none). Ignored where the
    /// function says so.
    pub offset: i64,
}

/// A consumed record. Every pointer points into the OdradekMessageList that holds it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekMessage {
    /// Topic name, NUL-terminated.
    pub topic: *const c_char,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in ms since the epoch.
    pub timestamp: i64,
    /// 0: create time, 1: log-append time.
    pub timestamp_type: i32,
    /// Key bytes; NULL for a null key (an empty key is non-NULL with length 0).
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// Value bytes; NULL for a null value.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// Headers in order (NULL when headers_len is 0).
    pub headers: *const OdradekHeader,
    /// Number of headers.
    pub headers_len: usize,
}

/// A batch of consumed messages. Returned by odradek_consumer_poll (owned by the caller, freed
/// with odradek_message_list_free) or lent to an OdradekPollCallback (valid during the call).
#[repr(C)]
#[derive(Debug)]
pub struct OdradekMessageList {
    /// The messages, in the order the consumer handed them out.
    pub messages: *const OdradekMessage,
    /// Number of messages (0 when the poll timed out).
    pub count: usize,
}

/// The allocation behind an OdradekMessageList (the public part is its first field).
#[repr(C)]
pub(crate) struct MessageListOwner {
    pub(crate) list: OdradekMessageList,
    messages: Vec<OdradekMessage>,
    headers: Vec<OdradekHeader>,
    topics: Vec<CString>,
    records: Vec<ConsumerRecord>,
}

static EMPTY: [u8; 1] = [0];

fn bytes_ptr(b: Option<&[u8]>) -> (*const u8, usize) {
    match b {
        None => (std::ptr::null(), 0),
        Some([]) => (EMPTY.as_ptr(), 0),
        Some(b) => (b.as_ptr(), b.len()),
    }
}

pub(crate) fn message_list(records: Vec<ConsumerRecord>) -> Box<MessageListOwner> {
    let mut topics: Vec<CString> = Vec::new();
    let mut topic_index: HashMap<*const u8, usize> = HashMap::new();
    let mut headers = Vec::with_capacity(records.iter().map(|r| r.headers.len()).sum());
    let mut header_start = Vec::with_capacity(records.len());
    let mut topic_of = Vec::with_capacity(records.len());
    for r in &records {
        let key = r.topic.as_ptr();
        let i = *topic_index.entry(key).or_insert_with(|| {
            topics.push(CString::new(r.topic.as_bytes()).unwrap_or_default());
            topics.len() - 1
        });
        topic_of.push(i);
        header_start.push(headers.len());
        for h in &r.headers {
            let (value, value_len) = bytes_ptr(h.value.as_deref());
            let (name, name_len) = bytes_ptr(Some(&h.key));
            headers.push(OdradekHeader {
                name: name.cast(),
                name_len,
                value,
                value_len,
            });
        }
    }
    let messages: Vec<OdradekMessage> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (key, key_len) = bytes_ptr(r.key.as_deref());
            let (value, value_len) = bytes_ptr(r.value.as_deref());
            OdradekMessage {
                topic: topics[topic_of[i]].as_ptr(),
                partition: r.partition,
                offset: r.offset,
                timestamp: r.timestamp,
                timestamp_type: match r.timestamp_type {
                    odradek::records::TimestampType::LogAppendTime => 1,
                    _ => 0,
                },
                key,
                key_len,
                value,
                value_len,
                headers: if r.headers.is_empty() {
                    std::ptr::null()
                } else {
                    // Headers are fully built above, so this pointer stays valid.
                    headers[header_start[i]..].as_ptr()
                },
                headers_len: r.headers.len(),
            }
        })
        .collect();
    let list = OdradekMessageList {
        messages: messages.as_ptr(),
        count: messages.len(),
    };
    // Moving the Vecs into the box moves their headers, not their heap buffers: the pointers
    // above stay valid.
    Box::new(MessageListOwner {
        list,
        messages,
        headers,
        topics,
        records,
    })
}

/// Frees a list returned by odradek_consumer_poll. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_message_list_free(list: *mut OdradekMessageList) {
    if !list.is_null() {
        // SAFETY: lists handed to callers are the first field of a boxed MessageListOwner
        // (repr(C)), created by Box::into_raw in odradek_consumer_poll; freed once.
        guard_void(|| drop(unsafe { Box::from_raw(list.cast::<MessageListOwner>()) }));
    }
}

/// Called when an odradek_consumer_poll_async completes, on a library thread: `messages` on
/// success (possibly empty after the timeout), else `error`. Both are borrowed: valid during
/// the call only (copy what you keep).
pub type OdradekPollCallback = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        messages: *const OdradekMessageList,
        error: *const OdradekError,
    ),
>;

/// Rebalance event: partitions newly assigned to this member.
pub const ODRADEK_REBALANCE_ASSIGNED: i32 = 1;
/// Rebalance event: partitions revoked in an orderly rebalance, still owned during the call
/// (auto-commit committed them first).
pub const ODRADEK_REBALANCE_REVOKED: i32 = 2;
/// Rebalance event: partitions lost without a rebalance (nothing was committed).
pub const ODRADEK_REBALANCE_LOST: i32 = 3;

/// Called on the consumer's rebalance thread when partition ownership changes: `event` is one
/// of ODRADEK_REBALANCE_*; `partitions` (offset field unused, -1001) is valid during the call.
/// The group waits for it (up to max.poll.interval.ms), and it may call back into the
/// consumer (commit, seek, position, poll): a commit on ODRADEK_REBALANCE_REVOKED lands before
/// another member gets the partitions. odradek_consumer_close runs it for the partitions still
/// owned before the consumer is closed; do not close or free the consumer from it.
pub type OdradekRebalanceCallback = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        event: i32,
        partitions: *const OdradekTopicPartition,
        count: usize,
    ),
>;

#[derive(Debug)]
struct CallbackListener {
    callback: unsafe extern "C" fn(*mut c_void, i32, *const OdradekTopicPartition, usize),
    context: UserContext,
    /// Cleared by close and free; callbacks run under the read lock, so once the write lock
    /// has cleared it none runs any more.
    active: std::sync::RwLock<bool>,
}

impl CallbackListener {
    fn deactivate(&self) {
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = false;
    }
}

impl CallbackListener {
    fn call(&self, event: i32, partitions: &[(String, i32)]) {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        if !*active {
            return;
        }
        let names: Vec<CString> = partitions
            .iter()
            .map(|(t, _)| CString::new(t.as_bytes()).unwrap_or_default())
            .collect();
        let list: Vec<OdradekTopicPartition> = partitions
            .iter()
            .zip(&names)
            .map(|((_, p), n)| OdradekTopicPartition {
                topic: n.as_ptr(),
                partition: *p,
                offset: ODRADEK_OFFSET_INVALID,
            })
            .collect();
        guard_void(|| {
            // SAFETY: callback and context were registered together by the caller; the list
            // and the names it points to outlive the call.
            unsafe { (self.callback)(self.context.ptr(), event, list.as_ptr(), list.len()) }
        });
    }
}

impl RebalanceListener for CallbackListener {
    fn on_assigned(&self, partitions: &[(String, i32)]) {
        self.call(ODRADEK_REBALANCE_ASSIGNED, partitions);
    }
    fn on_revoked(&self, partitions: &[(String, i32)]) {
        self.call(ODRADEK_REBALANCE_REVOKED, partitions);
    }
    fn on_lost(&self, partitions: &[(String, i32)]) {
        self.call(ODRADEK_REBALANCE_LOST, partitions);
    }
}

fn offset_arg(offset: i64) -> FfiResult<Offset> {
    Ok(Offset::from_raw(offset)?)
}

pub(crate) fn partitions_arg(
    parts: *const OdradekTopicPartition,
    count: usize,
) -> FfiResult<Vec<(&'static str, i32, i64)>> {
    slice_arg(parts, count, "partitions")?
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok((
                str_arg(p.topic, &format!("partitions[{i}].topic"))?,
                p.partition,
                p.offset,
            ))
        })
        .collect()
}

/// Creates a consumer. With `group.id` it can subscribe (a group member) and commit; without it
/// only manual assignment. `*out` receives the handle, freed with odradek_consumer_free().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_new(
    config: *const OdradekConfigEntry,
    config_len: usize,
    out: *mut *mut OdradekConsumer,
) -> *mut OdradekError {
    new_handle(config, config_len, None, null_mut(), out, consumer_handle)
}

/// odradek_consumer_new with an OAUTHBEARER token callback (see OdradekTokenCallback), used
/// when `sasl.mechanism` is OAUTHBEARER. `context` must stay valid until odradek_consumer_free
/// returns; no callback starts after that. A NULL callback is odradek_consumer_new.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_new_with_token_callback(
    config: *const OdradekConfigEntry,
    config_len: usize,
    callback: crate::token::OdradekTokenCallback,
    context: *mut std::ffi::c_void,
    out: *mut *mut OdradekConsumer,
) -> *mut OdradekError {
    new_handle(config, config_len, callback, context, out, consumer_handle)
}

/// The handle of a consumer made from `config`; `token_gate` is closed when it is freed.
fn consumer_handle(
    config: &odradek::config::Config,
    token_gate: Option<Arc<crate::token::TokenGate>>,
) -> FfiResult<OdradekConsumer> {
    Ok(OdradekConsumer {
        client: ConsumerClient::new(config)?,
        listener: Mutex::new(None),
        pending: Arc::default(),
        closing: Arc::default(),
        token_gate,
    })
}

/// Sets the rebalance callback (needs `group.id`); call it before odradek_consumer_subscribe.
/// `context` must stay valid until odradek_consumer_close returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_set_rebalance_callback(
    consumer: *const OdradekConsumer,
    callback: OdradekRebalanceCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let callback = callback.ok_or_else(|| invalid("callback is NULL"))?;
        let listener = Arc::new(CallbackListener {
            callback,
            context: UserContext(context),
            active: std::sync::RwLock::new(true),
        });
        c.client.set_rebalance_listener(listener.clone())?;
        if let Some(old) = c
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(listener)
        {
            old.deactivate();
        }
        Ok(())
    })
}

/// Joins the consumer group (`group.id` required) for these topics, replacing an earlier
/// subscription. Returns at once; the assignment arrives while polling.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_subscribe(
    consumer: *const OdradekConsumer,
    topics: *const *const c_char,
    count: usize,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let names = slice_arg(topics, count, "topics")?
            .iter()
            .enumerate()
            .map(|(i, t)| str_arg(*t, &format!("topics[{i}]")))
            .collect::<FfiResult<Vec<_>>>()?;
        c.client.subscribe(&names)?;
        Ok(())
    })
}

/// Assigns partitions by hand (replacing an earlier manual assignment), each starting at its
/// `offset`: ≥ 0, ODRADEK_OFFSET_BEGINNING, ODRADEK_OFFSET_END, or ODRADEK_OFFSET_STORED (the
/// group's committed offset, else `auto.offset.reset`). Blocks up to `timeout_ms` (< 0: no
/// limit) to read committed offsets.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_assign(
    consumer: *const OdradekConsumer,
    partitions: *const OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let parts = partitions_arg(partitions, count)?
            .into_iter()
            .map(|(t, p, o)| Ok((t, p, offset_arg(o)?)))
            .collect::<FfiResult<Vec<_>>>()?;
        block(
            c.client.assign(&parts),
            timeout_ms,
            std::ptr::null(),
            "assign",
        )
    })
}

/// Drops the manual assignment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_unassign(
    consumer: *const OdradekConsumer,
) -> *mut OdradekError {
    guard(|| {
        handle(consumer, "consumer")?.client.unassign();
        Ok(())
    })
}

/// The partitions this consumer reads now (the group's share, or the manual assignment).
/// `*out` receives an array of `*count` entries (offset = current position or
/// ODRADEK_OFFSET_INVALID), owned by the caller: odradek_topic_partitions_free(*out, *count).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_assignment(
    consumer: *const OdradekConsumer,
    out: *mut *mut OdradekTopicPartition,
    count: *mut usize,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        check_out(out, "out")?;
        check_out(count, "count")?;
        let mut assignment = c.client.assignment();
        assignment.sort();
        let list = assignment.into_iter().map(|(t, p)| {
            let offset = c.client.position(&t, p).unwrap_or(ODRADEK_OFFSET_INVALID);
            (t, p, offset)
        });
        write_partitions(list, out, count)
    })
}

/// Writes an array for odradek_topic_partitions_free: `*out` and its length `*count`.
pub(crate) fn write_partitions(
    list: impl Iterator<Item = (String, i32, i64)>,
    out: *mut *mut OdradekTopicPartition,
    count: *mut usize,
) -> FfiResult {
    let list: Box<[OdradekTopicPartition]> = list
        .map(|(t, partition, offset)| OdradekTopicPartition {
            topic: CString::new(t.into_bytes()).unwrap_or_default().into_raw(),
            partition,
            offset,
        })
        .collect();
    write_out(count, list.len(), "count")?;
    write_out(
        out,
        Box::into_raw(list).cast::<OdradekTopicPartition>(),
        "out",
    )
}

/// Frees an array returned by odradek_consumer_assignment (with its count). NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_topic_partitions_free(
    list: *mut OdradekTopicPartition,
    count: usize,
) {
    if list.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the array came from Box<[OdradekTopicPartition]> of `count` entries whose
        // topics are CString::into_raw; freed once.
        let b = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(list, count)) };
        for p in b.iter() {
            // SAFETY: see above.
            drop(unsafe { CString::from_raw(p.topic.cast_mut()) });
        }
    })
}

/// Up to `max` messages: waits up to `timeout_ms` (< 0: no limit) for the first, then takes
/// what is buffered. `*out` receives a list (empty after the timeout) owned by the caller:
/// odradek_message_list_free(). `cancel` (may be NULL) interrupts the wait ("_INTR"); no
/// message is lost by an interrupted or timed-out poll.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_poll(
    consumer: *const OdradekConsumer,
    max: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    out: *mut *mut OdradekMessageList,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        check_out(out, "out")?;
        let max = max.max(1);
        // SAFETY: a non-null token is alive for the call (header contract).
        let cancel = unsafe { cancel.as_ref() };
        let client = &c.client;
        // Records already buffered need no trip through the runtime: one record per call (an
        // iterator) costs a lock, not a block_on.
        let ready = client.take_ready(max)?;
        if !ready.is_empty() || timeout_ms == 0 {
            return write_list(out, ready);
        }
        let closing = &c.closing;
        let records = run_blocking(async {
            let poll = async {
                if timeout_ms < 0 {
                    client.poll_batch(max, std::time::Duration::MAX).await
                } else {
                    client.poll_batch(max, duration_ms(timeout_ms)).await
                }
            };
            let cancelled = async {
                match cancel {
                    Some(token) => token.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = poll => r.map_err(Into::into),
                _ = cancelled => Err(crate::error::Failure::Interrupted),
                _ = closing.cancelled() => Err(odradek::error::Error::closed("the consumer is closed").into()),
            }
        })?;
        write_list(out, records)
    })
}

fn write_list(out: *mut *mut OdradekMessageList, records: Vec<ConsumerRecord>) -> FfiResult {
    let owner = message_list(records);
    write_out(
        out,
        Box::into_raw(owner).cast::<OdradekMessageList>(),
        "out",
    )
}

/// Like odradek_consumer_poll without blocking: `callback(context, messages, error)` runs once
/// on a library thread when messages arrive, the timeout passes (an empty list) or the poll
/// fails. If this call returns an error the callback is never called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_poll_async(
    consumer: *const OdradekConsumer,
    max: usize,
    timeout_ms: i32,
    callback: OdradekPollCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let callback = callback.ok_or_else(|| invalid("callback is NULL"))?;
        let client = c.client.clone();
        let context = UserContext(context);
        let pending = c.pending.clone();
        let closing = c.closing.clone();
        pending
            .count
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        odradek::runtime::spawn(async move {
            let timeout = if timeout_ms < 0 {
                std::time::Duration::MAX
            } else {
                duration_ms(timeout_ms)
            };
            let result = tokio::select! {
                r = client.poll_batch(max.max(1), timeout) => r,
                _ = closing.cancelled() => Err(odradek::error::Error::closed("the consumer is closed")),
            };
            let freed = pending.freed.read().unwrap_or_else(|p| p.into_inner());
            guard_void(|| match result {
                _ if *freed => {}
                Ok(records) => {
                    let owner = message_list(records);
                    // SAFETY: callback and context were given together; the list outlives
                    // the call.
                    unsafe { callback(context.ptr(), &owner.list, std::ptr::null()) }
                }
                Err(e) => {
                    let err = OdradekError::from_core(&e);
                    // SAFETY: as above; the error outlives the call.
                    unsafe { callback(context.ptr(), std::ptr::null(), &err) }
                }
            });
            if pending
                .count
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
                == 1
            {
                pending.idle.notify_waiters();
            }
        });
        Ok(())
    })
}

/// The next message read from this partition will be at `offset` (≥ 0 or
/// ODRADEK_OFFSET_BEGINNING / ODRADEK_OFFSET_END).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_seek(
    consumer: *const OdradekConsumer,
    topic: *const c_char,
    partition: i32,
    offset: i64,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let topic = str_arg(topic, "topic")?;
        c.client.seek(topic, partition, offset_arg(offset)?)?;
        Ok(())
    })
}

/// The offset of the next message this consumer hands out from the partition, or
/// ODRADEK_OFFSET_INVALID when not assigned or not resolved yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_position(
    consumer: *const OdradekConsumer,
    topic: *const c_char,
    partition: i32,
    out: *mut i64,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let topic = str_arg(topic, "topic")?;
        let pos = c
            .client
            .position(topic, partition)
            .unwrap_or(ODRADEK_OFFSET_INVALID);
        write_out(out, pos, "out")
    })
}

/// Stops fetching these partitions (their `offset` is ignored) until odradek_consumer_resume;
/// records fetched before are still handed out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_pause(
    consumer: *const OdradekConsumer,
    partitions: *const OdradekTopicPartition,
    count: usize,
) -> *mut OdradekError {
    set_paused(consumer, partitions, count, true)
}

/// Fetches these partitions again (their `offset` is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_resume(
    consumer: *const OdradekConsumer,
    partitions: *const OdradekTopicPartition,
    count: usize,
) -> *mut OdradekError {
    set_paused(consumer, partitions, count, false)
}

fn set_paused(
    consumer: *const OdradekConsumer,
    partitions: *const OdradekTopicPartition,
    count: usize,
    paused: bool,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let parts = partitions_arg(partitions, count)?;
        let refs: Vec<(&str, i32)> = parts.iter().map(|(t, p, _)| (*t, *p)).collect();
        if paused {
            c.client.consumer().pause(&refs);
        } else {
            c.client.consumer().resume(&refs);
        }
        Ok(())
    })
}

/// The low and high watermarks of a partition (`*low`: its first offset, `*high`: the offset
/// after its last stable record), asked from its leader.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_watermarks(
    consumer: *const OdradekConsumer,
    topic: *const c_char,
    partition: i32,
    low: *mut i64,
    high: *mut i64,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let topic = str_arg(topic, "topic")?;
        check_out(low, "low")?;
        check_out(high, "high")?;
        let (l, h) = block(
            c.client.consumer().fetch_watermarks(topic, partition),
            timeout_ms,
            cancel,
            "watermarks",
        )?;
        write_out(low, l, "low")?;
        write_out(high, h, "high")
    })
}

/// Commits synchronously (`group.id` required): the given offsets (each the next offset to
/// read), or with `count` 0 the positions of every partition read so far.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_commit(
    consumer: *const OdradekConsumer,
    offsets: *const OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let given: Vec<(String, i32, i64)> = partitions_arg(offsets, count)?
            .into_iter()
            .map(|(t, p, o)| (t.to_string(), p, o))
            .collect();
        if given.is_empty() {
            block(c.client.commit(), timeout_ms, cancel, "commit")
        } else {
            block(
                c.client.commit_offsets(&given),
                timeout_ms,
                cancel,
                "commit",
            )
        }
    })
}

/// The group's committed offsets: fills `partitions[i].offset` in place
/// (ODRADEK_OFFSET_INVALID when nothing is committed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_committed(
    consumer: *const OdradekConsumer,
    partitions: *mut OdradekTopicPartition,
    count: usize,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let wanted: Vec<(String, i32)> = partitions_arg(partitions, count)?
            .into_iter()
            .map(|(t, p, _)| (t.to_string(), p))
            .collect();
        let committed = block(c.client.committed(&wanted), timeout_ms, cancel, "committed")?;
        for (i, key) in wanted.iter().enumerate() {
            let offset = committed
                .get(key)
                .copied()
                .flatten()
                .unwrap_or(ODRADEK_OFFSET_INVALID);
            // SAFETY: `partitions` has `count` writable entries (checked non-null above).
            unsafe { (*partitions.add(i)).offset = offset };
        }
        Ok(())
    })
}

/// Leaves the group (committing processed offsets when auto-commit is on) and stops fetching.
/// After it returns no callback of this consumer runs any more (pending async polls complete
/// first, with an error). Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_close(
    consumer: *const OdradekConsumer,
    timeout_ms: i32,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        let pending = c.pending.clone();
        c.closing.trigger();
        let result = block(
            async {
                let closed = c.client.close().await;
                loop {
                    let notified = pending.idle.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if pending.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                        break;
                    }
                    notified.await;
                }
                closed
            },
            timeout_ms,
            std::ptr::null(),
            "close",
        );
        if let Some(l) = c
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            l.deactivate();
        }
        result
    })
}

/// Frees the consumer (closing it first if needed). It must be the last call on the handle.
/// NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_consumer_free(consumer: *mut OdradekConsumer) {
    if consumer.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the handle came from odradek_consumer_new and is freed once.
        let c = unsafe { Box::from_raw(consumer) };
        c.closing.trigger();
        // Waits for a running error callback; none runs after this.
        c.client.consumer().cluster().events().clear_callback();
        *c.pending.freed.write().unwrap_or_else(|p| p.into_inner()) = true;
        if let Some(l) = c
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            l.deactivate();
        }
        let _ = run_blocking(c.client.close());
        let gate = c.token_gate.clone();
        drop(c);
        if let Some(g) = gate {
            g.close();
        }
    })
}
