//! Bench peer on the confluent-kafka Rust crate (1.x): produce and consume, with the same command
//! line and JSON output as the other peers (bench/README.md). No latency mode yet.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use confluent_kafka::common::TopicPartition;
use confluent_kafka::common::serialization::{ByteArrayDeserializer, ByteArraySerializer};
use confluent_kafka::consumer::{Consumer, ConsumerConfig, KafkaConsumer};
use confluent_kafka::producer::{KafkaProducer, Producer, ProducerConfig, ProducerRecord};

type Fallible<T> = Result<T, String>;

fn args() -> Fallible<(String, HashMap<String, String>)> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let mode = a.first().cloned().ok_or("usage: peer produce|consume --bootstrap B --topic T ...")?;
    let mut kv = HashMap::new();
    for pair in a[1..].chunks(2) {
        match pair {
            [k, v] => kv.insert(k.trim_start_matches("--").to_string(), v.clone()),
            _ => return Err(format!("option {} has no value", pair[0])),
        };
    }
    Ok((mode, kv))
}

fn get<'a>(kv: &'a HashMap<String, String>, k: &str, default: &'a str) -> &'a str {
    kv.get(k).map_or(default, String::as_str)
}

fn num(kv: &HashMap<String, String>, k: &str, default: &str) -> Fallible<usize> {
    get(kv, k, default).parse().map_err(|e| format!("--{k}: {e}"))
}

/// Random upper-case letters, like kafka-tools ProducerPerformance's payloads.
fn payload_pool(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect()
}

const POOL: usize = 1 << 20;
const CLIENT: &str = "confluent-kafka (Rust) 1.0.0";

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn produce(kv: &HashMap<String, String>) -> Fallible<()> {
    let (topic, size, count) = (get(kv, "topic", ""), num(kv, "size", "100")?, num(kv, "count", "100000")?);
    let acks = match get(kv, "acks", "1") {
        "all" => "all",
        other => other,
    };
    let config = ProducerConfig::new(&props(&[
        ("bootstrap.servers", get(kv, "bootstrap", "")),
        ("acks", acks),
        ("compression.type", get(kv, "compression", "none")),
        ("linger.ms", get(kv, "linger-ms", "5")),
        ("batch.size", get(kv, "batch-size", "65536")),
        ("enable.idempotence", "false"),
        ("max.in.flight.requests.per.connection", "5"),
    ]))
    .map_err(|e| format!("producer config: {e}"))?;
    let producer = KafkaProducer::<Vec<u8>, Vec<u8>>::new(config, ByteArraySerializer::new(), ByteArraySerializer::new())
        .map_err(|e| format!("producer: {e}"))?;
    let pool = payload_pool(POOL);
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let t0 = Instant::now();
    for i in 0..count {
        let off = (i * 4099) % (POOL - size);
        let record = ProducerRecord::new(topic.to_string(), Some(&pool[off..off + size]));
        let (ok, failed) = (ok.clone(), failed.clone());
        let callback = move |_md: Option<&confluent_kafka::producer::RecordMetadata>,
                             err: Option<&confluent_kafka::common::Error>| {
            if let Some(e) = err {
                if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("delivery failed: {e}");
                }
            } else {
                ok.fetch_add(1, Ordering::Relaxed);
            }
        };
        producer
            .send(record, Some(Box::new(callback)))
            .await
            .map_err(|e| format!("send: {e}"))?;
    }
    producer.flush().await.map_err(|e| format!("flush: {e}"))?;
    let seconds = t0.elapsed().as_secs_f64();
    let delivered = ok.load(Ordering::Relaxed);
    if failed.load(Ordering::Relaxed) > 0 || delivered != count as u64 {
        return Err(format!("only {delivered} of {count} records delivered"));
    }
    producer.close().await.map_err(|e| format!("close: {e}"))?;
    println!(
        "{{\"records\":{delivered},\"bytes\":{},\"seconds\":{seconds:.6},\"client\":\"{CLIENT}\"}}",
        delivered * size as u64
    );
    Ok(())
}

async fn consume(kv: &HashMap<String, String>) -> Fallible<()> {
    let (topic, count) = (get(kv, "topic", ""), num(kv, "count", "100000")?);
    let config = ConsumerConfig::new(&props(&[
        ("bootstrap.servers", get(kv, "bootstrap", "")),
        ("group.protocol", "consumer"),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("fetch.min.bytes", "1"),
        ("max.partition.fetch.bytes", "1048576"),
        ("fetch.max.bytes", "52428800"),
    ]))
    .map_err(|e| format!("consumer config: {e}"))?;
    let mut consumer = KafkaConsumer::<Vec<u8>, Vec<u8>>::new(config, ByteArrayDeserializer::new(), ByteArrayDeserializer::new())
        .map_err(|e| format!("consumer: {e}"))?;
    let tp = TopicPartition::new(topic, 0);
    consumer.assign(vec![tp.clone()]).await.map_err(|e| format!("assign: {e}"))?;
    consumer.seek_to_beginning(&[tp]).await.map_err(|e| format!("seek: {e}"))?;
    let (mut n, mut bytes) = (0usize, 0usize);
    // Steady-state rate: the clock starts at the first record (not at assign/connect).
    let mut t0 = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while n < count {
        if Instant::now() > deadline {
            return Err("consume timed out after 300 s".into());
        }
        let records = consumer.poll(Duration::from_millis(100)).await.map_err(|e| format!("poll: {e}"))?;
        if records.count() > 0 {
            t0.get_or_insert_with(Instant::now);
        }
        for r in &records {
            n += 1;
            bytes += r.value().map_or(0, Vec::len);
        }
    }
    let seconds = t0.map_or(0.0, |t: Instant| t.elapsed().as_secs_f64());
    println!("{{\"records\":{n},\"bytes\":{bytes},\"seconds\":{seconds:.6},\"client\":\"{CLIENT}\"}}");
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let result = match args() {
        Ok((mode, kv)) => match mode.as_str() {
            "produce" => produce(&kv).await,
            "consume" => consume(&kv).await,
            other => Err(format!("mode {other} is not implemented by this peer")),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confluent-kafka rust peer: {e}");
            ExitCode::FAILURE
        }
    }
}
