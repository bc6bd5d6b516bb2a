//! A node's network gate, for tests of fail-over (the embedded cluster's `isolate` / `heal`):
//! while it is closed no client, peer or controller traffic reaches the node or leaves it.
//! Each path checks it: the client listeners, the controller RPC server and client, and the
//! replica fetcher. Closing it also ends the connections open at that moment, the way a
//! network partition would break them.

use std::sync::Arc;

use tokio::sync::watch;

/// Shared by every network path of one node; open unless a test isolates the node.
#[derive(Debug, Clone)]
pub struct NetworkGate {
    isolated: Arc<watch::Sender<bool>>,
}

impl Default for NetworkGate {
    fn default() -> Self {
        Self {
            isolated: Arc::new(watch::channel(false).0),
        }
    }
}

impl NetworkGate {
    /// Cuts the node off: new connections in either direction are refused and open ones close.
    pub fn isolate(&self) {
        self.isolated.send_replace(true);
    }

    /// Reconnects the node: new connections are allowed again.
    pub fn heal(&self) {
        self.isolated.send_replace(false);
    }

    pub fn is_isolated(&self) -> bool {
        *self.isolated.borrow()
    }

    /// The error a gated path reports (retriable: the partition may heal).
    pub fn refused(&self) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "this node is isolated from the network (a test's network partition)",
        )
    }

    /// Resolves once the node is isolated (at once if it already is).
    pub async fn isolated(&self) {
        let mut rx = self.isolated.subscribe();
        // The sender lives as long as `self`, so `wait_for` only returns once isolated.
        let _ = rx.wait_for(|isolated| *isolated).await;
    }

    /// Runs `work` (a connection's task) until it ends or the node is isolated, whichever
    /// comes first; isolation drops it, closing its socket.
    pub async fn cut_on_isolation<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            () = self.isolated() => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn isolation_cuts_running_work_and_heal_reopens() {
        let gate = NetworkGate::default();
        assert!(!gate.is_isolated());
        assert_eq!(gate.cut_on_isolation(async { 7 }).await, Some(7));
        let cut = tokio::spawn({
            let gate = gate.clone();
            async move { gate.cut_on_isolation(std::future::pending::<()>()).await }
        });
        tokio::task::yield_now().await;
        gate.isolate();
        assert_eq!(cut.await.unwrap(), None);
        assert!(gate.is_isolated());
        gate.heal();
        assert!(!gate.is_isolated());
    }
}
