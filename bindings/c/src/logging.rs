//! The log bridge in C: the core's log records (`odradek::logging`) to one C function.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use odradek::logging::{LogLevel, LogRecord, clear_log_callback, set_log_callback};

use crate::error::OdradekError;
use crate::util::{UserContext, guard, guard_void, invalid};

/// Log level: something failed.
pub const ODRADEK_LOG_ERROR: i32 = 1;
/// Log level: needs attention (a broker unreachable, a commit failed).
pub const ODRADEK_LOG_WARN: i32 = 2;
/// Log level: lifecycle (connections, group membership).
pub const ODRADEK_LOG_INFO: i32 = 3;
/// Log level: protocol decisions, retries.
pub const ODRADEK_LOG_DEBUG: i32 = 4;
/// Log level: every request.
pub const ODRADEK_LOG_TRACE: i32 = 5;

/// Called with each log record at the chosen level or more severe, on the library's log thread
/// (`odradek-log`; one per process, never a client's I/O thread): `level` is one of
/// ODRADEK_LOG_*, `target` the library module that logged it, `message` the text with its
/// fields as ` key=value`; both NUL-terminated and valid during the call only. A slow callback
/// makes the library drop records (the next record says how many), never slows a client.
pub type OdradekLogCallback = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        level: i32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// Sends the library's log records at `level` (ODRADEK_LOG_*) and more severe to `callback`
/// with `context`, replacing the callback set before; a NULL callback stops forwarding. Process
/// wide: the first call installs the library's log collector, which fails (`_INVALID_ARG`) in a
/// process where Rust code installed another `tracing` subscriber.
#[unsafe(no_mangle)]
pub extern "C" fn odradek_set_log_callback(
    level: i32,
    callback: OdradekLogCallback,
    context: *mut c_void,
) -> *mut OdradekError {
    guard(|| {
        let Some(callback) = callback else {
            clear_log_callback();
            return Ok(());
        };
        let Some(threshold) = LogLevel::from_number(level.into()) else {
            return Err(invalid(format!(
                "log level {level} is not one of ODRADEK_LOG_ERROR (1) .. ODRADEK_LOG_TRACE (5)"
            )));
        };
        let context = UserContext(context);
        let forward = move |record: &LogRecord| {
            let target = CString::new(record.target.as_bytes()).unwrap_or_default();
            // A NUL inside a message would cut it short; none of ours has one.
            let message = CString::new(record.message.replace('\0', " ")).unwrap_or_default();
            let level = record.level as i32;
            guard_void(|| {
                // SAFETY: the caller's function pointer and context, as documented above; the
                // strings live until the call returns.
                unsafe { callback(context.ptr(), level, target.as_ptr(), message.as_ptr()) }
            });
        };
        set_log_callback(threshold, Arc::new(forward))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_levels_are_the_core_numbers() {
        let c = [
            ODRADEK_LOG_ERROR,
            ODRADEK_LOG_WARN,
            ODRADEK_LOG_INFO,
            ODRADEK_LOG_DEBUG,
            ODRADEK_LOG_TRACE,
        ];
        for (n, level) in c.into_iter().zip(LogLevel::ALL) {
            assert_eq!(LogLevel::from_number(n.into()), Some(level));
        }
    }
}
