//! The producer: send one or many records, delivery reports through a callback.

use std::ffi::{c_char, c_void};
use std::ptr::null_mut;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use odradek::error::Error;
use odradek::producer::{DeliveryFuture, DeliveryReport, Producer, ProducerRecord};
use odradek::records::RecordHeader;
use tokio::sync::Notify;

use crate::error::OdradekError;
use crate::token::new_handle;
use crate::util::{
    FfiResult, OdradekCancel, OdradekConfigEntry, UserContext, block, bytes_arg, guard, guard_void,
    handle, invalid, slice_arg, str_arg,
};

/// A record header. In produce calls the pointers are borrowed for the call; in consumed
/// messages they point into the OdradekMessageList that holds them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekHeader {
    /// Header name bytes (UTF-8, not NUL-terminated).
    pub name: *const c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// Header value; NULL is a null value (distinct from an empty one).
    pub value: *const u8,
    /// Length of `value` in bytes.
    pub value_len: usize,
}

/// A record to send. Every pointer is borrowed for the duration of the send call only: the
/// library copies the bytes before the call returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekProduceRecord {
    /// Topic name, NUL-terminated.
    pub topic: *const c_char,
    /// Partition, or -1 to let the partitioner choose (murmur2 of the key, as the Java client).
    pub partition: i32,
    /// Key bytes; NULL is a null key (distinct from an empty key: non-NULL, length 0).
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// Value bytes; NULL is a null value (a tombstone).
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// Headers, in order (may be NULL when headers_len is 0).
    pub headers: *const OdradekHeader,
    /// Number of headers.
    pub headers_len: usize,
    /// Create time in ms since the epoch, or -1 for now.
    pub timestamp: i64,
}

/// Where a record was written, or why it was not.
#[repr(C)]
#[derive(Debug)]
pub struct OdradekDeliveryReport {
    /// Partition (-1 when the record failed before a partition was chosen).
    pub partition: i32,
    /// Offset (-1 with acks=0 or on error).
    pub offset: i64,
    /// Timestamp of the record (create time, or log-append time if the topic uses it).
    pub timestamp: i64,
    /// NULL on success, else the delivery error (borrowed: valid during the callback only).
    pub error: *const OdradekError,
}

/// Called once per send call when every record of it is delivered or failed, on a library
/// thread: `reports[i]` is the outcome of record i of the call (one report for
/// odradek_producer_send). `reports` and everything it points to are valid during the call only.
pub type OdradekDeliveryCallback = Option<
    unsafe extern "C" fn(context: *mut c_void, reports: *const OdradekDeliveryReport, count: usize),
>;

/// A producer handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekProducer {
    pub(crate) producer: Producer,
    callbacks: Arc<Pending>,
    /// The OAUTHBEARER token callback's gate, closed by free.
    token_gate: Option<Arc<crate::token::TokenGate>>,
}

/// Callbacks not yet invoked: close waits for them so none runs after close returns.
#[derive(Debug, Default)]
struct Pending {
    count: AtomicUsize,
    idle: Notify,
    /// Set by free: callbacks still pending are not invoked any more. Callbacks run under the
    /// read lock, so free (the write lock) returns only once none is running.
    freed: std::sync::RwLock<bool>,
}

impl Pending {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

fn header_list(r: &OdradekProduceRecord) -> FfiResult<Vec<RecordHeader>> {
    slice_arg(r.headers, r.headers_len, "record.headers")?
        .iter()
        .map(|h| {
            let name = bytes_arg(h.name.cast(), h.name_len)
                .ok_or_else(|| invalid("a header name is NULL"))?;
            Ok(RecordHeader {
                key: Bytes::copy_from_slice(name),
                value: bytes_arg(h.value, h.value_len).map(Bytes::copy_from_slice),
            })
        })
        .collect()
}

fn send_one(producer: &Producer, r: &OdradekProduceRecord) -> FfiResult<DeliveryFuture> {
    let topic = str_arg(r.topic, "record.topic")?;
    let headers = header_list(r)?;
    let mut record = ProducerRecord::new(topic).headers(&headers);
    if r.partition >= 0 {
        record = record.partition(r.partition);
    } else if r.partition != -1 {
        return Err(invalid(format!(
            "record.partition {} is not -1 or ≥ 0",
            r.partition
        )));
    }
    if let Some(k) = bytes_arg(r.key, r.key_len) {
        record = record.key(k);
    }
    if let Some(v) = bytes_arg(r.value, r.value_len) {
        record = record.value(v);
    }
    if r.timestamp >= 0 {
        record = record.timestamp(r.timestamp);
    }
    Ok(producer.send(record))
}

fn report(
    result: &Result<DeliveryReport, Error>,
    error: &Option<OdradekError>,
) -> OdradekDeliveryReport {
    match (result, error) {
        (Ok(r), _) => OdradekDeliveryReport {
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            error: std::ptr::null(),
        },
        (Err(e), Some(fe)) => OdradekDeliveryReport {
            partition: e.partition().unwrap_or(-1),
            offset: -1,
            timestamp: -1,
            error: fe,
        },
        (Err(_), None) => unreachable!("errors are converted before reports are built"),
    }
}

/// Creates a producer from configuration properties (librdkafka / Java names). A bad property
/// fails with "_INVALID_CONFIG" naming the key. `*out` receives the handle, freed with
/// odradek_producer_free().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_new(
    config: *const OdradekConfigEntry,
    config_len: usize,
    out: *mut *mut OdradekProducer,
) -> *mut OdradekError {
    new_handle(config, config_len, None, null_mut(), out, producer_handle)
}

