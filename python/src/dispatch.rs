//! The one thread that hands results to Python. Tokio workers never take the GIL (a worker
//! blocked on the GIL would stall every client's I/O); they queue jobs here instead, and this
//! thread runs every queued job under one GIL acquisition.
//!
//! At interpreter exit the thread must be out of Python before finalization starts: CPython
//! ends any thread that takes the GIL during finalization with `pthread_exit`, whose forced
//! unwind through Rust frames crashed the process (SIGSEGV after a clean run, about one exit in
//! two with asyncio, whose `call_soon_threadsafe` releases and retakes the GIL). So an `atexit`
//! hook ([`stop`]) lets the running batch finish, and the thread never enters Python again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};

use pyo3::prelude::*;

/// Work that needs the GIL: resolving futures, calling delivery callbacks.
pub(crate) type Job = Box<dyn FnOnce(Python<'_>) + Send>;

static QUEUE: OnceLock<Sender<Job>> = OnceLock::new();

fn queue() -> &'static Sender<Job> {
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("odradek-python".into())
            .spawn(move || run(rx))
            .expect("cannot start the odradek-python dispatcher thread");
        tx
    })
}

/// Set by the `atexit` hook: from then on no job enters Python.
static STOPPED: AtomicBool = AtomicBool::new(false);
/// Held while a batch runs, so the hook can wait for the batch in flight.
static IN_PYTHON: Mutex<()> = Mutex::new(());

fn run(rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while let Ok(more) = rx.try_recv() {
            jobs.push(more);
        }
        let in_python = IN_PYTHON.lock().unwrap_or_else(|e| e.into_inner());
        if STOPPED.load(Ordering::SeqCst) {
            // The interpreter is going away. Dropping the jobs would decref Python objects
            // without the GIL, so they are kept and this thread waits for the process to end.
            drop(in_python);
            std::mem::forget(jobs);
            loop {
                std::thread::park();
            }
        }
        Python::attach(|py| {
            for job in jobs {
                job(py);
            }
        });
        drop(in_python);
    }
}

/// The `atexit` hook: stops the dispatcher entering Python, after letting the batch in flight
/// finish (with the GIL released, so that batch can take it).
#[pyfunction]
pub(crate) fn stop(py: Python<'_>) {
    STOPPED.store(true, Ordering::SeqCst);
    py.detach(|| drop(IN_PYTHON.lock()));
}

/// Queues `job` to run with the GIL on the dispatcher thread.
pub(crate) fn dispatch(job: Job) {
    // The receiver lives as long as the process, so sending cannot fail.
    let _ = queue().send(job);
}

/// Where results go: `callback(arg)` directly, or, for asyncio, scheduled on the event loop
/// with `loop.call_soon_threadsafe(callback, arg)` so it runs on the loop's thread.
#[derive(Debug)]
pub(crate) struct Resolver {
    pub callback: Py<PyAny>,
    pub event_loop: Option<Py<PyAny>>,
}

impl Resolver {
    /// Calls (or schedules) the callback with `arg`; a failure is reported as unraisable
    /// (there is no caller to raise it to).
    pub(crate) fn call(&self, py: Python<'_>, arg: Bound<'_, PyAny>) {
        let callback = self.callback.bind(py);
        let outcome = match &self.event_loop {
            Some(lp) => lp
                .bind(py)
                .call_method1("call_soon_threadsafe", (callback, arg)),
            None => callback.call1((arg,)),
        };
        if let Err(e) = outcome {
            // A closed event loop (the application is shutting down) is not worth reporting.
            if self.event_loop.is_none() {
                e.write_unraisable(py, Some(callback));
            }
        }
    }
}

/// Runs `work` on the library runtime and hands its outcome to `resolver` on this thread:
/// `None` on success, the exception otherwise (the asyncio calls that return no value).
pub(crate) fn resolve_unit_later(
    work: impl std::future::Future<Output = odradek::error::Result<()>> + Send + 'static,
    resolver: Resolver,
) {
    odradek::runtime::spawn(async move {
        let r = work.await;
        dispatch(Box::new(move |py| {
            let arg = match r {
                Ok(()) => py.None().into_bound(py),
                Err(e) => crate::exception(py, &e),
            };
            resolver.call(py, arg);
        }));
    });
}
