//! The embedded broker for tests of Go, .NET and C code: in-process, 127.0.0.1, an ephemeral
//! port and a temporary data directory removed on stop.

use std::ffi::{CString, c_char};
use std::sync::Mutex;

use odradek::error::Error;
use odradek_broker::EmbeddedBroker;

use crate::error::OdradekError;
use crate::util::{
    OdradekConfigEntry, check_out, guard, guard_void, slice_arg, str_arg, write_out,
};

/// An embedded broker handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekTestBroker {
    broker: Mutex<EmbeddedBroker>,
    bootstrap: CString,
}

/// Starts a broker with these Kafka broker properties (num.partitions, ...; may be NULL when
/// count is 0). `*out` receives the handle; stop and free it with odradek_test_broker_stop().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_broker_start(
    properties: *const OdradekConfigEntry,
    count: usize,
    out: *mut *mut OdradekTestBroker,
) -> *mut OdradekError {
    guard(|| {
        check_out(out, "out")?;
        let mut props = Vec::new();
        for (i, e) in slice_arg(properties, count, "properties")?
            .iter()
            .enumerate()
        {
            props.push((
                str_arg(e.key, &format!("properties[{i}].key"))?,
                str_arg(e.value, &format!("properties[{i}].value"))?,
            ));
        }
        // The broker runs its own runtime; start it from a plain thread even when called from
        // a library thread.
        let broker = std::thread::scope(|s| s.spawn(|| EmbeddedBroker::start(&props)).join())
            .map_err(|_| Error::invalid_argument("the embedded broker panicked while starting"))?
            .map_err(|e| Error::config("broker", e))?;
        let bootstrap = CString::new(broker.bootstrap_servers()).unwrap_or_default();
        let handle = Box::new(OdradekTestBroker {
            broker: Mutex::new(broker),
            bootstrap,
        });
        write_out(out, Box::into_raw(handle), "out")
    })
}

/// `host:port` for bootstrap.servers, NUL-terminated, owned by the broker handle (valid until
/// odradek_test_broker_stop). NULL for a NULL handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_broker_bootstrap(
    broker: *const OdradekTestBroker,
) -> *const c_char {
    // SAFETY: a non-null handle is alive (header contract).
    match unsafe { broker.as_ref() } {
        Some(b) => b.bootstrap.as_ptr(),
        None => std::ptr::null(),
    }
}

/// Stops the broker, removes its data directory and frees the handle (the last call on it).
/// NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_broker_stop(broker: *mut OdradekTestBroker) {
    if broker.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the handle came from odradek_test_broker_start and is freed once.
        let b = unsafe { Box::from_raw(broker) };
        let inner = b.broker.into_inner().unwrap_or_else(|p| p.into_inner());
        // Stopping blocks on the broker's runtime: do it from a plain thread.
        let _ = std::thread::spawn(move || drop(inner)).join();
    })
}
