//! Networking: one multiplexed connection per broker ([`Connection`]) and a pool that opens,
//! reuses and re-opens them with exponential backoff and jitter ([`ConnectionPool`]).

mod connection;
mod pooled_read;
mod writer;

pub use connection::{ConnectOptions, Connection};
use odradek_socket::send_vectored;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Result;

/// The API ranges the client layers above use: the protocol layer's table.
pub use crate::protocol::versions::CLIENT_SUPPORTED;

/// Exponential backoff with ±20 % jitter: `base * 2^(failures-1)`, capped at `max`.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = base.saturating_mul(1u32 << (failures - 1).min(20));
    let capped = exp.min(max.max(base));
    capped.mul_f64(0.8 + 0.4 * fastrand::f64())
}

#[derive(Default)]
struct SlotState {
    connection: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// Keeps at most one live connection per broker address and reconnects with backoff.
pub struct ConnectionPool {
    options: ConnectOptions,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<SlotState>>>>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("options", &self.options)
            .finish()
    }
}

impl ConnectionPool {
    /// A pool using `options` for every connection.
    pub fn new(
        options: ConnectOptions,
        reconnect_backoff: Duration,
        reconnect_backoff_max: Duration,
    ) -> Self {
        ConnectionPool {
            options,
            reconnect_backoff,
            reconnect_backoff_max,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// A live connection to `address`, opening one if needed. After a failed attempt the next
    /// one waits out the backoff first. Cancel-safe: a dropped call drops its half-made socket.
    pub async fn get(&self, address: &str) -> Result<Arc<Connection>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(address.to_owned()).or_default().clone()
        };
        // One connect at a time per broker; others wait for its outcome.
        let mut state = slot.lock().await;
        if let Some(conn) = &state.connection {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
            state.connection = None;
        }
        if let Some(at) = state.retry_at {
            tokio::time::sleep_until(at).await;
        }
        match Connection::connect(address, &self.options).await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                state.connection = Some(conn.clone());
                state.failures = 0;
                state.retry_at = None;
                Ok(conn)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                let delay = backoff(
                    self.reconnect_backoff,
                    self.reconnect_backoff_max,
                    state.failures,
                );
                state.retry_at = Some(Instant::now() + delay);
                tracing::debug!(broker = address, error = %e, ?delay, "connect failed");
                Err(e)
            }
        }
    }

    /// The live connection to `address` if there is one, without connecting.
    pub fn existing(&self, address: &str) -> Option<Arc<Connection>> {
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.get(address)?.clone()
        };
        let state = slot.try_lock().ok()?;
        state.connection.clone().filter(|c| !c.is_closed())
    }

    /// Closes every connection (pending requests fail with a retriable error).
    pub fn close_all(&self) {
        let slots: Vec<_> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.values().cloned().collect()
        };
        for slot in slots {
            if let Ok(mut state) = slot.try_lock()
                && let Some(conn) = state.connection.take()
            {
                conn.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        assert_eq!(backoff(base, max, 0), Duration::ZERO);
        let first = backoff(base, max, 1);
        assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(120));
        let third = backoff(base, max, 3);
        assert!(third >= Duration::from_millis(320) && third <= Duration::from_millis(480));
        for failures in 5..40 {
            assert!(backoff(base, max, failures) <= Duration::from_millis(1200));
        }
    }
}
