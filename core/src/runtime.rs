//! Where the client's background tasks run. Inside a tokio runtime they run there; called from
//! a plain thread (or from bindings) they run on one small runtime the library owns, started on
//! first use and shared by every client in the process.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static SHARED: OnceLock<Runtime> = OnceLock::new();

/// The library's own runtime (two worker threads, started on first use).
pub fn shared() -> &'static Runtime {
    SHARED.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("odradek")
            .enable_all()
            .build()
            .expect("the odradek runtime cannot start (thread creation failed)")
    })
}

/// Worker threads of the library's runtime: `ODRADEK_WORKER_THREADS`, else 2.
fn worker_threads() -> usize {
    std::env::var("ODRADEK_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2)
}

/// The current runtime if called from inside one, else the library's.
pub fn handle() -> Handle {
    Handle::try_current().unwrap_or_else(|_| shared().handle().clone())
}

/// Spawns a background task on [`handle`].
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(future)
}

/// Runs `future` to completion from a plain (non-async) thread, on the library's runtime.
///
/// Panics if called from inside an async context (use `.await` there).
pub fn block_on<F: Future>(future: F) -> F::Output {
    shared().block_on(future)
}
