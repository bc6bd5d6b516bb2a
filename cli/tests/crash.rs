//! Crash durability with our own client: a producer with acks=all and idempotence streams keyed
//! records while `odradek broker --fsync always` is killed with SIGKILL several times and
//! restarted on the same port and data dir. Every send resolves exactly once, no acknowledged
//! record is lost, none is stored twice, and each partition keeps send order.

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use odradek::admin::{Admin, NewTopic};
use odradek::config::{ClientConfig, Config};
use odradek::consumer::{Consumer, Offset};
use odradek::producer::{Producer, ProducerRecord};

mod support;
const SENDS: usize = 20_000;
const KILLS: usize = 3;
const PARTITIONS: i32 = 3;

/// Starts `odradek broker --fsync always` on `listen` and returns it with its bound address.
fn start_broker(data: &Path, listen: &str) -> (Child, String) {
    support::spawn_broker(listen, data, &["--fsync", "always"])
}

fn sigkill(child: &mut Child) {
    child.kill().unwrap(); // Child::kill sends SIGKILL on Unix
    child.wait().unwrap();
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_record_and_duplicates_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut broker, addr) = start_broker(&data, "127.0.0.1:0");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let topic = "crash";
    let admin = Admin::new(ClientConfig::new(&addr).unwrap());
    rt.block_on(admin.create_topics(&[NewTopic::new(topic, PARTITIONS)]))
        .unwrap();

    let mut config = Config::new();
    for (k, v) in [
        ("bootstrap.servers", addr.as_str()),
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("linger.ms", "1"),
        ("reconnect.backoff.max.ms", "200"),
        ("delivery.timeout.ms", "120000"),
    ] {
        config.set(k, v).unwrap();
    }
    let producer = Producer::new(config.producer().unwrap()).unwrap();
    let resolved = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sender = {
        let producer = producer.clone();
        rt.spawn(async move {
            for i in 0..SENDS {
                let value = format!("{i:08}");
                let key = format!("key-{}", i % 101);
                let f = producer.send(
                    ProducerRecord::new(topic)
                        .key(key.as_bytes())
                        .value(value.as_bytes()),
                );
                tx.send((i, f)).unwrap();
                if i % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };
    let collector = {
        let resolved = resolved.clone();
        rt.spawn(async move {
            let mut results: Vec<Option<bool>> = vec![None; SENDS];
            while let Some((i, f)) = rx.recv().await {
                let acked = f.await.is_ok();
                assert!(results[i].is_none(), "send {i} resolved twice");
                results[i] = Some(acked);
                resolved.fetch_add(1, Ordering::Relaxed);
            }
            results
        })
    };

    // Kill at spread points of the stream, while more is in flight, and restart on the same port.
    for k in 1..=KILLS {
        while resolved.load(Ordering::Relaxed) < SENDS * k / (KILLS + 1) {
            std::thread::sleep(Duration::from_millis(5));
        }
        sigkill(&mut broker);
        let (restarted, again) = start_broker(&data, &addr);
        assert_eq!(again, addr);
        broker = restarted;
    }
    rt.block_on(sender).unwrap();
    let results = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(240), collector).await })
        .expect("every send resolves (none hangs)")
        .unwrap();
    assert!(results.iter().all(Option::is_some), "every send resolved");
    let acked: Vec<usize> = (0..SENDS).filter(|&i| results[i] == Some(true)).collect();
    eprintln!(
        "crash test: {} of {SENDS} acknowledged across {KILLS} SIGKILLs",
        acked.len()
    );

    let mut config = Config::new();
    config.set("bootstrap.servers", &addr).unwrap();
    let consumer = Consumer::new(config.consumer().unwrap()).unwrap();
    let assignment: Vec<_> = (0..PARTITIONS)
        .map(|p| (topic, p, Offset::Beginning))
        .collect();
    consumer.assign(&assignment).unwrap();
    let stored: usize = rt.block_on(async {
        let mut total = 0;
        for p in 0..PARTITIONS {
            total += consumer.fetch_watermarks(topic, p).await.unwrap().1 as usize;
        }
        total
    });
    let mut seen = vec![0u32; SENDS];
    let mut last_per_partition = vec![None::<usize>; PARTITIONS as usize];
    let mut read = 0;
    while read < stored {
        let batch = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(60), consumer.recv_batch(stored - read))
                    .await
            })
            .expect("stored records arrive")
            .unwrap();
        for r in &batch {
            let i: usize = std::str::from_utf8(r.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            seen[i] += 1;
            let last = &mut last_per_partition[r.partition as usize];
            assert!(
                last.is_none_or(|prev| prev < i),
                "partition {} out of send order: {i} after {last:?}",
                r.partition
            );
            *last = Some(i);
        }
        read += batch.len();
    }
    let duplicates = seen.iter().filter(|&&n| n > 1).count();
    assert_eq!(duplicates, 0, "records stored twice");
    let lost: Vec<usize> = acked.iter().copied().filter(|&i| seen[i] == 0).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    drop(consumer);
    drop(producer);
    drop(rt);
    sigkill(&mut broker);
}
