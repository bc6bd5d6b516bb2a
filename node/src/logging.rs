//! `setLogHandler`: the core's log records (the log bridge, `odradek::logging`) to a
//! JavaScript function, through a weak thread-safe function (it never keeps the process alive).

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use odradek::logging::{LogLevel, clear_log_callback, set_log_callback};

use crate::js_error;

/// One log record as JavaScript sees it.
#[napi(object)]
pub struct LogRecord {
    /// "error", "warn", "info", "debug" or "trace".
    pub level: String,
    /// The library module that logged it.
    pub target: String,
    /// The text, then its fields as ` key=value`.
    pub message: String,
}

type LogFn = ThreadsafeFunction<LogRecord, (), LogRecord, Status, false, true>;

/// Sends records at `level` and more severe to `callback`; a null level or callback stops.
#[napi(
    ts_args_type = "level: 'error' | 'warn' | 'info' | 'debug' | 'trace' | null, callback: ((record: LogRecord) => void) | null"
)]
pub fn set_log_handler(
    level: Option<String>,
    callback: Option<Function<LogRecord, ()>>,
) -> Result<()> {
    let (Some(level), Some(callback)) = (level, callback) else {
        clear_log_callback();
        return Ok(());
    };
    let Some(threshold) = LogLevel::from_name(&level) else {
        return Err(Error::new(
            Status::InvalidArg,
            format!("log level {level:?} is not one of error, warn, info, debug, trace"),
        ));
    };
    let tsfn: LogFn = callback
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    set_log_callback(
        threshold,
        Arc::new(move |r: &odradek::logging::LogRecord| {
            // NonBlocking: a JavaScript thread that is busy never stalls the log thread.
            tsfn.call(
                LogRecord {
                    level: r.level.name().to_string(),
                    target: r.target.clone(),
                    message: r.message.clone(),
                },
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }),
    )
    .map_err(js_error)
}