/// odradek_producer_new with an OAUTHBEARER token callback (see OdradekTokenCallback), used
/// when `sasl.mechanism` is OAUTHBEARER. `context` must stay valid until odradek_producer_free
/// returns; no callback starts after that. A NULL callback is odradek_producer_new.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_new_with_token_callback(
    config: *const OdradekConfigEntry,
    config_len: usize,
    callback: crate::token::OdradekTokenCallback,
    context: *mut std::ffi::c_void,
    out: *mut *mut OdradekProducer,
) -> *mut OdradekError {
    new_handle(config, config_len, callback, context, out, producer_handle)
}

/// The handle of a producer made from `config`; `token_gate` is closed when it is freed.
fn producer_handle(
    config: &odradek::config::Config,
    token_gate: Option<Arc<crate::token::TokenGate>>,
) -> FfiResult<OdradekProducer> {
    Ok(OdradekProducer {
        producer: Producer::from_config(config)?,
        callbacks: Arc::default(),
        token_gate,
    })
}

fn send_batch(
    p: &OdradekProducer,
    records: &[OdradekProduceRecord],
    callback: OdradekDeliveryCallback,
    context: UserContext,
) -> FfiResult {
    let callback = callback.ok_or_else(|| invalid("callback is NULL"))?;
    // Validate everything first so that a bad argument sends nothing.
    for r in records {
        str_arg(r.topic, "record.topic")?;
        header_list(r)?;
    }
    let futures = records
        .iter()
        .map(|r| send_one(&p.producer, r))
        .collect::<FfiResult<Vec<_>>>()?;
    let pending = p.callbacks.clone();
    pending.count.fetch_add(1, Ordering::SeqCst);
    odradek::runtime::spawn(async move {
        // In order, one after another: records of one batch complete together, so only the first
        // of each batch waits (one wake-up per batch); join_all would register a waker and take
        // a wake-up for every record.
        let mut results = Vec::with_capacity(futures.len());
        for delivery in futures {
            results.push(delivery.await);
        }
        let errors: Vec<Option<OdradekError>> = results
            .iter()
            .map(|r| r.as_ref().err().map(OdradekError::from_core))
            .collect();
        let reports: Vec<OdradekDeliveryReport> = results
            .iter()
            .zip(&errors)
            .map(|(r, e)| report(r, e))
            .collect();
        guard_void(|| {
            let freed = pending.freed.read().unwrap_or_else(|p| p.into_inner());
            if !*freed {
                // SAFETY: the callback and context were given together by the caller, who keeps
                // the context valid until the callback runs (or the producer is freed); the
                // reports outlive the call.
                unsafe { callback(context.ptr(), reports.as_ptr(), reports.len()) }
            }
        });
        drop(reports);
        drop(errors);
        pending.done();
    });
    Ok(())
}

/// Sends one record. Returns an error only for invalid arguments; the outcome of the delivery
/// (success or error) arrives through `callback(context, report, 1)` exactly once, on a
/// library thread, unless this call returned an error (then the callback is never called).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_send(
    producer: *const OdradekProducer,
    record: *const OdradekProduceRecord,
    callback: OdradekDeliveryCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        let r = handle(record, "record")?;
        send_batch(p, std::slice::from_ref(r), callback, UserContext(context))
    })
}

/// Sends `count` records in order (one crossing for many records). `callback(context, reports,
/// count)` runs once when all are delivered or failed, with the reports in the order of
/// `records`. If this call returns an error, nothing was sent and the callback is not called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_send_batch(
    producer: *const OdradekProducer,
    records: *const OdradekProduceRecord,
    count: usize,
    callback: OdradekDeliveryCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        let rs = slice_arg(records, count, "records")?;
        if rs.is_empty() {
            return Err(invalid("records is empty"));
        }
        send_batch(p, rs, callback, UserContext(context))
    })
}

/// Waits until every record sent so far is delivered or failed and its callback has returned.
/// `timeout_ms` < 0 waits without limit; `cancel` (may be NULL) interrupts the wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_flush(
    producer: *const OdradekProducer,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        let pending = p.callbacks.clone();
        block(
            async {
                p.producer.flush().await?;
                pending.wait_idle().await;
                Ok(())
            },
            timeout_ms,
            cancel,
            "flush",
        )
    })
}

/// Flushes (as odradek_producer_flush) and closes: later sends fail with "_DESTROY". After it
/// returns, no delivery callback of an earlier send runs any more. Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_close(
    producer: *const OdradekProducer,
    timeout_ms: i32,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        let pending = p.callbacks.clone();
        block(
            async {
                let closed = p.producer.close().await;
                pending.wait_idle().await;
                closed
            },
            timeout_ms,
            std::ptr::null(),
            "close",
        )
    })
}

/// Frees the producer. Records not delivered yet are still sent in the background, but no
/// callback runs after this returns (call odradek_producer_close first to get every report).
/// It must be the last call on the handle. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_producer_free(producer: *mut OdradekProducer) {
    if producer.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the handle came from odradek_producer_new and is freed once (header contract).
        let p = unsafe { Box::from_raw(producer) };
        *p.callbacks.freed.write().unwrap_or_else(|e| e.into_inner()) = true;
        // Waits for a running error callback; none runs after this.
        p.producer.cluster().events().clear_callback();
        let gate = p.token_gate.clone();
        drop(p);
        if let Some(g) = gate {
            g.close();
        }
    })
}
