//! The embedded broker for tests of Go, .NET and C code: in-process, 127.0.0.1, an ephemeral
//! port and a temporary data directory removed on stop.

use std::ffi::{CString, c_char};
use std::sync::Mutex;

use odradek::error::Error;
use odradek_broker::EmbeddedBroker;

use crate::error::OdradekError;
use crate::util::{
    FfiResult, OdradekConfigEntry, check_out, each_arg, guard, guard_void, invalid, str_arg,
    write_out,
};

/// An embedded broker handle (opaque, thread-safe).
#[derive(Debug)]
pub struct OdradekTestBroker {
    broker: Mutex<EmbeddedBroker>,
    bootstrap: CString,
    ca_pem: Option<CString>,
}

/// Starts a broker with these Kafka broker properties (num.partitions, ...; may be NULL when
/// count is 0). `*out` receives the handle; stop and free it with odradek_test_broker_stop().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_broker_start(
    properties: *const OdradekConfigEntry,
    count: usize,
    out: *mut *mut OdradekTestBroker,
) -> *mut OdradekError {
    guard(|| start(properties, count, None, out))
}

/// Starts a broker whose one listener is SASL_SSL: TLS with a certificate for 127.0.0.1 /
/// localhost signed by a CA made now (odradek_test_broker_ca_pem), SCRAM-SHA-256 and
/// SCRAM-SHA-512 with the user `username` / `password`. `properties` are added
/// (`sasl.enabled.mechanisms` with OAUTHBEARER also accepts unsecured JWTs). A client connects
/// with security.protocol=SASL_SSL, sasl.mechanism=SCRAM-SHA-512, sasl.username, sasl.password
/// and ssl.ca.pem set to the CA.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_broker_start_sasl_ssl(
    username: *const c_char,
    password: *const c_char,
    properties: *const OdradekConfigEntry,
    count: usize,
    out: *mut *mut OdradekTestBroker,
) -> *mut OdradekError {
    guard(|| {
        let user = str_arg(username, "username")?;
        let password = str_arg(password, "password")?;
        start(properties, count, Some((user, password)), out)
    })
}

fn start(
    properties: *const OdradekConfigEntry,
    count: usize,
    sasl_ssl: Option<(&str, &str)>,
    out: *mut *mut OdradekTestBroker,
) -> FfiResult {
    check_out(out, "out")?;
    let props = properties_arg(properties, count)?;
    let broker = on_plain_thread("the embedded broker", || match sasl_ssl {
        Some((user, password)) => EmbeddedBroker::start_sasl_ssl(user, password, &props),
        None => EmbeddedBroker::start(&props),
    })?
    .map_err(|e| Error::config("broker", e))?;
    let bootstrap = CString::new(broker.bootstrap_servers()).unwrap_or_default();
    let ca_pem = broker
        .ca_pem()
        .map(|pem| CString::new(pem).unwrap_or_default());
    let handle = Box::new(OdradekTestBroker {
        broker: Mutex::new(broker),
        bootstrap,
        ca_pem,
    });
    write_out(out, Box::into_raw(handle), "out")
}

/// Broker properties given as config entries (NULL is allowed when `count` is 0).
pub(crate) fn properties_arg<'a>(
    properties: *const OdradekConfigEntry,
    count: usize,
) -> FfiResult<Vec<(&'a str, &'a str)>> {
    each_arg(properties, count, "properties", |e, what| {
        Ok((
            str_arg(e.key, &format!("{what}.key"))?,
            str_arg(e.value, &format!("{what}.value"))?,
        ))
    })
}

/// Runs `f` on a plain thread: the embedded broker and cluster block on runtimes of their own,
/// which must not happen from a thread already inside a tokio runtime (a library thread).
pub(crate) fn on_plain_thread<T: Send>(what: &str, f: impl FnOnce() -> T + Send) -> FfiResult<T> {
    std::thread::scope(|s| s.spawn(f).join()).map_err(|_| invalid(format!("{what} panicked")))
}

/// The CA certificate (PEM, NUL-terminated) a client must trust, for a broker from
/// odradek_test_broker_start_sasl_ssl; owned by the handle (valid until odradek_test_broker_stop).
/// NULL for a plaintext broker or a NULL handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_test_broker_ca_pem(
    broker: *const OdradekTestBroker,
) -> *const c_char {
    // SAFETY: a non-null handle is alive (header contract).
    match unsafe { broker.as_ref() }.and_then(|b| b.ca_pem.as_ref()) {
        Some(pem) => pem.as_ptr(),
        None => std::ptr::null(),
    }
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
