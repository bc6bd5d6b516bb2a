//! What a client shows of itself in C: the error callback for background failures and the
//! statistics snapshots (JSON text), both from the core (`odradek::events`, `odradek::metrics`).

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use odradek::error::Error;
use odradek::events::ErrorEvents;

use crate::consumer::OdradekConsumer;
use crate::error::OdradekError;
use crate::producer::OdradekProducer;
use crate::util::{FfiResult, UserContext, guard, guard_void, handle, write_out};

/// Called with a failure no call returns — a broker unreachable or its connection lost
/// (`_TRANSPORT`), every broker down (`_ALL_BROKERS_DOWN`), a TLS or SASL failure, the
/// producer fenced, the group refusing the member — on the library's event thread
/// (`odradek-events`, one per process). `error` is valid during the call only (do not free
/// it); its `error_class` says whether the client recovers by itself (retriable) or is done
/// (fatal).
pub type OdradekErrorCallback =
    Option<unsafe extern "C" fn(context: *mut c_void, error: *const OdradekError)>;

fn set_error_callback(events: &ErrorEvents, callback: OdradekErrorCallback, context: *mut c_void) {
    // Cleared first (which waits for a running call), so the previous context may be released
    // as soon as this returns.
    events.clear_callback();
    let Some(callback) = callback else {
        return;
    };
    let context = UserContext(context);
    events.set_callback(Arc::new(move |e: &Error| {
        let error = OdradekError::from_core(e);
        guard_void(|| {
            // SAFETY: the caller's function pointer and context, as documented; `error` lives
            // until the call returns.
            unsafe { callback(context.ptr(), &error) }
        });
    }));
}

/// Sends the producer's background failures to `callback` with `context`, replacing the
/// callback set before; NULL stops them. The context must stay valid until the callback is
/// replaced or the producer freed: neither returns while the previous callback runs, and it
/// never runs afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn odradek_producer_set_error_callback(
    producer: *const OdradekProducer,
    callback: OdradekErrorCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let p = handle(producer, "producer")?;
        set_error_callback(p.producer.cluster().events(), callback, context);
        Ok(())
    })
}

/// The consumer's counterpart of odradek_producer_set_error_callback.
#[unsafe(no_mangle)]
pub extern "C" fn odradek_consumer_set_error_callback(
    consumer: *const OdradekConsumer,
    callback: OdradekErrorCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let c = handle(consumer, "consumer")?;
        set_error_callback(c.client.consumer().cluster().events(), callback, context);
        Ok(())
    })
}

fn json_out(json: String, out: *mut *mut c_char) -> FfiResult {
    let text = CString::new(json).unwrap_or_default();
    write_out(out, text.into_raw(), "out")
}

/// The producer's statistics as JSON text in `*out` (free it with odradek_string_free):
/// records delivered and failed, requests, retries, round trips, the buffer, and a `brokers`
/// array (address, state, connects, connect_failures, disconnects, requests, mean and
/// maximum round trip in µs, in_flight).
#[unsafe(no_mangle)]
pub extern "C" fn odradek_producer_metrics_json(
    producer: *const OdradekProducer,
    out: *mut *mut c_char,
) -> *mut OdradekError {
    guard(|| {
        json_out(
            handle(producer, "producer")?.producer.metrics().to_json(),
            out,
        )
    })
}

/// The consumer's statistics as JSON text in `*out` (free it with odradek_string_free):
/// records and bytes handed out, Fetch round trips, buffered bytes, a `partitions` array
/// (topic, partition, position, high_watermark, lag, paused) and the `brokers` array.
#[unsafe(no_mangle)]
pub extern "C" fn odradek_consumer_metrics_json(
    consumer: *const OdradekConsumer,
    out: *mut *mut c_char,
) -> *mut OdradekError {
    guard(|| {
        json_out(
            handle(consumer, "consumer")?.client.metrics().to_json(),
            out,
        )
    })
}

/// Frees a string this library returned (odradek_*_metrics_json). NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: the string came from CString::into_raw in this library and is freed once.
        drop(unsafe { CString::from_raw(text) });
    }
}
