//! The client used from plain threads (no tokio runtime of the caller): the library runs its
//! tasks on its own runtime, and results are awaited with blocking helpers.

mod client_support;

use client_support::{TestCluster, topic};
use odradek::config::Config;
use odradek::consumer::{Consumer, Offset};
use odradek::producer::{Producer, ProducerRecord};

#[test]
fn producer_and_consumer_work_from_plain_threads() {
    let cluster = TestCluster::odradek();
    let config = Config::new()
        .with("bootstrap.servers", &cluster.bootstrap)
        .unwrap();
    let t = topic("blocking");
    // Created on a plain thread: no runtime is current here.
    assert!(tokio::runtime::Handle::try_current().is_err());
    let producer = Producer::from_config(&config).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let producer = producer.clone();
            let t = t.clone();
            std::thread::spawn(move || {
                let futures: Vec<_> = (0..250)
                    .map(|i| {
                        producer.send(ProducerRecord::new(&t).value(format!("{n}-{i}").as_bytes()))
                    })
                    .collect();
                futures
                    .into_iter()
                    .map(|f| f.wait().unwrap().offset)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut offsets: Vec<i64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    offsets.sort();
    assert_eq!(offsets, (0..1000).collect::<Vec<_>>());
    odradek::runtime::block_on(producer.flush()).unwrap();

    let consumer = Consumer::from_config(&config).unwrap();
    consumer.assign(&[(&t, 0, Offset::Beginning)]).unwrap();
    let mut got = 0;
    while got < 1000 {
        got += odradek::runtime::block_on(consumer.recv_batch(1000))
            .unwrap()
            .len();
    }
    assert_eq!(got, 1000);
}
