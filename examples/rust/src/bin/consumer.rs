//! Reads every partition of a topic from the beginning and prints each record, stopping once
//! it has read everything that was there when it started.
//!
//! ```sh
//! cargo run -p odradek-examples --bin consumer -- 127.0.0.1:9092 greetings
//! ```

use std::collections::HashMap;

use futures::StreamExt;
use odradek::config::Config;
use odradek::consumer::{Consumer, Offset};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "greetings".into());

    let config = Config::new()
        .with("bootstrap.servers", &bootstrap)?
        .with("allow.auto.create.topics", false)?;
    let consumer = Consumer::from_config(&config)?;

    // Manual assignment: every partition, from the beginning. (Consumer groups come later.)
    let partitions = consumer.cluster().topic(&topic).await?.partitions.len() as i32;
    let mut end = HashMap::new();
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(&topic, p).await?;
        if high > low {
            end.insert(p, high);
        }
    }
    let assignment: Vec<(&str, i32, Offset)> = (0..partitions)
        .map(|p| (topic.as_str(), p, Offset::Beginning))
        .collect();
    consumer.assign(&assignment)?;

    let mut records = consumer.stream();
    while !end.is_empty() {
        let Some(record) = records.next().await else {
            break;
        };
        let record = record?;
        println!(
            "{}-{} @ {}: {} = {}",
            record.topic,
            record.partition,
            record.offset,
            text(record.key.as_deref()),
            text(record.value.as_deref())
        );
        // A partition is done once the consumer's position reaches its end as of start-up.
        end.retain(|&p, high| consumer.position(&topic, p).is_none_or(|pos| pos < *high));
    }
    Ok(())
}

fn text(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(
        || "(null)".to_owned(),
        |b| String::from_utf8_lossy(b).into_owned(),
    )
}
