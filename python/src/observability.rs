//! `error_cb` and the consumer's statistics for Python: the core's error callback
//! (`odradek::events`) delivers each background failure as an `odradek.errors` exception
//! instance, through the dispatcher thread ([`crate::dispatch`]) like every other call into
//! Python, and on the client's event loop for the asyncio classes.

use std::sync::Arc;

use odradek::error::Error;
use odradek::events::ErrorEvents;
use pyo3::prelude::*;

use crate::dispatch::{Resolver, dispatch};

/// Sends `events`' errors to `callback(exception)`, called with the GIL (scheduled on
/// `event_loop` when given); `None` stops them.
pub(crate) fn set_error_callback(
    events: &ErrorEvents,
    callback: Option<Py<PyAny>>,
    event_loop: Option<Py<PyAny>>,
) {
    let Some(callback) = callback else {
        events.clear_callback();
        return;
    };
    let resolver = Arc::new(Resolver {
        callback,
        event_loop,
    });
    events.set_callback(Arc::new(move |e: &Error| {
        let resolver = Arc::clone(&resolver);
        let error = e.clone();
        dispatch(Box::new(move |py| {
            resolver.call(py, crate::exception(py, &error));
        }));
    }));
}
