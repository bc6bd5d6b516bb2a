//! The error callback: failures that happen in the background, where no call of the
//! application's could return them — a broker unreachable or its connection lost, every broker
//! down (`_ALL_BROKERS_DOWN`), a TLS or SASL failure, a producer fenced or failed fatally, a
//! group member removed for good — handed to the application as librdkafka's `error_cb` does.
//! The error's class says whether the client goes on by itself (retriable) or is done (fatal).
//!
//! Callbacks run on one thread of the process's own (`odradek-events`), never on a runtime
//! worker or under a client lock, so a binding may take its language's lock there. Errors wait
//! in a bounded queue; when callbacks fall behind, new ones are dropped and counted, and the
//! next delivered is preceded by a count of what was lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::error::{Error, ErrorClass, ErrorKind};

/// How many errors may wait for their callbacks.
const QUEUE: usize = 256;

/// The function background errors go to.
pub type ErrorCallback = Arc<dyn Fn(&Error) + Send + Sync>;

const THREAD_NAME: &str = "odradek-events";

static QUEUE_TX: OnceLock<SyncSender<(ErrorEvents, Error)>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// One client's error callback slot: shared by everything the client runs in the background.
#[derive(Clone, Default)]
pub struct ErrorEvents {
    inner: Arc<Slot>,
}

#[derive(Default)]
struct Slot {
    callback: Mutex<Option<ErrorCallback>>,
    /// Held (shared) while the callback runs; `clear_callback` takes it exclusively so that
    /// once it returns the callback never runs again (a binding may then free its context).
    running: RwLock<()>,
}

impl std::fmt::Debug for ErrorEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorEvents")
            .field("callback", &self.current().is_some())
            .finish()
    }
}

impl ErrorEvents {
    /// Sends this client's background errors to `callback` (replacing any set before).
    pub fn set_callback(&self, callback: ErrorCallback) {
        *self
            .inner
            .callback
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(callback);
    }

    /// Stops sending errors and releases the callback. When it returns, the callback is not
    /// running and never runs again, errors still queued included (called from the callback
    /// itself it cannot wait for that call, which is then the last).
    pub fn clear_callback(&self) {
        *self
            .inner
            .callback
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        if std::thread::current().name() != Some(THREAD_NAME) {
            drop(
                self.inner
                    .running
                    .write()
                    .unwrap_or_else(|e| e.into_inner()),
            );
        }
    }

    fn current(&self) -> Option<ErrorCallback> {
        self.inner
            .callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Queues `error` for the callback, if one is set (never blocks).
    pub fn report(&self, error: Error) {
        if self.current().is_none() {
            return;
        }
        if queue().try_send((self.clone(), error)).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Calls the callback set now, if any, with `error` (on the events thread).
    fn deliver(&self, error: &Error) {
        let _running = self.inner.running.read().unwrap_or_else(|e| e.into_inner());
        if let Some(callback) = self.current() {
            // A callback that panics loses its error, not the thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(error)));
        }
    }
}

fn queue() -> &'static SyncSender<(ErrorEvents, Error)> {
    QUEUE_TX.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        let started = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || deliver(rx));
        if let Err(e) = started {
            // Without the thread every error is dropped (and counted); the client still runs.
            eprintln!("odradek: cannot start the error callback thread: {e}");
        }
        tx
    })
}

fn deliver(rx: Receiver<(ErrorEvents, Error)>) {
    while let Ok((events, error)) = rx.recv() {
        let dropped = DROPPED.swap(0, Ordering::SeqCst);
        if dropped > 0 {
            events.deliver(&Error::new(
                ErrorKind::QueueFull,
                ErrorClass::Retriable,
                format!("{dropped} background errors dropped: the error callback is too slow"),
            ));
        }
        events.deliver(&error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn reports_reach_the_callback_until_it_is_cleared() {
        let events = ErrorEvents::default();
        events.report(Error::network("before any callback"));
        let (tx, rx) = channel::<String>();
        let tx = Mutex::new(tx);
        events.set_callback(Arc::new(move |e: &Error| {
            let _ = tx.lock().unwrap().send(e.message().to_owned());
        }));
        events.report(Error::network("broker 1 lost"));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            "broker 1 lost"
        );
        events.clear_callback();
        events.report(Error::network("after clear"));
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn after_clear_returns_a_slow_callback_has_finished_and_queued_errors_are_not_delivered() {
        let events = ErrorEvents::default();
        let (started_tx, started_rx) = channel::<()>();
        let started_tx = Mutex::new(started_tx);
        let calls = Arc::new(AtomicU64::new(0));
        let counted = calls.clone();
        events.set_callback(Arc::new(move |_: &Error| {
            let _ = started_tx.lock().unwrap().send(());
            std::thread::sleep(Duration::from_millis(300));
            counted.fetch_add(1, Ordering::SeqCst);
        }));
        events.report(Error::network("slow"));
        events.report(Error::network("queued behind it"));
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        events.clear_callback();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "clear returned before the call ended"
        );
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a queued error ran after clear"
        );
    }

    #[test]
    fn a_panicking_callback_does_not_stop_delivery() {
        let events = ErrorEvents::default();
        let (tx, rx) = channel::<String>();
        let tx = Mutex::new(tx);
        events.set_callback(Arc::new(move |e: &Error| {
            if e.message() == "boom" {
                panic!("callback failed");
            }
            let _ = tx.lock().unwrap().send(e.message().to_owned());
        }));
        events.report(Error::network("boom"));
        events.report(Error::network("next"));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "next");
    }
}
