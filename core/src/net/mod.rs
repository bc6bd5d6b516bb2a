//! Networking: one multiplexed connection per broker ([`Connection`]) and a pool that opens,
//! reuses and re-opens them with exponential backoff and jitter ([`ConnectionPool`]), and
//! happy-eyeballs racing of candidates ([`race_staggered`]).

mod connection;
mod pooled_read;
mod sasl;
mod writer;

pub use connection::{ConnectOptions, Connection};
pub(crate) use sasl::is_security_failure;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

use crate::error::{Error, ErrorClass, ErrorKind, Result};
use crate::events::ErrorEvents;
use crate::metrics::{BrokerCounters, BrokerState, BrokerStats};

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

/// How long happy-eyeballs style racing waits for one candidate before starting the next one
/// beside it (RFC 8305's connection attempt delay).
pub const STAGGER: Duration = Duration::from_millis(250);

/// How many brokers a bootstrap or metadata lookup asks at once before staggering the rest: any
/// broker can answer, so a second one asked beside the first means a hung first host costs
/// nothing, for one connection the client would likely open anyway.
pub const BROKERS_AT_ONCE: usize = 2;

/// Runs `attempt` over `candidates` staggered: the first `at_once` start together, each next one
/// after `stagger` (or as soon as an earlier one fails), all racing; the first success wins and
/// the others are dropped. With every candidate failed, the last error is returned.
pub async fn race_staggered<C, T, F, Fut>(
    candidates: Vec<C>,
    at_once: usize,
    stagger: Duration,
    attempt: F,
) -> Result<T>
where
    F: Fn(C) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut pending = candidates.into_iter();
    let mut running: FuturesUnordered<Fut> = pending.by_ref().take(at_once).map(&attempt).collect();
    let mut last = None;
    loop {
        if running.is_empty() {
            match pending.next() {
                Some(c) => running.push(attempt(c)),
                None => {
                    return Err(last.unwrap_or_else(|| {
                        Error::new(
                            ErrorKind::NoBrokers,
                            ErrorClass::Retriable,
                            "no address to try",
                        )
                    }));
                }
            }
        }
        let next_start = tokio::time::sleep(stagger);
        tokio::pin!(next_start);
        tokio::select! {
            Some(result) = running.next() => match result {
                Ok(value) => return Ok(value),
                Err(e) => {
                    last = Some(e);
                    if let Some(c) = pending.next() {
                        running.push(attempt(c));
                    }
                }
            },
            () = &mut next_start, if pending.len() > 0 => {
                if let Some(c) = pending.next() {
                    running.push(attempt(c));
                }
            }
        }
    }
}

#[derive(Default)]
struct SlotState {
    connection: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
    /// The connection was up once, so the next success is a recovery worth logging.
    was_lost: bool,
    /// The last connect failed on TLS or SASL: repeated to callers during the back-off, so
    /// they see why (a wrong password) instead of "not connected".
    security_failure: Option<Error>,
}

impl SlotState {
    /// The live connection; a closed one is dropped (and its loss logged) on the way.
    fn live(
        &mut self,
        address: &str,
        counters: &BrokerCounters,
        events: &ErrorEvents,
    ) -> Option<Arc<Connection>> {
        if self.connection.as_ref().is_some_and(|c| c.is_closed()) {
            self.connection = None;
            self.was_lost = true;
            counters.disconnects.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(broker = address, "broker connection lost");
            events.report(Error::network("broker connection lost").with_broker(address));
        }
        self.connection.clone()
    }

    fn backing_off(&self) -> Option<Instant> {
        self.retry_at.filter(|&at| at > Instant::now())
    }
}

/// One broker's connection state (checked without waiting) and the lock one connect holds.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    connecting: tokio::sync::Mutex<()>,
    /// Survive reconnects; each connection to this broker records its requests here.
    counters: Arc<BrokerCounters>,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the pool can do for a broker right now, without waiting.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// A live connection.
    Ready(Arc<Connection>),
    /// A connect is under way.
    Connecting,
    /// The last connect failed; the next one may start at this instant.
    BackingOff(Instant),
    /// No connection and no reason not to open one.
    Idle,
}

