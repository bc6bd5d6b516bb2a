//! `onError` and the consumer's statistics for Node: the core's error callback
//! (`odradek::events`) calls a weak thread-safe function (it never keeps the process alive)
//! with the error encoded as [`crate::js_error`] encodes every error; `index.js` turns it into
//! a `KafkaError` on the JavaScript thread.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use odradek::events::ErrorEvents;

use crate::NativeProducer;
use crate::consumer::NativeConsumer;

type ErrorFn = ThreadsafeFunction<String, (), String, Status, false, true>;

fn set_error_callback(events: &ErrorEvents, callback: Option<Function<String, ()>>) -> Result<()> {
    let Some(callback) = callback else {
        events.clear_callback();
        return Ok(());
    };
    let tsfn: ErrorFn = callback
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    events.set_callback(Arc::new(move |e: &odradek::error::Error| {
        // NonBlocking: a busy JavaScript thread never stalls the library's event thread.
        tsfn.call(
            crate::js_error(e.clone()).reason,
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }));
    Ok(())
}

#[napi]
impl NativeProducer {
    /// Background failures to `callback(encodedError)`; null stops them.
    #[napi(ts_args_type = "callback: ((encodedError: string) => void) | null")]
    pub fn set_error_callback(&self, callback: Option<Function<String, ()>>) -> Result<()> {
        set_error_callback(self.inner.cluster().events(), callback)
    }
}

#[napi]
impl NativeConsumer {
    /// Background failures to `callback(encodedError)`; null stops them.
    #[napi(ts_args_type = "callback: ((encodedError: string) => void) | null")]
    pub fn set_error_callback(&self, callback: Option<Function<String, ()>>) -> Result<()> {
        set_error_callback(self.inner.consumer().cluster().events(), callback)
    }

    /// The consumer's statistics snapshot as JSON text.
    #[napi]
    pub fn metrics_json(&self) -> String {
        self.inner.metrics().to_json()
    }
}
