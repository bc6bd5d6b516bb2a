//! The error value every fallible call returns.

use std::ffi::{CString, c_char};

use odradek::error::{Error, ErrorClass};

/// Error class: a retry of the same operation may succeed.
pub const ODRADEK_CLASS_RETRIABLE: i32 = 0;
/// Error class: this request can never succeed as sent; the client stays usable.
pub const ODRADEK_CLASS_PERMANENT: i32 = 1;
/// Error class: the current transaction must be aborted; the client stays usable.
pub const ODRADEK_CLASS_ABORTABLE: i32 = 2;
/// Error class: the client cannot continue (closed, fenced, unauthorized).
pub const ODRADEK_CLASS_FATAL: i32 = 3;

// Local error codes: librdkafka's, named as the error's name with the ODRADEK_ERR prefix. The
// core defines them (`odradek::error::LOCAL_ERRORS`); the test below fails when these drift.
/// Code of the error returned when an OdradekCancel token interrupted a call (name "_INTR").
pub const ODRADEK_ERR_INTR: i32 = -163;
/// Code of an internal failure (a caught panic; name "_FAIL").
pub const ODRADEK_ERR_FAIL: i32 = -196;
/// "_INVALID_CONFIG": a bad setting; nothing was sent.
pub const ODRADEK_ERR_INVALID_CONFIG: i32 = -186;
/// "_INVALID_ARG": a bad argument; nothing was sent.
pub const ODRADEK_ERR_INVALID_ARG: i32 = -186;
/// "_BAD_MSG": a malformed response or record batch.
pub const ODRADEK_ERR_BAD_MSG: i32 = -199;
/// "_TRANSPORT": the connection failed.
pub const ODRADEK_ERR_TRANSPORT: i32 = -195;
/// "_TIMED_OUT": a call did not finish within its timeout.
pub const ODRADEK_ERR_TIMED_OUT: i32 = -185;
/// "_MSG_TIMED_OUT": a record was not delivered within delivery.timeout.ms.
pub const ODRADEK_ERR_MSG_TIMED_OUT: i32 = -192;
/// "_QUEUE_FULL": the producer's buffer is full (max.block.ms passed).
pub const ODRADEK_ERR_QUEUE_FULL: i32 = -184;
/// "_DESTROY": the client is closed.
pub const ODRADEK_ERR_DESTROY: i32 = -197;
/// "_UNSUPPORTED_FEATURE": the broker lacks a needed API version.
pub const ODRADEK_ERR_UNSUPPORTED_FEATURE: i32 = -165;
/// "_ALL_BROKERS_DOWN": no broker could be reached.
pub const ODRADEK_ERR_ALL_BROKERS_DOWN: i32 = -187;
/// "_AUTHENTICATION": SASL authentication failed.
pub const ODRADEK_ERR_AUTHENTICATION: i32 = -169;
/// "_SSL": the TLS handshake or certificate check failed.
pub const ODRADEK_ERR_SSL: i32 = -181;

