//! `odradek perf produce|consume`: throughput (records/s, MB/s, MB = 2^20 bytes as in Kafka's
//! perf tools) and, for produce, send-to-acknowledgement latency percentiles. `--json` adds one
//! final machine-readable line on stdout for the benchmark harness.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use odradek::consumer::{Consumer, Offset};
use odradek::producer::{Producer, ProducerRecord};
use serde::Serialize;

use crate::args::{PerfConsumeArgs, PerfProduceArgs};
use crate::connect::{client_config, reach_broker, topic_info};
use crate::consume::watermarks;
use crate::failure::{CliResult, Failure};
use crate::progress;

const MB: f64 = 1024.0 * 1024.0;
/// Most sends awaiting their acknowledgement at once (the producer's own buffer bounds bytes).
const MAX_PENDING: usize = 100_000;

#[derive(Debug, Serialize)]
struct Latency {
    avg: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct ProduceReport {
    mode: &'static str,
    topic: String,
    records: u64,
    failed: u64,
    record_size: usize,
    bytes: u64,
    elapsed_s: f64,
    records_per_sec: f64,
    mb_per_sec: f64,
    /// Milliseconds from send() to the broker's acknowledgement.
    latency_ms: Latency,
}

#[derive(Debug, Serialize)]
struct ConsumeReport {
    mode: &'static str,
    topic: String,
    records: u64,
    bytes: u64,
    elapsed_s: f64,
    records_per_sec: f64,
    mb_per_sec: f64,
}

/// A fixed payload of printable bytes (varied, so codecs do not collapse it to nothing).
fn payload(size: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..size)
        .map(|_| {
            // xorshift: cheap variety, no dependency; the bytes' randomness does not matter.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b'A' + (state % 26) as u8
        })
        .collect()
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub async fn produce(args: PerfProduceArgs) -> CliResult {
    let mut config = client_config(&args.client)?;
    if let Some(codec) = &args.compression {
        config
            .set("compression.type", codec)
            .map_err(|e| Failure::usage(format!("-z {codec}: {e}")))?;
    }
    let producer = Producer::from_config(&config).map_err(|e| Failure::usage(e.to_string()))?;
    reach_broker(producer.cluster()).await?;
    topic_info(producer.cluster(), &args.topic).await?;

    let value = payload(args.record_size);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| Failure::runtime(format!("latency histogram: {e}")))?;
    let bar = progress::records(Some(args.num_records), "perf produce");
    let mut pending = FuturesUnordered::new();
    let mut failed = 0u64;
    let mut first_error = None;
    let mut settle = |result: (
        odradek::error::Result<odradek::producer::DeliveryReport>,
        Duration,
    ),
                      latency: &mut Histogram<u64>| {
        match result.0 {
            Ok(_) => {
                let _ = latency.record((result.1.as_micros() as u64).max(1));
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        bar.inc(1);
    };
    let start = Instant::now();
    for sent in 0..args.num_records {
        if args.throughput > 0 {
            let due = start + Duration::from_secs_f64(sent as f64 / args.throughput as f64);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let at = Instant::now();
        let delivery = producer.send(ProducerRecord::new(&args.topic).value(&value));
        pending.push(async move { (delivery.await, at.elapsed()) });
        while let Some(Some(r)) = futures::FutureExt::now_or_never(pending.next()) {
            settle(r, &mut latency);
        }
        while pending.len() >= MAX_PENDING {
            if let Some(r) = pending.next().await {
                settle(r, &mut latency);
            }
        }
    }
    while let Some(r) = pending.next().await {
        settle(r, &mut latency);
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    bar.finish_and_clear();
    let _ = producer.close().await;

    let delivered = args.num_records - failed;
    let bytes = delivered * args.record_size as u64;
    let report = ProduceReport {
        mode: "produce",
        topic: args.topic.clone(),
        records: delivered,
        failed,
        record_size: args.record_size,
        bytes,
        elapsed_s: elapsed,
        records_per_sec: delivered as f64 / elapsed,
        mb_per_sec: bytes as f64 / MB / elapsed,
        latency_ms: Latency {
            avg: latency.mean() / 1000.0,
            p50: ms(latency.value_at_quantile(0.50)),
            p95: ms(latency.value_at_quantile(0.95)),
            p99: ms(latency.value_at_quantile(0.99)),
            p999: ms(latency.value_at_quantile(0.999)),
            max: ms(latency.max()),
        },
    };
    eprintln!(
        "{} records sent, {:.1} records/s ({:.2} MB/s), latency avg {:.2} ms, p50 {:.2} ms, \
         p95 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms{}",
        report.records,
        report.records_per_sec,
        report.mb_per_sec,
        report.latency_ms.avg,
        report.latency_ms.p50,
        report.latency_ms.p95,
        report.latency_ms.p99,
        report.latency_ms.p999,
        report.latency_ms.max,
        if failed > 0 {
            format!(", {failed} FAILED")
        } else {
            String::new()
        }
    );
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    match first_error {
        Some(e) => Err(Failure::client(
            format!(
                "{failed} record(s) to topic {:?} failed; the first",
                args.topic
            ),
            &e,
        )),
        None => Ok(()),
    }
}

pub async fn consume(args: PerfConsumeArgs) -> CliResult {
    let mut config = client_config(&args.client)?;
    config
        .set("allow.auto.create.topics", "false")
        .map_err(|e| Failure::usage(e.to_string()))?;
    let consumer_config = config
        .consumer()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let isolation = consumer_config.isolation_level;
    let consumer = Consumer::new(consumer_config).map_err(|e| Failure::usage(e.to_string()))?;
    reach_broker(consumer.cluster()).await?;
    let info = topic_info(consumer.cluster(), &args.topic).await?;
    let partitions: Vec<i32> = (0..info.partitions.len() as i32).collect();
    let bounds = watermarks(&consumer, &args.topic, &partitions, isolation).await?;
    let available: u64 = bounds.values().map(|(l, h)| (h - l).max(0) as u64).sum();
    let target = args.num_records.unwrap_or(available);
    // Without -n, stop at the end of every partition as of start-up.
    let mut remaining: HashMap<i32, i64> = bounds
        .iter()
        .filter(|(_, (l, h))| l < h)
        .map(|(&p, &(_, h))| (p, h))
        .collect();
    let plan: Vec<(&str, i32, Offset)> = bounds
        .iter()
        .map(|(&p, &(low, _))| (args.topic.as_str(), p, Offset::At(low)))
        .collect();
    consumer
        .assign(&plan)
        .map_err(|e| Failure::client("assigning partitions", &e))?;

    let bar = progress::records(Some(target), "perf consume");
    let start = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    while records < target && (args.num_records.is_some() || !remaining.is_empty()) {
        let batch =
            match tokio::time::timeout(Duration::from_millis(100), consumer.recv_batch(10_000))
                .await
            {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    return Err(Failure::client(
                        format!("consuming topic {:?}", args.topic),
                        &e,
                    ));
                }
                Err(_idle) => Vec::new(),
            };
        for r in &batch {
            records += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len()) as u64
                + r.value.as_ref().map_or(0, |v| v.len()) as u64;
        }
        bar.inc(batch.len() as u64);
        remaining.retain(|&p, end| {
            consumer
                .position(&args.topic, p)
                .is_none_or(|pos| pos < *end)
        });
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    bar.finish_and_clear();
    let report = ConsumeReport {
        mode: "consume",
        topic: args.topic.clone(),
        records,
        bytes,
        elapsed_s: elapsed,
        records_per_sec: records as f64 / elapsed,
        mb_per_sec: bytes as f64 / MB / elapsed,
    };
    eprintln!(
        "{} records consumed, {:.1} records/s ({:.2} MB/s) in {:.2} s",
        report.records, report.records_per_sec, report.mb_per_sec, report.elapsed_s
    );
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    Ok(())
}
