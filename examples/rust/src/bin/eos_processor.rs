//! Exactly-once consume-transform-produce: reads INPUT with read_committed, writes one
//! `out:<value>` record per input record to OUTPUT (same key, same partition), and commits the
//! input offsets in the same transaction (`send_offsets_to_transaction`). Killed at any point
//! and started again with the same transactional id, it fences its previous self, starts from
//! the offsets its last committed transaction stored, and no output is ever seen twice by a
//! read_committed reader. Exits once no input arrived for IDLE_MS (default 2000). BATCH
//! (default 200) records go in one transaction; PAUSE_MS (default 0) is waited inside each
//! transaction, after its records are sent, so that a crash test's kills land mid-transaction.
//!
//! ```sh
//! cargo run -p odradek-examples --bin eos_processor -- 127.0.0.1:9092 in out my-group my-app
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use odradek::admin::Admin;
use odradek::config::{ClientConfig, Config};
use odradek::consumer::{Consumer, Offset};
use odradek::producer::{ConsumerGroupMetadata, Producer, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, input, output, group, txn_id, rest @ ..] = args.as_slice() else {
        eprintln!(
            "usage: eos_processor BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID [IDLE_MS [BATCH [PAUSE_MS]]]"
        );
        std::process::exit(2);
    };
    let number = |i: usize, default: u64| rest.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let idle = Duration::from_millis(number(0, 2000)?);
    let batch_size = number(1, 200)?.max(1) as usize;
    let pause = Duration::from_millis(number(2, 0)?);

    let producer = Producer::from_config(
        &Config::new()
            .with("bootstrap.servers", bootstrap)?
            .with("transactional.id", txn_id)?
            .with("linger.ms", 5)?,
    )?;
    // First: fence an earlier instance and settle its open transaction, so the offsets read
    // next are the last committed ones.
    producer.init_transactions().await?;

    let consumer = Consumer::from_config(
        &Config::new()
            .with("bootstrap.servers", bootstrap)?
            .with("isolation.level", "read_committed")?,
    )?;
    let admin = Admin::new(ClientConfig::new(bootstrap)?);
    // The group's coordinator may not be ready yet (a new cluster creates its offsets topic
    // on the first lookup): retriable errors are retried.
    let mut attempts = 0;
    let committed = loop {
        match admin.list_group_offsets(group).await {
            Err(e) if e.is_retriable() && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => break other?,
        }
    };
    let partitions = consumer.cluster().topic(input).await?.partitions.len() as i32;
    let assignment: Vec<(&str, i32, Offset)> = (0..partitions)
        .map(|p| {
            let at = committed
                .get(&(input.clone(), p))
                .map_or(Offset::Beginning, |o| Offset::At(*o));
            (input.as_str(), p, at)
        })
        .collect();
    consumer.assign(&assignment)?;
    let group = ConsumerGroupMetadata::new(group.as_str());

    let mut total = 0usize;
    loop {
        let batch = match tokio::time::timeout(idle, consumer.recv_batch(batch_size)).await {
            Ok(batch) => batch?,
            Err(_) => break, // idle: everything there was is processed
        };
        if batch.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for r in &batch {
            let mut value = b"out:".to_vec();
            value.extend_from_slice(r.value.as_deref().unwrap_or_default());
            let mut out = ProducerRecord::new(output)
                .partition(r.partition)
                .value(&value);
            if let Some(k) = r.key.as_deref() {
                out = out.key(k);
            }
            // Delivery is checked by commit_transaction (it fails if any record failed).
            drop(producer.send(out));
            next.insert((r.topic.to_string(), r.partition), r.offset + 1);
        }
        tokio::time::sleep(pause).await;
        let offsets: Vec<(String, i32, i64)> =
            next.into_iter().map(|((t, p), o)| (t, p, o)).collect();
        producer
            .send_offsets_to_transaction(&offsets, &group)
            .await?;
        // Any error here ends the process: the next start resumes from the committed offsets.
        producer.commit_transaction().await?;
        total += batch.len();
        println!("committed {total}");
    }
    eprintln!("eos_processor: idle for {idle:?}; {total} records processed");
    Ok(())
}
