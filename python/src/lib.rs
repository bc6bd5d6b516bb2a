//! `odradek._odradek`: the native half of the Python package. Thin glue over the Rust core:
//! every rule a user can observe (defaults, partitioning, retries, error classes) lives in
//! `odradek` (core); this crate only converts types, releases the GIL while waiting, and hands
//! results back to Python.
//!
//! Invariants worth knowing:
//! - No tokio worker ever takes the GIL. Results that Python must see (delivery reports, asyncio
//!   results) go to one dispatcher thread ([`dispatch`]) that takes the GIL once per batch.
//! - Every blocking call waits in slices of at most [`SLICE`] with the GIL released and runs
//!   Python's signal handlers between slices, so Ctrl+C interrupts it promptly.

// pyo3's generated glue is `unsafe`, and reading foreign buffers (buffer.rs) is an FFI edge.
#![allow(unsafe_code)]

mod admin;
mod broker;
mod buffer;
mod config;
mod consumer;
mod dispatch;
mod log_bridge;
mod observability;
mod producer;
mod share;

use std::future::Future;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// The longest a blocking call waits with the GIL released before it checks for signals.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// The Python exception instance (not raised) for a core error, built by
/// `odradek.errors._from_native` so the class hierarchy lives in Python.
pub(crate) fn exception<'py>(py: Python<'py>, e: &odradek::error::Error) -> Bound<'py, PyAny> {
    let class = e.class().name();
    let built = py
        .import("odradek.errors")
        .and_then(|m| m.getattr("_from_native"))
        .and_then(|f| {
            f.call1((
                e.numeric_code(),
                e.name(),
                class,
                e.to_string(),
                e.topic(),
                e.partition(),
                e.broker(),
            ))
        });
    match built {
        Ok(exc) => exc,
        Err(err) => err.into_value(py).into_bound(py).into_any(),
    }
}

/// `obj` taken out of the cyclic garbage collector's view. Every pyo3 class is GC-tracked, but
/// one that holds no Python object (`Message`) or only strings (`DeliveryReport`) can never be
/// part of a reference cycle; tracking them made each collection (one per 700 allocations, so
/// many per consumed batch) walk every live record: ~10% of the consume loop at 1 KiB.
pub(crate) fn untracked<T: pyo3::PyClass>(obj: Bound<'_, T>) -> Bound<'_, T> {
    // SAFETY: `obj` is a live GC object (pyo3 allocates every class with Py_TPFLAGS_HAVE_GC);
    // untracking is always allowed and its dealloc untracks idempotently.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    obj
}

/// A core error as a raisable Python exception.
pub(crate) fn raise(py: Python<'_>, e: odradek::error::Error) -> PyErr {
    PyErr::from_value(exception(py, &e))
}

/// Seconds (Python's float, `None` = forever, negative = forever as in confluent-kafka) as a
/// Rust duration.
pub(crate) fn timeout_of(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s < 0.0 => Ok(None),
        Some(s) if s.is_finite() => Ok(Some(Duration::from_secs_f64(s))),
        Some(_) => Ok(None),
    }
}

/// Runs `fut` on the library's runtime with the GIL released, for at most `timeout`
/// (`Ok(None)` when it ran out), checking for Ctrl+C every [`SLICE`]. `stop_early` is asked
/// between slices; when it says so the wait ends like a timeout.
pub(crate) fn wait<F, T>(
    py: Python<'_>,
    timeout: Option<Duration>,
    fut: F,
    stop_early: &dyn Fn() -> bool,
) -> PyResult<Option<T>>
where
    F: Future<Output = odradek::error::Result<T>> + Send,
    T: Send,
{
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut fut = std::pin::pin!(fut);
    loop {
        let slice = deadline.map_or(SLICE, |d| {
            d.saturating_duration_since(Instant::now()).min(SLICE)
        });
        let fut_ref = fut.as_mut();
        let out = py.detach(move || {
            // The timer must be created inside the runtime, hence the async block.
            odradek::runtime::block_on(async move { tokio::time::timeout(slice, fut_ref).await })
        });
        match out {
            Ok(Ok(v)) => return Ok(Some(v)),
            Ok(Err(e)) => return Err(raise(py, e)),
            Err(_elapsed) => {
                py.check_signals()?;
                if deadline.is_some_and(|d| Instant::now() >= d) || stop_early() {
                    return Ok(None);
                }
            }
        }
    }
}

