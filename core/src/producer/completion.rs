//! Delivery results shared by the records of one batch: one `Arc` per batch instead of a
//! heap-allocated channel per record. Each record's [`super::DeliveryFuture`] holds the batch's
//! slot and its index in the batch; the sender resolves the slot once per batch.

use std::sync::{Arc, Mutex, OnceLock};
use std::task::Waker;

use crate::error::{Error, Result};

use super::DeliveryReport;

/// How a batch ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Delivered {
        partition: i32,
        base_offset: i64,
        log_append_time: i64,
    },
    Failed(Error),
}

impl Outcome {
    /// The report of the record at `index` (created at `timestamp`).
    fn report(&self, index: u32, timestamp: i64) -> Result<DeliveryReport> {
        match self {
            Outcome::Delivered {
                partition,
                base_offset,
                log_append_time,
            } => Ok(DeliveryReport {
                partition: *partition,
                offset: if *base_offset >= 0 {
                    base_offset + i64::from(index)
                } else {
                    -1
                },
                timestamp: if *log_append_time >= 0 {
                    *log_append_time
                } else {
                    timestamp
                },
            }),
            Outcome::Failed(e) => Err(e.clone()),
        }
    }
}

/// The shared result of one batch.
///
/// The outcome is read without a lock: every record of a batch polls it (a send loop collecting
/// reports polls each record's future), while the sender writes it once. Only a future that
/// has to wait takes the lock, to leave its waker.
#[derive(Default)]
pub(crate) struct BatchSlot {
    outcome: OnceLock<Outcome>,
    wakers: Mutex<Vec<Waker>>,
}

impl std::fmt::Debug for BatchSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSlot").finish_non_exhaustive()
    }
}

impl BatchSlot {
    /// The record's result if the batch has ended; else registers `waker` (if any) and `None`.
    pub fn poll(
        &self,
        index: u32,
        timestamp: i64,
        waker: Option<&Waker>,
    ) -> Option<Result<DeliveryReport>> {
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome.report(index, timestamp));
        }
        let waker = waker?;
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        // Looked at again under the lock: `set` stores the outcome before it takes the wakers
        // under this lock, so either the outcome is visible here or this waker is taken.
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome.report(index, timestamp));
        }
        wakers.push(waker.clone());
        None
    }

    /// Sets the outcome unless one is set already; wakes every waiting record.
    fn set(&self, outcome: Outcome) {
        if self.outcome.set(outcome).is_err() {
            return; // the first outcome stays (and woke the waiters)
        }
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in wakers {
            w.wake();
        }
    }
}

/// The sender's side of a batch's slot. Resolved exactly once: by `complete`/`fail`, or, if the
/// batch is dropped unresolved (the producer's task stopped), with a "producer stopped" error —
/// so no future waits forever.
pub(crate) struct Completer(Arc<BatchSlot>);

impl Completer {
    pub fn new() -> Completer {
        Completer(Arc::new(BatchSlot::default()))
    }

    pub fn slot(&self) -> &Arc<BatchSlot> {
        &self.0
    }

    pub fn complete(self, partition: i32, base_offset: i64, log_append_time: i64) {
        self.0.set(Outcome::Delivered {
            partition,
            base_offset,
            log_append_time,
        });
    }

    pub fn fail(self, error: Error) {
        self.0.set(Outcome::Failed(error));
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        self.0.set(Outcome::Failed(Error::closed(
            "the producer stopped before the record was delivered",
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_gets_its_own_offset_once_the_batch_is_delivered() {
        let c = Completer::new();
        let slot = c.slot().clone();
        assert!(slot.poll(0, 5, None).is_none());
        c.complete(3, 100, -1);
        assert_eq!(
            slot.poll(2, 7, None).unwrap().unwrap(),
            DeliveryReport {
                partition: 3,
                offset: 102,
                timestamp: 7
            }
        );
        // Log-append time replaces the create time; acks=0 (-1) has no offsets.
        let c = Completer::new();
        let slot = c.slot().clone();
        c.complete(0, -1, 42);
        let r = slot.poll(1, 7, None).unwrap().unwrap();
        assert_eq!((r.offset, r.timestamp), (-1, 42));
    }

    #[test]
    fn a_dropped_batch_fails_its_records_and_the_first_outcome_stays() {
        let c = Completer::new();
        let slot = c.slot().clone();
        drop(c);
        assert!(slot.poll(0, 0, None).unwrap().is_err());
        let c = Completer::new();
        let slot = c.slot().clone();
        c.fail(Error::timeout("t"));
        let err = slot.poll(0, 0, None).unwrap().unwrap_err();
        assert!(err.to_string().contains('t'), "{err}");
    }

    #[test]
    fn a_waiting_record_is_woken_when_the_batch_ends_on_another_thread() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::task::Wake;
        struct Flag(AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        // Many rounds of poll-then-register racing the outcome: a registered waker is always
        // woken, or the poll itself sees the outcome.
        for _ in 0..2000 {
            let c = Completer::new();
            let slot = c.slot().clone();
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            let t = std::thread::spawn(move || c.complete(0, 10, -1));
            let seen = slot.poll(0, 0, Some(&waker)).is_some();
            t.join().unwrap();
            assert!(
                seen || flag.0.load(Ordering::SeqCst),
                "a waiting record was never woken"
            );
            assert_eq!(slot.poll(1, 0, None).unwrap().unwrap().offset, 11);
        }
    }
}