/// Keeps at most one live connection per broker address and reconnects with backoff.
///
/// The back-off is never slept inside a request: [`ConnectionPool::get`] fails at once while a
/// broker is backing off, so a caller (and the partitions waiting on it) can go elsewhere.
pub struct ConnectionPool {
    options: ConnectOptions,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    events: ErrorEvents,
    /// Set once every broker is down and `_ALL_BROKERS_DOWN` was reported; cleared by the
    /// next successful connect.
    all_down_reported: AtomicBool,
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
            events: ErrorEvents::default(),
            all_down_reported: AtomicBool::new(false),
        }
    }

    fn slot(&self, address: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(address) {
            return slot.clone();
        }
        slots.entry(address.to_owned()).or_default().clone()
    }

    fn in_back_off(&self, address: &str, state: &SlotState, at: Instant) -> Error {
        if let Some(e) = &state.security_failure {
            return e.clone();
        }
        Error::network(format!(
            "not connected; reconnecting after back-off in {:?} ({} failed attempts)",
            at.saturating_duration_since(Instant::now()),
            state.failures
        ))
        .with_broker(address)
    }

    /// A live connection to `address`, opening one if needed. While the broker is in its
    /// reconnect back-off this fails at once (retriable) instead of sleeping. Concurrent callers
    /// share one connect. Cancel-safe: a dropped call drops its half-made socket.
    pub async fn get(&self, address: &str) -> Result<Arc<Connection>> {
        let slot = self.slot(address);
        {
            let mut state = slot.state();
            if let Some(conn) = state.live(address, &slot.counters, &self.events) {
                return Ok(conn);
            }
            if let Some(at) = state.backing_off() {
                return Err(self.in_back_off(address, &state, at));
            }
        }
        // One connect at a time per broker; the others wait for its outcome.
        let _connecting = slot.connecting.lock().await;
        {
            let mut state = slot.state();
            if let Some(conn) = state.live(address, &slot.counters, &self.events) {
                return Ok(conn);
            }
            if let Some(at) = state.backing_off() {
                return Err(self.in_back_off(address, &state, at));
            }
        }
        let result =
            Connection::connect_counted(address, &self.options, slot.counters.clone()).await;
        let mut state = slot.state();
        match result {
            Ok(conn) => {
                let conn = Arc::new(conn);
                slot.counters.connects.fetch_add(1, Ordering::Relaxed);
                self.all_down_reported.store(false, Ordering::Relaxed);
                if state.was_lost || state.failures > 0 {
                    tracing::info!(
                        broker = address,
                        attempts = state.failures + 1,
                        "broker connection recovered"
                    );
                }
                state.connection = Some(conn.clone());
                state.failures = 0;
                state.retry_at = None;
                state.was_lost = false;
                state.security_failure = None;
                Ok(conn)
            }
            Err(e) => {
                slot.counters
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                state.failures = state.failures.saturating_add(1);
                let delay = backoff(
                    self.reconnect_backoff,
                    self.reconnect_backoff_max,
                    state.failures,
                );
                state.retry_at = Some(Instant::now() + delay);
                if is_security_failure(&e) {
                    // Logged and reported once per failure kind: the message names the
                    // certificate or mechanism problem, never a secret.
                    if state.security_failure.is_none() {
                        tracing::error!(broker = address, error = %e, "cannot connect to broker");
                        self.events.report(e.clone());
                    }
                    state.security_failure = Some(e.clone());
                } else if state.failures == 1 {
                    tracing::warn!(broker = address, error = %e, "cannot connect to broker");
                    self.events.report(e.clone());
                } else {
                    tracing::debug!(broker = address, error = %e, ?delay, "connect failed");
                }
                drop(state);
                self.report_if_all_down();
                Err(e)
            }
        }
    }

    /// Reports `_ALL_BROKERS_DOWN` once when no broker the client knows has a connection and
    /// each has failed its last connect (librdkafka's signal that the cluster is unreachable).
    fn report_if_all_down(&self) {
        let slots = self.all_slots();
        let all_down = slots.iter().all(|(address, slot)| {
            let mut state = slot.state();
            state.live(address, &slot.counters, &self.events).is_none() && state.failures > 0
        });
        if all_down && !self.all_down_reported.swap(true, Ordering::Relaxed) {
            self.events.report(Error::new(
                ErrorKind::NoBrokers,
                ErrorClass::Retriable,
                format!(
                    "all {} brokers are down; the client keeps reconnecting",
                    slots.len()
                ),
            ));
        }
    }

    fn all_slots(&self) -> Vec<(String, Arc<Slot>)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.iter().map(|(a, s)| (a.clone(), s.clone())).collect()
    }

    /// Where background failures (a broker unreachable, all brokers down) are reported.
    pub fn events(&self) -> &ErrorEvents {
        &self.events
    }

    /// One row per broker this pool has contacted or tried, sorted by address.
    pub fn broker_stats(&self) -> Vec<BrokerStats> {
        let mut slots = self.all_slots();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        slots
            .into_iter()
            .map(|(address, slot)| {
                let (state, in_flight) = match self.readiness(&address) {
                    Readiness::Ready(conn) => (BrokerState::Up, conn.pending_requests() as u64),
                    Readiness::Connecting => (BrokerState::Connecting, 0),
                    Readiness::BackingOff(_) => (BrokerState::BackingOff, 0),
                    Readiness::Idle => (BrokerState::Idle, 0),
                };
                slot.counters.snapshot(&address, state, in_flight)
            })
            .collect()
    }

    /// What the pool has for `address` right now (never waits, never connects).
    pub fn readiness(&self, address: &str) -> Readiness {
        let slot = self.slot(address);
        let mut state = slot.state();
        if let Some(conn) = state.live(address, &slot.counters, &self.events) {
            return Readiness::Ready(conn);
        }
        if let Some(at) = state.backing_off() {
            return Readiness::BackingOff(at);
        }
        if slot.connecting.try_lock().is_err() {
            return Readiness::Connecting;
        }
        Readiness::Idle
    }

    /// The live connection to `address` if there is one, without connecting.
    pub fn existing(&self, address: &str) -> Option<Arc<Connection>> {
        match self.readiness(address) {
            Readiness::Ready(conn) => Some(conn),
            _ => None,
        }
    }

    /// The TLS or SASL failure of the most recent failed connect to any broker, if the last
    /// attempt to that broker failed that way: such a failure ends the client's work (a wrong
    /// password does not heal on reconnect).
    pub fn security_failure(&self) -> Option<Error> {
        self.all_slots()
            .iter()
            .find_map(|(_, slot)| slot.state().security_failure.clone())
    }

    /// Closes every connection (pending requests fail with a retriable error).
    pub fn close_all(&self) {
        for (_, slot) in self.all_slots() {
            if let Some(conn) = slot.state().connection.take() {
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
