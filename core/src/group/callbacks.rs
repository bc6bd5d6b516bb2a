//! The application's rebalance callbacks run on a plain thread of their own, one per group
//! consumer, in the order the membership task raised them. Not on a tokio worker: a callback
//! may call back into the consumer (commit, seek, pause, even a blocking wait in a binding)
//! the way it would from the application's own thread, without stalling the runtime or
//! deadlocking on it. The membership task waits for `on_assigned` and `on_revoked` to return
//! (bounded by `max.poll.interval.ms`, as in the Java client and librdkafka), so a commit in
//! `on_revoked` lands before the partition moves; `on_lost` is only queued (the partitions are
//! already gone), behind any callback still running, so the order stays the same.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{RebalanceListener, lock};

/// Which callback to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    Assigned,
    Revoked,
    Lost,
}

type Job = Box<dyn FnOnce() + Send>;

/// The callback thread, started on the first event; it ends when the group consumer is
/// dropped (the sender with it).
#[derive(Default)]
pub(super) struct CallbackThread {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for CallbackThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackThread")
    }
}

impl CallbackThread {
    /// Queues `event` for `listener`; the receiver completes once the callback returned (or
    /// panicked, or could not be started).
    pub(super) fn run(
        &self,
        listener: Arc<dyn RebalanceListener>,
        event: Event,
        partitions: Vec<(String, i32)>,
    ) -> oneshot::Receiver<()> {
        let (done, finished) = oneshot::channel();
        let job: Job = Box::new(move || {
            let call = std::panic::AssertUnwindSafe(|| match event {
                Event::Assigned => listener.on_assigned(&partitions),
                Event::Revoked => listener.on_revoked(&partitions),
                Event::Lost => listener.on_lost(&partitions),
            });
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(?event, "a rebalance callback panicked");
            }
            let _ = done.send(());
        });
        let mut jobs = lock(&self.jobs);
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let started = std::thread::Builder::new()
                .name("odradek-rebalance".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                });
            match started {
                Ok(_) => *jobs = Some(tx),
                Err(e) => {
                    tracing::error!("cannot start the rebalance callback thread: {e}");
                    return finished;
                }
            }
        }
        if let Some(tx) = jobs.as_ref() {
            let _ = tx.send(job);
        }
        finished
    }
}
