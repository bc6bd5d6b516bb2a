//! `_odradek.set_log_level`: the core's log records (the log bridge, `odradek::logging`) to
//! Python's `logging.getLogger("odradek")`. Records reach Python through the dispatcher thread
//! ([`crate::dispatch`]), never from the core's log thread directly, so the exit rules that
//! keep the dispatcher out of a finalizing interpreter cover them too.

use std::sync::Arc;

use odradek::logging::{LogLevel, LogRecord, clear_log_callback, set_log_callback};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::dispatch::dispatch;
use crate::raise;

/// Python's number for a level (`logging.WARNING` is 30); trace is 5, below DEBUG.
fn python_level(level: LogLevel) -> i32 {
    match level {
        LogLevel::Error => 40,
        LogLevel::Warn => 30,
        LogLevel::Info => 20,
        LogLevel::Debug => 10,
        LogLevel::Trace => 5,
    }
}

/// The least severe core level a Python level lets through; `None` above ERROR (nothing the
/// client logs is CRITICAL).
fn core_threshold(python: i32) -> Option<LogLevel> {
    LogLevel::ALL
        .into_iter()
        .rev()
        .find(|l| python <= python_level(*l))
}

/// Forwards records at Python level `level` and above to the `odradek` logger (`extra`
/// carries `odradek_target`, the Rust module); a level above ERROR stops forwarding.
#[pyfunction]
pub(crate) fn set_log_level(py: Python<'_>, level: i32) -> PyResult<()> {
    let Some(threshold) = core_threshold(level) else {
        clear_log_callback();
        return Ok(());
    };
    let logger = Arc::new(
        py.import("logging")?
            .call_method1("getLogger", ("odradek",))?
            .unbind(),
    );
    let forward = move |record: &LogRecord| {
        let logger = Arc::clone(&logger);
        let level = python_level(record.level);
        let message = record.message.clone();
        let target = record.target.clone();
        dispatch(Box::new(move |py| {
            let logged = (|| -> PyResult<()> {
                let extra = PyDict::new(py);
                extra.set_item("odradek_target", target)?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("extra", extra)?;
                logger
                    .bind(py)
                    .call_method("log", (level, "%s", message), Some(&kwargs))?;
                Ok(())
            })();
            // A handler that raises must not take the dispatcher down with it.
            if let Err(e) = logged {
                e.print(py);
            }
        }));
    };
    set_log_callback(threshold, Arc::new(forward)).map_err(|e| raise(py, e))
}
