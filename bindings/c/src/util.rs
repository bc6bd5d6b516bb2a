//! Pointer helpers, the panic guard, blocking with timeout and cancellation, config entries.

use std::ffi::{CStr, CString, c_char, c_void};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use odradek::config::Config;
use odradek::error::Error;
use tokio::sync::Notify;

use crate::error::{Failure, OdradekError};

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

/// Runs `f`, turning an error or a panic into an owned `OdradekError` (null on success).
pub(crate) fn guard(f: impl FnOnce() -> FfiResult) -> *mut OdradekError {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => std::ptr::null_mut(),
        Ok(Err(failure)) => failure.to_ffi().boxed(),
        Err(panic) => OdradekError::internal(&panic_message(&panic)).boxed(),
    }
}

/// Runs `f` where an error cannot be returned (free functions, callbacks): panics are dropped.
pub(crate) fn guard_void(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    Failure::Core(Error::invalid_argument(message))
}

/// A borrowed handle, or an `_INVALID_ARG` error for NULL.
pub(crate) fn handle<'a, T>(ptr: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: a non-null handle pointer came from Box::into_raw in this library and the caller
    // keeps it alive (not freed) for the duration of the call, as the header requires.
    unsafe { ptr.as_ref() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// A NUL-terminated UTF-8 string argument.
pub(crate) fn str_arg<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string valid for the call.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| invalid(format!("{what} is not UTF-8")))
}

/// A (pointer, length) byte argument; NULL means "absent" (a null key, value or header value).
pub(crate) fn bytes_arg<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        None
    } else if len == 0 {
        Some(&[])
    } else {
        // SAFETY: the caller passes `len` readable bytes at `ptr`, valid for the call.
        Some(unsafe { std::slice::from_raw_parts(ptr, len) })
    }
}

/// A (pointer, count) array argument; NULL is allowed only with count 0.
pub(crate) fn slice_arg<'a, T>(ptr: *const T, count: usize, what: &str) -> FfiResult<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL but its count is {count}")));
    }
    // SAFETY: the caller passes `count` initialized elements at `ptr`, valid for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// Each element of a (pointer, count) array argument through `convert`, which gets the
/// element's name for errors (`what[i]`).
pub(crate) fn each_arg<'a, T: 'a, U>(
    ptr: *const T,
    count: usize,
    what: &str,
    convert: impl Fn(&'a T, &str) -> FfiResult<U>,
) -> FfiResult<Vec<U>> {
    slice_arg(ptr, count, what)?
        .iter()
        .enumerate()
        .map(|(i, item)| convert(item, &format!("{what}[{i}]")))
        .collect()
}

/// Writes `value` to an out-pointer, or fails when it is NULL.
pub(crate) fn write_out<T>(out: *mut T, value: T, what: &str) -> FfiResult {
    if out.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes a writable location for one T.
    unsafe { out.write(value) };
    Ok(())
}

/// A Rust string as a NUL-terminated C string the caller owns (freed by [`free_owned_str`]).
/// An interior NUL (never in Kafka names) gives an empty string rather than a panic.
pub(crate) fn owned_str(s: impl Into<String>) -> *mut c_char {
    CString::new(s.into()).unwrap_or_default().into_raw()
}

/// An optional string: NULL for `None`.
pub(crate) fn owned_opt_str(s: Option<String>) -> *mut c_char {
    s.map_or(std::ptr::null_mut(), owned_str)
}

/// Frees a string made by [`owned_str`]; NULL is allowed.
pub(crate) fn free_owned_str(s: *const c_char) {
    if !s.is_null() {
        // SAFETY: the string came from CString::into_raw in this library and is freed once.
        drop(unsafe { CString::from_raw(s.cast_mut()) });
    }
}

/// Hands an array to the caller as `*out` and its length as `*count`; the caller frees it
/// with the function the header names, which calls [`take_array`].
pub(crate) fn write_array<T>(
    list: impl IntoIterator<Item = T>,
    out: *mut *mut T,
    count: *mut usize,
) -> FfiResult {
    let list: Box<[T]> = list.into_iter().collect();
    check_out(out, "out")?;
    write_out(count, list.len(), "count")?;
    write_out(out, Box::into_raw(list).cast::<T>(), "out")
}

/// Takes back an array made by [`write_array`] (NULL gives an empty one), to be dropped
/// after its entries' strings are freed.
pub(crate) fn take_array<T>(list: *mut T, count: usize) -> Box<[T]> {
    if list.is_null() {
        return Box::default();
    }
    // SAFETY: the array is the Box<[T]> of `count` entries write_array handed out; the
    // caller frees it once, as the header requires.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(list, count)) }
}

/// An array of NUL-terminated strings argument (names of topics, groups, users).
pub(crate) fn strs_arg<'a>(
    ptr: *const *const c_char,
    count: usize,
    what: &str,
) -> FfiResult<Vec<&'a str>> {
    each_arg(ptr, count, what, |s, what| str_arg(*s, what))
}

