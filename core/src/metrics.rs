//! Statistics the clients expose: per-broker connection and request figures (kept by the
//! connection pool across reconnects) and the consumer's snapshot. The producer's own snapshot
//! is `producer::ProducerMetrics`; both carry the per-broker rows.
//!
//! Counters are relaxed atomics updated on the request path: a snapshot is consistent per
//! counter, not across counters, which is what a statistics callback needs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Count, sum and maximum of a latency, in microseconds.
#[derive(Debug, Default)]
pub(crate) struct LatencyStat {
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl LatencyStat {
    pub(crate) fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn avg_us(&self) -> u64 {
        self.sum_us
            .load(Ordering::Relaxed)
            .checked_div(self.count())
            .unwrap_or(0)
    }

    pub(crate) fn max_us(&self) -> u64 {
        self.max_us.load(Ordering::Relaxed)
    }
}

/// One broker's live counters, shared by the pool's slot and each connection it opens.
#[derive(Debug, Default)]
pub(crate) struct BrokerCounters {
    pub(crate) connects: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    /// Request round trips (send to response), every API.
    pub(crate) requests: LatencyStat,
}

/// A broker's connection state in a [`BrokerStats`] row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerState {
    /// Connected.
    Up,
    /// A connect is under way.
    Connecting,
    /// The last connect failed; the next waits for the reconnect back-off.
    BackingOff,
    /// Not connected and not trying now (never needed, or the back-off is over).
    Idle,
}

/// One broker as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerStats {
    /// `host:port`.
    pub address: String,
    /// Connection state now.
    pub state: BrokerState,
    /// Connections opened.
    pub connects: u64,
    /// Connects that failed.
    pub connect_failures: u64,
    /// Connections lost after they were up.
    pub disconnects: u64,
    /// Requests answered.
    pub requests: u64,
    /// Mean request round trip, microseconds.
    pub request_latency_avg_us: u64,
    /// Longest request round trip, microseconds.
    pub request_latency_max_us: u64,
    /// Requests waiting for their response now.
    pub in_flight: u64,
}

impl BrokerCounters {
    pub(crate) fn snapshot(
        &self,
        address: &str,
        state: BrokerState,
        in_flight: u64,
    ) -> BrokerStats {
        BrokerStats {
            address: address.to_owned(),
            state,
            connects: self.connects.load(Ordering::Relaxed),
            connect_failures: self.connect_failures.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
            requests: self.requests.count(),
            request_latency_avg_us: self.requests.avg_us(),
            request_latency_max_us: self.requests.max_us(),
            in_flight,
        }
    }
}

/// One assigned partition of a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionStats {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The offset of the next record handed out (`-1`: not known yet).
    pub position: i64,
    /// The high watermark of the last fetch (`-1`: not fetched yet).
    pub high_watermark: i64,
    /// `high_watermark - position` when both are known, else `-1`.
    pub lag: i64,
    /// Paused by the application.
    pub paused: bool,
}

/// A consumer's statistics snapshot (`ConsumerClient::metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerMetrics {
    /// Records handed to the application.
    pub records_consumed: u64,
    /// Key and value bytes of those records.
    pub bytes_consumed: u64,
    /// Fetch responses received.
    pub fetch_requests: u64,
    /// Mean Fetch round trip, microseconds (a Fetch waits up to `fetch.wait.max.ms` for data).
    pub fetch_latency_avg_us: u64,
    /// Longest Fetch round trip, microseconds.
    pub fetch_latency_max_us: u64,
    /// Fetched bytes waiting to be handed out.
    pub buffered_bytes: u64,
    /// The assigned partitions, sorted.
    pub partitions: Vec<PartitionStats>,
    /// Every broker the consumer knows, sorted by address.
    pub brokers: Vec<BrokerStats>,
}

impl ConsumerMetrics {
    /// JSON text of this snapshot.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
