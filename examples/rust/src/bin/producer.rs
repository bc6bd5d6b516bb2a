//! Sends a few keyed records and prints where each one landed.
//!
//! ```sh
//! odradek broker &                      # 127.0.0.1:9092, data in ./odradek-data
//! cargo run -p odradek-examples --bin producer -- 127.0.0.1:9092 greetings 10
//! ```

use odradek::config::Config;
use odradek::producer::{Producer, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "greetings".into());
    let count: u32 = args.next().map_or(Ok(10), |n| n.parse())?;

    // Property names are those of librdkafka and the Java client; unknown keys are errors.
    let config = Config::new()
        .with("bootstrap.servers", &bootstrap)?
        .with("linger.ms", 5)?;
    let producer = Producer::from_config(&config)?;

    // `send` queues the record at once and returns a future of its delivery report, so many
    // sends can be in flight; nothing needs polling.
    let mut deliveries = Vec::new();
    for i in 0..count {
        let key = format!("user-{}", i % 3);
        let value = format!("hello #{i}");
        let delivery = producer.send(
            ProducerRecord::new(&topic)
                .key(key.as_bytes())
                .value(value.as_bytes()),
        );
        deliveries.push((key, value, delivery));
    }
    for (key, value, delivery) in deliveries {
        let report = delivery.await?;
        println!(
            "{topic}-{} @ {}: {key} = {value}",
            report.partition, report.offset
        );
    }
    producer.close().await?;
    Ok(())
}
