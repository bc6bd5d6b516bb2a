//! The broker-wide byte budget (`queued.max.request.bytes`): bytes of requests being received
//! plus responses waiting to be written, over all connections. A connection takes from it
//! before reading a large frame and stops reading while it is spent; responses are always
//! admitted (their request was already accepted) and simply keep new requests out until they
//! are written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long a connection waiting for budget sleeps before looking again, in case a release
/// happened between its check and its wait (Notify only wakes registered waiters).
const RECHECK: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub struct MemoryBudget {
    cap: usize,
    held: AtomicUsize,
    released: Notify,
}

impl MemoryBudget {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            held: AtomicUsize::new(0),
            released: Notify::new(),
        })
    }

    /// Bytes currently held by all connections.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether new frames must wait.
    pub fn is_spent(&self) -> bool {
        self.held() >= self.cap
    }

    /// Takes `n` bytes if they fit, or if nothing is held at all (so a frame larger than the
    /// whole budget is still served, alone).
    fn try_take(&self, n: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |cur| {
                let next = cur.checked_add(n)?;
                (cur == 0 || next <= self.cap).then_some(next)
            })
            .is_ok()
    }

    fn force(&self, n: usize) {
        self.held.fetch_add(n, Ordering::AcqRel);
    }

    fn give_back(&self, n: usize) {
        if n > 0 {
            self.held.fetch_sub(n, Ordering::AcqRel);
            self.released.notify_waiters();
        }
    }

    /// Resolves after some bytes were given back (or after a short recheck interval).
    pub async fn wait_for_release(&self) {
        let _ = tokio::time::timeout(RECHECK, self.released.notified()).await;
    }
}

/// What one connection holds in the budget: the reservation for the frame it is reading and
/// its unwritten responses. Everything is given back when the connection ends.
#[derive(Debug)]
pub struct Share {
    budget: Arc<MemoryBudget>,
    frame: usize,
    responses: usize,
}

impl Share {
    pub fn new(budget: Arc<MemoryBudget>) -> Self {
        Self {
            budget,
            frame: 0,
            responses: 0,
        }
    }

    /// Whether a frame reservation is held.
    pub fn has_frame(&self) -> bool {
        self.frame > 0
    }

    /// Reserves `n` bytes for the frame being read; false if the budget cannot give them now.
    pub fn reserve_frame(&mut self, n: usize) -> bool {
        if !self.budget.try_take(n) {
            return false;
        }
        self.frame = n;
        true
    }

    /// Reserves `n` bytes for the frame being read whatever the budget holds (small frames,
    /// which stay within the connection's read buffer).
    pub fn force_frame(&mut self, n: usize) {
        self.budget.force(n);
        self.frame = n;
    }

    /// The frame has been handled: its bytes are no longer held.
    pub fn release_frame(&mut self) {
        self.budget.give_back(std::mem::take(&mut self.frame));
    }

    /// Records that `n` response bytes are waiting to be written.
    pub fn set_responses(&mut self, n: usize) {
        if n > self.responses {
            self.budget.force(n - self.responses);
        } else {
            self.budget.give_back(self.responses - n);
        }
        self.responses = n;
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.give_back(self.frame + self.responses);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_wait_when_spent_and_everything_returns_on_drop() {
        let budget = MemoryBudget::new(100);
        let mut a = Share::new(budget.clone());
        let mut b = Share::new(budget.clone());
        assert!(a.reserve_frame(60));
        assert!(!b.reserve_frame(60), "60 + 60 exceeds the cap of 100");
        assert!(b.reserve_frame(40));
        assert!(budget.is_spent());
        a.set_responses(500); // responses are admitted beyond the cap
        assert_eq!(budget.held(), 600);
        a.set_responses(10);
        a.release_frame();
        assert_eq!(budget.held(), 50);
        drop(a);
        drop(b);
        assert_eq!(budget.held(), 0);
        let mut alone = Share::new(budget.clone());
        assert!(
            alone.reserve_frame(1000),
            "a frame larger than the cap is served alone"
        );
    }
}