/// [`wait`] for calls that must finish: running out of time is a `_TIMED_OUT` error.
pub(crate) fn wait_for<F, T>(
    py: Python<'_>,
    timeout: Option<Duration>,
    what: &str,
    fut: F,
) -> PyResult<T>
where
    F: Future<Output = odradek::error::Result<T>> + Send,
    T: Send,
{
    match wait(py, timeout, fut, &|| false)? {
        Some(v) => Ok(v),
        None => Err(raise(
            py,
            odradek::error::Error::timeout(format!(
                "{what} did not finish within {:?}",
                timeout.unwrap_or_default()
            )),
        )),
    }
}

/// A config dict (values as the user gave them, coerced by the core) as a core config, with
/// the OAUTHBEARER token callback (`oauth_cb`) when one was given.
pub(crate) fn config_of(
    py: Python<'_>,
    pairs: config::ConfigPairs,
    oauth_cb: Option<Py<PyAny>>,
) -> PyResult<odradek::config::Config> {
    let mut config = config::client_config(py, pairs)?;
    if let Some(cb) = oauth_cb {
        let oauth_config = config
            .get("sasl.oauthbearer.config")
            .unwrap_or("")
            .to_string();
        config.set_oauthbearer_token_provider(oauth_provider(cb, oauth_config));
    }
    Ok(config)
}

/// `oauth_cb(sasl.oauthbearer.config) -> (token, expiry_seconds[, principal[, extensions]])`,
/// confluent-kafka's shape, as a core token provider. It runs on the blocking pool with the
/// GIL taken, at each login and re-authentication.
fn oauth_provider(cb: Py<PyAny>, oauth_config: String) -> odradek::security::TokenProvider {
    use odradek::protocol::sasl::{Secret, oauthbearer::Token};
    odradek::security::TokenProvider::blocking(move || {
        Python::attach(|py| {
            let describe = |e: PyErr| format!("oauth_cb raised {}", e.value(py));
            let out = cb.call1(py, (oauth_config.as_str(),)).map_err(describe)?;
            let out = out.bind(py);
            let field = |i: usize| out.get_item(i).ok();
            let shape = "oauth_cb must return (token, expiry_seconds[, principal[, extensions]])";
            let value: String = field(0)
                .and_then(|v| v.extract().ok())
                .ok_or_else(|| shape.to_string())?;
            let expiry: f64 = field(1)
                .and_then(|v| v.extract().ok())
                .ok_or_else(|| shape.to_string())?;
            let principal: String = field(2).and_then(|v| v.extract().ok()).unwrap_or_default();
            let extensions: Vec<(String, String)> = field(3)
                .and_then(|v| {
                    v.extract::<std::collections::HashMap<String, String>>()
                        .ok()
                })
                .map(|m| m.into_iter().collect())
                .unwrap_or_default();
            Ok(Token {
                value: Secret::new(value),
                principal,
                expires_at_ms: (expiry * 1000.0) as i64,
                extensions,
            })
        })
    })
}

/// The native module.
#[pymodule]
fn _odradek(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The core's rules, so the Python layer maps them instead of retyping them.
    for (name, offset) in odradek::consumer::SPECIAL_OFFSETS {
        m.add(format!("OFFSET_{name}"), offset)?;
    }
    m.add(
        "LOCAL_ERRORS",
        pyo3::types::PyDict::from_sequence(
            &pyo3::types::PyList::new(m.py(), odradek::error::LOCAL_ERRORS)?.into_any(),
        )?,
    )?;
    m.add(
        "ERROR_CLASSES",
        odradek::error::ErrorClass::ALL.map(|c| c.name()).to_vec(),
    )?;
    m.add_class::<producer::DeliveryReport>()?;
    m.add_class::<producer::NativeProducer>()?;
    m.add_class::<consumer::Message>()?;
    m.add_class::<consumer::NativeConsumer>()?;
    m.add_class::<share::ShareMessage>()?;
    m.add_class::<share::NativeShareConsumer>()?;
    m.add_class::<admin::NativeAdmin>()?;
    m.add_class::<broker::NativeBroker>()?;
    m.add_class::<broker::NativeCluster>()?;
    m.add_function(wrap_pyfunction!(log_bridge::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_setting, m)?)?;
    // Runs before finalization (atexit hooks run first), while threads may still take the GIL.
    let stop = wrap_pyfunction!(dispatch::stop, m)?;
    m.py().import("atexit")?.call_method1("register", (stop,))?;
    Ok(())
}