pub(crate) fn check_out<T>(out: *mut T, what: &str) -> FfiResult {
    if out.is_null() {
        Err(invalid(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// One configuration property: Kafka / librdkafka property name and value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OdradekConfigEntry {
    /// Property name, NUL-terminated ("bootstrap.servers").
    pub key: *const c_char,
    /// Property value, NUL-terminated.
    pub value: *const c_char,
}

pub(crate) fn config_arg(entries: *const OdradekConfigEntry, count: usize) -> FfiResult<Config> {
    let mut config = Config::new();
    for (i, e) in slice_arg(entries, count, "config")?.iter().enumerate() {
        let key = str_arg(e.key, &format!("config[{i}].key"))?;
        let value = str_arg(e.value, &format!("config[{i}].value ({key})"))?;
        config.set(key, value)?;
    }
    Ok(config)
}

/// A cancellation token: triggering it interrupts every blocking call it was passed to (they
/// return an error named "_INTR"), now and later. Create with odradek_cancel_new(), free with
/// odradek_cancel_free() once no call uses it.
#[derive(Debug, Default)]
pub struct OdradekCancel {
    cancelled: AtomicBool,
    notify: Notify,
}

impl OdradekCancel {
    pub(crate) fn trigger(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.cancelled.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// A new cancellation token (owned by the caller: odradek_cancel_free()).
#[unsafe(no_mangle)]
pub extern "C" fn odradek_cancel_new() -> *mut OdradekCancel {
    Box::into_raw(Box::default())
}

/// Cancels: every call waiting with this token returns "_INTR". Thread-safe, idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_cancel_trigger(cancel: *const OdradekCancel) {
    guard_void(|| {
        if let Ok(c) = handle(cancel, "cancel") {
            c.trigger();
        }
    })
}

/// Frees a token. No call may be using it any more. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_cancel_free(cancel: *mut OdradekCancel) {
    if !cancel.is_null() {
        // SAFETY: the token came from odradek_cancel_new and is freed once.
        guard_void(|| drop(unsafe { Box::from_raw(cancel) }));
    }
}

/// Runs `fut` to completion from the calling thread, bounded by `timeout_ms` (negative: no
/// limit) and interruptible by `cancel` (may be NULL).
pub(crate) fn block<T>(
    fut: impl Future<Output = Result<T, Error>>,
    timeout_ms: i32,
    cancel: *const OdradekCancel,
    what: &str,
) -> FfiResult<T> {
    // SAFETY: a non-null token is alive for the call (header contract).
    let cancel = unsafe { cancel.as_ref() };
    let limited = async move {
        let work = async {
            if timeout_ms < 0 {
                fut.await.map_err(Failure::from)
            } else {
                match tokio::time::timeout(Duration::from_millis(timeout_ms as u64), fut).await {
                    Ok(r) => r.map_err(Failure::from),
                    Err(_) => Err(Failure::Core(Error::timeout(format!(
                        "{what} did not complete within {timeout_ms} ms"
                    )))),
                }
            }
        };
        match cancel {
            None => work.await,
            Some(c) => tokio::select! {
                r = work => r,
                _ = c.cancelled() => Err(Failure::Interrupted),
            },
        }
    };
    run_blocking(limited)
}

/// Blocks on a future: on a plain thread through the library's runtime; on one of the
/// runtime's own threads (a callback calling back in) without stalling its other tasks.
pub(crate) fn run_blocking<F: Future>(fut: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => tokio::task::block_in_place(|| h.block_on(fut)),
        Err(_) => odradek::runtime::block_on(fut),
    }
}

/// A C callback's context pointer, carried to the library thread that invokes the callback.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserContext(pub *mut c_void);

// SAFETY: the pointer is opaque to the library and only handed back to the caller's callback;
// the header documents that callbacks run on library threads.
unsafe impl Send for UserContext {}
// SAFETY: as above; the library never dereferences it.
unsafe impl Sync for UserContext {}

impl UserContext {
    /// The pointer (a method, so closures capture the Send wrapper, not the raw field).
    pub(crate) fn ptr(self) -> *mut c_void {
        self.0
    }
}

pub(crate) fn duration_ms(ms: i32) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}