/// An error. Owned by whoever received it as a return value: free it with
/// odradek_error_free(). Errors passed to callbacks are borrowed (valid during the callback).
#[repr(C)]
#[derive(Debug)]
pub struct OdradekError {
    /// The Kafka error code for broker errors (e.g. 10 MESSAGE_TOO_LARGE), else librdkafka's
    /// negative code for the same local condition (e.g. -185 _TIMED_OUT, -186 _INVALID_ARG).
    pub code: i32,
    /// One of the ODRADEK_CLASS_* constants.
    pub error_class: i32,
    /// Whether retrying the same operation can succeed.
    pub retriable: bool,
    /// The stable name: Kafka's (UNKNOWN_TOPIC_OR_PARTITION) or librdkafka's (_TIMED_OUT).
    /// NUL-terminated, owned by the error.
    pub name: *mut c_char,
    /// A human-readable message (names the config key for config errors). NUL-terminated,
    /// owned by the error.
    pub message: *mut c_char,
    /// The topic the error is about: NUL-terminated, owned by the error; NULL when not known.
    pub topic: *mut c_char,
    /// The broker it came from ("host:port" or "broker N"): NUL-terminated, owned by the
    /// error; NULL when not known.
    pub broker: *mut c_char,
    /// The partition the error is about; -1 when not known.
    pub partition: i32,
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl OdradekError {
    pub(crate) fn new(code: i32, class: i32, retriable: bool, name: &str, message: &str) -> Self {
        OdradekError {
            code,
            error_class: class,
            retriable,
            name: cstring(name).into_raw(),
            message: cstring(message).into_raw(),
            topic: std::ptr::null_mut(),
            broker: std::ptr::null_mut(),
            partition: -1,
        }
    }

    pub(crate) fn from_core(e: &Error) -> Self {
        let class = class_number(e.class());
        let mut out = Self::new(
            e.numeric_code(),
            class,
            e.is_retriable(),
            &e.name(),
            &e.to_string(),
        );
        let owned = |s: Option<&str>| s.map_or(std::ptr::null_mut(), |s| cstring(s).into_raw());
        out.topic = owned(e.topic());
        out.broker = owned(e.broker());
        out.partition = e.partition().unwrap_or(-1);
        out
    }

    pub(crate) fn interrupted() -> Self {
        Self::new(
            ODRADEK_ERR_INTR,
            ODRADEK_CLASS_RETRIABLE,
            false,
            "_INTR",
            "the operation was cancelled (OdradekCancel)",
        )
    }

    pub(crate) fn internal(message: &str) -> Self {
        Self::new(
            ODRADEK_ERR_FAIL,
            ODRADEK_CLASS_FATAL,
            false,
            "_FAIL",
            &format!("internal error in odradek: {message}"),
        )
    }

    pub(crate) fn boxed(self) -> *mut OdradekError {
        Box::into_raw(Box::new(self))
    }
}

impl Drop for OdradekError {
    fn drop(&mut self) {
        for p in [self.name, self.message, self.topic, self.broker] {
            if !p.is_null() {
                // SAFETY: every non-null string field comes from CString::into_raw (`new`,
                // `from_core`) and is freed only here, once.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    }
}

/// What failed inside the binding: a core error or a cancellation (panics are caught apart).
#[derive(Debug)]
pub(crate) enum Failure {
    Core(Error),
    Interrupted,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    pub(crate) fn to_ffi(&self) -> OdradekError {
        match self {
            Failure::Core(e) => OdradekError::from_core(e),
            Failure::Interrupted => OdradekError::interrupted(),
        }
    }
}

/// Frees an error returned by any function of this header. NULL is allowed (no-op).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_error_free(error: *mut OdradekError) {
    if !error.is_null() {
        // SAFETY: the caller passes an error this library returned, once.
        drop(unsafe { Box::from_raw(error) });
    }
}

/// The ODRADEK_CLASS_* number of a class: its place in the core's `ErrorClass::ALL`.
fn class_number(class: ErrorClass) -> i32 {
    ErrorClass::ALL
        .iter()
        .position(|c| *c == class)
        .map_or(ODRADEK_CLASS_FATAL, |i| i as i32)
}

#[cfg(test)]
mod tests {
    /// The header's numbers are the core's: every binding over the C ABI maps them from there.
    #[test]
    fn the_header_defines_the_core_rules() {
        let header = include_str!("../include/odradek.h");
        let defined = |name: &str, value: i64| {
            assert!(
                header.contains(&format!("#define {name} {value}\n")),
                "odradek.h lacks `#define {name} {value}` (the core's value)"
            );
        };
        for (name, code) in odradek::error::LOCAL_ERRORS {
            defined(&format!("ODRADEK_ERR{name}"), i64::from(code));
        }
        for (name, offset) in odradek::consumer::SPECIAL_OFFSETS {
            defined(&format!("ODRADEK_OFFSET_{name}"), offset);
        }
        for (i, class) in odradek::error::ErrorClass::ALL.iter().enumerate() {
            let name = class.name().to_ascii_uppercase();
            defined(&format!("ODRADEK_CLASS_{name}"), i as i64);
        }
    }
}
