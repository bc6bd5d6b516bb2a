//! The log bridge in C++: the core's log records (`odradek::logging`) to the user's handler,
//! which the C++ half keeps (`log_record` in odradek.cc).

use std::sync::Arc;

use odradek::error::Error;
use odradek::logging::{LogLevel, LogRecord, clear_log_callback, set_log_callback};

use crate::{FfiError, ffi, guard};

pub fn set_log_forwarding(level: u8) -> Result<(), FfiError> {
    guard(|| {
        if level == 0 {
            clear_log_callback();
            return Ok(());
        }
        let Some(level) = LogLevel::from_number(level.into()) else {
            return Err(Error::invalid_argument(format!(
                "log level {level} is not one of odradek::LogLevel (1 to 5)"
            )));
        };
        set_log_callback(
            level,
            Arc::new(|r: &LogRecord| ffi::log_record(r.level as u8, &r.target, &r.message)),
        )
    })
}
