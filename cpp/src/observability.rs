//! What a C++ client shows of itself: the error callback for background failures and the
//! statistics snapshots, both from the core (`odradek::events`, `odradek::metrics`). A third cxx
//! bridge over the boxes of `lib.rs` (shared through `ExternType`, as `admin.rs` does);
//! statistics cross as plain structs, so C++ parses no JSON.

use std::sync::Arc;

use odradek::error::Error;
use odradek::events::ErrorEvents;
use odradek::metrics::{BrokerState, BrokerStats};

use crate::{ConsumerBox, FfiError, ProducerBox, encode_error, guard};

// SAFETY: ProducerBox is the opaque Rust type `odradek::ffi::ProducerBox` of the bridge in
// lib.rs; C++ only ever holds it by reference. (ConsumerBox's impl is in admin.rs.)
unsafe impl cxx::ExternType for ProducerBox {
    type Id = cxx::type_id!("odradek::ffi::ProducerBox");
    type Kind = cxx::kind::Opaque;
}

#[cxx::bridge(namespace = "odradek::ffi")]
mod events_ffi {
    /// One broker as a client sees it (`odradek::metrics::BrokerStats`).
    struct BrokerStatsRow {
        address: String,
        /// "up", "connecting", "backing_off" or "idle".
        state: String,
        connects: u64,
        connect_failures: u64,
        disconnects: u64,
        requests: u64,
        request_latency_avg_us: u64,
        request_latency_max_us: u64,
        in_flight: u64,
    }

    /// `odradek::producer::ProducerMetrics`.
    struct ProducerStats {
        records_delivered: u64,
        records_failed: u64,
        bytes_delivered: u64,
        requests: u64,
        retries: u64,
        request_latency_avg_us: u64,
        request_latency_max_us: u64,
        queue_records: u64,
        queue_bytes: u64,
        brokers: Vec<BrokerStatsRow>,
    }

    /// One assigned partition (`odradek::metrics::PartitionStats`).
    struct PartitionStatsRow {
        topic: String,
        partition: i32,
        position: i64,
        high_watermark: i64,
        lag: i64,
        paused: bool,
    }

    /// `odradek::metrics::ConsumerMetrics`.
    struct ConsumerStats {
        records_consumed: u64,
        bytes_consumed: u64,
        fetch_requests: u64,
        fetch_latency_avg_us: u64,
        fetch_latency_max_us: u64,
        buffered_bytes: u64,
        partitions: Vec<PartitionStatsRow>,
        brokers: Vec<BrokerStatsRow>,
    }

    extern "C++" {
        include!("odradek-cpp/src/lib.rs.h");
        type ProducerBox = crate::ProducerBox;
        type ConsumerBox = crate::ConsumerBox;
    }

    unsafe extern "C++" {
        include!("odradek-cpp/src/bridge.h");

        /// The user's error callback (a `std::function`).
        type ErrorSink;

        /// Calls the user's error callback (on the core's `odradek-events` thread) with the
        /// error encoded as `encode_error` does.
        fn error_event(sink: &ErrorSink, error: &str);
    }

    extern "Rust" {
        /// Background failures to `sink`, replacing the one set before; null stops them. When
        /// it returns, the previous sink is not running and never runs again.
        fn producer_set_error_sink(
            producer: &ProducerBox,
            sink: UniquePtr<ErrorSink>,
        ) -> Result<()>;
        fn consumer_set_error_sink(
            consumer: &ConsumerBox,
            sink: UniquePtr<ErrorSink>,
        ) -> Result<()>;
        fn producer_metrics(producer: &ProducerBox) -> Result<ProducerStats>;
        fn consumer_metrics(consumer: &ConsumerBox) -> Result<ConsumerStats>;
    }
}

// SAFETY: an ErrorSink holds a `std::function` set before it is handed over; the core calls
// it from its one event thread, one error at a time, and C++ never touches it afterwards.
unsafe impl Send for events_ffi::ErrorSink {}
// SAFETY: as above.
unsafe impl Sync for events_ffi::ErrorSink {}

use events_ffi::{BrokerStatsRow, ConsumerStats, PartitionStatsRow, ProducerStats};

fn set_error_sink(events: &ErrorEvents, sink: cxx::UniquePtr<events_ffi::ErrorSink>) {
    // Cleared first (which waits for a running call), so C++ may free what the old one holds.
    events.clear_callback();
    if sink.is_null() {
        return;
    }
    let sink = Arc::new(sink);
    events.set_callback(Arc::new(move |e: &Error| {
        if let Some(s) = sink.as_ref().as_ref() {
            events_ffi::error_event(s, &encode_error(e));
        }
    }));
}

fn broker_rows(rows: Vec<BrokerStats>) -> Vec<BrokerStatsRow> {
    rows.into_iter()
        .map(|b| BrokerStatsRow {
            state: match b.state {
                BrokerState::Up => "up",
                BrokerState::Connecting => "connecting",
                BrokerState::BackingOff => "backing_off",
                BrokerState::Idle => "idle",
            }
            .to_string(),
            address: b.address,
            connects: b.connects,
            connect_failures: b.connect_failures,
            disconnects: b.disconnects,
            requests: b.requests,
            request_latency_avg_us: b.request_latency_avg_us,
            request_latency_max_us: b.request_latency_max_us,
            in_flight: b.in_flight,
        })
        .collect()
}

fn producer_set_error_sink(
    producer: &ProducerBox,
    sink: cxx::UniquePtr<events_ffi::ErrorSink>,
) -> Result<(), FfiError> {
    guard(|| {
        set_error_sink(producer.producer.cluster().events(), sink);
        Ok(())
    })
}

fn consumer_set_error_sink(
    consumer: &ConsumerBox,
    sink: cxx::UniquePtr<events_ffi::ErrorSink>,
) -> Result<(), FfiError> {
    guard(|| {
        set_error_sink(consumer.client.consumer().cluster().events(), sink);
        Ok(())
    })
}

fn producer_metrics(producer: &ProducerBox) -> Result<ProducerStats, FfiError> {
    guard(|| {
        let m = producer.producer.metrics();
        Ok(ProducerStats {
            records_delivered: m.records_delivered,
            records_failed: m.records_failed,
            bytes_delivered: m.bytes_delivered,
            requests: m.requests,
            retries: m.retries,
            request_latency_avg_us: m.request_latency_avg_us,
            request_latency_max_us: m.request_latency_max_us,
            queue_records: m.queue_records,
            queue_bytes: m.queue_bytes,
            brokers: broker_rows(m.brokers),
        })
    })
}

fn consumer_metrics(consumer: &ConsumerBox) -> Result<ConsumerStats, FfiError> {
    guard(|| {
        let m = consumer.client.metrics();
        Ok(ConsumerStats {
            records_consumed: m.records_consumed,
            bytes_consumed: m.bytes_consumed,
            fetch_requests: m.fetch_requests,
            fetch_latency_avg_us: m.fetch_latency_avg_us,
            fetch_latency_max_us: m.fetch_latency_max_us,
            buffered_bytes: m.buffered_bytes,
            partitions: m
                .partitions
                .into_iter()
                .map(|p| PartitionStatsRow {
                    topic: p.topic,
                    partition: p.partition,
                    position: p.position,
                    high_watermark: p.high_watermark,
                    lag: p.lag,
                    paused: p.paused,
                })
                .collect(),
            brokers: broker_rows(m.brokers),
        })
    })
}
